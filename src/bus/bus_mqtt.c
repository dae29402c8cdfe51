/* bus_mqtt — the [bus] transport for mqtt:// and mqtts:// (libmosquitto 2.0,
 * MQTT 5, QoS 1, clean session). The contract is bus_transport.h.
 *
 * Threads. Two threads touch the client:
 *  - the network thread (net_main, ours): runs mosquitto_loop(), so every
 *    socket read and write and every libmosquitto callback (on_connect,
 *    on_disconnect, on_publish = PUBACK, on_message, on_log) happens there;
 *  - the bus's publisher thread: publish() queues PUBLISH packets
 *    (mosquitto_threaded_set: libmosquitto only queues them and wakes the
 *    network thread) and sleeps on acked_cond until the PUBACKs are in.
 * open/close run on the main thread; subscribe anywhere; reply from a
 * request's callback (network thread) or anywhere.
 *
 * Why not mosquitto_loop_start(): in 2.0.11 its thread gives up for good in
 * cases a rig must ride out. With connect_async and the broker down at the
 * start, the failed CONNECT leaves the client "new" and the thread waits for
 * ever; an MQTT 5 CONNACK refusal (bad credentials, server busy) returns
 * MOSQ_ERR_PROTOCOL and a failed TLS handshake EPROTO, both fatal to its
 * loop; and its reconnect delay counts whole seconds. So net_main loops
 * itself: after any failure it waits 0.25 s, doubling up to 2 s (0.25 s again
 * once a connection was up), and calls mosquitto_reconnect_async(); close()
 * wakes it. For TLS it first checks that the broker takes a TCP connection:
 * 2.0.11 spins a CPU on SSL_connect over a refused socket until the
 * keep-alive ends it (upstream #2594, fixed in 2.0.15).
 *
 * Acks. publish() records each message's mid in @pending (mid -> index + 1)
 * with @lock held across the sends, so a PUBACK that beats the record waits
 * for it; on_publish looks the mid up. At the end of a batch the map is
 * emptied: a late PUBACK (a batch that timed out, or a message libmosquitto
 * re-sent after a reconnect: at least once) finds nothing and is ignored.
 * Mids are 16 bits: only a message unacked for 65535 publishes could collide.
 *
 * Lock order: @conn_lock is held across mosquitto_reconnect_async() and
 * mosquitto_disconnect() only. libmosquitto calls us holding its callback
 * mutex (and, for on_disconnect after a DISCONNECT, its current-packet
 * mutex), and we take @lock or @subs_lock there; publish() and subscribe()
 * hold those across libmosquitto calls that take only its message and
 * packet-queue mutexes, never the two above. @err_lock is a leaf (on_log
 * fires inside any libmosquitto call). No user callback runs under ours. */
#include <errno.h>
#include <glib.h>
#include <inttypes.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bus_transport.h"

#define KEEPALIVE_S 10      /* also bounds a connection attempt that hangs */
#define RETRY_MIN_MS 250    /* first retry after a failure */
#define RETRY_MAX_MS 2000   /* the retry delay doubles up to this */
#define PROBE_MS 1000       /* TLS: how long the TCP check waits */
#define CLOSE_FLUSH_MS 2000 /* close(): how long queued packets may take to go */
#define MAX_REQUESTS 256    /* requests remembered for reply(); then forgotten */

struct sub {
	char *topic; /* '/'-separated; '+' and '#' for NATS's '*' and '>' */
	ls_bus_request_fn fn;
	void *user;
};

struct request {      /* what a request carried, for its reply */
	char *topic;  /* the response topic as sent: a '.' in it does not survive the dots */
	GBytes *corr; /* MQTT 5 correlation data, or NULL */
};

struct mqtt {
	struct mosquitto *mosq;
	char *host;
	int port;
	bool tls;
	GThread *thread;
	GMutex conn_lock; /* taken before any other: @stopping vs (re)connecting and disconnecting */
	GCond stop_cond;  /* close() -> net_main's retry wait, under conn_lock */
	atomic_bool stopping;
	gint64 stop_deadline_us; /* set before @stopping */

	GMutex lock;                 /* protects the fields down to batch_acked */
	GCond acked_cond;            /* a PUBACK or a disconnect -> publish() */
	struct ls_bus_msg *batch;    /* the batch publish() waits for, or NULL */
	GHashTable *pending;         /* mid -> index + 1 in @batch */
	int batch_done, batch_acked; /* PUBACKs for @batch: all, and the successes */

