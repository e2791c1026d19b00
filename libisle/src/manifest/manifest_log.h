// ManifestLog: one process's handle on the manifest protocol (DESIGN §3):
// open (CURRENT, snapshot, tail), refresh by probing, claim a role's fence,
// append entries, write snapshots. docs/manifest-protocol.md tells the
// whole protocol with its races; the rules enforced here are:
//
//   * Commit point: an entry commits when the create-only put of
//     manifest/log/<pos> succeeds. The state only ever changes by applying
//     entries in position order (manifest_state.h), our own included, so
//     what this process believes is exactly what every reader will replay.
//   * Contention is not fencing: losing a position to another process makes
//     us read the entries we missed, re-validate, and retry at the new end.
//     Only a newer fence_claim for our role makes us Fenced (terminal).
//   * Unknown outcome (the response was lost): read the position back. Our
//     commit_id there = committed; another's = lost the race (catch up,
//     retry); nothing = not applied (retry at the SAME position, so a
//     delayed copy of the first request can never land somewhere else).
//     A commit_id is kept across all retries of one logical commit.
//   * Lease: a committer that has not read CURRENT within `lease` re-reads
//     it after a successful create, and treats log_seq_start having moved
//     past its entry, or a newer fence for its role, as being fenced. GC
//     deletes log entries only `grace` (> lease) after they fell below
//     log_seq_start, so a process that stalled for longer than the grace
//     cannot recreate a collected name and believe it committed. Readers
//     apply the same lease before trusting probed entries.
//   * Whenever CURRENT shows log_seq_start beyond our position we reload
//     from its snapshot instead of probing collected positions.
//
// Not thread-safe: one owner thread (the writer's flush thread, a reader's
// refresh under its mutex).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "isle/manifest_storage.h"
#include "isle/status.h"
#include "manifest/manifest_state.h"
#include "manifest/manifest_types.h"
#include "util/clock.h"

