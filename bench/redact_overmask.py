#!/usr/bin/python3
"""How much text that is NOT personal data `lockstep redact` hides (issue
17): the case-work scenes of the redaction corpus (tests/corpus: casefile,
ledger, formtype, newform, newtable), each played live at its own rate
through BUILD_DIR/lockstep redact, then checked against the ground truth
by tests/corpus/check_redaction.py:

  leaks          personal-data boxes shown unmasked (must be 0)
  steady hidden  share of the non-personal text pixels hidden in the second
                 half of the scene (after the change for newform/newtable);
                 a pixel is hidden when it or its 5x5 neighbourhood changed
                 (goal <= 5 %)
  full-mask      output frames masked whole (all / at steady state)
  readable       seconds from the full change (newform, newtable) until
                 every non-personal line is shown (goal <= 1 s), and until
                 95 % of the text pixels are

The peer, in the same run (--peer-every N, 0: none): BUILD_DIR/bench/
naive-redact, full-frame Tesseract on every N-th frame with the same rules
and no change detection, caching or fail-closed rules (2 threads), checked
the same way. Its time to readable is the first frame it read after the
change in which every line is shown, plus its time to read a frame (p50):
a live screen shows its frames that much later.

The input is the scene as I420 y4m (as tests/redact.py feeds it) and the
checker compares against that same y4m (--reference), so the 4:2:0 round
trip does not count as hiding.  Prints one table, then the most hidden
lines of each scene; writes OUT/report.json.  Exit status 1 if anything
leaked, 2 if a run failed.

usage: /usr/bin/python3 bench/redact_overmask.py BUILD_DIR [--scenes casefile,ledger,...]
           [--out DIR] [--seed N] [--frames N] [--list-hidden N] [--lang de|en|seed]
           [--redact-args "ARGS"] [--peer-every N]
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPUS = os.path.join(ROOT, "tests", "corpus")
PY = "/usr/bin/python3"  # Debian's: PIL and numpy
SCENES = ["casefile", "ledger", "formtype", "newform", "newtable"]


def run(args, timeout, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)


def fmt(v, pct=False, nd=2):
    if v is None:
        return "-"
    if pct:
        return "%.1f %%" % (100 * v)
    return "%.*f" % (nd, v)


def one(a, ls, scene, corpus, out):
    """Runs lockstep redact live on one scene and the checker on what came
    out; returns the scene's report."""
    with open(os.path.join(corpus, scene, "truth.json")) as f:
        truth = json.load(f)
    fps, nin = truth["fps"], len(truth["frames"])
    y4m = os.path.join(corpus, scene + ".y4m")
    p = run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", os.path.join(corpus, scene + ".mkv"),
        "-pix_fmt", "yuv420p", y4m], 300)
    if p.returncode:
        raise RuntimeError("ffmpeg: %s" % p.stderr.strip()[-300:])
    d = os.path.join(out, scene)
    os.makedirs(d, exist_ok=True)
    oy4m, audit = os.path.join(d, "o.y4m"), os.path.join(d, "audit.jsonl")
    for f in (oy4m, audit, oy4m + ".frames.jsonl"):
        if os.path.exists(f):
            os.unlink(f)
    load0 = os.getloadavg()[0]
    t0 = time.monotonic()
    p = run([ls, "redact", "--input", "file://" + y4m, "--output", "file://" + oy4m, "--audit", audit,
        "--rate", str(fps), "--quiet"] + shlex.split(a.redact_args), nin / fps + 180)
    wall = time.monotonic() - t0
    load = (round(load0, 2), round(os.getloadavg()[0], 2))  # other work on the machine skews a live run
    if p.returncode:
        raise RuntimeError("lockstep redact exit %d: %s" % (p.returncode, p.stderr.strip()[-500:]))
    with open(oy4m + ".frames.jsonl") as f:
        index = [round(json.loads(line)["stream_ns"] * fps / 1e9) for line in f]
    index = [i if 0 <= i < nin else None for i in index]
    mp = os.path.join(d, "map.json")
    with open(mp, "w") as f:
        json.dump(index, f)
    p = run([PY, os.path.join(CORPUS, "check_redaction.py"), os.path.join(corpus, scene), oy4m, "--map", mp,
        "--list", "5", "--min-visible", "0.5", "--list-hidden", str(a.list_hidden), "--reference", y4m,
        "--per-frame", os.path.join(d, "per-frame.jsonl")], 900)
    if p.returncode not in (0, 1):
        raise RuntimeError("checker: %s" % p.stderr.strip()[-500:])
    r = json.loads(p.stdout)
    why = {}
    with open(audit) as f:
        for line in f:
            e = json.loads(line)
            if e.get("event") == "full-mask":
                why[e.get("why", "?")] = why.get(e.get("why", "?"), 0) + 1
    return dict(scene=scene, fps=fps, frames_in=nin, frames_out=r["frames_output"], frames_checked=r["frames_checked"],
        wall_s=round(wall, 1), loadavg_before_after=load, style=truth["frames"][-1].get("style"), leaks=r["leaks"], leaked_frames=r["leaked_frames"],
        leak_list=r["leak_list"], pii_boxes_checked=r["pii_boxes_checked"], steady=r["steady"],
        steady_lines_hidden=r["steady_lines_hidden"], full_change=r["full_change"], changes=r["changes"],
        readable_after_s=r["readable_after_s"], readable95_after_s=r["readable95_after_s"],
        entering_lines=r.get("entering_lines"), overmask_text_mean=r["overmask_text"]["mean"], audit_full_mask=why, output=d)


