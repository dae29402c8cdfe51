/* ls_ocrpool — the redactor's OCR worker threads, their job queue and the
 * cache of OCR results keyed by a unit's pixels (see ls_ocrpool.h). */
#include "ls_ocrpool.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ls_time.h"

#define NBUCKET 4096

struct job {
	struct ls_ocrpool_entry *e;
	struct ls_redact_ocr res;
	int rc;
	int64_t ns;
	struct job *next;
};

struct worker {
	struct ls_ocrpool *pool;
	int idx;
	pthread_t th;
	bool started;
	_Atomic int64_t busy_since; /* monotonic ns, 0 when idle */
	_Atomic int dead;           /* the thread has ended (or is ending) */
	/* a revived worker counts as dead until it has read a probe: a
	 * recogniser that fails again must not lift the full mask meanwhile */
	_Atomic int proven;
	bool revived;         /* set before its thread starts */
	int64_t dead_seen_ns; /* process thread: when the watchdog first saw it dead, 0: not dead */
};

struct ls_ocrpool {
	const struct ls_redact_backend *ocr;
	int64_t stuck_ns;
	size_t cache_max; /* pixels kept in the cache */

	/* the cache: the process thread */
	struct ls_ocrpool_entry *buckets[NBUCKET];
	size_t cache_bytes;
	unsigned nentries;

	/* workers */
	pthread_mutex_t mu;
	pthread_cond_t cv_job, cv_done;
	struct job *jq_head, *jq_tail; /* protected by mu */
	struct job *done;              /* protected by mu */
	unsigned queued;               /* protected by mu */
	bool stopping;                 /* protected by mu */
	struct worker *workers;
	int nworkers;

	/* totals: the process thread */
	uint64_t ocr_jobs, ocr_failures, ocr_skipped, cache_hits, cache_evictions, ocr_ns;
	unsigned workers_dead;
	/* revival (process thread): a dead worker is started again after
	 * revive_ns, which doubles while revived workers keep failing */
	int64_t revive_ns;
	uint64_t revivals;
};

#define REVIVE_FIRST_NS 1000000000LL /* 1 s */
#define REVIVE_MAX_NS 8000000000LL   /* 8 s */

static void enqueue(struct ls_ocrpool *pool, struct ls_ocrpool_entry *e, struct ls_redact_stats *st);

static uint64_t hash_pix(const uint8_t *p, int w, int h)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)w << 32 | (uint64_t)h);
	size_t n = (size_t)w * (size_t)h, i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t v;
		memcpy(&v, p + i, 8);
		x ^= v;
		x *= 0xff51afd7ed558ccdULL;
		x ^= x >> 32;
	}
	for (; i < n; i++) {
		x ^= p[i];
		x *= 0xc4ceb9fe1a85ec53ULL;
	}
	x ^= x >> 29;
	return x;
}

void ls_redact_ocr_clear(struct ls_redact_ocr *o)
{
	for (int i = 0; i < o->nwords; i++)
		free(o->words[i].text);
	free(o->words);
	o->words = NULL;
	o->nwords = 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct ls_ocrpool *pool = w->pool;
	char *err = NULL;
	/* OCR yields to the frame path: a frame late for its budget is masked
	 * whole, OCR late by a frame only keeps a tile masked a little longer */
	if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10) < 0) {
		/* not fatal: only the latency suffers */
	}
	void *ctx = pool->ocr->worker_new(pool->ocr->user, w->idx, &err);
	if (!ctx) {
		fprintf(stderr, "redact: OCR worker %d: %s\n", w->idx, err ? err : "cannot start");
		free(err);
		atomic_store(&w->dead, 1);
		return NULL;
	}
	if (w->revived) {
		/* a probe: a blank 48x16 strip must be read without an error */
		uint8_t blank[48 * 16];
		memset(blank, 255, sizeof blank);
		struct ls_redact_ocr probe = { 0 };
		int rc = pool->ocr->recognize(ctx, blank, 48, 16, 48, &probe);
		ls_redact_ocr_clear(&probe);
		if (rc < 0) {
			pool->ocr->worker_free(ctx);
			atomic_store(&w->dead, 1);
			return NULL;
		}
		fprintf(stderr, "redact: OCR worker %d is back\n", w->idx);
	}
	atomic_store(&w->proven, 1);
	pthread_mutex_lock(&pool->mu);
	for (;;) {
		while (!pool->jq_head && !pool->stopping)
			pthread_cond_wait(&pool->cv_job, &pool->mu);
		if (pool->stopping)
			break;
		struct job *j = pool->jq_head;
		pool->jq_head = j->next;
		if (!pool->jq_head)
			pool->jq_tail = NULL;
		pool->queued--;
		pthread_mutex_unlock(&pool->mu);

		int64_t t0 = ls_monotonic_ns();
		memset(&j->res, 0, sizeof(j->res));
		if (atomic_load(&j->e->refs) == 0) {
			/* gone from the screen while it waited (video, animation):
			 * reading it would only delay what is on screen */
			j->rc = 1;
		} else {
			atomic_store(&w->busy_since, t0);
			j->rc = pool->ocr->recognize(ctx, j->e->pix, j->e->w, j->e->h, j->e->w, &j->res);
		}
		int64_t t1 = ls_monotonic_ns();
		atomic_store(&w->busy_since, 0);
		j->ns = t1 - t0;

		pthread_mutex_lock(&pool->mu);
		j->next = pool->done;
		pool->done = j;
		pthread_cond_broadcast(&pool->cv_done);
		if (j->rc < 0) {
			atomic_store(&w->dead, 1);
			break;
		}
	}
	pthread_mutex_unlock(&pool->mu);
	pool->ocr->worker_free(ctx);
	return NULL;
}

