/* server.h — what the parts of lockstep's HTTP server (src/server/) share:
 * the JSON error replies of http.c, and WHEP (whep.c) with its entry points
 * for http.c. Private to src/server/. */
#ifndef LS_SERVER_H
#define LS_SERVER_H

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "config.h"
#include "values.h"
#include "ls_frameset.h"

struct ls_output_ctx;

/** Answers @msg with @status and {"version":1,"error":TEXT}. */
void ls_http_reply_error(SoupServerMessage *msg, guint status, const char *text);

/** Answers @msg with @status and @body (taken: JSON text), not cached. */
void ls_http_reply_json_text(SoupServerMessage *msg, guint status, GString *body);
/** Answers @msg with @status and @node (taken; JSON with json-glib). */
void ls_http_reply_json(SoupServerMessage *msg, guint status, JsonNode *node);
/** Whether @method is one of @allow (comma-separated, "GET, HEAD"); else
 *  answers 405 with Allow: @allow and a one-line reason naming @path. */
bool ls_http_takes(SoupServerMessage *msg, const char *method, const char *path, const char *allow);
/** Query value @name as a whole number in [@lo, @hi] into *out (@def when
 *  absent); false, with a 400 naming it answered, when it is not one. */
bool ls_http_query_int(SoupServerMessage *msg, GHashTable *query, const char *name, gint64 lo, gint64 hi, gint64 def,
		       gint64 *out);
/** Serves the compiled-in resource /lockstep/web/@name with @type; 404
 *  when there is none. */
void ls_http_reply_resource(SoupServerMessage *msg, const char *name, const char *type);

/* console.c: the console's live feed (server-sent events), its events and
 * statistics history, thumbnails and the running config (/api/v1/...). */
struct ls_console;
/** Subscribes to @octx's statistics, events and detections. @ctx is the
 *  server thread's context. */
struct ls_console *ls_console_new(struct ls_output_ctx *octx, const struct ls_config *cfg, GMainContext *ctx);
/** Server thread: answers @path when it is the console's (true), else false. */
bool ls_console_request(struct ls_console *c, SoupServerMessage *msg, const char *path, GHashTable *query);
/** The rig's latest per-second record (a copy to g_free), or NULL before
 *  the first. Any thread. */
char *ls_console_latest(struct ls_console *c);
/** Appends ,"console":{...}: live feeds open and ended for not reading,
 *  events kept, thumbnails made. Any thread. */
void ls_console_stats_json(struct ls_console *c, GString *j);
/** Server thread, rig stopping: ends the live feeds. */
void ls_console_close(struct ls_console *c);
void ls_console_free(struct ls_console **c);
/** Serves the chart library fetched at setup (uPlot, npm): @name is one of
 *  its files; 404 for any other name or when it is not installed. */
void ls_http_reply_vendor(SoupServerMessage *msg, const char *name);

/* metrics.c: GET /metrics, the Prometheus text format (0.0.4). */
/** Appends the exposition of @stats_json (the rig's latest per-second
 *  record, or NULL before the first) of a run of @cfg to @out. */
void ls_metrics_text(GString *out, const struct ls_config *cfg, const char *stats_json);

/* recordings.c: the recordings of [record] (/api/v1/recordings...) and
 * clip export (/api/v1/clips...), for the console's synchronized player. */
struct ls_recordings;
/** NULL without [record] (and *err NULL), or NULL with *err set. @ctx is
 *  the server thread's context: a paused message is finished there; an
 *  export is reported to @octx's events service ("clip-ready"). */
struct ls_recordings *ls_recordings_new(const struct ls_config *cfg, GMainContext *ctx,
					const struct ls_output_ctx *octx, char **err);
/** Server thread: answers a request whose @path starts with
 *  /api/v1/recordings or /api/v1/clips. Long work runs off the server
 *  thread (the message is paused meanwhile). */
void ls_recordings_request(struct ls_recordings *r, SoupServerMessage *msg, const char *path, GHashTable *query);
/** Server thread, rig stopping: finishes what is paused. */
void ls_recordings_close(struct ls_recordings *r);
/** Frees @r (after ls_recordings_close, with the server thread stopped); NULL-safe. */
void ls_recordings_free(struct ls_recordings **r);

/* remote.c: the redacted remote desktop ([remote]): /remote, its
 * WebSocket /remote/ws, /api/v1/remote. */
struct ls_remote;
/** NULL without [remote] (and *err NULL), or NULL with *err set (the audit
 *  file cannot be opened, no display). Subscribes to @octx's events (the
 *  redactor's full masks and canaries). @ctx: the server thread's context. */
struct ls_remote *ls_remote_new(const struct ls_config *cfg, struct ls_output_ctx *octx, GMainContext *ctx, char **err);
/** Adds the WebSocket handler at /remote/ws to @server (before it runs). */
void ls_remote_attach(struct ls_remote *r, SoupServer *server);
/** Server thread: answers /remote and /api/v1/remote (true; 404 when @r is
 *  NULL), else false. */
bool ls_remote_request(struct ls_remote *r, SoupServerMessage *msg, const char *path);
/** Appends ,"remote":{...}: sessions. NULL-safe. */
void ls_remote_stats_json(struct ls_remote *r, GString *j);
/** Server thread, rig stopping: ends the sessions (audited), releases input. */
void ls_remote_close(struct ls_remote *r);
void ls_remote_free(struct ls_remote **r);

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
