/* Aligner tests under simulated clocks: every scenario the genlock must
 * survive, with invariants checked on every emitted set. */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "ls_aligner.h"
#include "ls_setq.h"
#include "sim.h"

#define MS LS_NS_PER_MS
#define SEC LS_NS_PER_SEC
/* an epoch in 2026, so the arithmetic runs at realistic magnitudes */
#define EPOCH (INT64_C(1767225600) * SEC)
#define T0 (EPOCH + 1000 * SEC + 123 * MS)

static struct ls_aligner_config base_cfg(unsigned ncams, const int64_t *offsets)
{
	struct ls_aligner_config c = {
		.ncams = ncams,
		.epoch_ns = EPOCH,
		.rate = { 30, 1 },
		.tolerance_ns = 8 * MS,
		.max_latency_ns = 100 * MS,
		.policy = LS_POLICY_MISSING,
		.offsets_ns = offsets,
	};
	return c;
}

static struct sim_cam cam30(int64_t offset, int64_t jitter, int64_t delay, uint64_t seed)
{
	struct sim_cam c = {
		.p = { .fps = { 30, 1 }, .epoch_ns = EPOCH, .offset_ns = offset, .jitter_ns = jitter, .seed = seed },
		.delay_ns = delay,
	};
	return c;
}

/* Invariants that hold for every run: ordered, never later than the
 * deadline, accepted frames within tolerance, and every slot accounted for
 * (emitted or dropped) between the first and the last. */
static void check_invariants(const struct sim *s, const struct ls_aligner_config *cfg)
{
	struct ls_aligner_counters k;
	ls_aligner_counters(s->al, &k, NULL);
	g_assert_true(s->order_ok);
	g_assert_cmpuint(k.sets, ==, s->nsets);
	g_assert_cmpuint(k.complete + k.partial, ==, k.sets);
	int64_t tol = cfg->tolerance_ns > 0 ? cfg->tolerance_ns : ls_rate_period_ns(cfg->rate) / 2;
	for (size_t i = 0; i < s->nsets; i++) {
		const struct sim_set *r = &s->sets[i];
		g_assert_cmpint(r->emit_ns - r->slot_ns, <=, cfg->max_latency_ns);
		g_assert_cmpint(r->max_abs_offset, <=, tol);
		g_assert_cmpint(r->skew_ns, <=, 2 * tol);
		g_assert_cmpint(r->skew_ns, >=, 0);
		if (r->complete)
			g_assert_cmpuint(r->npresent, ==, cfg->ncams);
	}
	if (s->nsets > 1) {
		int64_t span = s->sets[s->nsets - 1].n - s->sets[0].n + 1;
		g_assert_cmpint(span, <=, (int64_t)(s->nsets + k.dropped_slots));
	}
}

