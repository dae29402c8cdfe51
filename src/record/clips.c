#include "clips.h"

#include <errno.h>
#include <glib.h>
#include <string.h>

#include "ls_time.h"
#include "output_ctx.h"
#include "recorder.h"
#include "values.h"

/* A clip waiting for its post-roll to be recorded. */
struct clip_req {
	int64_t n1, n2;      /* first and last event slot */
	unsigned cam;        /* the first event's camera */
	int64_t deadline_ns; /* monotonic: cut what there is after this */
	char *what;          /* "a-person-3": the first event, for the directory name and the log */
	unsigned events;
};

struct ls_clipper {
	const struct ls_record_config *rec; /* borrowed from the config */
	const char **names;                 /* NULL-terminated: the clip's camera list */
	unsigned ncams;
	struct ls_rate rate;
	int64_t epoch_ns;
	double post_s;
	int64_t pre_slots, post_slots;
	char *clip_dir;
	ls_clipper_recorded_fn recorded;
	void *recorded_user;
	const struct ls_output_ctx *ctx; /* where clips are reported, or NULL */
	GMutex lock;                     /* protects what follows */
	GCond wake;
	GQueue clips; /* struct clip_req *, oldest first */
	bool busy;    /* the head is being exported: do not extend it */
	bool final;   /* the run is over: cut what is waiting now */
	GThread *thread;
	uint64_t events, made, failed;
};

void ls_clipper_set_events(struct ls_clipper *c, const struct ls_output_ctx *ctx) { c->ctx = ctx; }

/* The export thread: "clip-ready" or "clip-failed" for clip @c. */
static void clip_event(struct ls_clipper *o, const struct clip_req *c, const char *outdir, int rc,
		       const struct ls_clip_result *res, const char *err)
{
	if (!o->ctx)
		return;
	GString *f = g_string_new("\"camera\":");
	ls_json_str(f, c->cam < o->ncams ? o->names[c->cam] : "");
	g_string_append(f, ",\"what\":");
	ls_json_str(f, c->what);
	if (rc < 0) {
		g_string_append(f, ",\"error\":");
		ls_json_str(f, err ? err : "failed");
		ls_output_ctx_event(o->ctx, "clip-failed", f->str);
	} else {
		g_string_append_printf(f, ",\"first_slot\":%lld,\"last_slot\":%lld,\"frames\":%lld,\"dir\":",
				       (long long)res->first_slot, (long long)res->last_slot, (long long)res->frames);
		ls_json_str(f, outdir);
		char *manifest = g_build_filename(outdir, "manifest.json", NULL);
		g_string_append(f, ",\"manifest\":");
		ls_json_str(f, manifest);
		g_free(manifest);
		ls_output_ctx_event(o->ctx, "clip-ready", f->str);
	}
	g_string_free(f, TRUE);
}

struct ls_clipper *ls_clipper_new(const struct ls_config *cfg, ls_clipper_recorded_fn recorded, void *user, char **err)
{
	const struct ls_detect_config *dc = cfg->detect;
	struct ls_clipper *o = g_new0(struct ls_clipper, 1);
	g_mutex_init(&o->lock);
	g_cond_init(&o->wake);
	g_queue_init(&o->clips);
	o->rec = cfg->record;
	o->ncams = cfg->ncams;
	o->names = g_new0(const char *, cfg->ncams + 1);
	for (unsigned c = 0; c < cfg->ncams; c++)
		o->names[c] = cfg->cams[c].name;
	double hz = (double)cfg->rate.num / cfg->rate.den;
	o->rate = cfg->rate;
	o->epoch_ns = cfg->epoch_ns;
	o->post_s = dc->clip_post_s;
	o->pre_slots = (int64_t)(dc->clip_pre_s * hz + 0.5);
	o->post_slots = (int64_t)(dc->clip_post_s * hz + 0.5);
	o->clip_dir = dc->clip_dir ? g_strdup(dc->clip_dir) : g_build_filename(cfg->record->dir, "clips", NULL);
	o->recorded = recorded;
	o->recorded_user = user;
	if (g_mkdir_with_parents(o->clip_dir, 0755) < 0) {
		*err = g_strdup_printf("clip-dir %s: cannot create: %s", o->clip_dir, g_strerror(errno));
		ls_clipper_free(&o);
		return NULL;
	}
	return o;
}

