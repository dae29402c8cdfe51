#include "ls_mosaic.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ls_font.h"
#include "ls_time.h"

/* Colours, BT.601 limited range. */
#define BLACK_Y 16
#define WHITE_Y 235
#define NEUTRAL_C 128
#define MISSING_Y 40 /* dark grey: clearly "no picture", not a dark scene */
#define MISSING_TEXT_Y 180
#define HELD_Y 210 /* yellow (R = G = 255, B = 0): the eye finds it fast */
#define HELD_U 16
#define HELD_V 146
#define TICK_Y 128

/* Pixels between tiles. Even, so that every tile starts on a chroma sample
 * and the 4:2:0 planes need no edge cases. */
#define BORDER 2

#define LABEL_MAX 96

/* The scale tables of one camera for one source size. They are the only
 * state that depends on the source, so a camera whose caps change pays one
 * recomputation (O(tile width + height)) and then none: a one-entry cache is
 * enough, since a source changes size rarely and never back and forth per
 * frame. */
struct map {
	int src_w, src_h;   /* the key; 0 x 0 = not computed yet */
	int px, py, pw, ph; /* picture inside the tile, tile-relative, all even */
	int32_t *x, *y;     /* source column / row for each output column / row */
	int32_t *cx, *cy;   /* the same on 2x2-subsampled source chroma planes */
};

struct tile {
	int x, y, w, h;     /* picture area in output pixels, borders excluded; even */
	int cell_x, cell_y; /* cell origin: the borders lie between it and x, y */
	char name[LS_MOSAIC_NAME_MAX + 1];
	struct map map; /* unused for cells without a camera */
};

struct ls_mosaic {
	int out_w, out_h;
	int cols, rows;
	unsigned ncams;
	unsigned ncells;          /* cols * rows: the last row may have empty cells */
	int label_scale;          /* font scale of the labels, same for every tile */
	struct tile *tiles;       /* ncells */
	int32_t *tables;          /* one block behind every struct map */
	char lines[3][LABEL_MAX]; /* label text, rebuilt per tile: mosaic thread only */
};

/* Nearest source index for output index i of n, source size s: the source
 * sample under the centre of the output sample. Always in [0, s). */
static inline int32_t nearest(int i, int n, int s) { return (int32_t)(((2 * (int64_t)i + 1) * s) / (2 * (int64_t)n)); }

static void map_update(struct map *mp, int tw, int th, int sw, int sh)
{
	int pw = tw, ph = th;
	/* Letterbox only when the aspect ratios differ by more than 1/32: a
	 * 640x360 camera in a 638x358 tile should fill it, not get a one-pixel
	 * black line. */
	if ((int64_t)sw * th > (int64_t)sh * tw) {
		ph = (int)(((int64_t)sh * tw / sw) & ~1);
		if (ph >= th - th / 32 || ph < 2)
			ph = th;
	} else {
		pw = (int)(((int64_t)sw * th / sh) & ~1);
		if (pw >= tw - tw / 32 || pw < 2)
			pw = tw;
	}
	mp->pw = pw;
	mp->ph = ph;
	mp->px = ((tw - pw) / 2) & ~1;
	mp->py = ((th - ph) / 2) & ~1;
	for (int i = 0; i < pw; i++)
		mp->x[i] = nearest(i, pw, sw);
	for (int i = 0; i < ph; i++)
		mp->y[i] = nearest(i, ph, sh);
	int csw = (sw + 1) / 2, csh = (sh + 1) / 2;
	for (int i = 0; i < pw / 2; i++)
		mp->cx[i] = nearest(i, pw / 2, csw);
	for (int i = 0; i < ph / 2; i++)
		mp->cy[i] = nearest(i, ph / 2, csh);
	mp->src_w = sw;
	mp->src_h = sh;
}

