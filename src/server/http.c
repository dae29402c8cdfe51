/* http — [server]: lockstep's HTTP server (libsoup 3), the one door for what
 * browsers and scripts ask of a running rig. The API is under /api/v1,
 * answers are JSON with "version":1, errors have the same shape
 * ({"version":1,"error":"..."}) and a status that means what HTTP says.
 *   /, /health, /events, /recordings, /config   the console's pages (web/)
 *   /ui/NAME                                     their scripts and styles;
 *                                                /ui/vendor/: uPlot (setup)
 *   /view                                        the synchronized grid
 *   /api/v1/status                               cameras, rate, epoch, streams
 *   /api/v1/feed, stats, events, cameras, config console.c
 *   /api/v1/recordings..., /api/v1/clips...      recordings.c
 *   /metrics                                     metrics.c (Prometheus)
 *   /whep/...                                    whep.c (WebRTC)
 *   /remote, /remote/ws, /api/v1/remote           remote.c (the remote desktop)
 *
 * Security: loopback needs nothing. Any other address needs token = (every
 * request then needs "Authorization: Bearer TOKEN", or ?token=TOKEN for
 * players that cannot set headers; otherwise 401) or TLS (cert = and
 * key =); config.c refuses the config without either. The token is compared
 * in constant time. ?token= is taken for GET and HEAD only: a POST or
 * DELETE needs the header, which a cross-site form cannot send (and the
 * POSTs take only application/json or application/sdp bodies, which a
 * form cannot send either, so a rig without a token is as safe).
 *
 * Threads: the server runs on its own thread and GMainContext; the rig's
 * per-second record is kept by the console (console.c: /api/v1/status and
 * /metrics read its copy). The output's frameset thread hands each set to WHEP's streams
 * (those with viewers encode it) and drops it. */
#include <errno.h>
#include <libsoup/soup.h>
#include <string.h>

#include "output.h"
#include "server.h"

struct server_out {
	char *listen;
	char *token; /* or NULL */
	bool tls;
	const struct ls_config *cfg;
	struct ls_whep *whep;      /* or NULL: max-viewers = 0 */
	struct ls_recordings *rec; /* or NULL: no [record] */
	struct ls_console *console;
	struct ls_remote *remote;   /* or NULL: no [remote] */
	struct ls_output_loop loop; /* the server's thread and context */
	SoupServer *server;
	GMutex lock; /* protects whep_closed */
	GCond closed_cond;
	bool whep_closed;
	struct ls_setq *q;
	GThread *thread;
	gint requests, refused;
};

void ls_http_reply_json_text(SoupServerMessage *msg, guint status, GString *body)
{
	soup_server_message_set_status(msg, status, NULL);
	soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Cache-Control", "no-store");
	gsize len = body->len;
	soup_server_message_set_response(msg, "application/json", SOUP_MEMORY_TAKE, g_string_free(body, FALSE), len);
}

void ls_http_reply_error(SoupServerMessage *msg, guint status, const char *text)
{
	GString *g = g_string_new("{\"version\":1,\"error\":");
	ls_json_str(g, text);
	g_string_append(g, "}\n");
	ls_http_reply_json_text(msg, status, g);
}

