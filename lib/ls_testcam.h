/* ls_testcam — the timing model of a free-running camera with its own
 * imperfect clock. Pure arithmetic, so the aligner tests and the test://
 * source share one model.
 *
 * The camera's oscillator runs (1 + drift_ppm·1e-6) times as fast as the
 * shared clock. It fires frame k when its own clock reads
 * epoch + offset + k·T_cam; at start its clock agrees with the shared clock.
 * Each frame's capture stamp is the firing time plus jitter, uniform in
 * [-jitter, +jitter]. A frame is dropped with probability `drop`. */
#ifndef LS_TESTCAM_H
#define LS_TESTCAM_H

#include <stdbool.h>
#include <stdint.h>

#include "ls_time.h"

struct ls_testcam_params {
	struct ls_rate fps;
	int64_t epoch_ns;
	int64_t offset_ns;
	int64_t jitter_ns; /**< >= 0 */
	double drift_ppm;
	double drop; /**< probability in [0, 1] */
	uint64_t seed;
};

struct ls_testcam {
	struct ls_testcam_params p;
	int64_t start_ns;
	int64_t k; /* next frame number on the camera's own grid */
	uint64_t rng;
};

/** Starts the camera at shared time @start_ns; the first frame is the first
 *  one at or after it. */
void ls_testcam_init(struct ls_testcam *cam, const struct ls_testcam_params *p, int64_t start_ns);
/** Advances to the next frame. *fire_ns gets when it fires (shared clock),
 *  *stamp_ns its capture stamp. Returns false when this frame is dropped
 *  (the camera still advances). */
bool ls_testcam_next(struct ls_testcam *cam, int64_t *fire_ns, int64_t *stamp_ns);
/** Uniform double in [0, 1) from a 64-bit state (splitmix64). */
double ls_rand01(uint64_t *state);
uint64_t ls_rand_u64(uint64_t *state);

#endif
