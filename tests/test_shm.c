/* Tests for the shared-memory frameset hand-off: the writer (lib/ls_shm)
 * against the reader library (clients/c/lockstep_shm), in one process where
 * the order of events must be exact (overrun, torn, zero copy) and with
 * forked children where another process must own the segment (a live
 * writer, a crashed one, a hung one, a reader without write permission, a
 * private /dev/shm too small).
 *
 * Every segment is named lstest-PID-WHAT and unlinked by the test that made
 * it, also when the code under test should have done so. Children report
 * through their exit status and pipes, never through g_assert (a child's
 * assertion would print TAP lines of its own). */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lockstep_shm.h"
#include "ls_frameset.h"
#include "ls_frame.h"
#include "ls_shm.h"
#include "ls_time.h"

#define MS LS_NS_PER_MS
#define EXIT_SKIP 77 /* a child's "cannot run here" (no namespaces, not root) */

/* ---- helpers ------------------------------------------------------------- */

static void seg_name(char *buf, size_t len, const char *what)
{
	snprintf(buf, len, "lstest-%d-%s", (int)getpid(), what);
}

static void seg_unlink(const char *name)
{
	char path[300];
	snprintf(path, sizeof path, "/%s", name);
	shm_unlink(path); /* ENOENT is fine: the code under test removed it */
}

static bool seg_exists(const char *name)
{
	char path[300];
	struct stat st;
	snprintf(path, sizeof path, "/dev/shm/%s", name);
	return stat(path, &st) == 0;
}

static struct ls_shm_config config(const char *name, unsigned nslots, unsigned ncams, const struct ls_shm_cam *cams)
{
	return (struct ls_shm_config){
		.name = name,
		.nslots = nslots,
		.ncams = ncams,
		.cams = cams,
		.rate = { 30, 1 },
		.epoch_ns = 1000 * LS_NS_PER_SEC,
		.group = (gid_t)-1,
	};
}

static int plane_count(enum ls_pixfmt fmt)
{
	return fmt == LS_FMT_I420 ? 3 : fmt == LS_FMT_NV12 ? 2 : fmt == LS_FMT_UNKNOWN ? 0 : 1;
}

/* Bytes of picture in one row of plane p, without padding. */
static int plane_row_bytes(enum ls_pixfmt fmt, int w, int p)
{
	switch (fmt) {
	case LS_FMT_I420:
		return p ? (w + 1) / 2 : w;
	case LS_FMT_NV12:
		return p ? 2 * ((w + 1) / 2) : w;
	case LS_FMT_BGRX:
	case LS_FMT_RGBA:
		return 4 * w;
	default:
		return w;
	}
}

static int plane_rows(enum ls_pixfmt fmt, int h, int p)
{
	return p && (fmt == LS_FMT_I420 || fmt == LS_FMT_NV12) ? (h + 1) / 2 : h;
}

static uint8_t pattern(uint64_t set, unsigned cam, int plane, int y, int x)
{
	return (uint8_t)(set * 31 + cam * 7 + (unsigned)plane * 3 + (unsigned)y * 5 + (unsigned)x);
}

/* Zero-copy producer: renders set @set in place, every byte of every row
 * (padding too), and publishes it with every camera present. */
static void publish_pattern(struct ls_shm_writer *w, const struct ls_shm_cam *cams, unsigned ncams, uint64_t set)
{
	struct ls_shm_wslot ws;
	uint32_t states[8];
	int64_t caps[8], offs[8];
	g_assert_cmpuint(ncams, <=, 8);
	ls_shm_writer_begin(w, &ws);
	for (unsigned c = 0; c < ncams; c++) {
		ls_shm_writer_planes(w, &ws, c);
		for (int p = 0; p < plane_count(cams[c].format); p++)
			for (int y = 0; y < plane_rows(cams[c].format, cams[c].height, p); y++)
				for (int x = 0; x < ws.strides[p]; x++)
					ws.planes[p][(size_t)y * ws.strides[p] + x] = pattern(set, c, p, y, x);
		states[c] = LSHM_PRESENT;
		caps[c] = (int64_t)set * 1000 + c;
		offs[c] = -(int64_t)c;
	}
	ls_shm_writer_commit(w, &ws, (int64_t)set + 100, (int64_t)set * 33 * MS, 5, states, caps, offs);
}

/* The set a reader got is set number @set as publish_pattern() made it. */
static void check_pattern(const lsr_frameset *fs, const struct ls_shm_cam *cams, unsigned ncams, uint64_t set)
{
	g_assert_cmpuint(fs->set, ==, set);
	g_assert_cmpint(fs->n, ==, (int64_t)set + 100);
	g_assert_cmpint(fs->slot_ns, ==, (int64_t)set * 33 * MS);
	g_assert_cmpint(fs->skew_ns, ==, 5);
	g_assert_cmpuint(fs->ncams, ==, ncams);
	g_assert_cmpuint(fs->npresent, ==, ncams);
	for (unsigned c = 0; c < ncams; c++) {
		const struct lsr_frame *f = &fs->frames[c];
		g_assert_cmpstr(f->camera, ==, cams[c].name);
		g_assert_cmpint(f->state, ==, LSHM_PRESENT);
		g_assert_cmpint(f->format, ==, (int)cams[c].format);
		g_assert_cmpint(f->width, ==, cams[c].width);
		g_assert_cmpint(f->height, ==, cams[c].height);
		g_assert_cmpint(f->nplanes, ==, plane_count(cams[c].format));
		g_assert_cmpint(f->capture_ns, ==, (int64_t)set * 1000 + c);
		g_assert_cmpint(f->offset_ns, ==, -(int64_t)c);
		for (int p = 0; p < f->nplanes; p++) {
			g_assert_cmpint(f->rows[p], ==, plane_rows(cams[c].format, cams[c].height, p));
			g_assert_cmpint(f->strides[p], >=, plane_row_bytes(cams[c].format, cams[c].width, p));
			for (int y = 0; y < f->rows[p]; y++) {
				const uint8_t *row = f->planes[p] + (size_t)y * f->strides[p];
				for (int x = 0; x < f->strides[p]; x++)
					if (row[x] != pattern(set, c, p, y, x))
						g_error("set %u cam %u plane %d (%d,%d): %u, not %u", (unsigned)set, c,
							p, x, y, row[x], pattern(set, c, p, y, x));
			}
		}
	}
}

static struct ls_shm_writer *open_writer(const struct ls_shm_config *cfg)
{
	struct ls_shm_writer *w = NULL;
	char err[512] = "";
	int rc = ls_shm_writer_open(cfg, &w, err, sizeof err);
	if (rc < 0)
		g_error("ls_shm_writer_open(%s): %d %s", cfg->name, rc, err);
	g_assert_nonnull(w);
	return w;
}

static lsr_reader *open_reader(const char *name)
{
	lsr_reader *r = NULL;
	char err[512] = "";
	int rc = lsr_open(name, &r, err, sizeof err);
	if (rc < 0)
		g_error("lsr_open(%s): %d %s", name, rc, err);
	g_assert_nonnull(r);
	return r;
}

static void xpipe(int fds[2]) { g_assert_cmpint(pipe(fds), ==, 0); }

static void xwrite(int fd, const void *p, size_t n) { g_assert_cmpint(write(fd, p, n), ==, (ssize_t)n); }

/* Reads exactly n bytes; false at end of file (the child died). */
static bool xread(int fd, void *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t k = read(fd, (char *)p + got, n - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return false;
		got += (size_t)k;
	}
	return true;
}

