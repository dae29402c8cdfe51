/* clock — the rig's time: where it comes from ([clock] source =), how far it
 * is from CLOCK_REALTIME, whether it is synchronised, and serving it to
 * other rigs ([clock] provide =). See clock.h and docs/architecture.md
 * ("Many hosts, one clock").
 *
 * The rig's clock is CLOCK_REALTIME + an offset (lib/ls_time.h): every
 * capture time, slot index, deadline and scheduled capture reads it. This
 * service sets the offset:
 *  - system: 0 (linuxptp or chrony discipline CLOCK_REALTIME itself). Their
 *    state is read every 10 s where a tool answers (`chronyc tracking`,
 *    `pmc GET TIME_STATUS_NP`): synced, and the offset they report;
 *  - ptp, ntp, net: a GstClock slaved to the reference (GstPtpClock,
 *    GstNtpClock, GstNetClientClock) is read every 50 ms, and the offset
 *    becomes reference - CLOCK_REALTIME. Those clocks filter their
 *    observations themselves (a median of round trips, a linear regression
 *    against the local monotonic clock), so the offset moves smoothly.
 * Synced: the reference clock says so and answered in the last 3 s (its
 * statistics). While not synced, frames are marked unsynced.
 *
 * Test hook: LOCKSTEP_TEST_CLOCK_OFFSET_MS=+37 makes this host's
 * CLOCK_REALTIME read 37 ms ahead, as a badly set clock would: with source
 * = system it shows as skew against other hosts; a reference corrects it.
 *
 * Threads: a poller thread of its own; the stats are read under a mutex by
 * the rig's aligner thread once a second. */
#include "clock.h"

#include <gst/net/net.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ls_time.h"

#define POLL_NS (50 * LS_NS_PER_MS)
#define STALE_NS (3 * LS_NS_PER_SEC) /* no observation this long: not synced */
#define JITTER_N 40                  /* offsets over the last 2 s */

/* ---- this rig's clock as a GstClock, for GstNetTimeProvider ------------- */

#define LS_TYPE_RIG_CLOCK (ls_rig_clock_get_type())
G_DECLARE_FINAL_TYPE(LsRigClock, ls_rig_clock, LS, RIG_CLOCK, GstClock)
struct _LsRigClock {
	GstClock parent;
};
G_DEFINE_TYPE(LsRigClock, ls_rig_clock, GST_TYPE_CLOCK)
static GstClockTime rig_clock_time(GstClock *c) { return (GstClockTime)ls_realtime_ns(); }
static GstClockTime rig_clock_resolution(GstClock *c) { return 1; }
static void ls_rig_clock_class_init(LsRigClockClass *k)
{
	GST_CLOCK_CLASS(k)->get_internal_time = rig_clock_time;
	GST_CLOCK_CLASS(k)->get_resolution = rig_clock_resolution;
}
static void ls_rig_clock_init(LsRigClock *c) {}

/* ---- the service ---------------------------------------------------------- */

struct ls_clock_service {
	const struct ls_clock_config *cc;
	int64_t test_offset_ns; /* LOCKSTEP_TEST_CLOCK_OFFSET_MS */
	GstClock *ref;          /* ptp, ntp, net */
	GstBus *ref_bus;        /* ntp, net: the clock's statistics */
	GstClock *rig_clock;    /* provide */
	GstNetTimeProvider *provider;
	gulong ptp_stats;
	GThread *thread;
	atomic_bool stop;
	GMutex lock; /* the fields below */
	GCond cond;
	int64_t last_obs_mono; /* the last observation of the reference (monotonic ns) */
	double rtt_ms;         /* net/ntp: its round trip */
	bool synced;
	int64_t offset_ns; /* reference - CLOCK_REALTIME (+ test offset), as applied */
	double daemon_offset_ms;
	bool daemon_known;
	char daemon[16]; /* "chrony", "ptp4l" or "" */
	int64_t offsets[JITTER_N];
	unsigned noff;
	int64_t epoch_shift; /* the reference's epoch before 1970 (NTP: 1900), ns */
	bool tai_checked;    /* ptp: the first estimate was looked at for TAI */
	bool stable;         /* the reference settled once (ten estimates within 1 ms) */
	int64_t warm[10];    /* the estimates before that */
	unsigned nwarm;
	unsigned jumps; /* estimates in a row over 10 ms from the applied offset */
	int64_t est[5]; /* the last estimates of reference - CLOCK_REALTIME (poller thread) */
	unsigned nest;
	int64_t sec_min, sec_max, sec_sum; /* the applied offset since the last stats record */
	unsigned sec_n;
	uint64_t losses; /* synced -> not synced */
	int64_t unsynced_since_mono;
	double unsynced_total_s;
	char *what; /* "net 10.0.0.1:5556" */
};

