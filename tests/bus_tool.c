/* bus-tool — the NATS side of the [bus] tests and benchmark (issue 15),
 * with the NATS C client (libnats). Prints to stdout; an error is one line
 * on stderr and exit status 1.
 *
 *   bus-tool consume URL STREAM FILTER [--count N] [--idle-s S] [--timeout-s S]
 *	Reads JetStream stream STREAM from its first message, subjects
 *	FILTER (e.g. "lockstep.r.>"), through an ephemeral pull consumer, and
 *	prints one JSON line per message:
 *	{"subject":S,"stream_seq":N,"msg_id":ID|null,"recv_ns":T,"data":PAYLOAD}
 *	with PAYLOAD the message as it came (JSON), T CLOCK_REALTIME ns when
 *	it was read. Stops after N messages, when none came for S seconds
 *	(default 3) and the server has none left for it, or after
 *	--timeout-s overall (default 60). It waits for the server and the
 *	stream to exist (up to the timeout) and rides out server restarts:
 *	URL may be a comma-separated list (a cluster), reconnects never stop,
 *	and the consumer is ordered by hand: the consumer sequence of every
 *	message must follow the last one's, else (a message lost on the way,
 *	a consumer lost with its server) a new consumer starts after the last
 *	stream sequence printed. So each message is printed once, in stream
 *	order.
 *   bus-tool sub URL SUBJECT [--count N] [--idle-s S] [--stall-s S] [--timeout-s S]
 *	A core NATS subscription, the same lines ("stream_seq":null). With
 *	--stall-s it sleeps S seconds before reading each message (a stalled
 *	subscriber).
 *   bus-tool request URL SUBJECT JSON [--timeout-s S]
 *	A request (default timeout 5 s); prints the reply's payload.
 *   bus-tool bench-publish URL STREAM SUBJECT-PREFIX --file FILE [--rate R] [--replicas N] [--async N]
 *	The bare publisher of the benchmark: FILE has lines
 *	"SUBJECT<TAB>MSGID<TAB>JSON"; the stream is created if missing
 *	(subjects SUBJECT-PREFIX.>); each line is published with its
 *	Nats-Msg-Id and a synchronous ack (js_Publish), R a second if given,
 *	and it prints {"messages":N,"duplicates":D,"cpu_s":C,"wall_s":W,
 *	"bytes":B}: C the process's user + system CPU time of the publishing
 *	loop (getrusage), W its wall time, B the payload bytes, D the acks
 *	JetStream marked duplicate. With --async N, as lockstep's [bus]
 *	publishes: js_PublishAsync, and after every N messages (and at the
 *	end) js_PublishAsyncComplete waits for their acks; a message refused
 *	or not acked is published again, synchronously; the line then also
 *	has "async":N and "retried":K.
 *   bus-tool fake-nodes URL PREFIX [--nodes N] [--cameras-per-node C] [--rate R] [--seconds S] [--epoch E]
 *	N simulated lockstep nodes (default 4, named node1..nodeN) of C
 *	cameras each (default 25, named c01..), for the join benchmark: at
 *	each slot time epoch + n*T (CLOCK_REALTIME, clock_nanosleep; T = 1/R,
 *	default 30; E in seconds since 1970, default 0, as [rig] epoch) for S
 *	seconds (default 10) from the second slot after the start, one core
 *	NATS message per node on PREFIX.frameset shaped like lockstep's
 *	frameset message (schema, rig, n, slot_ns, emit_ns, complete,
 *	deadline, skew_ns, present, cameras[{camera, state, capture_ns,
 *	offset_ns}]), every camera present at the slot time. Prints
 *	{"nodes","cameras_per_node","rate","first_slot","slots","messages",
 *	"bytes","errors","late_slots","lag_us":{p50,p99,max},"cpu_s","wall_s"}:
 *	lag, the time from a slot's time until its last message was handed to
 *	libnats; late, the slots whose lag passed T; cpu_s, getrusage over
 *	the loop. SIGINT or SIGTERM ends it early, with the line. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <nats/nats.h>

#define NS_PER_SEC 1000000000LL
#define FETCH_BATCH 256

static const char *prog = "bus-tool";

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

static int64_t mono_ns(void) { return clock_ns(CLOCK_MONOTONIC); }

static void sleep_ns(int64_t ns)
{
	if (ns <= 0)
		return;
	struct timespec ts = { .tv_sec = ns / NS_PER_SEC, .tv_nsec = ns % NS_PER_SEC };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The last error of libnats, for a one-line message. */
