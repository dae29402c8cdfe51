/* ls_track — SORT/ByteTrack-style tracking. See ls_track.h for the contract
 * and docs/architecture.md ("Tracking") for the choices. */
#include "ls_track.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Kalman noise, as fractions of the box height (ByteTrack's weights): the
 * process noise per frame of position and of velocity, and the measurement
 * noise; a new track starts with a wide covariance, its velocity unknown. */
#define W_POS (1.0 / 20.0)
#define W_VEL (1.0 / 160.0)
/* cost added per update a track has coasted (at most 10): breaks ties only */
#define LOST_PENALTY 1e-3

enum { TENTATIVE, CONFIRMED };

struct trk {
	uint64_t id;
	int cls, state;
	double x[4], v[4]; /* cx, cy, w, h and their velocities per frame */
	double P[4][3];    /* per coordinate: var(x), cov(x, v), var(v) */
	float score;
	int det, hits, lost;
	int64_t t_seen; /* capture time of the last match (ns) */
};

struct ls_tracker {
	struct ls_tracker_params p;
	struct trk *trk; /* max_tracks, live ones first, in order of birth */
	int ntrk;
	uint64_t next_id;
	uint64_t updates;
	int64_t last_t; /* the last update's or hold's time, valid when timed */
	bool timed;
	/* scratch for one update, sized at creation */
	int *hi, *lo, *cand, *rows, *cols, *match_col; /* detection / track index lists */
	bool *det_used;
	double *cost; /* max_tracks x max_dets */
	double *u, *vv, *minv;
	int *pp, *way;
	bool *used;
};

/* clang-format off */
static const struct ls_tracker_params defaults = {
	.high = 0.5f, .low = 0.1f, .iou_high = 0.3f, .iou_low = 0.5f, .min_hits = 3, .max_age = 30,
	.max_tracks = 256, .max_dets = 256, .frame_ns = 0, .output_lost = 0, .max_hold_ns = LS_TRACKER_MAX_HOLD_NS,
};
/* clang-format on */

float ls_iou(float ax, float ay, float aw, float ah, float bx, float by, float bw, float bh)
{
	if (!(aw > 0 && ah > 0 && bw > 0 && bh > 0))
		return 0;
	float ix = fminf(ax + aw, bx + bw) - fmaxf(ax, bx);
	float iy = fminf(ay + ah, by + bh) - fmaxf(ay, by);
	if (ix <= 0 || iy <= 0)
		return 0;
	float inter = ix * iy;
	return inter / (aw * ah + bw * bh - inter);
}

struct ls_tracker *ls_tracker_new(const struct ls_tracker_params *p)
{
	struct ls_tracker_params q = p ? *p : defaults;
#define DEF(f)                            \
	do {                              \
		if (q.f == 0)             \
			q.f = defaults.f; \
	} while (0)
	DEF(high);
	DEF(low);
	DEF(iou_high);
	DEF(iou_low);
	DEF(min_hits);
	DEF(max_age);
	DEF(max_tracks);
	DEF(max_dets);
	DEF(max_hold_ns);
#undef DEF
	if (!(q.low > 0 && q.low <= q.high && q.high <= 1) || !(q.iou_high > 0 && q.iou_high < 1) ||
	    !(q.iou_low > 0 && q.iou_low < 1) || q.min_hits < 1 || q.max_age < 1 || q.max_tracks < 1 ||
	    q.max_tracks > 65536 || q.max_dets < 1 || q.max_dets > 65536 || q.frame_ns < 0 || q.max_hold_ns < 0) {
		errno = EINVAL;
		return NULL;
	}
	struct ls_tracker *t = calloc(1, sizeof *t);
	if (!t)
		goto nomem;
	t->p = q;
	t->next_id = 1;
	size_t nt = (size_t)q.max_tracks, nd = (size_t)q.max_dets, big = (nt > nd ? nt : nd) + 1;
	t->trk = calloc(nt, sizeof *t->trk);
	t->hi = malloc(nd * sizeof(int));
	t->lo = malloc(nd * sizeof(int));
	t->cols = malloc(nd * sizeof(int));
	t->rows = malloc(nt * sizeof(int));
	t->cand = malloc(nt * sizeof(int));
	t->match_col = malloc(big * sizeof(int));
	t->det_used = malloc(nd * sizeof(bool));
	t->cost = malloc(nt * nd * sizeof(double));
	t->u = malloc(big * sizeof(double));
	t->vv = malloc(big * sizeof(double));
	t->minv = malloc(big * sizeof(double));
	t->pp = malloc(big * sizeof(int));
	t->way = malloc(big * sizeof(int));
	t->used = malloc(big * sizeof(bool));
	if (!t->trk || !t->hi || !t->lo || !t->cols || !t->rows || !t->cand || !t->match_col || !t->det_used ||
	    !t->cost || !t->u || !t->vv || !t->minv || !t->pp || !t->way || !t->used)
		goto nomem;
	return t;
nomem:
	ls_tracker_free(&t);
	errno = ENOMEM;
	return NULL;
}

