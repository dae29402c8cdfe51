/* output_registry — which outputs a config asks for, and in what order.
 * Adding an output kind: its ops in output.h, its file, and its line here
 * (and its group in config.c). */
#include "output.h"

#include <stdio.h>

unsigned ls_output_registry_max(const struct ls_config *cfg)
{
	return cfg->noutputs + 4; /* [output ...] groups, [detect], [record], [server], [bus] */
}

static void row(struct ls_output_plan *plan, unsigned *n, unsigned max, const struct ls_output_ops *ops,
		const void *group, int line, const char *what)
{
	if (*n >= max)
		return;
	plan[*n].ops = ops;
	plan[*n].group = group;
	plan[*n].line = line;
	snprintf(plan[*n].what, sizeof plan[*n].what, "%s", what);
	(*n)++;
}

unsigned ls_output_registry_plan(const struct ls_config *cfg, struct ls_output_plan *plan, unsigned max)
{
	unsigned n = 0;
	/* [detect] first: a bad model fails the run before anything starts */
	if (cfg->detect)
		row(plan, &n, max, &ls_detect_out_ops, cfg->detect, cfg->detect->line, "detect");
	if (cfg->record)
		row(plan, &n, max, &ls_record_out_ops, cfg->record, cfg->record->line, "record");
	if (cfg->server)
		row(plan, &n, max, &ls_server_out_ops, cfg->server, cfg->server->line, "server");
	/* [bus] after [record]: a segment closed as [record] finishes is still sent */
	if (cfg->bus)
		row(plan, &n, max, &ls_bus_out_ops, cfg->bus, cfg->bus->line, "bus");
	for (unsigned i = 0; i < cfg->noutputs; i++) {
		static const struct {
			enum ls_output_kind kind;
			const struct ls_output_ops *ops;
		} kinds[] = {
			{ LS_OUTPUT_MOSAIC, &ls_mosaic_out_ops },
			{ LS_OUTPUT_SHM, &ls_shm_out_ops },
			{ LS_OUTPUT_FILE, &ls_file_out_ops },
			{ LS_OUTPUT_RTSP, &ls_rtsp_out_ops },
		};
		const struct ls_output_config *oc = &cfg->outputs[i];
		for (unsigned k = 0; k < G_N_ELEMENTS(kinds); k++)
			if (kinds[k].kind == oc->kind) {
				char what[32];
				snprintf(what, sizeof what, "output %s", kinds[k].ops->kind);
				row(plan, &n, max, kinds[k].ops, oc, oc->line, what);
			}
	}
	return n;
}