int ls_ocrpool_new(const struct ls_redact_backend *ocr, int workers, int64_t stuck_ns, size_t cache_bytes,
		   struct ls_ocrpool **out)
{
	*out = NULL;
	struct ls_ocrpool *pool = calloc(1, sizeof(*pool));
	if (!pool)
		return -ENOMEM;
	pool->ocr = ocr;
	pool->stuck_ns = stuck_ns;
	pool->cache_max = cache_bytes;
	pool->workers = calloc((size_t)workers, sizeof(*pool->workers));
	pool->revive_ns = REVIVE_FIRST_NS;
	pthread_mutex_init(&pool->mu, NULL);
	pthread_cond_init(&pool->cv_job, NULL);
	pthread_cond_init(&pool->cv_done, NULL);
	if (!pool->workers) {
		ls_ocrpool_free(&pool);
		return -ENOMEM;
	}
	for (int i = 0; i < workers; i++) {
		pool->workers[i].pool = pool;
		pool->workers[i].idx = i;
		atomic_store(&pool->workers[i].proven, 1); /* a first start needs no probe */
		if (pthread_create(&pool->workers[i].th, NULL, worker_main, &pool->workers[i]) != 0) {
			ls_ocrpool_free(&pool);
			return -EAGAIN;
		}
		pool->workers[i].started = true;
		pool->nworkers++;
	}
	*out = pool;
	return 0;
}

static void entry_free(struct ls_ocrpool *pool, struct ls_ocrpool_entry *e)
{
	pool->cache_bytes -= (size_t)e->w * (size_t)e->h + sizeof(*e);
	pool->nentries--;
	ls_redact_ocr_clear(&e->ocr);
	free(e->pix);
	free(e);
}

/* Drops the least recently used idle entries until the cache is 7/8 full. */
void ls_ocrpool_trim(struct ls_ocrpool *pool)
{
	if (pool->cache_bytes <= pool->cache_max)
		return;
	size_t goal = pool->cache_max / 8 * 7;
	while (pool->cache_bytes > goal) {
		struct ls_ocrpool_entry **victim = NULL;
		for (int b = 0; b < NBUCKET; b++)
			for (struct ls_ocrpool_entry **pp = &pool->buckets[b]; *pp; pp = &(*pp)->next) {
				struct ls_ocrpool_entry *e = *pp;
				if (atomic_load(&e->refs) || e->state == LS_OCRPOOL_PENDING)
					continue;
				if (!victim || e->last_used < (*victim)->last_used)
					victim = pp;
			}
		if (!victim)
			return; /* everything is on screen or being read */
		struct ls_ocrpool_entry *e = *victim;
		*victim = e->next;
		entry_free(pool, e);
		pool->cache_evictions++;
	}
}

