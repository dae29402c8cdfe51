/* Unit tests of the small core modules: ring, frame pool, frameset queue,
 * percentiles and histograms, the test-camera model and the schedule runner. */
#include <errno.h>
#include <glib.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ls_canary.h"
#include "ls_frame.h"
#include "ls_logq.h"
#include "ls_frameset.h"
#include "ls_sched.h"
#include "ls_aligner.h"
#include "ls_setq.h"
#include "ls_spsc.h"
#include "ls_stats.h"
#include "ls_testcam.h"

#define MS LS_NS_PER_MS
#define SEC LS_NS_PER_SEC

static void test_spsc_basic(void)
{
	struct ls_spsc *r = ls_spsc_new(5);
	g_assert_nonnull(r);
	g_assert_cmpuint(ls_spsc_capacity(r), ==, 8);
	g_assert_null(ls_spsc_pop(r));
	for (uintptr_t i = 1; i <= 8; i++)
		g_assert_true(ls_spsc_push(r, (void *)i));
	g_assert_false(ls_spsc_push(r, (void *)9)); /* full: refused, not overwritten */
	g_assert_cmpuint(ls_spsc_count(r), ==, 8);
	for (uintptr_t i = 1; i <= 8; i++)
		g_assert_cmpuint((uintptr_t)ls_spsc_pop(r), ==, i);
	g_assert_null(ls_spsc_pop(r));
	ls_spsc_free(&r);
	g_assert_null(r);
}

#define STRESS_N 2000000u
static void *spsc_producer(void *arg)
{
	struct ls_spsc *r = arg;
	for (uintptr_t i = 1; i <= STRESS_N;)
		if (ls_spsc_push(r, (void *)i))
			i++;
	return NULL;
}

static void test_spsc_threads(void)
{
	struct ls_spsc *r = ls_spsc_new(64);
	pthread_t t;
	pthread_create(&t, NULL, spsc_producer, r);
	uintptr_t expect = 1;
	while (expect <= STRESS_N) {
		void *p = ls_spsc_pop(r);
		if (p) {
			g_assert_cmpuint((uintptr_t)p, ==, expect); /* in order, none lost or torn */
			expect++;
		}
	}
	pthread_join(t, NULL);
	ls_spsc_free(&r);
}

static int released;
static void count_release(void *opaque)
{
	g_assert_true(opaque == &released);
	released++;
}

static void test_frame_pool(void)
{
	struct ls_frame_pool *p = ls_frame_pool_new(3);
	struct ls_frame *f[3];
	for (int i = 0; i < 3; i++) {
		f[i] = ls_frame_pool_acquire(p);
		g_assert_nonnull(f[i]);
		f[i]->release = count_release;
		f[i]->opaque = &released;
	}
	g_assert_null(ls_frame_pool_acquire(p));
	g_assert_cmpint(errno, ==, EAGAIN);
	g_assert_cmpuint(ls_frame_pool_in_use(p), ==, 3);
	struct ls_frame *extra = ls_frame_ref(f[1]);
	released = 0;
	ls_frame_unref(&f[1]);
	g_assert_null(f[1]);
	g_assert_cmpint(released, ==, 0); /* still referenced */
	ls_frame_unref(&extra);
	g_assert_cmpint(released, ==, 1);
	struct ls_frame *g = ls_frame_pool_acquire(p);
	g_assert_nonnull(g);
	g_assert_cmpint(atomic_load(&g->refcount), ==, 1);
	g_assert_null(g->release); /* cleared */
	/* the owner lets go first: outstanding frames keep the pool alive */
	ls_frame_pool_unref(&p);
	g_assert_null(p);
	ls_frame_unref(&f[0]);
	ls_frame_unref(&f[2]);
	ls_frame_unref(&g);
	ls_frame_unref(&g); /* NULL-safe */
	g_assert_cmpint(released, ==, 3);
	g_assert_null(ls_frame_pool_new(0));
}

static void *unref_all(void *arg)
{
	GPtrArray *a = arg;
	for (guint i = 0; i < a->len; i++) {
		struct ls_frame *f = g_ptr_array_index(a, i);
		ls_frame_unref(&f);
	}
	return NULL;
}

