/* config — the rig description lockstep runs: an INI file read with GKeyFile.
 *
 * The keys below are one table in config.c (config_tab[]): the parser reads
 * it, and so does ls_config_reference(), which `lockstep config-reference`
 * prints and README.md carries (one line per key: default, range). Change a
 * key there and here.
 *
 *   [rig]
 *   rate = 30             slots per second: "30", "29.97", "30000/1001"; required
 *   epoch = 0             slot 0's centre: seconds since the Unix epoch ("1767225600.5",
 *                         exact to the ns) or ISO-8601 ("2026-01-01T00:00:00Z"; no zone
 *                         means UTC; µs precision); default 0
 *   tolerance-ms = 8      max |calibrated capture time - slot centre|, > 0, <= 60000;
 *                         default T/2
 *   max-latency-ms = 100  deadline after the slot centre, > 0, <= 60000; default 100
 *   missing = missing     "missing" or "hold"; default missing
 *   hold-max-ms = 1000    oldest frame `hold` repeats, > 0, <= 3600000; default 1000
 *   startup-ms = 2000     wait for every camera's first frame, > 0, <= 600000; default 2000
 *   queue = 4             framesets queued per output, 1..1024; default 4
 *   stall-s = 2           a camera that sends nothing this long (its connection
 *                         open or not) is reconnected, 0.1..3600; default 2; a
 *                         camera's own stall-s overrides it
 *   retry-max-s = 5       the longest wait between reconnection attempts (they
 *                         back off from 0.5 s, doubling), 0.1..3600; default 5;
 *                         a camera's own retry-max-s overrides it
 *
 *   [camera NAME]         NAME: [A-Za-z0-9_.-]{1,32}, unique; one group per camera
 *   uri = test://?fps=30  see source_spec.h; required
 *   offset-ms = 3         calibrated offset o_c, ms, may be negative or
 *                         fractional, |o_c| <= 10 s; default 0
 *   offset = 3            a synonym of offset-ms (give one of them)
 *   enabled = true        false: validated, then left out of ls_config.cams; default true
 *   redact = off          on: personal data masked before any output (see [redact]);
 *                         default off
 *   stall-s = 2           as in [rig], for this camera; default [rig]'s
 *   retry-max-s = 5       as in [rig], for this camera; default [rig]'s
 *
 *   [output mosaic]       optional
 *   file = out/m.mp4      .mp4, .mkv or .ts; relative paths are relative to the
 *                         working directory, not to the config file
 *   display = false       show it in a window
 *   width = 1280          even, 64..7680; default 1280
 *   height = 720          even, 64..4320; default 720
 *
 *   [output shm]          optional: every frameset in POSIX shared memory
 *   name = rig            the segment is /dev/shm/NAME: 1 to 200 of A-Z a-z 0-9 _ . -,
 *                         not starting with '.'; required
 *   slots = 4             framesets the segment holds, 2..1024; default 4
 *   group = video         a group name or number: the segment is chown'd to it, mode
 *                         0660; default none (mode 0600, the owner only)
 *   checksums = false     store an FNV-1a 64 checksum of every frame; default false
 *
 *   [output file]         optional: one camera's frames at their own size, nothing drawn
 *   camera = NAME         required unless the rig has one camera
 *   file = out/c.mp4      .mp4/.mkv/.ts (H.264), .y4m (raw), or a PNG sequence: a name
 *                         with %d ending .png (out/%05d.png); FILE.frames.jsonl (a PNG
 *                         sequence: DIR/frames.jsonl) maps each frame to its slot
 *   display = false       show it in a window
 *
 *   [output rtsp]         optional: an RTSP server with rtsp://HOST:PORT/CAMERA and
 *                         /mosaic, the capture time in every frame (RFC 6051)
 *   listen = 127.0.0.1:8554  HOST:PORT or [IPv6]:PORT; not loopback: needs password
 *   user = lockstep       RTSP Basic auth user when password is set; default lockstep
 *   password = s3cret     RTSP Basic auth password every client must give; default
 *                         none (no auth, loopback only)
 *   bitrate-kbps = 4000   H.264 bit rate of each stream, 100..100000; default 4000
 *   keyframe-s = 1        longest time between keyframes, 0.1..60; default 1
 *   mosaic = true         serve /mosaic (every camera tiled) too; default true
 *   width = 1280          /mosaic's width, even, 64..7680; default 1280
 *   height = 720          /mosaic's height, even, 64..4320; default 720
 *
 *   [redact]              optional; for cameras with redact = on
 *   rules = FILE          personal-data rules; default rules/pii.rules of lockstep
 *   audit = FILE          JSON-lines audit log (no personal data in it); default none
 *   workers = 2           OCR threads, 1..64; default: the number of cores
 *   budget-ms = 150       frames older than this are masked whole, 1..60000; default 150
 *   tile = 32             change-detection tile edge, multiple of 8, 8..256; default 32
 *   langs = eng+deu       Tesseract languages; default eng+deu
 *   canary-s = 10         inject a synthetic IBAN every N s (0.1..3600) and check it is
 *                         masked; default off
 *   wait = false          offline: wait for OCR instead of masking unread text
 *   hold-ms = 0           0..100; live: a frame with at most 4 new lines waits this long
 *                         for their OCR (within budget-ms); 0 (default): never
 *
 *   [detect]              optional, at most one; object detection (see detect.h)
 *   model = m.onnx        ONNX model file; required
 *   format = auto         auto, centernet, yolov8 or dbnet (text lines, PP-OCR det); default auto
 *   classes = person,car  COCO class names to report; default every class
 *   threshold = 0.3       minimum score, 0 < t <= 1; default 0.3
 *   iou = 0.5             NMS overlap for yolov8, 0 < iou <= 1; default 0.5
 *   max-detections = 100  per camera, 1..10000; default 100
 *   every-n = 1           detect on slots n with n % every-n == 0, 1..10000; default 1
 *   provider = cpu        cpu, cuda, tensorrt, openvino, dnnl, rocm, migraphx,
 *                         coreml, qnn, xnnpack, webgpu; default cpu
 *   fallback = cpu        cpu: an unavailable provider falls back to CPU (one
 *                         log line); none: it is an error; default none
 *   threads = 0           sessions (one per worker thread, intra-op threads 1),
 *                         0..64; 0: one per online CPU, at most 4; default 0
 *   output = -            JSON lines: a file path, or "-" for stdout; default none
 *   draw = on             boxes on the mosaic output; default on
 *   motion-gate = off     on: one motion detector per camera (lib/ls_motion.h) sees
 *                         every frame; cameras whose gate is closed are neither
 *                         preprocessed nor inferred (JSON "gated":true); default off
 *   input-size = 512x512  the model input for models with free H/W, each 16..8192;
 *                         default the model's own
 *   runtime = PATH        libonnxruntime.so to load; default $LOCKSTEP_ORT_LIB, else
 *                         the one setup fetched
 *   clip-on = person,motion  events that ask [record] for a clip: COCO class names
 *                         (a new confirmed track of that class) and/or motion (a
 *                         camera's motion gate opens; needs motion-gate=on);
 *                         needs [record]; default none
 *   clip-pre-s = 5        seconds before the first event, 0..3600; default 5
 *   clip-post-s = 5       seconds after the last event, 0..3600; default 5
 *   clip-dir = DIR        where clips go (DIR/SLOT-CAMERA-WHAT/); default
 *                         [record] dir + /clips
 *
 *   [record]              optional: every camera to H.264 segments (docs/architecture.md)
 *   dir = /var/rec        required; must exist at start; segments in DIR/CAMERA/, index DIR/index.sqlite3
 *   segment-s = 10        segment length, s (0.1..3600); in slots: round(segment-s x rate)
 *   gop = 30              slots between forced keyframes (n mod gop = 0), 1..100000; must
 *                         divide the segment's slots; default one second's worth (or the
 *                         largest divisor below)
 *   keep-minutes = 60     ring length, minutes (fractions allowed, >= 1 s); default 60
 *   quota-mb = 0          all cameras together, MiB (fractions allowed, <= 2^30); 0: none
 *   camera-quota-mb = 0   per camera, MiB; 0: none
 *   min-free-mb = 64      emergency deletion below this much free space, MiB; default 64
 *   preset = ultrafast    x264 speed preset (ultrafast ... placebo); default ultrafast
 *   tune = zerolatency    x264 tune (or none); default zerolatency
 *   bitrate-kbps = 0      0..1000000; 0: the encoder's default
 *   encoder = auto        auto (x264), x264, or a GStreamer H.264 encoder element; default auto
 *   copy = off            auto: record an udp:// or rtsp:// H.264 camera's own stream
 *                         without re-encoding (not a redact=on camera; keyframes and
 *                         so segment starts are then the camera's); default off
 *
 *   [server]              optional: lockstep's HTTP server, the API under /api/v1
 *   listen = 127.0.0.1:8080  HOST:PORT or [IPv6]:PORT; not loopback: needs token or TLS
 *   token = s3cret        every request needs Authorization: Bearer TOKEN (or
 *                         ?token=); default none
 *   cert = server.pem     TLS certificate (PEM): HTTPS; default none (plain HTTP)
 *   key = server.key      its private key (PEM); required with cert
 *   max-viewers = 16      0..1000 WebRTC viewers at once (0: no WHEP); past it 503
 *   bitrate-kbps = 4000   100..100000, each WebRTC stream's H.264 bitrate
 *   keyframe-s = 2        0.1..60, longest time between a WebRTC stream's keyframes
 *   mosaic-width = 1280   64..7680, even: /whep/mosaic's width
 *   mosaic-height = 720   64..4320, even: /whep/mosaic's height
 *
 *   [clock]               optional: where the rig's time comes from (src/clock/)
 *   source = system       system (CLOCK_REALTIME, disciplined by linuxptp or chrony),
 *                         ptp, ntp or net (another lockstep's provide =); default system
 *   domain = 0            ptp: 0..255
 *   interfaces = eth0     ptp: the interfaces to use; default all
 *   server = 10.0.0.1:123  ntp: HOST[:PORT] (123); net: HOST:PORT; required for both
 *   provide = 5556        [HOST:]PORT: serve this rig's clock to net clients
 *   sync-wait-s = 10      0..600: how long the start waits for the first sync
 *   max-offset-ms = 1     system: an offset the sync daemon reports beyond this is unsynced
 *
 *   [bus]                 optional: metadata to NATS JetStream or MQTT (src/bus/)
 *   url = nats://127.0.0.1:4222  nats://, tls:// (a comma-separated list: a
 *                         cluster), mqtt://, mqtts://; USER:PASSWORD@ allowed; required
 *   user = rig1           user name; default the URL's
 *   password = s3cret     password; default the URL's
 *   token = s3cret        NATS token authentication
 *   creds = rig.creds     NATS credentials file
 *   tls = on              default on for tls:// and mqtts://
 *   ca = ca.pem           CA certificates (PEM); default the system's
 *   cert = client.pem     TLS client certificate (PEM)
 *   key = client.key      its private key (PEM); required with cert
 *   name = rig1           the rig's name on the bus; default the host name
 *   subject-prefix = lockstep.rig1  default lockstep.NAME
 *   messages = frameset,detections,events,stats  also deepstream
 *   jetstream = on        NATS: JetStream with acks; off: core NATS
 *   stream = LOCKSTEP_RIG1  default LOCKSTEP_NAME, made if missing
 *   stream-max-mb = 1024  the stream's size limit when made
 *   stream-max-age-s = 86400  its age limit when made; 0: none
 *   replicas = 1          1..5, its replicas when made
 *   spool = FILE          default bus-NAME.spool in [record] dir, else the
 *                         working directory
 *   spool-mb = 256        the spool's bound; the oldest go first, counted
 *   queue = 65536         16..1048576 messages to the publisher thread
 *   ack-timeout-ms = 2000 10..60000; unacked: spooled and sent again
 *   control = off         on: PREFIX.control and PREFIX.clip are obeyed; the run
 *                         waits for a start
 *
 *   [remote]              optional: the redacted remote desktop, /remote (src/server/remote.c);
 *                         needs [server] with token =
 *   camera = screen       the redacted x11:// camera it shows; default the only one
 *   input = off           on: the controlling agent's mouse and keyboard reach the
 *                         screen (XTest); off: view only
 *   input-when-masked = block  block or allow input while the whole frame is masked
 *   paste = off           on: the page may paste text (typed into the screen)
 *   max-input-rate = 200  1..10000 input events a second; beyond: dropped, counted
 *   audit = remote.jsonl  session audit, JSON lines (no screen text); default none
 *
 * [output mosaic] and [output file] need file, display = true, or both.
 * Comments are lines that start with '#': GKeyFile has no comments after a
 * value, so "rate = 30 # x" is an error, and a '#' inside a value (an rtsp
 * URI's options) is data.
 * Unknown groups and keys, a group or key given twice, bad values, no
 * enabled camera and a camera without uri are errors.
 *
 * Errors are reported as one line naming the file and the line at fault,
 * "FILE:LINE: [camera cam1] uri: unknown scheme ..." or
 * "FILE:LINE: unknown key "ratee" in [rig]"; when the file as a whole is at
 * fault (it cannot be read, it has no camera), "FILE: ...". Only one error
 * is reported: the first structural one (syntax, unknown or duplicate group
 * or key) if any, else the first bad value in file order (a group's missing
 * keys count at its header, once its keys are read), else a whole-file one.
 *
 * A loaded config is read-only: any thread may read it; it is freed by the
 * thread that loaded it once the others are done. */
