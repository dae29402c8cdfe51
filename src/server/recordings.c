/* recordings — the recordings of [record] and clip export over HTTP, for
 * the console's synchronized player (web/recordings.html). All under
 * /api/v1, JSON with "version":1, errors one line (README, "HTTP API"):
 *
 *   GET  /api/v1/recordings[?from=SLOT&to=SLOT | ?from_ns=NS&to_ns=NS]
 *        per camera: segments, missing slots (the camera had no frame: the
 *        recorder repeated its last one), gaps (no segment), protected
 *        (clip) ranges; the overall first and last slot
 *   GET  /api/v1/recordings/CAMERA/SLOT.jpg[?w=MAXWIDTH]
 *        the picture of CAMERA at SLOT; 404 "no frame" where it has none
 *   POST /api/v1/clips  {"from":SLOT,"to":SLOT,"cameras":["a",...]}
 *        ls_record_clip() into DIR/exports/ID/ (+ ID.zip); 201
 *   GET  /api/v1/clips, /api/v1/clips/ID, /api/v1/clips/ID.zip,
 *        /api/v1/clips/ID/manifest.json, /api/v1/clips/ID/CAMERA.mp4
 *
 * Security: the token was checked by http.c. A path is answered only when
 * each part is exactly a camera name, a slot, a clip id ([A-Za-z0-9_-]) or
 * a plain file name of that clip; anything else ("..", "%2e%2e", "//",
 * absolute paths) is 404. Segment files come from the index, never from the
 * URL. Clip files are opened with openat() and O_NOFOLLOW from the exports
 * directory down, and must be regular files: a symlink planted there is
 * 404. POST needs Content-Type: application/json, which a cross-site HTML
 * form cannot send (415 otherwise), and the token, where the server has
 * one, in the Authorization header: a POST with ?token= is 401.
 *
 * Threads: requests arrive on the server thread (its GMainContext, @ctx).
 * Reading the index, decoding and exporting run in a pool of POOL_THREADS
 * workers (at nice WORKER_NICE, so a browser never takes the rig's CPU)
 * while the message is paused; each job ends on the server thread
 * (g_main_context_invoke), which answers and unpauses it. A job is
 * reference counted: the server thread's list `jobs`, the worker and the
 * invoke each hold one. ls_recordings_close (server thread) answers every
 * job still paused with 503; their workers' results are then dropped.
 * Locking order: none is held while taking another (index_lock, then the
 * index's own lock inside ls_rec_index_*). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "output_ctx.h"
#include "playback.h"
#include "recorder.h"
#include "server.h"

#define POOL_THREADS 2
/* the workers' nice value: decoding for a browser gives way to the rig
 * (the threads of the pipelines they build inherit it) */
#define WORKER_NICE 10
#define BODY_MAX 65536  /* bytes of a POST body */
#define CLIP_MAX_S 1800 /* longest clip a POST may ask for, s */
#define JPEG_MIN_W 16   /* ?w= bounds */
#define JPEG_MAX_W 7680
#define ZIP_MAX ((int64_t)0xFFFFFFFF) /* no ZIP64: each file and the archive below 4 GiB */

#define RECORDINGS "/api/v1/recordings"
#define CLIPS "/api/v1/clips"

enum job_kind { JOB_LIST, JOB_JPEG, JOB_CLIP, JOB_CLIPS };

struct job {
	gint refs;
	enum job_kind kind;
	SoupServerMessage *msg; /* server thread; NULL once answered */
	/* the request (server thread, before the worker) */
	int64_t n1, n2; /* JOB_LIST: slots, INT64_MIN/MAX: open; JOB_CLIP: the window */
	char *camera;   /* JOB_JPEG */
	int64_t slot;   /* JOB_JPEG */
	int max_w;      /* JOB_JPEG: 0 = as recorded */
	char **cameras; /* JOB_CLIP: NULL-terminated, or NULL: all */
	/* the answer (worker, read by the server thread after the invoke) */
	guint status;
	JsonNode *json;   /* or */
	GBytes *jpeg;     /* or */
	char *error;      /* one line */
	bool retry_after; /* 503 busy: Retry-After */
};

struct ls_recordings {
	const struct ls_config *cfg;
	char *dir;     /* [record] dir */
	char *exports; /* DIR/exports */
	GMainContext *ctx;
	const struct ls_output_ctx *events; /* where exports are reported */
	GThreadPool *pool;
	struct ls_playback *play;
	GMutex index_lock; /* protects idx (opened on first use by a worker) */
	struct ls_rec_index *idx;
	gint closed;     /* atomic: ls_recordings_close ran; workers skip their jobs */
	gint exporting;  /* atomic: a clip export is running */
	GPtrArray *jobs; /* server thread: struct job * still paused (a reference each) */
};

/* ---- jobs ------------------------------------------------------------- */

static struct job *job_ref(struct job *j)
{
	g_atomic_int_inc(&j->refs);
	return j;
}

static void job_unref(gpointer data)
{
	struct job *j = data;
	if (!g_atomic_int_dec_and_test(&j->refs))
		return;
	g_clear_object(&j->msg); /* only set when a context drops its invoke */
	g_free(j->camera);
	g_strfreev(j->cameras);
	if (j->json)
		json_node_unref(j->json);
	if (j->jpeg)
		g_bytes_unref(j->jpeg);
	g_free(j->error);
	g_free(j);
}

static void job_fail(struct job *j, guint status, char *error /* taken */)
{
	j->status = status;
	g_free(j->error);
	j->error = error;
}

/* Server thread: the worker's answer, or the rig stopping. */
static void job_answer(struct ls_recordings *r, struct job *j)
{
	SoupServerMessage *msg = j->msg;
	j->msg = NULL;
	if (j->error) {
		if (j->retry_after)
			soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Retry-After", "5");
		ls_http_reply_error(msg, j->status, j->error);
	} else if (j->jpeg) {
		SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);
		char slot[24];
		snprintf(slot, sizeof slot, "%lld", (long long)j->slot);
		/* a slot's picture never changes */
		soup_message_headers_replace(h, "Cache-Control", "private, max-age=3600");
		soup_message_headers_replace(h, "X-Lockstep-Slot", slot);
		soup_message_headers_replace(h, "X-Content-Type-Options", "nosniff");
		soup_message_headers_set_content_type(h, "image/jpeg", NULL);
		soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
		soup_message_body_append_bytes(soup_server_message_get_response_body(msg), j->jpeg);
	} else {
		JsonNode *n = j->json;
		j->json = NULL;
		ls_http_reply_json(msg, j->status ? j->status : SOUP_STATUS_OK, n);
	}
	soup_server_message_unpause(msg);
	g_object_unref(msg);
	g_ptr_array_remove_fast(r->jobs, j); /* drops the list's reference */
}

