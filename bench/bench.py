#!/usr/bin/python3
"""p2p benchmark: a bridged LAN of network namespaces, 3 seeders + 1 downloader,
p2p against baselines measured in the same run on the same hosts.

Run it through bench/run.sh (README "Benchmark"); `bench/run.sh --help` lists
the options. Needs root, iproute2 and tc (namespaces, bridge, caps); the
baselines need aria2, nginx-light and python3-libtorrent
(`scripts/install-deps.sh --bench`) and are skipped, with a note, when absent.

Every figure is printed as a ratio against a baseline of the same run; the
table goes to stdout and everything measured to the JSON file (--json).
Exit status: 0 done, 1 a download failed or a byte was wrong, 77 no LAN can
be built here (not root, no `ip`).

Traffic goes only to addresses inside the namespaces made here; every
namespace, process and file made is removed on exit, also on failure or
SIGINT/SIGTERM. Namespaces of an earlier run that was killed (its pid gone)
are removed at start.
"""
import argparse
import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
PREFIX = "p2pbench"
NETNS_DIR = "/var/run/netns"
CLONE_NEWNET = 0x40000000
CLK_TCK = os.sysconf("SC_CLK_TCK")
GiB = 1 << 30
MiB = 1 << 20
CONTROL_PORT = 7646
PEER_PORT = 7647
HTTP_PORT = 8080
RAW_PORT = 9000
LT_PORT = 6881


class Failed(Exception):
    """A download failed or produced wrong bytes: the run exits 1."""


# -- processes -----------------------------------------------------------------

def cpu_seconds(pid):
    """User + system CPU seconds used so far by a live process (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def proc_status_kib(pid, field):
    """A `field:` of /proc/PID/status in KiB (VmHWM, VmRSS)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def reset_peak_rss(pid):
    """Resets VmHWM to the current RSS (Linux >= 4.0: clear_refs 5)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def tree_cpu(pid):
    """CPU seconds of a process and its direct children (nginx master + workers)."""
    total = 0.0
    for p in [pid] + children(pid):
        try:
            total += cpu_seconds(p)
        except OSError:
            pass
    return total


def run_measured(argv, timeout_s, stdout_file=None):
    """Runs argv to its end. Returns dict(rc, wall_s, cpu_s, peak_rss_mib, out)
    with CPU and peak RSS from wait4's rusage (the process and what it waited
    for). Kills it after timeout_s (rc is then negative)."""
    start = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stdout_file or subprocess.STDOUT)
    timer = threading.Timer(timeout_s, p.kill)
    timer.start()
    out = p.stdout.read().decode(errors="replace")
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - start
    timer.cancel()
    p.returncode = os.waitstatus_to_exitcode(status)
    return {"rc": p.returncode, "wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime,
            "peak_rss_mib": ru.ru_maxrss / 1024, "out": out}


# -- the LAN -------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)


def in_ns(ns, fn):
    """Calls fn() on a thread moved into network namespace ns; returns its
    result (sockets made there stay in ns)."""
    box = {}

    def body():
        try:
            fd = os.open(os.path.join(NETNS_DIR, ns), os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns {ns}")
            finally:
                os.close(fd)
            box["v"] = fn()
        except BaseException as e:  # handed to the caller
            box["e"] = e

    t = threading.Thread(target=body)
    t.start()
    t.join()
    if "e" in box:
        raise box["e"]
    return box.get("v")


def ip(*args, check=True):
    r = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {r.stderr.strip()}")
    return r


def ns_pids(ns):
    r = ip("netns", "pids", ns, check=False)
    return [int(x) for x in r.stdout.split()]


def remove_ns(names):
    """Kills what still runs in our namespaces, then deletes them."""
    for ns in names:
        for pid in ns_pids(ns):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    for ns in names:
        ip("netns", "del", ns, check=False)


def remove_stale():
    """Namespaces of an earlier bench run whose process is gone."""
    if not os.path.isdir(NETNS_DIR):
        return
    stale = []
    for name in os.listdir(NETNS_DIR):
        if name.startswith(PREFIX):
            pid = name[len(PREFIX):].split("-", 1)[0]
            if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
                stale.append(name)
    remove_ns(stale)


def lan_unavailable():
    """Why no LAN can be built here, or None."""
    if os.geteuid() != 0:
        return "not root (namespaces need root)"
    if shutil.which("ip") is None:
        return "no `ip` (iproute2)"
    return None


class Lan:
    """A hub namespace with a bridge and n host namespaces, each with a veth
    lan<i> holding 10.a.b.<i+1>/24. Host 0 downloads, the others seed."""

    def __init__(self, n):
        pid = os.getpid()
        self.tag = f"{PREFIX}{pid}"
        self.hub = f"{self.tag}-hub"
        self.ns = [f"{self.tag}-{i}" for i in range(n)]
        subnet = f"10.{200 + pid % 50}.{(pid // 50) % 256}."
        self.addr = [subnet + str(i + 1) for i in range(n)]
        self.made = []
        for ns in [self.hub] + self.ns:
            ip("netns", "add", ns)
            self.made.append(ns)
        ip("-n", self.hub, "link", "add", "br0", "type", "bridge", "stp_state", "0")
        ip("-n", self.hub, "link", "set", "br0", "up")
        for i, ns in enumerate(self.ns):
            ip("-n", self.hub, "link", "add", f"h{i}", "type", "veth", "peer", "name", f"lan{i}",
               "netns", ns)
            ip("-n", self.hub, "link", "set", f"h{i}", "master", "br0")
            ip("-n", self.hub, "link", "set", f"h{i}", "up")
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", ns, "addr", "add", f"{self.addr[i]}/24", "dev", f"lan{i}")
            ip("-n", ns, "link", "set", f"lan{i}", "up")

    def exec(self, i, argv):
        return ["ip", "netns", "exec", self.ns[i], *argv]

    def cap(self, i, mbit):
        """Caps host i's uplink (egress of lan<i>) with a token bucket."""
        subprocess.run(self.exec(i, ["tc", "qdisc", "replace", "dev", f"lan{i}", "root", "tbf",
                                     "rate", f"{mbit}mbit", "burst", "512kb", "latency", "100ms"]),
                       check=True)

    def uncap(self, i):
        subprocess.run(self.exec(i, ["tc", "qdisc", "del", "dev", f"lan{i}", "root"]),
                       check=False, stderr=subprocess.DEVNULL)

    def close(self):
        remove_ns(self.made)
        self.made = []


