/* The bus spool (lib/ls_spool.c): pushes per second, replay (peek + ack in
 * batches of 100) per second, and pushes per second at the bound (each push
 * drops the oldest), against a plain append-only file of the same messages
 * in the same run: one write(2) per message, no fsync, and reading it back
 * with read(2). Wall time (CLOCK_MONOTONIC) and CPU time
 * (CLOCK_PROCESS_CPUTIME_ID) of each phase.
 *
 * usage: bench-spool [MESSAGES] [PAYLOAD_BYTES] [DIR]
 *        (defaults: 100000 300 .; DIR is where the files go, removed after) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ls_spool.h"

#define SUBJECT "lockstep.rig1.frameset"
#define BATCH 100

static double now_s(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct phase {
	double wall, cpu;
};

static void begin(struct phase *p)
{
	p->wall = now_s(CLOCK_MONOTONIC);
	p->cpu = now_s(CLOCK_PROCESS_CPUTIME_ID);
}

static void end(struct phase *p)
{
	p->wall = now_s(CLOCK_MONOTONIC) - p->wall;
	p->cpu = now_s(CLOCK_PROCESS_CPUTIME_ID) - p->cpu;
}

static void report(const char *what, int n, const struct phase *p)
{
	printf("%-34s %8.0f msg/s  (%6.3f s wall, %6.3f s CPU, %5.2f us CPU/msg)\n", what, n / p->wall, p->wall, p->cpu,
	       p->cpu / n * 1e6);
}

static long long file_bytes(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

static void make_msg(int i, char *id, size_t idn, unsigned char *data, size_t len)
{
	snprintf(id, idn, "rig1-frameset-%08d", i);
	for (size_t k = 0; k < len; k++)
		data[k] = (unsigned char)('a' + (i + k) % 26);
}

static void remove_spool(const char *path)
{
	char p[4200];
	unlink(path);
	snprintf(p, sizeof p, "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", path);
	unlink(p);
}

/* The slowest push of the last push_all, and how many took over 1 ms (the
 * ones that ran a WAL checkpoint: the publisher thread waits that long). */
static double slowest_s;
static int over_1ms;

