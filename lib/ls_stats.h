/* ls_stats — percentiles over an interval, cumulative histograms, and the
 * per-second stats record.
 *
 * A percentile window keeps up to `cap` samples (reservoir sampling beyond
 * that, so memory is fixed whatever the rate). It is owned by one thread.
 *
 * A histogram (ls_hist) counts samples into fixed buckets from the start
 * of the run, the shape Prometheus histograms have: a bucket `le` holds the
 * samples <= le, and the last one (+Inf) all. It never allocates, and its
 * counters are relaxed atomics: any thread may add, any thread may read. A
 * reader on another thread may see a sample in its bucket but not yet in
 * the sum (never a count that goes down). */
#ifndef LS_STATS_H
#define LS_STATS_H

#include <stdatomic.h>
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

/** Most finite buckets a histogram may have. */
#define LS_HIST_MAX 24

struct ls_hist {
	const int64_t *le; /* upper bounds, ascending, in the samples' unit; borrowed (static) */
	unsigned n;        /* finite buckets */
	atomic_uint_fast64_t bucket[LS_HIST_MAX + 1]; /* samples in (le[i-1], le[i]]; [n]: above le[n-1] */
	atomic_int_fast64_t sum;                      /* of every sample */
};

/** Empties @h, with @n bounds @le (ascending, kept by reference: a static
 *  table). 0, or -EINVAL when n is 0 or above LS_HIST_MAX or @le does not
 *  ascend strictly. */
int ls_hist_init(struct ls_hist *h, const int64_t *le, unsigned n);
/** Counts @v in its bucket. Never blocks or allocates; any thread. */
void ls_hist_add(struct ls_hist *h, int64_t v);
/** A snapshot: @cum (h->n + 1 elements) gets the cumulative counts (the
 *  last one, +Inf, is the count), *sum the sum of the samples. */
void ls_hist_read(const struct ls_hist *h, uint64_t *cum, int64_t *sum);
/** Writes @h as the JSON object
 *    {"le_UNIT":[...],"counts":[...cumulative, +Inf last...],"sum_UNIT":S,"count":N}
 *  into @buf, the bounds and the sum divided by @unit (e.g. 1000 for
 *  samples in ns written in µs: @unit_name "us"). Returns what snprintf
 *  returns: the length it needed (>= @cap: truncated). */
int ls_hist_json(const struct ls_hist *h, const char *unit_name, double unit, char *buf, size_t cap);

#endif
