/* source_spec — see source_spec.h: parsing and checking camera source URIs.
 * Pure string work on GLib; no GStreamer here, so that the parser and its
 * tests build and run on machines without it. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* O_CLOEXEC under -std=c11 */
#endif
#include "source_spec.h"
#include "values.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

/* ---- errors ---------------------------------------------------------- */

#define fail(err, ...) ls_value_fail((err), EINVAL, __VA_ARGS__)

/* ---- options --------------------------------------------------------- */

enum opt_type {
	OPT_RATE,      /* struct ls_rate */
	OPT_MS,        /* int64_t ns, given in ms, range [min, max] ns */
	OPT_INT,       /* int, range [min, max], `even` */
	OPT_DOUBLE,    /* double, range [dmin, dmax] */
	OPT_BOOL,      /* bool */
	OPT_U64,       /* uint64_t */
	OPT_PATTERN,   /* const char *, static */
	OPT_FORMAT,    /* char *, owned */
	OPT_TRANSPORT, /* enum ls_rtsp_transport */
	OPT_CODEC,     /* enum ls_codec */
};

struct opt {
	const char *name;
	enum opt_type type;
	size_t off; /* into struct ls_source_spec */
	int64_t min, max;
	double dmin, dmax;
	bool even;
};

#define OFF(m) offsetof(struct ls_source_spec, m)

static const struct opt test_opts[] = {
	{ "fps", OPT_RATE, OFF(test.fps), 0, 0, 0, 0, false },
	{ "offset-ms", OPT_MS, OFF(test.offset_ns), -10 * LS_NS_PER_SEC, 10 * LS_NS_PER_SEC, 0, 0, false },
	{ "jitter-ms", OPT_MS, OFF(test.jitter_ns), 0, LS_NS_PER_SEC, 0, 0, false },
	{ "drift-ppm", OPT_DOUBLE, OFF(test.drift_ppm), 0, 0, -10000.0, 10000.0, false },
	{ "drop", OPT_DOUBLE, OFF(test.drop), 0, 0, 0.0, 1.0, false },
	{ "width", OPT_INT, OFF(test.width), 16, 7680, 0, 0, true },
	{ "height", OPT_INT, OFF(test.height), 16, 7680, 0, 0, true },
	{ "pattern", OPT_PATTERN, OFF(test.pattern), 0, 0, 0, 0, false },
	{ "seed", OPT_U64, OFF(test.seed), 0, 0, 0, 0, false },
};

static const struct opt file_opts[] = {
	{ "realtime", OPT_BOOL, OFF(file.realtime), 0, 0, 0, 0, false },
	{ "loop", OPT_BOOL, OFF(file.loop), 0, 0, 0, 0, false },
};

static const struct opt v4l2_opts[] = {
	{ "width", OPT_INT, OFF(v4l2.width), 16, 7680, 0, 0, true },
	{ "height", OPT_INT, OFF(v4l2.height), 16, 4320, 0, 0, true },
	{ "fps", OPT_RATE, OFF(v4l2.fps), 0, 0, 0, 0, false },
	{ "format", OPT_FORMAT, OFF(v4l2.format), 0, 0, 0, 0, false },
};

static const struct opt rtsp_opts[] = {
	{ "latency", OPT_INT, OFF(rtsp.latency_ms), 0, 10000, 0, 0, false },
	{ "transport", OPT_TRANSPORT, OFF(rtsp.transport), 0, 0, 0, 0, false },
	{ "codec", OPT_CODEC, OFF(rtsp.codec), 0, 0, 0, 0, false },
};

static const struct opt udp_opts[] = {
	{ "latency", OPT_INT, OFF(udp.latency_ms), 0, 10000, 0, 0, false },
	{ "payload", OPT_INT, OFF(udp.payload), 0, 127, 0, 0, false },
	{ "codec", OPT_CODEC, OFF(udp.codec), 0, 0, 0, 0, false },
};

static const struct opt x11_opts[] = {
	{ "x", OPT_INT, OFF(x11.x), 0, 16383, 0, 0, false },
	{ "y", OPT_INT, OFF(x11.y), 0, 16383, 0, 0, false },
	{ "width", OPT_INT, OFF(x11.width), 16, 16384, 0, 0, true },
	{ "height", OPT_INT, OFF(x11.height), 16, 16384, 0, 0, true },
	{ "fps", OPT_RATE, OFF(x11.fps), 0, 0, 0, 0, false },
	{ "show-pointer", OPT_BOOL, OFF(x11.show_pointer), 0, 0, 0, 0, false },
};

