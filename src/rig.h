/* rig — runs a config: sources, the aligner thread, outputs and the
 * once-a-second status.
 *
 * Threads (see docs/architecture.md):
 *  - main: GLib main loop; bus watches, reconnect timers, signals, start/stop;
 *  - one streaming thread per camera (GStreamer's, or the test:// pacer):
 *    stamps frames and pushes them into the camera's SPSC ring;
 *  - the aligner thread: drains the rings, runs ls_aligner, fans sets out to
 *    the outputs' queues, computes the per-second stats;
 *  - one thread per output; one stats writer thread (file and terminal I/O
 *    never happen on the aligner thread).
 *
 * Time: the aligner runs on CLOCK_REALTIME. When a camera is a file with
 * realtime=false, the rig runs on event time instead: `now` is the oldest
 * newest-frame time among the cameras still delivering, so files are
 * aligned as fast as they decode, with nothing dropped for lateness. */
#ifndef LS_RIG_H
#define LS_RIG_H

#include "config.h"

struct ls_rig_opts {
	double duration_s;      /**< <= 0: until Ctrl-C / SIGTERM */
	const char *stats_json; /**< append one JSON object per second, or NULL */
	bool quiet;             /**< no status line on stderr */
};

/** Runs until the duration, a signal, or every camera ended. Returns a
 *  process exit status (0 ok). */
int ls_rig_run(const struct ls_config *cfg, const struct ls_rig_opts *o);

#endif