/* Constant-time comparison of equal-length secrets. */
static bool same_secret(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = la != lb;
	for (size_t i = 0; i < la && i < lb; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

static bool authorized(struct server_out *o, SoupServerMessage *msg, GHashTable *query)
{
	if (!o->token)
		return true;
	const char *h = soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "Authorization");
	if (h && g_ascii_strncasecmp(h, "Bearer ", 7) == 0 && same_secret(h + 7, o->token))
		return true;
	/* ?token= only for reading: a request that changes something (POST,
	 * DELETE) needs the header, which a cross-site form cannot send */
	const char *method = soup_server_message_get_method(msg);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return false;
	const char *q = query ? g_hash_table_lookup(query, "token") : NULL;
	return q && same_secret(q, o->token);
}

static void status_json(struct server_out *o, GString *g)
{
	g_string_append(g, "{\"version\":1,\"lockstep\":");
	ls_json_str(g, LOCKSTEP_VERSION);
	g_string_append_printf(g, ",\"rate\":{\"num\":%d,\"den\":%d},\"epoch_ns\":%lld,\"now_ns\":%lld",
			       o->cfg->rate.num, o->cfg->rate.den, (long long)o->cfg->epoch_ns,
			       (long long)g_get_real_time() * 1000);
	if (o->whep)
		ls_whep_status_json(o->whep, g);
	g_string_append(g, ",\"cameras\":[");
	for (unsigned c = 0; c < o->cfg->ncams; c++) {
		g_string_append(g, c ? ",{\"name\":" : "{\"name\":");
		ls_json_str(g, o->cfg->cams[c].name);
		g_string_append(g, ",\"kind\":");
		ls_json_str(g, ls_source_kind_name(o->cfg->cams[c].src.kind));
		g_string_append_printf(g, ",\"redact\":%s}", o->cfg->cams[c].redact ? "true" : "false");
	}
	g_string_append(g, "],\"stats\":");
	char *stats = ls_console_latest(o->console);
	g_string_append(g, stats ? stats : "null");
	g_free(stats);
	g_string_append(g, "}\n");
}

bool ls_http_takes(SoupServerMessage *msg, const char *method, const char *path, const char *allow)
{
	for (const char *a = allow; *a;) {
		size_t n = strcspn(a, ", ");
		if (n && strlen(method) == n && strncmp(a, method, n) == 0)
			return true;
		a += n;
		a += strspn(a, ", ");
	}
	soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Allow", allow);
	char *text = g_strdup_printf("%s takes %s, not %s", path, allow, method);
	ls_http_reply_error(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, text);
	g_free(text);
	return false;
}

bool ls_http_query_int(SoupServerMessage *msg, GHashTable *query, const char *name, gint64 lo, gint64 hi, gint64 def,
		       gint64 *out)
{
	const char *v = query ? g_hash_table_lookup(query, name) : NULL;
	*out = def;
	if (!v)
		return true;
	char *end = NULL;
	errno = 0;
	gint64 x = g_ascii_strtoll(v, &end, 10);
	if (errno || end == v || *end || x < lo || x > hi) {
		char *text = g_strdup_printf("%s=%s: expected a whole number from %lld to %lld", name, v, (long long)lo,
					     (long long)hi);
		ls_http_reply_error(msg, SOUP_STATUS_BAD_REQUEST, text);
		g_free(text);
		return false;
	}
	*out = x;
	return true;
}

void ls_http_reply_json(SoupServerMessage *msg, guint status, JsonNode *node)
{
	JsonGenerator *gen = json_generator_new();
	json_generator_set_root(gen, node);
	gsize len = 0;
	char *text = json_generator_to_data(gen, &len);
	g_object_unref(gen);
	json_node_unref(node);
	GString *g = g_string_new_len(text, (gssize)len);
	g_free(text);
	g_string_append_c(g, '\n');
	ls_http_reply_json_text(msg, status, g);
}

void ls_http_reply_resource(SoupServerMessage *msg, const char *name, const char *type)
{
	char *path = g_strconcat("/lockstep/web/", name, NULL);
	GBytes *data = strchr(name, '/') ? NULL : g_resources_lookup_data(path, 0, NULL);
	g_free(path);
	if (!data) {
		char *text = g_strdup_printf("no such page or file: %s", name);
		ls_http_reply_error(msg, SOUP_STATUS_NOT_FOUND, text);
		g_free(text);
		return;
	}
	SoupMessageHeaders *hd = soup_server_message_get_response_headers(msg);
	soup_message_headers_replace(hd, "Cache-Control", "no-store");
	soup_message_headers_replace(hd, "X-Content-Type-Options", "nosniff");
	soup_message_headers_replace(hd, "Referrer-Policy", "no-referrer");
	soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
	soup_server_message_set_response(msg, type, SOUP_MEMORY_COPY, g_bytes_get_data(data, NULL),
					 g_bytes_get_size(data));
	g_bytes_unref(data);
}

/* The console's pages (web/, compiled in). */
static const struct {
	const char *path, *file;
} pages[] = {
	{ "/", "live.html" },         { "/health", "health.html" },
	{ "/events", "events.html" }, { "/recordings", "recordings.html" },
	{ "/config", "config.html" },
};

/* Server thread. */
static void on_request(SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer data)
{
	struct server_out *o = data;
	(void)server;
	g_atomic_int_inc(&o->requests);
	/* the pages' scripts and styles (/ui/) hold no data of the rig: a
	 * <link> or <script> cannot carry the token */
	bool asset = g_str_has_prefix(path, "/ui/") && !strstr(path, "..");
	if (!asset && !authorized(o, msg, query)) {
		g_atomic_int_inc(&o->refused);
		soup_message_headers_replace(soup_server_message_get_response_headers(msg), "WWW-Authenticate",
					     "Bearer realm=\"lockstep\"");
		ls_http_reply_error(msg, SOUP_STATUS_UNAUTHORIZED,
				    "this server needs its token: Authorization: Bearer TOKEN (or ?token=TOKEN, for "
				    "GET only)");
		return;
	}
	const char *method = soup_server_message_get_method(msg);
	if (strcmp(path, "/api/v1/status") == 0) {
		if (!ls_http_takes(msg, method, path, "GET, HEAD"))
			return;
		GString *g = g_string_new(NULL);
		status_json(o, g);
		ls_http_reply_json_text(msg, SOUP_STATUS_OK, g);
		return;
	}
	if (strcmp(path, "/view") == 0) {
		if (!ls_http_takes(msg, method, path, "GET, HEAD"))
			return;
		if (!o->whep) {
			ls_http_reply_error(msg, SOUP_STATUS_NOT_FOUND,
					    "/view needs WHEP: max-viewers = 0 in [server]");
			return;
		}
		ls_http_reply_resource(msg, "view.html", "text/html; charset=utf-8");
		return;
	}
	for (unsigned i = 0; i < G_N_ELEMENTS(pages); i++)
		if (strcmp(path, pages[i].path) == 0) {
			if (ls_http_takes(msg, method, path, "GET, HEAD"))
				ls_http_reply_resource(msg, pages[i].file, "text/html; charset=utf-8");
			return;
		}
	if (g_str_has_prefix(path, "/ui/")) {
		if (!ls_http_takes(msg, method, path, "GET, HEAD"))
			return;
		const char *name = path + 4;
		if (g_str_has_prefix(name, "vendor/"))
			ls_http_reply_vendor(msg, name + 7);
		else
			ls_http_reply_resource(msg, name,
					       g_str_has_suffix(name, ".js")    ? "text/javascript; charset=utf-8"
					       : g_str_has_suffix(name, ".css") ? "text/css; charset=utf-8"
										: "application/octet-stream");
		return;
	}
	if (o->console && ls_console_request(o->console, msg, path, query))
		return;
	if (ls_remote_request(o->remote, msg, path))
		return;
	if (strcmp(path, "/metrics") == 0) {
		if (!ls_http_takes(msg, method, path, "GET, HEAD"))
			return;
		GString *g = g_string_new(NULL);
		char *stats = ls_console_latest(o->console);
		ls_metrics_text(g, o->cfg, stats);
		g_free(stats);
		soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
		soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Cache-Control",
					     "no-store");
		gsize len = g->len;
		soup_server_message_set_response(msg, "text/plain; version=0.0.4; charset=utf-8", SOUP_MEMORY_TAKE,
						 g_string_free(g, FALSE), len);
		return;
	}
	if (g_str_has_prefix(path, "/api/v1/recordings") || g_str_has_prefix(path, "/api/v1/clips")) {
		if (!o->rec) {
			ls_http_reply_error(msg, SOUP_STATUS_NOT_FOUND,
					    "this rig records nothing: no [record] section");
			return;
		}
		ls_recordings_request(o->rec, msg, path, query);
		return;
	}
	if (g_str_has_prefix(path, "/whep/") && o->whep) {
		ls_whep_request(o->whep, msg, path);
		return;
	}
	char *text = g_strdup_printf("no such resource: %s (the API is under /api/v1: /api/v1/status)", path);
	ls_http_reply_error(msg, SOUP_STATUS_NOT_FOUND, text);
	g_free(text);
}

