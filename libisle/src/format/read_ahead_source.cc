// ReadAheadSource; see read_ahead_source.h.
#include "format/read_ahead_source.h"

#include <algorithm>

namespace isle {

ReadAheadSource::ReadAheadSource(std::shared_ptr<RandomAccessSource> inner, uint64_t size,
                                 uint64_t chunk)
    : inner_(std::move(inner)), size_(size), chunk_(std::max<uint64_t>(chunk, 1)) {}

ReadAheadSource::~ReadAheadSource() {
  if (next_.valid()) next_.wait();
}

Result<ReadAheadSource::Chunk> ReadAheadSource::fetch(uint64_t offset) const {
  const uint64_t len = std::min(chunk_, size_ - offset);
  ISLE_ASSIGN_OR_RETURN(std::string bytes, inner_->read(offset, len));
  return Chunk{offset, std::move(bytes)};
}

void ReadAheadSource::prefetch_next() {
  const uint64_t off = cur_.offset + cur_.bytes.size();
  if (off >= size_ || next_.valid()) return;
  next_offset_ = off;
  next_ = std::async(std::launch::async, [this, off] { return fetch(off); });
}

Result<std::string> ReadAheadSource::read(uint64_t offset, uint64_t len) {
  if (len == 0) return std::string();
  std::lock_guard lk(mu_);
  if (len > chunk_ || offset >= size_ || len > size_ - offset) {
    direct_++;
    return inner_->read(offset, len);
  }
  // Assemble from the current chunk and, for a block that straddles the
  // chunk edge, the next one.
  std::string out;
  uint64_t off = offset, need = len;
  for (;;) {
    const uint64_t cur_end = cur_.offset + cur_.bytes.size();
    if (have_cur_ && off >= cur_.offset && off < cur_end) {
      const uint64_t take = std::min(need, cur_end - off);
      if (take == len) {
        out = cur_.bytes.substr(off - cur_.offset, take);
      } else {
        out.append(cur_.bytes, off - cur_.offset, take);
      }
      off += take;
      need -= take;
      if (need == 0) break;
    }
    // The chunk holding `off`: the one being fetched, or a new read.
    if (next_.valid() && next_offset_ == off) {
      Result<Chunk> r = next_.get();
      if (!r.ok()) return r.status();
      cur_ = std::move(*r);
      prefetched_++;
    } else {
      if (next_.valid()) next_.wait();  // never two fetches in flight
      next_ = {};
      ISLE_ASSIGN_OR_RETURN(cur_, fetch(off));
      direct_++;
    }
    have_cur_ = true;
    if (cur_.bytes.empty()) return inner_->read(offset, len);  // cannot happen: off < size_
    prefetch_next();
  }
  prefetch_next();
  return out;
}

}  // namespace isle
