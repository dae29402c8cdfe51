#include "shm_bench.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ls_stats.h"

#define NS_PER_S INT64_C(1000000000)
#define NS_PER_MS INT64_C(1000000)
#define LAT_CAP (1u << 20) /* latency samples kept exactly; reservoir beyond */
#define SETUP_TIMEOUT_NS (10 * NS_PER_S)
#define DRAIN_NS (300 * NS_PER_MS) /* the reader keeps going this long after the writer closed */
#define LATE_NS (5 * NS_PER_S)     /* ...and stops this long after the window whatever happens */
#define NO_SET UINT64_MAX

enum { ST_START = 0, ST_OPEN = 1, ST_DONE = 2, ST_FAILED = -1 };

/* The control block both processes map (MAP_SHARED | MAP_ANONYMOUS).
 * Written by the writer: writer_state, s0, s1, writer_done_ns, t_end.
 * Written by the reader: reader_state and, before reader_state = ST_DONE,
 * the results. */
struct sb_ctl {
	_Atomic int writer_state, reader_state;
	_Atomic uint64_t s0, s1; /* the measured sets are [s0, s1); NO_SET until known */
	_Atomic int64_t t_end;   /* CLOCK_MONOTONIC ns; 0 until known */
	_Atomic int64_t writer_done_ns;
	uint64_t delivered, torn, bad;
	int64_t p50, p99, max; /* ns */
	double reader_cpu;     /* user + system CPU / wall time of the reader process, 1 = one core */
	char note[512];
	char err[512];
};

struct sb_reader {
	struct sb_ctl *ctl;
	struct ls_pctl lat; /* ns, intact sets of the window only */
	uint64_t delivered, torn, bad;
	size_t note_len;
	char note[512];
};

int64_t sb_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

void sb_put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

uint64_t sb_get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

void sb_geom_get(const struct sb_opts *o, struct sb_geom *g)
{
	size_t w = o->width, h = o->height, cw = (w + 1) / 2, ch = (h + 1) / 2;
	g->width[0] = w, g->rows[0] = h;
	g->width[1] = g->width[2] = cw;
	g->rows[1] = g->rows[2] = ch;
	size_t off = 0;
	for (int p = 0; p < SB_PLANES; p++) {
		g->offset[p] = off;
		off += g->width[p] * g->rows[p];
	}
	g->frame_bytes = off;
	g->set_bytes = off * o->cams;
}

void sb_render_plane(const struct sb_opts *o, uint8_t *p, size_t stride, size_t width, size_t rows, uint64_t set)
{
	size_t n = o->full ? rows : 1;
	for (size_t y = 0; y < n; y++)
		memset(p + y * stride, (int)(set & 0xff), width);
	sb_put_u64(p + 8, set);
}

/* ---- reader side ------------------------------------------------------------ */

void sb_reader_ready(struct sb_reader *rd) { atomic_store(&rd->ctl->reader_state, ST_OPEN); }

bool sb_reader_done(const struct sb_reader *rd)
{
	int64_t now = sb_now_ns();
	int64_t t_end = atomic_load_explicit(&rd->ctl->t_end, memory_order_relaxed);
	int ws = atomic_load(&rd->ctl->writer_state);
	if (ws == ST_FAILED)
		return true;
	if (ws == ST_DONE && now - atomic_load(&rd->ctl->writer_done_ns) > DRAIN_NS)
		return true;
	return t_end && now - t_end > LATE_NS;
}

void sb_reader_record(struct sb_reader *rd, uint64_t set, int64_t pub_ns, int64_t wake_ns, enum sb_verdict v)
{
	/* the writer stores s0 before it publishes set s0: acquire pairs with it */
	uint64_t s0 = atomic_load_explicit(&rd->ctl->s0, memory_order_acquire);
	uint64_t s1 = atomic_load_explicit(&rd->ctl->s1, memory_order_acquire);
	if (s0 == NO_SET || set < s0 || set >= s1)
		return; /* warm-up, or past the window */
	if (v == SB_TORN) {
		rd->torn++;
	} else if (v == SB_BAD) {
		rd->bad++;
		fprintf(stderr, "BAD: set %llu: a plane carries another set number\n", (unsigned long long)set);
	} else {
		rd->delivered++;
		ls_pctl_add(&rd->lat, wake_ns - pub_ns);
	}
}

