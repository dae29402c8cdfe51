/* ls_detect — see ls_detect.h. */
#include "ls_detect.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* clang-format off */
static const char *const coco[LS_COCO_CLASSES] = {
	"person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
	"traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse",
	"sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie",
	"suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove",
	"skateboard", "surfboard", "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon",
	"bowl", "banana", "apple", "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut",
	"cake", "chair", "couch", "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse",
	"remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book",
	"clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
};
/* clang-format on */

const char *ls_coco_name(int i) { return i >= 0 && i < LS_COCO_CLASSES ? coco[i] : NULL; }

int ls_coco_index(const char *name)
{
	for (int i = 0; name && i < LS_COCO_CLASSES; i++)
		if (strcmp(coco[i], name) == 0)
			return i;
	return -1;
}

struct ls_letterbox ls_letterbox_make(int frame_w, int frame_h, int in_w, int in_h)
{
	struct ls_letterbox lb = { .frame_w = frame_w, .frame_h = frame_h, .in_w = in_w, .in_h = in_h };
	float sx = (float)in_w / (float)frame_w, sy = (float)in_h / (float)frame_h;
	lb.scale = sx < sy ? sx : sy;
	lb.pad_x = ((float)in_w - (float)frame_w * lb.scale) / 2;
	lb.pad_y = ((float)in_h - (float)frame_h * lb.scale) / 2;
	return lb;
}

/* ---- preprocessing ------------------------------------------------------ */

static inline float clamp255(float v) { return v < 0 ? 0 : v > 255 ? 255 : v; }

/* Bilinear sample of an 8-bit plane at source position (sx, sy) given as
 * integer base + fraction, precomputed per column/row. */
struct tap {
	int i0, i1;
	float f;
};

static void taps(struct tap *t, int len, float scale, int src, int sub)
{
	/* output sample i (0..len-1) covers source (i + 0.5) / scale - 0.5 */
	for (int i = 0; i < len; i++) {
		float s = ((float)i + 0.5f) / scale - 0.5f;
		if (sub)
			s = (s + 0.5f) / 2 - 0.5f; /* chroma of 2x2 subsampling, centred */
		int lim = sub ? (src + 1) / 2 : src;
		if (s < 0)
			s = 0;
		int i0 = (int)s;
		if (i0 > lim - 1)
			i0 = lim - 1;
		t[i].i0 = i0;
		t[i].i1 = i0 + 1 < lim ? i0 + 1 : i0;
		t[i].f = s - (float)i0;
		if (t[i].f > 1)
			t[i].f = 1;
	}
}

static inline float bil(const uint8_t *p, int stride, const struct tap *tx, const struct tap *ty, int step, int o)
{
	const uint8_t *r0 = p + (size_t)ty->i0 * stride, *r1 = p + (size_t)ty->i1 * stride;
	float a = r0[tx->i0 * step + o] + (r0[tx->i1 * step + o] - r0[tx->i0 * step + o]) * tx->f;
	float b = r1[tx->i0 * step + o] + (r1[tx->i1 * step + o] - r1[tx->i0 * step + o]) * tx->f;
	return a + (b - a) * ty->f;
}

