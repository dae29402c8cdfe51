/* ls_frameset — one slot's worth of frames, the unit every output
 * receives, and the fixed pool the aligner takes them from.
 *
 * Ownership: a set holds one reference on each present or held frame. The
 * last ls_frameset_unref() drops those and returns the set to its pool, from
 * any thread; the pool lives until its creator dropped it and every set of
 * it is back, so sets outlive the aligner that emitted them. Outputs include
 * this header, not the aligner's. */
#ifndef LS_FRAMESET_H
#define LS_FRAMESET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ls_frame.h"

enum ls_entry_state {
	LS_ENTRY_MISSING = 0,
	LS_ENTRY_PRESENT = 1,
	LS_ENTRY_HELD = 2,
};

struct ls_entry {
	struct ls_frame *frame; /**< NULL when missing; the set holds one reference */
	enum ls_entry_state state;
	int64_t offset_ns; /**< present: u - slot centre; held: slot centre - u (age) */
};

/** One slot's worth of frames. Read-only once emitted; shared between sinks
 *  by reference counting. entries[] has ncams elements. */
struct ls_frameset {
	atomic_int refcount;
	int64_t n;       /**< slot index */
	int64_t slot_ns; /**< E + nT */
	int64_t emit_ns; /**< `now` when it was emitted */
	int64_t skew_ns; /**< max - min calibrated capture time of present frames; 0 if < 2 */
	unsigned ncams;
	unsigned npresent; /**< entries with LS_ENTRY_PRESENT */
	unsigned nheld;    /**< entries with LS_ENTRY_HELD */
	bool complete;     /**< npresent == ncams */
	bool deadline;     /**< emitted by its deadline rather than by finality */
	void *pool;        /* private */
	struct ls_entry entries[];
};

struct ls_frameset *ls_frameset_ref(struct ls_frameset *s);
/** Drops a reference and sets *s to NULL; the last one drops the frames and
 *  returns the set to the aligner's pool. Any thread. NULL-safe. */
void ls_frameset_unref(struct ls_frameset **s);

/** A pool of @capacity sets of @ncams entries each (one allocation).
 *  NULL on ENOMEM. The caller holds one reference. */
struct ls_frameset_pool *ls_frameset_pool_new(unsigned capacity, unsigned ncams);
/** A free set with refcount 1, all entries missing, or NULL when every set
 *  is held. Called by one thread only (the aligner's). */
struct ls_frameset *ls_frameset_pool_acquire(struct ls_frameset_pool *p);
/** Drops the creator's reference; sets still out keep the pool. NULL-safe. */
void ls_frameset_pool_unref(struct ls_frameset_pool **p);

#endif
