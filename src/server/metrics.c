/* metrics — GET /metrics (being written: issue 14). */
#include "server.h"

void ls_metrics_text(GString *out, const struct ls_config *cfg, const char *stats_json)
{
	(void)cfg;
	(void)stats_json;
	g_string_append(out, "# lockstep metrics: not yet written\n");
}
