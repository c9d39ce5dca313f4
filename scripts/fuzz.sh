#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang-14, ASan and UBSan in
# build-fuzz/, and runs each for SECONDS on a copy of its seed corpus
# (fuzz/corpus/<target>/; new inputs stay in build-fuzz/). Exits non-zero on
# any finding (crash, sanitizer report, broken invariant, leak, timeout); the
# input that caused it is in build-fuzz/artifacts/. Prints the executions per
# target.   Usage: scripts/fuzz.sh SECONDS [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:?usage: scripts/fuzz.sh SECONDS [TARGET...]}
shift
targets=("$@")
((${#targets[@]})) || targets=(frame frame_reader datagram control manifest resume config)
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++-14 \
  -DP2P_FUZZ=ON -DBUILD_TESTING=OFF "${launcher[@]}" >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzzers
mkdir -p build-fuzz/artifacts
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
failed=()
summary=""
for t in "${targets[@]}"; do
  work=build-fuzz/corpus/$t
  mkdir -p "$work"
  log=build-fuzz/fuzz_$t.log
  rc=0
  # -timeout: one input taking 10 s is a finding; -rss_limit_mb likewise.
  build-fuzz/bin/fuzz_"$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 \
    -print_final_stats=1 -artifact_prefix="build-fuzz/artifacts/$t-" \
    "$work" "fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  summary+=$(printf '%-13s %10s executions  %s' "$t" "${execs:-?}" \
    "$( ((rc == 0)) && echo ok || echo "FINDING (rc $rc, see $log)")")$'\n'
  if ((rc != 0)); then
    failed+=("$t")
    tail -40 "$log" >&2
  fi
done
printf 'fuzz: %s s per target\n%s' "$secs" "$summary"
if ((${#failed[@]})); then
  echo "fuzz: findings in: ${failed[*]}" >&2
  exit 1
fi
