/* naive-redact: the peer of bench/redact_overmask.py. A redactor without
 * change detection, caching or fail-closed rules: Tesseract reads each
 * whole frame (automatic page segmentation), each of its text lines is
 * scanned with the same personal-data rules as lockstep's, and the words a
 * rule matches are boxed (padded as lockstep pads: a third of the line
 * height up and down, two thirds sideways). Whatever Tesseract does not
 * find or misreads is shown.
 *
 *   naive-redact IN.y4m OUT.y4m [--every N] [--workers N] [--rules FILE]
 *
 * Reads every N-th frame of IN (I420 y4m) with N worker threads in
 * parallel, as fast as they can, and writes them redacted to OUT (y4m, in
 * input order) and OUT.frames.jsonl ({"output","input","ms","words",
 * "lines"} a frame). One JSON line on stdout: frames, threads, seconds,
 * fps (frames read per second of wall time), ms_p50 / ms_p99 per frame,
 * lines_per_s, cpu_s. A live screen shows a naive redactor's frame that
 * much later than it was taken. */
#include <glib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ls_pii.h"
#include "ls_redact.h"
#include "ls_redact_pii.h"
#include "ls_time.h"
#include "ocr_tess.h"

struct frame {
	int input;
	uint8_t *buf;
	double ms;
	int words, lines;
};

struct job {
	struct ls_redact_backend *b;
	struct ls_pii_rules *rules;
	struct frame *f;
	int n, w, h;
	atomic_int next;
	pthread_barrier_t ready; /* every Tesseract loaded: the clock starts */
};

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Boxes the words of one Tesseract line [@a, @b) that a rule matches. */
static void redact_line(struct job *j, struct frame *f, const struct ls_redact_ocr *o, int a, int b)
{
	GString *t = g_string_new(NULL);
	int *start = g_new(int, b - a), *end = g_new(int, b - a), lh = 0;
	for (int k = a; k < b; k++) {
		if (k > a)
			g_string_append_c(t, ' ');
		start[k - a] = (int)t->len;
		g_string_append(t, o->words[k].text);
		end[k - a] = (int)t->len;
		lh = o->words[k].h > lh ? o->words[k].h : lh;
	}
	struct ls_redact_match m[64];
	int nm = ls_pii_redact_scan(j->rules, t->str, m, 64);
	if (getenv("NAIVE_DEBUG")) /* what it read: screen text on stderr, for looking into a result */
		fprintf(stderr, "frame %d line @%d,%d: \"%s\" -> %d\n", f->input, o->words[a].x, o->words[a].y, t->str,
			nm);
	struct ls_redact_image img = { { f->buf, f->buf + (size_t)j->w * j->h, f->buf + (size_t)j->w * j->h * 5 / 4 },
				       { j->w, j->w / 2, j->w / 2 } };
	for (int i = 0; i < nm; i++)
		for (int k = a; k < b; k++) {
			if (end[k - a] <= m[i].start || start[k - a] >= m[i].end)
				continue;
			const struct ls_redact_word *wd = &o->words[k];
			int px = lh * 2 / 3, py = lh / 3;
			ls_redact_fill(&img, j->w, j->h, wd->x - px, wd->y - py, wd->w + 2 * px, wd->h + 2 * py);
		}
	g_free(start);
	g_free(end);
	g_string_free(t, TRUE);
}

static void *worker(void *arg)
{
	struct job *j = arg;
	char *err = NULL;
	void *ctx = j->b->worker_new(j->b->user, 0, &err);
	if (!ctx) {
		fprintf(stderr, "naive-redact: %s\n", err ? err : "tesseract did not start");
		exit(1);
	}
	pthread_barrier_wait(&j->ready);
	for (;;) {
		int i = atomic_fetch_add(&j->next, 1);
		if (i >= j->n)
			break;
		struct frame *f = &j->f[i];
		int64_t t0 = ls_monotonic_ns();
		struct ls_redact_ocr o = { 0 };
		if (ls_tess_read_page(ctx, f->buf, j->w, j->h, j->w, &o) < 0) {
			fprintf(stderr, "naive-redact: input frame %d: tesseract failed\n", f->input);
			exit(1);
		}
		f->words = o.nwords;
		for (int a = 0, b; a < o.nwords; a = b) {
			for (b = a + 1; b < o.nwords && o.words[b].line == o.words[a].line; b++)
				;
			redact_line(j, f, &o, a, b);
			f->lines++;
		}
		ls_redact_ocr_clear(&o);
		f->ms = (double)(ls_monotonic_ns() - t0) / 1e6;
	}
	j->b->worker_free(ctx);
	return NULL;
}

