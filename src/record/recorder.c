/* recorder — see recorder.h. */
#include "recorder.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define TS_PACKET 188

struct ls_rec_index {
	sqlite3 *db;
	GMutex lock; /* one statement at a time on the connection */
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS segments ("
	" id INTEGER PRIMARY KEY,"
	" camera TEXT NOT NULL,"
	" path TEXT NOT NULL UNIQUE,"
	" first_slot INTEGER NOT NULL,"
	" last_slot INTEGER NOT NULL,"
	" start_ns INTEGER NOT NULL,"
	" end_ns INTEGER NOT NULL,"
	" bytes INTEGER NOT NULL,"
	" keyframes TEXT NOT NULL,"
	" repeated INTEGER NOT NULL DEFAULT 0,"
	" copy INTEGER NOT NULL DEFAULT 0,"
	" state TEXT NOT NULL CHECK (state IN ('recording','complete','protected','quarantined','deleting')));"
	"CREATE INDEX IF NOT EXISTS segments_slot ON segments (first_slot, camera);"
	"CREATE TABLE IF NOT EXISTS clips ("
	" id INTEGER PRIMARY KEY, created_ns INTEGER NOT NULL, first_slot INTEGER NOT NULL,"
	" last_slot INTEGER NOT NULL, out TEXT NOT NULL);";

static const char *const seg_state_names[] = {
	[LS_SEG_RECORDING] = "recording",
	[LS_SEG_COMPLETE] = "complete",
	[LS_SEG_PROTECTED] = "protected",
	[LS_SEG_QUARANTINED] = "quarantined",
	[LS_SEG_DELETING] = "deleting",
};

const char *ls_seg_state_name(enum ls_seg_state st)
{
	return (unsigned)st < G_N_ELEMENTS(seg_state_names) ? seg_state_names[st] : "?";
}

int ls_seg_state_parse(const char *name)
{
	for (unsigned i = 0; name && i < G_N_ELEMENTS(seg_state_names); i++)
		if (strcmp(name, seg_state_names[i]) == 0)
			return (int)i;
	return -1;
}

void ls_rec_segment_free(gpointer p)
{
	struct ls_rec_segment *s = p;
	if (!s)
		return;
	g_free(s->camera);
	g_free(s->path);
	g_free(s->keyframes);
	g_free(s);
}

int ls_rec_index_open(const char *dir, struct ls_rec_index **out, char **err)
{
	*out = NULL;
	struct stat st;
	int e = stat(dir, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
	if (e) {
		if (err)
			*err = g_strdup_printf("record dir %s: %s", dir, g_strerror(e));
		return -e;
	}
	if (access(dir, W_OK | X_OK) < 0) {
		e = errno;
		if (err)
			*err = g_strdup_printf("record dir %s: cannot write: %s", dir, g_strerror(e));
		return -e;
	}
	char *path = g_build_filename(dir, "index.sqlite3", NULL);
	struct ls_rec_index *idx = g_new0(struct ls_rec_index, 1);
	g_mutex_init(&idx->lock);
	int rc = sqlite3_open_v2(path, &idx->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
				 NULL);
	char *msg = NULL;
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(idx->db, 10000);
		/* WAL: readers (lockstep clip) never block the recorder; FULL:
		 * a row that says complete survives a power cut */
		rc = sqlite3_exec(idx->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL, &msg);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(idx->db, schema, NULL, NULL, &msg);
		/* an index made before stream copy: add its column */
		sqlite3_stmt *probe = NULL;
		if (rc == SQLITE_OK &&
		    sqlite3_prepare_v2(idx->db, "SELECT copy FROM segments LIMIT 0", -1, &probe, NULL) != SQLITE_OK)
			rc = sqlite3_exec(idx->db, "ALTER TABLE segments ADD COLUMN copy INTEGER NOT NULL DEFAULT 0", NULL,
					  NULL, &msg);
		sqlite3_finalize(probe);
	}
	if (rc != SQLITE_OK) {
		if (err)
			*err = g_strdup_printf("record index %s: %s", path, msg ? msg : sqlite3_errmsg(idx->db));
		sqlite3_free(msg);
		g_free(path);
		ls_rec_index_close(&idx);
		return -EIO;
	}
	g_free(path);
	*out = idx;
	return 0;
}

void ls_rec_index_close(struct ls_rec_index **pidx)
{
	struct ls_rec_index *idx = pidx ? *pidx : NULL;
	if (!idx)
		return;
	sqlite3_close(idx->db);
	g_mutex_clear(&idx->lock);
	g_free(idx);
	*pidx = NULL;
}

static int sql_error(struct ls_rec_index *idx, char **err, const char *what)
{
	if (err)
		*err = g_strdup_printf("record index: %s: %s", what, sqlite3_errmsg(idx->db));
	return -EIO;
}

int ls_rec_index_insert(struct ls_rec_index *idx, struct ls_rec_segment *s, char **err)
{
	sqlite3_stmt *st = NULL;
	int rc = -EIO;
	g_mutex_lock(&idx->lock);
	if (sqlite3_prepare_v2(idx->db,
			       "INSERT INTO segments (camera, path, first_slot, last_slot, start_ns, end_ns, bytes,"
			       " keyframes, repeated, state, copy) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = sql_error(idx, err, "insert");
		goto out;
	}
	sqlite3_bind_text(st, 1, s->camera, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, s->path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, s->first_slot);
	sqlite3_bind_int64(st, 4, s->last_slot);
	sqlite3_bind_int64(st, 5, s->start_ns);
	sqlite3_bind_int64(st, 6, s->end_ns);
	sqlite3_bind_int64(st, 7, s->bytes);
	sqlite3_bind_text(st, 8, s->keyframes ? s->keyframes : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, s->repeated);
	sqlite3_bind_text(st, 10, ls_seg_state_name(s->state), -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 11, s->copy);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = sql_error(idx, err, "insert");
		goto out;
	}
	s->id = sqlite3_last_insert_rowid(idx->db);
	rc = 0;
out:
	sqlite3_finalize(st);
	g_mutex_unlock(&idx->lock);
	return rc;
}

int ls_rec_index_update(struct ls_rec_index *idx, const struct ls_rec_segment *s, char **err)
{
	sqlite3_stmt *st = NULL;
	int rc = -EIO;
	g_mutex_lock(&idx->lock);
	if (sqlite3_prepare_v2(idx->db,
			       "UPDATE segments SET path=?, last_slot=?, end_ns=?, bytes=?, keyframes=?, repeated=?,"
			       " state=? WHERE id=?",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = sql_error(idx, err, "update");
		goto out;
	}
	sqlite3_bind_text(st, 1, s->path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, s->last_slot);
	sqlite3_bind_int64(st, 3, s->end_ns);
	sqlite3_bind_int64(st, 4, s->bytes);
	sqlite3_bind_text(st, 5, s->keyframes ? s->keyframes : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, s->repeated);
	sqlite3_bind_text(st, 7, ls_seg_state_name(s->state), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, s->id);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = sql_error(idx, err, "update");
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	g_mutex_unlock(&idx->lock);
	return rc;
}

int ls_rec_index_set_state(struct ls_rec_index *idx, int64_t id, enum ls_seg_state from, enum ls_seg_state to)
{
	sqlite3_stmt *st = NULL;
	int rc = -EIO;
	g_mutex_lock(&idx->lock);
	if (sqlite3_prepare_v2(idx->db, "UPDATE segments SET state=? WHERE id=? AND state=?", -1, &st, NULL) ==
	    SQLITE_OK) {
		sqlite3_bind_text(st, 1, ls_seg_state_name(to), -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, id);
		sqlite3_bind_text(st, 3, ls_seg_state_name(from), -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_DONE)
			rc = sqlite3_changes(idx->db) > 0 ? 1 : 0;
	}
	sqlite3_finalize(st);
	g_mutex_unlock(&idx->lock);
	return rc;
}

int ls_rec_index_delete(struct ls_rec_index *idx, int64_t id)
{
	sqlite3_stmt *st = NULL;
	int rc = -EIO;
	g_mutex_lock(&idx->lock);
	if (sqlite3_prepare_v2(idx->db, "DELETE FROM segments WHERE id=?", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, id);
		if (sqlite3_step(st) == SQLITE_DONE)
			rc = 0;
	}
	sqlite3_finalize(st);
	g_mutex_unlock(&idx->lock);
	return rc;
}

static char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return g_strdup(t ? (const char *)t : "");
}

GPtrArray *ls_rec_index_list(struct ls_rec_index *idx, const char *camera, int state, int64_t n1, int64_t n2)
{
	sqlite3_stmt *st = NULL;
	GPtrArray *a = NULL;
	g_mutex_lock(&idx->lock);
	if (sqlite3_prepare_v2(idx->db,
			       "SELECT id, camera, path, first_slot, last_slot, start_ns, end_ns, bytes, keyframes,"
			       " repeated, state, copy FROM segments WHERE (?1 IS NULL OR camera=?1) AND (?2 IS NULL OR"
			       " state=?2) AND last_slot >= ?3 AND first_slot <= ?4 ORDER BY first_slot, camera",
			       -1, &st, NULL) != SQLITE_OK)
		goto out;
	if (camera)
		sqlite3_bind_text(st, 1, camera, -1, SQLITE_STATIC);
	if (state >= 0)
		sqlite3_bind_text(st, 2, ls_seg_state_name((enum ls_seg_state)state), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, n1);
	sqlite3_bind_int64(st, 4, n2);
	a = g_ptr_array_new_with_free_func(ls_rec_segment_free);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct ls_rec_segment *s = g_new0(struct ls_rec_segment, 1);
		s->id = sqlite3_column_int64(st, 0);
		s->camera = col_text(st, 1);
		s->path = col_text(st, 2);
		s->first_slot = sqlite3_column_int64(st, 3);
		s->last_slot = sqlite3_column_int64(st, 4);
		s->start_ns = sqlite3_column_int64(st, 5);
		s->end_ns = sqlite3_column_int64(st, 6);
		s->bytes = sqlite3_column_int64(st, 7);
		s->keyframes = col_text(st, 8);
		s->repeated = sqlite3_column_int64(st, 9);
		char *name = col_text(st, 10);
		int sv = ls_seg_state_parse(name);
		s->state = sv < 0 ? LS_SEG_QUARANTINED : (enum ls_seg_state)sv; /* the schema's CHECK allows no other */
		g_free(name);
		s->copy = sqlite3_column_int(st, 11) != 0;
		g_ptr_array_add(a, s);
	}
	if (rc != SQLITE_DONE)
		g_clear_pointer(&a, g_ptr_array_unref);
out:
	sqlite3_finalize(st);
	g_mutex_unlock(&idx->lock);
	return a;
}

int ls_rec_index_add_clip(struct ls_rec_index *idx, int64_t n1, int64_t n2, const char *out)
{
	sqlite3_stmt *st = NULL;
	int rc = -EIO;
	g_mutex_lock(&idx->lock);
	if (sqlite3_prepare_v2(idx->db, "INSERT INTO clips (created_ns, first_slot, last_slot, out) VALUES (?,?,?,?)",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, g_get_real_time() * 1000);
		sqlite3_bind_int64(st, 2, n1);
		sqlite3_bind_int64(st, 3, n2);
		sqlite3_bind_text(st, 4, out, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_DONE)
			rc = 0;
	}
	sqlite3_finalize(st);
	g_mutex_unlock(&idx->lock);
	return rc;
}

int ls_rec_index_check(struct ls_rec_index *idx)
{
	sqlite3_stmt *st = NULL;
	int rc = -EIO;
	g_mutex_lock(&idx->lock);
	if (sqlite3_prepare_v2(idx->db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		rc = t && strcmp((const char *)t, "ok") == 0 ? 0 : -EIO;
	}
	sqlite3_finalize(st);
	g_mutex_unlock(&idx->lock);
	return rc;
}

/* ---- reading segments ------------------------------------------------ */

/* filesrc ! tsdemux ! h264parse ! appsink: one sample per access unit. */
static GstElement *reader_new(const char *path, GstAppSink **sink)
{
	GError *ge = NULL;
	GstElement *p = gst_parse_launch("filesrc name=f ! tsdemux ! h264parse ! "
					 "video/x-h264,stream-format=byte-stream,alignment=au ! "
					 "appsink name=s sync=false max-buffers=8",
					 &ge);
	if (!p || ge) {
		g_clear_error(&ge);
		if (p)
			gst_object_unref(p);
		return NULL;
	}
	GstElement *f = gst_bin_get_by_name(GST_BIN(p), "f");
	g_object_set(f, "location", path, NULL);
	gst_object_unref(f);
	*sink = GST_APP_SINK(gst_bin_get_by_name(GST_BIN(p), "s"));
	if (gst_element_set_state(p, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
		gst_object_unref(*sink);
		gst_element_set_state(p, GST_STATE_NULL);
		gst_object_unref(p);
		return NULL;
	}
	return p;
}

static void reader_free(GstElement *p, GstAppSink *sink)
{
	gst_element_set_state(p, GST_STATE_NULL);
	gst_object_unref(sink);
	gst_object_unref(p);
}

/* Whether the reader's pipeline posted an error (a file that is not TS). */
static bool reader_failed(GstElement *p)
{
	GstBus *bus = gst_element_get_bus(p);
	GstMessage *m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
	gst_object_unref(bus);
	if (m)
		gst_message_unref(m);
	return m != NULL;
}

int ls_rec_scan(const char *path, int64_t *frames, GArray *keys)
{
	GstAppSink *sink;
	GstElement *p = reader_new(path, &sink);
	*frames = 0;
	if (!p)
		return -EIO;
	GstSample *s;
	while ((s = gst_app_sink_pull_sample(sink))) {
		GstBuffer *b = gst_sample_get_buffer(s);
		if (keys && b && !GST_BUFFER_FLAG_IS_SET(b, GST_BUFFER_FLAG_DELTA_UNIT))
			g_array_append_val(keys, *frames);
		(*frames)++;
		gst_sample_unref(s);
	}
	bool failed = *frames == 0 && reader_failed(p);
	reader_free(p, sink);
	return failed ? -EIO : 0;
}

/* ---- recovery -------------------------------------------------------- */

static int fsync_path(const char *path, bool dir)
{
	int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

static char *keys_text(GArray *keys, int64_t first_slot, int64_t nframes)
{
	GString *t = g_string_new(NULL);
	for (guint i = 0; i < keys->len; i++) {
		int64_t k = g_array_index(keys, int64_t, i);
		if (k >= nframes)
			break;
		g_string_append_printf(t, "%s%lld", t->len ? "," : "", (long long)(first_slot + k));
	}
	return g_string_free(t, FALSE);
}

/* Makes @s's row true to its file: keeps the frames before the last one read
 * (it may be torn), or quarantines the file. */
int ls_rec_repair(struct ls_rec_index *idx, const char *dir, struct ls_rec_segment *s, struct ls_rate rate)
{
	char *full = g_build_filename(dir, s->path, NULL);
	struct stat st;
	int rc = 0;
	if (stat(full, &st) < 0) {
		g_printerr("record: %s is in the index but not on disk; row removed\n", s->path);
		rc = ls_rec_index_delete(idx, s->id);
		goto out;
	}
	if (st.st_size < TS_PACKET) {
		/* nothing was written: no segment to keep */
		unlink(full);
		rc = s->id ? ls_rec_index_delete(idx, s->id) : 0;
		goto out;
	}
	/* a torn TS packet at the end: cut to whole packets */
	if (st.st_size % TS_PACKET && truncate(full, st.st_size - st.st_size % TS_PACKET) == 0)
		st.st_size -= st.st_size % TS_PACKET;
	int64_t frames = 0;
	GArray *keys = g_array_new(FALSE, FALSE, sizeof(int64_t));
	int sc = ls_rec_scan(full, &frames, keys);
	int64_t keep = frames - 1;
	if (sc == 0 && keep < 1) {
		/* at most one (possibly torn) frame: nothing worth keeping */
		g_array_unref(keys);
		unlink(full);
		rc = s->id ? ls_rec_index_delete(idx, s->id) : 0;
		goto out;
	}
	if (g_str_has_suffix(s->path, ".bad") ||
	    sc < 0 || keys->len == 0 || g_array_index(keys, int64_t, 0) != 0) {
		char *bad = g_strconcat(full, ".bad", NULL);
		char *badrel = g_strconcat(s->path, ".bad", NULL);
		if (!g_str_has_suffix(s->path, ".bad") && rename(full, bad) == 0) {
			g_free(s->path);
			s->path = badrel;
			badrel = NULL;
		}
		s->state = LS_SEG_QUARANTINED;
		s->last_slot = s->first_slot - 1;
		s->bytes = st.st_size;
		g_printerr("record: %s is unreadable after a crash; quarantined\n", s->path);
		g_free(bad);
		g_free(badrel);
	} else {
		int64_t period = ls_rate_period_ns(rate);
		fsync_path(full, false);
		char *d = g_path_get_dirname(full);
		fsync_path(d, true);
		g_free(d);
		g_free(s->keyframes);
		s->keyframes = keys_text(keys, s->first_slot, keep);
		s->last_slot = s->first_slot + keep - 1;
		s->end_ns = s->start_ns + keep * period;
		s->bytes = st.st_size;
		s->state = LS_SEG_COMPLETE;
		g_printerr("record: recovered %s: %lld frames, slots %lld..%lld (the last frame written was dropped)\n",
			   s->path, (long long)keep, (long long)s->first_slot, (long long)s->last_slot);
	}
	g_array_unref(keys);
	rc = s->id ? ls_rec_index_update(idx, s, NULL) : ls_rec_index_insert(idx, s, NULL);
	if (rc == 0)
		rc = 1;
out:
	g_free(full);
	return rc;
}

int ls_rec_recover(struct ls_rec_index *idx, const char *dir, struct ls_rate rate, char **err)
{
	int fixed = 0;
	GPtrArray *rows = ls_rec_index_list(idx, NULL, -1, INT64_MIN, INT64_MAX);
	if (!rows) {
		if (err)
			*err = g_strdup_printf("record index in %s: cannot read: %s", dir, sqlite3_errmsg(idx->db));
		return -EIO;
	}
	GHashTable *known = g_hash_table_new(g_str_hash, g_str_equal);
	for (guint i = 0; i < rows->len; i++) {
		struct ls_rec_segment *s = g_ptr_array_index(rows, i);
		g_hash_table_add(known, s->path);
		if (s->state == LS_SEG_DELETING) {
			char *full = g_build_filename(dir, s->path, NULL);
			unlink(full);
			g_free(full);
			ls_rec_index_delete(idx, s->id);
		} else if (s->state == LS_SEG_RECORDING) {
			if (ls_rec_repair(idx, dir, s, rate) > 0)
				fixed++;
		}
	}
	/* files the index never heard of: the row insert did not happen */
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *cam;
	while (d && (cam = g_dir_read_name(d))) {
		char *cdir = g_build_filename(dir, cam, NULL);
		GDir *cd = g_file_test(cdir, G_FILE_TEST_IS_DIR) ? g_dir_open(cdir, 0, NULL) : NULL;
		const char *f;
		while (cd && (f = g_dir_read_name(cd))) {
			char *endp;
			long long first = g_ascii_strtoll(f, &endp, 10);
			if (strcmp(endp, ".ts") != 0 || endp == f)
				continue;
			char *rel = g_build_filename(cam, f, NULL);
			if (!g_hash_table_contains(known, rel)) {
				struct ls_rec_segment s = {
					.camera = g_strdup(cam),
					.path = g_strdup(rel),
					.first_slot = first,
					.last_slot = first - 1,
					.state = LS_SEG_RECORDING,
				};
				char *full = g_build_filename(dir, rel, NULL);
				struct stat st;
				if (stat(full, &st) == 0)
					s.start_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
				g_free(full);
				if (ls_rec_repair(idx, dir, &s, rate) > 0)
					fixed++;
				g_free(s.camera);
				g_free(s.path);
				g_free(s.keyframes);
			}
			g_free(rel);
		}
		if (cd)
			g_dir_close(cd);
		g_free(cdir);
	}
	if (d)
		g_dir_close(d);
	g_hash_table_unref(known);
	g_ptr_array_unref(rows);
	return fixed;
}

/* ---- retention ------------------------------------------------------- */

/* Claims, unlinks and forgets one complete segment. 1 if it went. */
static int drop_segment(struct ls_rec_index *idx, const char *dir, const struct ls_rec_segment *s)
{
	if (ls_rec_index_set_state(idx, s->id, LS_SEG_COMPLETE, LS_SEG_DELETING) != 1)
		return 0; /* a clip protected it meanwhile */
	char *full = g_build_filename(dir, s->path, NULL);
	unlink(full);
	g_free(full);
	ls_rec_index_delete(idx, s->id);
	return 1;
}

int64_t ls_rec_free_bytes(const char *dir)
{
	struct statvfs v;
	if (statvfs(dir, &v) < 0)
		return INT64_MAX;
	return (int64_t)v.f_bavail * (int64_t)v.f_frsize;
}

int ls_rec_retention(struct ls_rec_index *idx, const struct ls_record_config *rc, int64_t now_ns, bool *emergency)
{
	*emergency = false;
	GPtrArray *rows = ls_rec_index_list(idx, NULL, -1, INT64_MIN, INT64_MAX);
	if (!rows)
		return -EIO;
	/* rows come oldest first (by first slot) */
	int deleted = 0;
	int64_t total = 0;
	GHashTable *per_cam = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
	bool *gone = g_new0(bool, rows->len + 1);
	for (guint i = 0; i < rows->len; i++) {
		struct ls_rec_segment *s = g_ptr_array_index(rows, i);
		total += s->bytes;
		int64_t *c = g_hash_table_lookup(per_cam, s->camera);
		if (!c) {
			c = g_new0(int64_t, 1);
			g_hash_table_insert(per_cam, s->camera, c);
		}
		*c += s->bytes;
	}
	for (guint i = 0; i < rows->len; i++) {
		struct ls_rec_segment *s = g_ptr_array_index(rows, i);
		if (s->state != LS_SEG_COMPLETE)
			continue;
		int64_t *c = g_hash_table_lookup(per_cam, s->camera);
		bool old = s->end_ns < now_ns - rc->keep_ns;
		bool over = (rc->quota_bytes > 0 && total > rc->quota_bytes) ||
			    (rc->camera_quota_bytes > 0 && *c > rc->camera_quota_bytes);
		if ((old || over) && drop_segment(idx, rc->dir, s)) {
			deleted++;
			gone[i] = true;
			total -= s->bytes;
			*c -= s->bytes;
		}
	}
	/* a camera over its quota whose older segments belong to other
	 * cameras: the loop above reached them in slot order already */
	for (guint i = 0; i < rows->len && ls_rec_free_bytes(rc->dir) < rc->min_free_bytes; i++) {
		struct ls_rec_segment *s = g_ptr_array_index(rows, i);
		if (gone[i] || s->state != LS_SEG_COMPLETE)
			continue;
		*emergency = true;
		if (drop_segment(idx, rc->dir, s))
			deleted++;
	}
	if (!*emergency && ls_rec_free_bytes(rc->dir) < rc->min_free_bytes)
		*emergency = true; /* short of space with nothing left to delete */
	g_free(gone);
	g_hash_table_unref(per_cam);
	g_ptr_array_unref(rows);
	return deleted;
}

/* ---- clips ----------------------------------------------------------- */

static void iso_time(int64_t ns, char *buf, size_t len)
{
	time_t secs = (time_t)(ns / 1000000000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	char b[32];
	strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03dZ", b, (int)(ns % 1000000000 / 1000000));
}

static GHashTable *key_set(GPtrArray *segs, const char *camera)
{
	GHashTable *h = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	for (guint i = 0; i < segs->len; i++) {
		struct ls_rec_segment *s = g_ptr_array_index(segs, i);
		if (strcmp(s->camera, camera) != 0)
			continue;
		char **parts = g_strsplit(s->keyframes, ",", -1);
		for (char **p = parts; *p; p++)
			if (**p) {
				int64_t *k = g_new(int64_t, 1);
				*k = g_ascii_strtoll(*p, NULL, 10);
				g_hash_table_add(h, k);
			}
		g_strfreev(parts);
	}
	return h;
}

struct clip_cam {
	char *name;
	GPtrArray *segs; /* borrowed from the list, this camera's, oldest first */
	int64_t first, last, frames;
	GString *files;
	bool copy;       /* its segments are the camera's own stream */
	int64_t start;   /* the keyframe slot its part of the clip starts at */
};

/* Copies this camera's access units for slots [from, to] into
 * OUTDIR/CAMERA.mp4, restamped from 0. */
static int export_camera(struct clip_cam *cc, const struct ls_clip_request *req, int64_t from, int64_t to, char **err)
{
	int64_t period = ls_rate_period_ns(req->rate);
	GstElement *w = NULL;
	GstAppSrc *src = NULL;
	char *out = g_strdup_printf("%s/%s.mp4", req->outdir, cc->name);
	int rc = 0;
	cc->first = INT64_MAX;
	cc->last = INT64_MIN;
	for (guint i = 0; i < cc->segs->len && rc == 0; i++) {
		struct ls_rec_segment *s = g_ptr_array_index(cc->segs, i);
		if (s->last_slot < from || s->first_slot > to)
			continue;
		char *full = g_build_filename(req->dir, s->path, NULL);
		GstAppSink *sink;
		GstElement *r = reader_new(full, &sink);
		g_free(full);
		if (!r) {
			*err = g_strdup_printf("clip: cannot read %s/%s", req->dir, s->path);
			rc = -EIO;
			break;
		}
		g_string_append_printf(cc->files, "%s\"%s\"", cc->files->len ? "," : "", s->path);
		GstSample *smp;
		int64_t slot = s->first_slot;
		while ((smp = gst_app_sink_pull_sample(sink))) {
			int64_t n = slot++;
			if (n < from || n > to || n > s->last_slot) {
				gst_sample_unref(smp);
				if (n > to || n > s->last_slot)
					break;
				continue;
			}
			if (!w) {
				GError *ge = NULL;
				w = gst_parse_launch("appsrc name=src format=time ! h264parse ! mp4mux ! filesink name=f",
						     &ge);
				if (!w || ge) {
					*err = g_strdup_printf("clip: cannot build the muxer: %s", ge ? ge->message : "?");
					g_clear_error(&ge);
					gst_sample_unref(smp);
					rc = -EIO;
					break;
				}
				GstElement *f = gst_bin_get_by_name(GST_BIN(w), "f");
				g_object_set(f, "location", out, NULL);
				gst_object_unref(f);
				src = GST_APP_SRC(gst_bin_get_by_name(GST_BIN(w), "src"));
				gst_app_src_set_caps(src, gst_sample_get_caps(smp));
				gst_element_set_state(w, GST_STATE_PLAYING);
			}
			GstBuffer *b = gst_buffer_copy(gst_sample_get_buffer(smp));
			GST_BUFFER_PTS(b) = GST_BUFFER_DTS(b) = (GstClockTime)((n - from) * period);
			GST_BUFFER_DURATION(b) = (GstClockTime)period;
			gst_sample_unref(smp);
			if (gst_app_src_push_buffer(src, b) != GST_FLOW_OK) {
				*err = g_strdup_printf("clip: writing %s failed", out);
				rc = -EIO;
				break;
			}
			if (n < cc->first)
				cc->first = n;
			cc->last = n;
			cc->frames++;
		}
		reader_free(r, sink);
	}
	if (w) {
		gst_app_src_end_of_stream(src);
		GstBus *bus = gst_element_get_bus(w);
		GstMessage *m = gst_bus_timed_pop_filtered(bus, 60 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
		if (!m || GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR) {
			if (rc == 0) {
				GError *ge = NULL;
				if (m)
					gst_message_parse_error(m, &ge, NULL);
				*err = g_strdup_printf("clip: writing %s: %s", out, ge ? ge->message : "timed out");
				g_clear_error(&ge);
			}
			rc = -EIO;
		}
		if (m)
			gst_message_unref(m);
		gst_object_unref(bus);
		gst_element_set_state(w, GST_STATE_NULL);
		gst_object_unref(src);
		gst_object_unref(w);
		if (rc == 0) {
			rc = fsync_path(out, false);
			if (rc < 0)
				*err = g_strdup_printf("clip: %s: %s", out, g_strerror(-rc));
		}
	}
	g_free(out);
	return rc;
}

int ls_record_clip(const struct ls_clip_request *req, struct ls_clip_result *res, char **err)
{
	struct ls_rec_index *idx = NULL;
	GPtrArray *segs = NULL, *cams = g_ptr_array_new();
	GHashTable **keys = NULL;
	int rc = ls_rec_index_open(req->dir, &idx, err);
	if (rc < 0)
		goto out;
	memset(res, 0, sizeof *res);
	int64_t n1 = req->n1 - req->pre_slots, n2 = req->n2 + req->post_slots;
	if (n1 > n2) {
		*err = g_strdup_printf("clip: the window starts after it ends (slot %lld > %lld)", (long long)n1,
				       (long long)n2);
		rc = -EINVAL;
		goto out;
	}
	GPtrArray *all = ls_rec_index_list(idx, NULL, -1, INT64_MIN, INT64_MAX);
	if (!all) {
		*err = g_strdup_printf("clip: cannot read the index in %s", req->dir);
		rc = -EIO;
		goto out;
	}
	/* the cameras: given, or every camera in the index */
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	if (req->cameras) {
		for (const char *const *c = req->cameras; *c; c++) {
			bool found = false;
			for (guint i = 0; i < all->len && !found; i++)
				found = strcmp(((struct ls_rec_segment *)g_ptr_array_index(all, i))->camera, *c) == 0;
			if (!found) {
				*err = g_strdup_printf("clip: no recording of camera \"%s\" in %s", *c, req->dir);
				rc = -ENOENT;
				break;
			}
			g_ptr_array_add(names, g_strdup(*c));
		}
	} else {
		for (guint i = 0; i < all->len; i++) {
			const char *c = ((struct ls_rec_segment *)g_ptr_array_index(all, i))->camera;
			bool dup = false;
			for (guint j = 0; j < names->len && !dup; j++)
				dup = strcmp(g_ptr_array_index(names, j), c) == 0;
			if (!dup)
				g_ptr_array_add(names, g_strdup(c));
		}
	}
	int64_t rec_first = INT64_MAX, rec_last = INT64_MIN;
	for (guint i = 0; i < all->len; i++) {
		struct ls_rec_segment *s = g_ptr_array_index(all, i);
		if (s->state != LS_SEG_COMPLETE && s->state != LS_SEG_PROTECTED)
			continue;
		rec_first = MIN(rec_first, s->first_slot);
		rec_last = MAX(rec_last, s->last_slot);
	}
	g_ptr_array_unref(all);
	if (rc < 0) {
		g_ptr_array_unref(names);
		goto out;
	}
	if (names->len == 0 || rec_first > rec_last) {
		*err = g_strdup_printf("clip: nothing is recorded in %s", req->dir);
		g_ptr_array_unref(names);
		rc = -EINVAL;
		goto out;
	}
	if (n2 < rec_first || n1 > rec_last) {
		char a[40], b[40], c[40], d[40];
		iso_time(ls_slot_time(n1, req->epoch_ns, req->rate), a, sizeof a);
		iso_time(ls_slot_time(n2, req->epoch_ns, req->rate), b, sizeof b);
		iso_time(ls_slot_time(rec_first, req->epoch_ns, req->rate), c, sizeof c);
		iso_time(ls_slot_time(rec_last, req->epoch_ns, req->rate), d, sizeof d);
		*err = g_strdup_printf("clip: slots %lld..%lld (%s..%s) are outside the recording, slots %lld..%lld "
				       "(%s..%s)",
				       (long long)n1, (long long)n2, a, b, (long long)rec_first, (long long)rec_last, c,
				       d);
		g_ptr_array_unref(names);
		rc = -EINVAL;
		goto out;
	}
	/* segments that can hold the window, with a keyframe at or before n1 */
	segs = ls_rec_index_list(idx, NULL, -1, n1, n2);
	if (!segs) {
		*err = g_strdup("clip: cannot read the index");
		rc = -EIO;
		g_ptr_array_unref(names);
		goto out;
	}
	for (guint i = 0; i < segs->len; i++) {
		struct ls_rec_segment *s = g_ptr_array_index(segs, i);
		if (s->state != LS_SEG_COMPLETE && s->state != LS_SEG_PROTECTED) {
			g_ptr_array_remove_index(segs, i--);
		}
	}
	keys = g_new0(GHashTable *, names->len);
	for (guint c = 0; c < names->len; c++) {
		struct clip_cam *cc = g_new0(struct clip_cam, 1);
		cc->name = g_strdup(g_ptr_array_index(names, c));
		cc->segs = g_ptr_array_new();
		cc->files = g_string_new(NULL);
		for (guint i = 0; i < segs->len; i++) {
			struct ls_rec_segment *s = g_ptr_array_index(segs, i);
			if (strcmp(s->camera, cc->name) == 0)
				g_ptr_array_add(cc->segs, s);
		}
		g_ptr_array_add(cams, cc);
		keys[c] = key_set(segs, cc->name);
	}
	g_ptr_array_unref(names);
	/* the start: the latest slot <= n1 that is a keyframe on every camera
	 * that was encoded by lockstep (they share keyframe slots), else the
	 * earliest such slot inside the window. A stream-copied camera has its
	 * own keyframes: it starts at its own latest keyframe <= n1. */
	int64_t start = INT64_MIN, later = INT64_MAX;
	int first_enc = -1;
	for (guint c = 0; c < cams->len; c++) {
		struct clip_cam *cc = g_ptr_array_index(cams, c);
		for (guint i = 0; i < cc->segs->len; i++)
			cc->copy |= ((struct ls_rec_segment *)g_ptr_array_index(cc->segs, i))->copy;
		cc->start = INT64_MIN;
		if (!cc->copy && first_enc < 0)
			first_enc = (int)c;
	}
	GHashTableIter it;
	gpointer kp;
	if (first_enc >= 0) {
		g_hash_table_iter_init(&it, keys[first_enc]);
		while (g_hash_table_iter_next(&it, &kp, NULL)) {
			int64_t k = *(int64_t *)kp;
			bool common = true;
			for (guint c = 0; c < cams->len && common; c++)
				common = ((struct clip_cam *)g_ptr_array_index(cams, c))->copy ||
					 g_hash_table_contains(keys[c], &k);
			if (!common)
				continue;
			if (k <= n1 && k > start)
				start = k;
			if (k > n1 && k <= n2 && k < later)
				later = k;
		}
		if (start == INT64_MIN)
			start = later;
		if (start == INT64_MAX) {
			*err = g_strdup_printf("clip: no slot in %lld..%lld is a keyframe on every chosen camera",
					       (long long)n1, (long long)n2);
			rc = -EINVAL;
			goto out;
		}
	}
	int64_t earliest = INT64_MAX;
	for (guint c = 0; c < cams->len; c++) {
		struct clip_cam *cc = g_ptr_array_index(cams, c);
		if (!cc->copy) {
			cc->start = start;
		} else {
			int64_t before = INT64_MIN, after = INT64_MAX;
			g_hash_table_iter_init(&it, keys[c]);
			while (g_hash_table_iter_next(&it, &kp, NULL)) {
				int64_t k = *(int64_t *)kp;
				if (k <= n1 && k > before)
					before = k;
				if (k > n1 && k <= n2 && k < after)
					after = k;
			}
			cc->start = before != INT64_MIN ? before : after;
			if (cc->start == INT64_MAX) {
				*err = g_strdup_printf("clip: camera %s has no keyframe at or before slot %lld..%lld",
						       cc->name, (long long)n1, (long long)n2);
				rc = -EINVAL;
				goto out;
			}
		}
		earliest = MIN(earliest, cc->start);
	}
	start = earliest;
	if (mkdir(req->outdir, 0755) < 0 && errno != EEXIST) {
		*err = g_strdup_printf("clip: --out %s: %s", req->outdir, g_strerror(errno));
		rc = -errno;
		goto out;
	}
	if (access(req->outdir, W_OK) < 0) {
		*err = g_strdup_printf("clip: --out %s: cannot write: %s", req->outdir, g_strerror(errno));
		rc = -EACCES;
		goto out;
	}
	/* protect first, so retention cannot take a source while we read it */
	for (guint i = 0; i < segs->len; i++) {
		struct ls_rec_segment *s = g_ptr_array_index(segs, i);
		if (s->last_slot >= start && s->first_slot <= n2 && s->state == LS_SEG_COMPLETE)
			ls_rec_index_set_state(idx, s->id, LS_SEG_COMPLETE, LS_SEG_PROTECTED);
	}
	for (guint c = 0; c < cams->len && rc == 0; c++) {
		struct clip_cam *cc = g_ptr_array_index(cams, c);
		rc = export_camera(cc, req, cc->start, n2, err);
	}
	if (rc < 0)
		goto out;
	/* the manifest */
	GString *j = g_string_new("{\n");
	g_string_append_printf(j, "  \"rate\": \"%d/%d\",\n  \"epoch_ns\": %lld,\n  \"gop\": %u,\n", req->rate.num,
			       req->rate.den, (long long)req->epoch_ns, req->gop);
	g_string_append_printf(j, "  \"requested\": {\"first_slot\": %lld, \"last_slot\": %lld},\n", (long long)n1,
			       (long long)n2);
	res->first_slot = start;
	res->last_slot = INT64_MIN;
	g_string_append(j, "  \"cameras\": {");
	for (guint c = 0; c < cams->len; c++) {
		struct clip_cam *cc = g_ptr_array_index(cams, c);
		char a[40] = "", b[40] = "";
		if (cc->frames) {
			iso_time(ls_slot_time(cc->first, req->epoch_ns, req->rate), a, sizeof a);
			iso_time(ls_slot_time(cc->last + 1, req->epoch_ns, req->rate), b, sizeof b);
			res->last_slot = MAX(res->last_slot, cc->last);
		}
		g_string_append_printf(j,
				       "%s\n    \"%s\": {\"file\": \"%s.mp4\", \"first_slot\": %lld, \"last_slot\": %lld, "
				       "\"frames\": %lld, \"start\": \"%s\", \"end\": \"%s\", \"copy\": %s, \"segments\": [%s]}",
				       c ? "," : "", cc->name, cc->name, (long long)(cc->frames ? cc->first : -1),
				       (long long)(cc->frames ? cc->last : -1), (long long)cc->frames, a, b,
				       cc->copy ? "true" : "false", cc->files->str);
		res->frames += cc->frames;
	}
	g_string_append_printf(j, "\n  },\n  \"first_slot\": %lld,\n  \"last_slot\": %lld\n}\n", (long long)start,
			       (long long)res->last_slot);
	res->ncams = cams->len;
	char *mpath = g_build_filename(req->outdir, "manifest.json", NULL);
	GError *ge = NULL;
	if (!g_file_set_contents(mpath, j->str, (gssize)j->len, &ge)) {
		*err = g_strdup_printf("clip: %s", ge->message);
		g_clear_error(&ge);
		rc = -EIO;
	} else {
		fsync_path(mpath, false);
		fsync_path(req->outdir, true);
		ls_rec_index_add_clip(idx, start, res->last_slot, req->outdir);
	}
	g_free(mpath);
	g_string_free(j, TRUE);
out:
	for (guint c = 0; c < cams->len; c++) {
		struct clip_cam *cc = g_ptr_array_index(cams, c);
		if (keys && keys[c])
			g_hash_table_unref(keys[c]);
		g_ptr_array_unref(cc->segs);
		g_string_free(cc->files, TRUE);
		g_free(cc->name);
		g_free(cc);
	}
	g_free(keys);
	g_ptr_array_unref(cams);
	if (segs)
		g_ptr_array_unref(segs);
	ls_rec_index_close(&idx);
	return rc;
}
