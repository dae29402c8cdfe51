/* ls_frame — reference-counted video frames from a preallocated pool.
 *
 * A frame describes pixels that live elsewhere (for GStreamer sources, a
 * mapped GstBuffer): lockstep never copies pixels on the hot path. The pixel
 * owner is released through release(opaque) when the last reference goes.
 *
 * struct ls_frame is public, like FFmpeg's AVFrame, because every stage reads
 * its planes; only the pool is opaque. Fields other than refcount are written
 * by the producer before the frame is first shared and are read-only after.
 *
 * Threads: ls_frame_pool_acquire() is called from one producer thread per pool
 * (a camera's streaming thread). ls_frame_ref()/ls_frame_unref() are safe from
 * any thread. The pool itself is freed when its owner has called
 * ls_frame_pool_unref() and the last outstanding frame has come back. */
#ifndef LS_FRAME_H
#define LS_FRAME_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ls_pixfmt {
	LS_FMT_UNKNOWN = 0,
	LS_FMT_I420, /**< 3 planes, chroma halved both ways */
	LS_FMT_NV12, /**< 2 planes, interleaved UV halved both ways */
	LS_FMT_GRAY8,
	LS_FMT_BGRX, /**< 4 bytes per pixel, packed */
	LS_FMT_RGBA,
};

#define LS_MAX_PLANES 4

struct ls_frame_pool;

struct ls_frame {
	atomic_int refcount;
	uint16_t cam;       /**< camera index in the rig */
	uint64_t seq;       /**< per-camera sequence, counts every frame the source made */
	int64_t capture_ns; /**< capture time on the shared clock (CLOCK_REALTIME ns) */
	int64_t arrival_ns; /**< when lockstep received it (CLOCK_REALTIME ns) */
	int64_t stream_ns;  /**< the buffer's own timestamp in its stream (a file's PTS), -1 unknown */
	bool unsynced;      /**< captured while the rig's clock was not synchronised ([clock]) */
	enum ls_pixfmt format;
	int width, height;
	int nplanes;
	uint8_t *planes[LS_MAX_PLANES];
	int strides[LS_MAX_PLANES]; /**< bytes per row */
	/** Releases the pixel owner; called once, from whichever thread drops the
	 *  last reference. May be NULL. */
	void (*release)(void *opaque);
	void *opaque;
	/** Producer's per-frame scratch of priv_size bytes (see
	 *  ls_frame_pool_new_priv), preallocated; valid until release runs. */
	void *priv;
	struct ls_frame_pool *pool; /* private */
};

/** A pool of @capacity frames. Returns NULL with errno set on failure. */
struct ls_frame_pool *ls_frame_pool_new(unsigned capacity);
/** The same, each frame with @priv_size bytes of producer scratch in ->priv
 *  (e.g. the mapped GstVideoFrame behind the planes). */
struct ls_frame_pool *ls_frame_pool_new_priv(unsigned capacity, size_t priv_size);
/** Drops the owner's reference; the pool goes when its frames are back.
 *  Sets *pool to NULL. */
void ls_frame_pool_unref(struct ls_frame_pool **pool);
/** A cleared frame with refcount 1, owned by the caller, or NULL with errno
 *  EAGAIN when every frame is in use. Producer thread only. Never allocates. */
struct ls_frame *ls_frame_pool_acquire(struct ls_frame_pool *pool);
/** Frames currently out of the pool (for tests and stats). */
unsigned ls_frame_pool_in_use(const struct ls_frame_pool *pool);

/** Adds a reference; returns @f. */
static inline struct ls_frame *ls_frame_ref(struct ls_frame *f)
{
	atomic_fetch_add_explicit(&f->refcount, 1, memory_order_relaxed);
	return f;
}
/** Drops a reference and sets *f to NULL; the last one releases the pixels
 *  and returns the frame to its pool. NULL-safe. */
void ls_frame_unref(struct ls_frame **f);

/** Size in bytes of the pixel planes of a tightly packed frame. */
size_t ls_pixfmt_size(enum ls_pixfmt fmt, int width, int height);
/** Fills planes/strides of @f for a tightly packed buffer at @data. */
int ls_frame_set_packed(struct ls_frame *f, enum ls_pixfmt fmt, int width, int height, uint8_t *data);
const char *ls_pixfmt_name(enum ls_pixfmt fmt);

#endif
