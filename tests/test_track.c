/* Tracker (lib/ls_track.c) on synthetic sequences of moving boxes: crossings,
 * occlusions, detector jitter, missed detections, false positives, weak
 * detections, classes, a crowd; ids must stay with their objects.
 *
 * Every detection fed to the tracker carries its ground-truth object (or -1
 * for a false positive); a track's `det` index says which detection it took,
 * so each output is checked against the object it really follows. */
#include <glib.h>
#include <math.h>
#include <string.h>

#include "ls_track.h"

#define FRAME_NS INT64_C(33333333)

static uint64_t rng_state;
static double rnd(void) /* uniform in [0, 1) */
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(rng_state >> 11) / 9007199254740992.0;
}
static double gauss(void)
{
	double u = rnd() + 1e-12, v = rnd();
	return sqrt(-2 * log(u)) * cos(2 * G_PI * v);
}

struct obj {
	double x, y, w, h, vx, vy; /* top-left and velocity per frame */
	int cls;
	int from, to;           /* frames in which it exists */
	int hide_from, hide_to; /* frames without a detection (occluded) */
	float score;
};

struct checker {
	uint64_t id_of[64];  /* object -> the first id it got (0: none yet) */
	uint64_t cur_id[64]; /* object -> its id now */
	int obj_of_id[256];  /* id -> object, -1 unknown */
	int switches, fp_confirmed, outputs;
	uint64_t max_id;
};

static void checker_init(struct checker *c)
{
	memset(c, 0, sizeof *c);
	for (int i = 0; i < 256; i++)
		c->obj_of_id[i] = -1;
}

/* checks one update's output: no id twice, each id always on one object,
 * each object always under one id */
static void check_out(struct checker *c, const struct ls_track_out *out, int n, const int *gt_of_det)
{
	for (int i = 0; i < n; i++) {
		g_assert_cmpuint(out[i].id, >=, 1);
		g_assert_cmpuint(out[i].id, <, 256);
		for (int j = 0; j < i; j++)
			g_assert_cmpuint(out[i].id, !=, out[j].id);
		if (i > 0)
			g_assert_cmpuint(out[i].id, >, out[i - 1].id);
		if (out[i].det < 0)
			continue;
		c->outputs++;
		int g = gt_of_det[out[i].det];
		if (g < 0) {
			c->fp_confirmed++;
			continue;
		}
		/* a switch: an object under another id than before, or an id
		 * on another object than before (counted once, then followed) */
		uint64_t id = out[i].id;
		if ((c->obj_of_id[id] >= 0 && c->obj_of_id[id] != g) || (c->cur_id[g] && c->cur_id[g] != id))
			c->switches++;
		c->obj_of_id[id] = g;
		c->cur_id[g] = id;
		c->max_id = id > c->max_id ? id : c->max_id;
		if (!c->id_of[g])
			c->id_of[g] = id;
	}
}

struct scene_opts {
	double jitter; /* px, standard deviation of the box edges */
	double miss;   /* probability a visible object is not detected */
	double fp;     /* false positives per frame */
	int frames;
};

