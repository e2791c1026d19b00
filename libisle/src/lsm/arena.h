// Arena: a bump allocator that hands out memory in large blocks and frees
// it all at once when the arena is destroyed. The memtable keeps its nodes,
// keys and values here, so a memtable's footprint is one number
// (memory_usage) and dropping a flushed memtable is a handful of frees.
//
// Invariants:
//   * Memory returned by allocate*/ stays valid and never moves until the
//     arena is destroyed; nothing is freed individually.
//   * Requests larger than a quarter of the block size get a block of their
//     own, so a big value never wastes the tail of the current block.
//   * Allocation is NOT thread-safe (one writer). memory_usage() may be read
//     from any thread at any time.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <vector>

namespace isle {

class Arena {
 public:
  static constexpr size_t kDefaultBlockSize = 64 * 1024;

  // `block_size` must be at least 256 bytes (smaller values are raised).
  explicit Arena(size_t block_size = kDefaultBlockSize);
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // `bytes` bytes with no particular alignment. `bytes` must be > 0.
  char* allocate(size_t bytes);

  // `bytes` bytes aligned to `align`, which must be a power of two.
  char* allocate_aligned(size_t bytes, size_t align = alignof(std::max_align_t));

  // Bytes of all blocks obtained from the system plus their bookkeeping.
  // Grows in block-sized steps (or by a large request's size).
  size_t memory_usage() const { return memory_usage_.load(std::memory_order_relaxed); }

  size_t block_size() const { return block_size_; }

 private:
  // Serves a request that does not fit the current block.
  char* allocate_fallback(size_t bytes, size_t align);
  // A fresh block of exactly `bytes` bytes, accounted in memory_usage_.
  char* new_block(size_t bytes);

  const size_t block_size_;
  char* ptr_ = nullptr;   // next free byte of the current block
  size_t remaining_ = 0;  // free bytes left in the current block
  std::vector<std::unique_ptr<char[]>> blocks_;
  std::atomic<size_t> memory_usage_{0};
};

}  // namespace isle