void sb_reader_note(struct sb_reader *rd, const char *fmt, ...)
{
	if (rd->note_len + 2 >= sizeof rd->note)
		return;
	if (rd->note_len)
		rd->note[rd->note_len++] = ' ';
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(rd->note + rd->note_len, sizeof rd->note - rd->note_len, fmt, ap);
	va_end(ap);
	if (n > 0)
		rd->note_len += (size_t)n < sizeof rd->note - rd->note_len ? (size_t)n
									   : sizeof rd->note - rd->note_len - 1;
}

/* user + system CPU seconds of this process so far */
static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * NS_PER_MS };
	nanosleep(&ts, NULL);
}

/* The child. Waits until the writer is open, runs the method's reader,
 * leaves its results in the control block. */
static int reader_child(const struct sb_opts *o, const struct sb_method *m, struct sb_ctl *ctl)
{
	int64_t t0 = sb_now_ns();
	while (atomic_load(&ctl->writer_state) == ST_START && sb_now_ns() - t0 < SETUP_TIMEOUT_NS)
		sleep_ms(1);
	if (atomic_load(&ctl->writer_state) != ST_OPEN) {
		snprintf(ctl->err, sizeof ctl->err, "reader: the writer never opened");
		atomic_store(&ctl->reader_state, ST_FAILED);
		return 1;
	}
	struct sb_reader rd = { .ctl = ctl };
	if (ls_pctl_init(&rd.lat, LAT_CAP) < 0) {
		snprintf(ctl->err, sizeof ctl->err, "reader: out of memory");
		atomic_store(&ctl->reader_state, ST_FAILED);
		return 1;
	}
	int rc = m->reader_run(o, &rd, ctl->err, sizeof ctl->err);
	if (rc < 0) {
		ls_pctl_clear(&rd.lat);
		atomic_store(&ctl->reader_state, ST_FAILED);
		return 1;
	}
	ls_pctl_get(&rd.lat, &ctl->p50, &ctl->p99, &ctl->max);
	ctl->delivered = rd.delivered;
	ctl->torn = rd.torn;
	ctl->bad = rd.bad;
	ctl->reader_cpu = cpu_s() / ((sb_now_ns() - t0) / 1e9);
	snprintf(ctl->note, sizeof ctl->note, "%s", rd.note);
	ls_pctl_clear(&rd.lat);
	atomic_store(&ctl->reader_state, ST_DONE);
	return rd.bad ? 1 : 0;
}

/* ---- writer side ------------------------------------------------------------ */

