// Materialization of inline SSTs; see materializer.h.
#include "lsm/materializer.h"

#include <algorithm>
#include <thread>

#include "util/random.h"

namespace isle {

void Materializer::on_applied(const LogEntry& e) {
  if (mat_ && e.commit_id == mat_->entry.commit_id) mat_->committed = true;
  if (e.op == LogOp::kAddSstable) {
    for (const auto& s : e.added)
      if (s.is_inline()) inline_applied_.emplace_back(s.id, SteadyClock::now());
  } else if (e.op == LogOp::kMaterialize) {
    std::erase_if(inline_applied_, [&](const auto& a) {
      return std::find(e.inputs.begin(), e.inputs.end(), a.first) != e.inputs.end();
    });
  }
}

bool Materializer::has_work(const ManifestState& st, SteadyClock::time_point now) const {
  if (mat_) return now >= retry_after_;
  if (helper_.joinable()) return helper_done_.load();
  if (st.inline_ssts.empty() || now < retry_after_) return false;
  return st.inline_bytes() > p_.options->inline_max_pending_bytes ||
         now - inline_since_ >= p_.options->inline_max_lag;
}

Materializer::SteadyClock::time_point Materializer::wake_at(const ManifestState& st,
                                                            SteadyClock::time_point cap) const {
  if (mat_) return std::min(cap, retry_after_);  // retry its commit
  if (helper_.joinable() || st.inline_ssts.empty()) return cap;  // the helper wakes us
  return std::min(cap, std::max(inline_since_ + p_.options->inline_max_lag, retry_after_));
}

bool Materializer::overdue(const ManifestState& st, uint64_t next_bytes,
                           SteadyClock::time_point now) const {
  if (st.inline_ssts.empty()) return false;
  return st.inline_bytes() + next_bytes > 2 * p_.options->inline_max_pending_bytes ||
         now - inline_since_ >= 2 * p_.options->inline_max_lag;
}

void Materializer::failed(int failures) {
  retry_after_ = SteadyClock::now() + p_.options->retry_backoff * (1 << std::min(failures, 6));
}

Status Materializer::collect() {
  helper_.join();
  helper_done_ = false;
  std::optional<Built> r;
  {
    std::lock_guard lk(result_mu_);
    r.swap(result_);
  }
  ISLE_ASSIGN_OR_RETURN(mat_, std::move(*r));
  return Status::OK();
}

Status Materializer::step(ManifestLog& log) {
  if (helper_.joinable() && !mat_) {
    if (!helper_done_.load()) return Status::OK();
    ISLE_RETURN_IF_ERROR(collect());
  }
  if (mat_) return commit(log);
  const ManifestState& st = log.state();
  if (st.inline_ssts.empty()) return Status::OK();
  helper_ = std::thread([this, inputs = st.inline_ssts]() {
    Built r = build_and_upload(inputs);
    {
      std::lock_guard lk(result_mu_);
      result_.emplace(std::move(r));
    }
    helper_done_ = true;
    if (p_.wake) p_.wake();
  });
  return Status::OK();
}

Status Materializer::materialize_all(ManifestLog& log) {
  for (;;) {
    if (helper_.joinable() && !mat_) ISLE_RETURN_IF_ERROR(collect());
    if (mat_) {
      ISLE_RETURN_IF_ERROR(commit(log));
      continue;
    }
    if (log.state().inline_ssts.empty()) return Status::OK();
    ISLE_ASSIGN_OR_RETURN(mat_, build_and_upload(log.state().inline_ssts));
  }
}

Status Materializer::commit(ManifestLog& log) {
  Materialization& m = *mat_;
  if (!m.committed) {
    // GC's orphan sweep deletes an uncommitted SST object once its
    // modified time is a grace old; one that waited a quarter of the grace
    // (commits failing) is put again, same id and bytes, before the entry
    // naming it may commit (as the writer does for blobs).
    if (SteadyClock::now() - m.uploaded_at >= p_.gc_grace / 4) {
      ISLE_RETURN_IF_ERROR(upload(m, /*overwrite=*/true));
    }
    LogEntry e = m.entry;
    e.inputs.clear();
    for (const auto& in : m.inputs) e.inputs.push_back(in.id);
    e.added = {m.sst.meta};
    auto pos = log.append(std::move(e));
    if (!pos.ok() && !m.committed) {
      if (log.fenced()) return Status::Fenced(log.fenced_reason());
      if (pos.status().is_precondition_failed()) {
        // No longer the oldest pending SSTs (cannot happen while we hold
        // the fence): drop it; its object is an orphan GC collects.
        mat_.reset();
      }
      return pos.status().with_context("committing materialization");
    }
  }
  // What is left is as old as the oldest still pending: an inline SST
  // committed while the helper built is already that old. One we did not
  // see applied (a predecessor's) is due at once.
  const ManifestState& st = log.state();
  if (!st.inline_ssts.empty()) {
    inline_since_ = SteadyClock::now() - p_.options->inline_max_lag;
    for (const auto& [id, t] : inline_applied_) {
      if (id == st.inline_ssts.front().id) inline_since_ = t;
    }
  }
  mat_.reset();
  if (p_.committed) p_.committed();
  return Status::OK();
}

Materializer::Built Materializer::build_and_upload(const std::vector<SstMeta>& inputs) const {
  const WriterOptions& o = *p_.options;
  MaterializeParams mp;
  mp.id = random_token();
  mp.builder.block_size = o.block_size;
  mp.builder.bloom_bits_per_key = o.bloom_bits_per_key;
  mp.builder.compression = to_compression_type(o.compression);
  // The inputs' LSN ranges were computed by the extractor over the same
  // keys, so their union is exact; the extractor is not called from here.
  mp.lsn_extractor = nullptr;
  mp.signer = p_.signer;
  auto m = std::make_unique<Materialization>();
  m->inputs = inputs;
  ISLE_ASSIGN_OR_RETURN(m->sst, build_materialized_sst(inputs, mp));
  m->entry.op = LogOp::kMaterialize;
  m->entry.commit_id = random_token();
  ISLE_RETURN_IF_ERROR(upload(*m, /*overwrite=*/false));
  return Built(std::move(m));
}

Status Materializer::upload(Materialization& m, bool overwrite) const {
  const std::string key = sst_key(m.sst.meta.id);
  const auto sent = SteadyClock::now();
  for (int attempt = 0;; attempt++) {
    // The id is random: "already exists" can only be our own earlier try.
    auto r = p_.store->put(key, m.sst.bytes,
                           overwrite ? PutOptions::overwrite() : PutOptions::create_only());
    if (r.ok() || (!overwrite && r.status().is_precondition_failed())) break;
    if (!(r.status().is_retryable() || r.status().is_unknown_outcome()) || attempt >= 8) {
      return r.status().with_context("uploading materialized " + key);
    }
    std::this_thread::sleep_for(p_.options->retry_backoff * (1 << std::min(attempt, 5)));
  }
  m.uploaded_at = sent;
  return Status::OK();
}

}  // namespace isle
