// DbIterator: one forward pass over the merged stream. For each user key the
// first entry with sequence <= snapshot is its newest visible version
// (entries of a key come newest first); it decides the key's fate, and
// every older version of the key is skipped.
//
// Skipping: a few next() calls first (the common case is one or two
// versions), then one seek, so a key with many versions or many writes
// after the snapshot costs O(log n) instead of O(versions).
#include "lsm/db_iterator.h"

#include <algorithm>
#include <utility>

namespace isle {

namespace {

// next() calls spent skipping before a seek is cheaper.
constexpr int kSkipsBeforeSeek = 8;

}  // namespace

DbIterator::DbIterator(std::unique_ptr<InternalIterator> merged, DbIteratorOptions options)
    : merged_(merged != nullptr ? std::move(merged) : new_empty_iterator()),
      options_(std::move(options)) {
  options_.snapshot_seq = std::min(options_.snapshot_seq, kMaxSequence);
}

std::string_view DbIterator::value() const {
  return is_blob_ ? std::string_view(blob_value_) : payload_;
}

void DbIterator::seek_to_first() { seek_ge(options_.lower_bound.value_or(std::string())); }

void DbIterator::seek_ge(std::string_view user_key) {
  status_ = Status::OK();
  valid_ = false;
  std::string_view target = user_key;
  if (options_.lower_bound && target < *options_.lower_bound) target = *options_.lower_bound;
  if (options_.upper_bound && target >= *options_.upper_bound) return;  // empty range
  merged_->seek(seek_key(target, options_.snapshot_seq));
  find_visible(/*skip_current_key=*/false);
}

void DbIterator::next() {
  if (!valid_) return;
  find_visible(/*skip_current_key=*/true);
}

void DbIterator::fail(Status s) {
  status_ = std::move(s);
  valid_ = false;
}

void DbIterator::skip_user_key(std::string_view user_key) {
  int steps = 0;
  bool sought = false;
  while (merged_->valid()) {
    const std::string_view k = merged_->key();
    // A short key is left for find_visible to report as corruption.
    if (k.size() < kInternalKeyTrailer || extract_user_key(k) != user_key) return;
    if (!sought && ++steps > kSkipsBeforeSeek) {
      // The smallest internal key of user_key (sequence 0, kind 0): at or
      // before its last version.
      sought = true;
      merged_->seek(make_internal_key(user_key, 0, ValueKind::kDelete));
      continue;
    }
    merged_->next();
  }
}

void DbIterator::find_visible(bool skip_current_key) {
  valid_ = false;
  is_blob_ = false;
  blob_value_.clear();
  payload_ = {};
  if (skip_current_key) skip_user_key(key_);

  int invisible_steps = 0;
  while (merged_->valid()) {
    ParsedInternalKey p;
    if (!parse_internal_key(merged_->key(), &p)) {
      fail(Status::Corruption("db iterator: malformed internal key"));
      return;
    }
    if (options_.upper_bound && p.user_key >= *options_.upper_bound) return;  // the end
    if (p.sequence > options_.snapshot_seq) {
      // Written after the snapshot: invisible. Step, or jump to the newest
      // version of this key the snapshot can see.
      if (++invisible_steps > kSkipsBeforeSeek) {
        invisible_steps = 0;
        merged_->seek(seek_key(p.user_key, options_.snapshot_seq));
      } else {
        merged_->next();
      }
      continue;
    }
    invisible_steps = 0;

    std::string_view payload;
    uint64_t expires_at_ms = 0;
    if (!decode_entry_value(p.has_expiry, merged_->value(), &payload, &expires_at_ms)) {
      fail(Status::Corruption("db iterator: malformed expiry prefix in the value of sequence " +
                              std::to_string(p.sequence)));
      return;
    }
    key_.assign(p.user_key);
    const bool expired = p.has_expiry && expires_at_ms <= options_.now_ms;
    if (p.kind == ValueKind::kDelete || expired) {
      // The newest visible version hides the key: skip all older ones.
      skip_user_key(key_);
      continue;
    }

    sequence_ = p.sequence;
    expires_at_ms_ = p.has_expiry ? expires_at_ms : 0;
    if (p.kind == ValueKind::kBlobRef) {
      if (!options_.resolve_blob) {
        fail(Status::NotSupported("db iterator: a blob reference needs resolve_blob"));
        return;
      }
      auto r = options_.resolve_blob(payload);
      if (!r.ok()) {
        fail(r.status().with_context("db iterator: resolving a blob reference"));
        return;
      }
      blob_value_ = std::move(*r);
      is_blob_ = true;
    } else {
      payload_ = payload;
    }
    valid_ = true;
    return;
  }
  Status s = merged_->status();
  if (!s.ok()) fail(std::move(s));
}

}  // namespace isle
