/* Tests for src/config/source_spec.c, source_desc.c and values.c: every scheme, every option, the error paths, the
 * descriptions and ls_source_spec_check(). No GStreamer: descriptions are
 * compared as strings (they were checked against gst_parse_launch() by
 * hand, see the module's notes). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "source_spec.h"
#include "values.h"

/* Parses @uri, which must succeed. */
static void parse_ok(const char *uri, struct ls_source_spec *s)
{
	char *err = NULL;
	int rc = ls_source_spec_parse(uri, s, &err);

	if (rc != 0)
		g_test_message("%s: %s", uri, err);
	g_assert_cmpint(rc, ==, 0);
	g_assert_null(err);
}

/* Parsing @uri must fail with -EINVAL, leave the spec cleared and give a
 * one-line message containing @want. */
static void parse_bad(const char *uri, const char *want)
{
	struct ls_source_spec s;
	char *err = NULL;
	int rc;

	memset(&s, 0xa5, sizeof s);
	rc = ls_source_spec_parse(uri, &s, &err);
	g_assert_cmpint(rc, ==, -EINVAL);
	g_assert_cmpint(s.kind, ==, LS_SRC_NONE);
	g_assert_nonnull(err);
	if (!strstr(err, want))
		g_test_message("uri %s\n  got  %s\n  want %s", uri, err, want);
	g_assert_nonnull(strstr(err, want));
	g_assert_null(strchr(err, '\n'));
	g_free(err);
}

static void assert_desc(const struct ls_source_spec *s, const char *want)
{
	char *d = ls_source_spec_gst_desc(s);

	g_assert_cmpstr(d, ==, want);
	g_free(d);
}

static void assert_describe(const struct ls_source_spec *s, const char *want)
{
	char *d = ls_source_spec_describe(s);

	g_assert_cmpstr(d, ==, want);
	g_free(d);
}

/* ---- scalar parsers -------------------------------------------------- */

static void test_value_fixed(void)
{
	const int64_t big = INT64_MAX, small = INT64_MIN;
	int64_t v = 0;
	char *err = NULL;

	g_assert_cmpint(ls_value_parse_fixed("4.5", LS_NS_PER_MS, small, big, &v, NULL), ==, 0);
	g_assert_cmpint(v, ==, 4500000);
	g_assert_cmpint(ls_value_parse_fixed("-7", LS_NS_PER_MS, small, big, &v, NULL), ==, 0);
	g_assert_cmpint(v, ==, -7000000);
	g_assert_cmpint(ls_value_parse_fixed("+3", LS_NS_PER_MS, small, big, &v, NULL), ==, 0);
	g_assert_cmpint(v, ==, 3000000);
	g_assert_cmpint(ls_value_parse_fixed(".25", LS_NS_PER_MS, small, big, &v, NULL), ==, 0);
	g_assert_cmpint(v, ==, 250000);
	g_assert_cmpint(ls_value_parse_fixed("1.", LS_NS_PER_MS, small, big, &v, NULL), ==, 0);
	g_assert_cmpint(v, ==, 1000000);
	g_assert_cmpint(ls_value_parse_fixed("0.000001", LS_NS_PER_MS, small, big, &v, NULL), ==, 0);
	g_assert_cmpint(v, ==, 1);
	/* Beyond a ns: rounded to nearest, halves away from zero. */
	g_assert_cmpint(ls_value_parse_fixed("0.0000005", LS_NS_PER_MS, small, big, &v, NULL), ==, 0);
	g_assert_cmpint(v, ==, 1);
	g_assert_cmpint(ls_value_parse_fixed("-0.0000005", LS_NS_PER_MS, small, big, &v, NULL), ==, 0);
	g_assert_cmpint(v, ==, -1);
	g_assert_cmpint(ls_value_parse_fixed("0.00000049999", LS_NS_PER_MS, small, big, &v, NULL), ==, 0);
	g_assert_cmpint(v, ==, 0);
	/* Exact where a double is not: 1767225600.123456789 s. */
	g_assert_cmpint(ls_value_parse_fixed("1767225600.123456789", LS_NS_PER_SEC, small, big, &v, NULL), ==, 0);
	g_assert_cmpint(v, ==, INT64_C(1767225600123456789));

	g_assert_cmpint(ls_value_parse_fixed("", LS_NS_PER_MS, small, big, &v, &err), ==, -EINVAL);
	g_assert_cmpstr(err, ==, "expected a number of ms (like 4.5 or -7), got \"\"");
	/* A message already in *err is replaced, not leaked (see sanitizers). */
	g_assert_cmpint(ls_value_parse_fixed(".", LS_NS_PER_MS, small, big, &v, &err), ==, -EINVAL);
	g_assert_cmpstr(err, ==, "expected a number of ms (like 4.5 or -7), got \".\"");
	g_clear_pointer(&err, g_free);
	for (const char *const *s = (const char *const[]){ "-", "1e3", " 1", "1 ", "1.2.3", "abc", "0x10", "--1",
							   "99999999999999999999999999", NULL };
	     *s; s++) {
		g_assert_cmpint(ls_value_parse_fixed(*s, LS_NS_PER_MS, small, big, &v, NULL), ==, -EINVAL);
	}
	/* Overflow of int64 ns is a range error, not a wrap. */
	g_assert_cmpint(ls_value_parse_fixed("9300000000", LS_NS_PER_SEC, small, big, &v, &err), ==, -EINVAL);
	g_assert_nonnull(strstr(err, "must be in"));
	g_clear_pointer(&err, g_free);

	g_assert_cmpint(ls_value_parse_fixed("10.5", LS_NS_PER_MS, -10 * LS_NS_PER_MS, 10 * LS_NS_PER_MS, &v, &err), ==,
			-EINVAL);
	g_assert_cmpstr(err, ==, "must be in [-10, 10] ms, got \"10.5\"");
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(ls_value_parse_fixed("0", LS_NS_PER_MS, 1, 1500 * LS_NS_PER_US, &v, &err), ==, -EINVAL);
	g_assert_cmpstr(err, ==, "must be > 0 and <= 1.5 ms, got \"0\"");
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(ls_value_parse_fixed("1.5", LS_NS_PER_MS, 1, 1500 * LS_NS_PER_US, &v, NULL), ==, 0);
	g_assert_cmpint(v, ==, 1500000);
}

static void test_value_int(void)
{
	int64_t v = 0;
	char *err = NULL;

	g_assert_cmpint(ls_value_parse_int("12", 0, 100, &v, NULL), ==, 0);
	g_assert_cmpint(v, ==, 12);
	g_assert_cmpint(ls_value_parse_int("-3", -5, 5, &v, NULL), ==, 0);
	g_assert_cmpint(v, ==, -3);
	g_assert_cmpint(ls_value_parse_int("101", 0, 100, &v, &err), ==, -EINVAL);
	g_assert_cmpstr(err, ==, "must be in [0, 100], got \"101\"");
	g_clear_pointer(&err, g_free);
	for (const char *const *s =
		     (const char *const[]){ "", "0x10", " 1", "1 ", "1.5", "abc", "99999999999999999999", NULL };
	     *s; s++) {
		g_assert_cmpint(ls_value_parse_int(*s, G_MININT64, G_MAXINT64, &v, &err), ==, -EINVAL);
		g_assert_nonnull(strstr(err, "expected an integer"));
		g_clear_pointer(&err, g_free);
	}
}

