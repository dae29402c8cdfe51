/* Tests for src/config/config.c: the happy paths with their defaults, and every
 * error path with its "FILE:LINE: ..." message. Texts are loaded with
 * ls_config_load_data() under the name "t.ini"; the file paths (missing,
 * directory, NUL, too large) use a temporary directory. The examples/
 * configs are loaded from $G_TEST_SRCDIR/../examples (meson) or
 * ./examples (run from the source root); README.md, whose config
 * reference must be ls_config_reference()'s, and src/config/config.h, whose top
 * comment must document the same keys, likewise. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "config.h"

#define MINIMAL "[rig]\nrate = 30\n[camera a]\nuri = test://\n"

static struct ls_config *load_ok(const char *text)
{
	struct ls_config *cfg = NULL;
	char *err = NULL;
	int rc = ls_config_load_data(text, "t.ini", &cfg, &err);

	if (rc != 0)
		g_test_message("unexpected error: %s", err);
	g_assert_cmpint(rc, ==, 0);
	g_assert_null(err);
	g_assert_nonnull(cfg);
	return cfg;
}

/* Loading must fail with -EINVAL and one line containing @want. */
static void load_bad(const char *text, const char *want)
{
	struct ls_config *cfg = (struct ls_config *)&cfg; /* must be reset to NULL */
	char *err = NULL;
	int rc = ls_config_load_data(text, "t.ini", &cfg, &err);

	g_assert_cmpint(rc, ==, -EINVAL);
	g_assert_null(cfg);
	g_assert_nonnull(err);
	if (!strstr(err, want))
		g_test_message("text:\n%s\n  got  %s\n  want %s", text, err, want);
	g_assert_nonnull(strstr(err, want));
	g_assert_null(strchr(err, '\n'));
	g_assert_true(g_str_has_prefix(err, "t.ini:"));
	g_free(err);
}

/* ---- happy paths ----------------------------------------------------- */

static void test_defaults(void)
{
	struct ls_config *cfg = load_ok(MINIMAL);

	g_assert_cmpstr(cfg->path, ==, "t.ini");
	g_assert_cmpint(cfg->rate.num, ==, 30);
	g_assert_cmpint(cfg->rate.den, ==, 1);
	g_assert_cmpint(cfg->epoch_ns, ==, 0);
	/* Half of 33333333 ns. */
	g_assert_cmpint(cfg->tolerance_ns, ==, 16666666);
	g_assert_cmpint(cfg->max_latency_ns, ==, 100 * LS_NS_PER_MS);
	g_assert_cmpint(cfg->policy, ==, LS_POLICY_MISSING);
	g_assert_cmpint(cfg->hold_max_ns, ==, 1000 * LS_NS_PER_MS);
	g_assert_cmpint(cfg->startup_ns, ==, 2000 * LS_NS_PER_MS);
	g_assert_cmpint(cfg->stall_ns, ==, 2 * LS_NS_PER_SEC);
	g_assert_cmpint(cfg->retry_max_ns, ==, 5 * LS_NS_PER_SEC);
	g_assert_cmpint(cfg->cams[0].stall_ns, ==, 2 * LS_NS_PER_SEC);
	g_assert_cmpint(cfg->cams[0].retry_max_ns, ==, 5 * LS_NS_PER_SEC);
	g_assert_cmpuint(cfg->queue, ==, 4);
	g_assert_cmpint(cfg->rig_line, ==, 1);
	g_assert_cmpuint(cfg->ncams, ==, 1);
	g_assert_cmpuint(cfg->ndisabled, ==, 0);
	g_assert_cmpstr(cfg->cams[0].name, ==, "a");
	g_assert_cmpstr(cfg->cams[0].uri, ==, "test://");
	g_assert_cmpint(cfg->cams[0].src.kind, ==, LS_SRC_TEST);
	g_assert_cmpint(cfg->cams[0].offset_ns, ==, 0);
	g_assert_true(cfg->cams[0].enabled);
	g_assert_cmpint(cfg->cams[0].line, ==, 3);
	g_assert_cmpuint(cfg->noutputs, ==, 0);
	g_assert_null(cfg->outputs);
	ls_config_free(&cfg);
	g_assert_null(cfg);
	ls_config_free(&cfg); /* NULL-safe */
	ls_config_free(NULL);
}

static void test_full(void)
{
	struct ls_config *cfg = load_ok("# a full rig\n"
					"[rig]\n"
					"rate = 29.97\n"
					"epoch = 1767225600.25\n"
					"tolerance-ms = 8\n"
					"max-latency-ms = 80.5\n"
					"missing = hold\n"
					"hold-max-ms = 500\n"
					"startup-ms = 3000\n"
					"queue = 16\n"
					"\n"
					"[camera left]\n"
					"uri = test://?fps=30&offset-ms=-7\n"
					"offset-ms = -7.25\n"
					"enabled = true\n"
					"[camera right]\n"
					"uri = file:///data/right.mp4?loop=true\n"
					"offset = 3\n"
					"[output mosaic]\n"
					"file = out/m.mkv\n"
					"display = true\n"
					"width = 1920\n"
					"height = 1080\n");

	g_assert_cmpint(cfg->rate.num, ==, 30000);
	g_assert_cmpint(cfg->rate.den, ==, 1001);
	g_assert_cmpint(cfg->epoch_ns, ==, INT64_C(1767225600250000000));
	g_assert_cmpint(cfg->tolerance_ns, ==, 8 * LS_NS_PER_MS);
	g_assert_cmpint(cfg->max_latency_ns, ==, 80500000);
	g_assert_cmpint(cfg->policy, ==, LS_POLICY_HOLD);
	g_assert_cmpint(cfg->hold_max_ns, ==, 500 * LS_NS_PER_MS);
	g_assert_cmpint(cfg->startup_ns, ==, 3000 * LS_NS_PER_MS);
	g_assert_cmpuint(cfg->queue, ==, 16);
	g_assert_cmpint(cfg->rig_line, ==, 2);

	g_assert_cmpuint(cfg->ncams, ==, 2);
	g_assert_cmpstr(cfg->cams[0].name, ==, "left");
	g_assert_cmpint(cfg->cams[0].line, ==, 12);
	g_assert_cmpint(cfg->cams[0].offset_ns, ==, -7250000);
	g_assert_cmpint(cfg->cams[0].src.test.offset_ns, ==, -7 * LS_NS_PER_MS);
	g_assert_cmpstr(cfg->cams[1].name, ==, "right");
	g_assert_cmpint(cfg->cams[1].line, ==, 16);
	g_assert_cmpint(cfg->cams[1].offset_ns, ==, 3 * LS_NS_PER_MS);
	g_assert_cmpint(cfg->cams[1].src.kind, ==, LS_SRC_FILE);
	g_assert_cmpstr(cfg->cams[1].src.file.path, ==, "/data/right.mp4");
	g_assert_true(cfg->cams[1].src.file.loop);

	g_assert_cmpuint(cfg->noutputs, ==, 1);
	g_assert_cmpint(cfg->outputs[0].kind, ==, LS_OUTPUT_MOSAIC);
	g_assert_cmpstr(cfg->outputs[0].file, ==, "out/m.mkv");
	g_assert_true(cfg->outputs[0].display);
	g_assert_cmpint(cfg->outputs[0].width, ==, 1920);
	g_assert_cmpint(cfg->outputs[0].height, ==, 1080);
	g_assert_cmpint(cfg->outputs[0].line, ==, 19);
	ls_config_free(&cfg);
}

static void test_rates(void)
{
	static const struct {
		const char *text;
		int32_t num, den;
		int64_t tolerance_ns; /* the default, T/2 */
	} cases[] = {
		{ "30", 30, 1, 16666666 },
		{ "29.97", 30000, 1001, 16683333 },
		{ "30000/1001", 30000, 1001, 16683333 },
		{ "59.94", 60000, 1001, 8341666 },
		{ "25", 25, 1, 20000000 },
		{ "12.5", 25, 2, 40000000 },
		{ "60/2", 30, 1, 16666666 },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *text = g_strdup_printf("[rig]\nrate = %s\n[camera a]\nuri = test://\n", cases[i].text);
		struct ls_config *cfg = load_ok(text);

		g_assert_cmpint(cfg->rate.num, ==, cases[i].num);
		g_assert_cmpint(cfg->rate.den, ==, cases[i].den);
		g_assert_cmpint(cfg->tolerance_ns, ==, cases[i].tolerance_ns);
		ls_config_free(&cfg);
		g_free(text);
	}
}

static void test_epochs(void)
{
	static const struct {
		const char *text;
		int64_t ns;
	} cases[] = {
		{ "0", 0 },
		{ "1767225600", INT64_C(1767225600000000000) },
		{ "1767225600.123456789", INT64_C(1767225600123456789) },
		{ "+1.5", INT64_C(1500000000) },
		{ ".5", INT64_C(500000000) },
		{ "9200000000", INT64_C(9200000000000000000) },
		{ "2026-01-01T00:00:00Z", INT64_C(1767225600000000000) },
		{ "2026-01-01T01:00:00+01:00", INT64_C(1767225600000000000) },
		/* no zone: UTC, whatever the local zone */
		{ "2026-01-01T00:00:00", INT64_C(1767225600000000000) },
		{ "2026-01-01 00:00:00", INT64_C(1767225600000000000) },
		/* the fraction is exact to the ns (GLib alone keeps µs) */
		{ "2026-01-01T00:00:00.123456789Z", INT64_C(1767225600123456789) },
		{ "2026-01-01T00:00:00,5Z", INT64_C(1767225600500000000) },
		{ "2026-01-01T00:00:00.1-00:30", INT64_C(1767227400100000000) },
		{ "20260101T000000.25Z", INT64_C(1767225600250000000) },
		{ "1970-01-01T00:00:00Z", 0 },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *text = g_strdup_printf("[rig]\nrate = 30\nepoch = %s\n[camera a]\nuri = test://\n",
					     cases[i].text);
		struct ls_config *cfg = load_ok(text);

		if (cfg->epoch_ns != cases[i].ns)
			g_test_message("epoch %s", cases[i].text);
		g_assert_cmpint(cfg->epoch_ns, ==, cases[i].ns);
		ls_config_free(&cfg);
		g_free(text);
	}
}

