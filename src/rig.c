#include "rig.h"

#include <errno.h>
#include <glib-unix.h>
#include <gst/gst.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "clock.h"
#include "ls_aligner.h"
#include "ls_doorbell.h"
#include "ls_spsc.h"
#include "ls_stats.h"
#include "output.h"
#include "redact.h"
#include "source.h"
#include "values.h"

#define RING_FRAMES 64
#define PCTL_SAMPLES 4096
#define PHASE_SAMPLES 256 /* per camera and second: a camera's frame rate, with room */

/* Bucket bounds of the cumulative histograms in the stats record (ns),
 * written as "skew_hist" (µs) and "latency_hist" (ms). Skew of a set on
 * one clock is µs to a few ms, tens of ms when a camera drifts; latency
 * (slot time to emission) is a few ms up to max-latency-ms, seconds when
 * something stalls. */
static const int64_t skew_le_ns[] = {
	10 * LS_NS_PER_US,  25 * LS_NS_PER_US, 50 * LS_NS_PER_US,   100 * LS_NS_PER_US, 250 * LS_NS_PER_US,
	500 * LS_NS_PER_US, 1 * LS_NS_PER_MS,  2500 * LS_NS_PER_US, 5 * LS_NS_PER_MS,   10 * LS_NS_PER_MS,
	25 * LS_NS_PER_MS,  50 * LS_NS_PER_MS, 100 * LS_NS_PER_MS,
};
static const int64_t latency_le_ns[] = {
	1 * LS_NS_PER_MS,    2500 * LS_NS_PER_US, 5 * LS_NS_PER_MS,   10 * LS_NS_PER_MS,  25 * LS_NS_PER_MS,
	50 * LS_NS_PER_MS,   100 * LS_NS_PER_MS,  250 * LS_NS_PER_MS, 500 * LS_NS_PER_MS, 1 * LS_NS_PER_SEC,
	2500 * LS_NS_PER_MS, 5 * LS_NS_PER_SEC,   10 * LS_NS_PER_SEC,
};

struct rig {
	const struct ls_config *cfg;
	const struct ls_rig_opts *opts;
	unsigned ncams;
	struct ls_spsc **rings;
	struct ls_source **sources;
	struct ls_output *outputs;
	unsigned noutputs;
	struct ls_output_ctx *ctx; /* services the outputs share (output_ctx.h) */
	int *cam_said; /* CAM_SAID_*: what the events service last said of each camera (atomic: aligner and main thread) */
	uint64_t *cam_outages; /* each camera's outages at the last stats record (aligner thread) */
	struct ls_doorbell bell;
	struct ls_aligner *al;
	bool event_time;

	GThread *aligner_thread;
	atomic_bool stop;
	GMainLoop *loop;

	/* aligner thread only */
	bool started;
	int64_t run_start_ns;
	bool *seen_first;
	int64_t *last_pop_mono; /* CLOCK_MONOTONIC of each camera's last frame */
	int64_t event_clock;    /* event time: calibrated time of the last frame taken */
	struct ls_pctl skew, latency;
	struct ls_pctl *phase; /* per camera: capture - slot time of its present frames this second */
	struct ls_pctl *delay; /* per camera: arrival - capture time (this rig's clock against the camera's) */
	uint64_t warmup_frames;
	/* since the start, for /metrics (written here, read by the stats tick) */
	struct ls_hist skew_hist, latency_hist;
	/* each camera's redaction stage (NULL: none); borrowed: its source owns
	 * it and outlives the aligner thread */
	struct ls_redact_stage **redact;

	/* run control (output_ctx.h): a START the run waits for (when an output
	 * holds the start) and a STOP at a slot; written by the command's
	 * thread, read by the aligner */
	atomic_int_fast64_t start_at_ns; /* INT64_MIN: no START yet */
	atomic_int_fast64_t stop_slot;   /* INT64_MAX: none */
	bool hold_start;                 /* set before the sources start */

	struct ls_clock_service *clock; /* [clock] */
	uint64_t *unsynced;             /* per camera: frames taken while the clock was not synced (aligner thread) */

	/* stats writer */
	GAsyncQueue *lines; /* gchar*: "S<status>" / "J<json>"; "" = end */
	GThread *writer;
	FILE *json;
	int exit_code;
};