struct finish {
	struct ls_recordings *r;
	struct job *j;
};

/* Server thread, invoked by the worker. */
static gboolean job_finish(gpointer data)
{
	struct finish *f = data;
	if (f->j->msg)
		job_answer(f->r, f->j);
	return G_SOURCE_REMOVE;
}

static void finish_free(gpointer data)
{
	struct finish *f = data;
	job_unref(f->j);
	g_free(f);
}

/* Server thread: pauses @msg and hands @j (taken) to a worker. */
static void job_start(struct ls_recordings *r, SoupServerMessage *msg, struct job *j)
{
	j->refs = 1; /* the list's */
	j->msg = g_object_ref(msg);
	soup_server_message_pause(msg);
	g_ptr_array_add(r->jobs, j);
	g_thread_pool_push(r->pool, job_ref(j), NULL);
}

/* ---- the index ----------------------------------------------------------- */

/* Worker: the index, opened on first use (the recorder may create it after
 * the server starts). NULL with *err set. */
static struct ls_rec_index *index_get(struct ls_recordings *r, char **err)
{
	g_mutex_lock(&r->index_lock);
	if (!r->idx)
		ls_rec_index_open(r->dir, &r->idx, err);
	struct ls_rec_index *idx = r->idx;
	g_mutex_unlock(&r->index_lock);
	return idx;
}

static bool readable(const struct ls_rec_segment *s)
{
	return (s->state == LS_SEG_COMPLETE || s->state == LS_SEG_PROTECTED) && s->last_slot >= s->first_slot;
}

/* [a, b] as a two-element array. */
static void add_range(JsonBuilder *b, int64_t a, int64_t z)
{
	json_builder_begin_array(b);
	json_builder_add_int_value(b, a);
	json_builder_add_int_value(b, z);
	json_builder_end_array(b);
}

/* Appends the ranges text @ranges ("1-3,7"), clipped to [lo, hi], as [a,b]
 * pairs. */
static void add_ranges_clipped(JsonBuilder *b, const char *ranges, int64_t lo, int64_t hi)
{
	for (const char *p = ranges; p && *p;) {
		char *end;
		int64_t a = g_ascii_strtoll(p, &end, 10), z = a;
		if (end == p)
			return;
		if (*end == '-') {
			p = end + 1;
			z = g_ascii_strtoll(p, &end, 10);
			if (end == p)
				return;
		}
		if (a < lo)
			a = lo;
		if (z > hi)
			z = hi;
		if (a <= z)
			add_range(b, a, z);
		p = *end == ',' ? end + 1 : end;
	}
}

static int count_list(const char *csv)
{
	int n = 0;
	for (const char *p = csv; p && *p; p++)
		n += *p == ',';
	return csv && *csv ? n + 1 : 0;
}

/* Worker: GET /api/v1/recordings. */
static void do_list(struct ls_recordings *r, struct job *j)
{
	char *err = NULL;
	struct ls_rec_index *idx = index_get(r, &err);
	GPtrArray *segs = idx ? ls_rec_index_list(idx, NULL, -1, j->n1, j->n2) : NULL;
	if (!segs) {
		job_fail(j, SOUP_STATUS_INTERNAL_SERVER_ERROR,
			 err ? err : g_strdup_printf("cannot read the record index in %s", r->dir));
		return;
	}
	g_free(err);
	/* cameras: the config's in order, then any other the index has */
	GPtrArray *names = g_ptr_array_new();
	for (unsigned c = 0; c < r->cfg->ncams; c++)
		g_ptr_array_add(names, r->cfg->cams[c].name);
	int64_t first = INT64_MAX, last = INT64_MIN;
	for (guint i = 0; i < segs->len; i++) {
		struct ls_rec_segment *s = g_ptr_array_index(segs, i);
		bool known = false;
		for (guint k = 0; k < names->len && !known; k++)
			known = strcmp(g_ptr_array_index(names, k), s->camera) == 0;
		if (!known)
			g_ptr_array_add(names, s->camera);
		if (readable(s)) {
			first = MIN(first, MAX(s->first_slot, j->n1));
			last = MAX(last, MIN(s->last_slot, j->n2));
		}
	}
	JsonBuilder *b = json_builder_new();
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "version");
	json_builder_add_int_value(b, 1);
	json_builder_set_member_name(b, "rate");
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "num");
	json_builder_add_int_value(b, r->cfg->rate.num);
	json_builder_set_member_name(b, "den");
	json_builder_add_int_value(b, r->cfg->rate.den);
	json_builder_end_object(b);
	json_builder_set_member_name(b, "epoch_ns");
	json_builder_add_int_value(b, r->cfg->epoch_ns);
	json_builder_set_member_name(b, "from");
	if (j->n1 == INT64_MIN)
		json_builder_add_null_value(b);
	else
		json_builder_add_int_value(b, j->n1);
	json_builder_set_member_name(b, "to");
	if (j->n2 == INT64_MAX)
		json_builder_add_null_value(b);
	else
		json_builder_add_int_value(b, j->n2);
	json_builder_set_member_name(b, "first_slot");
	if (first <= last)
		json_builder_add_int_value(b, first);
	else
		json_builder_add_null_value(b);
	json_builder_set_member_name(b, "last_slot");
	if (first <= last)
		json_builder_add_int_value(b, last);
	else
		json_builder_add_null_value(b);
	json_builder_set_member_name(b, "cameras");
	json_builder_begin_array(b);
	for (guint k = 0; k < names->len; k++) {
		const char *cam = g_ptr_array_index(names, k);
		int64_t cfirst = INT64_MAX, clast = INT64_MIN;
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "name");
		json_builder_add_string_value(b, cam);
		json_builder_set_member_name(b, "segments");
		json_builder_begin_array(b);
		for (guint i = 0; i < segs->len; i++) {
			struct ls_rec_segment *s = g_ptr_array_index(segs, i);
			if (strcmp(s->camera, cam) != 0 || s->last_slot < s->first_slot || s->state == LS_SEG_DELETING)
				continue;
			if (readable(s)) {
				cfirst = MIN(cfirst, MAX(s->first_slot, j->n1));
				clast = MAX(clast, MIN(s->last_slot, j->n2));
			}
			json_builder_begin_object(b);
			json_builder_set_member_name(b, "first_slot");
			json_builder_add_int_value(b, s->first_slot);
			json_builder_set_member_name(b, "last_slot");
			json_builder_add_int_value(b, s->last_slot);
			json_builder_set_member_name(b, "start_ns");
			json_builder_add_int_value(b, s->start_ns);
			json_builder_set_member_name(b, "end_ns");
			json_builder_add_int_value(b, s->end_ns);
			json_builder_set_member_name(b, "bytes");
			json_builder_add_int_value(b, s->bytes);
			json_builder_set_member_name(b, "state");
			json_builder_add_string_value(b, ls_seg_state_name(s->state));
			json_builder_set_member_name(b, "keyframes");
			json_builder_add_int_value(b, count_list(s->keyframes));
			json_builder_set_member_name(b, "repeated");
			json_builder_add_int_value(b, s->repeated);
			json_builder_end_object(b);
		}
		json_builder_end_array(b);
		json_builder_set_member_name(b, "first_slot");
		if (cfirst <= clast)
			json_builder_add_int_value(b, cfirst);
		else
			json_builder_add_null_value(b);
		json_builder_set_member_name(b, "last_slot");
		if (cfirst <= clast)
			json_builder_add_int_value(b, clast);
		else
			json_builder_add_null_value(b);
		/* missing: repeats inside readable segments, within the window */
		json_builder_set_member_name(b, "missing");
		json_builder_begin_array(b);
		for (guint i = 0; i < segs->len; i++) {
			struct ls_rec_segment *s = g_ptr_array_index(segs, i);
			if (strcmp(s->camera, cam) == 0 && readable(s))
				add_ranges_clipped(b, s->missing, MAX(s->first_slot, j->n1), MIN(s->last_slot, j->n2));
		}
		json_builder_end_array(b);
		/* gaps: slots of the overall range no readable segment holds
		 * (segments come ordered by first slot) */
		json_builder_set_member_name(b, "gaps");
		json_builder_begin_array(b);
		if (first <= last) {
			int64_t next = first; /* the first slot not covered yet */
			for (guint i = 0; i < segs->len; i++) {
				struct ls_rec_segment *s = g_ptr_array_index(segs, i);
				if (strcmp(s->camera, cam) != 0 || !readable(s))
					continue;
				if (s->first_slot > next && next <= last)
					add_range(b, next, MIN(s->first_slot - 1, last));
				next = MAX(next, s->last_slot + 1);
			}
			if (next <= last)
				add_range(b, next, last);
		}
		json_builder_end_array(b);
		/* protected: merged ranges of segments in a clip */
		json_builder_set_member_name(b, "protected");
		json_builder_begin_array(b);
		int64_t pa = 0, pz = INT64_MIN;
		for (guint i = 0; i < segs->len; i++) {
			struct ls_rec_segment *s = g_ptr_array_index(segs, i);
			if (strcmp(s->camera, cam) != 0 || s->state != LS_SEG_PROTECTED)
				continue;
			if (pz != INT64_MIN && s->first_slot <= pz + 1) {
				pz = MAX(pz, s->last_slot);
				continue;
			}
			if (pz != INT64_MIN)
				add_range(b, MAX(pa, j->n1), MIN(pz, j->n2));
			pa = s->first_slot;
			pz = s->last_slot;
		}
		if (pz != INT64_MIN)
			add_range(b, MAX(pa, j->n1), MIN(pz, j->n2));
		json_builder_end_array(b);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
	j->json = json_builder_get_root(b);
	g_object_unref(b);
	g_ptr_array_unref(names);
	g_ptr_array_unref(segs);
}

