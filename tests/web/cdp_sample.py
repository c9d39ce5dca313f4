#!/usr/bin/python3
"""Samples a JavaScript expression in a page open in headless Chromium, over
the DevTools protocol, within one page load (real time, not virtual time).

Usage: cdp_sample.py PROFILE_DIR SECONDS INTERVAL_MS EXPRESSION

Chromium must run with --remote-debugging-port=0 --user-data-dir=PROFILE_DIR:
it writes the port it took to PROFILE_DIR/DevToolsActivePort (waited for up to
20 s). The script connects to the page target over a WebSocket on 127.0.0.1
only, evaluates EXPRESSION (which must return a JSON-serialisable value) every
INTERVAL_MS for SECONDS, and prints one JSON list of the values, in order, each
as {"t_ms": ms since the first sample, "value": ...}. Exit 0 with the list;
exit 1 with a reason on stderr when Chromium or the page cannot be reached.
Standard library only (a minimal WebSocket client: text frames, client-masked).
"""
import base64
import json
import os
import socket
import struct
import sys
import time
import urllib.request


def fail(msg):
    print("cdp_sample: " + msg, file=sys.stderr)
    sys.exit(1)


def devtools_port(profile, deadline):
    path = os.path.join(profile, "DevToolsActivePort")
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                first = f.readline().strip()
            if first.isdigit():
                return int(first)
        except OSError:
            pass
        time.sleep(0.1)
    fail("no %s after 20 s" % path)


def page_ws_path(port, deadline):
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=5) as r:
                targets = json.load(r)
            for t in targets:
                if t.get("type") == "page" and t.get("webSocketDebuggerUrl"):
                    url = t["webSocketDebuggerUrl"]
                    return url[url.index("/", len("ws://")):]
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    fail("no page target on DevTools port %d" % port)


class WebSocket:
    def __init__(self, port, path):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n" % (path, port, key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                fail("DevTools closed the WebSocket handshake")
            head += chunk
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            fail("DevTools refused the WebSocket: %r" % head.split(b"\r\n", 1)[0])
        self.buf = head.split(b"\r\n\r\n", 1)[1]

    def send(self, text):
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            header = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 65536:
            header = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                fail("DevTools closed the WebSocket")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        """One whole message (continuation frames joined); text only."""
        message = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            payload = self._read(n)  # the server does not mask
            opcode = b0 & 0x0F
            if opcode == 8:
                fail("DevTools closed the WebSocket")
            if opcode in (0, 1, 2):
                message += payload
                if b0 & 0x80:
                    return message.decode()


def main():
    if len(sys.argv) != 5:
        fail("usage: cdp_sample.py PROFILE_DIR SECONDS INTERVAL_MS EXPRESSION")
    profile, seconds, interval_ms, expr = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    deadline = time.monotonic() + 20
    port = devtools_port(profile, deadline)
    ws = WebSocket(port, page_ws_path(port, deadline))
    samples, next_id = [], 0
    start = time.monotonic()
    end = start + seconds
    while True:
        next_id += 1
        ws.send(json.dumps({"id": next_id, "method": "Runtime.evaluate",
                            "params": {"expression": "JSON.stringify(%s)" % expr,
                                       "returnByValue": True}}))
        while True:
            reply = json.loads(ws.recv())
            if reply.get("id") == next_id:
                break  # events (no id) are skipped
        result = reply.get("result", {}).get("result", {})
        value = json.loads(result["value"]) if result.get("type") == "string" else None
        samples.append({"t_ms": int((time.monotonic() - start) * 1000), "value": value})
        if time.monotonic() + interval_ms / 1000 > end:
            break
        time.sleep(interval_ms / 1000)
    print(json.dumps(samples))


if __name__ == "__main__":
    main()