/* Font scale for the labels of tiles of @tw x @th pixels: 1 (10-pixel lines)
 * up to about 200x120 tiles, 2 for 640x360 ones, at most 4 so that the
 * label never hides more than a corner of the picture. */
static int label_scale(int tw, int th)
{
	int s = tw / 200 < th / 120 ? tw / 200 : th / 120;
	return s < 1 ? 1 : s > 4 ? 4 : s;
}

struct ls_mosaic *ls_mosaic_new(int out_w, int out_h, unsigned ncams, const char *const *cam_names)
{
	struct ls_mosaic *m = NULL;
	int err = EINVAL;

	if (out_w <= 0 || out_h <= 0 || (out_w & 1) || (out_h & 1) || ncams == 0 || ncams > 65536)
		goto fail;
	int cols = 1;
	while ((unsigned)cols * (unsigned)cols < ncams)
		cols++;
	int rows = (int)((ncams + (unsigned)cols - 1) / (unsigned)cols);
	if (out_w / cols < 16 || out_h / rows < 16)
		goto fail; /* before sizing any allocation by the grid */

	err = ENOMEM;
	m = calloc(1, sizeof *m);
	if (!m)
		goto fail;
	m->out_w = out_w;
	m->out_h = out_h;
	m->cols = cols;
	m->rows = rows;
	m->ncams = ncams;
	m->ncells = (unsigned)(cols * rows);
	m->tiles = calloc(m->ncells, sizeof *m->tiles);
	if (!m->tiles)
		goto fail_mosaic;

	size_t ntables = 0;
	int min_w = out_w, min_h = out_h;
	for (unsigned i = 0; i < m->ncells; i++) {
		struct tile *t = &m->tiles[i];
		int col = (int)(i % (unsigned)cols), row = (int)(i / (unsigned)cols);
		int x0 = (int)(((int64_t)col * out_w / cols) & ~1);
		int x1 = col + 1 == cols ? out_w : (int)(((int64_t)(col + 1) * out_w / cols) & ~1);
		int y0 = (int)(((int64_t)row * out_h / rows) & ~1);
		int y1 = row + 1 == rows ? out_h : (int)(((int64_t)(row + 1) * out_h / rows) & ~1);
		t->cell_x = x0;
		t->cell_y = y0;
		t->x = x0 + (col ? BORDER : 0);
		t->y = y0 + (row ? BORDER : 0);
		t->w = x1 - t->x;
		t->h = y1 - t->y;
		if (t->w < min_w)
			min_w = t->w;
		if (t->h < min_h)
			min_h = t->h;
		if (i < ncams)
			ntables += (size_t)t->w + (size_t)t->h + (size_t)t->w / 2 + (size_t)t->h / 2;
	}
	/* Tiles smaller than this cannot show a picture and a label. */
	if (min_w < 16 || min_h < 16) {
		err = EINVAL;
		goto fail_tiles;
	}
	m->label_scale = label_scale(min_w, min_h);

	m->tables = malloc(ntables * sizeof *m->tables);
	if (!m->tables)
		goto fail_tiles;
	int32_t *p = m->tables;
	for (unsigned i = 0; i < ncams; i++) {
		struct tile *t = &m->tiles[i];
		t->map.x = p;
		p += t->w;
		t->map.y = p;
		p += t->h;
		t->map.cx = p;
		p += t->w / 2;
		t->map.cy = p;
		p += t->h / 2;
		const char *name = cam_names ? cam_names[i] : NULL;
		if (name)
			snprintf(t->name, sizeof t->name, "%s", name);
		else
			snprintf(t->name, sizeof t->name, "cam%u", i);
	}
	return m;

fail_tiles:
	free(m->tiles);
fail_mosaic:
	free(m);
fail:
	errno = err;
	return NULL;
}

void ls_mosaic_free(struct ls_mosaic **mp)
{
	if (!mp || !*mp)
		return;
	struct ls_mosaic *m = *mp;
	free(m->tables);
	free(m->tiles);
	free(m);
	*mp = NULL;
}