/* Server thread: /remote/ws before its WebSocket handshake is answered
 * (remote.c's handler runs only when no status was set here): the token,
 * and an Origin, when the browser sends one, of this very server, so that
 * no other site's page can open the socket with the agent's token. */
static void on_ws_request(SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
			  gpointer data)
{
	struct server_out *o = data;
	(void)server;
	(void)path;
	g_atomic_int_inc(&o->requests);
	if (!authorized(o, msg, query)) {
		g_atomic_int_inc(&o->refused);
		ls_http_reply_error(msg, SOUP_STATUS_UNAUTHORIZED,
				    "this server needs its token: /remote/ws?token=TOKEN");
		return;
	}
	SoupMessageHeaders *h = soup_server_message_get_request_headers(msg);
	const char *origin = soup_message_headers_get_one(h, "Origin");
	const char *host = soup_message_headers_get_one(h, "Host");
	if (origin) {
		const char *p = strstr(origin, "://");
		if (!host || !p || strcmp(p + 3, host) != 0) {
			ls_http_reply_error(
				msg, SOUP_STATUS_FORBIDDEN,
				"/remote/ws: the page must come from this server (Origin does not match Host)");
			return;
		}
	}
	if (!o->remote)
		ls_http_reply_error(msg, SOUP_STATUS_NOT_FOUND, "/remote/ws needs a [remote] group in the config");
}

