#include "ls_spool.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ls_time.h"

/* The file's identity and layout version (STYLE.md item 8): PRAGMA
 * application_id says "a lockstep spool", PRAGMA user_version which layout.
 * A layout change bumps SPOOL_VERSION and migrates older files at open. */
#define SPOOL_APP_ID 1280528460 /* 0x4c53504c, "LSPL" */
#define SPOOL_VERSION 1
#define STR_(x) #x
#define STR(x) STR_(x)

/* bytes: subject + msg_id + data, what the bound counts; kept in the row so
 * that dropping and acking know what they free without reading the data.
 * data last: the columns the scans read stay on the row's first page. */
static const char schema[] = "BEGIN IMMEDIATE;"
			     "CREATE TABLE spool ("
			     " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
			     " bytes INTEGER NOT NULL,"
			     " spooled_ns INTEGER NOT NULL,"
			     " subject TEXT NOT NULL,"
			     " msg_id TEXT NOT NULL,"
			     " data BLOB NOT NULL);"
			     "CREATE TABLE spool_meta (one INTEGER PRIMARY KEY CHECK (one = 1),"
			     " dropped_total INTEGER NOT NULL);"
			     "INSERT INTO spool_meta VALUES (1, 0);"
			     "PRAGMA application_id = " STR(SPOOL_APP_ID) ";"
									  "PRAGMA user_version = " STR(
										  SPOOL_VERSION) ";"
												 "COMMIT;";

enum { ST_INSERT, ST_OLDEST, ST_DROP, ST_DROPPED_ADD, ST_PEEK, ST_SUM_UPTO, ST_BEGIN, ST_COMMIT, ST_ROLLBACK, ST_N };

static const char *const stmt_sql[ST_N] = {
	[ST_INSERT] = "INSERT INTO spool (bytes, spooled_ns, subject, msg_id, data) VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_OLDEST] = "SELECT seq, bytes FROM spool ORDER BY seq",
	[ST_DROP] = "DELETE FROM spool WHERE seq <= ?1",
	[ST_DROPPED_ADD] = "UPDATE spool_meta SET dropped_total = dropped_total + ?1 WHERE one = 1",
	[ST_PEEK] = "SELECT seq, spooled_ns, subject, msg_id, data FROM spool ORDER BY seq LIMIT ?1",
	[ST_SUM_UPTO] = "SELECT count(*), coalesce(sum(bytes), 0) FROM spool WHERE seq <= ?1",
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
};

struct ls_spool {
	char *path;
	int64_t max_bytes;
	/* Locking order: lock, then stats_lock. */
	pthread_mutex_t lock; /* serializes every call but stats; protects db, st, last_error */
	sqlite3 *db;          /* opened NOMUTEX: only used under lock */
	sqlite3_stmt *st[ST_N];
	char *last_error; /* one line, naming the file; NULL when none yet */
	/* The counters: written under lock and stats_lock, read under either.
	 * ls_spool_stats takes only stats_lock, held for a few copies, so a
	 * stats reader never waits on the disk (a push that runs a WAL
	 * checkpoint holds lock for its fsync). */
	pthread_mutex_t stats_lock;
	int64_t held, held_bytes; /* counted at open, then kept by push, drop and ack */
	uint64_t pushed, acked, dropped, dropped_total, failed;
};

/* Applies a call's outcome to the counters. Under lock. */
static void count_unlocked(struct ls_spool *s, int64_t held, int64_t bytes, uint64_t pushed, uint64_t acked,
			   uint64_t dropped, uint64_t failed)
{
	pthread_mutex_lock(&s->stats_lock);
	s->held += held;
	s->held_bytes += bytes;
	s->pushed += pushed;
	s->acked += acked;
	s->dropped += dropped;
	s->dropped_total += dropped;
	s->failed += failed;
	pthread_mutex_unlock(&s->stats_lock);
}

/* Replaces the last error with "spool PATH: ..." (one line). Under lock. */
static void set_error_unlocked(struct ls_spool *s, const char *fmt, ...)
{
	char *what = NULL, *line = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&what, fmt, ap) < 0)
		what = NULL;
	va_end(ap);
	if (what && asprintf(&line, "spool %s: %s", s->path, what) < 0)
		line = NULL;
	free(what);
	if (line) {
		for (char *c = line; *c; c++)
			if (*c == '\n' || *c == '\r')
				*c = ' ';
		free(s->last_error);
		s->last_error = line;
	}
}

