/* redact — see redact.h. */
#include "redact.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ls_canary.h"
#include "ls_logq.h"
#include "ls_pii.h"
#include "ls_redact.h"
#include "ls_redact_pii.h"
#include "ls_time.h"
#include "ocr_tess.h"

#ifndef LS_RULES_PATH
#define LS_RULES_PATH "rules/pii.rules"
#endif

#define MAX_BUFS 64
#define CANARY_LABEL "IBAN "
#define CANARY_VALUE "DE89 3704 0044 0532 0130 00" /* the standard example IBAN, valid mod 97 */
#define CANARY_TEXT CANARY_LABEL CANARY_VALUE
#define CANARY_TIMEOUT_NS (5 * LS_NS_PER_SEC)
#define AUDIT_QUEUE 4096 /* audit records waiting for the disk before new ones are dropped */

/* Output buffers outlive the stage while frames are in flight. */
struct bufpool {
	gint refs;
	GMutex mu;
	size_t size;
	GSList *free;
	unsigned count;
};

struct obuf {
	struct bufpool *pool;
	uint8_t *data;
	size_t size;
};

static void pool_unref(struct bufpool *p)
{
	if (!g_atomic_int_dec_and_test(&p->refs))
		return;
	for (GSList *l = p->free; l; l = l->next) {
		struct obuf *b = l->data;
		g_free(b->data);
		g_free(b);
	}
	g_slist_free(p->free);
	g_mutex_clear(&p->mu);
	g_free(p);
}

void ls_redact_stage_release(void *opaque)
{
	struct obuf *b = opaque;
	struct bufpool *p = b->pool;
	g_mutex_lock(&p->mu);
	if (b->size == p->size) {
		p->free = g_slist_prepend(p->free, b);
		b = NULL;
	}
	g_mutex_unlock(&p->mu);
	if (b) { /* a buffer of an older frame size */
		g_free(b->data);
		g_free(b);
	}
	pool_unref(p);
}

struct ls_redact_stage {
	struct ls_redact_config rc;
	char *camera;
	struct ls_pii_rules *rules;
	struct ls_redact_backend *ocr;
	struct ls_redactor *r;
	int w, h;
	struct ls_logq *audit; /* the audit log, written by its own thread (never this one), or NULL */
	struct bufpool *pool;
	/* events (ls_redact_stage_set_events), and the full-mask episode they report */
	ls_redact_event_fn event_fn;
	void *event_user;
	bool full_on;
	/* canary */
	uint8_t *scratch;               /* input copy with the canary drawn in */
	struct ls_canary canary_policy; /* when to show it, its verdict (lib/ls_canary.h) */
	int cx, cy, cw, ch;             /* canary box in the frame */
	uint8_t *canary;                /* its luma, cw x ch, rendered once with a real font */
	int vx0, vx1, vy0, vy1;         /* the IBAN value's ink within it */
	/* per-second summary */
	int64_t window_start_ns;
	uint64_t window_frames;
	GArray *lat_ms; /* double */
	int last_pending_tiles, last_masks;
	/* for the stats record: written on the streaming thread, read on the
	 * rig's aligner thread (ls_redact_stage_stats_json) */
	atomic_uint_fast64_t stat_frames, stat_full_masks;
};

/* Queues one audit record for the log's writer thread: the streaming
 * thread never waits on the disk; a writer far behind drops and counts
 * (ls_logq). */
static void audit_write(struct ls_redact_stage *st, const char *json)
{
	if (!st->audit)
		return;
	/* {"t":..,"camera":"..", + the record without its opening brace */
	char *line = g_strdup_printf("{\"t\":%.3f,\"camera\":\"%s\",%s\n", (double)ls_realtime_ns() / 1e9, st->camera,
				     json + 1);
	ls_logq_push(st->audit, line); /* g_malloc is malloc: the queue frees it */
}

static void audit_cb(void *user, const char *json) { audit_write(user, json); }

static int load_rules(const struct ls_redact_config *rc, struct ls_pii_rules **rules, char **err)
{
	const char *path = rc->rules ? rc->rules : LS_RULES_PATH;
	char *e = NULL;
	if (ls_pii_rules_load(path, rules, &e) < 0) {
		*err = g_strdup_printf("%s", e ? e : path);
		free(e);
		return -EINVAL;
	}
	return 0;
}

