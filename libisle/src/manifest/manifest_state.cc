// Replay rules; see manifest_state.h.
#include "manifest/manifest_state.h"

#include <algorithm>
#include <cstdio>
#include <unordered_set>

namespace isle {

std::string_view role_name(Role r) {
  switch (r) {
    case Role::kWriter: return "writer";
    case Role::kCompactor: return "compactor";
    case Role::kRetention: return "retention";
  }
  return "unknown";
}

std::optional<Role> parse_role(std::string_view name) {
  if (name == "writer") return Role::kWriter;
  if (name == "compactor") return Role::kCompactor;
  if (name == "retention") return Role::kRetention;
  return std::nullopt;
}

std::string_view log_op_name(LogOp op) {
  switch (op) {
    case LogOp::kFenceClaim: return "fence_claim";
    case LogOp::kAddSstable: return "add_sstable";
    case LogOp::kCompaction: return "compaction";
    case LogOp::kRemoveSstables: return "remove_sstables";
    case LogOp::kCheckpoint: return "checkpoint";
    case LogOp::kMaterialize: return "materialize";
  }
  return "unknown";
}

std::optional<LogOp> parse_log_op(std::string_view name) {
  for (LogOp op : {LogOp::kFenceClaim, LogOp::kAddSstable, LogOp::kCompaction,
                   LogOp::kRemoveSstables, LogOp::kCheckpoint, LogOp::kMaterialize}) {
    if (log_op_name(op) == name) return op;
  }
  return std::nullopt;
}

std::string_view apply_outcome_name(ApplyOutcome o) {
  switch (o) {
    case ApplyOutcome::kApplied: return "applied";
    case ApplyOutcome::kStaleEpoch: return "stale_epoch";
    case ApplyOutcome::kWrongRole: return "wrong_role";
    case ApplyOutcome::kInputsGone: return "inputs_gone";
    case ApplyOutcome::kDuplicateSst: return "duplicate_sst";
    case ApplyOutcome::kInlinePending: return "inline_pending";
    case ApplyOutcome::kNotOldestInline: return "not_oldest_inline";
    case ApplyOutcome::kMalformed: return "malformed";
    case ApplyOutcome::kChainBroken: return "chain_broken";
  }
  return "unknown";
}

namespace {
std::string padded(uint64_t pos) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020llu", static_cast<unsigned long long>(pos));
  return buf;
}
}  // namespace

std::string log_key(uint64_t pos) { return "manifest/log/" + padded(pos) + ".json"; }
std::string snapshot_key(uint64_t pos) {
  return "manifest/snapshots/" + padded(pos) + ".manifest";
}
std::string sst_key(std::string_view id) { return "sstable/" + std::string(id) + ".sst"; }
std::string blob_key(std::string_view h) {
  return "blobs/" + std::string(h.substr(0, 2)) + "/" + std::string(h) + ".blob";
}

size_t ManifestState::live_sst_count() const {
  size_t n = l0.size();
  for (const auto& r : runs) n += r.ssts.size();
  return n;
}

uint64_t ManifestState::live_bytes() const {
  uint64_t b = 0;
  for (const auto& s : l0) b += s.size;
  for (const auto& r : runs)
    for (const auto& s : r.ssts) b += s.size;
  return b;
}

bool ManifestState::is_live(std::string_view id) const {
  for (const auto& s : l0)
    if (s.id == id) return true;
  for (const auto& r : runs)
    for (const auto& s : r.ssts)
      if (s.id == id) return true;
  return false;
}

bool ManifestState::is_inline_pending(std::string_view id) const {
  for (const auto& s : inline_ssts)
    if (s.id == id) return true;
  return false;
}

uint64_t ManifestState::inline_bytes() const {
  uint64_t b = 0;
  for (const auto& s : inline_ssts) b += s.size;
  return b;
}

std::optional<uint64_t> ManifestState::writer_epoch_at(uint64_t pos) const {
  // The last claim strictly before pos decides.
  auto it = std::lower_bound(writer_claims.begin(), writer_claims.end(), pos,
                             [](const WriterClaim& c, uint64_t p) { return c.pos < p; });
  if (it == writer_claims.begin()) {
    if (writer_claims_trimmed) return std::nullopt;
    return uint64_t{0};
  }
  return std::prev(it)->epoch;
}

