/* bench-ocr: the redactor's OCR backends on the text lines of the corpus
 * (tests/corpus/gen_corpus.py): Tesseract (eng+deu, deu, eng) against
 * PP-OCRv4 (src/stages/ocr_ppocr.h), and PP-OCR with Tesseract as a second
 * opinion.
 *
 *   bench-ocr CORPUS [--rec NAME,...] [--workers N] [--threads N] [--margin PX]
 *             [--every K] [--rules FILE] [--model ONNX] [--keys TXT]
 *             [--second-conf C] [--second-langs L] [--json FILE] [--subst N]
 *             [--units]
 *
 * CORPUS is a scenario directory (truth.json and its PNGs) or a directory of
 * them. Every distinct truth `lines` box (scenario, box, text) is cut from
 * its frame's luma (the PNG converted to I420 by GStreamer, as the pipeline
 * would) with MARGIN px around it (default 3) and read once per recogniser
 * by WORKERS threads (default 2), each with its own worker of the backend;
 * --every K keeps every K-th line. Recognisers (--rec, default all):
 *   tess-eng+deu, tess-deu, tess-eng  Tesseract LSTM (ls_tess_backend_new)
 *   ppocr          PP-OCR, a session per worker, THREADS intra-op threads
 *   ppocr-shared   PP-OCR, one session for all workers
 *   ppocr-raw      PP-OCR without its German repair (the model's letters)
 *   ppocr+tess     PP-OCR; Tesseract (--second-langs, default eng+deu)
 *                  reads the crop again when a word has confidence under
 *                  --second-conf (default 90) or a character that is not
 *                  Latin; ppocr+tess-LANGS: with those languages
 *
 * Per recogniser: lines per second (wall, loading not counted), CPU seconds
 * of the process meanwhile, exact lines (whitespace runs as one space),
 * character recall 1 - edit distance / length (code points; all lines, and
 * lines with ä ö ü ß Ä Ö Ü), words under confidence 50 (what the redactor
 * masks as unreadable), and for the `pii` items of the truth: read exactly
 * (the value, spaces removed, is a substring of the line read, spaces
 * removed), flagged (ls_pii_scan() on the row as the redactor builds it —
 * the lines of the visual row joined by a space or a tab — matches a range
 * overlapping the value, mapped into the text read by an alignment), and
 * protected (flagged, or a word of 3+ bytes over the value reads under
 * confidence 50: the redactor masks it either way). The pii items the
 * scanner flags on the true text are the reference. A table on stdout, then
 * one JSON object (or into --json FILE); what umlauts became, the --subst N
 * most frequent per letter, on stderr. BENCH_OCR_DUMP=1 prints the lines
 * read wrong (=all: every line) with the lowest word confidence.
 *
 * --units: speed only, on what the redactor really reads: the text units
 * its detector (ls_redact_find_text) finds in every distinct frame,
 * distinct by place and pixels; lines per second counts the truth lines
 * inside them. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <glib.h>
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <json-glib/json-glib.h>

#include "ls_pii.h"
#include "ls_redact.h"
#include "ls_time.h"
#include "ocr_ppocr.h"
#include "ocr_tess.h"

#define MAX_ROW 32

struct uline {
	char *text; /* truth */
	int x, y, w, h;
	uint8_t *pix; /* the crop, packed */
	int cw, ch;
	bool uml;  /* has ä ö ü ß Ä Ö Ü */
	char lang; /* of its screen: 'd', 'e' or 0 */
};

struct pitem {
	char *kind, *text;
	int line, off;  /* the line holding it and the value's byte offset in its text */
	int nrow, self; /* the visual row: lines left to right, `self` the pii's */
	int row[MAX_ROW];
	char sep[MAX_ROW]; /* before each line: 0, ' ' or '\t' */
	bool flagged_truth;
};

struct wrange {
	int s, e; /* bytes in the text read */
	float conf;
};

struct result {
	char *text;
	int nw;
	struct wrange *w;
};

/* ---- the corpus ----------------------------------------------------------- */

static struct uline *L;
static int nl, lcap;
static struct pitem *P;
static int np, pcap;
/* --units: the redactor's text units (ls_redact_find_text) of every distinct
 * frame, distinct by place and pixels, and the truth lines inside them */
static bool units_mode;
static struct uline *U;
static int nu, ucap;
static long unit_lines;

static bool has_umlaut(const char *s)
{
	static const char *const u[] = { "ä", "ö", "ü", "ß", "Ä", "Ö", "Ü" };
	for (size_t i = 0; i < G_N_ELEMENTS(u); i++)
		if (strstr(s, u[i]))
			return true;
	return false;
}

/* The luma of a PNG, converted to I420 like the pipeline would. */
static uint8_t *load_luma(const char *path, int *w, int *h, int *stride)
{
	GError *ge = NULL;
	GstElement *p = gst_parse_launch("filesrc name=src ! pngdec ! videoconvert ! video/x-raw,format=I420 ! "
					 "appsink name=sink sync=false",
					 &ge);
	if (!p) {
		fprintf(stderr, "bench-ocr: GStreamer: %s\n", ge ? ge->message : "?");
		exit(1);
	}
	GstElement *src = gst_bin_get_by_name(GST_BIN(p), "src"), *sink = gst_bin_get_by_name(GST_BIN(p), "sink");
	g_object_set(src, "location", path, NULL);
	gst_element_set_state(p, GST_STATE_PLAYING);
	GstSample *s = gst_app_sink_pull_sample(GST_APP_SINK(sink));
	uint8_t *out = NULL;
	GstVideoInfo vi;
	GstMapInfo mi;
	if (s && gst_video_info_from_caps(&vi, gst_sample_get_caps(s)) &&
	    gst_buffer_map(gst_sample_get_buffer(s), &mi, GST_MAP_READ)) {
		*w = GST_VIDEO_INFO_WIDTH(&vi);
		*h = GST_VIDEO_INFO_HEIGHT(&vi);
		*stride = *w;
		out = g_malloc((size_t)*w * (size_t)*h);
		for (int y = 0; y < *h; y++)
			memcpy(out + (size_t)y * (size_t)*w,
			       mi.data + GST_VIDEO_INFO_PLANE_OFFSET(&vi, 0) +
				       (size_t)y * (size_t)GST_VIDEO_INFO_PLANE_STRIDE(&vi, 0),
			       (size_t)*w);
		gst_buffer_unmap(gst_sample_get_buffer(s), &mi);
	}
	if (s)
		gst_sample_unref(s);
	gst_element_set_state(p, GST_STATE_NULL);
	gst_object_unref(src);
	gst_object_unref(sink);
	gst_object_unref(p);
	if (!out) {
		fprintf(stderr, "bench-ocr: %s: cannot decode the PNG\n", path);
		exit(1);
	}
	return out;
}

