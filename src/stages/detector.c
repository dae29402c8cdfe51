/* detect — see detect.h: the workers, each one ONNX Runtime session with
 * its own buffers, that preprocess a frameset's frames, run the model and
 * decode its output into a result.
 *
 * The rest of the detector: the board in detect_board.c, result buffers
 * and JSON in detect_results.c, loading ONNX Runtime, sessions and the
 * model check in ort_session.c; what they share in detector_private.h. */
#include "detector_private.h"

#include <errno.h>

#include <glib.h>

#include "ls_time.h"

#if LS_HAVE_ORT
/* PP-OCR's detector takes BGR planes normalised with ImageNet's mean and
 * deviation (applied in its channel order); the preprocessor wrote RGB in
 * 0..1. Only the ONNX Runtime path feeds it. */
static void dbnet_normalise(float *p, size_t plane)
{
	static const float mean[3] = { 0.485f, 0.456f, 0.406f }, sd[3] = { 0.229f, 0.224f, 0.225f };
	float *r = p, *b = p + 2 * plane;
	for (size_t i = 0; i < plane; i++) {
		float t = r[i];
		r[i] = b[i];
		b[i] = t;
	}
	for (int c = 0; c < 3; c++) {
		float *q = p + (size_t)c * plane, k = 1.0f / sd[c];
		for (size_t i = 0; i < plane; i++)
			q[i] = (q[i] - mean[c]) * k;
	}
}
#endif

#if !LS_HAVE_ORT

struct ls_detect_worker {
	int unused;
};

struct ls_detect_worker *ls_detect_worker_new(struct ls_detector *d, char **err)
{
	(void)d;
	*err = g_strdup("no ONNX Runtime");
	return NULL;
}

void ls_detect_worker_free(struct ls_detect_worker **w) { g_clear_pointer(w, g_free); }

int ls_detect_worker_run(struct ls_detect_worker *w, const struct ls_frameset *set, const bool *active,
			 struct ls_detect_result *r, char **err)
{
	(void)w, (void)set, (void)active, (void)r;
	*err = g_strdup("no ONNX Runtime");
	return -ENOSYS;
}

int ls_detect_worker_run_frames(struct ls_detect_worker *w, struct ls_frame *const *frames, unsigned nframes,
				const bool *active, struct ls_detect_result *r, char **err)
{
	(void)w, (void)frames, (void)nframes, (void)active, (void)r;
	*err = g_strdup("no ONNX Runtime");
	return -ENOSYS;
}

void ls_detect_worker_times(const struct ls_detect_worker *w, int64_t *run_ns, int64_t *total_ns)
{
	(void)w;
	*run_ns = *total_ns = 0;
}

#else

/* ---- workers --------------------------------------------------------------- */

struct ls_detect_worker {
	struct ls_detector *d;
	OrtSession *s;
	OrtMemoryInfo *mem;
	float *input;            /* ncams (or 1) x 3 x H x W */
	struct ls_letterbox *lb; /* per batch item */
	unsigned *item_cam;      /* camera of each batch item */
	struct ls_det *scratch;  /* yolov8 candidates */
	size_t scratch_n;
	int64_t run_ns, total_ns;
};

struct ls_detect_worker *ls_detect_worker_new(struct ls_detector *d, char **err)
{
	struct ls_detect_worker *w = g_new0(struct ls_detect_worker, 1);
	w->d = d;
	pthread_mutex_lock(&ort_lock);
	w->s = d->first;
	d->first = NULL;
	pthread_mutex_unlock(&ort_lock);
	if (!w->s)
		w->s = session_new(d, err);
	if (!w->s)
		goto fail;
	char *m = status_msg(d->api, d->api->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &w->mem));
	if (m) {
		*err = g_strdup_printf("ONNX Runtime: %s", m);
		g_free(m);
		goto fail;
	}
	w->input = g_new0(float, (size_t)d->ncams * 3 * d->in_w * d->in_h);
	w->lb = g_new0(struct ls_letterbox, d->ncams);
	w->item_cam = g_new0(unsigned, d->ncams);
	return w;
fail:
	ls_detect_worker_free(&w);
	return NULL;
}

