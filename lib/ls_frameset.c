#include "ls_frameset.h"

#include <stdlib.h>
#include <string.h>

/* A fixed array of sets, each followed by its ncams entries. Acquired only by
 * the aligner thread; released from any thread by the last unref. The pool's
 * refcount is 1 for the aligner plus one per outstanding set, so sets stay
 * valid after the aligner is freed. */
struct ls_frameset_pool {
	atomic_uint refs;
	unsigned capacity;
	unsigned ncams;
	unsigned hint; /* aligner thread only */
	size_t stride; /* bytes per set including entries */
	atomic_uchar *used;
	unsigned char *mem;
};

static void set_pool_drop(struct ls_frameset_pool *p)
{
	if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1) {
		free(p->used);
		free(p->mem);
		free(p);
	}
}

struct ls_frameset_pool *ls_frameset_pool_new(unsigned capacity, unsigned ncams)
{
	struct ls_frameset_pool *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->capacity = capacity;
	p->ncams = ncams;
	p->stride = sizeof(struct ls_frameset) + (size_t)ncams * sizeof(struct ls_entry);
	p->stride = (p->stride + 63) & ~(size_t)63; /* one set per cache line run */
	p->used = calloc(capacity, sizeof *p->used);
	p->mem = calloc(capacity, p->stride);
	if (!p->used || !p->mem) {
		free(p->used);
		free(p->mem);
		free(p);
		return NULL;
	}
	atomic_init(&p->refs, 1);
	return p;
}

struct ls_frameset *ls_frameset_pool_acquire(struct ls_frameset_pool *p)
{
	for (unsigned k = 0; k < p->capacity; k++) {
		unsigned i = (p->hint + k) % p->capacity;
		if (atomic_load_explicit(&p->used[i], memory_order_acquire) == 0) {
			atomic_store_explicit(&p->used[i], 1, memory_order_relaxed);
			p->hint = (i + 1) % p->capacity;
			struct ls_frameset *s = (struct ls_frameset *)(p->mem + (size_t)i * p->stride);
			memset(s, 0, p->stride);
			atomic_init(&s->refcount, 1);
			s->ncams = p->ncams;
			s->pool = p;
			atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
			return s;
		}
	}
	return NULL;
}

struct ls_frameset *ls_frameset_ref(struct ls_frameset *s)
{
	atomic_fetch_add_explicit(&s->refcount, 1, memory_order_relaxed);
	return s;
}

void ls_frameset_unref(struct ls_frameset **sp)
{
	if (!sp || !*sp)
		return;
	struct ls_frameset *s = *sp;
	*sp = NULL;
	if (atomic_fetch_sub_explicit(&s->refcount, 1, memory_order_acq_rel) != 1)
		return;
	for (unsigned c = 0; c < s->ncams; c++)
		ls_frame_unref(&s->entries[c].frame);
	struct ls_frameset_pool *p = s->pool;
	size_t idx = (size_t)((unsigned char *)s - p->mem) / p->stride;
	atomic_store_explicit(&p->used[idx], 0, memory_order_release);
	set_pool_drop(p);
}

void ls_frameset_pool_unref(struct ls_frameset_pool **p)
{
	if (!p || !*p)
		return;
	set_pool_drop(*p);
	*p = NULL;
}
