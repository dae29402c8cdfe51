/* config — see config.h. The reader: it walks the file and loads it.
 *
 * Every key is one row of config_tab[] in config_keys.c (in the spirit of
 * linuxptp's config_tab[]): its group, name, type, range, default, the
 * field it fills and a line of documentation. The parser, the "unknown key"
 * message and ls_config_reference() (`lockstep config-reference`,
 * README.md) all read that table, so they cannot disagree.
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
#include "config_private.h"

struct ctx {
	const char *file; /* for messages */
	char **err;
	GPtrArray *groups; /* struct scan_group *, in file order */
	GKeyFile *kf;
	struct ls_config *cfg;
	GArray *cams;    /* struct ls_camera_config, enabled or not, in file order */
	GArray *outputs; /* struct ls_output_config */
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
static int key_error(struct ctx *c, const struct scan_group *g, const struct scan_key *k, const char *val, char *reason)
{
	int rc = at_line(c, k->line, "[%s] %s: %s%s", g->name, k->name, reason, val ? comment_hint(val) : "");

	g_free(reason);
	return rc;
}

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
	int kind = g_str_has_prefix(name, "camera ") ? G_CAMERA : cfg_group_kind_of(name);

	if (kind == G_CAMERA && !camera_name_ok(name + 7))
		return at_line(c, line, "bad camera name \"%s\" (expected 1 to %d of A-Z a-z 0-9 _ . -)", name + 7,
			       LS_CONFIG_NAME_MAX);
	if (kind < 0 && strcmp(name, "camera") == 0)
		return at_line(c, line, "[camera] needs a name: [camera NAME]");
	if (kind < 0 && (strcmp(name, "output") == 0 || g_str_has_prefix(name, "output ")))
		return at_line(c, line, "unknown output [%s] (expected [output mosaic], [output shm] or [output file])",
			       name);
	if (kind < 0)
		return at_line(
			c, line,
			"unknown group [%s] (expected [rig], [camera NAME], [output mosaic|shm|file|rtsp], [redact], "
			"[detect], [record], [server], [remote], [clock] or [bus])",
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
	kd = cfg_find_key(g->kind, name);
	if (!kd) {
		list = cfg_key_names(g->kind);
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
				return at_line(c, line, "unexpected \"%.*s\" after group header",
					       (int)(end - close - 1), close + 1);
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

void ls_server_config_free(struct ls_server_config **ps)
{
	struct ls_server_config *s = ps ? *ps : NULL;
	if (!s)
		return;
	*ps = NULL;
	g_free(s->listen);
	g_free(s->host);
	g_free(s->token);
	g_free(s->cert);
	g_free(s->key);
	g_free(s);
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

void ls_bus_config_free(struct ls_bus_config **pb)
{
	struct ls_bus_config *b = pb ? *pb : NULL;
	if (!b)
		return;
	*pb = NULL;
	g_free(b->url);
	g_strfreev(b->servers);
	g_free(b->host);
	g_free(b->user);
	g_free(b->password);
	g_free(b->token);
	g_free(b->creds);
	g_free(b->ca);
	g_free(b->cert);
	g_free(b->key);
	g_free(b->name);
	g_free(b->prefix);
	g_free(b->stream);
	g_free(b->spool);
	g_free(b);
}

static bool group_has(const struct scan_group *g, const char *name)
{
	for (guint i = 0; i < g->keys->len; i++)
		if (strcmp(g_array_index(g->keys, struct scan_key, i).name, name) == 0)
			return true;
	return false;
}

/* The line of key @name in the first group of @kind, or 0. */
/* The line of key @name in group @g, or the group's line without it. */
static int group_key_line(const struct scan_group *g, const char *name)
{
	for (guint j = 0; j < g->keys->len; j++) {
		const struct scan_key *k = &g_array_index(g->keys, struct scan_key, j);
		if (strcmp(k->name, name) == 0)
			return k->line;
	}
	return g->line;
}

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
				       "[record] gop: %u does not divide the segment's %u slots (segment-s x rate)",
				       r->gop, r->seg_slots);
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
		return at_line(c, d->clip_line,
			       "[detect] clip-on needs a [record] group (clips are cut from its recording)");
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
				return at_line(
					c, d->clip_line,
					"[detect] clip-on: a camera named \"clips\" has its segments where clips go "
					"by default ([record] dir/clips): set clip-dir");
	return 0;
}

/* [clock]: the server the source needs, and only then. */
static int clock_finish(struct ctx *c, const struct scan_group *g, struct ls_clock_config *k)
{
	static const char *const names[] = { "system", "ptp", "ntp", "net" };
	bool wants = k->source == LS_CLOCK_NTP || k->source == LS_CLOCK_NET;
	if (wants && !k->server)
		return at_line(c, g->line, "[clock] source = %s needs server = %s", names[k->source],
			       k->source == LS_CLOCK_NTP ? "HOST[:PORT]" : "HOST:PORT (the other rig's provide =)");
	if (!wants && k->server)
		return at_line(c, g->line, "[clock] server is for source = ntp or net, not %s", names[k->source]);
	if (k->source == LS_CLOCK_NET && !k->port)
		return at_line(c, group_key_line(g, "server"), "[clock] server = %s: source = net needs HOST:PORT",
			       k->server);
	if (k->source == LS_CLOCK_NTP && !k->port)
		k->port = 123;
	if (k->interfaces && k->source != LS_CLOCK_PTP)
		return at_line(c, g->line, "[clock] interfaces is for source = ptp");
	return 0;
}

/* [bus]: what one key cannot check alone, and the defaults made of others
 * (name: the host name; prefix: lockstep.NAME; stream: LOCKSTEP_NAME). */
static int bus_finish(struct ctx *c, const struct scan_group *g, struct ls_bus_config *b)
{
	static const char *const nats_only[] = {
		"token", "creds", "jetstream", "stream", "stream-max-mb", "stream-max-age-s", "replicas", NULL
	};
	if (b->transport == LS_BUS_MQTT)
		for (const char *const *k = nats_only; *k; k++)
			if (group_has(g, *k))
				return at_line(c, group_key_line(g, *k), "[bus] %s is for NATS, and url = %s is MQTT",
					       *k, b->url);
	if (!b->cert != !b->key)
		return at_line(c, g->line, "[bus] %s needs %s too (a TLS client certificate and its key)",
			       b->cert ? "cert" : "key", b->cert ? "key" : "cert");
	if (b->token && (b->user || b->creds))
		return at_line(c, group_key_line(g, "token"),
			       "[bus] token: give token, user/password or creds, not two");
	if ((b->ca || b->cert) && !b->tls)
		return at_line(c, g->line, "[bus] %s is for TLS: use tls:// or mqtts://, or tls = on",
			       b->ca ? "ca" : "cert");
	if (!b->name) {
		char *h = g_strdup(g_get_host_name());
		for (char *p = h; *p; p++)
			if (!g_ascii_isalnum(*p) && *p != '_' && *p != '-')
				*p = '_';
		if (strlen(h) > 64)
			h[64] = 0;
		b->name = h;
	}
	if (!b->prefix)
		b->prefix = g_strdup_printf("lockstep.%s", b->name);
	if (!b->stream) {
		b->stream = g_strdup_printf("LOCKSTEP_%s", b->name);
		for (char *p = b->stream; *p; p++)
			*p = g_ascii_toupper(*p);
		if (strlen(b->stream) > 64)
			b->stream[64] = 0;
	}
	return 0;
}

static int read_group(struct ctx *c, const struct scan_group *g)
{
	struct ls_camera_config cam = { 0 };
	struct ls_output_config out = { 0 };
	struct ls_detect_config *det = NULL;
	struct ls_record_config *rec = NULL;
	struct ls_server_config *srv = NULL;
	struct ls_bus_config *bus = NULL;
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
	case G_OUTPUT_RTSP:
		out.kind = LS_OUTPUT_RTSP;
		out.line = g->line;
		u.base = &out;
		break;
	case G_CLOCK:
		c->cfg->clock.present = true;
		c->cfg->clock.line = g->line;
		u.base = &c->cfg->clock;
		break;
	case G_REDACT:
		c->cfg->redact.present = true;
		c->cfg->redact.line = g->line;
		u.base = &c->cfg->redact;
		break;
	case G_REMOTE:
		c->cfg->remote.present = true;
		c->cfg->remote.line = g->line;
		u.base = &c->cfg->remote;
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
	case G_SERVER:
		srv = g_new0(struct ls_server_config, 1);
		srv->line = g->line;
		u.base = srv;
		break;
	case G_BUS:
		bus = g_new0(struct ls_bus_config, 1);
		bus->line = g->line;
		u.base = bus;
		break;
	}
	cfg_set_defaults(g->kind, &u);

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
		rc = cfg_set_key(k->def, &u, val, &reason);
		if (rc < 0) {
			rc = key_error(c, g, k, val, reason);
			reason = NULL;
			goto out;
		}
		g_clear_pointer(&val, g_free);
	}

	for (const struct key_def *kd = cfg_key_next(g->kind, NULL); kd; kd = cfg_key_next(g->kind, kd)) {
		if (kd->missing && !group_has(g, kd->name)) {
			rc = at_line(c, g->line, "[%s] %s", g->name, kd->missing);
			goto out;
		}
	}
	switch (g->kind) {
	case G_RIG:
	case G_REDACT:
	case G_REMOTE:
		break;
	case G_CLOCK:
		rc = clock_finish(c, g, &c->cfg->clock);
		if (rc < 0)
			goto out;
		break;
	case G_CAMERA:
		g_array_append_val(c->cams, cam);
		memset(&cam, 0, sizeof cam);
		break;
	case G_OUTPUT_RTSP:
		if (!out.password && !ls_config_host_is_loopback(out.host)) {
			rc = at_line(c, group_key_line(g, "listen"),
				     "[%s] listen = %s is not a loopback address: set password = (RTSP Basic auth) "
				     "so that only who knows it can watch",
				     g->name, out.listen);
			goto out;
		}
		g_array_append_val(c->outputs, out);
		memset(&out, 0, sizeof out);
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
	case G_SERVER:
		if (!srv->cert != !srv->key) {
			rc = at_line(c, g->line, "[%s] %s needs %s too (TLS takes a certificate and its key)", g->name,
				     srv->cert ? "cert" : "key", srv->cert ? "key" : "cert");
			goto out;
		}
		if (!srv->token && !srv->cert && !ls_config_host_is_loopback(srv->host)) {
			rc = at_line(c, group_key_line(g, "listen"),
				     "[%s] listen = %s is not a loopback address: set token = (Bearer) or cert = and "
				     "key = (TLS) so that only who may can use it",
				     g->name, srv->listen);
			goto out;
		}
		c->cfg->server = srv;
		srv = NULL;
		break;
	case G_BUS:
		rc = bus_finish(c, g, bus);
		if (rc < 0)
			goto out;
		c->cfg->bus = bus;
		bus = NULL;
		break;
	}