# -- p2p daemons -----------------------------------------------------------------

class Control:
    """A connection to a daemon's control channel (JSON lines, docs/protocol.md)."""

    def __init__(self, lan, i, state_dir, timeout_s=20):
        with open(os.path.join(state_dir, "control.cookie")) as f:
            self.token = f.read().strip()
        self.sock = in_ns(lan.ns[i],
                          lambda: socket.create_connection(("127.0.0.1", CONTROL_PORT), timeout=5))
        self.sock.settimeout(None)
        self.rfile = self.sock.makefile("rb")
        self.next_id = 0

    def send(self, cmd, args=None):
        self.next_id += 1
        line = json.dumps({"id": self.next_id, "token": self.token, "cmd": cmd,
                           "args": args or {}}) + "\n"
        self.sock.sendall(line.encode())
        return self.next_id

    def reply(self):
        """The next reply (progress events are skipped)."""
        while True:
            line = self.rfile.readline()
            if not line:
                raise RuntimeError("control connection closed")
            msg = json.loads(line)
            if "event" not in msg:
                return msg

    def call(self, cmd, args=None):
        want = self.send(cmd, args)
        msg = self.reply()
        if msg.get("id") != want:
            raise RuntimeError(f"reply to {msg.get('id')}, wanted {want}")
        if not msg.get("ok"):
            raise Failed(f"{cmd}: {msg.get('error')}")
        return msg["result"]

    def close(self):
        self.sock.close()


class P2p:
    """One p2p-daemon per namespace; host 0 knows the seeders as static peers."""

    def __init__(self, lan, work, bin_dir, procs, extra=()):
        self.lan = lan
        self.n = len(lan.ns)
        self.state = [os.path.join(work, f"h{i}", "state") for i in range(self.n)]
        self.proc = []
        for i in range(self.n):
            os.makedirs(self.state[i], exist_ok=True)
            args = [os.path.join(bin_dir, "p2p-daemon"), "--state-dir", self.state[i],
                    "--no-multicast", "--log-level", "warn", *extra]
            if i == 0:
                for j in range(1, self.n):
                    args += ["--peer", f"{lan.addr[j]}:{PEER_PORT}"]
            log = open(os.path.join(work, f"h{i}", "daemon.log"), "wb")
            p = subprocess.Popen(lan.exec(i, args), stdout=log, stderr=log)
            procs.append(p)
            self.proc.append(p)
        self.ctl = [self._connect(i) for i in range(self.n)]

    def _connect(self, i):
        deadline = time.monotonic() + 20
        while True:
            if self.proc[i].poll() is not None:
                raise RuntimeError(f"daemon {i} exited {self.proc[i].returncode}")
            try:
                return Control(self.lan, i, self.state[i])
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def pid(self, i):
        return self.proc[i].pid

    def stop(self):
        for c in self.ctl:
            c.close()
        for p in self.proc:
            p.terminate()
        for p in self.proc:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        # The next daemons write new cookies once their control port is up;
        # an old one read first would be refused.
        for d in self.state:
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(d, "control.cookie"))

    def wait_listed(self, ids, seeders, timeout_s=60):
        """Waits until host 0's `ls` shows every content id in ids with
        `seeders` seeders."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.ctl[0].call("scan", {"timeout_ms": 200})
            files = self.ctl[0].call("ls")["files"]
            have = {f["id"] for f in files if len(f["seeders"]) >= seeders}
            if all(x in have for x in ids):
                return
            if time.monotonic() > deadline:
                raise Failed(f"downloader sees {len(have)} of {len(ids)} files with "
                             f"{seeders} seeders after {timeout_s} s")


# -- helpers -----------------------------------------------------------------------

def drop_caches():
    """Drops the page cache; False where not allowed."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3")
        return True
    except OSError:
        return False


