/* [output rtsp]: an RTSP server (gst-rtsp-server) with one mount per
 * camera, rtsp://HOST:PORT/CAMERA, and the cameras tiled at /mosaic.
 *
 * Encoded once per mount: a mount's media is shared, so every client of
 * /cam1 gets the packets of the same encoder (x264, constrained baseline,
 * no B-frames, zerolatency). Nothing is encoded for a mount without a
 * client: the output drops its frames until a client asks.
 *
 * Capture time travels with every frame: each buffer pushed carries the
 * frame's capture time (the mosaic: the slot's time) as a reference
 * timestamp meta (timestamp/x-ntp), which the payloader writes into the
 * RFC 6051 64-bit NTP header extension (urn:ietf:params:rtp-hdrext:ntp-64,
 * announced as a=extmap in the SDP) of every packet of the frame. A
 * receiver that reads it (another lockstep: rtspsrc adds the extension the
 * SDP names and source.c takes the meta) stamps the frame with the original
 * capture time, so the frame keeps its slot n.
 *
 * Threads: the output thread pops sets and pushes to the mounts' appsrcs
 * (never blocking: appsrc drops its oldest buffer when 2 wait); the
 * server runs on its own thread and GMainContext, where media-configure and
 * unprepared arrive. Locking: mount.lock protects mount.appsrc and the caps
 * set on it; the output thread holds it for a push, which does not block. */
#include <errno.h>
#include <gst/app/gstappsrc.h>
#include <gst/base/gstbasesink.h>
#include <gst/gst.h>
#include <gst/rtp/gstrtphdrext.h>
#include <gst/rtsp-server/rtsp-server.h>
#include <stdatomic.h>
#include <string.h>

#include "ls_mosaic.h"
#include "output.h"

#define NTP_UNIX_OFFSET_S INT64_C(2208988800) /* 1900-01-01 to 1970-01-01 */
#define NTP64_EXT_ID 1                        /* a=extmap id of the NTP-64 extension */
#define APPSRC_BUFFERS 2                      /* frames waiting in a mount's appsrc at most */

struct rtsp_out;

struct mount {
	struct rtsp_out *o;
	char *path;                          /* "/cam1", "/mosaic" */
	unsigned cam;                        /* the camera, or o->ncams for the mosaic */
	GMutex lock;                         /* protects appsrc, w, h */
	GstElement *appsrc;                  /* the shared media's while it is prepared, else NULL (ref held) */
	int w, h;                            /* the caps last set on appsrc, 0: none yet */
	atomic_ullong pushed, idle, refused; /* frames pushed, dropped without a client, refused by appsrc */
	atomic_uint clients_seen;            /* medias configured (a new shared media per first client) */
};

struct rtsp_out {
	char *listen;
	unsigned ncams;
	struct ls_rate rate;
	int bitrate_kbps;
	unsigned gop;               /* frames between keyframes */
	struct ls_output_loop loop; /* the server's thread and context */
	GSource *listen_src;
	GstRTSPServer *server;
	struct mount *mounts;
	unsigned nmounts;
	struct ls_mosaic *mosaic; /* for /mosaic, or NULL */
	int mw, mh;
	struct ls_setq *q;
	GThread *thread;
	GstCaps *ntp_caps;
};

static void on_unprepared(GstRTSPMedia *media, gpointer data)
{
	struct mount *mt = data;
	(void)media;
	g_mutex_lock(&mt->lock);
	if (mt->appsrc)
		gst_object_unref(mt->appsrc);
	mt->appsrc = NULL;
	mt->w = mt->h = 0;
	g_mutex_unlock(&mt->lock);
}

/* rtpbin (GStreamer >= 1.22) rewrites the NTP-64 extension with the time
 * each packet is sent (RFC 6051's rapid sync of *send* times) unless told
 * not to; lockstep's extension carries the capture time and must stay. */
static void keep_ntp64(GstElement *e)
{
	if (g_object_class_find_property(G_OBJECT_GET_CLASS(e), "update-ntp64-header-ext"))
		g_object_set(e, "update-ntp64-header-ext", FALSE, NULL);
}

/* rtsp-stream turns sync back on for a client's TCP sink when it adds the
 * transport (PLAY): it is turned off again at once. */
