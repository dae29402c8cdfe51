/* recorder — the segment index (SQLite), the recovery pass, ring retention
 * and clip export of [record] (docs/architecture.md, "Recording").
 *
 * On disk, under the [record] dir:
 *   index.sqlite3            the index (WAL), table `segments` and `clips`
 *   CAMERA/SLOT.ts           one MPEG-TS segment per camera, named by its first slot
 *
 * Frame i of a segment holds slot first_slot + i, always: a camera missing
 * from a frameset repeats its last frame (counted in `repeated`), and a
 * whole gap in the slots (the output dropped sets, the disk was full) ends
 * the segment; the next starts at the slot after the gap with a keyframe.
 *
 * Segment states:
 *   recording   being written (or the writer crashed: the recovery pass fixes it)
 *   complete    closed, fsynced, its row final
 *   protected   part of a clip: never deleted by retention
 *   quarantined unreadable after a crash: kept for inspection, never in a clip
 *   deleting    claimed by retention (the file may be gone): finished at start
 *
 * Durability order when a segment closes: write, fsync the file, fsync the
 * directory, then update the row to complete. A row in `recording` is
 * inserted only after the (empty) file and its directory entry are durable.
 *
 * Threads: an index is one SQLite connection behind a mutex; any thread may
 * call any function. Other processes (lockstep clip) may open the same
 * index at the same time: SQLite's locks and a busy timeout order them. */
#ifndef LS_RECORDER_H
#define LS_RECORDER_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"

struct ls_rec_index;

/** A segment's state (see above); text only in the index (SQL). */
enum ls_seg_state {
	LS_SEG_RECORDING = 0,
	LS_SEG_COMPLETE,
	LS_SEG_PROTECTED,
	LS_SEG_QUARANTINED,
	LS_SEG_DELETING,
};
/** The state's name in the index ("complete"); "?" for none. */
const char *ls_seg_state_name(enum ls_seg_state st);
/** The state named @name; -1 for an unknown name. */
int ls_seg_state_parse(const char *name);

struct ls_rec_segment {
	int64_t id;
	char *camera;
	char *path;                    /**< relative to the record dir: "CAMERA/SLOT.ts" */
	int64_t first_slot, last_slot; /**< inclusive; last < first while empty */
	int64_t start_ns, end_ns;      /**< capture time of the first frame, and of the last frame + T */
	int64_t bytes;
	char *keyframes;  /**< slots of its keyframes, comma-separated */
	int64_t repeated; /**< frames that repeat the previous one (camera missing from the set) */
	char *missing;    /**< the slots of those repeats, as ranges: "120-135,200" ("" none; NULL
			       reads as ""); written when the segment closes, so a recovered
			       segment's are lost */
	enum ls_seg_state state;
	bool copy; /**< the camera's own H.264, copied: keyframes are the camera's (insert only) */
};

void ls_rec_segment_free(gpointer seg);

/** Opens (creating) DIR/index.sqlite3. DIR must exist. 0, or a negative
 *  errno with *err a one-line message. */
int ls_rec_index_open(const char *dir, struct ls_rec_index **out, char **err);
void ls_rec_index_close(struct ls_rec_index **idx);

/** Inserts @s (its id is set). 0 or -EIO (*err set if err). */
int ls_rec_index_insert(struct ls_rec_index *idx, struct ls_rec_segment *s, char **err);
/** Writes last_slot, end_ns, bytes, keyframes, repeated, missing and state
 *  of the row s->id. 0 or -EIO. */
int ls_rec_index_update(struct ls_rec_index *idx, const struct ls_rec_segment *s, char **err);
/** Moves row @id from state @from to @to. 1 when it moved, 0 when it was
 *  not in @from, -EIO. */
int ls_rec_index_set_state(struct ls_rec_index *idx, int64_t id, enum ls_seg_state from, enum ls_seg_state to);
int ls_rec_index_delete(struct ls_rec_index *idx, int64_t id);
/** Segments of @camera (NULL: all) in @state (-1: any) that overlap
 *  slots [n1, n2], ordered by first slot then camera. A new array of
 *  struct ls_rec_segment * (free with g_ptr_array_unref), or NULL on error. */
