/* console — what the web console reads besides the pages: the live feed
 * (server-sent events: the rig's per-second record and its events as they
 * happen), the last ten minutes of records, the events (newest first,
 * filtered by camera and kind, with a thumbnail for a track that started),
 * the cameras and the running config.
 *
 *   GET /api/v1/feed                 text/event-stream: "stats" and "event"
 *   GET /api/v1/stats?seconds=S      {"version":1,"records":[...]} (S <= 600)
 *   GET /api/v1/events?camera=&kind=&before=ID&limit=N
 *   GET /api/v1/events/ID/thumb.jpg
 *   GET /api/v1/cameras
 *   GET /api/v1/config
 *
 * Thumbnails: [detect] emits "track-started" (its event) and then publishes
 * the set's detections with the frames it ran on. The event is held here
 * until those detections come (the same publishing turn, right after), the
 * box is cut out of the frame (a copy of at most THUMB_MAX pixels a side)
 * and a worker encodes it as JPEG; then the event is stored and sent. The
 * frames are the frameset's, so a redact = on camera's thumbnail is cut from
 * its redacted frame, like everything else the console shows.
 *
 * Threads: the stats record arrives on the rig's stats writer thread,
 * events on whichever thread made them (serialised by the context),
 * detections on [detect]'s publishing turn; each copies what it needs under
 * `lock` and, when feeds must be written, schedules one idle source on the
 * server thread, which alone touches the feeds' messages. */
#include <errno.h>
#include <gst/video/video.h>
#include <string.h>

#include "check.h"
#include "detections.h"
#include "ls_frameset.h"
#include "output_ctx.h"
#include "server.h"

#define HISTORY_MAX 600            /* per-second records kept: ten minutes */
#define EVENTS_MAX 2000            /* events kept */
#define FEEDS_MAX 64               /* live feeds at once */
#define FEED_BACKLOG_MAX (1 << 20) /* bytes a feed may have unsent before it is ended */
#define THUMB_MAX 192              /* a thumbnail's longer side, pixels */
#define PENDING_MAX 64             /* track events waiting for their thumbnail */

struct event {
	uint64_t id;
	char *json;   /* as sent: with "id" (and "thumb") */
	char *camera; /* or NULL */
	char *kind;
	GBytes *thumb; /* JPEG, or NULL */
};

struct feed {
	struct ls_console *c;
	SoupServerMessage *msg;
	gint64 queued, written; /* bytes */
	bool done;
};

/* A track event held for its thumbnail. */
struct pending {
	char *json; /* the event as made */
	char *camera;
	int64_t track, n;
};

struct thumb_job {
	struct ls_console *c;
	char *event; /* the event's JSON */
	char *camera;
	char *kind;
	guint8 *rgb; /* width * height * 3, or NULL: no picture */
	int width, height;
};

struct ls_console {
	const struct ls_config *cfg;
	GMainContext *ctx;
	int64_t started_ns; /* CLOCK_REALTIME */
	GMutex lock;        /* protects everything below but feeds */
	GQueue history;     /* char *: per-second records, oldest first */
	char *latest;       /* the newest record (in history) */
	struct event *events;
	uint64_t next_id; /* the next event's id, from 1 */
	GString *outbox;  /* SSE text not yet given to the feeds */
	bool flush_pending, closed;
	GPtrArray *pending; /* struct pending *: track events awaiting detections */
	GThreadPool *encoder;
	uint64_t thumbs, thumbs_failed;
	GPtrArray *feeds; /* struct feed *: server thread only */
	gint nfeeds;      /* feeds->len, for other threads */
	gint feeds_ended; /* slow feeds ended */
};

static void event_clear(struct event *e)
{
	g_free(e->json);
	g_free(e->camera);
	g_free(e->kind);
	if (e->thumb)
		g_bytes_unref(e->thumb);
	memset(e, 0, sizeof *e);
}

/* ---- feeds (server thread) ------------------------------------------------ */

