// Reader: views over the replayed manifest, point reads, scans, iterators
// and the caches behind them (DESIGN §7).
//
// A View is immutable: the manifest state it was built from plus one
// TableSlot per live SST. Readers of the data take a shared_ptr to the
// current view and never lock while reading; refresh() builds a new view
// and swaps it in. TableSlots are shared between consecutive views, so an
// SST opened once (footer, index and filter pinned) stays open while it is
// live, and an old view keeps its tables alive until its last user is done.
//
// Inline SSTs (flushes whose bytes travel in their manifest log entries)
// are TableSlots too, over a MemorySource of the manifest's shared bytes:
// the newest L0 tier, never fetched. ReaderOptions::max_inline_bytes bounds
// the bytes a view may hold that way.
//
// Newest wins: a key's visible version is the one with the highest
// sequence among all SSTs of the view (L0 and sorted runs alike). Point
// reads visit candidates newest-first by their seq_hi and stop as soon as
// no remaining SST can hold a newer version.
#include "isle/reader.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "cache/blob_cache.h"
#include "cache/block_cache.h"
#include "cache/disk_cache.h"
#include "cache/disk_cached_source.h"
#include "format/blob_ref.h"
#include "format/sst_reader.h"
#include "format/sst_source.h"
#include "lsm/concat_iterator.h"
#include "lsm/db_iterator.h"
#include "lsm/merging_iterator.h"
#include "manifest/manifest_log.h"
#include "lsm/engine_store.h"
#include "lsm/read_ahead_log.h"
#include "lsm/reader_access.h"
#include "lsm/sst_verify.h"
#include "lsm/verified_sst_source.h"
#include "util/background_loop.h"
#include "util/hash.h"
#include "util/poll_schedule.h"
#include "util/signing.h"

namespace isle {

namespace {

// How an SST is opened; shared by all slots of one reader.
struct TableOpener {
  ObjectStorePtr store;
  std::shared_ptr<DiskCache> disk;
  std::shared_ptr<BlockCache> block_cache;
  std::optional<Ed25519KeyRing> verifier;
  bool verify_sha256 = false;
  uint64_t tail_read = 64 * 1024;
  uint64_t whole_below = 0;              // ReaderOptions::range_read_min_sst_size
  bool unverified_range_reads = false;   // ReaderOptions::allow_unverified_range_reads

  // The source an SST is served from (ReaderOptions, "range-read knobs",
  // and docs/DECISIONS.md, issue 14):
  //   size < whole_below         one whole GET, kept in memory (checked
  //                              against the manifest first when verifying);
  //   verifying                  VerifiedSstSource: streamed and checked
  //                              before anything is served, then granules
  //                              checked against their digests;
  //   verifying but unverified_range_reads, or not verifying
  //                              ranged GETs (through the disk cache).
  Result<std::shared_ptr<RandomAccessSource>> source_for(const SstMeta& meta,
                                                         const std::string& key) const {
    const bool verify = verify_sha256 || verifier.has_value();
    if (verifier) ISLE_RETURN_IF_ERROR(verify_sst_signature(meta, *verifier));
    if (meta.is_inline()) {
      // Served from the manifest's bytes, never fetched. The codec checked
      // them against the entry's sha256 and size when it decoded the entry
      // (and the signature covers that sha256, checked just above).
      return std::shared_ptr<RandomAccessSource>(
          std::make_shared<MemorySource>(meta.inline_data.bytes, "inline sst " + meta.id));
    }
    if (meta.size < whole_below) {
      ISLE_ASSIGN_OR_RETURN(GetResult whole, store->get(key));
      if (verify) ISLE_RETURN_IF_ERROR(verify_sst_bytes(meta, whole.data));
      return std::shared_ptr<RandomAccessSource>(
          std::make_shared<MemorySource>(std::move(whole.data), key));
    }
    if (verify && !unverified_range_reads) {
      ISLE_ASSIGN_OR_RETURN(auto v, VerifiedSstSource::open(store, key, meta, disk));
      return std::shared_ptr<RandomAccessSource>(std::move(v));
    }
    std::shared_ptr<RandomAccessSource> source = std::make_shared<ObjectStoreSource>(store, key);
    if (disk) source = std::make_shared<DiskCachedSource>(source, disk, meta.id);
    return source;
  }