void ls_tracker_free(struct ls_tracker **tp)
{
	if (!tp || !*tp)
		return;
	struct ls_tracker *t = *tp;
	free(t->trk);
	free(t->hi);
	free(t->lo);
	free(t->cols);
	free(t->rows);
	free(t->cand);
	free(t->match_col);
	free(t->det_used);
	free(t->cost);
	free(t->u);
	free(t->vv);
	free(t->minv);
	free(t->pp);
	free(t->way);
	free(t->used);
	free(t);
	*tp = NULL;
}

int ls_tracker_count(const struct ls_tracker *t) { return t->ntrk; }

void ls_tracker_get_params(const struct ls_tracker *t, struct ls_tracker_params *p) { *p = t->p; }

/* --- Kalman filter, one (position, velocity) pair per coordinate ------------ */

static double noise_h(const struct trk *k) { return k->x[3] > 1.0 ? k->x[3] : 1.0; }

static void kf_init(struct trk *k, const struct ls_track_det *d)
{
	k->x[0] = d->x + d->w / 2.0;
	k->x[1] = d->y + d->h / 2.0;
	k->x[2] = d->w;
	k->x[3] = d->h;
	double h = noise_h(k), sp = 2 * W_POS * h, sv = 10 * W_VEL * h;
	for (int c = 0; c < 4; c++) {
		k->v[c] = 0;
		k->P[c][0] = sp * sp;
		k->P[c][1] = 0;
		k->P[c][2] = sv * sv;
	}
}

/* x += v dt; P = F P F' + Q dt with F = [1 dt; 0 1] */
static void kf_predict(struct trk *k, double dt)
{
	double h = noise_h(k), qp = W_POS * h, qv = W_VEL * h;
	for (int c = 0; c < 4; c++) {
		double *P = k->P[c];
		k->x[c] += k->v[c] * dt;
		double a = P[0] + 2 * dt * P[1] + dt * dt * P[2] + qp * qp * dt;
		double b = P[1] + dt * P[2];
		double cc = P[2] + qv * qv * dt;
		P[0] = a;
		P[1] = b;
		P[2] = cc;
	}
	if (k->x[2] < 1)
		k->x[2] = 1;
	if (k->x[3] < 1)
		k->x[3] = 1;
}

static void kf_update(struct trk *k, const struct ls_track_det *d)
{
	double z[4] = { d->x + d->w / 2.0, d->y + d->h / 2.0, d->w, d->h };
	double r = W_POS * noise_h(k);
	r *= r;
	for (int c = 0; c < 4; c++) {
		double *P = k->P[c], s = P[0] + r, k0 = P[0] / s, k1 = P[1] / s, e = z[c] - k->x[c];
		k->x[c] += k0 * e;
		k->v[c] += k1 * e;
		double a = P[0], b = P[1];
		P[0] = a - k0 * a;
		P[1] = b - k0 * b;
		P[2] = P[2] - k1 * b;
	}
}

static void trk_box(const struct trk *k, float *x, float *y, float *w, float *h)
{
	*w = (float)k->x[2];
	*h = (float)k->x[3];
	*x = (float)(k->x[0] - k->x[2] / 2);
	*y = (float)(k->x[1] - k->x[3] / 2);
}

