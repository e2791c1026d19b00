// Tailing benchmarks: how long a write takes to reach a tail's handler, and
// what an idle tailer costs in object-store requests.
//
//   BM_TailLatency    a Writer and a TailingReader (start(), one tail) on
//                     one bucket over simulated S3 (LatencyStore,
//                     s3_standard, over mem://; writer and tailer each have
//                     their own LatencyStore, like two processes). A
//                     producer puts 3,000 events at 200/s, each value
//                     carrying its send time (steady_clock); the handler
//                     records receive - send. Reported: p50/p90/p99/max
//                     end to end, and the same latency split into its
//                     parts, from a trace of every request both sides made
//                     (below). Args: mode (0 = changes, 1 = keys),
//                     refresh_ms (ReaderOptions::refresh_interval), durable
//                     (0 = default WriterOptions, flush every 100 ms;
//                     1 = every put awaited: group commit).
//   BM_IdleRequests   one bucket holding one SST and no writer; four
//                     readers attached for a 10 s window: a plain Reader
//                     with the same refresh_interval, a TailingReader with
//                     start() and one changes tail, one with start() and a
//                     changes + a keys tail, and one WITHOUT start() with
//                     the same two tails (each tail then refreshes by
//                     itself). Requests are counted by a MetricsStore per
//                     reader and classified by object (log position,
//                     CURRENT, SST) by a trace; extrapolated per hour.
//                     Args: s3 (0 = mem://, 1 = simulated S3), refresh_ms.
//                     The lease is 2 s here (default 30 s) so that the
//                     CURRENT re-reads show within the window.
//
// Each benchmark runs once (Iterations(1), Repetitions(1)): its figures
// are quantiles over thousands of events or counts over a fixed window,
// not per-iteration timings. Latencies are real sleeps, so the time column
// is the wall time of the run.
//
// How a latency sample is split (times on one steady clock; the flush an
// event went out in is found from the writer's log entry, whose SST
// seq_lo..seq_hi holds the event's sequence):
//   memtable   put -> start of the SST PUT: waiting for the memtable to be
//              sealed (flush_interval, or the flush in flight for durable
//              writes) plus building the SST
//   sst_put    the SST PUT
//   log_put    end of the SST PUT -> end of the log entry PUT (committed)
//   discover   commit -> the tailer's first successful GET of that log
//              position returned: waiting for the next refresh + the GET
//   install    -> the tail starts reading the event's SST: the rest of the
//              refresh (it reads the log until a 404, so at least one more
//              GET, more when later entries have landed meanwhile), then
//              the SSTs of earlier entries of the same refresh, one by one
//   sst_get    the tail's first GET of the SST (changes: the whole object;
//              keys: the reader's tail read of it)
//   deliver    -> the handler ran (changes: decode and sort; keys: the data
//              block GET and the other new SSTs the merging iterator opens
//              before it yields a key)
// The per-event counts of tailer GETs inside install and deliver are
// printed with each latency table (stderr), with re-reads of log entries
// and SSTs.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "isle/db.h"
#include "isle/reader.h"
#include "isle/tailing_reader.h"
#include "isle/writer.h"
#include "manifest/manifest_codec.h"
#include "manifest/manifest_types.h"
#include "proxy/bench_store_url.h"
#include "store/latency_store.h"
#include "store/mem_store.h"
#include "store/metrics_store.h"