	GMutex subs_lock;
	GPtrArray *subs; /* struct sub *, until close; under subs_lock */

	GMutex err_lock;      /* leaf: protects err, err_fresh, requests */
	char *err;            /* last error, one line */
	bool err_fresh;       /* an error was recorded since the last connection attempt */
	GHashTable *requests; /* dotted reply -> struct request */

	GString *topic; /* publisher thread only */
	atomic_bool connected, was_up;
	atomic_int refused;      /* the last CONNACK's refusal (0: none): open() fails on bad credentials */
	atomic_uint disconnects; /* bumped once per lost connection: publish() stops waiting */
	atomic_uint_fast64_t connects, acked, publish_errors;
};

/* Records the last error; with @only_if_first, only if none was since the last attempt. */
static void set_error(struct mqtt *t, bool only_if_first, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void set_error(struct mqtt *t, bool only_if_first, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_mutex_lock(&t->err_lock);
	if (!(only_if_first && t->err_fresh)) {
		g_free(t->err);
		t->err = s;
		s = NULL;
		t->err_fresh = true;
	}
	g_mutex_unlock(&t->err_lock);
	g_free(s);
}

/* Text for a libmosquitto result @rc (errno @e), or an MQTT reason code >= 0x80. */
static const char *why(int rc, int e)
{
	if (rc == MOSQ_ERR_ERRNO)
		return g_strerror(e);
	if (rc == MOSQ_ERR_KEEPALIVE)
		return "no answer within the keep-alive";
	return rc >= 0x80 ? mosquitto_reason_string(rc) : mosquitto_strerror(rc);
}

static int mosq_errno(int rc)
{
	if (rc == MOSQ_ERR_SUCCESS)
		return 0;
	if (rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_CONN_LOST)
		return -ENOTCONN;
	if (rc == MOSQ_ERR_NOMEM)
		return -ENOMEM;
	if (rc == MOSQ_ERR_PAYLOAD_SIZE || rc == MOSQ_ERR_OVERSIZE_PACKET)
		return -EMSGSIZE;
	return rc == MOSQ_ERR_INVAL || rc == MOSQ_ERR_MALFORMED_UTF8 ? -EINVAL : -EIO;
}

/* "a.b.c" -> "a/b/c" into @out; with @wild, NATS's lone '*' and '>' too */
static void to_topic(GString *out, const char *subject, bool wild)
{
	g_string_assign(out, subject);
	for (char *p = out->str; *p; p++) {
		bool alone = (p == out->str || p[-1] == '.' || p[-1] == '/') && (p[1] == '.' || !p[1]);
		if (*p == '.')
			*p = '/';
		else if (wild && alone && (*p == '*' || *p == '>'))
			*p = *p == '*' ? '+' : '#';
	}
}

static char *to_subject(const char *topic)
{
	char *s = g_strdup(topic);
	g_strdelimit(s, "/", '.');
	return s;
}

static void on_log(struct mosquitto *mosq, void *p, int level, const char *line)
{
	struct mqtt *t = p;
	if (level & MOSQ_LOG_ERR) /* OpenSSL's reasons for a failed handshake come only this way */
		set_error(t, true, "MQTT broker %s:%d: %s", t->host, t->port, line);
}

/* The connection is gone (a callback or a failed loop): wake publish(). */
static void went_down(struct mqtt *t)
{
	if (!atomic_exchange(&t->connected, false))
		return;
	mosquitto_log_callback_set(t->mosq, on_log); /* for the reasons of the next failures */
	g_mutex_lock(&t->lock);
	atomic_fetch_add(&t->disconnects, 1);
	g_cond_broadcast(&t->acked_cond);
	g_mutex_unlock(&t->lock);
}

/* Network thread, as every callback below. */
static void on_connect(struct mosquitto *mosq, void *p, int rc, int flags, const mosquitto_property *props)
{
	struct mqtt *t = p;
	if (rc != 0) {
		bool creds = rc == MQTT_RC_BAD_USERNAME_OR_PASSWORD || rc == MQTT_RC_NOT_AUTHORIZED;
		atomic_store(&t->refused, rc);
		set_error(t, false, "MQTT broker %s:%d refused the connection: %s%s", t->host, t->port,
			  mosquitto_reason_string(rc), creds ? " (check [bus] user/password)" : "");
		return;
	}
	mosquitto_log_callback_set(mosq, NULL); /* it formats a line per packet: not while up */
	atomic_fetch_add(&t->connects, 1);
	atomic_store(&t->was_up, true);
	/* @connected flips under subs_lock: a subscribe() racing with this
	 * either is in the list now or sees @connected and subscribes itself */
	g_mutex_lock(&t->subs_lock);
	atomic_store(&t->connected, true);
	for (guint i = 0; i < t->subs->len; i++)
		mosquitto_subscribe_v5(mosq, NULL, ((struct sub *)g_ptr_array_index(t->subs, i))->topic, 1, 0, NULL);
	g_mutex_unlock(&t->subs_lock);
}

static void on_disconnect(struct mosquitto *mosq, void *p, int rc, const mosquitto_property *props)
{
	struct mqtt *t = p;
	int e = errno;
	if (rc != MOSQ_ERR_SUCCESS && !atomic_load(&t->stopping))
		set_error(t, true, "MQTT broker %s:%d: %s: %s", t->host, t->port,
			  atomic_load(&t->connected) ? "connection lost" : "cannot connect", why(rc, e));
	went_down(t);
}

static void on_publish(struct mosquitto *mosq, void *p, int mid, int reason, const mosquitto_property *props)
{
	struct mqtt *t = p;
	g_mutex_lock(&t->lock);
	int i = GPOINTER_TO_INT(g_hash_table_lookup(t->pending, GINT_TO_POINTER(mid))) - 1;
	if (i >= 0 && t->batch) {
		g_hash_table_remove(t->pending, GINT_TO_POINTER(mid));
		t->batch_done++;
		if (reason < 0x80) { /* 0, or 0x10 "no matching subscribers": the broker has it */
			t->batch[i].acked = true;
			t->batch_acked++;
			atomic_fetch_add(&t->acked, 1);
		} else {
			atomic_fetch_add(&t->publish_errors, 1);
			set_error(t, false, "MQTT broker %s:%d refused a message on %s: %s", t->host, t->port,
				  t->batch[i].subject, mosquitto_reason_string(reason));
		}
		g_cond_broadcast(&t->acked_cond);
	}
	g_mutex_unlock(&t->lock);
}

static void request_free(gpointer p)
{
	struct request *r = p;
	g_free(r->topic);
	if (r->corr)
		g_bytes_unref(r->corr);
	g_free(r);
}

static void on_message(struct mosquitto *mosq, void *p, const struct mosquitto_message *msg,
		       const mosquitto_property *props)
{
	struct mqtt *t = p;
	ls_bus_request_fn fn = NULL;
	void *user = NULL;
	g_mutex_lock(&t->subs_lock);
	for (guint i = 0; i < t->subs->len && !fn; i++) {
		struct sub *s = g_ptr_array_index(t->subs, i);
		bool match = false;
		if (mosquitto_topic_matches_sub(s->topic, msg->topic, &match) == MOSQ_ERR_SUCCESS && match) {
			fn = s->fn;
			user = s->user;
		}
	}
	g_mutex_unlock(&t->subs_lock);
	if (!fn)
		return;
	char *resp = NULL, *reply = NULL;
	void *corr = NULL;
	uint16_t corr_len = 0;
	mosquitto_property_read_string(props, MQTT_PROP_RESPONSE_TOPIC, &resp, false);
	mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &corr, &corr_len, false);
	if (resp) {
		reply = to_subject(resp);
		struct request *r = g_new0(struct request, 1);
		r->topic = g_strdup(resp);
		r->corr = corr ? g_bytes_new(corr, corr_len) : NULL;
		g_mutex_lock(&t->err_lock);
		if (g_hash_table_size(t->requests) >= MAX_REQUESTS) /* never answered */
			g_hash_table_remove_all(t->requests);
		g_hash_table_replace(t->requests, g_strdup(reply), r);
		g_mutex_unlock(&t->err_lock);
	}
	char *subject = to_subject(msg->topic);
	fn(user, subject, reply, msg->payload ? msg->payload : "", (size_t)msg->payloadlen);
	g_free(subject);
	g_free(reply);
	free(resp);
	free(corr);
}

