#!/usr/bin/env bash
# The p2p benchmark in one command: a LAN of network namespaces (3 seeders,
# 1 downloader), p2p against aria2c + nginx, libtorrent, a raw multi-stream
# TCP copy and openssl, all in the same run. Prints a table of ratios and
# writes bench-result.json. Needs root and a Release build in build/; the
# baselines need `scripts/install-deps.sh --bench`. Options: bench/run.sh --help
# (e.g. --size-mib 8192, --runs 3, --smoke for the CI size).
set -euo pipefail
exec /usr/bin/python3 "$(dirname "$0")/bench.py" "$@"