/* -O3: the per-pixel loops are the stage's main cost outside Run() */
__attribute__((optimize("O3"))) int ls_detect_preprocess(const struct ls_frame *f, const struct ls_letterbox *lb,
							 float *dst, float mul, float pad)
{
	if (!f || !lb || !dst || !f->planes[0] || f->width < 1 || f->height < 1)
		return -EINVAL;
	switch (f->format) {
	case LS_FMT_I420:
		if (!f->planes[1] || !f->planes[2])
			return -EINVAL;
		break;
	case LS_FMT_NV12:
		if (!f->planes[1])
			return -EINVAL;
		break;
	case LS_FMT_GRAY8:
	case LS_FMT_BGRX:
	case LS_FMT_RGBA:
		break;
	default:
		return -EINVAL;
	}
	size_t plane = (size_t)lb->in_w * lb->in_h;
	float *R = dst, *G = dst + plane, *B = dst + 2 * plane;
	int px = (int)lroundf(lb->pad_x), py = (int)lroundf(lb->pad_y);
	int pw = (int)lroundf((float)f->width * lb->scale), ph = (int)lroundf((float)f->height * lb->scale);
	if (pw > lb->in_w - px)
		pw = lb->in_w - px;
	if (ph > lb->in_h - py)
		ph = lb->in_h - py;
	float padv = pad * mul;
	for (int y = 0; y < lb->in_h; y++) { /* the bars only: the picture is written below */
		float *rows[3] = { R + (size_t)y * lb->in_w, G + (size_t)y * lb->in_w, B + (size_t)y * lb->in_w };
		bool bar = y < py || y >= py + ph;
		for (int k = 0; k < 3; k++)
			for (int x = 0; x < lb->in_w; x++)
				if (bar || x < px || x >= px + pw)
					rows[k][x] = padv;
				else
					x = px + pw - 1; /* skip to the right bar */
	}

	/* tables on the stack would be large for 4K inputs: use the heap once */
	struct tap *tx = malloc(sizeof *tx * (size_t)(2 * pw + 2 * ph));
	int cw = (f->width + 1) / 2;
	/* row scratch: vertical blends (source widths), horizontal results */
	float *vy = malloc(sizeof(float) * ((size_t)f->width + 2 * (size_t)cw + 3 * (size_t)pw));
	if (!tx || !vy) {
		free(tx);
		free(vy);
		return -ENOMEM;
	}
	float *vu = vy + f->width, *vv = vu + cw, *hy = vv + cw, *hu = hy + pw, *hv = hu + pw;
	struct tap *ty = tx + pw, *tcx = ty + ph, *tcy = tcx + pw;
	taps(tx, pw, lb->scale, f->width, 0);
	taps(ty, ph, lb->scale, f->height, 0);
	taps(tcx, pw, lb->scale, f->width, 1);
	taps(tcy, ph, lb->scale, f->height, 1);

	/* one loop per layout, the format switch hoisted out of the pixels */
	for (int y = 0; y < ph; y++) {
		size_t row = (size_t)(py + y) * lb->in_w + px;
		float *r = R + row, *g = G + row, *b = B + row;
		const struct tap *ry = &ty[y], *cy = &tcy[y];
		const uint8_t *y0 = f->planes[0] + (size_t)ry->i0 * f->strides[0];
		const uint8_t *y1 = f->planes[0] + (size_t)ry->i1 * f->strides[0];
		float fy = ry->f;
		if (f->format == LS_FMT_BGRX || f->format == LS_FMT_RGBA) {
			int ro = f->format == LS_FMT_RGBA ? 0 : 2, bo = 2 - ro;
			for (int x = 0; x < pw; x++) {
				const struct tap *t = &tx[x];
				r[x] = bil(f->planes[0], f->strides[0], t, ry, 4, ro) * mul;
				g[x] = bil(f->planes[0], f->strides[0], t, ry, 4, 1) * mul;
				b[x] = bil(f->planes[0], f->strides[0], t, ry, 4, bo) * mul;
			}
			continue;
		}
		if (f->format == LS_FMT_GRAY8) {
			for (int x = 0; x < pw; x++) {
				const struct tap *t = &tx[x];
				float a = y0[t->i0] + (y0[t->i1] - y0[t->i0]) * t->f;
				float c = y1[t->i0] + (y1[t->i1] - y1[t->i0]) * t->f;
				r[x] = g[x] = b[x] = (a + (c - a) * fy) * mul;
			}
			continue;
		}
		/* I420 / NV12, separable: blend the two source rows of each plane
		 * once (vectorised), then one horizontal lerp per output sample,
		 * then the colour conversion over the whole row (vectorised) */
		const uint8_t *u0, *u1, *v0, *v1;
		int cstep = 1;
		if (f->format == LS_FMT_I420) {
			u0 = f->planes[1] + (size_t)cy->i0 * f->strides[1];
			u1 = f->planes[1] + (size_t)cy->i1 * f->strides[1];
			v0 = f->planes[2] + (size_t)cy->i0 * f->strides[2];
			v1 = f->planes[2] + (size_t)cy->i1 * f->strides[2];
		} else {
			u0 = f->planes[1] + (size_t)cy->i0 * f->strides[1];
			u1 = f->planes[1] + (size_t)cy->i1 * f->strides[1];
			v0 = u0 + 1;
			v1 = u1 + 1;
			cstep = 2;
		}
		float fcy = cy->f;
		for (int x = 0; x < f->width; x++)
			vy[x] = y0[x] + (y1[x] - y0[x]) * fy;
		for (int x = 0; x < cw; x++) {
			vu[x] = u0[x * cstep] + (u1[x * cstep] - u0[x * cstep]) * fcy;
			vv[x] = v0[x * cstep] + (v1[x * cstep] - v0[x * cstep]) * fcy;
		}
		for (int x = 0; x < pw; x++) {
			const struct tap *t = &tx[x], *tc = &tcx[x];
			hy[x] = vy[t->i0] + (vy[t->i1] - vy[t->i0]) * t->f;
			hu[x] = vu[tc->i0] + (vu[tc->i1] - vu[tc->i0]) * tc->f;
			hv[x] = vv[tc->i0] + (vv[tc->i1] - vv[tc->i0]) * tc->f;
		}
		for (int x = 0; x < pw; x++) {
			/* BT.601 limited range */
			float l = 1.164f * (hy[x] - 16), d = hu[x] - 128, e = hv[x] - 128;
			r[x] = clamp255(l + 1.596f * e) * mul;
			g[x] = clamp255(l - 0.392f * d - 0.813f * e) * mul;
			b[x] = clamp255(l + 2.017f * d) * mul;
		}
	}
	free(vy);
	free(tx);
	return 0;
}