static void on_set(struct ls_frameset *set, void *user)
{
	struct rig *r = user;
	if (set->n > atomic_load(&r->stop_slot)) {
		ls_frameset_unref(&set); /* past a STOP's slot: the run ends there */
		return;
	}
	if (set->npresent >= 2) {
		ls_pctl_add(&r->skew, set->skew_ns);
		ls_hist_add(&r->skew_hist, set->skew_ns);
	}
	ls_pctl_add(&r->latency, set->emit_ns - set->slot_ns);
	ls_hist_add(&r->latency_hist, set->emit_ns - set->slot_ns);
	/* the console's "distance from the slot": raw capture time (the
	 * camera's offset included) minus the slot's time */
	for (unsigned c = 0; c < set->ncams && c < r->ncams; c++)
		if (set->entries[c].state == LS_ENTRY_PRESENT && set->entries[c].frame) {
			const struct ls_frame *f = set->entries[c].frame;
			ls_pctl_add(&r->phase[c], f->capture_ns - set->slot_ns);
			ls_pctl_add(&r->delay[c], f->arrival_ns - f->capture_ns);
		}
	for (unsigned i = 0; i < r->noutputs; i++)
		ls_setq_push(r->outputs[i].q, ls_frameset_ref(set));
	ls_frameset_unref(&set);
}

static void camera_event(struct rig *r, unsigned c, enum ls_source_state st, const struct ls_source_counters *sc);

/* Builds the per-second record; aligner thread. The strings go to the
 * writer thread. */
