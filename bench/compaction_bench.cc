// Compaction throughput: how fast the Compactor merges L0 into a sorted run
// on mem://, compared with the raw codec throughput on the same bytes.
//
//   BM_Compaction/codec/read_ahead_kib
//                            4 overlapping L0 SSTs of ~8 MB raw key+value
//                            each (half the keys rewritten, so merging
//                            drops versions), compacted into one run with
//                            the codec (0 none, 1 lz4, 2 zstd), inputs read
//                            block by block (0) or with 4 MiB read-ahead.
//                            MB/s of raw input key+value bytes per second
//                            of wall time.
//   BM_RawCodec/codec        compress_block over 4 KiB blocks of the same
//                            kind of data: the ceiling a compaction that
//                            must re-compress everything can approach.
//   BM_CompactionS3/read_ahead_kib
//                            the same merge (lz4, a tenth of the data) with
//                            the compactor reading and writing through
//                            LatencyStore's s3_standard profile (real
//                            sleeps), for input read-ahead chunks of 4 KiB
//                            (one GET per data block, as before read-ahead
//                            existed), 256 KiB and 4 MiB (the default).
// The ratio BM_Compaction / BM_RawCodec for one codec is what the merge,
// the SST format and the object-store layer cost on top of compression.
// Values are half random bytes and half a repeated pattern, so they
// compress about 2:1.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "format/compression.h"
#include "isle/compactor.h"
#include "isle/db.h"
#include "store/latency_store.h"
#include "store/mem_store.h"
#include "store/metrics_store.h"
#include "util/random.h"

namespace {

using namespace isle;

constexpr int kL0 = 4;
constexpr int kKeysPerSst = 60'000;
constexpr size_t kValueSize = 120;

std::string value_of(Random& rnd) {
  std::string v = rnd.bytes(kValueSize / 2);
  v.append(kValueSize / 2, 'p');
  return v;
}

std::string key_of(int i) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "key%013d", i);
  return buf;
}

// Writes kL0 overlapping L0 SSTs of `keys` entries each into `store` (each
// rewrites half of the previous one's keys and adds new ones); returns the
// raw key+value bytes written.
Result<double> write_overlapping_l0(const ObjectStorePtr& store, const DBOptions& dbo,
                                    Compression codec, int keys) {
  auto db = DB::open(store, dbo);
  if (!db.ok()) return db.status();
  WriterOptions wo;
  wo.compression = codec;
  wo.flush_interval = std::chrono::hours(1);
  auto w = db->open_writer(wo);
  if (!w.ok()) return w.status();
  Random rnd(42);
  double raw_bytes = 0;
  for (int f = 0; f < kL0; f++) {
    const int first = f * keys / 2;
    for (int i = first; i < first + keys; i++) {
      const std::string k = key_of(i);
      ISLE_RETURN_IF_ERROR((*w)->put(k, value_of(rnd)).status());
      raw_bytes += static_cast<double>(k.size() + kValueSize);
    }
    ISLE_RETURN_IF_ERROR((*w)->flush());
  }
  ISLE_RETURN_IF_ERROR((*w)->close());
  return raw_bytes;
}

