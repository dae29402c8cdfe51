/* playback — frames of the recording as JPEG pictures, for the console's
 * synchronized player (see playback.h). */
#include "playback.h"

#include <errno.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* Access units handed to the decoder ahead of the picture asked for: a
 * frame-threaded decoder holds a few before the first comes out. */
#define LAG 6
#define WAIT_NS (5 * GST_SECOND)      /* longest wait for one picture: then the decoder is stuck */
#define IDLE_US (60 * G_USEC_PER_SEC) /* a decoder unused this long is freed */
#define JPEG_QUALITY 85
#define NICE 10 /* decoding for a browser gives way to the rig */

struct decoder {
	char *camera;       /* immutable */
	bool busy;          /* protected by ls_playback.lock: a caller owns the rest */
	gint64 used_mono;   /* protected by ls_playback.lock, µs */
	char *path;         /* the segment file read (full path), or NULL: nothing */
	int64_t first;      /* its first slot */
	GstElement *reader; /* filesrc ! tsdemux ! h264parse ! appsink, or NULL */
	GstAppSink *rsink;
	int64_t next_au;   /* index in the file of the next access unit from the reader */
	bool reader_done;  /* the reader gave its last one */
	GstClockTime pts0; /* PTS of the file's first access unit */
	GstElement *dec;   /* appsrc ! avdec_h264 ! ... ! appsink, or NULL */
	GstAppSrc *dsrc;
	GstAppSink *dsink;
	int64_t in_flight; /* access units in the decoder, about */
	GstSample *pic;    /* the last picture decoded (I420), or NULL */
	int64_t pic_slot;  /* its slot */
	GstElement *jpg;   /* appsrc ! videoscale ! videoconvert ! jpegenc ! appsink, or NULL */
	GstAppSrc *jsrc;
	GstAppSink *jsink;
	GstCaps *jcaps;   /* the caps it was built for */
	int jw, jh;       /* its picture size */
	uint64_t jframes; /* pictures through it (their PTS) */
	GBytes *jpeg;     /* the last JPEG made, or NULL */
	int64_t jpeg_slot;
	int jpeg_max_w;
};

struct ls_playback {
	char *dir;
	int64_t period;  /* ns */
	GMutex lock;     /* protects decoders (the array) and each one's busy and used_mono */
	GCond free_cond; /* a decoder stopped being busy */
	GPtrArray *decoders;
};

static void pipeline_free(GstElement **p)
{
	if (*p) {
		gst_element_set_state(*p, GST_STATE_NULL);
		gst_clear_object(p);
	}
}

static void reader_close(struct decoder *d)
{
	pipeline_free(&d->reader);
	gst_clear_object(&d->rsink);
	g_clear_pointer(&d->path, g_free);
	d->reader_done = false;
}

static void decoder_reset(struct decoder *d)
{
	pipeline_free(&d->dec);
	gst_clear_object(&d->dsrc);
	gst_clear_object(&d->dsink);
	d->in_flight = 0;
}

static void jpeg_close(struct decoder *d)
{
	pipeline_free(&d->jpg);
	gst_clear_object(&d->jsrc);
	gst_clear_object(&d->jsink);
	gst_clear_caps(&d->jcaps);
}

static void decoder_free(gpointer data)
{
	struct decoder *d = data;
	reader_close(d);
	decoder_reset(d);
	jpeg_close(d);
	if (d->pic)
		gst_sample_unref(d->pic);
	if (d->jpeg)
		g_bytes_unref(d->jpeg);
	g_free(d->camera);
	g_free(d);
}

struct ls_playback *ls_playback_new(const char *dir, struct ls_rate rate)
{
	struct ls_playback *p = g_new0(struct ls_playback, 1);
	p->dir = g_strdup(dir);
	p->period = ls_rate_period_ns(rate);
	g_mutex_init(&p->lock);
	g_cond_init(&p->free_cond);
	p->decoders = g_ptr_array_new_with_free_func(decoder_free);
	return p;
}

void ls_playback_free(struct ls_playback **pp)
{
	struct ls_playback *p = pp ? *pp : NULL;
	if (!p)
		return;
	g_ptr_array_unref(p->decoders);
	g_mutex_clear(&p->lock);
	g_cond_clear(&p->free_cond);
	g_free(p->dir);
	g_free(p);
	*pp = NULL;
}

/* Sync bus handler, on the thread that posts: a streaming thread of ours
 * starting is niced (libav's decoder threads, made from it, inherit it).
 * Every message is dropped: nobody reads these buses, and a decoder lives
 * as long as someone plays. */