/* Child side, without g_assert: a short write only loses the report. */
static void child_send(int fd, const void *p, size_t n)
{
	if (write(fd, p, n) != (ssize_t)n)
		_exit(99);
}

/* Waits for the child; fails the test if a signal killed it. Returns its
 * exit status. */
static int wait_child(pid_t pid)
{
	int status = 0;
	while (waitpid(pid, &status, 0) < 0)
		g_assert_cmpint(errno, ==, EINTR);
	if (WIFSIGNALED(status))
		g_error("child %d killed by signal %d (%s)", (int)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
	g_assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* The writer of a child that exits without closing: static, so that the
 * child's exit leaves it reachable (valgrind checks leaks in children). */
static struct ls_shm_writer *child_writer;

static const struct ls_shm_cam small_cams[2] = {
	{ "left", LS_FMT_I420, 33, 17 },
	{ "right", LS_FMT_GRAY8, 20, 6 },
};

/* ---- layout -------------------------------------------------------------- */

#define SIZE(T, v) g_assert_cmpuint(sizeof(struct T), ==, v)
#define OFF(T, f, v) g_assert_cmpuint(offsetof(struct T, f), ==, v)

static void test_layout(void)
{
	/* The wire format: readers in other languages hard-code these. A change
	 * here is a new LSHM_VERSION. */
	g_assert_cmpmem(&(uint64_t){ LSHM_MAGIC }, 8, "LCSTSHM1", 8); /* little-endian hosts */
	g_assert_cmpuint(LSHM_VERSION, ==, 1);
	g_assert_cmpint(LSHM_NAME_MAX, ==, 32);
	g_assert_cmpint(LSHM_MAX_PLANES, ==, 4);
	g_assert_cmpint(LSHM_MAX_PLANES, ==, LS_MAX_PLANES);
	g_assert_cmpint(LSHM_ALIGN, ==, 4096);
	g_assert_cmpint(LSHM_FMT_I420, ==, LS_FMT_I420);
	g_assert_cmpint(LSHM_FMT_NV12, ==, LS_FMT_NV12);
	g_assert_cmpint(LSHM_FMT_GRAY8, ==, LS_FMT_GRAY8);
	g_assert_cmpint(LSHM_FMT_BGRX, ==, LS_FMT_BGRX);
	g_assert_cmpint(LSHM_FMT_RGBA, ==, LS_FMT_RGBA);
	g_assert_cmpint(LSHM_PRESENT, ==, LS_ENTRY_PRESENT);
	g_assert_cmpint(LSHM_HELD, ==, LS_ENTRY_HELD);
	g_assert_cmpint(LSHM_MISSING, ==, LS_ENTRY_MISSING);

	SIZE(lshm_header, 256);
	OFF(lshm_header, magic, 0);
	OFF(lshm_header, version, 8);
	OFF(lshm_header, header_size, 12);
	OFF(lshm_header, cam_info_size, 16);
	OFF(lshm_header, slot_header_size, 20);
	OFF(lshm_header, slot_cam_size, 24);
	OFF(lshm_header, nslots, 28);
	OFF(lshm_header, ncams, 32);
	OFF(lshm_header, reserved0, 36);
	OFF(lshm_header, slot_size, 40);
	OFF(lshm_header, slots_offset, 48);
	OFF(lshm_header, total_size, 56);
	OFF(lshm_header, writer_pid, 64);
	OFF(lshm_header, rate_num, 68);
	OFF(lshm_header, rate_den, 72);
	OFF(lshm_header, reserved1, 76);
	OFF(lshm_header, epoch_ns, 80);
	OFF(lshm_header, generation, 88);
	OFF(lshm_header, heartbeat_ns, 96);
	OFF(lshm_header, published, 104);
	OFF(lshm_header, futex, 112);
	OFF(lshm_header, waiters, 116);
	OFF(lshm_header, closed, 120);
	OFF(lshm_header, reserved2, 124);
	g_assert_cmpuint(sizeof(((struct lshm_header *)0)->reserved2), ==, 132);

	SIZE(lshm_plane, 16);
	OFF(lshm_plane, offset, 0);
	OFF(lshm_plane, stride, 4);
	OFF(lshm_plane, rows, 8);
	OFF(lshm_plane, reserved, 12);

	SIZE(lshm_cam_info, 128);
	OFF(lshm_cam_info, name, 0);
	OFF(lshm_cam_info, format, 32);
	OFF(lshm_cam_info, width, 36);
	OFF(lshm_cam_info, height, 40);
	OFF(lshm_cam_info, nplanes, 44);
	OFF(lshm_cam_info, planes, 48);
	OFF(lshm_cam_info, data_offset, 112);
	OFF(lshm_cam_info, data_size, 120);

	SIZE(lshm_slot, 64);
	OFF(lshm_slot, seq, 0);
	OFF(lshm_slot, set, 8);
	OFF(lshm_slot, n, 16);
	OFF(lshm_slot, slot_ns, 24);
	OFF(lshm_slot, skew_ns, 32);
	OFF(lshm_slot, publish_mono_ns, 40);
	OFF(lshm_slot, ncams, 48);
	OFF(lshm_slot, npresent, 52);
	OFF(lshm_slot, reserved, 56);

	SIZE(lshm_slot_cam, 32);
	OFF(lshm_slot_cam, state, 0);
	OFF(lshm_slot_cam, reserved, 4);
	OFF(lshm_slot_cam, capture_ns, 8);
	OFF(lshm_slot_cam, offset_ns, 16);
	OFF(lshm_slot_cam, checksum, 24);

	/* what a writer lays out: header + cam infos in one page, each slot a
	 * page of slot header then page-aligned cameras with 64-byte strides */
	char name[64];
	seg_name(name, sizeof name, "layout");
	struct ls_shm_config cfg = config(name, 3, 2, small_cams);
	struct ls_shm_writer *w = open_writer(&cfg);
	lsr_reader *r = open_reader(name);
	const struct lshm_header *h = lsr_header(r);
	g_assert_cmpuint(h->slots_offset, ==, 4096);
	g_assert_cmpuint(h->slot_size, ==, 4096 + 4096 + 4096); /* slot header, left, right */
	g_assert_cmpuint(h->total_size, ==, 4096 + 3 * h->slot_size);
	g_assert_cmpuint(ls_shm_writer_size(w), ==, h->total_size);
	const struct lshm_cam_info *ci = (const void *)(h + 1);
	g_assert_cmpstr(ci[0].name, ==, "left");
	g_assert_cmpuint(ci[0].nplanes, ==, 3);
	g_assert_cmpuint(ci[0].data_offset, ==, 4096);
	g_assert_cmpuint(ci[0].planes[0].stride, ==, 64);
	g_assert_cmpuint(ci[0].planes[1].offset, ==, 64 * 17);
	g_assert_cmpuint(ci[0].planes[1].stride, ==, 64);
	g_assert_cmpuint(ci[0].planes[1].rows, ==, 9);
	g_assert_cmpuint(ci[1].data_offset, ==, 8192);
	g_assert_cmpuint(h->rate_num, ==, 30);
	g_assert_cmpuint(h->rate_den, ==, 1);
	g_assert_cmpint(h->epoch_ns, ==, 1000 * LS_NS_PER_SEC);
	g_assert_cmpint(h->writer_pid, ==, getpid());
	lsr_close(&r);
	g_assert_null(r);
	ls_shm_writer_close(&w);
	g_assert_null(w);
	g_assert_false(seg_exists(name));
}

/* ---- names and configs --------------------------------------------------- */

static void test_names(void)
{
	char longname[202];
	memset(longname, 'a', 201);
	longname[201] = '\0';
	const char *bad[] = { "", longname, "a/b", "/rig", "..", ".hidden", "a b", " rig", "rig\n", "r\xc3\xa9" };
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		char err[512] = "", want[260];
		snprintf(want, sizeof want, "\"%s\"", bad[i]);
		g_assert_cmpint(lshm_name_check(bad[i], err, sizeof err), ==, -EINVAL);
		g_assert_nonnull(strstr(err, want));

		struct ls_shm_config cfg = config(bad[i], 4, 2, small_cams);
		struct ls_shm_writer *w = (void *)1;
		err[0] = '\0';
		g_assert_cmpint(ls_shm_writer_open(&cfg, &w, err, sizeof err), ==, -EINVAL);
		g_assert_null(w);
		g_assert_nonnull(strstr(err, want));

		lsr_reader *r = (void *)1;
		err[0] = '\0';
		g_assert_cmpint(lsr_open(bad[i], &r, err, sizeof err), ==, -EINVAL);
		g_assert_null(r);
		g_assert_nonnull(strstr(err, want));
	}
	g_assert_cmpint(lshm_name_check(NULL, NULL, 0), ==, -EINVAL);
	lsr_reader *r = NULL;
	g_assert_cmpint(lsr_open(NULL, &r, NULL, 0), ==, -EINVAL);

	/* the edges that are fine (no segment behind them: -ENOENT, not -EINVAL) */
	longname[200] = '\0';
	const char *good[] = { longname, "a", "rig.0", "a..b", "A-Z_0-9" };
	for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
		g_assert_cmpint(lshm_name_check(good[i], NULL, 0), ==, 0);
		if (!seg_exists(good[i]))
			g_assert_cmpint(lsr_open(good[i], &r, NULL, 0), ==, -ENOENT);
	}

	/* configs */
	char name[64], err[512] = "";
	seg_name(name, sizeof name, "cfg");
	struct ls_shm_writer *w = NULL;
	struct ls_shm_config cfg = config(name, 1, 2, small_cams);
	g_assert_cmpint(ls_shm_writer_open(&cfg, &w, err, sizeof err), ==, -EINVAL);
	g_assert_nonnull(strstr(err, name));
	g_assert_nonnull(strstr(err, "slots"));
	cfg = config(name, 4, 0, small_cams);
	g_assert_cmpint(ls_shm_writer_open(&cfg, &w, err, sizeof err), ==, -EINVAL);
	g_assert_nonnull(strstr(err, "cameras"));
	g_assert_null(w);
	g_assert_false(seg_exists(name));
}

