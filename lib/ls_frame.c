#include "ls_frame.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The pool is an array with one "in use" flag per frame. Only the producer
 * thread acquires, so a scan from a moving hint needs no CAS; any thread may
 * release by clearing the flag with release ordering, which publishes the
 * frame's cleanup to the next acquire. The pool's own refcount is 1 for the
 * owner plus one per outstanding frame. */
struct ls_frame_pool {
	atomic_uint refs;
	atomic_uint in_use;
	unsigned capacity;
	unsigned hint;      /* producer only */
	atomic_uchar *used; /* capacity flags */
	struct ls_frame *frames;
	size_t priv_size;
	unsigned char *priv; /* capacity * priv_size */
};

static void pool_drop(struct ls_frame_pool *p)
{
	if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1) {
		free(p->used);
		free(p->frames);
		free(p->priv);
		free(p);
	}
}

struct ls_frame_pool *ls_frame_pool_new(unsigned capacity) { return ls_frame_pool_new_priv(capacity, 0); }

struct ls_frame_pool *ls_frame_pool_new_priv(unsigned capacity, size_t priv_size)
{
	if (capacity == 0) {
		errno = EINVAL;
		return NULL;
	}
	struct ls_frame_pool *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->frames = calloc(capacity, sizeof *p->frames);
	p->used = calloc(capacity, sizeof *p->used);
	p->priv_size = (priv_size + 15) & ~(size_t)15;
	p->priv = p->priv_size ? calloc(capacity, p->priv_size) : NULL;
	if (!p->frames || !p->used || (p->priv_size && !p->priv)) {
		free(p->frames);
		free(p->used);
		free(p->priv);
		free(p);
		errno = ENOMEM;
		return NULL;
	}
	p->capacity = capacity;
	atomic_init(&p->refs, 1);
	atomic_init(&p->in_use, 0);
	return p;
}

void ls_frame_pool_unref(struct ls_frame_pool **pool)
{
	if (!pool || !*pool)
		return;
	pool_drop(*pool);
	*pool = NULL;
}

struct ls_frame *ls_frame_pool_acquire(struct ls_frame_pool *p)
{
	for (unsigned k = 0; k < p->capacity; k++) {
		unsigned i = (p->hint + k) % p->capacity;
		if (atomic_load_explicit(&p->used[i], memory_order_acquire) == 0) {
			atomic_store_explicit(&p->used[i], 1, memory_order_relaxed);
			p->hint = (i + 1) % p->capacity;
			struct ls_frame *f = &p->frames[i];
			memset(f, 0, sizeof *f);
			atomic_init(&f->refcount, 1);
			f->pool = p;
			f->priv = p->priv ? p->priv + (size_t)i * p->priv_size : NULL;
			atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
			atomic_fetch_add_explicit(&p->in_use, 1, memory_order_relaxed);
			return f;
		}
	}
	errno = EAGAIN;
	return NULL;
}

unsigned ls_frame_pool_in_use(const struct ls_frame_pool *p)
{
	return atomic_load_explicit(&((struct ls_frame_pool *)p)->in_use, memory_order_relaxed);
}

void ls_frame_unref(struct ls_frame **fp)
{
	if (!fp || !*fp)
		return;
	struct ls_frame *f = *fp;
	*fp = NULL;
	if (atomic_fetch_sub_explicit(&f->refcount, 1, memory_order_acq_rel) != 1)
		return;
	if (f->release)
		f->release(f->opaque);
	struct ls_frame_pool *p = f->pool;
	if (!p) {
		free(f); /* a frame made outside any pool (tests, tools) */
		return;
	}
	unsigned idx = (unsigned)(f - p->frames);
	atomic_fetch_sub_explicit(&p->in_use, 1, memory_order_relaxed);
	atomic_store_explicit(&p->used[idx], 0, memory_order_release);
	pool_drop(p);
}

size_t ls_pixfmt_size(enum ls_pixfmt fmt, int w, int h)
{
	size_t cw = (size_t)(w + 1) / 2, ch = (size_t)(h + 1) / 2;
	switch (fmt) {
	case LS_FMT_I420:
		return (size_t)w * h + 2 * cw * ch;
	case LS_FMT_NV12:
		return (size_t)w * h + 2 * cw * ch;
	case LS_FMT_GRAY8:
		return (size_t)w * h;
	case LS_FMT_BGRX:
	case LS_FMT_RGBA:
		return (size_t)w * h * 4;
	default:
		return 0;
	}
}

int ls_frame_set_packed(struct ls_frame *f, enum ls_pixfmt fmt, int w, int h, uint8_t *data)
{
	int cw = (w + 1) / 2, ch = (h + 1) / 2;
	f->format = fmt;
	f->width = w;
	f->height = h;
	switch (fmt) {
	case LS_FMT_I420:
		f->nplanes = 3;
		f->planes[0] = data;
		f->strides[0] = w;
		f->planes[1] = data + (size_t)w * h;
		f->strides[1] = cw;
		f->planes[2] = f->planes[1] + (size_t)cw * ch;
		f->strides[2] = cw;
		return 0;
	case LS_FMT_NV12:
		f->nplanes = 2;
		f->planes[0] = data;
		f->strides[0] = w;
		f->planes[1] = data + (size_t)w * h;
		f->strides[1] = 2 * cw;
		return 0;
	case LS_FMT_GRAY8:
		f->nplanes = 1;
		f->planes[0] = data;
		f->strides[0] = w;
		return 0;
	case LS_FMT_BGRX:
	case LS_FMT_RGBA:
		f->nplanes = 1;
		f->planes[0] = data;
		f->strides[0] = w * 4;
		return 0;
	default:
		return -EINVAL;
	}
}

const char *ls_pixfmt_name(enum ls_pixfmt fmt)
{
	switch (fmt) {
	case LS_FMT_I420:
		return "I420";
	case LS_FMT_NV12:
		return "NV12";
	case LS_FMT_GRAY8:
		return "GRAY8";
	case LS_FMT_BGRX:
		return "BGRx";
	case LS_FMT_RGBA:
		return "RGBA";
	default:
		return "unknown";
	}
}
