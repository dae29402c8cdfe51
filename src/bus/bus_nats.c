/* bus_nats — the [bus] output's NATS transport (bus_transport.h), with the
 * NATS C client (libnats, Debian's libnats-dev).
 *
 * Connection: open() tries one connection at once, without retries, so
 * that a broker that answers and refuses (credentials, TLS) fails the start
 * with one line naming the key. A broker that does not answer is not an
 * error: the client is made again with retry-on-failed-connect and keeps
 * trying in the background for ever (every 250 ms, with jitter), as it
 * does after a disconnection. Servers of a cluster that the first one
 * announces are added to the list (a node killed is replaced by another).
 *
 * JetStream (jetstream = on, the default): the stream is looked up after
 * each (re)connection and made when missing (subjects PREFIX.frameset,
 * .detections, .events.>, .stats, .deepstream; file storage; the limits
 * and replicas from the config; a 2 min duplicate window). A batch is
 * published asynchronously, every message with its Nats-Msg-Id, and the
 * acks are awaited together (js_PublishAsyncComplete): the per-message ack
 * handler marks which came back. What is still pending at the timeout is
 * taken back from the client (js_PublishAsyncGetPendingList) and reported
 * unacked: bus.c spools it and sends it again, and JetStream drops the
 * copies it already had by their message ids.
 *
 * Core NATS (jetstream = off): publish, then one flush round trip; there is
 * no per-message ack (at most once).
 *
 * Threads: libnats runs its own (reader, flusher, callbacks); the
 * callbacks only set atomics and the batch's marks, under the batch mutex. */
#include "bus_transport.h"

#include <errno.h>
#include <nats/nats.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "ls_time.h"
#include "values.h"

struct sub {
	char *subject;
	ls_bus_request_fn fn;
	void *user;
	natsSubscription *s;
};

struct nats_t {
	const struct ls_bus_config *bc;
	natsOptions *opts;
	natsConnection *nc;
	jsCtx *js;
	atomic_bool up;        /* connected (libnats' view) */
	atomic_bool stream_ok; /* the stream was found or made on this connection */
	atomic_uint_fast64_t reconnects, acked, errors, disconnects;
	GMutex err_lock;
	char *last_error;
	char **stream_subjects;
	/* the batch in flight (publisher thread), marked by the ack handler */
	GMutex batch_lock;
	GHashTable *batch; /* msg id -> index + 1 */
	struct ls_bus_msg *batch_msgs;
	GPtrArray *subs; /* struct sub *; made before the first connection */
};

static void set_error(struct nats_t *t, char *msg)
{
	g_mutex_lock(&t->err_lock);
	g_free(t->last_error);
	t->last_error = msg;
	g_mutex_unlock(&t->err_lock);
}

static void on_disconnected(natsConnection *nc, void *closure)
{
	struct nats_t *t = closure;
	atomic_store(&t->up, false);
	atomic_store(&t->stream_ok, false);
	atomic_fetch_add(&t->disconnects, 1);
	set_error(t, g_strdup("disconnected"));
}

static void on_reconnected(natsConnection *nc, void *closure)
{
	struct nats_t *t = closure;
	atomic_fetch_add(&t->reconnects, 1);
	atomic_store(&t->stream_ok, false);
	atomic_store(&t->up, true);
}

static void on_connected(natsConnection *nc, void *closure)
{
	struct nats_t *t = closure;
	atomic_store(&t->stream_ok, false);
	atomic_store(&t->up, true);
}

static void on_async_error(natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure)
{
	struct nats_t *t = closure;
	const char *txt = NULL;
	natsConnection_GetLastError(nc, &txt);
	set_error(t, g_strdup_printf("%s%s%s", natsStatus_GetText(err), txt ? ": " : "", txt ? txt : ""));
}