/* --- association ------------------------------------------------------------- */

/* Hungarian method (shortest augmenting paths with potentials, O(n^2 m)) for
 * an n x m cost matrix a (row-major, row stride m), n <= m: every row gets a
 * distinct column, total cost minimal. Writes row -> column into @assign. */
static void hungarian(struct ls_tracker *t, const double *a, int n, int m, int transposed, int *assign)
{
	double *u = t->u, *v = t->vv, *minv = t->minv;
	int *p = t->pp, *way = t->way;
	bool *used = t->used;
#define A(i, j) (transposed ? a[(size_t)(j) * (size_t)n + (size_t)(i)] : a[(size_t)(i) * (size_t)m + (size_t)(j)])
	for (int j = 0; j <= m; j++) {
		v[j] = 0;
		p[j] = 0;
		way[j] = 0;
	}
	for (int i = 0; i <= n; i++)
		u[i] = 0;
	for (int i = 1; i <= n; i++) {
		p[0] = i;
		int j0 = 0;
		for (int j = 0; j <= m; j++) {
			minv[j] = DBL_MAX;
			used[j] = false;
		}
		do {
			used[j0] = true;
			int i0 = p[j0], j1 = 0;
			double delta = DBL_MAX;
			for (int j = 1; j <= m; j++) {
				if (used[j])
					continue;
				double cur = A(i0 - 1, j - 1) - u[i0] - v[j];
				if (cur < minv[j]) {
					minv[j] = cur;
					way[j] = j0;
				}
				if (minv[j] < delta) {
					delta = minv[j];
					j1 = j;
				}
			}
			for (int j = 0; j <= m; j++) {
				if (used[j]) {
					u[p[j]] += delta;
					v[j] -= delta;
				} else {
					minv[j] -= delta;
				}
			}
			j0 = j1;
		} while (p[j0] != 0);
		do {
			int j1 = way[j0];
			p[j0] = p[j1];
			j0 = j1;
		} while (j0);
	}
	for (int j = 1; j <= m; j++)
		if (p[j])
			assign[p[j] - 1] = j - 1;
#undef A
}

/* Matches tracks rows[0..nr) to detections cols[0..nc) of the same class with
 * IoU >= thr, optimally. Every row is assigned a column (n x m Hungarian);
 * a pair that may not match costs `none`, the same for all, so assigning it
 * means "unmatched" and the optimum maximises the sum over the pairs kept of
 * (none - cost) = IoU - thr + 0.011 - penalty: the overlap above the
 * threshold, plus a small bonus per pair that makes every admissible pair
 * worth keeping. Rows and columns without any admissible pair are left out
 * first (most are, in a sparse scene). Applies the matches (Kalman update)
 * and marks the detections used. */
