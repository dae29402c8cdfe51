/* source_spec — camera source URIs: parsing, checking and GStreamer descriptions.
 *
 * A camera is named by a URI whose scheme picks the source kind and whose
 * query (`?k=v&k=v`) carries lockstep's options for it:
 *
 *   test://?fps=30&offset-ms=0&jitter-ms=0&drift-ppm=0&drop=0&width=640&height=360&pattern=smpte&seed=0
 *   file:///abs/path.mp4?realtime=true&loop=false
 *   v4l2:///dev/video0?width=1280&height=720&fps=30&format=YUY2
 *   rtsp://[user:pass@]host[:port]/path[?camera-query]#latency=200&transport=tcp&codec=h264
 *   udp://HOST:PORT?latency=200&payload=96&codec=h264
 *   x11://[DISPLAY]?x=0&y=0&width=1920&height=1080&fps=30&show-pointer=false
 *   fbdev:///dev/fb0?fps=15
 *
 * The query of an rtsp URI belongs to the camera, so lockstep's rtsp options
 * go in the fragment (after `#`) and the location without the fragment is
 * passed to rtspsrc verbatim. Paths (file, v4l2, fbdev) must be absolute
 * and are percent-decoded; option names and values are percent-decoded too.
 * Unknown options, options given twice and out-of-range values are errors.
 *
 * Parsing is pure (no file system, no environment, no GStreamer): a config
 * can be validated on a machine without the cameras. ls_source_spec_check()
 * does the checks that need the local machine.
 *
 * Error strings (char **err) are one line without a trailing newline,
 * g_strdup'd: the caller frees them with g_free(). Initialise *err to NULL;
 * a message already there is freed and replaced. They name the option and
 * the value at fault but not the URI: the caller prefixes its context. */
#ifndef LS_SOURCE_SPEC_H
#define LS_SOURCE_SPEC_H

#include <stdbool.h>
#include <stdint.h>

#include "ls_time.h"

enum ls_source_kind {
	LS_SRC_NONE = 0, /**< a cleared spec */
	LS_SRC_TEST,     /**< synthetic camera paced by lockstep */
	LS_SRC_FILE,     /**< a video file, decoded */
	LS_SRC_V4L2,     /**< a Video4Linux2 capture device */
	LS_SRC_RTSP,     /**< an RTSP camera (RTP H.264/H.265) */
	LS_SRC_UDP,      /**< RTP H.264/H.265 received on a UDP port */
	LS_SRC_X11,      /**< an X11 screen (or part of it) */
	LS_SRC_FBDEV,    /**< a Linux framebuffer, read by lockstep itself */
};

enum ls_rtsp_transport {
	LS_RTSP_TCP = 0, /**< RTP interleaved in the RTSP TCP connection (default) */
	LS_RTSP_UDP,     /**< RTP over UDP: lower latency, loses packets */
	LS_RTSP_AUTO,    /**< let rtspsrc try UDP, multicast, then TCP */
};

enum ls_codec {
	LS_CODEC_H264 = 0, /**< default */
	LS_CODEC_H265,
};

/** test://?pattern=clock: a moving ball under a strip of blocks that
 *  encodes each frame's slot n and capture time (lib/ls_stamp.h), and the
 *  same in digits, drawn by lockstep on every frame: a viewer's picture
 *  tells which slot it shows and, against the clock, how late it is. */
#define LS_PATTERN_CLOCK "clock"

/** test:// — a synthetic camera. lockstep generates its frames and their
 *  capture times; these fields describe the simulated camera's errors (how
 *  they combine is the simulator's business, not this module's). */
struct ls_src_test {
	struct ls_rate fps;  /**< frame rate; default 30/1 */
	int64_t offset_ns;   /**< true clock offset of the camera, ns; [-10 s, 10 s]; default 0 */
	int64_t jitter_ns;   /**< amplitude of random capture-time error, ns; [0, 1 s]; default 0 */
	double drift_ppm;    /**< clock rate error, ppm; [-10000, 10000]; default 0 */
	double drop;         /**< probability that a frame is lost; [0, 1]; default 0 */
	int width, height;   /**< pixels, even, 16..7680; default 640x360 */
	const char *pattern; /**< videotestsrc pattern nickname, or LS_PATTERN_CLOCK (static string); default "smpte" */
	uint64_t seed;       /**< random seed; 0 (default): the caller derives one from the camera name */
};

/** file:// — a video file. */
struct ls_src_file {
	char *path;    /**< absolute, percent-decoded */
	bool realtime; /**< true (default): deliver frames at their timestamps, as a camera would */
	bool loop;     /**< false (default): end of file ends the camera; true: start again */
};

/** v4l2:// — a capture device. Zero / NULL fields are left to negotiation. */
struct ls_src_v4l2 {
	char *device;       /**< absolute path, e.g. /dev/video0 */
	int width, height;  /**< pixels, 0: any; otherwise even, 16..7680 x 16..4320 */
	struct ls_rate fps; /**< {0, 0}: any */
	char *format;       /**< GStreamer raw format name (YUY2, NV12, ...) or "MJPG"; NULL: any */
};

/** rtsp:// — an RTSP camera. */
struct ls_src_rtsp {
	char *location;                   /**< the URI without its fragment, verbatim */
	int latency_ms;                   /**< jitter buffer, ms, 0..10000; default 200 */
	enum ls_rtsp_transport transport; /**< default TCP */
	enum ls_codec codec;              /**< default H.264 */
};

