/* The [detect] stage, run as an output of the rig: it gets every frameset
 * through its own bounded queue (ls_setq: when detection falls behind, the
 * oldest queued set is dropped and counted, so detection never stalls the
 * aligner or another output), runs the detector on worker threads (one ONNX
 * Runtime session each, intra-op threads 1) and emits one JSON line per
 * detected frameset, in slot order, to a file or stdout. The latest boxes
 * per camera are published on the context's detections service (the
 * mosaic draws them).
 *
 * Order: a worker takes a ticket when it pops a set and publishes its
 * result only when every earlier ticket is published, so JSON lines and the
 * trackers see framesets in increasing slot order while inference itself
 * runs in parallel.
 *
 * motion-gate=on: one ls_motion per camera sees the luma plane of every new
 * frame (every-n does not thin it), in slot order: a second ticket, taken
 * with the first under the pop lock, orders a short pre-stage (feeding the
 * detectors, under its own lock) before the parallel part. A camera whose
 * gate is closed is neither preprocessed nor inferred; its JSON entry says
 * "gated":true, its boxes leave the board, and its tracker is told the
 * frame was held (ls_tracker_hold: nothing moved, so its tracks stay where
 * they are and are not counted as missed, but they age in capture time and
 * go 60 s after their last match).
 *
 * Tracking: one ls_tracker per camera, updated in the publishing turn with
 * the camera's detections at the frame's capture time (frame_ns = the slot
 * period, so every-n and gated stretches are bridged by the prediction).
 *
 * Clip events (clip-on=): a new confirmed track of a listed class, or a
 * camera's motion gate opening, is posted to the context's clip-request
 * service; the recorder owns the clips (clips.h: it extends, waits for
 * the post-roll and exports them), so detection never waits for a clip and
 * never touches the recording. */

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "detect.h"
#include "ls_motion.h"
#include "ls_stats.h"
#include "ls_time.h"
#include "ls_track.h"
#include "output.h"

/* What the stage did with one camera's new frames, for --stats-json. Each
 * field has one writer at a time (the lock named) and one reader without
 * a lock, the rig's aligner thread (detect_stats_json): relaxed atomics,
 * so a record's fields may be a set apart from each other. */
struct cam_counters {
	atomic_uint_fast64_t inferred; /* run through the detector (publishing turn, under lock) */
	atomic_uint_fast64_t gated;    /* on a slot every-n picks, kept from it by the closed gate (idem) */
	atomic_uint_fast64_t every_n;  /* on a slot every-n skips (at pop, under lock) */
	atomic_uint_fast64_t openings; /* gate openings (motion pre-stage, under mlock) */
};

/* Bucket bounds of the inference histogram (ns): a small model on a GPU
 * takes ms, a large one on a CPU seconds. */
static const int64_t inference_le_ns[] = {
	1 * LS_NS_PER_MS,   2500 * LS_NS_PER_US, 5 * LS_NS_PER_MS,    10 * LS_NS_PER_MS,
	25 * LS_NS_PER_MS,  50 * LS_NS_PER_MS,   100 * LS_NS_PER_MS,  250 * LS_NS_PER_MS,
	500 * LS_NS_PER_MS, 1 * LS_NS_PER_SEC,   2500 * LS_NS_PER_MS, 5 * LS_NS_PER_SEC,
};

struct detect_out {
	struct ls_detect_config dc; /* borrowed from the config */
	struct ls_detector *det;
	struct ls_output_ctx *ctx; /* services: detections out, clip requests */
	const char **names;
	unsigned ncams;
	unsigned nworkers;
	struct ls_detect_worker **workers;
	GThread **threads;
	struct ls_setq *q;
	FILE *out;
	bool out_is_stdout;

