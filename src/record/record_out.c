/* [record]: every camera encoded to H.264 and written to MPEG-TS segments
 * that start and end on the same slots on every camera (recorder.h,
 * docs/architecture.md "Recording").
 *
 * Per camera, one encoder pipeline lives for the whole run:
 *   appsrc ! videoconvert ! ENCODER ! h264parse ! appsink
 * The output thread wraps each camera's frame of a set in a GstBuffer (no
 * copy: the buffer holds a frame reference) stamped PTS = (n - base)·T and
 * pushes it, after a GstForceKeyUnit event when n mod gop = 0 or the slot
 * does not follow the last one pushed. A camera missing from the set gets
 * its last frame again (counted as repeated), so frame i of a segment is
 * always slot first + i. Recording starts at the first complete set (at
 * most 1 s after the first set), so every camera's first segment starts on
 * the same slot.
 *
 * The encoder's appsink callback (its streaming thread) owns the camera's
 * open segment: when n mod seg_slots = 0, or n does not follow the last
 * slot written, it closes the segment (EOS through its muxer, fsync the
 * file, fsync the directory, row -> complete) and opens the next (file,
 * fsync the directory, row in `recording`), each with its own
 *   appsrc ! mpegtsmux ! appsink
 * whose callback write()s the packets to the file. MPEG-TS packets stand
 * alone, and the file is fdatasync'ed once a second: a crash loses the
 * packets in flight and at most the last second (power cut).
 *
 * Out of space (ENOSPC on write, create or the index): the segment is
 * closed with what it holds (repaired like after a crash), one line is
 * printed, and sets are dropped until the retention thread sees min-free-mb
 * + 4 MiB free again; recording then resumes with a new segment.
 *
 * Threads: output thread (sets -> encoders), one encoder streaming thread
 * per camera (segments), one muxer thread per open segment (write()), the
 * retention thread (once a second). Shared: the index (its own lock), the
 * `nospace` flag (atomic), the per-camera slot ring (its lock). */
#include <errno.h>
#include <fcntl.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "output.h"
#include "recorder.h"
#include "clips.h"
#include "values.h"

#define META_RING 128 /* slots an encoder may hold, at most */
/* Input timestamps start here: x264enc asks GstVideoEncoder to move any
 * earlier stream up to 1000 h (room for DTS before PTS), and GStreamer 1.22
 * then compares forced-key-unit running times against the moved ones and
 * ignores every request after the first. Starting at 1000 h moves nothing. */
#define PTS_OFFSET ((GstClockTime)1000 * 3600 * GST_SECOND)
#define START_WAIT_S 1                /* longest wait for a complete first set */
#define RESUME_HEADROOM (4 * 1048576) /* free bytes above min-free before recording resumes */

struct slot_meta {
	int64_t n; /* INT64_MIN: empty */
	int64_t capture_ns;
	bool repeated;
};

struct segment {
	GstElement *mux;
	GstAppSrc *src;
	int fd;
	char *dirpath; /* DIR/CAMERA */
	struct ls_rec_segment row;
	GString *keys;
	GString *missing; /* slots of the repeats, as ranges (ls_rec_ranges_add) */
	int64_t frames, repeated, last_capture_ns;
	int64_t synced_mono; /* last fdatasync, CLOCK_MONOTONIC ns */
	unsigned episode;    /* rec_out.episode when it opened */
	/* written by the muxer thread */
	atomic_int_fast64_t bytes;
	atomic_int werr;                  /* errno of the first failed write, 0 */
	atomic_uint_fast64_t *stat_bytes; /* the camera's bytes written since the start (rec_cam) */
};

struct rec_out;

struct rec_cam {
	struct rec_out *o;
	unsigned idx;
	char *name;
	char *dirpath;
	GstElement *enc;
	GstAppSrc *src;
	GstAppSink *sink;
	atomic_bool failed; /* the encoder posted an error: this camera stops recording */
	/* output thread */
	GstBuffer *last; /* the last frame pushed, for repeats */
	GstCaps *raw_caps;
	int64_t last_pushed; /* INT64_MIN: none */
	/* slot -> capture time, repeated: output thread writes, encoder thread reads */
	GMutex meta_lock;
	struct slot_meta meta[META_RING];
	/* stream copy: the camera's own H.264 from its tap (the tap's
	 * streaming thread). While `copy` is set the output thread ignores the
	 * camera's frames and the tap thread owns the segments. */
	atomic_bool copy;
	int64_t offset_ns; /* the camera's calibrated offset */
	int64_t copy_base; /* slot of PTS 0 of copied units; INT64_MIN: none yet */
	GstClockTime copy_last_pts;
	int64_t copy_last_capture_ns;
	int64_t copy_prev_n;  /* slot of the last unit seen; INT64_MIN: none */
	unsigned anomalies;   /* units off the one-per-slot grid in this window */
	int64_t anomaly_mono; /* start of that 10 s window */
	/* encoder streaming thread, or the tap's while copying (and finish, after it) */
	struct segment *seg;
	int64_t last_written;
	GstCaps *seg_caps;
	uint64_t segments, frames, skipped;
	atomic_int_fast64_t closed_through; /* last slot in a closed (complete) segment; INT64_MIN: none */
	/* for the stats record (rec_stats_json, the rig's aligner thread):
	 * bytes written by the muxer threads, segments opened */
	atomic_uint_fast64_t stat_bytes, stat_segments;
};

struct rec_out {
	const struct ls_config *cfg;
	const struct ls_record_config *rc;
	struct ls_rec_index *idx;
	struct rec_cam *cams;
	unsigned ncams;
	int64_t period;
	int64_t base; /* slot of PTS 0; output thread sets it before the first push */
	struct ls_setq *q;
	GThread *thread, *retention;
	GMutex lock; /* protects stop (retention's wait) */
	GCond cond;
	bool stop;
	atomic_bool nospace;
	atomic_uint episode; /* +1 each time recording resumes after ENOSPC */
	GMutex pending_lock;
	GPtrArray *pending; /* struct ls_rec_segment * whose row could not be written; protected by pending_lock */
	uint64_t dropped_nospace;   /* output thread */
	char *encoder_desc;         /* e.g. "x264enc speed-preset=ultrafast ..." */
	struct ls_clipper *clipper; /* [detect] clip-on: the clips others ask for (context service), or NULL */
	struct ls_output_ctx *ctx;  /* the events service (segment-closed) */
	char *exports;              /* DIR/exports: where exports for others go (context service) */
};

