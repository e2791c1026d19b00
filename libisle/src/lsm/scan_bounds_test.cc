// The upper bound of Reader scans and iterators: exclusive by default
// ([min, max)), inclusive on request ([min, max]). Checked at the edges
// that tell the two apart: a key equal to the bound, keys that extend the
// bound ("b\0", "b\0\0", "ba" when the bound is "b"), an empty max (no
// bound either way), scan_limit, a lower bound that is a prefix, seeks past
// the bound, and an SST whose smallest key is the bound (the iterator must
// not prune it).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine_test_util.h"
#include "isle/db.h"

namespace isle {
namespace {

using testing::keys_of;

using testing::EngineEnv;

std::string s(const char* p, size_t n) { return std::string(p, n); }

// Keys around the bound "b", in bytewise order.
const std::vector<std::string>& sorted_keys() {
  static const std::vector<std::string> keys = {
      "a", "az", "b", s("b\0", 2), s("b\0\0", 3), s("b\x01", 2), "ba", "bz", "c"};
  return keys;
}

std::vector<std::string> keys_of(Iterator& it) {
  std::vector<std::string> out;
  for (; it.valid(); it.next()) out.push_back(std::string(it.key()));
  EXPECT_TRUE(it.status().ok()) << it.status().to_string();
  return out;
}

std::vector<std::string> want(std::initializer_list<std::string> k) { return k; }

class ScanBoundsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    w_ = env_.writer();
    ASSERT_NE(w_, nullptr);
    // "b" alone in the newest SST: its smallest key is the bound, so an
    // iterator that pruned SSTs by the raw inclusive bound would drop it.
    for (const auto& k : sorted_keys()) {
      if (k != "b") {
        ASSERT_TRUE(w_->put(k, "v:" + k).ok());
      }
    }
    ASSERT_TRUE(w_->flush().ok());
    ASSERT_TRUE(w_->put("b", "v:b").ok());
    ASSERT_TRUE(w_->flush().ok());
    r_ = env_.reader();
    ASSERT_NE(r_, nullptr);
    // Two tables (inline ones: small flushes travel in their log entries),
    // pruned by the same bounds as SST objects.
    ASSERT_EQ(r_->manifest().l0.size() + r_->manifest().inline_ssts.size(), 2u);
  }

  EngineEnv env_;
  std::unique_ptr<Writer> w_;
  std::unique_ptr<Reader> r_;
};

TEST_F(ScanBoundsTest, ExclusiveByDefault) {
  EXPECT_EQ(keys_of(r_->scan("a", "b")), want({"a", "az"}));
  EXPECT_EQ(keys_of(r_->scan("a", "b", UpperBound::kExclusive)), want({"a", "az"}));
  EXPECT_EQ(keys_of(r_->scan_limit("a", "b", 10)), want({"a", "az"}));
  IteratorOptions io;
  io.lower_bound = "a";
  io.upper_bound = "b";
  auto it = r_->iterator(io);
  it->seek_to_first();
  EXPECT_EQ(keys_of(*it), want({"a", "az"}));
}

TEST_F(ScanBoundsTest, InclusiveIncludesTheKeyEqualToTheBoundAndNothingThatExtendsIt) {
  auto got = r_->scan("a", "b", UpperBound::kInclusive);
  EXPECT_EQ(keys_of(got), want({"a", "az", "b"}));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->back().value, "v:b");
  // The bound "b\0": "b" and "b\0" are in, "b\0\0" and "b\x01" are not.
  EXPECT_EQ(keys_of(r_->scan("b", s("b\0", 2), UpperBound::kInclusive)), want({"b", s("b\0", 2)}));
  EXPECT_EQ(keys_of(r_->scan("b", s("b\0", 2))), want({"b"}));
  // A bound no key equals: the same as exclusive.
  EXPECT_EQ(keys_of(r_->scan("a", "b0", UpperBound::kInclusive)),
            want({"a", "az", "b", s("b\0", 2), s("b\0\0", 3), s("b\x01", 2)}));
}

TEST_F(ScanBoundsTest, MinEqualToAnInclusiveMaxIsThatOneKey) {
  EXPECT_EQ(keys_of(r_->scan("b", "b", UpperBound::kInclusive)), want({"b"}));
  EXPECT_EQ(keys_of(r_->scan("b", "b")), want({}));
  EXPECT_EQ(keys_of(r_->scan("bb", "b", UpperBound::kInclusive)), want({}));  // min > max
  EXPECT_EQ(keys_of(r_->scan("nothing-here", "nothing-here", UpperBound::kInclusive)), want({}));
}