  Result<std::shared_ptr<const SstReader>> open(const SstMeta& meta) const {
    const std::string key = sst_key(meta.id);
    SstReaderOptions ro;
    ro.tail_read_size = tail_read;
    if (block_cache && block_cache->capacity() > 0) {
      ro.block_cache = block_cache;
      ro.cache_id = meta.id;
    }
    ISLE_ASSIGN_OR_RETURN(std::shared_ptr<RandomAccessSource> source, source_for(meta, key));
    auto r = SstReader::open(std::move(source), ro);
    if (!r.ok()) return r.status();
    return std::shared_ptr<const SstReader>(std::move(*r));
  }
};

// One live SST: its metadata and its reader, opened on first use.
// Concurrent first uses open it once; a failed open is retried next time.
class TableSlot {
 public:
  explicit TableSlot(SstMeta meta) : meta_(std::move(meta)) {}
  const SstMeta& meta() const { return meta_; }

  Result<std::shared_ptr<const SstReader>> reader(const TableOpener& opener) {
    std::lock_guard lk(mu_);
    if (reader_) return reader_;
    auto r = opener.open(meta_);
    if (!r.ok()) return r.status();
    reader_ = *r;
    return reader_;
  }
  bool is_open() const {
    std::lock_guard lk(mu_);
    return reader_ != nullptr;
  }

 private:
  const SstMeta meta_;
  mutable std::mutex mu_;
  std::shared_ptr<const SstReader> reader_;
};
using SlotPtr = std::shared_ptr<TableSlot>;

struct View {
  ManifestState state;
  std::vector<SlotPtr> l0;                 // newest first (seq_hi descending)
  std::vector<std::vector<SlotPtr>> runs;  // each by key, as the manifest lists it
};

bool covers(const SstMeta& m, std::string_view key) {
  return m.min_key <= key && key <= m.max_key;
}

TableInfo table_info(const SstMeta& m) {
  return TableInfo{m.id, m.size, m.min_key, m.max_key, m.seq_lo, m.seq_hi, m.num_entries};
}

class ReaderIterator : public Iterator {
 public:
  ReaderIterator(std::shared_ptr<const View> view, std::unique_ptr<DbIterator> it)
      : view_(std::move(view)), it_(std::move(it)) {}
  void seek_to_first() override { it_->seek_to_first(); }
  void seek_ge(std::string_view key) override { it_->seek_ge(key); }
  void next() override { it_->next(); }
  bool valid() const override { return it_->valid(); }
  std::string_view key() const override { return it_->key(); }
  std::string_view value() const override { return it_->value(); }
  uint64_t sequence() const override { return it_->sequence(); }
  uint64_t expires_at_ms() const override { return it_->expires_at_ms(); }
  Status status() const override { return it_->status(); }

 private:
  std::shared_ptr<const View> view_;  // keeps the tables alive
  std::unique_ptr<DbIterator> it_;
};

}  // namespace

class Reader::Impl {
 public:
  // `log_storage`: what the replay reads through (nullptr = `storage`).
  Impl(ObjectStorePtr store, ReaderOptions o, ManifestStoragePtr storage, EntryListener listener,
       ManifestStoragePtr log_storage = nullptr)
      : store_(std::move(store)),
        o_(std::move(o)),
        clock_(o_.clock ? o_.clock : Clock::system()),
        storage_(storage),
        listener_(std::move(listener)),
        log_(log_storage ? std::move(log_storage) : std::move(storage), log_options()) {}

  ~Impl() { refresher_.stop(); }

  ManifestLogOptions log_options() {
    ManifestLogOptions lo = role_log_options(o_.clock, o_.lease, o_.retry_backoff);
    // The bound holds while the log applies entries, not only at install.
    lo.max_inline_bytes = std::max<uint64_t>(o_.max_inline_bytes, 1);  // 0 there = none at all
    // Each applied entry is installed as it is applied (once a view
    // exists), before the listener hears it: reads and woken tails see it
    // without waiting for the probe that ends the refresh (log_ applies
    // entries under refresh_mu_, which install_view_locked needs).
    lo.on_entry = [this](const LogEntry& e, bool applied) {
      if (applied && view()) install_view_locked();
      if (listener_) listener_(e, applied);
    };
    return lo;
  }

