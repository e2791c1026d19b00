#!/usr/bin/env bash
# Configures and builds one IsleDB build directory.
#   scripts/build.sh [BUILD_DIR] [extra cmake args...]
# Defaults to ./build (RelWithDebInfo). Re-running is cheap: CMake and Ninja
# only redo what changed, and ccache keeps clean rebuilds fast.
set -euo pipefail
cd "$(dirname "$0")/.."
# ccache keys on paths relative to the checkout, so a fresh clone in
# another folder (CI's) reuses what an earlier build compiled.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
dir=${1:-build}
shift || true
if [[ ! -f "$dir/build.ninja" ]]; then
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
elif (($#)); then
  cmake -S . -B "$dir" "$@" >/dev/null
fi
ninja -C "$dir" -j "${ISLE_JOBS:-$(nproc)}"