/* Queues @e for OCR (the frame thread). */
static void enqueue(struct ls_ocrpool *pool, struct ls_ocrpool_entry *e, struct ls_redact_stats *st)
{
	struct job *j = calloc(1, sizeof(*j));
	if (!j) {
		e->state = LS_OCRPOOL_FAILED; /* masked until it goes: fail closed */
		return;
	}
	j->e = e;
	pthread_mutex_lock(&pool->mu);
	if (pool->jq_tail)
		pool->jq_tail->next = j;
	else
		pool->jq_head = j;
	pool->jq_tail = j;
	pool->queued++;
	pthread_cond_signal(&pool->cv_job);
	pthread_mutex_unlock(&pool->mu);
	st->new_jobs++;
	pool->ocr_jobs++;
}

/* The entry for the pixels of box @b (refs + 1): found, or new and queued. */
struct ls_ocrpool_entry *ls_ocrpool_entry_for(struct ls_ocrpool *pool, const uint8_t *y, int stride,
					      struct ls_redact_box b, int64_t now_ns, uint64_t frame,
					      struct ls_redact_stats *st)
{
	size_t n = (size_t)b.w * (size_t)b.h;
	uint8_t *pix = malloc(n);
	if (!pix)
		return NULL;
	for (int k = 0; k < b.h; k++)
		memcpy(pix + (size_t)k * (size_t)b.w, y + (size_t)(b.y + k) * (size_t)stride + (size_t)b.x,
		       (size_t)b.w);
	uint64_t h = hash_pix(pix, b.w, b.h);
	struct ls_ocrpool_entry **bucket = &pool->buckets[h % NBUCKET];
	for (struct ls_ocrpool_entry *e = *bucket; e; e = e->next) {
		if (e->hash == h && e->w == b.w && e->h == b.h && memcmp(e->pix, pix, n) == 0) {
			free(pix);
			e->refs++;
			e->last_used = frame;
			if (e->state == LS_OCRPOOL_SKIPPED) {
				/* shown again after its job was dropped: read it now */
				e->state = LS_OCRPOOL_PENDING;
				e->queued_ns = now_ns;
				enqueue(pool, e, st);
			} else if (e->state != LS_OCRPOOL_PENDING) {
				st->cache_hits++;
				pool->cache_hits++;
			}
			return e;
		}
	}
	struct ls_ocrpool_entry *e = calloc(1, sizeof(*e));
	struct job *j = calloc(1, sizeof(*j)); /* checked here so a failure leaves nothing half done */
	if (!e || !j) {
		free(e);
		free(j);
		free(pix);
		return NULL;
	}
	e->hash = h;
	e->w = b.w;
	e->h = b.h;
	e->pix = pix;
	e->state = LS_OCRPOOL_PENDING;
	e->refs = 1;
	e->last_used = frame;
	e->queued_ns = now_ns;
	e->next = *bucket;
	*bucket = e;
	pool->cache_bytes += n + sizeof(*e);
	pool->nentries++;
	free(j);
	enqueue(pool, e, st);
	return e;
}

/* Applies finished OCR jobs. Returns how many. */
int ls_ocrpool_drain(struct ls_ocrpool *pool)
{
	pthread_mutex_lock(&pool->mu);
	struct job *j = pool->done;
	pool->done = NULL;
	pthread_mutex_unlock(&pool->mu);
	int n = 0;
	while (j) {
		struct job *next = j->next;
		struct ls_ocrpool_entry *e = j->e;
		if (j->rc < 0) {
			e->state = LS_OCRPOOL_FAILED;
			pool->ocr_failures++;
			ls_redact_ocr_clear(&j->res);
		} else if (j->rc == 1) {
			pool->ocr_skipped++;
			if (atomic_load(&e->refs) > 0) { /* back on screen meanwhile */
				struct ls_redact_stats scratch = { 0 };
				enqueue(pool, e, &scratch);
			} else {
				e->state = LS_OCRPOOL_SKIPPED;
			}
		} else {
			e->ocr = j->res;
			e->state = LS_OCRPOOL_DONE;
		}
		pool->ocr_ns += (uint64_t)j->ns;
		free(j);
		n++;
		j = next;
	}
	return n;
}

void ls_ocrpool_wait(struct ls_ocrpool *pool)
{
	pthread_mutex_lock(&pool->mu);
	if (!pool->done)
		pthread_cond_wait(&pool->cv_done, &pool->mu);
	pthread_mutex_unlock(&pool->mu);
}

