/* redact — the redaction stage of one camera: ls_redact (tiles, text units,
 * verdicts, masks) with the Tesseract backend (ocr_tess), the personal-data
 * rules (ls_pii), the audit log and the canary.
 *
 * It runs on the camera's streaming thread, between the decoder and the
 * aligner, so no output ever sees an unredacted frame: the source hands it
 * each mapped I420 frame and gets back a frame in the stage's own buffers
 * (the source's buffer is released at once).
 *
 * Audit log: one JSON object per line, appended with one write(2) each, so
 * several cameras may share the file. Records carry times, tiles, rule ids,
 * confidences and counts; never text read from the screen.
 *   {"t":..,"camera":"c","event":"match","frame":n,"tile":[x,y],"rule":"iban","confidence":0.95,"box":[x,y,w,h]}
 *   {"t":..,"camera":"c","event":"summary","frames":n,"fps":f,"latency_p50_ms":..,"latency_p99_ms":..,
 *    "pending_tiles":k,"masked_boxes":m,"ocr_queue":q,"full_masks":f}
 *   {"t":..,"camera":"c","event":"full-mask","why":"latency-budget"|"ocr-worker-dead"|"ocr-worker-hung"|"canary-failed"}
 *   {"t":..,"camera":"c","event":"canary","result":"pass"|"fail","latency_ms":..}
 *
 * Canary (canary-s = N): every N seconds a synthetic IBAN is drawn into the
 * frame's bottom-left corner (a copy; the camera's buffer is untouched) until
 * the redactor has judged it; it must come back masked as personal data. A
 * canary not caught within 5 s fails: reported, and every frame is masked
 * whole until a later canary passes. */
#ifndef LS_REDACT_STAGE_H
#define LS_REDACT_STAGE_H

#include <glib.h>
#include <stdint.h>

#include "config.h"

struct ls_redact_stage;

/** Loads the rules and opens the audit log. NULL + *err (g_malloc'd, one
 *  line) when the rules or the audit file are bad. */
struct ls_redact_stage *ls_redact_stage_new(const struct ls_redact_config *rc, const char *camera, char **err);
void ls_redact_stage_free(struct ls_redact_stage **st);
/** Where the stage reports its events (the rig forwards them to the output
 *  context's events service): "redact-full-mask" when every frame starts
 *  being masked whole (fields: camera, why), "redact-full-mask-end" when
 *  it stops, "canary-failed" when the canary was not masked in time. Called
 *  on the camera's streaming thread; set before the camera starts. */
typedef void (*ls_redact_event_fn)(void *user, const char *kind, const char *fields);
void ls_redact_stage_set_events(struct ls_redact_stage *st, ls_redact_event_fn fn, void *user);

/** Redacts one I420 frame. Returns an opaque buffer whose planes the caller
 *  puts in its frame (planes/strides out), released with
 *  ls_redact_stage_release() from any thread; NULL when no buffer is free
 *  (the frame is then dropped: never passed on unredacted). */
void *ls_redact_stage_process(struct ls_redact_stage *st, uint8_t *const in_planes[3], const int in_strides[3],
			      int width, int height, int64_t capture_ns, uint8_t *out_planes[3], int out_strides[3]);
void ls_redact_stage_release(void *buf);

/** Appends ,"redact":{"frames":F,"full_masks":M} to @j: frames redacted
 *  and, of those, covered whole (watchdog or failed canary) since the start.
 *  Any thread (the rig's aligner thread, for its camera's stats object). */
void ls_redact_stage_stats_json(struct ls_redact_stage *st, GString *j);

/** Checks that rules load and Tesseract starts (lockstep check). */
int ls_redact_stage_probe(const struct ls_redact_config *rc, char **err);

#endif