#ifndef LS_CONFIG_H
#define LS_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "ls_aligner.h"
#include "ls_time.h"
#include "source_spec.h"

#define LS_CONFIG_NAME_MAX 32 /**< longest camera name, bytes */

struct ls_camera_config {
	char *name;                /**< from [camera NAME] */
	char *uri;                 /**< as written */
	struct ls_source_spec src; /**< parsed uri (ls_source_spec_check() not run) */
	int64_t offset_ns;         /**< calibrated offset o_c, ns */
	bool enabled;              /**< always true in ls_config.cams */
	bool redact;               /**< mask personal data before any output sees a frame */
	int64_t stall_ns;          /**< silent this long: reconnect, ns (> 0 once loaded) */
	int64_t retry_max_ns;      /**< backoff cap, ns (> 0 once loaded) */
	int line;                  /**< line of the [camera NAME] header, for messages */
};

enum ls_output_kind {
	LS_OUTPUT_MOSAIC = 0, /**< all cameras tiled into one picture */
	LS_OUTPUT_SHM,        /**< every frameset in POSIX shared memory */
	LS_OUTPUT_FILE,       /**< one camera's own frames, no overlays */
	LS_OUTPUT_RTSP,       /**< an RTSP server: every camera and the mosaic, H.264 */
};

