/* clips — clips cut around events, owned by the recorder ([record]) and
 * asked for by others through the context's clip-request service (the
 * [detect] stage's clip-on events).
 *
 * An event at slot n extends the newest waiting clip when n is within its
 * post-roll, else queues a new one. The clipper's thread waits until every
 * camera has recorded slot n2 + post-roll in a closed segment (the
 * recorder says so: ls_clipper_recorded_fn), or until a deadline of
 * 2 x (post + segment length) + 10 s passes (then the clip ends where the
 * recording does), and then exports it with ls_record_clip(), so neither
 * the asker nor the recorder waits for it. At finish, clips still waiting
 * are cut with what was recorded. Lines say "[detect] clip ...", as the
 * clips are the stage's events. */
#ifndef LS_CLIPS_H
#define LS_CLIPS_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

struct ls_clipper;
/** Whether every camera has slot @n in a closed segment. Any thread. */
typedef bool (*ls_clipper_recorded_fn)(void *user, int64_t n);

/** A clipper for @cfg's [detect] clip-on settings (cfg->detect->clip_any
 *  and cfg->record must be set); clips go to clip-dir (made if missing).
 *  NULL and *err on failure. */
struct ls_clipper *ls_clipper_new(const struct ls_config *cfg, ls_clipper_recorded_fn recorded, void *user, char **err);
/** Reports each clip to @ctx's events service: "clip-ready" (fields:
 *  camera of the first event, what, first_slot, last_slot, frames, dir,
 *  manifest) or "clip-failed" (what, error). Before ls_clipper_start. */
struct ls_output_ctx;
void ls_clipper_set_events(struct ls_clipper *c, const struct ls_output_ctx *ctx);
/** Starts the export thread. */
void ls_clipper_start(struct ls_clipper *c);
/** An event at slot @n of camera @cam, named @what ("person-3", "motion").
 *  Any thread; never waits for an export. */
void ls_clipper_event(void *clipper, int64_t n, unsigned cam, const char *what);
/** Cuts what is waiting now, joins the thread, prints the summary. After
 *  the recorder closed its segments. */
void ls_clipper_finish(struct ls_clipper *c);
void ls_clipper_free(struct ls_clipper **c);

#endif