/* Runs @objs through a tracker; returns the checker's counts. */
static void run_scene(struct ls_tracker *t, struct obj *objs, int nobj, const struct scene_opts *o, struct checker *c,
		      uint64_t seed)
{
	rng_state = seed;
	checker_init(c);
	for (int f = 0; f < o->frames; f++) {
		struct ls_track_det dets[80];
		int gt[80], n = 0;
		for (int k = 0; k < nobj; k++) {
			struct obj *b = &objs[k];
			if (f < b->from || f >= b->to)
				continue;
			double x = b->x + b->vx * (f - b->from), y = b->y + b->vy * (f - b->from);
			if (f >= b->hide_from && f < b->hide_to)
				continue;
			if (rnd() < o->miss)
				continue;
			double j = o->jitter;
			dets[n] = (struct ls_track_det){ .x = (float)(x + j * gauss()),
							 .y = (float)(y + j * gauss()),
							 .w = (float)(b->w + j * gauss()),
							 .h = (float)(b->h + j * gauss()),
							 .score = b->score > 0 ? b->score : 0.9f,
							 .cls = b->cls };
			gt[n++] = k;
		}
		/* false positives: anywhere, one frame each */
		double fp = o->fp;
		while (fp > 0 && rnd() < fp) {
			dets[n] = (struct ls_track_det){ .x = (float)(rnd() * 1200),
							 .y = (float)(rnd() * 640),
							 .w = 30,
							 .h = 60,
							 .score = 0.55f + 0.4f * (float)rnd(),
							 .cls = 0 };
			gt[n++] = -1;
			fp -= 1;
		}
		/* the tracker must not depend on the detection order */
		for (int i = n - 1; i > 0; i--) {
			int j = (int)(rnd() * (i + 1));
			struct ls_track_det td = dets[i];
			dets[i] = dets[j];
			dets[j] = td;
			int tg = gt[i];
			gt[i] = gt[j];
			gt[j] = tg;
		}
		struct ls_track_out out[64];
		int r = ls_tracker_update(t, dets, n, (int64_t)f * FRAME_NS, out, 64);
		g_assert_cmpint(r, >=, 0);
		check_out(c, out, r, gt);
	}
}

/* Two people cross, boxes overlapping heavily at the crossing, with jitter,
 * misses and false positives: two ids, never swapped. */
static void test_crossing(void)
{
	struct obj o[2] = {
		{ .x = 100, .y = 300, .w = 40, .h = 90, .vx = 6, .vy = 0.5, .to = 120, .hide_to = -1 },
		{ .x = 700, .y = 310, .w = 44, .h = 96, .vx = -6, .vy = -0.3, .to = 120, .hide_to = -1 },
	};
	struct scene_opts so = { .jitter = 2.0, .miss = 0.05, .fp = 0.3, .frames = 120 };
	for (uint64_t seed = 1; seed <= 20; seed++) {
		struct ls_tracker *t = ls_tracker_new(NULL);
		struct checker c;
		run_scene(t, o, 2, &so, &c, seed);
		g_assert_cmpint(c.switches, ==, 0);
		g_assert_cmpint(c.fp_confirmed, ==, 0);
		g_assert_cmpuint(c.id_of[0], !=, 0);
		g_assert_cmpuint(c.id_of[1], !=, 0);
		g_assert_cmpuint(c.id_of[0], !=, c.id_of[1]);
		g_assert_cmpint(c.outputs, >, 200); /* both followed most of the time */
		ls_tracker_free(&t);
		g_assert_null(t);
	}
}

/* The same crossing, but the person behind is hidden for 6 frames while the
 * boxes overlap: the hidden track coasts on its velocity and gets its own
 * person back. */
static void test_crossing_occluded(void)
{
	struct obj o[2] = {
		{ .x = 100, .y = 300, .w = 40, .h = 90, .vx = 6, .vy = 0, .to = 120, .hide_to = -1 },
		{ .x = 700, .y = 305, .w = 40, .h = 90, .vx = -6, .vy = 0, .to = 120, .hide_from = 47, .hide_to = 53 },
	};
	struct scene_opts so = { .jitter = 1.5, .frames = 120 };
	for (uint64_t seed = 1; seed <= 20; seed++) {
		struct ls_tracker *t = ls_tracker_new(NULL);
		struct checker c;
		run_scene(t, o, 2, &so, &c, seed);
		g_assert_cmpint(c.switches, ==, 0);
		g_assert_cmpuint(c.id_of[0] + c.id_of[1], ==, 3); /* ids 1 and 2, one each */
		g_assert_cmpuint(c.id_of[0] * c.id_of[1], ==, 2);
		g_assert_cmpint(ls_tracker_count(t), ==, 2);
		ls_tracker_free(&t);
	}
}

/* One object hidden for 12 frames (< max_age 30) keeps its id; hidden for 40
 * it is a new object; one that appears later gets a new id. */
