// DigestingSource; see digesting_source.h.
#include "maint/digesting_source.h"

#include <algorithm>
#include <cstring>

namespace isle {

DigestingSource::DigestingSource(std::shared_ptr<RandomAccessSource> inner, std::string id,
                                 uint64_t size, std::string sha256_hex, uint64_t piece,
                                 uint64_t granule)
    : inner_(std::move(inner)),
      id_(std::move(id)),
      size_(size),
      want_(std::move(sha256_hex)),
      granule_(std::max<uint64_t>(granule, 1)),
      piece_(std::max<uint64_t>((piece + granule_ - 1) / granule_, 1) * granule_) {}

Status DigestingSource::mismatch() const {
  return Status::Corruption("sst " + id_ + ": sha256 or size does not match the manifest");
}

uint64_t DigestingSource::remainder_read() const {
  std::lock_guard lk(mu_);
  return remainder_;
}

uint64_t DigestingSource::bytes_fetched() const {
  std::lock_guard lk(mu_);
  return fetched_;
}

Status DigestingSource::check_locked(uint64_t first, std::string_view bytes) {
  if (!failed_.ok()) return failed_;
  const uint64_t n = (bytes.size() + granule_ - 1) / granule_;
  if (seen_.size() < first + n) {
    seen_.resize(first + n, false);
    digests_.resize(first + n);
  }
  for (uint64_t i = 0; i < n; i++) {
    const uint64_t g = first + i;
    const std::string d = sha256_raw(bytes.substr(i * granule_, granule_));
    if (!seen_[g]) {
      std::memcpy(digests_[g].data(), d.data(), digests_[g].size());
      seen_[g] = true;
    } else if (std::memcmp(digests_[g].data(), d.data(), digests_[g].size()) != 0) {
      const uint64_t from = g * granule_;
      failed_ = Status::Corruption(
          "sst " + id_ + ": bytes " + std::to_string(from) + ".." +
          std::to_string(std::min(from + granule_, size_)) +
          " differ between two reads of the object (it changed, or the store is not serving it "
          "faithfully)");
      return failed_;
    }
  }
  // Continue the in-order pass with the granules this fetch holds.
  while (fed_ >= first && fed_ < first + n) {
    sha_.update(bytes.substr((fed_ - first) * granule_, granule_));
    fed_++;
  }
  return Status::OK();
}

Status DigestingSource::accept_locked(uint64_t first, std::string_view bytes) {
  fetched_ += bytes.size();
  ISLE_RETURN_IF_ERROR(check_locked(first, bytes));
  if (!bytes.empty()) {
    const uint64_t last = (bytes.size() - 1) / granule_;
    cached_index_ = first + last;
    cached_.assign(bytes.substr(last * granule_));
  }
  return Status::OK();
}

Result<std::string> DigestingSource::covering(uint64_t offset, uint64_t len,
                                              uint64_t* span_offset) {
  const uint64_t g0 = offset / granule_;
  const uint64_t gend = (offset + len + granule_ - 1) / granule_;  // exclusive
  const uint64_t span_end = std::min(gend * granule_, size_);
  *span_offset = g0 * granule_;
  std::string out;
  uint64_t from = *span_offset;
  {
    std::lock_guard lk(mu_);
    if (!failed_.ok()) return failed_;
    if (!cached_.empty() && cached_index_ == g0) {
      // Checked when it was fetched.
      out = cached_;
      from += cached_.size();
      if (from >= span_end) return out;
    }
  }
  ISLE_ASSIGN_OR_RETURN(std::string bytes, inner_->read(from, span_end - from));
  if (bytes.size() != span_end - from) return mismatch();
  std::lock_guard lk(mu_);
  ISLE_RETURN_IF_ERROR(accept_locked(from / granule_, bytes));
  if (out.empty()) return bytes;
  out += bytes;
  return out;
}

Result<std::string> DigestingSource::read(uint64_t offset, uint64_t len) {
  if (len == 0) return std::string();
  if (offset > size_ || len > size_ - offset) {
    return Status::Corruption("sst " + id_ + ": read of " + std::to_string(len) + " bytes at " +
                              std::to_string(offset) + " is past the manifest's size " +
                              std::to_string(size_));
  }
  uint64_t span_offset = 0;
  ISLE_ASSIGN_OR_RETURN(std::string span, covering(offset, len, &span_offset));
  if (offset == span_offset && len == span.size()) return span;
  return span.substr(offset - span_offset, len);
}

Result<TailRead> DigestingSource::read_tail(uint64_t n) {
  const uint64_t want = std::min(n, size_);
  const uint64_t span_offset = (size_ - want) / granule_ * granule_;
  // At least one byte, so that the store reports the object's size.
  ISLE_ASSIGN_OR_RETURN(TailRead t,
                        inner_->read_tail(std::max<uint64_t>(size_ - span_offset, 1)));
  std::lock_guard lk(mu_);
  size_checked_ = true;
  if (t.total_size != size_) return mismatch();
  if (t.bytes.size() != size_ - span_offset) return mismatch();
  ISLE_RETURN_IF_ERROR(accept_locked(span_offset / granule_, t.bytes));
  if (want != t.bytes.size()) t.bytes.erase(0, t.bytes.size() - want);
  return t;
}

Status DigestingSource::finish() {
  bool need_size;
  {
    std::lock_guard lk(mu_);
    if (!failed_.ok()) return failed_;
    need_size = !size_checked_;
  }
  // Learns the real size (a longer object whose first `size_` bytes match
  // would otherwise pass).
  if (need_size) ISLE_RETURN_IF_ERROR(read_tail(1).status());
  for (;;) {
    uint64_t at;
    {
      std::lock_guard lk(mu_);
      at = fed_ * granule_;
    }
    if (at >= size_) break;
    const uint64_t len = std::min(piece_, size_ - at);
    ISLE_ASSIGN_OR_RETURN(std::string bytes, inner_->read(at, len));
    if (bytes.size() != len) return mismatch();  // never loop on a short read
    std::lock_guard lk(mu_);
    remainder_ += bytes.size();
    fetched_ += bytes.size();
    ISLE_RETURN_IF_ERROR(check_locked(at / granule_, bytes));
  }
  std::lock_guard lk(mu_);
  if (fed_ != granule_count() || sha_.hex() != want_) return mismatch();
  return Status::OK();
}

}  // namespace isle