  Status start() {
    opener_.store = store_;
    opener_.tail_read = o_.sst_tail_read;
    opener_.verify_sha256 = o_.verify_sst_sha256;
    opener_.whole_below = o_.range_read_min_sst_size;
    opener_.unverified_range_reads = o_.allow_unverified_range_reads;
    opener_.block_cache = std::make_shared<BlockCache>(o_.block_cache_bytes);
    if (!o_.cache_dir.empty()) {
      auto d = DiskCache::open(o_.cache_dir, o_.disk_cache_bytes);
      if (!d.ok()) return d.status().with_context("reader cache_dir");
      opener_.disk = *d;
    }
    if (!o_.verify_public_key_pem.empty()) {
      auto v = Ed25519KeyRing::from_pem(o_.verify_public_key_pem);
      if (!v.ok()) return v.status().with_context("reader verify_public_key_pem");
      opener_.verifier = std::move(*v);
    }
    BlobCacheOptions bo;
    bo.max_item_bytes = o_.blob_cache_max_item_size;
    bo.verify_sha256 = o_.verify_blobs_on_read;
    blobs_ = std::make_unique<BlobCache>(o_.blob_cache_bytes, opener_.disk, -1, bo);
    {
      std::lock_guard lk(refresh_mu_);
      ISLE_RETURN_IF_ERROR(log_.open());
      install_view_locked();
      ISLE_RETURN_IF_ERROR(install_error_);
    }
    if (o_.refresh_interval.count() > 0) {
      // Adaptive when refresh_interval_min is set (util/poll_schedule.h).
      auto sched = std::make_shared<PollSchedule>(
          o_.refresh_interval_min.value_or(o_.refresh_interval), o_.refresh_interval);
      refresher_.start(
          [this, sched]() -> std::optional<std::chrono::milliseconds> {
            const uint64_t before = view()->state.next_pos;
            (void)refresh();  // errors keep the old view; the next round retries
            return sched->next(view()->state.next_pos != before, std::chrono::steady_clock::now());
          },
          sched->current());
    }
    return Status::OK();
  }

  std::shared_ptr<const View> view() const {
    std::lock_guard lk(view_mu_);
    return view_;
  }

  Status refresh() {
    std::lock_guard lk(refresh_mu_);
    auto r = log_.refresh();
    refreshes_++;
    // Install whatever the log applied, also when the refresh failed part
    // way (every applied entry is whole), and compare with the installed
    // view rather than the log before this call, which an earlier failed
    // refresh may have moved without installing.
    const ManifestState& installed = view()->state;
    if (log_.state().next_pos != installed.next_pos ||
        log_.state().log_seq_start != installed.log_seq_start) {
      install_view_locked();
    }
    Status out = r.ok() ? install_error_ : r.status();
    // Kept for stats(): a background refresh's error is otherwise unseen
    // (reads keep serving the last view).
    if (out.ok()) {
      last_refresh_error_.clear();
    } else {
      refresh_errors_++;
      last_refresh_error_ = out.to_string();
    }
    return out;
  }

  Result<std::optional<std::string>> get(const View& v, std::string_view key, int64_t now) {
    // Candidates, newest first by the highest sequence they may hold.
    std::vector<TableSlot*> cands;
    for (const auto& s : v.l0)
      if (covers(s->meta(), key)) cands.push_back(s.get());
    for (const auto& run : v.runs) {
      auto it = std::lower_bound(run.begin(), run.end(), key,
                                 [](const SlotPtr& s, std::string_view k) { return s->meta().max_key < k; });
      if (it != run.end() && covers((*it)->meta(), key)) cands.push_back(it->get());
    }
    std::stable_sort(cands.begin(), cands.end(), [](TableSlot* a, TableSlot* b) {
      return a->meta().seq_hi > b->meta().seq_hi;
    });
    std::optional<SstEntry> best;
    for (TableSlot* slot : cands) {
      if (best && slot->meta().seq_hi < best->sequence) break;
      ISLE_ASSIGN_OR_RETURN(auto reader, slot->reader(opener_));
      ISLE_ASSIGN_OR_RETURN(std::optional<SstEntry> e, reader->get(key));
      if (e && (!best || e->sequence > best->sequence)) best = std::move(e);
    }
    if (!best || best->kind == ValueKind::kDelete) return std::optional<std::string>();
    if (best->has_expiry && best->expires_at_ms <= static_cast<uint64_t>(now)) {
      return std::optional<std::string>();
    }
    if (best->kind == ValueKind::kBlobRef) {
      ISLE_ASSIGN_OR_RETURN(std::string value, resolve_blob(best->value));
      return std::optional<std::string>(std::move(value));
    }
    return std::optional<std::string>(std::move(best->value));
  }