static void test_slot_math(void)
{
	struct ls_rate r30 = { 30, 1 }, ntsc;
	g_assert_cmpint(ls_slot_index(EPOCH, EPOCH, 0, r30), ==, 0);
	g_assert_cmpint(ls_slot_index(EPOCH + 16666666, EPOCH, 0, r30), ==, 0);
	g_assert_cmpint(ls_slot_index(EPOCH + 16666667, EPOCH, 0, r30), ==, 1); /* half rounds up */
	g_assert_cmpint(ls_slot_index(EPOCH - 16666667, EPOCH, 0, r30), ==, -1);
	g_assert_cmpint(ls_slot_index(EPOCH - 16666666, EPOCH, 0, r30), ==, 0);
	g_assert_cmpint(ls_slot_index(EPOCH + 10 * MS, EPOCH, 10 * MS, r30), ==, 0);
	g_assert_cmpint(ls_slot_time(3, EPOCH, r30), ==, EPOCH + 100000000);
	g_assert_cmpint(ls_slot_time(-3, EPOCH, r30), ==, EPOCH - 100000000);
	/* 29.97 is exact: slot 30000 is exactly 1001 s after the epoch */
	g_assert_cmpint(ls_rate_parse("29.97", &ntsc), ==, 0);
	g_assert_cmpint(ntsc.num, ==, 30000);
	g_assert_cmpint(ntsc.den, ==, 1001);
	g_assert_cmpint(ls_slot_time(30000, 0, ntsc), ==, 1001 * SEC);
	g_assert_cmpint(ls_slot_index(1001 * SEC, 0, 0, ntsc), ==, 30000);
	/* round trip at large n and far from 1970 */
	for (int64_t n = -5; n <= 5; n++) {
		int64_t big = INT64_C(50000000000) + n;
		g_assert_cmpint(ls_slot_index(ls_slot_time(big, EPOCH, ntsc), EPOCH, 0, ntsc), ==, big);
	}
	g_assert_cmpint(ls_rate_parse("0", &ntsc), ==, -EINVAL);
	g_assert_cmpint(ls_rate_parse("abc", &ntsc), ==, -EINVAL);
	g_assert_cmpint(ls_rate_parse("25", &ntsc), ==, 0);
	g_assert_cmpint(ntsc.num, ==, 25);
	g_assert_cmpint(ls_rate_parse("12.5", &ntsc), ==, 0);
	g_assert_cmpint(ntsc.num, ==, 25);
	g_assert_cmpint(ntsc.den, ==, 2);
	g_assert_cmpint(ls_rate_parse("0.0001", &ntsc), ==, -EINVAL);
	g_assert_cmpint(ls_rate_parse(" 30", &ntsc), ==, -EINVAL);
	g_assert_cmpint(ls_rate_parse("-30", &ntsc), ==, -EINVAL);
	g_assert_cmpint(ls_rate_parse("30000/1001", &ntsc), ==, 0);
	g_assert_cmpint(ntsc.num, ==, 30000);
}

static void test_perfect(void)
{
	int64_t off[4] = { -7 * MS, 0, 4 * MS, 11 * MS };
	struct sim_cam cams[4];
	for (unsigned c = 0; c < 4; c++)
		cams[c] = cam30(off[c], 0, 5 * MS, c + 1);
	struct ls_aligner_config cfg = base_cfg(4, off);
	struct sim s;
	g_assert_cmpint(sim_init(&s, &cfg, cams, T0), ==, 0);
	sim_run(&s, T0 + 20 * SEC, 0, 0);
	check_invariants(&s, &cfg);
	struct ls_aligner_counters k;
	ls_aligner_counters(s.al, &k, NULL);
	g_assert_cmpuint(k.sets, >=, 20 * 30 - 2);
	/* the first slot can be partial: cameras start at different phases */
	g_assert_cmpuint(k.partial, <=, 1);
	for (size_t i = 1; i < s.nsets; i++) {
		g_assert_true(s.sets[i].complete);
		g_assert_false(s.sets[i].deadline); /* emitted on completion... */
		g_assert_cmpint(s.sets[i].skew_ns, ==, 0);
		/* ...as soon as the last camera arrived, not at the deadline */
		g_assert_cmpint(s.sets[i].emit_ns - s.sets[i].slot_ns, <=, 5 * MS + 11 * MS + 1);
	}
	g_assert_cmpuint(k.late + k.off_slot + k.superseded, ==, 0);
	sim_free(&s);
}

static void test_offsets_jitter(void)
{
	int64_t off[4] = { -13 * MS, 2 * MS, 6500000, 15 * MS };
	struct sim_cam cams[4];
	for (unsigned c = 0; c < 4; c++)
		cams[c] = cam30(off[c], 2 * MS, (3 + c) * MS, 10 + c);
	struct ls_aligner_config cfg = base_cfg(4, off);
	struct sim s;
	sim_init(&s, &cfg, cams, T0);
	sim_run(&s, T0 + 30 * SEC, 0, 0);
	check_invariants(&s, &cfg);
	struct ls_aligner_counters k;
	ls_aligner_counters(s.al, &k, NULL);
	g_assert_cmpuint(k.partial, <=, 1);
	g_assert_cmpuint(k.off_slot, ==, 0);
	int64_t maxskew = 0;
	for (size_t i = 0; i < s.nsets; i++)
		maxskew = MAX(maxskew, s.sets[i].skew_ns);
	g_assert_cmpint(maxskew, <=, 4 * MS); /* 2 x jitter */
	g_assert_cmpint(maxskew, >, 2 * MS);  /* the jitter is really there */
	sim_free(&s);
}

