/* remote — the redacted remote desktop ([remote]): GET /remote is the page,
 * GET /remote/ws its WebSocket. The picture is the redacted camera's WHEP
 * stream (whep.c: only what the redactor let through ever reaches it); the
 * WebSocket carries the agent's mouse and keyboard one way, and the
 * session's state (role, masked, why) the other. Input is injected into the
 * X display with XTest (xinput.c).
 *
 * Messages (JSON text frames, one object each; every one has "t"):
 *   page → lockstep:
 *     {"t":"move","x":X,"y":Y}                        pointer, video pixels
 *     {"t":"button","x":X,"y":Y,"b":1|2|3,"down":B,"mods":M}
 *     {"t":"wheel","x":X,"y":Y,"dx":N,"dy":N}         notches
 *     {"t":"key","key":K,"mods":M}                    KeyboardEvent.key, a tap
 *     {"t":"paste","text":S}                          only with paste = on
 *     {"t":"take"}                                    a viewer asks for control
 *     {"t":"ping","id":N}                             answered {"t":"pong","id":N}
 *   (M: 1 Shift, 2 Ctrl, 4 Alt, 8 Meta, 16 AltGr)
 *   lockstep → page:
 *     {"t":"hello","version":1,"session":ID,"camera":C,"stream":"/whep/C","width":W,"height":H,"paste":B}
 *     {"t":"state","role":"control"|"view","input":"on"|"off"|"blocked"|"busy"|"unavailable",
 *      "masked":B,"why":WHY|null,"controlled":B,"message":TEXT}
 *     {"t":"pong","id":N}
 *   Nothing else goes to the page: no screen text, never the X selections
 *   (lockstep never reads them), never another session's input.
 *
 * Rules: one controlling session at a time (the first that connects while
 * none controls; a viewer may "take" control once it is free), the others
 * watch only and their input is refused and counted. Input is rate-limited
 * (a token bucket: max-input-rate a second, a burst of twice that). A
 * malformed message or an event out of range is dropped and counted. While
 * the redactor masks the whole frame (a dead OCR worker, a failed canary,
 * the latency budget), input is blocked unless input-when-masked = allow,
 * and the page says why; what is held is released at once.
 *
 * Session audit (audit =, JSON lines, one write(2) each, no screen text):
 *   {"time_ns":..,"event":"session-start","session":N,"peer":"IP:PORT","user_agent":"..","role":".."}
 *   {"time_ns":..,"event":"control","session":N}                   took control
 *   {"time_ns":..,"event":"session-end","session":N,"duration_s":..,"input":{counts}}
 *   {"time_ns":..,"event":"full-mask","why":".."} / {"event":"full-mask-end","duration_s":..}
 *   {"time_ns":..,"event":"canary","result":"pass"|"fail"}
 *
 * Threads: everything here runs on the server thread (its GMainContext),
 * except on_event(), which the events service calls on any thread and which
 * only hands a copy to the server thread, and the injector: a thread of its
 * own with its own X connection, fed by a bounded queue. A lost X server
 * holds the thread whose request failed for good (x11_guard.c): that is
 * then the injector, never the server, and a new injector with a new
 * connection is started at the next input, every XRETRY_US at most. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>
#include <unistd.h>

#include "output_ctx.h"
#include "server.h"
#include "x11_guard.h"
#include "xinput.h"

#define MAX_MESSAGE_BYTES 16384 /* a larger frame closes the socket */
#define MAX_PASTE_CHARS 4096
#define REFUSED_NOTE_US G_USEC_PER_SEC /* at most one "refused" note a second per session */
#define XRETRY_US (2 * G_USEC_PER_SEC) /* a display that did not open is tried again after this */
#define INJECT_QUEUE 256               /* input events waiting for the injector at most; beyond: dropped */

struct counts {
	guint64 moves, buttons, wheels, keys, pastes; /* injected */
	guint64 malformed, rate_dropped, blocked, refused, failed;
};

struct session {
	struct ls_remote *r;
	guint id;
	SoupWebsocketConnection *ws;
	char *peer;
	gint64 start_us;
	struct counts n;
	double tokens; /* the rate limit's bucket */
	gint64 tokens_us;
	gint64 noted_us; /* when a refusal was last told */
};

