// DigestingSource; see digesting_source.h.
#include "maint/digesting_source.h"

#include <algorithm>

namespace isle {

DigestingSource::DigestingSource(std::shared_ptr<RandomAccessSource> inner, std::string id,
                                 uint64_t size, std::string sha256_hex, uint64_t piece)
    : inner_(std::move(inner)),
      id_(std::move(id)),
      size_(size),
      want_(std::move(sha256_hex)),
      piece_(std::max<uint64_t>(piece, 1)) {}

void DigestingSource::feed_locked(uint64_t offset, const std::string& bytes) {
  const uint64_t end = offset + bytes.size();
  if (offset > hashed_ || end <= hashed_ || hashed_ >= size_) return;
  const uint64_t from = hashed_ - offset;
  const uint64_t take = std::min<uint64_t>(end, size_) - hashed_;
  sha_.update(std::string_view(bytes).substr(from, take));
  hashed_ += take;
}

Result<std::string> DigestingSource::read(uint64_t offset, uint64_t len) {
  ISLE_ASSIGN_OR_RETURN(std::string bytes, inner_->read(offset, len));
  std::lock_guard lk(mu_);
  feed_locked(offset, bytes);
  return bytes;
}

Result<TailRead> DigestingSource::read_tail(uint64_t n) {
  ISLE_ASSIGN_OR_RETURN(TailRead t, inner_->read_tail(n));
  std::lock_guard lk(mu_);
  actual_size_ = t.total_size;
  have_actual_size_ = true;
  if (t.bytes.size() == t.total_size) feed_locked(0, t.bytes);
  return t;
}

Status DigestingSource::finish() {
  const Status mismatch =
      Status::Corruption("sst " + id_ + ": sha256 or size does not match the manifest");
  bool need_size;
  {
    std::lock_guard lk(mu_);
    need_size = !have_actual_size_;
  }
  if (need_size) {
    // Learns the real size (a longer object whose first `size_` bytes match
    // would otherwise pass).
    ISLE_RETURN_IF_ERROR(read_tail(1).status());
  }
  for (;;) {
    uint64_t at;
    {
      std::lock_guard lk(mu_);
      if (actual_size_ != size_) return mismatch;
      at = hashed_;
    }
    if (at >= size_) break;
    const uint64_t len = std::min(piece_, size_ - at);
    ISLE_ASSIGN_OR_RETURN(std::string bytes, inner_->read(at, len));
    if (bytes.size() != len) return mismatch;  // never loop on a short read
    std::lock_guard lk(mu_);
    remainder_ += bytes.size();
    feed_locked(at, bytes);
  }
  std::lock_guard lk(mu_);
  if (sha_.hex() != want_) return mismatch;
  return Status::OK();
}

}  // namespace isle