/* ---- refusing segments that are not (this version's) lockstep ------------ */

static void make_segment(const char *name, const void *bytes, size_t size, size_t file_size)
{
	char path[300];
	snprintf(path, sizeof path, "/%s", name);
	int fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(ftruncate(fd, (off_t)file_size), ==, 0);
	size_t n = size < file_size ? size : file_size;
	g_assert_cmpint(write(fd, bytes, n), ==, (ssize_t)n);
	close(fd);
}

enum corruption {
	C_NONE,
	C_MAGIC,
	C_VERSION,
	C_STRUCT_SIZE,
	C_TOO_SMALL,
	C_EMPTY,
	C_TRUNCATED,
	C_NSLOTS_ZERO,
	C_NSLOTS_BEYOND,
	C_SLOT_SIZE_WRAPS,
	C_NCAMS_HUGE,
	C_SLOT_MISALIGNED,
	C_NPLANES,
	C_PLANE_ROWS,
	C_DATA_SIZE_WRAPS,
	C_NAME_UNTERMINATED,
};

static const struct {
	enum corruption c;
	int rc;
	const char *says;
} corruptions[] = {
	{ C_NONE, 0, NULL },
	{ C_MAGIC, -EPROTO, "bad magic" },
	{ C_VERSION, -EPROTO, "segment version 99, reader version 1" },
	{ C_STRUCT_SIZE, -EPROTO, "struct sizes" },
	{ C_TOO_SMALL, -EPROTO, "too small" },
	{ C_EMPTY, -EPROTO, "too small" },
	{ C_TRUNCATED, -EPROTO, "inconsistent sizes" },
	{ C_NSLOTS_ZERO, -EPROTO, "inconsistent sizes" },
	{ C_NSLOTS_BEYOND, -EPROTO, "inconsistent sizes" },
	{ C_SLOT_SIZE_WRAPS, -EPROTO, "inconsistent sizes" },
	{ C_NCAMS_HUGE, -EPROTO, "inconsistent sizes" },
	{ C_SLOT_MISALIGNED, -EPROTO, "inconsistent sizes" },
	{ C_NPLANES, -EPROTO, "camera 1" },
	{ C_PLANE_ROWS, -EPROTO, "camera 0" },
	{ C_DATA_SIZE_WRAPS, -EPROTO, "camera 1" },
	{ C_NAME_UNTERMINATED, -EPROTO, "camera 0" },
};

static void test_open_errors(void)
{
	char name[64], err[512] = "";
	seg_name(name, sizeof name, "bad");
	lsr_reader *r = (void *)1;
	g_assert_cmpint(lsr_open(name, &r, err, sizeof err), ==, -ENOENT);
	g_assert_null(r);
	g_assert_nonnull(strstr(err, name));
	g_assert_nonnull(strstr(err, "no such segment"));

	/* a genuine segment's bytes, copied, then spoilt one way at a time */
	char src[64], path[300];
	seg_name(src, sizeof src, "good");
	struct ls_shm_config cfg = config(src, 2, 2, small_cams);
	struct ls_shm_writer *w = open_writer(&cfg);
	publish_pattern(w, small_cams, 2, 0);
	size_t size = ls_shm_writer_size(w);
	uint8_t *good = g_malloc(size), *img = g_malloc(size);
	snprintf(path, sizeof path, "/%s", src);
	int fd = shm_open(path, O_RDONLY, 0);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(read(fd, good, size), ==, (ssize_t)size);
	close(fd);
	ls_shm_writer_close(&w);

	for (size_t i = 0; i < G_N_ELEMENTS(corruptions); i++) {
		memcpy(img, good, size);
		struct lshm_header *h = (void *)img;
		struct lshm_cam_info *ci = (void *)(img + sizeof *h);
		size_t file_size = size;
		switch (corruptions[i].c) {
		case C_NONE:
			break;
		case C_MAGIC:
			memcpy(&h->magic, "NOTLOCKS", 8);
			break;
		case C_VERSION:
			h->version = 99;
			break;
		case C_STRUCT_SIZE:
			h->cam_info_size = 120;
			break;
		case C_TOO_SMALL:
			file_size = 100;
			break;
		case C_EMPTY:
			file_size = 0;
			break;
		case C_TRUNCATED:
			file_size = size - 4096; /* the header still claims the whole */
			break;
		case C_NSLOTS_ZERO:
			h->nslots = 0;
			break;
		case C_NSLOTS_BEYOND:
			h->nslots = 3;
			break;
		case C_SLOT_SIZE_WRAPS: /* slots_offset + 2 * slot_size wraps to total_size */
			h->slot_size = (UINT64_MAX / 2 + 1) + (h->total_size - h->slots_offset) / 2;
			break;
		case C_NCAMS_HUGE:
			h->ncams = 1000;
			break;
		case C_SLOT_MISALIGNED:
			h->slot_size -= 8; /* still inside the file, no longer page (or atomics) aligned */
			break;
		case C_NPLANES:
			ci[1].nplanes = 9;
			break;
		case C_PLANE_ROWS:
			ci[0].planes[2].rows = 1000;
			break;
		case C_DATA_SIZE_WRAPS:
			ci[1].data_size = UINT64_MAX - 4095;
			break;
		case C_NAME_UNTERMINATED:
			memset(ci[0].name, 'x', sizeof ci[0].name);
			break;
		}
		make_segment(name, img, size, file_size);
		err[0] = '\0';
		int rc = lsr_open(name, &r, err, sizeof err);
		if (rc != corruptions[i].rc)
			g_error("corruption %zu: lsr_open returned %d (%s), expected %d", i, rc, err,
				corruptions[i].rc);
		if (rc == 0) {
			/* the untouched copy is a working segment: the published set is there */
			lsr_frameset fs;
			g_assert_cmpint(lsr_next(r, 0, &fs), ==, LSR_OK);
			check_pattern(&fs, small_cams, 2, 0);
			g_assert_cmpint(lsr_release(r, &fs), ==, LSR_OK);
			lsr_close(&r);
		} else {
			g_assert_null(r);
			g_assert_nonnull(strstr(err, name));
			if (!strstr(err, corruptions[i].says))
				g_error("corruption %zu: \"%s\" does not say \"%s\"", i, err, corruptions[i].says);
		}
		seg_unlink(name);
	}
	g_free(good);
	g_free(img);
}

