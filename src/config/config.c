/* config — see config.h.
 *
 * Every key is one row of config_tab[] (in the spirit of linuxptp's
 * config_tab[]): its group, name, type, range, default, the field it fills
 * and a line of documentation. The parser, the "unknown key" message and
 * ls_config_reference() (`lockstep config-reference`, README.md) all read
 * that table, so they cannot disagree.
 *
 * Two passes over the text. GKeyFile reports neither line numbers nor
 * duplicates (a second [camera a] is merged into the first, a second key
 * silently wins, and `key[de]` locale keys are hidden from
 * g_key_file_get_keys()), so a first pass, scan(), walks the lines with
 * GKeyFile's own rules, records where each group and key is, and rejects
 * everything structural: syntax, unknown or duplicate groups and keys. Then
 * GKeyFile loads the text (and cannot fail on what scan() accepted) and the
 * second pass reads each key's value in file order, so that the value
 * error reported is the first in the file. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* O_CLOEXEC under -std=c11 */
#endif
#include "config.h"
#include "values.h"

#include <grp.h>

#include "lockstep_shm.h"
#include "ls_detect.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#define MAX_FILE_BYTES (1024 * 1024) /* a rig config is a few KiB: refuse to slurp a video by mistake */
#define EPOCH_MAX_NS (INT64_C(9200000000) * LS_NS_PER_SEC) /* ~2261 AD, just inside int64 ns */
#define MIB INT64_C(1048576)

/* In the order of the reference (group_tab[]). */
enum group_kind { G_RIG, G_CAMERA, G_OUTPUT, G_OUTPUT_SHM, G_OUTPUT_FILE, G_REDACT, G_DETECT, G_RECORD };

struct key_def;

struct scan_key {
	char *name;
	int line;
	const struct key_def *def; /* its row in config_tab[] */
};

struct scan_group {
	char *name; /* as GKeyFile knows it: "camera cam1" */
	enum group_kind kind;
	int line;
	GArray *keys; /* struct scan_key, in file order */
};

struct ctx {
	const char *file; /* for messages */
	char **err;
	GPtrArray *groups; /* struct scan_group *, in file order */
	GKeyFile *kf;
	struct ls_config *cfg;
	GArray *cams;     /* struct ls_camera_config, enabled or not, in file order */
	GArray *outputs;  /* struct ls_output_config */
	bool have_rig;
};

/* ---- messages -------------------------------------------------------- */

/* "FILE:LINE: message", or "FILE: message" for line 0. Returns -EINVAL. */
static int G_GNUC_PRINTF(3, 4) at_line(struct ctx *c, int line, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (!c->err)
		return -EINVAL;
	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_free(*c->err);
	if (line > 0)
		*c->err = g_strdup_printf("%s:%d: %s", c->file, line, msg);
	else
		*c->err = g_strdup_printf("%s: %s", c->file, msg);
	g_free(msg);
	return -EINVAL;
}

/* GKeyFile has no trailing comments: "rate = 30 # x" is the value "30 # x".
 * Say so when a bad value looks like that. */
static const char *comment_hint(const char *v)
{
	for (const char *p = v; *p; p++)
		if ((*p == '#' || *p == ';') && p > v && g_ascii_isspace(p[-1]))
			return " (comments must be on a line of their own)";
	return "";
}

/* "FILE:LINE: [group] key: reason", consuming @reason. */
static int key_error(struct ctx *c, const struct scan_group *g, const struct scan_key *k, const char *val,
		     char *reason)
{
	int rc = at_line(c, k->line, "[%s] %s: %s%s", g->name, k->name, reason, val ? comment_hint(val) : "");

	g_free(reason);
	return rc;
}

static char *join(const char *const *names)
{
	return g_strjoinv(", ", (char **)names);
}

/* ---- values ---------------------------------------------------------- */

/* Seconds since 1970, or ISO-8601. GLib keeps µs and reads a date without a
 * zone as local time; a rig spread over hosts needs the same epoch on every
 * host, to the ns, so the fraction of a second is taken out and added back
 * exactly, and the default zone is UTC. */
static int parse_epoch(const char *s, int64_t *out, char **err)
{
	GTimeZone *utc = NULL;
	GDateTime *dt = NULL;
	char *copy = NULL, *reason = NULL;
	int64_t frac_ns = 0;
	__int128 ns;
	int rc = 0;

	/* [+-]digits[.digits]: seconds; ls_value_parse_fixed() then fails only
	 * on the range. Anything else is ISO-8601 or an error. */
	{
		const char *p = s + (*s == '+' || *s == '-');
		size_t nint = strspn(p, "0123456789"), nfrac = 0;

		if (p[nint] == '.')
			nfrac = strspn(p + nint + 1, "0123456789") + 1;
		if (nint + nfrac > 0 && !p[nint + nfrac] && strcmp(p, ".") != 0)
			return ls_value_parse_fixed(s, LS_NS_PER_SEC, 0, EPOCH_MAX_NS, out, err);
	}

	copy = g_strdup(s);
	/* The fraction of "…T12:00:00.123Z" or "…T120000.123Z": a '.' or ','
	 * after exactly hh:mm:ss or hhmmss. */
	{
		char *t = strpbrk(copy, "Tt ");
		char *f = t ? t + 1 + strspn(t + 1, "0123456789:") : NULL;
		size_t tlen = f ? (size_t)(f - t - 1) : 0;
		bool hms = tlen == 8 ? t[3] == ':' && t[6] == ':' : tlen == 6 && !memchr(t + 1, ':', 6);

		if (f && hms && (*f == '.' || *f == ',') && g_ascii_isdigit(f[1])) {
			size_t nd = strspn(f + 1, "0123456789");
			char *digits = g_strdup_printf("0.%.*s", (int)nd, f + 1);

			rc = ls_value_parse_fixed(digits, LS_NS_PER_SEC, 0, LS_NS_PER_SEC, &frac_ns, NULL);
			g_free(digits);
			g_assert(rc == 0); /* "0." and digits always parse */
			memmove(f, f + 1 + nd, strlen(f + 1 + nd) + 1);
		}
	}
	utc = g_time_zone_new_utc();
	dt = g_date_time_new_from_iso8601(copy, utc);
	if (!dt) {
		rc = -EINVAL;
		reason = g_strdup_printf("bad epoch \"%s\" (expected seconds since 1970 or ISO-8601 like "
					 "2026-01-01T00:00:00Z)",
					 s);
		goto out;
	}
	ns = (__int128)g_date_time_to_unix(dt) * LS_NS_PER_SEC + frac_ns;
	if (ns < 0 || ns > EPOCH_MAX_NS) {
		rc = -EINVAL;
		reason = g_strdup_printf("epoch \"%s\" is before 1970 or after 2261", s);
		goto out;
	}
	*out = (int64_t)ns;
out:
	if (reason && err) {
		g_free(*err);
		*err = reason;
		reason = NULL;
	}
	g_free(reason);
	if (dt)
		g_date_time_unref(dt);
	if (utc)
		g_time_zone_unref(utc);
	g_free(copy);
	return rc;
}

int ls_config_parse_time(const char *s, int64_t *out_ns, char **err)
{
	return parse_epoch(s, out_ns, err);
}

/* "on"/"off" as well as the booleans ls_value_parse_bool() knows */
static int parse_onoff(const char *v, bool *out, char **reason)
{
	if (strcmp(v, "on") == 0 || strcmp(v, "off") == 0) {
		*out = v[1] == 'n';
		return 0;
	}
	if (ls_value_parse_bool(v, out, NULL) == 0)
		return 0;
	*reason = g_strdup_printf("expected on or off, got \"%s\"", v);
	return -EINVAL;
}

static bool in_list(const char *v, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(v, *list) == 0)
			return true;
	return false;
}

static int one_of(const char *v, const char *const *list, char **reason)
{
	if (in_list(v, list))
		return 0;
	char *l = join(list);
	*reason = g_strdup_printf("expected one of %s, got \"%s\"", l, v);
	g_free(l);
	return -EINVAL;
}

/* ---- the keys -------------------------------------------------------- */

enum key_type {
	K_INT,    /* int or unsigned (or an enum of that size) in [min, max]; a multiple of step when step > 1 */
	K_FIXED,  /* int64_t ns: a decimal number of `unit` ns ("4.5" ms), exact, in [min, max] ns */
	K_BOOL,   /* bool: true/false, yes/no, on/off, 1/0 */
	K_ONOFF,  /* bool, the same values, but "expected on or off" on error */
	K_ENUM,   /* an int-sized enum or a bool: the value of the choice named */
	K_NAME,   /* char * (owned): one of names[] */
	K_STRING, /* char * (owned): anything; `empty` says why "" is refused, or NULL */
	K_CUSTOM, /* parse() does it all */
};

