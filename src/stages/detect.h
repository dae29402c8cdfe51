/* detect — object detection on framesets with ONNX Runtime (the [detect]
 * stage; config keys in config.h).
 *
 * ONNX Runtime is loaded with dlopen() when the first detector is made, not
 * linked: lockstep builds and runs without it, and only a config with
 * [detect] needs it. The library is [detect] runtime=, else
 * $LOCKSTEP_ORT_LIB, else the one scripts/setup.sh put in the build's
 * ort-dir (meson option, default .cache/ort). Its headers come from the
 * same ort-dir at build time; without them the stage reports that it was
 * not built in. The API version used is the library's own: the highest of
 * ORT_API_VERSION (the headers') and below that the library answers, since
 * headers may be newer than the library.
 *
 * A detector (ls_detector) holds what the sessions share: the env, the
 * validated model description, the class filter. A worker (ls_detect_worker)
 * is one ONNX Runtime session with intra-op threads 1 and its own buffers;
 * several workers run in parallel on different framesets. A worker runs all
 * the cameras of one frameset in one Run() when the model's batch dimension
 * is free, else one Run() per camera.
 *
 * Errors: one line naming what is at fault: "MODEL: not an ONNX model
 * (...)", "MODEL: input has rank 3, expected 4 (N,3,H,W)", "provider cuda:
 * not available in this ONNX Runtime (available: CPU)". */
#ifndef LS_DETECT_STAGE_H
#define LS_DETECT_STAGE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "config.h"
#include "ls_frameset.h"
#include "ls_detect.h"
#include "ls_motion.h"
#include "detections.h"

struct ls_detector;
struct ls_detect_worker;

/** Loads ONNX Runtime (once per process), creates the env and checks the
 *  model and provider by opening one session, which the first worker then
 *  reuses. Returns NULL with *err set (one line, g_free it). */
struct ls_detector *ls_detector_new(const struct ls_detect_config *dc, unsigned ncams, char **err);
/** What ls_detector_new() checks first, without a session: the model file
 *  is there and readable, and ONNX Runtime loads. 0, or <0 with *err set
 *  (one line naming `lockstep fetch-models` for a missing bare model name). */
int ls_detector_probe(const struct ls_detect_config *dc, char **err);
void ls_detector_free(struct ls_detector **d);
/** The ONNX Runtime version string and the API version in use. */
const char *ls_detector_ort_version(const struct ls_detector *d, int *api);
/** The model input size (after input-size=) and batch mode. */
void ls_detector_input(const struct ls_detector *d, int *w, int *h, bool *batched);
/** Class name for index @cls in JSON and on the mosaic. */
const char *ls_detector_class_name(const struct ls_detector *d, int cls);
/** The provider the sessions really use ("cpu" after a fallback). */
const char *ls_detector_provider(const struct ls_detector *d);

/** A worker with its own session. Returns NULL with *err set. */
struct ls_detect_worker *ls_detect_worker_new(struct ls_detector *d, char **err);
void ls_detect_worker_free(struct ls_detect_worker **w);

/** Result buffers for ncams cameras (free with ls_detect_result_free()). */
struct ls_detect_result *ls_detect_result_new(const struct ls_detector *d);
void ls_detect_result_free(struct ls_detect_result **r);

/** Detects on every camera of @set with a frame whose @active entry is
 *  true (@active NULL: all); fills @r. Returns 0, or -EIO with *err set
 *  when ONNX Runtime fails. Time spent is added to the worker's counters. */
int ls_detect_worker_run(struct ls_detect_worker *w, const struct ls_frameset *set, const bool *active,
			 struct ls_detect_result *r, char **err);

/** The same on bare frames (benchmarks, tests): frames[c] may be NULL. */
int ls_detect_worker_run_frames(struct ls_detect_worker *w, struct ls_frame *const *frames, unsigned nframes,
				const bool *active, struct ls_detect_result *r, char **err);

/** Nanoseconds spent in Run() alone and in the whole of
 *  ls_detect_worker_run*() since the worker was made. */
void ls_detect_worker_times(const struct ls_detect_worker *w, int64_t *run_ns, int64_t *total_ns);

/** Appends @r as one JSON line (with '\n') to @out; @names are the
 *  camera names. Cameras that ran or were gated are listed; with r->motion
 *  each also gets "gated" and "motion" ({"on", "score", "boxes": [[x1, y1,
 *  x2, y2], ...]}). */
void ls_detect_result_json(const struct ls_detector *d, const struct ls_detect_result *r, const char *const *names,
			   GString *out);

#endif