struct ls_remote {
	const struct ls_config *cfg;
	const struct ls_remote_config *rc;
	struct ls_output_ctx *octx;
	GMainContext *ctx;
	char *display;        /* of the camera's x11:// uri */
	int x0, y0, w, h;     /* its region; w, h 0: to the screen's edge (xinput.c finds them) */
	struct injector *inj; /* or NULL: none started yet, or the last one is gone */
	gint64 xtried_us;
	char *xerr;          /* why the display did not open, or NULL */
	GHashTable *by_id;   /* id -> session */
	struct session *ctl; /* the controlling session, or NULL */
	guint next_id;
	bool masked;
	char *why;
	gint64 masked_us;
	int audit_fd; /* -1: none */
	bool closed;
	/* totals (server thread; read by stats_json on the stats thread: whole words) */
	guint64 sessions, ended;
	struct counts total;
	atomic_ullong inj_malformed, inj_failed; /* the injector's refusals (-EINVAL, -ERANGE) and failures */
};

/* ---- the injector thread ---- */

enum cmd_kind { C_MOVE, C_BUTTON, C_WHEEL, C_KEY, C_RELEASE, C_QUIT };

struct cmd {
	enum cmd_kind kind;
	int x, y, b, dx, dy;
	bool down;
	unsigned mods;
	char key[32]; /* C_KEY: a KeyboardEvent.key, NUL-terminated */
};

enum inj_state { INJ_OPENING, INJ_OPEN, INJ_FAILED, INJ_DONE };

/* Shared by the server thread and the injector thread: state and err are
 * set by the injector before it stops reading (atomic state, err written
 * before state leaves INJ_OPENING); the rest is set before the thread starts. */
struct injector {
	struct ls_remote *r;
	GAsyncQueue *q; /* struct cmd */
	GThread *th;
	pthread_t self;
	atomic_int state;
	atomic_bool have_self;
	char *err;
	char *display;
	int x0, y0, w, h;
};

static void count_rc(struct injector *in, int rc)
{
	if (rc == -ERANGE || rc == -EINVAL)
		atomic_fetch_add(&in->r->inj_malformed, 1);
	else if (rc < 0)
		atomic_fetch_add(&in->r->inj_failed, 1);
}

static gpointer injector_main(gpointer data)
{
	struct injector *in = data;
	in->self = pthread_self();
	atomic_store(&in->have_self, true);
	char *err = NULL;
	struct ls_xinput *xi = ls_xinput_open(in->display, in->x0, in->y0, in->w, in->h, &err);
	if (!xi) {
		in->err = err;
		atomic_store(&in->state, INJ_FAILED);
		return NULL;
	}
	atomic_store(&in->state, INJ_OPEN);
	for (;;) {
		struct cmd *c = g_async_queue_pop(in->q);
		enum cmd_kind k = c->kind;
		switch (k) {
		case C_MOVE:
			count_rc(in, ls_xinput_motion(xi, c->x, c->y));
			break;
		case C_BUTTON:
			count_rc(in, ls_xinput_button(xi, c->x, c->y, c->b, c->down, c->mods));
			break;
		case C_WHEEL:
			count_rc(in, ls_xinput_wheel(xi, c->x, c->y, c->dx, c->dy));
			break;
		case C_KEY:
			count_rc(in, ls_xinput_key(xi, c->key, c->mods));
			break;
		case C_RELEASE:
			ls_xinput_release_all(xi);
			break;
		case C_QUIT:
			break;
		}
		g_free(c);
		if (k == C_QUIT)
			break;
	}
	ls_xinput_close(&xi);
	atomic_store(&in->state, INJ_DONE);
	return NULL;
}

static struct injector *injector_start(struct ls_remote *r)
{
	struct injector *in = g_new0(struct injector, 1);
	in->r = r;
	in->q = g_async_queue_new_full(g_free);
	in->display = g_strdup(r->display);
	in->x0 = r->x0;
	in->y0 = r->y0;
	in->w = r->w;
	in->h = r->h;
	atomic_init(&in->state, INJ_OPENING);
	in->th = g_thread_new("remote-input", injector_main, in);
	return in;
}

/* Ends @in: joined when it stops in time; a thread held for a lost X server
 * never does, and is left (with its little memory) where it is. */
static void injector_stop(struct injector **inp)
{
	struct injector *in = *inp;
	if (!in)
		return;
	*inp = NULL;
	bool lost = atomic_load(&in->have_self) && ls_x11_thread_lost(in->self);
	if (lost)
		return;
	struct cmd *c = g_new0(struct cmd, 1);
	c->kind = C_QUIT;
	g_async_queue_push(in->q, c);
	g_thread_join(in->th);
	g_async_queue_unref(in->q);
	g_free(in->err);
	g_free(in->display);
	g_free(in);
}

