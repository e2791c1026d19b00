// FaultStore: rules select the configured requests and fire exactly as
// often as configured; fail-before applies nothing, lose-response applies
// the request; delays go through the sleep function; probability is
// seeded and deterministic; counting is exact under concurrency.
#include "store/store_test_util.h"
#include "store/fault_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace isle {
namespace {

using std::chrono::milliseconds;

using testing::mem_store;

using testing::SleepRecorder;

TEST(FaultStore, NoRulesPassesEverythingThrough) {
  auto inner = mem_store();
  FaultStore f(inner);
  EXPECT_EQ(f.url(), inner->url());
  ASSERT_TRUE(f.put("k", "v").ok());
  EXPECT_EQ(f.get("k")->data, "v");
  EXPECT_TRUE(f.head("k").ok());
  EXPECT_EQ(f.list({}).value().objects.size(), 1u);
  EXPECT_TRUE(f.remove("k").ok());
  EXPECT_TRUE(f.remove_batch({"a", "b"}).ok());
  EXPECT_EQ(f.total_fired(), 0u);
}

TEST(FaultStore, FailBeforeAppliesNothing) {
  auto inner = mem_store();
  FaultStore f(inner);
  size_t id = f.add_rule(FaultRule::on(StoreOp::kPut).fail(Status::Transient("boom")).times(1));
  auto r = f.put("k", "v");
  ASSERT_EQ(r.status().code(), Code::kTransient);
  EXPECT_EQ(r.status().message(), "boom");
  EXPECT_TRUE(inner->head("k").status().is_not_found());  // nothing was written
  ASSERT_TRUE(f.put("k", "v").ok());                       // times(1): only once
  EXPECT_EQ(inner->get("k")->data, "v");
  EXPECT_EQ(f.fired(id), 1u);
  EXPECT_EQ(f.matched(id), 2u);
}

TEST(FaultStore, LoseResponseAppliesTheWriteThenReportsUnknownOutcome) {
  auto inner = mem_store();
  FaultStore f(inner);
  size_t id = f.add_rule(
      FaultRule::on(StoreOp::kPut).key_prefix("manifest/log/").lose_response().times(1));
  ASSERT_TRUE(f.put("sstable/1.sst", "data").ok());  // other keys unaffected
  auto r = f.put("manifest/log/00000000000000000001.json", "{}", PutOptions::create_only());
  EXPECT_TRUE(r.status().is_unknown_outcome());
  // The write really happened: reading back finds it, and a second create
  // fails as it would against a real store.
  EXPECT_EQ(inner->get("manifest/log/00000000000000000001.json")->data, "{}");
  EXPECT_TRUE(f.put("manifest/log/00000000000000000001.json", "{}", PutOptions::create_only())
                  .status()
                  .is_precondition_failed());
  EXPECT_EQ(f.fired(id), 1u);
}

TEST(FaultStore, LoseResponseOfRemoveAndBatchRemoves) {
  auto inner = mem_store();
  ASSERT_TRUE(inner->put("a", "1").ok());
  ASSERT_TRUE(inner->put("b", "2").ok());
  ASSERT_TRUE(inner->put("c", "3").ok());
  FaultStore f(inner);
  f.add_rule(FaultRule::on(StoreOp::kRemove).lose_response());
  f.add_rule(FaultRule::on(StoreOp::kRemoveBatch).key_equals("c").lose_response());
  EXPECT_TRUE(f.remove("a").is_unknown_outcome());
  EXPECT_TRUE(inner->head("a").status().is_not_found());
  // The batch matches because one of its keys does; both keys are removed.
  EXPECT_TRUE(f.remove_batch({"b", "c"}).status().is_unknown_outcome());
  EXPECT_TRUE(inner->head("b").status().is_not_found());
  EXPECT_TRUE(inner->head("c").status().is_not_found());
}

TEST(FaultStore, FailedBatchRemovesNothing) {
  auto inner = mem_store();
  ASSERT_TRUE(inner->put("x/1", "1").ok());
  ASSERT_TRUE(inner->put("y/1", "1").ok());
  FaultStore f(inner);
  f.add_rule(FaultRule::on(StoreOp::kRemoveBatch).key_prefix("y/").fail(Status::Throttled("slow")));
  EXPECT_EQ(f.remove_batch({"x/1", "y/1"}).status().code(), Code::kThrottled);
  EXPECT_TRUE(inner->head("x/1").ok());
  EXPECT_TRUE(inner->head("y/1").ok());
  ASSERT_TRUE(f.remove_batch({"x/1"}).ok());  // no key matches: passes
  EXPECT_TRUE(inner->head("x/1").status().is_not_found());
}

TEST(FaultStore, PutModeSelectsOnlyThatKindOfPut) {
  auto inner = mem_store();
  FaultStore f(inner);
  size_t id = f.add_rule(
      FaultRule::on_any().put_mode(PutMode::kIfMatch).fail(Status::PreconditionFailed("cas")));
  auto m = f.put("CURRENT", "v1");
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE(f.put("other", "v", PutOptions::create_only()).ok());
  EXPECT_TRUE(f.get("CURRENT").ok());  // not a put: never selected
  auto cas = f.put("CURRENT", "v2", PutOptions::if_match_etag(m->etag));
  EXPECT_TRUE(cas.status().is_precondition_failed());
  EXPECT_EQ(inner->get("CURRENT")->data, "v1");
  EXPECT_EQ(f.matched(id), 1u);
  EXPECT_EQ(f.fired(id), 1u);
}

TEST(FaultStore, NthAndSkipAndTimesCountMatches) {
  FaultStore f(mem_store());
  ASSERT_TRUE(f.put("k", "v").ok());
  size_t nth = f.add_rule(FaultRule::on(StoreOp::kGet).key_equals("k").nth(3).fail(
      Status::Permanent("third")));
  size_t window = f.add_rule(FaultRule::on(StoreOp::kHead).skip(2).times(2).fail(
      Status::Transient("window")));
  std::vector<Code> gets, heads;
  for (int i = 0; i < 6; i++) {
    gets.push_back(f.get("k").status().code());
    heads.push_back(f.head("k").status().code());
  }
  std::vector<Code> want_gets = {Code::kOk, Code::kOk, Code::kPermanent,
                                 Code::kOk, Code::kOk, Code::kOk};
  std::vector<Code> want_heads = {Code::kOk, Code::kOk, Code::kTransient,
                                  Code::kTransient, Code::kOk, Code::kOk};
  EXPECT_EQ(gets, want_gets);
  EXPECT_EQ(heads, want_heads);
  EXPECT_EQ(f.fired(nth), 1u);
  EXPECT_EQ(f.matched(nth), 6u);
  EXPECT_EQ(f.fired(window), 2u);
  EXPECT_EQ(f.total_fired(), 3u);
}

TEST(FaultStore, FirstFiringRuleWinsAndLaterRulesDoNotSeeTheRequest) {
  FaultStore f(mem_store());
  size_t a = f.add_rule(FaultRule::on(StoreOp::kGet).times(2).fail(Status::Transient("a")));
  size_t b = f.add_rule(FaultRule::on(StoreOp::kGet).fail(Status::Throttled("b")));
  EXPECT_EQ(f.get("k").status().code(), Code::kTransient);
  EXPECT_EQ(f.get("k").status().code(), Code::kTransient);
  EXPECT_EQ(f.get("k").status().code(), Code::kThrottled);
  EXPECT_EQ(f.matched(a), 3u);
  EXPECT_EQ(f.fired(a), 2u);
  EXPECT_EQ(f.matched(b), 1u);
  EXPECT_EQ(f.fired(b), 1u);
}

TEST(FaultStore, KeyPredicatesAndListPrefix) {
  FaultStore f(mem_store());
  f.add_rule(FaultRule::on(StoreOp::kList).key_prefix("sstable/").fail(Status::Transient("l")));
  f.add_rule(FaultRule::on(StoreOp::kGet)
                 .when([](const FaultContext& c) { return c.key.size() == 3; })
                 .fail(Status::Transient("g")));
  ListOptions lo;
  lo.prefix = "sstable/";
  EXPECT_EQ(f.list(lo).status().code(), Code::kTransient);
  lo.prefix = "manifest/";
  EXPECT_TRUE(f.list(lo).ok());
  EXPECT_EQ(f.get("abc").status().code(), Code::kTransient);
  EXPECT_TRUE(f.get("abcd").status().is_not_found());
  EXPECT_TRUE(f.get("ab").status().is_not_found());
}

TEST(FaultStore, OrOnSelectsSeveralOperations) {
  FaultStore f(mem_store());
  f.add_rule(FaultRule::on(StoreOp::kGet).or_on(StoreOp::kHead).fail(Status::Transient("x")));
  EXPECT_EQ(f.get("k").status().code(), Code::kTransient);
  EXPECT_EQ(f.head("k").status().code(), Code::kTransient);
  EXPECT_TRUE(f.put("k", "v").ok());
  EXPECT_TRUE(f.remove("k").ok());
}

TEST(FaultStore, DelayGoesThroughTheSleepFunction) {
  SleepRecorder rec;
  auto inner = mem_store();
  FaultStore f(inner, 1, rec.fn());
  f.add_rule(FaultRule::on(StoreOp::kPut).key_equals("slow").delay(milliseconds(250)));
  f.add_rule(FaultRule::on(StoreOp::kPut)
                 .key_equals("slowfail")
                 .delay(milliseconds(40))
                 .fail(Status::Transient("late")));
  ASSERT_TRUE(f.put("slow", "v").ok());  // delayed, then applied normally
  EXPECT_TRUE(inner->head("slow").ok());
  EXPECT_EQ(f.put("slowfail", "v").status().code(), Code::kTransient);
  EXPECT_TRUE(inner->head("slowfail").status().is_not_found());
  ASSERT_TRUE(f.put("fast", "v").ok());
  ASSERT_EQ(rec.us.size(), 2u);
  EXPECT_EQ(rec.us[0], 250'000);
  EXPECT_EQ(rec.us[1], 40'000);
}

std::vector<bool> fire_pattern(uint64_t seed, double p, int n) {
  FaultStore f(mem_store(), seed);
  f.add_rule(FaultRule::on(StoreOp::kHead).probability(p).fail(Status::Transient("p")));
  std::vector<bool> fired;
  for (int i = 0; i < n; i++) fired.push_back(f.head("k").status().code() == Code::kTransient);
  return fired;
}

TEST(FaultStore, ProbabilityIsSeededAndRoughlyRight) {
  auto a = fire_pattern(42, 0.3, 2000);
  auto b = fire_pattern(42, 0.3, 2000);
  auto c = fire_pattern(43, 0.3, 2000);
  EXPECT_EQ(a, b);  // same seed, same order of requests: same faults
  EXPECT_NE(a, c);
  long fired = std::count(a.begin(), a.end(), true);
  EXPECT_GT(fired, 450);  // mean 600, sd ~20
  EXPECT_LT(fired, 750);
  auto never = fire_pattern(1, 0.0, 200);
  EXPECT_EQ(std::count(never.begin(), never.end(), true), 0);
  auto always = fire_pattern(1, 1.0, 200);
  EXPECT_EQ(std::count(always.begin(), always.end(), true), 200);
}

TEST(FaultStore, RemovedAndClearedRulesStopFiringButKeepCounts) {
  FaultStore f(mem_store());
  size_t a = f.add_rule(FaultRule::on(StoreOp::kGet).fail(Status::Transient("a")));
  size_t b = f.add_rule(FaultRule::on(StoreOp::kHead).fail(Status::Transient("b")));
  (void)f.get("k");
  f.remove_rule(a);
  EXPECT_TRUE(f.get("k").status().is_not_found());
  EXPECT_EQ(f.head("k").status().code(), Code::kTransient);
  f.clear_rules();
  EXPECT_TRUE(f.head("k").status().is_not_found());
  EXPECT_EQ(f.fired(a), 1u);
  EXPECT_EQ(f.fired(b), 1u);
  EXPECT_EQ(f.fired(99), 0u);
  f.remove_rule(99);  // unknown ids are ignored
}

TEST(FaultStore, OkStatusIsNotAFailure) {
  FaultStore f(mem_store());
  f.add_rule(FaultRule::on(StoreOp::kPut).fail(Status::OK()));
  EXPECT_TRUE(f.put("k", "v").ok());
  EXPECT_TRUE(f.get("k").ok());
}

TEST(FaultStore, TimesIsExactUnderConcurrency) {
  FaultStore f(mem_store());
  size_t id = f.add_rule(FaultRule::on(StoreOp::kPut).times(25).fail(Status::Transient("x")));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; i++) {
        if (!f.put("k" + std::to_string(t * 1000 + i), "v").ok()) failures++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 25);
  EXPECT_EQ(f.fired(id), 25u);
  EXPECT_EQ(f.matched(id), 400u);
}

}  // namespace
}  // namespace isle
