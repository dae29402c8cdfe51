#include "source.h"
#include "source_private.h"

#include <errno.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <unistd.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <stdatomic.h>

#include "ls_frame.h"
#include "ls_testcam.h"
#include "redact.h"
#include "x11_guard.h"

#define BACKOFF_MIN_MS 500
#define STALL_DEFAULT_NS (2 * LS_NS_PER_SEC)     /* [rig] stall-s */
#define RETRY_MAX_DEFAULT_NS (5 * LS_NS_PER_SEC) /* [rig] retry-max-s */
#define WATCHDOG_MS 100 /* how often the watchdog looks: stalls are caught within stall-s + 0.1 s */
#define NTP_UNIX_OFFSET_S INT64_C(2208988800) /* 1900-01-01 to 1970-01-01 */

static void payload_release(void *opaque)
{
	struct payload *p = opaque;
	gst_video_frame_unmap(&p->vf); /* drops the buffer reference */
}

static enum ls_pixfmt pixfmt_of(GstVideoFormat f)
{
	switch (f) {
	case GST_VIDEO_FORMAT_I420:
		return LS_FMT_I420;
	case GST_VIDEO_FORMAT_NV12:
		return LS_FMT_NV12;
	case GST_VIDEO_FORMAT_GRAY8:
		return LS_FMT_GRAY8;
	case GST_VIDEO_FORMAT_BGRx:
		return LS_FMT_BGRX;
	case GST_VIDEO_FORMAT_RGBA:
		return LS_FMT_RGBA;
	default:
		return LS_FMT_UNKNOWN;
	}
}

/* The first frame after an outage: one line with how long the camera was
 * gone and how many slots it missed; the outage is counted. Streaming
 * thread (the main thread set the outage's start). */
static void back_from_outage(struct ls_source *s, int64_t capture_ns)
{
	if (!atomic_load(&s->down_since_mono))
		return;
	int64_t since = atomic_exchange(&s->down_since_mono, 0);
	if (!since)
		return;
	int64_t gone = ls_monotonic_ns() - since;
	int64_t last = atomic_load(&s->down_last_capture);
	atomic_fetch_add(&s->outages, 1);
	atomic_fetch_add(&s->outage_ns, gone);
	long long missed = -1;
	if (s->rig_rate.num > 0 && last > 0) {
		int64_t a = ls_slot_index(last, s->rig_epoch_ns, 0, s->rig_rate);
		int64_t b = ls_slot_index(capture_ns, s->rig_epoch_ns, 0, s->rig_rate);
		missed = b > a ? (long long)(b - a - 1) : 0;
	}
	if (missed >= 0)
		g_printerr("camera %s: back after %.1f s, %lld slots missed (outage %llu, %.1f s down in all)\n",
			   s->name, (double)gone / 1e9, missed, (unsigned long long)atomic_load(&s->outages),
			   (double)atomic_load(&s->outage_ns) / 1e9);
	else
		g_printerr("camera %s: back after %.1f s (outage %llu, %.1f s down in all)\n", s->name,
			   (double)gone / 1e9, (unsigned long long)atomic_load(&s->outages),
			   (double)atomic_load(&s->outage_ns) / 1e9);
}