out:
	ls_detect_config_free(det);
	ls_record_config_free(&rec);
	ls_server_config_free(&srv);
	ls_bus_config_free(&bus);
	g_free(reason);
	g_free(val);
	ls_source_spec_clear(&cam.src);
	g_free(cam.uri);
	g_free(cam.name);
	g_free(out.file);
	g_free(out.shm_name);
	g_free(out.camera);
	g_free(out.listen);
	g_free(out.host);
	g_free(out.user);
	g_free(out.password);
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
		g_free(cfg->outputs[i].listen);
		g_free(cfg->outputs[i].host);
		g_free(cfg->outputs[i].user);
		g_free(cfg->outputs[i].password);
	}
	g_free(cfg->outputs);
	g_free(cfg->clock.interfaces);
	g_free(cfg->clock.server);
	g_free(cfg->clock.host);
	g_free(cfg->clock.provide);
	g_free(cfg->clock.provide_host);
	g_free(cfg->redact.rules);
	g_free(cfg->redact.audit);
	g_free(cfg->redact.langs);
	g_free(cfg->remote.camera);
	g_free(cfg->remote.audit);
	ls_detect_config_free(cfg->detect);
	ls_record_config_free(&cfg->record);
	ls_server_config_free(&cfg->server);
	ls_bus_config_free(&cfg->bus);
	g_free(cfg->path);
	g_free(cfg);
	*pcfg = NULL;
}

