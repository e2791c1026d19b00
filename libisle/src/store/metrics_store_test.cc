// MetricsStore: exact counts, bytes, error codes and latency buckets for a
// scripted sequence of requests; reset; the text table; concurrency.
#include "store/store_test_util.h"
#include "store/metrics_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <thread>
#include <vector>

#include "store/fault_store.h"
#include "util/clock.h"

namespace isle {
namespace {

using ::testing::HasSubstr;

using testing::mem_store;

TEST(MetricsStore, ScriptedSequenceIsCountedExactly) {
  auto m = std::make_shared<MetricsStore>(mem_store());
  EXPECT_EQ(m->url(), "mem://");

  ASSERT_TRUE(m->put("a", "0123456789").ok());                              // 10 bytes
  ASSERT_TRUE(m->put("b", "hello", PutOptions::create_only()).ok());        // 5 bytes
  EXPECT_TRUE(m->put("a", "xyz", PutOptions::create_only()).status().is_precondition_failed());
  ASSERT_TRUE(m->get("a").ok());                                            // 10 bytes read
  GetOptions range;
  range.range = ByteRange::at(2, 3);
  ASSERT_EQ(m->get("a", range)->data, "234");                               // 3 bytes read
  EXPECT_TRUE(m->get("missing").status().is_not_found());
  ASSERT_TRUE(m->head("a").ok());
  EXPECT_TRUE(m->head("zz").status().is_not_found());
  ListOptions lo;
  auto page = m->list(lo);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->objects.size(), 2u);
  ASSERT_TRUE(m->remove("a").ok());
  ASSERT_TRUE(m->remove_batch({"b", "c", "d"}).ok());

  StoreMetrics s = m->snapshot();
  const OpStats& put = s.op(StoreOp::kPut);
  EXPECT_EQ(put.requests, 3u);
  EXPECT_EQ(put.errors, 1u);
  EXPECT_EQ(put.errors_of(Code::kPreconditionFailed), 1u);
  EXPECT_EQ(put.bytes_written, 18u);  // failed attempts send their bytes too
  EXPECT_EQ(put.bytes_read, 0u);

  const OpStats& get = s.op(StoreOp::kGet);
  EXPECT_EQ(get.requests, 3u);
  EXPECT_EQ(get.errors, 1u);
  EXPECT_EQ(get.errors_of(Code::kNotFound), 1u);
  EXPECT_EQ(get.bytes_read, 13u);
  EXPECT_EQ(get.bytes_written, 0u);

  const OpStats& head = s.op(StoreOp::kHead);
  EXPECT_EQ(head.requests, 2u);
  EXPECT_EQ(head.errors_of(Code::kNotFound), 1u);
  EXPECT_EQ(head.bytes_read, 0u);

  EXPECT_EQ(s.op(StoreOp::kList).requests, 1u);
  EXPECT_EQ(s.op(StoreOp::kList).keys, 2u);
  EXPECT_EQ(s.op(StoreOp::kRemove).requests, 1u);
  EXPECT_EQ(s.op(StoreOp::kRemove).errors, 0u);
  EXPECT_EQ(s.op(StoreOp::kRemoveBatch).requests, 1u);
  EXPECT_EQ(s.op(StoreOp::kRemoveBatch).keys, 3u);

