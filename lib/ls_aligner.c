#include "ls_aligner.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ---- aligner ------------------------------------------------------------- */

struct cam_state {
	int64_t offset_ns;
	int64_t max_n;         /* highest slot any frame of this camera mapped to */
	int64_t last_u;        /* calibrated time of the previous frame */
	int64_t dt_ns;         /* estimated frame interval; 0 = unknown */
	unsigned long_run;     /* consecutive intervals far above dt_ns */
	struct ls_frame *last; /* hold policy: last frame emitted present (owned) */
};

struct ls_aligner {
	struct ls_aligner_config cfg;
	int64_t period_ns;
	int64_t tol_ns;
	ls_emit_fn emit;
	void *user;

	unsigned window;          /* W pending slots at most */
	int64_t *slot_n;          /* W: slot index held in each ring cell, INT64_MIN = none */
	struct ls_frame **frames; /* W * ncams, owned references */
	int64_t *dev;             /* W * ncams: u - centre of the frame held */

	struct cam_state *cams;
	bool started;
	int64_t start_n;    /* first slot to emit */
	int64_t base;       /* next slot to emit */
	int64_t newest;     /* newest slot holding a frame */
	unsigned scan_from; /* cameras below are final for `base` */

	struct ls_frameset_pool *pool;
	struct ls_aligner_counters ctr;
	uint64_t *missing; /* ncams */
};

static int64_t abs64(int64_t v) { return v < 0 ? -v : v; }

struct ls_aligner *ls_aligner_new(const struct ls_aligner_config *cfg, ls_emit_fn emit, void *user)
{
	if (!cfg || !emit || cfg->ncams == 0 || cfg->rate.num <= 0 || cfg->rate.den <= 0 || cfg->max_latency_ns <= 0 ||
	    (cfg->policy != LS_POLICY_MISSING && cfg->policy != LS_POLICY_HOLD)) {
		errno = EINVAL;
		return NULL;
	}
	struct ls_aligner *al = calloc(1, sizeof *al);
	if (!al)
		goto fail;
	al->cfg = *cfg;
	al->cfg.offsets_ns = NULL; /* copied below; the caller's array may go */
	al->emit = emit;
	al->user = user;
	al->period_ns = ls_rate_period_ns(cfg->rate);
	if (al->period_ns <= 0)
		goto einval;
	al->tol_ns = cfg->tolerance_ns > 0 ? cfg->tolerance_ns : al->period_ns / 2;
	if (al->cfg.hold_max_ns <= 0)
		al->cfg.hold_max_ns = LS_NS_PER_SEC;

	al->cams = calloc(cfg->ncams, sizeof *al->cams);
	al->missing = calloc(cfg->ncams, sizeof *al->missing);
	if (!al->cams || !al->missing)
		goto fail;
	int64_t max_lead = 0; /* how far a calibrated time may run ahead of the raw one */
	for (unsigned c = 0; c < cfg->ncams; c++) {
		int64_t o = cfg->offsets_ns ? cfg->offsets_ns[c] : 0;
		al->cams[c].offset_ns = o;
		al->cams[c].max_n = INT64_MIN;
		al->cams[c].last_u = INT64_MIN;
		if (-o > max_lead)
			max_lead = -o;
	}
	/* Pending slots span from the oldest undelivered deadline to the newest
	 * frame: max_latency + tolerance + the largest negative offset, plus
	 * slack for jitter and for the slot being filled. */
	int64_t span = cfg->max_latency_ns + al->tol_ns + max_lead;
	int64_t w = span / al->period_ns + 4;
	if (w < 8)
		w = 8;
	if (w > 4096)
		goto einval; /* max-latency of thousands of slots is a config error */
	al->window = (unsigned)w;
	al->slot_n = malloc(al->window * sizeof *al->slot_n);
	al->frames = calloc((size_t)al->window * cfg->ncams, sizeof *al->frames);
	al->dev = calloc((size_t)al->window * cfg->ncams, sizeof *al->dev);
	if (!al->slot_n || !al->frames || !al->dev)
		goto fail;
	for (unsigned i = 0; i < al->window; i++)
		al->slot_n[i] = INT64_MIN;
	unsigned setpool = cfg->setpool ? cfg->setpool : al->window + 16 + cfg->setpool_extra;
	al->pool = ls_frameset_pool_new(setpool, cfg->ncams);
	if (!al->pool)
		goto fail;
	al->ctr.last_slot = INT64_MIN;
	al->newest = INT64_MIN;
	return al;

einval:
	ls_aligner_free(&al);
	errno = EINVAL;
	return NULL;
fail:
	ls_aligner_free(&al);
	errno = ENOMEM;
	return NULL;
}

