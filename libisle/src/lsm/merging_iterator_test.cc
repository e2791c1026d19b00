// Merging iterator tests: a property test of the merge against the sorted
// union of random children (0..12 children, so the heap is exercised), the
// deterministic order of equal keys, and error handling (the first child
// error stops the merge with that status; malformed child keys are
// Corruption).
#include "lsm/merging_iterator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "format/internal_key.h"
#include "testutil/testutil.h"
#include "util/random.h"

namespace isle {
namespace {

using Entries = std::vector<std::pair<std::string, std::string>>;

// Order of the fake: internal-key order, bytewise for (malformed) short keys.
int fake_compare(std::string_view a, std::string_view b) {
  if (a.size() < kInternalKeyTrailer || b.size() < kInternalKeyTrailer) return a.compare(b);
  return compare_internal_keys(a, b);
}

// A child over a sorted vector that fails with `error` once its position
// reaches `fail_at` (SIZE_MAX: never).
class FakeIterator : public InternalIterator {
 public:
  explicit FakeIterator(Entries e, size_t fail_at = SIZE_MAX,
                        Status error = Status::Transient("injected"))
      : e_(std::move(e)), fail_at_(fail_at), error_(std::move(error)) {}

  bool valid() const override { return status_.ok() && pos_ < e_.size(); }
  void seek_to_first() override { settle(0); }
  void seek(std::string_view t) override {
    auto it = std::lower_bound(e_.begin(), e_.end(), t, [](const auto& e, std::string_view k) {
      return fake_compare(e.first, k) < 0;
    });
    settle(static_cast<size_t>(it - e_.begin()));
  }
  void next() override {
    EXPECT_TRUE(valid());
    settle(pos_ + 1);
  }
  std::string_view key() const override { return e_[pos_].first; }
  std::string_view value() const override { return e_[pos_].second; }
  Status status() const override { return status_; }

 private:
  void settle(size_t pos) {
    pos_ = pos;
    status_ = pos_ >= fail_at_ ? error_ : Status::OK();
  }

  Entries e_;
  size_t fail_at_;
  Status error_;
  size_t pos_ = 0;
  Status status_;
};

std::string ik(std::string_view user_key, uint64_t seq) {
  return make_internal_key(user_key, seq, ValueKind::kPut);
}

Entries scan(InternalIterator& it) {
  Entries out;
  for (it.seek_to_first(); it.valid(); it.next()) {
    out.emplace_back(std::string(it.key()), std::string(it.value()));
  }
  return out;
}

TEST(MergingIteratorProperty, MatchesTheSortedUnionOfItsChildren) {
  const int seeds = testing::seed_count(300);
  for (int s = 0; s < seeds; s++) {
    const uint64_t seed = testing::seed_base() + s;
    SCOPED_TRACE("seed " + std::to_string(seed) + " (replay: ISLE_TEST_SEED_BASE=" +
                 std::to_string(seed) + " ISLE_TEST_SEEDS=1)");
    Random rnd(seed);
    const size_t n_children = rnd.uniform(13);
    std::vector<Entries> parts(n_children);
    Entries all;
    uint64_t seq = 1;
    const size_t n = rnd.uniform(300);
    for (size_t i = 0; i < n && n_children > 0; i++) {
      std::string uk;
      for (size_t j = rnd.uniform(4); j > 0; j--) uk.push_back("\0ab\xff"[rnd.uniform(4)]);
      seq += 1 + rnd.uniform(3);
      std::pair<std::string, std::string> e{ik(uk, seq), rnd.bytes(rnd.uniform(5))};
      all.push_back(e);
      parts[rnd.uniform(n_children)].push_back(std::move(e));
    }
    auto less = [](const auto& a, const auto& b) { return compare_internal_keys(a.first, b.first) < 0; };
    std::sort(all.begin(), all.end(), less);
    std::vector<std::unique_ptr<InternalIterator>> children;
    for (auto& p : parts) {
      std::sort(p.begin(), p.end(), less);
      children.push_back(std::make_unique<FakeIterator>(p));
    }
    auto merged = new_merging_iterator(std::move(children));
    ASSERT_EQ(scan(*merged), all);
    ASSERT_TRUE(merged->status().ok());

    for (int q = 0; q < 20; q++) {
      std::string uk;
      for (size_t j = rnd.uniform(4); j > 0; j--) uk.push_back("\0ab\xff"[rnd.uniform(4)]);
      const std::string target = seek_key(uk, rnd.uniform(seq + 2));
      auto lb = std::lower_bound(all.begin(), all.end(), target, [](const auto& e, const std::string& t) {
        return compare_internal_keys(e.first, t) < 0;
      });
      merged->seek(target);
      for (int steps = 0; steps < 4; steps++, ++lb) {
        ASSERT_EQ(merged->valid(), lb != all.end());
        if (!merged->valid()) break;
        ASSERT_EQ(merged->key(), lb->first);
        ASSERT_EQ(merged->value(), lb->second);
        merged->next();
      }
    }
  }
}

TEST(MergingIterator, EqualKeysComeInChildIndexOrder) {
  std::vector<std::unique_ptr<InternalIterator>> children;
  for (int i = 0; i < 6; i++) {
    children.push_back(std::make_unique<FakeIterator>(
        Entries{{ik("k", 1), "child" + std::to_string(i)}, {ik("z", 10 + i), "z"}}));
  }
  auto merged = new_merging_iterator(std::move(children));
  const Entries got = scan(*merged);
  ASSERT_EQ(got.size(), 12u);
  for (int i = 0; i < 6; i++) EXPECT_EQ(got[i].second, "child" + std::to_string(i));
  for (int i = 6; i < 12; i++) EXPECT_EQ(got[i].first, ik("z", 21 - i));  // seq desc
}

TEST(MergingIterator, AChildErrorStopsTheMergeWithItsStatus) {
  Entries a, b;
  for (int i = 0; i < 10; i += 2) a.emplace_back(ik("k" + std::to_string(i), 1), "a");
  for (int i = 1; i < 10; i += 2) b.emplace_back(ik("k" + std::to_string(i), 1), "b");
  std::vector<std::unique_ptr<InternalIterator>> children;
  children.push_back(std::make_unique<FakeIterator>(a));
  // b fails when it moves to its third entry (k5): after k0 k1 k2 k3.
  children.push_back(std::make_unique<FakeIterator>(b, 2, Status::Transient("disk on fire")));
  auto merged = new_merging_iterator(std::move(children));
  std::vector<std::string> seen;
  for (merged->seek_to_first(); merged->valid(); merged->next()) {
    seen.emplace_back(extract_user_key(merged->key()));
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"k0", "k1", "k2", "k3"}));
  EXPECT_EQ(merged->status().code(), Code::kTransient);
  EXPECT_EQ(merged->status().message(), "disk on fire");

