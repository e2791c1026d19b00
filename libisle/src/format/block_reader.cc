// Validating block parser and iterator; see block_reader.h.
#include "format/block_reader.h"

#include <algorithm>

#include "util/coding.h"

namespace isle {

int compare_bytewise(std::string_view a, std::string_view b) { return a.compare(b); }

Result<BlockPtr> Block::parse(std::string contents, std::string what) {
  const uint64_t size = contents.size();
  if (size < 2 * sizeof(uint32_t)) {
    return Status::Corruption(what + ": " + std::to_string(size) +
                              " bytes is too short for a restart array");
  }
  const uint64_t n = decode_fixed32(contents.data() + size - 4);
  if (n == 0 || n > (size - 4) / 4) {
    return Status::Corruption(what + ": restart count " + std::to_string(n) +
                              " does not fit in " + std::to_string(size) + " bytes");
  }
  const uint64_t restarts_offset = size - 4 - 4 * n;
  uint64_t prev = 0;
  for (uint64_t i = 0; i < n; i++) {
    const uint64_t r = decode_fixed32(contents.data() + restarts_offset + 4 * i);
    const bool ok = i == 0 ? r == 0 : (r > prev && r < restarts_offset);
    if (!ok) {
      return Status::Corruption(what + ": restart " + std::to_string(i) + " has bad offset " +
                                std::to_string(r));
    }
    prev = r;
  }
  // An empty entry area is only valid as the empty block (one restart at 0).
  if (restarts_offset == 0 && n != 1) {
    return Status::Corruption(what + ": restarts without entries");
  }
  auto* block = new Block(std::move(contents), std::move(what));
  block->restarts_offset_ = static_cast<size_t>(restarts_offset);
  block->num_restarts_ = static_cast<uint32_t>(n);
  return BlockPtr(block);
}

uint32_t Block::restart_point(uint32_t i) const {
  return decode_fixed32(contents_.data() + restarts_offset_ + 4 * size_t{i});
}

BlockIter::BlockIter(BlockPtr block, KeyComparator cmp, size_t min_key_size)
    : block_(std::move(block)), cmp_(cmp), min_key_size_(min_key_size) {}

namespace {

// Reads an entry's three varint lengths (shared key bytes, unshared key
// bytes, value bytes) from the front of *in; false if they are truncated
// or malformed.
inline bool get_entry_header(std::string_view* in, uint32_t* shared, uint32_t* unshared,
                             uint32_t* value_len) {
  return get_varint32(in, shared) && get_varint32(in, unshared) && get_varint32(in, value_len);
}

}  // namespace

void BlockIter::corrupt(const std::string& what) {
  valid_ = false;
  if (status_.ok()) {
    status_ = Status::Corruption(block_->what() + ": " + what);
  }
}

bool BlockIter::decode_at(size_t offset) {
  const size_t limit = block_->restarts_offset_;
  if (offset >= limit) {
    valid_ = false;
    next_offset_ = limit;
    return false;
  }
  std::string_view in(block_->contents_.data() + offset, limit - offset);
  uint32_t shared = 0, unshared = 0, value_len = 0;
  if (!get_entry_header(&in, &shared, &unshared, &value_len)) {
    corrupt("bad entry header at offset " + std::to_string(offset));
    return false;
  }
  if (shared > key_.size()) {
    corrupt("entry at offset " + std::to_string(offset) + " shares " + std::to_string(shared) +
            " bytes of a " + std::to_string(key_.size()) + "-byte previous key");
    return false;
  }
  if (uint64_t{unshared} + value_len > in.size()) {
    corrupt("entry at offset " + std::to_string(offset) + " runs past the entry area");
    return false;
  }
  if (uint64_t{shared} + unshared < min_key_size_) {
    corrupt("key at offset " + std::to_string(offset) + " is shorter than " +
            std::to_string(min_key_size_) + " bytes");
    return false;
  }
  key_.resize(shared);
  key_.append(in.data(), unshared);
  value_ = in.substr(unshared, value_len);
  offset_ = offset;
  next_offset_ = static_cast<size_t>((in.data() + unshared + value_len) - block_->contents_.data());
  valid_ = true;
  return true;
}

bool BlockIter::restart_key(uint32_t index, std::string_view* key) {
  // The same checks decode_at makes, without copying the key: a restart
  // entry shares nothing with its predecessor, so its key lies whole in
  // the block.
  const size_t limit = block_->restarts_offset_;
  const size_t offset = block_->restart_point(index);
  if (offset >= limit) {
    corrupt("restart " + std::to_string(index) + " has no entry");
    return false;
  }
  std::string_view in(block_->contents_.data() + offset, limit - offset);
  uint32_t shared = 0, unshared = 0, value_len = 0;
  if (!get_entry_header(&in, &shared, &unshared, &value_len)) {
    corrupt("bad entry header at offset " + std::to_string(offset));
    return false;
  }
  if (shared != 0) {
    corrupt("entry at offset " + std::to_string(offset) + " shares " + std::to_string(shared) +
            " bytes of a 0-byte previous key");
    return false;
  }
  if (uint64_t{unshared} + value_len > in.size()) {
    corrupt("entry at offset " + std::to_string(offset) + " runs past the entry area");
    return false;
  }
  if (unshared < min_key_size_) {
    corrupt("key at offset " + std::to_string(offset) + " is shorter than " +
            std::to_string(min_key_size_) + " bytes");
    return false;
  }
  *key = in.substr(0, unshared);
  return true;
}

bool BlockIter::seek_to_restart(uint32_t index) {
  key_.clear();
  return decode_at(block_->restart_point(index));
}

bool BlockIter::at_restart(uint32_t i) const {
  return valid_ && i < block_->num_restarts_ && offset_ == block_->restart_point(i);
}

void BlockIter::seek_to_first() {
  valid_ = false;
  if (!block_ || !status_.ok()) return;
  seek_to_restart(0);
}

void BlockIter::next() {
  if (!valid_) return;
  decode_at(next_offset_);
}

void BlockIter::seek(std::string_view target) { seek_in_restarts(target, 0, UINT32_MAX); }

void BlockIter::seek_in_restarts(std::string_view target, uint32_t first, uint32_t last) {
  valid_ = false;
  if (!block_ || !status_.ok()) return;
  // Binary search for the last restart whose key is < target; the answer
  // is then at or after it, before the next restart's key.
  // The probes compare restart keys in place (restart_key), copying
  // nothing; only the final walk decodes entries into key_.
  const uint32_t max_restart = block_->num_restarts_ - 1;
  uint32_t right = std::min(last, max_restart);
  uint32_t left = std::min(first, right);
  while (left < right) {
    const uint32_t mid = left + (right - left + 1) / 2;
    std::string_view mid_key;
    if (!restart_key(mid, &mid_key)) return;
    if (cmp_(mid_key, target) < 0) {
      left = mid;
    } else {
      right = mid - 1;
    }
  }
  if (!seek_to_restart(left)) return;
  while (valid_ && cmp_(key_, target) < 0) next();
}

}  // namespace isle