size_t ls_mosaic_buffer_size(const struct ls_mosaic *m) { return (size_t)m->out_w * (size_t)m->out_h * 3 / 2; }

void ls_mosaic_grid(const struct ls_mosaic *m, int *cols, int *rows)
{
	if (cols)
		*cols = m->cols;
	if (rows)
		*rows = m->rows;
}

int ls_mosaic_tile_rect(const struct ls_mosaic *m, unsigned cam, int *x, int *y, int *w, int *h)
{
	if (!m || cam >= m->ncams)
		return -EINVAL;
	const struct tile *t = &m->tiles[cam];
	if (x)
		*x = t->x;
	if (y)
		*y = t->y;
	if (w)
		*w = t->w;
	if (h)
		*h = t->h;
	return 0;
}

int ls_mosaic_picture_rect(const struct ls_mosaic *m, unsigned cam, int *x, int *y, int *w, int *h, int *src_w,
			   int *src_h)
{
	if (!m || cam >= m->ncams)
		return -EINVAL;
	const struct tile *t = &m->tiles[cam];
	if (t->map.src_w == 0)
		return -ENOENT;
	*x = t->x + t->map.px;
	*y = t->y + t->map.py;
	*w = t->map.pw;
	*h = t->map.ph;
	*src_w = t->map.src_w;
	*src_h = t->map.src_h;
	return 0;
}

/* ---- drawing into the output picture ------------------------------------ */

/* The output planes, as pointers and strides, so helpers do not recompute
 * them. */
struct planes {
	uint8_t *y, *u, *v;
	int ys, cs; /* strides in bytes: out_w and out_w / 2 */
};

/* Fills an even-aligned rectangle (output pixels) in all three planes. */
static void fill_rect(const struct planes *o, int x, int y, int w, int h, uint8_t yv, uint8_t uv, uint8_t vv)
{
	if (w <= 0 || h <= 0)
		return;
	for (int r = 0; r < h; r++)
		memset(o->y + (size_t)(y + r) * o->ys + x, yv, (size_t)w);
	for (int r = 0; r < h / 2; r++) {
		memset(o->u + (size_t)(y / 2 + r) * o->cs + x / 2, uv, (size_t)w / 2);
		memset(o->v + (size_t)(y / 2 + r) * o->cs + x / 2, vv, (size_t)w / 2);
	}
}

/* Nearest-neighbour scaling of one 8-bit plane. Consecutive output rows
 * that sample the same source row (upscaling) are copied instead. */
static void scale_plane(uint8_t *dst, int dst_stride, int dw, int dh, const uint8_t *src, int src_stride,
			const int32_t *xm, const int32_t *ym)
{
	for (int r = 0; r < dh; r++) {
		uint8_t *d = dst + (size_t)r * dst_stride;
		if (r > 0 && ym[r] == ym[r - 1]) {
			memcpy(d, d - dst_stride, (size_t)dw);
			continue;
		}
		const uint8_t *s = src + (size_t)ym[r] * (size_t)src_stride;
		for (int c = 0; c < dw; c++)
			d[c] = s[xm[c]];
	}
}

/* NV12's interleaved chroma plane into two planes. */
static void scale_uv_interleaved(uint8_t *du, uint8_t *dv, int dst_stride, int dw, int dh, const uint8_t *src,
				 int src_stride, const int32_t *xm, const int32_t *ym)
{
	for (int r = 0; r < dh; r++) {
		const uint8_t *s = src + (size_t)ym[r] * (size_t)src_stride;
		uint8_t *u = du + (size_t)r * dst_stride, *v = dv + (size_t)r * dst_stride;
		for (int c = 0; c < dw; c++) {
			const uint8_t *px = s + 2 * (size_t)xm[c];
			u[c] = px[0];
			v[c] = px[1];
		}
	}
}

