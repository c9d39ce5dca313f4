#!/usr/bin/env bash
# Fan-out benchmark (issue 10): one seeder, eight downloaders starting
# together on a LAN of network namespaces, every host's uplink capped at
# 100 Mbit with tc. Runs the LAN test "fan-out: ..." (tests/lan/swarm_test.cpp)
# with a 48 MiB file (or MIB from the first argument) and prints its table:
# one download alone, all eight, their ratio, and the bytes each host uploaded.
# Needs root, iproute2 (tc) and a Release build in build/.
#   Usage: bench/fanout.sh [MIB]
set -euo pipefail
cd "$(dirname "$0")/.."
export P2P_SWARM_MIB=${1:-48}
exec build/bin/lan_tests "fan-out*" -s 2>&1 | grep -E "^(lan swarm|host|  [0-9])|passed|failed"
