#!/usr/bin/python3
"""The workstation's application for the remote desktop tests: a Tk window
covering the whole X screen (a corpus screen as its background, if given)
with an echo box that has the keyboard focus and an entry field; it logs
every input event it receives, so a test can tell exactly what arrived.

usage: remote_app.py [--display :N] [--image PNG] [--log FILE]
                     [--echo-file FILE] [--clipboard TEXT]

--log FILE: JSON lines, each written and flushed at once:
  {"ready": true, "echo_box": [x, y, w, h], "entry": [x, y, w, h],
   "screen": [w, h], "focus": true}         once mapped and focused (root
                                             coordinates, pixels)
  {"ev": "key", "keysym": "udiaeresis", "char": "ü", "state": 0,
   "keycode": 34, "widget": "echo"}         every KeyPress (state: X's
                                             modifier bits, 1 Shift, 2 Lock,
                                             4 Control, 8 Mod1, 64 Mod4,
                                             128 Mod5, 8192 group 2)
  {"ev": "button", "down": true, "button": 1, "x": 10, "y": 20,
   "state": 0, "widget": "echo"}            every ButtonPress/Release, root
                                             coordinates (4/5: the wheel;
                                             Tk 8.6 reports the sideways
                                             6/7 as 4/5 with Shift, 1)
  {"ev": "motion", "x": 10, "y": 20}        at most every 50 ms, and the
                                             last position
  {"ev": "wheel", "delta": -120, ...}       MouseWheel, where Tk makes one
  {"ev": "focus", "widget": "entry"}        the focus moved
  {"ev": "entry", "text": "..."}            the entry field's text changed
  {"clipboard": "TEXT"}                      the selections are owned
  {"selection_lost": "PRIMARY"}             another client took one
  {"quit": "SIGTERM"}                        on the way out
--echo-file FILE: the echo box's whole text (UTF-8, no newline added),
  replaced atomically after every change (and written empty at start).
--clipboard TEXT: owns CLIPBOARD and PRIMARY, both holding TEXT.

Focus: with no window manager (Xvfb) the window is a plain toplevel of the
screen's size at 0,0 (no decorations without a manager);
override-redirect is not used because such a window is outside the focus
model a manager would give it. focus_force() is repeated until the echo
box reports FocusIn, so the ready line means keys go to the echo box.
Tab and the Control, Alt and Super combinations do not move the focus or
edit the echo box (Tk's "all" bindings are left out), so the echo box holds
exactly the characters typed, Backspace and Enter applied.

Quits cleanly (exit 0) on SIGTERM or SIGINT.
"""
import argparse
import json
import os
import signal
import sys
import tkinter as tk

ECHO_FONT = ("DejaVu Sans Mono", -28)  # negative: pixels
MOTION_EVERY_MS = 50
# modifier state bits under which the echo box edits nothing: Control, Mod1 (Alt), Mod4 (Super)
NO_EDIT_STATE = 0x4 | 0x8 | 0x40