static struct ls_clock_service *ptp_owner; /* the statistics callback's */

static gboolean on_ptp_stats(guint8 domain, const GstStructure *st, gpointer user)
{
	struct ls_clock_service *s = user;
	if (s != ptp_owner || domain != s->cc->domain)
		return TRUE;
	if (gst_structure_has_name(st, GST_PTP_STATISTICS_TIME_UPDATED)) {
		g_mutex_lock(&s->lock);
		s->last_obs_mono = ls_monotonic_ns();
		GstClockTimeDiff d = 0;
		if (gst_structure_get_clock_time(st, "mean-path-delay-avg", (GstClockTime *)&d))
			s->rtt_ms = 2.0 * (double)d / 1e6;
		g_mutex_unlock(&s->lock);
	}
	return TRUE;
}

/* `cmd` (with a 2 s timeout) and its stdout, or NULL. */
static char *run(const char *cmd)
{
	char *out = NULL;
	int status = 0;
	char *argv[] = { "sh", "-c", (char *)cmd, NULL };
	if (!g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out, NULL,
			  &status, NULL) ||
	    !g_spawn_check_wait_status(status, NULL)) {
		g_free(out);
		return NULL;
	}
	return out;
}

/* system: what chrony or linuxptp say of CLOCK_REALTIME. */
static void read_daemon(struct ls_clock_service *s)
{
	bool known = false, synced = true;
	double off_ms = 0;
	const char *daemon = "";
	char *out = run("command -v chronyc >/dev/null && timeout 2 chronyc -n tracking");
	if (out && strstr(out, "Leap status")) {
		daemon = "chrony";
		known = true;
		const char *p = strstr(out, "System time");
		double v = 0;
		if (p && sscanf(strchr(p, ':') + 1, "%lf", &v) == 1)
			off_ms = (strstr(p, "slow") && strstr(p, "slow") < strchr(p, '\n') ? -v : v) * 1e3;
		synced = !strstr(out, "Not synchronised");
	} else {
		g_free(out);
		out = run(
			"command -v pmc >/dev/null && timeout 2 pmc -u -b 0 'GET TIME_STATUS_NP' 'GET PORT_DATA_SET'");
		const char *p = out ? strstr(out, "master_offset") : NULL;
		if (p) {
			long long ns = 0;
			daemon = "ptp4l";
			known = true;
			if (sscanf(p + strlen("master_offset"), "%lld", &ns) == 1)
				off_ms = (double)ns / 1e6;
			const char *gm = strstr(out, "gmPresent");
			/* the grandmaster itself has no grandmaster present: a
			 * port in MASTER state says this host is the reference */
			bool master = false;
			for (const char *q = strstr(out, "portState"); q && !master; q = strstr(q + 1, "portState"))
				master = g_str_has_prefix(
					q + strlen("portState") + strspn(q + strlen("portState"), " \t"), "MASTER");
			synced = (gm && strstr(gm, "true")) || master;
		}
	}
	g_free(out);
	if (known && fabs(off_ms) * LS_NS_PER_MS > (double)s->cc->max_offset_ns)
		synced = false;
	g_mutex_lock(&s->lock);
	s->daemon_known = known;
	s->daemon_offset_ms = off_ms;
	snprintf(s->daemon, sizeof s->daemon, "%s", daemon);
	if (known)
		s->last_obs_mono = ls_monotonic_ns();
	g_mutex_unlock(&s->lock);
	if (known)
		ls_time_set_synced(synced);
}

