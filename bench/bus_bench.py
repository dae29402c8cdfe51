#!/usr/bin/python3
"""[bus] on NATS JetStream (issue 15): 100 cameras (test://, 32x24) at
30 fps, [detect] with a tiny YOLOv8-layout ONNX model (constant boxes: two
detections on every camera of every slot, every-n = 1), framesets and
detections published to a nats-server -js started here (loopback, a
temporary store, monitoring on), in one run:

  1. Publish-to-subscriber latency: a core NATS subscriber (bus-tool sub on
     lockstep.bench.>, started before the rig) stamps each message when it
     reads it (CLOCK_REALTIME); a frameset carries emit_ns, the time the
     aligner emitted the set (CLOCK_REALTIME, same host), so the latency is
     recv_ns - emit_ns: the bus-sets thread, the queue, the publisher
     thread's batch, libnats, the server, the subscriber. Framesets only
     (detections carry no emit time; for them slot time to subscriber is
     printed, which also holds the aligner's deadline and the inference).
  2. CPU per message: lockstep's bus threads, from
     /proc/PID/task/TID/schedstat (time on CPU, ns) at the start and end
     of a window, divided by the messages the subscriber received from the
     rig in the window. Counted: "bus-sets" (builds the frameset JSON),
     "bus-publish" (the publisher thread, told apart by where it waits, and
     the threads libnats starts from it, which inherit its name: the
     subscription that delivers JetStream acks, the request inbox), and
     the threads named "lockstep" other than the main thread (TID != PID):
     libnats' threads started while [bus] connects on the main thread (the
     connection's reader and flusher, the library's timer, callback and GC
     threads; a rig without [bus] has no such thread). Not counted: the
     main thread (GLib's main loop, the same with or without [bus]), and
     [detect]'s thread where it puts "schema" and "rig" in front of its
     JSON line (one copy).
     The peer, a bare C publisher (bus-tool bench-publish: libnats, one
     js_Publish with Nats-Msg-Id per message, getrusage over its loop, all
     its threads), sends the same messages (the payloads the subscriber got
     in window A, byte for byte, under subjects bare.*, its own stream) at
     the rate the rig achieved, while the rig keeps running:
       window A: the rig alone;
       window B: the rig and the bare publisher (js_Publish, synchronous);
       window C: the rig and the bare publisher with --async 1
                 (js_PublishAsync + js_PublishAsyncComplete per message);
     then, the rig stopped, the bare publisher unpaced (synchronous, and
     --async 256 as lockstep's batches of up to 256) for its maximum rate.
     Goal: lockstep at most 1.2x the bare publisher's CPU per message
     (window B, the same time, the same rate).
  3. Bytes on the wire: payload bytes per message and per second; the
     server's in_bytes/in_msgs over window A (/varz: message bytes with
     the Nats-Msg-Id header, not the HPUB protocol line), and the rig's
     TCP bytes both ways (ss -ti of its connection: bytes_acked out,
     bytes_received in: the acks), per message.
  4. Spool replay rate after an outage: a second rig (the same cameras and
     model) publishes for 5 s, nats-server is killed (SIGKILL) for
     BUS_OUTAGE_S seconds (default 60) and restarted on its store; the rig
     reconnects (seen on the server's /connz), replays its spool in order
     and says "[bus] URL: back after X s; N spooled messages sent". Replay
     rate = N / (the line's arrival - the reconnection); also as the
     subscriber saw them.
  After each part the stream is read back and checked against the rig's
  own counts: every message the bus took (its last line: published +
  through the spool) once (no message id twice), each kind in slot order,
  as many framesets as the aligner emitted less those the bus output's set
  queue dropped (outputs.bus.dropped, counted), as many detections as
  [detect] published.
  Other processes' share of the CPUs during windows A-C is printed (from
  /proc/stat less this benchmark's processes): the load average is no
  guide, the rig's 100 camera threads wake together.

Without ONNX Runtime or python3-onnx (or a build without [detect]), [detect]
is left out and the rig publishes framesets and stats (said in the output).
Exits 0 when the goal is missed (prints MISSED); 1 only when the benchmark
could not run.

usage: /usr/bin/python3 bench/bus_bench.py BUILD_DIR [SECONDS]
       SECONDS: each measuring window, default 20; BUS_OUTAGE_S: the outage, default 60 (0: no part 4);
       BUS_BENCH_KEEP=1 keeps the temporary directory (logs, stats, messages)
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))
import lsrun  # noqa: E402

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
SECS = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0
OUTAGE = float(os.environ.get("BUS_OUTAGE_S", "60"))
LS = os.path.abspath(os.path.join(BUILD, "lockstep"))
TOOL = os.path.abspath(os.path.join(BUILD, "tests", "bus-tool"))
TMP = tempfile.mkdtemp(prefix="lockstep-bench-bus-")
NCAMS, RATE, W, H = 100, 30, 32, 24
GOAL = 1.2
CLEANUP = []


def log(*a):
    print(*a, flush=True)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")


def wait_port(p, timeout=15):
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", p)) == 0:
                return
        time.sleep(0.02)
    raise SystemExit("bus bench: nothing listens on 127.0.0.1:%d" % p)


class Nats:
    """nats-server -js on loopback ports, its own store, monitoring on."""

    def __init__(self, name):
        self.name, self.port, self.mport = name, lsrun.free_port(), lsrun.free_port()
        self.store = os.path.join(TMP, "nats-" + name)
        self.p = None
        self.start()
        CLEANUP.append(self.kill)

    def start(self):
        self.log = open(os.path.join(TMP, "nats-%s.log" % self.name), "a")
        self.p = subprocess.Popen(["nats-server", "-js", "-a", "127.0.0.1", "-p", str(self.port), "-m",
                                   str(self.mport), "-sd", self.store, "-n", self.name],
                                  stdout=self.log, stderr=subprocess.STDOUT)
        wait_port(self.port)
        wait_port(self.mport)

    def kill(self):
        if self.p and self.p.poll() is None:
            self.p.kill()
            self.p.wait()

    def mon(self, path):
        with urllib.request.urlopen("http://127.0.0.1:%d/%s" % (self.mport, path), timeout=5) as r:
            return json.load(r)

    def cpu_s(self):
        with open("/proc/%d/stat" % self.p.pid) as f:
            v = f.read().rsplit(")", 1)[1].split()
        return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")

    @property
    def url(self):
        return "nats://127.0.0.1:%d" % self.port


class Sub:
    """bus-tool sub on SUBJECT: one JSON line per message to a file."""

    def __init__(self, url, subject, path, idle):
        self.path = path
        self.f = open(path, "w")
        self.p = subprocess.Popen([TOOL, "sub", url, subject, "--idle-s", str(idle), "--timeout-s", "3600"],
                                  stdout=self.f, stderr=subprocess.DEVNULL)
        CLEANUP.append(self.stop)

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            self.p.wait()
        self.f.close()

    def lines(self):
        """(recv_ns, subject, msg_id, payload text, data) of each line."""
        out = []
        with open(self.path) as f:
            for line in f:
                if not line.endswith("}\n"):
                    continue  # the last one, cut
                m = json.loads(line)
                i = line.index(',"data":')
                out.append((m["recv_ns"], m["subject"], m["msg_id"], line[i + 8:-2], m["data"]))
        return out


def yolo_model(path):
    """tests/detect.py's tiny YOLOv8-layout model (output [N, 84, k], the
    boxes constants plus 0 x the input): two boxes kept after NMS per
    camera (a person and a car) in a 64x64 input."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    boxes = [(20, 20, 10, 10, 0, 0.9), (21, 20, 10, 10, 0, 0.8), (40, 40, 8, 16, 2, 0.7)]
    t = np.zeros((1, 84, len(boxes)), np.float32)
    for i, (cx, cy, w, h, cls, s) in enumerate(boxes):
        t[0, :4, i] = (cx, cy, w, h)
        t[0, 4 + cls, i] = s
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["m"], axes=[2, 3], keepdims=0),
        helper.make_node("Unsqueeze", ["m", "ax"], ["u"]),
        helper.make_node("Mul", ["u", "zero"], ["z"]),
        helper.make_node("Add", ["z", "boxes"], ["output0"]),
    ]
    consts = [numpy_helper.from_array(t, "boxes"), numpy_helper.from_array(np.zeros(1, np.float32), "zero"),
              numpy_helper.from_array(np.array([1], np.int64), "ax")]
    g = helper.make_graph(nodes, "yolo", [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 3, 64, 64])],
                          [helper.make_tensor_value_info("output0", TensorProto.FLOAT, ["N", 84, len(boxes)])], consts)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    onnx.save(m, path)
    return path