static const struct opt fbdev_opts[] = {
	{ "fps", OPT_RATE, OFF(fbdev.fps), 0, 0, 0, 0, false },
	{ "width", OPT_INT, OFF(fbdev.width), 16, 16384, 0, 0, true },
	{ "height", OPT_INT, OFF(fbdev.height), 16, 16384, 0, 0, true },
	{ "format", OPT_FORMAT, OFF(fbdev.format), 0, 0, 0, 0, false },
	{ "stride", OPT_INT, OFF(fbdev.stride), 1, 1 << 20, 0, 0, false },
};

/* The nicknames of GStreamer 1.22's GstVideoTestSrcPattern, in enum order. */
/* clang-format off */
static const char *const patterns[] = {
	"smpte", "snow", "black", "white", "red", "green", "blue",
	"checkers-1", "checkers-2", "checkers-4", "checkers-8", "circular", "blink", "smpte75",
	"zone-plate", "gamut", "chroma-zone-plate", "solid-color", "ball", "smpte100", "bar",
	"pinwheel", "spokes", "gradient", "colors", "smpte-rp-219",
};
/* clang-format on */

static char *join_names(const struct opt *opts, size_t n)
{
	GString *s = g_string_new(NULL);

	for (size_t i = 0; i < n; i++)
		g_string_append_printf(s, "%s%s", i ? ", " : "", opts[i].name);
	return g_string_free(s, FALSE);
}

/* GStreamer raw format names are short alphanumerics with '_' (GRAY16_LE). */
static bool format_name_ok(const char *f)
{
	size_t n = strlen(f);

	if (n < 2 || n > 16)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!g_ascii_isalnum(f[i]) && f[i] != '_')
			return false;
	return true;
}

static int set_option(struct ls_source_spec *s, const struct opt *o, const char *val, char **err)
{
	void *p = (char *)s + o->off;
	int64_t i64 = 0;
	int rc;

	switch (o->type) {
	case OPT_RATE:
		return ls_value_parse_rate(val, p, err);
	case OPT_MS:
		return ls_value_parse_fixed(val, LS_NS_PER_MS, o->min, o->max, p, err);
	case OPT_INT:
		rc = ls_value_parse_int(val, o->min, o->max, &i64, err);
		if (rc < 0)
			return rc;
		if (o->even && i64 % 2)
			return fail(err, "must be even, got \"%s\"", val);
		*(int *)p = (int)i64;
		return 0;
	case OPT_DOUBLE:
		return ls_value_parse_double(val, o->dmin, o->dmax, p, err);
	case OPT_BOOL:
		return ls_value_parse_bool(val, p, err);
	case OPT_U64: {
		guint64 u;
		if (!g_ascii_string_to_unsigned(val, 10, 0, G_MAXUINT64, &u, NULL))
			return fail(err, "expected an unsigned integer, got \"%s\"", val);
		*(uint64_t *)p = u;
		return 0;
	}
	case OPT_PATTERN:
		if (strcmp(val, LS_PATTERN_CLOCK) == 0) {
			*(const char **)p = LS_PATTERN_CLOCK;
			return 0;
		}
		for (size_t i = 0; i < G_N_ELEMENTS(patterns); i++) {
			if (strcmp(val, patterns[i]) == 0) {
				*(const char **)p = patterns[i];
				return 0;
			}
		}
		return fail(
			err,
			"unknown pattern \"%s\" (expected clock, or a videotestsrc pattern such as smpte, ball, snow, pinwheel, gradient)",
			val);
	case OPT_FORMAT:
		if (!format_name_ok(val))
			return fail(
				err,
				"bad format \"%s\" (expected a GStreamer format name such as YUY2, NV12, I420, or MJPG)",
				val);
		*(char **)p = g_strdup(val);
		return 0;
	case OPT_TRANSPORT:
		if (strcmp(val, "tcp") == 0)
			*(enum ls_rtsp_transport *)p = LS_RTSP_TCP;
		else if (strcmp(val, "udp") == 0)
			*(enum ls_rtsp_transport *)p = LS_RTSP_UDP;
		else if (strcmp(val, "auto") == 0)
			*(enum ls_rtsp_transport *)p = LS_RTSP_AUTO;
		else
			return fail(err, "unknown transport \"%s\" (expected tcp, udp or auto)", val);
		return 0;
	case OPT_CODEC:
		if (strcmp(val, "h264") == 0)
			*(enum ls_codec *)p = LS_CODEC_H264;
		else if (strcmp(val, "h265") == 0)
			*(enum ls_codec *)p = LS_CODEC_H265;
		else
			return fail(err, "unknown codec \"%s\" (expected h264 or h265)", val);
		return 0;
	}
	return fail(err, "internal error: option type %d", (int)o->type);
}