static const char *nats_err(natsStatus s)
{
	const char *t = nats_GetLastError(NULL);
	return t && *t ? t : natsStatus_GetText(s);
}

/* Options after the positional arguments. */
struct args {
	const char *pos[4];
	int npos;
	long long count;
	double idle_s, timeout_s, stall_s, rate;
	const char *file;
	int replicas, async;
	/* fake-nodes */
	int nodes, cams;
	double seconds, epoch;
};

static double num_arg(const char *k, const char *v)
{
	char *end;
	errno = 0;
	double d = g_ascii_strtod(v, &end);
	if (!*v || *end || errno || !isfinite(d) || d < 0)
		die("--%s: not a number >= 0: '%s'", k, v);
	return d;
}

static void parse_args(int argc, char **argv, int npos, struct args *a)
{
	for (int i = 2; i < argc; i++) {
		if (strncmp(argv[i], "--", 2) == 0 && argv[i][2]) {
			const char *k = argv[i] + 2;
			if (i + 1 >= argc)
				die("--%s needs a value", k);
			const char *v = argv[++i];
			if (strcmp(k, "count") == 0)
				a->count = (long long)num_arg(k, v);
			else if (strcmp(k, "idle-s") == 0)
				a->idle_s = num_arg(k, v);
			else if (strcmp(k, "timeout-s") == 0)
				a->timeout_s = num_arg(k, v);
			else if (strcmp(k, "stall-s") == 0)
				a->stall_s = num_arg(k, v);
			else if (strcmp(k, "rate") == 0)
				a->rate = num_arg(k, v);
			else if (strcmp(k, "replicas") == 0)
				a->replicas = (int)num_arg(k, v);
			else if (strcmp(k, "async") == 0)
				a->async = (int)num_arg(k, v);
			else if (strcmp(k, "file") == 0)
				a->file = v;
			else if (strcmp(k, "nodes") == 0)
				a->nodes = (int)num_arg(k, v);
			else if (strcmp(k, "cameras-per-node") == 0)
				a->cams = (int)num_arg(k, v);
			else if (strcmp(k, "seconds") == 0)
				a->seconds = num_arg(k, v);
			else if (strcmp(k, "epoch") == 0)
				a->epoch = num_arg(k, v);
			else
				die("unknown option --%s", k);
		} else if (a->npos < npos) {
			a->pos[a->npos++] = argv[i];
		} else {
			die("too many arguments ('%s')", argv[i]);
		}
	}
	if (a->npos < npos)
		die("%s: missing arguments (run without arguments for the usage)", argv[1]);
}

/* Async errors (a slow consumer, a lost connection) are not fatal here:
 * keep libnats from printing them. */
static void quiet_errors(natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure)
{
	(void)nc, (void)sub, (void)err, (void)closure;
}

/* Connects to the servers of @urls (comma-separated), retrying until
 * @deadline (monotonic ns); reconnects forever once connected. */
static natsConnection *connect_to(const char *urls, int64_t deadline)
{
	natsOptions *o = NULL;
	gchar **list = g_strsplit(urls, ",", -1);
	int n = 0;
	for (gchar **p = list; *p; p++) {
		g_strstrip(*p);
		if (**p)
			list[n++] = *p;
		else
			g_free(*p);
	}
	list[n] = NULL;
	if (n == 0)
		die("no server URL in '%s'", urls);
	natsStatus s = natsOptions_Create(&o);
	if (s == NATS_OK)
		s = natsOptions_SetServers(o, (const char **)list, n);
	if (s == NATS_OK)
		s = natsOptions_SetName(o, "lockstep-bus-tool");
	if (s == NATS_OK)
		s = natsOptions_SetAllowReconnect(o, true);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(o, -1);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(o, 100);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(o, 1000);
	if (s == NATS_OK)
		s = natsOptions_SetErrorHandler(o, quiet_errors, NULL);
	if (s != NATS_OK)
		die("%s: %s", urls, nats_err(s));
	g_strfreev(list);
	natsConnection *nc = NULL;
	for (;;) {
		s = natsConnection_Connect(&nc, o);
		if (s == NATS_OK)
			break;
		if (mono_ns() >= deadline)
			die("cannot connect to %s: %s", urls, nats_err(s));
		sleep_ns(200 * 1000 * 1000);
	}
	natsOptions_Destroy(o);
	return nc;
}

static void json_str(GString *j, const char *s)
{
	g_string_append_c(j, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			g_string_append_printf(j, "\\%c", *p);
		else if (*p < 0x20)
			g_string_append_printf(j, "\\u%04x", *p);
		else
			g_string_append_c(j, (char)*p);
	}
	g_string_append_c(j, '"');
}

