/* lockstep_shm — read lockstep framesets from POSIX shared memory.
 *
 * A lockstep rig with `[output shm] name=NAME` publishes every frameset in
 * the segment /dev/shm/NAME. This reader attaches by name (no daemon), waits
 * for sets on a futex (no polling) and hands out pointers into the segment:
 * frame data is never copied. It never writes the segment's frame data and
 * never unlinks it: a reader's exit cannot harm the writer or other readers.
 *
 * Depends on libc only. Thread-safety: one reader object per thread.
 *
 * Wire format (version LSHM_VERSION): the structs below, little-endian,
 * naturally aligned, locked by size/offset assertions in the tests.
 *
 *   [struct lshm_header][struct lshm_cam_info x ncams] ... slots_offset:
 *   slot 0: [struct lshm_slot][struct lshm_slot_cam x ncams] ... data_offset:
 *           camera 0 planes, camera 1 planes, ...   (each page-aligned)
 *   slot 1 ... slot nslots-1, each slot_size bytes.
 *
 * Set number s (0, 1, 2, ...) lives in slot s % nslots. Each slot carries a
 * seqlock: `seq` is odd while the writer rewrites it, and changes on every
 * rewrite; a reader that saw the same even `seq` before and after using the
 * data read a set that was never torn. */
#ifndef LOCKSTEP_SHM_H
#define LOCKSTEP_SHM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LSHM_MAGIC UINT64_C(0x314d48535453434c) /* "LCSTSHM1" */
#define LSHM_VERSION 1u
#define LSHM_NAME_MAX 32 /* camera names, bytes with the NUL */
#define LSHM_MAX_PLANES 4
#define LSHM_ALIGN 4096 /* slots and planes start on page boundaries */

/* Pixel formats, the same numbers as lockstep's ls_pixfmt. */
enum lshm_format {
	LSHM_FMT_UNKNOWN = 0,
	LSHM_FMT_I420 = 1,
	LSHM_FMT_NV12 = 2,
	LSHM_FMT_GRAY8 = 3,
	LSHM_FMT_BGRX = 4,
	LSHM_FMT_RGBA = 5,
};

enum lshm_state {
	LSHM_MISSING = 0, /* no frame for this camera in this set */
	LSHM_PRESENT = 1,
	LSHM_HELD = 2, /* an older frame repeated (`hold` policy) */
};

struct lshm_plane {
	uint32_t offset; /* bytes from the camera's data start */
	uint32_t stride; /* bytes per row */
	uint32_t rows;
	uint32_t reserved;
};

/* One camera's format, fixed for the life of a segment (a writer whose
 * camera changes format starts a new segment generation). 128 bytes. */
struct lshm_cam_info {
	char name[LSHM_NAME_MAX];
	uint32_t format; /* enum lshm_format */
	uint32_t width, height;
	uint32_t nplanes;
	struct lshm_plane planes[LSHM_MAX_PLANES];
	uint64_t data_offset; /* from the start of a slot */
	uint64_t data_size;   /* bytes reserved for this camera in each slot */
};

/* The segment header. 256 bytes, then ncams struct lshm_cam_info. */
struct lshm_header {
	uint64_t magic;            /* LSHM_MAGIC */
	uint32_t version;          /* LSHM_VERSION */
	uint32_t header_size;      /* sizeof(struct lshm_header) */
	uint32_t cam_info_size;    /* sizeof(struct lshm_cam_info) */
	uint32_t slot_header_size; /* sizeof(struct lshm_slot) */
	uint32_t slot_cam_size;    /* sizeof(struct lshm_slot_cam) */
	uint32_t nslots;
	uint32_t ncams;
	uint32_t reserved0;
	uint64_t slot_size;    /* bytes, multiple of LSHM_ALIGN */
	uint64_t slots_offset; /* bytes from the segment start */
	uint64_t total_size;   /* bytes of the whole segment */
	int32_t writer_pid;
	int32_t rate_num, rate_den; /* the rig's slot rate */
	uint32_t reserved1;
	int64_t epoch_ns;              /* the rig's epoch, CLOCK_REALTIME ns */
	uint64_t generation;           /* random, new for every segment a writer creates */
	_Atomic uint64_t heartbeat_ns; /* writer's CLOCK_MONOTONIC, at least every 250 ms */
	_Atomic uint64_t published;    /* sets published so far (next set number) */
	_Atomic uint32_t futex;        /* low 32 bits of `published`; readers wait on it */
	_Atomic uint32_t waiters;      /* readers inside FUTEX_WAIT (a hint) */
	_Atomic uint32_t closed;       /* 1: the writer closed the segment cleanly */
	uint8_t reserved2[132];
};

