// DigestingSource: the digest covers the whole object whatever the scan
// read (in order, with seeks, out of order, or nothing); a changed, shorter
// or longer object is Corruption; and every byte served is a byte of the
// object that hashed to the manifest: a source that serves other bytes on
// one read than on another (the tail, a seek, a re-read) is Corruption.
#include "maint/digesting_source.h"

#include <gtest/gtest.h>

#include "util/hash.h"

namespace isle {
namespace {

constexpr uint64_t kSize = 10'000;
constexpr uint64_t kGranule = 1000;

std::string object() {
  std::string s;
  for (uint64_t i = 0; i < kSize; i++) s.push_back(static_cast<char>('a' + i % 23));
  return s;
}

DigestingSource over(std::string bytes, uint64_t piece = 1000) {
  return DigestingSource(std::make_shared<MemorySource>(std::move(bytes)), "sst1", kSize,
                         sha256_hex(object()), piece, kGranule);
}

TEST(DigestingSource, AnAlignedSequentialScanReadsTheObjectOnce) {
  auto d = over(object());
  auto tail = d.read_tail(100);  // fetches the last granule
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(tail->bytes, object().substr(kSize - 100));
  EXPECT_EQ(tail->total_size, kSize);
  for (uint64_t off = 0; off < kSize; off += 2 * kGranule) {
    auto r = d.read(off, 2 * kGranule);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, object().substr(off, 2 * kGranule));
  }
  EXPECT_TRUE(d.finish().ok());
  EXPECT_EQ(d.remainder_read(), 0u);
  EXPECT_EQ(d.bytes_fetched(), kSize + kGranule);
}

TEST(DigestingSource, BlockByBlockReadsFetchEachGranuleOnce) {
  auto d = over(object());
  for (uint64_t off = 0; off < kSize; off += 700) {
    const uint64_t len = std::min<uint64_t>(700, kSize - off);
    auto r = d.read(off, len);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, object().substr(off, len));
  }
  EXPECT_TRUE(d.finish().ok());
  EXPECT_EQ(d.remainder_read(), 0u);
  EXPECT_EQ(d.bytes_fetched(), kSize + kGranule) << "plus the size check's last granule";
}

TEST(DigestingSource, SeeksAndRereadsAreCheckedAndTheRestIsReadAtFinish) {
  auto d = over(object(), 333);  // rounded up to one granule
  ASSERT_TRUE(d.read_tail(50).ok());
  ASSERT_TRUE(d.read(0, 100).ok());
  ASSERT_TRUE(d.read(50, 100).ok());
  auto seek = d.read(5000, 1500);
  ASSERT_TRUE(seek.ok());
  EXPECT_EQ(*seek, object().substr(5000, 1500));
  ASSERT_TRUE(d.read(0, 10).ok());
  EXPECT_TRUE(d.finish().ok());
  EXPECT_EQ(d.remainder_read(), kSize - kGranule);
}

TEST(DigestingSource, NothingReadIsAllReadAtFinish) {
  auto d = over(object());
  EXPECT_TRUE(d.finish().ok());
  EXPECT_EQ(d.remainder_read(), kSize);
}

TEST(DigestingSource, ReadsPastTheManifestSizeAreCorruption) {
  auto d = over(object() + "more");
  EXPECT_EQ(d.read(kSize - 10, 11).status().code(), Code::kCorruption);
  EXPECT_EQ(d.read(kSize + 1, 1).status().code(), Code::kCorruption);
  EXPECT_EQ(d.read_tail(10).status().code(), Code::kCorruption) << "the object is longer";
}

TEST(DigestingSource, ChangedShorterOrLongerObjectsAreCorruption) {
  std::string changed = object();
  changed[kSize - 1] ^= 1;  // in a part the scan never read
  auto a = over(changed);
  ASSERT_TRUE(a.read(0, 100).ok());
  Status s = a.finish();
  EXPECT_EQ(s.code(), Code::kCorruption);
  EXPECT_EQ(s.message(), "sst sst1: sha256 or size does not match the manifest");

  auto longer = over(object() + "x");
  EXPECT_EQ(longer.finish().code(), Code::kCorruption);
  auto shorter = over(object().substr(0, kSize - 1));
  EXPECT_EQ(shorter.finish().code(), Code::kCorruption);
}

// Serves `forged` for the inner calls numbered in [from, to) and the
// genuine object for the others: an object swapped between requests, a
// lying store or a man in the middle.
class SwitchingSource : public RandomAccessSource {
 public:
  SwitchingSource(std::string forged, int from, int to)
      : genuine_(object()), forged_(std::move(forged)), from_(from), to_(to) {}
  Result<std::string> read(uint64_t offset, uint64_t len) override {
    return pick().read(offset, len);
  }
  Result<TailRead> read_tail(uint64_t n) override { return pick().read_tail(n); }
  std::string name() const override { return "switching"; }

 private:
  MemorySource& pick() {
    const int call = calls_++;
    return call >= from_ && call < to_ ? forged_ : genuine_;
  }
  MemorySource genuine_, forged_;
  const int from_, to_;
  int calls_ = 0;
};

struct Case {
  const char* what;
  uint64_t forged_at;  // the byte that differs
  int from, to;        // the inner calls that serve the forgery
  // The scan: a tail read of 100 bytes, then reads of (offset, len).
  std::vector<std::pair<uint64_t, uint64_t>> reads;
};

TEST(DigestingSource, BytesServedFromOneReadAndHashedFromAnotherAreCorruption) {
  const std::vector<Case> cases = {
      {"forged tail, genuine afterwards", kSize - 10, 0, 1, {{0, 2000}}},
      {"forged seek, genuine afterwards", 5500, 1, 2, {{5000, 1000}, {0, 2000}}},
      {"genuine read, forged re-read", 100, 3, 4, {{0, 2000}, {5000, 100}, {0, 200}}},
      {"genuine tail, forged in-order pass", kSize - 10, 1, 100, {{0, 2000}}},
      {"genuine seek, forged in-order pass", 5500, 2, 100, {{0, 2000}, {5000, 1000}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    std::string forged = object();
    forged[c.forged_at] ^= 1;
    DigestingSource d(std::make_shared<SwitchingSource>(forged, c.from, c.to), "sst1", kSize,
                      sha256_hex(object()), 1000, kGranule);
    Status failed;
    auto tail = d.read_tail(100);
    if (!tail.ok()) failed = tail.status();
    for (const auto& [off, len] : c.reads) {
      if (!failed.ok()) break;
      auto r = d.read(off, len);
      if (!r.ok()) failed = r.status();
    }
    const Status fin = d.finish();
    EXPECT_EQ(fin.code(), Code::kCorruption)
        << "finish passed; a read said: " << failed.to_string();
    EXPECT_NE(fin.message().find("sst sst1"), std::string::npos) << fin.message();
  }
}

}  // namespace
}  // namespace isle