/* Pushes @n messages into a new spool at @path bounded to @max bytes. */
static int push_all(const char *path, int64_t max, int n, size_t len, struct phase *ph, struct ls_spool **out)
{
	char *err = NULL;
	remove_spool(path);
	struct ls_spool *s = ls_spool_open(path, max, &err);
	if (!s) {
		fprintf(stderr, "%s\n", err ? err : "spool open failed");
		free(err);
		return -1;
	}
	unsigned char *data = malloc(len ? len : 1);
	char id[64];
	slowest_s = 0;
	over_1ms = 0;
	begin(ph);
	for (int i = 0; i < n; i++) {
		make_msg(i, id, sizeof id, data, len);
		double t0 = now_s(CLOCK_MONOTONIC);
		int r = ls_spool_push(s, SUBJECT, id, data, len);
		double dt = now_s(CLOCK_MONOTONIC) - t0;
		slowest_s = dt > slowest_s ? dt : slowest_s;
		over_1ms += dt > 1e-3;
		if (r < 0) {
			char *e = ls_spool_last_error(s);
			fprintf(stderr, "push %d: %s (%s)\n", i, strerror(-r), e ? e : "");
			free(e);
			free(data);
			ls_spool_close(&s);
			return -1;
		}
	}
	end(ph);
	free(data);
	*out = s;
	return 0;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100000;
	size_t len = argc > 2 ? (size_t)atoi(argv[2]) : 300;
	const char *dir = argc > 3 ? argv[3] : ".";
	if (n <= 0) {
		fprintf(stderr, "usage: bench-spool [MESSAGES] [PAYLOAD_BYTES] [DIR]\n");
		return 2;
	}
	char spool_path[4096], flat_path[4096];
	snprintf(spool_path, sizeof spool_path, "%s/bench-spool-%d.db", dir, (int)getpid());
	snprintf(flat_path, sizeof flat_path, "%s/bench-spool-%d.log", dir, (int)getpid());
	size_t msg_bytes = strlen(SUBJECT) + strlen("rig1-frameset-00000000") + len;
	printf("%d messages of %zu payload bytes (%zu with subject and id), files in %s\n", n, len, msg_bytes, dir);

	/* The baseline: one framed record per write(2), appended, no fsync. */
	unsigned char *rec = malloc(8 + msg_bytes + 64), *payload = malloc(len ? len : 1);
	char id[64];
	struct phase ph;
	int fd = open(flat_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "%s: %s\n", flat_path, strerror(errno));
		return 1;
	}
	begin(&ph);
	for (int i = 0; i < n; i++) {
		/* record: u32 length, subject\0, id\0, payload; one write */
		make_msg(i, id, sizeof id, payload, len);
		size_t sl = strlen(SUBJECT) + 1, il = strlen(id) + 1;
		memcpy(rec + 4, SUBJECT, sl);
		memcpy(rec + 4 + sl, id, il);
		memcpy(rec + 4 + sl + il, payload, len);
		uint32_t body = (uint32_t)(sl + il + len);
		memcpy(rec, &body, 4);
		if (write(fd, rec, 4 + body) != (ssize_t)(4 + body)) {
			fprintf(stderr, "%s: %s\n", flat_path, strerror(errno));
			return 1;
		}
	}
	end(&ph);
	close(fd);
	struct phase flat_push = ph;
	long long flat_size = file_bytes(flat_path);

	fd = open(flat_path, O_RDONLY | O_CLOEXEC);
	int got = 0;
	begin(&ph);
	for (;;) {
		uint32_t body;
		if (read(fd, &body, 4) != 4 || read(fd, rec + 4, body) != (ssize_t)body)
			break;
		got++;
	}
	end(&ph);
	close(fd);
	struct phase flat_read = ph;
	unlink(flat_path);
	if (got != n) {
		fprintf(stderr, "baseline read back %d of %d\n", got, n);
		return 1;
	}

	/* The spool, with room for all. */
	struct ls_spool *s = NULL;
	if (push_all(spool_path, (int64_t)n * (int64_t)msg_bytes * 2, n, len, &ph, &s) < 0)
		return 1;
	struct phase spool_push = ph;
	double push_slowest = slowest_s;
	int push_over_1ms = over_1ms;
	long long spool_size = file_bytes(spool_path);
	char walp[4200];
	snprintf(walp, sizeof walp, "%s-wal", spool_path);
	long long wal_size = file_bytes(walp);

	struct ls_spool_msg m[BATCH];
	int replayed = 0;
	int64_t expect = 1;
	begin(&ph);
	for (;;) {
		int k = ls_spool_peek(s, m, BATCH);
		if (k <= 0)
			break;
		for (int j = 0; j < k; j++)
			if (m[j].seq != expect++)
				fprintf(stderr, "out of order at %lld\n", (long long)m[j].seq);
		replayed += k;
		ls_spool_ack(s, m[k - 1].seq);
		ls_spool_msgs_free(m, k);
	}
	end(&ph);
	struct phase spool_replay = ph;
	ls_spool_close(&s);
	if (replayed != n) {
		fprintf(stderr, "replayed %d of %d\n", replayed, n);
		return 1;
	}

	/* At the bound: room for a quarter, so three quarters of the pushes
	 * drop the oldest first (the broker that never comes up). */
	if (push_all(spool_path, (int64_t)(n / 4) * (int64_t)msg_bytes, n, len, &ph, &s) < 0)
		return 1;
	struct phase full_push = ph;
	struct ls_spool_stats st;
	ls_spool_stats(s, &st);
	ls_spool_close(&s);
	remove_spool(spool_path);

	report("append file: write(2), no fsync", n, &flat_push);
	report("spool: push", n, &spool_push);
	report("spool: push at the bound", n, &full_push);
	report("append file: read(2) back", n, &flat_read);
	report("spool: replay (peek+ack by 100)", n, &spool_replay);
	printf("push: slowest %.1f ms, %d of %d over 1 ms\n", push_slowest * 1e3, push_over_1ms, n);
	printf("at the bound: %llu dropped, %lld held\n", (unsigned long long)st.dropped, (long long)st.held);
	printf("push: spool/file wall time %.2fx, CPU time %.2fx\n", spool_push.wall / flat_push.wall,
	       spool_push.cpu / flat_push.cpu);
	printf("replay: spool/file wall time %.2fx\n", spool_replay.wall / flat_read.wall);
	printf("on disk after the pushes: spool %lld bytes + WAL %lld bytes, file %lld bytes (messages: %lld)\n",
	       spool_size, wal_size, flat_size, (long long)n * (long long)msg_bytes);
	free(rec);
	free(payload);
	return 0;
}
