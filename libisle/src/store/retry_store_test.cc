// RetryStore: which codes are retried for which operations, how often,
// with what backoff, within which deadline; conditional-put UnknownOutcome
// passes through untouched. Failures are scripted with a FaultStore (or a
// small batch fake); sleeps advance a fake clock instead of sleeping.
#include "store/store_test_util.h"
#include "store/retry_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <deque>
#include <map>
#include <mutex>
#include <vector>

#include "store/fault_store.h"
#include "store/metrics_store.h"

namespace isle {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using ::testing::HasSubstr;

using testing::mem_store;

// A clock with microsecond steps whose "sleep" just moves time forward and
// records the request.
class FakeTime : public Clock {
 public:
  int64_t now_ms() override { return 1'700'000'000'000 + ns_.load() / 1'000'000; }
  int64_t mono_ns() override { return ns_.load(); }
  SleepFunction sleeper() {
    return [this](microseconds d) {
      {
        std::lock_guard lock(mu_);
        sleeps_.push_back(d);
      }
      ns_.fetch_add(d.count() * 1000);
    };
  }
  std::vector<microseconds> sleeps() {
    std::lock_guard lock(mu_);
    return sleeps_;
  }
  int64_t elapsed_ms() const { return ns_.load() / 1'000'000; }

 private:
  std::atomic<int64_t> ns_{0};
  std::mutex mu_;
  std::vector<microseconds> sleeps_;
};

RetryOptions options_for(FakeTime& t, int max_attempts = 10) {
  RetryOptions o;
  o.initial_backoff = milliseconds(10);
  o.max_backoff = milliseconds(1000);
  o.max_attempts = max_attempts;
  o.deadline = milliseconds(0);  // no deadline unless a test sets one
  o.seed = 17;
  o.sleep = t.sleeper();
  o.clock = &t;
  return o;
}

TEST(RetryStore, ShouldRetryTable) {
  for (bool idem : {true, false}) {
    EXPECT_TRUE(RetryStore::should_retry(Status::Transient("x"), idem));
    EXPECT_TRUE(RetryStore::should_retry(Status::Throttled("x"), idem));
    EXPECT_FALSE(RetryStore::should_retry(Status::OK(), idem));
    EXPECT_FALSE(RetryStore::should_retry(Status::PreconditionFailed("x"), idem));
    EXPECT_FALSE(RetryStore::should_retry(Status::NotFound("x"), idem));
    EXPECT_FALSE(RetryStore::should_retry(Status::Permanent("x"), idem));
    EXPECT_FALSE(RetryStore::should_retry(Status::InvalidArgument("x"), idem));
    EXPECT_FALSE(RetryStore::should_retry(Status::Corruption("x"), idem));
  }
  EXPECT_TRUE(RetryStore::should_retry(Status::UnknownOutcome("x"), true));
  EXPECT_FALSE(RetryStore::should_retry(Status::UnknownOutcome("x"), false));
}

TEST(RetryStore, RetriesTransientAndThrottledUntilSuccess) {
  FakeTime t;
  auto inner = mem_store();
  ASSERT_TRUE(inner->put("k", "v").ok());
  auto fault = std::make_shared<FaultStore>(inner);
  size_t g = fault->add_rule(FaultRule::on(StoreOp::kGet).times(3).fail(Status::Transient("t")));
  size_t p = fault->add_rule(FaultRule::on(StoreOp::kPut).times(2).fail(Status::Throttled("s")));
  RetryStore r(fault, options_for(t));
  EXPECT_EQ(r.url(), inner->url());
  auto got = r.get("k");
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ(got->data, "v");
  EXPECT_EQ(fault->matched(g), 4u);
  ASSERT_TRUE(r.put("k2", "v2").ok());
  EXPECT_EQ(fault->matched(p), 3u);
  EXPECT_EQ(inner->get("k2")->data, "v2");
  EXPECT_EQ(r.retries(), 5u);
  EXPECT_EQ(r.gave_up(), 0u);
  EXPECT_EQ(t.sleeps().size(), 5u);
}

TEST(RetryStore, GivesUpAfterMaxAttemptsWithTheLastCode) {
  FakeTime t;
  auto fault = std::make_shared<FaultStore>(mem_store());
  size_t id = fault->add_rule(FaultRule::on(StoreOp::kHead).fail(Status::Throttled("slow down")));
  RetryStore r(fault, options_for(t, 5));
  auto res = r.head("k");
  EXPECT_EQ(res.status().code(), Code::kThrottled);
  EXPECT_THAT(res.status().message(), HasSubstr("gave up after 5 attempts"));
  EXPECT_THAT(res.status().message(), HasSubstr("slow down"));
  EXPECT_EQ(fault->matched(id), 5u);
  EXPECT_EQ(t.sleeps().size(), 4u);
  EXPECT_EQ(r.retries(), 4u);
  EXPECT_EQ(r.gave_up(), 1u);
}

TEST(RetryStore, OneAttemptMeansNoRetry) {
  FakeTime t;
  auto fault = std::make_shared<FaultStore>(mem_store());
  size_t id = fault->add_rule(FaultRule::on(StoreOp::kGet).fail(Status::Transient("t")));
  for (int attempts : {1, 0, -3}) {
    RetryStore r(fault, options_for(t, attempts));
    EXPECT_EQ(r.get("k").status().code(), Code::kTransient);
  }
  EXPECT_EQ(fault->matched(id), 3u);
  EXPECT_TRUE(t.sleeps().empty());
}

TEST(RetryStore, BackoffIsExponentialWithFullJitter) {
  FakeTime t;
  auto fault = std::make_shared<FaultStore>(mem_store());
  fault->add_rule(FaultRule::on(StoreOp::kGet).fail(Status::Transient("t")));
  RetryOptions o = options_for(t, 7);
  o.initial_backoff = milliseconds(100);
  o.max_backoff = milliseconds(800);
  RetryStore r(fault, o);
  constexpr int kCalls = 400;
  for (int i = 0; i < kCalls; i++) (void)r.get("k");
  auto sleeps = t.sleeps();
  ASSERT_EQ(sleeps.size(), size_t{kCalls} * 6);
  // Sleeps come in groups of six per call: retry n waits in [0, cap_n].
  for (int n = 1; n <= 6; n++) {
    const double cap_us = std::min(800.0, 100.0 * std::pow(2.0, n - 1)) * 1000;
    double sum = 0, max = 0;
    for (int c = 0; c < kCalls; c++) {
      double us = static_cast<double>(sleeps[c * 6 + (n - 1)].count());
      ASSERT_GE(us, 0);
      ASSERT_LE(us, cap_us) << "retry " << n;
      sum += us;
      max = std::max(max, us);
    }
    // Uniform on [0, cap]: mean cap/2 (sd of the mean ~ cap/70 here).
    EXPECT_NEAR(sum / kCalls, cap_us / 2, cap_us * 0.07) << "retry " << n;
    EXPECT_GT(max, cap_us * 0.95) << "retry " << n;
  }
}

TEST(RetryStore, DeadlineBoundsTheWholeCall) {
  FakeTime t;
  // Every attempt takes 200 ms of (fake) time and then fails.
  auto fault = std::make_shared<FaultStore>(mem_store(), 1, t.sleeper());
  size_t id = fault->add_rule(
      FaultRule::on(StoreOp::kGet).delay(milliseconds(200)).fail(Status::Transient("t")));
  RetryOptions o = options_for(t, 100);
  o.initial_backoff = milliseconds(100);
  o.max_backoff = milliseconds(100);
  o.deadline = milliseconds(1000);
  RetryStore r(fault, o);
  auto res = r.get("k");
  EXPECT_EQ(res.status().code(), Code::kTransient);
  EXPECT_THAT(res.status().message(), HasSubstr("gave up"));
  // No attempt starts at or after the deadline, so the call ends within one
  // attempt's time of it. Attempts cost 200-300 ms: 4 or 5 fit.
  EXPECT_LT(t.elapsed_ms(), 1000 + 200);
  EXPECT_GE(fault->matched(id), 4u);
  EXPECT_LE(fault->matched(id), 5u);
  EXPECT_EQ(r.gave_up(), 1u);
}

TEST(RetryStore, NoDeadlineMeansOnlyAttemptsLimit) {
  FakeTime t;
  auto fault = std::make_shared<FaultStore>(mem_store(), 1, t.sleeper());
  size_t id = fault->add_rule(
      FaultRule::on(StoreOp::kGet).delay(milliseconds(10'000)).fail(Status::Transient("t")));
  RetryStore r(fault, options_for(t, 12));
  EXPECT_EQ(r.get("k").status().code(), Code::kTransient);
  EXPECT_EQ(fault->matched(id), 12u);
  EXPECT_GT(t.elapsed_ms(), 100'000);
}

TEST(RetryStore, UnknownOutcomeIsRetriedForIdempotentOperations) {
  FakeTime t;
  auto inner = mem_store();
  ASSERT_TRUE(inner->put("k", "v").ok());
  auto fault = std::make_shared<FaultStore>(inner);
  size_t get = fault->add_rule(FaultRule::on(StoreOp::kGet).lose_response().times(1));
  size_t head = fault->add_rule(FaultRule::on(StoreOp::kHead).lose_response().times(1));
  size_t list = fault->add_rule(FaultRule::on(StoreOp::kList).lose_response().times(1));
  size_t put = fault->add_rule(
      FaultRule::on(StoreOp::kPut).put_mode(PutMode::kOverwrite).lose_response().times(1));
  size_t rm = fault->add_rule(FaultRule::on(StoreOp::kRemove).lose_response().times(1));
  size_t batch = fault->add_rule(FaultRule::on(StoreOp::kRemoveBatch).lose_response().times(1));
  RetryStore r(fault, options_for(t));

  EXPECT_EQ(r.get("k")->data, "v");
  EXPECT_TRUE(r.head("k").ok());
  EXPECT_TRUE(r.list({}).ok());
  ASSERT_TRUE(r.put("o", "over").ok());
  EXPECT_EQ(inner->get("o")->data, "over");
  EXPECT_TRUE(r.remove("o").ok());
  EXPECT_TRUE(inner->head("o").status().is_not_found());
  ASSERT_TRUE(inner->put("b", "1").ok());
  auto res = r.remove_batch({"b", "k"});
  ASSERT_TRUE(res.ok());
  EXPECT_TRUE(res->empty());
  EXPECT_TRUE(inner->head("b").status().is_not_found());
  for (size_t id : {get, head, list, put, rm, batch}) {
    EXPECT_EQ(fault->matched(id), 2u) << "rule " << id;
    EXPECT_EQ(fault->fired(id), 1u) << "rule " << id;
  }
  EXPECT_EQ(r.retries(), 6u);
}

TEST(RetryStore, ConditionalPutUnknownOutcomeIsReturnedUntouched) {
  FakeTime t;
  auto inner = mem_store();
  auto fault = std::make_shared<FaultStore>(inner);
  size_t create = fault->add_rule(
      FaultRule::on(StoreOp::kPut).put_mode(PutMode::kCreateOnly).lose_response().times(1));
  size_t cas = fault->add_rule(
      FaultRule::on(StoreOp::kPut).put_mode(PutMode::kIfMatch).lose_response().times(1));
  RetryStore r(fault, options_for(t));

  auto c = r.put("manifest/log/1", "entry", PutOptions::create_only());
  ASSERT_TRUE(c.status().is_unknown_outcome());
  EXPECT_THAT(c.status().message(), ::testing::Not(HasSubstr("retry")));
  EXPECT_EQ(fault->matched(create), 1u);  // one request, no retry
  EXPECT_EQ(inner->get("manifest/log/1")->data, "entry");  // it was applied, once

  auto first = inner->put("CURRENT", "a");
  ASSERT_TRUE(first.ok());
  auto s = r.put("CURRENT", "b", PutOptions::if_match_etag(first->etag));
  ASSERT_TRUE(s.status().is_unknown_outcome());
  EXPECT_EQ(fault->matched(cas), 1u);
  EXPECT_EQ(inner->get("CURRENT")->data, "b");
  EXPECT_EQ(r.retries(), 0u);
  EXPECT_TRUE(t.sleeps().empty());
}

TEST(RetryStore, ConditionalPutUnknownOutcomeMessageIsUnchanged) {
  FakeTime t;
  auto fault = std::make_shared<FaultStore>(mem_store());
  fault->add_rule(FaultRule::on(StoreOp::kPut).fail(Status::UnknownOutcome("timeout after send")));
  RetryStore r(fault, options_for(t));
  auto res = r.put("k", "v", PutOptions::create_only());
  EXPECT_EQ(res.status().code(), Code::kUnknownOutcome);
  EXPECT_EQ(res.status().message(), "timeout after send");
}

TEST(RetryStore, ConditionalPutIsRetriedOnTransient) {
  FakeTime t;
  auto inner = mem_store();
  auto fault = std::make_shared<FaultStore>(inner);
  size_t id = fault->add_rule(FaultRule::on(StoreOp::kPut).times(2).fail(Status::Transient("t")));
  RetryStore r(fault, options_for(t));
  ASSERT_TRUE(r.put("k", "v", PutOptions::create_only()).ok());
  EXPECT_EQ(fault->matched(id), 3u);
  EXPECT_EQ(inner->get("k")->data, "v");
}

TEST(RetryStore, NonRetryableCodesAreReturnedAtOnceUnchanged) {
  const Code codes[] = {Code::kPreconditionFailed, Code::kNotFound,   Code::kPermanent,
                        Code::kInvalidArgument,    Code::kCorruption, Code::kIOError,
                        Code::kNotSupported,       Code::kFenced,     Code::kBackpressure,
                        Code::kAborted};
  for (Code code : codes) {
    FakeTime t;
    auto fault = std::make_shared<FaultStore>(mem_store());
    size_t id = fault->add_rule(FaultRule::on_any().fail(Status(code, "scripted")));
    RetryStore r(fault, options_for(t));
    auto g = r.get("k");
    EXPECT_EQ(g.status().code(), code);
    EXPECT_EQ(g.status().message(), "scripted");
    EXPECT_EQ(r.put("k", "v").status().code(), code);
    EXPECT_EQ(r.remove("k").code(), code);
    EXPECT_EQ(fault->matched(id), 3u) << code_name(code);
    EXPECT_TRUE(t.sleeps().empty()) << code_name(code);
  }
}

TEST(RetryStore, RealPreconditionFailedIsOneRequest) {
  FakeTime t;
  auto metrics = std::make_shared<MetricsStore>(mem_store());
  RetryStore r(metrics, options_for(t));
  ASSERT_TRUE(r.put("k", "v", PutOptions::create_only()).ok());
  EXPECT_TRUE(r.put("k", "v", PutOptions::create_only()).status().is_precondition_failed());
  EXPECT_TRUE(r.get("missing").status().is_not_found());
  StoreMetrics m = metrics->snapshot();
  EXPECT_EQ(m.op(StoreOp::kPut).requests, 2u);
  EXPECT_EQ(m.op(StoreOp::kGet).requests, 1u);
}

TEST(RetryStore, WholeBatchFailureIsRetried) {
  FakeTime t;
  auto inner = mem_store();
  ASSERT_TRUE(inner->put("a", "1").ok());
  ASSERT_TRUE(inner->put("b", "1").ok());
  auto fault = std::make_shared<FaultStore>(inner);
  size_t id =
      fault->add_rule(FaultRule::on(StoreOp::kRemoveBatch).times(2).fail(Status::Transient("t")));
  RetryStore r(fault, options_for(t));
  auto res = r.remove_batch({"a", "b"});
  ASSERT_TRUE(res.ok());
  EXPECT_TRUE(res->empty());
  EXPECT_EQ(fault->matched(id), 3u);
  EXPECT_TRUE(inner->list_all("")->empty());
}

// remove_batch reports scripted per-key failures before really removing.
class ScriptedBatchStore : public ObjectStore {
 public:
  explicit ScriptedBatchStore(ObjectStorePtr inner) : inner_(std::move(inner)) {}
  std::map<std::string, std::deque<Code>> script;
  std::vector<std::vector<std::string>> batches;

  Result<std::vector<DeleteOutcome>> remove_batch(const std::vector<std::string>& keys) override {
    batches.push_back(keys);
    std::vector<DeleteOutcome> failed;
    for (const auto& k : keys) {
      auto& codes = script[k];
      if (!codes.empty()) {
        failed.push_back({k, Status(codes.front(), "scripted " + k)});
        codes.pop_front();
      } else {
        Status s = inner_->remove(k);
        if (!s.ok()) failed.push_back({k, s});
      }
    }
    return failed;
  }
  Result<GetResult> get(std::string_view key, const GetOptions& o) override {
    return inner_->get(key, o);
  }
  Result<ObjectMeta> head(std::string_view key) override { return inner_->head(key); }
  Result<ObjectMeta> put(std::string_view key, std::string_view data,
                         const PutOptions& o) override {
    return inner_->put(key, data, o);
  }
  Status remove(std::string_view key) override { return inner_->remove(key); }
  Result<ListPage> list(const ListOptions& o) override { return inner_->list(o); }
  std::string url() const override { return inner_->url(); }

 private:
  ObjectStorePtr inner_;
};

TEST(RetryStore, BatchRetriesOnlyRetryableKeys) {
  FakeTime t;
  auto inner = mem_store();
  for (const char* k : {"a", "b", "c", "d"}) ASSERT_TRUE(inner->put(k, "1").ok());
  auto fake = std::make_shared<ScriptedBatchStore>(inner);
  fake->script["a"] = {Code::kTransient, Code::kThrottled};
  fake->script["b"] = {Code::kPermanent};
  fake->script["d"] = {Code::kUnknownOutcome};
  RetryStore r(fake, options_for(t));
  auto res = r.remove_batch({"a", "b", "c", "d"});
  ASSERT_TRUE(res.ok());
  ASSERT_EQ(res->size(), 1u);
  EXPECT_EQ((*res)[0].key, "b");
  EXPECT_EQ((*res)[0].status.code(), Code::kPermanent);
  using V = std::vector<std::string>;
  ASSERT_EQ(fake->batches.size(), 3u);
  EXPECT_EQ(fake->batches[0], (V{"a", "b", "c", "d"}));
  EXPECT_EQ(fake->batches[1], (V{"a", "d"}));
  EXPECT_EQ(fake->batches[2], (V{"a"}));
  EXPECT_TRUE(inner->head("a").status().is_not_found());
  EXPECT_TRUE(inner->head("b").ok());  // its removal failed permanently
  EXPECT_TRUE(inner->head("d").status().is_not_found());
}

TEST(RetryStore, BatchKeysThatKeepFailingAreReportedAfterTheLastAttempt) {
  FakeTime t;
  auto inner = mem_store();
  auto fake = std::make_shared<ScriptedBatchStore>(inner);
  fake->script["x"] = std::deque<Code>(10, Code::kThrottled);
  RetryStore r(fake, options_for(t, 3));
  auto res = r.remove_batch({"x", "y"});
  ASSERT_TRUE(res.ok());
  ASSERT_EQ(res->size(), 1u);
  EXPECT_EQ((*res)[0].key, "x");
  EXPECT_EQ((*res)[0].status.code(), Code::kThrottled);
  EXPECT_THAT((*res)[0].status.message(), HasSubstr("gave up after 3 attempts"));
  EXPECT_EQ(fake->batches.size(), 3u);
  EXPECT_EQ(r.gave_up(), 1u);
}

}  // namespace
}  // namespace isle
