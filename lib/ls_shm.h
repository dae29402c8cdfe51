/* ls_shm — the writer side of the shared-memory frameset hand-off
 * (wire format: clients/c/lockstep_shm.h).
 *
 * One writer per segment name. Publishing never waits for readers: a slow or
 * stopped reader only loses sets (it sees an overrun), and readers wait on a
 * futex in the segment that the writer wakes only when someone waits.
 *
 * Threads: all calls from one thread (the shm output's). */
#ifndef LS_SHM_H
#define LS_SHM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ls_frameset.h"
#include "ls_frame.h"
#include "ls_time.h"

struct ls_shm_cam {
	const char *name;      /**< up to 31 bytes */
	enum ls_pixfmt format; /**< LS_FMT_UNKNOWN: a camera never seen (no data area) */
	int width, height;
};

struct ls_shm_config {
	const char *name; /**< [A-Za-z0-9_.-]{1,200}, not starting with '.' */
	unsigned nslots;  /**< >= 2 */
	unsigned ncams;
	const struct ls_shm_cam *cams;
	struct ls_rate rate;
	int64_t epoch_ns;
	gid_t group;         /**< (gid_t)-1: none, mode 0600; else chown to it, mode 0660 */
	bool checksums;      /**< store FNV-1a 64 of every frame (tests; costs a pass over the data) */
	const char *shm_dir; /**< where the space check looks; NULL: /dev/shm */
};

/** Where the zero-copy producer writes one set: planes inside the slot. */
struct ls_shm_wslot {
	unsigned slot;
	uint8_t *planes[LS_MAX_PLANES]; /**< of camera `cam` after ls_shm_writer_planes() */
	int strides[LS_MAX_PLANES];
};

struct ls_shm_writer;

/** Creates the segment. A stale segment of a dead writer under the same
 *  name is replaced; a live writer's is refused. Returns 0 or -errno with a
 *  one-line reason in @err: -EINVAL (name, config), -EBUSY (live writer),
 *  -ENOSPC (not enough room: says how much is needed), -EACCES/-EPERM. */
int ls_shm_writer_open(const struct ls_shm_config *cfg, struct ls_shm_writer **out, char *err, size_t errlen);
/** Marks the segment closed (readers see "writer gone" at once), unlinks
 *  the name and unmaps. Readers keep their mapping until they close. */
void ls_shm_writer_close(struct ls_shm_writer **w);

/** Copies a frameset into the next slot and publishes it. Returns 0, or
 *  -EXDEV when a frame's format or size differs from the segment's (the
 *  caller opens a new segment with the new layout). */
int ls_shm_writer_publish(struct ls_shm_writer *w, const struct ls_frameset *set);

/** Zero-copy: starts rewriting the next slot (readers of it will see a torn
 *  set); ls_shm_writer_planes() gives where camera c's planes go; commit
 *  publishes. @states/@captures/@offsets: per camera (ncams); offsets may be NULL. */
void ls_shm_writer_begin(struct ls_shm_writer *w, struct ls_shm_wslot *ws);
void ls_shm_writer_planes(struct ls_shm_writer *w, struct ls_shm_wslot *ws, unsigned cam);
void ls_shm_writer_commit(struct ls_shm_writer *w, struct ls_shm_wslot *ws, int64_t n, int64_t slot_ns, int64_t skew_ns,
			  const uint32_t *states, const int64_t *captures, const int64_t *offsets);

/** Proves the writer alive; call at least every 250 ms when idle. */
void ls_shm_writer_heartbeat(struct ls_shm_writer *w);
uint64_t ls_shm_writer_published(const struct ls_shm_writer *w);
size_t ls_shm_writer_size(const struct ls_shm_writer *w);
/* Names are checked with lshm_name_check() and checksums computed with
 * lshm_checksum() of clients/c/lockstep_shm.h: the wire format's owner. */

#endif
