/* output — a sink of framesets with its own thread and its own bounded
 * queue (ls_setq): a slow output loses its own oldest sets and never slows
 * the aligner or another output. */
#ifndef LS_OUTPUT_H
#define LS_OUTPUT_H

#include <gst/gst.h>
#include <stdbool.h>

#include "config.h"
#include "ls_setq.h"
#include "output_ctx.h"

struct ls_output_ctx;

/** One kind of output. The rig knows outputs only through this table and
 *  the registry (output_registry.c): adding a kind is a row there plus its
 *  file. */
struct ls_output_ops {
	const char *kind;
	/** Makes the output from its config group (@group: the struct the
	 *  registry's row names, e.g. struct ls_output_config for [output ...],
	 *  struct ls_record_config for [record]); NULL and *err (one line, no
	 *  file:line: the rig adds it) on failure. Main thread, before any
	 *  source starts: the place to subscribe to the context's services. */
	void *(*create)(struct ls_output_ctx *ctx, const void *group, char **err);
	/** Optional (NULL: 0). Framesets and frames (per camera) the output may
	 *  hold at once beyond what the rig counts for every output (its queue,
	 *  cfg->queue, plus 2: the set in its hands and one on the way): the rig
	 *  sizes the aligner's set pool and the sources' frame pools from the
	 *  sum. Too low and frames are dropped, silently. */
	unsigned (*sets_held)(const struct ls_config *cfg, const void *group);
	unsigned (*frames_held)(const struct ls_config *cfg, const void *group);
	/** Starts the output's thread; it pops from @q until the queue closes. */
	int (*start)(void *impl, struct ls_setq *q, char **err);
	/** Called after the queue was closed: drain, flush, close files. The
	 *  rig finishes outputs in the order they were made (the plan's: so
	 *  [detect] posts its last clip request before [record] finishes); an
	 *  output may get service calls from others until its own finish. */
	void (*finish)(void *impl);
	void (*free)(void *impl);
	/** Optional (NULL: none). Appends the output's own fields, each
	 *  starting with ',', to its object in the --stats-json record, after
	 *  "dropped". Called by the rig's aligner thread once a second after
	 *  start, and for the final record when the aligner stops (before
	 *  finish: sets still queued then are not in it). It must not wait on
	 *  the output's threads, so it reads counters kept in atomics. */
	void (*stats_json)(void *impl, GString *j);
};

/** An output the config asks for: its kind, its group, and where the group
 *  is (for messages: "CONFIG:LINE: [WHAT] reason"). */
struct ls_output_plan {
	const struct ls_output_ops *ops;
	const void *group;
	int line;
	char what[32];
};

/** The outputs @cfg asks for, in the order they are made: [detect] first (a
 *  bad model fails the run before anything starts), [record], then each
 *  [output ...] in file order. At most @max; returns how many. */
unsigned ls_output_registry_plan(const struct ls_config *cfg, struct ls_output_plan *plan, unsigned max);
/** The most outputs a config can ask for (for the plan's array). */
unsigned ls_output_registry_max(const struct ls_config *cfg);

/** The GStreamer muxer for a video file name: matroskamux (.mkv), mpegtsmux
 *  (.ts), else fragmented MP4 (a crash loses at most the last second). */
const char *ls_output_muxer(const char *file);
/** Appends a branch from tee "t" to @file: H.264 (x264 ultrafast,
 *  zerolatency, a keyframe every second at @rate) in the file's muxer. */
void ls_output_append_h264_file(GString *d, const char *file, struct ls_rate rate);
/** Appends a branch from tee "t" to a window that never holds it up. */
void ls_output_append_display(GString *d);
/** A bus ERROR of an output's pipeline: one line naming @what and @file,
 *  and *failed set (the output stops, the rig goes on). */
void ls_output_bus_error(GstMessage *msg, const char *what, const char *file, gint *failed);
/** Ends an output's appsrc pipeline: EOS, waits up to @timeout_s for the
 *  muxer (a line if it does not finish), then NULL. True at EOS. */
bool ls_output_finish(GstElement *pipeline, GstElement *appsrc, int timeout_s, const char *what, const char *file);
/** An I420 GstBuffer of frame @f (I420): its planes wrapped without a copy
 *  when they are contiguous (the buffer then holds a reference to @f until
 *  it is freed), else copied, packed. (transfer full) */
GstBuffer *ls_output_frame_buffer(struct ls_frame *f);
/** Caps of @w x @h I420 at @rate frames per second, square pixels: what an
 *  output's appsrc of raw frames announces. (transfer full) */
GstCaps *ls_output_i420_caps(int w, int h, struct ls_rate rate);
/** A GMainLoop on its own thread and GMainContext: where an output's
 *  server (RTSP, HTTP) runs, away from the rig's threads. */
struct ls_output_loop {
	GMainContext *ctx; /**< made by ls_output_loop_init; attach sources here before run */
	GMainLoop *loop;
	GThread *thread; /**< non-NULL while it runs */
};
/** Makes @l's context (nothing runs yet). */
void ls_output_loop_init(struct ls_output_loop *l);
/** Runs @l's loop on a thread named @name, with its context the thread
 *  default there. */
void ls_output_loop_run(struct ls_output_loop *l, const char *name);
/** Quits @l's loop and joins its thread; nothing if it does not run. */
void ls_output_loop_stop(struct ls_output_loop *l);
/** Stops @l and frees its loop and context; safe on a zeroed @l. */
void ls_output_loop_clear(struct ls_output_loop *l);

struct ls_mosaic;
/** A @w x @h mosaic of every camera of @cfg, labelled with their names; NULL
 *  with *err set ("cannot lay out N cameras in WxH") when they do not fit. */
struct ls_mosaic *ls_output_mosaic_new(const struct ls_config *cfg, int w, int h, char **err);
/** Whether ls_output_finish() left @pipeline running for good (a window
 *  whose X server was lost): its owner drops its pointer to it, and never
 *  sets it to NULL or unrefs it. */
bool ls_output_abandoned(GstElement *pipeline);
/** Frees an output's pipeline: removes its bus watch, then NULL and unref,
 *  except one ls_output_finish() abandoned (left as it is); sets *pipeline
 *  to NULL. NULL-safe. */
void ls_output_release(GstElement **pipeline);

struct ls_output {
	const struct ls_output_ops *ops;
	void *impl;
	struct ls_setq *q;
	char *name;
};

/** The kinds (output_registry.c lists them). */
extern const struct ls_output_ops ls_mosaic_out_ops; /**< [output mosaic]: every set tiled, to a file and/or window */
extern const struct ls_output_ops ls_shm_out_ops;    /**< [output shm]: every set for other processes */
extern const struct ls_output_ops ls_file_out_ops;   /**< [output file]: one camera's frames, no overlays */
extern const struct ls_output_ops ls_detect_out_ops; /**< [detect]: the detection stage (detect.h) */
extern const struct ls_output_ops ls_record_out_ops; /**< [record]: every camera to H.264 segments */
extern const struct ls_output_ops ls_server_out_ops; /**< [server]: the HTTP server, the API under /api/v1 */
extern const struct ls_output_ops ls_bus_out_ops;    /**< [bus]: metadata to NATS JetStream or MQTT (src/bus/) */
extern const struct ls_output_ops ls_rtsp_out_ops; /**< [output rtsp]: an RTSP server, a mount per camera and /mosaic */

#endif
