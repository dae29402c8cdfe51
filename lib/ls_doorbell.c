#include "ls_doorbell.h"
#include "ls_time.h"

#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

void ls_doorbell_init(struct ls_doorbell *d)
{
	atomic_init(&d->seq, 0);
	atomic_init(&d->waiting, 0);
}

void ls_doorbell_ring(struct ls_doorbell *d)
{
	atomic_fetch_add_explicit(&d->seq, 1, memory_order_seq_cst);
	if (atomic_load_explicit(&d->waiting, memory_order_seq_cst))
		syscall(SYS_futex, &d->seq, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

unsigned ls_doorbell_peek(struct ls_doorbell *d) { return atomic_load_explicit(&d->seq, memory_order_acquire); }

int ls_doorbell_wait(struct ls_doorbell *d, unsigned seen, int64_t deadline)
{
	atomic_store_explicit(&d->waiting, 1, memory_order_seq_cst);
	int rc = 0;
	if (atomic_load_explicit(&d->seq, memory_order_seq_cst) != seen)
		goto out; /* rung between peek and here */
	struct timespec ts, *tsp = NULL;
	if (deadline != INT64_MAX) {
		deadline -= ls_time_offset(); /* the rig's clock to CLOCK_REALTIME */
		ts.tv_sec = deadline / 1000000000;
		ts.tv_nsec = deadline % 1000000000;
		tsp = &ts;
	}
	/* The kernel compares seq with `seen` atomically before sleeping, so a
	 * ring that lands now is never missed. */
	long r = syscall(SYS_futex, &d->seq, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, seen, tsp, NULL,
			 FUTEX_BITSET_MATCH_ANY);
	if (r == -1 && errno == ETIMEDOUT)
		rc = -ETIMEDOUT;
	else if (r == -1 && errno == EINTR)
		rc = -EINTR;
out:
	atomic_store_explicit(&d->waiting, 0, memory_order_relaxed);
	return rc;
}
