/* server.h — what the parts of lockstep's HTTP server (src/server/) share:
 * the JSON error replies of http.c, and WHEP (whep.c) with its entry points
 * for http.c. Private to src/server/. */
#ifndef LS_SERVER_H
#define LS_SERVER_H

#include <libsoup/soup.h>

#include "config.h"
#include "ls_frameset.h"

/** Appends @s to @g as a JSON string (quotes and escapes). */
void ls_http_json_str(GString *g, const char *s);
/** Answers @msg with @status and {"version":1,"error":TEXT}. */
void ls_http_reply_error(SoupServerMessage *msg, guint status, const char *text);

/* WHEP (RFC 9725): WebRTC to browsers, POST /whep/CAMERA and /whep/mosaic. */
struct ls_whep;

/** Makes the WHEP side of a server: one stream per camera and the mosaic,
 *  encoded only while someone watches. @ctx is the server thread's context,
 *  where ls_whep_request runs and WHEP finishes its answers. NULL with *err
 *  set when it cannot (the mosaic does not lay out, webrtcbin missing). */
struct ls_whep *ls_whep_new(const struct ls_config *cfg, const struct ls_server_config *sc, GMainContext *ctx,
			    char **err);
/** Server thread: answers a request under /whep/ (@path starts with it). */
void ls_whep_request(struct ls_whep *w, SoupServerMessage *msg, const char *path);
/** The server's frameset thread: hands @set's frames to the streams that
 *  have viewers. Never blocks on a viewer. */
void ls_whep_push(struct ls_whep *w, const struct ls_frameset *set);
/** Server thread: ends every viewer (rig stopping); later POSTs get 503. */
void ls_whep_close(struct ls_whep *w);
/** Appends ,"whep":{...} (viewers, frames per stream, refusals). */
void ls_whep_stats_json(struct ls_whep *w, GString *j);
/** Appends ,"streams":[...] for /api/v1/status: each stream's name. */
void ls_whep_status_json(struct ls_whep *w, GString *j);
/** Frees @w (after ls_whep_close, with the server thread stopped); NULL-safe. */
void ls_whep_free(struct ls_whep **w);

#endif
