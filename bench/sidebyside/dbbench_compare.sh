#!/usr/bin/env bash
# RocksDB's db_bench next to isle_dbbench (libisle's public API) on the same
# workload, the same machine, one thread: fillrandom, readrandom,
# readmissing, seekrandom. Prints each round's ops/s and a table of medians
# with the isle / RocksDB ratio. Not part of the test command (it is a
# benchmark). Results go to docs/BENCHMARKS.md by hand, with this command.
#
#   cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DISLE_BUILD_TESTS=OFF
#   ninja -C build-bench isle_dbbench
#   bench/sidebyside/dbbench_compare.sh [BUILD_DIR]        (default build-bench)
#
# Environment: NUM (1000000), KEY_SIZE (16), VALUE_SIZE (100), READS (NUM),
# SEEK_NEXTS (0, db_bench's default), ROUNDS (3), SEED (1; the read phase
# uses SEED+1 on both sides), CACHE_SIZE (1 GiB, both engines), WORKDIR
# (/tmp/isle-dbbench: both databases live under it, as files),
# ISLE_DBBENCH (BUILD_DIR/bin/isle_dbbench), ISLE_DBBENCH_BEFORE (optional:
# a second isle_dbbench, e.g. one built from an older commit; it gets its
# own column and ratio, from the same rounds), DB_BENCH (db_bench on PATH;
# if missing, Debian's rocksdb-tools is installed with apt-get).
#
# Fairness (what each option is and why):
#   * Both engines keep their data in files on the same filesystem
#     (RocksDB: its own directory; isle: a file:// store), one thread.
#   * compression none on both (db_bench defaults to snappy, isle to lz4;
#     neither would shrink the random values much, and the comparison is of
#     the read path, not of a codec).
#   * 4 KiB data blocks, 10 bloom bits per key on both (isle's defaults;
#     db_bench would otherwise build no filter, making readmissing unfair
#     to RocksDB), 64 MiB memtable on both (RocksDB's default
#     write_buffer_size; isle flushes by size only here, as RocksDB does).
#     Neither side compacts after the fill: RocksDB reopens with three L0
#     files, isle with the same count of L0 SSTs (printed as "shape").
#   * Warm cache: a 1 GiB block cache on both (the ~100 MB database fits),
#     and an untimed full scan before the timed reads (db_bench's readseq;
#     isle_dbbench's warm-up scan). Index and filter blocks are held by the
#     table readers on both sides (db_bench's default
#     cache_index_and_filter_blocks=false; isle pins them).
#   * seekrandom opens a new iterator per seek on both (db_bench does
#     unless --use_tailing_iterator) and calls next() SEEK_NEXTS times.
#   * The fill is timed until the data is durable on isle's side (its
#     final flush is inside the timing); RocksDB's fill ends with the last
#     put (its WAL is written, not synced). Fill is reported, not targeted.
set -euo pipefail

BUILD_DIR=${1:-build-bench}
NUM=${NUM:-1000000}
KEY_SIZE=${KEY_SIZE:-16}
VALUE_SIZE=${VALUE_SIZE:-100}
READS=${READS:-$NUM}
SEEK_NEXTS=${SEEK_NEXTS:-0}
ROUNDS=${ROUNDS:-3}
SEED=${SEED:-1}
CACHE_SIZE=${CACHE_SIZE:-1073741824}
WORKDIR=${WORKDIR:-/tmp/isle-dbbench}
ISLE_DBBENCH=${ISLE_DBBENCH:-$BUILD_DIR/bin/isle_dbbench}
ISLE_DBBENCH_BEFORE=${ISLE_DBBENCH_BEFORE:-}
DB_BENCH=${DB_BENCH:-db_bench}

if ! command -v "$DB_BENCH" >/dev/null 2>&1; then
  echo "db_bench not found: installing Debian's rocksdb-tools" >&2
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y rocksdb-tools >&2
  else
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y rocksdb-tools >&2
  fi
fi
[ -x "$ISLE_DBBENCH" ] || { echo "no isle_dbbench at $ISLE_DBBENCH (build it, see above)" >&2; exit 1; }
if [ -n "$ISLE_DBBENCH_BEFORE" ] && [ ! -x "$ISLE_DBBENCH_BEFORE" ]; then
  echo "no isle_dbbench at ISLE_DBBENCH_BEFORE=$ISLE_DBBENCH_BEFORE" >&2; exit 1
