/* Unit tests of the bus spool (lib/ls_spool.c): order through push, peek
 * and ack; the byte bound (oldest dropped and counted, oversize refused);
 * persistence across close and across a crash (a child that _exit()s or is
 * killed without closing); files that are not spools; two threads. Each test
 * works in a directory of its own under $TMPDIR, removed at the end. */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ls_spool.h"

#define SUBJECT "lockstep.rig.frameset"

struct tmp {
	char *dir;
	char *path; /* dir/spool.db */
};

static void tmp_init(struct tmp *t)
{
	GError *error = NULL;
	t->dir = g_dir_make_tmp("test-spool-XXXXXX", &error);
	g_assert_no_error(error);
	t->path = g_build_filename(t->dir, "spool.db", NULL);
}

static void tmp_clear(struct tmp *t)
{
	GDir *d = g_dir_open(t->dir, 0, NULL);
	const char *name;
	while (d && (name = g_dir_read_name(d))) {
		char *p = g_build_filename(t->dir, name, NULL);
		g_unlink(p);
		g_free(p);
	}
	if (d)
		g_dir_close(d);
	g_rmdir(t->dir);
	g_free(t->path);
	g_free(t->dir);
}

/* Message @i: id "m-<i>", a payload of @len bytes that encodes @i. */
static void fill(int i, char *id, size_t idn, unsigned char *data, size_t len)
{
	snprintf(id, idn, "m-%d", i);
	for (size_t k = 0; k < len; k++)
		data[k] = (unsigned char)(i * 31 + k);
}

static int push_i(struct ls_spool *s, int i, size_t len)
{
	char id[32];
	unsigned char data[512];
	g_assert_cmpuint(len, <=, sizeof data);
	fill(i, id, sizeof id, data, len);
	return ls_spool_push(s, SUBJECT, id, data, len);
}

/* Asserts @m is message @i with a payload of @len bytes. */
static void assert_msg(const struct ls_spool_msg *m, int i, size_t len)
{
	char id[32];
	unsigned char data[512];
	fill(i, id, sizeof id, data, len);
	g_assert_cmpstr(m->subject, ==, SUBJECT);
	g_assert_cmpstr(m->msg_id, ==, id);
	g_assert_cmpuint(m->len, ==, len);
	g_assert_cmpmem(m->data, m->len, data, len);
}

static void assert_one_line(const char *err, const char *path)
{
	g_assert_nonnull(err);
	g_assert_nonnull(strstr(err, path));
	g_assert_null(strchr(err, '\n'));
}

