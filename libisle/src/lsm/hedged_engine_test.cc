// Hedged requests under the engine: a create-only PUT whose first copy
// landed while its hedge saw PreconditionFailed (UnknownOutcome) is
// resolved as ours by the manifest log (one entry, not two) and by the
// writer's SST upload (no flush error); and the model bench runs with
// hedging on over a store with a heavy latency tail.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "engine_model.h"
#include "isle/db.h"
#include "manifest/manifest_log.h"
#include "isle/manifest_storage.h"
#include "store/hedged_store.h"
#include "store/hedged_store_test_util.h"
#include "store/latency_store.h"
#include "store/mem_store.h"

namespace isle {
namespace {

using namespace std::chrono_literals;
using testing::fixed_delay;
using testing::Latch;
using testing::ScriptedCall;
using testing::ScriptStore;

bool has_prefix(const std::string& s, std::string_view p) { return s.rfind(p, 0) == 0; }

TEST(HedgedManifestLog, AppendWhoseFirstCopyLandedSlowlyCommitsOnce) {
  Latch release;
  std::atomic<bool> armed{false};
  auto mem = std::make_shared<MemStore>();
  auto script = std::make_shared<ScriptStore>(mem, nullptr, [&](const ScriptedCall& c) {
    // The append's log PUT lands; its response is held back.
    if (armed && c.op == StoreOp::kPut && has_prefix(c.key, "manifest/log/") &&
        c.nth_on_key == 0) {
      armed = false;
      release.wait();
    }
  });
  auto hedged = std::make_shared<HedgedStore>(script, fixed_delay());
  ManifestLogOptions lo;
  lo.retry_backoff = 0ms;
  ManifestLog log(object_store_manifest_storage(hedged), lo);
  ASSERT_TRUE(log.open().ok());
  ASSERT_TRUE(log.claim(Role::kWriter, "w").ok());
  const uint64_t before = log.state().next_pos;

  armed = true;
  LogEntry e;
  e.op = LogOp::kAddSstable;
  SstMeta m;
  m.id = "s1";
  m.size = 100;
  m.sha256 = std::string(64, 'a');
  m.min_key = "a";
  m.max_key = "z";
  m.seq_lo = 1;
  m.seq_hi = 10;
  m.num_entries = 10;
  e.added = {m};
  e.last_seq = 10;
  auto pos = log.append(e);
  ASSERT_TRUE(pos.ok()) << pos.status().to_string();
  EXPECT_EQ(*pos, before);
  EXPECT_EQ(hedged->stats().of(HedgeClass::kPutCreate).unknown_outcomes, 1u);
  EXPECT_EQ(log.stats().unknown_outcomes, 1u);  // resolved by reading back

  ManifestLog reader(object_store_manifest_storage(mem), lo);
  ASSERT_TRUE(reader.open().ok());
  EXPECT_EQ(reader.state().l0.size(), 1u);  // one entry, not two
  EXPECT_EQ(reader.state().next_pos, before + 1);
  EXPECT_EQ(reader.state().last_seq, 10u);
  release.open();
}

TEST(HedgedWriter, SstPutWhoseFirstCopyLandedSlowlyIsNoFlushError) {
  Latch release;
  std::atomic<bool> armed{true};
  auto mem = std::make_shared<MemStore>();
  auto script = std::make_shared<ScriptStore>(mem, nullptr, [&](const ScriptedCall& c) {
    if (armed && c.op == StoreOp::kPut && has_prefix(c.key, "db/sstable/") &&
        c.nth_on_key == 0) {
      armed = false;
      release.wait();
    }
  });
  DBOptions dbo;
  dbo.prefix = "db";
  dbo.hedging = fixed_delay();
  auto db = DB::open(script, dbo);
  ASSERT_TRUE(db.ok());
  WriterOptions wo;
  wo.flush_interval = 1h;
  wo.retry_backoff = 1ms;
  wo.inline_flush_max_bytes = 0;  // every flush uploads an SST object
  std::vector<Status> flush_errors;
  std::mutex mu;
  wo.on_flush_error = [&](const Status& s) {
    std::lock_guard lk(mu);
    flush_errors.push_back(s);
  };
  auto w = db->open_writer(wo);
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  auto seq = (*w)->put("key", "value");
  ASSERT_TRUE(seq.ok());
  ASSERT_TRUE((*w)->await_durable(*seq).ok());
  EXPECT_EQ((*w)->stats().flush_errors, 0u);
  {
    std::lock_guard lk(mu);
    for (const auto& s : flush_errors) ADD_FAILURE() << "flush error: " << s.to_string();
  }
  EXPECT_FALSE(armed.load());  // the slow first copy did happen
  ReaderOptions ro;
  ro.hedging.enabled = false;
  auto r = db->open_reader(ro);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  auto g = (*r)->get("key");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(*g, std::optional<std::string>("value"));
  ASSERT_EQ((*r)->manifest().l0.size(), 1u);
  release.open();
  ASSERT_TRUE((*w)->close().ok());
}

TEST(HedgedReader, ReaderOptionsHedgingHedgesItsSstReads) {
  Latch release;
  std::atomic<bool> armed{false};
  auto mem = std::make_shared<MemStore>();
  auto script = std::make_shared<ScriptStore>(mem, [&](const ScriptedCall& c) {
    // The reader's first read of the SST object is held back.
    if (armed && c.op == StoreOp::kGet && has_prefix(c.key, "db/sstable/") &&
        c.nth_on_key == 0) {
      armed = false;
      release.wait();
    }
  });
  DBOptions dbo;
  dbo.prefix = "db";
  dbo.hedging.enabled = false;
  auto db = DB::open(script, dbo);
  ASSERT_TRUE(db.ok());
  WriterOptions wo;
  wo.flush_interval = 1h;
  wo.inline_flush_max_bytes = 0;
  auto w = db->open_writer(wo);
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  ASSERT_TRUE((*w)->put("key", "value").ok());
  ASSERT_TRUE((*w)->flush().ok());

  armed = true;
  ReaderOptions ro;
  ro.hedging = fixed_delay();
  auto r = db->open_reader(ro);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  auto g = (*r)->get("key");
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  EXPECT_EQ(*g, std::optional<std::string>("value"));
  EXPECT_FALSE(armed.load());         // the held-back GET happened...
  EXPECT_FALSE(release.is_open());    // ...and a hedge answered instead
  release.open();
  ASSERT_TRUE((*w)->close().ok());
}

// Durable puts from 8 threads through DBOptions::hedging over a store with
// a heavy tail: every acknowledged write is read back (through a hedged
// reader), no SST is applied twice, and hedges did happen.
TEST(HedgedEngine, DurablePutsOverAHeavyTailAreAllReadBackOnce) {
  LatencyProfile p{0.3, 10.0, 0.5, 15.0, 0, 0};
  auto bucket = std::make_shared<LatencyStore>(std::make_shared<MemStore>(), p, 99);
  HedgeOptions h;
  h.min_samples = 16;
  h.min_delay = 1ms;
  h.max_extra_fraction = 0.2;
  h.hedge_local_stores = true;
  const uint64_t sent_before = process_hedge_stats().total().hedges_sent;
  DBOptions dbo;
  dbo.prefix = "db";
  dbo.hedging = h;
  auto db = DB::open(bucket, dbo);
  ASSERT_TRUE(db.ok());
  WriterOptions wo;
  wo.flush_interval = 5ms;
  wo.retry_backoff = 1ms;
  auto w = db->open_writer(wo);
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  constexpr int kThreads = 8, kPuts = 40;
  std::vector<std::thread> ts;
  std::atomic<int> acked{0};
  for (int t = 0; t < kThreads; t++) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < kPuts; i++) {
        const std::string k = "k" + std::to_string(t) + "-" + std::to_string(i);
        auto seq = (*w)->put(k, "v" + k);
        ASSERT_TRUE(seq.ok()) << seq.status().to_string();
        ASSERT_TRUE((*w)->await_durable(*seq).ok());
        acked++;
      }
    });
  }
  for (auto& t : ts) t.join();
  ASSERT_EQ(acked.load(), kThreads * kPuts);
  ReaderOptions ro;
  ro.hedging = h;
  auto r = db->open_reader(ro);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  for (int t = 0; t < kThreads; t++) {
    for (int i = 0; i < kPuts; i++) {
      const std::string k = "k" + std::to_string(t) + "-" + std::to_string(i);
      auto g = (*r)->get(k);
      ASSERT_TRUE(g.ok()) << g.status().to_string();
      ASSERT_EQ(*g, std::optional<std::string>("v" + k)) << k;
    }
  }
  auto all = (*r)->scan("", "");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), static_cast<size_t>(kThreads * kPuts));
  std::set<std::string> ids;
  for (const auto& t : (*r)->manifest().l0) EXPECT_TRUE(ids.insert(t.id).second) << t.id;
  ASSERT_TRUE((*w)->close().ok());
  EXPECT_GT(process_hedge_stats().total().hedges_sent, sent_before);
}

