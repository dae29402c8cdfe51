/* ocr_tess — see ocr_tess.h. */
#include "ocr_tess.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <tesseract/capi.h>

struct backend {
	struct ls_redact_backend ops; /* first: the public part */
	char *datapath, *langs;
};

struct wctx {
	/* fault injection for the tests of the watchdog: LOCKSTEP_FAULT_OCR=fail,
	 * every call fails; =file:PATH, every call fails while PATH exists (an
	 * OCR that dies and comes back) */
	bool fail;
	const char *fail_while;
	TessBaseAPI *api;
	uint8_t *buf;
	size_t cap;
};

static void *tess_worker_new(void *user, int idx, char **err)
{
	struct backend *b = user;
	(void)idx;
	struct wctx *w = g_new0(struct wctx, 1);
	w->api = TessBaseAPICreate();
	/* 1 = OEM_LSTM_ONLY */
	if (!w->api || TessBaseAPIInit2(w->api, b->datapath, b->langs, 1) != 0) {
		if (err)
			*err = strdup("tesseract cannot load its language data (is tesseract-ocr-eng/-deu installed?)");
		if (w->api)
			TessBaseAPIDelete(w->api);
		g_free(w);
		return NULL;
	}
	TessBaseAPISetVariable(w->api, "debug_file", "/dev/null");
	const char *fault = getenv("LOCKSTEP_FAULT_OCR");
	w->fail = fault && strcmp(fault, "fail") == 0;
	w->fail_while = fault && g_str_has_prefix(fault, "file:") ? fault + 5 : NULL;
	TessBaseAPISetVariable(w->api, "user_defined_dpi", "96");
	return w;
}

static void tess_worker_free(void *p)
{
	struct wctx *w = p;
	if (!w)
		return;
	TessBaseAPIEnd(w->api);
	TessBaseAPIDelete(w->api);
	g_free(w->buf);
	g_free(w);
}

#define MARGIN 8

/* Prepares @gray into w->buf: inverted when the background is dark, scaled
 * by @s (1 or 2, bilinear), inside a white margin. */
static uint8_t *prepare(struct wctx *w, const uint8_t *gray, int gw, int gh, int stride, int s, int *ow, int *oh)
{
	/* background: the mean of the border pixels */
	long sum = 0, cnt = 0;
	for (int x = 0; x < gw; x++) {
		sum += gray[x] + gray[(size_t)(gh - 1) * (size_t)stride + (size_t)x];
		cnt += 2;
	}
	for (int y = 0; y < gh; y++) {
		sum += gray[(size_t)y * (size_t)stride] + gray[(size_t)y * (size_t)stride + (size_t)gw - 1];
		cnt += 2;
	}
	bool invert = sum < 110 * cnt;
	int W = gw * s + 2 * MARGIN, H = gh * s + 2 * MARGIN;
	size_t need = (size_t)W * (size_t)H;
	if (need > w->cap) {
		g_free(w->buf);
		w->buf = g_malloc(need);
		w->cap = need;
	}
	memset(w->buf, 255, need);
	for (int y = 0; y < gh * s; y++) {
		uint8_t *o = w->buf + (size_t)(y + MARGIN) * (size_t)W + MARGIN;
		if (s == 1) {
			const uint8_t *g = gray + (size_t)y * (size_t)stride;
			for (int x = 0; x < gw; x++)
				o[x] = invert ? (uint8_t)(255 - g[x]) : g[x];
			continue;
		}
		/* bilinear, sampling the source at ((y + 0.5) / s - 0.5) in 1/256 px */
		int fy = (2 * y + 1) * 128 / s - 128;
		int y0 = fy < 0 ? 0 : fy >> 8, wy = fy < 0 ? 0 : fy & 255;
		int y1 = y0 + 1 < gh ? y0 + 1 : y0;
		const uint8_t *g0 = gray + (size_t)y0 * (size_t)stride, *g1 = gray + (size_t)y1 * (size_t)stride;
		for (int x = 0; x < gw * s; x++) {
			int fx = (2 * x + 1) * 128 / s - 128;
			int x0 = fx < 0 ? 0 : fx >> 8, wx = fx < 0 ? 0 : fx & 255;
			int x1 = x0 + 1 < gw ? x0 + 1 : x0;
			int top = g0[x0] * (256 - wx) + g0[x1] * wx, bot = g1[x0] * (256 - wx) + g1[x1] * wx;
			int v = (top * (256 - wy) + bot * wy + (1 << 15)) >> 16;
			o[x] = invert ? (uint8_t)(255 - v) : (uint8_t)v;
		}
	}
	*ow = W;
	*oh = H;
	return w->buf;
}

/* The words of @w's last recognition into @out (malloc'd), with their
 * boxes mapped back from an image scaled by @s inside @margin px to the
 * @gw x @gh source, and their line index (Tesseract's text lines, counted
 * from 0). */
