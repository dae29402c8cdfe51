/* ls_redact with a scripted OCR backend: exact change detection, fail-closed
 * masking of unread text, verdicts from the cache, scrolling, rows and
 * column headers as labels, the watchdog, and the text detector. No
 * Tesseract here (tests/redact.py runs the real one end to end). */
#include <glib.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ls_redact.h"
#include "ls_time.h"

#define W 640
#define H 360

/* A "glyph line": a dark run of blocks on white, wide @len*8 px, 12 px
 * tall, with a pattern seeded by @id so that different lines differ. */
static void draw_line(uint8_t *y, int x, int yy, int len, unsigned id)
{
	for (int c = 0; c < len; c++) {
		unsigned v = (id * 2654435761u) ^ (unsigned)c * 40503u;
		for (int r = 0; r < 12; r++)
			for (int k = 0; k < 6; k++)
				if ((v >> ((r + k) % 16)) & 1 || k == 0)
					y[(size_t)(yy + r) * W + (size_t)(x + c * 8 + k)] = 20;
	}
}

struct img {
	uint8_t *buf;
	struct ls_redact_image im;
};

static void img_init(struct img *i)
{
	i->buf = g_malloc((size_t)W * H * 3 / 2);
	memset(i->buf, 235, (size_t)W * H);
	memset(i->buf + (size_t)W * H, 128, (size_t)W * H / 2);
	i->im = (struct ls_redact_image){ { i->buf, i->buf + W * H, i->buf + W * H * 5 / 4 }, { W, W / 2, W / 2 } };
}

static void img_free(struct img *i) { g_free(i->buf); }

/* The fake OCR: a line of N glyph cells "reads" as the text registered for
 * N (each test draws lines of distinct lengths); word boxes share its ink. */
struct script {
	atomic_int calls;
	atomic_int fail;
	atomic_int delay_ms;
	atomic_int slow_len, slow_ms; /* a line of slow_len glyph cells takes slow_ms more */
	GMutex mu;
	char *text_at[W]; /* what a line of N glyph cells reads as, by N */
};
static struct script S;

static void *fake_new(void *user, int idx, char **err) { return &S; }

static void fake_free(void *w) {}

static int fake_recognize(void *wctx, const uint8_t *gray, int w, int h, int stride, struct ls_redact_ocr *out)
{
	atomic_fetch_add(&S.calls, 1);
	if (atomic_load(&S.delay_ms))
		g_usleep((gulong)atomic_load(&S.delay_ms) * 1000);
	if (atomic_load(&S.fail))
		return -1;
	/* find the id: the line's text is keyed by its width in glyphs and
	 * registered in S.text_at[len] */
	int x0 = w, x1 = -1;
	for (int yy = 0; yy < h; yy++)
		for (int x = 0; x < w; x++)
			if (gray[(size_t)yy * (size_t)stride + (size_t)x] < 128) {
				x0 = x < x0 ? x : x0;
				x1 = x > x1 ? x : x1;
			}
	out->nwords = 0;
	out->words = NULL;
	if (x1 < 0)
		return 0;
	int len = (x1 - x0 + 3) / 8;
	if (len == atomic_load(&S.slow_len))
		g_usleep((gulong)atomic_load(&S.slow_ms) * 1000);
	g_mutex_lock(&S.mu);
	const char *t = len < W ? S.text_at[len] : NULL;
	g_mutex_unlock(&S.mu);
	if (!t)
		return 0;
	/* one word per space-separated token, spread over the ink */
	gchar **tok = g_strsplit(t, " ", -1);
	int n = (int)g_strv_length(tok);
	out->words = calloc((size_t)n, sizeof(*out->words));
	int span = (x1 - x0 + 1) / (n ? n : 1);
	for (int i = 0; i < n; i++) {
		out->words[i] = (struct ls_redact_word){ x0 + i * span, 1, span - 2, h - 2, 0, 95.f, strdup(tok[i]) };
		out->nwords++;
	}
	g_strfreev(tok);
	return 0;
}

static const struct ls_redact_backend fake = { fake_new, fake_recognize, fake_free, NULL };