static void stats_tick(struct rig *r, int64_t now, bool final)
{
	struct ls_aligner_counters k;
	uint64_t missing[r->ncams];
	ls_aligner_counters(r->al, &k, missing);
	int64_t s50, s99, smax, l50, l99, lmax;
	ls_pctl_get(&r->skew, &s50, &s99, &smax);
	ls_pctl_get(&r->latency, &l50, &l99, &lmax);
	uint64_t out_dropped = 0;
	for (unsigned i = 0; i < r->noutputs; i++)
		out_dropped += ls_setq_dropped(r->outputs[i].q);

	GString *j = g_string_new("{");
	int64_t wall = ls_realtime_ns();
	time_t secs = (time_t)(wall / LS_NS_PER_SEC);
	struct tm tm;
	char iso[32];
	gmtime_r(&secs, &tm);
	strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%S", &tm);
	g_string_append_printf(j, "\"time\":\"%s.%03dZ\",\"final\":%s,\"slot\":%lld,", iso,
			       (int)(wall % LS_NS_PER_SEC / LS_NS_PER_MS), final ? "true" : "false",
			       k.last_slot == INT64_MIN ? -1LL : (long long)k.last_slot);
	g_string_append_printf(j,
			       "\"sets\":%llu,\"complete\":%llu,\"partial\":%llu,\"dropped_slots\":%llu,"
			       "\"aligner_dropped\":%llu,\"late\":%llu,\"off_slot\":%llu,\"superseded\":%llu,"
			       "\"future\":%llu,\"forced\":%llu,\"warmup\":%llu,",
			       (unsigned long long)k.sets, (unsigned long long)k.complete,
			       (unsigned long long)k.partial, (unsigned long long)(k.dropped_slots + out_dropped),
			       (unsigned long long)k.dropped_slots, (unsigned long long)k.late,
			       (unsigned long long)k.off_slot, (unsigned long long)k.superseded,
			       (unsigned long long)k.future, (unsigned long long)k.forced,
			       (unsigned long long)(k.early + r->warmup_frames));
	g_string_append(j, "\"missing\":{");
	GString *miss_txt = g_string_new("");
	for (unsigned c = 0; c < r->ncams; c++) {
		ls_json_str(j, r->cfg->cams[c].name);
		g_string_append_printf(j, ":%llu%s", (unsigned long long)missing[c], c + 1 < r->ncams ? "," : "");
		if (missing[c])
			g_string_append_printf(miss_txt, " %s=%llu", r->cfg->cams[c].name,
					       (unsigned long long)missing[c]);
	}
	g_string_append(j, "},\"cameras\":{");
	GString *cam_txt = g_string_new("");
	for (unsigned c = 0; c < r->ncams; c++) {
		struct ls_source_counters sc;
		ls_source_counters(r->sources[c], &sc);
		enum ls_source_state st = ls_source_state(r->sources[c]);
		camera_event(r, c, st, &sc);
		ls_json_str(j, r->cfg->cams[c].name);
		g_string_append_printf(j,
				       ":{\"state\":\"%s\",\"frames\":%llu,\"ring_full\":%llu,\"pool_empty\":%llu,"
				       "\"camera_drops\":%llu,\"reconnects\":%llu,\"outages\":%llu,\"outage_s\":%.3f,"
				       "\"down_s\":%.3f",
				       ls_source_state_name(st), (unsigned long long)sc.frames,
				       (unsigned long long)sc.ring_full, (unsigned long long)sc.pool_empty,
				       (unsigned long long)sc.camera_drops, (unsigned long long)sc.reconnects,
				       (unsigned long long)sc.outages, (double)sc.outage_ns / 1e9,
				       (double)sc.down_ns / 1e9);
		/* phase: p50 of capture - slot time over the second, in ms; null
		 * without a frame in a set this second */
		int64_t p50, p99, pmax;
		bool any = r->phase[c].n > 0;
		ls_pctl_get(&r->phase[c], &p50, &p99, &pmax);
		ls_pctl_reset(&r->phase[c]);
		if (any)
			g_string_append_printf(j, ",\"phase_ms\":%.3f", (double)p50 / 1e6);
		else
			g_string_append(j, ",\"phase_ms\":null");
		/* delay: p50 of arrival - capture time; a camera of another
		 * host whose clock is off shows it here */
		any = r->delay[c].n > 0;
		ls_pctl_get(&r->delay[c], &p50, &p99, &pmax);
		ls_pctl_reset(&r->delay[c]);
		if (any)
			g_string_append_printf(j, ",\"delay_ms\":%.3f", (double)p50 / 1e6);
		else
			g_string_append(j, ",\"delay_ms\":null");
		if (r->redact[c])
			ls_redact_stage_stats_json(r->redact[c], j);
		g_string_append_printf(j, ",\"unsynced\":%llu", (unsigned long long)r->unsynced[c]);
		g_string_append(j, c + 1 < r->ncams ? "}," : "}");
		if (st != LS_SOURCE_RUNNING)
			g_string_append_printf(cam_txt, " %s:%s", r->cfg->cams[c].name, ls_source_state_name(st));
	}
	g_string_append(j, "},");
	if (r->clock) {
		ls_clock_service_stats_json(r->clock, j);
		g_string_append_c(j, ',');
	}
	g_string_append(j, "\"outputs\":{");
	for (unsigned i = 0; i < r->noutputs; i++) {
		ls_json_str(j, r->outputs[i].name);
		g_string_append_printf(j, ":{\"dropped\":%llu", (unsigned long long)ls_setq_dropped(r->outputs[i].q));
		if (r->outputs[i].ops->stats_json)
			r->outputs[i].ops->stats_json(r->outputs[i].impl, j);
		g_string_append(j, i + 1 < r->noutputs ? "}," : "}");
	}
	g_string_append_printf(j,
			       "},\"skew_us\":{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f},"
			       "\"latency_ms\":{\"p50\":%.2f,\"p99\":%.2f,\"max\":%.2f},",
			       s50 / 1e3, s99 / 1e3, smax / 1e3, l50 / 1e6, l99 / 1e6, lmax / 1e6);
	/* since the start: "skew_hist" in µs, "latency_hist" in ms (ls_hist_json) */
	char hist[1024];
	ls_hist_json(&r->skew_hist, "us", 1e3, hist, sizeof hist);
	g_string_append_printf(j, "\"skew_hist\":%s,", hist);
	ls_hist_json(&r->latency_hist, "ms", 1e6, hist, sizeof hist);
	g_string_append_printf(j, "\"latency_hist\":%s}", hist);
	char *status = g_strdup_printf(
		"S%sslot %lld | sets %llu (%llu complete, %llu partial) dropped %llu | skew p50/p99/max %.2f/%.2f/%.2f ms "
		"| latency p50/p99/max %.1f/%.1f/%.1f ms%s%s%s%s",
		r->event_time ? "[event time] " : "", k.last_slot == INT64_MIN ? -1LL : (long long)k.last_slot,
		(unsigned long long)k.sets, (unsigned long long)k.complete, (unsigned long long)k.partial,
		(unsigned long long)(k.dropped_slots + out_dropped), s50 / 1e6, s99 / 1e6, smax / 1e6, l50 / 1e6,
		l99 / 1e6, lmax / 1e6, miss_txt->len ? " | missing" : "", miss_txt->str, cam_txt->len ? " |" : "",
		cam_txt->str);
	g_string_free(miss_txt, TRUE);
	g_string_free(cam_txt, TRUE);
	g_string_prepend_c(j, 'J');
	g_async_queue_push(r->lines, status);
	g_async_queue_push(r->lines, g_string_free(j, FALSE));
	ls_pctl_reset(&r->skew);
	ls_pctl_reset(&r->latency);
	(void)now;
}

/* A redacting camera's events (its streaming thread), to the events
 * service once the context exists (outputs are made before sources start). */
static void redact_event(void *user, const char *kind, const char *fields)
{
	struct rig *r = user;
	if (r->ctx)
		ls_output_ctx_event(r->ctx, kind, fields);
}

/* What the events service last said of a camera (rig.cam_said). */
enum { CAM_SAID_NOTHING = 0, CAM_SAID_UP, CAM_SAID_DOWN };

static void camera_said(struct rig *r, unsigned c, const char *kind, enum ls_source_state st,
			const struct ls_source_counters *sc)
{
	GString *f = g_string_new("\"camera\":");
	ls_json_str(f, r->cfg->cams[c].name);
	g_string_append_printf(f, ",\"state\":\"%s\",\"outages\":%llu,\"outage_s\":%.3f", ls_source_state_name(st),
			       (unsigned long long)sc->outages, (double)sc->outage_ns / 1e9);
	ls_output_ctx_event(r->ctx, kind, f->str);
	g_string_free(f, TRUE);
}

