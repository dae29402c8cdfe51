/* detections — what the [detect] stage publishes through the output
 * context (ls_output_ctx_publish_detections) and what subscribers read:
 * the detections of one frameset, and a board that keeps each camera's
 * latest for an output that draws them (the mosaic). Subscribers include
 * this header, not the detect stage's. */
#ifndef LS_DETECTIONS_H
#define LS_DETECTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "ls_detect.h"
#include "ls_motion.h"

struct ls_frameset;

/** Detections of one frameset. Arrays have ncams entries; dets has
 *  ncams * max_dets entries, camera c's at dets + c * max_dets. */
struct ls_detect_result {
	int64_t n; /**< slot index */
	int64_t slot_ns;
	unsigned ncams;
	unsigned max_dets;
	bool *ran;           /**< the camera had a frame and was detected on */
	int64_t *capture_ns; /**< the frame's capture time (when ran) */
	int *count;          /**< detections of the camera */
	int64_t *track_id;   /**< per detection, -1 = no tracker (JSON null) */
	struct ls_det *dets;
	/** Set by the caller (detect_stage.c), not by the worker: */
	bool *gated;                           /**< had a new frame that the motion gate kept from the
			       *  detector (JSON "gated":true; the board clears its boxes) */
	const struct ls_motion_result *motion; /**< ncams entries, or NULL (no motion gate) */
	/** The set detected on, valid during the publishing call only (a
	 *  subscriber that wants pixels copies them: the console's thumbnails) */
	const struct ls_frameset *set;
	/** The set as the JSON line [detect] output = writes (without its
	 *  newline), valid during the publishing call only */
	const char *json;
	size_t json_len;
	/** The name of class @cls (the model's classes: "person", "text",
	 *  "class7"), with @namer; valid during the publishing call only */
	const char *(*class_name)(const void *namer, int cls);
	const void *namer;
};

/** Filled from a detections subscription (the publisher's thread) and read
 *  by the output that owns it; a mutex held for a copy of at most
 *  ncams * max_dets boxes. */
struct ls_detect_board;
struct ls_detect_board *ls_detect_board_new(unsigned ncams, unsigned max_dets);
void ls_detect_board_free(struct ls_detect_board **b);
/** Publishes @r's cameras that ran, with their track ids, and clears those
 *  that were gated (a newer slot only replaces an older). */
void ls_detect_board_put(struct ls_detect_board *b, const struct ls_detect_result *r);
/** Copies camera @cam's latest boxes into @out (max_dets entries) and, when
 *  @ids is not NULL, their track ids (-1: none); returns the count and the
 *  slot they were detected at (-1: none yet). */
int ls_detect_board_get(struct ls_detect_board *b, unsigned cam, struct ls_det *out, int64_t *ids, int64_t *slot);

#endif
