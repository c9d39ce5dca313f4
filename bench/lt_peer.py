#!/usr/bin/python3
"""Baseline of bench/run.sh: libtorrent (Debian's python3-libtorrent), TCP only,
no tracker, DHT, LSD, UPnP or NAT-PMP: the downloader is given the seeds.

  lt_peer.py make FILE TORRENT
      Writes a torrent of FILE (libtorrent's default piece size).
  lt_peer.py seed TORRENT DIR HOST:PORT
      Seeds FILE from DIR (seed mode: no re-check) on HOST:PORT; prints
      "ready" once listening and runs until killed.
  lt_peer.py get TORRENT DIR HOST:PORT SEED_HOST:PORT...
      Downloads into DIR from the given seeds; prints the seconds from adding
      the torrent to having every piece. Exit 1 after 600 s without finishing.
"""
import sys
import time

import libtorrent as lt


def session(listen):
    return lt.session({
        "listen_interfaces": listen,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        "alert_mask": 0,
    })


def endpoint(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def make(path, torrent):
    import os
    fs = lt.file_storage()
    lt.add_files(fs, path)
    t = lt.create_torrent(fs)
    lt.set_piece_hashes(t, os.path.dirname(os.path.abspath(path)))
    with open(torrent, "wb") as f:
        f.write(lt.bencode(t.generate()))


def add(ses, torrent, save, seed):
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(torrent)
    atp.save_path = save
    if seed:
        atp.flags |= lt.torrent_flags.seed_mode
    return ses.add_torrent(atp)


def seed(torrent, save, listen):
    ses = session(listen)
    add(ses, torrent, save, True)
    print("ready", flush=True)
    while True:
        time.sleep(3600)


def get(torrent, save, listen, seeds):
    ses = session(listen)
    start = time.monotonic()
    h = add(ses, torrent, save, False)
    for s in seeds:
        h.connect_peer(endpoint(s))
    deadline = start + 600
    while not h.status().is_seeding:
        if time.monotonic() > deadline:
            return 1
        time.sleep(0.005)
    print(f"{time.monotonic() - start:.4f}", flush=True)
    return 0


if __name__ == "__main__":
    a = sys.argv[1:]
    if len(a) == 3 and a[0] == "make":
        make(a[1], a[2])
    elif len(a) == 4 and a[0] == "seed":
        seed(a[1], a[2], a[3])
    elif len(a) >= 5 and a[0] == "get":
        sys.exit(get(a[1], a[2], a[3], a[4:]))
    else:
        sys.exit(__doc__)