static void script_reset(void)
{
	for (int i = 0; i < W; i++)
		g_clear_pointer(&S.text_at[i], g_free);
	atomic_store(&S.calls, 0);
	atomic_store(&S.fail, 0);
	atomic_store(&S.delay_ms, 0);
	atomic_store(&S.slow_len, 0);
	atomic_store(&S.slow_ms, 0);
}

/* The scanner: "SECRET" tokens, and the token after "Label:" or after a
 * "Kd-Nr" column header. */
static int scan(void *user, const char *line, struct ls_redact_match *out, int max)
{
	int n = 0;
	for (const char *p = strstr(line, "SECRET"); p && n < max; p = strstr(p + 1, "SECRET"))
		out[n++] = (struct ls_redact_match){ (int)(p - line), (int)(p - line) + 6, "secret", 1.0f };
	static const char *const labels[] = { "Label:", "Kd-Nr" };
	for (int k = 0; k < 2; k++) {
		const char *l = strstr(line, labels[k]);
		if (!l || n >= max)
			continue;
		const char *v = l + strlen(labels[k]);
		while (*v == ' ' || *v == '\t')
			v++;
		const char *e = v;
		while (*e && *e != ' ' && *e != '\t')
			e++;
		if (e > v)
			out[n++] = (struct ls_redact_match){ (int)(v - line), (int)(e - line), "label", 0.9f };
	}
	return n;
}

static struct ls_redactor *make(bool wait, int64_t budget_ns)
{
	/* clang-format off */
	struct ls_redact_params p = {
		.width = W, .height = H, .workers = 2, .wait = wait, .budget_ns = budget_ns, .ocr = &fake, .scan = scan,
	};
	/* clang-format on */
	struct ls_redactor *r = NULL;
	char *err = NULL;
	g_assert_cmpint(ls_redactor_new(&p, &r, &err), ==, 0);
	return r;
}

static void process(struct ls_redactor *r, struct img *in, struct img *out, struct ls_redact_stats *st)
{
	int64_t now = ls_monotonic_ns();
	g_assert_cmpint(ls_redactor_process(r, &in->im, &out->im, now, now, st), ==, 0);
}

/* Fraction of the box's luma at the mask value (16). */
static double masked(const struct img *o, int x, int y, int w, int h)
{
	int m = 0;
	for (int yy = y; yy < y + h; yy++)
		for (int xx = x; xx < x + w; xx++)
			m += o->buf[(size_t)yy * W + (size_t)xx] == 16;
	return (double)m / (w * h);
}

static void set_text(int len, const char *t)
{
	g_mutex_lock(&S.mu);
	g_free(S.text_at[len]);
	S.text_at[len] = g_strdup(t);
	g_mutex_unlock(&S.mu);
}

static void wait_for_ocr(struct ls_redactor *r, struct img *in, struct img *out, struct ls_redact_stats *st)
{
	for (int i = 0; i < 2000; i++) {
		process(r, in, out, st);
		if (!st->pending_units)
			return;
		g_usleep(5000);
	}
	g_assert_not_reached();
}

static void test_find_text(void)
{
	struct img a;
	img_init(&a);
	draw_line(a.buf, 40, 40, 10, 1);
	draw_line(a.buf, 40, 80, 20, 2);
	draw_line(a.buf, 400, 80, 5, 3); /* far to the right: its own unit */
	/* a table rule across: not text */
	memset(a.buf + (size_t)150 * W + 20, 20, 600);
	struct ls_redact_box b[16];
	int n = ls_redact_find_text(a.buf, W, W, H, 0, H, b, 16);
	g_assert_cmpint(n, ==, 3);
	for (int i = 0; i < n; i++) {
		g_assert_cmpint(b[i].h, >=, 12);
		g_assert_cmpint(b[i].h, <=, 15);
	}
	/* a band that sees only part of the rows still finds what is there */
	g_assert_cmpint(ls_redact_find_text(a.buf, W, W, H, 0, 60, b, 16), ==, 1);
	g_assert_cmpint(ls_redact_find_text(a.buf, W, W, H, 200, H, b, 16), ==, 0);
	img_free(&a);
}