/* ±200 ppm drift over 5 minutes moves a camera's phase by 60 ms, so it slips
 * whole slots: the fast one fills some slots twice (nearest wins), the slow
 * one leaves some empty. */
static void test_drift(void)
{
	int64_t off[3] = { 0, 0, 0 };
	struct sim_cam cams[3] = { cam30(0, 0, 2 * MS, 1), cam30(0, 0, 2 * MS, 2), cam30(0, 0, 2 * MS, 3) };
	cams[1].p.drift_ppm = 200;
	cams[2].p.drift_ppm = -200;
	struct ls_aligner_config cfg = base_cfg(3, off);
	cfg.tolerance_ns = 0; /* T/2: accept every frame */
	struct sim s;
	sim_init(&s, &cfg, cams, T0);
	sim_run(&s, T0 + 300 * SEC, 0, 0);
	check_invariants(&s, &cfg);
	struct ls_aligner_counters k;
	uint64_t miss[3];
	ls_aligner_counters(s.al, &k, miss);
	/* 300 s x 200 ppm = 60 ms = 1.8 periods: 1 or 2 slips each way */
	g_assert_cmpuint(miss[0], <=, 1);
	g_assert_cmpuint(miss[2], >=, 1);
	g_assert_cmpuint(miss[2], <=, 3);
	g_assert_cmpuint(k.superseded, >=, 1); /* the fast camera doubled a slot */
	g_assert_cmpuint(k.superseded, <=, 3);
	g_assert_cmpuint(miss[1], <=, 2);
	g_assert_cmpuint(k.late, ==, 0);
	sim_free(&s);
}

static void test_mixed_rates(void)
{
	int64_t off[3] = { 0, 0, 0 };
	struct sim_cam cams[3] = { cam30(0, 0, 2 * MS, 1), cam30(0, 0, 2 * MS, 2), cam30(0, 0, 2 * MS, 3) };
	cams[2].p.fps = (struct ls_rate){ 25, 1 };
	struct ls_aligner_config cfg = base_cfg(3, off);
	cfg.tolerance_ns = 0;
	for (int pol = 0; pol < 2; pol++) {
		cfg.policy = pol ? LS_POLICY_HOLD : LS_POLICY_MISSING;
		struct sim s;
		sim_init(&s, &cfg, cams, T0);
		sim_run(&s, T0 + 12 * SEC, 0, 0);
		check_invariants(&s, &cfg);
		struct ls_aligner_counters k;
		uint64_t miss[3];
		ls_aligner_counters(s.al, &k, miss);
		g_assert_cmpuint(miss[0] + miss[1], <=, 1);
		/* 25 frames for 30 slots: exactly one slot in six is empty */
		g_assert_cmpuint(miss[2] * 6, >=, k.sets - 12);
		g_assert_cmpuint(miss[2] * 6, <=, k.sets + 12);
		for (size_t i = 0; i < s.nsets; i++) {
			if (pol) {
				g_assert_cmpuint(s.sets[i].npresent + s.sets[i].nheld, >=, 2);
				/* a held 25 fps frame is at most one 40 ms interval old */
				g_assert_cmpint(s.sets[i].max_held_age, <=, 40 * MS + 17 * MS);
			} else {
				g_assert_cmpuint(s.sets[i].nheld, ==, 0);
			}
		}
		if (pol) {
			size_t held = 0;
			for (size_t i = 0; i < s.nsets; i++)
				held += s.sets[i].nheld;
			g_assert_cmpuint(held, ==,
					 miss[2] + miss[0] + miss[1] -
						 (s.sets[0].nheld ? 0 : (3 - s.sets[0].npresent)));
		}
		sim_free(&s);
	}
}