/* BT.601 limited range, 8-bit integer coefficients (x 256). The constant
 * 32896 = 128 * 256 + 128 keeps the chroma sums non-negative before the
 * shift (the most negative sum is -28560), so no implementation-defined
 * right shift of a negative number. */
static inline uint8_t rgb_y(int r, int g, int b) { return (uint8_t)(((66 * r + 129 * g + 25 * b + 128) >> 8) + 16); }
static inline uint8_t rgb_u(int r, int g, int b) { return (uint8_t)((-38 * r - 74 * g + 112 * b + 32896) >> 8); }
static inline uint8_t rgb_v(int r, int g, int b) { return (uint8_t)((112 * r - 94 * g - 18 * b + 32896) >> 8); }

/* Packed 4-byte RGB (byte offsets ri, gi, bi in each pixel) to I420, 2x2
 * output pixels at a time: four luma samples, and one chroma sample from
 * the mean of the same four source pixels. */
static void scale_rgb4(const struct planes *o, int ox, int oy, int pw, int ph, const uint8_t *src, int stride,
		       const int32_t *xm, const int32_t *ym, int ri, int gi, int bi)
{
	for (int j = 0; j < ph / 2; j++) {
		const uint8_t *s0 = src + (size_t)ym[2 * j] * (size_t)stride;
		const uint8_t *s1 = src + (size_t)ym[2 * j + 1] * (size_t)stride;
		uint8_t *y0 = o->y + (size_t)(oy + 2 * j) * o->ys + ox;
		uint8_t *y1 = y0 + o->ys;
		uint8_t *u = o->u + (size_t)(oy / 2 + j) * o->cs + ox / 2;
		uint8_t *v = o->v + (size_t)(oy / 2 + j) * o->cs + ox / 2;
		for (int i = 0; i < pw / 2; i++) {
			size_t xa = 4 * (size_t)xm[2 * i], xb = 4 * (size_t)xm[2 * i + 1];
			/* Every source byte into a local before the first store:
			 * the outputs are uint8_t too, so the compiler would
			 * otherwise reload the source after each store. */
			int r00 = s0[xa + ri], g00 = s0[xa + gi], b00 = s0[xa + bi];
			int r01 = s0[xb + ri], g01 = s0[xb + gi], b01 = s0[xb + bi];
			int r10 = s1[xa + ri], g10 = s1[xa + gi], b10 = s1[xa + bi];
			int r11 = s1[xb + ri], g11 = s1[xb + gi], b11 = s1[xb + bi];
			y0[2 * i] = rgb_y(r00, g00, b00);
			y0[2 * i + 1] = rgb_y(r01, g01, b01);
			y1[2 * i] = rgb_y(r10, g10, b10);
			y1[2 * i + 1] = rgb_y(r11, g11, b11);
			int r = (r00 + r01 + r10 + r11 + 2) >> 2;
			int g = (g00 + g01 + g10 + g11 + 2) >> 2;
			int b = (b00 + b01 + b10 + b11 + 2) >> 2;
			u[i] = rgb_u(r, g, b);
			v[i] = rgb_v(r, g, b);
		}
	}
}

/* Whether the frame has the planes and strides its format needs. Strides
 * are checked in 64 bits: a 4-byte-per-pixel row of a huge width would
 * overflow int. */
static bool frame_usable(const struct ls_frame *f)
{
	if (!f || f->width <= 0 || f->height <= 0 || !f->planes[0] || f->strides[0] < f->width)
		return false;
	int64_t cw = ((int64_t)f->width + 1) / 2;
	switch (f->format) {
	case LS_FMT_I420:
		return f->planes[1] && f->planes[2] && f->strides[1] >= cw && f->strides[2] >= cw;
	case LS_FMT_NV12:
		return f->planes[1] && f->strides[1] >= 2 * cw;
	case LS_FMT_GRAY8:
		return true;
	case LS_FMT_BGRX:
	case LS_FMT_RGBA:
		return f->strides[0] >= 4 * (int64_t)f->width;
	default:
		return false;
	}
}

