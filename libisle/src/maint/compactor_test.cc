// Compactor tests: L0 merges, run merges, trivial moves, tombstone and TTL
// elision only at the oldest data, fences, and the engine's model-based
// bench with a compactor running as one of the random operations.
#include <gtest/gtest.h>

#include <map>

#include "isle/compactor.h"
#include "lsm/engine_model.h"
#include "lsm/engine_test_util.h"
#include "maint/maint_test_util.h"
#include "util/random.h"

namespace isle {
namespace {

using namespace std::chrono_literals;
using testing::EngineEnv;

CompactorOptions test_options() {
  CompactorOptions o;
  o.l0_threshold = 2;
  o.min_sources = 2;
  o.retry_backoff = 1ms;
  o.owner = "compactor-test";
  return o;
}

std::unique_ptr<Compactor> open_compactor(EngineEnv& env, CompactorOptions o = test_options()) {
  auto c = Compactor::open(env.store, env.db_options, std::move(o));
  EXPECT_TRUE(c.ok()) << c.status().to_string();
  return c.ok() ? std::move(*c) : nullptr;
}

void flush_keys(Writer& w, const std::vector<std::pair<std::string, std::string>>& kvs) {
  for (const auto& [k, v] : kvs) ASSERT_TRUE(w.put(k, v).ok());
  ASSERT_TRUE(w.flush().ok());
}

TEST(Compactor, MergesOverlappingL0IntoOneRunAndKeepsNewestVersions) {
  EngineEnv env;
  auto w = object_writer(env);
  flush_keys(*w, {{"a", "1"}, {"m", "1"}, {"z", "1"}});
  flush_keys(*w, {{"a", "2"}, {"m", "2"}});
  ASSERT_TRUE(w->del("z").ok());
  ASSERT_TRUE(w->flush().ok());
  auto c = open_compactor(env);
  auto info = c->run_compaction();
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  EXPECT_TRUE(info->from_l0);
  EXPECT_EQ(info->inputs.size(), 3u);
  EXPECT_TRUE(info->drops_tombstones) << "no runs yet: L0 is the oldest data";
  EXPECT_EQ(info->entries_in, 6u);
  EXPECT_EQ(info->entries_out, 2u) << "two live keys; shadowed versions and the tombstone dropped";
  auto r = env.reader();
  const ManifestInfo m = r->manifest();
  EXPECT_TRUE(m.l0.empty());
  ASSERT_EQ(m.runs.size(), 1u);
  EXPECT_EQ(*r->get("a"), "2");
  EXPECT_EQ(*r->get("m"), "2");
  EXPECT_EQ(*r->get("z"), std::nullopt);
  // Nothing more to do.
  auto again = c->run_compaction();
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->inputs.empty());
}

TEST(Compactor, ReadAheadOffReadsBlockByBlockAndMergesTheSame) {
  for (uint64_t read_ahead : {uint64_t{0}, uint64_t{4096}, uint64_t{4} << 20}) {
    SCOPED_TRACE(read_ahead);
    EngineEnv env;
    WriterOptions wo = object_writer_options(env);
    wo.block_size = 512;  // many blocks per SST
    auto w = env.writer(wo);
    std::map<std::string, std::string> model;
    Random rnd(5);
    for (int f = 0; f < 2; f++) {
      for (int i = 0; i < 3000; i++) {  // ~150 KB: larger than a reader's tail read
        const std::string k = "k" + std::to_string(10000 + i * (f + 1));
        const std::string v = rnd.bytes(40);  // incompressible: the SSTs stay large
        ASSERT_TRUE(w->put(k, v).ok());
        model[k] = v;
      }
      ASSERT_TRUE(w->flush().ok());
    }
    CompactorOptions o = test_options();
    o.read_ahead_bytes = read_ahead;
    auto c = open_compactor(env, o);
    const uint64_t gets_before = env.metrics->snapshot().op(StoreOp::kGet).requests;
    auto info = c->run_compaction();
    ASSERT_TRUE(info.ok()) << info.status().to_string();
    ASSERT_EQ(info->inputs.size(), 2u);
    const uint64_t gets = env.metrics->snapshot().op(StoreOp::kGet).requests - gets_before;
    if (read_ahead == 0) {
      // Inputs are fetched in whole 64 KiB granules (DigestingSource), so
      // even without read-ahead it is not a GET per 512-byte block.
      EXPECT_LT(gets, 20u) << "a GET per granule";
    } else if (read_ahead > 100'000) {
      EXPECT_LT(gets, 20u) << "a few chunks";
    }
    auto r = env.reader();
    auto all = r->scan("", "");
    ASSERT_TRUE(all.ok());
    ASSERT_EQ(all->size(), model.size());
    for (const auto& kv : *all) EXPECT_EQ(model[kv.key], kv.value) << kv.key;
  }
  EngineEnv env;
  CompactorOptions bad = test_options();
  bad.read_ahead_bytes = 100;
  EXPECT_TRUE(Compactor::open(env.store, env.db_options, bad).status().is_invalid_argument());
}

TEST(Compactor, DisjointSstsAreMovedWithoutRewriting) {
  EngineEnv env;
  auto w = object_writer(env);
  flush_keys(*w, {{"a1", "x"}, {"a2", "x"}});
  flush_keys(*w, {{"b1", "x"}, {"b2", "x"}});
  auto c = open_compactor(env);
  env.metrics->reset();
  auto info = c->run_compaction();
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  EXPECT_EQ(info->moved.size(), 2u);
  EXPECT_EQ(info->outputs, info->moved);
  EXPECT_EQ(env.metrics->snapshot().op(StoreOp::kPut).requests, 1u) << "only the log entry";
  auto r = env.reader();
  ASSERT_EQ(r->manifest().runs.size(), 1u);
  EXPECT_EQ(r->manifest().runs[0].size(), 2u);
  EXPECT_EQ(r->scan("", "")->size(), 4u);
}

TEST(Compactor, TombstonesAndExpiredEntriesSurviveUntilTheOldestLevel) {
  EngineEnv env;
  auto w = object_writer(env);
  auto c = open_compactor(env);
  // The oldest run: k = old, t = old.
  flush_keys(*w, {{"k", "old"}, {"t", "old"}});
  flush_keys(*w, {{"k0", "pad"}});
  ASSERT_TRUE(c->run_compaction()->from_l0);
  // Newer data: k deleted, t overwritten with a TTL entry that expires.
  ASSERT_TRUE(w->del("k").ok());
  ASSERT_TRUE(w->put_with_ttl("t", "short", 10ms).ok());
  ASSERT_TRUE(w->flush().ok());
  flush_keys(*w, {{"k1", "pad"}});
  env.clock.advance_ms(20);
  auto l0 = c->run_compaction();
  ASSERT_TRUE(l0.ok()) << l0.status().to_string();
  EXPECT_TRUE(l0->from_l0);
  EXPECT_FALSE(l0->drops_tombstones) << "an older run exists";
  auto r = env.reader();
  EXPECT_EQ(*r->get("k"), std::nullopt) << "the tombstone must still shadow the old run";
  EXPECT_EQ(*r->get("t"), std::nullopt) << "the expired entry must still shadow the old run";
  // Merging the two runs reaches the oldest data: now they can go.
  auto runs = c->run_compaction();
  ASSERT_TRUE(runs.ok()) << runs.status().to_string();
  EXPECT_FALSE(runs->from_l0);
  EXPECT_TRUE(runs->drops_tombstones);
  EXPECT_EQ(runs->entries_out, 2u) << "only k0 and k1 remain";
  ASSERT_TRUE(r->refresh().ok());
  EXPECT_EQ(r->manifest().runs.size(), 1u);
  EXPECT_EQ(*r->get("k"), std::nullopt);
  EXPECT_EQ(*r->get("t"), std::nullopt);
  EXPECT_EQ(r->scan("", "")->size(), 2u);
}

TEST(Compactor, OutputsAreCutAtTheTargetSize) {
  EngineEnv env;
  WriterOptions wo = object_writer_options(env);
  wo.compression = Compression::kNone;
  auto w = env.writer(wo);
  for (int f = 0; f < 2; f++) {
    for (int i = 0; i < 400; i++) {
      ASSERT_TRUE(w->put("key" + std::to_string(1000 + i), std::string(100, 'a' + f)).ok());
    }
    ASSERT_TRUE(w->flush().ok());
  }
  CompactorOptions o = test_options();
  o.target_sst_size = 8192;
  o.compression = Compression::kNone;
  auto c = open_compactor(env, o);
  auto info = c->run_compaction();
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  EXPECT_GE(info->outputs.size(), 4u);
  auto r = env.reader();
  const ManifestInfo m = r->manifest();
  const auto& run = m.runs.at(0);
  for (size_t i = 1; i < run.size(); i++) EXPECT_LT(run[i - 1].max_key, run[i].min_key);
  auto all = r->scan("", "");
  ASSERT_EQ(all->size(), 400u);
  for (const auto& kv : *all) EXPECT_EQ(kv.value, std::string(100, 'b'));
}

TEST(Compactor, CommitsWhileTheWriterCommitsAndFencesOnlyCompactors) {
  EngineEnv env;
  auto w = object_writer(env);
  flush_keys(*w, {{"a", "1"}});
  flush_keys(*w, {{"a", "2"}});
  auto c1 = open_compactor(env);
  // The writer keeps committing after the compactor claimed its fence.
  flush_keys(*w, {{"b", "1"}});
  ASSERT_TRUE(c1->run_compaction().ok());
  flush_keys(*w, {{"c", "1"}});
  EXPECT_TRUE(w->status().ok());
  // A second compactor fences the first, not the writer.
  auto c2 = open_compactor(env);
  EXPECT_EQ(c1->run_compaction().status().code(), Code::kFenced);
  EXPECT_TRUE(c1->is_fenced());
  flush_keys(*w, {{"d", "1"}});
  EXPECT_TRUE(c2->run_compaction().ok());
  auto r = env.reader();
  EXPECT_EQ(r->scan("", "")->size(), 4u);
  EXPECT_EQ(*r->get("a"), "2");
}

TEST(Compactor, BackgroundLoopCompactsUntilStopped) {
  EngineEnv env;
  auto w = object_writer(env);
  CompactorOptions o = test_options();
  o.check_interval = 5ms;
  auto c = open_compactor(env, o);
  ASSERT_TRUE(c->start().ok());
  for (int i = 0; i < 20; i++) flush_keys(*w, {{"k" + std::to_string(i % 5), std::to_string(i)}});
  auto r = env.reader();
  for (int i = 0; i < 1000 && !r->manifest().l0.empty(); i++) {
    std::this_thread::sleep_for(5ms);
    ASSERT_TRUE(r->refresh().ok());
  }
  c->stop();
  ASSERT_TRUE(r->refresh().ok());
  EXPECT_LT(r->manifest().l0.size(), 2u);
  EXPECT_EQ(*r->get("k4"), "19");
}

// The engine's model bench with a compactor as one of the random
// operations: every read must still equal the std::map model.
testing::RunConfig with_compactor(bool faults) {
  testing::RunConfig cfg;
  cfg.faults = faults;
  cfg.ops = faults ? 60 : 80;
  cfg.extra = [](EngineEnv& env) -> std::function<Status()> {
    CompactorOptions o = test_options();
    o.target_sst_size = 4096;
    o.snapshot_every = 3;
    std::shared_ptr<Compactor> c;
    Status last;
    for (int attempt = 0; !c && attempt < 50; attempt++) {
      auto opened = Compactor::open(env.store, env.db_options, o);
      if (opened.ok()) {
        c = std::move(*opened);
      } else {
        last = opened.status();
      }
    }
    EXPECT_TRUE(c) << "compactor never opened: " << last.to_string();
    return [c]() -> Status { return c ? c->run_compaction().status() : Status::Aborted("none"); };
  };
  return cfg;
}

TEST(CompactorModel, ReadsMatchTheModelWhileCompactionRuns) {
  const int seeds = isle::testing::seed_count(300);
  for (int i = 0; i < seeds; i++) {
    ASSERT_NO_FATAL_FAILURE(
        testing::run_seed(isle::testing::seed_base() + 500000 + static_cast<uint64_t>(i), with_compactor(false)));
  }
}

TEST(CompactorModel, RandomFaultsOnTheCompactionCommitPathLoseNothing) {
  const int seeds = isle::testing::seed_count(200);
  for (int i = 0; i < seeds; i++) {
    ASSERT_NO_FATAL_FAILURE(
        testing::run_seed(isle::testing::seed_base() + 600000 + static_cast<uint64_t>(i), with_compactor(true)));
  }
}

}  // namespace
}  // namespace isle