static void test_drops(void)
{
	int64_t off[4] = { 0, 3 * MS, -3 * MS, 0 };
	struct sim_cam cams[4];
	for (unsigned c = 0; c < 4; c++)
		cams[c] = cam30(off[c], MS, 4 * MS, 100 + c);
	cams[1].p.drop = 0.10;
	struct ls_aligner_config cfg = base_cfg(4, off);
	struct sim s;
	sim_init(&s, &cfg, cams, T0);
	sim_run(&s, T0 + 60 * SEC, 0, 0);
	check_invariants(&s, &cfg);
	struct ls_aligner_counters k;
	uint64_t miss[4];
	ls_aligner_counters(s.al, &k, miss);
	double frac = (double)miss[1] / (double)k.sets;
	g_assert_cmpfloat(frac, >, 0.07);
	g_assert_cmpfloat(frac, <, 0.13);
	g_assert_cmpuint(miss[0] + miss[2] + miss[3], <=, 3);
	/* a dropped frame is known missing as soon as the next one arrives: the
	 * set goes out about one period later, far before its deadline */
	size_t partial = 0, early = 0;
	for (size_t i = 1; i < s.nsets; i++)
		if (!s.sets[i].complete) {
			partial++;
			if (!s.sets[i].deadline) {
				early++;
				/* one or two periods after the slot (two drops in a row) */
				g_assert_cmpint(s.sets[i].emit_ns - s.sets[i].slot_ns, <=,
						2 * 34 * MS + 4 * MS + 4 * MS);
			}
		}
	g_assert_cmpuint(partial, >, 0);
	g_assert_cmpuint(early * 10, >=, partial * 9);
	sim_free(&s);
}

static void test_dead_camera(void)
{
	int64_t off[3] = { 0, 0, 0 };
	struct sim_cam cams[3] = { cam30(0, 0, 2 * MS, 1), cam30(0, 0, 2 * MS, 2), cam30(0, 0, 2 * MS, 3) };
	cams[1].dead = true;
	struct ls_aligner_config cfg = base_cfg(3, off);
	cfg.policy = LS_POLICY_HOLD; /* nothing to hold: it never sent a frame */
	struct sim s;
	sim_init(&s, &cfg, cams, T0);
	sim_run(&s, T0 + 10 * SEC, 0, 0);
	check_invariants(&s, &cfg);
	struct ls_aligner_counters k;
	uint64_t miss[3];
	ls_aligner_counters(s.al, &k, miss);
	g_assert_cmpuint(k.complete, ==, 0);
	g_assert_cmpuint(miss[1], ==, k.sets);
	g_assert_cmpuint(k.sets, >=, 10 * 30 - 4);
	for (size_t i = 0; i < s.nsets; i++) {
		g_assert_true(s.sets[i].deadline);
		/* exactly at the deadline: never later, and not earlier either */
		g_assert_cmpint(s.sets[i].emit_ns - s.sets[i].slot_ns, ==, cfg.max_latency_ns);
		g_assert_cmpuint(s.sets[i].npresent, ==, 2);
	}
	sim_free(&s);
}

