// RetentionCompactor: removes old data as whole SSTs (DESIGN §9), FIFO
// style. It runs as its own process (retentiond) or in-process, holds the
// retention fence (never the writer's or the compactor's: claiming it
// fences only an older RetentionCompactor), and commits `remove_sstables`
// entries through the manifest log while the writer and the compactor keep
// committing. It never rewrites data; removed SSTs are deleted later by GC.
//
// Age is the DATA's write time, recorded per SST (SstMeta::max_write_ms,
// the SST property isle.max_write_time_ms): the writer stamps when the
// data was written, compaction outputs carry the min/max of their inputs.
// When compaction rewrote a file does not matter. An SST without a write
// time (max_write_ms <= 0) is never removed. Time comes from
// DBOptions::clock.
//
// Policies (cutoff = now - retention_period):
//   * kByAge: an SST is expired when max_write_ms <= cutoff. Expired SSTs
//     (L0 and run members alike) are removed oldest first (by
//     max_write_ms), but the newest `retention_count` live SSTs always
//     stay.
//   * kByTimeWindow: SSTs fall into segments [k*d, (k+1)*d) of
//     d = segment_duration by max_write_ms. A segment is expired when its
//     end <= cutoff. Every SST of an expired segment is removed, oldest
//     segments first, but the newest max(1, retention_count / 10)
//     segments always stay.
// One cycle removes everything expired at its start with one log entry.
//
// LSN ranges: removing whole SSTs leaves the others' min_lsn/max_lsn as
// they are, so the manifest's low_watermark_lsn (min over live SSTs) rises
// as the oldest data goes; nothing is rewritten, so no extractor is needed.
//
// Caveat (as RocksDB's FIFO compaction): removing an old SST that held a
// tombstone or the newest version of a key can make an older version of
// that key, still held in an SST with a later max_write_ms, visible
// again. See docs/retention.md.
//
// Races: when a concurrent compaction consumed an SST the cycle picked,
// the commit's re-validation fails; the cycle re-plans from the new state
// and retries (or finds nothing to do). Losing a race is never an error
// and never counted as a removal. Stats and CleanupInfo count exactly the
// removals this object committed, also when a response was lost.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "isle/object_store.h"
#include "isle/options.h"
#include "isle/status.h"

namespace isle {

enum class RetentionMode : uint8_t {
  kByAge,
  kByTimeWindow,
};

// What one cleanup cycle did.
struct CleanupInfo {
  RetentionMode mode = RetentionMode::kByAge;
  int64_t now_ms = 0;     // the clock at the start of the cycle
  int64_t cutoff_ms = 0;  // now_ms - retention_period
  // SSTs whose removal this object committed and learned of during this
  // call (normally this call's plan; a removal whose outcome an earlier,
  // failed call could not resolve is reported by the call that learns it
  // committed). Empty = nothing to do.
  std::vector<std::string> removed;
  uint64_t removed_bytes = 0;
  // Expired SSTs kept because of the retention_count floor (by age: SSTs;
  // by time window: every SST of the expired segments kept).
  size_t expired_kept = 0;
  // Times the plan had to be redone because a concurrent commit (a
  // compaction) consumed one of its SSTs first, or an outcome was unknown.
  int replans = 0;
  uint64_t log_position = 0;  // where the last removal committed (0 = none)
  uint64_t manifest_position = 0;  // next log position of the state the cycle read
};

// Counters since open().
struct RetentionStats {
  uint64_t cleanups = 0;        // cycles that succeeded (also those with nothing to do)
  uint64_t errors = 0;          // cycles that failed (each called on_cleanup_error)
  uint64_t ssts_removed = 0;    // exact: committed removals only
  uint64_t bytes_removed = 0;
  uint64_t replans = 0;
  int64_t last_cleanup_ms = 0;  // clock at the start of the last successful cycle (0 = none)
  bool fenced = false;
};

struct RetentionOptions {
  std::string owner;  // default "<hostname>:<pid>:<random>"
  RetentionMode mode = RetentionMode::kByAge;
  // How long data is kept after it was written. > 0.
  std::chrono::milliseconds retention_period{std::chrono::hours(24 * 7)};
  // kByAge: live SSTs always kept; kByTimeWindow: max(1, count / 10)
  // segments always kept.
  size_t retention_count = 10;
  // kByTimeWindow: the segment length. > 0 in that mode.
  std::chrono::milliseconds segment_duration{std::chrono::hours(1)};
  // How often the background loop (start()) runs a cycle. > 0.
  std::chrono::milliseconds check_interval{60'000};
  // Backoff of the manifest protocol's and the store's retries. >= 0.
  std::chrono::milliseconds retry_backoff{50};
  // After a cycle that removed something, write a manifest snapshot when
  // this many log entries lie past log_seq_start (0 = never), like the
  // compactor. >= 0.
  int snapshot_every = 64;
  // Called after every successful cycle that removed at least one SST /
  // after every failed cycle (also Fenced), from run_cleanup() or the
  // background thread, one at a time. They may call stats() and
  // is_fenced(), but not run_cleanup(), start() or stop().
  std::function<void(const CleanupInfo&)> on_cleanup;
  std::function<void(const Status&)> on_cleanup_error;
};

class RetentionCompactor {
 public:
  class Impl;
  // Validates `options` (InvalidArgument naming the bad field), then
  // claims the retention fence under the database prefix of `db`, fencing
  // a previous RetentionCompactor and nothing else.
  static Result<std::unique_ptr<RetentionCompactor>> open(ObjectStorePtr store, const DBOptions& db,
                                                          RetentionOptions options = {});
  explicit RetentionCompactor(std::unique_ptr<Impl> impl);
  ~RetentionCompactor();  // stops the background loop
  RetentionCompactor(const RetentionCompactor&) = delete;
  RetentionCompactor& operator=(const RetentionCompactor&) = delete;

  // One cycle now: refresh, plan, commit (re-planning after lost races).
  // Returns what it removed (empty = nothing to do). Fenced (terminal)
  // once another RetentionCompactor took over. Thread-safe; cycles are
  // serialized.
  Result<CleanupInfo> run_cleanup();

  // Re-reads the manifest now, without removing anything (a later
  // run_cleanup() refreshes again anyway). Fenced once another
  // RetentionCompactor took over; otherwise the refresh's error, if any.
  // Serialized with cycles; does not count as a cycle in stats().
  Status refresh();

  // Runs a cycle every check_interval on a background thread until stop()
  // or until fenced. Idempotent.
  Status start();
  void stop();
  bool is_fenced() const;
  // The fence epoch claimed at open().
  uint64_t epoch() const;
  RetentionStats stats() const;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace isle
