// Writer: memtables, the flush pipeline and group commit (DESIGN §6).
//
// Threads:
//   * callers (any number) validate, upload blobs, then under mu_ take
//     sequence numbers and insert into the active memtable;
//   * one flusher thread seals memtables (size, interval, durable waiters,
//     flush()), builds each sealed memtable's SST and commits one
//     add_sstable entry through the ManifestLog, in order. A small SST
//     (<= inline_flush_max_bytes) travels inside the entry: one create-only
//     PUT is the data write and the commit. A larger one is uploaded
//     create-only first. While it works, callers fill the next memtable:
//     that is the pipeline. The flusher is the only user of the log.
//   * a materialization helper (lsm/materializer.h; at most one at a time)
//     rewrites the pending inline SSTs into one L0 SST object and uploads
//     it; it never touches the log. The flusher commits its materialize
//     entry between flushes (docs/manifest-protocol.md, "Inline flushes").
//
// Invariants:
//   * sequences are handed out under mu_ in increasing order, and memtables
//     are sealed and committed in that same order, so "every sequence <=
//     durable_seq_ is committed" holds by construction;
//   * a memtable leaves sealed_ only after its entry committed; a failed
//     flush keeps it (and its SST id and commit_id, so a retry after an
//     unknown outcome can never commit it twice);
//   * every handed-out sequence is <= reserved_, which a committed manifest
//     entry recorded, so a successor writer starts above it;
//   * an atomic batch goes into one memtable, hence one SST, hence one
//     log entry: all of it becomes visible at once.
//   * inline SSTs are materialized oldest first, and an SST object is
//     committed by add_sstable only when no inline SST is pending (the
//     flusher materializes all of them first), so inline sequences stay
//     above every L0/run sequence (the replay rule enforces it too);
//   * a flush or materialization whose entry the log applied (seen by the
//     log's on_entry hook, matched by commit_id) is never committed again,
//     whatever the order of retries, refreshes and materializations.
//   * several flushes in flight (max_flushes_in_flight = K > 1): the
//     flusher submits sealed_[0, inflight_.size()) in order to a
//     LogPipeline (manifest/log_pipeline.h), which keeps up to K creates of
//     consecutive log positions in flight, chained, and reports them
//     committed strictly in order; a memtable still leaves sealed_ only
//     after its entry committed, so "every sequence <= durable_seq_ is
//     committed" is unchanged. Everything else that appends to the log
//     (materialization, snapshots, the idle fence check) runs only when
//     nothing is in flight. Group commit seals for durable waiters while
//     fewer than K memtables are sealed (min_flush_spacing apart). A crash
//     with flushes in flight first waits for their creates and learns
//     what they committed, as the single-flush path finishes the commit it
//     is in, so nothing it sent lands after the writer stopped. Memory:
//     in-flight flushes are sealed memtables (max_sealed_memtables x
//     memtable_size bytes). K = 1 is the single-flush path exactly.
#include "isle/writer.h"


#include <condition_variable>
#include <span>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "format/blob_ref.h"
#include "lsm/engine_store.h"
#include "lsm/materializer.h"
#include "lsm/memtable.h"
#include "lsm/sst_from_memtable.h"
#include "lsm/writer_impl.h"
#include "manifest/log_pipeline.h"
#include "manifest/manifest_log.h"
#include "util/hash.h"
#include "util/random.h"

namespace isle {

namespace {

using SteadyClock = std::chrono::steady_clock;

// One write after validation, ready for the memtable.
struct PreparedOp {
  ValueKind kind = ValueKind::kPut;
  std::string_view key;
  std::string_view value;  // payload (blob reference for kBlobRef)
  std::string blob_ref;    // owns the reference bytes
  uint64_t expires_at_ms = 0;
};

}  // namespace

class Writer::Impl {
 public:
  Impl(ObjectStorePtr store, DBOptions db, WriterOptions o, ManifestStoragePtr storage)
      : store_(std::move(store)),
        db_(std::move(db)),
        o_(std::move(o)),
        clock_(db_.clock ? db_.clock : Clock::system()),
        log_(std::move(storage), log_options()) {}

  ~Impl() { stop_thread(); }

  ManifestLogOptions log_options() {
    ManifestLogOptions lo = role_log_options(db_.clock, db_.lease, o_.retry_backoff, db_.gc_grace);
    // Flusher thread (the log's only user after start()): learn that an
    // entry of ours was applied, however the log found out (our append, a
    // read-back after a lost response, a catch-up or an idle refresh).
    lo.on_entry = [this](const LogEntry& e, bool applied) {
      if (!applied) return;
      if (pending_ && e.commit_id == pending_->entry.commit_id) pending_->committed = true;
      if (materializer_) materializer_->on_applied(e);
    };
    return lo;
  }

