/* retention — the recorder's ring retention (see recorder.h): complete
 * segments deleted oldest first past keep=, over a quota, or while the
 * disk is short of min-free space; protected ones are never touched. */
#include "recorder.h"

#include <errno.h>
#include <sys/statvfs.h>
#include <unistd.h>

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
