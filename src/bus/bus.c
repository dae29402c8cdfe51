/* bus — the [bus] output: lockstep's metadata on NATS JetStream or MQTT
 * (docs/architecture.md, "The bus"; the message schemas in schemas/).
 *
 * What it sends (messages = picks):
 *   PREFIX.frameset       one per slot, from the output's frameset queue
 *   PREFIX.detections     one per detected set ([detect]'s JSON line)
 *   PREFIX.events.KIND    each event of the output context's events service
 *   PREFIX.stats          the --stats-json record, once a second
 *   PREFIX.deepstream     DeepStream's "minimal" payload, one per camera and detected set
 * each a JSON object with "schema":"lockstep.KIND/1" and "rig":NAME, and a
 * message id NAME:KIND:SLOT (JetStream drops a second copy within its
 * duplicate window).
 *
 * The rig never waits on the bus. Each producer (the frameset thread here,
 * [detect]'s publishing turn, the events service, the stats thread) builds
 * its message and appends it to one bounded queue (queue = messages; full:
 * the oldest is dropped, counted, one line per episode). One publisher
 * thread takes batches of up to 256:
 *  - broker up and the spool empty: the batch is published and its acks
 *    awaited (ack-timeout-ms); what is not acked goes to the spool;
 *  - broker down, or anything spooled: the batch goes to the spool (SQLite,
 *    lib/ls_spool.h, bounded by spool-mb: the oldest are dropped, counted,
 *    one line), and while the broker is up the spool is replayed in order,
 *    256 at a time, removing only what was acked.
 * So the order on the bus is the order of the queue, through an outage
 * and through a restart of lockstep (the spool is a file; what is left in
 * it is sent first at the next start).
 *
 * Remote commands (control = on): PREFIX.control ({"command":"start",
 * "at_ns"} / {"command":"stop"}) drives the run through the output
 * context's run control (the run then waits for a start), and PREFIX.clip
 * exports a window of the recording through the recorder's export service,
 * on a thread of its own, and answers with the clip's paths. A request is
 * answered at its reply subject (NATS), its MQTT 5 response topic, or the
 * "reply_to" of its JSON. */
#include "bus_transport.h"

#include <errno.h>
#include <json-glib/json-glib.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "detections.h"
#include "ls_frameset.h"
#include "ls_spool.h"
#include "ls_time.h"
#include "output.h"
#include "values.h"

#define BATCH 256

struct qmsg {
	char *subject;
	char *msg_id;
	char *data;
	size_t len;
};

struct bus_out {
	const struct ls_config *cfg;
	const struct ls_bus_config *bc;
	struct ls_output_ctx *ctx;
	const struct ls_bus_transport *tr;
	void *t;
	struct ls_spool *spool;
	char *spool_path;

	/* the queue from the producers to the publisher thread */
	GMutex lock;
	GCond cond;
	GQueue q; /* struct qmsg * */
	bool closing;
	bool full_said;

	GThread *sets_thread, *pub_thread;
	struct ls_setq *setq;
	GThreadPool *clips; /* remote clip exports, one at a time */
	atomic_bool finished;

	/* publisher thread */
	bool outage;          /* an outage is under way (said) */
	int64_t outage_start; /* monotonic */
	bool spool_full_said;
	uint64_t replay_start_count;
	int64_t replay_start_ns;

	/* counters (atomics: read by the stats record) */
	atomic_uint_fast64_t queued, published, spooled, replayed, queue_dropped, spool_dropped, failures, outages,
		late, commands;
	atomic_uint_fast64_t event_seq;
};

/* ---- producers ------------------------------------------------------------ */

static void qmsg_free(gpointer p)
{
	struct qmsg *m = p;
	g_free(m->subject);
	g_free(m->msg_id);
	g_free(m->data);
	g_free(m);
}

/* Appends a message (@data taken: a g_malloc'd string of @len bytes). Never waits. */
static void enqueue(struct bus_out *o, char *subject, char *msg_id, char *data, size_t len)
{
	struct qmsg *m = g_new(struct qmsg, 1);
	m->subject = subject;
	m->msg_id = msg_id;
	m->data = data;
	m->len = len;
	g_mutex_lock(&o->lock);
	if (atomic_load(&o->finished)) {
		g_mutex_unlock(&o->lock);
		atomic_fetch_add(&o->late, 1);
		qmsg_free(m);
		return;
	}
	if (o->q.length >= o->bc->queue) {
		qmsg_free(g_queue_pop_head(&o->q));
		atomic_fetch_add(&o->queue_dropped, 1);
		if (!o->full_said)
			g_printerr(
				"[bus] the queue to the publisher is full (queue = %u): dropping the oldest messages "
				"(the spool's disk is too slow?)\n",
				o->bc->queue);
		o->full_said = true;
	}
	g_queue_push_tail(&o->q, m);
	atomic_fetch_add(&o->queued, 1);
	g_cond_signal(&o->cond);
	g_mutex_unlock(&o->lock);
}

