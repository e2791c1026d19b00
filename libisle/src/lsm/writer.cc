// Writer: memtables, the flush pipeline and group commit (DESIGN §6).
//
// Threads:
//   * callers (any number) validate, upload blobs, then under mu_ take
//     sequence numbers and insert into the active memtable;
//   * one flusher thread seals memtables (size, interval, durable waiters,
//     flush()), builds each sealed memtable's SST, uploads it create-only,
//     and commits one add_sstable entry through the ManifestLog, in order.
//     While it works, callers fill the next memtable: that is the pipeline.
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
#include "isle/writer.h"


#include <condition_variable>
#include <span>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "format/blob_ref.h"
#include "lsm/engine_store.h"
#include "lsm/memtable.h"
#include "lsm/sst_from_memtable.h"
#include "lsm/writer_impl.h"
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

  ManifestLogOptions log_options() const {
    return role_log_options(db_.clock, db_.lease, o_.retry_backoff, db_.gc_grace);
  }

  Status start() {
    if (o_.owner.empty()) o_.owner = default_owner_name();
    if (!o_.signing_key_pem.empty()) {
      auto s = Ed25519Signer::from_pem(o_.signing_key_pem);
      if (!s.ok()) return s.status().with_context("writer signing key");
      signer_ = std::make_unique<Ed25519Signer>(std::move(*s));
    }
    ISLE_RETURN_IF_ERROR(log_.open());
    ISLE_RETURN_IF_ERROR(log_.claim(Role::kWriter, o_.owner, o_.seq_reserve));
    last_seq_ = log_.state().last_seq;
    durable_seq_ = last_seq_;
    reserved_ = log_.state().seq_reserved;
    epoch_ = log_.epoch();
    active_ = std::make_shared<Memtable>();
    last_flush_start_ = SteadyClock::now() - std::chrono::hours(1);
    last_fence_check_ = SteadyClock::now();
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
    BuiltSst sst;
    bool uploaded = false;
    LogEntry entry;
  };

  void stop_thread() {
    std::lock_guard join_lk(join_mu_);
    if (flusher_.joinable()) flusher_.join();
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
    return durable_waiters_ > 0 && sealed_.empty() &&
           now - last_flush_start_ >= o_.min_flush_spacing;
  }

  void flush_loop() {
    std::unique_lock lk(mu_);
    int failures = 0;
    for (;;) {
      // Wait for work.
      for (;;) {
        if (crashed_ || terminal_.code() == Code::kFenced) return;
        const auto now = SteadyClock::now();
        if (should_seal_locked(now)) seal_locked();
        if (!sealed_.empty()) break;
        if (closing_) return;
        auto wake = now + std::chrono::seconds(1);
        if (!active_->empty()) {
          wake = std::min(wake, active_created_ + o_.flush_interval);
          if (durable_waiters_ > 0) wake = std::min(wake, last_flush_start_ + o_.min_flush_spacing);
        }
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
      pending_ = std::make_unique<Pending>();
      pending_->mem = job.mem;
      pending_->sst = std::move(built);
      pending_->entry.op = LogOp::kAddSstable;
      pending_->entry.commit_id = random_token();
    }
    Pending& p = *pending_;
    if (!p.uploaded) {
      // The id is random: "already exists" can only be our own earlier try.
      auto r = store_->put(sst_key(p.sst.meta.id), p.sst.bytes, PutOptions::create_only());
      if (!r.ok() && !r.status().is_precondition_failed()) {
        return r.status().with_context("uploading " + sst_key(p.sst.meta.id));
      }
      p.uploaded = true;
    }
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
      return pos.status();
    }
    {
      std::lock_guard lk(mu_);
      stats_.flushes++;
      stats_.bytes_flushed += p.sst.bytes.size();
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
  std::thread flusher_;
};

Result<std::unique_ptr<Writer>> open_writer_impl(ObjectStorePtr store, const DBOptions& db,
                                                 WriterOptions options,
                                                 ManifestStoragePtr storage) {
  if (options.memtable_size < 4096) return Status::InvalidArgument("memtable_size below 4 KiB");
  if (options.max_sealed_memtables < 1) return Status::InvalidArgument("max_sealed_memtables < 1");
  if (options.seq_reserve < 1024) return Status::InvalidArgument("seq_reserve below 1024");
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
