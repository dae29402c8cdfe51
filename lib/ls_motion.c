/* ls_motion — block-mean background model with gain normalisation, learned
 * per-block variance and a shake band. See ls_motion.h for the contract and
 * docs/architecture.md ("Motion gating") for why each term is there. */
#include "ls_motion.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct ls_motion {
	struct ls_motion_params p;
	int width, height; /* of the model; 0 before the first frame */
	int gw, gh, n;     /* grid size in blocks, n = gw * gh */
	float inv_count_full, inv_count_last_col, inv_count_last_row, inv_count_corner;
	uint16_t *colsum;       /* width: column sums over one band of block rows */
	float *cur;             /* n: this frame's block means, then divided by the gain */
	float *mu, *var;        /* n: background mean and variance per block */
	float *scratch;         /* n: ratios for the median gain; minima for range3x3 */
	float *range, *tmp_row; /* n: 3 x 3 brightness range of the background; 2 gw */
	uint8_t *fg;            /* n: 1 = moving this frame */
	uint16_t *fg_run;       /* n: frames in a row the block has been moving */
	int *label, *stack;     /* n: component labels and the flood-fill stack */
	uint64_t frames;        /* frames learned since the last reset */
	int on_run, off_run;
	bool motion;
	int64_t last_t, changed_ns;
};

/* clang-format off */
static const struct ls_motion_params defaults = {
	.block = 16, .warmup = 10, .alpha = 0.05f, .absorb = 150, .k = 4.0f, .floor = 5.0f,
	.shake_px = 2.0f, .min_blocks = 2, .on_frames = 2, .off_frames = 15,
};
/* clang-format on */

static void free_model(struct ls_motion *m)
{
	free(m->colsum);
	free(m->cur);
	free(m->mu);
	free(m->var);
	free(m->scratch);
	free(m->range);
	free(m->tmp_row);
	free(m->fg);
	free(m->fg_run);
	free(m->label);
	free(m->stack);
	m->colsum = NULL;
	m->cur = m->mu = m->var = m->scratch = m->range = m->tmp_row = NULL;
	m->fg = NULL;
	m->fg_run = NULL;
	m->label = m->stack = NULL;
	m->width = m->height = m->n = 0;
}

struct ls_motion *ls_motion_new(const struct ls_motion_params *p)
{
	struct ls_motion_params q = p ? *p : defaults;
#define DEF(f)                            \
	do {                              \
		if (q.f == 0)             \
			q.f = defaults.f; \
	} while (0)
	DEF(block);
	DEF(warmup);
	DEF(alpha);
	DEF(absorb);
	DEF(k);
	DEF(floor);
	DEF(shake_px);
	DEF(min_blocks);
	DEF(on_frames);
	DEF(off_frames);
#undef DEF
	if (q.shake_px < 0)
		q.shake_px = 0;
	if (q.block < 4 || q.block > 64 || q.warmup < 1 || !(q.alpha > 0 && q.alpha <= 1) || q.absorb < 1 ||
	    !(q.k > 0) || !(q.floor > 0) || q.min_blocks < 1 || q.on_frames < 1 || q.off_frames < 1) {
		errno = EINVAL;
		return NULL;
	}
	struct ls_motion *m = calloc(1, sizeof *m);
	if (!m) {
		errno = ENOMEM;
		return NULL;
	}
	m->p = q;
	return m;
}

void ls_motion_free(struct ls_motion **mp)
{
	if (!mp || !*mp)
		return;
	free_model(*mp);
	free(*mp);
	*mp = NULL;
}

void ls_motion_reset(struct ls_motion *m)
{
	m->frames = 0;
	m->on_run = m->off_run = 0;
	m->motion = false;
}

void ls_motion_get_params(const struct ls_motion *m, struct ls_motion_params *p) { *p = m->p; }

static int alloc_model(struct ls_motion *m, int width, int height)
{
	free_model(m);
	int b = m->p.block;
	m->gw = (width + b - 1) / b;
	m->gh = (height + b - 1) / b;
	m->n = m->gw * m->gh;
	size_t n = (size_t)m->n;
	m->colsum = malloc((size_t)width * sizeof *m->colsum);
	m->cur = malloc(n * sizeof(float));
	m->mu = malloc(n * sizeof(float));
	m->var = malloc(n * sizeof(float));
	m->scratch = malloc(n * sizeof(float));
	m->range = malloc(n * sizeof(float));
	m->tmp_row = malloc(2 * (size_t)m->gw * sizeof(float));
	m->fg = malloc(n);
	m->fg_run = malloc(n * sizeof *m->fg_run);
	m->label = malloc(n * sizeof(int));
	m->stack = malloc(n * sizeof(int));
	if (!m->colsum || !m->cur || !m->mu || !m->var || !m->scratch || !m->range || !m->tmp_row || !m->fg ||
	    !m->fg_run || !m->label || !m->stack) {
		free_model(m);
		return -ENOMEM;
	}
	int lw = width - (m->gw - 1) * b, lh = height - (m->gh - 1) * b;
	m->inv_count_full = 1.0f / (float)(b * b);
	m->inv_count_last_col = 1.0f / (float)(lw * b);
	m->inv_count_last_row = 1.0f / (float)(b * lh);
	m->inv_count_corner = 1.0f / (float)(lw * lh);
	m->width = width;
	m->height = height;
	ls_motion_reset(m);
	return 0;
}

