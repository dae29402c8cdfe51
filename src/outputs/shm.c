/* [output shm]: every frameset into POSIX shared memory (lib/ls_shm), for
 * readers in other processes (clients/c, clients/python, `lockstep
 * shm-dump`). Its thread pops this output's own queue; publishing never
 * waits for readers. The segment is created at start with the formats known
 * from the config (test:// cameras); a camera whose format appears or
 * changes later makes a new segment generation, which readers reattach to.
 * While no set comes, the thread keeps the heartbeat fresh so readers can
 * tell a quiet rig from a dead writer. */
#include <errno.h>
#include <glib.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "ls_shm.h"
#include "output.h"

struct shm_out {
	struct ls_shm_config cfg;
	struct ls_shm_cam *cams; /* ncams, formats as currently laid out */
	char **names;
	struct ls_shm_writer *w; /* output thread after start */
	struct ls_setq *q;
	GThread *thread;
	/* written by the output thread, read by shm_stats_json (aligner thread) */
	atomic_bool failed;
	atomic_uint_fast64_t published, regenerations;
};

static void *shm_new(struct ls_output_ctx *ctx, const void *group, char **err)
{
	const struct ls_output_config *oc = group;
	const struct ls_config *cfg = ls_output_ctx_config(ctx);
	struct shm_out *m = g_new0(struct shm_out, 1);
	m->cams = g_new0(struct ls_shm_cam, cfg->ncams);
	m->names = g_new0(char *, cfg->ncams + 1);
	for (unsigned c = 0; c < cfg->ncams; c++) {
		m->names[c] = g_strdup(cfg->cams[c].name);
		m->cams[c].name = m->names[c];
		const struct ls_source_spec *sp = &cfg->cams[c].src;
		if (sp->kind == LS_SRC_TEST) { /* known before the first frame */
			m->cams[c].format = LS_FMT_I420;
			m->cams[c].width = sp->test.width;
			m->cams[c].height = sp->test.height;
		}
	}
	m->cfg = (struct ls_shm_config){
		.name = g_strdup(oc->shm_name),
		.nslots = oc->slots,
		.ncams = cfg->ncams,
		.cams = m->cams,
		.rate = cfg->rate,
		.epoch_ns = cfg->epoch_ns,
		.group = oc->gid >= 0 ? (gid_t)oc->gid : (gid_t)-1,
		.checksums = oc->checksums,
	};
	/* Create it now: a name held by a running writer, a bad group or no
	 * room fail the run at start, with one line. */
	char why[512];
	if (ls_shm_writer_open(&m->cfg, &m->w, why, sizeof why) < 0) {
		*err = g_strdup(why);
		ls_shm_out_ops.free(m);
		return NULL;
	}
	return m;
}

/* New formats from @set (cameras absent from it keep theirs); reopens. */
static int regenerate(struct shm_out *m, const struct ls_frameset *set)
{
	for (unsigned c = 0; c < set->ncams && c < m->cfg.ncams; c++) {
		const struct ls_frame *f = set->entries[c].frame;
		if (set->entries[c].state == LS_ENTRY_MISSING || !f)
			continue;
		m->cams[c].format = f->format;
		m->cams[c].width = f->width;
		m->cams[c].height = f->height;
	}
	ls_shm_writer_close(&m->w);
	char why[512];
	if (ls_shm_writer_open(&m->cfg, &m->w, why, sizeof why) < 0) {
		g_printerr("output shm: %s; the output stops, the rig goes on\n", why);
		return -1;
	}
	m->regenerations++;
	return 0;
}

static gpointer shm_thread(gpointer data)
{
	struct shm_out *m = data;
	for (;;) {
		struct ls_frameset *set = ls_setq_pop(m->q, ls_monotonic_ns() + 200 * LS_NS_PER_MS);
		if (!set) {
			if (ls_setq_closed(m->q))
				break;
			if (m->w)
				ls_shm_writer_heartbeat(m->w);
			continue;
		}
		if (!atomic_load(&m->failed)) {
			int rc = ls_shm_writer_publish(m->w, set);
			if (rc == -EXDEV) {
				if (regenerate(m, set) < 0)
					atomic_store(&m->failed, true);
				else
					rc = ls_shm_writer_publish(m->w, set);
			}
			if (rc == 0)
				m->published++;
		}
		ls_frameset_unref(&set);
	}
	return NULL;
}

static int shm_start(void *impl, struct ls_setq *q, char **err)
{
	(void)err;
	struct shm_out *m = impl;
	m->q = q;
	m->thread = g_thread_new("shm", shm_thread, m);
	return 0;
}

static void shm_finish(void *impl)
{
	struct shm_out *m = impl;
	if (m->thread) {
		g_thread_join(m->thread);
		m->thread = NULL;
	}
	if (m->w)
		g_printerr("output shm: published %llu sets to /dev/shm/%s%s\n",
			   (unsigned long long)atomic_load(&m->published), m->cfg.name,
			   atomic_load(&m->regenerations) ? " (layout changed on the way)" : "");
	ls_shm_writer_close(&m->w); /* readers see "writer gone" at once */
}

static void shm_free(void *impl)
{
	struct shm_out *m = impl;
	if (!m)
		return;
	ls_shm_writer_close(&m->w);
	g_strfreev(m->names);
	g_free(m->cams);
	g_free((char *)m->cfg.name);
	g_free(m);
}

/* --stats-json, on the rig's aligner thread: appends
 * ,"name":"SEGMENT","published":P,"regenerations":R,"failed":B (sets
 * published, new segment generations since the start; the output stopped).
 * Atomics only. Segment names need no escaping ([A-Za-z0-9_.-], ls_shm). */
static void shm_stats_json(void *impl, GString *j)
{
	struct shm_out *m = impl;
	g_string_append_printf(j, ",\"name\":\"%s\",\"published\":%llu,\"regenerations\":%llu,\"failed\":%s",
			       m->cfg.name, (unsigned long long)atomic_load(&m->published),
			       (unsigned long long)atomic_load(&m->regenerations),
			       atomic_load(&m->failed) ? "true" : "false");
}

const struct ls_output_ops ls_shm_out_ops = {
	.kind = "shm",
	.create = shm_new,
	.start = shm_start,
	.finish = shm_finish,
	.free = shm_free,
	.stats_json = shm_stats_json,
};
