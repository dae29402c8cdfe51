"""The redacted remote desktop (issue 18), tested as an agent uses it: a real
X server (Xvfb, German layout), a real application on it (remote_app.py: a
redaction-corpus screen with an echo box and an entry field), `lockstep
redact --output web://`, and headless Chromium on /remote.

usage: remote.py LOCKSTEP SRCDIR [FILTER]   (Debian's python3: selenium, tk, numpy, PIL)

What it shows:
  - the page shows the redacted screen: frames grabbed from the page's video
    element pass the corpus checker with 0 leaks, also while the agent types;
  - a click and typed text (umlauts, ß, Shift, AltGr and Ctrl combinations)
    reach the application exactly;
  - the time from a key pressed in the browser to its echo visible in the
    browser (p50, p99: printed; the goal is a benchmark's, bench/remote_bench.py);
  - a second agent watches only; input = off ignores input; no token: 401;
  - input is blocked while OCR is down (LOCKSTEP_FAULT_OCR=file:PATH) and the
    page says why; it works again once OCR is back;
  - nothing from the X selections reaches the page;
  - the session audit records who, when, counts, full masks and canaries."""
import json
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import tap  # noqa: E402
import remote_lib as rl  # noqa: E402
from remote_lib import (Desktop, Remote, SECRET, TOKEN, check_frames, click_at, combo, echo_latency,  # noqa: E402
                        grab, open_page, pctl, type_keys, wait_echo, wait_state, wheel_at)

SRC = os.path.abspath(sys.argv[2])
suite = tap.Suite()
tmp = tempfile.mkdtemp(prefix="lockstep-remote-")
rl.init(sys.argv[1], SRC, tmp)


# ---- the tests ----

desk = None
remote = None
fault = os.path.join(tmp, "ocr-down")
report = {}


def page():
    """The controlling agent's page, kept from test to test."""
    if report.get("page") is None:
        report["page"], _ = open_page(remote)
    return report["page"]


def setup():
    global desk, remote
    if desk is None:
        desk = Desktop("desk")
        remote = Remote(desk, "main", extra=("--canary", "2"), env={"LOCKSTEP_FAULT_OCR": "file:" + fault})


@suite.test
def test_token_and_origin():
    """Without the token: 401 for the page and the WebSocket; a WebSocket
    from another site's page: 403."""
    setup()
    assert remote.status("/remote") == 401
    assert remote.status("/remote?token=wrong") == 401
    assert remote.status("/remote?token=" + TOKEN) == 200
    ws = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
          "Sec-WebSocket-Version": "13"}
    assert remote.status("/remote/ws", headers=ws) == 401
    assert remote.status("/remote/ws?token=" + TOKEN, headers=dict(ws, Origin="http://evil.example")) == 403
    assert remote.status("/api/v1/remote") == 401