  Status start() {
    if (o_.owner.empty()) o_.owner = default_owner_name();
    if (!o_.signing_key_pem.empty()) {
      auto s = Ed25519Signer::from_pem(o_.signing_key_pem);
      if (!s.ok()) return s.status().with_context("writer signing key");
      signer_ = std::make_unique<Ed25519Signer>(std::move(*s));
    }
    Materializer::Params mp;
    mp.store = store_;
    mp.options = &o_;
    mp.signer = signer_.get();
    mp.gc_grace = db_.gc_grace;
    mp.wake = [this] {
      { std::lock_guard lk(mu_); }  // the flusher checks has_work() under mu_
      cv_.notify_all();
    };
    mp.committed = [this] {
      {
        std::lock_guard lk(mu_);
        stats_.materializations++;
        epoch_ = log_.epoch();
      }
      maybe_snapshot();
    };
    materializer_ = std::make_unique<Materializer>(std::move(mp));
    ISLE_RETURN_IF_ERROR(log_.open());
    ISLE_RETURN_IF_ERROR(log_.claim(Role::kWriter, o_.owner, o_.seq_reserve));
    last_seq_ = log_.state().last_seq;
    durable_seq_ = last_seq_;
    reserved_ = log_.state().seq_reserved;
    epoch_ = log_.epoch();
    active_ = std::make_shared<Memtable>();
    // Inline SSTs left by a predecessor (it crashed or was fenced before
    // materializing them): due at once.
    if (!log_.state().inline_ssts.empty()) {
      materializer_->pending_since(SteadyClock::now() - o_.inline_max_lag);
    }
    last_flush_start_ = SteadyClock::now() - std::chrono::hours(1);
    last_fence_check_ = SteadyClock::now();
    if (o_.max_flushes_in_flight > 1) {
      LogPipelineOptions po;
      po.max_in_flight = o_.max_flushes_in_flight;
      po.retry_backoff = o_.retry_backoff;
      po.on_result = [this] {
        { std::lock_guard lk(mu_); }  // the flusher waits on cv_ under mu_
        cv_.notify_all();
      };
      pipe_ = std::make_unique<LogPipeline>(&log_, po);
    }
    flusher_ = std::thread([this] { flush_loop(); });
    return Status::OK();
  }

  Status validate(std::string_view key, size_t value_size) const {
    if (key.empty()) return Status::InvalidArgument("empty key");
    if (key.size() > o_.max_key_size) {
      return Status::InvalidArgument("key of " + std::to_string(key.size()) +
                                     " bytes exceeds max_key_size (" +
                                     std::to_string(o_.max_key_size) + ")");
    }
    if (value_size > o_.max_value_size) {
      return Status::InvalidArgument("value of " + std::to_string(value_size) +
                                     " bytes exceeds max_value_size (" +
                                     std::to_string(o_.max_value_size) + ")");
    }
    return Status::OK();
  }

  // Stores a large value as a content-addressed blob (create-only; an
  // existing blob of the same hash is the same bytes). An existing blob is
  // reused only when its store timestamp is younger than a quarter of the
  // GC grace; an older one is written again (same bytes, fresh timestamp),
  // so the garbage collector, which deletes only blobs unreferenced AND a
  // grace old, cannot take it while this write commits
  // (docs/format/gc.md, "Blobs reused while GC runs").
  Status put_blob(std::string_view value, std::string* ref_out) {
    const std::string hash = sha256_hex(value);
    const std::string key = blob_key(hash);
    bool exists = false;
    ISLE_RETURN_IF_ERROR(put_blob_with_retries(key, value, PutOptions::create_only(), &exists));
    bool refreshed = false;
    if (exists) {
      // store_ is a RetryStore: transient errors and lost responses of
      // this read are retried there.
      auto meta = store_->head(key);
      if (!meta.ok() && !meta.status().is_not_found()) {
        return meta.status().with_context("checking blob " + key);
      }
      // Read after the HEAD, so the age is never understated (a re-PUT too
      // many only costs an upload).
      const int64_t now = clock_->now_ms();
      if (!meta.ok() || meta->modified_ms + db_.gc_grace.count() / 4 <= now) {
        // Old, or deleted since the create-only PUT: write it again.
        ISLE_RETURN_IF_ERROR(put_blob_with_retries(key, value, PutOptions::overwrite(), nullptr));
        refreshed = true;
      }
    }
    *ref_out = encode_blob_ref(BlobRef{hash, value.size()});
    std::lock_guard lk(mu_);
    stats_.blobs_written++;
    if (refreshed) stats_.blobs_refreshed++;
    return Status::OK();
  }

  // PUTs a blob, retrying transient errors and lost responses. With
  // create-only, `*exists` tells whether it was there already (a lost
  // response of our own earlier try counts: same bytes).
  Status put_blob_with_retries(const std::string& key, std::string_view value,
                               const PutOptions& mode, bool* exists) {
    for (int attempt = 0;; attempt++) {
      auto r = store_->put(key, value, mode);
      if (r.ok()) return Status::OK();
      if (exists && r.status().is_precondition_failed()) {
        *exists = true;
        return Status::OK();
      }
      if (!(r.status().is_retryable() || r.status().is_unknown_outcome()) || attempt >= 8) {
        return r.status().with_context("uploading blob " + key);
      }
      std::this_thread::sleep_for(o_.retry_backoff * (1 << std::min(attempt, 5)));
    }
  }

