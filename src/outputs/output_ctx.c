#include "output_ctx.h"

#include "ls_time.h"

#include <errno.h>

struct sub {
	void (*fn)(void);
	void *user;
};

struct ls_output_ctx {
	const struct ls_config *cfg; /* borrowed */
	ls_output_tap_provider tap;
	void *rig;
	/* subscribers: appended from create() on the main thread before anything
	 * starts, read-only afterwards */
	GArray *detections, *stats, *events; /* struct sub */
	ls_clip_request_fn clips;
	void *clips_user;
	GMutex event_lock; /* one event at a time to subscribers */
	ls_export_fn export_fn;
	void *export_user;
	ls_run_control_fn run_fn;
	void *run_user;
	bool hold_start;
};

struct ls_output_ctx *ls_output_ctx_new(const struct ls_config *cfg, ls_output_tap_provider tap, void *rig)
{
	struct ls_output_ctx *ctx = g_new0(struct ls_output_ctx, 1);
	ctx->cfg = cfg;
	ctx->tap = tap;
	ctx->rig = rig;
	ctx->detections = g_array_new(FALSE, FALSE, sizeof(struct sub));
	ctx->stats = g_array_new(FALSE, FALSE, sizeof(struct sub));
	ctx->events = g_array_new(FALSE, FALSE, sizeof(struct sub));
	g_mutex_init(&ctx->event_lock);
	return ctx;
}

void ls_output_ctx_free(struct ls_output_ctx **pctx)
{
	if (!pctx || !*pctx)
		return;
	struct ls_output_ctx *ctx = *pctx;
	*pctx = NULL;
	g_array_unref(ctx->detections);
	g_array_unref(ctx->stats);
	g_array_unref(ctx->events);
	g_mutex_clear(&ctx->event_lock);
	g_free(ctx);
}

const struct ls_config *ls_output_ctx_config(const struct ls_output_ctx *ctx) { return ctx->cfg; }

static void add(GArray *a, void (*fn)(void), void *user)
{
	struct sub s = { fn, user };
	g_array_append_val(a, s);
}

void ls_output_ctx_subscribe_detections(struct ls_output_ctx *ctx, ls_detections_fn fn, void *user)
{
	add(ctx->detections, (void (*)(void))fn, user);
}

void ls_output_ctx_publish_detections(const struct ls_output_ctx *ctx, const struct ls_detect_result *r)
{
	for (guint i = 0; i < ctx->detections->len; i++) {
		const struct sub *s = &g_array_index(ctx->detections, struct sub, i);
		((ls_detections_fn)s->fn)(s->user, r);
	}
}

void ls_output_ctx_provide_clips(struct ls_output_ctx *ctx, ls_clip_request_fn fn, void *user)
{
	ctx->clips = fn;
	ctx->clips_user = user;
}

bool ls_output_ctx_request_clip(const struct ls_output_ctx *ctx, int64_t n, unsigned cam, const char *what)
{
	if (!ctx->clips)
		return false;
	ctx->clips(ctx->clips_user, n, cam, what);
	return true;
}

bool ls_output_ctx_tap(struct ls_output_ctx *ctx, unsigned cam, ls_output_tap_fn fn, void *user)
{
	return ctx->tap && cam < ctx->cfg->ncams && ctx->tap(ctx->rig, cam, fn, user);
}

void ls_output_ctx_subscribe_stats(struct ls_output_ctx *ctx, ls_json_fn fn, void *user)
{
	add(ctx->stats, (void (*)(void))fn, user);
}

void ls_output_ctx_publish_stats(const struct ls_output_ctx *ctx, const char *json)
{
	for (guint i = 0; i < ctx->stats->len; i++) {
		const struct sub *s = &g_array_index(ctx->stats, struct sub, i);
		((ls_json_fn)s->fn)(s->user, json);
	}
}

void ls_output_ctx_subscribe_events(struct ls_output_ctx *ctx, ls_json_fn fn, void *user)
{
	add(ctx->events, (void (*)(void))fn, user);
}

void ls_output_ctx_event(const struct ls_output_ctx *ctx, const char *kind, const char *fields)
{
	if (!ctx->events->len)
		return;
	char *json = g_strdup_printf("{\"schema\":\"lockstep.event/1\",\"kind\":\"%s\",\"time_ns\":%lld%s%s}", kind,
				     (long long)ls_realtime_ns(), fields && *fields ? "," : "", fields ? fields : "");
	g_mutex_lock((GMutex *)&ctx->event_lock);
	for (guint i = 0; i < ctx->events->len; i++) {
		const struct sub *s = &g_array_index(ctx->events, struct sub, i);
		((ls_json_fn)s->fn)(s->user, json);
	}
	g_mutex_unlock((GMutex *)&ctx->event_lock);
	g_free(json);
}

void ls_output_ctx_provide_export(struct ls_output_ctx *ctx, ls_export_fn fn, void *user)
{
	ctx->export_fn = fn;
	ctx->export_user = user;
}

int ls_output_ctx_export(const struct ls_output_ctx *ctx, const char *const *cameras, int64_t n1, int64_t n2,
			 const char *name, GString *json, char **err)
{
	if (!ctx->export_fn) {
		if (err)
			*err = g_strdup("this rig records nothing (no [record])");
		return -ENOTSUP;
	}
	return ctx->export_fn(ctx->export_user, cameras, n1, n2, name, json, err);
}

void ls_output_ctx_provide_run_control(struct ls_output_ctx *ctx, ls_run_control_fn fn, void *user)
{
	ctx->run_fn = fn;
	ctx->run_user = user;
}

void ls_output_ctx_hold_start(struct ls_output_ctx *ctx) { ctx->hold_start = true; }

bool ls_output_ctx_start_held(const struct ls_output_ctx *ctx) { return ctx->hold_start; }

int ls_output_ctx_run_control(const struct ls_output_ctx *ctx, enum ls_run_command cmd, int64_t at_ns, char **err)
{
	if (!ctx->run_fn) {
		if (err)
			*err = g_strdup("this run takes no commands");
		return -ENOTSUP;
	}
	return ctx->run_fn(ctx->run_user, cmd, at_ns, err);
}
