/* bench-redact: the redactor on recorded 1920x1080 screens, live-paced,
 * against naive full-frame Tesseract in the same run.
 *
 *   bench-redact FRAMES.yuv WIDTH HEIGHT --fps F --seconds S [--workers N] [--rules FILE] [--naive]
 *
 * FRAMES.yuv holds I420 frames back to back (ffmpeg -pix_fmt yuv420p -f
 * rawvideo); they are played in a loop at F fps, like a live source: frame i
 * is due at t0 + i/F; when the redactor is still busy, the frames that fell
 * due meanwhile are skipped (a live screen does not wait), so the output
 * rate shows what is sustained. Latency is from a frame's due time to the
 * end of its processing. One JSON line on stdout.
 *
 * --naive: for each frame, Tesseract reads the whole frame (automatic page
 * segmentation), as a tool without change detection or caching would; the
 * same number of threads read frames in parallel, as fast as they can. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ls_pii.h"
#include "ls_redact.h"
#include "ls_redact_pii.h"
#include "ls_time.h"
#include "ocr_tess.h"

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

struct naive {
	struct ls_redact_backend *b;
	uint8_t *frames;
	int w, h, nframes;
	atomic_int next;
	int limit;
	atomic_llong words;
	pthread_barrier_t ready; /* every Tesseract loaded: the clock starts */
};

static void *naive_thread(void *arg)
{
	struct naive *nv = arg;
	char *err = NULL;
	void *ctx = nv->b->worker_new(nv->b->user, 0, &err);
	if (!ctx) {
		fprintf(stderr, "bench-redact: %s\n", err ? err : "tesseract");
		exit(1);
	}
	pthread_barrier_wait(&nv->ready);
	size_t fs = (size_t)nv->w * (size_t)nv->h * 3 / 2;
	for (;;) {
		int i = atomic_fetch_add(&nv->next, 1);
		if (i >= nv->limit)
			break;
		int n = ls_tess_read_page(ctx, nv->frames + fs * (size_t)(i % nv->nframes), nv->w, nv->h, nv->w, NULL);
		atomic_fetch_add(&nv->words, n);
	}
	nv->b->worker_free(ctx);
	return NULL;
}