/* One output line for @m: @sseq 0 prints "stream_seq":null. */
static void print_msg(natsMsg *m, uint64_t sseq)
{
	int64_t recv = clock_ns(CLOCK_REALTIME);
	GString *j = g_string_sized_new(256 + (gsize)natsMsg_GetDataLength(m));
	g_string_append(j, "{\"subject\":");
	json_str(j, natsMsg_GetSubject(m));
	if (sseq)
		g_string_append_printf(j, ",\"stream_seq\":%llu", (unsigned long long)sseq);
	else
		g_string_append(j, ",\"stream_seq\":null");
	const char *id = NULL;
	g_string_append(j, ",\"msg_id\":");
	if (natsMsgHeader_Get(m, "Nats-Msg-Id", &id) == NATS_OK && id)
		json_str(j, id);
	else
		g_string_append(j, "null");
	g_string_append_printf(j, ",\"recv_ns\":%lld,\"data\":", (long long)recv);
	int len = natsMsg_GetDataLength(m);
	if (len > 0)
		g_string_append_len(j, natsMsg_GetData(m), len);
	else
		g_string_append(j, "null");
	g_string_append(j, "}\n");
	fwrite(j->str, 1, j->len, stdout);
	g_string_free(j, TRUE);
}

/* ---- consume ---------------------------------------------------------- */

struct consumer {
	jsCtx *js;
	const char *stream, *filter;
	natsSubscription *sub;
	uint64_t last_sseq;   /* the last stream sequence printed */
	uint64_t last_cseq;   /* its consumer sequence, in the current consumer */
	uint64_t suspect_dlv; /* the server's delivered count at the last check, when ahead of us */
	bool info_ok;         /* the last consumer info said nothing is left */
	int info_failures;
	char err[256];
};

static void drop_consumer(struct consumer *c)
{
	if (!c->sub)
		return;
	natsSubscription_Unsubscribe(c->sub); /* deletes the ephemeral consumer when the server answers */
	natsSubscription_Destroy(c->sub);
	c->sub = NULL;
	c->info_ok = false;
	c->info_failures = 0;
	c->suspect_dlv = 0;
}

/* A new ephemeral pull consumer from the message after the last printed. */
static bool make_consumer(struct consumer *c)
{
	jsSubOptions so;
	jsSubOptions_Init(&so);
	so.Stream = c->stream;
	so.Config.AckPolicy = js_AckNone;
	so.Config.MemoryStorage = true;
	so.Config.Replicas = 1;
	so.Config.InactiveThreshold = 30 * NS_PER_SEC;
	if (c->last_sseq) {
		so.Config.DeliverPolicy = js_DeliverByStartSequence;
		so.Config.OptStartSeq = c->last_sseq + 1;
	} else {
		so.Config.DeliverPolicy = js_DeliverAll;
	}
	jsErrCode jerr = 0;
	natsStatus s = js_PullSubscribe(&c->sub, c->js, c->filter, NULL, NULL, &so, &jerr);
	if (s != NATS_OK) {
		if (jerr == JSStreamNotFoundErr)
			snprintf(c->err, sizeof c->err, "stream %s not found", c->stream);
		else
			snprintf(c->err, sizeof c->err, "stream %s: cannot create a consumer: %s", c->stream,
				 nats_err(s));
		c->sub = NULL;
		return false;
	}
	c->last_cseq = 0;
	return true;
}

/* After a fetch timed out: asks the server how far the consumer is. A
 * consumer gone (or no answer twice: its server died), or one that
 * delivered messages that never came (twice in a row, not a race with one
 * on its way), is replaced. */
static void check_consumer(struct consumer *c)
{
	jsConsumerInfo *ci = NULL;
	jsErrCode jerr = 0;
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.Wait = 500;
	c->info_ok = false;
	natsStatus s = natsSubscription_GetConsumerInfo(&ci, c->sub, &jo, &jerr);
	if (s != NATS_OK) {
		if (jerr == JSConsumerNotFoundErr || ++c->info_failures >= 2)
			drop_consumer(c);
		return;
	}
	c->info_failures = 0;
	uint64_t dlv = ci->Delivered.Consumer;
	if (dlv > c->last_cseq) {
		if (c->suspect_dlv && dlv == c->suspect_dlv)
			drop_consumer(c);
		else
			c->suspect_dlv = dlv;
	} else {
		c->suspect_dlv = 0;
		c->info_ok = ci->NumPending == 0;
	}
	jsConsumerInfo_Destroy(ci);
}

