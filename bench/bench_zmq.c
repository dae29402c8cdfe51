/* bench-zmq — the same framesets through ZeroMQ over ipc:// (a Unix domain
 * socket), under the shm_bench harness.
 *
 * PUSH (writer, binds ipc:///tmp/NAME.zmq) to PULL (reader): lossless with
 * back-pressure, like shmsink, where PUB/SUB would drop. One multipart
 * message per set, one part per camera (3,110,400 bytes each); ZeroMQ
 * delivers the parts of a message together or not at all. The send and
 * receive high-water marks are DEPTH/2 messages each, so about DEPTH sets
 * are in flight at most, as with the other methods.
 *
 * Copies per set: zmq_send copies each part into a message it owns (1);
 * the kernel copies it into the socket and out again into the receiver's
 * message (2). The reader then reads the parts in place with zmq_msg_recv
 * (zmq_recv into a buffer of its own would add a fourth).
 *
 * The publish CLOCK_MONOTONIC goes into part 0's first 8 bytes right before
 * the first zmq_send; the reader's wake-up is when zmq_msg_recv returned the
 * last part, i.e. when the whole set is in its hands. The writer ends the
 * stream with a one-part message of 3 bytes.
 *
 * usage: bench-zmq [harness options, see shm_bench.h] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "shm_bench.h"

static void endpoint(const struct sb_opts *o, char *path, size_t plen, char *ep, size_t elen)
{
	snprintf(path, plen, "/tmp/%s.zmq", o->name);
	snprintf(ep, elen, "ipc://%s", path);
}

static int hwm_of(const struct sb_opts *o) { return o->depth / 2 > 0 ? (int)(o->depth / 2) : 1; }

/* ---- writer ------------------------------------------------------------------ */

struct zq_writer {
	const struct sb_opts *o;
	struct sb_geom g;
	void *ctx, *sock;
	uint8_t *frames; /* the producer's own frames: set_bytes, rendered in place */
	char path[128];
};

static void zq_writer_free(struct zq_writer *zw)
{
	if (zw->sock)
		zmq_close(zw->sock);
	if (zw->ctx)
		zmq_ctx_term(zw->ctx);
	free(zw->frames);
	unlink(zw->path);
	free(zw);
}

static int zq_writer_open(const struct sb_opts *o, void **out, char *err, size_t len)
{
	struct zq_writer *zw = calloc(1, sizeof *zw);
	if (!zw)
		return -ENOMEM;
	zw->o = o;
	sb_geom_get(o, &zw->g);
	char ep[160];
	endpoint(o, zw->path, sizeof zw->path, ep, sizeof ep);
	unlink(zw->path);
	int rc = -ENOMEM;
	zw->frames = aligned_alloc(64, (zw->g.set_bytes + 63) / 64 * 64);
	if (!zw->frames) {
		snprintf(err, len, "out of memory");
		goto fail;
	}
	memset(zw->frames, 0, zw->g.set_bytes); /* no page fault inside the measurement */
	int hwm = hwm_of(o), linger = 2000;
	zw->ctx = zmq_ctx_new();
	zw->sock = zw->ctx ? zmq_socket(zw->ctx, ZMQ_PUSH) : NULL;
	if (!zw->sock || zmq_setsockopt(zw->sock, ZMQ_SNDHWM, &hwm, sizeof hwm) < 0 ||
	    zmq_setsockopt(zw->sock, ZMQ_LINGER, &linger, sizeof linger) < 0 || zmq_bind(zw->sock, ep) < 0) {
		rc = -errno;
		snprintf(err, len, "zmq %s: %s", ep, zmq_strerror(errno));
		goto fail;
	}
	*out = zw;
	return 0;
fail:
	zq_writer_free(zw);
	return rc;
}