/* Wraps @buf (transfer full) into a frame and delivers it. Streaming thread. */
void ls_source_deliver(struct ls_source *s, GstBuffer *buf, const GstVideoInfo *info, int64_t capture_ns)
{
	struct ls_frame *f = ls_frame_pool_acquire(s->pool);
	if (!f) {
		atomic_fetch_add(&s->pool_empty, 1);
		gst_buffer_unref(buf);
		return;
	}
	struct payload *p = f->priv;
	f->stream_ns = GST_BUFFER_PTS_IS_VALID(buf) ? (int64_t)GST_BUFFER_PTS(buf) : -1;
	bool mapped = gst_video_frame_map(&p->vf, info, buf, GST_MAP_READ);
	gst_buffer_unref(buf); /* the mapped frame holds its own reference */
	if (!mapped) {
		ls_frame_unref(&f);
		atomic_fetch_add(&s->pool_empty, 1);
		return;
	}
	f->release = payload_release;
	f->opaque = p;
	if (s->redact) {
		/* The frame that goes on is the redacted copy; the camera's own
		 * buffer goes back now. No copy: no frame (never unredacted). */
		uint8_t *out[3];
		int outs[3];
		void *rb = NULL;
		if (GST_VIDEO_FRAME_FORMAT(&p->vf) == GST_VIDEO_FORMAT_I420) {
			uint8_t *in[3] = { GST_VIDEO_FRAME_PLANE_DATA(&p->vf, 0), GST_VIDEO_FRAME_PLANE_DATA(&p->vf, 1),
					   GST_VIDEO_FRAME_PLANE_DATA(&p->vf, 2) };
			int ins[3] = { GST_VIDEO_FRAME_PLANE_STRIDE(&p->vf, 0), GST_VIDEO_FRAME_PLANE_STRIDE(&p->vf, 1),
				       GST_VIDEO_FRAME_PLANE_STRIDE(&p->vf, 2) };
			rb = ls_redact_stage_process(s->redact, in, ins, GST_VIDEO_FRAME_WIDTH(&p->vf),
						     GST_VIDEO_FRAME_HEIGHT(&p->vf), capture_ns, out, outs);
		}
		if (!rb) {
			ls_frame_unref(&f);
			atomic_fetch_add(&s->pool_empty, 1);
			return;
		}
		f->format = LS_FMT_I420;
		f->width = GST_VIDEO_FRAME_WIDTH(&p->vf);
		f->height = GST_VIDEO_FRAME_HEIGHT(&p->vf);
		f->nplanes = 3;
		for (int i = 0; i < 3; i++) {
			f->planes[i] = out[i];
			f->strides[i] = outs[i];
		}
		gst_video_frame_unmap(&p->vf);
		f->release = ls_redact_stage_release;
		f->opaque = rb;
		goto stamped;
	}
	f->format = pixfmt_of(GST_VIDEO_FRAME_FORMAT(&p->vf));
	f->width = GST_VIDEO_FRAME_WIDTH(&p->vf);
	f->height = GST_VIDEO_FRAME_HEIGHT(&p->vf);
	f->nplanes = GST_VIDEO_FRAME_N_PLANES(&p->vf);
	for (int i = 0; i < f->nplanes && i < LS_MAX_PLANES; i++) {
		f->planes[i] = GST_VIDEO_FRAME_PLANE_DATA(&p->vf, i);
		f->strides[i] = GST_VIDEO_FRAME_PLANE_STRIDE(&p->vf, i);
	}
stamped:
	back_from_outage(s, capture_ns);
	f->cam = (uint16_t)s->cam;
	f->seq = atomic_load(&s->frames);
	f->capture_ns = capture_ns;
	f->arrival_ns = ls_realtime_ns();
	f->unsynced = !ls_time_synced();
	atomic_store(&s->last_capture_ns, capture_ns);
	atomic_store(&s->last_frame_mono, ls_monotonic_ns());
	int st = atomic_load(&s->state);
	if (st == LS_SOURCE_STARTING)
		atomic_store(&s->state, LS_SOURCE_RUNNING);
	while (!ls_spsc_push(s->ring, f)) {
		if (!s->blocking || atomic_load(&s->stopping)) {
			atomic_fetch_add(&s->ring_full, 1);
			ls_frame_unref(&f);
			return;
		}
		ls_doorbell_ring(s->bell);
		g_usleep(1000); /* event-time run: the aligner drains it soon */
	}
	atomic_fetch_add(&s->frames, 1);
	ls_doorbell_ring(s->bell);
}

/* ---- GStreamer sources ---------------------------------------------------- */

static int64_t capture_time(struct ls_source *s, GstSample *smp, GstBuffer *buf)
{
	static GstCaps *ntp_caps;
	if (g_once_init_enter(&ntp_caps))
		g_once_init_leave(&ntp_caps, gst_caps_new_empty_simple("timestamp/x-ntp"));
	/* the sender's capture time, from the packets (rtp_capture.h), exact */
	int64_t t;
	if (ls_rtp_capture_lookup(s->rtpcap, GST_BUFFER_PTS(buf), &t))
		return t;
	/* else rtspsrc's, from RTCP sender reports: the sender's clock at
	 * the RTP time, which a camera usually takes at capture */
	if (s->spec.kind == LS_SRC_RTSP) {
		GstReferenceTimestampMeta *m = gst_buffer_get_reference_timestamp_meta(buf, ntp_caps);
		if (m && m->timestamp > (guint64)NTP_UNIX_OFFSET_S * GST_SECOND)
			return (int64_t)m->timestamp - NTP_UNIX_OFFSET_S * LS_NS_PER_SEC;
	}
	GstClockTime pts = GST_BUFFER_PTS(buf);
	const GstSegment *seg = gst_sample_get_segment(smp);
	if (!GST_CLOCK_TIME_IS_VALID(pts) || !seg)
		return ls_realtime_ns();
	guint64 running = gst_segment_to_running_time(seg, GST_FORMAT_TIME, pts);
	if (!GST_CLOCK_TIME_IS_VALID(running))
		return ls_realtime_ns();
	if (s->spec.kind == LS_SRC_FILE && !s->spec.file.realtime)
		return s->virtual_start_ns + (int64_t)running;
	/* the pipeline runs on CLOCK_REALTIME; the rig's clock is offset from it */
	return (int64_t)gst_element_get_base_time(s->pipeline) + (int64_t)running + ls_time_offset();
}