struct ls_output_config {
	enum ls_output_kind kind;
	char *file;          /**< .mp4/.mkv/.ts path as written, or NULL */
	bool display;        /**< show in a window */
	int width, height;   /**< mosaic: pixels, even */
	char *shm_name;      /**< shm: segment name (/dev/shm/NAME) */
	unsigned slots;      /**< shm: framesets the segment holds, 2..1024 (default 4) */
	int gid;             /**< shm: group allowed to read (mode 0660), or -1 (mode 0600) */
	bool checksums;      /**< shm: store an FNV-1a 64 checksum of every frame */
	char *camera;        /**< file: the camera written */
	char *listen;        /**< rtsp: HOST:PORT as written ([v6]:PORT for IPv6) */
	char *host;          /**< rtsp: the host of listen, without brackets */
	int port;            /**< rtsp: the port of listen, 1..65535 */
	char *user;          /**< rtsp: Basic auth user (default "lockstep" when a password is set) */
	char *password;      /**< rtsp: Basic auth password, or NULL (loopback only) */
	int bitrate_kbps;    /**< rtsp: H.264 bit rate per stream, kbit/s */
	int64_t keyframe_ns; /**< rtsp: at most this long between keyframes, ns */
	bool mosaic;         /**< rtsp: serve /mosaic too */
	int line;            /**< line of the [output ...] header */
};