/* Frames acquired on one thread and released on another, many times over:
 * the pool never hands out a frame twice. */
static void test_frame_pool_cross_thread(void)
{
	struct ls_frame_pool *p = ls_frame_pool_new(32);
	for (int round = 0; round < 2000; round++) {
		GPtrArray *a = g_ptr_array_new();
		struct ls_frame *f;
		while ((f = ls_frame_pool_acquire(p))) {
			g_assert_cmpint(f->width, ==, 0);
			f->width = 1;
			g_ptr_array_add(a, f);
		}
		g_assert_cmpuint(a->len, >=, 1);
		pthread_t t;
		pthread_create(&t, NULL, unref_all, a);
		pthread_join(t, NULL);
		g_ptr_array_free(a, TRUE);
	}
	g_assert_cmpuint(ls_frame_pool_in_use(p), ==, 0);
	ls_frame_pool_unref(&p);
}

static void test_pixfmt(void)
{
	uint8_t buf[64 * 48 * 4];
	struct ls_frame f = { 0 };
	g_assert_cmpuint(ls_pixfmt_size(LS_FMT_I420, 64, 48), ==, 64 * 48 * 3 / 2);
	g_assert_cmpuint(ls_pixfmt_size(LS_FMT_I420, 5, 3), ==, 15 + 2 * 3 * 2);
	g_assert_cmpuint(ls_pixfmt_size(LS_FMT_BGRX, 5, 3), ==, 60);
	g_assert_cmpint(ls_frame_set_packed(&f, LS_FMT_I420, 64, 48, buf), ==, 0);
	g_assert_true(f.planes[1] == buf + 64 * 48);
	g_assert_true(f.planes[2] == buf + 64 * 48 + 32 * 24);
	g_assert_cmpint(f.strides[1], ==, 32);
	g_assert_cmpint(ls_frame_set_packed(&f, LS_FMT_NV12, 64, 48, buf), ==, 0);
	g_assert_cmpint(f.nplanes, ==, 2);
	g_assert_cmpint(ls_frame_set_packed(&f, LS_FMT_UNKNOWN, 64, 48, buf), ==, -EINVAL);
	g_assert_cmpstr(ls_pixfmt_name(LS_FMT_I420), ==, "I420");
}

static void keep_set(struct ls_frameset *s, void *user) { g_ptr_array_add(user, s); }

static void test_setq(void)
{
	/* framesets come from a tiny aligner emitting empty slots */
	GPtrArray *made = g_ptr_array_new();
	struct ls_aligner_config cfg = { .ncams = 1, .rate = { 10, 1 }, .max_latency_ns = 50 * MS };
	struct ls_aligner *al = ls_aligner_new(&cfg, keep_set, made);
	ls_aligner_start(al, 0);
	for (int64_t t = 0; t <= SEC; t += 10 * MS)
		ls_aligner_poll(al, t); /* one empty set per 100 ms slot */
	g_assert_cmpuint(made->len, ==, 10);
	struct ls_setq *q = ls_setq_new(3);
	int dropped = 0;
	for (guint i = 0; i < 6; i++)
		dropped += ls_setq_push(q, g_ptr_array_index(made, i));
	g_assert_cmpint(dropped, ==, 3);
	g_assert_cmpuint(ls_setq_dropped(q), ==, 3);
	g_assert_cmpuint(ls_setq_count(q), ==, 3);
	struct ls_frameset *s = ls_setq_pop(q, 0);
	g_assert_true(s == g_ptr_array_index(made, 3)); /* the oldest kept is the 4th */
	ls_frameset_unref(&s);
	/* a timed pop on an empty queue times out */
	for (int i = 0; i < 2; i++) {
		s = ls_setq_pop(q, 0);
		g_assert_nonnull(s);
		ls_frameset_unref(&s);
	}
	int64_t t0 = ls_monotonic_ns();
	g_assert_null(ls_setq_pop(q, t0 + 20 * MS));
	g_assert_cmpint(ls_monotonic_ns() - t0, >=, 19 * MS);
	ls_setq_close(q);
	g_assert_true(ls_setq_closed(q));
	g_assert_null(ls_setq_pop(q, INT64_MAX)); /* closed: no wait */
	for (guint i = 6; i < made->len; i++) {
		struct ls_frameset *x = g_ptr_array_index(made, i);
		ls_setq_push(q, x); /* freed with the queue */
	}
	ls_setq_free(&q);
	ls_aligner_free(&al);
	g_ptr_array_free(made, TRUE);
}