static void test_order(void)
{
	struct tmp t;
	tmp_init(&t);
	char *err = NULL;
	struct ls_spool *s = ls_spool_open(t.path, 1 << 20, &err);
	g_assert_nonnull(s);
	g_assert_null(err);
	struct ls_spool_msg m[8];
	g_assert_cmpint(ls_spool_peek(s, m, 8), ==, 0);

	int64_t t0 = g_get_real_time() * 1000;
	for (int i = 1; i <= 20; i++)
		g_assert_cmpint(push_i(s, i, 40), ==, 0);
	g_assert_cmpint(ls_spool_peek(s, m, 5), ==, 5);
	for (int i = 0; i < 5; i++) {
		g_assert_cmpint(m[i].seq, ==, i + 1);
		assert_msg(&m[i], i + 1, 40);
		g_assert_cmpint(m[i].spooled_ns, >=, t0 - 1000000000);
	}
	ls_spool_msgs_free(m, 5);
	g_assert_null(m[0].data);
	/* peek again without an ack: the same messages (a failed publish) */
	g_assert_cmpint(ls_spool_peek(s, m, 1), ==, 1);
	g_assert_cmpint(m[0].seq, ==, 1);
	ls_spool_msgs_free(m, 1);

	g_assert_cmpint(ls_spool_ack(s, 3), ==, 3);
	g_assert_cmpint(ls_spool_ack(s, 3), ==, 0);
	g_assert_cmpint(ls_spool_ack(s, 0), ==, 0);
	g_assert_cmpint(ls_spool_peek(s, m, 8), ==, 8);
	for (int i = 0; i < 8; i++) {
		g_assert_cmpint(m[i].seq, ==, i + 4);
		assert_msg(&m[i], i + 4, 40);
	}
	ls_spool_msgs_free(m, 8);

	struct ls_spool_stats st;
	ls_spool_stats(s, &st);
	size_t one = strlen(SUBJECT) + strlen("m-10") + 40;
	g_assert_cmpint(st.held, ==, 17);
	g_assert_cmpint(st.pushed, ==, 20);
	g_assert_cmpint(st.acked, ==, 3);
	g_assert_cmpint(st.dropped, ==, 0);
	/* ids m-4..m-9 are one byte shorter than m-10..m-20 */
	g_assert_cmpint(st.held_bytes, ==, (int64_t)(17 * one - 6));

	/* an empty payload and no msg_id */
	g_assert_cmpint(ls_spool_push(s, "x", NULL, NULL, 0), ==, 0);
	g_assert_cmpint(ls_spool_ack(s, INT64_MAX), ==, 18);
	g_assert_cmpint(ls_spool_peek(s, m, 8), ==, 0);
	g_assert_cmpint(ls_spool_push(s, "x", NULL, NULL, 0), ==, 0);
	g_assert_cmpint(ls_spool_peek(s, m, 8), ==, 1);
	g_assert_cmpint(m[0].seq, ==, 22); /* sequence numbers are never reused */
	g_assert_cmpstr(m[0].msg_id, ==, "");
	g_assert_cmpuint(m[0].len, ==, 0);
	ls_spool_msgs_free(m, 1);
	ls_spool_stats(s, &st);
	g_assert_cmpint(st.held, ==, 1);
	g_assert_cmpint(st.held_bytes, ==, 1);

	g_assert_cmpint(ls_spool_push(s, NULL, "a", "b", 1), ==, -EINVAL);
	g_assert_cmpint(ls_spool_push(s, "x", "a", NULL, 1), ==, -EINVAL);
	g_assert_cmpint(ls_spool_peek(s, m, 0), ==, -EINVAL);
	g_assert_null(ls_spool_last_error(s));
	ls_spool_close(&s);
	g_assert_null(s);
	ls_spool_close(&s);
	tmp_clear(&t);
}

static void test_bound(void)
{
	struct tmp t;
	tmp_init(&t);
	/* each message: 21 (subject) + 4 ("m-NN") + 75 = 100 bytes */
	const size_t len = 100 - strlen(SUBJECT) - 4;
	struct ls_spool *s = ls_spool_open(t.path, 1000, NULL);
	g_assert_nonnull(s);
	for (int i = 10; i < 20; i++)
		g_assert_cmpint(push_i(s, i, len), ==, 0);
	struct ls_spool_stats st;
	ls_spool_stats(s, &st);
	g_assert_cmpint(st.held_bytes, ==, 1000);
	for (int i = 20; i < 35; i++) {
		g_assert_cmpint(push_i(s, i, len), ==, 1); /* one dropped to make room */
		ls_spool_stats(s, &st);
		g_assert_cmpint(st.held_bytes, <=, 1000);
	}
	g_assert_cmpint(st.held, ==, 10);
	g_assert_cmpint(st.held_bytes, ==, 1000);
	g_assert_cmpint(st.dropped, ==, 15);
	g_assert_cmpint(st.dropped_total, ==, 15);
	g_assert_cmpint(st.pushed, ==, 25);
	struct ls_spool_msg m[16];
	g_assert_cmpint(ls_spool_peek(s, m, 16), ==, 10);
	for (int k = 0; k < 10; k++) {
		g_assert_cmpint(m[k].seq, ==, 16 + k);
		assert_msg(&m[k], 25 + k, len); /* the newest, in order */
	}
	ls_spool_msgs_free(m, 10);

	/* one message over the bound alone: refused, nothing dropped */
	char big[1001];
	memset(big, 'b', sizeof big);
	g_assert_cmpint(ls_spool_push(s, "s", "i", big, 1000 - 1), ==, -EMSGSIZE);
	ls_spool_stats(s, &st);
	g_assert_cmpint(st.held, ==, 10);
	g_assert_cmpint(st.dropped, ==, 15);
	/* a bigger one that fits drops several, in one go */
	g_assert_cmpint(ls_spool_push(s, "s", "i", big, 350 - 2), ==, 4);
	ls_spool_stats(s, &st);
	g_assert_cmpint(st.held, ==, 7);
	g_assert_cmpint(st.held_bytes, ==, 950);
	/* exactly the bound: everything else goes */
	g_assert_cmpint(ls_spool_push(s, "s", "i", big, 1000 - 2), ==, 7);
	ls_spool_stats(s, &st);
	g_assert_cmpint(st.held, ==, 1);
	g_assert_cmpint(st.held_bytes, ==, 1000);
	g_assert_cmpint(st.dropped, ==, 26);
	g_assert_cmpint(st.failed, ==, 0);
	ls_spool_close(&s);
	tmp_clear(&t);
}

