/* xinput — mouse and keyboard events into an X display with XTEST (see
 * xinput.h).
 *
 * A character is typed by finding its keysym in the server's keymap as XKB
 * describes it (the key types decide which modifiers pick which level), in
 * the current group, with the locked modifiers (Caps Lock, Num Lock) the
 * server reports at that moment: the modifier keys to press are the
 * cheapest combination of Shift and ISO_Level3_Shift (AltGr) that makes the
 * key produce that keysym. The application computes the keysym from the
 * same keymap and the same state (Xlib's XkbTranslateKeyCode, then the
 * upper case when Lock is on and the key's type did not use it), so it
 * sees that character whatever the layout. Where Caps Lock is on and only
 * its absence gives the character (a bound ß, which Xlib would upcase),
 * Caps Lock is unlocked around the tap (XkbLockModifiers).
 *
 * A keysym in no key is bound to a spare keycode (one with no keysyms;
 * Xvfb's evdev keymap has 19), as [lower, upper] when it has a case pair
 * (the server then gives the key the ALPHABETIC type, which uses Caps Lock)
 * or [sym, sym]. Applications learn of a keymap change lazily, and lose
 * one that comes while they fetch the previous one (Xlib clears its
 * pending changes when that reply arrives), so:
 *  - bindings stay for the session, BIND_MAX of them, the least recently
 *    used reused; one is undone (at close) or reused only SETTLE_US after
 *    its last tap, as an application may not have looked that tap up yet
 *    (undone at once, the tap would type what the keycode means by then:
 *    xdotool's known flaw);
 *  - two keymap changes are at least CHANGE_GAP_US apart (typing twenty
 *    characters the layout lacks in a row costs 30 ms each; without the
 *    gap, Tk typed about one in thirty of them as the keycode's previous
 *    keysym or not at all).
 *
 * Modifier keys to press are found by keysym (Shift_L, Control_L, Alt_L,
 * Super_L, ISO_Level3_Shift) in the current keymap; the real modifiers each
 * sets are those the keymap's modifier map gives any key with that keysym
 * (a de layout's right Alt is ISO_Level3_Shift with no modifier map entry
 * of its own; its action sets LevelThree, which is Mod5 by <LVL3>'s entry).
 *
 * No X error handler is installed (it is process-wide, and GStreamer's X
 * elements share the process): every request is checked before it is sent
 * so that none can fail (keycodes from the keymap, buttons the pointer
 * has). */
#include "xinput.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/XKBlib.h>
#include <X11/keysym.h>
#include <X11/extensions/XTest.h>
#include <xkbcommon/xkbcommon.h>

#define BIND_MAX 32                                 /* keysyms bound to spare keycodes at once */
#define SETTLE_US 100000                            /* µs: an application has read a tap this long after it */
#define CHANGE_GAP_US 30000                         /* µs between two keymap changes (see the top) */
#define NKEYCODES 256                               /* X keycodes are 8 bits */
#define NROLES 5                                    /* modifier roles, indexed by LS_XMOD_* bit number */
#define LEVEL_ROLES (LS_XMOD_SHIFT | LS_XMOD_ALTGR) /* roles that pick a level */

/* A keysym bound to a spare keycode for the session. */
struct binding {
	KeySym syms[2]; /* what the keycode says now: [lower, upper] or [sym, sym] */
	KeyCode kc;
	KeySym *orig; /* the keycode's core keysyms before the session (XFree), norig of them */
	int norig;
	gint64 used_us; /* g_get_monotonic_time() of its last tap */
};

/* Everything below belongs to the one thread that uses the injector. */
struct ls_xinput {
	Display *dpy;
	int screen;
	int x0, y0, w, h; /* the region, screen pixels */
	int xkb_event;    /* XKB's event code */
	int min_kc, max_kc;
	int nbuttons; /* the pointer's buttons (the wheel is 4 to 7) */
	/* the server's keymap (key types, keysyms, modifier map); NULL when it
	 * changed since it was read: read again before use */
	XkbDescPtr xkb;
	int roles_group;            /* the group role_kc was found in; -1: find again */
	KeyCode role_kc[NROLES];    /* the key each modifier role presses; 0: none in the keymap */
	unsigned role_mask[NROLES]; /* the real modifiers it sets */
	struct binding bind[BIND_MAX];
	int nbind;
	gint64 changed_us;                 /* g_get_monotonic_time() of our last keymap change */
	unsigned char held[NKEYCODES / 8]; /* keycodes pressed by us and not released */
	unsigned buttons;                  /* bit b: button b is down (1 to 3) */
};

