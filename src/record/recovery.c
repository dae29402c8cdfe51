/* recovery — the recorder's recovery pass (see recorder.h): rows a crash
 * left in recording or deleting, and files the index never heard of, made
 * true to what is on disk; torn segments are cut back or quarantined. */
#include "recorder_private.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TS_PACKET 188

/* ---- recovery -------------------------------------------------------- */

int fsync_path(const char *path, bool dir)
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
	if (g_str_has_suffix(s->path, ".bad") || sc < 0 || keys->len == 0 || g_array_index(keys, int64_t, 0) != 0) {
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
