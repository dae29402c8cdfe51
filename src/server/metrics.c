/* metrics — GET /metrics: the rig's latest per-second record (the object
 * `lockstep run --stats-json` writes, src/rig.c) in the Prometheus text
 * exposition format 0.0.4.
 *
 * Names follow Prometheus's conventions: base units (_seconds, _bytes),
 * counters end in _total, the camera, output, stream or mount is a label.
 * Counters are the record's totals since the start; the histograms
 * (skew, latency, detector inference) are the record's cumulative ones
 * ("skew_hist", ...: ls_hist_json), with their bounds turned into seconds.
 *
 * Every family is written whole before the next (its HELP and TYPE, then
 * all its samples), and only when it has a sample: a family never appears
 * twice, and an output the rig does not run adds nothing.
 *
 * Runs on the server thread, with the server's lock held (the record is
 * the server's copy): it parses the record (json-glib) and writes text;
 * nothing here waits on the rig. */
#include <math.h>
#include <string.h>

#include "server.h"

/* A record older than this is stale: the rig writes one every second. */
#define STALE_S 5.0

/* One metric family being written: its header goes out with its first
 * sample. */
struct fam {
	GString *out;
	const char *name, *type, *help;
	bool started;
};

static struct fam fam(GString *out, const char *name, const char *type, const char *help)
{
	return (struct fam){ .out = out, .name = name, .type = type, .help = help };
}

/* A label value per the format: backslash, double quote and newline
 * escaped. */
static void label_value(GString *g, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			g_string_append_c(g, '\\');
		if (*v == '\n') {
			g_string_append(g, "\\n");
			continue;
		}
		g_string_append_c(g, *v);
	}
}

/* A sample value: integers exactly, other numbers in C-locale %g (with
 * +Inf, -Inf and NaN spelt the format's way). */
static void value(GString *g, double v)
{
	if (isnan(v)) {
		g_string_append(g, "NaN");
	} else if (isinf(v)) {
		g_string_append(g, v > 0 ? "+Inf" : "-Inf");
	} else if (v == floor(v) && fabs(v) < 9007199254740992.0) {
		g_string_append_printf(g, "%lld", (long long)v);
	} else {
		char buf[G_ASCII_DTOSTR_BUF_SIZE];
		g_string_append(g, g_ascii_formatd(buf, sizeof buf, "%.15g", v));
	}
}

/* Writes NAME[SUFFIX]{KEY="VAL"[,K2="V2"]} VALUE; key NULL: no labels, k2
 * NULL: one label. */
static void sample2(struct fam *f, const char *suffix, const char *key, const char *val, const char *k2, const char *v2,
		    double v)
{
	if (!f->started) {
		g_string_append_printf(f->out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, f->type);
		f->started = true;
	}
	g_string_append(f->out, f->name);
	g_string_append(f->out, suffix);
	if (key) {
		g_string_append_printf(f->out, "{%s=\"", key);
		label_value(f->out, val);
		if (k2) {
			g_string_append_printf(f->out, "\",%s=\"", k2);
			label_value(f->out, v2);
		}
		g_string_append(f->out, "\"}");
	}
	g_string_append_c(f->out, ' ');
	value(f->out, v);
	g_string_append_c(f->out, '\n');
}

static void sample(struct fam *f, const char *key, const char *val, double v)
{
	sample2(f, "", key, val, NULL, NULL, v);
}

/* @o's member @k as a number: false when absent or not a number. */
static bool num(JsonObject *o, const char *k, double *v)
{
	JsonNode *n = o ? json_object_get_member(o, k) : NULL;
	if (!n || !JSON_NODE_HOLDS_VALUE(n))
		return false;
	GType t = json_node_get_value_type(n);
	if (t == G_TYPE_INT64)
		*v = (double)json_node_get_int(n);
	else if (t == G_TYPE_DOUBLE)
		*v = json_node_get_double(n);
	else if (t == G_TYPE_BOOLEAN)
		*v = json_node_get_boolean(n) ? 1 : 0;
	else
		return false;
	return true;
}

