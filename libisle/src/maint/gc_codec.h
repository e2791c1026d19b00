// The garbage collector's two state objects and their JSON encoding
// (docs/format/gc.md has an example of each):
//
//   manifest/gc/pending-sst/pending.json   PendingMarks: SSTs that left the
//                                          live set, each with the time it
//                                          may be physically deleted
//   manifest/gc/checkpoint.json            GcCheckpoint: how far GC has
//                                          processed the log, the live set
//                                          there, and when each
//                                          log_seq_start was first seen
//
// Both objects are replaced only by compare-and-swap on their ETag (or
// created create-only), so concurrent collectors never lose each other's
// updates: every update is "re-read, merge, write if unchanged".
//
// Invariants of the values (the encoder writes them, the decoder checks
// only types and the format number): marks are sorted by id with no
// duplicates; a mark's blobs are nullopt when GC could not learn them (an
// object found by listing, never seen in the log); checkpoint.live is
// sorted by id; log_starts is ascending in log_seq_start.
//
// Decoding never trusts its input: malformed JSON or a missing or mistyped
// field is Corruption naming the object; unknown fields are ignored; a
// `format` newer than kGcFormat is NotSupported.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "isle/status.h"

namespace isle {

constexpr int kGcFormat = 1;

inline constexpr std::string_view kGcPendingKey = "manifest/gc/pending-sst/pending.json";
inline constexpr std::string_view kGcCheckpointKey = "manifest/gc/checkpoint.json";

// One SST waiting for physical deletion.
struct PendingMark {
  std::string id;              // object sstable/<id>.sst
  int64_t first_seen_ms = 0;   // when a collector first saw it unreferenced
  int64_t due_ms = 0;          // first_seen_ms + grace: deletable from then on
  // sha256 of every blob it references; nullopt = unknown (the blob sweep
  // then deletes no blob while this mark exists).
  std::optional<std::vector<std::string>> blobs;
  std::string reason;          // "removed" (left the live set) or "orphan"

  friend bool operator==(const PendingMark&, const PendingMark&) = default;
};

struct PendingMarks {
  std::vector<PendingMark> marks;  // sorted by id, unique

  friend bool operator==(const PendingMarks&, const PendingMarks&) = default;
  // The mark for `id`, or nullptr.
  const PendingMark* find(std::string_view id) const;
  // Adds `m` unless a mark for its id exists (the existing, earlier mark
  // wins: any collector's first sighting is after the real removal, so
  // both are safe). Returns true when added.
  bool add(PendingMark m);
  // Removes the mark for `id`; returns true when one was there.
  bool remove(std::string_view id);
};

// An SST in the live set at the checkpoint, with its blob references (so a
// later removal can carry them into its mark).
struct LiveSstRef {
  std::string id;
  std::vector<std::string> blobs;
  // Published by a writer's add_sstable (in L0, or moved from L0 into a
  // run unchanged): part of the change feed's history, kept for
  // GcOptions::change_retention after it leaves the live set.
  bool l0 = false;

  friend bool operator==(const LiveSstRef&, const LiveSstRef&) = default;
};

// When a collector first observed CURRENT's log_seq_start at a value.
struct LogStartSeen {
  uint64_t log_seq_start = 1;
  int64_t seen_at_ms = 0;

  friend bool operator==(const LogStartSeen&, const LogStartSeen&) = default;
};

struct GcCheckpoint {
  // Every log position below `pos` has been processed: the SSTs it removed
  // are in the pending marks (or already deleted).
  uint64_t pos = 1;
  std::vector<LiveSstRef> live;          // the live set before `pos`, sorted by id
  std::vector<LogStartSeen> log_starts;  // ascending by log_seq_start
  int64_t updated_ms = 0;

  friend bool operator==(const GcCheckpoint&, const GcCheckpoint&) = default;
};

std::string encode_pending_marks(const PendingMarks& p);
Result<PendingMarks> decode_pending_marks(std::string_view bytes, std::string_view what);

std::string encode_gc_checkpoint(const GcCheckpoint& c);
Result<GcCheckpoint> decode_gc_checkpoint(std::string_view bytes, std::string_view what);

}  // namespace isle
