/* ocr_ppocr — see ocr_ppocr.h. */
#include "ocr_ppocr.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef LS_HAVE_ORT
#define LS_HAVE_ORT 0
#endif

#if !LS_HAVE_ORT

struct ls_redact_backend *ls_ppocr_backend_new(const struct ls_ppocr_opts *o, char **err)
{
	(void)o;
	if (err)
		*err = strdup("the PP-OCR backend: this lockstep was built without the ONNX Runtime headers (run "
			      "scripts/setup.sh, then meson setup --reconfigure)");
	return NULL;
}

void ls_ppocr_backend_free(struct ls_redact_backend **b)
{
	if (b)
		*b = NULL;
}

int ls_ppocr_probe(const struct ls_ppocr_opts *o, char **err)
{
	ls_ppocr_backend_new(o, err);
	return -ENOSYS;
}

#else

#include <math.h>
#include <pthread.h>
#include <sys/stat.h>

#include "detector_private.h"

#define IN_H 48         /* the model's input height */
#define MAX_LINE_W 9600 /* model pixels: a longer line is squeezed to this */

/* ---- ONNX Runtime: the API table [detect] loads too (ls_ort_api) -------- */

static const OrtApi *ort;

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, f);
	if (vasprintf(&s, f, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

/* The status's message on one line (NULL: success), the status released. */
static char *st_msg(OrtStatus *st) { return status_msg(ort, st); }

/* ---- the backend ---------------------------------------------------------- */

struct backend {
	struct ls_redact_backend ops; /* first: the public part */
	char *model, *keys_path;
	int threads;
	bool shared, raw;
	OrtEnv *env;
	OrtMemoryInfo *mem;
	pthread_mutex_t lock;
	OrtSession *first; /* the checking session: all workers' when shared, else the first worker's */
	bool first_taken;
	char *in_name, *out_name;
	int nclass;  /* output classes: blank, the dictionary, space */
	char **text; /* [nclass]: what each class reads as (NULL for the blank) */
	bool *space; /* [nclass]: the class reads as a space */
	char *keys_buf;
};

struct line {
	int y0, y1, x0, x1; /* ink box in the crop */
	int bx0, by0;       /* crop position of the line image's first column / row (margin included) */
	int bw, bh;         /* source size of the line image */
	int iw;             /* model pixels wide (before padding) */
	int *col;           /* ink per crop column inside the band [0, gw) */
};

struct ch {
	int cls, t0, t1;
	float p;
	bool space;      /* a space before it */
	int left, right; /* crop columns of the word it starts / ends */
	int cx;          /* crop column of its centre */
	const char *txt; /* what it reads as */
};

struct wctx {
	struct backend *b;
	OrtSession *s;
	bool own;
	uint8_t *v; /* the crop, dark on light, packed */
	size_t vcap;
	int gw, gh, bgv, thr; /* its size, background and ink threshold */
	int *lab, *stack;     /* diaeresis(): labels of a window, flood fill */
	size_t labcap, stackcap;
	int *rows;
	size_t rowcap;
	struct line *lines;
	int nlines, linecap;
	int *colbuf;
	size_t colcap;
	float *in;
	size_t incap;
	struct ch *chars;
	int charcap;
	int *order;
	int ordcap;
};

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return p;
	size_t n = *cap ? *cap : 64;
	while (n < need)
		n *= 2;
	p = realloc(p, n * elem);
	if (!p)
		abort();
	*cap = n;
	return p;
}

static OrtSession *session_open(struct backend *b, char **err)
{
	OrtSessionOptions *so = NULL;
	OrtSession *s = NULL;
	char *m = st_msg(ort->CreateSessionOptions(&so));
	if (!m)
		m = st_msg(ort->SetIntraOpNumThreads(so, b->threads));
	if (!m)
		m = st_msg(ort->SetInterOpNumThreads(so, 1));
	if (!m)
		m = st_msg(ort->SetSessionGraphOptimizationLevel(so, ORT_ENABLE_ALL));
	/* idle intra-op threads would spin a core each for nothing */
	if (!m)
		m = st_msg(ort->AddSessionConfigEntry(so, "session.intra_op.allow_spinning", "0"));
	if (!m)
		m = st_msg(ort->CreateSession(b->env, b->model, so, &s));
	if (m) {
		*err = fmt("%s: not a usable ONNX model (ONNX Runtime: %s)", b->model, m);
		free(m);
		s = NULL;
	}
	if (so)
		ort->ReleaseSessionOptions(so);
	return s;
}

/* Input or output @i: its name and dims. Returns NULL or the message. */
static char *io_info(OrtSession *s, bool input, size_t i, char **name, int64_t *dims, size_t *nd,
		     ONNXTensorElementDataType *type)
{
	OrtTypeInfo *ti = NULL;
	const OrtTensorTypeAndShapeInfo *tsi = NULL;
	OrtAllocator *a = NULL;
	char *n = NULL;
	char *m = st_msg(input ? ort->SessionGetInputTypeInfo(s, i, &ti) : ort->SessionGetOutputTypeInfo(s, i, &ti));
	if (!m)
		m = st_msg(ort->CastTypeInfoToTensorInfo(ti, &tsi));
	if (!m && !tsi)
		m = strdup("not a tensor");
	if (!m)
		m = st_msg(ort->GetTensorElementType(tsi, type));
	if (!m)
		m = st_msg(ort->GetDimensionsCount(tsi, nd));
	if (!m && *nd > 8)
		m = fmt("rank %zu", *nd);
	if (!m)
		m = st_msg(ort->GetDimensions(tsi, dims, *nd));
	if (!m)
		m = st_msg(ort->GetAllocatorWithDefaultOptions(&a));
	if (!m)
		m = st_msg(input ? ort->SessionGetInputName(s, i, a, &n) : ort->SessionGetOutputName(s, i, a, &n));
	if (!m) {
		*name = strdup(n);
		free(st_msg(ort->AllocatorFree(a, n)));
	}
	if (ti)
		ort->ReleaseTypeInfo(ti);
	return m;
}

static int model_check(struct backend *b, char **err)
{
	size_t nin = 0, nout = 0, nd = 0;
	int64_t d[8];
	ONNXTensorElementDataType type = 0;
	char *m = st_msg(ort->SessionGetInputCount(b->first, &nin));
	if (!m)
		m = st_msg(ort->SessionGetOutputCount(b->first, &nout));
	if (!m && (nin != 1 || nout != 1))
		m = fmt("%zu inputs and %zu outputs, expected 1 and 1", nin, nout);
	if (!m)
		m = io_info(b->first, true, 0, &b->in_name, d, &nd, &type);
	if (!m && (type != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT || nd != 4 || d[1] != 3 || d[2] != IN_H))
		m = fmt("input is not float [N,3,%d,W] (a PP-OCR recogniser)", IN_H);
	if (!m)
		m = io_info(b->first, false, 0, &b->out_name, d, &nd, &type);
	if (!m && (type != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT || nd != 3 || d[2] < 3))
		m = strdup("output is not float [N,T,classes] (a PP-OCR recogniser)");
	if (m) {
		*err = fmt("%s: %s", b->model, m);
		free(m);
		return -EINVAL;
	}
	b->nclass = (int)d[2];
	return 0;
}

/* A class's text as the redactor should see it: full-width ASCII forms and
 * CJK punctuation become ASCII, β (which the model gives for ß) becomes ß. */
static const char *class_text(const char *k, char *buf)
{
	static const char *const map[][2] = {
		{ "\u3002", "." }, { "\u3001", "," }, { "\u3000", " " }, { "\u2236", ":" }, { "\u03b2", "\u00df" },
	};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(k, map[i][0]) == 0)
			return map[i][1];
	const unsigned char *u = (const unsigned char *)k;
	/* U+FF01..U+FF5E: EF BC 81..EF BD 9E */
	if (u[0] == 0xef && (u[1] == 0xbc || u[1] == 0xbd) && u[2] >= 0x80 && u[2] <= 0xbf && !u[3]) {
		unsigned cp = 0xf000 | ((unsigned)(u[1] & 0x3f) << 6) | (u[2] & 0x3fu);
		if (cp >= 0xff01 && cp <= 0xff5e) {
			buf[0] = (char)(cp - 0xfee0);
			buf[1] = 0;
			return buf;
		}
	}
	return k;
}