namespace {

using namespace isle;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// LatencyStore seeds: one per store, from ISLE_TAIL_BENCH_SEED (default
// 5000) up. The same seed replays the same latency draws for the same
// order of requests; another seed shows how much a figure depends on them.
uint64_t next_seed() {
  static std::atomic<uint64_t> seed{[] {
    const char* env = std::getenv("ISLE_TAIL_BENCH_SEED");
    return env ? std::strtoull(env, nullptr, 10) : uint64_t{5000};
  }()};
  return seed.fetch_add(1);
}

constexpr std::string_view kPrefix = "db";

// ---- a request trace --------------------------------------------------------

enum class Obj { kCurrent, kLog, kSnapshot, kSst, kBlob, kOther };

// The key without the database prefix ("db/").
std::string_view unprefixed(std::string_view key) {
  if (key.size() > kPrefix.size() && key.substr(0, kPrefix.size()) == kPrefix &&
      key[kPrefix.size()] == '/') {
    key.remove_prefix(kPrefix.size() + 1);
  }
  return key;
}

Obj classify(std::string_view key) {
  key = unprefixed(key);
  if (key == kCurrentKey) return Obj::kCurrent;
  if (key.starts_with("manifest/log/")) return Obj::kLog;
  if (key.starts_with("manifest/snapshots/")) return Obj::kSnapshot;
  if (key.starts_with("sstable/")) return Obj::kSst;
  if (key.starts_with("blobs/")) return Obj::kBlob;
  return Obj::kOther;
}

struct Rec {
  int64_t start_ns = 0, end_ns = 0;
  StoreOp op = StoreOp::kGet;
  Code code = Code::kOk;
  bool not_modified = false;
  bool ranged = false;
  uint64_t bytes = 0;
  std::string key;   // without the prefix
  std::string data;  // the body of manifest log PUTs (to find what they publish)
};

// Records every request (start, end, object, outcome) of the stores above it.
class TraceStore : public ObjectStore {
 public:
  explicit TraceStore(ObjectStorePtr inner) : inner_(std::move(inner)) {}

  Result<GetResult> get(std::string_view key, const GetOptions& options = {}) override {
    Rec r = begin(StoreOp::kGet, key);
    r.ranged = options.range.has_value();
    auto g = inner_->get(key, options);
    if (g.ok()) {
      r.not_modified = g->not_modified;
      r.bytes = g->data.size();
    }
    finish(std::move(r), g.status());
    return g;
  }
  Result<ObjectMeta> head(std::string_view key) override {
    Rec r = begin(StoreOp::kHead, key);
    auto h = inner_->head(key);
    finish(std::move(r), h.status());
    return h;
  }
  Result<ObjectMeta> put(std::string_view key, std::string_view data,
                         const PutOptions& options = {}) override {
    Rec r = begin(StoreOp::kPut, key);
    r.bytes = data.size();
    if (classify(key) == Obj::kLog) r.data = std::string(data);
    auto p = inner_->put(key, data, options);
    finish(std::move(r), p.status());
    return p;
  }
  Status remove(std::string_view key) override {
    Rec r = begin(StoreOp::kRemove, key);
    Status s = inner_->remove(key);
    finish(std::move(r), s);
    return s;
  }
  Result<std::vector<DeleteOutcome>> remove_batch(const std::vector<std::string>& keys) override {
    Rec r = begin(StoreOp::kRemoveBatch, keys.empty() ? std::string_view() : keys.front());
    auto b = inner_->remove_batch(keys);
    finish(std::move(r), b.status());
    return b;
  }
  Result<ListPage> list(const ListOptions& options) override {
    Rec r = begin(StoreOp::kList, options.prefix);
    auto l = inner_->list(options);
    finish(std::move(r), l.status());
    return l;
  }
  std::string url() const override { return inner_->url(); }

  std::vector<Rec> records() const {
    std::lock_guard lk(mu_);
    return recs_;
  }
  void clear() {
    std::lock_guard lk(mu_);
    recs_.clear();
  }

 private:
  static Rec begin(StoreOp op, std::string_view key) {
    Rec r;
    r.op = op;
    r.key = std::string(unprefixed(key));
    r.start_ns = now_ns();
    return r;
  }
  void finish(Rec r, const Status& s) {
    r.end_ns = now_ns();
    r.code = s.code();
    std::lock_guard lk(mu_);
    recs_.push_back(std::move(r));
  }