/* ---- segments (encoder streaming thread) ------------------------------- */

static GstFlowReturn on_mux_sample(GstAppSink *sink, gpointer data)
{
	struct segment *s = data;
	GstSample *smp = gst_app_sink_pull_sample(sink);
	if (!smp)
		return GST_FLOW_EOS;
	GstBuffer *b = gst_sample_get_buffer(smp);
	GstMapInfo map;
	if (!atomic_load(&s->werr) && b && gst_buffer_map(b, &map, GST_MAP_READ)) {
		size_t off = 0;
		while (off < map.size) {
			ssize_t w = write(s->fd, map.data + off, map.size - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				int e = w < 0 ? errno : ENOSPC;
				/* keep whole packets only: the file stays a valid TS */
				int64_t good = atomic_load(&s->bytes) + (int64_t)off;
				if (ftruncate(s->fd, good - good % 188) == 0)
					atomic_store(&s->bytes, good - good % 188);
				atomic_store(&s->werr, e);
				break;
			}
			off += (size_t)w;
		}
		if (!atomic_load(&s->werr)) {
			atomic_fetch_add(&s->bytes, (int64_t)map.size);
			atomic_fetch_add_explicit(s->stat_bytes, map.size, memory_order_relaxed);
		}
		gst_buffer_unmap(b, &map);
	}
	gst_sample_unref(smp);
	return GST_FLOW_OK;
}

/* One line per out-of-space episode. An error of a segment opened before
 * the last resume is stale: that episode was already reported and ended. */
static void report_nospace(struct rec_out *o, const char *cam, int e, unsigned episode)
{
	if (episode != atomic_load(&o->episode))
		return;
	if (!atomic_exchange(&o->nospace, true))
		g_printerr("record: camera %s: %s in %s; dropping frames until space is back\n", cam, g_strerror(e),
			   o->rc->dir);
}

/* A row that could not be written (the index's disk is full too): the
 * retention thread retries it; the recovery pass would fix it at the next
 * start anyway. */
static void add_pending(struct rec_out *o, const struct ls_rec_segment *row)
{
	struct ls_rec_segment *p = g_new0(struct ls_rec_segment, 1);
	*p = *row;
	p->camera = g_strdup(row->camera);
	p->path = g_strdup(row->path);
	p->keyframes = g_strdup(row->keyframes);
	p->missing = g_strdup(row->missing);
	p->state = row->state;
	g_mutex_lock(&o->pending_lock);
	g_ptr_array_add(o->pending, p);
	g_mutex_unlock(&o->pending_lock);
}

