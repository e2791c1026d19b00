// Compactor: picks, merges and commits compactions (isle/compactor.h has
// the policy; DESIGN §9).
//
// One cycle:
//   1. refresh the manifest (our ManifestLog holds the compactor fence);
//   2. pick inputs: all of L0, or a window of similar-sized runs;
//   3. split the inputs into "components" — groups whose key ranges
//      overlap, which are disjoint intervals in key order. A component of
//      one SST is moved as it is (when nothing would be dropped from it);
//      every other component is merged into fresh SSTs, cut at the target
//      size, so the outputs of all components form one sorted run;
//   4. commit one `compaction` entry: inputs out, outputs in as one run.
//
// Correctness rests on three rules:
//   * within the merged inputs only the newest version of a key is kept:
//     anything older is shadowed for every reader of any later view;
//   * tombstones and expired entries are dropped only when the inputs
//     include the oldest run (or L0 with no runs at all), because otherwise
//     an older version in a run not being merged would resurface;
//   * the commit re-validates that every input is still live (replay
//     does too), so a racing retention removal makes the compaction a
//     no-op whose outputs become orphans for GC — never duplicated data;
//   * nothing is committed unless every merged input hashed to its
//     manifest sha256 and size and every byte the merge was served is a
//     byte of that hashed object (DigestingSource, finished before the
//     commit); a signed input is merged only by a compactor that signs;
//     and, with verify keys, every input's signature verified
//     before it was read or moved: outputs signed by our key only ever
//     hold data that someone holding a verify key's private key signed.
#include "isle/compactor.h"


#include <algorithm>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "format/blob_ref.h"
#include "format/sink.h"
#include "format/sst_builder.h"
#include "format/read_ahead_source.h"
#include "util/background_loop.h"
#include "format/sst_reader.h"
#include "format/sst_source.h"
#include "lsm/engine_store.h"
#include "lsm/internal_iterator.h"
#include "lsm/merging_iterator.h"
#include "lsm/sst_from_memtable.h"
#include "lsm/sst_verify.h"
#include "maint/digesting_source.h"
#include "manifest/manifest_log.h"
#include "util/hash.h"
#include "util/random.h"
#include "util/signing.h"

namespace isle {

namespace {

uint64_t run_bytes(const SortedRun& r) {
  uint64_t b = 0;
  for (const auto& s : r.ssts) b += s.size;
  return b;
}

struct Plan {
  std::vector<SstMeta> inputs;
  bool from_l0 = false;
  bool oldest = false;  // inputs include the oldest data: drop tombstones/expired
};

// Groups of inputs whose key ranges overlap (transitively), in key order.
std::vector<std::vector<SstMeta>> components(std::vector<SstMeta> ssts) {
  std::sort(ssts.begin(), ssts.end(),
            [](const SstMeta& a, const SstMeta& b) { return a.min_key < b.min_key; });
  std::vector<std::vector<SstMeta>> out;
  std::string end;
  for (auto& s : ssts) {
    if (out.empty() || s.min_key > end) {
      out.emplace_back();
      end = s.max_key;
    } else {
      end = std::max(end, s.max_key);
    }
    out.back().push_back(std::move(s));
  }
  return out;
}

}  // namespace

class Compactor::Impl {
 public:
  Impl(ObjectStorePtr store, DBOptions db, CompactorOptions o, ManifestStoragePtr storage)
      : store_(std::move(store)),
        db_(std::move(db)),
        o_(std::move(o)),
        clock_(db_.clock ? db_.clock : Clock::system()),
        log_(std::move(storage), log_options()) {}

  ~Impl() { stop(); }

  ManifestLogOptions log_options() const {
    return role_log_options(db_.clock, db_.lease, o_.retry_backoff, db_.gc_grace);
  }

  Status open() {
    if (!o_.verify_public_key_pem.empty()) {
      auto ring = Ed25519KeyRing::from_pem(o_.verify_public_key_pem);
      if (!ring.ok()) return ring.status().with_context("compactor verify_public_key_pem");
      ring_ = std::move(*ring);
    }
    if (!o_.signing_key_pem.empty()) {
      if (!ring_) {
        return Status::InvalidArgument(
            "compactor signing_key_pem needs verify_public_key_pem: outputs are signed only "
            "when their inputs were verified");
      }
      auto signer = Ed25519Signer::from_pem(o_.signing_key_pem);
      if (!signer.ok()) return signer.status().with_context("compactor signing_key_pem");
      // Our own outputs are inputs of later merges: our key verifies them.
      auto ring =
          Ed25519KeyRing::from_pem(o_.verify_public_key_pem + "\n" + signer->public_key_pem());
      if (!ring.ok()) return ring.status().with_context("compactor verify_public_key_pem");
      ring_ = std::move(*ring);
      signer_ = std::move(*signer);
    }
    if (o_.owner.empty()) o_.owner = default_owner_name();
    ISLE_RETURN_IF_ERROR(log_.open());
    ISLE_RETURN_IF_ERROR(log_.claim(Role::kCompactor, o_.owner));
    claimed_epoch_ = log_.epoch();
    return Status::OK();
  }

