/* console — the web console's live feed, events and history (issue 14; being written). */
#include "server.h"

struct ls_console {
	int unused;
};

struct ls_console *ls_console_new(struct ls_output_ctx *octx, const struct ls_config *cfg, GMainContext *ctx)
{
	(void)octx;
	(void)cfg;
	(void)ctx;
	return g_new0(struct ls_console, 1);
}

bool ls_console_request(struct ls_console *c, SoupServerMessage *msg, const char *path, GHashTable *query)
{
	(void)c;
	(void)msg;
	(void)path;
	(void)query;
	return false;
}

void ls_console_push(struct ls_console *c, const struct ls_frameset *set)
{
	(void)c;
	(void)set;
}

void ls_console_close(struct ls_console *c) { (void)c; }

void ls_console_free(struct ls_console **c) { g_clear_pointer(c, g_free); }

void ls_http_reply_vendor(SoupServerMessage *msg, const char *name)
{
	(void)name;
	ls_http_reply_error(msg, SOUP_STATUS_NOT_FOUND, "not yet");
}
