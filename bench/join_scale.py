#!/usr/bin/python3
"""The metadata hub at scale (issue 16, "Scale"): `lockstep join` joining
the nodes' per-slot frameset messages from NATS, all on loopback.

  1. 100 cameras across 4 nodes: one nats-server -js (loopback, a
     temporary store, monitoring on), 4 `lockstep run` nodes of 25 small
     test cameras each (test://?fps=R&width=32&height=24, [rig] rate = R,
     [bus] name = nodeK, subject-prefix = lockstep.site, stream = SITE,
     messages = frameset, a spool in a temporary directory), and
     `lockstep join --nodes node1,...,node4 --stats-json F --output
     /dev/null`. Over the steady part (the first 5 s after every node and
     the join are running are skipped):
       - completeness: joined complete / sets (the join's --stats-json);
       - the hub's CPU: the join process's utime + stime (/proc/PID/stat),
         per second, per camera (% of one core) and per camera-frame (µs);
       - bus bytes per second: the payload the join received (its "bytes")
         and the server's in/out bytes (/varz: message bytes, headers
         included, not the protocol lines);
       - the nodes' achieved rate (frames per camera per second, their
         complete sets) and CPU, and nats-server's CPU, for context.
  2. A simulated join of up to 1,000 cameras (metadata only): bus-tool
     fake-nodes publishes core NATS messages shaped like lockstep's
     frameset message, one per node per slot at the slot times (clock_
     nanosleep), to a fresh nats-server (no JetStream); the join's CPU, its
     completeness, the messages and bytes per second for 100, 250, 500 and
     1,000 cameras (nodes of 25 cameras: 4, 10, 20, 40 nodes), and with no
     traffic (the join's floor: its main loop wakes every 5 ms). The
     publisher's own CPU and lag (does it keep the rate?) are checked. A
     table, a least-squares line (CPU = a + b x cameras), and a plot
     (PIL) in docs/join-scale.png.
  3. A summary table and one JSON object (the last line of the output).

The machine's load (/proc/loadavg) and its CPU use over each window
(/proc/stat) are printed: on a shared machine another job shows there.
JOIN_FPS (default 30) sets part 1's rate (100 GStreamer pipelines on a
small machine may not keep 30 fps: the achieved rate is printed either
way); JOIN_SIM (default "4x25,10x25,20x25,40x25": NODESxCAMERAS) the
simulated points; JOIN_PLOT the PNG (default docs/join-scale.png, "" for
none). Exits 1 only when the benchmark could not run.

usage: /usr/bin/python3 bench/join_scale.py BUILD_DIR [SECONDS] [SIM_SECONDS]
       (SECONDS: part 1's run, default 30, the first 5 s skipped;
        SIM_SECONDS: each simulated point's window, default 20)
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
SECS = float(sys.argv[2]) if len(sys.argv) > 2 else 30.0
SIM_SECS = float(sys.argv[3]) if len(sys.argv) > 3 else 20.0
SKIP = 5.0
LS = os.path.abspath(os.path.join(BUILD, "lockstep"))
TOOL = os.path.abspath(os.path.join(BUILD, "tests", "bus-tool"))
FPS = int(os.environ.get("JOIN_FPS", "30"))
SIM = [tuple(int(x) for x in p.split("x")) for p in os.environ.get("JOIN_SIM", "4x25,10x25,20x25,40x25").split(",")]
PLOT = os.environ.get("JOIN_PLOT", os.path.join(ROOT, "docs", "join-scale.png"))
NODES, CAMS_PER_NODE = 4, 25
PREFIX = "lockstep.site"
TMP = tempfile.mkdtemp(prefix="lockstep-bench-join-")
TCK = os.sysconf("SC_CLK_TCK")
CLEANUP = []
LOAD_MAX = [0.0]


def log(*a):
    print(*a, flush=True)


def load():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def watch_load():
    while True:
        LOAD_MAX[0] = max(LOAD_MAX[0], load())
        time.sleep(1)


def machine():
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1])
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return "%d cores (%s), %.1f GiB, Linux %s" % (os.cpu_count(), model, mem / 1048576, os.uname().release)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(p, timeout=15):
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", p)) == 0:
                return
        time.sleep(0.02)
    raise SystemExit("join bench: nothing listens on 127.0.0.1:%d" % p)


def proc_cpu(pid):
    """utime + stime of @pid (all its threads, s), from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / TCK


