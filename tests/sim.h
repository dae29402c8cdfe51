/* A discrete-event simulator that drives an ls_aligner with ls_testcam
 * cameras under simulated time: no sleeps, no real clock. Shared by the
 * aligner tests and the aligner benchmark. */
#ifndef LS_TEST_SIM_H
#define LS_TEST_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "ls_aligner.h"
#include "ls_testcam.h"

struct sim_cam {
	struct ls_testcam_params p;
	int64_t delay_ns; /* capture -> arrival at the aligner */
	bool dead;        /* never delivers */
};

struct sim_set { /* what the tests check of each emitted set */
	int64_t n, slot_ns, emit_ns, skew_ns;
	unsigned npresent, nheld;
	bool complete, deadline;
	int64_t max_abs_offset; /* of present entries */
	int64_t max_held_age;
};

/* Called for every emitted set before the simulator records it. Return true
 * to keep the set (the callback then owns it), false to let the simulator
 * drop it immediately. */
typedef bool (*sim_consumer_fn)(struct ls_frameset *set, void *user);

struct sim {
	struct ls_aligner *al;
	struct ls_frame_pool **pools;
	struct ls_testcam *tc;
	const struct sim_cam *cams;
	unsigned ncams;
	int64_t now;
	/* next pending delivery per camera */
	int64_t *next_arrival, *next_stamp;
	bool *next_keep;
	/* recorded sets */
	struct sim_set *sets;
	size_t nsets, cap;
	uint64_t pool_exhausted;
	sim_consumer_fn consumer;
	void *consumer_user;
	int64_t prev_n;
	bool order_ok; /* emitted n strictly increasing */
	bool baseline; /* benchmark: release frames instead of pushing them */
};

/* Builds the aligner from @cfg and the cameras (offsets taken from cfg). */
int sim_init(struct sim *s, const struct ls_aligner_config *cfg, const struct sim_cam *cams, int64_t start_ns);
/* Runs until simulated time @until_ns; polls exactly at each deadline the
 * aligner returns. With @poll_gap_from/@poll_gap_to, the aligner is neither
 * polled nor fed in that window (a stalled aligner thread); arrivals in the
 * gap are delivered at its end. */
void sim_run(struct sim *s, int64_t until_ns, int64_t gap_from, int64_t gap_to);
void sim_free(struct sim *s);

#endif
