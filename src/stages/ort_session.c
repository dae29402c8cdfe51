/* ort_session — ONNX Runtime for the detector (see detect.h): loading the
 * library (once per process), execution providers, sessions, the model
 * check, and making and freeing a detector (ls_detector_new/_free).
 *
 * ONNX Runtime through its C API, loaded with dlopen(): the only symbol
 * taken from the library is OrtGetApiBase; everything else goes through
 * the OrtApi table it returns. Built without the headers, the detector
 * says so and nothing is loaded. */
#include "detector_private.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#ifndef LS_ORT_LIB_DEFAULT
#define LS_ORT_LIB_DEFAULT ""
#endif

#if !LS_HAVE_ORT

struct ls_detector *ls_detector_new(const struct ls_detect_config *dc, unsigned ncams, char **err)
{
	(void)dc;
	(void)ncams;
	*err = g_strdup("this lockstep was built without the ONNX Runtime headers (run scripts/setup.sh, "
			"then meson setup --reconfigure)");
	return NULL;
}

int ls_detector_probe(const struct ls_detect_config *dc, char **err)
{
	struct ls_detector *d = ls_detector_new(dc, 1, err);
	return d ? 0 : -ENOTSUP;
}

void ls_detector_free(struct ls_detector **d) { g_clear_pointer(d, g_free); }

const char *ls_detector_ort_version(const struct ls_detector *d, int *api)
{
	(void)d;
	*api = 0;
	return "none";
}

#else

/* A bare model name (no '/') not in the working directory is looked for
 * where `lockstep fetch-models` puts models, so a config reads
 * "model = centernet.onnx" from any directory. */
static char *model_path(const char *model)
{
	if (!model || strchr(model, '/') || g_file_test(model, G_FILE_TEST_EXISTS))
		return g_strdup(model);
	char *in_assets = g_build_filename(LS_ASSET_DIR, "models", model, NULL);
	if (g_file_test(in_assets, G_FILE_TEST_EXISTS))
		return in_assets;
	g_free(in_assets);
	return g_strdup(model);
}

static void config_copy(struct ls_detect_config *dst, const struct ls_detect_config *src)
{
	*dst = *src;
	dst->model = model_path(src->model);
	dst->provider = g_strdup(src->provider ? src->provider : "cpu");
	dst->output = g_strdup(src->output);
	dst->runtime = g_strdup(src->runtime);
}

/* ---- loading the runtime (once per process) ---------------------------- */