static void test_offsets(void)
{
	struct ls_config *cfg = load_ok("[rig]\nrate = 30\n"
					"[camera a]\nuri = test://\noffset-ms = -7\n"
					"[camera b]\nuri = test://\noffset = 4.5\n"
					"[camera c]\nuri = test://\noffset-ms = +0.000001\n"
					"[camera d]\nuri = test://\noffset-ms = -10000\n"
					"[camera e]\nuri = test://\noffset = 10000\n");

	g_assert_cmpuint(cfg->ncams, ==, 5);
	g_assert_cmpint(cfg->cams[0].offset_ns, ==, -7 * LS_NS_PER_MS);
	g_assert_cmpint(cfg->cams[1].offset_ns, ==, 4500000);
	g_assert_cmpint(cfg->cams[2].offset_ns, ==, 1);
	g_assert_cmpint(cfg->cams[3].offset_ns, ==, -10 * LS_NS_PER_SEC);
	g_assert_cmpint(cfg->cams[4].offset_ns, ==, 10 * LS_NS_PER_SEC);
	ls_config_free(&cfg);
}

static void test_disabled(void)
{
	struct ls_config *cfg = load_ok("[rig]\nrate = 30\n"
					"[camera a]\nuri = test://\nenabled = false\n"
					"[camera b]\nuri = v4l2:///dev/video0\nenabled = yes\n"
					"[camera c]\nenabled = 0\nuri = test://?fps=25\n");

	g_assert_cmpuint(cfg->ncams, ==, 1);
	g_assert_cmpuint(cfg->ndisabled, ==, 2);
	g_assert_cmpstr(cfg->cams[0].name, ==, "b");
	g_assert_cmpint(cfg->cams[0].line, ==, 6);
	g_assert_cmpint(cfg->cams[0].src.kind, ==, LS_SRC_V4L2);
	ls_config_free(&cfg);

	/* A disabled camera is still validated. */
	load_bad("[rig]\nrate = 30\n[camera a]\nuri = test://\n[camera b]\nenabled = false\nuri = bogus\n",
		 "t.ini:7: [camera b] uri: not a URI: \"bogus\"");
	load_bad("[rig]\nrate = 30\n[camera a]\nuri = test://\nenabled = false\n",
		 "t.ini: every camera is disabled (enabled = false)");
}

static void test_outputs(void)
{
	struct ls_config *cfg;

	cfg = load_ok(MINIMAL "[output mosaic]\nfile = out/demo.mp4\n");
	g_assert_cmpuint(cfg->noutputs, ==, 1);
	g_assert_cmpstr(cfg->outputs[0].file, ==, "out/demo.mp4");
	g_assert_false(cfg->outputs[0].display);
	g_assert_cmpint(cfg->outputs[0].width, ==, 1280);
	g_assert_cmpint(cfg->outputs[0].height, ==, 720);
	g_assert_cmpint(cfg->outputs[0].line, ==, 5);
	ls_config_free(&cfg);

	cfg = load_ok(MINIMAL "[output mosaic]\ndisplay = true\nwidth = 64\nheight = 4320\n");
	g_assert_null(cfg->outputs[0].file);
	g_assert_true(cfg->outputs[0].display);
	g_assert_cmpint(cfg->outputs[0].width, ==, 64);
	g_assert_cmpint(cfg->outputs[0].height, ==, 4320);
	ls_config_free(&cfg);

	/* Extensions in any case; .ts; a GKeyFile escape in the value. */
	cfg = load_ok(MINIMAL "[output mosaic]\nfile = /tmp/A.MKV\nwidth = 7680\nheight = 64\n");
	g_assert_cmpstr(cfg->outputs[0].file, ==, "/tmp/A.MKV");
	ls_config_free(&cfg);
	cfg = load_ok(MINIMAL "[output mosaic]\nfile = x.ts\ndisplay = false\n");
	g_assert_cmpstr(cfg->outputs[0].file, ==, "x.ts");
	ls_config_free(&cfg);
	cfg = load_ok(MINIMAL "[output mosaic]\nfile = out/my\\sclip.mp4\n");
	g_assert_cmpstr(cfg->outputs[0].file, ==, "out/my clip.mp4");
	ls_config_free(&cfg);
}

static void test_detect(void)
{
	struct ls_config *cfg;

	cfg = load_ok(MINIMAL);
	g_assert_null(cfg->detect);
	ls_config_free(&cfg);

	cfg = load_ok(MINIMAL "[detect]\nmodel = m.onnx\n");
	const struct ls_detect_config *d = cfg->detect;
	g_assert_nonnull(d);
	g_assert_cmpstr(d->model, ==, "m.onnx");
	g_assert_cmpint(d->format, ==, LS_DETECT_AUTO);
	g_assert_true(d->all_classes);
	g_assert_cmpfloat(d->threshold, ==, 0.3);
	g_assert_cmpfloat(d->iou, ==, 0.5);
	g_assert_cmpuint(d->max_dets, ==, 100);
	g_assert_cmpuint(d->every_n, ==, 1);
	g_assert_cmpstr(d->provider, ==, "cpu");
	g_assert_false(d->fallback_cpu);
	g_assert_cmpuint(d->threads, ==, 0);
	g_assert_null(d->output);
	g_assert_true(d->draw);
	g_assert_false(d->motion_gate);
	g_assert_cmpint(d->input_w, ==, 0);
	g_assert_null(d->runtime);
	g_assert_cmpint(d->line, ==, 5);
	g_assert_false(d->clip_any);
	g_assert_cmpfloat(d->clip_pre_s, ==, 5);
	g_assert_cmpfloat(d->clip_post_s, ==, 5);
	g_assert_null(d->clip_dir);
	ls_config_free(&cfg);

	/* clip events */
	cfg = load_ok(MINIMAL "[detect]\nmodel = m.onnx\nmotion-gate = on\nclip-on = person, motion,car\n"
			      "clip-pre-s = 2.5\nclip-post-s = 0\nclip-dir = /tmp/c\n[record]\ndir = /tmp\n");
	d = cfg->detect;
	g_assert_true(d->clip_any);
	g_assert_true(d->clip_motion);
	g_assert_cmphex(d->clip_classes[0], ==, (1u << 0) | (1u << 2)); /* person, car */
	g_assert_cmpfloat(d->clip_pre_s, ==, 2.5);
	g_assert_cmpfloat(d->clip_post_s, ==, 0);
	g_assert_cmpstr(d->clip_dir, ==, "/tmp/c");
	g_assert_cmpint(d->clip_line, ==, 8);
	ls_config_free(&cfg);
	load_bad(MINIMAL "[detect]\nmodel = m.onnx\nclip-on = person\n",
		 "t.ini:7: [detect] clip-on needs a [record] group (clips are cut from its recording)");
	load_bad(MINIMAL "[detect]\nmodel = m.onnx\nclip-on = motion\n[record]\ndir = /tmp\n",
		 "t.ini:7: [detect] clip-on = motion needs motion-gate = on");
	load_bad(MINIMAL "[detect]\nmodel = m.onnx\nclasses = car\nclip-on = person\n[record]\ndir = /tmp\n",
		 "t.ini:8: [detect] clip-on: \"person\" is not in classes= (it would never be detected)");
	load_bad(MINIMAL "[detect]\nmodel = m.onnx\nclip-on = person,ghost\n",
		 "t.ini:7: [detect] clip-on: unknown event \"ghost\" (motion, or COCO class names");
	load_bad(MINIMAL "[detect]\nmodel = m.onnx\nclip-on = \n", "t.ini:7: [detect] clip-on: empty event list");
	load_bad(MINIMAL "[detect]\nmodel = m.onnx\nclip-pre-s = -1\n",
		 "t.ini:7: [detect] clip-pre-s: expected seconds in 0..3600, got \"-1\"");
	load_bad(MINIMAL "[detect]\nmodel = m.onnx\nclip-post-s = 3601\n",
		 "t.ini:7: [detect] clip-post-s: expected seconds in 0..3600, got \"3601\"");
	load_bad(MINIMAL
		 "[camera clips]\nuri = test://\n[detect]\nmodel = m.onnx\nclip-on = person\n[record]\ndir = /tmp\n",
		 "t.ini:9: [detect] clip-on: a camera named \"clips\" has its segments where clips go by default");

	cfg = load_ok(MINIMAL
		      "[detect]\nmodel = y.onnx\nformat = yolov8\nclasses = person, car,bus\nthreshold = 0.45\n"
		      "iou = 1\nmax-detections = 7\nevery-n = 3\nprovider = cuda\nfallback = cpu\nthreads = 2\n"
		      "output = -\ndraw = off\nmotion-gate = on\ninput-size = 640x480\nruntime = /opt/libort.so\n");
	d = cfg->detect;
	g_assert_cmpint(d->format, ==, LS_DETECT_YOLOV8);
	g_assert_false(d->all_classes);
	g_assert_cmphex(d->classes[0], ==, (1u << 0) | (1u << 2) | (1u << 5)); /* person, car, bus */
	g_assert_cmpfloat(d->threshold, ==, 0.45);
	g_assert_cmpfloat(d->iou, ==, 1.0);
	g_assert_cmpuint(d->max_dets, ==, 7);
	g_assert_cmpuint(d->every_n, ==, 3);
	g_assert_cmpstr(d->provider, ==, "cuda");
	g_assert_true(d->fallback_cpu);
	g_assert_cmpuint(d->threads, ==, 2);
	g_assert_cmpstr(d->output, ==, "-");
	g_assert_false(d->draw);
	g_assert_true(d->motion_gate);
	g_assert_cmpint(d->input_w, ==, 640);
	g_assert_cmpint(d->input_h, ==, 480);
	g_assert_cmpstr(d->runtime, ==, "/opt/libort.so");
	ls_config_free(&cfg);

	load_bad(MINIMAL "[detect]\nthreshold = 0.5\n", "t.ini:5: [detect] needs model = FILE.onnx");
	load_bad(MINIMAL "[detect]\nmodel = m.onnx\nthreshold = 0\n",
		 "t.ini:7: [detect] threshold: expected a number in (0, 1], got \"0\"");
	load_bad(MINIMAL "[detect]\nmodel = m.onnx\nthreshold = 1.5\n",
		 "t.ini:7: [detect] threshold: expected a number");
	load_bad(MINIMAL "[detect]\nmodel = m.onnx\nclasses = person,unicorn\n",
		 "t.ini:7: [detect] classes: unknown class \"unicorn\"");
	load_bad(MINIMAL "[detect]\nmodel = m.onnx\nprovider = gpu\n",
		 "t.ini:7: [detect] provider: unknown provider \"gpu\" (expected cpu, cuda, tensorrt, openvino");
	load_bad(MINIMAL "[detect]\nmodel = m.onnx\nfallback = maybe\n",
		 "t.ini:7: [detect] fallback: expected cpu or none, got \"maybe\"");
	load_bad(MINIMAL "[detect]\nmodel = m.onnx\nformat = ssd\n",
		 "t.ini:7: [detect] format: expected auto, centernet");
	load_bad(MINIMAL "[detect]\nmodel = m.onnx\nevery-n = 0\n", "t.ini:7: [detect] every-n:");
	load_bad(MINIMAL "[detect]\nmodel = m.onnx\ndraw = sometimes\n", "t.ini:7: [detect] draw: expected on or off");
	load_bad(MINIMAL "[detect]\nmodel = m.onnx\ninput-size = 640\n",
		 "t.ini:7: [detect] input-size: expected WIDTHxHEIGHT, each 16..8192, got \"640\"");
	load_bad(
		MINIMAL "[detect]\nmodel = m.onnx\nmodle = x\n",
		"t.ini:7: unknown key \"modle\" in [detect] (expected model, format, classes, threshold, iou, "
		"max-detections, every-n, provider, fallback, threads, output, draw, motion-gate, input-size, runtime, "
		"clip-on, clip-pre-s, clip-post-s, clip-dir)");
	load_bad(MINIMAL "[detect]\nmodel = a.onnx\n[detect]\nmodel = b.onnx\n",
		 "t.ini:7: duplicate group [detect] (first at line 5)");
}

