// Memtable: the writer's in-memory sorted buffer of recent writes, flushed
// to an SST once it is large enough (approximate_memory_usage is the flush
// trigger).
//
// It is a skiplist of internal keys (format/internal_key.h: user key asc,
// sequence desc) whose nodes, keys and values all live in an Arena.
//
// Concurrency contract:
//   * Exactly ONE thread calls add() at a time (the writer). The caller
//     provides that exclusion; add() does not lock.
//   * Any number of threads may concurrently call get(), use Iterators and
//     read the counters, without locks and while add() runs. A node is fully
//     built before it is linked in with a release store, and readers follow
//     links with acquire loads, so a reader sees either nothing of an entry
//     or all of it. Nodes are never changed or removed after they are
//     linked, so an entry a reader has seen stays visible.
//   * Everything a Memtable hands out (string_views of keys and values)
//     points into its arena and is valid until the Memtable is destroyed.
//     Keep the Memtable alive (e.g. via shared_ptr) while reading.
//
// Duplicate entries: two adds with the same (user_key, sequence) are a
// caller bug. add() detects them and returns InvalidArgument without
// changing the memtable (the check is free: the insert position is found
// anyway and same-key same-sequence entries are adjacent).
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string_view>

#include "format/internal_key.h"
#include "isle/status.h"
#include "lsm/arena.h"
#include "util/random.h"

namespace isle {

// One version of a key as found by Memtable::get.
struct MemtableEntry {
  uint64_t sequence = 0;
  ValueKind kind = ValueKind::kPut;  // kDelete = tombstone; the caller decides
  std::string_view value;            // payload, expiry prefix removed
  uint64_t expires_at_ms = 0;        // unix ms; 0 = never expires
};

class Memtable {
 public:
  class Iterator;

  explicit Memtable(size_t arena_block_size = Arena::kDefaultBlockSize);
  ~Memtable();
  Memtable(const Memtable&) = delete;
  Memtable& operator=(const Memtable&) = delete;

  // Inserts one entry. `expires_at_ms` of 0 means no expiry; otherwise the
  // entry carries the expiry flag and the stored value is
  // encode_entry_value(value, true, expires_at_ms). Returns InvalidArgument
  // for seq > kMaxSequence, an unknown kind, a key or value longer than
  // 4 GiB - 1 (internal key incl. trailer / stored value), or a duplicate
  // (user_key, seq); the memtable is unchanged then. Writer thread only.
  Status add(uint64_t seq, ValueKind kind, std::string_view user_key, std::string_view value,
             uint64_t expires_at_ms = 0);

  // The newest entry of `user_key` whose sequence is <= snapshot_seq, or
  // nullopt when there is none. Tombstones are returned (kind kDelete) and
  // expired entries too: the caller applies deletes and TTL.
  std::optional<MemtableEntry> get(std::string_view user_key,
                                   uint64_t snapshot_seq = kMaxSequence) const;

  // Bytes of arena memory held: the number to compare with the flush size.
  size_t approximate_memory_usage() const { return arena_.memory_usage(); }

  uint64_t entry_count() const { return entry_count_.load(std::memory_order_relaxed); }
  bool empty() const { return entry_count() == 0; }
  // Smallest / largest sequence added; both 0 while empty.
  uint64_t min_seq() const;
  uint64_t max_seq() const { return max_seq_.load(std::memory_order_relaxed); }
  // Sum of user key lengths / payload lengths (expiry prefix excluded) added.
  uint64_t raw_key_bytes() const { return raw_key_bytes_.load(std::memory_order_relaxed); }
  uint64_t raw_value_bytes() const { return raw_value_bytes_.load(std::memory_order_relaxed); }

 private:
  struct Node;
  static constexpr int kMaxHeight = 12;

  int random_height();
  // A node of `height` levels holding `ikey` and the stored form of
  // `payload` (expiry prefix when has_expiry), links all null.
  Node* new_node(int height, std::string_view ikey, std::string_view payload, bool has_expiry,
                 uint64_t expires_at_ms);
  // First node whose key >= ikey (nullptr at the end). When `prev` is not
  // null, fills prev[0..max_height) with the last node < ikey per level.
  Node* find_greater_or_equal(std::string_view ikey, Node** prev) const;
  // Last node whose key < ikey, or head_ when there is none.
  Node* find_less_than(std::string_view ikey) const;
  // Last node of the list, or head_ when empty.
  Node* find_last() const;
  int max_height() const { return max_height_.load(std::memory_order_relaxed); }

  Arena arena_;
  Node* head_;
  std::atomic<int> max_height_{1};
  Random rnd_;  // writer only: node heights

  std::atomic<uint64_t> entry_count_{0};
  std::atomic<uint64_t> min_seq_{UINT64_MAX};
  std::atomic<uint64_t> max_seq_{0};
  std::atomic<uint64_t> raw_key_bytes_{0};
  std::atomic<uint64_t> raw_value_bytes_{0};
};

// Walks a memtable in internal-key order (user key asc, sequence desc): all
// versions and tombstones, nothing filtered. Safe to use while the writer
// adds; entries added after the iterator passed a position may or may not
// be seen. The accessors require valid().
class Memtable::Iterator {
 public:
  // `mem` must outlive the iterator. Starts invalid: call a seek first.
  explicit Iterator(const Memtable* mem) : mem_(mem) {}

  bool valid() const { return node_ != nullptr; }
  void seek_to_first();
  void seek_to_last();
  // First entry >= `internal_key`. A key shorter than the 8-byte trailer is
  // treated as a user key (same as seek_to_user_key(internal_key)).
  void seek(std::string_view internal_key);
  // First entry of `user_key` with sequence <= snapshot_seq, or the first
  // entry of a later user key.
  void seek_to_user_key(std::string_view user_key, uint64_t snapshot_seq = kMaxSequence);
  void next();
  // Moves to the previous entry (O(log n)); invalid before the first.
  void prev();

  std::string_view key() const { return key_; }  // internal key
  std::string_view user_key() const { return extract_user_key(key_); }
  uint64_t sequence() const { return parsed_.sequence; }
  ValueKind kind() const { return parsed_.kind; }
  bool has_expiry() const { return parsed_.has_expiry; }
  uint64_t expires_at_ms() const { return expires_at_ms_; }
  // The payload (expiry prefix removed).
  std::string_view value() const { return value_; }
  // The value exactly as stored (expiry prefix + payload): what an SST
  // builder writes next to key().
  std::string_view stored_value() const { return stored_value_; }

 private:
  void load();  // decodes node_ into the cached fields

  const Memtable* mem_;
  const Node* node_ = nullptr;
  std::string_view key_;
  std::string_view stored_value_;
  std::string_view value_;
  ParsedInternalKey parsed_;
  uint64_t expires_at_ms_ = 0;
};

}  // namespace isle
