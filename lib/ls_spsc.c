#include "ls_spsc.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

struct ls_spsc {
	_Alignas(64) atomic_uint head; /* written by the producer */
	_Alignas(64) atomic_uint tail; /* written by the consumer */
	_Alignas(64) unsigned mask;
	void **items;
};

struct ls_spsc *ls_spsc_new(unsigned capacity)
{
	unsigned cap = 2;
	while (cap < capacity && cap < (1u << 30))
		cap <<= 1;
	struct ls_spsc *r = aligned_alloc(64, sizeof *r);
	if (!r)
		return NULL;
	r->items = calloc(cap, sizeof *r->items);
	if (!r->items) {
		free(r);
		errno = ENOMEM;
		return NULL;
	}
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	r->mask = cap - 1;
	return r;
}

void ls_spsc_free(struct ls_spsc **r)
{
	if (!r || !*r)
		return;
	free((*r)->items);
	free(*r);
	*r = NULL;
}

bool ls_spsc_push(struct ls_spsc *r, void *item)
{
	unsigned h = atomic_load_explicit(&r->head, memory_order_relaxed);
	unsigned t = atomic_load_explicit(&r->tail, memory_order_acquire);
	if (h - t > r->mask)
		return false;
	r->items[h & r->mask] = item;
	atomic_store_explicit(&r->head, h + 1, memory_order_release);
	return true;
}

void *ls_spsc_pop(struct ls_spsc *r)
{
	unsigned t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	unsigned h = atomic_load_explicit(&r->head, memory_order_acquire);
	if (h == t)
		return NULL;
	void *item = r->items[t & r->mask];
	atomic_store_explicit(&r->tail, t + 1, memory_order_release);
	return item;
}

void *ls_spsc_peek(struct ls_spsc *r)
{
	unsigned t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	unsigned h = atomic_load_explicit(&r->head, memory_order_acquire);
	return h == t ? NULL : r->items[t & r->mask];
}

unsigned ls_spsc_count(const struct ls_spsc *r)
{
	unsigned h = atomic_load_explicit(&((struct ls_spsc *)r)->head, memory_order_acquire);
	unsigned t = atomic_load_explicit(&((struct ls_spsc *)r)->tail, memory_order_acquire);
	return h - t;
}

unsigned ls_spsc_capacity(const struct ls_spsc *r) { return r->mask + 1; }