static void test_syntax_ok(void)
{
	/* Comments, blank lines, indentation, CRLF, spaces around '=' and
	 * after the header; groups in any order; a '#' inside a value is
	 * data (the rtsp options). */
	struct ls_config *cfg = load_ok("# comment\r\n"
					"\r\n"
					"   # indented comment\r\n"
					"[camera cam.1_B-x]   \r\n"
					"  uri=rtsp://cam/s?ch=1#latency=50\r\n"
					"offset-ms\t=\t2\r\n"
					"[rig]\r\n"
					"rate=25\r\n"
					"[camera abcdefghijklmnopqrstuvwxyz012345]\n"
					"uri = test://");

	g_assert_cmpint(cfg->rate.num, ==, 25);
	g_assert_cmpint(cfg->rig_line, ==, 7);
	g_assert_cmpuint(cfg->ncams, ==, 2);
	g_assert_cmpstr(cfg->cams[0].name, ==, "cam.1_B-x");
	g_assert_cmpint(cfg->cams[0].line, ==, 4);
	g_assert_cmpstr(cfg->cams[0].uri, ==, "rtsp://cam/s?ch=1#latency=50");
	g_assert_cmpstr(cfg->cams[0].src.rtsp.location, ==, "rtsp://cam/s?ch=1");
	g_assert_cmpint(cfg->cams[0].src.rtsp.latency_ms, ==, 50);
	g_assert_cmpint(cfg->cams[0].offset_ns, ==, 2 * LS_NS_PER_MS);
	g_assert_cmpstr(cfg->cams[1].name, ==, "abcdefghijklmnopqrstuvwxyz012345");
	ls_config_free(&cfg);
}

/* ---- error paths: syntax and structure ------------------------------- */

static void test_bad_syntax(void)
{
	load_bad("[rig]\nrate = 30\ngarbage\n", "t.ini:3: expected key = value, [group] or # comment, got \"garbage\"");
	load_bad("[rig]\n; old-style comment\n", "t.ini:2: expected key = value, [group] or # comment, got \"; "
						 "old-style comment\" (comments start with '#')");
	load_bad("[rig\nrate = 30\n", "t.ini:1: missing ']' in group header \"[rig\"");
	load_bad("[rig] x\nrate = 30\n", "t.ini:1: unexpected \" x\" after group header");
	load_bad("[rig]]\n", "t.ini:1: unexpected \"]\" after group header");
	load_bad("[rig]\n = 30\n", "t.ini:2: missing key name before '='");
	load_bad("rate = 30\n[rig]\n", "t.ini:1: key \"rate\" before any group (start with [rig])");
	load_bad("# x\n\n[rig]\nrate = 3\xff\n", "t.ini:4: not valid UTF-8");
	load_bad("[rig]\r\nrate = 30\r\nbad line\r\n", "t.ini:3: expected key = value");
}

static void test_bad_groups(void)
{
	load_bad(
		"[rig]\nrate = 30\n[foo]\n",
		"t.ini:3: unknown group [foo] (expected [rig], [camera NAME], [output mosaic|shm|file|rtsp], [redact], [detect], [record], [server], [remote], [clock] or [bus])");
	load_bad("[Rig]\n", "t.ini:1: unknown group [Rig]");
	load_bad("[]\n", "t.ini:1: unknown group []");
	load_bad("[rig]\nrate = 30\n[camera]\nuri = test://\n", "t.ini:3: [camera] needs a name: [camera NAME]");
	load_bad("[camera bad name]\n",
		 "t.ini:1: bad camera name \"bad name\" (expected 1 to 32 of A-Z a-z 0-9 _ . -)");
	load_bad("[camera  a]\n", "t.ini:1: bad camera name \" a\"");
	load_bad("[camera a/b]\n", "t.ini:1: bad camera name \"a/b\"");
	load_bad("[camera abcdefghijklmnopqrstuvwxyz0123456]\n",
		 "bad camera name \"abcdefghijklmnopqrstuvwxyz0123456\"");
	load_bad("[camera caf\xc3\xa9]\n", "t.ini:1: bad camera name");
	load_bad("[output]\n",
		 "t.ini:1: unknown output [output] (expected [output mosaic], [output shm] or [output file])");
	load_bad("[output pip]\n", "t.ini:1: unknown output [output pip]");
	load_bad("[rig]\nrate = 30\n[rig]\nrate = 25\n", "t.ini:3: duplicate group [rig] (first at line 1)");
	load_bad(MINIMAL "[camera a]\nuri = test://\n", "t.ini:5: duplicate camera \"a\" (first at line 3)");
	load_bad(MINIMAL "[output mosaic]\ndisplay = true\n[output mosaic]\ndisplay = true\n",
		 "t.ini:7: duplicate group [output mosaic] (first at line 5)");
}

static void test_bad_keys(void)
{
	load_bad("[rig]\nratee = 30\n",
		 "t.ini:2: unknown key \"ratee\" in [rig] (expected rate, epoch, tolerance-ms, "
		 "max-latency-ms, missing, hold-max-ms, startup-ms, queue, stall-s, retry-max-s)");
	load_bad(
		"[rig]\nrate = 30\n[camera a]\nurl = test://\n",
		"t.ini:4: unknown key \"url\" in [camera a] (expected uri, offset-ms, offset, enabled, redact, stall-s, retry-max-s)");
	load_bad(MINIMAL "[output mosaic]\nfps = 30\n",
		 "t.ini:6: unknown key \"fps\" in [output mosaic] (expected file, display, width, height)");
	/* GKeyFile would hide these: a locale key, a key with a space. */
	load_bad("[rig]\nrate[de] = 30\n", "t.ini:2: unknown key \"rate[de]\" in [rig]");
	load_bad("[rig]\nra te = 30\n", "t.ini:2: unknown key \"ra te\" in [rig]");
	load_bad("[rig]\nRate = 30\n", "t.ini:2: unknown key \"Rate\"");
	/* GKeyFile would keep the last one silently. */
	load_bad("[rig]\nrate = 30\nrate = 25\n", "t.ini:3: duplicate key \"rate\" in [rig] (first at line 2)");
	load_bad("[rig]\nrate = 30\n[camera a]\nuri = test://\nuri = test://\n",
		 "t.ini:5: duplicate key \"uri\" in [camera a] (first at line 4)");
	/* Structural errors come before value errors. */
	load_bad("[rig]\nrate = bad\nfoo = 1\n", "t.ini:3: unknown key \"foo\"");
}

static void test_bad_structure(void)
{
	load_bad("[camera a]\nuri = test://\n", "t.ini: no [rig] group (it needs at least rate = ...)");
	load_bad("", "t.ini: no [rig] group");
	load_bad("# only comments\n", "t.ini: no [rig] group");
	load_bad("[rig]\ntolerance-ms = 5\n[camera a]\nuri = test://\n", "t.ini:1: [rig] has no rate (e.g. rate = 30)");
	load_bad("[rig]\nrate = 30\n", "t.ini: no camera: add a [camera NAME] group with a uri");
	load_bad("[rig]\nrate = 30\n[camera a]\noffset-ms = 2\n", "t.ini:3: [camera a] has no uri (e.g. uri = "
								  "test://?fps=30)");
	load_bad(MINIMAL "[output mosaic]\nwidth = 640\n",
		 "t.ini:5: [output mosaic] needs file = PATH, display = true, "
		 "or both");
	load_bad(MINIMAL "[output mosaic]\ndisplay = false\n", "t.ini:5: [output mosaic] needs file");
	/* The first in file order: the group before is checked when it ends. */
	load_bad("[rig]\nrate = 30\n[camera a]\n[camera b]\nuri = bad\n", "t.ini:3: [camera a] has no uri");
	load_bad("[rig]\nrate = 30\n[camera a]\nuri = bad\n[camera b]\n", "t.ini:4: [camera a] uri: not a URI");
}

/* ---- error paths: values --------------------------------------------- */

static void bad_rig_value(const char *line, const char *want)
{
	char *text = g_strdup_printf("[rig]\nrate = 30\n%s\n[camera a]\nuri = test://\n", line);

	load_bad(text, want);
	g_free(text);
}

