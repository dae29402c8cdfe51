#include "ls_shm.h"

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
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lockstep_shm.h"

_Static_assert(sizeof(struct lshm_header) == 256, "lshm_header layout");
_Static_assert(sizeof(struct lshm_slot) == 64, "lshm_slot layout");
_Static_assert(LSHM_FMT_I420 == (int)LS_FMT_I420 && LSHM_FMT_RGBA == (int)LS_FMT_RGBA, "formats agree");

struct ls_shm_writer {
	char name[256]; /* "/NAME" */
	int fd;
	uint8_t *base;
	size_t size;
	struct lshm_header *h;
	struct lshm_cam_info *cams;
	bool checksums;
	uint64_t pub; /* next set number */
};

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

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

static int64_t mono_ns(void) { return ls_monotonic_ns(); }

/* Plane geometry of one camera: strides rounded to 64 bytes. */
static uint64_t lay_out(struct lshm_cam_info *ci)
{
	uint32_t w = ci->width, h = ci->height, cw = (w + 1) / 2, ch = (h + 1) / 2;
	uint32_t rowb[LSHM_MAX_PLANES] = { 0 }, rows[LSHM_MAX_PLANES] = { 0 };
	switch (ci->format) {
	case LSHM_FMT_I420:
		ci->nplanes = 3;
		rowb[0] = w, rows[0] = h, rowb[1] = rowb[2] = cw, rows[1] = rows[2] = ch;
		break;
	case LSHM_FMT_NV12:
		ci->nplanes = 2;
		rowb[0] = w, rows[0] = h, rowb[1] = 2 * cw, rows[1] = ch;
		break;
	case LSHM_FMT_GRAY8:
		ci->nplanes = 1;
		rowb[0] = w, rows[0] = h;
		break;
	case LSHM_FMT_BGRX:
	case LSHM_FMT_RGBA:
		ci->nplanes = 1;
		rowb[0] = 4 * w, rows[0] = h;
		break;
	default:
		ci->nplanes = 0;
		return 0;
	}
	uint64_t off = 0;
	for (uint32_t p = 0; p < ci->nplanes; p++) {
		ci->planes[p].offset = (uint32_t)off;
		ci->planes[p].stride = (uint32_t)align_up(rowb[p], 64);
		ci->planes[p].rows = rows[p];
		off += (uint64_t)ci->planes[p].stride * rows[p];
		off = align_up(off, 64);
	}
	return align_up(off, LSHM_ALIGN);
}

/* An existing segment under our name: refuse it if a live writer owns it,
 * otherwise (crashed writer, closed, not ours at all) remove it. */
static int recover_stale(const char *name, char *err, size_t len)
{
	int fd = shm_open(name, O_RDONLY, 0);
	if (fd < 0)
		return errno == ENOENT ? 0 : fail(err, len, -errno, "shm %s: %s", name + 1, strerror(errno));
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) == 0 && (size_t)st.st_size >= sizeof(struct lshm_header)) {
		struct lshm_header *h = mmap(NULL, sizeof *h, PROT_READ, MAP_SHARED, fd, 0);
		if (h != MAP_FAILED) {
			bool ours = h->magic == LSHM_MAGIC;
			bool alive = ours && !atomic_load(&h->closed) && h->writer_pid > 0 &&
				     h->writer_pid != getpid() && kill(h->writer_pid, 0) == 0 &&
				     mono_ns() - (int64_t)atomic_load(&h->heartbeat_ns) < 2 * LS_NS_PER_SEC;
			if (alive)
				rc = fail(err, len, -EBUSY, "shm %s: in use by a running writer (pid %d)", name + 1,
					  h->writer_pid);
			munmap(h, sizeof *h);
		}
	}
	close(fd);
	if (rc == 0 && shm_unlink(name) < 0 && errno != ENOENT)
		rc = fail(err, len, -errno, "shm %s: cannot remove the stale segment: %s", name + 1, strerror(errno));
	return rc;
}