/** [redact]: how cameras with redact = on are redacted (see redact.h). */
struct ls_redact_config {
	bool present;      /**< the group was given */
	char *rules;       /**< personal-data rules file, or NULL for the built-in rules/pii.rules */
	char *audit;       /**< JSON-lines audit log, or NULL */
	unsigned workers;  /**< OCR threads, 0: one per core */
	int64_t budget_ns; /**< latency budget, 0: 150 ms */
	int tile;          /**< tile edge, 0: 32 */
	char *langs;       /**< Tesseract languages, NULL: eng+deu */
	int64_t canary_ns; /**< canary period, 0: off */
	bool wait;         /**< offline: wait for OCR instead of masking what is not read yet */
	int64_t hold_ns;   /**< live: a frame with a few new lines waits this long for their OCR; 0: never */
	int line;
};

/** [remote]: the redacted remote desktop (src/server/remote.c). */
enum ls_remote_when_masked {
	LS_REMOTE_BLOCK = 0, /**< input dropped (and counted) while the whole frame is masked */
	LS_REMOTE_ALLOW,
};
struct ls_remote_config {
	bool present; /**< the group was given */
	char *camera; /**< the camera it shows: after loading never NULL, a redacted x11:// camera */
	unsigned cam; /**< its index in ls_config.cams (filled in by the loader) */
	bool input;   /**< the controlling agent's input reaches the screen */
	enum ls_remote_when_masked when_masked;
	bool paste;   /**< the page may paste text into the screen (typed) */
	int max_rate; /**< input events per second, 1..10000 */
	char *audit;  /**< session audit (JSON lines), or NULL */
	int line;
};

