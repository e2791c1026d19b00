// BlockBuilder: lays out sorted key/value entries as one block's contents
// (before compression and trailer), with prefix-compressed keys.
//
//   entry    = varint32 shared || varint32 unshared || varint32 value_len
//              || key[shared..] (unshared bytes) || value
//   block    = entry* || fixed32 restart[n] || fixed32 n      (n >= 1)
//
// Every `restart_interval` entries the key is stored whole (shared = 0) and
// its offset recorded in the restart array, so a reader can binary-search
// the restarts and then scan at most restart_interval entries. The first
// entry is always a restart; an empty block is just `fixed32 0 || fixed32 1`.
//
// The builder does not compare keys: the caller adds them in the order it
// wants them read back (the SST builder checks internal-key order).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace isle {

class BlockBuilder {
 public:
  // restart_interval must be >= 1.
  explicit BlockBuilder(int restart_interval);

  void add(std::string_view key, std::string_view value);

  // Appends the restart array and returns the finished contents, valid
  // until the next reset(). add() must not be called after finish().
  std::string_view finish();

  // Back to empty (keeps the allocated buffer).
  void reset();

  bool empty() const { return entries_ == 0; }
  size_t entries() const { return entries_; }
  // Size finish() would return now.
  size_t size_estimate() const {
    return buffer_.size() + (restarts_.size() + 1) * sizeof(uint32_t);
  }
  std::string_view last_key() const { return last_key_; }

 private:
  const int restart_interval_;
  std::string buffer_;
  std::vector<uint32_t> restarts_;
  std::string last_key_;
  size_t entries_ = 0;
  int since_restart_ = 0;
  bool finished_ = false;
};

}  // namespace isle