/* Parses "k=v&k=v" (NULL or "" for none) against @opts. */
static int parse_options(struct ls_source_spec *s, const char *query, const struct opt *opts, size_t nopts,
			 const char *label, char **err)
{
	bool seen[16] = { false };
	char **items = NULL;
	char *key = NULL, *val = NULL, *reason = NULL;
	int rc = 0;

	g_assert(nopts <= G_N_ELEMENTS(seen));
	if (!query || !*query)
		return 0;
	items = g_strsplit(query, "&", -1);
	for (char **it = items; *it; it++) {
		const char *eq = strchr(*it, '=');
		size_t i;

		if (!**it) {
			rc = fail(err, "empty option (stray '&') in \"%s\"", query);
			goto out;
		}
		key = g_uri_unescape_segment(*it, eq, NULL);
		val = eq ? g_uri_unescape_string(eq + 1, NULL) : NULL;
		if (!key || (eq && !val)) {
			rc = fail(err, "bad percent-encoding in option \"%s\"", *it);
			goto out;
		}
		for (i = 0; i < nopts; i++)
			if (strcmp(key, opts[i].name) == 0)
				break;
		if (i == nopts) {
			char *names = join_names(opts, nopts);
			rc = fail(err, "unknown option \"%s\" for %s (expected %s)", key, label, names);
			g_free(names);
			goto out;
		}
		if (!eq) {
			rc = fail(err, "option \"%s\" needs a value (%s=...)", key, key);
			goto out;
		}
		if (seen[i]) {
			rc = fail(err, "option \"%s\" given twice", key);
			goto out;
		}
		seen[i] = true;
		rc = set_option(s, &opts[i], val, &reason);
		if (rc < 0) {
			rc = fail(err, "option \"%s\": %s", key, reason);
			goto out;
		}
		g_clear_pointer(&key, g_free);
		g_clear_pointer(&val, g_free);
	}
out:
	g_free(reason);
	g_free(val);
	g_free(key);
	g_strfreev(items);
	return rc;
}

/* ---- schemes --------------------------------------------------------- */

/* An absolute path before the query, percent-decoded. */
static int parse_path(const char *scheme, const char *rest, size_t len, char **out, char **err)
{
	char *path;

	if (len == 0)
		return fail(err, "missing path (expected %s:///absolute/path)", scheme);
	if (rest[0] != '/')
		return fail(err, "path must be absolute: %s:///path, got %s://%.*s", scheme, scheme, (int)len, rest);
	/* %00 would cut the path short: g_uri_unescape_segment() refuses it. */
	path = g_uri_unescape_segment(rest, rest + len, NULL);
	if (!path)
		return fail(err, "bad percent-encoding in path \"%.*s\"", (int)len, rest);
	*out = path;
	return 0;
}

/* "[host]:N[.S]" — the X11 display name syntax (host may be empty, a name, an
 * IPv4 address or a bracketed IPv6 address, or "unix"). */
static bool display_ok(const char *d)
{
	const char *colon = strrchr(d, ':');
	const char *p;

	if (!colon)
		return false;
	for (p = d; p < colon; p++)
		if (!g_ascii_isalnum(*p) && !strchr("._-[]:/", *p))
			return false;
	p = colon + 1;
	if (!g_ascii_isdigit(*p))
		return false;
	while (g_ascii_isdigit(*p))
		p++;
	if (*p == '.') {
		p++;
		if (!g_ascii_isdigit(*p))
			return false;
		while (g_ascii_isdigit(*p))
			p++;
	}
	return *p == '\0';
}