int ls_shm_writer_open(const struct ls_shm_config *cfg, struct ls_shm_writer **out, char *err, size_t len)
{
	*out = NULL;
	int rc = lshm_name_check(cfg->name, err, len);
	if (rc < 0)
		return rc;
	if (cfg->nslots < 2 || cfg->nslots > 1024 || cfg->ncams == 0 || cfg->ncams > 4096)
		return fail(err, len, -EINVAL,
			    "shm %s: slots must be 2..1024 and cameras 1..4096 (got %u slots, %u cameras)", cfg->name,
			    cfg->nslots, cfg->ncams);

	/* sizes */
	size_t cams_bytes = cfg->ncams * sizeof(struct lshm_cam_info);
	struct lshm_cam_info *ci = calloc(cfg->ncams, sizeof *ci);
	if (!ci)
		return fail(err, len, -ENOMEM, "out of memory");
	uint64_t slot_hdr = align_up(sizeof(struct lshm_slot) + cfg->ncams * sizeof(struct lshm_slot_cam), LSHM_ALIGN);
	uint64_t off = slot_hdr;
	for (unsigned c = 0; c < cfg->ncams; c++) {
		snprintf(ci[c].name, sizeof ci[c].name, "%s", cfg->cams[c].name ? cfg->cams[c].name : "");
		ci[c].format = (uint32_t)cfg->cams[c].format;
		ci[c].width = (uint32_t)(cfg->cams[c].width > 0 ? cfg->cams[c].width : 0);
		ci[c].height = (uint32_t)(cfg->cams[c].height > 0 ? cfg->cams[c].height : 0);
		ci[c].data_size = lay_out(&ci[c]);
		ci[c].data_offset = off;
		off += ci[c].data_size;
	}
	uint64_t slot_size = align_up(off, LSHM_ALIGN);
	uint64_t slots_offset = align_up(sizeof(struct lshm_header) + cams_bytes, LSHM_ALIGN);
	uint64_t total = slots_offset + slot_size * cfg->nslots;

	struct ls_shm_writer *w = calloc(1, sizeof *w);
	if (!w) {
		free(ci);
		return fail(err, len, -ENOMEM, "out of memory");
	}
	w->fd = -1;
	snprintf(w->name, sizeof w->name, "/%s", cfg->name);
	rc = recover_stale(w->name, err, len);
	if (rc < 0)
		goto fail;
	const char *dir = cfg->shm_dir ? cfg->shm_dir : "/dev/shm";
	struct statvfs vs;
	if (statvfs(dir, &vs) == 0 && (uint64_t)vs.f_bavail * vs.f_frsize < total) {
		rc = fail(err, len, -ENOSPC,
			  "shm %s: needs %.1f MiB (%u slots x %.1f MiB) but %s has %.1f MiB free; "
			  "enlarge it (docker: --shm-size=%lluM) or lower slots",
			  cfg->name, total / 1048576.0, cfg->nslots, slot_size / 1048576.0, dir,
			  (double)vs.f_bavail * vs.f_frsize / 1048576.0, (unsigned long long)(total / 1048576 + 64));
		goto fail;
	}
	mode_t mode = cfg->group != (gid_t)-1 ? 0660 : 0600;
	w->fd = shm_open(w->name, O_RDWR | O_CREAT | O_EXCL, mode);
	if (w->fd < 0) {
		rc = fail(err, len, -errno, "shm %s: cannot create: %s", cfg->name, strerror(errno));
		goto fail;
	}
	if (fchmod(w->fd, mode) < 0 || (cfg->group != (gid_t)-1 && fchown(w->fd, (uid_t)-1, cfg->group) < 0)) {
		rc = fail(err, len, -errno, "shm %s: cannot set group %d / mode %o: %s", cfg->name, (int)cfg->group,
			  mode, strerror(errno));
		goto fail_unlink;
	}
	/* reserve the memory now: tmpfs would otherwise fail later with SIGBUS */
	int e = posix_fallocate(w->fd, 0, (off_t)total);
	if (e) {
		rc = fail(err, len, -e, "shm %s: cannot reserve %.1f MiB in %s: %s%s", cfg->name, total / 1048576.0,
			  dir, strerror(e), e == ENOSPC ? " (enlarge it, e.g. docker --shm-size, or lower slots)" : "");
		goto fail_unlink;
	}
	w->base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, w->fd, 0);
	if (w->base == MAP_FAILED) {
		w->base = NULL;
		rc = fail(err, len, -errno, "shm %s: mmap: %s", cfg->name, strerror(errno));
		goto fail_unlink;
	}
	w->size = total;
	w->h = (struct lshm_header *)w->base;
	w->cams = (struct lshm_cam_info *)(w->base + sizeof(struct lshm_header));
	w->checksums = cfg->checksums;
	memcpy(w->cams, ci, cams_bytes);
	struct lshm_header *h = w->h;
	h->version = LSHM_VERSION;
	h->header_size = sizeof(struct lshm_header);
	h->cam_info_size = sizeof(struct lshm_cam_info);
	h->slot_header_size = sizeof(struct lshm_slot);
	h->slot_cam_size = sizeof(struct lshm_slot_cam);
	h->nslots = cfg->nslots;
	h->ncams = cfg->ncams;
	h->slot_size = slot_size;
	h->slots_offset = slots_offset;
	h->total_size = total;
	h->writer_pid = getpid();
	h->rate_num = cfg->rate.num;
	h->rate_den = cfg->rate.den;
	h->epoch_ns = cfg->epoch_ns;
	uint64_t gen = (uint64_t)ls_realtime_ns() ^ ((uint64_t)getpid() << 40);
	h->generation = gen;
	atomic_store(&h->heartbeat_ns, (uint64_t)mono_ns());
	for (unsigned k = 0; k < cfg->nslots; k++) {
		struct lshm_slot *s = (struct lshm_slot *)(w->base + slots_offset + (uint64_t)k * slot_size);
		s->set = UINT64_MAX;
		s->ncams = cfg->ncams;
	}
	/* the magic last: a reader never accepts a half-initialised header */
	atomic_thread_fence(memory_order_release);
	h->magic = LSHM_MAGIC;
	free(ci);
	*out = w;
	return 0;

