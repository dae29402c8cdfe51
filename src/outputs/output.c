/* output.c — what the GStreamer-backed outputs (mosaic, file) share. */
#include "output.h"

#include <gst/app/gstappsrc.h>
#include <string.h>

#include "ls_mosaic.h"
#include "x11_guard.h"

const char *ls_output_muxer(const char *file)
{
	if (g_str_has_suffix(file, ".mkv"))
		return "matroskamux";
	if (g_str_has_suffix(file, ".ts"))
		return "mpegtsmux";
	/* fragmented MP4: a crash loses at most the last second */
	return "mp4mux fragment-duration=1000";
}

void ls_output_bus_error(GstMessage *msg, const char *what, const char *file, gint *failed)
{
	GError *e = NULL;
	gst_message_parse_error(msg, &e, NULL);
	g_printerr("%s: %s%s%s; the output stops, the rig goes on\n", what, e ? e->message : "error",
		   file ? " writing " : "", file ? file : "");
	g_clear_error(&e);
	g_atomic_int_set(failed, 1);
}

bool ls_output_finish(GstElement *pipeline, GstElement *appsrc, int timeout_s, const char *what, const char *file)
{
	/* EOS makes the muxer write its index: the file is complete and playable */
	gst_app_src_end_of_stream(GST_APP_SRC(appsrc));
	GstBus *bus = gst_element_get_bus(pipeline);
	GstMessage *msg = gst_bus_timed_pop_filtered(bus, (GstClockTime)timeout_s * GST_SECOND,
						     GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
	bool eos = msg && GST_MESSAGE_TYPE(msg) == GST_MESSAGE_EOS;
	if (!msg && !ls_x11_lost_any())
		g_printerr("%s: the encoder did not finish within %d s; %s may be truncated\n", what, timeout_s,
			   file ? file : "the output");
	if (msg)
		gst_message_unref(msg);
	gst_object_unref(bus);
	if (!eos && ls_x11_lost_any()) {
		/* a window whose X server went away: its sink thread is parked
		 * for good (x11_guard.h), so the EOS never reaches it, and NULL
		 * would wait for it forever. The file branch had its EOS. The
		 * pipeline stays as it is, and is never disposed. */
		g_printerr("%s: its window's X server was lost, so the window never finished; %s%s\n", what,
			   file ? "the file had its end: " : "the pipeline is left as it is", file ? file : "");
		gst_object_ref(pipeline);
		g_object_set_data(G_OBJECT(pipeline), "ls-abandoned", GINT_TO_POINTER(1));
		return false;
	}
	gst_element_set_state(pipeline, GST_STATE_NULL);
	return eos;
}

bool ls_output_abandoned(GstElement *pipeline)
{
	return pipeline && g_object_get_data(G_OBJECT(pipeline), "ls-abandoned");
}

void ls_output_release(GstElement **pipeline)
{
	GstElement *p = *pipeline;
	if (!p)
		return;
	*pipeline = NULL;
	GstBus *bus = gst_element_get_bus(p);
	gst_bus_remove_watch(bus); /* its messages must not reach a freed output */
	gst_object_unref(bus);
	if (ls_output_abandoned(p))
		return; /* left running: a thread of it is parked (x11_guard.h) */
	gst_element_set_state(p, GST_STATE_NULL);
	gst_object_unref(p);
}

void ls_output_append_h264_file(GString *d, const char *file, struct ls_rate rate)
{
	char *loc = g_strescape(file, NULL);
	g_string_append_printf(d,
			       " t. ! queue max-size-buffers=4 ! x264enc speed-preset=ultrafast tune=zerolatency "
			       "key-int-max=%d ! h264parse ! %s ! filesink location=\"%s\"",
			       (rate.num + rate.den - 1) / rate.den, ls_output_muxer(file), loc);
	g_free(loc);
}

void ls_output_append_display(GString *d)
{
	g_string_append(d, " t. ! queue max-size-buffers=2 leaky=downstream ! videoconvert ! autovideosink sync=false");
}

static void free_frame(gpointer data)
{
	struct ls_frame *f = data;
	ls_frame_unref(&f);
}

GstCaps *ls_output_i420_caps(int w, int h, struct ls_rate rate)
{
	return gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "I420", "width", G_TYPE_INT, w, "height",
				   G_TYPE_INT, h, "framerate", GST_TYPE_FRACTION, rate.num, rate.den,
				   "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, NULL);
}

void ls_output_loop_init(struct ls_output_loop *l) { l->ctx = g_main_context_new(); }

static gpointer loop_thread(gpointer data)
{
	struct ls_output_loop *l = data;
	g_main_context_push_thread_default(l->ctx);
	g_main_loop_run(l->loop);
	g_main_context_pop_thread_default(l->ctx);
	return NULL;
}

void ls_output_loop_run(struct ls_output_loop *l, const char *name)
{
	l->loop = g_main_loop_new(l->ctx, FALSE);
	l->thread = g_thread_new(name, loop_thread, l);
}

void ls_output_loop_stop(struct ls_output_loop *l)
{
	if (!l->thread)
		return;
	g_main_loop_quit(l->loop);
	g_thread_join(l->thread);
	l->thread = NULL;
}

void ls_output_loop_clear(struct ls_output_loop *l)
{
	ls_output_loop_stop(l);
	if (l->loop)
		g_main_loop_unref(l->loop);
	if (l->ctx)
		g_main_context_unref(l->ctx);
	l->loop = NULL;
	l->ctx = NULL;
}

struct ls_mosaic *ls_output_mosaic_new(const struct ls_config *cfg, int w, int h, char **err)
{
	const char **names = g_new0(const char *, cfg->ncams + 1);
	for (unsigned c = 0; c < cfg->ncams; c++)
		names[c] = cfg->cams[c].name;
	struct ls_mosaic *m = ls_mosaic_new(w, h, cfg->ncams, names);
	g_free(names);
	if (!m)
		*err = g_strdup_printf("cannot lay out %u cameras in %dx%d", cfg->ncams, w, h);
	return m;
}

GstBuffer *ls_output_frame_buffer(struct ls_frame *f)
{
	size_t ysz = (size_t)f->strides[0] * (size_t)f->height;
	if (f->strides[0] == f->width && f->strides[1] == f->width / 2 && f->planes[1] == f->planes[0] + ysz &&
	    f->planes[2] == f->planes[1] + ysz / 4)
		return gst_buffer_new_wrapped_full(GST_MEMORY_FLAG_READONLY, f->planes[0], ysz * 3 / 2, 0, ysz * 3 / 2,
						   ls_frame_ref(f), free_frame);
	GstBuffer *buf = gst_buffer_new_allocate(NULL, (size_t)f->width * (size_t)f->height * 3 / 2, NULL);
	GstMapInfo map;
	gst_buffer_map(buf, &map, GST_MAP_WRITE);
	uint8_t *o = map.data;
	for (int p = 0; p < 3; p++) {
		int pw = p ? f->width / 2 : f->width, ph = p ? f->height / 2 : f->height;
		for (int y = 0; y < ph; y++, o += pw)
			memcpy(o, f->planes[p] + (size_t)y * (size_t)f->strides[p], (size_t)pw);
	}
	gst_buffer_unmap(buf, &map);
	return buf;
}