/* Worker: GET /api/v1/recordings/CAMERA/SLOT.jpg. */
static void do_jpeg(struct ls_recordings *r, struct job *j)
{
	char *err = NULL;
	struct ls_rec_index *idx = index_get(r, &err);
	GPtrArray *segs = idx ? ls_rec_index_list(idx, j->camera, -1, j->slot, j->slot) : NULL;
	if (!segs) {
		job_fail(j, SOUP_STATUS_INTERNAL_SERVER_ERROR,
			 err ? err : g_strdup_printf("cannot read the record index in %s", r->dir));
		return;
	}
	struct ls_rec_segment *seg = NULL;
	for (guint i = 0; i < segs->len && !seg; i++) {
		struct ls_rec_segment *s = g_ptr_array_index(segs, i);
		if (readable(s) && strcmp(s->camera, j->camera) == 0)
			seg = s;
	}
	if (!seg) {
		job_fail(j, SOUP_STATUS_NOT_FOUND,
			 g_strdup_printf("no frame: camera %s has no recording at slot %lld", j->camera,
					 (long long)j->slot));
	} else if (ls_rec_ranges_has(seg->missing, j->slot)) {
		job_fail(j, SOUP_STATUS_NOT_FOUND,
			 g_strdup_printf("no frame: camera %s had no frame at slot %lld (the recording repeats "
					 "its previous one)",
					 j->camera, (long long)j->slot));
	} else {
		int rc = ls_playback_jpeg(r->play, seg, j->slot, j->max_w, &j->jpeg, &err);
		if (rc == -ENOENT)
			job_fail(j, SOUP_STATUS_NOT_FOUND,
				 g_strdup_printf("no frame: %s holds no picture for slot %lld", seg->path,
						 (long long)j->slot));
		else if (rc < 0)
			job_fail(j, SOUP_STATUS_INTERNAL_SERVER_ERROR, err);
	}
	g_ptr_array_unref(segs);
}

/* ---- clips: files --------------------------------------------------------- */

/* A clip id: what POST makes ("SLOT-SLOT-HEX"), any [A-Za-z0-9_-]. */
static bool id_ok(const char *s, size_t len)
{
	if (len < 1 || len > 64)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!g_ascii_isalnum(s[i]) && s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

/* A camera name as config.c allows it, but never "." or "..". */
static bool camera_ok(const char *s, size_t len)
{
	if (len < 1 || len > LS_CONFIG_NAME_MAX || (s[0] == '.' && (len == 1 || (len == 2 && s[1] == '.'))))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!g_ascii_isalnum(s[i]) && !strchr("_.-", s[i]))
			return false;
	return true;
}

/* Opens DIR/exports/@id/@name (NULL: the directory) without following a
 * symlink anywhere below the record dir: a regular file (or directory).
 * The fd, or -errno. */