namespace {
template <typename F>
void for_each_live(const ManifestState& st, F f) {
  for (const auto& s : st.l0) f(s);
  for (const auto& s : st.inline_ssts) f(s);
  for (const auto& r : st.runs)
    for (const auto& s : r.ssts) f(s);
}
}  // namespace

std::optional<uint64_t> ManifestState::max_committed_lsn() const {
  std::optional<uint64_t> out;
  bool all = true;
  for_each_live(*this, [&](const SstMeta& s) {
    if (!s.max_lsn) { all = false; return; }
    out = out ? std::max(*out, *s.max_lsn) : *s.max_lsn;
  });
  return all ? out : std::nullopt;
}

std::optional<uint64_t> ManifestState::low_watermark_lsn() const {
  std::optional<uint64_t> out;
  bool all = true;
  for_each_live(*this, [&](const SstMeta& s) {
    if (!s.min_lsn) { all = false; return; }
    out = out ? std::min(*out, *s.min_lsn) : *s.min_lsn;
  });
  return all ? out : std::nullopt;
}

ApplyOutcome check_entry(const ManifestState& st, const LogEntry& e) {
  const Fence& f = st.fence(e.role);
  if (e.op == LogOp::kFenceClaim) {
    return e.epoch > f.epoch ? ApplyOutcome::kApplied : ApplyOutcome::kStaleEpoch;
  }
  if (f.epoch == 0 || e.epoch != f.epoch) return ApplyOutcome::kStaleEpoch;
  switch (e.op) {
    case LogOp::kAddSstable:
      if (e.role != Role::kWriter) return ApplyOutcome::kWrongRole;
      // Several flushes in flight (docs/manifest-protocol.md): a chained
      // add counts only directly after the writer data it was sent behind.
      if (e.chained && st.data_seq != e.prev_data_seq) return ApplyOutcome::kChainBroken;
      for (const auto& s : e.added) {
        // An inline SST travels alone: checked against the state before
        // the entry, a mix would let an object land below inline seqs.
        if (s.is_inline() && e.added.size() != 1) return ApplyOutcome::kMalformed;
        if (st.is_live(s.id) || st.is_inline_pending(s.id)) return ApplyOutcome::kDuplicateSst;
        if (s.is_inline() && s.level != 0) return ApplyOutcome::kMalformed;
        if (!s.is_inline() && !st.inline_ssts.empty()) return ApplyOutcome::kInlinePending;
      }
      return ApplyOutcome::kApplied;
    case LogOp::kMaterialize: {
      if (e.role != Role::kWriter) return ApplyOutcome::kWrongRole;
      if (e.inputs.empty() || e.added.size() != 1) return ApplyOutcome::kMalformed;
      if (e.inputs.size() > st.inline_ssts.size()) return ApplyOutcome::kNotOldestInline;
      uint64_t lo = UINT64_MAX, hi = 0, entries = 0;
      std::unordered_set<std::string_view> in_blobs;
      for (size_t i = 0; i < e.inputs.size(); i++) {
        const SstMeta& in = st.inline_ssts[i];
        if (in.id != e.inputs[i]) return ApplyOutcome::kNotOldestInline;
        lo = std::min(lo, in.seq_lo);
        hi = std::max(hi, in.seq_hi);
        entries += in.num_entries;
        in_blobs.insert(in.blobs.begin(), in.blobs.end());
      }
      const SstMeta& out = e.added.front();
      // The output must reference every blob its inputs did (GC keeps
      // only blobs a live SST names).
      for (const auto& b : out.blobs) in_blobs.erase(b);
      if (!in_blobs.empty()) return ApplyOutcome::kMalformed;
      if (out.is_inline() || out.level != 0 || out.seq_lo != lo || out.seq_hi != hi ||
          out.num_entries != entries) {
        return ApplyOutcome::kMalformed;
      }
      if (st.is_live(out.id) || st.is_inline_pending(out.id)) return ApplyOutcome::kDuplicateSst;
      return ApplyOutcome::kApplied;
    }
    case LogOp::kCompaction:
    case LogOp::kRemoveSstables: {
      const Role want = e.op == LogOp::kCompaction ? Role::kCompactor : Role::kRetention;
      if (e.role != want) return ApplyOutcome::kWrongRole;
      for (const auto& id : e.inputs)
        if (!st.is_live(id)) return ApplyOutcome::kInputsGone;
      if (e.op == LogOp::kCompaction) {
        std::unordered_set<std::string> in(e.inputs.begin(), e.inputs.end());
        for (const auto& s : e.added)
          if (st.is_live(s.id) && !in.count(s.id)) return ApplyOutcome::kDuplicateSst;
      }
      return ApplyOutcome::kApplied;
    }
    case LogOp::kCheckpoint:
      return ApplyOutcome::kApplied;
    case LogOp::kFenceClaim:
      break;
  }
  return ApplyOutcome::kWrongRole;
}