  // The fence epoch this object claimed (fixed after open()).
  uint64_t claimed_epoch() const { return claimed_epoch_; }
  const std::string& owner() const { return o_.owner; }

  Result<CompactionInfo> run_once() {
    std::lock_guard lk(run_mu_);
    if (log_.fenced()) return Status::Fenced(log_.fenced_reason());
    auto r = log_.refresh();
    if (log_.fenced()) return Status::Fenced(log_.fenced_reason());
    if (!r.ok()) return r.status();
    std::optional<Plan> plan = pick(log_.state());
    CompactionInfo info;
    info.manifest_position = log_.state().next_pos;
    if (!plan) return info;
    info.from_l0 = plan->from_l0;
    info.drops_tombstones = plan->oldest;
    for (const auto& s : plan->inputs) {
      info.inputs.push_back(s.id);
      info.input_bytes += s.size;
      info.entries_in += s.num_entries;
    }
    if (o_.on_start) o_.on_start(info);
    Status s = execute(*plan, &info);
    if (o_.on_end) o_.on_end(info, s);
    if (!s.ok()) {
      if (log_.fenced()) return Status::Fenced(log_.fenced_reason());
      return s;
    }
    maybe_snapshot();
    info.manifest_position = log_.state().next_pos;
    return info;
  }

  Status refresh() {
    std::lock_guard lk(run_mu_);
    if (log_.fenced()) return Status::Fenced(log_.fenced_reason());
    auto r = log_.refresh();
    if (log_.fenced()) return Status::Fenced(log_.fenced_reason());
    return r.status();
  }

  Status start() {
    loop_.start([this] { return loop_step(); }, std::chrono::milliseconds(0));
    return Status::OK();
  }

  void stop() { loop_.stop(); }

  bool fenced() const {
    std::lock_guard lk(run_mu_);
    return log_.fenced();
  }

 private:
  std::optional<Plan> pick(const ManifestState& st) const {
    Plan p;
    if (static_cast<int>(st.l0.size()) >= o_.l0_threshold) {
      p.inputs = st.l0;
      p.from_l0 = true;
      p.oldest = st.runs.empty();
      return p;
    }
    // The newest window of consecutive runs of similar size.
    const size_t n = st.runs.size();
    for (size_t i = 0; i < n; i++) {
      uint64_t lo = run_bytes(st.runs[i]), hi = lo;
      size_t j = i;
      while (j + 1 < n && static_cast<int>(j - i + 1) < o_.max_sources) {
        const uint64_t next = run_bytes(st.runs[j + 1]);
        const uint64_t nlo = std::min(lo, next), nhi = std::max(hi, next);
        if (static_cast<double>(nhi) > o_.size_ratio * static_cast<double>(std::max<uint64_t>(nlo, 1))) break;
        lo = nlo;
        hi = nhi;
        j++;
      }
      if (static_cast<int>(j - i + 1) >= o_.min_sources) {
        for (size_t k = i; k <= j; k++)
          for (const auto& s : st.runs[k].ssts) p.inputs.push_back(s);
        p.oldest = j == n - 1;
        // L0 data is newer than every run, so a merge that ends at the
        // oldest run holds the oldest data of every key it contains.
        return p;
      }
    }
    return std::nullopt;
  }