static void test_occlusion(void)
{
	struct obj o[3] = {
		{ .x = 50, .y = 100, .w = 60, .h = 120, .vx = 4, .vy = 1, .to = 100, .hide_from = 30, .hide_to = 42 },
		{ .x = 900, .y = 400, .w = 50, .h = 50, .vx = -3, .vy = 0, .to = 100, .hide_from = 20, .hide_to = 60 },
		{ .x = 600, .y = 50, .w = 30, .h = 70, .vx = 0, .vy = 3, .from = 70, .to = 100, .hide_to = -1 },
	};
	struct scene_opts so = { .jitter = 2.0, .frames = 100 };
	struct ls_tracker *t = ls_tracker_new(NULL);
	struct checker c;
	run_scene(t, o, 3, &so, &c, 7);
	g_assert_cmpint(c.switches, ==, 1);               /* object 1, back after 40 frames, got a new id */
	g_assert_cmpuint(c.id_of[0] * c.id_of[1], ==, 2); /* 1 and 2, confirmed together */
	g_assert_cmpuint(c.cur_id[1], ==, 3);             /* object 1's return */
	g_assert_cmpuint(c.id_of[2], ==, 4);              /* the newcomer */
	g_assert_cmpuint(c.cur_id[0], ==, c.id_of[0]);    /* back after 12 frames, same id */
	ls_tracker_free(&t);
}

/* With output_lost, the occluded object is reported coasting (det = -1) on
 * its predicted path; without it, not at all. */
static void test_coasting_output(void)
{
	struct ls_tracker *t = ls_tracker_new(&(struct ls_tracker_params){ .output_lost = 1 });
	struct ls_track_out out[4];
	for (int f = 0; f < 30; f++) {
		struct ls_track_det d = { .x = 10.0f + 5 * f, .y = 50, .w = 40, .h = 80, .score = 0.9f };
		int n = ls_tracker_update(t, &d, f < 20 ? 1 : 0, f * FRAME_NS, out, 4);
		if (f < 2) {
			g_assert_cmpint(n, ==, 0); /* tentative */
			continue;
		}
		g_assert_cmpint(n, ==, 1);
		g_assert_cmpuint(out[0].id, ==, 1);
		g_assert_cmpint(out[0].det, ==, f < 20 ? 0 : -1);
		g_assert_cmpint(out[0].lost, ==, f < 20 ? 0 : f - 19);
		if (f < 8)
			continue; /* the velocity is learned over the first frames */
		g_assert_cmpfloat(fabsf(out[0].x - (10.0f + 5 * f)), <, 3.0f); /* on its path */
		g_assert_cmpfloat(fabsf(out[0].vx - 5), <, 0.5f);
	}
	ls_tracker_free(&t);
}

/* ByteTrack's second stage: a person whose detector score drops to 0.3 (half
 * hidden) for 15 frames stays matched rather than coasting. */
static void test_weak_detections(void)
{
	struct ls_tracker *t = ls_tracker_new(NULL);
	struct ls_track_out out[4];
	for (int f = 0; f < 40; f++) {
		struct ls_track_det d = {
			.x = 100.0f + 3 * f, .y = 80, .w = 40, .h = 90, .score = (f >= 10 && f < 25) ? 0.3f : 0.8f
		};
		int n = ls_tracker_update(t, &d, 1, f * FRAME_NS, out, 4);
		g_assert_cmpint(n, ==, f < 2 ? 0 : 1);
		if (n == 0)
			continue;
		g_assert_cmpuint(out[0].id, ==, 1);
		g_assert_cmpint(out[0].det, ==, 0);
	}
	/* a weak detection alone never starts a track */
	struct ls_track_det weak = { .x = 600, .y = 400, .w = 40, .h = 90, .score = 0.3f };
	for (int f = 40; f < 50; f++)
		ls_tracker_update(t, &weak, 1, f * FRAME_NS, out, 4);
	g_assert_cmpint(ls_tracker_count(t), ==, 1);
	ls_tracker_free(&t);
}

/* A car and a person on the same spot (a person next to the car's door):
 * boxes overlap, classes keep them apart. */