static void on_sync_changed(GObject *sink, GParamSpec *pspec, gpointer data)
{
	(void)pspec;
	(void)data;
	gboolean sync = FALSE;
	g_object_get(sink, "sync", &sync, NULL);
	if (sync)
		g_object_set(sink, "sync", FALSE, NULL);
}

/* The media's network sinks (rtsp-stream's udpsink/appsink, added when the
 * media is prepared and when a client's transport is set up) send what the
 * encoder gives them at once, never waiting on the clock: the frames are
 * live, paced by the rig. With sync on, a client's first PLAY sometimes
 * found the streaming thread (appsrc's, which runs encoder and payloader)
 * waiting in the sink's clock wait for seconds on the prerolled buffer:
 * no packet sent, appsrc dropping every new frame, the client's RTSP
 * session open and silent until it gave up (seen in 1 of ~30 connects). */
static void tune_element(GstElement *e)
{
	keep_ntp64(e);
	if (GST_IS_BASE_SINK(e)) {
		g_object_set(e, "sync", FALSE, NULL);
		g_signal_connect(e, "notify::sync", G_CALLBACK(on_sync_changed), NULL);
	}
}

static void on_element_added(GstBin *bin, GstBin *sub_bin, GstElement *e, gpointer data)
{
	(void)bin;
	(void)sub_bin;
	(void)data;
	tune_element(e);
}

/* Server thread: a mount's shared media was made for its first client. */
static void on_media_configure(GstRTSPMediaFactory *factory, GstRTSPMedia *media, gpointer data)
{
	struct mount *mt = data;
	(void)factory;
	GstElement *bin = gst_rtsp_media_get_element(media);
	GstElement *src = gst_bin_get_by_name(GST_BIN(bin), "src");
	GstElement *pay = gst_bin_get_by_name(GST_BIN(bin), "pay0");
	GstRTPHeaderExtension *ext = gst_rtp_header_extension_create_from_uri(GST_RTP_HDREXT_BASE "ntp-64");
	if (ext && pay) {
		gst_rtp_header_extension_set_id(ext, NTP64_EXT_ID);
		/* on every packet, not only a frame's first: a depayloader
		 * (GStreamer 1.22's rtpbasedepayload) reads the extensions of
		 * the packet that completes the frame, its last */
		g_object_set(ext, "every-packet", TRUE, NULL);
		g_signal_emit_by_name(pay, "add-extension", ext);
	} else {
		g_printerr("output rtsp: %s: no RFC 6051 header extension (rtphdrextntp64, gst-plugins-good >= 1.22): "
			   "clients get no capture time\n",
			   mt->path);
	}
	g_clear_object(&ext);
	g_clear_object(&pay);
	g_signal_connect(media, "unprepared", G_CALLBACK(on_unprepared), mt);
	/* the media's pipeline gets its rtpbin when it is prepared, later */
	GstObject *pipe = gst_object_get_parent(GST_OBJECT(bin));
	if (pipe && GST_IS_BIN(pipe)) {
		g_signal_connect(pipe, "deep-element-added", G_CALLBACK(on_element_added), NULL);
		GstIterator *it = gst_bin_iterate_recurse(GST_BIN(pipe));
		GValue v = G_VALUE_INIT;
		while (gst_iterator_next(it, &v) == GST_ITERATOR_OK) {
			tune_element(g_value_get_object(&v));
			g_value_reset(&v);
		}
		g_value_unset(&v);
		gst_iterator_free(it);
	}
	if (pipe)
		gst_object_unref(pipe);
	g_mutex_lock(&mt->lock);
	if (mt->appsrc)
		gst_object_unref(mt->appsrc);
	mt->appsrc = src; /* the ref from get_by_name */
	mt->w = mt->h = 0;
	g_mutex_unlock(&mt->lock);
	atomic_fetch_add(&mt->clients_seen, 1);
	gst_object_unref(bin);
}

/* Output thread: pushes @buf (transfer full), @w x @h I420 captured at
 * @capture_ns (CLOCK_REALTIME), to @mt's media if it has one. */
