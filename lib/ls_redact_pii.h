/* ls_redact_pii — the personal-data rules (ls_pii.h) as the redactor's
 * scanner (ls_redact.h): the glue between the two, so that neither knows
 * the other. Used by the redact stage and bench-redact. */
#ifndef LS_REDACT_PII_H
#define LS_REDACT_PII_H

struct ls_redact_match;
/** ls_pii_scan() as the redactor's scan callback (ls_redact.h): @rules is
 *  the struct ls_pii_rules *; at most 64 matches; 0 on error. */
int ls_pii_redact_scan(void *rules, const char *line, struct ls_redact_match *out, int max);

#endif
