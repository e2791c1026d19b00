// Memtable microbenchmarks: insert throughput (sequential and random keys)
// and point lookups. Keys 16 bytes, values 100 bytes unless the argument
// says otherwise.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "lsm/memtable.h"
#include "util/random.h"

namespace {

using namespace isle;

std::string key_of(uint64_t i) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(i));
  return std::string(buf, 16);
}

// Inserts into a memtable that is replaced every `kPerTable` entries (the
// replacement is not timed), so the table stays at a realistic flush size.
void insert_bench(benchmark::State& state, bool random_keys) {
  const size_t value_size = state.range(0);
  constexpr uint64_t kPerTable = 400'000;  // ~50 MiB of arena with 100-byte values
  Random rnd(1);
  std::string value = rnd.bytes(value_size);
  std::vector<std::string> keys(kPerTable);
  for (uint64_t i = 0; i < kPerTable; i++) keys[i] = key_of(random_keys ? rnd.next() : i);
  auto mem = std::make_unique<Memtable>();
  uint64_t n = 0, seq = 0;
  for (auto _ : state) {
    if (n == kPerTable) {
      state.PauseTiming();
      mem = std::make_unique<Memtable>();
      n = 0;
      state.ResumeTiming();
    }
    Status s = mem->add(++seq, ValueKind::kPut, keys[n++], value);
    if (!s.ok()) state.SkipWithError(s.to_string().c_str());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * (16 + value_size));
}

void BM_MemtableInsertSequential(benchmark::State& state) { insert_bench(state, false); }
void BM_MemtableInsertRandom(benchmark::State& state) { insert_bench(state, true); }
BENCHMARK(BM_MemtableInsertSequential)->Arg(100)->Arg(1000);
BENCHMARK(BM_MemtableInsertRandom)->Arg(100)->Arg(1000);

void BM_MemtableGet(benchmark::State& state) {
  const uint64_t entries = state.range(0);
  Memtable mem;
  Random rnd(2);
  std::string value = rnd.bytes(100);
  for (uint64_t i = 0; i < entries; i++) (void)mem.add(i + 1, ValueKind::kPut, key_of(i * 2), value);
  uint64_t hits = 0;
  for (auto _ : state) {
    auto e = mem.get(key_of(rnd.uniform(entries * 2)));  // half present, half absent
    hits += e.has_value();
    benchmark::DoNotOptimize(e);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["hit_ratio"] = double(hits) / double(state.iterations());
}
BENCHMARK(BM_MemtableGet)->Arg(100'000)->Arg(1'000'000);

}  // namespace