static char *subject(const struct bus_out *o, const char *kind)
{
	return g_strdup_printf("%s.%s", o->bc->prefix, kind);
}

/* {"schema":"lockstep.KIND/1","rig":NAME, */
static GString *head(const struct bus_out *o, const char *kind, size_t reserve)
{
	GString *j = g_string_sized_new(reserve + 64);
	g_string_append_printf(j, "{\"schema\":\"lockstep.%s/1\",\"rig\":", kind);
	ls_json_str(j, o->bc->name);
	g_string_append_c(j, ',');
	return j;
}

static void send_json(struct bus_out *o, const char *kind, char *msg_id, GString *j)
{
	size_t len = j->len;
	enqueue(o, subject(o, kind), msg_id, g_string_free(j, FALSE), len);
}

static void frameset_msg(struct bus_out *o, const struct ls_frameset *set)
{
	GString *j = head(o, "frameset", 96 * set->ncams);
	g_string_append_printf(j,
			       "\"n\":%lld,\"slot_ns\":%lld,\"emit_ns\":%lld,\"complete\":%s,\"deadline\":%s,"
			       "\"skew_ns\":%lld,\"present\":%u,\"cameras\":[",
			       (long long)set->n, (long long)set->slot_ns, (long long)set->emit_ns,
			       set->complete ? "true" : "false", set->deadline ? "true" : "false",
			       (long long)set->skew_ns, set->npresent);
	for (unsigned c = 0; c < set->ncams; c++) {
		const struct ls_entry *e = &set->entries[c];
		g_string_append(j, c ? ",{\"camera\":" : "{\"camera\":");
		ls_json_str(j, o->cfg->cams[c].name);
		if (e->state == LS_ENTRY_PRESENT && e->frame)
			g_string_append_printf(j, ",\"state\":\"present\",\"capture_ns\":%lld,\"offset_ns\":%lld%s}",
					       (long long)e->frame->capture_ns, (long long)e->offset_ns,
					       e->frame->unsynced ? ",\"unsynced\":true" : "");
		else if (e->state == LS_ENTRY_HELD && e->frame)
			g_string_append_printf(j, ",\"state\":\"held\",\"capture_ns\":%lld,\"age_ns\":%lld}",
					       (long long)e->frame->capture_ns, (long long)e->offset_ns);
		else
			g_string_append(j, ",\"state\":\"missing\"}");
	}
	g_string_append(j, "]}");
	send_json(o, "frameset", g_strdup_printf("%s:frameset:%lld", o->bc->name, (long long)set->n), j);
}

static gpointer sets_main(gpointer data)
{
	struct bus_out *o = data;
	for (;;) {
		struct ls_frameset *set = ls_setq_pop(o->setq, INT64_MAX);
		if (!set) {
			if (ls_setq_closed(o->setq))
				break;
			continue;
		}
		if (o->bc->messages & LS_BUS_FRAMESET)
			frameset_msg(o, set);
		ls_frameset_unref(&set);
	}
	return NULL;
}

/* ISO 8601 UTC with ms, as DeepStream writes its @timestamp. */
static void iso_ms(int64_t ns, char *buf, size_t n)
{
	time_t s = (time_t)(ns / LS_NS_PER_SEC);
	struct tm tm;
	gmtime_r(&s, &tm);
	size_t k = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + k, n - k, ".%03dZ", (int)(ns % LS_NS_PER_SEC / LS_NS_PER_MS));
}