/* Where a value goes: the group's struct, and for messages the key read. */
struct key_use {
	void *base;                 /* struct ls_config, ls_camera_config, ... (key_def.group) */
	const struct scan_group *g; /* NULL when the default is read */
	const struct scan_key *k;   /* likewise */
};

/* Reads @v into the field of @kd in u->base. 0, or -EINVAL with *reason a
 * g_strdup'd message (without the "[group] key: " that key_error() adds). */
typedef int key_parse_fn(const struct key_def *kd, const struct key_use *u, const char *v, char **reason);

struct choice {
	const char *name;
	int value;
};

struct key_def {
	enum group_kind group;
	const char *name;
	enum key_type type;
	size_t off, size; /* the field, in the group's struct */
	int64_t min, max; /* K_INT: the value; K_FIXED (and custom keys with a unit): ns, or units of `unit` */
	int64_t unit;     /* K_FIXED: ns per unit of the value (LS_NS_PER_MS for "-ms" keys) */
	int step;         /* K_INT */
	const struct choice *choices; /* K_ENUM: ends with a NULL name */
	const char *const *names;     /* K_NAME, or a custom key's choices: ends with NULL */
	const char *empty;            /* K_STRING */
	key_parse_fn *parse;          /* K_CUSTOM */
	/* A default value: read into the field, by the same parser, before the
	 * group's keys. Keys without one keep 0/NULL, which the loader or the
	 * user of the field reads as `defdoc` says. */
	const char *def;
	const char *defdoc;  /* for the reference: a default that is no value ("T/2"), or NULL */
	const char *missing; /* required key: "[group] " + this when it is not given */
	const char *eg;      /* for the reference: an example, for keys without def */
	const char *range;   /* for the reference, where min/max, names or choices do not say it */
	const char *doc;     /* one line, for the reference */
};

/* offsetof and size of T's member m, whose type must be one of those
 * listed (`int64_t : 1`): a compile-time check that the key's type fits
 * its field. */
#define AT(T, m, ...) \
	.off = offsetof(T, m) + 0 * sizeof(_Generic(((T *)0)->m, __VA_ARGS__)), .size = sizeof(((T *)0)->m)
#define F_I64(T, m) AT(T, m, int64_t : 1)
#define F_INT(T, m) AT(T, m, int : 1, unsigned : 1)
#define F_ENUM(T, m) AT(T, m, int : 1, unsigned : 1, bool : 1)
#define F_BOOL(T, m) AT(T, m, bool : 1)
#define F_STR(T, m) AT(T, m, char * : 1)
#define F_DBL(T, m) AT(T, m, double : 1)
/* custom keys: the field the parser starts from (it may fill others) */
#define F_ANY(T, m) .off = offsetof(T, m), .size = sizeof(((T *)0)->m)

#define RIG struct ls_config
#define CAM struct ls_camera_config
#define OUT struct ls_output_config
#define RED struct ls_redact_config
#define DET struct ls_detect_config
#define REC struct ls_record_config

static size_t group_struct_size(enum group_kind kind);

static void *key_field(const struct key_def *kd, const struct key_use *u)
{
	g_assert(kd->off + kd->size <= group_struct_size(kd->group)); /* the row names its group's struct */
	return (char *)u->base + kd->off;
}

/* [rig] */

static int key_rate(const struct key_def *kd, const struct key_use *u, const char *v, char **reason)
{
	return ls_value_parse_rate(v, key_field(kd, u), reason);
}

static int key_epoch(const struct key_def *kd, const struct key_use *u, const char *v, char **reason)
{
	return parse_epoch(v, key_field(kd, u), reason);
}

/* [camera NAME] */

static int key_uri(const struct key_def *kd, const struct key_use *u, const char *v, char **reason)
{
	struct ls_camera_config *cam = u->base;

	cam->uri = g_strdup(v);
	return ls_source_spec_parse(v, &cam->src, reason);
}

/* offset-ms and offset are one key: not both. */
static int key_offset(const struct key_def *kd, const struct key_use *u, const char *v, char **reason)
{
	const char *other = strcmp(kd->name, "offset") == 0 ? "offset-ms" : "offset";

	for (guint i = 0; u->g && i < u->g->keys->len; i++) {
		const struct scan_key *o = &g_array_index(u->g->keys, struct scan_key, i);
		if (o->line < u->k->line && strcmp(o->name, other) == 0) {
			*reason = g_strdup_printf("%s is already given at line %d (they are the same, in ms)", other,
						  o->line);
			return -EINVAL;
		}
	}
	return ls_value_parse_fixed(v, kd->unit, kd->min, kd->max, key_field(kd, u), reason);
}

/* [output mosaic] file: the container follows from the extension; ".mp4"
 * alone or "dir/.mkv" has no name. */
static int key_mosaic_file(const struct key_def *kd, const struct key_use *u, const char *v, char **reason)
{
	const char *base = strrchr(v, '/');
	char *low = g_ascii_strdown(v, -1);
	size_t ext = g_str_has_suffix(low, ".mp4") || g_str_has_suffix(low, ".mkv") ? 4
		     : g_str_has_suffix(low, ".ts")					? 3
											: 0;

	g_free(low);
	base = base ? base + 1 : v;
	if (!ext || strlen(base) <= ext) {
		*reason = g_strdup_printf("must be a file name ending in .mp4, .mkv or .ts, got \"%s\"", v);
		return -EINVAL;
	}
	*(char **)key_field(kd, u) = g_strdup(v);
	return 0;
}

/* [output shm] */

static int key_shm_name(const struct key_def *kd, const struct key_use *u, const char *v, char **reason)
{
	char why[256];

	if (lshm_name_check(v, why, sizeof why) < 0) {
		*reason = g_strdup(why);
		return -EINVAL;
	}
	*(char **)key_field(kd, u) = g_strdup(v);
	return 0;
}

/* a group name, resolved now so a typo fails at load, or a number */
static int key_shm_group(const struct key_def *kd, const struct key_use *u, const char *v, char **reason)
{
	struct group *gr = getgrnam(v);
	int64_t i64 = 0;

	if (gr) {
		*(int *)key_field(kd, u) = (int)gr->gr_gid;
		return 0;
	}
	if (ls_value_parse_int(v, 0, INT32_MAX, &i64, NULL) == 0) {
		*(int *)key_field(kd, u) = (int)i64;
		return 0;
	}
	*reason = g_strdup_printf("no such group \"%s\"", v);
	return -EINVAL;
}

/* [output file] */

static int key_file_file(const struct key_def *kd, const struct key_use *u, const char *v, char **reason)
{
	const char *base = strrchr(v, '/');
	base = base ? base + 1 : v;
	bool png = g_str_has_suffix(v, ".png");
	bool video = g_str_has_suffix(v, ".mp4") || g_str_has_suffix(v, ".mkv") || g_str_has_suffix(v, ".ts") ||
		     g_str_has_suffix(v, ".y4m");
	const char *pct = strchr(base, '%');

	if ((!png && !video) || strlen(base) <= 4 || (png && (!pct || !strchr("0123456789d", pct[1]))) ||
	    (video && pct)) {
		*reason = g_strdup_printf("expected a .mp4, .mkv, .ts or .y4m file, or a PNG sequence such as "
					  "out/%%05d.png, got \"%s\"",
					  v);
		return -EINVAL;
	}
	*(char **)key_field(kd, u) = g_strdup(v);
	return 0;
}

/* [redact] */

static int key_langs(const struct key_def *kd, const struct key_use *u, const char *v, char **reason)
{
	for (const char *p = v; *p; p++)
		if (!g_ascii_isalnum(*p) && *p != '+' && *p != '_') {
			*reason = g_strdup_printf("expected Tesseract languages such as eng+deu, got \"%s\"", v);
			return -EINVAL;
		}
	if (!*v) {
		*reason = g_strdup("expected Tesseract languages such as eng+deu");
		return -EINVAL;
	}
	*(char **)key_field(kd, u) = g_strdup(v);
	return 0;
}

/* [detect] */

/* Execution providers by their config name; stages/detector.c maps them to ONNX
 * Runtime's names. */
static const char *const detect_providers[] = {
	"cpu", "cuda", "tensorrt", "openvino", "dnnl", "rocm", "migraphx", "coreml", "qnn", "xnnpack", "webgpu", NULL,
};

/* threshold, iou: a number in (0, 1], to 1e-6 ("0.35" exactly, no locale) */
static int key_unit(const struct key_def *kd, const struct key_use *u, const char *v, char **reason)
{
	int64_t x = 0;

	if (ls_value_parse_fixed(v, kd->unit, kd->min, kd->max, &x, NULL) < 0) {
		*reason = g_strdup_printf("expected a number in (0, 1], got \"%s\"", v);
		return -EINVAL;
	}
	*(double *)key_field(kd, u) = (double)x / (double)kd->unit;
	return 0;
}