static int jint(JsonObject *o, const char *k) { return (int)json_object_get_int_member(o, k); }

static int cmp_x(const void *a, const void *b)
{
	int x = L[*(const int *)a].x, y = L[*(const int *)b].x;
	return (x > y) - (x < y);
}

/* --units: cuts the text units of a frame, the first time their place and
 * pixels are seen, and counts the truth lines inside the new ones. */
static void units_add(const char *dir, const uint8_t *luma, int fw, int fh, int fs, JsonArray *lines, int every)
{
	static GHashTable *seen;
	static int counter;
	if (!seen)
		seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	struct ls_redact_box box[4096];
	int nb = ls_redact_find_text(luma, fs, fw, fh, 0, fh, box, 4096);
	for (int k = 0; k < nb; k++) {
		const struct ls_redact_box *b = &box[k];
		uint64_t h = 1469598103934665603ull;
		for (int y = 0; y < b->h; y++)
			for (int x = 0; x < b->w; x++)
				h = (h ^ luma[(size_t)(b->y + y) * (size_t)fs + (size_t)(b->x + x)]) * 1099511628211ull;
		char *key = g_strdup_printf("%s|%d,%d,%d,%d|%016llx", dir, b->x, b->y, b->w, b->h,
					    (unsigned long long)h);
		if (g_hash_table_contains(seen, key) || counter++ % every) {
			g_free(key);
			continue;
		}
		g_hash_table_add(seen, key);
		if (nu == ucap) {
			ucap = ucap ? ucap * 2 : 1024;
			U = g_renew(struct uline, U, ucap);
		}
		struct uline *u = &U[nu++];
		memset(u, 0, sizeof(*u));
		u->x = b->x;
		u->y = b->y;
		u->cw = u->w = b->w;
		u->ch = u->h = b->h;
		u->pix = g_malloc((size_t)b->w * (size_t)b->h);
		for (int y = 0; y < b->h; y++)
			memcpy(u->pix + (size_t)y * (size_t)b->w, luma + (size_t)(b->y + y) * (size_t)fs + b->x,
			       (size_t)b->w);
		for (guint i = 0; i < json_array_get_length(lines); i++) {
			JsonObject *lo = json_array_get_object_element(lines, i);
			int cx = jint(lo, "x") + jint(lo, "w") / 2, cy = jint(lo, "y") + jint(lo, "h") / 2;
			unit_lines += cx >= b->x && cx < b->x + b->w && cy >= b->y && cy < b->y + b->h;
		}
	}
}