int main(int argc, char **argv)
{
	if (!getenv("OMP_THREAD_LIMIT") && setenv("OMP_THREAD_LIMIT", "1", 1) == 0)
		execv("/proc/self/exe", argv); /* libgomp reads it at load time */
	if (argc < 4) {
		fprintf(stderr, "usage: bench-redact FRAMES.yuv W H --fps F --seconds S [--workers N] [--rules FILE] "
				"[--naive N]\n");
		return 2;
	}
	int w = atoi(argv[2]), h = atoi(argv[3]), workers = 2, naive = 0;
	double fps = 30, seconds = 20;
	const char *rules_path = NULL;
	for (int i = 4; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--fps"))
			fps = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--seconds"))
			seconds = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--workers"))
			workers = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--rules"))
			rules_path = argv[i + 1];
		else if (!strcmp(argv[i], "--naive"))
			naive = atoi(argv[i + 1]);
	}
	size_t fs = (size_t)w * (size_t)h * 3 / 2;
	FILE *f = fopen(argv[1], "rb");
	struct stat sb;
	if (!f || fstat(fileno(f), &sb) < 0 || (size_t)sb.st_size < fs) {
		fprintf(stderr, "bench-redact: %s: cannot read %dx%d I420 frames\n", argv[1], w, h);
		return 1;
	}
	int nframes = (int)((size_t)sb.st_size / fs);
	uint8_t *frames = malloc(fs * (size_t)nframes), *out = malloc(fs);
	if (!frames || !out || fread(frames, fs, (size_t)nframes, f) != (size_t)nframes) {
		fprintf(stderr, "bench-redact: %s: short read\n", argv[1]);
		return 1;
	}
	fclose(f);
	struct ls_redact_backend *b = ls_tess_backend_new(NULL);

	if (naive) {
		/* naive: `naive` frames read whole, `workers` threads in parallel */
		struct naive nv = { b, frames, w, h, nframes, 0, naive, 0 };
		pthread_t th[64];
		struct rusage nr0, nr1;
		if (workers < 1 || workers > 64)
			workers = 2;
		pthread_barrier_init(&nv.ready, NULL, (unsigned)workers + 1);
		for (int i = 0; i < workers; i++)
			pthread_create(&th[i], NULL, naive_thread, &nv);
		pthread_barrier_wait(&nv.ready); /* loading Tesseract is not counted */
		getrusage(RUSAGE_SELF, &nr0);
		int64_t t0 = ls_monotonic_ns();
		for (int i = 0; i < workers; i++)
			pthread_join(th[i], NULL);
		double secs = (double)(ls_monotonic_ns() - t0) / 1e9;
		getrusage(RUSAGE_SELF, &nr1);
		pthread_barrier_destroy(&nv.ready);
		double ncpu = (double)(nr1.ru_utime.tv_sec - nr0.ru_utime.tv_sec + nr1.ru_stime.tv_sec -
				       nr0.ru_stime.tv_sec) +
			      (double)(nr1.ru_utime.tv_usec - nr0.ru_utime.tv_usec + nr1.ru_stime.tv_usec -
				       nr0.ru_stime.tv_usec) /
				      1e6;
		printf("{\"mode\":\"naive\",\"frames\":%d,\"threads\":%d,\"seconds\":%.2f,\"fps\":%.3f,\"ms_per_frame\":%.0f,"
		       "\"words_per_frame\":%.0f,\"cpu_s\":%.2f}\n",
		       naive, workers, secs, naive / secs, secs * 1000 / naive, (double)atomic_load(&nv.words) / naive,
		       ncpu);
		ls_tess_backend_free(&b);
		free(frames);
		free(out);
		return 0;
	}

	char *err = NULL;
	struct ls_pii_rules *rules = NULL;
	if (ls_pii_rules_load(rules_path ? rules_path : "rules/pii.rules", &rules, &err) < 0) {
		fprintf(stderr, "bench-redact: %s\n", err);
		return 1;
	}
	/* clang-format off */
	struct ls_redact_params p = {
		.width = w, .height = h, .workers = workers, .ocr = b, .scan = ls_pii_redact_scan, .scan_user = rules,
	};
	/* clang-format on */
	struct ls_redactor *r = NULL;
	if (ls_redactor_new(&p, &r, &err) < 0) {
		fprintf(stderr, "bench-redact: %s\n", err);
		return 1;
	}
	int64_t period = (int64_t)(1e9 / fps);
	size_t cap = (size_t)(seconds * fps) + 16;
	int64_t *lat = malloc(cap * sizeof(*lat)), *proc = malloc(cap * sizeof(*proc));
	long done = 0, skipped = 0, full = 0, pending_frames = 0, scrolls = 0;
	double pending_tiles = 0, mask_boxes = 0;
	struct rusage ru0, ru1;
	getrusage(RUSAGE_SELF, &ru0);
	int64_t t0 = ls_monotonic_ns(), end = t0 + (int64_t)(seconds * 1e9);
	long i = 0;
	while (done < (long)cap) {
		int64_t due = t0 + i * period;
		if (due >= end)
			break;
		int64_t now = ls_monotonic_ns();
		if (now < due) {
			ls_sleep_until(ls_realtime_ns() + (due - now));
			now = ls_monotonic_ns();
		}
		/* skip to the newest frame that is due */
		long newest = (now - t0) / period;
		if (newest > i) {
			skipped += newest - i;
			i = newest;
			due = t0 + i * period;
		}
		uint8_t *in = frames + fs * (size_t)(i % nframes);
		struct ls_redact_image I = { { in, in + (size_t)w * h, in + (size_t)w * h * 5 / 4 },
					     { w, w / 2, w / 2 } };
		struct ls_redact_image O = { { out, out + (size_t)w * h, out + (size_t)w * h * 5 / 4 },
					     { w, w / 2, w / 2 } };
		struct ls_redact_stats st;
		/* capture_ns on the same clock as now_ns: the due time */
		ls_redactor_process(r, &I, &O, due, ls_monotonic_ns(), &st);
		int64_t fin = ls_monotonic_ns();
		lat[done] = fin - due;
		proc[done] = st.process_ns;
		full += st.full_mask;
		scrolls += st.scroll_dy != 0;
		pending_frames += st.pending_tiles > 0;
		pending_tiles += st.pending_tiles;
		mask_boxes += st.mask_boxes;
		done++;
		i++;
	}
	double secs = (double)(ls_monotonic_ns() - t0) / 1e9;
	getrusage(RUSAGE_SELF, &ru1);
	double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
		     (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec -
			      ru0.ru_stime.tv_usec) /
			     1e6;
	struct ls_redact_totals t;
	ls_redactor_totals(r, &t);
	qsort(lat, (size_t)done, sizeof(*lat), cmp_i64);
	qsort(proc, (size_t)done, sizeof(*proc), cmp_i64);
	int tiles = ((w + 31) / 32) * ((h + 31) / 32);
	printf("{\"mode\":\"redact\",\"input_fps\":%.1f,\"seconds\":%.1f,\"frames_out\":%ld,\"skipped\":%ld,\"fps\":%.2f,"
	       "\"latency_p50_ms\":%.2f,\"latency_p99_ms\":%.2f,\"latency_max_ms\":%.2f,\"process_p50_ms\":%.2f,"
	       "\"process_p99_ms\":%.2f,\"full_masks\":%ld,\"frames_with_pending\":%ld,\"pending_tile_share\":%.4f,"
	       "\"scroll_frames\":%ld,\"mask_boxes_avg\":%.1f,\"ocr_jobs\":%llu,\"cache_hits\":%llu,\"ocr_cpu_s\":%.2f,\"cpu_s\":%.2f}\n",
	       fps, secs, done, skipped, done / secs, lat[done / 2] / 1e6, lat[(done * 99) / 100] / 1e6,
	       lat[done - 1] / 1e6, proc[done / 2] / 1e6, proc[(done * 99) / 100] / 1e6, full, pending_frames,
	       pending_tiles / (double)done / tiles, scrolls, mask_boxes / (double)done, (unsigned long long)t.ocr_jobs,
	       (unsigned long long)t.cache_hits, (double)t.ocr_ns / 1e9, cpu);
	ls_redactor_free(&r);
	ls_pii_rules_free(&rules);
	ls_tess_backend_free(&b);
	free(lat);
	free(proc);
	free(frames);
	free(out);
	return 0;
}
