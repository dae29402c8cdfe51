"""Debian's Chromium, headless, driven by chromium-driver through
python3-selenium: the browser the WHEP and /view tests and benchmarks use.

Chromium hides local addresses behind mDNS names (.local candidates) unless
WebRtcHideLocalIpsWithMdns is off, and gathers no loopback candidates
unless --allow-loopback-in-peer-connection: with both, a page on this
machine reaches lockstep's WebRTC streams on 127.0.0.1 without any other
network."""
import os
import shutil
import signal
import tempfile

import tap

FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--mute-audio",
    "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
    "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]


def available():
    return bool(shutil.which("chromedriver") and (shutil.which("chromium") or shutil.which("chromium-browser")))


class Browser:
    """One headless Chromium with its own profile; .d is the WebDriver."""

    def __init__(self, width=1400, height=900):
        if not available():
            raise tap.SkipTest("chromium and chromium-driver not installed (scripts/setup.sh)")
        try:
            from selenium import webdriver
        except ImportError:
            raise tap.SkipTest("python3-selenium not installed (scripts/setup.sh)")
        self.profile = tempfile.mkdtemp(prefix="lockstep-chromium-")
        o = webdriver.ChromeOptions()
        for f in FLAGS + ["--window-size=%d,%d" % (width, height), "--user-data-dir=" + self.profile]:
            o.add_argument(f)
        self.d = webdriver.Chrome(options=o)
        self.d.set_script_timeout(30)

    def js(self, script, *args):
        return self.d.execute_script(script, *args)

    def pids(self):
        """chromedriver's descendants: the browser's processes."""
        root = self.d.service.process.pid
        kids = {}
        for p in os.listdir("/proc"):
            if p.isdigit():
                try:
                    with open("/proc/%s/stat" % p) as f:
                        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                    kids.setdefault(ppid, []).append(int(p))
                except (OSError, ValueError, IndexError):
                    pass
        out, todo = [], [root]
        while todo:
            for k in kids.get(todo.pop(), []):
                out.append(k)
                todo.append(k)
        return out

    def crash(self):
        """kill -9 of every browser process, as a viewer's machine dying."""
        for p in self.pids():
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        self.close()

    def close(self):
        try:
            self.d.quit()
        except Exception:
            pass
        shutil.rmtree(self.profile, ignore_errors=True)