/* [detect]'s publishing turn, in slot order. */
static void on_detections(void *user, const struct ls_detect_result *r)
{
	struct bus_out *o = user;
	if ((o->bc->messages & LS_BUS_DETECTIONS) && r->json && r->json_len > 2) {
		GString *j = head(o, "detections", r->json_len);
		g_string_append_len(j, r->json + 1, (gssize)r->json_len - 1);
		send_json(o, "detections", g_strdup_printf("%s:detections:%lld", o->bc->name, (long long)r->n), j);
	}
	if (!(o->bc->messages & LS_BUS_DEEPSTREAM))
		return;
	/* DeepStream's minimal schema: one message per camera (sensor) and
	 * frame, each object "TRACK|LEFT|TOP|RIGHT|BOTTOM|CLASS|#|SCORE" */
	for (unsigned c = 0; c < r->ncams; c++) {
		if (!r->ran[c])
			continue;
		char ts[40];
		iso_ms(r->capture_ns[c], ts, sizeof ts);
		GString *j = g_string_sized_new(256);
		g_string_append_printf(
			j,
			"{\"schema\":\"lockstep.deepstream-minimal/1\",\"version\":\"4.0\",\"id\":\"%lld\","
			"\"@timestamp\":\"%s\",\"sensorId\":",
			(long long)r->n, ts);
		ls_json_str(j, o->cfg->cams[c].name);
		g_string_append(j, ",\"objects\":[");
		const struct ls_det *d = r->dets + (size_t)c * r->max_dets;
		for (int i = 0; i < r->count[c]; i++) {
			int64_t tid = r->track_id[(size_t)c * r->max_dets + i];
			const char *cls = r->class_name ? r->class_name(r->namer, d[i].cls) : "object";
			char obj[160];
			snprintf(obj, sizeof obj, "%lld|%.0f|%.0f|%.0f|%.0f|%s|#|%.3f", (long long)(tid < 0 ? -1 : tid),
				 (double)d[i].x1, (double)d[i].y1, (double)d[i].x2, (double)d[i].y2, cls,
				 (double)d[i].score);
			if (i)
				g_string_append_c(j, ',');
			ls_json_str(j, obj);
		}
		g_string_append(j, "]}");
		send_json(o, "deepstream",
			  g_strdup_printf("%s:deepstream:%lld:%s", o->bc->name, (long long)r->n, o->cfg->cams[c].name),
			  j);
	}
}

/* The events service: {"schema":"lockstep.event/1","kind":K,"time_ns":T,...} */
static void on_event(void *user, const char *json)
{
	struct bus_out *o = user;
	static const char lead[] = "{\"schema\":\"lockstep.event/1\",";
	const char *k = strstr(json, "\"kind\":\"");
	if (!g_str_has_prefix(json, lead) || !k)
		return;
	k += 8;
	const char *ke = strchr(k, '"');
	if (!ke || ke - k > 64)
		return;
	char kind[72];
	snprintf(kind, sizeof kind, "%.*s", (int)(ke - k), k);
	const char *t = strstr(json, "\"time_ns\":");
	long long tns = t ? strtoll(t + 10, NULL, 10) : 0;
	GString *j = head(o, "event", strlen(json));
	g_string_append(j, json + sizeof lead - 1);
	char *subj = g_strdup_printf("%s.events.%s", o->bc->prefix, kind);
	char *id = g_strdup_printf("%s:event:%s:%lld:%llu", o->bc->name, kind, tns,
				   (unsigned long long)atomic_fetch_add(&o->event_seq, 1));
	size_t len = j->len;
	enqueue(o, subj, id, g_string_free(j, FALSE), len);
}

/* The rig's stats thread, once a second. */
static void on_stats(void *user, const char *json)
{
	struct bus_out *o = user;
	if (json[0] != '{')
		return;
	GString *j = head(o, "stats", strlen(json));
	g_string_append(j, json + 1);
	send_json(o, "stats", g_strdup_printf("%s:stats:%lld", o->bc->name, (long long)ls_realtime_ns()), j);
}

/* ---- the publisher thread ------------------------------------------------- */

static void say_outage(struct bus_out *o, const char *what)
{
	if (o->outage)
		return;
	o->outage = true;
	o->outage_start = ls_monotonic_ns();
	atomic_fetch_add(&o->outages, 1);
	char *e = o->tr->last_error(o->t);
	g_printerr("[bus] %s: %s%s%s; spooling to %s\n", o->bc->url, what, e ? ": " : "", e ? e : "", o->spool_path);
	g_free(e);
}

