#include "lockstep_shm.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

_Static_assert(sizeof(struct lshm_header) == 256, "lshm_header layout");
_Static_assert(sizeof(struct lshm_cam_info) == 128, "lshm_cam_info layout");
_Static_assert(sizeof(struct lshm_slot) == 64, "lshm_slot layout");
_Static_assert(sizeof(struct lshm_slot_cam) == 32, "lshm_slot_cam layout");

#define GONE_NS INT64_C(1000000000) /* heartbeat older than this: writer gone */
#define RO_POLL_NS INT64_C(1000000) /* a read-only reader cannot be woken: polls every 1 ms (writer alive) */

struct lsr_reader {
	char name[256]; /* "/NAME" */
	int fd;
	uint8_t *base;
	size_t size;
	int writable; /* mapped PROT_WRITE: may register in `waiters` */
	const struct lshm_header *h;
	const struct lshm_cam_info *cams;
	uint64_t generation;
	dev_t dev;
	ino_t ino;
	uint64_t next;            /* next set number to deliver */
	int gone;                 /* reported LSR_WRITER_GONE, reattach pending */
	struct lsr_frame *frames; /* ncams, handed out in lsr_frameset */
	char err[256];
};

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int fail(char *err, size_t len, int rc, const char *fmt, ...)
{
	if (err && len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return rc;
}

int lshm_name_check(const char *name, char *err, size_t len)
{
	size_t n = name ? strlen(name) : 0;
	int ok = n >= 1 && n <= 200 && name[0] != '.';
	for (size_t i = 0; ok && i < n; i++) {
		char c = name[i];
		ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		     c == '-' || c == '.';
	}
	if (!ok)
		return fail(err, len, -EINVAL, "shm name \"%s\": use 1-200 of [A-Za-z0-9_.-], not starting with '.'",
			    name ? name : "");
	return 0;
}

static void unmap(struct lsr_reader *r)
{
	if (r->base)
		munmap(r->base, r->size);
	if (r->fd >= 0)
		close(r->fd);
	free(r->frames);
	r->base = NULL;
	r->fd = -1;
	r->frames = NULL;
	r->h = NULL;
}

/* Maps the segment and checks that its layout is one this reader knows. */
static int attach(struct lsr_reader *r, char *err, size_t len)
{
	int fd = shm_open(r->name, O_RDWR, 0); /* RDWR: readers take part in the futex */
	if (fd < 0 && errno == EACCES)
		fd = shm_open(r->name, O_RDONLY, 0);
	if (fd < 0)
		return fail(err, len, -errno, "shm %s: %s", r->name + 1,
			    errno == ENOENT ? "no such segment (is the writer running?)" : strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || (size_t)st.st_size < sizeof(struct lshm_header)) {
		close(fd);
		return fail(err, len, -EPROTO, "shm %s: too small to be a lockstep segment", r->name + 1);
	}
	int prot = PROT_READ | PROT_WRITE;
	uint8_t *base = mmap(NULL, (size_t)st.st_size, prot, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED) {
		prot = PROT_READ;
		base = mmap(NULL, (size_t)st.st_size, prot, MAP_SHARED, fd, 0);
	}
	if (base == MAP_FAILED) {
		int e = errno;
		close(fd);
		return fail(err, len, -e, "shm %s: mmap: %s", r->name + 1, strerror(e));
	}
	const struct lshm_header *h = (const void *)base;
	const char *why = NULL;
	uint64_t magic = h->magic;
	/* pairs with the writer's release fence before it stores the magic last */
	atomic_thread_fence(memory_order_acquire);
	uint64_t total = (uint64_t)st.st_size;
	if (magic != LSHM_MAGIC)
		why = "not a lockstep segment (bad magic)";
	else if (h->version != LSHM_VERSION)
		why = "layout version differs";
	else if (h->header_size != sizeof(struct lshm_header) || h->cam_info_size != sizeof(struct lshm_cam_info) ||
		 h->slot_header_size != sizeof(struct lshm_slot) || h->slot_cam_size != sizeof(struct lshm_slot_cam))
		why = "struct sizes differ from this reader's";
	/* every bound checked without overflow: the reader trusts nothing it
	 * would later index with */
	else if (h->total_size != total || h->nslots == 0 || h->ncams == 0 || h->slot_size == 0 ||
		 h->slots_offset % LSHM_ALIGN || h->slot_size % LSHM_ALIGN || h->slots_offset > total ||
		 h->slot_size > (total - h->slots_offset) / h->nslots ||
		 sizeof(struct lshm_header) + (uint64_t)h->ncams * sizeof(struct lshm_cam_info) > h->slots_offset ||
		 sizeof(struct lshm_slot) + (uint64_t)h->ncams * sizeof(struct lshm_slot_cam) > h->slot_size)
		why = "inconsistent sizes";
	if (why) {
		unsigned v = h->version;
		munmap(base, (size_t)st.st_size);
		close(fd);
		return fail(err, len, -EPROTO, "shm %s: refused: %s (segment version %u, reader version %u)",
			    r->name + 1, why, v, LSHM_VERSION);
	}
	const struct lshm_cam_info *cams = (const void *)(base + sizeof *h);
	for (uint32_t c = 0; c < h->ncams; c++) {
		const struct lshm_cam_info *ci = &cams[c];
		int bad = !memchr(ci->name, 0, sizeof ci->name) || ci->nplanes > LSHM_MAX_PLANES ||
			  ci->width > INT_MAX || ci->height > INT_MAX || ci->data_offset > h->slot_size ||
			  ci->data_size > h->slot_size - ci->data_offset;
		for (uint32_t p = 0; !bad && p < ci->nplanes; p++) {
			const struct lshm_plane *pl = &ci->planes[p];
			bad = pl->stride > INT_MAX || pl->rows > INT_MAX || pl->offset > ci->data_size ||
			      (uint64_t)pl->stride * pl->rows > ci->data_size - pl->offset;
		}
		if (bad) {
			munmap(base, (size_t)st.st_size);
			close(fd);
			return fail(err, len, -EPROTO, "shm %s: refused: camera %u lies outside its slot", r->name + 1,
				    c);
		}
	}
	struct lsr_frame *frames = calloc(h->ncams, sizeof *frames);
	if (!frames) {
		munmap(base, (size_t)st.st_size);
		close(fd);
		return fail(err, len, -ENOMEM, "out of memory");
	}
	unmap(r);
	r->fd = fd;
	r->base = base;
	r->size = (size_t)st.st_size;
	r->writable = prot & PROT_WRITE;
	r->h = h;
	r->cams = cams;
	r->frames = frames;
	r->generation = h->generation;
	r->dev = st.st_dev;
	r->ino = st.st_ino;
	uint64_t pub = atomic_load_explicit(&((struct lshm_header *)h)->published, memory_order_acquire);
	r->next = pub ? pub - 1 : 0; /* start at the newest set */
	return 0;
}

int lsr_open(const char *name, lsr_reader **out, char *err, size_t len)
{
	*out = NULL;
	int rc = lshm_name_check(name, err, len);
	if (rc < 0)
		return rc;
	struct lsr_reader *r = calloc(1, sizeof *r);
	if (!r)
		return fail(err, len, -ENOMEM, "out of memory");
	r->fd = -1;
	snprintf(r->name, sizeof r->name, "/%s", name);
	rc = attach(r, err, len);
	if (rc < 0) {
		free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void lsr_close(lsr_reader **rp)
{
	if (!rp || !*rp)
		return;
	unmap(*rp);
	free(*rp);
	*rp = NULL;
}

static int writer_alive(const struct lsr_reader *r)
{
	const struct lshm_header *h = r->h;
	if (atomic_load_explicit(&((struct lshm_header *)h)->closed, memory_order_acquire))
		return 0;
	if (h->writer_pid > 0 && kill(h->writer_pid, 0) < 0 && errno == ESRCH)
		return 0;
	uint64_t hb = atomic_load_explicit(&((struct lshm_header *)h)->heartbeat_ns, memory_order_acquire);
	return mono_ns() - (int64_t)hb <= GONE_NS;
}

/* Is a different segment (new writer) under our name now? */
static int try_reattach(struct lsr_reader *r)
{
	struct stat st;
	int fd = shm_open(r->name, O_RDONLY, 0);
	if (fd < 0)
		return 0;
	int same = fstat(fd, &st) == 0 && st.st_dev == r->dev && st.st_ino == r->ino;
	close(fd);
	if (same)
		return 0;
	char e[256];
	if (attach(r, e, sizeof e) < 0) {
		snprintf(r->err, sizeof r->err, "%s", e);
		return 0;
	}
	return 1;
}

static void fill(struct lsr_reader *r, lsr_frameset *set, unsigned k, uint64_t seq)
{
	const struct lshm_header *h = r->h;
	const uint8_t *slotp = r->base + h->slots_offset + (uint64_t)k * h->slot_size;
	const struct lshm_slot *s = (const void *)slotp;
	const struct lshm_slot_cam *sc = (const void *)(slotp + sizeof *s);
	set->set = s->set;
	set->n = s->n;
	set->slot_ns = s->slot_ns;
	set->skew_ns = s->skew_ns;
	set->publish_mono_ns = s->publish_mono_ns;
	set->ncams = h->ncams;
	set->npresent = s->npresent;
	set->skipped = 0;
	set->frames = r->frames;
	set->seq_ = seq;
	set->slot_ = k;
	for (uint32_t c = 0; c < h->ncams; c++) {
		struct lsr_frame *f = &r->frames[c];
		const struct lshm_cam_info *ci = &r->cams[c];
		f->camera = ci->name;
		f->state = (enum lshm_state)sc[c].state;
		f->format = (enum lshm_format)ci->format;
		f->width = (int)ci->width;
		f->height = (int)ci->height;
		f->nplanes = (int)ci->nplanes;
		f->capture_ns = sc[c].capture_ns;
		f->offset_ns = sc[c].offset_ns;
		f->checksum = sc[c].checksum;
		for (int p = 0; p < LSHM_MAX_PLANES; p++) {
			int have = p < f->nplanes && f->state != LSHM_MISSING;
			f->planes[p] = have ? slotp + ci->data_offset + ci->planes[p].offset : NULL;
			f->strides[p] = have ? (int)ci->planes[p].stride : 0;
			f->rows[p] = have ? (int)ci->planes[p].rows : 0;
		}
	}
}

/* The seqlock read side: data loads before this cannot move after it. */
static uint64_t slot_seq(const struct lsr_reader *r, unsigned k)
{
	atomic_thread_fence(memory_order_acquire);
	const struct lshm_slot *s = (const void *)(r->base + r->h->slots_offset + (uint64_t)k * r->h->slot_size);
	return atomic_load_explicit(&((struct lshm_slot *)s)->seq, memory_order_acquire);
}

static uint64_t slot_set(const struct lsr_reader *r, unsigned k)
{
	const struct lshm_slot *s = (const void *)(r->base + r->h->slots_offset + (uint64_t)k * r->h->slot_size);
	return s->set;
}

int lsr_next(lsr_reader *r, int timeout_ms, lsr_frameset *set)
{
	int64_t until = timeout_ms < 0 ? INT64_MAX : mono_ns() + (int64_t)timeout_ms * 1000000;
	for (;;) {
		if (!r->h || r->generation != r->h->generation) {
			if (try_reattach(r)) {
				r->gone = 0;
				return LSR_REATTACHED;
			}
		}
		struct lshm_header *h = (struct lshm_header *)r->h;
		uint32_t fut = atomic_load_explicit(&h->futex, memory_order_acquire);
		uint64_t pub = atomic_load_explicit(&h->published, memory_order_acquire);
		if (r->next < pub) {
			if (pub - r->next > h->nslots - 1) {
				/* Sets were overwritten before we got to them. Resume at the
				 * newest: the oldest left is the next the writer rewrites,
				 * so a reader slower than the writer would lose every set
				 * to tearing; the newest is nslots-1 publishes from it. */
				set->skipped = pub - 1 - r->next;
				r->next = pub - 1;
				return LSR_OVERRUN;
			}
			unsigned k = (unsigned)(r->next % h->nslots);
			uint64_t s1 = slot_seq(r, k);
			if ((s1 & 1) || slot_set(r, k) != r->next)
				continue; /* rewritten since `published` was read: the overrun check above sees it */
			fill(r, set, k, s1);
			r->next++;
			r->gone = 0;              /* it publishes again (it had stalled): report its next death too */
			if (slot_seq(r, k) != s1) /* overwritten while we read the header */
				return LSR_TORN;
			return LSR_OK;
		}
		/* Nothing to read: has a new writer taken the name? (Only here:
		 * it costs three system calls, not worth paying per set.) */
		if (try_reattach(r)) {
			r->gone = 0;
			return LSR_REATTACHED;
		}
		if (!writer_alive(r)) {
			if (!r->gone) {
				r->gone = 1;
				snprintf(r->err, sizeof r->err, "shm %s: writer gone (pid %d)", r->name + 1,
					 h->writer_pid);
				return LSR_WRITER_GONE;
			}
			if (try_reattach(r)) {
				r->gone = 0;
				return LSR_REATTACHED;
			}
		}
		int64_t now = mono_ns();
		if (now >= until)
			return LSR_TIMEOUT;
		/* sleep at most 250 ms at a time to notice a dead process, and wake
		 * when the heartbeat turns stale so that a hung or unreaped writer is
		 * reported within GONE_NS of its last sign of life, not 250 ms later */
		int64_t wait = until - now;
		if (wait > 250000000)
			wait = 250000000;
		uint64_t hb = atomic_load_explicit(&h->heartbeat_ns, memory_order_acquire);
		if (!r->gone && hb < (uint64_t)now + (uint64_t)GONE_NS) {
			int64_t stale_in = (int64_t)hb + GONE_NS + 1000000 - now; /* 1 ms past the deadline */
			if (stale_in > 0 && stale_in < wait)
				wait = stale_in;
		}
		if (!r->writable && !r->gone && wait > RO_POLL_NS)
			wait = RO_POLL_NS;
		struct timespec ts = { .tv_sec = wait / 1000000000, .tv_nsec = wait % 1000000000 };
		if (r->writable) {
			atomic_fetch_add_explicit(&h->waiters, 1, memory_order_seq_cst);
			if (atomic_load_explicit(&h->published, memory_order_seq_cst) == pub)
				syscall(SYS_futex, &h->futex, FUTEX_WAIT, fut, &ts, NULL, 0);
			atomic_fetch_sub_explicit(&h->waiters, 1, memory_order_seq_cst);
		} else {
			/* a read-only mapping cannot count itself in `waiters` (the store
			 * would fault), so the writer never wakes it: poll */
			nanosleep(&ts, NULL);
		}
	}
}

int lsr_check(lsr_reader *r, const lsr_frameset *set)
{
	if (!r->h || set->slot_ >= r->h->nslots)
		return LSR_TORN;
	return slot_seq(r, set->slot_) == set->seq_ ? LSR_OK : LSR_TORN;
}

int lsr_release(lsr_reader *r, lsr_frameset *set)
{
	int rc = lsr_check(r, set);
	set->frames = NULL;
	return rc;
}

const struct lshm_header *lsr_header(const lsr_reader *r) { return r->h; }

const char *lsr_error(const lsr_reader *r) { return r->err; }

uint64_t lshm_checksum(const uint8_t *const planes[], const int strides[], const int rows[], int nplanes)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	for (int p = 0; p < nplanes; p++) {
		if (!planes[p])
			continue;
		/* whole rows, padding included: the writer keeps it zero */
		for (int y = 0; y < rows[p]; y++) {
			const uint8_t *row = planes[p] + (size_t)y * strides[p];
			for (int x = 0; x < strides[p]; x++) {
				h ^= row[x];
				h *= UINT64_C(0x100000001b3);
			}
		}
	}
	return h;
}

uint64_t lsr_frame_checksum(const struct lsr_frame *f)
{
	return lshm_checksum(f->planes, f->strides, f->rows, f->nplanes);
}

const char *lsr_result_name(int rc)
{
	switch (rc) {
	case LSR_OK:
		return "ok";
	case LSR_TIMEOUT:
		return "timeout";
	case LSR_OVERRUN:
		return "overrun";
	case LSR_WRITER_GONE:
		return "writer gone";
	case LSR_REATTACHED:
		return "reattached";
	case LSR_TORN:
		return "torn";
	default:
		return "error";
	}
}
