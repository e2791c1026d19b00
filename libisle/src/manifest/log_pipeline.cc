// Several add_sstable commits in flight; see log_pipeline.h for the rules
// and docs/manifest-protocol.md ("Several flushes in flight") for the
// races they close.
#include "manifest/log_pipeline.h"

#include <algorithm>
#include <unordered_map>

#include "manifest/manifest_codec.h"
#include "manifest/manifest_state.h"
#include "util/random.h"

namespace isle {

LogPipeline::LogPipeline(ManifestLog* log, LogPipelineOptions options)
    : log_(log), options_(std::move(options)) {
  const int workers = std::max(options_.max_in_flight, 1);
  if (workers > 1) {
    for (int i = 0; i < workers; i++) workers_.emplace_back([this] { worker_loop(); });
  }
}

LogPipeline::~LogPipeline() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
    queue_.clear();  // not sent yet: never will be
  }
  work_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void LogPipeline::worker_loop() {
  std::unique_lock lk(mu_);
  for (;;) {
    work_cv_.wait(lk, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stop_, and nothing left to send
    std::shared_ptr<Attempt> a = std::move(queue_.front());
    queue_.pop_front();
    lk.unlock();
    Status s = log_->storage()->create_log(a->pos, a->bytes);
    lk.lock();
    a->done = true;
    a->result = std::move(s);
    result_cv_.notify_all();
    if (options_.on_result) {
      lk.unlock();
      options_.on_result();
      lk.lock();
    }
  }
}

size_t LogPipeline::outstanding() const {
  std::lock_guard lk(mu_);
  size_t n = 0;
  for (size_t i = 0; i < sent_; i++) n += slots_[i].attempt && !slots_[i].attempt->done;
  return n;
}

bool LogPipeline::front_ready() const {
  std::lock_guard lk(mu_);
  return sent_ > 0 && slots_.front().attempt && slots_.front().attempt->done;
}

Result<uint64_t> LogPipeline::submit(LogEntry e) {
  if (!log_->claimed() || log_->role() != Role::kWriter) {
    return Status::InvalidArgument("log pipeline: the log is not claimed as writer");
  }
  if (e.op != LogOp::kAddSstable || e.added.size() != 1) {
    return Status::InvalidArgument("log pipeline: only add_sstable entries with one SST");
  }
  const uint64_t seq_hi = e.added.front().seq_hi;
  const uint64_t prev = have_last_ ? last_data_seq_ : log_->state().data_seq;
  if (seq_hi <= prev) {
    return Status::InvalidArgument("log pipeline: SST sequences " + std::to_string(seq_hi) +
                                   " not above the previous entry's " + std::to_string(prev));
  }
  e.role = Role::kWriter;
  e.epoch = log_->epoch();
  e.owner = log_->owner();
  e.prev_data_seq = prev;
  e.chained = options_.max_in_flight > 1;
  if (e.commit_id.empty()) e.commit_id = random_token();
  Slot s;
  s.ticket = next_ticket_++;
  s.seq_hi = seq_hi;
  s.inline_sst = e.added.front().is_inline();
  s.entry = std::move(e);
  {
    std::lock_guard lk(mu_);  // front_ready() reads slots_ from other threads
    slots_.push_back(std::move(s));
  }
  last_data_seq_ = seq_hi;
  have_last_ = true;
  return slots_.back().ticket;
}

Status LogPipeline::terminal(Status s) {
  if (terminal_.ok()) terminal_ = s;
  return terminal_;
}

bool LogPipeline::epoch_current() const {
  return !log_->fenced() && log_->state().fence(Role::kWriter).epoch == log_->epoch();
}

void LogPipeline::commit_front(Progress* out, uint64_t pos) {
  out->committed.push_back({slots_.front().ticket, pos});
  stats_.committed++;
  std::lock_guard lk(mu_);
  slots_.pop_front();
}

LogPipeline::Progress LogPipeline::sequential_step() {
  // One in flight: exactly ManifestLog::append, as before pipelining.
  Progress out;
  if (slots_.empty()) return out;
  stats_.creates_sent++;
  stats_.max_in_flight_seen = std::max<uint64_t>(stats_.max_in_flight_seen, 1);
  auto pos = log_->append(slots_.front().entry);
  if (!pos.ok()) {
    out.status = log_->fenced() ? terminal(Status::Fenced(log_->fenced_reason())) : pos.status();
    return out;
  }
  commit_front(&out, *pos);
  return out;
}

LogPipeline::Progress LogPipeline::step(std::chrono::milliseconds wait) {
  Progress out;
  if (!terminal_.ok()) {
    out.status = terminal_;
    return out;
  }
  if (options_.max_in_flight <= 1) return sequential_step();
  for (int round = 0; round < 2; round++) {
    if (needs_recovery_) {
      Status s = recover(&out);
      if (!s.ok()) {
        out.status = s.code() == Code::kFenced ? terminal(s) : s;
        return out;
      }
    }
    Status s = issue(&out);
    if (!s.ok()) {
      out.status = s.code() == Code::kFenced ? terminal(s) : s;
      return out;
    }
    if (round == 0 && sent_ > 0) {
      // Until the oldest answers, or a slot frees for an entry not sent yet.
      std::unique_lock lk(mu_);
      const auto a = slots_.front().attempt;
      const size_t window = static_cast<size_t>(options_.max_in_flight);
      result_cv_.wait_for(lk, wait, [&] {
        if (a->done) return true;
        if (sent_ >= slots_.size() || issue_blocked_) return false;
        size_t n = 0;
        for (size_t i = 0; i < sent_; i++) n += !slots_[i].attempt->done;
        return n < window;
      });
    }
    if (process(&out)) break;  // no failure
    if (!terminal_.ok()) {
      out.status = terminal_;
      return out;
    }
    // A failure: recover (waits for everything in flight) and resend.
  }
  return out;
}

LogPipeline::Progress LogPipeline::drain() {
  Progress out;
  while (!slots_.empty()) {
    Progress p = step(std::chrono::milliseconds(50));
    out.committed.insert(out.committed.end(), p.committed.begin(), p.committed.end());
    if (!p.status.ok()) {
      out.status = p.status;
      return out;
    }
  }
  return out;
}

LogPipeline::Progress LogPipeline::settle() {
  Progress out;
  if (!terminal_.ok() || options_.max_in_flight <= 1) {
    out.status = terminal_;
    return out;
  }
  wait_all_sent();
  if (process(&out)) return out;
  if (!terminal_.ok()) {
    out.status = terminal_;
    return out;
  }
  Status s = recover(&out);
  if (!s.ok()) out.status = s.code() == Code::kFenced ? terminal(s) : s;
  return out;
}

Status LogPipeline::issue(Progress* out) {
  const size_t window = static_cast<size_t>(options_.max_in_flight);
  issue_blocked_ = false;
  while (outstanding() < window && sent_ < slots_.size()) {
    if (log_->fenced()) return Status::Fenced(log_->fenced_reason());
    if (sent_ == 0) {
      // Entries already read back (a lease check that failed before).
      ISLE_RETURN_IF_ERROR(pop_committed(out));
      if (slots_.empty()) return Status::OK();
      // Nothing in flight: the state is the end of what we know. Re-read
      // CURRENT when the lease ran out, or when a lease check saw
      // log_seq_start pass our position (reload: never send below it).
      if (log_->lease_expired() || log_->known_log_seq_start() > log_->state().next_pos) {
        ISLE_RETURN_IF_ERROR(log_->sync_current().status());
        ISLE_RETURN_IF_ERROR(pop_committed(out));
        if (log_->fenced()) return Status::Fenced(log_->fenced_reason());
        if (slots_.empty()) return Status::OK();
      }
      const Slot& front = slots_.front();
      const ApplyOutcome v = check_entry(log_->state(), front.entry);
      if (v == ApplyOutcome::kStaleEpoch) {
        return Status::Fenced("writer epoch " + std::to_string(log_->epoch()) + " superseded by " +
                              std::to_string(log_->state().fence(Role::kWriter).epoch));
      }
      if (v != ApplyOutcome::kApplied) {
        return Status::PreconditionFailed("manifest entry no longer valid: " +
                                          std::string(apply_outcome_name(v)));
      }
    } else {
      // Behind others in flight. Re-reading CURRENT waits for the window to
      // drain (a reload must not move the state under them).
      if (log_->lease_expired() || log_->known_log_seq_start() > log_->state().next_pos) {
        issue_blocked_ = true;
        break;
      }
      // An SST object is valid only while no inline SST is pending: send it
      // only when what is ahead of it can be judged (nothing inline ahead).
      const Slot& s = slots_[sent_];
      if (!s.inline_sst) {
        bool inline_ahead = !log_->state().inline_ssts.empty();
        for (size_t i = 0; i < sent_; i++) inline_ahead = inline_ahead || slots_[i].inline_sst;
        if (inline_ahead) {
          issue_blocked_ = true;
          break;
        }
      }
    }
    Slot& s = slots_[sent_];
    s.entry.pos = log_->state().next_pos + sent_;
    s.entry.ts_ms = log_->clock()->now_ms();
    auto a = std::make_shared<Attempt>();
    a->pos = s.entry.pos;
    a->bytes = encode_entry(s.entry);
    s.basis_ms = log_->lease_basis();
    {
      std::lock_guard lk(mu_);
      s.attempt = a;
      queue_.push_back(std::move(a));
      sent_++;
    }
    work_cv_.notify_one();
    stats_.creates_sent++;
    stats_.max_in_flight_seen = std::max<uint64_t>(stats_.max_in_flight_seen, sent_);
  }
  return Status::OK();
}

bool LogPipeline::process(Progress* out) {
  while (sent_ > 0) {
    Status r;
    {
      std::lock_guard lk(mu_);
      const auto& a = slots_.front().attempt;
      if (!a->done) return true;
      r = a->result;
    }
    if (!r.ok()) {
      if (r.is_precondition_failed()) stats_.precondition_failed++;
      else if (r.is_unknown_outcome()) stats_.unknown_outcomes++;
      else if (r.is_retryable()) stats_.transient_errors++;
      first_failure_ = r;
      needs_recovery_ = true;
      return false;
    }
    // Created at next_pos, and every position before it is applied: apply
    // it as every replayer will (the lease rule first).
    Slot& front = slots_.front();
    auto applied = log_->apply_own(front.entry, front.basis_ms);
    if (!applied.ok()) {
      if (applied.status().code() == Code::kFenced || log_->fenced()) {
        (void)terminal(log_->fenced() ? Status::Fenced(log_->fenced_reason()) : applied.status());
        return false;
      }
      // The lease re-read failed: the catch-up of a recovery round reads
      // the entry back and checks the lease again.
      first_failure_ = applied.status();
      needs_recovery_ = true;
      return false;
    }
    if (!*applied) {
      // Landed where replay skips it (cannot happen while everything
      // before it was ours and applied; kept fail-safe). Resend.
      stats_.skipped_creates++;
      first_failure_ = Status::PreconditionFailed("our create at " + log_key(front.entry.pos) +
                                                  " was skipped by replay");
      needs_recovery_ = true;
      return false;  // the recovery round catches up past it and resends
    }
    transient_failures_ = 0;
    {
      std::lock_guard lk(mu_);
      sent_--;
    }
    commit_front(out, front.entry.pos);
  }
  return true;
}

void LogPipeline::wait_all_sent() {
  std::unique_lock lk(mu_);
  for (size_t i = 0; i < sent_; i++) {
    const auto a = slots_[i].attempt;
    if (a) result_cv_.wait(lk, [&] { return a->done; });
  }
}

Status LogPipeline::recover(Progress* out) {
  stats_.recoveries++;
  // 1. Stop sending; wait for every request in flight. Their results do
  //    not matter any more: the log says what happened.
  wait_all_sent();
  {
    std::lock_guard lk(mu_);
    sent_ = 0;
    for (auto& s : slots_) s.attempt.reset();
  }
  const Status failure = first_failure_;
  // 2. Catch up: APPLIED entries with our commit_ids are committed.
  if (log_->known_log_seq_start() > log_->state().next_pos) {
    ISLE_RETURN_IF_ERROR(log_->sync_current().status());
  }
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < slots_.size(); i++) index.emplace(slots_[i].entry.commit_id, i);
  auto n = log_->catch_up_visit([&](const LogEntry& e, bool applied) {
    if (!applied) return;
    auto it = index.find(e.commit_id);
    if (it != index.end()) slots_[it->second].seen_at = e.pos;
  });
  if (!n.ok()) return n.status();
  needs_recovery_ = false;
  ISLE_RETURN_IF_ERROR(pop_committed(out));
  if (log_->fenced()) return Status::Fenced(log_->fenced_reason());
  // 3. Resend the rest (issue() does, from the new end). A transient error
  //    backs off first, and ends the step after too many in a row.
  if (failure.is_retryable()) {
    if (++transient_failures_ > options_.transient_retries) {
      transient_failures_ = 0;
      return failure.with_context("creating manifest log entries");
    }
    const int shift = std::min(transient_failures_ - 1, 6);
    std::this_thread::sleep_for(options_.retry_backoff * (1 << shift));
  } else if (!failure.is_precondition_failed() && !failure.is_unknown_outcome()) {
    // Another error (or a failed lease re-read): report it; the entries
    // stay queued for the next step.
    return failure;
  }
  return Status::OK();
}

Status LogPipeline::pop_committed(Progress* out) {
  while (!slots_.empty()) {
    Slot& s = slots_.front();
    if (s.seen_at != 0) {
      // Read back from the log: the lease rule for that position decides.
      Status c = log_->confirm_found(s.seen_at);
      if (!c.ok()) {
        if (log_->fenced()) return Status::Fenced(log_->fenced_reason());
        return c;
      }
      stats_.found_by_catch_up++;
      commit_front(out, s.seen_at);
      continue;
    }
    // A snapshot reload can pass positions we never read. While our epoch
    // is current, only our chained entries move data_seq, in order: data_seq
    // at or above this entry's seq_hi means it was applied.
    if (s.entry.chained && epoch_current() && log_->state().data_seq >= s.seq_hi) {
      stats_.found_in_snapshot++;
      commit_front(out, 0);
      continue;
    }
    break;
  }
  return Status::OK();
}

}  // namespace isle
