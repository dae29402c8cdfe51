/* lockstep — synchronized multi-camera capture keyed by slot index.
 *
 *   lockstep run CONFIG [--duration S] [--stats-json FILE] [--quiet]
 *   lockstep check CONFIG [--no-probe] [--probe-timeout MS]
 *   lockstep redact --input URI --output URI... [--audit FILE] [--rules FILE] [options]
 *   lockstep shm-dump NAME [--count N] [--timeout S]
 *   lockstep clip --config C --from TIME --to TIME [--camera NAME]... [--pre S] [--post S] --out DIR
 *   lockstep bench schedule --threads N --rate R --seconds S [--rt] [--spin-us US] [--per-slot]
 *   lockstep config-reference
 */
#include <errno.h>
#include <gst/gst.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static void usage(FILE *to)
{
	fputs("usage:\n"
	      "  lockstep run CONFIG [--duration S] [--stats-json FILE] [--quiet]\n"
	      "  lockstep check CONFIG [--no-probe] [--probe-timeout MS]\n"
	      "  lockstep redact --input URI --output URI [--output URI...] [--audit FILE] [--rules FILE]\n"
	      "                  [--rate R] [--duration S] [--canary S] [--wait] [--workers N] [--budget-ms MS]\n"
	      "                  [--langs eng+deu] [--stats-json FILE] [--quiet]\n"
	      "      outputs: file:///x.mp4|.mkv|.ts|.y4m, file:///dir/%05d.png, display://, shm://NAME\n"
	      "  lockstep shm-dump NAME [--count N] [--timeout S]\n"
	      "  lockstep clip --config C --from TIME --to TIME [--camera NAME]... [--pre S] [--post S] --out DIR\n"
	      "  lockstep coordinate start|stop CONFIG [--at TIME] [--wait-s S]   every node on CONFIG's [bus]\n"
	      "  lockstep join CONFIG --nodes A,B,... [--max-latency-ms MS] [--duration S] [--output FILE]\n"
	      "                [--stats-json FILE] [--publish]   the nodes' framesets from the bus, per slot\n"
	      "  lockstep bench schedule --threads N --rate R --seconds S [--rt] [--spin-us US] [--per-slot]\n"
	      "  lockstep config-reference   every config key, its default and range\n"
	      "  lockstep version\n",
	      to);
}

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
	const char *path = g_str_has_prefix(uri, "file://") ? uri + 7 : uri;
	if (strstr(uri, "://") && !g_str_has_prefix(uri, "file://")) {
		fprintf(stderr,
			"lockstep redact: --output %s: expected file:///PATH (.mp4, .mkv, .ts, .y4m or a %%05d.png "
			"sequence), display:// or shm://NAME\n",
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
	GPtrArray *outputs = g_ptr_array_new();
	double canary = 0, workers = 0, budget = 0;
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
	rc = 1;
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
	if (canary)
		g_string_append_printf(g, "canary-s = %g\n", canary);
	if (wait)
		g_string_append(g, "wait = true\n");
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
		fprintf(stderr, "lockstep redact: %s\n", what ? what + 2 : err);
		g_free(err);
		g_string_free(g, TRUE);
		goto out;
	}
	g_string_free(g, TRUE);
	rc = ls_rig_run(cfg, &o);
	ls_config_free(&cfg);
out:
	g_ptr_array_free(outputs, TRUE);
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

/* Prints the config reference (config.h): what README.md's "Config
 * reference" block is made from. */
static int cmd_config_reference(int argc, char **argv)
{
	if (argc > 0) {
		fprintf(stderr, "lockstep config-reference: unexpected argument \"%s\"\n", argv[0]);
		return 2;
	}
	char *ref = ls_config_reference();
	fputs(ref, stdout);
	g_free(ref);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "lockstep config-reference: cannot write the reference: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	main_argv = argv;
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("lockstep %s\n", LOCKSTEP_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "shm-dump"))
		return cmd_shm_dump(argc - 2, argv + 2);
	if (!strcmp(cmd, "config-reference"))
		return cmd_config_reference(argc - 2, argv + 2);
	if (!strcmp(cmd, "coordinate"))
		return cmd_coordinate(argc - 2, argv + 2);
	if (!strcmp(cmd, "join"))
		return cmd_join(argc - 2, argv + 2);
	if (!strcmp(cmd, "bench")) {
		if (argc >= 3 && !strcmp(argv[2], "schedule"))
			return cmd_bench_schedule(argc - 3, argv + 3);
		fprintf(stderr, "lockstep bench: unknown benchmark \"%s\" (expected: schedule)\n",
			argc >= 3 ? argv[2] : "");
		return 2;
	}
	gst_init(NULL, NULL);
	int rc;
	if (!strcmp(cmd, "run"))
		rc = cmd_run(argc - 2, argv + 2);
	else if (!strcmp(cmd, "check"))
		rc = cmd_check(argc - 2, argv + 2);
	else if (!strcmp(cmd, "redact"))
		rc = cmd_redact(argc - 2, argv + 2);
	else if (!strcmp(cmd, "clip"))
		rc = cmd_clip(argc - 2, argv + 2);
	else {
		fprintf(stderr, "lockstep: unknown command \"%s\"\n", cmd);
		usage(stderr);
		rc = 2;
	}
	/* gst_deinit() joins every streaming thread: not those held for good
	 * after their X server was lost (x11_guard.h) */
	if (!ls_x11_lost_any())
		gst_deinit();
	return rc;
}