Result<ApplyOutcome> apply_entry(ManifestState* st, const LogEntry& e) {
  if (e.pos != st->next_pos) {
    return Status::Corruption(log_key(st->next_pos) + ": entry says it is at position " +
                              std::to_string(e.pos));
  }
  const ApplyOutcome outcome = check_entry(*st, e);
  st->next_pos++;
  if (outcome != ApplyOutcome::kApplied) {
    st->entries_skipped++;
    return outcome;
  }
  st->entries_applied++;
  switch (e.op) {
    case LogOp::kFenceClaim: {
      Fence& f = st->fence(e.role);
      f.epoch = e.epoch;
      f.owner = e.owner;
      f.claimed_at_ms = e.ts_ms;
      st->last_seq = std::max(st->last_seq, e.seq_floor);
      st->seq_reserved = std::max(st->seq_reserved, e.seq_reserved);
      if (e.role == Role::kWriter) {
        st->writer_claims.push_back(WriterClaim{e.pos, e.epoch});
        if (st->writer_claims.size() > ManifestState::kMaxWriterClaims) {
          st->writer_claims.erase(st->writer_claims.begin());
          st->writer_claims_trimmed = true;
        }
      }
      break;
    }
    case LogOp::kAddSstable:
      for (const auto& s : e.added) {
        (s.is_inline() ? st->inline_ssts : st->l0).push_back(s);
        st->last_seq = std::max(st->last_seq, s.seq_hi);
        st->data_seq = std::max(st->data_seq, s.seq_hi);
      }
      st->last_seq = std::max(st->last_seq, e.last_seq);
      st->seq_reserved = std::max(st->seq_reserved, e.seq_reserved);
      break;
    case LogOp::kCompaction:
    case LogOp::kRemoveSstables: {
      std::unordered_set<std::string> in(e.inputs.begin(), e.inputs.end());
      bool from_l0 = false;
      size_t first_run = st->runs.size();
      const size_t before = st->l0.size();
      std::erase_if(st->l0, [&](const SstMeta& s) { return in.count(s.id) > 0; });
      from_l0 = st->l0.size() != before;
      for (size_t i = 0; i < st->runs.size(); i++) {
        auto& ssts = st->runs[i].ssts;
        const size_t n = ssts.size();
        std::erase_if(ssts, [&](const SstMeta& s) { return in.count(s.id) > 0; });
        if (ssts.size() != n && first_run == st->runs.size()) first_run = i;
      }
      if (e.op == LogOp::kCompaction && !e.added.empty()) {
        SortedRun run{e.run_id, e.added};
        const size_t at = from_l0 ? 0 : first_run;
        st->runs.insert(st->runs.begin() + static_cast<std::ptrdiff_t>(at), std::move(run));
      }
      std::erase_if(st->runs, [](const SortedRun& r) { return r.ssts.empty(); });
      break;
    }
    case LogOp::kMaterialize:
      // check_entry proved the inputs are the oldest inputs.size() ones.
      st->inline_ssts.erase(st->inline_ssts.begin(),
                            st->inline_ssts.begin() + static_cast<std::ptrdiff_t>(e.inputs.size()));
      st->l0.push_back(e.added.front());
      break;
    case LogOp::kCheckpoint:
      break;
  }
  return outcome;
}

}  // namespace isle