/* ---- permissions --------------------------------------------------------- */

static void test_permissions(void)
{
	char name[64], path[300];
	seg_name(name, sizeof name, "perm");
	snprintf(path, sizeof path, "/dev/shm/%s", name);
	mode_t old = umask(077); /* the modes are exact whatever the umask */

	struct ls_shm_config cfg = config(name, 2, 2, small_cams);
	struct ls_shm_writer *w = open_writer(&cfg);
	struct stat st;
	g_assert_cmpint(stat(path, &st), ==, 0);
	g_assert_cmpuint(st.st_mode & 07777, ==, 0600);
	g_assert_cmpuint(st.st_uid, ==, geteuid());
	ls_shm_writer_close(&w);

	/* root may give the segment to any group; others to their own */
	gid_t g = geteuid() == 0 ? 4242 : getegid();
	cfg.group = g;
	w = open_writer(&cfg);
	g_assert_cmpint(stat(path, &st), ==, 0);
	g_assert_cmpuint(st.st_mode & 07777, ==, 0660);
	g_assert_cmpuint(st.st_gid, ==, g);
	ls_shm_writer_close(&w);
	umask(old);
	g_assert_false(seg_exists(name));
}

/* A reader that may only read the segment (mode 0644, another user) maps
 * it read-only: it must neither crash on the waiter count nor miss sets. */
static void test_read_only_reader(void)
{
	if (geteuid() != 0) {
		g_test_skip("needs root to become another user");
		return;
	}
	char name[64], path[300];
	seg_name(name, sizeof name, "ro");
	snprintf(path, sizeof path, "/%s", name);
	struct ls_shm_config cfg = config(name, 4, 2, small_cams);
	struct ls_shm_writer *w = open_writer(&cfg);
	int fd = shm_open(path, O_RDWR, 0);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(fchmod(fd, 0644), ==, 0);
	close(fd);

	int up[2];
	xpipe(up);
	pid_t pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		close(up[0]);
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(EXIT_SKIP);
		lsr_reader *r;
		if (lsr_open(name, &r, NULL, 0) < 0)
			_exit(10);
		lsr_frameset fs;
		/* nothing published yet: through the wait (where it used to
		 * fault); "gone" only if this child was slow to start */
		int rc = lsr_next(r, 50, &fs);
		if (rc != LSR_TIMEOUT && rc != LSR_WRITER_GONE)
			_exit(11);
		child_send(up[1], "w", 1);
		int64_t until = ls_monotonic_ns() + 10 * LS_NS_PER_SEC;
		do
			rc = lsr_next(r, 1000, &fs);
		while ((rc == LSR_TIMEOUT || rc == LSR_WRITER_GONE) && ls_monotonic_ns() < until);
		if (rc != LSR_OK || fs.set != 0 || fs.frames[0].planes[0][0] != pattern(0, 0, 0, 0, 0))
			_exit(12);
		if (lsr_release(r, &fs) != LSR_OK)
			_exit(13);
		lsr_close(&r);
		_exit(0);
	}
	close(up[1]);
	char c;
	bool waiting = xread(up[0], &c, 1);
	publish_pattern(w, small_cams, 2, 0);
	int status = wait_child(pid);
	close(up[0]);
	ls_shm_writer_close(&w);
	if (status == EXIT_SKIP) {
		g_test_skip("cannot become uid 65534");
		return;
	}
	g_assert_true(waiting);
	g_assert_cmpint(status, ==, 0);
}

/* ---- stale segments and live writers ------------------------------------- */

static void test_stale_dead_writer(void)
{
	char name[64];
	seg_name(name, sizeof name, "stale");
	struct ls_shm_config cfg = config(name, 4, 2, small_cams);
	pid_t pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0)
		_exit(ls_shm_writer_open(&cfg, &child_writer, NULL, 0) < 0 ? 1 : 0); /* crashes: never closes */
	g_assert_cmpint(wait_child(pid), ==, 0);
	g_assert_true(seg_exists(name));

	/* the dead writer's segment, as a reader finds it */
	lsr_reader *r = open_reader(name);
	g_assert_cmpint(lsr_header(r)->writer_pid, ==, pid);
	uint64_t old_gen = lsr_header(r)->generation;
	lsr_frameset fs;
	int64_t t0 = ls_monotonic_ns();
	g_assert_cmpint(lsr_next(r, 5000, &fs), ==, LSR_WRITER_GONE); /* its pid is gone */
	g_assert_cmpint(ls_monotonic_ns() - t0, <, 1000 * MS);
	g_assert_nonnull(strstr(lsr_error(r), "writer gone"));

	/* a new writer takes the name over */
	struct ls_shm_writer *w = open_writer(&cfg);
	publish_pattern(w, small_cams, 2, 0);
	g_assert_cmpint(lsr_next(r, 5000, &fs), ==, LSR_REATTACHED);
	g_assert_cmpint(lsr_header(r)->writer_pid, ==, getpid());
	g_assert_cmpuint(lsr_header(r)->generation, !=, old_gen);
	g_assert_cmpint(lsr_next(r, 5000, &fs), ==, LSR_OK);
	check_pattern(&fs, small_cams, 2, 0);
	g_assert_cmpint(lsr_release(r, &fs), ==, LSR_OK);
	lsr_close(&r);
	ls_shm_writer_close(&w);
	g_assert_false(seg_exists(name));
}