/* host[:port] from an authority, IPv6 in brackets; *port = 0 when absent. */
static int parse_hostport(const char *a, size_t len, char **host, int *port, bool need_port, char **err)
{
	const char *end = a + len, *hend, *colon = NULL;
	char *tmp = NULL;
	int64_t v = 0;
	int rc;

	if (len && a[0] == '[') {
		hend = memchr(a, ']', len);
		if (!hend)
			return fail(err, "missing ']' after IPv6 address in \"%.*s\"", (int)len, a);
		*host = g_strndup(a + 1, (size_t)(hend - a - 1));
		hend++;
		if (hend < end) {
			if (*hend != ':') {
				rc = fail(err, "unexpected \"%.*s\" after ']'", (int)(end - hend), hend);
				goto fail_host;
			}
			colon = hend;
		}
	} else {
		colon = memchr(a, ':', len);
		if (colon && memchr(colon + 1, ':', (size_t)(end - colon - 1)))
			return fail(err, "IPv6 address must be in brackets: [%.*s]", (int)len, a);
		hend = colon ? colon : end;
		*host = g_strndup(a, (size_t)(hend - a));
	}
	if (!**host) {
		rc = fail(err, "missing host in \"%.*s\"%s", (int)len, a,
			  need_port ? " (use 0.0.0.0 to listen on every interface)" : "");
		goto fail_host;
	}
	for (const char *p = *host; *p; p++) {
		if (!g_ascii_isalnum(*p) && !strchr(".-_:%", *p)) {
			rc = fail(err, "bad character '%c' in host \"%s\"", *p, *host);
			goto fail_host;
		}
	}
	*port = 0;
	if (!colon) {
		if (need_port) {
			rc = fail(err, "missing port in \"%.*s\" (expected HOST:PORT)", (int)len, a);
			goto fail_host;
		}
		return 0;
	}
	tmp = g_strndup(colon + 1, (size_t)(end - colon - 1));
	rc = ls_value_parse_int(tmp, 1, 65535, &v, NULL);
	if (rc < 0) {
		rc = fail(err, "bad port \"%s\" (expected 1..65535)", tmp);
		goto fail_host;
	}
	*port = (int)v;
	g_free(tmp);
	return 0;
fail_host:
	g_free(tmp);
	g_clear_pointer(host, g_free);
	return rc;
}

static int parse_test(struct ls_source_spec *s, const char *rest, const char *query, size_t plen, char **err)
{
	s->test.fps = (struct ls_rate){ 30, 1 };
	s->test.width = 640;
	s->test.height = 360;
	s->test.pattern = patterns[0];
	if (plen)
		return fail(err, "test:// takes no host or path, got \"%.*s\" (expected test://?fps=30&...)", (int)plen,
			    rest);
	return parse_options(s, query, test_opts, G_N_ELEMENTS(test_opts), "test://", err);
}

static int parse_file(struct ls_source_spec *s, const char *rest, const char *query, size_t plen, char **err)
{
	int rc;

	s->file.realtime = true;
	rc = parse_path("file", rest, plen, &s->file.path, err);
	if (rc < 0)
		return rc;
	return parse_options(s, query, file_opts, G_N_ELEMENTS(file_opts), "file://", err);
}

static int parse_v4l2(struct ls_source_spec *s, const char *rest, const char *query, size_t plen, char **err)
{
	int rc = parse_path("v4l2", rest, plen, &s->v4l2.device, err);

	if (rc < 0)
		return rc;
	return parse_options(s, query, v4l2_opts, G_N_ELEMENTS(v4l2_opts), "v4l2://", err);
}

static int parse_fbdev(struct ls_source_spec *s, const char *rest, const char *query, size_t plen, char **err)
{
	int rc;

	s->fbdev.fps = (struct ls_rate){ 15, 1 };
	rc = parse_path("fbdev", rest, plen, &s->fbdev.device, err);
	if (rc < 0)
		return rc;
	return parse_options(s, query, fbdev_opts, G_N_ELEMENTS(fbdev_opts), "fbdev://", err);
}

/* @uri is the whole URI: the location is kept verbatim, the options are in
 * the fragment because the query belongs to the camera. */
static int parse_rtsp(struct ls_source_spec *s, const char *uri, const char *rest, char **err)
{
	const char *hash = strchr(uri, '#');
	size_t alen = strcspn(rest, "/?#");
	const char *at = NULL;
	char *host = NULL;
	int port, rc;

	s->rtsp.latency_ms = 200;
	s->rtsp.transport = LS_RTSP_TCP;
	s->rtsp.codec = LS_CODEC_H264;
	/* The password may hold '@': the host follows the last one. */
	for (const char *p = rest; p < rest + alen; p++)
		if (*p == '@')
			at = p;
	if (at) {
		alen -= (size_t)(at + 1 - rest);
		rest = at + 1;
	}
	rc = parse_hostport(rest, alen, &host, &port, false, err);
	g_free(host);
	if (rc < 0)
		return rc;
	s->rtsp.location = hash ? g_strndup(uri, (size_t)(hash - uri)) : g_strdup(uri);
	return parse_options(s, hash ? hash + 1 : NULL, rtsp_opts, G_N_ELEMENTS(rtsp_opts),
			     "rtsp:// (options go after '#')", err);
}

