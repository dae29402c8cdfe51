/* join — `lockstep join CONFIG --nodes A,B,...`: a hub that needs only
 * metadata joins the nodes' per-slot frameset messages from the bus into
 * one "metadata frameset" per slot, with no video (docs/architecture.md,
 * "Many hosts, one clock").
 *
 * CONFIG gives the rate and epoch ([rig]: every node's slot n is the same
 * instant) and the bus ([bus] url, credentials, subject-prefix: the site's).
 * The join subscribes to PREFIX.frameset (a plain subscription: JetStream
 * publishes reach it too) and keeps a window of slots. A slot is emitted
 * when every node named by --nodes has reported it, or at its deadline
 * (slot time + --max-latency-ms by this host's clock) with the missing
 * nodes named; slots are emitted in order, and a node's message for a slot
 * already emitted is counted late. Each joined set is one JSON line on
 * stdout (or --output FILE) and, with --publish, a message on
 * PREFIX.joined:
 *   {"schema":"lockstep.joined/1","n":..,"slot_ns":..,"complete":bool,
 *    "nodes":N,"present":K,"missing":["c"],"cameras":C,"cameras_present":P,
 *    "skew_ns":..,"unsynced":U}
 * skew_ns: the latest minus the earliest capture time of all present
 * cameras of all nodes (their clocks' disagreement, and their cameras').
 * Once a second --stats-json gets a record: sets, complete, per node
 * missing and late, skew p50/p99 over the second, unsynced frames, and
 * the messages and bytes received.
 *
 * Threads: the transport's callback thread parses and files messages under
 * a mutex; the main thread emits by deadline every 5 ms. */
#include "join.h"

#include <errno.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bus_transport.h"
#include "ls_stats.h"
#include "ls_time.h"
#include "values.h"

struct slot {
	int64_t n;
	unsigned nseen; /* nodes that reported it */
	unsigned cams, cams_present, unsynced;
	int64_t tmin, tmax; /* capture times of present cameras */
	uint8_t seen[];     /* per node: reported */
};

struct join {
	const struct ls_config *cfg;
	const struct ls_bus_transport *tr;
	void *t;
	char **nodes;
	unsigned nnodes;
	int64_t max_latency_ns;
	bool publish;
	char *joined_subject;
	FILE *out;
	GMutex lock;
	GHashTable *window; /* n -> struct slot * */
	int64_t next;       /* the next slot to emit; INT64_MIN: none seen yet */
	/* counters (under lock) */
	uint64_t msgs, bytes, bad, late, unknown, sets, complete, unsynced;
	uint64_t *missing, *late_node;
	struct ls_pctl skew;
};

static volatile sig_atomic_t stop_flag;
static void on_sig(int s) { stop_flag = 1; }

static int node_index(struct join *j, const char *name)
{
	for (unsigned i = 0; i < j->nnodes; i++)
		if (!strcmp(j->nodes[i], name))
			return (int)i;
	return -1;
}

/* The transport's thread: one node's frameset of one slot. */
static void on_frameset(void *user, const char *subject, const char *reply, const char *data, size_t len)
{
	struct join *j = user;
	JsonParser *p = json_parser_new();
	int64_t n = 0;
	const char *rig = NULL;
	unsigned cams = 0, present = 0, unsynced = 0;
	int64_t tmin = INT64_MAX, tmax = INT64_MIN;
	bool ok = json_parser_load_from_data(p, data, (gssize)len, NULL) &&
		  JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p));
	JsonObject *o = ok ? json_node_get_object(json_parser_get_root(p)) : NULL;
	ok = ok && json_object_has_member(o, "n") && json_object_has_member(o, "rig") &&
	     json_object_has_member(o, "cameras");
	if (ok) {
		n = json_object_get_int_member(o, "n");
		rig = json_object_get_string_member(o, "rig");
		JsonArray *a = json_object_get_array_member(o, "cameras");
		for (guint i = 0; a && i < json_array_get_length(a); i++) {
			JsonObject *c = json_array_get_object_element(a, i);
			cams++;
			if (!c || g_strcmp0(json_object_get_string_member_with_default(c, "state", ""), "present"))
				continue;
			present++;
			int64_t t = json_object_get_int_member_with_default(c, "capture_ns", 0);
			tmin = t < tmin ? t : tmin;
			tmax = t > tmax ? t : tmax;
			unsynced += json_object_get_boolean_member_with_default(c, "unsynced", FALSE);
		}
	}
	g_mutex_lock(&j->lock);
	j->msgs++;
	j->bytes += len;
	int k = ok && rig ? node_index(j, rig) : -1;
	if (!ok)
		j->bad++;
	else if (k < 0)
		j->unknown++;
	else if (j->next != INT64_MIN && n < j->next) {
		j->late++;
		j->late_node[k]++;
	} else {
		struct slot *s = g_hash_table_lookup(j->window, &n);
		if (!s) {
			s = g_malloc0(sizeof *s + j->nnodes);
			s->n = n;
			s->tmin = INT64_MAX;
			s->tmax = INT64_MIN;
			g_hash_table_insert(j->window, &s->n, s);
		}
		if (!s->seen[k]) {
			s->seen[k] = 1;
			s->nseen++;
		}
		s->cams += cams;
		s->cams_present += present;
		s->unsynced += unsynced;
		s->tmin = tmin < s->tmin ? tmin : s->tmin;
		s->tmax = tmax > s->tmax ? tmax : s->tmax;
		if (j->next == INT64_MIN)
			j->next = n;
	}
	g_mutex_unlock(&j->lock);
	g_object_unref(p);
}

