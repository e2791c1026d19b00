#!/usr/bin/env bash
# Installs everything IsleDB needs to build and test on Debian 12 (bookworm).
# prometheus brings promtool (the daemons' /metrics lint test), wrk the
# HTTP benchmarks' load generator, systemd `systemd-analyze` (the units'
# static checks), nginx `nginx -t` (the proxy example's check) and jq
# (examples/eventhub-s3's checks). Packages
# are installed, never started: a policy-rc.d that says "no" is in place
# while apt runs, unless one already exists.
# Idempotent: packages already present are skipped without touching apt.
set -euo pipefail

PKGS=(
  build-essential g++ cmake ninja-build ccache pkg-config git
  libboost-dev libboost-program-options-dev
  libssl-dev nlohmann-json3-dev libzstd-dev liblz4-dev
  libyaml-cpp-dev libspdlog-dev libxxhash-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev
  prometheus wrk curl openssl systemd nginx
  jq
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
policy=/usr/sbin/policy-rc.d
own_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  own_policy=1
fi
status=0
$SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" || status=$?
if ((own_policy)); then $SUDO rm -f "$policy"; fi
exit "$status"
