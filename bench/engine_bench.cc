// Engine benchmarks: the Writer and Reader of the embedded API (DB),
// end to end, through the object-store layer.
//
// What each one measures (keys are 16 bytes, values 100 incompressible
// bytes, unless said otherwise; the real system clock throughout):
//   BM_Put                     non-durable Writer::put into a writer on
//                              mem:// with default WriterOptions: ops/s, MB/s.
//   BM_Flush                   Writer::flush() of a full memtable of N MB on
//                              mem:// (build SST + upload + commit): MB/s.
//   BM_CachedGet               Reader::get of present keys with every data
//                              block already in the block cache: ns/op.
//   BM_ColdFirstGet            a fresh Reader over simulated S3 latency
//                              (LatencyStore, s3_standard, over mem://): the
//                              first get of an SST (tail read + data block);
//                              GETs per get counted by a MetricsStore.
//   BM_ColdGetOtherBlock       later gets on that reader, each in a block not
//                              fetched yet (one GET each), then the same keys
//                              again (cached).
//   BM_DurablePut              put + await_durable over simulated S3, from 1
//                              or 8 threads (group commit): p50/p99 latency
//                              computed from every recorded put, and PUT
//                              requests per durable put.
//   BM_RequestsPerMillionPuts  object-store requests by operation per
//                              million non-durable puts, default options.
//   BM_RequestsDurableEveryPut the same for put + await_durable on every put
//                              (2,000 puts, extrapolated per million).
// Latencies over LatencyStore are real sleeps (its default sleep), so those
// benchmarks measure wall time (manual time), not CPU time.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "isle/db.h"
#include "isle/reader.h"
#include "isle/writer.h"
#include "proxy/bench_store_url.h"
#include "store/latency_store.h"
#include "store/mem_store.h"
#include "store/metrics_store.h"
#include "util/random.h"

namespace {

using namespace isle;
using Clock = std::chrono::steady_clock;

constexpr size_t kKeySize = 16;
constexpr size_t kValueSize = 100;
constexpr size_t kRawEntryBytes = kKeySize + kValueSize;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// A 16-byte key: n as 16 zero-padded decimal digits (so key order is
// numeric order).
struct Key {
  char buf[kKeySize];
  explicit Key(uint64_t n) {
    for (int i = static_cast<int>(kKeySize) - 1; i >= 0; i--) {
      buf[i] = static_cast<char>('0' + n % 10);
      n /= 10;
    }
  }
  std::string_view view() const { return {buf, kKeySize}; }
};

// Key number of the i-th write: sequential, or scattered over 10^16.
uint64_t key_number(uint64_t i, bool random_order) {
  return random_order ? mix64(i) % 10'000'000'000'000'000ull : i;
}

// 100 random bytes; consecutive values share no 4-byte run, so lz4 leaves
// them as they are.
std::string_view value_of(uint64_t i) {
  static const std::string pool = Random(42).bytes(65536 + kValueSize);
  return std::string_view(pool).substr((i * 97) % 65536, kValueSize);
}

// A different LatencyStore seed for every store, so repetitions draw
// different latencies.
uint64_t next_seed() {
  static std::atomic<uint64_t> seed{1000};
  return seed.fetch_add(1);
}

// A bucket: a MemStore, optionally behind simulated S3 latency, behind a
// MetricsStore that counts every request the engine makes.
struct Bucket {
  std::shared_ptr<MemStore> mem = std::make_shared<MemStore>();
  std::shared_ptr<LatencyStore> latency;
  std::shared_ptr<MetricsStore> metrics;

