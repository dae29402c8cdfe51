/* ls_redact — fail-closed redaction of personal data in video frames.
 *
 * A redactor takes I420 frames of one size, finds the visible text, has it
 * read by an OCR backend on a pool of worker threads, asks a scanner which
 * parts of each text line are personal data, and writes a copy of the frame
 * with those parts covered by solid boxes. It never waits for OCR (unless
 * asked to, for offline use): what has not been judged yet is covered.
 *
 * Per frame, on the caller's thread:
 *  1. Change: the frame is cut into tiles (32 x 32 by default); a tile
 *     changed when any of its bytes (Y, U or V) differs from the previous
 *     frame — compared byte for byte, so no hash collision can hide a change.
 *  2. Text: in horizontal bands around the changed tiles, a detector made for
 *     screen text (gradients, long rules removed, glyphs smeared into words
 *     and lines, connected components) finds text units: boxes of one line or
 *     of a few touching lines. A unit is identified by its exact pixels.
 *  3. Cache: a unit whose pixels were read before (anywhere on the screen,
 *     so after a scroll too) takes the cached OCR result at once; others are
 *     queued for OCR once, however many frames show them.
 *  4. Verdict: units that sit on one visual row are joined into one text
 *     line, so a label ("IBAN:", "Name:") and its value judge each other; the
 *     scanner's matches become boxes padded to the height of the line.
 *  5. Fail closed: a unit still waiting for OCR covers its whole row (with
 *     a margin), and the cells below it when it is their column's header or
 *     the label right above them; text-shaped ink in which OCR found no word
 *     is covered; the whole frame is covered when the frame
 *     is older than the latency budget, when a worker died or hangs, or when a
 *     canary was not caught.
 * Scrolling: the vertical shift of the changed region is measured from
 * exact row matches; units that moved with it are recognised by their
 * pixels, so their verdicts and masks move in the same frame.
 *
 * Threads: one thread calls ls_redactor_process(); the workers only run the
 * backend. Nothing here allocates per frame except new cache entries. */
#ifndef LS_REDACT_H
#define LS_REDACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ls_textfind.h" /* the text detector, ls_redact_find_text(): exposed for tests and benchmarks */

/** One word the OCR read, its box in the pixels it was given. */
struct ls_redact_word {
	int x, y, w, h;
	int line;   /**< line index within the image, from 0 */
	float conf; /**< 0..100 */
	char *text; /**< UTF-8, malloc'd; freed by the redactor */
};

struct ls_redact_ocr {
	int nwords;
	struct ls_redact_word *words; /**< malloc'd array; freed by the redactor */
};

/** Frees the words of @o and their text, and leaves @o empty. */
void ls_redact_ocr_clear(struct ls_redact_ocr *o);

/** The OCR engine. worker_new runs on the worker's own thread. */
struct ls_redact_backend {
	void *(*worker_new)(void *user, int idx, char **err);
	/** Reads a grey image; returns 0 and fills *out (words may be 0), or < 0
	 *  when the engine failed (the worker then counts as dead). */
	int (*recognize)(void *wctx, const uint8_t *gray, int w, int h, int stride, struct ls_redact_ocr *out);
	void (*worker_free)(void *wctx);
	void *user;
};

/** One piece of a text line to cover. */
struct ls_redact_match {
	int start, end;      /**< byte range in the line */
	const char *rule_id; /**< static or owned by the scanner */
	float confidence;    /**< 0..1 */
};

/** Finds personal data in one line of text; returns the number of matches
 *  written (<= max). Called from the process thread. */
typedef int (*ls_redact_scan_fn)(void *user, const char *line, struct ls_redact_match *out, int max);