  // Opens a merged input. Every byte the merge is served comes through a
  // DigestingSource (granule-checked, hashed in order);
  // `digest`->finish() must pass before anything built from them commits.
  Result<std::shared_ptr<const SstReader>> open_input(const SstMeta& m,
                                                      std::shared_ptr<DigestingSource>* digest) {
    if (ring_) ISLE_RETURN_IF_ERROR(verify_sst_signature(m, *ring_));
    SstReaderOptions ro;
    const uint64_t piece = o_.read_ahead_bytes > 0 ? o_.read_ahead_bytes : uint64_t{1} << 20;
    *digest = std::make_shared<DigestingSource>(
        std::make_shared<ObjectStoreSource>(store_, sst_key(m.id)), m.id, m.size, m.sha256, piece);
    std::shared_ptr<RandomAccessSource> source = *digest;
    if (o_.read_ahead_bytes > 0) {
      source = std::make_shared<ReadAheadSource>(std::move(source), m.size, o_.read_ahead_bytes);
    }
    auto r = SstReader::open(std::move(source), ro);
    if (!r.ok()) return r.status();
    return std::shared_ptr<const SstReader>(std::move(*r));
  }

  // Uploads one finished output; at most one upload runs while the next
  // output is built.
  Status wait_upload() {
    if (!upload_.valid()) return Status::OK();
    return upload_.get();
  }
  Status start_upload(std::string id, std::string bytes) {
    ISLE_RETURN_IF_ERROR(wait_upload());
    upload_ = std::async(std::launch::async, [this, id = std::move(id), bytes = std::move(bytes)] {
      for (int attempt = 0;; attempt++) {
        auto r = store_->put(sst_key(id), bytes, PutOptions::create_only());
        // A random id: "exists" can only be our own earlier attempt.
        if (r.ok() || r.status().is_precondition_failed()) return Status::OK();
        if (attempt >= 5 || !(r.status().is_retryable() || r.status().is_unknown_outcome())) {
          return r.status().with_context("uploading compaction output " + sst_key(id));
        }
        std::this_thread::sleep_for(o_.retry_backoff * (1 << attempt));
      }
    });
    return Status::OK();
  }