def detect_usable(model):
    """Whether this build's [detect] runs @model: a 2 s rig of one camera
    (a build without ONNX Runtime says so at start). ("", or why not)."""
    d = os.path.join(TMP, "probe")
    os.makedirs(d, exist_ok=True)
    cfg = os.path.join(d, "probe.ini")
    with open(cfg, "w") as f:
        f.write("[rig]\nrate = %d\n[camera a]\nuri = test://?fps=%d&width=%d&height=%d\n[detect]\nmodel = %s\n"
                "output = %s/det.jsonl\n" % (RATE, RATE, W, H, model, d))
    try:
        out = subprocess.run([LS, "run", cfg, "--duration", "2"], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return "a 2 s rig with [detect] did not end"
    if out.returncode != 0:
        return (out.stderr.strip().splitlines() or ["exit status %d" % out.returncode])[-1]
    if not os.path.exists(os.path.join(d, "det.jsonl")) or not os.path.getsize(os.path.join(d, "det.jsonl")):
        return "[detect] wrote no detections"
    return ""


def rig_text(name, url, detect):
    t = "[rig]\nrate = %d\n" % RATE
    t += "".join("[camera c%02d]\nuri = test://?fps=%d&width=%d&height=%d\n" % (i, RATE, W, H) for i in range(NCAMS))
    if detect:
        t += "[detect]\nmodel = %s\nevery-n = 1\nthreads = 1\n" % detect
    t += "[bus]\nname = %s\nurl = %s\nmessages = %s\nspool = @DIR@/bus.spool\n" % (
        name, url, "frameset,detections" if detect else "frameset,stats")
    return t


def start_rig(name, url, detect):
    r = lsrun.RigDir(LS, TMP, name, rig_text(name, url, detect))
    CLEANUP.append(r.kill)
    if not r.wait_line(r"\[bus\] made JetStream stream", timeout=30):
        raise SystemExit("bus bench: the rig did not start publishing:\n" + r.text()[-2000:])
    return r


def threads(pid):
    """tid -> (name, ns on CPU) of every thread of @pid."""
    out = {}
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, t)) as f:
                comm = f.read().strip()
            with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                ns = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        out[int(t)] = (comm, ns)
    return out