static GstBusSyncReply on_message(GstBus *bus, GstMessage *m, gpointer data)
{
	GstStreamStatusType type;
	GstElement *owner;
	if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_STREAM_STATUS) {
		gst_message_parse_stream_status(m, &type, &owner);
		if (type == GST_STREAM_STATUS_TYPE_ENTER)
			setpriority(PRIO_PROCESS, (id_t)gettid(), NICE);
	}
	return GST_BUS_DROP;
}

/* Builds @desc with an appsrc "src" (when @src) or a filesrc "f" reading
 * @location, and an appsink "sink", playing. */
static GstElement *launch(const char *desc, GstAppSrc **src, const char *location, GstAppSink **sink)
{
	GError *ge = NULL;
	GstElement *p = gst_parse_launch(desc, &ge);
	if (!p || ge) {
		g_clear_error(&ge);
		if (p)
			gst_object_unref(p);
		return NULL;
	}
	GstBus *bus = gst_element_get_bus(p);
	gst_bus_set_sync_handler(bus, on_message, NULL, NULL);
	gst_object_unref(bus);
	if (src)
		*src = GST_APP_SRC(gst_bin_get_by_name(GST_BIN(p), "src"));
	if (location) {
		GstElement *f = gst_bin_get_by_name(GST_BIN(p), "f");
		g_object_set(f, "location", location, NULL);
		gst_object_unref(f);
	}
	*sink = GST_APP_SINK(gst_bin_get_by_name(GST_BIN(p), "sink"));
	if (gst_element_set_state(p, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
		gst_element_set_state(p, GST_STATE_NULL);
		if (src)
			gst_clear_object(src);
		gst_clear_object(sink);
		gst_object_unref(p);
		return NULL;
	}
	return p;
}

/* The latest keyframe at or before @n in the comma-separated @keys, or
 * @first (a segment starts with one). */
static int64_t keyframe_at(const char *keys, int64_t n, int64_t first)
{
	int64_t best = first;
	for (const char *p = keys; p && *p;) {
		char *end;
		int64_t k = g_ascii_strtoll(p, &end, 10);
		if (end == p)
			break;
		if (k <= n && k > best)
			best = k;
		p = *end == ',' ? end + 1 : end;
	}
	return best;
}

/* Opens the reader on @path from its start. */
static int reader_open(struct decoder *d, const char *path, int64_t first, char **err)
{
	reader_close(d);
	decoder_reset(d);
	d->reader = launch("filesrc name=f ! tsdemux ! h264parse ! "
			   "video/x-h264,stream-format=byte-stream,alignment=au ! appsink name=sink sync=false "
			   "max-buffers=8",
			   NULL, path, &d->rsink);
	if (!d->reader) {
		*err = g_strdup_printf("cannot read %s", path);
		return -EIO;
	}
	d->path = g_strdup(path);
	d->first = first;
	d->next_au = 0;
	d->pts0 = GST_CLOCK_TIME_NONE;
	return 0;
}

/* The reader's next access unit (transfer full), or NULL at the end. */
static GstSample *next_au(struct decoder *d)
{
	GstSample *s = d->reader_done ? NULL : gst_app_sink_pull_sample(d->rsink);
	if (!s) {
		d->reader_done = true;
		return NULL;
	}
	GstBuffer *b = gst_sample_get_buffer(s);
	if (d->next_au == 0 && b)
		d->pts0 = GST_BUFFER_PTS(b);
	d->next_au++;
	return s;
}

/* Reads, without decoding, the access units before slot @key. */
static int skip_to(struct decoder *d, int64_t key)
{
	while (d->first + d->next_au < key) {
		GstSample *s = next_au(d);
		if (!s)
			return -ENOENT;
		gst_sample_unref(s);
	}
	return 0;
}

/* The slot of a picture: the file's first slot plus its presentation time
 * from the file's first, in periods; @count (pictures since a keyframe at
 * slot @from) where the stream has no times. */
static int64_t picture_slot(const struct ls_playback *p, const struct decoder *d, GstBuffer *b)
{
	GstClockTime pts = b ? GST_BUFFER_PTS(b) : GST_CLOCK_TIME_NONE;
	if (!GST_CLOCK_TIME_IS_VALID(pts) || !GST_CLOCK_TIME_IS_VALID(d->pts0))
		return d->pic ? d->pic_slot + 1 : d->first;
	int64_t dt = (int64_t)pts - (int64_t)d->pts0;
	return d->first + (dt >= 0 ? dt + p->period / 2 : dt - p->period / 2) / p->period;
}

/* Decodes forward until the picture of slot @n: 0, -ENOENT when the file
 * has none (it ends first, or that picture was lost), -EIO. */
static int decode_to(struct ls_playback *p, struct decoder *d, int64_t n, char **err)
{
	for (;;) {
		GstSample *s = d->dsink ? gst_app_sink_try_pull_sample(d->dsink, 0) : NULL;
		if (!s && d->dsink && (d->reader_done || d->in_flight >= LAG)) {
			if (gst_app_sink_is_eos(d->dsink))
				return -ENOENT;
			s = gst_app_sink_try_pull_sample(d->dsink, WAIT_NS);
			if (!s) {
				if (gst_app_sink_is_eos(d->dsink))
					return -ENOENT;
				*err = g_strdup_printf("decoding %s: no picture for %.0f s", d->path,
						       (double)WAIT_NS / GST_SECOND);
				return -EIO;
			}
		}
		if (s) {
			int64_t slot = picture_slot(p, d, gst_sample_get_buffer(s));
			if (d->pic)
				gst_sample_unref(d->pic);
			d->pic = s;
			d->pic_slot = slot;
			d->in_flight = d->first + d->next_au - 1 - slot;
			if (slot >= n)
				return slot == n ? 0 : -ENOENT;
			continue;
		}
		GstSample *au = next_au(d);
		if (!au) {
			if (!d->dsink)
				return -ENOENT;
			gst_app_src_end_of_stream(d->dsrc);
			continue;
		}
		if (!d->dec) {
			d->dec = launch("appsrc name=src format=time max-bytes=0 ! avdec_h264 ! videoconvert ! "
					"video/x-raw,format=I420 ! appsink name=sink sync=false",
					&d->dsrc, NULL, &d->dsink);
			if (!d->dec) {
				gst_sample_unref(au);
				*err = g_strdup("cannot build the decoder (avdec_h264, gstreamer1.0-libav)");
				return -EIO;
			}
			gst_app_src_set_caps(d->dsrc, gst_sample_get_caps(au));
		}
		gst_app_src_push_buffer(d->dsrc, gst_buffer_ref(gst_sample_get_buffer(au)));
		gst_sample_unref(au);
		d->in_flight++;
	}
}

/* The JPEG of picture @pic at most @max_w wide (transfer full), or NULL. */
static GBytes *encode(struct ls_playback *p, struct decoder *d, GstSample *pic, int max_w)
{
	GstCaps *caps = gst_sample_get_caps(pic);
	GstVideoInfo vi;
	if (!caps || !gst_video_info_from_caps(&vi, caps))
		return NULL;
	int w = vi.width, h = vi.height;
	if (max_w > 0 && max_w < w) {
		w = max_w & ~1;
		h = (int)((int64_t)vi.height * w / vi.width) & ~1;
		if (w < 2 || h < 2)
			w = h = 2;
	}
	if (d->jpg && (d->jw != w || d->jh != h || !gst_caps_is_equal(caps, d->jcaps)))
		jpeg_close(d);
	if (!d->jpg) {
		char *desc = g_strdup_printf("appsrc name=src format=time ! videoscale ! videoconvert ! "
					     "video/x-raw,format=I420,width=%d,height=%d,pixel-aspect-ratio=1/1 ! "
					     "jpegenc quality=%d ! appsink name=sink sync=false",
					     w, h, JPEG_QUALITY);
		d->jpg = launch(desc, &d->jsrc, NULL, &d->jsink);
		g_free(desc);
		if (!d->jpg)
			return NULL;
		gst_app_src_set_caps(d->jsrc, caps);
		d->jcaps = gst_caps_ref(caps);
		d->jw = w;
		d->jh = h;
	}
	/* our own times: the pictures of a seek go back */
	GstBuffer *b = gst_buffer_copy(gst_sample_get_buffer(pic));
	GST_BUFFER_PTS(b) = d->jframes * (uint64_t)p->period;
	GST_BUFFER_DTS(b) = GST_CLOCK_TIME_NONE;
	GST_BUFFER_DURATION(b) = (GstClockTime)p->period;
	d->jframes++;
	if (gst_app_src_push_buffer(d->jsrc, b) != GST_FLOW_OK) {
		jpeg_close(d);
		return NULL;
	}
	GstSample *out = gst_app_sink_try_pull_sample(d->jsink, WAIT_NS);
	if (!out) {
		jpeg_close(d);
		return NULL;
	}
	GstBuffer *ob = gst_sample_get_buffer(out);
	GstMapInfo map;
	GBytes *bytes = NULL;
	if (ob && gst_buffer_map(ob, &map, GST_MAP_READ)) {
		bytes = g_bytes_new(map.data, map.size);
		gst_buffer_unmap(ob, &map);
	}
	gst_sample_unref(out);
	return bytes;
}

/* A decoder for @camera, marked busy: the one already at @path nearest
 * before @n, else a new one (at most LS_PLAYBACK_DECODERS per camera), else
 * the one used least recently. Waits while all are busy. */
static struct decoder *take_decoder(struct ls_playback *p, const char *camera, const char *path, int64_t n)
{
	g_mutex_lock(&p->lock);
	gint64 now = g_get_monotonic_time();
	for (;;) {
		struct decoder *best = NULL, *lru = NULL;
		unsigned mine = 0;
		for (guint i = 0; i < p->decoders->len; i++) {
			struct decoder *d = g_ptr_array_index(p->decoders, i);
			if (!d->busy && now - d->used_mono > IDLE_US) {
				g_ptr_array_remove_index(p->decoders, i--);
				continue;
			}
			if (strcmp(d->camera, camera) != 0)
				continue;
			mine++;
			if (d->busy)
				continue;
			bool here = d->path && strcmp(d->path, path) == 0 &&
				    ((d->pic && d->pic_slot <= n) || (d->jpeg && d->jpeg_slot == n));
			if (here && (!best || d->pic_slot > best->pic_slot))
				best = d;
			if (!lru || d->used_mono < lru->used_mono)
				lru = d;
		}
		if (!best && mine < LS_PLAYBACK_DECODERS) {
			best = g_new0(struct decoder, 1);
			best->camera = g_strdup(camera);
			best->jpeg_slot = best->pic_slot = INT64_MIN;
			g_ptr_array_add(p->decoders, best);
		}
		if (!best)
			best = lru;
		if (best) {
			best->busy = true;
			best->used_mono = now;
			g_mutex_unlock(&p->lock);
			return best;
		}
		g_cond_wait(&p->free_cond, &p->lock);
		now = g_get_monotonic_time();
	}
}

static void give_decoder(struct ls_playback *p, struct decoder *d)
{
	g_mutex_lock(&p->lock);
	d->busy = false;
	d->used_mono = g_get_monotonic_time();
	g_cond_broadcast(&p->free_cond);
	g_mutex_unlock(&p->lock);
}

int ls_playback_jpeg(struct ls_playback *p, const struct ls_rec_segment *seg, int64_t n, int max_w, GBytes **jpeg,
		     char **err)
{
	*jpeg = NULL;
	if (n < seg->first_slot || n > seg->last_slot)
		return -ENOENT;
	char *path = g_build_filename(p->dir, seg->path, NULL);
	/* the recorder's own file: a regular file, not a link to elsewhere */
	struct stat st;
	int e = lstat(path, &st) < 0 ? errno : S_ISREG(st.st_mode) ? 0 : EINVAL;
	if (e) {
		*err = g_strdup_printf("segment %s: %s", path, e == EINVAL ? "not a regular file" : g_strerror(e));
		g_free(path);
		return -EIO;
	}
	struct decoder *d = take_decoder(p, seg->camera, path, n);
	int rc = 0;
	if (d->jpeg && d->jpeg_slot == n && d->jpeg_max_w == max_w && d->path && strcmp(d->path, path) == 0) {
		*jpeg = g_bytes_ref(d->jpeg);
		goto out;
	}
	if (!(d->pic && d->pic_slot == n && d->path && strcmp(d->path, path) == 0)) {
		int64_t key = keyframe_at(seg->keyframes, n, seg->first_slot);
		bool forward = d->path && strcmp(d->path, path) == 0 && d->first == seg->first_slot && d->pic &&
			       d->pic_slot < n;
		if (forward && key > d->pic_slot + 1 && d->first + d->next_au <= key) {
			/* a keyframe between here and there: jump to it */
			decoder_reset(d);
			rc = skip_to(d, key);
		} else if (!forward) {
			rc = reader_open(d, path, seg->first_slot, err);
			if (rc == 0)
				rc = skip_to(d, key);
		}
		if (d->pic) {
			gst_sample_unref(d->pic);
			d->pic = NULL;
		}
		if (rc == 0)
			rc = decode_to(p, d, n, err);
		if (rc < 0) {
			/* start afresh next time */
			reader_close(d);
			decoder_reset(d);
			goto out;
		}
	}
	*jpeg = encode(p, d, d->pic, max_w);
	if (!*jpeg) {
		*err = g_strdup_printf("cannot encode slot %lld of %s as JPEG (jpegenc)", (long long)n, path);
		rc = -EIO;
		goto out;
	}
	if (d->jpeg)
		g_bytes_unref(d->jpeg);
	d->jpeg = g_bytes_ref(*jpeg);
	d->jpeg_slot = n;
	d->jpeg_max_w = max_w;
out:
	give_decoder(p, d);
	g_free(path);
	return rc;
}