/* Scales @f into tile @t, letterbox bars included. */
static void draw_picture(const struct planes *o, struct tile *t, const struct ls_frame *f)
{
	struct map *mp = &t->map;
	if (mp->src_w != f->width || mp->src_h != f->height)
		map_update(mp, t->w, t->h, f->width, f->height);

	int px = t->x + mp->px, py = t->y + mp->py;
	/* Bars: above, below, left, right of the picture. */
	fill_rect(o, t->x, t->y, t->w, mp->py, BLACK_Y, NEUTRAL_C, NEUTRAL_C);
	fill_rect(o, t->x, py + mp->ph, t->w, t->h - mp->py - mp->ph, BLACK_Y, NEUTRAL_C, NEUTRAL_C);
	fill_rect(o, t->x, py, mp->px, mp->ph, BLACK_Y, NEUTRAL_C, NEUTRAL_C);
	fill_rect(o, px + mp->pw, py, t->w - mp->px - mp->pw, mp->ph, BLACK_Y, NEUTRAL_C, NEUTRAL_C);

	uint8_t *dy = o->y + (size_t)py * o->ys + px;
	uint8_t *du = o->u + (size_t)(py / 2) * o->cs + px / 2;
	uint8_t *dv = o->v + (size_t)(py / 2) * o->cs + px / 2;
	int cw = mp->pw / 2, ch = mp->ph / 2;
	switch (f->format) {
	case LS_FMT_I420:
		scale_plane(dy, o->ys, mp->pw, mp->ph, f->planes[0], f->strides[0], mp->x, mp->y);
		scale_plane(du, o->cs, cw, ch, f->planes[1], f->strides[1], mp->cx, mp->cy);
		scale_plane(dv, o->cs, cw, ch, f->planes[2], f->strides[2], mp->cx, mp->cy);
		break;
	case LS_FMT_NV12:
		scale_plane(dy, o->ys, mp->pw, mp->ph, f->planes[0], f->strides[0], mp->x, mp->y);
		scale_uv_interleaved(du, dv, o->cs, cw, ch, f->planes[1], f->strides[1], mp->cx, mp->cy);
		break;
	case LS_FMT_GRAY8:
		scale_plane(dy, o->ys, mp->pw, mp->ph, f->planes[0], f->strides[0], mp->x, mp->y);
		for (int r = 0; r < ch; r++) {
			memset(du + (size_t)r * o->cs, NEUTRAL_C, (size_t)cw);
			memset(dv + (size_t)r * o->cs, NEUTRAL_C, (size_t)cw);
		}
		break;
	case LS_FMT_BGRX:
		scale_rgb4(o, px, py, mp->pw, mp->ph, f->planes[0], f->strides[0], mp->x, mp->y, 2, 1, 0);
		break;
	case LS_FMT_RGBA:
		scale_rgb4(o, px, py, mp->pw, mp->ph, f->planes[0], f->strides[0], mp->x, mp->y, 0, 1, 2);
		break;
	default:
		break; /* excluded by frame_usable() */
	}
}

/* "<prefix><sign><ms>.<tenth>ms" for a duration in ns, rounded to the
 * nearest 0.1 ms, halves away from zero. Integer arithmetic only: %f would
 * follow the locale's decimal point. */
static void fmt_ms(char *buf, size_t size, const char *prefix, int64_t ns, bool plus)
{
	bool neg = ns < 0;
	uint64_t mag = neg ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
	uint64_t tenths = (mag + LS_NS_PER_MS / 20) / (LS_NS_PER_MS / 10);
	const char *sign = neg && tenths ? "-" : plus ? "+" : "";
	snprintf(buf, size, "%s%s%" PRIu64 ".%" PRIu64 "ms", prefix, sign, tenths / 10, tenths % 10);
}