/* the keysyms that can play each role, best first (index: LS_XMOD_* bit) */
static const KeySym role_syms[NROLES][3] = {
	{ XK_Shift_L, XK_Shift_R, NoSymbol },        { XK_Control_L, XK_Control_R, NoSymbol },
	{ XK_Alt_L, XK_Alt_R, XK_Meta_L },           { XK_Super_L, XK_Super_R, XK_Meta_L },
	{ XK_ISO_Level3_Shift, NoSymbol, NoSymbol }, /* not Mode_switch: it switches the group */
};
/* the real modifiers a role sets when the modifier map says nothing */
static const unsigned role_default_mask[NROLES] = { ShiftMask, ControlMask, Mod1Mask, Mod4Mask, Mod5Mask };
/* the order in which roles are pressed (released in reverse): the level
 * roles last, next to the key */
static const int press_order[NROLES] = { 1, 2, 3, 0, 4 };

static const struct {
	const char *name;
	KeySym ks; /* NoSymbol: a modifier's own name, ignored */
} named_keys[] = {
	{ "Enter", XK_Return },  { "Tab", XK_Tab },        { "Backspace", XK_BackSpace }, { "Escape", XK_Escape },
	{ "Delete", XK_Delete }, { "Insert", XK_Insert },  { "Home", XK_Home },           { "End", XK_End },
	{ "PageUp", XK_Prior },  { "PageDown", XK_Next },  { "ArrowLeft", XK_Left },      { "ArrowRight", XK_Right },
	{ "ArrowUp", XK_Up },    { "ArrowDown", XK_Down }, { "Shift", NoSymbol },         { "Control", NoSymbol },
	{ "Alt", NoSymbol },     { "AltGraph", NoSymbol }, { "Meta", NoSymbol },          { "CapsLock", NoSymbol },
};

static void set_err(char **err, char *msg)
{
	if (err)
		*err = msg;
	else
		g_free(msg);
}

struct ls_xinput *ls_xinput_open(const char *display, int x0, int y0, int width, int height, char **err)
{
	/* the name Xlib uses: the argument, else $DISPLAY */
	const char *name = XDisplayName(display);
	struct ls_xinput *xi = g_new0(struct ls_xinput, 1);
	xi->dpy = XOpenDisplay(display);
	if (!xi->dpy) {
		set_err(err, g_strdup_printf("remote: cannot open X display \"%s\"", name));
		goto fail;
	}
	int ev, erb, maj, min;
	if (!XTestQueryExtension(xi->dpy, &ev, &erb, &maj, &min)) {
		set_err(err,
			g_strdup_printf("remote: X display \"%s\" has no XTEST extension (input cannot be injected)",
					name));
		goto fail_close;
	}
	int xkb_op, xkb_err, xkb_maj = XkbMajorVersion, xkb_min = XkbMinorVersion;
	if (!XkbQueryExtension(xi->dpy, &xkb_op, &xi->xkb_event, &xkb_err, &xkb_maj, &xkb_min)) {
		set_err(err, g_strdup_printf("remote: X display \"%s\" has no usable XKB extension", name));
		goto fail_close;
	}
	xi->screen = DefaultScreen(xi->dpy);
	int sw = DisplayWidth(xi->dpy, xi->screen), sh = DisplayHeight(xi->dpy, xi->screen);
	/* 0: to the screen's edge, as x11:// means it */
	if (width == 0)
		width = sw - x0;
	if (height == 0)
		height = sh - y0;
	if (width <= 0 || height <= 0 || x0 < 0 || y0 < 0 || x0 > sw - width || y0 > sh - height) {
		set_err(err, g_strdup_printf("region %dx%d+%d+%d is not on X display \"%s\"'s %dx%d screen", width,
					     height, x0, y0, name, sw, sh));
		goto fail_close;
	}
	xi->x0 = x0;
	xi->y0 = y0;
	xi->w = width;
	xi->h = height;
	XDisplayKeycodes(xi->dpy, &xi->min_kc, &xi->max_kc);
	unsigned char bmap[256];
	xi->nbuttons = XGetPointerMapping(xi->dpy, bmap, (int)sizeof bmap);
	/* keymap changes arrive as events: the next key reads the keymap again
	 * (MappingNotify comes to every client unasked) */
	unsigned sel = XkbNewKeyboardNotifyMask | XkbMapNotifyMask;
	XkbSelectEvents(xi->dpy, XkbUseCoreKbd, sel, sel);
	XFlush(xi->dpy);
	return xi;

fail_close:
	XCloseDisplay(xi->dpy);
fail:
	g_free(xi);
	return NULL;
}

