#!/usr/bin/env bash
# Sharing many small files (issue 11 item 6): for each count N (default
# 1000 10000 100000), N files of 1-4 KiB in 100 folders are shared on one
# daemon and listed on another, both on loopback (--no-multicast, static
# peers, as the system tests run them). Prints per N:
#   share_s   wall time of `p2p-cli --json share DIR` (hashing, shares.json)
#   listed_s  from the end of share until `ls --json` on the other daemon
#             lists all N files
#   ls_s      wall time of a plain `p2p-cli ls` (one row per folder) and of
#   lsjson_s  `p2p-cli --json ls` (one entry per file) on the other daemon
#   hwm_mib   the sharing daemon's peak RSS (VmHWM), and the listing one's
# Targets on a 2-core machine: 10,000 shared <= 10 s, listed <= 30 s, ls <= 1 s;
# 100,000 shared <= 120 s.
#
# Usage: bench/many_files.sh [--bin DIR] [--keep] [N ...]
#   --bin DIR  where p2p-daemon and p2p-cli are (default build/bin)
#   --keep     keep the temp dir (files, state, daemon logs)
# Every wait is bounded (share 600 s, listing 300 s per N); the daemons this
# script started are stopped and the temp dir removed on exit.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/bench/lib.sh"
bin="$here/build/bin"
counts=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) counts+=("$1"); shift ;;
  esac
done
[[ ${#counts[@]} -gt 0 ]] || counts=(1000 10000 100000)
cli="$bin/p2p-cli"
[[ -x $bin/p2p-daemon && -x $cli ]] || { echo "no p2p-daemon/p2p-cli in $bin (build first)" >&2; exit 2; }

root=$(mktemp -d /tmp/p2p-many-files.XXXXXX)

now() { date +%s.%N; }
secs() { /usr/bin/python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$2"; }
# N files of 1-4 KiB (random bytes) under $1/dNN/ in 100 folders.
make_files() {
  /usr/bin/python3 - "$1" "$2" <<'EOF'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for d in range(100):
    os.makedirs(f"{root}/d{d:02d}", exist_ok=True)
for k in range(n):
    with open(f"{root}/d{k % 100:02d}/file{k}.bin", "wb") as f:
        f.write(os.urandom(1024 + (k * 977) % 3072))
EOF
}
# Number of files in `ls --json` on the daemon with state dir $1 (0 on error).
listed_count() {
  "$cli" --state-dir "$1" --json ls 2>/dev/null \
    | /usr/bin/python3 -c "import json,sys
try: print(len(json.load(sys.stdin)['files']))
except Exception: print(0)"
}
hwm_mib() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }

printf '%-8s %-9s %-9s %-7s %-9s %-12s %-12s\n' files share_s listed_s ls_s lsjson_s hwm_A_mib hwm_B_mib
for n in "${counts[@]}"; do
  dir="$root/n$n"
  mkdir -p "$dir/a" "$dir/b"
  make_files "$dir/many" "$n"
  read -r ca pa cb pb < <(free_ports 4)
  start_daemon "$dir/a" "$dir/a.log" "$ca" "$pa" --peer "127.0.0.1:$pb" --log-level info
  pid_a=$started
  start_daemon "$dir/b" "$dir/b.log" "$cb" "$pb" --peer "127.0.0.1:$pa" --log-level info
  pid_b=$started
  wait_ready "$dir/a"
  wait_ready "$dir/b"
  t0=$(now)
  timeout 600 "$cli" --state-dir "$dir/a" --json share "$dir/many" > "$dir/share.json"
  t1=$(now)
  got=0
  deadline=$(( $(date +%s) + 300 ))
  while [[ $(date +%s) -lt $deadline ]]; do
    got=$(listed_count "$dir/b")
    [[ $got -ge $n ]] && break
    sleep 0.2
  done
  t2=$(now)
  [[ $got -ge $n ]] || echo "N=$n: only $got of $n listed on the other daemon after 300 s" >&2
  "$cli" --state-dir "$dir/b" ls > "$dir/ls.txt"
  t3=$(now)
  "$cli" --state-dir "$dir/b" --json ls > "$dir/ls.json"
  t4=$(now)
  printf '%-8s %-9s %-9s %-7s %-9s %-12s %-12s\n' "$n" "$(secs "$t0" "$t1")" \
    "$(secs "$t1" "$t2")" "$(secs "$t2" "$t3")" "$(secs "$t3" "$t4")" \
    "$(hwm_mib "$pid_a")" "$(hwm_mib "$pid_b")"
  kill -TERM "$pid_a" "$pid_b"
  wait "$pid_a" "$pid_b" 2>/dev/null || true
  pids=()
  [[ $keep -eq 1 ]] || rm -rf "$dir"
done