static void test_value_double(void)
{
	double v = 0;
	char *err = NULL;

	g_assert_cmpint(ls_value_parse_double("1e-3", 0, 1, &v, NULL), ==, 0);
	g_assert_cmpfloat(v, ==, 0.001);
	g_assert_cmpint(ls_value_parse_double("-2.5", -3, 3, &v, NULL), ==, 0);
	g_assert_cmpfloat(v, ==, -2.5);
	g_assert_cmpint(ls_value_parse_double("2", 0, 1, &v, &err), ==, -EINVAL);
	g_assert_cmpstr(err, ==, "must be in [0, 1], got \"2\"");
	g_clear_pointer(&err, g_free);
	for (const char *const *s =
		     (const char *const[]){ "", "nan", "inf", "-inf", "0x1p3", "1,5", " 1", "1e999", "x", NULL };
	     *s; s++) {
		g_assert_cmpint(ls_value_parse_double(*s, -G_MAXDOUBLE, G_MAXDOUBLE, &v, &err), ==, -EINVAL);
		g_assert_nonnull(strstr(err, "expected a number"));
		g_clear_pointer(&err, g_free);
	}
}

static void test_value_bool(void)
{
	bool v = false;
	char *err = NULL;

	for (const char *const *s = (const char *const[]){ "true", "TRUE", "yes", "Yes", "on", "ON", "1", NULL }; *s;
	     s++) {
		v = false;
		g_assert_cmpint(ls_value_parse_bool(*s, &v, NULL), ==, 0);
		g_assert_true(v);
	}
	for (const char *const *s = (const char *const[]){ "false", "False", "no", "NO", "off", "Off", "0", NULL }; *s;
	     s++) {
		v = true;
		g_assert_cmpint(ls_value_parse_bool(*s, &v, NULL), ==, 0);
		g_assert_false(v);
	}
	g_assert_cmpint(ls_value_parse_bool("maybe", &v, &err), ==, -EINVAL);
	g_assert_cmpstr(err, ==, "expected true or false, got \"maybe\" (on/off, yes/no and 1/0 work too)");
	g_free(err);
	g_assert_cmpint(ls_value_parse_bool("", &v, NULL), ==, -EINVAL);
	g_assert_cmpint(ls_value_parse_bool("onn", &v, NULL), ==, -EINVAL);
}

static void test_value_rate(void)
{
	struct ls_rate r = { 0, 0 };
	char *err = NULL;

	g_assert_cmpint(ls_value_parse_rate("30", &r, NULL), ==, 0);
	g_assert_cmpint(r.num, ==, 30);
	g_assert_cmpint(r.den, ==, 1);
	g_assert_cmpint(ls_value_parse_rate("29.97", &r, NULL), ==, 0);
	g_assert_cmpint(r.num, ==, 30000);
	g_assert_cmpint(r.den, ==, 1001);
	g_assert_cmpint(ls_value_parse_rate("30000/1001", &r, NULL), ==, 0);
	g_assert_cmpint(r.num, ==, 30000);
	g_assert_cmpint(r.den, ==, 1001);
	g_assert_cmpint(ls_value_parse_rate("12.5", &r, NULL), ==, 0);
	g_assert_cmpint(r.num, ==, 25);
	g_assert_cmpint(r.den, ==, 2);
	g_assert_cmpint(ls_value_parse_rate("1000", &r, NULL), ==, 0);
	/* Lowest terms. */
	g_assert_cmpint(ls_value_parse_rate("60/2", &r, NULL), ==, 0);
	g_assert_cmpint(r.num, ==, 30);
	g_assert_cmpint(r.den, ==, 1);
	g_assert_cmpint(ls_value_parse_rate("0.5", &r, NULL), ==, 0);
	g_assert_cmpint(r.num, ==, 1);
	g_assert_cmpint(r.den, ==, 2);

	g_assert_cmpint(ls_value_parse_rate("abc", &r, &err), ==, -EINVAL);
	g_assert_cmpstr(err, ==, "bad rate \"abc\" (expected e.g. 30, 29.97 or 30000/1001)");
	g_clear_pointer(&err, g_free);
	/* ls_rate_parse() turns this into 0/1: caught here. */
	g_assert_cmpint(ls_value_parse_rate("0.0001", &r, &err), ==, -EINVAL);
	g_assert_cmpstr(err, ==, "bad rate \"0.0001\" (expected e.g. 30, 29.97 or 30000/1001)");
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(ls_value_parse_rate("1001", &r, &err), ==, -EINVAL);
	g_assert_nonnull(strstr(err, "<= 1000 fps"));
	g_clear_pointer(&err, g_free);
	for (const char *const *s =
		     (const char *const[]){ "", "0", "-30", "30/0", "0/1", " 30", "30/", "/1", "x/1", NULL };
	     *s; s++)
		g_assert_cmpint(ls_value_parse_rate(*s, &r, NULL), ==, -EINVAL);
}