static void spool_push(struct bus_out *o, struct qmsg *m)
{
	int rc = ls_spool_push(o->spool, m->subject, m->msg_id, m->data, m->len);
	if (rc > 0) {
		atomic_fetch_add(&o->spool_dropped, (uint64_t)rc);
		if (!o->spool_full_said)
			g_printerr("[bus] the spool %s is full (spool-mb = %lld): dropping the oldest messages, "
				   "counted as spool_dropped\n",
				   o->spool_path, (long long)(o->bc->spool_bytes >> 20));
		o->spool_full_said = true;
	} else if (rc < 0) {
		atomic_fetch_add(&o->spool_dropped, 1);
		char *e = ls_spool_last_error(o->spool);
		g_printerr("[bus] a message lost: %s\n", e ? e : g_strerror(-rc));
		free(e);
		return;
	}
	atomic_fetch_add(&o->spooled, 1);
}

static int64_t spool_held(struct bus_out *o)
{
	struct ls_spool_stats st;
	ls_spool_stats(o->spool, &st);
	return st.held;
}

static int timeout_ms(const struct bus_out *o) { return (int)(o->bc->ack_timeout_ns / LS_NS_PER_MS); }

/* One batch from the spool, in order; removes what was acked. True when
 * the whole batch went (so there may be more to send at once). */
static bool replay(struct bus_out *o)
{
	struct ls_spool_msg sm[BATCH];
	int n = ls_spool_peek(o->spool, sm, BATCH);
	if (n <= 0)
		return false;
	struct ls_bus_msg bm[BATCH];
	for (int i = 0; i < n; i++)
		bm[i] = (struct ls_bus_msg){ sm[i].subject, sm[i].msg_id, sm[i].data, sm[i].len, false };
	int acked = o->tr->publish(o->t, bm, n, timeout_ms(o));
	int prefix = 0;
	while (prefix < n && bm[prefix].acked)
		prefix++;
	if (prefix > 0) {
		ls_spool_ack(o->spool, sm[prefix - 1].seq);
		atomic_fetch_add(&o->replayed, (uint64_t)prefix);
	}
	if (acked < n)
		atomic_fetch_add(&o->failures, 1);
	ls_spool_msgs_free(sm, n);
	return prefix == n;
}

/* Publishes @n queued messages directly; what is not acked goes to the
 * spool, in order (from the first not acked: the order stays). */
static void publish_direct(struct bus_out *o, struct qmsg **qm, int n)
{
	struct ls_bus_msg bm[BATCH];
	for (int i = 0; i < n; i++)
		bm[i] = (struct ls_bus_msg){ qm[i]->subject, qm[i]->msg_id, qm[i]->data, qm[i]->len, false };
	int rc = o->tr->publish(o->t, bm, n, timeout_ms(o));
	int prefix = 0;
	while (prefix < n && bm[prefix].acked)
		prefix++;
	atomic_fetch_add(&o->published, (uint64_t)prefix);
	if (prefix < n) {
		atomic_fetch_add(&o->failures, 1);
		say_outage(o, rc == -ENOTCONN ? "not connected" : "not acknowledging");
		for (int i = prefix; i < n; i++)
			spool_push(o, qm[i]);
	}
}

static void outage_over(struct bus_out *o)
{
	if (!o->outage)
		return;
	o->outage = false;
	g_printerr("[bus] %s: back after %.1f s; %lld spooled messages sent, in order\n", o->bc->url,
		   (double)(ls_monotonic_ns() - o->outage_start) / 1e9,
		   (long long)(atomic_load(&o->replayed) - o->replay_start_count));
}

static gpointer pub_main(gpointer data)
{
	struct bus_out *o = data;
	struct qmsg *qm[BATCH];
	int64_t drain_until = 0;
	o->replay_start_count = atomic_load(&o->replayed);
	if (spool_held(o) > 0) {
		g_printerr("[bus] %lld messages left in %s from an earlier run: sending them first\n",
			   (long long)spool_held(o), o->spool_path);
		o->outage = true;
		o->outage_start = ls_monotonic_ns();
	}
	for (;;) {
		int n = 0;
		bool closing;
		g_mutex_lock(&o->lock);
		if (!o->q.length && !o->closing)
			g_cond_wait_until(&o->cond, &o->lock, g_get_monotonic_time() + 100 * G_TIME_SPAN_MILLISECOND);
		while (n < BATCH && o->q.length)
			qm[n++] = g_queue_pop_head(&o->q);
		closing = o->closing;
		if (!o->q.length)
			o->full_said = false;
		g_mutex_unlock(&o->lock);

		bool up = o->tr->connected(o->t);
		int64_t held = spool_held(o);
		if (held > 0 || !up) {
			if (!up && (n || held))
				say_outage(o, "not connected");
			for (int i = 0; i < n; i++)
				spool_push(o, qm[i]);
			if (up) {
				/* the spool first, in order, while the broker takes it */
				while (replay(o) && spool_held(o) > 0) {
					g_mutex_lock(&o->lock);
					bool more = o->q.length > 0;
					g_mutex_unlock(&o->lock);
					if (more)
						break; /* spool what came meanwhile, then go on */
				}
				if (spool_held(o) == 0) {
					outage_over(o);
					o->replay_start_count = atomic_load(&o->replayed);
					o->spool_full_said = false;
				}
			}
		} else if (n) {
			publish_direct(o, qm, n);
		}
		for (int i = 0; i < n; i++)
			qmsg_free(qm[i]);
		if (closing) {
			g_mutex_lock(&o->lock);
			bool empty = !o->q.length;
			g_mutex_unlock(&o->lock);
			if (!drain_until)
				drain_until = ls_monotonic_ns() + 2 * LS_NS_PER_SEC;
			/* at the end: the queue out, and the spool as far as the
			 * broker takes it in 2 s; the rest stays for next time */
			if (empty && (spool_held(o) == 0 || !up || ls_monotonic_ns() > drain_until))
				break;
		}
		if (!up && !n && held > 0)
			g_usleep(50000);
	}
	return NULL;
}