static void collect_words(struct wctx *w, int margin, int s, int gw, int gh, struct ls_redact_ocr *out)
{
	TessResultIterator *it = TessBaseAPIGetIterator(w->api);
	int cap = 0, line = -1;
	out->nwords = 0;
	out->words = NULL;
	if (!it)
		return;
	const TessPageIterator *pi = TessResultIteratorGetPageIteratorConst(it);
	do {
		char *t = TessResultIteratorGetUTF8Text(it, RIL_WORD);
		if (!t)
			continue;
		if (TessPageIteratorIsAtBeginningOf(pi, RIL_TEXTLINE) || line < 0)
			line++;
		int l, tp, r, b;
		if (!TessPageIteratorBoundingBox(pi, RIL_WORD, &l, &tp, &r, &b) || !*t) {
			TessDeleteText(t);
			continue;
		}
		if (out->nwords == cap) {
			cap = cap ? cap * 2 : 16;
			out->words = realloc(out->words, (size_t)cap * sizeof(*out->words));
			if (!out->words)
				abort();
		}
		struct ls_redact_word *wd = &out->words[out->nwords++];
		int x0 = (l - margin) / s, y0 = (tp - margin) / s, x1 = (r - margin + s - 1) / s,
		    y1 = (b - margin + s - 1) / s;
		wd->x = x0 < 0 ? 0 : x0;
		wd->y = y0 < 0 ? 0 : y0;
		wd->w = (x1 > gw ? gw : x1) - wd->x;
		wd->h = (y1 > gh ? gh : y1) - wd->y;
		wd->line = line;
		wd->conf = TessResultIteratorConfidence(it, RIL_WORD);
		wd->text = strdup(t);
		TessDeleteText(t);
	} while (TessResultIteratorNext(it, RIL_WORD));
	TessResultIteratorDelete(it);
}

/* One reading of @gray at scale @s into @out (words malloc'd). */
static int tess_pass(struct wctx *w, const uint8_t *gray, int gw, int gh, int stride, int s, struct ls_redact_ocr *out)
{
	int W, H;
	const uint8_t *img = prepare(w, gray, gw, gh, stride, s, &W, &H);
	TessBaseAPISetPageSegMode(w->api, gh < 40 ? PSM_SINGLE_LINE : PSM_SINGLE_BLOCK);
	TessBaseAPISetImage(w->api, img, W, H, 1, W);
	if (TessBaseAPIRecognize(w->api, NULL) != 0)
		return -1;
	collect_words(w, MARGIN, s, gw, gh, out);
	TessBaseAPIClear(w->api);
	return 0;
}

/* The lowest confidence of the words the redactor would mask as unreadable
 * (3 bytes or more), 100 when there is none. */
static float weakest(const struct ls_redact_ocr *o)
{
	float m = 100;
	for (int i = 0; i < o->nwords; i++)
		if (strlen(o->words[i].text) >= 3 && o->words[i].conf < m)
			m = o->words[i].conf;
	return m;
}

static int tess_recognize(void *p, const uint8_t *gray, int gw, int gh, int stride, struct ls_redact_ocr *out)
{
	struct wctx *w = p;
	/* fault injection for the tests: an OCR engine that fails */
	if (w->fail || (w->fail_while && access(w->fail_while, F_OK) == 0))
		return -1;
	/* scale up only small text: 2x costs about 1.5x and does not help 14 px text */
	int s = gh < 14 ? 2 : 1;
	if (tess_pass(w, gray, gw, gh, stride, s, out) < 0)
		return -1;
	/* a second opinion at twice the size where a word came out unsure
	 * (small light-on-dark text in a button or tab: "Stammesten", conf
	 * 41): the reading whose weakest word is surer wins. Costs about 1.5x
	 * for these units only */
	float first = weakest(out);
	if (first < 60 && s == 1 && gh <= 64) {
		struct ls_redact_ocr again;
		if (tess_pass(w, gray, gw, gh, stride, 2, &again) == 0) {
			if (weakest(&again) > first) {
				ls_redact_ocr_clear(out);
				*out = again;
			} else
				ls_redact_ocr_clear(&again);
		}
	}
	return 0;
}

int ls_tess_read_page(void *p, const uint8_t *gray, int gw, int gh, int stride, struct ls_redact_ocr *out)
{
	struct wctx *w = p;
	TessBaseAPISetPageSegMode(w->api, PSM_AUTO);
	TessBaseAPISetImage(w->api, gray, gw, gh, 1, stride);
	if (TessBaseAPIRecognize(w->api, NULL) != 0)
		return -1;
	struct ls_redact_ocr o;
	collect_words(w, 0, 1, gw, gh, &o);
	TessBaseAPIClear(w->api);
	int n = o.nwords;
	if (out)
		*out = o;
	else
		ls_redact_ocr_clear(&o);
	return n;
}

struct ls_redact_backend *ls_tess_backend_new(const struct ls_tess_opts *o)
{
	struct backend *b = g_new0(struct backend, 1);
	b->datapath = o && o->datapath ? g_strdup(o->datapath) : NULL;
	b->langs = g_strdup(o && o->langs ? o->langs : "eng+deu");
	b->ops.worker_new = tess_worker_new;
	b->ops.recognize = tess_recognize;
	b->ops.worker_free = tess_worker_free;
	b->ops.user = b;
	return &b->ops;
}

void ls_tess_backend_free(struct ls_redact_backend **bp)
{
	if (!bp || !*bp)
		return;
	struct backend *b = (struct backend *)*bp;
	g_free(b->datapath);
	g_free(b->langs);
	g_free(b);
	*bp = NULL;
}

int ls_tess_probe(const struct ls_tess_opts *o, char **err)
{
	struct ls_redact_backend *b = ls_tess_backend_new(o);
	char *e = NULL;
	void *w = b->worker_new(b->user, 0, &e);
	if (!w) {
		*err = g_strdup_printf("OCR languages %s: %s", o && o->langs ? o->langs : "eng+deu", e ? e : "?");
		free(e);
		ls_tess_backend_free(&b);
		return -1;
	}
	b->worker_free(w);
	ls_tess_backend_free(&b);
	return 0;
}