  Result<uint64_t> write(const WriteBatch& batch, bool atomic) {
    if (batch.empty()) return Status::InvalidArgument("empty batch");
    // Validate everything before anything is applied.
    for (const auto& e : batch.entries()) {
      ISLE_RETURN_IF_ERROR(validate(e.key, e.value.size()));
      if (e.ttl.count() < 0) return Status::InvalidArgument("negative ttl");
    }
    {
      std::lock_guard lk(mu_);
      if (!terminal_.ok()) return terminal_;
      if (closing_) return Status::Aborted("writer is closing");
    }
    const int64_t now = clock_->now_ms();
    std::vector<PreparedOp> ops(batch.size());
    for (size_t i = 0; i < batch.size(); i++) {
      const auto& e = batch.entries()[i];
      PreparedOp& op = ops[i];
      op.key = e.key;
      op.kind = e.op == WriteBatch::Op::kPut ? ValueKind::kPut : ValueKind::kDelete;
      op.expires_at_ms = e.ttl.count() > 0 ? static_cast<uint64_t>(now + e.ttl.count()) : 0;
      if (op.kind == ValueKind::kPut && e.value.size() >= o_.blob_threshold) {
        ISLE_RETURN_IF_ERROR(put_blob(e.value, &op.blob_ref));
        op.kind = ValueKind::kBlobRef;
        op.value = op.blob_ref;
      } else if (op.kind == ValueKind::kPut) {
        op.value = e.value;
      }
    }
    if (!atomic) {
      uint64_t last = 0;
      for (auto& op : ops) {
        ISLE_ASSIGN_OR_RETURN(last, apply({&op, 1}, now));
      }
      return last;
    }
    return apply(ops, now);
  }

  Result<uint64_t> apply(std::span<PreparedOp> ops, int64_t now) {
    size_t bytes = 0;
    for (const auto& op : ops) bytes += op.key.size() + op.value.size() + 32;
    const uint64_t n = ops.size();
    if (n > o_.seq_reserve / 2) {
      return Status::InvalidArgument("batch of " + std::to_string(n) +
                                     " operations exceeds half of seq_reserve");
    }
    std::unique_lock lk(mu_);
    for (;;) {
      if (!terminal_.ok()) return terminal_;
      if (closing_) return Status::Aborted("writer is closing");
      if (static_cast<int>(sealed_.size()) >= o_.max_sealed_memtables) {
        return Status::Backpressure(std::to_string(sealed_.size()) +
                                    " memtables are waiting to flush; retry later");
      }
      if (last_seq_ + n <= reserved_) break;
      // Out of reserved sequences: the memtables holding the used ones must
      // commit first (their entries extend the reservation).
      seal_locked();
      done_cv_.wait(lk);
    }
    // An atomic batch must land in one memtable.
    if (!active_->empty() && active_->approximate_memory_usage() + bytes > o_.memtable_size) {
      seal_locked();
    }
    for (const auto& op : ops) {
      const uint64_t seq = ++last_seq_;
      Status s = active_->add(seq, op.kind, op.key, op.value, op.expires_at_ms);
      if (!s.ok()) return s;  // only a bug can get here: inputs were validated
    }
    if (active_min_write_ms_ == 0) {
      // The memtable just became non-empty: its flush interval starts now,
      // and the flusher (which sleeps long while there is nothing to do)
      // must learn the new deadline.
      active_min_write_ms_ = now;
      active_created_ = SteadyClock::now();
      cv_.notify_all();
    }
    active_max_write_ms_ = std::max(active_max_write_ms_, now);
    if (active_->approximate_memory_usage() >= o_.memtable_size) seal_locked();
    return last_seq_;
  }

  Status await_durable(uint64_t seq, std::chrono::milliseconds timeout) {
    std::unique_lock lk(mu_);
    seq = std::min(seq, last_seq_);
    if (durable_seq_ >= seq) return Status::OK();
    durable_waiters_++;
    cv_.notify_all();
    const auto pred = [&] { return durable_seq_ >= seq || !terminal_.ok(); };
    bool done;
    if (timeout == std::chrono::milliseconds::max()) {
      done_cv_.wait(lk, pred);
      done = true;
    } else {
      done = done_cv_.wait_for(lk, timeout, pred);
    }
    durable_waiters_--;
    if (durable_seq_ >= seq) return Status::OK();
    if (!terminal_.ok()) return terminal_;
    (void)done;
    return Status::Aborted("timed out waiting for sequence " + std::to_string(seq) +
                           " to become durable (it may still commit)");
  }

  // Seals the active memtable and waits until everything written before
  // the call is committed, the writer stops, or `timeout` passes (max() =
  // no limit). On timeout the data stays where it is and the flusher keeps
  // retrying.
  Status flush(std::chrono::milliseconds timeout) {
    const auto deadline = deadline_after(timeout);
    std::unique_lock lk(mu_);
    const uint64_t target = last_seq_;
    seal_locked();
    return wait_committed_locked(lk, target, deadline, timeout, "flush");
  }

  Status close() { return close(o_.close_timeout); }

  // Stops new writes, then waits as flush(timeout) does. Committed in
  // time: stops the flusher and returns OK (or the terminal error). Timed
  // out: returns the error and leaves the writer closing — no new writes,
  // the flusher still retrying — so a later close() can finish the job.
  Status close(std::chrono::milliseconds timeout) {
    const auto deadline = deadline_after(timeout);
    std::unique_lock lk(mu_);
    if (stopped_) return Status::OK();
    closing_ = true;
    const uint64_t target = last_seq_;
    seal_locked();
    Status s = wait_committed_locked(lk, target, deadline, timeout, "close");
    if (!s.ok() && terminal_.ok()) {
      close_timed_out_ = true;
      return s;
    }
    if (terminal_.ok()) terminal_ = Status::Aborted("writer closed");
    lk.unlock();
    cv_.notify_all();
    stop_thread();
    // After a crash (simulated) there is nothing left to report.
    return s.code() == Code::kAborted ? Status::OK() : s;
  }

