/* config_keys — the table of config keys (config_tab[]) and what reads it:
 * the value parsers of each key type, the custom keys' parsers, defaults,
 * and the reference (`lockstep config-reference`, README.md, the man page's
 * CONFIGURATION) printed from the same rows. config.c walks the file and
 * calls in here for each key. */
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

#define EPOCH_MAX_NS (INT64_C(9200000000) * LS_NS_PER_SEC) /* ~2261 AD, just inside int64 ns */
#define MIB INT64_C(1048576)
#include "config_private.h"

/* "a, b, c" */
static char *join(const char *const *names) { return g_strjoinv(", ", (char **)names); }

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

int ls_config_parse_time(const char *s, int64_t *out_ns, char **err) { return parse_epoch(s, out_ns, err); }

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
#define SRV struct ls_server_config
#define BUS struct ls_bus_config
#define CLK struct ls_clock_config
#define RMT struct ls_remote_config

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
		     : g_str_has_suffix(low, ".ts")                                 ? 3
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

bool ls_config_host_is_loopback(const char *host)
{
	if (!host)
		return false;
	if (g_ascii_strcasecmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
		return true;
	if (g_ascii_strncasecmp(host, "::ffff:", 7) == 0)
		host += 7;
	unsigned a, b, cc, d;
	char end;
	return sscanf(host, "%u.%u.%u.%u%c", &a, &b, &cc, &d, &end) == 4 && a == 127 && b < 256 && cc < 256 && d < 256;
}

/* HOST:PORT or [IPv6]:PORT into *host (g_malloc'd, no brackets) and *port. */
static int parse_listen(const char *v, char **host, int *port, char **reason)
{
	const char *colon = strrchr(v, ':');
	int64_t p;

	if (!colon || colon == v) {
		*reason = g_strdup_printf("expected HOST:PORT (e.g. 127.0.0.1:8554), got \"%s\"", v);
		return -EINVAL;
	}
	if (v[0] == '[') {
		if (colon[-1] != ']' || colon - v < 3) {
			*reason = g_strdup_printf("expected [IPv6]:PORT, got \"%s\"", v);
			return -EINVAL;
		}
		*host = g_strndup(v + 1, (gsize)(colon - v - 2));
	} else {
		*host = g_strndup(v, (gsize)(colon - v));
		if (strchr(*host, ':')) {
			*reason = g_strdup_printf("an IPv6 address goes in brackets ([::1]:8554), got \"%s\"", v);
			g_clear_pointer(host, g_free);
			return -EINVAL;
		}
	}
	if (ls_value_parse_int(colon + 1, 1, 65535, &p, reason) < 0) {
		char *r = *reason;
		*reason = g_strdup_printf("port %s", r);
		g_free(r);
		g_clear_pointer(host, g_free);
		return -EINVAL;
	}
	*port = (int)p;
	return 0;
}

/* Stores a parsed listen value: the text as written, its host, its port. */
static int set_listen(char **listen, char **host, int *port, const char *v, char **reason)
{
	char *h = NULL;
	int p = 0;

	if (parse_listen(v, &h, &p, reason) < 0)
		return -EINVAL;
	g_free(*listen);
	g_free(*host);
	*listen = g_strdup(v);
	*host = h;
	*port = p;
	return 0;
}

/* [output rtsp] listen */
static int key_listen(const struct key_def *kd, const struct key_use *u, const char *v, char **reason)
{
	struct ls_output_config *o = u->base;
	(void)kd;
	return set_listen(&o->listen, &o->host, &o->port, v, reason);
}

/* [server] listen */
static int key_server_listen(const struct key_def *kd, const struct key_use *u, const char *v, char **reason)
{
	struct ls_server_config *o = u->base;
	(void)kd;
	return set_listen(&o->listen, &o->host, &o->port, v, reason);
}

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

/* [clock] server: HOST[:PORT] (the port filled in later by source) */
static int key_clock_server(const struct key_def *kd, const struct key_use *u, const char *v, char **reason)
{
	struct ls_clock_config *c = u->base;
	char *h = NULL;
	int p = 0;
	(void)kd;
	const char *colon = strrchr(v, ':');
	bool has_port = colon && (v[0] != '[' || colon[-1] == ']');
	if (has_port) {
		if (parse_listen(v, &h, &p, reason) < 0)
			return -EINVAL;
	} else if (v[0] == '[' && v[strlen(v) - 1] == ']' && strlen(v) > 2) {
		h = g_strndup(v + 1, strlen(v) - 2);
	} else if (*v && !strchr(v, ':') &&
		   strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == strlen(v)) {
		h = g_strdup(v);
	} else {
		*reason = g_strdup_printf("expected HOST or HOST:PORT, got \"%s\"", v);
		return -EINVAL;
	}
	g_free(c->server);
	g_free(c->host);
	c->server = g_strdup(v);
	c->host = h;
	c->port = p;
	return 0;
}

/* [clock] provide: PORT or HOST:PORT */
static int key_clock_provide(const struct key_def *kd, const struct key_use *u, const char *v, char **reason)
{
	struct ls_clock_config *c = u->base;
	int64_t p = 0;
	(void)kd;
	if (strspn(v, "0123456789") == strlen(v)) {
		char *r = NULL;
		if (ls_value_parse_int(v, 1, 65535, &p, &r) < 0) {
			*reason = g_strdup_printf("port %s", r);
			g_free(r);
			return -EINVAL;
		}
		g_free(c->provide);
		g_free(c->provide_host);
		c->provide = g_strdup(v);
		c->provide_host = g_strdup("0.0.0.0");
		c->provide_port = (int)p;
		return 0;
	}
	return set_listen(&c->provide, &c->provide_host, &c->provide_port, v, reason);
}

/* [bus] */

/* url: one server, or a comma-separated list (a NATS cluster), each
 * SCHEME://[USER[:PASSWORD]@]HOST[:PORT]; every one of one transport. */
static int key_bus_url(const struct key_def *kd, const struct key_use *u, const char *v, char **reason)
{
	struct ls_bus_config *b = u->base;
	char **parts = g_strsplit(v, ",", -1);
	GPtrArray *servers = g_ptr_array_new_with_free_func(g_free);
	int rc = 0, kind = -1;
	bool tls = false;

	(void)kd;
	for (char **pp = parts; *pp && rc == 0; pp++) {
		char *one = g_strstrip(*pp), *host = NULL, *userinfo = NULL;
		const char *sep = strstr(one, "://");
		static const struct {
			const char *scheme;
			int kind, port;
			bool tls;
		} schemes[] = {
			{ "nats", LS_BUS_NATS, 4222, false },
			{ "tls", LS_BUS_NATS, 4222, true },
			{ "mqtt", LS_BUS_MQTT, 1883, false },
			{ "mqtts", LS_BUS_MQTT, 8883, true },
		};
		int si = -1;
		for (unsigned i = 0; sep && i < G_N_ELEMENTS(schemes); i++)
			if (strlen(schemes[i].scheme) == (size_t)(sep - one) &&
			    g_ascii_strncasecmp(one, schemes[i].scheme, (gsize)(sep - one)) == 0)
				si = (int)i;
		if (si < 0) {
			*reason = g_strdup_printf("expected nats://HOST:PORT, tls://, mqtt:// or mqtts://, got \"%s\"",
						  one);
			rc = -EINVAL;
			break;
		}
		if (kind >= 0 && kind != schemes[si].kind) {
			*reason = g_strdup_printf("\"%s\": every server of the list must be NATS or every one MQTT",
						  one);
			rc = -EINVAL;
			break;
		}
		if (schemes[si].kind == LS_BUS_MQTT && servers->len) {
			*reason = g_strdup("MQTT takes one server");
			rc = -EINVAL;
			break;
		}
		kind = schemes[si].kind;
		tls = tls || schemes[si].tls;
		const char *hp = sep + 3;
		const char *at = strrchr(hp, '@');
		if (at) {
			userinfo = g_strndup(hp, (gsize)(at - hp));
			hp = at + 1;
		}
		if (strchr(hp, '/') || strchr(hp, '?')) {
			*reason = g_strdup_printf("\"%s\": no path or query after HOST:PORT", one);
			g_free(userinfo);
			rc = -EINVAL;
			break;
		}
		int port = schemes[si].port;
		const char *colon = strrchr(hp, ':');
		bool v6 = hp[0] == '[';
		if (colon && (!v6 || colon[-1] == ']')) {
			char *pr = NULL;
			int64_t pv = 0;
			if (ls_value_parse_int(colon + 1, 1, 65535, &pv, &pr) < 0) {
				*reason = g_strdup_printf("\"%s\": port %s", one, pr);
				g_free(pr);
				g_free(userinfo);
				rc = -EINVAL;
				break;
			}
			port = (int)pv;
			host = g_strndup(hp, (gsize)(colon - hp));
		} else {
			host = g_strdup(hp);
		}
		if (v6 && host[0] == '[') {
			size_t hl = strlen(host);
			if (hl < 3 || host[hl - 1] != ']') {
				*reason = g_strdup_printf("\"%s\": expected [IPv6]:PORT", one);
				rc = -EINVAL;
			} else {
				memmove(host, host + 1, hl - 2);
				host[hl - 2] = 0;
			}
		}
		if (rc == 0 &&
		    (!*host || strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:") !=
				       strlen(host))) {
			*reason = g_strdup_printf("\"%s\": bad host \"%s\"", one, host);
			rc = -EINVAL;
		}
		if (rc == 0) {
			if (userinfo) {
				char *colon2 = strchr(userinfo, ':');
				if (colon2)
					*colon2 = 0;
				if (!b->user && *userinfo)
					b->user = g_uri_unescape_string(userinfo, NULL);
				if (!b->password && colon2)
					b->password = g_uri_unescape_string(colon2 + 1, NULL);
			}
			bool brackets = strchr(host, ':') != NULL;
			g_ptr_array_add(servers, g_strdup_printf("%s://%s%s%s:%d", schemes[si].scheme,
								 brackets ? "[" : "", host, brackets ? "]" : "", port));
			if (!b->host) {
				b->host = g_strdup(host);
				b->port = port;
			}
		}
		g_free(host);
		g_free(userinfo);
	}
	g_strfreev(parts);
	if (rc == 0 && !servers->len) {
		*reason = g_strdup("expected nats://HOST:PORT or mqtt://HOST:PORT");
		rc = -EINVAL;
	}
	if (rc == 0) {
		g_free(b->url);
		b->url = g_strdup(v);
		b->transport = (enum ls_bus_transport_kind)kind;
		b->tls = b->tls || tls;
		g_ptr_array_add(servers, NULL);
		g_strfreev(b->servers);
		b->servers = (char **)g_ptr_array_free(servers, FALSE);
	} else {
		g_ptr_array_free(servers, TRUE);
	}
	return rc;
}

/* name, stream: 1 to 64 of A-Z a-z 0-9 _ - */
static int key_bus_word(const struct key_def *kd, const struct key_use *u, const char *v, char **reason)
{
	size_t n = strlen(v);
	if (n < 1 || n > 64 || strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != n) {
		*reason = g_strdup_printf("expected 1 to 64 of A-Z a-z 0-9 _ -, got \"%s\"", v);
		return -EINVAL;
	}
	char **p = key_field(kd, u);
	g_free(*p);
	*p = g_strdup(v);
	return 0;
}

/* subject-prefix: tokens of A-Z a-z 0-9 _ - joined by '.', no wildcards */
static int key_bus_prefix(const struct key_def *kd, const struct key_use *u, const char *v, char **reason)
{
	size_t n = strlen(v);
	bool ok = n >= 1 && n <= 200 && v[0] != '.' && v[n - 1] != '.' && !strstr(v, "..");
	ok = ok && strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") == n;
	if (!ok) {
		*reason = g_strdup_printf("expected tokens of A-Z a-z 0-9 _ - joined by '.' (no * or >), such as "
					  "lockstep.site1, got \"%s\"",
					  v);
		return -EINVAL;
	}
	char **p = key_field(kd, u);
	g_free(*p);
	*p = g_strdup(v);
	return 0;
}

static const struct choice clock_choices[] = {
	{ "system", LS_CLOCK_SYSTEM },
	{ "ptp", LS_CLOCK_PTP },
	{ "ntp", LS_CLOCK_NTP },
	{ "net", LS_CLOCK_NET },
	{ NULL, 0 },
};

static const char *const bus_kinds[] = { "frameset", "detections", "events", "stats", "deepstream", NULL };

static int key_bus_messages(const struct key_def *kd, const struct key_use *u, const char *v, char **reason)
{
	char **names = g_strsplit(v, ",", -1);
	unsigned bits = 0;
	int rc = 0;
	for (char **p = names; *p && rc == 0; p++) {
		char *n = g_strstrip(*p);
		int i = -1;
		for (int k = 0; bus_kinds[k]; k++)
			if (strcmp(n, bus_kinds[k]) == 0)
				i = k;
		if (i < 0) {
			char *l = join(bus_kinds);
			*reason = g_strdup_printf("unknown message kind \"%s\" (expected a list of %s)", n, l);
			g_free(l);
			rc = -EINVAL;
		}
		bits |= 1u << (i < 0 ? 0 : i);
	}
	g_strfreev(names);
	if (rc == 0 && !bits) {
		*reason = g_strdup("empty list");
		rc = -EINVAL;
	}
	if (rc == 0)
		*(unsigned *)key_field(kd, u) = bits;
	return rc;
}

/* [detect] */

/* Execution providers by their config name; stages/detector.c maps them to ONNX
 * Runtime's names. */
/* clang-format off */
static const char *const detect_providers[] = {
	"cpu", "cuda", "tensorrt", "openvino", "dnnl", "rocm", "migraphx", "coreml", "qnn", "xnnpack", "webgpu", NULL,
};
/* clang-format on */

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
						  "bicycle, dog)",
						  n);
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
						  "car, bus, bicycle, dog)",
						  n);
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