static void fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* The events service: a segment is complete on disk (fsync'd, in the index). */
static void segment_event(struct rec_out *o, const struct ls_rec_segment *row, int64_t frames)
{
	if (!o->ctx)
		return;
	GString *f = g_string_new("\"camera\":");
	ls_json_str(f, row->camera);
	g_string_append(f, ",\"path\":");
	ls_json_str(f, row->path);
	g_string_append(f, ",\"dir\":");
	ls_json_str(f, o->rc->dir);
	g_string_append_printf(
		f,
		",\"first_slot\":%lld,\"last_slot\":%lld,\"start_ns\":%lld,\"end_ns\":%lld,\"bytes\":%lld,"
		"\"frames\":%lld,\"repeated\":%lld,\"missing\":",
		(long long)row->first_slot, (long long)row->last_slot, (long long)row->start_ns, (long long)row->end_ns,
		(long long)row->bytes, (long long)frames, (long long)row->repeated);
	ls_json_str(f, row->missing ? row->missing : "");
	ls_output_ctx_event(o->ctx, "segment-closed", f->str);
	g_string_free(f, TRUE);
}

/* Closes @c's segment: EOS through its muxer, then the durability order:
 * fsync the file, fsync the directory, then the row says complete. */
static void segment_close(struct rec_cam *c)
{
	struct segment *s = c->seg;
	struct rec_out *o = c->o;
	if (!s)
		return;
	c->seg = NULL;
	gst_app_src_end_of_stream(s->src);
	GstBus *bus = gst_element_get_bus(s->mux);
	GstMessage *m = gst_bus_timed_pop_filtered(bus, 10 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
	if (m)
		gst_message_unref(m);
	gst_object_unref(bus);
	gst_element_set_state(s->mux, GST_STATE_NULL);
	gst_object_unref(s->src);
	gst_object_unref(s->mux);
	s->row.missing = g_string_free(s->missing, FALSE);
	s->missing = NULL;
	int werr = atomic_load(&s->werr);
	if (!werr && fsync(s->fd) < 0)
		werr = errno;
	close(s->fd);
	if (werr) {
		/* what made it to disk is kept, like after a crash */
		if (werr == ENOSPC || werr == EDQUOT)
			report_nospace(o, c->name, werr, s->episode);
		else
			g_printerr("record: camera %s: writing %s: %s\n", c->name, s->row.path, g_strerror(werr));
		s->row.state = LS_SEG_RECORDING;
		if (ls_rec_repair(o->idx, o->rc->dir, &s->row, o->cfg->rate) < 0)
			add_pending(o, &s->row);
	} else {
		fsync_dir(s->dirpath);
		s->row.last_slot = s->row.first_slot + s->frames - 1;
		s->row.end_ns = s->last_capture_ns + o->period;
		s->row.bytes = atomic_load(&s->bytes);
		s->row.keyframes = g_string_free(s->keys, FALSE);
		s->keys = NULL;
		s->row.repeated = s->repeated;
		s->row.state = LS_SEG_COMPLETE;
		atomic_store(&c->closed_through, s->row.last_slot); /* for clips (segments close in slot order) */
		if (ls_rec_index_update(o->idx, &s->row, NULL) < 0) {
			report_nospace(o, c->name, ENOSPC, s->episode);
			add_pending(o, &s->row);
		}
		segment_event(o, &s->row, s->frames);
	}
	if (s->keys)
		g_string_free(s->keys, TRUE);
	g_free(s->row.camera);
	g_free(s->row.path);
	g_free(s->row.keyframes);
	g_free(s->row.missing);
	g_free(s);
}

/* Opens DIR/CAMERA/N.ts with a muxer for @caps. False when out of space or
 * failing (reported). */
static bool segment_open(struct rec_cam *c, int64_t n, int64_t capture_ns, GstCaps *caps)
{
	struct rec_out *o = c->o;
	struct segment *s = g_new0(struct segment, 1);
	s->row.camera = g_strdup(c->name);
	s->row.path = g_strdup_printf("%s/%lld.ts", c->name, (long long)n);
	s->row.first_slot = n;
	s->row.last_slot = n - 1;
	s->row.start_ns = s->row.end_ns = capture_ns;
	s->row.state = LS_SEG_RECORDING;
	s->row.copy = atomic_load(&c->copy);
	s->dirpath = c->dirpath;
	s->episode = atomic_load(&o->episode);
	s->stat_bytes = &c->stat_bytes;
	char *full = g_build_filename(o->rc->dir, s->row.path, NULL);
	s->fd = open(full, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int e = s->fd < 0 ? errno : 0;
	g_free(full);
	char *err = NULL;
	if (e) {
		if (e == ENOSPC || e == EDQUOT)
			report_nospace(o, c->name, e, s->episode);
		else
			g_printerr("record: camera %s: cannot create %s/%s: %s\n", c->name, o->rc->dir, s->row.path,
				   g_strerror(e));
		goto fail;
	}
	/* the directory entry is durable before the row points at it */
	fsync_dir(c->dirpath);
	if (ls_rec_index_insert(o->idx, &s->row, &err) < 0) {
		report_nospace(o, c->name, ENOSPC, s->episode);
		g_free(err);
		close(s->fd);
		char *f = g_build_filename(o->rc->dir, s->row.path, NULL);
		unlink(f);
		g_free(f);
		goto fail;
	}
	GError *ge = NULL;
	s->mux = gst_parse_launch(
		"appsrc name=src format=time max-buffers=0 ! mpegtsmux ! appsink name=sink sync=false", &ge);
	if (!s->mux || ge) {
		g_printerr("record: cannot build the muxer: %s\n", ge ? ge->message : "?");
		g_clear_error(&ge);
		close(s->fd);
		goto fail;
	}
	s->src = GST_APP_SRC(gst_bin_get_by_name(GST_BIN(s->mux), "src"));
	gst_app_src_set_caps(s->src, caps);
	GstAppSink *sink = GST_APP_SINK(gst_bin_get_by_name(GST_BIN(s->mux), "sink"));
	GstAppSinkCallbacks cb = { .new_sample = on_mux_sample };
	gst_app_sink_set_callbacks(sink, &cb, s, NULL);
	gst_object_unref(sink);
	gst_element_set_state(s->mux, GST_STATE_PLAYING);
	s->keys = g_string_new(NULL);
	s->missing = g_string_new(NULL);
	s->synced_mono = g_get_monotonic_time() * 1000;
	c->seg = s;
	c->segments++;
	atomic_fetch_add_explicit(&c->stat_segments, 1, memory_order_relaxed);
	gst_caps_replace(&c->seg_caps, caps);
	return true;
fail:
	if (s->mux)
		gst_object_unref(s->mux);
	g_free(s->row.camera);
	g_free(s->row.path);
	g_free(s);
	return false;
}

/* Writes the access unit of slot @n to the camera's open segment, stamped
 * @pts. A new segment starts here when @boundary, when n does not follow
 * the last slot written, or when the caps changed; a segment starts with a
 * keyframe, so until one comes units are skipped. Encoder streaming thread
 * (or the tap's, for stream copy). */
static void write_unit(struct rec_cam *c, GstBuffer *b, GstCaps *caps, int64_t n, const struct slot_meta *meta,
		       bool key, bool boundary, GstClockTime pts)
{
	struct rec_out *o = c->o;
	boundary = boundary || !c->seg || n != c->last_written + 1 ||
		   (c->seg_caps && !gst_caps_is_equal(caps, c->seg_caps));
	if (boundary) {
		segment_close(c);
		if (!key || atomic_load(&o->nospace) || !segment_open(c, n, meta->capture_ns, caps)) {
			c->skipped++;
			return;
		}
	}
	struct segment *s = c->seg;
	if (key)
		g_string_append_printf(s->keys, "%s%lld", s->keys->len ? "," : "", (long long)n);
	GstBuffer *out = gst_buffer_copy(b); /* shares the memory; our timestamps */
	GST_BUFFER_PTS(out) = GST_BUFFER_DTS(out) = pts;
	GST_BUFFER_DURATION(out) = (GstClockTime)o->period;
	gst_app_src_push_buffer(s->src, out); /* takes out */
	s->frames++;
	s->repeated += meta->repeated;
	if (meta->repeated)
		ls_rec_ranges_add(s->missing, n);
	s->last_capture_ns = meta->capture_ns;
	c->last_written = n;
	c->frames++;
	/* power-cut safety: at most a second unsynced */
	int64_t mono = g_get_monotonic_time() * 1000;
	if (mono - s->synced_mono >= LS_NS_PER_SEC) {
		fdatasync(s->fd);
		s->synced_mono = mono;
	}
	if (atomic_load(&s->werr))
		segment_close(c); /* reports; the next unit opens a new one when space is back */
}

static GstFlowReturn on_encoded(GstAppSink *sink, gpointer data)
{
	struct rec_cam *c = data;
	struct rec_out *o = c->o;
	GstSample *smp = gst_app_sink_pull_sample(sink);
	if (!smp)
		return GST_FLOW_EOS;
	GstBuffer *b = gst_sample_get_buffer(smp);
	if (!b || !GST_BUFFER_PTS_IS_VALID(b)) {
		gst_sample_unref(smp);
		return GST_FLOW_OK;
	}
	/* the encoder may shift timestamps (x264enc: by 1000 h, to fit DTS
	 * before PTS) with its segment; the running time is what we set */
	guint64 rt = gst_segment_to_running_time(gst_sample_get_segment(smp), GST_FORMAT_TIME, GST_BUFFER_PTS(b));
	if (rt == GST_CLOCK_TIME_NONE || rt < PTS_OFFSET) {
		gst_sample_unref(smp);
		return GST_FLOW_OK;
	}
	int64_t n = o->base + ((int64_t)(rt - PTS_OFFSET) + o->period / 2) / o->period;
	bool key = !GST_BUFFER_FLAG_IS_SET(b, GST_BUFFER_FLAG_DELTA_UNIT);
	struct slot_meta meta = { .n = INT64_MIN };
	g_mutex_lock(&c->meta_lock);
	if (c->meta[n % META_RING].n == n)
		meta = c->meta[n % META_RING];
	g_mutex_unlock(&c->meta_lock);
	if (meta.n == INT64_MIN)
		meta.capture_ns = ls_slot_time(n, o->cfg->epoch_ns, o->cfg->rate);
	write_unit(c, b, gst_sample_get_caps(smp), n, &meta, key, n % o->rc->seg_slots == 0,
		   (GstClockTime)((n - o->base) * o->period));
	gst_sample_unref(smp);
	return GST_FLOW_OK;
}

/* ---- stream copy (the camera's tap thread) ------------------------------ */

#define COPY_ANOMALY_WINDOW_NS (10 * LS_NS_PER_SEC)
#define COPY_ANOMALY_MAX 10 /* units off the grid per window before re-encoding instead */

static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b < 0); }

/* Stream copy is not possible for this camera: its segment ends and, from
 * the next set on, the output thread encodes its frames. */
static void copy_fallback(struct rec_cam *c, const char *why)
{
	segment_close(c);
	c->last_written = INT64_MIN;
	g_printerr("record: camera %s: %s; re-encoding it instead of copying its stream\n", c->name, why);
	atomic_store(&c->copy, false);
}

/* Each unit goes to a slot: the first to the slot of its capture time,
 * the next ones to the previous unit's slot plus the time between them in
 * slots (at least one). A camera at the rig rate gives one unit per slot; a
 * skipped slot (a lost frame) ends the segment and the next starts at a
 * keyframe (the units between could not be decoded anyway). Segments end
 * at the first keyframe in the next segment period. */
static void on_copied_unit(void *user, GstBuffer *au, GstCaps *caps, int64_t capture_ns)
{
	struct rec_cam *c = user;
	struct rec_out *o = c->o;
	if (!atomic_load(&c->copy) || atomic_load(&c->failed) || atomic_load(&o->nospace))
		return;
	if (c->copy_base == INT64_MIN) {
		/* the camera's rate, where its SPS says it, must be the rig's */
		const GstStructure *st = gst_caps_get_structure(caps, 0);
		int num = 0, den = 1;
		if (gst_structure_get_fraction(st, "framerate", &num, &den) && num > 0 &&
		    (int64_t)num * o->cfg->rate.den != (int64_t)den * o->cfg->rate.num) {
			char why[96];
			snprintf(why, sizeof why, "its stream runs at %d/%d fps, the rig at %d/%d", num, den,
				 o->cfg->rate.num, o->cfg->rate.den);
			copy_fallback(c, why);
			return;
		}
	}
	/* decode order = capture order unless frames are reordered (B-frames);
	 * a restarted camera goes forward in capture time, not back */
	GstClockTime pts = GST_BUFFER_PTS(au);
	if (GST_CLOCK_TIME_IS_VALID(c->copy_last_pts) && pts < c->copy_last_pts &&
	    capture_ns + o->period / 2 < c->copy_last_capture_ns) {
		copy_fallback(c, "its stream reorders frames (B-frames)");
		return;
	}
	/* The slot follows the previous unit's by the time between them: a
	 * camera whose phase sits near a slot edge would otherwise flip
	 * between two slots with every bit of jitter. It follows the capture
	 * clock itself again when the two drift more than a slot apart (a
	 * clock that stepped). */
	int64_t raw = ls_slot_index(capture_ns, o->cfg->epoch_ns, c->offset_ns, o->cfg->rate);
	int64_t n = raw;
	if (c->copy_prev_n != INT64_MIN) {
		int64_t step = (capture_ns - c->copy_last_capture_ns + o->period / 2) / o->period;
		if (capture_ns < c->copy_last_capture_ns)
			step = 0;
		int64_t mono = g_get_monotonic_time() * 1000;
		if (mono - c->anomaly_mono > COPY_ANOMALY_WINDOW_NS) {
			c->anomaly_mono = mono;
			c->anomalies = 0;
		}
		if (step != 1 && ++c->anomalies >= COPY_ANOMALY_MAX) {
			copy_fallback(c, "its frames do not come one per slot (a frame rate other than the rig's?)");
			return;
		}
		n = c->copy_prev_n + (step < 1 ? 1 : step);
		if (n > raw + 1 || n < raw - 1)
			n = raw;
	}
	c->copy_last_pts = pts;
	c->copy_last_capture_ns = capture_ns;
	c->copy_prev_n = n;
	if (n <= c->last_written && c->last_written != INT64_MIN) {
		/* the clock stepped back: those slots are written; the segment
		 * ends and the next starts at a keyframe after them */
		segment_close(c);
		c->skipped++;
		return;
	}
	if (c->copy_base == INT64_MIN)
		c->copy_base = n;
	bool key = !GST_BUFFER_FLAG_IS_SET(au, GST_BUFFER_FLAG_DELTA_UNIT);
	int64_t seg = o->rc->seg_slots;
	bool boundary = c->seg && key && floor_div(n, seg) != floor_div(c->seg->row.first_slot, seg);
	struct slot_meta meta = { .n = n, .capture_ns = capture_ns };
	write_unit(c, au, caps, n, &meta, key, boundary, (GstClockTime)((n - c->copy_base) * o->period) + GST_SECOND);
}

/* copy = auto: camera @cam from its own H.264, tapped through the context
 * before decoding, instead of encoding its frames; false when it has none. */
static bool record_copy(struct rec_out *o, struct ls_output_ctx *ctx, unsigned cam)
{
	struct rec_cam *c = &o->cams[cam];
	if (!ls_output_ctx_tap(ctx, cam, on_copied_unit, c))
		return false;
	atomic_store(&c->copy, true);
	g_printerr("record: camera %s: recording its own H.264 stream (stream copy)\n", c->name);
	return true;
}

/* ---- frames in (output thread) ----------------------------------------- */

/* GStreamer's name of a frame format, NULL for one lockstep cannot name */
static const char *caps_format(enum ls_pixfmt f) { return f == LS_FMT_UNKNOWN ? NULL : ls_pixfmt_name(f); }

static void frame_notify(gpointer p)
{
	struct ls_frame *f = p;
	ls_frame_unref(&f);
}

/* The frame's planes as a GstBuffer without a copy: one memory per plane,
 * each holding a frame reference, and a video meta with the strides. */
static GstBuffer *wrap_frame(struct ls_frame *f)
{
	GstVideoFormat vf = gst_video_format_from_string(caps_format(f->format));
	const GstVideoFormatInfo *fi = gst_video_format_get_info(vf);
	GstBuffer *b = gst_buffer_new();
	gsize offsets[GST_VIDEO_MAX_PLANES] = { 0 };
	gint strides[GST_VIDEO_MAX_PLANES] = { 0 };
	gsize off = 0;
	for (int i = 0; i < f->nplanes; i++) {
		int rows = GST_VIDEO_FORMAT_INFO_SCALE_HEIGHT(fi, i, f->height);
		gsize size = (gsize)f->strides[i] * (gsize)rows;
		GstMemory *m = gst_memory_new_wrapped(GST_MEMORY_FLAG_READONLY, f->planes[i], size, 0, size,
						      ls_frame_ref(f), frame_notify);
		gst_buffer_append_memory(b, m);
		offsets[i] = off;
		strides[i] = f->strides[i];
		off += size;
	}
	gst_buffer_add_video_meta_full(b, GST_VIDEO_FRAME_FLAG_NONE, vf, (guint)f->width, (guint)f->height,
				       (guint)f->nplanes, offsets, strides);
	return b;
}

static void push_frame(struct rec_out *o, struct rec_cam *c, const struct ls_entry *e, int64_t n)
{
	if (atomic_load(&c->failed) || atomic_load(&c->copy))
		return;
	struct ls_frame *f = e->state == LS_ENTRY_MISSING ? NULL : e->frame;
	bool repeated = !f || e->state == LS_ENTRY_HELD;
	GstBuffer *b;
	int64_t capture_ns;
	if (f && caps_format(f->format)) {
		GstCaps *caps = gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, caps_format(f->format),
						    "width", G_TYPE_INT, f->width, "height", G_TYPE_INT, f->height,
						    "framerate", GST_TYPE_FRACTION, o->cfg->rate.num, o->cfg->rate.den,
						    NULL);
		if (!c->raw_caps || !gst_caps_is_equal(caps, c->raw_caps)) {
			gst_app_src_set_caps(c->src, caps);
			gst_caps_replace(&c->raw_caps, caps);
			c->last_pushed = INT64_MIN; /* new stream parameters: new segment */
		}
		gst_caps_unref(caps);
		if (c->last)
			gst_buffer_unref(c->last);
		c->last = wrap_frame(f);
		b = gst_buffer_copy(c->last); /* shares the memories; own timestamps */
		capture_ns = f->capture_ns;
	} else if (c->last) {
		b = gst_buffer_copy(c->last);
		capture_ns = ls_slot_time(n, o->cfg->epoch_ns, o->cfg->rate);
		repeated = true;
	} else {
		return; /* nothing from this camera yet */
	}
	g_mutex_lock(&c->meta_lock);
	c->meta[n % META_RING] = (struct slot_meta){ .n = n, .capture_ns = capture_ns, .repeated = repeated };
	g_mutex_unlock(&c->meta_lock);
	GstClockTime pts = PTS_OFFSET + (GstClockTime)((n - o->base) * o->period);
	GST_BUFFER_PTS(b) = pts;
	GST_BUFFER_DTS(b) = GST_CLOCK_TIME_NONE;
	GST_BUFFER_DURATION(b) = (GstClockTime)o->period;
	if (n % o->rc->gop == 0 || c->last_pushed == INT64_MIN || n != c->last_pushed + 1)
		gst_element_send_event(GST_ELEMENT(c->src),
				       gst_video_event_new_downstream_force_key_unit(pts, GST_CLOCK_TIME_NONE, pts,
										     TRUE, (guint)(n / o->rc->gop)));
	gst_app_src_push_buffer(c->src, b);
	c->last_pushed = n;
}

