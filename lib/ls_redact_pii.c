/* ls_redact_pii — see ls_redact_pii.h. */
#include "ls_redact_pii.h"

#include "ls_pii.h"
#include "ls_redact.h"

int ls_pii_redact_scan(void *rules, const char *line, struct ls_redact_match *out, int max)
{
	struct ls_pii_match m[64];
	int n = ls_pii_scan(rules, line, m, max < 64 ? max : 64);
	for (int i = 0; i < n; i++)
		out[i] = (struct ls_redact_match){ m[i].start, m[i].end, m[i].rule_id, m[i].confidence };
	return n < 0 ? 0 : n;
}