/* Records a failed SQLite call (@what did, sqlite's own message) and
 * returns its negative errno. Under lock. */
static int fail_unlocked(struct ls_spool *s, const char *what, int rc)
{
	set_error_unlocked(s, "%s: %s", what, sqlite3_errmsg(s->db));
	count_unlocked(s, 0, 0, 0, 0, 0, 1);
	switch (rc & 0xff) {
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_TOOBIG: /* over SQLite's own limit (1e9 bytes by default) */
		return -EMSGSIZE;
	default:
		return -EIO;
	}
}

/* Runs a statement that returns no row. Under lock. */
static int step_done_unlocked(struct ls_spool *s, int idx, const char *what)
{
	int rc = sqlite3_step(s->st[idx]);
	sqlite3_reset(s->st[idx]);
	return rc == SQLITE_DONE ? 0 : fail_unlocked(s, what, rc);
}

/* Deletes the oldest messages, just enough to free @need bytes (> 0), in one
 * DELETE, and adds them to dropped_total in the file. The caller holds a
 * transaction and, once it commits, applies *@n_out and *@bytes_out to the
 * counters. Under lock. */
static int drop_oldest_unlocked(struct ls_spool *s, int64_t need, int64_t *n_out, int64_t *bytes_out)
{
	sqlite3_stmt *q = s->st[ST_OLDEST];
	int64_t n = 0, freed = 0, upto = 0;
	int rc = SQLITE_DONE;
	while (freed < need && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		upto = sqlite3_column_int64(q, 0);
		freed += sqlite3_column_int64(q, 1);
		n++;
	}
	if (freed < need && rc != SQLITE_DONE) {
		sqlite3_reset(q);
		return fail_unlocked(s, "reading the oldest messages", rc);
	}
	sqlite3_reset(q); /* before the DELETE: no cursor open on the table */
	if (n == 0) {
		*n_out = *bytes_out = 0;
		return 0;
	}
	sqlite3_bind_int64(s->st[ST_DROP], 1, upto);
	int r = step_done_unlocked(s, ST_DROP, "dropping the oldest messages");
	if (r < 0)
		return r;
	sqlite3_bind_int64(s->st[ST_DROPPED_ADD], 1, n);
	r = step_done_unlocked(s, ST_DROPPED_ADD, "counting dropped messages");
	if (r < 0)
		return r;
	*n_out = n;
	*bytes_out = freed;
	return 0;
}

/* Ends a transaction that failed, if one is open; its own failure changes
 * nothing more (the statement's error is the one to report). Under lock. */
static void rollback_unlocked(struct ls_spool *s)
{
	if (!sqlite3_get_autocommit(s->db)) {
		sqlite3_step(s->st[ST_ROLLBACK]);
		sqlite3_reset(s->st[ST_ROLLBACK]);
	}
}

/* Drops the oldest until the spool is back under its bound, in a
 * transaction of its own (at open, when the bound shrank). Under lock. */
static int trim_unlocked(struct ls_spool *s)
{
	int64_t n = 0, freed = 0;
	int r = step_done_unlocked(s, ST_BEGIN, "begin");
	if (r < 0)
		return r;
	r = drop_oldest_unlocked(s, s->held_bytes - s->max_bytes, &n, &freed);
	if (r == 0)
		r = step_done_unlocked(s, ST_COMMIT, "commit");
	if (r < 0) {
		rollback_unlocked(s);
		return r;
	}
	count_unlocked(s, -n, -freed, 0, 0, (uint64_t)n, 0);
	return 0;
}

/* One integer from a one-row query (a PRAGMA, a count). Under lock. */
static int query_int64_unlocked(struct ls_spool *s, const char *sql, int64_t *out, const char *what)
{
	sqlite3_stmt *q = NULL;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(q);
		if (rc == SQLITE_ROW) {
			*out = sqlite3_column_int64(q, 0);
			rc = SQLITE_OK;
		}
	}
	int r = rc == SQLITE_OK ? 0 : fail_unlocked(s, what, rc);
	sqlite3_finalize(q);
	return r;
}

/* Checks the file is a spool of a version this code reads, creating the
 * schema in a new or empty file; sets WAL mode. Under lock (at open). */
