/* playback — single frames of a recording (the [record] segments,
 * recorder.h) as JPEG pictures, fast enough to play them: the console's
 * synchronized player asks every camera for the same slot, 30 times a
 * second, and seeks anywhere.
 *
 * Per camera a small cache of decoders (at most LS_PLAYBACK_DECODERS), each
 * positioned in one segment file:
 *   reader:  filesrc ! tsdemux ! h264parse ! appsink   (access units, no decoding)
 *   decoder: appsrc ! avdec_h264 ! videoconvert ! appsink   (I420)
 *   jpeg:    appsrc ! videoscale ! videoconvert ! jpegenc ! appsink
 * A request for a later slot of the same segment decodes forward from where
 * the decoder is (playback costs one decode per frame); any other request
 * (a seek) reads the segment's access units from its start without decoding
 * them up to the keyframe at or before the slot, and decodes from there (at
 * most one GOP). A frame's slot is its segment's first slot plus its
 * presentation time over the rig's period, so reordered frames (B-frames)
 * land right. The last picture of each decoder is kept, so asking for the
 * same slot again (a paused player redrawing) costs nothing.
 *
 * Threads: any thread may call ls_playback_jpeg (the server's worker
 * pool, at nice 10; the pipelines' streaming threads too: decoding for a
 * browser gives way to the rig); each decoder is used by one caller at a time (`lock`), so two
 * callers for the same camera use two decoders. */
#ifndef LS_PLAYBACK_H
#define LS_PLAYBACK_H

#include <glib.h>
#include <stdint.h>

#include "config.h"
#include "recorder.h"

#define LS_PLAYBACK_DECODERS 2 /* per camera: the server's worker threads */

struct ls_playback;

/** A cache for the recording in @dir (the [record] dir) of a rig at @rate. */
struct ls_playback *ls_playback_new(const char *dir, struct ls_rate rate);
/** Frees every decoder; no call may be running. NULL-safe. */
void ls_playback_free(struct ls_playback **p);

/** The picture of slot @n of segment @seg (a row of the index: its camera,
 *  path, first and last slot and keyframes; @n in it and not a repeat) as a
 *  JPEG at most @max_w pixels wide (0: as recorded; never scaled up).
 *  0 with *jpeg (transfer full); -ENOENT when the segment holds no picture
 *  for @n (a file cut short), -EIO when it cannot be read or decoded,
 *  with *err one line naming the file. */
int ls_playback_jpeg(struct ls_playback *p, const struct ls_rec_segment *seg, int64_t n, int max_w, GBytes **jpeg,
		     char **err);

#endif
