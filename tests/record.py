#!/usr/bin/env python3
"""[record] end to end: segments that line up across cameras (checked with
ffprobe), retention, out of space on a small tmpfs, kill -9 and recovery,
clips across a segment boundary, bad input. Prints TAP.

usage: record.py LOCKSTEP_BINARY [FILTER]

The main recording runs 4 test:// cameras with 5 s segments for
LOCKSTEP_RECORD_SECONDS (default 18: three segment boundaries, enough for
every check; the issue's 60 s run is `LOCKSTEP_RECORD_SECONDS=60`).
"""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

import servers
import tap

LS = os.path.abspath(sys.argv[1])
FILTER = sys.argv[2] if len(sys.argv) > 2 else ""
TMP = tempfile.mkdtemp(prefix="lockstep-rec-")
SECONDS = float(os.environ.get("LOCKSTEP_RECORD_SECONDS", "18"))
SUITE = tap.Suite()
test = SUITE.test
SkipTest = tap.SkipTest
RATE = 30
SEG = 5 * RATE  # slots per segment
GOP = RATE

CAMS = """[camera c1]
uri = test://?width=320&height=240&offset-ms=2&jitter-ms=1
[camera c2]
uri = test://?width=320&height=240&offset-ms=-3&jitter-ms=2
[camera c3]
uri = test://?width=320&height=240&drop=0.02
[camera c4]
uri = test://?width=320&height=240&drift-ppm=150
"""


def config(name, record, cams=CAMS):
    d = os.path.join(TMP, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "rig.ini")
    with open(path, "w") as f:
        f.write("[rig]\nrate = %d\n" % RATE + cams + "[record]\n" + record)
    return path


def run(args, timeout=120):
    return subprocess.run([LS] + args, capture_output=True, text=True, timeout=timeout)


def rows(recdir, where="1"):
    db = sqlite3.connect(os.path.join(recdir, "index.sqlite3"))
    db.row_factory = sqlite3.Row
    out = [dict(r) for r in db.execute("SELECT * FROM segments WHERE %s ORDER BY first_slot, camera" % where)]
    db.close()
    return out


def integrity(recdir):
    db = sqlite3.connect(os.path.join(recdir, "index.sqlite3"))
    ok = db.execute("PRAGMA integrity_check").fetchone()[0]
    db.close()
    return ok


def probe(path):
    """Frames, keyframe indices and duration (s) of a segment or clip, by
    reading every packet (no decoding) and decoding every frame once."""
    r = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames",
                        "-show_entries", "stream=nb_read_frames,codec_name:packet=flags,duration_time",
                        "-of", "json", path], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, "ffprobe failed on %s: %s" % (path, r.stderr)
    j = json.loads(r.stdout)
    pk = j["packets"]
    keys = [i for i, p in enumerate(pk) if p["flags"].startswith("K")]
    dur = sum(float(p.get("duration_time", 1.0 / RATE)) for p in pk)
    st = j["streams"][0]
    assert st["codec_name"] == "h264", st
    return int(st["nb_read_frames"]), len(pk), keys, dur


MAIN = {}


def main_recording():
    """The shared 4-camera recording (made once)."""
    if MAIN:
        return MAIN
    cfg = config("main", "dir = %s\nsegment-s = 5\n" % os.path.join(TMP, "main", "rec"))
    os.makedirs(os.path.join(TMP, "main", "rec"))
    r = run(["run", cfg, "--duration", str(SECONDS), "--quiet"], timeout=SECONDS + 60)
    assert r.returncode == 0, r.stderr
    MAIN.update(cfg=cfg, rec=os.path.join(TMP, "main", "rec"), stderr=r.stderr)
    return MAIN