@suite.test
def test_view_typing_click_and_leaks():
    """The redacted screen in the page, 0 leaks in frames grabbed while the
    agent types and turns the wheel; the text typed, a click and the wheel
    reach the application exactly."""
    setup()
    b, st = open_page(remote)
    try:
        assert st[1:3] == [1920, 1080], st
        wait_state(b, lambda s: s["role"] == "control" and s["input"] == "on")
        frames = [grab(b)]
        # a click into the entry field: it arrives at the same root pixel
        x, y, w, h = desk.ready["entry"]
        n0 = len(desk.records())
        click_at(b, x + w // 2, y + h // 2)
        r = desk.wait_log(lambda r: r.get("ev") == "button" and r["down"], 10, n0)
        assert r and r["button"] == 1 and abs(r["x"] - (x + w // 2)) <= 1 and abs(r["y"] - (y + h // 2)) <= 1, r
        assert desk.wait_log(lambda r: r.get("ev") == "focus" and r["widget"] == "entry", 5, n0)
        # back to the echo box, then type
        ex, ey, ew, eh = desk.ready["echo_box"]
        click_at(b, ex + 30, ey + eh // 2)
        assert desk.wait_log(lambda r: r.get("ev") == "focus" and r["widget"] == "echo", 5, n0)
        text = 'Grüße, Straße! @€{[]}|~ äöüÄÖÜß: "x"; (1/2)'
        n1 = len(desk.records())
        type_keys(b, text[:12])
        frames.append(grab(b))
        type_keys(b, text[12:])
        frames.append(grab(b))
        assert wait_echo(desk, text), "typed %r, the application has %r" % (text, desk.text())
        keys = [r for r in desk.records()[n1:] if r.get("ev") == "key"]
        # AltGr (ISO_Level3_Shift: Mod5, 128) for @ and €, Shift for Ä
        at = next(r for r in keys if r["char"] == "@")
        assert at["state"] & 128 and at["keysym"] == "at", at
        big = next(r for r in keys if r["char"] == "Ä")
        assert big["state"] & 1, big
        # Ctrl combinations: Ctrl+a reaches it as Control + a
        from selenium.webdriver.common.keys import Keys
        n2 = len(desk.records())
        combo(b, Keys.CONTROL, "a")
        r = desk.wait_log(lambda r: r.get("ev") == "key" and r["keysym"] == "a", 5, n2)
        assert r and r["state"] & 4, r
        # Backspace and Enter
        type_keys(b, Keys.BACKSPACE)
        assert wait_echo(desk, text[:-1]), desk.text()
        # the wheel: two notches down
        n3 = len(desk.records())
        wheel_at(b, 900, 500, 200)
        r = desk.wait_log(lambda r: r.get("ev") == "button" and r["button"] == 5 and r["down"], 5, n3)
        assert r and abs(r["x"] - 900) <= 1 and abs(r["y"] - 500) <= 1, r
        frames.append(grab(b))
        time.sleep(1.0)
        for _ in range(3):
            frames.append(grab(b))
            time.sleep(0.3)
        shot = os.environ.get("LOCKSTEP_REMOTE_SHOTS")  # a directory to keep the page's screenshots in
        if shot:
            b.d.save_screenshot(os.path.join(shot, "remote-page.png"))
        res = check_frames(desk, frames)
        print("# grabbed %d frames from the page: %d personal-data boxes checked, %d leaks" % (
            len(frames), res["pii_boxes_checked"], res["leaks"]), flush=True)
        assert res["pii_boxes_checked"] > 0 and res["leaks"] == 0, json.dumps(res["leak_list"])[:2000]
        assert not b.errors(), b.errors()
        report["page"] = b
    except Exception:
        b.close()
        raise


@suite.test
def test_key_to_echo_latency():
    """Key pressed in the browser to the echoed character visible in the
    browser, through XTest, the application, the redactor (the echo line is
    new text: read by OCR before it is shown), H.264 and WebRTC."""
    setup()
    b = page()
    wait_state(b, lambda s: s["input"] == "on")
    delays, never = echo_latency(b, desk, "Termin am Montag bestaetigt ok", gap=0.45)
    p50, p99 = pctl(delays, 0.5), pctl(delays, 0.99)
    report["latency"] = dict(keys=len(delays) + never, seen=len(delays), p50_ms=round(1000 * p50) if p50 else None,
                             p99_ms=round(1000 * p99) if p99 else None)
    print("# key to echo, in the browser: %s; each (ms): %s" % (json.dumps(report["latency"]), [round(1000 * d) for d in delays]), flush=True)
    # every key's echo is shown in the end (how soon is the benchmark's
    # goal, bench/remote_bench.py: a loaded machine only delays it)
    assert never == 0, report["latency"]


@suite.test
def test_second_agent_watches_only():
    """A second page while the first controls: view only, its keys refused
    and counted, the first's still work."""
    setup()
    first = page()
    b2, st = open_page(remote)
    try:
        s = wait_state(b2, lambda s: s["role"] == "view")
        assert s["input"] == "busy" and "another agent" in s["message"], s
        before = desk.text()
        # the page sends nothing while it only watches; a forged message is refused
        b2.js("window.lockstepRemote.ws.send(JSON.stringify({t: 'key', key: 'x', mods: 0}))")
        type_keys(b2, "zz")
        time.sleep(1.0)
        assert desk.text() == before, (before, desk.text())
        refused = remote.get("/api/v1/remote")["input_events"]["refused_not_control"]
        assert refused >= 1, remote.get("/api/v1/remote")
        type_keys(first, "q")
        assert wait_echo(desk, before + "q"), desk.text()
        # the first leaves: the second may take control
        first.close()
        report.pop("page")
        s = wait_state(b2, lambda s: not s["controlled"], 15)
        b2.js("window.lockstepRemote.ws.send(JSON.stringify({t: 'take'}))")
        wait_state(b2, lambda s: s["role"] == "control" and s["input"] == "on")
        type_keys(b2, "w")
        assert wait_echo(desk, before + "qw"), desk.text()
        report["page"] = b2
    except Exception:
        b2.close()
        raise


@suite.test
def test_input_blocked_while_ocr_down():
    """OCR down (LOCKSTEP_FAULT_OCR=file:PATH, PATH created): the frame is
    masked whole, the page says why and input is blocked; OCR back (PATH
    removed): the worker is revived and input works again."""
    setup()
    b = page()
    wait_state(b, lambda s: s["role"] == "control" and s["input"] == "on")
    before = desk.text()
    with open(fault, "w"):
        pass
    # a new text unit makes a worker fail: type into the echo box
    type_keys(b, "x")
    s = wait_state(b, lambda s: s["masked"] and s["input"] == "blocked", 20)
    assert s["why"] == "ocr-worker-dead", s
    shown = b.js("return document.getElementById('masked').textContent")
    assert "ocr-worker-dead" in shown and "blocked" in shown, shown
    if os.environ.get("LOCKSTEP_REMOTE_SHOTS"):
        b.d.save_screenshot(os.path.join(os.environ["LOCKSTEP_REMOTE_SHOTS"], "remote-masked.png"))
    # the state message can arrive before the video's next frame does
    until = time.monotonic() + 5
    while True:
        black = (grab(b).mean(axis=2) < 40).mean()
        if black > 0.99 or time.monotonic() > until:
            break
        time.sleep(0.2)
    assert black > 0.99, "the frame is not masked whole (%.1f %% black)" % (100 * black)
    after_block = desk.text()
    # the page sends nothing while blocked; what a page sends anyway is dropped
    type_keys(b, "yy")
    for _ in range(3):
        b.js("window.lockstepRemote.ws.send(JSON.stringify({t: 'key', key: 'y', mods: 0}))")
    time.sleep(1.0)
    assert desk.text() == after_block, (after_block, desk.text())
    os.unlink(fault)
    wait_state(b, lambda s: not s["masked"] and s["input"] == "on", 30)
    type_keys(b, "k")
    assert wait_echo(desk, after_block + "k"), (after_block, desk.text())
    assert before in desk.text()
    blocked = remote.get("/api/v1/remote")["input_events"]["blocked_masked"]
    assert blocked >= 3, remote.get("/api/v1/remote")


@suite.test
def test_clipboard_never_reaches_page():
    """The application owns CLIPBOARD and PRIMARY with a secret; nothing of it
    is in any message the page received, in its text, or in the browser's
    clipboard."""
    setup()
    b = page()
    assert desk.wait_log(lambda r: r.get("clipboard") == SECRET, 5)
    # the agent selects and copies on the workstation: Ctrl+C there
    from selenium.webdriver.common.keys import Keys
    combo(b, Keys.CONTROL, "c")
    time.sleep(1.0)
    rx = b.js("return window.__rx")
    assert rx and not any("KLIPPBRETT" in m or "DE89" in m for m in rx), rx[:5]
    assert "KLIPPBRETT" not in b.js("return document.documentElement.outerHTML")
    try:
        clip = b.js("return navigator.clipboard.readText().then(t => t, e => '')") or ""
    except Exception:
        clip = ""
    assert "KLIPPBRETT" not in clip
    # paste = off: a forged paste message is refused, nothing typed
    before = desk.text()
    b.js("window.lockstepRemote.ws.send(JSON.stringify({t: 'paste', text: 'eingefuegt'}))")
    time.sleep(0.8)
    assert desk.text() == before


@suite.test
def test_malformed_and_out_of_range_dropped():
    """Malformed messages and events outside the screen are dropped and
    counted; the session goes on."""
    setup()
    b = page()
    # while the frame is masked whole (a loaded machine's latency budget),
    # input is blocked before the rate limit and the injector (which finds
    # what is off the screen) see it: wait until it is on
    wait_state(b, lambda s: s["role"] == "control" and s["input"] == "on")
    m0 = remote.get("/api/v1/remote")["input_events"]["malformed"]
    for msg in ["not json", "{}", '{"t":"key"}', '{"t":"move","x":-1,"y":3}', '{"t":"move","x":5000,"y":3}',
                '{"t":"key","key":"NoSuchKey","mods":0}', '{"t":"button","x":1,"y":1,"b":9,"down":true,"mods":0}',
                '{"t":"wheel","x":1,"y":1,"dx":0,"dy":99}', '{"t":"frobnicate"}']:
        b.js("window.lockstepRemote.ws.send(arguments[0])", msg)
    time.sleep(1.0)
    m1 = remote.get("/api/v1/remote")["input_events"]["malformed"]
    assert m1 - m0 == 9, (m0, m1)
    before = desk.text()
    type_keys(b, "m")
    assert wait_echo(desk, before + "m")


@suite.test
def test_rate_limit():
    """A burst beyond max-input-rate (200/s, burst 400): the excess dropped and counted."""
    setup()
    b = page()
    wait_state(b, lambda s: s["role"] == "control" and s["input"] == "on")
    d0 = remote.get("/api/v1/remote")["input_events"]["rate_dropped"]
    b.js("for (let i = 0; i < 1200; i++) window.lockstepRemote.ws.send(JSON.stringify({t: 'move', x: 10 + i % 100, y: 10}))")
    time.sleep(1.5)
    d1 = remote.get("/api/v1/remote")["input_events"]["rate_dropped"]
    assert d1 - d0 >= 600, (d0, d1)


@suite.test
def test_session_audit():
    """The session audit: sessions with peer and counts, the full-mask
    period with its why, canary results; no screen text."""
    setup()
    b = report.pop("page", None)
    if b:
        b.close()
    time.sleep(1.0)
    assert remote.stop() == 0, "".join(remote.lines)[-2000:]
    recs = remote.audit_records()
    kinds = [r["event"] for r in recs]
    assert kinds[0] == "remote-start" and kinds[-1] == "remote-stop", kinds
    starts = [r for r in recs if r["event"] == "session-start"]
    ends = [r for r in recs if r["event"] == "session-end"]
    assert len(starts) >= 2 and len(ends) == len(starts), kinds
    assert all(r["peer"].startswith("127.0.0.1:") and "Chrome" in r["user_agent"] for r in starts if r["user_agent"])
    assert sum(r["input"]["keys"] for r in ends) > 20, ends
    assert sum(r["input"]["blocked_masked"] for r in ends) >= 3, ends
    full = [r for r in recs if r["event"] == "full-mask"]
    assert any(r["why"] == "ocr-worker-dead" for r in full), full
    assert any(r["event"] == "full-mask-end" for r in recs), kinds
    assert any(r["event"] == "canary" and r["result"] == "pass" for r in recs), kinds
    text = open(remote.audit, encoding="utf-8").read()
    assert "Termin" not in text and "Straße" not in text and "KLIPPBRETT" not in text


@suite.test
def test_input_off_is_view_only():
    """--control off (input = off): the page says view only; nothing typed arrives."""
    setup()
    r2 = Remote(desk, "viewonly", extra=("--control", "off"))
    b, st = open_page(r2)
    try:
        s = wait_state(b, lambda s: s["input"] == "off")
        assert s["role"] == "view", s
        before = desk.text()
        type_keys(b, "abc")
        b.js("window.lockstepRemote.ws.send(JSON.stringify({t: 'key', key: 'x', mods: 0}))")
        time.sleep(1.0)
        assert desk.text() == before
        assert r2.get("/api/v1/remote")["input_events"]["refused_not_control"] >= 1
    finally:
        b.close()
        assert r2.stop() == 0


if __name__ == "__main__":
    try:
        rc = suite.run(sys.argv[3] if len(sys.argv) > 3 else "")
    finally:
        b = report.pop("page", None)
        if b:
            b.close()
        if remote:
            remote.stop()
        if desk:
            desk.close()
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(rc)