/* Unread text is covered from its first frame until OCR has judged it; then
 * only the personal data stays covered, and OCR ran once per line. */
static void test_fail_closed_then_judged(void)
{
	script_reset();
	set_text(10, "hello SECRET");
	set_text(20, "just words here");
	atomic_store(&S.delay_ms, 30);
	struct ls_redactor *r = make(false, 10 * LS_NS_PER_SEC);
	struct img in, out;
	img_init(&in);
	img_init(&out);
	draw_line(in.buf, 40, 40, 10, 1);
	draw_line(in.buf, 40, 80, 20, 2);
	struct ls_redact_stats st;
	process(r, &in, &out, &st);
	g_assert_cmpint(st.pending_units, ==, 2);
	g_assert_cmpfloat(masked(&out, 40, 40, 80, 12), ==, 1.0);
	g_assert_cmpfloat(masked(&out, 40, 80, 160, 12), ==, 1.0);
	wait_for_ocr(r, &in, &out, &st);
	/* "SECRET" is the second half of line 1; line 2 is clear */
	g_assert_cmpfloat(masked(&out, 40 + 45, 40, 30, 12), ==, 1.0);
	g_assert_cmpfloat(masked(&out, 40, 80, 160, 12), ==, 0.0);
	g_assert_cmpint(st.mask_boxes, ==, 1);
	int calls = atomic_load(&S.calls);
	g_assert_cmpint(calls, ==, 2);
	/* many more identical frames: no OCR, same masks */
	for (int i = 0; i < 20; i++)
		process(r, &in, &out, &st);
	g_assert_cmpint(atomic_load(&S.calls), ==, calls);
	g_assert_cmpint(st.changed_tiles, ==, 0);
	ls_redactor_free(&r);
	img_free(&in);
	img_free(&out);
}

/* One byte of one chroma plane changed: that tile is changed (compared
 * byte for byte, no hash). */
static void test_exact_change(void)
{
	script_reset();
	struct ls_redactor *r = make(false, 10 * LS_NS_PER_SEC);
	struct img in, out;
	img_init(&in);
	img_init(&out);
	struct ls_redact_stats st;
	process(r, &in, &out, &st);
	g_assert_cmpint(st.changed_tiles, ==, ((W + 31) / 32) * ((H + 31) / 32)); /* first frame: all */
	process(r, &in, &out, &st);
	g_assert_cmpint(st.changed_tiles, ==, 0);
	in.im.planes[2][(size_t)(100 / 2) * (W / 2) + 300 / 2] ^= 1;
	process(r, &in, &out, &st);
	g_assert_cmpint(st.changed_tiles, ==, 1);
	in.buf[(size_t)300 * W + 5] ^= 0x80;
	process(r, &in, &out, &st);
	g_assert_cmpint(st.changed_tiles, ==, 1);
	ls_redactor_free(&r);
	img_free(&in);
	img_free(&out);
}

/* A label and its value are separate units on one row: the row is judged
 * as one line; while either is unread, both are covered. */
static void test_row_label(void)
{
	script_reset();
	set_text(6, "Label:");
	set_text(9, "12345678");
	struct ls_redactor *r = make(true, 0);
	struct img in, out;
	img_init(&in);
	img_init(&out);
	draw_line(in.buf, 40, 100, 6, 7);
	draw_line(in.buf, 300, 100, 9, 8);
	struct ls_redact_stats st;
	process(r, &in, &out, &st);
	g_assert_cmpint(st.pending_units, ==, 0);
	g_assert_cmpfloat(masked(&out, 300, 100, 72, 12), ==, 1.0);
	g_assert_cmpfloat(masked(&out, 40, 100, 48, 12), ==, 0.0);
	ls_redactor_free(&r);
	img_free(&in);
	img_free(&out);
}

