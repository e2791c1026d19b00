// LogPipeline: a writer's add_sstable commits with several create-only
// PUTs in flight at once, committed strictly in submission order
// (docs/manifest-protocol.md, "Several flushes in flight").
//
// The owner thread submits entries in data order (each one SST, sequences
// above the previous one's). The pipeline sends them to consecutive log
// positions next_pos, next_pos+1, ..., with at most max_in_flight creates
// unanswered at once (worker threads call ManifestStorage::create_log and
// nothing else; an answered create waits, unprocessed, for the ones before
// it), and processes the results in position order on the owner thread,
// which alone touches the ManifestLog. Invariants:
//
//   * Chain: every entry is written "chained" (format 2) with
//     prev_data_seq = the seq_hi of the entry submitted before it (the
//     state's data_seq for the first). Replay applies it only where the
//     state's data_seq equals prev_data_seq, i.e. directly after that
//     predecessor's data. So an entry sent behind one that lost its
//     position is skipped by every replayer, the applied entries are always
//     a prefix of the submissions in order, and no copy of an entry (a
//     retry or a delayed duplicate, at whatever position it lands) can be
//     applied twice: data_seq only grows.
//   * An entry is reported committed only after it and every entry before it
//     were applied in the replayed log, and after the lease rule
//     (ManifestLog::lease_check) for its position. What the owner's state
//     holds is exactly what every reader replays.
//   * Any failure in the window (PreconditionFailed, UnknownOutcome, a
//     transient or other error, or a create that replay skipped): stop
//     sending, wait for every request in flight, catch up (an APPLIED entry
//     with one of our commit_ids is committed), then resend the rest in
//     order from the new end, each keeping its commit_id. No read-back of
//     single positions is needed: catch-up reads every position from the
//     first unprocessed one, so an unknown outcome at the first failing
//     position is retried at that SAME position when it is still free.
//   * Fenced is terminal: nothing is reported committed after the result
//     that showed the newer claim, and every later call returns Fenced.
//   * Entries are never dropped on a non-terminal error: the caller calls
//     step() again (after a backoff of its own) and they are resent.
//   * max_in_flight == 1: every entry goes through ManifestLog::append,
//     unchained (format 1): exactly the single-flush protocol.
//
// Memory: each entry is held (with its encoded bytes while in flight) until
// it commits; the caller bounds how many it submits (pending()), and with
// them how many positions are sent ahead of the oldest unprocessed one.
//
// Not thread-safe: one owner thread calls every method. on_result (below)
// is called from worker threads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "isle/status.h"
#include "manifest/manifest_log.h"

namespace isle {

struct LogPipelineOptions {
  // Creates unanswered at once (>= 1). 1 = ManifestLog::append per entry.
  int max_in_flight = 4;
  // Transient/Throttled create failures in a row before step() returns the
  // error (the entries stay queued), and the backoff between rounds.
  int transient_retries = 8;
  std::chrono::milliseconds retry_backoff{20};
  // Called from a worker thread each time a create's result is ready, so an
  // owner that waits on its own condition variable can wake (may be empty).
  std::function<void()> on_result;
};

struct LogPipelineStats {
  uint64_t creates_sent = 0;
  uint64_t committed = 0;
  uint64_t max_in_flight_seen = 0;   // most entries sent and not yet processed
  uint64_t recoveries = 0;           // rounds that stopped on a failure
  uint64_t precondition_failed = 0;  // lost a position (to anyone, or ourselves)
  uint64_t unknown_outcomes = 0;
  uint64_t transient_errors = 0;
  uint64_t skipped_creates = 0;      // our create landed but replay skipped it
  uint64_t found_by_catch_up = 0;    // committed entries learned by reading the log
  uint64_t found_in_snapshot = 0;    // committed entries learned from a reloaded snapshot
};

class LogPipeline {
 public:
  // One committed entry: its ticket (from submit) and position (0 when it
  // was learned from a snapshot that passed it).
  struct Committed {
    uint64_t ticket = 0;
    uint64_t pos = 0;
  };
  // What a step did: entries committed (in ticket order), and the first
  // error, if any (Fenced = terminal; anything else: call step again).
  struct Progress {
    std::vector<Committed> committed;
    Status status;
  };