/* TLS only: 0 if @t's broker accepts a TCP connection within PROBE_MS, else a positive errno. */
static int tcp_probe(struct mqtt *t)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	char port[16];
	snprintf(port, sizeof port, "%d", t->port);
	int rc = getaddrinfo(t->host, port, &hints, &res), err = ETIMEDOUT;
	if (rc != 0) {
		set_error(t, true, "MQTT broker %s:%d: cannot connect: %s", t->host, t->port, gai_strerror(rc));
		return EHOSTUNREACH;
	}
	for (struct addrinfo *a = res; a && err; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		socklen_t len = sizeof err;
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			err = 0;
		else if (errno != EINPROGRESS)
			err = errno;
		else if (poll(&pfd, 1, PROBE_MS) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = ETIMEDOUT;
		close(fd);
	}
	freeaddrinfo(res);
	if (err)
		set_error(t, true, "MQTT broker %s:%d: cannot connect: %s", t->host, t->port, g_strerror(err));
	return err;
}

/* The network thread: runs the client until close(), reconnecting for ever. */
static gpointer net_main(gpointer p)
{
	struct mqtt *t = p;
	int delay_ms = 0;
	bool down = t->tls; /* TLS: the check before the first real attempt */
	for (;;) {
		if (!down) {
			int rc = mosquitto_loop(t->mosq, 1000, 1), e = errno;
#ifdef TCP_QUICKACK
			/* Ack at once (Linux drops this after a while, hence each time):
			 * against a broker with Nagle on (mosquitto's default), each
			 * PUBACK after the first waits for our delayed ACK, ~40 ms. */
			int fd = mosquitto_socket(t->mosq), one = 1;
			if (fd >= 0)
				setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
#endif
			if (atomic_load(&t->stopping)) {
				/* flush until the DISCONNECT closes the socket, or time is up */
				if (rc != MOSQ_ERR_SUCCESS || g_get_monotonic_time() > t->stop_deadline_us)
					break;
				continue;
			}
			if (rc == MOSQ_ERR_SUCCESS)
				continue;
			went_down(t);
			if (rc != MOSQ_ERR_NO_CONN) /* NO_CONN: a callback or the attempt said why */
				set_error(t, true, "MQTT broker %s:%d: %s", t->host, t->port, why(rc, e));
			if (atomic_exchange(&t->was_up, false))
				delay_ms = RETRY_MIN_MS;
		}
		g_mutex_lock(&t->conn_lock);
		gint64 until = g_get_monotonic_time() + delay_ms * G_TIME_SPAN_MILLISECOND;
		while (!atomic_load(&t->stopping) && g_cond_wait_until(&t->stop_cond, &t->conn_lock, until))
			;
		g_mutex_unlock(&t->conn_lock);
		delay_ms = CLAMP(delay_ms * 2, RETRY_MIN_MS, RETRY_MAX_MS);
		g_mutex_lock(&t->err_lock);
		t->err_fresh = false;
		g_mutex_unlock(&t->err_lock);
		if (!atomic_load(&t->stopping) && (down = t->tls && tcp_probe(t) != 0))
			continue;
		/* close() either sees the new connection (and disconnects it) or this sees @stopping */
		g_mutex_lock(&t->conn_lock);
		bool stop = atomic_load(&t->stopping);
		int rc = stop ? MOSQ_ERR_SUCCESS : mosquitto_reconnect_async(t->mosq), e = errno;
		g_mutex_unlock(&t->conn_lock);
		if (stop)
			break;
		if (rc != MOSQ_ERR_SUCCESS)
			set_error(t, true, "MQTT broker %s:%d: cannot connect: %s", t->host, t->port, why(rc, e));
	}
	return NULL;
}

