// Re-seeking one Reader iterator: the SST iterators under it keep their
// current data block and reuse it when a seek lands in it again
// (SstIterator::seek). These tests check that the reuse never changes an
// answer: re-seeks in every direction equal a fresh iterator's, and an
// iterator keeps its own view across a refresh (re-seeking into blocks it
// holds still shows the old data), while a new iterator sees the new view.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine_test_util.h"
#include "isle/db.h"

namespace isle {
namespace {

using testing::EngineEnv;

// Values large enough that every flush below is an ordinary SST (over any
// inline-flush threshold), so the reads go through SST iterators.
std::string val(const char* version, int i) {
  return std::string(version) + ":" + std::to_string(i) + std::string(300, '.');
}

std::string key_of(int i) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "k%05d", i);
  return buf;
}

// Up to `n` (key, value) pairs from the iterator's current position.
std::vector<std::pair<std::string, std::string>> take(Iterator& it, int n) {
  std::vector<std::pair<std::string, std::string>> out;
  for (; it.valid() && static_cast<int>(out.size()) < n; it.next()) {
    out.emplace_back(std::string(it.key()), std::string(it.value()));
  }
  EXPECT_TRUE(it.status().ok()) << it.status().to_string();
  return out;
}

class ReaderSeekTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriterOptions wo = env_.writer_options();
    wo.block_size = 1024;  // many small data blocks per SST
    wo.compression = Compression::kNone;  // the flushes stay over the inline threshold
    w_ = env_.writer(wo);
    ASSERT_NE(w_, nullptr);
    // Two overlapping SSTs: even keys, then odd keys.
    for (int i = 0; i < 600; i += 2) ASSERT_TRUE(w_->put(key_of(i), val("v1", i)).ok());
    ASSERT_TRUE(w_->flush().ok());
    for (int i = 1; i < 600; i += 2) ASSERT_TRUE(w_->put(key_of(i), val("v1", i)).ok());
    ASSERT_TRUE(w_->flush().ok());
    r_ = env_.reader();
    ASSERT_NE(r_, nullptr);
    const ManifestInfo m = r_->manifest();
    size_t tables = m.l0.size();
    for (const auto& run : m.runs) tables += run.size();
    ASSERT_EQ(tables, 2u);  // two ordinary SSTs
  }

  EngineEnv env_;
  std::unique_ptr<Writer> w_;
  std::unique_ptr<Reader> r_;
};

TEST_F(ReaderSeekTest, ReseeksInEveryDirectionMatchAFreshIterator) {
  auto it = r_->iterator();
  // Forward by small steps (mostly the held block), backward, far jumps,
  // past the end and back, and repeats of one target.
  std::vector<int> targets;
  for (int i = 0; i < 80; i++) targets.push_back(i);
  for (int i = 300; i > 250; i--) targets.push_back(i);
  for (int i : {5, 590, 7, 599, 600, 1000, 3, 3, 3, 250, 251, 250}) targets.push_back(i);
  for (int t : targets) {
    const std::string k = t >= 600 ? "k9" + std::to_string(t) : key_of(t);
    it->seek_ge(k);
    auto fresh = r_->iterator();
    fresh->seek_ge(k);
    ASSERT_EQ(take(*it, 5), take(*fresh, 5)) << "target " << k;
  }
}

TEST_F(ReaderSeekTest, AnIteratorKeepsItsViewAcrossARefresh) {
  auto old_it = r_->iterator();
  old_it->seek_ge(key_of(100));  // holds the blocks around k00100
  ASSERT_TRUE(old_it->valid());

  // Overwrite and delete keys in that range, then refresh the reader.
  for (int i = 100; i < 400; i++) ASSERT_TRUE(w_->put(key_of(i), val("v2", i)).ok());
  ASSERT_TRUE(w_->del(key_of(101)).ok());
  ASSERT_TRUE(w_->flush().ok());
  ASSERT_TRUE(r_->refresh().ok());

  // The old iterator re-seeks into the blocks it holds: the old view.
  for (int round = 0; round < 2; round++) {
    old_it->seek_ge(key_of(100));
    auto got = take(*old_it, 3);
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0], std::make_pair(key_of(100), val("v1", 100)));
    EXPECT_EQ(got[1], std::make_pair(key_of(101), val("v1", 101)));
    EXPECT_EQ(got[2], std::make_pair(key_of(102), val("v1", 102)));
  }
  // A new iterator sees the new view.
  auto new_it = r_->iterator();
  new_it->seek_ge(key_of(100));
  auto got = take(*new_it, 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], std::make_pair(key_of(100), val("v2", 100)));
  EXPECT_EQ(got[1], std::make_pair(key_of(102), val("v2", 102)));  // k00101 deleted
}

}  // namespace
}  // namespace isle
