/* ls_motion — a noise-tolerant motion detector for motion gating.
 *
 * One detector per camera, fed the luma (Y) plane of every frame. It works on
 * a grid of block means (block x block pixels, 16 by default: 120 x 68 blocks
 * at 1080p), so a frame costs one pass over the pixels plus a few operations
 * per block. Each block keeps a background model, a running mean and a running
 * variance of its brightness, and a block is "moving" when its brightness,
 * after the frame's global gain is divided out, leaves the band
 *
 *     |m - mu| > max(k * sigma, floor) + shake * range3x3(mu)
 *
 * What each term rejects (details in docs/architecture.md, "Motion gating"):
 * - sensor noise: averaging block^2 pixels divides it by block (16x), and
 *   @floor keeps what is left out;
 * - flicker, auto-exposure: the frame's gain against the background (the
 *   median of the per-block ratios) is divided out before the test;
 * - foliage, water, screens: blocks that keep moving learn a large sigma;
 * - small camera shake: a block may move by the fraction @shake_px / block
 *   of the brightness range of its 3 x 3 neighbourhood.
 * Moving blocks are grouped into 8-connected components; components of fewer
 * than @min_blocks blocks are ignored. The gate opens after @on_frames frames
 * in a row with motion and closes after @off_frames frames in a row without.
 *
 * Threads: a detector belongs to one thread at a time (no locking inside).
 * Memory: allocated at the first frame and when the frame size changes;
 * ls_motion_feed allocates nothing otherwise. */
#ifndef LS_MOTION_H
#define LS_MOTION_H

#include <stdbool.h>
#include <stdint.h>

struct ls_motion;

/** Parameters. A field left at 0 takes the default given here, so
 *  `(struct ls_motion_params){0}` is a usable configuration. */
struct ls_motion_params {
	int block;      /* block side in pixels, 4..64; default 16 */
	int warmup;     /* frames learned before any motion is reported; default 10 */
	float alpha;    /* background learning rate per frame for still blocks; default 0.05
			   * (a time constant of 20 frames) */
	int absorb;     /* frames a block may stay moving before its background is replaced
			   * by what it shows (an object that stopped, a light switched on);
			   * default 150 (5 s at 30 fps) */
	float k;        /* threshold in standard deviations of the block's history; default 4 */
	float floor;    /* smallest threshold, in grey levels of the block mean (0..255); default 5 */
	float shake_px; /* camera shake tolerated, in pixels; default 2 (negative: none) */
	int min_blocks; /* smallest component that counts as motion, in blocks; default 2 */
	int on_frames;  /* frames in a row with motion that open the gate; default 2 */
	int off_frames; /* frames in a row without motion that close it; default 15 */
};

#define LS_MOTION_MAX_BOXES 16

/** A moving region, in pixels of the frame, aligned to the block grid. */
struct ls_motion_box {
	int x, y, w, h;
	int blocks; /* moving blocks in the component */
};

struct ls_motion_result {
	bool motion;       /* the gate, with hysteresis: run the detector when true */
	bool raw;          /* this frame alone shows motion (a component of >= min_blocks) */
	bool learning;     /* still in the warm-up: raw and motion are false */
	float score;       /* fraction (0..1) of the frame's blocks in counted components */
	float gain;        /* frame brightness / background brightness (1 = no flicker) */
	int moving_blocks; /* blocks in counted components */
	int nboxes;        /* boxes below, the largest components first */
	struct ls_motion_box boxes[LS_MOTION_MAX_BOXES];
	int64_t changed_ns; /* t_ns of the frame at which `motion` last changed (0: never);
			     * a change of frame size, which closes the gate, counts */
};

/** A detector with @p (NULL: all defaults). NULL with errno EINVAL when a
 *  parameter is out of range, ENOMEM when out of memory. */
struct ls_motion *ls_motion_new(const struct ls_motion_params *p);
/** Sets *m to NULL. */
void ls_motion_free(struct ls_motion **m);

/** Feeds one frame: @y the luma plane, @width x @height pixels, rows @stride
 *  bytes apart (stride >= width), at capture time @t_ns. A change of frame
 *  size starts learning again. The frame is only read, during the call.
 *  Returns 0, or -EINVAL (bad size or stride, NULL plane, @t_ns earlier than
 *  the previous frame's; the model is left as it was), -ENOMEM. */
int ls_motion_feed(struct ls_motion *m, const uint8_t *y, int width, int height, int stride, int64_t t_ns,
		   struct ls_motion_result *out);

/** Forgets the background (e.g. after the camera was moved); the next frames
 *  are a new warm-up, with the gate closed (changed_ns is left as it was). */
void ls_motion_reset(struct ls_motion *m);

/** The parameters in use, defaults filled in. */
void ls_motion_get_params(const struct ls_motion *m, struct ls_motion_params *p);

#endif
