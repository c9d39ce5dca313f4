#!/usr/bin/env bash
# `cmake --install` into a temporary prefix, then the installed binaries run:
# --version, and a daemon (with the installed example config, on loopback,
# multicast off) that the installed CLI talks to. Checks the systemd units
# name the installed daemon and that the docs and example config are there.
# Usage: tests/install/run.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: run.sh BUILD_DIR}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/p2p-install-XXXXXX")
daemon_pid=
cleanup() {
  if [[ -n "$daemon_pid" ]] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM "$daemon_pid"
    wait "$daemon_pid" || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "install test: $*" >&2; [[ -f "$tmp/daemon.log" ]] && tail -20 "$tmp/daemon.log" >&2; exit 1; }

prefix="$tmp/prefix"
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log" >&2; fail "cmake --install failed"; }

for f in bin/p2p-daemon bin/p2p-cli lib/systemd/system/p2p-daemon.service \
         lib/systemd/user/p2p-daemon.service share/doc/p2p/README.md \
         share/doc/p2p/examples/config.json share/doc/p2p/docs/architecture.md; do
  [[ -e "$prefix/$f" ]] || fail "missing $f"
done
for unit in system user; do
  grep -qx "ExecStart=$prefix/bin/p2p-daemon.*" "$prefix/lib/systemd/$unit/p2p-daemon.service" \
    || fail "the $unit unit does not start $prefix/bin/p2p-daemon"
  ! grep -q '@P2P_' "$prefix/lib/systemd/$unit/p2p-daemon.service" || fail "unexpanded @P2P_ in the $unit unit"
  # The commented web-page line (README "Install and systemd"): the installed
  # daemon with --http on loopback.
  grep -qx "#ExecStart=$prefix/bin/p2p-daemon.* --http 127\.0\.0\.1:[0-9]*" \
    "$prefix/lib/systemd/$unit/p2p-daemon.service" || fail "the $unit unit has no commented --http line"
done
# The system unit's web-page line, uncommented in place of the plain one.
http_line=$(sed -n 's/^#\(ExecStart=.* --http .*\)$/\1/p' "$prefix/lib/systemd/system/p2p-daemon.service")
mkdir -p "$tmp/units"
sed -e '/^ExecStart=/d' -e "s|^#ExecStart=.* --http .*|$http_line|" \
  "$prefix/lib/systemd/system/p2p-daemon.service" >"$tmp/units/p2p-daemon.service"
[[ $(grep -c '^ExecStart=' "$tmp/units/p2p-daemon.service") == 1 ]] || fail "web unit: not one ExecStart"
if command -v systemd-analyze >/dev/null; then
  # Checks the syntax; the unit's binary must exist, and it does (installed above).
  for u in "$prefix/lib/systemd/system/p2p-daemon.service" "$tmp/units/p2p-daemon.service"; do
    systemd-analyze verify "$u" 2>"$tmp/verify.log" \
      || { cat "$tmp/verify.log" >&2; fail "systemd-analyze verify rejects $u"; }
  done
fi

"$prefix/bin/p2p-cli" --version | grep -q '^p2p-cli [0-9.]* (peer protocol' || fail "p2p-cli --version"
"$prefix/bin/p2p-daemon" --version | grep -q '^p2p-daemon [0-9.]* (peer protocol' || fail "p2p-daemon --version"

# A free loopback port for the control channel, another for peers.
ports=$(/usr/bin/python3 -c '
import socket
ss = [socket.socket() for _ in range(3)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
read -r control_port peer_port http_port <<<"$ports"
# --http as the unit's commented line gives it, on a free port here.
http_addr=$(sed -n 's/.* --http \([^ ]*\).*/\1/p' <<<"$http_line")
http_addr=${http_addr%:*}:$http_port
state="$tmp/state"
# Under systemd, JOURNAL_STREAM names the daemon's stderr (device:inode): the
# daemon then leaves the time stamp to journald and prefixes the priority.
: >"$tmp/daemon.log"
journal_stream=$(stat -c '%d:%i' "$tmp/daemon.log")
env -u P2P_CONTROL -u P2P_STATE_DIR JOURNAL_STREAM="$journal_stream" \
  "$prefix/bin/p2p-daemon" --config "$prefix/share/doc/p2p/examples/config.json" \
  --state-dir "$state" --control-addr "127.0.0.1:$control_port" --peer-port "$peer_port" \
  --no-multicast --http "$http_addr" >"$tmp/daemon.log" 2>&1 &
daemon_pid=$!
ok=
for _ in $(seq 1 100); do  # up to 10 s for the daemon to answer
  if "$prefix/bin/p2p-cli" --state-dir "$state" status >"$tmp/status.out" 2>&1; then ok=1; break; fi
  kill -0 "$daemon_pid" 2>/dev/null || fail "the installed daemon exited"
  sleep 0.1
done
[[ -n "$ok" ]] || fail "the installed CLI got no status: $(cat "$tmp/status.out")"
grep -q '^Shares (0)' "$tmp/status.out" || fail "unexpected status: $(cat "$tmp/status.out")"
echo "data" >"$tmp/hello.txt"
"$prefix/bin/p2p-cli" --state-dir "$state" share "$tmp/hello.txt" | grep -q '^shared hello.txt' \
  || fail "share through the installed CLI"
url=$("$prefix/bin/p2p-cli" --state-dir "$state" web) || fail "p2p-cli web"
[[ $url == "http://$http_addr/?token="* ]] || fail "p2p-cli web printed '$url', not the --http address"
token=$(cat "$state/control.cookie")
code=$(/usr/bin/python3 - "$http_addr" "$token" <<'PY'
import sys, urllib.request
req = urllib.request.Request("http://%s/api/status" % sys.argv[1],
                             headers={"Authorization": "Bearer " + sys.argv[2]})
with urllib.request.urlopen(req, timeout=10) as r:
    print(r.status, "shares" in r.read().decode())
PY
) || fail "GET /api/status of the installed daemon"
[[ $code == "200 True" ]] || fail "/api/status answered '$code'"
grep -q '^<6>info p2p-daemon ready' "$tmp/daemon.log" || fail "no journald-style ready line"
! grep -qE '^(<[0-9]>)?[0-9]{4}-[0-9]{2}-[0-9]{2}T' "$tmp/daemon.log" || fail "time stamps under journald"
echo "install test: ok ($prefix)"
