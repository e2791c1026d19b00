// Fault injection on the maintenance roles' commit paths, in the manner of
// EngineFaultSweep (lsm/engine_model_test.cc): a fixed scenario is run once
// to count the store requests one role makes, then once more per request
// number and per fault kind, with that one request failed (Transient),
// throttled, delayed (a stall that moves the clock past the lease) or with
// its response lost (the request is applied, the caller sees
// UnknownOutcome).
//
//   GcFaultSweep        every request of a garbage collector's runs;
//   CompactorFaultSweep every request of one compaction cycle, committed
//                       while the writer commits too; then also each
//                       request's object unavailable through all retries;
//   MaintFaultRace      a reader holding an old view while a compactor and
//                       a collector run on threads with random faults.
// (CompactorLease, disabled, reproduces a known issue of the lease rule.)
//
// Every maintenance process reaches the bucket through its own
// FaultStore -> MetricsStore pair, so rules and counts see only its
// requests; the writer and the checking readers use the bucket directly.
//
// The invariants: every object a fresh Reader needs (CURRENT, its snapshot,
// the log from log_seq_start, every live SST and every blob a live SST
// references) exists and the reader reads the model; nothing is deleted
// before it has been unreferenced for the grace; after enough fault-free
// GC runs everything unreferenced is gone (faults delay collection, never
// prevent it); GC's state objects stay decodable; a compaction commits at
// most once, a single fault never fails a compaction cycle, and a
// compactor is never fenced by a fault.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "isle/compactor.h"
#include "isle/db.h"
#include "isle/gc.h"
#include "maint/gc_codec.h"
#include "manifest/manifest_codec.h"
#include "manifest/manifest_log.h"
#include "manifest/manifest_state.h"
#include "store/fault_store.h"
#include "store/mem_store.h"
#include "store/metrics_store.h"
#include "store/prefix_store.h"
#include "testutil/testutil.h"
#include "util/random.h"

namespace isle {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kGrace = 600'000;
// An injected delay in the sweeps: the process stalls this long (the
// manual clock moves on), longer than the lease and far shorter than the
// grace.
constexpr auto kStall = 40s;

enum class Fault { kFail, kLose, kDelay, kThrottle };
constexpr Fault kFaults[] = {Fault::kFail, Fault::kLose, Fault::kDelay, Fault::kThrottle};
const char* fault_name(Fault f) {
  switch (f) {
    case Fault::kFail: return "fail";
    case Fault::kLose: return "lose-response";
    case Fault::kDelay: return "delay";
    case Fault::kThrottle: return "throttle";
  }
  return "?";
}
// An outage of one object: the nth request, and every later request of
// the same operation on the same key (all retries), fail with Transient.
// (For remove_batch, `n` counts the keys of a batch one by one.)
FaultRule outage_from(uint64_t n) {
  struct Target {
    uint64_t seen = 0;
    std::optional<std::pair<StoreOp, std::string>> hit;
  };
  auto t = std::make_shared<Target>();  // FaultStore calls predicates under its mutex
  return FaultRule::on_any()
      .when([t, n](const FaultContext& ctx) {
        if (t->hit) return t->hit->first == ctx.op && t->hit->second == ctx.key;
        if (++t->seen != n) return false;
        t->hit.emplace(ctx.op, std::string(ctx.key));
        return true;
      })
      .fail(Status::Transient("injected outage"))
      .named("outage");
}

FaultRule nth_request(uint64_t n, Fault f) {
  FaultRule rule = FaultRule::on_any().nth(n);
  switch (f) {
    case Fault::kFail: rule.fail(Status::Transient("injected")); break;
    case Fault::kLose: rule.lose_response(); break;
    case Fault::kDelay: rule.delay(std::chrono::duration_cast<std::chrono::milliseconds>(kStall)); break;
    case Fault::kThrottle: rule.fail(Status::Throttled("slow down")); break;
  }
  return rule;
}

// One maintenance process's way to the bucket.
struct Path {
  std::shared_ptr<FaultStore> fault;
  std::shared_ptr<MetricsStore> metrics;
};

struct Env {
  ManualClock clock;
  // modified_ms of every object comes from the manual clock (GC judges
  // orphans and blobs by it).
  std::shared_ptr<MemStore> mem = std::make_shared<MemStore>("mem://maint-fault", &clock);
  ObjectStorePtr scoped = with_prefix(mem, "db");
  ManifestStoragePtr manifest = object_store_manifest_storage(scoped);
  DBOptions db_options;
  Path gc_path, compactor_path;

  // `stalls_move_clock`: an injected delay advances the manual clock by
  // its length (a stalled process); otherwise it sleeps that long for real.
  explicit Env(uint64_t seed = 1, bool stalls_move_clock = true)
      : gc_path(make_path(seed, stalls_move_clock)),
        compactor_path(make_path(seed * 7919 + 1, stalls_move_clock)) {
    db_options.prefix = "db";
    db_options.clock = &clock;
  }

