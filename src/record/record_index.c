/* record_index — the recorder's segment index (see recorder.h): the SQLite
 * schema, the segments and clips tables and their statements, each one
 * under the index's mutex; and reading segments back (a TS demuxer
 * pipeline per file). */
#include "recorder_private.h"

#include <errno.h>
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
	" missing TEXT NOT NULL DEFAULT '',"
	" state TEXT NOT NULL CHECK (state IN ('recording','complete','protected','quarantined','deleting')));"
	"CREATE INDEX IF NOT EXISTS segments_slot ON segments (first_slot, camera);"
	"CREATE TABLE IF NOT EXISTS clips ("
	" id INTEGER PRIMARY KEY, created_ns INTEGER NOT NULL, first_slot INTEGER NOT NULL,"
	" last_slot INTEGER NOT NULL, out TEXT NOT NULL);";

static const char *const seg_state_names[] = {
	[LS_SEG_RECORDING] = "recording",     [LS_SEG_COMPLETE] = "complete", [LS_SEG_PROTECTED] = "protected",
	[LS_SEG_QUARANTINED] = "quarantined", [LS_SEG_DELETING] = "deleting",
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
	g_free(s->missing);
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
		/* an index made before stream copy, or before missing ranges:
		 * add their columns */
		static const char *const added[][2] = {
			{ "SELECT copy FROM segments LIMIT 0",
			  "ALTER TABLE segments ADD COLUMN copy INTEGER NOT NULL DEFAULT 0" },
			{ "SELECT missing FROM segments LIMIT 0",
			  "ALTER TABLE segments ADD COLUMN missing TEXT NOT NULL DEFAULT ''" },
		};
		for (unsigned i = 0; rc == SQLITE_OK && i < G_N_ELEMENTS(added); i++) {
			sqlite3_stmt *probe = NULL;
			if (sqlite3_prepare_v2(idx->db, added[i][0], -1, &probe, NULL) != SQLITE_OK)
				rc = sqlite3_exec(idx->db, added[i][1], NULL, NULL, &msg);
			sqlite3_finalize(probe);
		}
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
			       " keyframes, repeated, state, copy, missing) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
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
	sqlite3_bind_text(st, 12, s->missing ? s->missing : "", -1, SQLITE_STATIC);
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
			       " state=?, missing=? WHERE id=?",
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
	sqlite3_bind_text(st, 8, s->missing ? s->missing : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, s->id);
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
	if (sqlite3_prepare_v2(
		    idx->db,
		    "SELECT id, camera, path, first_slot, last_slot, start_ns, end_ns, bytes, keyframes,"
		    " repeated, state, copy, missing FROM segments WHERE (?1 IS NULL OR camera=?1) AND (?2 IS NULL OR"
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
		s->missing = col_text(st, 12);
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

void ls_rec_ranges_add(GString *g, int64_t n)
{
	/* the last range: "A" or "A-B" after the last comma */
	const char *last = strrchr(g->str, ',');
	last = last ? last + 1 : g->str;
	if (*last) {
		const char *dash = strchr(last + 1, '-'); /* past a leading minus of a negative slot */
		int64_t end = g_ascii_strtoll(dash ? dash + 1 : last, NULL, 10);
		if (n == end + 1) {
			g_string_truncate(g, dash ? (gsize)(dash - g->str) : g->len);
			g_string_append_printf(g, "-%lld", (long long)n);
			return;
		}
	}
	g_string_append_printf(g, "%s%lld", g->len ? "," : "", (long long)n);
}

bool ls_rec_ranges_has(const char *ranges, int64_t n)
{
	for (const char *p = ranges; p && *p;) {
		char *end;
		int64_t a = g_ascii_strtoll(p, &end, 10), b = a;
		if (end == p)
			return false;
		if (*end == '-') {
			p = end + 1;
			b = g_ascii_strtoll(p, &end, 10);
			if (end == p)
				return false;
		}
		if (n >= a && n <= b)
			return true;
		p = *end == ',' ? end + 1 : end;
	}
	return false;
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
GstElement *reader_new(const char *path, GstAppSink **sink)
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

void reader_free(GstElement *p, GstAppSink *sink)
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