static int check_or_create_unlocked(struct ls_spool *s)
{
	int64_t app_id = 0, version = 0, objects = 0;
	/* The first read of the header: a file that is not SQLite fails here,
	 * and a spool held by another connection is busy here. Nothing is
	 * written before the file is known to be ours (WAL mode is a change to
	 * the file's header). */
	int r = query_int64_unlocked(s, "PRAGMA application_id", &app_id, "reading the header");
	if (r == 0)
		r = query_int64_unlocked(s, "PRAGMA user_version", &version, "reading the header");
	if (r == 0)
		r = query_int64_unlocked(s, "SELECT count(*) FROM sqlite_master", &objects, "reading the schema");
	if (r < 0) {
		if (r == -EBUSY)
			set_error_unlocked(s, "in use by another connection (a second lockstep on this spool?)");
		return r;
	}
	bool fresh = app_id == 0 && version == 0 && objects == 0;
	if (!fresh && app_id != SPOOL_APP_ID) {
		set_error_unlocked(s,
				   "not a lockstep spool (an SQLite file: application_id 0x%08llx, tables and indexes "
				   "%lld); left untouched",
				   (unsigned long long)(uint32_t)app_id, (long long)objects);
		return -EINVAL;
	}
	if (!fresh && version != SPOOL_VERSION) {
		set_error_unlocked(s, "layout version %lld (PRAGMA user_version), this lockstep reads version %d",
				   (long long)version, SPOOL_VERSION);
		return -EPROTO;
	}

	sqlite3_stmt *q = NULL;
	int rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &q, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *mode = (const char *)sqlite3_column_text(q, 0);
		rc = mode && strcmp(mode, "wal") == 0 ? SQLITE_OK : SQLITE_ERROR;
		if (rc != SQLITE_OK) {
			set_error_unlocked(s, "cannot use WAL mode (journal_mode is %s)", mode ? mode : "?");
			sqlite3_finalize(q);
			count_unlocked(s, 0, 0, 0, 0, 0, 1);
			return -EIO;
		}
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_OK)
		return fail_unlocked(s, "setting WAL mode", rc);
	char *msg = NULL;
	rc = sqlite3_exec(s->db, "PRAGMA synchronous=NORMAL", NULL, NULL, &msg);
	if (rc == SQLITE_OK && fresh)
		rc = sqlite3_exec(s->db, schema, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		set_error_unlocked(s, "%s: %s", fresh ? "creating the schema" : "setting synchronous",
				   msg ? msg : sqlite3_errmsg(s->db));
		sqlite3_free(msg);
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		count_unlocked(s, 0, 0, 0, 0, 0, 1);
		return -EIO;
	}
	return 0;
}

static void spool_free(struct ls_spool *s)
{
	for (int i = 0; i < ST_N; i++)
		sqlite3_finalize(s->st[i]);
	/* Last connection: checkpoints the WAL into the file and removes it. */
	sqlite3_close(s->db);
	pthread_mutex_destroy(&s->stats_lock);
	pthread_mutex_destroy(&s->lock);
	free(s->last_error);
	free(s->path);
	free(s);
}

