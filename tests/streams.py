#!/usr/bin/env python3
"""Streams out: lockstep's HTTP server ([server]) asked by a real client
(urllib, plain and over TLS), and its RTSP server ([output rtsp]) read by real clients
(another lockstep, ffprobe, a raw RTSP exchange), all on 127.0.0.1:
  - the round trip: rig A serves its test:// cameras, rig B reads
    rtsp://127.0.0.1:PORT/a; every frame B writes carries the capture time
    A gave it (within 1 ms) and sits in the same slot n;
  - the SDP announces the RFC 6051 NTP-64 header extension; /mosaic plays
    at the configured size; every mount is encoded once however many
    clients watch (one media session for two clients);
  - Basic auth: 401 without credentials, 200 with them; a server on an
    address other than loopback without a password is refused at load;
  - a port already in use stops the start with one line naming it.
Prints TAP.

usage: streams.py LOCKSTEP_BINARY [FILTER]
"""
import base64
import json
import ssl
import urllib.error
import urllib.request
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
import stamp
import tap

LS = os.path.abspath(sys.argv[1])
HERE = os.path.dirname(os.path.abspath(__file__))
FILTER = sys.argv[2] if len(sys.argv) > 2 else ""
TMP = tempfile.mkdtemp(prefix="lockstep-streams-")
SUITE = tap.Suite()
test = SUITE.test
RATE = 30
PERIOD_NS = 10**9 // RATE
_port = [36000 + os.getpid() % 20000]


def port():
    _port[0] += 1
    return _port[0]


class Rig(lsrun.RigDir):
    """lockstep run of a config text (@DIR@: the rig's directory)."""

    def __init__(self, name, text):
        super().__init__(LS, TMP, name, text)

    def wait_line(self, pattern, timeout):
        return super().wait_line(pattern, 0.0, timeout) is not None


RIGS = []


def rig(name, text):
    r = Rig(name, text)
    RIGS.append(r)
    return r


def after_each():
    while RIGS:
        RIGS.pop().kill()


def server_rig(name, p, extra="", cams=None):
    cams = cams or "[camera a]\nuri = test://?fps=30&width=320&height=180&pattern=clock\n" \
                   "[camera b]\nuri = test://?fps=30&width=320&height=180&pattern=snow\n"
    r = rig(name, "[rig]\nrate = %d\n%s[output rtsp]\nlisten = 127.0.0.1:%d\nwidth = 640\nheight = 360\n%s\n"
            "[output file]\ncamera = a\nfile = @DIR@/a.y4m\n" % (RATE, cams, p, extra))
    assert r.wait_line(r"output rtsp: serving", 15), "no server:\n" + r.text()
    return r


def rtsp_request(p, method, path, cseq=1, auth=None, extra=""):
    """One RTSP request on a new connection to 127.0.0.1:p; the status code
    and the whole answer (headers and body)."""
    s = socket.create_connection(("127.0.0.1", p), timeout=10)
    req = "%s rtsp://127.0.0.1:%d%s RTSP/1.0\r\nCSeq: %d\r\n" % (method, p, path, cseq)
    if auth:
        req += "Authorization: Basic %s\r\n" % base64.b64encode(auth.encode()).decode()
    req += extra + "\r\n"
    s.sendall(req.encode())
    data = b""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep:
            m = re.search(rb"Content-Length:\s*(\d+)", head, re.I)
            if len(body) >= (int(m.group(1)) if m else 0):
                break
    s.close()
    text = data.decode(errors="replace")
    m = re.match(r"RTSP/1.0 (\d+)", text)
    assert m, "no RTSP answer to %s %s: %r" % (method, path, text[:200])
    return int(m.group(1)), text


