// Model-based tests of the engine on the bench in engine_model.h: 1,000
// seeds of random histories, the same with random store faults, and a
// sweep that faults every request of a fixed scenario in turn. The default
// writer flushes inline (every flush of the bench is small); the
// FrequentMaterialization variants add small materialization bounds, the
// InlineOff ones run today's upload-then-commit path.
#include <gtest/gtest.h>

#include <tuple>

#include "engine_model.h"

namespace isle {
namespace {

using testing::EngineEnv;
using testing::RunConfig;
using testing::run_seed;

// Runs `seeds` seeds of `c`, the first at seed_base() + offset; stops at
// the first seed that fails fatally.
void run_seeds(int seeds, uint64_t offset, const RunConfig& c) {
  const uint64_t base = isle::testing::seed_base() + offset;
  for (int i = 0; i < seeds; i++) {
    ASSERT_NO_FATAL_FAILURE(run_seed(base + static_cast<uint64_t>(i), c));
  }
}

// `c` with the writer options tuned by `tune`.
RunConfig tuned(RunConfig c, void (*tune)(WriterOptions&, Random&)) {
  c.tune_writer = tune;
  return c;
}

// Runs seed_count(500) seeds of `c` with frequent materialization from
// seed_base() + offset, and checks that materializations outnumber seeds.
void run_frequent_materialization(uint64_t offset, RunConfig c) {
  const int seeds = isle::testing::seed_count(500);
  c.tune_writer = testing::frequent_materialization;
  uint64_t materializations = 0;
  c.materializations = &materializations;
  ASSERT_NO_FATAL_FAILURE(run_seeds(seeds, offset, c));
  EXPECT_GT(materializations, static_cast<uint64_t>(seeds)) << "materialization was rare";
}

TEST(EngineModel, RandomHistoriesMatchAStdMap) {
  const int seeds = isle::testing::seed_count(1000);
  ASSERT_NO_FATAL_FAILURE(run_seeds(seeds, 0, RunConfig{}));
}

TEST(EngineModel, FrequentMaterializationRandomHistoriesMatchAStdMap) {
  run_frequent_materialization(200000, RunConfig{});
}

// The default writer keeps up to 4 flushes in flight (size-triggered seals
// give it several at once); these run one at a time and 2..8.
TEST(EngineModel, OneFlushInFlightRandomHistoriesMatchAStdMap) {
  ASSERT_NO_FATAL_FAILURE(run_seeds(isle::testing::seed_count(300), 600000,
                                    tuned(RunConfig{}, testing::one_flush_in_flight)));
}

TEST(EngineModel, RandomFlushesInFlightRandomHistoriesMatchAStdMap) {
  ASSERT_NO_FATAL_FAILURE(run_seeds(isle::testing::seed_count(300), 700000,
                                    tuned(RunConfig{}, testing::random_flushes_in_flight)));
}

TEST(EngineModel, InlineOffRandomHistoriesMatchAStdMap) {
  ASSERT_NO_FATAL_FAILURE(run_seeds(isle::testing::seed_count(300), 300000,
                                    tuned(RunConfig{}, testing::inline_off)));
}

RunConfig fault_config() {
  RunConfig c;
  c.ops = 60;
  c.faults = true;
  return c;
}

TEST(EngineFaultModel, FrequentMaterializationUnderFaultsLosesNothing) {
  run_frequent_materialization(400000, fault_config());
}

TEST(EngineFaultModel, OneFlushInFlightUnderFaultsLosesNothing) {
  ASSERT_NO_FATAL_FAILURE(run_seeds(isle::testing::seed_count(300), 800000,
                                    tuned(fault_config(), testing::one_flush_in_flight)));
}

TEST(EngineFaultModel, RandomFlushesInFlightUnderFaultsLosesNothing) {
  ASSERT_NO_FATAL_FAILURE(run_seeds(isle::testing::seed_count(300), 900000,
                                    tuned(fault_config(), testing::random_flushes_in_flight)));
}

TEST(EngineFaultModel, InlineOffUnderFaultsLosesNothing) {
  ASSERT_NO_FATAL_FAILURE(run_seeds(isle::testing::seed_count(300), 500000,
                                    tuned(fault_config(), testing::inline_off)));
}

TEST(EngineFaultModel, RandomFaultsOnEveryPathLoseNothing) {
  const int seeds = isle::testing::seed_count(1000);
  ASSERT_NO_FATAL_FAILURE(run_seeds(seeds, 100000, fault_config()));
}

}  // namespace
}  // namespace isle

