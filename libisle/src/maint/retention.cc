// RetentionCompactor: plans and commits `remove_sstables` entries
// (isle/retention.h has the policy; DESIGN §9; docs/retention.md).
//
// One cycle:
//   1. refresh the manifest (our ManifestLog holds the retention fence);
//   2. plan from the replayed state and one clock reading: the expired SSTs
//      minus those the retention_count floor keeps;
//   3. commit one `remove_sstables` entry with a fresh commit id;
//   4. if the append was rejected because an input is gone (a compaction
//      consumed it) or its outcome was unknown, re-plan from the state the
//      ManifestLog caught up to and go back to 3.
//
// Invariants:
//   * only the ManifestLog's replay decides what we removed: every entry
//     applied during replay or append is passed to on_log_entry(), and a
//     removal is counted (stats, CleanupInfo) exactly when an entry
//     carrying one of our pending commit ids is applied — never on the
//     append's return value alone. So a lost response that did commit is
//     counted once (when a later read-back or refresh applies it), and a
//     removal that lost its race is never counted;
//   * the plan only ever names SSTs live in the state it was made from, and
//     the log re-validates that at commit (and replay skips a stale entry),
//     so a removal can never take out a compaction output it did not see;
//   * time is judged by the SSTs' recorded data write times and
//     DBOptions::clock, never by object timestamps or log positions.
#include "isle/retention.h"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "lsm/engine_store.h"
#include "manifest/manifest_log.h"
#include "util/background_loop.h"
#include "util/random.h"

namespace isle {

namespace {

// A cycle gives up (Transient, retried by the next cycle) after losing this
// many races in a row; each lost race means another process committed.
constexpr int kMaxReplans = 32;
// Commit ids of ours whose outcome is still unknown (bounded memory).
constexpr size_t kMaxPending = 64;

int64_t sat_sub(int64_t a, int64_t b) {  // b >= 0
  return a < INT64_MIN + b ? INT64_MIN : a - b;
}

bool has_write_time(const SstMeta& m) { return m.max_write_ms > 0; }

// Oldest first by the data's newest write time; SSTs without a write time
// sort last (they are never removed and count as the newest). Ties broken
// by sequence, then id, so every process plans the same way.
bool older(const SstMeta* a, const SstMeta* b) {
  const int64_t ta = has_write_time(*a) ? a->max_write_ms : INT64_MAX;
  const int64_t tb = has_write_time(*b) ? b->max_write_ms : INT64_MAX;
  if (ta != tb) return ta < tb;
  if (a->seq_hi != b->seq_hi) return a->seq_hi < b->seq_hi;
  return a->id < b->id;
}

struct Plan {
  std::vector<const SstMeta*> remove;  // oldest first
  size_t expired_kept = 0;
};

std::vector<const SstMeta*> live_ssts(const ManifestState& st) {
  std::vector<const SstMeta*> all;
  for (const auto& s : st.l0) all.push_back(&s);
  for (const auto& r : st.runs)
    for (const auto& s : r.ssts) all.push_back(&s);
  std::sort(all.begin(), all.end(), older);
  return all;
}

Plan plan_by_age(const ManifestState& st, int64_t cutoff, size_t keep) {
  Plan p;
  const std::vector<const SstMeta*> all = live_ssts(st);
  // Expired SSTs form a prefix of `all` (sorted by max_write_ms).
  size_t expired = 0;
  while (expired < all.size() && has_write_time(*all[expired]) &&
         all[expired]->max_write_ms <= cutoff) {
    expired++;
  }
  const size_t removable = all.size() > keep ? all.size() - keep : 0;
  const size_t n = std::min(expired, removable);
  p.remove.assign(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n));
  p.expired_kept = expired - n;
  return p;
}

Plan plan_by_time_window(const ManifestState& st, int64_t cutoff, int64_t duration,
                         size_t keep_segments) {
  Plan p;
  // Segment index -> its SSTs (oldest first); SSTs without a write time
  // belong to no segment.
  std::map<int64_t, std::vector<const SstMeta*>> segments;
  for (const SstMeta* m : live_ssts(st)) {
    if (has_write_time(*m)) segments[m->max_write_ms / duration].push_back(m);
  }
  // A segment [k*d, k*d + d) is expired when k*d + d <= cutoff.
  const bool any_expired = cutoff >= INT64_MIN + duration;
  const int64_t last_expired_start = any_expired ? cutoff - duration : INT64_MIN;
  const size_t removable = segments.size() > keep_segments ? segments.size() - keep_segments : 0;
  size_t i = 0;
  for (const auto& [index, ssts] : segments) {
    // index * duration <= max_write_ms: no overflow.
    const bool expired = any_expired && index * duration <= last_expired_start;
    if (!expired) break;  // later segments end later
    if (i < removable) {
      p.remove.insert(p.remove.end(), ssts.begin(), ssts.end());
    } else {
      p.expired_kept += ssts.size();
    }
    i++;
  }
  return p;
}

}  // namespace