static bool set_complete(const struct ls_frameset *set, unsigned ncams)
{
	if (set->ncams < ncams)
		return false;
	for (unsigned c = 0; c < ncams; c++)
		if (set->entries[c].state == LS_ENTRY_MISSING || !set->entries[c].frame)
			return false;
	return true;
}

static gpointer rec_thread(gpointer data)
{
	struct rec_out *o = data;
	struct ls_frameset *set;
	bool have_base = false;
	int64_t first_seen = INT64_MIN;
	while ((set = ls_setq_pop(o->q, INT64_MAX))) {
		if (atomic_load(&o->nospace)) {
			o->dropped_nospace++;
			ls_frameset_unref(&set);
			continue;
		}
		if (!have_base) {
			/* Start every camera on the same slot: wait for the first
			 * complete set, at most START_WAIT_S; a camera later than
			 * that joins on the slot of its first frame. */
			if (first_seen == INT64_MIN)
				first_seen = set->n;
			if (!set_complete(set, o->ncams) &&
			    (set->n - first_seen) * o->period < START_WAIT_S * (int64_t)GST_SECOND) {
				ls_frameset_unref(&set);
				continue;
			}
			o->base = set->n;
			have_base = true;
		}
		for (unsigned c = 0; c < o->ncams && c < set->ncams; c++)
			push_frame(o, &o->cams[c], &set->entries[c], set->n);
		ls_frameset_unref(&set);
	}
	return NULL;
}