static JsonObject *obj(JsonObject *o, const char *k)
{
	JsonNode *n = o ? json_object_get_member(o, k) : NULL;
	return n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}

/* A plain number of the record, unlabelled. */
static void top(GString *out, JsonObject *rec, const char *key, const char *name, const char *type, const char *help)
{
	double v;
	if (!num(rec, key, &v))
		return;
	struct fam f = fam(out, name, type, help);
	sample(&f, NULL, NULL, v);
}

/* One family over the members of @group (cameras, streams, mounts): each
 * member object's @key, labelled @label="member name". */
static void each(GString *out, JsonObject *group, const char *label, const char *key, double scale, const char *name,
		 const char *type, const char *help)
{
	if (!group)
		return;
	struct fam f = fam(out, name, type, help);
	GList *names = json_object_get_members(group);
	for (GList *l = names; l; l = l->next) {
		double v;
		if (num(obj(group, l->data), key, &v))
			sample(&f, label, l->data, v * scale);
	}
	g_list_free(names);
}

/* The seconds one unit of a histogram's "le_UNIT" is. */
static double unit_seconds(const char *unit)
{
	if (strcmp(unit, "ns") == 0)
		return 1e-9;
	if (strcmp(unit, "us") == 0)
		return 1e-6;
	if (strcmp(unit, "ms") == 0)
		return 1e-3;
	if (strcmp(unit, "s") == 0)
		return 1;
	return 0;
}

/* A cumulative histogram of the record (ls_hist_json's shape: "le_UNIT",
 * "counts" with +Inf last, "sum_UNIT", "count") as a Prometheus histogram
 * in seconds. Nothing when it is absent or malformed. */
static void histogram(GString *out, JsonObject *h, const char *name, const char *help)
{
	if (!h)
		return;
	JsonArray *le = NULL, *counts = NULL;
	double scale = 0, sum = 0;
	const char *sum_key = NULL;
	char sk[16];
	GList *keys = json_object_get_members(h);
	for (GList *l = keys; l; l = l->next) {
		const char *k = l->data;
		JsonNode *n = json_object_get_member(h, k);
		if (g_str_has_prefix(k, "le_") && JSON_NODE_HOLDS_ARRAY(n) && unit_seconds(k + 3) > 0) {
			le = json_node_get_array(n);
			scale = unit_seconds(k + 3);
			g_snprintf(sk, sizeof sk, "sum_%s", k + 3);
			sum_key = sk;
		}
	}
	g_list_free(keys);
	JsonNode *cn = json_object_get_member(h, "counts");
	if (cn && JSON_NODE_HOLDS_ARRAY(cn))
		counts = json_node_get_array(cn);
	if (!le || !counts || json_array_get_length(counts) != json_array_get_length(le) + 1 || !num(h, sum_key, &sum))
		return;
	struct fam f = fam(out, name, "histogram", help);
	unsigned n = json_array_get_length(le);
	for (unsigned i = 0; i <= n; i++) {
		char bound[G_ASCII_DTOSTR_BUF_SIZE];
		if (i < n)
			g_ascii_formatd(bound, sizeof bound, "%.15g", json_array_get_double_element(le, i) * scale);
		else
			g_strlcpy(bound, "+Inf", sizeof bound);
		sample2(&f, "_bucket", "le", bound, NULL, NULL, (double)json_array_get_int_element(counts, i));
	}
	sample2(&f, "_sum", NULL, NULL, NULL, NULL, sum * scale);
	sample2(&f, "_count", NULL, NULL, NULL, NULL, (double)json_array_get_int_element(counts, n));
}