/* ls_man_str(): troff text that reads back as typed, for `lockstep man` */
static void test_value_man(void)
{
	static const struct {
		const char *prefix, *in, *out; /* out: what follows prefix */
	} cases[] = {
		/* a minus, not a hyphen: option names copy and paste */
		{ "", "--max-latency-ms", "\\-\\-max\\-latency\\-ms" },
		{ "", "C:\\dir \"x\"", "C:\\edir \\(dqx\\(dq" },
		/* '.' and '\'' start a request only at a line's start */
		{ "", ".mp4 or 'x'", "\\&.mp4 or 'x'" },
		{ "a ", ".mp4", ".mp4" },
		{ ".TP\n", "'quoted'", "\\&'quoted'" },
		{ "", "x\n.y\n'z", "x\n\\&.y\n\\&'z" },
		/* not ASCII: a named code point; control characters: spaces */
		{ "", "n\xc2\xb7T \xc2\xb5s", "n\\[u00B7]T \\[u00B5]s" },
		{ "", "a\tb\x01", "a b " },
		{ "", "bad \xff!", "bad \\[uFFFD]!" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		GString *g = g_string_new(cases[i].prefix);
		char *want = g_strconcat(cases[i].prefix, cases[i].out, NULL);

		ls_man_str(g, cases[i].in);
		g_assert_cmpstr(g->str, ==, want);
		g_free(want);
		g_string_free(g, TRUE);
	}
}

/* ---- schemes --------------------------------------------------------- */

static void test_scheme_errors(void)
{
	struct ls_source_spec s;

	parse_bad("foo://bar", "unknown scheme \"foo\" (expected test, file, v4l2, rtsp, udp, x11, fbdev)");
	parse_bad("http://cam/x", "unknown scheme \"http\"");
	parse_bad("", "empty URI");
	parse_bad("/dev/video0", "not a URI: \"/dev/video0\"");
	parse_bad("test:?fps=30", "expected \"test://\" in \"test:?fps=30\"");
	parse_bad("://x", "not a URI");
	parse_bad("te st://", "space in URI");
	parse_bad("file:///a b.mp4", "percent-encode it as %20");
	parse_bad("test://\t", "control character");
	parse_bad("file:///x.mp4#frag", "unexpected '#' in file:// URI");
	parse_bad("test://?fps=30#x", "unexpected '#'");
	g_assert_cmpint(ls_source_spec_parse(NULL, &s, NULL), ==, -EINVAL);
	g_assert_cmpint(ls_source_spec_parse("foo://", &s, NULL), ==, -EINVAL);
	g_assert_cmpint(s.kind, ==, LS_SRC_NONE);

	/* Schemes are case-insensitive (RFC 3986). */
	parse_ok("TEST://", &s);
	g_assert_cmpint(s.kind, ==, LS_SRC_TEST);
	ls_source_spec_clear(&s);
	parse_ok("File:///x.mp4", &s);
	g_assert_cmpint(s.kind, ==, LS_SRC_FILE);
	ls_source_spec_clear(&s);
}

static void test_kind_names(void)
{
	g_assert_cmpstr(ls_source_kind_name(LS_SRC_NONE), ==, "none");
	g_assert_cmpstr(ls_source_kind_name(LS_SRC_TEST), ==, "test");
	g_assert_cmpstr(ls_source_kind_name(LS_SRC_FILE), ==, "file");
	g_assert_cmpstr(ls_source_kind_name(LS_SRC_V4L2), ==, "v4l2");
	g_assert_cmpstr(ls_source_kind_name(LS_SRC_RTSP), ==, "rtsp");
	g_assert_cmpstr(ls_source_kind_name(LS_SRC_UDP), ==, "udp");
	g_assert_cmpstr(ls_source_kind_name(LS_SRC_X11), ==, "x11");
	g_assert_cmpstr(ls_source_kind_name(LS_SRC_FBDEV), ==, "fbdev");
	g_assert_cmpstr(ls_source_kind_name((enum ls_source_kind)99), ==, "?");
}

static void test_query_errors(void)
{
	parse_bad("test://?fpss=30", "unknown option \"fpss\" for test:// (expected fps, offset-ms, jitter-ms, "
				     "drift-ppm, drop, width, height, pattern, seed)");
	parse_bad("test://?fps=30&fps=25", "option \"fps\" given twice");
	parse_bad("test://?fps", "option \"fps\" needs a value (fps=...)");
	parse_bad("test://?fps=30&&width=64", "empty option (stray '&')");
	parse_bad("test://?fps=30&", "empty option");
	parse_bad("test://?fps=%zz", "bad percent-encoding in option \"fps=%zz\"");
	parse_bad("test://?fps=3%000", "bad percent-encoding");
	parse_bad("test://?fps=", "option \"fps\": bad rate \"\"");
	parse_bad("test://?=30", "unknown option \"\"");
}

static void test_test_defaults(void)
{
	struct ls_source_spec s;

	parse_ok("test://", &s);
	g_assert_cmpint(s.kind, ==, LS_SRC_TEST);
	g_assert_cmpint(s.test.fps.num, ==, 30);
	g_assert_cmpint(s.test.fps.den, ==, 1);
	g_assert_cmpint(s.test.offset_ns, ==, 0);
	g_assert_cmpint(s.test.jitter_ns, ==, 0);
	g_assert_cmpfloat(s.test.drift_ppm, ==, 0.0);
	g_assert_cmpfloat(s.test.drop, ==, 0.0);
	g_assert_cmpint(s.test.width, ==, 640);
	g_assert_cmpint(s.test.height, ==, 360);
	g_assert_cmpstr(s.test.pattern, ==, "smpte");
	g_assert_cmpuint(s.test.seed, ==, 0);
	assert_describe(&s, "test 30 fps 640x360 smpte, offset 0 ms, jitter 0 ms");
	assert_desc(&s, "videotestsrc is-live=false pattern=smpte ! "
			"video/x-raw,format=I420,width=640,height=360,framerate=30/1");
	ls_source_spec_clear(&s);

	parse_ok("test://?", &s);
	g_assert_cmpint(s.kind, ==, LS_SRC_TEST);
	ls_source_spec_clear(&s);
}

static void test_test_options(void)
{
	struct ls_source_spec s;

	parse_ok("test://?fps=29.97&offset-ms=-7.25&jitter-ms=0.5&drift-ppm=-150.5&drop=0.01&width=1280"
		 "&height=720&pattern=ball&seed=18446744073709551615",
		 &s);
	g_assert_cmpint(s.test.fps.num, ==, 30000);
	g_assert_cmpint(s.test.fps.den, ==, 1001);
	g_assert_cmpint(s.test.offset_ns, ==, -7250000);
	g_assert_cmpint(s.test.jitter_ns, ==, 500000);
	g_assert_cmpfloat(s.test.drift_ppm, ==, -150.5);
	g_assert_cmpfloat(s.test.drop, ==, 0.01);
	g_assert_cmpint(s.test.width, ==, 1280);
	g_assert_cmpint(s.test.height, ==, 720);
	g_assert_cmpstr(s.test.pattern, ==, "ball");
	g_assert_cmpuint(s.test.seed, ==, G_MAXUINT64);
	assert_describe(&s, "test 29.97 fps 1280x720 ball, offset -7.25 ms, jitter 0.5 ms, drift -150.5 ppm, drop 1%, "
			    "seed 18446744073709551615");
	assert_desc(&s, "videotestsrc is-live=false pattern=ball ! "
			"video/x-raw,format=I420,width=1280,height=720,framerate=30000/1001");
	ls_source_spec_clear(&s);

	/* Option order does not matter; values are percent-decoded; the
	 * limits themselves are accepted. */
	parse_ok("test://?pattern=checkers%2D8&fps=30000/1001&width=16&height=7680&drop=1&drift-ppm=10000"
		 "&offset-ms=10000&jitter-ms=1000",
		 &s);
	g_assert_cmpstr(s.test.pattern, ==, "checkers-8");
	g_assert_cmpint(s.test.fps.num, ==, 30000);
	g_assert_cmpint(s.test.width, ==, 16);
	g_assert_cmpint(s.test.height, ==, 7680);
	g_assert_cmpfloat(s.test.drop, ==, 1.0);
	g_assert_cmpfloat(s.test.drift_ppm, ==, 10000.0);
	g_assert_cmpint(s.test.offset_ns, ==, 10 * LS_NS_PER_SEC);
	g_assert_cmpint(s.test.jitter_ns, ==, LS_NS_PER_SEC);
	ls_source_spec_clear(&s);

	parse_ok("test://?offset-ms=-10000&drift-ppm=-10000&drop=0&width=7680&height=16", &s);
	g_assert_cmpint(s.test.offset_ns, ==, -10 * LS_NS_PER_SEC);
	g_assert_cmpfloat(s.test.drift_ppm, ==, -10000.0);
	ls_source_spec_clear(&s);
}

static void test_test_patterns(void)
{
	/* clang-format off */
	static const char *const names[] = {
		"smpte", "snow", "black", "white", "red", "green", "blue",
		"checkers-1", "checkers-2", "checkers-4", "checkers-8", "circular", "blink", "smpte75",
		"zone-plate", "gamut", "chroma-zone-plate", "solid-color", "ball", "smpte100", "bar",
		"pinwheel", "spokes", "gradient", "colors", "smpte-rp-219",
	};
	/* clang-format on */

	for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
		struct ls_source_spec s;
		char *uri = g_strdup_printf("test://?pattern=%s", names[i]);
		char *want = g_strdup_printf("videotestsrc is-live=false pattern=%s ! "
					     "video/x-raw,format=I420,width=640,height=360,framerate=30/1",
					     names[i]);

		parse_ok(uri, &s);
		g_assert_cmpstr(s.test.pattern, ==, names[i]);
		assert_desc(&s, want);
		ls_source_spec_clear(&s);
		g_free(want);
		g_free(uri);
	}
	parse_bad("test://?pattern=plasma", "option \"pattern\": unknown pattern \"plasma\"");
	parse_bad("test://?pattern=Ball", "unknown pattern \"Ball\"");
	parse_bad("test://?pattern=", "unknown pattern \"\"");
}

