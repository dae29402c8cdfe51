/* The [detect] stage, run as an output of the rig: it gets every frameset
 * through its own bounded queue (ls_setq: when detection falls behind, the
 * oldest queued set is dropped and counted, so detection never stalls the
 * aligner or another output), runs the detector on worker threads (one ONNX
 * Runtime session each, intra-op threads 1) and emits one JSON line per
 * detected frameset, in slot order, to a file or stdout. The latest boxes
 * per camera go on a board the mosaic output draws from.
 *
 * Order: a worker takes a ticket when it pops a set and publishes its
 * result only when every earlier ticket is published, so JSON lines (and,
 * once merged, the tracker) see framesets in increasing slot order while
 * inference itself runs in parallel. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "detect.h"
#include "output.h"

struct detect_out {
	struct ls_detect_config dc; /* borrowed from the config */
	struct ls_detector *det;
	struct ls_detect_board *board; /* not owned, may be NULL */
	const char **names;
	unsigned ncams;
	unsigned nworkers;
	struct ls_detect_worker **workers;
	GThread **threads;
	struct ls_setq *q;
	FILE *out;
	bool out_is_stdout;

	GMutex lock;      /* pop + ticket, and the publishing turn */
	GCond turn;
	uint64_t next_ticket, next_publish;
	/* counters (under lock) */
	uint64_t sets, skipped, empty, cam_frames, detections, failures;
	int64_t run_ns, total_ns;
	bool error_logged;
};

unsigned ls_detect_threads(const struct ls_detect_config *dc)
{
	if (dc->threads)
		return dc->threads;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 4 ? 4 : (unsigned)n;
}

void *ls_detect_out_new(const struct ls_config *cfg, struct ls_detect_board *board, char **err)
{
	const struct ls_detect_config *dc = cfg->detect;
	if (dc->motion_gate) {
		/* MOTION GATE INTEGRATION POINT (1/2): accept motion-gate=on once
		 * lib/ls_motion is merged; create one motion detector per camera
		 * here. */
		*err = g_strdup("motion-gate=on: the motion detector is not part of this build yet; use motion-gate=off");
		return NULL;
	}
	struct detect_out *o = g_new0(struct detect_out, 1);
	g_mutex_init(&o->lock);
	g_cond_init(&o->turn);
	o->dc = *dc;
	o->board = board;
	o->ncams = cfg->ncams;
	o->names = g_new0(const char *, cfg->ncams);
	for (unsigned c = 0; c < cfg->ncams; c++)
		o->names[c] = cfg->cams[c].name;
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
	g_printerr("[detect] %s: ONNX Runtime %s (API %d), provider %s, input %dx%d%s, %u session%s\n", dc->model, ver, api,
		   ls_detector_provider(o->det), w, h, batched ? ", cameras batched" : "", o->nworkers,
		   o->nworkers == 1 ? "" : "s");
	return o;
fail:
	ls_detect_out_ops.free(o);
	return NULL;
}

static gpointer worker_main(gpointer data)
{
	struct detect_out *o = ((void **)data)[0];
	struct ls_detect_worker *w = ((void **)data)[1];
	g_free(data);
	struct ls_detect_result *r = ls_detect_result_new(o->det);
	GString *line = g_string_new(NULL);
	bool *active = g_new(bool, o->ncams);
	for (;;) {
		g_mutex_lock(&o->lock);
		struct ls_frameset *set = ls_setq_pop(o->q, INT64_MAX);
		if (!set) {
			g_mutex_unlock(&o->lock);
			break;
		}
		if (set->npresent == 0 || set->n % (int64_t)o->dc.every_n != 0) {
			/* nothing new to look at (held frames were detected when
			 * they were present), or not a slot every-n picks */
			if (set->npresent == 0)
				o->empty++;
			else
				o->skipped++;
			g_mutex_unlock(&o->lock);
			ls_frameset_unref(&set);
			continue;
		}
		uint64_t ticket = o->next_ticket++;
		g_mutex_unlock(&o->lock);

		for (unsigned c = 0; c < o->ncams; c++)
			active[c] = true;
		/* MOTION GATE INTEGRATION POINT (2/2): set active[c] = false for
		 * cameras whose motion detector saw nothing in set->entries[c]
		 * (their frames are then neither preprocessed nor inferred). */
		char *err = NULL;
		int rc = ls_detect_worker_run(w, set, active, r, &err);
		ls_frameset_unref(&set);

		g_mutex_lock(&o->lock);
		while (o->next_publish != ticket)
			g_cond_wait(&o->turn, &o->lock);
		if (rc < 0) {
			o->failures++;
			if (!o->error_logged)
				g_printerr("[detect] %s (further failures are only counted)\n", err);
			o->error_logged = true;
		} else {
			/* TRACKER INTEGRATION POINT: here, in slot order, for each
			 * camera c with r->ran[c]: update camera c's tracker with
			 * r->dets[c * r->max_dets .. + r->count[c]) at
			 * r->capture_ns[c] and write the ids into r->track_id[...]
			 * (-1 stays JSON null). */
			o->sets++;
			for (unsigned c = 0; c < o->ncams; c++) {
				o->cam_frames += r->ran[c];
				o->detections += (uint64_t)r->count[c];
			}
			if (o->board)
				ls_detect_board_put(o->board, r);
			if (o->out) {
				g_string_truncate(line, 0);
				ls_detect_result_json(o->det, r, o->names, line);
				fwrite(line->str, 1, line->len, o->out);
				fflush(o->out);
			}
		}
		g_free(err);
		o->next_publish++;
		g_cond_broadcast(&o->turn);
		g_mutex_unlock(&o->lock);
	}
	g_mutex_lock(&o->lock);
	int64_t rn = 0, tn = 0;
	ls_detect_worker_times(w, &rn, &tn);
	o->run_ns += rn;
	o->total_ns += tn;
	g_mutex_unlock(&o->lock);
	g_string_free(line, TRUE);
	g_free(active);
	ls_detect_result_free(&r);
	return NULL;
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
	g_printerr("[detect] %llu framesets (%llu camera frames), %llu detections, %llu skipped by every-n, "
		   "%llu without a new frame, %llu dropped while behind, %llu failed; %.1f ms per frameset (%.1f in "
		   "ONNX Runtime)\n",
		   (unsigned long long)o->sets, (unsigned long long)o->cam_frames, (unsigned long long)o->detections,
		   (unsigned long long)o->skipped, (unsigned long long)o->empty, (unsigned long long)(o->q ? ls_setq_dropped(o->q) : 0),
		   (unsigned long long)o->failures, o->sets ? (double)o->total_ns / 1e6 / (double)o->sets : 0.0,
		   o->sets ? (double)o->run_ns / 1e6 / (double)o->sets : 0.0);
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
	for (unsigned i = 0; o->workers && i < o->nworkers; i++)
		ls_detect_worker_free(&o->workers[i]);
	g_free(o->workers);
	ls_detector_free(&o->det);
	if (o->out && !o->out_is_stdout)
		fclose(o->out);
	g_free(o->names);
	g_mutex_clear(&o->lock);
	g_cond_clear(&o->turn);
	g_free(o);
}

const struct ls_output_ops ls_detect_out_ops = {
	.kind = "detect",
	.start = detect_start,
	.finish = detect_finish,
	.free = detect_free,
};