/* Seconds since the record's "time" (ISO 8601, UTC); false without one. */
static bool record_age(JsonObject *rec, double *age)
{
	const char *t = json_object_get_string_member_with_default(rec, "time", NULL);
	GDateTime *dt = t ? g_date_time_new_from_iso8601(t, NULL) : NULL;
	if (!dt)
		return false;
	GDateTime *now = g_date_time_new_now_utc();
	*age = (double)g_date_time_difference(now, dt) / 1e6;
	g_date_time_unref(now);
	g_date_time_unref(dt);
	return true;
}

static void cameras(GString *out, JsonObject *rec)
{
	JsonObject *cams = obj(rec, "cameras");
	if (!cams)
		return;
	struct fam up = fam(out, "lockstep_camera_up", "gauge",
			    "Whether the camera is delivering frames (state running).");
	struct fam state = fam(out, "lockstep_camera_state", "gauge",
			       "The camera's state: 1 for the state it is in (starting, running, reconnecting, idle, "
			       "ended).");
	GList *names = json_object_get_members(cams);
	for (GList *l = names; l; l = l->next) {
		const char *s = json_object_get_string_member_with_default(obj(cams, l->data), "state", NULL);
		if (s)
			sample(&up, "camera", l->data, strcmp(s, "running") == 0);
	}
	for (GList *l = names; l; l = l->next) {
		const char *s = json_object_get_string_member_with_default(obj(cams, l->data), "state", NULL);
		if (s)
			sample2(&state, "", "camera", l->data, "state", s, 1);
	}
	g_list_free(names);
	each(out, cams, "camera", "frames", 1, "lockstep_camera_frames_total", "counter",
	     "Frames the camera delivered to the rig.");
	each(out, cams, "camera", "ring_full", 1, "lockstep_camera_ring_full_drops_total", "counter",
	     "Frames dropped because the camera's ring was full (the aligner thread was behind).");
	each(out, cams, "camera", "pool_empty", 1, "lockstep_camera_pool_empty_drops_total", "counter",
	     "Frames dropped because every frame of the camera's pool was held.");
	each(out, cams, "camera", "camera_drops", 1, "lockstep_camera_drops_total", "counter",
	     "Frames the camera itself lost (test:// simulation).");
	each(out, cams, "camera", "reconnects", 1, "lockstep_camera_reconnects_total", "counter",
	     "Times the camera was reconnected.");
	each(out, cams, "camera", "outages", 1, "lockstep_camera_outages_total", "counter",
	     "Times the camera went down after delivering frames (the one under way included).");
	each(out, cams, "camera", "outage_s", 1, "lockstep_camera_outage_seconds_total", "counter",
	     "Total length of the camera's outages, from the last frame before each to the first after.");
	each(out, cams, "camera", "down_s", 1, "lockstep_camera_down_seconds", "gauge",
	     "How long the camera's outage under way has lasted; 0 while it is up.");
	each(out, cams, "camera", "phase_ms", 1e-3, "lockstep_camera_phase_seconds", "gauge",
	     "Median distance of the camera's frames from their slot (capture time - slot time) over the last "
	     "second.");
	each(out, cams, "camera", "delay_ms", 1e-3, "lockstep_camera_delay_seconds", "gauge",
	     "Median arrival minus capture time of the camera's frames over the last second (a camera of another "
	     "host: the network, and its clock's disagreement with this one).");
	each(out, cams, "camera", "unsynced", 1, "lockstep_camera_unsynced_frames_total", "counter",
	     "Frames captured while the rig's clock was not synchronised to its [clock] reference.");
	/* redacting cameras: "redact":{...} in their object */
	struct fam rf = fam(out, "lockstep_redact_frames_total", "counter",
			    "Frames the camera's redaction stage processed.");
	struct fam rm = fam(out, "lockstep_redact_full_masks_total", "counter",
			    "Frames the redaction stage covered whole (latency watchdog, dead OCR worker or failed "
			    "canary).");
	names = json_object_get_members(cams);
	double v;
	for (GList *l = names; l; l = l->next)
		if (num(obj(obj(cams, l->data), "redact"), "frames", &v))
			sample(&rf, "camera", l->data, v);
	for (GList *l = names; l; l = l->next)
		if (num(obj(obj(cams, l->data), "redact"), "full_masks", &v))
			sample(&rm, "camera", l->data, v);
	g_list_free(names);
}