/* ---- encoder errors ------------------------------------------------------ */

/* Main thread: a failed encoder goes to NULL, which also wakes a push
 * blocked on its full queue. */
static gboolean stop_encoder(gpointer data)
{
	struct rec_cam *c = data;
	gst_element_set_state(c->enc, GST_STATE_NULL);
	return G_SOURCE_REMOVE;
}

/* Streaming thread of the failing element: one line, then the camera's
 * recording stops (the others go on). */
static GstBusSyncReply on_encoder_message(GstBus *bus, GstMessage *m, gpointer data)
{
	struct rec_cam *c = data;
	(void)bus;
	if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR && !atomic_exchange(&c->failed, true)) {
		GError *ge = NULL;
		gst_message_parse_error(m, &ge, NULL);
		g_printerr("record: camera %s: encoder: %s; this camera's recording stops\n", c->name,
			   ge ? ge->message : "error");
		g_clear_error(&ge);
		g_idle_add(stop_encoder, c);
	}
	return GST_BUS_PASS;
}

/* ---- retention (its own thread) ----------------------------------------- */

static gpointer retention_thread(gpointer data)
{
	struct rec_out *o = data;
	bool reported = false;
	g_mutex_lock(&o->lock);
	while (!o->stop) {
		g_mutex_unlock(&o->lock);
		bool emergency = false;
		int n = ls_rec_retention(o->idx, o->rc, ls_realtime_ns(), &emergency);
		if (emergency && !reported)
			g_printerr("record: less than min-free-mb free in %s: deleting the oldest segments\n",
				   o->rc->dir);
		reported = emergency;
		(void)n;
		/* rows that could not be written: a complete one is written
		 * again, one left in recording is repaired from its file */
		g_mutex_lock(&o->pending_lock);
		for (guint i = 0; i < o->pending->len; i++) {
			struct ls_rec_segment *p = g_ptr_array_index(o->pending, i);
			int rc = p->state == LS_SEG_COMPLETE ? ls_rec_index_update(o->idx, p, NULL)
							     : ls_rec_repair(o->idx, o->rc->dir, p, o->cfg->rate);
			if (rc >= 0)
				g_ptr_array_remove_index(o->pending, i--);
		}
		g_mutex_unlock(&o->pending_lock);
		if (atomic_load(&o->nospace) &&
		    ls_rec_free_bytes(o->rc->dir) >= o->rc->min_free_bytes + RESUME_HEADROOM) {
			atomic_fetch_add(&o->episode, 1);
			atomic_store(&o->nospace, false);
			g_printerr("record: space is back in %s; recording resumes\n", o->rc->dir);
		}
		g_mutex_lock(&o->lock);
		if (!o->stop)
			g_cond_wait_until(&o->cond, &o->lock, g_get_monotonic_time() + G_TIME_SPAN_SECOND);
	}
	g_mutex_unlock(&o->lock);
	return NULL;
}