/* The JetStream ack (or error) of one message of the batch. */
static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
	struct nats_t *t = closure;
	const char *id = NULL;
	if (pa && natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) == NATS_OK && id) {
		g_mutex_lock(&t->batch_lock);
		gpointer v = t->batch ? g_hash_table_lookup(t->batch, id) : NULL;
		if (v)
			t->batch_msgs[GPOINTER_TO_INT(v) - 1].acked = true;
		g_mutex_unlock(&t->batch_lock);
	} else if (pae) {
		atomic_fetch_add(&t->errors, 1);
		set_error(t, g_strdup_printf("JetStream refused a message: %s (%d)",
					     pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err),
					     (int)pae->ErrCode));
	}
	natsMsg_Destroy(msg);
}

static void on_request(natsConnection *nc, natsSubscription *s, natsMsg *msg, void *closure)
{
	struct sub *sb = closure;
	sb->fn(sb->user, natsMsg_GetSubject(msg), natsMsg_GetReply(msg), natsMsg_GetData(msg),
	       (size_t)natsMsg_GetDataLength(msg));
	natsMsg_Destroy(msg);
}

/* One line for a failed call: the status, and the connection's last error. */
static char *status_text(natsStatus s, natsConnection *nc)
{
	const char *txt = nats_GetLastError(NULL);
	(void)nc;
	return g_strdup_printf("%s%s%s", natsStatus_GetText(s), txt && *txt ? ": " : "", txt && *txt ? txt : "");
}

/* The key a refusal of the broker points at. */
static const char *refused_key(const struct ls_bus_config *bc, natsStatus s, const char *txt)
{
	bool auth = s == NATS_CONNECTION_AUTH_FAILED ||
		    (txt && (strcasestr(txt, "authoriz") || strcasestr(txt, "auth")));
	if (auth)
		return bc->creds      ? "creds"
		       : bc->token    ? "token"
		       : bc->password ? "password"
		       : bc->user     ? "user"
				      : "url";
	if (s == NATS_SSL_ERROR || (txt && strcasestr(txt, "tls")) || (txt && strcasestr(txt, "ssl")) ||
	    (txt && strcasestr(txt, "certificate")))
		return bc->cert ? "cert" : bc->ca ? "ca" : "tls";
	return NULL;
}

static natsStatus make_options(struct nats_t *t, bool retry, char **err)
{
	const struct ls_bus_config *bc = t->bc;
	natsOptions *o = NULL;
	natsStatus s = natsOptions_Create(&o);
	int n = 0;
	while (bc->servers[n])
		n++;
	if (s == NATS_OK)
		s = natsOptions_SetServers(o, (const char **)bc->servers, n);
	char *name = g_strdup_printf("lockstep %s", bc->name);
	if (s == NATS_OK)
		s = natsOptions_SetName(o, name);
	g_free(name);
	if (s == NATS_OK && bc->user)
		s = natsOptions_SetUserInfo(o, bc->user, bc->password ? bc->password : "");
	if (s == NATS_OK && bc->token)
		s = natsOptions_SetToken(o, bc->token);
	if (s == NATS_OK && bc->creds) {
		s = natsOptions_SetUserCredentialsFromFiles(o, bc->creds, NULL);
		if (s != NATS_OK) {
			*err = g_strdup_printf("creds = %s: %s", bc->creds, natsStatus_GetText(s));
			goto fail;
		}
	}
	if (s == NATS_OK && bc->tls) {
		s = natsOptions_SetSecure(o, true);
		if (s == NATS_OK && bc->ca) {
			s = natsOptions_LoadCATrustedCertificates(o, bc->ca);
			if (s != NATS_OK) {
				*err = g_strdup_printf("ca = %s: %s", bc->ca, nats_GetLastError(NULL));
				goto fail;
			}
		}
		if (s == NATS_OK && bc->cert) {
			s = natsOptions_LoadCertificatesChain(o, bc->cert, bc->key);
			if (s != NATS_OK) {
				*err = g_strdup_printf("cert = %s, key = %s: %s", bc->cert, bc->key,
						       nats_GetLastError(NULL));
				goto fail;
			}
		}
	}
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(o, 2000);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(o, -1);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(o, 250);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectJitter(o, 100, 500);
	/* nothing is published while disconnected (bus.c spools), so the
	 * reconnect buffer only catches a race: keep it small */
	if (s == NATS_OK)
		s = natsOptions_SetReconnectBufSize(o, 1 << 20);
	/* write each publish at once, on the publisher's thread, rather than
	 * waking libnats' flusher thread for it (bench/bus_bench.py: the
	 * hand-off was most of the CPU per message) */
	if (s == NATS_OK)
		s = natsOptions_SetSendAsap(o, true);
	if (s == NATS_OK)
		s = natsOptions_SetDisconnectedCB(o, on_disconnected, t);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectedCB(o, on_reconnected, t);
	if (s == NATS_OK)
		s = natsOptions_SetErrorHandler(o, on_async_error, t);
	if (s == NATS_OK && retry)
		s = natsOptions_SetRetryOnFailedConnect(o, true, on_connected, t);
	if (s != NATS_OK) {
		*err = g_strdup_printf("url = %s: %s", bc->url, natsStatus_GetText(s));
		goto fail;
	}
	natsOptions_Destroy(t->opts);
	t->opts = o;
	return NATS_OK;
fail:
	natsOptions_Destroy(o);
	return s == NATS_OK ? NATS_ERR : s;
}

