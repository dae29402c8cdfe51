#include "ls_sched.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#include "ls_stats.h"

struct sched_thread {
	pthread_t tid;
	const struct ls_sched_opts *o;
	int64_t first; /* first slot index */
	uint64_t nslots;
	int64_t epoch;
	int64_t *wake; /* nslots wake times, preallocated */
	bool fifo;
};

static void *sched_main(void *arg)
{
	struct sched_thread *t = arg;
	/* Normal threads get 50 us of timer slack by default: the kernel may
	 * wake them that late to batch wake-ups. A capture trigger wants none. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	for (uint64_t i = 0; i < t->nslots; i++) {
		int64_t target = ls_slot_time(t->first + (int64_t)i, t->epoch, t->o->rate);
		if (t->o->spin_ns > 0) {
			/* With more threads than cores, a thread whose timer fired
			 * may wait behind the others for a timeslice. Waking early and
			 * yielding in a loop keeps every thread runnable and rotating,
			 * so each sees the target within one rotation. */
			ls_sleep_until(target - t->o->spin_ns);
			while (ls_realtime_ns() < target)
				sched_yield();
		} else {
			ls_sleep_until(target);
		}
		t->wake[i] = ls_realtime_ns();
	}
	return NULL;
}

int ls_sched_bench(const struct ls_sched_opts *o, struct ls_sched_result *r)
{
	if (!o || !r || o->threads == 0 || o->rate.num <= 0 || o->rate.den <= 0 || !(o->seconds > 0))
		return -EINVAL;
	int rc = 0;
	unsigned nt = o->threads;
	uint64_t nslots = (uint64_t)(o->seconds * o->rate.num / o->rate.den);
	if (nslots == 0)
		nslots = 1;
	struct sched_thread *th = calloc(nt, sizeof *th);
	int64_t *skew = calloc(nslots, sizeof *skew);
	int64_t *late = calloc(nslots * nt, sizeof *late);
	if (!th || !skew || !late) {
		rc = -ENOMEM;
		goto out;
	}
	r->realtime = false;
	if (o->realtime && mlockall(MCL_CURRENT | MCL_FUTURE) == 0)
		r->realtime = true;
	/* The epoch is 0 (the Unix epoch): every host derives the same slots.
	 * Start half a second out so every thread is asleep before the first. */
	int64_t first = ls_slot_index(ls_realtime_ns() + LS_NS_PER_SEC / 2, 0, 0, o->rate) + 1;
	unsigned started = 0;
	for (unsigned i = 0; i < nt; i++) {
		th[i].o = o;
		th[i].first = first;
		th[i].nslots = nslots;
		th[i].wake = calloc(nslots, sizeof(int64_t));
		if (!th[i].wake) {
			rc = -ENOMEM;
			goto join;
		}
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		if (r->realtime) {
			struct sched_param sp = { .sched_priority = 80 };
			pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
			pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
			pthread_attr_setschedparam(&attr, &sp);
		}
		int e = pthread_create(&th[i].tid, &attr, sched_main, &th[i]);
		if (e == EPERM && r->realtime) { /* not allowed: fall back to normal */
			r->realtime = false;
			pthread_attr_setinheritsched(&attr, PTHREAD_INHERIT_SCHED);
			e = pthread_create(&th[i].tid, &attr, sched_main, &th[i]);
		}
		pthread_attr_destroy(&attr);
		if (e) {
			rc = -e;
			goto join;
		}
		started++;
	}
join:
	for (unsigned i = 0; i < started; i++)
		pthread_join(th[i].tid, NULL);
	if (rc)
		goto out;
	for (uint64_t s = 0; s < nslots; s++) {
		int64_t target = ls_slot_time(first + (int64_t)s, 0, o->rate);
		int64_t lo = INT64_MAX, hi = INT64_MIN;
		for (unsigned i = 0; i < nt; i++) {
			int64_t w = th[i].wake[s];
			lo = w < lo ? w : lo;
			hi = w > hi ? w : hi;
			late[s * nt + i] = w - target;
		}
		skew[s] = hi - lo;
		if (o->per_slot)
			fprintf(o->per_slot, "slot %lld skew_us %.1f late_us %.1f\n", (long long)(first + (int64_t)s),
				(double)skew[s] / 1e3, (double)(lo - target) / 1e3);
	}
	ls_sort_i64(skew, nslots);
	ls_sort_i64(late, nslots * nt);
	r->slots = nslots;
	r->skew_p50_ns = ls_percentile_sorted(skew, nslots, 50);
	r->skew_p99_ns = ls_percentile_sorted(skew, nslots, 99);
	r->skew_max_ns = skew[nslots - 1];
	r->late_p50_ns = ls_percentile_sorted(late, nslots * nt, 50);
	r->late_p99_ns = ls_percentile_sorted(late, nslots * nt, 99);
	r->late_max_ns = late[nslots * nt - 1];
out:
	if (th)
		for (unsigned i = 0; i < nt; i++)
			free(th[i].wake);
	if (r->realtime)
		munlockall();
	free(th);
	free(skew);
	free(late);
	return rc;
}
