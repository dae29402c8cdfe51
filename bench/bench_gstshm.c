/* bench-gstshm — the same framesets through GStreamer's shmsink/shmsrc, under
 * the shm_bench harness.
 *
 * Writer: appsrc ! shmsink socket-path=/tmp/NAME.sock shm-size=DEPTH sets.
 * One GstBuffer per set, the cameras' frames back to back (12,441,600 bytes
 * for 4 x 1920x1080 I420). shmsink/shmsrc know nothing of sets: with one
 * buffer per camera the reader would need 4 socket messages and 4 wake-ups
 * per set and would wait for the last one, so one buffer per set is
 * shmsink's best case.
 *   --alloc sys (default): buffers from a GstBufferPool of system memory,
 *     the way an application pushes frames it made elsewhere; shmsink's
 *     render copies each into its shared area (one 12.4 MB memcpy per set).
 *   --alloc shm: buffers from shmsink's own allocator (found with an
 *     ALLOCATION query), which shmsink sends without copying: its zero-copy
 *     best case. When the area is full that allocator silently falls back to
 *     system memory (and shmsink would copy); the writer then frees the
 *     buffer, waits 100 µs and retries (counted: area_full_waits=).
 * The publish CLOCK_MONOTONIC goes into the buffer's first 8 bytes right
 * before gst_app_src_push_buffer().
 *
 * Reader: shmsrc socket-path=... is-live=true ! appsink sync=false. The
 * wake-up time is taken first thing in appsink's new-sample callback, on
 * shmsrc's streaming thread: the earliest the application can see a buffer
 * (pulling from another thread would add a thread hop). shmsrc maps the
 * writer's area and wraps it: no copy on the reader side.
 *
 * usage: bench-gstshm [harness options, see shm_bench.h] [--alloc sys|shm] */
#include <errno.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shm_bench.h"

#define CAPS "application/x-lockstep-set"
#define AREA_SLACK (64 * 1024) /* bytes per set for shmsink's block headers and alignment */

static void socket_path(const struct sb_opts *o, char *buf, size_t len) { snprintf(buf, len, "/tmp/%s.sock", o->name); }

/* Returns the bus's first error as text (for @err), or a fallback. */
static void bus_error(GstElement *pipe, const char *what, char *err, size_t len)
{
	GstBus *bus = gst_element_get_bus(pipe);
	GstMessage *m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
	GError *e = NULL;
	if (m)
		gst_message_parse_error(m, &e, NULL);
	snprintf(err, len, "%s: %s", what, e ? e->message : "state change failed");
	g_clear_error(&e);
	if (m)
		gst_message_unref(m);
	gst_object_unref(bus);
}

/* ---- writer ------------------------------------------------------------------ */

struct gs_writer {
	const struct sb_opts *o;
	struct sb_geom g;
	GstElement *pipe;
	GstAppSrc *src;
	GstBufferPool *pool; /* --alloc sys */
	GstAllocator *shm;   /* --alloc shm: shmsink's allocator */
	GstAllocationParams params;
	uint64_t waits; /* --alloc shm: area full, retried */
	char sock[128];
};

static void gs_writer_free(struct gs_writer *gw)
{
	if (gw->pipe) {
		gst_element_set_state(gw->pipe, GST_STATE_NULL);
		gst_object_unref(gw->pipe);
	}
	if (gw->src)
		gst_object_unref(gw->src);
	if (gw->pool) {
		gst_buffer_pool_set_active(gw->pool, FALSE);
		gst_object_unref(gw->pool);
	}
	if (gw->shm)
		gst_object_unref(gw->shm);
	unlink(gw->sock);
	g_free(gw);
}

/* A pool of DEPTH system-memory buffers, each touched once now so that no
 * page fault lands in the measurement. */
static int make_pool(struct gs_writer *gw, GstCaps *caps, char *err, size_t len)
{
	unsigned n = gw->o->depth;
	gw->pool = gst_buffer_pool_new();
	GstStructure *cfg = gst_buffer_pool_get_config(gw->pool);
	gst_buffer_pool_config_set_params(cfg, caps, (guint)gw->g.set_bytes, n, n);
	if (!gst_buffer_pool_set_config(gw->pool, cfg) || !gst_buffer_pool_set_active(gw->pool, TRUE)) {
		snprintf(err, len, "buffer pool: cannot configure %u x %zu bytes", n, gw->g.set_bytes);
		return -ENOMEM;
	}
	GstBuffer *bufs[64] = { NULL };
	for (unsigned i = 0; i < n && i < 64; i++) {
		GstMapInfo map;
		if (gst_buffer_pool_acquire_buffer(gw->pool, &bufs[i], NULL) != GST_FLOW_OK)
			break;
		if (gst_buffer_map(bufs[i], &map, GST_MAP_WRITE)) {
			memset(map.data, 0, map.size);
			gst_buffer_unmap(bufs[i], &map);
		}
	}
	for (unsigned i = 0; i < n && i < 64; i++)
		if (bufs[i])
			gst_buffer_unref(bufs[i]); /* back to the pool */
	return 0;
}