static void feed_write(struct feed *f, const char *text, gsize len)
{
	if (f->done || !len)
		return;
	if (f->queued - f->written > FEED_BACKLOG_MAX) {
		/* a viewer that does not read: ended, never waited for */
		f->done = true;
		g_atomic_int_inc(&f->c->feeds_ended);
		soup_message_body_complete(soup_server_message_get_response_body(f->msg));
		soup_server_message_unpause(f->msg);
		return;
	}
	soup_message_body_append(soup_server_message_get_response_body(f->msg), SOUP_MEMORY_COPY, text, len);
	f->queued += (gint64)len;
	soup_server_message_unpause(f->msg);
}

static gboolean flush(gpointer data)
{
	struct ls_console *c = data;
	g_mutex_lock(&c->lock);
	GString *out = c->outbox;
	c->outbox = g_string_new(NULL);
	c->flush_pending = false;
	g_mutex_unlock(&c->lock);
	for (guint i = 0; i < c->feeds->len; i++)
		feed_write(g_ptr_array_index(c->feeds, i), out->str, out->len);
	g_string_free(out, TRUE);
	return G_SOURCE_REMOVE;
}

/* Under lock: @text goes to every feed soon. */
static void outbox_add_unlocked(struct ls_console *c, const char *type, uint64_t id, const char *json)
{
	if (c->closed)
		return;
	g_string_append_printf(c->outbox, "event: %s\n", type);
	if (id)
		g_string_append_printf(c->outbox, "id: %llu\n", (unsigned long long)id);
	g_string_append_printf(c->outbox, "data: %s\n\n", json);
	if (!c->flush_pending) {
		c->flush_pending = true;
		GSource *s = g_idle_source_new();
		g_source_set_callback(s, flush, c, NULL);
		g_source_attach(s, c->ctx);
		g_source_unref(s);
	}
}

static void on_wrote(SoupServerMessage *msg, guint size, gpointer data)
{
	struct feed *f = data;
	(void)msg;
	f->written += size;
}

static void on_feed_finished(SoupServerMessage *msg, gpointer data)
{
	struct feed *f = data;
	(void)msg;
	g_ptr_array_remove(f->c->feeds, f);
	g_atomic_int_set(&f->c->nfeeds, (gint)f->c->feeds->len);
	g_free(f);
}

static void feed_start(struct ls_console *c, SoupServerMessage *msg)
{
	if (c->feeds->len >= FEEDS_MAX) {
		soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Retry-After", "10");
		ls_http_reply_error(msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "too many live feeds open (64)");
		return;
	}
	struct feed *f = g_new0(struct feed, 1);
	f->c = c;
	f->msg = msg;
	SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);
	soup_message_headers_set_encoding(h, SOUP_ENCODING_CHUNKED);
	soup_message_headers_replace(h, "Content-Type", "text/event-stream; charset=utf-8");
	soup_message_headers_replace(h, "Cache-Control", "no-store");
	soup_message_headers_replace(h, "X-Accel-Buffering", "no");
	soup_message_body_set_accumulate(soup_server_message_get_response_body(msg), FALSE);
	soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
	g_signal_connect(msg, "wrote-body-data", G_CALLBACK(on_wrote), f);
	g_signal_connect(msg, "finished", G_CALLBACK(on_feed_finished), f);
	g_ptr_array_add(c->feeds, f);
	g_atomic_int_set(&c->nfeeds, (gint)c->feeds->len);
	/* the newest record at once, so a page has numbers before the next second */
	GString *first = g_string_new("retry: 2000\n\n");
	g_mutex_lock(&c->lock);
	if (c->latest)
		g_string_append_printf(first, "event: stats\ndata: %s\n\n", c->latest);
	g_mutex_unlock(&c->lock);
	feed_write(f, first->str, first->len);
	g_string_free(first, TRUE);
}

/* ---- what arrives from the rig -------------------------------------------- */

static void on_stats(void *user, const char *json)
{
	struct ls_console *c = user;
	char *copy = g_strdup(json);
	g_mutex_lock(&c->lock);
	g_queue_push_tail(&c->history, copy);
	c->latest = copy;
	while (c->history.length > HISTORY_MAX)
		g_free(g_queue_pop_head(&c->history));
	outbox_add_unlocked(c, "stats", 0, json);
	g_mutex_unlock(&c->lock);
}

static char *member_string(JsonObject *o, const char *name)
{
	JsonNode *n = json_object_get_member(o, name);
	return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING
		       ? g_strdup(json_node_get_string(n))
		       : NULL;
}

