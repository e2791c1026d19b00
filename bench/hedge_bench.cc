// Hedged requests over simulated S3 latency (LatencyStore s3_standard over
// mem://): GET and create-only PUT latency p50/p99 with hedging off and on
// (default HedgeOptions: p95 delay, 10 ms floor, 5 % budget), and the
// extra requests hedging cost, all in one run:
//
//   build/bin/isle_hedge_bench
//
// Each benchmark is one pass (Iterations(1)): kThreads callers issue
// kWarmup requests (not measured; they fill the latency trackers), then
// kRequests measured ones. Counters: p50_ms / p99_ms / p999_ms over the
// measured requests, requests (sent by callers), store_requests (reaching
// the store, hedges included), extra_pct = hedges / requests in percent,
// hedges_won. Objects are 1 KiB; PUT keys are unique (create-only, as an
// SST or a manifest log entry). Latencies are real sleeps: wall time.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "store/hedged_store.h"
#include "store/latency_store.h"
#include "store/mem_store.h"
#include "store/metrics_store.h"

namespace isle {
namespace {

constexpr int kThreads = 16;
constexpr int kWarmup = 400;
constexpr int kRequests = 4000;
constexpr int kGetKeys = 1000;

double quantile_ms(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(q * static_cast<double>(v.size()));
  return v[std::min(rank, v.size() - 1)];
}

// state.range(0): 0 = GET, 1 = create-only PUT; state.range(1): hedging.
void BM_Hedge(benchmark::State& state) {
  const bool put = state.range(0) == 1;
  const bool hedge = state.range(1) == 1;
  for (auto _ : state) {
    auto mem = std::make_shared<MemStore>();
    const std::string body(1024, 'v');
    for (int i = 0; i < kGetKeys; i++) (void)mem->put("obj/" + std::to_string(i), body);
    auto metrics = std::make_shared<MetricsStore>(
        std::make_shared<LatencyStore>(mem, LatencyProfile::s3_standard(), 42));
    HedgeOptions ho;
    ho.enabled = hedge;
    ho.hedge_local_stores = true;  // mem:// under a simulated S3
    auto store = std::make_shared<HedgedStore>(metrics, ho);

    std::atomic<int> next{0};
    std::vector<std::vector<double>> lat(kThreads);
    auto one = [&](int i) {
      if (put) {
        (void)store->put("new/" + std::to_string(i), body, PutOptions::create_only());
      } else {
        (void)store->get("obj/" + std::to_string(i % kGetKeys));
      }
    };
    auto phase = [&](int total, bool record) {
      next = 0;
      std::vector<std::thread> ts;
      for (int t = 0; t < kThreads; t++) {
        ts.emplace_back([&, t] {
          for (int i; (i = next++) < total;) {
            const auto start = std::chrono::steady_clock::now();
            one(record ? i + kWarmup : i);
            const std::chrono::duration<double, std::milli> took =
                std::chrono::steady_clock::now() - start;
            if (record) lat[t].push_back(took.count());
          }
        });
      }
      for (auto& t : ts) t.join();
    };
    phase(kWarmup, false);
    // Let the warm-up's losers finish before counting.
    while (store->busy_workers() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    metrics->reset();
    const HedgeStats before = store->stats();
    const auto start = std::chrono::steady_clock::now();
    phase(kRequests, true);
    const std::chrono::duration<double> wall = std::chrono::steady_clock::now() - start;
    while (store->busy_workers() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    state.SetIterationTime(wall.count());

    std::vector<double> all;
    for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
    const HedgeClassStats s = store->stats().total();
    const HedgeClassStats b = before.total();
    const auto snap = metrics->snapshot().op(put ? StoreOp::kPut : StoreOp::kGet);
    state.counters["p50_ms"] = quantile_ms(all, 0.50);
    state.counters["p99_ms"] = quantile_ms(all, 0.99);
    state.counters["p999_ms"] = quantile_ms(all, 0.999);
    state.counters["requests"] = static_cast<double>(all.size());
    state.counters["store_requests"] = static_cast<double>(snap.requests);
    state.counters["extra_pct"] =
        100.0 * static_cast<double>(s.hedges_sent - b.hedges_sent) / static_cast<double>(all.size());
    state.counters["hedges_won"] = static_cast<double>(s.hedges_won - b.hedges_won);
    state.counters["denied_budget"] = static_cast<double>(s.denied_budget - b.denied_budget);
  }
}
BENCHMARK(BM_Hedge)
    ->ArgNames({"put", "hedge"})
    ->Args({0, 0})
    ->Args({0, 1})
    ->Args({1, 0})
    ->Args({1, 1})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace isle
