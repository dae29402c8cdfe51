/* source — one camera: a GStreamer pipeline (or lockstep's own pacing
 * thread for test://) that stamps every frame on the shared clock and hands
 * it to the aligner through an SPSC ring.
 *
 * Capture time, per kind (all on CLOCK_REALTIME ns):
 *  - test://  the simulated camera's stamp (ls_testcam): firing time on its
 *             own drifting clock, plus jitter;
 *  - others   the pipeline runs on a GstSystemClock of type REALTIME, so a
 *             buffer's capture time is base_time + its running time
 *             (gst_segment_to_running_time of its PTS). v4l2src stamps the
 *             driver's capture time, ximagesrc the clock at grab time,
 *             udpsrc/rtpjitterbuffer the arrival time;
 *  - rtsp     when the camera sends RTCP sender reports, rtspsrc attaches a
 *             timestamp/x-ntp reference meta: the camera's own NTP time of
 *             capture, used instead (converted from the 1900 epoch);
 *  - file     realtime=true: paced by the clock, so base_time + running time
 *             is when the frame is shown; realtime=false: start time +
 *             running time, faster than real time (the rig then runs on
 *             event time, see rig.h).
 *
 * Threads: new/start/stop/free and the bus watch run on the main thread
 * (the GLib main loop). Frames are produced on the source's streaming
 * thread, the only producer of its ring and its frame pool. */
#ifndef LS_SOURCE_H
#define LS_SOURCE_H

#include <gst/gst.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "ls_doorbell.h"
#include "ls_spsc.h"

enum ls_source_state {
	LS_SOURCE_IDLE = 0,
	LS_SOURCE_STARTING,     /**< pipeline started, no frame yet */
	LS_SOURCE_RUNNING,      /**< frames flowing */
	LS_SOURCE_RECONNECTING, /**< failed; a restart is scheduled */
	LS_SOURCE_ENDED,        /**< end of a file that does not loop */
};

struct ls_source_counters {
	uint64_t frames;       /**< delivered into the ring */
	uint64_t ring_full;    /**< dropped: the aligner thread was behind */
	uint64_t pool_empty;   /**< dropped: every frame of the pool was held */
	uint64_t camera_drops; /**< test://: frames the simulated camera lost */
	uint64_t reconnects;
	int64_t last_capture_ns; /**< capture time of the newest frame, 0 before */
	uint64_t outages;        /**< times the camera went down after delivering frames (the one under way included) */
	int64_t outage_ns;       /**< their total length, from the last frame before each to the first after, ns */
	int64_t down_ns;         /**< how long the outage under way has lasted, ns; 0: up */
};

struct ls_source;

/** Creates the source of camera @cam (no I/O yet). @ring and @bell belong to
 *  the rig and outlive the source. @blocking: when the ring is full, wait
 *  instead of dropping (event-time runs of files). NULL + *err on failure. */
struct ls_source *ls_source_new(unsigned cam, const struct ls_camera_config *cc, struct ls_spsc *ring,
				struct ls_doorbell *bell, unsigned pool_frames, bool blocking, char **err);
/** The rig's slot grid. A file's frame 0 maps to @first_start_ns (a slot
 *  time the rig picks once for all its files, so they start on the same
 *  slot; 0: the source picks one), paced or on event time; after a restart
 *  the source picks the next slot time. @offset_ns: the camera's calibrated offset, for
 *  the slot a frame is drawn with (pattern=clock). Call before
 *  ls_source_start(). */
void ls_source_set_schedule(struct ls_source *s, struct ls_rate rate, int64_t epoch_ns, int64_t offset_ns,
			    int64_t first_start_ns);
struct ls_redact_stage;
/** Redacts every frame with @stage (owned by the source from now on) before
 *  it reaches the aligner. Call before ls_source_start(). */
void ls_source_set_redact(struct ls_source *s, struct ls_redact_stage *stage);
/** Called when an outage of the camera starts (it had delivered frames and
 *  failed or went silent), on the main thread, before it is retried: the
 *  rig reports "camera-down" at once rather than at its next record. Set
 *  before the camera starts. */
typedef void (*ls_source_outage_fn)(void *user, struct ls_source *s);
void ls_source_set_outage_fn(struct ls_source *s, ls_source_outage_fn fn, void *user);
/** Receives each H.264 access unit of the camera's own stream (byte-stream,
 *  SPS/PPS before every IDR, decode order) on the tap's streaming thread,
 *  with its caps and the capture time its decoded frame gets. */
typedef void (*ls_source_es_fn)(void *user, GstBuffer *au, GstCaps *caps, int64_t capture_ns);
/** Taps the camera's H.264 before decoding (udp:// and rtsp:// H.264 only;
 *  false otherwise). Call before ls_source_start(). Frames still flow. */
bool ls_source_set_es_tap(struct ls_source *s, ls_source_es_fn fn, void *user);
/** Starts it. A camera that fails now is reported and retried with backoff,
 *  like one that fails later; returns < 0 only for errors that retrying
 *  cannot fix (a pipeline that cannot be built), with *err set. */
int ls_source_start(struct ls_source *s, char **err);
/** Stops streaming and joins its thread; frames already delivered stay
 *  valid (the pool outlives the source). */
void ls_source_stop(struct ls_source *s);
void ls_source_free(struct ls_source **s);

enum ls_source_state ls_source_state(const struct ls_source *s);
const char *ls_source_state_name(enum ls_source_state st);
void ls_source_counters(const struct ls_source *s, struct ls_source_counters *out);
const char *ls_source_name(const struct ls_source *s);

/** Opens the camera, waits up to @timeout_ms for its first frame, closes
 *  it. Returns 0, or < 0 with *err a one-line reason. For `lockstep check`. */
int ls_source_probe(const struct ls_camera_config *cc, int timeout_ms, char **err);

#endif