def threads(pid):
    """tid -> (name, s on CPU) of each thread of @pid (schedstat: ns)."""
    out = {}
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, t)) as f:
                comm = f.read().strip()
            with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                ns = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        out[int(t)] = (comm, ns / 1e9)
    return out


def system_busy():
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


class Proc:
    """A process, stderr to a file (or a pipe read by a thread)."""

    def __init__(self, name, argv, stdout=subprocess.DEVNULL):
        self.name = name
        self.errpath = os.path.join(TMP, name + ".err")
        self.p = subprocess.Popen(argv, stdout=stdout, stderr=open(self.errpath, "w"))
        self.pid = self.p.pid
        CLEANUP.append(self.kill)

    def text(self):
        with open(self.errpath, errors="replace") as f:
            return f.read()

    def wait_text(self, needle, timeout):
        until = time.monotonic() + timeout
        while time.monotonic() < until:
            if needle in self.text():
                return True
            if self.p.poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def stop(self, timeout=30):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
        try:
            self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        return self.p.returncode

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


class Nats(Proc):
    def __init__(self, name, js):
        self.port, self.mport = free_port(), free_port()
        argv = ["nats-server", "-a", "127.0.0.1", "-p", str(self.port), "-m", str(self.mport), "-n", name]
        if js:
            argv += ["-js", "-sd", os.path.join(TMP, "nats-" + name)]
        super().__init__("nats-" + name, argv)
        wait_port(self.port)
        wait_port(self.mport)

    def varz(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/varz" % self.mport, timeout=5) as r:
            return json.load(r)

    @property
    def url(self):
        return "nats://127.0.0.1:%d" % self.port


def records(path):
    out = []
    try:
        with open(path) as f:
            for line in f:
                if line.endswith("}\n"):
                    out.append(json.loads(line))
    except FileNotFoundError:
        pass
    return out


def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def start_join(url, nodes, tag):
    cfg = write("join-%s.ini" % tag, "[rig]\nrate = %d\n[camera x]\nuri = test://\n[bus]\nurl = %s\n"
                "subject-prefix = %s\n" % (FPS if tag == "site" else 30, url, PREFIX))
    stats = os.path.join(TMP, "join-%s.stats.jsonl" % tag)
    j = Proc("join-" + tag, [LS, "join", cfg, "--nodes", ",".join(nodes), "--stats-json", stats,
                             "--output", "/dev/null"])
    if not j.wait_text("lockstep join: %d node" % len(nodes), 15):
        raise SystemExit("join bench: the join did not start:\n" + j.text()[-2000:])
    j.stats = stats
    return j


class Snap:
    """CPU of the processes, the machine's CPU, the server's counters and
    the stats records, at one instant."""

    def __init__(self, procs, nats, stats_files):
        self.t = time.monotonic()
        self.cpu = {k: proc_cpu(p.pid) for k, p in procs.items()}
        self.thr = {k: threads(p.pid) for k, p in procs.items()}
        self.sys = system_busy()
        self.load = load()
        v = nats.varz()
        self.varz = {k: v[k] for k in ("in_msgs", "in_bytes", "out_msgs", "out_bytes")}
        self.rec = {k: (records(f) or [None])[-1] for k, f in stats_files.items()}


def window(a, b):
    dt = b.t - a.t
    busy = (b.sys[0] - a.sys[0]) / max(1, b.sys[1] - a.sys[1]) * 100 * os.cpu_count()
    cpu = {k: (b.cpu[k] - a.cpu[k]) / dt * 100 for k in a.cpu}
    thr, sched = {}, {}
    for k in a.thr:
        per = {}
        for tid, (name, s) in b.thr[k].items():
            d = s - a.thr[k].get(tid, (name, 0.0))[1]
            per["%s/%d" % ("main" if tid == min(b.thr[k]) else name, tid)] = d / dt * 100
        sched[k] = sum(per.values())
        thr[k] = dict(sorted(per.items(), key=lambda x: -x[1])[:4])
    cpu["sched"] = sched
    vz = {k: (b.varz[k] - a.varz[k]) / dt for k in a.varz}
    return dt, cpu, thr, vz, busy


def join_delta(r0, r1):
    dt = (r1["time_ns"] - r0["time_ns"]) / 1e9
    d = {k: r1[k] - r0[k] for k in ("sets", "complete", "messages", "bytes", "late", "bad", "unknown_rig")}
    d["dt"] = dt
    d["missing"] = {n: r1["nodes"][n]["missing"] - r0["nodes"][n]["missing"] for n in r1["nodes"]}
    return d


# ---- part 1 ------------------------------------------------------------------


def node_text(k, url):
    t = "[rig]\nrate = %d\n" % FPS
    t += "".join("[camera c%02d]\nuri = test://?fps=%d&width=32&height=24\n" % (c + 1, FPS)
                 for c in range(CAMS_PER_NODE))
    t += ("[bus]\nurl = %s\nname = node%d\nsubject-prefix = %s\nstream = SITE\nmessages = frameset\n"
          "spool = %s\n" % (url, k, PREFIX, os.path.join(TMP, "node%d.spool" % k)))
    return t


def part1():
    log("== part 1: %d cameras across %d nodes (%d test cameras 32x24 each) at %d fps, a join on the bus; "
        "%g s, the first %g s skipped" % (NODES * CAMS_PER_NODE, NODES, CAMS_PER_NODE, FPS, SECS, SKIP))
    nats = Nats("site", js=True)
    names = ["node%d" % (k + 1) for k in range(NODES)]
    join = start_join(nats.url, names, "site")
    nodes = {}
    for k in range(1, NODES + 1):
        cfg = write("node%d.ini" % k, node_text(k, nats.url))
        stats = os.path.join(TMP, "node%d.stats.jsonl" % k)
        p = Proc("node%d" % k, [LS, "run", cfg, "--stats-json", stats])
        p.stats = stats
        nodes["node%d" % k] = p
    until = time.monotonic() + 90
    while time.monotonic() < until:
        recs = {n: records(p.stats) for n, p in nodes.items()}
        jr = records(join.stats)
        if all(r and r[-1]["sets"] > 0 for r in recs.values()) and jr and jr[-1]["complete"] > 0:
            break
        for n, p in nodes.items():
            if p.p.poll() is not None:
                raise SystemExit("join bench: %s exited:\n%s" % (n, p.text()[-2000:]))
        time.sleep(0.2)
    else:
        raise SystemExit("join bench: no complete joined set in 90 s:\n" + join.text()[-1000:] +
                         "".join(p.text()[-500:] for p in nodes.values()))
    log("# every node publishing and the join joining; %g s skipped" % SKIP)
    time.sleep(SKIP)
    procs = dict(nodes, join=join, nats=nats)
    files = dict({n: p.stats for n, p in nodes.items()}, join=join.stats)
    a = Snap(procs, nats, files)
    time.sleep(max(1.0, SECS - SKIP))
    b = Snap(procs, nats, files)
    dt, cpu, thr, vz, busy = window(a, b)
    jd = join_delta(a.rec["join"], b.rec["join"])
    ncams = NODES * CAMS_PER_NODE
    node_rates, node_sets = {}, {}
    for n in nodes:
        r0, r1 = a.rec[n], b.rec[n]
        ndt = (time.mktime(time.strptime(r1["time"][:19], "%Y-%m-%dT%H:%M:%S")) + int(r1["time"][20:23]) / 1e3) - \
              (time.mktime(time.strptime(r0["time"][:19], "%Y-%m-%dT%H:%M:%S")) + int(r0["time"][20:23]) / 1e3)
        frames = sum(r1["cameras"][c]["frames"] - r0["cameras"][c]["frames"] for c in r1["cameras"])
        node_rates[n] = frames / len(r1["cameras"]) / ndt
        node_sets[n] = {"sets": r1["sets"] - r0["sets"], "complete": r1["complete"] - r0["complete"],
                        "sets_per_s": (r1["sets"] - r0["sets"]) / ndt,
                        "bus": r1.get("outputs", {}).get("bus", {})}
    for n, p in nodes.items():
        p.stop()
    join.stop()
    fin = [r for r in records(join.stats) if r.get("final")]
    nats.kill()
    join_cpu = cpu["join"]
    msgs_s = jd["messages"] / jd["dt"]
    cam_frames_s = msgs_s * CAMS_PER_NODE
    res = {
        "fps": FPS, "cameras": ncams, "nodes": NODES, "window_s": round(dt, 2),
        "node_fps_per_camera": {n: round(v, 2) for n, v in node_rates.items()},
        "node_sets": {n: {k: v for k, v in s.items() if k != "bus"} for n, s in node_sets.items()},
        "joined_sets": jd["sets"], "joined_complete": jd["complete"],
        "completeness_pct": 100.0 * jd["complete"] / max(1, jd["sets"]),
        "joined_sets_per_s": jd["sets"] / jd["dt"], "missing": jd["missing"], "late": jd["late"],
        "messages_per_s": msgs_s, "payload_bytes_per_s": jd["bytes"] / jd["dt"],
        "payload_bytes_per_msg": jd["bytes"] / max(1, jd["messages"]),
        "nats_in_bytes_per_s": vz["in_bytes"], "nats_in_msgs_per_s": vz["in_msgs"],
        "nats_out_bytes_per_s": vz["out_bytes"], "nats_out_msgs_per_s": vz["out_msgs"],
        "join_cpu_pct": join_cpu, "join_cpu_pct_per_camera": join_cpu / ncams,
        "join_us_per_camera_frame": join_cpu / 100 * 1e6 / max(1.0, cam_frames_s),
        "join_us_per_message": join_cpu / 100 * 1e6 / max(1.0, msgs_s),
        "join_threads_pct": thr["join"], "join_cpu_pct_schedstat": cpu["sched"]["join"],
        "nodes_cpu_pct": {n: cpu[n] for n in nodes}, "nodes_cpu_pct_total": sum(cpu[n] for n in nodes),
        "nats_cpu_pct": cpu["nats"], "machine_busy_pct": busy, "load": [a.load, b.load],
        "join_final": fin[-1] if fin else None,
    }
    r = res
    log("# nodes: %s frames/s per camera (asked %d); their own sets complete: %s" % (
        ", ".join("%s %.1f" % kv for kv in r["node_fps_per_camera"].items()), FPS,
        ", ".join("%s %d/%d" % (n, s["complete"], s["sets"]) for n, s in node_sets.items())))
    if min(node_rates.values()) < 0.95 * FPS:
        log("# NOTE: the nodes did not keep %d fps on this machine (the achieved rate is above)" % FPS)
    log("# join: %d of %d slots complete (%.2f %%) over %.1f s, %.1f slots/s; missing per node %s; late %d" % (
        jd["complete"], jd["sets"], r["completeness_pct"], jd["dt"], r["joined_sets_per_s"], jd["missing"],
        jd["late"]))
    log("# hub CPU: %.2f %% of one core = %.4f %% per camera, %.2f us per camera-frame, %.1f us per message "
        "(schedstat: %.2f %%; threads: %s)" % (
            join_cpu, r["join_cpu_pct_per_camera"], r["join_us_per_camera_frame"], r["join_us_per_message"],
            cpu["sched"]["join"], ", ".join("%s %.2f%%" % kv for kv in thr["join"].items())))
    log("# bus: %.0f messages/s, %.0f payload bytes/s (%.0f B per message; the join's count); server /varz: in "
        "%.0f msgs/s %.0f B/s, out %.0f msgs/s %.0f B/s" % (
            msgs_s, r["payload_bytes_per_s"], r["payload_bytes_per_msg"], vz["in_msgs"], vz["in_bytes"],
            vz["out_msgs"], vz["out_bytes"]))
    log("# context: nodes CPU %s (total %.0f %%), nats-server %.1f %%, the machine %.0f %% busy of %d00 %%, "
        "load %.2f -> %.2f" % (", ".join("%s %.0f%%" % (n, cpu[n]) for n in nodes), r["nodes_cpu_pct_total"],
                               cpu["nats"], busy, os.cpu_count(), a.load, b.load))
    return res


# ---- part 2 ------------------------------------------------------------------


def sim_point(nats, nnodes, cpn):
    names = ["node%d" % (k + 1) for k in range(nnodes)]
    tag = "sim%d" % (nnodes * cpn)
    join = start_join(nats.url, names, tag)
    out = open(os.path.join(TMP, tag + ".pub.json"), "w")
    pub = Proc("pub-" + tag, [TOOL, "fake-nodes", nats.url, PREFIX, "--nodes", str(nnodes), "--cameras-per-node",
                              str(cpn), "--rate", "30", "--seconds", str(SIM_SECS + SKIP + 3), "--epoch", "0"],
               stdout=out)
    until = time.monotonic() + 20
    while time.monotonic() < until and not [r for r in records(join.stats) if r["complete"] > 0]:
        time.sleep(0.1)
    time.sleep(SKIP)
    procs = {"join": join, "pub": pub, "nats": nats}
    a = Snap(procs, nats, {"join": join.stats})
    time.sleep(SIM_SECS)
    b = Snap(procs, nats, {"join": join.stats})
    dt, cpu, thr, vz, busy = window(a, b)
    jd = join_delta(a.rec["join"], b.rec["join"])
    pub.p.wait(timeout=SIM_SECS + 60)
    out.close()
    join.stop()
    with open(out.name) as f:
        pj = json.loads(f.read().strip().splitlines()[-1])
    cams = nnodes * cpn
    msgs_s = jd["messages"] / jd["dt"]
    r = {
        "nodes": nnodes, "cameras_per_node": cpn, "cameras": cams, "window_s": round(dt, 2),
        "joined_sets": jd["sets"], "joined_complete": jd["complete"],
        "completeness_pct": 100.0 * jd["complete"] / max(1, jd["sets"]), "late": jd["late"],
        "messages_per_s": msgs_s, "payload_bytes_per_s": jd["bytes"] / jd["dt"],
        "payload_bytes_per_msg": jd["bytes"] / max(1, jd["messages"]),
        "nats_in_bytes_per_s": vz["in_bytes"], "nats_out_bytes_per_s": vz["out_bytes"],
        "join_cpu_pct": cpu["join"], "join_cpu_pct_per_camera": cpu["join"] / cams,
        "join_us_per_camera_frame": cpu["join"] / 100 * 1e6 / max(1.0, msgs_s * cpn),
        "join_us_per_message": cpu["join"] / 100 * 1e6 / max(1.0, msgs_s),
        "join_threads_pct": thr["join"], "join_cpu_pct_schedstat": cpu["sched"]["join"],
        "pub_cpu_pct": cpu["pub"], "pub": pj, "nats_cpu_pct": cpu["nats"], "machine_busy_pct": busy,
        "load": [a.load, b.load],
    }
    log("# %4d cameras (%2d nodes x %d): join %.2f %% of a core (schedstat %.2f %%; %.4f %%/camera, %.2f "
        "us/camera-frame, %.1f us/msg; threads %s); %d/%d complete; %.0f msgs/s %.0f B/s; publisher %.1f %% (lag p99 "
        "%.0f us, %d late of %d slots); nats %.1f %%; load %.2f" % (
            cams, nnodes, cpn, r["join_cpu_pct"], cpu["sched"]["join"], r["join_cpu_pct_per_camera"],
            r["join_us_per_camera_frame"], r["join_us_per_message"],
            ", ".join("%s %.2f%%" % kv for kv in thr["join"].items()), jd["complete"], jd["sets"], msgs_s,
            r["payload_bytes_per_s"], cpu["pub"],
            pj["lag_us"]["p99"], pj["late_slots"], pj["slots"], cpu["nats"], b.load))
    return r


def idle_point(nats):
    """The join subscribed, nothing published: its floor."""
    join = start_join(nats.url, ["node%d" % (k + 1) for k in range(4)], "idle")
    time.sleep(1)
    a = Snap({"join": join}, nats, {})
    time.sleep(min(SIM_SECS, 10))
    b = Snap({"join": join}, nats, {})
    dt, cpu, thr, vz, busy = window(a, b)
    join.stop()
    log("#    0 cameras (no traffic): join %.2f %% of a core (schedstat %.2f %%; its loop wakes every 5 ms)"
        % (cpu["join"], cpu["sched"]["join"]))
    return {"cameras": 0, "join_cpu_pct": cpu["join"], "join_cpu_pct_schedstat": cpu["sched"]["join"],
            "window_s": round(dt, 2), "join_threads_pct": thr["join"]}


def fit(points):
    xs = [p["cameras"] for p in points]
    ys = [p["join_cpu_pct"] for p in points]
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0
    return my - b * mx, b


def part2():
    log("== part 2: a simulated join, metadata only (bus-tool fake-nodes, core NATS), 30 slots/s, windows of %g s"
        % SIM_SECS)
    nats = Nats("sim", js=False)
    pts = [idle_point(nats)]
    for nnodes, cpn in SIM:
        pts.append(sim_point(nats, nnodes, cpn))
    nats.kill()
    a, b = fit(pts)
    log("# least squares: join CPU = %.3f %% + %.5f %% x cameras (of one core); one core saturates at ~%.0f "
        "cameras of 25 per node at 30 fps" % (a, b, (100 - a) / b if b > 0 else float("inf")))
    return {"points": pts, "fit": {"intercept_pct": a, "pct_per_camera": b,
                                   "saturation_cameras": (100 - a) / b if b > 0 else None}}


# ---- the plot ------------------------------------------------------------------


def nice_step(span, n=6):
    raw = span / n
    for e in range(-4, 7):
        for m in (1, 2, 2.5, 5):
            s = m * 10 ** e
            if s >= raw:
                return s
    return raw


def plot(p2, path, p1=None):
    from PIL import Image, ImageDraw, ImageFont

    def font(size, bold=False):
        for f in ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf",):
            p = os.path.join("/usr/share/fonts/truetype/dejavu", f)
            if os.path.exists(p):
                return ImageFont.truetype(p, size)
        return ImageFont.load_default()

    W_, H_ = 960, 720
    L, R, T, B = 90, 40, 70, 80
    img = Image.new("RGB", (W_, H_), "white")
    d = ImageDraw.Draw(img)
    f, fs, fb = font(15), font(13), font(18, True)
    pts = p2["points"]
    series = [
        ("lockstep join (the hub)", "join_cpu_pct", (31, 90, 180), pts),
        ("nats-server", "nats_cpu_pct", (220, 120, 20), [p for p in pts if "nats_cpu_pct" in p]),
        ("fake publisher (bus-tool fake-nodes)", "pub_cpu_pct", (40, 150, 60), [p for p in pts if "pub_cpu_pct" in p]),
    ]
    xmax = max(p["cameras"] for p in pts)
    ymax = max(p[k] for _, k, _, s in series for p in s) * 1.45  # room for the legend above the data
    xs, ys = nice_step(xmax, 5), nice_step(ymax, 6)
    xmax = xs * -(-xmax // xs)
    ymax = ys * -(-ymax // ys)

    def X(v):
        return L + (W_ - L - R) * v / xmax

    def Y(v):
        return H_ - B - (H_ - T - B) * v / ymax

    v = 0.0
    while v <= ymax + 1e-9:
        d.line([(L, Y(v)), (W_ - R, Y(v))], fill=(225, 225, 225))
        t = ("%g" % round(v, 3))
        d.text((L - 8 - d.textlength(t, font=fs), Y(v) - 8), t, fill="black", font=fs)
        v += ys
    v = 0.0
    while v <= xmax + 1e-9:
        d.line([(X(v), H_ - B), (X(v), H_ - B + 5)], fill="black")
        t = "%d" % v
        d.text((X(v) - d.textlength(t, font=fs) / 2, H_ - B + 8), t, fill="black", font=fs)
        v += xs
    d.line([(L, T), (L, H_ - B), (W_ - R, H_ - B)], fill="black", width=2)
    title = "lockstep join: CPU against cameras (metadata only, 30 slots/s, nodes of 25 cameras)"
    d.text(((W_ - d.textlength(title, font=fb)) / 2, 20), title, fill="black", font=fb)
    xl = "cameras joined (simulated: bus-tool fake-nodes; 0 = no traffic)"
    d.text(((W_ - d.textlength(xl, font=f)) / 2, H_ - 40), xl, fill="black", font=f)
    yl = "CPU, % of one core"
    tmp = Image.new("RGB", (int(d.textlength(yl, font=f)) + 4, 22), "white")
    ImageDraw.Draw(tmp).text((2, 2), yl, fill="black", font=f)
    tmp = tmp.rotate(90, expand=True)
    img.paste(tmp, (18, int((T + H_ - B) / 2 - tmp.size[1] / 2)))
    # the least-squares line of the join
    a, b = p2["fit"]["intercept_pct"], p2["fit"]["pct_per_camera"]
    x0, x1 = 0, max(p["cameras"] for p in pts)
    for i in range(0, 60, 2):  # dashed
        u0, u1 = x0 + (x1 - x0) * i / 60, x0 + (x1 - x0) * (i + 1) / 60
        d.line([(X(u0), Y(a + b * u0)), (X(u1), Y(a + b * u1))], fill=(150, 150, 150), width=2)
    for name, key, col, s in series:
        s = sorted(s, key=lambda p: p["cameras"])
        d.line([(X(p["cameras"]), Y(p[key])) for p in s], fill=col, width=3)
        for p in s:
            x, y = X(p["cameras"]), Y(p[key])
            d.ellipse([x - 5, y - 5, x + 5, y + 5], fill=col, outline="black")
    name, key, col, s = series[0]  # the join's values, over the lines: below and right of each point
    for p in s:
        x, y = X(p["cameras"]), Y(p[key])
        t = "%.1f %%" % p[key]
        if p["cameras"]:
            t += ", %.1f \u00b5s/camera-frame" % p["join_us_per_camera_frame"]
        tw = d.textlength(t, font=fs)
        tx = x + 8 if x + 8 + tw <= W_ - R else x - 8 - tw
        d.rectangle([tx - 2, y + 5, tx + tw + 2, y + 20], fill="white")
        d.text((tx, y + 5), t, fill=col, font=fs)
    red = (200, 30, 30)
    if p1:  # part 1: the join of real nodes (JetStream), a diamond

        def diamond(x, y, r=7):
            d.polygon([(x, y - r), (x + r, y), (x, y + r), (x - r, y)], fill=red, outline="black")

        diamond(X(p1["cameras"]), Y(p1["join_cpu_pct"]))
    # legend
    ly = T + 5
    items = [(n, c, False) for n, _, c, _ in series] + [
        ("join, least squares: %.2f %% + %.4f %% x cameras" % (a, b), (150, 150, 150), True)]
    if p1:
        items.append(("join of %d real lockstep nodes x %d test cameras at %d fps (JetStream): %.1f %%, %.1f \u00b5s/"
                      "camera-frame" % (p1["nodes"], p1["cameras"] // p1["nodes"], p1["fps"], p1["join_cpu_pct"],
                                        p1["join_us_per_camera_frame"]), red, "diamond"))
    for name, col, dashed in items:
        if dashed == "diamond":
            diamond(L + 33, ly + 8, 6)
        elif dashed:
            d.line([(L + 20, ly + 8), (L + 30, ly + 8)], fill=col, width=2)
            d.line([(L + 36, ly + 8), (L + 46, ly + 8)], fill=col, width=2)
        else:
            d.line([(L + 20, ly + 8), (L + 46, ly + 8)], fill=col, width=3)
            d.ellipse([L + 28, ly + 3, L + 38, ly + 13], fill=col, outline="black")
        d.text((L + 54, ly), name, fill="black", font=f)
        ly += 22
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    img.save(path, optimize=True)


# ---- main ----------------------------------------------------------------------


def table(rows, cols):
    w = [max(len(c[0]), max((len(c[1](r)) for r in rows), default=0)) for c in cols]
    lines = ["| " + " | ".join(c[0].ljust(w[i]) for i, c in enumerate(cols)) + " |",
             "|" + "|".join("-" * (x + 2) for x in w) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(c[1](r).rjust(w[i]) for i, c in enumerate(cols)) + " |")
    return "\n".join(lines)


def main():
    for exe in (LS, TOOL):
        if not os.access(exe, os.X_OK):
            raise SystemExit("join bench: %s not built (ninja -C %s)" % (exe, BUILD))
    if not shutil.which("nats-server"):
        raise SystemExit("join bench: nats-server is not installed (scripts/setup.sh)")
    log("join bench: %s; %s; load %.2f" % (machine(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), load()))
    if load() > 1.5:
        log("join bench: WARNING: load average %.2f before the run: another job is using this machine" % load())
    threading.Thread(target=watch_load, daemon=True).start()
    res = {"machine": machine(), "date": time.strftime("%Y-%m-%d", time.gmtime()), "load_before": load()}
    res["part1"] = p1 = part1() if SECS > 0 else None
    res["part2"] = p2 = part2() if SIM_SECS > 0 else None
    res["load_after"], res["load_max"] = load(), LOAD_MAX[0]
    if p2 and PLOT:
        plot(p2, PLOT, p1)
        log("# plot: %s" % PLOT)
    log("== summary")
    rows = []
    if p1:
        rows.append(dict(p1, what="%d nodes x %d real (%d fps)" % (NODES, CAMS_PER_NODE, FPS)))
    if p2:
        for p in p2["points"][1:]:
            rows.append(dict(p, what="%d nodes x %d simulated" % (p["nodes"], p["cameras_per_node"])))
    cols = [
        ("run", lambda r: r["what"]),
        ("cameras", lambda r: "%d" % r["cameras"]),
        ("complete sets", lambda r: "%.2f %%" % r["completeness_pct"]),
        ("msgs/s", lambda r: "%.0f" % r["messages_per_s"]),
        ("payload kB/s", lambda r: "%.1f" % (r["payload_bytes_per_s"] / 1e3)),
        ("server in kB/s", lambda r: "%.1f" % (r["nats_in_bytes_per_s"] / 1e3)),
        ("join CPU, % core", lambda r: "%.2f" % r["join_cpu_pct"]),
        ("% core/camera", lambda r: "%.4f" % r["join_cpu_pct_per_camera"]),
        ("us/camera-frame", lambda r: "%.2f" % r["join_us_per_camera_frame"]),
        ("us/message", lambda r: "%.1f" % r["join_us_per_message"]),
        ("publisher / nodes CPU, %", lambda r: "%.1f" % (r["pub_cpu_pct"] if "pub_cpu_pct" in r
                                                          else r["nodes_cpu_pct_total"])),
        ("nats-server CPU, %", lambda r: "%.1f" % r["nats_cpu_pct"]),
    ]
    log(table(rows, cols))
    if p2:
        log("join with no traffic: %.2f %% of a core; least squares %.3f %% + %.5f %% x cameras; one core at ~%.0f "
            "cameras" % (p2["points"][0]["join_cpu_pct"], p2["fit"]["intercept_pct"], p2["fit"]["pct_per_camera"],
                         p2["fit"]["saturation_cameras"] or float("inf")))
    log("load average: %.2f before, %.2f after, %.2f at most" % (res["load_before"], res["load_after"],
                                                                  res["load_max"]))
    log(json.dumps(res, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    rc = 1
    try:
        rc = main()
    finally:
        while CLEANUP:
            try:
                CLEANUP.pop()()
            except Exception:
                pass
        if not os.environ.get("JOIN_BENCH_KEEP"):
            shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(rc)
