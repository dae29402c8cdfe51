/* shm_bench — the harness shared by the frameset hand-off benchmarks
 * (bench-shm: lockstep's shared memory, bench-gstshm: GStreamer
 * shmsink/shmsrc, bench-zmq: ZeroMQ ipc://). A method supplies a writer
 * (open, publish one set, close) and a reader loop; the harness does the
 * rest the same way for all three: options, the two processes and their
 * handshake, the writer's pacing, the measurement window, the reader's
 * latency record and the one-line result.
 *
 * One run is two processes, forked before any library is initialised
 * (GStreamer and libzmq start threads, which a fork would not copy): the
 * parent writes, the child reads. They share one anonymous MAP_SHARED
 * control block for the handshake and the results, never frame data.
 *
 * Latency of a set = the reader's CLOCK_MONOTONIC right after its wait
 * returned the whole set, minus the writer's CLOCK_MONOTONIC at publish
 * (CLOCK_MONOTONIC is one clock for all processes of a host). Only sets
 * published inside the window [warm-up end, warm-up end + seconds) count.
 *
 * Frame content, the same for every method: --cams cameras of W x H I420.
 * The first row of every plane holds
 *   bytes 0..7   (camera 0's Y plane only) the publish CLOCK_MONOTONIC ns,
 *                for transports without a header of their own
 *   bytes 8..15  the set number, little-endian; the reader checks all planes
 *   the rest     the byte (set & 0xff)
 * --touch row (the default) writes only these first rows, so the figures
 * measure the hand-off and not the rendering; --touch full writes every byte
 * of every plane, as a producer that renders whole frames would.
 *
 * Threads: the writer calls come from the parent's main thread; a method's
 * reader may record from one other thread (its streaming thread), never from
 * two at once. */
#ifndef SHM_BENCH_H
#define SHM_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SB_MAX_CAMS 16
#define SB_PLANES 3 /* I420: Y, U, V */

struct sb_opts {
	double rate_hz;  /**< sets per second; 0: as fast as the writer can publish */
	double seconds;  /**< measured window */
	double warmup_s; /**< published and delivered but not measured (page faults, connection) */
	unsigned cams;   /**< cameras per set */
	unsigned width, height;
	unsigned depth; /**< sets in flight: lockstep slots, shmsink area, zmq HWM send + receive */
	bool full;      /**< --touch full: the writer writes every byte of every plane */
	bool spin;      /**< lockstep only: the reader polls instead of sleeping on the futex */
	bool shm_alloc; /**< gstshm only: buffers from shmsink's own allocator (no copy) */
	bool floor;     /**< bench-shm only: a bare futex wake-up instead of lockstep (the platform's floor) */
	char name[64];  /**< segment / socket / endpoint name, unique per run */
};

/** Plane geometry of one I420 frame, planes packed without padding. */
struct sb_geom {
	size_t width[SB_PLANES], rows[SB_PLANES], offset[SB_PLANES];
	size_t frame_bytes; /**< one camera: 3,110,400 for 1920x1080 */
	size_t set_bytes;   /**< all cameras */
};

/** Opaque: the reader process's record of one run. */
struct sb_reader;

struct sb_method {
	const char *name; /**< first word of the result line */
	/** Creates what the reader attaches to. 0 or -errno with a reason in @err. */
	int (*writer_open)(const struct sb_opts *o, void **w, char *err, size_t errlen);
	/** Renders set number @set (per o->full) and publishes it. May block
	 *  while the transport applies back-pressure. 0 or -errno. */
	int (*writer_publish)(void *w, uint64_t set);
	/** Ends the stream so that the reader stops, frees *w, sets it to NULL,
	 *  and may leave "key=value ..." for the result line in @note. */
	void (*writer_close)(void **w, char *note, size_t notelen);
	/** Attaches, calls sb_reader_ready(), then records every set until
	 *  sb_reader_done() or the end of the stream. 0 or -errno with @err. */
	int (*reader_run)(const struct sb_opts *o, struct sb_reader *rd, char *err, size_t errlen);
};

/** Parses the options, runs the method once, prints one result line.
 *  Returns the process exit status. */
int sb_main(int argc, char **argv, const struct sb_method *m);

/* ---- helpers for the methods -------------------------------------------- */

int64_t sb_now_ns(void); /**< CLOCK_MONOTONIC */
void sb_geom_get(const struct sb_opts *o, struct sb_geom *g);
void sb_put_u64(uint8_t *p, uint64_t v); /**< little-endian, byte stores (no memcpy) */
uint64_t sb_get_u64(const uint8_t *p);
/** Writes set @set into a plane of @width x @rows bytes per o->full (see above). */
void sb_render_plane(const struct sb_opts *o, uint8_t *p, size_t stride, size_t width, size_t rows, uint64_t set);
/** Does the plane carry set @set? */
static inline bool sb_plane_is(const uint8_t *p, uint64_t set) { return sb_get_u64(p + 8) == set; }

enum sb_verdict {
	SB_INTACT = 0, /**< all planes carry the set number and the transport vouches for them */
	SB_TORN = 1,   /**< the transport says the set was overwritten while read (lockstep's seqlock) */
	SB_BAD = 2,    /**< the transport vouched for it but a plane carries another set number */
};

/** The reader is attached: the writer may start. */
void sb_reader_ready(struct sb_reader *rd);
/** The writer has finished (or the run is long past its end). */
bool sb_reader_done(const struct sb_reader *rd);
/** Records one set: @pub_ns the writer's publish time, @wake_ns the
 *  reader's time when its wait returned the set. */
void sb_reader_record(struct sb_reader *rd, uint64_t set, int64_t pub_ns, int64_t wake_ns, enum sb_verdict v);
/** Adds "key=value ..." from the reader to the result line. */
void sb_reader_note(struct sb_reader *rd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