/* One look at the reference: the offset, and whether it is synced. */
static void poll_ref(struct ls_clock_service *s)
{
	if (s->ref_bus) {
		GstMessage *m;
		while ((m = gst_bus_pop(s->ref_bus))) {
			const GstStructure *st = gst_message_get_structure(m);
			if (st && gst_structure_has_name(st, "gst-netclock-statistics")) {
				GstClockTime rtt = 0;
				g_mutex_lock(&s->lock);
				s->last_obs_mono = ls_monotonic_ns();
				if (gst_structure_get_clock_time(st, "rtt-average", &rtt))
					s->rtt_ms = (double)rtt / 1e6;
				g_mutex_unlock(&s->lock);
			}
			gst_message_unref(m);
		}
	}
	int64_t mono = ls_monotonic_ns();
	g_mutex_lock(&s->lock);
	bool fresh = s->last_obs_mono && mono - s->last_obs_mono < STALE_NS;
	g_mutex_unlock(&s->lock);
	bool synced = gst_clock_is_synced(s->ref) && fresh;
	int64_t offset = 0, est = 0;
	if (synced) {
		/* the reference read between two readings of CLOCK_REALTIME, at
		 * their middle; a reading the scheduler cut in two (over 20 µs
		 * apart) is taken again */
		int64_t best_span = INT64_MAX;
		for (int i = 0; i < 5 && best_span > 20 * LS_NS_PER_US; i++) {
			int64_t a = ls_realtime_raw_ns();
			int64_t ref = (int64_t)gst_clock_get_time(s->ref) - s->epoch_shift;
			int64_t b = ls_realtime_raw_ns();
			if (b - a < best_span) {
				best_span = b - a;
				est = ref - (a + (b - a) / 2);
			}
		}
		/* Before the first sync: ten estimates (0.5 s) within 1 ms of each
		 * other, so a reference still settling is not taken. After it:
		 * an estimate over 10 ms from the applied offset is held back,
		 * and followed (one line) only when it persists for 1 s. */
		if (!s->stable) {
			s->warm[s->nwarm++ % 10] = est;
			int64_t lo = INT64_MAX, hi = INT64_MIN;
			for (unsigned i = 0; i < 10 && i < s->nwarm; i++) {
				lo = s->warm[i] < lo ? s->warm[i] : lo;
				hi = s->warm[i] > hi ? s->warm[i] : hi;
			}
			if (s->nwarm >= 10 && hi - lo < LS_NS_PER_MS) {
				s->stable = true;
				s->nest = 0;
			} else {
				synced = false;
			}
		} else if (s->nest && llabs(est - ls_time_offset()) > 10 * LS_NS_PER_MS) {
			if (++s->jumps < 20) {
				synced = s->synced; /* as it was; the offset stays */
				offset = ls_time_offset();
				goto held;
			}
			g_printerr("[clock] %s: the reference moved %+.3f ms and stayed there 1 s: following it\n",
				   s->what, (double)(est - ls_time_offset()) / 1e6);
			s->nest = 0;
			s->jumps = 0;
		} else {
			s->jumps = 0;
		}
	}
	if (synced) {
		/* the median of the last 5 estimates: one odd reading moves nothing */
		s->est[s->nest++ % 5] = est;
		unsigned k = s->nest < 5 ? s->nest : 5;
		int64_t sorted[5];
		memcpy(sorted, s->est, sizeof sorted);
		for (unsigned i = 1; i < k; i++)
			for (unsigned j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
				int64_t t = sorted[j];
				sorted[j] = sorted[j - 1];
				sorted[j - 1] = t;
			}
		offset = sorted[k / 2];
		/* GstPtpClock keeps the grandmaster's timescale: PTP's is TAI,
		 * whole seconds (37 in 2026) ahead of UTC, which GStreamer does
		 * not take out. An offset that is a whole number of seconds
		 * between 10 and 100 is that, not a clock 37 s wrong. */
		if (s->cc->source == LS_CLOCK_PTP && !s->tai_checked) {
			int64_t secs = (offset + LS_NS_PER_SEC / 2) / LS_NS_PER_SEC;
			int64_t frac = offset - secs * LS_NS_PER_SEC;
			if (secs >= 10 && secs <= 100 && frac > -LS_NS_PER_SEC / 4 && frac < LS_NS_PER_SEC / 4) {
				s->epoch_shift = secs * LS_NS_PER_SEC;
				g_printerr(
					"[clock] %s: the grandmaster's time is TAI, %lld s ahead of UTC: taken out\n",
					s->what, (long long)secs);
				offset -= s->epoch_shift;
				for (unsigned i = 0; i < 5; i++)
					s->est[i] -= s->epoch_shift;
			}
			s->tai_checked = true;
		}
		ls_time_set_offset(offset);
	} else {
		s->nest = 0;
		s->jumps = 0;
	}
held:
	g_mutex_lock(&s->lock);
	if (synced) {
		s->offset_ns = offset;
		s->offsets[s->noff++ % JITTER_N] = offset;
	}
	if (s->synced && !synced) {
		s->losses++;
		s->unsynced_since_mono = mono;
		g_printerr(
			"[clock] %s: sync lost (no answer for %.1f s); frames are marked unsynced until it is back\n",
			s->what, (double)(mono - s->last_obs_mono) / 1e9);
	} else if (!s->synced && synced && s->unsynced_since_mono) {
		s->unsynced_total_s += (double)(mono - s->unsynced_since_mono) / 1e9;
		s->unsynced_since_mono = 0;
		g_printerr("[clock] %s: synced again, offset %+.3f ms\n", s->what, (double)offset / 1e6);
	}
	s->synced = synced;
	g_cond_broadcast(&s->cond);
	g_mutex_unlock(&s->lock);
	ls_time_set_synced(synced);
}

