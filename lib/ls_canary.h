/* ls_canary — when to inject the redaction canary and how to judge it.
 *
 * Every period a synthetic IBAN is drawn into the frames (the stage's job)
 * until it is judged: "pass" once the redactor masks it as personal data,
 * or at the timeout "unverified" (still covered as unread: proves nothing
 * either way) or "fail" (shown in the clear). After a fail every frame is
 * masked whole until a later canary passes or is covered. Pure logic: the
 * caller passes the time (CLOCK_REALTIME ns), so tests drive it. One
 * thread (the camera's streaming thread). */
#ifndef LS_CANARY_H
#define LS_CANARY_H

#include <stdbool.h>
#include <stdint.h>

enum ls_canary_verdict {
	LS_CANARY_WAITING = 0, /**< not injected, or not judged yet */
	LS_CANARY_PASS,
	LS_CANARY_UNVERIFIED,
	LS_CANARY_FAIL,
};

struct ls_canary {
	int64_t period_ns;  /**< between a verdict and the next injection; 0: off */
	int64_t timeout_ns; /**< the longest a canary waits for its verdict */
	int64_t next_ns;    /**< next injection; 0: not scheduled yet */
	int64_t since_ns;   /**< injected at; 0: none shown now */
	bool failed;        /**< the last verdict was a fail */
};

/** @period_ns 0 turns it off. */
void ls_canary_init(struct ls_canary *c, int64_t period_ns, int64_t timeout_ns);
/** Whether the canary is to be drawn into the frame at @now (starts one
 *  when it is due; the first is due one period after the first call). */
bool ls_canary_show(struct ls_canary *c, int64_t now);
/** Whether a verdict is due at @now: shown and @caught, or past the
 *  timeout (so the caller computes `covered` only then). */
bool ls_canary_due(const struct ls_canary *c, int64_t now, bool caught);
/** After the frame was redacted: @caught (masked as personal data),
 *  @covered (hidden another way, e.g. as unread text). Returns the verdict
 *  (WAITING while it may still be caught), *age_ns how long it was shown;
 *  a verdict schedules the next canary. */
enum ls_canary_verdict ls_canary_judge(struct ls_canary *c, int64_t now, bool caught, bool covered, int64_t *age_ns);
/** Whether frames are to be masked whole (the last verdict failed). */
bool ls_canary_failed(const struct ls_canary *c);
const char *ls_canary_verdict_name(enum ls_canary_verdict v);

#endif
