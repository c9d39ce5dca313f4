#!/usr/bin/python3
"""A test socket for the LAN tier's private-swarm tests (run inside a
namespace with `ip netns exec`).

  capture GROUP PORT IFADDR FROM_ADDR OUT TIMEOUT_S
      joins GROUP on the interface with IFADDR and writes (as hex, to OUT) the
      first keyed announce (version 2, kind 1) whose address field is
      FROM_ADDR; exit 1 when none came within TIMEOUT_S.
  send GROUP PORT IFADDR HEX
      sends the bytes HEX once to GROUP:PORT out of that interface (TTL 1).
"""
import socket
import struct
import sys
import time


def capture(group, port, ifaddr, from_addr, out, timeout_s):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("0.0.0.0", port))
    mreq = socket.inet_aton(group) + socket.inet_aton(ifaddr)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data, _ = s.recvfrom(2048)
        except socket.timeout:
            break
        if len(data) < 21 or data[:4] != b"P2PD" or data[4] != 2 or data[5] != 1:
            continue
        n = data[20]
        if data[21:21 + n].decode("latin-1") == from_addr:
            with open(out, "w") as f:
                f.write(data.hex())
            return 0
    return 1


def send(group, port, ifaddr, hex_bytes):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, struct.pack("B", 1))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(ifaddr))
    s.sendto(bytes.fromhex(hex_bytes), (group, port))
    return 0


def main(argv):
    if len(argv) == 7 and argv[0] == "capture":
        return capture(argv[1], int(argv[2]), argv[3], argv[4], argv[5], float(argv[6]))
    if len(argv) == 5 and argv[0] == "send":
        return send(argv[1], int(argv[2]), argv[3], argv[4])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