/* Emits slot j->next (its entry or nothing: every node missing). Under lock. */
static void emit(struct join *j, GString *line)
{
	int64_t n = j->next;
	struct slot *s = g_hash_table_lookup(j->window, &n);
	unsigned have = 0;
	g_string_truncate(line, 0);
	g_string_append_printf(line, "{\"schema\":\"lockstep.joined/1\",\"n\":%lld,\"slot_ns\":%lld,", (long long)n,
			       (long long)ls_slot_time(n, j->cfg->epoch_ns, j->cfg->rate));
	GString *miss = g_string_new("[");
	for (unsigned i = 0; i < j->nnodes; i++) {
		if (s && s->seen[i]) {
			have++;
			continue;
		}
		j->missing[i]++;
		if (miss->len > 1)
			g_string_append_c(miss, ',');
		ls_json_str(miss, j->nodes[i]);
	}
	g_string_append_c(miss, ']');
	bool complete = have == j->nnodes && s && s->cams_present == s->cams;
	int64_t skew = s && s->tmax >= s->tmin && s->cams_present >= 2 ? s->tmax - s->tmin : 0;
	g_string_append_printf(line,
			       "\"complete\":%s,\"nodes\":%u,\"present\":%u,\"missing\":%s,\"cameras\":%u,"
			       "\"cameras_present\":%u,\"skew_ns\":%lld,\"unsynced\":%u",
			       complete ? "true" : "false", j->nnodes, have, miss->str, s ? s->cams : 0,
			       s ? s->cams_present : 0, (long long)skew, s ? s->unsynced : 0);
	/* the extremes too: a join of joined sets (a site of hubs) needs them */
	if (s && s->cams_present)
		g_string_append_printf(line, ",\"capture_min_ns\":%lld,\"capture_max_ns\":%lld", (long long)s->tmin,
				       (long long)s->tmax);
	g_string_append_c(line, '}');
	g_string_free(miss, TRUE);
	j->sets++;
	j->complete += complete;
	if (s) {
		j->unsynced += s->unsynced;
		if (s->cams_present >= 2)
			ls_pctl_add(&j->skew, skew);
		g_hash_table_remove(j->window, &n);
	}
	j->next++;
}

static void stats_line(struct join *j, FILE *f, bool final)
{
	int64_t p50 = 0, p99 = 0, pmax = 0;
	ls_pctl_get(&j->skew, &p50, &p99, &pmax);
	ls_pctl_reset(&j->skew);
	fprintf(f,
		"{\"final\":%s,\"time_ns\":%lld,\"next\":%lld,\"sets\":%llu,\"complete\":%llu,\"messages\":%llu,"
		"\"bytes\":%llu,\"bad\":%llu,\"unknown_rig\":%llu,\"late\":%llu,\"unsynced\":%llu,"
		"\"skew_us\":{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f},\"nodes\":{",
		final ? "true" : "false", (long long)ls_realtime_ns(), (long long)j->next, (unsigned long long)j->sets,
		(unsigned long long)j->complete, (unsigned long long)j->msgs, (unsigned long long)j->bytes,
		(unsigned long long)j->bad, (unsigned long long)j->unknown, (unsigned long long)j->late,
		(unsigned long long)j->unsynced, (double)p50 / 1e3, (double)p99 / 1e3, (double)pmax / 1e3);
	for (unsigned i = 0; i < j->nnodes; i++)
		fprintf(f, "%s\"%s\":{\"missing\":%llu,\"late\":%llu}", i ? "," : "", j->nodes[i],
			(unsigned long long)j->missing[i], (unsigned long long)j->late_node[i]);
	fprintf(f, "}}\n");
	fflush(f);
}