static void push(struct rtsp_out *o, struct mount *mt, GstBuffer *buf, int w, int h, int64_t capture_ns)
{
	gst_buffer_add_reference_timestamp_meta(
		buf, o->ntp_caps, (GstClockTime)(capture_ns + NTP_UNIX_OFFSET_S * LS_NS_PER_SEC), GST_CLOCK_TIME_NONE);
	GST_BUFFER_DURATION(buf) = (GstClockTime)ls_rate_period_ns(o->rate);
	g_mutex_lock(&mt->lock);
	if (!mt->appsrc) {
		g_mutex_unlock(&mt->lock);
		gst_buffer_unref(buf);
		atomic_fetch_add(&mt->idle, 1);
		return;
	}
	if (w != mt->w || h != mt->h) {
		GstCaps *caps = ls_output_i420_caps(w, h, o->rate);
		gst_app_src_set_caps(GST_APP_SRC(mt->appsrc), caps);
		gst_caps_unref(caps);
		mt->w = w;
		mt->h = h;
	}
	GstFlowReturn fr = gst_app_src_push_buffer(GST_APP_SRC(mt->appsrc), buf);
	g_mutex_unlock(&mt->lock);
	atomic_fetch_add(fr == GST_FLOW_OK ? &mt->pushed : &mt->refused, 1);
}

static bool has_client(struct mount *mt)
{
	g_mutex_lock(&mt->lock);
	bool yes = mt->appsrc != NULL;
	g_mutex_unlock(&mt->lock);
	return yes;
}

static gpointer rtsp_thread(gpointer data)
{
	struct rtsp_out *o = data;
	struct ls_frameset *set;
	while ((set = ls_setq_pop(o->q, INT64_MAX))) {
		for (unsigned i = 0; i < o->nmounts; i++) {
			struct mount *mt = &o->mounts[i];
			if (mt->cam == o->ncams) {
				if (!has_client(mt)) {
					atomic_fetch_add(&mt->idle, 1);
					continue;
				}
				GstBuffer *buf = gst_buffer_new_allocate(NULL, ls_mosaic_buffer_size(o->mosaic), NULL);
				GstMapInfo map;
				gst_buffer_map(buf, &map, GST_MAP_WRITE);
				ls_mosaic_compose(o->mosaic, set, map.data);
				gst_buffer_unmap(buf, &map);
				push(o, mt, buf, o->mw, o->mh, set->slot_ns);
				continue;
			}
			const struct ls_entry *e = &set->entries[mt->cam];
			if (e->state != LS_ENTRY_PRESENT || !e->frame || e->frame->format != LS_FMT_I420)
				continue;
			if (!has_client(mt)) {
				atomic_fetch_add(&mt->idle, 1);
				continue;
			}
			push(o, mt, ls_output_frame_buffer(e->frame), e->frame->width, e->frame->height,
			     e->frame->capture_ns);
		}
		ls_frameset_unref(&set);
	}
	return NULL;
}

static GstRTSPMediaFactory *factory_for(struct rtsp_out *o, struct mount *mt, GstRTSPAuth *auth)
{
	GstRTSPMediaFactory *f = gst_rtsp_media_factory_new();
	/* x264: no B-frames (constrained baseline), no lookahead (zerolatency),
	 * a keyframe every gop frames and SPS/PPS with each (config-interval
	 * -1), so a client that joins decodes from the next keyframe. appsrc
	 * drops its oldest frame rather than wait: a slow encoder or client
	 * loses its own frames, never the rig's; appsrc's own streaming
	 * thread runs the encoder (no queue: one thread hop less a frame). */
	char *launch = g_strdup_printf(
		"( appsrc name=src is-live=true format=time do-timestamp=true max-buffers=%d leaky-type=downstream "
		"! x264enc tune=zerolatency speed-preset=ultrafast bitrate=%d key-int-max=%u bframes=0 threads=1 "
		"! video/x-h264,profile=constrained-baseline "
		"! rtph264pay name=pay0 pt=96 config-interval=-1 aggregate-mode=zero-latency )",
		APPSRC_BUFFERS, o->bitrate_kbps, o->gop);
	gst_rtsp_media_factory_set_launch(f, launch);
	g_free(launch);
	gst_rtsp_media_factory_set_shared(f, TRUE);
	g_signal_connect(f, "media-configure", G_CALLBACK(on_media_configure), mt);
	if (auth) {
		/* only the role the Basic auth token carries may see it */
		gst_rtsp_media_factory_add_role(f, "lockstep", GST_RTSP_PERM_MEDIA_FACTORY_ACCESS, G_TYPE_BOOLEAN, TRUE,
						GST_RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, G_TYPE_BOOLEAN, TRUE, NULL);
	}
	return f;
}

