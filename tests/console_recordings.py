#!/usr/bin/python3
"""The console's recordings page (/recordings) and its API
(/api/v1/recordings, /api/v1/clips) in Debian's Chromium, headless
(tests/browser.py), against a real recording:

  four test://?pattern=clock cameras (640x360, 30 fps, phase offsets and
  jitter; camera d drops 8 % of its frames, so its recording has slots
  where it had no frame) recorded in three runs of lockstep on one [record]
  dir: all four, then a, b and c only (camera d has a gap), then all four
  again with [server] and a token (the page opened with ?token=), which
  keeps recording while the page is tested.

  - the index API: every camera's segments, d's gap and missing slots the
    same as the SQLite index says; pictures read back from their clock
    stamp are the slot asked for; 404 "no frame" where a camera had none
  - the synchronized player, read back from the painted pixels of every
    tile (the clock stamp, lib/ls_stamp.h): after clicks on the timeline
    and lsPlayer.seek(), while playing at 1x and at 2x, every tile shows
    the same slot, and it is the player's
  - camera d shows NO DATA over exactly the slots it has no frame for (its
    gap and its missing slots), and its picture elsewhere
  - a window chosen by dragging on the timeline and exported from the page:
    each mp4 plays (ffprobe), its frames match the manifest, and the
    manifest's window is the one chosen (its start moved back to a shared
    keyframe at most); the zip holds the manifest and every mp4
  - HTTP: traversal attempts (.., %2e%2e, //, absolute paths, a symlink
    planted in the clip's directory) are 404; POST without a JSON content
    type 415; bad bodies 400; ?token= on a POST 401; no token 401
  - no console errors; a screenshot (docs/console-recordings.png when run
    with --screenshot, else the test's directory)

usage: console_recordings.py LOCKSTEP_BINARY [FILTER] [--screenshot PATH]
Prints TAP.
"""
import io
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile

import browser
import lsrun
import stamp
import tap

args = [a for a in sys.argv[1:]]
SHOT = None
if "--screenshot" in args:
    i = args.index("--screenshot")
    SHOT = args[i + 1]
    del args[i:i + 2]
LS = os.path.abspath(args[0])
FILTER = args[1] if len(args) > 1 else ""
TMP = tempfile.mkdtemp(prefix="lockstep-console-rec-")
REC = os.path.join(TMP, "rec")
TOKEN = "rec-s3cret"
SUITE = tap.Suite()
test = SUITE.test
CAMS = {
    "a": "",
    "b": "&offset-ms=9&jitter-ms=2",
    "c": "&offset-ms=-12&jitter-ms=3",
    "d": "&offset-ms=4&jitter-ms=1&drop=0.08&seed=7",
}

# What the page exposes and a stamp reader (web/view.html's readStamp) to
# read each tile back from its canvas pixels.
READ_JS = r"""
window.__crc16 = window.__crc16 || function (bytes) {
  let c = 0xffff;
  for (const b of bytes) { c ^= b << 8; for (let i = 0; i < 8; i++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff; }
  return c;
};
window.__readStamp = window.__readStamp || function (ctx, x, y, w, h) {
  x = Math.round(x); y = Math.round(y); w = Math.round(w); h = Math.round(h);
  if (w < 64 || h < 48) return null;
  const sh = Math.ceil(h * 4 / 24);
  const d = ctx.getImageData(x, y, w, sh).data;
  const sample = (r, c) => {
    let x0 = Math.floor(c * w / 32), x1 = Math.floor((c + 1) * w / 32);
    let y0 = Math.floor(r * h / 24), y1 = Math.floor((r + 1) * h / 24);
    const qx = (x1 - x0) >> 2, qy = (y1 - y0) >> 2;
    x0 += qx; x1 -= qx; y0 += qy; y1 -= qy;
    let s = 0, n = 0;
    for (let yy = y0; yy < y1 && yy < sh; yy++)
      for (let xx = x0; xx < x1; xx++) { const i = (yy * w + xx) * 4; s += (d[i] * 77 + d[i + 1] * 150 + d[i + 2] * 29) >> 8; n++; }
    return n ? s / n : 0;
  };
  const bits = [];
  for (let r = 0; r < 4; r++) {
    const white = sample(r, 0), black = sample(r, 31);
    if (white - black < 64) return null;
    const thr = (white + black) / 2;
    for (let c = 1; c < 31; c++) bits.push(sample(r, c) > thr ? 1 : 0);
  }
  const m = [];
  for (let i = 0; i < 120; i += 8) { let b = 0; for (let k = 0; k < 8; k++) b = b * 2 + bits[i + k]; m.push(b); }
  if (window.__crc16(m.slice(0, 13)) !== (m[13] << 8 | m[14])) return null;
  let slot = 0;
  for (let i = 0; i < 6; i++) slot = slot * 256 + m[i];
  if (m[0] & 0x80) slot -= 2 ** 48;
  return slot;
};
// every tile's slot read from its pixels (null: no stamp, e.g. NO DATA),
// with the player's own account, in one go (between two paints)
window.__tiles = function () {
  const P = window.lsPlayer, out = { shownSlot: P.shownSlot, slot: P.slot, shown: { ...P.shown }, read: {},
    painted: P.painted, at: performance.now(), clock: P.clock() };
  for (const [c, t] of Object.entries(P.tiles)) {
    const b = t.box;
    out.read[c] = b ? window.__readStamp(t.canvas.getContext("2d"), b.x, b.y, b.w, b.h) : null;
  }
  return out;
};
"""

