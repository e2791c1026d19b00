// Block and BlockIter: read the entry layout written by BlockBuilder
// (see block_builder.h for the bytes).
//
// Block::parse validates the restart array once (count fits, offsets start
// at 0, strictly increase and stay inside the entry area). BlockIter then
// validates every entry it decodes (varints, shared prefix <= previous key,
// lengths inside the entry area, minimum key size), so a corrupt block can
// only make it stop with a Corruption status, never read out of bounds.
//
// Blocks are immutable and shared (std::shared_ptr<const Block>): an
// iterator keeps its block alive, and a block cache can hand the same
// block to many readers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "isle/status.h"

namespace isle {

// <0, 0, >0 like memcmp.
using KeyComparator = int (*)(std::string_view a, std::string_view b);

// Plain bytewise order (for blocks keyed by names, e.g. properties).
int compare_bytewise(std::string_view a, std::string_view b);

class Block {
 public:
  // Takes ownership of the contents. `what` names the block in errors,
  // e.g. "data block @4096".
  static Result<std::shared_ptr<const Block>> parse(std::string contents, std::string what);

  size_t size() const { return contents_.size(); }
  uint32_t num_restarts() const { return num_restarts_; }
  const std::string& what() const { return what_; }

 private:
  friend class BlockIter;
  Block(std::string contents, std::string what) : contents_(std::move(contents)), what_(std::move(what)) {}
  uint32_t restart_point(uint32_t i) const;

  std::string contents_;
  std::string what_;
  size_t restarts_offset_ = 0;  // end of the entry area
  uint32_t num_restarts_ = 0;
};

using BlockPtr = std::shared_ptr<const Block>;

// Forward iterator over one block. Not thread-safe; cheap to create.
// A default-constructed iterator is invalid with an OK status.
class BlockIter {
 public:
  BlockIter() = default;
  // Keys shorter than min_key_size are reported as corruption (8 for
  // internal keys, so comparators may rely on the trailer being there).
  BlockIter(BlockPtr block, KeyComparator cmp, size_t min_key_size = 0);

  bool valid() const { return valid_; }
  // OK unless a corrupt entry was met; then valid() is false.
  const Status& status() const { return status_; }
  std::string_view key() const { return key_; }
  std::string_view value() const { return value_; }

  void seek_to_first();
  // Positions at the first entry whose key is >= target (invalid if none).
  void seek(std::string_view target);
  // seek(target) when the caller already knows the answer lies between
  // restart points `first` and `last` + 1: every key before restart
  // `first` is < target, and the key at restart `last` + 1 (if any) is
  // >= target. The binary search then probes only [first, last]
  // (clamped to the block). With a wrong hint the position is undefined
  // (but still a position in this block, never out of bounds).
  void seek_in_restarts(std::string_view target, uint32_t first, uint32_t last);
  void next();
  // True when the current entry is the one restart point `i` starts.
  bool at_restart(uint32_t i) const;

 private:
  // Decodes the entry at `offset` on top of key_ (which must hold the
  // previous key, or be empty at a restart point).
  bool decode_at(size_t offset);
  bool seek_to_restart(uint32_t index);
  // The key of restart entry `index`, viewed in the block (no copy), with
  // the entry's header validated as decode_at does; false and a
  // Corruption status when it is malformed. Does not move the iterator.
  bool restart_key(uint32_t index, std::string_view* key);
  void corrupt(const std::string& what);

  BlockPtr block_;
  KeyComparator cmp_ = nullptr;
  size_t min_key_size_ = 0;
  size_t offset_ = 0;       // where the current entry starts
  size_t next_offset_ = 0;  // where the entry after the current one starts
  std::string key_;
  std::string_view value_;
  bool valid_ = false;
  Status status_;
};

}  // namespace isle
