#!/usr/bin/python3
"""End-to-end tests of `lockstep redact` on the synthetic screen corpus
(tests/corpus): every scenario is played live, at its own frame rate, and
the checker asserts that no personal-data box is ever shown unmasked in any
output frame; it also reports the over-masking. Then the fail-closed paths
(latency budget, a dead OCR worker, the canary), the fbdev and x11 sources,
a run config with redact = on, its streams (RTSP, WHEP in Chromium) and
its recordings as the web console serves them, and bad input.

usage: redact.py LOCKSTEP SOURCE_ROOT  (run by meson, TAP on stdout)
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import Suite, SkipTest  # noqa: E402

LOCKSTEP = os.path.abspath(sys.argv[1])
ROOT = os.path.abspath(sys.argv[2])
CORPUS = os.path.join(ROOT, "tests", "corpus")
PY = "/usr/bin/python3"  # Debian's: PIL and numpy
SCENARIOS = ["form", "table", "email", "scroll", "typing", "fullchange"]
suite = Suite()
tmp = tempfile.mkdtemp(prefix="lockstep-redact-")
report = {}


def run(args, timeout=120, env=None, check=True):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=e)
    if check and p.returncode != 0:
        raise AssertionError("%s: exit %d\n%s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
    return p


def corpus():
    """Generates the corpus once (about 10 s) and converts each scenario to
    I420 y4m, which decodes for nothing (the FFV1 files cost a core)."""
    d = os.path.join(tmp, "corpus")
    if not os.path.isdir(d):
        run([PY, os.path.join(CORPUS, "gen_corpus.py"), "--out", d, "--video"], timeout=300)
        for s in SCENARIOS:
            run(["ffmpeg", "-loglevel", "error", "-y", "-i", os.path.join(d, s + ".mkv"), "-pix_fmt", "yuv420p",
                 os.path.join(d, s + ".y4m")])
    return d


def truth(s):
    with open(os.path.join(corpus(), s, "truth.json")) as f:
        return json.load(f)


def redact(s, extra=(), env=None, name=None, input_uri=None, rate=None, timeout=120, t=None):
    """Runs lockstep redact on scenario s (its truth @t, by default the
    default corpus's); returns (outdir, audit path, the output frames' input
    indices)."""
    t = t or truth(s)
    fps = rate or t["fps"]
    out = os.path.join(tmp, name or s)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    audit = os.path.join(out, "audit.jsonl")
    uri = input_uri or "file://" + os.path.join(corpus(), s + ".y4m")
    run([LOCKSTEP, "redact", "--input", uri, "--output", "file://" + os.path.join(out, "o.y4m"),
         "--audit", audit, "--rate", str(fps), "--quiet"] + list(extra), env=env, timeout=timeout)
    with open(os.path.join(out, "o.y4m.frames.jsonl")) as f:
        index = [round(json.loads(line)["stream_ns"] * t["fps"] / 1e9) for line in f]
    return out, audit, index


def check(s, out, index, extra=(), frames=None, corpus_dir=None):
    """The checker on OUT/o.y4m (or @frames: a directory of PNGs), against
    scenario s of @corpus_dir (by default the default corpus)."""
    mp = os.path.join(out, "map.json")
    with open(mp, "w") as f:
        json.dump(index, f)
    # --min-visible 0.5: a line cut by a scroll edge to less than half its
    # height (a sliver of 3-5 px) cannot be read by anyone; the checker counts
    # every other box, half-typed values included.
    p = run([PY, os.path.join(CORPUS, "check_redaction.py"), os.path.join(corpus_dir or corpus(), s),
             frames or os.path.join(out, "o.y4m"),
             "--map", mp, "--list", "5", "--min-visible", "0.5"] + list(extra), check=False, timeout=300)
    if p.returncode not in (0, 1):
        raise AssertionError("checker failed: %s" % p.stderr)
    return json.loads(p.stdout)


def audit_records(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def no_personal_data_in(path, s, t=None):
    """The audit log must not contain any personal data the screen showed
    (scenario s, or the truth @t)."""
    with open(path) as f:
        text = f.read()
    for fr in (t or truth(s))["frames"]:
        for b in fr["pii"]:
            if len(b["text"]) >= 4:
                assert b["text"] not in text, "audit log contains %r" % b["text"]


def live(s):
    out, audit, index = redact(s)
    r = check(s, out, index)
    report[s] = {k: r[k] for k in ("frames_checked", "pii_boxes_checked", "leaks", "frames_fully_masked")}
    report[s]["overmask_text_mean"] = r["overmask_text"]["mean"]
    report[s]["overmask_frame_mean"] = r["overmask_frame"]["mean"]
    print("# %s: %s" % (s, json.dumps(report[s])), flush=True)
    assert r["frames_checked"] >= len(truth(s)["frames"]) * 0.8, "too few frames came out: %d" % r["frames_checked"]
    assert r["leaks"] == 0, "personal data shown: %s" % json.dumps(r["leak_list"])
    recs = audit_records(audit)
    assert any(x["event"] == "summary" for x in recs), "no summary record in the audit log"
    no_personal_data_in(audit, s)


@suite.test
def test_live_form():
    live("form")


@suite.test
def test_live_table():
    live("table")


@suite.test
def test_live_email():
    live("email")


@suite.test
def test_live_scroll():
    live("scroll")


@suite.test
def test_live_typing():
    live("typing")


@suite.test
def test_live_fullchange():
    live("fullchange")


def agent_corpus():
    """The case-work scenes (issue 17), generated once, as I420 y4m."""
    d = os.path.join(tmp, "agent")
    if not os.path.isdir(d):
        run([PY, os.path.join(CORPUS, "gen_corpus.py"), "--out", d, "--scenario", "casefile", "--scenario", "ledger",
             "--video"], timeout=300)
        for s in ("casefile", "ledger"):
            run(["ffmpeg", "-loglevel", "error", "-y", "-i", os.path.join(d, s + ".mkv"), "-pix_fmt", "yuv420p",
                 os.path.join(d, s + ".y4m")])
    return d


def agent_scene(s, max_hidden):
    """Scene s played live: no personal data shown, and at steady state (the
    second half) at most @max_hidden of the other text hidden (a text pixel
    is hidden when it or its 5x5 neighbourhood changed; compared with the
    same y4m the redactor read). A run the machine could not keep up with
    (frames masked whole for the latency budget, in the audit) measures the
    machine, not the reading: the reading goals are then measured once more.
    Leaks are asserted on every run."""
    d = agent_corpus()
    with open(os.path.join(d, s, "truth.json")) as f:
        t = json.load(f)
    y4m = os.path.join(d, s + ".y4m")
    for attempt in (1, 2):
        out, audit, index = redact(s, name="agent-" + s, input_uri="file://" + y4m, timeout=180, t=t)
        r = check(s, out, index, extra=("--reference", y4m, "--list-hidden", "5"), corpus_dir=d)
        hidden = r["steady"]["hidden_fraction"]
        report[s] = {"frames_checked": r["frames_checked"], "leaks": r["leaks"], "steady_hidden": hidden,
                     "most_hidden": [(x["text"][:40], x["hidden_fraction"]) for x in r["steady_lines_hidden"][:5]]}
        print("# %s: %s" % (s, json.dumps(report[s], ensure_ascii=False)), flush=True)
        assert r["leaks"] == 0, "personal data shown: %s" % json.dumps(r["leak_list"])
        no_personal_data_in(audit, s, t)
        overload = sum(1 for a in audit_records(audit) if a.get("event") == "full-mask" and a.get("why") == "latency-budget")
        ent = r.get("entering_lines")
        if ent:
            report[s]["entering_lines"] = ent
            print("# %s: lines scrolling in: %s" % (s, json.dumps(ent)), flush=True)
        met = (r["frames_checked"] >= len(t["frames"]) * 0.8 and hidden <= max_hidden and
               (not ent or (ent["never"] == 0 and ent["max_s"] <= 1.0)))
        if met or not overload or attempt == 2:
            break
        print("# %s: %d frames masked whole for the latency budget (the machine was loaded): once more" % (s, overload),
              flush=True)
    assert r["frames_checked"] >= len(t["frames"]) * 0.8, "too few frames came out: %d" % r["frames_checked"]
    if ent:
        # issue 17: text entering at the edge is read within 1 s
        assert ent["never"] == 0 and ent["max_s"] <= 1.0, "lines scrolling in not read within 1 s: %s" % json.dumps(ent)
    assert hidden <= max_hidden, "%.1f %% of the text that is not personal data hidden at steady state (at most %.0f %%)" % (
        100 * hidden, 100 * max_hidden)


@suite.test
def test_agent_casefile_labels_and_notes_shown():
    """A static case form: labels, a title with a reference number, notes.
    Measured 0.9-3.5 % hidden (goal 5 %); the bound leaves room for a loaded VM."""
    agent_scene("casefile", 0.10)


@suite.test
def test_agent_ledger_scrolling_table_read():
    """A table scrolling 5-10 px a frame under a fixed header: row numbers,
    amounts and dates shown while the names, IBANs and customer numbers
    stay masked. Measured 6.9-14 % hidden (goal 5 %: missed, see
    docs/benchmarks.md); before issue 17's work it was 100 %."""
    agent_scene("ledger", 0.20)