enum ls_detect_format {
	LS_DETECT_AUTO = 0,  /**< centernet when the model has outputs heatmap and wh, else yolov8 */
	LS_DETECT_CENTERNET, /**< outputs heatmap [N,C,h,w] (peaks only) and wh [N,4,h,w]; input RGB 0..255 */
	LS_DETECT_YOLOV8,    /**< one output [N, 4 + C, boxes]; input RGB 0..1 */
	LS_DETECT_DBNET,     /**< text: one probability map [N,1,H,W] (PP-OCR det); input BGR, ImageNet-normalised */
};

#define LS_DETECT_CLASS_BYTES 32 /**< bitmap of up to 256 class indices */

struct ls_detect_config {
	char *model; /**< path as written */
	enum ls_detect_format format;
	bool all_classes;                       /**< no classes= key */
	uint8_t classes[LS_DETECT_CLASS_BYTES]; /**< bitmap of COCO indices, when !all_classes */
	double threshold;                       /**< 0 < t <= 1 */
	double iou;                             /**< 0 < iou <= 1 */
	unsigned max_dets;                      /**< per camera */
	unsigned every_n;                       /**< >= 1 */
	char *provider;                         /**< "cpu", "cuda", ... (lower case, validated) */
	bool fallback_cpu;
	unsigned threads; /**< 0: automatic */
	char *output;     /**< JSONL path, "-" (stdout) or NULL */
	bool draw;
	bool motion_gate;
	bool clip_any;                               /**< clip-on= given */
	bool clip_motion;                            /**< clip-on has "motion" */
	uint8_t clip_classes[LS_DETECT_CLASS_BYTES]; /**< clip-on's COCO classes */
	double clip_pre_s, clip_post_s;
	char *clip_dir;       /**< NULL: [record] dir/clips */
	int clip_line;        /**< line of clip-on (0: none) */
	int input_w, input_h; /**< 0: the model's */
	char *runtime;        /**< libonnxruntime path or NULL */
	int line;             /**< line of the [detect] header */
};

struct ls_record_config {
	char *dir;                  /**< as written */
	int64_t segment_ns;         /**< segment-s, ns */
	unsigned seg_slots;         /**< slots per segment, >= 1 */
	unsigned gop;               /**< slots between forced keyframes; divides seg_slots */
	int64_t keep_ns;            /**< ring length, ns */
	int64_t quota_bytes;        /**< 0: none */
	int64_t camera_quota_bytes; /**< 0: none */
	int64_t min_free_bytes;     /**< emergency deletion threshold */
	char *preset, *tune;        /**< x264 names */
	unsigned bitrate_kbps;      /**< 0: encoder default */
	char *encoder;              /**< "auto", "x264" or an element name */
	bool copy;                  /**< copy = auto: stream copy where a camera allows it */
	int line;                   /**< line of the [record] header */
};

/** [server]: lockstep's HTTP server (src/server/http.c). */
struct ls_server_config {
	char *listen;        /**< HOST:PORT as written ([v6]:PORT for IPv6) */
	char *host;          /**< the host of listen, without brackets */
	int port;            /**< 1..65535 */
	char *token;         /**< the Bearer token every request must carry, or NULL */
	char *cert;          /**< TLS certificate (PEM) file, or NULL: plain HTTP */
	char *key;           /**< its private key (PEM) file; set with cert */
	int max_viewers;     /**< WebRTC viewers at once, all streams; 0: WHEP off */
	int bitrate_kbps;    /**< H.264 bitrate of each WebRTC stream */
	int64_t keyframe_ns; /**< longest time between a WebRTC stream's keyframes */
	int mosaic_width;    /**< /whep/mosaic's size */
	int mosaic_height;
	int line; /**< line of the [server] header */
};

