#!/usr/bin/env bash
# Measures a p2p download from N seeders on loopback against a plain socket
# copy of the same file on the same machine, in the same run.
#
# usage: bench/transfer.sh [SIZE_MIB=1024] [SEEDERS=2]
# Needs a Release build in build/ (cmake -S . -B build && cmake --build build).
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-1024}
seeders=${2:-2}
bin=build/bin
work=$(mktemp -d /tmp/p2p-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "creating a ${size_mib} MiB random file"
head -c $((size_mib << 20)) /dev/urandom > "$work/src.bin"

base=$((20000 + RANDOM % 20000))
n=$((seeders + 1))
peer_args=()
for ((i = 0; i < n; i++)); do peer_args+=(--peer "127.0.0.1:$((base + 2 * i + 1))"); done
for ((i = 0; i < n; i++)); do
  mkdir -p "$work/d$i"
  "$bin/p2p-daemon" --state-dir "$work/d$i" --control-addr "127.0.0.1:$((base + 2 * i))" \
    --peer-port $((base + 2 * i + 1)) --no-multicast "${peer_args[@]}" --log-level warn \
    2>"$work/d$i.log" &
  pids+=($!)
done
cli() { local i=$1; shift; "$bin/p2p-cli" --state-dir "$work/d$i" "$@"; }
for ((i = 0; i < n; i++)); do
  for _ in $(seq 100); do cli "$i" status >/dev/null 2>&1 && break; sleep 0.1; done
done
for ((i = 1; i <= seeders; i++)); do
  cp "$work/src.bin" "$work/seed$i.bin"
  cli "$i" share "$work/seed$i.bin" >/dev/null
done
# Every seeder copy has the same content id; wait until the downloader sees all.
for _ in $(seq 100); do
  cli 0 scan >/dev/null
  got=$(cli 0 --json ls | python3 -c 'import json,sys; f=json.load(sys.stdin)["files"]; print(max([len(x["seeders"]) for x in f] or [0]))')
  [[ "$got" -ge "$seeders" ]] && break
  sleep 0.2
done
name=seed1.bin
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
start=$(date +%s.%N)
cli 0 download -f "$name" -o "$work/out" -w >/dev/null
end=$(date +%s.%N)
p2p_s=$(python3 -c "print($end - $start)")
cmp "$work/src.bin" "$work/out/$name" && echo "cmp: identical"
# Peak resident memory: bounded by the requests in flight, not by the file.
for ((i = 0; i < n; i++)); do
  role=seeder; ((i == 0)) && role=downloader
  hwm_kib=$(awk '/^VmHWM:/ {print $2}' "/proc/${pids[$i]}/status")
  echo "peak RSS daemon $i ($role): $((hwm_kib / 1024)) MiB"
done
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
base_s=$(python3 bench/socket_copy.py "$work/src.bin" "$work/copy.bin")
rm -f "$work/copy.bin"
python3 - "$size_mib" "$seeders" "$p2p_s" "$base_s" <<'PY'
import sys
mib, seeders, p2p, base = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
print(f"p2p download   : {mib} MiB from {seeders} seeders in {p2p:.2f} s = {mib / p2p:.0f} MiB/s")
print(f"plain socket   : {mib} MiB in {base:.2f} s = {mib / base:.0f} MiB/s")
print(f"ratio p2p/plain: {base / p2p:.2f}x of plain-socket throughput")
PY