static void server_free(void *impl);

static void *server_new(struct ls_output_ctx *ctx, const void *group, char **err)
{
	const struct ls_server_config *sc = group;
	struct server_out *o = g_new0(struct server_out, 1);
	GError *ge = NULL;
	g_mutex_init(&o->lock);
	g_cond_init(&o->closed_cond);
	o->cfg = ls_output_ctx_config(ctx);
	o->listen = g_strdup(sc->listen);
	o->token = g_strdup(sc->token);
	ls_output_loop_init(&o->loop);
	o->server = soup_server_new("server-header", "lockstep/" LOCKSTEP_VERSION " ", NULL);
	if (sc->cert) {
		GTlsCertificate *cert = g_tls_certificate_new_from_files(sc->cert, sc->key, &ge);
		if (!cert) {
			*err = g_strdup_printf("cert = %s, key = %s: %s", sc->cert, sc->key, ge ? ge->message : "?");
			g_clear_error(&ge);
			goto fail;
		}
		soup_server_set_tls_certificate(o->server, cert);
		g_object_unref(cert);
		o->tls = true;
	}
	soup_server_add_handler(o->server, NULL, on_request, o, NULL);
	/* listen on our context: soup attaches its sockets to the thread
	 * default context at this call */
	g_main_context_push_thread_default(o->loop.ctx);
	GInetAddress *ia = g_inet_address_new_from_string(sc->host);
	GSocketAddress *sa = ia ? g_inet_socket_address_new(ia, (guint16)sc->port) : NULL;
	bool ok = false;
	if (!sa) {
		GResolver *r = g_resolver_get_default();
		GList *addrs = g_resolver_lookup_by_name(r, sc->host, NULL, &ge);
		g_object_unref(r);
		if (addrs) {
			sa = g_inet_socket_address_new(addrs->data, (guint16)sc->port);
			g_resolver_free_addresses(addrs);
		}
	}
	if (sa)
		ok = soup_server_listen(o->server, sa, o->tls ? SOUP_SERVER_LISTEN_HTTPS : 0, &ge);
	g_main_context_pop_thread_default(o->loop.ctx);
	g_clear_object(&ia);
	g_clear_object(&sa);
	if (!ok) {
		*err = g_strdup_printf("listen = %s: cannot listen: %s", o->listen,
				       ge ? ge->message : "no such address");
		g_clear_error(&ge);
		goto fail;
	}
	if (sc->max_viewers > 0) {
		char *why = NULL;
		o->whep = ls_whep_new(o->cfg, sc, o->loop.ctx, &why);
		if (!o->whep) {
			*err = why;
			goto fail;
		}
	}
	{
		char *why = NULL;
		o->rec = ls_recordings_new(o->cfg, o->loop.ctx, ctx, &why);
		if (why) {
			*err = why;
			goto fail;
		}
	}
	o->console = ls_console_new(ctx, o->cfg, o->loop.ctx);
	{
		char *why = NULL;
		o->remote = ls_remote_new(o->cfg, ctx, o->loop.ctx, &why);
		if (why) {
			*err = why;
			goto fail;
		}
		soup_server_add_handler(o->server, "/remote/ws", on_ws_request, o, NULL);
		if (o->remote)
			ls_remote_attach(o->remote, o->server);
	}
	ls_output_loop_run(&o->loop, "server-http");
	g_printerr("server: http%s://%s/api/v1/status (%s)\n", o->tls ? "s" : "", o->listen,
		   o->token ? "token required"
		   : o->tls ? "TLS, no token"
			    : "no token, loopback");
	return o;
fail:
	server_free(o);
	return NULL;
}

