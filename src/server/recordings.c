/* recordings — /api/v1/recordings and /api/v1/clips (being written: issue 14). */
#include "server.h"

struct ls_recordings {
	int unused;
};

struct ls_recordings *ls_recordings_new(const struct ls_config *cfg, GMainContext *ctx, char **err)
{
	(void)ctx;
	(void)err;
	return cfg->record ? g_new0(struct ls_recordings, 1) : NULL;
}

void ls_recordings_request(struct ls_recordings *r, SoupServerMessage *msg, const char *path, GHashTable *query)
{
	(void)r;
	(void)query;
	(void)path;
	ls_http_reply_error(msg, SOUP_STATUS_NOT_FOUND, "not yet written");
}

void ls_recordings_close(struct ls_recordings *r) { (void)r; }

void ls_recordings_free(struct ls_recordings **r) { g_clear_pointer(r, g_free); }
