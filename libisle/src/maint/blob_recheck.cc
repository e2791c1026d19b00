// The blob sweep's last look before a delete; see blob_recheck.h.
#include "maint/blob_recheck.h"

#include <algorithm>
#include <thread>

#include "manifest/manifest_codec.h"
#include "manifest/manifest_types.h"

namespace isle {

namespace {

constexpr int kTransientRetries = 6;

// Retries a read: transient errors and lost responses (a read changes
// nothing, so trying again is always safe).
template <typename F>
auto retried(F f) -> decltype(f()) {
  for (int attempt = 0;; attempt++) {
    auto r = f();
    const bool again = r.status().is_retryable() || r.status().is_unknown_outcome();
    if (r.ok() || !again || attempt >= kTransientRetries) return r;
    std::this_thread::sleep_for(std::chrono::milliseconds(5 << std::min(attempt, 5)));
  }
}

}  // namespace

BlobRecheck::BlobRecheck(ObjectStore* store, ManifestStorage* manifest, Clock* clock,
                         std::chrono::milliseconds grace, uint64_t from_pos,
                         std::chrono::milliseconds refresh_every)
    : store_(store),
      manifest_(manifest),
      clock_(clock),
      grace_(grace),
      refresh_every_(refresh_every),
      next_pos_(from_pos) {}

Status BlobRecheck::read_log_tail() {
  for (;;) {
    auto r = retried([&] { return manifest_->read_log(next_pos_); });
    if (r.status().is_not_found()) break;
    if (!r.ok()) return r.status().with_context("reading " + log_key(next_pos_));
    ISLE_ASSIGN_OR_RETURN(LogEntry e, decode_entry(*r, log_key(next_pos_)));
    // Every entry counts, also one a replay would skip: keeping a blob
    // longer is always safe.
    for (const SstMeta& m : e.added) referenced_.insert(m.blobs.begin(), m.blobs.end());
    next_pos_++;
  }
  // The first missing position is the end of the log, unless it was
  // collected under us; positions are collected only below a
  // log_seq_start that CURRENT already shows.
  auto cur = retried([&] { return manifest_->read_current(); });
  if (cur.ok()) {
    ISLE_ASSIGN_OR_RETURN(CurrentPointer c, decode_current(cur->data, kCurrentKey));
    if (c.log_seq_start > next_pos_) cut_ = true;
  } else if (!cur.status().is_not_found()) {
    return cur.status().with_context("reading manifest/CURRENT");
  }
  read_ = true;
  last_read_ = std::chrono::steady_clock::now();
  return Status::OK();
}

Result<bool> BlobRecheck::still_deletable(const std::string& key, const std::string& hash) {
  if (!read_ || std::chrono::steady_clock::now() - last_read_ >= refresh_every_) {
    ISLE_RETURN_IF_ERROR(read_log_tail());
  }
  if (cut_ || referenced_.count(hash)) return false;
  // Read before the HEAD: the age it judges is never longer than the
  // blob's real age at the moment of the HEAD.
  const int64_t now = clock_->now_ms();
  auto meta = retried([&] { return store_->head(key); });
  if (meta.status().is_not_found()) return false;  // gone already
  if (!meta.ok()) return meta.status().with_context("checking " + key);
  return meta->modified_ms + grace_.count() <= now;
}

}  // namespace isle