ERRORS_JS = r"""
window.__errors = [];
window.addEventListener("error", e => window.__errors.push("error: " + e.message));
window.addEventListener("unhandledrejection", e => window.__errors.push("rejection: " + (e.reason && e.reason.message || e.reason)));
const __ce = console.error.bind(console);
console.error = (...a) => { window.__errors.push("console.error: " + a.join(" ")); __ce(...a); };
"""

STATE = {}
CLEANUP = []


def cfg_text(cams, server_port=None, token=None):
    t = "[rig]\nrate = 30\n"
    for c in cams:
        t += "[camera %s]\nuri = test://?fps=30&width=640&height=360&pattern=clock%s\n" % (c, CAMS[c])
    t += "[record]\ndir = %s\nsegment-s = 2\n" % REC
    if server_port:
        t += "[server]\nlisten = 127.0.0.1:%d\nmax-viewers = 0\n" % server_port
        if token:
            t += "token = %s\n" % token
    return t


def record_run(name, cams, secs):
    d = os.path.join(TMP, name)
    os.makedirs(d)
    cfg = os.path.join(d, "rig.ini")
    with open(cfg, "w") as f:
        f.write(cfg_text(cams))
    p = subprocess.run([LS, "run", cfg, "--duration", str(secs), "--quiet"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr[-2000:]


def http(path, method="GET", body=None, ctype=None, token=TOKEN, raw=False):
    """(status, headers, body) of one request to the serving rig."""
    h = {}
    if ctype:
        h["Content-Type"] = ctype
    if token:
        h["Authorization"] = "Bearer " + token
    url = path if path.startswith("http") else STATE["base"] + path
    req = urllib.request.Request(url, data=body.encode() if isinstance(body, str) else body, method=method,
                                 headers=h)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            data = r.read()
            return r.status, r.headers, data if raw else data.decode(errors="replace")
    except urllib.error.HTTPError as e:
        data = e.read()
        return e.code, e.headers, data if raw else data.decode(errors="replace")


def api(path):
    st, _, body = http(path)
    assert st == 200, (path, st, body)
    return json.loads(body)


def setup():
    """The recording (three runs), the serving rig, Chromium on /recordings."""
    if "failed" in STATE:
        raise AssertionError("setup failed before: %s" % STATE["failed"])
    if "index" in STATE:
        return
    try:
        _setup()
    except Exception as e:
        STATE["failed"] = repr(e)
        raise


def _setup():
    os.makedirs(REC)
    t0 = time.monotonic()
    record_run("one", "abcd", 4)
    record_run("two", "abc", 3)
    port = lsrun.free_port()
    r = lsrun.RigDir(LS, TMP, "three", cfg_text("abcd", port, TOKEN))
    CLEANUP.append(r.kill)
    assert r.wait_line(r"^server: http://", 0, 15), r.text()
    STATE["rig"] = r
    STATE["base"] = "http://127.0.0.1:%d" % port
    # a few segments of the third run closed
    time.sleep(4.5)
    print("# recorded in %.1f s" % (time.monotonic() - t0), flush=True)
    for attempt in range(3):
        try:
            b = browser.Browser(1400, 1000)
            break
        except tap.SkipTest:
            raise
        except Exception as e:  # a busy machine: chromedriver may miss its browser once
            print("# Chromium did not start (%r); again" % e, flush=True)
            if attempt == 2:
                raise
    CLEANUP.append(b.close)
    STATE["b"] = b
    # chromedriver's CDP door (webdriver.Remote has no execute_cdp_cmd)
    b.d.command_executor._commands["cdp"] = ("POST", "/session/$sessionId/goog/cdp/execute")
    b.d.execute("cdp", {"cmd": "Page.addScriptToEvaluateOnNewDocument", "params": {"source": ERRORS_JS}})
    b.d.get(STATE["base"] + "/recordings?token=" + TOKEN)
    wait(b, "window.lsPlayer && window.lsPlayer.painted > 0", 20)
    b.js(READ_JS)
    ix = api("/api/v1/recordings")
    cams = {c["name"]: c for c in ix["cameras"]}
    # d misses the second run: a gap no other camera has
    d_gaps = [g for g in cams["d"]["gaps"] if g not in cams["a"]["gaps"]]
    assert d_gaps and max(z - a + 1 for a, z in d_gaps) >= 60, (cams["d"]["gaps"], cams["a"]["gaps"])
    STATE["d_gap"] = max(d_gaps, key=lambda g: g[1] - g[0])
    # the rig keeps recording, and each camera's segment closes on its own
    # thread: checks stay at or before every camera's last closed slot
    STATE["hi"] = min(c["last_slot"] for c in ix["cameras"])
    STATE["index"] = ix


def wait(b, cond, timeout=10):
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        if b.js("return !!(%s)" % cond):
            return
        time.sleep(0.05)
    raise AssertionError("waited %d s for %s: %s" % (timeout, cond, b.js(
        "return window.lsPlayer && {slot: lsPlayer.slot, shown: lsPlayer.shownSlot, errors: lsPlayer.errors, "
        "page: window.__errors}")))


def no_frame(index, cam, n):
    """Whether the index says camera @cam has no picture at slot n."""
    c = [x for x in index["cameras"] if x["name"] == cam][0]
    inseg = any(s["first_slot"] <= n <= s["last_slot"] and s["state"] in ("complete", "protected")
                for s in c["segments"])
    return not inseg or any(a <= n <= b for a, b in c["missing"])


def check_tiles(t, index, where):
    """Every tile shows the player's slot (read from its pixels), or NO DATA
    exactly where the index says that camera has no frame."""
    n = t["shownSlot"]
    for cam, got in t["read"].items():
        if no_frame(index, cam, n):
            assert got is None and t["shown"][cam] is None, (where, cam, n, t)
        else:
            assert got == n, ("%s: tile %s shows slot %s, the player %s" % (where, cam, got, n), t)


def db_rows(cam):
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(REC, "index.sqlite3"), uri=True)
    rows = db.execute("SELECT first_slot, last_slot, missing, state FROM segments WHERE camera=? AND state IN "
                      "('complete','protected') ORDER BY first_slot", (cam,)).fetchall()
    db.close()
    return rows


def ranges(text):
    out = []
    for part in filter(None, text.split(",")):
        a, _, b = part.partition("-")
        out.append([int(a), int(b or a)])
    return out


def click_timeline(b, n):
    """A click on the timeline at slot n; the slot the player went to. The
    page may rescale its timeline between reading x and the click (it
    refreshes the index of a rig that is recording): then once more."""
    from selenium.webdriver.common.action_chains import ActionChains
    for _ in range(3):
        x, y = b.js("return [lsPlayer.xOfSlot(arguments[0]), lsPlayer.timelineY()]", n)
        tl = b.d.find_element("id", "timeline")
        r = b.js("const r = arguments[0].getBoundingClientRect(); return [r.left, r.top, r.width, r.height]", tl)
        ActionChains(b.d).move_to_element_with_offset(tl, int(x - r[0] - r[2] / 2), int(y - r[1] - r[3] / 2)) \
            .click().perform()
        got = b.js("return lsPlayer.slot")
        if abs(got - n) <= 1:
            break
    return got


@test
def index_api_matches_sqlite():
    """GET /api/v1/recordings: four cameras; d's gap (the second run) and
    its missing slots are those of the index; a, b and c have no gap there."""
    setup()
    ix = STATE["index"]
    names = [c["name"] for c in ix["cameras"]]
    assert names == ["a", "b", "c", "d"], names
    cams = {c["name"]: c for c in ix["cameras"]}
    # d's gap is the second run, which a, b and c recorded (they only miss
    # the restarts at its edges)
    g0, g1 = STATE["d_gap"]
    for c in "abc":
        shared = sum(min(z, g1) - max(a, g0) + 1 for a, z in cams[c]["gaps"] if a <= g1 and z >= g0)
        assert shared <= 0.3 * (g1 - g0 + 1), (c, cams[c]["gaps"], STATE["d_gap"])
    # missing: the union of the rows' own text, in the window
    want = []
    for first, last, missing, _ in db_rows("d"):
        if first <= cams["d"]["last_slot"]:  # closed when the API answered
            want += [[max(a, first), min(b, last)] for a, b in ranges(missing)]
    assert cams["d"]["missing"] == want and len(want) >= 5, (cams["d"]["missing"], want)
    for c in "abcd":
        segs = [[s["first_slot"], s["last_slot"]] for s in cams[c]["segments"] if s["state"] in
                ("complete", "protected")]
        assert segs == [[r[0], r[1]] for r in db_rows(c) if r[0] <= cams[c]["last_slot"]], c
    assert ix["version"] == 1 and ix["first_slot"] == min(s["first_slot"] for c in cams.values()
                                                          for s in c["segments"])
    # a window, in slots and in ns
    a, z = ix["first_slot"] + 30, ix["first_slot"] + 90
    w1 = api("/api/v1/recordings?from=%d&to=%d" % (a, z))
    ns = lambda n: n * 1000000000 // 30 + ix["epoch_ns"]  # noqa: E731 (30 fps)
    w2 = api("/api/v1/recordings?from_ns=%d&to_ns=%d" % (ns(a), ns(z)))
    assert w1["first_slot"] == a and w1["last_slot"] == z and w1["cameras"] == w2["cameras"], (w1, w2)
    print("# %d..%d: d has gap %s and %d missing ranges" % (ix["first_slot"], ix["last_slot"], STATE["d_gap"],
                                                           len(want)), flush=True)


@test
def jpeg_api_is_the_slot():
    """GET /api/v1/recordings/CAMERA/SLOT.jpg: the picture's clock stamp is
    the slot asked for (seeks and steps, ?w= scaled); 404 "no frame" where
    the camera had none; 400 for a bad w."""
    from PIL import Image
    setup()
    ix = STATE["index"]
    rng = random.Random(3)
    n0 = ix["first_slot"]
    checked = 0
    for n in [n0, n0 + 1, n0 + 2] + [rng.randint(n0, STATE["hi"]) for _ in range(6)]:
        for cam in "abcd":
            st, hd, body = http("/api/v1/recordings/%s/%d.jpg?w=320" % (cam, n), raw=True)
            if no_frame(ix, cam, n):
                assert st == 404 and b"no frame" in body, (cam, n, st, body)
                continue
            assert st == 200 and hd["Content-Type"] == "image/jpeg", (cam, n, st, body[:200])
            im = Image.open(io.BytesIO(body)).convert("L")
            assert im.size == (320, 180), im.size
            got = stamp.read(im.tobytes(), *im.size)
            assert got and got[0] == n, (cam, n, got)
            checked += 1
    assert checked >= 20, checked
    miss = [x for x in ix["cameras"] if x["name"] == "d"][0]["missing"][0][0]
    st, _, body = http("/api/v1/recordings/d/%d.jpg" % miss)
    assert st == 404 and json.loads(body)["error"].startswith("no frame"), (st, body)
    for q, want in [("?w=8", 400), ("?w=abc", 400), ("?x=1", 400)]:
        st, _, body = http("/api/v1/recordings/a/%d.jpg%s" % (n0, q))
        assert st == want and "\n" not in body.strip(), (q, st, body)


@test
def seek_every_tile_same_slot():
    """Clicks on the timeline and lsPlayer.seek(): once painted, every tile
    shows the chosen slot, read from its pixels."""
    setup()
    b, ix = STATE["b"], STATE["index"]
    rng = random.Random(5)
    # the page's range: the index it loaded (the rig keeps recording)
    first, last = b.js("return [lsPlayer.first, lsPlayer.last]")
    last = min(last, STATE["hi"])
    for i in range(8):
        want = rng.randint(first, last)
        n = click_timeline(b, want) if i % 2 == 0 else (b.js("lsPlayer.seek(arguments[0])", want) or want)
        assert abs(n - want) <= 1, (want, n)
        wait(b, "lsPlayer.shownSlot === %d" % n)
        t = b.js("return __tiles()")
        check_tiles(t, ix, "seek %d" % n)


def play_and_check(b, ix, speed, secs):
    b.js("lsPlayer.pause(); lsPlayer.setSpeed(arguments[0]); lsPlayer.seek(arguments[1])", speed,
         ix["first_slot"] + 5)
    wait(b, "lsPlayer.shownSlot === %d" % (ix["first_slot"] + 5))
    p0 = b.js("lsPlayer.play(); return lsPlayer.painted")
    samples, t_end = [], time.monotonic() + secs
    while time.monotonic() < t_end:
        samples.append(b.js("return __tiles()"))
        time.sleep(random.uniform(0.03, 0.12))
    p1, skipped, fetch = b.js("lsPlayer.pause(); return [lsPlayer.painted, lsPlayer.skipped, lsPlayer.fetchMs]")
    for t in samples:
        check_tiles(t, ix, "playing %gx" % speed)
    dt = (samples[-1]["at"] - samples[0]["at"]) / 1000
    rate = (samples[-1]["clock"] - samples[0]["clock"]) / dt
    lag = sorted(t["clock"] - t["shownSlot"] for t in samples)
    distinct = len({t["shownSlot"] for t in samples})
    fetch = sorted(fetch)
    print("# %gx: %d samples read, %d slots among them; the clock ran at %.1f slots/s, the grid %d slots behind "
          "it (median); painted %d grids in %.1f s, skipped %d slots; a set of 4 pictures took %.0f ms (median)" % (
              speed, len(samples), distinct, rate, lag[len(lag) // 2], p1 - p0, secs, skipped,
              fetch[len(fetch) // 2]), flush=True)
    # the clock runs at speed x rate; the grid follows it, skipping what it
    # could not fetch in time (this machine may be busy: loose bounds)
    assert 0.95 * 30 * speed <= rate <= 1.05 * 30 * speed, rate
    assert 0 <= lag[len(lag) // 2] <= 30 * speed, lag
    assert distinct >= 0.5 * len(samples) and p1 - p0 >= 5 * secs, (distinct, p1 - p0)


@test
def playing_1x_and_2x_every_tile_same_slot():
    """Playing at 1x and at 2x: every sample of the page (between two paints)
    has every tile on the player's slot, read from the pixels, and the
    player moves at speed x rate."""
    setup()
    b, ix = STATE["b"], STATE["index"]
    play_and_check(b, ix, 1, 3)
    play_and_check(b, ix, 2, 3)


@test
def gap_camera_no_data_exactly_where_missing():
    """Camera d: NO DATA over its gap's edges and every missing range and
    their neighbours, its own picture elsewhere; the JPEG API agrees."""
    setup()
    b, ix = STATE["b"], STATE["index"]
    d = [x for x in ix["cameras"] if x["name"] == "d"][0]
    g0, g1 = STATE["d_gap"]
    slots = {g0 - 1, g0, g0 + 1, (g0 + g1) // 2, g1 - 1, g1, g1 + 1}
    for a, z in d["missing"][:8]:
        slots |= {a - 1, a, z, z + 1}
    slots = sorted(n for n in slots if ix["first_slot"] <= n <= STATE["hi"])
    nodata = 0
    for n in slots:
        b.js("lsPlayer.seek(arguments[0])", n)
        wait(b, "lsPlayer.shownSlot === %d" % n)
        t = b.js("return __tiles()")
        check_tiles(t, ix, "d at %d" % n)
        st, _, _ = http("/api/v1/recordings/d/%d.jpg?w=160" % n)
        assert (st == 404) == no_frame(ix, "d", n), (n, st)
        nodata += t["read"]["d"] is None
    assert nodata >= 4 and nodata < len(slots), (nodata, len(slots))
    print("# %d slots around d's gap and missing ranges, %d of them NO DATA" % (len(slots), nodata), flush=True)


@test
def export_from_the_page_plays():
    """A window dragged on the timeline and exported from the page: the
    manifest's window is the one chosen (from a shared keyframe at or before
    it), every mp4 plays with the manifest's frame count, the zip holds
    them all."""
    from selenium.webdriver.common.action_chains import ActionChains
    setup()
    b, ix = STATE["b"], STATE["index"]
    first = ix["first_slot"]
    a_want, z_want = first + 40, first + 100
    tl = b.d.find_element("id", "timeline")
    for _ in range(3):  # once more if the timeline rescaled meanwhile (see click_timeline)
        r = b.js("const r = arguments[0].getBoundingClientRect(); return [r.left, r.top, r.width, r.height]", tl)
        x0, x1, y = b.js("return [lsPlayer.xOfSlot(arguments[0]), lsPlayer.xOfSlot(arguments[1]), "
                         "lsPlayer.timelineY()]", a_want, z_want)
        ox, oy = -r[2] / 2 - r[0], -r[3] / 2 - r[1]
        start = round(x0 + ox)
        half = round((x1 - x0) / 2)
        ActionChains(b.d).move_to_element_with_offset(tl, start, round(y + oy)).click_and_hold() \
            .move_by_offset(half, 0).move_by_offset(round(x1 + ox) - start - half, 0).release().perform()
        sel = b.js("return lsPlayer.selection")
        if sel and abs(sel[0] - a_want) <= 1 and abs(sel[1] - z_want) <= 1:
            break
    assert sel and abs(sel[0] - a_want) <= 1 and abs(sel[1] - z_want) <= 1, (sel, a_want, z_want)
    b.d.find_element("id", "export").click()
    wait(b, "document.querySelectorAll('#export-out a').length >= 6", 60)
    links = b.js("return [...document.querySelectorAll('#export-out a')].map(a => a.getAttribute('href'))")
    zip_url = [u for u in links if ".zip" in u][0]
    cid = zip_url.split("/")[-1].split(".zip")[0]
    clip = api("/api/v1/clips/" + cid)
    man = clip["manifest"]
    assert man["requested"] == {"first_slot": sel[0], "last_slot": sel[1]}, (man["requested"], sel)
    assert clip["last_slot"] == sel[1] and sel[0] - 30 < clip["first_slot"] <= sel[0], (clip, sel)
    assert sorted(clip["cameras"]) == ["a", "b", "c", "d"], clip["cameras"]
    out = os.path.join(TMP, "export")
    os.makedirs(out)
    for cam in clip["cameras"]:
        st, _, body = http(clip["files"]["mp4"][cam], raw=True)
        assert st == 200, (cam, st)
        f = os.path.join(out, cam + ".mp4")
        with open(f, "wb") as fh:
            fh.write(body)
        p = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                            "stream=nb_read_frames,width,height,duration", "-of", "json", f],
                           capture_output=True, text=True, timeout=60)
        s = json.loads(p.stdout)["streams"][0]
        m = man["cameras"][cam]
        frames = m["last_slot"] - m["first_slot"] + 1
        assert int(s["nb_read_frames"]) == m["frames"] == frames, (cam, s, m)
        assert abs(float(s["duration"]) - frames / 30) < 0.05, (cam, s)
        assert (s["width"], s["height"]) == (640, 360), s
        # the first and last frames are those slots (read back from the picture)
        ff = subprocess.run(["ffmpeg", "-v", "error", "-i", f, "-vf", "select=eq(n\\,0)+eq(n\\,%d)" % (frames - 1),
                             "-vsync", "0", "-f", "rawvideo", "-pix_fmt", "gray", "-"], capture_output=True,
                            timeout=60).stdout
        got = [stamp.read(ff[i * 640 * 360:(i + 1) * 640 * 360], 640, 360) for i in range(2)]
        want_first = m["first_slot"] if not no_frame(ix, cam, m["first_slot"]) else None
        if want_first is not None:
            assert got[0] and got[0][0] == want_first, (cam, got, m)
        if not no_frame(ix, cam, m["last_slot"]):
            assert got[1] and got[1][0] == m["last_slot"], (cam, got, m)
    st, hd, body = http(clip["files"]["zip"], raw=True)
    assert st == 200 and "attachment" in hd["Content-Disposition"], (st, dict(hd))
    z = zipfile.ZipFile(io.BytesIO(body))
    assert z.testzip() is None and sorted(z.namelist()) == ["a.mp4", "b.mp4", "c.mp4", "d.mp4", "manifest.json"]
    assert json.loads(z.read("manifest.json")) == man
    with open(os.path.join(out, "a.mp4"), "rb") as fh:
        assert z.read("a.mp4") == fh.read()
    lst = api("/api/v1/clips")
    assert lst["clips"][0]["id"] == cid, lst
    # the export is an event like [detect]'s clips, for the Events page and the bus
    ev = [e for e in api("/api/v1/events?kind=clip-ready")["events"] if e.get("clip") == cid]
    assert len(ev) == 1 and ev[0]["what"] == "export" and ev[0]["first_slot"] == clip["first_slot"] and \
        ev[0]["last_slot"] == clip["last_slot"] and ev[0]["manifest"].endswith("manifest.json"), ev
    STATE["clip"] = clip
    print("# clip %s: slots %d..%d (asked %d..%d), %d cameras" % (cid, clip["first_slot"], clip["last_slot"],
                                                                 sel[0], sel[1], len(clip["cameras"])), flush=True)


@test
def http_traversal_and_bad_requests():
    """Traversal and symlinks: 404 (libsoup itself refuses an encoded
    "../" with 400 before any handler); POST: 415 without JSON, 400 for bad
    bodies (one line each), 401 with ?token=, 422 outside the recording;
    401 without the token."""
    setup()
    clip = STATE.get("clip")
    if not clip:
        st, _, body = http("/api/v1/clips", "POST", json.dumps({"from": STATE["index"]["first_slot"],
                                                                 "to": STATE["index"]["first_slot"] + 10}),
                           "application/json")
        assert st == 201, body
        clip = json.loads(body)
    cid = clip["id"]
    cdir = os.path.join(REC, "exports", cid)
    secret = os.path.join(TMP, "secret.txt")
    with open(secret, "w") as f:
        f.write("not for the web\n")
    os.symlink(secret, os.path.join(cdir, "x.mp4"))
    os.symlink(secret, os.path.join(cdir, "manifest2.json"))
    os.symlink(TMP, os.path.join(REC, "exports", "evil"))
    paths = [
        "/api/v1/clips/%s/x.mp4" % cid,                       # symlink to a file outside
        "/api/v1/clips/evil/secret.txt",                      # symlinked clip dir
        "/api/v1/clips/evil",
        "/api/v1/clips/%s/../../index.sqlite3" % cid,
        "/api/v1/clips/%2e%2e/%2e%2e/index.sqlite3",
        "/api/v1/clips/%s/%%2e%%2e" % cid,
        "/api/v1/clips//etc/passwd",
        "/api/v1/clips/%s//a.mp4" % cid,
        "/api/v1/clips/%2fetc%2fpasswd",
        "/api/v1/clips/%s/%s" % (cid, secret),
        "/api/v1/clips/..",
        "/api/v1/clips/%s/..mp4" % cid,
        "/api/v1/clips/%s/manifest2.json" % cid,
        "/api/v1/recordings/../index.sqlite3",
        "/api/v1/recordings/%2e%2e/1.jpg",
        "/api/v1/recordings/../../1.jpg",
        "/api/v1/recordings//etc/1.jpg",
        "/api/v1/recordings/a/1.jpg/x",
        "/api/v1/recordings/nosuch/%d.jpg" % STATE["index"]["first_slot"],
        "/api/v1/recordings/a/12x.jpg",
        "/api/v1/recordingsx",
    ]
    for p in paths:
        st, _, body = http(STATE["base"] + p)
        assert st == 404 and "not for the web" not in body, (p, st, body)
        assert body.count("\n") <= 1 and json.loads(body)["version"] == 1, (p, body)
    # an encoded slash: libsoup answers 400 itself, never the file
    for p in ["/api/v1/clips/%s/..%%2f..%%2fsecret.txt" % cid, "/api/v1/recordings/..%2f..%2fa/1.jpg"]:
        st, _, body = http(STATE["base"] + p)
        assert st in (400, 404) and "not for the web" not in body, (p, st, body)
    # the real files are served
    for p in ["/api/v1/clips/%s/manifest.json" % cid, "/api/v1/clips/%s/a.mp4" % cid, "/api/v1/clips/%s.zip" % cid]:
        st, _, _ = http(p, raw=True)
        assert st == 200, (p, st)
    ok = json.dumps({"from": STATE["index"]["first_slot"], "to": STATE["index"]["first_slot"] + 5})
    st, _, body = http("/api/v1/clips", "POST", ok, "text/plain")
    assert st == 415, (st, body)
    st, _, body = http("/api/v1/clips", "POST", "from=1&to=2", "application/x-www-form-urlencoded")
    assert st == 415, (st, body)
    st, _, body = http("/api/v1/clips", "POST", ok, None)
    assert st == 415, (st, body)
    bad = ['{"from":1', '[1,2]', '{"from":1}', '{"from":"1","to":2}', '{"from":1.5,"to":2}', '{"from":5,"to":2}',
           '{"from":1,"to":2,"x":3}', '{"from":1,"to":2,"cameras":"a"}', '{"from":1,"to":2,"cameras":[]}',
           '{"from":1,"to":2,"cameras":["a","a"]}', '{"from":1,"to":2,"cameras":["../x"]}',
           '{"from":1,"to":99999999}', '']
    for body_in in bad:
        st, _, body = http("/api/v1/clips", "POST", body_in, "application/json")
        assert st == 400 and body.count("\n") == 1 and json.loads(body)["error"], (body_in, st, body)
    st, _, body = http("/api/v1/clips", "POST", '{"from":1,"to":2}', "application/json")
    assert st == 422 and "outside the recording" in body, (st, body)
    st, _, body = http("/api/v1/clips", "POST", json.dumps({"from": STATE["index"]["first_slot"],
                                                            "to": STATE["index"]["first_slot"] + 5,
                                                            "cameras": ["zz"]}), "application/json")
    assert st == 400 and "zz" in body, (st, body)
    st, _, body = http("/api/v1/clips?token=x", "POST", ok, "application/json")
    assert st == 401, (st, body)
    st, _, body = http("/api/v1/recordings", token=None)
    assert st == 401, (st, body)
    st, hd, body = http("/api/v1/recordings", "DELETE")
    assert st == 405 and "GET" in hd["Allow"], (st, body)
    for q in ["?from=x", "?from=5&to=1", "?from=1&from_ns=1", "?bogus=1"]:
        st, _, body = http("/api/v1/recordings" + q)
        assert st == 400 and body.count("\n") == 1, (q, st, body)


@test
def no_console_errors_and_screenshot():
    """The page logged no error; a screenshot with camera d at NO DATA in
    its gap and a window selected."""
    setup()
    b, ix = STATE["b"], STATE["index"]
    g0, g1 = STATE["d_gap"]
    n = (g0 + g1) // 2
    b.js("lsPlayer.pause(); lsPlayer.seek(arguments[0])", n)
    wait(b, "lsPlayer.shownSlot === %d" % n)
    t = b.js("return __tiles()")
    check_tiles(t, ix, "screenshot")
    assert t["read"]["d"] is None and all(t["read"][c] == n for c in "abc"), t
    time.sleep(0.3)
    path = SHOT or os.path.join(TMP, "console-recordings.png")
    b.d.get_screenshot_as_file(path)
    print("# screenshot: %s" % path, flush=True)
    errors = b.js("return window.__errors.concat(lsPlayer.errors)")
    try:
        logs = [l for l in b.d.get_log("browser") if l["level"] == "SEVERE"]
    except Exception:
        logs = []
    assert not errors and not logs, (errors, logs)


@test
def token_rig_post_needs_the_header():
    """A [server] with a token (the same recording, the page's rig
    stopped): 401 without it, a POST with ?token= is 401 even when right,
    with the header it exports; GETs take ?token=."""
    setup()
    STATE["rig"].stop()
    port = lsrun.free_port()
    r = lsrun.RigDir(LS, TMP, "four", cfg_text("abcd", port, TOKEN))
    CLEANUP.append(r.kill)
    assert r.wait_line(r"^server: http://", 0, 15), r.text()
    base = "http://127.0.0.1:%d" % port
    n = STATE["index"]["first_slot"] + 200
    body = json.dumps({"from": n, "to": n + 20, "cameras": ["a"]})
    st, _, text = http(base + "/api/v1/recordings", token=None)
    assert st == 401, (st, text)
    st, _, text = http(base + "/api/v1/clips?token=" + TOKEN, "POST", body, "application/json", token=None)
    assert st == 401 and "Authorization" in text, (st, text)
    st, _, text = http(base + "/api/v1/clips", "POST", body, "application/json", token=TOKEN)
    assert st == 201, (st, text)
    st, _, text = http(base + "/api/v1/recordings/a/%d.jpg?token=%s" % (n, TOKEN), token=None, raw=True)
    assert st == 200 and text[:2] == b"\xff\xd8", st
    r.stop()


def main():
    try:
        rc = SUITE.run(FILTER)
    finally:
        while CLEANUP:
            try:
                CLEANUP.pop()()
            except Exception:
                pass
        if "rig" in STATE:
            STATE["rig"].kill()
        shutil.rmtree(TMP, ignore_errors=True) if os.environ.get("LS_KEEP_TMP") is None else None
    return rc


sys.exit(main())