static void test_test_bad(void)
{
	parse_bad("test://cam", "test:// takes no host or path, got \"cam\"");
	parse_bad("test:///x?fps=30", "test:// takes no host or path");
	parse_bad("test://?fps=0", "option \"fps\": bad rate \"0\"");
	parse_bad("test://?fps=abc", "option \"fps\": bad rate \"abc\"");
	parse_bad("test://?fps=2000", "option \"fps\": rate must be > 0 and <= 1000 fps, got \"2000\"");
	parse_bad("test://?offset-ms=abc", "option \"offset-ms\": expected a number of ms");
	parse_bad("test://?offset-ms=10000.001",
		  "option \"offset-ms\": must be in [-10000, 10000] ms, got \"10000.001\"");
	parse_bad("test://?offset-ms=-10001", "option \"offset-ms\": must be in [-10000, 10000] ms");
	parse_bad("test://?jitter-ms=-1", "option \"jitter-ms\": must be in [0, 1000] ms, got \"-1\"");
	parse_bad("test://?jitter-ms=1001", "option \"jitter-ms\": must be in [0, 1000] ms");
	parse_bad("test://?drift-ppm=10001", "option \"drift-ppm\": must be in [-10000, 10000], got \"10001\"");
	parse_bad("test://?drift-ppm=-10000.5", "option \"drift-ppm\": must be in [-10000, 10000]");
	parse_bad("test://?drift-ppm=nan", "option \"drift-ppm\": expected a number, got \"nan\"");
	parse_bad("test://?drift-ppm=inf", "option \"drift-ppm\": expected a number");
	parse_bad("test://?drop=1.5", "option \"drop\": must be in [0, 1], got \"1.5\"");
	parse_bad("test://?drop=-0.1", "option \"drop\": must be in [0, 1]");
	parse_bad("test://?drop=1%25", "option \"drop\": expected a number, got \"1%\"");
	parse_bad("test://?width=641", "option \"width\": must be even, got \"641\"");
	parse_bad("test://?width=14", "option \"width\": must be in [16, 7680], got \"14\"");
	parse_bad("test://?width=7682", "option \"width\": must be in [16, 7680]");
	parse_bad("test://?width=abc", "option \"width\": expected an integer");
	parse_bad("test://?height=0", "option \"height\": must be in [16, 7680]");
	parse_bad("test://?height=359", "option \"height\": must be even");
	parse_bad("test://?seed=-1", "option \"seed\": expected an unsigned integer, got \"-1\"");
	parse_bad("test://?seed=abc", "option \"seed\": expected an unsigned integer");
	parse_bad("test://?seed=18446744073709551616", "option \"seed\": expected an unsigned integer");
	parse_bad("test://?realtime=true", "unknown option \"realtime\" for test://");
}

static void test_file(void)
{
	struct ls_source_spec s;

	parse_ok("file:///data/clip.mp4", &s);
	g_assert_cmpint(s.kind, ==, LS_SRC_FILE);
	g_assert_cmpstr(s.file.path, ==, "/data/clip.mp4");
	g_assert_true(s.file.realtime);
	g_assert_false(s.file.loop);
	assert_describe(&s, "file /data/clip.mp4 (realtime)");
	assert_desc(&s, "filesrc location=\"/data/clip.mp4\" ! decodebin ! videoconvert ! video/x-raw,format=I420");
	ls_source_spec_clear(&s);

	parse_ok("file:///data/clip.mkv?realtime=false&loop=true", &s);
	g_assert_false(s.file.realtime);
	g_assert_true(s.file.loop);
	assert_describe(&s, "file /data/clip.mkv (as fast as possible, loop)");
	ls_source_spec_clear(&s);

	parse_ok("file:///x?loop=yes&realtime=0", &s);
	g_assert_true(s.file.loop);
	g_assert_false(s.file.realtime);
	ls_source_spec_clear(&s);

	/* Percent-decoding, and gst-launch quoting of '"' and '\'. */
	parse_ok("file:///tmp/my%20clips/a%22b%5Cc%23%3F.mp4", &s);
	g_assert_cmpstr(s.file.path, ==, "/tmp/my clips/a\"b\\c#?.mp4");
	assert_desc(&s, "filesrc location=\"/tmp/my clips/a\\\"b\\\\c#?.mp4\" ! decodebin ! videoconvert ! "
			"video/x-raw,format=I420");
	ls_source_spec_clear(&s);

	parse_bad("file://relative/path.mp4", "path must be absolute: file:///path, got file://relative/path.mp4");
	parse_bad("file://localhost/x.mp4", "path must be absolute");
	parse_bad("file://", "missing path (expected file:///absolute/path)");
	parse_bad("file://?loop=true", "missing path");
	parse_bad("file:///x%00y.mp4", "bad percent-encoding in path");
	parse_bad("file:///x%2.mp4", "bad percent-encoding in path");
	parse_bad("file:///x.mp4?loop=maybe", "option \"loop\": expected true or false, got \"maybe\"");
	parse_bad("file:///x.mp4?realtime=", "option \"realtime\": expected true or false");
	parse_bad("file:///x.mp4?fps=30", "unknown option \"fps\" for file:// (expected realtime, loop)");
}

