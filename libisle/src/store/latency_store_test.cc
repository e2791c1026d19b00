// LatencyStore: the requested waits follow the profile. Sleeps are
// recorded through the injected sleep function, never timed.
#include "store/store_test_util.h"
#include "store/latency_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <vector>

namespace isle {
namespace {

using std::chrono::microseconds;

using testing::mem_store;

using testing::SleepRecorder;

double quantile(const std::vector<double>& sorted, double q) {
  return sorted[static_cast<size_t>(q * static_cast<double>(sorted.size() - 1))];
}

TEST(LatencyStore, NoneAddsNothingAndPassesResultsThrough) {
  SleepRecorder rec;
  auto inner = mem_store();
  LatencyStore s(inner, LatencyProfile::none(), 1, rec.fn());
  EXPECT_EQ(s.url(), inner->url());
  ASSERT_TRUE(s.put("k", std::string(100000, 'x')).ok());
  EXPECT_EQ(s.get("k")->data.size(), 100000u);
  EXPECT_TRUE(s.head("k").ok());
  EXPECT_TRUE(s.get("nope").status().is_not_found());
  EXPECT_EQ(s.list({})->objects.size(), 1u);
  EXPECT_TRUE(s.remove("k").ok());
  EXPECT_TRUE(s.remove_batch({"a"}).ok());
  EXPECT_TRUE(rec.us.empty());
  EXPECT_EQ(s.total_delay_us(), 0u);
}

// The empirical p50, p90 and p99 of first-byte waits match the lognormal
// that the profile's p50 and p99 define.
void check_distribution(const std::vector<double>& sorted, double p50, double p99) {
  ASSERT_GT(sorted.size(), 1000u);
  const double sigma = std::log(p99 / p50) / 2.3263478740408408;
  const double p90 = p50 * std::exp(sigma * 1.2815515655446004);
  EXPECT_NEAR(quantile(sorted, 0.50), p50, p50 * 0.05);
  EXPECT_NEAR(quantile(sorted, 0.90), p90, p90 * 0.08);
  EXPECT_NEAR(quantile(sorted, 0.99), p99, p99 * 0.10);
  EXPECT_GT(sorted.front(), 0.0);
}

TEST(LatencyStore, ReadFirstByteLatencyFollowsTheProfile) {
  SleepRecorder rec;
  const LatencyProfile p = LatencyProfile::s3_standard();
  LatencyStore s(mem_store(), p, 7, rec.fn());
  for (int i = 0; i < 20000; i++) (void)s.head("k");  // no body: first byte only
  ASSERT_EQ(rec.us.size(), 20000u);
  check_distribution(rec.sorted_ms(), p.read_p50_ms, p.read_p99_ms);
}

TEST(LatencyStore, WriteFirstByteLatencyFollowsTheProfile) {
  SleepRecorder rec;
  LatencyProfile p = LatencyProfile::s3_standard();
  p.write_p50_ms = 60;  // clearly apart from the read numbers
  p.write_p99_ms = 400;
  LatencyStore s(mem_store(), p, 9, rec.fn());
  for (int i = 0; i < 20000; i++) (void)s.remove("k");
  ASSERT_EQ(rec.us.size(), 20000u);
  check_distribution(rec.sorted_ms(), p.write_p50_ms, p.write_p99_ms);
}

TEST(LatencyStore, BandwidthAppliesToTransferredBytes) {
  SleepRecorder rec;
  LatencyProfile p;  // no first-byte latency, only bandwidth
  p.read_bytes_per_sec = 1e6;
  p.write_bytes_per_sec = 2e6;
  LatencyStore s(mem_store(), p, 1, rec.fn());
  ASSERT_TRUE(s.put("k", std::string(1'000'000, 'x')).ok());  // 0.5 s upload
  ASSERT_EQ(rec.us.size(), 1u);
  EXPECT_EQ(rec.us[0], 500'000);
  ASSERT_TRUE(s.get("k").ok());  // 1 s download
  ASSERT_EQ(rec.us.size(), 2u);
  EXPECT_EQ(rec.us[1], 1'000'000);
  GetOptions range;
  range.range = ByteRange::at(0, 250'000);
  ASSERT_TRUE(s.get("k", range).ok());  // only the returned bytes count
  ASSERT_EQ(rec.us.size(), 3u);
  EXPECT_EQ(rec.us[2], 250'000);
  ASSERT_TRUE(s.head("k").ok());  // metadata only: nothing
  EXPECT_TRUE(s.get("nope").status().is_not_found());
  EXPECT_EQ(rec.us.size(), 3u);
  EXPECT_EQ(s.total_delay_us(), 1'750'000u);
}

TEST(LatencyStore, ConstantLatencyWhenP99IsNotAboveP50) {
  SleepRecorder rec;
  LatencyProfile p;
  p.read_p50_ms = p.read_p99_ms = 12.5;
  p.write_p50_ms = 30;
  p.write_p99_ms = 10;  // nonsensical tail: treated as constant
  LatencyStore s(mem_store(), p, 1, rec.fn());
  for (int i = 0; i < 10; i++) (void)s.head("k");
  for (int i = 0; i < 10; i++) (void)s.put("k", "");
  ASSERT_EQ(rec.us.size(), 20u);
  for (int i = 0; i < 10; i++) EXPECT_EQ(rec.us[i], 12'500);
  for (int i = 10; i < 20; i++) EXPECT_EQ(rec.us[i], 30'000);
}

TEST(LatencyStore, SameSeedSameWaits) {
  SleepRecorder a, b, c;
  const LatencyProfile p = LatencyProfile::s3_standard();
  LatencyStore sa(mem_store(), p, 5, a.fn()), sb(mem_store(), p, 5, b.fn()),
      sc(mem_store(), p, 6, c.fn());
  for (int i = 0; i < 50; i++) {
    (void)sa.put("k", "abc");
    (void)sb.put("k", "abc");
    (void)sc.put("k", "abc");
    (void)sa.get("k");
    (void)sb.get("k");
    (void)sc.get("k");
  }
  EXPECT_EQ(a.us, b.us);
  EXPECT_NE(a.us, c.us);
}

}  // namespace
}  // namespace isle
