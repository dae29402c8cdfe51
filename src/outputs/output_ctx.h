/* output_ctx — the services outputs share, built once by the rig.
 *
 * Outputs never reach into each other or into sources: what one offers and
 * another uses goes through here.
 *  - detections: [detect] publishes each frameset's results; subscribers
 *    (the mosaic draws them; later the console and the bus) get a call.
 *  - clip requests: the recorder provides them, [detect] posts events; the
 *    recorder owns the waiting, the index and the export.
 *  - source taps: a camera's own encoded stream (H.264 before decoding),
 *    where it has one.
 *  - statistics: the rig's per-second --stats-json record, to subscribers.
 *  - events: camera down/up, clip ready, ...: one JSON object each, to
 *    subscribers.
 *
 * Threads: subscribe/provide calls are made from an output's create() (main
 * thread, before anything starts) and never later, so the lists need no
 * lock. Publishing and the calls it makes happen on the publisher's thread:
 * a subscriber copies what it needs and returns; it never blocks. */
#ifndef LS_OUTPUT_CTX_H
#define LS_OUTPUT_CTX_H

#include <gst/gst.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"

struct ls_output_ctx;
struct ls_detect_result;

/** A camera's encoded stream, one access unit at a time, on the tap's
 *  streaming thread (see ls_source_set_es_tap in source.h). */
typedef void (*ls_output_tap_fn)(void *user, GstBuffer *au, GstCaps *caps, int64_t capture_ns);
/** Taps camera @cam's encoded stream; false when it has none. Provided by the rig. */
typedef bool (*ls_output_tap_provider)(void *rig, unsigned cam, ls_output_tap_fn fn, void *user);

/** Makes the context of a run of @cfg (borrowed; it outlives the context).
 *  @tap/@rig: how the rig taps its sources. */
struct ls_output_ctx *ls_output_ctx_new(const struct ls_config *cfg, ls_output_tap_provider tap, void *rig);
void ls_output_ctx_free(struct ls_output_ctx **ctx);
const struct ls_config *ls_output_ctx_config(const struct ls_output_ctx *ctx);

/* ---- detections ---------------------------------------------------------- */
typedef void (*ls_detections_fn)(void *user, const struct ls_detect_result *r);
void ls_output_ctx_subscribe_detections(struct ls_output_ctx *ctx, ls_detections_fn fn, void *user);
/** To every subscriber, in order, on the caller's thread (the detect stage's
 *  publishing turn: one set at a time, in slot order). */
void ls_output_ctx_publish_detections(const struct ls_output_ctx *ctx, const struct ls_detect_result *r);

/* ---- clip requests ------------------------------------------------------- */
/** An event at slot @n of camera @cam asks for a clip around it; @what
 *  names it ("person-3", "motion"). */
typedef void (*ls_clip_request_fn)(void *user, int64_t n, unsigned cam, const char *what);
/** The recorder offers clips (at most one provider). */
void ls_output_ctx_provide_clips(struct ls_output_ctx *ctx, ls_clip_request_fn fn, void *user);
/** Asks the provider; false (nothing done) when there is none. Any thread. */
bool ls_output_ctx_request_clip(const struct ls_output_ctx *ctx, int64_t n, unsigned cam, const char *what);

/** Exports slots @n1..@n2 (inclusive) of @cameras (NULL-terminated; NULL:
 *  every camera) from the recording to a new directory named @name under
 *  the recorder's exports, now, on the caller's thread (seconds of I/O).
 *  0 and @json filled with the clip's object ({"dir","manifest",
 *  "first_slot","last_slot","frames"}), or a negative errno and *err one
 *  line. */
typedef int (*ls_export_fn)(void *user, const char *const *cameras, int64_t n1, int64_t n2, const char *name,
			    GString *json, char **err);
/** The recorder offers exports (at most one provider). */
void ls_output_ctx_provide_export(struct ls_output_ctx *ctx, ls_export_fn fn, void *user);
/** -ENOTSUP (and *err) when nothing records; else as ls_export_fn. Any thread. */
int ls_output_ctx_export(const struct ls_output_ctx *ctx, const char *const *cameras, int64_t n1, int64_t n2,
			 const char *name, GString *json, char **err);

/* ---- run control -------------------------------------------------------- */
enum ls_run_command {
	LS_RUN_START, /**< start emitting framesets at slot time @at_ns (the first slot is the one at or after it) */
	LS_RUN_STOP,  /**< end the run after the slot at @at_ns (0: now) */
};
/** The rig's answer to a command: 0, or a negative errno and *err one line
 *  (a start when the run already started, a time in the past). */
typedef int (*ls_run_control_fn)(void *user, enum ls_run_command cmd, int64_t at_ns, char **err);
/** The rig provides it, before outputs are made. */
void ls_output_ctx_provide_run_control(struct ls_output_ctx *ctx, ls_run_control_fn fn, void *user);
/** From an output's create(): the run emits no frameset until a START
 *  command came (the cameras run, their frames are dropped as warm-up). */
void ls_output_ctx_hold_start(struct ls_output_ctx *ctx);
bool ls_output_ctx_start_held(const struct ls_output_ctx *ctx);
/** Any thread. -ENOTSUP when the rig gave no control. */
int ls_output_ctx_run_control(const struct ls_output_ctx *ctx, enum ls_run_command cmd, int64_t at_ns, char **err);

/* ---- source taps ------------------------------------------------------- */
/** Taps camera @cam's encoded stream before decoding (udp:// and rtsp://
 *  H.264); false when it has none. From create() only. */
bool ls_output_ctx_tap(struct ls_output_ctx *ctx, unsigned cam, ls_output_tap_fn fn, void *user);

/* ---- statistics and events --------------------------------------------- */
/** @json: one object, no newline; valid during the call only. */
typedef void (*ls_json_fn)(void *user, const char *json);
void ls_output_ctx_subscribe_stats(struct ls_output_ctx *ctx, ls_json_fn fn, void *user);
/** The rig's per-second record, on the rig's stats writer thread. */
void ls_output_ctx_publish_stats(const struct ls_output_ctx *ctx, const char *json);
void ls_output_ctx_subscribe_events(struct ls_output_ctx *ctx, ls_json_fn fn, void *user);
/** An event: @kind ("camera-down", "clip-ready", ...), @fields a JSON
 *  object's members without braces ("\"camera\":\"a\"", may be empty).
 *  Subscribers get {"schema":"lockstep.event/1","kind":...,"time_ns":...,
 *  FIELDS}. Any thread; serialised, so subscribers see one at a time. */
void ls_output_ctx_event(const struct ls_output_ctx *ctx, const char *kind, const char *fields);

#endif