@test
def segments_play_and_line_up():
    """Every segment plays, holds last-first+1 frames of 1/30 s, and has its
    keyframes at the same slots (n mod gop = 0) on every camera."""
    m = main_recording()
    segs = rows(m["rec"])
    assert segs and all(s["state"] == "complete" for s in segs), [s["state"] for s in segs]
    by_slot = {}
    for s in segs:
        by_slot.setdefault((s["first_slot"], s["last_slot"]), []).append(s)
    full = 0
    for (first, last), group in sorted(by_slot.items()):
        # the same segment on all 4 cameras, same slots, same keyframes
        assert sorted(g["camera"] for g in group) == ["c1", "c2", "c3", "c4"], (first, group)
        assert len({g["keyframes"] for g in group}) == 1, group
        n = last - first + 1
        if first % SEG == 0 and n == SEG:
            full += 1
        assert (first % SEG == 0) or first == segs[0]["first_slot"], "segment %d not on a boundary" % first
        assert last // SEG == first // SEG, "segment %d..%d crosses a boundary" % (first, last)
        for g in group:
            frames, packets, keys, dur = probe(os.path.join(m["rec"], g["path"]))
            assert frames == n and packets == n, (g["path"], frames, packets, n)
            assert abs(dur - n / RATE) < 0.5 / RATE, (g["path"], dur, n)
            slots = [first + k for k in keys]
            assert slots == [int(x) for x in g["keyframes"].split(",")], (g["path"], slots, g["keyframes"])
            assert all(k % GOP == 0 for k in slots[1:]) and slots[0] == first, slots
            want = [first] + [k for k in range(first + 1, last + 1) if k % GOP == 0]
            assert slots == want, (g["path"], slots, want)
    assert full >= int(SECONDS // 5) - 1, "only %d full segments" % full
    # the drop=0.02 camera repeated frames and counted them
    assert sum(s["repeated"] for s in segs if s["camera"] == "c3") > 0


@test
def clip_across_a_boundary_same_slots_everywhere():
    m = main_recording()
    segs = rows(m["rec"])
    # the start of the second full segment: a full one precedes it
    boundary = sorted({s["first_slot"] for s in segs if s["first_slot"] % SEG == 0 and
                       s["last_slot"] - s["first_slot"] + 1 == SEG})[1]
    n1, n2 = boundary - 20, boundary + 25
    out = os.path.join(TMP, "clip1")
    t0 = time.time()
    r = run(["clip", "--config", m["cfg"], "--from", str(n1), "--to", str(n2), "--out", out])
    assert r.returncode == 0, r.stderr
    with open(os.path.join(out, "manifest.json")) as f:
        man = json.load(f)
    first = (n1 // GOP) * GOP  # back to the keyframe before n1: the same on every camera
    assert man["first_slot"] == first and man["last_slot"] == n2, man
    assert sorted(man["cameras"]) == ["c1", "c2", "c3", "c4"]
    for cam, c in man["cameras"].items():
        assert (c["first_slot"], c["last_slot"]) == (first, n2), (cam, c)
        assert len(c["segments"]) == 2, c
        frames, packets, keys, dur = probe(os.path.join(out, c["file"]))
        assert frames == n2 - first + 1 == c["frames"], (cam, frames, c)
        assert keys and keys[0] == 0, keys
    # the sources are protected from retention now
    prot = rows(m["rec"], "state = 'protected'")
    assert len(prot) == 8, [(p["path"], p["state"]) for p in prot]
    # by time: an ISO-8601 window inside the recording, and one camera
    t = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(boundary / RATE))
    out2 = os.path.join(TMP, "clip2")
    r = run(["clip", "--config", m["cfg"], "--from", t + "Z", "--to", t + ".5Z", "--camera", "c2", "--out", out2])
    assert r.returncode == 0, r.stderr
    with open(os.path.join(out2, "manifest.json")) as f:
        man = json.load(f)
    assert list(man["cameras"]) == ["c2"] and man["first_slot"] == boundary, man
    assert man["last_slot"] == boundary + 15, man
    assert time.time() - t0 < 30


@test
def retention_deletes_oldest_keeps_protected():
    rec = os.path.join(TMP, "ret", "rec")
    os.makedirs(rec)
    two = "[camera a]\nuri = test://?width=320&height=240\n[camera b]\nuri = test://?width=320&height=240\n"
    cfg = config("ret", "dir = %s\nsegment-s = 1\n" % rec, two)
    r = run(["run", cfg, "--duration", "3", "--quiet"])
    assert r.returncode == 0, r.stderr
    first = rows(rec)
    # protect the second segment's slots with a clip
    s2 = sorted({s["first_slot"] for s in first})[1]
    r = run(["clip", "--config", cfg, "--from", str(s2), "--to", str(s2 + 5), "--out", os.path.join(TMP, "ret", "clip")])
    assert r.returncode == 0, r.stderr
    protected = {s["path"] for s in rows(rec, "state = 'protected'")}
    assert len(protected) == 2, protected
    per_seg = max(s["bytes"] for s in first)
    # a tiny quota: about two segments per camera
    cfg = config("ret", "dir = %s\nsegment-s = 1\nquota-mb = %f\n" % (rec, 4.5 * per_seg / 1048576), two)
    r = run(["run", cfg, "--duration", "5", "--quiet"])
    assert r.returncode == 0, r.stderr
    after = rows(rec)
    paths = {s["path"] for s in after}
    assert protected <= paths, "a protected segment was deleted"
    # the survivors, besides the protected ones, are the newest segments
    kept = sorted({s["first_slot"] for s in after if s["path"] not in protected})
    made = sorted({s["first_slot"] for s in first} | set(kept))
    assert kept and kept == made[len(made) - len(kept):], (kept, made)
    assert len(kept) < len(made), "nothing was deleted"
    gone = [s for s in first if s["path"] not in paths]
    assert gone and all(not os.path.exists(os.path.join(rec, s["path"])) for s in gone)
    # the disk and the index agree
    on_disk = {os.path.join(c, f) for c in ("a", "b") for f in os.listdir(os.path.join(rec, c))}
    assert on_disk == paths, on_disk ^ paths
    unprotected = sum(s["bytes"] for s in after if s["path"] not in protected)
    assert unprotected <= 4.5 * per_seg + 2 * per_seg * 1.3, (unprotected, per_seg)


@test
def out_of_space_on_tmpfs_index_intact_and_resumes():
    if os.geteuid() != 0:
        raise SkipTest("needs root to mount a tmpfs")
    mnt = os.path.join(TMP, "tmpfs")
    os.makedirs(mnt)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt], capture_output=True, text=True)
    if r.returncode != 0:
        raise SkipTest("cannot mount a tmpfs: " + r.stderr.strip())
    try:
        two = "[camera a]\nuri = test://?width=320&height=240\n[camera b]\nuri = test://?width=320&height=240\n"
        cfg = config("nospace", "dir = %s\nsegment-s = 1\nmin-free-mb = 0\n" % mnt, two)
        filler = os.path.join(mnt, "filler")
        with open(filler, "wb") as f:
            f.write(b"\0" * 6500000)
        p = subprocess.Popen([LS, "run", cfg, "--duration", "9", "--quiet"], stderr=subprocess.PIPE, text=True)
        time.sleep(4.5)
        full_at = time.time()
        os.unlink(filler)
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        lines = err.splitlines()
        nospace = [l for l in lines if "No space left on device" in l]
        assert len(nospace) == 1, lines
        assert any("recording resumes" in l for l in lines), lines
        assert integrity(mnt) == "ok"
        segs = rows(mnt)
        assert all(s["state"] == "complete" for s in segs), [(s["path"], s["state"]) for s in segs]
        # recorded after the space came back, on both cameras, and playable
        late = [s for s in segs if s["start_ns"] > full_at * 1e9 + 0.5e9]
        assert {s["camera"] for s in late} == {"a", "b"}, late
        for s in segs:
            frames, _, _, _ = probe(os.path.join(mnt, s["path"]))
            assert frames >= s["last_slot"] - s["first_slot"] + 1, (s, frames)
    finally:
        subprocess.run(["umount", "-l", mnt])


