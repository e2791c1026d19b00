#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (in build-fuzz/) and runs each one
# for a bounded time. Exits non-zero if any target finds a crash.
#
# Every executable target named isle_*_fuzz is run. If a program named
# <target>_corpus exists, it is run first with the corpus directory as its
# argument to write valid seed inputs. Corpora persist in
# build-fuzz/fuzz-corpus/<target>/ (they grow from run to run); crashing
# inputs land in build-fuzz/fuzz-artifacts/.
#
# Environment:
#   FUZZ_SECONDS=N     time per target (default 60)
#   FUZZ_BUILD_DIR=D   build directory (default build-fuzz)
#   ISLE_JOBS=N        build parallelism (default: nproc)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v clang++ >/dev/null 2>&1 || ! command -v clang >/dev/null 2>&1; then
  echo "clang not found: fuzzing skipped"
  exit 0
fi

# As in build.sh: ccache keys on paths relative to the checkout.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
dir=${FUZZ_BUILD_DIR:-build-fuzz}
secs=${FUZZ_SECONDS:-60}
if [[ ! -f "$dir/build.ninja" ]]; then
  CC=clang CXX=clang++ cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DISLE_BUILD_FUZZ=ON -DISLE_BUILD_TESTS=OFF -DISLE_BUILD_BENCH=OFF
fi

# The fuzz targets and their corpus writers, as Ninja knows them.
mapfile -t targets < <(ninja -C "$dir" -t targets all | sed -nE 's/^(isle_[a-z0-9_]+_fuzz): phony$/\1/p' | sort -u)
if ((${#targets[@]} == 0)); then
  echo "run-fuzz: no fuzz targets found in $dir" >&2
  exit 1
fi
build=()
for t in "${targets[@]}"; do
  build+=("$t")
  if ninja -C "$dir" -t targets all | grep -q "^${t}_corpus: phony$"; then build+=("${t}_corpus"); fi
done
ninja -C "$dir" -j "${ISLE_JOBS:-$(nproc)}" "${build[@]}"

failed=0
for t in "${targets[@]}"; do
  corpus="$dir/fuzz-corpus/$t"
  artifacts="$dir/fuzz-artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  if [[ -x "$dir/bin/${t}_corpus" ]]; then
    "$dir/bin/${t}_corpus" "$corpus"
  fi
  echo "=== fuzz $t for ${secs}s (corpus $corpus)"
  set +e
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
    "$dir/bin/$t" -max_total_time="$secs" -timeout=30 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$corpus"
  rc=$?
  set -e
  if [[ $rc -ne 0 ]]; then
    echo "run-fuzz: $t FAILED (exit $rc); crashing input in $artifacts/" >&2
    failed=1
  else
    echo "run-fuzz: $t ok"
  fi
done
exit $failed
