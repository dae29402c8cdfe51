/* check — see check.h. */
#include "check.h"

#include <errno.h>
#include <gio/gio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "detect.h"
#include "redact.h"
#include "source.h"

/* [bus]: its files can be read, its spool's directory written, and (probe)
 * one of its servers takes a TCP connection. */
static unsigned check_bus(const struct ls_config *cfg, bool probe, int timeout_ms, GPtrArray *problems)
{
	const struct ls_bus_config *b = cfg->bus;
	unsigned bad = 0;
	const char *keys[] = { "creds", "ca", "cert", "key" }, *files[] = { b->creds, b->ca, b->cert, b->key };
	for (unsigned i = 0; i < G_N_ELEMENTS(keys); i++)
		if (files[i] && access(files[i], R_OK) < 0) {
			g_ptr_array_add(problems, g_strdup_printf("%s:%d: [bus] %s = %s: %s", cfg->path, b->line,
								  keys[i], files[i], g_strerror(errno)));
			bad++;
		}
	if (b->spool) {
		char *dir = g_path_get_dirname(b->spool);
		if (access(dir, W_OK | X_OK) < 0) {
			g_ptr_array_add(problems,
					g_strdup_printf("%s:%d: [bus] spool = %s: cannot write in %s: %s", cfg->path,
							b->line, b->spool, dir, g_strerror(errno)));
			bad++;
		}
		g_free(dir);
	}
	if (!probe)
		return bad;
	GSocketClient *sc = g_socket_client_new();
	g_socket_client_set_timeout(sc, (guint)(timeout_ms + 999) / 1000);
	GString *why = g_string_new(NULL);
	bool reached = false;
	for (char **s = b->servers; *s && !reached; s++) {
		GError *e = NULL;
		const char *hp = strstr(*s, "://");
		GSocketConnection *c = g_socket_client_connect_to_host(sc, hp ? hp + 3 : *s, 0, NULL, &e);
		if (c) {
			reached = true;
			g_object_unref(c);
		} else {
			g_string_append_printf(why, "%s%s: %s", why->len ? "; " : "", *s, e->message);
			g_error_free(e);
		}
	}
	if (!reached) {
		g_ptr_array_add(problems, g_strdup_printf("%s:%d: [bus] url: no broker answers (%s); a run would spool "
							  "until one does",
							  cfg->path, b->line, why->str));
		bad++;
	}
	g_string_free(why, TRUE);
	g_object_unref(sc);
	return bad;
}

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
	if (cfg->detect) {
		/* the model and ONNX Runtime are there (a missing one names
		 * `lockstep fetch-models`); with @probe, loaded as `run` loads
		 * them. Without, no session: the console checks a running rig,
		 * whose detector is loaded, on every view of its Config page */
		char *err = NULL;
		struct ls_detector *d = NULL;
		bool ok = probe ? (d = ls_detector_new(cfg->detect, cfg->ncams, &err)) != NULL
				: ls_detector_probe(cfg->detect, &err) == 0;
		if (!ok) {
			g_ptr_array_add(problems,
					g_strdup_printf("%s:%d: [detect] %s", cfg->path, cfg->detect->line, err));
			g_free(err);
			bad++;
		}
		ls_detector_free(&d);
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
	if (cfg->bus)
		bad += check_bus(cfg, probe, timeout_ms, problems);
	return bad;
}

char *ls_config_summary(const struct ls_config *cfg, bool probed)
{
	return g_strdup_printf("%s: ok: %u camera%s at %g fps, %u output%s%s%s%s", cfg->path, cfg->ncams,
			       cfg->ncams == 1 ? "" : "s", (double)cfg->rate.num / cfg->rate.den, cfg->noutputs,
			       cfg->noutputs == 1 ? "" : "s", cfg->server ? ", the HTTP server" : "",
			       cfg->remote.present
				       ? (cfg->remote.input ? " with the remote desktop (/remote, input on)"
							    : " with the remote desktop (/remote, view only)")
				       : "",
			       probed ? ", every camera opened" : "");
}