struct ls_spool *ls_spool_open(const char *path, int64_t max_bytes, char **err)
{
	if (err)
		*err = NULL;
	if (!path || !*path || max_bytes <= 0) {
		if (err && asprintf(err, "spool %s: bad arguments (size %lld bytes)", path ? path : "(null)",
				    (long long)max_bytes) < 0)
			*err = NULL;
		errno = EINVAL;
		return NULL;
	}
	struct ls_spool *s = calloc(1, sizeof *s);
	if (!s || !(s->path = strdup(path))) {
		free(s);
		errno = ENOMEM;
		return NULL;
	}
	s->max_bytes = max_bytes;
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->stats_lock, NULL);
	pthread_mutex_lock(&s->lock);

	int r;
	int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		r = fail_unlocked(s, "opening", rc);
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	/* Only at open (the one connection never waits after that): a lockstep
	 * that is just exiting has a moment to let go of the file. */
	sqlite3_busy_timeout(s->db, 500);
	/* One connection holds the file until close (set before the first read,
	 * so that WAL mode needs no shared-memory index either). */
	rc = sqlite3_exec(s->db, "PRAGMA locking_mode=EXCLUSIVE", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		r = fail_unlocked(s, "setting exclusive locking", rc);
		goto fail;
	}
	r = check_or_create_unlocked(s);
	if (r < 0)
		goto fail;
	for (int i = 0; i < ST_N; i++) {
		rc = sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL);
		if (rc != SQLITE_OK) {
			r = fail_unlocked(s, "preparing statements (a damaged spool?)", rc);
			goto fail;
		}
	}

	/* The counters (set here without stats_lock: nobody else has @s yet):
	 * one scan at open (the bytes column sits before the
	 * data, so the payloads are not read), then kept in memory. */
	sqlite3_stmt *q = s->st[ST_SUM_UPTO];
	sqlite3_bind_int64(q, 1, INT64_MAX);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		s->held = sqlite3_column_int64(q, 0);
		s->held_bytes = sqlite3_column_int64(q, 1);
	}
	sqlite3_reset(q);
	if (rc != SQLITE_ROW) {
		r = fail_unlocked(s, "counting messages", rc);
		goto fail;
	}
	int64_t total = -1;
	r = query_int64_unlocked(s, "SELECT dropped_total FROM spool_meta WHERE one = 1", &total, "reading counters");
	if (r < 0)
		goto fail;
	if (total < 0) {
		set_error_unlocked(s, "damaged spool: no counters row");
		r = -EIO;
		goto fail;
	}
	s->dropped_total = (uint64_t)total;
	if (s->held_bytes > s->max_bytes) { /* spool-mb is smaller than last run's */
		r = trim_unlocked(s);
		if (r < 0)
			goto fail;
	}
	pthread_mutex_unlock(&s->lock);
	return s;

fail:
	if (err)
		*err = s->last_error ? strdup(s->last_error) : NULL;
	pthread_mutex_unlock(&s->lock);
	spool_free(s);
	errno = -r;
	return NULL;
}

void ls_spool_close(struct ls_spool **sp)
{
	if (!sp || !*sp)
		return;
	struct ls_spool *s = *sp;
	*sp = NULL;
	spool_free(s);
}

