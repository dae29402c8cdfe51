/* detect — see detect.h.
 *
 * ONNX Runtime through its C API, loaded with dlopen(): the only symbol
 * taken from the library is OrtGetApiBase; everything else goes through
 * the OrtApi table it returns. */
#include "detect.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "ls_time.h"

#if LS_HAVE_ORT
#include "onnxruntime_c_api.h"
#endif

#ifndef LS_ORT_LIB_DEFAULT
#define LS_ORT_LIB_DEFAULT ""
#endif

/* ---- the board ------------------------------------------------------------ */

struct ls_detect_board {
	pthread_mutex_t lock;
	unsigned ncams, max_dets;
	int *count;
	int64_t *slot;
	struct ls_det *dets;
	int64_t *ids;
};

struct ls_detect_board *ls_detect_board_new(unsigned ncams, unsigned max_dets)
{
	struct ls_detect_board *b = g_new0(struct ls_detect_board, 1);
	pthread_mutex_init(&b->lock, NULL);
	b->ncams = ncams;
	b->max_dets = max_dets;
	b->count = g_new0(int, ncams);
	b->slot = g_new(int64_t, ncams);
	for (unsigned c = 0; c < ncams; c++)
		b->slot[c] = -1;
	b->dets = g_new0(struct ls_det, (size_t)ncams * max_dets);
	b->ids = g_new0(int64_t, (size_t)ncams * max_dets);
	return b;
}

void ls_detect_board_free(struct ls_detect_board **pb)
{
	struct ls_detect_board *b = pb ? *pb : NULL;
	if (!b)
		return;
	pthread_mutex_destroy(&b->lock);
	g_free(b->count);
	g_free(b->slot);
	g_free(b->dets);
	g_free(b->ids);
	g_free(b);
	*pb = NULL;
}

void ls_detect_board_put(struct ls_detect_board *b, const struct ls_detect_result *r)
{
	pthread_mutex_lock(&b->lock);
	for (unsigned c = 0; c < r->ncams && c < b->ncams; c++) {
		bool gated = r->gated && r->gated[c];
		if ((!r->ran[c] && !gated) || r->n < b->slot[c])
			continue;
		int n = r->count[c] < (int)b->max_dets ? r->count[c] : (int)b->max_dets;
		if (gated)
			n = 0;
		memcpy(b->dets + (size_t)c * b->max_dets, r->dets + (size_t)c * r->max_dets, sizeof(struct ls_det) * (size_t)n);
		memcpy(b->ids + (size_t)c * b->max_dets, r->track_id + (size_t)c * r->max_dets, sizeof(int64_t) * (size_t)n);
		b->count[c] = n;
		b->slot[c] = r->n;
	}
	pthread_mutex_unlock(&b->lock);
}

int ls_detect_board_get(struct ls_detect_board *b, unsigned cam, struct ls_det *out, int64_t *ids, int64_t *slot)
{
	if (cam >= b->ncams)
		return 0;
	pthread_mutex_lock(&b->lock);
	int n = b->count[cam];
	memcpy(out, b->dets + (size_t)cam * b->max_dets, sizeof *out * (size_t)n);
	if (ids)
		memcpy(ids, b->ids + (size_t)cam * b->max_dets, sizeof *ids * (size_t)n);
	if (slot)
		*slot = b->slot[cam];
	pthread_mutex_unlock(&b->lock);
	return n;
}

/* ---- results ---------------------------------------------------------- */

struct ls_detector {
	struct ls_detect_config dc; /* copy; strings owned */
	unsigned ncams;
	enum ls_detect_format format;
	int in_w, in_h;
	bool batched;      /* the model's batch dimension is free */
	int ncls;          /* classes of the model's output */
	char provider[32]; /* the one in use */
#if LS_HAVE_ORT
	const OrtApi *api;
	OrtEnv *env;
	OrtSession *first; /* the checking session, for the first worker */
	char *in_name;
	char *out_names[2];
	int nout;
#endif
};

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

