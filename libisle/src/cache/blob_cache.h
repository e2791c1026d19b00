// BlobCache: whole blob values by sha256, in memory and optionally in a
// DiskCache as a second tier (DESIGN §7).
//
// get_or_load(sha256_hex, load, size):
//   1. memory tier hit: the shared value, no copy;
//   2. else the disk tier (key "blob/<sha256_hex>"): the bytes are
//      returned only if their sha256 equals the key and, when `size` is
//      given, their length equals it; otherwise the disk entry is erased,
//      counted in stats().corruptions, and ignored;
//   3. else load(). The caller's load must verify the sha256 of what it
//      fetched (the reader does, unless ReaderOptions::verify_blobs_on_read
//      is off); its value is stored in both tiers.
// With `size` given, the value returned always has exactly that many
// bytes: a memory-tier hit or a loaded value of another length is
// Corruption (and a loaded one is not stored). The size check does not
// depend on verify_sha256.
// Options (BlobCacheOptions): a blob larger than max_item_bytes is returned
// but not kept in the memory tier (it still goes to the disk tier, which
// has its own budget); verify_sha256 = false skips the sha256 check of
// disk-tier hits (then only the DiskCache's own xxh3 guards them).
// Concurrent misses for one blob are coalesced across both tiers: one
// caller reads the disk / loads, the others wait and share the result.
// Errors are not cached. The memory tier is a byte-budgeted sharded LRU
// (charge = value size + key + kEntryOverhead); capacity 0 keeps nothing
// in memory (the disk tier, if any, is still used).
//
// Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cache/cache_stats.h"
#include "cache/disk_cache.h"
#include "cache/sharded_lru.h"

namespace isle {

struct BlobCacheOptions {
  uint64_t max_item_bytes = 0;  // 0 = no limit of its own
  bool verify_sha256 = true;    // check disk-tier hits against their key
};

class BlobCache {
 public:
  using BlobPtr = std::shared_ptr<const std::string>;
  static constexpr uint64_t kEntryOverhead = 96;

  // disk may be null (memory only). shard_bits as for BlockCache.
  explicit BlobCache(uint64_t capacity_bytes, std::shared_ptr<DiskCache> disk = nullptr,
                     int shard_bits = -1, BlobCacheOptions options = {});

  // InvalidArgument unless sha256_hex is 64 lower-case hex characters; a
  // load that succeeds with a null pointer is InvalidArgument too. `size`:
  // the blob's length from its reference, checked as above (nullopt: no
  // size check).
  Result<BlobPtr> get_or_load(std::string_view sha256_hex,
                              const std::function<Result<BlobPtr>()>& load,
                              std::optional<uint64_t> size = std::nullopt);

  // Memory-tier counters (hits, misses, coalesced_waits, inserts,
  // evictions, bytes...), with loads = calls of the caller's load(),
  // tier2_hits = memory misses served by the disk tier and corruptions =
  // disk entries whose sha256 did not match. The disk tier's own counters
  // are in disk()->stats().
  CacheStats stats() const;
  const std::shared_ptr<DiskCache>& disk() const { return disk_; }

  // The DiskCache key of a blob: "blob/<sha256_hex>".
  static std::string disk_key(std::string_view sha256_hex);

 private:
  static uint64_t charge(std::string_view key, const BlobPtr& value);

  const BlobCacheOptions options_;
  cache_internal::ShardedLru<BlobPtr> lru_;
  std::shared_ptr<DiskCache> disk_;
  std::atomic<uint64_t> loads_{0};
  std::atomic<uint64_t> tier2_hits_{0};
  std::atomic<uint64_t> corruptions_{0};
};

}  // namespace isle
