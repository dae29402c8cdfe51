/* ls_spool — the bus output's bounded on-disk spool (issue 15, "Delivery").
 *
 * When the broker is down or slow, the publisher thread keeps its messages
 * here and replays them in order when the broker is back: peek the oldest,
 * publish, ack what the broker acknowledged. A failed publish acks nothing,
 * so the messages stay and are peeked again.
 *
 * Storage: one SQLite database in WAL mode with synchronous=NORMAL. A push
 * is one INSERT, committed, with no fsync of its own (the WAL is synced at
 * its checkpoints, about every 4 MB written): a committed push survives a
 * crash or kill of lockstep, and a restarted rig replays what was left, in
 * order. A power cut may lose the pushes since the last checkpoint, never
 * the order or the file. The database is locked to one connection
 * (locking_mode=EXCLUSIVE): a second lockstep, or a second open in this
 * one, on the same file is refused rather than replaying it twice.
 *
 * The bound: @max_bytes counts each message's subject + msg_id + payload
 * bytes (what `spool-mb` sizes), not SQLite's own overhead: the file is
 * larger by a few tens of bytes a row plus the WAL (up to ~4 MB), and stays
 * at its high-water mark (freed pages are reused, not returned). When a push
 * would go over the bound, the oldest messages are dropped, just enough to
 * make room, in one DELETE, and counted (dropped, and dropped_total which is
 * kept in the file across restarts). Messages carry a sequence number that
 * only grows, in the file's whole life (AUTOINCREMENT): an ack after a
 * reopen never removes newer messages.
 *
 * Threads: every call may be made from any thread; one mutex per spool
 * serializes them (the SQLite connection itself is opened NOMUTEX), so a
 * call may wait for another's statements: a push is one insert (~20 µs of
 * CPU), but the push that runs a WAL checkpoint (about every 4 MB) waits
 * for its fsync (a slowest push of 32 ms in bench/bench_spool.c here). ls_spool_stats takes only a
 * second mutex over the counters and never waits on the disk. The rig's
 * threads never call this: they hand messages to the publisher thread,
 * which does.
 *
 * Errors: int returns are >= 0 on success, negative errno on failure; the
 * one-line text of the last failure, naming the file, is ls_spool_last_error. */
#ifndef LS_SPOOL_H
#define LS_SPOOL_H

#include <stddef.h>
#include <stdint.h>

/** Opaque type */
struct ls_spool;

/** One spooled message, as returned by ls_spool_peek. */
struct ls_spool_msg {
	int64_t seq;        /**< sequence number: > 0, grows by push order, never reused */
	char *subject;      /**< NUL-terminated */
	char *msg_id;       /**< NUL-terminated; "" when pushed without one */
	void *data;         /**< @len bytes (not NUL-terminated) */
	size_t len;         /**< payload bytes */
	int64_t spooled_ns; /**< CLOCK_REALTIME at push, ns (wall clock: it survives restarts) */
};

struct ls_spool_stats {
	int64_t held;           /**< messages in the spool now */
	int64_t held_bytes;     /**< their subject + msg_id + payload bytes */
	int64_t max_bytes;      /**< the bound given to ls_spool_open */
	uint64_t pushed;        /**< messages pushed since open */
	uint64_t acked;         /**< messages removed by ls_spool_ack since open */
	uint64_t dropped;       /**< oldest messages dropped for space since open */
	uint64_t dropped_total; /**< the same in the file's whole life (persisted) */
	uint64_t failed;        /**< calls that failed with -EIO/-ENOSPC/-EBUSY since open */
};

/** Opens the spool database at @path, creating it (and nothing above it)
 *  when missing or empty, bounded to @max_bytes (> 0) of subject + msg_id +
 *  payload. A spool left holding more than @max_bytes (a smaller `spool-mb`
 *  than last run) has its oldest dropped here, counted.
 *  Returns the spool, or NULL with errno set and, when @err is not NULL,
 *  *err a malloc'd one-line message naming @path (free() it): not a
 *  database, not a lockstep spool (another SQLite file is left untouched),
 *  a newer schema version, in use by another connection, I/O errors. */
struct ls_spool *ls_spool_open(const char *path, int64_t max_bytes, char **err);

/** Closes the spool (what was pushed and not acked stays in the file for
 *  the next open) and sets *s to NULL. NULL-safe. */
void ls_spool_close(struct ls_spool **s);

/** Appends one message (the bytes are copied). @msg_id may be NULL (kept as
 *  ""); @data may be NULL when @len is 0. When the spool would go over its
 *  bound, the oldest messages are dropped first, just enough, counted.
 *  Returns the number of messages dropped to make room (usually 0), or
 *  -EMSGSIZE when this message alone is over the bound (nothing dropped,
 *  nothing stored), -EINVAL, -ENOSPC (disk full), -EIO. On failure nothing
 *  changed in the spool. */
int ls_spool_push(struct ls_spool *s, const char *subject, const char *msg_id, const void *data, size_t len);

/** Fills @out with the oldest messages, at most @max (> 0), in sequence
 *  order, without removing them. Returns how many were filled (0 when the
 *  spool is empty) or a negative errno (then @out holds nothing to free).
 *  The filled messages belong to the caller: free them with
 *  ls_spool_msgs_free (they are not separate allocations). */
int ls_spool_peek(struct ls_spool *s, struct ls_spool_msg *out, int max);

/** Frees the contents of @n messages filled by ls_spool_peek and zeroes
 *  them. NULL-safe. */
void ls_spool_msgs_free(struct ls_spool_msg *msgs, int n);

/** Removes every message with a sequence number <= @seq (their publish was
 *  acknowledged). Returns how many were removed, or a negative errno. */
int ls_spool_ack(struct ls_spool *s, int64_t seq);

/** Reads the counters, one consistent snapshot, without waiting on the
 *  disk (a metrics thread may call it while a push is in an fsync). */
void ls_spool_stats(struct ls_spool *s, struct ls_spool_stats *st);

/** The last failure of a call on @s as a malloc'd one-line message naming
 *  the file (free() it), or NULL when there was none. */
char *ls_spool_last_error(struct ls_spool *s);

#endif
