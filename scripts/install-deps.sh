#!/usr/bin/env bash
# Installs what p2p needs to build and test on Debian 12 (run as root).
# --bench: also the baselines of bench/run.sh (aria2, nginx-light,
# python3-libtorrent, openssl) and linux-perf (bench/run.sh --perf DIR). The CI smoke of the benchmark does not need
# them (it skips a baseline that is not installed); it needs python3 (base list).
# libcpp-httplib-dev serves the web page (p2p-daemon --http); chromium is the
# headless browser of its test (tests/web; ~27 s more to install, 2026-11-30).
set -euo pipefail
pkgs=(build-essential binutils cmake pkg-config
      libcaf-dev libcli11-dev nlohmann-json3-dev catch2 libspdlog-dev libssl-dev
      iproute2 procps clang-14 libfuzzer-14-dev python3
      libcpp-httplib-dev chromium)
if [[ "${1:-}" == --bench ]]; then
  pkgs+=(aria2 nginx-light python3-libtorrent openssl linux-perf)
fi
missing=()
for p in "${pkgs[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # No service starts on install (nginx would listen on the host's port 80;
  # the benchmark starts its own nginx inside its namespaces only).
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