  // A seek that lands b on its failing entry fails at once, although a
  // still has entries.
  merged->seek(seek_key("k5"));
  EXPECT_FALSE(merged->valid());
  EXPECT_EQ(merged->status().code(), Code::kTransient);
  // A seek that keeps b before it works again.
  merged->seek(seek_key("k2"));
  ASSERT_TRUE(merged->valid());
  EXPECT_TRUE(merged->status().ok());
  EXPECT_EQ(extract_user_key(merged->key()), "k2");
}

TEST(MergingIterator, TheLowestFailingChildWinsInASeek) {
  std::vector<std::unique_ptr<InternalIterator>> children;
  children.push_back(std::make_unique<FakeIterator>(Entries{{ik("a", 1), ""}}));
  children.push_back(std::make_unique<FakeIterator>(Entries{{ik("b", 1), ""}}, 0, Status::IOError("x")));
  children.push_back(std::make_unique<FakeIterator>(Entries{{ik("c", 1), ""}}, 0, Status::Corruption("y")));
  auto merged = new_merging_iterator(std::move(children));
  merged->seek_to_first();
  EXPECT_FALSE(merged->valid());
  EXPECT_EQ(merged->status().code(), Code::kIOError);
}

TEST(MergingIterator, ShortChildKeysAreCorruption) {
  std::vector<std::unique_ptr<InternalIterator>> children;
  children.push_back(std::make_unique<FakeIterator>(Entries{{ik("a", 1), ""}}));
  children.push_back(std::make_unique<FakeIterator>(Entries{{"short", ""}}));
  auto merged = new_merging_iterator(std::move(children));
  merged->seek_to_first();
  EXPECT_FALSE(merged->valid());
  EXPECT_TRUE(merged->status().is_corruption());
}

TEST(MergingIterator, EmptyAndNullChildren) {
  std::vector<std::unique_ptr<InternalIterator>> none;
  auto empty = new_merging_iterator(std::move(none));
  empty->seek_to_first();
  EXPECT_FALSE(empty->valid());
  EXPECT_TRUE(empty->status().ok());

  std::vector<std::unique_ptr<InternalIterator>> children;
  children.push_back(nullptr);
  children.push_back(std::make_unique<FakeIterator>(Entries{{ik("a", 1), "v"}}));
  children.push_back(new_empty_iterator());
  auto merged = new_merging_iterator(std::move(children));
  EXPECT_EQ(scan(*merged), (Entries{{ik("a", 1), "v"}}));
  merged->seek("abc");  // not an internal key
  EXPECT_TRUE(merged->status().is_invalid_argument());
}

}  // namespace
}  // namespace isle