/* ---- audit ---- */

static void audit(struct ls_remote *r, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void audit(struct ls_remote *r, const char *fmt, ...)
{
	if (r->audit_fd < 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *body = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	char *line = g_strdup_printf("{\"time_ns\":%" G_GINT64_FORMAT ",%s}\n", g_get_real_time() * 1000, body);
	size_t len = strlen(line);
	if (write(r->audit_fd, line, len) != (ssize_t)len)
		g_printerr("remote: audit %s: %s\n", r->rc->audit, g_strerror(errno));
	g_free(line);
	g_free(body);
}

static void counts_json(GString *g, const struct counts *n)
{
	g_string_append_printf(g,
			       "{\"moves\":%" G_GUINT64_FORMAT ",\"buttons\":%" G_GUINT64_FORMAT
			       ",\"wheels\":%" G_GUINT64_FORMAT ",\"keys\":%" G_GUINT64_FORMAT
			       ",\"pastes\":%" G_GUINT64_FORMAT ",\"malformed\":%" G_GUINT64_FORMAT
			       ",\"rate_dropped\":%" G_GUINT64_FORMAT ",\"blocked_masked\":%" G_GUINT64_FORMAT
			       ",\"refused_not_control\":%" G_GUINT64_FORMAT ",\"failed\":%" G_GUINT64_FORMAT "}",
			       n->moves, n->buttons, n->wheels, n->keys, n->pastes, n->malformed, n->rate_dropped,
			       n->blocked, n->refused, n->failed);
}

static void counts_add(struct counts *to, const struct counts *n)
{
	to->moves += n->moves;
	to->buttons += n->buttons;
	to->wheels += n->wheels;
	to->keys += n->keys;
	to->pastes += n->pastes;
	to->malformed += n->malformed;
	to->rate_dropped += n->rate_dropped;
	to->blocked += n->blocked;
	to->refused += n->refused;
	to->failed += n->failed;
}

/* ---- what the page is told ---- */

static void send_json(struct session *s, GString *g)
{
	if (soup_websocket_connection_get_state(s->ws) == SOUP_WEBSOCKET_STATE_OPEN)
		soup_websocket_connection_send_text(s->ws, g->str);
	g_string_free(g, TRUE);
}

static const char *input_state(struct ls_remote *r, struct session *s, const char **message)
{
	if (!r->rc->input) {
		*message = "view only: input = off on this workstation";
		return "off";
	}
	if (s != r->ctl) {
		*message = r->ctl ? "view only: another agent has control" : "view only: control is free (take it)";
		return "busy";
	}
	if (r->masked && r->rc->when_masked == LS_REMOTE_BLOCK) {
		*message = "input blocked: the screen is masked whole";
		return "blocked";
	}
	if (r->xerr) {
		*message = "input unavailable: the workstation's display cannot be reached";
		return "unavailable";
	}
	*message = "you have control";
	return "on";
}

static void send_state(struct session *s)
{
	struct ls_remote *r = s->r;
	const char *message = NULL;
	const char *in = input_state(r, s, &message);
	GString *g = g_string_new("{\"t\":\"state\",\"role\":");
	g_string_append_printf(g, "\"%s\",\"input\":\"%s\",\"masked\":%s,\"why\":", s == r->ctl ? "control" : "view",
			       in, r->masked ? "true" : "false");
	if (r->masked && r->why)
		ls_json_str(g, r->why);
	else
		g_string_append(g, "null");
	g_string_append_printf(g, ",\"controlled\":%s,\"message\":", r->ctl ? "true" : "false");
	GString *m = g_string_new(message);
	if (r->masked && r->why)
		g_string_append_printf(m, " (%s)", r->why);
	ls_json_str(g, m->str);
	g_string_free(m, TRUE);
	g_string_append_c(g, '}');
	send_json(s, g);
}

static void send_state_all(struct ls_remote *r)
{
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, r->by_id);
	while (g_hash_table_iter_next(&it, NULL, &v))
		send_state(v);
}

/* ---- input ---- */

/* The injector, started on first use and again when its display was lost
 * or did not open (every XRETRY_US at most: the screen may come up after
 * lockstep); NULL while there is none that takes input. Updates r->xerr
 * and tells the sessions when that changes. */
static struct injector *injector(struct ls_remote *r)
{
	struct injector *in = r->inj;
	bool was = r->xerr != NULL;
	if (in) {
		int st = atomic_load(&in->state);
		bool lost = atomic_load(&in->have_self) && ls_x11_thread_lost(in->self);
		if (st == INJ_FAILED || lost) {
			g_free(r->xerr);
			r->xerr = lost ? g_strdup_printf("the connection to the X display %s was lost", r->display)
				       : g_strdup(in->err ? in->err : "cannot open the display");
			if (!was)
				g_printerr("remote: input: %s\n", r->xerr);
			injector_stop(&r->inj);
			in = NULL;
		} else if (st == INJ_OPEN && was) {
			g_clear_pointer(&r->xerr, g_free);
			g_printerr("remote: input: the display %s is back\n", r->display);
		}
	}
	gint64 now = g_get_monotonic_time();
	if (!in && (!r->xtried_us || now - r->xtried_us >= XRETRY_US)) {
		r->xtried_us = now;
		in = r->inj = injector_start(r);
	}
	if ((r->xerr != NULL) != was)
		send_state_all(r);
	return in;
}

static void push(struct ls_remote *r, struct cmd *c)
{
	struct injector *in = injector(r);
	if (!in || g_async_queue_length(in->q) >= INJECT_QUEUE) {
		g_free(c);
		atomic_fetch_add(&r->inj_failed, 1);
		return;
	}
	g_async_queue_push(in->q, c);
}

static void release_held(struct ls_remote *r)
{
	if (!r->inj)
		return;
	struct cmd *c = g_new0(struct cmd, 1);
	c->kind = C_RELEASE;
	push(r, c);
}

/* The bucket: max-input-rate tokens a second, at most twice that held. */
static bool take_token(struct session *s)
{
	int rate = s->r->rc->max_rate;
	gint64 now = g_get_monotonic_time();
	s->tokens += (double)(now - s->tokens_us) * rate / 1e6;
	s->tokens_us = now;
	if (s->tokens > 2.0 * rate)
		s->tokens = 2.0 * rate;
	if (s->tokens < 1)
		return false;
	s->tokens -= 1;
	return true;
}

static bool member_int(JsonObject *o, const char *name, gint64 lo, gint64 hi, gint64 *out)
{
	JsonNode *n = json_object_get_member(o, name);
	if (!n || json_node_get_value_type(n) != G_TYPE_INT64)
		return false;
	gint64 v = json_node_get_int(n);
	if (v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static bool member_bool(JsonObject *o, const char *name, bool *out)
{
	JsonNode *n = json_object_get_member(o, name);
	if (!n || json_node_get_value_type(n) != G_TYPE_BOOLEAN)
		return false;
	*out = json_node_get_boolean(n);
	return true;
}

static const char *member_str(JsonObject *o, const char *name)
{
	JsonNode *n = json_object_get_member(o, name);
	if (!n || json_node_get_value_type(n) != G_TYPE_STRING)
		return NULL;
	return json_node_get_string(n);
}

static void refused(struct session *s, guint64 *counter)
{
	(*counter)++;
	gint64 now = g_get_monotonic_time();
	if (now - s->noted_us >= REFUSED_NOTE_US) {
		s->noted_us = now;
		send_state(s);
	}
}

enum kind { K_MOVE, K_BUTTON, K_WHEEL, K_KEY, K_PASTE };

/* One input message, checked and (when allowed) injected. Returns after
 * counting it once, in exactly one of the counters. */
static void input(struct session *s, enum kind k, JsonObject *o)
{
	struct ls_remote *r = s->r;
	gint64 x = 0, y = 0, b = 0, dx = 0, dy = 0, mods = 0;
	bool down = false;
	const char *key = NULL, *text = NULL;
	bool ok = true;
	/* coordinates: video pixels; the region's size is checked by xinput.c
	 * (-ERANGE), here only what no screen has */
	if (k == K_MOVE || k == K_BUTTON || k == K_WHEEL)
		ok = member_int(o, "x", 0, 16383, &x) && member_int(o, "y", 0, 16383, &y);
	if (ok && k == K_BUTTON)
		ok = member_int(o, "b", 1, 3, &b) && member_bool(o, "down", &down) &&
		     member_int(o, "mods", 0, 31, &mods);
	if (ok && k == K_WHEEL)
		ok = member_int(o, "dx", -10, 10, &dx) && member_int(o, "dy", -10, 10, &dy);
	if (ok && k == K_KEY) {
		key = member_str(o, "key");
		ok = key && member_int(o, "mods", 0, 31, &mods);
	}
	if (ok && k == K_PASTE) {
		text = member_str(o, "text");
		ok = text && g_utf8_strlen(text, -1) <= MAX_PASTE_CHARS;
	}
	if (!ok) {
		s->n.malformed++;
		return;
	}
	if (!r->rc->input || s != r->ctl) {
		refused(s, &s->n.refused);
		return;
	}
	if (k == K_PASTE && !r->rc->paste) {
		refused(s, &s->n.refused);
		return;
	}
	if (r->masked && r->rc->when_masked == LS_REMOTE_BLOCK) {
		refused(s, &s->n.blocked);
		return;
	}
	if (!take_token(s)) {
		s->n.rate_dropped++;
		return;
	}
	if (!injector(r)) {
		s->n.failed++;
		return;
	}
	struct cmd *c = g_new0(struct cmd, 1);
	c->x = (int)x;
	c->y = (int)y;
	c->mods = (unsigned)mods;
	switch (k) {
	case K_MOVE:
		c->kind = C_MOVE;
		s->n.moves++;
		break;
	case K_BUTTON:
		c->kind = C_BUTTON;
		c->b = (int)b;
		c->down = down;
		s->n.buttons++;
		break;
	case K_WHEEL:
		c->kind = C_WHEEL;
		c->dx = (int)dx;
		c->dy = (int)dy;
		s->n.wheels++;
		break;
	case K_KEY:
		if (strlen(key) >= sizeof c->key) {
			g_free(c);
			s->n.malformed++;
			return;
		}
		c->kind = C_KEY;
		g_strlcpy(c->key, key, sizeof c->key);
		s->n.keys++;
		break;
	case K_PASTE:
		/* typed, one character at a time: a code point no keymap has
		 * is bound for the moment (xinput.c); line breaks are Enter */
		g_free(c);
		for (const char *p = text; *p; p = g_utf8_next_char(p)) {
			gunichar u = g_utf8_get_char(p);
			if (u == '\r')
				continue;
			struct cmd *t = g_new0(struct cmd, 1);
			t->kind = C_KEY;
			if (u == '\n')
				g_strlcpy(t->key, "Enter", sizeof t->key);
			else if (u == '\t')
				g_strlcpy(t->key, "Tab", sizeof t->key);
			else
				g_unichar_to_utf8(u, t->key);
			push(r, t);
		}
		s->n.pastes++;
		return;
	}
	push(r, c);
}

static void take_control(struct session *s)
{
	struct ls_remote *r = s->r;
	if (!r->rc->input || r->ctl)
		return;
	r->ctl = s;
	audit(r, "\"event\":\"control\",\"session\":%u", s->id);
	send_state_all(r);
}

static void on_message(SoupWebsocketConnection *ws, gint type, GBytes *message, gpointer data)
{
	struct session *s = data;
	(void)ws;
	gsize len = 0;
	const char *buf = g_bytes_get_data(message, &len);
	JsonParser *p = json_parser_new_immutable();
	JsonObject *o = NULL;
	if (type == SOUP_WEBSOCKET_DATA_TEXT && json_parser_load_from_data(p, buf, (gssize)len, NULL)) {
		JsonNode *root = json_parser_get_root(p);
		if (root && JSON_NODE_HOLDS_OBJECT(root))
			o = json_node_get_object(root);
	}
	const char *t = o ? member_str(o, "t") : NULL;
	if (!t)
		s->n.malformed++;
	else if (!strcmp(t, "move"))
		input(s, K_MOVE, o);
	else if (!strcmp(t, "button"))
		input(s, K_BUTTON, o);
	else if (!strcmp(t, "wheel"))
		input(s, K_WHEEL, o);
	else if (!strcmp(t, "key"))
		input(s, K_KEY, o);
	else if (!strcmp(t, "paste"))
		input(s, K_PASTE, o);
	else if (!strcmp(t, "take"))
		take_control(s);
	else if (!strcmp(t, "ping")) {
		gint64 id = 0;
		if (!member_int(o, "id", 0, G_MAXINT32, &id))
			s->n.malformed++;
		GString *g = g_string_new(NULL);
		g_string_printf(g, "{\"t\":\"pong\",\"id\":%" G_GINT64_FORMAT "}", id);
		send_json(s, g);
	} else
		s->n.malformed++;
	g_object_unref(p);
}

static void session_end(struct session *s)
{
	struct ls_remote *r = s->r;
	GString *g = g_string_new(NULL);
	counts_json(g, &s->n);
	audit(r, "\"event\":\"session-end\",\"session\":%u,\"duration_s\":%.3f,\"input\":%s", s->id,
	      (double)(g_get_monotonic_time() - s->start_us) / 1e6, g->str);
	g_string_free(g, TRUE);
	counts_add(&r->total, &s->n);
	r->ended++;
	bool had = r->ctl == s;
	if (had) {
		release_held(r);
		r->ctl = NULL;
	}
	g_hash_table_remove(r->by_id, GUINT_TO_POINTER(s->id));
	if (had)
		send_state_all(r);
}

static void session_free(gpointer data)
{
	struct session *s = data;
	g_signal_handlers_disconnect_by_data(s->ws, s);
	g_object_unref(s->ws);
	g_free(s->peer);
	g_free(s);
}

static void on_closed(SoupWebsocketConnection *ws, gpointer data)
{
	(void)ws;
	session_end(data);
}

static void on_websocket(SoupServer *server, SoupServerMessage *msg, const char *path, SoupWebsocketConnection *ws,
			 gpointer data)
{
	struct ls_remote *r = data;
	(void)server;
	(void)path;
	if (r->closed) {
		soup_websocket_connection_close(ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "lockstep is stopping");
		return;
	}
	struct session *s = g_new0(struct session, 1);
	s->r = r;
	s->id = ++r->next_id;
	s->ws = g_object_ref(ws);
	s->start_us = s->tokens_us = g_get_monotonic_time();
	s->tokens = 2.0 * r->rc->max_rate;
	GSocketAddress *sa = soup_server_message_get_remote_address(msg);
	if (G_IS_INET_SOCKET_ADDRESS(sa)) {
		char *ip = g_inet_address_to_string(g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(sa)));
		guint16 port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(sa));
		s->peer = strchr(ip, ':') ? g_strdup_printf("[%s]:%u", ip, port) : g_strdup_printf("%s:%u", ip, port);
		g_free(ip);
	} else {
		s->peer = g_strdup("unknown");
	}
	soup_websocket_connection_set_max_incoming_payload_size(ws, MAX_MESSAGE_BYTES);
	soup_websocket_connection_set_keepalive_interval(ws, 10);
	g_hash_table_insert(r->by_id, GUINT_TO_POINTER(s->id), s);
	r->sessions++;
	if (r->rc->input && !r->ctl)
		r->ctl = s;
	const char *ua = soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "User-Agent");
	GString *a = g_string_new(NULL);
	g_string_append_printf(a, "\"event\":\"session-start\",\"session\":%u,\"peer\":", s->id);
	ls_json_str(a, s->peer);
	g_string_append(a, ",\"user_agent\":");
	ls_json_str(a, ua ? ua : "");
	g_string_append_printf(a, ",\"role\":\"%s\"", r->ctl == s ? "control" : "view");
	audit(r, "%s", a->str);
	g_string_free(a, TRUE);
	g_signal_connect(ws, "message", G_CALLBACK(on_message), s);
	g_signal_connect(ws, "closed", G_CALLBACK(on_closed), s);
	GString *g = g_string_new(NULL);
	g_string_printf(g, "{\"t\":\"hello\",\"version\":1,\"session\":%u,\"camera\":", s->id);
	ls_json_str(g, r->rc->camera);
	g_string_append(g, ",\"stream\":");
	char *stream = g_strconcat("/whep/", r->rc->camera, NULL);
	ls_json_str(g, stream);
	g_free(stream);
	g_string_append_printf(g, ",\"paste\":%s}", r->rc->paste && r->rc->input ? "true" : "false");
	send_json(s, g);
	if (r->rc->input && r->ctl == s)
		injector(r); /* open the display now: the first key should not wait for it */
	send_state(s);
}

