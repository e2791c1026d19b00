// Arena block management; see arena.h.
#include "lsm/arena.h"

#include <cassert>
#include <cstdint>

namespace isle {

namespace {
size_t padding_for(const char* p, size_t align) {
  size_t mis = reinterpret_cast<uintptr_t>(p) & (align - 1);
  return mis == 0 ? 0 : align - mis;
}
}  // namespace

Arena::Arena(size_t block_size) : block_size_(block_size < 256 ? 256 : block_size) {}

char* Arena::allocate(size_t bytes) { return allocate_aligned(bytes, 1); }

char* Arena::allocate_aligned(size_t bytes, size_t align) {
  assert(bytes > 0);
  assert(align > 0 && (align & (align - 1)) == 0);
  size_t pad = ptr_ == nullptr ? 0 : padding_for(ptr_, align);
  if (ptr_ != nullptr && bytes + pad <= remaining_) {
    char* result = ptr_ + pad;
    ptr_ += bytes + pad;
    remaining_ -= bytes + pad;
    return result;
  }
  return allocate_fallback(bytes, align);
}

char* Arena::allocate_fallback(size_t bytes, size_t align) {
  // Worst-case padding needed when a fresh block's start is not aligned
  // enough (operator new[] only guarantees the default new alignment).
  size_t slack = align > __STDCPP_DEFAULT_NEW_ALIGNMENT__ ? align - 1 : 0;
  if (bytes + slack > block_size_ / 4) {
    // Large request: its own block; the current block keeps serving the
    // small ones.
    char* block = new_block(bytes + slack);
    return block + padding_for(block, align);
  }
  // Small request: abandon the rest of the current block (at most a
  // quarter of a block is wasted) and start a new one.
  char* block = new_block(block_size_);
  size_t pad = padding_for(block, align);
  assert(pad + bytes <= block_size_);
  ptr_ = block + pad + bytes;
  remaining_ = block_size_ - pad - bytes;
  return block + pad;
}

char* Arena::new_block(size_t bytes) {
  blocks_.push_back(std::make_unique_for_overwrite<char[]>(bytes));
  memory_usage_.fetch_add(bytes + sizeof(std::unique_ptr<char[]>), std::memory_order_relaxed);
  return blocks_.back().get();
}

}  // namespace isle