static GstFlowReturn on_new_sample(GstAppSink *sink, gpointer data)
{
	struct ls_source *s = data;
	_Static_assert(sizeof(pthread_t) <= sizeof(unsigned long), "pthread_t fits an atomic_ulong");
	atomic_store_explicit(&s->stream_thread, (unsigned long)pthread_self(), memory_order_relaxed);
	GstSample *smp = gst_app_sink_pull_sample(sink);
	if (!smp)
		return GST_FLOW_EOS;
	GstVideoInfo info;
	GstBuffer *buf = gst_sample_get_buffer(smp);
	if (buf && gst_video_info_from_caps(&info, gst_sample_get_caps(smp))) {
		int64_t t = capture_time(s, smp, buf);
		ls_source_deliver(s, gst_buffer_ref(buf), &info, t);
	}
	gst_sample_unref(smp);
	return GST_FLOW_OK;
}

/* The H.264 tap: each access unit, stamped like the frame decoded from it. */
static GstFlowReturn on_es_sample(GstAppSink *sink, gpointer data)
{
	struct ls_source *s = data;
	GstSample *smp = gst_app_sink_pull_sample(sink);
	if (!smp)
		return GST_FLOW_EOS;
	GstBuffer *buf = gst_sample_get_buffer(smp);
	if (buf && GST_BUFFER_PTS_IS_VALID(buf))
		s->es_fn(s->es_user, buf, gst_sample_get_caps(smp), capture_time(s, smp, buf));
	gst_sample_unref(smp);
	return GST_FLOW_OK;
}

static bool start_pipeline(struct ls_source *s);

/* One line for people from a pipeline's ERROR: the element, GStreamer's
 * message and the last line of its debug text, which holds the cause
 * ("Resource not found.: No such file "/x.mp4""). Caller frees. */
static char *error_reason(GstMessage *msg)
{
	GError *e = NULL;
	char *dbg = NULL;
	gst_message_parse_error(msg, &e, &dbg);
	const char *cause = NULL;
	if (dbg) {
		g_strstrip(dbg);
		cause = strrchr(dbg, '\n');
		cause = cause ? cause + 1 : strstr(dbg, "): ") ? NULL : dbg;
	}
	char *text = g_strdup(e ? e->message : "unknown");
	size_t len = strlen(text);
	if (cause && *cause && len && text[len - 1] == '.')
		text[len - 1] = '\0'; /* "Resource not found: No such file ..." */
	char *why = g_strdup_printf("error from %s: %s%s%s", GST_OBJECT_NAME(GST_MESSAGE_SRC(msg)), text,
				    cause && *cause ? ": " : "", cause && *cause ? cause : "");
	g_free(text);
	g_clear_error(&e);
	g_free(dbg);
	return why;
}

static bool build_pipeline(struct ls_source *s, char **err);
static void drop_pipeline(struct ls_source *s);
static void schedule_retry(struct ls_source *s, const char *why);

/* Whether a restart builds the pipeline anew. GStreamer sources do: a
 * pipeline set back to PLAYING keeps what it learnt from the old stream.
 * rtspsrc's pads of the new session were never linked (gst_parse_launch's
 * delayed link is made once, for the first session's pad: every later
 * attempt ended "streaming stopped, reason not-linked"), and the old caps,
 * jitterbuffer, RTCP/NTP mapping and decoder state would be kept too. test://
 * and fbdev:// are read by lockstep's own thread from a pipeline with no
 * such state. */
static bool rebuilds(const struct ls_source *s) { return s->spec.kind != LS_SRC_TEST && s->spec.kind != LS_SRC_FBDEV; }

static gboolean retry_cb(gpointer data)
{
	struct ls_source *s = data;
	s->retry_timer = 0;
	if (atomic_load(&s->stopping))
		return G_SOURCE_REMOVE;
	g_printerr("camera %s: reconnecting\n", s->name);
	atomic_fetch_add(&s->reconnects, 1);
	if (rebuilds(s)) {
		drop_pipeline(s);
		char *err = NULL;
		if (!build_pipeline(s, &err)) {
			schedule_retry(s, err);
			g_free(err);
			return G_SOURCE_REMOVE;
		}
	}
	start_pipeline(s);
	return G_SOURCE_REMOVE;
}

