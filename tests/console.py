#!/usr/bin/env python3
"""The web console ([server]: /, /health, /events, /config and their API),
in a real browser (Debian's Chromium, headless, tests/browser.py) on
127.0.0.1:
  - every page loads with no console error, no failed resource and no
    unhandled rejection, and a screenshot of each is kept;
  - Live: the tiles play (the framed /view paints grids of one slot, read
    back from the pixels of the clock pattern), a subset of cameras, a tile
    shown alone on a click;
  - Health: the numbers move, and agree with --stats-json: the record the
    page shows is the one of the same second, and it arrives less than a
    second after that second;
  - Events: a camera that stops (its RTSP server stalls behind a proxy) is
    on the page as "camera down" within 2 s, and back up after; filters;
  - thumbnails of tracks that started ([detect] on real footage; skipped
    without the model);
  - the API: /api/v1/feed, stats, events (filters, bad values), cameras
    and config (secrets hidden), the token (?token= for GET only), a rig
    that stops with live feeds open.
Screenshots go to the test's directory (printed).
Prints TAP.

usage: console.py LOCKSTEP_BINARY [FILTER]
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import browser
import lsrun
import servers
import tap

LS = os.path.abspath(sys.argv[1])
FILTER = sys.argv[2] if len(sys.argv) > 2 else ""
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TMP = tempfile.mkdtemp(prefix="lockstep-console-")
SUITE = tap.Suite()
test = SUITE.test
CLEANUP = []


def clock_cam(name, extra=""):
    return "[camera %s]\nuri = test://?fps=30&width=640&height=360&pattern=clock%s\n" % (name, extra)


class Rig(lsrun.RigDir):
    def __init__(self, name, text):
        super().__init__(LS, TMP, name, text)
        CLEANUP.append(self.kill)


def rig(name, cams, server_extra="", rate=30, extra=""):
    p = lsrun.free_port()
    r = Rig(name, "[rig]\nrate = %d\n%s%s[server]\nlisten = 127.0.0.1:%d\n%s" % (rate, cams, extra, p, server_extra))
    assert r.wait_line(r"^server: http://", 0, 15), r.text()
    r.base = "http://127.0.0.1:%d" % p
    return r


def chrome():
    b = browser.Browser()
    CLEANUP.append(b.close)
    b.watch_errors()
    return b


def http(url, method="GET", body=None, ctype=None, token=None):
    """(status, headers, body text) of one request."""
    h = {}
    if ctype:
        h["Content-Type"] = ctype
    if token:
        h["Authorization"] = "Bearer " + token
    req = urllib.request.Request(url, data=body.encode() if isinstance(body, str) else body, method=method,
                                 headers=h)
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status, r.headers, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode(errors="replace")


def shot(b, name):
    path = os.path.join(TMP, name + ".png")
    b.d.get_screenshot_as_file(path)
    print("# screenshot: %s" % path, flush=True)
    return path


def until(what, fn, timeout=15, step=0.1):
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError("%s: not within %.0f s" % (what, timeout))
        time.sleep(step)


def records(r):
    try:
        with open(r.stats) as f:
            return [json.loads(l) for l in f if l.strip()]
    except FileNotFoundError:
        return []


@test
def every_page_loads_without_errors():
    """/, /health, /events, /recordings, /config: each loads, draws what it
    is for, and the browser reports no error (scripts, resources, the
    chart library, promises)."""
    rec = os.path.join(TMP, "pages-rec")
    os.makedirs(rec)
    r = rig("pages", clock_cam("left", "&offset-ms=-7&jitter-ms=1") + clock_cam("centre") +
            clock_cam("right", "&offset-ms=4.5&jitter-ms=2") + clock_cam("rear", "&offset-ms=11"),
            extra="[record]\ndir = %s\nsegment-s = 2\n" % rec)
    b = chrome()
    checks = {
        "/": "return !!(document.querySelector('iframe').contentWindow.lsView || {}).painted",
        "/health": "return window.lsHealth && window.lsHealth.records >= 2 && window.lsHealth.charted >= 1 "
                   "&& document.querySelectorAll('#cams tr').length == 5 && !!document.querySelector('.uplot')",
        "/events": "return window.lsEvents && window.lsEvents.events.length >= 4",
        "/recordings": "return document.readyState == 'complete' && !!document.querySelector('canvas')",
        "/config": "return window.lsConfig && window.lsConfig.check.ok",
    }
    time.sleep(3)  # a few records and a recorded segment
    for page, ready in checks.items():
        b.d.get(r.base + page)
        until(page + " ready", lambda: b.js(ready), 20, 0.2)
        time.sleep(1.5)
        shot(b, "page-" + (page.strip("/") or "live"))
        errs = b.errors()
        assert not errs, (page, errs)
        assert b.d.title.startswith("lockstep"), b.d.title
        # every page links the others, and the vendored chart library is served
    st, hd, body = http(r.base + "/ui/vendor/uPlot.iife.min.js")
    assert st == 200 and "javascript" in hd["Content-Type"] and len(body) > 10000, (st, hd)
    for bad in ("/ui/vendor/../../etc/passwd", "/ui/vendor/LICENSE", "/ui/../index.sqlite3", "/ui/view.html/x"):
        st, _, body = http(r.base + bad)
        assert st == 404, (bad, st, body)
    r.stop()


@test
def live_tiles_play_subset_and_full_screen():
    """Live: the framed grid paints, every tile the same slot (read from
    the pixels), with each tile's label; ?cameras= picks a subset; a click
    on a tile shows it alone."""
    r = rig("live", clock_cam("a", "&offset-ms=-5&jitter-ms=1") + clock_cam("b") + clock_cam("c", "&offset-ms=9"))
    b = chrome()
    b.d.get(r.base + "/")
    frame = b.d.find_element("css selector", "iframe")
    src = frame.get_attribute("src")
    assert "/view?" in src and "embed=1" in src, src
    b.d.switch_to.frame(frame)
    until("the grid painted", lambda: b.js("return window.lsView && window.lsView.painted >= 30"), 25)
    b.d.switch_to.default_content()
    b.d.get(r.base + "/view?embed=1&measure=1")  # the same page, measured
    until("painted", lambda: b.js("return window.lsView && window.lsView.painted >= 60"), 25)
    time.sleep(2)
    v = b.js("return [window.lsView.stampsRead, window.lsView.stampsSame, window.lsView.tiles]")
    print("# live grid: %d grids read from the pixels, %d with one slot" % (v[0], v[1]), flush=True)
    assert v[0] >= 20 and v[1] >= 0.95 * v[0], v
    assert all(t["shown"] is not None for t in v[2]), v[2]
    # the console's page with a subset
    b.d.get(r.base + "/?cameras=a,c")
    frame = b.d.find_element("css selector", "iframe")
    assert "cameras=a%2Cc" in frame.get_attribute("src") or "cameras=a,c" in frame.get_attribute("src")
    boxes = b.js("return [...document.querySelectorAll('#pick input')].map(i => [i.value, i.checked])")
    assert boxes == [["a", True], ["b", False], ["c", True]], boxes
    b.d.switch_to.frame(frame)
    until("subset painted", lambda: b.js("return window.lsView && window.lsView.painted >= 10"), 25)
    assert [t["name"] for t in b.js("return window.lsView.tiles")] == ["a", "c"]
    # a click on the right half: camera c alone
    grid = b.d.find_element("css selector", "canvas")
    b.d.execute_script("""
        const g = arguments[0], r = g.getBoundingClientRect();
        g.dispatchEvent(new MouseEvent('click', {clientX: r.left + r.width * 0.75, clientY: r.top + r.height / 2, bubbles: true}));
    """, grid)
    until("c alone", lambda: b.js("return window.lsView.solo") == "c", 5)
    p0 = b.js("return window.lsView.painted")
    time.sleep(1)
    assert b.js("return window.lsView.painted") > p0 + 10
    b.d.switch_to.default_content()
    shot(b, "live-solo")
    assert not b.errors(), b.errors()
    r.stop()


@test
def health_moves_and_agrees_with_stats_json():
    """Health: the record on the page changes every second, arrives less
    than a second after its time, and its numbers are --stats-json's
    record of the same second."""
    r = rig("health", clock_cam("a") + clock_cam("b", "&offset-ms=6&jitter-ms=1"))
    b = chrome()
    b.d.get(r.base + "/health")
    until("records", lambda: b.js("return window.lsHealth && window.lsHealth.records >= 2"), 20)
    b.js("""window.__arrivals = [];
            let last = null;
            setInterval(() => { const r = window.lsHealth.record;
              if (r && r !== last) { last = r; window.__arrivals.push([r.time, Date.now()]); } }, 20);""")
    seen = []
    for _ in range(5):
        time.sleep(1.05)
        cells = b.js("""const o = {}; for (const e of document.querySelectorAll('[data-key]')) o[e.dataset.key] = e.textContent;
                        return [document.getElementById('rec-time').textContent, o]""")
        seen.append(cells)
    arrivals = b.js("return window.__arrivals")
    lags = [(now - time_ms(t)) / 1000 for t, now in arrivals]
    print("# %d records arrived on the page %.3f..%.3f s after their time" % (len(lags), min(lags), max(lags)))
    assert len(arrivals) >= 4 and max(lags) < 1.0, arrivals
    times = [c[0] for c in seen]
    assert len(set(times)) >= 4, times  # it moves
    frames = [int(c[1]["cameras.a.frames"].replace(",", "")) for c in seen]
    assert frames == sorted(frames) and frames[-1] > frames[0] + 90, frames
    recs = {x["time"]: x for x in records(r)}
    matched = 0
    for t, cells in seen:
        iso = t.replace(" UTC", "Z").replace(" ", "T")
        rec = recs.get(iso)
        if not rec:
            continue
        matched += 1
        for cam in ("a", "b"):
            assert int(cells["cameras.%s.frames" % cam].replace(",", "")) == rec["cameras"][cam]["frames"], (cells, rec)
            assert cells["cameras.%s.state" % cam] == rec["cameras"][cam]["state"]
        assert int(cells["rig.sets"].replace(",", "")) == rec["sets"]
        assert int(cells["rig.dropped_slots"].replace(",", "")) == rec["dropped_slots"]
        # the page rounds to one decimal as JavaScript's toFixed does (10.25 -> "10.3"),
        # Python's "%.1f" rounds half to even ("10.2"): compare the number, within the rounding
        shown = cells["rig.latency_p99_ms"]
        assert shown.endswith(" ms") and abs(float(shown[:-3]) - rec["latency_ms"]["p99"]) <= 0.0501, (cells, rec["latency_ms"])
        assert cells["outputs.server.dropped"] == str(rec["outputs"]["server"]["dropped"])
    assert matched >= 4, (times, sorted(recs)[-8:])
    assert not b.errors(), b.errors()
    r.stop()


def time_ms(iso):
    import datetime
    return datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp() * 1000


@test
def event_on_the_page_within_2s():
    """Events: an RTSP camera whose server stalls (behind a proxy that holds
    the connection open) is on the page as "camera down" within 2 s of the
    stall, and as "camera up" after it resumes; the camera filter keeps
    only its events."""
    p = lsrun.free_port()
    server = servers.rtsp_camera(p)
    CLEANUP.append(lambda: (server.terminate(), server.wait()))
    pp = lsrun.free_port()
    proxy = servers.StallProxy(pp, p)
    CLEANUP.append(proxy.close)
    r = rig("events", clock_cam("a") + "[camera cam]\nuri = rtsp://127.0.0.1:%d/cam#transport=tcp&latency=100\n"
            "stall-s = 0.5\nretry-max-s = 1\n" % pp)
    until("cam running", lambda: any(x["cameras"]["cam"]["state"] == "running" for x in records(r)[-1:]), 20)
    b = chrome()
    b.d.get(r.base + "/events")
    until("events listed", lambda: b.js("return window.lsEvents && window.lsEvents.events.length >= 2"), 15)
    time.sleep(1)
    n0 = b.js("return Math.max(0, ...window.lsEvents.events.map(e => e.id))")
    stalled = time.time()
    proxy.stall()
    down = until("camera down on the page",
                 lambda: b.js("const e = window.lsEvents.events.find(x => x.kind == 'camera-down' && x.camera == 'cam' "
                              "&& x.id > arguments[0]); return e ? [e.id, window.lsEvents.arrived[e.id]] : null",
                              n0), 6, 0.05)
    lag = down[1] / 1000 - stalled
    print("# camera down on the page %.2f s after the stall (stall-s = 0.5)" % lag, flush=True)
    assert lag <= 2.0, lag
    row = b.d.find_element("css selector", "tr[data-id='%d']" % down[0])
    assert "camera down" in row.text and "cam" in row.text, row.text
    shot(b, "events-down")
    time.sleep(1)
    proxy.resume()
    until("camera up again", lambda: b.js("return window.lsEvents.events.some(e => e.kind == 'camera-up' && "
                                          "e.camera == 'cam' && e.id > arguments[0])", down[0]), 15, 0.1)
    # the filter: only cam's, only camera-down
    b.d.get(r.base + "/events?camera=cam&kind=camera-down")
    until("filtered", lambda: b.js("return window.lsEvents && window.lsEvents.events.length >= 1"), 10)
    ev = b.js("return window.lsEvents.events")
    assert all(e["camera"] == "cam" and e["kind"] == "camera-down" for e in ev), ev
    assert not b.errors(), b.errors()
    # the API: newest first, filters, bad values
    st, _, body = http(r.base + "/api/v1/events?limit=100")
    all_ev = json.loads(body)["events"]
    ids = [e["id"] for e in all_ev]
    assert st == 200 and ids == sorted(ids, reverse=True), ids
    st, _, body = http(r.base + "/api/v1/events?kind=camera&camera=cam")
    kinds = {e["kind"] for e in json.loads(body)["events"]}
    assert kinds == {"camera-down", "camera-up"}, kinds
    st, _, body = http(r.base + "/api/v1/events?kind=camera-up")
    assert {e["kind"] for e in json.loads(body)["events"]} == {"camera-up"}, body
    st, _, body = http(r.base + "/api/v1/events?before=%d&limit=1" % ids[0])
    assert [e["id"] for e in json.loads(body)["events"]] == [ids[1]], body
    for q in ("limit=0", "limit=x", "before=-1"):
        st, _, body = http(r.base + "/api/v1/events?" + q)
        assert st == 400 and q.split("=")[0] in json.loads(body)["error"], (q, st, body)
    st, _, _ = http(r.base + "/api/v1/events/%d/thumb.jpg" % ids[0])
    assert st == 404, st
    stats = r.stop()
    assert stats[-1]["outputs"]["server"]["console"]["events"] >= 4, stats[-1]["outputs"]["server"]


@test
def api_feed_config_cameras_and_token():
    """The API without a browser: the feed's first message is the newest
    record; /api/v1/stats keeps the history; /api/v1/config and cameras
    hide secrets; with a token, ?token= opens GETs only; a rig stops with
    feeds open."""
    tok = "s3cret-token-" + os.urandom(4).hex()
    r = rig("api", clock_cam("a") + "[camera r]\nuri = rtsp://viewer:hunter2@127.0.0.1:9/none\n",
            server_extra="token = %s\n" % tok)
    time.sleep(2.5)
    base = r.base
    st, _, _ = http(base + "/api/v1/feed")
    assert st == 401, st
    st, _, _ = http(base + "/health")
    assert st == 401, st
    st, _, body = http(base + "/ui/common.js")  # scripts and styles hold no data: no token
    assert st == 200 and "export" in body, st
    st, hd, body = http(base + "/api/v1/config?token=" + tok)
    assert st == 200, (st, body)
    c = json.loads(body)
    assert tok not in body and "hunter2" not in body, body
    assert "token = ***" in c["text"] and "viewer:***@" in c["text"], c["text"]
    assert c["check"]["ok"] and c["version"] == 1 and c["uptime_s"] > 1, c
    st, _, body = http(base + "/api/v1/cameras", token=tok)
    cams = json.loads(body)["cameras"]
    assert [x["name"] for x in cams] == ["a", "r"] and "hunter2" not in body, body
    # ?token= does not open a POST (a cross-site form could send one)
    st, _, body = http(base + "/api/v1/clips?token=" + tok, "POST", "{}", "application/json")
    assert st == 401, (st, body)
    st, _, body = http(base + "/api/v1/stats?seconds=2", token=tok)
    recs = json.loads(body)["records"]
    assert st == 200 and len(recs) == 2 and recs[1]["time"] > recs[0]["time"], body
    st, _, body = http(base + "/api/v1/stats?seconds=601", token=tok)
    assert st == 400 and "seconds" in body, body
    st, hd, _ = http(base + "/api/v1/feed", "POST", "x", "text/plain", tok)
    assert st == 405 and hd["Allow"] == "GET", (st, hd)
    # two live feeds: the first message is a record, then one a second
    feeds = []
    for _ in range(2):
        req = urllib.request.Request(base + "/api/v1/feed", headers={"Authorization": "Bearer " + tok})
        f = urllib.request.urlopen(req, timeout=10)
        assert f.headers["Content-Type"].startswith("text/event-stream"), f.headers
        feeds.append(f)
    got = []
    t0 = time.monotonic()
    while len(got) < 3 and time.monotonic() - t0 < 6:
        line = feeds[0].readline().decode()
        if line.startswith("data: "):
            got.append((time.monotonic() - t0, json.loads(line[6:])))
    assert len(got) == 3 and got[0][0] < 0.5 and "cameras" in got[0][1], got
    assert got[2][1]["time"] > got[1][1]["time"], [g[1]["time"] for g in got]
    # the rig stops with both feeds open, at once and cleanly
    t = time.monotonic()
    stats = r.stop()
    assert time.monotonic() - t < 8, time.monotonic() - t
    assert r.p.returncode == 0, r.text()
    assert stats[-1]["outputs"]["server"]["console"]["feeds"] == 2, stats[-1]["outputs"]["server"]
    rest = feeds[1].read()  # the server ended the stream
    for f in feeds:
        f.close()
    assert isinstance(rest, bytes)


@test
def the_example_config_serves_the_console():
    """examples/console.ini (its record dir and port moved here) passes
    lockstep check and serves every page and the recordings."""
    rec = os.path.join(TMP, "example-rec")
    os.makedirs(rec)
    p = lsrun.free_port()
    text = open(os.path.join(ROOT, "examples/console.ini")).read()
    text = text.replace("dir = out/console-rec", "dir = " + rec).replace("127.0.0.1:8080", "127.0.0.1:%d" % p)
    assert ("dir = " + rec) in text and ":%d" % p in text
    r = Rig("example", text)
    chk = subprocess.run([LS, "check", os.path.join(r.dir, "rig.ini"), "--no-probe"], capture_output=True, text=True)
    assert chk.returncode == 0 and ": ok: 4 cameras" in chk.stdout, chk
    assert r.wait_line(r"^server: http://", 0, 15), r.text()
    base = "http://127.0.0.1:%d" % p
    for page in ("/", "/health", "/events", "/recordings", "/config", "/metrics"):
        st, _, _ = http(base + page)
        assert st == 200, (page, st)
    until("a recorded segment", lambda: json.loads(http(base + "/api/v1/recordings")[2])["cameras"], 20, 0.5)
    r.stop()


@test
def thumbnail_of_a_started_track():
    """[detect] on real footage (vtest.avi, pedestrians), its motion gate
    on: "track-started" events carry the class and a thumbnail (a JPEG of
    the box, cut from the frameset's frame), which the Events page shows;
    the gate opening is a "motion-on" event."""
    model = os.path.join(ROOT, ".cache/models/centernet.onnx")
    video = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
    if not os.path.exists(model) or not os.path.exists(video):
        raise tap.SkipTest("no CenterNet model or vtest.avi (scripts/setup.sh)")
    r = rig("thumbs", "[camera street]\nuri = file://%s?loop=true\n" % video, rate=5,
            extra="[detect]\nmodel = %s\nclasses = person\nthreshold = 0.45\nthreads = 2\nmotion-gate = on\n" % model)
    ev = until("a track with a thumbnail", lambda: [
        e for e in json.loads(http(r.base + "/api/v1/events?kind=track-started")[2])["events"] if e.get("thumb")], 60, 0.5)
    e = ev[-1]
    assert e["class"] == "person" and e["camera"] == "street" and len(e["box"]) == 4, e
    with urllib.request.urlopen(r.base + e["thumb"], timeout=10) as req:
        st, ctype, jpeg = req.status, req.headers["Content-Type"], req.read()
    assert st == 200 and ctype == "image/jpeg" and jpeg[:2] == b"\xff\xd8", (st, ctype)
    from PIL import Image
    import io
    im = Image.open(io.BytesIO(jpeg))
    w, h = im.size
    bw, bh = e["box"][2], e["box"][3]
    assert 8 <= w <= 192 and 8 <= h <= 192 and abs(w / h - bw / bh) < 0.6, (im.size, e["box"])
    # the motion gate opened on the pedestrians: an event too
    mo = json.loads(http(r.base + "/api/v1/events?kind=motion-on")[2])["events"]
    assert mo and mo[-1]["camera"] == "street" and mo[-1]["slot"] > 0, mo
    b = chrome()
    b.d.get(r.base + "/events?kind=track-started")
    until("thumbnail shown", lambda: b.js("return [...document.querySelectorAll('#list img')].some(i => i.complete && i.naturalWidth > 0)"), 15)
    shot(b, "events-thumbs")
    assert not b.errors(), b.errors()
    stats = r.stop()
    con = stats[-1]["outputs"]["server"]["console"]
    assert con["thumbnails"] >= 1 and con["thumbnails_failed"] == 0, con


def after_each():
    while CLEANUP:
        try:
            CLEANUP.pop()()
        except Exception as e:
            print("# cleanup: %s" % e)


if __name__ == "__main__":
    if not browser.available():
        print("1..0 # SKIP chromium and chromium-driver not installed (scripts/setup.sh)")
        sys.exit(0)
    sys.exit(SUITE.run(FILTER, after_each=after_each))