int ls_spool_push(struct ls_spool *s, const char *subject, const char *msg_id, const void *data, size_t len)
{
	if (!subject || (!data && len))
		return -EINVAL;
	if (!msg_id)
		msg_id = "";
	size_t slen = strlen(subject), ilen = strlen(msg_id);
	/* The bound is an int64; anything near SIZE_MAX is over it anyway. */
	if (len > (size_t)INT64_MAX - slen - ilen || (int64_t)(slen + ilen + len) > s->max_bytes)
		return -EMSGSIZE;
	int64_t bytes = (int64_t)(slen + ilen + len);
	int64_t now = ls_realtime_ns();

	pthread_mutex_lock(&s->lock);
	int64_t need = s->held_bytes + bytes - s->max_bytes, n = 0, freed = 0;
	int r = 0;
	if (need > 0) { /* full: drop and insert in one transaction */
		r = step_done_unlocked(s, ST_BEGIN, "begin");
		if (r == 0)
			r = drop_oldest_unlocked(s, need, &n, &freed);
	}
	if (r == 0) {
		sqlite3_stmt *q = s->st[ST_INSERT];
		sqlite3_bind_int64(q, 1, bytes);
		sqlite3_bind_int64(q, 2, now);
		sqlite3_bind_text(q, 3, subject, (int)slen, SQLITE_STATIC);
		sqlite3_bind_text(q, 4, msg_id, (int)ilen, SQLITE_STATIC);
		/* an empty payload is a zero-length blob: NULL would break NOT NULL */
		int rc = len ? sqlite3_bind_blob64(q, 5, data, len, SQLITE_STATIC) : sqlite3_bind_zeroblob(q, 5, 0);
		r = rc == SQLITE_OK ? step_done_unlocked(s, ST_INSERT, "appending a message")
				    : fail_unlocked(s, "appending a message", rc);
		sqlite3_clear_bindings(q); /* the caller's pointers are not kept */
	}
	if (r == 0 && need > 0)
		r = step_done_unlocked(s, ST_COMMIT, "commit");
	if (r < 0) {
		rollback_unlocked(s);
	} else {
		count_unlocked(s, 1 - n, bytes - freed, 1, 0, (uint64_t)n, 0);
		r = (int)(n > INT32_MAX ? INT32_MAX : n);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

void ls_spool_msgs_free(struct ls_spool_msg *msgs, int n)
{
	if (!msgs)
		return;
	for (int i = 0; i < n; i++) {
		free(msgs[i].data); /* the one block that also holds subject and msg_id */
		memset(&msgs[i], 0, sizeof msgs[i]);
	}
}

int ls_spool_peek(struct ls_spool *s, struct ls_spool_msg *out, int max)
{
	if (!out || max <= 0)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	sqlite3_stmt *q = s->st[ST_PEEK];
	sqlite3_bind_int(q, 1, max);
	int n = 0, rc = SQLITE_DONE, r = 0;
	while (n < max && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		/* text/blob first, then their sizes (SQLite's documented order) */
		const char *subj = (const char *)sqlite3_column_text(q, 2);
		size_t slen = (size_t)sqlite3_column_bytes(q, 2);
		const char *id = (const char *)sqlite3_column_text(q, 3);
		size_t ilen = (size_t)sqlite3_column_bytes(q, 3);
		const void *data = sqlite3_column_blob(q, 4);
		size_t len = (size_t)sqlite3_column_bytes(q, 4);
		/* One block: the payload first (malloc's alignment), then the two
		 * strings. */
		char *block = malloc(len + slen + ilen + 2);
		if (!block) {
			r = -ENOMEM;
			break;
		}
		if (len)
			memcpy(block, data, len);
		memcpy(block + len, subj ? subj : "", slen);
		block[len + slen] = '\0';
		memcpy(block + len + slen + 1, id ? id : "", ilen);
		block[len + slen + 1 + ilen] = '\0';
		out[n] = (struct ls_spool_msg){
			.seq = sqlite3_column_int64(q, 0),
			.spooled_ns = sqlite3_column_int64(q, 1),
			.data = block,
			.len = len,
			.subject = block + len,
			.msg_id = block + len + slen + 1,
		};
		n++;
	}
	if (r == 0 && n < max && rc != SQLITE_DONE)
		r = fail_unlocked(s, "reading messages", rc);
	sqlite3_reset(q);
	pthread_mutex_unlock(&s->lock);
	if (r < 0) {
		ls_spool_msgs_free(out, n);
		return r;
	}
	return n;
}

int ls_spool_ack(struct ls_spool *s, int64_t seq)
{
	if (seq <= 0)
		return 0;
	pthread_mutex_lock(&s->lock);
	/* What the DELETE frees, for the counters: a range scan on the key over
	 * the rows about to go (it reads only the bytes column). One connection
	 * holds the file, so nothing changes between the two. */
	sqlite3_stmt *q = s->st[ST_SUM_UPTO];
	sqlite3_bind_int64(q, 1, seq);
	int rc = sqlite3_step(q);
	int64_t n = 0, freed = 0;
	if (rc == SQLITE_ROW) {
		n = sqlite3_column_int64(q, 0);
		freed = sqlite3_column_int64(q, 1);
	}
	sqlite3_reset(q);
	int r = 0;
	if (rc != SQLITE_ROW) {
		r = fail_unlocked(s, "counting acknowledged messages", rc);
	} else if (n > 0) {
		sqlite3_bind_int64(s->st[ST_DROP], 1, seq);
		r = step_done_unlocked(s, ST_DROP, "removing acknowledged messages");
	}
	if (r == 0) {
		count_unlocked(s, -n, -freed, 0, (uint64_t)n, 0, 0);
		r = (int)(n > INT32_MAX ? INT32_MAX : n);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

void ls_spool_stats(struct ls_spool *s, struct ls_spool_stats *st)
{
	pthread_mutex_lock(&s->stats_lock);
	*st = (struct ls_spool_stats){
		.held = s->held,
		.held_bytes = s->held_bytes,
		.max_bytes = s->max_bytes,
		.pushed = s->pushed,
		.acked = s->acked,
		.dropped = s->dropped,
		.dropped_total = s->dropped_total,
		.failed = s->failed,
	};
	pthread_mutex_unlock(&s->stats_lock);
}

char *ls_spool_last_error(struct ls_spool *s)
{
	pthread_mutex_lock(&s->lock);
	char *e = s->last_error ? strdup(s->last_error) : NULL;
	pthread_mutex_unlock(&s->lock);
	return e;
}