/* ---- decoding ----------------------------------------------------------- */

static int by_score(const void *a, const void *b)
{
	float x = ((const struct ls_det *)a)->score, y = ((const struct ls_det *)b)->score;
	return x < y ? 1 : x > y ? -1 : 0;
}

struct pt {
	float x, y;
};

static float cross3(struct pt o, struct pt a, struct pt b)
{
	return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
}

static int by_xy(const void *a, const void *b)
{
	const struct pt *p = a, *q = b;
	return p->x < q->x ? -1 : p->x > q->x ? 1 : p->y < q->y ? -1 : p->y > q->y;
}

/* Convex hull of @n points (Andrew's monotone chain), counter-clockwise in
 * @h (room for n + 1); returns its size. Sorts @p. */
static int hull(struct pt *p, int n, struct pt *h)
{
	qsort(p, (size_t)n, sizeof *p, by_xy);
	int k = 0;
	for (int i = 0; i < n; i++) {
		while (k >= 2 && cross3(h[k - 2], h[k - 1], p[i]) <= 0)
			k--;
		h[k++] = p[i];
	}
	for (int i = n - 2, lo = k + 1; i >= 0; i--) {
		while (k >= lo && cross3(h[k - 2], h[k - 1], p[i]) <= 0)
			k--;
		h[k++] = p[i];
	}
	return k > 1 ? k - 1 : k;
}

/* A rectangle with unit axes u and v = u turned by +90 degrees, and the
 * extents of a point set along them. */
struct rect {
	float ux, uy, umin, umax, vmin, vmax;
};

static struct rect fit_rect(const struct pt *h, int n, float ux, float uy)
{
	struct rect r = { ux, uy, INFINITY, -INFINITY, INFINITY, -INFINITY };
	for (int k = 0; k < n; k++) {
		float u = h[k].x * ux + h[k].y * uy, v = -h[k].x * uy + h[k].y * ux;
		r.umin = fminf(r.umin, u);
		r.umax = fmaxf(r.umax, u);
		r.vmin = fminf(r.vmin, v);
		r.vmax = fmaxf(r.vmax, v);
	}
	return r;
}

static float rect_area(const struct rect *r) { return (r->umax - r->umin) * (r->vmax - r->vmin); }

/* The minimum-area rectangle around hull @h (one of its sides lies on a
 * hull edge), or the upright one when that is within 15 % of it: a level
 * line whose ends DB rounds should not come out tilted by a degree or two
 * (a line of aspect 10:1 tilted by 5 degrees has an upright box 88 % larger). */
static struct rect min_area_rect(const struct pt *h, int n)
{
	struct rect upright = fit_rect(h, n, 1, 0), best = upright;
	float best_area = rect_area(&upright);
	for (int i = 0; i < n; i++) {
		struct pt a = h[i], b = h[(i + 1) % n];
		float ex = b.x - a.x, ey = b.y - a.y, len = sqrtf(ex * ex + ey * ey);
		if (len <= 0)
			continue;
		struct rect r = fit_rect(h, n, ex / len, ey / len);
		if (rect_area(&r) < best_area) {
			best_area = rect_area(&r);
			best = r;
		}
	}
	return rect_area(&upright) <= 1.15f * best_area ? upright : best;
}