void ls_aligner_free(struct ls_aligner **alp)
{
	if (!alp || !*alp)
		return;
	struct ls_aligner *al = *alp;
	*alp = NULL;
	if (al->frames)
		for (size_t i = 0; i < (size_t)al->window * al->cfg.ncams; i++)
			ls_frame_unref(&al->frames[i]);
	if (al->cams)
		for (unsigned c = 0; c < al->cfg.ncams; c++)
			ls_frame_unref(&al->cams[c].last);
	ls_frameset_pool_unref(&al->pool);
	free(al->slot_n);
	free(al->frames);
	free(al->dev);
	free(al->cams);
	free(al->missing);
	free(al);
}

void ls_aligner_start(struct ls_aligner *al, int64_t first_slot)
{
	al->started = true;
	al->start_n = first_slot;
	al->base = first_slot;
	al->scan_from = 0;
}

unsigned ls_aligner_window(const struct ls_aligner *al) { return al->window; }

static unsigned cell(const struct ls_aligner *al, int64_t n)
{
	int64_t w = al->window;
	return (unsigned)(((n % w) + w) % w);
}

static int64_t deadline(const struct ls_aligner *al, int64_t n)
{
	return ls_slot_time(n, al->cfg.epoch_ns, al->cfg.rate) + al->cfg.max_latency_ns;
}

/* Is camera c done with slot n (no later frame can land in it)? */
static bool cam_final(const struct ls_aligner *al, unsigned c, int64_t n, bool have_slot)
{
	const struct cam_state *cs = &al->cams[c];
	if (cs->max_n > n)
		return true;
	if (!have_slot)
		return false;
	size_t i = (size_t)cell(al, n) * al->cfg.ncams + c;
	if (!al->frames[i])
		return false;
	int64_t d = al->dev[i];
	if (d >= 0 || cs->dt_ns == 0)
		return true;
	/* The next frame comes about dt later, at d + dt from the centre: it
	 * can only win if d + dt < -d. */
	return cs->dt_ns >= -2 * d;
}

/* Releases the frames held for slot n and frees its cell. */
static void clear_cell(struct ls_aligner *al, int64_t n)
{
	unsigned k = cell(al, n);
	if (al->slot_n[k] != n)
		return;
	struct ls_frame **fr = &al->frames[(size_t)k * al->cfg.ncams];
	for (unsigned c = 0; c < al->cfg.ncams; c++)
		ls_frame_unref(&fr[c]);
	al->slot_n[k] = INT64_MIN;
}

static void advance(struct ls_aligner *al)
{
	al->ctr.last_slot = al->base;
	al->base++;
	al->scan_from = 0;
}

static void drop_base(struct ls_aligner *al)
{
	clear_cell(al, al->base);
	al->ctr.dropped_slots++;
	advance(al);
}

static void emit_base(struct ls_aligner *al, int64_t now, bool by_deadline)
{
	int64_t n = al->base;
	unsigned ncams = al->cfg.ncams;
	struct ls_frameset *s = ls_frameset_pool_acquire(al->pool);
	if (!s) { /* consumers hold every set: drop the whole slot */
		drop_base(al);
		return;
	}
	unsigned k = cell(al, n);
	bool have = al->slot_n[k] == n;
	struct ls_frame **fr = &al->frames[(size_t)k * ncams];
	const int64_t *dev = &al->dev[(size_t)k * ncams];
	int64_t centre = ls_slot_time(n, al->cfg.epoch_ns, al->cfg.rate);
	int64_t dmin = INT64_MAX, dmax = INT64_MIN;

	s->n = n;
	s->slot_ns = centre;
	s->emit_ns = now;
	s->deadline = by_deadline;
	for (unsigned c = 0; c < ncams; c++) {
		struct ls_entry *e = &s->entries[c];
		struct cam_state *cs = &al->cams[c];
		if (have && fr[c]) {
			e->frame = fr[c]; /* the cell's reference moves to the set */
			fr[c] = NULL;
			e->state = LS_ENTRY_PRESENT;
			e->offset_ns = dev[c];
			s->npresent++;
			if (dev[c] < dmin)
				dmin = dev[c];
			if (dev[c] > dmax)
				dmax = dev[c];
			if (al->cfg.policy == LS_POLICY_HOLD) {
				ls_frame_unref(&cs->last);
				cs->last = ls_frame_ref(e->frame);
			}
			continue;
		}
		al->missing[c]++;
		if (cs->last) {
			int64_t age = centre - (cs->last->capture_ns - cs->offset_ns);
			if (age <= al->cfg.hold_max_ns) {
				e->frame = ls_frame_ref(cs->last);
				e->state = LS_ENTRY_HELD;
				e->offset_ns = age;
				s->nheld++;
				continue;
			}
			ls_frame_unref(&cs->last); /* too old to ever hold again */
		}
		e->state = LS_ENTRY_MISSING;
	}
	s->skew_ns = s->npresent >= 2 ? dmax - dmin : 0;
	s->complete = s->npresent == ncams;
	if (have)
		al->slot_n[k] = INT64_MIN;
	al->ctr.sets++;
	if (s->complete)
		al->ctr.complete++;
	else
		al->ctr.partial++;
	advance(al);
	al->emit(s, al->user);
}