static void associate(struct ls_tracker *t, const int *rows_in, int nr_in, const int *cols_in, int nc_in,
		      const struct ls_track_det *dets, float thr)
{
	int *rows = t->rows, *cols = t->cols, nr = 0, nc = 0;
	/* keep the detections that have an admissible track, and vice versa */
	for (int b = 0; b < nc_in; b++) {
		const struct ls_track_det *d = &dets[cols_in[b]];
		if (t->det_used[cols_in[b]])
			continue;
		for (int a = 0; a < nr_in; a++) {
			const struct trk *k = &t->trk[rows_in[a]];
			float x, y, w, h;
			trk_box(k, &x, &y, &w, &h);
			if (k->cls == d->cls && ls_iou(x, y, w, h, d->x, d->y, d->w, d->h) >= thr) {
				cols[nc++] = cols_in[b];
				break;
			}
		}
	}
	if (nc == 0)
		return;
	for (int a = 0; a < nr_in; a++) {
		const struct trk *k = &t->trk[rows_in[a]];
		float x, y, w, h;
		trk_box(k, &x, &y, &w, &h);
		for (int b = 0; b < nc; b++) {
			const struct ls_track_det *d = &dets[cols[b]];
			if (k->cls == d->cls && ls_iou(x, y, w, h, d->x, d->y, d->w, d->h) >= thr) {
				rows[nr++] = rows_in[a];
				break;
			}
		}
	}
	/* the cost of a pair that may not match: above every admissible
	 * pair's, 1 - thr + 10 penalties */
	const double none = 1.0 - thr + 11 * LOST_PENALTY;
	double *cost = t->cost;
	for (int a = 0; a < nr; a++) {
		const struct trk *k = &t->trk[rows[a]];
		float x, y, w, h;
		trk_box(k, &x, &y, &w, &h);
		for (int b = 0; b < nc; b++) {
			const struct ls_track_det *d = &dets[cols[b]];
			float iou = k->cls == d->cls ? ls_iou(x, y, w, h, d->x, d->y, d->w, d->h) : 0;
			/* an admissible pair costs a little more for a track
			 * that has been coasting: of two equal overlaps, the
			 * track seen most recently wins (DeepSORT's cascade) */
			cost[(size_t)a * (size_t)nc + (size_t)b] =
				iou >= thr ? 1.0 - iou + LOST_PENALTY * (k->lost < 10 ? k->lost : 10) : none;
		}
	}
	/* the Hungarian method runs on the smaller side: assign[i] is the
	 * partner of row i (nr <= nc) or of column i (transposed) */
	int *assign = t->match_col;
	bool rows_first = nr <= nc;
	int npairs = rows_first ? nr : nc;
	hungarian(t, cost, npairs, rows_first ? nc : nr, rows_first ? 0 : 1, assign);
	for (int i = 0; i < npairs; i++) {
		int a = rows_first ? i : assign[i], b = rows_first ? assign[i] : i;
		if (cost[(size_t)a * (size_t)nc + (size_t)b] >= none)
			continue;
		struct trk *k = &t->trk[rows[a]];
		kf_update(k, &dets[cols[b]]);
		k->det = cols[b];
		t->det_used[cols[b]] = true;
	}
}

int ls_tracker_update(struct ls_tracker *t, const struct ls_track_det *dets, int n, int64_t t_ns,
		      struct ls_track_out *out, int max)
{
	const struct ls_tracker_params *p = &t->p;
	if (n < 0 || (n > 0 && !dets) || max < 0 || (max > 0 && !out) || (t->timed && t_ns < t->last_t))
		return -EINVAL;
	if (n > p->max_dets)
		return -E2BIG;

	double dt = 1.0;
	if (p->frame_ns > 0 && t->timed)
		dt = (double)(t_ns - t->last_t) / (double)p->frame_ns;
	t->last_t = t_ns;
	t->timed = true;

	/* 1. predict */
	for (int i = 0; i < t->ntrk; i++) {
		struct trk *k = &t->trk[i];
		if (k->lost > 0)
			k->v[2] = k->v[3] = 0; /* a coasting box keeps its size */
		kf_predict(k, dt);
		k->det = -1;
	}

	/* detections by confidence */
	int nh = 0, nl = 0;
	for (int j = 0; j < n; j++) {
		const struct ls_track_det *d = &dets[j];
		t->det_used[j] = false;
		if (!(isfinite(d->x) && isfinite(d->y) && d->w > 0 && d->h > 0 && isfinite(d->w) && isfinite(d->h) &&
		      d->score >= p->low))
			continue;
		if (d->score >= p->high)
			t->hi[nh++] = j;
		else
			t->lo[nl++] = j;
	}

	/* 2. confident detections against confirmed tracks: first those seen
	 * in the previous update, then the coasting ones (DeepSORT's matching
	 * cascade, in two steps): where a coasting track's prediction lies on
	 * a visible object's box, as at a crossing where one hides the other,
	 * the visible object keeps its detection */
	int nc = 0;
	for (int i = 0; i < t->ntrk; i++)
		if (t->trk[i].state == CONFIRMED && t->trk[i].lost == 0)
			t->cand[nc++] = i;
	associate(t, t->cand, nc, t->hi, nh, dets, p->iou_high);
	nc = 0;
	for (int i = 0; i < t->ntrk; i++)
		if (t->trk[i].state == CONFIRMED && t->trk[i].lost > 0)
			t->cand[nc++] = i;
	associate(t, t->cand, nc, t->hi, nh, dets, p->iou_high);