/* Prints the messages of @l in order; false when one does not follow the
 * last (the consumer is then replaced, and the rest of @l dropped). */
static bool take(struct consumer *c, natsMsgList *l, long long *printed, long long count)
{
	for (int i = 0; i < l->Count && (!count || *printed < count); i++) {
		jsMsgMetaData *meta = NULL;
		if (natsMsg_GetMetaData(&meta, l->Msgs[i]) != NATS_OK)
			continue; /* not a JetStream message */
		uint64_t sseq = meta->Sequence.Stream, cseq = meta->Sequence.Consumer;
		jsMsgMetaData_Destroy(meta);
		if (cseq != c->last_cseq + 1) {
			drop_consumer(c);
			return false;
		}
		c->last_cseq = cseq;
		if (sseq <= c->last_sseq)
			continue;
		print_msg(l->Msgs[i], sseq);
		c->last_sseq = sseq;
		(*printed)++;
	}
	return true;
}

static int cmd_consume(int argc, char **argv)
{
	struct args a = { .idle_s = 3, .timeout_s = 60 };
	parse_args(argc, argv, 3, &a);
	int64_t t0 = mono_ns(), deadline = t0 + (int64_t)(a.timeout_s * 1e9);
	natsConnection *nc = connect_to(a.pos[0], deadline);
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.Wait = 1000;
	struct consumer c = { .stream = a.pos[1], .filter = a.pos[2] };
	snprintf(c.err, sizeof c.err, "stream %s not found", c.stream);
	natsStatus s = natsConnection_JetStream(&c.js, nc, &jo);
	if (s != NATS_OK)
		die("%s", nats_err(s));
	long long printed = 0;
	bool subscribed = false;
	int64_t last_msg = 0;
	while ((!a.count || printed < a.count) && mono_ns() < deadline) {
		if (!c.sub) {
			if (!make_consumer(&c)) {
				sleep_ns(200 * 1000 * 1000);
				continue;
			}
			if (!subscribed)
				last_msg = mono_ns();
			subscribed = true;
		}
		/* what the server has now, then a wait for one more: a message
		 * is read as soon as it comes (its recv_ns is when it came) */
		natsMsgList l = { 0 };
		jsFetchRequest fr;
		jsFetchRequest_Init(&fr);
		fr.Batch = FETCH_BATCH;
		fr.NoWait = true;
		fr.Expires = NS_PER_SEC / 4; /* the answer is at once, unless the consumer is gone */
		s = natsSubscription_FetchRequest(&l, c.sub, &fr);
		if (s == NATS_NOT_FOUND || s == NATS_TIMEOUT) {
			int64_t left = deadline - mono_ns();
			jsFetchRequest_Init(&fr);
			fr.Batch = 1;
			fr.Expires = left < NS_PER_SEC / 2 ? left : NS_PER_SEC / 2;
			if (fr.Expires < 20 * 1000 * 1000)
				fr.Expires = 20 * 1000 * 1000;
			s = natsSubscription_FetchRequest(&l, c.sub, &fr);
		}
		if (s == NATS_OK) {
			if (l.Count > 0)
				last_msg = mono_ns();
			take(&c, &l, &printed, a.count);
			natsMsgList_Destroy(&l);
			fflush(stdout);
			continue;
		}
		if (s == NATS_TIMEOUT || s == NATS_NOT_FOUND) {
			check_consumer(&c);
			if (c.sub && c.info_ok && mono_ns() - last_msg >= (int64_t)(a.idle_s * 1e9))
				break;
			continue;
		}
		/* the connection is down, or the consumer went away with its
		 * server: a new one once the server is back */
		drop_consumer(&c);
		sleep_ns(100 * 1000 * 1000);
	}
	fflush(stdout);
	if (!subscribed)
		die("%s", c.err);
	drop_consumer(&c);
	jsCtx_Destroy(c.js);
	natsConnection_Destroy(nc);
	return 0;
}

/* ---- sub ---------------------------------------------------------------- */

