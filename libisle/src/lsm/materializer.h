// Materializer: the writer's rewriting of pending inline SSTs into ordinary
// L0 SST objects (docs/manifest-protocol.md, "Inline flushes"). It decides
// when a materialization is due (WriterOptions::inline_max_pending_bytes,
// inline_max_lag), builds and uploads the new SST on a helper thread (at
// most one at a time; it never touches the log), and commits the
// materialize entry through the writer's ManifestLog when the flusher asks.
//
// Threads: every method is for the writer's flusher thread (the log's only
// user), except that the helper calls Params::wake when its build is done.
// Invariants:
//   * a materialization's inputs are the oldest pending inline SSTs when it
//     began; they stay the oldest until its entry commits, because only
//     this writer's flusher adds inline SSTs (behind them) or removes them
//     (by committing this entry), and any other writer's claim fences it;
//   * a materialization whose entry the log applied (on_applied, matched by
//     commit_id) is never committed again.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <thread>
#include <vector>

#include "isle/object_store.h"
#include "isle/options.h"
#include "isle/status.h"
#include "lsm/sst_from_memtable.h"
#include "manifest/manifest_log.h"
#include "util/signing.h"

namespace isle {

class Materializer {
 public:
  using SteadyClock = std::chrono::steady_clock;

  struct Params {
    ObjectStorePtr store;                  // scoped to the database
    const WriterOptions* options = nullptr;  // outlives the Materializer
    const Ed25519Signer* signer = nullptr;   // may be null
    // Called on the helper thread when its build and upload are done, after
    // has_work() became true (the flusher should look again).
    std::function<void()> wake;
    // Called on the flusher thread after each committed materialization.
    std::function<void()> committed;
    // The database's GC grace (DBOptions::gc_grace): an upload that waited
    // a quarter of it is written again before its commit (see commit()).
    std::chrono::milliseconds gc_grace{600'000};
  };

  explicit Materializer(Params p) : p_(std::move(p)) {}
  // Waits for the helper.
  ~Materializer() { wait_helper(); }

  // The log applied `e` (ManifestLogOptions::on_entry).
  // Records when each inline SST of ours was committed, so the lag of what
  // stays pending after a materialization counts from its own commit.
  void on_applied(const LogEntry& e);
  // The oldest pending inline SST became pending at `t` (a flush of ours
  // made the list non-empty; a predecessor's are due at once: pass
  // now - inline_max_lag).
  void pending_since(SteadyClock::time_point t) { inline_since_ = t; }

  // Whether an idle flusher has work: a finished helper to collect, an SST
  // to commit, or pending inline SSTs past a bound with no helper running.
  bool has_work(const ManifestState& st, SteadyClock::time_point now) const;
  // When an idle flusher should look again (at most `cap`).
  SteadyClock::time_point wake_at(const ManifestState& st, SteadyClock::time_point cap) const;
  // The hard bounds: true when an inline flush of `next_bytes` must wait
  // for materialization first (pending bytes past twice the bound, or the
  // oldest past twice the lag).
  bool overdue(const ManifestState& st, uint64_t next_bytes, SteadyClock::time_point now) const;

  // One idle step: collect the helper, commit its SST, or start a helper on
  // every pending inline SST. Errors: the commit's (Fenced is terminal).
  Status step(ManifestLog& log);
  // Materializes every pending inline SST before returning OK (waits for
  // the helper, commits, then builds the rest on this thread).
  Status materialize_all(ManifestLog& log);
  // After a failed step: no new attempt before a backoff.
  void failed(int failures);
  void wait_helper() {
    if (helper_.joinable()) helper_.join();
  }

 private:
  // The oldest pending inline SSTs when it began, the one L0 SST object
  // holding their entries (uploaded), and its entry (commit_id kept across
  // retries).
  struct Materialization {
    std::vector<SstMeta> inputs;
    BuiltSst sst;  // bytes kept until the commit: an old upload is put again
    SteadyClock::time_point uploaded_at;  // when its last PUT was sent
    bool committed = false;
    LogEntry entry;
  };
  using Built = Result<std::unique_ptr<Materialization>>;

  Status commit(ManifestLog& log);
  // Joins a finished helper and takes its result into mat_.
  Status collect();
  // Puts the SST object of m (create-only, or overwrite to refresh its
  // timestamp), retrying transient errors.
  Status upload(Materialization& m, bool overwrite) const;
  // Builds and uploads (create-only). Any thread: immutable state and the
  // thread-safe store only.
  Built build_and_upload(const std::vector<SstMeta>& inputs) const;

  const Params p_;
  std::unique_ptr<Materialization> mat_;  // built and uploaded, not committed
  std::thread helper_;                    // joinable from start to collect()
  std::atomic<bool> helper_done_{false};  // its result is in result_
  std::mutex result_mu_;
  std::optional<Built> result_;
  SteadyClock::time_point inline_since_;
  // Inline SSTs applied while we ran, oldest first, with when (for the
  // age of the oldest pending one after a commit).
  std::vector<std::pair<std::string, SteadyClock::time_point>> inline_applied_;
  SteadyClock::time_point retry_after_;
};

}  // namespace isle