/* Starts dead worker @w again (its thread has ended or is ending). */
static void revive(struct ls_ocrpool *pool, struct worker *w)
{
	pthread_join(w->th, NULL);
	w->started = false;
	atomic_store(&w->busy_since, 0);
	atomic_store(&w->proven, 0);
	atomic_store(&w->dead, 0);
	w->revived = true;
	w->dead_seen_ns = 0;
	if (pthread_create(&w->th, NULL, worker_main, w) != 0) {
		atomic_store(&w->dead, 1); /* tried again after the next wait */
		return;
	}
	w->started = true;
	pool->revivals++;
}

bool ls_ocrpool_wait_until(struct ls_ocrpool *pool, int64_t mono_deadline)
{
	pthread_mutex_lock(&pool->mu);
	while (!pool->done) {
		int64_t left = mono_deadline - ls_monotonic_ns();
		if (left <= 0)
			break;
		/* cv_done runs on CLOCK_REALTIME (the default): the deadline as
		 * what is left of it from now */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t ns = (int64_t)ts.tv_nsec + left;
		ts.tv_sec += (time_t)(ns / 1000000000LL);
		ts.tv_nsec = (long)(ns % 1000000000LL);
		pthread_cond_timedwait(&pool->cv_done, &pool->mu, &ts);
	}
	bool any = pool->done != NULL;
	pthread_mutex_unlock(&pool->mu);
	return any;
}

const char *ls_ocrpool_watchdog(struct ls_ocrpool *pool, int64_t mono_now)
{
	unsigned dead = 0;
	const char *why = NULL;
	bool all_proven = true;
	for (int i = 0; i < pool->nworkers; i++) {
		struct worker *w = &pool->workers[i];
		if (atomic_load(&w->dead)) {
			if (!w->dead_seen_ns)
				w->dead_seen_ns = mono_now;
			else if (mono_now - w->dead_seen_ns >= pool->revive_ns) {
				if (w->revived) /* a revived worker that failed again: wait longer */
					pool->revive_ns = pool->revive_ns * 2 > REVIVE_MAX_NS ? REVIVE_MAX_NS
											      : pool->revive_ns * 2;
				revive(pool, w);
			}
		}
		if (!atomic_load(&w->proven))
			all_proven = false;
	}
	if (all_proven)
		pool->revive_ns = REVIVE_FIRST_NS;
	for (int i = 0; i < pool->nworkers; i++) {
		int64_t since = atomic_load(&pool->workers[i].busy_since);
		if (atomic_load(&pool->workers[i].dead) || !atomic_load(&pool->workers[i].proven)) {
			dead++;
			why = "ocr-worker-dead";
		} else if (since && mono_now - since > pool->stuck_ns) {
			dead++;
			why = "ocr-worker-hung";
		}
	}
	pool->workers_dead = dead;
	return why;
}

void ls_ocrpool_totals(struct ls_ocrpool *pool, struct ls_redact_totals *t)
{
	pthread_mutex_lock(&pool->mu);
	t->queue = pool->queued;
	pthread_mutex_unlock(&pool->mu);
	t->ocr_jobs = pool->ocr_jobs;
	t->ocr_failures = pool->ocr_failures;
	t->ocr_skipped = pool->ocr_skipped;
	t->ocr_ns = pool->ocr_ns;
	t->cache_hits = pool->cache_hits;
	t->cache_evictions = pool->cache_evictions;
	t->workers_dead = pool->workers_dead;
}

void ls_ocrpool_free(struct ls_ocrpool **poolp)
{
	struct ls_ocrpool *pool = poolp ? *poolp : NULL;
	if (!pool)
		return;
	pthread_mutex_lock(&pool->mu);
	pool->stopping = true;
	pthread_cond_broadcast(&pool->cv_job);
	pthread_mutex_unlock(&pool->mu);
	for (int i = 0; i < pool->nworkers; i++)
		if (pool->workers[i].started)
			pthread_join(pool->workers[i].th, NULL);
	/* jobs never run, and results never applied */
	for (struct job *j = pool->jq_head; j;) {
		struct job *n = j->next;
		free(j);
		j = n;
	}
	ls_ocrpool_drain(pool);
	for (int b = 0; b < NBUCKET; b++)
		for (struct ls_ocrpool_entry *e = pool->buckets[b]; e;) {
			struct ls_ocrpool_entry *n = e->next;
			entry_free(pool, e);
			e = n;
		}
	pthread_mutex_destroy(&pool->mu);
	pthread_cond_destroy(&pool->cv_job);
	pthread_cond_destroy(&pool->cv_done);
	free(pool->workers);
	free(pool);
	*poolp = NULL;
}
