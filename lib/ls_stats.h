/* ls_stats — percentiles over an interval, and the per-second stats record.
 *
 * A percentile window keeps up to `cap` samples (reservoir sampling beyond
 * that, so memory is fixed whatever the rate). It is owned by one thread. */
#ifndef LS_STATS_H
#define LS_STATS_H

#include <stddef.h>
#include <stdint.h>

struct ls_pctl {
	int64_t *v;
	unsigned cap, n;
	uint64_t seen; /* samples offered since the last reset */
	int64_t max;   /* exact, even when sampling */
	uint64_t rng;
};

int ls_pctl_init(struct ls_pctl *p, unsigned cap);
void ls_pctl_clear(struct ls_pctl *p);
void ls_pctl_add(struct ls_pctl *p, int64_t v);
/** Nearest-rank percentiles of the samples since the last reset; 0s when
 *  empty. Reorders the samples. */
void ls_pctl_get(struct ls_pctl *p, int64_t *p50, int64_t *p99, int64_t *max);
void ls_pctl_reset(struct ls_pctl *p);

/** Nearest-rank percentile q (0..100) of n sorted values. */
int64_t ls_percentile_sorted(const int64_t *sorted, size_t n, double q);
void ls_sort_i64(int64_t *v, size_t n);

#endif