enum ls_clock_source {
	LS_CLOCK_SYSTEM = 0, /**< CLOCK_REALTIME as it is (linuxptp or chrony discipline it outside) */
	LS_CLOCK_PTP,        /**< an in-process PTP slave (GstPtpClock) */
	LS_CLOCK_NTP,        /**< an NTP server (GstNtpClock) */
	LS_CLOCK_NET,        /**< another lockstep's clock (GstNetClientClock; its [clock] provide =) */
};

/** [clock]: where the rig's time comes from (src/clock/clock.c). */
struct ls_clock_config {
	bool present;
	enum ls_clock_source source;
	int domain;            /**< ptp: 0..255 */
	char *interfaces;      /**< ptp: comma-separated interface names, or NULL: all */
	char *server;          /**< ntp/net: HOST[:PORT] as written, or NULL */
	char *host;            /**< its host, without brackets */
	int port;              /**< its port (ntp: 123 when not given) */
	char *provide;         /**< [HOST:]PORT to serve this rig's clock on, or NULL */
	char *provide_host;    /**< its host (0.0.0.0 when only a port is given) */
	int provide_port;      /**< its port */
	int64_t sync_wait_ns;  /**< how long the start waits for the first sync */
	int64_t max_offset_ns; /**< system: an offset the sync daemon reports beyond this is unsynced */
	int line;
};

/** The message kinds [bus] messages = selects (bits of ls_bus_config.messages). */
enum ls_bus_kind {
	LS_BUS_FRAMESET = 1u << 0,   /**< PREFIX.frameset: one per slot */
	LS_BUS_DETECTIONS = 1u << 1, /**< PREFIX.detections: one per detected set */
	LS_BUS_EVENTS = 1u << 2,     /**< PREFIX.events.KIND: what the console's Events page shows */
	LS_BUS_STATS = 1u << 3,      /**< PREFIX.stats: the --stats-json record, once a second */
	LS_BUS_DEEPSTREAM = 1u << 4, /**< PREFIX.deepstream: DeepStream's "minimal" schema, per camera */
};

enum ls_bus_transport_kind {
	LS_BUS_NATS = 0, /**< nats:// or tls:// (libnats, JetStream) */
	LS_BUS_MQTT,     /**< mqtt:// or mqtts:// (libmosquitto, QoS 1) */
};

/** [bus]: metadata to NATS JetStream or MQTT (src/bus/). */
struct ls_bus_config {
	char *url; /**< as written */
	enum ls_bus_transport_kind transport;
	char **servers;        /**< NULL-terminated "scheme://host:port" (nats: each server of the list; mqtt: one) */
	char *host;            /**< mqtt: the host of the (first) server, without brackets */
	int port;              /**< mqtt: its port */
	bool tls;              /**< tls:// or mqtts://, or tls = on */
	char *user, *password; /**< from the keys, else from the URL's user:password@ */
	char *token;           /**< nats: token auth */
	char *creds;           /**< nats: a .creds file (JWT + NKey seed) */
	char *ca, *cert, *key; /**< TLS: CA bundle, client certificate and key (PEM) */
	char *name;            /**< the rig's name on the bus: in every message and message id */
	char *prefix;          /**< subject-prefix, dot-separated (MQTT topics use '/') */
	unsigned messages;     /**< enum ls_bus_kind bits */
	char *stream;          /**< JetStream stream name */
	bool jetstream;        /**< nats: publish to JetStream with acks (off: core NATS, no acks) */
	int64_t stream_max_bytes;
	int64_t stream_max_age_ns;
	int replicas;           /**< JetStream stream replicas, 1..5 */
	char *spool;            /**< spool file */
	int64_t spool_bytes;    /**< spool-mb, bytes */
	unsigned queue;         /**< messages between the rig and the publisher thread */
	int64_t ack_timeout_ns; /**< how long a publish waits for the broker's ack */
	bool control;           /**< serve PREFIX.control and PREFIX.clip */
	int line;               /**< line of the [bus] header */
};

