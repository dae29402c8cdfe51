/* source_desc — see source_spec.h: a camera source spec described for
 * people (logs) and for GStreamer (a gst-launch description). */
#include "source_spec.h"
#include "values.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

/* ---- describe -------------------------------------------------------- */

static void append_rate(GString *g, struct ls_rate r)
{
	if (r.den == 1)
		g_string_append_printf(g, "%d", r.num);
	else
		g_string_append_printf(g, "%.6g", (double)r.num / r.den);
}

/* MJPG, the v4l2 format name, and its aliases. */
static bool format_is_jpeg(const char *f)
{
	return f && (g_ascii_strcasecmp(f, "MJPG") == 0 || g_ascii_strcasecmp(f, "MJPEG") == 0 ||
		     g_ascii_strcasecmp(f, "JPEG") == 0);
}

static void append_ms(GString *g, int64_t ns)
{
	char buf[32];

	ls_value_format_fixed(buf, sizeof buf, ns, LS_NS_PER_MS);
	g_string_append_printf(g, "%s ms", buf);
}

/* Also rtspsrc's nicks for its `protocols` flags. */
static const char *transport_name(enum ls_rtsp_transport t)
{
	return t == LS_RTSP_TCP ? "tcp" : t == LS_RTSP_UDP ? "udp" : "auto";
}

static const char *codec_name(enum ls_codec c) { return c == LS_CODEC_H265 ? "H.265" : "H.264"; }

char *ls_source_spec_describe(const struct ls_source_spec *s)
{
	GString *g = g_string_new(ls_source_kind_name(s->kind));

	switch (s->kind) {
	case LS_SRC_TEST:
		g_string_append_c(g, ' ');
		append_rate(g, s->test.fps);
		g_string_append_printf(g, " fps %dx%d %s, offset ", s->test.width, s->test.height, s->test.pattern);
		append_ms(g, s->test.offset_ns);
		g_string_append(g, ", jitter ");
		append_ms(g, s->test.jitter_ns);
		if (s->test.drift_ppm != 0.0)
			g_string_append_printf(g, ", drift %g ppm", s->test.drift_ppm);
		if (s->test.drop != 0.0)
			g_string_append_printf(g, ", drop %g%%", s->test.drop * 100.0);
		if (s->test.seed)
			g_string_append_printf(g, ", seed %" PRIu64, s->test.seed);
		break;
	case LS_SRC_FILE:
		g_string_append_printf(g, " %s (%s%s)", s->file.path,
				       s->file.realtime ? "realtime" : "as fast as possible",
				       s->file.loop ? ", loop" : "");
		break;
	case LS_SRC_V4L2:
		g_string_append_printf(g, " %s", s->v4l2.device);
		if (s->v4l2.width || s->v4l2.height)
			g_string_append_printf(g, " %dx%d", s->v4l2.width, s->v4l2.height);
		if (s->v4l2.fps.num) {
			g_string_append_c(g, ' ');
			append_rate(g, s->v4l2.fps);
			g_string_append(g, " fps");
		}
		if (s->v4l2.format)
			g_string_append_printf(g, " %s", s->v4l2.format);
		break;
	case LS_SRC_RTSP: {
		/* Hide the password: descriptions go to logs. */
		const char *loc = s->rtsp.location, *auth = strstr(loc, "://");
		size_t alen;
		const char *at = NULL, *colon;

		auth = auth ? auth + 3 : loc;
		alen = strcspn(auth, "/?#");
		for (const char *p = auth; p < auth + alen; p++)
			if (*p == '@')
				at = p;
		colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
		if (colon)
			g_string_append_printf(g, " %.*s***%s", (int)(colon + 1 - loc), loc, at);
		else
			g_string_append_printf(g, " %s", loc);
		g_string_append_printf(g, " (%s, latency %d ms, %s)", transport_name(s->rtsp.transport),
				       s->rtsp.latency_ms, codec_name(s->rtsp.codec));
		break;
	}
	case LS_SRC_UDP:
		g_string_append_printf(g, strchr(s->udp.host, ':') ? " [%s]:%d" : " %s:%d", s->udp.host, s->udp.port);
		g_string_append_printf(g, " (RTP %s pt %d, latency %d ms)", codec_name(s->udp.codec), s->udp.payload,
				       s->udp.latency_ms);
		break;
	case LS_SRC_X11:
		g_string_append_printf(g, " %s", *s->x11.display ? s->x11.display : "$DISPLAY");
		if (s->x11.width || s->x11.height || s->x11.x || s->x11.y) {
			g_string_append_c(g, ' ');
			if (s->x11.width)
				g_string_append_printf(g, "%d", s->x11.width);
			else
				g_string_append(g, "*");
			if (s->x11.height)
				g_string_append_printf(g, "x%d", s->x11.height);
			else
				g_string_append(g, "x*");
			g_string_append_printf(g, "+%d+%d", s->x11.x, s->x11.y);
		}
		g_string_append_c(g, ' ');
		append_rate(g, s->x11.fps);
		g_string_append(g, " fps");
		if (s->x11.show_pointer)
			g_string_append(g, " with pointer");
		break;
	case LS_SRC_FBDEV:
		g_string_append_printf(g, " %s ", s->fbdev.device);
		append_rate(g, s->fbdev.fps);
		g_string_append(g, " fps");
		break;
	case LS_SRC_NONE:
		break;
	}
	return g_string_free(g, FALSE);
}

/* ---- GStreamer description ------------------------------------------- */

/* A gst_parse_launch() string literal: "..." with '"' and '\' escaped. */
static void append_quoted(GString *g, const char *s)
{
	g_string_append_c(g, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			g_string_append_c(g, '\\');
		g_string_append_c(g, *s);
	}
	g_string_append_c(g, '"');
}