static void forget_binding(struct ls_xinput *xi, int i)
{
	XFree(xi->bind[i].orig);
	xi->bind[i] = xi->bind[--xi->nbind];
}

/* Reads the events that came (only keymap changes are selected): after
 * one, the keymap is read again before its next use. A new keyboard is not
 * always a new keymap (the server sends one when XTEST's keyboard takes
 * over from another), so bindings are checked, not dropped (refresh). */
static void pump(struct ls_xinput *xi)
{
	bool stale = false;
	while (XPending(xi->dpy)) {
		XEvent ev;
		XNextEvent(xi->dpy, &ev);
		if (ev.type == MappingNotify) {
			stale = true;
		} else if (ev.type == xi->xkb_event) {
			const XkbAnyEvent *a = (const XkbAnyEvent *)&ev;
			stale = stale || a->xkb_type == XkbNewKeyboardNotify || a->xkb_type == XkbMapNotify;
		}
	}
	if (stale && xi->xkb) {
		XkbFreeKeyboard(xi->xkb, 0, True);
		xi->xkb = NULL;
	}
}

/* The keysym that @kc makes in @group with the effective modifiers @mods,
 * as an application's Xlib computes it: XKB's level (XkbTranslateKeyCode),
 * then, when Lock is on and the key's type did not consume it, the keysym's
 * upper case (XConvertCase), as the XKB protocol asks of clients. */
static KeySym sym_at(XkbDescPtr xkb, int kc, int group, unsigned mods)
{
	int ng = XkbKeyNumGroups(xkb, kc);
	if (ng == 0)
		return NoSymbol;
	if (group >= ng) {
		unsigned char gi = XkbKeyGroupInfo(xkb, kc);
		switch (XkbOutOfRangeGroupAction(gi)) {
		case XkbRedirectIntoRange:
			group = XkbOutOfRangeGroupNumber(gi);
			if (group >= ng)
				group = 0;
			break;
		case XkbClampIntoRange:
			group = ng - 1;
			break;
		default:
			group %= ng;
		}
	}
	XkbKeyTypePtr t = XkbKeyKeyType(xkb, kc, group);
	unsigned m = mods & t->mods.mask, consumed = t->mods.mask;
	int level = 0;
	for (int i = 0; i < t->map_count; i++) {
		if (t->map[i].active && t->map[i].mods.mask == m) {
			level = t->map[i].level;
			if (t->preserve)
				consumed &= ~t->preserve[i].mask;
			break;
		}
	}
	if (level >= XkbKeyGroupWidth(xkb, kc, group))
		return NoSymbol;
	KeySym ks = XkbKeySymEntry(xkb, kc, level, group);
	if ((mods & LockMask) && !(consumed & LockMask)) {
		KeySym lower, upper;
		XConvertCase(ks, &lower, &upper);
		ks = upper;
	}
	return ks;
}

/* Whether @ks is one of @kc's keysyms, at any level of any group. */
static bool key_has(XkbDescPtr xkb, int kc, KeySym ks)
{
	const KeySym *s = XkbKeySymsPtr(xkb, kc);
	for (int i = 0; i < XkbKeyNumSyms(xkb, kc); i++)
		if (s[i] == ks)
			return true;
	return false;
}