  // The destructor: close within close_timeout (at once if a close already
  // timed out: the owner gave up on that), then stop whatever is left, as
  // in a crash.
  void destroy() {
    bool wait;
    {
      std::lock_guard lk(mu_);
      if (stopped_) return;
      wait = !close_timed_out_;
    }
    if (wait) (void)close(o_.close_timeout);
    stop_now("writer destroyed with uncommitted writes after close_timeout");
  }

  void simulate_crash() { stop_now("writer crashed (simulated)"); }

  Status status() const {
    std::lock_guard lk(mu_);
    return terminal_.code() == Code::kFenced ? terminal_ : Status::OK();
  }

  WriterStats stats() const {
    std::lock_guard lk(mu_);
    WriterStats s = stats_;
    s.last_seq = last_seq_;
    s.durable_seq = durable_seq_;
    s.sealed_memtables = sealed_.size();
    // inline_flushes and materializations are counted in stats_.
    s.epoch = epoch_;
    return s;
  }

 private:
  struct Sealed {
    std::shared_ptr<Memtable> mem;
    int64_t min_write_ms = 0;
    int64_t max_write_ms = 0;
  };
  // The flush of sealed_.front() in progress; kept across retries.
  struct Pending {
    std::shared_ptr<Memtable> mem;
    BuiltSst sst;            // inline: the bytes are in sst.meta.inline_data
    bool is_inline = false;
    bool uploaded = false;
    SteadyClock::time_point uploaded_at;  // when its last PUT was sent
    bool committed = false;  // the log applied our entry (on_entry)
    LogEntry entry;
  };

  void stop_thread() {
    std::lock_guard join_lk(join_mu_);
    if (flusher_.joinable()) flusher_.join();
    // The flusher is gone: the helper is ours to wait for.
    if (materializer_) materializer_->wait_helper();
    std::lock_guard lk(mu_);
    stopped_ = true;
  }

  // Stops the flusher without flushing: buffered writes are dropped.
  void stop_now(const char* why) {
    {
      std::lock_guard lk(mu_);
      if (stopped_) return;
      crashed_ = true;
      if (terminal_.ok()) terminal_ = Status::Aborted(why);
    }
    cv_.notify_all();
    done_cv_.notify_all();
    stop_thread();
  }

  // nullopt = no deadline (max(), or too far to represent).
  static std::optional<SteadyClock::time_point> deadline_after(std::chrono::milliseconds t) {
    if (t >= std::chrono::hours(24 * 365 * 100)) return std::nullopt;
    return SteadyClock::now() + std::max(t, std::chrono::milliseconds(0));
  }

  // Waits until every sequence <= target is committed, the writer has a
  // terminal error, or the deadline passes (Aborted naming what is not
  // committed).
  Status wait_committed_locked(std::unique_lock<std::mutex>& lk, uint64_t target,
                               std::optional<SteadyClock::time_point> deadline,
                               std::chrono::milliseconds timeout, const char* what) {
    const auto pred = [&] { return durable_seq_ >= target || !terminal_.ok(); };
    if (deadline) {
      done_cv_.wait_until(lk, *deadline, pred);
    } else {
      done_cv_.wait(lk, pred);
    }
    if (durable_seq_ >= target) return Status::OK();
    if (!terminal_.ok()) return terminal_;
    return Status::Aborted(std::string(what) + " timed out after " +
                           std::to_string(timeout.count()) + " ms: seqs " +
                           std::to_string(durable_seq_ + 1) + ".." + std::to_string(target) +
                           " not committed (still buffered; the writer keeps retrying, and a "
                           "later flush or close can commit them)");
  }

  void seal_locked() {
    if (active_->empty()) return;
    sealed_.push_back({active_, active_min_write_ms_, active_max_write_ms_});
    active_ = std::make_shared<Memtable>();
    active_min_write_ms_ = 0;
    active_max_write_ms_ = 0;
    cv_.notify_all();
  }

  // Whether the flusher should seal the active memtable now.
  bool should_seal_locked(SteadyClock::time_point now) const {
    if (active_->empty()) return false;
    if (closing_) return true;
    if (now - active_created_ >= o_.flush_interval) return true;
    // Group commit: seal for durable waiters whenever a flush slot is free
    // (one slot without a pipeline: nothing sealed).
    return durable_waiters_ > 0 &&
           sealed_.size() < static_cast<size_t>(std::max(o_.max_flushes_in_flight, 1)) &&
           now - last_flush_start_ >= o_.min_flush_spacing;
  }