pthread_mutex_t ort_lock = PTHREAD_MUTEX_INITIALIZER;
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
			ort_load_error = g_strdup_printf(
				"ONNX Runtime %s: cannot load: %s (run `lockstep fetch-models`, or set "
				"[detect] runtime=)",
				path, dlerror());
			goto out;
		}
		const OrtApiBase *(*get_base)(void) = (const OrtApiBase *(*)(void))dlsym(h, "OrtGetApiBase");
		const OrtApiBase *base = get_base ? get_base() : NULL;
		if (!base) {
			ort_load_error = g_strdup_printf(
				"ONNX Runtime %s: no OrtGetApiBase (not an ONNX Runtime library?)", path);
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
			ort_load_error = g_strdup_printf(
				"ONNX Runtime %s: version %s offers API %d, lockstep needs 16 or later", path,
				ort_version ? ort_version : "?", ort_api ? ort_api_version : 0);
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

const OrtApi *ls_ort_api(const char *runtime, char **err)
{
	const char *lib = runtime ? runtime : g_getenv("LOCKSTEP_ORT_LIB");
	if (!lib || !*lib)
		lib = LS_ORT_LIB_DEFAULT;
	return ort_load(lib, err);
}

const char *ls_detector_ort_version(const struct ls_detector *d, int *api)
{
	(void)d;
	*api = ort_api_version;
	return ort_version ? ort_version : "?";
}

/* The status's message, released; NULL when status is NULL (success). */
char *status_msg(const OrtApi *api, OrtStatus *st)
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
OrtSession *session_new(struct ls_detector *d, char **err)
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
	char *m = status_msg(api, input ? api->SessionGetInputTypeInfo(s, i, &ti)
					: api->SessionGetOutputTypeInfo(s, i, &ti));
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
		m = status_msg(api, input ? api->SessionGetInputName(s, i, a, &name)
					  : api->SessionGetOutputName(s, i, a, &name));
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
		*err = g_strdup_printf("%s: input %s has %" G_GINT64_FORMAT
				       " channels, expected 3 (N,3,H,W: RGB, NCHW)",
				       model, dims_str(dims, nd, buf, sizeof buf), dims[1]);
		return -EINVAL;
	}
	if (dims[0] > 1) {
		*err = g_strdup_printf("%s: input %s has a fixed batch of %" G_GINT64_FORMAT ", expected 1 or free",
				       model, dims_str(dims, nd, buf, sizeof buf), dims[0]);
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
			*err = g_strdup_printf("%s: format=dbnet needs one output [N,1,H,W] (a text probability map)",
					       model);
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
					       "scripts/tfjs2onnx.py)",
					       model);
			return -EINVAL;
		}
		int64_t hd[8], wd[8];
		size_t hn = 0, wn = 0;
		m = io_info(api, s, false, (size_t)heat, hd, &hn, &type);
		if (!m)
			m = io_info(api, s, false, (size_t)wh, wd, &wn, &type);
		if (m || hn != 4 || wn != 4 || wd[1] != 4 || hd[1] < 1 || hd[1] > 8 * LS_DETECT_CLASS_BYTES) {
			*err = g_strdup_printf(
				"%s: centernet outputs heatmap %s and wh %s, expected [N,C,h,w] and [N,4,h,w]", model,
				dims_str(hd, hn, buf, sizeof buf), m ? m : "?");
			g_free(m);
			return -EINVAL;
		}
		d->ncls = (int)hd[1];
		d->out_names[0] = g_strdup("heatmap");
		d->out_names[1] = g_strdup("wh");
		d->nout = 2;
	} else {
		if (nout != 1) {
			*err = g_strdup_printf(
				"%s: %zu outputs: expected one [N, 4 + classes, boxes] (yolov8) or heatmap and "
				"wh (centernet)",
				model, nout);
			return -EINVAL;
		}
		m = io_info(api, s, false, 0, dims, &nd, &type);
		if (m || nd != 3 || type != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT || (dims[1] > 0 && dims[1] < 5)) {
			*err = g_strdup_printf("%s: output %s: expected float [N, 4 + classes, boxes] (yolov8)%s%s",
					       model, dims_str(dims, nd, buf, sizeof buf), m ? ": " : "", m ? m : "");
			g_free(m);
			return -EINVAL;
		}
		d->ncls = dims[1] > 0 ? (int)dims[1] - 4 : 0; /* a free dim: learnt at the first run */
		d->out_names[0] = io_name(api, s, false, 0);
		d->nout = 1;
	}
	if (!d->dc.all_classes && d->ncls != LS_COCO_CLASSES) {
		*err = g_strdup_printf("%s: classes= names COCO classes but the model has %d classes, not 80", model,
				       d->ncls);
		return -EINVAL;
	}
	return 0;
}

/* The model file (@model: @dc's, found by model_path()) and ONNX Runtime
 * (loaded once per process): what a machine without `lockstep fetch-models`
 * lacks, checked without a session. NULL with *@err set. */
static const OrtApi *model_and_runtime(const struct ls_detect_config *dc, const char *model, char **err)
{
	struct stat st;
	if (stat(model, &st) < 0) {
		int e = errno;
		if (!strchr(model, '/'))
			*err = g_strdup_printf("%s: cannot open the model: %s (not here, nor in %s/models: run "
					       "`lockstep fetch-models`)",
					       dc->model, g_strerror(e), LS_ASSET_DIR);
		else
			*err = g_strdup_printf("%s: cannot open the model: %s", dc->model, g_strerror(e));
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < 16) {
		*err = g_strdup_printf("%s: not an ONNX model (%s)", model,
				       S_ISDIR(st.st_mode) ? "a directory" : "too small");
		return NULL;
	}
	if (access(model, R_OK) < 0) {
		*err = g_strdup_printf("%s: cannot read the model: %s", model, g_strerror(errno));
		return NULL;
	}
	return ls_ort_api(dc->runtime, err);
}

int ls_detector_probe(const struct ls_detect_config *dc, char **err)
{
	char *model = model_path(dc->model);
	const OrtApi *api = model_and_runtime(dc, model, err);
	g_free(model);
	return api ? 0 : -ENOENT;
}

struct ls_detector *ls_detector_new(const struct ls_detect_config *dc, unsigned ncams, char **err)
{
	struct ls_detector *d = g_new0(struct ls_detector, 1);
	config_copy(&d->dc, dc);
	d->ncams = ncams;
	g_strlcpy(d->provider, d->dc.provider, sizeof d->provider);

	/* the model file first: its problems are the user's most likely ones */
	d->api = model_and_runtime(dc, d->dc.model, err);
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

#endif
