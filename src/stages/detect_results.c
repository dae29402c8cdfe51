/* detect_results — see detect.h: a detector's result buffers, a result as
 * one JSON line, class names, and what a detector tells about its model
 * (provider, input size). Built with and without ONNX Runtime. */
#include "detector_private.h"
#include "values.h"

#include <stdio.h>

#include <glib.h>

/* ---- results ---------------------------------------------------------- */

struct ls_detect_result *ls_detect_result_new(const struct ls_detector *d)
{
	struct ls_detect_result *r = g_new0(struct ls_detect_result, 1);
	r->ncams = d->ncams;
	r->max_dets = d->dc.max_dets;
	r->ran = g_new0(bool, d->ncams);
	r->capture_ns = g_new0(int64_t, d->ncams);
	r->count = g_new0(int, d->ncams);
	r->track_id = g_new(int64_t, (size_t)d->ncams * d->dc.max_dets);
	r->dets = g_new0(struct ls_det, (size_t)d->ncams * d->dc.max_dets);
	return r;
}

void ls_detect_result_free(struct ls_detect_result **pr)
{
	struct ls_detect_result *r = pr ? *pr : NULL;
	if (!r)
		return;
	g_free(r->ran);
	g_free(r->capture_ns);
	g_free(r->count);
	g_free(r->track_id);
	g_free(r->dets);
	g_free(r);
	*pr = NULL;
}

const char *ls_detector_class_name(const struct ls_detector *d, int cls)
{
	if (d->format == LS_DETECT_DBNET)
		return "text";
	static _Thread_local char buf[24];
	if (d->ncls == LS_COCO_CLASSES && ls_coco_name(cls))
		return ls_coco_name(cls);
	snprintf(buf, sizeof buf, "class%d", cls);
	return buf;
}

void ls_detect_result_json(const struct ls_detector *d, const struct ls_detect_result *r, const char *const *names,
			   GString *out)
{
	g_string_append_printf(out, "{\"n\":%" G_GINT64_FORMAT ",\"slot_ns\":%" G_GINT64_FORMAT ",\"cameras\":[", r->n,
			       r->slot_ns);
	bool first = true;
	for (unsigned c = 0; c < r->ncams; c++) {
		bool gated = r->gated && r->gated[c];
		if (!r->ran[c] && !gated)
			continue;
		g_string_append(out, first ? "{\"camera\":" : ",{\"camera\":");
		first = false;
		ls_json_str(out, names && names[c] ? names[c] : "?");
		g_string_append_printf(out, ",\"capture_ns\":%" G_GINT64_FORMAT, r->capture_ns[c]);
		if (r->motion) {
			const struct ls_motion_result *m = &r->motion[c];
			g_string_append_printf(out, ",\"gated\":%s,\"motion\":{\"on\":%s,\"score\":%.4f,\"boxes\":[",
					       gated ? "true" : "false", m->motion ? "true" : "false",
					       (double)m->score);
			for (int i = 0; i < m->nboxes; i++)
				g_string_append_printf(out, "%s[%d,%d,%d,%d]", i ? "," : "", m->boxes[i].x,
						       m->boxes[i].y, m->boxes[i].x + m->boxes[i].w,
						       m->boxes[i].y + m->boxes[i].h);
			g_string_append(out, "]}");
		}
		g_string_append(out, ",\"detections\":[");
		const struct ls_det *dt = r->dets + (size_t)c * r->max_dets;
		for (int i = 0; i < r->count[c]; i++) {
			int64_t tid = r->track_id[(size_t)c * r->max_dets + i];
			g_string_append(out, i ? ",{\"class\":" : "{\"class\":");
			ls_json_str(out, ls_detector_class_name(d, dt[i].cls));
			g_string_append_printf(out, ",\"score\":%.3f,\"box\":[%.1f,%.1f,%.1f,%.1f]",
					       (double)dt[i].score, (double)dt[i].x1, (double)dt[i].y1,
					       (double)dt[i].x2, (double)dt[i].y2);
			if (dt[i].has_quad) {
				g_string_append(out, ",\"quad\":[");
				for (int k = 0; k < 8; k++)
					g_string_append_printf(out, "%s%.1f", k ? "," : "", (double)dt[i].quad[k]);
				g_string_append_c(out, ']');
			}
			g_string_append(out, ",\"track_id\":");
			if (tid < 0)
				g_string_append(out, "null}");
			else
				g_string_append_printf(out, "%" G_GINT64_FORMAT "}", tid);
		}
		g_string_append(out, "]}");
	}
	g_string_append(out, "]}\n");
}

const char *ls_detector_provider(const struct ls_detector *d) { return d->provider; }

void ls_detector_input(const struct ls_detector *d, int *w, int *h, bool *batched)
{
	if (w)
		*w = d->in_w;
	if (h)
		*h = d->in_h;
	if (batched)
		*batched = d->batched;
}
