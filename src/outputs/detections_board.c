/* detections_board — the board of detections.h: the latest detections per
 * camera, filled from what the detect stage publishes and copied out by the
 * mosaic output for drawing. One mutex around a copy; no ONNX Runtime. */
#include "detections.h"

#include <pthread.h>
#include <string.h>

#include <glib.h>

/* ---- the board ------------------------------------------------------------ */

struct ls_detect_board {
	pthread_mutex_t lock;
	unsigned ncams, max_dets;
	int *count;
	int64_t *slot;
	struct ls_det *dets;
	int64_t *ids;
};

struct ls_detect_board *ls_detect_board_new(unsigned ncams, unsigned max_dets)
{
	struct ls_detect_board *b = g_new0(struct ls_detect_board, 1);
	pthread_mutex_init(&b->lock, NULL);
	b->ncams = ncams;
	b->max_dets = max_dets;
	b->count = g_new0(int, ncams);
	b->slot = g_new(int64_t, ncams);
	for (unsigned c = 0; c < ncams; c++)
		b->slot[c] = -1;
	b->dets = g_new0(struct ls_det, (size_t)ncams * max_dets);
	b->ids = g_new0(int64_t, (size_t)ncams * max_dets);
	return b;
}

void ls_detect_board_free(struct ls_detect_board **pb)
{
	struct ls_detect_board *b = pb ? *pb : NULL;
	if (!b)
		return;
	pthread_mutex_destroy(&b->lock);
	g_free(b->count);
	g_free(b->slot);
	g_free(b->dets);
	g_free(b->ids);
	g_free(b);
	*pb = NULL;
}

void ls_detect_board_put(struct ls_detect_board *b, const struct ls_detect_result *r)
{
	pthread_mutex_lock(&b->lock);
	for (unsigned c = 0; c < r->ncams && c < b->ncams; c++) {
		bool gated = r->gated && r->gated[c];
		if ((!r->ran[c] && !gated) || r->n < b->slot[c])
			continue;
		int n = r->count[c] < (int)b->max_dets ? r->count[c] : (int)b->max_dets;
		if (gated)
			n = 0;
		memcpy(b->dets + (size_t)c * b->max_dets, r->dets + (size_t)c * r->max_dets,
		       sizeof(struct ls_det) * (size_t)n);
		memcpy(b->ids + (size_t)c * b->max_dets, r->track_id + (size_t)c * r->max_dets,
		       sizeof(int64_t) * (size_t)n);
		b->count[c] = n;
		b->slot[c] = r->n;
	}
	pthread_mutex_unlock(&b->lock);
}

int ls_detect_board_get(struct ls_detect_board *b, unsigned cam, struct ls_det *out, int64_t *ids, int64_t *slot)
{
	if (cam >= b->ncams)
		return 0;
	pthread_mutex_lock(&b->lock);
	int n = b->count[cam];
	memcpy(out, b->dets + (size_t)cam * b->max_dets, sizeof *out * (size_t)n);
	if (ids)
		memcpy(ids, b->ids + (size_t)cam * b->max_dets, sizeof *ids * (size_t)n);
	if (slot)
		*slot = b->slot[cam];
	pthread_mutex_unlock(&b->lock);
	return n;
}