void ls_bus_config_free(struct ls_bus_config **b);

/** Frees @s and its strings; sets *s to NULL. NULL-safe. */
void ls_server_config_free(struct ls_server_config **s);

struct ls_config {
	char *path;                       /**< the file name used in messages */
	struct ls_rate rate;              /**< slots per second */
	int64_t epoch_ns;                 /**< E, ns since the Unix epoch, shared clock */
	int64_t tolerance_ns;             /**< > 0, ns; the default T/2 is filled in */
	int64_t max_latency_ns;           /**< > 0, ns */
	enum ls_policy policy;            /**< from `missing` */
	int64_t hold_max_ns;              /**< > 0, ns */
	int64_t startup_ns;               /**< > 0, ns */
	int64_t stall_ns;                 /**< stall-s, ns: the cameras' default */
	int64_t retry_max_ns;             /**< retry-max-s, ns: the cameras' default */
	unsigned queue;                   /**< 1..1024 framesets per output */
	unsigned ncams;                   /**< >= 1 */
	struct ls_camera_config *cams;    /**< the enabled cameras, in file order */
	unsigned ndisabled;               /**< [camera] groups with enabled = false */
	unsigned noutputs;                /**< 0 or more */
	struct ls_output_config *outputs; /**< in file order */
	struct ls_redact_config redact;   /**< [redact] */
	struct ls_remote_config remote;   /**< [remote] (present: given) */
	struct ls_clock_config clock;     /**< [clock] (source = system when absent) */
	int rig_line;                     /**< line of the [rig] header */
	struct ls_detect_config *detect;  /**< [detect], or NULL */
	struct ls_record_config *record;  /**< [record], or NULL */
	struct ls_server_config *server;  /**< [server], or NULL */
	struct ls_bus_config *bus;        /**< [bus], or NULL */
};

/** Reads and validates the config file at @path. On success *out is a new
 *  config (free it with ls_config_free()). On failure *out is NULL, *err
 *  (if err is not NULL; initialise it to NULL) is a one-line g_strdup'd
 *  message to free with g_free(), and the return is -EINVAL for bad
 *  content or the negative errno of reading the file (-ENOENT, -EACCES,
 *  -EISDIR, -EFBIG beyond 1 MiB). */
int ls_config_load(const char *path, struct ls_config **out, char **err);

/** Like ls_config_load() from NUL-terminated text; @name stands for the file
 *  name in messages and in ls_config.path. Returns 0 or -EINVAL. */
int ls_config_load_data(const char *data, const char *name, struct ls_config **out, char **err);

/** Frees a [detect] config (NULL-safe). */
void ls_detect_config_free(struct ls_detect_config *d);
/** Seconds since 1970 ("1767225600.5") or ISO-8601 ("2026-01-01T00:00:00Z",
 *  no zone = UTC) to ns, as the epoch key reads it. 0 or -EINVAL with *err
 *  (if err is not NULL) a g_strdup'd reason. */
int ls_config_parse_time(const char *s, int64_t *out_ns, char **err);

void ls_record_config_free(struct ls_record_config **r);

/** The config reference: every group and key with its default (or an
 *  example), what it does, its range, "required" or the default that is no
 *  value ("T/2"), made from the table the loader reads. One line per key,
 *  "key = value  # doc (range); default ...", under its "[group]  # doc" line;
 *  groups apart by an empty line. `lockstep config-reference` prints it and
 *  README.md carries it. Returns a new string to free with g_free(). */
char *ls_config_reference(void);
/** The same reference as troff (man(7)) for the CONFIGURATION section of
 *  `lockstep man`: per group a ".SS [group]" with its doc, per key a ".TP"
 *  paragraph (the key, its doc, then its type, range and default or
 *  "required"), all text escaped with ls_man_str(). Made by the same walk
 *  over the table as ls_config_reference(), so the two list the same keys.
 *  Returns a new string to free with g_free(). */
char *ls_config_reference_man(void);

/** Frees the config and sets *cfg to NULL. NULL-safe (cfg or *cfg). */
void ls_config_free(struct ls_config **cfg);

/** Whether @host names this machine's loopback: localhost, 127.0.0.0/8,
 *  ::1 (also ::ffff:127.x.y.z). Servers bound elsewhere need a secret. */
bool ls_config_host_is_loopback(const char *host);

#endif
