#include "ls_testcam.h"

uint64_t ls_rand_u64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

double ls_rand01(uint64_t *s) { return (double)(ls_rand_u64(s) >> 11) * (1.0 / 9007199254740992.0); }

/* Own-clock reading -> shared time: own(t) = start + (t - start)·(1 + drift). */
static int64_t fire_time(const struct ls_testcam *c, int64_t k)
{
	int64_t own = ls_slot_time(k, c->p.epoch_ns + c->p.offset_ns, c->p.fps);
	double scale = 1.0 + c->p.drift_ppm * 1e-6;
	return c->start_ns + (int64_t)((double)(own - c->start_ns) / scale);
}

void ls_testcam_init(struct ls_testcam *c, const struct ls_testcam_params *p, int64_t start_ns)
{
	c->p = *p;
	if (c->p.jitter_ns < 0)
		c->p.jitter_ns = 0;
	c->start_ns = start_ns;
	c->rng = p->seed ? p->seed : 0x1234567ull;
	/* first k whose firing time is at or after start */
	c->k = ls_slot_index(start_ns, p->epoch_ns, p->offset_ns, p->fps) - 1;
	while (fire_time(c, c->k) < start_ns)
		c->k++;
}

bool ls_testcam_next(struct ls_testcam *c, int64_t *fire_ns, int64_t *stamp_ns)
{
	int64_t t = fire_time(c, c->k++);
	int64_t j = 0;
	if (c->p.jitter_ns > 0)
		j = (int64_t)((ls_rand01(&c->rng) * 2.0 - 1.0) * (double)c->p.jitter_ns);
	bool keep = !(c->p.drop > 0 && ls_rand01(&c->rng) < c->p.drop);
	*fire_ns = t;
	*stamp_ns = t + j;
	return keep;
}