/* ---- remote commands ---------------------------------------------------- */

static void answer(struct bus_out *o, const char *reply, JsonObject *req, GString *j)
{
	char *to = NULL;
	if (reply)
		to = g_strdup(reply);
	else if (req && json_object_has_member(req, "reply_to") &&
		 JSON_NODE_HOLDS_VALUE(json_object_get_member(req, "reply_to")))
		to = g_strdup(json_object_get_string_member(req, "reply_to"));
	if (to && *to)
		o->tr->reply(o->t, to, j->str, j->len);
	g_free(to);
}

static void answer_error(struct bus_out *o, const char *reply, JsonObject *req, const char *what, const char *why)
{
	GString *j = g_string_new("{\"ok\":false,\"rig\":");
	ls_json_str(j, o->bc->name);
	g_string_append(j, ",\"error\":");
	char *line = g_strdup_printf("%s: %s", what, why);
	ls_json_str(j, line);
	g_string_append_c(j, '}');
	g_printerr("[bus] %s\n", line);
	g_free(line);
	answer(o, reply, req, j);
	g_string_free(j, TRUE);
}

/* @data as one JSON object, or NULL (answered). */
static JsonParser *parse_request(struct bus_out *o, const char *subj, const char *reply, const char *data, size_t len,
				 JsonObject **obj)
{
	JsonParser *p = json_parser_new();
	GError *e = NULL;
	if (!json_parser_load_from_data(p, data, (gssize)len, &e) || !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p))) {
		answer_error(o, reply, NULL, subj, e ? e->message : "expected a JSON object");
		g_clear_error(&e);
		g_object_unref(p);
		return NULL;
	}
	*obj = json_node_get_object(json_parser_get_root(p));
	return p;
}

/* An integer member (ns or slots), or a time in seconds/ISO-8601 for
 * "at"/"from"/"to". False when present but bad (@why set). */
static bool int_member(JsonObject *obj, const char *name, int64_t *out, bool *have, char **why)
{
	*have = false;
	if (!json_object_has_member(obj, name))
		return true;
	JsonNode *n = json_object_get_member(obj, name);
	if (JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_INT64) {
		*out = json_node_get_int(n);
		*have = true;
		return true;
	}
	if (JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING) {
		if (ls_config_parse_time(json_node_get_string(n), out, why) == 0) {
			*have = true;
			return true;
		}
		return false;
	}
	*why = g_strdup_printf("\"%s\" must be an integer", name);
	return false;
}