  void flush_loop() {
    std::unique_lock lk(mu_);
    int failures = 0;
    int mat_failures = 0;
    for (;;) {
      // Wait for work: a sealed memtable first; else materialization work.
      bool materialize = false;
      for (;;) {
        if (crashed_ && pipe_ && !pipe_->idle()) settle_locked(lk);
        if (crashed_ || terminal_.code() == Code::kFenced) return;
        const auto now = SteadyClock::now();
        if (should_seal_locked(now)) seal_locked();
        if (!sealed_.empty()) break;
        if (closing_) {
          // Leave no inline SST pending behind a clean close (best effort:
          // a successor materializes whatever is left).
          if (!log_.state().inline_ssts.empty()) {
            lk.unlock();
            Status ms = materializer_->materialize_all(log_);
            if (!ms.ok() && o_.on_flush_error) o_.on_flush_error(ms.with_context("materialize at close"));
            lk.lock();
          }
          return;
        }
        if (materializer_->has_work(log_.state(), now)) {
          materialize = true;
          break;
        }
        auto wake = now + std::chrono::seconds(1);
        if (!active_->empty()) {
          wake = std::min(wake, active_created_ + o_.flush_interval);
          if (durable_waiters_ > 0) wake = std::min(wake, last_flush_start_ + o_.min_flush_spacing);
        }
        wake = materializer_->wake_at(log_.state(), wake);
        if (now - last_fence_check_ >= kFenceCheckInterval) {
          // Idle: learn about a takeover even when nothing is written.
          last_fence_check_ = now;
          lk.unlock();
          auto r = log_.refresh();
          lk.lock();
          if (log_.fenced()) {
            terminal_ = Status::Fenced(log_.fenced_reason());
            done_cv_.notify_all();
            Status fenced = terminal_;
            lk.unlock();
            if (o_.on_fenced) o_.on_fenced(fenced);
            return;
          }
          (void)r;
          continue;
        }
        cv_.wait_until(lk, wake);
      }
      if (materialize) {
        lk.unlock();
        Status s = materializer_->step(log_);
        lk.lock();
        if (s.ok()) {
          mat_failures = 0;
          continue;
        }
        if (s.code() == Code::kFenced) {
          terminal_ = s;
          done_cv_.notify_all();
          lk.unlock();
          if (o_.on_fenced) o_.on_fenced(s);
          return;
        }
        materializer_->failed(mat_failures++);
        if (o_.on_flush_error) {
          lk.unlock();  // never call out under mu_
          o_.on_flush_error(s.with_context("materialization"));
          lk.lock();
        }
        continue;
      }
      if (pipe_) {
        // Several flushes in flight: submit, collect, in order.
        Status s = pump_locked(lk);
        if (s.ok()) {
          failures = 0;
          continue;
        }
        if (o_.on_flush_error) o_.on_flush_error(s);
        stats_.flush_errors++;
        if (s.code() == Code::kFenced) {
          terminal_ = s;
          done_cv_.notify_all();
          lk.unlock();
          if (o_.on_fenced) o_.on_fenced(s);
          return;
        }
        const auto backoff = o_.retry_backoff * (1 << std::min(failures++, 6));
        cv_.wait_for(lk, backoff, [&] { return crashed_; });
        continue;
      }
      Sealed job = sealed_.front();
      last_flush_start_ = SteadyClock::now();
      lk.unlock();
      Status s = flush_one(job);
      lk.lock();
      if (s.ok()) {
        failures = 0;
        sealed_.pop_front();
        durable_seq_ = std::max(durable_seq_, job.mem->max_seq());
        reserved_ = std::max(reserved_, log_.state().seq_reserved);
        last_fence_check_ = SteadyClock::now();
        done_cv_.notify_all();
        continue;
      }
      stats_.flush_errors++;
      if (s.code() == Code::kFenced) {
        terminal_ = s;
        done_cv_.notify_all();
        lk.unlock();
        if (o_.on_fenced) o_.on_fenced(s);
        return;
      }
      // Keep the memtable and retry after a backoff; crash/close wake us.
      const auto backoff = o_.retry_backoff * (1 << std::min(failures++, 6));
      cv_.wait_for(lk, backoff, [&] { return crashed_; });
    }
  }

  Status flush_one(const Sealed& job) {
    Status s = flush_steps(job);
    if (!s.ok() && o_.on_flush_error) o_.on_flush_error(s);
    return s;
  }

  Status flush_steps(const Sealed& job) {
    if (!pending_ || pending_->mem != job.mem) {
      ISLE_ASSIGN_OR_RETURN(pending_, build_pending(job));
    }
    return flush_pending();
  }

  // The flush of `job`: its SST (inline when small enough) and a fresh
  // commit_id, kept across every retry.
  Result<std::unique_ptr<Pending>> build_pending(const Sealed& job) const {
    std::unique_ptr<Pending> pending;
    {
      SstFromMemtableParams p;
      p.id = random_token();
      p.builder.block_size = o_.block_size;
      p.builder.bloom_bits_per_key = o_.bloom_bits_per_key;
      p.builder.compression = to_compression_type(o_.compression);
      p.min_write_ms = job.min_write_ms;
      p.max_write_ms = job.max_write_ms;
      p.lsn_extractor = &o_.lsn_extractor;
      p.signer = signer_.get();
      ISLE_ASSIGN_OR_RETURN(BuiltSst built, build_sst_from_memtable(*job.mem, p));
      pending = std::make_unique<Pending>();
      pending->mem = job.mem;
      pending->sst = std::move(built);
      pending->entry.op = LogOp::kAddSstable;
      pending->entry.commit_id = random_token();
      if (o_.inline_flush_max_bytes > 0 &&
          pending->sst.bytes.size() <= o_.inline_flush_max_bytes) {
        make_inline(&pending->sst, signer_.get());
        pending->is_inline = true;
      }
    }
    return pending;
  }