def sidecar(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


@test
def rtsp_round_trip_keeps_capture_time_and_slot():
    p = port()
    a = server_rig("rt-a", p)
    b = rig("rt-b", "[rig]\nrate = %d\n[camera x]\nuri = rtsp://127.0.0.1:%d/a#transport=tcp&latency=100\n"
            "[output file]\ncamera = x\nfile = @DIR@/x.y4m\n" % (RATE, p))
    time.sleep(8)
    b.stop()
    a.stop()
    sent = sidecar(os.path.join(a.dir, "a.y4m.frames.jsonl"))
    got = sidecar(os.path.join(b.dir, "x.y4m.frames.jsonl"))
    assert len(got) >= 4 * RATE, "B wrote %d frames of rtsp://.../a in 8 s:\n%s\nA (the server):\n%s" % (
        len(got), b.text()[-2000:], a.text()[-1500:])
    by_slot = {f["slot"]: f["capture_ns"] for f in sent}
    matched, off = 0, []
    for f in got:
        t = by_slot.get(f["slot"])
        if t is None:
            continue
        matched += 1
        off.append(abs(f["capture_ns"] - t))
    # every frame B wrote is a frame A captured, in the same slot
    assert matched >= len(got) * 0.98, "%d of %d frames of B in a slot A wrote" % (matched, len(got))
    worst = max(off)
    assert worst <= 1_000_000, "capture times differ by up to %.3f ms (slots equal)" % (worst / 1e6)
    # the picture itself says which slot it shows (pattern=clock): after
    # H.264 and the network, every frame's blocks read back as its slot
    # and capture time (µs)
    read = [stamp.read(*fr) for fr in stamp.y4m_frames(os.path.join(b.dir, "x.y4m"))]
    assert len(read) == len(got), (len(read), len(got))
    bad = [(r, f) for r, f in zip(read, got) if r != (f["slot"], f["capture_ns"] // 1000)]
    assert not bad, "%d of %d pictures show another slot or time, e.g. %s" % (len(bad), len(read), bad[:3])
    print("# %d frames back, same slot, capture time within %.6f ms; every picture's blocks read back as its "
          "slot" % (matched, worst / 1e6))


@test
def sdp_announces_ntp64_and_mosaic_plays():
    p = port()
    a = server_rig("sdp", p)
    code, text = rtsp_request(p, "DESCRIBE", "/a", extra="Accept: application/sdp\r\n")
    assert code == 200, text
    assert re.search(r"a=extmap:\d+ urn:ietf:params:rtp-hdrext:ntp-64", text), "no NTP-64 extmap in:\n" + text
    assert "H264" in text, text
    out = subprocess.run(["ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-select_streams", "v:0",
                          "-show_entries", "stream=codec_name,width,height,profile", "-of", "json",
                          "rtsp://127.0.0.1:%d/mosaic" % p], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    st = json.loads(out.stdout)["streams"][0]
    assert (st["codec_name"], st["width"], st["height"]) == ("h264", 640, 360), st
    assert "Baseline" in st.get("profile", ""), st
    code, _ = rtsp_request(p, "DESCRIBE", "/nope")
    assert code == 404, code
    a.stop()


@test
def one_encoder_for_two_clients():
    p = port()
    a = server_rig("shared", p)
    url = "rtsp://127.0.0.1:%d/b" % p
    clients = [subprocess.Popen(["gst-launch-1.0", "-q", "rtspsrc", "location=" + url, "protocols=tcp", "!",
                                 "rtph264depay", "!", "fakesink"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL) for _ in range(2)]
    try:
        time.sleep(5)
        for c in clients:
            assert c.poll() is None, "a client ended early"
    finally:
        for c in clients:
            c.send_signal(signal.SIGINT)
            try:
                c.wait(timeout=10)
            except subprocess.TimeoutExpired:
                c.kill()
    stats = a.stop()
    rtsp = [o for o in stats[-1]["outputs"].values() if o.get("mounts")]
    assert rtsp, stats[-1]
    m = rtsp[0]["mounts"]
    assert m["b"]["sessions"] == 1, "mount b made %d medias for 2 clients: %s" % (m["b"]["sessions"], m)
    assert m["b"]["sent"] >= 3 * RATE, m
    assert m["a"]["sessions"] == 0 and m["a"]["sent"] == 0, "a mount nobody asked for was encoded: %s" % m


def client(url):
    """tests/rtsp_client.py URL: a GStreamer RTSP client printing frames/s."""
    c = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "rtsp_client.py"), url], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    c.rates = []
    c.reader = threading.Thread(target=lambda: [c.rates.append(int(l.split()[1])) for l in c.stdout
                                                if l.startswith("fps ")], daemon=True)
    c.reader.start()
    return c


@test
def a_killed_viewer_leaves_the_others_rate_unchanged():
    p = port()
    a = server_rig("kill", p)
    url = "rtsp://127.0.0.1:%d/a" % p
    keep, doomed = client(url), client(url)
    try:
        time.sleep(6)
        before = list(keep.rates)
        os.kill(doomed.pid, signal.SIGKILL)  # no TEARDOWN: the socket just dies
        doomed.wait()
        time.sleep(6)
        after = keep.rates[len(before):]
    finally:
        keep.kill()
        keep.wait()
    stats = a.stop()
    # the first seconds connect and wait for a keyframe; compare settled seconds
    b, f = before[2:], after[1:]
    assert len(b) >= 3 and len(f) >= 4, (before, after)
    rb, rf = sum(b) / len(b), sum(f) / len(f)
    assert rb >= RATE * 0.9, "before the kill: %.1f fps %s" % (rb, before)
    assert abs(rf - rb) <= RATE * 0.1, "the other viewer went from %.1f to %.1f fps: %s / %s" % (rb, rf, before, after)
    assert min(f) >= RATE * 0.8, "a second below 80%% after the kill: %s" % after
    m = [o for o in stats[-1]["outputs"].values() if o.get("mounts")][0]["mounts"]
    assert m["a"]["sessions"] == 1, m
    print("# the other viewer: %.1f fps before, %.1f fps after the kill" % (rb, rf))


@test
def basic_auth_and_loopback_rule():
    p = port()
    a = server_rig("auth", p, extra="password = s3cret\n")
    code, _ = rtsp_request(p, "DESCRIBE", "/a")
    assert code == 401, "no credentials: %d" % code
    code, _ = rtsp_request(p, "DESCRIBE", "/a", auth="lockstep:wrong")
    assert code == 401, "wrong password: %d" % code
    code, text = rtsp_request(p, "DESCRIBE", "/a", auth="lockstep:s3cret")
    assert code == 200, text
    a.stop()
    cfg = os.path.join(TMP, "open.ini")
    with open(cfg, "w") as f:
        f.write("[rig]\nrate = 30\n[camera a]\nuri = test://\n[output rtsp]\nlisten = 0.0.0.0:%d\n" % port())
    out = subprocess.run([LS, "check", cfg], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and re.search(r"open.ini:6: \[output rtsp\] listen = 0.0.0.0:\d+ is not a loopback "
                                         r"address: set password", lines[0]), out.stderr


@test
def port_in_use_is_one_line():
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    p = port()
    blocker.bind(("127.0.0.1", p))
    blocker.listen(1)
    try:
        cfg = os.path.join(TMP, "busy.ini")
        with open(cfg, "w") as f:
            f.write("[rig]\nrate = 30\n[camera a]\nuri = test://\n[output rtsp]\nlisten = 127.0.0.1:%d\n" % p)
        out = subprocess.run([LS, "run", cfg, "--duration", "2"], capture_output=True, text=True, timeout=60)
    finally:
        blocker.close()
    assert out.returncode != 0, out.stderr
    lines = [l for l in out.stderr.strip().splitlines() if l]
    assert len(lines) == 1, out.stderr
    assert re.search(r"busy.ini:5: \[output rtsp\] listen = 127.0.0.1:%d: cannot listen: .*(in use|Address)" % p,
                     lines[0]), lines[0]


def http(url, token=None, method="GET", header=True, tls=False):
    """(status, headers, JSON body) of one request; errors are answers too."""
    req = urllib.request.Request(url, method=method)
    if token and header:
        req.add_header("Authorization", "Bearer " + token)
    ctx = None
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
            return r.status, r.headers, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.headers, json.loads(e.read() or b"null")


def http_rig(name, p, extra=""):
    r = rig(name, "[rig]\nrate = %d\n[camera a]\nuri = test://?fps=30&width=160&height=90\n"
            "[camera b]\nuri = test://?fps=30&width=160&height=90\n[server]\nlisten = 127.0.0.1:%d\n%s" % (RATE, p, extra))
    assert r.wait_line(r"server: http", 15), "no server:\n" + r.text()
    return r


@test
def http_status_and_error_shape():
    p = port()
    a = http_rig("http", p)
    url = "http://127.0.0.1:%d" % p
    time.sleep(1.5)  # a first per-second record
    code, hdr, body = http(url + "/api/v1/status")
    assert code == 200 and hdr["Content-Type"].startswith("application/json"), (code, hdr)
    assert body["version"] == 1 and [c["name"] for c in body["cameras"]] == ["a", "b"], body
    assert body["stats"] and body["stats"]["cameras"]["a"]["state"] == "running", body["stats"]
    for path, method, want in (("/api/v1/nope", "GET", 404), ("/nope", "GET", 404), ("/api/v1/status", "POST", 405),
                               ("/api/v1/status", "DELETE", 405)):
        code, hdr, body = http(url + path, method=method)
        assert code == want, (path, method, code)
        assert body["version"] == 1 and body["error"], body
    assert hdr["Allow"] == "GET, HEAD", dict(hdr)
    stats = a.stop()
    assert stats[-1]["outputs"]["server"]["requests"] >= 5, stats[-1]["outputs"]


@test
def http_token_and_tls():
    p = port()
    a = http_rig("token", p, "token = s3cret\n")
    url = "http://127.0.0.1:%d/api/v1/status" % p
    code, hdr, body = http(url)
    assert code == 401 and "Bearer" in hdr["WWW-Authenticate"] and body["error"], (code, dict(hdr), body)
    assert http(url, token="wrong")[0] == 401
    assert http(url, token="s3cre")[0] == 401
    assert http(url, token="s3cret")[0] == 200
    assert http(url + "?token=s3cret")[0] == 200
    assert http(url + "?token=nope")[0] == 401
    stats = a.stop()
    assert stats[-1]["outputs"]["server"]["unauthorized"] == 4, stats[-1]["outputs"]
    # TLS with a self-signed certificate made for the test
    d = os.path.join(TMP, "certs")
    os.makedirs(d)
    cert, key = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-keyout", key, "-out", cert], check=True, capture_output=True, timeout=60)
    p = port()
    b = http_rig("tls", p, "cert = %s\nkey = %s\n" % (cert, key))
    assert http("https://127.0.0.1:%d/api/v1/status" % p, tls=True)[0] == 200
    try:
        urllib.request.urlopen("http://127.0.0.1:%d/api/v1/status" % p, timeout=5)
        raise AssertionError("plain HTTP answered on the TLS port")
    except (urllib.error.URLError, ConnectionError, OSError) as e:
        assert not isinstance(e, urllib.error.HTTPError), e
    b.stop()


@test
def http_bad_config_and_busy_port_are_one_line():
    cases = [("[server]\nlisten = 0.0.0.0:8080\n",
              r"t.ini:6: \[server\] listen = 0.0.0.0:8080 is not a loopback address: set token = \(Bearer\) or cert"),
             ("[server]\ncert = /tmp/c.pem\n", r"t.ini:5: \[server\] cert needs key too"),
             ("[server]\nlisten = localhost\n", r"t.ini:6: \[server\] listen: expected HOST:PORT"),
             ("[server]\ntoken =\n", r"t.ini:6: \[server\] token: needs a token")]
    for body, want in cases:
        cfg = os.path.join(TMP, "t.ini")
        with open(cfg, "w") as f:
            f.write("[rig]\nrate = 30\n[camera a]\nuri = test://\n" + body)
        out = subprocess.run([LS, "check", cfg], capture_output=True, text=True, timeout=30)
        lines = out.stderr.strip().splitlines()
        assert out.returncode != 0 and len(lines) == 1 and re.search(want, lines[0]), (body, out.stderr)
    # a token makes any address acceptable (checked, not bound)
    with open(cfg, "w") as f:
        f.write("[rig]\nrate = 30\n[camera a]\nuri = test://\n[server]\nlisten = 0.0.0.0:8080\ntoken = x\n")
    out = subprocess.run([LS, "check", cfg], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    blocker = socket.socket()
    p = port()
    blocker.bind(("127.0.0.1", p))
    blocker.listen(1)
    try:
        with open(cfg, "w") as f:
            f.write("[rig]\nrate = 30\n[camera a]\nuri = test://\n[server]\nlisten = 127.0.0.1:%d\n" % p)
        out = subprocess.run([LS, "run", cfg, "--duration", "2"], capture_output=True, text=True, timeout=60)
    finally:
        blocker.close()
    lines = [l for l in out.stderr.strip().splitlines() if l]
    assert out.returncode != 0 and len(lines) == 1, out.stderr
    assert re.search(r"t.ini:5: \[server\] listen = 127.0.0.1:%d: cannot listen: " % p, lines[0]), lines[0]


if __name__ == "__main__":
    try:
        rc = SUITE.run(FILTER, after_each=after_each)
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(rc)