def publisher_tid(pid):
    """The TID of the bus's publisher thread among the threads named
    "bus-publish" (libnats' threads started from it have its name): the one
    seen waiting in GLib's g_cond_wait_until, futex(FUTEX_WAIT_PRIVATE) with
    a timeout; libnats' wait in pthread_cond_wait (FUTEX_WAIT_BITSET, no
    timeout). TIDs wrap on a busy machine, so their order says nothing."""
    for _ in range(200):
        for t, (c, _) in threads(pid).items():
            if c != "bus-publish":
                continue
            try:
                with open("/proc/%d/task/%d/syscall" % (pid, t)) as f:
                    v = f.read().split()
            except OSError:
                continue
            if len(v) > 4 and v[0] == "202" and int(v[2], 16) & 0x7f == 0 and int(v[4], 16) != 0:
                return t
        time.sleep(0.005)
    return None


def bus_cpu(pid, pub, a, b):
    """The bus threads' CPU (s) between snapshots @a and @b, by part (@pub:
    the publisher thread's TID)."""
    parts = {"bus-sets": 0, "publisher thread": 0, "libnats threads": 0}
    for t, (c, ns) in b.items():
        d = (ns - a.get(t, (c, 0))[1]) / 1e9
        if c == "bus-sets":
            parts["bus-sets"] += d
        elif t == pub:
            parts["publisher thread"] += d
        elif c == "bus-publish" or (c == "lockstep" and t != pid):
            parts["libnats threads"] += d
    return parts


def tcp_bytes(pid, port):
    """(bytes_acked, bytes_received) of @pid's TCP connection to @port, or None."""
    out = subprocess.run(["ss", "-tinpH", "dst", "127.0.0.1:%d" % port], capture_output=True, text=True).stdout
    blocks = re.split(r"\n(?=\S)", out)
    for b in blocks:
        if "pid=%d," % pid in b:
            a = re.search(r"bytes_acked:(\d+)", b)
            r = re.search(r"bytes_received:(\d+)", b)
            if a and r:
                return int(a.group(1)), int(r.group(1))
    return None


