/* config — see config.h.
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

#include <grp.h>

#include "lockstep_shm.h"
#include "ls_detect.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#define MAX_FILE_BYTES (1024 * 1024) /* a rig config is a few KiB: refuse to slurp a video by mistake */
#define EPOCH_MAX_NS (INT64_C(9200000000) * LS_NS_PER_SEC) /* ~2261 AD, just inside int64 ns */

enum group_kind { G_RIG, G_CAMERA, G_OUTPUT, G_OUTPUT_SHM, G_OUTPUT_FILE, G_REDACT, G_DETECT, G_RECORD };

static const char *const rig_keys[] = {
	"rate", "epoch", "tolerance-ms", "max-latency-ms", "missing", "hold-max-ms", "startup-ms", "queue",
	"stall-s", "retry-max-s", NULL,
};
static const char *const camera_keys[] = { "uri", "offset-ms", "offset", "enabled", "redact", "stall-s", "retry-max-s",
					    NULL };
static const char *const output_keys[] = { "file", "display", "width", "height", NULL };
static const char *const shm_keys[] = { "name", "slots", "group", "checksums", NULL };
static const char *const file_keys[] = { "camera", "file", "display", NULL };
static const char *const redact_keys[] = {
	"rules", "audit", "workers", "budget-ms", "tile", "langs", "canary-s", "wait", NULL,
};
static const char *const detect_keys[] = {
	"model", "format", "classes", "threshold", "iou", "max-detections", "every-n", "provider", "fallback",
	"threads", "output", "draw", "motion-gate", "input-size", "runtime", "clip-on", "clip-pre-s", "clip-post-s",
	"clip-dir", NULL,
};
/* Execution providers by their config name; detect.c maps them to ONNX
 * Runtime's names. */
static const char *const detect_providers[] = {
	"cpu", "cuda", "tensorrt", "openvino", "dnnl", "rocm", "migraphx", "coreml", "qnn", "xnnpack", "webgpu", NULL,
};
static const char *const record_keys[] = {
	"dir", "segment-s", "gop", "keep-minutes", "quota-mb", "camera-quota-mb", "min-free-mb",
	"preset", "tune", "bitrate-kbps", "encoder", "copy", NULL,
};

static const char *const *const keys_of[] = {
	[G_RIG] = rig_keys,
	[G_CAMERA] = camera_keys,
	[G_OUTPUT] = output_keys,
	[G_OUTPUT_SHM] = shm_keys,
	[G_OUTPUT_FILE] = file_keys,
	[G_REDACT] = redact_keys,
	[G_DETECT] = detect_keys,
	[G_RECORD] = record_keys,
};

