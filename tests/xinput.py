#!/usr/bin/python3
"""The remote desktop's injector (src/remote/xinput.c, driven through
xinput-tool) against a Tk application (remote_app.py) on an Xvfb of its
own: text typed under the us and de layouts, with and without Caps Lock,
arrives exactly in the application; modifiers, named keys, clicks, motion
and the wheel land where and as they should with the region offset; bad
input is refused; the keymap is as before once the injector is closed.

usage: xinput.py XINPUT_TOOL SOURCE_ROOT  (run by meson, TAP on stdout)
"""
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import Suite, SkipTest  # noqa: E402
import servers  # noqa: E402

TOOL = os.path.abspath(sys.argv[1])
ROOT = os.path.abspath(sys.argv[2])
APP = os.path.join(ROOT, "tests", "remote_app.py")
PY = "/usr/bin/python3"  # Debian's: python3-tk
SCREEN = (1280, 800)
REGION = (100, 50, 1024, 700)  # x0, y0, w, h: an offset on purpose
TEXT = "Grüße, Straße! @€{[]}|~ äöüÄÖÜß"
# X modifier state bits as the application logs them
SHIFT, LOCK, CONTROL, MOD1, MOD4, MOD5 = 1, 2, 4, 8, 64, 128
suite = Suite()
tmp = tempfile.mkdtemp(prefix="lockstep-xinput-")
xvfb = {}  # "proc", "display"


def wait_for(pred, timeout=5.0, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(0.02)


def display():
    if not shutil.which("Xvfb"):
        raise SkipTest("Xvfb not installed")
    if "display" not in xvfb:
        xvfb["proc"], xvfb["display"] = servers.free_xvfb(SCREEN, log_dir=tmp)
    return xvfb["display"]


def setxkbmap(layout):
    subprocess.run(["setxkbmap", "-display", display(), layout], check=True, timeout=20)
    q = subprocess.run(["setxkbmap", "-display", display(), "-query"], capture_output=True, text=True,
                       check=True, timeout=20).stdout
    assert "layout:     %s\n" % layout in q, q


class App:
    """remote_app.py on the test display, its log and echo file."""

    def __init__(self, name, clipboard=None):
        self.log_path = os.path.join(tmp, name + ".log.jsonl")
        self.echo_path = os.path.join(tmp, name + ".echo.txt")
        for f in (self.log_path, self.echo_path):
            if os.path.exists(f):
                os.unlink(f)
        args = [PY, APP, "--display", display(), "--log", self.log_path, "--echo-file", self.echo_path]
        if clipboard is not None:
            args += ["--clipboard", clipboard]
        self.proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
        self.ready = wait_for(lambda: next((r for r in self.records() if r.get("ready")), None), 15,
                              "remote_app.py's ready line")
        assert self.ready["focus"], "the echo box did not get the focus: %s" % self.ready

    def records(self):
        try:
            with open(self.log_path, encoding="utf-8") as f:
                return [json.loads(line) for line in f if line.endswith("\n")]
        except FileNotFoundError:
            return []

    def mark(self):
        """The log's length now: events() after it are the new ones."""
        return len(self.records())

    def events(self, since=0, ev=None):
        return [r for r in self.records()[since:] if ev is None or r.get("ev") == ev]

    def echo(self):
        try:
            with open(self.echo_path, encoding="utf-8") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def wait_echo(self, want, timeout=10):
        try:
            wait_for(lambda: self.echo() == want, timeout, "the echo box to hold %r" % want)
        except AssertionError:
            raise AssertionError("the echo box holds %r, not %r" % (self.echo(), want))

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=10)
        err = self.proc.stderr.read()
        assert rc == 0, "remote_app.py exited %d on SIGTERM: %s" % (rc, err)
        assert any(r.get("quit") == "SIGTERM" for r in self.records()), "no quit line"