static void test_live_writer_busy(void)
{
	char name[64];
	seg_name(name, sizeof name, "busy");
	struct ls_shm_config cfg = config(name, 4, 2, small_cams);
	int up[2], down[2];
	xpipe(up);
	xpipe(down);
	pid_t pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		struct ls_shm_writer *w;
		char ok = ls_shm_writer_open(&cfg, &w, NULL, 0) == 0 ? 'y' : 'n';
		child_send(up[1], &ok, 1);
		char c;
		if (read(down[0], &c, 1) < 0) /* until the parent says so (or dies) */
			_exit(2);
		if (ok == 'y')
			ls_shm_writer_close(&w);
		_exit(ok == 'y' ? 0 : 1);
	}
	close(up[1]);
	close(down[0]);
	char ok = 0;
	g_assert_true(xread(up[0], &ok, 1));
	g_assert_cmpint(ok, ==, 'y');

	struct ls_shm_writer *w = NULL;
	char err[512] = "", want[64];
	g_assert_cmpint(ls_shm_writer_open(&cfg, &w, err, sizeof err), ==, -EBUSY);
	g_assert_null(w);
	snprintf(want, sizeof want, "pid %d", (int)pid);
	g_assert_nonnull(strstr(err, want));
	g_assert_nonnull(strstr(err, name));

	/* the refusal left the live writer's segment alone */
	lsr_reader *r = open_reader(name);
	g_assert_cmpint(lsr_header(r)->writer_pid, ==, pid);
	lsr_close(&r);

	xwrite(down[1], "x", 1);
	g_assert_cmpint(wait_child(pid), ==, 0);
	close(up[0]);
	close(down[1]);
	g_assert_false(seg_exists(name));
}

/* The name now belongs to a newer writer (here one of the same process,
 * which replaces without waiting): the older one's close must leave it. */
static void test_close_keeps_successor(void)
{
	char name[64];
	seg_name(name, sizeof name, "succ");
	struct ls_shm_config cfg = config(name, 2, 2, small_cams);
	struct ls_shm_writer *a = open_writer(&cfg);
	struct ls_shm_writer *b = open_writer(&cfg);
	publish_pattern(b, small_cams, 2, 0);
	ls_shm_writer_close(&a);
	g_assert_true(seg_exists(name));
	lsr_reader *r = open_reader(name);
	lsr_frameset fs;
	g_assert_cmpint(lsr_next(r, 1000, &fs), ==, LSR_OK);
	check_pattern(&fs, small_cams, 2, 0);
	g_assert_cmpint(lsr_release(r, &fs), ==, LSR_OK);
	lsr_close(&r);
	ls_shm_writer_close(&b);
	g_assert_false(seg_exists(name));
}

/* ---- /dev/shm too small -------------------------------------------------- */

struct nospace_report {
	int rc_big, rc_small;
	char err[512];
};

static void test_no_space(void)
{
	int up[2];
	xpipe(up);
	pid_t pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		close(up[0]);
		/* a private mount namespace: the 64 MiB /dev/shm is ours alone */
		if (unshare(CLONE_NEWNS) < 0)
			_exit(errno == EPERM || errno == EINVAL || errno == ENOSYS ? EXIT_SKIP : 2);
		if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0) /* type ignored; valgrind wants one */
			_exit(errno == EPERM ? EXIT_SKIP : 3);
		if (mount("lstest", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777") < 0)
			_exit(errno == EPERM ? EXIT_SKIP : 4);
		/* 4 cameras 1920x1080 I420 x 8 slots: each camera 3110400 bytes
		 * (strides are multiples of 64 already) -> 3112960 page-aligned; a
		 * slot 4096 + 4 x 3112960 = 12455936; the whole 4096 + 8 slots =
		 * 99651584 bytes = 95.0 MiB */
		static const struct ls_shm_cam big[4] = {
			{ "a", LS_FMT_I420, 1920, 1080 },
			{ "b", LS_FMT_I420, 1920, 1080 },
			{ "c", LS_FMT_I420, 1920, 1080 },
			{ "d", LS_FMT_I420, 1920, 1080 },
		};
		struct nospace_report rep = { 0 };
		struct ls_shm_config cfg = config("lstest-nospace", 8, 4, big);
		struct ls_shm_writer *w = NULL;
		rep.rc_big = ls_shm_writer_open(&cfg, &w, rep.err, sizeof rep.err);
		/* two slots (25 MiB) fit: the check is about size, not a refusal */
		cfg.nslots = 2;
		struct ls_shm_writer *w2 = NULL;
		rep.rc_small = ls_shm_writer_open(&cfg, &w2, NULL, 0);
		ls_shm_writer_close(&w2);
		child_send(up[1], &rep, sizeof rep);
		_exit(0);
	}
	close(up[1]);
	struct nospace_report rep;
	bool got = xread(up[0], &rep, sizeof rep);
	close(up[0]);
	int status = wait_child(pid);
	if (status == EXIT_SKIP) {
		g_test_skip("no private mount namespace here (needs CAP_SYS_ADMIN)");
		return;
	}
	g_assert_cmpint(status, ==, 0);
	g_assert_true(got);
	g_test_message("ENOSPC says: %s", rep.err);
	g_assert_cmpint(rep.rc_big, ==, -ENOSPC);
	g_assert_nonnull(strstr(rep.err, "lstest-nospace"));
	g_assert_nonnull(strstr(rep.err, "needs 95.0 MiB"));
	g_assert_nonnull(strstr(rep.err, "8 slots"));
	g_assert_nonnull(strstr(rep.err, "/dev/shm has 64.0 MiB free"));
	g_assert_nonnull(strstr(rep.err, "--shm-size="));
	g_assert_cmpint(rep.rc_small, ==, 0);
}

/* ---- the ring: overrun, torn, zero copy ---------------------------------- */

static void test_overrun(void)
{
	char name[64];
	seg_name(name, sizeof name, "overrun");
	struct ls_shm_config cfg = config(name, 4, 2, small_cams);
	struct ls_shm_writer *w = open_writer(&cfg);
	lsr_reader *r = open_reader(name);
	lsr_frameset fs;
	g_assert_cmpint(lsr_next(r, 0, &fs), ==, LSR_TIMEOUT);

	publish_pattern(w, small_cams, 2, 0);
	g_assert_cmpint(lsr_next(r, 1000, &fs), ==, LSR_OK);
	check_pattern(&fs, small_cams, 2, 0);
	g_assert_cmpint(lsr_release(r, &fs), ==, LSR_OK);
	g_assert_null(fs.frames);

	for (uint64_t s = 1; s <= 10; s++)
		publish_pattern(w, small_cams, 2, s);
	g_assert_cmpuint(ls_shm_writer_published(w), ==, 11);
	/* sets 1..10 published into 4 slots: the reader wanted set 1, more
	 * than nslots - 1 behind. It resumes at the newest (10): sets 1..9 are
	 * reported lost. (Resuming at the oldest left would hand a reader slower
	 * than the writer the very slot the writer rewrites next.) */
	g_assert_cmpint(lsr_next(r, 1000, &fs), ==, LSR_OVERRUN);
	g_assert_cmpuint(fs.skipped, ==, 9);
	g_assert_cmpint(lsr_next(r, 1000, &fs), ==, LSR_OK);
	check_pattern(&fs, small_cams, 2, 10);
	g_assert_cmpint(lsr_release(r, &fs), ==, LSR_OK);
	g_assert_cmpint(lsr_next(r, 0, &fs), ==, LSR_TIMEOUT);

	/* a reader opened late starts at the newest set */
	lsr_reader *late = open_reader(name);
	g_assert_cmpint(lsr_next(late, 0, &fs), ==, LSR_OK);
	g_assert_cmpuint(fs.set, ==, 10);
	g_assert_cmpint(lsr_release(late, &fs), ==, LSR_OK);
	lsr_close(&late);

	/* exactly nslots - 1 behind is no overrun */
	for (uint64_t s = 11; s <= 13; s++)
		publish_pattern(w, small_cams, 2, s);
	for (uint64_t s = 11; s <= 13; s++) {
		g_assert_cmpint(lsr_next(r, 1000, &fs), ==, LSR_OK);
		check_pattern(&fs, small_cams, 2, s);
		g_assert_cmpint(lsr_release(r, &fs), ==, LSR_OK);
	}
	lsr_close(&r);
	ls_shm_writer_close(&w);
}