/* The events service: a camera that went down or came back since the last
 * record (aligner thread, once a second). Down is an outage under way
 * (the source's watchdog or a failure started one: its state may read
 * reconnecting or, while a new connection is tried, starting) or a file
 * that ended; up is frames flowing with no outage. An outage that began
 * and ended between two records (its count grew) is reported as a down
 * and an up. Each change is said once: cam_said moves by compare-and-swap,
 * as on_outage (main thread) may have said "down" first. */
static void camera_event(struct rig *r, unsigned c, enum ls_source_state st, const struct ls_source_counters *sc)
{
	bool down = sc->down_ns > 0 || st == LS_SOURCE_RECONNECTING || st == LS_SOURCE_ENDED;
	bool up = st == LS_SOURCE_RUNNING && !down;
	uint64_t before = r->cam_outages[c];
	r->cam_outages[c] = sc->outages;
	int said = g_atomic_int_get(&r->cam_said[c]);
	if (up && said == CAM_SAID_UP && sc->outages > before) {
		camera_said(r, c, "camera-down", st, sc);
		camera_said(r, c, "camera-up", st, sc);
	} else if (down && said != CAM_SAID_DOWN) {
		if (g_atomic_int_compare_and_exchange(&r->cam_said[c], said, CAM_SAID_DOWN))
			camera_said(r, c, "camera-down", st, sc);
	} else if (up && said != CAM_SAID_UP) {
		if (g_atomic_int_compare_and_exchange(&r->cam_said[c], said, CAM_SAID_UP))
			camera_said(r, c, "camera-up", st, sc);
	}
}

/* A camera's outage started (main thread, ls_source_set_outage_fn): said
 * at once, not at the next record. */
static void on_outage(void *user, struct ls_source *s)
{
	struct rig *r = user;
	for (unsigned c = 0; c < r->ncams; c++) {
		if (r->sources[c] != s)
			continue;
		int said = g_atomic_int_get(&r->cam_said[c]);
		if (said == CAM_SAID_DOWN || !r->ctx ||
		    !g_atomic_int_compare_and_exchange(&r->cam_said[c], said, CAM_SAID_DOWN))
			return;
		struct ls_source_counters sc;
		ls_source_counters(s, &sc);
		camera_said(r, c, "camera-down", ls_source_state(s), &sc);
		return;
	}
}

static gpointer writer_main(gpointer data)
{
	struct rig *r = data;
	for (;;) {
		char *line = g_async_queue_pop(r->lines);
		if (!*line) {
			g_free(line);
			break;
		}
		if (line[0] == 'S' && !r->opts->quiet)
			fprintf(stderr, "%s\n", line + 1);
		else if (line[0] == 'J') {
			if (r->json) {
				fprintf(r->json, "%s\n", line + 1);
				fflush(r->json);
			}
			ls_output_ctx_publish_stats(r->ctx, line + 1);
		}
		g_free(line);
	}
	return NULL;
}

static void take(struct rig *r, unsigned c, struct ls_frame *f, int64_t now)
{
	r->last_pop_mono[c] = ls_monotonic_ns();
	int64_t stop = atomic_load(&r->stop_slot);
	if (stop != INT64_MAX &&
	    ls_slot_index(f->capture_ns, r->cfg->epoch_ns, r->cfg->cams[c].offset_ns, r->cfg->rate) > stop) {
		ls_frame_unref(&f); /* past the slot a STOP named: the run ends there */
		return;
	}
	if (!r->started && r->event_time) {
		/* event time: the merge already waited for every camera, so the
		 * first frame's own slot is the first slot; nothing is discarded */
		ls_aligner_start(r->al, ls_slot_index(now, r->cfg->epoch_ns, 0, r->cfg->rate));
		r->started = true;
	}
	if (f->unsynced)
		r->unsynced[c]++;
	if (!r->started) {
		r->seen_first[c] = true;
		r->warmup_frames++;
		ls_frame_unref(&f);
		return;
	}
	ls_aligner_push(r->al, f, now);
}

/* Real time: moves every frame from the rings into the aligner. */
static void drain(struct rig *r, int64_t now)
{
	for (unsigned c = 0; c < r->ncams; c++) {
		struct ls_frame *f;
		while ((f = ls_spsc_pop(r->rings[c])))
			take(r, c, f, now);
	}
}

/* Event time: merges the rings in capture order. The oldest head frame goes
 * next, but only while every camera still delivering has a frame queued
 * (one with nothing queued might still send an older one). A camera silent
 * for 2 s of wall time, or ended, no longer holds the others back. The event
 * clock is the calibrated time of the last frame taken. */
