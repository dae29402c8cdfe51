/* bench-shm — lockstep's shared-memory hand-off (lib/ls_shm.h writer,
 * clients/c/lockstep_shm.h reader) under the shm_bench harness.
 *
 * Latency is the slot's publish_mono_ns (taken by ls_shm_writer_commit just
 * before it bumps `published` and wakes the futex) to the reader's clock
 * right after lsr_next() returned. The reader sleeps in the futex
 * (lsr_next with a 200 ms timeout); --spin polls the header's `published`
 * counter instead, a separate figure that costs a whole core.
 *
 * Zero copies of frame data, and this program checks it while it runs:
 *  - the writer renders in place in the slot (ls_shm_writer_begin / _planes /
 *    _commit; never ls_shm_writer_publish, the copying path for frames that
 *    already exist elsewhere);
 *  - the reader reads the planes in place: every plane pointer it is handed
 *    must lie inside its own mapping of the segment (counted: in_place=);
 *  - memcpy is wrapped (link with -Wl,--wrap=memcpy): every call that
 *    lockstep's code or this program makes, in either process, is counted
 *    from open to close (memcpy_writer=, memcpy_reader= calls/bytes).
 *
 * --floor runs no lockstep code at all: the writer bumps a futex word in a
 * 4 KiB shared segment and wakes it, the reader sleeps on it. That is the
 * least any futex-woken hand-off can cost on this machine (the scheduler
 * waking an idle CPU), the floor under the lockstep figure.
 *
 * usage: bench-shm [harness options, see shm_bench.h] [--spin | --floor] */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lockstep_shm.h"
#include "ls_shm.h"
#include "shm_bench.h"

/* ---- the memcpy counter ----------------------------------------------------- */

void *__real_memcpy(void *dst, const void *src, size_t n);
void *__wrap_memcpy(void *dst, const void *src, size_t n);

/* one thread per process touches these (the writer loop, or the reader loop) */
static uint64_t memcpy_calls, memcpy_bytes;