struct ls_redact_stage *ls_redact_stage_new(const struct ls_redact_config *rc, const char *camera, char **err)
{
	struct ls_redact_stage *st = g_new0(struct ls_redact_stage, 1);
	st->rc = *rc;
	st->rc.rules = g_strdup(rc->rules);
	st->rc.audit = g_strdup(rc->audit);
	st->rc.langs = g_strdup(rc->langs);
	st->camera = g_strdup(camera);
	ls_canary_init(&st->canary_policy, rc->canary_ns, CANARY_TIMEOUT_NS);
	st->lat_ms = g_array_new(FALSE, FALSE, sizeof(double));
	if (load_rules(rc, &st->rules, err) < 0)
		goto fail;
	if (rc->audit) {
		int fd = open(rc->audit, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		if (fd < 0) {
			*err = g_strdup_printf("audit = %s: %s", rc->audit, g_strerror(errno));
			goto fail;
		}
		char *what = g_strdup_printf("redact: audit log %s", rc->audit);
		st->audit = ls_logq_new(fd, AUDIT_QUEUE, what);
		g_free(what);
		if (!st->audit) {
			*err = g_strdup_printf("audit = %s: %s", rc->audit, g_strerror(errno));
			goto fail;
		}
	}
	struct ls_tess_opts to = { NULL, rc->langs };
	st->ocr = ls_tess_backend_new(&to);
	st->pool = g_new0(struct bufpool, 1);
	st->pool->refs = 1;
	g_mutex_init(&st->pool->mu);
	return st;
fail:
	ls_redact_stage_free(&st);
	return NULL;
}

void ls_redact_stage_free(struct ls_redact_stage **pst)
{
	struct ls_redact_stage *st = pst ? *pst : NULL;
	if (!st)
		return;
	ls_redactor_free(&st->r);
	ls_tess_backend_free(&st->ocr);
	ls_pii_rules_free(&st->rules);
	if (st->audit && ls_logq_dropped(st->audit))
		g_printerr("camera %s: redact: audit log: %llu records dropped (the disk was too slow)\n", st->camera,
			   (unsigned long long)ls_logq_dropped(st->audit));
	ls_logq_free(&st->audit); /* writes what is queued */
	if (st->pool)
		pool_unref(st->pool);
	g_array_free(st->lat_ms, TRUE);
	g_free(st->scratch);
	g_free(st->canary);
	g_free(st->rc.rules);
	g_free(st->rc.audit);
	g_free(st->rc.langs);
	g_free(st->camera);
	g_free(st);
	*pst = NULL;
}

/* Renders the canary line once, dark on light, with Pango (GStreamer's
 * textoverlay): a screen font, as a real screen would show it. Finds the
 * ink box of the value (everything right of the label's gap). */
static bool render_canary(struct ls_redact_stage *st)
{
	int W = 640, H = 48;
	char *desc = g_strdup_printf(
		"videotestsrc pattern=white num-buffers=1 ! video/x-raw,format=I420,width=%d,height=%d"
		" ! textoverlay text=\"" CANARY_TEXT "\" font-desc=\"DejaVu Sans 15\" valignment=top"
		" halignment=left xpad=8 ypad=10 color=0xff202020 shaded-background=false draw-shadow=false"
		" draw-outline=false ! appsink name=s sync=false",
		W, H);
	GError *e = NULL;
	GstElement *p = gst_parse_launch(desc, &e);
	g_free(desc);
	if (!p || e) {
		g_clear_error(&e);
		if (p)
			gst_object_unref(p);
		return false;
	}
	GstElement *sink = gst_bin_get_by_name(GST_BIN(p), "s");
	gst_element_set_state(p, GST_STATE_PLAYING);
	GstSample *smp = gst_app_sink_try_pull_sample(GST_APP_SINK(sink), 5 * GST_SECOND);
	bool ok = false;
	if (smp) {
		GstMapInfo m;
		GstBuffer *b = gst_sample_get_buffer(smp);
		if (gst_buffer_map(b, &m, GST_MAP_READ) && m.size >= (size_t)W * H) {
			/* ink columns; the value starts after the widest gap */
			int x0 = W, x1 = -1, y0 = H, y1 = -1;
			bool col[640] = { false };
			for (int y = 0; y < H; y++)
				for (int x = 0; x < W; x++)
					if (m.data[y * W + x] < 128) {
						col[x] = true;
						x0 = x < x0 ? x : x0;
						x1 = x > x1 ? x : x1;
						y0 = y < y0 ? y : y0;
						y1 = y > y1 ? y : y1;
					}
			int gap_end = -1, run = 0, best = 0;
			for (int x = x0; x <= x1 && x1 >= 0; x++) {
				run = col[x] ? 0 : run + 1;
				if (!col[x] && run > best && x < x0 + (x1 - x0) / 3) {
					best = run;
					gap_end = x + 1;
				}
			}
			if (x1 > x0 && gap_end > 0) {
				st->cw = x1 + 9 < W ? x1 + 9 : W;
				st->ch = y1 + 9 < H ? y1 + 9 : H;
				st->canary = g_malloc((size_t)st->cw * (size_t)st->ch);
				for (int y = 0; y < st->ch; y++)
					memcpy(st->canary + (size_t)y * (size_t)st->cw, m.data + (size_t)y * W,
					       (size_t)st->cw);
				st->vx0 = gap_end;
				st->vx1 = x1;
				st->vy0 = y0;
				st->vy1 = y1;
				ok = true;
			}
			gst_buffer_unmap(b, &m);
		}
		gst_sample_unref(smp);
	}
	gst_element_set_state(p, GST_STATE_NULL);
	gst_object_unref(sink);
	gst_object_unref(p);
	return ok;
}

/* (Re)creates the redactor for frames of @w x @h. */
static bool ensure_redactor(struct ls_redact_stage *st, int w, int h)
{
	if (st->r && st->w == w && st->h == h)
		return true;
	ls_redactor_free(&st->r);
	/* buffers of the old size are freed as they come back */
	g_mutex_lock(&st->pool->mu);
	for (GSList *l = st->pool->free; l; l = l->next) {
		struct obuf *b = l->data;
		g_free(b->data);
		g_free(b);
	}
	g_slist_free(st->pool->free);
	st->pool->free = NULL;
	st->pool->count = 0;
	st->pool->size = (size_t)w * (size_t)h * 3 / 2;
	g_mutex_unlock(&st->pool->mu);
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	struct ls_redact_params p = {
		.width = w,
		.height = h,
		.tile = st->rc.tile,
		.workers = st->rc.workers ? (int)st->rc.workers : (cores > 0 ? (int)cores : 2),
		.budget_ns = st->rc.budget_ns,
		.wait = st->rc.wait,
		.hold_ns = st->rc.hold_ns,
		.ocr = st->ocr,
		.scan = ls_pii_redact_scan,
		.scan_user = st->rules,
		.audit = st->audit ? audit_cb : NULL,
		.audit_user = st,
	};
	char *err = NULL;
	if (ls_redactor_new(&p, &st->r, &err) < 0) {
		g_printerr("camera %s: redact: %s\n", st->camera, err ? err : "cannot start");
		free(err);
		return false;
	}
	st->w = w;
	st->h = h;
	g_free(st->scratch);
	st->scratch = g_malloc((size_t)w * (size_t)h * 3 / 2);
	if (st->rc.canary_ns && !st->canary && !render_canary(st)) {
		g_printerr("camera %s: redact: cannot render the canary (GStreamer textoverlay); no canary\n",
			   st->camera);
		st->rc.canary_ns = 0;
	}
	st->cx = 8;
	st->cy = h - st->ch - 8;
	if (st->cw > w - 16 || st->cy < 0)
		st->rc.canary_ns = 0; /* frame too small for a canary */
	return true;
}

static struct obuf *get_buf(struct ls_redact_stage *st)
{
	struct bufpool *p = st->pool;
	struct obuf *b = NULL;
	g_mutex_lock(&p->mu);
	if (p->free) {
		b = p->free->data;
		p->free = g_slist_delete_link(p->free, p->free);
	} else if (p->count < MAX_BUFS) {
		b = g_new0(struct obuf, 1);
		b->data = g_try_malloc(p->size);
		if (!b->data) {
			g_free(b);
			b = NULL;
		} else {
			b->pool = p;
			b->size = p->size;
			p->count++;
		}
	}
	g_mutex_unlock(&p->mu);
	if (b)
		g_atomic_int_inc(&p->refs);
	return b;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void summary(struct ls_redact_stage *st, int64_t now)
{
	if (!st->window_start_ns) {
		st->window_start_ns = now;
		return;
	}
	if (now - st->window_start_ns < LS_NS_PER_SEC)
		return;
	double secs = (double)(now - st->window_start_ns) / 1e9;
	double p50 = 0, p99 = 0;
	if (st->lat_ms->len) {
		qsort(st->lat_ms->data, st->lat_ms->len, sizeof(double), cmp_double);
		p50 = g_array_index(st->lat_ms, double, st->lat_ms->len / 2);
		p99 = g_array_index(st->lat_ms, double, (st->lat_ms->len * 99) / 100);
	}
	struct ls_redact_totals t;
	ls_redactor_totals(st->r, &t);
	char buf[400];
	snprintf(buf, sizeof buf,
		 "{\"event\":\"summary\",\"frames\":%llu,\"fps\":%.2f,\"latency_p50_ms\":%.2f,\"latency_p99_ms\":%.2f,"
		 "\"pending_tiles\":%d,\"masked_boxes\":%d,\"ocr_queue\":%u,\"ocr_jobs\":%llu,\"cache_hits\":%llu,"
		 "\"full_masks\":%llu,\"workers_dead\":%u}",
		 (unsigned long long)t.frames, (double)st->window_frames / secs, p50, p99, st->last_pending_tiles,
		 st->last_masks, t.queue, (unsigned long long)t.ocr_jobs, (unsigned long long)t.cache_hits,
		 (unsigned long long)t.full_masks, t.workers_dead);
	audit_write(st, buf);
	g_array_set_size(st->lat_ms, 0);
	st->window_frames = 0;
	st->window_start_ns = now;
}

static void copy_planes(uint8_t *dst, int w, int h, uint8_t *const in[3], const int strides[3])
{
	uint8_t *d[3] = { dst, dst + (size_t)w * (size_t)h, dst + (size_t)w * (size_t)h * 5 / 4 };
	for (int p = 0; p < 3; p++) {
		int pw = p ? w / 2 : w, ph = p ? h / 2 : h;
		for (int y = 0; y < ph; y++)
			memcpy(d[p] + (size_t)y * (size_t)pw, in[p] + (size_t)y * (size_t)strides[p], (size_t)pw);
	}
}

void ls_redact_stage_set_events(struct ls_redact_stage *st, ls_redact_event_fn fn, void *user)
{
	st->event_fn = fn;
	st->event_user = user;
}

/* Reports @kind with the camera and, when not NULL, why. Camera names need
 * no escaping (config.c allows A-Z a-z 0-9 _ . - only); @why is one of the
 * redactor's fixed reasons. */
static void stage_event(struct ls_redact_stage *st, const char *kind, const char *why)
{
	if (!st->event_fn)
		return;
	char f[256];
	snprintf(f, sizeof f, "\"camera\":\"%s\"%s%s%s", st->camera, why ? ",\"why\":\"" : "", why ? why : "",
		 why ? "\"" : "");
	st->event_fn(st->event_user, kind, f);
}

void *ls_redact_stage_process(struct ls_redact_stage *st, uint8_t *const in_planes[3], const int in_strides[3],
			      int width, int height, int64_t capture_ns, uint8_t *out_planes[3], int out_strides[3])
{
	if ((width | height) & 1 || !ensure_redactor(st, width, height))
		return NULL;
	struct obuf *b = get_buf(st);
	if (!b)
		return NULL;
	struct ls_redact_image out = { { b->data, b->data + (size_t)width * (size_t)height,
					 b->data + (size_t)width * (size_t)height * 5 / 4 },
				       { width, width / 2, width / 2 } };
	struct ls_redact_image in = { { in_planes[0], in_planes[1], in_planes[2] },
				      { in_strides[0], in_strides[1], in_strides[2] } };
	int64_t now = ls_realtime_ns();

	/* canary: draw it into a copy of the input until it is judged */
	if (st->rc.canary_ns) {
		if (ls_canary_show(&st->canary_policy, now)) {
			copy_planes(st->scratch, width, height, in_planes, in_strides);
			uint8_t *y = st->scratch;
			for (int k = 0; k < st->ch; k++)
				memcpy(y + (size_t)(st->cy + k) * (size_t)width + st->cx,
				       st->canary + (size_t)k * (size_t)st->cw, (size_t)st->cw);
			in = (struct ls_redact_image){ { y, y + (size_t)width * (size_t)height,
							 y + (size_t)width * (size_t)height * 5 / 4 },
						       { width, width / 2, width / 2 } };
		}
	}
	struct ls_redact_stats s;
	ls_redactor_process(st->r, &in, &out, capture_ns, now, &s);

	if (st->rc.canary_ns) {
		/* the value must be masked as personal data (pending does not count) */
		int bx = st->cx + st->vx0, by = st->cy + st->vy0, bw = st->vx1 - st->vx0 + 1,
		    bh = st->vy1 - st->vy0 + 1;
		bool shown = st->canary_policy.since_ns != 0;
		bool caught = shown && ls_redactor_masked_as_pii(st->r, bx, by, bw, bh);
		if (ls_canary_due(&st->canary_policy, now, caught)) {
			/* not judged in time: still covered as unread (its row
			 * keeps changing, e.g. a video beside it) proves nothing
			 * either way; shown in the clear is a failure */
			bool covered = !caught && ls_redactor_covered(st->r, bx, by, bw, bh);
			bool was_failed = ls_canary_failed(&st->canary_policy);
			int64_t age = 0;
			enum ls_canary_verdict v = ls_canary_judge(&st->canary_policy, now, caught, covered, &age);
			char buf[160];
			snprintf(buf, sizeof buf, "{\"event\":\"canary\",\"result\":\"%s\",\"latency_ms\":%.1f}",
				 ls_canary_verdict_name(v), (double)age / 1e6);
			audit_write(st, buf);
			if (v == LS_CANARY_FAIL && !was_failed)
				stage_event(st, "canary-failed", NULL);
			if (v == LS_CANARY_PASS && st->event_fn) {
				char f[192];
				snprintf(f, sizeof f, "\"camera\":\"%s\",\"latency_ms\":%.1f", st->camera,
					 (double)age / 1e6);
				st->event_fn(st->event_user, "canary-passed", f);
			}
			if (v == LS_CANARY_FAIL && !was_failed)
				g_printerr("camera %s: redact: the canary IBAN was not masked within %d s; every frame "
					   "is masked until one is\n",
					   st->camera, (int)(CANARY_TIMEOUT_NS / LS_NS_PER_SEC));
		}
	}
	bool canary_mask = ls_canary_failed(&st->canary_policy) && !s.full_mask;
	if (canary_mask) {
		ls_redact_fill(&out, width, height, 0, 0, width, height);
		audit_write(st, "{\"event\":\"full-mask\",\"why\":\"canary-failed\"}");
	}
	if ((s.full_mask || canary_mask) != st->full_on) {
		st->full_on = s.full_mask || canary_mask;
		if (st->full_on)
			stage_event(st, "redact-full-mask", canary_mask ? "canary-failed" : s.full_why);
		else
			stage_event(st, "redact-full-mask-end", NULL);
	}
	atomic_fetch_add_explicit(&st->stat_frames, 1, memory_order_relaxed);
	if (s.full_mask || ls_canary_failed(&st->canary_policy))
		atomic_fetch_add_explicit(&st->stat_full_masks, 1, memory_order_relaxed);
	st->last_pending_tiles = s.pending_tiles;
	st->last_masks = s.mask_boxes;
	double lat = (double)(ls_realtime_ns() - capture_ns) / 1e6;
	g_array_append_val(st->lat_ms, lat);
	st->window_frames++;
	summary(st, now);
	for (int p = 0; p < 3; p++) {
		out_planes[p] = out.planes[p];
		out_strides[p] = out.strides[p];
	}
	return b;
}

void ls_redact_stage_stats_json(struct ls_redact_stage *st, GString *j)
{
	g_string_append_printf(j, ",\"redact\":{\"frames\":%llu,\"full_masks\":%llu}",
			       (unsigned long long)atomic_load_explicit(&st->stat_frames, memory_order_relaxed),
			       (unsigned long long)atomic_load_explicit(&st->stat_full_masks, memory_order_relaxed));
}

int ls_redact_stage_probe(const struct ls_redact_config *rc, char **err)
{
	struct ls_pii_rules *rules = NULL;
	if (load_rules(rc, &rules, err) < 0)
		return -EINVAL;
	ls_pii_rules_free(&rules);
	struct ls_tess_opts to = { NULL, rc->langs };
	return ls_tess_probe(&to, err);
}