/* A value under a column header ("Label:" above it) is judged with it. */
static void test_column_header(void)
{
	script_reset();
	set_text(6, "Label:");
	set_text(9, "4242");
	set_text(11, "4343");
	struct ls_redactor *r = make(true, 0);
	struct img in, out;
	img_init(&in);
	img_init(&out);
	draw_line(in.buf, 100, 40, 6, 7);
	draw_line(in.buf, 100, 70, 9, 9);
	draw_line(in.buf, 100, 100, 11, 10);
	struct ls_redact_stats st;
	process(r, &in, &out, &st);
	g_assert_cmpfloat(masked(&out, 100, 70, 72, 12), ==, 1.0);
	g_assert_cmpfloat(masked(&out, 100, 100, 88, 12), ==, 1.0);
	g_assert_cmpfloat(masked(&out, 100, 40, 48, 12), ==, 0.0);
	ls_redactor_free(&r);
	img_free(&in);
	img_free(&out);
}

/* A table appears under a toolbar, and OCR reads its rows before its
 * header: the second row's identifier, whose nearest cell above is read,
 * stays covered until the header is read too (the toolbar's words are no
 * label for it); a plain number there is shown. Then the header's verdict
 * covers both identifiers. */
static void test_header_read_last(void)
{
	script_reset();
	set_text(40, "plain words here");
	set_text(6, "Kd-Nr");
	set_text(9, "AB12345");
	set_text(11, "CD67890");
	set_text(4, "12");
	set_text(5, "13");
	atomic_store(&S.slow_len, 6);
	atomic_store(&S.slow_ms, 1500);
	/* three workers: two read the headers, one the rows meanwhile */
	struct ls_redact_params p = {
		.width = W,
		.height = H,
		.workers = 3,
		.budget_ns = 10 * LS_NS_PER_SEC,
		.ocr = &fake,
		.scan = scan,
	};
	struct ls_redactor *r = NULL;
	char *err = NULL;
	g_assert_cmpint(ls_redactor_new(&p, &r, &err), ==, 0);
	struct img in, out;
	img_init(&in);
	img_init(&out);
	draw_line(in.buf, 100, 40, 40, 3); /* toolbar over both columns */
	draw_line(in.buf, 100, 70, 6, 4);  /* header of the identifiers */
	draw_line(in.buf, 300, 70, 6, 5);  /* header of the numbers */
	draw_line(in.buf, 100, 100, 9, 6); /* row 1 */
	draw_line(in.buf, 300, 100, 4, 7);
	draw_line(in.buf, 100, 130, 11, 8); /* row 2 */
	draw_line(in.buf, 300, 130, 5, 9);
	struct ls_redact_stats st;
	int i = 0;
	for (process(r, &in, &out, &st); st.pending_units > 2 && i < 1000; i++) {
		g_usleep(2000);
		process(r, &in, &out, &st);
	}
	g_assert_cmpint(st.pending_units, ==, 2); /* the two headers */
	g_assert_cmpfloat(masked(&out, 100, 40, 320, 12), ==, 0.0);
	g_assert_cmpfloat(masked(&out, 100, 100, 72, 12), ==, 1.0); /* under the unread header */
	g_assert_cmpfloat(masked(&out, 100, 130, 88, 12), ==, 1.0); /* the identifier under row 1 */
	g_assert_cmpfloat(masked(&out, 300, 130, 40, 12), ==, 0.0); /* the plain number under row 1 */
	wait_for_ocr(r, &in, &out, &st);
	g_assert_cmpfloat(masked(&out, 100, 70, 48, 12), ==, 0.0);
	g_assert_cmpfloat(masked(&out, 100, 100, 72, 12), ==, 1.0);
	g_assert_cmpfloat(masked(&out, 100, 130, 88, 12), ==, 1.0);
	ls_redactor_free(&r);
	img_free(&in);
	img_free(&out);
}

/* The content scrolls up by 7 px: the shift is measured, the lines keep
 * their verdicts without OCR, and the mask moves with the secret. */