	/* 3. weak detections against confirmed tracks seen last time, unmatched */
	nc = 0;
	for (int i = 0; i < t->ntrk; i++)
		if (t->trk[i].state == CONFIRMED && t->trk[i].lost == 0 && t->trk[i].det < 0)
			t->cand[nc++] = i;
	associate(t, t->cand, nc, t->lo, nl, dets, p->iou_low);

	/* 4. confident detections left against tentative tracks */
	nc = 0;
	for (int i = 0; i < t->ntrk; i++)
		if (t->trk[i].state == TENTATIVE)
			t->cand[nc++] = i;
	associate(t, t->cand, nc, t->hi, nh, dets, p->iou_high);

	/* bookkeeping: matched tracks gain a hit; unmatched tentative ones go,
	 * unmatched confirmed ones coast until max_age */
	int w = 0;
	for (int i = 0; i < t->ntrk; i++) {
		struct trk *k = &t->trk[i];
		if (k->det >= 0) {
			k->hits++;
			k->lost = 0;
			k->t_seen = t_ns;
			k->score = dets[k->det].score;
			if (k->state == TENTATIVE && k->hits >= p->min_hits) {
				k->state = CONFIRMED;
				k->id = t->next_id++;
			}
		} else if (k->state == TENTATIVE) {
			continue;
		} else if (++k->lost > p->max_age) {
			continue;
		}
		if (w != i)
			t->trk[w] = *k;
		w++;
	}
	t->ntrk = w;

	/* 5. births from the confident detections left */
	for (int a = 0; a < nh && t->ntrk < p->max_tracks; a++) {
		int j = t->hi[a];
		if (t->det_used[j])
			continue;
		struct trk *k = &t->trk[t->ntrk++];
		memset(k, 0, sizeof *k);
		k->cls = dets[j].cls;
		k->hits = 1;
		k->det = j;
		k->score = dets[j].score;
		k->state = TENTATIVE;
		k->t_seen = t_ns;
		if (p->min_hits <= 1) {
			k->state = CONFIRMED;
			k->id = t->next_id++;
		}
		kf_init(k, &dets[j]);
		t->det_used[j] = true;
	}
	t->updates++;

	int o = 0;
	for (int i = 0; i < t->ntrk && o < max; i++) {
		const struct trk *k = &t->trk[i];
		if (k->state != CONFIRMED || (k->lost > 0 && !p->output_lost))
			continue;
		struct ls_track_out *r = &out[o++];
		r->id = k->id;
		r->cls = k->cls;
		trk_box(k, &r->x, &r->y, &r->w, &r->h);
		r->vx = (float)k->v[0];
		r->vy = (float)k->v[1];
		r->score = k->score;
		r->det = k->det;
		r->hits = k->hits;
		r->lost = k->lost;
		/* ascending ids: tracks are confirmed in another order than born */
		for (int q = o - 1; q > 0 && out[q - 1].id > out[q].id; q--) {
			struct ls_track_out tmp = out[q];
			out[q] = out[q - 1];
			out[q - 1] = tmp;
		}
	}
	return o;
}

int ls_tracker_hold(struct ls_tracker *t, int64_t t_ns)
{
	if (t->timed && t_ns < t->last_t)
		return -EINVAL;
	t->last_t = t_ns;
	t->timed = true;
	/* no prediction step: the motion detector saw nothing move, so each
	 * box is where it was; the velocity is zero for the same reason (a
	 * walker who stopped before the gate closed must not be predicted
	 * on, at resume, by the velocity of his walk). P is left as it is:
	 * no time passes for the filter. */
	int w = 0;
	for (int i = 0; i < t->ntrk; i++) {
		struct trk *k = &t->trk[i];
		if (t_ns - k->t_seen > t->p.max_hold_ns)
			continue;
		for (int c = 0; c < 4; c++)
			k->v[c] = 0;
		if (w != i)
			t->trk[w] = *k;
		w++;
	}
	t->ntrk = w;
	return w;
}
