// BlockCache: LRU by bytes, rejection of oversized blocks, capacity 0,
// singleflight coalescing (values and errors), key separation, a
// multi-threaded stress with a tiny budget, and the cache plugged into
// SstReader as its BlockCacheHook.
#include "cache/block_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <latch>
#include <thread>
#include <vector>

#include "cache/cache_test_util.h"
#include "format/sst_test_util.h"
#include "util/random.h"

namespace isle {
namespace {

using cache_testing::block_value;
using cache_testing::make_block;
using cache_testing::wait_until;

// A loader that returns `block` and counts its calls.
std::function<Result<BlockPtr>()> returning(BlockPtr block, std::atomic<int>* calls) {
  return [block, calls]() -> Result<BlockPtr> {
    calls->fetch_add(1);
    return block;
  };
}

TEST(BlockCache, EvictsLeastRecentlyUsedByBytes) {
  const BlockPtr a = make_block(std::string(1000, 'a'));
  const BlockPtr b = make_block(std::string(1000, 'b'));
  const BlockPtr c = make_block(std::string(1000, 'c'));
  const BlockPtr d = make_block(std::string(1000, 'd'));
  const uint64_t charge = BlockCache::charge_of(*a, "f");
  ASSERT_GT(charge, a->size());
  BlockCache cache(3 * charge, /*shard_bits=*/0);
  std::atomic<int> calls{0};
  ASSERT_EQ(*cache.get_or_load("f", 0, returning(a, &calls)), a);
  ASSERT_EQ(*cache.get_or_load("f", 1, returning(b, &calls)), b);
  ASSERT_EQ(*cache.get_or_load("f", 2, returning(c, &calls)), c);
  EXPECT_EQ(cache.stats().bytes_used, 3 * charge);
  EXPECT_EQ(cache.stats().evictions, 0u);
  // Touch a: b becomes the least recently used, and d pushes it out.
  ASSERT_EQ(*cache.get_or_load("f", 0, returning(nullptr, &calls)), a);
  ASSERT_EQ(*cache.get_or_load("f", 3, returning(d, &calls)), d);
  EXPECT_EQ(calls.load(), 4);
  EXPECT_EQ(cache.lookup("f", 1), nullptr);
  EXPECT_EQ(cache.lookup("f", 0), a);
  EXPECT_EQ(cache.lookup("f", 2), c);
  EXPECT_EQ(cache.lookup("f", 3), d);
  const CacheStats s = cache.stats();
  EXPECT_EQ(s.evictions, 1u);
  EXPECT_EQ(s.entries, 3u);
  EXPECT_EQ(s.bytes_used, 3 * charge);
  EXPECT_LE(s.bytes_used, s.capacity_bytes);
  EXPECT_EQ(s.inserts, 4u);
  EXPECT_EQ(s.loads, 4u);
  EXPECT_EQ(s.hits, 4u);    // the touch of a and three lookups
  EXPECT_EQ(s.misses, 5u);  // four loads and the lookup of b

  // A bigger block evicts as many as it needs.
  const BlockPtr big = make_block(std::string(2500, 'x'));
  ASSERT_LE(BlockCache::charge_of(*big, "f"), 3 * charge);
  ASSERT_EQ(*cache.get_or_load("f", 4, returning(big, &calls)), big);
  EXPECT_EQ(cache.stats().entries, 1u);
  EXPECT_EQ(cache.lookup("f", 4), big);
  EXPECT_LE(cache.stats().bytes_used, 3 * charge);
}

TEST(BlockCache, BlockLargerThanTheCapacityIsReturnedButNotKept) {
  const BlockPtr big = make_block(std::string(5000, 'x'));
  BlockCache cache(1000, 0);
  std::atomic<int> calls{0};
  for (int i = 0; i < 2; i++) ASSERT_EQ(*cache.get_or_load("f", 0, returning(big, &calls)), big);
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(cache.stats().rejected, 2u);
  EXPECT_EQ(cache.stats().entries, 0u);
  EXPECT_EQ(cache.stats().bytes_used, 0u);
}

TEST(BlockCache, CapacityZeroAlwaysLoads) {
  BlockCache cache(0);
  const BlockPtr a = make_block("v");
  std::atomic<int> calls{0};
  for (int i = 0; i < 3; i++) ASSERT_EQ(*cache.get_or_load("f", 0, returning(a, &calls)), a);
  EXPECT_EQ(calls.load(), 3);
  EXPECT_EQ(cache.stats().entries, 0u);
  EXPECT_EQ(cache.stats().hits, 0u);
}

TEST(BlockCache, KeysAreFileIdAndOffset) {
  BlockCache cache(1 << 20, 0);
  std::atomic<int> calls{0};
  const BlockPtr x = make_block("x"), y = make_block("y"), z = make_block("z");
  ASSERT_EQ(*cache.get_or_load("a", 1, returning(x, &calls)), x);
  ASSERT_EQ(*cache.get_or_load("a", 2, returning(y, &calls)), y);
  ASSERT_EQ(*cache.get_or_load("b", 1, returning(z, &calls)), z);
  // An id that ends with bytes looking like an offset is still distinct.
  ASSERT_EQ(*cache.get_or_load(std::string("a\x01", 2), 0, returning(z, &calls)), z);
  EXPECT_EQ(calls.load(), 4);
  EXPECT_EQ(cache.lookup("a", 1), x);
  EXPECT_EQ(cache.lookup("a", 2), y);
  EXPECT_EQ(cache.lookup("b", 1), z);
}

TEST(BlockCache, ConcurrentMissesLoadOnce) {
  BlockCache cache(1 << 20);
  const BlockPtr block = make_block("shared");
  constexpr int kThreads = 8;
  std::atomic<int> calls{0};
  std::latch release(1);
  std::vector<BlockPtr> got(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; i++) {
    threads.emplace_back([&, i] {
      auto r = cache.get_or_load("f", 42, [&]() -> Result<BlockPtr> {
        calls.fetch_add(1);
        release.wait();  // hold the load until every other caller waits on it
        return block;
      });
      got[i] = r.ok() ? *r : nullptr;
    });
  }
  const bool all_waiting = wait_until(
      [&] { return calls.load() == 1 && cache.stats().coalesced_waits == kThreads - 1; });
  release.count_down();
  for (auto& t : threads) t.join();
  ASSERT_TRUE(all_waiting);
  EXPECT_EQ(calls.load(), 1);
  for (const BlockPtr& g : got) EXPECT_EQ(g, block);
  const CacheStats s = cache.stats();
  EXPECT_EQ(s.loads, 1u);
  EXPECT_EQ(s.misses, uint64_t{kThreads});
  EXPECT_EQ(s.coalesced_waits, uint64_t{kThreads - 1});
  EXPECT_EQ(s.inserts, 1u);
  EXPECT_EQ(cache.lookup("f", 42), block);
}

TEST(BlockCache, ErrorsAreSharedWithWaitersButNotCached) {
  BlockCache cache(1 << 20);
  constexpr int kThreads = 4;
  std::atomic<int> calls{0};
  std::latch release(1);
  std::vector<Status> got(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; i++) {
    threads.emplace_back([&, i] {
      auto r = cache.get_or_load("f", 7, [&]() -> Result<BlockPtr> {
        calls.fetch_add(1);
        release.wait();
        return Status::Transient("store hiccup");
      });
      got[i] = r.status();
    });
  }
  const bool all_waiting = wait_until(
      [&] { return calls.load() == 1 && cache.stats().coalesced_waits == kThreads - 1; });
  release.count_down();
  for (auto& t : threads) t.join();
  ASSERT_TRUE(all_waiting);
  for (const Status& s : got) EXPECT_EQ(s.code(), Code::kTransient) << s.to_string();
  EXPECT_EQ(cache.stats().load_errors, 1u);
  EXPECT_EQ(cache.stats().entries, 0u);

  // The next miss loads again, and succeeds.
  const BlockPtr block = make_block("ok");
  auto r = cache.get_or_load("f", 7, returning(block, &calls));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, block);
  EXPECT_EQ(calls.load(), 2);