@suite.test
def test_offline_wait_judges_every_frame():
    """--wait: each frame waits for its OCR, so nothing is masked for being
    unread: the over-masking is the rules' own, and still nothing leaks."""
    out, audit, index = redact("email", ["--wait"], name="email-wait")
    r = check("email", out, index)
    assert r["leaks"] == 0, json.dumps(r["leak_list"])
    assert len(index) == len(truth("email")["frames"]), "offline: every frame comes out (%d)" % len(index)
    report["email --wait"] = {"leaks": r["leaks"], "overmask_text_mean": r["overmask_text"]["mean"]}
    print("# email --wait: %s" % json.dumps(report["email --wait"]), flush=True)
    assert r["overmask_text"]["mean"] < report.get("email", {}).get("overmask_text_mean", 99) + 0.01


@suite.test
def test_latency_budget_masks_whole_frames():
    """A budget no frame can meet: every frame is masked whole and the audit
    log says why."""
    out, audit, index = redact("form", ["--budget-ms", "1"], name="form-budget")
    r = check("form", out, index)
    assert r["leaks"] == 0
    assert r["frames_fully_masked"] == r["frames_checked"] > 0, r
    assert any(x["event"] == "full-mask" and x["why"] == "latency-budget" for x in audit_records(audit))


@suite.test
def test_dead_ocr_worker_masks_whole_frames():
    """OCR workers that fail count as dead: from then on every frame is
    masked whole (before that, the unread text was masked as pending)."""
    out, audit, index = redact("form", env={"LOCKSTEP_FAULT_OCR": "fail"}, name="form-dead")
    per = os.path.join(out, "per-frame.jsonl")
    r = check("form", out, index, ["--per-frame", per])
    assert r["leaks"] == 0
    recs = audit_records(audit)
    assert any(x["event"] == "full-mask" and x["why"] == "ocr-worker-dead" for x in recs), recs[-3:]
    # from the first frame masked whole on, every frame is (a dead worker
    # never comes back); how soon depends on when the nice-10 worker got
    # the CPU for its first job, so only "within the first half" is asserted
    with open(per) as f:
        full = [json.loads(line)["fully_masked"] for line in f]
    assert True in full, r
    first = full.index(True)
    assert all(full[first:]) and first <= len(full) // 2, full