/* Under lock: stores the event (made by output_ctx: one object) with its
 * id and thumbnail, and sends it. */
static void event_store_unlocked(struct ls_console *c, const char *json, GBytes *thumb)
{
	JsonParser *p = json_parser_new();
	if (!json_parser_load_from_data(p, json, -1, NULL) || !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p))) {
		g_object_unref(p);
		return;
	}
	JsonObject *o = json_node_get_object(json_parser_get_root(p));
	uint64_t id = c->next_id++;
	json_object_set_int_member(o, "id", (gint64)id);
	if (thumb) {
		char *url = g_strdup_printf("/api/v1/events/%llu/thumb.jpg", (unsigned long long)id);
		json_object_set_string_member(o, "thumb", url);
		g_free(url);
	}
	struct event *e = &c->events[id % EVENTS_MAX];
	event_clear(e);
	e->id = id;
	e->camera = member_string(o, "camera");
	e->kind = member_string(o, "kind");
	e->thumb = thumb ? g_bytes_ref(thumb) : NULL;
	JsonGenerator *gen = json_generator_new();
	json_generator_set_root(gen, json_parser_get_root(p));
	e->json = json_generator_to_data(gen, NULL);
	g_object_unref(gen);
	g_object_unref(p);
	outbox_add_unlocked(c, "event", id, e->json);
}

static void on_event(void *user, const char *json)
{
	struct ls_console *c = user;
	g_mutex_lock(&c->lock);
	/* a track that started waits for its thumbnail (the detections of its
	 * set follow on the same thread, see on_detections) */
	if (c->encoder && strstr(json, "\"kind\":\"track-started\"") && c->pending->len < PENDING_MAX) {
		JsonParser *p = json_parser_new();
		if (json_parser_load_from_data(p, json, -1, NULL) && JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p))) {
			JsonObject *o = json_node_get_object(json_parser_get_root(p));
			struct pending *pe = g_new0(struct pending, 1);
			pe->json = g_strdup(json);
			pe->camera = member_string(o, "camera");
			pe->track = json_object_get_int_member_with_default(o, "track", -1);
			pe->n = json_object_get_int_member_with_default(o, "slot", -1);
			g_ptr_array_add(c->pending, pe);
			g_object_unref(p);
			g_mutex_unlock(&c->lock);
			return;
		}
		g_object_unref(p);
	}
	event_store_unlocked(c, json, NULL);
	g_mutex_unlock(&c->lock);
}

/* Samples (x, y) of @f as RGB; false for a format it cannot read. */
static bool pixel_rgb(const struct ls_frame *f, int x, int y, guint8 *out)
{
	int Y, U, V;
	switch (f->format) {
	case LS_FMT_I420:
		Y = f->planes[0][(size_t)y * f->strides[0] + x];
		U = f->planes[1][(size_t)(y / 2) * f->strides[1] + x / 2];
		V = f->planes[2][(size_t)(y / 2) * f->strides[2] + x / 2];
		break;
	case LS_FMT_NV12:
		Y = f->planes[0][(size_t)y * f->strides[0] + x];
		U = f->planes[1][(size_t)(y / 2) * f->strides[1] + (x / 2) * 2];
		V = f->planes[1][(size_t)(y / 2) * f->strides[1] + (x / 2) * 2 + 1];
		break;
	case LS_FMT_GRAY8:
		out[0] = out[1] = out[2] = f->planes[0][(size_t)y * f->strides[0] + x];
		return true;
	case LS_FMT_BGRX: {
		const guint8 *p = f->planes[0] + (size_t)y * f->strides[0] + (size_t)x * 4;
		out[0] = p[2], out[1] = p[1], out[2] = p[0];
		return true;
	}
	case LS_FMT_RGBA: {
		const guint8 *p = f->planes[0] + (size_t)y * f->strides[0] + (size_t)x * 4;
		out[0] = p[0], out[1] = p[1], out[2] = p[2];
		return true;
	}
	default:
		return false;
	}
	/* BT.601, limited range */
	int C = Y - 16, D = U - 128, E = V - 128;
	int r = (298 * C + 409 * E + 128) >> 8, g = (298 * C - 100 * D - 208 * E + 128) >> 8,
	    b = (298 * C + 516 * D + 128) >> 8;
	out[0] = (guint8)CLAMP(r, 0, 255), out[1] = (guint8)CLAMP(g, 0, 255), out[2] = (guint8)CLAMP(b, 0, 255);
	return true;
}