static int parse_udp(struct ls_source_spec *s, const char *rest, const char *query, size_t plen, char **err)
{
	int rc;

	s->udp.latency_ms = 200;
	s->udp.payload = 96;
	s->udp.codec = LS_CODEC_H264;
	if (memchr(rest, '/', plen))
		return fail(err, "udp:// takes no path, got \"%.*s\" (expected udp://HOST:PORT)", (int)plen, rest);
	rc = parse_hostport(rest, plen, &s->udp.host, &s->udp.port, true, err);
	if (rc < 0)
		return rc;
	return parse_options(s, query, udp_opts, G_N_ELEMENTS(udp_opts), "udp://", err);
}

static int parse_x11(struct ls_source_spec *s, const char *rest, const char *query, size_t plen, char **err)
{
	s->x11.fps = (struct ls_rate){ 30, 1 };
	s->x11.display = g_uri_unescape_segment(rest, rest + plen, NULL);
	if (!s->x11.display)
		return fail(err, "bad percent-encoding in display \"%.*s\"", (int)plen, rest);
	if (*s->x11.display && !display_ok(s->x11.display))
		return fail(err, "bad display \"%s\" (expected [host]:N[.S], e.g. :0 or :99.0)", s->x11.display);
	return parse_options(s, query, x11_opts, G_N_ELEMENTS(x11_opts), "x11://", err);
}

/* clang-format off */
static const char *const kind_names[] = {
	[LS_SRC_NONE] = "none", [LS_SRC_TEST] = "test", [LS_SRC_FILE] = "file", [LS_SRC_V4L2] = "v4l2",
	[LS_SRC_RTSP] = "rtsp", [LS_SRC_UDP] = "udp",   [LS_SRC_X11] = "x11",   [LS_SRC_FBDEV] = "fbdev",
};
/* clang-format on */

const char *ls_source_kind_name(enum ls_source_kind kind)
{
	if ((unsigned)kind >= G_N_ELEMENTS(kind_names))
		return "?";
	return kind_names[kind];
}

int ls_source_spec_parse(const char *uri, struct ls_source_spec *out, char **err)
{
	const char *sep, *rest, *query;
	size_t slen, plen;
	int kind, rc;

	memset(out, 0, sizeof *out);
	if (!uri || !*uri)
		return fail(err, "empty URI (expected e.g. test://?fps=30 or file:///path/to/video.mp4)");
	for (const char *p = uri; *p; p++) {
		if (*p == ' ')
			return fail(err, "space in URI \"%s\": percent-encode it as %%20", uri);
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return fail(err, "control character in URI");
	}
	sep = strstr(uri, "://");
	slen = strspn(uri, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");
	if (!sep || (size_t)(sep - uri) != slen || slen == 0) {
		if (uri[slen] == ':' && slen > 0)
			return fail(err, "expected \"%.*s://\" in \"%s\"", (int)slen, uri, uri);
		return fail(err, "not a URI: \"%s\" (expected scheme://..., e.g. test://?fps=30)", uri);
	}
	rest = sep + 3;
	for (kind = LS_SRC_TEST; kind <= LS_SRC_FBDEV; kind++)
		if (strlen(kind_names[kind]) == slen && g_ascii_strncasecmp(uri, kind_names[kind], slen) == 0)
			break;
	if (kind > LS_SRC_FBDEV)
		return fail(err, "unknown scheme \"%.*s\" (expected test, file, v4l2, rtsp, udp, x11, fbdev)",
			    (int)slen, uri);
	out->kind = (enum ls_source_kind)kind;
	if (out->kind == LS_SRC_RTSP) {
		rc = parse_rtsp(out, uri, rest, err);
		goto done;
	}
	/* Only rtsp has a fragment: a '#' anywhere else is a typo or belongs in
	 * a path, where it must be written %23. */
	if (strchr(rest, '#')) {
		rc = fail(err, "unexpected '#' in %s:// URI (write %%23 for a '#' in a path)", kind_names[out->kind]);
		goto fail;
	}
	query = strchr(rest, '?');
	plen = query ? (size_t)(query - rest) : strlen(rest);
	if (query)
		query++;
	switch (out->kind) {
	case LS_SRC_TEST:
		rc = parse_test(out, rest, query, plen, err);
		break;
	case LS_SRC_FILE:
		rc = parse_file(out, rest, query, plen, err);
		break;
	case LS_SRC_V4L2:
		rc = parse_v4l2(out, rest, query, plen, err);
		break;
	case LS_SRC_UDP:
		rc = parse_udp(out, rest, query, plen, err);
		break;
	case LS_SRC_X11:
		rc = parse_x11(out, rest, query, plen, err);
		break;
	case LS_SRC_FBDEV:
		rc = parse_fbdev(out, rest, query, plen, err);
		break;
	default:
		rc = fail(err, "internal error: kind %d", (int)out->kind);
		break;
	}
done:
	if (rc < 0)
		goto fail;
	return 0;
fail:
	ls_source_spec_clear(out);
	return rc;
}

void ls_source_spec_clear(struct ls_source_spec *s)
{
	if (!s)
		return;
	switch (s->kind) {
	case LS_SRC_FILE:
		g_free(s->file.path);
		break;
	case LS_SRC_V4L2:
		g_free(s->v4l2.device);
		g_free(s->v4l2.format);
		break;
	case LS_SRC_RTSP:
		g_free(s->rtsp.location);
		break;
	case LS_SRC_UDP:
		g_free(s->udp.host);
		break;
	case LS_SRC_X11:
		g_free(s->x11.display);
		break;
	case LS_SRC_FBDEV:
		g_free(s->fbdev.device);
		g_free(s->fbdev.format);
		break;
	case LS_SRC_NONE:
	case LS_SRC_TEST:
		break;
	}
	memset(s, 0, sizeof *s);
}

/* ---- check ----------------------------------------------------------- */

static int check_chardev(const char *path, int mode, char **err)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return ls_value_fail(err, errno, "%s: %s", path, g_strerror(errno));
	if (!S_ISCHR(st.st_mode))
		return ls_value_fail(err, ENODEV, "%s: not a character device", path);
	if (access(path, mode) < 0)
		return ls_value_fail(err, errno, "%s: %s", path, g_strerror(errno));
	return 0;
}