class Tool:
    """xinput-tool on the test display: one command, one answer."""

    def __init__(self, region=REGION, disp=None):
        self.proc = subprocess.Popen([TOOL, disp or display()] + [str(v) for v in region], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def cmd(self, line, timeout=10):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        assert ready, "xinput-tool did not answer %r in %d s" % (line, timeout)
        answer = self.proc.stdout.readline().rstrip("\n")
        assert answer, "xinput-tool exited on %r: %s" % (line, self.proc.stderr.read())
        return answer

    def ok(self, line):
        answer = self.cmd(line)
        assert answer.startswith("ok"), "%r: %s" % (line, answer)
        return answer

    def key(self, key, mods=0):
        return self.ok("key %s %d" % (urllib.parse.quote(key, safe=""), mods))

    def type(self, text):
        return self.ok("type " + urllib.parse.quote(text, safe=""))

    def close(self):
        self.proc.stdin.close()
        rc = self.proc.wait(timeout=10)
        assert rc == 0, "xinput-tool exited %d: %s" % (rc, self.proc.stderr.read())


def keymap_hash():
    t = Tool()
    h = t.ok("keymap").split()[1]
    t.close()
    return h


def session(name, clipboard=None):
    """An application and an injector, each test its own."""
    return App(name, clipboard), Tool()


def typed_exactly(app, tool, text):
    """Types @text character by character (key KEY 0) and checks the echo."""
    base = app.echo()
    for ch in text:
        tool.key(ch)
    app.wait_echo(base + text)


@suite.test
def open_errors():
    """No display, no XTEST, a region off the screen: exit 1 and a message
    naming the display."""
    d = display()
    nobody = next(":%d" % n for n in range(4242, 4342) if not servers.display_taken(n))
    p = subprocess.run([TOOL, nobody, "0", "0", "10", "10"], input="", capture_output=True, text=True, timeout=20)
    assert p.returncode == 1 and 'cannot open X display "%s"' % nobody in p.stderr, (p.returncode, p.stderr)
    p = subprocess.run([TOOL, d, "300", "200", "1024", "700"], input="", capture_output=True, text=True,
                       timeout=20)
    assert p.returncode == 1 and "not on X display \"%s\"" % d in p.stderr, (p.returncode, p.stderr)
    bare, bd = servers.free_xvfb(SCREEN, ["-extension", "XTEST"], tmp)
    try:
        p = subprocess.run([TOOL, bd, "0", "0", "10", "10"], input="", capture_output=True, text=True, timeout=20)
        assert p.returncode == 1 and 'X display "%s" has no XTEST' % bd in p.stderr, (p.returncode, p.stderr)
    finally:
        bare.terminate()
        bare.wait(timeout=10)


@suite.test
def type_us():
    """The text under the us layout (most of it through bound keycodes)."""
    setxkbmap("us")
    app, tool = session("type_us")
    try:
        typed_exactly(app, tool, TEXT)
        tool.type(" " + TEXT)  # the cached bindings again
        app.wait_echo(TEXT + " " + TEXT)
    finally:
        tool.close()
        app.stop()


@suite.test
def type_de():
    """The text under the de layout: the layout's own keys (AltGr for @, €,
    braces; ü on its key), not bindings."""
    setxkbmap("de")
    try:
        before = keymap_hash()
        app, tool = session("type_de")
        try:
            m = app.mark()
            typed_exactly(app, tool, TEXT)
            keys = {r["char"]: r for r in app.events(m, "key") if r["char"]}
            assert keys["@"]["state"] & MOD5 and keys["@"]["keycode"] == 24, keys["@"]  # AltGr + q
            assert keys["€"]["state"] & MOD5 and keys["€"]["keycode"] == 26, keys["€"]  # AltGr + e
            assert keys["ü"]["state"] == 0 and keys["ü"]["keycode"] == 34, keys["ü"]  # <AD11>
            assert keys["ß"]["keycode"] == 20, keys["ß"]  # <AE11>
            assert keys["Ä"]["state"] & SHIFT, keys["Ä"]
        finally:
            tool.close()
            app.stop()
        assert keymap_hash() == before, "typing under de changed the keymap"
    finally:
        setxkbmap("us")


@suite.test
def caps_lock():
    """Caps Lock on: still exactly the text, under us and de."""
    for layout in ("us", "de"):
        setxkbmap(layout)
        app, tool = session("caps_" + layout)
        try:
            tool.ok("capslock 1")
            typed_exactly(app, tool, TEXT + " aZ")
            assert any(r["state"] & LOCK for r in app.events(0, "key")), "Lock was not on"
        finally:
            tool.ok("capslock 0")
            tool.close()
            app.stop()
    setxkbmap("us")


@suite.test
def named_keys_and_modifiers():
    """Backspace, Enter, Tab edit the echo box; Shift+Tab, Ctrl, Alt, Meta
    combinations reach the application with their state; modifier names
    send nothing; no modifier stays down."""
    app, tool = session("named")
    try:
        tool.type("abc")
        tool.key("Backspace")
        tool.key("Enter")
        tool.type("x")
        tool.key("Tab")
        app.wait_echo("ab\nx\t")
        m = app.mark()
        tool.key("Tab", 1)  # Shift+Tab
        tool.key("c", 2)  # Ctrl+c
        tool.key("A", 3)  # Ctrl+Shift+A: the A key with Control and Shift
        tool.key("x", 4)  # Alt+x
        tool.key("s", 8)  # Meta+s
        tool.key("End", 2)  # Ctrl+End
        tool.key("ArrowLeft", 1)  # Shift+Left
        tool.key("@", 2)  # Ctrl+@: Shift from the character, Control from mods
        tool.key("a", 1)  # Shift is ignored for a character without Ctrl/Alt/Meta
        for name in ("Escape", "Delete", "Insert", "Home", "PageUp", "PageDown", "ArrowUp", "ArrowDown",
                     "ArrowRight", "F1", "F5", "F12"):
            tool.key(name)
        for name in ("Shift", "Control", "Alt", "AltGraph", "Meta", "CapsLock"):
            tool.key(name, 2)
        tool.key("z")
        want = [("ISO_Left_Tab", SHIFT), ("c", CONTROL), ("A", CONTROL | SHIFT), ("x", MOD1), ("s", MOD4),
                ("End", CONTROL), ("Left", SHIFT), ("at", CONTROL | SHIFT), ("a", 0), ("Escape", 0),
                ("Delete", 0), ("Insert", 0), ("Home", 0), ("Prior", 0), ("Next", 0), ("Up", 0), ("Down", 0),
                ("Right", 0), ("F1", 0), ("F5", 0), ("F12", 0), ("z", 0)]
        mods = {"Shift_L", "Control_L", "Alt_L", "Super_L", "ISO_Level3_Shift"}

        def got():
            return [(r["keysym"], r["state"]) for r in app.events(m, "key") if r["keysym"] not in mods]

        wait_for(lambda: len(got()) >= len(want), 10, "%d key events" % len(want))
        assert got() == want, "key events:\n%s\nwanted:\n%s" % (got(), want)
        # the modifier keys pressed were those of the state (Meta is Super)
        pressed = [r["keysym"] for r in app.events(m, "key") if r["keysym"] in mods]
        assert pressed.count("Control_L") == 4 and pressed.count("Super_L") == 1, pressed
        # Ctrl, Alt and Meta combinations typed nothing into the echo box
        assert not any(ch in app.echo() for ch in ("c", "A", "s", "@", "\x03")), repr(app.echo())
    finally:
        tool.close()
        app.stop()


def motion_at(app, tool, x, y, root):
    """Moves to region (x, y); the application logs the pointer at root."""
    m = app.mark()
    tool.ok("motion %d %d" % (x, y))
    try:
        wait_for(lambda: any((r["x"], r["y"]) == root for r in app.events(m, "motion")), 5, "motion to %s" % (root,))
    except AssertionError:
        raise AssertionError("motion to region %s: logged %s, not %s" % ((x, y), app.events(m, "motion"), root))


@suite.test
def click_and_motion_at_offset():
    """A click at region (x, y) arrives at root (x0 + x, y0 + y), in the
    widget there, with the modifiers held; motion too; a click in the entry
    moves the focus there."""
    app, tool = session("click")
    try:
        x0, y0 = REGION[:2]
        ex, ey, ew, eh = app.ready["entry"]
        cx, cy = ex + ew // 2, ey + eh // 2  # root
        m = app.mark()
        motion_at(app, tool, cx - x0 - 30, cy - y0 - 20, (cx - 30, cy - 20))
        tool.ok("button %d %d 1 down 0" % (cx - x0, cy - y0))
        tool.ok("button %d %d 1 up 0" % (cx - x0, cy - y0))
        tool.ok("button %d %d 3 down 1" % (cx - x0, cy - y0))  # Shift + right
        tool.ok("button %d %d 3 up 1" % (cx - x0, cy - y0))
        tool.ok("button %d %d 2 down 0" % (cx - x0, cy - y0))
        tool.ok("button %d %d 2 up 0" % (cx - x0, cy - y0))
        wait_for(lambda: len(app.events(m, "button")) >= 6, 5, "6 button events")
        b = [(r["button"], r["down"], r["x"], r["y"], r["widget"], bool(r["state"] & SHIFT))
             for r in app.events(m, "button")]
        want = [(1, True, cx, cy, "entry", False), (1, False, cx, cy, "entry", False),
                (3, True, cx, cy, "entry", True), (3, False, cx, cy, "entry", True),
                (2, True, cx, cy, "entry", False), (2, False, cx, cy, "entry", False)]
        assert b == want, "buttons:\n%s\nwanted:\n%s" % (b, want)
        tool.type("hi")
        wait_for(lambda: any(r.get("ev") == "entry" and r["text"] == "hi" for r in app.records()), 5,
                 "the entry to hold 'hi'")
        # the corners of the region; one past them is refused
        w, h = REGION[2:]
        for x, y in ((0, 0), (w - 1, h - 1)):
            motion_at(app, tool, x, y, (x0 + x, y0 + y))
    finally:
        tool.close()
        app.stop()


@suite.test
def wheel():
    """dy > 0 down (button 5), dy < 0 up (4), clamped to 10 notches; dx
    sideways (buttons 6/7, which Tk 8.6 reports as Shift + 4/5)."""
    app, tool = session("wheel")
    try:
        bx, by, bw, bh = app.ready["echo_box"]
        px, py = bx + bw // 2, by + bh // 2  # root
        x, y = px - REGION[0], py - REGION[1]
        for dx, dy in ((0, 3), (0, -2), (0, 25), (1, 0), (-1, 0)):
            m = app.mark()
            tool.ok("wheel %d %d %d %d" % (x, y, dx, dy))
            n = min(abs(dx) + abs(dy), 10)
            wait_for(lambda: len(app.events(m, "button")) >= 2 * n, 5, "%d wheel presses" % n)
            time.sleep(0.1)
            presses = [r for r in app.events(m, "button") if r["down"]]
            assert len(presses) == n, (dx, dy, presses)
            want_button = 5 if dy > 0 or dx > 0 else 4
            for r in presses:
                assert r["button"] == want_button and bool(r["state"] & SHIFT) == (dx != 0), (dx, dy, r)
                assert (r["x"], r["y"]) == (px, py) and r["widget"] == "echo", r
    finally:
        tool.close()
        app.stop()


@suite.test
def bad_input():
    """Out of the region, unknown buttons, keys and modifier bits,
    malformed UTF-8, control characters: refused with the errno."""
    tool = Tool()
    try:
        w, h = REGION[2:]
        erange, einval = "error: " + os.strerror(34), "error: " + os.strerror(22)
        for line in ("motion -1 0", "motion 0 -1", "motion %d 0" % w, "motion 0 %d" % h,
                     "button %d 5 1 down 0" % w, "wheel 0 %d 0 1" % h):
            assert tool.cmd(line) == erange, (line, tool.cmd(line))
        for line in ("button 5 5 4 down 0", "button 5 5 0 down 0", "button 5 5 1 down 32",
                     "key a 32", "key %00 0", "key ab 0", "key F13 0", "key F0 0", "key enter 0",
                     "key %FF 0", "key %C3 0", "key %0A 0", "key %09 0", "key %7F 0", "key %C2%85 0",
                     "key Dead 0", "key Unidentified 0"):
            assert tool.cmd(line) == einval, (line, tool.cmd(line))
        tool.ok("motion %d %d" % (w - 1, h - 1))
        assert tool.ok("release") == "ok 0"
    finally:
        tool.close()


@suite.test
def release_all():
    """A button left down is released by release_all, and by close."""
    app, tool = session("release")
    try:
        m = app.mark()
        tool.ok("button 300 300 1 down 0")
        assert tool.ok("release") == "ok 1"
        tool.ok("button 300 300 3 down 0")
        tool.ok("close")
        wait_for(lambda: len(app.events(m, "button")) >= 4, 5, "4 button events")
        b = [(r["button"], r["down"]) for r in app.events(m, "button")]
        assert b == [(1, True), (1, False), (3, True), (3, False)], b
    finally:
        tool.close()
        app.stop()


@suite.test
def keymap_restored():
    """Keysyms bound for the session (more than the 32 kept, so bindings
    are reused) are unbound at close: the core keymap is as before. A
    keymap replaced meanwhile (setxkbmap) is left alone."""
    setxkbmap("us")
    before = keymap_hash()
    app, tool = session("keymap")
    try:
        greek = "".join(chr(c) for c in range(0x3b1, 0x3ca))  # α..ω: 25 more bindings
        cyrillic = "".join(chr(c) for c in range(0x430, 0x43a))  # а..й: 10 more
        text = "äöüß€" + greek + "ÄÖÜ" + greek[:5] + "ñ¿¡" + cyrillic + "ΑΒΓ"
        typed_exactly(app, tool, text)
        during = tool.ok("keymap").split()[1]
        assert during != before, "nothing was bound"
        tool.ok("close")
        assert tool.ok("keymap").split()[1] == before, "the keymap was not restored"
        # a binding, then a new keymap, then close: the new keymap stays as it is
        tool.ok("open")
        tool.key("€")
        app.wait_echo(text + "€")
        setxkbmap("de")
        de = keymap_hash()
        tool.key("€")  # the de layout's own AltGr+e now
        app.wait_echo(text + "€€")
        tool.ok("close")
        assert tool.ok("keymap").split()[1] == de, "close changed the keymap setxkbmap loaded"
    finally:
        tool.close()
        app.stop()
        setxkbmap("us")


@suite.test
def app_clipboard_and_image():
    """remote_app.py --clipboard owns CLIPBOARD and PRIMARY; --image shows a
    PNG as the background; it quits cleanly on SIGTERM (stop())."""
    import tkinter
    text = "Überweisung 42 € — clipboard"
    app = App("clip", clipboard=text)
    try:
        r = tkinter.Tk(screenName=display())
        try:
            r.withdraw()
            assert r.clipboard_get() == text, r.clipboard_get()
            assert r.selection_get(selection="PRIMARY") == text
        finally:
            r.destroy()
    finally:
        app.stop()
    png = os.path.join(tmp, "bg.png")
    # the image: a PNG Tk writes itself
    r = tkinter.Tk(screenName=display())
    try:
        r.withdraw()
        img = tkinter.PhotoImage(master=r, width=64, height=32)
        img.put("#ff0000", to=(0, 0, 64, 32))
        img.write(png, format="png")
    finally:
        r.destroy()
    log = os.path.join(tmp, "img.log.jsonl")
    p = subprocess.Popen([PY, APP, "--display", display(), "--image", png, "--log", log], stderr=subprocess.PIPE,
                         text=True)
    try:
        wait_for(lambda: os.path.exists(log) and '"ready"' in open(log).read(), 15, "the ready line")
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=10) == 0, p.stderr.read()


def main():
    try:
        return suite.run(sys.argv[3] if len(sys.argv) > 3 else "")
    finally:
        if "proc" in xvfb:
            xvfb["proc"].terminate()
            xvfb["proc"].wait(timeout=10)
        if not os.environ.get("XINPUT_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("# kept " + tmp)


if __name__ == "__main__":
    sys.exit(main())
