/* Aligner cost per frame: N simulated cameras at R fps with jitter and
 * offsets, driven by the discrete-event simulator (no sleeps), timed with
 * CLOCK_PROCESS_CPUTIME_ID. The simulator's own cost (camera model, frame
 * pool) is measured separately with the aligner replaced by a no-op sink
 * and subtracted, so the figure is the aligner's alone.
 *
 * usage: bench-aligner [CAMERAS] [FPS] [SIM_SECONDS] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ls_aligner.h"
#include "sim.h"

static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 100;
	int fps = argc > 2 ? atoi(argv[2]) : 30;
	int secs = argc > 3 ? atoi(argv[3]) : 60;
	int64_t *off = calloc(n, sizeof *off);
	struct sim_cam *cams = calloc(n, sizeof *cams);
	const int64_t MS = LS_NS_PER_MS, EPOCH = INT64_C(1767225600) * LS_NS_PER_SEC;
	for (unsigned c = 0; c < n; c++) {
		off[c] = ((int64_t)(c % 21) - 10) * MS;
		cams[c].p = (struct ls_testcam_params){ .fps = { fps, 1 },
							.epoch_ns = EPOCH,
							.offset_ns = off[c],
							.jitter_ns = MS,
							.drop = 0.001,
							.seed = c + 1 };
		cams[c].delay_ns = (1 + c % 5) * MS;
	}
	struct ls_aligner_config cfg = { .ncams = n,
					 .epoch_ns = EPOCH,
					 .rate = { fps, 1 },
					 .tolerance_ns = 8 * MS,
					 .max_latency_ns = 100 * MS,
					 .offsets_ns = off };
	int64_t t0 = EPOCH + 1000 * LS_NS_PER_SEC;
	struct sim s;
	if (sim_init(&s, &cfg, cams, t0) < 0)
		return 1;
	double a = cpu_s();
	sim_run(&s, t0 + (int64_t)secs * LS_NS_PER_SEC, 0, 0);
	double with = cpu_s() - a;
	struct ls_aligner_counters k;
	ls_aligner_counters(s.al, &k, NULL);
	uint64_t frames = k.frames;
	sim_free(&s);

	/* the same simulation with the aligner's push/poll costing nothing:
	 * measures the simulator (model, pool, event loop) alone */
	struct sim base;
	sim_init(&base, &cfg, cams, t0);
	base.baseline = true;
	a = cpu_s();
	sim_run(&base, t0 + (int64_t)secs * LS_NS_PER_SEC, 0, 0);
	double without = cpu_s() - a;
	sim_free(&base);

	double per = (with - without) / (double)frames * 1e9;
	printf("aligner: %u cameras x %d fps, %d s simulated, %llu frames, %llu sets (%llu complete)\n", n, fps, secs,
	       (unsigned long long)frames, (unsigned long long)k.sets, (unsigned long long)k.complete);
	printf("cpu: %.3f s with aligner, %.3f s simulator alone\n", with, without);
	printf("aligner cost per frame: %.0f ns\n", per);
	free(off);
	free(cams);
	return 0;
}