static void test_torn(void)
{
	char name[64];
	seg_name(name, sizeof name, "torn");
	struct ls_shm_config cfg = config(name, 4, 2, small_cams);
	struct ls_shm_writer *w = open_writer(&cfg);
	publish_pattern(w, small_cams, 2, 0);
	publish_pattern(w, small_cams, 2, 1);
	lsr_reader *r = open_reader(name);
	lsr_frameset fs;
	g_assert_cmpint(lsr_next(r, 1000, &fs), ==, LSR_OK); /* a new reader starts at the newest: set 1 */
	check_pattern(&fs, small_cams, 2, 1);
	const uint8_t *view = fs.frames[0].planes[0];

	/* sets 2, 3, 4 go to the other three slots: set 1 stays intact */
	for (uint64_t s = 2; s <= 4; s++)
		publish_pattern(w, small_cams, 2, s);
	g_assert_cmpint(lsr_check(r, &fs), ==, LSR_OK);
	check_pattern(&fs, small_cams, 2, 1);

	/* set 5 goes into set 1's slot: the moment the writer begins, the set
	 * in use is torn, and the reader sees the new bytes (a view, no copy) */
	struct ls_shm_wslot ws;
	ls_shm_writer_begin(w, &ws);
	g_assert_cmpint(lsr_check(r, &fs), ==, LSR_TORN);
	ls_shm_writer_planes(w, &ws, 0);
	ws.planes[0][0] = (uint8_t)(view[0] + 1); /* the writer's mapping, not the reader's */
	g_assert_cmpuint(view[0], ==, (uint8_t)(pattern(1, 0, 0, 0, 0) + 1));
	g_assert_cmpint(lsr_check(r, &fs), ==, LSR_TORN);
	g_assert_cmpint(lsr_release(r, &fs), ==, LSR_TORN);

	/* a set finished after being begun is still torn for the old reader */
	uint32_t states[2] = { LSHM_PRESENT, LSHM_MISSING };
	int64_t caps[2] = { 1, 0 };
	ls_shm_writer_commit(w, &ws, 5, 0, 0, states, caps, NULL);
	lsr_frameset old = fs;
	g_assert_cmpint(lsr_check(r, &old), ==, LSR_TORN);

	/* and the reader goes on with the newest: it wanted set 2, which
	 * shares a slot with the next one the writer writes, so it is more than
	 * nslots - 1 behind; sets 2, 3 and 4 are reported lost */
	g_assert_cmpint(lsr_next(r, 1000, &fs), ==, LSR_OVERRUN);
	g_assert_cmpuint(fs.skipped, ==, 3);
	g_assert_cmpint(lsr_next(r, 1000, &fs), ==, LSR_OK);
	g_assert_cmpuint(fs.set, ==, 5);
	g_assert_cmpuint(fs.npresent, ==, 1);
	g_assert_cmpint(fs.frames[1].state, ==, LSHM_MISSING);
	g_assert_cmpuint(fs.frames[0].planes[0][0], ==, (uint8_t)(pattern(1, 0, 0, 0, 0) + 1));
	g_assert_cmpint(lsr_release(r, &fs), ==, LSR_OK);
	lsr_close(&r);
	ls_shm_writer_close(&w);
}

static void test_zero_copy(void)
{
	char name[64];
	seg_name(name, sizeof name, "zc");
	static const struct ls_shm_cam cams[3] = {
		{ "yuv", LS_FMT_I420, 64, 48 },
		{ "nv", LS_FMT_NV12, 30, 10 },
		{ "rgba", LS_FMT_RGBA, 17, 5 },
	};
	struct ls_shm_config cfg = config(name, 3, 3, cams);
	struct ls_shm_writer *w = open_writer(&cfg);
	lsr_reader *r = open_reader(name);
	const uint8_t *lo = (const uint8_t *)lsr_header(r), *hi = lo + lsr_header(r)->total_size;
	for (uint64_t s = 0; s < 5; s++) {
		publish_pattern(w, cams, 3, s);
		lsr_frameset fs;
		g_assert_cmpint(lsr_next(r, 1000, &fs), ==, LSR_OK);
		for (unsigned c = 0; c < 3; c++) {
			const struct lsr_frame *f = &fs.frames[c];
			for (int p = 0; p < f->nplanes; p++) {
				g_assert_true(f->planes[p] >= lo);
				g_assert_true(f->planes[p] + (size_t)f->strides[p] * f->rows[p] <= hi);
				g_assert_cmpuint((uintptr_t)f->planes[p] % 64, ==, 0);
			}
			for (int p = f->nplanes; p < LSHM_MAX_PLANES; p++)
				g_assert_null(f->planes[p]);
		}
		check_pattern(&fs, cams, 3, s);
		g_assert_cmpint(lsr_release(r, &fs), ==, LSR_OK);
	}
	lsr_close(&r);
	ls_shm_writer_close(&w);
}

/* ---- writer gone, reattach ----------------------------------------------- */

struct blocked_read {
	lsr_reader *r;
	int rc;
	int64_t returned_ns;
};

static void *blocked_reader(void *arg)
{
	struct blocked_read *b = arg;
	lsr_frameset fs;
	b->rc = lsr_next(b->r, 5000, &fs);
	b->returned_ns = ls_monotonic_ns();
	return NULL;
}

static void test_close_and_reattach(void)
{
	char name[64];
	seg_name(name, sizeof name, "reattach");
	struct ls_shm_config cfg = config(name, 4, 2, small_cams);
	struct ls_shm_writer *w = open_writer(&cfg);
	lsr_reader *r = open_reader(name);
	uint64_t gen = lsr_header(r)->generation;
	publish_pattern(w, small_cams, 2, 0);
	lsr_frameset fs;
	g_assert_cmpint(lsr_next(r, 1000, &fs), ==, LSR_OK);
	g_assert_cmpint(lsr_release(r, &fs), ==, LSR_OK);

	/* a reader asleep in lsr_next is woken by the close (the closed flag
	 * and the futex), well within the 1 s rule */
	struct blocked_read b = { .r = r };
	pthread_t t;
	g_assert_cmpint(pthread_create(&t, NULL, blocked_reader, &b), ==, 0);
	g_usleep(50000);
	int64_t closed_ns = ls_monotonic_ns();
	ls_shm_writer_close(&w);
	g_assert_cmpint(pthread_join(t, NULL), ==, 0);
	g_assert_cmpint(b.rc, ==, LSR_WRITER_GONE);
	g_assert_cmpint(b.returned_ns - closed_ns, <, 1000 * MS);
	g_assert_nonnull(strstr(lsr_error(r), name));
	g_assert_false(seg_exists(name));
	/* reported once; then only timeouts until someone takes the name */
	g_assert_cmpint(lsr_next(r, 0, &fs), ==, LSR_TIMEOUT);
	g_assert_cmpint(lsr_next(r, 20, &fs), ==, LSR_TIMEOUT);

	w = open_writer(&cfg);
	publish_pattern(w, small_cams, 2, 0);
	publish_pattern(w, small_cams, 2, 1);
	g_assert_cmpint(lsr_next(r, 1000, &fs), ==, LSR_REATTACHED);
	g_assert_cmpuint(lsr_header(r)->generation, !=, gen);
	g_assert_cmpint(lsr_next(r, 1000, &fs), ==, LSR_OK);
	check_pattern(&fs, small_cams, 2, 1); /* the new writer's newest */
	g_assert_cmpint(lsr_release(r, &fs), ==, LSR_OK);
	publish_pattern(w, small_cams, 2, 2);
	g_assert_cmpint(lsr_next(r, 1000, &fs), ==, LSR_OK);
	check_pattern(&fs, small_cams, 2, 2);
	g_assert_cmpint(lsr_release(r, &fs), ==, LSR_OK);
	lsr_close(&r);
	ls_shm_writer_close(&w);
}

