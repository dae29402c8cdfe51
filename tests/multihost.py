#!/usr/bin/env python3
"""Many hosts, one clock: a hub and three nodes, each lockstep in its own
network namespace (ip netns, veth pairs to a bridge in the hub's), the
hub's nats-server on its address. Nothing leaves the namespaces.

Each node has one test camera, serves it over RTSP (capture time in every
frame, RFC 6051) and has its clock offset on purpose through the test hook
LOCKSTEP_TEST_CLOCK_OFFSET_MS (+37, -120, +5 ms). The hub takes the three
streams as rtsp:// cameras and aligns them by slot like local ones.
  - [clock] source = net on the nodes (the hub's provide =): the offsets
    are corrected; after convergence the skew across hosts per set (p50,
    p99: goal p99 <= 1 ms) and the complete sets (goal >= 99.9 %) at the
    hub; the time to converge;
  - `lockstep coordinate start|stop` (the nodes wait with [bus]
    control = on): every node's first and last slot are the same;
  - a node killed with -9: the hub marks its camera missing within
    max-latency while the other two stay; the node comes back and its
    frames land in the same slots again;
  - source = system, no sync: the offsets show at the hub as each camera's
    distance from the slot;
  - a clock server that never answers: one line, and the rig runs with its
    frames marked unsynced.
Needs root (ip netns); skips otherwise. Prints TAP.

usage: multihost.py LOCKSTEP_BINARY REPO_ROOT [FILTER]
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import tap

LS = os.path.abspath(sys.argv[1])
ROOT = os.path.abspath(sys.argv[2])
FILTER = sys.argv[3] if len(sys.argv) > 3 else ""
TMP = tempfile.mkdtemp(prefix="lockstep-multihost-")
SUITE = tap.Suite()
test = SUITE.test
RATE = 30
OFFSETS = {"n1": 37, "n2": -120, "n3": 5}
TAG = "ls%d" % (os.getpid() % 100000)
NS = {"hub": TAG + "-hub", "n1": TAG + "-n1", "n2": TAG + "-n2", "n3": TAG + "-n3"}
ADDR = {"hub": "10.77.0.1", "n1": "10.77.0.11", "n2": "10.77.0.12", "n3": "10.77.0.13"}
PROCS = []


def sh(*cmd, check=True):
    return subprocess.run(list(cmd), check=check, capture_output=True, text=True)


def netns_up(p2p=False):
    """The namespaces; the nodes on a bridge in the hub's, or (p2p) each on
    a veth of its own to the hub (PTP: ptp4l cannot timestamp on a bridge):
    node i at 10.78.i.2, the hub at 10.78.i.1."""
    if os.geteuid() != 0:
        raise tap.SkipTest("needs root for ip netns")
    if not shutil.which("ip"):
        raise tap.SkipTest("no ip (iproute2)")
    for ns in NS.values():
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
    hub = NS["hub"]
    if p2p:
        for i, n in enumerate(("n1", "n2", "n3")):
            a, b = "%s-p%d" % (TAG, i), "%s-q%d" % (TAG, i)
            sh("ip", "link", "add", a, "type", "veth", "peer", "name", b)
            sh("ip", "link", "set", a, "netns", hub)
            sh("ip", "link", "set", b, "netns", NS[n])
            sh("ip", "-n", hub, "link", "set", a, "name", "p%d" % i)
            sh("ip", "-n", hub, "addr", "add", "10.78.%d.1/24" % i, "dev", "p%d" % i)
            sh("ip", "-n", hub, "link", "set", "p%d" % i, "up")
            sh("ip", "-n", NS[n], "link", "set", b, "name", "eth0")
            sh("ip", "-n", NS[n], "addr", "add", "10.78.%d.2/24" % i, "dev", "eth0")
            sh("ip", "-n", NS[n], "link", "set", "eth0", "up")
            sh("ip", "-n", NS[n], "route", "add", "224.0.0.0/4", "dev", "eth0")
        return
    sh("ip", "-n", hub, "link", "add", "br0", "type", "bridge")
    sh("ip", "-n", hub, "addr", "add", ADDR["hub"] + "/24", "dev", "br0")
    sh("ip", "-n", hub, "link", "set", "br0", "up")
    for i, n in enumerate(("n1", "n2", "n3")):
        a, b = "%s-h%d" % (TAG, i), "%s-n%d" % (TAG, i)
        sh("ip", "link", "add", a, "type", "veth", "peer", "name", b)
        sh("ip", "link", "set", a, "netns", hub)
        sh("ip", "link", "set", b, "netns", NS[n])
        sh("ip", "-n", hub, "link", "set", a, "master", "br0")
        sh("ip", "-n", hub, "link", "set", a, "up")
        sh("ip", "-n", NS[n], "link", "set", b, "name", "eth0")
        sh("ip", "-n", NS[n], "addr", "add", ADDR[n] + "/24", "dev", "eth0")
        sh("ip", "-n", NS[n], "link", "set", "eth0", "up")
        # multicast (PTP) out of eth0
        sh("ip", "-n", NS[n], "route", "add", "224.0.0.0/4", "dev", "eth0", check=False)
    sh("ip", "-n", hub, "route", "add", "224.0.0.0/4", "dev", "br0", check=False)


def netns_down():
    for p in PROCS:
        if p.poll() is None:
            p.kill()
            p.wait()
    PROCS.clear()
    for ns in NS.values():
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


class Proc:
    """A command in a namespace, stderr kept in a file."""

    def __init__(self, where, name, argv, env=None):
        self.name = name
        self.err = os.path.join(TMP, name + ".err")
        self.p = subprocess.Popen(["ip", "netns", "exec", NS[where]] + argv, stdout=subprocess.DEVNULL,
                                  stderr=open(self.err, "w"), env=dict(os.environ, **(env or {})))
        PROCS.append(self.p)

    def text(self):
        with open(self.err) as f:
            return f.read()

    def wait_text(self, needle, timeout):
        until = time.monotonic() + timeout
        while time.monotonic() < until:
            if needle in self.text():
                return True
            if self.p.poll() is not None:
                return False
            time.sleep(0.1)
        return False

    def stop(self, timeout=20):
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


def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text.replace("@TMP@", TMP))
    return path


def lockstep(where, name, text, env=None):
    cfg = write(name + ".ini", text)
    stats = os.path.join(TMP, name + ".stats.jsonl")
    return Proc(where, name, [LS, "run", cfg, "--stats-json", stats], env), stats


def node_ini(n, clock, control=True):
    return ("[rig]\nrate = %d\n[camera %s]\nuri = test://?fps=%d&width=160&height=120&pattern=clock\n"
            "[output rtsp]\nlisten = %s:8554\npassword = pw\nmosaic = false\nbitrate-kbps = 300\n"
            "[clock]\n%s\n"
            "[bus]\nurl = nats://%s:4222\nname = %s\nsubject-prefix = lockstep.site\nstream = SITE\n"
            "spool = @TMP@/%s.spool\ncontrol = %s\n"
            % (RATE, n, RATE, ADDR[n], clock, ADDR["hub"], n, n, "on" if control else "off"))


def hub_ini(extra=""):
    cams = "".join("[camera %s]\nuri = rtsp://lockstep:pw@%s:8554/%s#transport=tcp&latency=100\n" % (n, ADDR[n], n)
                   for n in ("n1", "n2", "n3"))
    return ("[rig]\nrate = %d\nmax-latency-ms = 400\nstartup-ms = 15000\n%s"
            "[clock]\nprovide = %s:5556\n%s" % (RATE, cams, ADDR["hub"], extra))


def records(stats):
    with open(stats) as f:
        return [json.loads(l) for l in f if l.strip()]


def coordinate(cmd, expect=("n1", "n2", "n3")):
    cfg = write("coord.ini", "[rig]\nrate = 30\n[camera x]\nuri = test://\n[bus]\nurl = nats://%s:4222\n"
                "subject-prefix = lockstep.site\n" % ADDR["hub"])
    r = subprocess.run(["ip", "netns", "exec", NS["hub"], LS, "coordinate", cmd, cfg, "--wait-s", "1.5"],
                       capture_output=True, text=True, timeout=30)
    answers = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
    assert r.returncode == 0 and sorted(a["rig"] for a in answers) == sorted(expect), (r.stdout, r.stderr)
    assert all(a["ok"] for a in answers), answers
    assert len({a["at_ns"] for a in answers}) == 1, answers
    return answers[0]["at_ns"]


def consume_site():
    tool = os.path.join(os.path.dirname(LS), "tests", "bus-tool")
    r = subprocess.run(["ip", "netns", "exec", NS["hub"], tool, "consume", "nats://%s:4222" % ADDR["hub"], "SITE",
                        "lockstep.site.frameset", "--idle-s", "2", "--timeout-s", "60"],
                       capture_output=True, text=True, timeout=90)
    assert r.returncode == 0, r.stderr
    return [json.loads(l)["data"] for l in r.stdout.splitlines() if l.strip()]


def skew_across(per_sec, secs):
    """Per second of @secs, the spread of the nodes' errors against
    CLOCK_REALTIME (@per_sec: second -> node -> realtime_offset_us): the
    p50 of the spread of their means, and the sorted spreads of their
    extremes (min to max). The seconds over 1 ms are logged."""
    mean_skew = sorted(max(v["mean"] for v in per_sec[k].values()) - min(v["mean"] for v in per_sec[k].values())
                       for k in secs)
    worst = sorted(max(v["max"] for v in per_sec[k].values()) - min(v["min"] for v in per_sec[k].values())
                   for k in secs)
    for k in secs:
        v = per_sec[k]
        if max(x["max"] for x in v.values()) - min(x["min"] for x in v.values()) > 1000:
            print("# %s: %s" % (k, json.dumps(v)))
    return mean_skew[len(mean_skew) // 2], worst


def converged_s(recs):
    """The seconds from a node's start until its error stays within 1 ms
    (None: it never did)."""
    errs = [r["clock"].get("realtime_offset_us") for r in recs if not r.get("final")]
    ok = [e is not None and max(abs(e["min"]), abs(e["max"])) < 1000 for e in errs]
    return next((i + 1 for i in range(len(ok)) if all(ok[i:])), None)


def check_corrected(corr, p99):
    """Each node's correction undoes its offset; the skew's goal said, and
    its bound asserted."""
    for n, off in OFFSETS.items():
        assert abs(corr[n] + off) < 2.0, (n, corr, OFFSETS)
    # the goal is p99 <= 1 ms (said in the output); a loaded CI host gets 2 ms
    print("# goal p99 <= 1 ms: %s" % ("met" if p99 <= 1000 else "MISSED"))
    assert p99 <= 2000, "skew p99 %.0f us across hosts" % p99


@test
def net_clock_corrects_offsets_coordinate_and_kill():
    if not shutil.which("nats-server"):
        raise tap.SkipTest("no nats-server (scripts/setup.sh)")
    netns_up()
    nats = Proc("hub", "nats", ["nats-server", "-js", "-a", ADDR["hub"], "-p", "4222", "-sd",
                                os.path.join(TMP, "nats")])
    time.sleep(0.5)
    hub, hub_stats = lockstep("hub", "hub", hub_ini())
    assert hub.wait_text("serving this rig's clock", 10), hub.text()
    nodes = {}
    for n, off in OFFSETS.items():
        nodes[n] = lockstep(n, n, node_ini(n, "source = net\nserver = %s:5556" % ADDR["hub"]),
                            {"LOCKSTEP_TEST_CLOCK_OFFSET_MS": str(off)})
    for n, (p, _) in nodes.items():
        assert p.wait_text("synced, offset", 15), p.text()
        assert p.wait_text("waiting for a start", 10), p.text()
    # the metadata hub: the nodes' framesets joined per slot, from the bus
    jcfg = write("join.ini", "[rig]\nrate = %d\n[camera x]\nuri = test://\n[bus]\nurl = nats://%s:4222\n"
                 "subject-prefix = lockstep.site\n" % (RATE, ADDR["hub"]))
    jstats, jout = os.path.join(TMP, "join.stats.jsonl"), os.path.join(TMP, "joined.jsonl")
    join = Proc("hub", "join", [LS, "join", jcfg, "--nodes", "n1,n2,n3", "--max-latency-ms", "300",
                                "--stats-json", jstats, "--output", jout])
    assert join.wait_text("lockstep join: 3 nodes", 10), join.text()
    start_ns = coordinate("start")
    time.sleep(20)
    # after the first 6 s: the skew across hosts, from each node's error
    # against CLOCK_REALTIME (one kernel: one truth; sampled every 50 ms,
    # per second min/mean/max), and the complete sets at the hub
    recs = [r for r in records(hub_stats) if not r.get("final")]
    steady = [r for r in recs if r["slot"] * 1e9 / RATE >= start_ns + 6e9]
    assert len(steady) >= 5, [r["slot"] for r in recs]
    sets = steady[-1]["sets"] - steady[0]["sets"]
    complete = steady[-1]["complete"] - steady[0]["complete"]
    per_sec = {}
    for n, (p, st) in nodes.items():
        for r in records(st):
            o = r["clock"].get("realtime_offset_us")
            if o and r["clock"]["synced"] and r["sets"] > 0 and not r.get("final"):
                per_sec.setdefault(r["time"][:19], {})[n] = o
    secs = sorted(k for k, v in per_sec.items() if len(v) == 3)[1:]
    assert len(secs) >= 5, per_sec
    p50, worst_skew = skew_across(per_sec, secs)
    p99 = worst_skew[min(len(worst_skew) - 1, int(0.99 * len(worst_skew)))]
    offs = {n: records(st)[-1]["clock"]["offset_ms"] for n, (p, st) in nodes.items()}
    delays = {n: steady[-1]["cameras"][n]["delay_ms"] for n in OFFSETS}
    converge_s = max(converged_s(records(st)) or 99 for p, st in nodes.values())
    print("# converged within %d s; corrections %s ms; skew across hosts over %d s: p50 %.0f us, p99 (worst "
          "sample pair) %.0f us; at the hub: %d of %d sets complete (%.2f %%), delays %s ms"
          % (converge_s, offs, len(secs), p50, p99, complete, sets, 100.0 * complete / max(sets, 1), delays))
    check_corrected(offs, p99)
    assert complete >= 0.999 * sets and sets >= 10 * RATE, (complete, sets)
    assert max(delays.values()) - min(delays.values()) < 5, delays

    # the metadata join over the same seconds
    joined = [json.loads(l) for l in open(jout) if l.strip()]
    jsteady = [x for x in joined if x["slot_ns"] >= start_ns + 6e9]
    jcomplete = sum(x["complete"] for x in jsteady)
    print("# metadata join: %d of %d slots complete (%.2f %%), 3 nodes x 1 camera each"
          % (jcomplete, len(jsteady), 100.0 * jcomplete / max(len(jsteady), 1)))
    assert len(jsteady) >= 10 * RATE and jcomplete >= 0.999 * len(jsteady), (jcomplete, len(jsteady))
    assert [x["n"] for x in joined] == list(range(joined[0]["n"], joined[-1]["n"] + 1))

    # kill -9 node n2: the hub marks it missing, n1 and n3 go on
    nodes["n2"][0].kill()
    time.sleep(5)
    before = records(hub_stats)[-1]
    jb = records(jstats)[-1]
    time.sleep(3)
    after = records(hub_stats)[-1]
    ja = records(jstats)[-1]
    jmiss = {n: ja["nodes"][n]["missing"] - jb["nodes"][n]["missing"] for n in OFFSETS}
    assert jmiss["n2"] >= 2 * RATE and jmiss["n1"] == 0 and jmiss["n3"] == 0, jmiss
    miss = after["missing"]["n2"] - before["missing"]["n2"]
    ds = after["sets"] - before["sets"]
    assert ds >= 2 * RATE and miss >= ds - 2, (ds, miss)
    assert after["missing"]["n1"] == before["missing"]["n1"] and after["missing"]["n3"] == before["missing"]["n3"], \
        (before["missing"], after["missing"])
    # it comes back (not waiting for a start this time) and lands in the same slots
    nodes["n2b"] = lockstep("n2", "n2b", node_ini("n2", "source = net\nserver = %s:5556" % ADDR["hub"], control=False)
                            .replace("name = n2\n", "name = n2b\n"), {"LOCKSTEP_TEST_CLOCK_OFFSET_MS": "-120"})
    assert nodes["n2b"][0].wait_text("synced, offset", 15), nodes["n2b"][0].text()
    time.sleep(9)
    a, b = records(hub_stats)[-4], records(hub_stats)[-1]
    back = (b["complete"] - a["complete"], b["sets"] - a["sets"])
    assert back[0] >= 0.99 * back[1], back
    print("# n2 killed: %d of %d sets without it, n1 and n3 in every one; back: %d of %d complete" % (
        miss, ds, back[0], back[1]))

    # coordinate stop: the nodes that obey it stop at one slot
    stop_ns = coordinate("stop", ("n1", "n3"))
    for n in ("n1", "n3"):
        assert nodes[n][0].p.wait(timeout=20) == 0, nodes[n][0].text()
    nodes["n2b"][0].stop()
    hub.stop()
    join.stop()
    fs = consume_site()
    first_last = {}
    for n in ("n1", "n2", "n3"):
        ns = [m["n"] for m in fs if m["rig"] == n]
        first_last[n] = (ns[0], ns[-1]) if ns else None
    n0 = -(-start_ns * RATE // 1000000000)
    assert first_last["n1"][0] == first_last["n2"][0] == first_last["n3"][0] == n0, (first_last, n0)
    assert first_last["n1"][1] == first_last["n3"][1] == stop_ns * RATE // 1000000000, (first_last, stop_ns)
    print("# first slot %d on every node (the start's); last slot %d on n1 and n3 (the stop's)"
          % (n0, first_last["n1"][1]))
    nats.kill()


@test
def system_clock_offsets_show_as_skew():
    netns_up()
    hub, hub_stats = lockstep("hub", "hubs", hub_ini())
    assert hub.wait_text("serving this rig's clock", 10), hub.text()
    nodes = {}
    for n, off in OFFSETS.items():
        nodes[n] = lockstep(n, n + "s", node_ini(n, "source = system", control=False)
                            .replace("[bus]", "[busx]").split("[busx]")[0], {"LOCKSTEP_TEST_CLOCK_OFFSET_MS": str(off)})
    time.sleep(14)
    recs = [r for r in records(hub_stats) if not r.get("final")]
    errs = {n: records(st)[-2]["clock"]["realtime_offset_us"]["mean"] / 1000 for n, (p, st) in nodes.items()}
    for p, _ in nodes.values():
        p.stop()
    hub.stop()
    # at the hub each camera's delay (arrival - capture time) carries its
    # host's clock error; the nodes' own errors against CLOCK_REALTIME too
    delays = {n: [r["cameras"][n]["delay_ms"] for r in recs[-5:] if r["cameras"][n]["delay_ms"] is not None]
              for n in OFFSETS}
    med = {n: sorted(v)[len(v) // 2] for n, v in delays.items() if v}
    print("# nodes' clock errors %s ms; skew across hosts %.0f ms; at the hub, delays %s ms"
          % (errs, max(errs.values()) - min(errs.values()), med))
    assert len(med) == 3, delays
    for n, off in OFFSETS.items():
        assert abs(errs[n] - off) < 0.5, (n, errs[n], off)
        # n3 (+5) is the reference: a node ahead by x ms shows x ms less delay
        assert abs((med[n] - med["n3"]) + (off - OFFSETS["n3"])) < 5, (n, med, OFFSETS)


def node_errors(source, server_proc):
    """Three nodes (one small test camera each, offsets on purpose) on
    [clock] SOURCE for 14 s: each node's error against CLOCK_REALTIME per
    second after it synced; returns (corrections, p50, p99, converge_s)."""
    nodes = {}
    for n, off in OFFSETS.items():
        nodes[n] = lockstep(n, n + source.split()[2], "[rig]\nrate = 30\n[camera %s]\nuri = test://?fps=30&width=64&height=48\n"
                            "[clock]\n%s\nsync-wait-s = 20\n" % (n, source), {"LOCKSTEP_TEST_CLOCK_OFFSET_MS": str(off)})
    for n, (p, _) in nodes.items():
        assert p.wait_text("synced, offset", 25), (p.text(), server_proc.text())
    time.sleep(14)
    for p, _ in nodes.values():
        assert p.stop() == 0, p.text()
    per_sec, conv, corr = {}, {}, {}
    for n, (p, st) in nodes.items():
        recs = [r for r in records(st) if not r.get("final")]
        conv[n] = converged_s(recs)
        corr[n] = recs[-1]["clock"]["offset_ms"]
        for r in recs[-8:]:
            per_sec.setdefault(r["time"][:19], {})[n] = r["clock"]["realtime_offset_us"]
    secs = [k for k, v in per_sec.items() if len(v) == 3]
    assert len(secs) >= 5, per_sec
    p50, worst = skew_across(per_sec, secs)
    return corr, p50, worst[-1], max(c or 99 for c in conv.values())


@test
def ntp_source_corrects_offsets():
    """[clock] source = ntp against chronyd serving the hub's clock (-x: it
    never touches the system clock)."""
    if not shutil.which("chronyd"):
        raise tap.SkipTest("no chronyd (scripts/setup.sh installs chrony)")
    netns_up()
    conf = write("chrony.conf", "local stratum 1\nallow 10.77.0.0/24\nbindaddress %s\nport 123\ncmdport 0\n"
                 "pidfile @TMP@/chronyd.pid\ndriftfile @TMP@/chrony.drift\n" % ADDR["hub"])
    srv = Proc("hub", "chronyd", ["chronyd", "-x", "-d", "-f", conf])
    time.sleep(1)
    corr, p50, p99, conv = node_errors("source = ntp\nserver = %s" % ADDR["hub"], srv)
    print("# ntp (chronyd): corrections %s ms; skew across hosts p50 %.0f us, worst %.0f us; converged within %d s"
          % (corr, p50, p99, conv))
    check_corrected(corr, p99)
    srv.kill()


@test
def ptp_source_corrects_offsets():
    """[clock] source = ptp (GstPtpClock, gst-ptp-helper) against ptp4l as
    grandmaster on the hub's bridge, software timestamps."""
    if not shutil.which("ptp4l"):
        raise tap.SkipTest("no ptp4l (scripts/setup.sh installs linuxptp)")
    netns_up(p2p=True)
    conf = write("ptp4l.conf", "[global]\nmasterOnly 1\ntime_stamping software\npriority1 1\n"
                 "logSyncInterval -3\nlogAnnounceInterval -2\nannounceReceiptTimeout 2\n")
    # a boundary clock of three ports, one per node
    srv = Proc("hub", "ptp4l", ["ptp4l", "-f", conf, "-i", "p0", "-i", "p1", "-i", "p2", "-m"])
    time.sleep(1)
    corr, p50, p99, conv = node_errors("source = ptp\ndomain = 0\ninterfaces = eth0", srv)
    print("# ptp (ptp4l, software timestamps): corrections %s ms; skew across hosts p50 %.0f us, worst %.0f us; "
          "converged within %d s" % (corr, p50, p99, conv))
    check_corrected(corr, p99)
    srv.kill()


@test
def unreachable_clock_server_runs_unsynced():
    netns_up()
    p, stats = lockstep("n1", "lonely", "[rig]\nrate = 30\n[camera a]\nuri = test://?fps=30&width=64&height=48\n"
                        "[clock]\nsource = net\nserver = 10.77.0.99:5556\nsync-wait-s = 2\n")
    assert p.wait_text("no sync after 2 s", 10), p.text()
    time.sleep(3)
    assert p.stop() == 0, p.text()
    recs = records(stats)
    lines = [l for l in p.text().splitlines() if "[clock]" in l]
    assert len(lines) == 1, lines
    last = recs[-1]
    assert last["clock"]["synced"] is False and last["sets"] >= 2 * RATE, last["clock"]
    assert last["cameras"]["a"]["unsynced"] >= 2 * RATE, last["cameras"]["a"]
    print("# %s; %d frames marked unsynced" % (lines[0], last["cameras"]["a"]["unsynced"]))


if __name__ == "__main__":
    rc = SUITE.run(FILTER, netns_down)
    netns_down()
    shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(rc)