  OpStats total = s.total();
  EXPECT_EQ(total.requests, 11u);
  EXPECT_EQ(total.errors, 3u);
  EXPECT_EQ(total.bytes_read, 13u);
  EXPECT_EQ(total.bytes_written, 18u);
  EXPECT_EQ(total.latency_count, 11u);
  uint64_t in_buckets = 0;
  for (uint64_t b : total.latency_buckets) in_buckets += b;
  EXPECT_EQ(in_buckets, 11u);
}

TEST(MetricsStore, ErrorsOfEveryCodeAreCountedSeparately) {
  // A FaultStore underneath produces the errors.
  auto fault = std::make_shared<FaultStore>(mem_store());
  fault->add_rule(FaultRule::on(StoreOp::kGet).key_equals("t").fail(Status::Transient("x")));
  fault->add_rule(FaultRule::on(StoreOp::kGet).key_equals("s").fail(Status::Throttled("x")));
  fault->add_rule(FaultRule::on(StoreOp::kRemove).lose_response());
  MetricsStore m(fault);
  for (int i = 0; i < 3; i++) (void)m.get("t");
  for (int i = 0; i < 2; i++) (void)m.get("s");
  (void)m.remove("k");
  StoreMetrics s = m.snapshot();
  EXPECT_EQ(s.op(StoreOp::kGet).errors, 5u);
  EXPECT_EQ(s.op(StoreOp::kGet).errors_of(Code::kTransient), 3u);
  EXPECT_EQ(s.op(StoreOp::kGet).errors_of(Code::kThrottled), 2u);
  EXPECT_EQ(s.op(StoreOp::kRemove).errors_of(Code::kUnknownOutcome), 1u);
  EXPECT_EQ(s.total().errors, 6u);
}

TEST(MetricsStore, LatencyIsBucketedFromTheClock) {
  // Each request "takes" a scripted time: the fault store's delay advances
  // a manual clock instead of sleeping.
  ManualClock clock;
  auto fault = std::make_shared<FaultStore>(
      mem_store(), 1, [&](std::chrono::microseconds d) { clock.advance_ms(d.count() / 1000); });
  using std::chrono::milliseconds;
  fault->add_rule(FaultRule::on(StoreOp::kGet).key_equals("k7").delay(milliseconds(7)));
  fault->add_rule(FaultRule::on(StoreOp::kGet).key_equals("k1").delay(milliseconds(1)));
  fault->add_rule(FaultRule::on(StoreOp::kGet).key_equals("k90s").delay(milliseconds(90'000)));
  MetricsStore m(fault, &clock);
  (void)m.get("k7");
  (void)m.get("k7");
  (void)m.get("k1");
  (void)m.get("k90s");
  (void)m.get("fast");
  const OpStats s = m.snapshot().op(StoreOp::kGet);
  EXPECT_EQ(s.latency_count, 5u);
  EXPECT_EQ(s.latency_sum_us, (7 + 7 + 1 + 90'000) * 1000u);
  EXPECT_EQ(s.latency_buckets[0], 1u);  // 0 ms: <= 0.1 ms
  EXPECT_EQ(s.latency_buckets[3], 1u);  // 1 ms: (0.5, 1]
  EXPECT_EQ(s.latency_buckets[6], 2u);  // 7 ms: (5, 10]
  EXPECT_EQ(s.latency_buckets[kLatencyBuckets - 1], 1u);  // above 60 s
  EXPECT_DOUBLE_EQ(s.latency_quantile_ms(0.4), 1);
  EXPECT_DOUBLE_EQ(s.latency_quantile_ms(0.5), 10);
  EXPECT_TRUE(std::isinf(s.latency_quantile_ms(1.0)));
  EXPECT_DOUBLE_EQ(s.mean_latency_ms(), (7 + 7 + 1 + 90'000) / 5.0);
}

TEST(MetricsStore, BucketBoundariesAreInclusive) {
  EXPECT_EQ(latency_bucket_index(0), 0u);
  EXPECT_EQ(latency_bucket_index(100), 0u);
  EXPECT_EQ(latency_bucket_index(101), 1u);
  EXPECT_EQ(latency_bucket_index(1000), 3u);
  EXPECT_EQ(latency_bucket_index(1001), 4u);
  EXPECT_EQ(latency_bucket_index(2000), 4u);
  EXPECT_EQ(latency_bucket_index(60'000'000), kLatencyBoundsMs.size() - 1);
  EXPECT_EQ(latency_bucket_index(60'000'001), kLatencyBoundsMs.size());
  EXPECT_EQ(OpStats{}.latency_quantile_ms(0.5), 0);
  EXPECT_EQ(OpStats{}.mean_latency_ms(), 0);
}

TEST(MetricsStore, ResetZeroesEverything) {
  MetricsStore m(mem_store());
  ASSERT_TRUE(m.put("k", "v").ok());
  (void)m.get("nope");
  m.reset();
  StoreMetrics s = m.snapshot();
  OpStats t = s.total();
  EXPECT_EQ(t.requests, 0u);
  EXPECT_EQ(t.errors, 0u);
  EXPECT_EQ(t.bytes_written, 0u);
  EXPECT_EQ(t.latency_count, 0u);
  EXPECT_EQ(t.errors_of(Code::kNotFound), 0u);
  ASSERT_TRUE(m.get("k").ok());
  EXPECT_EQ(m.snapshot().op(StoreOp::kGet).requests, 1u);
  EXPECT_EQ(m.snapshot().op(StoreOp::kGet).bytes_read, 1u);
}

TEST(MetricsStore, TextTableNamesOperationsAndErrors) {
  MetricsStore m(mem_store());
  ASSERT_TRUE(m.put("k", "value").ok());
  (void)m.get("nope");
  std::string text = m.to_text();
  EXPECT_THAT(text, HasSubstr("requests"));
  EXPECT_THAT(text, HasSubstr("bytes_written"));
  for (size_t i = 0; i < kStoreOpCount; i++) {
    EXPECT_THAT(text, HasSubstr(std::string(store_op_name(static_cast<StoreOp>(i)))));
  }
  EXPECT_THAT(text, HasSubstr("total"));
  EXPECT_THAT(text, HasSubstr("get not_found: 1"));
  MetricsStore quiet(mem_store());
  EXPECT_THAT(quiet.to_text(), ::testing::Not(HasSubstr("errors by code")));
}

TEST(MetricsStore, ConcurrentRequestsAreAllCounted) {
  MetricsStore m(mem_store());
  constexpr int kThreads = 4, kPer = 300;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPer; i++) {
        std::string key = "t" + std::to_string(t) + "/" + std::to_string(i);
        (void)m.put(key, "abcd");
        (void)m.get(key);
      }
    });
  }
  for (auto& th : threads) th.join();
  StoreMetrics s = m.snapshot();
  EXPECT_EQ(s.op(StoreOp::kPut).requests, uint64_t{kThreads * kPer});
  EXPECT_EQ(s.op(StoreOp::kPut).bytes_written, uint64_t{kThreads * kPer * 4});
  EXPECT_EQ(s.op(StoreOp::kGet).bytes_read, uint64_t{kThreads * kPer * 4});
  EXPECT_EQ(s.total().errors, 0u);
}

}  // namespace
}  // namespace isle