/* [clock]: the rig's time against its reference */
static void clock_metrics(GString *out, JsonObject *ck)
{
	if (!ck)
		return;
	JsonNode *sy = json_object_get_member(ck, "synced");
	if (sy && JSON_NODE_HOLDS_VALUE(sy)) {
		struct fam f = fam(
			out, "lockstep_clock_synced", "gauge",
			"1 while the rig's clock is synchronised to its [clock] reference (or the sync daemon "
			"says so).");
		sample(&f, "source", json_object_get_string_member_with_default(ck, "source", "?"),
		       json_node_get_boolean(sy) ? 1 : 0);
	}
	double v;
	struct fam f = fam(
		out, "lockstep_clock_offset_seconds", "gauge",
		"The correction of this host's clock to the reference (reference - local), or the offset the "
		"sync daemon reports.");
	if (num(ck, "offset_ms", &v))
		sample(&f, NULL, NULL, v / 1e3);
	f = fam(out, "lockstep_clock_jitter_seconds", "gauge",
		"Standard deviation of the clock's correction over the last 2 s.");
	if (num(ck, "jitter_us", &v))
		sample(&f, NULL, NULL, v / 1e6);
	top(out, ck, "sync_losses", "lockstep_clock_sync_losses_total", "counter",
	    "Times the rig's clock lost its reference (no answer for 3 s).");
	top(out, ck, "unsynced_s", "lockstep_clock_unsynced_seconds_total", "counter",
	    "Time the rig's clock spent without its reference.");
}

