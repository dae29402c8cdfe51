/* rtp_capture — capture times that arrive with the video, per frame, in the
 * RFC 6051 64-bit NTP RTP header extension (urn:ietf:params:rtp-hdrext:
 * ntp-64; lockstep's [output rtsp] sends it on every packet).
 *
 * A probe on the depayloader's input reads the extension of each packet
 * and keeps, for the last 64 frames, the buffer timestamp (PTS) the
 * jitterbuffer gave the frame's packets and the capture time the sender
 * wrote. The decoded frame keeps that PTS (no B-frames are reordered
 * across it in what lockstep sends), so the source looks the capture time
 * up by PTS. Reading the packets ourselves, rather than the reference
 * timestamp meta GStreamer 1.22's depayloaders may add, is what makes it
 * exact: 1.22's rtph264depay drops that meta on the frames it aggregates,
 * and rtspsrc's own meta comes from RTCP sender reports, which map RTP
 * time to the sender's *send* time (13 ms after capture, measured).
 *
 * Threads: the probe runs on the RTP streaming thread, lookups on the
 * decoder's; a mutex held for a copy protects the table. */
#ifndef LS_RTP_CAPTURE_H
#define LS_RTP_CAPTURE_H

#include <gst/gst.h>
#include <stdbool.h>
#include <stdint.h>

struct ls_rtp_capture;

/** Adds the probe to every RTP depayloader in @pipeline (a bin's direct
 *  children). Returns the table (the caller frees it after the pipeline is
 *  NULL and unreferenced), or NULL when the pipeline has no depayloader. */
struct ls_rtp_capture *ls_rtp_capture_attach(GstElement *pipeline);
/** The capture time (CLOCK_REALTIME ns) the sender gave the frame with
 *  timestamp @pts, if one of the last 64 frames had it. */
bool ls_rtp_capture_lookup(struct ls_rtp_capture *rc, GstClockTime pts, int64_t *capture_ns);
/** Frames seen with the extension so far (for tests and stats). */
uint64_t ls_rtp_capture_frames(const struct ls_rtp_capture *rc);
/** NULL-safe; sets *rc to NULL. */
void ls_rtp_capture_free(struct ls_rtp_capture **rc);

#endif