  Status flush_pending() {
    Pending& p = *pending_;
    if (p.committed) return flush_committed();  // an earlier try landed
    if (p.is_inline) {
      // The bounds: past twice inline_max_pending_bytes (or twice the lag)
      // the materialization is no longer left to idle time.
      if (materializer_->overdue(log_.state(), p.sst.meta.size, SteadyClock::now())) {
        ISLE_RETURN_IF_ERROR(materializer_->materialize_all(log_));
        if (p.committed) return flush_committed();
      }
    } else if (!log_.state().inline_ssts.empty()) {
      // An SST object may be committed only when no inline SST is pending.
      ISLE_RETURN_IF_ERROR(materializer_->materialize_all(log_));
      if (p.committed) return flush_committed();
    }
    ISLE_RETURN_IF_ERROR(upload(p));
    LogEntry e = p.entry;
    e.added = {p.sst.meta};
    e.last_seq = p.sst.meta.seq_hi;
    e.seq_reserved = p.sst.meta.seq_hi + o_.seq_reserve;
    // Only compactor and retention entries can come between now and the
    // commit (a writer claim fences us), so this stays true on a retry.
    e.prev_data_seq = log_.state().data_seq;
    auto pos = log_.append(std::move(e));
    if (!pos.ok()) {
      if (log_.fenced()) return Status::Fenced(log_.fenced_reason());
      if (p.committed) return flush_committed();
      return pos.status();
    }
    return flush_committed();
  }

  // Uploads the SST object of a flush that is not inline (once).
  // GC deletes an uncommitted SST object once its modified time is a grace
  // old (docs/format/gc.md, orphan sweep): one whose commit has waited a
  // quarter of the grace is put again (same id and bytes, overwrite) before
  // the next commit attempt, as blobs are.
  Status upload(Pending& p) {
    if (p.is_inline) return Status::OK();
    if (p.uploaded) {
      if (SteadyClock::now() - p.uploaded_at < db_.gc_grace / 4) return Status::OK();
      const auto sent = SteadyClock::now();
      auto r = store_->put(sst_key(p.sst.meta.id), p.sst.bytes, PutOptions::overwrite());
      if (!r.ok()) return r.status().with_context("refreshing " + sst_key(p.sst.meta.id));
      p.uploaded_at = sent;
      return Status::OK();
    }
    p.uploaded_at = SteadyClock::now();
    // The id is random: "already exists" can only be our own earlier try.
    // An unknown outcome (a lost response, or a hedged copy that may have
    // landed: store/hedged_store.h) is settled by putting again at once,
    // rather than by failing the flush: PreconditionFailed is then ours.
    auto r = store_->put(sst_key(p.sst.meta.id), p.sst.bytes, PutOptions::create_only());
    for (int i = 0; i < 3 && r.status().is_unknown_outcome(); i++) {
      r = store_->put(sst_key(p.sst.meta.id), p.sst.bytes, PutOptions::create_only());
    }
    if (!r.ok() && !r.status().is_precondition_failed()) {
      return r.status().with_context("uploading " + sst_key(p.sst.meta.id));
    }
    p.uploaded = true;
    return Status::OK();
  }

  // ---- Several flushes in flight (pipe_; flusher thread) ----

  bool snapshot_due() const {
    return o_.snapshot_every > 0 &&
           log_.state().next_pos >=
               log_.known_log_seq_start() + static_cast<uint64_t>(o_.snapshot_every);
  }

  // Called with mu_ held (returns with it held). Submits sealed memtables
  // that are not in flight yet while the window has room, then processes
  // the results that are ready; waits briefly when there was nothing to
  // do. Work that appends to the log itself (a due snapshot, a
  // materialization an SST object or the inline bounds need) first lets
  // the window drain.
  Status pump_locked(std::unique_lock<std::mutex>& lk) {
    const size_t k = static_cast<size_t>(o_.max_flushes_in_flight);
    bool progress = false;
    while (inflight_.size() < sealed_.size() && pipe_->pending() < k && !crashed_) {
      const Sealed job = sealed_[inflight_.size()];
      lk.unlock();
      Status s = submit_one(job, &progress);
      lk.lock();
      if (!s.ok()) return s;
      if (!staged_submitted_) break;  // waits for the window to drain
      staged_submitted_ = false;
      last_flush_start_ = SteadyClock::now();
    }
    lk.unlock();
    // Uploads in flight whose commits keep failing: refresh old objects
    // before the pipeline resends their entries (upload()).
    for (auto& f : inflight_) {
      if (f->committed) continue;
      if (Status us = upload(*f); !us.ok()) {
        lk.lock();
        return us;
      }
    }
    LogPipeline::Progress pr = pipe_->step(std::chrono::milliseconds(0));
    if (pipe_->idle() && snapshot_due()) maybe_snapshot();
    lk.lock();
    progress = account_committed_locked(pr) || progress;
    if (!pr.status.ok()) return pr.status;
    if (!progress) {
      // Nothing ready: wait for a result, a seal, or a crash.
      cv_.wait_for(lk, std::chrono::milliseconds(20), [&] {
        return crashed_ || pipe_->front_ready() ||
               (inflight_.size() < sealed_.size() && pipe_->pending() < k) ||
               should_seal_locked(SteadyClock::now());
      });
    }
    return Status::OK();
  }