	GMutex lock; /* pop + ticket, and the publishing turn */
	GCond turn;
	uint64_t next_ticket, next_publish;
	/* counters (under lock) */
	uint64_t sets, skipped, empty, cam_frames, detections, failures;
	int64_t run_ns, total_ns;
	struct cam_counters *cc;  /* ncams, for --stats-json */
	struct ls_hist inference; /* ONNX Run() time per inferred frameset (ns); atomics: workers add, stats read */
	bool error_logged;

	/* motion gate (NULL without): the ordered pre-stage */
	struct ls_motion **motion;
	bool *motion_on;         /* the gate's last state per camera (under mlock) */
	bool *motion_bad_logged; /* a frame the detector could not read was logged */
	GMutex mlock;
	GCond mturn;
	uint64_t next_mticket, next_mfeed;                /* next_mticket under lock */
	uint64_t gated_frames, gated_sets, motion_events; /* gated_* under lock, motion_events under mlock */

	/* trackers, used in the publishing turn only */
	struct ls_tracker **trackers;
	struct ls_track_det *tdets;
	struct ls_track_out *touts;
	uint64_t *max_id; /* highest track id seen per camera */
	/* the tracks each camera's tracker reported last (id, class), for
	 * "track-ended" events: ncams * max_dets, publishing turn only */
	uint64_t *live_id;
	int *live_cls, *nlive;
	uint64_t tracks; /* confirmed tracks */

	/* clip events (clip-on=): asked of the recorder through the context */
	bool clips;
	char *clip_dir; /* for the start line */
};

static unsigned ls_detect_threads(const struct ls_detect_config *dc)
{
	if (dc->threads)
		return dc->threads;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 4 ? 4 : (unsigned)n;
}

/* Beyond its queue: one set in each worker's hands (the rig counts one). */
static unsigned detect_held(const struct ls_config *cfg, const void *group) { return ls_detect_threads(group) - 1; }