class Window:
    """One measuring window over the rig (and the server)."""

    def __init__(self, ns, rig):
        self.ns, self.rig = ns, rig
        self.t0 = time.time_ns()
        if not getattr(rig, "pub_tid", None):
            rig.pub_tid = publisher_tid(rig.p.pid)
            if not rig.pub_tid:
                raise SystemExit("bus bench: cannot tell the bus's publisher thread")
        self.thr0 = threads(rig.p.pid)
        self.varz0 = ns.mon("varz")
        self.tcp0 = tcp_bytes(rig.p.pid, ns.port)
        self.ncpu0 = ns.cpu_s()

    def end(self):
        self.t1 = time.time_ns()
        self.cpu = bus_cpu(self.rig.p.pid, self.rig.pub_tid, self.thr0, threads(self.rig.p.pid))
        v = self.ns.mon("varz")
        self.varz = {k: v[k] - self.varz0[k] for k in ("in_msgs", "in_bytes", "out_msgs", "out_bytes")}
        t = tcp_bytes(self.rig.p.pid, self.ns.port)
        self.tcp = (t[0] - self.tcp0[0], t[1] - self.tcp0[1]) if t and self.tcp0 else None
        self.ncpu = self.ns.cpu_s() - self.ncpu0
        self.seconds = (self.t1 - self.t0) / 1e9

    def msgs(self, lines):
        return [m for m in lines if self.t0 <= m[0] < self.t1]

    def report(self, lines):
        ms = self.msgs(lines)
        n = len(ms)
        cpu = sum(self.cpu.values())
        lat = [(m[0] - m[4]["emit_ns"]) / 1e6 for m in ms if m[4].get("schema") == "lockstep.frameset/1"]
        det = [(m[0] - m[4]["slot_ns"]) / 1e6 for m in ms if m[4].get("schema") == "lockstep.detections/1"]
        return {
            "seconds": round(self.seconds, 2), "messages": n, "msgs_per_s": round(n / self.seconds, 2),
            "cpu_s": round(cpu, 4), "cpu_us_per_msg": round(cpu / n * 1e6, 1) if n else None,
            "cpu_parts_us_per_msg": {k: round(v / n * 1e6, 1) for k, v in self.cpu.items()} if n else None,
            "latency_ms": {"p50": round(pct(lat, 50), 2), "p99": round(pct(lat, 99), 2),
                           "max": round(max(lat), 2) if lat else None, "n": len(lat)},
            "detections_slot_to_sub_ms": {"p50": round(pct(det, 50), 2), "p99": round(pct(det, 99), 2),
                                          "n": len(det)},
            "payload_bytes": sum(len(m[3].encode()) for m in ms),
            "server": self.varz, "tcp": self.tcp, "server_cpu_s": round(self.ncpu, 3),
        }


def bare(ns, stream, prefix, path, rate=None, async_n=None):
    cmd = [TOOL, "bench-publish", ns.url, stream, prefix, "--file", path, "--timeout-s", "600"]
    if rate:
        cmd += ["--rate", "%.3f" % rate]
    if async_n:
        cmd += ["--async", str(async_n)]
    v0 = ns.mon("varz")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise SystemExit("bus bench: bench-publish failed: " + out.stderr)
    r = json.loads(out.stdout)
    v = ns.mon("varz")
    r["server"] = {k: v[k] - v0[k] for k in ("in_msgs", "in_bytes")}
    r["cpu_us_per_msg"] = round(r["cpu_s"] / r["messages"] * 1e6, 1)
    r["msgs_per_s"] = round(r["messages"] / r["wall_s"], 1)
    return r


def write_bare_file(ms, path, prefix):
    with open(path, "w") as f:
        for _, subj, mid, payload, _ in ms:
            f.write("%s.%s\t%s\t%s\n" % (prefix, subj, mid, payload))


def consume(url, stream, subjects, timeout=120):
    out = subprocess.run([TOOL, "consume", url, stream, subjects, "--idle-s", "2", "--timeout-s", str(timeout)],
                         capture_output=True, text=True, timeout=timeout + 30)
    if out.returncode != 0:
        raise SystemExit("bus bench: consume failed: " + out.stderr)
    return [json.loads(l) for l in out.stdout.splitlines() if l.strip()]