void *__wrap_memcpy(void *dst, const void *src, size_t n)
{
	memcpy_calls++;
	memcpy_bytes += n;
	return __real_memcpy(dst, src, n);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

/* ---- writer ------------------------------------------------------------------ */

struct lk_writer {
	const struct sb_opts *o;
	struct sb_geom g;
	struct ls_shm_writer *w;
	uint32_t states[SB_MAX_CAMS];
	int64_t captures[SB_MAX_CAMS];
	uint64_t calls0, bytes0; /* memcpy counts when the segment was open */
};

static int lk_writer_open(const struct sb_opts *o, void **out, char *err, size_t len)
{
	static struct lk_writer lw; /* one writer per process */
	char names[SB_MAX_CAMS][16];
	struct ls_shm_cam cams[SB_MAX_CAMS];
	lw = (struct lk_writer){ .o = o };
	sb_geom_get(o, &lw.g);
	for (unsigned c = 0; c < o->cams; c++) {
		snprintf(names[c], sizeof names[c], "cam%u", c);
		cams[c] = (struct ls_shm_cam){ names[c], LS_FMT_I420, (int)o->width, (int)o->height };
		lw.states[c] = LSHM_PRESENT;
	}
	struct ls_shm_config cfg = {
		.name = o->name,
		.nslots = o->depth,
		.ncams = o->cams,
		.cams = cams,
		.rate = { o->rate_hz >= 1 ? (int32_t)(o->rate_hz + 0.5) : 30, 1 },
		.group = (gid_t)-1,
	};
	int rc = ls_shm_writer_open(&cfg, &lw.w, err, len);
	if (rc < 0)
		return rc;
	lw.calls0 = memcpy_calls;
	lw.bytes0 = memcpy_bytes;
	*out = &lw;
	return 0;
}

static int lk_writer_publish(void *wp, uint64_t set)
{
	struct lk_writer *lw = wp;
	struct ls_shm_wslot ws;
	ls_shm_writer_begin(lw->w, &ws);
	for (unsigned c = 0; c < lw->o->cams; c++) {
		ls_shm_writer_planes(lw->w, &ws, c);
		for (int p = 0; p < SB_PLANES; p++)
			sb_render_plane(lw->o, ws.planes[p], (size_t)ws.strides[p], lw->g.width[p], lw->g.rows[p], set);
	}
	ls_shm_writer_commit(lw->w, &ws, (int64_t)set, 0, 0, lw->states, lw->captures, NULL);
	return 0;
}

static void lk_writer_close(void **wp, char *note, size_t len)
{
	struct lk_writer *lw = *wp;
	if (!lw)
		return;
	snprintf(note, len, "memcpy_writer=%llu/%lluB", (unsigned long long)(memcpy_calls - lw->calls0),
		 (unsigned long long)(memcpy_bytes - lw->bytes0));
	ls_shm_writer_close(&lw->w); /* readers see "writer gone" at once */
	*wp = NULL;
}

/* ---- reader ------------------------------------------------------------------ */

static int lk_reader_run(const struct sb_opts *o, struct sb_reader *rd, char *err, size_t len)
{
	lsr_reader *r = NULL;
	int rc = lsr_open(o->name, &r, err, len);
	if (rc < 0)
		return rc;
	uint64_t calls0 = memcpy_calls, bytes0 = memcpy_bytes;
	struct lshm_header *h = (struct lshm_header *)lsr_header(r);
	const uint8_t *lo = (const uint8_t *)h, *hi = lo + h->total_size;
	uint64_t want = 0; /* --spin: the first set number not yet handed out */
	uint64_t planes = 0, in_place = 0, overruns = 0, timeouts = 0;
	int end = 0;
	sb_reader_ready(rd);
	while (!end && !sb_reader_done(rd)) {
		if (o->spin)
			for (unsigned i = 1; atomic_load_explicit(&h->published, memory_order_acquire) <= want; i++) {
				cpu_relax();
				if (i % 4096 == 0 && sb_reader_done(rd))
					break;
			}
		lsr_frameset set;
		rc = lsr_next(r, o->spin ? 0 : 200, &set);
		int64_t wake = sb_now_ns();
		switch (rc) {
		case LSR_OK:
		case LSR_TORN: {
			bool match = true;
			for (unsigned c = 0; c < set.ncams; c++)
				for (int p = 0; p < set.frames[c].nplanes; p++) {
					const struct lsr_frame *f = &set.frames[c];
					const uint8_t *pl = f->planes[p];
					planes++;
					if (pl && pl >= lo && pl + (size_t)f->strides[p] * (size_t)f->rows[p] <= hi)
						in_place++;
					match = match && pl && sb_plane_is(pl, set.set);
				}
			int intact = rc == LSR_OK && lsr_release(r, &set) == LSR_OK;
			sb_reader_record(rd, set.set, set.publish_mono_ns, wake,
					 !intact ? SB_TORN
					 : match ? SB_INTACT
						 : SB_BAD);
			want = set.set + 1;
			break;
		}
		case LSR_OVERRUN:
			overruns++;
			want = 0; /* lsr_next hands out the oldest set still there at once */
			break;
		case LSR_TIMEOUT:
			timeouts++;
			break;
		case LSR_WRITER_GONE:
		case LSR_REATTACHED:
			end = 1; /* the writer closed: lsr_next drained every set before saying so */
			break;
		default:
			snprintf(err, len, "lsr_next: %s", lsr_error(r));
			lsr_close(&r);
			return -EIO;
		}
	}
	sb_reader_note(rd, "wait=%s in_place=%llu/%llu memcpy_reader=%llu/%lluB overruns=%llu",
		       o->spin ? "spin" : "futex", (unsigned long long)in_place, (unsigned long long)planes,
		       (unsigned long long)(memcpy_calls - calls0), (unsigned long long)(memcpy_bytes - bytes0),
		       (unsigned long long)overruns);
	lsr_close(&r);
	return 0;
}

/* ---- the floor: a bare futex wake-up ----------------------------------------- */

struct fl_page {
	_Atomic uint32_t futex; /* bumped on every publish */
	_Atomic uint32_t closed;
	_Atomic uint64_t set;
	_Atomic int64_t pub_ns; /* CLOCK_MONOTONIC */
};

struct fl_writer {
	struct fl_page *pg;
	char name[80];
};

static struct fl_page *fl_map(const char *name, int flags, char *err, size_t len)
{
	int fd = shm_open(name, flags, 0600);
	if (fd < 0 || ((flags & O_CREAT) && ftruncate(fd, 4096) < 0)) {
		snprintf(err, len, "shm %s: %s", name, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	struct fl_page *pg = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (pg == MAP_FAILED) {
		snprintf(err, len, "mmap %s: %s", name, strerror(errno));
		return NULL;
	}
	return pg;
}

static int fl_writer_open(const struct sb_opts *o, void **out, char *err, size_t len)
{
	static struct fl_writer fw; /* one writer per process */
	snprintf(fw.name, sizeof fw.name, "/%s", o->name);
	shm_unlink(fw.name);
	fw.pg = fl_map(fw.name, O_RDWR | O_CREAT | O_EXCL, err, len);
	if (!fw.pg)
		return -EIO;
	*out = &fw;
	return 0;
}

static int fl_writer_publish(void *wp, uint64_t set)
{
	struct fl_page *pg = ((struct fl_writer *)wp)->pg;
	atomic_store_explicit(&pg->set, set, memory_order_relaxed);
	atomic_store_explicit(&pg->pub_ns, sb_now_ns(), memory_order_relaxed);
	atomic_fetch_add_explicit(&pg->futex, 1, memory_order_seq_cst);
	syscall(SYS_futex, &pg->futex, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	return 0;
}

static void fl_writer_close(void **wp, char *note, size_t len)
{
	struct fl_writer *fw = *wp;
	if (!fw)
		return;
	atomic_store(&fw->pg->closed, 1);
	atomic_fetch_add(&fw->pg->futex, 1);
	syscall(SYS_futex, &fw->pg->futex, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	munmap(fw->pg, 4096);
	shm_unlink(fw->name);
	snprintf(note, len, "wait=futex-floor");
	*wp = NULL;
}

static int fl_reader_run(const struct sb_opts *o, struct sb_reader *rd, char *err, size_t len)
{
	char name[80];
	snprintf(name, sizeof name, "/%s", o->name);
	struct fl_page *pg = fl_map(name, O_RDWR, err, len);
	if (!pg)
		return -EIO;
	uint32_t seen = atomic_load(&pg->futex);
	sb_reader_ready(rd);
	while (!atomic_load(&pg->closed) && !sb_reader_done(rd)) {
		uint32_t f = atomic_load_explicit(&pg->futex, memory_order_acquire);
		if (f == seen) {
			struct timespec ts = { .tv_sec = 0, .tv_nsec = 200000000 };
			syscall(SYS_futex, &pg->futex, FUTEX_WAIT, f, &ts, NULL, 0);
			continue;
		}
		int64_t wake = sb_now_ns();
		seen = f;
		sb_reader_record(rd, atomic_load_explicit(&pg->set, memory_order_relaxed),
				 atomic_load_explicit(&pg->pub_ns, memory_order_relaxed), wake, SB_INTACT);
	}
	munmap(pg, 4096);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct sb_method floor_method = {
		.name = "futex-floor",
		.writer_open = fl_writer_open,
		.writer_publish = fl_writer_publish,
		.writer_close = fl_writer_close,
		.reader_run = fl_reader_run,
	};
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--floor"))
			return sb_main(argc, argv, &floor_method);
	static const struct sb_method lockstep = {
		.name = "lockstep",
		.writer_open = lk_writer_open,
		.writer_publish = lk_writer_publish,
		.writer_close = lk_writer_close,
		.reader_run = lk_reader_run,
	};
	return sb_main(argc, argv, &lockstep);
}
