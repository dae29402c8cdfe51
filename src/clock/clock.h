/* clock — the [clock] service: the rig's time from the system clock, PTP,
 * NTP or another lockstep, its offset and sync state, and serving it to
 * other rigs (clock.c). The rig starts it before its sources and stops it
 * after them. */
#ifndef LS_CLOCK_H
#define LS_CLOCK_H

#include <glib.h>

#include "config.h"

struct ls_clock_service;

/** Applies the test hook (LOCKSTEP_TEST_CLOCK_OFFSET_MS), makes the
 *  reference clock of @cc (borrowed; it outlives the service), serves this
 *  rig's clock when provide = is set, and waits up to sync-wait-s for the
 *  first sync (one line either way). A reference that never answers is not
 *  an error: the rig runs with its frames marked unsynced. NULL and *err
 *  (one line) only when the clock cannot be made at all (the PTP helper
 *  cannot start, the provide port is taken). */
struct ls_clock_service *ls_clock_service_start(const struct ls_clock_config *cc, char **err);
/** Appends "clock":{...} (source, synced, offset_ms, jitter_us, ...) to the
 *  stats record; any thread. */
void ls_clock_service_stats_json(struct ls_clock_service *s, GString *j);
/** Stops and frees; NULL-safe. */
void ls_clock_service_stop(struct ls_clock_service **s);

#endif