def check_stream(msgs, r, final):
    """What the stream holds against what the rig gave its bus: every message
    the bus took (published + sent through the spool, its last line) once
    (no message id twice), each kind in slot order, as many framesets as the
    aligner emitted (the stats' sets) less those the bus output's set queue
    dropped (outputs.bus.dropped: [rig] queue = 4 sets, full when the rig is
    stalled that long), and detections as [detect] published (its last line;
    the slots it dropped while behind have none)."""
    text = r.text()
    said = re.search(r"\[bus\] (\d+) messages published, (\d+) through the spool", text)
    det = re.search(r"\[detect\] (\d+) framesets .* (\d+) dropped while behind", text)
    ids = [m["msg_id"] for m in msgs]
    res = {"messages": len(msgs), "duplicate_ids": len(ids) - len(set(ids)),
           "bus_took": int(said.group(1)) + int(said.group(2)) if said else None,
           "sets_emitted": final["sets"], "bus_set_queue_dropped": final["outputs"]["bus"]["dropped"],
           "detect_published": int(det.group(1)) if det else None,
           "detect_dropped_behind": int(det.group(2)) if det else None}
    ok = res["duplicate_ids"] == 0 and res["messages"] == res["bus_took"]
    res["bus_lost_nothing"] = ok
    for kind, want in (("frameset", res["sets_emitted"] - res["bus_set_queue_dropped"]),
                       ("detections", res["detect_published"])):
        ns = [m["data"]["n"] for m in msgs if m["data"].get("schema") == "lockstep.%s/1" % kind]
        if not ns:
            continue
        have = set(ns)
        res[kind] = {"count": len(ns), "first": ns[0], "last": ns[-1],
                     "out_of_order": sum(1 for a, b in zip(ns, ns[1:]) if b <= a),
                     "slots_without": ns[-1] - ns[0] + 1 - len(have)}
        if res[kind]["slots_without"]:
            res[kind]["slots_without_first"] = [k for k in range(ns[0], ns[-1] + 1) if k not in have][:10]
        res["bus_lost_nothing"] = res["bus_lost_nothing"] and res[kind]["out_of_order"] == 0
        ok = ok and res[kind]["out_of_order"] == 0 and len(ns) == want
    res["ok"] = ok and res["bus_lost_nothing"]
    return res