  // mu_ held: the flushes the pipeline reported committed leave sealed_.
  bool account_committed_locked(const LogPipeline::Progress& pr) {
    for (const auto& c : pr.committed) {
      (void)c;
      std::unique_ptr<Pending> p = std::move(inflight_.front());
      inflight_.pop_front();
      durable_seq_ = std::max(durable_seq_, sealed_.front().mem->max_seq());
      sealed_.pop_front();
      stats_.flushes++;
      if (p->is_inline) stats_.inline_flushes++;
      stats_.bytes_flushed += p->sst.meta.size;
      const auto& inl = log_.state().inline_ssts;
      if (p->is_inline && !inl.empty() && inl.front().id == p->sst.meta.id) {
        materializer_->pending_since(SteadyClock::now());  // the oldest pending inline SST
      }
    }
    if (pr.committed.empty()) return false;
    reserved_ = std::max(reserved_, log_.state().seq_reserved);
    epoch_ = log_.epoch();
    last_fence_check_ = SteadyClock::now();
    done_cv_.notify_all();
    return true;
  }

  // A crash with flushes in flight: like the single-flush path, which
  // finishes the commit it is in, learn what was committed of what was
  // already sent (nothing more is sent).
  void settle_locked(std::unique_lock<std::mutex>& lk) {
    lk.unlock();
    LogPipeline::Progress pr = pipe_->settle();
    lk.lock();
    account_committed_locked(pr);
  }

  // Flusher, mu_ not held: builds (once) and submits the flush of `job`;
  // sets staged_submitted_ when it went into the pipeline.
  Status submit_one(const Sealed& job, bool* progress) {
    if (!staged_ || staged_->mem != job.mem) {
      ISLE_ASSIGN_OR_RETURN(staged_, build_pending(job));
    }
    Pending& p = *staged_;
    // The inline bounds count the inline flushes in flight as pending.
    const ManifestState& st = log_.state();
    uint64_t inline_in_flight = 0;
    bool inline_ahead = !st.inline_ssts.empty();
    for (const auto& f : inflight_) {
      if (f->is_inline) {
        inline_ahead = true;
        inline_in_flight += f->sst.meta.size;
      }
    }
    const bool materialize =
        p.is_inline
            ? materializer_->overdue(st, inline_in_flight + p.sst.meta.size, SteadyClock::now())
            : inline_ahead;
    if (materialize || snapshot_due()) {
      if (!pipe_->idle()) return Status::OK();  // drain first
      if (snapshot_due()) maybe_snapshot();
      if (materialize) ISLE_RETURN_IF_ERROR(materializer_->materialize_all(log_));
      *progress = true;
    }
    ISLE_RETURN_IF_ERROR(upload(p));
    LogEntry e = p.entry;
    e.added = {p.sst.meta};
    e.last_seq = p.sst.meta.seq_hi;
    e.seq_reserved = p.sst.meta.seq_hi + o_.seq_reserve;
    ISLE_RETURN_IF_ERROR(pipe_->submit(std::move(e)).status());
    inflight_.push_back(std::move(staged_));
    staged_submitted_ = true;
    *progress = true;
    return Status::OK();
  }

  // The entry of pending_ was applied: count it and move on.
  Status flush_committed() {
    Pending& p = *pending_;
    if (p.is_inline && log_.state().inline_ssts.size() == 1 &&
        log_.state().inline_ssts.front().id == p.sst.meta.id) {
      materializer_->pending_since(SteadyClock::now());  // the oldest pending inline SST
    }
    {
      std::lock_guard lk(mu_);
      stats_.flushes++;
      if (p.is_inline) stats_.inline_flushes++;
      stats_.bytes_flushed += p.sst.meta.size;
      epoch_ = log_.epoch();
    }
    pending_.reset();
    maybe_snapshot();
    return Status::OK();
  }

  void maybe_snapshot() {
    if (o_.snapshot_every <= 0) return;
    if (log_.state().next_pos < log_.known_log_seq_start() + static_cast<uint64_t>(o_.snapshot_every)) {
      return;
    }
    Status s = log_.write_snapshot();
    if (s.ok()) {
      std::lock_guard lk(mu_);
      stats_.snapshots++;
    } else if (o_.on_flush_error) {
      o_.on_flush_error(s.with_context("manifest snapshot"));
    }
  }

  static constexpr std::chrono::seconds kFenceCheckInterval{10};

  const ObjectStorePtr store_;
  const DBOptions db_;
  WriterOptions o_;
  Clock* const clock_;
  std::unique_ptr<Ed25519Signer> signer_;

  mutable std::mutex mu_;
  std::condition_variable cv_;       // wakes the flusher
  std::condition_variable done_cv_;  // durable progress, errors
  std::shared_ptr<Memtable> active_;
  SteadyClock::time_point active_created_;
  int64_t active_min_write_ms_ = 0;
  int64_t active_max_write_ms_ = 0;
  std::deque<Sealed> sealed_;
  uint64_t last_seq_ = 0;
  uint64_t durable_seq_ = 0;
  uint64_t reserved_ = 0;
  uint64_t epoch_ = 0;
  int durable_waiters_ = 0;
  SteadyClock::time_point last_flush_start_;
  SteadyClock::time_point last_fence_check_;
  Status terminal_;
  bool closing_ = false;          // close() began: no new writes
  bool close_timed_out_ = false;  // a close() returned on its deadline
  bool crashed_ = false;
  bool stopped_ = false;          // the flusher was joined
  std::mutex join_mu_;            // one joiner at a time
  WriterStats stats_;

