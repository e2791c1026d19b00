// ReadAheadSource: a RandomAccessSource for one sequential scan of a
// large SST over a slow store (compaction inputs). Instead of one ranged
// GET per data block it reads `chunk` bytes at a time and, as soon as a
// chunk is in use, fetches the next one in the background, so the next
// GET overlaps the work on this one (and the reads of other inputs, each
// with its own source).
//
// Invariants: at most two chunks are held (the one being read and the one
// being fetched), so memory per source is bounded by 2 * chunk, whatever
// the SST's size. Reads outside the current chunk that are not the next
// one (seeks) are served directly by the inner source, and so are reads
// larger than a chunk. read_tail() goes straight to the inner source.
// One scan thread at a time; the background fetch is internal.
#pragma once

#include <future>
#include <memory>
#include <mutex>

#include "format/sst_source.h"

namespace isle {

class ReadAheadSource : public RandomAccessSource {
 public:
  // `size` is the SST's size (from the manifest); `chunk` > 0.
  ReadAheadSource(std::shared_ptr<RandomAccessSource> inner, uint64_t size, uint64_t chunk);
  ~ReadAheadSource() override;  // waits for a fetch in flight

  Result<std::string> read(uint64_t offset, uint64_t len) override;
  Result<TailRead> read_tail(uint64_t n) override { return inner_->read_tail(n); }
  std::string name() const override { return inner_->name(); }

  // Chunks fetched in the background and used / read synchronously.
  uint64_t prefetched() const { return prefetched_; }
  uint64_t direct_reads() const { return direct_; }

 private:
  struct Chunk {
    uint64_t offset = 0;
    std::string bytes;
  };
  // Starts fetching the chunk after `cur_` if there is one.
  void prefetch_next();
  Result<Chunk> fetch(uint64_t offset) const;

  const std::shared_ptr<RandomAccessSource> inner_;
  const uint64_t size_;
  const uint64_t chunk_;
  std::mutex mu_;
  Chunk cur_;
  bool have_cur_ = false;
  uint64_t next_offset_ = 0;  // offset of the fetch in flight
  std::future<Result<Chunk>> next_;
  uint64_t prefetched_ = 0, direct_ = 0;
};

}  // namespace isle