/* The box (frame pixels) with a margin, scaled to at most THUMB_MAX a side,
 * as RGB (nearest sample); NULL when the frame cannot be read. */
static guint8 *cut(const struct ls_frame *f, const struct ls_det *d, int *w, int *h)
{
	double bw = d->x2 - d->x1, bh = d->y2 - d->y1;
	int x0 = (int)MAX(0, d->x1 - bw * 0.15), y0 = (int)MAX(0, d->y1 - bh * 0.15);
	int x1 = (int)MIN(f->width, d->x2 + bw * 0.15), y1 = (int)MIN(f->height, d->y2 + bh * 0.15);
	if (x1 - x0 < 2 || y1 - y0 < 2)
		return NULL;
	double scale = MIN(1.0, (double)THUMB_MAX / MAX(x1 - x0, y1 - y0));
	*w = MAX(2, (int)((x1 - x0) * scale)) & ~1;
	*h = MAX(2, (int)((y1 - y0) * scale)) & ~1;
	guint8 *rgb = g_malloc((size_t)*w * *h * 3);
	for (int y = 0; y < *h; y++)
		for (int x = 0; x < *w; x++) {
			int sx = MIN(x1 - 1, x0 + (int)(x / scale)), sy = MIN(y1 - 1, y0 + (int)(y / scale));
			if (!pixel_rgb(f, sx, sy, rgb + ((size_t)y * *w + x) * 3)) {
				g_free(rgb);
				return NULL;
			}
		}
	return rgb;
}

/* [detect]'s publishing turn: the detections of a set, right after the
 * events its tracker raised. Each held track event gets its box cut out of
 * the frame and goes to the encoder. */
static void on_detections(void *user, const struct ls_detect_result *r)
{
	struct ls_console *c = user;
	g_mutex_lock(&c->lock);
	for (guint i = 0; i < c->pending->len;) {
		struct pending *pe = g_ptr_array_index(c->pending, i);
		if (pe->n > r->n) {
			i++;
			continue; /* a later set's */
		}
		struct thumb_job *j = g_new0(struct thumb_job, 1);
		j->c = c;
		j->event = pe->json;
		unsigned cam = r->ncams;
		for (unsigned k = 0; pe->camera && k < r->ncams; k++)
			if (strcmp(c->cfg->cams[k].name, pe->camera) == 0)
				cam = k;
		if (pe->n == r->n && cam < r->ncams && r->set && cam < r->set->ncams) {
			const struct ls_entry *en = &r->set->entries[cam];
			const struct ls_det *d = r->dets + (size_t)cam * r->max_dets;
			for (int k = 0; en->frame && k < r->count[cam]; k++)
				if (r->track_id[(size_t)cam * r->max_dets + k] == pe->track) {
					j->rgb = cut(en->frame, &d[k], &j->width, &j->height);
					break;
				}
		}
		g_free(pe->camera);
		g_free(pe);
		g_ptr_array_remove_index(c->pending, i);
		g_thread_pool_push(c->encoder, j, NULL);
	}
	g_mutex_unlock(&c->lock);
}

static void free_rgb(gpointer p) { g_free(p); }

