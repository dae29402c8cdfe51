#!/usr/bin/env python3
"""[bus]: lockstep's metadata on NATS JetStream and MQTT, against real
brokers the tests start on loopback ports with temporary stores
(Debian's nats-server and mosquitto), read back by real clients
(tests/bus_tool.c with libnats; paho-mqtt), every message validated
against its schema in schemas/ (python3-jsonschema):
  - NATS: every message arrives once, framesets in slot order with no gap,
    each valid; the stats record counts what was published;
  - [detect] on real footage: detections (the JSON lines' content),
    DeepStream's minimal payload, track and motion events, all valid;
  - kill -9 nats-server for 10 s mid-run, then restart it: 0 framesets
    lost, 0 duplicates reach the JetStream consumer, and the rig's
    frameset rate is unchanged while the broker is down;
  - the same through a mosquitto restart, MQTT QoS 1 and the spool;
  - a broker that never comes up: the run goes on, the spool stops at
    spool-mb (the oldest dropped, counted) and one line says so;
  - a stalled subscriber does not slow the rig;
  - a three-node nats-server cluster, JetStream replicas 3: the node the
    rig is connected to is killed mid-run, and nothing is lost;
  - remote commands: the run waits for start, starts at the slot asked
    for, stops at the slot asked for; a clip is exported on request and
    the reply names its files;
  - bad input (URL, credentials, subject prefix) is one line at start
    naming the key; `lockstep check` says when no broker answers.
Prints TAP.

usage: bus.py LOCKSTEP_BINARY BUS_TOOL REPO_ROOT [FILTER]
"""
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import lsrun
import tap

LS = os.path.abspath(sys.argv[1])
TOOL = os.path.abspath(sys.argv[2])
ROOT = os.path.abspath(sys.argv[3])
FILTER = sys.argv[4] if len(sys.argv) > 4 else ""
TMP = tempfile.mkdtemp(prefix="lockstep-bus-")
SUITE = tap.Suite()
test = SUITE.test
CLEANUP = []
RATE = 30

try:
    import jsonschema
except ImportError:  # Debian's python3-jsonschema (scripts/setup.sh)
    jsonschema = None

SCHEMAS = {}
for path in glob.glob(os.path.join(ROOT, "schemas", "*.json")):
    with open(path) as f:
        SCHEMAS[os.path.basename(path)[:-5]] = json.load(f)
KIND_SCHEMA = {"lockstep.frameset/1": "frameset", "lockstep.detections/1": "detections",
               "lockstep.event/1": "event", "lockstep.stats/1": "stats",
               "lockstep.deepstream-minimal/1": "deepstream-minimal"}


def validate(msgs):
    """Every message against the schema its "schema" names; returns how many
    of each kind."""
    if jsonschema is None:
        raise tap.SkipTest("python3-jsonschema is not installed (scripts/setup.sh)")
    kinds = {}
    for m in msgs:
        d = m["data"]
        name = KIND_SCHEMA.get(d.get("schema"))
        assert name, "unknown schema in %s" % json.dumps(d)[:300]
        jsonschema.validate(d, SCHEMAS[name], cls=jsonschema.Draft7Validator)
        kinds[name] = kinds.get(name, 0) + 1
    return kinds


def port():
    return lsrun.free_port()


def need(prog):
    if not shutil.which(prog):
        raise tap.SkipTest("%s is not installed (scripts/setup.sh)" % prog)


def wait_port(p, timeout=10):
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", p)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError("nothing listens on 127.0.0.1:%d" % p)