static void test_v4l2(void)
{
	struct ls_source_spec s;

	parse_ok("v4l2:///dev/video0", &s);
	g_assert_cmpint(s.kind, ==, LS_SRC_V4L2);
	g_assert_cmpstr(s.v4l2.device, ==, "/dev/video0");
	g_assert_cmpint(s.v4l2.width, ==, 0);
	g_assert_cmpint(s.v4l2.height, ==, 0);
	g_assert_cmpint(s.v4l2.fps.num, ==, 0);
	g_assert_null(s.v4l2.format);
	assert_describe(&s, "v4l2 /dev/video0");
	assert_desc(&s, "v4l2src device=\"/dev/video0\" ! videoconvert ! video/x-raw,format=I420");
	ls_source_spec_clear(&s);

	parse_ok("v4l2:///dev/video2?width=1280&height=720&fps=30&format=YUY2", &s);
	g_assert_cmpstr(s.v4l2.device, ==, "/dev/video2");
	g_assert_cmpint(s.v4l2.width, ==, 1280);
	g_assert_cmpint(s.v4l2.height, ==, 720);
	g_assert_cmpint(s.v4l2.fps.num, ==, 30);
	g_assert_cmpint(s.v4l2.fps.den, ==, 1);
	g_assert_cmpstr(s.v4l2.format, ==, "YUY2");
	assert_describe(&s, "v4l2 /dev/video2 1280x720 30 fps YUY2");
	assert_desc(&s, "v4l2src device=\"/dev/video2\" ! video/x-raw,format=YUY2,width=1280,height=720,"
			"framerate=30/1 ! videoconvert ! video/x-raw,format=I420");
	ls_source_spec_clear(&s);

	/* Only some caps fields. */
	parse_ok("v4l2:///dev/video0?fps=60000/1001", &s);
	assert_desc(&s, "v4l2src device=\"/dev/video0\" ! video/x-raw,framerate=60000/1001 ! videoconvert ! "
			"video/x-raw,format=I420");
	ls_source_spec_clear(&s);
	parse_ok("v4l2:///dev/video0?format=GRAY16_LE&width=640", &s);
	assert_desc(&s, "v4l2src device=\"/dev/video0\" ! video/x-raw,format=GRAY16_LE,width=640 ! videoconvert ! "
			"video/x-raw,format=I420");
	ls_source_spec_clear(&s);

	/* Motion JPEG is image/jpeg, decoded. */
	parse_ok("v4l2:///dev/video0?format=MJPG&width=1920&height=1080&fps=30", &s);
	assert_desc(&s, "v4l2src device=\"/dev/video0\" ! image/jpeg,width=1920,height=1080,framerate=30/1 ! jpegdec ! "
			"videoconvert ! video/x-raw,format=I420");
	ls_source_spec_clear(&s);
	parse_ok("v4l2:///dev/video0?format=mjpeg", &s);
	assert_desc(&s,
		    "v4l2src device=\"/dev/video0\" ! image/jpeg ! jpegdec ! videoconvert ! video/x-raw,format=I420");
	ls_source_spec_clear(&s);

	parse_bad("v4l2://video0", "path must be absolute: v4l2:///path");
	parse_bad("v4l2://", "missing path");
	parse_bad("v4l2:///dev/video0?width=641", "option \"width\": must be even");
	parse_bad("v4l2:///dev/video0?width=8", "option \"width\": must be in [16, 7680]");
	parse_bad("v4l2:///dev/video0?height=4322", "option \"height\": must be in [16, 4320]");
	parse_bad("v4l2:///dev/video0?fps=-1", "option \"fps\": bad rate");
	parse_bad("v4l2:///dev/video0?format=YU-Y2", "option \"format\": bad format \"YU-Y2\"");
	parse_bad("v4l2:///dev/video0?format=Y", "bad format \"Y\"");
	parse_bad("v4l2:///dev/video0?format=ABCDEFGHIJKLMNOPQ", "bad format");
	parse_bad("v4l2:///dev/video0?pattern=ball", "unknown option \"pattern\" for v4l2:// (expected width, height, "
						     "fps, format)");
}

static void test_rtsp(void)
{
	struct ls_source_spec s;

	parse_ok("rtsp://cam.local/stream", &s);
	g_assert_cmpint(s.kind, ==, LS_SRC_RTSP);
	g_assert_cmpstr(s.rtsp.location, ==, "rtsp://cam.local/stream");
	g_assert_cmpint(s.rtsp.latency_ms, ==, 200);
	g_assert_cmpint(s.rtsp.transport, ==, LS_RTSP_TCP);
	g_assert_cmpint(s.rtsp.codec, ==, LS_CODEC_H264);
	assert_describe(&s, "rtsp rtsp://cam.local/stream (tcp, latency 200 ms, H.264)");
	assert_desc(&s, "rtspsrc location=\"rtsp://cam.local/stream\" latency=200 protocols=tcp ntp-sync=true "
			"add-reference-timestamp-meta=true ! rtph264depay ! h264parse ! avdec_h264 ! videoconvert ! "
			"video/x-raw,format=I420");
	g_assert_true(ls_source_spec_h264_tap(&s));
	ls_source_spec_clear(&s);

	/* The query is the camera's and stays in the location; our options
	 * are in the fragment; the password may hold '@' and is hidden by
	 * describe(). */
	parse_ok("rtsp://admin:p@ss@10.0.0.5:8554/h264?channel=1&latency=5#latency=100&transport=udp&codec=h265", &s);
	g_assert_cmpstr(s.rtsp.location, ==, "rtsp://admin:p@ss@10.0.0.5:8554/h264?channel=1&latency=5");
	g_assert_cmpint(s.rtsp.latency_ms, ==, 100);
	g_assert_cmpint(s.rtsp.transport, ==, LS_RTSP_UDP);
	g_assert_cmpint(s.rtsp.codec, ==, LS_CODEC_H265);
	assert_describe(&s,
			"rtsp rtsp://admin:***@10.0.0.5:8554/h264?channel=1&latency=5 (udp, latency 100 ms, H.265)");
	assert_desc(&s, "rtspsrc location=\"rtsp://admin:p@ss@10.0.0.5:8554/h264?channel=1&latency=5\" latency=100 "
			"protocols=udp ntp-sync=true add-reference-timestamp-meta=true ! rtph265depay ! h265parse ! "
			"avdec_h265 ! videoconvert ! video/x-raw,format=I420");
	ls_source_spec_clear(&s);

	/* auto leaves protocols to rtspsrc; a user without a password is shown. */
	parse_ok("rtsp://viewer@[::1]:554/s#transport=auto&latency=0", &s);
	g_assert_cmpint(s.rtsp.transport, ==, LS_RTSP_AUTO);
	g_assert_cmpint(s.rtsp.latency_ms, ==, 0);
	assert_describe(&s, "rtsp rtsp://viewer@[::1]:554/s (auto, latency 0 ms, H.264)");
	assert_desc(&s, "rtspsrc location=\"rtsp://viewer@[::1]:554/s\" latency=0 ntp-sync=true "
			"add-reference-timestamp-meta=true ! rtph264depay ! h264parse ! avdec_h264 ! videoconvert ! "
			"video/x-raw,format=I420");
	ls_source_spec_clear(&s);

	/* An empty fragment is no options; a host alone is enough. */
	parse_ok("rtsp://cam#", &s);
	g_assert_cmpstr(s.rtsp.location, ==, "rtsp://cam");
	ls_source_spec_clear(&s);
	parse_ok("RTSP://cam:554", &s);
	g_assert_cmpstr(s.rtsp.location, ==, "RTSP://cam:554");
	ls_source_spec_clear(&s);

	parse_bad("rtsp:///stream", "missing host");
	parse_bad("rtsp://user:pw@/stream", "missing host");
	parse_bad("rtsp://cam:0/s", "bad port \"0\" (expected 1..65535)");
	parse_bad("rtsp://cam:65536/s", "bad port \"65536\"");
	parse_bad("rtsp://cam:/s", "bad port \"\"");
	parse_bad("rtsp://cam:http/s", "bad port \"http\"");
	parse_bad("rtsp://[::1/s", "missing ']'");
	parse_bad("rtsp://[::1]x/s", "unexpected \"x\" after ']'");
	parse_bad("rtsp://::1/s", "IPv6 address must be in brackets");
	parse_bad("rtsp://ca$m/s", "bad character '$' in host \"ca$m\"");
	parse_bad("rtsp://cam/s#latency=10001", "option \"latency\": must be in [0, 10000], got \"10001\"");
	parse_bad("rtsp://cam/s#latency=-1", "option \"latency\": must be in [0, 10000]");
	parse_bad("rtsp://cam/s#transport=http", "option \"transport\": unknown transport \"http\" (expected tcp, udp "
						 "or auto)");
	parse_bad("rtsp://cam/s#codec=vp8", "option \"codec\": unknown codec \"vp8\" (expected h264 or h265)");
	parse_bad("rtsp://cam/s#fps=30", "unknown option \"fps\" for rtsp:// (options go after '#') (expected latency, "
					 "transport, codec)");
}