def load():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def proc_cpu_s(pid):
    """utime + stime of process @pid (all its threads), s; 0 when gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            v = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")


class Others:
    """The CPU time that processes other than this benchmark's used between
    start() and end(), as a share of all the machine's CPUs, and the steal
    time (the hypervisor's other guests). The load average says little
    here: the rig's 100 camera threads wake together, and a load sample
    that catches them reads 10-20 while the CPUs are mostly idle."""

    @staticmethod
    def stat():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + v[4], v[7]  # total, idle + iowait, steal (ticks)

    def __init__(self, pids):
        self.pids = pids
        self.s0 = self.stat()
        self.mine0 = sum(proc_cpu_s(p) for p in pids) + self.children()

    @staticmethod
    def children():
        import resource
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime

    def end(self):
        s1 = self.stat()
        mine = sum(proc_cpu_s(p) for p in self.pids) + self.children() - self.mine0
        tick = os.sysconf("SC_CLK_TCK")
        total = (s1[0] - self.s0[0]) / tick
        busy = total - (s1[1] - self.s0[1]) / tick - (s1[2] - self.s0[2]) / tick
        return {"other_pct": round(max(0.0, busy - mine) / total * 100, 1) if total else None,
                "steal_pct": round((s1[2] - self.s0[2]) / tick / total * 100, 1) if total else None,
                "bench_pct": round(mine / total * 100, 1) if total else None}


def machine():
    mem = 0
    with open("/proc/meminfo") as f:
        for l in f:
            if l.startswith("MemTotal:"):
                mem = int(l.split()[1])
    model = ""
    with open("/proc/cpuinfo") as f:
        for l in f:
            if l.startswith("model name"):
                model = l.split(":", 1)[1].strip()
                break
    return "%d cores (%s), %.1f GiB, %s" % (os.cpu_count(), model, mem / 1048576, os.uname().release)


# ---- part 1: latency, CPU per message, bytes ------------------------------------------------

def part1(detect):
    ns = Nats("bench")
    sub = Sub(ns.url, "lockstep.bench.>", os.path.join(TMP, "sub-bench.jsonl"), idle=3600)
    time.sleep(0.5)
    r = start_rig("bench", ns.url, detect)
    time.sleep(5)  # the cameras and the aligner settle
    log("window A: the rig alone, %g s" % SECS)
    others = Others([os.getpid(), r.p.pid, ns.p.pid, sub.p.pid])
    wa = Window(ns, r)
    time.sleep(SECS)
    wa.end()
    lines = sub.lines()
    ams = wa.msgs(lines)
    if not ams:
        raise SystemExit("bus bench: no message reached the subscriber in window A")
    rate = len(ams) / wa.seconds
    path = os.path.join(TMP, "bare.txt")
    write_bare_file(ams, path, "bare")
    write_bare_file(ams, os.path.join(TMP, "bare-async1.txt"), "bare1")
    log("window B: the rig and the bare publisher (js_Publish), %d messages at %.2f/s" % (len(ams), rate))
    wb = Window(ns, r)
    pb = bare(ns, "BARE", "bare", path, rate=rate)
    wb.end()
    log("window C: the rig and the bare publisher (--async 1), the same messages")
    wc = Window(ns, r)
    pc = bare(ns, "BARE1", "bare1", os.path.join(TMP, "bare-async1.txt"), rate=rate, async_n=1)
    wc.end()
    machine_use = others.end()
    stats = r.stop()
    with open(os.path.join(r.dir, "rig.log"), "w") as f:
        f.write(r.text())
    time.sleep(0.5)
    sub.stop()
    lines = sub.lines()
    log("the bare publisher alone, unpaced (synchronous, then --async 256)")
    write_bare_file(ams, os.path.join(TMP, "bare-fast.txt"), "barefast")
    write_bare_file(ams, os.path.join(TMP, "bare-fast256.txt"), "barefast256")
    pf = bare(ns, "BAREFAST", "barefast", os.path.join(TMP, "bare-fast.txt"))
    pf256 = bare(ns, "BAREFAST256", "barefast256", os.path.join(TMP, "bare-fast256.txt"), async_n=256)
    msgs = consume(ns.url, "LOCKSTEP_BENCH", "lockstep.bench.>")
    final = stats[-1]
    stream = check_stream(msgs, r, final)
    stream["subscriber_got"] = len(lines)
    ns.kill()
    kinds = {}
    for m in ams:
        k = m[1].rsplit(".", 1)[1]
        kinds.setdefault(k, []).append(len(m[3].encode()))
    return {
        "window_a": wa.report(lines), "window_b": wb.report(lines), "window_c": wc.report(lines),
        "bare_sync_paced": pb, "bare_async1_paced": pc, "bare_sync_unpaced": pf, "bare_async256_unpaced": pf256,
        "payload_bytes_per_msg": {k: round(sum(v) / len(v)) for k, v in kinds.items()},
        "rig": {"sets": final["sets"], "complete": final["complete"], "dropped_slots": final["dropped_slots"],
                "bus": final["outputs"]["bus"],
                "detect_dropped": final["outputs"].get("detect", {}).get("dropped")},
        "stream": stream, "machine_use": machine_use,
    }


# ---- part 2: spool replay after an outage -----------------------------------------------------

def part2(detect):
    ns = Nats("outage")
    sub = Sub(ns.url, "lockstep.outage.>", os.path.join(TMP, "sub-outage.jsonl"), idle=OUTAGE + 120)
    time.sleep(0.5)
    r = start_rig("outage", ns.url, detect)
    time.sleep(5)
    log("outage: nats-server killed (SIGKILL) for %g s" % OUTAGE)
    t_kill, t_kill_ns = time.monotonic(), time.time_ns()
    ns.kill()
    t_said = r.wait_line(r"\[bus\] .*spooling to", after=t_kill, timeout=10)
    if not t_said:
        raise SystemExit("bus bench: the rig did not say it spools:\n" + r.text()[-2000:])
    time.sleep(max(0.0, OUTAGE - (time.monotonic() - t_kill)))
    ns.start()
    t_up = time.monotonic()
    t_conn = None
    while time.monotonic() < t_up + 30:  # the rig's connection on the server
        try:
            conns = ns.mon("connz").get("connections") or []
        except OSError:
            conns = []
        if any(c.get("name") == "lockstep outage" for c in conns):
            t_conn = time.monotonic()
            break
        time.sleep(0.01)
    t_back = r.wait_line(r"\[bus\] .*back after .* spooled messages sent", after=t_up, timeout=300)
    if not t_back or not t_conn:
        raise SystemExit("bus bench: the spool did not drain:\n" + r.text()[-2000:])
    back = re.search(r"back after ([0-9.]+) s; (\d+) spooled messages sent", r.text())
    n = int(back.group(2))
    time.sleep(3)
    stats = r.stop()
    with open(os.path.join(r.dir, "rig.log"), "w") as f:
        f.write(r.text())
    time.sleep(0.5)
    sub.stop()
    # the subscriber's view: what came between the reconnection and the line
    off = time.time_ns() - int(time.monotonic() * 1e9)
    lines = sub.lines()
    rep = [m for m in lines if t_conn * 1e9 + off - 1e9 <= m[0] <= t_back * 1e9 + off]
    sub_rate = None  # every message of this time came through the spool
    if len(rep) > 1:
        sub_rate = (len(rep) - 1) / ((rep[-1][0] - rep[0][0]) / 1e9)
    msgs = consume(ns.url, "LOCKSTEP_OUTAGE", "lockstep.outage.>", timeout=180)
    stream = check_stream(msgs, r, stats[-1])
    for kind in ("frameset", "detections"):  # slots without a message: when, against the kill
        for k in stream.get(kind, {}).get("slots_without_first", []):
            stream.setdefault("slots_without_vs_kill_s", []).append(
                (kind, round((k * 1e9 / RATE - t_kill_ns) / 1e9, 2)))
    b = stats[-1]["outputs"]["bus"]
    sets = [s["sets"] for s in stats if not s.get("final")]
    per_s = [y - x for x, y in zip(sets, sets[1:])]
    ns.kill()
    return {
        "outage_s": OUTAGE, "said_spooling_after_s": round(t_said - t_kill, 2),
        "said_back_after_s": float(back.group(1)), "spooled_sent": n,
        "reconnect_s": round(t_conn - t_up, 3), "drain_s": round(t_back - t_conn, 3),
        "replay_msgs_per_s": round(n / (t_back - t_conn)),
        "subscriber_replay_msgs_per_s": round(sub_rate) if sub_rate else None, "subscriber_replayed": len(rep),
        "spool_peak": max((s["outputs"]["bus"]["spool_held"], s["outputs"]["bus"]["spool_bytes"]) for s in stats),
        "bus": b, "sets_per_s_min": min(per_s[1:]) if len(per_s) > 1 else None,
        "stream": stream,
    }


def main():
    for prog, what in ((LS, "the lockstep build"), (TOOL, "build/tests/bus-tool")):
        if not os.path.exists(prog):
            raise SystemExit("bus bench: %s not found (%s)" % (prog, what))
    if not shutil.which("nats-server"):
        raise SystemExit("bus bench: nats-server is not installed (scripts/setup.sh)")
    detect, why = None, ""
    ort = os.path.join(ROOT, ".cache/ort/libonnxruntime.so")
    if not os.path.exists(ort) and not os.environ.get("LOCKSTEP_ORT_LIB"):
        why = "no ONNX Runtime (%s; scripts/setup.sh)" % ort
    else:
        try:
            detect = yolo_model(os.path.join(TMP, "yolo.onnx"))
        except ImportError as e:
            why = "python3-onnx/numpy missing (%s)" % e
        if detect:
            why = detect_usable(detect)
            if why:
                detect = None
    if not detect:
        log("bus bench: WITHOUT [detect]: %s; framesets and stats only" % why)
    log("bus bench: %d cameras %dx%d at %d fps, [detect] %s, windows of %g s, outage %g s; %s; load %.2f; %s" % (
        NCAMS, W, H, RATE, "every-n = 1 (tiny YOLOv8-layout model)" if detect else "off", SECS, OUTAGE, machine(),
        load(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())))
    if load() > 1.5:
        log("bus bench: WARNING: load average %.2f before the run: another job is using this machine" % load())
    res = {"machine": machine(), "date": time.strftime("%Y-%m-%d", time.gmtime()), "load_before": load(),
           "detect": bool(detect), "seconds": SECS, "cameras": NCAMS, "rate": RATE}
    res["part1"] = p1 = part1(detect)
    res["part2"] = p2 = part2(detect) if OUTAGE > 0 else None
    res["load_after"] = load()
    a, b, c = p1["window_a"], p1["window_b"], p1["window_c"]
    ratio_b = b["cpu_us_per_msg"] / p1["bare_sync_paced"]["cpu_us_per_msg"]
    ratio_c = c["cpu_us_per_msg"] / p1["bare_async1_paced"]["cpu_us_per_msg"]
    res["ratio_sync"] = round(ratio_b, 3)
    res["ratio_async1"] = round(ratio_c, 3)
    res["goal_met"] = ratio_b <= GOAL
    print("\nSUMMARY " + json.dumps(res))

    def wire(w):
        v, t = w["server"], w["tcp"]
        s = "server in %.0f B/msg" % (v["in_bytes"] / v["in_msgs"]) if v["in_msgs"] else "server in -"
        if t and w["messages"]:
            s += ", TCP out %.0f B/msg, in (acks) %.0f B/msg" % (t[0] / w["messages"], t[1] / w["messages"])
        return s

    log("")
    log("%d cameras at %d fps, %s on NATS JetStream (nats-server, loopback); windows of %g s" % (
        NCAMS, RATE, "framesets + detections" if detect else "framesets + stats (no [detect])", SECS))
    log("payload per message: %s" % ", ".join("%s %d B" % kv for kv in p1["payload_bytes_per_msg"].items()))
    for name, w in (("A rig alone", a), ("B + bare sync", b), ("C + bare async1", c)):
        parts = ", ".join("%s %.1f" % kv for kv in w["cpu_parts_us_per_msg"].items())
        log("window %-16s %5d msgs %6.2f/s  lockstep bus CPU %6.1f us/msg (%s)  frameset latency p50 %.2f "
            "p99 %.2f max %.2f ms" % (name, w["messages"], w["msgs_per_s"], w["cpu_us_per_msg"], parts,
                                     w["latency_ms"]["p50"], w["latency_ms"]["p99"], w["latency_ms"]["max"]))
    log("window A: detections slot time -> subscriber p50 %.2f p99 %.2f ms; payload %.0f B/s; %s; nats-server "
        "CPU %.1f us/msg" % (a["detections_slot_to_sub_ms"]["p50"], a["detections_slot_to_sub_ms"]["p99"],
                             a["payload_bytes"] / a["seconds"], wire(a), a["server_cpu_s"] / a["messages"] * 1e6))
    for name, p in (("sync, paced (B)", p1["bare_sync_paced"]), ("async 1, paced (C)", p1["bare_async1_paced"]),
                    ("sync, unpaced", p1["bare_sync_unpaced"]), ("async 256, unpaced", p1["bare_async256_unpaced"])):
        log("bare publisher %-19s %5d msgs %8.1f/s  CPU %6.1f us/msg  server in %.0f B/msg" % (
            name, p["messages"], p["msgs_per_s"], p["cpu_us_per_msg"],
            p["server"]["in_bytes"] / max(1, p["server"]["in_msgs"])))
    log("ratio lockstep / bare, CPU per message: %.2fx against js_Publish (window B), %.2fx against "
        "js_PublishAsync (window C); goal <= %.1fx: %s" % (ratio_b, ratio_c, GOAL,
                                                          "met" if ratio_b <= GOAL else "MISSED"))
    log_stream("run 1", p1["stream"])
    if not p2:
        log("spool replay: not measured (BUS_OUTAGE_S=0)")
    else:
        log_replay(p2)
    mu = p1["machine_use"]
    log("windows A-C: this benchmark's processes used %.1f %% of the %d CPUs, other processes %.1f %%, steal %.1f %%"
        % (mu["bench_pct"], os.cpu_count(), mu["other_pct"], mu["steal_pct"]))
    if mu["other_pct"] > 10:
        log("WARNING: other processes used %.0f %% of this machine during windows A-C: the figures are noisier"
            % mu["other_pct"])
    if ratio_b > GOAL:
        log("MISSED: lockstep's CPU per message is %.2fx the bare publisher's (goal <= %.1fx)" % (ratio_b, GOAL))
    return 0


def log_replay(p2):
    log("spool replay after a %g s outage: %d messages in %.3f s after the reconnection: %d msg/s "
        "(subscriber: %s msg/s); reconnected %.2f s after the restart; back after %.1f s" % (
            p2["outage_s"], p2["spooled_sent"], p2["drain_s"], p2["replay_msgs_per_s"],
            p2["subscriber_replay_msgs_per_s"], p2["reconnect_s"], p2["said_back_after_s"]))
    log("the rig said it spools %.2f s after the kill; spool at most %d messages, %d bytes; the rig's sets/s "
        "at least %s" % (p2["said_spooling_after_s"], p2["spool_peak"][0], p2["spool_peak"][1], p2["sets_per_s_min"]))
    log_stream("run 2", p2["stream"])
    if p2["stream"].get("slots_without_vs_kill_s"):
        log("  slots without a message (kind, s after the kill): %s" % p2["stream"]["slots_without_vs_kill_s"])


def log_stream(name, s):
    def kind(k):
        d = s.get(k)
        return "%s: none" % k if not d else "%d %s, %d out of order, %d slots without" % (
            d["count"], k, d["out_of_order"], d["slots_without"])
    log("stream, %s: %d messages of %s the bus took, %d ids twice; %s (the aligner emitted %d sets, the bus's set "
        "queue dropped %d); %s ([detect] published %s, dropped %s while behind): %s" % (
            name, s["messages"], s["bus_took"], s["duplicate_ids"], kind("frameset"), s["sets_emitted"],
            s["bus_set_queue_dropped"], kind("detections"), s["detect_published"], s["detect_dropped_behind"],
            "nothing lost, in order" if s["ok"] else "LOST, DUPLICATED OR OUT OF ORDER"))
    if s["bus_set_queue_dropped"]:
        log("  the bus output's set queue ([rig] queue = 4 sets) dropped %d framesets, counted in outputs.bus.dropped: "
            "the rig stalled longer than 4 slots" % s["bus_set_queue_dropped"])


if __name__ == "__main__":
    try:
        rc = main()
    finally:
        while CLEANUP:
            try:
                CLEANUP.pop()()
            except Exception:
                pass
        if not os.environ.get("BUS_BENCH_KEEP"):
            shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(rc)