static const char *const x264_presets[] = { "ultrafast", "superfast", "veryfast", "faster",  "fast", "medium",
					    "slow",      "slower",    "veryslow", "placebo", NULL };
static const char *const x264_tunes[] = { "zerolatency", "fastdecode", "film", "animation", "grain",
					  "stillimage",  "psnr",       "ssim", "none",      NULL };

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
static const struct choice masked_choices[] = { { "block", LS_REMOTE_BLOCK }, { "allow", LS_REMOTE_ALLOW }, { 0 } };

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
	  .defdoc = "T/2", .doc = "a frame belongs to slot n only this close to its centre" },
	{ G_RIG, "max-latency-ms", K_FIXED, F_I64(RIG, max_latency_ns), .unit = MS, .min = 1, .max = 60 * SEC,
	  .def = "100", .doc = "deadline of slot n: epoch + n·T + max-latency" },
	{ G_RIG, "missing", K_ENUM, F_ENUM(RIG, policy), .choices = missing_choices, .def = "missing",
	  .doc = "a camera without a frame in a set: mark it missing, or hold its last frame" },
	{ G_RIG, "hold-max-ms", K_FIXED, F_I64(RIG, hold_max_ns), .unit = MS, .min = 1, .max = 3600 * SEC,
	  .def = "1000", .doc = "hold: the oldest frame that may be repeated" },
	{ G_RIG, "startup-ms", K_FIXED, F_I64(RIG, startup_ns), .unit = MS, .min = 1, .max = 600 * SEC, .def = "2000",
	  .doc = "wait this long for every camera's first frame before the first slot" },
	{ G_RIG, "queue", K_INT, F_INT(RIG, queue), .min = 1, .max = 1024, .def = "4",
	  .doc = "framesets queued per output before the oldest is dropped" },
	{ G_RIG, "stall-s", K_FIXED, F_I64(RIG, stall_ns), .unit = SEC, .min = SEC / 10, .max = 3600 * SEC, .def = "2",
	  .doc = "a camera that sends nothing this long, connected or not, is reconnected" },
	{ G_RIG, "retry-max-s", K_FIXED, F_I64(RIG, retry_max_ns), .unit = SEC, .min = SEC / 10, .max = 3600 * SEC,
	  .def = "5", .doc = "the longest wait between reconnection attempts, which start at 0.5 s and double" },

	/* [camera NAME] */
	{ G_CAMERA, "uri", K_CUSTOM, F_ANY(CAM, uri), .parse = key_uri, .eg = "test://?fps=30",
	  .missing = "has no uri (e.g. uri = test://?fps=30)",
	  .doc = "the source; see Camera URIs in README.md, and source_spec.h" },
	{ G_CAMERA, "offset-ms", K_CUSTOM, F_I64(CAM, offset_ns), .parse = key_offset, .unit = MS, .min = -10 * SEC,
	  .max = 10 * SEC, .def = "0",
	  .doc = "calibrated offset o: n = round((t - epoch - o) / T), may be fractional" },
	{ G_CAMERA, "offset", K_CUSTOM, F_I64(CAM, offset_ns), .parse = key_offset, .unit = MS, .min = -10 * SEC,
	  .max = 10 * SEC, .def = "0", .doc = "the same as offset-ms; give one of them" },
	{ G_CAMERA, "enabled", K_BOOL, F_BOOL(CAM, enabled), .def = "true",
	  .doc = "false: checked, then left out of the rig" },
	{ G_CAMERA, "redact", K_BOOL, F_BOOL(CAM, redact), .def = "off",
	  .doc = "on: personal data masked before any output sees a frame (see [redact])" },
	{ G_CAMERA, "stall-s", K_FIXED, F_I64(CAM, stall_ns), .unit = SEC, .min = SEC / 10, .max = 3600 * SEC,
	  .eg = "2", .defdoc = "[rig] stall-s", .doc = "this camera's own stall-s" },
	{ G_CAMERA, "retry-max-s", K_FIXED, F_I64(CAM, retry_max_ns), .unit = SEC, .min = SEC / 10, .max = 3600 * SEC,
	  .eg = "5", .defdoc = "[rig] retry-max-s", .doc = "this camera's own retry-max-s" },

	/* [output mosaic] */
	{ G_OUTPUT, "file", K_CUSTOM, F_STR(OUT, file), .parse = key_mosaic_file, .eg = "out/rig.mp4", .defdoc = "none",
	  .doc = ".mp4 (fragmented), .mkv or .ts, H.264; relative to the working directory" },
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

	/* [output rtsp] */
	{ G_OUTPUT_RTSP, "listen", K_CUSTOM, F_STR(OUT, listen), .parse = key_listen, .def = "127.0.0.1:8554",
	  .range = "HOST:PORT, [IPv6]:PORT",
	  .doc = "where the server listens; an address other than loopback needs password" },
	{ G_OUTPUT_RTSP, "user", K_STRING, F_STR(OUT, user), .empty = "needs a name", .def = "lockstep",
	  .doc = "RTSP Basic auth user, when password is set" },
	{ G_OUTPUT_RTSP, "password", K_STRING, F_STR(OUT, password), .empty = "needs a password", .eg = "s3cret",
	  .defdoc = "none (no auth: loopback only)", .doc = "RTSP Basic auth password every client must give" },
	{ G_OUTPUT_RTSP, "bitrate-kbps", K_INT, F_INT(OUT, bitrate_kbps), .min = 100, .max = 100000, .def = "4000",
	  .doc = "H.264 bit rate of each stream, kbit/s" },
	{ G_OUTPUT_RTSP, "keyframe-s", K_FIXED, F_I64(OUT, keyframe_ns), .unit = SEC, .min = SEC / 10, .max = 60 * SEC,
	  .def = "1", .doc = "longest time between keyframes (how long a new client waits for a picture)" },
	{ G_OUTPUT_RTSP, "mosaic", K_BOOL, F_BOOL(OUT, mosaic), .def = "true",
	  .doc = "serve /mosaic (every camera tiled) beside /CAMERA" },
	{ G_OUTPUT_RTSP, "width", K_INT, F_INT(OUT, width), .min = 64, .max = 7680, .step = 2, .def = "1280",
	  .doc = "/mosaic's width, pixels" },
	{ G_OUTPUT_RTSP, "height", K_INT, F_INT(OUT, height), .min = 64, .max = 4320, .step = 2, .def = "720",
	  .doc = "/mosaic's height, pixels" },

	/* [redact] */
	{ G_REDACT, "rules", K_STRING, F_STR(RED, rules), .empty = "needs a file name", .eg = "rules/pii.rules",
	  .defdoc = "lockstep's rules/pii.rules", .doc = "personal-data rules" },
	{ G_REDACT, "audit", K_STRING, F_STR(RED, audit), .empty = "needs a file name", .eg = "audit.jsonl",
	  .defdoc = "none", .doc = "JSON-lines audit log (no personal data in it)" },
	{ G_REDACT, "workers", K_INT, F_INT(RED, workers), .min = 1, .max = 64, .eg = "2",
	  .defdoc = "the number of cores", .doc = "OCR threads" },
	{ G_REDACT, "budget-ms", K_FIXED, F_I64(RED, budget_ns), .unit = MS, .min = MS, .max = 60 * SEC, .eg = "150",
	  .defdoc = "150", .doc = "frames older than this are masked whole" },
	{ G_REDACT, "tile", K_INT, F_INT(RED, tile), .min = 8, .max = 256, .step = 8, .eg = "32", .defdoc = "32",
	  .doc = "change-detection tile edge, pixels" },
	{ G_REDACT, "langs", K_CUSTOM, F_STR(RED, langs), .parse = key_langs, .eg = "eng+deu", .defdoc = "eng+deu",
	  .doc = "Tesseract languages" },
	{ G_REDACT, "canary-s", K_FIXED, F_I64(RED, canary_ns), .unit = SEC, .min = SEC / 10, .max = 3600 * SEC,
	  .eg = "10", .defdoc = "off", .doc = "inject a synthetic IBAN every N s and check that it is masked" },
	{ G_REDACT, "wait", K_BOOL, F_BOOL(RED, wait), .def = "false",
	  .doc = "offline: wait for OCR instead of masking unread text" },
	{ G_REDACT, "hold-ms", K_FIXED, F_I64(RED, hold_ns), .unit = MS, .min = 0, .max = 100 * MS, .def = "0",
	  .doc = "live: a frame with at most 4 new lines (typing) waits this long for their OCR, within the budget; 0: never; 40 suits a remote desktop" },

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

	/* [server] */
	{ G_SERVER, "listen", K_CUSTOM, F_STR(SRV, listen), .parse = key_server_listen, .def = "127.0.0.1:8080",
	  .range = "HOST:PORT, [IPv6]:PORT",
	  .doc = "where the HTTP server listens; an address other than loopback needs token or TLS" },
	{ G_SERVER, "token", K_STRING, F_STR(SRV, token), .empty = "needs a token", .eg = "s3cret", .defdoc = "none",
	  .doc = "every request needs Authorization: Bearer TOKEN (players: ?token=TOKEN)" },
	{ G_SERVER, "cert", K_STRING, F_STR(SRV, cert), .empty = "needs a file name", .eg = "server.pem",
	  .defdoc = "none (plain HTTP)", .doc = "TLS certificate, PEM: HTTPS" },
	{ G_SERVER, "key", K_STRING, F_STR(SRV, key), .empty = "needs a file name", .eg = "server.key",
	  .defdoc = "none", .doc = "the certificate's private key, PEM; required with cert" },
	{ G_SERVER, "max-viewers", K_INT, F_INT(SRV, max_viewers), .min = 0, .max = 1000, .def = "16",
	  .doc = "WebRTC viewers (POST /whep/...) at once, all streams together; past it: 503" },
	{ G_SERVER, "bitrate-kbps", K_INT, F_INT(SRV, bitrate_kbps), .min = 100, .max = 100000, .def = "4000",
	  .doc = "H.264 bitrate of each WebRTC stream, kbit/s" },
	{ G_SERVER, "keyframe-s", K_FIXED, F_I64(SRV, keyframe_ns), .unit = SEC, .min = SEC / 10, .max = 60 * SEC,
	  .def = "2", .doc = "longest time between keyframes of a WebRTC stream (a new viewer asks for one at once)" },
	{ G_SERVER, "mosaic-width", K_INT, F_INT(SRV, mosaic_width), .min = 64, .max = 7680, .step = 2, .def = "1280",
	  .doc = "/whep/mosaic's width, pixels" },
	{ G_SERVER, "mosaic-height", K_INT, F_INT(SRV, mosaic_height), .min = 64, .max = 4320, .step = 2, .def = "720",
	  .doc = "/whep/mosaic's height, pixels" },

	/* [remote] */
	{ G_REMOTE, "camera", K_STRING, F_STR(RMT, camera), .empty = "needs a camera name", .eg = "screen",
	  .defdoc = "the only redacted x11:// camera", .doc = "the redacted x11:// camera /remote shows" },
	{ G_REMOTE, "input", K_ONOFF, F_BOOL(RMT, input), .def = "off",
	  .doc = "on: the controlling agent's mouse and keyboard reach the screen (XTest); off: view only" },
	{ G_REMOTE, "input-when-masked", K_ENUM, F_ENUM(RMT, when_masked), .choices = masked_choices, .def = "block",
	  .doc = "while the whole frame is masked (OCR down, canary failed): block input, or allow it" },
	{ G_REMOTE, "paste", K_ONOFF, F_BOOL(RMT, paste), .def = "off",
	  .doc = "on: the page may paste text into the screen (typed); nothing is ever copied out" },
	{ G_REMOTE, "max-input-rate", K_INT, F_INT(RMT, max_rate), .min = 1, .max = 10000, .def = "200",
	  .doc = "input events a second (a burst of twice that); beyond it they are dropped and counted" },
	{ G_REMOTE, "audit", K_STRING, F_STR(RMT, audit), .empty = "needs a file name", .eg = "remote.jsonl",
	  .defdoc = "none",
	  .doc = "session audit, JSON lines: who, when, input counts, full masks, canaries; no screen text" },

	/* [clock] */
	{ G_CLOCK, "source", K_ENUM, F_ENUM(CLK, source), .choices = clock_choices, .def = "system",
	  .doc = "system: CLOCK_REALTIME (linuxptp or chrony discipline it); ptp, ntp, or net: another lockstep" },
	{ G_CLOCK, "domain", K_INT, F_INT(CLK, domain), .min = 0, .max = 255, .def = "0",
	  .doc = "ptp: the PTP domain" },
	{ G_CLOCK, "interfaces", K_STRING, F_STR(CLK, interfaces), .empty = "needs interface names", .eg = "eth0",
	  .defdoc = "all", .doc = "ptp: the interfaces PTP runs on, comma-separated" },
	{ G_CLOCK, "server", K_CUSTOM, F_STR(CLK, server), .parse = key_clock_server, .eg = "10.0.0.1:123",
	  .range = "HOST[:PORT]", .defdoc = "none",
	  .doc = "ntp: the NTP server (port 123); net: the lockstep that provides its clock (HOST:PORT)" },
	{ G_CLOCK, "provide", K_CUSTOM, F_STR(CLK, provide), .parse = key_clock_provide, .eg = "5556",
	  .range = "PORT or HOST:PORT", .defdoc = "none", .doc = "serve this rig's clock to source = net rigs" },
	{ G_CLOCK, "sync-wait-s", K_FIXED, F_I64(CLK, sync_wait_ns), .unit = SEC, .min = 0, .max = 600 * SEC,
	  .def = "10",
	  .doc = "how long the start waits for the first sync (then frames are marked unsynced until it comes)" },
	{ G_CLOCK, "max-offset-ms", K_FIXED, F_I64(CLK, max_offset_ns), .unit = MS, .min = MS / 1000, .max = 60 * SEC,
	  .def = "1", .doc = "system: a sync daemon reporting a larger offset counts as unsynced" },

	/* [bus] */
	{ G_BUS, "url", K_CUSTOM, F_STR(BUS, url), .parse = key_bus_url, .eg = "nats://127.0.0.1:4222",
	  .range = "nats://, tls:// (a comma-separated list for a cluster), mqtt://, mqtts://; USER:PASSWORD@ allowed",
	  .missing = "needs url = nats://HOST:PORT or mqtt://HOST:PORT", .doc = "the broker" },
	{ G_BUS, "user", K_STRING, F_STR(BUS, user), .empty = "needs a name", .eg = "rig1",
	  .defdoc = "the URL's, else none", .doc = "user name" },
	{ G_BUS, "password", K_STRING, F_STR(BUS, password), .empty = "needs a password", .eg = "s3cret",
	  .defdoc = "the URL's, else none", .doc = "password" },
	{ G_BUS, "token", K_STRING, F_STR(BUS, token), .empty = "needs a token", .eg = "s3cret", .defdoc = "none",
	  .doc = "NATS token authentication" },
	{ G_BUS, "creds", K_STRING, F_STR(BUS, creds), .empty = "needs a file name", .eg = "rig.creds",
	  .defdoc = "none", .doc = "NATS credentials file (JWT and NKey seed)" },
	{ G_BUS, "tls", K_ONOFF, F_BOOL(BUS, tls), .eg = "on", .defdoc = "on for tls:// and mqtts://, else off",
	  .doc = "TLS to the broker" },
	{ G_BUS, "ca", K_STRING, F_STR(BUS, ca), .empty = "needs a file name", .eg = "ca.pem",
	  .defdoc = "the system's CAs", .doc = "CA certificates (PEM) the broker's certificate is checked against" },
	{ G_BUS, "cert", K_STRING, F_STR(BUS, cert), .empty = "needs a file name", .eg = "client.pem", .defdoc = "none",
	  .doc = "TLS client certificate (PEM)" },
	{ G_BUS, "key", K_STRING, F_STR(BUS, key), .empty = "needs a file name", .eg = "client.key", .defdoc = "none",
	  .doc = "its private key (PEM); required with cert" },
	{ G_BUS, "name", K_CUSTOM, F_STR(BUS, name), .parse = key_bus_word, .eg = "rig1",
	  .range = "1 to 64 of A-Z a-z 0-9 _ -", .defdoc = "the host name",
	  .doc = "the rig's name on the bus: in every message and message id" },
	{ G_BUS, "subject-prefix", K_CUSTOM, F_STR(BUS, prefix), .parse = key_bus_prefix, .eg = "lockstep.rig1",
	  .range = "tokens of A-Z a-z 0-9 _ - joined by .", .defdoc = "lockstep.NAME",
	  .doc = "subjects are PREFIX.frameset, .detections, .events.KIND, .stats (MQTT: / for .)" },
	{ G_BUS, "messages", K_CUSTOM, F_INT(BUS, messages), .parse = key_bus_messages, .names = bus_kinds,
	  .range = "a list of frameset, detections, events, stats, deepstream",
	  .def = "frameset,detections,events,stats",
	  .doc = "the message kinds sent (deepstream: DeepStream's minimal schema)" },
	{ G_BUS, "jetstream", K_ONOFF, F_BOOL(BUS, jetstream), .def = "on",
	  .doc = "NATS: publish to a JetStream stream with acks; off: core NATS, at most once" },
	{ G_BUS, "stream", K_CUSTOM, F_STR(BUS, stream), .parse = key_bus_word, .eg = "LOCKSTEP_RIG1",
	  .range = "1 to 64 of A-Z a-z 0-9 _ -", .defdoc = "LOCKSTEP_NAME",
	  .doc = "JetStream stream, made if missing" },
	{ G_BUS, "stream-max-mb", K_CUSTOM, F_I64(BUS, stream_max_bytes), .parse = key_mib, .unit = 1000000,
	  .min = 1000000, .max = INT64_C(1000000) << 30, .range = "1..1048576", .def = "1024",
	  .doc = "the stream's size limit when made, MiB" },
	{ G_BUS, "stream-max-age-s", K_FIXED, F_I64(BUS, stream_max_age_ns), .unit = SEC, .min = 0,
	  .max = INT64_C(315360000) * SEC, .def = "86400", .doc = "the stream's age limit when made; 0: none" },
	{ G_BUS, "replicas", K_INT, F_INT(BUS, replicas), .min = 1, .max = 5, .def = "1",
	  .doc = "the stream's replicas when made (a cluster: 3)" },
	{ G_BUS, "spool", K_STRING, F_STR(BUS, spool), .empty = "needs a file name",
	  .eg = "/var/lib/lockstep/bus.spool",
	  .defdoc = "bus-NAME.spool in [record] dir, else in the working directory",
	  .doc = "SQLite spool: messages kept while the broker is down, replayed in order" },
	{ G_BUS, "spool-mb", K_CUSTOM, F_I64(BUS, spool_bytes), .parse = key_mib, .unit = 1000000, .min = 100000,
	  .max = INT64_C(1000000) << 30, .range = "0.1..1048576", .def = "256",
	  .doc = "the spool's bound, MiB: the oldest go first, counted" },
	{ G_BUS, "queue", K_INT, F_INT(BUS, queue), .min = 16, .max = 1048576, .def = "65536",
	  .doc = "messages between the rig and the publisher thread" },
	{ G_BUS, "ack-timeout-ms", K_FIXED, F_I64(BUS, ack_timeout_ns), .unit = MS, .min = 10 * MS, .max = 60 * SEC,
	  .def = "2000", .doc = "a publish not acknowledged in this time is spooled and sent again" },
	{ G_BUS, "control", K_ONOFF, F_BOOL(BUS, control), .def = "off",
	  .doc = "on: obey PREFIX.control (start at an epoch, stop) and PREFIX.clip (export a clip); the run waits for start" },
};