void ls_clipper_event(void *clipper, int64_t n, unsigned cam, const char *what)
{
	struct ls_clipper *o = clipper;
	g_mutex_lock(&o->lock);
	o->events++;
	struct clip_req *tail = g_queue_peek_tail(&o->clips);
	bool tail_busy = o->busy && tail == g_queue_peek_head(&o->clips);
	int64_t wait_ns = (int64_t)((o->post_s + (double)o->rec->segment_ns / 1e9) * 2e9) + 10 * LS_NS_PER_SEC;
	if (tail && !tail_busy && n <= tail->n2 + o->post_slots) {
		if (n > tail->n2)
			tail->n2 = n;
		if (n < tail->n1)
			tail->n1 = n;
		tail->events++;
		tail->deadline_ns = ls_monotonic_ns() + wait_ns;
	} else {
		struct clip_req *c = g_new0(struct clip_req, 1);
		c->n1 = c->n2 = n;
		c->cam = cam;
		c->events = 1;
		c->deadline_ns = ls_monotonic_ns() + wait_ns;
		c->what = g_strdup_printf("%s-%s", o->names[cam], what);
		for (char *p = c->what; *p; p++)
			if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_')
				*p = '_';
		g_queue_push_tail(&o->clips, c);
		g_cond_signal(&o->wake);
	}
	g_mutex_unlock(&o->lock);
}

static gpointer clip_main(gpointer data)
{
	struct ls_clipper *o = data;
	g_mutex_lock(&o->lock);
	for (;;) {
		struct clip_req *c = g_queue_peek_head(&o->clips);
		if (!c) {
			if (o->final)
				break;
			g_cond_wait(&o->wake, &o->lock);
			continue;
		}
		bool final = o->final;
		int64_t target = c->n2 + o->post_slots;
		o->busy = true; /* from here the head is not extended */
		g_mutex_unlock(&o->lock);
		bool ready = final || o->recorded(o->recorded_user, target) || ls_monotonic_ns() > c->deadline_ns;
		if (ready) {
			char *name = g_strdup_printf("%lld-%s", (long long)c->n1, c->what);
			char *outdir = g_build_filename(o->clip_dir, name, NULL);
			struct ls_clip_request req = {
				.dir = o->rec->dir,
				.rate = o->rate,
				.epoch_ns = o->epoch_ns,
				.gop = o->rec->gop,
				.cameras = o->names,
				.n1 = c->n1,
				.n2 = c->n2,
				.pre_slots = o->pre_slots,
				.post_slots = o->post_slots,
				.outdir = outdir,
			};
			struct ls_clip_result res;
			char *err = NULL;
			int rc = ls_record_clip(&req, &res, &err);
			clip_event(o, c, outdir, rc, &res, err);
			if (rc < 0)
				g_printerr("[detect] clip %s: %s\n", name, err ? err : "failed");
			else
				g_printerr("[detect] clip %s: %u event%s, slots %lld..%lld (%lld frames) in %s\n", name,
					   c->events, c->events == 1 ? "" : "s", (long long)res.first_slot,
					   (long long)res.last_slot, (long long)res.frames, outdir);
			g_free(err);
			g_free(outdir);
			g_free(name);
			g_mutex_lock(&o->lock);
			if (rc < 0)
				o->failed++;
			else
				o->made++;
			g_queue_pop_head(&o->clips);
			g_free(c->what);
			g_free(c);
			o->busy = false;
			continue;
		}
		g_mutex_lock(&o->lock);
		o->busy = false;
		if (!o->final)
			g_cond_wait_until(&o->wake, &o->lock, g_get_monotonic_time() + 300 * G_TIME_SPAN_MILLISECOND);
	}
	g_mutex_unlock(&o->lock);
	return NULL;
}

void ls_clipper_start(struct ls_clipper *o) { o->thread = g_thread_new("clips", clip_main, o); }

void ls_clipper_finish(struct ls_clipper *o)
{
	if (!o || !o->thread)
		return;
	/* the recorder's segments are closed: waiting clips are cut now with
	 * what there is */
	g_mutex_lock(&o->lock);
	o->final = true;
	g_cond_signal(&o->wake);
	g_mutex_unlock(&o->lock);
	g_thread_join(o->thread);
	o->thread = NULL;
	g_printerr("[detect] clips: %llu events, %llu clips written, %llu failed\n", (unsigned long long)o->events,
		   (unsigned long long)o->made, (unsigned long long)o->failed);
}

void ls_clipper_free(struct ls_clipper **po)
{
	if (!po || !*po)
		return;
	struct ls_clipper *o = *po;
	*po = NULL;
	ls_clipper_finish(o);
	struct clip_req *c;
	while ((c = g_queue_pop_head(&o->clips))) {
		g_free(c->what);
		g_free(c);
	}
	g_free(o->clip_dir);
	g_free(o->names);
	g_mutex_clear(&o->lock);
	g_cond_clear(&o->wake);
	g_free(o);
}