/* A box of text lines, top-left at tile-relative (bx, by); returns its
 * height so the caller can stack another below it. Clipped to the tile. */
static int draw_box(const struct planes *o, const struct tile *t, int bx, int by, int scale, char lines[][LABEL_MAX],
		    int nlines, uint8_t box_y, uint8_t box_u, uint8_t box_v, uint8_t text_y)
{
	int pad = 2 * scale;
	int tw = 0;
	for (int i = 0; i < nlines; i++) {
		int lw = ls_font_text_width(lines[i], scale);
		if (lw > tw)
			tw = lw;
	}
	int bw = (tw + 2 * pad + 1) & ~1;
	int bh = (nlines * LS_FONT_CELL_H * scale + 2 * pad + 1) & ~1;
	if (bw > t->w - bx)
		bw = t->w - bx;
	if (bh > t->h - by)
		bh = t->h - by;
	if (bw <= 0 || bh <= 0)
		return 0;
	fill_rect(o, t->x + bx, t->y + by, bw, bh, box_y, box_u, box_v);
	/* The box is the text's plane: text that does not fit is cut at its
	 * edge rather than spilling onto the picture or the next tile. */
	uint8_t *plane = o->y + (size_t)(t->y + by) * o->ys + t->x + bx;
	for (int i = 0; i < nlines; i++)
		ls_font_draw_gray(plane, o->ys, bw, bh, pad, pad + i * LS_FONT_CELL_H * scale, scale, lines[i], text_y,
				  -1);
	return bh;
}

/* @big is the word across the middle of an empty tile ("MISSING"). */
static void draw_empty(const struct planes *o, const struct tile *t, const char *big)
{
	fill_rect(o, t->x, t->y, t->w, t->h, MISSING_Y, NEUTRAL_C, NEUTRAL_C);
	/* As large as fits in 3/4 of the width and 1/3 of the height. */
	int unit = ls_font_text_width(big, 1);
	int s = unit > 0 ? (t->w * 3 / 4) / unit : 1;
	int sh = t->h / 3 / LS_FONT_CELL_H;
	if (sh < s)
		s = sh;
	if (s < 1)
		s = 1;
	if (s > LS_FONT_SCALE_MAX)
		s = LS_FONT_SCALE_MAX;
	/* Centre the ink, not the cells: the last cell's blank column and the
	 * rows below the baseline are not part of what the eye sees. */
	int ink_w = unit * s - s, ink_h = LS_FONT_BASELINE * s;
	uint8_t *plane = o->y + (size_t)t->y * o->ys + t->x;
	ls_font_draw_gray(plane, o->ys, t->w, t->h, (t->w - ink_w) / 2, (t->h - ink_h) / 2, s, big, MISSING_TEXT_Y, -1);
}

static void draw_borders(const struct planes *o, const struct tile *t)
{
	int x1 = t->x + t->w, y1 = t->y + t->h;
	fill_rect(o, t->cell_x, t->cell_y, t->x - t->cell_x, y1 - t->cell_y, BLACK_Y, NEUTRAL_C, NEUTRAL_C);
	fill_rect(o, t->x, t->cell_y, x1 - t->x, t->y - t->cell_y, BLACK_Y, NEUTRAL_C, NEUTRAL_C);
}

