/* [output mosaic]: every frameset tiled into one picture (ls_mosaic), each
 * tile labelled with camera, slot and skew, encoded to a file and/or shown in
 * a window. Its thread composes into pooled GstBuffers (no allocation per
 * set) and pushes them into an appsrc that blocks when the encoder is
 * behind; the block backs up into this output's own ls_setq, which drops
 * the oldest sets. */
#include <errno.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <stdio.h>
#include <string.h>

#include "detections.h"
#include "ls_detect.h"
#include "ls_font.h"
#include "ls_mosaic.h"
#include "output.h"

struct mosaic_out {
	char *file;
	bool display;
	int w, h;
	struct ls_rate rate;
	struct ls_mosaic *mosaic;
	GstElement *pipeline, *appsrc;
	GstBufferPool *pool;
	struct ls_setq *q; /* not owned */
	GThread *thread;
	int64_t first_slot_ns;         /* PTS 0; output thread only */
	gint failed;                   /* atomic: the pipeline reported an error */
	uint64_t written;              /* output thread only */
	struct ls_detect_board *board; /* [detect] draw=on: the latest boxes to draw (owned), or NULL */
	struct ls_det *boxes;          /* scratch for the board's copy */
	int64_t *ids;                  /* and their track ids */
	unsigned max_boxes;
};

/* The detections service: [detect]'s results of each set, in slot order,
 * on its publishing thread; the board keeps each camera's latest. */
static void on_detections(void *user, const struct ls_detect_result *r)
{
	struct mosaic_out *m = user;
	ls_detect_board_put(m->board, r);
}

/* [detect] draw = on: subscribe, and keep the latest boxes to draw. */
static void want_detections(struct mosaic_out *m, struct ls_output_ctx *ctx, const struct ls_config *cfg)
{
	if (!cfg->detect || !cfg->detect->draw)
		return;
	m->board = ls_detect_board_new(cfg->ncams, cfg->detect->max_dets);
	m->max_boxes = cfg->detect->max_dets;
	m->boxes = g_new(struct ls_det, m->max_boxes);
	m->ids = g_new(int64_t, m->max_boxes);
	ls_output_ctx_subscribe_detections(ctx, on_detections, m);
}

/* The latest detections of each camera with a picture in @set, as yellow
 * boxes with the class name and track id ("person #12"); they may be a few slots older than the
 * picture (detection runs on its own threads). */
static void draw_detections(struct mosaic_out *m, const struct ls_frameset *set, uint8_t *pic)
{
	uint8_t *yp = pic, *up = pic + (size_t)m->w * m->h, *vp = up + (size_t)m->w * m->h / 4;
	for (unsigned c = 0; c < set->ncams; c++) {
		int x, y, w, h, sw, sh;
		if (!set->entries[c].frame || ls_mosaic_picture_rect(m->mosaic, c, &x, &y, &w, &h, &sw, &sh) < 0)
			continue;
		int n = ls_detect_board_get(m->board, c, m->boxes, m->ids, NULL);
		for (int i = 0; i < n; i++) {
			const struct ls_det *b = &m->boxes[i];
			ls_det_draw_box(yp, up, vp, m->w, m->w / 2, m->w, m->h, x, y, w, h, sw, sh, b, 2, 210, 16, 146);
			int lx = x + (int)(b->x1 * (float)w / (float)sw),
			    ly = y + (int)(b->y1 * (float)h / (float)sh) - 11;
			const char *name = ls_coco_name(b->cls);
			char label[48];
			if (name && m->ids[i] > 0)
				snprintf(label, sizeof label, "%s #%lld", name, (long long)m->ids[i]);
			else
				snprintf(label, sizeof label, "%s", name ? name : "");
			if (name && ly >= y)
				ls_font_draw_gray(yp, m->w, x + w, m->h, lx, ly, 1, label, 235, 16);
		}
	}
}

static void *mosaic_new(struct ls_output_ctx *ctx, const void *group, char **err)
{
	const struct ls_output_config *oc = group;
	const struct ls_config *cfg = ls_output_ctx_config(ctx);
	struct mosaic_out *m = g_new0(struct mosaic_out, 1);
	m->file = g_strdup(oc->file);
	m->display = oc->display;
	m->w = oc->width;
	m->h = oc->height;
	m->rate = cfg->rate;
	m->mosaic = ls_output_mosaic_new(cfg, m->w, m->h, err);
	if (!m->mosaic)
		goto fail;
	want_detections(m, ctx, cfg);
	if (m->file) {
		/* fail now, with the path, rather than from the muxer later */
		char *dir = g_path_get_dirname(m->file);
		if (g_mkdir_with_parents(dir, 0755) < 0) {
			*err = g_strdup_printf("file=%s: cannot create directory %s: %s", m->file, dir,
					       g_strerror(errno));
			g_free(dir);
			goto fail;
		}
		g_free(dir);
		FILE *probe = fopen(m->file, "wb");
		if (!probe) {
			*err = g_strdup_printf("file=%s: cannot write: %s", m->file, g_strerror(errno));
			goto fail;
		}
		fclose(probe);
	}
	GString *d = g_string_new(NULL);
	g_string_append_printf(d,
			       "appsrc name=src is-live=true format=time block=true max-buffers=2 "
			       "caps=video/x-raw,format=I420,width=%d,height=%d,framerate=%d/%d ! tee name=t",
			       m->w, m->h, cfg->rate.num, cfg->rate.den);
	if (m->file)
		ls_output_append_h264_file(d, m->file, cfg->rate);
	if (m->display)
		ls_output_append_display(d);
	GError *ge = NULL;
	m->pipeline = gst_parse_launch(d->str, &ge);
	g_string_free(d, TRUE);
	if (!m->pipeline || ge) {
		*err = g_strdup_printf("cannot build the mosaic pipeline: %s", ge ? ge->message : "?");
		g_clear_error(&ge);
		goto fail;
	}
	m->appsrc = gst_bin_get_by_name(GST_BIN(m->pipeline), "src");
	GstCaps *caps = gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "I420", "width", G_TYPE_INT, m->w,
					    "height", G_TYPE_INT, m->h, NULL);
	m->pool = gst_buffer_pool_new();
	GstStructure *pc = gst_buffer_pool_get_config(m->pool);
	gst_buffer_pool_config_set_params(pc, caps, (guint)(m->w * m->h * 3 / 2), 4, 16);
	gst_buffer_pool_set_config(m->pool, pc);
	gst_caps_unref(caps);
	if (!gst_buffer_pool_set_active(m->pool, TRUE)) {
		*err = g_strdup("cannot allocate the mosaic buffers");
		goto fail;
	}
	return m;