/* The encoder worker: the thumbnail as JPEG, then the event is stored. */
static void encode_job(gpointer data, gpointer user)
{
	struct thumb_job *j = data;
	struct ls_console *c = j->c;
	(void)user;
	GBytes *jpeg = NULL;
	if (j->rgb) {
		GstCaps *caps = gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "RGB", "width", G_TYPE_INT,
						    j->width, "height", G_TYPE_INT, j->height, "framerate",
						    GST_TYPE_FRACTION, 0, 1, NULL);
		/* RGB rows are padded to 4 bytes in GStreamer's default layout */
		GstVideoInfo vi;
		gst_video_info_from_caps(&vi, caps);
		GstBuffer *b = gst_buffer_new_allocate(NULL, GST_VIDEO_INFO_SIZE(&vi), NULL);
		GstMapInfo m;
		gst_buffer_map(b, &m, GST_MAP_WRITE);
		for (int y = 0; y < j->height; y++)
			memcpy(m.data + (size_t)y * GST_VIDEO_INFO_PLANE_STRIDE(&vi, 0),
			       j->rgb + (size_t)y * j->width * 3, (size_t)j->width * 3);
		gst_buffer_unmap(b, &m);
		GstSample *s = gst_sample_new(b, caps, NULL, NULL);
		GstCaps *to = gst_caps_new_empty_simple("image/jpeg");
		GError *ge = NULL;
		GstSample *out = gst_video_convert_sample(s, to, 5 * GST_SECOND, &ge);
		if (out) {
			GstBuffer *ob = gst_sample_get_buffer(out);
			GstMapInfo om;
			if (gst_buffer_map(ob, &om, GST_MAP_READ)) {
				jpeg = g_bytes_new(om.data, om.size);
				gst_buffer_unmap(ob, &om);
			}
			gst_sample_unref(out);
		}
		g_clear_error(&ge);
		gst_caps_unref(to);
		gst_sample_unref(s);
		gst_buffer_unref(b);
		gst_caps_unref(caps);
	}
	g_mutex_lock(&c->lock);
	if (jpeg)
		c->thumbs++;
	else if (j->rgb)
		c->thumbs_failed++;
	event_store_unlocked(c, j->event, jpeg);
	g_mutex_unlock(&c->lock);
	if (jpeg)
		g_bytes_unref(jpeg);
	free_rgb(j->rgb);
	g_free(j->event);
	g_free(j);
}

/* ---- requests (server thread) --------------------------------------------- */

static void get_stats(struct ls_console *c, SoupServerMessage *msg, GHashTable *query)
{
	gint64 seconds;
	if (!ls_http_query_int(msg, query, "seconds", 1, HISTORY_MAX, HISTORY_MAX, &seconds))
		return;
	/* the records are JSON already: joined, not parsed again */
	GString *g = g_string_new("{\"version\":1,\"records\":[");
	g_mutex_lock(&c->lock);
	guint skip = c->history.length > (guint)seconds ? c->history.length - (guint)seconds : 0, k = 0;
	for (GList *l = c->history.head; l; l = l->next, k++)
		if (k >= skip)
			g_string_append_printf(g, "%s%s", k > skip ? "," : "", (const char *)l->data);
	g_mutex_unlock(&c->lock);
	g_string_append(g, "]}\n");
	ls_http_reply_json_text(msg, SOUP_STATUS_OK, g);
}

static void get_events(struct ls_console *c, SoupServerMessage *msg, GHashTable *query)
{
	gint64 limit, before;
	if (!ls_http_query_int(msg, query, "limit", 1, EVENTS_MAX, 200, &limit) ||
	    !ls_http_query_int(msg, query, "before", 1, G_MAXINT64, G_MAXINT64, &before))
		return;
	const char *camera = query ? g_hash_table_lookup(query, "camera") : NULL;
	const char *kind = query ? g_hash_table_lookup(query, "kind") : NULL;
	if (camera && !*camera)
		camera = NULL;
	if (kind && !*kind)
		kind = NULL;
	GString *g = g_string_new("{\"version\":1,\"events\":[");
	unsigned n = 0;
	g_mutex_lock(&c->lock);
	uint64_t newest = c->next_id - 1, oldest = c->next_id > EVENTS_MAX ? c->next_id - EVENTS_MAX : 1;
	for (uint64_t id = MIN(newest, (uint64_t)before - 1); id >= oldest && id > 0 && n < limit; id--) {
		const struct event *e = &c->events[id % EVENTS_MAX];
		if (e->id != id)
			continue;
		if (camera && g_strcmp0(camera, e->camera))
			continue;
		/* a kind is matched exactly; a word without '-' names a family:
		 * kind=camera is camera-down and camera-up, kind=track both
		 * track kinds (kind=redact-full-mask is not its -end) */
		if (kind && g_strcmp0(kind, e->kind) &&
		    (strchr(kind, '-') || !e->kind || !g_str_has_prefix(e->kind, kind) || e->kind[strlen(kind)] != '-'))
			continue;
		g_string_append_printf(g, "%s%s", n++ ? "," : "", e->json);
	}
	g_string_append_printf(g, "],\"newest\":%llu}\n", (unsigned long long)newest);
	g_mutex_unlock(&c->lock);
	ls_http_reply_json_text(msg, SOUP_STATUS_OK, g);
}

