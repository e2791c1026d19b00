// DiskCachedSource: a RandomAccessSource that serves the reads of one SST
// from a DiskCache, falling back to (and filling from) an inner source.
//
// Keys in the DiskCache:
//   read(offset, len)  "sst/<sst_id>/<offset>-<len>"  payload: the bytes
//   read_tail(n)       "sst/<sst_id>/tail-<n>"        payload: fixed64
//                      total_size (little-endian) then the tail bytes
// Only exact repeats hit (the same offset and length, the same tail size);
// SstReader's reads repeat exactly (one tail read at open, one read per
// data block). Safe because SSTs are immutable: an sst_id never names
// different bytes. A cached entry whose shape is wrong (a length that does
// not match the request) is erased and treated as a miss; the DiskCache
// itself verifies checksums. Errors of the inner source are returned and
// never cached. No coalescing here: put a BlockCache above the reader to
// share concurrent misses.
//
// Thread-safe when the inner source is.
#pragma once

#include <memory>
#include <string>

#include "cache/disk_cache.h"
#include "format/sst_source.h"

namespace isle {

class DiskCachedSource : public RandomAccessSource {
 public:
  DiskCachedSource(std::shared_ptr<RandomAccessSource> inner, std::shared_ptr<DiskCache> cache,
                   std::string sst_id);

  Result<std::string> read(uint64_t offset, uint64_t len) override;
  Result<TailRead> read_tail(uint64_t n) override;
  std::optional<std::string_view> whole() const override { return inner_->whole(); }
  std::string name() const override { return inner_->name(); }

  // The DiskCache keys used for a read and a tail read of this SST.
  std::string read_key(uint64_t offset, uint64_t len) const;
  std::string tail_key(uint64_t n) const;

 private:
  std::shared_ptr<RandomAccessSource> inner_;
  std::shared_ptr<DiskCache> cache_;
  std::string prefix_;  // "sst/<sst_id>/"
};

}  // namespace isle
