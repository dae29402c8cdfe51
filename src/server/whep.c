/* whep — WebRTC to browsers through WHEP (RFC 9725): POST /whep/CAMERA or
 * /whep/mosaic with an SDP offer (application/sdp) answers 201 Created with
 * the SDP answer, every ICE candidate in it (no trickle: PATCH is 405), and
 * Location: /whep/STREAM/ID, which DELETE ends.
 *
 * Encoded once per stream. Each stream is one pipeline, made for its first
 * viewer:
 *
 *   appsrc ! x264enc ! tee ─┬─ queue ! rtph264pay ! webrtcbin   (viewer 1)
 *                           └─ queue ! rtph264pay ! webrtcbin   (viewer 2)
 *
 * x264: constrained baseline, no B-frames, zerolatency. Every viewer has
 * its own branch: a leaky queue (a stalled viewer drops its own oldest
 * frames; its thread never holds the tee), its own payloader (the payload
 * type its browser offered) and its own webrtcbin. A viewer's join asks
 * the encoder for a keyframe. Nothing is encoded while a stream has no
 * viewer; the frames are dropped and counted as idle.
 *
 * Time: the stream's RTP clock is the rig's slot clock. The pipeline runs
 * on CLOCK_REALTIME (the capture clock) with base time = the rig's epoch E,
 * and each frame's PTS is its slot's time minus E, so the RTP timestamp of
 * slot n is n·90000·T (mod 2^32) in every stream and for every viewer:
 * frames of one slot carry one RTP timestamp in all cameras' streams and
 * the mosaic, which is what /view lines the tiles up by. RTCP sender reports
 * map RTP time to NTP wall-clock time on that same clock, and the answer
 * signals it (RFC 7273: a=ts-refclk:ntp=/traceable/, a=mediaclk:direct=0
 * relative to the epoch; see docs/architecture.md).
 *
 * Latency: no jitterbuffer on this side (webrtcbin latency = 0: it only
 * receives RTCP here); the receiving side's is the browser's, which /view
 * sets (RTCRtpReceiver.jitterBufferTarget, 0 unless holding a tile back).
 *
 * A viewer ends with DELETE, with ICE failed or closed (or disconnected
 * for 5 s), or when nothing (no RTCP report, no ICE consent check) has come
 * from it for 5 s: a killed browser says nothing, and ICE alone may take
 * half a minute to notice. Its branch is unlinked and freed.
 *
 * ICE: host candidates on the address the server listens on (127.0.0.1
 * for loopback), all interfaces for a wildcard address or a name; UDP only.
 *
 * Threads: requests and viewer life (make, answer, end) run on the server
 * thread; webrtcbin's signals arrive on its own threads and are passed to
 * the server thread by viewer id (an idle source on its context; a viewer
 * gone by then is ignored). The
 * frameset thread pushes frames under stream.lock, which guards appsrc, the
 * caps and the viewer count it reads. */
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/sdp/sdp.h>
#include <gst/video/video.h>
#define GST_USE_UNSTABLE_API
#include <gst/webrtc/webrtc.h>
#include <stdatomic.h>
#include <string.h>

#include "ls_mosaic.h"
#include "output.h"
#include "server.h"

#define APPSRC_BUFFERS 2               /* raw frames waiting for a stream's encoder at most */
#define VIEWER_QUEUE 3                 /* encoded frames waiting for one viewer at most */
#define OFFER_MAX_BYTES 65536          /* a larger offer is refused (413) */
#define GATHER_TIMEOUT_MS 3000         /* answer with the candidates there are by then */
#define GONE_GRACE_MS 5000             /* ICE disconnected this long: the viewer is gone */
#define SILENT_US (5 * G_USEC_PER_SEC) /* nothing from the viewer this long: gone */
#define FIRST_US (15 * G_USEC_PER_SEC) /* from the answer to its first packet at most */

struct ls_whep;

struct stream {
	struct ls_whep *w;
	char *name;   /* "cam1", "mosaic" */
	unsigned cam; /* the camera, or ncams for the mosaic */
	GMutex lock;  /* guards appsrc, fw, fh, viewers */
	GstElement *pipe, *appsrc, *tee;
	int fw, fh;  /* caps last set on appsrc; 0: none */
	int viewers; /* viewers linked now */
	atomic_ullong pushed, idle;
	unsigned joined; /* viewers ever (server thread) */
};

enum viewer_state { V_GATHERING, V_ANSWERED, V_GONE };

struct viewer {
	struct ls_whep *w;
	struct stream *st;
	guint id;
	char *resource; /* "/whep/cam1/7" */
	GstElement *queue, *pay, *webrtc;
	GstPad *teepad;
	SoupServerMessage *msg; /* while the answer is pending (ref held) */
	enum viewer_state state;
	guint timer; /* gathering timeout, then the disconnect grace */
	gint64 joined_us;
	gint64 answered_us;
	gint64 *heard_us; /* when a packet last came from the viewer (atomic; 0: never) */
	bool probed;      /* the probe that sets heard_us is on its nicesrc */
};

struct ls_whep {
	const struct ls_config *cfg;
	GMainContext *ctx;
	int max_viewers, bitrate_kbps;
	unsigned gop;
	char *ice_ip; /* the one address for candidates, or NULL: all */
	struct stream *streams;
	unsigned nstreams;
	struct ls_mosaic *mosaic;
	int mw, mh;
	GstClock *clock;     /* CLOCK_REALTIME */
	GHashTable *viewers; /* id -> viewer (server thread) */
	int nviewers;        /* in the table (server thread) */
	guint next_id;
	bool closed;
	GSource *watch; /* each second: viewers gone silent end */
	atomic_uint offers, answered, bad_offers, busy, left;
};

/* ---- offers ---- */