static int zq_writer_publish(void *wp, uint64_t set)
{
	struct zq_writer *zw = wp;
	const struct sb_geom *g = &zw->g;
	for (unsigned c = 0; c < zw->o->cams; c++)
		for (int p = 0; p < SB_PLANES; p++)
			sb_render_plane(zw->o, zw->frames + c * g->frame_bytes + g->offset[p], g->width[p], g->width[p],
					g->rows[p], set);
	sb_put_u64(zw->frames, (uint64_t)sb_now_ns());
	for (unsigned c = 0; c < zw->o->cams; c++) {
		int more = c + 1 < zw->o->cams ? ZMQ_SNDMORE : 0;
		while (zmq_send(zw->sock, zw->frames + c * g->frame_bytes, g->frame_bytes, more) < 0)
			if (errno != EINTR)
				return -errno;
	}
	return 0;
}

static void zq_writer_close(void **wp, char *note, size_t len)
{
	struct zq_writer *zw = *wp;
	if (!zw)
		return;
	zmq_send(zw->sock, "end", 3, 0);
	snprintf(note, len, "hwm=%d+%d copies_per_set=3(zmq_send+kernel_in+kernel_out)", hwm_of(zw->o), hwm_of(zw->o));
	zq_writer_free(zw); /* zmq_close lingers up to 2 s to deliver the rest */
	*wp = NULL;
}

/* ---- reader ------------------------------------------------------------------ */

static int zq_reader_run(const struct sb_opts *o, struct sb_reader *rd, char *err, size_t len)
{
	struct sb_geom g;
	sb_geom_get(o, &g);
	char path[128], ep[160];
	endpoint(o, path, sizeof path, ep, sizeof ep);
	int hwm = hwm_of(o), timeout_ms = 200, rc = 0;
	void *ctx = zmq_ctx_new();
	void *sock = ctx ? zmq_socket(ctx, ZMQ_PULL) : NULL;
	if (!sock || zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof hwm) < 0 ||
	    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms) < 0 || zmq_connect(sock, ep) < 0) {
		rc = -errno;
		snprintf(err, len, "zmq %s: %s", ep, zmq_strerror(errno));
		goto out;
	}
	sb_reader_ready(rd);
	uint64_t odd = 0;
	zmq_msg_t parts[SB_MAX_CAMS];
	while (!sb_reader_done(rd)) {
		zmq_msg_init(&parts[0]);
		if (zmq_msg_recv(&parts[0], sock, 0) < 0) {
			zmq_msg_close(&parts[0]);
			if (errno == EAGAIN || errno == EINTR)
				continue;
			rc = -errno;
			snprintf(err, len, "zmq_msg_recv: %s", zmq_strerror(errno));
			break;
		}
		if (zmq_msg_size(&parts[0]) != g.frame_bytes) {
			zmq_msg_close(&parts[0]);
			break; /* the writer's end message */
		}
		unsigned n = 1;
		while (n < o->cams && zmq_msg_more(&parts[n - 1])) {
			zmq_msg_init(&parts[n]);
			if (zmq_msg_recv(&parts[n], sock, 0) < 0) {
				zmq_msg_close(&parts[n]);
				break;
			}
			n++;
		}
		int64_t wake = sb_now_ns();
		if (n == o->cams && !zmq_msg_more(&parts[n - 1])) {
			const uint8_t *p0 = zmq_msg_data(&parts[0]);
			uint64_t set = sb_get_u64(p0 + 8);
			bool match = true;
			for (unsigned c = 0; c < n; c++) {
				const uint8_t *f = zmq_msg_data(&parts[c]);
				match = match && zmq_msg_size(&parts[c]) == g.frame_bytes;
				for (int p = 0; match && p < SB_PLANES; p++)
					match = sb_plane_is(f + g.offset[p], set);
			}
			sb_reader_record(rd, set, (int64_t)sb_get_u64(p0), wake, match ? SB_INTACT : SB_BAD);
		} else {
			odd++;
		}
		for (unsigned c = 0; c < n; c++)
			zmq_msg_close(&parts[c]);
	}
	sb_reader_note(rd, "odd_messages=%llu", (unsigned long long)odd);
out:
	if (sock)
		zmq_close(sock);
	if (ctx)
		zmq_ctx_term(ctx);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct sb_method zmq = {
		.name = "zmq",
		.writer_open = zq_writer_open,
		.writer_publish = zq_writer_publish,
		.writer_close = zq_writer_close,
		.reader_run = zq_reader_run,
	};
	return sb_main(argc, argv, &zmq);
}