  // Merges one component into outputs appended to `out`.
  Status merge_component(const std::vector<SstMeta>& comp, bool oldest,
                         std::vector<SstMeta>* out, CompactionInfo* info) {
    std::vector<std::unique_ptr<InternalIterator>> children;
    std::vector<std::shared_ptr<DigestingSource>> digests;
    int64_t min_write = INT64_MAX, max_write = INT64_MIN;
    // Without an extractor: the union of the inputs' LSN ranges, when all
    // have one.
    std::optional<uint64_t> union_min, union_max;
    bool union_all = true;
    for (const auto& m : comp) {
      std::shared_ptr<DigestingSource> digest;
      ISLE_ASSIGN_OR_RETURN(auto reader, open_input(m, &digest));
      digests.push_back(std::move(digest));
      children.push_back(new_sst_iterator(std::move(reader)));
      min_write = std::min(min_write, m.min_write_ms);
      max_write = std::max(max_write, m.max_write_ms);
      if (!m.min_lsn || !m.max_lsn) {
        union_all = false;
      } else {
        union_min = union_min ? std::min(*union_min, *m.min_lsn) : *m.min_lsn;
        union_max = union_max ? std::max(*union_max, *m.max_lsn) : *m.max_lsn;
      }
    }
    auto it = new_merging_iterator(std::move(children));
    const bool extract = static_cast<bool>(o_.lsn_extractor);
    // With an extractor: the exact range of the current output's keys.
    std::optional<uint64_t> out_min, out_max;
    bool out_all = true;
    const auto now = static_cast<uint64_t>(clock_->now_ms());

    std::unique_ptr<StringSink> sink;
    std::unique_ptr<SstBuilder> builder;
    std::set<std::string> blobs;
    uint64_t deletes = 0;
    auto finish_output = [&]() -> Status {
      if (!builder) return Status::OK();
      ISLE_ASSIGN_OR_RETURN(SstInfo sst, builder->finish());
      builder.reset();
      if (sst.properties.num_entries == 0) return Status::OK();
      SstMeta m;
      m.id = random_token();
      m.size = sst.size;
      m.sha256 = sst.sha256;
      m.min_key = sst.properties.min_user_key;
      m.max_key = sst.properties.max_user_key;
      m.seq_lo = sst.properties.min_sequence;
      m.seq_hi = sst.properties.max_sequence;
      m.min_write_ms = min_write;
      m.max_write_ms = max_write;
      m.num_entries = sst.properties.num_entries;
      m.num_deletes = deletes;
      m.level = 1;
      m.blobs.assign(blobs.begin(), blobs.end());
      if (extract ? (out_all && out_min) : (union_all && union_min)) {
        m.min_lsn = extract ? out_min : union_min;
        m.max_lsn = extract ? out_max : union_max;
      }
      if (signer_) {
        m.sig = to_hex(signer_->sign(sst_signature_message(m.sha256)));
        m.sig_key_id = signer_->key_id();
      }
      info->output_bytes += m.size;
      info->entries_out += m.num_entries;
      info->outputs.push_back(m.id);
      ISLE_RETURN_IF_ERROR(start_upload(m.id, sink->release()));
      out->push_back(std::move(m));
      blobs.clear();
      deletes = 0;
      out_min.reset();
      out_max.reset();
      out_all = true;
      return Status::OK();
    };

    std::string current;  // user key whose newest version was handled
    bool have_current = false;
    for (it->seek_to_first(); it->valid(); it->next()) {
      ParsedInternalKey pk;
      if (!parse_internal_key(it->key(), &pk)) {
        return Status::Corruption("compaction input holds a malformed internal key");
      }
      if (have_current && pk.user_key == current) continue;  // shadowed
      current.assign(pk.user_key.data(), pk.user_key.size());
      have_current = true;
      std::string_view payload;
      uint64_t expires = 0;
      if (!decode_entry_value(pk.has_expiry, it->value(), &payload, &expires)) {
        return Status::Corruption("compaction input holds a malformed entry value");
      }
      if (oldest) {
        if (pk.kind == ValueKind::kDelete) continue;
        if (pk.has_expiry && expires <= now) continue;
      }
      if (!builder) {
        sink = std::make_unique<StringSink>();
        sink->reserve(static_cast<size_t>(std::min<uint64_t>(o_.target_sst_size, 256u << 20)) +
                      (64u << 10));
        SstBuilderOptions bo;
        bo.block_size = o_.block_size;
        bo.bloom_bits_per_key = o_.bloom_bits_per_key;
        bo.compression = to_compression_type(o_.compression);
        if (min_write != INT64_MAX) {
          bo.min_write_time_ms = min_write;
          bo.max_write_time_ms = max_write;
        }
        builder = std::make_unique<SstBuilder>(bo, sink.get());
      }
      ISLE_RETURN_IF_ERROR(builder->add(it->key(), it->value()));
      if (extract && out_all) {
        const std::optional<uint64_t> lsn = o_.lsn_extractor(pk.user_key);
        if (!lsn) {
          out_all = false;
        } else {
          out_min = out_min ? std::min(*out_min, *lsn) : *lsn;
          out_max = out_max ? std::max(*out_max, *lsn) : *lsn;
        }
      }
      if (pk.kind == ValueKind::kDelete) deletes++;
      if (pk.kind == ValueKind::kBlobRef) {
        auto ref = decode_blob_ref(payload);
        if (!ref) return Status::Corruption("compaction input holds a malformed blob reference");
        blobs.insert(ref->sha256_hex);
      }
      if (builder->estimated_size() >= o_.target_sst_size) {
        ISLE_RETURN_IF_ERROR(finish_output());
      }
    }
    ISLE_RETURN_IF_ERROR(it->status());
    ISLE_RETURN_IF_ERROR(finish_output());
    // The inputs' readers go first (a read-ahead waits for its fetch in
    // flight), then every input's digest is completed and checked: the
    // merge may have stopped before an input's end (its index, filter and
    // footer, or entries past the last key it needed).
    it.reset();
    for (const auto& d : digests) {
      Status s = d->finish();
      if (!s.ok()) return s.with_context("compaction input");
    }
    return Status::OK();
  }

  static bool movable(const std::vector<SstMeta>& comp, bool oldest) {
    return comp.size() == 1 && !(oldest && comp.front().num_deletes > 0);
  }