fail_unlink:
	shm_unlink(w->name);
fail:
	if (w->fd >= 0)
		close(w->fd);
	free(w);
	free(ci);
	return rc;
}

void ls_shm_writer_close(struct ls_shm_writer **wp)
{
	if (!wp || !*wp)
		return;
	struct ls_shm_writer *w = *wp;
	*wp = NULL;
	atomic_store(&w->h->closed, 1);
	atomic_fetch_add(&w->h->futex, 1);
	syscall(SYS_futex, &w->h->futex, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	/* Unlink the name only while it is still ours: a writer that replaced
	 * our segment (we stalled past the 2 s rule, or this process opened
	 * the name again before closing us) owns it now. */
	struct stat mine, named;
	int fd = shm_open(w->name, O_RDONLY, 0);
	if (fd >= 0) {
		if (fstat(w->fd, &mine) == 0 && fstat(fd, &named) == 0 && mine.st_dev == named.st_dev &&
		    mine.st_ino == named.st_ino)
			shm_unlink(w->name);
		close(fd);
	}
	munmap(w->base, w->size);
	close(w->fd);
	free(w);
}

static struct lshm_slot *slot_at(struct ls_shm_writer *w, unsigned k)
{
	return (struct lshm_slot *)(w->base + w->h->slots_offset + (uint64_t)k * w->h->slot_size);
}

void ls_shm_writer_begin(struct ls_shm_writer *w, struct ls_shm_wslot *ws)
{
	ws->slot = (unsigned)(w->pub % w->h->nslots);
	struct lshm_slot *s = slot_at(w, ws->slot);
	uint64_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
	atomic_store_explicit(&s->seq, seq + 1, memory_order_relaxed); /* odd: being written */
	atomic_thread_fence(memory_order_release);                     /* ...before any data store */
}

void ls_shm_writer_planes(struct ls_shm_writer *w, struct ls_shm_wslot *ws, unsigned cam)
{
	const struct lshm_cam_info *ci = &w->cams[cam];
	uint8_t *data = (uint8_t *)slot_at(w, ws->slot) + ci->data_offset;
	for (unsigned p = 0; p < LS_MAX_PLANES; p++) {
		ws->planes[p] = p < ci->nplanes ? data + ci->planes[p].offset : NULL;
		ws->strides[p] = p < ci->nplanes ? (int)ci->planes[p].stride : 0;
	}
}

static void finish(struct ls_shm_writer *w, unsigned k, int64_t n, int64_t slot_ns, int64_t skew_ns)
{
	struct lshm_slot *s = slot_at(w, k);
	s->set = w->pub;
	s->n = n;
	s->slot_ns = slot_ns;
	s->skew_ns = skew_ns;
	s->publish_mono_ns = mono_ns();
	uint64_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
	atomic_store_explicit(&s->seq, seq + 1, memory_order_release); /* even: complete */
	w->pub++;
	atomic_store_explicit(&w->h->published, w->pub, memory_order_release);
	atomic_store_explicit(&w->h->futex, (uint32_t)w->pub, memory_order_seq_cst);
	atomic_store_explicit(&w->h->heartbeat_ns, (uint64_t)s->publish_mono_ns, memory_order_relaxed);
	if (atomic_load_explicit(&w->h->waiters, memory_order_seq_cst))
		syscall(SYS_futex, &w->h->futex, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

void ls_shm_writer_commit(struct ls_shm_writer *w, struct ls_shm_wslot *ws, int64_t n, int64_t slot_ns, int64_t skew_ns,
			  const uint32_t *states, const int64_t *captures, const int64_t *offsets)
{
	struct lshm_slot *s = slot_at(w, ws->slot);
	struct lshm_slot_cam *sc = (struct lshm_slot_cam *)(s + 1);
	uint32_t present = 0;
	for (unsigned c = 0; c < w->h->ncams; c++) {
		sc[c].state = states[c];
		sc[c].capture_ns = captures[c];
		sc[c].offset_ns = offsets ? offsets[c] : 0;
		sc[c].checksum = 0;
		present += states[c] == LSHM_PRESENT;
		if (w->checksums && states[c] != LSHM_MISSING) {
			const struct lshm_cam_info *ci = &w->cams[c];
			uint8_t *pl[LSHM_MAX_PLANES];
			int st[LSHM_MAX_PLANES], rows[LSHM_MAX_PLANES];
			for (unsigned p = 0; p < ci->nplanes; p++) {
				pl[p] = (uint8_t *)s + ci->data_offset + ci->planes[p].offset;
				st[p] = (int)ci->planes[p].stride;
				rows[p] = (int)ci->planes[p].rows;
			}
			sc[c].checksum = lshm_checksum((const uint8_t *const *)pl, st, rows, (int)ci->nplanes);
		}
	}
	s->npresent = present;
	finish(w, ws->slot, n, slot_ns, skew_ns);
}

int ls_shm_writer_publish(struct ls_shm_writer *w, const struct ls_frameset *set)
{
	unsigned ncams = w->h->ncams < set->ncams ? w->h->ncams : set->ncams;
	for (unsigned c = 0; c < ncams; c++) {
		const struct ls_entry *e = &set->entries[c];
		const struct lshm_cam_info *ci = &w->cams[c];
		if (e->state != LS_ENTRY_MISSING && e->frame &&
		    ((uint32_t)e->frame->format != ci->format || (uint32_t)e->frame->width != ci->width ||
		     (uint32_t)e->frame->height != ci->height))
			return -EXDEV;
	}
	struct ls_shm_wslot ws;
	ls_shm_writer_begin(w, &ws);
	uint32_t states[w->h->ncams];
	int64_t captures[w->h->ncams], offsets[w->h->ncams];
	for (unsigned c = 0; c < w->h->ncams; c++) {
		const struct ls_entry *e = c < set->ncams ? &set->entries[c] : NULL;
		const struct ls_frame *f = e && e->state != LS_ENTRY_MISSING ? e->frame : NULL;
		states[c] = f ? (uint32_t)e->state : LSHM_MISSING;
		captures[c] = f ? f->capture_ns : 0;
		offsets[c] = f ? e->offset_ns : 0;
		if (!f)
			continue;
		ls_shm_writer_planes(w, &ws, c);
		const struct lshm_cam_info *ci = &w->cams[c];
		for (unsigned p = 0; p < ci->nplanes; p++) {
			size_t rowb = (size_t)(f->strides[p] < (int)ci->planes[p].stride ? f->strides[p]
											 : (int)ci->planes[p].stride);
			size_t need = p == 0 ? (size_t)ci->width * (ci->format >= LSHM_FMT_BGRX ? 4 : 1)
					     : (ci->format == LSHM_FMT_NV12 ? 2 * ((ci->width + 1) / 2)
									    : (ci->width + 1) / 2);
			if (need < rowb)
				rowb = need; /* only the picture, never a source's row padding */
			for (uint32_t y = 0; y < ci->planes[p].rows; y++)
				memcpy(ws.planes[p] + (size_t)y * ws.strides[p],
				       f->planes[p] + (size_t)y * f->strides[p], rowb);
		}
	}
	ls_shm_writer_commit(w, &ws, set->n, set->slot_ns, set->skew_ns, states, captures, offsets);
	return 0;
}

void ls_shm_writer_heartbeat(struct ls_shm_writer *w)
{
	atomic_store_explicit(&w->h->heartbeat_ns, (uint64_t)mono_ns(), memory_order_release);
}

uint64_t ls_shm_writer_published(const struct ls_shm_writer *w) { return w->pub; }

size_t ls_shm_writer_size(const struct ls_shm_writer *w) { return w->size; }