static void test_bad_rig_values(void)
{
	load_bad("[rig]\nrate = abc\n",
		 "t.ini:2: [rig] rate: bad rate \"abc\" (expected e.g. 30, 29.97 or 30000/1001)");
	load_bad("[rig]\nrate = 0\n", "t.ini:2: [rig] rate: bad rate \"0\"");
	load_bad("[rig]\nrate = -30\n", "t.ini:2: [rig] rate: bad rate \"-30\"");
	load_bad("[rig]\nrate = 30/0\n", "t.ini:2: [rig] rate: bad rate \"30/0\"");
	load_bad("[rig]\nrate = 0.0001\n", "t.ini:2: [rig] rate: bad rate \"0.0001\"");
	load_bad("[rig]\nrate = 2000\n", "t.ini:2: [rig] rate: rate must be > 0 and <= 1000 fps, got \"2000\"");
	load_bad("[rig]\nrate =\n", "t.ini:2: [rig] rate: bad rate \"\"");

	bad_rig_value("epoch = abc", "t.ini:3: [rig] epoch: bad epoch \"abc\" (expected seconds since 1970 or "
				     "ISO-8601 like 2026-01-01T00:00:00Z)");
	bad_rig_value("epoch = -1", "t.ini:3: [rig] epoch: must be in [0, 9200000000] s, got \"-1\"");
	bad_rig_value("epoch = 1e9", "t.ini:3: [rig] epoch: bad epoch \"1e9\"");
	bad_rig_value("epoch = 1.2.3", "t.ini:3: [rig] epoch: bad epoch \"1.2.3\"");
	bad_rig_value("epoch = .", "t.ini:3: [rig] epoch: bad epoch \".\"");
	bad_rig_value("epoch = 9200000000.5", "t.ini:3: [rig] epoch: must be in [0, 9200000000] s");
	bad_rig_value("epoch = 2026-01-01", "t.ini:3: [rig] epoch: bad epoch \"2026-01-01\"");
	bad_rig_value("epoch = 2026-13-01T00:00:00Z", "t.ini:3: [rig] epoch: bad epoch");
	bad_rig_value("epoch = 1969-12-31T23:59:59Z", "t.ini:3: [rig] epoch: epoch \"1969-12-31T23:59:59Z\" is before "
						      "1970 or after 2261");
	bad_rig_value("epoch =", "t.ini:3: [rig] epoch: bad epoch \"\"");

	bad_rig_value("tolerance-ms = 0", "t.ini:3: [rig] tolerance-ms: must be > 0 and <= 60000 ms, got \"0\"");
	bad_rig_value("tolerance-ms = -1", "t.ini:3: [rig] tolerance-ms: must be > 0");
	bad_rig_value("tolerance-ms = 60000.5", "t.ini:3: [rig] tolerance-ms: must be > 0 and <= 60000 ms");
	bad_rig_value("tolerance-ms = 8ms", "t.ini:3: [rig] tolerance-ms: expected a number of ms (like 4.5 or -7), "
					    "got \"8ms\"");
	bad_rig_value("max-latency-ms = 0", "t.ini:3: [rig] max-latency-ms: must be > 0 and <= 60000 ms");
	bad_rig_value("max-latency-ms = x", "t.ini:3: [rig] max-latency-ms: expected a number of ms");
	bad_rig_value("missing = drop", "t.ini:3: [rig] missing: expected missing or hold, got \"drop\"");
	bad_rig_value("missing = Hold", "t.ini:3: [rig] missing: expected missing or hold");
	bad_rig_value("hold-max-ms = 0", "t.ini:3: [rig] hold-max-ms: must be > 0 and <= 3600000 ms");
	bad_rig_value("hold-max-ms = 3600001", "t.ini:3: [rig] hold-max-ms: must be > 0 and <= 3600000 ms");
	bad_rig_value("startup-ms = 0", "t.ini:3: [rig] startup-ms: must be > 0 and <= 600000 ms");
	bad_rig_value("startup-ms = soon", "t.ini:3: [rig] startup-ms: expected a number of ms");
	bad_rig_value("queue = 0", "t.ini:3: [rig] queue: must be in [1, 1024], got \"0\"");
	bad_rig_value("queue = 1025", "t.ini:3: [rig] queue: must be in [1, 1024], got \"1025\"");
	bad_rig_value("queue = 4.5", "t.ini:3: [rig] queue: expected an integer, got \"4.5\"");
	bad_rig_value("queue = many", "t.ini:3: [rig] queue: expected an integer");
}

static void bad_camera_value(const char *lines, const char *want)
{
	char *text = g_strdup_printf("[rig]\nrate = 30\n[camera cam1]\n%s\n", lines);

	load_bad(text, want);
	g_free(text);
}

/* stall-s and retry-max-s: [rig] sets every camera's, a camera its own,
 * in any group order */
static void test_reconnect_keys(void)
{
	struct ls_config *cfg = load_ok("[camera a]\nuri = test://\nstall-s = 0.5\n"
					"[rig]\nrate = 30\nstall-s = 3\nretry-max-s = 1.5\n"
					"[camera b]\nuri = test://\nretry-max-s = 60\n");
	g_assert_cmpint(cfg->stall_ns, ==, 3 * LS_NS_PER_SEC);
	g_assert_cmpint(cfg->cams[0].stall_ns, ==, LS_NS_PER_SEC / 2);
	g_assert_cmpint(cfg->cams[0].retry_max_ns, ==, 1500 * LS_NS_PER_MS);
	g_assert_cmpint(cfg->cams[1].stall_ns, ==, 3 * LS_NS_PER_SEC);
	g_assert_cmpint(cfg->cams[1].retry_max_ns, ==, 60 * LS_NS_PER_SEC);
	ls_config_free(&cfg);
	load_bad("[rig]\nrate = 30\nstall-s = 0\n[camera a]\nuri = test://\n", "t.ini:3: [rig] stall-s: must be in");
	load_bad("[rig]\nrate = 30\n[camera a]\nuri = test://\nretry-max-s = 4000\n",
		 "t.ini:5: [camera a] retry-max-s: must be in");
	load_bad("[rig]\nrate = 30\n[camera a]\nuri = test://\nstall-s = soon\n", "t.ini:5: [camera a] stall-s:");
}

static void test_bad_camera_values(void)
{
	bad_camera_value("uri = foo://x", "t.ini:4: [camera cam1] uri: unknown scheme \"foo\" (expected test, file, "
					  "v4l2, rtsp, udp, x11, fbdev)");
	bad_camera_value("uri =", "t.ini:4: [camera cam1] uri: empty URI");
	bad_camera_value("uri = test://?fps=30&jitter-ms=-1", "t.ini:4: [camera cam1] uri: option \"jitter-ms\": must "
							      "be in [0, 1000] ms, got \"-1\"");
	bad_camera_value("uri = test://?colour=red",
			 "t.ini:4: [camera cam1] uri: unknown option \"colour\" for test://");
	bad_camera_value("uri = file://rel/x.mp4", "t.ini:4: [camera cam1] uri: path must be absolute");
	bad_camera_value("uri = udp://0.0.0.0", "t.ini:4: [camera cam1] uri: missing port");
	bad_camera_value("uri = test://\\q",
			 "t.ini:4: [camera cam1] uri: bad escape sequence (GKeyFile knows \\s \\n \\t \\r and \\\\)");
	bad_camera_value("uri = test://\noffset-ms = abc", "t.ini:5: [camera cam1] offset-ms: expected a number of ms "
							   "(like 4.5 or -7), got \"abc\"");
	bad_camera_value("uri = test://\noffset-ms = 10000.5", "t.ini:5: [camera cam1] offset-ms: must be in [-10000, "
							       "10000] ms, got \"10000.5\"");
	bad_camera_value("uri = test://\noffset = -10001",
			 "t.ini:5: [camera cam1] offset: must be in [-10000, 10000] ms");
	bad_camera_value("uri = test://\noffset-ms = 1\noffset = 1",
			 "t.ini:6: [camera cam1] offset: offset-ms is "
			 "already given at line 5 (they are the same, in ms)");
	bad_camera_value("offset = 1\nuri = test://\noffset-ms = 1", "t.ini:6: [camera cam1] offset-ms: offset is "
								     "already given at line 4");
	bad_camera_value("uri = test://\nenabled = maybe", "t.ini:5: [camera cam1] enabled: expected true or false, "
							   "got \"maybe\"");
}

static void bad_output_value(const char *line, const char *want)
{
	char *text = g_strdup_printf(MINIMAL "[output mosaic]\n%s\n", line);

	load_bad(text, want);
	g_free(text);
}

static void test_bad_output_values(void)
{
	bad_output_value("file = out/x.avi", "t.ini:6: [output mosaic] file: must be a file name ending in .mp4, .mkv "
					     "or .ts, got \"out/x.avi\"");
	bad_output_value("file = .mp4", "t.ini:6: [output mosaic] file: must be a file name ending in");
	bad_output_value("file = out/.ts", "t.ini:6: [output mosaic] file: must be a file name ending in");
	bad_output_value("file = out/", "t.ini:6: [output mosaic] file: must be a file name ending in");
	bad_output_value("file =", "t.ini:6: [output mosaic] file: must be a file name ending in");
	bad_output_value("file = out/mp4", "t.ini:6: [output mosaic] file:");
	bad_output_value("display = sometimes", "t.ini:6: [output mosaic] display: expected true or false");
	bad_output_value("width = 63", "t.ini:6: [output mosaic] width: must be in [64, 7680], got \"63\"");
	bad_output_value("width = 7682", "t.ini:6: [output mosaic] width: must be in [64, 7680]");
	bad_output_value("width = 641", "t.ini:6: [output mosaic] width: must be even, got \"641\"");
	bad_output_value("width = wide", "t.ini:6: [output mosaic] width: expected an integer");
	bad_output_value("height = 4322", "t.ini:6: [output mosaic] height: must be in [64, 4320]");
	bad_output_value("height = 62", "t.ini:6: [output mosaic] height: must be in [64, 4320]");
	bad_output_value("height = 361", "t.ini:6: [output mosaic] height: must be even");
}

static void test_comment_hint(void)
{
	/* GKeyFile has no trailing comments: say so. */
	load_bad("[rig]\nrate = 30 # thirty\n",
		 "t.ini:2: [rig] rate: bad rate \"30 # thirty\" (expected e.g. 30, 29.97 "
		 "or 30000/1001) (comments must be on a line of their own)");
	load_bad("[rig]\nrate = 30\n[camera a]\nuri = test:// ; synthetic\n",
		 "t.ini:4: [camera a] uri: space in URI \"test:// ; synthetic\": percent-encode it as %20 (comments "
		 "must be on a line of their own)");
	/* No hint for a '#' that is not after a space. */
	load_bad("[rig]\nrate = 30#x\n", "bad rate \"30#x\" (expected e.g. 30, 29.97 or 30000/1001)");
}

static void test_err_null(void)
{
	struct ls_config *cfg = NULL;
	char *err = NULL;

	/* err may be NULL. */
	g_assert_cmpint(ls_config_load_data("[rig]\n", "t.ini", &cfg, NULL), ==, -EINVAL);
	g_assert_null(cfg);
	/* A message already in *err is replaced (sanitizers check the leak). */
	err = g_strdup("old");
	g_assert_cmpint(ls_config_load_data("[rig]\n", "t.ini", &cfg, &err), ==, -EINVAL);
	g_assert_cmpstr(err, ==, "t.ini:1: [rig] has no rate (e.g. rate = 30)");
	g_free(err);
}

/* ---- files ----------------------------------------------------------- */

static char *tmpdir;

static char *write_tmp(const char *name, const char *data, gssize len)
{
	char *path = g_build_filename(tmpdir, name, NULL);

	g_assert_true(g_file_set_contents(path, data, len, NULL));
	return path;
}