static void on_control(void *user, const char *subj, const char *reply, const char *data, size_t len)
{
	struct bus_out *o = user;
	JsonObject *req = NULL;
	JsonParser *p = parse_request(o, subj, reply, data, len, &req);
	if (!p)
		return;
	atomic_fetch_add(&o->commands, 1);
	const char *cmd = json_object_has_member(req, "command") ? json_object_get_string_member(req, "command") : NULL;
	int64_t at = 0;
	bool have = false;
	char *why = NULL;
	if (!cmd || (strcmp(cmd, "start") && strcmp(cmd, "stop"))) {
		answer_error(o, reply, req, subj, "\"command\" must be \"start\" or \"stop\"");
	} else if (!int_member(req, "at_ns", &at, &have, &why) || (!have && !int_member(req, "at", &at, &have, &why))) {
		answer_error(o, reply, req, subj, why);
	} else {
		bool start = cmd[2] == 'a';
		if (!have)
			at = start ? ls_realtime_ns() + LS_NS_PER_SEC : 0;
		int rc = ls_output_ctx_run_control(o->ctx, start ? LS_RUN_START : LS_RUN_STOP, at, &why);
		if (rc < 0) {
			answer_error(o, reply, req, cmd, why ? why : g_strerror(-rc));
		} else {
			GString *j = g_string_new("{\"ok\":true,\"rig\":");
			ls_json_str(j, o->bc->name);
			g_string_append_printf(j, ",\"command\":\"%s\",\"at_ns\":%lld}", cmd,
					       (long long)(at ? at : ls_realtime_ns()));
			answer(o, reply, req, j);
			g_string_free(j, TRUE);
		}
	}
	g_free(why);
	g_object_unref(p);
}

struct clip_job {
	char *reply;
	char *data;
	size_t len;
	char *subject;
};

static void clip_job_free(struct clip_job *c)
{
	g_free(c->reply);
	g_free(c->data);
	g_free(c->subject);
	g_free(c);
}

/* The clip thread: one export at a time, seconds of I/O each. */
static void clip_work(gpointer data, gpointer user)
{
	struct clip_job *c = data;
	struct bus_out *o = user;
	JsonObject *req = NULL;
	JsonParser *p = parse_request(o, c->subject, c->reply, c->data, c->len, &req);
	if (!p) {
		clip_job_free(c);
		return;
	}
	int64_t n1 = 0, n2 = 0, from = 0, to = 0;
	bool h1, h2, hf, ht;
	char *why = NULL;
	GPtrArray *cams = NULL;
	if (!int_member(req, "n1", &n1, &h1, &why) || !int_member(req, "n2", &n2, &h2, &why) ||
	    !int_member(req, "from_ns", &from, &hf, &why) || !int_member(req, "to_ns", &to, &ht, &why))
		goto bad;
	if (!hf && !int_member(req, "from", &from, &hf, &why))
		goto bad;
	if (!ht && !int_member(req, "to", &to, &ht, &why))
		goto bad;
	if (hf && ht && !h1 && !h2) {
		n1 = ls_slot_index(from, o->cfg->epoch_ns, 0, o->cfg->rate);
		n2 = ls_slot_index(to, o->cfg->epoch_ns, 0, o->cfg->rate);
	} else if (!(h1 && h2)) {
		why = g_strdup("give n1 and n2 (slots) or from_ns and to_ns (times)");
		goto bad;
	}
	for (int k = 0; k < 2; k++) {
		const char *name = k ? "post_s" : "pre_s";
		if (!json_object_has_member(req, name))
			continue;
		double s = json_object_get_double_member(req, name);
		if (!(s >= 0 && s <= 3600)) {
			why = g_strdup_printf("\"%s\" must be 0..3600 seconds", name);
			goto bad;
		}
		int64_t slots = (int64_t)(s * o->cfg->rate.num / o->cfg->rate.den + 0.5);
		if (k)
			n2 += slots;
		else
			n1 -= slots;
	}
	double rate = (double)o->cfg->rate.num / o->cfg->rate.den;
	if (n2 < n1 || (double)(n2 - n1) > 3600 * rate) {
		why = g_strdup_printf("a window of slots %lld..%lld: it must be 0 to 3600 s long", (long long)n1,
				      (long long)n2);
		goto bad;
	}
	if (json_object_has_member(req, "cameras")) {
		JsonNode *cn = json_object_get_member(req, "cameras");
		if (!JSON_NODE_HOLDS_ARRAY(cn)) {
			why = g_strdup("\"cameras\" must be an array of camera names");
			goto bad;
		}
		JsonArray *a = json_node_get_array(cn);
		cams = g_ptr_array_new();
		for (guint i = 0; i < json_array_get_length(a); i++) {
			const char *name = json_array_get_string_element(a, i);
			bool known = false;
			for (unsigned k = 0; name && k < o->cfg->ncams; k++)
				known = known || strcmp(o->cfg->cams[k].name, name) == 0;
			if (!known) {
				why = g_strdup_printf("unknown camera \"%s\"", name ? name : "(not a string)");
				goto bad;
			}
			g_ptr_array_add(cams, (gpointer)name);
		}
		g_ptr_array_add(cams, NULL);
	}
	{
		char *name = g_strdup_printf("bus-%lld-%lld-%08x", (long long)n1, (long long)n2, g_random_int());
		GString *clip = g_string_new(NULL);
		int rc = ls_output_ctx_export(o->ctx, cams ? (const char *const *)cams->pdata : NULL, n1, n2, name,
					      clip, &why);
		if (rc < 0) {
			answer_error(o, c->reply, req, "clip", why ? why : g_strerror(-rc));
		} else {
			GString *j = g_string_new("{\"ok\":true,\"rig\":");
			ls_json_str(j, o->bc->name);
			g_string_append(j, ",\"clip\":");
			ls_json_str(j, name);
			g_string_append_c(j, ',');
			g_string_append_len(j, clip->str + 1, (gssize)clip->len - 1);
			answer(o, c->reply, req, j);
			/* and the events service, as the console's exports do */
			GString *f = g_string_new("\"what\":\"bus\",\"clip\":");
			ls_json_str(f, name);
			g_string_append_c(f, ',');
			g_string_append_len(f, clip->str + 1, (gssize)clip->len - 2);
			ls_output_ctx_event(o->ctx, "clip-ready", f->str);
			g_string_free(f, TRUE);
			g_string_free(j, TRUE);
		}
		g_string_free(clip, TRUE);
		g_free(name);
	}
	goto out;
bad:
	answer_error(o, c->reply, req, "clip", why ? why : "bad request");
out:
	if (cams)
		g_ptr_array_free(cams, TRUE);
	g_free(why);
	g_object_unref(p);
	clip_job_free(c);
}