static void test_pctl(void)
{
	struct ls_pctl p;
	int64_t a, b, c;
	g_assert_cmpint(ls_pctl_init(&p, 1000), ==, 0);
	ls_pctl_get(&p, &a, &b, &c);
	g_assert_cmpint(a + b + c, ==, 0);
	for (int i = 100; i >= 1; i--)
		ls_pctl_add(&p, i);
	ls_pctl_get(&p, &a, &b, &c);
	g_assert_cmpint(a, ==, 50);
	g_assert_cmpint(b, ==, 99);
	g_assert_cmpint(c, ==, 100);
	ls_pctl_reset(&p);
	/* beyond capacity: reservoir keeps a fair sample, max stays exact */
	for (int i = 0; i < 100000; i++)
		ls_pctl_add(&p, i % 1000);
	ls_pctl_add(&p, 5000);
	ls_pctl_get(&p, &a, &b, &c);
	g_assert_cmpint(a, >, 400);
	g_assert_cmpint(a, <, 600);
	g_assert_cmpint(b, >, 970);
	g_assert_cmpint(c, ==, 5000);
	ls_pctl_clear(&p);
}

/* ls_hist: bucket edges (le is inclusive), +Inf, cumulative reads, the
 * JSON shape, bad bounds, and adds from several threads at once. */
static const int64_t hist_le[] = { 10, 100, 1000 };

static void test_hist(void)
{
	struct ls_hist h;
	static const int64_t bad[] = { 10, 10 };
	g_assert_cmpint(ls_hist_init(&h, bad, 2), ==, -EINVAL);
	g_assert_cmpint(ls_hist_init(&h, hist_le, 0), ==, -EINVAL);
	g_assert_cmpint(ls_hist_init(&h, hist_le, LS_HIST_MAX + 1), ==, -EINVAL);
	g_assert_cmpint(ls_hist_init(&h, hist_le, 3), ==, 0);
	uint64_t cum[4];
	int64_t sum;
	ls_hist_read(&h, cum, &sum);
	g_assert_cmpuint(cum[3], ==, 0);
	g_assert_cmpint(sum, ==, 0);
	/* -5 and 10 in le=10; 11 and 100 in le=100; 5000 only in +Inf */
	const int64_t v[] = { -5, 10, 11, 100, 5000 };
	for (unsigned i = 0; i < G_N_ELEMENTS(v); i++)
		ls_hist_add(&h, v[i]);
	ls_hist_read(&h, cum, &sum);
	g_assert_cmpuint(cum[0], ==, 2);
	g_assert_cmpuint(cum[1], ==, 4);
	g_assert_cmpuint(cum[2], ==, 4);
	g_assert_cmpuint(cum[3], ==, 5);
	g_assert_cmpint(sum, ==, 5116);

	char buf[256];
	int n = ls_hist_json(&h, "us", 1000, buf, sizeof buf);
	g_assert_cmpint(n, ==, (int)strlen(buf));
	g_assert_cmpstr(buf, ==, "{\"le_us\":[0.01,0.1,1],\"counts\":[2,4,4,5],\"sum_us\":5.116,\"count\":5}");
	/* too small a buffer: truncated, and says how much it needed */
	char small[8];
	g_assert_cmpint(ls_hist_json(&h, "us", 1000, small, sizeof small), ==, n);
	g_assert_cmpuint(strlen(small), ==, sizeof small - 1);
}

static gpointer hist_adder(gpointer data)
{
	for (int i = 0; i < 100000; i++)
		ls_hist_add(data, i % 2000);
	return NULL;
}