/* The keys and real modifiers of the roles in the current keymap. */
static void find_roles(struct ls_xinput *xi, int group)
{
	XkbDescPtr xkb = xi->xkb;
	for (int r = 0; r < NROLES; r++) {
		xi->role_kc[r] = 0;
		xi->role_mask[r] = 0;
		for (int j = 0; j < 3 && role_syms[r][j] != NoSymbol && !xi->role_kc[r]; j++) {
			KeySym ks = role_syms[r][j];
			int best = 0;
			unsigned mask = 0;
			for (int kc = xkb->min_key_code; kc <= xkb->max_key_code; kc++) {
				if (!key_has(xkb, kc, ks))
					continue;
				mask |= xkb->map->modmap[kc];
				/* a key that makes it unmodified; one with a modifier map entry first */
				if (sym_at(xkb, kc, group, 0) == ks &&
				    (!best || (!xkb->map->modmap[best] && xkb->map->modmap[kc])))
					best = kc;
			}
			xi->role_kc[r] = (KeyCode)best;
			xi->role_mask[r] = mask ? mask : role_default_mask[r];
		}
	}
}

/* Reads the keymap if it changed; drops the bindings someone else undid. */
static int refresh(struct ls_xinput *xi, int group)
{
	pump(xi);
	if (!xi->xkb) {
		xi->xkb = XkbGetMap(xi->dpy, XkbKeyTypesMask | XkbKeySymsMask | XkbModifierMapMask, XkbUseCoreKbd);
		if (!xi->xkb || !xi->xkb->map)
			return -EIO;
		xi->roles_group = -1;
		/* a binding whose key no longer says exactly what we bound was
		 * replaced (setxkbmap, xmodmap): nothing of ours to undo there */
		XkbDescPtr xkb = xi->xkb;
		for (int i = xi->nbind - 1; i >= 0; i--) {
			const struct binding *b = &xi->bind[i];
			bool ours = b->kc >= xkb->min_key_code && b->kc <= xkb->max_key_code &&
				    XkbKeyNumGroups(xkb, b->kc) == 1 && XkbKeySymEntry(xkb, b->kc, 0, 0) == b->syms[0];
			/* [sym, sym] may come back as one level */
			if (ours && XkbKeyGroupWidth(xkb, b->kc, 0) >= 2)
				ours = XkbKeySymEntry(xkb, b->kc, 1, 0) == b->syms[1];
			else if (ours)
				ours = b->syms[1] == b->syms[0];
			if (!ours)
				forget_binding(xi, i);
		}
	}
	if (group != xi->roles_group) {
		find_roles(xi, group);
		xi->roles_group = group;
	}
	return 0;
}

/* The key and level roles (LS_XMOD_SHIFT, LS_XMOD_ALTGR) that make @ks in
 * @group with the locked and latched modifiers @locked: the fewest roles
 * first. -ENOENT when no key makes it. */
static int find_key(struct ls_xinput *xi, KeySym ks, int group, unsigned locked, KeyCode *kc, unsigned *roles)
{
	static const unsigned combos[] = { 0, LS_XMOD_SHIFT, LS_XMOD_ALTGR, LS_XMOD_SHIFT | LS_XMOD_ALTGR };
	XkbDescPtr xkb = xi->xkb;
	for (size_t c = 0; c < G_N_ELEMENTS(combos); c++) {
		unsigned mods = locked;
		bool usable = true;
		for (int r = 0; r < NROLES; r++) {
			if (!(combos[c] & (1u << r)))
				continue;
			usable = usable && xi->role_kc[r];
			mods |= xi->role_mask[r];
		}
		if (!usable)
			continue;
		for (int k = xkb->min_key_code; k <= xkb->max_key_code; k++) {
			if (sym_at(xkb, k, group, mods) == ks) {
				*kc = (KeyCode)k;
				*roles = combos[c];
				return 0;
			}
		}
	}
	return -ENOENT;
}

/* Waits until an application has read the tap made at @used_us. */
static void settle(gint64 used_us)
{
	gint64 left = used_us + SETTLE_US - g_get_monotonic_time();
	if (left > 0)
		g_usleep((gulong)left);
}