class App:
    def __init__(self, args):
        self.args = args
        self.log_file = open(args.log, "a", encoding="utf-8") if args.log else None
        self.quit_reason = None
        self.root = tk.Tk(screenName=args.display)
        self.root.title("lockstep remote test app")
        sw, sh = self.root.winfo_screenwidth(), self.root.winfo_screenheight()
        self.screen = (sw, sh)
        self.root.geometry("%dx%d+0+0" % (sw, sh))
        self.canvas = tk.Canvas(self.root, width=sw, height=sh, highlightthickness=0, bd=0, bg="#d0d0d0")
        self.canvas.place(x=0, y=0)
        if args.image:
            self.image = tk.PhotoImage(file=args.image)  # kept: Tk drops an image nobody references
            self.canvas.create_image(0, 0, image=self.image, anchor="nw")
        # the echo box: lower part of the screen, 3 lines
        self.echo = tk.Text(self.canvas, font=ECHO_FONT, fg="black", bg="white", insertbackground="black",
                            width=max(10, (sw - 80) // 17), height=3, bd=2, relief="solid", highlightthickness=0,
                            exportselection=False, wrap="char", undo=False,
                            insertofftime=0)  # a steady cursor: a blink would look like a glyph to a test
        self.canvas.create_window(40, sh - 40, window=self.echo, anchor="sw")
        self.entry_var = tk.StringVar(self.root)
        self.entry = tk.Entry(self.canvas, font=ECHO_FONT, textvariable=self.entry_var, fg="black", bg="white",
                              width=30, exportselection=False, bd=2, relief="solid", highlightthickness=0)
        self.canvas.create_window(40, sh - 40 - 3 * 40 - 40, window=self.entry, anchor="sw")
        self.entry_var.trace_add("write", lambda *a: self.log({"ev": "entry", "text": self.entry_var.get()}))

        # Log first on every widget; the echo box and the entry without
        # Tk's "all" tag (Tab would move the focus) nor the toplevel's
        names = {str(self.root): "root", str(self.canvas): "canvas", str(self.echo): "echo",
                 str(self.entry): "entry"}
        self.names = names
        for w in (self.root, self.canvas):
            w.bindtags(("Log",) + w.bindtags())
        self.echo.bindtags(("Log", str(self.echo), "Text"))
        self.entry.bindtags(("Log", str(self.entry), "Entry"))
        self.root.bind_class("Log", "<KeyPress>", self.on_key)
        self.root.bind_class("Log", "<ButtonPress>", lambda e: self.on_button(e, True))
        self.root.bind_class("Log", "<ButtonRelease>", lambda e: self.on_button(e, False))
        self.root.bind_class("Log", "<Motion>", self.on_motion)
        self.root.bind_class("Log", "<MouseWheel>", self.on_wheel)
        self.root.bind_class("Log", "<FocusIn>", self.on_focus)
        self.echo.bind("<KeyPress>", self.echo_key)
        self.entry.bind("<KeyPress>", self.echo_key)
        self.echo.bind("<<Modified>>", self.on_modified)
        self.motion_last = None
        self.motion_pending = False
        self.focused = False
        self.ready = False
        self.focus_tries = 0
        if args.echo_file:
            self.write_echo()
        if args.clipboard is not None:
            self.own_selections(args.clipboard)

    def log(self, rec):
        if self.log_file:
            self.log_file.write(json.dumps(rec, ensure_ascii=False) + "\n")
            self.log_file.flush()

    def name(self, w):
        return self.names.get(str(w), str(w))

    def on_key(self, e):
        self.log({"ev": "key", "keysym": e.keysym, "char": e.char, "state": e.state, "keycode": e.keycode,
                  "widget": self.name(e.widget)})

    def echo_key(self, e):
        # Ctrl/Alt/Super combinations: logged, not applied (Tk's Text would
        # move the cursor or delete: Ctrl+H, Ctrl+K, ...)
        if isinstance(e.state, int) and e.state & NO_EDIT_STATE:
            return "break"
        return None

    def on_button(self, e, down):
        self.log({"ev": "button", "down": down, "button": e.num, "x": e.x_root, "y": e.y_root, "state": e.state,
                  "widget": self.name(e.widget)})

    def on_motion(self, e):
        self.motion_last = (e.x_root, e.y_root)
        if not self.motion_pending:
            self.motion_pending = True
            self.root.after(MOTION_EVERY_MS, self.flush_motion)

    def flush_motion(self):
        self.motion_pending = False
        if self.motion_last:
            self.log({"ev": "motion", "x": self.motion_last[0], "y": self.motion_last[1]})
            self.motion_last = None

    def on_wheel(self, e):
        self.log({"ev": "wheel", "delta": e.delta, "x": e.x_root, "y": e.y_root, "state": e.state})

    def on_focus(self, e):
        if e.widget is self.echo and not self.focused:
            self.focused = True
            if not self.ready:
                self.announce()
        self.log({"ev": "focus", "widget": self.name(e.widget)})

    def on_modified(self, e):
        if self.echo.edit_modified():
            if self.args.echo_file:
                self.write_echo()
            self.echo.edit_modified(False)

    def write_echo(self):
        tmp = self.args.echo_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(self.echo.get("1.0", "end-1c"))
        os.replace(tmp, self.args.echo_file)

    def own_selections(self, text):
        self.root.clipboard_clear()
        self.root.clipboard_append(text)

        def handler(offset, length):
            offset, length = int(offset), int(length)
            return text[offset:offset + length]

        # the format says how Tk encodes the answer: STRING is Latin-1 ("?" for €)
        for t in ("UTF8_STRING", "STRING"):
            self.root.selection_handle(handler, selection="PRIMARY", type=t, format=t)
        self.root.selection_own(selection="PRIMARY",
                                command=lambda: self.log({"selection_lost": "PRIMARY"}))
        self.log({"clipboard": text})

    @staticmethod
    def box(w):
        return [w.winfo_rootx(), w.winfo_rooty(), w.winfo_width(), w.winfo_height()]

    def announce(self):
        self.ready = True
        self.log({"ready": True, "echo_box": self.box(self.echo), "entry": self.box(self.entry),
                  "screen": list(self.screen), "focus": self.focused})

    def take_focus(self):
        """Forces the focus into the echo box until it reports FocusIn
        (the first XSetInputFocus can come before the window is viewable);
        after 10 s announces anyway, with "focus": false."""
        if self.focused:
            return
        self.focus_tries += 1
        if self.root.winfo_viewable():
            self.echo.focus_force()
        if self.focus_tries == 50 and not self.ready:
            self.announce()
        self.root.after(200, self.take_focus)

    def tick(self):
        # lets Python run its signal handlers while Tk waits
        if self.quit_reason:
            self.root.quit()
            return
        self.root.after(100, self.tick)

    def run(self):
        def on_signal(signum, frame):
            self.quit_reason = signal.Signals(signum).name
            self.root.quit()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        self.root.update_idletasks()
        self.root.after(0, self.take_focus)
        self.root.after(100, self.tick)
        self.root.mainloop()
        self.log({"quit": self.quit_reason or "closed"})
        try:
            self.root.destroy()
        except tk.TclError:
            pass
        if self.log_file:
            self.log_file.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--display", default=os.environ.get("DISPLAY"))
    ap.add_argument("--image")
    ap.add_argument("--log")
    ap.add_argument("--echo-file")
    ap.add_argument("--clipboard")
    args = ap.parse_args()
    if not args.display:
        print("remote_app.py: no --display and no $DISPLAY", file=sys.stderr)
        return 2
    App(args).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