@test
def kill_9_then_restart_loses_under_a_second():
    rec = os.path.join(TMP, "kill", "rec")
    os.makedirs(rec)
    cfg = config("kill", "dir = %s\nsegment-s = 5\n" % rec)
    p = subprocess.Popen([LS, "run", cfg, "--quiet"], stderr=subprocess.PIPE, text=True)
    time.sleep(4.0)
    killed_slot = int(time.time() * RATE)
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=30)
    torn = rows(rec, "state = 'recording'")
    assert torn, "no segment was open at the kill"
    r = run(["run", cfg, "--duration", "1", "--quiet"])
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("record: recovered") == len(torn), r.stderr
    segs = rows(rec)
    assert all(s["state"] == "complete" for s in segs), [(s["path"], s["state"]) for s in segs]
    for cam in ("c1", "c2", "c3", "c4"):
        before = [s for s in segs if s["camera"] == cam and s["first_slot"] <= killed_slot]
        last = max(s["last_slot"] for s in before)
        assert killed_slot - last <= RATE, "camera %s lost %d slots" % (cam, killed_slot - last)
        for s in before:
            frames, _, keys, _ = probe(os.path.join(rec, s["path"]))
            assert frames >= s["last_slot"] - s["first_slot"] + 1 and keys[0] == 0, (s, frames)