namespace isle {
namespace {

// One fixed scenario: open a writer, two flushes (a put group and an
// atomic batch), a reader refresh, a takeover by a second writer and one
// more flush. Returns the number of store requests it made. With inline
// flushes the first writer's two flushes are inline; the second writer
// materializes them (its helper races its own flush) and materializes its
// own at close, so the scenario ends with 1 or 2 L0 SSTs and none inline;
// without, 3 L0 SSTs.
uint64_t run_scenario(testing::EngineEnv& env, const std::string& where, bool inline_on,
                      int in_flight) {
  WriterOptions wo = env.writer_options();
  if (!inline_on) wo.inline_flush_max_bytes = 0;
  wo.max_flushes_in_flight = in_flight;
  auto open_writer = [&]() -> std::unique_ptr<Writer> {
    for (int attempt = 0; attempt < 20; attempt++) {
      auto w = env.db().open_writer(wo);
      if (w.ok()) return std::move(*w);
      EXPECT_NE(w.status().code(), Code::kCorruption) << where << ": " << w.status().to_string();
    }
    ADD_FAILURE() << where << ": writer never opened";
    return nullptr;
  };
  auto w = open_writer();
  if (!w) return 0;
  EXPECT_TRUE(w->put("a", "1").ok()) << where;
  EXPECT_TRUE(w->put("b", "2").ok()) << where;
  EXPECT_TRUE(w->flush().ok()) << where;
  WriteBatch batch;
  batch.put("c", "3");
  batch.del("a");
  batch.put("d", std::string(600, 'd'));
  EXPECT_TRUE(w->write(batch).ok()) << where;
  EXPECT_TRUE(w->flush().ok()) << where;

  std::unique_ptr<Reader> r;
  for (int attempt = 0; !r && attempt < 20; attempt++) {
    auto o = Reader::open(env.store, env.reader_options());
    if (o.ok()) r = std::move(*o);
  }
  EXPECT_TRUE(r) << where;
  if (!r) return 0;

  auto w2 = open_writer();
  if (!w2) return 0;
  EXPECT_TRUE(w2->put("e", "5").ok()) << where;
  EXPECT_TRUE(w2->flush().ok()) << where;
  EXPECT_EQ(w->put("zombie", "x").ok() ? w->flush().code() : w->status().code(), Code::kFenced)
      << where;
  EXPECT_TRUE(w2->close().ok()) << where;

  Status s;
  for (int attempt = 0; attempt < 20; attempt++) {
    s = r->refresh();
    if (s.ok()) break;
  }
  EXPECT_TRUE(s.ok()) << where << ": " << s.to_string();
  const std::map<std::string, std::string> want = {
      {"b", "2"}, {"c", "3"}, {"d", std::string(600, 'd')}, {"e", "5"}};
  std::map<std::string, std::string> got;
  for (int attempt = 0; attempt < 20; attempt++) {
    auto all = r->scan("", "");
    if (!all.ok()) continue;
    got.clear();
    for (auto& kv : *all) got[kv.key] = kv.value;
    break;
  }
  EXPECT_EQ(got, want) << where;
  std::set<std::string> ids;
  const ManifestInfo info = r->manifest();
  for (const auto& t : info.l0) EXPECT_TRUE(ids.insert(t.id).second) << where << ": applied twice";
  uint64_t entries = 0;
  for (const auto& t : info.l0) entries += t.entries;
  EXPECT_EQ(entries, 6u) << where << ": every write exactly once";
  EXPECT_TRUE(info.inline_ssts.empty()) << where << ": a clean close materializes";
  if (inline_on) {
    EXPECT_GE(info.l0.size(), 1u) << where;
    EXPECT_LE(info.l0.size(), 2u) << where;
  } else {
    EXPECT_EQ(info.l0.size(), 3u) << where;
  }
  return env.metrics->snapshot().total().requests;
}

// (inline flushes on, max_flushes_in_flight)
class EngineFaultSweep : public ::testing::TestWithParam<std::tuple<bool, int>> {};

TEST_P(EngineFaultSweep, EveryRequestFailedDelayedOrLostOneAtATime) {
  const bool inline_on = std::get<0>(GetParam());
  const int in_flight = std::get<1>(GetParam());
  uint64_t total;
  {
    testing::EngineEnv clean;
    total = run_scenario(clean, "clean run", inline_on, in_flight);
    ASSERT_FALSE(HasFailure());
  }
  ASSERT_GT(total, 20u);
  std::printf("scenario: %llu store requests, each faulted 4 ways\n", static_cast<unsigned long long>(total));
  enum Action { kFail, kLose, kDelay, kThrottle };
  int fired = 0;
  for (uint64_t n = 1; n <= total; n++) {
    for (Action a : {kFail, kLose, kDelay, kThrottle}) {
      testing::EngineEnv env;
      FaultRule rule = FaultRule::on_any().nth(n);
      switch (a) {
        case kFail: rule.fail(Status::Transient("injected")); break;
        case kLose: rule.lose_response(); break;
        case kDelay: rule.delay(std::chrono::milliseconds(5)); break;
        case kThrottle: rule.fail(Status::Throttled("slow down")); break;
      }
      const size_t id = env.fault->add_rule(rule);
      run_scenario(env, "request " + std::to_string(n) + " action " + std::to_string(a),
                   inline_on, in_flight);
      ASSERT_FALSE(HasFailure());
      fired += static_cast<int>(env.fault->fired(id));
    }
  }
  // Nearly every request number exists in every variant (timing may shift
  // a few), so nearly every fault fired. With several flushes in flight
  // the creates race on worker threads, so which request is number n (and
  // how many the scenario makes) varies more from run to run: a quarter
  // may miss there (seen: 146 of 164 fired in one run).
  const uint64_t pct = in_flight > 1 ? 75 : 90;
  EXPECT_GT(fired, static_cast<int>(total * 4 * pct / 100));
}

INSTANTIATE_TEST_SUITE_P(Inline, EngineFaultSweep,
                         ::testing::Combine(::testing::Values(true, false),
                                            ::testing::Values(1, 4)),
                         [](const ::testing::TestParamInfo<std::tuple<bool, int>>& i) {
                           return std::string(std::get<0>(i.param) ? "InlineOn" : "InlineOff") +
                                  "InFlight" + std::to_string(std::get<1>(i.param));
                         });

}  // namespace
}  // namespace isle