static void on_clip(void *user, const char *subj, const char *reply, const char *data, size_t len)
{
	struct bus_out *o = user;
	struct clip_job *c = g_new0(struct clip_job, 1);
	c->reply = g_strdup(reply);
	c->data = g_strndup(data, len);
	c->len = len;
	c->subject = g_strdup(subj);
	atomic_fetch_add(&o->commands, 1);
	g_thread_pool_push(o->clips, c, NULL);
}

/* ---- the output ----------------------------------------------------------- */

static void bus_free(void *impl);

static void *bus_new(struct ls_output_ctx *ctx, const void *group, char **err)
{
	const struct ls_config *cfg = ls_output_ctx_config(ctx);
	const struct ls_bus_config *bc = group;
	struct bus_out *o = g_new0(struct bus_out, 1);
	o->cfg = cfg;
	o->bc = bc;
	o->ctx = ctx;
	o->tr = ls_bus_transport_of(bc->transport);
	g_mutex_init(&o->lock);
	g_cond_init(&o->cond);
	g_queue_init(&o->q);

	if (bc->spool)
		o->spool_path = g_strdup(bc->spool);
	else if (cfg->record)
		o->spool_path = g_strdup_printf("%s/bus-%s.spool", cfg->record->dir, bc->name);
	else
		o->spool_path = g_strdup_printf("bus-%s.spool", bc->name);
	char *why = NULL;
	o->spool = ls_spool_open(o->spool_path, bc->spool_bytes, &why);
	if (!o->spool) {
		*err = g_strdup_printf("spool: %s", why ? why : g_strerror(errno));
		free(why);
		goto fail;
	}
	o->t = o->tr->open(bc, err);
	if (!o->t)
		goto fail;
	if (bc->control) {
		char *s1 = subject(o, "control"), *s2 = subject(o, "clip");
		int rc = o->tr->subscribe(o->t, s1, on_control, o);
		if (rc == 0)
			rc = o->tr->subscribe(o->t, s2, on_clip, o);
		if (rc < 0)
			*err = g_strdup_printf("control: cannot subscribe to %s and %s", s1, s2);
		g_free(s1);
		g_free(s2);
		if (rc < 0)
			goto fail;
		o->clips = g_thread_pool_new(clip_work, o, 1, FALSE, NULL);
		ls_output_ctx_hold_start(ctx);
	}
	if (bc->messages & (LS_BUS_DETECTIONS | LS_BUS_DEEPSTREAM))
		ls_output_ctx_subscribe_detections(ctx, on_detections, o);
	if (bc->messages & LS_BUS_EVENTS)
		ls_output_ctx_subscribe_events(ctx, on_event, o);
	if (bc->messages & LS_BUS_STATS)
		ls_output_ctx_subscribe_stats(ctx, on_stats, o);
	g_printerr("[bus] %s as %s, subjects %s.*, spool %s (%lld MiB)%s\n", bc->url, bc->name, bc->prefix,
		   o->spool_path, (long long)(bc->spool_bytes >> 20),
		   bc->control ? "; waiting for a start on .control" : "");
	return o;
fail:
	bus_free(o);
	return NULL;
}