/* A writer that stops without dying (hung, stopped, or dead but not yet
 * reaped) is known only by its heartbeat: "gone" must come 1 s after its
 * last sign of life, not later. If it then publishes again and dies for
 * real, that is reported too. */
static void test_hung_writer(void)
{
	char name[64];
	seg_name(name, sizeof name, "hung");
	struct ls_shm_config cfg = config(name, 4, 2, small_cams);
	int up[2], down[2];
	xpipe(up);
	xpipe(down);
	pid_t pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		if (ls_shm_writer_open(&cfg, &child_writer, NULL, 0) < 0)
			_exit(1);
		uint64_t s = 0;
		publish_pattern(child_writer, small_cams, 2, s++);
		child_send(up[1], "r", 1);
		char c;
		/* no heartbeat while waiting for the parent: it looks hung */
		while (read(down[0], &c, 1) == 1 && c == 'p')
			publish_pattern(child_writer, small_cams, 2, s++);
		_exit(0); /* 'x': dies without closing */
	}
	close(up[1]);
	close(down[0]);
	char c = 0;
	g_assert_true(xread(up[0], &c, 1));
	lsr_reader *r = open_reader(name);
	lsr_frameset fs;
	g_assert_cmpint(lsr_next(r, 1000, &fs), ==, LSR_OK);
	int64_t last_sign = fs.publish_mono_ns; /* the heartbeat goes with every publish */
	g_assert_cmpint(lsr_release(r, &fs), ==, LSR_OK);
	/* start waiting out of phase with the heartbeat, as a reader busy with
	 * its last set would: a reader polling every 250 ms from here would
	 * only notice at 1.2 s */
	g_usleep(200000);
	g_assert_cmpint(lsr_next(r, 3000, &fs), ==, LSR_WRITER_GONE);
	int64_t after = ls_monotonic_ns() - last_sign;
	g_test_message("hung writer reported gone %.1f ms after its last heartbeat", after / 1e6);
	/* Never before 1 s; at most 1 s + 150 ms: the reader wakes 1 ms past
	 * the deadline, the rest is slack for a loaded 2-core machine's
	 * scheduling (and valgrind) — without the wake-at-deadline the bound
	 * was 1.25 s (250 ms sleeps). */
	g_assert_cmpint(after, >=, 1000 * MS);
	g_assert_cmpint(after, <=, 1150 * MS);

	/* it comes back */
	xwrite(down[1], "p", 1);
	g_assert_cmpint(lsr_next(r, 3000, &fs), ==, LSR_OK);
	g_assert_cmpuint(fs.set, ==, 1);
	g_assert_cmpint(lsr_release(r, &fs), ==, LSR_OK);
	/* and dies for real (reaped): reported again, at once */
	xwrite(down[1], "x", 1);
	g_assert_cmpint(wait_child(pid), ==, 0);
	int64_t t0 = ls_monotonic_ns();
	g_assert_cmpint(lsr_next(r, 3000, &fs), ==, LSR_WRITER_GONE);
	g_assert_cmpint(ls_monotonic_ns() - t0, <, 1000 * MS);
	lsr_close(&r);
	close(up[0]);
	close(down[1]);
	seg_unlink(name);
}

/* ---- publishing a real frameset ------------------------------------------ */

#define SRC_PAD_BYTE 0xEE /* source row padding: must never reach the segment */

/* A frame whose rows are @pad bytes longer than the picture; each plane is
 * its own allocation of exactly what the frame describes (ASan catches a
 * read past the last row). */
static void src_frame(struct ls_frame *f, enum ls_pixfmt fmt, int w, int h, int pad, unsigned seed)
{
	memset(f, 0, sizeof *f);
	atomic_init(&f->refcount, 1);
	f->format = fmt;
	f->width = w;
	f->height = h;
	f->nplanes = plane_count(fmt);
	f->capture_ns = 1000 + seed;
	for (int p = 0; p < f->nplanes; p++) {
		int rowb = plane_row_bytes(fmt, w, p), rows = plane_rows(fmt, h, p);
		f->strides[p] = rowb + pad + p;
		size_t size = (size_t)f->strides[p] * (size_t)(rows - 1) + (size_t)rowb;
		f->planes[p] = g_malloc(size);
		memset(f->planes[p], SRC_PAD_BYTE, size);
		for (int y = 0; y < rows; y++)
			for (int x = 0; x < rowb; x++)
				f->planes[p][(size_t)y * f->strides[p] + x] = (uint8_t)(seed * 13 + (unsigned)p * 50 +
											(unsigned)y * 3 + (unsigned)x);
	}
}

static void src_frame_free(struct ls_frame *f)
{
	for (int p = 0; p < f->nplanes; p++)
		g_free(f->planes[p]);
}

static void check_copied(const struct lsr_frame *got, const struct ls_frame *src)
{
	g_assert_cmpint(got->width, ==, src->width);
	g_assert_cmpint(got->height, ==, src->height);
	g_assert_cmpint(got->nplanes, ==, src->nplanes);
	g_assert_cmpint(got->capture_ns, ==, src->capture_ns);
	for (int p = 0; p < src->nplanes; p++) {
		int rowb = plane_row_bytes(src->format, src->width, p);
		g_assert_cmpint(got->rows[p], ==, plane_rows(src->format, src->height, p));
		g_assert_cmpint(got->strides[p] % 64, ==, 0);
		g_assert_cmpint(got->strides[p], >=, rowb);
		for (int y = 0; y < got->rows[p]; y++) {
			const uint8_t *row = got->planes[p] + (size_t)y * got->strides[p];
			g_assert_cmpmem(row, rowb, src->planes[p] + (size_t)y * src->strides[p], rowb);
			for (int x = rowb; x < got->strides[p]; x++)
				g_assert_cmpuint(row[x], ==, 0); /* the segment's padding, untouched */
		}
	}
	g_assert_cmpuint(got->checksum, ==, lsr_frame_checksum(got));
}