#undef MS
#undef SEC

static const struct group_def group_tab[] = {
	[G_RIG] = { "rig", sizeof(RIG), "[rig]", "required" },
	[G_CAMERA] = { NULL, sizeof(CAM), "[camera NAME]",
		       "one per camera; NAME: 1 to 32 of A-Z a-z 0-9 _ . -, unique" },
	[G_OUTPUT] = { "output mosaic", sizeof(OUT), "[output mosaic]",
		       "optional: the cameras tiled into one picture; needs file, display = true or both" },
	[G_OUTPUT_SHM] = { "output shm", sizeof(OUT), "[output shm]",
			   "optional: every frameset in /dev/shm/NAME for other processes" },
	[G_OUTPUT_FILE] = { "output file", sizeof(OUT), "[output file]",
			    "optional: one camera's frames at their own size; needs file, display = true or both" },
	[G_OUTPUT_RTSP] = { "output rtsp", sizeof(OUT), "[output rtsp]",
			    "optional: an RTSP server, rtsp://HOST:PORT/CAMERA and /mosaic, capture time in every frame" },
	[G_REDACT] = { "redact", sizeof(RED), "[redact]", "optional: how cameras with redact = on are redacted" },
	[G_DETECT] = { "detect", sizeof(DET), "[detect]", "optional: object detection with ONNX Runtime" },
	[G_RECORD] = { "record", sizeof(REC), "[record]", "optional: every camera to H.264 segments on disk" },
	[G_SERVER] = { "server", sizeof(SRV), "[server]", "optional: lockstep's HTTP server, the API under /api/v1" },
	[G_CLOCK] = { "clock", sizeof(CLK), "[clock]",
		      "optional: where the rig's time comes from (default: the system clock)" },
	[G_BUS] = { "bus", sizeof(BUS), "[bus]",
		    "optional: metadata to NATS JetStream or MQTT, spooled while the broker is down" },
	[G_REMOTE] = { "remote", sizeof(RMT), "[remote]",
		       "optional: the redacted remote desktop (/remote): a redacted x11:// camera, viewed and worked "
		       "in the browser; needs [server] with token =" },
};