/** udp:// — RTP video sent to a UDP port. */
struct ls_src_udp {
	char *host;          /**< address to listen on / multicast group; IPv6 without brackets */
	int port;            /**< 1..65535 */
	int latency_ms;      /**< jitter buffer, ms, 0..10000; default 200 */
	int payload;         /**< RTP payload type, 0..127; default 96 */
	enum ls_codec codec; /**< default H.264 */
};

/** x11:// — an X11 screen. */
struct ls_src_x11 {
	char *display;      /**< e.g. ":0", "host:1.0"; "" (never NULL): $DISPLAY */
	int x, y;           /**< top-left corner of the captured area, pixels, 0..16383 */
	int width, height;  /**< pixels, 0 (default): to the right / bottom edge; otherwise even, 16..16384 */
	struct ls_rate fps; /**< default 30/1 */
	bool show_pointer;  /**< default false */
};

/** fbdev:// — a Linux framebuffer device, read with pread() at fps. Its
 *  geometry comes from the driver (FBIOGET_VSCREENINFO/FSCREENINFO). A
 *  regular file (a raw dump of a framebuffer, or a test's stand-in) needs
 *  width, height and format (BGRx, RGBx, xRGB, BGR, RGB, RGB16, GRAY8) and
 *  may give stride (bytes per row; default width x bytes per pixel). */
struct ls_src_fbdev {
	char *device;       /**< absolute path, e.g. /dev/fb0 */
	struct ls_rate fps; /**< how often lockstep reads it; default 15/1 */
	int width, height;  /**< regular files: pixels, even, 16..16384; 0 for devices */
	char *format;       /**< regular files: GStreamer format name, or NULL */
	int stride;         /**< regular files: bytes per row, 0: packed */
};

/** A parsed source URI. Owns its strings: release with ls_source_spec_clear().
 *  Only the member of the union named by `kind` is valid. */
struct ls_source_spec {
	enum ls_source_kind kind;
	union {
		struct ls_src_test test;
		struct ls_src_file file;
		struct ls_src_v4l2 v4l2;
		struct ls_src_rtsp rtsp;
		struct ls_src_udp udp;
		struct ls_src_x11 x11;
		struct ls_src_fbdev fbdev;
	};
};

/** The scheme of a kind ("test", "file", ...), "none" for LS_SRC_NONE. */
const char *ls_source_kind_name(enum ls_source_kind kind);

/** Parses @uri into @out, which is overwritten (not cleared first).
 *  Returns 0, or -EINVAL with *err set (if err is not NULL) and @out left
 *  cleared (kind LS_SRC_NONE, nothing to free). */
int ls_source_spec_parse(const char *uri, struct ls_source_spec *out, char **err);

/** Frees the strings of @s and sets it to LS_SRC_NONE. NULL-safe; safe to
 *  call twice. */
void ls_source_spec_clear(struct ls_source_spec *s);

/** Checks what can be checked on this machine without GStreamer:
 *  - file: the path exists, is a regular file and can be opened for reading;
 *  - v4l2, fbdev: the device exists, is a character device and is readable
 *    and writable (v4l2) or readable (fbdev); it does not open the device, so
 *    /dev/null passes: whether it is a video device is for GStreamer to say;
 *  - x11: the display (or $DISPLAY when empty) is set and is [host]:N[.S];
 *  - udp: the port is in 1..65535 and the host is not empty;
 *  - test, rtsp: nothing beyond parsing.
 *  Returns 0, or a negative errno (-ENOENT, -EACCES, -ENODEV, -EISDIR,
 *  -EINVAL, ...) with *err set (if err is not NULL) to a one-line reason
 *  that names the path or display. */
int ls_source_spec_check(const struct ls_source_spec *s, char **err);

/** A short one-line description for logs, e.g.
 *  "test 30 fps 640x360 ball, offset 3 ms, jitter 1 ms". RTSP passwords are
 *  shown as "***". Returns a g_strdup'd string (caller frees with g_free),
 *  never NULL. */
char *ls_source_spec_describe(const struct ls_source_spec *s);

/** A gst-launch description of the source part of the pipeline: it ends in
 *  raw video converted to `video/x-raw,format=I420`, without a sink; the
 *  caller appends `! appsink name=sink ...` and calls gst_parse_launch().
 *  Strings (paths, locations, displays) are double-quoted and escaped.
 *  The test description is `videotestsrc is-live=false` at the camera's
 *  size and rate: lockstep paces and timestamps test frames itself.
 *  file: realtime and loop are the caller's business (appsink sync, seek),
 *  they do not change the description.
 *  Returns a g_strdup'd string (caller frees with g_free), or NULL with
 *  errno = ENOTSUP for fbdev (GStreamer 1.22 has no framebuffer source:
 *  lockstep reads /dev/fbN itself) and errno = EINVAL for LS_SRC_NONE. */
char *ls_source_spec_gst_desc(const struct ls_source_spec *s);
/** Whether the source carries H.264 that lockstep parses before decoding
 *  (udp:// and rtsp:// with codec h264), so its stream can be tapped. */
bool ls_source_spec_h264_tap(const struct ls_source_spec *s);
/** Like ls_source_spec_gst_desc(); with @tap (only where
 *  ls_source_spec_h264_tap()), the parsed stream also goes to a tee named
 *  `es` (H.264 byte-stream, one access unit per buffer, SPS and PPS before
 *  every IDR) that the caller links: "... es. ! queue ! appsink ...". */
char *ls_source_spec_gst_desc_tap(const struct ls_source_spec *s, bool tap);

#endif
