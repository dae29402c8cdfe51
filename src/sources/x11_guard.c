/* x11_guard — a lost X server must not end the process.
 *
 * Xlib's answer to a broken connection (an X server that died or was
 * restarted under an x11:// camera or a display=true window) is to call
 * exit(): one lost screen would stop every camera, recording and output of
 * the rig. libX11 >= 1.7 lets a program replace that exit per display
 * (XSetIOErrorExitHandler); the displays are opened inside GStreamer's
 * elements (ximagesrc, ximagesink, xvimagesink), so lockstep defines
 * XOpenDisplay itself, exported from the executable (see meson.build), and
 * every element's call reaches it first: it opens the display with libX11's
 * own XOpenDisplay and installs handlers that return: the process-wide IO
 * error handler (Xlib's default one calls exit() too) and the display's exit
 * handler. Xlib then marks the
 * display broken, every later request on it fails at once, the element
 * reports an error (or goes silent and the source's watchdog notices), and
 * the source rebuilds its pipeline on a new connection.
 *
 * Without libX11 loaded (no X element in use) nothing here runs. No X11
 * headers are needed: the two types are opaque here. */
#include "x11_guard.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct _XDisplay Display;
typedef void (*ls_x_exit_handler)(Display *dpy, void *user);

Display *XOpenDisplay(const char *name);

static Display *(*real_open)(const char *name);
static void (*set_exit_handler)(Display *dpy, ls_x_exit_handler fn, void *user);
static pthread_once_t once = PTHREAD_ONCE_INIT;

#define LOST_MAX 64 /* threads held; more lost X servers than this in one run and the process exits, as Xlib would */

/* threads held in on_io_error, protected by lost_lock */
static pthread_mutex_t lost_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
static pthread_t lost[LOST_MAX];
static unsigned nlost;

bool ls_x11_thread_lost(pthread_t t)
{
	bool found = false;
	pthread_mutex_lock(&lost_lock);
	for (unsigned i = 0; i < nlost && !found; i++)
		found = pthread_equal(lost[i], t);
	pthread_mutex_unlock(&lost_lock);
	return found;
}

bool ls_x11_lost_any(void)
{
	pthread_mutex_lock(&lost_lock);
	bool any = nlost > 0;
	pthread_mutex_unlock(&lost_lock);
	return any;
}

/* Xlib's IO error handler, on the thread whose request failed: says so,
 * and holds the thread (see above). */
static int on_io_error(Display *dpy)
{
	(void)dpy;
	pthread_mutex_lock(&lost_lock);
	if (nlost == LOST_MAX) {
		pthread_mutex_unlock(&lost_lock);
		fprintf(stderr, "x11: the connection to an X server was lost %u times; exiting\n", LOST_MAX + 1);
		return 0; /* Xlib's exit handler runs: ours is not installed past this */
	}
	lost[nlost++] = pthread_self();
	fprintf(stderr, "x11: the connection to an X server was lost; the camera or window on it stops here, "
			"the rig goes on (a camera reconnects)\n");
	for (;;)
		pthread_cond_wait(&never, &lost_lock);
	return 0;
}

static void resolve(void)
{
	/* libX11 is already loaded by the element calling us: look in it,
	 * not in the global scope (which would find this function again) */
	void *x = dlopen("libX11.so.6", RTLD_LAZY | RTLD_LOCAL | RTLD_NOLOAD);
	if (!x)
		x = dlopen("libX11.so.6", RTLD_LAZY | RTLD_LOCAL);
	if (!x)
		return;
	real_open = (Display * (*)(const char *)) dlsym(x, "XOpenDisplay");
	set_exit_handler = (void (*)(Display *, ls_x_exit_handler, void *))dlsym(x, "XSetIOErrorExitHandler");
	int (*(*set_io_handler)(int (*)(Display *)))(Display *) = (int (*(*)(int (*)(Display *)))(Display *))dlsym(
		x, "XSetIOErrorHandler");
	if (set_exit_handler && set_io_handler) /* both, or Xlib still exits */
		set_io_handler(on_io_error);
	else
		set_exit_handler = NULL; /* libX11 < 1.7: it exits as before */
					 /* the handle stays open: the library is in use for the process's life */
}

/* Called by Xlib after the IO error handler: only when that gave up
 * (LOST_MAX), so it exits as Xlib's own would. */
static void on_io_exit(Display *dpy, void *user)
{
	(void)dpy;
	(void)user;
	exit(1); /* as Xlib's own exit handler */
}

Display *XOpenDisplay(const char *name)
{
	pthread_once(&once, resolve);
	if (!real_open)
		return NULL;
	Display *d = real_open(name);
	if (d && set_exit_handler)
		set_exit_handler(d, on_io_exit, NULL);
	return d;
}