static int cmd_sub(int argc, char **argv)
{
	struct args a = { .idle_s = 3, .timeout_s = 60 };
	parse_args(argc, argv, 2, &a);
	int64_t deadline = mono_ns() + (int64_t)(a.timeout_s * 1e9);
	natsConnection *nc = connect_to(a.pos[0], deadline);
	natsSubscription *sub = NULL;
	natsStatus s = natsConnection_SubscribeSync(&sub, nc, a.pos[1]);
	if (s == NATS_OK)
		s = natsConnection_Flush(nc);
	if (s != NATS_OK)
		die("subscribe %s: %s", a.pos[1], nats_err(s));
	long long printed = 0;
	int64_t idle_ms = (int64_t)(a.idle_s * 1e3);
	while ((!a.count || printed < a.count) && mono_ns() < deadline) {
		if (a.stall_s > 0)
			sleep_ns((int64_t)(a.stall_s * 1e9));
		natsMsg *m = NULL;
		int64_t left_ms = (deadline - mono_ns()) / 1000000;
		s = natsSubscription_NextMsg(&m, sub, left_ms < idle_ms ? (left_ms > 0 ? left_ms : 1) : idle_ms);
		if (s == NATS_TIMEOUT)
			break;
		if (s == NATS_SLOW_CONSUMER)
			continue; /* messages dropped by the client: keep reading */
		if (s != NATS_OK)
			die("subscription %s: %s", a.pos[1], nats_err(s));
		print_msg(m, 0);
		fflush(stdout);
		natsMsg_Destroy(m);
		printed++;
	}
	natsSubscription_Destroy(sub);
	natsConnection_Destroy(nc);
	return 0;
}

/* ---- request ------------------------------------------------------------ */

static int cmd_request(int argc, char **argv)
{
	struct args a = { .timeout_s = 5 };
	parse_args(argc, argv, 3, &a);
	int64_t deadline = mono_ns() + (int64_t)(a.timeout_s * 1e9);
	natsConnection *nc = connect_to(a.pos[0], deadline);
	natsMsg *reply = NULL;
	int64_t left_ms = (deadline - mono_ns()) / 1000000;
	natsStatus s = natsConnection_RequestString(&reply, nc, a.pos[1], a.pos[2], left_ms > 0 ? left_ms : 1);
	if (s == NATS_NO_RESPONDERS)
		die("request %s: no responders", a.pos[1]);
	if (s == NATS_TIMEOUT)
		die("request %s: no reply in %g s", a.pos[1], a.timeout_s);
	if (s != NATS_OK)
		die("request %s: %s", a.pos[1], nats_err(s));
	fwrite(natsMsg_GetData(reply), 1, (size_t)natsMsg_GetDataLength(reply), stdout);
	fputc('\n', stdout);
	natsMsg_Destroy(reply);
	natsConnection_Destroy(nc);
	return 0;
}

/* ---- bench-publish ------------------------------------------------------ */

struct line {
	char *subject, *id, *data;
	int len;
};

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static void ensure_stream(jsCtx *js, const char *stream, const char *prefix, int replicas)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s = js_GetStreamInfo(&si, js, stream, NULL, &jerr);
	if (s == NATS_OK) {
		jsStreamInfo_Destroy(si);
		return;
	}
	if (jerr != JSStreamNotFoundErr)
		die("stream %s: %s", stream, nats_err(s));
	jsStreamConfig cfg;
	jsStreamConfig_Init(&cfg);
	char *subj = g_strdup_printf("%s.>", prefix);
	const char *subjects[] = { subj };
	cfg.Name = stream;
	cfg.Subjects = subjects;
	cfg.SubjectsLen = 1;
	cfg.Storage = js_FileStorage;
	cfg.Replicas = replicas > 0 ? replicas : 1;
	s = js_AddStream(&si, js, &cfg, NULL, &jerr);
	if (s != NATS_OK)
		die("cannot create stream %s (%s): %s", stream, subj, nats_err(s));
	jsStreamInfo_Destroy(si);
	g_free(subj);
}

/* --async: the acks of the messages in flight, counted by the ack handler
 * (libnats' callback thread); a message without an ack is kept, by index,
 * to be published again. */
struct async_acks {
	GMutex lock;
	long long dups;
	GArray *failed;    /* guint line indices */
	GHashTable *index; /* msg id -> line index + 1 */
};

static void on_bench_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
	struct async_acks *aa = closure;
	(void)js;
	g_mutex_lock(&aa->lock);
	if (pa) {
		aa->dups += pa->Duplicate;
	} else {
		const char *id = NULL;
		gpointer v = NULL;
		if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) == NATS_OK && id)
			v = g_hash_table_lookup(aa->index, id);
		if (v) {
			guint i = GPOINTER_TO_UINT(v) - 1;
			g_array_append_val(aa->failed, i);
		}
	}
	g_mutex_unlock(&aa->lock);
	(void)pae;
	natsMsg_Destroy(msg);
}