static void nats_close(void *impl);

static bool subscribe_one(struct nats_t *t, struct sub *sb)
{
	natsStatus s = natsConnection_Subscribe(&sb->s, t->nc, sb->subject, on_request, sb);
	if (s != NATS_OK) {
		set_error(t, g_strdup_printf("subscribe %s: %s", sb->subject, natsStatus_GetText(s)));
		return false;
	}
	return true;
}

static void *nats_open(const struct ls_bus_config *bc, char **err)
{
	static gsize inited;
	if (g_once_init_enter(&inited)) {
		nats_Open(-1);
		g_once_init_leave(&inited, 1);
	}
	struct nats_t *t = g_new0(struct nats_t, 1);
	t->bc = bc;
	g_mutex_init(&t->err_lock);
	g_mutex_init(&t->batch_lock);
	t->subs = g_ptr_array_new();
	GPtrArray *subj = g_ptr_array_new();
	static const char *const kinds[] = { "frameset", "detections", "events.>", "stats", "deepstream" };
	for (unsigned i = 0; i < G_N_ELEMENTS(kinds); i++)
		g_ptr_array_add(subj, g_strdup_printf("%s.%s", bc->prefix, kinds[i]));
	g_ptr_array_add(subj, NULL);
	t->stream_subjects = (char **)g_ptr_array_free(subj, FALSE);

	/* one try at once: a refusal is the config's fault, said at start */
	if (make_options(t, false, err) != NATS_OK)
		goto fail;
	natsStatus s = natsConnection_Connect(&t->nc, t->opts);
	if (s == NATS_OK) {
		atomic_store(&t->up, true);
	} else {
		const char *txt = nats_GetLastError(NULL);
		const char *key = refused_key(bc, s, txt);
		if (key) {
			bool tls = !strcmp(key, "ca") || !strcmp(key, "cert") || !strcmp(key, "tls");
			*err = g_strdup_printf("%s: %s: %s: %s", key, bc->url,
					       tls ? "the TLS handshake failed" : "refused the connection",
					       txt && *txt ? txt : natsStatus_GetText(s));
			goto fail;
		}
		set_error(t, status_text(s, NULL));
		/* not there (yet): keep trying in the background */
		if (make_options(t, true, err) != NATS_OK)
			goto fail;
		s = natsConnection_Connect(&t->nc, t->opts);
		if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
			*err = g_strdup_printf("url = %s: %s", bc->url, natsStatus_GetText(s));
			goto fail;
		}
		if (s == NATS_OK)
			atomic_store(&t->up, true);
	}
	if (bc->jetstream) {
		jsOptions jo;
		jsOptions_Init(&jo);
		jo.Wait = bc->ack_timeout_ns / LS_NS_PER_MS;
		jo.PublishAsync.AckHandler = on_ack;
		jo.PublishAsync.AckHandlerClosure = t;
		jo.PublishAsync.MaxPending = 4096;
		s = natsConnection_JetStream(&t->js, t->nc, &jo);
		if (s != NATS_OK) {
			*err = g_strdup_printf("url = %s: JetStream: %s", bc->url, natsStatus_GetText(s));
			goto fail;
		}
	}
	return t;