/* Stops the pipeline, or leaves it running for good when its streaming
 * thread is held because its X server was lost (x11_guard.h): setting it
 * to NULL would wait for that thread forever. Main thread. */
static void halt_pipeline(struct ls_source *s)
{
	if (!s->pipeline)
		return;
	unsigned long t = atomic_load(&s->stream_thread);
	if (s->spec.kind == LS_SRC_X11 && t && ls_x11_thread_lost((pthread_t)t)) {
		if (s->bus_watch)
			g_source_remove(s->bus_watch);
		s->bus_watch = 0;
		if (!s->abandoned)
			s->abandoned = g_ptr_array_new();
		g_ptr_array_add(s->abandoned, s->pipeline); /* our reference, kept */
		s->pipeline = NULL;
		g_clear_pointer(&s->appsink, gst_object_unref);
		atomic_store(&s->stream_thread, 0);
		return;
	}
	gst_element_set_state(s->pipeline, GST_STATE_NULL);
}

static unsigned backoff_min_ms(const struct ls_source *s)
{
	return s->backoff_max_ms < BACKOFF_MIN_MS ? s->backoff_max_ms : BACKOFF_MIN_MS;
}

/* Stops the camera and retries after the backoff (0.5 s, doubling, at most
 * retry-max-s). A camera that had delivered frames is down from its last
 * one (see back_from_outage). Main thread. */
static void schedule_retry(struct ls_source *s, const char *why)
{
	if (atomic_load(&s->stopping) || s->retry_timer)
		return;
	int64_t last = atomic_load(&s->last_frame_mono);
	if (last >= s->started_mono_ns)
		s->backoff_ms = backoff_min_ms(s); /* it delivered frames since its last start: a fresh failure */
	bool outage = last && atomic_load(&s->state) == LS_SOURCE_RUNNING && !atomic_load(&s->down_since_mono);
	if (outage) {
		atomic_store(&s->down_last_capture, atomic_load(&s->last_capture_ns));
		atomic_store(&s->down_since_mono, last);
	}
	g_printerr("camera %s: %s; retrying in %.1f s\n", s->name, why, s->backoff_ms / 1000.0);
	atomic_store(&s->state, LS_SOURCE_RECONNECTING);
	if (outage && s->outage_fn)
		s->outage_fn(s->outage_user, s);
	halt_pipeline(s);
	s->retry_timer = g_timeout_add(s->backoff_ms, retry_cb, s);
	s->backoff_ms = s->backoff_ms * 2 > s->backoff_max_ms ? s->backoff_max_ms : s->backoff_ms * 2;
}

static gboolean on_bus(GstBus *bus, GstMessage *msg, gpointer data)
{
	struct ls_source *s = data;
	(void)bus;
	switch (GST_MESSAGE_TYPE(msg)) {
	case GST_MESSAGE_ERROR: {
		char *why = error_reason(msg);
		schedule_retry(s, why);
		g_free(why);
		break;
	}
	case GST_MESSAGE_EOS:
		if (s->spec.kind == LS_SRC_FILE && s->spec.file.loop) {
			if (!gst_element_seek_simple(s->pipeline, GST_FORMAT_TIME,
						     GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_KEY_UNIT, 0)) {
				schedule_retry(s, "cannot seek back to the start to loop");
				break;
			}
			/* running time starts again from 0: move the stamp of running
			 * time 0 to the next slot, or frames of the next pass would be
			 * stamped a pass late (paced: and shown late) */
			if (s->rig_rate.num > 0) {
				int64_t ref = s->spec.file.realtime ? ls_realtime_ns() + 100 * LS_NS_PER_MS
								    : (int64_t)atomic_load(&s->last_capture_ns);
				int64_t n = ls_slot_index(ref, s->rig_epoch_ns, 0, s->rig_rate) + 1;
				int64_t t0 = ls_slot_time(n, s->rig_epoch_ns, s->rig_rate);
				if (s->spec.file.realtime)
					gst_element_set_base_time(s->pipeline, (GstClockTime)t0);
				else
					s->virtual_start_ns = t0;
			}
		} else if (s->spec.kind == LS_SRC_FILE) {
			g_printerr("camera %s: end of file\n", s->name);
			atomic_store(&s->state, LS_SOURCE_ENDED);
		} else {
			schedule_retry(s, "stream ended");
		}
		break;
	default:
		break;
	}
	return G_SOURCE_CONTINUE;
}

