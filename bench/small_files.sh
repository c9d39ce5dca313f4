#!/usr/bin/env bash
# Many small downloads on loopback (issue 9): 3 seeders share a folder of N
# files of KIB KiB (default 1000 x 64), a downloader with a static --peer to
# each (no multicast) downloads the folder with `download -w --overwrite`
# RUNS times in a row (default 3). Prints per run the wall time and the
# CPU-seconds (schedstat) of the downloader and of each seeder.
#   Usage: bench/small_files.sh [--bin DIR] [--runs R] [--kib KIB] [--perf FILE] [--idle S] [--keep] [N]
#   --bin DIR    where p2p-daemon and p2p-cli are (default build/bin)
#   --perf FILE  perf record -g the downloader over all runs into FILE
#   --idle S     after the runs, each daemon's CPU over S seconds (ms)
#   --keep       keep the temp dir (files, state, daemon logs)
# Free ports on 127.0.0.1. Every wait is bounded (start 10 s, listing 20 s,
# each download 300 s); the daemons are stopped and the temp dir removed on
# exit (bench/lib.sh). The LAN figure against aria2c is bench/run.sh's.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/bench/lib.sh"
bin="$here/build/bin" RUNS=3 KIB=64 PERF="" IDLE=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --kib) KIB=$2; shift 2 ;;
    --perf) PERF=$2; shift 2 ;;
    --idle) IDLE=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) break ;;
  esac
done
N=${1:-1000}
root=$(mktemp -d /tmp/p2p-small.XXXXXX)
cli() { timeout 300 "$bin/p2p-cli" --state-dir "$root/$1/state" "${@:2}"; }
mkdir -p "$root/src"
/usr/bin/python3 -c "
import os
for k in range($N):
    open('$root/src/f%05d' % k, 'wb').write(os.urandom($KIB * 1024))"
read -r -a ports < <(free_ports 8)
seeders=()
peers=()
for i in 1 2 3; do
  mkdir -p "$root/s$i" && cp -r "$root/src" "$root/s$i/files"
  start_daemon "$root/s$i/state" "$root/s$i/log" "${ports[$((2 * i))]}" \
    "${ports[$((2 * i + 1))]}" --log-level warn
  seeders+=("$started")
  peers+=(--peer "127.0.0.1:${ports[$((2 * i + 1))]}")
done
for i in 1 2 3; do
  wait_ready "$root/s$i/state"
  cli "s$i" share "$root/s$i/files" >/dev/null
done
start_daemon "$root/d0/state" "$root/d0/log" "${ports[0]}" "${ports[1]}" \
  "${peers[@]}" --log-level warn
d0=$started
wait_ready "$root/d0/state"
n=0
for _ in $(seq 200); do
  n=$(cli d0 --json ls 2>/dev/null | /usr/bin/python3 -c "import sys, json
try: print(sum(len(f['seeders']) for f in json.load(sys.stdin)['files']))
except Exception: print(0)" || true)
  [[ "$n" -ge $((3 * N)) ]] && break
  sleep 0.1
done
[[ "$n" -ge $((3 * N)) ]] || { echo "the downloader lists $n of $((3 * N)) offers after 20 s" >&2; exit 1; }
all=("$d0" "${seeders[@]}")
perfpid=""
if [[ -n "$PERF" ]]; then perf record -F 1999 -g -p "$d0" -o "$PERF" 2>/dev/null & perfpid=$!; pids+=("$perfpid"); sleep 0.5; fi
echo "run  wall_s  cpu_s: downloader seeder1 seeder2 seeder3  ($N x $KIB KiB)"
for r in $(seq "$RUNS"); do
  a=(); for p in "${all[@]}"; do a+=("$(cpu_us "$p")"); done
  t0=$(date +%s%N)
  cli d0 download -f files -o "$root/d0/out" --overwrite -w -q >/dev/null
  t1=$(date +%s%N)
  line=$(printf '%3d  %6.2f ' "$r" "$(echo "($t1 - $t0) / 1000000000" | bc -l)")
  k=0
  for p in "${all[@]}"; do
    line+=$(printf ' %6.2f' "$(echo "($(cpu_us "$p") - ${a[$k]}) / 1000000" | bc -l)"); k=$((k + 1))
  done
  echo "$line"
done
if [[ -n "$perfpid" ]]; then kill -INT "$perfpid"; wait "$perfpid" 2>/dev/null || true; fi
if [[ $IDLE != 0 ]]; then
  a=(); for p in "${all[@]}"; do a+=("$(cpu_us "$p")"); done
  sleep "$IDLE"
  line="idle ${IDLE} s, cpu_ms:"
  k=0
  for p in "${all[@]}"; do line+=" $(( ($(cpu_us "$p") - ${a[$k]}) / 1000 ))"; k=$((k + 1)); done
  echo "$line"
fi