  ObjectStorePtr inner_;
  mutable std::mutex mu_;
  std::vector<Rec> recs_;
};

// One process's view of the bucket: MetricsStore -> TraceStore ->
// [LatencyStore] -> the shared MemStore.
struct Path {
  std::shared_ptr<TraceStore> trace;
  std::shared_ptr<MetricsStore> metrics;
  Path(const std::shared_ptr<MemStore>& mem, bool s3) {
    ObjectStorePtr inner = mem;
    if (s3) inner = std::make_shared<LatencyStore>(mem, LatencyProfile::s3_standard(), next_seed());
    trace = std::make_shared<TraceStore>(inner);
    metrics = std::make_shared<MetricsStore>(trace);
  }
  // Over a real store (ISLE_BENCH_STORE_URL, bench/proxy/bench_store_url.h).
  explicit Path(ObjectStorePtr store)
      : trace(std::make_shared<TraceStore>(std::move(store))),
        metrics(std::make_shared<MetricsStore>(trace)) {}
};

// hedge: HedgeOptions::hedge_local_stores, so that hedging applies over a
// LatencyStore on mem:// as it would on S3 (false = as before issue 15:
// no hedging at all).
DB open_db(ObjectStorePtr store, bool hedge = false) {
  DBOptions o;
  o.prefix = std::string(kPrefix);
  if (hedge) {
    o.hedging.hedge_local_stores = true;
  } else {
    o.hedging.enabled = false;
  }
  auto db = DB::open(std::move(store), o);
  if (!db.ok()) std::abort();
  return *db;
}

ReaderOptions reader_options(milliseconds refresh, milliseconds lease = milliseconds(30'000)) {
  ReaderOptions o;
  o.prefix = std::string(kPrefix);
  o.refresh_interval = refresh;
  o.lease = lease;
  return o;
}

// Nearest-rank quantile of unsorted samples.
double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}

double ms(int64_t ns) { return static_cast<double>(ns) / 1e6; }

// An event: key "ev/<10 digits>", value = send time (8 bytes) + 92 bytes.
std::string event_key(uint64_t i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "ev/%010" PRIu64, i);
  return buf;
}

std::string event_value(int64_t send_ns) {
  std::string v(100, 'x');
  std::memcpy(v.data(), &send_ns, sizeof send_ns);
  return v;
}

int64_t send_time_of(std::string_view value) {
  int64_t t = 0;
  if (value.size() >= sizeof t) std::memcpy(&t, value.data(), sizeof t);
  return t;
}

