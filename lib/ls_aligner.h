/* ls_aligner — builds one frameset per slot index n from per-camera frames.
 *
 * The aligner is pure logic: it never reads a clock and never sleeps. The
 * caller passes `now` (shared clock, ns) to every call, which makes it
 * deterministic under simulated clocks. One thread (the aligner thread) owns
 * it; no call is thread-safe against another.
 *
 * Rules, for a rig with epoch E, rate 1/T, camera offsets o_c:
 *  - a frame of camera c captured at t has calibrated time u = t - o_c and
 *    slot n = round((u - E)/T); it is "off-slot" (dropped, counted) when
 *    |u - (E + nT)| > tolerance;
 *  - two frames of one camera in one slot: the one nearer the slot centre
 *    wins; the loser is counted as superseded;
 *  - a camera is final for slot n once it has sent a frame for a later slot,
 *    or its frame in n is at or after the centre, or the next frame (one
 *    estimated frame interval later) would be further from the centre;
 *  - sets are emitted in increasing n, each exactly once: as soon as every
 *    camera is final for it, or when now >= E + nT + max_latency, whichever
 *    comes first. Cameras without a frame are marked missing, or under the
 *    hold policy carry their last frame (marked held, with its age) if it is
 *    not older than hold_max;
 *  - a frame for a slot already emitted is late: dropped and counted;
 *  - a slot whose deadline passed more than max_latency ago when the aligner
 *    gets to it (the aligner thread was stalled), or for which no frameset is
 *    free (consumers hold them all), is dropped whole and counted: latency
 *    never creeps;
 *  - a frame too far ahead for the window forces the oldest pending sets
 *    out early (counted as forced); one stamped more than half a window
 *    ahead of `now` is dropped as `future`, so a camera with a broken clock
 *    cannot flush the rig.
 */
#ifndef LS_ALIGNER_H
#define LS_ALIGNER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ls_frame.h"
#include "ls_frameset.h"
#include "ls_time.h"

enum ls_policy {
	LS_POLICY_MISSING = 0, /**< a camera without a frame is marked missing */
	LS_POLICY_HOLD = 1,    /**< repeat its last frame, marked held with its age */
};

struct ls_aligner_config {
	unsigned ncams;         /**< >= 1, no upper limit besides memory */
	int64_t epoch_ns;       /**< E, shared clock */
	struct ls_rate rate;    /**< slots per second */
	int64_t tolerance_ns;   /**< max |u - slot centre| accepted; <= 0: T/2 */
	int64_t max_latency_ns; /**< deadline = E + nT + max_latency; > 0 */
	enum ls_policy policy;
	int64_t hold_max_ns;       /**< oldest frame `hold` may repeat; <= 0: 1 s */
	const int64_t *offsets_ns; /**< ncams calibrated offsets o_c, or NULL */
	unsigned setpool;          /**< framesets in the pool; 0: window + 16 + setpool_extra */
	unsigned setpool_extra;    /**< sets consumers may hold beyond the window */
};

/** Called from the aligner thread for each emitted set, in increasing n.
 *  The set is transfer-full: the callee owns one reference. */
typedef void (*ls_emit_fn)(struct ls_frameset *set, void *user);

struct ls_aligner_counters {
	uint64_t sets;          /**< emitted */
	uint64_t complete;      /**< emitted with every camera present */
	uint64_t partial;       /**< emitted with at least one missing or held */
	uint64_t dropped_slots; /**< whole slots never emitted (overflow, no free set) */
	uint64_t late;          /**< frames for slots already emitted */
	uint64_t off_slot;      /**< frames further than tolerance from any centre */
	uint64_t superseded;    /**< frames replaced by one nearer the centre */
	uint64_t early;         /**< frames before the start slot (warm-up) */
	uint64_t future;        /**< frames stamped implausibly far ahead of now */
	uint64_t forced;        /**< sets emitted early because the window overflowed */
	uint64_t frames;        /**< frames pushed */
	int64_t last_slot;      /**< last slot emitted or dropped; INT64_MIN before */
};

/** Returns NULL with errno set (EINVAL for a bad config, ENOMEM). */
struct ls_aligner *ls_aligner_new(const struct ls_aligner_config *cfg, ls_emit_fn emit, void *user);
/** Flushes nothing: call ls_aligner_flush() first to emit pending sets.
 *  Drops every frame still held. Outstanding framesets stay valid; the pool
 *  goes with the last of them. Sets *al to NULL. */
void ls_aligner_free(struct ls_aligner **al);

/** Sets the first slot to emit; frames before it count as `early`. Without
 *  it, the first frame pushed sets the start slot. */
void ls_aligner_start(struct ls_aligner *al, int64_t first_slot);

/** Gives a frame to the aligner (transfer full: the aligner owns the
 *  reference, even on error). frame->cam must be < ncams. May emit sets.
 *  Returns 0 when the frame was placed in a slot, 1 when it was counted and
 *  dropped (late, off-slot, superseded-on-arrival, early), -EINVAL for a bad
 *  camera index. */
int ls_aligner_push(struct ls_aligner *al, struct ls_frame *frame, int64_t now_ns);

/** Emits every set that is final or past its deadline at @now_ns. Returns
 *  the next time poll must be called (the oldest pending deadline), or
 *  INT64_MAX when nothing is pending and no start slot is known. */
int64_t ls_aligner_poll(struct ls_aligner *al, int64_t now_ns);

/** Emits every pending slot up to the newest slot that holds a frame, as if
 *  its deadline had passed (used at shutdown). */
void ls_aligner_flush(struct ls_aligner *al, int64_t now_ns);

/** Counters since creation. missing, if not NULL, receives per-camera counts
 *  of emitted sets in which the camera was missing or held (ncams values). */
void ls_aligner_counters(const struct ls_aligner *al, struct ls_aligner_counters *out, uint64_t *missing);

/** Number of slots the aligner keeps pending at most. */
unsigned ls_aligner_window(const struct ls_aligner *al);

#endif