class RetentionCompactor::Impl {
 public:
  Impl(DBOptions db, RetentionOptions o, ManifestStoragePtr storage)
      : db_(std::move(db)),
        o_(std::move(o)),
        clock_(db_.clock ? db_.clock : Clock::system()),
        log_(std::move(storage), log_options()) {}

  ~Impl() { stop(); }

  Status open() {
    if (o_.owner.empty()) o_.owner = default_owner_name();
    ISLE_RETURN_IF_ERROR(log_.open());
    ISLE_RETURN_IF_ERROR(log_.claim(Role::kRetention, o_.owner));
    claimed_epoch_ = log_.epoch();
    return Status::OK();
  }

  // The fence epoch this object claimed (fixed after open()).
  uint64_t claimed_epoch() const { return claimed_epoch_; }
  const std::string& owner() const { return o_.owner; }

  Result<CleanupInfo> run_once() {
    std::lock_guard lk(run_mu_);
    Result<CleanupInfo> r = cycle();
    {
      std::lock_guard sl(stats_mu_);
      stats_.fenced = log_.fenced();
      if (r.ok()) {
        stats_.cleanups++;
        stats_.replans += static_cast<uint64_t>(r->replans);
        stats_.last_cleanup_ms = r->now_ms;
      } else {
        stats_.errors++;
      }
    }
    if (r.ok()) {
      if (!r->removed.empty() && o_.on_cleanup) o_.on_cleanup(*r);
    } else if (o_.on_cleanup_error) {
      o_.on_cleanup_error(r.status());
    }
    return r;
  }

  Status start() {
    loop_.start(
        [this]() -> std::optional<std::chrono::milliseconds> {
          auto r = run_once();
          if (!r.ok() && r.status().code() == Code::kFenced) return std::nullopt;
          return o_.check_interval;
        },
        std::chrono::milliseconds(0));
    return Status::OK();
  }

  void stop() { loop_.stop(); }

  Status refresh() {
    std::lock_guard lk(run_mu_);
    if (log_.fenced()) return Status::Fenced(log_.fenced_reason());
    auto r = log_.refresh();
    const bool fenced = log_.fenced();
    {
      std::lock_guard sl(stats_mu_);
      stats_.fenced = fenced;
    }
    if (fenced) return Status::Fenced(log_.fenced_reason());
    return r.status();
  }

  bool fenced() const {
    std::lock_guard lk(stats_mu_);
    return stats_.fenced;
  }

  RetentionStats stats() const {
    std::lock_guard lk(stats_mu_);
    return stats_;
  }

 private:
  struct PendingRemoval {
    std::string commit_id;
    std::vector<std::string> ids;
    uint64_t bytes = 0;
  };

  ManifestLogOptions log_options() {
    ManifestLogOptions lo = role_log_options(db_.clock, db_.lease, o_.retry_backoff, db_.gc_grace);
    lo.on_entry = [this](const LogEntry& e, bool applied) { on_log_entry(e, applied); };
    return lo;
  }

  // Every entry the ManifestLog applies or skips, ours included (called
  // under run_mu_, from inside log_ calls).
  void on_log_entry(const LogEntry& e, bool applied) {
    if (e.op != LogOp::kRemoveSstables || e.role != Role::kRetention) return;
    auto it = std::find_if(pending_.begin(), pending_.end(),
                           [&](const PendingRemoval& p) { return p.commit_id == e.commit_id; });
    if (it == pending_.end()) return;
    if (applied) {
      confirmed_.insert(confirmed_.end(), it->ids.begin(), it->ids.end());
      confirmed_bytes_ += it->bytes;
      confirmed_pos_ = e.pos;
      std::lock_guard sl(stats_mu_);
      stats_.ssts_removed += it->ids.size();
      stats_.bytes_removed += it->bytes;
    }
    // A commit id lands at most once: applied or skipped, it is resolved.
    pending_.erase(it);
  }

  Plan plan(const ManifestState& st, int64_t cutoff) const {
    if (o_.mode == RetentionMode::kByAge) return plan_by_age(st, cutoff, o_.retention_count);
    return plan_by_time_window(st, cutoff, o_.segment_duration.count(),
                               std::max<size_t>(1, o_.retention_count / 10));
  }