static void *detect_new(struct ls_output_ctx *ctx, const void *group, char **err)
{
	const struct ls_config *cfg = ls_output_ctx_config(ctx);
	const struct ls_detect_config *dc = group;
	struct detect_out *o = g_new0(struct detect_out, 1);
	g_mutex_init(&o->lock);
	g_cond_init(&o->turn);
	g_mutex_init(&o->mlock);
	g_cond_init(&o->mturn);
	o->dc = *dc;
	o->ctx = ctx;
	o->ncams = cfg->ncams;
	o->names = g_new0(const char *, cfg->ncams + 1); /* NULL-terminated: the clip's camera list */
	for (unsigned c = 0; c < cfg->ncams; c++)
		o->names[c] = cfg->cams[c].name;
	o->cc = g_new(struct cam_counters, o->ncams);
	for (unsigned c = 0; c < o->ncams; c++) {
		atomic_init(&o->cc[c].inferred, 0);
		atomic_init(&o->cc[c].gated, 0);
		atomic_init(&o->cc[c].every_n, 0);
		atomic_init(&o->cc[c].openings, 0);
	}
	ls_hist_init(&o->inference, inference_le_ns, G_N_ELEMENTS(inference_le_ns));
	if (dc->motion_gate) {
		o->motion = g_new0(struct ls_motion *, o->ncams);
		o->motion_on = g_new0(bool, o->ncams);
		o->motion_bad_logged = g_new0(bool, o->ncams);
		for (unsigned c = 0; c < o->ncams; c++) {
			o->motion[c] = ls_motion_new(NULL);
			if (!o->motion[c]) {
				*err = g_strdup_printf("motion-gate: cannot make a motion detector: %s",
						       g_strerror(errno));
				goto fail;
			}
		}
	}
	struct ls_tracker_params tp = {
		.max_dets = (int)dc->max_dets,
		.max_tracks = dc->max_dets > 256 ? (int)dc->max_dets : 256,
		.frame_ns = ls_rate_period_ns(cfg->rate),
	};
	o->trackers = g_new0(struct ls_tracker *, o->ncams);
	for (unsigned c = 0; c < o->ncams; c++) {
		o->trackers[c] = ls_tracker_new(&tp);
		if (!o->trackers[c]) {
			*err = g_strdup_printf("cannot make a tracker: %s", g_strerror(errno));
			goto fail;
		}
	}
	o->tdets = g_new(struct ls_track_det, dc->max_dets);
	o->touts = g_new(struct ls_track_out, dc->max_dets);
	o->max_id = g_new0(uint64_t, o->ncams);
	o->live_id = g_new0(uint64_t, (size_t)o->ncams * dc->max_dets);
	o->live_cls = g_new0(int, (size_t)o->ncams * dc->max_dets);
	o->nlive = g_new0(int, o->ncams);
	if (dc->clip_any && cfg->record) {
		/* the recorder cuts them; the directory is checked here, where
		 * clip-dir is configured */
		o->clips = true;
		o->clip_dir = dc->clip_dir ? g_strdup(dc->clip_dir) : g_build_filename(cfg->record->dir, "clips", NULL);
		if (g_mkdir_with_parents(o->clip_dir, 0755) < 0) {
			*err = g_strdup_printf("clip-dir %s: cannot create: %s", o->clip_dir, g_strerror(errno));
			goto fail;
		}
	}
	o->det = ls_detector_new(dc, cfg->ncams, err);
	if (!o->det)
		goto fail;
	o->nworkers = ls_detect_threads(dc);
	o->workers = g_new0(struct ls_detect_worker *, o->nworkers);
	for (unsigned i = 0; i < o->nworkers; i++) {
		o->workers[i] = ls_detect_worker_new(o->det, err);
		if (!o->workers[i])
			goto fail;
	}
	if (dc->output && strcmp(dc->output, "-") == 0) {
		o->out = stdout;
		o->out_is_stdout = true;
	} else if (dc->output) {
		o->out = fopen(dc->output, "w");
		if (!o->out) {
			*err = g_strdup_printf("output=%s: cannot write: %s", dc->output, g_strerror(errno));
			goto fail;
		}
	}
	int api = 0;
	const char *ver = ls_detector_ort_version(o->det, &api);
	int w = 0, h = 0;
	bool batched = false;
	ls_detector_input(o->det, &w, &h, &batched);
	g_printerr("[detect] %s: ONNX Runtime %s (API %d), provider %s, input %dx%d%s, %u session%s%s%s%s\n", dc->model,
		   ver, api, ls_detector_provider(o->det), w, h, batched ? ", cameras batched" : "", o->nworkers,
		   o->nworkers == 1 ? "" : "s", o->motion ? ", motion gate" : "", o->clips ? ", clips to " : "",
		   o->clips ? o->clip_dir : "");
	return o;
fail:
	ls_detect_out_ops.free(o);
	return NULL;
}

/* ---- the stage ----------------------------------------------------------- */

/* The motion pre-stage for @set, in slot order (ticket @mt): feeds every
 * camera's new frame to its detector and fills @mres; @active[c] is true
 * where the gate is open (or the frame cannot be read: fail open). */
