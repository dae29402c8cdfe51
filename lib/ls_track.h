/* ls_track — a multi-object tracker for one camera, in the manner of SORT and
 * ByteTrack: a constant-velocity Kalman filter per track, optimal IoU
 * association (Hungarian), two association stages (confident detections
 * first, then the weak ones against tracks that would otherwise be lost).
 *
 * Each track's state is its box centre and size (cx, cy, w, h) and their
 * velocities. The four coordinates are filtered independently (the model
 * and noise matrices are block-diagonal, so four 2 x 2 filters are the exact
 * 8-state filter); the noise scales with the box height, as in ByteTrack.
 *
 * One update, for detections of one frame:
 *  1. every track is predicted to the frame's time;
 *  2. detections with score >= high are matched to confirmed tracks: first
 *     to those matched in the previous update, then to coasting ones (the
 *     cascade of DeepSORT: at a crossing where one object hides the other,
 *     the visible one keeps its detection);
 *  3. detections with low <= score < high are matched to the confirmed
 *     tracks that were seen in the previous update and are still unmatched
 *     (a partly hidden object keeps its track on a weak detection);
 *  4. the confident detections left are matched to tentative tracks; a
 *     tentative track not matched is dropped;
 *  5. confident detections still left start tentative tracks, confirmed
 *     after @min_hits matches in a row; a confirmed track not matched coasts on its
 *     velocity and is dropped after @max_age updates without a match.
 * A stage matches only detections and tracks of the same class, and only
 * pairs with IoU >= its threshold; among those it maximises the sum of
 * (IoU - threshold + 0.011), with the Hungarian method (exact; greedy
 * matching by IoU is not, at crossings). A coasting track's cost carries
 * 0.001 per update lost (up to 10) to break ties in favour of recent ones.
 *
 * A frame on which the detector did not run because nothing moved (a
 * motion gate) is given with ls_tracker_hold(): tracks stay where they are
 * and are not counted as missed, but they age in capture time and go once
 * their last match is more than @max_hold_ns old.
 *
 * A track gets its id when it is confirmed: ids start at 1, go up by one
 * per confirmed track (a false positive that never confirms uses none), and
 * are never reused by a tracker.
 * Threads: a tracker belongs to one thread at a time. Memory: everything is
 * allocated by ls_tracker_new; updates allocate nothing. */
#ifndef LS_TRACK_H
#define LS_TRACK_H

#include <stdint.h>

struct ls_tracker;

/** One detection: a box in pixels (x, y the top-left corner). */
struct ls_track_det {
	float x, y, w, h;
	float score; /* 0..1 */
	int cls;     /* class id; tracks never change class */
};

/** A confirmed track as returned by an update. */
struct ls_track_out {
	uint64_t id; /* stable, >= 1 */
	int cls;
	float x, y, w, h; /* the filtered box, pixels */
	float vx, vy;     /* centre velocity, pixels per update (per nominal frame when frame_ns > 0) */
	float score;      /* the score of the detection last matched */
	int det;          /* index of the detection matched in this update, -1 when coasting */
	int hits;         /* detections matched since the track started */
	int lost;         /* updates since the last match (0: matched now) */
};

/** Parameters. A field left at 0 takes the default given here, so
 *  `(struct ls_tracker_params){0}` is a usable configuration. */
struct ls_tracker_params {
	float high;          /* confident detections, stage 2 and births; default 0.5 */
	float low;           /* weakest detection used at all (stage 3); default 0.1 */
	float iou_high;      /* IoU needed in stages 2 and 4; default 0.3 */
	float iou_low;       /* IoU needed in stage 3; default 0.5 */
	int min_hits;        /* matches in a row that confirm a track; default 3 */
	int max_age;         /* updates a confirmed track coasts without a match; default 30 */
	int max_tracks;      /* live tracks at most (births beyond are refused); default 256 */
	int max_dets;        /* detections per update at most; default 256 */
	int64_t frame_ns;    /* nominal frame interval: when > 0 the prediction step is
			    * (t_ns - previous t_ns) / frame_ns frames, so skipped frames are
			    * bridged; default 0: one step per update */
	int output_lost;     /* 1: also return confirmed tracks that are coasting (det = -1);
			    * default 0: only tracks matched in this update */
	int64_t max_hold_ns; /* ls_tracker_hold() drops a track whose last match is more than
			      * this old (capture time, ns); default 60 s */
};

/** A tracker with @p (NULL: all defaults). NULL with errno EINVAL when a
 *  parameter is out of range, ENOMEM when out of memory. */
struct ls_tracker *ls_tracker_new(const struct ls_tracker_params *p);
/** Sets *t to NULL. */
void ls_tracker_free(struct ls_tracker **t);

/** The default of max_hold_ns: 60 s. */
#define LS_TRACKER_MAX_HOLD_NS (INT64_C(60) * 1000000000)

/** Updates with the @n detections @dets of one frame taken at @t_ns and
 *  writes up to @max confirmed tracks to @out, in ascending id order (when
 *  there are more, those born first).
 *  Detections below `low`, or with w or h <= 0 or not finite, are ignored.
 *  Returns the number of tracks written, or -EINVAL (@n < 0, @n > 0 with
 *  NULL @dets, @max > 0 with NULL @out, @t_ns earlier than the previous
 *  update's or hold's), -E2BIG (@n > max_dets); the tracker is unchanged
 *  on error. */
int ls_tracker_update(struct ls_tracker *t, const struct ls_track_det *dets, int n, int64_t t_ns,
		      struct ls_track_out *out, int max);

/** A frame taken at @t_ns that was not detected on because the scene did
 *  not change (the motion gate was closed). Every track stays where it is
 *  and its velocity becomes zero (nothing moved); no track is counted as
 *  missed (no detector ran, so absence is not evidence): a still object
 *  keeps its id through a gated stretch. Tracks still age in capture time:
 *  one whose last match is more than max_hold_ns old is dropped. The next update
 *  predicts from @t_ns, not from the last update, so a long gated stretch
 *  is not bridged with a stale velocity.
 *  Returns the number of live tracks, or -EINVAL (@t_ns earlier than the
 *  previous update's or hold's; the tracker is unchanged). */
int ls_tracker_hold(struct ls_tracker *t, int64_t t_ns);

/** Live tracks (tentative, confirmed and coasting). */
int ls_tracker_count(const struct ls_tracker *t);

/** The parameters in use, defaults filled in. */
void ls_tracker_get_params(const struct ls_tracker *t, struct ls_tracker_params *p);

/** Intersection over union of two boxes (0 when either is empty). */
float ls_iou(float ax, float ay, float aw, float ah, float bx, float by, float bw, float bh);

#endif
