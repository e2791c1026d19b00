// BlockCache: the in-memory cache of parsed SST data blocks, shared by all
// SstReaders of a process (plugged in through SstReaderOptions::block_cache
// and cache_id; see format/block_cache_hook.h).
//
// A sharded LRU with a byte budget (cache/sharded_lru.h): each block is
// charged Block::size() + its name + kEntryOverhead, and the charges held
// never exceed the capacity. Keys are (file_id, offset); SSTs are
// immutable, so entries never go stale and are only evicted, never
// invalidated. Blocks handed out stay valid after eviction (shared
// ownership) but are then no longer charged to the cache.
//
// Concurrent misses for one block are coalesced (one load, shared result,
// errors not cached). Capacity 0 disables caching: every lookup loads, but
// concurrent misses for one block still share one load.
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "cache/cache_stats.h"
#include "cache/sharded_lru.h"
#include "format/block_cache_hook.h"

namespace isle {

class BlockCache : public BlockCacheHook {
 public:
  // Bookkeeping charged per entry on top of the block's bytes (list node,
  // index slot, Block object, shared_ptr control block).
  static constexpr uint64_t kEntryOverhead = 128;

  // shard_bits < 0 picks a shard count from the capacity (up to 16 shards
  // of at least 1 MiB each); 0 gives one exact LRU (tests).
  explicit BlockCache(uint64_t capacity_bytes, int shard_bits = -1);

  Result<BlockPtr> get_or_load(std::string_view file_id, uint64_t offset,
                               const std::function<Result<BlockPtr>()>& load) override;

  // The cached block or nullptr, without loading (counts a hit or miss).
  BlockPtr lookup(std::string_view file_id, uint64_t offset);
  // Stores a block (replacing any older one for the key).
  void insert(std::string_view file_id, uint64_t offset, BlockPtr block);

  // The charge of one cached block.
  static uint64_t charge_of(const Block& block, std::string_view file_id);

  CacheStats stats() const { return lru_.stats(); }
  uint64_t capacity() const { return lru_.capacity(); }

 private:
  // The cache key: file_id followed by the offset as 8 little-endian bytes
  // (unambiguous for any file_id bytes), built on the stack when it fits
  // (every lookup builds one; most ids are short), else on the heap.
  class Key {
   public:
    Key(std::string_view file_id, uint64_t offset);
    Key(const Key&) = delete;
    Key& operator=(const Key&) = delete;
    std::string_view view() const { return view_; }

   private:
    char small_[120];
    std::string heap_;
    std::string_view view_;
  };
  static uint64_t charge(std::string_view key, const BlockPtr& block);

  cache_internal::ShardedLru<BlockPtr> lru_;
};

}  // namespace isle