/* Reads DIR/truth.json and cuts its lines. */
static void load_scenario(const char *dir, int margin, int every, GHashTable *seen, GHashTable *pseen)
{
	char *tp = g_build_filename(dir, "truth.json", NULL);
	JsonParser *jp = json_parser_new();
	GError *ge = NULL;
	if (!json_parser_load_from_file(jp, tp, &ge)) {
		fprintf(stderr, "bench-ocr: %s: %s\n", tp, ge->message);
		exit(1);
	}
	JsonObject *root = json_node_get_object(json_parser_get_root(jp));
	JsonArray *frames = json_object_get_array_member(root, "frames");
	static int counter;
	GHashTable *files = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	for (guint f = 0; f < json_array_get_length(frames); f++) {
		JsonObject *fr = json_array_get_object_element(frames, f);
		JsonArray *lines = json_object_get_array_member(fr, "lines");
		int n = (int)json_array_get_length(lines);
		int *ids = g_new(int, n > 0 ? n : 1);
		uint8_t *luma = NULL;
		int fw = 0, fh = 0, fs = 0;
		const char *file = json_object_get_string_member(fr, "file");
		if (units_mode && !g_hash_table_contains(files, file)) {
			g_hash_table_add(files, g_strdup(file));
			char *png = g_build_filename(dir, file, NULL);
			luma = load_luma(png, &fw, &fh, &fs);
			g_free(png);
			units_add(dir, luma, fw, fh, fs, lines, every);
		}
		for (int i = 0; i < n; i++) {
			JsonObject *lo = json_array_get_object_element(lines, (guint)i);
			const char *text = json_object_get_string_member(lo, "text");
			char *key = g_strdup_printf("%s|%d,%d,%d,%d|%s", dir, jint(lo, "x"), jint(lo, "y"),
						    jint(lo, "w"), jint(lo, "h"), text);
			gpointer v;
			if (g_hash_table_lookup_extended(seen, key, NULL, &v)) {
				ids[i] = GPOINTER_TO_INT(v);
				g_free(key);
				continue;
			}
			if (counter++ % every) {
				g_hash_table_insert(seen, key, GINT_TO_POINTER(-1));
				ids[i] = -1;
				continue;
			}
			if (!luma) {
				char *png = g_build_filename(dir, file, NULL);
				luma = load_luma(png, &fw, &fh, &fs);
				g_free(png);
			}
			if (nl == lcap) {
				lcap = lcap ? lcap * 2 : 1024;
				L = g_renew(struct uline, L, lcap);
			}
			struct uline *u = &L[nl];
			u->text = g_strdup(text);
			u->x = jint(lo, "x");
			u->y = jint(lo, "y");
			u->w = jint(lo, "w");
			u->h = jint(lo, "h");
			u->uml = has_umlaut(text);
			JsonObject *style = json_object_has_member(fr, "style")
						    ? json_object_get_object_member(fr, "style")
						    : NULL;
			const char *lang = style && json_object_has_member(style, "lang")
						   ? json_object_get_string_member(style, "lang")
						   : "";
			u->lang = !strcmp(lang, "de") ? 'd' : !strcmp(lang, "en") ? 'e' : 0;
			int x0 = MAX(0, u->x - margin), y0 = MAX(0, u->y - margin);
			int x1 = MIN(fw, u->x + u->w + margin), y1 = MIN(fh, u->y + u->h + margin);
			u->cw = x1 - x0;
			u->ch = y1 - y0;
			u->pix = g_malloc((size_t)u->cw * (size_t)u->ch);
			for (int y = 0; y < u->ch; y++)
				memcpy(u->pix + (size_t)y * (size_t)u->cw, luma + (size_t)(y0 + y) * (size_t)fs + x0,
				       (size_t)u->cw);
			g_hash_table_insert(seen, key, GINT_TO_POINTER(nl));
			ids[i] = nl++;
		}
		g_free(luma);
		JsonArray *pii = json_object_get_array_member(fr, "pii");
		for (guint k = 0; pii && k < json_array_get_length(pii); k++) {
			JsonObject *po = json_array_get_object_element(pii, k);
			const char *text = json_object_get_string_member(po, "text");
			int px = jint(po, "x"), py = jint(po, "y"), pw = jint(po, "w"), ph = jint(po, "h");
			int self = -1, off = -1;
			for (int i = 0; i < n && self < 0; i++) {
				JsonObject *lo = json_array_get_object_element(lines, (guint)i);
				const char *lt = json_object_get_string_member(lo, "text");
				const char *at = strstr(lt, text);
				if (at && jint(lo, "x") <= px + 1 && jint(lo, "y") <= py + 1 &&
				    jint(lo, "x") + jint(lo, "w") >= px + pw - 1 &&
				    jint(lo, "y") + jint(lo, "h") >= py + ph - 1) {
					self = i;
					off = (int)(at - lt);
				}
			}
			if (self < 0 || ids[self] < 0 || !*text)
				continue;
			/* the visual row: lines overlapping it by half the smaller height */
			struct pitem it = { 0 };
			JsonObject *so = json_array_get_object_element(lines, (guint)self);
			int sy0 = jint(so, "y"), sy1 = sy0 + jint(so, "h");
			int cand[MAX_ROW], nc = 0;
			bool complete = true;
			for (int i = 0; i < n && nc < MAX_ROW; i++) {
				JsonObject *lo = json_array_get_object_element(lines, (guint)i);
				int y0 = jint(lo, "y"), y1 = y0 + jint(lo, "h");
				int ov = MIN(y1, sy1) - MAX(y0, sy0);
				if (ov * 2 >= MIN(y1 - y0, sy1 - sy0)) {
					if (ids[i] < 0)
						complete = false;
					cand[nc++] = ids[i];
				}
			}
			if (!complete)
				continue; /* --every dropped part of the row */
			qsort(cand, (size_t)nc, sizeof(int), cmp_x);
			GString *key = g_string_new(NULL);
			g_string_append_printf(key, "%d:%d:%s", ids[self], off, text);
			for (int i = 0; i < nc; i++) {
				it.row[i] = cand[i];
				it.self = cand[i] == ids[self] ? i : it.self;
				g_string_append_printf(key, ",%d", cand[i]);
				if (i) {
					const struct uline *a = &L[cand[i - 1]], *b = &L[cand[i]];
					int hh = MAX(a->y + a->h, b->y + b->h) - MIN(a->y, b->y);
					it.sep[i] = (b->x - (a->x + a->w)) * 2 < hh * 3 ? ' ' : '\t';
				}
			}
			it.nrow = nc;
			if (g_hash_table_contains(pseen, key->str)) {
				g_string_free(key, TRUE);
				continue;
			}
			g_hash_table_add(pseen, g_string_free(key, FALSE));
			it.kind = g_strdup(json_object_get_string_member(po, "kind"));
			it.text = g_strdup(text);
			it.line = ids[self];
			it.off = off;
			if (np == pcap) {
				pcap = pcap ? pcap * 2 : 256;
				P = g_renew(struct pitem, P, pcap);
			}
			P[np++] = it;
		}
		g_free(ids);
	}
	g_hash_table_destroy(files);
	g_object_unref(jp);
	g_free(tp);
}

/* ---- PP-OCR with Tesseract as a second opinion ---------------------------- */

struct combo {
	struct ls_redact_backend ops;
	struct ls_redact_backend *pp, *ts;
	float conf;
	atomic_long lines, second;
};

struct combo_w {
	struct combo *c;
	void *pw, *tw;
};

static void *combo_worker_new(void *user, int idx, char **err)
{
	struct combo *c = user;
	struct combo_w *w = g_new0(struct combo_w, 1);
	w->c = c;
	w->pw = c->pp->worker_new(c->pp->user, idx, err);
	w->tw = w->pw ? c->ts->worker_new(c->ts->user, idx, err) : NULL;
	if (!w->tw) {
		if (w->pw)
			c->pp->worker_free(w->pw);
		g_free(w);
		return NULL;
	}
	return w;
}

static void combo_worker_free(void *p)
{
	struct combo_w *w = p;
	w->c->pp->worker_free(w->pw);
	w->c->ts->worker_free(w->tw);
	g_free(w);
}

/* Latin script, digits, punctuation, € and typographic quotes and dashes */
static bool latin(const char *s)
{
	for (const char *p = s; *p; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if (c < 0x250 || c == 0x20ac || (c >= 0x2010 && c <= 0x2026))
			continue;
		return false;
	}
	return true;
}

static int combo_recognize(void *p, const uint8_t *gray, int w, int h, int stride, struct ls_redact_ocr *out)
{
	struct combo_w *cw = p;
	struct combo *c = cw->c;
	int rc = c->pp->recognize(cw->pw, gray, w, h, stride, out);
	if (rc < 0)
		return rc;
	bool doubt = false;
	for (int k = 0; k < out->nwords && !doubt; k++)
		doubt = out->words[k].conf < c->conf || !latin(out->words[k].text);
	atomic_fetch_add(&c->lines, 1);
	if (!doubt)
		return 0;
	atomic_fetch_add(&c->second, 1);
	ls_redact_ocr_clear(out);
	return c->ts->recognize(cw->tw, gray, w, h, stride, out);
}