/* One synchronous publish of @l, retried until @deadline; adds a duplicate to @dups. */
static void publish_sync(jsCtx *js, const struct line *l, int64_t deadline, long long *dups)
{
	jsPubOptions po;
	jsPubOptions_Init(&po);
	po.MsgId = l->id;
	for (;;) { /* the same id again is harmless: JetStream drops the copy */
		jsPubAck *ack = NULL;
		jsErrCode jerr = 0;
		natsStatus s = js_Publish(&ack, js, l->subject, l->data, l->len, &po, &jerr);
		if (s == NATS_OK) {
			*dups += ack->Duplicate;
			jsPubAck_Destroy(ack);
			return;
		}
		if (mono_ns() >= deadline)
			die("publish %s (%s): %s", l->subject, l->id, nats_err(s));
		sleep_ns(50 * 1000 * 1000);
	}
}

static int cmd_bench_publish(int argc, char **argv)
{
	struct args a = { .timeout_s = 60 };
	parse_args(argc, argv, 3, &a);
	if (!a.file)
		die("bench-publish needs --file MESSAGES.jsonl");
	gchar *text = NULL;
	gsize size = 0;
	GError *e = NULL;
	if (!g_file_get_contents(a.file, &text, &size, &e))
		die("%s", e->message);
	GArray *lines = g_array_new(FALSE, FALSE, sizeof(struct line));
	int ln = 0;
	for (char *p = text, *next; p && *p; p = next) {
		ln++;
		next = strchr(p, '\n');
		if (next)
			*next++ = '\0';
		if (!*p)
			continue;
		char *t1 = strchr(p, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
		if (!t2)
			die("%s:%d: not SUBJECT<TAB>MSGID<TAB>JSON", a.file, ln);
		*t1 = *t2 = '\0';
		struct line l = { .subject = p, .id = t1 + 1, .data = t2 + 1, .len = (int)strlen(t2 + 1) };
		g_array_append_val(lines, l);
	}
	int64_t deadline = mono_ns() + (int64_t)(a.timeout_s * 1e9);
	natsConnection *nc = connect_to(a.pos[0], deadline);
	jsCtx *js = NULL;
	struct async_acks aa = { 0 };
	jsOptions jo;
	jsOptions_Init(&jo);
	if (a.async > 0) {
		g_mutex_init(&aa.lock);
		aa.failed = g_array_new(FALSE, FALSE, sizeof(guint));
		aa.index = g_hash_table_new(g_str_hash, g_str_equal);
		for (guint i = 0; i < lines->len; i++)
			g_hash_table_insert(aa.index, g_array_index(lines, struct line, i).id, GUINT_TO_POINTER(i + 1));
		jo.PublishAsync.AckHandler = on_bench_ack;
		jo.PublishAsync.AckHandlerClosure = &aa;
		jo.PublishAsync.MaxPending = 4096;
	}
	natsStatus s = natsConnection_JetStream(&js, nc, &jo);
	if (s != NATS_OK)
		die("%s", nats_err(s));
	ensure_stream(js, a.pos[1], a.pos[2], a.replicas);

	long long bytes = 0, dups = 0, retried = 0;
	double c0 = cpu_s();
	int64_t w0 = mono_ns();
	for (guint i = 0; i < lines->len; i++) {
		const struct line *l = &g_array_index(lines, struct line, i);
		if (a.rate > 0) {
			int64_t at = w0 + (int64_t)((double)i * 1e9 / a.rate);
			struct timespec ts = { .tv_sec = at / NS_PER_SEC, .tv_nsec = at % NS_PER_SEC };
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
				;
		}
		bytes += l->len;
		if (a.async <= 0) {
			publish_sync(js, l, deadline, &dups);
			continue;
		}
		jsPubOptions po;
		jsPubOptions_Init(&po);
		po.MsgId = l->id;
		s = js_PublishAsync(js, l->subject, l->data, l->len, &po);
		if (s != NATS_OK) { /* not even sent: once more, synchronously */
			retried++;
			publish_sync(js, l, deadline, &dups);
		}
		if ((i + 1) % (guint)a.async && i + 1 < lines->len)
			continue;
		jsPubOptions co;
		jsPubOptions_Init(&co);
		co.MaxWait = 5000;
		if (js_PublishAsyncComplete(js, &co) != NATS_OK) {
			natsMsgList pending = { 0 }; /* not acked in time: taken back, sent again below */
			if (js_PublishAsyncGetPendingList(&pending, js) == NATS_OK) {
				for (int k = 0; k < pending.Count; k++) {
					const char *id = NULL;
					gpointer v = NULL;
					if (natsMsgHeader_Get(pending.Msgs[k], "Nats-Msg-Id", &id) == NATS_OK && id)
						v = g_hash_table_lookup(aa.index, id);
					if (v) {
						guint f = GPOINTER_TO_UINT(v) - 1;
						g_mutex_lock(&aa.lock);
						g_array_append_val(aa.failed, f);
						g_mutex_unlock(&aa.lock);
					}
				}
				natsMsgList_Destroy(&pending);
			}
		}
		g_mutex_lock(&aa.lock);
		GArray *failed = aa.failed;
		aa.failed = g_array_new(FALSE, FALSE, sizeof(guint));
		g_mutex_unlock(&aa.lock);
		for (guint k = 0; k < failed->len; k++) {
			retried++;
			publish_sync(js, &g_array_index(lines, struct line, g_array_index(failed, guint, k)), deadline,
				     &dups);
		}
		g_array_free(failed, TRUE);
	}
	double wall = (double)(mono_ns() - w0) / 1e9, cpu = cpu_s() - c0;
	printf("{\"messages\":%u,\"duplicates\":%lld,\"cpu_s\":%.6f,\"wall_s\":%.6f,\"bytes\":%lld", lines->len, dups,
	       cpu, wall, bytes);
	if (a.async > 0)
		printf(",\"async\":%d,\"retried\":%lld", a.async, retried);
	printf("}\n");
	jsCtx_Destroy(js);
	if (a.async > 0) {
		g_hash_table_destroy(aa.index);
		g_array_free(aa.failed, TRUE);
		g_mutex_clear(&aa.lock);
	}
	natsConnection_Destroy(nc);
	g_array_free(lines, TRUE);
	g_free(text);
	return 0;
}

/* ---- fake-nodes --------------------------------------------------------- */

static volatile sig_atomic_t fake_stop;

static void on_fake_signal(int sig)
{
	(void)sig;
	fake_stop = 1;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int cmd_fake_nodes(int argc, char **argv)
{
	struct args a = { .timeout_s = 10, .nodes = 4, .cams = 25, .rate = 30, .seconds = 10 };
	parse_args(argc, argv, 2, &a);
	if (a.nodes < 1 || a.cams < 1 || a.rate <= 0)
		die("fake-nodes: --nodes, --cameras-per-node and --rate must be > 0");
	/* the rate as a fraction, as lockstep's: whole, or to 1/1000 */
	int64_t num = (double)(int64_t)a.rate == a.rate ? (int64_t)a.rate : (int64_t)(a.rate * 1000 + 0.5);
	int64_t den = (double)(int64_t)a.rate == a.rate ? 1 : 1000;
	int64_t epoch = (int64_t)(a.epoch * 1e9 + 0.5), period = den * NS_PER_SEC / num;
	natsConnection *nc = connect_to(a.pos[0], mono_ns() + (int64_t)(a.timeout_s * 1e9));
	char *subject = g_strdup_printf("%s.frameset", a.pos[1]);
	GString **heads = g_new(GString *, a.nodes), *cams = g_string_new(NULL);
	for (int k = 0; k < a.nodes; k++) {
		char name[32];
		snprintf(name, sizeof name, "node%d", k + 1);
		heads[k] = g_string_new("{\"schema\":\"lockstep.frameset/1\",\"rig\":");
		json_str(heads[k], name);
		g_string_append_c(heads[k], ',');
	}
	int64_t nslots = (int64_t)(a.seconds * a.rate + 0.5);
	int64_t *lag = g_new0(int64_t, nslots > 0 ? nslots : 1);
	signal(SIGINT, on_fake_signal);
	signal(SIGTERM, on_fake_signal);
	/* the first slot: the second one after now */
	int64_t now = clock_ns(CLOCK_REALTIME);
	int64_t n0 = (int64_t)(((__int128)(now - epoch) * num) / ((__int128)den * NS_PER_SEC)) + 2;
	long long msgs = 0, bytes = 0, errors = 0, late = 0, done_slots = 0;
	GString *j = g_string_sized_new(256 + (gsize)a.cams * 96);
	double c0 = cpu_s();
	int64_t w0 = mono_ns();
	for (int64_t i = 0; i < nslots && !fake_stop; i++) {
		int64_t n = n0 + i;
		int64_t at = epoch + (int64_t)((__int128)n * den * NS_PER_SEC / num);
		struct timespec ts = { .tv_sec = at / NS_PER_SEC, .tv_nsec = at % NS_PER_SEC };
		while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL) == EINTR && !fake_stop)
			;
		if (fake_stop)
			break;
		/* every camera of every node captured at the slot time (a
		 * test camera's capture time), each node's set complete */
		g_string_truncate(cams, 0);
		for (int c = 0; c < a.cams; c++)
			g_string_append_printf(cams,
					       "%s{\"camera\":\"c%02d\",\"state\":\"present\",\"capture_ns\":%lld,"
					       "\"offset_ns\":0}",
					       c ? "," : "", c + 1, (long long)at);
		for (int k = 0; k < a.nodes; k++) {
			g_string_assign(j, heads[k]->str);
			g_string_append_printf(j,
					       "\"n\":%lld,\"slot_ns\":%lld,\"emit_ns\":%lld,\"complete\":true,"
					       "\"deadline\":false,\"skew_ns\":0,\"present\":%d,\"cameras\":[",
					       (long long)n, (long long)at, (long long)clock_ns(CLOCK_REALTIME),
					       a.cams);
			g_string_append_len(j, cams->str, (gssize)cams->len);
			g_string_append(j, "]}");
			natsStatus s = natsConnection_Publish(nc, subject, j->str, (int)j->len);
			if (s != NATS_OK) {
				errors++;
				continue;
			}
			msgs++;
			bytes += (long long)j->len;
		}
		/* late: the slot's messages not all handed to libnats within a period */
		lag[done_slots++] = clock_ns(CLOCK_REALTIME) - at;
		late += lag[done_slots - 1] > period;
	}
	natsConnection_FlushTimeout(nc, 5000);
	double wall = (double)(mono_ns() - w0) / 1e9, cpu = cpu_s() - c0;
	qsort(lag, (size_t)done_slots, sizeof *lag, cmp_i64);
	int64_t p50 = done_slots ? lag[done_slots / 2] : 0, p99 = done_slots ? lag[(done_slots * 99) / 100] : 0,
		pmax = done_slots ? lag[done_slots - 1] : 0;
	printf("{\"nodes\":%d,\"cameras_per_node\":%d,\"rate\":%g,\"first_slot\":%lld,\"slots\":%lld,"
	       "\"messages\":%lld,\"bytes\":%lld,\"errors\":%lld,\"late_slots\":%lld,"
	       "\"lag_us\":{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f},\"cpu_s\":%.6f,\"wall_s\":%.6f}\n",
	       a.nodes, a.cams, a.rate, (long long)n0, done_slots, msgs, bytes, errors, late, (double)p50 / 1e3,
	       (double)p99 / 1e3, (double)pmax / 1e3, cpu, wall);
	g_string_free(j, TRUE);
	g_string_free(cams, TRUE);
	for (int k = 0; k < a.nodes; k++)
		g_string_free(heads[k], TRUE);
	g_free(heads);
	g_free(lag);
	g_free(subject);
	natsConnection_Destroy(nc);
	return 0;
}