/* Binds @ks to a spare keycode, or to the least recently used binding's.
 * The keymap is stale after. -ENOSPC when the keyboard has no spare
 * keycode. */
static int bind_keysym(struct ls_xinput *xi, KeySym ks)
{
	XkbDescPtr xkb = xi->xkb;
	/* xkbcommon's case pairs: Xlib's XConvertCase(ssharp) is 0x1e9e, no keysym */
	KeySym lower = xkb_keysym_to_lower((xkb_keysym_t)ks), upper = xkb_keysym_to_upper((xkb_keysym_t)ks);
	KeySym syms[2] = { ks, ks };
	if (lower != upper && (ks == lower || ks == upper)) {
		syms[0] = lower;
		syms[1] = upper;
	}
	int spare = 0;
	for (int kc = xkb->max_key_code; kc >= xkb->min_key_code && !spare; kc--)
		if (XkbKeyNumSyms(xkb, kc) == 0 && !xkb->map->modmap[kc])
			spare = kc;
	struct binding *b;
	if (spare && xi->nbind < BIND_MAX) {
		b = &xi->bind[xi->nbind];
		b->orig = XGetKeyboardMapping(xi->dpy, (KeyCode)spare, 1, &b->norig);
		if (!b->orig)
			return -EIO;
		xi->nbind++;
		b->kc = (KeyCode)spare;
	} else {
		if (!xi->nbind)
			return -ENOSPC;
		int old = 0;
		for (int i = 1; i < xi->nbind; i++)
			if (xi->bind[i].used_us < xi->bind[old].used_us)
				old = i;
		b = &xi->bind[old];
		settle(b->used_us); /* its orig stays: the keycode's from before the session */
	}
	b->syms[0] = syms[0];
	b->syms[1] = syms[1];
	gint64 wait = xi->changed_us + CHANGE_GAP_US - g_get_monotonic_time();
	if (wait > 0)
		g_usleep((gulong)wait);
	XChangeKeyboardMapping(xi->dpy, b->kc, 2, syms, 1);
	xi->changed_us = b->used_us = g_get_monotonic_time();
	XkbFreeKeyboard(xi->xkb, 0, True);
	xi->xkb = NULL;
	return 0;
}

static void key_event(struct ls_xinput *xi, KeyCode kc, bool down)
{
	XTestFakeKeyEvent(xi->dpy, kc, down, CurrentTime);
	if (down)
		xi->held[kc / 8] |= (unsigned char)(1u << (kc % 8));
	else
		xi->held[kc / 8] &= (unsigned char)~(1u << (kc % 8));
}

/* Presses the keys of @roles (all present in the keymap). */
static void roles_down(struct ls_xinput *xi, unsigned roles)
{
	for (int i = 0; i < NROLES; i++)
		if (roles & (1u << press_order[i]))
			key_event(xi, xi->role_kc[press_order[i]], true);
}

static void roles_up(struct ls_xinput *xi, unsigned roles)
{
	for (int i = NROLES - 1; i >= 0; i--)
		if (roles & (1u << press_order[i]))
			key_event(xi, xi->role_kc[press_order[i]], false);
}

static bool roles_present(const struct ls_xinput *xi, unsigned roles)
{
	for (int r = 0; r < NROLES; r++)
		if ((roles & (1u << r)) && !xi->role_kc[r])
			return false;
	return true;
}

/* What @key is: 1 a character (*ks its keysym, *alt the Unicode keysym
 * 0x01000000 + code point, which a keymap may hold instead), 2 a named key
 * (*ks), 0 a modifier's name, -EINVAL anything else. */
