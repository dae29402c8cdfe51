/* xinput — the remote desktop's injector: mouse and keyboard events from a
 * browser, replayed into an X display with XTEST (xinput.c).
 *
 * Coordinates are in pixels of the region of the X screen that the video
 * shows (the region's top left is 0,0), so the browser never needs to know
 * where on the screen that region lies. Keys are browser KeyboardEvent.key
 * values: a character is typed as that character whatever the server's
 * keyboard layout is (a keysym the layout lacks is bound to a spare keycode
 * for the session and unbound at close); a named key (Enter, F5, ...) is
 * pressed as that key.
 *
 * Threads: not thread-safe. One thread uses one struct ls_xinput, from open
 * to close (it owns an Xlib connection of its own; libX11 >= 1.8 makes Xlib
 * itself safe for other threads using other connections). Every call sends
 * its events at once (XFlush) and returns with no button press it did not
 * ask for and no modifier key held.
 *
 * Errors: int returns are >= 0 on success, a negative errno on failure; a
 * call that fails sent no input event (ls_xinput_key() may have bound a
 * keycode before an -EIO). If the X server goes away, Xlib's IO error
 * handler runs (in lockstep: src/sources/x11_guard.c holds the calling
 * thread for good). */
#ifndef LS_XINPUT_H
#define LS_XINPUT_H

#include <stdbool.h>

/** Opaque: one connection to one X display. */
struct ls_xinput;

/** Modifier bits (the browser's shiftKey, ctrlKey, altKey, metaKey and
 *  getModifierState("AltGraph")). Meta is the Super ("Windows") key. */
enum { LS_XMOD_SHIFT = 1, LS_XMOD_CTRL = 2, LS_XMOD_ALT = 4, LS_XMOD_META = 8, LS_XMOD_ALTGR = 16 };
#define LS_XMOD_ALL 31u

/** Most wheel notches one ls_xinput_wheel() call sends per axis. */
#define LS_XINPUT_WHEEL_MAX 10

/** Connects to @display (like ":99"; NULL: $DISPLAY) for injecting into the
 *  region at @x0,@y0 (pixels from the top left of the default screen) of
 *  @width x @height pixels (0: to the screen's right or bottom edge, as an
 *  x11:// URI's width and height), which must lie on the screen. Needs the XTEST
 *  and XKB extensions. Returns the injector (the caller's; free with
 *  ls_xinput_close()), or NULL and *@err, a one-line message naming the
 *  display (the caller g_free()s it): display not reachable, no XTEST, no
 *  XKB, region off the screen. Any thread; that thread then owns it. */
struct ls_xinput *ls_xinput_open(const char *display, int x0, int y0, int width, int height, char **err);

/** Moves the pointer to @x,@y (region pixels). -ERANGE unless
 *  0 <= x < width and 0 <= y < height. */
int ls_xinput_motion(struct ls_xinput *xi, int x, int y);

/** Moves the pointer to @x,@y (region pixels), then presses (@down) or
 *  releases @button: 1 left, 2 middle, 3 right; the modifier keys of @mods
 *  (LS_XMOD_*) are held around that press or release only. -ERANGE for a
 *  point outside the region, -EINVAL for another button or unknown @mods
 *  bits, -ENOTSUP when the keymap has no key for a modifier of @mods. A
 *  button left down stays down until its release or
 *  ls_xinput_release_all(). */
int ls_xinput_button(struct ls_xinput *xi, int x, int y, int button, bool down, unsigned mods);

/** Moves the pointer to @x,@y (region pixels), then turns the wheel: @dy
 *  notches down (> 0, X button 5) or up (< 0, button 4), @dx notches right
 *  (> 0, button 7) or left (< 0, button 6); each clamped to
 *  LS_XINPUT_WHEEL_MAX. -ERANGE for a point outside the region, -ENOTSUP
 *  when the X pointer has too few buttons for it. */
int ls_xinput_wheel(struct ls_xinput *xi, int x, int y, int dx, int dy);

/** Taps (presses and releases) @key, a KeyboardEvent.key value (UTF-8):
 *  - one character (exactly one code point, not a control character): it
 *    reaches the application as that character under the server's current
 *    layout, group and Caps Lock state; the Shift and AltGr of @mods are
 *    ignored (the character already says them) and Ctrl, Alt and Meta are
 *    held around it (Ctrl + "A" is Control + Shift + the A key). Where Caps
 *    Lock is on and the character needs it off, it is unlocked around the
 *    tap and locked again. A keysym the layout lacks is bound to a spare
 *    keycode (XChangeKeyboardMapping; up to 32 such bindings are kept for
 *    repeats, the least recently used reused), which ls_xinput_close()
 *    unbinds;
 *  - a named key: Enter, Tab, Backspace, Escape, Delete, Insert, Home, End,
 *    PageUp, PageDown, ArrowLeft, ArrowRight, ArrowUp, ArrowDown, F1..F12,
 *    with every modifier of @mods held around it (Shift + Tab, Ctrl + End);
 *  - a modifier's own name (Shift, Control, Alt, AltGraph, Meta, CapsLock):
 *    returns 0 and sends nothing (the modifiers come with the keys).
 *  -EINVAL for an unknown name, an empty, malformed or control-character
 *  key or unknown @mods bits; -ENOSPC when the character is in no keycode
 *  and the keyboard has no spare keycode to bind it to; -ENOTSUP when the
 *  keymap has no key for a modifier it needs (no Super key for Meta).
 *  Costs one round trip to the server (its XKB state), one more after a
 *  keymap change (the keymap); a new binding costs two more and may wait
 *  up to 100 ms (see xinput.c: applications must see a keymap change
 *  before the next one, and a tap before its keycode is reused). */
int ls_xinput_key(struct ls_xinput *xi, const char *key, unsigned mods);

/** Releases every button this injector pressed and left down (and any key
 *  it holds, none between calls). Returns how many it released. */
int ls_xinput_release_all(struct ls_xinput *xi);

/** Releases what it holds (ls_xinput_release_all()), unbinds the keycodes
 *  ls_xinput_key() bound (the keymap is as before, unless someone replaced
 *  it meanwhile: then that keymap is left alone), closes the connection and
 *  frees; sets *@xi to NULL. NULL-safe. May wait up to 100 ms so that an
 *  application has read a character typed through a binding before the
 *  binding goes. The owning thread. */
void ls_xinput_close(struct ls_xinput **xi);

#endif
