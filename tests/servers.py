"""Real servers and senders the end-to-end tests start on loopback."""
import os
import socket
import struct
import subprocess
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def rtsp_camera(port, keyint=45, fps=30, size="320x240"):
    """tests/rtsp_server.py (GStreamer's RTSP server, run by Debian's
    python3, which has PyGObject) serving rtsp://127.0.0.1:PORT/cam; returns
    the process once it listens. Stop it with .terminate()."""
    err = tempfile.TemporaryFile(mode="w+")  # a file: a chatty server never blocks on a full pipe
    p = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "rtsp_server.py"), str(port), str(keyint),
                          str(fps), size], stdout=subprocess.PIPE, stderr=err, text=True)
    line = p.stdout.readline().strip()
    if line != "ready":
        p.kill()
        p.wait()
        err.seek(0)
        raise AssertionError("the RTSP server did not start (scripts/setup.sh installs "
                             "gir1.2-gst-rtsp-server-1.0): " + err.read().strip())
    return p


def rtp_sender(port, width=320, height=240, fps=30, keyint=45, bframes=False):
    """A network camera: gst-launch sending x264 over RTP to
    127.0.0.1:PORT, a keyframe every KEYINT frames, B-frames only when
    asked (tune=zerolatency has none). Stop it with .terminate()."""
    tune = ["bframes=2", "b-adapt=false"] if bframes else ["tune=zerolatency"]
    return subprocess.Popen(["gst-launch-1.0", "-q", "videotestsrc", "is-live=true", "pattern=ball", "!",
                             "video/x-raw,width=%d,height=%d,framerate=%d/1" % (width, height, fps), "!",
                             "x264enc"] + tune + ["speed-preset=ultrafast", "key-int-max=%d" % keyint, "!",
                             "rtph264pay", "config-interval=1", "pt=96", "!", "udpsink", "host=127.0.0.1",
                             "port=%d" % port], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class StallProxy:
    """A TCP proxy on 127.0.0.1:PORT to 127.0.0.1:TARGET that can stall:
    while stalled, connections stay open (old and new ones) but no byte
    moves in either direction, as with a camera whose encoder hung behind a
    live TCP connection. resume() lets bytes flow again; connections are
    never closed by the proxy while stalled. close() ends everything."""

    def __init__(self, port, target):
        self.target = target
        self.flowing = threading.Event()
        self.flowing.set()
        self.closed = False
        self.socks = []
        self.lock = threading.Lock()
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", port))
        self.ls.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(("127.0.0.1", self.target), timeout=5)
                u.settimeout(None)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.socks += [c, u]
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, a, b):
        try:
            while not self.closed:
                self.flowing.wait()
                data = a.recv(65536)
                if not data:
                    break
                while not self.flowing.is_set() and not self.closed:
                    time.sleep(0.01)  # stalled with the bytes in hand: they wait
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def connections(self):
        with self.lock:
            return len([s for s in self.socks if s.fileno() >= 0])

    def stall(self):
        self.flowing.clear()

    def resume(self):
        self.flowing.set()

    def close(self):
        self.closed = True
        self.flowing.set()
        self.ls.close()
        with self.lock:
            for s in self.socks:
                try:
                    s.close()
                except OSError:
                    pass


def x_ready(disp):
    """True once the X server on @disp answers a connection setup: its
    socket file appears before the server serves clients (a fresh machine
    showed the gap), the setup reply only once it does."""
    path = "/tmp/.X11-unix/X" + disp[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(1)
            s.connect(path)
            # byte order 'l', protocol 11.0, no authorization
            s.sendall(struct.pack("<BxHHHHxx", 0x6C, 11, 0, 0, 0))
            return s.recv(1)[:1] == b"\x01"
    except OSError:
        return False


def display_taken(num):
    """Whether X display :num is in use: its lock file, its socket file, or
    an abstract socket another server (perhaps in another mount namespace,
    its files out of sight) listens on."""
    if os.path.exists("/tmp/.X%d-lock" % num) or os.path.exists("/tmp/.X11-unix/X%d" % num):
        return True
    with open("/proc/net/unix") as f:
        return ("@/tmp/.X11-unix/X%d\n" % num) in f.read()


def free_xvfb(size, extra=(), log_dir=None):
    """An Xvfb at @size (w, h) on a free display number, once it serves
    clients; returns (proc, ":N"). Not -displayfd: it takes the lowest free
    number by its lock file, where another X server may already hold the
    abstract socket (clients would reach that one). -noreset: without it
    the server resets to its default keymap each time its last client
    leaves (setxkbmap's layout would not last). Its stderr goes to a file
    in @log_dir when given."""
    import random
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(10):
        num = rng.randrange(200, 900)
        if display_taken(num):
            continue
        log = tempfile.NamedTemporaryFile(dir=log_dir, prefix="xvfb-%d-" % num, suffix=".log", delete=False) \
            if log_dir else None
        p = subprocess.Popen(["Xvfb", ":%d" % num, "-screen", "0", "%dx%dx24" % tuple(size), "-nolisten", "tcp",
                              "-noreset"] + list(extra), stdout=subprocess.DEVNULL,
                             stderr=log if log else subprocess.DEVNULL)
        if log:
            log.close()
        deadline = time.monotonic() + 20
        while p.poll() is None and not x_ready(":%d" % num) and time.monotonic() < deadline:
            time.sleep(0.05)
        if p.poll() is None and x_ready(":%d" % num):
            return p, ":%d" % num
        p.kill()
        p.wait()
    raise AssertionError("no Xvfb started in 10 tries" + (" (logs in %s)" % log_dir if log_dir else ""))


def xvfb(disp, size):
    """Xvfb on @disp at @size, returned once it serves clients (callers
    check that Xvfb is installed). Stop it with .terminate()."""
    x = subprocess.Popen(["Xvfb", disp, "-screen", "0", size, "-nolisten", "tcp"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while not x_ready(disp):
        assert x.poll() is None, "Xvfb %s exited with %d" % (disp, x.returncode)
        assert time.monotonic() < deadline, "Xvfb %s does not answer after 15 s" % disp
        time.sleep(0.05)
    return x