static void test_classes(void)
{
	struct obj o[2] = {
		{ .x = 200, .y = 200, .w = 160, .h = 90, .vx = 2, .vy = 0, .cls = 2, .to = 60, .hide_to = -1 },
		{ .x = 230, .y = 190, .w = 50, .h = 100, .vx = 2.2, .vy = 0, .cls = 0, .to = 60, .hide_to = -1 },
	};
	struct scene_opts so = { .jitter = 2.0, .miss = 0.1, .frames = 60 };
	struct ls_tracker *t = ls_tracker_new(NULL);
	struct checker c;
	run_scene(t, o, 2, &so, &c, 3);
	g_assert_cmpint(c.switches, ==, 0);
	g_assert_cmpuint(c.id_of[0], !=, c.id_of[1]);
	struct ls_track_out out[4];
	int n = ls_tracker_update(t, NULL, 0, 60 * FRAME_NS, out, 4);
	g_assert_cmpint(n, ==, 0); /* none matched now */
	ls_tracker_free(&t);
}

/* 30 people walking on straight lines through 1280 x 720, with jitter,
 * misses, false positives and many crossings. */
static void test_crowd(void)
{
	struct obj o[30];
	rng_state = 99;
	for (int k = 0; k < 30; k++) {
		double h = 60 + rnd() * 60;
		o[k] = (struct obj){ .x = rnd() * 1100,
				     .y = rnd() * 560,
				     .w = h * 0.45,
				     .h = h,
				     .vx = (rnd() - 0.5) * 8,
				     .vy = (rnd() - 0.5) * 3,
				     .from = (int)(rnd() * 40),
				     .to = 150,
				     .hide_to = -1 };
	}
	struct scene_opts so = { .jitter = 1.5, .miss = 0.03, .fp = 0.5, .frames = 150 };
	struct ls_tracker *t = ls_tracker_new(NULL);
	struct checker c;
	run_scene(t, o, 30, &so, &c, 5);
	g_test_message("crowd: %d outputs, %d id switches, %d false positives taken", c.outputs, c.switches,
		       c.fp_confirmed);
	/* some pairs of same-size people pass through each other with
	 * identical boxes; allow one switch per 1000 track-frames */
	g_assert_cmpint(c.switches * 1000, <=, c.outputs);
	/* a false positive that lands on a person whose detection was missed
	 * is taken by that person's track (it is where the person is); none
	 * may start a track of its own */
	g_assert_cmpint(c.fp_confirmed * 200, <=, c.outputs);
	for (uint64_t i = 1; i <= c.max_id; i++)
		g_assert_cmpint(c.obj_of_id[i], >=, 0); /* every id given out is a person's */
	ls_tracker_free(&t);
}

/* Skipped frames (every-n): with frame_ns the prediction spans the gap. */
static void test_frame_skip(void)
{
	struct ls_tracker *t = ls_tracker_new(&(struct ls_tracker_params){ .frame_ns = FRAME_NS });
	struct ls_track_out out[4];
	/* 10 px per frame, detected every 3rd frame: the velocity is per frame,
	 * and the prediction over 3 frames lands on the next detection */
	for (int f = 0; f < 90; f += 3) {
		struct ls_track_det d = { .x = 10.0f + 10 * f, .y = 100, .w = 80, .h = 160, .score = 0.9f };
		int n = ls_tracker_update(t, &d, 1, f * FRAME_NS, out, 4);
		if (f >= 6) {
			g_assert_cmpint(n, ==, 1);
			g_assert_cmpuint(out[0].id, ==, 1);
		}
		if (f >= 30)
			g_assert_cmpfloat(fabsf(out[0].vx - 10), <, 1);
	}
	ls_tracker_free(&t);
}

/* Two tracks, two detections, where matching the best pair first (greedy by
 * IoU: T2-Db, 0.68) leaves T1 with Da at IoU 0.30 < 0.3, unmatched, while
 * the optimal assignment keeps both: T1-Db 0.66 and T2-Da 0.64. */