static int bus_start(void *impl, struct ls_setq *q, char **err)
{
	struct bus_out *o = impl;
	o->setq = q;
	o->pub_thread = g_thread_new("bus-publish", pub_main, o);
	o->sets_thread = g_thread_new("bus-sets", sets_main, o);
	return 0;
}

/* framesets are tiny to serialise: a deeper queue costs nothing and keeps
 * a hiccup of this thread from losing one */
static unsigned bus_sets_held(const struct ls_config *cfg, const void *group) { return 0; }

static void bus_finish(void *impl)
{
	struct bus_out *o = impl;
	if (o->sets_thread)
		g_thread_join(o->sets_thread);
	o->sets_thread = NULL;
	if (o->clips)
		g_thread_pool_free(o->clips, FALSE, TRUE);
	o->clips = NULL;
	g_mutex_lock(&o->lock);
	o->closing = true;
	g_cond_signal(&o->cond);
	g_mutex_unlock(&o->lock);
	if (o->pub_thread)
		g_thread_join(o->pub_thread);
	o->pub_thread = NULL;
	/* from here a message is counted late, not sent: what came between the
	 * publisher's last look and now too */
	g_mutex_lock(&o->lock);
	atomic_store(&o->finished, true);
	atomic_fetch_add(&o->late, o->q.length);
	g_queue_clear_full(&o->q, qmsg_free);
	g_mutex_unlock(&o->lock);
	int64_t held = o->spool ? spool_held(o) : 0;
	uint64_t dropped = atomic_load(&o->spool_dropped) + atomic_load(&o->queue_dropped);
	g_printerr("[bus] %llu messages published, %llu through the spool%s",
		   (unsigned long long)atomic_load(&o->published), (unsigned long long)atomic_load(&o->replayed),
		   held || dropped ? "" : "\n");
	if (held)
		g_printerr("; %lld left in %s for the next run%s", (long long)held, o->spool_path, dropped ? "" : "\n");
	if (dropped)
		g_printerr("; %llu dropped (spool or queue full)\n", (unsigned long long)dropped);
}

static void bus_free(void *impl)
{
	struct bus_out *o = impl;
	if (!o)
		return;
	if (o->clips)
		g_thread_pool_free(o->clips, TRUE, TRUE);
	if (o->t)
		o->tr->close(o->t);
	ls_spool_close(&o->spool);
	g_queue_clear_full(&o->q, qmsg_free);
	g_free(o->spool_path);
	g_mutex_clear(&o->lock);
	g_cond_clear(&o->cond);
	g_free(o);
}

static void bus_stats_json(void *impl, GString *j)
{
	struct bus_out *o = impl;
	struct ls_spool_stats st = { 0 };
	if (o->spool)
		ls_spool_stats(o->spool, &st);
	g_mutex_lock(&o->lock);
	unsigned qlen = o->q.length;
	g_mutex_unlock(&o->lock);
	g_string_append_printf(
		j,
		",\"queued\":%u,\"published\":%llu,\"spooled\":%llu,\"spool_held\":%lld,"
		"\"spool_bytes\":%lld,\"replayed\":%llu,\"spool_dropped\":%llu,\"queue_dropped\":%llu,"
		"\"publish_failures\":%llu,\"outages\":%llu,\"commands\":%llu,\"late\":%llu",
		qlen, (unsigned long long)atomic_load(&o->published), (unsigned long long)atomic_load(&o->spooled),
		(long long)st.held, (long long)st.held_bytes, (unsigned long long)atomic_load(&o->replayed),
		(unsigned long long)atomic_load(&o->spool_dropped), (unsigned long long)atomic_load(&o->queue_dropped),
		(unsigned long long)atomic_load(&o->failures), (unsigned long long)atomic_load(&o->outages),
		(unsigned long long)atomic_load(&o->commands), (unsigned long long)atomic_load(&o->late));
	if (o->t)
		o->tr->stats_json(o->t, j);
}

const struct ls_output_ops ls_bus_out_ops = {
	.kind = "bus",
	.create = bus_new,
	.sets_held = bus_sets_held,
	.start = bus_start,
	.finish = bus_finish,
	.free = bus_free,
	.stats_json = bus_stats_json,
};
