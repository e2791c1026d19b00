// SstReader through the BlockCacheHook seam, with a tiny map-backed fake
// hook: a repeated lookup is served by the hook without a source read, the
// hook is used only when both block_cache and cache_id are set, keys are
// (cache_id, block offset), and load errors reach the caller.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <mutex>
#include <utility>

#include "format/block_cache_hook.h"
#include "format/sst_reader.h"
#include "format/sst_test_util.h"

namespace isle {
namespace {

using sst_testing::ModelEntry;

// Caches every loaded block forever; records what it was asked for.
class FakeHook : public BlockCacheHook {
 public:
  Result<BlockPtr> get_or_load(std::string_view file_id, uint64_t offset,
                               const std::function<Result<BlockPtr>()>& load) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto key = std::make_pair(std::string(file_id), offset);
    if (auto it = blocks_.find(key); it != blocks_.end()) {
      hits_++;
      return it->second;
    }
    loads_++;
    auto r = load();
    if (r.ok()) blocks_[key] = *r;
    return r;
  }
  int hits() const { return hits_; }
  int loads() const { return loads_; }
  std::vector<std::pair<std::string, uint64_t>> keys() const {
    std::vector<std::pair<std::string, uint64_t>> out;
    for (const auto& [k, v] : blocks_) out.push_back(k);
    return out;
  }

