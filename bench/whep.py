#!/usr/bin/python3
"""WebRTC out ([server] WHEP, /view) in Debian's Chromium, headless, on
127.0.0.1, in one run:

  A. Glass-to-glass latency: a test://?pattern=clock camera, 1280x720 at
     30 fps, watched in /view?measure=1. The page reads each painted grid's
     clock stamp (the capture time lockstep drew into the frame) and takes
     paint time - capture time; also the time each frame left the decoder.
     Floor, same run: the same frames (recorded by [output file]) through
     the same encoder (x264, lockstep's WHEP settings) and a decoder
     (avdec_h264, FFmpeg's, as Chromium's) alone in one GStreamer pipeline,
     paced at 30 fps: time out of the decoder - time into the encoder.
  B. CPU of the lockstep process (utime + stime from /proc over a fixed
     window once every viewer plays) with 1 viewer against 8 viewers of the
     same camera (640x360 and 1280x720 at 30 fps; one encoder behind a tee,
     a payloader, DTLS/SRTP and ICE per viewer; the 8 are tiles of one
     Chromium page, each its own WHEP session). Goal <= 1.15x.

usage: bench/whep.py BUILD_DIR [SECONDS] [ROUNDS]
"""
import os
import statistics
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
TMP = tempfile.mkdtemp(prefix="lockstep-bench-whep-")
TICK = os.sysconf("SC_CLK_TCK")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def start(name, cams, extra=""):
    d = os.path.join(TMP, name)
    os.makedirs(d, exist_ok=True)
    port = free_port()
    cfg = os.path.join(d, "rig.ini")
    with open(cfg, "w") as f:
        f.write("[rig]\nrate = 30\n%s[server]\nlisten = 127.0.0.1:%d\n%s" % (cams, port, extra))
    p = subprocess.Popen([LS, "run", cfg, "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(1)
    return p, "http://127.0.0.1:%d" % port


def stop(p):
    p.send_signal(2)
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / TICK


def wait_painted(b, n, timeout=30):
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        if (b.js("return window.lsView ? window.lsView.painted : 0") or 0) >= n:
            return
        time.sleep(0.2)
    raise SystemExit("the page painted nothing: %s" % b.js("return window.lsView && window.lsView.errors"))


def latency_chromium():
    cam = "[camera a]\nuri = test://?fps=30&width=1280&height=720&pattern=clock\n"
    p, base = start("lat", cam)
    b = browser.Browser()
    try:
        b.d.get(base + "/view?cameras=a&measure=1&width=1280&height=720")
        wait_painted(b, 30)
        time.sleep(2)
        b.js("window.lsView.lat = []; window.lsView.videoLat = []; window.lsView.painted = 0;")
        time.sleep(SECS)
        paint = b.js("return window.lsView.lat")
        dec = b.js("return window.lsView.videoLat")
        painted = b.js("return window.lsView.painted")
    finally:
        b.close()
        stop(p)
    return paint, dec, painted


def record_frames(n=60):
    """n frames of the same camera, raw, from lockstep's [output file]."""
    d = os.path.join(TMP, "rec")
    os.makedirs(d, exist_ok=True)
    cfg = os.path.join(d, "rig.ini")
    out = os.path.join(d, "a.y4m")
    with open(cfg, "w") as f:
        f.write("[rig]\nrate = 30\n[camera a]\nuri = test://?fps=30&width=1280&height=720&pattern=clock\n"
                "[output file]\ncamera = a\nfile = %s\n" % out)
    subprocess.run([LS, "run", cfg, "--duration", "%.2f" % (n / 30 + 0.5), "--quiet"], check=True, timeout=60)
    frames = []
    with open(out, "rb") as f:
        f.readline()
        size = 1280 * 720 * 3 // 2
        while len(frames) < n:
            if not f.readline().startswith(b"FRAME"):
                break
            frames.append(f.read(size))
    os.unlink(out)
    return frames


def floor(frames):
    """ms from each frame into x264 (lockstep's WHEP settings) to out of
    avdec_h264, paced at 30 fps, looped over the frames for SECS s."""
    import gi
    gi.require_version("Gst", "1.0")
    gi.require_version("GstApp", "1.0")
    from gi.repository import Gst
    Gst.init(None)
    pipe = Gst.parse_launch(
        "appsrc name=src is-live=true format=time caps=video/x-raw,format=I420,width=1280,height=720,"
        "framerate=30/1 ! x264enc tune=zerolatency speed-preset=ultrafast bitrate=4000 key-int-max=60 bframes=0 "
        "threads=1 ! video/x-h264,profile=constrained-baseline ! avdec_h264 ! appsink name=sink sync=false "
        "emit-signals=false max-buffers=100")
    src, sink = pipe.get_by_name("src"), pipe.get_by_name("sink")
    pipe.set_state(Gst.State.PLAYING)
    import collections
    sent = collections.deque()  # send times, in order (no B-frames: frames leave in order)
    lat = []
    n = int(SECS * 30)
    t0 = time.monotonic()
    for i in range(n):
        due = t0 + i / 30
        while time.monotonic() < due:
            s = sink.emit("try-pull-sample", 0)
            if s:
                lat.append((time.monotonic() - sent.popleft()) * 1000)
            else:
                time.sleep(0.0005)
        buf = Gst.Buffer.new_wrapped(frames[i % len(frames)])
        buf.pts = i * Gst.SECOND // 30
        buf.duration = Gst.SECOND // 30
        sent.append(time.monotonic())
        src.emit("push-buffer", buf)
    until = time.monotonic() + 2
    while sent and time.monotonic() < until:
        s = sink.emit("try-pull-sample", 10 * Gst.MSECOND)
        if s:
            lat.append((time.monotonic() - sent.popleft()) * 1000)
    pipe.set_state(Gst.State.NULL)
    return lat


def cpu_viewers(n, w, h):
    cam = "[camera a]\nuri = test://?fps=30&width=%d&height=%d&pattern=ball\n" % (w, h)
    p, base = start("cpu%d" % n, cam, "max-viewers = 16\n")
    b = browser.Browser()
    try:
        b.d.get(base + "/view?cameras=" + ",".join(["a"] * n) + "&width=1280&height=720")
        wait_painted(b, 30)
        time.sleep(2)
        frames = b.js("return window.lsView.tileObjs.map(t => t.frames)")
        c0 = cpu_s(p.pid)
        time.sleep(SECS)
        c1 = cpu_s(p.pid)
        frames = [b2 - a2 for a2, b2 in zip(frames, b.js("return window.lsView.tileObjs.map(t => t.frames)"))]
    finally:
        b.close()
        stop(p)
    return c1 - c0, frames


def main():
    if not browser.available():
        print("whep bench: chromium and chromium-driver are not installed (scripts/setup.sh)")
        return 1
    print("whep bench: %d s per run, %d rounds; %s" % (SECS, ROUNDS, time.strftime("%Y-%m-%d %H:%M UTC",
                                                                                      time.gmtime())))
    frames = record_frames()
    for r in range(1, ROUNDS + 1):
        paint, dec, painted = latency_chromium()
        fl = floor(frames)
        print("round %d A: Chromium 1280x720@30, %d grids painted in %d s: capture->paint p50 %.1f ms p99 %.1f ms; "
              "capture->decoded p50 %.1f p99 %.1f ms" % (r, painted, SECS, pct(paint, 50), pct(paint, 99),
                                                         pct(dec, 50), pct(dec, 99)))
        print("round %d A: floor (x264 + avdec_h264 alone, %d frames): p50 %.1f ms p99 %.1f ms; "
              "paint p50 / floor p50 = %.2f" % (r, len(fl), pct(fl, 50), pct(fl, 99), pct(paint, 50) / pct(fl, 50)))
        for w, h in ((640, 360), (1280, 720)):
            one, f1 = cpu_viewers(1, w, h)
            eight, f8 = cpu_viewers(8, w, h)
            print("round %d B %dx%d: lockstep CPU over %d s: 1 viewer %.2f s (%.0f fps), 8 viewers %.2f s (%.0f fps "
                  "each, min %.0f): ratio %.3f (goal <= 1.15)" % (r, w, h, SECS, one, f1[0] / SECS, eight,
                                                                 statistics.mean(f8) / SECS, min(f8) / SECS,
                                                                 eight / one))
    return 0


sys.exit(main())