static void test_reopen(void)
{
	struct tmp t;
	tmp_init(&t);
	struct ls_spool *s = ls_spool_open(t.path, 10000, NULL);
	g_assert_nonnull(s);
	for (int i = 0; i < 150; i++) /* 100 bytes each: 50 dropped */
		push_i(s, 100 + i, 100 - strlen(SUBJECT) - 5);
	g_assert_cmpint(ls_spool_ack(s, 60), ==, 10);
	struct ls_spool_stats before, st;
	ls_spool_stats(s, &before);
	g_assert_cmpint(before.held, ==, 90);
	g_assert_cmpint(before.dropped, ==, 50);
	ls_spool_close(&s);

	char *err = NULL;
	s = ls_spool_open(t.path, 10000, &err);
	g_assert_null(err);
	g_assert_nonnull(s);
	ls_spool_stats(s, &st);
	g_assert_cmpint(st.held, ==, 90);
	g_assert_cmpint(st.held_bytes, ==, before.held_bytes);
	g_assert_cmpint(st.dropped, ==, 0);
	g_assert_cmpint(st.dropped_total, ==, 50);
	g_assert_cmpint(st.pushed, ==, 0);
	struct ls_spool_msg m[100];
	g_assert_cmpint(ls_spool_peek(s, m, 100), ==, 90);
	for (int k = 0; k < 90; k++) {
		g_assert_cmpint(m[k].seq, ==, 61 + k);
		assert_msg(&m[k], 160 + k, 100 - strlen(SUBJECT) - 5);
	}
	ls_spool_msgs_free(m, 90);
	g_assert_cmpint(ls_spool_ack(s, 150), ==, 90);
	ls_spool_close(&s);

	/* emptied, reopened: the sequence goes on, not back to 1 */
	s = ls_spool_open(t.path, 10000, NULL);
	g_assert_nonnull(s);
	for (int i = 0; i < 20; i++)
		push_i(s, i, 100 - strlen(SUBJECT) - 4);
	g_assert_cmpint(ls_spool_peek(s, m, 1), ==, 1);
	g_assert_cmpint(m[0].seq, ==, 151);
	ls_spool_msgs_free(m, 1);
	ls_spool_close(&s);

	/* a smaller bound than last run: the oldest dropped at open, counted */
	s = ls_spool_open(t.path, 1050, NULL);
	g_assert_nonnull(s);
	ls_spool_stats(s, &st);
	g_assert_cmpint(st.held, ==, 10);
	g_assert_cmpint(st.held_bytes, ==, 1000);
	g_assert_cmpint(st.dropped, ==, 10);
	g_assert_cmpint(st.dropped_total, ==, 60);
	g_assert_cmpint(ls_spool_peek(s, m, 100), ==, 10);
	g_assert_cmpint(m[0].seq, ==, 161);
	assert_msg(&m[0], 10, 100 - strlen(SUBJECT) - 4);
	ls_spool_msgs_free(m, 10);
	ls_spool_close(&s);
	tmp_clear(&t);
}