/* The payload type of the offer's first H.264 format that carries
 * lockstep's stream (constrained baseline, packetization-mode 1): baseline
 * offers first (42xxxx), then any H.264 with packetization-mode 1 (main and
 * high decoders decode constrained baseline). -1 with *why set if none. */
static int pick_h264(const GstSDPMedia *m, const char **why)
{
	int fallback = -1;
	for (guint i = 0; i < gst_sdp_media_formats_len(m); i++) {
		int pt = atoi(gst_sdp_media_get_format(m, i));
		GstCaps *caps = gst_sdp_media_get_caps_from_media(m, pt);
		if (!caps)
			continue;
		const GstStructure *s = gst_caps_get_structure(caps, 0);
		const char *enc = gst_structure_get_string(s, "encoding-name");
		const char *mode = gst_structure_get_string(s, "packetization-mode");
		const char *plid = gst_structure_get_string(s, "profile-level-id");
		bool h264 = enc && g_ascii_strcasecmp(enc, "H264") == 0 && mode && strcmp(mode, "1") == 0;
		bool baseline = plid && g_ascii_strncasecmp(plid, "42", 2) == 0;
		gst_caps_unref(caps);
		if (h264 && baseline)
			return pt;
		if (h264 && fallback < 0)
			fallback = pt;
	}
	if (fallback < 0)
		*why = "the offer's video has no H.264 with packetization-mode=1 (lockstep sends H.264 constrained "
		       "baseline)";
	return fallback;
}

/* Checks @body as a WHEP offer: SDP, one video m-line lockstep can answer.
 * Returns the payload type, or -1 with *why set. */
static int check_offer(const char *body, gsize len, GstSDPMessage **out, const char **why)
{
	GstSDPMessage *sdp = NULL;
	gst_sdp_message_new(&sdp);
	if (len == 0 || gst_sdp_message_parse_buffer((const guint8 *)body, (guint)len, sdp) != GST_SDP_OK ||
	    !gst_sdp_message_get_version(sdp) || gst_sdp_message_medias_len(sdp) == 0) {
		*why = "the body is not an SDP offer (no v= line or no m= line)";
		gst_sdp_message_free(sdp);
		return -1;
	}
	int pt = -1;
	unsigned video = 0;
	*why = NULL;
	for (guint i = 0; i < gst_sdp_message_medias_len(sdp); i++) {
		const GstSDPMedia *m = gst_sdp_message_get_media(sdp, i);
		if (g_strcmp0(gst_sdp_media_get_media(m), "video") != 0)
			continue;
		video++;
		if (gst_sdp_media_get_attribute_val(m, "sendonly") || gst_sdp_media_get_attribute_val(m, "inactive")) {
			*why = "the offer's video is sendonly or inactive: a WHEP viewer receives (recvonly)";
			continue;
		}
		if (!gst_sdp_media_get_attribute_val(m, "ice-ufrag") &&
		    !gst_sdp_message_get_attribute_val(sdp, "ice-ufrag")) {
			*why = "the offer has no a=ice-ufrag: not a WebRTC offer";
			continue;
		}
		if (!gst_sdp_media_get_attribute_val(m, "fingerprint") &&
		    !gst_sdp_message_get_attribute_val(sdp, "fingerprint")) {
			*why = "the offer has no a=fingerprint: WebRTC needs DTLS-SRTP";
			continue;
		}
		if (pt < 0)
			pt = pick_h264(m, why);
	}
	if (video != 1) {
		*why = video ? "the offer has more than one video m-line; a WHEP stream has one"
			     : "the offer has no video m-line";
		pt = -1;
	}
	if (pt < 0) {
		gst_sdp_message_free(sdp);
		return -1;
	}
	*out = sdp;
	return pt;
}

/* ---- streams ---- */

static void viewer_end(struct ls_whep *w, guint id, const char *why);
static void stream_stop(struct stream *st);

/* Server thread: ends, with @why, every viewer @pick (NULL: all) says. The
 * ids first: ending a viewer changes the table. */
static void end_viewers(struct ls_whep *w, bool (*pick)(struct viewer *v, gpointer data), gpointer data,
			const char *why)
{
	GList *vs = g_hash_table_get_values(w->viewers), *ids = NULL;
	for (GList *l = vs; l; l = l->next) {
		struct viewer *v = l->data;
		if (!pick || pick(v, data))
			ids = g_list_prepend(ids, GUINT_TO_POINTER(v->id));
	}
	g_list_free(vs);
	for (GList *l = ids; l; l = l->next)
		viewer_end(w, GPOINTER_TO_UINT(l->data), why);
	g_list_free(ids);
}

static bool of_stream(struct viewer *v, gpointer st) { return v->st == st; }

/* Server thread: an error in a stream's pipeline (the encoder) ends its
 * viewers, in one line; the stream starts afresh for the next viewer. */
static gboolean on_stream_bus(GstBus *bus, GstMessage *m, gpointer data)
{
	struct stream *st = data;
	(void)bus;
	if (GST_MESSAGE_TYPE(m) != GST_MESSAGE_ERROR)
		return G_SOURCE_CONTINUE;
	GError *ge = NULL;
	gst_message_parse_error(m, &ge, NULL);
	g_printerr("server: %s: the stream failed (%s: %s); its viewers end\n", st->name, GST_OBJECT_NAME(m->src),
		   ge ? ge->message : "?");
	g_clear_error(&ge);
	end_viewers(st->w, of_stream, st, "the stream failed");
	stream_stop(st);
	return G_SOURCE_REMOVE;
}

