// SST microbenchmarks: build throughput per codec (MB/s of raw key+value
// bytes) and point lookups from memory and through ranged object-store
// reads. Values are semi-compressible (JSON-like text with random fields),
// which is what event logs and KV payloads look like.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "format/sst_builder.h"
#include "format/sst_reader.h"
#include "format/sst_source.h"
#include "isle/object_store.h"
#include "util/random.h"

namespace {

using namespace isle;

constexpr uint64_t kEntries = 100'000;

std::string key_of(uint64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "user/%010llu", static_cast<unsigned long long>(i));
  return buf;
}

std::string value_of(Random& rnd, uint64_t i) {
  char buf[128];
  std::snprintf(buf, sizeof buf, R"({"id":%llu,"name":"user-%llu","score":%llu,"region":"eu-%llu"})",
                static_cast<unsigned long long>(i), static_cast<unsigned long long>(rnd.uniform(1u << 20)),
                static_cast<unsigned long long>(rnd.uniform(1000000)),
                static_cast<unsigned long long>(rnd.uniform(4)));
  return buf;
}

struct Dataset {
  std::vector<std::string> keys, values;
  uint64_t raw_bytes = 0;
};

const Dataset& dataset() {
  static Dataset d = [] {
    Dataset d;
    Random rnd(7);
    for (uint64_t i = 0; i < kEntries; i++) {
      d.keys.push_back(make_internal_key(key_of(i), i + 1, ValueKind::kPut));
      d.values.push_back(value_of(rnd, i));
      d.raw_bytes += d.keys.back().size() + d.values.back().size();
    }
    return d;
  }();
  return d;
}

std::string build(CompressionType c, int bloom_bits = 10) {
  const Dataset& d = dataset();
  SstBuilderOptions o;
  o.compression = c;
  o.bloom_bits_per_key = bloom_bits;
  o.creation_time_ms = 0;
  StringSink sink;
  SstBuilder b(o, &sink);
  for (uint64_t i = 0; i < kEntries; i++) (void)b.add(d.keys[i], d.values[i]);
  (void)b.finish();
  return sink.release();
}

void BM_SstBuild(benchmark::State& state) {
  auto codec = static_cast<CompressionType>(state.range(0));
  uint64_t size = 0;
  for (auto _ : state) size = build(codec).size();
  state.SetBytesProcessed(state.iterations() * dataset().raw_bytes);
  state.counters["ratio"] = double(dataset().raw_bytes) / double(size);
}
BENCHMARK(BM_SstBuild)
    ->ArgName("codec")
    ->Arg(static_cast<int>(CompressionType::kNone))
    ->Arg(static_cast<int>(CompressionType::kLz4))
    ->Arg(static_cast<int>(CompressionType::kZstd))
    ->Unit(benchmark::kMillisecond);

// arg 0: codec; arg 1: 1 = present keys, 0 = absent keys (bloom).
void BM_SstGetMemory(benchmark::State& state) {
  auto codec = static_cast<CompressionType>(state.range(0));
  bool present = state.range(1) != 0;
  auto reader = SstReader::open(std::make_shared<MemorySource>(build(codec)));
  if (!reader.ok()) {
    state.SkipWithError(reader.status().to_string().c_str());
    return;
  }
  Random rnd(3);
  for (auto _ : state) {
    uint64_t i = rnd.uniform(kEntries);
    auto got = (*reader)->get(present ? key_of(i) : key_of(i) + "x");
    benchmark::DoNotOptimize(got);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SstGetMemory)
    ->ArgNames({"codec", "present"})
    ->Args({static_cast<int>(CompressionType::kNone), 1})
    ->Args({static_cast<int>(CompressionType::kLz4), 1})
    ->Args({static_cast<int>(CompressionType::kZstd), 1})
    ->Args({static_cast<int>(CompressionType::kLz4), 0});

// Point lookups through ObjectStoreSource: one ranged GET per lookup, no
// cache yet. Over mem:// this measures our request path, not a network.
void BM_SstGetRanged(benchmark::State& state) {
  auto store = open_object_store("mem://");
  if (!store.ok() || !(*store)->put("sstable/bench.sst", build(CompressionType::kLz4)).ok()) {
    state.SkipWithError("setup failed");
    return;
  }
  auto source = std::make_shared<ObjectStoreSource>(*store, "sstable/bench.sst");
  auto reader = SstReader::open(source);
  if (!reader.ok()) {
    state.SkipWithError(reader.status().to_string().c_str());
    return;
  }
  uint64_t before = source->requests();
  Random rnd(4);
  for (auto _ : state) {
    auto got = (*reader)->get(key_of(rnd.uniform(kEntries)));
    benchmark::DoNotOptimize(got);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["gets_per_lookup"] =
      double(source->requests() - before) / double(state.iterations());
}
BENCHMARK(BM_SstGetRanged);

}  // namespace