class Nats:
    """nats-server -js on 127.0.0.1:PORT with its own store; a node of a
    cluster when routes are given."""

    def __init__(self, name, p=None, cluster=None, routes=(), args=()):
        need("nats-server")
        self.name, self.port = name, p or port()
        self.store = os.path.join(TMP, "nats-" + name)
        self.cluster, self.routes, self.args = cluster, routes, list(args)
        self.p = None
        self.start()
        CLEANUP.append(self.kill)

    def start(self):
        cmd = ["nats-server", "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", self.store,
               "-n", self.name] + self.args
        if self.cluster:
            cmd += ["--cluster_name", "lsc", "--cluster", "nats://127.0.0.1:%d" % self.cluster,
                    "--routes", ",".join("nats://127.0.0.1:%d" % r for r in self.routes)]
        self.log = open(os.path.join(TMP, "nats-%s.log" % self.name), "a")
        self.p = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        wait_port(self.port)

    def kill(self):
        if self.p and self.p.poll() is None:
            self.p.kill()
            self.p.wait()

    @property
    def url(self):
        return "nats://127.0.0.1:%d" % self.port


class Mosquitto:
    def __init__(self, p=None, extra=""):
        need("mosquitto")
        self.port = p or port()
        d = os.path.join(TMP, "mosq-%d" % self.port)
        os.makedirs(d, exist_ok=True)
        self.conf = os.path.join(d, "m.conf")
        with open(self.conf, "w") as f:
            f.write("listener %d 127.0.0.1\npersistence true\npersistence_location %s/\nautosave_interval 1\n"
                    "max_queued_messages 0\n%s%s" % (self.port, d, extra or "allow_anonymous true\n",
                                                     # as root it would become user mosquitto, who cannot
                                                     # read this test's private directory
                                                     "user root\n" if os.geteuid() == 0 else ""))
        self.p = None
        self.start()
        CLEANUP.append(self.kill)

    def start(self):
        self.p = subprocess.Popen(["mosquitto", "-c", self.conf], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def kill(self):
        if self.p and self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def rig(name, cams, bus, extra="", rate=RATE):
    text = "[rig]\nrate = %d\n" % rate + cams + "[bus]\nname = %s\nspool = @DIR@/bus.spool\n" % name + bus + extra
    r = lsrun.RigDir(LS, TMP, name, text)
    CLEANUP.append(r.kill)
    return r


def test_cams(n=2, w=64, h=48):
    return "".join("[camera c%d]\nuri = test://?fps=%d&width=%d&height=%d\n" % (i, RATE, w, h) for i in range(n))


def consume(url, stream, subjects, idle=2, timeout=60):
    out = subprocess.run([TOOL, "consume", url, stream, subjects, "--idle-s", str(idle), "--timeout-s",
                          str(timeout)], capture_output=True, text=True, timeout=timeout + 30)
    assert out.returncode == 0, out.stderr
    return [json.loads(l) for l in out.stdout.splitlines() if l.strip()]


def framesets(msgs):
    return [m["data"]["n"] for m in msgs if m["data"].get("schema") == "lockstep.frameset/1"]


def check_slots(ns, sets=None):
    """Each slot once, in order, no gap; and as many as the rig emitted."""
    assert ns, "no frameset arrived"
    dups = len(ns) - len(set(ns))
    gaps = [(a, b) for a, b in zip(ns, ns[1:]) if b != a + 1]
    assert dups == 0, "%d duplicate framesets" % dups
    assert not gaps, "framesets out of order or lost: %s" % gaps[:10]
    if sets is not None:
        assert len(ns) == sets, "%d framesets arrived, the rig emitted %d" % (len(ns), sets)


def rates_during(stats, t0, t1):
    """Sets per second of each stats record whose second lies in [t0, t1]
    (time.time() seconds)."""
    out = []
    prev = None
    for s in stats:
        t = time.mktime(time.strptime(s["time"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
        if prev is not None and t0 <= t <= t1 and not s.get("final"):
            out.append(s["sets"] - prev)
        prev = s["sets"]
    return out


@test
def nats_every_message_once_in_order_and_valid():
    ns = Nats("one")
    r = rig("once", test_cams(3), "url = %s\n" % ns.url, extra="[record]\ndir = @DIR@\nsegment-s = 1\n")
    assert r.wait_line(r"made JetStream stream LOCKSTEP_ONCE", timeout=10), r.text()
    time.sleep(6)
    stats = r.stop()
    final = stats[-1]
    b = final["outputs"]["bus"]
    msgs = consume(ns.url, "LOCKSTEP_ONCE", "lockstep.once.>")
    kinds = validate(msgs)
    ids = [m["msg_id"] for m in msgs]
    assert len(ids) == len(set(ids)), "a message id twice"
    check_slots(framesets(msgs), final["sets"])
    # segment-closed events: one per camera and segment, each valid
    seg = [m["data"] for m in msgs if m["subject"] == "lockstep.once.events.segment-closed"]
    assert len(seg) >= 3 * 4, len(seg)
    assert len({(e["camera"], e["first_slot"]) for e in seg}) == len(seg)
    for e in seg:
        assert os.path.exists(os.path.join(r.dir, e["path"])), e
    # stats once a second, in order; everything published is in the stream
    st = [m["data"] for m in msgs if m["subject"] == "lockstep.once.stats"]
    assert len(st) >= 5 and [s["sets"] for s in st] == sorted(s["sets"] for s in st), st
    # the final record is written before the bus drains; its last line counts all
    said = re.search(r"\[bus\] (\d+) messages published, 0 through the spool$", r.text(), re.M)
    assert said and int(said.group(1)) == len(msgs), (r.text()[-500:], len(msgs))
    assert b["spooled"] == 0 and b["queue_dropped"] == 0, b
    assert b["connected"] is True and b["ack_errors"] == 0, b
    print("# %d messages: %s" % (len(msgs), kinds))


@test
def nats_detections_deepstream_and_track_events():
    model = os.path.join(ROOT, ".cache/models/centernet.onnx")
    video = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
    if not os.path.exists(model) or not os.path.exists(video):
        raise tap.SkipTest("no CenterNet model or vtest.avi (scripts/setup.sh)")
    ns = Nats("det")
    r = rig("det", "[camera street]\nuri = file://%s?loop=true\n" % video,
            "url = %s\nmessages = frameset,detections,events,stats,deepstream\n" % ns.url, rate=5,
            extra="[detect]\nmodel = %s\nclasses = person\nthreshold = 0.45\nthreads = 2\nmotion-gate = on\n"
                  "output = @DIR@/det.jsonl\n" % model)
    assert r.wait_line(r"track|made JetStream", timeout=30)
    time.sleep(10)
    r.stop()
    msgs = consume(ns.url, "LOCKSTEP_DET", "lockstep.det.>")
    kinds = validate(msgs)
    det = [m["data"] for m in msgs if m["subject"] == "lockstep.det.detections"]
    lines = [json.loads(l) for l in open(os.path.join(r.dir, "det.jsonl"))]
    assert det and len(det) == len(lines), (len(det), len(lines))
    for d, l in zip(det, lines):  # the same content as the JSON lines
        assert {k: v for k, v in d.items() if k not in ("schema", "rig")} == l, (d, l)
    persons = sum(len(c["detections"]) for d in det for c in d["cameras"])
    assert persons > 10, persons
    ds = [m["data"] for m in msgs if m["subject"] == "lockstep.det.deepstream"]
    assert len(ds) == sum(1 for d in det for c in d["cameras"] if "detections" in c and not c.get("gated")), len(ds)
    obj = [o for d in ds for o in d["objects"]]
    assert obj and all(re.match(r"^-?\d+\|\d+\|\d+\|\d+\|\d+\|person\|#\|[0-9.]+$", o) for o in obj), obj[:3]
    ev = {m["subject"].rsplit(".", 1)[1] for m in msgs if ".events." in m["subject"]}
    assert {"track-started", "motion-on"} <= ev, ev
    print("# %s; events %s" % (kinds, sorted(ev)))


@test
def nats_killed_for_10s_nothing_lost():
    ns = Nats("kill")
    r = rig("kill", test_cams(2), "url = %s\n" % ns.url)
    assert r.wait_line(r"made JetStream stream", timeout=10)
    time.sleep(4)
    t_down = time.time()
    ns.kill()
    assert r.wait_line(r"\[bus\] .*not connected.*spooling to", timeout=5), r.text()
    time.sleep(10)
    t_up = time.time()
    ns.start()
    assert r.wait_line(r"\[bus\] .*back after .* spooled messages sent, in order", timeout=15), r.text()
    time.sleep(3)
    stats = r.stop()
    final = stats[-1]
    b = final["outputs"]["bus"]
    msgs = consume(ns.url, "LOCKSTEP_KILL", "lockstep.kill.>")
    validate(msgs)
    ids = [m["msg_id"] for m in msgs]
    assert len(ids) == len(set(ids)), "%d duplicates reached the consumer" % (len(ids) - len(set(ids)))
    check_slots(framesets(msgs), final["sets"])
    assert b["spooled"] > 250 and b["replayed"] >= b["spooled"] - 5 and b["spool_held"] == 0, b
    assert b["spool_dropped"] == 0 and b["queue_dropped"] == 0, b
    # the rig's frameset rate while the broker was down
    down = rates_during(stats, t_down + 1.5, t_up - 0.5)
    before = rates_during(stats, t_down - 3.5, t_down - 0.5)
    assert len(down) >= 7 and min(down) >= RATE - 2, (down, before)
    print("# %d framesets, %d spooled and sent again; sets/s while down %s, before %s"
          % (len(framesets(msgs)), b["spooled"], down, before))


class MqttSub:
    """A persistent-session QoS 1 subscriber (paho-mqtt) that outlives a
    broker restart: it reconnects, and the broker keeps its session."""

    def __init__(self, port, topic, client_id):
        try:
            import paho.mqtt.client as mqtt
        except ImportError:
            raise tap.SkipTest("python3-paho-mqtt is not installed (scripts/setup.sh)")
        self.msgs, self.lock = [], threading.Lock()
        self.c = mqtt.Client(client_id=client_id, clean_session=False, protocol=mqtt.MQTTv311)
        self.c.reconnect_delay_set(0.2, 1)
        self.topic = topic
        self.c.on_connect = lambda c, u, f, rc: c.subscribe(topic, qos=1)
        self.c.on_message = self._on
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        CLEANUP.append(self.close)

    def _on(self, c, u, m):
        with self.lock:
            self.msgs.append({"subject": m.topic, "data": json.loads(m.payload), "dup": m.dup})

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


@test
def mosquitto_restart_qos1_nothing_lost():
    mq = Mosquitto()
    sub = MqttSub(mq.port, "lockstep/mq/#", "bus-test-sub")
    time.sleep(1.5)  # the session is on the broker's disk (autosave 1 s)
    r = rig("mq", test_cams(2), "url = mqtt://127.0.0.1:%d\n" % mq.port)
    assert r.wait_line(r"\[bus\] mqtt://", timeout=10)
    time.sleep(4)
    t_down = time.time()
    mq.kill()
    assert r.wait_line(r"\[bus\] .*spooling to", timeout=8), r.text()
    time.sleep(10)
    t_up = time.time()
    mq.start()
    assert r.wait_line(r"\[bus\] .*back after", timeout=20), r.text()
    time.sleep(3)
    stats = r.stop()
    time.sleep(1)
    with sub.lock:
        msgs = list(sub.msgs)
    validate(msgs)
    ns = framesets(msgs)
    first = []
    seen = set()
    for n in ns:  # QoS 1 is at least once: the first copy of each counts
        if n not in seen:
            seen.add(n)
            first.append(n)
    check_slots(first, stats[-1]["sets"])
    b = stats[-1]["outputs"]["bus"]
    down = rates_during(stats, t_down + 1.5, t_up - 0.5)
    assert len(down) >= 7 and min(down) >= RATE - 2, down
    assert b["spooled"] > 200 and b["spool_held"] == 0 and b["spool_dropped"] == 0, b
    print("# %d framesets (%d copies), %d through the spool; sets/s while down %s"
          % (len(first), len(ns) - len(first), b["spooled"], down))


@test
def broker_never_up_spool_stops_at_its_cap():
    dead = port()  # nothing listens there
    r = rig("never", test_cams(8, 32, 24), "url = nats://127.0.0.1:%d\nspool-mb = 0.1\n" % dead)
    time.sleep(9)
    stats = r.stop()
    text = r.text()
    full = [l for l in text.splitlines() if "is full" in l]
    assert len(full) == 1 and "spool-mb = 0" in full[0], text
    b = stats[-1]["outputs"]["bus"]
    assert b["connected"] is False and b["published"] == 0, b
    cap = int(0.1 * 1048576)
    assert 0.8 * cap <= b["spool_bytes"] <= cap and b["spool_dropped"] > 0, b
    rates = rates_during(stats, 0, time.time())[1:]
    assert rates and min(rates) >= RATE - 2, rates
    assert re.search(r"\[bus\] \d+ messages published, 0 through the spool; \d+ left in .* for the next run; "
                     r"\d+ dropped", text), text
    print("# spool held %d bytes of %d, dropped %d; sets/s %s" % (b["spool_bytes"], cap, b["spool_dropped"], rates))


@test
def stalled_subscriber_does_not_slow_the_rig():
    ns = Nats("stall")
    # a core subscriber that reads one message a second
    slow = subprocess.Popen([TOOL, "sub", ns.url, "lockstep.stall.>", "--stall-s", "1", "--timeout-s", "30"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    CLEANUP.append(lambda: slow.kill())
    r = rig("stall", test_cams(4), "url = %s\n" % ns.url)
    time.sleep(10)
    stats = r.stop()
    slow.kill()
    b = stats[-1]["outputs"]["bus"]
    rates = rates_during(stats, 0, time.time())[1:]
    assert rates and min(rates) >= RATE - 2, rates
    assert b["spooled"] == 0 and b["queued"] < 50 and b["published"] >= 9 * RATE, b
    msgs = consume(ns.url, "LOCKSTEP_STALL", "lockstep.stall.>")
    check_slots(framesets(msgs), stats[-1]["sets"])
    print("# sets/s %s; %d published, none spooled" % (rates, b["published"]))


@test
def cluster_of_three_node_killed_nothing_lost():
    ports = [port() for _ in range(3)]
    cports = [port() for _ in range(3)]
    nodes = [Nats("n%d" % i, ports[i], cports[i], [cports[j] for j in range(3) if j != i]) for i in range(3)]
    url = ",".join(n.url for n in nodes)
    r = rig("cl", test_cams(2), "url = %s\nreplicas = 3\n" % url)
    assert r.wait_line(r"made JetStream stream LOCKSTEP_CL .*3 replicas", timeout=30), r.text()
    time.sleep(4)
    # the node the rig publishes to
    with open(r.stats) as f:
        last = [json.loads(l) for l in f if l.strip()][-1]
    server = last["outputs"]["bus"]["server"]
    victim = [n for n in nodes if str(n.port) in server][0]
    victim.kill()
    time.sleep(8)
    stats = r.stop()
    b = stats[-1]["outputs"]["bus"]
    alive = ",".join(n.url for n in nodes if n is not victim)
    msgs = consume(alive, "LOCKSTEP_CL", "lockstep.cl.>")
    ids = [m["msg_id"] for m in msgs]
    assert len(ids) == len(set(ids)), "duplicates"
    check_slots(framesets(msgs), stats[-1]["sets"])
    assert b["reconnects"] >= 1 and b["server"] != server, b
    print("# killed %s; %d framesets, %d through the spool, now on %s"
          % (server, len(framesets(msgs)), b["spooled"], b["server"]))


def tls_files(d):
    """A CA and a certificate for 127.0.0.1 that it signed (openssl)."""
    os.makedirs(d, exist_ok=True)
    def ossl(*a):
        subprocess.run(["openssl"] + list(a), check=True, capture_output=True)
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=lockstep test CA",
         "-keyout", d + "/ca.key", "-out", d + "/ca.pem")
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", d + "/srv.key",
         "-out", d + "/srv.csr")
    with open(d + "/ext", "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    ossl("x509", "-req", "-in", d + "/srv.csr", "-CA", d + "/ca.pem", "-CAkey", d + "/ca.key", "-CAcreateserial",
         "-days", "1", "-extfile", d + "/ext", "-out", d + "/srv.pem")
    # a second CA that signed nothing here
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=other CA",
         "-keyout", d + "/other.key", "-out", d + "/other.pem")
    return d


@test
def tls_to_nats_and_mosquitto():
    """tls:// and mqtts:// with ca =: messages go; a CA that did not sign
    the broker's certificate is one line at start naming ca."""
    need("openssl")
    d = tls_files(os.path.join(TMP, "tls"))
    ns = Nats("tls", args=["--tls", "--tlscert", d + "/srv.pem", "--tlskey", d + "/srv.key"])
    mq = Mosquitto(extra="allow_anonymous true\ncafile %s/ca.pem\ncertfile %s/srv.pem\nkeyfile %s/srv.key\n"
                   % (d, d, d))
    for name, url in (("tlsn", "tls://127.0.0.1:%d" % ns.port), ("tlsm", "mqtts://127.0.0.1:%d" % mq.port)):
        r = rig(name, test_cams(1), "url = %s\nca = %s/ca.pem\n" % (url, d))
        time.sleep(3)
        stats = r.stop()
        b = stats[-1]["outputs"]["bus"]
        assert b["connected"] is True and b["published"] >= 2 * RATE and b["spooled"] == 0, (url, b, r.text())
        cfg = os.path.join(TMP, name + "-bad.ini")
        with open(cfg, "w") as f:
            f.write("[rig]\nrate = 30\n[camera a]\nuri = test://\n[bus]\nurl = %s\nca = %s/other.pem\n"
                    "spool = %s/%s.spool\n" % (url, d, TMP, name))
        out = subprocess.run([LS, "run", cfg, "--duration", "2"], capture_output=True, text=True, timeout=30)
        bad = [l for l in out.stderr.splitlines() if "[bus] ca" in l]
        print("# %s with the wrong CA: rc %d: %s" % (url, out.returncode, bad or out.stderr.splitlines()[-3:]))
        assert out.returncode == 1 and len(bad) == 1 and bad[0].startswith(cfg + ":"), out.stderr


def request(url, subject, body, timeout=10):
    out = subprocess.run([TOOL, "request", url, subject, json.dumps(body), "--timeout-s", str(timeout)],
                         capture_output=True, text=True, timeout=timeout + 10)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@test
def control_start_stop_and_remote_clip():
    ns = Nats("ctl")
    r = rig("ctl", test_cams(2, 160, 120), "url = %s\ncontrol = on\n" % ns.url,
            extra="[record]\ndir = @DIR@\nsegment-s = 1\n")
    assert r.wait_line(r"waiting for a start", timeout=10), r.text()
    time.sleep(2)
    with open(r.stats) as f:
        assert all(json.loads(l)["sets"] == 0 for l in f if l.strip())
    at = (time.time_ns() // 1000000000 + 2) * 1000000000  # a whole second, 1 to 2 s out
    rep = request(ns.url, "lockstep.ctl.control", {"command": "start", "at_ns": at})
    assert rep["ok"] and rep["at_ns"] == at, rep
    again = request(ns.url, "lockstep.ctl.control", {"command": "start"})
    assert not again["ok"] and "already" in again["error"], again
    bad = request(ns.url, "lockstep.ctl.control", {"command": "jump"})
    assert not bad["ok"] and "command" in bad["error"], bad
    time.sleep(6)
    # a clip of two seconds that are recorded
    n0 = at * RATE // 1000000000
    clip = request(ns.url, "lockstep.ctl.clip", {"n1": n0 + 30, "n2": n0 + 90}, timeout=30)
    assert clip["ok"], clip
    assert os.path.exists(clip["manifest"]) and clip["first_slot"] <= n0 + 30 and clip["last_slot"] >= n0 + 90, clip
    for c in ("c0", "c1"):
        assert os.path.getsize(os.path.join(clip["dir"], c + ".mp4")) > 1000
    nope = request(ns.url, "lockstep.ctl.clip", {"n1": 5, "n2": 1})
    assert not nope["ok"], nope
    stop_at = (time.time_ns() // 1000000000 + 2) * 1000000000
    rep = request(ns.url, "lockstep.ctl.control", {"command": "stop", "at_ns": stop_at})
    assert rep["ok"], rep
    r.p.wait(timeout=15)
    assert r.p.returncode == 0, r.text()
    msgs = consume(ns.url, "LOCKSTEP_CTL", "lockstep.ctl.>")
    validate(msgs)
    fs = framesets(msgs)
    check_slots(fs)
    assert fs[0] == n0, (fs[0], n0)
    assert fs[-1] == stop_at * RATE // 1000000000, (fs[-1], stop_at)
    ready = [m["data"] for m in msgs if m["subject"] == "lockstep.ctl.events.clip-ready"]
    assert ready and ready[0]["what"] == "bus" and ready[0]["manifest"] == clip["manifest"], ready
    print("# first slot %d = the start's, last %d = the stop's; clip %s" % (fs[0], fs[-1], clip["clip"]))


@test
def coordinate_start_stop_same_slots_on_every_node():
    """`lockstep coordinate start|stop`: two nodes (control = on, one
    subject prefix) wait, start at the same slot and stop at the same slot."""
    ns = Nats("coord")
    nodes = [rig(n, test_cams(2), "url = %s\nsubject-prefix = lockstep.site\nstream = SITE\ncontrol = on\n" % ns.url)
             for n in ("node1", "node2")]
    for r in nodes:
        assert r.wait_line(r"waiting for a start", timeout=10), r.text()
    coord = os.path.join(TMP, "coord.ini")
    with open(coord, "w") as f:
        f.write("[rig]\nrate = 30\n[camera x]\nuri = test://\n[bus]\nurl = %s\nsubject-prefix = lockstep.site\n" % ns.url)
    out = subprocess.run([LS, "coordinate", "start", coord], capture_output=True, text=True, timeout=30)
    answers = [json.loads(l) for l in out.stdout.splitlines()]
    assert out.returncode == 0 and len(answers) == 2 and all(a["ok"] for a in answers), (out.stdout, out.stderr)
    assert answers[0]["at_ns"] == answers[1]["at_ns"] and {a["rig"] for a in answers} == {"node1", "node2"}
    time.sleep(3)
    out = subprocess.run([LS, "coordinate", "stop", coord], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.count('"ok":true') == 2, (out.stdout, out.stderr)
    for r in nodes:
        r.p.wait(timeout=15)
        assert r.p.returncode == 0, r.text()
    msgs = consume(ns.url, "SITE", "lockstep.site.>")
    first_last = {}
    for name in ("node1", "node2"):
        fs = [m["data"]["n"] for m in msgs if m["data"].get("schema") == "lockstep.frameset/1" and m["data"]["rig"] == name]
        check_slots(fs)
        first_last[name] = (fs[0], fs[-1])
    assert first_last["node1"] == first_last["node2"], first_last
    # nobody listening: one line, exit 1
    lonely = os.path.join(TMP, "lonely.ini")
    with open(lonely, "w") as f:
        f.write("[rig]\nrate = 30\n[camera x]\nuri = test://\n[bus]\nurl = %s\nsubject-prefix = nobody\n" % ns.url)
    out = subprocess.run([LS, "coordinate", "stop", lonely, "--wait-s", "0.5"], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 1 and "no node answered on nobody.control" in out.stderr, out.stderr
    print("# both nodes: first slot %d, last slot %d" % first_last["node1"])


@test
def bad_input_is_one_line_naming_the_key():
    cases = [
        ("url = nats://127.0.0.1:0\n", r"\[bus\] url: .*port"),
        ("url = kafka://127.0.0.1:9092\n", r"\[bus\] url: expected nats://"),
        ("url = nats://127.0.0.1:4222\nsubject-prefix = a.>\n", r"\[bus\] subject-prefix: expected tokens"),
        ("url = nats://127.0.0.1:4222\nmessages = framesets\n", r"\[bus\] messages: unknown message kind"),
        ("url = mqtt://127.0.0.1:1883\ncreds = x.creds\n", r"\[bus\] creds is for NATS"),
    ]
    ns = Nats("auth", args=["--user", "rig", "--pass", "right"])
    cases.append(("url = nats://rig:wrong@127.0.0.1:%d\n" % ns.port, r"\[bus\] password: .*refused"))
    cases.append(("url = %s\nuser = rig\npassword = wrong\n" % ns.url, r"\[bus\] password: .*refused"))
    need("mosquitto_passwd")
    subprocess.run(["mosquitto_passwd", "-b", "-c", os.path.join(TMP, "mosq.pw"), "rig", "right"], check=True)
    mq = Mosquitto(extra="allow_anonymous false\npassword_file %s\n" % os.path.join(TMP, "mosq.pw"))
    cases.append(("url = mqtt://127.0.0.1:%d\nuser = rig\npassword = wrong\n" % mq.port,
                  r"\[bus\] password: .*(refused|not authori)"))
    for i, (bus, want) in enumerate(cases):
        d = os.path.join(TMP, "bad%d" % i)
        os.makedirs(d)
        cfg = os.path.join(d, "rig.ini")
        with open(cfg, "w") as f:
            f.write("[rig]\nrate = 30\n[camera a]\nuri = test://?width=64&height=48\n[bus]\nspool = %s/s\n%s"
                    % (d, bus))
        out = subprocess.run([LS, "run", cfg, "--duration", "2"], capture_output=True, text=True, timeout=30)
        lines = [l for l in out.stderr.splitlines() if l.strip()]
        assert out.returncode == 1, (bus, out.returncode, out.stderr)
        bad = [l for l in lines if re.search(want, l)]
        assert len(bad) == 1 and bad[0].startswith(cfg + ":"), (bus, want, lines)
    # lockstep check: a broker that does not answer is one line naming url;
    # one that does, ok
    cfg = os.path.join(TMP, "check.ini")
    for url, rc in (("nats://127.0.0.1:%d" % port(), 1), (ns.url, 0)):
        with open(cfg, "w") as f:
            f.write("[rig]\nrate = 30\n[camera a]\nuri = test://\n[bus]\nurl = %s\nspool = %s/s\n" % (url, TMP))
        out = subprocess.run([LS, "check", cfg], capture_output=True, text=True, timeout=30)
        assert out.returncode == rc, (url, out.stderr)
        if rc:
            lines = out.stderr.strip().splitlines()
            assert len(lines) == 1 and re.match(re.escape(cfg) + r":5: \[bus\] url: no broker answers", lines[0]), lines


def after_each():
    while CLEANUP:
        try:
            CLEANUP.pop()()
        except Exception:
            pass


if __name__ == "__main__":
    rc = SUITE.run(FILTER, after_each)
    shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(rc)