static int parse_key(const char *key, KeySym *ks, KeySym *alt)
{
	if (!*key || !g_utf8_validate(key, -1, NULL))
		return -EINVAL;
	if (!*g_utf8_next_char(key)) {
		gunichar cp = g_utf8_get_char(key);
		if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
			return -EINVAL;
		*ks = xkb_utf32_to_keysym(cp);
		*alt = 0x01000000 + cp;
		return *ks == NoSymbol ? -EINVAL : 1;
	}
	for (size_t i = 0; i < G_N_ELEMENTS(named_keys); i++) {
		if (!strcmp(key, named_keys[i].name)) {
			*ks = named_keys[i].ks;
			return *ks == NoSymbol ? 0 : 2;
		}
	}
	if (key[0] == 'F' && g_ascii_isdigit(key[1]) && (!key[2] || (g_ascii_isdigit(key[2]) && !key[3]))) {
		int n = atoi(key + 1);
		if (n >= 1 && n <= 12 && key[1] != '0') {
			*ks = XK_F1 + (KeySym)(n - 1);
			return 2;
		}
	}
	return -EINVAL;
}

/* How to tap a keysym: the key, the level roles to hold, and whether Caps
 * Lock must be unlocked around it. */
struct plan {
	KeyCode kc;
	unsigned roles;
	bool unlock;
};

/* Finds @ks (or @alt) with the locked and latched modifiers @locked, else,
 * when Caps Lock is locked (@caps), with it unlocked: a keysym whose key
 * does not use Lock and whose upper case Xlib would type instead (a bound ß:
 * Xlib upcases it to 0x1e9e, no keysym) can only be typed so. -ENOENT when
 * no key makes it. */
static int plan_key(struct ls_xinput *xi, KeySym ks, KeySym alt, int group, unsigned locked, bool caps, struct plan *p)
{
	for (int pass = 0; pass < 2; pass++) {
		if (pass && !caps)
			break;
		unsigned m = pass ? locked & ~LockMask : locked;
		p->unlock = pass;
		if (find_key(xi, ks, group, m, &p->kc, &p->roles) == 0 ||
		    (alt != NoSymbol && find_key(xi, alt, group, m, &p->kc, &p->roles) == 0))
			return 0;
	}
	return -ENOENT;
}

int ls_xinput_key(struct ls_xinput *xi, const char *key, unsigned mods)
{
	if (!key || (mods & ~LS_XMOD_ALL))
		return -EINVAL;
	KeySym ks = NoSymbol, alt = NoSymbol;
	int kind = parse_key(key, &ks, &alt);
	if (kind <= 0)
		return kind;
	XkbStateRec st;
	if (XkbGetState(xi->dpy, XkbUseCoreKbd, &st) != Success)
		return -EIO;
	int group = st.group;
	unsigned locked = st.locked_mods | st.latched_mods;
	bool caps = st.locked_mods & LockMask;
	int r = refresh(xi, group);
	if (r < 0)
		return r;
	struct plan p;
	if (plan_key(xi, ks, alt, group, locked, caps, &p) < 0) {
		r = bind_keysym(xi, ks);
		if (r < 0)
			return r;
		r = refresh(xi, group);
		if (r < 0)
			return r;
		if (plan_key(xi, ks, NoSymbol, group, locked, caps, &p) < 0)
			return -EIO; /* the server did not take the binding */
	}
	/* a character says its Shift and AltGr itself; a named key takes them all */
	unsigned roles = p.roles | (kind == 1 ? mods & ~LEVEL_ROLES : mods);
	if (!roles_present(xi, roles))
		return -ENOTSUP;
	for (int i = 0; i < xi->nbind; i++)
		if (xi->bind[i].kc == p.kc)
			xi->bind[i].used_us = g_get_monotonic_time();
	/* nothing can fail from here: no modifier is left down, Caps Lock is
	 * locked again (XTEST's events are processed in request order) */
	if (p.unlock)
		XkbLockModifiers(xi->dpy, XkbUseCoreKbd, LockMask, 0);
	roles_down(xi, roles);
	key_event(xi, p.kc, true);
	key_event(xi, p.kc, false);
	roles_up(xi, roles);
	if (p.unlock)
		XkbLockModifiers(xi->dpy, XkbUseCoreKbd, LockMask, LockMask);
	XFlush(xi->dpy);
	return 0;
}

static bool in_region(const struct ls_xinput *xi, int x, int y) { return x >= 0 && y >= 0 && x < xi->w && y < xi->h; }

static void move(struct ls_xinput *xi, int x, int y)
{
	XTestFakeMotionEvent(xi->dpy, xi->screen, xi->x0 + x, xi->y0 + y, CurrentTime);
}