static void test_optimal_assignment(void)
{
	struct ls_tracker *t = ls_tracker_new(&(struct ls_tracker_params){ .min_hits = 1 });
	struct ls_track_det born[2] = { { 100, 100, 100, 100, 0.9f, 0 }, { 119, 77, 100, 100, 0.9f, 0 } };
	struct ls_track_out out[4];
	g_assert_cmpint(ls_tracker_update(t, born, 2, 0, out, 4), ==, 2);
	g_assert_cmpuint(out[0].id, ==, 1); /* T1 */
	g_assert_cmpint(out[0].det, ==, 0);
	struct ls_track_det next[2] = { { 140, 76, 100, 100, 0.9f, 0 } /* Da */,
					{ 113, 91, 100, 100, 0.9f, 0 } /* Db */ };
	g_assert_cmpfloat(ls_iou(100, 100, 100, 100, 140, 76, 100, 100), <, 0.3f);
	g_assert_cmpint(ls_tracker_update(t, next, 2, 1, out, 4), ==, 2);
	g_assert_cmpuint(out[0].id, ==, 1);
	g_assert_cmpint(out[0].det, ==, 1); /* T1 - Db */
	g_assert_cmpuint(out[1].id, ==, 2);
	g_assert_cmpint(out[1].det, ==, 0); /* T2 - Da */
	g_assert_cmpint(ls_tracker_count(t), ==, 2);
	ls_tracker_free(&t);
}

/* A walker confirmed at 4 px per frame stops; the motion gate then closes
 * for 10 s (ls_tracker_hold on every frame). When the gate opens again and
 * the detector finds the person where he stopped, the track is the same
 * one: held frames neither count as misses nor let the old velocity carry
 * the box away. Two controls: without holds (the tracker only hears of the
 * gap at the next update) the prediction spans 300 frames at 4 px and the
 * person gets a new id; with empty updates instead of holds (the detector
 * ran and saw nothing) the track is lost after max_age. A third tracker
 * shows the velocity is gone: its person is hidden at the first update
 * after the gate, and the coasting box stays where he stopped. */
static void test_hold_keeps_still_object(void)
{
	struct ls_tracker_params p = { .frame_ns = FRAME_NS };
	struct ls_tracker *held = ls_tracker_new(&p), *gap = ls_tracker_new(&p), *miss = ls_tracker_new(&p);
	struct ls_tracker *coast = ls_tracker_new(
		&(struct ls_tracker_params){ .frame_ns = FRAME_NS, .output_lost = 1 });
	struct ls_track_out out[4];
	struct ls_track_det d = { .y = 100, .w = 80, .h = 160, .score = 0.9f };
	int f = 0;
	for (; f < 20; f++) {
		d.x = 10.0f + 4 * f;
		g_assert_cmpint(ls_tracker_update(held, &d, 1, f * FRAME_NS, out, 4), ==, f >= 2);
		g_assert_cmpint(ls_tracker_update(gap, &d, 1, f * FRAME_NS, out, 4), ==, f >= 2);
		g_assert_cmpint(ls_tracker_update(miss, &d, 1, f * FRAME_NS, out, 4), ==, f >= 2);
		g_assert_cmpint(ls_tracker_update(coast, &d, 1, f * FRAME_NS, out, 4), ==, f >= 2);
	}
	g_assert_cmpfloat(fabsf(out[0].vx - 4), <, 0.5f);
	for (; f < 320; f++) {
		g_assert_cmpint(ls_tracker_hold(held, f * FRAME_NS), ==, 1);
		g_assert_cmpint(ls_tracker_update(miss, NULL, 0, f * FRAME_NS, out, 4), ==, 0);
		g_assert_cmpint(ls_tracker_hold(coast, f * FRAME_NS), ==, 1);
	}
	g_assert_cmpint(ls_tracker_update(coast, NULL, 0, f * FRAME_NS, out, 4), ==, 1);
	g_assert_cmpint(out[0].lost, ==, 1);
	g_assert_cmpfloat(fabsf(out[0].x - d.x), <, 0.5f); /* with its velocity it would be 4 px on */
	g_assert_cmpfloat(fabsf(out[0].vx), <, 0.01f);
	g_assert_cmpint(ls_tracker_count(held), ==, 1);
	g_assert_cmpint(ls_tracker_count(miss), ==, 0); /* max_age (30) updates without a match */
	/* the gate opens: the person is where he stopped (x at frame 19) */
	for (int k = 0; k < 3; k++, f++) {
		int n = ls_tracker_update(held, &d, 1, f * FRAME_NS, out, 4);
		g_assert_cmpint(n, ==, 1);
		g_assert_cmpuint(out[0].id, ==, 1);
		g_assert_cmpint(out[0].det, ==, 0);
		g_assert_cmpfloat(fabsf(out[0].x - d.x), <, 2);
		n = ls_tracker_update(gap, &d, 1, f * FRAME_NS, out, 4);
		g_assert_cmpint(n, ==, k < 2 ? 0 : 1); /* a new tentative track, confirmed at its third hit */
		if (n)
			g_assert_cmpuint(out[0].id, ==, 2);
	}
	ls_tracker_free(&held);
	ls_tracker_free(&gap);
	ls_tracker_free(&miss);
	ls_tracker_free(&coast);
}