static int open_clip(struct ls_recordings *r, const char *id, const char *name)
{
	int ex = open(r->exports, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (ex < 0)
		return -errno;
	int cd = openat(ex, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int e = cd < 0 ? errno : 0;
	close(ex);
	if (cd < 0)
		return -e;
	if (!name)
		return cd;
	int fd = openat(cd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	e = fd < 0 ? errno : 0;
	close(cd);
	if (fd < 0)
		return -e;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -ENOENT;
	}
	return fd;
}

/* The contents of a clip's file (transfer full), or NULL. */
static GBytes *read_clip(struct ls_recordings *r, const char *id, const char *name)
{
	int fd = open_clip(r, id, name);
	if (fd < 0)
		return NULL;
	GMappedFile *mf = g_mapped_file_new_from_fd(fd, FALSE, NULL);
	close(fd);
	if (!mf)
		return NULL;
	GBytes *b = g_mapped_file_get_bytes(mf);
	g_mapped_file_unref(mf);
	return b;
}

/* The manifest of clip @id, parsed (transfer full), or NULL. */
static JsonNode *read_manifest(struct ls_recordings *r, const char *id)
{
	GBytes *b = read_clip(r, id, "manifest.json");
	if (!b)
		return NULL;
	JsonParser *p = json_parser_new_immutable();
	gsize len = 0;
	const char *data = g_bytes_get_data(b, &len);
	JsonNode *root = NULL;
	if (data && json_parser_load_from_data(p, data, (gssize)len, NULL) &&
	    JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p)))
		root = json_node_ref(json_parser_get_root(p));
	g_object_unref(p);
	g_bytes_unref(b);
	return root;
}

static int64_t member_int(JsonObject *o, const char *name, int64_t dflt)
{
	JsonNode *n = o ? json_object_get_member(o, name) : NULL;
	return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_INT64 ? json_node_get_int(n)
											    : dflt;
}

/* The answer for clip @id: its window, cameras, manifest and links; NULL
 * when there is no such clip. */
static JsonNode *clip_json(struct ls_recordings *r, const char *id)
{
	JsonNode *man = read_manifest(r, id);
	if (!man)
		return NULL;
	JsonObject *mo = json_node_get_object(man);
	JsonObject *mc = json_object_has_member(mo, "cameras") ? json_object_get_object_member(mo, "cameras") : NULL;
	JsonBuilder *b = json_builder_new();
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "version");
	json_builder_add_int_value(b, 1);
	json_builder_set_member_name(b, "id");
	json_builder_add_string_value(b, id);
	json_builder_set_member_name(b, "first_slot");
	json_builder_add_int_value(b, member_int(mo, "first_slot", -1));
	json_builder_set_member_name(b, "last_slot");
	json_builder_add_int_value(b, member_int(mo, "last_slot", -1));
	int fd = open_clip(r, id, NULL);
	struct stat st;
	if (fd >= 0 && fstat(fd, &st) == 0) {
		json_builder_set_member_name(b, "created_ns");
		json_builder_add_int_value(b, (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec);
	}
	if (fd >= 0)
		close(fd);
	json_builder_set_member_name(b, "cameras");
	json_builder_begin_array(b);
	GList *cams = mc ? json_object_get_members(mc) : NULL;
	for (GList *l = cams; l; l = l->next)
		json_builder_add_string_value(b, l->data);
	json_builder_end_array(b);
	json_builder_set_member_name(b, "files");
	json_builder_begin_object(b);
	char *zipname = g_strconcat(id, ".zip", NULL);
	int zfd = open_clip(r, id, zipname);
	g_free(zipname);
	if (zfd >= 0) {
		close(zfd);
		char *u = g_strdup_printf(CLIPS "/%s.zip", id);
		json_builder_set_member_name(b, "zip");
		json_builder_add_string_value(b, u);
		g_free(u);
	}
	char *u = g_strdup_printf(CLIPS "/%s/manifest.json", id);
	json_builder_set_member_name(b, "manifest");
	json_builder_add_string_value(b, u);
	g_free(u);
	json_builder_set_member_name(b, "mp4");
	json_builder_begin_object(b);
	for (GList *l = cams; l; l = l->next) {
		u = g_strdup_printf(CLIPS "/%s/%s.mp4", id, (const char *)l->data);
		json_builder_set_member_name(b, l->data);
		json_builder_add_string_value(b, u);
		g_free(u);
	}
	json_builder_end_object(b);
	json_builder_end_object(b);
	g_list_free(cams);
	json_builder_set_member_name(b, "manifest");
	json_builder_add_value(b, man); /* takes it */
	json_builder_end_object(b);
	JsonNode *root = json_builder_get_root(b);
	g_object_unref(b);
	return root;
}

/* ---- clips: zip ------------------------------------------------------------ */

static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n)
{
	static uint32_t table[256];
	static gsize ready;
	if (g_once_init_enter(&ready)) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;
			for (int k = 0; k < 8; k++)
				c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
		g_once_init_leave(&ready, 1);
	}
	crc = ~crc;
	while (n--)
		crc = table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
	return ~crc;
}

static void le16(GString *g, unsigned v)
{
	g_string_append_c(g, (char)(v & 0xFF));
	g_string_append_c(g, (char)(v >> 8 & 0xFF));
}

static void le32(GString *g, uint32_t v)
{
	le16(g, v & 0xFFFF);
	le16(g, v >> 16);
}

/* Writes DIR/exports/@id/@id.zip: @names of that directory, stored (the
 * mp4s are compressed already), with their CRC-32; ZIP without ZIP64. 0 or
 * a negative errno. Worker. */