static void test_files(void)
{
	struct ls_config *cfg = NULL;
	char *err = NULL, *path, *want;
	int rc;

	tmpdir = g_dir_make_tmp("ls-config-XXXXXX", NULL);
	g_assert_nonnull(tmpdir);

	/* A good file: its path is the name in ls_config.path. */
	path = write_tmp("good.ini", MINIMAL, -1);
	g_assert_cmpint(ls_config_load(path, &cfg, &err), ==, 0);
	g_assert_null(err);
	g_assert_cmpstr(cfg->path, ==, path);
	ls_config_free(&cfg);
	g_remove(path);
	g_free(path);

	/* Errors name the path as given. */
	path = write_tmp("bad.ini", "[rig]\nratee = 30\n", -1);
	g_assert_cmpint(ls_config_load(path, &cfg, &err), ==, -EINVAL);
	want = g_strdup_printf("%s:2: unknown key \"ratee\" in [rig]", path);
	g_assert_true(g_str_has_prefix(err, want));
	g_clear_pointer(&err, g_free);
	g_free(want);
	g_remove(path);
	g_free(path);

	/* Missing file: no line; the errno is returned. */
	path = g_build_filename(tmpdir, "missing.ini", NULL);
	cfg = (struct ls_config *)&cfg;
	g_assert_cmpint(ls_config_load(path, &cfg, &err), ==, -ENOENT);
	g_assert_null(cfg);
	want = g_strdup_printf("%s: cannot read: No such file or directory", path);
	g_assert_cmpstr(err, ==, want);
	g_clear_pointer(&err, g_free);
	g_free(want);
	g_free(path);

	/* A directory. */
	g_assert_cmpint(ls_config_load(tmpdir, &cfg, &err), ==, -EISDIR);
	want = g_strdup_printf("%s: cannot read: Is a directory", tmpdir);
	g_assert_cmpstr(err, ==, want);
	g_clear_pointer(&err, g_free);
	g_free(want);

	/* A NUL byte: its line is named. */
	{
		static const char nul[] = "[rig]\nrate = 30\nx\0y\n";
		path = write_tmp("nul.ini", nul, sizeof nul - 1);
	}
	g_assert_cmpint(ls_config_load(path, &cfg, &err), ==, -EINVAL);
	want = g_strdup_printf("%s:3: NUL byte (not a text file?)", path);
	g_assert_cmpstr(err, ==, want);
	g_clear_pointer(&err, g_free);
	g_free(want);
	g_remove(path);
	g_free(path);

	/* Larger than 1 MiB: refused before parsing. */
	{
		gsize n = 1024 * 1024 + 1;
		char *big = g_malloc(n);
		memset(big, '#', n);
		path = write_tmp("big.ini", big, (gssize)n);
		g_free(big);
	}
	rc = ls_config_load(path, &cfg, &err);
	g_assert_cmpint(rc, ==, -EFBIG);
	g_assert_nonnull(strstr(err, "cannot read: larger than 1048576 bytes"));
	g_clear_pointer(&err, g_free);
	g_remove(path);
	g_free(path);

	/* Unreadable (meaningless for root, who reads anything). */
	if (geteuid() != 0) {
		path = write_tmp("secret.ini", MINIMAL, -1);
		g_assert_cmpint(g_chmod(path, 0), ==, 0);
		g_assert_cmpint(ls_config_load(path, &cfg, &err), ==, -EACCES);
		g_assert_nonnull(strstr(err, "cannot read: Permission denied"));
		g_clear_pointer(&err, g_free);
		g_remove(path);
		g_free(path);
	}

	g_assert_cmpint(g_rmdir(tmpdir), ==, 0);
	g_clear_pointer(&tmpdir, g_free);
}

/* ---- the shipped examples ------------------------------------------- */

/* examples/NAME next to tests/ (meson sets G_TEST_SRCDIR to tests/), or
 * under the working directory. NULL if not found. */
static char *find_example(const char *name)
{
	char *p = g_test_build_filename(G_TEST_DIST, "..", "examples", name, NULL);

	if (g_file_test(p, G_FILE_TEST_EXISTS))
		return p;
	g_free(p);
	p = g_build_filename("examples", name, NULL);
	if (g_file_test(p, G_FILE_TEST_EXISTS))
		return p;
	g_free(p);
	return NULL;
}

static void test_example_demo(void)
{
	char *path = find_example("demo.ini"), *err = NULL;
	struct ls_config *cfg = NULL;

	if (!path) {
		g_test_skip("examples/demo.ini not found (set G_TEST_SRCDIR to the tests directory)");
		return;
	}
	g_assert_cmpint(ls_config_load(path, &cfg, &err), ==, 0);
	g_assert_cmpint(cfg->rate.num, ==, 30);
	g_assert_cmpint(cfg->rate.den, ==, 1);
	/* Given, and no wider than half the period. */
	g_assert_cmpint(cfg->tolerance_ns, >, 0);
	g_assert_cmpint(cfg->tolerance_ns, <=, ls_rate_period_ns(cfg->rate) / 2);
	g_assert_cmpint(cfg->max_latency_ns, ==, 80 * LS_NS_PER_MS);
	g_assert_cmpint(cfg->policy, ==, LS_POLICY_HOLD);
	g_assert_cmpuint(cfg->ncams, ==, 4);
	for (unsigned i = 0; i < cfg->ncams; i++) {
		const struct ls_src_test *t = &cfg->cams[i].src.test;
		g_assert_cmpint(cfg->cams[i].src.kind, ==, LS_SRC_TEST);
		/* Calibration matches the simulated truth. */
		g_assert_cmpint(cfg->cams[i].offset_ns, ==, t->offset_ns);
		g_assert_cmpint(t->width, ==, 640);
		g_assert_cmpint(t->height, ==, 360);
		g_assert_cmpint(t->jitter_ns, >=, 500 * LS_NS_PER_US);
		g_assert_cmpint(t->jitter_ns, <=, 2 * LS_NS_PER_MS);
	}
	g_assert_cmpint(cfg->cams[2].src.test.fps.num, ==, 25);
	g_assert_cmpfloat(cfg->cams[3].src.test.drop, ==, 0.01);
	g_assert_cmpfloat(cfg->cams[3].src.test.drift_ppm, ==, 150.0);
	g_assert_cmpuint(cfg->noutputs, ==, 1);
	g_assert_cmpstr(cfg->outputs[0].file, ==, "out/demo.mp4");
	g_assert_false(cfg->outputs[0].display);
	ls_config_free(&cfg);
	g_free(path);
}

static void test_example_integration(void)
{
	char *path = find_example("integration.ini"), *err = NULL;
	struct ls_config *cfg = NULL;

	if (!path) {
		g_test_skip("examples/integration.ini not found (set G_TEST_SRCDIR to the tests directory)");
		return;
	}
	g_assert_cmpint(ls_config_load(path, &cfg, &err), ==, 0);
	g_assert_cmpint(cfg->rate.num, ==, 30);
	g_assert_cmpint(cfg->tolerance_ns, ==, 8 * LS_NS_PER_MS);
	g_assert_cmpint(cfg->policy, ==, LS_POLICY_MISSING);
	g_assert_cmpuint(cfg->ncams, ==, 4);
	g_assert_cmpuint(cfg->noutputs, ==, 0);
	for (unsigned i = 0; i < cfg->ncams; i++) {
		const struct ls_src_test *t = &cfg->cams[i].src.test;
		g_assert_cmpint(cfg->cams[i].src.kind, ==, LS_SRC_TEST);
		g_assert_cmpint(cfg->cams[i].offset_ns, ==, t->offset_ns);
		g_assert_cmpint(t->fps.num, ==, 30);
		g_assert_cmpint(t->fps.den, ==, 1);
		g_assert_cmpint(t->jitter_ns, <=, LS_NS_PER_MS);
		g_assert_cmpfloat(t->drop, ==, 0.0);
		g_assert_cmpfloat(t->drift_ppm, ==, 0.0);
		g_assert_cmpint(t->width, ==, 320);
		g_assert_cmpint(t->height, ==, 180);
	}
	ls_config_free(&cfg);
	g_free(path);
}

/* Each examples/bad/NAME.ini says what it must fail with on a line
 * "# expect: NAME.ini:LINE: message". */
static void test_example_bad(void)
{
	char *dirpath = find_example("bad");
	GDir *dir;
	const char *name;
	unsigned n = 0;

	if (!dirpath) {
		g_test_skip("examples/bad not found (set G_TEST_SRCDIR to the tests directory)");
		return;
	}
	dir = g_dir_open(dirpath, 0, NULL);
	g_assert_nonnull(dir);
	while ((name = g_dir_read_name(dir))) {
		char *path, *text = NULL, *expect, *err = NULL, *nl;
		struct ls_config *cfg = NULL;

		if (!g_str_has_suffix(name, ".ini"))
			continue;
		path = g_build_filename(dirpath, name, NULL);
		g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
		expect = strstr(text, "# expect: ");
		g_assert_nonnull(expect);
		expect += strlen("# expect: ");
		nl = strchr(expect, '\n');
		if (nl)
			*nl = '\0';
		g_assert_true(g_str_has_prefix(expect, name));
		g_assert_cmpint(ls_config_load(path, &cfg, &err), ==, -EINVAL);
		g_assert_null(cfg);
		if (!strstr(err, expect))
			g_test_message("%s\n  got  %s\n  want %s", name, err, expect);
		g_assert_nonnull(strstr(err, expect));
		g_free(err);
		g_free(text);
		g_free(path);
		n++;
	}
	g_dir_close(dir);
	g_assert_cmpuint(n, >=, 4);
	g_free(dirpath);
}

static void test_record(void)
{
	struct ls_config *cfg = load_ok(MINIMAL "[record]\ndir = /tmp/r\n");
	const struct ls_record_config *r = cfg->record;
	g_assert_nonnull(r);
	g_assert_cmpstr(r->dir, ==, "/tmp/r");
	g_assert_cmpuint(r->seg_slots, ==, 300);
	g_assert_cmpuint(r->gop, ==, 30);
	g_assert_cmpint(r->keep_ns, ==, 3600 * LS_NS_PER_SEC);
	g_assert_cmpint(r->quota_bytes, ==, 0);
	g_assert_cmpint(r->min_free_bytes, ==, 64 * 1048576);
	g_assert_cmpstr(r->preset, ==, "ultrafast");
	g_assert_cmpstr(r->tune, ==, "zerolatency");
	g_assert_cmpstr(r->encoder, ==, "auto");
	g_assert_false(r->copy);
	ls_config_free(&cfg);

	/* 29.97: 10 s is round(299.7) = 300 slots; 2.5 s at 30 is 75 slots and
	 * the default gop becomes 25, the largest divisor below 30 */
	cfg = load_ok("[rig]\nrate = 30000/1001\n[camera a]\nuri = test://\n[record]\ndir = d\n");
	g_assert_cmpuint(cfg->record->seg_slots, ==, 300);
	g_assert_cmpuint(cfg->record->gop, ==, 30);
	ls_config_free(&cfg);
	cfg = load_ok(MINIMAL "[record]\ndir = d\nsegment-s = 2.5\nkeep-minutes = 0.5\nquota-mb = 1.5\n"
			      "camera-quota-mb = 1\nmin-free-mb = 0\ngop = 15\npreset = veryfast\ntune = none\n"
			      "bitrate-kbps = 800\nencoder = x264\ncopy = auto\n");
	r = cfg->record;
	g_assert_true(r->copy);
	g_assert_cmpuint(r->seg_slots, ==, 75);
	g_assert_cmpuint(r->gop, ==, 15);
	g_assert_cmpint(r->keep_ns, ==, 30 * LS_NS_PER_SEC);
	g_assert_cmpint(r->quota_bytes, ==, 1572864);
	g_assert_cmpint(r->camera_quota_bytes, ==, 1048576);
	g_assert_cmpint(r->min_free_bytes, ==, 0);
	g_assert_cmpuint(r->bitrate_kbps, ==, 800);
	ls_config_free(&cfg);
	cfg = load_ok(MINIMAL "[record]\ndir = d\nsegment-s = 2.5\n");
	g_assert_cmpuint(cfg->record->gop, ==, 25);
	ls_config_free(&cfg);
}