/* shmsink's allocator, as it proposes it to upstream. */
static int find_shm_allocator(struct gs_writer *gw, GstCaps *caps, char *err, size_t len)
{
	GstPad *pad = gst_element_get_static_pad(GST_ELEMENT(gw->src), "src");
	GstQuery *q = gst_query_new_allocation(caps, TRUE);
	int rc = 0;
	if (gst_pad_peer_query(pad, q) && gst_query_get_n_allocation_params(q) > 0)
		gst_query_parse_nth_allocation_param(q, 0, &gw->shm, &gw->params);
	if (!gw->shm) {
		snprintf(err, len, "shmsink proposed no allocator");
		rc = -ENOTSUP;
	}
	gst_query_unref(q);
	gst_object_unref(pad);
	return rc;
}

static int gs_writer_open(const struct sb_opts *o, void **out, char *err, size_t len)
{
	gst_init(NULL, NULL);
	struct gs_writer *gw = g_new0(struct gs_writer, 1);
	gw->o = o;
	sb_geom_get(o, &gw->g);
	socket_path(o, gw->sock, sizeof gw->sock);
	unlink(gw->sock);
	guint area = (guint)(o->depth * (gw->g.set_bytes + AREA_SLACK));
	char *desc = g_strdup_printf("appsrc name=src is-live=true format=time block=true max-buffers=1 max-bytes=0 "
				     "caps=" CAPS " ! shmsink socket-path=%s shm-size=%u wait-for-connection=true "
				     "sync=false async=false",
				     gw->sock, area);
	GError *e = NULL;
	gw->pipe = gst_parse_launch(desc, &e);
	g_free(desc);
	int rc = -EINVAL;
	if (!gw->pipe) {
		snprintf(err, len, "pipeline: %s", e ? e->message : "cannot build");
		g_clear_error(&e);
		goto fail;
	}
	gw->src = GST_APP_SRC(gst_bin_get_by_name(GST_BIN(gw->pipe), "src"));
	if (gst_element_set_state(gw->pipe, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
		bus_error(gw->pipe, "writer pipeline", err, len);
		rc = -EIO;
		goto fail;
	}
	GstCaps *caps = gst_caps_from_string(CAPS);
	rc = o->shm_alloc ? find_shm_allocator(gw, caps, err, len) : make_pool(gw, caps, err, len);
	gst_caps_unref(caps);
	if (rc < 0)
		goto fail;
	*out = gw;
	return 0;
fail:
	gs_writer_free(gw);
	return rc;
}

static GstBuffer *shm_buffer(struct gs_writer *gw)
{
	for (;;) {
		GstMemory *mem = gst_allocator_alloc(gw->shm, gw->g.set_bytes, &gw->params);
		if (mem && mem->allocator == gw->shm) {
			GstBuffer *b = gst_buffer_new();
			gst_buffer_append_memory(b, mem);
			return b;
		}
		if (mem)
			gst_memory_unref(mem); /* the fallback: shmsink would copy it */
		gw->waits++;
		g_usleep(100);
	}
}

static int gs_writer_publish(void *wp, uint64_t set)
{
	struct gs_writer *gw = wp;
	GstBuffer *buf = NULL;
	if (gw->shm)
		buf = shm_buffer(gw);
	else if (gst_buffer_pool_acquire_buffer(gw->pool, &buf, NULL) != GST_FLOW_OK)
		return -EIO;
	GstMapInfo map;
	if (!gst_buffer_map(buf, &map, GST_MAP_WRITE)) {
		gst_buffer_unref(buf);
		return -EIO;
	}
	const struct sb_geom *g = &gw->g;
	for (unsigned c = 0; c < gw->o->cams; c++)
		for (int p = 0; p < SB_PLANES; p++)
			sb_render_plane(gw->o, map.data + c * g->frame_bytes + g->offset[p], g->width[p], g->width[p],
					g->rows[p], set);
	sb_put_u64(map.data, (uint64_t)sb_now_ns());
	gst_buffer_unmap(buf, &map);
	return gst_app_src_push_buffer(gw->src, buf) == GST_FLOW_OK ? 0 : -EPIPE; /* takes buf */
}

static void gs_writer_close(void **wp, char *note, size_t len)
{
	struct gs_writer *gw = *wp;
	if (!gw)
		return;
	gst_app_src_end_of_stream(gw->src);
	GstBus *bus = gst_element_get_bus(gw->pipe);
	GstMessage *m = gst_bus_timed_pop_filtered(bus, 2 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
	if (m)
		gst_message_unref(m);
	gst_object_unref(bus);
	if (gw->shm)
		snprintf(note, len, "alloc=shm writer_copies_per_set=0 area_full_waits=%llu",
			 (unsigned long long)gw->waits);
	else
		snprintf(note, len, "alloc=sys writer_copies_per_set=1");
	gs_writer_free(gw);
	*wp = NULL;
}

/* ---- reader ------------------------------------------------------------------ */

struct gs_reader {
	const struct sb_opts *o;
	struct sb_geom g;
	struct sb_reader *rd;
	uint64_t odd_sizes; /* buffers that are not one set: never expected */
};

/* appsink's new-sample callback, on shmsrc's streaming thread. */
static GstFlowReturn gs_on_sample(GstAppSink *sink, gpointer data)
{
	int64_t wake = sb_now_ns();
	struct gs_reader *gr = data;
	GstSample *s = gst_app_sink_pull_sample(sink);
	if (!s)
		return GST_FLOW_EOS;
	GstBuffer *b = gst_sample_get_buffer(s);
	GstMapInfo map;
	if (b && gst_buffer_map(b, &map, GST_MAP_READ)) {
		if (map.size == gr->g.set_bytes) {
			uint64_t set = sb_get_u64(map.data + 8);
			bool match = true;
			for (unsigned c = 0; c < gr->o->cams; c++)
				for (int p = 0; p < SB_PLANES; p++)
					match = match &&
						sb_plane_is(map.data + c * gr->g.frame_bytes + gr->g.offset[p], set);
			sb_reader_record(gr->rd, set, (int64_t)sb_get_u64(map.data), wake, match ? SB_INTACT : SB_BAD);
		} else {
			gr->odd_sizes++;
		}
		gst_buffer_unmap(b, &map);
	}
	gst_sample_unref(s); /* shmsrc tells the writer the block is free */
	return GST_FLOW_OK;
}

static int gs_reader_run(const struct sb_opts *o, struct sb_reader *rd, char *err, size_t len)
{
	gst_init(NULL, NULL);
	struct gs_reader gr = { .o = o, .rd = rd };
	sb_geom_get(o, &gr.g);
	char sock[128];
	socket_path(o, sock, sizeof sock);
	char *desc = g_strdup_printf("shmsrc name=src socket-path=%s is-live=true ! appsink name=sink caps=" CAPS
				     " sync=false max-buffers=%u drop=false emit-signals=false",
				     sock, o->depth);
	GError *e = NULL;
	GstElement *pipe = gst_parse_launch(desc, &e);
	g_free(desc);
	if (!pipe) {
		snprintf(err, len, "reader pipeline: %s", e ? e->message : "cannot build");
		g_clear_error(&e);
		return -EINVAL;
	}
	GstElement *sink = gst_bin_get_by_name(GST_BIN(pipe), "sink");
	GstAppSinkCallbacks cb = { .new_sample = gs_on_sample };
	gst_app_sink_set_callbacks(GST_APP_SINK(sink), &cb, &gr, NULL);
	gst_object_unref(sink);
	int rc = 0;
	if (gst_element_set_state(pipe, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
		bus_error(pipe, "reader pipeline", err, len);
		rc = -EIO;
		goto out;
	}
	sb_reader_ready(rd);
	GstBus *bus = gst_element_get_bus(pipe);
	char end[96] = "none";
	while (!sb_reader_done(rd)) {
		GstMessage *m = gst_bus_timed_pop_filtered(bus, 50 * GST_MSECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
		if (!m)
			continue;
		/* the writer closing its socket ends shmsrc with an error: the usual end */
		if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR) {
			GError *ge = NULL;
			gst_message_parse_error(m, &ge, NULL);
			snprintf(end, sizeof end, "%s", ge ? ge->message : "error");
			g_clear_error(&ge);
		} else {
			snprintf(end, sizeof end, "eos");
		}
		gst_message_unref(m);
		break;
	}
	gst_object_unref(bus);
	for (char *p = end; *p; p++)
		if (*p == ' ' || *p == '=')
			*p = '_';
	sb_reader_note(rd, "reader_copies_per_set=0 odd_buffers=%llu reader_end=%s", (unsigned long long)gr.odd_sizes,
		       end);
out:
	gst_element_set_state(pipe, GST_STATE_NULL); /* joins the streaming thread */
	gst_object_unref(pipe);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct sb_method gstshm = {
		.name = "gst-shm",
		.writer_open = gs_writer_open,
		.writer_publish = gs_writer_publish,
		.writer_close = gs_writer_close,
		.reader_run = gs_reader_run,
	};
	return sb_main(argc, argv, &gstshm);
}