/* The rectangle grown by @d on every side, to frame pixels (clamped to the
 * frame), clockwise from the corner nearest the top-left, and its bounds. */
static int rect_to_det(struct rect r, float d, const struct ls_letterbox *lb, float score, struct ls_det *o)
{
	float us[4] = { r.umin - d, r.umax + d, r.umax + d, r.umin - d };
	float vs[4] = { r.vmin - d, r.vmin - d, r.vmax + d, r.vmax + d };
	struct pt c[4];
	float fw = (float)lb->frame_w, fh = (float)lb->frame_h;
	for (int k = 0; k < 4; k++) {
		float x = us[k] * r.ux - vs[k] * r.uy, y = us[k] * r.uy + vs[k] * r.ux; /* back from (u, v) */
		c[k].x = fminf(fmaxf((x - lb->pad_x) / lb->scale, 0), fw);
		c[k].y = fminf(fmaxf((y - lb->pad_y) / lb->scale, 0), fh);
	}
	/* (u, v) is a right-handed frame in image coordinates (y down), so the
	 * order above already runs clockwise on screen; start top-left */
	int s = 0;
	for (int k = 1; k < 4; k++)
		if (c[k].x + c[k].y < c[s].x + c[s].y)
			s = k;
	memset(o, 0, sizeof *o);
	o->x1 = o->y1 = INFINITY;
	o->x2 = o->y2 = -INFINITY;
	for (int k = 0; k < 4; k++) {
		struct pt p = c[(s + k) % 4];
		o->quad[2 * k] = p.x;
		o->quad[2 * k + 1] = p.y;
		o->x1 = fminf(o->x1, p.x);
		o->y1 = fminf(o->y1, p.y);
		o->x2 = fmaxf(o->x2, p.x);
		o->y2 = fmaxf(o->y2, p.y);
	}
	o->has_quad = 1;
	o->score = score;
	return o->x2 > o->x1 && o->y2 > o->y1;
}

int ls_detect_dbnet(const float *prob, int gh, int gw, const struct ls_letterbox *lb, float thresh, struct ls_det *out,
		    int max)
{
	if (!prob || !lb || !out || gh < 1 || gw < 1 || max < 1)
		return -EINVAL;
	size_t cells = (size_t)gh * gw;
	int *label = malloc(cells * sizeof(int));
	int *stack = malloc(cells * sizeof(int));
	int *rmin = malloc((size_t)gh * sizeof(int)), *rmax = malloc((size_t)gh * sizeof(int));
	struct pt *pts = malloc((size_t)gh * 4 * sizeof *pts), *hl = malloc(((size_t)gh * 4 + 1) * sizeof *hl);
	int n = -ENOMEM;
	if (!label || !stack || !rmin || !rmax || !pts || !hl)
		goto out;
	for (size_t i = 0; i < cells; i++)
		label[i] = prob[i] > 0.3f ? 0 : -1; /* 0: text, not yet labelled */
	for (int y = 0; y < gh; y++)
		rmin[y] = INT_MAX, rmax[y] = -1;
	n = 0;
	int next = 1;
	for (size_t i = 0; i < cells && n < max; i++) {
		if (label[i] != 0)
			continue;
		/* flood fill (4-connected) with an explicit stack; per row, the
		 * region's first and last cell */
		int sp = 0, y0 = gh, y1 = -1;
		long area = 0;
		double sum = 0;
		stack[sp++] = (int)i;
		label[i] = next;
		while (sp) {
			int k = stack[--sp], x = k % gw, y = k / gw;
			area++;
			sum += prob[k];
			rmin[y] = x < rmin[y] ? x : rmin[y];
			rmax[y] = x > rmax[y] ? x : rmax[y];
			y0 = y < y0 ? y : y0;
			y1 = y > y1 ? y : y1;
			int nb[4] = { x > 0 ? k - 1 : -1, x + 1 < gw ? k + 1 : -1, y > 0 ? k - gw : -1,
				      y + 1 < gh ? k + gw : -1 };
			for (int q = 0; q < 4; q++)
				if (nb[q] >= 0 && label[nb[q]] == 0) {
					label[nb[q]] = next;
					stack[sp++] = nb[q];
				}
		}
		next++;
		/* the corners of each row's outermost cells: the region's hull */
		int np = 0;
		for (int y = y0; y <= y1; y++) {
			if (rmax[y] < 0)
				continue;
			float a = (float)rmin[y], b = (float)rmax[y] + 1;
			pts[np++] = (struct pt){ a, (float)y };
			pts[np++] = (struct pt){ a, (float)y + 1 };
			pts[np++] = (struct pt){ b, (float)y };
			pts[np++] = (struct pt){ b, (float)y + 1 };
			rmin[y] = INT_MAX;
			rmax[y] = -1;
		}
		float score = (float)(sum / (double)area);
		if (score < thresh)
			continue;
		struct rect r = min_area_rect(hl, hull(pts, np, hl));
		float a = r.umax - r.umin, b = r.vmax - r.vmin;
		if (a < 3 || b < 3)
			continue;
		/* DB shrinks text regions when it learns them; grow them back */
		float d = a * b * 1.5f / (2.0f * (a + b));
		if (rect_to_det(r, d, lb, score, &out[n]))
			n++;
	}
out:
	free(hl);
	free(pts);
	free(rmax);
	free(rmin);
	free(stack);
	free(label);
	return n;
}

