// DiskCachedSource; see disk_cached_source.h for the keys and payloads.
#include "cache/disk_cached_source.h"

#include <algorithm>

#include "util/coding.h"

namespace isle {

DiskCachedSource::DiskCachedSource(std::shared_ptr<RandomAccessSource> inner,
                                   std::shared_ptr<DiskCache> cache, std::string sst_id)
    : inner_(std::move(inner)), cache_(std::move(cache)), prefix_("sst/" + sst_id + "/") {}

std::string DiskCachedSource::read_key(uint64_t offset, uint64_t len) const {
  return prefix_ + std::to_string(offset) + "-" + std::to_string(len);
}

std::string DiskCachedSource::tail_key(uint64_t n) const {
  return prefix_ + "tail-" + std::to_string(n);
}

Result<std::string> DiskCachedSource::read(uint64_t offset, uint64_t len) {
  if (len == 0) return inner_->read(offset, len);
  const std::string key = read_key(offset, len);
  if (std::optional<std::string> hit = cache_->get(key)) {
    if (hit->size() == len) return std::move(*hit);
    cache_->erase(key);  // not what this key must hold
  }
  ISLE_ASSIGN_OR_RETURN(std::string bytes, inner_->read(offset, len));
  if (bytes.size() == len) cache_->put(key, bytes);
  return bytes;
}

Result<TailRead> DiskCachedSource::read_tail(uint64_t n) {
  const std::string key = tail_key(n);
  if (std::optional<std::string> hit = cache_->get(key)) {
    if (hit->size() >= 8) {
      const uint64_t total = decode_fixed64(hit->data());
      if (hit->size() - 8 == std::min(n, total)) {
        hit->erase(0, 8);
        return TailRead{std::move(*hit), total};
      }
    }
    cache_->erase(key);
  }
  ISLE_ASSIGN_OR_RETURN(TailRead tail, inner_->read_tail(n));
  if (tail.bytes.size() == std::min(n, tail.total_size)) {
    std::string payload;
    payload.reserve(8 + tail.bytes.size());
    put_fixed64(&payload, tail.total_size);
    payload.append(tail.bytes);
    cache_->put(key, payload);
  }
  return tail;
}

}  // namespace isle
