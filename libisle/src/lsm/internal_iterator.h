// InternalIterator: the one interface every read-path source is walked
// through (memtables, SSTs, sorted runs, merges of those), so the merging
// and user-facing iterators need not know where an entry lives.
//
// Invariants every implementation keeps:
//   * Entries come in compare_internal_keys order (format/internal_key.h:
//     user key ascending, then sequence descending), all versions and
//     tombstones included; nothing is filtered.
//   * key() is an internal key (user key + 8-byte trailer, at least 8
//     bytes); value() is the value exactly as stored, i.e. with the expiry
//     prefix when the key's expiry flag is set.
//   * A non-OK status() implies valid() == false. A new seek (seek_to_first
//     or seek) retries after an error and resets the status.
//   * key() / value() require valid() and stay valid until the iterator is
//     moved or destroyed.
//   * Not thread-safe: one thread at a time uses an iterator.
#pragma once

#include <memory>
#include <string_view>

#include "isle/status.h"

namespace isle {

class Memtable;
class SstReader;

class InternalIterator {
 public:
  virtual ~InternalIterator() = default;

  virtual bool valid() const = 0;
  virtual void seek_to_first() = 0;
  // Positions at the first entry whose internal key is >= `internal_key`.
  // The target must be an internal key (>= 8 bytes; seek_key() builds
  // one); a shorter target is InvalidArgument.
  virtual void seek(std::string_view internal_key) = 0;
  // Requires valid().
  virtual void next() = 0;
  virtual std::string_view key() const = 0;    // internal key
  virtual std::string_view value() const = 0;  // stored value (expiry prefix included)
  virtual Status status() const = 0;           // non-OK => valid() is false
};

// Walks a memtable; the iterator holds `mem` alive. Safe while the writer
// adds (see Memtable::Iterator): entries added behind the position may or
// may not be seen. Starts invalid: call a seek first.
std::unique_ptr<InternalIterator> new_memtable_iterator(std::shared_ptr<const Memtable> mem);

// Walks one SST; the iterator holds `sst` alive. Read errors and corrupt
// entries surface as status(). Starts invalid: call a seek first.
std::unique_ptr<InternalIterator> new_sst_iterator(std::shared_ptr<const SstReader> sst);

// An iterator with no entries whose status() is always `s` (use a non-OK
// status to report a source that could not be opened).
std::unique_ptr<InternalIterator> new_empty_iterator(Status s = Status::OK());

}  // namespace isle
