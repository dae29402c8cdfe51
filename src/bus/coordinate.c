/* coordinate — `lockstep coordinate start|stop CONFIG [--at TIME] [--wait-s S]`:
 * one start or stop message for every node listening on the bus
 * (docs/architecture.md, "The bus": remote commands).
 *
 * CONFIG's [bus] says where (url, credentials, TLS) and to whom
 * (subject-prefix: every node whose [bus] has that prefix and control = on
 * obeys). The request goes to PREFIX.control as a plain publish (not into
 * JetStream: a command is not history) with a "reply_to" subject of its
 * own, where the nodes answer; the answers are collected for --wait-s
 * seconds and printed, one JSON line each. start carries at_ns = TIME, or
 * the next whole second at least 1 s out, so that every node computes the
 * same first slot; stop likewise, so that every node's last slot is the
 * same.
 *
 * Exit status: 0 when at least one node answered and none refused; 1
 * otherwise (no node, a refusal, bad arguments). */
#include "coordinate.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "bus_transport.h"
#include "ls_time.h"

struct answers {
	GMutex lock;
	GPtrArray *lines; /* char * */
};

static void on_answer(void *user, const char *subject, const char *reply, const char *data, size_t len)
{
	struct answers *a = user;
	g_mutex_lock(&a->lock);
	g_ptr_array_add(a->lines, g_strndup(data, len));
	g_mutex_unlock(&a->lock);
}

int ls_coordinate(const struct ls_config *cfg, bool start, int64_t at_ns, double wait_s)
{
	if (!cfg->bus) {
		g_printerr("%s: no [bus]: coordinate needs one (url and subject-prefix of the nodes)\n", cfg->path);
		return 1;
	}
	struct ls_bus_config bc = *cfg->bus;
	bc.jetstream = false; /* plain publishes: a command is not stored */
	const struct ls_bus_transport *tr = ls_bus_transport_of(bc.transport);
	char *err = NULL;
	void *t = tr->open(&bc, &err);
	if (!t) {
		g_printerr("%s:%d: [bus] %s\n", cfg->path, bc.line, err);
		g_free(err);
		return 1;
	}
	int64_t until = ls_monotonic_ns() + 5 * LS_NS_PER_SEC;
	while (!tr->connected(t) && ls_monotonic_ns() < until)
		g_usleep(20000);
	if (!tr->connected(t)) {
		char *e = tr->last_error(t);
		g_printerr("%s:%d: [bus] url: %s: not connected within 5 s%s%s\n", cfg->path, bc.line, bc.url,
			   e ? ": " : "", e ? e : "");
		g_free(e);
		tr->close(t);
		return 1;
	}
	struct answers a = { .lines = g_ptr_array_new_with_free_func(g_free) };
	g_mutex_init(&a.lock);
	char *inbox = g_strdup_printf("%s.replies.%08x%08x", bc.prefix, g_random_int(), g_random_int());
	int rc = tr->subscribe(t, inbox, on_answer, &a);
	if (rc == 0)
		g_usleep(200000); /* the broker has the subscription before anyone answers */
	/* one time for every node, far enough out that each has the message */
	if (!at_ns)
		at_ns = (ls_realtime_ns() / LS_NS_PER_SEC + 2) * LS_NS_PER_SEC;
	GString *req = g_string_new(NULL);
	g_string_append_printf(req, "{\"command\":\"%s\",\"at_ns\":%lld", start ? "start" : "stop", (long long)at_ns);
	g_string_append_printf(req, ",\"reply_to\":\"%s\"}", inbox);
	char *subject = g_strdup_printf("%s.control", bc.prefix);
	if (rc == 0)
		rc = tr->reply(t, subject, req->str, req->len);
	if (rc < 0) {
		g_printerr("%s:%d: [bus] cannot publish to %s: %s\n", cfg->path, bc.line, subject, g_strerror(-rc));
	} else {
		g_printerr("lockstep: %s at %.3f s from now sent to %s; answers for %.1f s:\n",
			   start ? "start" : "stop", (double)(at_ns - ls_realtime_ns()) / 1e9, subject, wait_s);
		g_usleep((gulong)(wait_s * 1e6));
	}
	tr->close(t); /* no callback after this */
	unsigned ok = 0, refused = 0;
	for (guint i = 0; i < a.lines->len; i++) {
		const char *l = g_ptr_array_index(a.lines, i);
		printf("%s\n", l);
		if (strstr(l, "\"ok\":true"))
			ok++;
		else
			refused++;
	}
	fflush(stdout);
	if (rc >= 0)
		g_printerr("lockstep: %u node%s %s, %u refused\n", ok, ok == 1 ? "" : "s",
			   start ? "will start" : "will stop", refused);
	if (rc >= 0 && !ok && !refused)
		g_printerr("%s:%d: [bus] no node answered on %s (are they running with control = on and this "
			   "subject-prefix?)\n",
			   cfg->path, bc.line, subject);
	g_free(subject);
	g_free(inbox);
	g_string_free(req, TRUE);
	g_ptr_array_unref(a.lines);
	g_mutex_clear(&a.lock);
	return rc >= 0 && ok && !refused ? 0 : 1;
}