static int key_classes(const struct key_def *kd, const struct key_use *u, const char *v, char **reason)
{
	struct ls_detect_config *d = u->base;
	char **names = g_strsplit(v, ",", -1);
	int rc = 0;

	memset(d->classes, 0, sizeof d->classes);
	d->all_classes = false;
	for (char **p = names; *p; p++) {
		char *n = g_strstrip(*p);
		int i = ls_coco_index(n);
		if (i < 0) {
			*reason = g_strdup_printf("unknown class \"%s\" (COCO names such as person, car, bus, "
						  "bicycle, dog)", n);
			rc = -EINVAL;
			break;
		}
		d->classes[i / 8] |= (uint8_t)(1u << (i % 8));
	}
	if (rc == 0 && !names[0]) {
		*reason = g_strdup("empty class list");
		rc = -EINVAL;
	}
	g_strfreev(names);
	return rc;
}

static int key_provider(const struct key_def *kd, const struct key_use *u, const char *v, char **reason)
{
	char **p = key_field(kd, u);

	if (in_list(v, kd->names)) {
		g_free(*p);
		*p = g_strdup(v);
		return 0;
	}
	char *list = join(kd->names);
	*reason = g_strdup_printf("unknown provider \"%s\" (expected %s)", v, list);
	g_free(list);
	return -EINVAL;
}

static int key_clip_on(const struct key_def *kd, const struct key_use *u, const char *v, char **reason)
{
	struct ls_detect_config *d = u->base;
	char **names = g_strsplit(v, ",", -1);
	int rc = 0;

	memset(d->clip_classes, 0, sizeof d->clip_classes);
	d->clip_motion = false;
	d->clip_line = u->k ? u->k->line : 0;
	for (char **p = names; *p; p++) {
		char *n = g_strstrip(*p);
		int i = strcmp(n, "motion") == 0 ? -2 : ls_coco_index(n);
		if (i == -2) {
			d->clip_motion = true;
			continue;
		}
		if (i < 0) {
			*reason = g_strdup_printf("unknown event \"%s\" (motion, or COCO class names such as person, "
						  "car, bus, bicycle, dog)", n);
			rc = -EINVAL;
			break;
		}
		d->clip_classes[i / 8] |= (uint8_t)(1u << (i % 8));
	}
	if (rc == 0 && (!names[0] || !*names[0])) {
		*reason = g_strdup("empty event list");
		rc = -EINVAL;
	}
	g_strfreev(names);
	d->clip_any = rc == 0;
	return rc;
}

/* clip-pre-s, clip-post-s: seconds, to the ms */
static int key_seconds(const struct key_def *kd, const struct key_use *u, const char *v, char **reason)
{
	int64_t ms = 0;

	if (ls_value_parse_fixed(v, kd->unit, kd->min, kd->max, &ms, NULL) < 0) {
		*reason = g_strdup_printf("expected seconds in 0..3600, got \"%s\"", v);
		return -EINVAL;
	}
	*(double *)key_field(kd, u) = (double)ms / (double)kd->unit;
	return 0;
}

static int key_input_size(const struct key_def *kd, const struct key_use *u, const char *v, char **reason)
{
	struct ls_detect_config *d = u->base;
	unsigned w = 0, h = 0;
	char tail = 0;

	if (sscanf(v, "%ux%u%c", &w, &h, &tail) != 2 || w < 16 || h < 16 || w > 8192 || h > 8192) {
		*reason = g_strdup_printf("expected WIDTHxHEIGHT, each 16..8192, got \"%s\"", v);
		return -EINVAL;
	}
	d->input_w = (int)w;
	d->input_h = (int)h;
	return 0;
}

/* [record] */

static const char *const x264_presets[] = { "ultrafast", "superfast", "veryfast", "faster", "fast", "medium",
					    "slow", "slower", "veryslow", "placebo", NULL };
static const char *const x264_tunes[] = { "zerolatency", "fastdecode", "film", "animation", "grain", "stillimage",
					  "psnr", "ssim", "none", NULL };

/* MiB, fractions allowed (to 6 digits, unit 1e-6 MiB), to bytes. */
static int key_mib(const struct key_def *kd, const struct key_use *u, const char *v, char **reason)
{
	int64_t micro = 0;
	int rc = ls_value_parse_fixed(v, kd->unit, kd->min, kd->max, &micro, reason);

	if (rc == 0)
		*(int64_t *)key_field(kd, u) = (int64_t)((__int128)micro * MIB / kd->unit);
	return rc;
}

/* auto, x264, or a GStreamer element name (checked at start) */
static int key_encoder(const struct key_def *kd, const struct key_use *u, const char *v, char **reason)
{
	char **p = key_field(kd, u);
	bool ok = *v && strlen(v) <= 64;

	for (const char *c = v; ok && *c; c++)
		ok = g_ascii_isalnum(*c) || *c == '_' || *c == '-';
	if (!ok) {
		*reason = g_strdup_printf("expected auto, x264 or a GStreamer element name, got \"%s\"", v);
		return -EINVAL;
	}
	g_free(*p);
	*p = g_strdup(v);
	return 0;
}

static const struct choice missing_choices[] = { { "missing", LS_POLICY_MISSING }, { "hold", LS_POLICY_HOLD }, { 0 } };
static const struct choice format_choices[] = {
	{ "auto", LS_DETECT_AUTO },
	{ "centernet", LS_DETECT_CENTERNET },
	{ "yolov8", LS_DETECT_YOLOV8 },
	{ "dbnet", LS_DETECT_DBNET },
	{ 0 },
};
static const struct choice fallback_choices[] = { { "cpu", true }, { "none", false }, { 0 } };
static const struct choice copy_choices[] = { { "auto", true }, { "off", false }, { 0 } };

#define MS LS_NS_PER_MS
#define SEC LS_NS_PER_SEC

/* Every key, by group, in the order of the "expected ..." list of the
 * unknown-key message and of the reference. */