  // `log` must be open and claimed as writer, and outlive the pipeline.
  LogPipeline(ManifestLog* log, LogPipelineOptions options);
  // Waits for the creates in flight (their outcome is then unknown to the
  // caller: entries not reported committed may still be).
  ~LogPipeline();
  LogPipeline(const LogPipeline&) = delete;
  LogPipeline& operator=(const LogPipeline&) = delete;

  // Queues a writer add_sstable with exactly one SST whose sequences are
  // above those of every entry submitted before. role, epoch, owner, ts,
  // pos, prev_data_seq and chained are set here; a commit_id is kept when
  // set, else generated. Returns its ticket (1, 2, ... per pipeline).
  Result<uint64_t> submit(LogEntry entry);

  // Sends what the window allows, waits up to `wait` for the oldest result,
  // processes every result that is ready, in order (a failure runs a
  // recovery round, which waits for everything in flight).
  Progress step(std::chrono::milliseconds wait);
  // step() until nothing is queued or an error.
  Progress drain();
  // Sends nothing more: waits for every create in flight and reports the
  // entries they committed (in order; a failure gets one catch-up round,
  // as in step). For an owner that stops (a simulated crash): like a
  // single committer, it learns the outcome of what it already sent.
  Progress settle();

  // Submitted and not reported committed.
  size_t pending() const { return slots_.size(); }
  // Sent and not yet processed.
  size_t in_flight() const { return sent_; }
  // Sent and not answered yet (at most max_in_flight).
  size_t outstanding() const;
  bool idle() const { return slots_.empty(); }
  // True when the oldest request in flight has its result (thread-safe).
  bool front_ready() const;
  const LogPipelineStats& stats() const { return stats_; }
  int max_in_flight() const { return options_.max_in_flight; }

 private:
  // One create request, shared with a worker.
  struct Attempt {
    uint64_t pos = 0;
    std::string bytes;
    bool done = false;  // guarded by mu_
    Status result;      // guarded by mu_
  };
  struct Slot {
    uint64_t ticket = 0;
    LogEntry entry;
    uint64_t seq_hi = 0;
    bool inline_sst = false;
    std::shared_ptr<Attempt> attempt;  // the current round's request, if sent
    int64_t basis_ms = 0;              // the lease basis when it was sent
    // Catch-up saw it applied at this position; committed once the lease
    // check there passes (then only that decides).
    uint64_t seen_at = 0;
  };

  void worker_loop();
  // Sends slots while the window has room. Status: Fenced, or an error
  // that stops this step (PreconditionFailed: the oldest entry is invalid).
  Status issue(Progress* out);
  // Processes ready results in order; returns false when a failure needs a
  // recovery round.
  bool process(Progress* out);
  Status recover(Progress* out);
  // Pops the front slots known committed (seen_at + lease check, or
  // covered by a reloaded snapshot's data_seq while our epoch is current).
  Status pop_committed(Progress* out);
  void commit_front(Progress* out, uint64_t pos);
  void wait_all_sent();
  Status terminal(Status s);
  bool epoch_current() const;
  Progress sequential_step();

  ManifestLog* const log_;
  const LogPipelineOptions options_;
  std::deque<Slot> slots_;  // submission order; [0, sent_) are in flight
  size_t sent_ = 0;
  uint64_t next_ticket_ = 1;
  uint64_t last_data_seq_ = 0;  // seq_hi of the last submitted entry
  bool have_last_ = false;
  bool needs_recovery_ = false;
  bool issue_blocked_ = false;  // issue() stopped for the window to drain
  Status first_failure_;   // of the round that needs recovery
  int transient_failures_ = 0;
  Status terminal_;
  LogPipelineStats stats_;

  mutable std::mutex mu_;
  std::condition_variable result_cv_;  // an attempt is done
  std::condition_variable work_cv_;    // a request is queued, or stop
  std::deque<std::shared_ptr<Attempt>> queue_;  // guarded by mu_
  bool stop_ = false;                           // guarded by mu_
  std::vector<std::thread> workers_;
};

}  // namespace isle