static void test_bad_record(void)
{
	static const struct {
		const char *body, *want;
	} cases[] = {
		{ "[record]\n", "t.ini:5: [record] needs dir = DIRECTORY" },
		{ "[record]\ndir =\n", "t.ini:6: [record] dir: must not be empty" },
		{ "[record]\ndir = d\nsegment-s = 0\n", "t.ini:7: [record] segment-s:" },
		{ "[record]\ndir = d\nsegment-s = ten\n", "t.ini:7: [record] segment-s:" },
		{ "[record]\ndir = d\ngop = 7\n", "t.ini:7: [record] gop: 7 does not divide the segment's 300 slots" },
		{ "[record]\ndir = d\ngop = 0\n", "t.ini:7: [record] gop:" },
		{ "[record]\ndir = d\nkeep-minutes = -1\n", "t.ini:7: [record] keep-minutes:" },
		{ "[record]\ndir = d\nquota-mb = lots\n", "t.ini:7: [record] quota-mb:" },
		{ "[record]\ndir = d\npreset = turbo\n", "t.ini:7: [record] preset: expected one of ultrafast" },
		{ "[record]\ndir = d\ntune = fast\n", "t.ini:7: [record] tune: expected one of zerolatency" },
		{ "[record]\ndir = d\nencoder = a b\n", "t.ini:7: [record] encoder: expected auto, x264" },
		{ "[record]\ndir = d\nbitrate-kbps = -5\n", "t.ini:7: [record] bitrate-kbps:" },
		{ "[record]\ndir = d\ncopy = yes\n", "t.ini:7: [record] copy: expected auto or off, got \"yes\"" },
		{ "[record]\ndir = d\nfile = x.ts\n", "t.ini:7: unknown key \"file\" in [record]" },
		{ "[record]\ndir = d\n[record]\ndir = e\n", "t.ini:7: duplicate group [record] (first at line 5)" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *text = g_strconcat(MINIMAL, cases[i].body, NULL);
		load_bad(text, cases[i].want);
		g_free(text);
	}
}

static void test_output_shm(void)
{
	const char *rig = "[rig]\nrate = 30\n[camera a]\nuri = test://\n";
	char *text = g_strconcat(rig, "[output shm]\nname = rig.0_a-b\n", NULL);
	struct ls_config *cfg = load_ok(text);
	g_free(text);
	g_assert_cmpuint(cfg->noutputs, ==, 1);
	g_assert_cmpint(cfg->outputs[0].kind, ==, LS_OUTPUT_SHM);
	g_assert_cmpstr(cfg->outputs[0].shm_name, ==, "rig.0_a-b");
	g_assert_cmpuint(cfg->outputs[0].slots, ==, 4);
	g_assert_cmpint(cfg->outputs[0].gid, ==, -1);
	g_assert_false(cfg->outputs[0].checksums);
	ls_config_free(&cfg);

	text = g_strconcat(rig,
			   "[output shm]\nname = x\nslots = 16\ngroup = 0\nchecksums = true\n"
			   "[output mosaic]\ndisplay = true\n",
			   NULL);
	cfg = load_ok(text);
	g_free(text);
	g_assert_cmpuint(cfg->noutputs, ==, 2);
	g_assert_cmpuint(cfg->outputs[0].slots, ==, 16);
	g_assert_cmpint(cfg->outputs[0].gid, ==, 0);
	g_assert_true(cfg->outputs[0].checksums);
	g_assert_cmpint(cfg->outputs[1].kind, ==, LS_OUTPUT_MOSAIC);
	ls_config_free(&cfg);

	/* group by name: root exists on every Debian system */
	text = g_strconcat(rig, "[output shm]\nname = x\ngroup = root\n", NULL);
	cfg = load_ok(text);
	g_free(text);
	g_assert_cmpint(cfg->outputs[0].gid, ==, 0);
	ls_config_free(&cfg);
}

static void test_bad_output_shm(void)
{
	static const struct {
		const char *body, *want;
	} cases[] = {
		{ "[output shm]\n", "t.ini:5: [output shm] needs name = NAME" },
		{ "[output shm]\nname = a/b\n", "t.ini:6: [output shm] name: shm name \"a/b\": use 1-200 of" },
		{ "[output shm]\nname = .hidden\n", "t.ini:6: [output shm] name: shm name \".hidden\"" },
		{ "[output shm]\nname = x\nslots = 1\n", "t.ini:7: [output shm] slots:" },
		{ "[output shm]\nname = x\nslots = 2000\n", "t.ini:7: [output shm] slots:" },
		{ "[output shm]\nname = x\ngroup = no-such-group-here\n",
		  "t.ini:7: [output shm] group: no such group \"no-such-group-here\"" },
		{ "[output shm]\nname = x\nchecksums = maybe\n", "t.ini:7: [output shm] checksums:" },
		{ "[output shm]\nname = x\nfile = a.mp4\n", "t.ini:7: unknown key \"file\" in [output shm]" },
		{ "[output shm]\nname = x\n[output shm]\nname = y\n", "t.ini:7:" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *text = g_strconcat("[rig]\nrate = 30\n[camera a]\nuri = test://\n", cases[i].body, NULL);
		load_bad(text, cases[i].want);
		g_free(text);
	}
}

static void test_output_rtsp(void)
{
	struct ls_config *cfg = load_ok("[rig]\nrate = 30\n[camera a]\nuri = test://\n[output rtsp]\n");
	const struct ls_output_config *o = &cfg->outputs[0];
	g_assert_cmpint(cfg->noutputs, ==, 1);
	g_assert_cmpint(o->kind, ==, LS_OUTPUT_RTSP);
	g_assert_cmpstr(o->listen, ==, "127.0.0.1:8554");
	g_assert_cmpstr(o->host, ==, "127.0.0.1");
	g_assert_cmpint(o->port, ==, 8554);
	g_assert_null(o->password);
	g_assert_cmpint(o->bitrate_kbps, ==, 4000);
	g_assert_cmpint(o->keyframe_ns, ==, LS_NS_PER_SEC);
	g_assert_true(o->mosaic);
	g_assert_cmpint(o->width, ==, 1280);
	ls_config_free(&cfg);
	cfg = load_ok("[rig]\nrate = 30\n[camera a]\nuri = test://\n[output rtsp]\nlisten = [::]:9000\n"
		      "password = p\nuser = me\nmosaic = false\nkeyframe-s = 0.5\n");
	o = &cfg->outputs[0];
	g_assert_cmpstr(o->host, ==, "::");
	g_assert_cmpint(o->port, ==, 9000);
	g_assert_cmpstr(o->user, ==, "me");
	g_assert_cmpstr(o->password, ==, "p");
	g_assert_false(o->mosaic);
	g_assert_cmpint(o->keyframe_ns, ==, LS_NS_PER_SEC / 2);
	ls_config_free(&cfg);
	cfg = load_ok("[rig]\nrate = 30\n[camera a]\nuri = test://\n[output rtsp]\nlisten = [::1]:9000\n");
	g_assert_cmpstr(cfg->outputs[0].host, ==, "::1");
	ls_config_free(&cfg);

	static const char *const loop[] = { "127.0.0.1", "127.1.2.3", "localhost",
					    "LOCALHOST", "::1",       "::ffff:127.0.0.1" };
	static const char *const open[] = { "0.0.0.0",     "::",         "192.168.1.2", "128.0.0.1",
					    "127.0.0.256", "127.0.0.1x", "example.com", "" };
	for (size_t i = 0; i < G_N_ELEMENTS(loop); i++)
		g_assert_true(ls_config_host_is_loopback(loop[i]));
	for (size_t i = 0; i < G_N_ELEMENTS(open); i++)
		g_assert_false(ls_config_host_is_loopback(open[i]));
	g_assert_false(ls_config_host_is_loopback(NULL));
}

static void test_bad_output_rtsp(void)
{
	static const struct {
		const char *body, *want;
	} cases[] = {
		{ "[output rtsp]\nlisten = 8554\n", "t.ini:6: [output rtsp] listen: expected HOST:PORT" },
		{ "[output rtsp]\nlisten = :8554\n", "t.ini:6: [output rtsp] listen: expected HOST:PORT" },
		{ "[output rtsp]\nlisten = 127.0.0.1:0\n",
		  "t.ini:6: [output rtsp] listen: port must be in [1, 65535]" },
		{ "[output rtsp]\nlisten = 127.0.0.1:http\n",
		  "t.ini:6: [output rtsp] listen: port expected an integer" },
		{ "[output rtsp]\nlisten = ::1:8554\n",
		  "t.ini:6: [output rtsp] listen: an IPv6 address goes in brackets" },
		{ "[output rtsp]\nlisten = [::1:8554\n", "t.ini:6: [output rtsp] listen: expected [IPv6]:PORT" },
		{ "[output rtsp]\nlisten = 0.0.0.0:8554\n",
		  "t.ini:6: [output rtsp] listen = 0.0.0.0:8554 is not a loopback address: set password =" },
		{ "[output rtsp]\n\nlisten = 10.0.0.1:8554\nbitrate-kbps = 500\n",
		  "t.ini:7: [output rtsp] listen = 10.0.0.1" },
		{ "[output rtsp]\npassword =\n", "t.ini:6: [output rtsp] password: needs a password" },
		{ "[output rtsp]\nbitrate-kbps = 50\n", "t.ini:6: [output rtsp] bitrate-kbps:" },
		{ "[output rtsp]\nkeyframe-s = 0\n", "t.ini:6: [output rtsp] keyframe-s:" },
		{ "[output rtsp]\nwidth = 641\n", "t.ini:6: [output rtsp] width: must be even" },
		{ "[output rtsp]\nfile = a.mp4\n", "t.ini:6: unknown key \"file\" in [output rtsp]" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *text = g_strconcat("[rig]\nrate = 30\n[camera a]\nuri = test://\n", cases[i].body, NULL);
		load_bad(text, cases[i].want);
		g_free(text);
	}
}

static void test_server(void)
{
	struct ls_config *cfg = load_ok("[rig]\nrate = 30\n[camera a]\nuri = test://\n");
	g_assert_null(cfg->server);
	ls_config_free(&cfg);
	cfg = load_ok("[rig]\nrate = 30\n[camera a]\nuri = test://\n[server]\n");
	g_assert_nonnull(cfg->server);
	g_assert_cmpstr(cfg->server->listen, ==, "127.0.0.1:8080");
	g_assert_cmpstr(cfg->server->host, ==, "127.0.0.1");
	g_assert_cmpint(cfg->server->port, ==, 8080);
	g_assert_null(cfg->server->token);
	g_assert_null(cfg->server->cert);
	ls_config_free(&cfg);
	cfg = load_ok("[rig]\nrate = 30\n[camera a]\nuri = test://\n[server]\nlisten = [::]:9443\ncert = c.pem\n"
		      "key = k.pem\n");
	g_assert_cmpstr(cfg->server->host, ==, "::");
	g_assert_cmpstr(cfg->server->cert, ==, "c.pem");
	g_assert_cmpstr(cfg->server->key, ==, "k.pem");
	ls_config_free(&cfg);
	static const struct {
		const char *body, *want;
	} cases[] = {
		{ "[server]\nlisten = 0.0.0.0:80\n",
		  "t.ini:6: [server] listen = 0.0.0.0:80 is not a loopback address" },
		{ "[server]\nkey = k.pem\n", "t.ini:5: [server] key needs cert too" },
		{ "[server]\nlisten = 127.0.0.1:99999\n", "t.ini:6: [server] listen: port must be in [1, 65535]" },
		{ "[server]\ncert =\n", "t.ini:6: [server] cert: needs a file name" },
		{ "[server]\n[server]\n", "t.ini:6:" },
		{ "[server]\nport = 8080\n", "t.ini:6: unknown key \"port\" in [server]" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *text = g_strconcat("[rig]\nrate = 30\n[camera a]\nuri = test://\n", cases[i].body, NULL);
		load_bad(text, cases[i].want);
		g_free(text);
	}
}

static void test_remote(void)
{
	static const char base[] = "[rig]\nrate = 30\n[camera screen]\nuri = x11://:5\nredact = on\n"
				   "[camera cam]\nuri = test://\n";
	char *text = g_strconcat(base, "[server]\ntoken = t\n[remote]\n", NULL);
	struct ls_config *cfg = load_ok(text);
	g_free(text);
	g_assert_true(cfg->remote.present);
	g_assert_cmpstr(cfg->remote.camera, ==, "screen");
	g_assert_cmpuint(cfg->remote.cam, ==, 0);
	g_assert_false(cfg->remote.input);
	g_assert_cmpint(cfg->remote.when_masked, ==, LS_REMOTE_BLOCK);
	g_assert_false(cfg->remote.paste);
	g_assert_cmpint(cfg->remote.max_rate, ==, 200);
	g_assert_null(cfg->remote.audit);
	ls_config_free(&cfg);
	text = g_strconcat(base,
			   "[server]\ntoken = t\n[remote]\ncamera = screen\ninput = on\ninput-when-masked = allow\n"
			   "paste = on\nmax-input-rate = 50\naudit = r.jsonl\n",
			   NULL);
	cfg = load_ok(text);
	g_free(text);
	g_assert_true(cfg->remote.input && cfg->remote.paste);
	g_assert_cmpint(cfg->remote.when_masked, ==, LS_REMOTE_ALLOW);
	g_assert_cmpint(cfg->remote.max_rate, ==, 50);
	g_assert_cmpstr(cfg->remote.audit, ==, "r.jsonl");
	ls_config_free(&cfg);
	static const struct {
		const char *body, *want;
	} cases[] = {
		{ "[remote]\n", "t.ini:8: [remote] needs a [server] group" },
		{ "[server]\n[remote]\n", "t.ini:9: [remote] needs token = in [server]" },
		{ "[server]\ntoken = t\nmax-viewers = 0\n[remote]\n", "t.ini:11: [remote] needs WebRTC" },
		{ "[server]\ntoken = t\n[remote]\ncamera = cam\n",
		  "t.ini:10: [remote] camera = cam: not an x11:// screen" },
		{ "[server]\ntoken = t\n[remote]\ncamera = nope\n",
		  "t.ini:10: [remote] camera: no enabled camera \"nope\"" },
		{ "[server]\ntoken = t\n[remote]\ninput = maybe\n", "t.ini:11: [remote] input: expected on or off" },
		{ "[server]\ntoken = t\n[remote]\ninput-when-masked = sometimes\n",
		  "t.ini:11: [remote] input-when-masked: expected block or allow" },
		{ "[server]\ntoken = t\n[remote]\nmax-input-rate = 0\n", "t.ini:11: [remote] max-input-rate:" },
		{ "[server]\ntoken = t\n[remote]\naudit =\n", "t.ini:11: [remote] audit: needs a file name" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		text = g_strconcat(base, cases[i].body, NULL);
		load_bad(text, cases[i].want);
		g_free(text);
	}
	/* an x11 camera without redact = on is not enough */
	load_bad("[rig]\nrate = 30\n[camera s]\nuri = x11://:5\n[server]\ntoken = t\n[remote]\n",
		 "t.ini:7: [remote] needs a camera with an x11:// uri and redact = on");
	load_bad("[rig]\nrate = 30\n[camera s]\nuri = x11://:5\n[server]\ntoken = t\n[remote]\ncamera = s\n",
		 "t.ini:7: [remote] camera = s: needs redact = on");
	load_bad("[rig]\nrate = 30\n[camera a]\nuri = x11://:5\nredact = on\n[camera b]\nuri = x11://:6\nredact = on\n"
		 "[server]\ntoken = t\n[remote]\n",
		 "t.ini:11: [remote] needs camera = NAME: 2 cameras are redacted x11:// screens");
}

/* ---- the reference (ls_config_reference) ---------------------------- */

/* FILE in the source root (G_TEST_SRCDIR is tests/), or under the working
 * directory. NULL if not found. */
static char *find_in_root(const char *name)
{
	char *p = g_test_build_filename(G_TEST_DIST, "..", name, NULL);

	if (g_file_test(p, G_FILE_TEST_EXISTS))
		return p;
	g_free(p);
	if (g_file_test(name, G_FILE_TEST_EXISTS))
		return g_strdup(name);
	return NULL;
}

/* README.md's "Config reference" block is the program's output: a key
 * added to config_tab[] fails here until README.md has it too. */
static void test_reference_readme(void)
{
	static const char begin[] = "<!-- config-reference begin -->\n```ini\n";
	static const char end[] = "```\n<!-- config-reference end -->";
	char *path = find_in_root("README.md"), *text = NULL, *ref = ls_config_reference(), *block;
	const char *b, *e;

	if (!path) {
		g_test_skip("README.md not found (set G_TEST_SRCDIR to the tests directory)");
		g_free(ref);
		return;
	}
	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	b = strstr(text, begin);
	g_assert_nonnull(b);
	b += strlen(begin);
	e = strstr(b, end);
	g_assert_nonnull(e);
	block = g_strndup(b, (size_t)(e - b));
	if (strcmp(block, ref) != 0) {
		char **have = g_strsplit(block, "\n", -1), **want = g_strsplit(ref, "\n", -1);
		guint i = 0;

		g_test_message("%s: the block between the config-reference markers is not the output of "
			       "`lockstep config-reference`: put that output there",
			       path);
		while (have[i] && want[i] && strcmp(have[i], want[i]) == 0)
			i++;
		g_test_message("first difference at line %u of the block", i + 1);
		g_assert_cmpstr(have[i], ==, want[i]);
		g_strfreev(have);
		g_strfreev(want);
	}
	g_free(block);
	g_free(text);
	g_free(path);
	g_free(ref);
}

/* "[group] key key ...\n" per group, from the reference's lines or from
 * config.h's top comment (" *   [group]", " *   key = value"). */
static char *groups_and_keys(const char *text, const char *prefix)
{
	GString *s = g_string_new(NULL);
	char **lines = g_strsplit(text, "\n", -1);
	size_t np = strlen(prefix);

	for (char **l = lines; *l && !strstr(*l, "*/"); l++) {
		const char *p = *l, *eq;

		if (strncmp(p, prefix, np) != 0)
			continue;
		p += np;
		if (*p == '[') {
			const char *close = strchr(p, ']');
			g_assert_nonnull(close);
			g_string_append_printf(s, "%s%.*s", s->len ? "\n" : "", (int)(close - p + 1), p);
		} else if (g_ascii_islower(*p) && (eq = strstr(p, " = ")) &&
			   strspn(p, "abcdefghijklmnopqrstuvwxyz-") == (size_t)(eq - p)) {
			g_string_append_printf(s, " %.*s", (int)(eq - p), p);
		}
	}
	g_strfreev(lines);
	g_string_append_c(s, '\n');
	return g_string_free(s, FALSE);
}

/* config.h's top comment documents every key of the table, in its order. */
static void test_reference_header(void)
{
	char *path = find_in_root("src/config/config.h"), *text = NULL, *ref = ls_config_reference();
	char *want, *have;

	if (!path) {
		g_test_skip("src/config/config.h not found (set G_TEST_SRCDIR to the tests directory)");
		g_free(ref);
		return;
	}
	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	want = groups_and_keys(ref, "");
	have = groups_and_keys(text, " *   ");
	g_assert_cmpstr(have, ==, want);
	g_free(have);
	g_free(want);
	g_free(text);
	g_free(path);
	g_free(ref);
}

/* The reference's form, and that it says what the loader does: every
 * value it shows loads, and each group lists the keys the unknown-key
 * message expects, in that order. */
static void test_reference_values(void)
{
	static const char *const groups[] = { "[rig]",         "[camera NAME]", "[output mosaic]", "[output shm]",
					      "[output file]", "[output rtsp]", "[redact]",        "[detect]",
					      "[record]",      "[server]",      "[clock]",         "[bus]",
					      "[remote]" };
	char *ref = ls_config_reference();
	char **lines = g_strsplit(ref, "\n", -1);
	GString *keys = g_string_new(NULL), *need = g_string_new(NULL);
	const char *group = NULL;
	size_t ngroups = 0, nkeys = 0;

	g_assert_true(g_str_has_suffix(ref, "\n"));
	for (char **l = lines;; l++) {
		/* a group's end: its keys are the unknown key message's list */
		if (group && (!*l || !**l)) {
			char *name = g_strcmp0(group, "[camera NAME]") == 0 ? g_strdup("camera x")
									    : g_strndup(group + 1, strlen(group) - 2);
			char *text = g_strdup_printf("[%s]\nno-such-key = 1\n", name);
			char *want = g_strdup_printf("t.ini:2: unknown key \"no-such-key\" in [%s] (expected %s)", name,
						     keys->str);
			char *err = NULL;
			struct ls_config *cfg = NULL;

			g_assert_cmpint(ls_config_load_data(text, "t.ini", &cfg, &err), ==, -EINVAL);
			g_assert_cmpstr(err, ==, want);
			g_free(err);
			g_free(want);
			g_free(text);
			g_free(name);
			g_string_truncate(keys, 0);
			g_string_truncate(need, 0);
			group = NULL;
		}
		if (!*l)
			break;
		if (!**l)
			continue;
		/* "left" padded to 23 columns, then " # doc" */
		g_assert_cmpuint(strlen(*l), >, 26);
		g_assert_nonnull(strstr(*l, " # "));
		if (**l == '[') {
			g_assert_null(group);
			g_assert_cmpuint(ngroups, <, G_N_ELEMENTS(groups));
			g_assert_true(g_str_has_prefix(*l, groups[ngroups]));
			group = groups[ngroups++];
			continue;
		}
		g_assert_nonnull(group);

		const char *eq = strstr(*l, " = "), *hash = strstr(*l, " # ");
		g_assert_nonnull(eq);
		g_assert_true(eq < hash);
		char *key = g_strndup(*l, (size_t)(eq - *l));
		char *val = g_strndup(eq + 3, (size_t)(hash - eq - 3));
		g_strchomp(val);
		g_string_append_printf(keys, "%s%s", keys->len ? ", " : "", key);

		/* The shown value in its group, with the group's required keys
		 * (listed first), after a rig with a [record] (clip-on needs
		 * one): no error at its line. An error of the group as a whole
		 * ([output file] needs file or display) is at its header. */
		bool rig = strcmp(group, "[rig]") == 0, rec = strcmp(group, "[record]") == 0;
		bool required = g_str_has_suffix(*l, "; required");
		char *header = strcmp(group, "[camera NAME]") == 0 ? g_strdup("[camera cam2]") : g_strdup(group);
		char *text = g_strdup_printf("%s[camera cam1]\nuri = test://\n%s%s\n%s%s = %s\n",
					     rig ? "" : "[rig]\nrate = 30\n", rec ? "" : "[record]\ndir = /tmp\n",
					     header, need->str, key, val);
		int line = (rig ? 0 : 2) + 2 + (rec ? 0 : 2) + 2;

		for (const char *p = need->str; *p; p++)
			line += *p == '\n';
		if (required)
			g_string_append_printf(need, "%s = %s\n", key, val);
		char *at = g_strdup_printf("t.ini:%d:", line), *err = NULL;
		struct ls_config *cfg = NULL;

		if (ls_config_load_data(text, "t.ini", &cfg, &err) < 0) {
			/* shm's group is looked up on this system */
			bool system = strcmp(key, "group") == 0 && strstr(err, "no such group");
			if (g_str_has_prefix(err, at) && !system)
				g_test_message("%s = %s: %s", key, val, err);
			g_assert_true(!g_str_has_prefix(err, at) || system);
		}
		ls_config_free(&cfg);
		g_free(err);
		g_free(at);
		g_free(text);
		g_free(header);
		g_free(val);
		g_free(key);
		nkeys++;
	}
	g_assert_cmpuint(ngroups, ==, G_N_ELEMENTS(groups));
	g_assert_cmpuint(nkeys, >=, 60);
	g_string_free(keys, TRUE);
	g_string_free(need, TRUE);
	g_strfreev(lines);
	g_free(ref);
}

/* [bus]: the URL's forms, the defaults made of the name, and one line
 * naming the key for each bad value. */
static void test_bus(void)
{
	struct ls_config *cfg = load_ok("[rig]\nrate = 30\n[camera a]\nuri = test://\n[bus]\n"
					"url = nats://u%40x:p%3Aw@10.0.0.1,nats://[::1]:4223, tls://h.example\n"
					"name = r-1\n");
	const struct ls_bus_config *b = cfg->bus;
	g_assert_nonnull(b);
	g_assert_cmpint(b->transport, ==, LS_BUS_NATS);
	g_assert_cmpstr(b->servers[0], ==, "nats://10.0.0.1:4222");
	g_assert_cmpstr(b->servers[1], ==, "nats://[::1]:4223");
	g_assert_cmpstr(b->servers[2], ==, "tls://h.example:4222");
	g_assert_null(b->servers[3]);
	g_assert_true(b->tls);
	g_assert_cmpstr(b->user, ==, "u@x");
	g_assert_cmpstr(b->password, ==, "p:w");
	g_assert_cmpstr(b->prefix, ==, "lockstep.r-1");
	g_assert_cmpstr(b->stream, ==, "LOCKSTEP_R-1");
	g_assert_cmpuint(b->messages, ==, LS_BUS_FRAMESET | LS_BUS_DETECTIONS | LS_BUS_EVENTS | LS_BUS_STATS);
	g_assert_cmpint(b->spool_bytes, ==, INT64_C(256) << 20);
	g_assert_cmpint(b->replicas, ==, 1);
	g_assert_true(b->jetstream);
	g_assert_false(b->control);
	ls_config_free(&cfg);

	cfg = load_ok("[rig]\nrate = 30\n[camera a]\nuri = test://\n[bus]\nurl = mqtts://broker\n"
		      "messages = events, deepstream\nsubject-prefix = site.a_1\ncontrol = on\n");
	g_assert_cmpint(cfg->bus->transport, ==, LS_BUS_MQTT);
	g_assert_cmpstr(cfg->bus->host, ==, "broker");
	g_assert_cmpint(cfg->bus->port, ==, 8883);
	g_assert_true(cfg->bus->tls);
	g_assert_cmpuint(cfg->bus->messages, ==, LS_BUS_EVENTS | LS_BUS_DEEPSTREAM);
	g_assert_cmpstr(cfg->bus->prefix, ==, "site.a_1");
	g_assert_true(cfg->bus->control);
	g_assert_nonnull(cfg->bus->name);
	ls_config_free(&cfg);

#define BUS "[rig]\nrate = 30\n[camera a]\nuri = test://\n[bus]\n"
	load_bad(BUS "url = http://x\n",
		 "t.ini:6: [bus] url: expected nats://HOST:PORT, tls://, mqtt:// or mqtts://, got \"http://x\"");
	load_bad(BUS "url = nats://x:99999\n", "t.ini:6: [bus] url: \"nats://x:99999\": port");
	load_bad(BUS "url = nats://a, mqtt://b\n",
		 "t.ini:6: [bus] url: \"mqtt://b\": every server of the list must be NATS or every one MQTT");
	load_bad(BUS "url = mqtt://a/topic\n", "t.ini:6: [bus] url: \"mqtt://a/topic\": no path or query");
	load_bad(BUS "url = nats://\n", "t.ini:6: [bus] url: \"nats://\": bad host \"\"");
	load_bad(BUS "url = nats://a\nsubject-prefix = lockstep.*\n",
		 "t.ini:7: [bus] subject-prefix: expected tokens of A-Z a-z 0-9 _ - joined by '.'");
	load_bad(BUS "url = nats://a\nsubject-prefix = a..b\n", "t.ini:7: [bus] subject-prefix: expected tokens");
	load_bad(BUS "url = nats://a\nmessages = frames\n", "t.ini:7: [bus] messages: unknown message kind \"frames\"");
	load_bad(BUS "url = nats://a\nname = a b\n", "t.ini:7: [bus] name: expected 1 to 64 of A-Z a-z 0-9 _ -");
	load_bad(BUS "url = mqtt://a\ntoken = t\n", "t.ini:7: [bus] token is for NATS, and url = mqtt://a is MQTT");
	load_bad(BUS "url = nats://a\ncert = c.pem\n", "t.ini:5: [bus] cert needs key too");
	load_bad(BUS "url = nats://a\nca = c.pem\n", "t.ini:5: [bus] ca is for TLS");
	load_bad(BUS "url = nats://a\nspool-mb = 0\n", "t.ini:7: [bus] spool-mb:");
	load_bad(BUS "url = nats://a\nreplicas = 7\n", "t.ini:7: [bus] replicas:");
	load_bad(BUS "name = x\n", "t.ini:5: [bus] needs url = nats://HOST:PORT or mqtt://HOST:PORT");
#undef BUS
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/config/ok/defaults", test_defaults);
	g_test_add_func("/config/ok/reconnect-keys", test_reconnect_keys);
	g_test_add_func("/config/ok/full", test_full);
	g_test_add_func("/config/ok/rates", test_rates);
	g_test_add_func("/config/ok/epochs", test_epochs);
	g_test_add_func("/config/ok/offsets", test_offsets);
	g_test_add_func("/config/ok/disabled", test_disabled);
	g_test_add_func("/config/ok/outputs", test_outputs);
	g_test_add_func("/config/ok/syntax", test_syntax_ok);
	g_test_add_func("/config/bad/syntax", test_bad_syntax);
	g_test_add_func("/config/bad/groups", test_bad_groups);
	g_test_add_func("/config/bad/keys", test_bad_keys);
	g_test_add_func("/config/bad/structure", test_bad_structure);
	g_test_add_func("/config/bad/rig-values", test_bad_rig_values);
	g_test_add_func("/config/bad/camera-values", test_bad_camera_values);
	g_test_add_func("/config/bad/output-values", test_bad_output_values);
	g_test_add_func("/config/bad/comment-hint", test_comment_hint);
	g_test_add_func("/config/bad/err-null", test_err_null);
	g_test_add_func("/config/files", test_files);
	g_test_add_func("/config/output-shm", test_output_shm);
	g_test_add_func("/config/bad/output-shm", test_bad_output_shm);
	g_test_add_func("/config/output-rtsp", test_output_rtsp);
	g_test_add_func("/config/bad/output-rtsp", test_bad_output_rtsp);
	g_test_add_func("/config/server", test_server);
	g_test_add_func("/config/detect", test_detect);
	g_test_add_func("/config/bus", test_bus);
	g_test_add_func("/config/examples/demo", test_example_demo);
	g_test_add_func("/config/examples/integration", test_example_integration);
	g_test_add_func("/config/examples/bad", test_example_bad);
	g_test_add_func("/config/record", test_record);
	g_test_add_func("/config/record/bad", test_bad_record);
	g_test_add_func("/config/remote", test_remote);
	g_test_add_func("/config/reference/readme", test_reference_readme);
	g_test_add_func("/config/reference/values", test_reference_values);
	g_test_add_func("/config/reference/header", test_reference_header);

	return g_test_run();
}