static void test_udp(void)
{
	struct ls_source_spec s;

	parse_ok("udp://0.0.0.0:5000", &s);
	g_assert_cmpint(s.kind, ==, LS_SRC_UDP);
	g_assert_cmpstr(s.udp.host, ==, "0.0.0.0");
	g_assert_cmpint(s.udp.port, ==, 5000);
	g_assert_cmpint(s.udp.latency_ms, ==, 200);
	g_assert_cmpint(s.udp.payload, ==, 96);
	g_assert_cmpint(s.udp.codec, ==, LS_CODEC_H264);
	assert_describe(&s, "udp 0.0.0.0:5000 (RTP H.264 pt 96, latency 200 ms)");
	assert_desc(&s, "udpsrc address=\"0.0.0.0\" port=5000 caps=\"application/x-rtp,media=video,clock-rate=90000,"
			"encoding-name=H264,payload=96\" ! rtpjitterbuffer latency=200 ! rtph264depay ! h264parse ! "
			"avdec_h264 ! videoconvert ! video/x-raw,format=I420");
	/* tapped for stream copy: the parsed stream also goes to tee `es` */
	g_assert_true(ls_source_spec_h264_tap(&s));
	char *d = ls_source_spec_gst_desc_tap(&s, true);
	g_assert_cmpstr(
		d, ==,
		"udpsrc address=\"0.0.0.0\" port=5000 caps=\"application/x-rtp,media=video,clock-rate=90000,"
		"encoding-name=H264,payload=96\" ! rtpjitterbuffer latency=200 ! rtph264depay ! h264parse "
		"config-interval=-1 ! video/x-h264,stream-format=byte-stream,alignment=au ! tee name=es ! queue "
		"max-size-buffers=4 max-size-bytes=0 max-size-time=0 ! avdec_h264 ! videoconvert ! "
		"video/x-raw,format=I420");
	g_free(d);
	ls_source_spec_clear(&s);

	parse_ok("udp://239.1.2.3:65535?latency=50&payload=127&codec=h265", &s);
	g_assert_false(ls_source_spec_h264_tap(&s)); /* H.265 is decoded only */
	g_assert_cmpstr(s.udp.host, ==, "239.1.2.3");
	g_assert_cmpint(s.udp.port, ==, 65535);
	g_assert_cmpint(s.udp.latency_ms, ==, 50);
	g_assert_cmpint(s.udp.payload, ==, 127);
	g_assert_cmpint(s.udp.codec, ==, LS_CODEC_H265);
	assert_desc(&s, "udpsrc address=\"239.1.2.3\" port=65535 caps=\"application/x-rtp,media=video,clock-rate=90000,"
			"encoding-name=H265,payload=127\" ! rtpjitterbuffer latency=50 ! rtph265depay ! h265parse ! "
			"avdec_h265 ! videoconvert ! video/x-raw,format=I420");
	ls_source_spec_clear(&s);

	/* IPv6 in brackets; stored and passed to udpsrc without them. */
	parse_ok("udp://[ff02::1]:1?payload=0&latency=0", &s);
	g_assert_cmpstr(s.udp.host, ==, "ff02::1");
	g_assert_cmpint(s.udp.port, ==, 1);
	g_assert_cmpint(s.udp.payload, ==, 0);
	assert_describe(&s, "udp [ff02::1]:1 (RTP H.264 pt 0, latency 0 ms)");
	ls_source_spec_clear(&s);

	parse_ok("udp://localhost:5000", &s);
	g_assert_cmpstr(s.udp.host, ==, "localhost");
	ls_source_spec_clear(&s);

	parse_bad("udp://127.0.0.1", "missing port in \"127.0.0.1\" (expected HOST:PORT)");
	parse_bad("udp://127.0.0.1?latency=5", "missing port");
	parse_bad("udp://:5000", "missing host in \":5000\" (use 0.0.0.0 to listen on every interface)");
	parse_bad("udp://", "missing host");
	parse_bad("udp://127.0.0.1:0", "bad port \"0\" (expected 1..65535)");
	parse_bad("udp://127.0.0.1:65536", "bad port \"65536\"");
	parse_bad("udp://127.0.0.1:-5", "bad port \"-5\"");
	parse_bad("udp://ff02::1:5000", "IPv6 address must be in brackets");
	parse_bad("udp://127.0.0.1:5000/x", "udp:// takes no path");
	parse_bad("udp://127.0.0.1:5000?payload=128", "option \"payload\": must be in [0, 127], got \"128\"");
	parse_bad("udp://127.0.0.1:5000?latency=x", "option \"latency\": expected an integer");
	parse_bad("udp://127.0.0.1:5000?codec=mjpeg", "option \"codec\": unknown codec");
	parse_bad("udp://127.0.0.1:5000?transport=tcp", "unknown option \"transport\" for udp:// (expected latency, "
							"payload, codec)");
}