static void get_thumb(struct ls_console *c, SoupServerMessage *msg, const char *idtext)
{
	char *end = NULL;
	guint64 id = g_ascii_strtoull(idtext, &end, 10);
	GBytes *jpeg = NULL;
	if (end && g_str_equal(end, "/thumb.jpg") && id > 0) {
		g_mutex_lock(&c->lock);
		const struct event *e = &c->events[id % EVENTS_MAX];
		if (e->id == id && e->thumb)
			jpeg = g_bytes_ref(e->thumb);
		g_mutex_unlock(&c->lock);
	}
	if (!jpeg) {
		ls_http_reply_error(msg, SOUP_STATUS_NOT_FOUND, "no such thumbnail (events keep the newest 2000)");
		return;
	}
	soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
	soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Cache-Control",
				     "private, max-age=3600");
	soup_server_message_set_response(msg, "image/jpeg", SOUP_MEMORY_COPY, g_bytes_get_data(jpeg, NULL),
					 g_bytes_get_size(jpeg));
	g_bytes_unref(jpeg);
}

/* A URI without its password ("rtsp://user:***@host/..."). */
static char *uri_hide_password(const char *uri)
{
	const char *s = strstr(uri, "://");
	if (!s)
		return g_strdup(uri);
	const char *auth = s + 3, *at = strchr(auth, '@'), *slash = strchr(auth, '/');
	if (!at || (slash && slash < at))
		return g_strdup(uri);
	const char *colon = memchr(auth, ':', (size_t)(at - auth));
	if (!colon)
		return g_strdup(uri);
	return g_strdup_printf("%.*s:***%s", (int)(colon - uri), uri, at);
}

static void get_cameras(struct ls_console *c, SoupServerMessage *msg)
{
	JsonBuilder *b = json_builder_new();
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "version");
	json_builder_add_int_value(b, 1);
	json_builder_set_member_name(b, "cameras");
	json_builder_begin_array(b);
	for (unsigned k = 0; k < c->cfg->ncams; k++) {
		const struct ls_camera_config *cc = &c->cfg->cams[k];
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "name");
		json_builder_add_string_value(b, cc->name);
		json_builder_set_member_name(b, "kind");
		json_builder_add_string_value(b, ls_source_kind_name(cc->src.kind));
		json_builder_set_member_name(b, "uri");
		char *uri = uri_hide_password(cc->uri ? cc->uri : "");
		json_builder_add_string_value(b, uri);
		g_free(uri);
		json_builder_set_member_name(b, "redact");
		json_builder_add_boolean_value(b, cc->redact);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
	ls_http_reply_json(msg, SOUP_STATUS_OK, json_builder_get_root(b));
	g_object_unref(b);
}

/* The config file as it was read, with secrets (token, passwords, URI
 * passwords) shown as ***. */
static char *config_text_hidden(const char *path, char **why)
{
	char *text = NULL;
	GError *ge = NULL;
	if (!g_file_get_contents(path, &text, NULL, &ge)) {
		*why = g_strdup(ge->message);
		g_clear_error(&ge);
		return NULL;
	}
	GString *out = g_string_new(NULL);
	char **lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l; l++) {
		const char *eq = strchr(*l, '=');
		char *key = eq ? g_strstrip(g_strndup(*l, (gsize)(eq - *l))) : NULL;
		if (l != lines)
			g_string_append_c(out, '\n');
		if (key && *key != '#' && *key != ';' &&
		    (g_str_equal(key, "token") || g_str_equal(key, "password") || g_str_has_suffix(key, "-password") ||
		     g_str_equal(key, "secret") || g_str_equal(key, "credentials"))) {
			g_string_append_printf(out, "%.*s= ***", (int)(eq - *l), *l);
		} else if (key && *key != '#' && *key != ';') {
			char *hidden = uri_hide_password(eq + 1);
			g_string_append_printf(out, "%.*s=%s", (int)(eq - *l), *l, hidden);
			g_free(hidden);
		} else {
			g_string_append(out, *l);
		}
		g_free(key);
	}
	g_strfreev(lines);
	g_free(text);
	return g_string_free(out, FALSE);
}

