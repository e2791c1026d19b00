// BlockCacheHook: the seam through which SstReader uses a block cache
// without the format component depending on the cache component.
//
// SstReader calls get_or_load() for every data block when its options name
// both a hook and a cache id (SstReaderOptions::block_cache / cache_id).
// The cache key is (file_id, offset): the SST's unique id and the data
// block's offset in it. SSTs are immutable and an id never names different
// bytes, so a cached block never goes stale.
//
// Implemented by cache/BlockCache; tests may use a small fake.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "format/block_reader.h"
#include "isle/status.h"

namespace isle {

class BlockCacheHook {  // implemented by cache/BlockCache
 public:
  virtual ~BlockCacheHook() = default;

  // Returns the cached block for (file_id, offset) or calls load() once,
  // caches and returns its result. Concurrent misses for the same key are
  // coalesced: one caller loads, the others wait and share the result
  // (errors are not cached). load() is called on the caller's thread and
  // must not call back into the same hook for the same key.
  // Thread-safe.
  virtual Result<BlockPtr> get_or_load(std::string_view file_id, uint64_t offset,
                                       const std::function<Result<BlockPtr>()>& load) = 0;
};

}  // namespace isle