static void test_x11(void)
{
	struct ls_source_spec s;

	parse_ok("x11://:0", &s);
	g_assert_cmpint(s.kind, ==, LS_SRC_X11);
	g_assert_cmpstr(s.x11.display, ==, ":0");
	g_assert_cmpint(s.x11.x, ==, 0);
	g_assert_cmpint(s.x11.y, ==, 0);
	g_assert_cmpint(s.x11.width, ==, 0);
	g_assert_cmpint(s.x11.height, ==, 0);
	g_assert_cmpint(s.x11.fps.num, ==, 30);
	g_assert_cmpint(s.x11.fps.den, ==, 1);
	g_assert_false(s.x11.show_pointer);
	assert_describe(&s, "x11 :0 30 fps");
	assert_desc(&s, "ximagesrc display-name=\":0\" use-damage=false show-pointer=false startx=0 starty=0 ! "
			"video/x-raw,framerate=30/1 ! videoconvert ! video/x-raw,format=I420");
	ls_source_spec_clear(&s);

	/* endx/endy are inclusive. */
	parse_ok("x11://:99.0?x=10&y=20&width=1920&height=1080&fps=15&show-pointer=true", &s);
	g_assert_cmpstr(s.x11.display, ==, ":99.0");
	g_assert_cmpint(s.x11.x, ==, 10);
	g_assert_cmpint(s.x11.y, ==, 20);
	g_assert_cmpint(s.x11.width, ==, 1920);
	g_assert_cmpint(s.x11.height, ==, 1080);
	g_assert_cmpint(s.x11.fps.num, ==, 15);
	g_assert_true(s.x11.show_pointer);
	assert_describe(&s, "x11 :99.0 1920x1080+10+20 15 fps with pointer");
	assert_desc(&s, "ximagesrc display-name=\":99.0\" use-damage=false show-pointer=true startx=10 starty=20 "
			"endx=1929 endy=1099 ! video/x-raw,framerate=15/1 ! videoconvert ! video/x-raw,format=I420");
	ls_source_spec_clear(&s);

	/* No display: ximagesrc uses $DISPLAY; only a width. */
	parse_ok("x11://?width=640", &s);
	g_assert_cmpstr(s.x11.display, ==, "");
	assert_describe(&s, "x11 $DISPLAY 640x*+0+0 30 fps");
	assert_desc(&s, "ximagesrc use-damage=false show-pointer=false startx=0 starty=0 endx=639 ! "
			"video/x-raw,framerate=30/1 ! videoconvert ! video/x-raw,format=I420");
	ls_source_spec_clear(&s);

	parse_ok("x11://?y=8&height=100", &s);
	assert_describe(&s, "x11 $DISPLAY *x100+0+8 30 fps");
	ls_source_spec_clear(&s);

	parse_ok("x11://remote.host:1.2", &s);
	g_assert_cmpstr(s.x11.display, ==, "remote.host:1.2");
	ls_source_spec_clear(&s);
	parse_ok("x11://%5B::1%5D:0", &s);
	g_assert_cmpstr(s.x11.display, ==, "[::1]:0");
	ls_source_spec_clear(&s);

	parse_bad("x11://foo", "bad display \"foo\" (expected [host]:N[.S], e.g. :0 or :99.0)");
	parse_bad("x11://:", "bad display \":\"");
	parse_bad("x11://:a", "bad display");
	parse_bad("x11://:0.", "bad display");
	parse_bad("x11://:0.1.2", "bad display");
	parse_bad("x11://h$st:0", "bad display");
	parse_bad("x11://%zz", "bad percent-encoding in display");
	parse_bad("x11://:0?width=641", "option \"width\": must be even");
	parse_bad("x11://:0?width=0", "option \"width\": must be in [16, 16384]");
	parse_bad("x11://:0?x=-1", "option \"x\": must be in [0, 16383]");
	parse_bad("x11://:0?y=16384", "option \"y\": must be in [0, 16383]");
	parse_bad("x11://:0?show-pointer=2", "option \"show-pointer\": expected true or false");
	parse_bad("x11://:0?fps=0", "option \"fps\": bad rate");
	parse_bad("x11://:0?display=:1", "unknown option \"display\" for x11:// (expected x, y, width, height, fps, "
					 "show-pointer)");
}

static void test_fbdev(void)
{
	struct ls_source_spec s;

	parse_ok("fbdev:///dev/fb0", &s);
	g_assert_cmpint(s.kind, ==, LS_SRC_FBDEV);
	g_assert_cmpstr(s.fbdev.device, ==, "/dev/fb0");
	g_assert_cmpint(s.fbdev.fps.num, ==, 15);
	g_assert_cmpint(s.fbdev.fps.den, ==, 1);
	assert_describe(&s, "fbdev /dev/fb0 15 fps");
	/* No GStreamer source for it: lockstep reads the device itself. */
	errno = 0;
	g_assert_null(ls_source_spec_gst_desc(&s));
	g_assert_cmpint(errno, ==, ENOTSUP);
	ls_source_spec_clear(&s);

	parse_ok("fbdev:///dev/fb1?fps=12.5", &s);
	g_assert_cmpint(s.fbdev.fps.num, ==, 25);
	g_assert_cmpint(s.fbdev.fps.den, ==, 2);
	assert_describe(&s, "fbdev /dev/fb1 12.5 fps");
	ls_source_spec_clear(&s);

	parse_bad("fbdev://fb0", "path must be absolute: fbdev:///path");
	parse_bad("fbdev:///dev/fb0?fps=x", "option \"fps\": bad rate");
	parse_bad("fbdev:///dev/fb0?depth=32",
		  "unknown option \"depth\" for fbdev:// (expected fps, width, height, format, stride)");
	parse_bad("fbdev:///tmp/fb.raw?width=63", "option \"width\"");

	/* a raw file stands for a framebuffer only with its geometry */
	char path[] = "/tmp/lockstep-fb-XXXXXX";
	int fd = mkstemp(path);
	g_assert_cmpint(fd, >=, 0);
	close(fd);
	char *uri = g_strdup_printf("fbdev://%s", path);
	parse_ok(uri, &s);
	char *err = NULL;
	g_assert_cmpint(ls_source_spec_check(&s, &err), <, 0);
	g_assert_nonnull(strstr(err, "give width, height and format"));
	g_free(err);
	ls_source_spec_clear(&s);
	g_free(uri);
	uri = g_strdup_printf("fbdev://%s?width=64&height=32&format=BGRx&stride=512", path);
	parse_ok(uri, &s);
	g_assert_cmpint(s.fbdev.width, ==, 64);
	g_assert_cmpint(s.fbdev.height, ==, 32);
	g_assert_cmpstr(s.fbdev.format, ==, "BGRx");
	g_assert_cmpint(s.fbdev.stride, ==, 512);
	g_assert_cmpint(ls_source_spec_check(&s, NULL), ==, 0);
	ls_source_spec_clear(&s);
	g_free(uri);
	unlink(path);
}

