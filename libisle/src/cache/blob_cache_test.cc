// BlobCache: memory hits, LRU by bytes, coalescing, errors not cached, key
// validation, and the disk tier (served after a restart; bytes whose
// sha256 does not match the key are never returned).
#include "cache/blob_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <thread>
#include <vector>

#include "cache/cache_test_util.h"
#include "testutil/testutil.h"
#include "util/hash.h"

namespace isle {
namespace {

using BlobPtr = BlobCache::BlobPtr;
using cache_testing::wait_until;

BlobPtr blob(std::string s) { return std::make_shared<const std::string>(std::move(s)); }

std::function<Result<BlobPtr>()> returning(BlobPtr b, std::atomic<int>* calls) {
  return [b, calls]() -> Result<BlobPtr> {
    calls->fetch_add(1);
    return b;
  };
}

std::function<Result<BlobPtr>()> must_not_load() {
  return []() -> Result<BlobPtr> {
    ADD_FAILURE() << "load() called";
    return Status::Aborted("unexpected load");
  };
}

TEST(BlobCache, MemoryHitsAndLruByBytes) {
  const BlobPtr a = blob(std::string(1000, 'a')), b = blob(std::string(1000, 'b')),
                c = blob(std::string(1000, 'c'));
  const std::string ka = sha256_hex(*a), kb = sha256_hex(*b), kc = sha256_hex(*c);
  const uint64_t one = 1000 + 64 + BlobCache::kEntryOverhead;
  BlobCache cache(2 * one, nullptr, 0);
  std::atomic<int> calls{0};
  ASSERT_EQ(*cache.get_or_load(ka, returning(a, &calls)), a);
  ASSERT_EQ(*cache.get_or_load(kb, returning(b, &calls)), b);
  ASSERT_EQ(*cache.get_or_load(ka, must_not_load()), a);  // a is now recent
  ASSERT_EQ(*cache.get_or_load(kc, returning(c, &calls)), c);  // evicts b
  EXPECT_EQ(calls.load(), 3);
  EXPECT_EQ(*cache.get_or_load(ka, must_not_load()), a);
  EXPECT_EQ(*cache.get_or_load(kc, must_not_load()), c);
  ASSERT_EQ(*cache.get_or_load(kb, returning(b, &calls)), b);
  EXPECT_EQ(calls.load(), 4);
  const CacheStats s = cache.stats();
  EXPECT_EQ(s.bytes_used, 2 * one);
  EXPECT_EQ(s.entries, 2u);
  EXPECT_EQ(s.evictions, 2u);
  EXPECT_EQ(s.loads, 4u);
  EXPECT_EQ(s.hits, 3u);
}

TEST(BlobCache, RejectsKeysThatAreNotSha256Hex) {
  BlobCache cache(1 << 20);
  for (std::string bad : {std::string(), std::string(63, 'a'), std::string(64, 'A'),
                          std::string(64, 'g'), std::string(65, 'a')}) {
    EXPECT_TRUE(cache.get_or_load(bad, must_not_load()).status().is_invalid_argument()) << bad;
  }
  auto n = cache.get_or_load(std::string(64, 'a'), [] { return Result<BlobPtr>(BlobPtr()); });
  EXPECT_TRUE(n.status().is_invalid_argument());
}

TEST(BlobCache, ConcurrentMissesLoadOnceAndErrorsAreNotCached) {
  testing::TempDir tmp;
  auto disk = DiskCache::open(tmp.path(), 1 << 20);
  ASSERT_TRUE(disk.ok());
  BlobCache cache(1 << 20, *disk);
  const BlobPtr v = blob("the value");
  const std::string key = sha256_hex(*v);
  constexpr int kThreads = 6;
  for (bool fail : {true, false}) {
    std::atomic<int> calls{0};
    std::latch release(1);
    std::vector<Result<BlobPtr>> got(kThreads, Status::Aborted("not run"));
    std::vector<std::thread> threads;
    const uint64_t waits_before = cache.stats().coalesced_waits;
    for (int i = 0; i < kThreads; i++) {
      threads.emplace_back([&, i] {
        got[i] = cache.get_or_load(key, [&]() -> Result<BlobPtr> {
          calls.fetch_add(1);
          release.wait();
          if (fail) return Status::Transient("store down");
          return v;
        });
      });
    }
    const bool all_waiting = wait_until([&] {
      return calls.load() == 1 && cache.stats().coalesced_waits == waits_before + kThreads - 1;
    });
    release.count_down();
    for (auto& t : threads) t.join();
    ASSERT_TRUE(all_waiting);
    EXPECT_EQ(calls.load(), 1);
    for (const auto& g : got) {
      if (fail) {
        EXPECT_EQ(g.status().code(), Code::kTransient);
      } else {
        ASSERT_TRUE(g.ok());
        EXPECT_EQ(*g, v);
      }
    }
    // After the failure nothing was stored in either tier.
    if (fail) {
      EXPECT_EQ(cache.stats().entries, 0u);
      EXPECT_EQ((*disk)->get(BlobCache::disk_key(key)), std::nullopt);
    }
  }
  EXPECT_EQ((*disk)->get(BlobCache::disk_key(key)), "the value");
}

TEST(BlobCache, DiskTierServesAfterARestart) {
  testing::TempDir tmp;
  const std::string value(5000, 'z');
  const std::string key = sha256_hex(value);
  {
    auto disk = DiskCache::open(tmp.path(), 1 << 20);
    ASSERT_TRUE(disk.ok());
    BlobCache cache(1 << 20, *disk);
    std::atomic<int> calls{0};
    ASSERT_TRUE(cache.get_or_load(key, returning(blob(value), &calls)).ok());
    EXPECT_EQ(calls.load(), 1);
  }
  auto disk = DiskCache::open(tmp.path(), 1 << 20);
  ASSERT_TRUE(disk.ok());
  BlobCache cache(1 << 20, *disk);
  auto r = cache.get_or_load(key, must_not_load());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(**r, value);
  EXPECT_EQ(cache.stats().tier2_hits, 1u);
  EXPECT_EQ(cache.stats().loads, 0u);
  // Now in memory: a second get does not even touch the disk.
  const uint64_t disk_hits = (*disk)->stats().hits;
  ASSERT_TRUE(cache.get_or_load(key, must_not_load()).ok());
  EXPECT_EQ((*disk)->stats().hits, disk_hits);
  EXPECT_EQ(cache.stats().hits, 1u);

  // Memory capacity 0: every get goes to the disk tier, never to load().
  BlobCache disk_only(0, *disk);
  for (int i = 0; i < 3; i++) ASSERT_EQ(**disk_only.get_or_load(key, must_not_load()), value);
  EXPECT_EQ(disk_only.stats().tier2_hits, 3u);
}

TEST(BlobCache, DiskBytesThatDoNotMatchTheKeyAreNeverReturned) {
  testing::TempDir tmp;
  auto disk = DiskCache::open(tmp.path(), 1 << 20);
  ASSERT_TRUE(disk.ok());
  const std::string value = "genuine blob bytes";
  const std::string key = sha256_hex(value);
  // A well-formed disk entry (its own checksum is fine) with wrong bytes.
  (*disk)->put(BlobCache::disk_key(key), "forged blob bytes!");
  BlobCache cache(1 << 20, *disk);
  std::atomic<int> calls{0};
  auto r = cache.get_or_load(key, returning(blob(value), &calls));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(**r, value);
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(cache.stats().corruptions, 1u);
  EXPECT_EQ(cache.stats().tier2_hits, 0u);
  // The disk now holds the genuine bytes.
  EXPECT_EQ((*disk)->get(BlobCache::disk_key(key)), value);
}

// BlobCacheOptions::verify_sha256 = false (ReaderOptions::verify_blobs_on_read
// off): a disk entry is returned as stored, its sha256 unchecked.
TEST(BlobCache, UnverifiedDiskHitsAreReturnedAsStored) {
  testing::TempDir tmp;
  auto disk = DiskCache::open(tmp.path(), 1 << 20);
  ASSERT_TRUE(disk.ok());
  const std::string key = sha256_hex("genuine blob bytes");
  (*disk)->put(BlobCache::disk_key(key), "forged blob bytes!");
  BlobCacheOptions o;
  o.verify_sha256 = false;
  BlobCache cache(1 << 20, *disk, -1, o);
  auto r = cache.get_or_load(key, must_not_load());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(**r, "forged blob bytes!");
  EXPECT_EQ(cache.stats().corruptions, 0u);
}

// The reference's size is checked on every tier whatever verify_sha256
// says: a disk entry of another length is refused (erased, counted, the blob
// loaded again); a memory hit or a loaded value of another length is
// Corruption.
TEST(BlobCache, TheSizeIsCheckedEvenWithoutTheSha256Check) {
  testing::TempDir tmp;
  auto disk = DiskCache::open(tmp.path(), 1 << 20);
  ASSERT_TRUE(disk.ok());
  const std::string value = "genuine blob bytes";
  const std::string key = sha256_hex(value);
  (*disk)->put(BlobCache::disk_key(key), "genuine blob byte");  // one byte short
  BlobCacheOptions o;
  o.verify_sha256 = false;
  BlobCache cache(1 << 20, *disk, -1, o);
  std::atomic<int> calls{0};
  auto r = cache.get_or_load(key, returning(blob(value), &calls), value.size());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(**r, value);
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(cache.stats().corruptions, 1u);
  EXPECT_EQ((*disk)->get(BlobCache::disk_key(key)), value);
  // A reference claiming another size for a blob in memory.
  EXPECT_EQ(cache.get_or_load(key, must_not_load(), value.size() + 1).status().code(),
            Code::kCorruption);
  // A loader returning the wrong length: Corruption, nothing kept.
  BlobCache fresh(1 << 20, nullptr, -1, o);
  const std::string other = "other blob";
  EXPECT_EQ(fresh.get_or_load(sha256_hex(other), returning(blob(other), &calls), 3).status().code(),
            Code::kCorruption);
  EXPECT_EQ(fresh.stats().inserts, 0u);
}

// BlobCacheOptions::max_item_bytes: a bigger blob is returned and written to
// the disk tier, but not kept in memory.
TEST(BlobCache, BlobsAboveMaxItemBytesStayOutOfTheMemoryTier) {
  testing::TempDir tmp;
  auto disk = DiskCache::open(tmp.path(), 1 << 20);
  ASSERT_TRUE(disk.ok());
  const BlobPtr small = blob(std::string(100, 's')), big = blob(std::string(5000, 'b'));
  BlobCacheOptions o;
  o.max_item_bytes = 1000;
  BlobCache cache(1 << 20, *disk, 0, o);
  std::atomic<int> calls{0};
  ASSERT_TRUE(cache.get_or_load(sha256_hex(*small), returning(small, &calls)).ok());
  ASSERT_TRUE(cache.get_or_load(sha256_hex(*big), returning(big, &calls)).ok());
  EXPECT_EQ(cache.stats().entries, 1u);
  EXPECT_EQ(cache.stats().rejected, 1u);
  // The big one comes back from the disk tier, never from load() again.
  ASSERT_EQ(**cache.get_or_load(sha256_hex(*big), must_not_load()), *big);
  EXPECT_EQ(cache.stats().tier2_hits, 1u);
  EXPECT_EQ(calls.load(), 2);
}

TEST(BlobCache, StressWithTinyBudgets) {
  testing::TempDir tmp;
  auto disk = DiskCache::open(tmp.path(), 8 * 1024);
  ASSERT_TRUE(disk.ok());
  BlobCache cache(4 * 1024, *disk, 1);
  std::vector<std::string> values, keys;
  for (int i = 0; i < 40; i++) {
    values.push_back(std::string(100 + 37 * i, static_cast<char>('a' + i % 26)) + std::to_string(i));
    keys.push_back(sha256_hex(values.back()));
  }
  constexpr int kThreads = 6;
  std::latch start(kThreads);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < 2000; i++) {
        const size_t k = static_cast<size_t>((i * 7 + t * 13) % 40);
        auto r = cache.get_or_load(keys[k], [&]() -> Result<BlobPtr> { return blob(values[k]); });
        if (!r.ok() || **r != values[k]) wrong++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_LE(cache.stats().bytes_used, 4u * 1024);
  EXPECT_LE((*disk)->stats().bytes_used, 8u * 1024);
  EXPECT_EQ(cache.stats().corruptions, 0u);
  EXPECT_GT(cache.stats().tier2_hits, 0u);
}

}  // namespace
}  // namespace isle