/* ---- running a recogniser ------------------------------------------------- */

struct job {
	struct ls_redact_backend *b;
	const struct uline *A; /* the crops */
	int n;
	struct result *R;
	atomic_int next, failed;
	pthread_barrier_t ready;
	atomic_int idx;
};

static void take(struct result *r, struct ls_redact_ocr *o)
{
	GString *t = g_string_new(NULL);
	r->w = g_new(struct wrange, o->nwords > 0 ? o->nwords : 1);
	r->nw = 0;
	for (int k = 0; k < o->nwords; k++) {
		if (!o->words[k].text || !*o->words[k].text)
			continue;
		if (t->len)
			g_string_append_c(t, ' ');
		r->w[r->nw].s = (int)t->len;
		g_string_append(t, o->words[k].text);
		r->w[r->nw].e = (int)t->len;
		r->w[r->nw].conf = o->words[k].conf;
		r->nw++;
	}
	r->text = g_string_free(t, FALSE);
	ls_redact_ocr_clear(o);
}

static void *job_thread(void *arg)
{
	struct job *j = arg;
	char *err = NULL;
	int idx = atomic_fetch_add(&j->idx, 1);
	void *ctx = j->b->worker_new(j->b->user, idx, &err);
	if (!ctx) {
		fprintf(stderr, "bench-ocr: worker: %s\n", err ? err : "?");
		free(err);
		atomic_store(&j->failed, 1);
	}
	pthread_barrier_wait(&j->ready);
	for (;;) {
		int i = atomic_fetch_add(&j->next, 1);
		if (i >= j->n || !ctx || atomic_load(&j->failed))
			break;
		struct ls_redact_ocr o = { 0, NULL };
		const struct uline *u = &j->A[i];
		if (j->b->recognize(ctx, u->pix, u->cw, u->ch, u->cw, &o) < 0) {
			fprintf(stderr, "bench-ocr: recognize failed on line %d\n", i);
			atomic_store(&j->failed, 1);
			break;
		}
		take(&j->R[i], &o);
	}
	if (ctx)
		j->b->worker_free(ctx);
	return NULL;
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* ---- scoring -------------------------------------------------------------- */

/* Code points of @s with whitespace runs as one space, trimmed. */
static gunichar *cps(const char *s, int *n, bool norm)
{
	glong len = g_utf8_strlen(s, -1);
	gunichar *u = g_new(gunichar, len + 1);
	int k = 0;
	for (const char *p = s; *p; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if (norm && (c == ' ' || c == '\t')) {
			if (k == 0 || u[k - 1] == ' ')
				continue;
			c = ' ';
		}
		u[k++] = c;
	}
	while (norm && k && u[k - 1] == ' ')
		k--;
	*n = k;
	return u;
}

/* Levenshtein distance of a and b; with @map (na + 1 entries) each a[i]'s
 * position in b (deleted: where it would be) and @mend where it ends there. */
static int align(const gunichar *a, int na, const gunichar *b, int nb, int *map, int *mend)
{
	int *d = g_new(int, (size_t)(na + 1) * (size_t)(nb + 1));
#define D(i, j) d[(size_t)(i) * (size_t)(nb + 1) + (size_t)(j)]
	for (int i = 0; i <= na; i++)
		D(i, 0) = i;
	for (int j = 0; j <= nb; j++)
		D(0, j) = j;
	for (int i = 1; i <= na; i++)
		for (int j = 1; j <= nb; j++) {
			int s = D(i - 1, j - 1) + (a[i - 1] != b[j - 1]);
			int x = D(i - 1, j) + 1, y = D(i, j - 1) + 1;
			D(i, j) = MIN(s, MIN(x, y));
		}
	int dist = D(na, nb);
	if (map) {
		int i = na, j = nb;
		map[na] = nb;
		mend[na] = nb;
		while (i > 0) {
			if (j > 0 && D(i, j) == D(i - 1, j - 1) + (a[i - 1] != b[j - 1])) {
				map[i - 1] = j - 1;
				mend[i - 1] = j;
				i--;
				j--;
			} else if (D(i, j) == D(i - 1, j) + 1) {
				map[i - 1] = j;
				mend[i - 1] = j;
				i--;
			} else {
				j--;
			}
		}
	}
#undef D
	g_free(d);
	return dist;
}

struct kind {
	long n, exact, ref, flagged, prot;
};

struct score {
	const char *name;
	double wall, cpu;
	long lines, exact, chars, dist, uml_lines, uml_exact, uml_chars, uml_dist;
	long en_lines, en_exact, en_chars, en_dist, de_lines, de_exact, de_chars, de_dist; /* by screen language */
	long words, lowconf, lowconf_exact, words_exact, lowconf_wrong, words_wrong;
	long pii, pii_exact, pii_flag_ref, pii_flagged, pii_protected, pii_protected_ref;
	long second, seconds_lines;
	GHashTable *subst; /* "ö>o" -> count */
	GHashTable *kinds; /* pii kind -> struct kind */
	bool failed;
};

static int byte_of(const char *s, int cp)
{
	const char *p = s;
	for (int k = 0; k < cp && *p; k++)
		p = g_utf8_next_char(p);
	return (int)(p - s);
}

/* Flags of pii item @it on row text made from @texts; its value's range
 * there is [*vs, *ve) in bytes. */
static bool flagged(const struct ls_pii_rules *rules, const struct pitem *it, char **texts, int vs_line, int ve_line,
		    int *row_off)
{
	GString *row = g_string_new(NULL);
	for (int i = 0; i < it->nrow; i++) {
		if (it->sep[i])
			g_string_append_c(row, it->sep[i]);
		if (i == it->self)
			*row_off = (int)row->len;
		g_string_append(row, texts[it->row[i]]);
	}
	struct ls_pii_match m[64];
	int nm = ls_pii_scan(rules, row->str, m, 64);
	bool hit = false;
	int vs = *row_off + vs_line, ve = *row_off + ve_line;
	for (int k = 0; k < nm && !hit; k++)
		hit = m[k].start < ve && m[k].end > vs;
	g_string_free(row, TRUE);
	return hit;
}

static void score(struct score *s, const struct result *R, const struct ls_pii_rules *rules)
{
	s->subst = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	s->kinds = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
	char **texts = g_new(char *, nl);
	for (int i = 0; i < nl; i++) {
		texts[i] = R[i].text ? R[i].text : (char *)"";
		int na, nb;
		gunichar *a = cps(L[i].text, &na, true), *b = cps(texts[i], &nb, true);
		int *map = g_new(int, na + 1), *mend = g_new(int, na + 1);
		int d = align(a, na, b, nb, map, mend);
		bool ex = d == 0;
		s->lines++;
		s->exact += ex;
		s->chars += na;
		s->dist += d;
		if (L[i].lang == 'e') {
			s->en_lines++;
			s->en_exact += ex;
			s->en_chars += na;
			s->en_dist += d;
		} else if (L[i].lang == 'd') {
			s->de_lines++;
			s->de_exact += ex;
			s->de_chars += na;
			s->de_dist += d;
		}
		if (L[i].uml) {
			s->uml_lines++;
			s->uml_exact += ex;
			s->uml_chars += na;
			s->uml_dist += d;
			for (int k = 0; k < na; k++) {
				if (a[k] != 0xe4 && a[k] != 0xf6 && a[k] != 0xfc && a[k] != 0xdf && a[k] != 0xc4 &&
				    a[k] != 0xd6 && a[k] != 0xdc)
					continue;
				char ka[8] = { 0 }, kb[32] = { 0 };
				g_unichar_to_utf8(a[k], ka);
				int o = 0;
				for (int j = map[k]; j < mend[k] && o < 24; j++)
					o += g_unichar_to_utf8(b[j], kb + o);
				char *key = g_strdup_printf("%s>%s", ka, o ? kb : "(none)");
				gpointer v = g_hash_table_lookup(s->subst, key);
				g_hash_table_replace(s->subst, key, GINT_TO_POINTER(GPOINTER_TO_INT(v) + 1));
			}
		}
		for (int k = 0; k < R[i].nw; k++) {
			if (R[i].w[k].e - R[i].w[k].s < 3)
				continue;
			bool low = R[i].w[k].conf < 50;
			s->words++;
			s->lowconf += low;
			if (ex) {
				s->words_exact++;
				s->lowconf_exact += low;
			} else {
				s->words_wrong++;
				s->lowconf_wrong += low;
			}
		}
		g_free(a);
		g_free(b);
		g_free(map);
		g_free(mend);
	}
	char **truth = g_new(char *, nl);
	for (int i = 0; i < nl; i++)
		truth[i] = L[i].text;
	for (int k = 0; k < np; k++) {
		const struct pitem *it = &P[k];
		s->pii++;
		/* exact: the value without spaces in the line without spaces */
		char *v = g_strdup(it->text), *t = g_strdup(texts[it->line]);
		int o = 0;
		for (char *q = v; *q; q++)
			if (*q != ' ' && *q != '\t')
				v[o++] = *q;
		v[o] = 0;
		o = 0;
		for (char *q = t; *q; q++)
			if (*q != ' ' && *q != '\t')
				t[o++] = *q;
		t[o] = 0;
		bool exact = strstr(t, v) != NULL;
		s->pii_exact += exact;
		g_free(v);
		g_free(t);
		/* the value's range in the text read, through the alignment of
		 * the raw truth line with it */
		int na, nb, off;
		gunichar *a = cps(truth[it->line], &na, false), *b = cps(texts[it->line], &nb, false);
		int *map = g_new(int, na + 1), *mend = g_new(int, na + 1);
		align(a, na, b, nb, map, mend);
		int ca = (int)g_utf8_pointer_to_offset(truth[it->line], truth[it->line] + it->off);
		int cz = ca + (int)g_utf8_strlen(it->text, -1);
		int rs = byte_of(texts[it->line], map[ca]), re = byte_of(texts[it->line], mend[cz - 1]);
		bool fl = re > rs && flagged(rules, it, texts, rs, re, &off);
		bool prot = fl;
		for (int w = 0; w < R[it->line].nw && !prot; w++) {
			const struct wrange *wr = &R[it->line].w[w];
			prot = wr->conf < 50 && wr->e - wr->s >= 3 && wr->s < MAX(re, rs + 1) && wr->e > rs;
		}
		if (it->flagged_truth) {
			s->pii_flag_ref++;
			s->pii_flagged += fl;
			s->pii_protected_ref += prot;
		}
		struct kind *kd = g_hash_table_lookup(s->kinds, it->kind);
		if (!kd) {
			kd = g_new0(struct kind, 1);
			g_hash_table_insert(s->kinds, it->kind, kd);
		}
		kd->n++;
		kd->exact += exact;
		kd->ref += it->flagged_truth;
		kd->flagged += it->flagged_truth && fl;
		kd->prot += it->flagged_truth && prot;
		if (getenv("BENCH_OCR_DUMP") && it->flagged_truth && !prot)
			fprintf(stderr, "  [%s] pii %s not flagged: \"%s\" in \"%s\"\n", s->name, it->kind, it->text,
				texts[it->line]);
		s->pii_protected += prot;
		g_free(a);
		g_free(b);
		g_free(map);
		g_free(mend);
	}
	g_free(truth);
	g_free(texts);
}

/* @s as the inside of a JSON string (UTF-8 kept) */
static char *json_str(const char *s)
{
	GString *o = g_string_new(NULL);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			g_string_append_printf(o, "\\%c", *p);
		else if (*p < 0x20)
			g_string_append_printf(o, "\\u%04x", *p);
		else
			g_string_append_c(o, (char)*p);
	}
	return g_string_free(o, FALSE);
}