static void json_str(GString *s, const char *v)
{
	g_string_append_c(s, '"');
	for (; *v; v++) {
		unsigned char ch = (unsigned char)*v;
		if (ch == '"' || ch == '\\')
			g_string_append_printf(s, "\\%c", ch);
		else if (ch < 0x20)
			g_string_append_printf(s, "\\u%04x", ch);
		else
			g_string_append_c(s, (char)ch);
	}
	g_string_append_c(s, '"');
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
		json_str(out, names && names[c] ? names[c] : "?");
		g_string_append_printf(out, ",\"capture_ns\":%" G_GINT64_FORMAT, r->capture_ns[c]);
		if (r->motion) {
			const struct ls_motion_result *m = &r->motion[c];
			g_string_append_printf(out, ",\"gated\":%s,\"motion\":{\"on\":%s,\"score\":%.4f,\"boxes\":[",
					       gated ? "true" : "false", m->motion ? "true" : "false", (double)m->score);
			for (int i = 0; i < m->nboxes; i++)
				g_string_append_printf(out, "%s[%d,%d,%d,%d]", i ? "," : "", m->boxes[i].x, m->boxes[i].y,
						       m->boxes[i].x + m->boxes[i].w, m->boxes[i].y + m->boxes[i].h);
			g_string_append(out, "]}");
		}
		g_string_append(out, ",\"detections\":[");
		const struct ls_det *dt = r->dets + (size_t)c * r->max_dets;
		for (int i = 0; i < r->count[c]; i++) {
			int64_t tid = r->track_id[(size_t)c * r->max_dets + i];
			g_string_append(out, i ? ",{\"class\":" : "{\"class\":");
			json_str(out, ls_detector_class_name(d, dt[i].cls));
			g_string_append_printf(out, ",\"score\":%.3f,\"box\":[%.1f,%.1f,%.1f,%.1f]", (double)dt[i].score,
					       (double)dt[i].x1, (double)dt[i].y1, (double)dt[i].x2, (double)dt[i].y2);
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

const char *ls_detector_provider(const struct ls_detector *d)
{
	return d->provider;
}

void ls_detector_input(const struct ls_detector *d, int *w, int *h, bool *batched)
{
	if (w)
		*w = d->in_w;
	if (h)
		*h = d->in_h;
	if (batched)
		*batched = d->batched;
}

#if !LS_HAVE_ORT

struct ls_detect_worker {
	int unused;
};

struct ls_detector *ls_detector_new(const struct ls_detect_config *dc, unsigned ncams, char **err)
{
	(void)dc;
	(void)ncams;
	*err = g_strdup("this lockstep was built without the ONNX Runtime headers (run scripts/setup.sh, "
			"then meson setup --reconfigure)");
	return NULL;
}

void ls_detector_free(struct ls_detector **d)
{
	g_clear_pointer(d, g_free);
}

const char *ls_detector_ort_version(const struct ls_detector *d, int *api)
{
	(void)d;
	*api = 0;
	return "none";
}

struct ls_detect_worker *ls_detect_worker_new(struct ls_detector *d, char **err)
{
	(void)d;
	*err = g_strdup("no ONNX Runtime");
	return NULL;
}

void ls_detect_worker_free(struct ls_detect_worker **w)
{
	g_clear_pointer(w, g_free);
}

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

static void config_copy(struct ls_detect_config *dst, const struct ls_detect_config *src)
{
	*dst = *src;
	dst->model = g_strdup(src->model);
	dst->provider = g_strdup(src->provider ? src->provider : "cpu");
	dst->output = g_strdup(src->output);
	dst->runtime = g_strdup(src->runtime);
}

/* ---- loading the runtime (once per process) ---------------------------- */

static pthread_mutex_t ort_lock = PTHREAD_MUTEX_INITIALIZER;
static const OrtApi *ort_api;
static int ort_api_version;
static const char *ort_version;
static char *ort_load_error;

/* The API table of the library at @path: GetApi(ORT_API_VERSION), and when
 * the library is older than the headers, the highest version it has. */
static const OrtApi *ort_load(const char *path, char **err)
{
	pthread_mutex_lock(&ort_lock);
	if (!ort_api && !ort_load_error) {
		void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
		if (!h) {
			ort_load_error = g_strdup_printf("ONNX Runtime %s: cannot load: %s (run scripts/setup.sh, or set "
							 "[detect] runtime=)", path, dlerror());
			goto out;
		}
		const OrtApiBase *(*get_base)(void) = (const OrtApiBase *(*)(void))dlsym(h, "OrtGetApiBase");
		const OrtApiBase *base = get_base ? get_base() : NULL;
		if (!base) {
			ort_load_error = g_strdup_printf("ONNX Runtime %s: no OrtGetApiBase (not an ONNX Runtime library?)", path);
			goto out;
		}
		ort_version = base->GetVersionString();
		/* API version N is release 1.N: ask for what the library has
		 * (asking for a newer one makes it print a complaint) */
		int major = 0, minor = 0, first = ORT_API_VERSION;
		if (ort_version && sscanf(ort_version, "%d.%d", &major, &minor) == 2 && major == 1 && minor > 0 &&
		    minor < first)
			first = minor;
		for (int v = first; v >= 1 && !ort_api; v--) {
			ort_api = base->GetApi((uint32_t)v);
			ort_api_version = v;
		}
		if (!ort_api || ort_api_version < 16) /* the V2 provider calls and names API need 16 */
			ort_load_error = g_strdup_printf("ONNX Runtime %s: version %s offers API %d, lockstep needs 16 or later",
							 path, ort_version ? ort_version : "?", ort_api ? ort_api_version : 0);
		/* the handle stays open for the life of the process */
	}
out:
	pthread_mutex_unlock(&ort_lock);
	if (ort_load_error) {
		*err = g_strdup(ort_load_error);
		return NULL;
	}
	return ort_api;
}

const char *ls_detector_ort_version(const struct ls_detector *d, int *api)
{
	(void)d;
	*api = ort_api_version;
	return ort_version ? ort_version : "?";
}

/* The status's message, released; NULL when status is NULL (success). */
static char *status_msg(const OrtApi *api, OrtStatus *st)
{
	if (!st)
		return NULL;
	char *m = g_strdup(api->GetErrorMessage(st));
	api->ReleaseStatus(st);
	/* ORT messages can span lines: keep one */
	for (char *p = m; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return m;
}

struct provider {
	const char *conf;   /* config name */
	const char *avail;  /* GetAvailableProviders() name */
	const char *append; /* SessionOptionsAppendExecutionProvider() name, NULL: dedicated call */
};

static const struct provider providers[] = {
	{ "cpu", "CPUExecutionProvider", NULL },
	{ "cuda", "CUDAExecutionProvider", NULL },
	{ "tensorrt", "TensorrtExecutionProvider", NULL },
	{ "openvino", "OpenVINOExecutionProvider", "OpenVINO" },
	{ "dnnl", "DnnlExecutionProvider", "DNNL" },
	{ "rocm", "ROCMExecutionProvider", "ROCM" },
	{ "migraphx", "MIGraphXExecutionProvider", "MIGraphX" },
	{ "coreml", "CoreMLExecutionProvider", "CoreML" },
	{ "qnn", "QNNExecutionProvider", "QNN" },
	{ "xnnpack", "XnnpackExecutionProvider", "XNNPACK" },
	{ "webgpu", "WebGpuExecutionProvider", "WebGPU" },
};

/* Adds the provider to @so. Returns 0, or -ENODEV with *err when the
 * library does not have it, -EIO when it has it but refuses it. */
static int provider_append(const OrtApi *api, OrtSessionOptions *so, const char *name, char **err)
{
	const struct provider *p = NULL;
	for (size_t i = 0; i < G_N_ELEMENTS(providers); i++)
		if (strcmp(providers[i].conf, name) == 0)
			p = &providers[i];
	if (!p) {
		*err = g_strdup_printf("provider %s: unknown", name);
		return -EINVAL;
	}
	if (strcmp(name, "cpu") == 0)
		return 0;
	char **avail = NULL;
	int navail = 0;
	char *m = status_msg(api, api->GetAvailableProviders(&avail, &navail));
	bool have = false;
	GString *list = g_string_new(NULL);
	for (int i = 0; !m && i < navail; i++) {
		have |= strcmp(avail[i], p->avail) == 0;
		const char *short_name = avail[i];
		for (size_t k = 0; k < G_N_ELEMENTS(providers); k++)
			if (strcmp(providers[k].avail, avail[i]) == 0)
				short_name = providers[k].conf;
		g_string_append_printf(list, "%s%s", i ? ", " : "", short_name);
	}
	if (avail)
		g_free(status_msg(api, api->ReleaseAvailableProviders(avail, navail)));
	if (m || !have) {
		*err = m ? g_strdup_printf("provider %s: cannot list providers: %s", name, m)
			 : g_strdup_printf("provider %s: not available in this ONNX Runtime %s (it has: %s)", name,
					   ort_version, list->str);
		g_free(m);
		g_string_free(list, TRUE);
		return -ENODEV;
	}
	g_string_free(list, TRUE);
	if (strcmp(name, "cuda") == 0) {
		OrtCUDAProviderOptionsV2 *o = NULL;
		m = status_msg(api, api->CreateCUDAProviderOptions(&o));
		if (!m)
			m = status_msg(api, api->SessionOptionsAppendExecutionProvider_CUDA_V2(so, o));
		if (o)
			api->ReleaseCUDAProviderOptions(o);
	} else if (strcmp(name, "tensorrt") == 0) {
		OrtTensorRTProviderOptionsV2 *o = NULL;
		m = status_msg(api, api->CreateTensorRTProviderOptions(&o));
		if (!m)
			m = status_msg(api, api->SessionOptionsAppendExecutionProvider_TensorRT_V2(so, o));
		if (o)
			api->ReleaseTensorRTProviderOptions(o);
	} else {
		m = status_msg(api, api->SessionOptionsAppendExecutionProvider(so, p->append, NULL, NULL, 0));
	}
	if (m) {
		*err = g_strdup_printf("provider %s: %s", name, m);
		g_free(m);
		return -EIO;
	}
	return 0;
}

/* A session on the model with intra-op threads 1 and the provider in
 * d->provider. */
static OrtSession *session_new(struct ls_detector *d, char **err)
{
	const OrtApi *api = d->api;
	OrtSessionOptions *so = NULL;
	OrtSession *s = NULL;
	char *m = status_msg(api, api->CreateSessionOptions(&so));
	if (!m)
		m = status_msg(api, api->SetIntraOpNumThreads(so, 1));
	if (!m)
		m = status_msg(api, api->SetInterOpNumThreads(so, 1));
	if (!m)
		m = status_msg(api, api->SetSessionGraphOptimizationLevel(so, ORT_ENABLE_ALL));
	/* the spinning wait of idle intra-op threads would burn a core per
	 * session for nothing: there is no other intra-op thread */
	if (!m)
		m = status_msg(api, api->AddSessionConfigEntry(so, "session.intra_op.allow_spinning", "0"));
	if (m) {
		*err = g_strdup_printf("ONNX Runtime session options: %s", m);
		goto out;
	}
	if (provider_append(api, so, d->provider, err) < 0)
		goto out;
	m = status_msg(api, api->CreateSession(d->env, d->dc.model, so, &s));
	if (m) {
		*err = g_strdup_printf("%s: not a usable ONNX model (ONNX Runtime: %s)", d->dc.model, m);
		s = NULL;
	}
out:
	g_free(m);
	if (so)
		api->ReleaseSessionOptions(so);
	return s;
}

/* Element type and dims of input or output @i of @s. */
static char *io_info(const OrtApi *api, OrtSession *s, bool input, size_t i, int64_t *dims, size_t *nd,
		     ONNXTensorElementDataType *type)
{
	OrtTypeInfo *ti = NULL;
	const OrtTensorTypeAndShapeInfo *tsi = NULL;
	char *m = status_msg(api, input ? api->SessionGetInputTypeInfo(s, i, &ti) : api->SessionGetOutputTypeInfo(s, i, &ti));
	if (!m)
		m = status_msg(api, api->CastTypeInfoToTensorInfo(ti, &tsi));
	if (!m && !tsi)
		m = g_strdup("not a tensor");
	if (!m)
		m = status_msg(api, api->GetTensorElementType(tsi, type));
	size_t n = 0;
	if (!m)
		m = status_msg(api, api->GetDimensionsCount(tsi, &n));
	if (!m && n > 8)
		m = g_strdup_printf("rank %zu", n);
	if (!m)
		m = status_msg(api, api->GetDimensions(tsi, dims, n));
	*nd = n;
	if (ti)
		api->ReleaseTypeInfo(ti);
	return m;
}

static char *io_name(const OrtApi *api, OrtSession *s, bool input, size_t i)
{
	OrtAllocator *a = NULL;
	char *name = NULL, *copy = NULL;
	char *m = status_msg(api, api->GetAllocatorWithDefaultOptions(&a));
	if (!m)
		m = status_msg(api, input ? api->SessionGetInputName(s, i, a, &name) : api->SessionGetOutputName(s, i, a, &name));
	if (!m) {
		copy = g_strdup(name);
		g_free(status_msg(api, api->AllocatorFree(a, name)));
	}
	g_free(m);
	return copy;
}

static const char *dims_str(const int64_t *dims, size_t nd, char *buf, size_t size)
{
	size_t o = 0;
	buf[0] = 0;
	for (size_t i = 0; i < nd && o < size; i++)
		o += (size_t)snprintf(buf + o, size - o, "%s%" G_GINT64_FORMAT, i ? "," : "[", dims[i]);
	if (o < size)
		snprintf(buf + o, size - o, "%s", nd ? "]" : "[]");
	return buf;
}

/* Checks the model's inputs and outputs and settles format, input size,
 * batching and the class count. */
static int model_check(struct ls_detector *d, OrtSession *s, char **err)
{
	const OrtApi *api = d->api;
	const char *model = d->dc.model;
	size_t nin = 0, nout = 0, nd = 0;
	int64_t dims[8];
	char buf[128];
	ONNXTensorElementDataType type = 0;
	char *m = status_msg(api, api->SessionGetInputCount(s, &nin));
	if (!m)
		m = status_msg(api, api->SessionGetOutputCount(s, &nout));
	if (m) {
		*err = g_strdup_printf("%s: %s", model, m);
		g_free(m);
		return -EINVAL;
	}
	if (nin != 1) {
		*err = g_strdup_printf("%s: the model has %zu inputs, expected 1 image input (N,3,H,W)", model, nin);
		return -EINVAL;
	}
	m = io_info(api, s, true, 0, dims, &nd, &type);
	if (m) {
		*err = g_strdup_printf("%s: input: %s", model, m);
		g_free(m);
		return -EINVAL;
	}
	if (type != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT) {
		*err = g_strdup_printf("%s: input has element type %d, expected float32", model, (int)type);
		return -EINVAL;
	}
	if (nd != 4) {
		*err = g_strdup_printf("%s: input has rank %zu %s, expected 4 (N,3,H,W)", model, nd,
				       dims_str(dims, nd, buf, sizeof buf));
		return -EINVAL;
	}
	if (dims[1] != 3) {
		*err = g_strdup_printf("%s: input %s has %" G_GINT64_FORMAT " channels, expected 3 (N,3,H,W: RGB, NCHW)",
				       model, dims_str(dims, nd, buf, sizeof buf), dims[1]);
		return -EINVAL;
	}
	if (dims[0] > 1) {
		*err = g_strdup_printf("%s: input %s has a fixed batch of %" G_GINT64_FORMAT ", expected 1 or free", model,
				       dims_str(dims, nd, buf, sizeof buf), dims[0]);
		return -EINVAL;
	}
	d->batched = dims[0] < 0;
	if (d->dc.input_w) {
		if ((dims[2] > 0 && dims[2] != d->dc.input_h) || (dims[3] > 0 && dims[3] != d->dc.input_w)) {
			*err = g_strdup_printf("%s: input-size=%dx%d but the model's input is %s", model, d->dc.input_w,
					       d->dc.input_h, dims_str(dims, nd, buf, sizeof buf));
			return -EINVAL;
		}
		d->in_w = d->dc.input_w;
		d->in_h = d->dc.input_h;
	} else {
		if (dims[2] <= 0 || dims[3] <= 0) {
			*err = g_strdup_printf("%s: input %s has a free height or width: set input-size = WxH", model,
					       dims_str(dims, nd, buf, sizeof buf));
			return -EINVAL;
		}
		d->in_h = (int)dims[2];
		d->in_w = (int)dims[3];
	}
	if (d->in_w < 16 || d->in_h < 16 || d->in_w > 8192 || d->in_h > 8192) {
		*err = g_strdup_printf("%s: input %dx%d is outside 16..8192", model, d->in_w, d->in_h);
		return -EINVAL;
	}
	d->in_name = io_name(api, s, true, 0);

	/* outputs: heatmap + wh (centernet) or one [N, 4 + C, boxes] (yolov8) */
	int heat = -1, wh = -1;
	for (size_t i = 0; i < nout; i++) {
		char *n = io_name(api, s, false, i);
		if (n && strcmp(n, "heatmap") == 0)
			heat = (int)i;
		if (n && strcmp(n, "wh") == 0)
			wh = (int)i;
		g_free(n);
	}
	enum ls_detect_format f = d->dc.format;
	if (f == LS_DETECT_AUTO) {
		f = heat >= 0 && wh >= 0 ? LS_DETECT_CENTERNET : LS_DETECT_YOLOV8;
		/* one [N,1,H,W] output: a text probability map (PP-OCR det) */
		int64_t od[8];
		size_t on = 0;
		char *mm = nout == 1 ? io_info(api, s, false, 0, od, &on, &type) : NULL;
		if (nout == 1 && !mm && on == 4 && od[1] == 1)
			f = LS_DETECT_DBNET;
		g_free(mm);
	}
	d->format = f;
	if (f == LS_DETECT_DBNET) {
		int64_t od[8];
		size_t on = 0;
		m = nout == 1 ? io_info(api, s, false, 0, od, &on, &type) : NULL;
		if (nout != 1 || m || on != 4 || od[1] != 1) {
			*err = g_strdup_printf("%s: format=dbnet needs one output [N,1,H,W] (a text probability map)", model);
			g_free(m);
			return -EINVAL;
		}
		if (!d->dc.all_classes) {
			*err = g_strdup_printf("%s: a text detector has no classes: leave classes= out", model);
			return -EINVAL;
		}
		d->ncls = 1;
		d->out_names[0] = io_name(api, s, false, 0);
		d->nout = 1;
		return 0;
	}
	if (f == LS_DETECT_CENTERNET) {
		if (heat < 0 || wh < 0) {
			*err = g_strdup_printf("%s: format=centernet needs outputs named heatmap and wh (made by "
					       "scripts/tfjs2onnx.py)", model);
			return -EINVAL;
		}
		int64_t hd[8], wd[8];
		size_t hn = 0, wn = 0;
		m = io_info(api, s, false, (size_t)heat, hd, &hn, &type);
		if (!m)
			m = io_info(api, s, false, (size_t)wh, wd, &wn, &type);
		if (m || hn != 4 || wn != 4 || wd[1] != 4 || hd[1] < 1 || hd[1] > 8 * LS_DETECT_CLASS_BYTES) {
			*err = g_strdup_printf("%s: centernet outputs heatmap %s and wh %s, expected [N,C,h,w] and [N,4,h,w]",
					       model, dims_str(hd, hn, buf, sizeof buf), m ? m : "?");
			g_free(m);
			return -EINVAL;
		}
		d->ncls = (int)hd[1];
		d->out_names[0] = g_strdup("heatmap");
		d->out_names[1] = g_strdup("wh");
		d->nout = 2;
	} else {
		if (nout != 1) {
			*err = g_strdup_printf("%s: %zu outputs: expected one [N, 4 + classes, boxes] (yolov8) or heatmap and "
					       "wh (centernet)", model, nout);
			return -EINVAL;
		}
		m = io_info(api, s, false, 0, dims, &nd, &type);
		if (m || nd != 3 || type != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT || (dims[1] > 0 && dims[1] < 5)) {
			*err = g_strdup_printf("%s: output %s: expected float [N, 4 + classes, boxes] (yolov8)%s%s", model,
					       dims_str(dims, nd, buf, sizeof buf), m ? ": " : "", m ? m : "");
			g_free(m);
			return -EINVAL;
		}
		d->ncls = dims[1] > 0 ? (int)dims[1] - 4 : 0; /* a free dim: learnt at the first run */
		d->out_names[0] = io_name(api, s, false, 0);
		d->nout = 1;
	}
	if (!d->dc.all_classes && d->ncls != LS_COCO_CLASSES) {
		*err = g_strdup_printf("%s: classes= names COCO classes but the model has %d classes, not 80", model, d->ncls);
		return -EINVAL;
	}
	return 0;
}

struct ls_detector *ls_detector_new(const struct ls_detect_config *dc, unsigned ncams, char **err)
{
	struct ls_detector *d = g_new0(struct ls_detector, 1);
	config_copy(&d->dc, dc);
	d->ncams = ncams;
	g_strlcpy(d->provider, d->dc.provider, sizeof d->provider);

	/* the model file first: its problems are the user's most likely ones */
	struct stat st;
	if (stat(dc->model, &st) < 0) {
		*err = g_strdup_printf("%s: cannot open the model: %s", dc->model, g_strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < 16) {
		*err = g_strdup_printf("%s: not an ONNX model (%s)", dc->model,
				       S_ISDIR(st.st_mode) ? "a directory" : "too small");
		goto fail;
	}
	if (access(dc->model, R_OK) < 0) {
		*err = g_strdup_printf("%s: cannot read the model: %s", dc->model, g_strerror(errno));
		goto fail;
	}
	const char *lib = dc->runtime ? dc->runtime : g_getenv("LOCKSTEP_ORT_LIB");
	if (!lib || !*lib)
		lib = LS_ORT_LIB_DEFAULT;
	d->api = ort_load(lib, err);
	if (!d->api)
		goto fail;
	char *m = status_msg(d->api, d->api->CreateEnv(ORT_LOGGING_LEVEL_ERROR, "lockstep", &d->env));
	if (m) {
		*err = g_strdup_printf("ONNX Runtime: cannot create the environment: %s", m);
		g_free(m);
		goto fail;
	}
	d->first = session_new(d, err);
	if (!d->first && d->dc.fallback_cpu && strcmp(d->provider, "cpu") != 0) {
		g_printerr("[detect] %s; falling back to cpu (fallback=cpu)\n", *err);
		g_clear_pointer(err, g_free);
		g_strlcpy(d->provider, "cpu", sizeof d->provider);
		d->first = session_new(d, err);
	}
	if (!d->first)
		goto fail;
	if (model_check(d, d->first, err) < 0)
		goto fail;
	return d;
fail:
	ls_detector_free(&d);
	return NULL;
}

void ls_detector_free(struct ls_detector **pd)
{
	struct ls_detector *d = pd ? *pd : NULL;
	if (!d)
		return;
	if (d->first)
		d->api->ReleaseSession(d->first);
	if (d->env)
		d->api->ReleaseEnv(d->env);
	g_free(d->in_name);
	g_free(d->out_names[0]);
	g_free(d->out_names[1]);
	g_free(d->dc.model);
	g_free(d->dc.provider);
	g_free(d->dc.output);
	g_free(d->dc.runtime);
	g_free(d);
	*pd = NULL;
}

/* ---- workers --------------------------------------------------------------- */

struct ls_detect_worker {
	struct ls_detector *d;
	OrtSession *s;
	OrtMemoryInfo *mem;
	float *input;              /* ncams (or 1) x 3 x H x W */
	struct ls_letterbox *lb;   /* per batch item */
	unsigned *item_cam;        /* camera of each batch item */
	struct ls_det *scratch;    /* yolov8 candidates */
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
	char *m = status_msg(api, api->CreateTensorWithDataAsOrtValue(w->mem, w->input, item * (size_t)nitems * sizeof(float),
								    shape, 4, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &in));
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
			n = ls_detect_centernet(op[0] + (size_t)b * ncls * cells, op[1] + (size_t)b * 4 * cells, ncls, gh, gw,
						&w->lb[b], (float)d->dc.threshold, want, out, (int)r->max_dets);
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
			n = ls_detect_yolov8(op[0] + (size_t)b * od[0][1] * nb, ncls, nb, &w->lb[b], (float)d->dc.threshold,
					     (float)d->dc.iou, ncls == LS_COCO_CLASSES ? want : NULL, w->scratch, out,
					     (int)r->max_dets);
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