static double cpu_s(void)
{
	struct rusage r;
	getrusage(RUSAGE_SELF, &r);
	return (double)(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
	       (double)(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char **argv)
{
	if (!getenv("OMP_THREAD_LIMIT") && setenv("OMP_THREAD_LIMIT", "1", 1) == 0)
		execv("/proc/self/exe", argv); /* libgomp reads it at load time */
	if (argc < 3) {
		fprintf(stderr, "usage: naive-redact IN.y4m OUT.y4m [--every N] [--workers N] [--rules FILE]\n");
		return 2;
	}
	int every = 5, workers = 2;
	const char *rules_path = "rules/pii.rules";
	for (int i = 3; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--every"))
			every = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--workers"))
			workers = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--rules"))
			rules_path = argv[i + 1];
		else {
			fprintf(stderr, "naive-redact: %s: unknown option\n", argv[i]);
			return 2;
		}
	}
	if (every < 1 || workers < 1 || workers > 64) {
		fprintf(stderr, "naive-redact: --every must be >= 1 and --workers 1..64\n");
		return 2;
	}
	FILE *in = fopen(argv[1], "rb");
	char hdr[512];
	if (!in || !fgets(hdr, sizeof hdr, in) || strncmp(hdr, "YUV4MPEG2 ", 10) != 0) {
		fprintf(stderr, "naive-redact: %s: not a y4m file\n", argv[1]);
		return 1;
	}
	int w = 0, h = 0;
	for (char *p = strtok(hdr + 10, " \n"); p; p = strtok(NULL, " \n")) {
		if (p[0] == 'W')
			w = atoi(p + 1);
		else if (p[0] == 'H')
			h = atoi(p + 1);
		else if (p[0] == 'C' && strncmp(p, "C420", 4) != 0) {
			fprintf(stderr, "naive-redact: %s: colour space %s, not 4:2:0\n", argv[1], p + 1);
			return 1;
		}
	}
	if (w <= 0 || h <= 0 || w % 2 || h % 2) {
		fprintf(stderr, "naive-redact: %s: no even frame size in the y4m header\n", argv[1]);
		return 1;
	}
	/* the header again, as written (strtok cut it) */
	rewind(in);
	char header[512];
	if (!fgets(header, sizeof header, in))
		return 1;
	size_t fs = (size_t)w * (size_t)h * 3 / 2;
	struct frame *f = NULL;
	int n = 0, cap = 0;
	char line[256];
	for (int i = 0; fgets(line, sizeof line, in); i++) {
		if (strncmp(line, "FRAME", 5) != 0) {
			fprintf(stderr, "naive-redact: %s: frame %d: no FRAME marker\n", argv[1], i);
			return 1;
		}
		uint8_t *buf = g_malloc(fs);
		if (fread(buf, 1, fs, in) != fs) {
			fprintf(stderr, "naive-redact: %s: frame %d: short\n", argv[1], i);
			return 1;
		}
		if (i % every) {
			g_free(buf);
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			f = g_renew(struct frame, f, cap);
		}
		f[n++] = (struct frame){ .input = i, .buf = buf };
	}
	fclose(in);
	if (!n) {
		fprintf(stderr, "naive-redact: %s: no frames\n", argv[1]);
		return 1;
	}
	char *err = NULL;
	struct ls_pii_rules *rules = NULL;
	if (ls_pii_rules_load(rules_path, &rules, &err) < 0) {
		fprintf(stderr, "naive-redact: %s\n", err);
		return 1;
	}
	struct ls_redact_backend *b = ls_tess_backend_new(NULL);
	struct job j = { .b = b, .rules = rules, .f = f, .n = n, .w = w, .h = h };
	pthread_t th[64];
	pthread_barrier_init(&j.ready, NULL, (unsigned)workers + 1);
	for (int i = 0; i < workers; i++)
		pthread_create(&th[i], NULL, worker, &j);
	pthread_barrier_wait(&j.ready); /* loading Tesseract is not counted */
	double c0 = cpu_s();
	int64_t t0 = ls_monotonic_ns();
	for (int i = 0; i < workers; i++)
		pthread_join(th[i], NULL);
	double secs = (double)(ls_monotonic_ns() - t0) / 1e9, cpu = cpu_s() - c0;
	pthread_barrier_destroy(&j.ready);

	char *idx = g_strconcat(argv[2], ".frames.jsonl", NULL);
	FILE *out = fopen(argv[2], "wb"), *ix = fopen(idx, "w");
	if (!out || !ix || fputs(header, out) < 0) {
		fprintf(stderr, "naive-redact: %s: cannot write\n", out ? idx : argv[2]);
		return 1;
	}
	double *ms = g_new(double, n);
	long lines = 0, words = 0;
	for (int i = 0; i < n; i++) {
		fputs("FRAME\n", out);
		fwrite(f[i].buf, 1, fs, out);
		fprintf(ix, "{\"output\":%d,\"input\":%d,\"ms\":%.1f,\"words\":%d,\"lines\":%d}\n", i, f[i].input,
			f[i].ms, f[i].words, f[i].lines);
		ms[i] = f[i].ms;
		lines += f[i].lines;
		words += f[i].words;
		g_free(f[i].buf);
	}
	if (fclose(out) != 0 || fclose(ix) != 0) {
		fprintf(stderr, "naive-redact: %s: cannot write\n", argv[2]);
		return 1;
	}
	qsort(ms, (size_t)n, sizeof(*ms), cmp_d);
	printf("{\"mode\":\"naive\",\"frames\":%d,\"every\":%d,\"threads\":%d,\"seconds\":%.2f,\"fps\":%.3f,"
	       "\"ms_p50\":%.0f,\"ms_p99\":%.0f,\"words_per_frame\":%.0f,\"lines_per_s\":%.1f,\"cpu_s\":%.2f}\n",
	       n, every, workers, secs, n / secs, ms[n / 2], ms[(n * 99) / 100], (double)words / n, lines / secs, cpu);
	g_free(ms);
	g_free(f);
	g_free(idx);
	ls_pii_rules_free(&rules);
	ls_tess_backend_free(&b);
	return 0;
}