int ls_xinput_motion(struct ls_xinput *xi, int x, int y)
{
	if (!in_region(xi, x, y))
		return -ERANGE;
	pump(xi);
	move(xi, x, y);
	XFlush(xi->dpy);
	return 0;
}

int ls_xinput_button(struct ls_xinput *xi, int x, int y, int button, bool down, unsigned mods)
{
	if (button < 1 || button > 3 || (mods & ~LS_XMOD_ALL))
		return -EINVAL;
	if (!in_region(xi, x, y))
		return -ERANGE;
	if (button > xi->nbuttons)
		return -ENOTSUP;
	if (mods) {
		XkbStateRec st;
		if (XkbGetState(xi->dpy, XkbUseCoreKbd, &st) != Success)
			return -EIO;
		int r = refresh(xi, st.group);
		if (r < 0)
			return r;
		if (!roles_present(xi, mods))
			return -ENOTSUP;
	} else {
		pump(xi);
	}
	move(xi, x, y);
	roles_down(xi, mods);
	XTestFakeButtonEvent(xi->dpy, (unsigned)button, down, CurrentTime);
	roles_up(xi, mods);
	if (down)
		xi->buttons |= 1u << button;
	else
		xi->buttons &= ~(1u << button);
	XFlush(xi->dpy);
	return 0;
}

static void notches(struct ls_xinput *xi, int d, unsigned neg_button, unsigned pos_button)
{
	unsigned b = d < 0 ? neg_button : pos_button;
	int n = MIN(ABS(d), LS_XINPUT_WHEEL_MAX);
	for (int i = 0; i < n; i++) {
		XTestFakeButtonEvent(xi->dpy, b, True, CurrentTime);
		XTestFakeButtonEvent(xi->dpy, b, False, CurrentTime);
	}
}

int ls_xinput_wheel(struct ls_xinput *xi, int x, int y, int dx, int dy)
{
	if (!in_region(xi, x, y))
		return -ERANGE;
	if ((dy && xi->nbuttons < 5) || (dx && xi->nbuttons < 7))
		return -ENOTSUP; /* a button the pointer lacks would be an X error */
	pump(xi);
	move(xi, x, y);
	notches(xi, dy, 4, 5);
	notches(xi, dx, 6, 7);
	XFlush(xi->dpy);
	return 0;
}

int ls_xinput_release_all(struct ls_xinput *xi)
{
	int n = 0;
	for (int kc = 0; kc < NKEYCODES; kc++) {
		if (xi->held[kc / 8] & (1u << (kc % 8))) {
			key_event(xi, (KeyCode)kc, false);
			n++;
		}
	}
	for (unsigned b = 1; b <= 3; b++) {
		if (xi->buttons & (1u << b)) {
			XTestFakeButtonEvent(xi->dpy, b, False, CurrentTime);
			n++;
		}
	}
	xi->buttons = 0;
	XFlush(xi->dpy);
	return n;
}

void ls_xinput_close(struct ls_xinput **pxi)
{
	struct ls_xinput *xi = pxi ? *pxi : NULL;
	if (!xi)
		return;
	ls_xinput_release_all(xi);
	if (xi->nbind) {
		gint64 last = 0;
		for (int i = 0; i < xi->nbind; i++)
			last = MAX(last, xi->bind[i].used_us);
		settle(last);
		/* the bindings still there (refresh drops the ones a new keymap took) */
		XkbStateRec st;
		int group = XkbGetState(xi->dpy, XkbUseCoreKbd, &st) == Success ? st.group : 0;
		if (refresh(xi, group) == 0)
			for (int i = 0; i < xi->nbind; i++)
				XChangeKeyboardMapping(xi->dpy, xi->bind[i].kc, xi->bind[i].norig, xi->bind[i].orig, 1);
		while (xi->nbind)
			forget_binding(xi, xi->nbind - 1);
	}
	if (xi->xkb)
		XkbFreeKeyboard(xi->xkb, 0, True);
	XSync(xi->dpy, False);
	XCloseDisplay(xi->dpy);
	g_free(xi);
	*pxi = NULL;
}