fail:
	nats_close(t);
	return NULL;
}

/* The stream exists (or is made now). Publisher thread. */
static bool ensure_stream(struct nats_t *t)
{
	if (atomic_load(&t->stream_ok))
		return true;
	const struct ls_bus_config *bc = t->bc;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s = js_GetStreamInfo(&si, t->js, bc->stream, NULL, &jerr);
	if (s == NATS_NOT_FOUND) {
		jsStreamConfig sc;
		jsStreamConfig_Init(&sc);
		sc.Name = bc->stream;
		sc.Subjects = (const char **)t->stream_subjects;
		sc.SubjectsLen = 5;
		sc.Storage = js_FileStorage;
		sc.MaxBytes = bc->stream_max_bytes;
		sc.MaxAge = bc->stream_max_age_ns;
		sc.Replicas = bc->replicas;
		sc.Duplicates = 120 * LS_NS_PER_SEC;
		s = js_AddStream(&si, t->js, &sc, NULL, &jerr);
		if (s == NATS_OK)
			g_printerr("[bus] made JetStream stream %s (%s.>, %d replica%s)\n", bc->stream, bc->prefix,
				   bc->replicas, bc->replicas == 1 ? "" : "s");
	}
	if (s != NATS_OK) {
		set_error(t, g_strdup_printf("stream %s: %s (JetStream error %d)", bc->stream,
					     nats_GetLastError(NULL) ? nats_GetLastError(NULL) : natsStatus_GetText(s),
					     (int)jerr));
		return false;
	}
	jsStreamInfo_Destroy(si);
	atomic_store(&t->stream_ok, true);
	return true;
}

static bool nats_connected(void *impl)
{
	struct nats_t *t = impl;
	if (!atomic_load(&t->up) || natsConnection_Status(t->nc) != NATS_CONN_STATUS_CONNECTED)
		return false;
	return !t->js || ensure_stream(t);
}

static int publish_core(struct nats_t *t, struct ls_bus_msg *m, int n, int timeout_ms)
{
	int sent = 0;
	for (; sent < n; sent++)
		if (natsConnection_Publish(t->nc, m[sent].subject, m[sent].data, (int)m[sent].len) != NATS_OK)
			break;
	natsStatus s = natsConnection_FlushTimeout(t->nc, timeout_ms);
	if (s != NATS_OK) {
		set_error(t, g_strdup_printf("flush: %s", natsStatus_GetText(s)));
		return 0;
	}
	for (int i = 0; i < sent; i++)
		m[i].acked = true;
	atomic_fetch_add(&t->acked, (uint64_t)sent);
	return sent;
}

static int nats_publish(void *impl, struct ls_bus_msg *m, int n, int timeout_ms)
{
	struct nats_t *t = impl;
	for (int i = 0; i < n; i++)
		m[i].acked = false;
	if (!nats_connected(t))
		return -ENOTCONN;
	if (!t->js)
		return publish_core(t, m, n, timeout_ms);

	g_mutex_lock(&t->batch_lock);
	t->batch = g_hash_table_new(g_str_hash, g_str_equal);
	t->batch_msgs = m;
	for (int i = 0; i < n; i++)
		g_hash_table_insert(t->batch, (gpointer)m[i].msg_id, GINT_TO_POINTER(i + 1));
	g_mutex_unlock(&t->batch_lock);

	natsStatus s = NATS_OK;
	for (int i = 0; i < n && s == NATS_OK; i++) {
		/* no MaxWait of its own: it would arm one ack timer per
		 * message; js_PublishAsyncComplete below bounds the batch */
		jsPubOptions po;
		jsPubOptions_Init(&po);
		po.MsgId = m[i].msg_id;
		s = js_PublishAsync(t->js, m[i].subject, m[i].data, (int)m[i].len, &po);
		if (s != NATS_OK)
			set_error(t, g_strdup_printf("publish %s: %s", m[i].subject, natsStatus_GetText(s)));
	}
	jsPubOptions co;
	jsPubOptions_Init(&co);
	co.MaxWait = timeout_ms;
	natsStatus cs = js_PublishAsyncComplete(t->js, &co);
	if (cs != NATS_OK) {
		/* take back what is still pending: it is sent again from the spool */
		natsMsgList pending = { 0 };
		if (js_PublishAsyncGetPendingList(&pending, t->js) == NATS_OK)
			natsMsgList_Destroy(&pending);
		set_error(t, g_strdup_printf("no JetStream ack within %d ms (%s)", timeout_ms, natsStatus_GetText(cs)));
	}
	g_mutex_lock(&t->batch_lock);
	g_hash_table_destroy(t->batch);
	t->batch = NULL;
	t->batch_msgs = NULL;
	g_mutex_unlock(&t->batch_lock);
	int acked = 0;
	for (int i = 0; i < n; i++)
		acked += m[i].acked;
	atomic_fetch_add(&t->acked, (uint64_t)acked);
	return acked;
}