Status put_retrying(Writer& w, std::string_view k, std::string_view v, uint64_t* seq) {
  for (;;) {
    auto r = w.put(k, v);
    if (r.ok()) {
      *seq = *r;
      return Status::OK();
    }
    if (r.status().code() != Code::kBackpressure) return r.status();
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

// ---------------------------------------------------------------------------
// 1. End-to-end latency, put -> tail handler, over simulated S3.

struct Received {
  uint64_t seq;
  int64_t send_ns, recv_ns;
};

// One flush, as the writer's trace shows it.
struct FlushTimes {
  uint64_t pos = 0, seq_lo = 0, seq_hi = 0;
  std::string sst;  // object key, sstable/<id>.sst
  bool inline_sst = false;  // the data travelled in the log entry: no SST PUT or GET
  int64_t sst_put_start = 0, sst_put_end = 0, log_put_start = 0, log_put_end = 0;
};

struct Component {
  const char* name;
  std::vector<double> v;
};

void BM_TailLatency(benchmark::State& state) {
  const TailMode mode = state.range(0) != 0 ? TailMode::kKeys : TailMode::kChanges;
  const milliseconds refresh(state.range(1));
  const bool durable = state.range(2) != 0;
  // ReaderOptions::refresh_interval_min: -1 = refresh_ms (a fixed
  // interval, as before issue 15), -2 = unset (the TailingReader default),
  // else this many ms.
  const int64_t min_ms = state.range(3);
  // config 0 = the writer and reader as before issue 15 (an SST object then
  // a log entry, one flush in flight, no hedging); 1 = issue 15's defaults
  // (inline flushes, 4 flushes in flight, hedged GETs and PUTs).
  const bool after = state.range(4) != 0;
  constexpr uint64_t kEvents = 3000;
  constexpr double kRate = 200;  // events per second

  std::vector<Received> got;
  got.reserve(kEvents);
  std::vector<Rec> wrecs, trecs;
  uint64_t flushes = 0;
  double wall_s = 0;
  TailingReaderStats tstats;
  Status tail_status;

  for (auto _ : state) {
    auto mem = std::make_shared<MemStore>();
    // ISLE_BENCH_STORE_URL: writer and tailer over that store, each with
    // its own client (bench/proxy/bench_store_url.h).
    std::optional<bench::BenchStore> real;
    if (!bench::bench_store_url().empty()) real.emplace(bench::bench_store_url());
    Path wp = real ? Path(real->store()) : Path(mem, true);
    Path tp = real ? Path(real->open_view()) : Path(mem, true);
    WriterOptions wo;
    wo.max_flushes_in_flight = 4;  // opt-in (options.h)
    if (!after) {
      wo.inline_flush_max_bytes = 0;
      wo.max_flushes_in_flight = 1;
    }
    auto w = open_db(wp.metrics, after).open_writer(wo);
    if (!w.ok()) return state.SkipWithError(w.status().to_string().c_str());
    ReaderOptions ro = reader_options(refresh);
    if (after) {
      ro.hedging.hedge_local_stores = true;
    } else {
      ro.hedging.enabled = false;
    }
    if (min_ms == -1) ro.refresh_interval_min = refresh;
    if (min_ms >= 0) ro.refresh_interval_min = milliseconds(min_ms);
    auto t = TailingReader::open(tp.metrics, ro);
    if (!t.ok()) return state.SkipWithError(t.status().to_string().c_str());
    if (Status s = (*t)->start(); !s.ok()) return state.SkipWithError(s.to_string().c_str());

    std::mutex got_mu;
    std::condition_variable got_cv;
    TailOptions to;
    to.mode = mode;
    to.prefix = "ev/";
    std::thread tail_thread([&] {
      tail_status = (*t)->tail(to, [&](const ChangeEvent& e) {
        const int64_t recv = now_ns();
        std::lock_guard lk(got_mu);
        got.push_back(Received{e.seq, send_time_of(e.value), recv});
        if (got.size() >= kEvents) got_cv.notify_all();
        return got.size() < kEvents;
      });
      std::lock_guard lk(got_mu);
      got_cv.notify_all();
    });
    std::this_thread::sleep_for(milliseconds(300));  // the tail is positioned
    wp.trace->clear();
    tp.trace->clear();

    // Durable mode: a committer awaits the newest sequence put so far, so
    // that every put has a waiter (group commit).
    std::atomic<uint64_t> latest{0};
    std::atomic<bool> producing{true};
    std::mutex cm;
    std::condition_variable ccv;
    std::thread committer;
    if (durable) {
      committer = std::thread([&] {
        uint64_t awaited = 0;
        for (;;) {
          const uint64_t s = latest.load();
          if (s > awaited) {
            (void)(*w)->await_durable(s);
            awaited = s;
            continue;
          }
          if (!producing.load()) return;
          std::unique_lock lk(cm);
          ccv.wait_for(lk, milliseconds(5), [&] { return latest.load() > awaited || !producing; });
        }
      });
    }

    const uint64_t flushes0 = (*w)->stats().flushes;
    const auto t0 = Clock::now();
    bool failed = false;
    for (uint64_t i = 0; i < kEvents; i++) {
      std::this_thread::sleep_until(
          t0 + std::chrono::duration_cast<Clock::duration>(
                   std::chrono::duration<double>(static_cast<double>(i) / kRate)));
      uint64_t seq = 0;
      if (!put_retrying(**w, event_key(i), event_value(now_ns()), &seq).ok()) {
        failed = true;
        break;
      }
      if (durable) {
        latest.store(seq);
        ccv.notify_one();
      }
    }
    producing = false;
    ccv.notify_one();
    if (committer.joinable()) committer.join();
    {
      std::unique_lock lk(got_mu);
      got_cv.wait_for(lk, std::chrono::seconds(30), [&] { return got.size() >= kEvents; });
    }
    wall_s = std::chrono::duration<double>(Clock::now() - t0).count();
    state.SetIterationTime(wall_s);
    (*t)->stop();  // ends the tail if it is still waiting
    tail_thread.join();
    flushes = (*w)->stats().flushes - flushes0;
    tstats = (*t)->stats();
    wrecs = wp.trace->records();
    trecs = tp.trace->records();
    (void)(*w)->close();
    if (failed) return state.SkipWithError("put failed");
  }
  // Stopped: the stop() above ended a tail still waiting (the next check
  // reports it).
  if (!tail_status.ok() && !tail_status.is_stopped()) {
    return state.SkipWithError(tail_status.to_string().c_str());
  }
  if (got.size() < kEvents) return state.SkipWithError("the tail did not deliver every event");

  // Flushes from the writer's trace.
  std::map<std::string, std::pair<int64_t, int64_t>> sst_puts;
  std::vector<FlushTimes> fl;
  for (const Rec& r : wrecs) {
    if (r.op != StoreOp::kPut || r.code != Code::kOk) continue;
    const Obj o = classify(r.key);
    if (o == Obj::kSst) sst_puts[r.key] = {r.start_ns, r.end_ns};
    if (o != Obj::kLog) continue;
    auto e = decode_entry(r.data, r.key);
    if (!e.ok() || e->op != LogOp::kAddSstable || e->added.empty()) continue;
    FlushTimes f;
    f.pos = e->pos;
    f.seq_lo = e->added.front().seq_lo;
    f.seq_hi = e->added.front().seq_hi;
    f.sst = sst_key(e->added.front().id);
    f.inline_sst = e->added.front().is_inline();
    f.log_put_start = r.start_ns;
    f.log_put_end = r.end_ns;
    fl.push_back(f);
  }
  for (FlushTimes& f : fl) {
    auto it = sst_puts.find(f.sst);
    if (it != sst_puts.end()) std::tie(f.sst_put_start, f.sst_put_end) = it->second;
    // An inline flush: no SST PUT (the log PUT carries the data).
    if (f.inline_sst) f.sst_put_start = f.sst_put_end = f.log_put_start;
  }
  std::sort(fl.begin(), fl.end(),
            [](const FlushTimes& a, const FlushTimes& b) { return a.seq_lo < b.seq_lo; });

  // The tailer's side: first successful GET of each log position and SST,
  // and how often each was read.
  std::map<std::string, std::pair<int64_t, int64_t>> first_get;
  std::map<std::string, uint64_t> ok_gets;
  uint64_t t_gets = 0, log_404 = 0, log_ok = 0, cur_gets = 0, sst_gets = 0, other = 0;
  for (const Rec& r : trecs) {
    if (r.op != StoreOp::kGet) {
      other++;
      continue;
    }
    t_gets++;
    const Obj o = classify(r.key);
    if (o == Obj::kLog) (r.code == Code::kNotFound ? log_404 : log_ok)++;
    else if (o == Obj::kCurrent) cur_gets++;
    else if (o == Obj::kSst) sst_gets++;
    else other++;
    if (r.code != Code::kOk) continue;
    ok_gets[r.key]++;
    if (!first_get.count(r.key)) first_get[r.key] = {r.start_ns, r.end_ns};
  }
  uint64_t log_rereads = 0, ssts_read = 0, sst_rereads = 0;
  for (const auto& [k, n] : ok_gets) {
    const Obj o = classify(k);
    if (o == Obj::kLog) log_rereads += n - 1;
    if (o == Obj::kSst) {
      ssts_read++;
      sst_rereads += n - 1;
    }
  }

  const std::string label = std::string("BM_TailLatency ") +
                            (mode == TailMode::kKeys ? "keys" : "changes") + ", refresh " +
                            std::to_string(refresh.count()) + " ms" +
                            (min_ms == -1   ? " fixed"
                             : min_ms == -2 ? " adaptive, default min"
                                            : " adaptive, min " + std::to_string(min_ms) + " ms") +
                            ", " + (durable ? "durable (group commit)" : "flush_interval 100 ms") +
                            (after ? ", issue-15 writer" : ", writer before issue 15");
  std::vector<double> total;
  Component parts[] = {{"memtable", {}}, {"sst_put", {}}, {"log_put", {}},  {"discover", {}},
                       {"install", {}},  {"sst_get", {}}, {"deliver", {}}};
  uint64_t unmatched = 0, matched = 0;
  struct {
    uint64_t log = 0, sst = 0, same_sst = 0;
  } in_install, in_deliver;
  for (const Received& e : got) {
    total.push_back(ms(e.recv_ns - e.send_ns));
    auto it = std::upper_bound(fl.begin(), fl.end(), e.seq,
                               [](uint64_t s, const FlushTimes& f) { return s < f.seq_lo; });
    if (it == fl.begin() || e.seq > std::prev(it)->seq_hi) {
      unmatched++;
      continue;
    }
    const FlushTimes& f = *std::prev(it);
    auto lg = first_get.find(log_key(f.pos));
    // Inline: the tail reads the data from the log entry (sst_get = the log GET).
    auto sg = f.inline_sst ? lg : first_get.find(f.sst);
    if (f.sst_put_start == 0 || lg == first_get.end() || sg == first_get.end()) {
      unmatched++;
      continue;
    }
    parts[0].v.push_back(ms(f.sst_put_start - e.send_ns));
    parts[1].v.push_back(ms(f.sst_put_end - f.sst_put_start));
    parts[2].v.push_back(ms(f.log_put_end - f.sst_put_end));
    parts[3].v.push_back(ms(lg->second.second - f.log_put_end));
    parts[4].v.push_back(f.inline_sst ? 0 : ms(sg->second.first - lg->second.second));
    parts[5].v.push_back(f.inline_sst ? 0 : ms(sg->second.second - sg->second.first));
    parts[6].v.push_back(ms(e.recv_ns - sg->second.second));
    // Which of the tailer's requests started while this event waited in
    // "install" and in "deliver".
    for (const Rec& r : trecs) {
      if (r.op != StoreOp::kGet) continue;
      const Obj o = classify(r.key);
      if (r.start_ns >= lg->second.second && r.start_ns < sg->second.first) {
        if (o == Obj::kLog) in_install.log++;
        else if (o == Obj::kSst) in_install.sst++;
      } else if (r.start_ns >= sg->second.second && r.start_ns < e.recv_ns && o == Obj::kSst) {
        (r.key == f.sst ? in_deliver.same_sst : in_deliver.sst)++;
      }
    }
    matched++;
  }

  // Writes flowing: the events sent a second or more after the first (the
  // first ones may find an idle tailer, which polls once per idle interval).
  std::vector<double> flowing;
  if (!got.empty()) {
    int64_t first_send = got.front().send_ns;
    for (const Received& e : got) first_send = std::min(first_send, e.send_ns);
    for (const Received& e : got) {
      if (e.send_ns >= first_send + 1'000'000'000) flowing.push_back(ms(e.recv_ns - e.send_ns));
    }
  }
  state.counters["flowing_p50_ms"] = quantile(flowing, 0.50);
  state.counters["flowing_p99_ms"] = quantile(flowing, 0.99);
  state.counters["p50_ms"] = quantile(total, 0.50);
  state.counters["p90_ms"] = quantile(total, 0.90);
  state.counters["p99_ms"] = quantile(total, 0.99);
  state.counters["max_ms"] = quantile(total, 1.0);
  state.counters["mean_ms"] = mean(total);
  state.counters["events"] = static_cast<double>(got.size());
  state.counters["flushes_per_s"] = static_cast<double>(flushes) / wall_s;
  state.counters["tail_GETs_per_s"] = static_cast<double>(t_gets) / wall_s;

  std::fprintf(stderr,
               "\n%s: %zu events, %" PRIu64 " flushes (%" PRIu64 " in the trace) in %.1f s, %" PRIu64
               " events not matched to a flush\n",
               label.c_str(), got.size(), flushes, static_cast<uint64_t>(fl.size()), wall_s,
               unmatched);
  std::fprintf(stderr, "  %-9s %8s %8s %8s %8s\n", "part (ms)", "mean", "p50", "p90", "p99");
  for (const Component& c : parts) {
    std::fprintf(stderr, "  %-9s %8.1f %8.1f %8.1f %8.1f\n", c.name, mean(c.v),
                 quantile(c.v, 0.5), quantile(c.v, 0.9), quantile(c.v, 0.99));
  }
  std::fprintf(stderr, "  %-9s %8.1f %8.1f %8.1f %8.1f\n", "total", mean(total),
               quantile(total, 0.5), quantile(total, 0.9), quantile(total, 0.99));
  std::fprintf(stderr, "  %-9s %8.1f %8.1f %8.1f %8.1f  (events sent 1 s or more after the first)\n",
               "flowing", mean(flowing), quantile(flowing, 0.5), quantile(flowing, 0.9),
               quantile(flowing, 0.99));
  const double me = static_cast<double>(std::max<uint64_t>(matched, 1));
  std::fprintf(stderr,
               "  tailer GETs started while an event waited, per event: install: %.2f log + %.2f "
               "SST; deliver: %.2f of its own SST + %.2f of other SSTs\n",
               static_cast<double>(in_install.log) / me, static_cast<double>(in_install.sst) / me,
               static_cast<double>(in_deliver.same_sst) / me,
               static_cast<double>(in_deliver.sst) / me);
  std::fprintf(stderr,
               "  tailer GETs: %" PRIu64 " (log ok %" PRIu64 ", log 404 %" PRIu64
               ", CURRENT %" PRIu64 ", SST %" PRIu64 " for %" PRIu64 " SSTs), other requests %" PRIu64
               "\n  re-reads: log entries %" PRIu64 ", whole SSTs / ranged SST reads beyond the "
               "first %" PRIu64 "\n  TailingReaderStats: log_entries_read %" PRIu64
               ", log_entries_cached %" PRIu64 ", sst_reads %" PRIu64 ", cursor_searches %" PRIu64
               "\n",
               t_gets, log_ok, log_404, cur_gets, sst_gets, ssts_read, other, log_rereads,
               sst_rereads, tstats.log_entries_read, tstats.log_entries_cached, tstats.sst_reads,
               tstats.cursor_searches);
}
// min_ms -1: a fixed refresh_ms interval (the rows before issue 15);
// refresh_ms 0 with min_ms -2: TailingReader's defaults (1 s idle,
// kDefaultRefreshIntervalMin busy), the configuration whose idle cost
// BM_IdleRequests' default row measures.
BENCHMARK(BM_TailLatency)
    ->ArgNames({"keys", "refresh_ms", "durable", "min_ms", "config"})
    // Issue 15's rows, before (config 0, fixed 100 ms refresh) and after
    // (config 1, adaptive polling with the defaults).
    ->Args({0, 100, 1, -1, 0})
    ->Args({0, 0, 1, -2, 1})
    ->Args({1, 100, 0, -1, 0})
    ->Args({1, 0, 0, -2, 1})
    // More shapes of the new path.
    ->Args({0, 100, 0, -1, 1})
    ->Args({0, 20, 1, -1, 1})
    ->Args({0, 0, 1, 0, 1})
    ->Args({0, 0, 0, -2, 1})
    ->Args({1, 0, 0, 0, 1})
    ->Iterations(1)
    ->Repetitions(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------------------
// 2. Requests of idle readers and tailers.

struct IdleCounts {
  uint64_t total = 0, log_404 = 0, log_ok = 0, current_304 = 0, current_200 = 0, sst = 0,
           other = 0;
};

IdleCounts classify_idle(const std::vector<Rec>& recs) {
  IdleCounts c;
  for (const Rec& r : recs) {
    c.total++;
    const Obj o = r.op == StoreOp::kGet ? classify(r.key) : Obj::kOther;
    if (o == Obj::kLog) (r.code == Code::kNotFound ? c.log_404 : c.log_ok)++;
    else if (o == Obj::kCurrent) (r.not_modified ? c.current_304 : c.current_200)++;
    else if (o == Obj::kSst) c.sst++;
    else c.other++;
  }
  return c;
}

void BM_IdleRequests(benchmark::State& state) {
  const bool s3 = state.range(0) != 0;
  const milliseconds refresh(state.range(1));
  const milliseconds lease(state.range(2));
  const milliseconds window(state.range(3) * 1000);

  struct Actor {
    const char* name;
    std::unique_ptr<Path> path;
    IdleCounts counts;
    uint64_t metrics_requests = 0;
  };
  std::vector<Actor> actors;
  double window_s = 0;

  for (auto _ : state) {
    auto mem = std::make_shared<MemStore>();
    {  // One SST of 1,000 events, then the writer goes away.
      auto w = open_db(mem).open_writer({});
      if (!w.ok()) return state.SkipWithError(w.status().to_string().c_str());
      for (uint64_t i = 0; i < 1000; i++) {
        uint64_t seq = 0;
        if (!put_retrying(**w, event_key(i), event_value(0), &seq).ok()) {
          return state.SkipWithError("load failed");
        }
      }
      if (Status s = (*w)->close(); !s.ok()) return state.SkipWithError(s.to_string().c_str());
    }
    actors.clear();
    for (const char* n : {"reader", "tail_changes", "tail_changes+keys", "no_start_changes+keys"}) {
      actors.push_back(Actor{n, std::make_unique<Path>(mem, s3), {}, 0});
    }
    const ReaderOptions ro = reader_options(refresh, lease);
    auto reader = Reader::open(actors[0].path->metrics, ro);
    if (!reader.ok()) return state.SkipWithError(reader.status().to_string().c_str());
    std::vector<std::unique_ptr<TailingReader>> tailers;
    std::vector<std::unique_ptr<TailChannel>> channels;
    for (size_t a = 1; a < actors.size(); a++) {
      auto t = TailingReader::open(actors[a].path->metrics, ro);
      if (!t.ok()) return state.SkipWithError(t.status().to_string().c_str());
      if (a != 3 && !(*t)->start().ok()) return state.SkipWithError("start failed");
      TailOptions changes;  // from now on: nothing arrives
      auto c = (*t)->subscribe(changes);
      if (!c.ok()) return state.SkipWithError(c.status().to_string().c_str());
      channels.push_back(std::move(*c));
      if (a >= 2) {
        TailOptions keys;  // from the first key: delivers the 1,000 events, then waits
        keys.mode = TailMode::kKeys;
        auto k = (*t)->subscribe(keys, 4096);
        if (!k.ok()) return state.SkipWithError(k.status().to_string().c_str());
        channels.push_back(std::move(*k));
      }
      tailers.push_back(std::move(*t));
    }
    std::this_thread::sleep_for(milliseconds(1500));  // keys tails read the SST
    for (Actor& a : actors) {
      a.path->trace->clear();
      a.path->metrics->reset();
    }
    const auto t0 = Clock::now();
    std::this_thread::sleep_for(window);
    for (Actor& a : actors) {
      a.counts = classify_idle(a.path->trace->records());
      a.metrics_requests = a.path->metrics->snapshot().total().requests;
    }
    window_s = std::chrono::duration<double>(Clock::now() - t0).count();
    state.SetIterationTime(window_s);
    for (auto& c : channels) c->close();
    for (auto& t : tailers) t->stop();
  }

  const double per_h = 3600.0 / window_s;
  const double idle_s = refresh.count() > 0 ? static_cast<double>(refresh.count()) / 1e3
                                            : TailingReader::kDefaultRefreshInterval.count() / 1e3;
  const double formula = 3600.0 / idle_s +
                         3600.0 / (static_cast<double>(lease.count()) / 1e3);
  static const char* counter_names[] = {"reader_per_h", "tail_per_h", "tail2_per_h",
                                        "nostart2_per_h"};
  for (size_t a = 0; a < actors.size(); a++) {
    state.counters[counter_names[a]] = static_cast<double>(actors[a].metrics_requests) * per_h;
  }
  state.counters["formula_per_h"] = formula;
  std::fprintf(stderr, "\n%s: %.2f s window, lease %lld ms, formula 3600/refresh + 3600/lease = %.0f/h\n",
               (std::string("BM_IdleRequests ") + (s3 ? "simulated S3" : "mem://") + ", refresh " +
                std::to_string(refresh.count()) + " ms")
                   .c_str(),
               window_s, static_cast<long long>(lease.count()), formula);
  std::fprintf(stderr, "  %-22s %8s %8s %8s %8s %8s %6s %6s %10s\n", "per hour", "total", "log404",
               "log_ok", "CUR_304", "CUR_200", "sst", "other", "(metrics)");
  for (const Actor& a : actors) {
    const IdleCounts& c = a.counts;
    std::fprintf(stderr, "  %-22s %8.0f %8.0f %8.0f %8.0f %8.0f %6.0f %6.0f %10.0f\n", a.name,
                 static_cast<double>(c.total) * per_h, static_cast<double>(c.log_404) * per_h,
                 static_cast<double>(c.log_ok) * per_h, static_cast<double>(c.current_304) * per_h,
                 static_cast<double>(c.current_200) * per_h, static_cast<double>(c.sst) * per_h,
                 static_cast<double>(c.other) * per_h,
                 static_cast<double>(a.metrics_requests) * per_h);
  }
}
// The last row: every option at its default (refresh_interval 0 = 1 s
// idle with an adaptive busy interval, lease 30 s), over a minute, so
// that CURRENT's re-reads show.
BENCHMARK(BM_IdleRequests)
    ->ArgNames({"s3", "refresh_ms", "lease_ms", "window_s"})
    ->Args({0, 100, 2000, 10})
    ->Args({1, 100, 2000, 10})
    ->Args({1, 1000, 2000, 10})
    ->Args({1, 0, 30000, 60})
    ->Iterations(1)
    ->Repetitions(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