static const struct key_def config_tab[] = {
	/* [rig] */
	{ G_RIG, "rate", K_CUSTOM, F_ANY(RIG, rate), .parse = key_rate, .eg = "30", .range = "> 0, <= 1000",
	  .missing = "has no rate (e.g. rate = 30)", .doc = "slots per second, such as 30, 29.97 or 30000/1001" },
	{ G_RIG, "epoch", K_CUSTOM, F_I64(RIG, epoch_ns), .parse = key_epoch, .def = "0", .range = "1970..2261",
	  .doc = "slot 0's centre: seconds since 1970 (to the ns) or ISO-8601, UTC if no zone" },
	{ G_RIG, "tolerance-ms", K_FIXED, F_I64(RIG, tolerance_ns), .unit = MS, .min = 1, .max = 60 * SEC, .eg = "8",
	  .defdoc = "T/2",
	  .doc = "a frame belongs to slot n only this close to its centre" },
	{ G_RIG, "max-latency-ms", K_FIXED, F_I64(RIG, max_latency_ns), .unit = MS, .min = 1, .max = 60 * SEC,
	  .def = "100", .doc = "deadline of slot n: epoch + n·T + max-latency" },
	{ G_RIG, "missing", K_ENUM, F_ENUM(RIG, policy), .choices = missing_choices, .def = "missing",
	  .doc = "a camera without a frame in a set: mark it missing, or hold its last frame" },
	{ G_RIG, "hold-max-ms", K_FIXED, F_I64(RIG, hold_max_ns), .unit = MS, .min = 1, .max = 3600 * SEC,
	  .def = "1000", .doc = "hold: the oldest frame that may be repeated" },
	{ G_RIG, "startup-ms", K_FIXED, F_I64(RIG, startup_ns), .unit = MS, .min = 1, .max = 600 * SEC,
	  .def = "2000", .doc = "wait this long for every camera's first frame before the first slot" },
	{ G_RIG, "queue", K_INT, F_INT(RIG, queue), .min = 1, .max = 1024, .def = "4",
	  .doc = "framesets queued per output before the oldest is dropped" },
	{ G_RIG, "stall-s", K_FIXED, F_I64(RIG, stall_ns), .unit = SEC, .min = SEC / 10, .max = 3600 * SEC,
	  .def = "2", .doc = "a camera that sends nothing this long, connected or not, is reconnected" },
	{ G_RIG, "retry-max-s", K_FIXED, F_I64(RIG, retry_max_ns), .unit = SEC, .min = SEC / 10,
	  .max = 3600 * SEC, .def = "5",
	  .doc = "the longest wait between reconnection attempts, which start at 0.5 s and double" },

	/* [camera NAME] */
	{ G_CAMERA, "uri", K_CUSTOM, F_ANY(CAM, uri), .parse = key_uri, .eg = "test://?fps=30",
	  .missing = "has no uri (e.g. uri = test://?fps=30)",
	  .doc = "the source; see Camera URIs in README.md, and source_spec.h" },
	{ G_CAMERA, "offset-ms", K_CUSTOM, F_I64(CAM, offset_ns), .parse = key_offset, .unit = MS,
	  .min = -10 * SEC, .max = 10 * SEC, .def = "0",
	  .doc = "calibrated offset o: n = round((t - epoch - o) / T), may be fractional" },
	{ G_CAMERA, "offset", K_CUSTOM, F_I64(CAM, offset_ns), .parse = key_offset, .unit = MS, .min = -10 * SEC,
	  .max = 10 * SEC, .def = "0", .doc = "the same as offset-ms; give one of them" },
	{ G_CAMERA, "enabled", K_BOOL, F_BOOL(CAM, enabled), .def = "true",
	  .doc = "false: checked, then left out of the rig" },
	{ G_CAMERA, "redact", K_BOOL, F_BOOL(CAM, redact), .def = "off",
	  .doc = "on: personal data masked before any output sees a frame (see [redact])" },
	{ G_CAMERA, "stall-s", K_FIXED, F_I64(CAM, stall_ns), .unit = SEC, .min = SEC / 10, .max = 3600 * SEC,
	  .eg = "2", .defdoc = "[rig] stall-s", .doc = "this camera's own stall-s" },
	{ G_CAMERA, "retry-max-s", K_FIXED, F_I64(CAM, retry_max_ns), .unit = SEC, .min = SEC / 10,
	  .max = 3600 * SEC, .eg = "5", .defdoc = "[rig] retry-max-s", .doc = "this camera's own retry-max-s" },

	/* [output mosaic] */
	{ G_OUTPUT, "file", K_CUSTOM, F_STR(OUT, file), .parse = key_mosaic_file, .eg = "out/rig.mp4",
	  .defdoc = "none", .doc = ".mp4 (fragmented), .mkv or .ts, H.264; relative to the working directory" },
	{ G_OUTPUT, "display", K_BOOL, F_BOOL(OUT, display), .def = "false", .doc = "true: show it in a window" },
	{ G_OUTPUT, "width", K_INT, F_INT(OUT, width), .min = 64, .max = 7680, .step = 2, .def = "1280",
	  .doc = "pixels" },
	{ G_OUTPUT, "height", K_INT, F_INT(OUT, height), .min = 64, .max = 4320, .step = 2, .def = "720",
	  .doc = "pixels" },

	/* [output shm] */
	{ G_OUTPUT_SHM, "name", K_CUSTOM, F_STR(OUT, shm_name), .parse = key_shm_name, .eg = "rig",
	  .range = "1 to 200 of A-Z a-z 0-9 _ . -, not starting with .",
	  .missing = "needs name = NAME (the segment is /dev/shm/NAME)", .doc = "the segment is /dev/shm/NAME" },
	{ G_OUTPUT_SHM, "slots", K_INT, F_INT(OUT, slots), .min = 2, .max = 1024, .def = "4",
	  .doc = "framesets kept; a reader more than slots-1 behind overruns" },
	{ G_OUTPUT_SHM, "group", K_CUSTOM, F_INT(OUT, gid), .parse = key_shm_group, .eg = "video",
	  .defdoc = "none (mode 0600, owner only)", .doc = "a group name or id: chown to it, mode 0660" },
	{ G_OUTPUT_SHM, "checksums", K_BOOL, F_BOOL(OUT, checksums), .def = "false",
	  .doc = "true: store an FNV-1a 64 of every frame (for verification)" },

	/* [output file] */
	{ G_OUTPUT_FILE, "camera", K_STRING, F_STR(OUT, camera), .eg = "cam1",
	  .defdoc = "the rig's one camera (required with more)", .doc = "the camera written" },
	{ G_OUTPUT_FILE, "file", K_CUSTOM, F_STR(OUT, file), .parse = key_file_file, .eg = "out/cam1.mp4",
	  .defdoc = "none",
	  .doc = ".mp4/.mkv/.ts (H.264), .y4m (raw) or PNGs (out/%05d.png); FILE.frames.jsonl: frame to slot" },
	{ G_OUTPUT_FILE, "display", K_BOOL, F_BOOL(OUT, display), .def = "false", .doc = "true: show it in a window" },

	/* [redact] */
	{ G_REDACT, "rules", K_STRING, F_STR(RED, rules), .empty = "needs a file name", .eg = "rules/pii.rules",
	  .defdoc = "lockstep's rules/pii.rules", .doc = "personal-data rules" },
	{ G_REDACT, "audit", K_STRING, F_STR(RED, audit), .empty = "needs a file name", .eg = "audit.jsonl",
	  .defdoc = "none", .doc = "JSON-lines audit log (no personal data in it)" },
	{ G_REDACT, "workers", K_INT, F_INT(RED, workers), .min = 1, .max = 64, .eg = "2",
	  .defdoc = "the number of cores", .doc = "OCR threads" },
	{ G_REDACT, "budget-ms", K_FIXED, F_I64(RED, budget_ns), .unit = MS, .min = MS, .max = 60 * SEC,
	  .eg = "150", .defdoc = "150", .doc = "frames older than this are masked whole" },
	{ G_REDACT, "tile", K_INT, F_INT(RED, tile), .min = 8, .max = 256, .step = 8, .eg = "32", .defdoc = "32",
	  .doc = "change-detection tile edge, pixels" },
	{ G_REDACT, "langs", K_CUSTOM, F_STR(RED, langs), .parse = key_langs, .eg = "eng+deu", .defdoc = "eng+deu",
	  .doc = "Tesseract languages" },
	{ G_REDACT, "canary-s", K_FIXED, F_I64(RED, canary_ns), .unit = SEC, .min = SEC / 10, .max = 3600 * SEC,
	  .eg = "10", .defdoc = "off", .doc = "inject a synthetic IBAN every N s and check that it is masked" },
	{ G_REDACT, "wait", K_BOOL, F_BOOL(RED, wait), .def = "false",
	  .doc = "offline: wait for OCR instead of masking unread text" },

	/* [detect] */
	{ G_DETECT, "model", K_STRING, F_STR(DET, model), .empty = "empty model path", .eg = "m.onnx",
	  .missing = "needs model = FILE.onnx", .doc = "ONNX model file" },
	{ G_DETECT, "format", K_ENUM, F_ENUM(DET, format), .choices = format_choices, .def = "auto",
	  .doc = "auto: centernet if the model has heatmap and wh outputs, else yolov8; dbnet: PP-OCR text" },
	{ G_DETECT, "classes", K_CUSTOM, F_ANY(DET, classes), .parse = key_classes, .eg = "person,car",
	  .defdoc = "every class", .doc = "COCO class names to report" },
	{ G_DETECT, "threshold", K_CUSTOM, F_DBL(DET, threshold), .parse = key_unit, .unit = 1000000, .min = 1,
	  .max = 1000000, .def = "0.3", .doc = "minimum score" },
	{ G_DETECT, "iou", K_CUSTOM, F_DBL(DET, iou), .parse = key_unit, .unit = 1000000, .min = 1, .max = 1000000,
	  .def = "0.5", .doc = "NMS overlap, for yolov8" },
	{ G_DETECT, "max-detections", K_INT, F_INT(DET, max_dets), .min = 1, .max = 10000, .def = "100",
	  .doc = "per camera and slot" },
	{ G_DETECT, "every-n", K_INT, F_INT(DET, every_n), .min = 1, .max = 10000, .def = "1",
	  .doc = "detect on slots n with n % every-n == 0" },
	{ G_DETECT, "provider", K_CUSTOM, F_STR(DET, provider), .parse = key_provider, .names = detect_providers,
	  .def = "cpu", .doc = "ONNX Runtime execution provider" },
	{ G_DETECT, "fallback", K_ENUM, F_ENUM(DET, fallback_cpu), .choices = fallback_choices, .def = "none",
	  .doc = "cpu: an unavailable provider falls back to CPU; none: it is an error" },
	{ G_DETECT, "threads", K_INT, F_INT(DET, threads), .min = 0, .max = 64, .def = "0",
	  .doc = "sessions, one per worker thread; 0: one per online CPU, at most 4" },
	{ G_DETECT, "output", K_STRING, F_STR(DET, output), .empty = "empty path (use - for stdout)", .eg = "-",
	  .defdoc = "none", .doc = "JSON lines: a file path, or - for stdout" },
	{ G_DETECT, "draw", K_ONOFF, F_BOOL(DET, draw), .def = "on", .doc = "boxes on the mosaic output" },
	{ G_DETECT, "motion-gate", K_ONOFF, F_BOOL(DET, motion_gate), .def = "off",
	  .doc = "on: a motion detector per camera; cameras without motion are not inferred" },
	{ G_DETECT, "input-size", K_CUSTOM, F_ANY(DET, input_w), .parse = key_input_size, .eg = "512x512",
	  .range = "16..8192 each", .defdoc = "the model's own", .doc = "WIDTHxHEIGHT, for models with free H and W" },
	{ G_DETECT, "runtime", K_STRING, F_STR(DET, runtime), .eg = "/opt/ort/libonnxruntime.so",
	  .defdoc = "$LOCKSTEP_ORT_LIB, else the one scripts/setup.sh fetched", .doc = "libonnxruntime.so to load" },
	{ G_DETECT, "clip-on", K_CUSTOM, F_ANY(DET, clip_classes), .parse = key_clip_on, .eg = "person,car",
	  .defdoc = "none",
	  .doc = "events that ask [record] for a clip: COCO classes (a new track) and/or motion (needs motion-gate)" },
	{ G_DETECT, "clip-pre-s", K_CUSTOM, F_DBL(DET, clip_pre_s), .parse = key_seconds, .unit = 1000, .min = 0,
	  .max = 3600 * 1000, .def = "5", .doc = "seconds before the first event" },
	{ G_DETECT, "clip-post-s", K_CUSTOM, F_DBL(DET, clip_post_s), .parse = key_seconds, .unit = 1000, .min = 0,
	  .max = 3600 * 1000, .def = "5", .doc = "seconds after the last event" },
	{ G_DETECT, "clip-dir", K_STRING, F_STR(DET, clip_dir), .empty = "empty path", .eg = "/var/clips",
	  .defdoc = "[record] dir + /clips", .doc = "where clips go (DIR/SLOT-CAMERA-WHAT/)" },

	/* [record] */
	{ G_RECORD, "dir", K_STRING, F_STR(REC, dir), .empty = "must not be empty", .eg = "/var/rec",
	  .missing = "needs dir = DIRECTORY (segments go to DIRECTORY/CAMERA/)",
	  .doc = "must exist at start; segments in DIR/CAMERA/, index DIR/index.sqlite3" },
	{ G_RECORD, "segment-s", K_FIXED, F_I64(REC, segment_ns), .unit = SEC, .min = SEC / 10, .max = 3600 * SEC,
	  .def = "10", .doc = "segment length; in slots: round(segment-s x rate)" },
	{ G_RECORD, "gop", K_INT, F_INT(REC, gop), .min = 1, .max = 100000, .eg = "30",
	  .defdoc = "1 s of slots, or the largest divisor below",
	  .doc = "slots between keyframes; must divide the segment's slots" },
	{ G_RECORD, "keep-minutes", K_FIXED, F_I64(REC, keep_ns), .unit = 60 * SEC, .min = SEC,
	  .max = INT64_C(5256000) * 60 * SEC, .range = "1 s..5256000 minutes", .def = "60",
	  .doc = "ring length in minutes, fractions allowed" },
	{ G_RECORD, "quota-mb", K_CUSTOM, F_I64(REC, quota_bytes), .parse = key_mib, .unit = 1000000, .min = 0,
	  .max = INT64_C(1000000) << 30, .def = "0", .doc = "all cameras together, MiB; 0: none" },
	{ G_RECORD, "camera-quota-mb", K_CUSTOM, F_I64(REC, camera_quota_bytes), .parse = key_mib, .unit = 1000000,
	  .min = 0, .max = INT64_C(1000000) << 30, .def = "0", .doc = "per camera, MiB; 0: none" },
	{ G_RECORD, "min-free-mb", K_CUSTOM, F_I64(REC, min_free_bytes), .parse = key_mib, .unit = 1000000, .min = 0,
	  .max = INT64_C(1000000) << 30, .def = "64", .doc = "emergency deletion below this much free space, MiB" },
	{ G_RECORD, "preset", K_NAME, F_STR(REC, preset), .names = x264_presets, .def = "ultrafast",
	  .doc = "x264 speed preset" },
	{ G_RECORD, "tune", K_NAME, F_STR(REC, tune), .names = x264_tunes, .def = "zerolatency",
	  .doc = "x264 tune; none: no tune" },
	{ G_RECORD, "bitrate-kbps", K_INT, F_INT(REC, bitrate_kbps), .min = 0, .max = 1000000, .def = "0",
	  .doc = "0: the encoder's default" },
	{ G_RECORD, "encoder", K_CUSTOM, F_STR(REC, encoder), .parse = key_encoder, .def = "auto",
	  .doc = "auto (x264), x264, or a GStreamer H.264 encoder element" },
	{ G_RECORD, "copy", K_ENUM, F_ENUM(REC, copy), .choices = copy_choices, .def = "off",
	  .doc = "auto: store an rtsp:// or udp:// H.264 camera's stream as sent, unless redact = on" },
};