  explicit Bucket(bool s3) {
    ObjectStorePtr inner = mem;
    if (s3) {
      latency = std::make_shared<LatencyStore>(mem, LatencyProfile::s3_standard(), next_seed());
      inner = latency;
    }
    metrics = std::make_shared<MetricsStore>(inner);
  }
  // The same bytes seen through simulated S3 latency (for data loaded fast).
  std::shared_ptr<MetricsStore> s3_view() const {
    return std::make_shared<MetricsStore>(
        std::make_shared<LatencyStore>(mem, LatencyProfile::s3_standard(), next_seed()));
  }
};

DB open_db(ObjectStorePtr store) {
  DBOptions o;
  o.prefix = "db";
  auto db = DB::open(std::move(store), o);
  if (!db.ok()) std::abort();
  return *db;
}

WriterOptions loader_options() {
  WriterOptions o;
  o.memtable_size = size_t{1} << 30;  // never sealed by size
  o.flush_interval = std::chrono::hours(1);
  return o;
}

// put(), retried while the writer reports Backpressure.
Status put_retrying(Writer& w, std::string_view k, std::string_view v, uint64_t* seq,
                    uint64_t* backpressure) {
  for (;;) {
    auto r = w.put(k, v);
    if (r.ok()) {
      if (seq) *seq = *r;
      return Status::OK();
    }
    if (r.status().code() != Code::kBackpressure) return r.status();
    if (backpressure) ++*backpressure;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

// Writes keys number(first..first+n) then flushes: one SST.
bool load(Writer& w, uint64_t n, const std::function<uint64_t(uint64_t)>& number) {
  for (uint64_t i = 0; i < n; i++) {
    uint64_t k = number(i);
    if (!put_retrying(w, Key(k).view(), value_of(k), nullptr, nullptr).ok()) return false;
  }
  return w.flush().ok();
}

uint64_t gets(const StoreMetrics& m) { return m.op(StoreOp::kGet).requests; }
uint64_t puts(const StoreMetrics& m) { return m.op(StoreOp::kPut).requests; }

// Nearest-rank quantile of unsorted samples.
double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

// ---------------------------------------------------------------------------
// 1. Non-durable put throughput on mem://, default WriterOptions (memtable
// 64 MiB, flush every 100 ms in the background). arg: 0 = sequential keys,
// 1 = random keys.
void BM_Put(benchmark::State& state) {
  const bool random_keys = state.range(0) != 0;
  Bucket b(false);
  auto w = open_db(b.metrics).open_writer({});
  if (!w.ok()) return state.SkipWithError(w.status().to_string().c_str());
  uint64_t i = 0, backpressure = 0;
  for (auto _ : state) {
    const uint64_t k = key_number(i++, random_keys);
    if (!put_retrying(**w, Key(k).view(), value_of(k), nullptr, &backpressure).ok()) {
      return state.SkipWithError("put failed");
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(i));
  state.counters["MB_per_s"] =
      benchmark::Counter(static_cast<double>(i * kRawEntryBytes) / 1e6, benchmark::Counter::kIsRate);
  state.counters["backpressure"] = static_cast<double>(backpressure);
  state.counters["flushes"] = static_cast<double>((*w)->stats().flushes);
  (void)(*w)->close();
}
BENCHMARK(BM_Put)->ArgName("random")->Arg(0)->Arg(1)->UseRealTime();

// ---------------------------------------------------------------------------
// 2. Flush of a full memtable holding `MB` MB of raw key+value bytes
// (sequential keys), on mem://: build the SST (lz4, 4 KiB blocks, bloom),
// upload it, commit the manifest entry. Only flush() is timed.
void BM_Flush(benchmark::State& state) {
  const uint64_t entries = static_cast<uint64_t>(state.range(0)) * 1'000'000 / kRawEntryBytes;
  uint64_t sst_bytes = 0, flushed_raw = 0;
  for (auto _ : state) {
    Bucket b(false);
    auto w = open_db(b.metrics).open_writer(loader_options());
    if (!w.ok()) return state.SkipWithError(w.status().to_string().c_str());
    for (uint64_t i = 0; i < entries; i++) {
      if (!(*w)->put(Key(i).view(), value_of(i)).ok()) return state.SkipWithError("put failed");
    }
    const auto t0 = Clock::now();
    Status s = (*w)->flush();
    state.SetIterationTime(seconds_since(t0));
    if (!s.ok()) return state.SkipWithError(s.to_string().c_str());
    sst_bytes += (*w)->stats().bytes_flushed;
    flushed_raw += entries * kRawEntryBytes;
    (void)(*w)->close();
  }
  state.counters["MB_per_s"] =
      benchmark::Counter(static_cast<double>(flushed_raw) / 1e6, benchmark::Counter::kIsRate);
  state.counters["sst_MB"] = static_cast<double>(sst_bytes) / 1e6 / static_cast<double>(state.iterations());
}
BENCHMARK(BM_Flush)
    ->ArgName("MB")
    ->Arg(4)
    ->Arg(16)
    ->Arg(64)
    ->Iterations(3)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------------------
// 3. Cached get: 200,000 keys in `ssts` L0 SSTs on mem:// (keys interleaved
// so that every SST covers every key's range); every key read once before
// timing, so all data blocks are in the 64 MiB block cache. Timed: gets of
// random present keys.
void BM_CachedGet(benchmark::State& state) {
  constexpr uint64_t kKeys = 200'000;
  const uint64_t ssts = static_cast<uint64_t>(state.range(0));
  Bucket b(false);
  DB db = open_db(b.metrics);
  {
    auto w = db.open_writer(loader_options());
    if (!w.ok()) return state.SkipWithError(w.status().to_string().c_str());
    for (uint64_t j = 0; j < ssts; j++) {
      if (!load(**w, kKeys / ssts, [&](uint64_t i) { return i * ssts + j; })) {
        return state.SkipWithError("load failed");
      }
    }
    (void)(*w)->close();
  }
  auto r = db.open_reader({});
  if (!r.ok()) return state.SkipWithError(r.status().to_string().c_str());
  for (uint64_t k = 0; k < kKeys; k++) {
    auto g = (*r)->get(Key(k).view());
    if (!g.ok() || !*g) return state.SkipWithError("warm-up get failed");
  }
  const ReaderStats before = (*r)->stats();
  const uint64_t gets_before = gets(b.metrics->snapshot());
  Random rnd(5);
  for (auto _ : state) {
    auto g = (*r)->get(Key(rnd.uniform(kKeys)).view());
    benchmark::DoNotOptimize(g);
  }
  const ReaderStats after = (*r)->stats();
  state.SetItemsProcessed(state.iterations());
  const double n = static_cast<double>(state.iterations());
  state.counters["cache_misses_per_get"] =
      static_cast<double>(after.block_cache.misses - before.block_cache.misses) / n;
  state.counters["GETs_per_get"] =
      static_cast<double>(gets(b.metrics->snapshot()) - gets_before) / n;
  state.counters["ssts"] = static_cast<double>((*r)->manifest().l0.size());
}
BENCHMARK(BM_CachedGet)->ArgName("ssts")->Arg(1)->Arg(8);

// ---------------------------------------------------------------------------
// 4. Cold gets over simulated S3 (s3_standard: GET first byte p50 25 ms, p99
// 150 ms, 100 MB/s). The database (one SST of `entries` entries) is loaded
// through plain mem://, then read through LatencyStore + MetricsStore.

// Loads one SST of `entries` sequential keys; returns the bucket.
std::unique_ptr<Bucket> one_sst_bucket(uint64_t entries) {
  auto b = std::make_unique<Bucket>(false);
  auto w = open_db(b->metrics).open_writer(loader_options());
  if (!w.ok() || !load(**w, entries, [](uint64_t i) { return i; }) || !(*w)->close().ok()) {
    return nullptr;
  }
  return b;
}

// Each iteration opens a fresh Reader (untimed) and times its first get of
// a random present key. GETs_per_get counts only the get's requests;
// open_GETs the manifest requests of Reader::open.
void BM_ColdFirstGet(benchmark::State& state) {
  const uint64_t entries = static_cast<uint64_t>(state.range(0));
  auto b = one_sst_bucket(entries);
  if (!b) return state.SkipWithError("load failed");
  auto s3 = b->s3_view();
  DB db = open_db(s3);
  Random rnd(next_seed());
  std::vector<double> ms;
  uint64_t open_gets = 0, get_gets = 0, get_bytes = 0;
  double open_s = 0;
  for (auto _ : state) {
    const StoreMetrics m0 = s3->snapshot();
    const auto t_open = Clock::now();
    auto r = db.open_reader({});
    open_s += seconds_since(t_open);
    if (!r.ok()) return state.SkipWithError(r.status().to_string().c_str());
    const StoreMetrics m1 = s3->snapshot();
    const auto t0 = Clock::now();
    auto g = (*r)->get(Key(rnd.uniform(entries)).view());
    const double secs = seconds_since(t0);
    if (!g.ok() || !*g) return state.SkipWithError("cold get failed");
    state.SetIterationTime(secs);
    ms.push_back(secs * 1e3);
    const StoreMetrics m2 = s3->snapshot();
    open_gets += gets(m1) - gets(m0);
    get_gets += gets(m2) - gets(m1);
    get_bytes += m2.op(StoreOp::kGet).bytes_read - m1.op(StoreOp::kGet).bytes_read;
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["GETs_per_get"] = static_cast<double>(get_gets) / n;
  state.counters["KB_per_get"] = static_cast<double>(get_bytes) / 1e3 / n;
  state.counters["open_GETs"] = static_cast<double>(open_gets) / n;
  state.counters["open_ms"] = open_s * 1e3 / n;
  state.counters["p50_ms"] = quantile(ms, 0.5);
}
BENCHMARK(BM_ColdFirstGet)
    ->ArgName("entries")
    ->Arg(20'000)
    ->Arg(200'000)
    ->Iterations(10)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// One Reader, its SST already opened by an untimed first get; each
// iteration gets a key in a data block not fetched before (keys 64 entries
// apart, ~2 blocks, in random order). Afterwards the same keys are read
// again, now from the block cache: reget_us / reget_GETs.
void BM_ColdGetOtherBlock(benchmark::State& state) {
  const uint64_t entries = static_cast<uint64_t>(state.range(0));
  auto b = one_sst_bucket(entries);
  if (!b) return state.SkipWithError("load failed");
  auto s3 = b->s3_view();
  auto r = open_db(s3).open_reader({});
  if (!r.ok()) return state.SkipWithError(r.status().to_string().c_str());
  if (auto g = (*r)->get(Key(0).view()); !g.ok() || !*g) return state.SkipWithError("first get");
  std::vector<uint64_t> keys;
  for (uint64_t k = 128; k < entries; k += 64) keys.push_back(k);
  Random rnd(next_seed());
  for (size_t i = keys.size(); i > 1; i--) std::swap(keys[i - 1], keys[rnd.uniform(i)]);

  std::vector<double> ms;
  const StoreMetrics m0 = s3->snapshot();
  size_t next = 0;
  for (auto _ : state) {
    const uint64_t k = keys[next++ % keys.size()];
    const auto t0 = Clock::now();
    auto g = (*r)->get(Key(k).view());
    const double secs = seconds_since(t0);
    if (!g.ok() || !*g) return state.SkipWithError("cold get failed");
    state.SetIterationTime(secs);
    ms.push_back(secs * 1e3);
  }
  const StoreMetrics m1 = s3->snapshot();
  const double n = static_cast<double>(state.iterations());
  state.counters["GETs_per_get"] = static_cast<double>(gets(m1) - gets(m0)) / n;
  state.counters["KB_per_get"] =
      static_cast<double>(m1.op(StoreOp::kGet).bytes_read - m0.op(StoreOp::kGet).bytes_read) / 1e3 / n;
  state.counters["p50_ms"] = quantile(ms, 0.5);
  state.counters["p99_ms"] = quantile(ms, 0.99);

  // The same keys again: cached.
  const auto t0 = Clock::now();
  for (size_t i = 0; i < next; i++) {
    auto g = (*r)->get(Key(keys[i % keys.size()]).view());
    benchmark::DoNotOptimize(g);
  }
  state.counters["reget_us"] = seconds_since(t0) * 1e6 / static_cast<double>(next);
  state.counters["reget_GETs"] = static_cast<double>(gets(s3->snapshot()) - gets(m1));
}
BENCHMARK(BM_ColdGetOtherBlock)
    ->ArgName("entries")
    ->Arg(20'000)
    ->Iterations(30)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------------------
// 5. Durable put latency over simulated S3 (PUT first byte p50 35 ms, p99
// 200 ms), default WriterOptions (min_flush_spacing 10 ms). `threads`
// threads each do `puts` rounds of put + await_durable; every put's latency
// (put call to await_durable returning) is recorded. One iteration = the
// whole run; its time is the run's wall time.
void BM_DurablePut(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const int per_thread = static_cast<int>(state.range(1));
  // ISLE_BENCH_STORE_URL: over that store instead (bench/proxy/bench_store_url.h).
  const std::string url = bench::bench_store_url();
  std::optional<bench::BenchStore> real;
  if (!url.empty()) real.emplace(url);
  Bucket b(!real);
  if (real) {
    b.metrics = std::make_shared<MetricsStore>(real->store());
  }
  // config 0 = the commit path before issue 15: an SST object then a log
  // entry (inline_flush_max_bytes 0), one flush in flight, no hedging.
  // config 1 = issue 15's path: inline flushes, max_flushes_in_flight 4,
  // hedged create-only PUTs (hedge_local_stores, because LatencyStore sits
  // over mem://).
  const bool issue15 = state.range(2) != 0;
  WriterOptions wo;
  DBOptions dbo;
  dbo.prefix = "db";
  if (issue15) {
    dbo.hedging.hedge_local_stores = true;
    wo.max_flushes_in_flight = 4;  // opt-in (options.h)
  } else {
    wo.inline_flush_max_bytes = 0;
    wo.max_flushes_in_flight = 1;
    dbo.hedging.enabled = false;
  }
  // ISLE_BENCH_FLUSHES_IN_FLIGHT overrides max_flushes_in_flight.
  if (const char* k = std::getenv("ISLE_BENCH_FLUSHES_IN_FLIGHT")) {
    wo.max_flushes_in_flight = std::atoi(k);
  }
  state.SetLabel((issue15 ? "issue-15 defaults" : "before issue 15") +
                 (real ? std::string(" ") + url : std::string()));
  auto db = DB::open(b.metrics, dbo);
  if (!db.ok()) return state.SkipWithError(db.status().to_string().c_str());
  auto w = db->open_writer(wo);
  if (!w.ok()) return state.SkipWithError(w.status().to_string().c_str());
  std::vector<std::vector<double>> lat(threads);
  std::atomic<bool> failed{false};
  std::atomic<uint64_t> counter{0};
  StoreMetrics before, after;
  uint64_t flushes_before = 0, flushes_after = 0;
  double wall = 0;
  for (auto _ : state) {
    b.metrics->reset();
    flushes_before = (*w)->stats().flushes;
    auto worker = [&](int t) {
      for (int i = 0; i < per_thread; i++) {
        const uint64_t k = mix64(counter.fetch_add(1));
        const auto t0 = Clock::now();
        uint64_t seq = 0;
        if (!put_retrying(**w, Key(k % 10'000'000'000'000'000ull).view(), value_of(k), &seq,
                          nullptr)
                 .ok() ||
            !(*w)->await_durable(seq).ok()) {
          failed = true;
          return;
        }
        lat[t].push_back(seconds_since(t0) * 1e3);
      }
    };
    const auto t0 = Clock::now();
    if (threads == 1) {
      worker(0);
    } else {
      std::vector<std::thread> ts;
      for (int t = 0; t < threads; t++) ts.emplace_back(worker, t);
      for (auto& t : ts) t.join();
    }
    wall = seconds_since(t0);
    state.SetIterationTime(wall);
    after = b.metrics->snapshot();
    flushes_after = (*w)->stats().flushes;
  }
  if (failed) return state.SkipWithError("durable put failed");
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  const double n = static_cast<double>(all.size());
  state.counters["p50_ms"] = quantile(all, 0.5);
  state.counters["p99_ms"] = quantile(all, 0.99);
  double sum = 0;
  for (double x : all) sum += x;
  state.counters["mean_ms"] = sum / n;
  state.counters["puts_per_s"] = n / wall;
  state.counters["PUTs_per_put"] = static_cast<double>(puts(after)) / n;
  state.counters["GETs_per_put"] = static_cast<double>(gets(after)) / n;
  state.counters["flushes_per_put"] = static_cast<double>(flushes_after - flushes_before) / n;
  (void)(*w)->close();
}
BENCHMARK(BM_DurablePut)
    ->ArgNames({"threads", "puts", "config"})
    ->Args({1, 400, 0})
    ->Args({1, 400, 1})
    ->Args({8, 60, 0})
    ->Args({8, 60, 1})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------------------
// 6. Object-store requests per million puts, default WriterOptions.

void report_per_million(benchmark::State& state, const StoreMetrics& m, double n_puts,
                        uint64_t flushes) {
  const double scale = 1e6 / n_puts;
  state.counters["PUT_per_M"] = static_cast<double>(m.op(StoreOp::kPut).requests) * scale;
  state.counters["GET_per_M"] = static_cast<double>(m.op(StoreOp::kGet).requests) * scale;
  state.counters["HEAD_LIST_per_M"] =
      static_cast<double>(m.op(StoreOp::kHead).requests + m.op(StoreOp::kList).requests) * scale;
  state.counters["DEL_per_M"] =
      static_cast<double>(m.op(StoreOp::kRemove).requests + m.op(StoreOp::kRemoveBatch).requests) *
      scale;
  state.counters["total_per_M"] = static_cast<double>(m.total().requests) * scale;
  state.counters["flushes_per_M"] = static_cast<double>(flushes) * scale;
}

// Non-durable puts, then close() (which flushes the rest). arg 0: 0 =
// mem://, 1 = simulated S3; arg 1: puts per second (0 = as fast as
// possible, 1,000,000 puts; otherwise 100,000 puts paced at that rate).
// Counted from after the writer opened to after close(). The writer's
// flush count depends on elapsed time (one per flush_interval while writes
// keep coming) as well as on bytes (one per 64 MiB memtable).
void BM_RequestsPerMillionPuts(benchmark::State& state) {
  const bool s3 = state.range(0) != 0;
  const double rate = static_cast<double>(state.range(1));
  const uint64_t n = rate > 0 ? 100'000 : 1'000'000;
  StoreMetrics m;
  uint64_t flushes = 0, backpressure = 0;
  double secs = 0, first_flush_ms = -1;
  for (auto _ : state) {
    Bucket b(s3);
    auto w = open_db(b.metrics).open_writer({});
    if (!w.ok()) return state.SkipWithError(w.status().to_string().c_str());
    b.metrics->reset();
    const auto t0 = Clock::now();
    for (uint64_t i = 0; i < n; i++) {
      if (rate > 0) {
        const auto due = t0 + std::chrono::duration_cast<Clock::duration>(
                                  std::chrono::duration<double>(static_cast<double>(i) / rate));
        if (Clock::now() < due) std::this_thread::sleep_until(due);
      }
      if (!put_retrying(**w, Key(i).view(), value_of(i), nullptr, &backpressure).ok()) {
        return state.SkipWithError("put failed");
      }
      if (i % 1024 == 0 && first_flush_ms < 0 && (*w)->stats().flushes > 0) {
        first_flush_ms = seconds_since(t0) * 1e3;
      }
    }
    secs = seconds_since(t0);
    if (Status s = (*w)->close(); !s.ok()) return state.SkipWithError(s.to_string().c_str());
    state.SetIterationTime(seconds_since(t0));
    m = b.metrics->snapshot();
    flushes = (*w)->stats().flushes;
  }
  report_per_million(state, m, static_cast<double>(n), flushes);
  state.counters["puts_per_s"] = static_cast<double>(n) / secs;
  // When the first flush had committed, seen by polling every 1,024 puts
  // (-1: not before the last put).
  state.counters["first_flush_ms"] = first_flush_ms;
  state.counters["backpressure"] = static_cast<double>(backpressure);
}
BENCHMARK(BM_RequestsPerMillionPuts)
    ->ArgNames({"s3", "rate"})
    ->Args({0, 0})
    ->Args({1, 0})
    ->Args({0, 50'000})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// Every put awaited (put + await_durable), 2,000 puts in total from
// `threads` threads on mem://; counts extrapolated per million puts. On
// mem:// a flush takes well under min_flush_spacing (10 ms), so the spacing
// sets the pace: ~100 flushes/s. The counts are deterministic for one
// thread (one flush per put), so this runs once.
void BM_RequestsDurableEveryPut(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  constexpr int kPuts = 2'000;
  StoreMetrics m;
  uint64_t flushes = 0;
  for (auto _ : state) {
    Bucket b(false);
    auto w = open_db(b.metrics).open_writer({});
    if (!w.ok()) return state.SkipWithError(w.status().to_string().c_str());
    b.metrics->reset();
    const uint64_t flushes0 = (*w)->stats().flushes;
    std::atomic<bool> failed{false};
    std::atomic<uint64_t> counter{0};
    auto worker = [&] {
      for (;;) {
        const uint64_t i = counter.fetch_add(1);
        if (i >= kPuts) return;
        uint64_t seq = 0;
        if (!put_retrying(**w, Key(i).view(), value_of(i), &seq, nullptr).ok() ||
            !(*w)->await_durable(seq).ok()) {
          failed = true;
          return;
        }
      }
    };
    const auto t0 = Clock::now();
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; t++) ts.emplace_back(worker);
    for (auto& t : ts) t.join();
    if (failed) return state.SkipWithError("durable put failed");
    if (Status s = (*w)->close(); !s.ok()) return state.SkipWithError(s.to_string().c_str());
    state.SetIterationTime(seconds_since(t0));
    m = b.metrics->snapshot();
    flushes = (*w)->stats().flushes - flushes0;
  }
  report_per_million(state, m, kPuts, flushes);
}
BENCHMARK(BM_RequestsDurableEveryPut)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(8)
    ->Iterations(1)
    ->Repetitions(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