float ls_det_iou(const struct ls_det *a, const struct ls_det *b)
{
	float w = fminf(a->x2, b->x2) - fmaxf(a->x1, b->x1);
	float h = fminf(a->y2, b->y2) - fmaxf(a->y1, b->y1);
	if (w <= 0 || h <= 0)
		return 0;
	float inter = w * h;
	float ua = (a->x2 - a->x1) * (a->y2 - a->y1) + (b->x2 - b->x1) * (b->y2 - b->y1) - inter;
	return ua > 0 ? inter / ua : 0;
}

int ls_det_nms(struct ls_det *d, int n, float iou)
{
	qsort(d, (size_t)n, sizeof *d, by_score);
	int kept = 0;
	for (int i = 0; i < n; i++) {
		int drop = 0;
		for (int k = 0; k < kept && !drop; k++)
			drop = d[k].cls == d[i].cls && ls_det_iou(&d[k], &d[i]) > iou;
		if (!drop)
			d[kept++] = d[i];
	}
	return kept;
}

/* Model pixels to frame pixels, clipped; false when nothing is left. */
static int to_frame(const struct ls_letterbox *lb, float x1, float y1, float x2, float y2, struct ls_det *o)
{
	o->x1 = fmaxf((x1 - lb->pad_x) / lb->scale, 0);
	o->y1 = fmaxf((y1 - lb->pad_y) / lb->scale, 0);
	o->x2 = fminf((x2 - lb->pad_x) / lb->scale, (float)lb->frame_w);
	o->y2 = fminf((y2 - lb->pad_y) / lb->scale, (float)lb->frame_h);
	return o->x2 > o->x1 && o->y2 > o->y1;
}

static inline int wanted(const uint8_t *want, int c) { return !want || (want[c >> 3] >> (c & 7)) & 1; }

/* Keeps the @max best of @n candidates in @out (sorted); returns the count. */
static int keep_best(struct ls_det *cand, int n, struct ls_det *out, int max)
{
	qsort(cand, (size_t)n, sizeof *cand, by_score);
	if (n > max)
		n = max;
	memmove(out, cand, sizeof *out * (size_t)n);
	return n;
}