@test
def stream_copy_of_an_h264_network_camera():
    """copy = auto: an udp:// H.264 camera is recorded from its own stream
    (the sender's keyframes, every 45 frames), a test camera
    beside it is encoded (keyframes on n mod 30); segments play, hold one
    frame per slot, and a clip starts each camera on its own keyframe."""
    port = 22000 + os.getpid() % 20000
    sender = servers.rtp_sender(port)
    try:
        rec = os.path.join(TMP, "copy", "rec")
        os.makedirs(rec)
        cams = ("[camera net]\nuri = udp://127.0.0.1:%d?latency=50\n"
                "[camera t]\nuri = test://?width=320&height=240\n" % port)
        cfg = config("copy", "dir = %s\nsegment-s = 2\ncopy = auto\n" % rec, cams)
        time.sleep(0.5)
        r = run(["run", cfg, "--duration", "10", "--quiet"])
        assert r.returncode == 0, r.stderr
        assert "record: camera net: recording its own H.264 stream (stream copy)" in r.stderr, r.stderr
        assert "camera t: recording its own" not in r.stderr and "re-encoding" not in r.stderr, r.stderr
    finally:
        sender.terminate()
        sender.wait()
    segs = rows(rec)
    assert all(s["state"] == "complete" for s in segs), segs
    net = [s for s in segs if s["camera"] == "net"]
    t = [s for s in segs if s["camera"] == "t"]
    assert len(net) >= 3 and len(t) >= 3, (net, t)
    assert all(s["copy"] == 1 for s in net) and all(s["copy"] == 0 for s in t), segs
    net_keys = []
    for s in net:
        path = os.path.join(rec, s["path"])
        frames, packets, keys, _ = probe(path)
        n = s["last_slot"] - s["first_slot"] + 1
        assert frames == n and packets == n, (s, frames, packets)
        assert keys and keys[0] == 0, (s, keys)
        slots = [s["first_slot"] + k for k in keys]
        assert slots == [int(x) for x in s["keyframes"].split(",")], (s, slots)
        net_keys += slots
    # the camera's keyframes, 45 frames apart (one per slot: 45 slots),
    # except across a lost frame, which ends a segment
    gaps = [b - a for a, b in zip(net_keys, net_keys[1:])]
    assert gaps.count(45) >= len(gaps) - 1, gaps
    # one frame per slot: the copied frames cover the run's slots
    covered = sum(s["last_slot"] - s["first_slot"] + 1 for s in net)
    span = net[-1]["last_slot"] - net[0]["first_slot"] + 1
    assert covered >= 0.9 * span and span >= 6 * RATE, (covered, span)
    for s in t:
        _, _, keys, _ = probe(os.path.join(rec, s["path"]))
        assert all((s["first_slot"] + k) % GOP == 0 for k in keys[1:]), (s, keys)
    # a clip in the middle: each camera from its own latest keyframe
    mid = net[1]["first_slot"] + 20
    out = os.path.join(TMP, "copy", "clip")
    r = run(["clip", "--config", cfg, "--from", str(mid), "--to", str(mid + 40), "--out", out])
    assert r.returncode == 0, r.stderr
    with open(os.path.join(out, "manifest.json")) as f:
        man = json.load(f)
    cn, ct = man["cameras"]["net"], man["cameras"]["t"]
    assert cn["copy"] is True and ct["copy"] is False, man
    assert cn["first_slot"] == max(k for k in net_keys if k <= mid), (cn, net_keys)
    assert ct["first_slot"] == mid - mid % GOP, ct
    for name, c in (("net", cn), ("t", ct)):
        assert c["last_slot"] == mid + 40, c
        frames, _, keys, _ = probe(os.path.join(out, name + ".mp4"))
        assert frames == c["frames"] == c["last_slot"] - c["first_slot"] + 1 and keys[0] == 0, (name, c, frames)