/* A camera that stops sending without an error (a network sender gone
 * quiet, a stuck driver) is restarted like a failed one. Main thread. */
static gboolean watchdog_cb(gpointer data)
{
	struct ls_source *s = data;
	int st = atomic_load(&s->state);
	if (st != LS_SOURCE_RUNNING && st != LS_SOURCE_STARTING)
		return G_SOURCE_CONTINUE;
	if (s->spec.kind == LS_SRC_FILE || s->spec.kind == LS_SRC_TEST)
		return G_SOURCE_CONTINUE; /* files end with EOS; a silent test camera is one by design */
	int64_t now = ls_monotonic_ns();
	int64_t last = atomic_load(&s->last_frame_mono);
	int64_t since = now - (last && st == LS_SOURCE_RUNNING ? last : s->started_mono_ns);
	/* stall-s; three times that, at least 5 s, for a first frame (an RTSP
	 * session, a decoder waiting for a keyframe) */
	int64_t limit = s->stall_ns;
	if (st == LS_SOURCE_STARTING)
		limit = 3 * limit > 5 * LS_NS_PER_SEC ? 3 * limit : 5 * LS_NS_PER_SEC;
	if (since > limit) {
		char *why = g_strdup_printf("no frame for %.1f s", (double)since / 1e9);
		schedule_retry(s, why);
		g_free(why);
	}
	return G_SOURCE_CONTINUE;
}

static bool build_pipeline(struct ls_source *s, char **err)
{
	char *desc = NULL;
	if (s->spec.kind == LS_SRC_FBDEV) {
		if (!ls_source_fb_open(s, err))
			return false;
		desc = g_strdup_printf(
			"appsrc name=fbsrc is-live=true do-timestamp=true format=time max-buffers=2 "
			"leaky-type=downstream caps=video/x-raw,format=%s,width=%d,height=%d,framerate=%d/%d"
			" ! videoconvert ! video/x-raw,format=I420",
			s->fb_format, s->fb_w, s->fb_h, s->spec.fbdev.fps.num, s->spec.fbdev.fps.den);
	} else {
		desc = ls_source_spec_gst_desc_tap(&s->spec, s->es_fn != NULL);
	}
	if (!desc) {
		*err = g_strdup_printf("camera %s: %s sources are not supported by this build", s->name,
				       ls_source_kind_name(s->spec.kind));
		return false;
	}
	bool sync = s->spec.kind == LS_SRC_FILE && s->spec.file.realtime;
	/* Live sources: keep at most 2 samples and drop the oldest, so a stall
	 * never builds latency. Test and event-time files: backpressure. */
	bool drop = s->spec.kind != LS_SRC_TEST && !(s->spec.kind == LS_SRC_FILE && !s->spec.file.realtime);
	/* the tap's queue drops the oldest when its reader is behind: the
	 * reader sees the gap, and decoding never waits for it */
	char *full = g_strdup_printf(
		"%s ! appsink name=sink max-buffers=2 drop=%s sync=%s enable-last-sample=false%s", desc,
		drop ? "true" : "false", sync ? "true" : "false",
		s->es_fn ? " es. ! queue leaky=downstream max-size-buffers=300 max-size-bytes=0 "
			   "max-size-time=0 ! appsink name=esink sync=false enable-last-sample=false"
			 : "");
	GError *ge = NULL;
	s->pipeline = gst_parse_launch(full, &ge);
	g_free(desc);
	g_free(full);
	if (!s->pipeline || ge) {
		*err = g_strdup_printf("camera %s: cannot build its pipeline: %s", s->name, ge ? ge->message : "?");
		g_clear_error(&ge);
		if (s->pipeline)
			gst_object_unref(s->pipeline);
		s->pipeline = NULL;
		return false;
	}
	s->appsink = gst_bin_get_by_name(GST_BIN(s->pipeline), "sink");
	if (s->es_fn) {
		s->esink = gst_bin_get_by_name(GST_BIN(s->pipeline), "esink");
		GstAppSinkCallbacks ecb = { .new_sample = on_es_sample };
		gst_app_sink_set_callbacks(GST_APP_SINK(s->esink), &ecb, s, NULL);
	}
	if (s->spec.kind == LS_SRC_FBDEV)
		s->fbsrc = gst_bin_get_by_name(GST_BIN(s->pipeline), "fbsrc");
	if (s->spec.kind == LS_SRC_RTSP || s->spec.kind == LS_SRC_UDP)
		s->rtpcap = ls_rtp_capture_attach(s->pipeline);
	s->clock = g_object_new(GST_TYPE_SYSTEM_CLOCK, "clock-type", GST_CLOCK_TYPE_REALTIME, NULL);
	gst_pipeline_use_clock(GST_PIPELINE(s->pipeline), s->clock);
	if (s->spec.kind != LS_SRC_TEST) {
		GstAppSinkCallbacks cb = { .new_sample = on_new_sample };
		gst_app_sink_set_callbacks(GST_APP_SINK(s->appsink), &cb, s, NULL);
	}
	GstBus *bus = gst_element_get_bus(s->pipeline);
	s->bus_watch = gst_bus_add_watch(bus, on_bus, s);
	gst_object_unref(bus);
	return true;
}

