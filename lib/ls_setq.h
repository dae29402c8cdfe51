/* ls_setq — a bounded frameset queue between the aligner and one sink.
 *
 * When the sink falls behind and the queue is full, the oldest queued set is
 * dropped (its slot counted in `dropped`) to make room for the newest: a slow
 * sink sees gaps, never growing latency, and never slows the aligner or
 * another sink. Framesets arrive at the rig rate (tens per second), so a
 * mutex held for a few pointer moves is cheaper than it is worth avoiding;
 * the aligner never waits on the sink.
 *
 * Threads: push from the aligner thread, pop from the sink thread. */
#ifndef LS_SETQ_H
#define LS_SETQ_H

#include <stdbool.h>
#include <stdint.h>

#include "ls_frameset.h"

struct ls_setq;

struct ls_setq *ls_setq_new(unsigned depth);
/** Drops the sets still queued. Sets *q to NULL. */
void ls_setq_free(struct ls_setq **q);
/** Queues @set (transfer full). Returns 1 if an older set was dropped, 0 otherwise. */
int ls_setq_push(struct ls_setq *q, struct ls_frameset *set);
/** Waits until a set is queued, the queue is closed, or the absolute
 *  CLOCK_MONOTONIC time @until_mono_ns passes (INT64_MAX: no limit).
 *  Returns the oldest set (transfer full) or NULL on timeout/closed. */
struct ls_frameset *ls_setq_pop(struct ls_setq *q, int64_t until_mono_ns);
/** Wakes every waiter; pops return what is left, then NULL. */
void ls_setq_close(struct ls_setq *q);
bool ls_setq_closed(struct ls_setq *q);
/** Sets dropped because the sink was behind. */
uint64_t ls_setq_dropped(struct ls_setq *q);
unsigned ls_setq_count(struct ls_setq *q);

#endif