static void test_clear(void)
{
	struct ls_source_spec s;

	parse_ok("v4l2:///dev/video0?format=NV12", &s);
	ls_source_spec_clear(&s);
	g_assert_cmpint(s.kind, ==, LS_SRC_NONE);
	g_assert_null(s.v4l2.device);
	ls_source_spec_clear(&s); /* twice is fine */
	ls_source_spec_clear(NULL);

	/* A cleared spec describes as "none" and has no description. */
	assert_describe(&s, "none");
	errno = 0;
	g_assert_null(ls_source_spec_gst_desc(&s));
	g_assert_cmpint(errno, ==, EINVAL);
}

/* ---- check ----------------------------------------------------------- */

static void check_is(const char *uri, int want_rc, const char *want)
{
	struct ls_source_spec s;
	char *err = NULL;
	int rc;

	parse_ok(uri, &s);
	rc = ls_source_spec_check(&s, &err);
	if (rc != want_rc || (want && (!err || !strstr(err, want))))
		g_test_message("%s: rc %d, err %s", uri, rc, err);
	g_assert_cmpint(rc, ==, want_rc);
	if (want) {
		g_assert_nonnull(err);
		g_assert_nonnull(strstr(err, want));
	} else {
		g_assert_null(err);
	}
	g_free(err);
	ls_source_spec_clear(&s);
}

static void test_check_file(void)
{
	char *dir = g_dir_make_tmp("ls-uri-XXXXXX", NULL);
	char *file = g_build_filename(dir, "clip.mp4", NULL);
	char *uri_file = g_strdup_printf("file://%s", file);
	char *uri_dir = g_strdup_printf("file://%s", dir);
	char *uri_missing = g_strdup_printf("file://%s/missing.mp4", dir);
	char *missing_msg = g_strdup_printf("%s/missing.mp4: No such file or directory", dir);
	char *dir_msg = g_strdup_printf("%s: is a directory", dir);

	g_assert_nonnull(dir);
	g_assert_true(g_file_set_contents(file, "not really a video", -1, NULL));

	check_is(uri_file, 0, NULL);
	check_is(uri_missing, -ENOENT, missing_msg);
	check_is(uri_dir, -EISDIR, dir_msg);
	check_is("file:///dev/null", -EINVAL, "/dev/null: not a regular file");
	if (geteuid() != 0) {
		/* root reads anything: only meaningful for other users. */
		char *msg = g_strdup_printf("%s: Permission denied", file);
		g_assert_cmpint(g_chmod(file, 0), ==, 0);
		check_is(uri_file, -EACCES, msg);
		g_free(msg);
	}
	g_assert_cmpint(g_remove(file), ==, 0);
	g_assert_cmpint(g_rmdir(dir), ==, 0);
	g_free(dir_msg);
	g_free(missing_msg);
	g_free(uri_missing);
	g_free(uri_dir);
	g_free(uri_file);
	g_free(file);
	g_free(dir);
}

static void test_check_devices(void)
{
	/* check only knows character devices: /dev/null passes. */
	check_is("v4l2:///dev/null", 0, NULL);
	check_is("fbdev:///dev/null", 0, NULL);
	check_is("v4l2:///nonexistent/video9", -ENOENT, "/nonexistent/video9: No such file or directory");
	check_is("fbdev:///nonexistent/fb9", -ENOENT, "/nonexistent/fb9: No such file or directory");
	check_is("v4l2:///", -ENODEV, "/: not a character device");
	check_is("fbdev:///", -ENODEV, "/: not a character device");
}

static void test_check_x11(void)
{
	char *saved = g_strdup(g_getenv("DISPLAY"));

	check_is("x11://:0", 0, NULL);
	check_is("x11://host:10.1", 0, NULL);

	g_unsetenv("DISPLAY");
	check_is("x11://", -EINVAL, "x11:// without a display and $DISPLAY is not set");
	g_setenv("DISPLAY", "", TRUE);
	check_is("x11://", -EINVAL, "$DISPLAY is not set");
	g_setenv("DISPLAY", ":5", TRUE);
	check_is("x11://", 0, NULL);
	g_setenv("DISPLAY", "garbage", TRUE);
	check_is("x11://", -EINVAL, "bad X11 display \"garbage\" in $DISPLAY");
	/* An explicit display wins over $DISPLAY. */
	check_is("x11://:1", 0, NULL);

	if (saved)
		g_setenv("DISPLAY", saved, TRUE);
	else
		g_unsetenv("DISPLAY");
	g_free(saved);
}

static void test_check_other(void)
{
	struct ls_source_spec s;
	char *err = NULL;

	check_is("test://?fps=25", 0, NULL);
	check_is("rtsp://cam/s", 0, NULL);
	check_is("udp://0.0.0.0:5000", 0, NULL);

	/* A spec built by hand is checked too. */
	parse_ok("udp://0.0.0.0:5000", &s);
	s.udp.port = 70000;
	g_assert_cmpint(ls_source_spec_check(&s, &err), ==, -EINVAL);
	g_assert_cmpstr(err, ==, "udp port 70000 out of range 1..65535");
	g_clear_pointer(&err, g_free);
	s.udp.port = 5000;
	s.udp.host[0] = '\0';
	g_assert_cmpint(ls_source_spec_check(&s, &err), ==, -EINVAL);
	g_assert_cmpstr(err, ==, "udp:// without a host");
	g_clear_pointer(&err, g_free);
	ls_source_spec_clear(&s);

	g_assert_cmpint(ls_source_spec_check(&s, &err), ==, -EINVAL);
	g_assert_cmpstr(err, ==, "no source");
	g_free(err);
	/* err may be NULL. */
	g_assert_cmpint(ls_source_spec_check(&s, NULL), ==, -EINVAL);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/uri/value/fixed", test_value_fixed);
	g_test_add_func("/uri/value/int", test_value_int);
	g_test_add_func("/uri/value/double", test_value_double);
	g_test_add_func("/uri/value/bool", test_value_bool);
	g_test_add_func("/uri/value/rate", test_value_rate);
	g_test_add_func("/uri/value/man", test_value_man);
	g_test_add_func("/uri/scheme/errors", test_scheme_errors);
	g_test_add_func("/uri/scheme/kind-names", test_kind_names);
	g_test_add_func("/uri/query/errors", test_query_errors);
	g_test_add_func("/uri/test/defaults", test_test_defaults);
	g_test_add_func("/uri/test/options", test_test_options);
	g_test_add_func("/uri/test/patterns", test_test_patterns);
	g_test_add_func("/uri/test/bad", test_test_bad);
	g_test_add_func("/uri/file", test_file);
	g_test_add_func("/uri/v4l2", test_v4l2);
	g_test_add_func("/uri/rtsp", test_rtsp);
	g_test_add_func("/uri/udp", test_udp);
	g_test_add_func("/uri/x11", test_x11);
	g_test_add_func("/uri/fbdev", test_fbdev);
	g_test_add_func("/uri/clear", test_clear);
	g_test_add_func("/uri/check/file", test_check_file);
	g_test_add_func("/uri/check/devices", test_check_devices);
	g_test_add_func("/uri/check/x11", test_check_x11);
	g_test_add_func("/uri/check/other", test_check_other);

	return g_test_run();
}
