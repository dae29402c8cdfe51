/* bench-detect — lockstep's [detect] stage against ONNX Runtime alone, on
 * the same model and the same frames, in the same run.
 *
 *   bench-detect MODEL FRAMES.i420 WxH CAMS ROUNDS
 *
 * FRAMES.i420 holds raw I420 frames back to back; CAMS of them in a row form
 * one frameset. Per round, for every frameset:
 *   ort:      ONNX Runtime alone, linked directly (no lockstep code on the
 *             timed path): one Run() on an input tensor prepared before the
 *             timing (the same letterboxed pixels lockstep feeds), batch =
 *             CAMS when the model's batch is free; outputs released.
 *   lockstep: ls_detect_worker_run_frames(): preprocessing from I420,
 *             the same Run(), decoding, NMS and result records.
 * Both use one session with intra-op threads 1 and the same options, and
 * alternate frameset by frameset so that load from other processes hits
 * both alike. Prints ms per frameset and per frame, detections per second
 * per core (one thread runs each), and the overhead ratio. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "detect.h"
#include "ls_time.h"
#include "onnxruntime_c_api.h"

static const OrtApi *api;

static void check(OrtStatus *st, const char *what)
{
	if (st) {
		fprintf(stderr, "bench-detect: %s: %s\n", what, api->GetErrorMessage(st));
		exit(1);
	}
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: bench-detect MODEL FRAMES.i420 WxH CAMS ROUNDS\n");
		return 2;
	}
	const char *model = argv[1];
	int w = 0, h = 0;
	sscanf(argv[3], "%dx%d", &w, &h);
	unsigned cams = (unsigned)atoi(argv[4]), rounds = (unsigned)atoi(argv[5]);
	if (cams < 1 || cams > 4 || rounds < 1) {
		fprintf(stderr, "bench-detect: CAMS is 1..4, ROUNDS >= 1\n");
		return 2;
	}
	gchar *data = NULL;
	gsize len = 0;
	size_t fsize = ls_pixfmt_size(LS_FMT_I420, w, h);
	if (!g_file_get_contents(argv[2], &data, &len, NULL) || len < fsize * cams) {
		fprintf(stderr, "bench-detect: %s: need at least %u frames of %s\n", argv[2], cams, argv[3]);
		return 1;
	}
	unsigned nframes = (unsigned)(len / fsize), nsets = nframes / cams;
	struct ls_frame *frames = g_new0(struct ls_frame, nframes);
	for (unsigned i = 0; i < nframes; i++)
		ls_frame_set_packed(&frames[i], LS_FMT_I420, w, h, (uint8_t *)data + i * fsize);

	/* lockstep's detector */
	struct ls_detect_config dc = { .model = (char *)model,
				       .all_classes = true,
				       .threshold = 0.3,
				       .iou = 0.5,
				       .max_dets = 100,
				       .every_n = 1,
				       .provider = "cpu" };
	char *err = NULL;
	struct ls_detector *d = ls_detector_new(&dc, cams, &err);
	struct ls_detect_worker *wk = d ? ls_detect_worker_new(d, &err) : NULL;
	if (!wk) {
		fprintf(stderr, "bench-detect: %s\n", err);
		return 1;
	}
	int in_w, in_h;
	bool batched;
	ls_detector_input(d, &in_w, &in_h, &batched);
	struct ls_detect_result *res = ls_detect_result_new(d);

	/* ONNX Runtime alone, linked */
	api = OrtGetApiBase()->GetApi(28 < ORT_API_VERSION ? 28 : ORT_API_VERSION);
	if (!api) {
		fprintf(stderr, "bench-detect: the linked ONNX Runtime lacks API 28\n");
		return 1;
	}
	OrtEnv *env;
	OrtSessionOptions *so;
	OrtSession *s;
	OrtMemoryInfo *mem;
	check(api->CreateEnv(ORT_LOGGING_LEVEL_ERROR, "bench", &env), "env");
	check(api->CreateSessionOptions(&so), "options");
	check(api->SetIntraOpNumThreads(so, 1), "threads");
	check(api->SetInterOpNumThreads(so, 1), "threads");
	check(api->SetSessionGraphOptimizationLevel(so, ORT_ENABLE_ALL), "opt");
	check(api->AddSessionConfigEntry(so, "session.intra_op.allow_spinning", "0"), "spin");
	check(api->CreateSession(env, model, so, &s), "session");
	check(api->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &mem), "mem");
	unsigned batch = batched ? cams : 1, runs_per_set = batched ? 1 : cams;
	size_t item = (size_t)3 * in_w * in_h;
	float *inputs = g_new(float, item *nframes);
	for (unsigned i = 0; i < nframes; i++) {
		struct ls_letterbox lb = ls_letterbox_make(w, h, in_w, in_h);
		ls_detect_preprocess(&frames[i], &lb, inputs + item * i, 1.0f, 0);
	}
	const char *in_names[] = { "images" }, *out_names[] = { "heatmap", "wh" };

	int64_t *t_ort = g_new(int64_t, (size_t)nsets * rounds), *t_ls = g_new(int64_t, (size_t)nsets * rounds);
	uint64_t dets = 0;
	for (unsigned r = 0; r < rounds + 1; r++) /* round 0 warms both up, untimed */
		for (unsigned k = 0; k < nsets; k++) {
			int64_t t0 = ls_monotonic_ns();
			for (unsigned j = 0; j < runs_per_set; j++) {
				int64_t shape[4] = { batch, 3, in_h, in_w };
				OrtValue *in = NULL, *outs[2] = { NULL, NULL };
				check(api->CreateTensorWithDataAsOrtValue(mem, inputs + item * (k * cams + j),
									  item * batch * sizeof(float), shape, 4,
									  ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &in),
				      "tensor");
				check(api->Run(s, NULL, in_names, (const OrtValue *const *)&in, 1, out_names, 2, outs),
				      "run");
				api->ReleaseValue(in);
				api->ReleaseValue(outs[0]);
				api->ReleaseValue(outs[1]);
			}
			int64_t t1 = ls_monotonic_ns();
			if (ls_detect_worker_run_frames(
				    wk,
				    (struct ls_frame *const[]){ &frames[k * cams],
								cams > 1 ? &frames[k * cams + 1] : NULL,
								cams > 2 ? &frames[k * cams + 2] : NULL,
								cams > 3 ? &frames[k * cams + 3] : NULL },
				    cams, NULL, res, &err) < 0) {
				fprintf(stderr, "bench-detect: %s\n", err);
				return 1;
			}
			int64_t t2 = ls_monotonic_ns();
			if (r == 0)
				continue;
			t_ort[(r - 1) * nsets + k] = t1 - t0;
			t_ls[(r - 1) * nsets + k] = t2 - t1;
			for (unsigned c = 0; c < cams; c++)
				dets += (uint64_t)res->count[c];
		}
	size_t n = (size_t)nsets * rounds;
	/* the least of the rounds per frameset: what each costs when nothing
	 * else got in the way (the machine is shared) */
	int64_t min_o = 0, min_l = 0;
	for (unsigned k = 0; k < nsets; k++) {
		int64_t mo_k = INT64_MAX, ml_k = INT64_MAX;
		for (unsigned r = 0; r < rounds; r++) {
			mo_k = t_ort[r * nsets + k] < mo_k ? t_ort[r * nsets + k] : mo_k;
			ml_k = t_ls[r * nsets + k] < ml_k ? t_ls[r * nsets + k] : ml_k;
		}
		min_o += mo_k;
		min_l += ml_k;
	}
	int64_t run_ns = 0, total_ns = 0;
	ls_detect_worker_times(wk, &run_ns, &total_ns);
	int64_t sum_o = 0, sum_l = 0;
	for (size_t i = 0; i < n; i++) {
		sum_o += t_ort[i];
		sum_l += t_ls[i];
	}
	qsort(t_ort, n, sizeof *t_ort, cmp64);
	qsort(t_ls, n, sizeof *t_ls, cmp64);
	double mo = (double)sum_o / n / 1e6, ml = (double)sum_l / n / 1e6;
	double med_o = (double)t_ort[n / 2] / 1e6, med_l = (double)t_ls[n / 2] / 1e6;
	double dps = (double)dets / ((double)sum_l / 1e9); /* one thread: per core */
	int api_v = 0;
	const char *ver = ls_detector_ort_version(d, &api_v);
	printf("detect: %s, ONNX Runtime %s, %ux%u input, %u camera(s) per frameset%s, %zu framesets\n", model, ver,
	       in_w, in_h, cams, batched ? " in one Run()" : "", n);
	printf("  ort alone:  mean %.2f ms/frameset (%.2f ms/frame), median %.2f\n", mo, mo / cams, med_o);
	printf("  lockstep:   mean %.2f ms/frameset (%.2f ms/frame), median %.2f, %.1f detections/s per core\n", ml,
	       ml / cams, med_l, dps);
	printf("  overhead:   mean %+.1f %%, median %+.1f %%, best-of-%u per frameset %+.1f %% (%.2f vs %.2f ms/frameset) "
	       "(goal <= 5 %%)\n",
	       (ml / mo - 1) * 100, (med_l / med_o - 1) * 100, rounds, ((double)min_l / (double)min_o - 1) * 100,
	       (double)min_l / 1e6 / nsets, (double)min_o / 1e6 / nsets);
	printf("  inside lockstep's stage: %.2f ms/frameset outside Run() (preprocess, decode, NMS) = %.1f %% of its "
	       "Run() time\n",
	       (double)(total_ns - run_ns) / 1e6 / (nsets * (rounds + 1)),
	       (double)(total_ns - run_ns) / (double)run_ns * 100);
	ls_detect_result_free(&res);
	ls_detect_worker_free(&wk);
	ls_detector_free(&d);
	api->ReleaseSession(s);
	api->ReleaseSessionOptions(so);
	api->ReleaseMemoryInfo(mem);
	api->ReleaseEnv(env);
	return 0;
}