static gpointer clock_main(gpointer data)
{
	struct ls_clock_service *s = data;
	int64_t next_daemon = 0;
	while (!atomic_load(&s->stop)) {
		if (s->ref) {
			poll_ref(s);
		} else if (ls_monotonic_ns() >= next_daemon) {
			read_daemon(s);
			next_daemon = ls_monotonic_ns() + 10 * LS_NS_PER_SEC;
		}
		/* the offset as applied now, for the second's min/mean/max */
		int64_t applied = ls_time_offset();
		g_mutex_lock(&s->lock);
		if (!s->sec_n || applied < s->sec_min)
			s->sec_min = applied;
		if (!s->sec_n || applied > s->sec_max)
			s->sec_max = applied;
		s->sec_sum += applied;
		s->sec_n++;
		if (!atomic_load(&s->stop))
			g_cond_wait_until(&s->cond, &s->lock, g_get_monotonic_time() + POLL_NS / 1000);
		g_mutex_unlock(&s->lock);
	}
	return NULL;
}

static const char *source_name(enum ls_clock_source src)
{
	static const char *const n[] = { "system", "ptp", "ntp", "net" };
	return n[src];
}

struct ls_clock_service *ls_clock_service_start(const struct ls_clock_config *cc, char **err)
{
	struct ls_clock_service *s = g_new0(struct ls_clock_service, 1);
	s->cc = cc;
	g_mutex_init(&s->lock);
	g_cond_init(&s->cond);
	const char *t = g_getenv("LOCKSTEP_TEST_CLOCK_OFFSET_MS");
	if (t && *t) {
		char *end = NULL;
		double ms = g_ascii_strtod(t, &end);
		if (end == t || *end || fabs(ms) > 3.6e6) {
			*err = g_strdup_printf("LOCKSTEP_TEST_CLOCK_OFFSET_MS=%s: expected milliseconds", t);
			g_free(s);
			return NULL;
		}
		s->test_offset_ns = (int64_t)llround(ms * 1e6);
		g_printerr("[clock] test hook: this host's clock reads %+.3f ms off\n", ms);
	}
	ls_time_set_offset(s->test_offset_ns);
	ls_time_set_synced(true);