static int write_zip(const char *outdir, const char *id, const char *const *names)
{
	char *tmp = g_strdup_printf("%s/.%s.zip.tmp", outdir, id);
	char *final = g_strdup_printf("%s/%s.zip", outdir, id);
	GString *cd = g_string_new(NULL);
	int rc = 0, n = 0;
	FILE *out = fopen(tmp, "wbx");
	if (!out) {
		rc = -errno;
		goto out;
	}
	/* DOS time of now */
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	unsigned dtime = (unsigned)(tm.tm_hour << 11 | tm.tm_min << 5 | tm.tm_sec / 2);
	unsigned ddate = (unsigned)((tm.tm_year - 80) << 9 | (tm.tm_mon + 1) << 5 | tm.tm_mday);
	int64_t off = 0;
	for (const char *const *nm = names; *nm && rc == 0; nm++, n++) {
		char *path = g_build_filename(outdir, *nm, NULL);
		GMappedFile *mf = g_mapped_file_new(path, FALSE, NULL);
		g_free(path);
		if (!mf) {
			rc = -EIO;
			break;
		}
		size_t len = g_mapped_file_get_length(mf);
		const uint8_t *data = (const uint8_t *)g_mapped_file_get_contents(mf);
		if ((int64_t)len >= ZIP_MAX || off + (int64_t)len + 1024 >= ZIP_MAX) {
			g_mapped_file_unref(mf);
			rc = -EFBIG;
			break;
		}
		uint32_t crc = crc32_update(0, data ? data : (const uint8_t *)"", len);
		GString *h = g_string_new(NULL);
		le32(h, 0x04034b50);
		le16(h, 10); /* version needed: 1.0, stored */
		le16(h, 0);  /* flags */
		le16(h, 0);  /* method: stored */
		le16(h, dtime);
		le16(h, ddate);
		le32(h, crc);
		le32(h, (uint32_t)len);
		le32(h, (uint32_t)len);
		le16(h, (unsigned)strlen(*nm));
		le16(h, 0);
		g_string_append(h, *nm);
		if (fwrite(h->str, 1, h->len, out) != h->len || (len && fwrite(data, 1, len, out) != len))
			rc = -EIO;
		/* its central directory entry */
		le32(cd, 0x02014b50);
		le16(cd, 3 << 8 | 20); /* made by: Unix, 2.0 */
		le16(cd, 10);
		le16(cd, 0);
		le16(cd, 0);
		le16(cd, dtime);
		le16(cd, ddate);
		le32(cd, crc);
		le32(cd, (uint32_t)len);
		le32(cd, (uint32_t)len);
		le16(cd, (unsigned)strlen(*nm));
		le16(cd, 0);
		le16(cd, 0);
		le16(cd, 0);
		le16(cd, 0);
		le32(cd, (uint32_t)0100644 << 16); /* external attributes: a regular file, rw-r--r-- */
		le32(cd, (uint32_t)off);
		g_string_append(cd, *nm);
		off += (int64_t)h->len + (int64_t)len;
		g_string_free(h, TRUE);
		g_mapped_file_unref(mf);
	}
	if (rc == 0) {
		GString *end = g_string_new(NULL);
		le32(end, 0x06054b50);
		le16(end, 0);
		le16(end, 0);
		le16(end, (unsigned)n);
		le16(end, (unsigned)n);
		le32(end, (uint32_t)cd->len);
		le32(end, (uint32_t)off);
		le16(end, 0);
		if (fwrite(cd->str, 1, cd->len, out) != cd->len || fwrite(end->str, 1, end->len, out) != end->len)
			rc = -EIO;
		g_string_free(end, TRUE);
	}
	if (fflush(out) != 0 || fsync(fileno(out)) < 0)
		rc = rc ? rc : -errno;
	fclose(out);
	if (rc == 0 && rename(tmp, final) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
out:
	g_string_free(cd, TRUE);
	g_free(tmp);
	g_free(final);
	return rc;
}

/* ---- clips: export ------------------------------------------------------------ */

/* Removes @dir and the plain files in it (a failed export). */
static void remove_dir(const char *dir)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *f;
	while (d && (f = g_dir_read_name(d))) {
		char *p = g_build_filename(dir, f, NULL);
		unlink(p);
		g_free(p);
	}
	if (d)
		g_dir_close(d);
	rmdir(dir);
}

/* Worker: POST /api/v1/clips. */
static void do_clip(struct ls_recordings *r, struct job *j)
{
	struct stat st;
	if (mkdir(r->exports, 0755) < 0 && errno != EEXIST) {
		job_fail(j, SOUP_STATUS_INTERNAL_SERVER_ERROR,
			 g_strdup_printf("cannot make %s: %s", r->exports, g_strerror(errno)));
		return;
	}
	if (lstat(r->exports, &st) < 0 || !S_ISDIR(st.st_mode)) {
		job_fail(j, SOUP_STATUS_INTERNAL_SERVER_ERROR,
			 g_strdup_printf("%s is not a directory (a link?): clips are not exported", r->exports));
		return;
	}
	char *id = g_strdup_printf("%lld-%lld-%08x", (long long)j->n1, (long long)j->n2, g_random_int());
	char *outdir = g_build_filename(r->exports, id, NULL);
	struct ls_clip_request req = {
		.dir = r->dir,
		.rate = r->cfg->rate,
		.epoch_ns = r->cfg->epoch_ns,
		.gop = r->cfg->record->gop,
		.cameras = (const char *const *)j->cameras,
		.n1 = j->n1,
		.n2 = j->n2,
		.outdir = outdir,
	};
	struct ls_clip_result res;
	char *err = NULL;
	int rc = ls_record_clip(&req, &res, &err);
	if (rc < 0) {
		remove_dir(outdir);
		/* a window or camera the recording cannot give: the request's fault */
		job_fail(j,
			 rc == -EINVAL   ? SOUP_STATUS_UNPROCESSABLE_ENTITY
			 : rc == -ENOENT ? SOUP_STATUS_BAD_REQUEST
					 : SOUP_STATUS_INTERNAL_SERVER_ERROR,
			 err ? err : g_strdup_printf("clip: %s", g_strerror(-rc)));
		goto out;
	}
	g_free(err);
	/* the zip: the manifest and every camera's mp4 */
	JsonNode *man = read_manifest(r, id);
	JsonObject *mc = man && json_object_has_member(json_node_get_object(man), "cameras")
				 ? json_object_get_object_member(json_node_get_object(man), "cameras")
				 : NULL;
	GPtrArray *files = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(files, g_strdup("manifest.json"));
	GList *cams = mc ? json_object_get_members(mc) : NULL;
	for (GList *l = cams; l; l = l->next) {
		char *f = g_strconcat(l->data, ".mp4", NULL);
		int fd = open_clip(r, id, f);
		if (fd >= 0) {
			close(fd);
			g_ptr_array_add(files, f);
		} else {
			g_free(f);
		}
	}
	g_list_free(cams);
	if (man)
		json_node_unref(man);
	g_ptr_array_add(files, NULL);
	rc = write_zip(outdir, id, (const char *const *)files->pdata);
	if (rc < 0)
		g_printerr("server: clip %s: no zip: %s\n", id, g_strerror(-rc));
	g_ptr_array_unref(files);
	j->json = clip_json(r, id);
	if (!j->json) {
		job_fail(j, SOUP_STATUS_INTERNAL_SERVER_ERROR, g_strdup_printf("clip %s: no manifest written", id));
	} else {
		j->status = SOUP_STATUS_CREATED;
		/* the events service: the clip is ready, as [detect]'s are */
		char *manifest = g_build_filename(outdir, "manifest.json", NULL);
		GString *f = g_string_new("\"what\":\"export\",\"clip\":");
		ls_json_str(f, id);
		g_string_append_printf(f, ",\"first_slot\":%lld,\"last_slot\":%lld,\"frames\":%lld,\"dir\":",
				       (long long)res.first_slot, (long long)res.last_slot, (long long)res.frames);
		ls_json_str(f, outdir);
		g_string_append(f, ",\"manifest\":");
		ls_json_str(f, manifest);
		char *fields = g_string_free(f, FALSE);
		if (r->events)
			ls_output_ctx_event(r->events, "clip-ready", fields);
		g_free(fields);
		g_free(manifest);
	}
out:
	g_free(outdir);
	g_free(id);
}

