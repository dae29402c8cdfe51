/* values — scalar value parsers shared by source URIs (source_spec.c) and
 * the config file (config.c), so that a value means the same in a URI
 * option and in a config key.
 *
 * Error strings (char **err) are one line without a trailing newline,
 * g_strdup'd: the caller frees them with g_free(). Initialise *err to NULL;
 * a message already there is freed and replaced. */
#ifndef LS_VALUES_H
#define LS_VALUES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "ls_time.h"

/* Each returns 0, or -EINVAL with *err (if not NULL) set to a reason that
 * quotes the value, e.g. `must be in [0, 1], got "2"`. They accept no
 * surrounding spaces; a leading '+' is accepted. */

/** Sets *err (if not NULL; an old message is freed) to the printf-style
 *  message and returns -@errnum: the one error path of these parsers. */
int ls_value_fail(char **err, int errnum, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/** "true"/"false", "yes"/"no", "1"/"0" (ASCII case-insensitive). */
int ls_value_parse_bool(const char *s, bool *out, char **err);
/** A decimal integer in [min, max]. */
int ls_value_parse_int(const char *s, int64_t min, int64_t max, int64_t *out, char **err);
/** A finite decimal number in [min, max] ("1.5", "-3", "1e-3"), whatever the
 *  locale; no hex, inf or nan. */
int ls_value_parse_double(const char *s, double min, double max, double *out, char **err);
/** A decimal number of @unit_ns nanoseconds (LS_NS_PER_MS for milliseconds,
 *  LS_NS_PER_SEC for seconds) converted exactly, without floating point,
 *  to ns rounded to the nearest (halves away from zero): "-7", "4.5",
 *  "0.0005". No exponent. The result must lie in [min_ns, max_ns]; the error
 *  text gives the range in the unit. */
int ls_value_parse_fixed(const char *s, int64_t unit_ns, int64_t min_ns, int64_t max_ns, int64_t *out, char **err);
/** A rate for ls_rate_parse() ("30", "29.97", "30000/1001"), more than 0 and
 *  at most 1000 fps, in lowest terms ("12.5" is 25/2, "60/2" is 30/1). */
int ls_value_parse_rate(const char *s, struct ls_rate *out, char **err);
/** Writes @ns / @unit_ns into @buf (NUL-terminated, truncated to @size) as
 *  an exact decimal without trailing zeros: 4500000 ns in ms is "4.5". */
void ls_value_format_fixed(char *buf, size_t size, int64_t ns, int64_t unit_ns);

/** Appends @s to @g as a JSON string: quoted, with '"', '\\' and control
 *  characters escaped (UTF-8 passes through). Shared by everything that
 *  writes JSON by hand: --stats-json, events, detections, the server. */
void ls_json_str(GString *g, const char *s);

/** Appends @s to @g as troff text for a man page (man(7)), as typed: '\\'
 *  as \e, every '-' as \- (a minus: option and key names copy and paste as
 *  written), '"' as \(dq (so @s may also be a quoted macro argument), \& before
 *  a '.' or '\'' that would start a line (else it would be a request), and
 *  what is not ASCII as \[uXXXX], so the page needs no input encoding. A
 *  line starts where @g is empty or ends with '\n', and after each '\n' of
 *  @s; other control characters become spaces. The man page's tables
 *  (`lockstep man`: the commands, the config reference) go through it. */
void ls_man_str(GString *g, const char *s);

#endif
