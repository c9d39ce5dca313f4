#!/usr/bin/python3
"""Baseline of bench/run.sh: a raw multi-stream TCP copy, the most a plain
program moves between these hosts.

  raw_copy.py serve HOST:PORT FILE
      Serves FILE: each connection sends "OFFSET LENGTH\\n" and gets those
      bytes by sendfile(2); runs until killed (SIGTERM).
  raw_copy.py get OUT SIZE HOST:PORT [HOST:PORT...]
      Splits SIZE bytes into one contiguous range per server, fetches them
      over one connection each (one thread each: recv_into a 1 MiB buffer,
      pwrite at the range's offset), then fdatasyncs OUT (as a p2p download
      does at its end). Prints the seconds taken from connect to fdatasync.
Exit status 0 on success, 1 when a stream ended short.
"""
import os
import socket
import sys
import threading
import time


def endpoint(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def serve(addr, path):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(endpoint(addr))
    srv.listen(16)
    print("ready", flush=True)

    def one(conn):
        with conn, open(path, "rb") as f:
            line = b""
            while not line.endswith(b"\n"):
                b = conn.recv(64)
                if not b:
                    return
                line += b
            off, length = (int(x) for x in line.split())
            while length > 0:
                n = os.sendfile(conn.fileno(), f.fileno(), off, length)
                if n == 0:
                    return
                off += n
                length -= n

    while True:
        conn, _ = srv.accept()
        threading.Thread(target=one, args=(conn,), daemon=True).start()


def get(out, size, servers):
    n = len(servers)
    per = size // n
    ranges = [(i * per, per if i < n - 1 else size - per * (n - 1)) for i in range(n)]
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    short = []

    def fetch(server, off, length):
        c = socket.create_connection(endpoint(server))
        with c:
            c.sendall(f"{off} {length}\n".encode())
            buf = bytearray(1 << 20)
            view = memoryview(buf)
            while length > 0:
                k = c.recv_into(view, min(len(buf), length))
                if k == 0:
                    short.append(server)
                    return
                os.pwrite(fd, view[:k], off)
                off += k
                length -= k

    start = time.monotonic()
    threads = [threading.Thread(target=fetch, args=(s, o, l)) for s, (o, l) in zip(servers, ranges)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    os.fdatasync(fd)
    os.close(fd)
    print(f"{time.monotonic() - start:.4f}")
    return 1 if short else 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 5 and sys.argv[1] == "get":
        sys.exit(get(sys.argv[2], int(sys.argv[3]), sys.argv[4:]))
    else:
        sys.exit(__doc__)