static int no_passphrase(char *buf, int size, int rwflag, void *user) { return 0; }

/* NULL, or the one line saying why @path (the value of [bus] @key) cannot be read. */
static char *check_file(const char *key, const char *path)
{
	FILE *f = fopen(path, "r");
	if (f && (fgetc(f) != EOF || !ferror(f))) {
		fclose(f);
		return NULL;
	}
	char *err = g_strdup_printf("%s: cannot read %s: %s", key, path, g_strerror(errno));
	if (f)
		fclose(f);
	return err;
}

static void mq_close(void *p);

static void sub_free(gpointer p)
{
	struct sub *s = p;
	g_free(s->topic);
	g_free(s);
}

static void *mq_open(const struct ls_bus_config *bc, char **err)
{
	static gsize inited;
	if (g_once_init_enter(&inited)) {
		mosquitto_lib_init();
		g_once_init_leave(&inited, 1);
	}
	const char *capath = NULL;
	if (bc->tls) {
		const char *keys[] = { "ca", "cert", "key" }, *paths[] = { bc->ca, bc->cert, bc->key };
		for (int i = 0; i < 3; i++)
			if (paths[i] && (*err = check_file(keys[i], paths[i])))
				return NULL;
		if (!bc->cert != !bc->key) {
			*err = g_strdup_printf("%s: a client certificate needs both cert and key",
					       bc->cert ? "key" : "cert");
			return NULL;
		}
		if (!bc->ca && access(capath = "/etc/ssl/certs", R_OK | X_OK) < 0) {
			*err = g_strdup_printf("ca: none given, and the system's %s cannot be read: %s", capath,
					       g_strerror(errno));
			return NULL;
		}
	}

	struct mqtt *t = g_new0(struct mqtt, 1);
	g_mutex_init(&t->conn_lock);
	g_cond_init(&t->stop_cond);
	g_mutex_init(&t->lock);
	g_cond_init(&t->acked_cond);
	g_mutex_init(&t->subs_lock);
	g_mutex_init(&t->err_lock);
	t->pending = g_hash_table_new(NULL, NULL);
	t->subs = g_ptr_array_new_with_free_func(sub_free);
	t->requests = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, request_free);
	t->topic = g_string_sized_new(128);
	t->host = g_strdup(bc->host ? bc->host : "localhost");
	t->port = bc->port > 0 ? bc->port : bc->tls ? 8883 : 1883;
	t->tls = bc->tls;

	char *id = g_strdup_printf("lockstep-%s-%d", bc->name ? bc->name : "rig", (int)getpid());
	t->mosq = mosquitto_new(id, true, t);
	g_free(id);
	if (!t->mosq) {
		*err = g_strdup_printf("url: cannot make an MQTT client: %s", g_strerror(errno));
		goto fail;
	}
	mosquitto_threaded_set(t->mosq, true);
	mosquitto_int_option(t->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_int_option(t->mosq, MOSQ_OPT_SEND_MAXIMUM, 0); /* 65535 in flight, unless the broker says less */
	mosquitto_int_option(t->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	int rc = MOSQ_ERR_SUCCESS;
	if (bc->user && (rc = mosquitto_username_pw_set(t->mosq, bc->user, bc->password))) {
		*err = g_strdup_printf("user: not accepted by the MQTT client: %s", mosquitto_strerror(rc));
		goto fail;
	}
	if (bc->tls && (rc = mosquitto_tls_set(t->mosq, bc->ca, capath, bc->cert, bc->key, no_passphrase))) {
		*err = g_strdup_printf("ca: not accepted by the MQTT client: %s", mosquitto_strerror(rc));
		goto fail;
	}
	mosquitto_connect_v5_callback_set(t->mosq, on_connect);
	mosquitto_disconnect_v5_callback_set(t->mosq, on_disconnect);
	mosquitto_publish_v5_callback_set(t->mosq, on_publish);
	mosquitto_message_v5_callback_set(t->mosq, on_message);
	mosquitto_log_callback_set(t->mosq, on_log);

	/* The first attempt also loads the TLS files (when the host resolves).
	 * A broker that is down, refuses us or fails the handshake: the network
	 * thread retries. Only what no retry can mend fails here. */
	rc = mosquitto_connect_async(t->mosq, t->host, t->port, KEEPALIVE_S);
	int e = errno;
	char *msg = NULL;
	g_mutex_lock(&t->err_lock);
	/* libmosquitto's lines for files that do not load start "Error"; a handshake's "OpenSSL Error" */
	char *prefix = g_strdup_printf("MQTT broker %s:%d: ", t->host, t->port);
	const char *line = t->err && g_str_has_prefix(t->err, prefix) ? t->err + strlen(prefix) : "";
	if (rc == MOSQ_ERR_INVAL)
		msg = g_strdup_printf("url: the MQTT client does not accept %s:%d", t->host, t->port);
	else if (rc == MOSQ_ERR_TLS && !g_str_has_prefix(line, "OpenSSL"))
		msg = g_strdup_printf("%s: %s", bc->cert ? "ca/cert/key" : "ca", line);
	g_free(prefix);
	g_mutex_unlock(&t->err_lock);
	if (msg) {
		*err = msg;
		goto fail;
	}
	if (rc != MOSQ_ERR_SUCCESS)
		set_error(t, true, "MQTT broker %s:%d: cannot connect: %s", t->host, t->port, why(rc, e));
	GError *gerr = NULL;
	t->thread = g_thread_try_new("bus-mqtt", net_main, t, &gerr);
	if (!t->thread) {
		*err = g_strdup_printf("url: cannot start the MQTT thread: %s", gerr->message);
		g_error_free(gerr);
		goto fail;
	}
	/* The first CONNACK, for a little while: credentials the broker
	 * refuses are the config's fault, said at start (a broker that is down
	 * or slow is not: it is retried while the run goes on). */
	for (int i = 0; i < 100 && !atomic_load(&t->connected); i++) {
		int why_rc = atomic_load(&t->refused);
		if (why_rc == MQTT_RC_BAD_USERNAME_OR_PASSWORD || why_rc == MQTT_RC_NOT_AUTHORIZED) {
			*err = g_strdup_printf("%s: %s refused the connection: %s",
					       bc->password ? "password"
					       : bc->user   ? "user"
							    : "url",
					       bc->url, mosquitto_reason_string(why_rc));
			goto fail;
		}
		g_mutex_lock(&t->err_lock);
		bool failed = t->err != NULL && !why_rc;
		/* a handshake the broker's certificate fails is the config's too */
		char *tls_why = failed && t->tls && strstr(t->err, "OpenSSL") ? g_strdup(strstr(t->err, "OpenSSL"))
									      : NULL;
		g_mutex_unlock(&t->err_lock);
		if (tls_why) {
			*err = g_strdup_printf("%s: %s: the TLS handshake failed: %s", bc->cert ? "cert" : "ca",
					       bc->url, tls_why);
			g_free(tls_why);
			goto fail;
		}
		if (failed)
			break;
		g_usleep(20000);
	}
	return t;
fail:
	mq_close(t);
	return NULL;
}

static bool mq_connected(void *p) { return atomic_load(&((struct mqtt *)p)->connected); }

/* Publisher thread. */
static int mq_publish(void *p, struct ls_bus_msg *m, int n, int timeout_ms)
{
	struct mqtt *t = p;
	for (int i = 0; i < n; i++)
		m[i].acked = false;
	if (!atomic_load(&t->connected))
		return -ENOTCONN;
	unsigned down = atomic_load(&t->disconnects);
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * G_TIME_SPAN_MILLISECOND;
	int sent = 0, first_rc = MOSQ_ERR_SUCCESS;
	g_mutex_lock(&t->lock);
	g_hash_table_remove_all(t->pending);
	t->batch = m;
	t->batch_done = t->batch_acked = 0;
	for (int i = 0; i < n; i++) {
		to_topic(t->topic, m[i].subject, false);
		int mid = 0, rc = MOSQ_ERR_PAYLOAD_SIZE;
		if (m[i].len <= MQTT_MAX_PAYLOAD)
			rc = mosquitto_publish_v5(t->mosq, &mid, t->topic->str, (int)m[i].len, m[i].data, 1, false,
						  NULL);
		if (rc == MOSQ_ERR_SUCCESS) {
			g_hash_table_insert(t->pending, GINT_TO_POINTER(mid), GINT_TO_POINTER(i + 1));
			sent++;
			continue;
		}
		atomic_fetch_add(&t->publish_errors, 1);
		if (first_rc == MOSQ_ERR_SUCCESS)
			first_rc = rc;
		set_error(t, false, "MQTT publish on %s failed: %s", t->topic->str, why(rc, errno));
		if (rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_CONN_LOST || rc == MOSQ_ERR_NOMEM)
			break; /* the rest stay unacked (libmosquitto keeps this one, and may send it later) */
	}
	while (t->batch_done < sent && atomic_load(&t->disconnects) == down)
		if (!g_cond_wait_until(&t->acked_cond, &t->lock, deadline))
			break;
	int acked = t->batch_acked;
	t->batch = NULL;
	g_hash_table_remove_all(t->pending); /* late PUBACKs find nothing */
	g_mutex_unlock(&t->lock);
	return sent == 0 && n > 0 ? mosq_errno(first_rc) : acked;
}

static int mq_subscribe(void *p, const char *subject, ls_bus_request_fn fn, void *user)
{
	struct mqtt *t = p;
	GString *topic = g_string_new(NULL);
	to_topic(topic, subject, true);
	if (mosquitto_sub_topic_check(topic->str) != MOSQ_ERR_SUCCESS) {
		g_string_free(topic, TRUE);
		return -EINVAL;
	}
	struct sub *s = g_new0(struct sub, 1);
	s->topic = g_string_free(topic, FALSE);
	s->fn = fn;
	s->user = user;
	g_mutex_lock(&t->subs_lock);
	g_ptr_array_add(t->subs, s);
	if (atomic_load(&t->connected)) /* else on_connect does it, as after every reconnect */
		mosquitto_subscribe_v5(t->mosq, NULL, s->topic, 1, 0, NULL);
	g_mutex_unlock(&t->subs_lock);
	return 0;
}

static int mq_reply(void *p, const char *reply, const char *data, size_t len)
{
	struct mqtt *t = p;
	if (len > MQTT_MAX_PAYLOAD)
		return -EMSGSIZE;
	struct request *r = NULL;
	char *key = NULL;
	g_mutex_lock(&t->err_lock);
	g_hash_table_steal_extended(t->requests, reply, (gpointer *)&key, (gpointer *)&r);
	g_mutex_unlock(&t->err_lock);
	g_free(key);
	GString *topic = g_string_new(r ? r->topic : NULL);
	if (!r)
		to_topic(topic, reply, false);
	mosquitto_property *props = NULL;
	if (r && r->corr)
		mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, g_bytes_get_data(r->corr, NULL),
					      (uint16_t)g_bytes_get_size(r->corr));
	int rc = mosquitto_publish_v5(t->mosq, NULL, topic->str, (int)len, data, 1, false, props);
	mosquitto_property_free_all(&props);
	g_string_free(topic, TRUE);
	if (r)
		request_free(r);
	return mosq_errno(rc);
}

