// DbIterator: the user-facing view of the database at one snapshot, over a
// merged InternalIterator (memtables + SSTs + runs, see merging_iterator.h).
//
// What it shows, for each user key in ascending bytewise order:
//   * only the newest version whose sequence is <= snapshot_seq;
//   * nothing when that version is a tombstone or has expired
//     (expires_at_ms <= now_ms) — older versions never resurface;
//   * only keys within [lower_bound, upper_bound).
// A kBlobRef version's value is resolved through resolve_blob.
//
// Errors: a child error, a malformed internal key, a malformed expiry
// prefix (Corruption) or a blob that cannot be resolved makes valid()
// false and status() non-OK; nothing crashes on bad bytes. A new seek
// retries.
//
// key() and value() require valid() and stay valid until the next call
// that moves the iterator. Not thread-safe; the merged iterator (and what
// it keeps alive) lives as long as the DbIterator.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "format/internal_key.h"
#include "isle/status.h"
#include "lsm/internal_iterator.h"

namespace isle {

struct DbIteratorOptions {
  // Entries with a larger sequence are invisible.
  uint64_t snapshot_seq = kMaxSequence;
  // Current time, unix ms: an entry with an expiry <= now_ms is absent
  // (expired). Callers must always pass the real time (Clock); the default
  // 0 would treat every entry that has an expiry as expired.
  uint64_t now_ms = 0;
  std::optional<std::string> lower_bound;  // inclusive user key
  std::optional<std::string> upper_bound;  // exclusive user key
  // Resolves a kBlobRef payload into the value bytes (the reader fetches
  // the blob). Its error becomes the iterator's status. When unset, meeting
  // a visible blob ref is a NotSupported error.
  std::function<Result<std::string>(std::string_view ref_payload)> resolve_blob;
};

class DbIterator {
 public:
  // Starts invalid: call seek_to_first() or seek_ge().
  DbIterator(std::unique_ptr<InternalIterator> merged, DbIteratorOptions options);

  bool valid() const { return valid_; }
  // = seek_ge(lower_bound or "").
  void seek_to_first();
  // First visible user key >= max(user_key, lower_bound).
  void seek_ge(std::string_view user_key);
  // Requires valid(): the next visible user key.
  void next();

  std::string_view key() const { return key_; }  // user key
  std::string_view value() const;                // payload (blob resolved)
  uint64_t sequence() const { return sequence_; }            // of the visible version
  uint64_t expires_at_ms() const { return expires_at_ms_; }  // 0 = none
  Status status() const { return status_; }

 private:
  // From the merged iterator's position: finds the first visible entry.
  // With `skip_current_key`, every version of key_ is passed over first.
  void find_visible(bool skip_current_key);
  // Moves the merged iterator past every remaining version of `user_key`.
  void skip_user_key(std::string_view user_key);
  void fail(Status s);

  std::unique_ptr<InternalIterator> merged_;
  DbIteratorOptions options_;

  bool valid_ = false;
  Status status_;
  std::string key_;            // current user key (also the key being skipped)
  std::string_view payload_;   // into merged_ (kPut)
  std::string blob_value_;     // resolved (kBlobRef)
  bool is_blob_ = false;
  uint64_t sequence_ = 0;
  uint64_t expires_at_ms_ = 0;
};

}  // namespace isle
