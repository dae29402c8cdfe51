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
import socket
import subprocess
import tempfile
import time

import tap
from lsrun import end, free_port

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
        self.procs = []
        # Chromium and chromedriver are started here and reached at
        # 127.0.0.1: selenium and chromedriver otherwise find each other and
        # the browser at "localhost", which a machine without /etc/hosts
        # (a bare Debian root) does not resolve
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        devtools = free_port()
        self.browser = self._start([exe] + FLAGS + ["--window-size=%d,%d" % (width, height),
                                                    "--user-data-dir=" + self.profile,
                                                    "--remote-debugging-address=127.0.0.1",
                                                    "--remote-debugging-port=%d" % devtools, "about:blank"],
                                   devtools, "chromium")
        port = free_port()
        self.driver = self._start([shutil.which("chromedriver"), "--port=%d" % port], port, "chromedriver")
        o = webdriver.ChromeOptions()
        o.debugger_address = "127.0.0.1:%d" % devtools
        try:
            self.d = webdriver.Remote(command_executor="http://127.0.0.1:%d" % port, options=o)
        except Exception:
            self._stop()
            raise
        self.d.set_script_timeout(30)

    def _start(self, argv, port, what):
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(p)
        until = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return p
            except OSError:
                if p.poll() is not None or time.monotonic() > until:
                    self._stop()
                    raise RuntimeError("%s did not listen on 127.0.0.1:%d" % (what, port))
                time.sleep(0.05)

    def _stop(self):
        for p in reversed(self.procs):
            end(p)
        self.procs = []

    def js(self, script, *args):
        return self.d.execute_script(script, *args)

    def cdp(self, cmd, params=None):
        """A Chrome DevTools Protocol command through chromedriver (a
        webdriver.Remote has no execute_cdp_cmd of its own)."""
        self.d.command_executor._commands.setdefault(
            "executeCdpCommand", ("POST", "/session/$sessionId/goog/cdp/execute"))
        return self.d.execute("executeCdpCommand", {"cmd": cmd, "params": params or {}})["value"]

    def watch_errors(self):
        """From the next page on, every uncaught error, unhandled rejection,
        console.error and failed resource load is kept in the page's
        window.__lsErrors (read with errors()); installed before any of the
        page's own scripts run."""
        self.cdp("Page.addScriptToEvaluateOnNewDocument", {"source": """
            window.__lsErrors = [];
            addEventListener('error', e => __lsErrors.push(e.message ||
                ('failed to load ' + ((e.target && (e.target.src || e.target.href)) || '?'))), true);
            addEventListener('unhandledrejection', e => __lsErrors.push('unhandled: ' + (e.reason && e.reason.message || e.reason)));
            const ce = console.error.bind(console);
            console.error = (...a) => { __lsErrors.push(a.map(String).join(' ')); ce(...a); };
        """})

    def errors(self):
        """What watch_errors() caught on the current page (and its frames)."""
        return self.d.execute_script("""
            const out = (window.__lsErrors || []).slice();
            for (const f of document.querySelectorAll('iframe'))
                try { out.push(...(f.contentWindow.__lsErrors || [])); } catch (e) {}
            return out;""")

    def pids(self):
        """The browser's processes: chromium and its descendants."""
        root = self.browser.pid
        kids = {}
        for p in os.listdir("/proc"):
            if p.isdigit():
                try:
                    with open("/proc/%s/stat" % p) as f:
                        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                    kids.setdefault(ppid, []).append(int(p))
                except (OSError, ValueError, IndexError):
                    pass
        out, todo = [root], [root]
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
        self._stop()
        shutil.rmtree(self.profile, ignore_errors=True)