#undef MS
#undef SEC

static const struct group_def {
	const char *name;   /* as in the file; NULL: [camera NAME] */
	size_t size;        /* of the struct its keys fill */
	const char *header; /* for the reference */
	const char *doc;
} group_tab[] = {
	[G_RIG] = { "rig", sizeof(RIG), "[rig]", "required" },
	[G_CAMERA] = { NULL, sizeof(CAM), "[camera NAME]",
		       "one per camera; NAME: 1 to 32 of A-Z a-z 0-9 _ . -, unique" },
	[G_OUTPUT] = { "output mosaic", sizeof(OUT), "[output mosaic]",
		       "optional: the cameras tiled into one picture; needs file, display = true or both" },
	[G_OUTPUT_SHM] = { "output shm", sizeof(OUT), "[output shm]",
			   "optional: every frameset in /dev/shm/NAME for other processes" },
	[G_OUTPUT_FILE] = { "output file", sizeof(OUT), "[output file]",
			    "optional: one camera's frames at their own size; needs file, display = true or both" },
	[G_REDACT] = { "redact", sizeof(RED), "[redact]", "optional: how cameras with redact = on are redacted" },
	[G_DETECT] = { "detect", sizeof(DET), "[detect]", "optional: object detection with ONNX Runtime" },
	[G_RECORD] = { "record", sizeof(REC), "[record]", "optional: every camera to H.264 segments on disk" },
};

#undef RIG
#undef CAM
#undef OUT
#undef RED
#undef DET
#undef REC
#undef AT
#undef F_I64
#undef F_INT
#undef F_ENUM
#undef F_BOOL
#undef F_STR
#undef F_DBL
#undef F_ANY

static size_t group_struct_size(enum group_kind kind)
{
	return group_tab[kind].size;
}

static const struct key_def *find_key(enum group_kind kind, const char *name)
{
	for (size_t i = 0; i < G_N_ELEMENTS(config_tab); i++)
		if (config_tab[i].group == kind && strcmp(config_tab[i].name, name) == 0)
			return &config_tab[i];
	return NULL;
}

/* "a, b, c": the keys of @kind, for the unknown-key message */
static char *key_names(enum group_kind kind)
{
	GString *s = g_string_new(NULL);

	for (size_t i = 0; i < G_N_ELEMENTS(config_tab); i++)
		if (config_tab[i].group == kind)
			g_string_append_printf(s, "%s%s", s->len ? ", " : "", config_tab[i].name);
	return g_string_free(s, FALSE);
}

/* "a, b or c": the choices of a K_ENUM key */
static char *choice_names(const struct choice *ch)
{
	GString *s = g_string_new(NULL);

	for (const struct choice *p = ch; p->name; p++)
		g_string_append_printf(s, "%s%s", p == ch ? "" : p[1].name ? ", " : " or ", p->name);
	return g_string_free(s, FALSE);
}

/* Writes @v to an int-sized field (int, unsigned, an enum) or a bool. */
static void store_int(void *field, size_t size, int64_t v)
{
	if (size == sizeof(bool)) {
		bool b = v != 0;
		memcpy(field, &b, sizeof b);
	} else {
		int i = (int)v;
		g_assert(size == sizeof i);
		memcpy(field, &i, sizeof i);
	}
}

static void store_string(void *field, const char *v)
{
	char **p = field;

	g_free(*p);
	*p = g_strdup(v);
}

/* Reads the value @v of the key @kd into u->base. 0, or -EINVAL with
 * *reason a g_strdup'd message. */
static int set_key(const struct key_def *kd, const struct key_use *u, const char *v, char **reason)
{
	void *field = key_field(kd, u);
	int64_t i64 = 0;
	int rc;

	switch (kd->type) {
	case K_INT:
		rc = ls_value_parse_int(v, kd->min, kd->max, &i64, reason);
		if (rc < 0)
			return rc;
		if (kd->step > 1 && i64 % kd->step) {
			*reason = kd->step == 2 ? g_strdup_printf("must be even, got \"%s\"", v)
						: g_strdup_printf("must be a multiple of %d, got \"%s\"", kd->step, v);
			return -EINVAL;
		}
		store_int(field, kd->size, i64);
		return 0;
	case K_FIXED:
		return ls_value_parse_fixed(v, kd->unit, kd->min, kd->max, field, reason);
	case K_BOOL:
		return ls_value_parse_bool(v, field, reason);
	case K_ONOFF:
		return parse_onoff(v, field, reason);
	case K_ENUM: {
		char *list;

		for (const struct choice *ch = kd->choices; ch->name; ch++)
			if (strcmp(ch->name, v) == 0) {
				store_int(field, kd->size, ch->value);
				return 0;
			}
		list = choice_names(kd->choices);
		*reason = g_strdup_printf("expected %s, got \"%s\"", list, v);
		g_free(list);
		return -EINVAL;
	}
	case K_NAME:
		rc = one_of(v, kd->names, reason);
		if (rc == 0)
			store_string(field, v);
		return rc;
	case K_STRING:
		if (!*v && kd->empty) {
			*reason = g_strdup(kd->empty);
			return -EINVAL;
		}
		store_string(field, v);
		return 0;
	case K_CUSTOM:
		return kd->parse(kd, u, v, reason);
	}
	g_assert_not_reached();
	return -EINVAL;
}