/* [remote]: a server with a token and WebRTC, and one redacted x11://
 * camera to show (named, or the only one). */
static int remote_finish(struct ctx *c)
{
	struct ls_remote_config *r = &c->cfg->remote;
	const struct ls_server_config *srv = c->cfg->server;
	if (!srv)
		return at_line(c, r->line, "[remote] needs a [server] group (the page is served at /remote)");
	if (!srv->token)
		return at_line(
			c, r->line,
			"[remote] needs token = in [server]: the remote desktop shows the screen and may work it, so "
			"every request must carry the token");
	if (srv->max_viewers == 0)
		return at_line(c, r->line, "[remote] needs WebRTC: [server] max-viewers = 0 turns it off");
	int found = -1, xcams = 0;
	for (unsigned k = 0; k < c->cfg->ncams; k++) {
		const struct ls_camera_config *cam = &c->cfg->cams[k];
		bool x = cam->src.kind == LS_SRC_X11 && cam->redact;
		if (r->camera ? strcmp(cam->name, r->camera) == 0 : x) {
			if (found < 0)
				found = (int)k;
			xcams++;
		}
	}
	if (r->camera) {
		if (found < 0)
			return at_line(c, r->line, "[remote] camera: no enabled camera \"%s\"", r->camera);
		const struct ls_camera_config *cam = &c->cfg->cams[found];
		if (cam->src.kind != LS_SRC_X11)
			return at_line(c, r->line, "[remote] camera = %s: not an x11:// screen (its uri is %s)",
				       cam->name, cam->uri);
		if (!cam->redact)
			return at_line(
				c, r->line,
				"[remote] camera = %s: needs redact = on (the remote desktop shows only a redacted "
				"screen)",
				cam->name);
	} else if (xcams == 0) {
		return at_line(c, r->line, "[remote] needs a camera with an x11:// uri and redact = on");
	} else if (xcams > 1) {
		return at_line(c, r->line, "[remote] needs camera = NAME: %d cameras are redacted x11:// screens",
			       xcams);
	} else {
		r->camera = g_strdup(c->cfg->cams[found].name);
	}
	r->cam = (unsigned)found;
	return 0;
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
	if (c.cfg->remote.present) {
		rc = remote_finish(&c);
		if (rc < 0)
			goto fail;
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
