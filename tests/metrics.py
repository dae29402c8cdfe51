#!/usr/bin/env python3
"""GET /metrics of [server]: the Prometheus text format, checked by a parser
here, by `promtool check metrics` and by a real Prometheus server scraping
the rig on loopback. Rigs of test:// cameras with [record] and
[output shm], all on 127.0.0.1:
  - content type 0.0.4; every family has HELP and TYPE, once, its samples
    together; the families the console issue names are there with sensible
    values; counters grow between two scrapes; histogram buckets are
    cumulative and +Inf equals _count;
  - frames agree with `--stats-json` (within one second's worth);
  - promtool passes with no lint warning;
  - Prometheus (its own port, storage and config, a scrape every second)
    scrapes the rig with its bearer token, and its query API answers
    lockstep_camera_frames_total for every camera;
  - POST /metrics: 405 with Allow; with token =, no token: 401.
The promtool and Prometheus tests skip when Debian's `prometheus` package
is not installed. Prints TAP.

usage: metrics.py LOCKSTEP_BINARY [FILTER]
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import lsrun
import tap

LS = os.path.abspath(sys.argv[1])
FILTER = sys.argv[2] if len(sys.argv) > 2 else ""
TMP = tempfile.mkdtemp(prefix="lockstep-metrics-")
SUITE = tap.Suite()
test = SUITE.test
RATE = 30
CAMS = ("a", "b")
TOKEN = "metrics-s3cret"

RIGS, PROCS = [], []


def after_each():
    while RIGS:
        RIGS.pop().kill()
    while PROCS:
        p = PROCS.pop()
        if p.poll() is None:
            p.kill()
            p.wait()


def rig(name, token=None):
    """A rig of two test:// cameras, [record], [output shm] and [server] on
    a free loopback port; returns (rig, base URL) once it answers."""
    port = lsrun.free_port()
    text = "[rig]\nrate = %d\n" % RATE
    for c in CAMS:
        text += "[camera %s]\nuri = test://?fps=%d&width=160&height=90&pattern=snow\n" % (c, RATE)
    text += "[record]\ndir = @DIR@/rec\nsegment-s = 2\n"
    text += "[output shm]\nname = lsmetrics%d%s\nslots = 4\n" % (os.getpid(), name)
    text += "[server]\nlisten = 127.0.0.1:%d\nmax-viewers = 0\n" % port
    if token:
        text += "token = %s\n" % token
    os.makedirs(os.path.join(TMP, name, "rec"))
    r = lsrun.RigDir(LS, TMP, name + "-rig", text.replace("@DIR@", os.path.join(TMP, name)))
    RIGS.append(r)
    base = "http://127.0.0.1:%d" % port
    until = time.monotonic() + 20
    while time.monotonic() < until:
        assert r.p.poll() is None, "lockstep exited:\n" + r.text()[-3000:]
        try:
            get(base + "/api/v1/status", token)
            return r, base
        except urllib.error.HTTPError:
            return r, base
        except OSError:
            time.sleep(0.2)
    raise AssertionError("no server on %s:\n%s" % (base, r.text()[-3000:]))


def get(url, token=None, method="GET"):
    """(status, content type, body text); HTTP errors raise HTTPError."""
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, resp.headers.get("Content-Type"), resp.read().decode()


def status_of(url, token=None, method="GET"):
    try:
        return get(url, token, method)[0], {}
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers)


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def parse(text):
    """The exposition parsed and checked for shape: {family: {"type", "help",
    "samples": [(name, {labels}, value)]}}. Asserts: HELP and TYPE once per
    family and before its samples, a family's samples together, every
    sample in a declared family, values that parse."""
    fams, order, current = {}, [], None
    for line in text.splitlines():
        if not line:
            continue
        m = re.match(r"^# (HELP|TYPE) (\S+) (.+)$", line)
        if m:
            kind, name, rest = m.groups()
            f = fams.setdefault(name, {"samples": []})
            assert kind.lower() not in f, "second %s for %s" % (kind, name)
            assert not f["samples"], "%s after %s's samples" % (kind, name)
            f[kind.lower()] = rest
            if name not in order:
                order.append(name)
            current = name
            continue
        assert not line.startswith("#"), "stray comment: " + line
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        name, _, labels, value = m.groups()
        fam = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and name[: -len(suffix)] in fams and \
                    fams[name[: -len(suffix)]].get("type") == "histogram":
                fam = name[: -len(suffix)]
        assert fam in fams, "sample of an undeclared family: " + line
        assert fam == current, "%s's samples are not together (after %s)" % (fam, current)
        lab = {}
        if labels:
            pos = 0
            for lm in LABEL.finditer(labels):
                assert lm.start() == pos, "bad labels in %r" % line
                lab[lm.group(1)] = lm.group(2)
                pos = lm.end()
            assert pos == len(labels), "bad labels in %r" % line
        v = float(value)  # +Inf, NaN included
        fams[fam]["samples"].append((name, lab, v))
    for name, f in fams.items():
        assert "help" in f and "type" in f, "%s lacks HELP or TYPE" % name
        assert f["samples"], "%s has no sample" % name
        if f["type"] == "counter":
            assert name.endswith("_total"), "counter %s does not end in _total" % name
    return fams


def value(fams, fam, name=None, **labels):
    for n, lab, v in fams[fam]["samples"]:
        if (name or fam) == n and all(lab.get(k) == val for k, val in labels.items()):
            return v
    raise AssertionError("no %s%s" % (name or fam, labels))


def check_histogram(fams, fam):
    f = fams[fam]
    assert f["type"] == "histogram", fam
    buckets = [(float(lab["le"]), v) for n, lab, v in f["samples"] if n == fam + "_bucket"]
    assert len(buckets) >= 2 and buckets[-1][0] == float("inf"), "%s: no +Inf bucket" % fam
    for (le0, c0), (le1, c1) in zip(buckets, buckets[1:]):
        assert le0 < le1, "%s: bounds not ascending" % fam
        assert c0 <= c1, "%s: buckets not cumulative: le=%g %g > le=%g %g" % (fam, le0, c0, le1, c1)
    count = value(fams, fam, fam + "_count")
    assert buckets[-1][1] == count, "%s: +Inf %g != _count %g" % (fam, buckets[-1][1], count)
    assert value(fams, fam, fam + "_sum") >= 0
    return count


def last_record(r):
    with open(r.stats) as f:
        lines = [l for l in f if l.strip()]
    return json.loads(lines[-1]) if lines else None


def wait_records(r, n, timeout=15):
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        if os.path.exists(r.stats):
            with open(r.stats) as f:
                if sum(1 for l in f if l.strip()) >= n:
                    return
        time.sleep(0.1)
    raise AssertionError("fewer than %d stats records in %d s:\n%s" % (n, timeout, r.text()[-2000:]))


SHARED = {}


@test
def metrics_families_values_and_growth():
    r, base = rig("main")
    wait_records(r, 3)
    st, ctype, text1 = get(base + "/metrics")
    rec1 = last_record(r)
    assert st == 200
    assert ctype == "text/plain; version=0.0.4; charset=utf-8", ctype
    f1 = parse(text1)
    for fam in ("lockstep_up", "lockstep_build_info", "lockstep_stats_age_seconds", "lockstep_camera_frames_total",
                "lockstep_camera_up", "lockstep_camera_ring_full_drops_total", "lockstep_camera_pool_empty_drops_total",
                "lockstep_camera_drops_total", "lockstep_camera_reconnects_total", "lockstep_camera_outages_total",
                "lockstep_camera_outage_seconds_total", "lockstep_camera_phase_seconds", "lockstep_framesets_total",
                "lockstep_dropped_slots_total", "lockstep_late_frames_total", "lockstep_off_slot_frames_total",
                "lockstep_missing_frames_total", "lockstep_frameset_skew_seconds",
                "lockstep_frameset_latency_seconds", "lockstep_output_dropped_total", "lockstep_record_bytes_total",
                "lockstep_record_segments_total", "lockstep_shm_published_total", "lockstep_http_requests_total"):
        assert fam in f1, "no family %s in:\n%s" % (fam, text1)
    assert value(f1, "lockstep_up") == 1
    assert value(f1, "lockstep_build_info") == 1 and f1["lockstep_build_info"]["samples"][0][1]["version"]
    assert 0 <= value(f1, "lockstep_stats_age_seconds") < 2.5
    for c in CAMS:
        assert value(f1, "lockstep_camera_up", camera=c) == 1
        assert value(f1, "lockstep_camera_frames_total", camera=c) > RATE
        assert abs(value(f1, "lockstep_camera_phase_seconds", camera=c)) < 1.0 / RATE
        assert value(f1, "lockstep_missing_frames_total", camera=c) >= 0
    for o in ("record", "shm", "server"):
        assert value(f1, "lockstep_output_dropped_total", output=o) >= 0
    assert value(f1, "lockstep_framesets_total", state="complete") > RATE
    assert value(f1, "lockstep_framesets_total", state="partial") >= 0
    n_skew = check_histogram(f1, "lockstep_frameset_skew_seconds")
    n_lat = check_histogram(f1, "lockstep_frameset_latency_seconds")
    assert n_lat > RATE and n_skew > RATE, (n_lat, n_skew)

    # agrees with --stats-json: the record it was made from is the latest one
    # (or the one before, if a record landed between the two reads)
    for c in CAMS:
        m = value(f1, "lockstep_camera_frames_total", camera=c)
        s = rec1["cameras"][c]["frames"]
        assert abs(m - s) <= RATE + 2, "camera %s: /metrics %g frames, --stats-json %d" % (c, m, s)
    assert abs(value(f1, "lockstep_framesets_total", state="complete") - rec1["complete"]) <= RATE + 2

    time.sleep(2.2)
    _, _, text2 = get(base + "/metrics")
    f2 = parse(text2)
    for c in CAMS:
        a, b = (value(f, "lockstep_camera_frames_total", camera=c) for f in (f1, f2))
        assert b >= a + RATE, "camera %s frames %g -> %g in 2.2 s" % (c, a, b)
        a, b = (value(f, "lockstep_record_bytes_total", camera=c) for f in (f1, f2))
        assert b > a, "camera %s recorded bytes %g -> %g" % (c, a, b)
    for fam, lab in (("lockstep_framesets_total", {"state": "complete"}), ("lockstep_shm_published_total", {}),
                     ("lockstep_http_requests_total", {})):
        a, b = value(f1, fam, **lab), value(f2, fam, **lab)
        assert b > a, "%s%s did not grow: %g -> %g" % (fam, lab, a, b)
    assert check_histogram(f2, "lockstep_frameset_latency_seconds") > n_lat
    # no counter goes down
    for fam, f in f2.items():
        if f["type"] in ("counter", "histogram"):
            for n, lab, v in f["samples"]:
                old = [v1 for n1, l1, v1 in f1.get(fam, {"samples": []})["samples"] if n1 == n and l1 == lab]
                assert not old or v >= old[0], "%s%s went down: %g -> %g" % (n, lab, old[0], v)
    SHARED["text"] = text2

    # wrong method: 405 with Allow; HEAD is fine
    code, hdrs = status_of(base + "/metrics", method="POST")
    assert code == 405 and "GET" in hdrs.get("Allow", ""), (code, hdrs)
    assert status_of(base + "/metrics", method="HEAD")[0] == 200
    recs = r.stop()
    assert recs and "skew_hist" in recs[-1] and "phase_ms" in recs[-1]["cameras"]["a"]


@test
def promtool_check_metrics_passes():
    promtool = shutil.which("promtool")
    if not promtool:
        raise tap.SkipTest("promtool not installed (Debian package prometheus)")
    text = SHARED.get("text")
    if text is None:
        r, base = rig("promtool")
        wait_records(r, 2)
        text = get(base + "/metrics")[2]
    p = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(), \
        "promtool check metrics: rc %d\n%s%s" % (p.returncode, p.stdout, p.stderr)
    # and it does catch what it should: a counter without _total
    bad = text + "# HELP lockstep_bad_counter x\n# TYPE lockstep_bad_counter counter\nlockstep_bad_counter 1\n"
    p = subprocess.run([promtool, "check", "metrics"], input=bad, capture_output=True, text=True, timeout=60)
    assert "_total" in p.stdout + p.stderr, "promtool let a counter without _total pass: " + p.stdout + p.stderr


@test
def prometheus_scrapes_with_token():
    prom = shutil.which("prometheus")
    if not prom:
        raise tap.SkipTest("prometheus not installed (Debian package prometheus)")
    r, base = rig("prom", token=TOKEN)
    # the token rules hold for /metrics too
    code, hdrs = status_of(base + "/metrics")
    assert code == 401 and "Bearer" in hdrs.get("WWW-Authenticate", ""), (code, hdrs)
    assert status_of(base + "/metrics", token="wrong")[0] == 401
    assert status_of(base + "/metrics", token=TOKEN)[0] == 200

    pdir = os.path.join(TMP, "prometheus")
    os.makedirs(os.path.join(pdir, "data"))
    pport = lsrun.free_port()
    cfg = os.path.join(pdir, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                "scrape_configs:\n  - job_name: lockstep\n    authorization:\n      credentials: %s\n"
                "    static_configs:\n      - targets: ['%s']\n" % (TOKEN, base[len("http://"):]))
    log = open(os.path.join(pdir, "log"), "w")
    p = subprocess.Popen([prom, "--config.file=" + cfg, "--storage.tsdb.path=" + os.path.join(pdir, "data"),
                          "--web.listen-address=127.0.0.1:%d" % pport], stdout=log, stderr=subprocess.STDOUT)
    PROCS.append(p)
    api = "http://127.0.0.1:%d/api/v1/query?query=" % pport
    found, up, last = {}, None, None
    until = time.monotonic() + 30
    while time.monotonic() < until and (len(found) < len(CAMS) or up != 1):
        assert p.poll() is None, "prometheus exited %s:\n%s" % (p.returncode, open(log.name).read()[-3000:])
        try:
            d = json.loads(get(api + urllib.parse.quote("lockstep_camera_frames_total"))[2])
            last = d
            found = {s["metric"].get("camera"): float(s["value"][1]) for s in d["data"]["result"]}
            u = json.loads(get(api + urllib.parse.quote('up{job="lockstep"}'))[2])["data"]["result"]
            up = float(u[0]["value"][1]) if u else None
        except OSError:
            pass
        time.sleep(0.5)
    assert set(found) == set(CAMS) and up == 1, "Prometheus has %r (up %r); last answer %r\n%s" % (
        found, up, last, open(log.name).read()[-3000:])
    assert all(v > 0 for v in found.values()), found
    # a histogram through PromQL: the latency's median is within the rig's max latency
    q = "histogram_quantile(0.5, rate(lockstep_frameset_latency_seconds_bucket[5s]))"
    time.sleep(2)
    d = json.loads(get(api + urllib.parse.quote(q))[2])
    res = d["data"]["result"]
    assert res and 0 < float(res[0]["value"][1]) < 1, d
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=20)
    log.close()
    r.stop()


if __name__ == "__main__":
    try:
        sys.exit(SUITE.run(FILTER, after_each))
    finally:
        after_each()
        shutil.rmtree(TMP, ignore_errors=True)