fail:
	ls_mosaic_out_ops.free(m);
	return NULL;
}

static gpointer mosaic_thread(gpointer data)
{
	struct mosaic_out *m = data;
	struct ls_frameset *set;
	int64_t period = ls_rate_period_ns(m->rate);
	while ((set = ls_setq_pop(m->q, INT64_MAX))) {
		if (g_atomic_int_get(&m->failed)) {
			ls_frameset_unref(&set);
			continue; /* keep draining so the aligner's sets come back */
		}
		GstBuffer *buf = NULL;
		if (gst_buffer_pool_acquire_buffer(m->pool, &buf, NULL) != GST_FLOW_OK) {
			ls_frameset_unref(&set);
			continue;
		}
		GstMapInfo map;
		if (gst_buffer_map(buf, &map, GST_MAP_WRITE)) {
			ls_mosaic_compose(m->mosaic, set, map.data);
			if (m->board)
				draw_detections(m, set, map.data);
			gst_buffer_unmap(buf, &map);
		}
		if (m->written == 0)
			m->first_slot_ns = set->slot_ns;
		GST_BUFFER_PTS(buf) = (GstClockTime)(set->slot_ns - m->first_slot_ns);
		GST_BUFFER_DURATION(buf) = (GstClockTime)period;
		ls_frameset_unref(&set);
		if (gst_app_src_push_buffer(GST_APP_SRC(m->appsrc), buf) != GST_FLOW_OK) /* takes buf */
			g_atomic_int_set(&m->failed, 1);
		m->written++;
	}
	return NULL;
}

static gboolean on_bus(GstBus *bus, GstMessage *msg, gpointer data)
{
	struct mosaic_out *m = data;
	(void)bus;
	if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR)
		ls_output_bus_error(msg, "output mosaic", m->file, &m->failed);
	return G_SOURCE_CONTINUE;
}

static int mosaic_start(void *impl, struct ls_setq *q, char **err)
{
	struct mosaic_out *m = impl;
	m->q = q;
	GstBus *bus = gst_element_get_bus(m->pipeline);
	gst_bus_add_watch(bus, on_bus, m);
	gst_object_unref(bus);
	if (gst_element_set_state(m->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
		/* the element's own words, where it posted them */
		GstBus *b = gst_element_get_bus(m->pipeline);
		GstMessage *em = gst_bus_pop_filtered(b, GST_MESSAGE_ERROR);
		GError *ge = NULL;
		if (em)
			gst_message_parse_error(em, &ge, NULL);
		*err = g_strdup_printf("cannot start the mosaic pipeline (no display for display=true?)%s%s",
				       ge ? ": " : "", ge ? ge->message : "");
		g_clear_error(&ge);
		if (em)
			gst_message_unref(em);
		gst_object_unref(b);
		return -EIO;
	}
	m->thread = g_thread_new("mosaic", mosaic_thread, m);
	return 0;
}

static void mosaic_finish(void *impl)
{
	struct mosaic_out *m = impl;
	if (m->thread) {
		g_thread_join(m->thread); /* the queue is closed: it drains and returns */
		m->thread = NULL;
	}
	if (!m->pipeline)
		return;
	if (ls_output_finish(m->pipeline, m->appsrc, 10, "output mosaic", m->file) && m->file)
		g_printerr("output mosaic: wrote %llu frames to %s\n", (unsigned long long)m->written, m->file);
}

static void mosaic_free(void *impl)
{
	struct mosaic_out *m = impl;
	if (!m)
		return;
	ls_output_release(&m->pipeline);
	if (m->pool) {
		gst_buffer_pool_set_active(m->pool, FALSE);
		gst_object_unref(m->pool);
	}
	if (m->appsrc)
		gst_object_unref(m->appsrc);
	ls_mosaic_free(&m->mosaic);
	ls_detect_board_free(&m->board);
	g_free(m->boxes);
	g_free(m->ids);
	g_free(m->file);
	g_free(m);
}

const struct ls_output_ops ls_mosaic_out_ops = {
	.kind = "mosaic",
	.create = mosaic_new,
	.start = mosaic_start,
	.finish = mosaic_finish,
	.free = mosaic_free,
};
