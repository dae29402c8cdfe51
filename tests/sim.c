#include "sim.h"

#include <stdlib.h>
#include <string.h>

static void on_emit(struct ls_frameset *set, void *user)
{
	struct sim *s = user;
	if (s->nsets == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1024;
		s->sets = realloc(s->sets, s->cap * sizeof *s->sets);
	}
	struct sim_set *r = &s->sets[s->nsets++];
	memset(r, 0, sizeof *r);
	r->n = set->n;
	r->slot_ns = set->slot_ns;
	r->emit_ns = set->emit_ns;
	r->skew_ns = set->skew_ns;
	r->npresent = set->npresent;
	r->nheld = set->nheld;
	r->complete = set->complete;
	r->deadline = set->deadline;
	for (unsigned c = 0; c < set->ncams; c++) {
		const struct ls_entry *e = &set->entries[c];
		int64_t o = e->offset_ns < 0 ? -e->offset_ns : e->offset_ns;
		if (e->state == LS_ENTRY_PRESENT && o > r->max_abs_offset)
			r->max_abs_offset = o;
		if (e->state == LS_ENTRY_HELD && e->offset_ns > r->max_held_age)
			r->max_held_age = e->offset_ns;
	}
	if (s->prev_n != INT64_MIN && set->n <= s->prev_n)
		s->order_ok = false;
	s->prev_n = set->n;
	if (s->consumer && s->consumer(set, s->consumer_user))
		return;
	ls_frameset_unref(&set);
}

static void schedule(struct sim *s, unsigned c)
{
	int64_t fire, stamp;
	s->next_keep[c] = ls_testcam_next(&s->tc[c], &fire, &stamp);
	s->next_stamp[c] = stamp;
	int64_t arr = fire + s->cams[c].delay_ns;
	if (arr < stamp)
		arr = stamp;
	s->next_arrival[c] = s->cams[c].dead ? INT64_MAX : arr;
}

int sim_init(struct sim *s, const struct ls_aligner_config *cfg, const struct sim_cam *cams, int64_t start_ns)
{
	memset(s, 0, sizeof *s);
	s->ncams = cfg->ncams;
	s->cams = cams;
	s->now = start_ns;
	s->prev_n = INT64_MIN;
	s->order_ok = true;
	s->al = ls_aligner_new(cfg, on_emit, s);
	if (!s->al)
		return -1;
	s->pools = calloc(s->ncams, sizeof *s->pools);
	s->tc = calloc(s->ncams, sizeof *s->tc);
	s->next_arrival = calloc(s->ncams, sizeof(int64_t));
	s->next_stamp = calloc(s->ncams, sizeof(int64_t));
	s->next_keep = calloc(s->ncams, sizeof(bool));
	for (unsigned c = 0; c < s->ncams; c++) {
		s->pools[c] = ls_frame_pool_new(256);
		ls_testcam_init(&s->tc[c], &cams[c].p, start_ns);
		schedule(s, c);
	}
	return 0;
}

void sim_run(struct sim *s, int64_t until, int64_t gap_from, int64_t gap_to)
{
	int64_t next_poll = ls_aligner_poll(s->al, s->now);
	for (;;) {
		unsigned best = 0;
		int64_t t_arr = INT64_MAX;
		for (unsigned c = 0; c < s->ncams; c++)
			if (s->next_arrival[c] < t_arr) {
				t_arr = s->next_arrival[c];
				best = c;
			}
		int64_t t = t_arr < next_poll ? t_arr : next_poll;
		if (t > until)
			break;
		if (gap_to > gap_from && t >= gap_from && t < gap_to)
			t = gap_to; /* the aligner thread was stalled */
		if (t > s->now)
			s->now = t;
		if (t_arr <= t) {
			if (s->next_keep[best]) {
				struct ls_frame *f = ls_frame_pool_acquire(s->pools[best]);
				if (f) {
					f->cam = (uint16_t)best;
					f->capture_ns = s->next_stamp[best];
					f->arrival_ns = s->now;
					if (s->baseline)
						ls_frame_unref(&f);
					else
						ls_aligner_push(s->al, f, s->now);
				} else {
					s->pool_exhausted++;
				}
			}
			schedule(s, best);
		}
		if (s->baseline)
			next_poll = s->now + 1000 * LS_NS_PER_MS; /* no deadlines to honour */
		else
			next_poll = ls_aligner_poll(s->al, s->now);
	}
	s->now = until;
}

void sim_free(struct sim *s)
{
	ls_aligner_free(&s->al);
	for (unsigned c = 0; c < s->ncams; c++)
		ls_frame_pool_unref(&s->pools[c]);
	free(s->pools);
	free(s->tc);
	free(s->next_arrival);
	free(s->next_stamp);
	free(s->next_keep);
	free(s->sets);
}
