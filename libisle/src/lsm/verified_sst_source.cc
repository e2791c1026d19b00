// VerifiedSstSource: the verifying stream and the digest-checked granule
// reads (see verified_sst_source.h).
#include "lsm/verified_sst_source.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "lsm/sst_verify.h"
#include "util/hash.h"

namespace isle {

VerifiedSstSource::VerifiedSstSource(ObjectStorePtr store, std::string key, const SstMeta& meta,
                                     std::shared_ptr<DiskCache> disk,
                                     const VerifiedSstOptions& options)
    : store_(std::move(store)),
      key_(std::move(key)),
      id_(meta.id),
      size_(meta.size),
      sha256_(meta.sha256),
      disk_(std::move(disk)),
      options_(options) {}

Result<std::shared_ptr<VerifiedSstSource>> VerifiedSstSource::open(
    ObjectStorePtr store, std::string key, const SstMeta& meta, std::shared_ptr<DiskCache> disk,
    const VerifiedSstOptions& options) {
  if (options.granule == 0 || options.fetch_chunk == 0) {
    return Status::InvalidArgument("verified sst source: granule and fetch_chunk must be > 0");
  }
  std::shared_ptr<VerifiedSstSource> s(
      new VerifiedSstSource(std::move(store), std::move(key), meta, std::move(disk), options));
  SstBytesVerifier whole(meta);
  // Granules written to the disk cache by this stream; erased again unless
  // the whole object verifies.
  std::vector<uint64_t> written;
  const bool fill = s->disk_ && meta.size <= s->disk_->budget() / 2;
  std::optional<Sha256> part(std::in_place);  // the granule being hashed
  uint64_t part_bytes = 0;  // bytes in it so far
  std::string part_copy;    // its bytes, when they go to the disk cache
  uint64_t index = 0;
  auto end_granule = [&] {
    s->digests_.append(part->digest());
    if (fill) {
      s->disk_->put(s->granule_key(index), part_copy);
      written.push_back(index);
      part_copy.clear();
    }
    part.emplace();
    part_bytes = 0;
    index++;
  };
  auto fail = [&](Status st) {
    for (uint64_t i : written) s->disk_->erase(s->granule_key(i));
    return st;
  };

  s->digests_.reserve(32 * ((meta.size + options.granule - 1) / options.granule));
  uint64_t offset = 0;
  while (offset < meta.size) {
    auto r = s->store_->get(s->key_, GetOptions::ranged(ByteRange::at(offset, options.fetch_chunk)));
    if (!r.ok()) {
      // A shorter object than the manifest says ends the stream early.
      if (r.status().code() == Code::kInvalidArgument) break;
      return fail(r.status());
    }
    if (r->offset != offset || r->meta.size != meta.size || r->data.empty()) {
      return fail(Status::Corruption("sst " + meta.id +
                                     ": sha256 or size does not match the manifest"));
    }
    std::string_view bytes = r->data;
    whole.update(bytes);
    offset += bytes.size();
    while (!bytes.empty()) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(bytes.size(), options.granule - part_bytes));
      part->update(bytes.substr(0, n));
      if (fill) part_copy.append(bytes.substr(0, n));
      part_bytes += n;
      bytes.remove_prefix(n);
      if (part_bytes == options.granule) end_granule();
    }
  }
  if (part_bytes > 0) end_granule();
  if (Status st = whole.finish(); !st.ok()) return fail(std::move(st));
  return s;
}

std::string VerifiedSstSource::granule_key(uint64_t index) const {
  return "sst/" + id_ + "/g" + std::to_string(options_.granule) + "-" + std::to_string(index);
}

Result<std::string> VerifiedSstSource::granule(uint64_t index) {
  const uint64_t off = index * options_.granule;
  const uint64_t len = std::min(options_.granule, size_ - off);
  const std::string_view want(digests_.data() + 32 * index, 32);
  const std::string key = disk_ ? granule_key(index) : std::string();
  if (disk_) {
    if (std::optional<std::string> hit = disk_->get(key)) {
      if (hit->size() == len && sha256_raw(*hit) == want) return std::move(*hit);
      disk_->erase(key);  // not the verified bytes: never served
    }
  }
  granule_gets_.fetch_add(1);
  ISLE_ASSIGN_OR_RETURN(GetResult r, store_->get(key_, GetOptions::ranged(ByteRange::at(off, len))));
  if (r.data.size() != len || sha256_raw(r.data) != want) {
    return Status::Corruption("sst " + id_ + ": bytes at " + std::to_string(off) +
                              " differ from the verified object (changed in the bucket?)");
  }
  if (disk_) disk_->put(key, r.data);
  return std::move(r.data);
}

Result<std::string> VerifiedSstSource::read(uint64_t offset, uint64_t len) {
  if (offset > size_ || len > size_ - offset) {
    return Status::Corruption(key_ + ": read [" + std::to_string(offset) + ", +" +
                              std::to_string(len) + ") past the end (" + std::to_string(size_) +
                              " bytes)");
  }
  std::string out;
  if (len == 0) return out;
  out.reserve(len);
  const uint64_t g = options_.granule;
  for (uint64_t i = offset / g; i * g < offset + len; i++) {
    ISLE_ASSIGN_OR_RETURN(std::string bytes, granule(i));
    const uint64_t from = std::max(offset, i * g) - i * g;
    const uint64_t to = std::min(offset + len, i * g + bytes.size()) - i * g;
    out.append(bytes, from, to - from);
  }
  return out;
}

Result<TailRead> VerifiedSstSource::read_tail(uint64_t n) {
  const uint64_t len = std::min(n, size_);
  ISLE_ASSIGN_OR_RETURN(std::string bytes, read(size_ - len, len));
  return TailRead{std::move(bytes), size_};
}

}  // namespace isle
