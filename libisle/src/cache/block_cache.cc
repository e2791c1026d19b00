// BlockCache over ShardedLru; see block_cache.h.
#include "cache/block_cache.h"

#include <cstring>

namespace isle {

BlockCache::BlockCache(uint64_t capacity_bytes, int shard_bits)
    : lru_(capacity_bytes, shard_bits, &BlockCache::charge) {}

BlockCache::Key::Key(std::string_view file_id, uint64_t offset) {
  const size_t n = file_id.size() + 8;
  char* p = small_;
  if (n > sizeof(small_)) {
    heap_.resize(n);
    p = heap_.data();
  }
  if (!file_id.empty()) std::memcpy(p, file_id.data(), file_id.size());
  for (int i = 0; i < 8; i++) p[file_id.size() + i] = static_cast<char>((offset >> (8 * i)) & 0xff);
  view_ = std::string_view(p, n);
}

uint64_t BlockCache::charge_of(const Block& block, std::string_view file_id) {
  return block.size() + block.what().size() + file_id.size() + 8 + kEntryOverhead;
}

uint64_t BlockCache::charge(std::string_view key, const BlockPtr& block) {
  // key = file_id + 8 offset bytes.
  if (block == nullptr) return key.size() + kEntryOverhead;
  return block->size() + block->what().size() + key.size() + kEntryOverhead;
}

Result<BlockPtr> BlockCache::get_or_load(std::string_view file_id, uint64_t offset,
                                         const std::function<Result<BlockPtr>()>& load) {
  // A loader that succeeds with no block is a bug in the loader; keep the
  // null out of the cache.
  return lru_.get_or_load(Key(file_id, offset).view(), [&load]() -> Result<BlockPtr> {
    auto r = load();
    if (r.ok() && *r == nullptr) return Status::InvalidArgument("block loader returned no block");
    return r;
  });
}

BlockPtr BlockCache::lookup(std::string_view file_id, uint64_t offset) {
  auto v = lru_.lookup(Key(file_id, offset).view());
  return v ? std::move(*v) : nullptr;
}

void BlockCache::insert(std::string_view file_id, uint64_t offset, BlockPtr block) {
  if (block == nullptr) return;
  lru_.insert(Key(file_id, offset).view(), std::move(block));
}

}  // namespace isle