static int keys_load(struct backend *b, char **err)
{
	FILE *f = fopen(b->keys_path, "rb");
	if (!f) {
		*err = fmt("%s: cannot open the dictionary: %s", b->keys_path, strerror(errno));
		return -errno;
	}
	struct stat st;
	if (fstat(fileno(f), &st) < 0 || st.st_size <= 0 || st.st_size > (64 << 20)) {
		fclose(f);
		*err = fmt("%s: not a dictionary (empty or too big)", b->keys_path);
		return -EINVAL;
	}
	size_t n = (size_t)st.st_size;
	b->keys_buf = malloc(n + 1);
	if (!b->keys_buf || fread(b->keys_buf, 1, n, f) != n) {
		fclose(f);
		*err = fmt("%s: cannot read the dictionary", b->keys_path);
		return -EIO;
	}
	fclose(f);
	b->keys_buf[n] = 0;
	int nkeys = 0;
	for (size_t i = 0; i < n; i++)
		nkeys += b->keys_buf[i] == '\n';
	if (n && b->keys_buf[n - 1] != '\n')
		nkeys++;
	/* blank first, space last (use_space_char) */
	if (nkeys + 2 != b->nclass) {
		*err = fmt(
			"%s: %d lines (characters), but the model %s has %d classes (expected the dictionary + blank + "
			"space)",
			b->keys_path, nkeys, b->model, b->nclass);
		return -EINVAL;
	}
	b->text = calloc((size_t)b->nclass, sizeof(*b->text));
	char *p = b->keys_buf;
	for (int k = 1; k <= nkeys; k++) {
		char *e = strchr(p, '\n');
		if (e)
			*e = 0;
		size_t l = strlen(p);
		if (l && p[l - 1] == '\r')
			p[--l] = 0;
		char buf[8];
		b->text[k] = strdup(class_text(p, buf));
		p = e ? e + 1 : p + l;
	}
	b->text[b->nclass - 1] = strdup(" ");
	b->space = calloc((size_t)b->nclass, sizeof(bool));
	for (int k = 1; k < b->nclass; k++)
		b->space[k] = strcmp(b->text[k], " ") == 0;
	return 0;
}

