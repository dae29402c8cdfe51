/* values — see values.h. Pure string work on GLib. */
#include "values.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

/* ---- errors ---------------------------------------------------------- */

int ls_value_fail(char **err, int errnum, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		g_free(*err);
		*err = g_strdup_vprintf(fmt, ap);
		va_end(ap);
	}
	return -errnum;
}

#define fail(err, ...) ls_value_fail((err), EINVAL, __VA_ARGS__)

/* ---- scalar values --------------------------------------------------- */

int ls_value_parse_bool(const char *s, bool *out, char **err)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < G_N_ELEMENTS(yes); i++) {
		if (g_ascii_strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (g_ascii_strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return fail(err, "expected true or false, got \"%s\" (on/off, yes/no and 1/0 work too)", s);
}

int ls_value_parse_int(const char *s, int64_t min, int64_t max, int64_t *out, char **err)
{
	gint64 v;

	/* g_ascii_string_to_signed() rejects spaces and "0x". */
	if (!g_ascii_string_to_signed(s, 10, G_MININT64, G_MAXINT64, &v, NULL))
		return fail(err, "expected an integer, got \"%s\"", s);
	if (v < min || v > max)
		return fail(err, "must be in [%" PRId64 ", %" PRId64 "], got \"%s\"", min, max, s);
	*out = v;
	return 0;
}

int ls_value_parse_double(const char *s, double min, double max, double *out, char **err)
{
	char *end;
	double v;

	/* Plain decimals only: g_ascii_strtod() also reads "0x1p3", "inf",
	 * "nan" and leading spaces. (It is used rather than strtod() because
	 * strtod() would read "1,5" in a German locale.) */
	if (!*s || s[strspn(s, "0123456789.eE+-")])
		return fail(err, "expected a number, got \"%s\"", s);
	errno = 0;
	v = g_ascii_strtod(s, &end);
	if (*end || errno == ERANGE || !isfinite(v))
		return fail(err, "expected a number, got \"%s\"", s);
	if (v < min || v > max)
		return fail(err, "must be in [%g, %g], got \"%s\"", min, max, s);
	*out = v;
	return 0;
}

static const char *unit_name(int64_t unit_ns)
{
	switch (unit_ns) {
	case 1:
		return "ns";
	case 1000:
		return "us";
	case 1000000:
		return "ms";
	case 1000000000:
		return "s";
	default:
		return "units";
	}
}

void ls_value_format_fixed(char *buf, size_t size, int64_t ns, int64_t unit_ns)
{
	uint64_t mag = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
	uint64_t ip = mag / (uint64_t)unit_ns, fp = mag % (uint64_t)unit_ns;
	int ndig = 0;

	for (int64_t u = unit_ns; u > 1; u /= 10)
		ndig++;
	if (fp == 0) {
		g_snprintf(buf, size, "%s%" PRIu64, ns < 0 ? "-" : "", ip);
		return;
	}
	while (fp % 10 == 0) {
		fp /= 10;
		ndig--;
	}
	g_snprintf(buf, size, "%s%" PRIu64 ".%0*" PRIu64, ns < 0 ? "-" : "", ip, ndig, fp);
}

int ls_value_parse_fixed(const char *s, int64_t unit_ns, int64_t min_ns, int64_t max_ns, int64_t *out, char **err)
{
	const char *p = s;
	bool neg = false;
	int ndig = 0, nint = 0, nfrac = 0;
	__int128 v = 0;
	int64_t scale;

	/* unit_ns is a power of ten; ndig is how many fraction digits are exact. */
	for (int64_t u = unit_ns; u > 1; u /= 10)
		ndig++;
	if (*p == '-' || *p == '+') {
		neg = *p == '-';
		p++;
	}
	/* Integer part: 25 digits are more than any int64 in any unit, and keep
	 * v well inside __int128. */
	for (; g_ascii_isdigit(*p); p++, nint++) {
		if (nint >= 25)
			goto bad;
		v = v * 10 + (*p - '0');
	}
	scale = unit_ns;
	v *= scale;
	if (*p == '.') {
		p++;
		for (; g_ascii_isdigit(*p); p++, nfrac++) {
			if (nfrac < ndig) {
				scale /= 10;
				v += (__int128)(*p - '0') * scale;
			} else if (nfrac == ndig && *p >= '5') {
				v += 1; /* round the first dropped digit, halves away from zero */
			}
		}
	}
	if (*p || nint + nfrac == 0)
		goto bad;
	if (neg)
		v = -v;
	if (v < min_ns || v > max_ns) {
		char lo[32], hi[32];
		ls_value_format_fixed(lo, sizeof lo, min_ns, unit_ns);
		ls_value_format_fixed(hi, sizeof hi, max_ns, unit_ns);
		if (min_ns == 1)
			return fail(err, "must be > 0 and <= %s %s, got \"%s\"", hi, unit_name(unit_ns), s);
		return fail(err, "must be in [%s, %s] %s, got \"%s\"", lo, hi, unit_name(unit_ns), s);
	}
	*out = (int64_t)v;
	return 0;
bad:
	return fail(err, "expected a number of %s (like 4.5 or -7), got \"%s\"", unit_name(unit_ns), s);
}

int ls_value_parse_rate(const char *s, struct ls_rate *out, char **err)
{
	struct ls_rate r;
	/* ls_rate_parse() refuses spaces, signs, zero and rates below 0.001
	 * fps, and returns lowest terms. */
	if (ls_rate_parse(s, &r) < 0)
		return fail(err, "bad rate \"%s\" (expected e.g. 30, 29.97 or 30000/1001)", s);
	if ((int64_t)r.num > INT64_C(1000) * r.den)
		return fail(err, "rate must be > 0 and <= 1000 fps, got \"%s\"", s);
	*out = r;
	return 0;
}

void ls_json_str(GString *g, const char *s)
{
	g_string_append_c(g, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			g_string_append_printf(g, "\\%c", *p);
		else if (*p < 0x20)
			g_string_append_printf(g, "\\u%04x", *p);
		else
			g_string_append_c(g, (char)*p);
	}
	g_string_append_c(g, '"');
}

void ls_man_str(GString *g, const char *s)
{
	bool bol = !g->len || g->str[g->len - 1] == '\n';

	for (const char *p = s; *p;) {
		gunichar c = g_utf8_get_char_validated(p, -1);

		if (c == (gunichar)-1 || c == (gunichar)-2) {
			/* not UTF-8: one byte as a replacement character */
			g_string_append(g, "\\[uFFFD]");
			p++;
			bol = false;
			continue;
		}
		p = g_utf8_next_char(p);
		if (bol && (c == '.' || c == '\''))
			g_string_append(g, "\\&");
		bol = c == '\n';
		if (c == '\\')
			g_string_append(g, "\\e");
		else if (c == '-')
			g_string_append(g, "\\-");
		else if (c == '"')
			g_string_append(g, "\\(dq");
		else if (c == '\n')
			g_string_append_c(g, '\n');
		else if (c < 0x20 || (c >= 0x7f && c < 0xa0))
			g_string_append_c(g, ' ');
		else if (c < 0x80)
			g_string_append_c(g, (char)c);
		else
			g_string_append_printf(g, "\\[u%04X]", (unsigned)c);
	}
}
