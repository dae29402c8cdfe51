/* ls_sched — scheduled capture: wake N threads at t0 + n·T on the shared
 * clock with clock_nanosleep(TIMER_ABSTIME), and measure how far apart they
 * wake. This is how PTP-synced rigs trigger cameras on different hosts at
 * the same instant without talking to each other. */
#ifndef LS_SCHED_H
#define LS_SCHED_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ls_time.h"

struct ls_sched_opts {
	unsigned threads;    /**< >= 1 */
	struct ls_rate rate; /**< wake-ups per second */
	double seconds;      /**< > 0 */
	bool realtime;       /**< try SCHED_FIFO + mlockall (needs privileges) */
	int64_t spin_ns;     /**< > 0: sleep until target - spin_ns, then yield-spin
				   to the target (costs CPU, removes wake-up latency) */
	FILE *per_slot;      /**< optional: one line per slot */
};

struct ls_sched_result {
	uint64_t slots;                                /**< slots every thread woke for */
	int64_t skew_p50_ns, skew_p99_ns, skew_max_ns; /**< max - min wake across threads */
	int64_t late_p50_ns, late_p99_ns, late_max_ns; /**< wake - target, all threads */
	bool realtime;                                 /**< SCHED_FIFO was granted */
};

/** Runs the measurement. Returns 0 or negative errno. */
int ls_sched_bench(const struct ls_sched_opts *o, struct ls_sched_result *r);

#endif