/* Server thread: makes @st's pipeline (appsrc ! x264enc ! tee), playing. */
static bool stream_start(struct stream *st, char **err)
{
	struct ls_whep *w = st->w;
	GError *ge = NULL;
	char *desc = g_strdup_printf(
		"appsrc name=src is-live=true format=time do-timestamp=false max-buffers=%d leaky-type=downstream "
		"! x264enc tune=zerolatency speed-preset=ultrafast bitrate=%d key-int-max=%u bframes=0 threads=1 "
		"! video/x-h264,profile=constrained-baseline,stream-format=byte-stream,alignment=au "
		"! tee name=t allow-not-linked=true",
		APPSRC_BUFFERS, w->bitrate_kbps, w->gop);
	GstElement *pipe = gst_parse_launch(desc, &ge);
	g_free(desc);
	if (!pipe) {
		*err = g_strdup_printf("cannot make the encoder: %s", ge ? ge->message : "?");
		g_clear_error(&ge);
		return false;
	}
	/* running time = wall clock - epoch: a frame's PTS is its slot's time
	 * - epoch, on the same clock RTCP's NTP times come from */
	gst_pipeline_use_clock(GST_PIPELINE(pipe), w->clock);
	gst_element_set_start_time(pipe, GST_CLOCK_TIME_NONE);
	gst_element_set_base_time(pipe, (GstClockTime)w->cfg->epoch_ns);
	/* on the server thread's context (the thread default here) */
	GstBus *bus = gst_pipeline_get_bus(GST_PIPELINE(pipe));
	gst_bus_add_watch(bus, on_stream_bus, st);
	gst_object_unref(bus);
	if (gst_element_set_state(pipe, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
		*err = g_strdup("the encoder pipeline does not start");
		GstBus *b = gst_pipeline_get_bus(GST_PIPELINE(pipe));
		gst_bus_remove_watch(b);
		gst_object_unref(b);
		gst_object_unref(pipe);
		return false;
	}
	GstElement *src = gst_bin_get_by_name(GST_BIN(pipe), "src");
	GstElement *tee = gst_bin_get_by_name(GST_BIN(pipe), "t");
	g_mutex_lock(&st->lock);
	st->pipe = pipe;
	st->appsrc = src;
	st->tee = tee;
	st->fw = st->fh = 0;
	g_mutex_unlock(&st->lock);
	return true;
}

static void stream_stop(struct stream *st)
{
	g_mutex_lock(&st->lock);
	GstElement *pipe = st->pipe, *src = st->appsrc, *tee = st->tee;
	st->pipe = st->appsrc = st->tee = NULL;
	g_mutex_unlock(&st->lock);
	if (!pipe)
		return;
	GstBus *bus = gst_pipeline_get_bus(GST_PIPELINE(pipe));
	gst_bus_remove_watch(bus);
	gst_object_unref(bus);
	gst_element_set_state(pipe, GST_STATE_NULL);
	gst_object_unref(src);
	gst_object_unref(tee);
	gst_object_unref(pipe);
}

/* Frameset thread: @buf (transfer full) to @st if someone watches. */
static void stream_push(struct stream *st, GstBuffer *buf, int w, int h, GstClockTime pts)
{
	struct ls_whep *wh = st->w;
	g_mutex_lock(&st->lock);
	if (!st->appsrc || st->viewers == 0) {
		g_mutex_unlock(&st->lock);
		gst_buffer_unref(buf);
		atomic_fetch_add(&st->idle, 1);
		return;
	}
	if (w != st->fw || h != st->fh) {
		GstCaps *caps = ls_output_i420_caps(w, h, wh->cfg->rate);
		gst_app_src_set_caps(GST_APP_SRC(st->appsrc), caps);
		gst_caps_unref(caps);
		st->fw = w;
		st->fh = h;
	}
	GST_BUFFER_PTS(buf) = pts;
	GST_BUFFER_DTS(buf) = GST_CLOCK_TIME_NONE;
	GST_BUFFER_DURATION(buf) = (GstClockTime)ls_rate_period_ns(wh->cfg->rate);
	gst_app_src_push_buffer(GST_APP_SRC(st->appsrc), buf);
	g_mutex_unlock(&st->lock);
	atomic_fetch_add(&st->pushed, 1);
}

static bool stream_watched(struct stream *st)
{
	g_mutex_lock(&st->lock);
	bool yes = st->appsrc && st->viewers > 0;
	g_mutex_unlock(&st->lock);
	return yes;
}

void ls_whep_push(struct ls_whep *w, const struct ls_frameset *set)
{
	if (set->slot_ns < w->cfg->epoch_ns)
		return;
	GstClockTime pts = (GstClockTime)(set->slot_ns - w->cfg->epoch_ns);
	for (unsigned i = 0; i < w->nstreams; i++) {
		struct stream *st = &w->streams[i];
		if (!stream_watched(st)) {
			atomic_fetch_add(&st->idle, 1);
			continue;
		}
		if (st->cam == w->cfg->ncams) {
			GstBuffer *buf = gst_buffer_new_allocate(NULL, ls_mosaic_buffer_size(w->mosaic), NULL);
			GstMapInfo map;
			gst_buffer_map(buf, &map, GST_MAP_WRITE);
			ls_mosaic_compose(w->mosaic, set, map.data);
			gst_buffer_unmap(buf, &map);
			stream_push(st, buf, w->mw, w->mh, pts);
			continue;
		}
		const struct ls_entry *e = &set->entries[st->cam];
		if (e->state != LS_ENTRY_PRESENT || !e->frame || e->frame->format != LS_FMT_I420)
			continue;
		stream_push(st, ls_output_frame_buffer(e->frame), e->frame->width, e->frame->height, pts);
	}
}

/* ---- viewers ---- */

static struct stream *find_stream(struct ls_whep *w, const char *name, size_t len)
{
	for (unsigned i = 0; i < w->nstreams; i++)
		if (strlen(w->streams[i].name) == len && strncmp(w->streams[i].name, name, len) == 0)
			return &w->streams[i];
	return NULL;
}

/* Server thread: @v's one timer (gathering timeout, then disconnect grace). */
static void viewer_timer_stop(struct viewer *v)
{
	if (!v->timer)
		return;
	g_source_destroy(g_main_context_find_source_by_id(v->w->ctx, v->timer));
	v->timer = 0;
}

static void viewer_timer_start(struct viewer *v, guint ms, GSourceFunc fn)
{
	viewer_timer_stop(v);
	GSource *s = g_timeout_source_new(ms);
	g_source_set_callback(s, fn, v, NULL);
	v->timer = g_source_attach(s, v->w->ctx);
	g_source_unref(s);
}

/* Server thread: ends @v and frees it, and what it held in the pipeline. */
static void viewer_free(struct viewer *v)
{
	struct stream *st = v->st;
	viewer_timer_stop(v);
	if (v->msg) {
		ls_http_reply_error(v->msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "the stream ended before its answer");
		soup_server_message_unpause(v->msg);
		g_object_unref(v->msg);
	}
	if (v->teepad) {
		g_mutex_lock(&st->lock);
		st->viewers--;
		g_mutex_unlock(&st->lock);
		/* the tee pushes on the stream's thread: unlinking the pad
		 * from under a push is what releasing it waits out */
		GstPad *sink = gst_element_get_static_pad(v->queue, "sink");
		gst_pad_unlink(v->teepad, sink);
		gst_object_unref(sink);
		gst_element_release_request_pad(st->tee, v->teepad);
		gst_object_unref(v->teepad);
	}
	GstElement *els[] = { v->webrtc, v->pay, v->queue };
	for (unsigned i = 0; i < G_N_ELEMENTS(els); i++) {
		if (!els[i])
			continue;
		gst_element_set_locked_state(els[i], TRUE);
		gst_element_set_state(els[i], GST_STATE_NULL);
		gst_bin_remove(GST_BIN(st->pipe), els[i]);
	}
	g_free(v->resource);
	g_free(v->heard_us);
	g_free(v);
}

static void viewer_end(struct ls_whep *w, guint id, const char *why)
{
	struct viewer *v = g_hash_table_lookup(w->viewers, GUINT_TO_POINTER(id));
	if (!v)
		return;
	g_hash_table_remove(w->viewers, GUINT_TO_POINTER(id));
	w->nviewers--;
	atomic_fetch_add(&w->left, 1);
	g_printerr("server: %s: viewer %u left (%s) after %.1f s; %d watching\n", v->st->name, id, why,
		   (double)(g_get_monotonic_time() - v->joined_us) / 1e6, w->nviewers);
	viewer_free(v);
}

/* Server thread: the answer, candidates and all, goes to the viewer. */
static void viewer_answer(struct viewer *v)
{
	struct ls_whep *w = v->w;
	if (v->state != V_GATHERING || !v->msg)
		return;
	viewer_timer_stop(v);
	GstWebRTCSessionDescription *local = NULL;
	g_object_get(v->webrtc, "local-description", &local, NULL);
	if (!local) {
		ls_http_reply_error(v->msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "webrtcbin made no answer");
		soup_server_message_unpause(v->msg);
		g_clear_object(&v->msg);
		viewer_end(w, v->id, "no answer");
		return;
	}
	/* RFC 7273: RTP time is the wall clock (NTP) since the rig's epoch */
	for (guint i = 0; i < gst_sdp_message_medias_len(local->sdp); i++) {
		GstSDPMedia *m = (GstSDPMedia *)gst_sdp_message_get_media(local->sdp, i);
		gst_sdp_media_add_attribute(m, "ts-refclk", "ntp=/traceable/");
		gst_sdp_media_add_attribute(m, "mediaclk", "direct=0");
	}
	char *text = gst_sdp_message_as_text(local->sdp);
	gst_webrtc_session_description_free(local);
	SoupMessageHeaders *hd = soup_server_message_get_response_headers(v->msg);
	soup_message_headers_replace(hd, "Location", v->resource);
	soup_message_headers_replace(hd, "Cache-Control", "no-store");
	soup_message_headers_replace(hd, "Accept-Patch", "application/trickle-ice-sdpfrag");
	soup_server_message_set_status(v->msg, SOUP_STATUS_CREATED, NULL);
	soup_server_message_set_response(v->msg, "application/sdp", SOUP_MEMORY_TAKE, text, strlen(text));
	soup_server_message_unpause(v->msg);
	g_clear_object(&v->msg);
	v->state = V_ANSWERED;
	v->answered_us = g_get_monotonic_time();
	atomic_fetch_add(&w->answered, 1);
	g_printerr("server: %s: viewer %u joined; %d watching\n", v->st->name, v->id, w->nviewers);
}

struct viewer_event {
	struct ls_whep *w;
	guint id;
	int what; /* 0: gathering complete, 1: ICE connected, 2: disconnected, 3: failed/closed */
};

static gboolean on_gone_grace(gpointer data)
{
	struct viewer *v = data;
	v->timer = 0;
	viewer_end(v->w, v->id, "ICE disconnected");
	return G_SOURCE_REMOVE;
}

static gboolean on_gather_timeout(gpointer data)
{
	struct viewer *v = data;
	v->timer = 0;
	viewer_answer(v);
	return G_SOURCE_REMOVE;
}

/* Server thread. */
static gboolean on_viewer_event(gpointer data)
{
	struct viewer_event *ev = data;
	struct viewer *v = g_hash_table_lookup(ev->w->viewers, GUINT_TO_POINTER(ev->id));
	if (!v)
		return G_SOURCE_REMOVE;
	switch (ev->what) {
	case 0:
		viewer_answer(v);
		break;
	case 1:
		if (v->state == V_ANSWERED)
			viewer_timer_stop(v);
		break;
	case 2:
		if (v->state == V_ANSWERED && !v->timer)
			viewer_timer_start(v, GONE_GRACE_MS, on_gone_grace);
		break;
	default:
		viewer_end(ev->w, ev->id, "ICE failed or closed");
		break;
	}
	return G_SOURCE_REMOVE;
}

static void post_event(struct ls_whep *w, guint id, int what)
{
	struct viewer_event *ev = g_new(struct viewer_event, 1);
	ev->w = w;
	ev->id = id;
	ev->what = what;
	/* always later, from the server thread's loop: never inside the
	 * server thread's own call into webrtcbin (viewer_new), where the
	 * viewer is not whole yet */
	GSource *s = g_idle_source_new();
	g_source_set_callback(s, on_viewer_event, ev, g_free);
	g_source_attach(s, w->ctx);
	g_source_unref(s);
}

/* webrtcbin's threads: the viewer is passed by id, never by pointer. */
static void on_gathering(GObject *obj, GParamSpec *ps, gpointer data)
{
	(void)ps;
	struct ls_whep *w = g_object_get_data(obj, "ls-whep");
	GstWebRTCICEGatheringState s;
	g_object_get(obj, "ice-gathering-state", &s, NULL);
	if (s == GST_WEBRTC_ICE_GATHERING_STATE_COMPLETE)
		post_event(w, GPOINTER_TO_UINT(data), 0);
}

static void on_ice_state(GObject *obj, GParamSpec *ps, gpointer data)
{
	(void)ps;
	struct ls_whep *w = g_object_get_data(obj, "ls-whep");
	GstWebRTCICEConnectionState s;
	g_object_get(obj, "ice-connection-state", &s, NULL);
	if (s == GST_WEBRTC_ICE_CONNECTION_STATE_CONNECTED || s == GST_WEBRTC_ICE_CONNECTION_STATE_COMPLETED)
		post_event(w, GPOINTER_TO_UINT(data), 1);
	else if (s == GST_WEBRTC_ICE_CONNECTION_STATE_DISCONNECTED)
		post_event(w, GPOINTER_TO_UINT(data), 2);
	else if (s == GST_WEBRTC_ICE_CONNECTION_STATE_FAILED || s == GST_WEBRTC_ICE_CONNECTION_STATE_CLOSED)
		post_event(w, GPOINTER_TO_UINT(data), 3);
}

/* Waits for @p (a webrtcbin promise) and returns its error text, or NULL. */
static char *promise_error(GstPromise *p)
{
	GstPromiseResult r = gst_promise_wait(p);
	char *why = NULL;
	const GstStructure *s = gst_promise_get_reply(p);
	GError *ge = NULL;
	if (s && gst_structure_has_field(s, "error"))
		gst_structure_get(s, "error", G_TYPE_ERROR, &ge, NULL);
	if (ge)
		why = g_strdup(ge->message);
	else if (r != GST_PROMISE_RESULT_REPLIED)
		why = g_strdup("webrtcbin did not answer");
	g_clear_error(&ge);
	return why;
}

/* The stream's thread: caps queries from a viewer's branch stop at its
 * queue. The encoder is shared: a viewer's offer (level 3.1 from most
 * browsers: no 1080p) must not cap what it makes for everyone. */
static GstPadProbeReturn keep_encoder_caps(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
	(void)data;
	GstQuery *q = GST_PAD_PROBE_INFO_QUERY(info);
	if (GST_QUERY_TYPE(q) == GST_QUERY_CAPS) {
		GstCaps *filter = NULL;
		gst_query_parse_caps(q, &filter);
		GstCaps *any = gst_pad_get_pad_template_caps(pad);
		if (filter) {
			GstCaps *c = gst_caps_intersect(any, filter);
			gst_caps_unref(any);
			any = c;
		}
		gst_query_set_caps_result(q, any);
		gst_caps_unref(any);
		return GST_PAD_PROBE_HANDLED;
	}
	if (GST_QUERY_TYPE(q) == GST_QUERY_ACCEPT_CAPS) {
		gst_query_set_accept_caps_result(q, TRUE);
		return GST_PAD_PROBE_HANDLED;
	}
	return GST_PAD_PROBE_OK;
}

/* Server thread: a viewer of @st for @offer (taken), payload type @pt.
 * Returns the viewer, its answer pending, or NULL with *status and *why. */
static struct viewer *viewer_new(struct ls_whep *w, struct stream *st, GstSDPMessage *offer, int pt,
				 SoupServerMessage *msg, guint *status, char **why)
{
	if (!st->pipe && !stream_start(st, why)) {
		gst_sdp_message_free(offer);
		*status = SOUP_STATUS_INTERNAL_SERVER_ERROR;
		return NULL;
	}
	struct viewer *v = g_new0(struct viewer, 1);
	v->w = w;
	v->st = st;
	v->id = ++w->next_id;
	v->resource = g_strdup_printf("/whep/%s/%u", st->name, v->id);
	v->joined_us = g_get_monotonic_time();
	v->heard_us = g_new0(gint64, 1);
	v->queue = gst_element_factory_make("queue", NULL);
	v->pay = gst_element_factory_make("rtph264pay", NULL);
	v->webrtc = gst_element_factory_make("webrtcbin", NULL);
	/* leaky: a viewer whose branch falls behind drops its own oldest
	 * frames; its own thread from here on */
	g_object_set(v->queue, "leaky", 2, "max-size-buffers", VIEWER_QUEUE, "max-size-bytes", 0, "max-size-time",
		     (guint64)0, NULL);
	g_object_set(v->pay, "pt", (guint)pt, "config-interval", -1, "mtu", 1200, "timestamp-offset", (guint)0, NULL);
	gst_util_set_object_arg(G_OBJECT(v->pay), "aggregate-mode", "zero-latency");
	gst_util_set_object_arg(G_OBJECT(v->webrtc), "bundle-policy", "max-bundle");
	g_object_set(v->webrtc, "latency", 0, NULL);
	GstWebRTCICE *ice = NULL;
	g_object_get(v->webrtc, "ice-agent", &ice, NULL);
	if (ice) {
		if (g_object_class_find_property(G_OBJECT_GET_CLASS(ice), "ice-tcp"))
			g_object_set(ice, "ice-tcp", FALSE, NULL);
		if (w->ice_ip) {
			gboolean ok = FALSE;
			g_signal_emit_by_name(ice, "add-local-ip-address", w->ice_ip, &ok);
		}
		gst_object_unref(ice);
	}
	g_object_set_data(G_OBJECT(v->webrtc), "ls-whep", w);
	g_signal_connect(v->webrtc, "notify::ice-gathering-state", G_CALLBACK(on_gathering), GUINT_TO_POINTER(v->id));
	g_signal_connect(v->webrtc, "notify::ice-connection-state", G_CALLBACK(on_ice_state), GUINT_TO_POINTER(v->id));
	gst_bin_add_many(GST_BIN(st->pipe), v->queue, v->pay, v->webrtc, NULL);
	GstPad *wsink = gst_element_request_pad_simple(v->webrtc, "sink_%u");
	GstPad *psrc = gst_element_get_static_pad(v->pay, "src");
	bool linked = gst_element_link(v->queue, v->pay) && wsink && gst_pad_link(psrc, wsink) == GST_PAD_LINK_OK;
	gst_object_unref(psrc);
	/* what the transceiver answers with, before any frame has been
	 * encoded: H.264 at the offered payload type; the stream's own
	 * profile-level-id goes in the caps the payloader sends */
	if (wsink) {
		GstWebRTCRTPTransceiver *tr = NULL;
		g_object_get(wsink, "transceiver", &tr, NULL);
		if (tr) {
			GstCaps *caps = gst_caps_new_simple("application/x-rtp", "media", G_TYPE_STRING, "video",
							    "encoding-name", G_TYPE_STRING, "H264", "clock-rate",
							    G_TYPE_INT, 90000, "payload", G_TYPE_INT, pt,
							    "packetization-mode", G_TYPE_STRING, "1", NULL);
			g_object_set(tr, "codec-preferences", caps, "direction",
				     GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY, NULL);
			gst_caps_unref(caps);
			gst_object_unref(tr);
		}
		gst_object_unref(wsink);
	}
	v->state = V_GATHERING;
	g_hash_table_insert(w->viewers, GUINT_TO_POINTER(v->id), v);
	w->nviewers++;
	if (!linked) {
		*status = SOUP_STATUS_INTERNAL_SERVER_ERROR;
		*why = g_strdup("cannot link a viewer's branch (webrtcbin)");
		viewer_end(w, v->id, "not linked");
		gst_sdp_message_free(offer);
		return NULL;
	}
	gst_element_sync_state_with_parent(v->queue);
	gst_element_sync_state_with_parent(v->pay);
	gst_element_sync_state_with_parent(v->webrtc);

	GstWebRTCSessionDescription *desc = gst_webrtc_session_description_new(GST_WEBRTC_SDP_TYPE_OFFER, offer);
	GstPromise *p = gst_promise_new();
	g_signal_emit_by_name(v->webrtc, "set-remote-description", desc, p);
	char *err = promise_error(p);
	gst_promise_unref(p);
	gst_webrtc_session_description_free(desc);
	GstWebRTCSessionDescription *answer = NULL;
	if (!err) {
		p = gst_promise_new();
		g_signal_emit_by_name(v->webrtc, "create-answer", NULL, p);
		err = promise_error(p);
		const GstStructure *r = gst_promise_get_reply(p);
		if (!err && r)
			gst_structure_get(r, "answer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &answer, NULL);
		gst_promise_unref(p);
		if (!err && !answer)
			err = g_strdup("webrtcbin cannot answer this offer with H.264");
	}
	if (!err) {
		p = gst_promise_new();
		g_signal_emit_by_name(v->webrtc, "set-local-description", answer, p);
		err = promise_error(p);
		gst_promise_unref(p);
	}
	if (answer)
		gst_webrtc_session_description_free(answer);
	if (err) {
		*status = SOUP_STATUS_BAD_REQUEST;
		*why = g_strdup_printf("the offer cannot be answered: %s", err);
		g_free(err);
		viewer_end(w, v->id, "offer refused");
		return NULL;
	}
	/* the viewer's frames: from the tee, starting with a keyframe */
	GstPad *qsink = gst_element_get_static_pad(v->queue, "sink");
	gst_pad_add_probe(qsink, GST_PAD_PROBE_TYPE_QUERY_DOWNSTREAM, keep_encoder_caps, NULL, NULL);
	v->teepad = gst_element_request_pad_simple(st->tee, "src_%u");
	gst_pad_link(v->teepad, qsink);
	gst_object_unref(qsink);
	g_mutex_lock(&st->lock);
	st->viewers++;
	g_mutex_unlock(&st->lock);
	st->joined++;
	gst_pad_send_event(v->teepad, gst_video_event_new_upstream_force_key_unit(GST_CLOCK_TIME_NONE, TRUE, 0));

	v->msg = g_object_ref(msg);
	soup_server_message_pause(msg);
	viewer_timer_start(v, GATHER_TIMEOUT_MS, on_gather_timeout);
	/* gathering may be complete already */
	GstWebRTCICEGatheringState gs;
	g_object_get(v->webrtc, "ice-gathering-state", &gs, NULL);
	if (gs == GST_WEBRTC_ICE_GATHERING_STATE_COMPLETE)
		viewer_answer(v);
	return v;
}

/* nicesrc's thread: a packet (RTCP, STUN consent) came from the viewer */
static GstPadProbeReturn on_heard(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
	(void)pad;
	(void)info;
	__atomic_store_n((gint64 *)data, g_get_monotonic_time(), __ATOMIC_RELAXED);
	return GST_PAD_PROBE_OK;
}

/* Server thread: puts on_heard on the viewer's nicesrc once webrtcbin has
 * made it (after the answer). */
static void viewer_probe(struct viewer *v)
{
	GstIterator *it = gst_bin_iterate_recurse(GST_BIN(v->webrtc));
	GValue val = G_VALUE_INIT;
	while (gst_iterator_next(it, &val) == GST_ITERATOR_OK) {
		GstElement *e = g_value_get_object(&val);
		GstElementFactory *f = gst_element_get_factory(e);
		if (f && strcmp(GST_OBJECT_NAME(f), "nicesrc") == 0) {
			GstPad *src = gst_element_get_static_pad(e, "src");
			if (src) {
				gst_pad_add_probe(src, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
						  on_heard, v->heard_us, NULL);
				gst_object_unref(src);
				v->probed = true;
			}
		}
		g_value_reset(&val);
	}
	g_value_unset(&val);
	gst_iterator_free(it);
}

/* Server thread, each second: a viewer that has sent nothing (no RTCP
 * report, no ICE consent check) for SILENT_US has gone without a word (its
 * browser killed, its network gone): ICE alone may take half a minute or
 * more to say so. */
static bool silent(struct viewer *v, gpointer now_us)
{
	if (v->state != V_ANSWERED)
		return false;
	if (!v->probed)
		viewer_probe(v);
	gint64 now = *(gint64 *)now_us, heard = __atomic_load_n(v->heard_us, __ATOMIC_RELAXED);
	return heard ? now - heard > SILENT_US : now - v->answered_us > FIRST_US;
}

static gboolean watch_viewers(gpointer data)
{
	gint64 now = g_get_monotonic_time();
	end_viewers(data, silent, &now, "nothing heard from it for 5 s");
	return G_SOURCE_CONTINUE;
}

static void whep_post(struct ls_whep *w, SoupServerMessage *msg, struct stream *st)
{
	atomic_fetch_add(&w->offers, 1);
	SoupMessageHeaders *rq = soup_server_message_get_request_headers(msg);
	const char *ctype = soup_message_headers_get_content_type(rq, NULL);
	if (!ctype || g_ascii_strcasecmp(ctype, "application/sdp") != 0) {
		atomic_fetch_add(&w->bad_offers, 1);
		ls_http_reply_error(msg, SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE,
				    "a WHEP offer is Content-Type: application/sdp");
		return;
	}
	if (w->closed || w->nviewers >= w->max_viewers) {
		atomic_fetch_add(&w->busy, 1);
		soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Retry-After", "5");
		char *text = w->closed ? g_strdup("the rig is stopping")
				       : g_strdup_printf("%d viewers watch already (max-viewers = %d)", w->nviewers,
							 w->max_viewers);
		ls_http_reply_error(msg, SOUP_STATUS_SERVICE_UNAVAILABLE, text);
		g_free(text);
		return;
	}
	SoupMessageBody *body = soup_server_message_get_request_body(msg);
	if (body->length > OFFER_MAX_BYTES) {
		atomic_fetch_add(&w->bad_offers, 1);
		ls_http_reply_error(msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "the offer is larger than 64 KiB");
		return;
	}
	GBytes *bytes = soup_message_body_flatten(body);
	gsize len = 0;
	const char *data = g_bytes_get_data(bytes, &len);
	GstSDPMessage *offer = NULL;
	const char *why = NULL;
	int pt = check_offer(data ? data : "", len, &offer, &why);
	g_bytes_unref(bytes);
	if (pt < 0) {
		atomic_fetch_add(&w->bad_offers, 1);
		ls_http_reply_error(msg, SOUP_STATUS_BAD_REQUEST, why);
		return;
	}
	guint status = 0;
	char *err = NULL;
	if (!viewer_new(w, st, offer, pt, msg, &status, &err)) {
		if (status == SOUP_STATUS_BAD_REQUEST)
			atomic_fetch_add(&w->bad_offers, 1);
		ls_http_reply_error(msg, status, err);
		g_free(err);
	}
}

void ls_whep_request(struct ls_whep *w, SoupServerMessage *msg, const char *path)
{
	const char *method = soup_server_message_get_method(msg);
	const char *name = path + strlen("/whep/");
	const char *slash = strchr(name, '/');
	struct stream *st = find_stream(w, name, slash ? (size_t)(slash - name) : strlen(name));
	SoupMessageHeaders *hd = soup_server_message_get_response_headers(msg);
	if (!st) {
		char *text = g_strdup_printf("no stream %s: streams are /whep/CAMERA and /whep/mosaic", path);
		ls_http_reply_error(msg, SOUP_STATUS_NOT_FOUND, text);
		g_free(text);
		return;
	}
	if (!slash) {
		if (strcmp(method, "POST") == 0) {
			whep_post(w, msg, st);
			return;
		}
		soup_message_headers_replace(hd, "Allow", "POST");
		ls_http_reply_error(msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
				    "a WHEP endpoint takes POST with an SDP offer");
		return;
	}
	/* /whep/STREAM/ID: a viewer's resource */
	char *end = NULL;
	guint64 id = g_ascii_strtoull(slash + 1, &end, 10);
	struct viewer *v = end && *end == '\0' && id ? g_hash_table_lookup(w->viewers, GUINT_TO_POINTER((guint)id))
						     : NULL;
	if (!v || v->st != st) {
		char *text = g_strdup_printf("no viewer %s (it left, or never was)", path);
		ls_http_reply_error(msg, SOUP_STATUS_NOT_FOUND, text);
		g_free(text);
		return;
	}
	if (strcmp(method, "DELETE") == 0) {
		viewer_end(w, v->id, "DELETE");
		soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
		return;
	}
	soup_message_headers_replace(hd, "Allow", "DELETE");
	ls_http_reply_error(msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
			    strcmp(method, "PATCH") == 0
				    ? "no trickle ICE: the answer holds every candidate (PATCH is not taken)"
				    : "a viewer's resource takes DELETE");
}

/* ---- the whole ---- */

struct ls_whep *ls_whep_new(const struct ls_config *cfg, const struct ls_server_config *sc, GMainContext *ctx,
			    char **err)
{
	const char *need[] = { "webrtcbin", "nicesrc", "x264enc", "rtph264pay", "dtlssrtpenc" };
	for (unsigned i = 0; i < G_N_ELEMENTS(need); i++) {
		GstElementFactory *f = gst_element_factory_find(need[i]);
		if (!f) {
			*err = g_strdup_printf("WHEP needs the GStreamer element %s (gstreamer1.0-plugins-bad, "
					       "gstreamer1.0-nice, -good, -ugly): run scripts/setup.sh, or set "
					       "max-viewers = 0",
					       need[i]);
			return NULL;
		}
		gst_object_unref(f);
	}
	struct ls_whep *w = g_new0(struct ls_whep, 1);
	w->cfg = cfg;
	w->ctx = ctx;
	w->max_viewers = sc->max_viewers;
	w->bitrate_kbps = sc->bitrate_kbps;
	int64_t gop = sc->keyframe_ns / ls_rate_period_ns(cfg->rate);
	w->gop = gop < 1 ? 1 : (unsigned)gop;
	if (ls_config_host_is_loopback(sc->host))
		w->ice_ip = g_strdup(strchr(sc->host, ':') ? "::1" : "127.0.0.1");
	else if (g_hostname_is_ip_address(sc->host) && strcmp(sc->host, "0.0.0.0") != 0 && strcmp(sc->host, "::") != 0)
		w->ice_ip = g_strdup(sc->host);
	w->clock = g_object_new(GST_TYPE_SYSTEM_CLOCK, "clock-type", GST_CLOCK_TYPE_REALTIME, NULL);
	w->watch = g_timeout_source_new_seconds(1);
	g_source_set_callback(w->watch, watch_viewers, w, NULL);
	g_source_attach(w->watch, ctx);
	w->viewers = g_hash_table_new(g_direct_hash, g_direct_equal);
	w->nstreams = cfg->ncams + 1;
	w->streams = g_new0(struct stream, w->nstreams);
	for (unsigned i = 0; i < w->nstreams; i++) {
		struct stream *st = &w->streams[i];
		st->w = w;
		st->cam = i;
		st->name = g_strdup(i < cfg->ncams ? cfg->cams[i].name : "mosaic");
		g_mutex_init(&st->lock);
	}
	w->mw = sc->mosaic_width;
	w->mh = sc->mosaic_height;
	char *why = NULL;
	w->mosaic = ls_output_mosaic_new(cfg, w->mw, w->mh, &why);
	if (!w->mosaic) {
		*err = g_strdup_printf("/whep/mosaic: %s (mosaic-width, mosaic-height)", why);
		g_free(why);
		ls_whep_free(&w);
		return NULL;
	}
	return w;
}

void ls_whep_close(struct ls_whep *w)
{
	w->closed = true;
	if (w->watch) {
		g_source_destroy(w->watch);
		g_source_unref(w->watch);
		w->watch = NULL;
	}
	end_viewers(w, NULL, NULL, "the rig stops");
	for (unsigned i = 0; i < w->nstreams; i++)
		stream_stop(&w->streams[i]);
}

void ls_whep_stats_json(struct ls_whep *w, GString *j)
{
	g_string_append_printf(j,
			       ",\"whep\":{\"offers\":%u,\"answered\":%u,\"bad_offers\":%u,\"busy\":%u,\"left\":%u,"
			       "\"streams\":{",
			       atomic_load(&w->offers), atomic_load(&w->answered), atomic_load(&w->bad_offers),
			       atomic_load(&w->busy), atomic_load(&w->left));
	for (unsigned i = 0; i < w->nstreams; i++) {
		struct stream *st = &w->streams[i];
		g_mutex_lock(&st->lock);
		int viewers = st->viewers;
		g_mutex_unlock(&st->lock);
		g_string_append(j, i ? "," : "");
		ls_json_str(j, st->name);
		g_string_append_printf(j, ":{\"viewers\":%d,\"sent\":%llu,\"idle\":%llu}", viewers,
				       (unsigned long long)atomic_load(&st->pushed),
				       (unsigned long long)atomic_load(&st->idle));
	}
	g_string_append(j, "}}");
}

void ls_whep_status_json(struct ls_whep *w, GString *j)
{
	g_string_append(j, ",\"streams\":[");
	for (unsigned i = 0; i < w->nstreams; i++) {
		g_string_append(j, i ? "," : "");
		ls_json_str(j, w->streams[i].name);
	}
	g_string_append_printf(j, "],\"max_viewers\":%d", w->max_viewers);
}

void ls_whep_free(struct ls_whep **wp)
{
	struct ls_whep *w = *wp;
	if (!w)
		return;
	if (g_hash_table_size(w->viewers) || w->watch)
		ls_whep_close(w);
	for (unsigned i = 0; i < w->nstreams; i++) {
		stream_stop(&w->streams[i]);
		g_mutex_clear(&w->streams[i].lock);
		g_free(w->streams[i].name);
	}
	g_free(w->streams);
	g_hash_table_destroy(w->viewers);
	ls_mosaic_free(&w->mosaic);
	g_clear_object(&w->clock);
	g_free(w->ice_ip);
	g_free(w);
	*wp = NULL;
}