@test
def stream_copy_over_rtsp():
    """copy = auto with a real RTSP server: the camera's own keyframes
    (every 45 frames), one frame per slot, segments that play."""
    port = 27000 + os.getpid() % 20000
    server = servers.rtsp_camera(port, keyint=45)
    try:
        rec = os.path.join(TMP, "rtspcopy", "rec")
        os.makedirs(rec)
        cfg = config("rtspcopy", "dir = %s\nsegment-s = 2\ncopy = auto\n" % rec,
                     "[camera cam]\nuri = rtsp://127.0.0.1:%d/cam\n" % port)
        r = run(["run", cfg, "--duration", "8", "--quiet"])
        assert r.returncode == 0, r.stderr
        assert "record: camera cam: recording its own H.264 stream (stream copy)" in r.stderr, r.stderr
        assert "re-encoding" not in r.stderr, r.stderr
    finally:
        server.terminate()
        server.wait()
    segs = rows(rec)
    assert len(segs) >= 3 and all(s["copy"] == 1 and s["state"] == "complete" for s in segs), segs
    keys = []
    for s in segs:
        frames, packets, k, _ = probe(os.path.join(rec, s["path"]))
        assert frames == packets == s["last_slot"] - s["first_slot"] + 1 and k[0] == 0, (s, frames, k)
        keys += [s["first_slot"] + x for x in k]
    gaps = [b - a for a, b in zip(keys, keys[1:])]
    assert gaps and gaps.count(45) >= len(gaps) - 1, gaps
    covered = sum(s["last_slot"] - s["first_slot"] + 1 for s in segs)
    assert covered >= 0.9 * (segs[-1]["last_slot"] - segs[0]["first_slot"] + 1), segs


@test
def stream_copy_never_for_redacted_or_other_rate_cameras():
    """copy = auto leaves a redact=on camera to the encoder (its own stream
    holds what redaction hides); a camera at 15 fps in a 30 fps rig and one
    with B-frames fall back to encoding with one line each."""
    p1, p2, p3 = (23000 + os.getpid() % 20000, 24000 + os.getpid() % 20000, 25000 + os.getpid() % 20000)
    senders = [servers.rtp_sender(p1), servers.rtp_sender(p2, fps=15), servers.rtp_sender(p3, bframes=True)]
    try:
        rec = os.path.join(TMP, "nocopy", "rec")
        os.makedirs(rec)
        # B-frames delay decoding by their reorder depth: a deadline that
        # lets those frames in (the 15 fps and redacted cameras do not need it)
        cams = ("max-latency-ms = 500\n"
                "[camera red]\nuri = udp://127.0.0.1:%d?latency=50\nredact = on\n"
                "[camera slow]\nuri = udp://127.0.0.1:%d?latency=50\n"
                "[camera bfr]\nuri = udp://127.0.0.1:%d?latency=50\n" % (p1, p2, p3))
        cfg = config("nocopy", "dir = %s\nsegment-s = 1\ncopy = auto\n" % rec, cams)
        time.sleep(0.5)
        r = run(["run", cfg, "--duration", "6", "--quiet"])
        assert r.returncode == 0, r.stderr
    finally:
        for p in senders:
            p.terminate()
            p.wait()
    assert "camera red: recording its own" not in r.stderr, r.stderr
    assert "record: camera slow: its stream runs at 15/1 fps, the rig at 30/1; re-encoding it" in r.stderr, r.stderr
    assert "record: camera bfr: its stream reorders frames (B-frames); re-encoding it" in r.stderr, r.stderr
    segs = rows(rec)
    for cam in ("red", "slow", "bfr"):
        mine = [s for s in segs if s["camera"] == cam]
        # (the B-frame camera may have copied a few frames before the first reorder)
        enc = [s for s in mine if s["copy"] == 0]
        assert len(enc) >= 2 and (cam == "bfr" or len(enc) == len(mine)), (cam, segs)
        # lockstep's encoder: keyframes on n mod gop = 0, not the senders' 45
        for s in enc:
            _, _, keys, _ = probe(os.path.join(rec, s["path"]))
            assert all((s["first_slot"] + k) % GOP == 0 for k in keys[1:]), (s, keys)
            assert int(s["keyframes"].split(",")[0]) == s["first_slot"], s