fi

COMMON=(--num="$NUM" --key_size="$KEY_SIZE" --value_size="$VALUE_SIZE" --threads=1
        --compression_type=none --bloom_bits=10 --block_size=4096
        --write_buffer_size=67108864 --cache_size="$CACHE_SIZE")
READ_BENCHES=readrandom,readmissing,seekrandom
mkdir -p "$WORKDIR"
OUT="$WORKDIR/results.txt"
: >"$OUT"

# Appends "engine bench ops/s" for every db_bench-format line of stdin.
collect() {
  local engine=$1
  awk -v e="$engine" '$2 == ":" && $4 == "micros/op" && $1 != "warmup-scan" && $1 != "readseq" {
    print e, $1, $5 }' | tee -a "$OUT"
}

run_rocksdb() {
  rm -rf "$WORKDIR/rocksdb"
  # db_bench prints its progress on stderr: kept in a file.
  "$DB_BENCH" "${COMMON[@]}" --db="$WORKDIR/rocksdb" --seed="$SEED" --benchmarks=fillrandom \
    2>>"$WORKDIR/db_bench.stderr" | collect rocksdb
  "$DB_BENCH" "${COMMON[@]}" --db="$WORKDIR/rocksdb" --seed="$((SEED + 1))" --use_existing_db=1 \
    --reads="$READS" --seek_nexts="$SEEK_NEXTS" --benchmarks=readseq,$READ_BENCHES \
    2>>"$WORKDIR/db_bench.stderr" | collect rocksdb
}

run_isle() {
  local engine=$1 bin=$2 dir="$WORKDIR/isle-$1"
  rm -rf "$dir"
  mkdir -p "$dir"
  "$bin" --db="file://$dir" --num="$NUM" --key_size="$KEY_SIZE" --value_size="$VALUE_SIZE" \
    --compression_type=none --bloom_bits=10 --block_size=4096 --write_buffer_size=67108864 \
    --seed="$SEED" --benchmarks=fillrandom | collect "$engine"
  "$bin" --db="file://$dir" --num="$NUM" --key_size="$KEY_SIZE" --value_size="$VALUE_SIZE" \
    --cache_size="$CACHE_SIZE" --seed="$((SEED + 1))" --use_existing_db=1 --reads="$READS" \
    --seek_nexts="$SEEK_NEXTS" --benchmarks=$READ_BENCHES | tee >(grep '^shape' >&2) | collect "$engine"
}

ENGINES=(rocksdb isle)
[ -n "$ISLE_DBBENCH_BEFORE" ] && ENGINES=(rocksdb isle-before isle)
for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round / $ROUNDS" >&2
  run_rocksdb
  [ -n "$ISLE_DBBENCH_BEFORE" ] && run_isle isle-before "$ISLE_DBBENCH_BEFORE"
  run_isle isle "$ISLE_DBBENCH"
done

median() {  # engine bench -> median ops/s over the rounds
  awk -v e="$1" -v b="$2" '$1 == e && $2 == b { print $3 }' "$OUT" | sort -n |
    awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2];
                               else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

echo
echo "db_bench vs isle_dbbench: num=$NUM key=$KEY_SIZE B value=$VALUE_SIZE B reads=$READS" \
     "seek_nexts=$SEEK_NEXTS, 1 thread, medians of $ROUNDS rounds (ops/s)"
header="| benchmark | rocksdb"
rule="| --- | ---"
for e in "${ENGINES[@]:1}"; do header+=" | $e | $e / rocksdb"; rule+=" | --- | ---"; done
echo "$header |"
echo "$rule |"
for b in fillrandom readrandom readmissing seekrandom; do
  r=$(median rocksdb "$b")
  line="| $b | $r"
  for e in "${ENGINES[@]:1}"; do
    v=$(median "$e" "$b")
    ratio=$(awk -v a="$v" -v b="$r" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }')
    line+=" | $v | $ratio"
  done
  echo "$line |"
done
echo "(per-round figures: $OUT)"