/* Worker: GET /api/v1/clips (newest first). */
static void do_clips(struct ls_recordings *r, struct job *j)
{
	GPtrArray *all = g_ptr_array_new_with_free_func((GDestroyNotify)json_node_unref);
	GDir *d = g_dir_open(r->exports, 0, NULL);
	const char *f;
	while (d && (f = g_dir_read_name(d))) {
		JsonNode *c = id_ok(f, strlen(f)) ? clip_json(r, f) : NULL;
		if (c)
			g_ptr_array_add(all, c);
	}
	if (d)
		g_dir_close(d);
	/* newest first */
	for (guint a = 1; a < all->len; a++)
		for (guint b = a; b > 0; b--) {
			JsonObject *x = json_node_get_object(g_ptr_array_index(all, b - 1));
			JsonObject *y = json_node_get_object(g_ptr_array_index(all, b));
			if (member_int(x, "created_ns", 0) >= member_int(y, "created_ns", 0))
				break;
			gpointer t = all->pdata[b - 1];
			all->pdata[b - 1] = all->pdata[b];
			all->pdata[b] = t;
		}
	JsonBuilder *b = json_builder_new();
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "version");
	json_builder_add_int_value(b, 1);
	json_builder_set_member_name(b, "clips");
	json_builder_begin_array(b);
	for (guint i = 0; i < all->len; i++) {
		JsonObject *o = json_node_get_object(g_ptr_array_index(all, i));
		json_object_remove_member(o, "version");
		json_builder_add_value(b, json_node_ref(g_ptr_array_index(all, i)));
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
	j->json = json_builder_get_root(b);
	g_object_unref(b);
	g_ptr_array_unref(all);
}

/* A worker of the pool. */
static void work(gpointer data, gpointer user)
{
	struct job *j = data;
	struct ls_recordings *r = user;
	static _Thread_local bool niced;
	if (!niced) {
		setpriority(PRIO_PROCESS, (id_t)gettid(), WORKER_NICE); /* Linux: per thread */
		niced = true;
	}
	if (g_atomic_int_get(&r->closed)) {
		job_fail(j, SOUP_STATUS_SERVICE_UNAVAILABLE, g_strdup("the rig is stopping"));
	} else if (j->kind == JOB_LIST) {
		do_list(r, j);
	} else if (j->kind == JOB_JPEG) {
		do_jpeg(r, j);
	} else if (j->kind == JOB_CLIP) {
		do_clip(r, j);
	} else {
		do_clips(r, j);
	}
	if (j->kind == JOB_CLIP)
		g_atomic_int_set(&r->exporting, 0);
	struct finish *f = g_new(struct finish, 1);
	f->r = r;
	f->j = j; /* the worker's reference, dropped by finish_free */
	g_main_context_invoke_full(r->ctx, G_PRIORITY_DEFAULT, job_finish, f, finish_free);
}

/* ---- requests (server thread) ------------------------------------------- */

static void not_found(SoupServerMessage *msg, const char *path)
{
	char *t = g_strdup_printf("no such recording or clip resource: %s (see " RECORDINGS " and " CLIPS ")", path);
	ls_http_reply_error(msg, SOUP_STATUS_NOT_FOUND, t);
	g_free(t);
}

static void bad_request(SoupServerMessage *msg, char *text /* taken */)
{
	ls_http_reply_error(msg, SOUP_STATUS_BAD_REQUEST, text);
	g_free(text);
}

/* A whole decimal integer (optionally negative). */
static bool parse_int(const char *s, size_t len, int64_t *out)
{
	if (len == 0 || len > 20)
		return false;
	char buf[24];
	memcpy(buf, s, len);
	buf[len] = 0;
	char *end;
	errno = 0;
	long long v = strtoll(buf, &end, 10);
	if (errno || *end || end == buf || !(g_ascii_isdigit(buf[0]) || (buf[0] == '-' && g_ascii_isdigit(buf[1]))))
		return false;
	*out = v;
	return true;
}

/* Only the query parameters in @allowed (comma-separated) or token: else
 * 400 naming the stranger. */
static bool query_ok(SoupServerMessage *msg, GHashTable *query, const char *allowed)
{
	if (!query)
		return true;
	GHashTableIter it;
	gpointer k;
	g_hash_table_iter_init(&it, query);
	while (g_hash_table_iter_next(&it, &k, NULL)) {
		if (strcmp(k, "token") == 0)
			continue;
		bool ok = false;
		char **names = g_strsplit(allowed, ",", -1);
		for (char **n = names; *n && !ok; n++)
			ok = strcmp(*n, k) == 0;
		g_strfreev(names);
		if (!ok) {
			bad_request(msg, g_strdup_printf("unknown parameter \"%s\" (expected %s)", (const char *)k,
							 *allowed ? allowed : "none"));
			return false;
		}
	}
	return true;
}

/* ?from=&to= or ?from_ns=&to_ns= into slots; false after a 400. */
static bool window_query(struct ls_recordings *r, SoupServerMessage *msg, GHashTable *query, int64_t *n1, int64_t *n2)
{
	static const char *const names[4] = { "from", "to", "from_ns", "to_ns" };
	int64_t v[4];
	bool set[4] = { false };
	*n1 = INT64_MIN;
	*n2 = INT64_MAX;
	for (int i = 0; i < 4; i++) {
		const char *s = query ? g_hash_table_lookup(query, names[i]) : NULL;
		if (!s)
			continue;
		if (!parse_int(s, strlen(s), &v[i])) {
			bad_request(msg, g_strdup_printf("%s = \"%s\": expected a whole number (%s)", names[i], s,
							 i < 2 ? "a slot" : "ns since 1970"));
			return false;
		}
		set[i] = true;
	}
	if ((set[0] && set[2]) || (set[1] && set[3])) {
		bad_request(msg, g_strdup("give from/to (slots) or from_ns/to_ns, not both"));
		return false;
	}
	if (set[0])
		*n1 = v[0];
	if (set[1])
		*n2 = v[1];
	if (set[2])
		*n1 = ls_slot_index(v[2], r->cfg->epoch_ns, 0, r->cfg->rate);
	if (set[3])
		*n2 = ls_slot_index(v[3], r->cfg->epoch_ns, 0, r->cfg->rate);
	if (*n1 > *n2) {
		bad_request(msg, g_strdup_printf("the window starts after it ends (slot %lld > %lld)", (long long)*n1,
						 (long long)*n2));
		return false;
	}
	return true;
}

