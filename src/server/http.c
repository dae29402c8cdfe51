/* http — [server]: lockstep's HTTP server (libsoup 3), the one door for what
 * browsers and scripts ask of a running rig. Everything is under /api/v1,
 * answers are JSON with "version":1, errors have the same shape
 * ({"version":1,"error":"..."}) and a status that means what HTTP says.
 * Now: GET /api/v1/status (the cameras and the rig's latest per-second
 * record), WHEP under /whep/ (whep.c) and the synchronized view at /view
 * (web/view.html). The console and /metrics are to join it (issue 14).
 *
 * Security: loopback needs nothing. Any other address needs token = (every
 * request then needs "Authorization: Bearer TOKEN", or ?token=TOKEN for
 * players that cannot set headers; otherwise 401) or TLS (cert = and
 * key =); config.c refuses the config without either. The token is compared
 * in constant time.
 *
 * Threads: the server runs on its own thread and GMainContext; the stats
 * subscription arrives on the rig's stats writer thread and is copied under
 * `lock`. The output's frameset thread hands each set to WHEP's streams
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
	struct ls_whep *whep;       /* or NULL: max-viewers = 0 */
	struct ls_output_loop loop; /* the server's thread and context */
	SoupServer *server;
	GMutex lock; /* protects stats, whep_closed */
	char *stats; /* the latest per-second record, or NULL */
	GCond closed_cond;
	bool whep_closed;
	struct ls_setq *q;
	GThread *thread;
	gint requests, refused;
};

static void on_stats(void *user, const char *json)
{
	struct server_out *o = user;
	char *copy = g_strdup(json);
	g_mutex_lock(&o->lock);
	char *old = o->stats;
	o->stats = copy;
	g_mutex_unlock(&o->lock);
	g_free(old);
}

void ls_http_json_str(GString *g, const char *s)
{
	g_string_append_c(g, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			g_string_append_printf(g, "\\%c", *p);
		else if (*p < 0x20)
			g_string_append_printf(g, "\\u%04x", *p);
		else
			g_string_append_c(g, (char)*p);
	}
	g_string_append_c(g, '"');
}

static void reply(SoupServerMessage *msg, guint status, GString *body)
{
	soup_server_message_set_status(msg, status, NULL);
	soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Cache-Control", "no-store");
	gsize len = body->len;
	soup_server_message_set_response(msg, "application/json", SOUP_MEMORY_TAKE, g_string_free(body, FALSE), len);
}

void ls_http_reply_error(SoupServerMessage *msg, guint status, const char *text)
{
	GString *g = g_string_new("{\"version\":1,\"error\":");
	ls_http_json_str(g, text);
	g_string_append(g, "}\n");
	reply(msg, status, g);
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
	const char *q = query ? g_hash_table_lookup(query, "token") : NULL;
	return q && same_secret(q, o->token);
}

static void status_json(struct server_out *o, GString *g)
{
	g_string_append(g, "{\"version\":1,\"lockstep\":");
	ls_http_json_str(g, LOCKSTEP_VERSION);
	g_string_append_printf(g, ",\"rate\":{\"num\":%d,\"den\":%d},\"epoch_ns\":%lld,\"now_ns\":%lld",
			       o->cfg->rate.num, o->cfg->rate.den, (long long)o->cfg->epoch_ns,
			       (long long)g_get_real_time() * 1000);
	if (o->whep)
		ls_whep_status_json(o->whep, g);
	g_string_append(g, ",\"cameras\":[");
	for (unsigned c = 0; c < o->cfg->ncams; c++) {
		g_string_append(g, c ? ",{\"name\":" : "{\"name\":");
		ls_http_json_str(g, o->cfg->cams[c].name);
		g_string_append(g, ",\"kind\":");
		ls_http_json_str(g, ls_source_kind_name(o->cfg->cams[c].src.kind));
		g_string_append_printf(g, ",\"redact\":%s}", o->cfg->cams[c].redact ? "true" : "false");
	}
	g_string_append(g, "],\"stats\":");
	g_mutex_lock(&o->lock);
	g_string_append(g, o->stats ? o->stats : "null");
	g_mutex_unlock(&o->lock);
	g_string_append(g, "}\n");
}

/* Whether @method is GET or HEAD; else answers 405 (with Allow) for @path. */
static bool takes_get(SoupServerMessage *msg, const char *method, const char *path)
{
	if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
		return true;
	soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Allow", "GET, HEAD");
	char *text = g_strdup_printf("%s takes GET", path);
	ls_http_reply_error(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, text);
	g_free(text);
	return false;
}

/* Server thread. */
static void on_request(SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer data)
{
	struct server_out *o = data;
	(void)server;
	g_atomic_int_inc(&o->requests);
	if (!authorized(o, msg, query)) {
		g_atomic_int_inc(&o->refused);
		soup_message_headers_replace(soup_server_message_get_response_headers(msg), "WWW-Authenticate",
					     "Bearer realm=\"lockstep\"");
		ls_http_reply_error(msg, SOUP_STATUS_UNAUTHORIZED,
				    "this server needs its token: Authorization: Bearer TOKEN, or ?token=TOKEN");
		return;
	}
	const char *method = soup_server_message_get_method(msg);
	if (strcmp(path, "/api/v1/status") == 0) {
		if (!takes_get(msg, method, path))
			return;
		GString *g = g_string_new(NULL);
		status_json(o, g);
		reply(msg, SOUP_STATUS_OK, g);
		return;
	}
	if (strcmp(path, "/view") == 0) {
		if (!takes_get(msg, method, path))
			return;
		if (!o->whep) {
			ls_http_reply_error(msg, SOUP_STATUS_NOT_FOUND,
					    "/view needs WHEP: max-viewers = 0 in [server]");
			return;
		}
		GBytes *page = g_resources_lookup_data("/lockstep/web/view.html", 0, NULL);
		SoupMessageHeaders *hd = soup_server_message_get_response_headers(msg);
		soup_message_headers_replace(hd, "Cache-Control", "no-store");
		soup_message_headers_replace(hd, "X-Content-Type-Options", "nosniff");
		soup_message_headers_replace(hd, "Referrer-Policy", "no-referrer");
		soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
		soup_server_message_set_response(msg, "text/html; charset=utf-8", SOUP_MEMORY_COPY,
						 g_bytes_get_data(page, NULL), g_bytes_get_size(page));
		g_bytes_unref(page);
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
	ls_output_ctx_subscribe_stats(ctx, on_stats, o);
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

/* Server thread: WHEP's viewers end while the loop still runs. */
static gboolean close_whep(gpointer data)
{
	struct server_out *o = data;
	ls_whep_close(o->whep);
	g_mutex_lock(&o->lock);
	o->whep_closed = true;
	g_cond_signal(&o->closed_cond);
	g_mutex_unlock(&o->lock);
	return G_SOURCE_REMOVE;
}

static void server_finish(void *impl)
{
	struct server_out *o = impl;
	if (o->thread) {
		g_thread_join(o->thread);
		o->thread = NULL;
	}
	if (o->whep && o->loop.thread) {
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
}

static void server_free(void *impl)
{
	struct server_out *o = impl;
	if (!o)
		return;
	ls_output_loop_stop(&o->loop);
	ls_whep_free(&o->whep);
	g_clear_object(&o->server);
	ls_output_loop_clear(&o->loop);
	g_mutex_clear(&o->lock);
	g_cond_clear(&o->closed_cond);
	g_free(o->stats);
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
