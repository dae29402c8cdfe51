#include "ls_stats.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
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

int ls_hist_init(struct ls_hist *h, const int64_t *le, unsigned n)
{
	if (n == 0 || n > LS_HIST_MAX)
		return -EINVAL;
	for (unsigned i = 1; i < n; i++)
		if (le[i] <= le[i - 1])
			return -EINVAL;
	h->le = le;
	h->n = n;
	for (unsigned i = 0; i <= n; i++)
		atomic_init(&h->bucket[i], 0);
	atomic_init(&h->sum, 0);
	return 0;
}

void ls_hist_add(struct ls_hist *h, int64_t v)
{
	/* the first bound >= v (binary search; n <= LS_HIST_MAX) */
	unsigned lo = 0, hi = h->n;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		if (h->le[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	atomic_fetch_add_explicit(&h->bucket[lo], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum, v, memory_order_relaxed);
}

void ls_hist_read(const struct ls_hist *h, uint64_t *cum, int64_t *sum)
{
	/* the sum first: a sample seen in a bucket may be missing from it, but
	 * the counts stay cumulative whatever the writers do meanwhile */
	*sum = atomic_load_explicit(&h->sum, memory_order_relaxed);
	uint64_t acc = 0;
	for (unsigned i = 0; i <= h->n; i++) {
		acc += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
		cum[i] = acc;
	}
}

int ls_hist_json(const struct ls_hist *h, const char *unit_name, double unit, char *buf, size_t cap)
{
	uint64_t cum[LS_HIST_MAX + 1];
	int64_t sum;
	ls_hist_read(h, cum, &sum);
	size_t len = 0;
	int w;
#define PUT(...)                                                                                     \
	do {                                                                                         \
		w = snprintf(buf + (len < cap ? len : cap), len < cap ? cap - len : 0, __VA_ARGS__); \
		if (w < 0)                                                                           \
			return w;                                                                    \
		len += (size_t)w;                                                                    \
	} while (0)
	PUT("{\"le_%s\":[", unit_name);
	for (unsigned i = 0; i < h->n; i++)
		PUT("%s%.15g", i ? "," : "", (double)h->le[i] / unit);
	PUT("],\"counts\":[");
	for (unsigned i = 0; i <= h->n; i++)
		PUT("%s%llu", i ? "," : "", (unsigned long long)cum[i]);
	PUT("],\"sum_%s\":%.15g,\"count\":%llu}", unit_name, (double)sum / unit, (unsigned long long)cum[h->n]);
#undef PUT
	return len > INT_MAX ? INT_MAX : (int)len;
}
