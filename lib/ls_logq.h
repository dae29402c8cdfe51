/* ls_logq — lines written to a file by a thread of their own, so that the
 * thread that makes them (a camera's streaming thread: the redaction audit)
 * never waits on the disk. The queue is bounded: when the writer is that
 * far behind, a new line is dropped and counted, never queued without end.
 *
 * Threads: any thread may push (a mutex, held to append a pointer); one
 * writer thread of the queue's own writes. */
#ifndef LS_LOGQ_H
#define LS_LOGQ_H

#include <stdint.h>

struct ls_logq;

/** A queue of at most @capacity lines written to @fd (owned from now on:
 *  closed by ls_logq_free). @what names the file in the one line printed
 *  when writing fails. NULL with errno set on failure (the fd is closed). */
struct ls_logq *ls_logq_new(int fd, unsigned capacity, const char *what);
/** Queues @line (transfer full: a malloc'd string, a newline included;
 *  freed here even when dropped). 0, or -EAGAIN when the queue was full and
 *  the line was dropped. */
int ls_logq_push(struct ls_logq *q, char *line);
/** Lines dropped because the queue was full, and lines that failed to
 *  write, so far. */
uint64_t ls_logq_dropped(struct ls_logq *q);
uint64_t ls_logq_failed(struct ls_logq *q);
/** Writes what is queued, stops the writer, closes the fd; sets *q to
 *  NULL. NULL-safe. */
void ls_logq_free(struct ls_logq **q);

#endif
