#!/usr/bin/env bash
# Installs everything IsleDB needs to build and test on Debian 12 (bookworm).
# prometheus brings promtool (the daemons' /metrics lint test), wrk the
# HTTP benchmarks' load generator.
# Idempotent: packages already present are skipped without touching apt.
set -euo pipefail

PKGS=(
  build-essential g++ cmake ninja-build ccache pkg-config git
  libboost-dev libboost-program-options-dev
  libssl-dev nlohmann-json3-dev libzstd-dev liblz4-dev
  libyaml-cpp-dev libspdlog-dev libxxhash-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev
  prometheus wrk curl openssl
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
