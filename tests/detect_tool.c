/* detect-tool — runs lockstep's detector (src/stages/detector.c) on raw frames, for
 * the detect tests and benchmarks.
 *
 *   detect-tool [options] MODEL FORMAT:WxH FILE...
 *
 * FORMAT is i420 or rgba; each FILE holds one raw frame (or many frames
 * back to back: every frame of the file is used in turn). Without --cams,
 * every frame is its own frameset with one camera; with --cams N, N frames
 * in a row form one frameset of N cameras (batched into one Run() when the
 * model allows). Prints one JSON line per frameset (the stage's format) on
 * stdout, and with --time the ms per frameset on stderr.
 *
 * Options: --provider P, --fallback cpu|none, --format auto|centernet|yolov8|dbnet,
 * --threshold T, --classes a,b, --input-size WxH, --repeat N (run the
 * frames N times), --cams N. Exit status 1 with the detector's one-line
 * error on stderr when the model or provider is refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "detect.h"
#include "ls_time.h"

int main(int argc, char **argv)
{
	/* clang-format off */
	struct ls_detect_config dc = {
		.all_classes = true, .threshold = 0.3, .iou = 0.5, .max_dets = 100, .every_n = 1, .provider = "cpu",
	};
	/* clang-format on */
	unsigned cams = 1, repeat = 1;
	bool timing = false;
	int i = 1;
	for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i += 2) {
		const char *k = argv[i] + 2, *v = i + 1 < argc ? argv[i + 1] : "";
		if (strcmp(k, "provider") == 0)
			dc.provider = (char *)v;
		else if (strcmp(k, "fallback") == 0)
			dc.fallback_cpu = strcmp(v, "cpu") == 0;
		else if (strcmp(k, "format") == 0)
			dc.format = strcmp(v, "centernet") == 0 ? LS_DETECT_CENTERNET
				    : strcmp(v, "yolov8") == 0  ? LS_DETECT_YOLOV8
				    : strcmp(v, "dbnet") == 0   ? LS_DETECT_DBNET
								: LS_DETECT_AUTO;
		else if (strcmp(k, "threshold") == 0)
			dc.threshold = atof(v);
		else if (strcmp(k, "classes") == 0) {
			dc.all_classes = false;
			char **names = g_strsplit(v, ",", -1);
			for (char **p = names; *p; p++) {
				int c = ls_coco_index(*p);
				if (c < 0) {
					fprintf(stderr, "detect-tool: unknown class %s\n", *p);
					return 2;
				}
				dc.classes[c / 8] |= (uint8_t)(1u << (c % 8));
			}
			g_strfreev(names);
		} else if (strcmp(k, "input-size") == 0)
			sscanf(v, "%dx%d", &dc.input_w, &dc.input_h);
		else if (strcmp(k, "cams") == 0)
			cams = (unsigned)atoi(v);
		else if (strcmp(k, "repeat") == 0)
			repeat = (unsigned)atoi(v);
		else if (strcmp(k, "time") == 0) {
			timing = true;
			i--;
		} else {
			fprintf(stderr, "detect-tool: unknown option --%s\n", k);
			return 2;
		}
	}
	if (argc - i < 3 || cams < 1) {
		fprintf(stderr, "usage: detect-tool [options] MODEL i420|rgba:WxH FILE...\n");
		return 2;
	}
	dc.model = argv[i];
	char fmt[8] = "";
	int w = 0, h = 0;
	if (sscanf(argv[i + 1], "%7[a-z0-9]:%dx%d", fmt, &w, &h) != 3 || w < 2 || h < 2) {
		fprintf(stderr, "detect-tool: bad frame format %s\n", argv[i + 1]);
		return 2;
	}
	enum ls_pixfmt pf = strcmp(fmt, "rgba") == 0 ? LS_FMT_RGBA : LS_FMT_I420;
	size_t fsize = ls_pixfmt_size(pf, w, h);
	GPtrArray *frames = g_ptr_array_new();
	for (int a = i + 2; a < argc; a++) {
		gchar *data = NULL;
		gsize len = 0;
		if (!g_file_get_contents(argv[a], &data, &len, NULL) || len < fsize || len % fsize) {
			fprintf(stderr, "detect-tool: %s: not a whole number of %s frames\n", argv[a], argv[i + 1]);
			return 2;
		}
		for (gsize off = 0; off < len; off += fsize) {
			struct ls_frame *f = g_new0(struct ls_frame, 1);
			ls_frame_set_packed(f, pf, w, h, (uint8_t *)data + off);
			f->cam = (uint16_t)(frames->len % cams);
			f->capture_ns = (int64_t)(frames->len / cams) * 100000000;
			g_ptr_array_add(frames, f);
		}
	}
	char *err = NULL;
	struct ls_detector *d = ls_detector_new(&dc, cams, &err);
	if (!d) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	struct ls_detect_worker *wk = ls_detect_worker_new(d, &err);
	if (!wk) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	struct ls_detect_result *r = ls_detect_result_new(d);
	const char **names = g_new0(const char *, cams);
	for (unsigned c = 0; c < cams; c++)
		names[c] = g_strdup_printf("cam%u", c);
	GString *line = g_string_new(NULL);
	unsigned nsets = frames->len / cams;
	int64_t t0 = ls_monotonic_ns();
	for (unsigned rep = 0; rep < repeat; rep++)
		for (unsigned s = 0; s < nsets; s++) {
			r->n = s;
			r->slot_ns = (int64_t)s * 100000000;
			if (ls_detect_worker_run_frames(wk, (struct ls_frame *const *)&frames->pdata[s * cams], cams,
							NULL, r, &err) < 0) {
				fprintf(stderr, "%s\n", err);
				return 1;
			}
			if (rep == 0) {
				g_string_truncate(line, 0);
				ls_detect_result_json(d, r, names, line);
				fputs(line->str, stdout);
			}
		}
	int64_t t1 = ls_monotonic_ns();
	if (timing) {
		int64_t run_ns, total_ns;
		ls_detect_worker_times(wk, &run_ns, &total_ns);
		fprintf(stderr, "detect-tool: %u framesets x %u cams: %.2f ms per frameset (%.2f in Run)\n",
			nsets * repeat, cams, (double)(t1 - t0) / 1e6 / (nsets * repeat),
			(double)run_ns / 1e6 / (nsets * repeat));
	}
	ls_detect_result_free(&r);
	ls_detect_worker_free(&wk);
	ls_detector_free(&d);
	return 0;
}
