#!/usr/bin/python3
"""The web console's cost to the rig: CPU of the lockstep process (utime +
stime from /proc over a fixed window; the browser's own CPU is not counted)
running 8 cameras (test://, 640x360 at 30 fps) with [server], while Debian's
Chromium (headless, on 127.0.0.1) shows:
  - nothing (about:blank): the baseline;
  - the Health page (per-second records over server-sent events, charts);
  - the Live page with all 8 cameras (8 WebRTC streams: lockstep encodes
    every camera once for it);
  - the Live page's exact fallback, /view?mosaic=1 (one encoded stream).
Each page is measured right after a baseline of its own, in one rig, so the
ratio is against the same conditions. Goal: <= 1.05x.

usage: bench/console_cpu.py BUILD_DIR [SECONDS] [ROUNDS]
"""
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
import browser  # noqa: E402
from lsrun import free_port  # noqa: E402

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
SECS = int(sys.argv[2]) if len(sys.argv) > 2 else 20
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 2
LS = os.path.abspath(os.path.join(BUILD, "lockstep"))
TMP = tempfile.mkdtemp(prefix="lockstep-bench-console-")
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / TICK


def window(pid):
    c0 = cpu_s(pid)
    time.sleep(SECS)
    return cpu_s(pid) - c0


def ready(b, script, timeout=30):
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        if b.js(script):
            return
        time.sleep(0.2)
    raise SystemExit("the page did not get ready: " + script)


def main():
    if not browser.available():
        print("console bench: chromium and chromium-driver are not installed (scripts/setup.sh)")
        return 1
    port = free_port()
    cfg = os.path.join(TMP, "rig.ini")
    with open(cfg, "w") as f:
        f.write("[rig]\nrate = 30\n")
        for i in range(8):
            f.write("[camera c%d]\nuri = test://?fps=30&width=640&height=360&pattern=ball&offset-ms=%d\n" % (i, i))
        f.write("[server]\nlisten = 127.0.0.1:%d\nmax-viewers = 16\n" % port)
    base = "http://127.0.0.1:%d" % port
    p = subprocess.Popen([LS, "run", cfg, "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    b = browser.Browser()
    pages = [
        ("health", "/health", "return window.lsHealth && window.lsHealth.records >= 2"),
        ("live, 8 tiles", "/", "const f = document.querySelector('iframe'); const v = f && f.contentWindow.lsView;"
                                " return v && v.painted >= 30"),
        ("/view?mosaic=1", "/view?mosaic=1", "return window.lsView && window.lsView.painted >= 30"),
    ]
    print("console bench: 8 cameras 640x360@30, %d s windows, %d rounds; %s" % (
        SECS, ROUNDS, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())))
    try:
        time.sleep(3)
        for r in range(1, ROUNDS + 1):
            for name, path, script in pages:
                b.d.get("about:blank")
                time.sleep(2)
                idle = window(p.pid)
                b.d.get(base + path)
                ready(b, script)
                time.sleep(2)
                busy = window(p.pid)
                print("round %d %-15s lockstep CPU over %d s: without %.2f s (%.0f %%), with %.2f s (%.0f %%): "
                      "ratio %.3f (goal <= 1.05)" % (r, name, SECS, idle, 100 * idle / SECS, busy,
                                                     100 * busy / SECS, busy / idle), flush=True)
    finally:
        b.close()
        p.send_signal(2)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
    return 0


sys.exit(main())