#undef RIG
#undef CAM
#undef OUT
#undef RED
#undef DET
#undef REC
#undef SRV
#undef BUS
#undef CLK
#undef RMT
#undef AT
#undef F_I64
#undef F_INT
#undef F_ENUM
#undef F_BOOL
#undef F_STR
#undef F_DBL
#undef F_ANY

static size_t group_struct_size(enum group_kind kind) { return group_tab[kind].size; }

int cfg_group_kind_of(const char *name)
{
	for (size_t i = 0; i < G_N_ELEMENTS(group_tab); i++)
		if (group_tab[i].name && strcmp(group_tab[i].name, name) == 0)
			return (int)i;
	return -1;
}

const struct key_def *cfg_key_next(enum group_kind kind, const struct key_def *prev)
{
	const struct key_def *end = config_tab + G_N_ELEMENTS(config_tab);

	for (const struct key_def *kd = prev ? prev + 1 : config_tab; kd < end; kd++)
		if (kd->group == kind)
			return kd;
	return NULL;
}

const struct key_def *cfg_find_key(enum group_kind kind, const char *name)
{
	for (size_t i = 0; i < G_N_ELEMENTS(config_tab); i++)
		if (config_tab[i].group == kind && strcmp(config_tab[i].name, name) == 0)
			return &config_tab[i];
	return NULL;
}

