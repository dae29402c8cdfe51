#include "ls_logq.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct ls_logq {
	int fd;
	char *what;
	pthread_t thread;
	pthread_mutex_t lock; /* protects everything below */
	pthread_cond_t wake;
	char **ring; /* capacity lines, oldest at head */
	unsigned capacity, head, count;
	bool stop;
	uint64_t dropped, failed;
};

/* Writes one line whole (retrying short writes). Writer thread. */
static int write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static void *writer(void *data)
{
	struct ls_logq *q = data;
	bool warned = false;
	pthread_mutex_lock(&q->lock);
	for (;;) {
		while (!q->count && !q->stop)
			pthread_cond_wait(&q->wake, &q->lock);
		if (!q->count)
			break; /* stopping, and everything is written */
		char *line = q->ring[q->head];
		q->head = (q->head + 1) % q->capacity;
		q->count--;
		pthread_mutex_unlock(&q->lock);
		int rc = write_all(q->fd, line, strlen(line));
		free(line);
		pthread_mutex_lock(&q->lock);
		if (rc < 0) {
			q->failed++;
			if (!warned) /* an audit log that cannot be written is not silently dropped */
				fprintf(stderr, "%s: %s\n", q->what, strerror(-rc));
			warned = true;
		}
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

struct ls_logq *ls_logq_new(int fd, unsigned capacity, const char *what)
{
	struct ls_logq *q = calloc(1, sizeof *q);
	if (!q || !capacity) {
		free(q);
		close(fd);
		errno = capacity ? ENOMEM : EINVAL;
		return NULL;
	}
	q->fd = fd;
	q->capacity = capacity;
	q->ring = calloc(capacity, sizeof *q->ring);
	q->what = strdup(what ? what : "log");
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->wake, NULL);
	if (!q->ring || !q->what || pthread_create(&q->thread, NULL, writer, q) != 0) {
		pthread_mutex_destroy(&q->lock);
		pthread_cond_destroy(&q->wake);
		free(q->ring);
		free(q->what);
		free(q);
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	return q;
}

int ls_logq_push(struct ls_logq *q, char *line)
{
	pthread_mutex_lock(&q->lock);
	if (q->count == q->capacity || q->stop) {
		q->dropped++;
		pthread_mutex_unlock(&q->lock);
		free(line);
		return -EAGAIN;
	}
	q->ring[(q->head + q->count) % q->capacity] = line;
	q->count++;
	pthread_cond_signal(&q->wake);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

uint64_t ls_logq_dropped(struct ls_logq *q)
{
	pthread_mutex_lock(&q->lock);
	uint64_t n = q->dropped;
	pthread_mutex_unlock(&q->lock);
	return n;
}

uint64_t ls_logq_failed(struct ls_logq *q)
{
	pthread_mutex_lock(&q->lock);
	uint64_t n = q->failed;
	pthread_mutex_unlock(&q->lock);
	return n;
}

void ls_logq_free(struct ls_logq **pq)
{
	if (!pq || !*pq)
		return;
	struct ls_logq *q = *pq;
	*pq = NULL;
	pthread_mutex_lock(&q->lock);
	q->stop = true;
	pthread_cond_signal(&q->wake);
	pthread_mutex_unlock(&q->lock);
	pthread_join(q->thread, NULL);
	for (unsigned i = 0; i < q->count; i++)
		free(q->ring[(q->head + i) % q->capacity]);
	close(q->fd);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->wake);
	free(q->ring);
	free(q->what);
	free(q);
}
