/* shm-tool — drives the shared-memory hand-off from outside lockstep, for
 * tests and benchmarks.
 *
 *   shm-tool write NAME [--cams N] [--width W] [--height H] [--slots K]
 *                       [--rate HZ] [--seconds S] [--checksums] [--group GID]
 *       a zero-copy producer: renders each frame in place in the slot
 *       (content derived from the set number), publishes at HZ (0: as fast
 *       as possible), prints "published N" at the end.
 *   shm-tool read NAME [--seconds S] [--verify] [--slow-ms MS] [--quiet]
 *       a C reader: waits for sets, optionally verifies every frame's
 *       checksum (a set whose seqlock changed is counted torn, never
 *       verified as good), optionally sleeps MS while holding each set.
 *       Prints one JSON line of counts at the end. Exit 1 if a frame whose
 *       set was intact failed its checksum.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lockstep_shm.h"
#include "ls_shm.h"
#include "ls_time.h"

static volatile sig_atomic_t stop;
static void on_sig(int s)
{
	(void)s;
	stop = 1;
}

static double arg_num(int argc, char **argv, const char *name, double def)
{
	for (int i = 0; i + 1 < argc; i++)
		if (!strcmp(argv[i], name))
			return atof(argv[i + 1]);
	return def;
}

static bool arg_flag(int argc, char **argv, const char *name)
{
	for (int i = 0; i < argc; i++)
		if (!strcmp(argv[i], name))
			return true;
	return false;
}

/* Cheap per-row content that differs for every set, camera and row. */
static void render(uint8_t *p, int stride, int rows, uint64_t set, unsigned cam, unsigned plane)
{
	for (int y = 0; y < rows; y++) {
		uint64_t v = (set * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)cam << 48) ^ ((uint64_t)plane << 40) ^
			     (uint64_t)y;
		memset(p + (size_t)y * stride, (int)(v & 0xff), (size_t)stride);
		memcpy(p + (size_t)y * stride, &v, sizeof v < (size_t)stride ? sizeof v : (size_t)stride);
	}
}