/* ---- the redactor's state, from the events service ---- */

struct ev {
	struct ls_remote *r;
	char *kind, *why;
	double latency_ms;
};

static gboolean apply_event(gpointer data)
{
	struct ev *e = data;
	struct ls_remote *r = e->r;
	if (!strcmp(e->kind, "redact-full-mask")) {
		bool was = r->masked;
		r->masked = true;
		g_free(r->why);
		r->why = g_strdup(e->why ? e->why : "unknown");
		if (!was)
			r->masked_us = g_get_monotonic_time();
		GString *g = g_string_new(NULL);
		ls_json_str(g, r->why);
		audit(r, "\"event\":\"full-mask\",\"why\":%s", g->str);
		g_string_free(g, TRUE);
		if (r->rc->when_masked == LS_REMOTE_BLOCK)
			release_held(r);
		send_state_all(r);
	} else if (!strcmp(e->kind, "redact-full-mask-end")) {
		if (r->masked)
			audit(r, "\"event\":\"full-mask-end\",\"duration_s\":%.3f",
			      (double)(g_get_monotonic_time() - r->masked_us) / 1e6);
		r->masked = false;
		g_clear_pointer(&r->why, g_free);
		send_state_all(r);
	} else if (!strcmp(e->kind, "canary-failed")) {
		audit(r, "\"event\":\"canary\",\"result\":\"fail\"");
	} else if (!strcmp(e->kind, "canary-passed")) {
		audit(r, "\"event\":\"canary\",\"result\":\"pass\",\"latency_ms\":%.1f", e->latency_ms);
	}
	return G_SOURCE_REMOVE;
}

