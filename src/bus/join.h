/* join — `lockstep join`: a metadata hub that joins the nodes' per-slot
 * frameset messages from the bus (join.c). */
#ifndef LS_JOIN_H
#define LS_JOIN_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

struct ls_join_opts {
	const char *nodes;      /**< comma-separated [bus] names of the nodes */
	int64_t max_latency_ns; /**< a slot waits this long after its time for missing nodes */
	double duration_s;      /**< 0: until SIGINT/SIGTERM */
	const char *output;     /**< joined sets as JSON lines; NULL: stdout */
	const char *stats_json; /**< a record a second, or NULL */
	bool publish;           /**< also on PREFIX.joined */
};

/** Runs the join of @cfg's [bus] (rate and epoch from its [rig]); returns
 *  the exit status. */
int ls_join(const struct ls_config *cfg, const struct ls_join_opts *o);

#endif