static void outputs(GString *out, JsonObject *rec)
{
	JsonObject *outs = obj(rec, "outputs");
	if (!outs)
		return;
	each(out, outs, "output", "dropped", 1, "lockstep_output_dropped_total", "counter",
	     "Framesets the output lost because its queue was full (it was slower than the rig).");

	JsonObject *rc = obj(outs, "record");
	each(out, obj(rc, "cameras"), "camera", "bytes", 1, "lockstep_record_bytes_total", "counter",
	     "Bytes [record] wrote to the camera's segment files.");
	each(out, obj(rc, "cameras"), "camera", "segments", 1, "lockstep_record_segments_total", "counter",
	     "Segments [record] opened for the camera.");
	top(out, rc, "nospace", "lockstep_record_out_of_space", "gauge",
	    "1 while [record] is out of space and drops sets until min-free-mb is free again.");

	JsonObject *shm = obj(outs, "shm");
	const char *seg = shm ? json_object_get_string_member_with_default(shm, "name", NULL) : NULL;
	double v;
	if (seg) {
		struct fam f = fam(out, "lockstep_shm_published_total", "counter",
				   "Framesets [output shm] published to its shared-memory segment.");
		if (num(shm, "published", &v))
			sample(&f, "segment", seg, v);
		f = fam(out, "lockstep_shm_regenerations_total", "counter",
			"New segment generations [output shm] made because a camera's format changed.");
		if (num(shm, "regenerations", &v))
			sample(&f, "segment", seg, v);
		f = fam(out, "lockstep_shm_failed", "gauge", "1 when [output shm] stopped after an error.");
		if (num(shm, "failed", &v))
			sample(&f, "segment", seg, v);
	}

	JsonObject *det = obj(outs, "detect");
	JsonObject *dc = obj(det, "cameras");
	each(out, dc, "camera", "inferred", 1, "lockstep_detect_inferred_frames_total", "counter",
	     "Camera frames [detect] ran through the detector.");
	each(out, dc, "camera", "gated", 1, "lockstep_detect_gated_frames_total", "counter",
	     "Camera frames the motion gate kept from the detector.");
	each(out, dc, "camera", "every_n_skipped", 1, "lockstep_detect_skipped_frames_total", "counter",
	     "Camera frames [detect] skipped by every-n.");
	each(out, dc, "camera", "gate_openings", 1, "lockstep_detect_gate_openings_total", "counter",
	     "Times the motion gate opened for the camera.");
	histogram(out, obj(det, "inference_hist"), "lockstep_detect_inference_seconds",
		  "Time in the detector's model (ONNX Runtime Run()) per inferred frameset.");

	JsonObject *bus = obj(outs, "bus");
	top(out, bus, "published", "lockstep_bus_published_total", "counter",
	    "Messages [bus] published straight away and the broker acknowledged.");
	top(out, bus, "spooled", "lockstep_bus_spooled_total", "counter",
	    "Messages [bus] put in its spool (broker down, slow, or the spool not yet empty).");
	top(out, bus, "replayed", "lockstep_bus_replayed_total", "counter",
	    "Spooled messages [bus] sent later and the broker acknowledged.");
	top(out, bus, "spool_held", "lockstep_bus_spool_messages", "gauge", "Messages in [bus]'s spool now.");
	top(out, bus, "spool_bytes", "lockstep_bus_spool_bytes", "gauge",
	    "Bytes (subject, id, payload) in [bus]'s spool now; spool-mb bounds it.");
	top(out, bus, "spool_dropped", "lockstep_bus_spool_dropped_total", "counter",
	    "Messages [bus] lost: the oldest dropped from a full spool, or a spool write that failed.");
	top(out, bus, "queue_dropped", "lockstep_bus_queue_dropped_total", "counter",
	    "Messages [bus] lost because its queue to the publisher thread was full.");
	top(out, bus, "outages", "lockstep_bus_outages_total", "counter",
	    "Times [bus] found the broker down or not acknowledging.");
	if (bus && json_object_has_member(bus, "connected")) {
		struct fam f = fam(out, "lockstep_bus_connected", "gauge", "1 while [bus] is connected to its broker.");
		sample(&f, NULL, NULL, json_object_get_boolean_member(bus, "connected") ? 1 : 0);
	}

	JsonObject *srv = obj(outs, "server");
	top(out, srv, "requests", "lockstep_http_requests_total", "counter", "HTTP requests to [server].");
	top(out, srv, "unauthorized", "lockstep_http_unauthorized_total", "counter",
	    "HTTP requests to [server] refused for a missing or wrong token.");
	JsonObject *whep = obj(srv, "whep");
	top(out, whep, "offers", "lockstep_whep_offers_total", "counter", "WHEP offers (POST /whep/...) received.");
	top(out, whep, "answered", "lockstep_whep_answered_total", "counter", "WHEP offers answered.");
	top(out, whep, "bad_offers", "lockstep_whep_bad_offers_total", "counter", "WHEP offers refused as malformed.");
	top(out, whep, "busy", "lockstep_whep_busy_total", "counter", "WHEP offers refused at max-viewers.");
	top(out, whep, "left", "lockstep_whep_viewers_left_total", "counter", "WHEP viewers that left or were ended.");
	JsonObject *streams = obj(whep, "streams");
	each(out, streams, "stream", "viewers", 1, "lockstep_whep_viewers", "gauge",
	     "WebRTC viewers of the stream now.");
	each(out, streams, "stream", "sent", 1, "lockstep_whep_sent_frames_total", "counter",
	     "Frames handed to the stream's encoder for its viewers.");

	JsonObject *mounts = obj(obj(outs, "rtsp"), "mounts");
	each(out, mounts, "mount", "sent", 1, "lockstep_rtsp_sent_frames_total", "counter",
	     "Frames [output rtsp] sent to the mount's clients.");
	each(out, mounts, "mount", "refused", 1, "lockstep_rtsp_refused_total", "counter",
	     "RTSP requests to the mount refused (authentication).");
	each(out, mounts, "mount", "sessions", 1, "lockstep_rtsp_sessions_total", "counter",
	     "RTSP client sessions the mount has had.");
}

