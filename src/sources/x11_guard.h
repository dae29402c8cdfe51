/* x11_guard — keeps the process alive when an X server goes away (see
 * x11_guard.c). A thread that was inside Xlib when its display's connection
 * broke never returns from it: Xlib cannot be used on that display again,
 * and going on would write past its buffers. Its owner abandons what the
 * thread belonged to (never stops it: stopping would join the thread). */
#ifndef LS_X11_GUARD_H
#define LS_X11_GUARD_H

#include <pthread.h>
#include <stdbool.h>

/** Whether @t is a thread held because its X display was lost. Any thread. */
bool ls_x11_thread_lost(pthread_t t);

/** Whether any thread is held so (gst_deinit() would wait for it). */
bool ls_x11_lost_any(void);

#endif