  Result<std::string> resolve_blob(std::string_view payload) {
    auto ref = decode_blob_ref(payload);
    if (!ref) return Status::Corruption("malformed blob reference");
    const std::string key = blob_key(ref->sha256_hex);
    auto blob = blobs_->get_or_load(ref->sha256_hex, [&]() -> Result<BlobCache::BlobPtr> {
      ISLE_ASSIGN_OR_RETURN(GetResult r, store_->get(key));
      // The size is always checked; the sha256 unless verify_blobs_on_read
      // is off (ReaderOptions).
      if (r.data.size() != ref->size ||
          (o_.verify_blobs_on_read && sha256_hex(r.data) != ref->sha256_hex)) {
        return Status::Corruption(key + ": content does not match its sha256 and size");
      }
      return std::make_shared<const std::string>(std::move(r.data));
    }, ref->size);  // the size is checked on every tier, whatever the options
    if (!blob.ok()) return blob.status();
    return std::string(**blob);
  }

  std::unique_ptr<Iterator> iterator(const IteratorOptions& io) { return iterator(io, view()); }

  std::unique_ptr<Iterator> iterator(const IteratorOptions& io, std::shared_ptr<const View> v) {
    // An inclusive upper bound b becomes the exclusive bound b + '\0', the
    // smallest key greater than b: k <= b exactly when k < b + '\0'. So
    // everything below (SST pruning, the DbIterator) sees one kind.
    std::optional<std::string> upper = io.upper_bound;
    if (upper && io.upper_bound_inclusive) upper->push_back('\0');
    auto within = [&](const SstMeta& m) {
      if (io.lower_bound && m.max_key < *io.lower_bound) return false;
      if (upper && m.min_key >= *upper) return false;
      return true;
    };
    std::vector<std::unique_ptr<InternalIterator>> children;
    for (const auto& s : v->l0) {
      if (!within(s->meta())) continue;
      auto r = s->reader(opener_);
      children.push_back(r.ok() ? new_sst_iterator(*r) : new_empty_iterator(r.status()));
    }
    for (const auto& run : v->runs) {
      std::vector<RunFile> files;
      std::vector<SlotPtr> slots;
      for (const auto& s : run) {
        if (!within(s->meta())) continue;
        files.push_back({s->meta().min_key, s->meta().max_key});
        slots.push_back(s);
      }
      if (files.empty()) continue;
      children.push_back(new_concat_iterator(
          std::move(files), [this, slots](size_t i) -> Result<std::unique_ptr<InternalIterator>> {
            ISLE_ASSIGN_OR_RETURN(auto reader, slots[i]->reader(opener_));
            return new_sst_iterator(reader);
          }));
    }
    DbIteratorOptions dio;
    dio.now_ms = static_cast<uint64_t>(clock_->now_ms());
    dio.lower_bound = io.lower_bound;
    dio.upper_bound = std::move(upper);
    dio.resolve_blob = [this](std::string_view p) { return resolve_blob(p); };
    auto it = std::make_unique<DbIterator>(new_merging_iterator(std::move(children)), std::move(dio));
    return std::make_unique<ReaderIterator>(std::move(v), std::move(it));
  }

  ManifestInfo manifest() const {
    auto v = view();
    ManifestInfo m;
    const ManifestState& s = v->state;
    m.log_position = s.next_pos;
    m.log_seq_start = s.log_seq_start;
    m.last_seq = s.last_seq;
    m.data_seq = s.data_seq;
    m.writer_epoch = s.fence(Role::kWriter).epoch;
    m.writer_owner = s.fence(Role::kWriter).owner;
    m.compactor_epoch = s.fence(Role::kCompactor).epoch;
    m.retention_epoch = s.fence(Role::kRetention).epoch;
    for (const auto& t : s.l0) m.l0.push_back(table_info(t));
    for (const auto& t : s.inline_ssts) m.inline_ssts.push_back(table_info(t));
    for (const auto& r : s.runs) {
      m.runs.emplace_back();
      for (const auto& t : r.ssts) m.runs.back().push_back(table_info(t));
    }
    m.max_committed_lsn = s.max_committed_lsn();
    m.low_watermark_lsn = s.low_watermark_lsn();
    return m;
  }