void ls_detect_worker_free(struct ls_detect_worker **pw)
{
	struct ls_detect_worker *w = pw ? *pw : NULL;
	if (!w)
		return;
	if (w->s)
		w->d->api->ReleaseSession(w->s);
	if (w->mem)
		w->d->api->ReleaseMemoryInfo(w->mem);
	g_free(w->input);
	g_free(w->lb);
	g_free(w->item_cam);
	g_free(w->scratch);
	g_free(w);
	*pw = NULL;
}

void ls_detect_worker_times(const struct ls_detect_worker *w, int64_t *run_ns, int64_t *total_ns)
{
	*run_ns = w->run_ns;
	*total_ns = w->total_ns;
}

/* Runs batch items [0, nitems) (already preprocessed) and decodes them into
 * @r. */
static int run_batch(struct ls_detect_worker *w, int nitems, struct ls_detect_result *r, char **err)
{
	struct ls_detector *d = w->d;
	const OrtApi *api = d->api;
	size_t item = (size_t)3 * d->in_w * d->in_h;
	int64_t shape[4] = { nitems, 3, d->in_h, d->in_w };
	OrtValue *in = NULL, *outs[2] = { NULL, NULL };
	const char *in_names[1] = { d->in_name };
	const char *out_names[2] = { d->out_names[0], d->out_names[1] };
	int rc = 0;
	char *m = status_msg(api, api->CreateTensorWithDataAsOrtValue(w->mem, w->input,
								      item * (size_t)nitems * sizeof(float), shape, 4,
								      ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &in));
	int64_t t0 = ls_monotonic_ns();
	if (!m)
		m = status_msg(api, api->Run(w->s, NULL, in_names, (const OrtValue *const *)&in, 1, out_names,
					     (size_t)d->nout, outs));
	w->run_ns += ls_monotonic_ns() - t0;
	if (m) {
		*err = g_strdup_printf("%s: inference failed: %s", d->dc.model, m);
		rc = -EIO;
		goto out;
	}
	int64_t od[2][8];
	size_t on[2] = { 0, 0 };
	float *op[2] = { NULL, NULL };
	for (int o = 0; o < d->nout; o++) {
		OrtTensorTypeAndShapeInfo *info = NULL;
		m = status_msg(api, api->GetTensorTypeAndShape(outs[o], &info));
		if (!m)
			m = status_msg(api, api->GetDimensionsCount(info, &on[o]));
		if (!m && on[o] <= 8)
			m = status_msg(api, api->GetDimensions(info, od[o], on[o]));
		if (info)
			api->ReleaseTensorTypeAndShapeInfo(info);
		if (!m)
			m = status_msg(api, api->GetTensorMutableData(outs[o], (void **)&op[o]));
		if (m) {
			*err = g_strdup_printf("%s: output: %s", d->dc.model, m);
			rc = -EIO;
			goto out;
		}
	}
	const uint8_t *want = d->dc.all_classes ? NULL : d->dc.classes;
	for (int b = 0; b < nitems; b++) {
		unsigned c = w->item_cam[b];
		struct ls_det *out = r->dets + (size_t)c * r->max_dets;
		int n;
		if (d->format == LS_DETECT_CENTERNET) {
			int ncls = (int)od[0][1], gh = (int)od[0][2], gw = (int)od[0][3];
			size_t cells = (size_t)gh * gw;
			if (on[0] != 4 || on[1] != 4 || od[0][0] != nitems || od[1][2] != gh || od[1][3] != gw) {
				*err = g_strdup_printf("%s: unexpected output shapes", d->dc.model);
				rc = -EIO;
				goto out;
			}
			n = ls_detect_centernet(op[0] + (size_t)b * ncls * cells, op[1] + (size_t)b * 4 * cells, ncls,
						gh, gw, &w->lb[b], (float)d->dc.threshold, want, out, (int)r->max_dets);
			/* peaks of one object can sit in neighbouring cells of
			 * different scale: the same class-wise NMS as yolov8 */
			n = ls_det_nms(out, n, (float)d->dc.iou);
		} else if (d->format == LS_DETECT_DBNET) {
			int gh = (int)od[0][2], gw = (int)od[0][3];
			if (on[0] != 4 || od[0][0] != nitems || od[0][1] != 1) {
				*err = g_strdup_printf("%s: output is not [N,1,H,W]", d->dc.model);
				rc = -EIO;
				goto out;
			}
			/* the map is at the input's scale: its letterbox is the input's */
			struct ls_letterbox lb = w->lb[b];
			float sx = (float)gw / (float)lb.in_w;
			lb.scale *= sx;
			lb.pad_x *= sx;
			lb.pad_y *= (float)gh / (float)lb.in_h;
			n = ls_detect_dbnet(op[0] + (size_t)b * gh * gw, gh, gw, &lb, (float)d->dc.threshold, out,
					    (int)r->max_dets);
		} else {
			if (on[0] != 3 || od[0][0] != nitems || od[0][1] < 5) {
				*err = g_strdup_printf("%s: output is not [N, 4 + classes, boxes]", d->dc.model);
				rc = -EIO;
				goto out;
			}
			int ncls = (int)od[0][1] - 4, nb = (int)od[0][2];
			if (d->ncls == 0)
				d->ncls = ncls; /* written once, same value from every worker */
			if ((size_t)nb > w->scratch_n) {
				g_free(w->scratch);
				w->scratch = g_new(struct ls_det, (size_t)nb);
				w->scratch_n = (size_t)nb;
			}
			n = ls_detect_yolov8(op[0] + (size_t)b * od[0][1] * nb, ncls, nb, &w->lb[b],
					     (float)d->dc.threshold, (float)d->dc.iou,
					     ncls == LS_COCO_CLASSES ? want : NULL, w->scratch, out, (int)r->max_dets);
		}
		r->count[c] = n;
		r->ran[c] = true;
	}
out:
	g_free(m);
	if (in)
		api->ReleaseValue(in);
	for (int o = 0; o < 2; o++)
		if (outs[o])
			api->ReleaseValue(outs[o]);
	return rc;
}