/* GET /api/v1/recordings/CAMERA/SLOT.jpg; @rest is "CAMERA/SLOT.jpg". */
static void request_jpeg(struct ls_recordings *r, SoupServerMessage *msg, const char *path, const char *rest,
			 GHashTable *query)
{
	const char *slash = strchr(rest, '/');
	int64_t slot;
	if (!slash || !camera_ok(rest, (size_t)(slash - rest)) || !g_str_has_suffix(slash + 1, ".jpg") ||
	    !parse_int(slash + 1, strlen(slash + 1) - 4, &slot)) {
		not_found(msg, path);
		return;
	}
	if (!ls_http_takes(msg, soup_server_message_get_method(msg), path, "GET, HEAD") || !query_ok(msg, query, "w"))
		return;
	gint64 w;
	if (!ls_http_query_int(msg, query, "w", JPEG_MIN_W, JPEG_MAX_W, 0, &w))
		return;
	struct job *j = g_new0(struct job, 1);
	j->kind = JOB_JPEG;
	j->camera = g_strndup(rest, (size_t)(slash - rest));
	j->slot = slot;
	j->max_w = (int)w;
	job_start(r, msg, j);
}

/* POST /api/v1/clips: the body checked here, the export in a worker. */
static void request_clip(struct ls_recordings *r, SoupServerMessage *msg, GHashTable *query)
{
	SoupMessageHeaders *h = soup_server_message_get_request_headers(msg);
	const char *type = soup_message_headers_get_content_type(h, NULL);
	if (!type || g_ascii_strcasecmp(type, "application/json") != 0) {
		char *t = g_strdup_printf("POST " CLIPS " takes Content-Type: application/json, not %s",
					  type ? type : "none");
		ls_http_reply_error(msg, SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE, t);
		g_free(t);
		return;
	}
	if (query && g_hash_table_contains(query, "token")) {
		/* a cross-site form or link carries ?token=; a POST needs the header */
		ls_http_reply_error(msg, SOUP_STATUS_UNAUTHORIZED,
				    "POST " CLIPS " takes the token in the Authorization header, not ?token=");
		return;
	}
	if (!query_ok(msg, query, ""))
		return;
	SoupMessageBody *body = soup_server_message_get_request_body(msg);
	GBytes *bytes = soup_message_body_flatten(body);
	gsize len = 0;
	const char *data = g_bytes_get_data(bytes, &len);
	JsonParser *p = json_parser_new_immutable();
	GError *ge = NULL;
	char *bad = NULL;
	int64_t v[2] = { 0, 0 };
	GPtrArray *cams = NULL;
	if (len > BODY_MAX) {
		ls_http_reply_error(msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "the body is over 64 KiB");
		goto out;
	}
	if (!data || len == 0 || !json_parser_load_from_data(p, data, (gssize)len, &ge)) {
		bad = g_strdup_printf("the body is not JSON: %s", ge ? ge->message : "empty");
		goto out;
	}
	JsonNode *root = json_parser_get_root(p);
	if (!JSON_NODE_HOLDS_OBJECT(root)) {
		bad = g_strdup("the body must be an object: {\"from\":SLOT,\"to\":SLOT,\"cameras\":[...]}");
		goto out;
	}
	JsonObject *o = json_node_get_object(root);
	GList *members = json_object_get_members(o);
	for (GList *l = members; l && !bad; l = l->next)
		if (strcmp(l->data, "from") && strcmp(l->data, "to") && strcmp(l->data, "cameras"))
			bad = g_strdup_printf("unknown member \"%s\" (expected from, to, cameras)",
					      (const char *)l->data);
	g_list_free(members);
	static const char *const ends[2] = { "from", "to" };
	for (int i = 0; i < 2 && !bad; i++) {
		JsonNode *n = json_object_get_member(o, ends[i]);
		if (!n)
			bad = g_strdup_printf("\"%s\" is missing: a slot number", ends[i]);
		else if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_INT64)
			bad = g_strdup_printf("\"%s\" must be a whole number (a slot)", ends[i]);
		else
			v[i] = json_node_get_int(n);
	}
	int64_t max = (int64_t)CLIP_MAX_S * r->cfg->rate.num / r->cfg->rate.den;
	if (!bad && v[0] > v[1])
		bad = g_strdup_printf("\"from\" (%lld) is after \"to\" (%lld)", (long long)v[0], (long long)v[1]);
	if (!bad && v[1] - v[0] >= max)
		bad = g_strdup_printf("the window is %lld slots; at most %lld (%d s)", (long long)(v[1] - v[0] + 1),
				      (long long)max, CLIP_MAX_S);
	JsonNode *cn = bad ? NULL : json_object_get_member(o, "cameras");
	if (cn && !JSON_NODE_HOLDS_NULL(cn)) {
		if (!JSON_NODE_HOLDS_ARRAY(cn)) {
			bad = g_strdup("\"cameras\" must be an array of camera names");
			goto out;
		}
		JsonArray *a = json_node_get_array(cn);
		if (json_array_get_length(a) == 0) {
			bad = g_strdup("\"cameras\" is empty (leave it out for every camera)");
			goto out;
		}
		cams = g_ptr_array_new_with_free_func(g_free);
		for (guint i = 0; i < json_array_get_length(a) && !bad; i++) {
			JsonNode *e = json_array_get_element(a, i);
			const char *name = JSON_NODE_HOLDS_VALUE(e) && json_node_get_value_type(e) == G_TYPE_STRING
						   ? json_node_get_string(e)
						   : NULL;
			if (!name || !camera_ok(name, strlen(name))) {
				bad = g_strdup_printf("\"cameras\"[%u] is not a camera name", i);
				break;
			}
			for (guint k = 0; k < cams->len && !bad; k++)
				if (strcmp(g_ptr_array_index(cams, k), name) == 0)
					bad = g_strdup_printf("camera \"%s\" is named twice", name);
			g_ptr_array_add(cams, g_strdup(name));
		}
	}
	if (bad)
		goto out;
	if (!g_atomic_int_compare_and_exchange(&r->exporting, 0, 1)) {
		soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Retry-After", "5");
		ls_http_reply_error(msg, SOUP_STATUS_SERVICE_UNAVAILABLE,
				    "a clip is being exported; try again when it is done");
		goto out;
	}
	struct job *j = g_new0(struct job, 1);
	j->kind = JOB_CLIP;
	j->n1 = v[0];
	j->n2 = v[1];
	if (cams) {
		g_ptr_array_add(cams, NULL);
		j->cameras = (char **)g_ptr_array_free(cams, FALSE);
		cams = NULL;
	}
	job_start(r, msg, j);
out:
	if (bad)
		bad_request(msg, bad);
	if (cams)
		g_ptr_array_unref(cams);
	g_clear_error(&ge);
	g_object_unref(p);
	g_bytes_unref(bytes);
}