/* Reopens @path and asserts it holds messages 0..n-1 (seq 1..n), in order. */
static void assert_holds(const char *path, int n, size_t len)
{
	char *err = NULL;
	struct ls_spool *s = ls_spool_open(path, 1 << 26, &err);
	g_assert_null(err);
	g_assert_nonnull(s);
	struct ls_spool_stats st;
	ls_spool_stats(s, &st);
	g_assert_cmpint(st.held, ==, n);
	struct ls_spool_msg *m = g_new0(struct ls_spool_msg, n + 1);
	g_assert_cmpint(ls_spool_peek(s, m, n + 1), ==, n);
	for (int k = 0; k < n; k++) {
		g_assert_cmpint(m[k].seq, ==, k + 1);
		assert_msg(&m[k], k, len);
	}
	ls_spool_msgs_free(m, n);
	g_free(m);
	ls_spool_close(&s);
}

/* A child pushes N and _exit()s without closing: the parent finds them all
 * (committed to the WAL, recovered at open). */
static void test_crash_exit(void)
{
	struct tmp t;
	tmp_init(&t);
	const int n = 500;
	pid_t pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		struct ls_spool *s = ls_spool_open(t.path, 1 << 26, NULL);
		if (!s)
			_exit(2);
		for (int i = 0; i < n; i++)
			if (push_i(s, i, 300) != 0)
				_exit(3);
		_exit(0); /* no close: no checkpoint, the WAL is left as it is */
	}
	int status = 0;
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 0);
	char *wal = g_strconcat(t.path, "-wal", NULL);
	g_assert_true(g_file_test(wal, G_FILE_TEST_EXISTS));
	g_free(wal);
	assert_holds(t.path, n, 300);
	tmp_clear(&t);
}

/* A child pushing without end is killed with SIGKILL: every push that
 * returned before the kill is there, in order, nothing torn. */
static void test_crash_kill(void)
{
	struct tmp t;
	tmp_init(&t);
	int fds[2];
	g_assert_cmpint(pipe(fds), ==, 0);
	pid_t pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		close(fds[0]);
		struct ls_spool *s = ls_spool_open(t.path, 1 << 26, NULL);
		if (!s)
			_exit(2);
		for (int i = 0;; i++) {
			if (push_i(s, i, 200) != 0)
				_exit(3);
			int done = i + 1;
			if (write(fds[1], &done, sizeof done) != sizeof done)
				_exit(4);
		}
	}
	close(fds[1]);
	int done = 0, v;
	while (done < 300 && read(fds[0], &v, sizeof v) == sizeof v)
		done = v;
	g_assert_cmpint(done, ==, 300);
	kill(pid, SIGKILL);
	int status = 0;
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	g_assert_true(WIFSIGNALED(status));
	while (read(fds[0], &v, sizeof v) == sizeof v)
		done = v;
	close(fds[0]);

	struct ls_spool *s = ls_spool_open(t.path, 1 << 26, NULL);
	g_assert_nonnull(s);
	struct ls_spool_stats st;
	ls_spool_stats(s, &st);
	ls_spool_close(&s);
	/* the push in flight at the kill may or may not have committed */
	g_assert_cmpint(st.held, >=, done);
	g_assert_cmpint(st.held, <=, done + 1);
	assert_holds(t.path, (int)st.held, 200);
	tmp_clear(&t);
}

static void write_file(const char *path, const void *data, size_t len)
{
	GError *error = NULL;
	g_file_set_contents(path, data, (gssize)len, &error);
	g_assert_no_error(error);
}