static void test_hist_threads(void)
{
	struct ls_hist h;
	g_assert_cmpint(ls_hist_init(&h, hist_le, 3), ==, 0);
	GThread *t[4];
	for (unsigned i = 0; i < G_N_ELEMENTS(t); i++)
		t[i] = g_thread_new("hist", hist_adder, &h);
	/* a reader meanwhile never sees a bucket above the next one */
	for (int k = 0; k < 1000; k++) {
		uint64_t cum[4];
		int64_t sum;
		ls_hist_read(&h, cum, &sum);
		for (unsigned i = 1; i < 4; i++)
			g_assert_cmpuint(cum[i - 1], <=, cum[i]);
	}
	for (unsigned i = 0; i < G_N_ELEMENTS(t); i++)
		g_thread_join(t[i]);
	uint64_t cum[4];
	int64_t sum;
	ls_hist_read(&h, cum, &sum);
	g_assert_cmpuint(cum[3], ==, 400000);
	g_assert_cmpuint(cum[0], ==, 4 * 50 * 11); /* 0..10 of every 2000 */
	g_assert_cmpint(sum, ==, 4 * 50 * (int64_t)(1999 * 2000 / 2));
}

static void test_testcam(void)
{
	struct ls_testcam_params p = { .fps = { 30, 1 }, .epoch_ns = 0, .offset_ns = 5 * MS };
	struct ls_testcam cam;
	int64_t start = 1000 * SEC + 7 * MS, fire, stamp, prev = 0;
	ls_testcam_init(&cam, &p, start);
	/* no drift, no jitter: on the camera's grid, epoch + offset + kT */
	for (int i = 0; i < 100; i++) {
		g_assert_true(ls_testcam_next(&cam, &fire, &stamp));
		g_assert_cmpint(fire, >=, start);
		g_assert_cmpint(fire, ==, stamp);
		int64_t k = ls_slot_index(fire, 0, 5 * MS, p.fps);
		g_assert_cmpint(fire - 5 * MS - ls_slot_time(k, 0, p.fps), ==, 0);
		if (i)
			g_assert_cmpint(fire - prev, >=, 33333333);
		prev = fire;
	}
	/* +100 ppm: 30000 frames take 1000 s less 100 ms */
	p.drift_ppm = 100;
	ls_testcam_init(&cam, &p, start);
	int64_t first;
	ls_testcam_next(&cam, &first, &stamp);
	for (int i = 1; i < 30000; i++)
		ls_testcam_next(&cam, &fire, &stamp);
	int64_t span = fire - first, ideal = ls_slot_time(29999, 0, p.fps);
	g_assert_cmpint(ideal - span, >, 99 * MS);
	g_assert_cmpint(ideal - span, <, 101 * MS);
	/* jitter within bounds, drops near their probability, deterministic */
	p.drift_ppm = 0;
	p.jitter_ns = 2 * MS;
	p.drop = 0.25;
	p.seed = 42;
	ls_testcam_init(&cam, &p, start);
	int kept = 0;
	int64_t maxj = 0;
	for (int i = 0; i < 10000; i++) {
		if (ls_testcam_next(&cam, &fire, &stamp))
			kept++;
		int64_t j = stamp - fire;
		g_assert_cmpint(j, <=, 2 * MS);
		g_assert_cmpint(j, >=, -2 * MS);
		maxj = MAX(maxj, j);
	}
	g_assert_cmpint(maxj, >, 1900000);
	g_assert_cmpint(kept, >, 7200);
	g_assert_cmpint(kept, <, 7800);
	struct ls_testcam again;
	ls_testcam_init(&again, &p, start);
	ls_testcam_init(&cam, &p, start);
	for (int i = 0; i < 100; i++) {
		int64_t f2, s2;
		bool k1 = ls_testcam_next(&cam, &fire, &stamp), k2 = ls_testcam_next(&again, &f2, &s2);
		g_assert_true(k1 == k2);
		g_assert_cmpint(stamp, ==, s2);
	}
}

/* Checks the plumbing of the schedule runner (counts, ordering of the
 * percentiles), not its timing: timing belongs to bench/. */