 private:
  std::mutex mu_;
  std::map<std::pair<std::string, uint64_t>, BlockPtr> blocks_;
  int hits_ = 0;
  int loads_ = 0;
};

// A source that can be told to fail every read.
class FlakySource : public MemorySource {
 public:
  using MemorySource::MemorySource;
  Result<std::string> read(uint64_t offset, uint64_t len) override {
    if (fail) return Status::Transient("injected");
    return MemorySource::read(offset, len);
  }
  bool fail = false;
};

std::string make_sst(int n) {
  const std::vector<ModelEntry> model = sst_testing::numbered_entries(
      n, "key/", 100, [](int i) { return "value-" + std::to_string(i) + std::string(40, 'x'); });
  SstBuilderOptions o;
  o.block_size = 512;  // many data blocks
  auto bytes = sst_testing::build_sst(model, o);
  EXPECT_TRUE(bytes.ok());
  return bytes.ok() ? *bytes : std::string();
}

TEST(SstBlockCache, SecondLookupThroughTheHookIssuesNoRead) {
  auto src = std::make_shared<MemorySource>(make_sst(500));
  auto hook = std::make_shared<FakeHook>();
  SstReaderOptions o;
  o.block_cache = hook;
  o.cache_id = "sst-0001";
  auto r = SstReader::open(src, o);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const uint64_t after_open = src->reads();

  auto g = (*r)->get("key/000123");
  ASSERT_TRUE(g.ok() && g->has_value());
  EXPECT_EQ((*g)->value, "value-123" + std::string(40, 'x'));
  EXPECT_EQ(src->reads(), after_open + 1);
  EXPECT_EQ(hook->loads(), 1);

  auto g2 = (*r)->get("key/000123");
  ASSERT_TRUE(g2.ok() && g2->has_value());
  EXPECT_EQ(**g2, **g);
  EXPECT_EQ(src->reads(), after_open + 1) << "the second lookup must not read the source";
  EXPECT_EQ(hook->hits(), 1);

  // The key is (cache_id, offset of a data block inside the data region).
  ASSERT_EQ(hook->keys().size(), 1u);
  EXPECT_EQ(hook->keys()[0].first, "sst-0001");
  EXPECT_LT(hook->keys()[0].second, (*r)->footer().meta_start());

  // A full scan loads every block once; a second scan reads nothing.
  for (int pass = 0; pass < 2; pass++) {
    auto it = (*r)->new_iterator();
    int n = 0;
    for (it->seek_to_first(); it->valid(); it->next()) n++;
    ASSERT_TRUE(it->status().ok());
    EXPECT_EQ(n, 500);
  }
  const uint64_t blocks = hook->keys().size();
  EXPECT_GT(blocks, 10u);
  EXPECT_EQ(src->reads(), after_open + blocks);

  // A second reader of the same SST with the same id shares the blocks.
  auto src2 = std::make_shared<MemorySource>(make_sst(500));
  auto r2 = SstReader::open(src2, o);
  ASSERT_TRUE(r2.ok());
  const uint64_t open_reads = src2->reads();
  auto g3 = (*r2)->get("key/000499");
  ASSERT_TRUE(g3.ok() && g3->has_value());
  EXPECT_EQ(src2->reads(), open_reads);
}

TEST(SstBlockCache, HookNeedsBothFieldsSet) {
  const std::string bytes = make_sst(100);
  auto hook = std::make_shared<FakeHook>();
  SstReaderOptions o;
  o.block_cache = hook;  // no cache_id
  auto src = std::make_shared<MemorySource>(bytes);
  auto r = SstReader::open(src, o);
  ASSERT_TRUE(r.ok());
  const uint64_t base = src->reads();
  for (int i = 0; i < 2; i++) ASSERT_TRUE((*r)->get("key/000050").ok());
  EXPECT_EQ(src->reads(), base + 2);
  EXPECT_EQ(hook->loads() + hook->hits(), 0);

  o.block_cache = nullptr;  // id without a hook
  o.cache_id = "x";
  auto src2 = std::make_shared<MemorySource>(bytes);
  auto r2 = SstReader::open(src2, o);
  ASSERT_TRUE(r2.ok());
  const uint64_t base2 = src2->reads();
  for (int i = 0; i < 2; i++) ASSERT_TRUE((*r2)->get("key/000050").ok());
  EXPECT_EQ(src2->reads(), base2 + 2);
}

// A seek that lands in the data block the iterator already holds reuses it:
// no hook call, and it lands exactly where a fresh iterator would. Seeking
// every key in order then costs one hook call per data block, as a scan
// does (before the reuse it cost one per seek).
TEST(SstBlockCache, SeekIntoTheHeldBlockReusesIt) {
  auto src = std::make_shared<MemorySource>(make_sst(300));
  auto hook = std::make_shared<FakeHook>();
  SstReaderOptions o;
  o.block_cache = hook;
  o.cache_id = "sst-reuse";
  auto r = SstReader::open(src, o);
  ASSERT_TRUE(r.ok()) << r.status().to_string();

  auto scan = (*r)->new_iterator();
  int n = 0;
  for (scan->seek_to_first(); scan->valid(); scan->next()) n++;
  ASSERT_EQ(n, 300);
  const int blocks = hook->hits() + hook->loads();
  ASSERT_GT(blocks, 10);  // many data blocks

  auto it = (*r)->new_iterator();
  const int before = hook->hits() + hook->loads();
  for (int i = 0; i < 300; i++) {
    const std::string uk = sst_testing::numbered_key("key/", i);
    it->seek(seek_key(uk));
    ASSERT_TRUE(it->valid()) << i << ": " << it->status().to_string();
    ASSERT_EQ(extract_user_key(it->key()), uk);
    // The same seek again, and a seek back to the block's earlier keys.
    it->seek(seek_key(uk));
    ASSERT_TRUE(it->valid());
    ASSERT_EQ(extract_user_key(it->key()), uk);
  }
  EXPECT_EQ(hook->hits() + hook->loads() - before, blocks);

  // Backwards, then next() across block ends after a reusing seek: the
  // same entries a fresh iterator returns.
  for (int i = 299; i >= 0; i -= 7) {
    const std::string uk = sst_testing::numbered_key("key/", i);
    it->seek(seek_key(uk));
    auto fresh = (*r)->new_iterator();
    fresh->seek(seek_key(uk));
    for (int k = 0; k < 12; k++) {
      ASSERT_EQ(it->valid(), fresh->valid()) << i << "+" << k;
      if (!fresh->valid()) break;
      ASSERT_EQ(it->key(), fresh->key());
      ASSERT_EQ(it->value(), fresh->value());
      it->next();
      fresh->next();
    }
  }
  // Past the last key, then back into a held block.
  it->seek(seek_key("zzz"));
  EXPECT_FALSE(it->valid());
  EXPECT_TRUE(it->status().ok());
  it->seek(seek_key(sst_testing::numbered_key("key/", 3)));
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(extract_user_key(it->key()), sst_testing::numbered_key("key/", 3));
}

// After a failed load the iterator holds no block: the next seek into the
// same block loads it again rather than reusing a stale one.
TEST(SstBlockCache, SeekAfterALoadErrorLoadsAgain) {
  auto src = std::make_shared<FlakySource>(make_sst(100));
  SstReaderOptions o;  // no cache: every load reads the source
  auto r = SstReader::open(src, o);
  ASSERT_TRUE(r.ok());
  auto it = (*r)->new_iterator();
  it->seek(seek_key("key/000010"));
  ASSERT_TRUE(it->valid());
  src->fail = true;
  it->seek(seek_key("key/000090"));  // another block: the read fails
  EXPECT_FALSE(it->valid());
  EXPECT_EQ(it->status().code(), Code::kTransient);
  it->seek(seek_key("key/000010"));  // the first block again: read again, fails
  EXPECT_FALSE(it->valid());
  EXPECT_EQ(it->status().code(), Code::kTransient);
  src->fail = false;
  it->seek(seek_key("key/000090"));
  ASSERT_TRUE(it->valid()) << it->status().to_string();
  EXPECT_EQ(extract_user_key(it->key()), "key/000090");
}

TEST(SstBlockCache, LoadErrorsReachTheCallerAndAreNotCached) {
  auto src = std::make_shared<FlakySource>(make_sst(100));
  auto hook = std::make_shared<FakeHook>();
  SstReaderOptions o;
  o.block_cache = hook;
  o.cache_id = "flaky";
  auto r = SstReader::open(src, o);
  ASSERT_TRUE(r.ok());
  src->fail = true;
  auto g = (*r)->get("key/000007");
  EXPECT_EQ(g.status().code(), Code::kTransient) << g.status().to_string();
  auto it = (*r)->new_iterator();
  it->seek_to_first();
  EXPECT_FALSE(it->valid());
  EXPECT_EQ(it->status().code(), Code::kTransient);
  src->fail = false;
  auto g2 = (*r)->get("key/000007");
  ASSERT_TRUE(g2.ok() && g2->has_value()) << g2.status().to_string();
}

}  // namespace
}  // namespace isle