  Path make_path(uint64_t seed, bool stalls_move_clock) {
    SleepFunction sleep = real_sleep;
    if (stalls_move_clock) {
      sleep = [this](std::chrono::microseconds d) { clock.advance_ms(d.count() / 1000); };
    }
    Path p;
    p.fault = std::make_shared<FaultStore>(mem, seed, sleep);
    p.metrics = std::make_shared<MetricsStore>(p.fault);
    return p;
  }

  WriterOptions writer_options() const {
    WriterOptions o;
    o.flush_interval = std::chrono::hours(1);
    o.retry_backoff = 1ms;
    o.min_flush_spacing = 0ms;
    o.blob_threshold = 64;
    o.snapshot_every = 3;
    o.owner = "writer";
    // SST objects: inline flushes are covered by inline_consumers_test.cc.
    o.inline_flush_max_bytes = 0;
    return o;
  }
  std::unique_ptr<Writer> writer(const WriterOptions& o) {
    auto db = DB::open(mem, db_options);
    EXPECT_TRUE(db.ok()) << db.status().to_string();
    if (!db.ok()) return nullptr;
    auto w = db->open_writer(o);
    EXPECT_TRUE(w.ok()) << w.status().to_string();
    return w.ok() ? std::move(*w) : nullptr;
  }

  CompactorOptions compactor_options() const {
    CompactorOptions o;
    o.l0_threshold = 3;
    o.min_sources = 2;
    o.target_sst_size = 4096;
    o.snapshot_every = 2;
    o.retry_backoff = 1ms;
    o.owner = "compactor";
    return o;
  }
  // Through compactor_path, or straight to the bucket.
  std::unique_ptr<Compactor> compactor(bool faulty, const CompactorOptions& o) {
    ObjectStorePtr s = faulty ? ObjectStorePtr(compactor_path.metrics) : ObjectStorePtr(mem);
    auto c = Compactor::open(s, db_options, o);
    EXPECT_TRUE(c.ok()) << c.status().to_string();
    return c.ok() ? std::move(*c) : nullptr;
  }

  // Always through gc_path.
  std::unique_ptr<GarbageCollector> gc() {
    GcOptions o;
    o.prefix = "db";
    o.clock = &clock;
    o.grace = std::chrono::milliseconds(kGrace);
    // These tests are about the grace: the change feed's history
    // (kept longer for L0 SSTs and log entries) is not.
    o.change_retention = 0ms;
    auto g = GarbageCollector::open(gc_path.metrics, o);
    EXPECT_TRUE(g.ok()) << g.status().to_string();
    return g.ok() ? std::move(*g) : nullptr;
  }

  // A reader straight on the bucket with no caches: every read is a GET.
  std::unique_ptr<Reader> reader() {
    ReaderOptions o;
    o.prefix = "db";
    o.clock = &clock;
    o.retry_backoff = 1ms;
    o.block_cache_bytes = 0;
    o.blob_cache_bytes = 0;
    auto r = Reader::open(mem, o);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? std::move(*r) : nullptr;
  }

  bool exists(const std::string& key) { return scoped->head(key).ok(); }
  std::set<std::string> keys_under(const std::string& dir) {
    std::set<std::string> out;
    auto l = scoped->list_all(dir);
    EXPECT_TRUE(l.ok()) << l.status().to_string();
    if (l.ok()) {
      for (const auto& m : *l) out.insert(m.key);
    }
    return out;
  }
  void upload(const std::string& key, const std::string& data) {
    ASSERT_TRUE(scoped->put(key, data, PutOptions::create_only()).ok()) << key;
  }
};

std::vector<SstMeta> live_of(const ManifestState& s) {
  std::vector<SstMeta> out = s.l0;
  for (const auto& r : s.runs) out.insert(out.end(), r.ssts.begin(), r.ssts.end());
  return out;
}

// The replayed state, through a fresh log handle straight on the bucket.
std::optional<ManifestState> replay(Env& env, const std::string& where) {
  ManifestLogOptions lo;
  lo.clock = &env.clock;
  lo.retry_backoff = 1ms;
  ManifestLog log(env.manifest, lo);
  Status s = log.open();
  EXPECT_TRUE(s.ok()) << where << ": the manifest no longer opens: " << s.to_string();
  if (!s.ok()) return std::nullopt;
  return log.state();
}

// Every object a Reader opened now needs.
std::set<std::string> needed_keys(Env& env, const std::string& where) {
  std::set<std::string> out;
  auto cur = env.scoped->get(kCurrentKey);
  if (cur.status().is_not_found()) return out;
  EXPECT_TRUE(cur.ok()) << where << ": " << cur.status().to_string();
  if (!cur.ok()) return out;
  auto c = decode_current(cur->data, "CURRENT");
  EXPECT_TRUE(c.ok()) << where << ": " << c.status().to_string();
  if (!c.ok()) return out;
  out.insert(std::string(kCurrentKey));
  if (c->snapshot_pos != 0) out.insert(snapshot_key(c->snapshot_pos));
  auto st = replay(env, where);
  if (!st) return out;
  for (uint64_t p = c->log_seq_start; p < st->next_pos; p++) out.insert(log_key(p));
  for (const SstMeta& m : live_of(*st)) {
    out.insert(sst_key(m.id));
    for (const auto& b : m.blobs) out.insert(blob_key(b));
  }
  return out;
}

std::string big(const std::string& tag) {
  std::string v;
  while (v.size() < 200) v += tag + ";";
  return v;
}

// What the scenario expects: reads, and since when each object that left
// the needed set may be collected.
struct Ledger {
  std::map<std::string, std::string> model;   // what every fresh reader reads
  std::map<std::string, int64_t> not_before;  // garbage key -> earliest legal deletion (ms)
  std::set<std::string> needed;               // as of the last note()