/* Column sums, 16 columns a step: with the restrict parameters and a fixed
 * inner count, the compiler turns each step into a few vector instructions
 * even at -O2 (whose cost model refuses the plain loop). */
static void row_copy(uint16_t *restrict cs, const uint8_t *restrict row, int w)
{
	int x = 0;
	for (; x + 16 <= w; x += 16)
		for (int k = 0; k < 16; k++)
			cs[x + k] = row[x + k];
	for (; x < w; x++)
		cs[x] = row[x];
}

static void row_add2(uint16_t *restrict cs, const uint8_t *restrict r1, const uint8_t *restrict r2, int w)
{
	int x = 0;
	for (; x + 16 <= w; x += 16)
		for (int k = 0; k < 16; k++)
			cs[x + k] = (uint16_t)(cs[x + k] + r1[x + k] + r2[x + k]);
	for (; x < w; x++)
		cs[x] = (uint16_t)(cs[x] + r1[x] + r2[x]);
}

static void row_add(uint16_t *restrict cs, const uint8_t *restrict row, int w)
{
	int x = 0;
	for (; x + 16 <= w; x += 16)
		for (int k = 0; k < 16; k++)
			cs[x + k] = (uint16_t)(cs[x + k] + row[x + k]);
	for (; x < w; x++)
		cs[x] = (uint16_t)(cs[x] + row[x]);
}

/* Sums of @n groups of @b column sums, times @inv. Inlined with a constant
 * @b, each group's sum is a few vector instructions. */
static inline __attribute__((always_inline)) void fold(const uint16_t *restrict cs, float *restrict out, int n, int b,
						       float inv)
{
	for (int i = 0; i < n; i++) {
		uint32_t sum = 0;
		for (int k = 0; k < b; k++)
			sum += cs[i * b + k];
		out[i] = (float)sum * inv;
	}
}

/* Block means of the frame into m->cur. One pass over the pixels: each row is
 * added into 16-bit column sums (at most 64 rows x 255 fit); the column sums
 * are then folded into blocks. */
static void block_means(struct ls_motion *m, const uint8_t *y, int stride)
{
	const int b = m->p.block, w = m->width, h = m->height;
	for (int by = 0; by < m->gh; by++) {
		int r0 = by * b, r1 = r0 + b < h ? r0 + b : h;
		row_copy(m->colsum, y + (size_t)r0 * (size_t)stride, w);
		int r = r0 + 1;
		for (; r + 1 < r1; r += 2) /* two rows a pass: half the sums' loads and stores */
			row_add2(m->colsum, y + (size_t)r * (size_t)stride, y + (size_t)(r + 1) * (size_t)stride, w);
		if (r < r1)
			row_add(m->colsum, y + (size_t)r * (size_t)stride, w);
		bool last_row = by == m->gh - 1 && r1 - r0 < b;
		float *out = m->cur + (size_t)by * (size_t)m->gw;
		int full = w / b; /* blocks b wide; a last, narrower one after them */
		float inv = last_row ? m->inv_count_last_row : m->inv_count_full;
		switch (b) { /* the usual sizes with a fixed count: vectorised sums */
		case 8:
			fold(m->colsum, out, full, 8, inv);
			break;
		case 16:
			fold(m->colsum, out, full, 16, inv);
			break;
		case 32:
			fold(m->colsum, out, full, 32, inv);
			break;
		default:
			fold(m->colsum, out, full, b, inv);
			break;
		}
		if (full < m->gw) {
			uint32_t sum = 0;
			for (int x = full * b; x < w; x++)
				sum += m->colsum[x];
			out[full] = (float)sum * (last_row ? m->inv_count_corner : m->inv_count_last_col);
		}
	}
}

