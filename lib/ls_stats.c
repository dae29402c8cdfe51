#include "ls_stats.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>

int ls_pctl_init(struct ls_pctl *p, unsigned cap)
{
	p->v = calloc(cap ? cap : 1, sizeof *p->v);
	if (!p->v)
		return -ENOMEM;
	p->cap = cap ? cap : 1;
	p->rng = 0x9e3779b97f4a7c15ull;
	ls_pctl_reset(p);
	return 0;
}

void ls_pctl_clear(struct ls_pctl *p)
{
	free(p->v);
	p->v = NULL;
	p->cap = p->n = 0;
}

void ls_pctl_reset(struct ls_pctl *p)
{
	p->n = 0;
	p->seen = 0;
	p->max = INT64_MIN;
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

void ls_pctl_add(struct ls_pctl *p, int64_t v)
{
	p->seen++;
	if (v > p->max)
		p->max = v;
	if (p->n < p->cap) {
		p->v[p->n++] = v;
		return;
	}
	uint64_t j = xorshift(&p->rng) % p->seen; /* reservoir sampling */
	if (j < p->cap)
		p->v[j] = v;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

void ls_sort_i64(int64_t *v, size_t n) { qsort(v, n, sizeof *v, cmp_i64); }

int64_t ls_percentile_sorted(const int64_t *s, size_t n, double q)
{
	if (n == 0)
		return 0;
	size_t rank = (size_t)ceil(q / 100.0 * (double)n);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return s[rank - 1];
}

void ls_pctl_get(struct ls_pctl *p, int64_t *p50, int64_t *p99, int64_t *max)
{
	if (p->n == 0) {
		*p50 = *p99 = *max = 0;
		return;
	}
	ls_sort_i64(p->v, p->n);
	*p50 = ls_percentile_sorted(p->v, p->n, 50);
	*p99 = ls_percentile_sorted(p->v, p->n, 99);
	*max = p->max;
}
