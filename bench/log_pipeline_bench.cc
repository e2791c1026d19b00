// Several flushes in flight at the manifest layer: add_sstable commits per
// second through a LogPipeline (libisle/src/manifest/log_pipeline.h) over
// simulated S3 (LatencyStore s3_standard: PUT p50 35 / p99 200 ms), with
// max_in_flight = 1 (ManifestLog::append, one create per round trip), 2,
// 4 and 8. One iteration = 100 commits, the caller keeping 2 x K entries
// submitted. This isolates the log: the engine's durable-put figures are
// BM_DurablePut in engine_bench.cc.
//
//   build/bin/isle_log_pipeline_bench --benchmark_filter=BM_LogPipelineCommits
#include <benchmark/benchmark.h>

#include "manifest/log_pipeline.h"
#include "store/latency_store.h"
#include "store/mem_store.h"

namespace isle {
namespace {

LogEntry bench_flush(uint64_t i) {
  LogEntry e;
  e.op = LogOp::kAddSstable;
  SstMeta m;
  m.id = "sst-" + std::to_string(i);
  m.sha256 = std::string(64, 'a');
  m.min_key = "a";
  m.max_key = "z";
  m.seq_lo = 10 * i + 1;
  m.seq_hi = 10 * i + 10;
  m.num_entries = 10;
  e.added = {m};
  e.last_seq = m.seq_hi;
  e.seq_reserved = m.seq_hi + 1000;
  return e;
}

void BM_LogPipelineCommits(benchmark::State& state) {
  const int k = static_cast<int>(state.range(0));
  constexpr int kCommits = 100;
  uint64_t next = 0;
  double seconds = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto mem = std::make_shared<MemStore>();
    auto lat = std::make_shared<LatencyStore>(mem, LatencyProfile::s3_standard(), 7 + next);
    ManifestLog log(object_store_manifest_storage(lat));
    if (!log.open().ok() || !log.claim(Role::kWriter, "bench").ok()) {
      return state.SkipWithError("claim failed");
    }
    LogPipelineOptions o;
    o.max_in_flight = k;
    LogPipeline pipe(&log, o);
    state.ResumeTiming();
    const auto t0 = std::chrono::steady_clock::now();
    int submitted = 0, done = 0;
    while (done < kCommits) {
      while (submitted < kCommits && pipe.pending() < static_cast<size_t>(2 * k)) {
        if (!pipe.submit(bench_flush(next++)).ok()) return state.SkipWithError("submit failed");
        submitted++;
      }
      auto p = pipe.step(std::chrono::milliseconds(100));
      if (!p.status.ok()) return state.SkipWithError(p.status.to_string().c_str());
      done += static_cast<int>(p.committed.size());
    }
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  state.counters["commits_per_s"] =
      static_cast<double>(kCommits) * static_cast<double>(state.iterations()) / seconds;
}
BENCHMARK(BM_LogPipelineCommits)
    ->ArgName("in_flight")
    ->Arg(1)
    ->Arg(2)
    ->Arg(4)
    ->Arg(8)
    ->Iterations(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace isle