static void drain_event(struct rig *r)
{
	int64_t mono = ls_monotonic_ns();
	for (;;) {
		int best = -1;
		int64_t bu = INT64_MAX;
		for (unsigned c = 0; c < r->ncams; c++) {
			struct ls_frame *f = ls_spsc_peek(r->rings[c]);
			if (f) {
				int64_t u = f->capture_ns - r->cfg->cams[c].offset_ns;
				if (u < bu) {
					bu = u;
					best = (int)c;
				}
				continue;
			}
			bool silent = mono - (r->last_pop_mono[c] ? r->last_pop_mono[c] : r->run_start_ns) >
				      2 * LS_NS_PER_SEC;
			if (ls_source_state(r->sources[c]) != LS_SOURCE_ENDED && !silent)
				return; /* wait for this camera */
		}
		if (best < 0)
			return;
		if (bu > r->event_clock)
			r->event_clock = bu;
		take(r, (unsigned)best, ls_spsc_pop(r->rings[best]), r->event_clock);
	}
}

static void maybe_start(struct rig *r, int64_t now)
{
	if (r->started || now == INT64_MIN)
		return;
	if (r->hold_start) {
		/* a START names the first slot; its frames may arrive from half a
		 * slot before its time (tolerance) */
		int64_t at = atomic_load(&r->start_at_ns);
		if (at == INT64_MIN)
			return;
		int64_t n0 = ls_slot_index(at, r->cfg->epoch_ns, 0, r->cfg->rate);
		if (ls_slot_time(n0, r->cfg->epoch_ns, r->cfg->rate) < at)
			n0++;
		if (now < ls_slot_time(n0, r->cfg->epoch_ns, r->cfg->rate) - r->cfg->tolerance_ns)
			return;
		int64_t first = ls_slot_index(now, r->cfg->epoch_ns, 0, r->cfg->rate) + 1;
		if (n0 < first - 1)
			g_printerr("lockstep: started late: at slot %lld, not %lld\n", (long long)first, (long long)n0);
		ls_aligner_start(r->al, n0 >= first - 1 ? n0 : first);
		r->started = true;
		return;
	}
	bool all = true;
	for (unsigned c = 0; c < r->ncams; c++)
		all = all && r->seen_first[c];
	if (!all && ls_monotonic_ns() - r->run_start_ns < r->cfg->startup_ns)
		return;
	if (!all)
		for (unsigned c = 0; c < r->ncams; c++)
			if (!r->seen_first[c])
				g_printerr("camera %s: no frame within startup-ms; starting without it\n",
					   r->cfg->cams[c].name);
	/* the first slot whose frames can all still arrive */
	ls_aligner_start(r->al, ls_slot_index(now, r->cfg->epoch_ns, 0, r->cfg->rate) + 1);
	r->started = true;
}

static bool all_ended(struct rig *r)
{
	for (unsigned c = 0; c < r->ncams; c++)
		if (ls_source_state(r->sources[c]) != LS_SOURCE_ENDED)
			return false;
	return true;
}

static gboolean quit_idle(gpointer data)
{
	g_main_loop_quit(data);
	return G_SOURCE_REMOVE;
}

/* Takes every frame that arrived and returns the aligner's `now`: the wall
 * clock, or in event time the event clock (INT64_MIN before any frame). */
static int64_t take_arrivals(struct rig *r)
{
	int64_t now = ls_realtime_ns();
	if (!r->event_time) {
		drain(r, now);
		return now;
	}
	drain_event(r);
	return r->event_clock;
}

static gpointer aligner_main(gpointer data)
{
	struct rig *r = data;
	int64_t next_stats = (ls_realtime_ns() / LS_NS_PER_SEC + 1) * LS_NS_PER_SEC;
	bool ended = false;
	while (!atomic_load(&r->stop)) {
		unsigned seen = ls_doorbell_peek(&r->bell);
		int64_t now = take_arrivals(r);
		maybe_start(r, now);
		int64_t next = INT64_MAX;
		if (r->started && now != INT64_MIN)
			next = ls_aligner_poll(r->al, now);
		int64_t wall = ls_realtime_ns();
		if (wall >= next_stats) {
			stats_tick(r, now, false);
			next_stats += LS_NS_PER_SEC;
			if (next_stats <= wall)
				next_stats = (wall / LS_NS_PER_SEC + 1) * LS_NS_PER_SEC;
		}
		if (!ended && all_ended(r)) {
			ended = true;
			g_idle_add(quit_idle, r->loop);
		}
		int64_t wake = r->event_time ? wall + 10 * LS_NS_PER_MS : (next < next_stats ? next : next_stats);
		if (wake > next_stats)
			wake = next_stats;
		ls_doorbell_wait(&r->bell, seen, wake);
	}
	/* shutdown: deliver what arrived, emit what is pending, report */
	int64_t now = take_arrivals(r);
	if (r->started && now != INT64_MIN)
		ls_aligner_flush(r->al, now);
	stats_tick(r, now, true);
	return NULL;
}