static void get_config(struct ls_console *c, SoupServerMessage *msg)
{
	JsonBuilder *b = json_builder_new();
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "version");
	json_builder_add_int_value(b, 1);
	json_builder_set_member_name(b, "lockstep");
	json_builder_add_string_value(b, LOCKSTEP_VERSION);
	json_builder_set_member_name(b, "path");
	json_builder_add_string_value(b, c->cfg->path);
	json_builder_set_member_name(b, "started_ns");
	json_builder_add_int_value(b, c->started_ns);
	json_builder_set_member_name(b, "uptime_s");
	json_builder_add_double_value(b, (double)(g_get_real_time() * 1000 - c->started_ns) / 1e9);
	char *why = NULL, *text = config_text_hidden(c->cfg->path, &why);
	json_builder_set_member_name(b, "text");
	if (text)
		json_builder_add_string_value(b, text);
	else
		json_builder_add_null_value(b);
	if (why) {
		json_builder_set_member_name(b, "text_error");
		json_builder_add_string_value(b, why);
	}
	g_free(text);
	g_free(why);
	/* `lockstep check` without opening the cameras again (they are open) */
	GPtrArray *problems = g_ptr_array_new_with_free_func(g_free);
	ls_config_check(c->cfg, false, 0, problems);
	json_builder_set_member_name(b, "check");
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "ok");
	json_builder_add_boolean_value(b, problems->len == 0);
	json_builder_set_member_name(b, "problems");
	json_builder_begin_array(b);
	for (guint i = 0; i < problems->len; i++)
		json_builder_add_string_value(b, g_ptr_array_index(problems, i));
	json_builder_end_array(b);
	json_builder_set_member_name(b, "summary");
	char *sum = ls_config_summary(c->cfg, false);
	json_builder_add_string_value(b, sum);
	g_free(sum);
	json_builder_end_object(b);
	g_ptr_array_unref(problems);
	json_builder_end_object(b);
	ls_http_reply_json(msg, SOUP_STATUS_OK, json_builder_get_root(b));
	g_object_unref(b);
}

bool ls_console_request(struct ls_console *c, SoupServerMessage *msg, const char *path, GHashTable *query)
{
	const char *method = soup_server_message_get_method(msg);
	if (!g_str_has_prefix(path, "/api/v1/"))
		return false;
	const char *p = path + 8;
	if (g_str_equal(p, "feed")) {
		if (ls_http_takes(msg, method, path, "GET"))
			feed_start(c, msg);
	} else if (g_str_equal(p, "stats")) {
		if (ls_http_takes(msg, method, path, "GET, HEAD"))
			get_stats(c, msg, query);
	} else if (g_str_equal(p, "events")) {
		if (ls_http_takes(msg, method, path, "GET, HEAD"))
			get_events(c, msg, query);
	} else if (g_str_has_prefix(p, "events/")) {
		if (ls_http_takes(msg, method, path, "GET, HEAD"))
			get_thumb(c, msg, p + 7);
	} else if (g_str_equal(p, "cameras")) {
		if (ls_http_takes(msg, method, path, "GET, HEAD"))
			get_cameras(c, msg);
	} else if (g_str_equal(p, "config")) {
		if (ls_http_takes(msg, method, path, "GET, HEAD"))
			get_config(c, msg);
	} else {
		return false;
	}
	return true;
}

/* ---- life ------------------------------------------------------------------ */

struct ls_console *ls_console_new(struct ls_output_ctx *octx, const struct ls_config *cfg, GMainContext *ctx)
{
	struct ls_console *c = g_new0(struct ls_console, 1);
	c->cfg = cfg;
	c->ctx = g_main_context_ref(ctx);
	c->started_ns = g_get_real_time() * 1000;
	g_mutex_init(&c->lock);
	g_queue_init(&c->history);
	c->events = g_new0(struct event, EVENTS_MAX);
	c->next_id = 1;
	c->outbox = g_string_new(NULL);
	c->pending = g_ptr_array_new();
	c->feeds = g_ptr_array_new();
	if (cfg->detect)
		c->encoder = g_thread_pool_new(encode_job, c, 1, FALSE, NULL);
	ls_output_ctx_subscribe_stats(octx, on_stats, c);
	ls_output_ctx_subscribe_events(octx, on_event, c);
	if (c->encoder)
		ls_output_ctx_subscribe_detections(octx, on_detections, c);
	return c;
}

