// Model-based tests of the engine on the bench in engine_model.h: 1,000
// seeds of random histories, the same with random store faults, and a
// sweep that faults every request of a fixed scenario in turn.
#include <gtest/gtest.h>

#include "engine_model.h"

namespace isle {
namespace {

using testing::EngineEnv;
using testing::RunConfig;
using testing::run_seed;

TEST(EngineModel, RandomHistoriesMatchAStdMap) {
  const int seeds = isle::testing::seed_count(1000);
  const uint64_t base = isle::testing::seed_base();
  for (int i = 0; i < seeds; i++) {
    ASSERT_NO_FATAL_FAILURE(run_seed(base + static_cast<uint64_t>(i), RunConfig{}));
  }
}

RunConfig fault_config() {
  RunConfig c;
  c.ops = 60;
  c.faults = true;
  return c;
}

TEST(EngineFaultModel, RandomFaultsOnEveryPathLoseNothing) {
  const int seeds = isle::testing::seed_count(1000);
  const uint64_t base = isle::testing::seed_base();
  for (int i = 0; i < seeds; i++) {
    ASSERT_NO_FATAL_FAILURE(run_seed(base + 100000 + static_cast<uint64_t>(i),
                                     fault_config()));
  }
}

}  // namespace
}  // namespace isle

namespace isle {
namespace {

// One fixed scenario: open a writer, two flushes (a put group and an
// atomic batch), a reader refresh, a takeover by a second writer and one
// more flush. Returns the number of store requests it made.
uint64_t run_scenario(testing::EngineEnv& env, const std::string& where) {
  auto open_writer = [&]() -> std::unique_ptr<Writer> {
    for (int attempt = 0; attempt < 20; attempt++) {
      auto w = env.db().open_writer(env.writer_options());
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
  for (const auto& t : r->manifest().l0) EXPECT_TRUE(ids.insert(t.id).second) << where << ": applied twice";
  EXPECT_EQ(r->manifest().l0.size(), 3u) << where;
  return env.metrics->snapshot().total().requests;
}

TEST(EngineFaultSweep, EveryRequestFailedDelayedOrLostOneAtATime) {
  uint64_t total;
  {
    testing::EngineEnv clean;
    total = run_scenario(clean, "clean run");
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
      run_scenario(env, "request " + std::to_string(n) + " action " + std::to_string(a));
      ASSERT_FALSE(HasFailure());
      fired += static_cast<int>(env.fault->fired(id));
    }
  }
  // Nearly every request number exists in every variant (timing may shift
  // a few), so nearly every fault fired.
  EXPECT_GT(fired, static_cast<int>(total * 4 * 9 / 10));
}

}  // namespace
}  // namespace isle