/* A camera that dies mid-run under `hold`: held for hold_max, then missing. */
static void test_hold_expires(void)
{
	int64_t off[2] = { 0, 0 };
	struct sim_cam cams[2] = { cam30(0, 0, 2 * MS, 1), cam30(0, 0, 2 * MS, 2) };
	struct ls_aligner_config cfg = base_cfg(2, off);
	cfg.policy = LS_POLICY_HOLD;
	cfg.hold_max_ns = 500 * MS;
	struct sim s;
	sim_init(&s, &cfg, cams, T0);
	sim_run(&s, T0 + 2 * SEC, 0, 0);
	cams[1].dead = true;
	s.next_arrival[1] = INT64_MAX;
	size_t before = s.nsets;
	sim_run(&s, T0 + 4 * SEC, 0, 0);
	size_t held = 0, missing = 0;
	for (size_t i = before; i < s.nsets; i++) {
		if (s.sets[i].nheld) {
			held++;
			g_assert_cmpint(s.sets[i].max_held_age, <=, cfg.hold_max_ns);
			g_assert_cmpuint(missing, ==, 0); /* held first, then missing */
		} else if (!s.sets[i].complete) {
			missing++;
		}
	}
	g_assert_cmpuint(held, >=, 14);
	g_assert_cmpuint(held, <=, 16);
	g_assert_cmpuint(missing, >=, 40);
	check_invariants(&s, &cfg);
	sim_free(&s);
}

static void test_late_frames(void)
{
	int64_t off[3] = { 0, 0, 0 };
	struct sim_cam cams[3] = { cam30(0, 0, 2 * MS, 1), cam30(0, 0, 2 * MS, 2), cam30(0, 0, 150 * MS, 3) };
	struct ls_aligner_config cfg = base_cfg(3, off);
	struct sim s;
	sim_init(&s, &cfg, cams, T0);
	sim_run(&s, T0 + 10 * SEC, 0, 0);
	check_invariants(&s, &cfg);
	struct ls_aligner_counters k;
	uint64_t miss[3];
	ls_aligner_counters(s.al, &k, miss);
	/* camera 2 delivers 150 ms after capture, past the 100 ms deadline */
	g_assert_cmpuint(k.late, >=, 10 * 30 - 10);
	g_assert_cmpuint(miss[2], ==, k.sets);
	for (size_t i = 0; i < s.nsets; i++)
		g_assert_cmpint(s.sets[i].emit_ns - s.sets[i].slot_ns, ==, cfg.max_latency_ns);
	sim_free(&s);
}

/* A consumer that never pops: the bounded queue drops the oldest sets. */
struct stall {
	struct ls_setq *q;
	struct sim *s;
};

static bool into_queue(struct ls_frameset *set, void *user)
{
	struct stall *st = user;
	ls_setq_push(st->q, set);
	g_assert_cmpuint(ls_setq_count(st->q), <=, 4);
	return true;
}

static void test_stalled_consumer(void)
{
	int64_t off[4] = { 0, 0, 0, 0 };
	struct sim_cam cams[4];
	for (unsigned c = 0; c < 4; c++)
		cams[c] = cam30(0, MS, 3 * MS, 7 + c);
	struct ls_aligner_config cfg = base_cfg(4, off);
	struct sim s;
	struct stall st = { ls_setq_new(4), &s };
	sim_init(&s, &cfg, cams, T0);
	s.consumer = into_queue;
	s.consumer_user = &st;
	sim_run(&s, T0 + 10 * SEC, 0, 0);
	check_invariants(&s, &cfg);
	/* nothing was consumed for 10 s: 4 newest queued, the rest dropped */
	g_assert_cmpuint(ls_setq_count(st.q), ==, 4);
	g_assert_cmpuint(ls_setq_dropped(st.q), ==, s.nsets - 4);
	/* the queued sets are the newest ones: latency is bounded by the depth */
	struct ls_frameset *f;
	int64_t newest = s.sets[s.nsets - 1].n;
	unsigned k = 0;
	while ((f = ls_setq_pop(st.q, 0))) {
		g_assert_cmpint(f->n, ==, newest - 3 + k);
		g_assert_cmpint(s.now - f->slot_ns, <=, 4 * 34 * MS + cfg.max_latency_ns);
		ls_frameset_unref(&f);
		k++;
	}
	g_assert_cmpuint(k, ==, 4);
	/* every frame went back to its pool: nothing leaked on the drop path */
	ls_aligner_flush(s.al, s.now);
	for (unsigned c = 0; c < 4; c++)
		g_assert_cmpuint(ls_frame_pool_in_use(s.pools[c]), ==, 0);
	ls_setq_free(&st.q);
	sim_free(&s);
}

