// Prefix-compressed block layout; see block_builder.h.
#include "format/block_builder.h"

#include <algorithm>
#include <cassert>

#include "util/coding.h"

namespace isle {

BlockBuilder::BlockBuilder(int restart_interval)
    : restart_interval_(std::max(1, restart_interval)) {
  restarts_.push_back(0);
}

void BlockBuilder::reset() {
  buffer_.clear();
  restarts_.assign(1, 0);
  last_key_.clear();
  entries_ = 0;
  since_restart_ = 0;
  finished_ = false;
}

void BlockBuilder::add(std::string_view key, std::string_view value) {
  assert(!finished_);
  size_t shared = 0;
  if (since_restart_ >= restart_interval_) {
    restarts_.push_back(static_cast<uint32_t>(buffer_.size()));
    since_restart_ = 0;
  } else if (entries_ > 0) {
    const size_t limit = std::min(last_key_.size(), key.size());
    while (shared < limit && last_key_[shared] == key[shared]) shared++;
  }
  put_varint32(&buffer_, static_cast<uint32_t>(shared));
  put_varint32(&buffer_, static_cast<uint32_t>(key.size() - shared));
  put_varint32(&buffer_, static_cast<uint32_t>(value.size()));
  buffer_.append(key.data() + shared, key.size() - shared);
  buffer_.append(value.data(), value.size());
  last_key_.assign(key.data(), key.size());
  entries_++;
  since_restart_++;
}

std::string_view BlockBuilder::finish() {
  if (!finished_) {
    for (uint32_t r : restarts_) put_fixed32(&buffer_, r);
    put_fixed32(&buffer_, static_cast<uint32_t>(restarts_.size()));
    finished_ = true;
  }
  return buffer_;
}

}  // namespace isle
