/* check — see check.h. */
#include "check.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "redact.h"
#include "source.h"

unsigned ls_config_check(const struct ls_config *cfg, bool probe, int timeout_ms, GPtrArray *problems)
{
	unsigned bad = 0;
	bool redacts = false;
	for (unsigned c = 0; c < cfg->ncams; c++) {
		const struct ls_camera_config *cc = &cfg->cams[c];
		char *err = NULL;
		redacts |= cc->redact;
		if (ls_source_spec_check(&cc->src, &err) < 0) {
			g_ptr_array_add(problems, g_strdup_printf("%s:%d: [camera %s] uri: %s", cfg->path, cc->line,
								  cc->name, err));
			g_free(err);
			bad++;
			continue;
		}
		if (probe && ls_source_probe(cc, timeout_ms, &err) < 0) {
			g_ptr_array_add(problems, g_strdup_printf("%s:%d: %s", cfg->path, cc->line, err));
			g_free(err);
			bad++;
		}
	}
	if (redacts) {
		char *err = NULL;
		if (ls_redact_stage_probe(&cfg->redact, &err) < 0) {
			g_ptr_array_add(problems,
					g_strdup_printf("%s:%d: [redact] %s", cfg->path, cfg->redact.line, err));
			g_free(err);
			bad++;
		}
	}
	if (cfg->record) {
		struct stat st;
		const char *d = cfg->record->dir;
		int e = stat(d, &st) < 0             ? errno
			: !S_ISDIR(st.st_mode)       ? ENOTDIR
			: access(d, W_OK | X_OK) < 0 ? errno
						     : 0;
		if (e) {
			g_ptr_array_add(problems, g_strdup_printf("%s:%d: [record] dir=%s: %s", cfg->path,
								  cfg->record->line, d, g_strerror(e)));
			bad++;
		}
	}
	return bad;
}

char *ls_config_summary(const struct ls_config *cfg, bool probed)
{
	return g_strdup_printf("%s: ok: %u camera%s at %g fps, %u output%s%s%s", cfg->path, cfg->ncams,
			       cfg->ncams == 1 ? "" : "s", (double)cfg->rate.num / cfg->rate.den, cfg->noutputs,
			       cfg->noutputs == 1 ? "" : "s", cfg->server ? ", the HTTP server" : "",
			       probed ? ", every camera opened" : "");
}