static void sleep_until(int64_t t_ns)
{
	struct timespec ts = { .tv_sec = t_ns / NS_PER_S, .tv_nsec = t_ns % NS_PER_S };
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* Waits for the child's state to leave ST_START (or the child to exit).
 * Returns the state; ST_FAILED if it exited or timed out. */
static int wait_reader(struct sb_ctl *ctl, pid_t child, int want)
{
	int64_t t0 = sb_now_ns();
	for (;;) {
		int st = atomic_load(&ctl->reader_state);
		if (st == want || st == ST_FAILED)
			return st;
		int status;
		if (waitpid(child, &status, WNOHANG) == child)
			return atomic_load(&ctl->reader_state) == want ? want : ST_FAILED;
		if (sb_now_ns() - t0 > SETUP_TIMEOUT_NS + LATE_NS)
			return ST_FAILED;
		sleep_ms(1);
	}
}

/* Publishes sets from now until the window ends; returns 0 or -errno. */
static int writer_loop(const struct sb_opts *o, const struct sb_method *m, void *w, struct sb_ctl *ctl, int64_t t_start,
		       int64_t t_end)
{
	int64_t period = o->rate_hz > 0 ? (int64_t)(1e9 / o->rate_hz + 0.5) : 0;
	int64_t t0 = sb_now_ns();
	uint64_t set = 0;
	int rc = 0;
	for (;; set++) {
		if (period) {
			int64_t due = t0 + (int64_t)set * period;
			int64_t now = sb_now_ns();
			if (now < due)
				sleep_until(due);
			else if (now - due > period)
				t0 = now - (int64_t)set * period; /* fell behind: no burst to catch up */
		}
		int64_t now = sb_now_ns();
		if (now >= t_end)
			break;
		if (now >= t_start && atomic_load_explicit(&ctl->s0, memory_order_relaxed) == NO_SET)
			atomic_store_explicit(&ctl->s0, set, memory_order_release);
		rc = m->writer_publish(w, set);
		if (rc < 0)
			break;
	}
	if (atomic_load(&ctl->s0) == NO_SET)
		atomic_store(&ctl->s0, set);
	atomic_store(&ctl->s1, set);
	return rc;
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [--rate HZ (0: unpaced)] [--seconds S] [--warmup S] [--cams N] [--width W] [--height H]\n"
		"          [--depth K] [--touch row|full] [--name NAME]\n"
		"          bench-shm: [--spin] [--floor]; bench-gstshm: [--alloc sys|shm]\n",
		prog);
}

static int parse(int argc, char **argv, struct sb_opts *o)
{
	*o = (struct sb_opts){
		.rate_hz = 30, .seconds = 10, .warmup_s = 1, .cams = 4, .width = 1920, .height = 1080, .depth = 4
	};
	snprintf(o->name, sizeof o->name, "lsbench-%d", (int)getpid());
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--spin")) {
			o->spin = true;
			continue;
		}
		if (!strcmp(a, "--floor")) {
			o->floor = true;
			continue;
		}
		if (!v)
			return -EINVAL;
		i++;
		if (!strcmp(a, "--rate"))
			o->rate_hz = atof(v);
		else if (!strcmp(a, "--seconds"))
			o->seconds = atof(v);
		else if (!strcmp(a, "--warmup"))
			o->warmup_s = atof(v);
		else if (!strcmp(a, "--cams"))
			o->cams = (unsigned)atoi(v);
		else if (!strcmp(a, "--width"))
			o->width = (unsigned)atoi(v);
		else if (!strcmp(a, "--height"))
			o->height = (unsigned)atoi(v);
		else if (!strcmp(a, "--depth"))
			o->depth = (unsigned)atoi(v);
		else if (!strcmp(a, "--touch") && (!strcmp(v, "row") || !strcmp(v, "full")))
			o->full = !strcmp(v, "full");
		else if (!strcmp(a, "--alloc") && (!strcmp(v, "sys") || !strcmp(v, "shm")))
			o->shm_alloc = !strcmp(v, "shm");
		else if (!strcmp(a, "--name"))
			snprintf(o->name, sizeof o->name, "%s", v);
		else
			return -EINVAL;
	}
	if (o->rate_hz < 0 || o->seconds <= 0 || o->warmup_s < 0 || o->cams < 1 || o->cams > SB_MAX_CAMS ||
	    o->width < 16 || o->height < 2 || o->depth < 2)
		return -EINVAL;
	return 0;
}