/* A consumer that keeps every set: the frameset pool runs dry and the
 * aligner drops whole slots instead of allocating or blocking. */
static bool hoard(struct ls_frameset *set, void *user)
{
	GPtrArray *a = user;
	g_ptr_array_add(a, set);
	return true;
}

static void unref_set(gpointer p)
{
	struct ls_frameset *s = p;
	ls_frameset_unref(&s);
}

static void test_setpool_exhausted(void)
{
	int64_t off[2] = { 0, 0 };
	struct sim_cam cams[2] = { cam30(0, 0, 2 * MS, 1), cam30(0, 0, 2 * MS, 2) };
	struct ls_aligner_config cfg = base_cfg(2, off);
	cfg.setpool = 10;
	struct sim s;
	GPtrArray *kept = g_ptr_array_new_with_free_func(unref_set);
	sim_init(&s, &cfg, cams, T0);
	s.consumer = hoard;
	s.consumer_user = kept;
	sim_run(&s, T0 + 2 * SEC, 0, 0);
	struct ls_aligner_counters k;
	ls_aligner_counters(s.al, &k, NULL);
	g_assert_cmpuint(kept->len, ==, 10);
	g_assert_cmpuint(k.sets, ==, 10);
	g_assert_cmpuint(k.dropped_slots, >=, 2 * 30 - 12);
	g_ptr_array_free(kept, TRUE); /* the consumer lets go */
	s.consumer = NULL;
	size_t before = s.nsets;
	sim_run(&s, T0 + 3 * SEC, 0, 0);
	g_assert_cmpuint(s.nsets - before, >=, 29); /* emitting again */
	check_invariants(&s, &cfg);
	sim_free(&s);
}

/* The aligner thread itself stalls for 2 s: the stale slots are dropped, not
 * emitted late, and latency is back to normal right after. */
static void test_stalled_aligner(void)
{
	int64_t off[2] = { 0, 0 };
	struct sim_cam cams[2] = { cam30(0, 0, 2 * MS, 1), cam30(0, 0, 2 * MS, 2) };
	struct ls_aligner_config cfg = base_cfg(2, off);
	struct sim s;
	sim_init(&s, &cfg, cams, T0);
	sim_run(&s, T0 + 5 * SEC, T0 + 2 * SEC, T0 + 4 * SEC);
	struct ls_aligner_counters k;
	ls_aligner_counters(s.al, &k, NULL);
	/* 60 slots in the gap; the ~6 within 2 x max-latency of its end are
	 * still emitted (late but bounded), the rest are dropped */
	g_assert_cmpuint(k.dropped_slots, >=, 53);
	g_assert_cmpuint(k.dropped_slots, <=, 55);
	for (size_t i = 0; i < s.nsets; i++)
		g_assert_cmpint(s.sets[i].emit_ns - s.sets[i].slot_ns, <=, 2 * cfg.max_latency_ns);
	g_assert_cmpint(s.sets[s.nsets - 1].emit_ns - s.sets[s.nsets - 1].slot_ns, <=, 3 * MS);
	g_assert_true(s.order_ok);
	sim_free(&s);
}