/* A paced file starts on the slot grid, as a triggered camera would: its
 * first frame's running time 0 maps to a slot time, so a file at the rig
 * rate lands every frame on a slot centre. Main thread; waits for preroll
 * (bounded). */
static void align_file_start(struct ls_source *s, int64_t start_ns)
{
	GstStateChangeReturn r = gst_element_set_state(s->pipeline, GST_STATE_PAUSED);
	if (r == GST_STATE_CHANGE_ASYNC)
		r = gst_element_get_state(s->pipeline, NULL, NULL, 5 * GST_SECOND);
	if (r != GST_STATE_CHANGE_SUCCESS && r != GST_STATE_CHANGE_NO_PREROLL)
		return;                                               /* PLAYING below reports the error */
	gst_element_set_start_time(s->pipeline, GST_CLOCK_TIME_NONE); /* keep our base time */
	gst_element_set_base_time(s->pipeline, (GstClockTime)start_ns);
}

/* The slot time a file's frame 0 maps to: the rig's shared one the first
 * time (so every file of the rig starts on the same slot), a fresh one
 * after a restart. */
static int64_t file_start_time(struct ls_source *s)
{
	if (s->starts == 1 && s->first_start_ns)
		return s->first_start_ns;
	int64_t n = ls_slot_index(ls_realtime_ns() + 100 * LS_NS_PER_MS, s->rig_epoch_ns, 0, s->rig_rate) + 1;
	return ls_slot_time(n, s->rig_epoch_ns, s->rig_rate);
}

