#include "ls_setq.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct ls_setq {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* signalled on push and close */
	unsigned depth;
	unsigned head, count;       /* protected by lock */
	bool closed;                /* protected by lock */
	uint64_t dropped;           /* protected by lock */
	struct ls_frameset **items; /* protected by lock; depth entries */
};

struct ls_setq *ls_setq_new(unsigned depth)
{
	if (depth == 0) {
		errno = EINVAL;
		return NULL;
	}
	struct ls_setq *q = calloc(1, sizeof *q);
	if (!q)
		return NULL;
	q->items = calloc(depth, sizeof *q->items);
	if (!q->items) {
		free(q);
		return NULL;
	}
	q->depth = depth;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&q->lock, NULL);
	return q;
}

void ls_setq_free(struct ls_setq **qp)
{
	if (!qp || !*qp)
		return;
	struct ls_setq *q = *qp;
	*qp = NULL;
	while (q->count) {
		ls_frameset_unref(&q->items[q->head]);
		q->head = (q->head + 1) % q->depth;
		q->count--;
	}
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->lock);
	free(q->items);
	free(q);
}

int ls_setq_push(struct ls_setq *q, struct ls_frameset *set)
{
	struct ls_frameset *victim = NULL;
	pthread_mutex_lock(&q->lock);
	if (q->count == q->depth) {
		victim = q->items[q->head];
		q->items[q->head] = NULL;
		q->head = (q->head + 1) % q->depth;
		q->count--;
		q->dropped++;
	}
	q->items[(q->head + q->count) % q->depth] = set;
	q->count++;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
	int dropped = victim != NULL;
	ls_frameset_unref(&victim); /* outside the lock: may run release callbacks */
	return dropped;
}

struct ls_frameset *ls_setq_pop(struct ls_setq *q, int64_t until)
{
	struct ls_frameset *s = NULL;
	struct timespec ts = { .tv_sec = until / 1000000000, .tv_nsec = until % 1000000000 };
	pthread_mutex_lock(&q->lock);
	while (q->count == 0 && !q->closed) {
		int rc = until == INT64_MAX ? pthread_cond_wait(&q->cond, &q->lock)
					    : pthread_cond_timedwait(&q->cond, &q->lock, &ts);
		if (rc == ETIMEDOUT)
			break;
	}
	if (q->count) {
		s = q->items[q->head];
		q->items[q->head] = NULL;
		q->head = (q->head + 1) % q->depth;
		q->count--;
	}
	pthread_mutex_unlock(&q->lock);
	return s;
}

void ls_setq_close(struct ls_setq *q)
{
	pthread_mutex_lock(&q->lock);
	q->closed = true;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

bool ls_setq_closed(struct ls_setq *q)
{
	pthread_mutex_lock(&q->lock);
	bool c = q->closed;
	pthread_mutex_unlock(&q->lock);
	return c;
}

uint64_t ls_setq_dropped(struct ls_setq *q)
{
	pthread_mutex_lock(&q->lock);
	uint64_t d = q->dropped;
	pthread_mutex_unlock(&q->lock);
	return d;
}

unsigned ls_setq_count(struct ls_setq *q)
{
	pthread_mutex_lock(&q->lock);
	unsigned c = q->count;
	pthread_mutex_unlock(&q->lock);
	return c;
}
