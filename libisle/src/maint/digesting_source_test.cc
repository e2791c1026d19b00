// DigestingSource: the digest covers the whole object whatever the scan
// read (in order, with seeks, out of order, or nothing), and a changed,
// shorter or longer object is Corruption.
#include "maint/digesting_source.h"

#include <gtest/gtest.h>

#include "util/hash.h"

namespace isle {
namespace {

constexpr uint64_t kSize = 10'000;

std::string object() {
  std::string s;
  for (uint64_t i = 0; i < kSize; i++) s.push_back(static_cast<char>('a' + i % 23));
  return s;
}

DigestingSource over(std::string bytes, uint64_t piece = 1000) {
  return DigestingSource(std::make_shared<MemorySource>(std::move(bytes)), "sst1", kSize,
                         sha256_hex(object()), piece);
}

TEST(DigestingSource, AWholeSequentialScanNeedsNoMoreReads) {
  auto d = over(object());
  for (uint64_t off = 0; off < kSize; off += 700) {
    ASSERT_TRUE(d.read(off, std::min<uint64_t>(700, kSize - off)).ok());
  }
  ASSERT_TRUE(d.read_tail(100).ok());
  EXPECT_TRUE(d.finish().ok());
  EXPECT_EQ(d.remainder_read(), 0u);
}

TEST(DigestingSource, SeeksAndOverlapsAreHashedOnceAndTheRestIsReadAtFinish) {
  auto d = over(object(), 333);
  ASSERT_TRUE(d.read_tail(50).ok());
  ASSERT_TRUE(d.read(0, 100).ok());
  ASSERT_TRUE(d.read(50, 100).ok());    // overlaps the prefix: extends it to 150
  ASSERT_TRUE(d.read(5000, 100).ok());  // a seek: not hashed
  ASSERT_TRUE(d.read(0, 10).ok());      // already hashed
  EXPECT_TRUE(d.finish().ok());
  EXPECT_EQ(d.remainder_read(), kSize - 150);
}

TEST(DigestingSource, NothingReadIsAllReadAtFinish) {
  auto d = over(object());
  EXPECT_TRUE(d.finish().ok());
  EXPECT_EQ(d.remainder_read(), kSize);
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

}  // namespace
}  // namespace isle
