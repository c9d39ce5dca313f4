#!/usr/bin/env python3
"""Baseline: copy a file over one plain TCP connection on loopback.

usage: socket_copy.py SRC DST   -> prints seconds taken
The sender uses sendfile(2); the receiver reads 1 MiB at a time and writes
to DST, then fsyncs, which is what a p2p download does at the end too.
"""
import os
import socket
import sys
import threading
import time

src, dst = sys.argv[1], sys.argv[2]
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(1)
port = srv.getsockname()[1]


def serve():
    conn, _ = srv.accept()
    with conn, open(src, "rb") as f:
        conn.sendfile(f)


t = threading.Thread(target=serve)
t.start()
start = time.monotonic()
c = socket.create_connection(("127.0.0.1", port))
with c, open(dst, "wb") as out:
    while True:
        b = c.recv(1 << 20)
        if not b:
            break
        out.write(b)
    out.flush()
    os.fsync(out.fileno())
t.join()
print(f"{time.monotonic() - start:.3f}")