  ReaderStats stats() {
    ReaderStats st;
    auto conv = [](const CacheStats& c) {
      return CacheCounters{c.hits, c.misses, c.evictions, c.bytes_used, c.corruptions};
    };
    st.block_cache = conv(opener_.block_cache->stats());
    if (opener_.disk) st.disk_cache = conv(opener_.disk->stats());
    st.blob_cache = conv(blobs_->stats());
    auto v = view();
    for (const auto& s : v->l0) st.open_tables += s->is_open();
    for (const auto& r : v->runs)
      for (const auto& s : r) st.open_tables += s->is_open();
    std::lock_guard lk(refresh_mu_);
    st.refreshes = refreshes_;
    st.refresh_errors = refresh_errors_;
    st.last_refresh_error = last_refresh_error_;
    const auto& ls = log_.stats();
    st.manifest_requests = ls.current_reads + ls.snapshot_loads + ls.log_reads;
    return st;
  }

  Clock* clock() const { return clock_; }

 private:
  // Builds a view from the log's state, reusing the slots of live tables.
  // Inline SSTs join L0 (newest first by seq_hi, so they lead it: their
  // sequences are above every L0 and run sequence). A state over
  // max_inline_bytes is not installed: install_error_ says why and the
  // last view stays.
  void install_view_locked() {
    const uint64_t inline_bytes = log_.state().inline_bytes();
    if (inline_bytes > o_.max_inline_bytes) {
      install_error_ = Status::Backpressure(
          "manifest state at log position " + std::to_string(log_.state().next_pos) + " holds " +
          std::to_string(inline_bytes) + " bytes of inline SSTs, above ReaderOptions::"
          "max_inline_bytes (" + std::to_string(o_.max_inline_bytes) +
          "); keeping the previous view until the writer materializes them");
      return;
    }
    install_error_ = Status::OK();
    auto v = std::make_shared<View>();
    v->state = log_.state();
    std::unordered_map<std::string, SlotPtr> next;
    auto slot_for = [&](const SstMeta& m) {
      auto it = tables_.find(m.id);
      SlotPtr s = it != tables_.end() ? it->second : std::make_shared<TableSlot>(m);
      next[m.id] = s;
      return s;
    };
    for (const auto& m : v->state.l0) v->l0.push_back(slot_for(m));
    for (const auto& m : v->state.inline_ssts) v->l0.push_back(slot_for(m));
    std::stable_sort(v->l0.begin(), v->l0.end(), [](const SlotPtr& a, const SlotPtr& b) {
      return a->meta().seq_hi > b->meta().seq_hi;
    });
    for (const auto& r : v->state.runs) {
      v->runs.emplace_back();
      for (const auto& m : r.ssts) v->runs.back().push_back(slot_for(m));
    }
    tables_ = std::move(next);
    std::lock_guard lk(view_mu_);
    view_ = std::move(v);
  }

  const ObjectStorePtr store_;
  const ReaderOptions o_;
  Clock* const clock_;
  const ManifestStoragePtr storage_;
  const EntryListener listener_;
  TableOpener opener_;
  std::unique_ptr<BlobCache> blobs_;

  mutable std::mutex refresh_mu_;  // the log, tables_, refreshes_
  ManifestLog log_;
  std::unordered_map<std::string, SlotPtr> tables_;
  Status install_error_;  // why the log's state is not the view (OK: it is)
  uint64_t refreshes_ = 0;
  uint64_t refresh_errors_ = 0;     // under refresh_mu_
  std::string last_refresh_error_;  // under refresh_mu_; empty = last one OK

  mutable std::mutex view_mu_;
  std::shared_ptr<const View> view_;

  BackgroundLoop refresher_;  // refresh_interval > 0