/* A camera twice as fast as the rig: the frame nearest the centre wins. */
static void test_fast_camera(void)
{
	int64_t off[2] = { 0, 0 };
	struct sim_cam cams[2] = { cam30(0, 0, 2 * MS, 1), cam30(5 * MS, 0, 2 * MS, 2) };
	cams[1].p.fps = (struct ls_rate){ 60, 1 };
	struct ls_aligner_config cfg = base_cfg(2, off);
	cfg.tolerance_ns = 0;
	struct sim s;
	sim_init(&s, &cfg, cams, T0);
	sim_run(&s, T0 + 10 * SEC, 0, 0);
	check_invariants(&s, &cfg);
	struct ls_aligner_counters k;
	ls_aligner_counters(s.al, &k, NULL);
	/* the 60 fps frames sit at +5 ms and -11.67 ms of each centre: +5 wins */
	for (size_t i = 1; i < s.nsets; i++) {
		g_assert_true(s.sets[i].complete);
		g_assert_cmpint(s.sets[i].max_abs_offset, ==, 5 * MS);
	}
	g_assert_cmpuint(k.late, ==, 0);
	sim_free(&s);
}

/* More cameras than a 64-bit mask holds, with one dead past index 64. */
static void test_many_cameras(void)
{
	enum { N = 100 };
	int64_t off[N];
	struct sim_cam cams[N];
	for (unsigned c = 0; c < N; c++) {
		off[c] = ((int64_t)(c % 21) - 10) * MS;
		cams[c] = cam30(off[c], 500000, (1 + c % 7) * MS, 1000 + c);
	}
	cams[70].dead = true;
	struct ls_aligner_config cfg = base_cfg(N, off);
	struct sim s;
	sim_init(&s, &cfg, cams, T0);
	sim_run(&s, T0 + 5 * SEC, 0, 0);
	check_invariants(&s, &cfg);
	struct ls_aligner_counters k;
	uint64_t miss[N];
	ls_aligner_counters(s.al, &k, miss);
	for (unsigned c = 0; c < N; c++)
		if (c == 70)
			g_assert_cmpuint(miss[c], ==, k.sets);
		else
			g_assert_cmpuint(miss[c], <=, 1);
	for (size_t i = 1; i < s.nsets; i++)
		g_assert_cmpuint(s.sets[i].npresent, ==, N - 1);
	sim_free(&s);
}

static void test_off_slot_and_future(void)
{
	int64_t off[2] = { 0, 0 };
	struct sim_cam cams[2] = { cam30(0, 0, 2 * MS, 1), cam30(0, 6 * MS, 8 * MS, 2) };
	struct ls_aligner_config cfg = base_cfg(2, off);
	cfg.tolerance_ns = 3 * MS;
	struct sim s;
	sim_init(&s, &cfg, cams, T0);
	sim_run(&s, T0 + 10 * SEC, 0, 0);
	check_invariants(&s, &cfg);
	struct ls_aligner_counters k;
	ls_aligner_counters(s.al, &k, NULL);
	/* uniform ±6 ms jitter against ±3 ms tolerance: about half off-slot */
	g_assert_cmpuint(k.off_slot, >, 100);
	g_assert_cmpuint(k.off_slot, <, 200);

	/* a frame from a clock an hour ahead neither lands nor disturbs */
	struct ls_frame_pool *pool = ls_frame_pool_new(2);
	struct ls_frame *f = ls_frame_pool_acquire(pool);
	f->cam = 0;
	f->capture_ns = s.now + 3600 * SEC;
	uint64_t sets = k.sets;
	g_assert_cmpint(ls_aligner_push(s.al, f, s.now), ==, 1);
	ls_aligner_counters(s.al, &k, NULL);
	g_assert_cmpuint(k.future, ==, 1);
	g_assert_cmpuint(k.forced, ==, 0);
	g_assert_cmpuint(k.sets, <=, sets + 1);
	/* a camera index out of range is refused and the frame released */
	f = ls_frame_pool_acquire(pool);
	f->cam = 2;
	g_assert_cmpint(ls_aligner_push(s.al, f, s.now), ==, -EINVAL);
	g_assert_cmpuint(ls_frame_pool_in_use(pool), ==, 0);
	ls_frame_pool_unref(&pool);
	sim_free(&s);
}