struct scan_key {
	char *name;
	int line;
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
	bool have_rig, have_rate, have_tolerance;
	int gop_line; /* [record] gop given at this line, 0: default */
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

static int add_group(struct ctx *c, const char *name, int line)
{
	struct scan_group *g;
	enum group_kind kind;

	if (strcmp(name, "rig") == 0) {
		kind = G_RIG;
	} else if (strcmp(name, "detect") == 0) {
		kind = G_DETECT;
	} else if (strcmp(name, "record") == 0) {
		kind = G_RECORD;
	} else if (strcmp(name, "camera") == 0) {
		return at_line(c, line, "[camera] needs a name: [camera NAME]");
	} else if (g_str_has_prefix(name, "camera ")) {
		if (!camera_name_ok(name + 7))
			return at_line(c, line,
				       "bad camera name \"%s\" (expected 1 to %d of A-Z a-z 0-9 _ . -)",
				       name + 7, LS_CONFIG_NAME_MAX);
		kind = G_CAMERA;
	} else if (strcmp(name, "output") == 0 || g_str_has_prefix(name, "output ")) {
		if (strcmp(name, "output mosaic") == 0)
			kind = G_OUTPUT;
		else if (strcmp(name, "output shm") == 0)
			kind = G_OUTPUT_SHM;
		else if (strcmp(name, "output file") == 0)
			kind = G_OUTPUT_FILE;
		else
			return at_line(c, line,
				       "unknown output [%s] (expected [output mosaic], [output shm] or [output file])", name);
	} else if (strcmp(name, "redact") == 0) {
		kind = G_REDACT;
	} else {
		return at_line(c, line,
			       "unknown group [%s] (expected [rig], [camera NAME], [output mosaic|shm|file], [redact], [detect] "
			       "or [record])",
			       name);
	}
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
	g->kind = kind;
	g->line = line;
	g->keys = g_array_new(FALSE, FALSE, sizeof(struct scan_key));
	g_ptr_array_add(c->groups, g);
	return 0;
}

static int add_key(struct ctx *c, const char *name, int line)
{
	struct scan_group *g;
	const char *const *known;
	struct scan_key k;
	char *list;
	int rc;

	if (c->groups->len == 0)
		return at_line(c, line, "key \"%s\" before any group (start with [rig])", name);
	g = g_ptr_array_index(c->groups, c->groups->len - 1);
	known = keys_of[g->kind];
	for (; *known; known++)
		if (strcmp(*known, name) == 0)
			break;
	if (!*known) {
		list = join(keys_of[g->kind]);
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

	/* [+-]digits[.digits]: seconds; ls_uri_parse_fixed() then fails only
	 * on the range. Anything else is ISO-8601 or an error. */
	{
		const char *p = s + (*s == '+' || *s == '-');
		size_t nint = strspn(p, "0123456789"), nfrac = 0;

		if (p[nint] == '.')
			nfrac = strspn(p + nint + 1, "0123456789") + 1;
		if (nint + nfrac > 0 && !p[nint + nfrac] && strcmp(p, ".") != 0)
			return ls_uri_parse_fixed(s, LS_NS_PER_SEC, 0, EPOCH_MAX_NS, out, err);
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

			rc = ls_uri_parse_fixed(digits, LS_NS_PER_SEC, 0, LS_NS_PER_SEC, &frac_ns, NULL);
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

/* stall-s: a camera silent this long is reconnected (0.1 s..1 h); retry-max-s:
 * the longest wait between reconnection attempts (0.1 s..1 h). */
static int parse_stall(const char *v, int64_t *out, char **reason)
{
	return ls_uri_parse_fixed(v, LS_NS_PER_SEC, LS_NS_PER_SEC / 10, 3600 * LS_NS_PER_SEC, out, reason);
}

static int parse_retry_max(const char *v, int64_t *out, char **reason)
{
	return ls_uri_parse_fixed(v, LS_NS_PER_SEC, LS_NS_PER_SEC / 10, 3600 * LS_NS_PER_SEC, out, reason);
}

static int rig_key(struct ctx *c, const struct scan_key *k, const char *v, char **reason)
{
	struct ls_config *cfg = c->cfg;
	int64_t i64 = 0;
	int rc;

	if (strcmp(k->name, "rate") == 0) {
		c->have_rate = true;
		return ls_uri_parse_rate(v, &cfg->rate, reason);
	}
	if (strcmp(k->name, "epoch") == 0)
		return parse_epoch(v, &cfg->epoch_ns, reason);
	if (strcmp(k->name, "tolerance-ms") == 0) {
		c->have_tolerance = true;
		return ls_uri_parse_fixed(v, LS_NS_PER_MS, 1, 60 * LS_NS_PER_SEC, &cfg->tolerance_ns, reason);
	}
	if (strcmp(k->name, "max-latency-ms") == 0)
		return ls_uri_parse_fixed(v, LS_NS_PER_MS, 1, 60 * LS_NS_PER_SEC, &cfg->max_latency_ns, reason);
	if (strcmp(k->name, "hold-max-ms") == 0)
		return ls_uri_parse_fixed(v, LS_NS_PER_MS, 1, 3600 * LS_NS_PER_SEC, &cfg->hold_max_ns, reason);
	if (strcmp(k->name, "startup-ms") == 0)
		return ls_uri_parse_fixed(v, LS_NS_PER_MS, 1, 600 * LS_NS_PER_SEC, &cfg->startup_ns, reason);
	if (strcmp(k->name, "stall-s") == 0)
		return parse_stall(v, &cfg->stall_ns, reason);
	if (strcmp(k->name, "retry-max-s") == 0)
		return parse_retry_max(v, &cfg->retry_max_ns, reason);
	if (strcmp(k->name, "missing") == 0) {
		if (strcmp(v, "missing") == 0)
			cfg->policy = LS_POLICY_MISSING;
		else if (strcmp(v, "hold") == 0)
			cfg->policy = LS_POLICY_HOLD;
		else {
			*reason = g_strdup_printf("expected missing or hold, got \"%s\"", v);
			return -EINVAL;
		}
		return 0;
	}
	if (strcmp(k->name, "queue") == 0) {
		rc = ls_uri_parse_int(v, 1, 1024, &i64, reason);
		if (rc == 0)
			cfg->queue = (unsigned)i64;
		return rc;
	}
	g_assert_not_reached(); /* scan() let only known keys through */
	return -EINVAL;
}

static int camera_key(struct ls_camera_config *cam, const struct scan_group *g,
		      const struct scan_key *k, const char *v, char **reason)
{
	if (strcmp(k->name, "uri") == 0) {
		cam->uri = g_strdup(v);
		return ls_source_spec_parse(v, &cam->src, reason);
	}
	if (strcmp(k->name, "offset-ms") == 0 || strcmp(k->name, "offset") == 0) {
		const char *other = k->name[6] ? "offset" : "offset-ms";
		for (guint i = 0; i < g->keys->len; i++) {
			const struct scan_key *o = &g_array_index(g->keys, struct scan_key, i);
			if (o->line < k->line && strcmp(o->name, other) == 0) {
				*reason = g_strdup_printf("%s is already given at line %d (they are the same, in ms)",
							  other, o->line);
				return -EINVAL;
			}
		}
		return ls_uri_parse_fixed(v, LS_NS_PER_MS, -10 * LS_NS_PER_SEC, 10 * LS_NS_PER_SEC, &cam->offset_ns,
					  reason);
	}
	if (strcmp(k->name, "enabled") == 0)
		return ls_uri_parse_bool(v, &cam->enabled, reason);
	if (strcmp(k->name, "stall-s") == 0)
		return parse_stall(v, &cam->stall_ns, reason);
	if (strcmp(k->name, "retry-max-s") == 0)
		return parse_retry_max(v, &cam->retry_max_ns, reason);
	if (strcmp(k->name, "redact") == 0)
		return ls_uri_parse_bool(v, &cam->redact, reason);
	g_assert_not_reached();
	return -EINVAL;
}

static int output_key(struct ls_output_config *o, const struct scan_key *k, const char *v, char **reason)
{
	int64_t i64 = 0;
	int rc;

	if (strcmp(k->name, "file") == 0) {
		/* The container follows from the extension; ".mp4" alone or
		 * "dir/.mkv" has no name. */
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
		o->file = g_strdup(v);
		return 0;
	}
	if (strcmp(k->name, "display") == 0)
		return ls_uri_parse_bool(v, &o->display, reason);
	if (strcmp(k->name, "width") == 0 || strcmp(k->name, "height") == 0) {
		bool w = k->name[0] == 'w';
		rc = ls_uri_parse_int(v, 64, w ? 7680 : 4320, &i64, reason);
		if (rc < 0)
			return rc;
		if (i64 % 2) {
			*reason = g_strdup_printf("must be even, got \"%s\"", v);
			return -EINVAL;
		}
		*(w ? &o->width : &o->height) = (int)i64;
		return 0;
	}
	g_assert_not_reached();
	return -EINVAL;
}

static int shm_key(struct ls_output_config *o, const struct scan_key *k, const char *v, char **reason)
{
	int64_t i64 = 0;
	int rc;

	if (strcmp(k->name, "name") == 0) {
		char why[256];
		if (lshm_name_check(v, why, sizeof why) < 0) {
			*reason = g_strdup(why);
			return -EINVAL;
		}
		o->shm_name = g_strdup(v);
		return 0;
	}
	if (strcmp(k->name, "slots") == 0) {
		rc = ls_uri_parse_int(v, 2, 1024, &i64, reason);
		o->slots = (unsigned)i64;
		return rc;
	}
	if (strcmp(k->name, "group") == 0) {
		/* a name, resolved now so a typo fails at load, or a number */
		struct group *gr = getgrnam(v);
		if (gr) {
			o->gid = (int)gr->gr_gid;
			return 0;
		}
		if (ls_uri_parse_int(v, 0, INT32_MAX, &i64, NULL) == 0) {
			o->gid = (int)i64;
			return 0;
		}
		*reason = g_strdup_printf("no such group \"%s\"", v);
		return -EINVAL;
	}
	if (strcmp(k->name, "checksums") == 0)
		return ls_uri_parse_bool(v, &o->checksums, reason);
	g_assert_not_reached();
	return -EINVAL;
}

/* "on"/"off" as well as the booleans ls_uri_parse_bool() knows */
static int parse_onoff(const char *v, bool *out, char **reason)
{
	if (strcmp(v, "on") == 0 || strcmp(v, "off") == 0) {
		*out = v[1] == 'n';
		return 0;
	}
	if (ls_uri_parse_bool(v, out, NULL) == 0)
		return 0;
	*reason = g_strdup_printf("expected on or off, got \"%s\"", v);
	return -EINVAL;
}

static int parse_unit(const char *v, double *out, char **reason)
{
	int64_t x = 0;
	/* fixed point to 1e-6: "0.35" exactly, no locale */
	int rc = ls_uri_parse_fixed(v, 1000000, 1, 1000000, &x, NULL);
	if (rc < 0) {
		*reason = g_strdup_printf("expected a number in (0, 1], got \"%s\"", v);
		return -EINVAL;
	}
	*out = (double)x / 1e6;
	return 0;
}

static int detect_key(struct ls_detect_config *d, const struct scan_key *k, const char *v, char **reason)
{
	int64_t i64 = 0;
	int rc;

	if (strcmp(k->name, "model") == 0) {
		if (!*v) {
			*reason = g_strdup("empty model path");
			return -EINVAL;
		}
		d->model = g_strdup(v);
		return 0;
	}
	if (strcmp(k->name, "format") == 0) {
		if (strcmp(v, "auto") == 0)
			d->format = LS_DETECT_AUTO;
		else if (strcmp(v, "centernet") == 0)
			d->format = LS_DETECT_CENTERNET;
		else if (strcmp(v, "yolov8") == 0)
			d->format = LS_DETECT_YOLOV8;
		else if (strcmp(v, "dbnet") == 0)
			d->format = LS_DETECT_DBNET;
		else {
			*reason = g_strdup_printf("expected auto, centernet, yolov8 or dbnet, got \"%s\"", v);
			return -EINVAL;
		}
		return 0;
	}
	if (strcmp(k->name, "classes") == 0) {
		char **names = g_strsplit(v, ",", -1);
		memset(d->classes, 0, sizeof d->classes);
		d->all_classes = false;
		rc = 0;
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
	if (strcmp(k->name, "threshold") == 0)
		return parse_unit(v, &d->threshold, reason);
	if (strcmp(k->name, "iou") == 0)
		return parse_unit(v, &d->iou, reason);
	if (strcmp(k->name, "max-detections") == 0) {
		rc = ls_uri_parse_int(v, 1, 10000, &i64, reason);
		d->max_dets = (unsigned)i64;
		return rc;
	}
	if (strcmp(k->name, "every-n") == 0) {
		rc = ls_uri_parse_int(v, 1, 10000, &i64, reason);
		d->every_n = (unsigned)i64;
		return rc;
	}
	if (strcmp(k->name, "threads") == 0) {
		rc = ls_uri_parse_int(v, 0, 64, &i64, reason);
		d->threads = (unsigned)i64;
		return rc;
	}
	if (strcmp(k->name, "provider") == 0) {
		for (const char *const *p = detect_providers; *p; p++)
			if (strcmp(*p, v) == 0) {
				d->provider = g_strdup(v);
				return 0;
			}
		char *list = join(detect_providers);
		*reason = g_strdup_printf("unknown provider \"%s\" (expected %s)", v, list);
		g_free(list);
		return -EINVAL;
	}
	if (strcmp(k->name, "fallback") == 0) {
		if (strcmp(v, "cpu") != 0 && strcmp(v, "none") != 0) {
			*reason = g_strdup_printf("expected cpu or none, got \"%s\"", v);
			return -EINVAL;
		}
		d->fallback_cpu = v[0] == 'c';
		return 0;
	}
	if (strcmp(k->name, "output") == 0) {
		if (!*v) {
			*reason = g_strdup("empty path (use - for stdout)");
			return -EINVAL;
		}
		d->output = g_strdup(v);
		return 0;
	}
	if (strcmp(k->name, "draw") == 0)
		return parse_onoff(v, &d->draw, reason);
	if (strcmp(k->name, "motion-gate") == 0)
		return parse_onoff(v, &d->motion_gate, reason);
	if (strcmp(k->name, "clip-on") == 0) {
		char **names = g_strsplit(v, ",", -1);
		memset(d->clip_classes, 0, sizeof d->clip_classes);
		d->clip_motion = false;
		d->clip_line = k->line;
		rc = 0;
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
	if (strcmp(k->name, "clip-pre-s") == 0 || strcmp(k->name, "clip-post-s") == 0) {
		int64_t ms = 0;
		rc = ls_uri_parse_fixed(v, 1000, 0, 3600 * 1000, &ms, NULL);
		if (rc < 0) {
			*reason = g_strdup_printf("expected seconds in 0..3600, got \"%s\"", v);
			return -EINVAL;
		}
		*(k->name[6] == 'r' ? &d->clip_pre_s : &d->clip_post_s) = (double)ms / 1000;
		return 0;
	}
	if (strcmp(k->name, "clip-dir") == 0) {
		if (!*v) {
			*reason = g_strdup("empty path");
			return -EINVAL;
		}
		g_free(d->clip_dir);
		d->clip_dir = g_strdup(v);
		return 0;
	}
	if (strcmp(k->name, "input-size") == 0) {
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
	if (strcmp(k->name, "runtime") == 0) {
		d->runtime = g_strdup(v);
		return 0;
	}
	g_assert_not_reached();
	return -EINVAL;
}

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

static int file_key(struct ls_output_config *o, const struct scan_key *k, const char *v, char **reason)
{
	if (strcmp(k->name, "camera") == 0) {
		o->camera = g_strdup(v);
		return 0;
	}
	if (strcmp(k->name, "file") == 0) {
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
		o->file = g_strdup(v);
		return 0;
	}
	if (strcmp(k->name, "display") == 0)
		return ls_uri_parse_bool(v, &o->display, reason);
	g_assert_not_reached();
	return -EINVAL;
}

static int redact_key(struct ls_redact_config *r, const struct scan_key *k, const char *v, char **reason)
{
	int64_t i64 = 0;
	int rc;

	if (strcmp(k->name, "rules") == 0 || strcmp(k->name, "audit") == 0) {
		if (!*v) {
			*reason = g_strdup("needs a file name");
			return -EINVAL;
		}
		*(k->name[0] == 'r' ? &r->rules : &r->audit) = g_strdup(v);
		return 0;
	}
	if (strcmp(k->name, "workers") == 0) {
		rc = ls_uri_parse_int(v, 1, 64, &i64, reason);
		r->workers = (unsigned)i64;
		return rc;
	}
	if (strcmp(k->name, "budget-ms") == 0)
		return ls_uri_parse_fixed(v, LS_NS_PER_MS, LS_NS_PER_MS, 60 * LS_NS_PER_SEC, &r->budget_ns, reason);
	if (strcmp(k->name, "tile") == 0) {
		rc = ls_uri_parse_int(v, 8, 256, &i64, reason);
		if (rc == 0 && i64 % 8) {
			*reason = g_strdup_printf("must be a multiple of 8, got \"%s\"", v);
			return -EINVAL;
		}
		r->tile = (int)i64;
		return rc;
	}
	if (strcmp(k->name, "langs") == 0) {
		for (const char *p = v; *p; p++)
			if (!g_ascii_isalnum(*p) && *p != '+' && *p != '_') {
				*reason = g_strdup_printf("expected Tesseract languages such as eng+deu, got \"%s\"", v);
				return -EINVAL;
			}
		if (!*v) {
			*reason = g_strdup("expected Tesseract languages such as eng+deu");
			return -EINVAL;
		}
		r->langs = g_strdup(v);
		return 0;
	}
	if (strcmp(k->name, "canary-s") == 0)
		return ls_uri_parse_fixed(v, LS_NS_PER_SEC, LS_NS_PER_SEC / 10, 3600 * LS_NS_PER_SEC, &r->canary_ns,
					  reason);
	if (strcmp(k->name, "wait") == 0)
		return ls_uri_parse_bool(v, &r->wait, reason);
	g_assert_not_reached();
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

#define MIB INT64_C(1048576)

/* MiB, fractions allowed (to 6 digits), to bytes; 0..2^30 MiB. */
static int parse_mib(const char *v, int64_t *bytes, char **reason)
{
	int64_t micro = 0;
	int rc = ls_uri_parse_fixed(v, 1000000, 0, INT64_C(1000000) << 30, &micro, reason);
	if (rc == 0)
		*bytes = (int64_t)((__int128)micro * MIB / 1000000);
	return rc;
}

static int record_key(struct ctx *c, struct ls_record_config *r, const struct scan_key *k, const char *v,
		      char **reason)
{
	static const char *const presets[] = { "ultrafast", "superfast", "veryfast", "faster", "fast", "medium",
					       "slow", "slower", "veryslow", "placebo", NULL };
	static const char *const tunes[] = { "zerolatency", "fastdecode", "film", "animation", "grain", "stillimage",
					     "psnr", "ssim", "none", NULL };
	int64_t i64 = 0;
	int rc;

	if (strcmp(k->name, "dir") == 0) {
		if (!*v) {
			*reason = g_strdup("must not be empty");
			return -EINVAL;
		}
		r->dir = g_strdup(v);
		return 0;
	}
	if (strcmp(k->name, "segment-s") == 0)
		return ls_uri_parse_fixed(v, LS_NS_PER_SEC, LS_NS_PER_SEC / 10, 3600 * LS_NS_PER_SEC, &r->segment_ns,
					  reason);
	if (strcmp(k->name, "gop") == 0) {
		rc = ls_uri_parse_int(v, 1, 100000, &i64, reason);
		r->gop = (unsigned)i64;
		c->gop_line = k->line;
		return rc;
	}
	if (strcmp(k->name, "keep-minutes") == 0)
		return ls_uri_parse_fixed(v, 60 * LS_NS_PER_SEC, LS_NS_PER_SEC, INT64_C(5256000) * 60 * LS_NS_PER_SEC,
					  &r->keep_ns, reason);
	if (strcmp(k->name, "quota-mb") == 0)
		return parse_mib(v, &r->quota_bytes, reason);
	if (strcmp(k->name, "camera-quota-mb") == 0)
		return parse_mib(v, &r->camera_quota_bytes, reason);
	if (strcmp(k->name, "min-free-mb") == 0)
		return parse_mib(v, &r->min_free_bytes, reason);
	if (strcmp(k->name, "preset") == 0) {
		rc = one_of(v, presets, reason);
		if (rc == 0) {
			g_free(r->preset);
			r->preset = g_strdup(v);
		}
		return rc;
	}
	if (strcmp(k->name, "tune") == 0) {
		rc = one_of(v, tunes, reason);
		if (rc == 0) {
			g_free(r->tune);
			r->tune = g_strdup(v);
		}
		return rc;
	}
	if (strcmp(k->name, "bitrate-kbps") == 0) {
		rc = ls_uri_parse_int(v, 0, 1000000, &i64, reason);
		r->bitrate_kbps = (unsigned)i64;
		return rc;
	}
	if (strcmp(k->name, "copy") == 0) {
		if (strcmp(v, "auto") && strcmp(v, "off")) {
			*reason = g_strdup_printf("expected auto or off, got \"%s\"", v);
			return -EINVAL;
		}
		r->copy = strcmp(v, "auto") == 0;
		return 0;
	}
	if (strcmp(k->name, "encoder") == 0) {
		/* auto, x264, or a GStreamer element name (checked at start) */
		bool ok = *v && strlen(v) <= 64;
		for (const char *p = v; ok && *p; p++)
			ok = g_ascii_isalnum(*p) || *p == '_' || *p == '-';
		if (!ok) {
			*reason = g_strdup_printf("expected auto, x264 or a GStreamer element name, got \"%s\"", v);
			return -EINVAL;
		}
		g_free(r->encoder);
		r->encoder = g_strdup(v);
		return 0;
	}
	g_assert_not_reached();
	return -EINVAL;
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
			return at_line(c, c->gop_line,
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
	char *val = NULL, *reason = NULL;
	int rc = 0;

	switch (g->kind) {
	case G_RECORD:
		rec = g_new0(struct ls_record_config, 1);
		rec->segment_ns = 10 * LS_NS_PER_SEC;
		rec->keep_ns = 60 * 60 * LS_NS_PER_SEC;
		rec->min_free_bytes = 64 * MIB;
		rec->preset = g_strdup("ultrafast");
		rec->tune = g_strdup("zerolatency");
		rec->encoder = g_strdup("auto");
		rec->line = g->line;
		break;
	case G_RIG:
		c->have_rig = true;
		c->cfg->rig_line = g->line;
		break;
	case G_CAMERA:
		cam.name = g_strdup(g->name + 7);
		cam.enabled = true;
		cam.line = g->line;
		break;
	case G_OUTPUT:
		out.kind = LS_OUTPUT_MOSAIC;
		out.width = 1280;
		out.height = 720;
		out.line = g->line;
		break;
	case G_OUTPUT_SHM:
		out.kind = LS_OUTPUT_SHM;
		out.slots = 4;
		out.gid = -1;
		out.line = g->line;
		break;
	case G_OUTPUT_FILE:
		out.kind = LS_OUTPUT_FILE;
		out.line = g->line;
		break;
	case G_REDACT:
		c->cfg->redact.present = true;
		c->cfg->redact.line = g->line;
		break;
	case G_DETECT:
		det = g_new0(struct ls_detect_config, 1);
		det->all_classes = true;
		det->threshold = 0.3;
		det->iou = 0.5;
		det->max_dets = 100;
		det->every_n = 1;
		det->draw = true;
		det->clip_pre_s = 5;
		det->clip_post_s = 5;
		det->line = g->line;
		break;
	}
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
		switch (g->kind) {
		case G_RIG:
			rc = rig_key(c, k, val, &reason);
			break;
		case G_CAMERA:
			rc = camera_key(&cam, g, k, val, &reason);
			break;
		case G_OUTPUT:
			rc = output_key(&out, k, val, &reason);
			break;
		case G_OUTPUT_SHM:
			rc = shm_key(&out, k, val, &reason);
			break;
		case G_OUTPUT_FILE:
			rc = file_key(&out, k, val, &reason);
			break;
		case G_REDACT:
			rc = redact_key(&c->cfg->redact, k, val, &reason);
			break;
		case G_DETECT:
			rc = detect_key(det, k, val, &reason);
			break;
		case G_RECORD:
			rc = record_key(c, rec, k, val, &reason);
			break;
		}
		if (rc < 0) {
			rc = key_error(c, g, k, val, reason);
			reason = NULL;
			goto out;
		}
		g_clear_pointer(&val, g_free);
	}
	switch (g->kind) {
	case G_RIG:
		if (!c->have_rate)
			rc = at_line(c, g->line, "[rig] has no rate (e.g. rate = 30)");
		break;
	case G_CAMERA:
		if (!cam.uri) {
			rc = at_line(c, g->line, "[%s] has no uri (e.g. uri = test://?fps=30)", g->name);
			goto out;
		}
		g_array_append_val(c->cams, cam);
		memset(&cam, 0, sizeof cam);
		break;
	case G_OUTPUT:
		if (!out.file && !out.display) {
			rc = at_line(c, g->line, "[%s] needs file = PATH, display = true, or both", g->name);
			goto out;
		}
		g_array_append_val(c->outputs, out);
		memset(&out, 0, sizeof out);
		break;
	case G_OUTPUT_SHM:
		if (!out.shm_name) {
			rc = at_line(c, g->line, "[%s] needs name = NAME (the segment is /dev/shm/NAME)", g->name);
			goto out;
		}
		g_array_append_val(c->outputs, out);
		memset(&out, 0, sizeof out);
		break;
	case G_OUTPUT_FILE:
		if (!out.file && !out.display) {
			rc = at_line(c, g->line, "[%s] needs file = PATH, display = true, or both", g->name);
			goto out;
		}
		g_array_append_val(c->outputs, out);
		memset(&out, 0, sizeof out);
		break;
	case G_REDACT:
		break;
	case G_DETECT:
		if (!det->model) {
			rc = at_line(c, g->line, "[detect] needs model = FILE.onnx");
			goto out;
		}
		if (!det->provider)
			det->provider = g_strdup("cpu");
		c->cfg->detect = det;
		det = NULL;
		break;
	case G_RECORD:
		if (!rec->dir) {
			rc = at_line(c, g->line, "[record] needs dir = DIRECTORY (segments go to DIRECTORY/CAMERA/)");
			goto out;
		}
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
	c.cfg->path = g_strdup(name);
	c.cfg->max_latency_ns = 100 * LS_NS_PER_MS;
	c.cfg->policy = LS_POLICY_MISSING;
	c.cfg->hold_max_ns = 1000 * LS_NS_PER_MS;
	c.cfg->startup_ns = 2000 * LS_NS_PER_MS;
	c.cfg->stall_ns = 2 * LS_NS_PER_SEC;
	c.cfg->retry_max_ns = 5 * LS_NS_PER_SEC;
	c.cfg->queue = 4;

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
	if (!c.have_tolerance)
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