int ls_join(const struct ls_config *cfg, const struct ls_join_opts *jo)
{
	if (!cfg->bus) {
		g_printerr("%s: no [bus]: join needs one (url and the nodes' subject-prefix)\n", cfg->path);
		return 1;
	}
	struct join j = { .cfg = cfg, .next = INT64_MIN, .max_latency_ns = jo->max_latency_ns, .publish = jo->publish };
	j.nodes = g_strsplit(jo->nodes, ",", -1);
	for (char **p = j.nodes; *p; p++)
		g_strstrip(*p);
	j.nnodes = g_strv_length(j.nodes);
	if (j.nnodes < 1 || j.nnodes > 4096) {
		g_printerr("lockstep join: --nodes: 1 to 4096 node names, comma-separated\n");
		g_strfreev(j.nodes);
		return 2;
	}
	j.out = stdout;
	if (jo->output && !(j.out = fopen(jo->output, "w"))) {
		g_printerr("lockstep join: --output %s: %s\n", jo->output, g_strerror(errno));
		g_strfreev(j.nodes);
		return 1;
	}
	FILE *stats = NULL;
	if (jo->stats_json && !(stats = fopen(jo->stats_json, "a"))) {
		g_printerr("lockstep join: --stats-json %s: %s\n", jo->stats_json, g_strerror(errno));
		if (j.out != stdout)
			fclose(j.out);
		g_strfreev(j.nodes);
		return 1;
	}
	j.missing = g_new0(uint64_t, j.nnodes);
	j.late_node = g_new0(uint64_t, j.nnodes);
	ls_pctl_init(&j.skew, 8192);
	g_mutex_init(&j.lock);
	j.window = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);

	struct ls_bus_config bc = *cfg->bus;
	bc.jetstream = false;
	j.tr = ls_bus_transport_of(bc.transport);
	char *err = NULL;
	int rc = 0;
	j.t = j.tr->open(&bc, &err);
	if (!j.t) {
		g_printerr("%s:%d: [bus] %s\n", cfg->path, bc.line, err);
		g_free(err);
		rc = 1;
		goto out;
	}
	char *subject = g_strdup_printf("%s.frameset", bc.prefix);
	j.joined_subject = g_strdup_printf("%s.joined", bc.prefix);
	if (j.tr->subscribe(j.t, subject, on_frameset, &j) < 0) {
		g_printerr("%s:%d: [bus] cannot subscribe to %s\n", cfg->path, bc.line, subject);
		g_free(subject);
		rc = 1;
		goto out;
	}
	g_printerr("lockstep join: %u node%s on %s, a slot waits %.0f ms after its time\n", j.nnodes,
		   j.nnodes == 1 ? "" : "s", subject, (double)j.max_latency_ns / 1e6);
	g_free(subject);
	signal(SIGINT, on_sig);
	signal(SIGTERM, on_sig);
	int64_t end = jo->duration_s > 0 ? ls_monotonic_ns() + (int64_t)(jo->duration_s * 1e9) : INT64_MAX;
	int64_t next_stats = ls_monotonic_ns() + LS_NS_PER_SEC;
	GString *line = g_string_new(NULL);
	GPtrArray *ready = g_ptr_array_new_with_free_func(g_free);
	while (!stop_flag && ls_monotonic_ns() < end) {
		int64_t now = ls_realtime_ns();
		g_mutex_lock(&j.lock);
		while (j.next != INT64_MIN) {
			struct slot *s = g_hash_table_lookup(j.window, &j.next);
			bool all = s && s->nseen == j.nnodes;
			bool due = now >= ls_slot_time(j.next, cfg->epoch_ns, cfg->rate) + j.max_latency_ns;
			if (!all && !due)
				break;
			emit(&j, line);
			g_ptr_array_add(ready, g_strdup(line->str));
		}
		g_mutex_unlock(&j.lock);
		for (guint i = 0; i < ready->len; i++) {
			const char *l = g_ptr_array_index(ready, i);
			fprintf(j.out, "%s\n", l);
			if (j.publish)
				j.tr->reply(j.t, j.joined_subject, l, strlen(l));
		}
		if (ready->len)
			fflush(j.out);
		g_ptr_array_set_size(ready, 0);
		if (stats && ls_monotonic_ns() >= next_stats) {
			g_mutex_lock(&j.lock);
			stats_line(&j, stats, false);
			g_mutex_unlock(&j.lock);
			next_stats += LS_NS_PER_SEC;
		}
		g_usleep(5000);
	}
	g_ptr_array_unref(ready);
	g_string_free(line, TRUE);
	j.tr->close(j.t); /* no callback after this */
	j.t = NULL;
	if (stats) {
		stats_line(&j, stats, true);
	}
	g_printerr("lockstep join: %llu sets, %llu complete, %llu messages (%llu late, %llu unknown rig, %llu bad)\n",
		   (unsigned long long)j.sets, (unsigned long long)j.complete, (unsigned long long)j.msgs,
		   (unsigned long long)j.late, (unsigned long long)j.unknown, (unsigned long long)j.bad);
out:
	if (j.t)
		j.tr->close(j.t);
	if (stats)
		fclose(stats);
	if (j.out && j.out != stdout)
		fclose(j.out);
	g_hash_table_unref(j.window);
	g_mutex_clear(&j.lock);
	ls_pctl_clear(&j.skew);
	g_free(j.missing);
	g_free(j.late_node);
	g_free(j.joined_subject);
	g_strfreev(j.nodes);
	return rc;
}
