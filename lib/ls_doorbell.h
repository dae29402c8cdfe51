/* ls_doorbell — wakes the aligner thread when a frame arrives, or at an
 * absolute CLOCK_REALTIME deadline, whichever comes first.
 *
 * A futex word counts rings. ring() costs one atomic add, plus one
 * FUTEX_WAKE syscall only when the waiter is actually asleep. wait() sleeps
 * with FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME, so the deadline is on the
 * same clock as the slot schedule and follows clock steps (PTP, NTP).
 *
 * Threads: any number of ringers, one waiter. */
#ifndef LS_DOORBELL_H
#define LS_DOORBELL_H

#include <stdatomic.h>
#include <stdint.h>

struct ls_doorbell {
	atomic_uint seq;     /* incremented by every ring */
	atomic_uint waiting; /* 1 while the waiter may be asleep */
};

void ls_doorbell_init(struct ls_doorbell *d);
/** Any thread. */
void ls_doorbell_ring(struct ls_doorbell *d);
/** The value to pass to wait(): read it before checking for work. */
unsigned ls_doorbell_peek(struct ls_doorbell *d);
/** Sleeps until a ring after @seen, or @deadline_realtime_ns
 *  (INT64_MAX: none). Returns 0 when rung, -ETIMEDOUT, or -EINTR. */
int ls_doorbell_wait(struct ls_doorbell *d, unsigned seen, int64_t deadline_realtime_ns);

#endif