	switch (cc->source) {
	case LS_CLOCK_SYSTEM:
		s->what = g_strdup("system");
		break;
	case LS_CLOCK_PTP: {
		s->what = g_strdup_printf("ptp domain %d", cc->domain);
		char **ifs = cc->interfaces ? g_strsplit(cc->interfaces, ",", -1) : NULL;
		for (char **p = ifs; p && *p; p++)
			g_strstrip(*p);
		gboolean ok = gst_ptp_init(GST_PTP_CLOCK_ID_NONE, ifs);
		g_strfreev(ifs);
		if (!ok) {
			*err = g_strdup_printf(
				"[clock] source = ptp: GStreamer's PTP helper (gst-ptp-helper) did not start: "
				"it needs the capabilities to bind ports 319 and 320 (root, or setcap)");
			goto fail;
		}
		ptp_owner = s;
		s->ptp_stats = gst_ptp_statistics_callback_add(on_ptp_stats, s, NULL);
		s->ref = gst_ptp_clock_new("lockstep-ptp", (guint)cc->domain);
		break;
	}
	case LS_CLOCK_NTP:
	case LS_CLOCK_NET:
		s->what = g_strdup_printf("%s %s", source_name(cc->source), cc->server);
		/* GstNtpClock counts from 1900, as NTP does */
		if (cc->source == LS_CLOCK_NTP)
			s->epoch_shift = INT64_C(2208988800) * LS_NS_PER_SEC;
		s->ref = cc->source == LS_CLOCK_NTP ? gst_ntp_clock_new("lockstep-ntp", cc->host, cc->port, 0)
						    : gst_net_client_clock_new("lockstep-net", cc->host, cc->port, 0);
		if (s->ref) {
			s->ref_bus = gst_bus_new();
			/* an observation every 50 ms; one whose round trip took
			 * over 10 ms (a loaded host, a queue) is not used */
			g_object_set(s->ref, "bus", s->ref_bus, "minimum-update-interval", (guint64)(50 * GST_MSECOND),
				     "round-trip-limit", (guint64)(10 * GST_MSECOND), NULL);
		}
		break;
	}
	if (cc->source != LS_CLOCK_SYSTEM && !s->ref) {
		*err = g_strdup_printf("[clock] %s: GStreamer could not make the clock", s->what);
		goto fail;
	}
	if (cc->provide) {
		s->rig_clock = g_object_new(LS_TYPE_RIG_CLOCK, "name", "lockstep-rig", NULL);
		s->provider = gst_net_time_provider_new(s->rig_clock, cc->provide_host, cc->provide_port);
		if (!s->provider) {
			*err = g_strdup_printf("[clock] provide = %s: cannot serve the clock there (the port in use?)",
					       cc->provide);
			goto fail;
		}
		g_printerr("[clock] serving this rig's clock on %s:%d (source = net rigs)\n", cc->provide_host,
			   cc->provide_port);
	}
	s->thread = g_thread_new("clock", clock_main, s);
	if (s->ref) {
		/* the first sync, for a while: slots computed before it would be off */
		int64_t until = g_get_monotonic_time() + cc->sync_wait_ns / 1000;
		g_mutex_lock(&s->lock);
		while (!s->synced && g_get_monotonic_time() < until)
			g_cond_wait_until(&s->cond, &s->lock, until);
		bool synced = s->synced;
		int64_t off = s->offset_ns;
		if (!synced)
			s->unsynced_since_mono = ls_monotonic_ns();
		g_mutex_unlock(&s->lock);
		if (synced)
			g_printerr("[clock] %s: synced, offset %+.3f ms from this host's clock\n", s->what,
				   (double)(off - s->test_offset_ns) / 1e6);
		else
			g_printerr("[clock] %s: no sync after %.0f s; the rig runs, its frames marked unsynced until "
				   "it comes\n",
				   s->what, (double)cc->sync_wait_ns / 1e9);
	}
	return s;
fail:
	ls_clock_service_stop(&s);
	return NULL;
}