def same_bytes(a, b):
    return subprocess.run(["cmp", "-s", a, b]).returncode == 0


def random_file(path, size):
    with open("/dev/urandom", "rb") as src, open(path, "wb") as out:
        left = size
        while left:
            b = src.read(min(left, 4 * MiB))
            out.write(b)
            left -= len(b)


def say(text):
    """A progress line on stderr (the table goes to stdout)."""
    print(f"bench: {text}", file=sys.stderr, flush=True)


def median_run(runs, fn):
    """Calls fn() `runs` times; the result with the median wall time."""
    results = []
    for _ in range(runs):
        results.append(fn())
        say(f"{fn.__name__}: {results[-1]['wall_s']:.2f} s")
    results.sort(key=lambda r: r["wall_s"])
    return results[len(results) // 2]


def ratio(a, b):
    return a / b if b else float("nan")


# -- the benchmark -------------------------------------------------------------------

class Bench:
    def __init__(self, opt, lan, work, procs):
        self.o = opt
        self.lan = lan
        self.work = work
        self.procs = procs
        self.n_seed = len(lan.ns) - 1
        self.seeders = list(range(1, len(lan.ns)))
        self.size = opt.size_mib * MiB
        self.res = {}
        self.notes = []
        self.perf_roles = set()  # roles perf recorded (--perf)
        self.have = {
            "nginx": shutil.which("nginx") is not None,
            "aria2c": shutil.which("aria2c") is not None,
            "libtorrent": subprocess.run([PY, "-c", "import libtorrent"],
                                         capture_output=True).returncode == 0,
            "openssl": shutil.which("openssl") is not None,
            "tc": shutil.which("tc") is not None,
        }
        for k in opt.skip:
            self.have[k] = False
        for k, v in self.have.items():
            if k in opt.skip:
                self.notes.append(f"{k}: skipped (--skip)")
            elif not v:
                self.notes.append(f"{k} not installed: its baseline is skipped "
                                  "(scripts/install-deps.sh --bench)")

    def h(self, i, *parts):
        return os.path.join(self.work, f"h{i}", *parts)

    # set-up ---------------------------------------------------------------

    def setup_files(self):
        src = os.path.join(self.work, "big.bin")
        random_file(src, self.size)
        self.src = src
        small = os.path.join(self.work, "small")
        os.makedirs(small)
        for k in range(self.o.files):
            random_file(os.path.join(small, f"f{k:04d}.bin"), self.o.file_kib * 1024)
        self.small_src = small
        for i in self.seeders:
            d = self.h(i, "files")
            os.makedirs(d, exist_ok=True)
            shutil.copyfile(src, os.path.join(d, "big.bin"))  # each seeder its own copy
            shutil.copytree(small, os.path.join(d, "small"))
        os.makedirs(self.h(0, "out"), exist_ok=True)

    def start_p2p(self, extra=()):
        self.p2p = P2p(self.lan, self.work, self.o.bin_dir, self.procs, extra)
        for i in self.seeders:
            big = self.p2p.ctl[i].call("share", {"path": self.h(i, "files", "big.bin")})
            self.big_id = big["shares"][0]["id"]
            smalls = self.p2p.ctl[i].call("share", {"path": self.h(i, "files", "small")})
            self.small_ids = sorted(s["id"] for s in smalls["shares"])
        self.p2p.wait_listed([self.big_id] + self.small_ids, self.n_seed)

    def start_nginx(self):
        self.nginx = []
        for i in self.seeders:
            d = self.h(i, "nginx")
            os.makedirs(d)
            conf = os.path.join(d, "nginx.conf")
            with open(conf, "w") as f:
                f.write(f"""user root; worker_processes 1; daemon off; master_process on;
pid {d}/nginx.pid; error_log {d}/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  server {{ listen {self.lan.addr[i]}:{HTTP_PORT}; root {self.h(i, 'files')}; }}
}}
""")
            p = subprocess.Popen(self.lan.exec(i, ["nginx", "-c", conf, "-p", d]),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.procs.append(p)
            self.nginx.append(p)
        for i in self.seeders:
            self.wait_port(0, self.lan.addr[i], HTTP_PORT)

    def start_raw(self):
        self.raw = []
        for i in self.seeders:
            p = subprocess.Popen(self.lan.exec(i, [PY, os.path.join(HERE, "raw_copy.py"), "serve",
                                                   f"{self.lan.addr[i]}:{RAW_PORT}",
                                                   self.h(i, "files", "big.bin")]),
                                 stdout=subprocess.DEVNULL)
            self.procs.append(p)
            self.raw.append(p)
        for i in self.seeders:
            self.wait_port(0, self.lan.addr[i], RAW_PORT)

    def start_libtorrent(self):
        self.torrent = os.path.join(self.work, "big.torrent")
        r = run_measured([PY, os.path.join(HERE, "lt_peer.py"), "make", self.src, self.torrent], 600)
        if r["rc"] != 0:
            raise RuntimeError("libtorrent: cannot make the torrent: " + r["out"])
        self.lt = []
        for i in self.seeders:
            p = subprocess.Popen(self.lan.exec(i, [PY, os.path.join(HERE, "lt_peer.py"), "seed",
                                                   self.torrent, self.h(i, "files"),
                                                   f"{self.lan.addr[i]}:{LT_PORT}"]),
                                 stdout=subprocess.DEVNULL)
            self.procs.append(p)
            self.lt.append(p)
        for i in self.seeders:
            self.wait_port(0, self.lan.addr[i], LT_PORT)

    def wait_port(self, i, host, port, timeout_s=20):
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                in_ns(self.lan.ns[i], lambda: socket.create_connection((host, port), 1)).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"nothing listens on {host}:{port}")
                time.sleep(0.05)

    # one transfer per tool ------------------------------------------------------

    def p2p_big(self):
        out = self.h(0, "out", "p2p")
        shutil.rmtree(out, ignore_errors=True)
        d0 = self.p2p.pid(0)
        perf = self.start_perf({"downloader": d0, "seeder1": self.p2p.pid(1)})
        reset_peak_rss(d0)
        cpu0 = cpu_seconds(d0)
        seed0 = [cpu_seconds(self.p2p.pid(i)) for i in self.seeders]
        t = time.monotonic()
        d = self.p2p.ctl[0].call("download", {"id": self.big_id, "out_dir": out,
                                              "overwrite": True, "wait": True})["download"]
        wall = time.monotonic() - t
        cpu = cpu_seconds(d0) - cpu0
        seed = [cpu_seconds(self.p2p.pid(i)) - c for i, c in zip(self.seeders, seed0)]
        self.stop_perf(perf)
        path = os.path.join(out, "big.bin")
        if d["state"] != "complete" or not same_bytes(self.src, path):
            raise Failed(f"p2p download of big.bin: state {d['state']}, bytes differ")
        by_addr = {p["addr"].rsplit(":", 1)[0]: p["bytes"] for p in d["peers"]}
        served = [by_addr.get(self.lan.addr[i], 0) for i in self.seeders]
        shutil.rmtree(out)
        return {"wall_s": wall, "cpu_s": cpu, "peak_rss_mib": proc_status_kib(d0, "VmHWM") / 1024,
                "seeder_cpu_s": seed, "seeder_bytes": served}

    def start_perf(self, pids):
        """With --perf DIR: `perf record` of each pid, once per role
        (DIR/<role>.data, a summary by DSO and symbol in DIR/<role>.txt):
        the downloader and seeder 1 during the first warm p2p download, the
        downloader again in the idle window. pids: {role: pid}."""
        pids = {r: p for r, p in pids.items() if r not in self.perf_roles}
        if not self.o.perf or not pids:
            return None
        self.perf_roles.update(pids)
        os.makedirs(self.o.perf, exist_ok=True)
        recs = {}
        for role, pid in pids.items():
            p = subprocess.Popen(["perf", "record", "-F", "999", "-g", "-p", str(pid), "-o",
                                  os.path.join(self.o.perf, f"{role}.data")],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.procs.append(p)
            recs[role] = p
        time.sleep(0.5)  # perf attaches asynchronously; no event says it has
        return recs

    def stop_perf(self, recs):
        for role, p in (recs or {}).items():
            p.send_signal(signal.SIGINT)
            p.wait(60)
            data = os.path.join(self.o.perf, f"{role}.data")
            with open(os.path.join(self.o.perf, f"{role}.txt"), "w") as f:
                for sort in ("dso", "dso,sym"):
                    subprocess.run(["perf", "report", "-i", data, "--no-children", "--stdio",
                                    "--sort", sort, "-g", "none", "--percent-limit", "0.5"],
                                   stdout=f, stderr=subprocess.DEVNULL)
            say(f"perf: {self.o.perf}/{role}.txt")

    def raw_big(self):
        out = self.h(0, "out", "raw.bin")
        seed0 = [tree_cpu(p.pid) for p in self.raw]
        r = run_measured(self.lan.exec(0, [PY, os.path.join(HERE, "raw_copy.py"), "get", out,
                                           str(self.size)] +
                                       [f"{self.lan.addr[i]}:{RAW_PORT}" for i in self.seeders]),
                         600)
        if r["rc"] != 0 or not same_bytes(self.src, out):
            raise Failed("raw copy: " + r["out"])
        os.remove(out)
        r["wall_s"] = float(r["out"].split()[-1])  # connect .. fdatasync, no start-up
        r["seeder_cpu_s"] = [tree_cpu(p.pid) - c for p, c in zip(self.raw, seed0)]
        return r

    def aria2_big(self):
        out = self.h(0, "out", "aria2")
        shutil.rmtree(out, ignore_errors=True)
        seed0 = [tree_cpu(p.pid) for p in self.nginx]
        urls = [f"http://{self.lan.addr[i]}:{HTTP_PORT}/big.bin" for i in self.seeders]
        r = run_measured(self.lan.exec(0, ["aria2c", "-x3", "-s3", "--file-allocation=falloc",
                                           "-d", out, "-o", "big.bin", "-q",
                                           "--allow-overwrite=true", "--auto-file-renaming=false",
                                           *urls]), 600)
        if r["rc"] != 0 or not same_bytes(self.src, os.path.join(out, "big.bin")):
            raise Failed("aria2c: " + r["out"])
        shutil.rmtree(out)
        r["seeder_cpu_s"] = [tree_cpu(p.pid) - c for p, c in zip(self.nginx, seed0)]
        return r

    def lt_big(self):
        out = self.h(0, "out", "lt")
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        seed0 = [tree_cpu(p.pid) for p in self.lt]
        r = run_measured(self.lan.exec(0, [PY, os.path.join(HERE, "lt_peer.py"), "get",
                                           self.torrent, out, f"{self.lan.addr[0]}:{LT_PORT}"] +
                                       [f"{self.lan.addr[i]}:{LT_PORT}" for i in self.seeders]),
                         700)
        if r["rc"] != 0 or not same_bytes(self.src, os.path.join(out, "big.bin")):
            raise Failed("libtorrent: " + r["out"])
        shutil.rmtree(out)
        r["wall_s"] = float(r["out"].split()[-1])  # add torrent .. all pieces, no start-up
        r["seeder_cpu_s"] = [tree_cpu(p.pid) - c for p, c in zip(self.lt, seed0)]
        return r

    def p2p_small(self):
        out = self.h(0, "out", "p2p-small")
        shutil.rmtree(out, ignore_errors=True)
        c = self.p2p.ctl[0]
        cpu0 = cpu_seconds(self.p2p.pid(0))
        t = time.monotonic()
        want = {c.send("download", {"id": x, "out_dir": out, "overwrite": True, "wait": True})
                for x in self.small_ids}
        bad = []
        while want:
            msg = c.reply()
            want.discard(msg.get("id"))
            if not msg.get("ok"):
                bad.append(msg.get("error"))
        wall = time.monotonic() - t
        cpu = cpu_seconds(self.p2p.pid(0)) - cpu0
        # Shared as a folder, the files are offered as small/fNNNN.bin and
        # land in that tree under -o (issue 11).
        self.check_small(os.path.join(out, "small"), bad, "p2p")
        shutil.rmtree(out)
        return {"wall_s": wall, "cpu_s": cpu}

    def aria2_small(self):
        out = self.h(0, "out", "aria2-small")
        shutil.rmtree(out, ignore_errors=True)
        lst = os.path.join(self.work, "aria2-small.txt")
        with open(lst, "w") as f:
            for name in sorted(os.listdir(self.small_src)):
                urls = [f"http://{self.lan.addr[i]}:{HTTP_PORT}/small/{name}" for i in self.seeders]
                f.write("\t".join(urls) + f"\n  out={name}\n")
        r = run_measured(self.lan.exec(0, ["aria2c", "-j16", "-x3", "-s3", "-q", "-d", out, "-i",
                                           lst, "--file-allocation=none",
                                           "--allow-overwrite=true",
                                           "--auto-file-renaming=false"]), 600)
        self.check_small(out, [] if r["rc"] == 0 else [r["out"]], "aria2c")
        return r

    def check_small(self, out, errors, who):
        names = sorted(os.listdir(self.small_src))
        wrong = [n for n in names if not os.path.exists(os.path.join(out, n)) or
                 not same_bytes(os.path.join(self.small_src, n), os.path.join(out, n))]
        if errors or wrong:
            raise Failed(f"{who}: {len(wrong)} of {len(names)} small files wrong; {errors[:3]}")
        shutil.rmtree(out)

    # workloads -------------------------------------------------------------------------

    def transfers(self):
        R = self.o.runs
        res = self.res
        # A first write of fresh memory is slow in a VM whose memory the host
        # backs lazily (seen here: 60 % of the first download's CPU in the
        # page-cache copy). One discarded raw copy first: every measured tool
        # then writes into page-cache memory that was used before.
        say(f"warm-up raw_big (not measured): {self.raw_big()['wall_s']:.2f} s")
        res["warm"] = {"p2p": median_run(R, self.p2p_big), "raw": median_run(R, self.raw_big)}
        if self.have["nginx"] and self.have["aria2c"]:
            res["warm"]["aria2c"] = median_run(R, self.aria2_big)
        if self.have["libtorrent"]:
            res["warm"]["libtorrent"] = median_run(R, self.lt_big)
        if self.o.cold:
            if drop_caches():
                res["cold"] = {"p2p": self.cold(self.p2p_big), "raw": self.cold(self.raw_big)}
            else:
                self.notes.append("cold cache skipped: cannot drop caches")
        if self.o.cap_mbit and self.have["tc"]:
            for i in self.seeders:
                self.lan.cap(i, self.o.cap_mbit)
            try:
                res["capped"] = {"p2p": median_run(R, self.p2p_big),
                                 "raw": median_run(R, self.raw_big)}
            finally:
                for i in self.seeders:
                    self.lan.uncap(i)
        res["small"] = {"p2p": median_run(R, self.p2p_small)}
        if self.have["nginx"] and self.have["aria2c"]:
            res["small"]["aria2c"] = median_run(R, self.aria2_small)

    def encrypted(self):
        """The big download again with every daemon on one network key and
        --encrypt (TLS 1.3, AES-128-GCM), after the plain runs: same files,
        same state dirs (no re-hashing), same LAN."""
        key = os.path.join(self.work, "network.key")
        subprocess.run([os.path.join(self.o.bin_dir, "p2p-cli"), "keygen", key], check=True,
                       capture_output=True)
        self.p2p.stop()
        self.start_p2p(["--network-key", key, "--encrypt"])
        self.res["encrypted"] = {"p2p": median_run(self.o.runs, self.p2p_big)}

    def cold(self, fn):
        drop_caches()
        r = fn()
        say(f"{fn.__name__} (cold): {r['wall_s']:.2f} s")
        return r

    def hashing(self):
        """Sharing a fresh path (warm cache) on the idle downloader vs openssl."""
        path = self.h(0, "hash", "big.bin")
        os.makedirs(os.path.dirname(path))
        os.link(self.h(1, "files", "big.bin"), path)  # same inode: same cached pages
        runs = []
        if self.have["openssl"]:
            runs.append(run_measured(["openssl", "dgst", "-sha256", path], 600))
        t = time.monotonic()
        self.p2p.ctl[0].call("share", {"path": path})
        p2p_s = time.monotonic() - t
        if self.have["openssl"]:
            runs.append(run_measured(["openssl", "dgst", "-sha256", path], 600))
        self.res["hash"] = {"p2p_share_s": p2p_s,
                            "openssl_s": min(r["wall_s"] for r in runs) if runs else None}

    def round_trip(self):
        """`status` on seeder 1: over the control socket, and by the CLI minus
        the CLI's own start-up (`--help`); baseline: an HTTP GET from its nginx."""
        i, n = 1, self.o.rtt_samples
        c = self.p2p.ctl[i]
        c.call("status")
        direct = []
        for _ in range(n):
            t = time.monotonic()
            c.call("status")
            direct.append(time.monotonic() - t)
        cli = os.path.join(self.o.bin_dir, "p2p-cli")

        def wall(args):
            t = time.monotonic()
            subprocess.run(self.lan.exec(i, [cli, "--state-dir", self.p2p.state[i], *args]),
                           stdout=subprocess.DEVNULL, check=True)
            return time.monotonic() - t

        # Interleaved, and the fastest of each: on a loaded machine the
        # slow samples measure the other processes, not the CLI.
        statuses, helps = [], []
        for _ in range(max(5, n // 2)):
            statuses.append(wall(["status"]))
            helps.append(wall(["--help"]))
        cli_status, cli_help = min(statuses), min(helps)
        http = None
        if self.have["nginx"]:
            host = self.lan.addr[i]
            s = in_ns(self.lan.ns[i], lambda: socket.create_connection((host, HTTP_PORT), 5))
            req = f"GET /small/f0000.bin HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
            want = self.o.file_kib * 1024
            ts = []
            with s:
                for _ in range(n):
                    t = time.monotonic()
                    s.sendall(req)
                    got = b""
                    while b"\r\n\r\n" not in got or len(got.split(b"\r\n\r\n", 1)[1]) < want:
                        got += s.recv(1 << 20)
                    ts.append(time.monotonic() - t)
            http = statistics.median(ts)
        self.res["status"] = {"direct_s": statistics.median(direct),
                              "cli_minus_startup_s": cli_status - cli_help,
                              "cli_startup_s": cli_help, "http_get_s": http}

    def idle(self):
        """CPU of each idle daemon (and of the idle nginx) over idle_s."""
        pids = [self.p2p.pid(i) for i in range(len(self.lan.ns))]
        ng = [p.pid for p in getattr(self, "nginx", [])]
        perf = self.start_perf({"idle-downloader": pids[0]})
        a = [cpu_seconds(p) for p in pids]
        b = [tree_cpu(p) for p in ng]
        time.sleep(self.o.idle_s)  # a fixed window: the measurement itself
        self.stop_perf(perf)
        self.res["idle"] = {
            "seconds": self.o.idle_s,
            "daemon_pct": [100 * (cpu_seconds(p) - x) / self.o.idle_s for p, x in zip(pids, a)],
            "nginx_pct": [100 * (tree_cpu(p) - x) / self.o.idle_s for p, x in zip(ng, b)]}
        self.res["peak_rss_mib"] = {"daemons": [proc_status_kib(p, "VmHWM") / 1024 for p in pids]}

    # report --------------------------------------------------------------------------------

    def figures(self):
        """[(figure, value text, baseline text, ratio)] from self.res."""
        r, gib = self.res, self.size / GiB
        rows = []

        def rate(x):
            return self.size / MiB / x["wall_s"]

        for load in ("warm", "cold", "capped"):
            if load not in r:
                continue
            p = r[load]["p2p"]
            for base in ("raw", "aria2c", "libtorrent"):
                if base in r[load]:
                    b = r[load][base]
                    rows.append((f"{load}: {self.o.size_mib} MiB from {self.n_seed} seeders, p2p vs {base}",
                                 f"{rate(p):.0f} MiB/s", f"{rate(b):.0f} MiB/s", rate(p) / rate(b)))
            if load == "capped":
                line = self.n_seed * self.o.cap_mbit * 1e6 / 8 / MiB
                rows.append((f"capped: p2p vs {self.n_seed} x {self.o.cap_mbit} Mbit",
                             f"{rate(p):.0f} MiB/s", f"{line:.0f} MiB/s", rate(p) / line))
        if "encrypted" in r:
            e, p = r["encrypted"]["p2p"], r["warm"]["p2p"]
            rows.append((f"warm: {self.o.size_mib} MiB from {self.n_seed} seeders, p2p --encrypt vs plain",
                         f"{rate(e):.0f} MiB/s", f"{rate(p):.0f} MiB/s", rate(e) / rate(p)))
            rows.append(("downloader CPU-s per GiB, p2p --encrypt vs plain", f"{e['cpu_s'] / gib:.2f}",
                         f"{p['cpu_s'] / gib:.2f}", ratio(e["cpu_s"], p["cpu_s"])))
        w = r["warm"]
        p = w["p2p"]
        total = sum(p["seeder_bytes"]) or 1
        for k, i in enumerate(self.seeders):
            rows.append((f"warm: seeder {i} share of the bytes", f"{100 * p['seeder_bytes'][k] / total:.0f} %",
                         f"{100 / self.n_seed:.0f} % (even)", p["seeder_bytes"][k] / total * self.n_seed))
        for base in ("raw", "aria2c", "libtorrent"):
            if base in w:
                b = w[base]
                rows.append((f"downloader CPU-s per GiB, p2p vs {base}", f"{p['cpu_s'] / gib:.2f}",
                             f"{b['cpu_s'] / gib:.2f}", ratio(p["cpu_s"], b["cpu_s"])))
        seed_base = {"raw": "raw server", "aria2c": "nginx", "libtorrent": "libtorrent seed"}
        for k, i in enumerate(self.seeders):
            served = p["seeder_bytes"][k] / GiB
            v = p["seeder_cpu_s"][k] / served if served else float("nan")
            for base in ("raw", "aria2c"):
                if base in w:
                    b = sum(w[base]["seeder_cpu_s"]) / gib  # served the whole file between them
                    rows.append((f"seeder {i} CPU-s per GiB served, p2p vs {seed_base[base]}",
                                 f"{v:.2f}", f"{b:.2f}", ratio(v, b)))
        for base in ("aria2c", "libtorrent", "raw"):
            if base in w:
                b = w[base]
                rows.append((f"downloader peak RSS, p2p vs {base}", f"{p['peak_rss_mib']:.0f} MiB",
                             f"{b['peak_rss_mib']:.0f} MiB", ratio(p["peak_rss_mib"], b["peak_rss_mib"])))
        h = r.get("hash")
        if h and h["openssl_s"]:
            rows.append((f"hashing {self.o.size_mib} MiB: p2p share vs openssl dgst -sha256",
                         f"{self.size / MiB / h['p2p_share_s']:.0f} MiB/s",
                         f"{self.size / MiB / h['openssl_s']:.0f} MiB/s",
                         h["openssl_s"] / h["p2p_share_s"]))
        s = r.get("small")
        if s and "aria2c" in s:
            rows.append((f"{self.o.files} x {self.o.file_kib} KiB files, p2p vs aria2c",
                         f"{s['p2p']['wall_s']:.2f} s", f"{s['aria2c']['wall_s']:.2f} s",
                         s["aria2c"]["wall_s"] / s["p2p"]["wall_s"]))
        st = r.get("status")
        if st:
            base = st["http_get_s"]
            rows.append(("status round trip (control socket), vs HTTP GET of one small file",
                         f"{1000 * st['direct_s']:.2f} ms",
                         f"{1000 * base:.2f} ms" if base else "-", ratio(st["direct_s"], base or 0)))
            rows.append(("status by p2p-cli minus its start-up, vs that start-up",
                         f"{1000 * st['cli_minus_startup_s']:.2f} ms",
                         f"{1000 * st['cli_startup_s']:.2f} ms",
                         ratio(st["cli_minus_startup_s"], st["cli_startup_s"])))
        idle = r.get("idle")
        if idle:
            d = max(idle["daemon_pct"])
            n = max(idle["nginx_pct"]) if idle["nginx_pct"] else None
            rows.append((f"idle CPU over {idle['seconds']:.0f} s, busiest daemon vs a core (nginx: {'%.2f %%' % n if n is not None else '-'})",
                         f"{d:.2f} %", "100 %", d / 100))
        return rows


def machine():
    info = {"cores": os.cpu_count(), "kernel": os.uname().release,
            "loadavg_start": os.getloadavg()}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
        info["mem_gib"] = round(proc_meminfo_kib("MemTotal") / (1 << 20), 1)
    except (OSError, StopIteration):
        pass
    return info


def proc_meminfo_kib(field):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def print_table(rows, out):
    w = max(len(r[0]) for r in rows)
    out.write(f"{'figure':<{w}}  {'p2p':>12}  {'baseline':>14}  {'ratio':>7}\n")
    for name, v, b, q in rows:
        q = f"{q:6.2f}x" if q == q and q != float("inf") else "      -"
        out.write(f"{name:<{w}}  {v:>12}  {b:>14}  {q:>7}\n")


def options(argv):
    ap = argparse.ArgumentParser(prog="bench/run.sh", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin-dir", default=os.path.join(HERE, "..", "build", "bin"),
                    help="where p2p-daemon and p2p-cli are (default: build/bin)")
    ap.add_argument("--size-mib", type=int, default=1024, help="the big file (default 1024)")
    ap.add_argument("--files", type=int, default=1000, help="small files (default 1000)")
    ap.add_argument("--file-kib", type=int, default=64, help="size of each small file (default 64)")
    ap.add_argument("--runs", type=int, default=3,
                    help="runs per transfer (default 3); the one with the median time is reported")
    ap.add_argument("--cap-mbit", type=int, default=300,
                    help="each seeder's uplink in the capped variant (0: skip it)")
    ap.add_argument("--no-cold", dest="cold", action="store_false", help="skip the cold-cache runs")
    ap.add_argument("--idle-s", type=float, default=20, help="idle CPU window (default 20 s)")
    ap.add_argument("--rtt-samples", type=int, default=40, help="status round trips timed")
    ap.add_argument("--json", default="bench-result.json", help="where to write the results")
    ap.add_argument("--work", default=None, help="scratch directory (default: a new one in /tmp)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    ap.add_argument("--skip", default="", type=lambda t: [x for x in t.split(",") if x],
                    help="baselines to leave out: nginx,aria2c,libtorrent,openssl,tc (comma list)")
    ap.add_argument("--perf", default=None, metavar="DIR",
                    help="perf record the downloader and seeder 1 in the first warm p2p download, "
                         "and the downloader in the idle window, into DIR")
    ap.add_argument("--encrypt", action="store_true",
                    help="also time the big download with --network-key --encrypt (TLS) "
                         "on every daemon, after the plain runs")
    ap.add_argument("--smoke", action="store_true",
                    help="CI size: 32 MiB, 100 small files, 1 run, no cold run, 2 s idle (< 60 s)")
    o = ap.parse_args(argv)
    if o.smoke:
        o.size_mib, o.files, o.cold, o.idle_s, o.rtt_samples, o.runs = 32, 100, False, 2, 10, 1
    o.bin_dir = os.path.abspath(o.bin_dir)
    return o


def main(argv):
    o = options(argv)
    why = lan_unavailable()
    if why:
        print(f"bench: skipped: {why}")
        return 77
    for exe in ("p2p-daemon", "p2p-cli"):
        if not os.access(os.path.join(o.bin_dir, exe), os.X_OK):
            print(f"bench: no {exe} in {o.bin_dir} (build first)", file=sys.stderr)
            return 2

    def stop(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    remove_stale()
    work = o.work or tempfile.mkdtemp(prefix="p2p-bench.")
    os.makedirs(work, exist_ok=True)
    procs, lan, status = [], None, 1
    info = machine()
    started = time.monotonic()
    try:
        lan = Lan(4)
        b = Bench(o, lan, work, procs)
        say(f"making the files ({o.size_mib} MiB, {o.files} x {o.file_kib} KiB) in {work}")
        b.setup_files()
        say("starting the daemons, raw senders, nginx, libtorrent seeds")
        b.start_p2p()
        b.start_raw()
        if b.have["nginx"]:
            b.start_nginx()
        if b.have["libtorrent"]:
            b.start_libtorrent()
        b.transfers()
        b.hashing()
        b.round_trip()
        b.idle()
        if o.encrypt:
            say("the big download again, every daemon with --network-key --encrypt")
            b.encrypted()
        rows = b.figures()
        info["loadavg_end"] = os.getloadavg()
        info["seconds"] = time.monotonic() - started
        print_table(rows, sys.stdout)
        for n in b.notes:
            print("note:", n)
        print(f"machine: {info}")
        with open(o.json, "w") as f:
            json.dump({"machine": info, "options": vars(o), "notes": b.notes, "results": b.res,
                       "figures": [{"figure": n, "p2p": v, "baseline": bl, "ratio": q}
                                   for n, v, bl, q in rows]}, f, indent=1)
        print(f"results: {os.path.abspath(o.json)}")
        status = 0
    except Failed as e:
        print(f"bench: FAILED: {e}", file=sys.stderr)
        for i in range(4):
            log = os.path.join(work, f"h{i}", "daemon.log")
            if os.path.exists(log):
                with open(log, errors="replace") as f:
                    tail = f.readlines()[-20:]
                print(f"--- daemon {i} log (tail) ---\n" + "".join(tail), file=sys.stderr)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(3)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if lan:
            lan.close()
        if not o.keep:
            shutil.rmtree(work, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
