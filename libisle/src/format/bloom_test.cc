// Tests for the bloom filter: no false negatives, a bounded false-positive
// rate, probe count derivation, and layout validation.
#include "format/bloom.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace isle {
namespace {

std::string key(const char* prefix, int i) { return prefix + std::to_string(i); }

TEST(Bloom, ProbeCount) {
  EXPECT_EQ(bloom_probes_for(1), 1);
  EXPECT_EQ(bloom_probes_for(10), 7);
  EXPECT_EQ(bloom_probes_for(20), 14);
  EXPECT_EQ(bloom_probes_for(100), kMaxBloomProbes);
}

TEST(Bloom, NoFalseNegativesAndLowFalsePositiveRate) {
  for (int n : {1, 10, 1000, 10000}) {
    BloomBuilder b(10);
    for (int i = 0; i < n; i++) b.add_key(key("present-", i));
    const std::string contents = b.finish();
    auto f = BloomFilter::parse(contents);
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(f->probes(), 7);
    EXPECT_GE(f->bits(), static_cast<uint64_t>(n) * 10);
    for (int i = 0; i < n; i++) ASSERT_TRUE(f->may_contain(key("present-", i))) << i;
    int fp = 0;
    const int trials = 20000;
    for (int i = 0; i < trials; i++) fp += f->may_contain(key("absent-", i)) ? 1 : 0;
    const double rate = static_cast<double>(fp) / trials;
    // Theory for 10 bits/key, k=7: about 0.8%. Tiny filters (a few hundred
    // bits) vary too much from one key set to another for a tight bound.
    if (n >= 1000) {
      EXPECT_LT(rate, 0.02) << "n=" << n;
    } else {
      EXPECT_LT(rate, 0.10) << "n=" << n;
    }
    std::printf("bloom n=%d fp rate %.4f\n", n, rate);
  }
}

TEST(Bloom, EmptyKeyAndEmptyFilter) {
  BloomBuilder b(10);
  b.add_key("");
  const std::string bits = b.finish();  // the filter views these bytes
  auto f = BloomFilter::parse(bits);
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->may_contain(""));

  // A filter over no keys rejects everything.
  BloomBuilder none(10);
  const std::string contents = none.finish();
  EXPECT_EQ(contents.size(), 9u);  // 64 bits + k
  auto e = BloomFilter::parse(contents);
  ASSERT_TRUE(e.ok());
  int hits = 0;
  for (int i = 0; i < 100; i++) hits += e->may_contain(key("k", i)) ? 1 : 0;
  EXPECT_EQ(hits, 0);
}

TEST(Bloom, ParseValidates) {
  EXPECT_TRUE(BloomFilter::parse("").status().is_corruption());
  EXPECT_TRUE(BloomFilter::parse(std::string(8, '\0')).status().is_corruption());
  std::string c(8, '\xff');
  c.push_back(0);  // k = 0
  EXPECT_TRUE(BloomFilter::parse(c).status().is_corruption());
  c.back() = 31;
  EXPECT_TRUE(BloomFilter::parse(c).status().is_corruption());
  c.back() = 30;
  EXPECT_TRUE(BloomFilter::parse(c).ok());
}

}  // namespace
}  // namespace isle