/* Reads the defaults of the keys of @kind into u->base. */
static void set_defaults(enum group_kind kind, const struct key_use *u)
{
	for (size_t i = 0; i < G_N_ELEMENTS(config_tab); i++) {
		const struct key_def *kd = &config_tab[i];
		char *reason = NULL;

		if (kd->group != kind || !kd->def)
			continue;
		if (set_key(kd, u, kd->def, &reason) < 0)
			g_error("config_tab: default \"%s\" of %s: %s", kd->def, kd->name, reason);
	}
}

/* ---- pass 1: lines --------------------------------------------------- */

static void group_free(gpointer p)
{
	struct scan_group *g = p;

	for (guint i = 0; i < g->keys->len; i++)
		g_free(g_array_index(g->keys, struct scan_key, i).name);
	g_array_unref(g->keys);
	g_free(g->name);
	g_free(g);
}

static bool camera_name_ok(const char *n)
{
	size_t len = strlen(n);

	if (len < 1 || len > LS_CONFIG_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!g_ascii_isalnum(n[i]) && !strchr("_.-", n[i]))
			return false;
	return true;
}

/* The kind of the group named @name (not a camera), or -1. */
static int group_kind_of(const char *name)
{
	for (size_t i = 0; i < G_N_ELEMENTS(group_tab); i++)
		if (group_tab[i].name && strcmp(group_tab[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int add_group(struct ctx *c, const char *name, int line)
{
	struct scan_group *g;
	int kind = g_str_has_prefix(name, "camera ") ? G_CAMERA : group_kind_of(name);

	if (kind == G_CAMERA && !camera_name_ok(name + 7))
		return at_line(c, line, "bad camera name \"%s\" (expected 1 to %d of A-Z a-z 0-9 _ . -)", name + 7,
			       LS_CONFIG_NAME_MAX);
	if (kind < 0 && strcmp(name, "camera") == 0)
		return at_line(c, line, "[camera] needs a name: [camera NAME]");
	if (kind < 0 && (strcmp(name, "output") == 0 || g_str_has_prefix(name, "output ")))
		return at_line(c, line,
			       "unknown output [%s] (expected [output mosaic], [output shm] or [output file])", name);
	if (kind < 0)
		return at_line(c, line,
			       "unknown group [%s] (expected [rig], [camera NAME], [output mosaic|shm|file], [redact], [detect] "
			       "or [record])",
			       name);
	for (guint i = 0; i < c->groups->len; i++) {
		const struct scan_group *o = g_ptr_array_index(c->groups, i);
		if (strcmp(o->name, name) != 0)
			continue;
		if (kind == G_CAMERA)
			return at_line(c, line, "duplicate camera \"%s\" (first at line %d)", name + 7, o->line);
		return at_line(c, line, "duplicate group [%s] (first at line %d)", name, o->line);
	}
	g = g_new0(struct scan_group, 1);
	g->name = g_strdup(name);
	g->kind = (enum group_kind)kind;
	g->line = line;
	g->keys = g_array_new(FALSE, FALSE, sizeof(struct scan_key));
	g_ptr_array_add(c->groups, g);
	return 0;
}

static int add_key(struct ctx *c, const char *name, int line)
{
	struct scan_group *g;
	const struct key_def *kd;
	struct scan_key k;
	char *list;
	int rc;

	if (c->groups->len == 0)
		return at_line(c, line, "key \"%s\" before any group (start with [rig])", name);
	g = g_ptr_array_index(c->groups, c->groups->len - 1);
	kd = find_key(g->kind, name);
	if (!kd) {
		list = key_names(g->kind);
		rc = at_line(c, line, "unknown key \"%s\" in [%s] (expected %s)", name, g->name, list);
		g_free(list);
		return rc;
	}
	for (guint i = 0; i < g->keys->len; i++) {
		const struct scan_key *o = &g_array_index(g->keys, struct scan_key, i);
		if (strcmp(o->name, name) == 0)
			return at_line(c, line, "duplicate key \"%s\" in [%s] (first at line %d)", name, g->name,
				       o->line);
	}
	k.name = g_strdup(name);
	k.line = line;
	k.def = kd;
	g_array_append_val(g->keys, k);
	return 0;
}

/* One line, without its '\n' (and '\r'), by GKeyFile's rules: leading
 * spaces are skipped; '#' starts a comment; "[name]" may be followed by
 * spaces or tabs only; a key is what comes before the first '=', less
 * trailing spaces. */
static int scan_line(struct ctx *c, const char *s, size_t len, int line)
{
	const char *end = s + len, *eq, *close;
	char *name;
	int rc;

	if (!g_utf8_validate(s, (gssize)len, NULL))
		return at_line(c, line, "not valid UTF-8");
	while (s < end && g_ascii_isspace(*s))
		s++;
	if (s == end || *s == '#')
		return 0;
	if (*s == '[') {
		close = memchr(s, ']', (size_t)(end - s));
		if (!close)
			return at_line(c, line, "missing ']' in group header \"%.*s\"", (int)(end - s), s);
		for (const char *p = close + 1; p < end; p++)
			if (*p != ' ' && *p != '\t')
				return at_line(c, line, "unexpected \"%.*s\" after group header", (int)(end - close - 1),
					       close + 1);
		name = g_strndup(s + 1, (size_t)(close - s - 1));
		rc = add_group(c, name, line);
		g_free(name);
		return rc;
	}
	eq = memchr(s, '=', (size_t)(end - s));
	if (!eq)
		return at_line(c, line, "expected key = value, [group] or # comment, got \"%.*s\"%s", (int)(end - s), s,
			       *s == ';' ? " (comments start with '#')" : "");
	if (eq == s)
		return at_line(c, line, "missing key name before '='");
	while (eq > s && g_ascii_isspace(eq[-1]))
		eq--;
	name = g_strndup(s, (size_t)(eq - s));
	rc = add_key(c, name, line);
	g_free(name);
	return rc;
}

static int scan(struct ctx *c, const char *data)
{
	int line = 1, rc;

	for (const char *p = data; *p; line++) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		size_t trimmed = len && p[len - 1] == '\r' ? len - 1 : len;

		rc = scan_line(c, p, trimmed, line);
		if (rc < 0)
			return rc;
		p += len + (nl ? 1 : 0);
	}
	return 0;
}

/* ---- pass 2: values -------------------------------------------------- */

void ls_detect_config_free(struct ls_detect_config *d)
{
	if (!d)
		return;
	g_free(d->model);
	g_free(d->provider);
	g_free(d->output);
	g_free(d->runtime);
	g_free(d->clip_dir);
	g_free(d);
}

void ls_record_config_free(struct ls_record_config **pr)
{
	struct ls_record_config *r = pr ? *pr : NULL;

	if (!r)
		return;
	g_free(r->dir);
	g_free(r->preset);
	g_free(r->tune);
	g_free(r->encoder);
	g_free(r);
	*pr = NULL;
}

static bool group_has(const struct scan_group *g, const char *name)
{
	for (guint i = 0; i < g->keys->len; i++)
		if (strcmp(g_array_index(g->keys, struct scan_key, i).name, name) == 0)
			return true;
	return false;
}

/* The line of key @name in the first group of @kind, or 0. */
static int key_line(const struct ctx *c, enum group_kind kind, const char *name)
{
	for (guint i = 0; i < c->groups->len; i++) {
		const struct scan_group *g = g_ptr_array_index(c->groups, i);
		if (g->kind != kind)
			continue;
		for (guint j = 0; j < g->keys->len; j++) {
			const struct scan_key *k = &g_array_index(g->keys, struct scan_key, j);
			if (strcmp(k->name, name) == 0)
				return k->line;
		}
		return 0;
	}
	return 0;
}

/* Segment length and gop in slots, once the rate is known. */
static int record_finish(struct ctx *c, struct ls_record_config *r)
{
	struct ls_rate rate = c->cfg->rate;
	__int128 slots = ((__int128)r->segment_ns * rate.num + (__int128)rate.den * LS_NS_PER_SEC / 2) /
			 ((__int128)rate.den * LS_NS_PER_SEC);

	if (slots < 1)
		return at_line(c, r->line, "[record] segment-s is shorter than one slot");
	if (slots > 1000000)
		return at_line(c, r->line, "[record] segment-s holds more than 1000000 slots");
	r->seg_slots = (unsigned)slots;
	if (r->gop) {
		if (r->seg_slots % r->gop)
			return at_line(c, key_line(c, G_RECORD, "gop"),
				       "[record] gop: %u does not divide the segment's %u slots (segment-s x rate)", r->gop,
				       r->seg_slots);
		return 0;
	}
	/* default: one second's worth of slots, or the largest divisor of
	 * the segment below it */
	unsigned want = (unsigned)((rate.num + rate.den / 2) / rate.den);
	if (want < 1)
		want = 1;
	for (r->gop = want < r->seg_slots ? want : r->seg_slots; r->seg_slots % r->gop; r->gop--)
		;
	return 0;
}

/* [detect] clip-on against the rest of the config. */
static int clip_check(struct ctx *c, const struct ls_detect_config *d)
{
	if (!c->cfg->record)
		return at_line(c, d->clip_line, "[detect] clip-on needs a [record] group (clips are cut from its recording)");
	if (d->clip_motion && !d->motion_gate)
		return at_line(c, d->clip_line, "[detect] clip-on = motion needs motion-gate = on");
	for (int i = 0; i < LS_COCO_CLASSES; i++) {
		bool want = d->clip_classes[i / 8] & (1u << (i % 8));
		if (want && !d->all_classes && !(d->classes[i / 8] & (1u << (i % 8))))
			return at_line(c, d->clip_line,
				       "[detect] clip-on: \"%s\" is not in classes= (it would never be detected)",
				       ls_coco_name(i));
	}
	if (!d->clip_dir)
		for (guint i = 0; i < c->cams->len; i++)
			if (strcmp(g_array_index(c->cams, struct ls_camera_config, i).name, "clips") == 0)
				return at_line(c, d->clip_line,
					       "[detect] clip-on: a camera named \"clips\" has its segments where clips go "
					       "by default ([record] dir/clips): set clip-dir");
	return 0;
}


static int read_group(struct ctx *c, const struct scan_group *g)
{
	struct ls_camera_config cam = { 0 };
	struct ls_output_config out = { 0 };
	struct ls_detect_config *det = NULL;
	struct ls_record_config *rec = NULL;
	struct key_use u = { 0 };
	char *val = NULL, *reason = NULL;
	int rc = 0;

	/* the group's struct, with what no key sets, then the keys' defaults */
	switch (g->kind) {
	case G_RIG:
		c->have_rig = true;
		c->cfg->rig_line = g->line;
		u.base = c->cfg;
		break;
	case G_CAMERA:
		cam.name = g_strdup(g->name + 7);
		cam.line = g->line;
		u.base = &cam;
		break;
	case G_OUTPUT:
		out.kind = LS_OUTPUT_MOSAIC;
		out.line = g->line;
		u.base = &out;
		break;
	case G_OUTPUT_SHM:
		out.kind = LS_OUTPUT_SHM;
		out.gid = -1;
		out.line = g->line;
		u.base = &out;
		break;
	case G_OUTPUT_FILE:
		out.kind = LS_OUTPUT_FILE;
		out.line = g->line;
		u.base = &out;
		break;
	case G_REDACT:
		c->cfg->redact.present = true;
		c->cfg->redact.line = g->line;
		u.base = &c->cfg->redact;
		break;
	case G_DETECT:
		det = g_new0(struct ls_detect_config, 1);
		det->all_classes = true;
		det->line = g->line;
		u.base = det;
		break;
	case G_RECORD:
		rec = g_new0(struct ls_record_config, 1);
		rec->line = g->line;
		u.base = rec;
		break;
	}
	set_defaults(g->kind, &u);

	u.g = g;
	for (guint i = 0; i < g->keys->len; i++) {
		const struct scan_key *k = &g_array_index(g->keys, struct scan_key, i);
		GError *gerr = NULL;

		/* On a bad escape such as "\q", GKeyFile returns a string
		 * and sets the error. */
		val = g_key_file_get_string(c->kf, g->name, k->name, &gerr);
		if (gerr || !val) {
			g_clear_error(&gerr);
			rc = key_error(c, g, k, NULL,
				       g_strdup("bad escape sequence (GKeyFile knows \\s \\n \\t \\r and \\\\)"));
			goto out;
		}
		u.k = k;
		rc = set_key(k->def, &u, val, &reason);
		if (rc < 0) {
			rc = key_error(c, g, k, val, reason);
			reason = NULL;
			goto out;
		}
		g_clear_pointer(&val, g_free);
	}

	for (size_t i = 0; i < G_N_ELEMENTS(config_tab); i++) {
		const struct key_def *kd = &config_tab[i];
		if (kd->group == g->kind && kd->missing && !group_has(g, kd->name)) {
			rc = at_line(c, g->line, "[%s] %s", g->name, kd->missing);
			goto out;
		}
	}
	switch (g->kind) {
	case G_RIG:
	case G_REDACT:
		break;
	case G_CAMERA:
		g_array_append_val(c->cams, cam);
		memset(&cam, 0, sizeof cam);
		break;
	case G_OUTPUT:
	case G_OUTPUT_FILE:
		if (!out.file && !out.display) {
			rc = at_line(c, g->line, "[%s] needs file = PATH, display = true, or both", g->name);
			goto out;
		}
		/* fall through */
	case G_OUTPUT_SHM:
		g_array_append_val(c->outputs, out);
		memset(&out, 0, sizeof out);
		break;
	case G_DETECT:
		c->cfg->detect = det;
		det = NULL;
		break;
	case G_RECORD:
		c->cfg->record = rec;
		rec = NULL;
		break;
	}
out:
	ls_detect_config_free(det);
	ls_record_config_free(&rec);
	g_free(reason);
	g_free(val);
	ls_source_spec_clear(&cam.src);
	g_free(cam.uri);
	g_free(cam.name);
	g_free(out.file);
	g_free(out.shm_name);
	g_free(out.camera);
	return rc;
}

/* ---- the reference --------------------------------------------------- */

/* @ns in units of @unit_ns, as short as exact: 0.1, 3600, -10000 */
static void append_fixed(GString *s, int64_t ns, int64_t unit_ns)
{
	uint64_t mag = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
	uint64_t frac = mag % (uint64_t)unit_ns;
	int ndig = 0;

	g_string_append_printf(s, "%s%" PRIu64, ns < 0 ? "-" : "", mag / (uint64_t)unit_ns);
	if (!frac)
		return;
	for (int64_t u = unit_ns; u > 1; u /= 10)
		ndig++;
	while (frac % 10 == 0) {
		frac /= 10;
		ndig--;
	}
	g_string_append_printf(s, ".%0*" PRIu64, ndig, frac);
}

/* What a key takes, as the reference says it: "1..1024", "> 0, <= 60000",
 * "missing or hold"; "" for booleans, strings and custom keys without one. */
static void append_range(GString *s, const struct key_def *kd)
{
	if (kd->range) {
		g_string_append(s, kd->range);
	} else if (kd->type == K_INT) {
		g_string_append_printf(s, "%" PRId64 "..%" PRId64, kd->min, kd->max);
		if (kd->step == 2)
			g_string_append(s, ", even");
		else if (kd->step > 1)
			g_string_append_printf(s, ", a multiple of %d", kd->step);
	} else if (kd->unit && kd->min == 1) {
		g_string_append(s, "> 0, <= ");
		append_fixed(s, kd->max, kd->unit);
	} else if (kd->unit) {
		append_fixed(s, kd->min, kd->unit);
		g_string_append(s, "..");
		append_fixed(s, kd->max, kd->unit);
	} else if (kd->choices) {
		char *l = choice_names(kd->choices);
		g_string_append(s, l);
		g_free(l);
	} else if (kd->names) {
		for (const char *const *p = kd->names; *p; p++)
			g_string_append_printf(s, "%s%s", p == kd->names ? "" : p[1] ? ", " : " or ", *p);
	} else if (kd->type == K_ONOFF) {
		g_string_append(s, "on or off");
	}
}

/* "left   # doc": the comments line up after column 24 */
static void append_line(GString *s, const char *left, const char *doc)
{
	g_string_append_printf(s, "%-23s # %s\n", left, doc);
}

char *ls_config_reference(void)
{
	GString *s = g_string_new(NULL);
	GString *doc = g_string_new(NULL);

	for (size_t gk = 0; gk < G_N_ELEMENTS(group_tab); gk++) {
		if (gk)
			g_string_append_c(s, '\n');
		append_line(s, group_tab[gk].header, group_tab[gk].doc);
		for (size_t i = 0; i < G_N_ELEMENTS(config_tab); i++) {
			const struct key_def *kd = &config_tab[i];
			char *left;
			size_t len;

			if (kd->group != gk)
				continue;
			g_string_assign(doc, kd->doc);
			len = doc->len;
			g_string_append(doc, " (");
			append_range(doc, kd);
			if (doc->len == len + 2)
				g_string_truncate(doc, len);
			else
				g_string_append_c(doc, ')');
			if (kd->missing)
				g_string_append(doc, "; required");
			else if (kd->defdoc)
				g_string_append_printf(doc, "; default %s", kd->defdoc);
			left = g_strdup_printf("%s = %s", kd->name, kd->def ? kd->def : kd->eg);
			append_line(s, left, doc->str);
			g_free(left);
		}
	}
	g_string_free(doc, TRUE);
	return g_string_free(s, FALSE);
}

/* ---- load ------------------------------------------------------------ */

static void camera_clear(struct ls_camera_config *cam)
{
	ls_source_spec_clear(&cam->src);
	g_free(cam->uri);
	g_free(cam->name);
}

void ls_config_free(struct ls_config **pcfg)
{
	struct ls_config *cfg = pcfg ? *pcfg : NULL;

	if (!cfg)
		return;
	for (unsigned i = 0; i < cfg->ncams; i++)
		camera_clear(&cfg->cams[i]);
	g_free(cfg->cams);
	for (unsigned i = 0; i < cfg->noutputs; i++) {
		g_free(cfg->outputs[i].file);
		g_free(cfg->outputs[i].shm_name);
		g_free(cfg->outputs[i].camera);
	}
	g_free(cfg->outputs);
	g_free(cfg->redact.rules);
	g_free(cfg->redact.audit);
	g_free(cfg->redact.langs);
	ls_detect_config_free(cfg->detect);
	ls_record_config_free(&cfg->record);
	g_free(cfg->path);
	g_free(cfg);
	*pcfg = NULL;
}

int ls_config_load_data(const char *data, const char *name, struct ls_config **out, char **err)
{
	struct ctx c = { .file = name, .err = err };
	GError *gerr = NULL;
	int rc;

	*out = NULL;
	c.groups = g_ptr_array_new_with_free_func(group_free);
	c.cams = g_array_new(FALSE, TRUE, sizeof(struct ls_camera_config));
	c.outputs = g_array_new(FALSE, TRUE, sizeof(struct ls_output_config));
	c.cfg = g_new0(struct ls_config, 1);
	c.cfg->path = g_strdup(name); /* [rig]'s defaults come with [rig], from config_tab[] */

	rc = scan(&c, data);
	if (rc < 0)
		goto fail;
	c.kf = g_key_file_new();
	if (!g_key_file_load_from_data(c.kf, data, (gsize)-1, G_KEY_FILE_NONE, &gerr)) {
		/* scan() follows GKeyFile's rules, so this should not happen. */
		rc = at_line(&c, 0, "%s", gerr->message);
		g_error_free(gerr);
		goto fail;
	}
	for (guint i = 0; i < c.groups->len; i++) {
		rc = read_group(&c, g_ptr_array_index(c.groups, i));
		if (rc < 0)
			goto fail;
	}
	if (!c.have_rig) {
		rc = at_line(&c, 0, "no [rig] group (it needs at least rate = ...)");
		goto fail;
	}
	if (c.cams->len == 0) {
		rc = at_line(&c, 0, "no camera: add a [camera NAME] group with a uri");
		goto fail;
	}
	if (!c.cfg->tolerance_ns) /* not given: a given one is > 0 */
		c.cfg->tolerance_ns = ls_rate_period_ns(c.cfg->rate) / 2;
	if (c.cfg->record) {
		rc = record_finish(&c, c.cfg->record);
		if (rc < 0)
			goto fail;
	}
	if (c.cfg->detect && c.cfg->detect->clip_any) {
		rc = clip_check(&c, c.cfg->detect);
		if (rc < 0)
			goto fail;
	}

	/* Keep the enabled cameras; the others were only validated. */
	for (guint i = 0; i < c.cams->len; i++) {
		struct ls_camera_config *cam = &g_array_index(c.cams, struct ls_camera_config, i);
		if (!cam->enabled) {
			camera_clear(cam);
			c.cfg->ndisabled++;
			g_array_remove_index(c.cams, i--);
		}
	}
	if (c.cams->len == 0) {
		rc = at_line(&c, 0, "every camera is disabled (enabled = false)");
		goto fail;
	}
	for (guint i = 0; i < c.cams->len; i++) { /* [rig]'s stall-s and retry-max-s, unless the camera has its own */
		struct ls_camera_config *cam = &g_array_index(c.cams, struct ls_camera_config, i);
		if (!cam->stall_ns)
			cam->stall_ns = c.cfg->stall_ns;
		if (!cam->retry_max_ns)
			cam->retry_max_ns = c.cfg->retry_max_ns;
	}
	c.cfg->ncams = c.cams->len;
	c.cfg->cams = (struct ls_camera_config *)(void *)g_array_free(c.cams, FALSE);
	c.cams = NULL;
	for (guint i = 0; i < c.outputs->len; i++) {
		struct ls_output_config *o = &g_array_index(c.outputs, struct ls_output_config, i);
		if (o->kind != LS_OUTPUT_FILE)
			continue;
		if (!o->camera) {
			if (c.cfg->ncams > 1) {
				rc = at_line(&c, o->line, "[output file] needs camera = NAME (the rig has %u cameras)",
					     c.cfg->ncams);
				goto fail;
			}
			o->camera = g_strdup(c.cfg->cams[0].name);
		}
		bool found = false;
		for (unsigned k = 0; k < c.cfg->ncams && !found; k++)
			found = strcmp(c.cfg->cams[k].name, o->camera) == 0;
		if (!found) {
			rc = at_line(&c, o->line, "[output file] camera: no enabled camera \"%s\"", o->camera);
			goto fail;
		}
	}
	c.cfg->noutputs = c.outputs->len;
	c.cfg->outputs = (struct ls_output_config *)(void *)g_array_free(c.outputs, FALSE);
	c.outputs = NULL;
	*out = c.cfg;
	c.cfg = NULL;
	rc = 0;
fail:
	if (c.outputs) {
		for (guint i = 0; i < c.outputs->len; i++) {
			g_free(g_array_index(c.outputs, struct ls_output_config, i).file);
			g_free(g_array_index(c.outputs, struct ls_output_config, i).shm_name);
			g_free(g_array_index(c.outputs, struct ls_output_config, i).camera);
		}
		g_array_free(c.outputs, TRUE);
	}
	if (c.cams) {
		for (guint i = 0; i < c.cams->len; i++)
			camera_clear(&g_array_index(c.cams, struct ls_camera_config, i));
		g_array_free(c.cams, TRUE);
	}
	ls_config_free(&c.cfg);
	if (c.kf)
		g_key_file_unref(c.kf);
	g_ptr_array_unref(c.groups);
	return rc;
}

/* Reads at most MAX_FILE_BYTES. Reads to EOF rather than trusting st_size,
 * so that pipes (`lockstep check <(gen-config)`) work. On failure *err is
 * "PATH: cannot read: REASON". */
static int read_text(const char *path, char **text, size_t *len, char **err)
{
	GString *buf = NULL;
	struct stat st;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		goto fail;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto fail_fd;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = -EISDIR;
		goto fail_fd;
	}
	buf = g_string_sized_new(S_ISREG(st.st_mode) && st.st_size < MAX_FILE_BYTES ? (gsize)st.st_size + 1 : 4096);
	for (;;) {
		char chunk[4096];
		ssize_t n = read(fd, chunk, sizeof chunk);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto fail_buf;
		}
		if (n == 0)
			break;
		if (buf->len + (size_t)n > MAX_FILE_BYTES) {
			rc = -EFBIG;
			goto fail_buf;
		}
		g_string_append_len(buf, chunk, n);
	}
	close(fd);
	*len = buf->len;
	*text = g_string_free(buf, FALSE);
	return 0;
fail_buf:
	g_string_free(buf, TRUE);
fail_fd:
	close(fd);
fail:
	if (err) {
		g_free(*err);
		if (rc == -EFBIG)
			*err = g_strdup_printf("%s: cannot read: larger than %d bytes (not a config file?)", path,
					       MAX_FILE_BYTES);
		else
			*err = g_strdup_printf("%s: cannot read: %s", path, g_strerror(-rc));
	}
	return rc;
}

int ls_config_load(const char *path, struct ls_config **out, char **err)
{
	struct ctx c = { .file = path, .err = err };
	char *text = NULL;
	const char *nul;
	size_t len;
	int rc;

	*out = NULL;
	rc = read_text(path, &text, &len, err);
	if (rc < 0)
		return rc;
	/* The text would end at a NUL for GKeyFile and for scan(): say where. */
	nul = memchr(text, '\0', len);
	if (nul) {
		int line = 1;
		for (const char *p = text; p < nul; p++)
			line += *p == '\n';
		rc = at_line(&c, line, "NUL byte (not a text file?)");
		goto out;
	}
	rc = ls_config_load_data(text, path, out, err);
out:
	g_free(text);
	return rc;
}