/* Held tracks age in capture time from their last match: kept at exactly
 * max_hold_ns, dropped 1 ns later; a match in between starts the count
 * again. The object seen again after the drop gets a new id (ids are never
 * reused). */
static void test_hold_bound(void)
{
	struct ls_tracker *t = ls_tracker_new(&(struct ls_tracker_params){ .frame_ns = FRAME_NS });
	struct ls_tracker_params p;
	ls_tracker_get_params(t, &p);
	g_assert_cmpint(p.max_hold_ns, ==, LS_TRACKER_MAX_HOLD_NS);
	const int64_t S = INT64_C(1000000000);
	struct ls_track_det d = { .x = 300, .y = 100, .w = 80, .h = 160, .score = 0.9f };
	struct ls_track_out out[4];
	for (int f = 0; f < 3; f++)
		g_assert_cmpint(ls_tracker_update(t, &d, 1, f * FRAME_NS, out, 4), ==, f == 2);
	int64_t seen = 2 * FRAME_NS;
	/* 50 s gated, one inferred frame that sees it, 50 s gated again:
	 * 100 s after its first match, 50 s after its last */
	for (int64_t ts = seen; ts <= seen + 50 * S; ts += S)
		g_assert_cmpint(ls_tracker_hold(t, ts), ==, 1);
	seen += 50 * S + FRAME_NS;
	g_assert_cmpint(ls_tracker_update(t, &d, 1, seen, out, 4), ==, 1);
	g_assert_cmpuint(out[0].id, ==, 1);
	g_assert_cmpint(ls_tracker_hold(t, seen + 50 * S), ==, 1);
	g_assert_cmpint(ls_tracker_hold(t, seen + LS_TRACKER_MAX_HOLD_NS), ==, 1);
	g_assert_cmpint(ls_tracker_hold(t, seen + LS_TRACKER_MAX_HOLD_NS + 1), ==, 0);
	g_assert_cmpint(ls_tracker_count(t), ==, 0);
	int64_t ts = seen + LS_TRACKER_MAX_HOLD_NS + FRAME_NS;
	for (int k = 0; k < 3; k++)
		g_assert_cmpint(ls_tracker_update(t, &d, 1, ts + k * FRAME_NS, out, 4), ==, k == 2);
	g_assert_cmpuint(out[0].id, ==, 2);
	ls_tracker_free(&t);

	/* a shorter bound; tentative tracks are held too (and confirm after) */
	t = ls_tracker_new(&(struct ls_tracker_params){ .frame_ns = FRAME_NS, .max_hold_ns = S });
	g_assert_cmpint(ls_tracker_update(t, &d, 1, 0, out, 4), ==, 0);
	g_assert_cmpint(ls_tracker_hold(t, S / 2), ==, 1);
	g_assert_cmpint(ls_tracker_update(t, &d, 1, S / 2 + FRAME_NS, out, 4), ==, 0);
	g_assert_cmpint(ls_tracker_update(t, &d, 1, S / 2 + 2 * FRAME_NS, out, 4), ==, 1);
	g_assert_cmpint(ls_tracker_hold(t, S / 2 + 2 * FRAME_NS + S + 1), ==, 0);
	ls_tracker_free(&t);
}

