#!/usr/bin/env bash
# Fan-out benchmark (issue 10) on a LAN of network namespaces: the LAN tests
# "fan-out: ..." (tests/lan/swarm_test.cpp) at bench size.
#   1. 1 seeder -> 8 downloaders starting together, every uplink capped at
#      100 Mbit/s with tc, MIB MiB (default 48): one download alone, all
#      eight, their ratio (checked <= 1.5), bytes each host uploaded; then
#      the same swarm with the seeder killed at 50 % and brought back.
#   2. 1 -> 16 uncapped, for correctness (byte-identical); the ratio is only
#      reported (16 daemons share this machine's cores).
# Each case prints its table and Catch's verdict. Needs root, iproute2 (tc)
# and a Release build in build/ (build/bin/lan_tests).
#   Usage: bench/fanout.sh [MIB]
set -uo pipefail
cd "$(dirname "$0")/.."
mib=${1:-48}
rc=0
show() { grep -E "^(lan swarm|  host|  +[0-9]+ )|passed|failed|FAILED|SKIPPED"; }
echo "== 1 -> 8, 100 Mbit uplinks, ${mib} MiB"
P2P_SWARM_MIB=$mib P2P_SWARM_DOWNLOADERS=8 build/bin/lan_tests "fan-out*" 2>&1 | show
[ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
echo "== 1 -> 16, uncapped, ${mib} MiB"
P2P_SWARM_MIB=$mib P2P_SWARM_DOWNLOADERS=16 P2P_SWARM_UNCAPPED=1 \
  build/bin/lan_tests "fan-out: 1 seeder*" 2>&1 | show
[ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
exit $rc