static void test_publish_frameset(void)
{
	char name[64];
	seg_name(name, sizeof name, "publish");
	static const struct ls_shm_cam cams[4] = {
		{ "i420", LS_FMT_I420, 33, 17 },
		{ "nv12", LS_FMT_NV12, 10, 6 },
		{ "bgrx", LS_FMT_BGRX, 20, 6 },
		{ "gray", LS_FMT_GRAY8, 16, 4 },
	};
	struct ls_shm_config cfg = config(name, 4, 4, cams);
	cfg.checksums = true;
	struct ls_shm_writer *w = open_writer(&cfg);
	lsr_reader *r = open_reader(name);

	struct ls_frame f[4];
	src_frame(&f[0], LS_FMT_I420, 33, 17, 7, 1);
	src_frame(&f[1], LS_FMT_NV12, 10, 6, 3, 2);
	src_frame(&f[2], LS_FMT_BGRX, 20, 6, 12, 3);
	src_frame(&f[3], LS_FMT_GRAY8, 16, 4, 0, 4);
	struct ls_frameset *set = g_malloc0(sizeof *set + 4 * sizeof(struct ls_entry));
	atomic_init(&set->refcount, 1);
	set->ncams = 4;
	set->n = 42;
	set->slot_ns = 42 * 33 * MS;
	set->skew_ns = 1234;
	set->entries[0] = (struct ls_entry){ &f[0], LS_ENTRY_PRESENT, 100 };
	set->entries[1] = (struct ls_entry){ &f[1], LS_ENTRY_PRESENT, -200 };
	set->entries[2] = (struct ls_entry){ &f[2], LS_ENTRY_HELD, 30 * MS };
	set->entries[3] = (struct ls_entry){ NULL, LS_ENTRY_MISSING, 0 };
	set->npresent = 2;
	set->nheld = 1;

	g_assert_cmpint(ls_shm_writer_publish(w, set), ==, 0);
	lsr_frameset fs;
	g_assert_cmpint(lsr_next(r, 1000, &fs), ==, LSR_OK);
	g_assert_cmpuint(fs.set, ==, 0);
	g_assert_cmpint(fs.n, ==, 42);
	g_assert_cmpint(fs.slot_ns, ==, 42 * 33 * MS);
	g_assert_cmpint(fs.skew_ns, ==, 1234);
	g_assert_cmpuint(fs.ncams, ==, 4);
	g_assert_cmpuint(fs.npresent, ==, 2);
	g_assert_cmpint(fs.frames[0].state, ==, LSHM_PRESENT);
	g_assert_cmpint(fs.frames[0].offset_ns, ==, 100);
	g_assert_cmpint(fs.frames[1].state, ==, LSHM_PRESENT);
	g_assert_cmpint(fs.frames[1].offset_ns, ==, -200);
	g_assert_cmpint(fs.frames[2].state, ==, LSHM_HELD);
	g_assert_cmpint(fs.frames[2].offset_ns, ==, 30 * MS);
	for (int i = 0; i < 3; i++)
		check_copied(&fs.frames[i], &f[i]);
	const struct lsr_frame *miss = &fs.frames[3];
	g_assert_cmpint(miss->state, ==, LSHM_MISSING);
	g_assert_cmpstr(miss->camera, ==, "gray");
	g_assert_cmpint(miss->capture_ns, ==, 0);
	g_assert_cmpuint(miss->checksum, ==, 0);
	for (int p = 0; p < LSHM_MAX_PLANES; p++)
		g_assert_null(miss->planes[p]);
	g_assert_cmpint(lsr_release(r, &fs), ==, LSR_OK);

	/* the missing camera now present, sharing the tight GRAY8 stride */
	set->entries[3] = (struct ls_entry){ &f[3], LS_ENTRY_PRESENT, 0 };
	set->n = 43;
	g_assert_cmpint(ls_shm_writer_publish(w, set), ==, 0);
	g_assert_cmpint(lsr_next(r, 1000, &fs), ==, LSR_OK);
	g_assert_cmpint(fs.n, ==, 43);
	check_copied(&fs.frames[3], &f[3]);
	g_assert_cmpint(lsr_release(r, &fs), ==, LSR_OK);

	/* a frame of another size or format: refused, nothing published */
	struct ls_frame bigger;
	src_frame(&bigger, LS_FMT_NV12, 12, 6, 0, 5);
	set->entries[1].frame = &bigger;
	g_assert_cmpint(ls_shm_writer_publish(w, set), ==, -EXDEV);
	struct ls_frame other;
	src_frame(&other, LS_FMT_I420, 10, 6, 0, 6);
	set->entries[1].frame = &other;
	g_assert_cmpint(ls_shm_writer_publish(w, set), ==, -EXDEV);
	g_assert_cmpuint(ls_shm_writer_published(w), ==, 2);
	g_assert_cmpint(lsr_next(r, 0, &fs), ==, LSR_TIMEOUT);
	/* ...and a missing camera's format does not matter */
	set->entries[1] = (struct ls_entry){ NULL, LS_ENTRY_MISSING, 0 };
	g_assert_cmpint(ls_shm_writer_publish(w, set), ==, 0);
	g_assert_cmpint(lsr_next(r, 1000, &fs), ==, LSR_OK);
	g_assert_cmpint(fs.frames[1].state, ==, LSHM_MISSING);
	g_assert_cmpint(lsr_release(r, &fs), ==, LSR_OK);

	src_frame_free(&bigger);
	src_frame_free(&other);
	for (int i = 0; i < 4; i++)
		src_frame_free(&f[i]);
	g_free(set);
	lsr_close(&r);
	ls_shm_writer_close(&w);
}

/* The writer's checksum and the reader's are one function of the same bytes. */
static void test_checksum(void)
{
	uint8_t a[3 * 64], b[2 * 64];
	for (size_t i = 0; i < sizeof a; i++)
		a[i] = (uint8_t)(i * 7);
	for (size_t i = 0; i < sizeof b; i++)
		b[i] = (uint8_t)(i * 11 + 1);
	uint8_t *planes[2] = { a, b };
	int strides[2] = { 64, 64 }, rows[2] = { 3, 2 };
	struct lsr_frame f = { .nplanes = 2, .planes = { a, b }, .strides = { 64, 64 }, .rows = { 3, 2 } };
	uint64_t w = lshm_checksum((const uint8_t *const *)planes, strides, rows, 2);
	g_assert_cmpuint(w, ==, lsr_frame_checksum(&f));
	/* FNV-1a 64 of nothing is its offset basis; of "a" the published value */
	g_assert_cmpuint(lshm_checksum((const uint8_t *const *)planes, strides, rows, 0), ==,
			 UINT64_C(0xcbf29ce484222325));
	uint8_t one = 'a';
	uint8_t *p1[1] = { &one };
	int s1[1] = { 1 }, r1[1] = { 1 };
	g_assert_cmpuint(lshm_checksum((const uint8_t *const *)p1, s1, r1, 1), ==, UINT64_C(0xaf63dc4c8601ec8c));
	a[100] ^= 1;
	g_assert_cmpuint(lsr_frame_checksum(&f), !=, w);
	g_assert_cmpstr(lsr_result_name(LSR_TORN), ==, "torn");
	g_assert_cmpstr(lsr_result_name(LSR_WRITER_GONE), ==, "writer gone");
	g_assert_cmpstr(lsr_result_name(42), ==, "error");
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/shm/layout", test_layout);
	g_test_add_func("/shm/names", test_names);
	g_test_add_func("/shm/open-errors", test_open_errors);
	g_test_add_func("/shm/permissions", test_permissions);
	g_test_add_func("/shm/read-only-reader", test_read_only_reader);
	g_test_add_func("/shm/stale-dead-writer", test_stale_dead_writer);
	g_test_add_func("/shm/live-writer-busy", test_live_writer_busy);
	g_test_add_func("/shm/close-keeps-successor", test_close_keeps_successor);
	g_test_add_func("/shm/no-space", test_no_space);
	g_test_add_func("/shm/overrun", test_overrun);
	g_test_add_func("/shm/torn", test_torn);
	g_test_add_func("/shm/zero-copy", test_zero_copy);
	g_test_add_func("/shm/close-and-reattach", test_close_and_reattach);
	g_test_add_func("/shm/hung-writer", test_hung_writer);
	g_test_add_func("/shm/publish-frameset", test_publish_frameset);
	g_test_add_func("/shm/checksum", test_checksum);
	return g_test_run();
}