@suite.test
def test_canary_is_caught():
    """--canary: a synthetic IBAN drawn into the frame every second is masked
    as personal data (the first time read by OCR, then from the cache),
    reported in the audit log without the IBAN itself."""
    out = os.path.join(tmp, "canary")
    os.makedirs(out, exist_ok=True)
    audit = os.path.join(out, "audit.jsonl")
    run([LOCKSTEP, "redact", "--input", "test://?fps=10&width=1280&height=720&pattern=black", "--output",
         "file://" + os.path.join(out, "o.y4m"), "--audit", audit, "--rate", "10", "--canary", "1",
         "--duration", "5", "--quiet"], timeout=60)
    recs = [x for x in audit_records(audit) if x["event"] == "canary"]
    assert len(recs) >= 3, recs
    assert all(x["result"] == "pass" for x in recs), recs
    assert max(x["latency_ms"] for x in recs) < 3000
    with open(audit) as f:
        assert "3704" not in f.read()


@suite.test
def test_fbdev_source():
    """fbdev://: a raw BGRx file stands for /dev/fb0 (this machine has no
    framebuffer); the form read from it comes out redacted."""
    from PIL import Image
    png = os.path.join(corpus(), "form", "00000.png")
    r, g, b = Image.open(png).convert("RGB").split()
    raw = os.path.join(tmp, "fb0.raw")
    with open(raw, "wb") as f:
        f.write(Image.merge("RGBA", (b, g, r, Image.new("L", r.size, 255))).tobytes())
    uri = "fbdev://%s?width=1920&height=1080&format=BGRx&fps=10" % raw
    out, audit, index = redact("form", ["--duration", "5"], input_uri=uri, name="form-fbdev", timeout=60)
    index = [0] * len(index)  # every read shows frame 0
    res = check("form", out, index)
    assert res["frames_checked"] >= 15, res["frames_checked"]
    assert res["leaks"] == 0, json.dumps(res["leak_list"])
    # once read, the screen is shown: the last frames are not all masked
    assert res["frames_fully_masked"] == 0