int sb_main(int argc, char **argv, const struct sb_method *m)
{
	struct sb_opts o;
	if (parse(argc, argv, &o) < 0) {
		usage(argv[0]);
		return 2;
	}
	struct sb_ctl *ctl = mmap(NULL, sizeof *ctl, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	atomic_store(&ctl->s0, NO_SET);
	atomic_store(&ctl->s1, NO_SET);
	fflush(NULL);
	pid_t child = fork();
	if (child < 0) {
		perror("fork");
		munmap(ctl, sizeof *ctl);
		return 1;
	}
	if (child == 0) {
		int st = reader_child(&o, m, ctl);
		if (st && ctl->err[0])
			fprintf(stderr, "%s: %s\n", m->name, ctl->err);
		fflush(NULL);
		_exit(st);
	}

	int status = 1;
	void *w = NULL;
	char err[512] = "", wnote[512] = "";
	int rc = m->writer_open(&o, &w, err, sizeof err);
	if (rc < 0) {
		fprintf(stderr, "%s: writer: %s\n", m->name, err);
		atomic_store(&ctl->writer_state, ST_FAILED);
		goto reap;
	}
	atomic_store(&ctl->writer_state, ST_OPEN);
	if (wait_reader(ctl, child, ST_OPEN) != ST_OPEN) {
		fprintf(stderr, "%s: the reader did not attach\n", m->name);
		m->writer_close(&w, wnote, sizeof wnote);
		atomic_store(&ctl->writer_state, ST_FAILED);
		goto reap;
	}
	int64_t t_start = sb_now_ns() + (int64_t)(o.warmup_s * 1e9);
	int64_t t_end = t_start + (int64_t)(o.seconds * 1e9);
	atomic_store(&ctl->t_end, t_end);
	double cpu0 = cpu_s();
	int64_t wall0 = sb_now_ns();
	rc = writer_loop(&o, m, w, ctl, t_start, t_end);
	double writer_cpu = (cpu_s() - cpu0) / ((sb_now_ns() - wall0) / 1e9); /* 1 = one core */
	m->writer_close(&w, wnote, sizeof wnote);
	atomic_store(&ctl->writer_done_ns, sb_now_ns());
	atomic_store(&ctl->writer_state, ST_DONE);
	if (rc < 0)
		fprintf(stderr, "%s: writer: publish failed: %s\n", m->name, strerror(-rc));
	if (wait_reader(ctl, child, ST_DONE) != ST_DONE) {
		fprintf(stderr, "%s: the reader failed\n", m->name);
		goto reap;
	}
	struct sb_geom g;
	sb_geom_get(&o, &g);
	uint64_t s0 = atomic_load(&ctl->s0), s1 = atomic_load(&ctl->s1);
	uint64_t published = s1 - s0, seen = ctl->delivered + ctl->torn + ctl->bad;
	printf("%s rate=%g touch=%s cams=%u size=%ux%u set_bytes=%zu depth=%u seconds=%g published=%llu "
	       "delivered=%llu lost=%llu torn=%llu bad=%llu p50_us=%.2f p99_us=%.2f max_us=%.2f sets_per_s=%.1f "
	       "pub_per_s=%.1f writer_cpu_pct=%.1f reader_cpu_pct=%.1f%s%s%s%s\n",
	       m->name, o.rate_hz, o.full ? "full" : "row", o.cams, o.width, o.height, g.set_bytes, o.depth, o.seconds,
	       (unsigned long long)published, (unsigned long long)ctl->delivered,
	       (unsigned long long)(published > seen ? published - seen : 0), (unsigned long long)ctl->torn,
	       (unsigned long long)ctl->bad, ctl->p50 / 1e3, ctl->p99 / 1e3, ctl->max / 1e3, ctl->delivered / o.seconds,
	       published / o.seconds, 100 * writer_cpu, 100 * ctl->reader_cpu, wnote[0] ? " " : "", wnote,
	       ctl->note[0] ? " " : "", ctl->note);
	status = rc < 0 || ctl->bad ? 1 : 0;
reap:;
	/* the reader ends by itself (writer done, or LATE_NS past the window);
	 * this only bounds the wait if it hangs */
	int64_t t0 = sb_now_ns();
	int cst = 0;
	while (waitpid(child, &cst, WNOHANG) == 0) {
		if (sb_now_ns() - t0 > SETUP_TIMEOUT_NS + LATE_NS) {
			fprintf(stderr, "%s: the reader hangs: killing pid %d\n", m->name, (int)child);
			kill(child, SIGKILL);
			waitpid(child, &cst, 0);
			status = 1;
			break;
		}
		sleep_ms(5);
	}
	if (WIFEXITED(cst) && WEXITSTATUS(cst) != 0)
		status = 1;
	munmap(ctl, sizeof *ctl);
	return status;
}