static void rtsp_free(void *impl);

static void *rtsp_new(struct ls_output_ctx *ctx, const void *group, char **err)
{
	const struct ls_output_config *oc = group;
	const struct ls_config *cfg = ls_output_ctx_config(ctx);
	struct rtsp_out *o = g_new0(struct rtsp_out, 1);
	GError *ge = NULL;
	GstRTSPAuth *auth = NULL;
	o->listen = g_strdup(oc->listen);
	o->ncams = cfg->ncams;
	o->rate = cfg->rate;
	o->bitrate_kbps = oc->bitrate_kbps;
	int64_t gop = oc->keyframe_ns / ls_rate_period_ns(cfg->rate);
	o->gop = gop < 1 ? 1 : (unsigned)gop;
	o->ntp_caps = gst_caps_new_empty_simple("timestamp/x-ntp");
	o->nmounts = cfg->ncams + (oc->mosaic ? 1 : 0);
	o->mounts = g_new0(struct mount, o->nmounts);
	for (unsigned i = 0; i < o->nmounts; i++) {
		struct mount *mt = &o->mounts[i];
		mt->o = o;
		mt->cam = i;
		mt->path = g_strdup_printf("/%s", i < cfg->ncams ? cfg->cams[i].name : "mosaic");
		g_mutex_init(&mt->lock);
	}
	if (oc->mosaic) {
		o->mw = oc->width;
		o->mh = oc->height;
		char *why = NULL;
		o->mosaic = ls_output_mosaic_new(cfg, o->mw, o->mh, &why);
		if (!o->mosaic) {
			*err = g_strdup_printf("%s for /mosaic", why);
			g_free(why);
			goto fail;
		}
	}
	GstElementFactory *need = gst_element_factory_find("rtph264pay");
	GstElementFactory *need2 = gst_element_factory_find("x264enc");
	bool have = need && need2;
	g_clear_object(&need);
	g_clear_object(&need2);
	if (!have) {
		*err = g_strdup("needs x264enc (gstreamer1.0-plugins-ugly) and rtph264pay (gstreamer1.0-plugins-good): "
				"run scripts/setup.sh");
		goto fail;
	}

	o->server = gst_rtsp_server_new();
	char port[16];
	g_snprintf(port, sizeof port, "%d", oc->port);
	gst_rtsp_server_set_address(o->server, oc->host);
	gst_rtsp_server_set_service(o->server, port);
	if (oc->password) {
		auth = gst_rtsp_auth_new();
		GstRTSPToken *token = gst_rtsp_token_new(GST_RTSP_TOKEN_MEDIA_FACTORY_ROLE, G_TYPE_STRING, "lockstep",
							 NULL);
		char *basic = gst_rtsp_auth_make_basic(oc->user, oc->password);
		gst_rtsp_auth_add_basic(auth, basic, token);
		g_free(basic);
		gst_rtsp_token_unref(token);
		gst_rtsp_server_set_auth(o->server, auth);
	}
	GstRTSPMountPoints *mps = gst_rtsp_server_get_mount_points(o->server);
	for (unsigned i = 0; i < o->nmounts; i++)
		gst_rtsp_mount_points_add_factory(mps, o->mounts[i].path, factory_for(o, &o->mounts[i], auth));
	g_object_unref(mps);
	g_clear_object(&auth);

	/* Bind now, so that a port in use fails the start with its reason. */
	ls_output_loop_init(&o->loop);
	o->listen_src = gst_rtsp_server_create_source(o->server, NULL, &ge);
	if (!o->listen_src) {
		*err = g_strdup_printf("listen = %s: cannot listen: %s", o->listen, ge ? ge->message : "?");
		g_clear_error(&ge);
		goto fail;
	}
	g_source_attach(o->listen_src, o->loop.ctx);
	ls_output_loop_run(&o->loop, "output-rtsp-server");
	g_printerr("output rtsp: serving rtsp://%s/{%s%s} (%s)\n", o->listen, cfg->ncams ? cfg->cams[0].name : "",
		   cfg->ncams > 1 ? ",..." : "", oc->password ? "Basic auth" : "no auth, loopback");
	return o;
fail:
	rtsp_free(o);
	return NULL;
}