// The model bench with a heavy-tailed store under everything, hedged: the
// writes acknowledged durable are all read back, none twice (run_seed's
// checks), with and without injected faults above the hedging.
testing::RunConfig hedged_config(bool faults, std::shared_ptr<std::atomic<uint64_t>> hedges) {
  testing::RunConfig c;
  c.ops = 60;
  c.faults = faults;
  c.bucket = [hedges]() -> Result<ObjectStorePtr> {
    // p50 0.2 ms, p99 6 ms: a tail 30 times the median.
    LatencyProfile p{0.2, 6.0, 0.3, 8.0, 0, 0};
    auto slow = std::make_shared<LatencyStore>(std::make_shared<MemStore>(), p,
                                               hedges->load() + 1);
    HedgeOptions o;
    o.min_samples = 16;
    o.min_delay = 1ms;
    o.max_extra_fraction = 0.2;
    // A store that adds its stats to `hedges` when the seed's run drops it.
    struct Counting : HedgedStore {
      Counting(ObjectStorePtr in, HedgeOptions ho, std::shared_ptr<std::atomic<uint64_t>> h)
          : HedgedStore(std::move(in), ho), sink(std::move(h)) {}
      ~Counting() override { *sink += stats().total().hedges_sent; }
      std::shared_ptr<std::atomic<uint64_t>> sink;
    };
    return ObjectStorePtr(std::make_shared<Counting>(slow, o, hedges));
  };
  return c;
}

TEST(HedgedEngineModel, HeavyTailStoreLosesNothingAndAppliesNothingTwice) {
  auto hedges = std::make_shared<std::atomic<uint64_t>>(0);
  const int seeds = testing::seed_count(6);
  for (int i = 0; i < seeds; i++) {
    ASSERT_NO_FATAL_FAILURE(testing::run_seed(7000 + static_cast<uint64_t>(i),
                                              hedged_config(i % 2 == 1, hedges)));
  }
  EXPECT_GT(hedges->load(), 0u);  // hedging did take part
}

}  // namespace
}  // namespace isle