  // A loader that "succeeds" with no block is an error, not a cached null.
  auto n = cache.get_or_load("f", 8, [] { return Result<BlockPtr>(BlockPtr()); });
  EXPECT_TRUE(n.status().is_invalid_argument());
  EXPECT_EQ(cache.lookup("f", 8), nullptr);
}

TEST(BlockCache, StressManyThreadsTinyBudget) {
  // Several shards, a budget of a few blocks, keys that collide a lot.
  BlockCache cache(16 * 1024, 2);
  constexpr int kThreads = 6;
  constexpr int kOps = 4000;
  std::atomic<int> wrong{0};
  std::atomic<uint64_t> calls{0};
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      Random rnd(1000 + t);
      start.arrive_and_wait();
      for (int i = 0; i < kOps; i++) {
        const uint64_t off = rnd.uniform(64);
        const std::string file = "sst-" + std::to_string(rnd.uniform(3));
        const std::string want = file + "@" + std::to_string(off) + std::string(off * 20, '.');
        auto r = cache.get_or_load(file, off, [&]() -> Result<BlockPtr> {
          calls.fetch_add(1);
          if (off % 17 == 5 && rnd.chance(0.5)) return Status::Transient("flaky");
          return make_block(want);
        });
        if (r.ok() ? block_value(*r) != want : r.status().code() != Code::kTransient) wrong++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  const CacheStats s = cache.stats();
  EXPECT_LE(s.bytes_used, s.capacity_bytes);
  EXPECT_EQ(s.hits + s.misses, uint64_t{kThreads} * kOps);
  EXPECT_EQ(s.loads, calls.load());
  EXPECT_EQ(s.loads + s.coalesced_waits, s.misses);
  EXPECT_GT(s.evictions, 0u);
}

TEST(BlockCache, ServesSstReaderAsItsHook) {
  const auto model = sst_testing::numbered_entries(2000, "user/", 10,
                                                   [](int i) { return "v" + std::to_string(i); });
  auto bytes = sst_testing::build_sst(model, {});
  ASSERT_TRUE(bytes.ok());
  auto cache = std::make_shared<BlockCache>(8 << 20);
  auto src = std::make_shared<MemorySource>(*bytes);
  SstReaderOptions o;
  o.block_cache = cache;
  o.cache_id = "000042";
  auto r = SstReader::open(src, o);
  ASSERT_TRUE(r.ok());
  const uint64_t after_open = src->reads();

  // Many threads read the same key at once: one source read in total.
  constexpr int kThreads = 6;
  std::latch start(kThreads);
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      for (int i = 0; i < 50; i++) {
        auto g = (*r)->get("user/001000");
        if (!g.ok() || !g->has_value() || (*g)->value != "v1000") bad++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(src->reads(), after_open + 1);
  EXPECT_EQ(cache->stats().loads, 1u);
  EXPECT_EQ(cache->stats().hits + cache->stats().misses, uint64_t{kThreads} * 50);
}

}  // namespace
}  // namespace isle
