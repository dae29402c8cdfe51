/* [output file]: one camera's frames at their own size, with nothing drawn
 * on them, to a video file (.mp4/.mkv/.ts, H.264; .y4m, raw and lossless),
 * a PNG sequence (a file name with a printf-style %d, e.g. out/%05d.png),
 * and/or a window. This is what `lockstep redact` writes.
 *
 * The pipeline is built when the first frame arrives, because its size is
 * known only then. Files get a sidecar, FILE.frames.jsonl (for a PNG
 * sequence frames.jsonl in its directory): one line per frame written,
 * {"index":k,"slot":n,"capture_ns":t,"stream_ns":pts}, so each picture can
 * be matched to the slot and to the input frame (a file's PTS) it shows.
 * Sets where the camera is missing write nothing. */
#include <errno.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <stdio.h>
#include <string.h>

#include "output.h"

struct file_out {
	char *file; /* video file or PNG pattern, or NULL */
	bool png, display;
	unsigned cam;
	char *cam_name;
	struct ls_rate rate;
	GstElement *pipeline, *appsrc;
	FILE *sidecar;
	int w, h;       /* the file's size: the first frame's */
	int in_w, in_h; /* the size frames now come at (output thread) */
	struct ls_setq *q;
	GThread *thread;
	gint failed;
	uint64_t written;
	int64_t first_slot_ns;
};

static void *file_new(struct ls_output_ctx *ctx, const void *group, char **err)
{
	const struct ls_output_config *oc = group;
	const struct ls_config *cfg = ls_output_ctx_config(ctx);
	struct file_out *m = g_new0(struct file_out, 1);
	m->file = g_strdup(oc->file);
	m->display = oc->display;
	m->rate = cfg->rate;
	m->cam = cfg->ncams;
	for (unsigned c = 0; c < cfg->ncams; c++)
		if (strcmp(cfg->cams[c].name, oc->camera) == 0)
			m->cam = c;
	if (m->cam == cfg->ncams) {
		*err = g_strdup_printf("%s:%d: [output file] camera: no enabled camera \"%s\"", cfg->path, oc->line,
				       oc->camera);
		goto fail;
	}
	m->cam_name = g_strdup(oc->camera);
	if (m->file) {
		m->png = g_str_has_suffix(m->file, ".png");
		char *dir = g_path_get_dirname(m->file);
		if (g_mkdir_with_parents(dir, 0755) < 0) {
			*err = g_strdup_printf("file=%s: cannot create directory %s: %s", m->file, dir,
					       g_strerror(errno));
			g_free(dir);
			goto fail;
		}
		char *side = m->png ? g_build_filename(dir, "frames.jsonl", NULL)
				    : g_strconcat(m->file, ".frames.jsonl", NULL);
		g_free(dir);
		FILE *probe = m->png ? NULL : fopen(m->file, "wb");
		if (!m->png && !probe) {
			*err = g_strdup_printf("file=%s: cannot write: %s", m->file, g_strerror(errno));
			g_free(side);
			goto fail;
		}
		if (probe)
			fclose(probe);
		m->sidecar = fopen(side, "w");
		if (!m->sidecar) {
			*err = g_strdup_printf("file=%s: cannot write %s: %s", m->file, side, g_strerror(errno));
			g_free(side);
			goto fail;
		}
		g_free(side);
	}
	return m;
fail:
	ls_file_out_ops.free(m);
	return NULL;
}

static gboolean on_bus(GstBus *bus, GstMessage *msg, gpointer data)
{
	struct file_out *m = data;
	(void)bus;
	if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR)
		ls_output_bus_error(msg, "output file", m->file, &m->failed);
	return G_SOURCE_CONTINUE;
}

/* Output thread: the first frame fixes the size. A camera that comes back
 * at another size is scaled to it (videoscale passes frames of the first
 * size through untouched; borders keep the picture's aspect). */