  Status execute(const Plan& plan, CompactionInfo* info) {
    const std::vector<std::vector<SstMeta>> comps = components(plan.inputs);
    // Fail closed before any work: merging a signed input into unsigned
    // outputs would turn signed data into data every verifying reader
    // refuses ("no signature"). Moved inputs keep their own signatures.
    if (!signer_) {
      for (const auto& comp : comps) {
        if (movable(comp, plan.oldest)) continue;
        for (const auto& m : comp) {
          if (m.sig.empty()) continue;
          return Status::InvalidArgument(
              "compaction input sst " + m.id +
              " is signed but this compactor has no signing key, so its outputs would be "
              "unsigned and refused by every verifying reader: set "
              "CompactorOptions::signing_key_pem (compactor.signing_key_file in compactord) and "
              "verify_public_key_pem");
        }
      }
    }
    std::vector<SstMeta> outputs;
    Status s;
    for (const auto& comp : comps) {
      const SstMeta& only = comp.front();
      if (movable(comp, plan.oldest)) {
        // A moved input is not rewritten or re-signed: its own signature
        // must verify (its bytes are checked by the readers that verify;
        // see docs/compaction.md).
        if (ring_) {
          s = verify_sst_signature(only, *ring_);
          if (!s.ok()) {
            s = s.with_context("compaction input");
            break;
          }
        }
        SstMeta moved = only;
        moved.level = 1;
        info->moved.push_back(moved.id);
        info->outputs.push_back(moved.id);
        info->output_bytes += moved.size;
        info->entries_out += moved.num_entries;
        outputs.push_back(std::move(moved));
        continue;
      }
      s = merge_component(comp, plan.oldest, &outputs, info);
      if (!s.ok()) break;
    }
    Status up = wait_upload();
    if (s.ok()) s = up;
    if (!s.ok()) return s;

    LogEntry e;
    e.op = LogOp::kCompaction;
    for (const auto& m : plan.inputs) e.inputs.push_back(m.id);
    e.added = std::move(outputs);
    e.run_id = "run-" + random_token().substr(0, 16);
    auto pos = log_.append(std::move(e));
    if (!pos.ok()) return pos.status();
    info->log_position = *pos;
    return Status::OK();
  }

  void maybe_snapshot() {
    if (o_.snapshot_every <= 0) return;
    if (log_.state().next_pos <
        log_.known_log_seq_start() + static_cast<uint64_t>(o_.snapshot_every)) {
      return;
    }
    (void)log_.write_snapshot();  // best effort; the next cycle tries again
  }

  // One background round: stop when fenced; more work may be waiting
  // right away (e.g. L0 still over the threshold), else wait an interval.
  std::optional<std::chrono::milliseconds> loop_step() {
    auto r = run_once();
    if (!r.ok() && r.status().code() == Code::kFenced) return std::nullopt;
    const bool did_work = r.ok() && !r->inputs.empty();
    return did_work ? std::chrono::milliseconds(0) : o_.check_interval;
  }

  const ObjectStorePtr store_;
  const DBOptions db_;
  CompactorOptions o_;
  Clock* const clock_;
  std::optional<Ed25519KeyRing> ring_;   // set by open(); read-only after
  std::optional<Ed25519Signer> signer_;  // set by open(); read-only after

  mutable std::mutex run_mu_;  // one cycle at a time; guards log_
  ManifestLog log_;
  uint64_t claimed_epoch_ = 0;
  std::future<Status> upload_;

  BackgroundLoop loop_;  // last: stopped before the members it uses go
};

Result<std::unique_ptr<Compactor>> Compactor::open(ObjectStorePtr store, const DBOptions& db,
                                                   CompactorOptions options) {
  if (!store) return Status::InvalidArgument("Compactor::open: no object store");
  if (options.l0_threshold < 1) return Status::InvalidArgument("l0_threshold < 1");
  if (options.min_sources < 2 || options.max_sources < options.min_sources) {
    return Status::InvalidArgument("need 2 <= min_sources <= max_sources");
  }
  if (options.size_ratio < 1.0) return Status::InvalidArgument("size_ratio < 1");
  if (options.target_sst_size < 4096) return Status::InvalidArgument("target_sst_size < 4 KiB");
  if (options.read_ahead_bytes != 0 && options.read_ahead_bytes < 4096) {
    return Status::InvalidArgument("read_ahead_bytes must be 0 (off) or at least 4 KiB");
  }
  ObjectStorePtr scoped = engine_store(std::move(store), db.prefix, options.retry_backoff);
  ManifestStoragePtr storage =
      db.manifest_storage ? db.manifest_storage : object_store_manifest_storage(scoped);
  auto impl = std::make_unique<Impl>(std::move(scoped), db, std::move(options), std::move(storage));
  ISLE_RETURN_IF_ERROR(impl->open());
  return std::make_unique<Compactor>(std::move(impl));
}

Compactor::Compactor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Compactor::~Compactor() = default;
Result<CompactionInfo> Compactor::run_compaction() { return impl_->run_once(); }
Status Compactor::refresh() { return impl_->refresh(); }
Status Compactor::start() { return impl_->start(); }
void Compactor::stop() { impl_->stop(); }
bool Compactor::is_fenced() const { return impl_->fenced(); }
uint64_t Compactor::epoch() const { return impl_->claimed_epoch(); }

}  // namespace isle