static void motion_stage(struct detect_out *o, uint64_t mt, const struct ls_frameset *set,
			 struct ls_motion_result *mres, bool *active)
{
	g_mutex_lock(&o->mlock);
	while (o->next_mfeed != mt)
		g_cond_wait(&o->mturn, &o->mlock);
	for (unsigned c = 0; c < o->ncams; c++) {
		const struct ls_entry *e = &set->entries[c];
		memset(&mres[c], 0, sizeof mres[c]);
		active[c] = false;
		if (e->state != LS_ENTRY_PRESENT || !e->frame)
			continue;
		const struct ls_frame *f = e->frame;
		int rc = -EINVAL;
		if (f->format == LS_FMT_I420 || f->format == LS_FMT_NV12 || f->format == LS_FMT_GRAY8)
			rc = ls_motion_feed(o->motion[c], f->planes[0], f->width, f->height, f->strides[0],
					    f->capture_ns, &mres[c]);
		if (rc < 0) {
			if (!o->motion_bad_logged[c])
				g_printerr(
					"[detect] camera %s: the motion detector cannot read this frame (%s %dx%d: %s); "
					"detecting on every frame of it\n",
					o->names[c], ls_pixfmt_name(f->format), f->width, f->height, g_strerror(-rc));
			o->motion_bad_logged[c] = true;
			mres[c].motion = true;
		}
		active[c] = mres[c].motion;
		if (mres[c].motion != o->motion_on[c] && rc == 0) {
			char ev[128];
			snprintf(ev, sizeof ev, "\"camera\":\"%s\",\"slot\":%lld", o->names[c], (long long)set->n);
			ls_output_ctx_event(o->ctx, mres[c].motion ? "motion-on" : "motion-off", ev);
		}
		if (mres[c].motion && !o->motion_on[c] && rc == 0) {
			o->motion_events++;
			atomic_fetch_add_explicit(&o->cc[c].openings, 1, memory_order_relaxed);
			if (o->clips && o->dc.clip_motion)
				ls_output_ctx_request_clip(o->ctx, set->n, c, "motion");
		}
		o->motion_on[c] = mres[c].motion;
	}
	o->next_mfeed++;
	g_cond_broadcast(&o->mturn);
	g_mutex_unlock(&o->mlock);
}

static const char *class_name_of(const void *det, int cls) { return ls_detector_class_name(det, cls); }

/* The events service: a track of camera @c started or ended at slot @n
 * (@t: its box, or NULL). Camera names need no escaping (config.c allows
 * A-Z a-z 0-9 _ . - only); class names come from the model's list. */