static int nats_subscribe(void *impl, const char *subject, ls_bus_request_fn fn, void *user)
{
	struct nats_t *t = impl;
	struct sub *sb = g_new0(struct sub, 1);
	sb->subject = g_strdup(subject);
	sb->fn = fn;
	sb->user = user;
	g_ptr_array_add(t->subs, sb);
	return subscribe_one(t, sb) ? 0 : -EIO;
}

static int nats_reply(void *impl, const char *reply, const char *data, size_t len)
{
	struct nats_t *t = impl;
	natsStatus s = natsConnection_Publish(t->nc, reply, data, (int)len);
	if (s == NATS_OK)
		s = natsConnection_FlushTimeout(t->nc, 1000);
	return s == NATS_OK ? 0 : -EIO;
}

static void nats_stats(void *impl, GString *j)
{
	struct nats_t *t = impl;
	char url[256] = "";
	if (atomic_load(&t->up) && natsConnection_GetConnectedUrl(t->nc, url, sizeof url) == NATS_OK && *url) {
		g_string_append(j, ",\"server\":");
		ls_json_str(j, url);
	}
	g_string_append_printf(j,
			       ",\"transport\":\"nats\",\"connected\":%s,\"reconnects\":%llu,\"acked\":%llu,"
			       "\"ack_errors\":%llu",
			       atomic_load(&t->up) ? "true" : "false", (unsigned long long)atomic_load(&t->reconnects),
			       (unsigned long long)atomic_load(&t->acked), (unsigned long long)atomic_load(&t->errors));
}

static char *nats_last_error(void *impl)
{
	struct nats_t *t = impl;
	g_mutex_lock(&t->err_lock);
	char *e = g_strdup(t->last_error);
	g_mutex_unlock(&t->err_lock);
	return e;
}

static void nats_close(void *impl)
{
	struct nats_t *t = impl;
	if (!t)
		return;
	for (guint i = 0; i < t->subs->len; i++) {
		struct sub *sb = g_ptr_array_index(t->subs, i);
		if (sb->s)
			natsSubscription_Unsubscribe(sb->s);
	}
	if (t->nc) {
		natsConnection_FlushTimeout(t->nc, 2000);
		natsConnection_Close(t->nc);
	}
	for (guint i = 0; i < t->subs->len; i++) {
		struct sub *sb = g_ptr_array_index(t->subs, i);
		natsSubscription_Destroy(sb->s);
		g_free(sb->subject);
		g_free(sb);
	}
	g_ptr_array_unref(t->subs);
	jsCtx_Destroy(t->js);
	natsConnection_Destroy(t->nc);
	natsOptions_Destroy(t->opts);
	g_strfreev(t->stream_subjects);
	g_free(t->last_error);
	g_mutex_clear(&t->err_lock);
	g_mutex_clear(&t->batch_lock);
	g_free(t);
}

const struct ls_bus_transport ls_bus_nats = {
	.name = "nats",
	.open = nats_open,
	.connected = nats_connected,
	.publish = nats_publish,
	.subscribe = nats_subscribe,
	.reply = nats_reply,
	.stats_json = nats_stats,
	.last_error = nats_last_error,
	.close = nats_close,
};
