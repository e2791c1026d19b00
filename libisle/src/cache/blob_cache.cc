// BlobCache: memory tier over ShardedLru, disk tier over DiskCache; see
// blob_cache.h.
#include "cache/blob_cache.h"

#include <algorithm>

#include "util/hash.h"

namespace isle {

namespace {
bool is_sha256_hex(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

Status wrong_size(std::string_view sha256, uint64_t got, uint64_t want) {
  return Status::Corruption("blob " + std::string(sha256) + ": " + std::to_string(got) +
                            " bytes, its reference says " + std::to_string(want));
}
}  // namespace

namespace {
// The charge of the largest blob the memory tier keeps (keys are 64 hex).
uint64_t max_charge(const BlobCacheOptions& o) {
  return o.max_item_bytes == 0 ? UINT64_MAX : o.max_item_bytes + 64 + BlobCache::kEntryOverhead;
}
}  // namespace

BlobCache::BlobCache(uint64_t capacity_bytes, std::shared_ptr<DiskCache> disk, int shard_bits,
                     BlobCacheOptions options)
    : options_(options),
      lru_(capacity_bytes, shard_bits, &BlobCache::charge, max_charge(options)),
      disk_(std::move(disk)) {}

uint64_t BlobCache::charge(std::string_view key, const BlobPtr& value) {
  return (value ? value->size() : 0) + key.size() + kEntryOverhead;
}

std::string BlobCache::disk_key(std::string_view sha256_hex) {
  return "blob/" + std::string(sha256_hex);
}

Result<BlobCache::BlobPtr> BlobCache::get_or_load(std::string_view sha256,
                                                  const std::function<Result<BlobPtr>()>& load,
                                                  std::optional<uint64_t> size) {
  if (!is_sha256_hex(sha256)) {
    return Status::InvalidArgument("blob cache: not a lower-case sha256 hex: " +
                                   std::string(sha256.substr(0, 80)));
  }
  // Runs once per coalesced miss of the memory tier.
  auto fill = [&]() -> Result<BlobPtr> {
    const std::string dkey = disk_ ? disk_key(sha256) : std::string();
    if (disk_) {
      if (std::optional<std::string> bytes = disk_->get(dkey)) {
        const bool size_ok = !size || bytes->size() == *size;
        if (size_ok && (!options_.verify_sha256 || sha256_hex(*bytes) == sha256)) {
          tier2_hits_.fetch_add(1);
          return BlobPtr(std::make_shared<const std::string>(std::move(*bytes)));
        }
        corruptions_.fetch_add(1);
        disk_->erase(dkey);
      }
    }
    loads_.fetch_add(1);
    ISLE_ASSIGN_OR_RETURN(BlobPtr value, load());
    if (value == nullptr) return Status::InvalidArgument("blob loader returned no value");
    if (size && value->size() != *size) return wrong_size(sha256, value->size(), *size);
    if (disk_) disk_->put(dkey, *value);
    return value;
  };
  ISLE_ASSIGN_OR_RETURN(BlobPtr value, lru_.get_or_load(sha256, fill));
  // A memory-tier hit kept for a reference of another size.
  if (size && value->size() != *size) return wrong_size(sha256, value->size(), *size);
  return value;
}

CacheStats BlobCache::stats() const {
  CacheStats s = lru_.stats();
  s.loads = loads_.load();
  s.tier2_hits = tier2_hits_.load();
  s.corruptions = corruptions_.load();
  return s;
}

}  // namespace isle