  friend class Reader;
  friend struct ReaderAccess;
};

Result<std::unique_ptr<Reader>> Reader::open(ObjectStorePtr store, ReaderOptions options) {
  return ReaderAccess::open(std::move(store), std::move(options), nullptr);
}

Result<std::unique_ptr<Reader>> ReaderAccess::open(ObjectStorePtr store, ReaderOptions options,
                                                   EntryListener listener, uint64_t log_read_ahead) {
  if (!store) return Status::InvalidArgument("Reader::open: no object store");
  ObjectStorePtr scoped =
      engine_store(std::move(store), options.prefix, options.retry_backoff, options.hedging);
  ManifestStoragePtr storage = options.manifest_storage ? options.manifest_storage
                                                        : object_store_manifest_storage(scoped);
  ManifestStoragePtr log_storage;
  if (log_read_ahead > 0) log_storage = std::make_shared<ReadAheadLogStorage>(storage, log_read_ahead);
  auto impl = std::make_unique<Reader::Impl>(std::move(scoped), std::move(options),
                                             std::move(storage), std::move(listener),
                                             std::move(log_storage));
  ISLE_RETURN_IF_ERROR(impl->start());
  return std::make_unique<Reader>(std::move(impl));
}

std::shared_ptr<const ManifestState> ReaderAccess::state(const Reader& r) {
  auto v = r.impl_->view();
  return std::shared_ptr<const ManifestState>(v, &v->state);
}

std::pair<std::unique_ptr<Iterator>, std::shared_ptr<const ManifestState>>
ReaderAccess::iterator_with_state(Reader& r, const IteratorOptions& io) {
  auto v = r.impl_->view();
  std::shared_ptr<const ManifestState> st(v, &v->state);
  return {r.impl_->iterator(io, std::move(v)), std::move(st)};
}

Result<std::string> ReaderAccess::resolve_blob(Reader& r, std::string_view payload) {
  return r.impl_->resolve_blob(payload);
}

ObjectStorePtr ReaderAccess::store(const Reader& r) { return r.impl_->store_; }
ManifestStoragePtr ReaderAccess::manifest_storage(const Reader& r) { return r.impl_->storage_; }

Reader::Reader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Reader::~Reader() = default;

Result<std::optional<std::string>> Reader::get(std::string_view key) {
  auto v = impl_->view();
  return impl_->get(*v, key, impl_->clock()->now_ms());
}

Result<std::vector<std::optional<std::string>>> Reader::multi_get(
    const std::vector<std::string>& keys) {
  return snapshot()->multi_get(keys);
}

namespace {

class PinnedSnapshot final : public Reader::Snapshot {
 public:
  PinnedSnapshot(const Reader::Impl* impl, std::shared_ptr<const View> view)
      : impl_(impl), view_(std::move(view)) {}
  Result<std::vector<std::optional<std::string>>> multi_get(
      const std::vector<std::string>& keys) const override;

 private:
  const Reader::Impl* impl_;
  std::shared_ptr<const View> view_;
};

}  // namespace

std::unique_ptr<Reader::Snapshot> Reader::snapshot() const {
  return std::make_unique<PinnedSnapshot>(impl_.get(), impl_->view());
}

Result<std::vector<std::optional<std::string>>> PinnedSnapshot::multi_get(
    const std::vector<std::string>& keys) const {
  auto* impl = const_cast<Reader::Impl*>(impl_);  // reads only; Impl's get is thread-safe
  const int64_t now = impl->clock()->now_ms();
  std::vector<std::optional<std::string>> out;
  out.reserve(keys.size());
  for (const auto& k : keys) {
    ISLE_ASSIGN_OR_RETURN(auto value, impl->get(*view_, k, now));
    out.push_back(std::move(value));
  }
  return out;
}

Result<std::vector<KeyValue>> Reader::scan(std::string_view min, std::string_view max) {
  return scan_limit(min, max, SIZE_MAX, UpperBound::kExclusive);
}

Result<std::vector<KeyValue>> Reader::scan(std::string_view min, std::string_view max,
                                           UpperBound upper) {
  return scan_limit(min, max, SIZE_MAX, upper);
}

Result<std::vector<KeyValue>> Reader::scan_limit(std::string_view min, std::string_view max,
                                                 size_t limit) {
  return scan_limit(min, max, limit, UpperBound::kExclusive);
}

Result<std::vector<KeyValue>> Reader::scan_limit(std::string_view min, std::string_view max,
                                                 size_t limit, UpperBound upper) {
  IteratorOptions io;
  io.lower_bound = std::string(min);
  if (!max.empty()) io.upper_bound = std::string(max);
  io.upper_bound_inclusive = upper == UpperBound::kInclusive;
  auto it = impl_->iterator(io);
  std::vector<KeyValue> out;
  for (it->seek_to_first(); it->valid() && out.size() < limit; it->next()) {
    out.push_back({std::string(it->key()), std::string(it->value())});
  }
  ISLE_RETURN_IF_ERROR(it->status());
  return out;
}

std::unique_ptr<Iterator> Reader::iterator(const IteratorOptions& options) {
  return impl_->iterator(options);
}

Status Reader::refresh() { return impl_->refresh(); }
ManifestInfo Reader::manifest() const { return impl_->manifest(); }
ReaderStats Reader::stats() const { return impl_->stats(); }

}  // namespace isle
