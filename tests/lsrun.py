"""`lockstep run CONFIG --stats-json STATS` in the background, for the Python
test suites: its stderr lines are kept with the time.monotonic() each
arrived at, so a test can wait for a line and know when it came."""
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time


class LsRun:
    def __init__(self, lockstep, cfg, stats):
        self.stats = stats
        self.lines = []
        self.lock = threading.Lock()
        self.p = subprocess.Popen([lockstep, "run", cfg, "--stats-json", stats], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.p.stderr:
            with self.lock:
                self.lines.append((time.monotonic(), line.rstrip("\n")))

    def text(self):
        with self.lock:
            return "\n".join(l for _, l in self.lines)

    def wait_line(self, pattern, after=0.0, timeout=10.0):
        """The time of the first line matching pattern that arrived after
        `after`, waiting up to timeout s; None if none came (or the process
        ended)."""
        until = time.monotonic() + timeout
        while True:
            with self.lock:
                for t, l in self.lines:
                    if t >= after and re.search(pattern, l):
                        return t
            if time.monotonic() > until or self.p.poll() is not None:
                return None
            time.sleep(0.05)

    def stop(self):
        """SIGINT, as Ctrl-C; asserts a clean exit; returns the stats records."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
        try:
            self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.reader.join(timeout=5)
        assert self.p.returncode == 0, "lockstep exited %d:\n%s" % (self.p.returncode, self.text()[-3000:])
        with open(self.stats) as f:
            return [json.loads(l) for l in f if l.strip()]

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def end(p, timeout=10):
    """Ends a helper process: SIGTERM, then SIGKILL after timeout s."""
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def free_port():
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RigDir(LsRun):
    """`lockstep run` of a config text written to ROOT/NAME/rig.ini (@DIR@ in
    the text: that directory), stats in ROOT/NAME/stats.json."""

    def __init__(self, lockstep, root, name, text):
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir)
        cfg = os.path.join(self.dir, "rig.ini")
        with open(cfg, "w") as f:
            f.write(text.replace("@DIR@", self.dir))
        super().__init__(lockstep, cfg, os.path.join(self.dir, "stats.json"))
