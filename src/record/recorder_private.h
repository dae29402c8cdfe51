/* recorder_private — what the recorder's files share: record_index.c (the
 * index, reading segments), recovery.c, retention.c and clip_cut.c.
 * Callers use recorder.h.
 *
 * Ownership: an index owns its SQLite connection (ls_rec_index_open /
 * ls_rec_index_close). A reader pipeline from reader_new() and its *sink
 * belong to the caller until reader_free(), which stops and releases both.
 *
 * Threads: once the index is open, every statement on its db is prepared,
 * stepped and finalized in record_index.c with @lock held, so any thread may
 * use the index (recorder.h); the other files read db only for
 * sqlite3_errmsg().
 * reader_new(), reader_free() and fsync_path() keep no state: any thread. */
#ifndef LS_RECORDER_PRIVATE_H
#define LS_RECORDER_PRIVATE_H

#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <sqlite3.h>
#include <stdbool.h>

#include "recorder.h"

struct ls_rec_index {
	sqlite3 *db;
	GMutex lock; /* one statement at a time on the connection */
};

/* In record_index.c ("reading segments"): */

/** filesrc ! tsdemux ! h264parse ! appsink on @path, playing: one sample
 *  per access unit. NULL when it cannot be built or started. */
GstElement *reader_new(const char *path, GstAppSink **sink);
void reader_free(GstElement *p, GstAppSink *sink);

/* In recovery.c: */

/** fsync() of the file (@dir false) or directory at @path: 0 or -errno. */
int fsync_path(const char *path, bool dir);

#endif