static void test_not_a_spool(void)
{
	struct tmp t;
	tmp_init(&t);
	char *err = NULL;

	/* random bytes */
	unsigned char junk[8192];
	GRand *rng = g_rand_new_with_seed(15);
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (unsigned char)g_rand_int(rng);
	g_rand_free(rng);
	write_file(t.path, junk, sizeof junk);
	errno = 0;
	g_assert_null(ls_spool_open(t.path, 1 << 20, &err));
	g_assert_cmpint(errno, !=, 0);
	assert_one_line(err, t.path);
	g_test_message("random bytes: %s", err);
	g_free(err);
	g_unlink(t.path);

	/* an SQLite database of another schema: refused, and left as it was */
	sqlite3 *db = NULL;
	g_assert_cmpint(sqlite3_open(t.path, &db), ==, SQLITE_OK);
	g_assert_cmpint(
		sqlite3_exec(db, "CREATE TABLE spool (a INTEGER); INSERT INTO spool VALUES (1);", NULL, NULL, NULL), ==,
		SQLITE_OK);
	sqlite3_close(db);
	char *before = NULL, *after = NULL;
	gsize nb = 0, na = 0;
	g_assert_true(g_file_get_contents(t.path, &before, &nb, NULL));
	g_assert_null(ls_spool_open(t.path, 1 << 20, &err));
	assert_one_line(err, t.path);
	g_assert_nonnull(strstr(err, "not a lockstep spool"));
	g_test_message("other schema: %s", err);
	g_free(err);
	g_assert_true(g_file_get_contents(t.path, &after, &na, NULL));
	g_assert_cmpmem(before, nb, after, na);
	g_free(before);
	g_free(after);
	g_unlink(t.path);

	/* a spool of a newer layout version */
	struct ls_spool *s = ls_spool_open(t.path, 1 << 20, NULL);
	g_assert_nonnull(s);
	ls_spool_close(&s);
	g_assert_cmpint(sqlite3_open(t.path, &db), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_exec(db, "PRAGMA user_version = 2", NULL, NULL, NULL), ==, SQLITE_OK);
	sqlite3_close(db);
	g_assert_null(ls_spool_open(t.path, 1 << 20, &err));
	assert_one_line(err, t.path);
	g_assert_nonnull(strstr(err, "version 2"));
	g_test_message("newer version: %s", err);
	g_free(err);
	g_unlink(t.path);

	/* a truncated spool (its first page cut short) */
	s = ls_spool_open(t.path, 1 << 20, NULL);
	g_assert_nonnull(s);
	for (int i = 0; i < 100; i++)
		push_i(s, i, 300);
	ls_spool_close(&s);
	char *whole = NULL;
	gsize nw = 0;
	g_assert_true(g_file_get_contents(t.path, &whole, &nw, NULL));
	g_assert_cmpuint(nw, >, 4096);
	memset(whole + 100, 0xa5, 3000); /* the schema page, after the header */
	write_file(t.path, whole, nw);
	g_free(whole);
	g_assert_null(ls_spool_open(t.path, 1 << 20, &err));
	assert_one_line(err, t.path);
	g_test_message("damaged: %s", err);
	g_free(err);
	g_unlink(t.path);

	/* in use: a second open of the same spool is refused */
	s = ls_spool_open(t.path, 1 << 20, NULL);
	g_assert_nonnull(s);
	g_assert_null(ls_spool_open(t.path, 1 << 20, &err));
	assert_one_line(err, t.path);
	g_assert_nonnull(strstr(err, "in use"));
	g_test_message("in use: %s", err);
	g_free(err);
	ls_spool_close(&s);

	/* a directory that does not exist; a bad bound */
	char *nowhere = g_build_filename(t.dir, "no", "such", "spool.db", NULL);
	g_assert_null(ls_spool_open(nowhere, 1 << 20, &err));
	assert_one_line(err, nowhere);
	g_free(err);
	g_free(nowhere);
	g_assert_null(ls_spool_open(t.path, 0, &err));
	g_assert_cmpint(errno, ==, EINVAL);
	assert_one_line(err, t.path);
	g_free(err);
	tmp_clear(&t);
}

