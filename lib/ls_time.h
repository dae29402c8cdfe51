/* ls_time — the shared clock, the rig rate and slot arithmetic.
 *
 * All times are int64_t nanoseconds on CLOCK_REALTIME (the clock PTP or NTP
 * disciplines on real rigs). The rate is kept as an exact fraction so that
 * 29.97 (30000/1001) has no rounding drift and two hosts that share the
 * clock compute bit-identical slot indices. */
#ifndef LS_TIME_H
#define LS_TIME_H

#include <stdbool.h>
#include <stdint.h>

#define LS_NS_PER_SEC INT64_C(1000000000)
#define LS_NS_PER_MS INT64_C(1000000)
#define LS_NS_PER_US INT64_C(1000)

/** Frames per second as num/den (both > 0). */
struct ls_rate {
	int32_t num;
	int32_t den;
};

/** An injectable clock: tests drive the logic with simulated time. */
struct ls_clock {
	int64_t (*now)(void *ctx); /**< returns ns on the shared clock */
	void *ctx;
};

/** CLOCK_REALTIME in ns. */
int64_t ls_realtime_ns(void);
/** CLOCK_REALTIME itself, without the rig clock's offset. */
int64_t ls_realtime_raw_ns(void);
/** The rig's clock is CLOCK_REALTIME + @ns: set by the [clock] service
 *  (src/clock/clock.c) from its reference (PTP, NTP, another lockstep), and
 *  by the test hook LOCKSTEP_TEST_CLOCK_OFFSET_MS. ls_realtime_ns(),
 *  ls_sleep_until() and the sources' capture times follow it. Any thread. */
void ls_time_set_offset(int64_t ns);
int64_t ls_time_offset(void);
/** Whether the rig's clock is synchronised to its reference (true without
 *  one): frames captured while it is not are marked unsynced. */
void ls_time_set_synced(bool synced);
bool ls_time_synced(void);
/** CLOCK_MONOTONIC in ns. */
int64_t ls_monotonic_ns(void);
/** The clock that reads CLOCK_REALTIME. */
extern const struct ls_clock ls_clock_realtime;

static inline int64_t ls_clock_now(const struct ls_clock *c) { return c->now(c->ctx); }

/** Parse "30", "29.97", "30000/1001" into a rate. Returns 0 or -EINVAL. */
int ls_rate_parse(const char *s, struct ls_rate *out);
/** Slot period in ns, rounded to nearest (for display and sizing only). */
int64_t ls_rate_period_ns(struct ls_rate r);

/** Slot index n = round((t - epoch - offset) / T), exact, halves round up,
 *  correct for t before the epoch. */
int64_t ls_slot_index(int64_t t_ns, int64_t epoch_ns, int64_t offset_ns, struct ls_rate r);
/** Centre of slot n on the shared clock: epoch + n*T (floor to ns). */
int64_t ls_slot_time(int64_t n, int64_t epoch_ns, struct ls_rate r);

/** Sleep until an absolute CLOCK_REALTIME time (TIMER_ABSTIME), restarting
 *  on EINTR. Returns 0 or negative errno. */
int ls_sleep_until(int64_t abs_realtime_ns);

#endif