static int check_file(const char *path, char **err)
{
	struct stat st;
	int fd;

	/* stat() first: open() on a FIFO would block. */
	if (stat(path, &st) < 0)
		return ls_value_fail(err, errno, "%s: %s", path, g_strerror(errno));
	if (S_ISDIR(st.st_mode))
		return ls_value_fail(err, EISDIR, "%s: is a directory, not a video file", path);
	if (!S_ISREG(st.st_mode))
		return ls_value_fail(err, EINVAL, "%s: not a regular file", path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ls_value_fail(err, errno, "%s: %s", path, g_strerror(errno));
	close(fd);
	return 0;
}

int ls_source_spec_check(const struct ls_source_spec *s, char **err)
{
	switch (s->kind) {
	case LS_SRC_TEST:
	case LS_SRC_RTSP:
		return 0;
	case LS_SRC_FILE:
		return check_file(s->file.path, err);
	case LS_SRC_V4L2:
		/* v4l2src opens the device read-write. */
		return check_chardev(s->v4l2.device, R_OK | W_OK, err);
	case LS_SRC_FBDEV: {
		struct stat st;
		if (stat(s->fbdev.device, &st) == 0 && S_ISREG(st.st_mode)) {
			if (!s->fbdev.width || !s->fbdev.height || !s->fbdev.format)
				return fail(err,
					    "%s: a regular file, not a framebuffer device: give width, height and "
					    "format (e.g. ?width=1920&height=1080&format=BGRx)",
					    s->fbdev.device);
			return access(s->fbdev.device, R_OK) < 0
				       ? ls_value_fail(err, errno, "%s: %s", s->fbdev.device, g_strerror(errno))
				       : 0;
		}
		return check_chardev(s->fbdev.device, R_OK, err);
	}
	case LS_SRC_X11: {
		const char *d = *s->x11.display ? s->x11.display : g_getenv("DISPLAY");
		if (!d || !*d)
			return fail(err, "x11:// without a display and $DISPLAY is not set");
		if (!display_ok(d))
			return fail(err, "bad X11 display \"%s\"%s (expected [host]:N[.S])", d,
				    *s->x11.display ? "" : " in $DISPLAY");
		return 0;
	}
	case LS_SRC_UDP:
		if (s->udp.port < 1 || s->udp.port > 65535)
			return fail(err, "udp port %d out of range 1..65535", s->udp.port);
		if (!s->udp.host || !*s->udp.host)
			return fail(err, "udp:// without a host");
		return 0;
	case LS_SRC_NONE:
		break;
	}
	return fail(err, "no source");
}