void BM_Compaction(benchmark::State& state) {
  const auto codec = static_cast<Compression>(state.range(0));
  const uint64_t read_ahead = static_cast<uint64_t>(state.range(1)) * 1024;
  double raw_bytes = 0;
  uint64_t out_bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto store = std::make_shared<MemStore>();
    DBOptions dbo;
    dbo.prefix = "bench";
    auto written = write_overlapping_l0(store, dbo, codec, kKeysPerSst);
    if (!written.ok()) return state.SkipWithError(written.status().to_string().c_str());
    raw_bytes = *written;
    CompactorOptions co;
    co.l0_threshold = kL0;
    co.compression = codec;
    co.read_ahead_bytes = read_ahead;
    auto c = Compactor::open(store, dbo, co);
    if (!c.ok()) return state.SkipWithError(c.status().to_string().c_str());
    state.ResumeTiming();
    auto info = (*c)->run_compaction();
    state.PauseTiming();
    if (!info.ok() || info->inputs.size() != kL0) return state.SkipWithError("compaction");
    out_bytes = info->output_bytes;
    state.ResumeTiming();
  }
  state.counters["MB_per_s"] = benchmark::Counter(raw_bytes / 1e6, benchmark::Counter::kIsRate);
  state.counters["input_raw_MB"] = raw_bytes / 1e6;
  state.counters["output_MB"] = static_cast<double>(out_bytes) / 1e6;
}
BENCHMARK(BM_Compaction)
    ->ArgNames({"codec", "read_ahead_kib"})
    ->ArgsProduct({{0, 1, 2}, {0, 4096}})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1)
    ->UseRealTime();

void BM_CompactionS3(benchmark::State& state) {
  const uint64_t read_ahead = static_cast<uint64_t>(state.range(0)) * 1024;
  constexpr int kKeys = kKeysPerSst / 10;
  double raw_bytes = 0;
  uint64_t gets = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto mem = std::make_shared<MemStore>();
    DBOptions dbo;
    dbo.prefix = "bench";
    auto written = write_overlapping_l0(mem, dbo, Compression::kLz4, kKeys);
    if (!written.ok()) return state.SkipWithError(written.status().to_string().c_str());
    raw_bytes = *written;
    auto s3 = std::make_shared<MetricsStore>(
        std::make_shared<LatencyStore>(mem, LatencyProfile::s3_standard(), 7));
    CompactorOptions co;
    co.l0_threshold = kL0;
    co.read_ahead_bytes = read_ahead;
    auto c = Compactor::open(s3, dbo, co);
    if (!c.ok()) return state.SkipWithError(c.status().to_string().c_str());
    const uint64_t gets_before = s3->snapshot().op(StoreOp::kGet).requests;
    state.ResumeTiming();
    auto info = (*c)->run_compaction();
    state.PauseTiming();
    if (!info.ok() || info->inputs.size() != kL0) return state.SkipWithError("compaction");
    gets = s3->snapshot().op(StoreOp::kGet).requests - gets_before;
    state.ResumeTiming();
  }
  state.counters["MB_per_s"] = benchmark::Counter(raw_bytes / 1e6, benchmark::Counter::kIsRate);
  state.counters["input_raw_MB"] = raw_bytes / 1e6;
  state.counters["GETs"] = static_cast<double>(gets);
}
BENCHMARK(BM_CompactionS3)->ArgName("read_ahead_kib")->Arg(4)->Arg(256)->Arg(4096)->Unit(benchmark::kMillisecond)->Iterations(1)->Repetitions(3)->UseRealTime();

void BM_RawCodec(benchmark::State& state) {
  const auto type = static_cast<CompressionType>(state.range(0));
  Random rnd(7);
  // 4 KiB blocks of key+value records like the ones compacted above.
  std::vector<std::string> blocks;
  for (int b = 0; b < 512; b++) {
    std::string block;
    int i = b * 40;
    while (block.size() < 4096) {
      block += key_of(i++);
      block += value_of(rnd);
    }
    blocks.push_back(std::move(block));
  }
  double bytes = 0;
  std::string out;
  for (auto _ : state) {
    for (const auto& blk : blocks) {
      if (type == CompressionType::kNone) {
        out.assign(blk);
      } else if (!compress_block(type, 0, blk, &out)) {
        out.assign(blk);
      }
      benchmark::DoNotOptimize(out.data());
      bytes += static_cast<double>(blk.size());
    }
  }
  state.counters["MB_per_s"] = benchmark::Counter(bytes / 1e6, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_RawCodec)->ArgName("codec")->Arg(0)->Arg(1)->Arg(2);

}  // namespace