@test
def bad_input_one_line_each():
    m = main_recording()
    missing = config("bad1", "dir = %s\n" % os.path.join(TMP, "nowhere"))
    cases = [
        (["run", missing, "--duration", "1"], "[record] dir=%s: record dir" % os.path.join(TMP, "nowhere")),
        (["check", "--no-probe", missing], "No such file or directory"),
        (["clip", "--config", m["cfg"], "--from", "100", "--to", "50", "--out", TMP + "/x"], "is after --to"),
        (["clip", "--config", m["cfg"], "--from", "soon", "--to", "50", "--out", TMP + "/x"], "expected a slot index"),
        (["clip", "--config", m["cfg"], "--from", "5", "--to", "50", "--out", TMP + "/x"], "outside the recording"),
        (["clip", "--config", m["cfg"], "--from", "2001-01-01T00:00:00Z", "--to", "2001-01-01T00:01:00Z",
          "--out", TMP + "/x"], "outside the recording"),
        (["clip", "--config", missing, "--from", "5", "--to", "50", "--out", TMP + "/x"], "record dir"),
        (["clip", "--config", m["cfg"], "--from", "5", "--to", "50", "--camera", "nope", "--out", TMP + "/x"],
         "no recording of camera \"nope\""),
        (["clip", "--config", m["cfg"], "--from", "5"], "needs --config, --from, --to and --out"),
    ]
    segs = rows(m["rec"])
    mid = str(segs[0]["first_slot"] + 40)
    cases.append((["clip", "--config", m["cfg"], "--from", mid, "--to", mid, "--out", os.path.join(TMP, "no", "dir")],
                  "--out %s: No such file or directory" % os.path.join(TMP, "no", "dir")))
    if os.geteuid() == 0:
        ro = os.path.join(TMP, "ro")
        os.makedirs(ro)
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", ro]).returncode == 0:
            try:
                cfg = config("bad2", "dir = %s\n" % ro)
                r = run(["run", cfg, "--duration", "1"])
                lines = r.stderr.strip().splitlines()
                assert r.returncode != 0 and len(lines) == 1 and "cannot write" in lines[0], lines
            finally:
                subprocess.run(["umount", "-l", ro])
    else:
        ro = os.path.join(TMP, "ro")
        os.makedirs(ro, mode=0o555)
        cfg = config("bad2", "dir = %s\n" % ro)
        cases.append((["run", cfg, "--duration", "1"], "cannot write"))
    for args, want in cases:
        r = run(args)
        lines = r.stderr.strip().splitlines()
        assert r.returncode != 0, (args, r.stderr)
        assert len(lines) == 1 and want in lines[0], (args, lines, want)


def main():
    try:
        return SUITE.run(FILTER)
    finally:
        shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