int ls_mosaic_compose(struct ls_mosaic *m, const struct ls_frameset *set, uint8_t *out_i420)
{
	if (!m || !set || !out_i420)
		return -EINVAL;
	struct planes o = {
		.y = out_i420,
		.u = out_i420 + (size_t)m->out_w * m->out_h,
		.ys = m->out_w,
		.cs = m->out_w / 2,
	};
	o.v = o.u + (size_t)o.cs * (m->out_h / 2);

	const int s = m->label_scale, margin = 2 * s;
	for (unsigned i = 0; i < m->ncells; i++) {
		struct tile *t = &m->tiles[i];
		draw_borders(&o, t);
		if (i >= m->ncams) {
			fill_rect(&o, t->x, t->y, t->w, t->h, BLACK_Y, NEUTRAL_C, NEUTRAL_C);
			continue;
		}

		const struct ls_entry *e = i < set->ncams ? &set->entries[i] : NULL;
		enum ls_entry_state state = e ? e->state : LS_ENTRY_MISSING;
		const struct ls_frame *f = e && state != LS_ENTRY_MISSING ? e->frame : NULL;
		if (!f)
			state = LS_ENTRY_MISSING; /* present without a frame: show the truth */

		bool picture = state != LS_ENTRY_MISSING && frame_usable(f);
		if (state == LS_ENTRY_MISSING)
			draw_empty(&o, t, "MISSING");
		else if (!picture)
			draw_empty(&o, t, "BAD FORMAT");
		else
			draw_picture(&o, t, f);
		if (picture) {
			/* The capture clock under every picture: when cameras are in
			 * step, their bars line up across tiles. */
			int band = t->h / 8 > 0 ? t->h / 8 : 1;
			int by = (t->y + t->h - band) & ~1, bh = t->y + t->h - by;
			fill_rect(&o, t->x, by, t->w, bh, BLACK_Y, NEUTRAL_C, NEUTRAL_C);
			ls_draw_clock_bar(o.y + (size_t)t->y * o.ys + t->x, o.ys, t->w, by - t->y + bh, f->capture_ns);
		}

		snprintf(m->lines[0], LABEL_MAX, "%s", t->name);
		char skew[32];
		fmt_ms(skew, sizeof skew, "skew=", set->skew_ns, false);
		snprintf(m->lines[1], LABEL_MAX, "n=%" PRId64 " %s", set->n, skew);
		int nlines = 2;
		if (state == LS_ENTRY_PRESENT) {
			fmt_ms(m->lines[2], LABEL_MAX, "d=", e->offset_ns, true);
			nlines = 3;
		}
		int bh = draw_box(&o, t, margin, margin, s, m->lines, nlines, BLACK_Y, NEUTRAL_C, NEUTRAL_C, WHITE_Y);
		if (state == LS_ENTRY_HELD) {
			fmt_ms(m->lines[0], LABEL_MAX, "HELD ", e->offset_ns, false);
			draw_box(&o, t, margin, margin + bh + margin, 2 * s, m->lines, 1, HELD_Y, HELD_U, HELD_V,
				 BLACK_Y);
		}
	}
	return 0;
}

void ls_draw_clock_bar(uint8_t *y_plane, int stride, int w, int h, int64_t t_ns)
{
	if (!y_plane || w <= 0 || h <= 0 || stride < w)
		return;
	int band = h / 8 > 0 ? h / 8 : 1;
	int y0 = h - band;
	for (int r = y0; r < h; r++)
		memset(y_plane + (size_t)r * stride, BLACK_Y, (size_t)w);

	/* Ticks every 100 ms in the top third of the band, to read the bar's
	 * position against. */
	int tick_h = band / 3 > 0 ? band / 3 : 1;
	for (int k = 0; k < 10; k++) {
		int tx = (int)((int64_t)k * w / 10);
		for (int r = y0; r < y0 + tick_h; r++)
			y_plane[(size_t)r * stride + tx] = TICK_Y;
	}

	/* Floor modulo: a time before the clock's epoch still lands in [0, 1 s). */
	int64_t phase = t_ns % LS_NS_PER_SEC;
	if (phase < 0)
		phase += LS_NS_PER_SEC;
	int x = (int)(phase * w / LS_NS_PER_SEC);
	int bw = w / 64 > 0 ? w / 64 : 1;
	int start = x - bw / 2;
	for (int c = 0; c < bw; c++) {
		int xx = ((start + c) % w + w) % w;
		for (int r = y0; r < h; r++)
			y_plane[(size_t)r * stride + xx] = WHITE_Y;
	}
}