static void test_scroll(void)
{
	script_reset();
	set_text(10, "hello SECRET");
	for (int k = 11; k < 30; k++)
		set_text(k, "plain text");
	struct ls_redactor *r = make(true, 0);
	struct img in, out;
	img_init(&in);
	img_init(&out);
	for (int i = 0; i < 8; i++)
		draw_line(in.buf, 40, 40 + i * 30, i == 3 ? 10 : 11 + i, 20 + (unsigned)i);
	struct ls_redact_stats st;
	process(r, &in, &out, &st);
	int calls = atomic_load(&S.calls);
	g_assert_cmpfloat(masked(&out, 40 + 45, 130, 30, 12), ==, 1.0);
	/* scroll the block [30, 300) up by 7 rows */
	memmove(in.buf + (size_t)30 * W, in.buf + (size_t)37 * W, (size_t)(300 - 37) * W);
	memset(in.buf + (size_t)293 * W, 235, (size_t)7 * W);
	process(r, &in, &out, &st);
	g_assert_cmpint(st.scroll_dy, ==, 7);
	g_assert_cmpint(atomic_load(&S.calls), ==, calls);
	g_assert_cmpfloat(masked(&out, 40 + 45, 123, 30, 12), ==, 1.0);
	g_assert_cmpfloat(masked(&out, 40, 33, 80, 12), ==, 0.0);
	ls_redactor_free(&r);
	img_free(&in);
	img_free(&out);
}

/* The watchdog: a frame older than the budget is masked whole; an OCR
 * engine that fails makes its worker count as dead: all masked. */
static void test_watchdog(void)
{
	script_reset();
	/* a budget that a fresh frame meets even under valgrind on a loaded
	 * machine (50 ms did not: the fresh frame below was masked whole) */
	struct ls_redactor *r = make(false, 500 * LS_NS_PER_MS);
	struct img in, out;
	img_init(&in);
	img_init(&out);
	struct ls_redact_stats st;
	int64_t now = ls_monotonic_ns();
	g_assert_cmpint(ls_redactor_process(r, &in.im, &out.im, now - 600 * LS_NS_PER_MS, now, &st), ==, 0);
	g_assert_true(st.full_mask);
	g_assert_cmpstr(st.full_why, ==, "latency-budget");
	g_assert_cmpfloat(masked(&out, 0, 0, W, H), ==, 1.0);
	process(r, &in, &out, &st);
	g_assert_false(st.full_mask);
	ls_redactor_free(&r);

	atomic_store(&S.fail, 1);
	set_text(10, "x");
	r = make(false, 10 * LS_NS_PER_SEC);
	draw_line(in.buf, 40, 40, 10, 1);
	for (int i = 0; i < 200 && !st.full_mask; i++) {
		process(r, &in, &out, &st);
		g_usleep(2000);
	}
	g_assert_true(st.full_mask);
	g_assert_cmpstr(st.full_why, ==, "ocr-worker-dead");
	g_assert_cmpfloat(masked(&out, 0, 0, W, H), ==, 1.0);
	struct ls_redact_totals t;
	ls_redactor_totals(r, &t);
	g_assert_cmpuint(t.workers_dead, >=, 1);
	ls_redactor_free(&r);
	img_free(&in);
	img_free(&out);
}

static void test_bad_params(void)
{
	struct ls_redact_params p = { .width = 63, .height = 64, .ocr = &fake, .scan = scan };
	struct ls_redactor *r = NULL;
	char *err = NULL;
	g_assert_cmpint(ls_redactor_new(&p, &r, &err), ==, -EINVAL);
	g_assert_nonnull(strstr(err, "even"));
	free(err);
	err = NULL;
	p.width = 64;
	p.tile = 12;
	g_assert_cmpint(ls_redactor_new(&p, &r, &err), ==, -EINVAL);
	free(err);
	g_assert_null(r);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_mutex_init(&S.mu);
	g_test_add_func("/redact/find-text", test_find_text);
	g_test_add_func("/redact/fail-closed", test_fail_closed_then_judged);
	g_test_add_func("/redact/exact-change", test_exact_change);
	g_test_add_func("/redact/row-label", test_row_label);
	g_test_add_func("/redact/column-header", test_column_header);
	g_test_add_func("/redact/header-read-last", test_header_read_last);
	g_test_add_func("/redact/scroll", test_scroll);
	g_test_add_func("/redact/watchdog", test_watchdog);
	g_test_add_func("/redact/bad-params", test_bad_params);
	int rc = g_test_run();
	script_reset();
	return rc;
}