static bool start_pipeline(struct ls_source *s)
{
	s->started_ns = ls_realtime_ns();
	s->started_mono_ns = ls_monotonic_ns();
	s->starts++;
	atomic_store(&s->state, LS_SOURCE_STARTING);
	s->virtual_start_ns = s->started_ns;
	if (s->spec.kind == LS_SRC_FILE && s->rig_rate.num > 0) {
		int64_t t0 = file_start_time(s);
		if (s->spec.file.realtime)
			align_file_start(s, t0); /* paced: running time 0 plays at t0 */
		else
			s->virtual_start_ns = t0; /* event time: stamped t0 + running time */
	}
	if (gst_element_set_state(s->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
		/* the element that failed posted its reason on the bus: take it
		 * now, so the line says why (the watch would see it too late) */
		GstBus *bus = gst_element_get_bus(s->pipeline);
		GstMessage *m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
		char *reason = m ? error_reason(m) : NULL;
		char *why = g_strdup_printf("cannot start: %s", reason ? reason : "the pipeline refused to play");
		schedule_retry(s, why);
		g_free(why);
		g_free(reason);
		if (m)
			gst_message_unref(m);
		gst_object_unref(bus);
		return false;
	}
	return true;
}

struct ls_source *ls_source_new(unsigned cam, const struct ls_camera_config *cc, struct ls_spsc *ring,
				struct ls_doorbell *bell, unsigned pool_frames, bool blocking, char **err)
{
	struct ls_source *s = g_new0(struct ls_source, 1);
	s->fb_fd = -1;
	s->cam = cam;
	s->name = g_strdup(cc->name);
	s->ring = ring;
	s->bell = bell;
	s->blocking = blocking;
	s->stall_ns = cc->stall_ns > 0 ? cc->stall_ns : STALL_DEFAULT_NS;
	int64_t rmax = cc->retry_max_ns > 0 ? cc->retry_max_ns : RETRY_MAX_DEFAULT_NS;
	s->backoff_max_ms = (unsigned)(rmax / LS_NS_PER_MS);
	s->backoff_ms = backoff_min_ms(s);
	char *perr = NULL;
	if (ls_source_spec_parse(cc->uri, &s->spec, &perr) < 0) {
		*err = g_strdup_printf("camera %s: uri: %s", cc->name, perr);
		g_free(perr);
		goto fail;
	}
	s->pool = ls_frame_pool_new_priv(pool_frames, sizeof(struct payload));
	if (!s->pool) {
		*err = g_strdup_printf("camera %s: out of memory", cc->name);
		goto fail;
	}
	if (!build_pipeline(s, err))
		goto fail;
	return s;
fail:
	ls_source_free(&s);
	return NULL;
}

void ls_source_set_redact(struct ls_source *s, struct ls_redact_stage *stage)
{
	ls_redact_stage_free(&s->redact);
	s->redact = stage;
}

void ls_source_set_outage_fn(struct ls_source *s, ls_source_outage_fn fn, void *user)
{
	s->outage_fn = fn;
	s->outage_user = user;
}

bool ls_source_set_es_tap(struct ls_source *s, ls_source_es_fn fn, void *user)
{
	if (!ls_source_spec_h264_tap(&s->spec))
		return false;
	/* the pipeline was built without the tap: build it again */
	s->es_fn = fn;
	s->es_user = user;
	drop_pipeline(s);
	char *err = NULL;
	if (build_pipeline(s, &err))
		return true;
	/* as it was, without the tap */
	g_printerr("%s\n", err);
	g_clear_pointer(&err, g_free);
	s->es_fn = NULL;
	s->es_user = NULL;
	if (!build_pipeline(s, &err)) {
		g_printerr("%s\n", err);
		g_free(err);
	}
	return false;
}

void ls_source_set_schedule(struct ls_source *s, struct ls_rate rate, int64_t epoch_ns, int64_t offset_ns,
			    int64_t first_start_ns)
{
	s->rig_rate = rate;
	s->rig_epoch_ns = epoch_ns;
	s->offset_ns = offset_ns;
	s->first_start_ns = first_start_ns;
}

int ls_source_start(struct ls_source *s, char **err)
{
	if (!s->pipeline) {
		*err = g_strdup_printf("camera %s: it has no pipeline", s->name);
		return -EIO;
	}
	atomic_store(&s->stopping, false);
	if (!s->watchdog)
		s->watchdog = g_timeout_add(WATCHDOG_MS, watchdog_cb, s);
	s->clock_pattern = s->spec.kind == LS_SRC_TEST && strcmp(s->spec.test.pattern, LS_PATTERN_CLOCK) == 0;
	if (s->spec.kind == LS_SRC_TEST) {
		struct ls_testcam_params p = {
			.fps = s->spec.test.fps,
			.epoch_ns = 0,
			.offset_ns = s->spec.test.offset_ns,
			.jitter_ns = s->spec.test.jitter_ns,
			.drift_ppm = s->spec.test.drift_ppm,
			.drop = s->spec.test.drop,
			.seed = s->spec.test.seed ? s->spec.test.seed : g_str_hash(s->name) * 2654435761u + 1,
		};
		ls_testcam_init(&s->model, &p, ls_realtime_ns());
		if (!start_pipeline(s))
			return 0;
		s->thread = g_thread_new(s->name, ls_source_test_thread, s);
		return 0;
	}
	start_pipeline(s);
	if (s->spec.kind == LS_SRC_FBDEV && !s->thread)
		s->thread = g_thread_new(s->name, ls_source_fb_thread, s);
	return 0;
}

void ls_source_stop(struct ls_source *s)
{
	if (!s)
		return;
	atomic_store(&s->stopping, true);
	if (s->retry_timer) {
		g_source_remove(s->retry_timer);
		s->retry_timer = 0;
	}
	if (s->watchdog) {
		g_source_remove(s->watchdog);
		s->watchdog = 0;
	}
	halt_pipeline(s); /* unblocks pulls, joins streaming threads */
	if (s->thread) {
		g_thread_join(s->thread);
		s->thread = NULL;
	}
	atomic_store(&s->state, LS_SOURCE_IDLE);
}

/* Undoes build_pipeline() (stopped sources only). */
static void drop_pipeline(struct ls_source *s)
{
	if (s->bus_watch)
		g_source_remove(s->bus_watch);
	s->bus_watch = 0;
	g_clear_pointer(&s->appsink, gst_object_unref);
	g_clear_pointer(&s->esink, gst_object_unref);
	g_clear_pointer(&s->fbsrc, gst_object_unref);
	if (s->fb_fd >= 0)
		close(s->fb_fd);
	s->fb_fd = -1;
	g_clear_pointer(&s->pipeline, gst_object_unref);
	g_clear_pointer(&s->clock, gst_object_unref);
	ls_rtp_capture_free(&s->rtpcap); /* after the pipeline: its probe used it */
}

void ls_source_free(struct ls_source **sp)
{
	if (!sp || !*sp)
		return;
	struct ls_source *s = *sp;
	*sp = NULL;
	ls_source_stop(s);
	drop_pipeline(s);
	if (s->abandoned) /* the pipelines stay: their threads are held (halt_pipeline) */
		g_ptr_array_free(s->abandoned, TRUE);
	ls_frame_pool_unref(&s->pool);    /* frames still out keep it alive */
	ls_redact_stage_free(&s->redact); /* its buffers outlive it too */
	ls_source_spec_clear(&s->spec);
	g_free(s->name);
	g_free(s);
}

enum ls_source_state ls_source_state(const struct ls_source *s)
{
	return (enum ls_source_state)atomic_load(&((struct ls_source *)s)->state);
}

const char *ls_source_state_name(enum ls_source_state st)
{
	static const char *const names[] = { "idle", "starting", "running", "reconnecting", "ended" };
	return (unsigned)st < G_N_ELEMENTS(names) ? names[st] : "?";
}

void ls_source_counters(const struct ls_source *cs, struct ls_source_counters *o)
{
	struct ls_source *s = (struct ls_source *)cs;
	o->frames = atomic_load(&s->frames);
	o->ring_full = atomic_load(&s->ring_full);
	o->pool_empty = atomic_load(&s->pool_empty);
	o->camera_drops = atomic_load(&s->camera_drops);
	o->reconnects = atomic_load(&s->reconnects);
	o->last_capture_ns = atomic_load(&s->last_capture_ns);
	o->outages = atomic_load(&s->outages);
	o->outage_ns = atomic_load(&s->outage_ns);
	int64_t down = atomic_load(&s->down_since_mono);
	o->down_ns = down ? ls_monotonic_ns() - down : 0;
	if (down) /* the outage under way counts too */
		o->outages++, o->outage_ns += o->down_ns;
}

const char *ls_source_name(const struct ls_source *s) { return s->name; }

int ls_source_probe(const struct ls_camera_config *cc, int timeout_ms, char **err)
{
	struct ls_spsc *ring = ls_spsc_new(8);
	struct ls_doorbell bell;
	ls_doorbell_init(&bell);
	int rc = 0;
	struct ls_source *s = ls_source_new(0, cc, ring, &bell, 8, false, err);
	if (!s) {
		rc = -EINVAL;
		goto out;
	}
	if (s->spec.kind == LS_SRC_TEST) {
		/* test cameras are paced by their thread; prerolling proves they open */
		GstStateChangeReturn r = gst_element_set_state(s->pipeline, GST_STATE_PAUSED);
		if (r == GST_STATE_CHANGE_ASYNC)
			r = gst_element_get_state(s->pipeline, NULL, NULL, (GstClockTime)timeout_ms * GST_MSECOND);
		if (r == GST_STATE_CHANGE_FAILURE) {
			*err = g_strdup_printf("camera %s: cannot open", cc->name);
			rc = -EIO;
		}
		goto out;
	}
	/* Run it until a frame arrives, an error is posted, or time runs out.
	 * The bus is read synchronously here: probe runs before the main loop. */
	g_source_remove(s->bus_watch);
	s->bus_watch = 0;
	gst_element_set_state(s->pipeline, GST_STATE_PLAYING);
	if (s->spec.kind == LS_SRC_FBDEV)
		s->thread = g_thread_new(s->name, ls_source_fb_thread, s);
	GstBus *bus = gst_element_get_bus(s->pipeline);
	int64_t until = ls_monotonic_ns() + (int64_t)timeout_ms * LS_NS_PER_MS;
	rc = -ETIMEDOUT;
	while (ls_monotonic_ns() < until) {
		if (atomic_load(&s->frames) > 0) {
			rc = 0;
			break;
		}
		GstMessage *m = gst_bus_timed_pop_filtered(bus, 20 * GST_MSECOND, GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
		if (!m)
			continue;
		if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR) {
			char *why = error_reason(m);
			*err = g_strdup_printf("camera %s: cannot open %s: %s", cc->name, cc->uri, why);
			g_free(why);
		} else {
			*err = g_strdup_printf("camera %s: %s ended before its first frame", cc->name, cc->uri);
		}
		gst_message_unref(m);
		rc = -EIO;
		break;
	}
	if (rc == -ETIMEDOUT)
		*err = g_strdup_printf("camera %s: no frame from %s within %d ms", cc->name, cc->uri, timeout_ms);
	gst_object_unref(bus);
out:
	ls_source_free(&s);
	struct ls_frame *f;
	while ((f = ls_spsc_pop(ring)))
		ls_frame_unref(&f);
	ls_spsc_free(&ring);
	return rc;
}
