/* ls_spsc — bounded single-producer single-consumer ring of pointers.
 *
 * The producer is one camera's streaming thread; the consumer is the aligner
 * thread. Lock-free: the producer owns `head`, the consumer owns `tail`, and
 * each publishes with release / reads the other with acquire. Never blocks,
 * never allocates after creation. */
#ifndef LS_SPSC_H
#define LS_SPSC_H

#include <stdbool.h>

struct ls_spsc;

/** @capacity is rounded up to a power of two (>= 2). NULL + errno on failure. */
struct ls_spsc *ls_spsc_new(unsigned capacity);
/** Frees the ring (not the items). Sets *r to NULL. */
void ls_spsc_free(struct ls_spsc **r);
/** Producer only. false when full (the item stays the caller's). */
bool ls_spsc_push(struct ls_spsc *r, void *item);
/** Consumer only. NULL when empty. */
void *ls_spsc_pop(struct ls_spsc *r);
/** Consumer only. The oldest item without removing it, or NULL. */
void *ls_spsc_peek(struct ls_spsc *r);
/** Items in the ring (approximate from a third thread). */
unsigned ls_spsc_count(const struct ls_spsc *r);
unsigned ls_spsc_capacity(const struct ls_spsc *r);

#endif
