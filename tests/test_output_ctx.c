/* The services outputs share (src/outputs/output_ctx.c): subscribers in order,
 * clip requests to the one provider, source taps through the rig's
 * provider, and events as versioned JSON. */
#include <glib.h>
#include <string.h>

#include "output_ctx.h"

static struct ls_config cfg2 = { .ncams = 2 };

struct log {
	GString *s;
};

static void det_a(void *user, const struct ls_detect_result *r)
{
	g_string_append_printf(((struct log *)user)->s, "a%p;", (const void *)r);
}

static void det_b(void *user, const struct ls_detect_result *r)
{
	g_string_append_printf(((struct log *)user)->s, "b%p;", (const void *)r);
}

static void test_detections(void)
{
	struct ls_output_ctx *ctx = ls_output_ctx_new(&cfg2, NULL, NULL);
	g_assert_true(ls_output_ctx_config(ctx) == &cfg2);
	struct log l = { g_string_new("") };
	ls_output_ctx_publish_detections(ctx, (const struct ls_detect_result *)0x10); /* nobody: nothing */
	ls_output_ctx_subscribe_detections(ctx, det_a, &l);
	ls_output_ctx_subscribe_detections(ctx, det_b, &l);
	ls_output_ctx_publish_detections(ctx, (const struct ls_detect_result *)0x20);
	char *want = g_strdup_printf("a%p;b%p;", (void *)0x20, (void *)0x20);
	g_assert_cmpstr(l.s->str, ==, want);
	g_free(want);
	g_string_free(l.s, TRUE);
	ls_output_ctx_free(&ctx);
	g_assert_null(ctx);
	ls_output_ctx_free(&ctx); /* NULL-safe */
}

static int64_t clip_n = -1;
static unsigned clip_cam;
static char clip_what[32];

static void on_clip(void *user, int64_t n, unsigned cam, const char *what)
{
	g_assert_true(user == &clip_n);
	clip_n = n;
	clip_cam = cam;
	g_strlcpy(clip_what, what, sizeof clip_what);
}

static void test_clips(void)
{
	struct ls_output_ctx *ctx = ls_output_ctx_new(&cfg2, NULL, NULL);
	g_assert_false(ls_output_ctx_request_clip(ctx, 5, 1, "person-1")); /* no recorder */
	g_assert_cmpint(clip_n, ==, -1);
	ls_output_ctx_provide_clips(ctx, on_clip, &clip_n);
	g_assert_true(ls_output_ctx_request_clip(ctx, 42, 1, "motion"));
	g_assert_cmpint(clip_n, ==, 42);
	g_assert_cmpuint(clip_cam, ==, 1);
	g_assert_cmpstr(clip_what, ==, "motion");
	ls_output_ctx_free(&ctx);
}

static unsigned tapped = 99;

static bool tap_provider(void *rig, unsigned cam, ls_output_tap_fn fn, void *user)
{
	g_assert_true(rig == &tapped);
	g_assert_nonnull(fn);
	tapped = cam;
	return cam == 0; /* camera 0 has an encoded stream, camera 1 none */
}

static void tap_fn(void *user, GstBuffer *au, GstCaps *caps, int64_t capture_ns) {}

static void test_taps(void)
{
	struct ls_output_ctx *ctx = ls_output_ctx_new(&cfg2, tap_provider, &tapped);
	g_assert_true(ls_output_ctx_tap(ctx, 0, tap_fn, NULL));
	g_assert_cmpuint(tapped, ==, 0);
	g_assert_false(ls_output_ctx_tap(ctx, 1, tap_fn, NULL));
	g_assert_cmpuint(tapped, ==, 1);
	tapped = 99;
	g_assert_false(ls_output_ctx_tap(ctx, 2, tap_fn, NULL)); /* no such camera: the rig is not asked */
	g_assert_cmpuint(tapped, ==, 99);
	ls_output_ctx_free(&ctx);
	ctx = ls_output_ctx_new(&cfg2, NULL, NULL); /* a rig without taps */
	g_assert_false(ls_output_ctx_tap(ctx, 0, tap_fn, NULL));
	ls_output_ctx_free(&ctx);
}

static void on_json(void *user, const char *json) { g_string_append_printf(user, "%s\n", json); }

static void test_stats_and_events(void)
{
	struct ls_output_ctx *ctx = ls_output_ctx_new(&cfg2, NULL, NULL);
	ls_output_ctx_event(ctx, "camera-down", "\"camera\":\"a\""); /* nobody listens: nothing */
	GString *stats = g_string_new(""), *events = g_string_new("");
	ls_output_ctx_subscribe_stats(ctx, on_json, stats);
	ls_output_ctx_subscribe_events(ctx, on_json, events);
	ls_output_ctx_publish_stats(ctx, "{\"sets\":1}");
	g_assert_cmpstr(stats->str, ==, "{\"sets\":1}\n");
	ls_output_ctx_event(ctx, "camera-down", "\"camera\":\"a\"");
	ls_output_ctx_event(ctx, "clip-ready", NULL);
	gchar **lines = g_strsplit(events->str, "\n", -1);
	g_assert_cmpuint(g_strv_length(lines), ==, 3); /* two and the empty tail */
	g_assert_true(
		g_str_has_prefix(lines[0], "{\"schema\":\"lockstep.event/1\",\"kind\":\"camera-down\",\"time_ns\":"));
	g_assert_true(g_str_has_suffix(lines[0], ",\"camera\":\"a\"}"));
	g_assert_true(
		g_str_has_prefix(lines[1], "{\"schema\":\"lockstep.event/1\",\"kind\":\"clip-ready\",\"time_ns\":"));
	g_assert_true(g_str_has_suffix(lines[1], "}") && !strstr(lines[1], ",}"));
	g_strfreev(lines);
	g_string_free(stats, TRUE);
	g_string_free(events, TRUE);
	ls_output_ctx_free(&ctx);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/output-ctx/detections", test_detections);
	g_test_add_func("/output-ctx/clips", test_clips);
	g_test_add_func("/output-ctx/taps", test_taps);
	g_test_add_func("/output-ctx/stats-events", test_stats_and_events);
	return g_test_run();
}