/* The k-th smallest of v[0..n-1] (reorders v). Hoare's selection. */
static float select_kth(float *v, int n, int k)
{
	int lo = 0, hi = n - 1;
	while (lo < hi) {
		float pivot = v[lo + (hi - lo) / 2];
		int i = lo, j = hi;
		while (i <= j) {
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i <= j) {
				float t = v[i];
				v[i] = v[j];
				v[j] = t;
				i++;
				j--;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			return v[k];
	}
	return v[k];
}

/* The frame's brightness against the background: the median of the ratios of
 * block means to background means, over blocks bright enough for a ratio to
 * mean something. The median ignores whatever moves in less than half of the
 * frame, so a large object does not pass for a change of exposure. */
static float frame_gain(struct ls_motion *m)
{
	int c = 0;
	for (int i = 0; i < m->n; i++)
		if (m->mu[i] >= 16.0f)
			m->scratch[c++] = m->cur[i] / m->mu[i];
	if (c < 8)
		return 1.0f;
	float g = select_kth(m->scratch, c, c / 2);
	return g < 0.25f ? 0.25f : g > 4.0f ? 4.0f : g;
}

/* (fminf and fmaxf are calls, for their NaN rules; there are no NaNs here) */
#define MINF(a, b) ((a) < (b) ? (a) : (b))
#define MAXF(a, b) ((a) > (b) ? (a) : (b))

/* range[i] = max - min of the background means in block i's 3 x 3
 * neighbourhood (clipped at the edges): a horizontal pass, then a vertical. */
static void range3x3(struct ls_motion *m)
{
	const int gw = m->gw, gh = m->gh;
	float *lo = m->scratch, *hi = m->range; /* the horizontal pass */
	for (int by = 0; by < gh; by++) {
		const float *mu = m->mu + (size_t)by * (size_t)gw;
		float *l = lo + (size_t)by * (size_t)gw, *h = hi + (size_t)by * (size_t)gw;
		for (int bx = 0; bx < gw; bx++) {
			float a = mu[bx], mn = a, mx = a;
			if (bx > 0) {
				mn = MINF(mn, mu[bx - 1]);
				mx = MAXF(mx, mu[bx - 1]);
			}
			if (bx + 1 < gw) {
				mn = MINF(mn, mu[bx + 1]);
				mx = MAXF(mx, mu[bx + 1]);
			}
			l[bx] = mn;
			h[bx] = mx;
		}
	}
	/* vertical, in place on hi: each row's horizontal maxima are saved
	 * before being overwritten, for the next row */
	float *prev = m->tmp_row, *save = m->tmp_row + gw;
	for (int by = 0; by < gh; by++) {
		float *l = lo + (size_t)by * (size_t)gw, *h = hi + (size_t)by * (size_t)gw;
		const float *ln = by + 1 < gh ? l + gw : l, *hn = by + 1 < gh ? h + gw : h;
		const float *lp = by > 0 ? l - gw : l;
		for (int bx = 0; bx < gw; bx++) {
			float hp = by > 0 ? prev[bx] : h[bx];
			save[bx] = h[bx];
			float mx = MAXF(MAXF(hp, h[bx]), hn[bx]);
			float mn = MINF(MINF(lp[bx], l[bx]), ln[bx]);
			h[bx] = mx - mn;
		}
		float *t = prev;
		prev = save;
		save = t;
	}
}

/* Connected components (8-neighbourhood) of m->fg; components of at least
 * min_blocks blocks become boxes, the largest first. */
static void components(struct ls_motion *m, struct ls_motion_result *out)
{
	const int gw = m->gw, gh = m->gh, b = m->p.block;
	for (int i = 0; i < m->n; i++)
		m->label[i] = 0;
	int next = 0;
	for (int i = 0; i < m->n; i++) {
		if (!m->fg[i] || m->label[i])
			continue;
		int lab = ++next, sp = 0, cnt = 0;
		int x0 = gw, y0 = gh, x1 = -1, y1 = -1;
		m->label[i] = lab;
		m->stack[sp++] = i;
		while (sp > 0) {
			int j = m->stack[--sp], jx = j % gw, jy = j / gw;
			cnt++;
			x0 = jx < x0 ? jx : x0;
			x1 = jx > x1 ? jx : x1;
			y0 = jy < y0 ? jy : y0;
			y1 = jy > y1 ? jy : y1;
			for (int dy = -1; dy <= 1; dy++)
				for (int dx = -1; dx <= 1; dx++) {
					int nx = jx + dx, ny = jy + dy;
					if (nx < 0 || ny < 0 || nx >= gw || ny >= gh)
						continue;
					int k = ny * gw + nx;
					if (m->fg[k] && !m->label[k]) {
						m->label[k] = lab;
						m->stack[sp++] = k;
					}
				}
		}
		if (cnt < m->p.min_blocks)
			continue;
		out->moving_blocks += cnt;
		struct ls_motion_box bx = { .x = x0 * b, .y = y0 * b, .blocks = cnt };
		int xe = (x1 + 1) * b, ye = (y1 + 1) * b;
		bx.w = (xe < m->width ? xe : m->width) - bx.x;
		bx.h = (ye < m->height ? ye : m->height) - bx.y;
		/* insert into the boxes, kept sorted by size, dropping the smallest */
		int pos = out->nboxes;
		while (pos > 0 && out->boxes[pos - 1].blocks < cnt)
			pos--;
		if (pos >= LS_MOTION_MAX_BOXES)
			continue;
		int last = out->nboxes < LS_MOTION_MAX_BOXES ? out->nboxes : LS_MOTION_MAX_BOXES - 1;
		memmove(&out->boxes[pos + 1], &out->boxes[pos], (size_t)(last - pos) * sizeof bx);
		out->boxes[pos] = bx;
		if (out->nboxes < LS_MOTION_MAX_BOXES)
			out->nboxes++;
	}
}

int ls_motion_feed(struct ls_motion *m, const uint8_t *y, int width, int height, int stride, int64_t t_ns,
		   struct ls_motion_result *out)
{
	if (!y || !out || width < 1 || height < 1 || stride < width || (m->frames > 0 && t_ns < m->last_t))
		return -EINVAL;
	if (width != m->width || height != m->height) {
		bool was_open = m->motion;
		int r = alloc_model(m, width, height);
		if (r < 0)
			return r;
		if (was_open)
			m->changed_ns = t_ns; /* the gate closed: learning again */
	}
	memset(out, 0, sizeof *out);
	m->last_t = t_ns;
	block_means(m, y, stride);
	const struct ls_motion_params *p = &m->p;

	if (m->frames == 0) {
		for (int i = 0; i < m->n; i++) {
			m->mu[i] = m->cur[i];
			m->var[i] = 0;
			m->fg_run[i] = 0;
		}
		m->frames = 1;
		out->learning = true;
		out->gain = 1.0f;
		out->changed_ns = m->changed_ns;
		return 0;
	}

	float g = frame_gain(m), inv_g = 1.0f / g;
	out->gain = g;
	for (int i = 0; i < m->n; i++)
		m->cur[i] *= inv_g;

	if (m->frames < (uint64_t)p->warmup) {
		/* learning: a plain running average over the frames so far */
		float a = 1.0f / (float)(m->frames + 1);
		a = a > p->alpha ? a : p->alpha;
		for (int i = 0; i < m->n; i++) {
			float d = m->cur[i] - m->mu[i];
			m->mu[i] += a * d;
			m->var[i] += a * (d * d - m->var[i]);
		}
		m->frames++;
		out->learning = true;
		out->changed_ns = m->changed_ns;
		return 0;
	}

	/* Classify. The shake band: a shift of s pixels moves a block's mean
	 * by at most about s / block of the brightness range around it, times
	 * up to sqrt(2) for a diagonal shift (|dx| + |dy|). */
	const float shake = 1.5f * p->shake_px / (float)p->block;
	if (shake > 0)
		range3x3(m);
	for (int i = 0; i < m->n; i++) {
		float sd = sqrtf(m->var[i]) * p->k;
		float thr = (sd > p->floor ? sd : p->floor);
		if (shake > 0)
			thr += shake * m->range[i];
		m->fg[i] = fabsf(m->cur[i] - m->mu[i]) > thr;
	}
	components(m, out);
	out->raw = out->moving_blocks > 0;
	out->score = (float)out->moving_blocks / (float)m->n;

	/* Learn from still blocks only, so a passing object neither leaves a
	 * trace in the background nor inflates its variance (a trace would be
	 * a "ghost": motion reported where the object was). A block moving
	 * for `absorb` frames in a row takes what it shows as its background:
	 * an object that stopped becomes scenery. */
	for (int i = 0; i < m->n; i++) {
		float d = m->cur[i] - m->mu[i];
		if (m->fg[i]) {
			if (++m->fg_run[i] >= p->absorb) {
				m->mu[i] = m->cur[i];
				m->fg_run[i] = 0;
			}
		} else {
			m->fg_run[i] = 0;
			m->mu[i] += p->alpha * d;
			m->var[i] += p->alpha * (d * d - m->var[i]);
		}
	}
	m->frames++;

	/* the gate, with hysteresis */
	if (out->raw) {
		m->on_run++;
		m->off_run = 0;
	} else {
		m->off_run++;
		m->on_run = 0;
	}
	if (!m->motion && m->on_run >= p->on_frames) {
		m->motion = true;
		m->changed_ns = t_ns;
	} else if (m->motion && m->off_run >= p->off_frames) {
		m->motion = false;
		m->changed_ns = t_ns;
	}
	out->motion = m->motion;
	out->changed_ns = m->changed_ns;
	return 0;
}