static void backend_release(struct backend *b)
{
	if (!b)
		return;
	if (b->first)
		ort->ReleaseSession(b->first);
	if (b->mem)
		ort->ReleaseMemoryInfo(b->mem);
	if (b->env)
		ort->ReleaseEnv(b->env);
	for (int k = 0; b->text && k < b->nclass; k++)
		free(b->text[k]);
	free(b->text);
	free(b->space);
	free(b->keys_buf);
	free(b->in_name);
	free(b->out_name);
	free(b->model);
	free(b->keys_path);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

/* ---- workers -------------------------------------------------------------- */

static void *pp_worker_new(void *user, int idx, char **err)
{
	struct backend *b = user;
	(void)idx;
	struct wctx *w = calloc(1, sizeof(*w));
	if (!w)
		abort();
	w->b = b;
	pthread_mutex_lock(&b->lock);
	if (b->shared) {
		w->s = b->first;
	} else if (!b->first_taken) {
		w->s = b->first;
		b->first_taken = true;
		w->own = true;
	}
	pthread_mutex_unlock(&b->lock);
	if (!w->s) {
		w->s = session_open(b, err);
		w->own = true;
		if (!w->s) {
			free(w);
			return NULL;
		}
	}
	return w;
}

static void pp_worker_free(void *p)
{
	struct wctx *w = p;
	if (!w)
		return;
	if (w->own) {
		pthread_mutex_lock(&w->b->lock);
		if (w->s == w->b->first)
			w->b->first = NULL;
		pthread_mutex_unlock(&w->b->lock);
		ort->ReleaseSession(w->s);
	}
	free(w->v);
	free(w->rows);
	free(w->lines);
	free(w->colbuf);
	free(w->in);
	free(w->chars);
	free(w->order);
	free(w->lab);
	free(w->stack);
	free(w);
}

/* Rows [a, b) of the profile: a line, or touching lines. */
struct run {
	int a, b;
};

/* Splits runs taller than two small lines at a deep valley of the row
 * profile near their middle (two lines whose ink touches). */
static int split_runs(const int *rows, struct run *r, int n, int max)
{
	for (int i = 0; i < n && n < max; i++) {
		int h = r[i].b - r[i].a;
		if (h < 16)
			continue;
		int peak = 0, best = -1;
		for (int y = r[i].a; y < r[i].b; y++)
			peak = rows[y] > peak ? rows[y] : peak;
		for (int y = r[i].a + h * 35 / 100; y < r[i].a + (h * 65 + 99) / 100; y++)
			if (best < 0 || rows[y] < rows[best])
				best = y;
		if (best < 0 || rows[best] * 12 > peak)
			continue;
		memmove(&r[i + 2], &r[i + 1], (size_t)(n - i - 1) * sizeof(*r));
		r[i + 1] = (struct run){ best + 1, r[i].b };
		r[i].b = best;
		n++;
		i--; /* the upper part may hold two lines still */
	}
	return n;
}

/* Cuts the prepared crop w->v (gw x gh, dark on light, background @bgv) into
 * lines. Returns their number. */
static int find_lines(struct wctx *w, int gw, int gh, int bgv, int thr)
{
	w->rows = grow(w->rows, &w->rowcap, (size_t)gh, sizeof(int));
	for (int y = 0; y < gh; y++) {
		const uint8_t *row = w->v + (size_t)y * (size_t)gw;
		int c = 0;
		for (int x = 0; x < gw; x++)
			c += abs(row[x] - bgv) > thr;
		/* a rule (field border, underline across the crop) is not text */
		w->rows[y] = c * 20 > gw * 17 && gw > 4 * gh ? 0 : c;
	}
	int max = gh / 2 + 2, n = 0;
	struct run *r = malloc((size_t)max * sizeof(*r));
	if (!r)
		abort();
	for (int y = 0; y < gh;) {
		if (!w->rows[y]) {
			y++;
			continue;
		}
		int a = y;
		while (y < gh && w->rows[y])
			y++;
		if (n < max)
			r[n++] = (struct run){ a, y };
	}
	n = split_runs(w->rows, r, n, max);
	/* small runs (dots, umlaut marks, a stray underscore) join their nearest
	 * neighbour */
	for (bool again = true; again && n > 1;) {
		again = false;
		int hmax = 0;
		for (int i = 0; i < n; i++)
			hmax = r[i].b - r[i].a > hmax ? r[i].b - r[i].a : hmax;
		for (int i = 0; i < n; i++) {
			if ((r[i].b - r[i].a) * 5 >= hmax * 2)
				continue;
			int gu = i > 0 ? r[i].a - r[i - 1].b : 1 << 30, gd = i + 1 < n ? r[i + 1].a - r[i].b : 1 << 30;
			int j = gu <= gd ? i - 1 : i + 1;
			int lo = j < i ? j : i;
			r[lo].a = r[j].a < r[i].a ? r[j].a : r[i].a;
			r[lo].b = r[j].b > r[i].b ? r[j].b : r[i].b;
			memmove(&r[lo + 1], &r[lo + 2], (size_t)(n - lo - 2) * sizeof(*r));
			n--;
			again = true;
			break;
		}
	}
	if ((size_t)n > (size_t)w->linecap) {
		w->lines = realloc(w->lines, (size_t)n * sizeof(*w->lines));
		if (!w->lines)
			abort();
		w->linecap = n;
	}
	w->colbuf = grow(w->colbuf, &w->colcap, (size_t)n * (size_t)gw, sizeof(int));
	int nl = 0;
	for (int i = 0; i < n; i++) {
		struct line *l = &w->lines[nl];
		l->col = w->colbuf + (size_t)nl * (size_t)gw;
		memset(l->col, 0, (size_t)gw * sizeof(int));
		l->y0 = r[i].a;
		l->y1 = r[i].b;
		l->x0 = gw;
		l->x1 = 0;
		for (int y = l->y0; y < l->y1; y++) {
			const uint8_t *row = w->v + (size_t)y * (size_t)gw;
			for (int x = 0; x < gw; x++)
				if (abs(row[x] - bgv) > thr)
					l->col[x]++;
		}
		for (int x = 0; x < gw; x++)
			if (l->col[x]) {
				l->x0 = x < l->x0 ? x : l->x0;
				l->x1 = x + 1;
			}
		/* nothing, or a speck or rule no text is made of */
		if (l->x1 <= l->x0 || l->y1 - l->y0 < 3)
			continue;
		/* margins as a detector's box would have them: 40 % of the ink
		 * height above and below (best on bench-ocr's corpus, and the
		 * narrowest input: the model's cost grows with the width), half
		 * of it left and right */
		int hi = l->y1 - l->y0, my = (hi * 40 + 50) / 100, mx = (hi + 1) / 2;
		l->by0 = l->y0 - my;
		l->bh = hi + 2 * my;
		l->bx0 = l->x0 - mx;
		l->bw = l->x1 - l->x0 + 2 * mx;
		long iw = lround((double)l->bw * IN_H / l->bh);
		l->iw = iw < 8 ? 8 : iw > MAX_LINE_W ? MAX_LINE_W : (int)iw;
		nl++;
	}
	free(r);
	return nl;
}

/* Writes line @l, scaled to IN_H x l->iw, into the 3 planes at @dst
 * (plane stride pw, rows of pw), padding to pw with the background. */
static void line_fill(const struct wctx *w, const struct line *l, int gw, int gh, int bgv, float *dst, int pw)
{
	size_t plane = (size_t)IN_H * (size_t)pw;
	double sx = (double)l->bw / l->iw, sy = (double)l->bh / IN_H;
	float bgf = (float)bgv / 127.5f - 1.f;
	/* supersampling when shrinking */
	int kx = sx > 1 ? (int)ceil(sx) : 1, ky = sy > 1 ? (int)ceil(sy) : 1;
	for (int oy = 0; oy < IN_H; oy++) {
		float *o = dst + (size_t)oy * (size_t)pw;
		for (int ox = 0; ox < l->iw; ox++) {
			double acc = 0;
			for (int jy = 0; jy < ky; jy++)
				for (int jx = 0; jx < kx; jx++) {
					double fy = l->by0 + (oy + (jy + 0.5) / ky) * sy - 0.5;
					double fx = l->bx0 + (ox + (jx + 0.5) / kx) * sx - 0.5;
					int y0 = (int)floor(fy), x0 = (int)floor(fx);
					double wy = fy - y0, wx = fx - x0;
					double px[2][2];
					for (int a = 0; a < 2; a++)
						for (int c = 0; c < 2; c++) {
							int yy = y0 + a, xx = x0 + c;
							px[a][c] = yy < 0 || yy >= gh || xx < 0 || xx >= gw
									   ? bgv
									   : w->v[(size_t)yy * (size_t)gw + (size_t)xx];
						}
					acc += (px[0][0] * (1 - wx) + px[0][1] * wx) * (1 - wy) +
					       (px[1][0] * (1 - wx) + px[1][1] * wx) * wy;
				}
			o[ox] = (float)(acc / (kx * ky) / 127.5 - 1.0);
		}
		for (int ox = l->iw; ox < pw; ox++)
			o[ox] = bgf;
	}
	/* grey: the same in R, G and B */
	memcpy(dst + plane, dst, plane * sizeof(float));
	memcpy(dst + 2 * plane, dst, plane * sizeof(float));
}

static void word_add(struct ls_redact_ocr *out, int *cap, struct ls_redact_word wd)
{
	if (out->nwords == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		out->words = realloc(out->words, (size_t)*cap * sizeof(*out->words));
		if (!out->words)
			abort();
	}
	out->words[out->nwords++] = wd;
}

/* The widest run of empty ink columns in [a, b) of line @l: its start and
 * end in *s, *e; returns its width (0: none). */
static int widest_gap(const struct line *l, int a, int b, int *s, int *e)
{
	int best = 0;
	for (int x = a; x < b;) {
		if (l->col[x]) {
			x++;
			continue;
		}
		int x0 = x;
		while (x < b && !l->col[x])
			x++;
		if (x - x0 > best) {
			best = x - x0;
			*s = x0;
			*e = x;
		}
	}
	return best;
}

/* A small letter (ASCII, ä ö ü). */
static bool g_lower(const char *t)
{
	return (t[0] >= 'a' && t[0] <= 'z' && !t[1]) || !strcmp(t, "\u00e4") || !strcmp(t, "\u00f6") ||
	       !strcmp(t, "\u00fc");
}

/* A letter (ASCII or a UTF-8 sequence, taken as one). */
static bool g_letter(const char *t)
{
	return ((t[0] | 0x20) >= 'a' && (t[0] | 0x20) <= 'z') || (unsigned char)t[0] >= 0xc0;
}

struct comp {
	int x0, y0, x1, y1; /* inclusive */
};

/* Whether the glyph nearest crop column @cx on line @l has two dots over
 * it: a diaeresis. The ink near it in connected pieces (8-neighbours): the
 * body is the piece at least a third of the line high nearest @cx and as
 * wide as a vowel (not the stem of an i); the marks are exactly two small
 * pieces of like width side by side above it, over its columns. */
static bool diaeresis(struct wctx *w, const struct line *l, int cx, int *bx0, int *bx1)
{
	int hi = l->y1 - l->y0;
	int x0 = cx - hi < 0 ? 0 : cx - hi, x1 = cx + hi + 1 > w->gw ? w->gw : cx + hi + 1;
	int ww = x1 - x0, n = 0;
	if (ww < 2 || hi < 6)
		return false;
	size_t need = (size_t)ww * (size_t)hi;
	w->lab = grow(w->lab, &w->labcap, need, sizeof(int));
	w->stack = grow(w->stack, &w->stackcap, need, sizeof(int));
	int *lab = w->lab;
	for (int y = 0; y < hi; y++)
		for (int x = 0; x < ww; x++)
			lab[y * ww + x] = abs(w->v[(size_t)(l->y0 + y) * (size_t)w->gw + (size_t)(x0 + x)] - w->bgv) >
							  w->thr
						  ? -1
						  : 0;
	struct comp c[64];
	for (int i = 0; i < ww * hi && n < 64; i++) {
		if (lab[i] != -1)
			continue;
		int sp = 0;
		w->stack[sp++] = i;
		lab[i] = n + 1;
		c[n] = (struct comp){ i % ww, i / ww, i % ww, i / ww };
		while (sp) {
			int q = w->stack[--sp], qx = q % ww, qy = q / ww;
			c[n].x0 = qx < c[n].x0 ? qx : c[n].x0;
			c[n].x1 = qx > c[n].x1 ? qx : c[n].x1;
			c[n].y0 = qy < c[n].y0 ? qy : c[n].y0;
			c[n].y1 = qy > c[n].y1 ? qy : c[n].y1;
			for (int dy = -1; dy <= 1; dy++)
				for (int dx = -1; dx <= 1; dx++) {
					int nx = qx + dx, ny = qy + dy;
					if (nx < 0 || ny < 0 || nx >= ww || ny >= hi || lab[ny * ww + nx] != -1)
						continue;
					lab[ny * ww + nx] = n + 1;
					w->stack[sp++] = ny * ww + nx;
				}
		}
		n++;
	}
	int body = -1, cc = cx - x0;
	for (int i = 0; i < n; i++) {
		if ((c[i].y1 - c[i].y0 + 1) * 3 < hi)
			continue;
		int d = abs((c[i].x0 + c[i].x1) / 2 - cc), bd = body < 0 ? 0 : abs((c[body].x0 + c[body].x1) / 2 - cc);
		if (body < 0 || d < bd)
			body = i;
	}
	if (body < 0 || (c[body].x1 - c[body].x0 + 1) * 100 < hi * 30)
		return false;
	const struct comp *B = &c[body];
	int marks = 0, m[2] = { -1, -1 };
	for (int i = 0; i < n; i++) {
		int mx = (c[i].x0 + c[i].x1) / 2;
		if (i == body || c[i].y1 >= B->y0 || mx < B->x0 - 1 || mx > B->x1 + 1)
			continue;
		if ((c[i].y1 - c[i].y0 + 1) * 100 > hi * 30 || (c[i].x1 - c[i].x0 + 1) * 100 > hi * 35)
			return false; /* something else over it */
		if (marks < 2)
			m[marks] = i;
		marks++;
	}
	if (marks != 2)
		return false;
	int w0 = c[m[0]].x1 - c[m[0]].x0 + 1, w1 = c[m[1]].x1 - c[m[1]].x0 + 1;
	int wmax = w0 > w1 ? w0 : w1;
	*bx0 = x0 + B->x0;
	*bx1 = x0 + B->x1;
	/* two like dots at one height (not an f's hook and an i's dot) */
	return abs(w0 - w1) <= 1 + wmax / 4 && c[m[0]].y0 <= c[m[1]].y1 && c[m[1]].y0 <= c[m[0]].y1;
}

/* German the dictionary lacks or the model does not read: a, o, u, A, O, U
 * with two dots above become ä, ö, ü, Ä, Ö, Ü; a B after a small letter
 * that ends the word or comes before e, t, l, b, n, g or s is ß ("Straße"
 * read as "StraBe", "heißt" as "heiBt"; "McBride", "myBuffer" stay). */
static void german(struct wctx *w, const struct line *l, int n)
{
	static const char *const plain[] = { "a", "o", "u", "A", "O", "U", "0", "i" };
	static const char *const dots[] = { "\u00e4", "\u00f6", "\u00fc", "\u00c4",
					    "\u00d6", "\u00dc", "\u00d6", "\u00fc" };
	int ux0 = 1, ux1 = 0; /* the body of the last ü */
	for (int i = 0; i < n; i++) {
		struct ch *c = &w->chars[i];
		int bx0 = 0, bx1 = -1;
		/* an i inside the ü before it: the model read ü as "ui" */
		if (!strcmp(c->txt, "i") && !c->space && c->cx >= ux0 && c->cx <= ux1) {
			c->txt = "";
			continue;
		}
		for (int k = 0; k < 8; k++) {
			if (strcmp(c->txt, plain[k]) != 0 && (k != 2 || strcmp(c->txt, dots[2]) != 0))
				continue;
			if (diaeresis(w, l, c->cx, &bx0, &bx1)) {
				c->txt = dots[k];
				if (k == 2 || k == 7) {
					ux0 = bx0;
					ux1 = bx1;
				}
			}
			break;
		}
		/* a 0 that starts a word of small letters is an O ("0liver") */
		if (!strcmp(c->txt, "0") && (i == 0 || c->space) && i + 1 < n && !c[1].space && g_lower(c[1].txt))
			c->txt = "O";
		if (strcmp(c->txt, "B") == 0 && i > 0 && !c->space && g_lower(c[-1].txt)) {
			const char *nx = i + 1 < n && !c[1].space ? c[1].txt : "";
			if (!nx[0] || (strlen(nx) == 1 && strchr("etlbngs", nx[0])) || !g_letter(nx))
				c->txt = "\u00df";
		}
	}
}

/* CTC greedy decoding of line @li (probabilities @prob: T x nclass, the
 * line's valid steps first) into words. Spaces come from the ink: between
 * two characters where the columns are empty for 45 % of the line's ink
 * height (a word space), or for 25 % where the model read a space (it reads
 * spaces where there are none, "examp le", and misses narrow ones between
 * digit groups). */
static void decode_line(struct wctx *w, const struct line *l, int li, const float *prob, int T, int pw,
			struct ls_redact_ocr *out, int *cap)
{
	struct backend *b = w->b;
	const int C = b->nclass;
	double step = (double)pw / T; /* model pixels per time step */
	int tv = (int)ceil(l->iw / step) + 1;
	tv = tv < T ? tv : T;              /* steps over the line */
	double cx = (double)l->bw / l->iw; /* crop pixels per model pixel */
	int n = 0, prev = 0;
	bool sp = false;
	for (int t = 0; t < tv; t++) {
		const float *p = prob + (size_t)t * (size_t)C;
		int k = 0;
		for (int c = 1; c < C; c++)
			if (p[c] > p[k])
				k = c;
		if (k && k == prev && n && !b->space[k]) {
			w->chars[n - 1].t1 = t;
			w->chars[n - 1].p = p[k] > w->chars[n - 1].p ? p[k] : w->chars[n - 1].p;
		} else if (k && b->space[k]) {
			sp = n > 0;
		} else if (k) {
			if (n == w->charcap) {
				w->charcap = w->charcap ? w->charcap * 2 : 256;
				w->chars = realloc(w->chars, (size_t)w->charcap * sizeof(*w->chars));
				if (!w->chars)
					abort();
			}
			w->chars[n++] = (struct ch){ k, t, t, p[k], sp, l->x0, l->x1, 0, b->text[k] };
			sp = false;
		}
		prev = k;
	}
	int hi = l->y1 - l->y0;
	for (int i = 0; i < n; i++)
		w->chars[i].cx = l->bx0 + (int)lround((w->chars[i].t0 + w->chars[i].t1 + 1) * 0.5 * step * cx);
	if (!b->raw)
		german(w, l, n);
	/* the gaps: a word ends at the empty columns before the next word */
	for (int i = 0; i + 1 < n; i++) {
		struct ch *c = &w->chars[i], *d = &w->chars[i + 1];
		int a = c->cx, z = d->cx;
		a = a < l->x0 ? l->x0 : a;
		z = z > l->x1 ? l->x1 : z;
		int gs = 0, ge = 0, g = z > a ? widest_gap(l, a, z, &gs, &ge) : 0;
		/* before punctuation, or after @ _ /, only a wide gap ("Name :",
		 * "oliver .weber") */
		bool punct = (strlen(c->txt) == 1 && strchr("@_/", c->txt[0])) ||
			     (strlen(d->txt) == 1 && strchr(".,:;!?)@_/", d->txt[0]));
		d->space = d->space && !punct ? g * 100 >= hi * 25 : g * 100 >= hi * 45;
		if (d->space) {
			c->right = gs;
			d->left = ge;
		}
	}
	for (int i = 0; i < n;) {
		int j = i;
		while (j + 1 < n && !w->chars[j + 1].space)
			j++;
		size_t len = 0;
		float pmin = 1;
		for (int c = i; c <= j; c++) {
			len += strlen(w->chars[c].txt);
			pmin = w->chars[c].p < pmin ? w->chars[c].p : pmin;
		}
		if (!len) {
			i = j + 1;
			continue;
		}
		char *t = malloc(len + 1);
		if (!t)
			abort();
		size_t o = 0;
		for (int c = i; c <= j; c++) {
			size_t cl = strlen(w->chars[c].txt);
			memcpy(t + o, w->chars[c].txt, cl);
			o += cl;
		}
		t[o] = 0;
		int left = w->chars[i].left, right = w->chars[j].right;
		if (right <= left)
			right = left + 1;
		word_add(out, cap,
			 (struct ls_redact_word){ .x = left,
						  .y = l->y0,
						  .w = right - left,
						  .h = l->y1 - l->y0,
						  .line = li,
						  .conf = 100.f * pmin,
						  .text = t });
		i = j + 1;
	}
}

static int cmp_width(const void *a, const void *b, void *lines)
{
	const struct line *l = lines;
	int x = l[*(const int *)a].iw, y = l[*(const int *)b].iw;
	return (x > y) - (x < y);
}

static int pp_recognize(void *p, const uint8_t *gray, int gw, int gh, int stride, struct ls_redact_ocr *out)
{
	struct wctx *w = p;
	struct backend *b = w->b;
	out->nwords = 0;
	out->words = NULL;
	if (gw < 2 || gh < 2)
		return 0;
	/* background: the most common grey (of a window of 5 levels), which
	 * survives crops cut tight to the ink; dark: inverted */
	int hist[256] = { 0 };
	for (int y = 0; y < gh; y++) {
		const uint8_t *g = gray + (size_t)y * (size_t)stride;
		for (int x = 0; x < gw; x++)
			hist[g[x]]++;
	}
	int bg = 0, best = -1;
	for (int v = 0; v < 256; v++) {
		int c = 0;
		for (int k = v - 2; k <= v + 2; k++)
			c += k >= 0 && k < 256 ? hist[k] : 0;
		if (c > best) {
			best = c;
			bg = v;
		}
	}
	bool invert = bg < 128;
	int bgv = invert ? 255 - bg : bg, vmin = 255, vmax = 0;
	w->v = grow(w->v, &w->vcap, (size_t)gw * (size_t)gh, 1);
	for (int y = 0; y < gh; y++) {
		const uint8_t *g = gray + (size_t)y * (size_t)stride;
		uint8_t *o = w->v + (size_t)y * (size_t)gw;
		for (int x = 0; x < gw; x++) {
			o[x] = invert ? (uint8_t)(255 - g[x]) : g[x];
			vmin = o[x] < vmin ? o[x] : vmin;
			vmax = o[x] > vmax ? o[x] : vmax;
		}
	}
	int contrast = bgv - vmin > vmax - bgv ? bgv - vmin : vmax - bgv;
	if (contrast < 16)
		return 0; /* nothing drawn */
	int thr = contrast / 3 > 12 ? contrast / 3 : 12;
	w->gw = gw;
	w->gh = gh;
	w->bgv = bgv;
	w->thr = thr;
	int nl = find_lines(w, gw, gh, bgv, thr);
	w->nlines = nl;
	if (!nl)
		return 0;
	if (nl > w->ordcap) {
		w->order = realloc(w->order, (size_t)nl * sizeof(int));
		if (!w->order)
			abort();
		w->ordcap = nl;
	}
	for (int i = 0; i < nl; i++)
		w->order[i] = i;
	qsort_r(w->order, (size_t)nl, sizeof(int), cmp_width, w->lines);
	/* words per line, in line order at the end */
	struct ls_redact_ocr *per = calloc((size_t)nl, sizeof(*per));
	int *caps = calloc((size_t)nl, sizeof(int));
	if (!per || !caps)
		abort();
	int rc = 0;
	for (int a = 0; a < nl && rc == 0;) {
		/* a batch: lines of the same padded width. Not wider: padding a
		 * line to a longer neighbour's width changes what the model reads
		 * (a 541 px line padded to 649 px lost three letters and its
		 * confidence), and on the CPU a Run() has no fixed cost worth
		 * saving (bench-ocr: time grows with the width alone) */
		int z = a + 1;
		while (z < nl && (w->lines[w->order[z]].iw + 7) / 8 == (w->lines[w->order[a]].iw + 7) / 8 &&
		       (size_t)(z - a + 1) * (size_t)w->lines[w->order[z]].iw <= 64 * 1024)
			z++;
		int pw = (w->lines[w->order[z - 1]].iw + 7) / 8 * 8;
		size_t per_line = (size_t)3 * IN_H * (size_t)pw;
		w->in = grow(w->in, &w->incap, per_line * (size_t)(z - a), sizeof(float));
		for (int i = a; i < z; i++)
			line_fill(w, &w->lines[w->order[i]], gw, gh, bgv, w->in + per_line * (size_t)(i - a), pw);
		int64_t shape[4] = { z - a, 3, IN_H, pw };
		OrtValue *iv = NULL, *ov = NULL;
		OrtTensorTypeAndShapeInfo *oi = NULL;
		float *prob = NULL;
		int64_t od[3] = { 0, 0, 0 };
		size_t ond = 0;
		const char *in_names[1] = { b->in_name }, *out_names[1] = { b->out_name };
		char *m = st_msg(ort->CreateTensorWithDataAsOrtValue(b->mem, w->in,
								     per_line * (size_t)(z - a) * sizeof(float), shape,
								     4, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &iv));
		if (!m)
			m = st_msg(ort->Run(w->s, NULL, in_names, (const OrtValue *const *)&iv, 1, out_names, 1, &ov));
		if (!m)
			m = st_msg(ort->GetTensorMutableData(ov, (void **)&prob));
		if (!m)
			m = st_msg(ort->GetTensorTypeAndShape(ov, &oi));
		if (!m)
			m = st_msg(ort->GetDimensionsCount(oi, &ond));
		if (!m && ond == 3)
			m = st_msg(ort->GetDimensions(oi, od, 3));
		if (!m && (ond != 3 || od[0] != z - a || od[2] != b->nclass || od[1] < 1))
			m = strdup("unexpected output shape");
		if (m) {
			fprintf(stderr, "ocr_ppocr: %s: %s\n", b->model, m);
			free(m);
			rc = -EIO;
		} else {
			for (int i = a; i < z; i++) {
				int li = w->order[i];
				decode_line(w, &w->lines[li], li,
					    prob + (size_t)(i - a) * (size_t)od[1] * (size_t)b->nclass, (int)od[1], pw,
					    &per[li], &caps[li]);
			}
		}
		if (oi)
			ort->ReleaseTensorTypeAndShapeInfo(oi);
		if (ov)
			ort->ReleaseValue(ov);
		if (iv)
			ort->ReleaseValue(iv);
		a = z;
	}
	/* lines numbered from 0 in reading order, empty ones skipped */
	int cap = 0, line = 0;
	for (int i = 0; i < nl; i++) {
		for (int k = 0; k < per[i].nwords; k++) {
			per[i].words[k].line = line;
			if (rc == 0)
				word_add(out, &cap, per[i].words[k]);
			else
				free(per[i].words[k].text);
		}
		line += per[i].nwords > 0;
		free(per[i].words);
	}
	free(per);
	free(caps);
	if (rc < 0)
		ls_redact_ocr_clear(out);
	return rc;
}

/* ---- making and freeing --------------------------------------------------- */

struct ls_redact_backend *ls_ppocr_backend_new(const struct ls_ppocr_opts *o, char **err)
{
	char *e = NULL;
	if (!o || !o->model || !*o->model) {
		*err = strdup("the PP-OCR backend needs a recognition model (ch_PP-OCRv4_rec_infer.onnx)");
		return NULL;
	}
	if (o->threads < 0 || o->threads > 64) {
		*err = fmt("%s: threads=%d is outside 1..64", o->model, o->threads);
		return NULL;
	}
	struct stat st;
	if (stat(o->model, &st) < 0) {
		*err = fmt("%s: cannot open the model: %s", o->model, strerror(errno));
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		*err = fmt("%s: cannot open the model: not a file", o->model);
		return NULL;
	}
	if (!(ort = ls_ort_api(o->runtime, err)))
		return NULL;
	struct backend *b = calloc(1, sizeof(*b));
	if (!b)
		abort();
	pthread_mutex_init(&b->lock, NULL);
	b->model = strdup(o->model);
	if (o->keys) {
		b->keys_path = strdup(o->keys);
	} else {
		const char *slash = strrchr(o->model, '/');
		b->keys_path = fmt("%.*sppocr_keys_v1.txt", slash ? (int)(slash - o->model + 1) : 0, o->model);
	}
	b->threads = o->threads ? o->threads : 1;
	b->shared = o->shared_session;
	b->raw = o->raw;
	char *m = st_msg(ort->CreateEnv(ORT_LOGGING_LEVEL_ERROR, "lockstep-ocr", &b->env));
	if (!m)
		m = st_msg(ort->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &b->mem));
	if (m) {
		e = fmt("ONNX Runtime: %s", m);
		free(m);
		goto fail;
	}
	b->first = session_open(b, &e);
	if (!b->first || model_check(b, &e) < 0 || keys_load(b, &e) < 0)
		goto fail;
	b->ops.worker_new = pp_worker_new;
	b->ops.recognize = pp_recognize;
	b->ops.worker_free = pp_worker_free;
	b->ops.user = b;
	return &b->ops;
fail:
	*err = e ? e : strdup("PP-OCR backend: failed");
	backend_release(b);
	return NULL;
}

void ls_ppocr_backend_free(struct ls_redact_backend **bp)
{
	if (!bp || !*bp)
		return;
	backend_release((struct backend *)*bp);
	*bp = NULL;
}

int ls_ppocr_probe(const struct ls_ppocr_opts *o, char **err)
{
	struct ls_redact_backend *b = ls_ppocr_backend_new(o, err);
	if (!b)
		return -EINVAL;
	void *w = b->worker_new(b->user, 0, err);
	if (!w) {
		ls_ppocr_backend_free(&b);
		return -EIO;
	}
	/* a dark bar on white: one Run() through the model */
	enum { W = 64, H = 24 };
	uint8_t img[W * H];
	memset(img, 255, sizeof img);
	for (int y = 8; y < 16; y++)
		memset(img + y * W + 8, 0, W - 16);
	struct ls_redact_ocr r = { 0, NULL };
	int rc = b->recognize(w, img, W, H, W, &r);
	ls_redact_ocr_clear(&r);
	if (rc < 0)
		*err = fmt("%s: the model does not run (see the message above)", o->model);
	b->worker_free(w);
	ls_ppocr_backend_free(&b);
	return rc < 0 ? rc : 0;
}

#endif