  // Flusher thread only (after start()).
  ManifestLog log_;
  std::unique_ptr<Pending> pending_;
  // Several flushes in flight (max_flushes_in_flight > 1): the pipeline,
  // the flushes of sealed_[0, inflight_.size()) in it (in order), and the
  // next one built but not submitted yet.
  std::unique_ptr<LogPipeline> pipe_;
  std::deque<std::unique_ptr<Pending>> inflight_;
  std::unique_ptr<Pending> staged_;
  bool staged_submitted_ = false;
  std::unique_ptr<Materializer> materializer_;  // made in start()
  std::thread flusher_;
};

Result<std::unique_ptr<Writer>> open_writer_impl(ObjectStorePtr store, const DBOptions& db,
                                                 WriterOptions options,
                                                 ManifestStoragePtr storage) {
  if (options.memtable_size < 4096) return Status::InvalidArgument("memtable_size below 4 KiB");
  if (options.max_sealed_memtables < 1) return Status::InvalidArgument("max_sealed_memtables < 1");
  if (options.max_flushes_in_flight < 1 || options.max_flushes_in_flight > 64) {
    return Status::InvalidArgument("max_flushes_in_flight must be 1 .. 64");
  }
  if (options.seq_reserve < 1024) return Status::InvalidArgument("seq_reserve below 1024");
  if (options.inline_flush_max_bytes > kMaxInlineSstBytes) {
    return Status::InvalidArgument("inline_flush_max_bytes above " +
                                   std::to_string(kMaxInlineSstBytes));
  }
  if (options.inline_flush_max_bytes > 0) {
    // The most inline bytes this writer can leave pending: twice
    // inline_max_pending_bytes (the materializer's hard bound), or a full
    // window of inline flushes sent while none was pending. It must stay
    // below the readers' default max_inline_bytes (64 MiB), which refuses
    // a log holding more, so a writer config cannot lock default readers out.
    constexpr uint64_t kMaxWriterPendingInline = uint64_t{32} << 20;
    const uint64_t window = static_cast<uint64_t>(std::max(options.max_flushes_in_flight, 1)) *
                            options.inline_flush_max_bytes;
    if (options.inline_max_pending_bytes > kMaxWriterPendingInline / 2 ||
        2 * options.inline_max_pending_bytes + window > kMaxWriterPendingInline) {
      return Status::InvalidArgument(
          "2 * inline_max_pending_bytes + max_flushes_in_flight * inline_flush_max_bytes "
          "must be at most " + std::to_string(kMaxWriterPendingInline) +
          " bytes (the most inline bytes a writer may leave pending; readers refuse "
          "more than ReaderOptions::max_inline_bytes, 64 MiB by default)");
    }
  }
  // Values below the threshold are stored inline in SSTs, which cap a
  // stored value (expiry prefix included) at kMaxSstValueSize.
  if (options.blob_threshold == 0 || options.blob_threshold > kMaxSstValueSize - 16) {
    return Status::InvalidArgument("blob_threshold must be 1 .. " +
                                   std::to_string(kMaxSstValueSize - 16) + " bytes");
  }
  if (options.max_key_size == 0 || options.max_key_size > kMaxSstKeySize - kInternalKeyTrailer) {
    return Status::InvalidArgument("max_key_size must be 1 .. " +
                                   std::to_string(kMaxSstKeySize - kInternalKeyTrailer));
  }
  SstBuilderOptions bo;
  bo.block_size = options.block_size;
  bo.bloom_bits_per_key = options.bloom_bits_per_key;
  ISLE_RETURN_IF_ERROR(SstBuilder::validate_options(bo).with_context("writer options"));
  auto impl = std::make_unique<Writer::Impl>(std::move(store), db, std::move(options),
                                             std::move(storage));
  ISLE_RETURN_IF_ERROR(impl->start());
  return std::make_unique<Writer>(std::move(impl));
}

Writer::Writer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Writer::~Writer() {
  if (impl_) impl_->destroy();
}

Result<uint64_t> Writer::put(std::string_view key, std::string_view value) {
  WriteBatch b;
  b.put(key, value);
  return impl_->write(b, true);
}
Result<uint64_t> Writer::put_with_ttl(std::string_view key, std::string_view value,
                                      std::chrono::milliseconds ttl) {
  if (ttl.count() <= 0) return Status::InvalidArgument("ttl must be positive");
  WriteBatch b;
  b.put_with_ttl(key, value, ttl);
  return impl_->write(b, true);
}
Result<uint64_t> Writer::del(std::string_view key) {
  WriteBatch b;
  b.del(key);
  return impl_->write(b, true);
}
Result<uint64_t> Writer::del_with_ttl(std::string_view key, std::chrono::milliseconds ttl) {
  if (ttl.count() <= 0) return Status::InvalidArgument("ttl must be positive");
  WriteBatch b;
  b.del_with_ttl(key, ttl);
  return impl_->write(b, true);
}
Result<uint64_t> Writer::write(const WriteBatch& batch, const WriteOptions& options) {
  return impl_->write(batch, options.atomic);
}
Status Writer::await_durable(uint64_t seq, std::chrono::milliseconds timeout) {
  return impl_->await_durable(seq, timeout);
}
Status Writer::flush() { return impl_->flush(std::chrono::milliseconds::max()); }
Status Writer::flush(std::chrono::milliseconds timeout) { return impl_->flush(timeout); }
Status Writer::close() { return impl_->close(); }
Status Writer::close(std::chrono::milliseconds timeout) { return impl_->close(timeout); }
Status Writer::status() const { return impl_->status(); }
WriterStats Writer::stats() const { return impl_->stats(); }
void Writer::simulate_crash() { impl_->simulate_crash(); }

}  // namespace isle
