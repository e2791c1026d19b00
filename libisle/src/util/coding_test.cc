// Tests for the varint/fixed encodings, hashes, Random and Status.
#include "util/coding.h"

#include <gtest/gtest.h>

#include "isle/status.h"
#include "util/hash.h"
#include "util/random.h"

namespace isle {
namespace {

TEST(Coding, FixedRoundTrip) {
  std::string s;
  put_fixed32(&s, 0xdeadbeef);
  put_fixed64(&s, 0x0123456789abcdefULL);
  ASSERT_EQ(s.size(), 12u);
  EXPECT_EQ(static_cast<unsigned char>(s[0]), 0xef);  // little-endian
  std::string_view in = s;
  uint32_t a;
  uint64_t b;
  ASSERT_TRUE(get_fixed32(&in, &a));
  ASSERT_TRUE(get_fixed64(&in, &b));
  EXPECT_EQ(a, 0xdeadbeefu);
  EXPECT_EQ(b, 0x0123456789abcdefULL);
  EXPECT_FALSE(get_fixed32(&in, &a));
}

TEST(Coding, VarintRoundTripAndBounds) {
  Random rnd(7);
  for (int i = 0; i < 10000; i++) {
    uint64_t v = rnd.next() >> rnd.uniform(64);
    std::string s;
    put_varint64(&s, v);
    EXPECT_EQ(static_cast<int>(s.size()), varint_length(v));
    std::string_view in = s;
    uint64_t got;
    ASSERT_TRUE(get_varint64(&in, &got));
    EXPECT_EQ(got, v);
    EXPECT_TRUE(in.empty());
    // Every strict prefix is rejected.
    for (size_t n = 0; n < s.size(); n++) {
      std::string_view t(s.data(), n);
      EXPECT_FALSE(get_varint64(&t, &got));
    }
  }
  // 11-byte and 64-bit-overflowing encodings are rejected.
  std::string over(10, '\xff');
  over.push_back('\x01');
  std::string_view in = over;
  uint64_t got;
  EXPECT_FALSE(get_varint64(&in, &got));
  std::string ten(9, '\xff');
  ten.push_back('\x02');
  in = ten;
  EXPECT_FALSE(get_varint64(&in, &got));
  uint32_t g32;
  std::string big;
  put_varint64(&big, uint64_t{1} << 33);
  in = big;
  EXPECT_FALSE(get_varint32(&in, &g32));
  EXPECT_EQ(in.size(), big.size());
}

TEST(Coding, LengthPrefixedRejectsOverlongLength) {
  std::string s;
  put_varint64(&s, 5);
  s += "abc";
  std::string_view in = s, out;
  EXPECT_FALSE(get_length_prefixed(&in, &out));
  EXPECT_EQ(in.size(), s.size());
}

TEST(Hash, KnownValues) {
  // SHA-256("abc") from FIPS 180-2.
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // XXH3-64 of the empty input with seed 0 (the published reference value).
  EXPECT_EQ(xxh3_64(""), 0x2D06800538D394C2ULL);
  Sha256 inc;
  inc.update("a");
  inc.update("bc");
  EXPECT_EQ(inc.hex(), sha256_hex("abc"));
}

TEST(Random, ReproducibleAndTokensDiffer) {
  Random a(42), b(42);
  for (int i = 0; i < 100; i++) EXPECT_EQ(a.next(), b.next());
  for (int i = 0; i < 1000; i++) EXPECT_LT(a.uniform(10), 10u);
  EXPECT_NE(random_token(), random_token());
  EXPECT_EQ(random_token().size(), 32u);
}

TEST(Status, NamesAndContext) {
  Status s = Status::NotFound("x");
  EXPECT_EQ(s.to_string(), "not_found: x");
  EXPECT_EQ(s.with_context("get").to_string(), "not_found: get: x");
  EXPECT_TRUE(Status::Throttled("").is_retryable());
  EXPECT_FALSE(Status::UnknownOutcome("").is_retryable());
  Result<int> r = Status::Corruption("bad");
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(r.status().is_corruption());
  Result<int> v = 3;
  EXPECT_EQ(*v, 3);
}

}  // namespace
}  // namespace isle

#include "util/base64.h"

namespace isle {
namespace {

TEST(Base64, RoundTripsEveryLengthAndByte) {
  std::string s;
  for (int i = 0; i < 300; i++) {
    ASSERT_EQ(base64_decode(base64_encode(s)), s) << "length " << i;
    s += static_cast<char>(i * 37 + 11);
  }
}

TEST(Base64, KnownVectorsAndRejects) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_decode("Zm9vYg=="), "foob");
  EXPECT_FALSE(base64_decode("Zm9"));        // length
  EXPECT_FALSE(base64_decode("Zm=v"));       // data after padding
  EXPECT_FALSE(base64_decode("Zm9v!A=="));   // alphabet
  EXPECT_FALSE(base64_decode("Zh=="));       // stray bits under padding
  EXPECT_FALSE(base64_decode("===="));
}

}  // namespace
}  // namespace isle
