#!/usr/bin/env bash
# Installs the dependencies, builds, and runs the whole test suite:
#   1. Release build: unit, actor and system tests (ctest).
#   2. The libFuzzer targets (scripts/fuzz.sh), P2P_FUZZ_SECONDS (10) each.
#   3. AddressSanitizer + UndefinedBehaviorSanitizer build of the daemon, the
#      CLI and the unit tests: the unit tests with LeakSanitizer on, then the
#      system tests again, against the sanitized binaries.
# Exits non-zero when any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc)

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs" --timeout 300)

if [[ "${P2P_SKIP_FUZZ:-0}" != 1 ]]; then
  scripts/fuzz.sh "${P2P_FUZZ_SECONDS:-10}"
fi

if [[ "${P2P_SKIP_SANITIZE:-0}" != 1 ]]; then
  # The daemon under ASan+UBSan: the system tests (built above; they only
  # start processes) run again against a sanitized p2p-daemon and p2p-cli.
  # -O1 without debug info keeps this build within the suite's time budget.
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Sanitize -DP2P_SANITIZE=ON \
    -DCMAKE_CXX_FLAGS_SANITIZE="-O1" >/dev/null
  cmake --build build-asan -j"$jobs" --target p2p-daemon p2p-cli unit_tests
  # The pure core (parsers, manifests, resume records, config) with leaks on.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 build-asan/bin/unit_tests
  # An 8 MiB quarantine (default 256) keeps freed chunk buffers from counting
  # as resident memory in the memory-bound test; recent frees are still caught.
  export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:quarantine_size_mb=8
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  export P2P_TEST_BIN_DIR="$PWD/build-asan/bin"
  # Read the whole list before matching: `ldd | grep -q` under pipefail fails
  # whenever grep exits before ldd has written its last line (SIGPIPE).
  needed=$(readelf -d "$P2P_TEST_BIN_DIR/p2p-daemon")
  [[ "$needed" == *libasan* && "$needed" == *libubsan* ]] \
    || { echo "build-asan/bin/p2p-daemon is not sanitized" >&2; exit 1; }
  (cd build && ctest --output-on-failure -j"$jobs" --timeout 600 -R '^system:')
fi