static void test_start_and_flush(void)
{
	int64_t off[2] = { 0, 0 };
	struct sim_cam cams[2] = { cam30(0, 0, 2 * MS, 1), cam30(0, 0, 2 * MS, 2) };
	struct ls_aligner_config cfg = base_cfg(2, off);
	struct sim s;
	sim_init(&s, &cfg, cams, T0);
	int64_t start = ls_slot_index(T0, EPOCH, 0, cfg.rate) + 15;
	ls_aligner_start(s.al, start);
	sim_run(&s, T0 + SEC, 0, 0);
	struct ls_aligner_counters k;
	ls_aligner_counters(s.al, &k, NULL);
	g_assert_cmpuint(k.early, >=, 2 * 14);
	g_assert_cmpint(s.sets[0].n, ==, start);
	g_assert_cmpuint(k.partial, ==, 0);
	/* cut camera 1 short: flush emits its pending slot at once */
	cams[1].dead = true;
	s.next_arrival[1] = INT64_MAX;
	struct ls_frame_pool *pool = ls_frame_pool_new(1);
	struct ls_frame *f = ls_frame_pool_acquire(pool);
	f->cam = 0;
	f->capture_ns = ls_slot_time(k.last_slot + 1, EPOCH, cfg.rate);
	ls_aligner_push(s.al, f, f->capture_ns + MS);
	size_t before = s.nsets;
	ls_aligner_flush(s.al, f->capture_ns + 2 * MS);
	g_assert_cmpuint(s.nsets, ==, before + 1);
	g_assert_cmpuint(ls_frame_pool_in_use(pool), ==, 0);
	ls_frame_pool_unref(&pool);
	sim_free(&s);
}

static void drop_set(struct ls_frameset *set, void *user)
{
	(void)user;
	ls_frameset_unref(&set);
}

static void test_bad_config(void)
{
	struct ls_aligner_config cfg = base_cfg(0, NULL);
	g_assert_null(ls_aligner_new(&cfg, drop_set, NULL));
	g_assert_cmpint(errno, ==, EINVAL);
	cfg = base_cfg(1, NULL);
	cfg.max_latency_ns = 0;
	g_assert_null(ls_aligner_new(&cfg, drop_set, NULL));
	cfg = base_cfg(1, NULL);
	cfg.rate.num = 0;
	g_assert_null(ls_aligner_new(&cfg, drop_set, NULL));
	cfg = base_cfg(1, NULL);
	cfg.max_latency_ns = 3600 * SEC; /* 108000 slots pending */
	g_assert_null(ls_aligner_new(&cfg, drop_set, NULL));
	cfg = base_cfg(1, NULL);
	g_assert_null(ls_aligner_new(&cfg, NULL, NULL));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/aligner/slot-math", test_slot_math);
	g_test_add_func("/aligner/perfect", test_perfect);
	g_test_add_func("/aligner/offsets-jitter", test_offsets_jitter);
	g_test_add_func("/aligner/drift-200ppm", test_drift);
	g_test_add_func("/aligner/mixed-25-30", test_mixed_rates);
	g_test_add_func("/aligner/drops", test_drops);
	g_test_add_func("/aligner/dead-camera", test_dead_camera);
	g_test_add_func("/aligner/hold-expires", test_hold_expires);
	g_test_add_func("/aligner/late-frames", test_late_frames);
	g_test_add_func("/aligner/stalled-consumer", test_stalled_consumer);
	g_test_add_func("/aligner/setpool-exhausted", test_setpool_exhausted);
	g_test_add_func("/aligner/stalled-aligner", test_stalled_aligner);
	g_test_add_func("/aligner/fast-camera", test_fast_camera);
	g_test_add_func("/aligner/100-cameras", test_many_cameras);
	g_test_add_func("/aligner/off-slot-future", test_off_slot_and_future);
	g_test_add_func("/aligner/start-flush", test_start_and_flush);
	g_test_add_func("/aligner/bad-config", test_bad_config);
	return g_test_run();
}