static bool base_final(struct ls_aligner *al)
{
	bool have = al->slot_n[cell(al, al->base)] == al->base;
	while (al->scan_from < al->cfg.ncams) {
		if (!cam_final(al, al->scan_from, al->base, have))
			return false;
		al->scan_from++;
	}
	return true;
}

int64_t ls_aligner_poll(struct ls_aligner *al, int64_t now)
{
	if (!al->started)
		return INT64_MAX;
	for (;;) {
		int64_t dl = deadline(al, al->base);
		if (now > dl + al->cfg.max_latency_ns)
			drop_base(al); /* we were stalled: too stale to be worth emitting */
		else if (base_final(al))
			emit_base(al, now, false);
		else if (now >= dl)
			emit_base(al, now, true);
		else
			return dl;
	}
}

void ls_aligner_flush(struct ls_aligner *al, int64_t now)
{
	if (!al->started)
		return;
	while (al->newest != INT64_MIN && al->base <= al->newest)
		emit_base(al, now, true);
}

static void update_interval(struct cam_state *cs, int64_t u)
{
	if (cs->last_u != INT64_MIN && u > cs->last_u) {
		int64_t d = u - cs->last_u;
		if (cs->dt_ns == 0) {
			cs->dt_ns = d;
		} else if (2 * d < 3 * cs->dt_ns) {
			cs->dt_ns += (d - cs->dt_ns) / 8; /* EWMA, weight 1/8 */
			cs->long_run = 0;
		} else if (++cs->long_run >= 8) {
			cs->dt_ns = d; /* the camera really slowed down */
			cs->long_run = 0;
		} /* else: a dropped frame; ignore the double interval */
	}
	if (u > cs->last_u)
		cs->last_u = u;
}

int ls_aligner_push(struct ls_aligner *al, struct ls_frame *f, int64_t now)
{
	if (f->cam >= al->cfg.ncams) {
		ls_frame_unref(&f);
		return -EINVAL;
	}
	unsigned c = f->cam, ncams = al->cfg.ncams;
	struct cam_state *cs = &al->cams[c];
	int64_t u = f->capture_ns - cs->offset_ns;
	int64_t n = ls_slot_index(u, al->cfg.epoch_ns, 0, al->cfg.rate);
	int rc = 1;

	al->ctr.frames++;
	/* A frame stamped far ahead of now comes from a broken clock; trusting
	 * it would flush every pending slot. */
	int64_t now_n = ls_slot_index(now, al->cfg.epoch_ns, 0, al->cfg.rate);
	if (n > now_n + al->window / 2) {
		al->ctr.future++;
		ls_frame_unref(&f);
		goto out;
	}
	update_interval(cs, u);
	if (n > cs->max_n)
		cs->max_n = n;
	if (!al->started)
		ls_aligner_start(al, n);
	if (n < al->base) {
		if (n < al->start_n)
			al->ctr.early++;
		else
			al->ctr.late++;
		ls_frame_unref(&f);
		goto out;
	}
	int64_t d = u - ls_slot_time(n, al->cfg.epoch_ns, al->cfg.rate);
	if (abs64(d) > al->tol_ns) {
		al->ctr.off_slot++;
		ls_frame_unref(&f);
		goto out;
	}
	while (n >= al->base + (int64_t)al->window) {
		al->ctr.forced++;
		emit_base(al, now, true);
	}
	unsigned k = cell(al, n);
	if (al->slot_n[k] != n) {
		al->slot_n[k] = n; /* the cell was cleared when its slot left */
	}
	size_t i = (size_t)k * ncams + c;
	if (al->frames[i]) {
		al->ctr.superseded++;
		if (abs64(d) >= abs64(al->dev[i])) {
			ls_frame_unref(&f); /* the frame already there is nearer */
			goto out;
		}
		ls_frame_unref(&al->frames[i]);
	}
	al->frames[i] = f;
	al->dev[i] = d;
	if (n > al->newest)
		al->newest = n;
	rc = 0;
out:
	ls_aligner_poll(al, now);
	return rc;
}

void ls_aligner_counters(const struct ls_aligner *al, struct ls_aligner_counters *out, uint64_t *missing)
{
	*out = al->ctr;
	if (missing)
		memcpy(missing, al->missing, al->cfg.ncams * sizeof *missing);
}