static void test_sched_plumbing(void)
{
	struct ls_sched_opts o = { .threads = 3, .rate = { 100, 1 }, .seconds = 0.1 };
	struct ls_sched_result r;
	g_assert_cmpint(ls_sched_bench(&o, &r), ==, 0);
	g_assert_cmpuint(r.slots, ==, 10);
	g_assert_cmpint(r.skew_p50_ns, >=, 0);
	g_assert_cmpint(r.skew_p50_ns, <=, r.skew_p99_ns);
	g_assert_cmpint(r.skew_p99_ns, <=, r.skew_max_ns);
	g_assert_cmpint(r.late_p50_ns, >=, 0); /* nobody wakes before its target */
	o.threads = 0;
	g_assert_cmpint(ls_sched_bench(&o, &r), ==, -EINVAL);
}

/* ls_frameset pool: bounded, sets come back on their last unref, and sets
 * still out keep the pool after its creator let go. */
static void test_frameset_pool(void)
{
	struct ls_frameset_pool *p = ls_frameset_pool_new(2, 3);
	g_assert_nonnull(p);
	struct ls_frameset *a = ls_frameset_pool_acquire(p), *b = ls_frameset_pool_acquire(p);
	g_assert_nonnull(a);
	g_assert_nonnull(b);
	g_assert_true(a != b);
	g_assert_null(ls_frameset_pool_acquire(p)); /* both held: none free */
	g_assert_cmpuint(a->ncams, ==, 3);
	g_assert_cmpint(a->entries[2].state, ==, LS_ENTRY_MISSING);
	g_assert_null(a->entries[2].frame);
	struct ls_frameset *a2 = ls_frameset_ref(a);
	g_assert_true(a2 == a);
	ls_frameset_unref(&a);
	g_assert_null(a);
	g_assert_null(ls_frameset_pool_acquire(p)); /* a2 still holds it */
	ls_frameset_unref(&a2);
	ls_frameset_unref(&b);
	struct ls_frameset *c = ls_frameset_pool_acquire(p);
	g_assert_nonnull(c);
	g_assert_cmpint(c->n, ==, 0); /* cleared for its new slot */
	ls_frameset_pool_unref(&p);
	g_assert_null(p);
	c->n = 7; /* valid after the creator's unref */
	ls_frameset_unref(&c);
	ls_frameset_pool_unref(&p); /* NULL-safe */
}

/* The canary policy: shown one period after the first frame, judged pass
 * as soon as it is caught, unverified or fail only after the timeout; a
 * fail holds until a later verdict; the next one comes a period after. */
static void test_canary(void)
{
	const int64_t S = 1000000000;
	struct ls_canary c;
	ls_canary_init(&c, 0, 5 * S);
	g_assert_false(ls_canary_show(&c, 100 * S)); /* off */
	g_assert_cmpint(ls_canary_judge(&c, 200 * S, false, false, NULL), ==, LS_CANARY_WAITING);

	ls_canary_init(&c, 10 * S, 5 * S);
	g_assert_false(ls_canary_show(&c, 100 * S)); /* schedules the first at 110 s */
	g_assert_false(ls_canary_show(&c, 109 * S));
	g_assert_false(ls_canary_due(&c, 109 * S, true)); /* not shown: nothing to judge */
	g_assert_true(ls_canary_show(&c, 110 * S));
	g_assert_true(ls_canary_show(&c, 111 * S)); /* stays until judged */
	g_assert_false(ls_canary_due(&c, 112 * S, false));
	int64_t age = -1;
	g_assert_cmpint(ls_canary_judge(&c, 112 * S, false, true, &age), ==, LS_CANARY_WAITING);
	g_assert_true(ls_canary_due(&c, 112 * S, true));
	g_assert_cmpint(ls_canary_judge(&c, 112 * S, true, false, &age), ==, LS_CANARY_PASS);
	g_assert_cmpint(age, ==, 2 * S);
	g_assert_false(ls_canary_failed(&c));
	g_assert_false(ls_canary_show(&c, 121 * S)); /* next at 122 s */
	g_assert_true(ls_canary_show(&c, 122 * S));
	/* never caught, shown in the clear: fail after the timeout, not before */
	g_assert_false(ls_canary_due(&c, 127 * S, false));
	g_assert_true(ls_canary_due(&c, 127 * S + 1, false));
	g_assert_cmpint(ls_canary_judge(&c, 127 * S + 1, false, false, &age), ==, LS_CANARY_FAIL);
	g_assert_true(ls_canary_failed(&c));
	g_assert_false(ls_canary_show(&c, 130 * S)); /* still failed between canaries */
	g_assert_true(ls_canary_failed(&c));
	/* covered but never read: unverified, which ends the fail */
	g_assert_true(ls_canary_show(&c, 137 * S + 1));
	g_assert_cmpint(ls_canary_judge(&c, 143 * S, false, true, NULL), ==, LS_CANARY_UNVERIFIED);
	g_assert_false(ls_canary_failed(&c));
	g_assert_cmpstr(ls_canary_verdict_name(LS_CANARY_UNVERIFIED), ==, "unverified");
	g_assert_cmpstr(ls_canary_verdict_name(LS_CANARY_FAIL), ==, "fail");
}

