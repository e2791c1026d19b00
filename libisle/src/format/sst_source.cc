// MemorySource and ObjectStoreSource; see sst_source.h.
#include "format/sst_source.h"

#include <algorithm>

namespace isle {

namespace {
Status past_end(const std::string& name, uint64_t offset, uint64_t len, uint64_t size) {
  return Status::Corruption(name + ": read of " + std::to_string(len) + " bytes at " +
                            std::to_string(offset) + " is past the end (" +
                            std::to_string(size) + " bytes)");
}
}  // namespace

Result<std::string> MemorySource::read(uint64_t offset, uint64_t len) {
  reads_.fetch_add(1);
  const uint64_t size = data_->size();
  if (offset > size || len > size - offset) return past_end(name_, offset, len, size);
  return data_->substr(offset, len);
}

Result<TailRead> MemorySource::read_tail(uint64_t n) {
  reads_.fetch_add(1);
  const uint64_t size = data_->size();
  const uint64_t take = std::min(n, size);
  return TailRead{data_->substr(size - take), size};
}

Result<std::string> ObjectStoreSource::read(uint64_t offset, uint64_t len) {
  if (len == 0) return std::string();
  requests_.fetch_add(1);
  GetOptions opts;
  opts.range = ByteRange::at(offset, len);
  auto r = store_->get(key_, opts);
  if (!r.ok()) return r.status().with_context("sst " + key_);
  bytes_.fetch_add(r->data.size());
  if (r->data.size() != len || r->offset != offset) {
    return past_end(key_, offset, len, r->meta.size);
  }
  return std::move(r->data);
}

Result<TailRead> ObjectStoreSource::read_tail(uint64_t n) {
  requests_.fetch_add(1);
  GetOptions opts;
  opts.range = ByteRange::last(n);
  auto r = store_->get(key_, opts);
  if (!r.ok()) return r.status().with_context("sst " + key_);
  bytes_.fetch_add(r->data.size());
  const uint64_t size = r->meta.size;
  if (r->data.size() != std::min(n, size)) {
    return Status::Corruption(key_ + ": tail read returned " + std::to_string(r->data.size()) +
                              " bytes of " + std::to_string(size));
  }
  return TailRead{std::move(r->data), size};
}

}  // namespace isle
