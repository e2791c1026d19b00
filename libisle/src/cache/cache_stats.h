// CacheStats: one plain counter snapshot shared by the three read caches
// (BlockCache, DiskCache, BlobCache), so callers can log and export them
// the same way. A field a cache does not use stays 0.
//
// Counters only grow (since the cache was created or opened); bytes_used,
// entries and capacity_bytes are the current state. A snapshot is taken
// shard by shard, so under concurrent use its fields may be a few
// operations apart from each other.
#pragma once

#include <cstdint>

namespace isle {

struct CacheStats {
  uint64_t hits = 0;             // lookups answered from the cache
  uint64_t misses = 0;           // lookups not answered from the cache (includes coalesced waits)
  uint64_t loads = 0;            // calls of the caller's load function (in-memory caches)
  uint64_t load_errors = 0;      // loads that returned an error (never cached)
  uint64_t coalesced_waits = 0;  // misses that waited for another caller's load instead of loading
  uint64_t inserts = 0;          // entries stored
  uint64_t rejected = 0;         // values not stored: larger than the capacity (or a shard's share of it), or an unusable key
  uint64_t evictions = 0;        // entries dropped to stay within the capacity
  uint64_t corruptions = 0;      // entries that failed verification: deleted, reported as misses
  uint64_t io_errors = 0;        // DiskCache: file system calls that failed (the cache carries on)
  uint64_t tier2_hits = 0;       // BlobCache: memory misses served by its DiskCache tier
  uint64_t bytes_used = 0;       // charge of the entries held now
  uint64_t entries = 0;          // entries held now
  uint64_t capacity_bytes = 0;   // the byte budget
};

}  // namespace isle