def peer(a, scene, corpus, out, y4m):
    """The naive peer on one scene: every --peer-every-th frame read whole
    by Tesseract, boxes on what the rules match; checked like lockstep."""
    d = os.path.join(out, scene, "naive")
    os.makedirs(d, exist_ok=True)
    oy4m = os.path.join(d, "o.y4m")
    tool = os.path.join(os.path.abspath(a.build), "bench", "naive-redact")
    p = run([tool, y4m, oy4m, "--every", str(a.peer_every), "--workers", "2", "--rules",
        os.path.join(ROOT, "rules", "pii.rules")], 3600, env=dict(os.environ, OMP_THREAD_LIMIT="1"))
    if p.returncode:
        raise RuntimeError("naive-redact exit %d: %s" % (p.returncode, p.stderr.strip()[-500:]))
    summary = json.loads(p.stdout)
    with open(oy4m + ".frames.jsonl") as f:
        index = [json.loads(line)["input"] for line in f]
    mp = os.path.join(d, "map.json")
    with open(mp, "w") as f:
        json.dump(index, f)
    p = run([PY, os.path.join(CORPUS, "check_redaction.py"), os.path.join(corpus, scene), oy4m, "--map", mp,
        "--list", "5", "--min-visible", "0.5", "--list-hidden", "0", "--reference", y4m], 900)
    if p.returncode not in (0, 1):
        raise RuntimeError("checker (naive): %s" % p.stderr.strip()[-500:])
    r = json.loads(p.stdout)
    lag = summary["ms_p50"] / 1000.0
    return dict(summary=summary, leaks=r["leaks"], leaked_frames=r["leaked_frames"], frames_checked=r["frames_checked"],
        pii_boxes_checked=r["pii_boxes_checked"], steady=r["steady"], changes=r["changes"],
        readable_after_s=None if r["readable_after_s"] is None else round(r["readable_after_s"] + lag, 2),
        readable95_after_s=None if r["readable95_after_s"] is None else round(r["readable95_after_s"] + lag, 2),
        leak_kinds=sorted({l["kind"] for l in r["leak_list"]}), output=d)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build", help="build directory with lockstep")
    ap.add_argument("--scenes", default=",".join(SCENES), help="comma-separated corpus scenes (default: %(default)s)")
    ap.add_argument("--out", help="work and report directory (default: a new one under /tmp)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--frames", type=int, help="frames per scene (default: the scene's, 150 = 10 s)")
    ap.add_argument("--lang", choices=["de", "en", "seed"], help="language of the screens (default: the scenes', de)")
    ap.add_argument("--list-hidden", type=int, default=10, help="most hidden lines per scene (default 10)")
    ap.add_argument("--redact-args", default="", help="more arguments for lockstep redact")
    ap.add_argument("--peer-every", type=int, default=5,
        help="run the naive full-frame Tesseract peer on every N-th frame (default 5; 0: no peer)")
    a = ap.parse_args()
    ls = os.path.abspath(os.path.join(a.build, "lockstep"))
    if not os.access(ls, os.X_OK):
        ap.error("%s: not found (build first: ninja -C %s)" % (ls, a.build))
    scenes = [s for s in a.scenes.split(",") if s]
    out = os.path.abspath(a.out or tempfile.mkdtemp(prefix="lockstep-overmask-"))
    corpus = os.path.join(out, "corpus")
    os.makedirs(corpus, exist_ok=True)
    cmd = [PY, os.path.join(CORPUS, "gen_corpus.py"), "--out", corpus, "--video", "--seed", str(a.seed)]
    for s in scenes:
        cmd += ["--scenario", s]
    if a.frames:
        cmd += ["--frames", str(a.frames)]
    if a.lang:
        cmd += ["--lang", a.lang]
    t0 = time.monotonic()
    p = run(cmd, 900)
    if p.returncode:
        print("redact_overmask: gen_corpus failed: %s" % p.stderr.strip()[-500:], file=sys.stderr)
        return 2
    print("# corpus: %d scenes in %.0f s (%s)" % (len(scenes), time.monotonic() - t0, corpus), flush=True)
    version = run([ls, "version"], 30).stdout.strip()
    rows, failed = [], []
    for s in scenes:
        try:
            r = one(a, ls, s, corpus, out)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            print("# %s: FAILED: %s" % (s, e), flush=True)
            failed.append(dict(scene=s, error=str(e)))
            continue
        rows.append(r)
        print("# %s: %d of %d frames out, %d leaks, steady hidden %s, readable %s s (%.0f s, load %.1f/%.1f)" % (
            s, r["frames_out"], r["frames_in"], r["leaks"], fmt(r["steady"]["hidden_fraction"], True),
            fmt(r["readable_after_s"]), r["wall_s"], *r["loadavg_before_after"]), flush=True)
        if a.peer_every > 0:
            try:
                r["naive"] = peer(a, s, corpus, out, os.path.join(corpus, s + ".y4m"))
                n = r["naive"]
                print("# %s naive: %d frames read, %d leaks of %d boxes, steady hidden %s, %.0f ms a frame" % (
                    s, n["frames_checked"], n["leaks"], n["pii_boxes_checked"], fmt(n["steady"]["hidden_fraction"], True),
                    n["summary"]["ms_p50"]), flush=True)
            except (RuntimeError, subprocess.TimeoutExpired, ValueError) as e:
                print("# %s naive: FAILED: %s" % (s, e), flush=True)
                failed.append(dict(scene=s + " (naive)", error=str(e)))
    leaks = sum(r["leaks"] for r in rows)
    print()
    if leaks:
        print("!!! PERSONAL DATA SHOWN: %d leaks in %s !!!" % (leaks, ", ".join(
            "%s (%d)" % (r["scene"], r["leaks"]) for r in rows if r["leaks"])))
        for r in rows:
            for l in r["leak_list"][:5]:
                print("!!!   %s frame %d: %s %r, %d px unmasked" % (r["scene"], l["frame"], l["kind"], l["text"], l["unmasked_px"]))
        print()
    hdr = ("scene", "out/in", "leaks", "steady hidden", "lines hidden", "full-mask all/steady", "readable s", "95 % s",
        "edge lines read p50/max s", "overmask_text")
    table = [hdr]
    for r in rows:
        st = r["steady"]
        table.append((r["scene"], "%d/%d" % (r["frames_out"], r["frames_in"]), str(r["leaks"]) + (" !!!" if r["leaks"] else ""),
            fmt(st["hidden_fraction"], True), fmt(st["lines_hidden_fraction"], True),
            "%d/%d" % (r["full_change"]["frames"], r["full_change"]["steady_frames"]),
            fmt(r["readable_after_s"]) if r["changes"] else "n/a", fmt(r["readable95_after_s"]) if r["changes"] else "n/a",
            ("%s/%s (%d never)" % (fmt(r["entering_lines"]["p50_s"]), fmt(r["entering_lines"]["max_s"]),
                                   r["entering_lines"]["never"])) if r.get("entering_lines") else "n/a",
            fmt(r["overmask_text_mean"], True)))
    widths = [max(len(row[i]) for row in table) for i in range(len(hdr))]
    for k, row in enumerate(table):
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if k == 0:
            print("  ".join("-" * w for w in widths))
    peers = [r for r in rows if r.get("naive")]
    if peers:
        print("\nthe naive peer (full-frame Tesseract, every %d-th frame, 2 threads) against lockstep, same run:" % a.peer_every)
        hdr = ("scene", "leaks lockstep / naive", "boxes", "steady hidden lockstep / naive", "readable s lockstep / naive",
            "fps lockstep / naive", "fps ratio", "naive ms/frame p50", "naive lines/s")
        table = [hdr]
        for r in peers:
            n = r["naive"]
            fps_l = r["frames_out"] * r["fps"] / r["frames_in"]  # live: output frames per second of the scene
            table.append((r["scene"], "%d / %d" % (r["leaks"], n["leaks"]), "%d / %d" % (r["pii_boxes_checked"], n["pii_boxes_checked"]),
                "%s / %s" % (fmt(r["steady"]["hidden_fraction"], True), fmt(n["steady"]["hidden_fraction"], True)),
                "%s / %s" % (fmt(r["readable_after_s"]), fmt(n["readable_after_s"])) if r["changes"] else "n/a",
                "%.1f / %.2f" % (fps_l, n["summary"]["fps"]), "%.0fx" % (fps_l / n["summary"]["fps"]) if n["summary"]["fps"] else "-",
                "%.0f" % n["summary"]["ms_p50"], "%.0f" % n["summary"]["lines_per_s"]))
        widths = [max(len(row[i]) for row in table) for i in range(len(hdr))]
        for k, row in enumerate(table):
            print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
            if k == 0:
                print("  ".join("-" * w for w in widths))
    for r in rows:
        if r["steady_lines_hidden"]:
            print("\n%s: most hidden lines at steady state (hidden share, frames hidden/steady, text)" % r["scene"])
            for l in r["steady_lines_hidden"]:
                print("  %5.1f %%  %3d/%-3d  %r  @%d,%d" % (100 * l["hidden_fraction"], l["frames_hidden"], l["frames"],
                    l["text"], l["x"], l["y"]))
    for f in failed:
        print("\n%s: FAILED: %s" % (f["scene"], f["error"]))
    report = dict(lockstep=ls, version=version, seed=a.seed, scenes=rows, failed=failed, leaks=leaks,
        redact_args=a.redact_args, peer_every=a.peer_every, when=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    path = os.path.join(out, "report.json")
    with open(path, "w") as f:
        json.dump(report, f, indent=1, ensure_ascii=False)
    print("\nreport: %s" % path)
    return 2 if failed else (1 if leaks else 0)


if __name__ == "__main__":
    sys.exit(main())
