/* clip_cut — cutting a clip out of the recording (ls_record_clip, see
 * recorder.h): the window's segments protected, each camera's access units
 * copied into OUTDIR/CAMERA.mp4 from a shared keyframe, and a manifest.
 * The queue of clips others ask for is clips.c. */
#include "recorder_private.h"

#include <errno.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
	bool copy;     /* its segments are the camera's own stream */
	int64_t start; /* the keyframe slot its part of the clip starts at */
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
				w = gst_parse_launch(
					"appsrc name=src format=time ! h264parse ! mp4mux ! filesink name=f", &ge);
				if (!w || ge) {
					*err = g_strdup_printf("clip: cannot build the muxer: %s",
							       ge ? ge->message : "?");
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
		g_string_append_printf(
			j,
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
