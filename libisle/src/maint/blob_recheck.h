// BlobRecheck: the last look the garbage collector's blob sweep takes at a
// blob right before deleting it (docs/format/gc.md, "Blobs reused while GC
// runs").
//
// The sweep judges blobs by a listing and a manifest replay that may be
// seconds old when it gets to the delete. Blobs are content-addressed, so a
// writer may meanwhile have reused one of them and committed an SST that
// references it. For each candidate, in this order:
//   1. the manifest log entries committed since the replay (positions from
//      `from_pos` on, up to the first missing one) are read — once, and
//      again whenever the last read is older than `refresh_every` — and a
//      blob referenced by an SST any of them adds is kept;
//   2. the blob is HEADed, with the collector's clock read BEFORE the
//      request: a blob gone already, or whose store timestamp is younger
//      than the grace (a writer re-puts a reused blob older than a quarter
//      of the grace, lsm/writer.cc), is kept.
// still_deletable() says yes only when both passed; the caller then
// deletes at once, before checking the next candidate.
//
// Fails closed: a log position that went missing under the read (CURRENT's
// log_seq_start is beyond it) keeps every blob for this run.
#pragma once

#include <chrono>
#include <cstdint>
#include <set>
#include <string>

#include "isle/clock.h"
#include "isle/manifest_storage.h"
#include "isle/object_store.h"
#include "isle/status.h"

namespace isle {

class BlobRecheck {
 public:
  // `from_pos`: the log position the sweep's replay ended at (its
  // next_pos). The pointers must outlive this object.
  BlobRecheck(ObjectStore* store, ManifestStorage* manifest, Clock* clock,
              std::chrono::milliseconds grace, uint64_t from_pos,
              std::chrono::milliseconds refresh_every);

  // Whether the blob `key` (content hash `hash`) may be deleted now. Errors
  // are storage errors (the caller stops its sweep) or Corruption of a log
  // entry.
  Result<bool> still_deletable(const std::string& key, const std::string& hash);

 private:
  Status read_log_tail();

  ObjectStore* const store_;
  ManifestStorage* const manifest_;
  Clock* const clock_;
  const std::chrono::milliseconds grace_;
  const std::chrono::milliseconds refresh_every_;
  uint64_t next_pos_;                 // the first position not read yet
  std::set<std::string> referenced_;  // blobs of SSTs added at >= from_pos
  bool read_ = false;
  bool cut_ = false;  // the log was collected under the read: keep all
  std::chrono::steady_clock::time_point last_read_;
};

}  // namespace isle