int ls_detect_worker_run_frames(struct ls_detect_worker *w, struct ls_frame *const *frames, unsigned nframes,
				const bool *active, struct ls_detect_result *r, char **err)
{
	struct ls_detector *d = w->d;
	int64_t t0 = ls_monotonic_ns();
	size_t item = (size_t)3 * d->in_w * d->in_h;
	float mul = d->format == LS_DETECT_CENTERNET ? 1.0f : 1.0f / 255;
	float pad = d->format == LS_DETECT_CENTERNET ? 0 : d->format == LS_DETECT_DBNET ? 0 : 114;
	int nitems = 0, rc = 0;
	for (unsigned c = 0; c < r->ncams; c++) {
		r->ran[c] = false;
		r->count[c] = 0;
		r->capture_ns[c] = 0;
	}
	for (size_t i = 0; i < (size_t)r->ncams * r->max_dets; i++)
		r->track_id[i] = -1;
	for (unsigned c = 0; c < nframes && c < r->ncams; c++) {
		const struct ls_frame *f = frames[c];
		if (!f || (active && !active[c]))
			continue;
		int b = d->batched ? nitems : 0;
		w->lb[b] = ls_letterbox_make(f->width, f->height, d->in_w, d->in_h);
		if (ls_detect_preprocess(f, &w->lb[b], w->input + (size_t)b * item, mul, pad) < 0)
			continue; /* a format the preprocessor cannot read: no detections for it */
		if (d->format == LS_DETECT_DBNET)
			dbnet_normalise(w->input + (size_t)b * item, (size_t)d->in_w * d->in_h);
		w->item_cam[b] = c;
		r->capture_ns[c] = f->capture_ns;
		if (d->batched) {
			nitems++;
			continue;
		}
		rc = run_batch(w, 1, r, err);
		if (rc < 0)
			goto out;
	}
	if (d->batched && nitems > 0)
		rc = run_batch(w, nitems, r, err);
out:
	w->total_ns += ls_monotonic_ns() - t0;
	return rc;
}

int ls_detect_worker_run(struct ls_detect_worker *w, const struct ls_frameset *set, const bool *active,
			 struct ls_detect_result *r, char **err)
{
	struct ls_frame *frames[set->ncams ? set->ncams : 1];
	for (unsigned c = 0; c < set->ncams; c++)
		frames[c] = set->entries[c].state == LS_ENTRY_PRESENT ? set->entries[c].frame : NULL;
	r->n = set->n;
	r->slot_ns = set->slot_ns;
	return ls_detect_worker_run_frames(w, frames, set->ncams, active, r, err);
}

#endif
