/* detector_private — what the detector's files share: detect_results.c,
 * ort_session.c and detector.c (the workers). Callers use detect.h.
 *
 * Ownership: ls_detector_new() (ort_session.c) makes a detector and
 * ls_detector_free() frees it with everything it holds: its copy of the
 * config (strings included), the env, the checking session `first` while no
 * worker has taken it, and in_name / out_names. A worker (detector.c)
 * borrows its detector, takes `first` or opens its own session with
 * session_new(), and is freed before the detector.
 *
 * Threads: a detector is filled in by ls_detector_new() on the thread that
 * makes it; after that the workers, which run in parallel, only read it,
 * but for two fields: `first` is handed to a worker under ort_lock, and a
 * yolov8 model with a free class dimension has ncls written at its first
 * run (the same value from every worker). ort_lock also serialises loading
 * the runtime, once per process. */
#ifndef LS_DETECTOR_PRIVATE_H
#define LS_DETECTOR_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>

#include "detect.h"

#if LS_HAVE_ORT
#include "onnxruntime_c_api.h"
#endif

struct ls_detector {
	struct ls_detect_config dc; /* copy; strings owned */
	unsigned ncams;
	enum ls_detect_format format;
	int in_w, in_h;
	bool batched;      /* the model's batch dimension is free */
	int ncls;          /* classes of the model's output */
	char provider[32]; /* the one in use */
#if LS_HAVE_ORT
	const OrtApi *api;
	OrtEnv *env;
	OrtSession *first; /* the checking session, for the first worker */
	char *in_name;
	char *out_names[2];
	int nout;
#endif
};

#if LS_HAVE_ORT
/* In ort_session.c: */

/** ONNX Runtime's API table, loaded once per process from @runtime, else
 *  $LOCKSTEP_ORT_LIB, else the build's default (LS_ORT_LIB_DEFAULT): for
 *  [detect] and for the PP-OCR backend (ocr_ppocr.c). NULL with *@err set
 *  (g_free() it) when it cannot be loaded or is older than API 16. */
const OrtApi *ls_ort_api(const char *runtime, char **err);
/** Held while loading the runtime and while a worker takes `first`. */
extern pthread_mutex_t ort_lock;
/** The status's message on one line, the status released; NULL when
 *  @st is NULL (success). g_free() it. */
char *status_msg(const OrtApi *api, OrtStatus *st);
/** A new session on d's model with intra-op threads 1 and the provider
 *  in d->provider; NULL with *err set. */
OrtSession *session_new(struct ls_detector *d, char **err);
#endif

#endif