/* Per camera, per slot. 32 bytes. */
struct lshm_slot_cam {
	uint32_t state; /* enum lshm_state */
	uint32_t reserved;
	int64_t capture_ns; /* CLOCK_REALTIME ns; 0 when missing */
	int64_t offset_ns;  /* present: distance from the slot centre; held: age */
	uint64_t checksum;  /* FNV-1a 64 of the planes when the writer was asked to, else 0 */
};

/* A slot header. 64 bytes, then ncams struct lshm_slot_cam. */
struct lshm_slot {
	_Atomic uint64_t seq; /* seqlock: odd while being written */
	uint64_t set;         /* the set number held */
	int64_t n;            /* slot index */
	int64_t slot_ns;      /* epoch + n*T */
	int64_t skew_ns;
	int64_t publish_mono_ns; /* writer's CLOCK_MONOTONIC at publish */
	uint32_t ncams, npresent;
	uint32_t reserved[2];
};

/* ---- the reader ------------------------------------------------------------ */

enum lsr_result {
	LSR_OK = 0,
	LSR_TIMEOUT = 1,     /* no new set within the timeout */
	LSR_OVERRUN = 2,     /* the reader fell behind: set->skipped sets were lost */
	LSR_WRITER_GONE = 3, /* heartbeat stale (> 1 s) or writer process dead */
	LSR_REATTACHED = 4,  /* a new writer (generation) took over the name */
	LSR_TORN = 5,        /* lsr_release: the set was overwritten while in use */
	LSR_ERROR = -1,      /* see lsr_error() */
};

struct lsr_frame {
	const char *camera;
	enum lshm_state state;
	enum lshm_format format;
	int width, height, nplanes;
	const uint8_t *planes[LSHM_MAX_PLANES]; /* into the segment: read-only */
	int strides[LSHM_MAX_PLANES];
	int rows[LSHM_MAX_PLANES];
	int64_t capture_ns, offset_ns;
	uint64_t checksum;
};

typedef struct lsr_frameset {
	uint64_t set; /* set number */
	int64_t n;    /* slot index */
	int64_t slot_ns, skew_ns, publish_mono_ns;
	unsigned ncams, npresent;
	uint64_t skipped;         /* with LSR_OVERRUN: how many sets were lost */
	struct lsr_frame *frames; /* ncams */
	/* private */
	uint64_t seq_;
	unsigned slot_;
} lsr_frameset;

typedef struct lsr_reader lsr_reader;

/* Attaches to segment NAME (as given to lockstep: "rig", not "/rig").
 * Returns 0, or -errno with a one-line reason in err (if not NULL):
 * -ENOENT no such segment, -EPROTO wrong magic/version/layout,
 * -EINVAL bad name, -EACCES no permission. */
int lsr_open(const char *name, lsr_reader **out, char *err, size_t errlen);
void lsr_close(lsr_reader **r);

/* Waits up to timeout_ms (-1: forever) for the next set and fills *set with
 * views into the segment. The reader starts at the newest set. On
 * LSR_OVERRUN (the reader fell more than nslots-1 sets behind),
 * set->skipped tells how many were lost and the next call returns the
 * newest set, so a reader slower than the writer still gets every set it
 * has time for. While the writer is gone, returns
 * LSR_WRITER_GONE (after at most 1 s) and keeps trying to reattach by name;
 * on success returns LSR_REATTACHED once. */
int lsr_next(lsr_reader *r, int timeout_ms, lsr_frameset *set);
/* Ends the use of *set: LSR_OK if it was never overwritten while in use,
 * LSR_TORN otherwise (the data read may be mixed: discard results). */
int lsr_release(lsr_reader *r, lsr_frameset *set);
/* Checks, without ending the use, that *set is still intact. */
int lsr_check(lsr_reader *r, const lsr_frameset *set);

const struct lshm_header *lsr_header(const lsr_reader *r);
const char *lsr_error(const lsr_reader *r);
/* FNV-1a 64 over a frame's planes (rows x stride bytes of each, row padding
 * included: the writer keeps it zero), the
 * checksum the writer stores when asked to. */
uint64_t lsr_frame_checksum(const struct lsr_frame *f);
/* The same over raw planes: FNV-1a 64 of rows[p] x strides[p] bytes of each
 * of nplanes planes. The writer uses it to store the checksum. */
uint64_t lshm_checksum(const uint8_t *const planes[], const int strides[], const int rows[], int nplanes);
/* Checks a segment name (as given to lockstep, without '/'): 1-200 of
 * [A-Za-z0-9_.-], not starting with '.'. Returns 0 or -EINVAL with a
 * one-line reason in err (if not NULL). Writer and readers share this rule. */
int lshm_name_check(const char *name, char *err, size_t errlen);
const char *lsr_result_name(int result);

#ifdef __cplusplus
}
#endif
#endif
