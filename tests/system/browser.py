"""browser.py - a headless Chromium driven over the DevTools protocol, with
the Python standard library only, for tests that watch a live page.

Role: start chromium --headless with --remote-debugging-port=0 and a
private profile, find the page target, and talk to it over a WebSocket
(a minimal client: the handshake, masked text frames out, unfragmented
or fragmented frames in). What a test needs: evaluate JavaScript and get
its value, and take a PNG screenshot.

Invariants: the browser is started with PR_SET_PDEATHSIG through the
harness's preexec function and stopped by its PID in close() (SIGTERM,
then SIGKILL); every wait is bounded.

What it does not do: it asserts nothing; it never navigates to anything
but the URL given.
"""

import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import urllib.request

from common import TestFailure, _set_pdeathsig


def find_chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    def __init__(self, url, width=1400, height=1000, timeout=30.0):
        exe = find_chromium()
        if not exe:
            raise TestFailure("chromium is not installed")
        self.profile = tempfile.mkdtemp(prefix="dht-chromium-")
        argv = [exe, "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-quic", "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--remote-debugging-port=0",
                "--remote-allow-origins=*",
                "--user-data-dir=" + self.profile,
                "--window-size=%d,%d" % (width, height), url]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL,
                                     preexec_fn=_set_pdeathsig)
        self.sock = None
        self.next_id = 0
        try:
            self._connect(url, timeout)
        except Exception:
            self.close()
            raise

    def _connect(self, url, timeout):
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + timeout
        port = None
        while time.monotonic() < deadline and port is None:
            if self.proc.poll() is not None:
                raise TestFailure("chromium exited with %d" % self.proc.returncode)
            try:
                with open(port_file) as f:
                    port = int(f.readline().strip())
            except (OSError, ValueError):
                time.sleep(0.1)
        if port is None:
            raise TestFailure("chromium opened no DevTools port")
        ws_url = None
        while time.monotonic() < deadline and ws_url is None:
            try:
                with urllib.request.urlopen(
                        "http://127.0.0.1:%d/json" % port, timeout=5) as r:
                    for t in json.loads(r.read()):
                        if t.get("type") == "page":
                            ws_url = t["webSocketDebuggerUrl"]
                            break
            except OSError:
                pass
            if ws_url is None:
                time.sleep(0.1)
        if ws_url is None:
            raise TestFailure("chromium shows no page target")
        path = ws_url.split("/", 3)[3]
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((
            "GET /%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n" % (path, port, key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise TestFailure("DevTools closed the WebSocket handshake")
            head += chunk
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise TestFailure("DevTools refused the WebSocket: %r" % head[:80])
        self.buf = head.split(b"\r\n\r\n", 1)[1]

    # --- WebSocket frames ----------------------------------------------

    def _send(self, text):
        data = text.encode()
        hdr = bytearray([0x81])
        n = len(data)
        if n < 126:
            hdr.append(0x80 | n)
        elif n < 65536:
            hdr.append(0x80 | 126)
            hdr += struct.pack(">H", n)
        else:
            hdr.append(0x80 | 127)
            hdr += struct.pack(">Q", n)
        mask = os.urandom(4)
        hdr += mask
        self.sock.sendall(bytes(hdr) + bytes(b ^ mask[i % 4]
                                             for i, b in enumerate(data)))

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise TestFailure("DevTools closed the WebSocket")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _recv(self):
        message = b""
        while True:
            b0, b1 = self._need(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._need(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._need(8))[0]
            payload = self._need(n)
            if (b0 & 0x0F) == 0x8:
                raise TestFailure("DevTools closed the WebSocket")
            if (b0 & 0x0F) in (0x9, 0xA):
                continue  # ping/pong: not part of a message
            message += payload
            if b0 & 0x80:
                return message.decode()

    def call(self, method, timeout=30.0, **params):
        self.next_id += 1
        mid = self.next_id
        self._send(json.dumps({"id": mid, "method": method,
                               "params": params}))
        self.sock.settimeout(timeout)
        while True:
            msg = json.loads(self._recv())
            if msg.get("id") == mid:
                if "error" in msg:
                    raise TestFailure("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})

    # --- what tests use -------------------------------------------------

    def eval(self, expression):
        """The value of a JavaScript expression (JSON-serialisable)."""
        r = self.call("Runtime.evaluate", expression=expression,
                      returnByValue=True)
        if "exceptionDetails" in r:
            raise TestFailure("JavaScript error in %r: %s"
                              % (expression[:60], r["exceptionDetails"]))
        return r.get("result", {}).get("value")

    def wait_for(self, expression, timeout, poll=0.1):
        """Poll until the expression is truthy; its value, or None after
        `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            v = self.eval(expression)
            if v:
                return v
            if time.monotonic() >= deadline:
                return None
            time.sleep(poll)

    def screenshot(self, path):
        r = self.call("Page.captureScreenshot", format="png")
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