GPtrArray *ls_rec_index_list(struct ls_rec_index *idx, const char *camera, int state, int64_t n1, int64_t n2);
int ls_rec_index_add_clip(struct ls_rec_index *idx, int64_t n1, int64_t n2, const char *out);

/** Appends slot @n to the ranges text @g ("120-135,200"): extends the last
 *  range when @n follows it. Slots must come in increasing order. */
void ls_rec_ranges_add(GString *g, int64_t n);
/** Whether slot @n is in the ranges text @ranges (NULL: none). */
bool ls_rec_ranges_has(const char *ranges, int64_t n);
/** PRAGMA integrity_check: 0 when "ok". */
int ls_rec_index_check(struct ls_rec_index *idx);

/** Reads an MPEG-TS H.264 segment without decoding: the number of access
 *  units it holds and, in @keys (may be NULL), the frame indices of its
 *  keyframes. 0, or -EIO when the file cannot be parsed at all. */
int ls_rec_scan(const char *path, int64_t *frames, GArray *keys);

/** The recovery pass at start: rows in `recording` (the writer died) are
 *  checked: a readable file keeps its complete frames (the last one read
 *  may be torn and is left out) and becomes complete; an unreadable one is
 *  renamed SLOT.ts.bad and quarantined; a missing one, or one with less than
 *  two frames, loses its row (and its file).
 *  Rows in `deleting` are finished. Files without a row in CAMERA/ are
 *  treated like rows in recording. Prints one line per repaired segment.
 *  Returns the number of segments repaired or quarantined, or -EIO. */
int ls_rec_recover(struct ls_rec_index *idx, const char *dir, struct ls_rate rate, char **err);

/** Repairs one segment the way the recovery pass does (a writer that hit
 *  an error uses it too); a row with id 0 is inserted. 1 when the row was
 *  written, a negative errno otherwise. */
int ls_rec_repair(struct ls_rec_index *idx, const char *dir, struct ls_rec_segment *s, struct ls_rate rate);

/** Free bytes for unprivileged users on the filesystem of @dir (INT64_MAX
 *  when it cannot be read). */
int64_t ls_rec_free_bytes(const char *dir);

/** One retention pass: drops complete segments older than keep_ns before
 *  @now_ns, then the oldest while over the global or a camera's quota, then
 *  the oldest while the filesystem has less than min_free free. Protected,
 *  recording and quarantined segments are never deleted (quarantined ones
 *  count against the quotas). @emergency is set when free space was short.
 *  Returns the number of segments deleted, or -EIO. */
int ls_rec_retention(struct ls_rec_index *idx, const struct ls_record_config *rc, int64_t now_ns, bool *emergency);

struct ls_clip_request {
	const char *dir; /**< the record dir (with index.sqlite3) */
	struct ls_rate rate;
	int64_t epoch_ns;
	unsigned gop;
	const char *const *cameras;    /**< NULL-terminated; NULL: every camera in the index */
	int64_t n1, n2;                /**< requested slots, inclusive, n1 <= n2 */
	int64_t pre_slots, post_slots; /**< added before n1 and after n2 */
	const char *outdir;            /**< created if missing (its parent must exist) */
};

struct ls_clip_result {
	int64_t first_slot, last_slot; /**< the window exported: first is a keyframe on every camera */
	unsigned ncams;
	int64_t frames; /**< total over cameras */
};

/** Exports the window from every chosen camera without re-encoding: the
 *  start moves back to the nearest slot that is a keyframe on every chosen
 *  camera (keyframes share slots, so it is the same on all), the end stays.
 *  Writes OUTDIR/CAMERA.mp4 and OUTDIR/manifest.json, and marks the source
 *  segments protected. 0, or a negative errno with *err one line
 *  (-EINVAL: a window outside what is recorded; -ENOENT: unknown camera). */
int ls_record_clip(const struct ls_clip_request *req, struct ls_clip_result *res, char **err);

#endif
