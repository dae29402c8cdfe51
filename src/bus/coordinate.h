/* coordinate — `lockstep coordinate start|stop`: one command to every node
 * on the bus (coordinate.c). */
#ifndef LS_COORDINATE_H
#define LS_COORDINATE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

/** Sends start (at @at_ns; 0: the next whole second at least 1 s out) or
 *  stop (likewise) to PREFIX.control of @cfg's [bus], prints each
 *  node's answer (one JSON line each, stdout) for @wait_s seconds. Returns
 *  the exit status: 0 when a node answered and none refused. */
int ls_coordinate(const struct ls_config *cfg, bool start, int64_t at_ns, double wait_s);

#endif
