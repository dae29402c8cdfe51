/* check — what `lockstep check` verifies of a config, as data: the
 * command prints it, the console's Config page shows it. */
#ifndef LS_CHECK_H
#define LS_CHECK_H

#include <glib.h>
#include <stdbool.h>

#include "config.h"

/** Checks @cfg: every camera's URI (and, with @probe, opens each camera
 *  for at most @timeout_ms), the redaction's rules and OCR languages where
 *  a camera redacts, [detect]'s model and ONNX Runtime (with @probe, a
 *  session on the model), the record dir. Appends one line per problem to
 *  @problems (g_strdup'd, "FILE:LINE: [section] what") and returns their
 *  number. */
unsigned ls_config_check(const struct ls_config *cfg, bool probe, int timeout_ms, GPtrArray *problems);
/** The one line `lockstep check` prints when all is well ("FILE: ok: 4
 *  cameras at 30 fps, 1 output, the HTTP server"), g_strdup'd. */
char *ls_config_summary(const struct ls_config *cfg, bool probed);

#endif
