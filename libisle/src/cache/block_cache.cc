// BlockCache over ShardedLru; see block_cache.h.
#include "cache/block_cache.h"

#include "util/coding.h"

namespace isle {

BlockCache::BlockCache(uint64_t capacity_bytes, int shard_bits)
    : lru_(capacity_bytes, shard_bits, &BlockCache::charge) {}

std::string BlockCache::make_key(std::string_view file_id, uint64_t offset) {
  std::string key;
  key.reserve(file_id.size() + 8);
  key.append(file_id);
  put_fixed64(&key, offset);
  return key;
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
  return lru_.get_or_load(make_key(file_id, offset), [&load]() -> Result<BlockPtr> {
    auto r = load();
    if (r.ok() && *r == nullptr) return Status::InvalidArgument("block loader returned no block");
    return r;
  });
}

BlockPtr BlockCache::lookup(std::string_view file_id, uint64_t offset) {
  auto v = lru_.lookup(make_key(file_id, offset));
  return v ? std::move(*v) : nullptr;
}

void BlockCache::insert(std::string_view file_id, uint64_t offset, BlockPtr block) {
  if (block == nullptr) return;
  lru_.insert(make_key(file_id, offset), std::move(block));
}

}  // namespace isle