  // After a change to the database: whatever left the needed set became
  // garbage now (a blob: now, or when it was uploaded if later).
  void note(Env& env, const std::string& where) {
    std::set<std::string> after = needed_keys(env, where);
    const int64_t now = env.clock.now_ms();
    for (const auto& k : needed) {
      if (after.count(k) || not_before.count(k)) continue;
      int64_t t = now;
      if (auto h = env.scoped->head(k); h.ok()) t = std::max(t, h->modified_ms);
      not_before[k] = t + kGrace;
    }
    for (const auto& k : after) not_before.erase(k);
    needed = std::move(after);
  }
  // An object that was never referenced (an upload that never committed).
  void stray(Env& env, const std::string& key) {
    auto h = env.scoped->head(key);
    ASSERT_TRUE(h.ok());
    not_before[key] = h->modified_ms + kGrace;
  }
};

std::map<std::string, std::string> read_all(Env& env, const std::string& where) {
  std::map<std::string, std::string> got;
  auto r = env.reader();
  if (!r) {
    ADD_FAILURE() << where << ": a fresh reader does not open";
    return got;
  }
  auto all = r->scan("", "");
  EXPECT_TRUE(all.ok()) << where << ": " << all.status().to_string();
  if (all.ok()) {
    for (auto& kv : *all) got[kv.key] = kv.value;
  }
  return got;
}

// Both GC state objects are absent or decodable.
void expect_gc_state_decodable(Env& env, const std::string& where) {
  auto p = env.scoped->get(kGcPendingKey);
  if (p.ok()) {
    auto d = decode_pending_marks(p->data, kGcPendingKey);
    EXPECT_TRUE(d.ok()) << where << ": " << d.status().to_string();
  } else {
    EXPECT_TRUE(p.status().is_not_found()) << where << ": " << p.status().to_string();
  }
  auto c = env.scoped->get(kGcCheckpointKey);
  if (c.ok()) {
    auto d = decode_gc_checkpoint(c->data, kGcCheckpointKey);
    EXPECT_TRUE(d.ok()) << where << ": " << d.status().to_string();
  } else {
    EXPECT_TRUE(c.status().is_not_found()) << where << ": " << c.status().to_string();
  }
}

// The safety checks after any step.
void check_safe(Env& env, const Ledger& L, const std::string& where) {
  for (const auto& k : needed_keys(env, where)) {
    EXPECT_TRUE(env.exists(k)) << where << ": a needed object is gone: " << k;
  }
  const int64_t now = env.clock.now_ms();
  for (const auto& [k, t] : L.not_before) {
    if (now < t) {
      EXPECT_TRUE(env.exists(k)) << where << ": deleted " << (t - now) << " ms before its grace ended: " << k;
    }
  }
  expect_gc_state_decodable(env, where);
  EXPECT_EQ(read_all(env, where), L.model) << where;
}

// A GC run may fail under a fault (storage errors, Aborted); it must never
// see Corruption or anything else.
bool gc_error_allowed(const Status& s) {
  switch (s.code()) {
    case Code::kTransient:
    case Code::kThrottled:
    case Code::kUnknownOutcome:
    case Code::kAborted:
      return true;
    default:
      return false;
  }
}

void put_big(Writer& w, Ledger& L, const std::string& k, const std::string& tag) {
  ASSERT_TRUE(w.put(k, big(tag)).ok());
  L.model[k] = big(tag);
}
void put_small(Writer& w, Ledger& L, const std::string& k, const std::string& v) {
  ASSERT_TRUE(w.put(k, v).ok());
  L.model[k] = v;
}
void del(Writer& w, Ledger& L, const std::string& k) {
  ASSERT_TRUE(w.del(k).ok());
  L.model.erase(k);
}

// ---- GcFaultSweep ------------------------------------------------------------

// The fixed scenario: flushes with blobs, a never-committed SST and blob,
// GC's first run (no checkpoint yet: adoption), a grace later a compaction
// that takes old SSTs and a blob out of the live set, snapshots that move
// log_seq_start, a second orphan, then GC runs at, half a grace after and
// a grace after the compaction. Returns the number of store requests GC
// made in those four runs (the swept part; the rules are cleared after
// it, and `swept` gets the sum of their reports); then fault-free runs
// over two more graces must leave exactly what a reader needs.
uint64_t gc_scenario(Env& env, const std::string& where, GcReport* swept = nullptr) {
  Ledger L;
  auto w = env.writer(env.writer_options());
  auto g = env.gc();
  if (!w || !g) {
    ADD_FAILURE() << where;
    return 0;
  }
  GcReport sum;
  auto gc_run = [&](const std::string& what) {
    auto r = g->run_once();
    if (r.ok()) {
      sum.ssts_marked += r->ssts_marked;
      sum.ssts_deleted += r->ssts_deleted;
      sum.orphans_deleted += r->orphans_deleted;
      sum.blobs_deleted += r->blobs_deleted;
      sum.log_entries_deleted += r->log_entries_deleted;
      sum.snapshots_deleted += r->snapshots_deleted;
    } else {
      EXPECT_TRUE(gc_error_allowed(r.status())) << where << ", " << what << ": " << r.status().to_string();
    }
    check_safe(env, L, where + ", after " + what);
  };
  auto flush = [&] {
    ASSERT_TRUE(w->flush().ok()) << where;
    L.note(env, where);
  };

  put_big(*w, L, "a", "a1");
  put_small(*w, L, "b", "1");
  put_big(*w, L, "c", "c1");
  flush();
  put_big(*w, L, "a", "a2");  // shadows a1: its blob dies with the compaction
  put_small(*w, L, "d", "2");
  flush();
  del(*w, L, "b");
  put_big(*w, L, "e", "e1");
  flush();
  if (::testing::Test::HasFatalFailure()) return 0;
  env.upload(sst_key("orphan-one"), "uploaded, never committed");
  env.upload(blob_key(std::string(64, 'f')), "a stray blob");
  L.stray(env, sst_key("orphan-one"));
  L.stray(env, blob_key(std::string(64, 'f')));

  gc_run("run 1 (no checkpoint: adopts the orphan)");
  // A grace later everything above is old: from here on only marks stand
  // between a removed SST and the orphan sweep.
  env.clock.advance_ms(kGrace + 1);
  {
    auto c = env.compactor(/*faulty=*/false, env.compactor_options());
    if (!c) return 0;
    auto info = c->run_compaction();
    EXPECT_TRUE(info.ok() && info->inputs.size() == 3) << where << ": " << info.status().to_string();
  }
  L.note(env, where);
  put_small(*w, L, "c", "small");  // shadows c1 (in the run now)
  put_big(*w, L, "f", "f1");
  flush();
  env.upload(sst_key("orphan-two"), "uploaded after the checkpoint");
  L.stray(env, sst_key("orphan-two"));
  gc_run("run 2 (marks; the adopted orphan, the stray blob and the old log are due)");
  env.clock.advance_ms(kGrace / 2);
  gc_run("run 3 (half a grace later)");
  env.clock.advance_ms(kGrace / 2 + 1);
  gc_run("run 4 (the compaction's grace is over)");

  const uint64_t total = env.gc_path.metrics->snapshot().total().requests;
  env.gc_path.fault->clear_rules();
  if (swept) *swept = sum;

  // Fault-free from here: everything unreferenced goes within two graces.
  for (int i = 0; i < 3; i++) {
    if (i > 0) env.clock.advance_ms(kGrace + 1);
    gc_run("final run " + std::to_string(i));
  }
  L.note(env, where);
  for (const auto& [k, t] : L.not_before) {
    EXPECT_FALSE(env.exists(k)) << where << ": never collected: " << k;
  }
  for (const std::string dir : {"sstable/", "blobs/", "manifest/log/", "manifest/snapshots/"}) {
    for (const auto& k : env.keys_under(dir)) {
      EXPECT_TRUE(L.needed.count(k)) << where << ": left behind: " << k;
    }
  }
  EXPECT_TRUE(w->close().ok()) << where;
  return total;
}

TEST(GcFaultSweep, EveryGcRequestFailedDelayedThrottledOrLostOneAtATime) {
  uint64_t total;
  {
    Env clean;
    GcReport swept;
    total = gc_scenario(clean, "clean run", &swept);
    ASSERT_FALSE(HasFailure());
    // The swept runs take every path: marks, due marks (the compaction's
    // inputs and the adopted orphan), the orphan sweep, the blob sweep,
    // old log entries and snapshots.
    EXPECT_EQ(swept.ssts_marked, 4u);
    EXPECT_EQ(swept.ssts_deleted, 4u);
    EXPECT_EQ(swept.orphans_deleted, 1u);
    EXPECT_EQ(swept.blobs_deleted, 2u);
    EXPECT_GT(swept.log_entries_deleted, 0u);
    EXPECT_GT(swept.snapshots_deleted, 0u);
  }
  ASSERT_GT(total, 40u);
  std::printf("GC scenario: %llu GC store requests, each faulted 4 ways\n",
              static_cast<unsigned long long>(total));
  uint64_t fired = 0;
  for (uint64_t n = 1; n <= total; n++) {
    for (Fault f : kFaults) {
      Env env;
      const size_t id = env.gc_path.fault->add_rule(nth_request(n, f));
      gc_scenario(env, "GC request " + std::to_string(n) + " " + fault_name(f));
      ASSERT_FALSE(HasFailure());
      fired += env.gc_path.fault->fired(id);
    }
  }
  EXPECT_GT(fired, total * 4 * 9 / 10);
}

// ---- CompactorFaultSweep -------------------------------------------------------

// Three L0 SSTs, one compaction cycle on the faulty path while the writer
// commits an SST at the moment the compactor first tries to append (so
// the compactor loses that position and must catch up), a writer flush
// after it, then fault-free cycles until there is nothing to do. `arm`
// runs right before the faulty cycle. Returns the requests of that cycle.
// With `cycle_failed` the faulty cycle may fail (reported there);
// without, it must succeed: one fault alone is always absorbed.
uint64_t compactor_scenario(Env& env, const std::string& where,
                            const std::function<void()>& arm, bool* cycle_failed = nullptr,
                            std::chrono::milliseconds backoff = 1ms) {
  Ledger L;
  WriterOptions wo = env.writer_options();
  wo.snapshot_every = 4;
  auto w = env.writer(wo);
  if (!w) return 0;
  put_big(*w, L, "a", "a1");
  put_small(*w, L, "b", "1");
  put_big(*w, L, "c", "c1");
  // Incompressible filler, so the merge cuts two outputs at the target size.
  Random filler(42);
  auto filler_key = [](int i) {
    std::string k = "k";
    k += std::to_string(100 + i);  // (not "k" + ...: GCC 12's -Wrestrict false positive)
    return k;
  };
  for (int i = 0; i < 200; i++) put_small(*w, L, filler_key(i), filler.bytes(40));
  EXPECT_TRUE(w->flush().ok());
  put_big(*w, L, "a", "a2");
  put_small(*w, L, "d", "2");
  del(*w, L, "c");
  EXPECT_TRUE(w->flush().ok());
  put_big(*w, L, "e", "e1");
  put_small(*w, L, "b", "3");
  for (int i = 0; i < 200; i += 3) put_small(*w, L, filler_key(i), "new");
  EXPECT_TRUE(w->flush().ok());
  auto before = replay(env, where);
  if (!before) return 0;
  std::set<std::string> inputs;
  for (const auto& m : before->l0) inputs.insert(m.id);
  EXPECT_EQ(inputs.size(), 3u);

  CompactorOptions co = env.compactor_options();
  co.block_size = 1024;  // the size estimate grows block by block: cut two outputs
  co.retry_backoff = backoff;
  auto c = env.compactor(/*faulty=*/true, co);
  if (!c) return 0;

  // The live writer: commits an SST right before the compactor's first
  // attempt to append, from inside the compactor's request.
  std::atomic<bool> hooked{false};
  std::atomic<bool> hook_ok{true};
  env.compactor_path.fault->add_rule(FaultRule::on_any().when([&](const FaultContext& ctx) {
    if (ctx.op == StoreOp::kPut && ctx.key.find("manifest/log/") != std::string_view::npos &&
        !hooked.exchange(true)) {
      hook_ok = w->put("h", "hooked").ok() && w->flush().ok();
    }
    return false;
  }));
  env.compactor_path.metrics->reset();
  arm();
  auto first = c->run_compaction();
  const uint64_t total = env.compactor_path.metrics->snapshot().total().requests;
  env.compactor_path.fault->clear_rules();
  if (hooked) L.model["h"] = "hooked";
  EXPECT_TRUE(hook_ok) << where;
  if (cycle_failed) {
    *cycle_failed = !first.ok();
  } else {
    // One fault alone is absorbed: transient errors by retries, a lost
    // response by reading the log position back.
    EXPECT_TRUE(first.ok()) << where << ": " << first.status().to_string();
  }
  if (!first.ok()) {
    const Code code = first.status().code();
    EXPECT_TRUE(code == Code::kTransient || code == Code::kThrottled ||
                code == Code::kUnknownOutcome)
        << where << ": the faulty cycle failed with " << first.status().to_string();
  }
  EXPECT_FALSE(c->is_fenced()) << where << ": fenced by a fault";

  // The writer goes on; so does the compactor, fault-free.
  put_small(*w, L, "g", "after");
  EXPECT_TRUE(w->flush().ok()) << where;
  EXPECT_TRUE(w->status().ok()) << where << ": " << w->status().to_string();
  for (int i = 0; i < 3; i++) {
    auto r = c->run_compaction();
    EXPECT_TRUE(r.ok()) << where << ": fault-free cycle " << i << ": " << r.status().to_string();
    if (!r.ok() || r->inputs.empty()) break;
  }
  EXPECT_FALSE(c->is_fenced()) << where;

  // Reads equal the model; everything the manifest references exists.
  EXPECT_EQ(read_all(env, where), L.model) << where;
  auto after = replay(env, where);
  if (!after) return total;
  for (const SstMeta& m : live_of(*after)) {
    EXPECT_TRUE(env.exists(sst_key(m.id))) << where << ": the manifest references a missing SST " << m.id;
    for (const auto& b : m.blobs) EXPECT_TRUE(env.exists(blob_key(b))) << where << ": missing blob " << b;
  }
  EXPECT_EQ(after->runs.size(), 1u) << where;
  // The whole log from position 1 (no GC here): exactly one compaction
  // counted, it consumed each original input once, no compaction entry
  // landed that replay had to skip, and one compactor claim.
  ManifestState st;
  int applied = 0, skipped = 0, claims = 0;
  std::map<std::string, int> consumed;
  for (uint64_t p = 1; p < after->next_pos; p++) {
    auto bytes = env.manifest->read_log(p);
    EXPECT_TRUE(bytes.ok()) << where << ": log " << p << ": " << bytes.status().to_string();
    if (!bytes.ok()) return total;
    auto e = decode_entry(*bytes, log_key(p));
    EXPECT_TRUE(e.ok()) << where;
    if (!e.ok()) return total;
    auto outcome = apply_entry(&st, *e);
    EXPECT_TRUE(outcome.ok()) << where;
    if (!outcome.ok()) return total;
    if (e->op == LogOp::kFenceClaim && e->role == Role::kCompactor) claims++;
    if (e->op != LogOp::kCompaction) continue;
    if (*outcome != ApplyOutcome::kApplied) {
      skipped++;
      continue;
    }
    applied++;
    for (const auto& id : e->inputs) consumed[id]++;
  }
  EXPECT_EQ(st.l0, after->l0) << where;
  EXPECT_EQ(st.runs, after->runs) << where;
  EXPECT_EQ(applied, 1) << where;
  EXPECT_EQ(skipped, 0) << where << ": a compaction was committed more than once";
  EXPECT_EQ(claims, 1) << where;
  for (const auto& id : inputs) EXPECT_EQ(consumed[id], 1) << where << ": input " << id;
  EXPECT_TRUE(w->close().ok()) << where;
  return total;
}

TEST(CompactorFaultSweep, EveryRequestOfACompactionCycleFailedDelayedThrottledLostOrUnavailable) {
  uint64_t total;
  {
    Env clean;
    total = compactor_scenario(clean, "clean run", [] {});
    ASSERT_FALSE(HasFailure());
  }
  ASSERT_GT(total, 10u);
  std::printf("compaction cycle: %llu compactor store requests, each faulted 4 ways\n",
              static_cast<unsigned long long>(total));
  uint64_t fired = 0;
  for (uint64_t n = 1; n <= total; n++) {
    for (Fault f : kFaults) {
      Env env;
      size_t id = 0;
      compactor_scenario(env, "compactor request " + std::to_string(n) + " " + fault_name(f),
                         [&] { id = env.compactor_path.fault->add_rule(nth_request(n, f)); });
      ASSERT_FALSE(HasFailure());
      fired += env.compactor_path.fault->fired(id);
    }
  }
  EXPECT_GT(fired, total * 4 * 9 / 10);
  std::printf("compaction cycle: and each request's object unavailable for all retries\n");
  int failed_cycles = 0;
  for (uint64_t n = 1; n <= total; n++) {
    Env env;
    size_t id = 0;
    bool failed = false;
    compactor_scenario(
        env, "compactor request " + std::to_string(n) + " outage",
        [&] { id = env.compactor_path.fault->add_rule(outage_from(n)); }, &failed,
        0ms);  // an outage outlasts every nested retry: do not sleep through them
    ASSERT_FALSE(HasFailure());
    EXPECT_GT(env.compactor_path.fault->fired(id), 0u) << "request " << n;
    failed_cycles += failed;
  }
  std::printf("  %d of %llu outages failed the cycle (then retried fault-free)\n", failed_cycles,
              static_cast<unsigned long long>(total));
}

// ---- a reader's view against concurrent, faulty maintenance -----------------------

void add_random_faults(FaultStore& f) {
  f.add_rule(FaultRule::on_any().probability(0.03).fail(Status::Transient("injected")));
  f.add_rule(FaultRule::on_any().probability(0.02).fail(Status::Throttled("slow down")));
  f.add_rule(FaultRule::on_any().probability(0.03).lose_response());
  f.add_rule(FaultRule::on_any().probability(0.03).delay(1ms));
}

TEST(MaintFaultRace, ReaderHoldingAViewKeepsReadingWhileFaultyCompactionAndGcRun) {
  const int seeds = testing::seed_count(4);
  for (int si = 0; si < seeds; si++) {
    const uint64_t seed = testing::seed_base() + 700000 + static_cast<uint64_t>(si);
    SCOPED_TRACE("seed " + std::to_string(seed));
    Env env(seed, /*stalls_move_clock=*/false);
    Random rnd(seed);
    Ledger L;
    auto w = env.writer(env.writer_options());
    ASSERT_NE(w, nullptr);
    std::vector<std::string> keys;
    for (int i = 0; i < 12; i++) keys.push_back("k" + std::to_string(10 + i));
    int version = 0;
    // One flush: a few keys get a unique big value (a blob), a small value
    // or a tombstone.
    auto flush_random = [&] {
      for (int i = 0; i < 4; i++) {
        const std::string& k = keys[rnd.uniform(keys.size())];
        const uint64_t what = rnd.uniform(10);
        const std::string tag = "s" + std::to_string(seed) + "v" + std::to_string(++version);
        if (what < 5) put_big(*w, L, k, tag);
        else if (what < 8) put_small(*w, L, k, tag);
        else del(*w, L, k);
      }
      ASSERT_TRUE(w->flush().ok());
    };

    // T0: data in L0, compacted into a run; GC knows it (checkpoint, then
    // marks for the compaction's inputs, due at T0 + grace).
    auto g0 = env.gc();
    for (int i = 0; i < 4; i++) ASSERT_NO_FATAL_FAILURE(flush_random());
    ASSERT_TRUE(g0->run_once().ok());
    std::vector<std::string> first_inputs;
    {
      auto c = env.compactor(/*faulty=*/false, env.compactor_options());
      auto st = replay(env, "phase 0");
      ASSERT_TRUE(st);
      for (const auto& m : st->l0) first_inputs.push_back(m.id);
      ASSERT_TRUE(c->run_compaction().ok());
    }
    ASSERT_TRUE(g0->run_once().ok());
    // T1 = T0 + grace/2: two more flushes; the reader takes its view.
    env.clock.advance_ms(kGrace / 2);
    const int64_t t1 = env.clock.now_ms();
    for (int i = 0; i < 2; i++) ASSERT_NO_FATAL_FAILURE(flush_random());
    auto view_reader = env.reader();
    ASSERT_NE(view_reader, nullptr);
    const std::map<std::string, std::string> view_model = L.model;
    std::set<std::string> view_objects;  // what the view references
    {
      auto st = replay(env, "view");
      ASSERT_TRUE(st);
      for (const auto& m : live_of(*st)) {
        view_objects.insert(sst_key(m.id));
        for (const auto& b : m.blobs) view_objects.insert(blob_key(b));
      }
    }

    // The race: a compactor and a collector on faulty paths, a thread
    // reading through the old view, the writer and the clock on this one.
    add_random_faults(*env.compactor_path.fault);
    add_random_faults(*env.gc_path.fault);
    auto open_compactor = [&]() -> std::unique_ptr<Compactor> {
      for (int attempt = 0; attempt < 20; attempt++) {
        auto c = Compactor::open(env.compactor_path.metrics, env.db_options, env.compactor_options());
        if (c.ok()) return std::move(*c);
      }
      return nullptr;
    };
    std::unique_ptr<Compactor> compactor = open_compactor();
    ASSERT_NE(compactor, nullptr);
    auto gc = env.gc();
    std::atomic<bool> stop{false};
    std::atomic<int> compactions{0}, gc_runs{0}, reads{0};
    std::mutex mu;
    std::vector<std::string> problems;
    auto problem = [&](std::string p) {
      std::lock_guard lk(mu);
      if (problems.size() < 10) problems.push_back(std::move(p));
    };
    std::thread compactor_thread([&] {
      while (!stop) {
        if (!compactor) {
          compactor = open_compactor();
          continue;
        }
        auto r = compactor->run_compaction();
        if (!r.ok() && (r.status().code() == Code::kFenced || r.status().code() == Code::kCorruption)) {
          problem("compactor: " + r.status().to_string());
        }
        if (r.ok() && r->inputs.empty()) std::this_thread::sleep_for(200us);
        compactions++;
      }
    });
    std::thread gc_thread([&] {
      while (!stop) {
        auto r = gc->run_once();
        if (!r.ok() && !gc_error_allowed(r.status())) problem("gc: " + r.status().to_string());
        gc_runs++;
      }
    });
    std::thread reader_thread([&] {
      while (!stop) {
        for (const auto& k : keys) {
          auto v = view_reader->get(k);
          auto it = view_model.find(k);
          const std::optional<std::string> want =
              it == view_model.end() ? std::nullopt : std::optional<std::string>(it->second);
          if (!v.ok()) problem("old view, get " + k + ": " + v.status().to_string());
          else if (*v != want) problem("old view, get " + k + ": wrong value");
        }
        reads++;
      }
    });
    constexpr int kSteps = 12;
    for (int step = 0; step < kSteps; step++) {
      flush_random();
      if (HasFatalFailure()) break;  // join the threads first
      // Stay within the grace of the view: at most T1 + 0.9 grace.
      env.clock.advance_ms(kGrace * 9 / 10 / kSteps);
      // Let every thread get a turn at this time.
      const int c0 = compactions, g0n = gc_runs, r0 = reads;
      const auto deadline = std::chrono::steady_clock::now() + 5s;
      while ((compactions == c0 || gc_runs < g0n + 2 || reads == r0) &&
             std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(100us);
      }
    }
    stop = true;
    compactor_thread.join();
    gc_thread.join();
    reader_thread.join();
    ASSERT_LT(env.clock.now_ms(), t1 + kGrace);
    for (const auto& p : problems) ADD_FAILURE() << p;
    // GC did collect while the view was held (the first compaction's
    // inputs were due at T1 + grace/2), through faults: a run that fails
    // after its deletions reports none, so count the requests.
    EXPECT_GT(env.gc_path.metrics->snapshot().op(StoreOp::kRemoveBatch).requests, 0u);
    EXPECT_GT(env.compactor_path.fault->total_fired() + env.gc_path.fault->total_fired(), 0u);
    for (const auto& k : view_objects) EXPECT_TRUE(env.exists(k)) << "the view's object is gone: " << k;
    for (const auto& k : keys) {
      auto v = view_reader->get(k);
      ASSERT_TRUE(v.ok()) << k << ": " << v.status().to_string();
      auto it = view_model.find(k);
      EXPECT_EQ(*v, it == view_model.end() ? std::nullopt : std::optional<std::string>(it->second)) << k;
    }
    // Fault-free now, still within the view's grace: the first
    // compaction's inputs are collected, the view's objects are not.
    env.compactor_path.fault->clear_rules();
    env.gc_path.fault->clear_rules();
    ASSERT_TRUE(gc->run_once().ok());
    for (const auto& id : first_inputs) EXPECT_FALSE(env.exists(sst_key(id))) << "due, not collected: " << id;
    for (const auto& k : view_objects) EXPECT_TRUE(env.exists(k)) << "the view's object is gone: " << k;
    for (const auto& k : keys) {
      auto v = view_reader->get(k);
      ASSERT_TRUE(v.ok()) << k << ": " << v.status().to_string();
    }
    for (const auto& k : needed_keys(env, "end")) EXPECT_TRUE(env.exists(k)) << "needed object gone: " << k;
    EXPECT_EQ(read_all(env, "end"), L.model);
    expect_gc_state_decodable(env, "end");
    ASSERT_NE(compactor, nullptr);
    EXPECT_FALSE(compactor->is_fenced());
    ASSERT_TRUE(w->close().ok());
    if (HasFailure()) return;
  }
}

// ---- the lease rule after a snapshot passes a fresh entry --------------------

// A committer whose lease ran out while its create of log/<p> was in
// flight re-reads CURRENT after the create. log_seq_start > p means either
// "my position was collected and I re-created a dead name" (a stall of a
// whole grace: fenced) or "another process snapshotted right after my
// create" (committed and visible). Within a grace of the committer's last
// CURRENT read only the second is possible (ManifestLog::lease_check).
// This test once found the rule calling a committed compaction Fenced.
TEST(CompactorLease, ASnapshotRightAfterTheCreateDoesNotFenceACommittedCompaction) {
  Env env;
  Ledger L;
  WriterOptions wo = env.writer_options();
  wo.snapshot_every = 1;
  auto w = env.writer(wo);
  ASSERT_NE(w, nullptr);
  for (int i = 0; i < 3; i++) {
    put_small(*w, L, "k", "v" + std::to_string(i));  // overlapping: a real merge
    ASSERT_TRUE(w->flush().ok());
  }
  auto c = env.compactor(/*faulty=*/true, env.compactor_options());
  ASSERT_NE(c, nullptr);
  // The compactor's create of its log entry stalls past the lease (it
  // lands); between the create and the lease check's CURRENT read, the
  // writer commits and writes a snapshot.
  bool created = false, hooked = false;
  env.compactor_path.fault->add_rule(FaultRule::on_any().when([&](const FaultContext& ctx) {
    if (ctx.op == StoreOp::kPut && ctx.key.find("manifest/log/") != std::string_view::npos) created = true;
    if (created && !hooked && ctx.op == StoreOp::kGet &&
        ctx.key.find("manifest/CURRENT") != std::string_view::npos) {
      hooked = true;
      put_small(*w, L, "late", "v");
      EXPECT_TRUE(w->flush().ok());
    }
    return false;
  }));
  env.compactor_path.fault->add_rule(
      FaultRule::on(StoreOp::kPut).key_prefix("db/manifest/log/").nth(1).delay(
          std::chrono::duration_cast<std::chrono::milliseconds>(kStall)));
  auto r = c->run_compaction();
  ASSERT_TRUE(hooked);
  auto st = replay(env, "after");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->runs.size(), 1u) << "the compaction committed";
  EXPECT_EQ(read_all(env, "after"), L.model);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_FALSE(c->is_fenced());
  ASSERT_TRUE(w->close().ok());
}

}  // namespace
}  // namespace isle