char *ls_console_latest(struct ls_console *c)
{
	g_mutex_lock(&c->lock);
	char *copy = g_strdup(c->latest);
	g_mutex_unlock(&c->lock);
	return copy;
}

void ls_console_stats_json(struct ls_console *c, GString *j)
{
	g_mutex_lock(&c->lock);
	unsigned long long events = c->next_id - 1, thumbs = c->thumbs, failed = c->thumbs_failed;
	g_mutex_unlock(&c->lock);
	g_string_append_printf(j,
			       ",\"console\":{\"feeds\":%d,\"feeds_ended\":%d,\"events\":%llu,\"thumbnails\":%llu,"
			       "\"thumbnails_failed\":%llu}",
			       g_atomic_int_get(&c->nfeeds), g_atomic_int_get(&c->feeds_ended), events, thumbs, failed);
}

void ls_console_close(struct ls_console *c)
{
	g_mutex_lock(&c->lock);
	c->closed = true;
	g_mutex_unlock(&c->lock);
	while (c->feeds->len) {
		struct feed *f = g_ptr_array_index(c->feeds, 0);
		g_ptr_array_remove_index(c->feeds, 0);
		g_signal_handlers_disconnect_by_data(f->msg, f);
		if (!f->done) {
			soup_message_body_complete(soup_server_message_get_response_body(f->msg));
			soup_server_message_unpause(f->msg);
		}
		g_free(f);
	}
}

void ls_console_free(struct ls_console **cp)
{
	struct ls_console *c = *cp;
	if (!c)
		return;
	*cp = NULL;
	if (c->encoder)
		g_thread_pool_free(c->encoder, FALSE, TRUE);
	for (guint i = 0; i < c->pending->len; i++) {
		struct pending *pe = g_ptr_array_index(c->pending, i);
		g_free(pe->json);
		g_free(pe->camera);
		g_free(pe);
	}
	g_ptr_array_unref(c->pending);
	for (unsigned i = 0; i < EVENTS_MAX; i++)
		event_clear(&c->events[i]);
	g_free(c->events);
	g_queue_clear_full(&c->history, g_free);
	g_string_free(c->outbox, TRUE);
	g_ptr_array_unref(c->feeds);
	g_main_context_unref(c->ctx);
	g_mutex_clear(&c->lock);
	g_free(c);
}

/* ---- the chart library ----------------------------------------------------- */

void ls_http_reply_vendor(SoupServerMessage *msg, const char *name)
{
	static const struct {
		const char *name, *type;
	} files[] = {
		{ "uPlot.iife.min.js", "text/javascript; charset=utf-8" },
		{ "uPlot.min.css", "text/css; charset=utf-8" },
	};
	const char *type = NULL;
	for (unsigned i = 0; i < G_N_ELEMENTS(files); i++)
		if (g_str_equal(name, files[i].name))
			type = files[i].type;
	const char *dir = g_getenv("LOCKSTEP_WEB_VENDOR");
	char *path = type ? g_build_filename(dir && *dir ? dir : LS_WEB_VENDOR_DIR, name, NULL) : NULL;
	char *data = NULL;
	gsize len = 0;
	if (!path || !g_file_get_contents(path, &data, &len, NULL)) {
		char *text = g_strdup_printf("%s: not installed (scripts/setup.sh fetches uPlot with npm)", name);
		ls_http_reply_error(msg, SOUP_STATUS_NOT_FOUND, text);
		g_free(text);
		g_free(path);
		return;
	}
	g_free(path);
	SoupMessageHeaders *hd = soup_server_message_get_response_headers(msg);
	soup_message_headers_replace(hd, "Cache-Control", "private, max-age=86400");
	soup_message_headers_replace(hd, "X-Content-Type-Options", "nosniff");
	soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
	soup_server_message_set_response(msg, type, SOUP_MEMORY_TAKE, data, len);
}