void ls_clock_service_stats_json(struct ls_clock_service *s, GString *j)
{
	g_mutex_lock(&s->lock);
	g_string_append_printf(j, "\"clock\":{\"source\":\"%s\"", source_name(s->cc->source));
	if (s->cc->server) {
		g_string_append(j, ",\"server\":\"");
		g_string_append(j, s->cc->server);
		g_string_append_c(j, '"');
	}
	bool synced = s->ref ? s->synced : ls_time_synced();
	if (s->ref || s->daemon_known)
		g_string_append_printf(j, ",\"synced\":%s", synced ? "true" : "false");
	else
		g_string_append(j, ",\"synced\":null");
	if (s->ref) {
		/* the correction of this host's clock, and how much it moved */
		double mean = 0, var = 0;
		unsigned n = s->noff < JITTER_N ? s->noff : JITTER_N;
		for (unsigned i = 0; i < n; i++)
			mean += (double)s->offsets[i] / n;
		for (unsigned i = 0; i < n; i++)
			var += ((double)s->offsets[i] - mean) * ((double)s->offsets[i] - mean) / (n > 1 ? n - 1 : 1);
		g_string_append_printf(j, ",\"offset_ms\":%.4f,\"jitter_us\":%.1f,\"rtt_ms\":%.3f",
				       (double)(s->offset_ns - s->test_offset_ns) / 1e6, sqrt(var) / 1e3, s->rtt_ms);
	} else if (s->daemon_known) {
		g_string_append_printf(j, ",\"daemon\":\"%s\",\"offset_ms\":%.4f", s->daemon, s->daemon_offset_ms);
	}
	double unsynced = s->unsynced_total_s +
			  (s->unsynced_since_mono ? (double)(ls_monotonic_ns() - s->unsynced_since_mono) / 1e9 : 0);
	g_string_append_printf(j, ",\"sync_losses\":%llu,\"unsynced_s\":%.3f", (unsigned long long)s->losses, unsynced);
	if (s->test_offset_ns)
		g_string_append_printf(j, ",\"test_offset_ms\":%.3f", (double)s->test_offset_ns / 1e6);
	/* the rig's clock minus CLOCK_REALTIME over the second (every 50 ms):
	 * on hosts that share a kernel (the tests' namespaces) CLOCK_REALTIME
	 * is one truth, and this is each rig's error against it */
	if (s->sec_n)
		g_string_append_printf(j, ",\"realtime_offset_us\":{\"mean\":%.1f,\"min\":%.1f,\"max\":%.1f}",
				       (double)s->sec_sum / s->sec_n / 1e3, (double)s->sec_min / 1e3,
				       (double)s->sec_max / 1e3);
	s->sec_n = 0;
	s->sec_sum = 0;
	g_string_append_c(j, '}');
	g_mutex_unlock(&s->lock);
}

void ls_clock_service_stop(struct ls_clock_service **ps)
{
	struct ls_clock_service *s = ps ? *ps : NULL;
	if (!s)
		return;
	*ps = NULL;
	if (s->thread) {
		g_mutex_lock(&s->lock);
		atomic_store(&s->stop, true);
		g_cond_broadcast(&s->cond);
		g_mutex_unlock(&s->lock);
		g_thread_join(s->thread);
	}
	if (s->ptp_stats)
		gst_ptp_statistics_callback_remove(s->ptp_stats);
	if (ptp_owner == s)
		ptp_owner = NULL;
	if (s->provider)
		gst_object_unref(s->provider);
	if (s->rig_clock)
		gst_object_unref(s->rig_clock);
	if (s->ref)
		gst_object_unref(s->ref);
	if (s->ref_bus)
		gst_object_unref(s->ref_bus);
	g_free(s->what);
	g_mutex_clear(&s->lock);
	g_cond_clear(&s->cond);
	g_free(s);
}