namespace isle {

struct ManifestLogOptions {
  Clock* clock = nullptr;  // nullptr = Clock::system()
  // See the header comment. Must be shorter than the GC grace period.
  std::chrono::milliseconds lease{30'000};
  // The database's GC grace (DBOptions::gc_grace): a log position cannot
  // be collected sooner than this after the last CURRENT read that showed
  // it at or above log_seq_start.
  std::chrono::milliseconds grace{600'000};
  // Transient/Throttled errors on one request are retried this many times
  // with a short exponential backoff before the call fails.
  int transient_retries = 8;
  std::chrono::milliseconds retry_backoff{20};
  // Most bytes of inline SSTs the state may hold (a reader's
  // ReaderOptions::max_inline_bytes); 0 = no limit (writers: a writer never
  // refuses its own log). An add_sstable that would go past it, or a
  // snapshot over it, is refused with Backpressure before its inline bytes
  // are kept, and the state stays as it was. A refusal re-reads CURRENT at
  // once: a newer snapshot (past the materialization) lets it move on.
  uint64_t max_inline_bytes = 0;
  // Called for every log entry as it is applied or skipped (observability
  // and tests); may be empty.
  std::function<void(const LogEntry&, bool applied)> on_entry;
};

// Counters for tests and metrics.
struct ManifestLogStats {
  uint64_t current_reads = 0;
  uint64_t current_not_modified = 0;  // conditional reads answered "unchanged"
  uint64_t snapshot_loads = 0;
  uint64_t log_reads = 0;        // GETs of log positions (found or not)
  uint64_t appends = 0;          // successful commits of ours
  uint64_t append_conflicts = 0;
  uint64_t unknown_outcomes = 0;
  uint64_t snapshots_written = 0;
};

class ManifestLog {
 public:
  ManifestLog(ManifestStoragePtr storage, ManifestLogOptions options = {});

  // Loads CURRENT (absent = empty database), its snapshot, then the tail.
  Status open();
  // Applies log entries past the current position until the first missing
  // one. Returns how many entries were read.
  Result<uint64_t> refresh();

  const ManifestState& state() const { return state_; }

  // Takes `role`'s fence: replay, append fence_claim with epoch+1 (retry on
  // conflict), replay again. On success this handle commits as `owner`
  // with the new epoch. Also records the fence in CURRENT (best effort).
  // `seq_window`: data sequences reserved above the floor (writers), so a
  // successor starts above anything this claimer may hand out before its
  // next commit.
  Status claim(Role role, std::string owner, uint64_t seq_window = 0);

  // Commits `entry` for the claimed role. role, epoch, owner, ts and pos are
  // filled in; commit_id is kept if the caller set one (retries of one
  // logical commit must keep it) and generated otherwise. Returns the
  // position it committed at. Errors: Fenced (terminal: a newer claim for
  // our role exists, or the lease check failed), PreconditionFailed (the
  // entry is no longer valid, e.g. a compaction input is gone),
  // UnknownOutcome (the outcome could not be resolved; retry with the same
  // commit_id), and storage errors.
  Result<uint64_t> append(LogEntry entry);

  // Writes snapshots/<next_pos> with the current state, appends a
  // checkpoint entry (when a role is claimed) and moves CURRENT's
  // log_seq_start forward by compare-and-swap. Safe to race: snapshots of
  // one position are identical in content, and CURRENT only moves forward.
  Status write_snapshot();

  // Re-reads CURRENT now (and reloads from its snapshot if it moved past
  // our position). Returns the pointer read (nullopt: no CURRENT yet).
  Result<std::optional<CurrentPointer>> sync_current();

  bool fenced() const { return fenced_; }
  const std::string& fenced_reason() const { return fenced_reason_; }
  uint64_t epoch() const { return epoch_; }
  Role role() const { return role_; }
  bool claimed() const { return epoch_ != 0; }
  const std::string& owner() const { return owner_; }
  const ManifestLogStats& stats() const { return stats_; }
  // log_seq_start of the last CURRENT read (1 before any).
  uint64_t known_log_seq_start() const { return known_log_seq_start_; }

  // ---- Hooks for LogPipeline (log_pipeline.h): several creates of
  // consecutive positions in flight, results applied here in order. ----
  const ManifestStoragePtr& storage() const { return storage_; }
  Clock* clock() const { return clock_; }
  // When the CURRENT read the lease is measured from was sent (mono ms);
  // a create records it when it is sent.
  int64_t lease_basis() const { return last_current_read_ms_; }
  // True when the next commit would re-read CURRENT first.
  bool lease_expired() const { return mono_ms() - last_current_read_ms_ >= options_.lease.count(); }
  // Reads and applies every entry from next_pos on, calling `visit` for
  // each (applied or skipped). Sets fenced() on a newer claim for our role.
  Result<uint64_t> catch_up_visit(const std::function<void(const LogEntry&, bool)>& visit);
  // Our create of `e` at e.pos == next_pos succeeded, sent with lease basis
  // `basis_ms`: the lease rule, then apply. Returns whether replay applied
  // it (false: skipped). Fenced from the lease rule.
  Result<bool> apply_own(const LogEntry& e, int64_t basis_ms);
  // Our entry was found applied at `pos` by catch_up_visit: the lease rule
  // for it (as append() does for an entry found after a lost response).
  Status confirm_found(uint64_t pos);

 private:
  // One position: the entry, or NotFound. Retries transient errors.
  Result<std::optional<LogEntry>> read_entry(uint64_t pos);
  // apply_entry, refusing (Backpressure, state unchanged) an add_sstable
  // that would put more than options_.max_inline_bytes inline bytes in the
  // state.
  Result<ApplyOutcome> apply(const LogEntry& e);
  // Reads and applies entries from next_pos on. When `mine` is set, reports
  // the position at which an entry with that commit_id was applied.
  Result<uint64_t> catch_up(const std::string& mine, std::optional<uint64_t>* mine_pos);
  // The shared commit loop of append() and claim().
  Result<uint64_t> commit(LogEntry entry);
  // After a successful create at `pos`: the lease rule, measured from the
  // CURRENT read sent at `basis_ms` (the last one before the create).
  Status lease_check(uint64_t pos) { return lease_check(pos, last_current_read_ms_); }
  Status lease_check(uint64_t pos, int64_t basis_ms);
  // CURRENT with transient retries (nullopt: none yet); records when the
  // successful read was sent, which is what the lease is measured from.
  Result<std::optional<VersionedObject>> read_current_object();
  // Reads CURRENT when the lease has run out.
  Status refresh_current_if_stale();
  Status load_snapshot(uint64_t pos);
  // Read-modify-CAS of CURRENT; `mutate` returns false when no change is
  // needed.
  Status update_current(const std::function<bool(CurrentPointer&)>& mutate);
  CurrentPointer pointer_from_state(uint64_t snapshot_pos) const;
  void set_fenced(std::string why);
  void backoff(int attempt);
  int64_t mono_ms() const;

  ManifestStoragePtr storage_;
  ManifestLogOptions options_;
  Clock* clock_;
  ManifestState state_;

  Role role_ = Role::kWriter;
  uint64_t epoch_ = 0;
  std::string owner_;
  uint64_t claim_window_ = 0;
  bool fenced_ = false;
  std::string fenced_reason_;

  std::optional<VersionedObject> cached_current_;  // last CURRENT read, for conditional reads
  int64_t last_current_read_ms_ = INT64_MIN / 2;  // mono ms when the last read was SENT
  uint64_t known_log_seq_start_ = 1;
  ManifestLogStats stats_;
};

}  // namespace isle
