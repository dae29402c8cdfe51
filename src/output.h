/* output — a sink of framesets with its own thread and its own bounded
 * queue (ls_setq): a slow output loses its own oldest sets and never slows
 * the aligner or another output. */
#ifndef LS_OUTPUT_H
#define LS_OUTPUT_H

#include <gst/gst.h>
#include <stdbool.h>

#include "config.h"
#include "ls_setq.h"

struct ls_output_ops {
	const char *kind;
	/** Starts the output's thread; it pops from @q until the queue closes. */
	int (*start)(void *impl, struct ls_setq *q, char **err);
	/** Called after the queue was closed: drain, flush, close files. */
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
/** Whether ls_output_finish() left @pipeline running for good (a window
 *  whose X server was lost): its owner drops its pointer to it, and never
 *  sets it to NULL or unrefs it. */
bool ls_output_abandoned(GstElement *pipeline);

struct ls_output {
	const struct ls_output_ops *ops;
	void *impl;
	struct ls_setq *q;
	char *name;
};

/** Mosaic: tiles every frameset into one picture, to a file and/or window. */
void *ls_mosaic_out_new(const struct ls_output_config *oc, const struct ls_config *cfg, char **err);
extern const struct ls_output_ops ls_mosaic_out_ops;

/** Shared memory: every frameset for readers in other processes. */
void *ls_shm_out_new(const struct ls_output_config *oc, const struct ls_config *cfg, char **err);
extern const struct ls_output_ops ls_shm_out_ops;

/** File: one camera's frames at their own size, no overlays (out_file.c). */
void *ls_file_out_new(const struct ls_output_config *oc, const struct ls_config *cfg, char **err);
extern const struct ls_output_ops ls_file_out_ops;
/** Detect: the [detect] stage (see detect.h, out_detect.c); @board, if not
 *  NULL, gets the latest boxes for the mosaic. */
struct ls_detect_board;
void *ls_detect_out_new(const struct ls_config *cfg, struct ls_detect_board *board, char **err);
extern const struct ls_output_ops ls_detect_out_ops;
/** Worker threads (sessions) the stage runs: threads=, or one per online
 *  CPU, at most 4. */
unsigned ls_detect_threads(const struct ls_detect_config *dc);
/** Makes the mosaic draw the boxes on @board (not owned; outlives it). */
void ls_mosaic_out_set_board(void *impl, struct ls_detect_board *board);
/** Recording ([record]): every camera to H.264 segments (out_record.c). */
void *ls_record_out_new(const struct ls_config *cfg, char **err);
extern const struct ls_output_ops ls_record_out_ops;
struct ls_source;
/** [record] copy = auto: records camera @cam from its own H.264 (tapped
 *  from @src before decoding) instead of encoding its frames. False when
 *  the source has no H.264 to tap. Before the source starts. */
bool ls_record_out_copy(void *impl, unsigned cam, struct ls_source *src);

#endif