@suite.test
def test_x11_source():
    """x11://: the form shown full screen on an Xvfb of its own."""
    if not shutil.which("Xvfb"):
        raise SkipTest("Xvfb not installed")
    disp = ":%d" % (80 + os.getpid() % 100)
    x = subprocess.Popen(["Xvfb", disp, "-screen", "0", "1920x1080x24", "-nolisten", "tcp"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    viewer = None
    try:
        time.sleep(1.0)
        png = os.path.join(corpus(), "form", "00000.png")
        env = dict(os.environ, DISPLAY=disp)
        viewer = subprocess.Popen(["gst-launch-1.0", "-q", "filesrc", "location=" + png, "!", "pngdec", "!",
                                   "imagefreeze", "!", "videoconvert", "!", "ximagesink", "sync=false"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(2.0)
        out, audit, index = redact("form", ["--duration", "5"], input_uri="x11://%s?fps=10" % disp,
                                   name="form-x11", rate=10, timeout=60)
        res = check("form", out, [0] * len(index))
        assert res["frames_checked"] >= 15, res["frames_checked"]
        assert res["leaks"] == 0, json.dumps(res["leak_list"])
    finally:
        if viewer:
            viewer.kill()
            viewer.wait()
        x.kill()
        x.wait()


@suite.test
def test_run_config_with_redact_on():
    """A run config: a camera with redact = on, [redact] with an audit log,
    [output file] of that camera."""
    d = os.path.join(tmp, "run-config")
    os.makedirs(d, exist_ok=True)
    cfg = os.path.join(d, "rig.ini")
    with open(cfg, "w") as f:
        f.write("[rig]\nrate = 10\nmax-latency-ms = 400\n"
                "[camera screen]\nuri = file://%s\nredact = on\n"
                "[camera plain]\nuri = test://?fps=10&width=320&height=240\n"
                "[redact]\naudit = %s/audit.jsonl\nworkers = 2\n"
                "[output file]\ncamera = screen\nfile = %s/o.y4m\n"
                % (os.path.join(corpus(), "form.y4m"), d, d))
    run([LOCKSTEP, "run", cfg, "--duration", "4", "--quiet"], timeout=60)
    t = truth("form")
    with open(os.path.join(d, "o.y4m.frames.jsonl")) as f:
        index = [round(json.loads(line)["stream_ns"] * t["fps"] / 1e9) for line in f]
    assert len(index) >= 10
    res = check("form", d, index)
    assert res["leaks"] == 0, json.dumps(res["leak_list"])


@suite.test
def test_rtsp_stream_of_redacted_camera():
    """[output rtsp] of a redact = on camera, read by a second lockstep as
    any client would: the checker finds no personal data in what came over
    the network (H.264, so a looser mask colour test at box edges)."""
    import socket
    d = os.path.join(tmp, "rtsp")
    os.makedirs(d, exist_ok=True)
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        p = so.getsockname()[1]
    a_cfg, b_cfg = os.path.join(d, "a.ini"), os.path.join(d, "b.ini")
    with open(a_cfg, "w") as f:
        f.write("[rig]\nrate = 10\nmax-latency-ms = 400\n"
                "[camera screen]\nuri = file://%s\nredact = on\n"
                "[redact]\nworkers = 2\n"
                "[output rtsp]\nlisten = 127.0.0.1:%d\nmosaic = false\nbitrate-kbps = 8000\n"
                "[output file]\ncamera = screen\nfile = %s/a.y4m\n"
                % (os.path.join(corpus(), "form.y4m"), p, d))
    with open(b_cfg, "w") as f:
        f.write("[rig]\nrate = 10\nmax-latency-ms = 400\n"
                "[camera net]\nuri = rtsp://127.0.0.1:%d/screen#transport=tcp&latency=200\n"
                "[output file]\ncamera = net\nfile = %s/o.y4m\n" % (p, d))
    a = subprocess.Popen([LOCKSTEP, "run", a_cfg, "--duration", "9", "--quiet"], stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    b = run([LOCKSTEP, "run", b_cfg, "--duration", "6", "--quiet"], timeout=60)
    _, a_err = a.communicate(timeout=60)
    assert a.returncode == 0, a_err
    t = truth("form")
    with open(os.path.join(d, "a.y4m.frames.jsonl")) as f:
        by_capture = {r["capture_ns"]: round(r["stream_ns"] * t["fps"] / 1e9) for r in map(json.loads, f)}
    with open(os.path.join(d, "o.y4m.frames.jsonl")) as f:
        index = [by_capture.get(json.loads(line)["capture_ns"]) for line in f]
    shown = [i for i in index if i is not None]
    assert len(shown) >= 15, "%d frames came over RTSP with a known capture time (%d in all)\n%s" % (
        len(shown), len(index), b.stderr)
    res = check("form", d, index, ["--tolerance", "48", "--shrink", "2"])
    print("# over RTSP: %d frames, %d personal-data boxes checked, %d leaks" % (
        res["frames_checked"], res["pii_boxes_checked"], res["leaks"]), flush=True)
    assert res["frames_checked"] >= 15, res
    assert res["leaks"] == 0, json.dumps(res["leak_list"])


def form_rig(d, redact_on, port, extra="", server_extra=""):
    """Writes D/a.ini: the form scenario as a looping file camera, redact =
    on or off, [server] on PORT (plus @server_extra keys), [output file]
    D/a.y4m (whose frames list maps each slot to the corpus frame it
    showed), plus @extra sections."""
    cfg = os.path.join(d, "a.ini")
    with open(cfg, "w") as f:
        f.write("[rig]\nrate = 10\nmax-latency-ms = 400\n"
                "[camera screen]\nuri = file://%s?loop=true\nredact = %s\n"
                "[redact]\nworkers = 2\n%s"
                "[server]\nlisten = 127.0.0.1:%d\n%s"
                "[output file]\ncamera = screen\nfile = %s/a.y4m\n"
                % (os.path.join(corpus(), "form.y4m"), "on" if redact_on else "off", extra, port, server_extra, d))
    return cfg


def form_frames_by_slot(d):
    """Slot -> the corpus frame of the form scenario the rig in D showed
    there (from D/a.y4m's frames list)."""
    t = truth("form")
    nf = len(t["frames"]) if isinstance(t["frames"], list) else t["frames"]
    with open(os.path.join(d, "a.y4m.frames.jsonl")) as f:
        return {r["slot"]: round(r["stream_ns"] * t["fps"] / 1e9) % nf for r in map(json.loads, f)}


def whep_grab(redact_on, name):
    """A redact = on (or off) file camera of the form scenario served over
    WHEP to Chromium's /view at the corpus's own size; the grid the page
    painted is grabbed as PNG (canvas.toDataURL) about 7 times a second.
    Returns the checker's result."""
    import base64
    import browser
    import lsrun
    import tap
    try:
        b = browser.Browser()
    except tap.SkipTest as e:
        raise SkipTest(str(e))
    d = os.path.join(tmp, name)
    frames = os.path.join(d, "frames")
    os.makedirs(frames, exist_ok=True)
    p = lsrun.free_port()
    t = truth("form")
    cfg = form_rig(d, redact_on, p, server_extra="bitrate-kbps = 8000\n")
    a = subprocess.Popen([LOCKSTEP, "run", cfg, "--duration", "12", "--quiet"], stderr=subprocess.PIPE, text=True)
    grabs = []
    try:
        time.sleep(1.5)
        b.d.get("http://127.0.0.1:%d/view?cameras=screen&width=%d&height=%d" % (p, t["width"], t["height"]))
        until = time.monotonic() + 9
        while time.monotonic() < until:
            g = b.js("const v = window.lsView; return v && v.painted ? "
                     "[v.slot, document.getElementById('grid').toDataURL('image/png')] : null")
            if g and (not grabs or grabs[-1][0] != g[0]):
                grabs.append(g)
            time.sleep(0.15)
    finally:
        b.close()
        _, a_err = a.communicate(timeout=60)
    assert a.returncode == 0, a_err
    by_slot = form_frames_by_slot(d)
    index = []
    for k, (slot, url) in enumerate(grabs):
        with open(os.path.join(frames, "f%05d.png" % k), "wb") as f:
            f.write(base64.b64decode(url.split(",", 1)[1]))
        index.append(by_slot.get(slot))
    shown = [i for i in index if i is not None]
    assert len(shown) >= 15, "%d frames grabbed from the browser with a known slot (%d in all)\n%s" % (
        len(shown), len(index), a_err)
    return check("form", d, index, ["--tolerance", "48", "--shrink", "2"], frames=frames)


@suite.test
def test_whep_stream_of_redacted_camera():
    """A redact = on camera watched in a browser over WHEP (/view): the
    checker finds no personal data in the frames Chromium painted. The same
    camera with redact = off shows the checker sees what the browser shows."""
    res = whep_grab(True, "whep-on")
    print("# in Chromium over WHEP: %d frames, %d personal-data boxes checked, %d leaks" % (
        res["frames_checked"], res["pii_boxes_checked"], res["leaks"]), flush=True)
    assert res["frames_checked"] >= 15 and res["pii_boxes_checked"] > 0, res
    assert res["leaks"] == 0, json.dumps(res["leak_list"])
    off = whep_grab(False, "whep-off")
    print("# the same with redact = off: %d frames, %d leaks" % (off["frames_checked"], off["leaks"]), flush=True)
    assert off["leaks"] > 0, off


def console_rig(name, redact_on, seconds, env=None, fetch=True):
    """A redact = on (or off) file camera of the form scenario, recorded
    ([record]) and served by [server], for `seconds`; while it runs, every
    recorded frame is fetched through the console's recordings API
    (/api/v1/recordings/screen/SLOT.jpg: what the Recordings page shows).
    Returns (checker result or None, the events the console kept)."""
    import urllib.error
    import urllib.request
    import lsrun
    d = os.path.join(tmp, name)
    rec, frames = os.path.join(d, "rec"), os.path.join(d, "frames")
    os.makedirs(rec)
    os.makedirs(frames)
    p = lsrun.free_port()
    cfg = form_rig(d, redact_on, p, "[record]\ndir = %s\nsegment-s = 2\n" % rec)
    a = subprocess.Popen([LOCKSTEP, "run", cfg, "--duration", str(seconds), "--quiet"], stderr=subprocess.PIPE,
                         text=True, env=dict(os.environ, **(env or {})))
    base = "http://127.0.0.1:%d" % p
    got = {}
    events = []
    try:
        time.sleep(seconds - 3)
        with urllib.request.urlopen(base + "/api/v1/recordings", timeout=10) as r:
            ix = json.loads(r.read())
        slots = [n for c in ix["cameras"] for sg in c["segments"] for n in range(sg["first_slot"], sg["last_slot"] + 1)
                 if fetch]
        for n in slots:
            try:
                with urllib.request.urlopen(base + "/api/v1/recordings/screen/%d.jpg" % n, timeout=10) as r:
                    got[n] = r.read()
            except urllib.error.HTTPError:
                pass
        with urllib.request.urlopen(base + "/api/v1/events?limit=2000", timeout=10) as r:
            events = json.loads(r.read())["events"]
    finally:
        _, a_err = a.communicate(timeout=60)
    assert a.returncode == 0, a_err
    if not fetch:
        return None, events
    by_slot = form_frames_by_slot(d)
    from PIL import Image
    import io
    index = []
    for k, n in enumerate(sorted(got)):
        Image.open(io.BytesIO(got[n])).convert("RGB").save(os.path.join(frames, "f%05d.png" % k))
        index.append(by_slot.get(n))
    assert sum(i is not None for i in index) >= 10, "%d recorded frames fetched, %d with a known slot\n%s" % (
        len(index), sum(i is not None for i in index), a_err)
    return check("form", d, index, ["--tolerance", "48", "--shrink", "2"], frames=frames), events


@suite.test
def test_console_recordings_of_redacted_camera():
    """The console never shows an unredacted frame of a redact = on camera,
    recorded either: every recorded frame fetched through the Recordings
    page's API has no personal data (the same with redact = off shows the
    checker sees what the API serves). A redact = on camera whose OCR
    workers die is an event on the console: redact-full-mask, why
    ocr-worker-dead."""
    res, _ = console_rig("console-on", True, 10)
    print("# recorded frames through /api/v1/recordings: %d frames, %d personal-data boxes checked, %d leaks" % (
        res["frames_checked"], res["pii_boxes_checked"], res["leaks"]), flush=True)
    assert res["frames_checked"] >= 10 and res["pii_boxes_checked"] > 0, res
    assert res["leaks"] == 0, json.dumps(res["leak_list"])
    off, _ = console_rig("console-off", False, 8)
    print("# the same with redact = off: %d frames, %d leaks" % (off["frames_checked"], off["leaks"]), flush=True)
    assert off["leaks"] > 0, off
    _, events = console_rig("console-dead", True, 6, env={"LOCKSTEP_FAULT_OCR": "fail"}, fetch=False)
    full = [e for e in events if e["kind"] == "redact-full-mask"]
    assert full and full[0]["camera"] == "screen" and full[0]["why"] == "ocr-worker-dead", events


@suite.test
def test_bad_input_one_line():
    cases = [
        ([LOCKSTEP, "redact", "--input", "file:///nonexistent.mp4"], "at least one --output"),
        ([LOCKSTEP, "redact", "--input", "bogus://x", "--output", "file:///tmp/x.mp4"], "--input bogus://x"),
        ([LOCKSTEP, "redact", "--input", "test://", "--output", "ftp://x"], "--output ftp://x"),
        ([LOCKSTEP, "redact", "--input", "test://", "--output", "file:///tmp/x.avi"], "file"),
        ([LOCKSTEP, "redact", "--input", "test://", "--output", "file:///tmp/x.mp4", "--canary", "0"], "--canary"),
    ]
    bad_rules = os.path.join(tmp, "bad.rules")
    with open(bad_rules, "w") as f:
        f.write("rule x frobnicate 0.5\n")
    cases.append(([LOCKSTEP, "redact", "--input", "test://?fps=5", "--output", "file://%s/x.y4m" % tmp,
                   "--rules", bad_rules, "--duration", "1"], bad_rules + ":1"))
    for args, want in cases:
        p = run(args, check=False, timeout=30)
        lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
        assert p.returncode != 0, args
        assert len(lines) == 1 and want in lines[0], "%s: %r" % (args, p.stderr)
    cfg = os.path.join(tmp, "bad-redact.ini")
    with open(cfg, "w") as f:
        f.write("[rig]\nrate = 10\n[camera a]\nuri = test://\nredact = maybe\n")
    p = run([LOCKSTEP, "check", "--no-probe", cfg], check=False)
    assert p.returncode == 1 and p.stderr.strip() == cfg + ":5: [camera a] redact: expected true or false, got " \
        "\"maybe\" (on/off, yes/no and 1/0 work too)", p.stderr


def main():
    try:
        rc = suite.run(sys.argv[3] if len(sys.argv) > 3 else "")
        if report:
            with open(os.path.join(tempfile.gettempdir(), "lockstep-redact-report.json"), "w") as f:
                json.dump(report, f, indent=1)
        return rc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