struct drain {
	int fd;
	GString *got;
};

static gpointer drain_main(gpointer data)
{
	struct drain *d = data;
	char buf[4096];
	ssize_t n;
	while ((n = read(d->fd, buf, sizeof buf)) > 0)
		g_string_append_len(d->got, buf, n);
	return NULL;
}

/* ls_logq: lines reach the file in order from their own thread; a writer
 * stuck on the disk never blocks a push: once the queue is full, lines are
 * dropped and counted; free writes what is queued. */
static void test_logq(void)
{
	int p[2];
	g_assert_cmpint(pipe(p), ==, 0);
	struct ls_logq *q = ls_logq_new(p[1], 3, "test log");
	g_assert_nonnull(q);
	/* a line larger than the pipe: the writer blocks in write() */
	char *big = g_malloc(200001);
	memset(big, 'x', 200000);
	big[199999] = '\n';
	big[200000] = '\0';
	g_assert_cmpint(ls_logq_push(q, big), ==, 0);
	for (int k = 0; k < 200 && ls_logq_push(q, g_strdup("probe\n")) == 0; k++)
		g_usleep(1000); /* until the writer holds the big line and the queue is full */
	g_assert_cmpuint(ls_logq_dropped(q), ==, 1);
	unsigned queued = 0; /* the probes that were queued before the drop */
	struct drain d = { p[0], g_string_new("") };
	GThread *t = g_thread_new("drain", drain_main, &d);
	ls_logq_free(&q);
	g_assert_null(q);
	g_thread_join(t);
	close(p[0]);
	g_assert_cmpuint(d.got->len, >=, 200000);
	for (const char *c = d.got->str + 200000; (c = strstr(c, "probe\n")); c += 6)
		queued++;
	g_assert_cmpuint(queued, >=, 1);
	g_assert_cmpuint(queued, <=, 3);
	g_assert_cmpuint(d.got->len, ==, 200000 + 6 * queued);
	g_string_free(d.got, TRUE);
	ls_logq_free(&q); /* NULL-safe */
	/* a write that fails is counted (a closed pipe: EPIPE, SIGPIPE ignored) */
	g_assert_cmpint(pipe(p), ==, 0);
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	q = ls_logq_new(p[1], 4, "test log");
	g_assert_cmpint(ls_logq_push(q, g_strdup("lost\n")), ==, 0);
	for (int k = 0; k < 2000 && !ls_logq_failed(q); k++)
		g_usleep(1000);
	g_assert_cmpuint(ls_logq_failed(q), ==, 1);
	ls_logq_free(&q);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/core/logq", test_logq);
	g_test_add_func("/core/canary", test_canary);
	g_test_add_func("/core/frameset-pool", test_frameset_pool);
	g_test_add_func("/core/spsc/basic", test_spsc_basic);
	g_test_add_func("/core/spsc/threads", test_spsc_threads);
	g_test_add_func("/core/frame/pool", test_frame_pool);
	g_test_add_func("/core/frame/pool-cross-thread", test_frame_pool_cross_thread);
	g_test_add_func("/core/frame/pixfmt", test_pixfmt);
	g_test_add_func("/core/setq", test_setq);
	g_test_add_func("/core/stats/percentiles", test_pctl);
	g_test_add_func("/core/stats/histogram", test_hist);
	g_test_add_func("/core/stats/histogram-threads", test_hist_threads);
	g_test_add_func("/core/testcam", test_testcam);
	g_test_add_func("/core/sched/plumbing", test_sched_plumbing);
	return g_test_run();
}