/* With @tap, the parsed H.264 stream also goes to a tee named `es`
 * (byte-stream, one access unit per buffer, SPS/PPS before every IDR). */
static void append_depay_decode(GString *g, enum ls_codec c, bool tap)
{
	if (c == LS_CODEC_H265)
		g_string_append(g, " ! rtph265depay ! h265parse ! avdec_h265");
	else if (tap)
		g_string_append(
			g,
			" ! rtph264depay ! h264parse config-interval=-1 ! "
			"video/x-h264,stream-format=byte-stream,alignment=au ! tee name=es ! queue max-size-buffers=4 max-size-bytes=0 max-size-time=0 ! avdec_h264");
	else
		g_string_append(g, " ! rtph264depay ! h264parse ! avdec_h264");
}

bool ls_source_spec_h264_tap(const struct ls_source_spec *s)
{
	return (s->kind == LS_SRC_RTSP && s->rtsp.codec == LS_CODEC_H264) ||
	       (s->kind == LS_SRC_UDP && s->udp.codec == LS_CODEC_H264);
}

#define TO_I420 " ! videoconvert ! video/x-raw,format=I420"

char *ls_source_spec_gst_desc(const struct ls_source_spec *s) { return ls_source_spec_gst_desc_tap(s, false); }

char *ls_source_spec_gst_desc_tap(const struct ls_source_spec *s, bool tap)
{
	GString *g;

	if (s->kind == LS_SRC_FBDEV) {
		errno = ENOTSUP; /* source.c reads it itself (it needs the device's geometry) */
		return NULL;
	}
	if (s->kind == LS_SRC_NONE || (unsigned)s->kind > LS_SRC_FBDEV /* the last kind */) {
		errno = EINVAL;
		return NULL;
	}
	g = g_string_new(NULL);
	switch (s->kind) {
	case LS_SRC_TEST:
		g_string_append_printf(g,
				       "videotestsrc is-live=false pattern=%s ! "
				       "video/x-raw,format=I420,width=%d,height=%d,framerate=%d/%d",
				       strcmp(s->test.pattern, LS_PATTERN_CLOCK) == 0 ? "ball" : s->test.pattern,
				       s->test.width, s->test.height, s->test.fps.num, s->test.fps.den);
		break;
	case LS_SRC_FILE:
		g_string_append(g, "filesrc location=");
		append_quoted(g, s->file.path);
		g_string_append(g, " ! decodebin" TO_I420);
		break;
	case LS_SRC_V4L2: {
		const struct ls_src_v4l2 *v = &s->v4l2;
		bool jpeg = format_is_jpeg(v->format);

		g_string_append(g, "v4l2src device=");
		append_quoted(g, v->device);
		if (v->width || v->height || v->fps.num || v->format) {
			g_string_append(g, jpeg ? " ! image/jpeg" : " ! video/x-raw");
			if (v->format && !jpeg)
				g_string_append_printf(g, ",format=%s", v->format);
			if (v->width)
				g_string_append_printf(g, ",width=%d", v->width);
			if (v->height)
				g_string_append_printf(g, ",height=%d", v->height);
			if (v->fps.num)
				g_string_append_printf(g, ",framerate=%d/%d", v->fps.num, v->fps.den);
			if (jpeg)
				g_string_append(g, " ! jpegdec");
		}
		g_string_append(g, TO_I420);
		break;
	}
	case LS_SRC_RTSP:
		/* ntp-sync and the reference timestamp meta carry the sender's
		 * capture time (RFC 7273 / RTCP SR) to the appsink. */
		g_string_append(g, "rtspsrc location=");
		append_quoted(g, s->rtsp.location);
		g_string_append_printf(g, " latency=%d", s->rtsp.latency_ms);
		if (s->rtsp.transport != LS_RTSP_AUTO)
			g_string_append_printf(g, " protocols=%s", transport_name(s->rtsp.transport));
		g_string_append(g, " ntp-sync=true add-reference-timestamp-meta=true");
		append_depay_decode(g, s->rtsp.codec, tap);
		g_string_append(g, TO_I420);
		break;
	case LS_SRC_UDP:
		g_string_append(g, "udpsrc address=");
		append_quoted(g, s->udp.host);
		g_string_append_printf(g,
				       " port=%d caps=\"application/x-rtp,media=video,clock-rate=90000,"
				       "encoding-name=%s,payload=%d\" ! rtpjitterbuffer latency=%d",
				       s->udp.port, s->udp.codec == LS_CODEC_H265 ? "H265" : "H264", s->udp.payload,
				       s->udp.latency_ms);
		append_depay_decode(g, s->udp.codec, tap);
		g_string_append(g, TO_I420);
		break;
	case LS_SRC_X11:
		g_string_append(g, "ximagesrc");
		if (*s->x11.display) {
			g_string_append(g, " display-name=");
			append_quoted(g, s->x11.display);
		}
		g_string_append_printf(g, " use-damage=false show-pointer=%s startx=%d starty=%d",
				       s->x11.show_pointer ? "true" : "false", s->x11.x, s->x11.y);
		/* endx/endy are inclusive; 0 means the screen's edge. */
		if (s->x11.width)
			g_string_append_printf(g, " endx=%d", s->x11.x + s->x11.width - 1);
		if (s->x11.height)
			g_string_append_printf(g, " endy=%d", s->x11.y + s->x11.height - 1);
		g_string_append_printf(g, " ! video/x-raw,framerate=%d/%d" TO_I420, s->x11.fps.num, s->x11.fps.den);
		break;
	case LS_SRC_FBDEV:
	case LS_SRC_NONE:
		break;
	}
	return g_string_free(g, FALSE);
}