/* "a, b, c": the keys of @kind, for the unknown-key message */
char *cfg_key_names(enum group_kind kind)
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
int cfg_set_key(const struct key_def *kd, const struct key_use *u, const char *v, char **reason)
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
void cfg_set_defaults(enum group_kind kind, const struct key_use *u)
{
	for (size_t i = 0; i < G_N_ELEMENTS(config_tab); i++) {
		const struct key_def *kd = &config_tab[i];
		char *reason = NULL;

		if (kd->group != kind || !kd->def)
			continue;
		if (cfg_set_key(kd, u, kd->def, &reason) < 0)
			g_error("config_tab: default \"%s\" of %s: %s", kd->def, kd->name, reason);
	}
}

/* ---- pass 1: lines --------------------------------------------------- */

/* ---- the reference --------------------------------------------------- */

/* @ns in units of @unit_ns, as short as exact: 0.1, 3600, -10000 */
static void append_fixed(GString *s, int64_t ns, int64_t unit_ns)
{
	char buf[32];

	ls_value_format_fixed(buf, sizeof buf, ns, unit_ns);
	g_string_append(s, buf);
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

/* The reference's two forms, the INI block (ls_config_reference()) and the
 * man page's (ls_config_reference_man()), are writers of one walk over the
 * table, so they list the same keys under the same groups in the same
 * order, and say the same about each. */
struct ref_writer {
	void (*group)(GString *s, const struct group_def *gd, bool first);
	/* @range: append_range()'s text, "" where the key has none */
	void (*key)(GString *s, const struct key_def *kd, const char *range);
};

static void ref_walk(GString *s, const struct ref_writer *w)
{
	GString *range = g_string_new(NULL);

	for (size_t gk = 0; gk < G_N_ELEMENTS(group_tab); gk++) {
		w->group(s, &group_tab[gk], gk == 0);
		for (const struct key_def *kd = cfg_key_next(gk, NULL); kd; kd = cfg_key_next(gk, kd)) {
			g_string_truncate(range, 0);
			append_range(range, kd);
			w->key(s, kd, range->str);
		}
	}
	g_string_free(range, TRUE);
}

/* The value the reference shows for a key: its default, or an example
 * where it has none. */
static const char *ref_value(const struct key_def *kd) { return kd->def ? kd->def : kd->eg; }

/* "left   # doc": the comments line up after column 24 */
static void append_line(GString *s, const char *left, const char *doc)
{
	g_string_append_printf(s, "%-23s # %s\n", left, doc);
}

static void ini_group(GString *s, const struct group_def *gd, bool first)
{
	if (!first)
		g_string_append_c(s, '\n');
	append_line(s, gd->header, gd->doc);
}

/* "key = value  # doc (range); required" or "...; default T/2" */
static void ini_key(GString *s, const struct key_def *kd, const char *range)
{
	GString *doc = g_string_new(kd->doc);
	char *left = g_strdup_printf("%s = %s", kd->name, ref_value(kd));

	if (*range)
		g_string_append_printf(doc, " (%s)", range);
	if (kd->missing)
		g_string_append(doc, "; required");
	else if (kd->defdoc)
		g_string_append_printf(doc, "; default %s", kd->defdoc);
	append_line(s, left, doc->str);
	g_free(left);
	g_string_free(doc, TRUE);
}

char *ls_config_reference(void)
{
	static const struct ref_writer ini = { ini_group, ini_key };
	GString *s = g_string_new(NULL);

	ref_walk(s, &ini);
	return g_string_free(s, FALSE);
}

/* ".SS [group]" and its doc as a paragraph, a sentence: "Required." */
static void man_group(GString *s, const struct group_def *gd, bool first)
{
	char *doc = g_strdup_printf("%s.", gd->doc);

	doc[0] = g_ascii_toupper(doc[0]);
	g_string_append(s, ".SS \"");
	ls_man_str(s, gd->header);
	g_string_append(s, "\"\n");
	ls_man_str(s, doc);
	g_string_append_c(s, '\n');
	g_free(doc);
}

/* What a key's value is, where the table knows: NULL for the custom keys
 * without a unit (their range or doc says it) and for those that take one
 * of a list (the range lists it). */
static const char *man_type(const struct key_def *kd)
{
	switch (kd->type) {
	case K_INT:
		return "integer";
	case K_FIXED:
		if (kd->unit == LS_NS_PER_MS)
			return "milliseconds";
		if (kd->unit == LS_NS_PER_SEC)
			return "seconds";
		if (kd->unit == 60 * LS_NS_PER_SEC)
			return "minutes";
		return "number";
	case K_CUSTOM:
		/* a custom key's unit is its parser's own, not always ns
		 * (threshold's is millionths) */
		return kd->unit ? "number" : NULL;
	case K_BOOL:
		return "boolean";
	case K_STRING:
		return "string";
	case K_ONOFF:
	case K_ENUM:
	case K_NAME:
		break;
	}
	return NULL;
}

/* A tagged paragraph: the key, what it does, then one line with its type,
 * range and default (or "required"): what ini_key() says, and the type. */
static void man_key(GString *s, const struct key_def *kd, const char *range)
{
	const char *type = man_type(kd);
	GString *facts = g_string_new(NULL);

	g_string_append(s, ".TP\n.B ");
	ls_man_str(s, kd->name);
	g_string_append_c(s, '\n');
	ls_man_str(s, kd->doc);
	g_string_append(s, "\n.br\n");
	if (type)
		g_string_append_printf(facts, "type: %s", type);
	if (*range)
		g_string_append_printf(facts, "%s%s: %s", facts->len ? "; " : "", type ? "range" : "values", range);
	if (kd->missing)
		g_string_append_printf(facts, "%srequired", facts->len ? "; " : "");
	else if (kd->defdoc || kd->def)
		g_string_append_printf(facts, "%sdefault: %s", facts->len ? "; " : "",
				       kd->defdoc ? kd->defdoc : kd->def);
	if (!kd->def && kd->eg)
		g_string_append_printf(facts, "%sexample: %s", facts->len ? "; " : "", kd->eg);
	/* "Type: ...", "Values: ...", "Required; ..." */
	if (facts->len) {
		facts->str[0] = g_ascii_toupper(facts->str[0]);
		ls_man_str(s, facts->str);
		g_string_append_c(s, '\n');
	}
	g_string_free(facts, TRUE);
}

char *ls_config_reference_man(void)
{
	static const struct ref_writer man = { man_group, man_key };
	GString *s = g_string_new(NULL);

	ref_walk(s, &man);
	return g_string_free(s, FALSE);
}
