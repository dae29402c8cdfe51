/* ls_ocrpool — the OCR of the redactor (ls_redact.h): a pool of worker
 * threads that run the OCR backend, and the cache of what they read, keyed
 * by a text unit's exact pixels.
 *
 * A unit whose pixels were read before (anywhere on the screen, so after a
 * scroll too) takes the cached result at once; others are queued for OCR
 * once, however many frames show them. A queued job whose unit left the
 * screen before a worker took it is skipped, and queued again when the unit
 * comes back. The cache keeps a given number of bytes of pixels, least
 * recently used first out, never an entry on screen or being read. A
 * watchdog tells when a worker died or hangs.
 *
 * Threads: one thread, the redactor's process thread, calls everything
 * here and owns the cache; the workers only run the backend (at nice 10),
 * taking jobs from a queue and putting the results on a done list, both
 * protected by the pool's mutex. */
#ifndef LS_OCRPOOL_H
#define LS_OCRPOOL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "ls_redact.h"

enum ls_ocrpool_state {
	LS_OCRPOOL_PENDING = 0, /**< queued, or being read */
	LS_OCRPOOL_DONE,        /**< ocr holds the result */
	LS_OCRPOOL_FAILED,      /**< the backend failed, or no memory for the job: stays unread */
	LS_OCRPOOL_SKIPPED,     /**< its job was dropped (off screen): queued again when shown */
};

/** One cache entry: a unit's pixels and what OCR made of them. The process
 *  thread reads and writes it; a worker reads pix, w, h and refs of the
 *  entry of its job (pix, w and h never change). */
struct ls_ocrpool_entry {
	uint64_t hash;
	int w, h;
	uint8_t *pix;
	enum ls_ocrpool_state state;
	struct ls_redact_ocr ocr;
	atomic_int refs;               /* units showing it (workers read it: a job nobody shows any more is skipped) */
	uint64_t last_used;            /* frame number */
	int64_t queued_ns;             /* when it was queued (caller's clock) */
	struct ls_ocrpool_entry *next; /* hash chain */
};

struct ls_ocrpool;

/** Starts @workers threads that run @ocr (kept, not copied). @stuck_ns: a
 *  worker busy longer counts as hung; @cache_bytes: the pixels the cache
 *  keeps. Returns 0, -ENOMEM, or -EAGAIN when a thread could not start. */
int ls_ocrpool_new(const struct ls_redact_backend *ocr, int workers, int64_t stuck_ns, size_t cache_bytes,
		   struct ls_ocrpool **out);

/** The entry for the pixels of box @b of the grey plane @y (refs + 1):
 *  found, or new and queued for OCR. Counts st->new_jobs and
 *  st->cache_hits. @now_ns: the caller's clock; @frame: the caller's frame
 *  number (least recently used goes first). NULL when out of memory.
 *  Process thread. */
struct ls_ocrpool_entry *ls_ocrpool_entry_for(struct ls_ocrpool *pool, const uint8_t *y, int stride,
					      struct ls_redact_box b, int64_t now_ns, uint64_t frame,
					      struct ls_redact_stats *st);
/** Applies finished OCR jobs to their entries. Returns how many. Process
 *  thread. */
int ls_ocrpool_drain(struct ls_ocrpool *pool);
/** Sleeps until a finished job waits for ls_ocrpool_drain() (returns at
 *  once when one does). Process thread (offline use). */
void ls_ocrpool_wait(struct ls_ocrpool *pool);
/** Like ls_ocrpool_wait(), but returns by @mono_deadline (CLOCK_MONOTONIC
 *  ns) at the latest; true when a job finished. Process thread. */
bool ls_ocrpool_wait_until(struct ls_ocrpool *pool, int64_t mono_deadline);
/** When the cache is over its size: drops the least recently used idle
 *  entries until it is 7/8 full. Process thread. */
void ls_ocrpool_trim(struct ls_ocrpool *pool);
/** "ocr-worker-dead", "ocr-worker-hung" (busy longer than stuck_ns at
 *  @mono_now, a monotonic time) or NULL; counts the workers dead or hung
 *  for the totals. Process thread. */
const char *ls_ocrpool_watchdog(struct ls_ocrpool *pool, int64_t mono_now);
/** Writes the pool's totals into @t: ocr_jobs, ocr_failures, ocr_skipped,
 *  ocr_ns, cache_hits, cache_evictions, workers_dead (as of the last
 *  watchdog) and queue; leaves the other fields. Process thread. */
void ls_ocrpool_totals(struct ls_ocrpool *pool, struct ls_redact_totals *t);

/** Stops the workers (waits for running OCR calls), frees the jobs and the
 *  cache; sets *pool to NULL. NULL-safe. */
void ls_ocrpool_free(struct ls_ocrpool **pool);

#endif
