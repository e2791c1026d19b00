// DiskCachedSource: repeated reads and tail reads are served from the disk
// cache (also by a new cache object after a restart), different SST ids do
// not share entries, badly shaped entries and inner errors are never
// served, and an SstReader over it needs no inner read the second time.
#include "cache/disk_cached_source.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "format/sst_reader.h"
#include "format/sst_test_util.h"
#include "testutil/testutil.h"
#include "util/random.h"

namespace isle {
namespace {

class FlakySource : public MemorySource {
 public:
  using MemorySource::MemorySource;
  Result<std::string> read(uint64_t offset, uint64_t len) override {
    if (fail) return Status::Transient("injected");
    return MemorySource::read(offset, len);
  }
  Result<TailRead> read_tail(uint64_t n) override {
    if (fail) return Status::Transient("injected");
    return MemorySource::read_tail(n);
  }
  bool fail = false;
};

std::shared_ptr<DiskCache> open_cache(const std::string& dir, uint64_t budget = 1 << 20) {
  auto c = DiskCache::open(dir, budget);
  EXPECT_TRUE(c.ok()) << c.status().to_string();
  return c.ok() ? *c : nullptr;
}

TEST(DiskCachedSource, SecondReadDoesNotTouchTheInnerSource) {
  testing::TempDir tmp;
  const std::string data = Random(3).bytes(5000);
  auto inner = std::make_shared<MemorySource>(data, "obj");
  auto cache = open_cache(tmp.path());
  ASSERT_NE(cache, nullptr);
  auto src_owner = std::make_unique<DiskCachedSource>(inner, cache, "000001");
  DiskCachedSource& src = *src_owner;
  EXPECT_EQ(src.name(), "obj");

  auto r1 = src.read(100, 700);
  ASSERT_TRUE(r1.ok());
  EXPECT_EQ(*r1, data.substr(100, 700));
  EXPECT_EQ(inner->reads(), 1u);
  auto r2 = src.read(100, 700);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(*r2, *r1);
  EXPECT_EQ(inner->reads(), 1u);
  // Another range is another entry.
  ASSERT_TRUE(src.read(100, 701).ok());
  EXPECT_EQ(inner->reads(), 2u);

  for (uint64_t n : {64u, 6000u}) {  // a tail smaller and larger than the file
    const uint64_t before = inner->reads();
    for (int i = 0; i < 2; i++) {
      auto t = src.read_tail(n);
      ASSERT_TRUE(t.ok());
      EXPECT_EQ(t->total_size, data.size());
      EXPECT_EQ(t->bytes, data.substr(data.size() - std::min<uint64_t>(n, data.size())));
    }
    EXPECT_EQ(inner->reads(), before + 1);
  }

  // After a restart (new DiskCache object, new source): no inner read.
  const uint64_t before = inner->reads();
  src_owner.reset();  // drop every reference to the cache: it unlocks the folder
  cache.reset();
  auto cache2 = open_cache(tmp.path());
  ASSERT_NE(cache2, nullptr);
  DiskCachedSource again(inner, cache2, "000001");
  auto r3 = again.read(100, 700);
  ASSERT_TRUE(r3.ok());
  EXPECT_EQ(*r3, data.substr(100, 700));
  auto t = again.read_tail(64);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->total_size, data.size());
  EXPECT_EQ(inner->reads(), before);

  // Another SST id does not see these entries.
  DiskCachedSource other(inner, cache2, "000002");
  ASSERT_TRUE(other.read(100, 700).ok());
  EXPECT_EQ(inner->reads(), before + 1);
}

TEST(DiskCachedSource, BadlyShapedEntriesAndInnerErrorsAreNotServed) {
  testing::TempDir tmp;
  const std::string data(3000, 'd');
  auto inner = std::make_shared<FlakySource>(data);
  auto cache = open_cache(tmp.path());
  ASSERT_NE(cache, nullptr);
  DiskCachedSource src(inner, cache, "s");
  // Plant entries of the wrong length (checksums fine, shape wrong).
  cache->put(src.read_key(0, 10), "short");
  cache->put(src.tail_key(100), "x");
  auto r = src.read(0, 10);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, data.substr(0, 10));
  auto t = src.read_tail(100);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->bytes, data.substr(2900));
  EXPECT_EQ(t->total_size, 3000u);
  EXPECT_EQ(inner->reads(), 2u);
  // The entries were replaced by good ones.
  EXPECT_EQ(cache->get(src.read_key(0, 10)), data.substr(0, 10));

  inner->fail = true;
  EXPECT_EQ(src.read(50, 10).status().code(), Code::kTransient);
  EXPECT_EQ(src.read_tail(7).status().code(), Code::kTransient);
  EXPECT_EQ(cache->get(src.read_key(50, 10)), std::nullopt);
  inner->fail = false;
  auto ok = src.read(50, 10);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, data.substr(50, 10));
  // Past the end stays an error.
  EXPECT_TRUE(src.read(2999, 2).status().is_corruption());
}

TEST(DiskCachedSource, SstReaderReopenNeedsNoInnerRead) {
  const auto model = sst_testing::numbered_entries(
      3000, "user/", 10, [](int i) { return "value" + std::to_string(i); });
  auto bytes = sst_testing::build_sst(model, {});
  ASSERT_TRUE(bytes.ok());
  testing::TempDir tmp;
  auto inner = std::make_shared<MemorySource>(*bytes);
  auto cache = open_cache(tmp.path());
  ASSERT_NE(cache, nullptr);
  for (int round = 0; round < 2; round++) {
    auto r = SstReader::open(std::make_shared<DiskCachedSource>(inner, cache, "000123"));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    for (int i : {0, 1500, 2999}) {
      auto g = (*r)->get(sst_testing::numbered_key("user/", i));
      ASSERT_TRUE(g.ok() && g->has_value());
      EXPECT_EQ((*g)->value, "value" + std::to_string(i));
    }
    EXPECT_EQ(inner->reads(), 4u) << "round " << round;  // tail + 3 blocks, once
  }
}

}  // namespace
}  // namespace isle