int main(int argc, char **argv)
{
	static const char usage[] =
		"usage: bus-tool consume URL STREAM FILTER [--count N] [--idle-s S] [--timeout-s S]\n"
		"       bus-tool sub URL SUBJECT [--count N] [--idle-s S] [--stall-s S] [--timeout-s S]\n"
		"       bus-tool request URL SUBJECT JSON [--timeout-s S]\n"
		"       bus-tool bench-publish URL STREAM SUBJECT-PREFIX --file FILE [--rate R] [--replicas N] "
		"[--async N]\n"
		"       bus-tool fake-nodes URL PREFIX [--nodes N] [--cameras-per-node C] [--rate R] [--seconds S] "
		"[--epoch E]\n";
	if (argc < 2) {
		fputs(usage, stderr);
		return 1;
	}
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	int rc;
	if (strcmp(argv[1], "consume") == 0)
		rc = cmd_consume(argc, argv);
	else if (strcmp(argv[1], "sub") == 0)
		rc = cmd_sub(argc, argv);
	else if (strcmp(argv[1], "request") == 0)
		rc = cmd_request(argc, argv);
	else if (strcmp(argv[1], "bench-publish") == 0)
		rc = cmd_bench_publish(argc, argv);
	else if (strcmp(argv[1], "fake-nodes") == 0)
		rc = cmd_fake_nodes(argc, argv);
	else
		die("unknown command '%s' (consume, sub, request, bench-publish or fake-nodes)", argv[1]);
	fflush(stdout);
	nats_Close();
	return rc;
}