static gboolean on_signal(gpointer data)
{
	struct rig *r = data;
	g_printerr("lockstep: stopping\n");
	g_main_loop_quit(r->loop);
	return G_SOURCE_CONTINUE;
}

static gboolean on_duration(gpointer data)
{
	struct rig *r = data;
	g_main_loop_quit(r->loop);
	return G_SOURCE_REMOVE;
}

static gboolean quit_at_stop(gpointer data)
{
	struct rig *r = data;
	g_printerr("lockstep: stopping at slot %lld (a STOP command)\n", (long long)atomic_load(&r->stop_slot));
	g_main_loop_quit(r->loop);
	return G_SOURCE_REMOVE;
}

/* The run control service (output_ctx.h), on the commanding output's thread. */
static int run_control(void *user, enum ls_run_command cmd, int64_t at_ns, char **err)
{
	struct rig *r = user;
	int64_t now = ls_realtime_ns();
	const struct ls_config *cfg = r->cfg;
	if (cmd == LS_RUN_START) {
		if (!r->hold_start) {
			*err = g_strdup("this run did not wait for a start");
			return -EALREADY;
		}
		int64_t none = INT64_MIN;
		if (at_ns < now - LS_NS_PER_SEC) {
			*err = g_strdup_printf("start time %.3f s in the past", (double)(now - at_ns) / 1e9);
			return -EINVAL;
		}
		if (!atomic_compare_exchange_strong(&r->start_at_ns, &none, at_ns)) {
			*err = g_strdup("already started");
			return -EALREADY;
		}
		g_printerr("lockstep: start at %.3f s from now\n", (double)(at_ns - now) / 1e9);
		return 0;
	}
	if (at_ns <= 0)
		at_ns = now;
	int64_t slot = ls_slot_index(at_ns, cfg->epoch_ns, 0, cfg->rate);
	int64_t none = INT64_MAX;
	if (!atomic_compare_exchange_strong(&r->stop_slot, &none, slot)) {
		*err = g_strdup("already stopping");
		return -EALREADY;
	}
	/* the stop slot's frames may come up to max-latency after its time */
	int64_t quit_ns = ls_slot_time(slot, cfg->epoch_ns, cfg->rate) + cfg->max_latency_ns + 50 * LS_NS_PER_MS;
	GSource *t = g_timeout_source_new((guint)(quit_ns > now ? (quit_ns - now) / LS_NS_PER_MS : 0));
	g_source_set_callback(t, quit_at_stop, r, NULL);
	g_source_attach(t, NULL);
	g_source_unref(t);
	return 0;
}

/* Makes the output @p plans and starts it; errors are reported as
 * "CONFIG:LINE: [WHAT] reason". Returns false on failure (what was added is
 * stopped and freed with the other outputs). */
static bool add_output(struct rig *r, const struct ls_output_plan *p)
{
	const struct ls_config *cfg = r->cfg;
	char *err = NULL;
	void *impl = p->ops->create(r->ctx, p->group, &err);
	if (!impl) {
		g_printerr("%s:%d: [%s] %s\n", cfg->path, p->line, p->what, err);
		g_free(err);
		return false;
	}
	struct ls_output *out = &r->outputs[r->noutputs];
	out->ops = p->ops;
	out->name = g_strdup(p->ops->kind);
	out->impl = impl;
	out->q = ls_setq_new(cfg->queue);
	r->noutputs++;
	if (p->ops->start(impl, out->q, &err) < 0) {
		g_printerr("%s:%d: [%s] %s\n", cfg->path, p->line, p->what, err);
		g_free(err);
		return false;
	}
	return true;
}

/* The context's source-tap service: a camera's own encoded stream. */
static bool tap_source(void *rig, unsigned cam, ls_output_tap_fn fn, void *user)
{
	struct rig *r = rig;
	return ls_source_set_es_tap(r->sources[cam], fn, user);
}