static void track_event(struct detect_out *o, const char *kind, int64_t n, unsigned c, uint64_t id, int cls,
			const struct ls_track_out *t)
{
	GString *f = g_string_sized_new(160);
	g_string_append_printf(f, "\"camera\":\"%s\",\"slot\":%lld,\"track\":%llu,\"class\":\"", o->names[c],
			       (long long)n, (unsigned long long)id);
	for (const char *p = ls_detector_class_name(o->det, cls); p && *p; p++)
		if (*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
			g_string_append_c(f, *p);
	g_string_append_c(f, '"');
	if (t)
		g_string_append_printf(f, ",\"score\":%.3f,\"box\":[%.1f,%.1f,%.1f,%.1f]", t->score, t->x, t->y, t->w,
				       t->h);
	ls_output_ctx_event(o->ctx, kind, f->str);
	g_string_free(f, TRUE);
}

/* Tracks camera @c's tracker reported before and not in its @k new
 * outputs (o->touts) have ended; the new outputs become the live ones. */
static void track_events_ended(struct detect_out *o, const struct ls_detect_result *r, unsigned c, int k)
{
	uint64_t *live = o->live_id + (size_t)c * o->dc.max_dets;
	int *cls = o->live_cls + (size_t)c * o->dc.max_dets;
	for (int i = 0; i < o->nlive[c]; i++) {
		bool still = false;
		for (int j = 0; j < k && !still; j++)
			still = o->touts[j].id == live[i];
		if (!still)
			track_event(o, "track-ended", r->n, c, live[i], cls[i], NULL);
	}
	o->nlive[c] = 0;
	for (int j = 0; j < k && j < (int)o->dc.max_dets; j++) {
		live[o->nlive[c]] = o->touts[j].id;
		cls[o->nlive[c]++] = o->touts[j].cls;
	}
}

/* The publishing turn's tracking: updates camera @c's tracker with its
 * detections, writes the ids into @r, raises clip events for new tracks. */
static void track_camera(struct detect_out *o, struct ls_detect_result *r, unsigned c)
{
	const struct ls_det *d = r->dets + (size_t)c * r->max_dets;
	int n = r->count[c];
	for (int i = 0; i < n; i++)
		o->tdets[i] = (struct ls_track_det){
			.x = d[i].x1,
			.y = d[i].y1,
			.w = d[i].x2 - d[i].x1,
			.h = d[i].y2 - d[i].y1,
			.score = d[i].score,
			.cls = d[i].cls,
		};
	int k = ls_tracker_update(o->trackers[c], o->tdets, n, r->capture_ns[c], o->touts, (int)o->dc.max_dets);
	if (k < 0)
		return; /* a capture time before the previous (a source restarted): no ids this frame */
	track_events_ended(o, r, c, k);
	for (int i = 0; i < k; i++) {
		const struct ls_track_out *t = &o->touts[i];
		if (t->det >= 0 && t->det < n)
			r->track_id[(size_t)c * r->max_dets + (size_t)t->det] = (int64_t)t->id;
		if (t->id <= o->max_id[c])
			continue;
		o->max_id[c] = t->id;
		o->tracks++;
		track_event(o, "track-started", r->n, c, t->id, t->cls, t);
		bool want = o->clips && t->cls >= 0 && t->cls < 256 &&
			    (o->dc.clip_classes[t->cls / 8] & (1u << (t->cls % 8)));
		if (want) {
			char what[64];
			snprintf(what, sizeof what, "%s-%llu", ls_detector_class_name(o->det, t->cls),
				 (unsigned long long)t->id);
			ls_output_ctx_request_clip(o->ctx, r->n, c, what);
		}
	}
}

static gpointer worker_main(gpointer data)
{
	struct detect_out *o = ((void **)data)[0];
	struct ls_detect_worker *w = ((void **)data)[1];
	g_free(data);
	struct ls_detect_result *r = ls_detect_result_new(o->det);
	GString *line = g_string_new(NULL);
	bool *active = g_new(bool, o->ncams);
	bool *gated = g_new0(bool, o->ncams);
	struct ls_motion_result *mres = o->motion ? g_new0(struct ls_motion_result, o->ncams) : NULL;
	for (;;) {
		g_mutex_lock(&o->lock);
		struct ls_frameset *set = ls_setq_pop(o->q, INT64_MAX);
		if (!set) {
			g_mutex_unlock(&o->lock);
			break;
		}
		if (set->npresent == 0) {
			/* nothing new to look at (held frames were detected
			 * when they were present) */
			o->empty++;
			g_mutex_unlock(&o->lock);
			ls_frameset_unref(&set);
			continue;
		}
		/* the motion detectors see every new frame; every-n thins
		 * only what is detected */
		uint64_t mt = o->motion ? o->next_mticket++ : 0;
		bool pick = set->n % (int64_t)o->dc.every_n == 0;
		uint64_t ticket = pick ? o->next_ticket++ : 0;
		if (!pick) {
			o->skipped++;
			for (unsigned c = 0; c < o->ncams; c++)
				if (set->entries[c].state == LS_ENTRY_PRESENT && set->entries[c].frame)
					atomic_fetch_add_explicit(&o->cc[c].every_n, 1, memory_order_relaxed);
		}
		g_mutex_unlock(&o->lock);

		if (o->motion)
			motion_stage(o, mt, set, mres, active);
		else
			for (unsigned c = 0; c < o->ncams; c++)
				active[c] = true;
		if (!pick) {
			ls_frameset_unref(&set);
			continue;
		}
		unsigned nactive = 0, ngated = 0;
		for (unsigned c = 0; c < o->ncams; c++) {
			bool present = set->entries[c].state == LS_ENTRY_PRESENT && set->entries[c].frame;
			gated[c] = present && !active[c];
			nactive += present && active[c];
			ngated += gated[c];
		}
		char *err = NULL;
		int64_t run0, run1, tot;
		ls_detect_worker_times(w, &run0, &tot);
		int rc = ls_detect_worker_run(w, set, active, r, &err);
		ls_detect_worker_times(w, &run1, &tot);
		if (rc >= 0 && nactive > 0)
			ls_hist_add(&o->inference, run1 - run0);
		r->gated = o->motion ? gated : NULL;
		r->motion = mres;
		for (unsigned c = 0; c < o->ncams; c++)
			if (gated[c])
				r->capture_ns[c] = set->entries[c].frame->capture_ns;
		r->set = set; /* held through the publishing turn: subscribers may copy pixels */

		g_mutex_lock(&o->lock);
		while (o->next_publish != ticket)
			g_cond_wait(&o->turn, &o->lock);
		if (rc < 0) {
			o->failures++;
			if (!o->error_logged)
				g_printerr("[detect] %s (further failures are only counted)\n", err);
			o->error_logged = true;
		} else {
			o->sets++;
			o->gated_frames += ngated;
			o->gated_sets += nactive == 0;
			for (unsigned c = 0; c < o->ncams; c++) {
				o->cam_frames += r->ran[c];
				o->detections += (uint64_t)r->count[c];
				if (r->ran[c]) {
					atomic_fetch_add_explicit(&o->cc[c].inferred, 1, memory_order_relaxed);
					track_camera(o, r, c);
				} else if (gated[c]) {
					/* nothing moved: tracks stay, and age in
					 * capture time (an error is a capture time
					 * before the previous: ignored, as in
					 * track_camera) */
					atomic_fetch_add_explicit(&o->cc[c].gated, 1, memory_order_relaxed);
					(void)ls_tracker_hold(o->trackers[c], r->capture_ns[c]);
				}
			}
			g_string_truncate(line, 0);
			ls_detect_result_json(o->det, r, o->names, line);
			r->json = line->str;
			r->json_len = line->len - 1; /* without its newline */
			r->class_name = class_name_of;
			r->namer = o->det;
			ls_output_ctx_publish_detections(o->ctx, r);
			r->json = NULL;
			if (o->out) {
				fwrite(line->str, 1, line->len, o->out);
				fflush(o->out);
			}
		}
		g_free(err);
		o->next_publish++;
		g_cond_broadcast(&o->turn);
		g_mutex_unlock(&o->lock);
		r->set = NULL;
		ls_frameset_unref(&set);
	}
	g_mutex_lock(&o->lock);
	int64_t rn = 0, tn = 0;
	ls_detect_worker_times(w, &rn, &tn);
	o->run_ns += rn;
	o->total_ns += tn;
	g_mutex_unlock(&o->lock);
	g_string_free(line, TRUE);
	g_free(active);
	g_free(gated);
	g_free(mres);
	ls_detect_result_free(&r);
	return NULL;
}

/* --stats-json, on the rig's aligner thread: appends
 * ,"motion_gate":B,"cameras":{"NAME":{"inferred":I,"gated":G,
 * "every_n_skipped":E,"gate_openings":K},...},"inference_hist":H with H
 * the time in ONNX Runtime's Run() per inferred frameset since the start
 * (ls_hist_json, in ms). Atomics only: never waits on a worker. Camera
 * names need no escaping (config.c allows A-Z a-z 0-9 _ . - only). */
static void detect_stats_json(void *impl, GString *j)
{
	struct detect_out *o = impl;
	g_string_append_printf(j, ",\"motion_gate\":%s,\"cameras\":{", o->motion ? "true" : "false");
	for (unsigned c = 0; c < o->ncams; c++) {
		const struct cam_counters *k = &o->cc[c];
		g_string_append_printf(
			j,
			"%s\"%s\":{\"inferred\":%llu,\"gated\":%llu,\"every_n_skipped\":%llu,\"gate_openings\":%llu}",
			c ? "," : "", o->names[c],
			(unsigned long long)atomic_load_explicit(&k->inferred, memory_order_relaxed),
			(unsigned long long)atomic_load_explicit(&k->gated, memory_order_relaxed),
			(unsigned long long)atomic_load_explicit(&k->every_n, memory_order_relaxed),
			(unsigned long long)atomic_load_explicit(&k->openings, memory_order_relaxed));
	}
	char hist[1024];
	ls_hist_json(&o->inference, "ms", 1e6, hist, sizeof hist);
	g_string_append_printf(j, "},\"inference_hist\":%s", hist);
}

static int detect_start(void *impl, struct ls_setq *q, char **err)
{
	struct detect_out *o = impl;
	(void)err;
	o->q = q;
	o->threads = g_new0(GThread *, o->nworkers);
	for (unsigned i = 0; i < o->nworkers; i++) {
		void **arg = g_new(void *, 2);
		arg[0] = o;
		arg[1] = o->workers[i];
		o->threads[i] = g_thread_new("detect", worker_main, arg);
	}
	return 0;
}

static void detect_finish(void *impl)
{
	struct detect_out *o = impl;
	for (unsigned i = 0; o->threads && i < o->nworkers; i++)
		g_thread_join(o->threads[i]);
	g_clear_pointer(&o->threads, g_free);
	uint64_t inferred = o->sets - o->gated_sets;
	g_printerr(
		"[detect] %llu framesets (%llu camera frames), %llu detections, %llu tracks, %llu skipped by every-n, "
		"%llu without a new frame, %llu dropped while behind, %llu failed; %.1f ms per inferred frameset (%.1f in "
		"ONNX Runtime)\n",
		(unsigned long long)o->sets, (unsigned long long)o->cam_frames, (unsigned long long)o->detections,
		(unsigned long long)o->tracks, (unsigned long long)o->skipped, (unsigned long long)o->empty,
		(unsigned long long)(o->q ? ls_setq_dropped(o->q) : 0), (unsigned long long)o->failures,
		inferred ? (double)o->total_ns / 1e6 / (double)inferred : 0.0,
		inferred ? (double)o->run_ns / 1e6 / (double)inferred : 0.0);
	if (o->motion)
		g_printerr("[detect] motion gate: %llu camera frames gated, %llu of %llu framesets without inference, "
			   "%llu gate openings\n",
			   (unsigned long long)o->gated_frames, (unsigned long long)o->gated_sets,
			   (unsigned long long)o->sets, (unsigned long long)o->motion_events);
	if (o->out && !o->out_is_stdout)
		fclose(o->out);
	else if (o->out)
		fflush(o->out);
	o->out = NULL;
}

static void detect_free(void *impl)
{
	struct detect_out *o = impl;
	if (!o)
		return;
	g_free(o->clip_dir);
	for (unsigned c2 = 0; o->motion && c2 < o->ncams; c2++)
		ls_motion_free(&o->motion[c2]);
	g_free(o->motion);
	g_free(o->motion_on);
	g_free(o->motion_bad_logged);
	for (unsigned c2 = 0; o->trackers && c2 < o->ncams; c2++)
		ls_tracker_free(&o->trackers[c2]);
	g_free(o->trackers);
	g_free(o->tdets);
	g_free(o->touts);
	g_free(o->max_id);
	g_free(o->live_id);
	g_free(o->live_cls);
	g_free(o->nlive);
	for (unsigned i = 0; o->workers && i < o->nworkers; i++)
		ls_detect_worker_free(&o->workers[i]);
	g_free(o->workers);
	ls_detector_free(&o->det);
	if (o->out && !o->out_is_stdout)
		fclose(o->out);
	g_free(o->names);
	g_free(o->cc);
	g_mutex_clear(&o->lock);
	g_cond_clear(&o->turn);
	g_mutex_clear(&o->mlock);
	g_cond_clear(&o->mturn);
	g_free(o);
}

const struct ls_output_ops ls_detect_out_ops = {
	.kind = "detect",
	.create = detect_new,
	.sets_held = detect_held,
	.frames_held = detect_held,
	.start = detect_start,
	.finish = detect_finish,
	.free = detect_free,
	.stats_json = detect_stats_json,
};