TEST_F(ScanBoundsTest, AnEmptyMaxIsNoUpperBoundEitherWay) {
  const auto all = keys_of(r_->scan("", ""));
  EXPECT_EQ(all, sorted_keys());
  EXPECT_EQ(keys_of(r_->scan("", "", UpperBound::kInclusive)), all);
  EXPECT_EQ(keys_of(r_->scan("ba", "", UpperBound::kInclusive)), want({"ba", "bz", "c"}));
  EXPECT_EQ(keys_of(r_->scan_limit("", "", 2, UpperBound::kInclusive)), want({"a", "az"}));
  // An iterator with upper_bound_inclusive but no upper bound: unbounded.
  IteratorOptions io;
  io.upper_bound_inclusive = true;
  auto it = r_->iterator(io);
  it->seek_to_first();
  EXPECT_EQ(keys_of(*it), all);
}

TEST_F(ScanBoundsTest, ScanLimitWithAnInclusiveBound) {
  EXPECT_EQ(keys_of(r_->scan_limit("a", "b", 2, UpperBound::kInclusive)), want({"a", "az"}));
  EXPECT_EQ(keys_of(r_->scan_limit("a", "b", 3, UpperBound::kInclusive)), want({"a", "az", "b"}));
  EXPECT_EQ(keys_of(r_->scan_limit("a", "b", 100, UpperBound::kInclusive)), want({"a", "az", "b"}));
  EXPECT_EQ(keys_of(r_->scan_limit("b", "b", 1, UpperBound::kInclusive)), want({"b"}));
  EXPECT_EQ(keys_of(r_->scan_limit("a", "b", 0, UpperBound::kInclusive)), want({}));
}

TEST_F(ScanBoundsTest, APrefixAsTheLowerBoundWithAnInclusiveUpperBound) {
  // Every key starting with "b" up to and including "ba".
  IteratorOptions io;
  io.lower_bound = "b";
  io.upper_bound = "ba";
  io.upper_bound_inclusive = true;
  auto it = r_->iterator(io);
  it->seek_to_first();
  EXPECT_EQ(keys_of(*it), want({"b", s("b\0", 2), s("b\0\0", 3), s("b\x01", 2), "ba"}));
  // The whole "b" prefix: its last possible key is not "b\xff" (a longer
  // key such as "bz" or "b\xff\x01" passes it), so an inclusive bound is
  // the wrong tool; the exclusive bound "c" is the prefix's end.
  io.upper_bound = "c";
  io.upper_bound_inclusive = false;
  it = r_->iterator(io);
  it->seek_to_first();
  EXPECT_EQ(keys_of(*it), want({"b", s("b\0", 2), s("b\0\0", 3), s("b\x01", 2), "ba", "bz"}));
}

TEST_F(ScanBoundsTest, IteratorSeeksAroundAnInclusiveBound) {
  IteratorOptions io;
  io.lower_bound = "az";
  io.upper_bound = "b";
  io.upper_bound_inclusive = true;
  auto it = r_->iterator(io);
  it->seek_ge("b");
  ASSERT_TRUE(it->valid()) << it->status().to_string();
  EXPECT_EQ(it->key(), "b");
  EXPECT_EQ(it->value(), "v:b");
  it->next();
  EXPECT_FALSE(it->valid()) << "past the bound: " << it->key();
  EXPECT_TRUE(it->status().ok());
  // Seeks past the bound: keys that extend it, and beyond.
  for (const std::string& target : {s("b\0", 2), s("b\x01", 2), std::string("ba"), std::string("c"),
                                    std::string("zzz")}) {
    it->seek_ge(target);
    EXPECT_FALSE(it->valid()) << "seek_ge past the bound landed on " << it->key();
    EXPECT_TRUE(it->status().ok()) << it->status().to_string();
  }
  // A seek below the lower bound starts at the lower bound; the iterator
  // is usable again after running off the end.
  it->seek_ge("a");
  EXPECT_EQ(keys_of(*it), want({"az", "b"}));
  it->seek_to_first();
  EXPECT_EQ(keys_of(*it), want({"az", "b"}));
}

TEST_F(ScanBoundsTest, TheBoundKeySeesItsNewestVersion) {
  ASSERT_TRUE(w_->put("b", "newer").ok());
  ASSERT_TRUE(w_->del(s("b\0", 2)).ok());
  ASSERT_TRUE(w_->flush().ok());
  ASSERT_TRUE(r_->refresh().ok());
  auto got = r_->scan("az", s("b\0", 2), UpperBound::kInclusive);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ(*got, (std::vector<KeyValue>{{"az", "v:az"}, {"b", "newer"}}));
  ASSERT_TRUE(w_->del("b").ok());
  ASSERT_TRUE(w_->flush().ok());
  ASSERT_TRUE(r_->refresh().ok());
  EXPECT_EQ(keys_of(r_->scan("az", "b", UpperBound::kInclusive)), want({"az"}))
      << "a deleted bound key must not resurface from an older SST";
}

}  // namespace
}  // namespace isle