static void mq_stats_json(void *p, GString *j)
{
	struct mqtt *t = p;
	uint64_t connects = atomic_load(&t->connects);
	g_string_append_printf(
		j, ",\"connected\":%s,\"reconnects\":%" PRIu64 ",\"acked\":%" PRIu64 ",\"publish_errors\":%" PRIu64,
		atomic_load(&t->connected) ? "true" : "false", connects ? connects - 1 : 0,
		(uint64_t)atomic_load(&t->acked), (uint64_t)atomic_load(&t->publish_errors));
}

static char *mq_last_error(void *p)
{
	struct mqtt *t = p;
	g_mutex_lock(&t->err_lock);
	char *s = g_strdup(t->err);
	g_mutex_unlock(&t->err_lock);
	return s;
}

static void mq_close(void *p)
{
	struct mqtt *t = p;
	if (!t)
		return;
	if (t->thread) {
		t->stop_deadline_us = g_get_monotonic_time() + CLOSE_FLUSH_MS * G_TIME_SPAN_MILLISECOND;
		g_mutex_lock(&t->conn_lock);
		atomic_store(&t->stopping, true);
		g_cond_broadcast(&t->stop_cond);
		mosquitto_disconnect(t->mosq); /* queued behind what is queued: the thread flushes, then ends */
		g_mutex_unlock(&t->conn_lock);
		g_thread_join(t->thread);
	}
	if (t->mosq)
		mosquitto_destroy(t->mosq);
	g_ptr_array_free(t->subs, TRUE);
	g_hash_table_destroy(t->pending);
	g_hash_table_destroy(t->requests);
	g_string_free(t->topic, TRUE);
	g_free(t->err);
	g_free(t->host);
	g_mutex_clear(&t->conn_lock);
	g_cond_clear(&t->stop_cond);
	g_mutex_clear(&t->lock);
	g_cond_clear(&t->acked_cond);
	g_mutex_clear(&t->subs_lock);
	g_mutex_clear(&t->err_lock);
	g_free(t);
}

const struct ls_bus_transport ls_bus_mqtt = {
	.name = "mqtt",
	.open = mq_open,
	.connected = mq_connected,
	.publish = mq_publish,
	.subscribe = mq_subscribe,
	.reply = mq_reply,
	.stats_json = mq_stats_json,
	.last_error = mq_last_error,
	.close = mq_close,
};