struct ls_redact_params {
	int width, height;  /**< frame size, even, 64..8192 */
	int tile;           /**< tile edge in pixels, 8..256, multiple of 8; 0: 32 */
	int workers;        /**< OCR threads, 1..64; 0: 2 */
	int pad;            /**< mask padding in pixels, 0..64; default 0 means 3 (use -1 for none) */
	int64_t budget_ns;  /**< frame older than this at the end of processing: all masked; 0: 150 ms */
	int64_t stuck_ns;   /**< a worker busy longer than this counts as hung; 0: 5 s */
	size_t cache_bytes; /**< pixels kept in the OCR cache; 0: 64 MiB */
	bool wait;          /**< offline: wait for every unit's OCR instead of masking it */
	/** live: a frame whose new text is a few units (HOLD_UNITS_MAX, typing,
	 *  a clock) waits up to this long for their OCR, within the budget, so
	 *  it goes out read instead of masked; 0: never waits */
	int64_t hold_ns;
	float min_conf; /**< words OCR reads with less confidence (0..100) are masked; 0: 50; < 0: never */
	const struct ls_redact_backend *ocr;
	ls_redact_scan_fn scan;
	void *scan_user;
	/** Receives audit records, one JSON object per call (no newline, no
	 *  text content). Called from the process thread. May be NULL. */
	void (*audit)(void *user, const char *json);
	void *audit_user;
};

/** I420 planes. */
struct ls_redact_image {
	uint8_t *planes[3];
	int strides[3];
};

struct ls_redact_stats {
	int changed_tiles;    /**< tiles whose bytes changed */
	int pending_tiles;    /**< tiles covered because their text waits for OCR */
	int mask_boxes;       /**< personal-data boxes drawn */
	int units;            /**< text units on screen */
	int pending_units;    /**< of which waiting for OCR */
	int new_jobs;         /**< units queued for OCR by this frame */
	int cache_hits;       /**< units judged from the cache by this frame */
	int scroll_dy;        /**< measured vertical shift (0: none) */
	bool full_mask;       /**< the whole frame was covered (watchdog) */
	const char *full_why; /**< why, or NULL */
	int64_t process_ns;   /**< time spent in ls_redactor_process */
};

/** Lifetime totals. */
struct ls_redact_totals {
	uint64_t frames, full_masks, ocr_jobs, ocr_failures, cache_hits, cache_evictions, matches;
	uint64_t ocr_skipped;  /**< jobs dropped because their text left the screen before a worker took them */
	uint64_t ocr_ns;       /**< worker time spent in the backend */
	unsigned workers_dead; /**< workers that failed or hang now */
	unsigned queue;        /**< OCR jobs waiting now */
};

struct ls_redactor;

/** Starts the workers. Returns 0, or < 0 with *err a malloc'd one-line reason. */
int ls_redactor_new(const struct ls_redact_params *p, struct ls_redactor **out, char **err);

/** Writes the redacted copy of @in into @out (separate memory, same size).
 *  @capture_ns: when the frame was captured; @now_ns: the caller's clock
 *  (same clock as capture_ns) for the latency budget. Returns 0, or -EINVAL
 *  for a bad argument (out is then fully covered if it is writable). */
int ls_redactor_process(struct ls_redactor *r, const struct ls_redact_image *in, struct ls_redact_image *out,
			int64_t capture_ns, int64_t now_ns, struct ls_redact_stats *st);

/** Totals so far. Process thread. */
void ls_redactor_totals(struct ls_redactor *r, struct ls_redact_totals *t);

/** True when every box of [x,y,w,h] in the last output was covered by a
 *  personal-data mask (not merely pending) — the canary check. */
bool ls_redactor_masked_as_pii(const struct ls_redactor *r, int x, int y, int w, int h);
/** True when all of it was covered in the last output, as personal data or
 *  as text not read yet (the whole-frame watchdog mask not counted). */
bool ls_redactor_covered(const struct ls_redactor *r, int x, int y, int w, int h);

/** Stops the workers (waits for running OCR calls), frees everything. */
void ls_redactor_free(struct ls_redactor **r);

/** Fills [x, x+w) x [y, y+h) of an I420 image of @width x @height with the
 *  mask colour (black), chroma widened to cover every touched pixel. */
void ls_redact_fill(const struct ls_redact_image *img, int width, int height, int x, int y, int w, int h);

#endif
