/* xinput-tool DISPLAY X0 Y0 W H: drives src/remote/xinput.c (the remote
 * desktop's injector) from stdin, one command a line, and answers each with
 * one line: "ok" (or "ok VALUE") or "error: <strerror of the -errno>". Used
 * by tests/xinput.py; handy for trying a layout by hand.
 *
 * KEY and TEXT are percent-encoded UTF-8 (as in URLs: "%20" is a space,
 * "%25" a percent sign; any other byte may stand as itself), MODS the
 * LS_XMOD_* bits as a number (1 Shift, 2 Ctrl, 4 Alt, 8 Meta, 16 AltGr):
 *   key KEY MODS              ls_xinput_key(), e.g. "key ü 0", "key Tab 1"
 *   type TEXT                 ls_xinput_key() per code point, mods 0; stops at the first error
 *   motion X Y                ls_xinput_motion()
 *   button X Y B down|up MODS ls_xinput_button()
 *   wheel X Y DX DY           ls_xinput_wheel()
 *   release                   ls_xinput_release_all(): "ok N"
 *   close | open              ls_xinput_close(), ls_xinput_open() again with the same arguments
 *   keymap                    "ok HASH": FNV-1a of the core keymap (XGetKeyboardMapping), on a
 *                             connection of its own, to compare before and after
 *   capslock 0|1              unlocks or locks Caps Lock (XkbLockModifiers), on a connection of its own
 * Empty lines and lines starting with # are skipped. Exit status: 0, 1 when
 * the display cannot be opened (the message on stderr), 2 for bad usage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <X11/Xlib.h>
#include <X11/XKBlib.h>

#include "xinput.h"

/* Decodes %XX in place; -EINVAL for a bad escape. */
static int unpercent(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (*s != '%') {
			*o++ = *s;
			continue;
		}
		int hi = g_ascii_xdigit_value(s[1]), lo = hi < 0 ? -1 : g_ascii_xdigit_value(s[2]);
		if (lo < 0)
			return -EINVAL;
		*o++ = (char)(hi * 16 + lo);
		s += 2;
	}
	*o = 0;
	return 0;
}

static int keymap_hash(const char *display, unsigned long long *hash)
{
	Display *d = XOpenDisplay(display);
	if (!d)
		return -ENXIO;
	int min, max, per;
	XDisplayKeycodes(d, &min, &max);
	KeySym *syms = XGetKeyboardMapping(d, (KeyCode)min, max - min + 1, &per);
	unsigned long long h = 0xcbf29ce484222325ull;
	for (int i = 0; syms && i < (max - min + 1) * per; i++) {
		for (int b = 0; b < 4; b++) {
			h ^= (syms[i] >> (8 * b)) & 0xff;
			h *= 0x100000001b3ull;
		}
	}
	h ^= (unsigned long long)per;
	XFree(syms);
	XCloseDisplay(d);
	*hash = h;
	return 0;
}

static int capslock(const char *display, bool on)
{
	Display *d = XOpenDisplay(display);
	if (!d)
		return -ENXIO;
	int r = XkbLockModifiers(d, XkbUseCoreKbd, LockMask, on ? LockMask : 0) ? 0 : -EIO;
	XSync(d, False);
	XCloseDisplay(d);
	return r;
}

/* Runs one command; returns >= 0 (printed after "ok" when @value) or -errno. */
static int run(struct ls_xinput **xi, char **argv, int n, char *const *open_args, bool *value)
{
	const char *cmd = argv[0];
	*value = false;
	if (!strcmp(cmd, "keymap") && n == 1) {
		unsigned long long h;
		int r = keymap_hash(open_args[0], &h);
		if (r == 0)
			printf("ok %016llx\n", h);
		return r < 0 ? r : 1; /* 1: printed */
	}
	if (!strcmp(cmd, "capslock") && n == 2)
		return capslock(open_args[0], atoi(argv[1]) != 0);
	if (!strcmp(cmd, "open") && n == 1) {
		if (*xi)
			return -EBUSY;
		char *err = NULL;
		*xi = ls_xinput_open(open_args[0], atoi(open_args[1]), atoi(open_args[2]), atoi(open_args[3]),
				     atoi(open_args[4]), &err);
		if (!*xi) {
			fprintf(stderr, "%s\n", err);
			g_free(err);
			return -ENXIO;
		}
		return 0;
	}
	if (!*xi)
		return -EBADF;
	if (!strcmp(cmd, "close") && n == 1) {
		ls_xinput_close(xi);
		return 0;
	}
	if (!strcmp(cmd, "key") && n == 3) {
		if (unpercent(argv[1]) < 0)
			return -EINVAL;
		return ls_xinput_key(*xi, argv[1], (unsigned)strtoul(argv[2], NULL, 0));
	}
	if (!strcmp(cmd, "type") && n == 2) {
		if (unpercent(argv[1]) < 0 || !g_utf8_validate(argv[1], -1, NULL))
			return -EINVAL;
		for (const char *p = argv[1]; *p; p = g_utf8_next_char(p)) {
			char one[8] = { 0 };
			memcpy(one, p, (size_t)(g_utf8_next_char(p) - p));
			int r = ls_xinput_key(*xi, one, 0);
			if (r < 0)
				return r;
		}
		return 0;
	}
	if (!strcmp(cmd, "motion") && n == 3)
		return ls_xinput_motion(*xi, atoi(argv[1]), atoi(argv[2]));
	if (!strcmp(cmd, "button") && n == 6) {
		bool down = !strcmp(argv[4], "down");
		if (!down && strcmp(argv[4], "up"))
			return -EINVAL;
		return ls_xinput_button(*xi, atoi(argv[1]), atoi(argv[2]), atoi(argv[3]), down,
					(unsigned)strtoul(argv[5], NULL, 0));
	}
	if (!strcmp(cmd, "wheel") && n == 5)
		return ls_xinput_wheel(*xi, atoi(argv[1]), atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
	if (!strcmp(cmd, "release") && n == 1) {
		*value = true;
		return ls_xinput_release_all(*xi);
	}
	return -EINVAL;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: xinput-tool DISPLAY X0 Y0 W H < commands\n");
		return 2;
	}
	char *err = NULL;
	struct ls_xinput *xi = ls_xinput_open(argv[1], atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]),
					      &err);
	if (!xi) {
		fprintf(stderr, "%s\n", err);
		g_free(err);
		return 1;
	}
	char line[4096];
	while (fgets(line, sizeof line, stdin)) {
		line[strcspn(line, "\r\n")] = 0;
		char *words[8];
		int n = 0;
		for (char *save = NULL, *w = strtok_r(line, " \t", &save); w && n < 8; w = strtok_r(NULL, " \t", &save))
			words[n++] = w;
		if (n == 0 || words[0][0] == '#')
			continue;
		bool value;
		int r = run(&xi, words, n, argv + 1, &value);
		if (r < 0)
			printf("error: %s\n", strerror(-r));
		else if (value)
			printf("ok %d\n", r);
		else if (strcmp(words[0], "keymap"))
			printf("ok\n");
		fflush(stdout);
	}
	ls_xinput_close(&xi);
	return 0;
}