  Result<CleanupInfo> cycle() {
    if (log_.fenced()) return Status::Fenced(log_.fenced_reason());
    CleanupInfo info;
    info.mode = o_.mode;
    auto r = log_.refresh();
    if (log_.fenced()) return Status::Fenced(log_.fenced_reason());
    if (!r.ok()) return r.status();
    info.manifest_position = log_.state().next_pos;
    info.now_ms = clock_->now_ms();
    info.cutoff_ms = sat_sub(info.now_ms, o_.retention_period.count());
    for (;;) {
      const Plan p = plan(log_.state(), info.cutoff_ms);
      info.expired_kept = p.expired_kept;
      if (p.remove.empty()) break;
      if (info.replans >= kMaxReplans) {
        return Status::Transient("retention lost " + std::to_string(info.replans) +
                                 " races in a row; the next cycle retries");
      }
      LogEntry e;
      e.op = LogOp::kRemoveSstables;
      e.commit_id = random_token();
      PendingRemoval pending{e.commit_id, {}, 0};
      for (const SstMeta* m : p.remove) {
        e.inputs.push_back(m->id);
        pending.ids.push_back(m->id);
        pending.bytes += m->size;
      }
      if (pending_.size() >= kMaxPending) pending_.erase(pending_.begin());
      pending_.push_back(std::move(pending));
      auto pos = log_.append(std::move(e));
      if (pos.ok()) break;  // on_log_entry recorded it
      const Status& s = pos.status();
      if (log_.fenced() || s.code() == Code::kFenced) {
        return Status::Fenced(log_.fenced() ? log_.fenced_reason() : s.message());
      }
      if (s.is_precondition_failed()) {
        // Lost a race: an input is gone. The log has caught up; re-plan.
        info.replans++;
        continue;
      }
      if (s.is_unknown_outcome()) {
        // Perhaps committed: catching up tells (on_log_entry), then re-plan.
        info.replans++;
        auto again = log_.refresh();
        if (log_.fenced()) return Status::Fenced(log_.fenced_reason());
        if (!again.ok()) return again.status();
        continue;
      }
      return s;
    }
    // Report every removal confirmed since the last successful cycle.
    info.removed = std::move(confirmed_);
    info.removed_bytes = confirmed_bytes_;
    info.log_position = confirmed_pos_;
    confirmed_.clear();
    confirmed_bytes_ = 0;
    confirmed_pos_ = 0;
    if (!info.removed.empty()) maybe_snapshot();
    info.manifest_position = log_.state().next_pos;
    return info;
  }

  void maybe_snapshot() {
    if (o_.snapshot_every <= 0) return;
    if (log_.state().next_pos <
        log_.known_log_seq_start() + static_cast<uint64_t>(o_.snapshot_every)) {
      return;
    }
    (void)log_.write_snapshot();  // best effort; a later cycle tries again
  }

  const DBOptions db_;
  RetentionOptions o_;
  Clock* const clock_;

  std::mutex run_mu_;  // one cycle at a time; guards everything below to stats_mu_
  ManifestLog log_;
  uint64_t claimed_epoch_ = 0;
  std::vector<PendingRemoval> pending_;  // oldest first
  std::vector<std::string> confirmed_;   // removals not yet reported
  uint64_t confirmed_bytes_ = 0;
  uint64_t confirmed_pos_ = 0;

  mutable std::mutex stats_mu_;
  RetentionStats stats_;

  BackgroundLoop loop_;  // last: stopped before the members it uses go
};

Result<std::unique_ptr<RetentionCompactor>> RetentionCompactor::open(ObjectStorePtr store,
                                                                     const DBOptions& db,
                                                                     RetentionOptions options) {
  if (!store) return Status::InvalidArgument("RetentionCompactor::open: no object store");
  if (options.retention_period.count() <= 0) {
    return Status::InvalidArgument("RetentionOptions::retention_period must be > 0");
  }
  if (options.mode == RetentionMode::kByTimeWindow && options.segment_duration.count() <= 0) {
    return Status::InvalidArgument(
        "RetentionOptions::segment_duration must be > 0 with RetentionMode::kByTimeWindow");
  }
  if (options.mode != RetentionMode::kByAge && options.mode != RetentionMode::kByTimeWindow) {
    return Status::InvalidArgument("RetentionOptions::mode is not a RetentionMode");
  }
  if (options.check_interval.count() <= 0) {
    return Status::InvalidArgument("RetentionOptions::check_interval must be > 0");
  }
  if (options.retry_backoff.count() < 0) {
    return Status::InvalidArgument("RetentionOptions::retry_backoff must be >= 0");
  }
  if (options.snapshot_every < 0) {
    return Status::InvalidArgument("RetentionOptions::snapshot_every must be >= 0 (0 = never)");
  }
  ObjectStorePtr scoped = engine_store(std::move(store), db.prefix, options.retry_backoff);
  ManifestStoragePtr storage =
      db.manifest_storage ? db.manifest_storage : object_store_manifest_storage(scoped);
  auto impl = std::make_unique<Impl>(db, std::move(options), std::move(storage));
  ISLE_RETURN_IF_ERROR(impl->open());
  return std::make_unique<RetentionCompactor>(std::move(impl));
}

RetentionCompactor::RetentionCompactor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RetentionCompactor::~RetentionCompactor() = default;
Result<CleanupInfo> RetentionCompactor::run_cleanup() { return impl_->run_once(); }
Status RetentionCompactor::refresh() { return impl_->refresh(); }
Status RetentionCompactor::start() { return impl_->start(); }
void RetentionCompactor::stop() { impl_->stop(); }
bool RetentionCompactor::is_fenced() const { return impl_->fenced(); }
uint64_t RetentionCompactor::epoch() const { return impl_->claimed_epoch(); }
RetentionStats RetentionCompactor::stats() const { return impl_->stats(); }

}  // namespace isle