static bool build(struct file_out *m, int w, int h)
{
	GString *d = g_string_new(NULL);
	g_string_append_printf(
		d,
		"appsrc name=src is-live=true format=time block=true max-buffers=4 "
		"caps=video/x-raw,format=I420,width=%d,height=%d,framerate=%d/%d,pixel-aspect-ratio=1/1 ! "
		"videoscale add-borders=true ! video/x-raw,width=%d,height=%d,pixel-aspect-ratio=1/1 ! tee name=t",
		w, h, m->rate.num, m->rate.den, w, h);
	if (m->file) {
		char *loc = g_strescape(m->file, NULL);
		if (m->png)
			g_string_append_printf(
				d,
				" t. ! queue max-size-buffers=8 ! videoconvert ! pngenc compression-level=1 ! "
				"multifilesink location=\"%s\"",
				loc);
		else if (g_str_has_suffix(m->file, ".y4m")) /* raw, lossless, cheap */
			g_string_append_printf(d, " t. ! queue max-size-buffers=8 ! y4menc ! filesink location=\"%s\"",
					       loc);
		else
			ls_output_append_h264_file(d, m->file, m->rate);
		g_free(loc);
	}
	if (m->display)
		ls_output_append_display(d);
	GError *ge = NULL;
	m->pipeline = gst_parse_launch(d->str, &ge);
	g_string_free(d, TRUE);
	if (!m->pipeline || ge) {
		g_printerr("output file: cannot build the pipeline: %s\n", ge ? ge->message : "?");
		g_clear_error(&ge);
		return false;
	}
	m->appsrc = gst_bin_get_by_name(GST_BIN(m->pipeline), "src");
	GstBus *bus = gst_element_get_bus(m->pipeline);
	gst_bus_add_watch(bus, on_bus, m);
	gst_object_unref(bus);
	if (gst_element_set_state(m->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
		g_printerr("output file: cannot start the pipeline (no display for display=true?)\n");
		return false;
	}
	m->w = m->in_w = w;
	m->h = m->in_h = h;
	return true;
}

static gpointer file_thread(gpointer data)
{
	struct file_out *m = data;
	struct ls_frameset *set;
	int64_t period = ls_rate_period_ns(m->rate);
	while ((set = ls_setq_pop(m->q, INT64_MAX))) {
		struct ls_frame *f = set->entries[m->cam].frame;
		if (g_atomic_int_get(&m->failed) || !f || set->entries[m->cam].state != LS_ENTRY_PRESENT ||
		    f->format != LS_FMT_I420) {
			ls_frameset_unref(&set);
			continue;
		}
		if (!m->pipeline && !build(m, f->width, f->height)) {
			g_atomic_int_set(&m->failed, 1);
			ls_frameset_unref(&set);
			continue;
		}
		if (f->width != m->in_w || f->height != m->in_h) {
			/* the camera changed size (it came back with another
			 * stream): the file keeps its first size, scaled to it */
			GstCaps *caps = gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "I420", "width",
							    G_TYPE_INT, f->width, "height", G_TYPE_INT, f->height,
							    "framerate", GST_TYPE_FRACTION, m->rate.num, m->rate.den,
							    "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, NULL);
			gst_app_src_set_caps(GST_APP_SRC(m->appsrc), caps);
			gst_caps_unref(caps);
			g_printerr("output file: %s: its camera is now %dx%d; %s\n", m->file ? m->file : "display",
				   f->width, f->height,
				   f->width == m->w && f->height == m->h ? "back to the file's size"
									 : "scaled to the file's size");
			m->in_w = f->width;
			m->in_h = f->height;
		}
		GstBuffer *buf = ls_output_frame_buffer(f);
		if (m->written == 0)
			m->first_slot_ns = set->slot_ns;
		GST_BUFFER_PTS(buf) = (GstClockTime)(set->slot_ns - m->first_slot_ns);
		GST_BUFFER_DURATION(buf) = (GstClockTime)period;
		if (m->sidecar) {
			fprintf(m->sidecar, "{\"index\":%llu,\"slot\":%lld,\"capture_ns\":%lld,\"stream_ns\":%lld}\n",
				(unsigned long long)m->written, (long long)set->n, (long long)f->capture_ns,
				(long long)f->stream_ns);
			fflush(m->sidecar);
		}
		ls_frameset_unref(&set);
		if (gst_app_src_push_buffer(GST_APP_SRC(m->appsrc), buf) != GST_FLOW_OK)
			g_atomic_int_set(&m->failed, 1);
		m->written++;
	}
	return NULL;
}

static int file_start(void *impl, struct ls_setq *q, char **err)
{
	struct file_out *m = impl;
	(void)err;
	m->q = q;
	m->thread = g_thread_new("output-file", file_thread, m);
	return 0;
}

static void file_finish(void *impl)
{
	struct file_out *m = impl;
	if (m->thread) {
		g_thread_join(m->thread);
		m->thread = NULL;
	}
	if (!m->pipeline)
		return;
	if (ls_output_finish(m->pipeline, m->appsrc, 30, "output file", m->file) && m->file)
		g_printerr("output file: wrote %llu frames of camera %s to %s\n", (unsigned long long)m->written,
			   m->cam_name, m->file);
}

static void file_free(void *impl)
{
	struct file_out *m = impl;
	if (!m)
		return;
	ls_output_release(&m->pipeline);
	if (m->appsrc)
		gst_object_unref(m->appsrc);
	if (m->sidecar)
		fclose(m->sidecar);
	g_free(m->file);
	g_free(m->cam_name);
	g_free(m);
}

const struct ls_output_ops ls_file_out_ops = {
	.kind = "file",
	.create = file_new,
	.start = file_start,
	.finish = file_finish,
	.free = file_free,
};