void ls_metrics_text(GString *out, const struct ls_config *cfg, const char *stats_json)
{
	JsonParser *p = json_parser_new();
	JsonObject *rec = NULL;
	if (stats_json && json_parser_load_from_data(p, stats_json, -1, NULL)) {
		JsonNode *root = json_parser_get_root(p);
		if (root && JSON_NODE_HOLDS_OBJECT(root))
			rec = json_node_get_object(root);
	}
	double age = 0;
	bool dated = rec && record_age(rec, &age);
	bool final = rec && json_object_get_boolean_member_with_default(rec, "final", FALSE);

	struct fam f = fam(out, "lockstep_up", "gauge",
			   "1 while the rig runs and its latest per-second record is at most 5 s old.");
	sample(&f, NULL, NULL, dated && !final && age <= STALE_S);
	f = fam(out, "lockstep_build_info", "gauge", "The lockstep version serving these metrics (always 1).");
	sample(&f, "version", LOCKSTEP_VERSION, 1);
	f = fam(out, "lockstep_rig_rate_hertz", "gauge", "Slots per second ([rig] rate).");
	if (cfg && cfg->rate.den)
		sample(&f, NULL, NULL, (double)cfg->rate.num / cfg->rate.den);
	f = fam(out, "lockstep_stats_age_seconds", "gauge",
		"Age of the per-second record these metrics come from (absent before the first).");
	if (dated)
		sample(&f, NULL, NULL, age);
	if (!rec)
		goto out;

	top(out, rec, "slot", "lockstep_slot", "gauge", "The last slot index the aligner emitted.");
	f = fam(out, "lockstep_framesets_total", "counter", "Framesets emitted, complete (every camera) or partial.");
	double v;
	if (num(rec, "complete", &v))
		sample(&f, "state", "complete", v);
	if (num(rec, "partial", &v))
		sample(&f, "state", "partial", v);
	top(out, rec, "dropped_slots", "lockstep_dropped_slots_total", "counter",
	    "Slots lost: never emitted by the aligner, or dropped by an output's full queue.");
	top(out, rec, "aligner_dropped", "lockstep_aligner_dropped_slots_total", "counter",
	    "Slots the aligner never emitted (its window overflowed).");
	top(out, rec, "late", "lockstep_late_frames_total", "counter", "Frames for slots already emitted (dropped).");
	top(out, rec, "off_slot", "lockstep_off_slot_frames_total", "counter",
	    "Frames further than the tolerance from any slot centre (dropped).");
	top(out, rec, "superseded", "lockstep_superseded_frames_total", "counter",
	    "Frames replaced by one of the same camera nearer the slot centre.");
	top(out, rec, "future", "lockstep_future_frames_total", "counter",
	    "Frames stamped implausibly far ahead of now (dropped).");
	top(out, rec, "forced", "lockstep_forced_framesets_total", "counter",
	    "Framesets emitted early because the aligner's window overflowed.");
	top(out, rec, "warmup", "lockstep_warmup_frames_total", "counter",
	    "Frames before the first slot (warm-up, discarded).");
	JsonObject *missing = obj(rec, "missing");
	if (missing) {
		f = fam(out, "lockstep_missing_frames_total", "counter",
			"Framesets emitted without the camera's frame.");
		GList *names = json_object_get_members(missing);
		for (GList *l = names; l; l = l->next)
			if (num(missing, l->data, &v))
				sample(&f, "camera", l->data, v);
		g_list_free(names);
	}
	histogram(out, obj(rec, "skew_hist"), "lockstep_frameset_skew_seconds",
		  "Skew of each frameset with two frames or more: latest minus earliest capture time.");
	histogram(out, obj(rec, "latency_hist"), "lockstep_frameset_latency_seconds",
		  "Latency of each frameset: emission time minus slot time.");
	cameras(out, rec);
	clock_metrics(out, obj(rec, "clock"));
	outputs(out, rec);
out:
	g_object_unref(p);
}