static void test_errors(void)
{
	errno = 0;
	g_assert_null(ls_tracker_new(&(struct ls_tracker_params){ .low = 0.6f, .high = 0.5f }));
	g_assert_cmpint(errno, ==, EINVAL);
	g_assert_null(ls_tracker_new(&(struct ls_tracker_params){ .iou_high = 1.5f }));
	g_assert_null(ls_tracker_new(&(struct ls_tracker_params){ .min_hits = -1 }));
	g_assert_null(ls_tracker_new(&(struct ls_tracker_params){ .max_hold_ns = -1 }));
	struct ls_tracker *t = ls_tracker_new(&(struct ls_tracker_params){ .max_dets = 2, .max_tracks = 2 });
	struct ls_tracker_params p;
	ls_tracker_get_params(t, &p);
	g_assert_cmpint(p.min_hits, ==, 3);
	g_assert_cmpint(p.max_dets, ==, 2);
	struct ls_track_det d[3] = { { 0, 0, 10, 10, 0.9f, 0 },
				     { 100, 0, 10, 10, 0.9f, 0 },
				     { 200, 0, 10, 10, 0.9f, 0 } };
	struct ls_track_out out[4];
	g_assert_cmpint(ls_tracker_update(t, d, 3, 0, out, 4), ==, -E2BIG);
	g_assert_cmpint(ls_tracker_update(t, NULL, 1, 0, out, 4), ==, -EINVAL);
	g_assert_cmpint(ls_tracker_update(t, d, -1, 0, out, 4), ==, -EINVAL);
	g_assert_cmpint(ls_tracker_update(t, d, 1, 0, NULL, 4), ==, -EINVAL);
	for (int f = 0; f < 3; f++) /* confirmed at the third hit */
		g_assert_cmpint(ls_tracker_update(t, d, 2, 10 + f, out, 4), ==, f < 2 ? 0 : 2);
	g_assert_cmpint(ls_tracker_update(t, d, 2, 5, out, 4), ==, -EINVAL); /* time went back */
	g_assert_cmpint(ls_tracker_hold(t, 5), ==, -EINVAL);
	g_assert_cmpint(ls_tracker_count(t), ==, 2);
	g_assert_cmpint(ls_tracker_hold(t, 15), ==, 2);
	g_assert_cmpint(ls_tracker_update(t, d, 2, 14, out, 4), ==, -EINVAL); /* before the hold */
	/* max_tracks: the third object is refused, the two others kept */
	struct ls_track_det d2[2] = { d[0], d[2] };
	g_assert_cmpint(ls_tracker_update(t, d2, 2, 20, out, 1), ==, 1); /* max = 1 output */
	g_assert_cmpint(ls_tracker_count(t), ==, 2);
	/* bad boxes are ignored */
	struct ls_track_det bad[2] = { { 0, 0, -5, 10, 0.9f, 0 }, { NAN, 0, 10, 10, 0.9f, 0 } };
	ls_tracker_update(t, bad, 2, 30, out, 4);
	g_assert_cmpint(ls_tracker_count(t), ==, 2);
	ls_tracker_free(&t);
	ls_tracker_free(&t); /* NULL: nothing */
	g_assert_cmpfloat(ls_iou(0, 0, 10, 10, 5, 0, 10, 10), ==, 50.0f / 150.0f);
	g_assert_cmpfloat(ls_iou(0, 0, 10, 10, 20, 0, 10, 10), ==, 0);
	g_assert_cmpfloat(ls_iou(0, 0, 0, 10, 0, 0, 10, 10), ==, 0);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/track/crossing", test_crossing);
	g_test_add_func("/track/crossing-occluded", test_crossing_occluded);
	g_test_add_func("/track/occlusion", test_occlusion);
	g_test_add_func("/track/coasting-output", test_coasting_output);
	g_test_add_func("/track/weak-detections", test_weak_detections);
	g_test_add_func("/track/classes", test_classes);
	g_test_add_func("/track/crowd", test_crowd);
	g_test_add_func("/track/frame-skip", test_frame_skip);
	g_test_add_func("/track/optimal-assignment", test_optimal_assignment);
	g_test_add_func("/track/hold-keeps-still-object", test_hold_keeps_still_object);
	g_test_add_func("/track/hold-bound", test_hold_bound);
	g_test_add_func("/track/errors", test_errors);
	return g_test_run();
}