/* ---- the output --------------------------------------------------------- */

/* The encoder part of the pipeline description. */
static char *encoder_desc(const struct ls_record_config *rc, unsigned gop, char **err)
{
	const char *name = rc->encoder;
	if (strcmp(name, "auto") == 0) {
		/* a hardware encoder that opens, else x264 */
		static const char *const hw[] = { "nvh264enc", "vah264enc", "vaapih264enc", "v4l2h264enc", NULL };
		name = "x264";
		for (const char *const *h = hw; *h; h++) {
			GstElementFactory *f = gst_element_factory_find(*h);
			if (!f)
				continue;
			gst_object_unref(f);
			char *d = g_strdup_printf("videotestsrc num-buffers=2 ! video/x-raw,width=320,height=240 ! "
						  "videoconvert ! %s ! fakesink",
						  *h);
			GstElement *p = gst_parse_launch(d, NULL);
			g_free(d);
			if (!p)
				continue;
			gst_element_set_state(p, GST_STATE_PLAYING);
			GstBus *bus = gst_element_get_bus(p);
			GstMessage *m = gst_bus_timed_pop_filtered(bus, 3 * GST_SECOND,
								   GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
			bool ok = m && GST_MESSAGE_TYPE(m) == GST_MESSAGE_EOS;
			if (m)
				gst_message_unref(m);
			gst_object_unref(bus);
			gst_element_set_state(p, GST_STATE_NULL);
			gst_object_unref(p);
			if (ok) {
				name = *h;
				break;
			}
		}
	}
	if (strcmp(name, "x264") == 0 || strcmp(name, "x264enc") == 0) {
		GstElementFactory *f = gst_element_factory_find("x264enc");
		if (!f) {
			*err = g_strdup("encoder x264: the x264enc element is missing (gstreamer1.0-plugins-ugly)");
			return NULL;
		}
		gst_object_unref(f);
		GString *d = g_string_new(NULL);
		g_string_append_printf(d, "x264enc speed-preset=%s key-int-max=%u option-string=scenecut=0", rc->preset,
				       gop);
		if (strcmp(rc->tune, "none") != 0)
			g_string_append_printf(d, " tune=%s", rc->tune);
		if (rc->bitrate_kbps)
			g_string_append_printf(d, " bitrate=%u", rc->bitrate_kbps);
		return g_string_free(d, FALSE);
	}
	GstElementFactory *f = gst_element_factory_find(name);
	if (!f) {
		*err = g_strdup_printf("encoder %s: no such GStreamer element", name);
		return NULL;
	}
	gst_object_unref(f);
	return g_strdup(name);
}

static void rec_free(void *impl);

/* The clipper's question: every camera has slot @n in a closed segment. */
static bool recorded_through(void *user, int64_t n)
{
	struct rec_out *o = user;
	for (unsigned i = 0; i < o->ncams; i++)
		if (atomic_load(&o->cams[i].closed_through) < n)
			return false;
	return true;
}

/* Beyond its queue: each camera's last frame (for repeats), its encoder's
 * input queue (2) and the frame being encoded. */
static unsigned rec_frames_held(const struct ls_config *cfg, const void *group) { return 4; }

/* The export service (output_ctx.h): a clip of the recording for another
 * output (the bus's remote clip requests), into DIR/exports/NAME. */
static int rec_export(void *user, const char *const *cameras, int64_t n1, int64_t n2, const char *name, GString *json,
		      char **err)
{
	struct rec_out *o = user;
	if (mkdir(o->exports, 0755) < 0 && errno != EEXIST) {
		int e = errno;
		*err = g_strdup_printf("cannot make %s: %s", o->exports, g_strerror(e));
		return -e;
	}
	char *outdir = g_build_filename(o->exports, name, NULL);
	struct ls_clip_request req = {
		.dir = o->rc->dir,
		.rate = o->cfg->rate,
		.epoch_ns = o->cfg->epoch_ns,
		.gop = o->rc->gop,
		.cameras = cameras,
		.n1 = n1,
		.n2 = n2,
		.outdir = outdir,
	};
	struct ls_clip_result res;
	int rc = ls_record_clip(&req, &res, err);
	if (rc == 0) {
		char *manifest = g_build_filename(outdir, "manifest.json", NULL);
		g_string_append(json, "{\"dir\":");
		ls_json_str(json, outdir);
		g_string_append(json, ",\"manifest\":");
		ls_json_str(json, manifest);
		g_string_append_printf(json, ",\"first_slot\":%lld,\"last_slot\":%lld,\"frames\":%lld}",
				       (long long)res.first_slot, (long long)res.last_slot, (long long)res.frames);
		g_free(manifest);
	}
	g_free(outdir);
	return rc;
}

static void *rec_new(struct ls_output_ctx *ctx, const void *group, char **err)
{
	const struct ls_config *cfg = ls_output_ctx_config(ctx);
	const struct ls_record_config *rc = group;
	struct rec_out *o = g_new0(struct rec_out, 1);
	o->cfg = cfg;
	o->rc = rc;
	o->ncams = cfg->ncams;
	o->period = ls_rate_period_ns(cfg->rate);
	g_mutex_init(&o->lock);
	g_cond_init(&o->cond);
	g_mutex_init(&o->pending_lock);
	o->pending = g_ptr_array_new_with_free_func(ls_rec_segment_free);
	char *why = NULL;
	if (ls_rec_index_open(rc->dir, &o->idx, &why) < 0) {
		*err = g_strdup_printf("dir=%s: %s", rc->dir, why);
		g_free(why);
		goto fail;
	}
	int fixed = ls_rec_recover(o->idx, rc->dir, cfg->rate, &why);
	if (fixed < 0) {
		*err = why;
		goto fail;
	}
	o->encoder_desc = encoder_desc(rc, rc->gop, err);
	if (!o->encoder_desc)
		goto fail;
	o->cams = g_new0(struct rec_cam, cfg->ncams);
	for (unsigned i = 0; i < cfg->ncams; i++) {
		struct rec_cam *c = &o->cams[i];
		c->o = o;
		c->idx = i;
		c->name = g_strdup(cfg->cams[i].name);
		c->last_pushed = INT64_MIN;
		c->last_written = INT64_MIN;
		c->copy_base = INT64_MIN;
		c->copy_prev_n = INT64_MIN;
		c->copy_last_pts = GST_CLOCK_TIME_NONE;
		atomic_init(&c->closed_through, INT64_MIN);
		c->offset_ns = cfg->cams[i].offset_ns;
		g_mutex_init(&c->meta_lock);
		for (unsigned k = 0; k < META_RING; k++)
			c->meta[k].n = INT64_MIN;
		c->dirpath = g_build_filename(rc->dir, c->name, NULL);
		if (mkdir(c->dirpath, 0755) < 0 && errno != EEXIST) {
			*err = g_strdup_printf("dir=%s: cannot create %s: %s", rc->dir, c->dirpath, g_strerror(errno));
			goto fail;
		}
		char *d = g_strdup_printf(
			"appsrc name=src format=time is-live=false block=true max-buffers=2 ! "
			"videoconvert ! %s ! h264parse ! "
			"video/x-h264,stream-format=byte-stream,alignment=au ! appsink name=sink sync=false",
			o->encoder_desc);
		GError *ge = NULL;
		c->enc = gst_parse_launch(d, &ge);
		g_free(d);
		if (!c->enc || ge) {
			*err = g_strdup_printf("encoder %s: %s", rc->encoder, ge ? ge->message : "cannot build");
			g_clear_error(&ge);
			goto fail;
		}
		c->src = GST_APP_SRC(gst_bin_get_by_name(GST_BIN(c->enc), "src"));
		c->sink = GST_APP_SINK(gst_bin_get_by_name(GST_BIN(c->enc), "sink"));
		GstAppSinkCallbacks cb = { .new_sample = on_encoded };
		gst_app_sink_set_callbacks(c->sink, &cb, c, NULL);
		GstBus *bus = gst_element_get_bus(c->enc);
		gst_bus_set_sync_handler(bus, on_encoder_message, c, NULL);
		gst_object_unref(bus);
	}
	/* copy = auto: a camera's own H.264 where it has one, never a
	 * redacted camera's (its stream holds what redaction hides) */
	for (unsigned i = 0; rc->copy && i < cfg->ncams; i++)
		if (!cfg->cams[i].redact)
			record_copy(o, ctx, i);
	if (cfg->detect && cfg->detect->clip_any) {
		o->clipper = ls_clipper_new(cfg, recorded_through, o, err);
		if (!o->clipper)
			goto fail;
		ls_clipper_set_events(o->clipper, ctx);
		ls_output_ctx_provide_clips(ctx, ls_clipper_event, o->clipper);
	}
	o->ctx = ctx;
	o->exports = g_build_filename(rc->dir, "exports", NULL);
	ls_output_ctx_provide_export(ctx, rec_export, o);
	return o;
fail:
	rec_free(o);
	return NULL;
}

static int rec_start(void *impl, struct ls_setq *q, char **err)
{
	struct rec_out *o = impl;
	o->q = q;
	for (unsigned i = 0; i < o->ncams; i++)
		if (gst_element_set_state(o->cams[i].enc, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
			*err = g_strdup_printf("cannot start the encoder of camera %s", o->cams[i].name);
			return -EIO;
		}
	o->thread = g_thread_new("record", rec_thread, o);
	o->retention = g_thread_new("retention", retention_thread, o);
	if (o->clipper)
		ls_clipper_start(o->clipper);
	return 0;
}

static void rec_finish(void *impl)
{
	struct rec_out *o = impl;
	for (unsigned i = 0; i < o->ncams; i++)
		if (atomic_load(&o->cams[i].failed)) /* the main loop has stopped: wake its push here */
			gst_element_set_state(o->cams[i].enc, GST_STATE_NULL);
	if (o->thread) {
		g_thread_join(o->thread);
		o->thread = NULL;
	}
	uint64_t segs = 0, frames = 0;
	for (unsigned i = 0; i < o->ncams; i++) {
		struct rec_cam *c = &o->cams[i];
		if (!c->enc)
			continue;
		if (atomic_load(&c->failed)) {
			gst_element_set_state(c->enc, GST_STATE_NULL);
			segment_close(c);
			continue;
		}
		/* drain the encoder: its callback writes the last frames */
		gst_app_src_end_of_stream(c->src);
		GstBus *bus = gst_element_get_bus(c->enc);
		GstMessage *m = gst_bus_timed_pop_filtered(bus, 10 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
		if (m && GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR) {
			GError *ge = NULL;
			gst_message_parse_error(m, &ge, NULL);
			g_printerr("record: camera %s: encoder: %s\n", c->name, ge ? ge->message : "error");
			g_clear_error(&ge);
		}
		if (m)
			gst_message_unref(m);
		gst_object_unref(bus);
		gst_element_set_state(c->enc, GST_STATE_NULL);
		segment_close(c);
		segs += c->segments;
		frames += c->frames;
	}
	if (o->retention) {
		g_mutex_lock(&o->lock);
		o->stop = true;
		g_cond_signal(&o->cond);
		g_mutex_unlock(&o->lock);
		g_thread_join(o->retention);
		o->retention = NULL;
	}
	g_printerr("record: wrote %llu frames in %llu segments to %s%s\n", (unsigned long long)frames,
		   (unsigned long long)segs, o->rc->dir, o->dropped_nospace ? " (some sets dropped: no space)" : "");
	/* the segments are closed: clips still waiting are cut now */
	ls_clipper_finish(o->clipper);
}

static void rec_free(void *impl)
{
	struct rec_out *o = impl;
	if (!o)
		return;
	for (unsigned i = 0; o->cams && i < o->ncams; i++) {
		struct rec_cam *c = &o->cams[i];
		if (c->enc) {
			gst_element_set_state(c->enc, GST_STATE_NULL);
			segment_close(c);
			gst_object_unref(c->src);
			gst_object_unref(c->sink);
			gst_object_unref(c->enc);
		}
		if (c->last)
			gst_buffer_unref(c->last);
		if (c->raw_caps)
			gst_caps_unref(c->raw_caps);
		if (c->seg_caps)
			gst_caps_unref(c->seg_caps);
		g_mutex_clear(&c->meta_lock);
		g_free(c->dirpath);
		g_free(c->name);
	}
	ls_clipper_free(&o->clipper);
	g_free(o->exports);
	g_free(o->cams);
	g_free(o->encoder_desc);
	g_ptr_array_unref(o->pending);
	g_mutex_clear(&o->pending_lock);
	ls_rec_index_close(&o->idx);
	g_mutex_clear(&o->lock);
	g_cond_clear(&o->cond);
	g_free(o);
}

/* --stats-json, on the rig's aligner thread: appends
 * ,"nospace":B,"cameras":{"NAME":{"bytes":N,"segments":S},...}: bytes
 * written to segment files and segments opened since the start (a segment
 * cut short by ENOSPC counts what reached the file). Atomics only. Camera
 * names need no escaping (config.c allows A-Z a-z 0-9 _ . - only). */
static void rec_stats_json(void *impl, GString *j)
{
	struct rec_out *o = impl;
	g_string_append_printf(j, ",\"nospace\":%s,\"cameras\":{", atomic_load(&o->nospace) ? "true" : "false");
	for (unsigned i = 0; i < o->ncams; i++) {
		struct rec_cam *c = &o->cams[i];
		g_string_append_printf(
			j, "%s\"%s\":{\"bytes\":%llu,\"segments\":%llu}", i ? "," : "", c->name,
			(unsigned long long)atomic_load_explicit(&c->stat_bytes, memory_order_relaxed),
			(unsigned long long)atomic_load_explicit(&c->stat_segments, memory_order_relaxed));
	}
	g_string_append_c(j, '}');
}

const struct ls_output_ops ls_record_out_ops = {
	.kind = "record",
	.create = rec_new,
	.frames_held = rec_frames_held,
	.start = rec_start,
	.finish = rec_finish,
	.free = rec_free,
	.stats_json = rec_stats_json,
};