static int do_write(const char *name, int argc, char **argv)
{
	unsigned ncams = (unsigned)arg_num(argc, argv, "--cams", 4);
	int w = (int)arg_num(argc, argv, "--width", 320), h = (int)arg_num(argc, argv, "--height", 180);
	double rate = arg_num(argc, argv, "--rate", 30), secs = arg_num(argc, argv, "--seconds", 5);
	struct ls_shm_cam cams[256];
	char names[256][16];
	for (unsigned c = 0; c < ncams && c < 256; c++) {
		snprintf(names[c], sizeof names[c], "cam%u", c);
		cams[c] = (struct ls_shm_cam){ names[c], LS_FMT_I420, w, h };
	}
	struct ls_shm_config cfg = {
		.name = name,
		.nslots = (unsigned)arg_num(argc, argv, "--slots", 8),
		.ncams = ncams,
		.cams = cams,
		.rate = { rate > 0 ? (int)rate : 30, 1 },
		.group = arg_num(argc, argv, "--group", -1) < 0 ? (gid_t)-1 : (gid_t)arg_num(argc, argv, "--group", -1),
		.checksums = arg_flag(argc, argv, "--checksums"),
	};
	struct ls_shm_writer *wr;
	char err[512];
	if (ls_shm_writer_open(&cfg, &wr, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	printf("ready %zu\n", ls_shm_writer_size(wr));
	fflush(stdout);
	int64_t t0 = ls_monotonic_ns(), period = rate > 0 ? (int64_t)(1e9 / rate) : 0;
	uint32_t states[256];
	int64_t caps[256];
	for (uint64_t set = 0; !stop && ls_monotonic_ns() - t0 < (int64_t)(secs * 1e9); set++) {
		if (period) {
			struct timespec ts = { .tv_sec = (t0 + (int64_t)set * period) / 1000000000,
					       .tv_nsec = (t0 + (int64_t)set * period) % 1000000000 };
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		}
		struct ls_shm_wslot ws;
		ls_shm_writer_begin(wr, &ws);
		for (unsigned c = 0; c < ncams; c++) {
			ls_shm_writer_planes(wr, &ws, c);
			int rows[3] = { h, (h + 1) / 2, (h + 1) / 2 };
			for (unsigned p = 0; p < 3; p++)
				render(ws.planes[p], ws.strides[p], rows[p], set, c, p);
			states[c] = LSHM_PRESENT;
			caps[c] = ls_realtime_ns();
		}
		ls_shm_writer_commit(wr, &ws, (int64_t)set, ls_realtime_ns(), 0, states, caps, NULL);
	}
	printf("published %llu\n", (unsigned long long)ls_shm_writer_published(wr));
	ls_shm_writer_close(&wr);
	return 0;
}

static int do_read(const char *name, int argc, char **argv)
{
	double secs = arg_num(argc, argv, "--seconds", 5), slow_ms = arg_num(argc, argv, "--slow-ms", 0);
	bool verify = arg_flag(argc, argv, "--verify"), quiet = arg_flag(argc, argv, "--quiet");
	lsr_reader *r = NULL;
	char err[512];
	int64_t t0 = ls_monotonic_ns();
	/* the writer may not be up yet: retry for the first second */
	while (lsr_open(name, &r, err, sizeof err) < 0) {
		if (ls_monotonic_ns() - t0 > LS_NS_PER_SEC) {
			fprintf(stderr, "%s\n", err);
			return 2;
		}
		usleep(20000);
	}
	uint64_t ok = 0, torn = 0, bad = 0, overruns = 0, skipped = 0, gone = 0, reattached = 0, timeouts = 0;
	int64_t first_gone_ns = 0, last_pub_ns = ls_monotonic_ns();
	while (!stop && ls_monotonic_ns() - t0 < (int64_t)(secs * 1e9)) {
		lsr_frameset set;
		int rc = lsr_next(r, 200, &set);
		switch (rc) {
		case LSR_OK: {
			last_pub_ns = ls_monotonic_ns();
			bool good = true;
			if (verify)
				for (unsigned c = 0; c < set.ncams; c++)
					if (set.frames[c].state == LSHM_PRESENT &&
					    lsr_frame_checksum(&set.frames[c]) != set.frames[c].checksum)
						good = false;
			if (slow_ms > 0)
				usleep((useconds_t)(slow_ms * 1000));
			if (lsr_release(r, &set) != LSR_OK) {
				torn++; /* overwritten while in use: discarded, whatever it read */
			} else if (!good) {
				bad++; /* an intact set with a wrong checksum: must never happen */
				fprintf(stderr, "BAD: set %llu passed the seqlock but failed its checksum\n",
					(unsigned long long)set.set);
			} else {
				ok++;
			}
			break;
		}
		case LSR_TORN:
			torn++;
			break;
		case LSR_OVERRUN:
			overruns++;
			skipped += set.skipped;
			break;
		case LSR_WRITER_GONE:
			gone++;
			if (!first_gone_ns)
				first_gone_ns = ls_monotonic_ns() - last_pub_ns;
			if (!quiet)
				fprintf(stderr, "%s\n", lsr_error(r));
			break;
		case LSR_REATTACHED:
			reattached++;
			break;
		case LSR_TIMEOUT:
			timeouts++;
			break;
		default:
			break;
		}
	}
	printf("{\"ok\":%llu,\"torn\":%llu,\"bad\":%llu,\"overruns\":%llu,\"skipped\":%llu,\"gone\":%llu,"
	       "\"gone_after_ms\":%.1f,\"reattached\":%llu,\"timeouts\":%llu}\n",
	       (unsigned long long)ok, (unsigned long long)torn, (unsigned long long)bad, (unsigned long long)overruns,
	       (unsigned long long)skipped, (unsigned long long)gone, first_gone_ns / 1e6,
	       (unsigned long long)reattached, (unsigned long long)timeouts);
	lsr_close(&r);
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	signal(SIGINT, on_sig);
	signal(SIGTERM, on_sig);
	if (argc < 3) {
		fprintf(stderr, "usage: shm-tool write|read NAME [options]\n");
		return 2;
	}
	if (!strcmp(argv[1], "write"))
		return do_write(argv[2], argc - 3, argv + 3);
	if (!strcmp(argv[1], "read"))
		return do_read(argv[2], argc - 3, argv + 3);
	fprintf(stderr, "shm-tool: unknown mode %s\n", argv[1]);
	return 2;
}