/* A clip's file: the bytes with @type; @attach names the download. */
static void reply_file(SoupServerMessage *msg, const char *path, GBytes *b, const char *type, const char *attach)
{
	if (!b) {
		not_found(msg, path);
		return;
	}
	SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);
	soup_message_headers_replace(h, "Cache-Control", "no-store");
	soup_message_headers_replace(h, "X-Content-Type-Options", "nosniff");
	soup_message_headers_set_content_type(h, type, NULL);
	if (attach) {
		char *cd = g_strdup_printf("attachment; filename=\"%s\"", attach);
		soup_message_headers_replace(h, "Content-Disposition", cd);
		g_free(cd);
	}
	soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
	soup_message_body_append_bytes(soup_server_message_get_response_body(msg), b);
	g_bytes_unref(b);
}

/* /api/v1/clips/...; @rest follows "/api/v1/clips/". */
static void request_clip_file(struct ls_recordings *r, SoupServerMessage *msg, const char *path, const char *rest)
{
	const char *slash = strchr(rest, '/');
	size_t idlen = slash ? (size_t)(slash - rest) : strlen(rest);
	bool zip = !slash && g_str_has_suffix(rest, ".zip");
	if (zip)
		idlen -= 4;
	if (!id_ok(rest, idlen)) {
		not_found(msg, path);
		return;
	}
	char *id = g_strndup(rest, idlen);
	const char *name = slash ? slash + 1 : NULL;
	size_t nlen = name ? strlen(name) : 0;
	bool manifest = name && strcmp(name, "manifest.json") == 0;
	bool mp4 = name && nlen > 4 && g_str_has_suffix(name, ".mp4") && camera_ok(name, nlen - 4);
	if (name && !manifest && !mp4) {
		not_found(msg, path);
	} else if (ls_http_takes(msg, soup_server_message_get_method(msg), path, "GET, HEAD")) {
		if (zip) {
			char *f = g_strconcat(id, ".zip", NULL);
			char *attach = g_strdup_printf("lockstep-clip-%s.zip", id);
			reply_file(msg, path, read_clip(r, id, f), "application/zip", attach);
			g_free(attach);
			g_free(f);
		} else if (manifest) {
			reply_file(msg, path, read_clip(r, id, name), "application/json", NULL);
		} else if (mp4) {
			reply_file(msg, path, read_clip(r, id, name), "video/mp4", NULL);
		} else {
			JsonNode *n = clip_json(r, id);
			if (n)
				ls_http_reply_json(msg, SOUP_STATUS_OK, n);
			else
				not_found(msg, path);
		}
	}
	g_free(id);
}

void ls_recordings_request(struct ls_recordings *r, SoupServerMessage *msg, const char *path, GHashTable *query)
{
	const char *method = soup_server_message_get_method(msg);
	if (g_atomic_int_get(&r->closed)) {
		ls_http_reply_error(msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "the rig is stopping");
		return;
	}
	if (strcmp(path, RECORDINGS) == 0) {
		int64_t n1, n2;
		if (!ls_http_takes(msg, method, path, "GET, HEAD") || !query_ok(msg, query, "from,to,from_ns,to_ns") ||
		    !window_query(r, msg, query, &n1, &n2))
			return;
		struct job *j = g_new0(struct job, 1);
		j->kind = JOB_LIST;
		j->n1 = n1;
		j->n2 = n2;
		job_start(r, msg, j);
	} else if (g_str_has_prefix(path, RECORDINGS "/")) {
		request_jpeg(r, msg, path, path + strlen(RECORDINGS "/"), query);
	} else if (strcmp(path, CLIPS) == 0) {
		if (!ls_http_takes(msg, method, path, "GET, HEAD, POST"))
			return;
		if (strcmp(method, "POST") == 0) {
			request_clip(r, msg, query);
		} else if (query_ok(msg, query, "")) {
			struct job *j = g_new0(struct job, 1);
			j->kind = JOB_CLIPS;
			job_start(r, msg, j);
		}
	} else if (g_str_has_prefix(path, CLIPS "/")) {
		request_clip_file(r, msg, path, path + strlen(CLIPS "/"));
	} else {
		not_found(msg, path);
	}
}

/* ---- life ------------------------------------------------------------------- */

struct ls_recordings *ls_recordings_new(const struct ls_config *cfg, GMainContext *ctx,
					const struct ls_output_ctx *octx, char **err)
{
	if (!cfg->record)
		return NULL;
	GError *ge = NULL;
	struct ls_recordings *r = g_new0(struct ls_recordings, 1);
	r->cfg = cfg;
	r->ctx = g_main_context_ref(ctx);
	r->events = octx;
	r->dir = g_strdup(cfg->record->dir);
	r->exports = g_build_filename(cfg->record->dir, "exports", NULL);
	r->play = ls_playback_new(cfg->record->dir, cfg->rate);
	r->jobs = g_ptr_array_new_with_free_func(job_unref);
	g_mutex_init(&r->index_lock);
	r->pool = g_thread_pool_new(work, r, POOL_THREADS, FALSE, &ge);
	if (!r->pool) {
		*err = g_strdup_printf("[server] recordings: no worker threads: %s", ge ? ge->message : "?");
		g_clear_error(&ge);
		ls_recordings_free(&r);
		return NULL;
	}
	return r;
}

void ls_recordings_close(struct ls_recordings *r)
{
	g_atomic_int_set(&r->closed, 1);
	/* the workers may still be writing their answers: those are dropped */
	while (r->jobs->len) {
		struct job *j = g_ptr_array_index(r->jobs, r->jobs->len - 1);
		SoupServerMessage *msg = j->msg;
		j->msg = NULL;
		ls_http_reply_error(msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "the rig is stopping");
		soup_server_message_unpause(msg);
		g_object_unref(msg);
		g_ptr_array_remove_index(r->jobs, r->jobs->len - 1);
	}
}

void ls_recordings_free(struct ls_recordings **pr)
{
	struct ls_recordings *r = pr ? *pr : NULL;
	if (!r)
		return;
	g_atomic_int_set(&r->closed, 1);
	if (r->pool)
		g_thread_pool_free(r->pool, FALSE, TRUE); /* queued jobs run, and skip their work */
	/* empty after ls_recordings_close; the invokes still queued on the
	 * context drop their references when it is freed */
	g_ptr_array_unref(r->jobs);
	ls_playback_free(&r->play);
	ls_rec_index_close(&r->idx);
	g_mutex_clear(&r->index_lock);
	g_main_context_unref(r->ctx);
	g_free(r->exports);
	g_free(r->dir);
	g_free(r);
	*pr = NULL;
}