static gpointer drain_thread(gpointer data)
{
	struct server_out *o = data;
	struct ls_frameset *set;
	while ((set = ls_setq_pop(o->q, INT64_MAX))) {
		if (o->whep)
			ls_whep_push(o->whep, set);
		ls_frameset_unref(&set);
	}
	return NULL;
}

static int server_start(void *impl, struct ls_setq *q, char **err)
{
	struct server_out *o = impl;
	(void)err;
	o->q = q;
	o->thread = g_thread_new("server-sets", drain_thread, o);
	return 0;
}

/* Server thread: WHEP's viewers, the paused recordings requests and the
 * console's live feeds end while the loop still runs. */
static gboolean closed(gpointer data)
{
	struct server_out *o = data;
	g_mutex_lock(&o->lock);
	o->whep_closed = true;
	g_cond_signal(&o->closed_cond);
	g_mutex_unlock(&o->lock);
	return G_SOURCE_REMOVE;
}

static gboolean close_whep(gpointer data)
{
	struct server_out *o = data;
	if (o->whep)
		ls_whep_close(o->whep);
	if (o->rec)
		ls_recordings_close(o->rec);
	ls_console_close(o->console);
	ls_remote_close(o->remote);
	/* a moment for the ended feeds' last chunks to be written */
	GSource *s = g_timeout_source_new(150);
	g_source_set_callback(s, closed, o, NULL);
	g_source_attach(s, o->loop.ctx);
	g_source_unref(s);
	return G_SOURCE_REMOVE;
}

static void server_finish(void *impl)
{
	struct server_out *o = impl;
	if (o->thread) {
		g_thread_join(o->thread);
		o->thread = NULL;
	}
	if (o->loop.thread) {
		g_main_context_invoke(o->loop.ctx, close_whep, o);
		g_mutex_lock(&o->lock);
		while (!o->whep_closed)
			g_cond_wait(&o->closed_cond, &o->lock);
		g_mutex_unlock(&o->lock);
	}
	ls_output_loop_stop(&o->loop);
	if (o->server)
		soup_server_disconnect(o->server);
}

static unsigned server_frames_held(const struct ls_config *cfg, const void *group)
{
	(void)group;
	/* per stream: the appsrc's frames and the encoder's frame in hand
	 * (zerolatency), with two to spare; the mosaic's are its own copies */
	(void)cfg;
	return 2 + 1 + 2;
}

static void server_stats_json(void *impl, GString *j)
{
	struct server_out *o = impl;
	g_string_append_printf(j, ",\"requests\":%d,\"unauthorized\":%d", g_atomic_int_get(&o->requests),
			       g_atomic_int_get(&o->refused));
	if (o->whep)
		ls_whep_stats_json(o->whep, j);
	if (o->console)
		ls_console_stats_json(o->console, j);
	ls_remote_stats_json(o->remote, j);
}

static void server_free(void *impl)
{
	struct server_out *o = impl;
	if (!o)
		return;
	ls_output_loop_stop(&o->loop);
	ls_whep_free(&o->whep);
	ls_recordings_free(&o->rec);
	ls_console_free(&o->console);
	ls_remote_free(&o->remote);
	g_clear_object(&o->server);
	ls_output_loop_clear(&o->loop);
	g_mutex_clear(&o->lock);
	g_cond_clear(&o->closed_cond);
	g_free(o->listen);
	g_free(o->token);
	g_free(o);
}

const struct ls_output_ops ls_server_out_ops = {
	.kind = "server",
	.create = server_new,
	.frames_held = server_frames_held,
	.start = server_start,
	.finish = server_finish,
	.free = server_free,
	.stats_json = server_stats_json,
};
