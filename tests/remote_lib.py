"""What the remote-desktop test (tests/remote.py) and benchmark
(bench/remote_bench.py) share: an Xvfb with a German keymap and the Tk
application on a corpus screen (Desktop), `lockstep redact --output web://`
(Remote), the page in headless Chromium (open_page, state, grab), typing and
clicking as a user does, and the key-to-echo measurement made in the page.
Call init(LOCKSTEP, SRCDIR, TMPDIR) first."""
import base64
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from browser import Browser  # noqa: E402
from lsrun import end, free_port  # noqa: E402
import servers  # noqa: E402

PY = "/usr/bin/python3"
TOKEN = "remote-test-token-5f2a"
SECRET = "KLIPPBRETT-GEHEIM DE89 3704 0044 0532 0130 00"
LOCKSTEP = SRC = CORPUS = tmp = None


def init(lockstep, src, tmpdir):
    global LOCKSTEP, SRC, CORPUS, tmp
    LOCKSTEP = os.path.abspath(lockstep)
    SRC = os.path.abspath(src)
    CORPUS = os.path.join(SRC, "tests", "corpus")
    tmp = tmpdir


class Desktop:
    """Xvfb with a German keymap and remote_app.py on a corpus screen."""

    def __init__(self, name, scene="casefile", size=(1920, 1080)):
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir)
        self.xvfb, self.display = servers.free_xvfb(size)
        subprocess.run(["setxkbmap", "-display", self.display, "de"], check=True)
        # the screen: a corpus frame (its truth, less what the app's widgets cover, is checked)
        cdir = os.path.join(self.dir, "corpus")
        subprocess.run([PY, os.path.join(CORPUS, "gen_corpus.py"), "--out", cdir, "--scenario", scene, "--frames", "1"],
                       check=True, stdout=subprocess.DEVNULL)
        self.scene_dir = os.path.join(cdir, scene)
        self.image = os.path.join(self.scene_dir, "00000.png")
        self.log = os.path.join(self.dir, "app.jsonl")
        self.echo = os.path.join(self.dir, "echo.txt")
        env = dict(os.environ, DISPLAY=self.display)
        self.app = subprocess.Popen([PY, os.path.join(HERE, "remote_app.py"), "--image", self.image, "--log", self.log,
                                    "--echo-file", self.echo, "--clipboard", SECRET], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.ready = self.wait_log(lambda r: r.get("ready"), 20)
        assert self.ready, "the application did not come up"

    def records(self):
        try:
            with open(self.log, encoding="utf-8") as f:
                return [json.loads(l) for l in f if l.strip()]
        except FileNotFoundError:
            return []

    def wait_log(self, pred, timeout, after=0):
        until = time.monotonic() + timeout
        while time.monotonic() < until:
            recs = self.records()[after:]
            for r in recs:
                if pred(r):
                    return r
            time.sleep(0.05)
        return None

    def text(self):
        with open(self.echo, encoding="utf-8") as f:
            return f.read()

    def truth(self):
        """The scene's truth without what the application's widgets cover
        (they are drawn over the screen: what is under them is not on it)."""
        with open(os.path.join(self.scene_dir, "truth.json")) as f:
            t = json.load(f)
        covers = [self.ready["echo_box"], self.ready["entry"]]

        def free(b):
            return not any(b["x"] < x + w and x < b["x"] + b["w"] and b["y"] < y + h and y < b["y"] + b["h"]
                           for x, y, w, h in covers)
        fr = t["frames"][0]
        for k in ("lines", "pii", "decoys"):
            fr[k] = [b for b in fr[k] if free(b)]
        d = os.path.join(self.dir, "scene")
        os.makedirs(d, exist_ok=True)
        shutil.copy(self.image, os.path.join(d, "00000.png"))
        with open(os.path.join(d, "truth.json"), "w") as f:
            json.dump(t, f)
        return d

    def close(self):
        for p in (self.app, self.xvfb):
            end(p)


class Remote:
    """`lockstep redact --input x11://DISPLAY --output web://`."""

    def __init__(self, desk, name, extra=(), env=None, fps=30):
        self.port = free_port()
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir, exist_ok=True)
        self.audit = os.path.join(self.dir, "session.jsonl")
        self.redact_audit = os.path.join(self.dir, "redact.jsonl")
        self.base = "http://127.0.0.1:%d" % self.port
        self.lines = []
        self.p = subprocess.Popen([LOCKSTEP, "redact", "--input", "x11://%s?fps=%d" % (desk.display, fps),
                                   "--output", "web://", "--listen", "127.0.0.1:%d" % self.port, "--token", TOKEN,
                                   "--session-audit", self.audit, "--audit", self.redact_audit, "--rate", str(fps),
                                   "--quiet"] + list(extra),
                                  env=dict(os.environ, **(env or {})), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
        threading.Thread(target=lambda: [self.lines.append(l) for l in self.p.stderr], daemon=True).start()
        until = time.monotonic() + 20
        while True:
            try:
                self.get("/api/v1/remote")
                break
            except (urllib.error.URLError, ConnectionError):
                assert self.p.poll() is None, "lockstep exited: %s" % "".join(self.lines)
                assert time.monotonic() < until, "lockstep's server did not come up"
                time.sleep(0.2)

    def get(self, path, token=True, headers=None):
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + TOKEN
        with urllib.request.urlopen(urllib.request.Request(self.base + path, headers=h), timeout=10) as r:
            return json.loads(r.read())

    def status(self, path, headers=None):
        try:
            with urllib.request.urlopen(urllib.request.Request(self.base + path, headers=headers or {}), timeout=10) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    def page(self):
        return self.base + "/remote?token=" + TOKEN

    def audit_records(self):
        try:
            with open(self.audit) as f:
                return [json.loads(l) for l in f if l.strip()]
        except FileNotFoundError:
            return []

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(2)
            try:
                self.p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        return self.p.returncode


# Installed before the page's scripts: every WebSocket message the page
# receives is kept (window.__rx), and every key pressed is timed (__keys).
SPY = """
window.__rx = []; window.__keys = [];
const WS = window.WebSocket;
window.WebSocket = function (...a) {
  const ws = new WS(...a);
  ws.addEventListener('message', e => window.__rx.push(String(e.data)));
  return ws;
};
window.WebSocket.prototype = WS.prototype;
addEventListener('keydown', e => window.__keys.push([performance.now(), e.key]), true);
"""


def open_page(remote, b=None):
    b = b or Browser(width=1920 + 16, height=1080 + 140)
    b.watch_errors()
    b.cdp("Page.addScriptToEvaluateOnNewDocument", {"source": SPY})
    b.d.get(remote.page())
    until = time.monotonic() + 30
    while True:
        st = b.js("const S = window.lockstepRemote; const v = document.getElementById('v');"
                  "return S && S.state && v && v.videoWidth ? [S.state, v.videoWidth, v.videoHeight, v.currentTime] : null")
        if st and st[3] > 0.3:
            return b, st
        assert time.monotonic() < until, "the page showed no video: %s" % (b.errors(),)
        time.sleep(0.2)


def state(b):
    return b.js("return window.lockstepRemote.state")


def wait_state(b, pred, timeout=15):
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        s = state(b)
        if s and pred(s):
            return s
        time.sleep(0.1)
    raise AssertionError("the page's state did not change as expected: %s" % state(b))


def grab(b):
    """The video element's current frame, as an RGB array."""
    url = b.js("const v = document.getElementById('v'); const c = document.createElement('canvas');"
               "c.width = v.videoWidth; c.height = v.videoHeight; c.getContext('2d').drawImage(v, 0, 0);"
               "return c.toDataURL('image/png');")
    from io import BytesIO
    return np.asarray(Image.open(BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"))


def type_keys(b, text, gap=0.0):
    from selenium.webdriver.common.action_chains import ActionChains
    # to the focused page as it is (send_keys_to_element would click first)
    for ch in text:
        ActionChains(b.d).send_keys(ch).perform()
        if gap:
            time.sleep(gap)


def combo(b, mod, key):
    from selenium.webdriver.common.action_chains import ActionChains
    ActionChains(b.d).key_down(mod).send_keys(key).key_up(mod).perform()


def wait_echo(desk, want, timeout=10):
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        if desk.text() == want:
            return True
        time.sleep(0.05)
    return False


def click_at(b, x, y, button=0):
    """A real mouse click (CDP Input) at video pixel x, y."""
    r = b.js("const v = document.getElementById('v'); const r = v.getBoundingClientRect();"
             "return [r.left, r.top, r.width, r.height, v.videoWidth, v.videoHeight]")
    s = min(r[2] / r[4], r[3] / r[5])
    cx = r[0] + (r[2] - r[4] * s) / 2 + (x + 0.5) * s
    cy = r[1] + (r[3] - r[5] * s) / 2 + (y + 0.5) * s
    names = ["left", "middle", "right"]
    b.cdp("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": cx, "y": cy})
    b.cdp("Input.dispatchMouseEvent", {"type": "mousePressed", "x": cx, "y": cy, "button": names[button], "clickCount": 1})
    b.cdp("Input.dispatchMouseEvent", {"type": "mouseReleased", "x": cx, "y": cy, "button": names[button], "clickCount": 1})
    return cx, cy


def wheel_at(b, x, y, dy):
    r = b.js("const v = document.getElementById('v'); const r = v.getBoundingClientRect();"
             "return [r.left, r.top, r.width, r.height, v.videoWidth, v.videoHeight]")
    s = min(r[2] / r[4], r[3] / r[5])
    cx = r[0] + (r[2] - r[4] * s) / 2 + (x + 0.5) * s
    cy = r[1] + (r[3] - r[5] * s) / 2 + (y + 0.5) * s
    b.cdp("Input.dispatchMouseEvent", {"type": "mouseWheel", "x": cx, "y": cy, "deltaX": 0, "deltaY": dy})


def check_frames(desk, frames):
    """The corpus checker on frames grabbed from the page: returns its summary."""
    d = os.path.join(desk.dir, "grabbed-%d" % len(os.listdir(desk.dir)))
    os.makedirs(d)
    for i, f in enumerate(frames):
        Image.fromarray(f).save(os.path.join(d, "%05d.png" % i))
    mp = os.path.join(d, "map.json")
    with open(mp, "w") as f:
        json.dump([0] * len(frames), f)
    p = subprocess.run([PY, os.path.join(CORPUS, "check_redaction.py"), desk.truth(), d, "--map", mp,
                        "--min-visible", "0.5"], capture_output=True, text=True)
    assert p.returncode in (0, 1), p.stderr
    return json.loads(p.stdout)


# ---- latency: key pressed in the browser to its echo visible in the browser ----

# Per video frame shown: when (performance.now), and in the echo box's line
# the rightmost column with a glyph's ink and the first column of a mask
# (4 columns in a row 90 % dark; -1: none).
FRAMES_JS = """
const [x, y, w, h] = arguments[0];
const v = document.getElementById('v');
const c = document.createElement('canvas'); c.width = w; c.height = h;
const g = c.getContext('2d', { willReadFrequently: true });
window.__frames = [];
const col = new Int32Array(w);
function f(now, meta) {
  g.drawImage(v, x, y, w, h, 0, 0, w, h);
  const d = g.getImageData(0, 0, w, h).data;
  col.fill(0);
  for (let i = 0; i < w * h; i++)
    if (0.299 * d[4 * i] + 0.587 * d[4 * i + 1] + 0.114 * d[4 * i + 2] < 110) col[i % w]++;
  // solid: the first column of a mask (6 columns in a row 60 % dark: a
  // glyph's strokes are narrower); right: the last column with ink outside
  // any such run (a mask shorter than the band still darkens its columns)
  let right = -1, solid = -1, run = 0;
  for (let i = 0; i <= w; i++) {
    if (i < w && col[i] >= 0.6 * h) { run++; continue; }
    if (run >= 6 && solid < 0) solid = i - run;
    if (run > 0 && run < 6) right = i - 1;
    run = 0;
    if (i < w && col[i] > 0) right = i;
  }
  window.__frames.push([now, right, solid]);
  if (window.__frames.length < 100000) v.requestVideoFrameCallback(f);
}
v.requestVideoFrameCallback(f);
"""


def echo_latency(b, desk, text, gap=0.5, inject=None):
    """Types @text one key every @gap s; returns the delays (s) from each
    non-space key to the first frame whose echo line shows it (unmasked and
    its ink reaching that far), and the keys never seen. The keys are
    pressed in the browser (timed by its keydown), or with @inject(ch), which
    sends one key another way and returns when it did, in ms of the page's
    performance.now()."""
    ex, ey, ew, eh = desk.ready["echo_box"]
    # an empty echo box (a line under one OCR cannot read, such as a run of
    # umlauts, is covered with it: fail closed), then a line that starts
    # with a word: the first letters of a line's first word alone are not
    # words OCR reads (covered until they are)
    from selenium.webdriver.common.keys import Keys
    for _ in range(len(desk.text())):
        inject("\b") if inject else type_keys(b, Keys.BACKSPACE)
    for ch in "Notiz: ":
        inject(ch) if inject else type_keys(b, ch)
    time.sleep(1.5)
    # the echo box shows 3 lines (34 px each), scrolled to keep the last in view
    line = min(desk.text().count("\n"), 2)
    region = [ex + 4, ey + 4 + 34 * line, min(ew - 8, 40 + 18 * (len(desk.text().split("\n")[-1]) + len(text) + 2)), 32]
    b.js(FRAMES_JS, region)
    time.sleep(0.5)
    b.js("window.__keys = []")
    if inject:
        keys = []
        for ch in text:
            keys.append([inject(ch), ch])
            time.sleep(gap)
    else:
        type_keys(b, text, gap)
    if not inject:
        keys = b.js("return window.__keys")
    # where the echo line's ink ended before the first key (the last frame
    # with no mask on it), and a character's advance: the k-th character
    # typed is shown once glyph ink reaches half a character short of k
    # advances on and no mask starts before that
    adv = 17  # DejaVu Sans Mono at 28 px (Tk: font measure)
    frames = b.js("return window.__frames")
    before = [f for f in frames if keys and f[0] < keys[0][0] and f[2] < 0]
    right0 = before[-1][1] if before else -1

    def shown(f, t, want):
        return f[0] >= t and f[1] >= want and (f[2] < 0 or f[2] > want)

    # frames until the last character is shown (10 s at most): a slow
    # machine delays the echo, it does not lose it
    want_last = right0 + (sum(1 for _, k in keys if len(k) == 1) - 0.5) * adv
    until = time.monotonic() + 10
    while keys and time.monotonic() < until and not any(shown(f, keys[-1][0], want_last) for f in frames):
        time.sleep(0.5)
        frames = b.js("return window.__frames")
    delays, never = [], 0
    pos = 0
    for t, k in keys:
        if len(k) != 1:
            continue
        pos += 1
        if k == " ":
            continue
        want = right0 + (pos - 0.5) * adv
        seen = next((f for f in frames if shown(f, t, want)), None)
        if os.environ.get("LOCKSTEP_REMOTE_DEBUG"):
            print("# key %r at %.0f want %.0f: %s" % (k, t, want, [f for f in frames if t - 100 <= f[0] <= t + 400]))
        if seen:
            delays.append((seen[0] - t) / 1000.0)
        else:
            never += 1
    return delays, never


class XInputTool:
    """build/tests/xinput-tool on @display: keys injected with XTest straight
    into the X server (no browser, no lockstep), timed in the page's clock."""

    def __init__(self, tool, display, b):
        self.b = b
        self.p = subprocess.Popen([tool, display, "0", "0", "0", "0"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True, encoding="utf-8")
        # the page's performance.now() against time.monotonic(): the
        # sample with the shortest round trip, its midpoint
        best = None
        for _ in range(20):
            t0 = time.monotonic()
            pn = b.js("return performance.now()")
            t1 = time.monotonic()
            if best is None or t1 - t0 < best[0]:
                best = (t1 - t0, pn - 1000.0 * (t0 + t1) / 2)
        self.offset = best[1]

    def __call__(self, ch):
        arg = {"\n": "Enter", "\b": "Backspace", " ": "%20", "%": "%25"}.get(ch, ch)
        t = 1000.0 * time.monotonic() + self.offset
        self.p.stdin.write("key %s 0\n" % arg)
        self.p.stdin.flush()
        r = self.p.stdout.readline()
        assert r.startswith("ok"), r
        return t

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=10)


def pctl(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else None