int ls_rig_run(const struct ls_config *cfg, const struct ls_rig_opts *o)
{
	struct rig rr = { .cfg = cfg, .opts = o, .ncams = cfg->ncams, .exit_code = 0, .event_clock = INT64_MIN };
	struct rig *r = &rr;
	char *err = NULL;

	for (unsigned c = 0; c < cfg->ncams; c++)
		if (cfg->cams[c].src.kind == LS_SRC_FILE && !cfg->cams[c].src.file.realtime)
			r->event_time = true;
	if (o->stats_json) {
		r->json = fopen(o->stats_json, "a");
		if (!r->json) {
			g_printerr("lockstep: --stats-json %s: %s\n", o->stats_json, g_strerror(errno));
			return 1;
		}
	}
	/* what the outputs may hold: each its queue, one set in its hands and
	 * one on the way, plus what it declares */
	unsigned max_outputs = ls_output_registry_max(cfg);
	struct ls_output_plan *plan = g_new0(struct ls_output_plan, max_outputs);
	unsigned nplan = ls_output_registry_plan(cfg, plan, max_outputs);
	unsigned sets_held = 0, frames_held = 0;
	for (unsigned i = 0; i < nplan; i++) {
		sets_held += cfg->queue + 2 + (plan[i].ops->sets_held ? plan[i].ops->sets_held(cfg, plan[i].group) : 0);
		frames_held += cfg->queue + 2 +
			       (plan[i].ops->frames_held ? plan[i].ops->frames_held(cfg, plan[i].group) : 0);
	}
	int64_t *offsets = g_new0(int64_t, cfg->ncams);
	for (unsigned c = 0; c < cfg->ncams; c++)
		offsets[c] = cfg->cams[c].offset_ns;
	struct ls_aligner_config ac = {
		.ncams = cfg->ncams,
		.epoch_ns = cfg->epoch_ns,
		.rate = cfg->rate,
		.tolerance_ns = cfg->tolerance_ns,
		.max_latency_ns = cfg->max_latency_ns,
		.policy = cfg->policy,
		.hold_max_ns = cfg->hold_max_ns,
		.offsets_ns = offsets,
		/* sets: the window and what the outputs hold */
		.setpool_extra = sets_held,
	};
	r->al = ls_aligner_new(&ac, on_set, r);
	g_free(offsets);
	if (!r->al) {
		g_printerr("%s: the [rig] settings give an aligner window that is too large (max-latency-ms?)\n",
			   cfg->path);
		r->exit_code = 1;
		goto out_plan;
	}
	ls_pctl_init(&r->skew, PCTL_SAMPLES);
	ls_pctl_init(&r->latency, PCTL_SAMPLES);
	ls_hist_init(&r->skew_hist, skew_le_ns, G_N_ELEMENTS(skew_le_ns));
	ls_hist_init(&r->latency_hist, latency_le_ns, G_N_ELEMENTS(latency_le_ns));
	r->phase = g_new0(struct ls_pctl, cfg->ncams);
	r->delay = g_new0(struct ls_pctl, cfg->ncams);
	for (unsigned c = 0; c < cfg->ncams; c++) {
		ls_pctl_init(&r->phase[c], PHASE_SAMPLES);
		ls_pctl_init(&r->delay[c], PHASE_SAMPLES);
	}
	r->redact = g_new0(struct ls_redact_stage *, cfg->ncams);
	ls_doorbell_init(&r->bell);
	r->rings = g_new0(struct ls_spsc *, cfg->ncams);
	r->sources = g_new0(struct ls_source *, cfg->ncams);
	r->seen_first = g_new0(bool, cfg->ncams);
	r->last_pop_mono = g_new0(int64_t, cfg->ncams);
	r->cam_said = g_new0(int, cfg->ncams);
	r->cam_outages = g_new0(uint64_t, cfg->ncams);
	r->unsynced = g_new0(uint64_t, cfg->ncams);
	/* the rig's clock before anything reads the time: sources, the aligner */
	r->clock = ls_clock_service_start(&cfg->clock, &err);
	if (!r->clock) {
		if (cfg->clock.line)
			g_printerr("%s:%d: %s\n", cfg->path, cfg->clock.line, err);
		else
			g_printerr("%s: %s\n", cfg->path, err);
		g_clear_pointer(&err, g_free);
		r->exit_code = 1;
		goto out_sources;
	}
	/* a frame is held by: the ring, the aligner window, the outputs, and
	 * `hold` (4 to spare) */
	unsigned pool_frames = RING_FRAMES + ls_aligner_window(r->al) + frames_held + 4;
	/* every file's frame 0 lands on this slot time: 1 s out, room to preroll */
	int64_t files_start = ls_slot_time(
		ls_slot_index(ls_realtime_ns() + LS_NS_PER_SEC, cfg->epoch_ns, 0, cfg->rate) + 1, cfg->epoch_ns,
		cfg->rate);
	for (unsigned c = 0; c < cfg->ncams; c++) {
		r->rings[c] = ls_spsc_new(RING_FRAMES);
		r->sources[c] = ls_source_new(c, &cfg->cams[c], r->rings[c], &r->bell, pool_frames, r->event_time,
					      &err);
		if (!r->sources[c]) {
			g_printerr("%s\n", err);
			g_clear_pointer(&err, g_free);
			r->exit_code = 1;
			goto out_sources;
		}
		ls_source_set_schedule(r->sources[c], cfg->rate, cfg->epoch_ns, cfg->cams[c].offset_ns, files_start);
		ls_source_set_outage_fn(r->sources[c], on_outage, r);
		if (cfg->cams[c].redact) {
			struct ls_redact_stage *st = ls_redact_stage_new(&cfg->redact, cfg->cams[c].name, &err);
			if (!st) {
				g_printerr("%s:%d: [camera %s] redact: %s\n", cfg->path, cfg->cams[c].line,
					   cfg->cams[c].name, err);
				g_clear_pointer(&err, g_free);
				r->exit_code = 1;
				goto out_sources;
			}
			ls_redact_stage_set_events(st, redact_event, r);
			ls_source_set_redact(r->sources[c], st);
			r->redact[c] = st;
		}
	}
	/* the outputs, through the registry; they reach the rig's services only
	 * through the context */
	r->ctx = ls_output_ctx_new(cfg, tap_source, r);
	atomic_store(&r->start_at_ns, INT64_MIN);
	atomic_store(&r->stop_slot, INT64_MAX);
	ls_output_ctx_provide_run_control(r->ctx, run_control, r);
	r->outputs = g_new0(struct ls_output, nplan);
	for (unsigned i = 0; i < nplan; i++) {
		if (!add_output(r, &plan[i])) {
			r->exit_code = 1;
			goto out_outputs;
		}
	}

	r->hold_start = ls_output_ctx_start_held(r->ctx);
	if (r->hold_start)
		g_printerr("lockstep: waiting for a start command\n");
	r->loop = g_main_loop_new(NULL, FALSE);
	r->lines = g_async_queue_new();
	r->writer = g_thread_new("stats", writer_main, r);
	r->run_start_ns = ls_monotonic_ns();
	for (unsigned c = 0; c < cfg->ncams; c++) {
		if (ls_source_start(r->sources[c], &err) < 0) {
			g_printerr("%s\n", err);
			g_clear_pointer(&err, g_free);
		}
	}
	r->aligner_thread = g_thread_new("aligner", aligner_main, r);
	guint sig_int = g_unix_signal_add(SIGINT, on_signal, r);
	guint sig_term = g_unix_signal_add(SIGTERM, on_signal, r);
	guint dur = o->duration_s > 0 ? g_timeout_add((guint)(o->duration_s * 1000), on_duration, r) : 0;
	g_main_loop_run(r->loop);
	g_source_remove(sig_int);
	g_source_remove(sig_term);
	if (dur && g_main_context_find_source_by_id(NULL, dur))
		g_source_remove(dur);

	/* Stop in data-flow order: sources, then the aligner (which flushes),
	 * then the outputs (which drain their queues and close their files). */
	for (unsigned c = 0; c < cfg->ncams; c++)
		ls_source_stop(r->sources[c]);
	atomic_store(&r->stop, true);
	ls_doorbell_ring(&r->bell);
	g_thread_join(r->aligner_thread);
	g_async_queue_push(r->lines, g_strdup(""));
	g_thread_join(r->writer);
	g_async_queue_unref(r->lines);
	g_main_loop_unref(r->loop);

out_outputs:
	for (unsigned i = 0; i < r->noutputs; i++) {
		ls_setq_close(r->outputs[i].q);
		r->outputs[i].ops->finish(r->outputs[i].impl);
	}
	for (unsigned i = 0; i < r->noutputs; i++) {
		r->outputs[i].ops->free(r->outputs[i].impl);
		ls_setq_free(&r->outputs[i].q);
		g_free(r->outputs[i].name);
	}
	g_free(r->outputs);
	ls_output_ctx_free(&r->ctx);
out_sources:
	ls_aligner_free(&r->al);
	for (unsigned c = 0; c < cfg->ncams; c++) {
		ls_source_free(&r->sources[c]);
		if (r->rings[c]) {
			struct ls_frame *f;
			while ((f = ls_spsc_pop(r->rings[c])))
				ls_frame_unref(&f);
			ls_spsc_free(&r->rings[c]);
		}
	}
	g_free(r->rings);
	g_free(r->sources);
	g_free(r->seen_first);
	g_free(r->last_pop_mono);
	g_free(r->cam_said);
	g_free(r->cam_outages);
	g_free(r->unsynced);
	ls_clock_service_stop(&r->clock);
	ls_pctl_clear(&r->skew);
	ls_pctl_clear(&r->latency);
	for (unsigned c = 0; r->phase && c < cfg->ncams; c++) {
		ls_pctl_clear(&r->phase[c]);
		ls_pctl_clear(&r->delay[c]);
	}
	g_free(r->phase);
	g_free(r->delay);
	g_free(r->redact);
out_plan:
	g_free(plan);
	if (r->json)
		fclose(r->json);
	return r->exit_code;
}