#define THREAD_N 10000

struct threads_ctx {
	struct ls_spool *s;
	volatile int stop_stats;
	int stats_reads;
};

static void *pusher(void *data)
{
	struct threads_ctx *c = data;
	for (int i = 0; i < THREAD_N; i++)
		g_assert_cmpint(push_i(c->s, i, 64), ==, 0);
	return NULL;
}

static void *stats_reader(void *data)
{
	struct threads_ctx *c = data;
	while (!__atomic_load_n(&c->stop_stats, __ATOMIC_ACQUIRE)) {
		struct ls_spool_stats st;
		ls_spool_stats(c->s, &st);
		g_assert_cmpint(st.held, >=, 0);
		g_assert_cmpint(st.held, <=, THREAD_N);
		g_assert_cmpint(st.held_bytes, <=, st.max_bytes);
		g_assert_cmpint(st.pushed, >=, st.acked);
		c->stats_reads++;
		g_usleep(200);
	}
	return NULL;
}

/* One thread pushes 10,000 while this one peeks and acks in batches (and a
 * third reads the counters): nothing lost, nothing twice, in order. */
static void test_threads(void)
{
	struct tmp t;
	tmp_init(&t);
	struct threads_ctx c = { .s = ls_spool_open(t.path, 64 << 20, NULL) };
	g_assert_nonnull(c.s);
	pthread_t tp, ts;
	g_assert_cmpint(pthread_create(&tp, NULL, pusher, &c), ==, 0);
	g_assert_cmpint(pthread_create(&ts, NULL, stats_reader, &c), ==, 0);
	int next = 0, empty = 0;
	int64_t last_seq = 0;
	struct ls_spool_msg m[37]; /* an odd batch, so acks and pushes interleave unevenly */
	while (next < THREAD_N) {
		int n = ls_spool_peek(c.s, m, 37);
		g_assert_cmpint(n, >=, 0);
		if (n == 0) {
			empty++;
			g_usleep(100);
			continue;
		}
		for (int k = 0; k < n; k++) {
			g_assert_cmpint(m[k].seq, >, last_seq);
			last_seq = m[k].seq;
			assert_msg(&m[k], next, 64);
			next++;
		}
		g_assert_cmpint(ls_spool_ack(c.s, last_seq), ==, n);
		ls_spool_msgs_free(m, n);
	}
	pthread_join(tp, NULL);
	__atomic_store_n(&c.stop_stats, 1, __ATOMIC_RELEASE);
	pthread_join(ts, NULL);
	g_assert_cmpint(ls_spool_peek(c.s, m, 37), ==, 0);
	struct ls_spool_stats st;
	ls_spool_stats(c.s, &st);
	g_assert_cmpint(st.held, ==, 0);
	g_assert_cmpint(st.held_bytes, ==, 0);
	g_assert_cmpint(st.pushed, ==, THREAD_N);
	g_assert_cmpint(st.acked, ==, THREAD_N);
	g_assert_cmpint(st.dropped, ==, 0);
	g_assert_cmpint(st.failed, ==, 0);
	g_test_message("%d messages, %d empty peeks, %d stats reads", next, empty, c.stats_reads);
	ls_spool_close(&c.s);
	tmp_clear(&t);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/spool/order", test_order);
	g_test_add_func("/spool/bound", test_bound);
	g_test_add_func("/spool/reopen", test_reopen);
	g_test_add_func("/spool/crash-exit", test_crash_exit);
	g_test_add_func("/spool/crash-kill", test_crash_kill);
	g_test_add_func("/spool/not-a-spool", test_not_a_spool);
	g_test_add_func("/spool/threads", test_threads);
	return g_test_run();
}
