/* config — the rig description lockstep runs: an INI file read with GKeyFile.
 *
 *   [rig]
 *   rate = 30             slots per second: "30", "29.97", "30000/1001"; required
 *   epoch = 0             slot 0's centre: seconds since the Unix epoch ("1767225600.5",
 *                         exact to the ns) or ISO-8601 ("2026-01-01T00:00:00Z"; no zone
 *                         means UTC; µs precision); default 0
 *   tolerance-ms = 8      max |calibrated capture time - slot centre|, > 0; default T/2
 *   max-latency-ms = 100  deadline after the slot centre, > 0; default 100
 *   missing = missing     "missing" or "hold"; default missing
 *   hold-max-ms = 1000    oldest frame `hold` repeats, > 0; default 1000
 *   startup-ms = 2000     wait for every camera's first frame, > 0; default 2000
 *   queue = 4             framesets queued per output, 1..1024; default 4
 *
 *   [camera NAME]         NAME: [A-Za-z0-9_.-]{1,32}, unique; one group per camera
 *   uri = test://?fps=30  see uri.h; required
 *   offset-ms = 3         calibrated offset o_c, ms, may be negative or
 *                         fractional, |o_c| <= 10 s; `offset` is a synonym; default 0
 *   enabled = true        false: validated, then left out of ls_config.cams; default true
 *
 *   [output mosaic]       optional
 *   file = out/m.mp4      .mp4, .mkv or .ts; relative paths are relative to the
 *                         working directory, not to the config file
 *   display = false       show it in a window
 *   width = 1280          even, 64..7680; default 1280
 *   height = 720          even, 64..4320; default 720
 *
 *   [record]              optional: every camera to H.264 segments (docs/architecture.md)
 *   dir = /var/rec        required; must exist at start; segments in DIR/CAMERA/, index DIR/index.sqlite3
 *   segment-s = 10        segment length, s (0.1..3600); in slots: round(segment-s x rate)
 *   gop = 30              slots between forced keyframes (n mod gop = 0); must divide the
 *                         segment's slots; default one second's worth (or the largest divisor below)
 *   keep-minutes = 60     ring length, minutes (fractions allowed, >= 1 s)
 *   quota-mb = 0          all cameras together, MiB; 0: none
 *   camera-quota-mb = 0   per camera, MiB; 0: none
 *   min-free-mb = 64      emergency deletion below this much free space, MiB
 *   preset = ultrafast    x264 speed preset
 *   tune = zerolatency    x264 tune (or none)
 *   bitrate-kbps = 0      0: the encoder's default
 *   encoder = auto        auto (x264), x264, or a GStreamer H.264 encoder element
 *
 * An output needs file, display = true, or both. Comments are lines that
 * start with '#': GKeyFile has no comments after a value, so "rate = 30 # x"
 * is an error, and a '#' inside a value (an rtsp URI's options) is data.
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
#include "uri.h"

#define LS_CONFIG_NAME_MAX 32 /**< longest camera name, bytes */

struct ls_camera_config {
	char *name;                /**< from [camera NAME] */
	char *uri;                 /**< as written */
	struct ls_source_spec src; /**< parsed uri (ls_source_spec_check() not run) */
	int64_t offset_ns;         /**< calibrated offset o_c, ns */
	bool enabled;              /**< always true in ls_config.cams */
	int line;                  /**< line of the [camera NAME] header, for messages */
};

enum ls_output_kind {
	LS_OUTPUT_MOSAIC = 0, /**< all cameras tiled into one picture */
	LS_OUTPUT_SHM,        /**< every frameset in POSIX shared memory */
};

struct ls_output_config {
	enum ls_output_kind kind;
	char *file;        /**< .mp4/.mkv/.ts path as written, or NULL */
	bool display;      /**< show in a window */
	int width, height; /**< mosaic: pixels, even */
	char *shm_name;    /**< shm: segment name (/dev/shm/NAME) */
	unsigned slots;    /**< shm: framesets the segment holds, 2..1024 (default 4) */
	int gid;           /**< shm: group allowed to read (mode 0660), or -1 (mode 0600) */
	bool checksums;    /**< shm: store an FNV-1a 64 checksum of every frame */
	int line;          /**< line of the [output ...] header */
};

struct ls_record_config {
	char *dir;                   /**< as written */
	int64_t segment_ns;          /**< segment-s, ns */
	unsigned seg_slots;          /**< slots per segment, >= 1 */
	unsigned gop;                /**< slots between forced keyframes; divides seg_slots */
	int64_t keep_ns;             /**< ring length, ns */
	int64_t quota_bytes;         /**< 0: none */
	int64_t camera_quota_bytes;  /**< 0: none */
	int64_t min_free_bytes;      /**< emergency deletion threshold */
	char *preset, *tune;         /**< x264 names */
	unsigned bitrate_kbps;       /**< 0: encoder default */
	char *encoder;               /**< "auto", "x264" or an element name */
	int line;                    /**< line of the [record] header */
};

struct ls_config {
	char *path;                       /**< the file name used in messages */
	struct ls_rate rate;              /**< slots per second */
	int64_t epoch_ns;                 /**< E, ns since the Unix epoch, shared clock */
	int64_t tolerance_ns;             /**< > 0, ns; the default T/2 is filled in */
	int64_t max_latency_ns;           /**< > 0, ns */
	enum ls_policy policy;            /**< from `missing` */
	int64_t hold_max_ns;              /**< > 0, ns */
	int64_t startup_ns;               /**< > 0, ns */
	unsigned queue;                   /**< 1..1024 framesets per output */
	unsigned ncams;                   /**< >= 1 */
	struct ls_camera_config *cams;    /**< the enabled cameras, in file order */
	unsigned ndisabled;               /**< [camera] groups with enabled = false */
	unsigned noutputs;                /**< 0 or more */
	struct ls_output_config *outputs; /**< in file order */
	int rig_line;                     /**< line of the [rig] header */
	struct ls_record_config *record;  /**< [record], or NULL */
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

/** Seconds since 1970 ("1767225600.5") or ISO-8601 ("2026-01-01T00:00:00Z",
 *  no zone = UTC) to ns, as the epoch key reads it. 0 or -EINVAL with *err
 *  (if err is not NULL) a g_strdup'd reason. */
int ls_config_parse_time(const char *s, int64_t *out_ns, char **err);

void ls_record_config_free(struct ls_record_config **r);

/** Frees the config and sets *cfg to NULL. NULL-safe (cfg or *cfg). */
void ls_config_free(struct ls_config **cfg);

#endif
