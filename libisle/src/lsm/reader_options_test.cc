// The reader options of issue 14, item 9: blob_cache_max_item_size,
// verify_blobs_on_read, range_read_min_sst_size and
// allow_unverified_range_reads (their semantics: include/isle/options.h
// and docs/DECISIONS.md), plus concurrent first uses of one verified SST.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "cache/blob_cache.h"
#include "cache/disk_cache.h"
#include "isle/reader.h"
#include "lsm/engine_test_util.h"
#include "manifest/manifest_types.h"
#include "util/hash.h"

namespace isle {
namespace {

using testing::EngineEnv;

std::string blob_value(char c, size_t n) {
  std::string v(n, c);
  for (size_t i = 0; i < n; i += 7) v[i] = static_cast<char>(i);
  return v;
}

uint64_t gets(const EngineEnv& env) { return env.metrics->snapshot().op(StoreOp::kGet).requests; }
uint64_t get_bytes(const EngineEnv& env) {
  return env.metrics->snapshot().op(StoreOp::kGet).bytes_read;
}

TEST(ReaderOptions, BlobsLargerThanTheMaxItemSizeAreNotKeptInTheBlobCache) {
  EngineEnv env;
  WriterOptions wo = env.writer_options();
  wo.blob_threshold = 1024;
  {
    auto w = env.writer(wo);
    ASSERT_TRUE(w->put("small", blob_value('s', 2000)).ok());
    ASSERT_TRUE(w->put("large", blob_value('l', 20000)).ok());
    ASSERT_TRUE(w->close().ok());
  }
  for (uint64_t max : {uint64_t{0}, uint64_t{4096}}) {
    ReaderOptions ro = env.reader_options();
    ro.blob_cache_max_item_size = max;
    auto r = env.reader(ro);
    for (int round = 0; round < 3; round++) {
      auto s = r->get("small");
      ASSERT_TRUE(s.ok() && s->has_value() && **s == blob_value('s', 2000));
      auto l = r->get("large");
      ASSERT_TRUE(l.ok() && l->has_value() && **l == blob_value('l', 20000));
    }
    const CacheCounters c = r->stats().blob_cache;
    SCOPED_TRACE("max " + std::to_string(max));
    if (max == 0) {
      EXPECT_EQ(c.misses, 2u);  // both kept after their first load
      EXPECT_EQ(c.hits, 4u);
      EXPECT_GE(c.bytes, 22000u);
    } else {
      EXPECT_EQ(c.misses, 4u);  // the large blob is loaded every time
      EXPECT_EQ(c.hits, 2u);
      EXPECT_LT(c.bytes, 4096u + 200);
    }
  }
}

// A blob whose bytes were changed in the bucket (same size): refused by
// default, returned as stored with verify_blobs_on_read off.
TEST(ReaderOptions, VerifyBlobsOnReadChecksTheBlobsSha256UnlessTurnedOff) {
  EngineEnv env;
  WriterOptions wo = env.writer_options();
  wo.blob_threshold = 1024;
  const std::string value = blob_value('b', 5000);
  {
    auto w = env.writer(wo);
    ASSERT_TRUE(w->put("k", value).ok());
    ASSERT_TRUE(w->close().ok());
  }
  std::string changed = value;
  changed[100] ^= 1;
  ASSERT_TRUE(env.scoped->put(blob_key(sha256_hex(value)), changed).ok());

  ReaderOptions on = env.reader_options();
  auto r = env.reader(on);
  EXPECT_EQ(r->get("k").status().code(), Code::kCorruption);

  ReaderOptions off = env.reader_options();
  off.verify_blobs_on_read = false;
  auto u = env.reader(off);
  auto g = u->get("k");
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  EXPECT_EQ(**g, changed);
  // The size is still checked.
  ASSERT_TRUE(env.scoped->put(blob_key(sha256_hex(value)), value.substr(1)).ok());
  EXPECT_EQ(env.reader(off)->get("k").status().code(), Code::kCorruption);
}

// With verify_blobs_on_read off, a blob from the local disk cache is still
// checked against its reference's size: an entry of the wrong size is
// refused (counted, erased) and the blob is read from the bucket instead.
TEST(ReaderOptions, UnverifiedBlobsFromTheDiskCacheHaveTheirSizeChecked) {
  EngineEnv env;
  WriterOptions wo = env.writer_options();
  wo.blob_threshold = 1024;
  const std::string value = blob_value('d', 5000);
  {
    auto w = env.writer(wo);
    ASSERT_TRUE(w->put("k", value).ok());
    ASSERT_TRUE(w->close().ok());
  }
  std::string dir = (std::filesystem::temp_directory_path() / "isle-reader-opts-XXXXXX").string();
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  {
    auto disk = DiskCache::open(dir, uint64_t{1} << 20);
    ASSERT_TRUE(disk.ok()) << disk.status().to_string();
    (*disk)->put(BlobCache::disk_key(sha256_hex(value)), value.substr(1));
  }
  ReaderOptions ro = env.reader_options();
  ro.verify_blobs_on_read = false;
  ro.cache_dir = dir;
  auto r = env.reader(ro);
  auto g = r->get("k");
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  ASSERT_TRUE(g->has_value());
  EXPECT_EQ((*g)->size(), value.size());
  EXPECT_TRUE(**g == value);
  EXPECT_EQ(r->stats().blob_cache.corruptions, 1u);
  r.reset();
  std::filesystem::remove_all(dir);
}

// Writes 2000 small keys into one SST of a few hundred KiB.
void write_table(EngineEnv& env) {
  WriterOptions wo = env.writer_options();
  wo.compression = Compression::kNone;
  auto w = env.writer(wo);
  for (int i = 0; i < 2000; i++) {
    ASSERT_TRUE(w->put("k" + std::to_string(10000 + i), std::string(100, 'a' + i % 26)).ok());
  }
  ASSERT_TRUE(w->close().ok());
}

TEST(ReaderOptions, SstsBelowRangeReadMinSstSizeAreReadWholeByOneGet) {
  EngineEnv env;
  write_table(env);
  for (bool verify : {false, true}) {
    for (uint64_t min : {uint64_t{0}, uint64_t{16} << 20}) {
      SCOPED_TRACE("verify " + std::to_string(verify) + " min " + std::to_string(min));
      ReaderOptions ro = env.reader_options();
      ro.block_cache_bytes = 0;
      ro.sst_tail_read = 4096;
      ro.verify_sst_sha256 = verify;
      ro.range_read_min_sst_size = min;
      auto r = env.reader(ro);
      const uint64_t size = r->manifest().l0.at(0).size;
      env.metrics->reset();
      for (int i = 0; i < 2000; i += 50) {
        auto g = r->get("k" + std::to_string(10000 + i));
        ASSERT_TRUE(g.ok() && g->has_value()) << g.status().to_string();
      }
      if (min > 0) {
        EXPECT_EQ(gets(env), 1u);
        EXPECT_EQ(get_bytes(env), size);
      } else {
        EXPECT_GT(gets(env), 5u);  // the tail, then one range per block
      }
    }
  }
}

TEST(ReaderOptions, AllowUnverifiedRangeReadsSkipsTheWholeObjectCheck) {
  EngineEnv env;
  write_table(env);
  const std::string id = env.reader()->manifest().l0.at(0).id;
  std::string bytes = env.scoped->get(sst_key(id))->data;
  bytes[10] ^= 1;  // inside the first data block
  ASSERT_TRUE(env.scoped->put(sst_key(id), bytes).ok());

  ReaderOptions ro = env.reader_options();
  ro.verify_sst_sha256 = true;
  ro.sst_tail_read = 4096;
  EXPECT_EQ(env.reader(ro)->get("k11999").status().code(), Code::kCorruption);

  // Allowed: a key far from the damage is served after a few ranged reads,
  // without downloading the SST; the damaged block still fails its xxh3.
  ro.allow_unverified_range_reads = true;
  auto r = env.reader(ro);
  env.metrics->reset();
  auto g = r->get("k11999");
  ASSERT_TRUE(g.ok() && g->has_value()) << g.status().to_string();
  EXPECT_LT(get_bytes(env), bytes.size() / 4);
  EXPECT_EQ(r->get("k10000").status().code(), Code::kCorruption);

  // SSTs below range_read_min_sst_size are read whole, so still verified.
  ro.range_read_min_sst_size = uint64_t{16} << 20;
  EXPECT_EQ(env.reader(ro)->get("k11999").status().code(), Code::kCorruption);
}

// Many threads use a fresh verified SST at once: it is streamed once.
TEST(ReaderOptions, ConcurrentFirstUsesOfAVerifiedSstVerifyItOnce) {
  EngineEnv env;
  write_table(env);
  ReaderOptions ro = env.reader_options();
  ro.verify_sst_sha256 = true;
  // The stream fills the disk cache, so later reads need no GET at all.
  std::string dir = (std::filesystem::temp_directory_path() / "isle-reader-opts-XXXXXX").string();
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  ro.cache_dir = dir;
  auto r = env.reader(ro);
  const uint64_t size = r->manifest().l0.at(0).size;
  env.metrics->reset();
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; t++) {
    threads.emplace_back([&, t] {
      auto g = r->get("k" + std::to_string(10000 + t * 200));
      EXPECT_TRUE(g.ok() && g->has_value()) << g.status().to_string();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(get_bytes(env), size);  // one stream of the whole object
  EXPECT_EQ(r->stats().open_tables, 1u);
  r.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace isle
