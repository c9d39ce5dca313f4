#!/usr/bin/env bash
# Installs what p2p needs to build and test on Debian 12 (run as root).
set -euo pipefail
pkgs=(build-essential binutils cmake pkg-config
      libcaf-dev libcli11-dev nlohmann-json3-dev catch2 libspdlog-dev libssl-dev
      iproute2 procps clang-14 libfuzzer-14-dev)
missing=()
for p in "${pkgs[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