int ls_detect_centernet(const float *heat, const float *wh, int ncls, int gh, int gw, const struct ls_letterbox *lb,
			float thresh, const uint8_t *want, struct ls_det *out, int max)
{
	float stride = (float)lb->in_w / (float)gw;
	size_t cells = (size_t)gh * gw;
	int n = 0;
	/* candidates go straight into @out while there is room; beyond that
	 * the weakest is replaced (max is small, tens to hundreds) */
	for (int c = 0; c < ncls; c++) {
		if (!wanted(want, c))
			continue;
		const float *h = heat + (size_t)c * cells;
		for (size_t i = 0; i < cells; i++) {
			if (h[i] < thresh)
				continue;
			int y = (int)(i / (size_t)gw), x = (int)(i % (size_t)gw);
			float cx = (float)x * stride, cy = (float)y * stride;
			struct ls_det d = { .score = h[i], .cls = c };
			if (!to_frame(lb, cx - wh[i], cy - wh[cells + i], cx + wh[2 * cells + i],
				      cy + wh[3 * cells + i], &d))
				continue;
			if (n < max) {
				out[n++] = d;
				continue;
			}
			int worst = 0;
			for (int k = 1; k < n; k++)
				if (out[k].score < out[worst].score)
					worst = k;
			if (d.score > out[worst].score)
				out[worst] = d;
		}
	}
	return keep_best(out, n, out, max);
}

int ls_detect_yolov8(const float *t, int ncls, int n, const struct ls_letterbox *lb, float thresh, float iou,
		     const uint8_t *want, struct ls_det *scratch, struct ls_det *out, int max)
{
	int m = 0;
	for (int i = 0; i < n; i++) {
		int best = -1;
		float bs = thresh;
		for (int c = 0; c < ncls; c++) {
			float s = t[(size_t)(4 + c) * n + i];
			if (s >= bs && wanted(want, c)) {
				bs = s;
				best = c;
			}
		}
		if (best < 0)
			continue;
		float cx = t[i], cy = t[(size_t)n + i], w = t[2 * (size_t)n + i], h = t[3 * (size_t)n + i];
		struct ls_det d = { .score = bs, .cls = best };
		if (to_frame(lb, cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, &d))
			scratch[m++] = d;
	}
	m = ls_det_nms(scratch, m, iou);
	return keep_best(scratch, m, out, max);
}

/* ---- drawing ------------------------------------------------------------ */

static void hline(uint8_t *yp, uint8_t *up, uint8_t *vp, int ys, int cs, int x0, int x1, int y, int t, uint8_t Y,
		  uint8_t U, uint8_t V)
{
	for (int r = y; r < y + t; r++)
		for (int x = x0; x < x1; x++) {
			yp[(size_t)r * ys + x] = Y;
			up[(size_t)(r / 2) * cs + x / 2] = U;
			vp[(size_t)(r / 2) * cs + x / 2] = V;
		}
}

void ls_det_draw_box(uint8_t *yp, uint8_t *up, uint8_t *vp, int ys, int cs, int pw, int ph, int rx, int ry, int rw,
		     int rh, int fw, int fh, const struct ls_det *b, int thick, uint8_t y, uint8_t u, uint8_t v)
{
	if (fw < 1 || fh < 1 || rw < 1 || rh < 1)
		return;
	float sx = (float)rw / (float)fw, sy = (float)rh / (float)fh;
	int lx = rx > 0 ? rx : 0, ly = ry > 0 ? ry : 0;
	int hx = rx + rw < pw ? rx + rw : pw, hy = ry + rh < ph ? ry + rh : ph;
	int x1 = rx + (int)(b->x1 * sx), y1 = ry + (int)(b->y1 * sy);
	int x2 = rx + (int)(b->x2 * sx), y2 = ry + (int)(b->y2 * sy);
#define CL(a, lo, hi) ((a) < (lo) ? (lo) : (a) > (hi) ? (hi) : (a))
	x1 = CL(x1, lx, hx);
	x2 = CL(x2, lx, hx);
	y1 = CL(y1, ly, hy);
	y2 = CL(y2, ly, hy);
	if (x2 - x1 < 1 || y2 - y1 < 1)
		return;
	int t = thick < (y2 - y1) / 2 ? thick : (y2 - y1) / 2;
	int tx = thick < (x2 - x1) / 2 ? thick : (x2 - x1) / 2;
	if (t < 1)
		t = 1;
	if (tx < 1)
		tx = 1;
	hline(yp, up, vp, ys, cs, x1, x2, y1, t, y, u, v);
	hline(yp, up, vp, ys, cs, x1, x2, CL(y2 - t, y1, hy), t, y, u, v);
	for (int r = y1; r < y2; r++) {
		hline(yp, up, vp, ys, cs, x1, x1 + tx, r, 1, y, u, v);
		hline(yp, up, vp, ys, cs, x2 - tx, x2, r, 1, y, u, v);
	}
#undef CL
}