static gint cmp_count(gconstpointer a, gconstpointer b, gpointer h)
{
	int x = GPOINTER_TO_INT(g_hash_table_lookup(h, *(char *const *)a));
	int y = GPOINTER_TO_INT(g_hash_table_lookup(h, *(char *const *)b));
	return (y > x) - (y < x);
}

int main(int argc, char **argv)
{
	if (!getenv("OMP_THREAD_LIMIT") && setenv("OMP_THREAD_LIMIT", "1", 1) == 0)
		execv("/proc/self/exe", argv); /* libgomp reads it at load time */
	gst_init(&argc, &argv);
	if (argc < 2 || argv[1][0] == '-') {
		fprintf(stderr,
			"usage: bench-ocr CORPUS [--rec NAME,...] [--workers N] [--threads N] [--margin PX] "
			"[--every K] [--rules FILE] [--model ONNX] [--keys TXT] [--second-conf C] [--second-langs L] "
			"[--json FILE] [--subst N] [--units]\n");
		return 2;
	}
	const char *corpus = argv[1], *recs = "tess-eng+deu,tess-deu,tess-eng,ppocr,ppocr-shared,ppocr+tess";
	const char *rules_path = "rules/pii.rules", *model = ".cache/models/ch_PP-OCRv4_rec_infer.onnx";
	const char *keys = NULL, *json_path = NULL;
	int workers = 2, threads = 1, margin = 3, every = 1, nsubst = 4;
	double second_conf = 90;
	const char *second_langs = "eng+deu";
	for (int i = 2; i < argc; i += 2) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
		if (!strcmp(k, "--units")) {
			units_mode = true;
			i--;
			continue;
		}
		if (!strcmp(k, "--rec"))
			recs = v;
		else if (!strcmp(k, "--workers"))
			workers = atoi(v);
		else if (!strcmp(k, "--threads"))
			threads = atoi(v);
		else if (!strcmp(k, "--margin"))
			margin = atoi(v);
		else if (!strcmp(k, "--every"))
			every = atoi(v);
		else if (!strcmp(k, "--rules"))
			rules_path = v;
		else if (!strcmp(k, "--model"))
			model = v;
		else if (!strcmp(k, "--keys"))
			keys = v;
		else if (!strcmp(k, "--second-conf"))
			second_conf = atof(v);
		else if (!strcmp(k, "--second-langs"))
			second_langs = v;
		else if (!strcmp(k, "--json"))
			json_path = v;
		else if (!strcmp(k, "--subst"))
			nsubst = atoi(v);
		else {
			fprintf(stderr, "bench-ocr: unknown option %s\n", k);
			return 2;
		}
	}
	if (workers < 1 || workers > 64 || threads < 1 || threads > 64 || every < 1 || margin < 0) {
		fprintf(stderr, "bench-ocr: --workers and --threads: 1..64, --every >= 1, --margin >= 0\n");
		return 2;
	}
	char *err = NULL;
	struct ls_pii_rules *rules = NULL;
	if (ls_pii_rules_load(rules_path, &rules, &err) < 0) {
		fprintf(stderr, "bench-ocr: %s\n", err);
		return 1;
	}

	/* the corpus: CORPUS/truth.json, or CORPUS/ * /truth.json */
	GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	GHashTable *pseen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	char *top = g_build_filename(corpus, "truth.json", NULL);
	if (g_file_test(top, G_FILE_TEST_EXISTS)) {
		load_scenario(corpus, margin, every, seen, pseen);
	} else {
		GDir *d = g_dir_open(corpus, 0, NULL);
		GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
		const char *n;
		while (d && (n = g_dir_read_name(d))) {
			char *sub = g_build_filename(corpus, n, "truth.json", NULL);
			if (g_file_test(sub, G_FILE_TEST_EXISTS))
				g_ptr_array_add(names, g_build_filename(corpus, n, NULL));
			g_free(sub);
		}
		if (d)
			g_dir_close(d);
		g_ptr_array_sort(names, (GCompareFunc)g_strcmp0);
		for (guint i = 0; i < names->len; i++)
			load_scenario(g_ptr_array_index(names, i), margin, every, seen, pseen);
		g_ptr_array_free(names, TRUE);
	}
	g_free(top);
	if (!nl) {
		fprintf(stderr, "bench-ocr: %s: no truth.json with lines (make one with tests/corpus/gen_corpus.py)\n",
			corpus);
		return 1;
	}
	/* the reference: what the scanner flags on the true text */
	char **truth = g_new(char *, nl);
	long uml = 0, ref = 0;
	for (int i = 0; i < nl; i++) {
		truth[i] = L[i].text;
		uml += L[i].uml;
	}
	for (int k = 0; k < np; k++) {
		int off;
		P[k].flagged_truth = flagged(rules, &P[k], truth, P[k].off, P[k].off + (int)strlen(P[k].text), &off);
		ref += P[k].flagged_truth;
	}
	fprintf(stderr,
		"bench-ocr: %d lines (%ld with umlauts or ß), %d pii items (%ld flagged on the true text), "
		"%d workers, %d intra-op threads\n",
		nl, uml, np, ref, workers, threads);

	gchar **names = g_strsplit(recs, ",", -1);
	int nr = (int)g_strv_length(names);
	struct score *S = g_new0(struct score, nr);
	for (int r = 0; r < nr; r++) {
		const char *name = names[r];
		struct ls_redact_backend *b = NULL, *pp = NULL, *ts = NULL;
		struct combo *c = NULL;
		struct ls_ppocr_opts po = { .model = model, .keys = keys, .threads = threads };
		S[r].name = name;
		if (g_str_has_prefix(name, "tess-")) {
			struct ls_tess_opts to = { NULL, name + 5 };
			b = ls_tess_backend_new(&to);
		} else if (!strcmp(name, "ppocr") || !strcmp(name, "ppocr-shared") || !strcmp(name, "ppocr-raw")) {
			po.shared_session = !strcmp(name, "ppocr-shared");
			po.raw = !strcmp(name, "ppocr-raw");
			b = ls_ppocr_backend_new(&po, &err);
		} else if (g_str_has_prefix(name, "ppocr+tess") && (!name[10] || name[10] == '-')) {
			pp = ls_ppocr_backend_new(&po, &err);
			struct ls_tess_opts to = { NULL, name[10] ? name + 11 : second_langs };
			ts = ls_tess_backend_new(&to);
			if (pp) {
				c = g_new0(struct combo, 1);
				c->pp = pp;
				c->ts = ts;
				c->conf = (float)second_conf;
				c->ops = (struct ls_redact_backend){ combo_worker_new, combo_recognize,
								     combo_worker_free, c };
				b = &c->ops;
			}
		} else {
			fprintf(stderr, "bench-ocr: --rec %s: unknown recogniser\n", name);
			return 2;
		}
		if (!b) {
			fprintf(stderr, "bench-ocr: %s: %s\n", name, err ? err : "?");
			return 1;
		}
		int nA = units_mode ? nu : nl;
		struct result *R = g_new0(struct result, nA);
		struct job j = { .b = b, .A = units_mode ? U : L, .n = nA, .R = R };
		pthread_barrier_init(&j.ready, NULL, (unsigned)workers + 1);
		pthread_t th[64];
		for (int i = 0; i < workers; i++)
			pthread_create(&th[i], NULL, job_thread, &j);
		pthread_barrier_wait(&j.ready); /* loading is not counted */
		double c0 = cpu_s();
		int64_t t0 = ls_monotonic_ns();
		for (int i = 0; i < workers; i++)
			pthread_join(th[i], NULL);
		S[r].wall = (double)(ls_monotonic_ns() - t0) / 1e9;
		S[r].cpu = cpu_s() - c0;
		pthread_barrier_destroy(&j.ready);
		S[r].failed = atomic_load(&j.failed);
		if (c) {
			S[r].second = atomic_load(&c->second);
			S[r].seconds_lines = atomic_load(&c->lines);
		}
		if (units_mode) {
			S[r].lines = nu;
			for (int i = 0; i < nu; i++)
				S[r].words += R[i].nw;
		} else {
			score(&S[r], R, rules);
		}
		fprintf(stderr, "bench-ocr: %s: %.1f s\n", name, S[r].wall);
		if (getenv("BENCH_OCR_DUMP") && !units_mode)
			for (int i = 0; i < nl; i++) {
				float mc = 100;
				for (int k = 0; k < R[i].nw; k++)
					mc = R[i].w[k].conf < mc ? R[i].w[k].conf : mc;
				bool same = !strcmp(R[i].text ? R[i].text : "", L[i].text);
				if (!same || !strcmp(getenv("BENCH_OCR_DUMP"), "all"))
					fprintf(stderr, "  [%s] %s %.0f %s | %s\n", name, same ? "ok" : "XX", mc,
						L[i].text, R[i].text ? R[i].text : "");
			}
		for (int i = 0; i < nA; i++) {
			g_free(R[i].text);
			g_free(R[i].w);
		}
		g_free(R);
		if (c) {
			ls_ppocr_backend_free(&pp);
			ls_tess_backend_free(&ts);
			g_free(c);
		} else if (g_str_has_prefix(name, "tess-")) {
			ls_tess_backend_free(&b);
		} else {
			ls_ppocr_backend_free(&b);
		}
	}

	if (units_mode) {
		/* speed on what the redactor really reads: units, and the truth
		 * lines inside them */
		printf("%-13s %7s %7s %6s %8s %7s\n", "recogniser", "units/s", "lines/s", "cpu_s", "cpu_ms/u",
		       "words/u");
		GString *js = g_string_new(NULL);
		g_string_append_printf(
			js,
			"{\"corpus\":\"%s\",\"mode\":\"units\",\"units\":%d,\"unit_lines\":%ld,\"workers\":%d,"
			"\"threads\":%d,\"recognisers\":[",
			corpus, nu, unit_lines, workers, threads);
		for (int r = 0; r < nr; r++) {
			const struct score *s = &S[r];
			printf("%-13s %7.1f %7.1f %6.1f %8.1f %7.1f%s\n", s->name, nu / s->wall, unit_lines / s->wall,
			       s->cpu, s->cpu * 1000 / nu, (double)s->words / nu, s->failed ? " FAILED" : "");
			g_string_append_printf(js,
					       "%s{\"name\":\"%s\",\"failed\":%s,\"wall_s\":%.3f,\"units_per_s\":%.2f,"
					       "\"lines_per_s\":%.2f,\"cpu_s\":%.3f,\"cpu_ms_per_unit\":%.2f}",
					       r ? "," : "", s->name, s->failed ? "true" : "false", s->wall,
					       nu / s->wall, unit_lines / s->wall, s->cpu, s->cpu * 1000 / nu);
		}
		printf("(%d units of the redactor's text detector, holding %ld truth lines)\n", nu, unit_lines);
		g_string_append(js, "]}\n");
		if (json_path)
			g_file_set_contents(json_path, js->str, (gssize)js->len, NULL);
		else
			fputs(js->str, stdout);
		g_string_free(js, TRUE);
		return 0;
	}
	printf("%-13s %7s %6s %7s %6s %6s %6s %6s %6s %6s %6s %6s %6s %6s\n", "recogniser", "lines/s", "cpu_s",
	       "cpu_ms/l", "exact", "chars", "ex_en", "ex_de", "uml_ex", "uml_ch", "low<50", "pii_ex", "flag", "prot");
	for (int r = 0; r < nr; r++) {
		const struct score *s = &S[r];
		printf("%-13s %7.1f %6.1f %7.1f %5.1f%% %5.1f%% %5.1f%% %5.1f%% %5.1f%% %5.1f%% %5.1f%% %5.1f%% %5.1f%% "
		       "%5.1f%%%s\n",
		       s->name, s->lines / s->wall, s->cpu, s->cpu * 1000 / s->lines, 100.0 * s->exact / s->lines,
		       100.0 * (1 - (double)s->dist / MAX(1, s->chars)), 100.0 * s->en_exact / MAX(1, s->en_lines),
		       100.0 * s->de_exact / MAX(1, s->de_lines), 100.0 * s->uml_exact / MAX(1, s->uml_lines),
		       100.0 * (1 - (double)s->uml_dist / MAX(1, s->uml_chars)), 100.0 * s->lowconf / MAX(1, s->words),
		       100.0 * s->pii_exact / MAX(1, s->pii), 100.0 * s->pii_flagged / MAX(1, s->pii_flag_ref),
		       100.0 * s->pii_protected_ref / MAX(1, s->pii_flag_ref), s->failed ? " FAILED" : "");
	}
	printf("(exact, chars: all %d lines; ex_en, ex_de: lines of English, German screens; uml_*: the %ld lines "
	       "with ä ö ü ß; low<50: words of 3+ bytes under confidence 50; pii_ex: %d values read exactly; flag, "
	       "prot: of the %ld the scanner flags on the true text)\n",
	       nl, uml, np, ref);

	GString *js = g_string_new(NULL);
	g_string_append_printf(
		js,
		"{\"corpus\":\"%s\",\"lines\":%d,\"umlaut_lines\":%ld,\"pii\":%d,\"pii_flagged_truth\":%ld,"
		"\"workers\":%d,\"threads\":%d,\"margin\":%d,\"recognisers\":[",
		corpus, nl, uml, np, ref, workers, threads, margin);
	for (int r = 0; r < nr; r++) {
		const struct score *s = &S[r];
		g_string_append_printf(
			js,
			"%s{\"name\":\"%s\",\"failed\":%s,\"wall_s\":%.3f,\"lines_per_s\":%.2f,\"cpu_s\":%.3f,"
			"\"cpu_ms_per_line\":%.2f,\"exact\":%.4f,\"char_recall\":%.4f,\"umlaut_exact\":%.4f,"
			"\"umlaut_char_recall\":%.4f,\"words\":%ld,\"lowconf_words\":%.4f,\"lowconf_in_exact_lines\":%.4f,"
			"\"lowconf_in_wrong_lines\":%.4f,\"pii_exact\":%.4f,\"pii_flagged\":%.4f,\"pii_protected\":%.4f,"
			"\"pii_protected_all\":%.4f,\"english_screens\":{\"lines\":%ld,\"exact\":%.4f,\"char_recall\":%.4f},"
			"\"german_screens\":{\"lines\":%ld,\"exact\":%.4f,\"char_recall\":%.4f}",
			r ? "," : "", s->name, s->failed ? "true" : "false", s->wall, s->lines / s->wall, s->cpu,
			s->cpu * 1000 / s->lines, (double)s->exact / s->lines, 1 - (double)s->dist / MAX(1, s->chars),
			(double)s->uml_exact / MAX(1, s->uml_lines), 1 - (double)s->uml_dist / MAX(1, s->uml_chars),
			s->words, (double)s->lowconf / MAX(1, s->words),
			(double)s->lowconf_exact / MAX(1, s->words_exact),
			(double)s->lowconf_wrong / MAX(1, s->words_wrong), (double)s->pii_exact / MAX(1, s->pii),
			(double)s->pii_flagged / MAX(1, s->pii_flag_ref),
			(double)s->pii_protected_ref / MAX(1, s->pii_flag_ref),
			(double)s->pii_protected / MAX(1, s->pii), s->en_lines,
			(double)s->en_exact / MAX(1, s->en_lines), 1 - (double)s->en_dist / MAX(1, s->en_chars),
			s->de_lines, (double)s->de_exact / MAX(1, s->de_lines),
			1 - (double)s->de_dist / MAX(1, s->de_chars));
		if (s->seconds_lines)
			g_string_append_printf(js, ",\"second_opinion_lines\":%.4f",
					       (double)s->second / s->seconds_lines);
		/* what the umlauts became */
		g_string_append(js, ",\"umlauts\":{");
		guint nk = 0;
		gpointer *ks = g_hash_table_get_keys_as_array(s->subst, &nk);
		g_qsort_with_data(ks, (gint)nk, sizeof(gpointer), cmp_count, s->subst);
		GString *line = g_string_new(NULL);
		static const char *const letters[] = { "ä", "ö", "ü", "ß", "Ä", "Ö", "Ü" };
		bool first = true;
		for (size_t li = 0; li < G_N_ELEMENTS(letters); li++) {
			size_t ll = strlen(letters[li]);
			int shown = 0;
			for (guint k = 0; k < nk; k++) {
				const char *key = ks[k];
				if (strncmp(key, letters[li], ll) || key[ll] != '>')
					continue;
				int cnt = GPOINTER_TO_INT(g_hash_table_lookup(s->subst, key));
				char *esc = json_str(key + ll + 1);
				g_string_append_printf(js, "%s\"%s>%s\":%d", first ? "" : ",", letters[li], esc, cnt);
				first = false;
				if (shown++ < nsubst)
					g_string_append_printf(line, " %s>%s %d", letters[li], key + ll + 1, cnt);
				g_free(esc);
			}
		}
		g_string_append(js, "},\"pii_by_kind\":{");
		GList *kl = g_list_sort(g_hash_table_get_keys(s->kinds), (GCompareFunc)g_strcmp0);
		for (GList *k = kl; k; k = k->next) {
			const struct kind *kd = g_hash_table_lookup(s->kinds, k->data);
			g_string_append_printf(
				js,
				"%s\"%s\":{\"n\":%ld,\"exact\":%ld,\"flagged_truth\":%ld,\"flagged\":%ld,"
				"\"protected\":%ld}",
				k == kl ? "" : ",", (const char *)k->data, kd->n, kd->exact, kd->ref, kd->flagged,
				kd->prot);
		}
		g_list_free(kl);
		g_string_append(js, "}}");
		fprintf(stderr, "umlauts %s:%s\n", s->name, line->str);
		g_string_free(line, TRUE);
		g_free(ks);
		g_hash_table_destroy(s->subst);
		g_hash_table_destroy(s->kinds);
	}
	g_string_append(js, "]}\n");
	if (json_path) {
		if (!g_file_set_contents(json_path, js->str, (gssize)js->len, NULL)) {
			fprintf(stderr, "bench-ocr: %s: cannot write\n", json_path);
			return 1;
		}
	} else {
		fputs(js->str, stdout);
	}
	g_string_free(js, TRUE);
	g_strfreev(names);
	g_free(truth);
	ls_pii_rules_free(&rules);
	return 0;
}