static void ev_free(gpointer data)
{
	struct ev *e = data;
	g_free(e->kind);
	g_free(e->why);
	g_free(e);
}

/* Any thread: the events service's record of one event. */
static void on_event(void *user, const char *json)
{
	struct ls_remote *r = user;
	if (!strstr(json, "redact-full-mask") && !strstr(json, "canary-"))
		return;
	JsonParser *p = json_parser_new_immutable();
	if (json_parser_load_from_data(p, json, -1, NULL) && JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p))) {
		JsonObject *o = json_node_get_object(json_parser_get_root(p));
		const char *kind = member_str(o, "kind"), *cam = member_str(o, "camera");
		if (kind && cam && !strcmp(cam, r->rc->camera)) {
			struct ev *e = g_new0(struct ev, 1);
			e->r = r;
			e->kind = g_strdup(kind);
			e->why = g_strdup(member_str(o, "why"));
			JsonNode *n = json_object_get_member(o, "latency_ms");
			e->latency_ms = n && JSON_NODE_HOLDS_VALUE(n) ? json_node_get_double(n) : 0;
			g_main_context_invoke_full(r->ctx, G_PRIORITY_DEFAULT, apply_event, e, ev_free);
		}
	}
	g_object_unref(p);
}

/* ---- life ---- */

