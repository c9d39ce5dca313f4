# Shared by the loopback bench scripts (small_files.sh, many_files.sh); source
# it, then set `bin` (where p2p-daemon and p2p-cli are). It keeps the pids of
# the daemons it starts in `pids` and stops them, and removes `root` unless
# `keep` is 1, on exit (bench_cleanup, installed as the EXIT trap).
pids=()
keep=0
root=""

bench_cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [[ -z $root ]] && return
  if [[ $keep -eq 1 ]]; then echo "kept $root" >&2; else rm -rf "$root"; fi
}
trap bench_cleanup EXIT

# Prints N TCP ports free on 127.0.0.1 right now (bound together, then released).
free_ports() {
  /usr/bin/python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# start_daemon STATE_DIR LOG CONTROL_PORT PEER_PORT [ARG...]: a p2p-daemon on
# loopback without multicast, in the background; its pid is appended to
# `pids` and left in `started`.
start_daemon() {
  local state=$1 log=$2 control=$3 peer=$4
  shift 4
  mkdir -p "$state"
  "$bin/p2p-daemon" --state-dir "$state" --control-addr "127.0.0.1:$control" \
    --peer-port "$peer" --advertise-addr 127.0.0.1 --no-multicast "$@" >"$log" 2>&1 &
  started=$!
  pids+=("$started")
}

# wait_ready STATE_DIR: until the daemon of STATE_DIR answers `status`, at
# most 10 s; exits the script when it never does.
wait_ready() {
  local _
  for _ in $(seq 100); do
    "$bin/p2p-cli" --state-dir "$1" status >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "the daemon of $1 did not answer within 10 s" >&2
  exit 1
}

# cpu_us PID: CPU time of every thread of PID so far (schedstat), in us.
cpu_us() {
  cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%d", s / 1000}'
}
