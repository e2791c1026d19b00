// Tests for internal key encoding, ordering and entry values.
#include "format/internal_key.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "util/random.h"

namespace isle {
namespace {

TEST(InternalKey, RoundTrip) {
  std::string k = make_internal_key(std::string("a\0b", 3), 12345, ValueKind::kBlobRef, true);
  ASSERT_EQ(k.size(), 3 + kInternalKeyTrailer);
  ParsedInternalKey p;
  ASSERT_TRUE(parse_internal_key(k, &p));
  EXPECT_EQ(p.user_key, std::string_view("a\0b", 3));
  EXPECT_EQ(p.sequence, 12345u);
  EXPECT_EQ(p.kind, ValueKind::kBlobRef);
  EXPECT_TRUE(p.has_expiry);
  EXPECT_EQ(extract_user_key(k), std::string_view("a\0b", 3));

  ASSERT_TRUE(parse_internal_key(make_internal_key("", kMaxSequence, ValueKind::kDelete), &p));
  EXPECT_EQ(p.sequence, kMaxSequence);
  EXPECT_FALSE(p.has_expiry);
}

TEST(InternalKey, RejectsShortAndUnknownKind) {
  ParsedInternalKey p;
  EXPECT_FALSE(parse_internal_key("short", &p));
  std::string k = make_internal_key("k", 1, ValueKind::kPut);
  k[k.size() - 8] = 0x03;  // kind byte (lowest byte of the little-endian trailer)
  EXPECT_FALSE(parse_internal_key(k, &p));
}

TEST(InternalKey, OrderUserAscSequenceDesc) {
  // Sorting random keys must give: user key ascending, then newest first.
  Random rnd(3);
  std::vector<std::string> keys;
  for (int i = 0; i < 2000; i++) {
    std::string uk = rnd.bytes(rnd.uniform(4));
    keys.push_back(make_internal_key(uk, rnd.uniform(1000) * 7 + i % 7,
                                     static_cast<ValueKind>(rnd.uniform(3)), rnd.chance(0.5)));
  }
  std::sort(keys.begin(), keys.end(), InternalKeyLess());
  for (size_t i = 1; i < keys.size(); i++) {
    ParsedInternalKey a, b;
    ASSERT_TRUE(parse_internal_key(keys[i - 1], &a));
    ASSERT_TRUE(parse_internal_key(keys[i], &b));
    ASSERT_LE(a.user_key, b.user_key);
    if (a.user_key == b.user_key) {
      ASSERT_GE(a.sequence, b.sequence);
    }
  }
  // A prefix user key sorts before its extensions regardless of sequence.
  EXPECT_LT(compare_internal_keys(make_internal_key("a", 1, ValueKind::kPut),
                                  make_internal_key(std::string("a\0", 2), 100, ValueKind::kPut)),
            0);
}

TEST(InternalKey, SeekKeyPrecedesVisibleVersions) {
  std::string v5 = make_internal_key("k", 5, ValueKind::kPut, true);
  std::string v9 = make_internal_key("k", 9, ValueKind::kDelete);
  EXPECT_LE(compare_internal_keys(seek_key("k", 5), v5), 0);
  EXPECT_GT(compare_internal_keys(seek_key("k", 5), v9), 0);  // v9 is invisible at 5
  EXPECT_LT(compare_internal_keys(seek_key("k"), v9), 0);
}

TEST(EntryValue, ExpiryPrefix) {
  std::string stored;
  encode_entry_value(&stored, "payload", true, 1'700'000'000'123ULL);
  std::string_view payload;
  uint64_t exp;
  ASSERT_TRUE(decode_entry_value(true, stored, &payload, &exp));
  EXPECT_EQ(payload, "payload");
  EXPECT_EQ(exp, 1'700'000'000'123ULL);
  ASSERT_TRUE(decode_entry_value(false, "plain", &payload, &exp));
  EXPECT_EQ(payload, "plain");
  EXPECT_EQ(exp, 0u);
  EXPECT_FALSE(decode_entry_value(true, "\xff", &payload, &exp));  // truncated varint
}

}  // namespace
}  // namespace isle
