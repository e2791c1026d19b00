// The manifest protocol engine; see manifest_log.h for the rules and
// docs/manifest-protocol.md for the races they close.
#include "manifest/manifest_log.h"

#include <algorithm>
#include <thread>

#include "manifest/manifest_codec.h"
#include "manifest/manifest_state.h"
#include "util/random.h"

namespace isle {

ManifestLog::ManifestLog(ManifestStoragePtr storage, ManifestLogOptions options)
    : storage_(std::move(storage)),
      options_(std::move(options)),
      clock_(options_.clock ? options_.clock : Clock::system()) {}

int64_t ManifestLog::mono_ms() const { return clock_->mono_ns() / 1'000'000; }

void ManifestLog::backoff(int attempt) {
  const int shift = std::min(attempt, 6);
  std::this_thread::sleep_for(options_.retry_backoff * (1 << shift));
}

void ManifestLog::set_fenced(std::string why) {
  if (!fenced_) {
    fenced_ = true;
    fenced_reason_ = std::move(why);
  }
}

Status ManifestLog::open() {
  state_ = ManifestState{};
  ISLE_ASSIGN_OR_RETURN(auto current, sync_current());
  (void)current;
  return refresh().status();
}

Result<std::optional<VersionedObject>> ManifestLog::read_current_object() {
  for (int attempt = 0;; attempt++) {
    const int64_t sent = mono_ms();
    stats_.current_reads++;
    // Conditional: an unchanged CURRENT costs a request but no body.
    auto r = storage_->read_current(cached_current_ ? cached_current_->etag : std::string());
    if (r.ok() || r.status().is_not_found()) {
      last_current_read_ms_ = sent;
      if (!r.ok()) {
        cached_current_.reset();
        return std::optional<VersionedObject>();  // never written
      }
      if (r->not_modified && cached_current_ && r->etag == cached_current_->etag) {
        stats_.current_not_modified++;
        return cached_current_;
      }
      r->not_modified = false;
      cached_current_ = *r;
      return std::optional<VersionedObject>(std::move(*r));
    }
    if (!r.status().is_retryable() || attempt >= options_.transient_retries) {
      return r.status().with_context("reading manifest/CURRENT");
    }
    backoff(attempt);
  }
}

Result<std::optional<CurrentPointer>> ManifestLog::sync_current() {
  ISLE_ASSIGN_OR_RETURN(std::optional<VersionedObject> obj, read_current_object());
  if (!obj) return std::optional<CurrentPointer>();  // a database never written
  ISLE_ASSIGN_OR_RETURN(CurrentPointer c, decode_current(obj->data, kCurrentKey));
  known_log_seq_start_ = c.log_seq_start;
  if (c.log_seq_start > state_.next_pos) {
    if (c.snapshot_pos == 0) {
      return Status::Corruption("manifest/CURRENT: log_seq_start " +
                                std::to_string(c.log_seq_start) + " without a snapshot");
    }
    ISLE_RETURN_IF_ERROR(load_snapshot(c.snapshot_pos));
  }
  if (claimed() && c.fences[static_cast<size_t>(role_)].epoch > epoch_) {
    set_fenced("manifest/CURRENT records " + std::string(role_name(role_)) + " epoch " +
               std::to_string(c.fences[static_cast<size_t>(role_)].epoch) + " > ours (" +
               std::to_string(epoch_) + ")");
  }
  return std::optional<CurrentPointer>(std::move(c));
}

Status ManifestLog::load_snapshot(uint64_t pos) {
  Result<std::string> r = Status::Transient("not read");
  for (int attempt = 0;; attempt++) {
    stats_.snapshot_loads++;
    r = storage_->read_snapshot(pos);
    if (r.ok() || !r.status().is_retryable() || attempt >= options_.transient_retries) break;
    backoff(attempt);
  }
  if (!r.ok()) return r.status().with_context("reading " + snapshot_key(pos));
  ISLE_ASSIGN_OR_RETURN(ManifestState s,
                        decode_snapshot(*r, snapshot_key(pos), options_.max_inline_bytes));
  if (s.next_pos != pos) {
    return Status::Corruption(snapshot_key(pos) + ": holds the state before position " +
                              std::to_string(s.next_pos));
  }
  state_ = std::move(s);
  if (claimed() && state_.fence(role_).epoch > epoch_) {
    set_fenced(snapshot_key(pos) + " records a newer " + std::string(role_name(role_)) +
               " claim (epoch " + std::to_string(state_.fence(role_).epoch) + ")");
  }
  return Status::OK();
}

Status ManifestLog::refresh_current_if_stale() {
  if (mono_ms() - last_current_read_ms_ < options_.lease.count()) return Status::OK();
  return sync_current().status();
}

Result<std::optional<LogEntry>> ManifestLog::read_entry(uint64_t pos) {
  for (int attempt = 0;; attempt++) {
    stats_.log_reads++;
    auto r = storage_->read_log(pos);
    if (r.status().is_not_found()) return std::optional<LogEntry>();
    if (r.ok()) {
      ISLE_ASSIGN_OR_RETURN(LogEntry e, decode_entry(*r, log_key(pos)));
      if (e.pos != pos) {
        return Status::Corruption(log_key(pos) + ": entry says it is at position " +
                                  std::to_string(e.pos));
      }
      return std::optional<LogEntry>(std::move(e));
    }
    if (!r.status().is_retryable() || attempt >= options_.transient_retries) {
      return r.status().with_context("reading " + log_key(pos));
    }
    backoff(attempt);
  }
}

Result<uint64_t> ManifestLog::catch_up(const std::string& mine,
                                       std::optional<uint64_t>* mine_pos) {
  return catch_up_visit([&](const LogEntry& e, bool applied) {
    if (!mine.empty() && mine_pos && !*mine_pos && applied && e.commit_id == mine) {
      *mine_pos = e.pos;
    }
  });
}

Result<ApplyOutcome> ManifestLog::apply(const LogEntry& e) {
  const uint64_t limit = options_.max_inline_bytes;
  if (limit > 0 && e.op == LogOp::kAddSstable && e.pos == state_.next_pos) {
    uint64_t add = 0;
    for (const auto& s : e.added)
      if (s.is_inline()) add += s.size;
    if (add > 0 && check_entry(state_, e) == ApplyOutcome::kApplied) {
      const uint64_t have = state_.inline_bytes();
      if (add > limit || have > limit - add) {
        return Status::Backpressure(
            log_key(e.pos) + " would hold " + std::to_string(have + add) +
            " bytes of inline SSTs in memory, above ReaderOptions::max_inline_bytes (" +
            std::to_string(limit) + "); waiting for the writer to materialize them");
      }
    }
  }
  return apply_entry(&state_, e);
}

Result<uint64_t> ManifestLog::catch_up_visit(
    const std::function<void(const LogEntry&, bool)>& visit) {
  uint64_t n = 0;
  for (;;) {
    ISLE_RETURN_IF_ERROR(refresh_current_if_stale());
    ISLE_ASSIGN_OR_RETURN(std::optional<LogEntry> e, read_entry(state_.next_pos));
    if (!e) break;
    Result<ApplyOutcome> applied_or = apply(*e);
    if (!applied_or.ok() && applied_or.status().code() == Code::kBackpressure) {
      // Over the inline limit: a snapshot past this entry (written after
      // the materialization) may let us move on; else the state stays.
      const uint64_t at = state_.next_pos;
      ISLE_RETURN_IF_ERROR(sync_current().status());
      if (state_.next_pos != at) continue;
      return applied_or.status();
    }
    ISLE_ASSIGN_OR_RETURN(ApplyOutcome outcome, std::move(applied_or));
    n++;
    const bool applied = outcome == ApplyOutcome::kApplied;
    if (options_.on_entry) options_.on_entry(*e, applied);
    if (visit) visit(*e, applied);
    if (claimed() && state_.fence(role_).epoch > epoch_) {
      set_fenced(log_key(e->pos) + ": " + std::string(role_name(role_)) + " claimed by " +
                 state_.fence(role_).owner + " with epoch " +
                 std::to_string(state_.fence(role_).epoch));
    }
  }
  return n;
}

Result<uint64_t> ManifestLog::refresh() {
  ISLE_RETURN_IF_ERROR(refresh_current_if_stale());
  return catch_up(std::string(), nullptr);
}

Status ManifestLog::lease_check(uint64_t pos, int64_t basis_ms) {
  // Time since the last CURRENT read before this create (the re-read below
  // moves last_current_read_ms_).
  const int64_t since_read = mono_ms() - basis_ms;
  if (since_read < options_.lease.count()) return Status::OK();
  // Our lease ran out while committing: CURRENT must show that nothing
  // moved past our entry. Read it raw (sync_current would reload).
  auto r = read_current_object();
  if (!r.ok()) {
    return Status::UnknownOutcome("created " + log_key(pos) +
                                  " after the lease ran out and could not re-read CURRENT: " +
                                  r.status().to_string());
  }
  if (!r->has_value()) return Status::OK();  // no CURRENT: nothing was ever collected
  ISLE_ASSIGN_OR_RETURN(CurrentPointer c, decode_current((*r)->data, kCurrentKey));
  known_log_seq_start_ = c.log_seq_start;
  // log_seq_start moved past our entry. Two cases:
  //   * a snapshot was written after our create landed: it replayed our
  //     entry (replay cannot skip a missing position), so we committed;
  //   * our create landed after GC collected the position: invisible.
  // GC collects a position only a grace after it first saw log_seq_start
  // pass it, which was after our last CURRENT read (that read showed it
  // at or below pos). So within a grace of that read it is the first case.
  if (c.log_seq_start > pos && since_read < options_.grace.count()) {
    return Status::OK();
  }
  if (c.log_seq_start > pos) {
    set_fenced("created " + log_key(pos) + " after log_seq_start moved to " +
               std::to_string(c.log_seq_start) +
               ": this process stalled past its lease and the log was collected");
    return Status::Fenced(fenced_reason_);
  }
  if (claimed() && c.fences[static_cast<size_t>(role_)].epoch > epoch_) {
    set_fenced("after committing " + log_key(pos) + ": CURRENT records a newer " +
               std::string(role_name(role_)) + " epoch");
    return Status::Fenced(fenced_reason_);
  }
  return Status::OK();
}

Result<uint64_t> ManifestLog::commit(LogEntry entry) {
  if (entry.commit_id.empty()) entry.commit_id = random_token();
  bool unresolved = false;  // an earlier attempt may have been applied
  int transient_attempts = 0;
  auto give_up = [&](const Status& s) -> Status {
    if (unresolved && !s.is_unknown_outcome() && s.code() != Code::kFenced) {
      return Status::UnknownOutcome("commit " + entry.commit_id + " unresolved: " + s.to_string());
    }
    return s;
  };
  // Our entry was found committed at `pos` (by a read-back or catch-up).
  auto found_mine = [&](uint64_t pos) -> Result<uint64_t> {
    ISLE_RETURN_IF_ERROR(lease_check(pos));
    stats_.appends++;
    return pos;
  };

  for (;;) {
    if (fenced_ && entry.op != LogOp::kFenceClaim) return Status::Fenced(fenced_reason_);
    Status s = refresh_current_if_stale();
    if (!s.ok()) return give_up(s);
    if (entry.op == LogOp::kFenceClaim) {
      entry.epoch = state_.fence(entry.role).epoch + 1;
      // Only a writer continues the data sequence; another role's claim
      // must not move last_seq (it means "committed up to here").
      if (entry.role == Role::kWriter) {
        entry.seq_floor = state_.seq_floor();
        entry.seq_reserved = entry.seq_floor + claim_window_;
      }
    } else {
      if (fenced_) return Status::Fenced(fenced_reason_);
      const ApplyOutcome v = check_entry(state_, entry);
      if (v == ApplyOutcome::kStaleEpoch) {
        set_fenced(std::string(role_name(entry.role)) + " epoch " + std::to_string(entry.epoch) +
                   " superseded by " + std::to_string(state_.fence(entry.role).epoch));
        return Status::Fenced(fenced_reason_);
      }
      if (v != ApplyOutcome::kApplied) {
        return give_up(Status::PreconditionFailed("manifest entry no longer valid: " +
                                                  std::string(apply_outcome_name(v))));
      }
    }
    entry.pos = state_.next_pos;
    entry.ts_ms = clock_->now_ms();
    const std::string bytes = encode_entry(entry);
    s = storage_->create_log(entry.pos, bytes);

    if (s.ok()) {
      ISLE_RETURN_IF_ERROR(lease_check(entry.pos));
      ISLE_ASSIGN_OR_RETURN(ApplyOutcome outcome, apply(entry));
      if (options_.on_entry) options_.on_entry(entry, outcome == ApplyOutcome::kApplied);
      stats_.appends++;
      return entry.pos;
    }

    std::optional<uint64_t> mine;
    if (s.is_precondition_failed()) {
      // Lost the position: catch up on what others wrote (perhaps our own
      // earlier attempt), re-validate, retry at the new end.
      stats_.append_conflicts++;
      auto n = catch_up(entry.commit_id, &mine);
      if (!n.ok()) return give_up(n.status());
      if (mine) return found_mine(*mine);
      continue;
    }
    if (s.is_unknown_outcome()) {
      // The request may have landed. Read the position back.
      stats_.unknown_outcomes++;
      unresolved = true;
      auto back = read_entry(entry.pos);
      if (!back.ok()) return give_up(back.status());
      if (!back->has_value()) continue;  // not applied: retry the SAME position
      auto n = catch_up(entry.commit_id, &mine);
      if (!n.ok()) return give_up(n.status());
      if (mine) return found_mine(*mine);
      continue;
    }
    if (s.is_retryable() && transient_attempts < options_.transient_retries) {
      backoff(transient_attempts++);
      continue;
    }
    return give_up(s.with_context("creating " + log_key(entry.pos)));
  }
}

Result<bool> ManifestLog::apply_own(const LogEntry& e, int64_t basis_ms) {
  ISLE_RETURN_IF_ERROR(lease_check(e.pos, basis_ms));
  ISLE_ASSIGN_OR_RETURN(ApplyOutcome outcome, apply(e));
  const bool applied = outcome == ApplyOutcome::kApplied;
  if (options_.on_entry) options_.on_entry(e, applied);
  if (applied) stats_.appends++;
  return applied;
}

Status ManifestLog::confirm_found(uint64_t pos) {
  ISLE_RETURN_IF_ERROR(lease_check(pos));
  stats_.appends++;
  return Status::OK();
}

Result<uint64_t> ManifestLog::append(LogEntry entry) {
  if (!claimed()) return Status::InvalidArgument("append before claiming a role");
  if (entry.op == LogOp::kFenceClaim) return Status::InvalidArgument("use claim()");
  entry.role = role_;
  entry.epoch = epoch_;
  entry.owner = owner_;
  return commit(std::move(entry));
}

Status ManifestLog::claim(Role role, std::string owner, uint64_t seq_window) {
  claim_window_ = seq_window;
  ISLE_RETURN_IF_ERROR(refresh().status());
  LogEntry e;
  e.op = LogOp::kFenceClaim;
  e.role = role;
  e.owner = owner;
  // Until the claim commits we hold no fence; a previous fence is dropped.
  epoch_ = 0;
  fenced_ = false;
  fenced_reason_.clear();
  ISLE_ASSIGN_OR_RETURN(uint64_t pos, commit(std::move(e)));
  (void)pos;
  role_ = role;
  epoch_ = state_.fence(role).epoch;
  owner_ = std::move(owner);
  // Replay again: trust only the state read after our claim landed.
  ISLE_RETURN_IF_ERROR(catch_up(std::string(), nullptr).status());
  if (fenced_) return Status::Fenced(fenced_reason_);
  // Record the fence in CURRENT so that stalled processes that re-read it
  // learn of the takeover without reading the log (best effort).
  (void)update_current([&](CurrentPointer& c) {
    Fence& f = c.fences[static_cast<size_t>(role_)];
    if (f.epoch >= epoch_) return false;
    f = state_.fence(role_);
    c.next_seq_hint = std::max(c.next_seq_hint, state_.next_pos);
    c.last_seq = std::max(c.last_seq, state_.last_seq);
    return true;
  });
  return Status::OK();
}

CurrentPointer ManifestLog::pointer_from_state(uint64_t snapshot_pos) const {
  CurrentPointer c;
  c.snapshot_pos = snapshot_pos;
  c.log_seq_start = snapshot_pos == 0 ? 1 : snapshot_pos;
  c.next_seq_hint = state_.next_pos;
  c.fences = state_.fences;
  c.last_seq = state_.last_seq;
  c.max_committed_lsn = state_.max_committed_lsn();
  c.low_watermark_lsn = state_.low_watermark_lsn();
  return c;
}

Status ManifestLog::update_current(const std::function<bool(CurrentPointer&)>& mutate) {
  for (int attempt = 0; attempt < 50; attempt++) {
    ISLE_ASSIGN_OR_RETURN(std::optional<VersionedObject> obj, read_current_object());
    CurrentPointer c;
    std::string etag;
    if (obj) {
      ISLE_ASSIGN_OR_RETURN(c, decode_current(obj->data, kCurrentKey));
      etag = std::move(obj->etag);
      known_log_seq_start_ = c.log_seq_start;
    } else {
      c = pointer_from_state(0);
      c.fences = {};
      c.last_seq = 0;
    }
    if (!mutate(c)) return Status::OK();
    c.updated_ms = clock_->now_ms();
    auto w = storage_->write_current(encode_current(c), etag);
    if (w.ok()) {
      known_log_seq_start_ = c.log_seq_start;
      return Status::OK();
    }
    const Status& ws = w.status();
    if (ws.is_precondition_failed() || ws.is_unknown_outcome()) continue;  // re-read decides
    if (ws.is_retryable()) {
      backoff(attempt);
      continue;
    }
    return ws.with_context("writing manifest/CURRENT");
  }
  return Status::Transient("manifest/CURRENT: too much contention");
}

Status ManifestLog::write_snapshot() {
  const uint64_t pos = state_.next_pos;
  if (pos <= known_log_seq_start_) return Status::OK();
  const ManifestState snap = state_;
  const std::string bytes = encode_snapshot(snap);
  for (int attempt = 0;; attempt++) {
    Status s = storage_->create_snapshot(pos, bytes);
    if (s.ok() || s.is_precondition_failed()) break;  // taken = same content
    if (s.is_unknown_outcome()) {
      if (storage_->read_snapshot(pos).ok()) break;
      continue;
    }
    if (!s.is_retryable() || attempt >= options_.transient_retries) {
      return s.with_context("writing " + snapshot_key(pos));
    }
    backoff(attempt);
  }
  stats_.snapshots_written++;
  if (claimed()) {
    LogEntry e;
    e.op = LogOp::kCheckpoint;
    e.snapshot_pos = pos;
    ISLE_RETURN_IF_ERROR(append(std::move(e)).status());
  }
  return update_current([&](CurrentPointer& c) {
    if (c.log_seq_start >= pos) return false;
    c.snapshot_pos = pos;
    c.log_seq_start = pos;
    c.next_seq_hint = std::max(c.next_seq_hint, state_.next_pos);
    for (size_t i = 0; i < kNumRoles; i++) {
      if (state_.fences[i].epoch >= c.fences[i].epoch) c.fences[i] = state_.fences[i];
    }
    c.last_seq = std::max(c.last_seq, snap.last_seq);
    c.max_committed_lsn = snap.max_committed_lsn();
    c.low_watermark_lsn = snap.low_watermark_lsn();
    return true;
  });
}

}  // namespace isle