static unsigned rtsp_frames_held(const struct ls_config *cfg, const void *group)
{
	(void)cfg;
	(void)group;
	/* per camera: the appsrc's buffers and the encoder's frame in hand
	 * (zerolatency: no lookahead), with two to spare */
	return APPSRC_BUFFERS + 1 + 2;
}

static int rtsp_start(void *impl, struct ls_setq *q, char **err)
{
	struct rtsp_out *o = impl;
	(void)err;
	o->q = q;
	o->thread = g_thread_new("output-rtsp", rtsp_thread, o);
	return 0;
}

static GstRTSPFilterResult close_client(GstRTSPServer *server, GstRTSPClient *client, gpointer data)
{
	(void)server;
	(void)client;
	(void)data;
	return GST_RTSP_FILTER_REMOVE;
}

static void rtsp_finish(void *impl)
{
	struct rtsp_out *o = impl;
	if (o->thread) {
		g_thread_join(o->thread);
		o->thread = NULL;
	}
	for (unsigned i = 0; i < o->nmounts; i++) {
		struct mount *mt = &o->mounts[i];
		g_mutex_lock(&mt->lock);
		if (mt->appsrc)
			gst_app_src_end_of_stream(GST_APP_SRC(mt->appsrc));
		g_mutex_unlock(&mt->lock);
	}
	if (o->server)
		gst_rtsp_server_client_filter(o->server, close_client, NULL);
	/* the shared medias unprepare on the server's threads once their
	 * clients are gone; wait for that (on_unprepared uses the mounts) */
	for (int tries = 0; tries < 200; tries++) {
		bool any = false;
		for (unsigned i = 0; i < o->nmounts; i++)
			any |= has_client(&o->mounts[i]);
		if (!any)
			break;
		g_usleep(10000);
	}
	if (o->listen_src) {
		g_source_destroy(o->listen_src);
		g_source_unref(o->listen_src);
		o->listen_src = NULL;
	}
	ls_output_loop_stop(&o->loop);
	for (unsigned i = 0; i < o->nmounts; i++)
		g_printerr("output rtsp: %s: %llu frames sent, %u client sessions\n", o->mounts[i].path,
			   (unsigned long long)atomic_load(&o->mounts[i].pushed),
			   atomic_load(&o->mounts[i].clients_seen));
}

static void rtsp_stats_json(void *impl, GString *j)
{
	struct rtsp_out *o = impl;
	g_string_append(j, ",\"mounts\":{");
	for (unsigned i = 0; i < o->nmounts; i++) {
		struct mount *mt = &o->mounts[i];
		g_string_append_printf(j, "%s\"%s\":{\"sent\":%llu,\"idle\":%llu,\"refused\":%llu,\"sessions\":%u}",
				       i ? "," : "", mt->path + 1, (unsigned long long)atomic_load(&mt->pushed),
				       (unsigned long long)atomic_load(&mt->idle),
				       (unsigned long long)atomic_load(&mt->refused), atomic_load(&mt->clients_seen));
	}
	g_string_append(j, "}");
}

static void rtsp_free(void *impl)
{
	struct rtsp_out *o = impl;
	if (!o)
		return;
	if (o->listen_src) {
		g_source_destroy(o->listen_src);
		g_source_unref(o->listen_src);
	}
	ls_output_loop_stop(&o->loop);
	g_clear_object(&o->server);
	for (unsigned i = 0; i < o->nmounts; i++) {
		struct mount *mt = &o->mounts[i];
		if (mt->appsrc)
			gst_object_unref(mt->appsrc);
		g_mutex_clear(&mt->lock);
		g_free(mt->path);
	}
	g_free(o->mounts);
	ls_output_loop_clear(&o->loop);
	ls_mosaic_free(&o->mosaic);
	if (o->ntp_caps)
		gst_caps_unref(o->ntp_caps);
	g_free(o->listen);
	g_free(o);
}

const struct ls_output_ops ls_rtsp_out_ops = {
	.kind = "rtsp",
	.create = rtsp_new,
	.frames_held = rtsp_frames_held,
	.start = rtsp_start,
	.finish = rtsp_finish,
	.free = rtsp_free,
	.stats_json = rtsp_stats_json,
};