struct ls_remote *ls_remote_new(const struct ls_config *cfg, struct ls_output_ctx *octx, GMainContext *ctx, char **err)
{
	const struct ls_remote_config *rc = &cfg->remote;
	if (!rc->present)
		return NULL;
	struct ls_remote *r = g_new0(struct ls_remote, 1);
	r->cfg = cfg;
	r->rc = rc;
	r->octx = octx;
	r->ctx = ctx;
	r->audit_fd = -1;
	const struct ls_src_x11 *x = &cfg->cams[rc->cam].src.x11;
	r->display = g_strdup(x->display && *x->display ? x->display : g_getenv("DISPLAY"));
	r->x0 = x->x;
	r->y0 = x->y;
	r->w = x->width;
	r->h = x->height;
	r->by_id = g_hash_table_new_full(NULL, NULL, NULL, session_free);
	if (rc->audit) {
		r->audit_fd = open(rc->audit, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		if (r->audit_fd < 0) {
			*err = g_strdup_printf("[remote] audit = %s: %s", rc->audit, g_strerror(errno));
			ls_remote_free(&r);
			return NULL;
		}
	}
	if (!r->display) {
		*err = g_strdup_printf("[remote] camera %s: no X display (the uri names none and DISPLAY is not set)",
				       rc->camera);
		ls_remote_free(&r);
		return NULL;
	}
	audit(r, "\"event\":\"remote-start\",\"camera\":\"%s\",\"input\":%s,\"input_when_masked\":\"%s\",\"paste\":%s",
	      rc->camera, rc->input ? "true" : "false", rc->when_masked == LS_REMOTE_BLOCK ? "block" : "allow",
	      rc->paste ? "true" : "false");
	ls_output_ctx_subscribe_events(octx, on_event, r);
	return r;
}

void ls_remote_attach(struct ls_remote *r, SoupServer *server)
{
	soup_server_add_websocket_handler(server, "/remote/ws", NULL, NULL, on_websocket, r, NULL);
}

bool ls_remote_request(struct ls_remote *r, SoupServerMessage *msg, const char *path)
{
	const char *method = soup_server_message_get_method(msg);
	if (!strcmp(path, "/remote")) {
		if (!r) {
			ls_http_reply_error(msg, SOUP_STATUS_NOT_FOUND, "/remote needs a [remote] group in the config");
			return true;
		}
		if (ls_http_takes(msg, method, path, "GET, HEAD"))
			ls_http_reply_resource(msg, "remote.html", "text/html; charset=utf-8");
		return true;
	}
	if (!strcmp(path, "/api/v1/remote")) {
		if (!ls_http_takes(msg, method, path, "GET, HEAD"))
			return true;
		if (!r) {
			ls_http_reply_error(msg, SOUP_STATUS_NOT_FOUND, "no [remote] group in this config");
			return true;
		}
		GString *g = g_string_new("{\"version\":1,\"camera\":");
		ls_json_str(g, r->rc->camera);
		g_string_append_printf(g,
				       ",\"input\":%s,\"input_when_masked\":\"%s\",\"paste\":%s,\"max_input_rate\":%d,"
				       "\"sessions\":%u,\"controlled\":%s,\"masked\":%s,\"why\":",
				       r->rc->input ? "true" : "false",
				       r->rc->when_masked == LS_REMOTE_BLOCK ? "block" : "allow",
				       r->rc->paste ? "true" : "false", r->rc->max_rate, g_hash_table_size(r->by_id),
				       r->ctl ? "true" : "false", r->masked ? "true" : "false");
		if (r->masked && r->why)
			ls_json_str(g, r->why);
		else
			g_string_append(g, "null");
		g_string_append(g, ",\"display\":");
		if (r->xerr)
			ls_json_str(g, r->xerr);
		else
			g_string_append(g, r->inj ? "\"open\"" : "\"not opened yet\"");
		/* the open sessions' counts with the ended ones' */
		struct counts n = r->total;
		GHashTableIter it;
		gpointer v;
		g_hash_table_iter_init(&it, r->by_id);
		while (g_hash_table_iter_next(&it, NULL, &v)) {
			counts_add(&n, &((struct session *)v)->n);
		}
		n.malformed += atomic_load(&r->inj_malformed);
		n.failed += atomic_load(&r->inj_failed);
		g_string_append(g, ",\"input_events\":");
		counts_json(g, &n);
		g_string_append_c(g, '}');
		ls_http_reply_json_text(msg, SOUP_STATUS_OK, g);
		return true;
	}
	return false;
}

void ls_remote_close(struct ls_remote *r)
{
	if (!r || r->closed)
		return;
	r->closed = true;
	GHashTableIter it;
	gpointer v;
	GPtrArray *open = g_ptr_array_new();
	g_hash_table_iter_init(&it, r->by_id);
	while (g_hash_table_iter_next(&it, NULL, &v))
		g_ptr_array_add(open, v);
	for (guint i = 0; i < open->len; i++) {
		struct session *s = g_ptr_array_index(open, i);
		SoupWebsocketConnection *ws = g_object_ref(s->ws);
		session_end(s); /* frees s */
		if (soup_websocket_connection_get_state(ws) == SOUP_WEBSOCKET_STATE_OPEN)
			soup_websocket_connection_close(ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "lockstep is stopping");
		g_object_unref(ws);
	}
	g_ptr_array_free(open, TRUE);
	release_held(r);
	if (r->masked)
		audit(r, "\"event\":\"full-mask-end\",\"duration_s\":%.3f",
		      (double)(g_get_monotonic_time() - r->masked_us) / 1e6);
	audit(r, "\"event\":\"remote-stop\",\"sessions\":%" G_GUINT64_FORMAT, r->sessions);
}

void ls_remote_stats_json(struct ls_remote *r, GString *j)
{
	if (!r)
		return;
	g_string_append_printf(j, ",\"remote\":{\"sessions\":%" G_GUINT64_FORMAT ",\"ended\":%" G_GUINT64_FORMAT "}",
			       r->sessions, r->ended);
}

void ls_remote_free(struct ls_remote **rp)
{
	struct ls_remote *r = rp ? *rp : NULL;
	if (!r)
		return;
	if (r->by_id)
		g_hash_table_destroy(r->by_id);
	injector_stop(&r->inj);
	if (r->audit_fd >= 0)
		close(r->audit_fd);
	g_free(r->display);
	g_free(r->xerr);
	g_free(r->why);
	g_free(r);
	*rp = NULL;
}
