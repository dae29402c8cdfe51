/* source_private — what source.c shares with the files that read a camera
 * kind with lockstep's own thread (test_pacer.c, fbdev.c). Not for other
 * modules: they use source.h. */
#ifndef LS_SOURCE_PRIVATE_H
#define LS_SOURCE_PRIVATE_H

#include <gst/gst.h>
#include <gst/video/video.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "ls_frame.h"
#include "ls_testcam.h"
#include "source.h"
#include "rtp_capture.h"
#include "source_spec.h"

/* What a frame keeps alive: the mapped video frame (which holds a reference
 * on its buffer). Lives in the frame's preallocated priv area. */
struct payload {
	GstVideoFrame vf;
};

struct ls_source {
	unsigned cam;
	char *name;
	struct ls_source_spec spec;     /* owned copy */
	struct ls_spsc *ring;           /* not owned; producer side is ours */
	struct ls_doorbell *bell;       /* not owned */
	struct ls_frame_pool *pool;     /* owned reference */
	struct ls_redact_stage *redact; /* owned; NULL: frames pass as they are */
	bool blocking;
	struct ls_rate rig_rate; /* to start paced files on the slot grid */
	int64_t rig_epoch_ns;
	int64_t offset_ns;      /* the camera's calibrated offset (slot n of a frame: ls_slot_index) */
	bool clock_pattern;     /* test://?pattern=clock: draw the slot and capture time (ls_stamp.h) */
	int64_t first_start_ns; /* slot time every file's frame 0 maps to, the first time; 0: none */
	unsigned starts;        /* pipeline starts so far (main thread) */

	GstElement *pipeline;          /* main thread */
	struct ls_rtp_capture *rtpcap; /* rtsp/udp: capture times read from the packets (rtp_capture.h), or NULL */
	GPtrArray *abandoned; /* x11: pipelines whose thread was held when their X server was lost (never freed) */
	atomic_ulong stream_thread; /* pthread_t of the thread that delivers frames (x11: the one in Xlib) */
	GstElement *appsink;
	GstElement *esink;     /* the H.264 tap's appsink, or NULL */
	ls_source_es_fn es_fn; /* called on the tap's streaming thread */
	void *es_user;
	ls_source_outage_fn outage_fn; /* main thread, when an outage starts */
	void *outage_user;
	GstClock *clock; /* REALTIME system clock */
	guint bus_watch;
	guint retry_timer;
	guint watchdog;                   /* WATCHDOG_MS: restarts a camera that went silent */
	unsigned backoff_ms;              /* the next retry's wait */
	unsigned backoff_max_ms;          /* retry-max-s */
	int64_t stall_ns;                 /* stall-s */
	int64_t started_ns;               /* CLOCK_REALTIME at the last start */
	int64_t started_mono_ns;          /* CLOCK_MONOTONIC at the last start */
	_Atomic int64_t virtual_start_ns; /* realtime=false files: stamp of running time 0 (set again at each loop) */

	/* fbdev:// reader: the device (or file) and its geometry */
	int fb_fd;
	int fb_w, fb_h, fb_bytespp, fb_stride;
	off_t fb_offset;
	char fb_format[16];
	GstElement *fbsrc;

	/* test:// pacing and fbdev:// reading thread */
	GThread *thread;
	struct ls_testcam model;

	atomic_int state; /* enum ls_source_state */
	atomic_bool stopping;
	/* counters: written by the streaming thread, read by anyone */
	atomic_uint_fast64_t frames, ring_full, pool_empty, camera_drops, reconnects;
	atomic_int_fast64_t last_capture_ns;
	atomic_int_fast64_t last_frame_mono; /* CLOCK_MONOTONIC of the last frame */
	/* Outages: a camera that delivered frames and then failed is "down"
	 * from its last frame until its next one. down_since_mono (the last
	 * frame's CLOCK_MONOTONIC, 0: not down) and down_last_capture are set
	 * by the main thread when it declares the camera down, and taken by the
	 * streaming thread on the first frame back. */
	atomic_int_fast64_t down_since_mono, down_last_capture;
	atomic_uint_fast64_t outages;  /* outages that ended */
	atomic_int_fast64_t outage_ns; /* their total length */
};

/** Wraps @buf (transfer full) into a frame stamped @capture_ns and hands it
 *  to the aligner's ring. The camera's streaming (or pacing) thread. */
void ls_source_deliver(struct ls_source *s, GstBuffer *buf, const GstVideoInfo *info, int64_t capture_ns);
/** test://: the pacing thread (started by ls_source_start). */
gpointer ls_source_test_thread(gpointer data);
/** fbdev://: opens the device or file and learns its geometry (false and
 *  *err on failure); the reading thread. */
bool ls_source_fb_open(struct ls_source *s, char **err);
gpointer ls_source_fb_thread(gpointer data);

#endif
