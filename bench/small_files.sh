#!/usr/bin/env bash
# Many small downloads on loopback (issue 9): 3 seeders share a folder of N
# files of KIB KiB (default 1000 x 64), a downloader with a static --peer to
# each (no multicast) downloads the folder with `download -w --overwrite`
# RUNS times in a row (default 3). Prints per run the wall time and the
# CPU-seconds (schedstat) of the downloader and of each seeder.
#   Usage: bench/small_files.sh [--bin DIR] [--runs R] [--kib KIB] [--perf FILE] [N]
#   --bin DIR    where p2p-daemon and p2p-cli are (default build/bin)
#   --perf FILE  perf record -g the downloader over all runs into FILE
# Ports 17100-17131 on 127.0.0.1. Every wait is bounded (start 10 s, listing
# 20 s, each download 300 s); the daemons are stopped and the temp dir
# removed on exit. The LAN figure against aria2c is bench/run.sh's.
set -euo pipefail
BIN=build/bin RUNS=3 KIB=64 PERF=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bin) BIN=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --kib) KIB=$2; shift 2 ;;
    --perf) PERF=$2; shift 2 ;;
    *) break ;;
  esac
done
N=${1:-1000}
W=$(mktemp -d /tmp/p2p-small.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT
cli() { timeout 300 "$BIN/p2p-cli" --control "127.0.0.1:$1" --state-dir "$W/$2/state" "${@:3}"; }
mkdir -p "$W/src"
/usr/bin/python3 -c "
import os
for k in range($N):
    open('$W/src/f%05d' % k, 'wb').write(os.urandom($KIB * 1024))"
for i in 1 2 3; do
  mkdir -p "$W/s$i/state" && cp -r "$W/src" "$W/s$i/files"
  "$BIN/p2p-daemon" --state-dir "$W/s$i/state" --no-multicast --peer-port $((17100 + i * 10)) \
    --control-addr 127.0.0.1:$((17101 + i * 10)) --log-level warn >"$W/s$i/log" 2>&1 &
  pids+=($!)
done
for i in 1 2 3; do
  for _ in $(seq 100); do cli $((17101 + i * 10)) s$i status >/dev/null 2>&1 && break; sleep 0.1; done
  cli $((17101 + i * 10)) s$i share "$W/s$i/files" >/dev/null
done
mkdir -p "$W/d0/state"
"$BIN/p2p-daemon" --state-dir "$W/d0/state" --no-multicast --peer-port 17100 \
  --control-addr 127.0.0.1:17101 --peer 127.0.0.1:17110 --peer 127.0.0.1:17120 \
  --peer 127.0.0.1:17130 --log-level warn >"$W/d0/log" 2>&1 &
d0=$!
pids+=("$d0")
n=0
for _ in $(seq 200); do
  n=$(cli 17101 d0 --json ls 2>/dev/null | /usr/bin/python3 -c "import sys, json
try: print(sum(len(f['seeders']) for f in json.load(sys.stdin)['files']))
except Exception: print(0)" || true)
  [[ "$n" -ge $((3 * N)) ]] && break
  sleep 0.1
done
[[ "$n" -ge $((3 * N)) ]] || { echo "the downloader lists $n of $((3 * N)) offers after 20 s" >&2; exit 1; }
cpu() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%d", s / 1000}'; }
all=("$d0" "${pids[0]}" "${pids[1]}" "${pids[2]}")
perfpid=""
if [[ -n "$PERF" ]]; then perf record -F 1999 -g -p "$d0" -o "$PERF" 2>/dev/null & perfpid=$!; sleep 0.5; fi
echo "run  wall_s  cpu_s: downloader seeder1 seeder2 seeder3  ($N x $KIB KiB)"
for r in $(seq "$RUNS"); do
  a=(); for p in "${all[@]}"; do a+=("$(cpu "$p")"); done
  t0=$(date +%s%N)
  cli 17101 d0 download -f files -o "$W/d0/out" --overwrite -w -q >/dev/null
  t1=$(date +%s%N)
  line=$(printf '%3d  %6.2f ' "$r" "$(echo "($t1 - $t0) / 1000000000" | bc -l)")
  k=0
  for p in "${all[@]}"; do
    line+=$(printf ' %6.2f' "$(echo "($(cpu "$p") - ${a[$k]}) / 1000000" | bc -l)"); k=$((k + 1))
  done
  echo "$line"
done
if [[ -n "$perfpid" ]]; then kill -INT "$perfpid"; wait "$perfpid" 2>/dev/null || true; fi
