// The garbage collector; see isle/gc.h for the contract and maint/gc.h for
// the reasoning behind the order of a run.
#include "maint/gc.h"

#include <algorithm>
#include <cstdlib>
#include <thread>

#include "maint/blob_recheck.h"
#include "maint/gc_live.h"
#include "manifest/manifest_codec.h"
#include "manifest/manifest_log.h"
#include "store/prefix_store.h"

namespace isle {

namespace {

constexpr int kMaxAttempts = 16;          // analysis restarts on checkpoint races
constexpr int kMaxCasAttempts = 64;       // CAS retries of one state object
constexpr int kTransientRetries = 6;
// The blob sweep re-reads the log tail at least this often (and at least
// every grace/8) while it checks candidates.
constexpr std::chrono::milliseconds kBlobRecheckEvery{10'000};

constexpr std::string_view kSstDir = "sstable/";
constexpr std::string_view kSstSuffix = ".sst";
constexpr std::string_view kBlobDir = "blobs/";
constexpr std::string_view kBlobSuffix = ".blob";

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// "sstable/<id>.sst" -> id; nullopt for anything else (GC leaves unknown
// objects alone).
std::optional<std::string> sst_id_of(std::string_view key) {
  if (key.substr(0, kSstDir.size()) != kSstDir || !ends_with(key, kSstSuffix)) return {};
  std::string_view id = key.substr(kSstDir.size(), key.size() - kSstDir.size() - kSstSuffix.size());
  if (id.empty() || id.find('/') != std::string_view::npos) return {};
  return std::string(id);
}

// "blobs/<2 hex>/<sha256>.blob" -> sha256; nullopt for anything else.
std::optional<std::string> blob_hash_of(std::string_view key) {
  if (key.substr(0, kBlobDir.size()) != kBlobDir || !ends_with(key, kBlobSuffix)) return {};
  const size_t slash = key.rfind('/');
  std::string hash(key.substr(slash + 1, key.size() - slash - 1 - kBlobSuffix.size()));
  if (hash.size() < 2 || blob_key(hash) != key) return {};
  return hash;
}

template <typename F>
auto with_retries(F f) -> decltype(f()) {
  for (int attempt = 0;; attempt++) {
    auto r = f();
    if (r.ok() || !r.status().is_retryable() || attempt >= kTransientRetries) return r;
    std::this_thread::sleep_for(std::chrono::milliseconds(5 << std::min(attempt, 5)));
  }
}

}  // namespace

GarbageCollector::Impl::Impl(ObjectStorePtr store, GcOptions options)
    : store_(std::move(store)),
      options_(std::move(options)),
      clock_(options_.clock ? options_.clock : Clock::system()),
      manifest_(options_.manifest_storage ? options_.manifest_storage
                                          : object_store_manifest_storage(store_)),
      marks_(options_.mark_storage ? options_.mark_storage
                                   : object_store_gc_mark_storage(store_)) {}

// ---- state objects ---------------------------------------------------------

Result<GarbageCollector::Impl::Versioned<PendingMarks>> GarbageCollector::Impl::read_pending() {
  auto r = with_retries([&] { return marks_->read_marks(); });
  Versioned<PendingMarks> v;
  if (r.status().is_not_found()) return v;
  if (!r.ok()) return r.status().with_context("reading " + std::string(kGcPendingKey));
  ISLE_ASSIGN_OR_RETURN(PendingMarks p, decode_pending_marks(r->data, kGcPendingKey));
  v.value = std::move(p);
  v.etag = r->etag;
  return v;
}

Result<GarbageCollector::Impl::Versioned<GcCheckpoint>> GarbageCollector::Impl::read_checkpoint() {
  auto r = with_retries([&] { return marks_->read_checkpoint(); });
  Versioned<GcCheckpoint> v;
  if (r.status().is_not_found()) return v;
  if (!r.ok()) return r.status().with_context("reading " + std::string(kGcCheckpointKey));
  ISLE_ASSIGN_OR_RETURN(GcCheckpoint c, decode_gc_checkpoint(r->data, kGcCheckpointKey));
  v.value = std::move(c);
  v.etag = r->etag;
  return v;
}

Status GarbageCollector::Impl::write_state(bool checkpoint, const std::string& bytes,
                                           const std::string& etag) {
  const std::string_view key = checkpoint ? kGcCheckpointKey : kGcPendingKey;
  for (int attempt = 0;; attempt++) {
    auto r = checkpoint ? marks_->write_checkpoint(bytes, etag) : marks_->write_marks(bytes, etag);
    if (r.ok()) return Status::OK();
    // A lost response of a conditional put: we cannot tell whether it
    // landed, so report a conflict; the caller re-reads and re-applies,
    // which is harmless either way (every update is a merge).
    if (r.status().is_unknown_outcome()) return Status::PreconditionFailed("unknown outcome");
    if (!r.status().is_retryable() || attempt >= kTransientRetries) {
      return r.status().with_context("writing " + std::string(key));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5 << std::min(attempt, 5)));
  }
}

Result<PendingMarks> GarbageCollector::Impl::update_pending(const std::vector<PendingMark>& add,
                                                            const std::set<std::string>& drop,
                                                            size_t* added) {
  for (int attempt = 0; attempt < kMaxCasAttempts; attempt++) {
    ISLE_ASSIGN_OR_RETURN(Versioned<PendingMarks> cur, read_pending());
    PendingMarks next = cur.value.value_or(PendingMarks{});
    size_t n = 0;
    bool changed = false;
    for (const PendingMark& m : add) {
      if (next.add(m)) n++;
    }
    changed = n > 0;
    for (const std::string& id : drop) changed = next.remove(id) || changed;
    if (added) *added = n;
    if (!changed || options_.dry_run) return next;
    Status s = write_state(/*checkpoint=*/false, encode_pending_marks(next), cur.etag);
    if (s.ok()) return next;
    if (!s.is_precondition_failed()) return s;
  }
  return Status::Aborted("too many concurrent updates of " + std::string(kGcPendingKey));
}

// ---- analysis: replay, mark, checkpoint --------------------------------------

Result<std::optional<LogEntry>> GarbageCollector::Impl::read_log_entry(uint64_t pos) {
  auto r = with_retries([&] { return manifest_->read_log(pos); });
  if (r.status().is_not_found()) return std::optional<LogEntry>();
  if (!r.ok()) return r.status().with_context("reading " + log_key(pos));
  ISLE_ASSIGN_OR_RETURN(LogEntry e, decode_entry(*r, log_key(pos)));
  return std::optional<LogEntry>(std::move(e));
}

Result<GarbageCollector::Impl::Analysis> GarbageCollector::Impl::analyse(
    const std::vector<std::string>& listed_ssts, GcReport* report) {
  for (int attempt = 0; attempt < kMaxAttempts; attempt++) {
    ISLE_ASSIGN_OR_RETURN(std::optional<Analysis> a, analyse_once(listed_ssts, report));
    if (a) return std::move(*a);
  }
  return Status::Aborted("too many concurrent updates of " + std::string(kGcCheckpointKey));
}

Result<std::optional<GarbageCollector::Impl::Analysis>> GarbageCollector::Impl::analyse_once(
    const std::vector<std::string>& listed_ssts, GcReport* report) {
  using Out = std::optional<Analysis>;
  ISLE_ASSIGN_OR_RETURN(Versioned<GcCheckpoint> cp, read_checkpoint());

  // Replay with a fresh log handle: it loads CURRENT's snapshot and then
  // reports every entry from there on, contiguously.
  std::map<std::string, std::vector<std::string>> added;  // id -> blobs, in the window
  std::set<std::string> added_l0;  // ... of those, published by a writer (change history)
  auto note_added = [&](const LogEntry& e) {
    for (const SstMeta& m : e.added) {
      // An inline SST is no object: nothing to mark or delete. Its blobs
      // are kept while it is live (gc_live.h) and afterwards by the L0 SST
      // it was materialized into.
      if (!gc_is_object(m)) continue;
      added[m.id] = m.blobs;
      // A materialized SST lists the blobs of the inline flushes it holds,
      // whose log entries are change history: its mark keeps those blobs
      // as long as an add_sstable SST's would.
      if (e.op == LogOp::kAddSstable || e.op == LogOp::kMaterialize) added_l0.insert(m.id);
    }
  };
  const uint64_t window_from = cp.value ? cp.value->pos : 0;
  ManifestLogOptions lo;
  lo.clock = clock_;
  lo.lease = options_.lease;
  lo.retry_backoff = std::chrono::milliseconds(5);
  std::vector<uint64_t> replayed;  // positions the replay reported
  lo.on_entry = [&](const LogEntry& e, bool /*applied*/) {
    replayed.push_back(e.pos);
    // Skipped entries count too: an SST that was never live gets a mark
    // instead of being treated as an orphan, which is only slower.
    if (e.pos < window_from) return;
    note_added(e);
  };
  ManifestLog log(manifest_, lo);
  Status opened = log.open();
  // A snapshot collected between our CURRENT read and its load: we stalled
  // for a grace; start over.
  if (opened.is_not_found()) return Out();
  ISLE_RETURN_IF_ERROR(opened);
  const ManifestState& state = log.state();

  // Is the replay whole? A probe that hit a position collected under it
  // (a stall of a grace between the lease check and the GET) ends early
  // and would make later live SSTs look like orphans. Positions are
  // collected only below a log_seq_start CURRENT already shows, and
  // CURRENT only moves forward, so CURRENT read now tells.
  uint64_t current_start = log.known_log_seq_start();
  {
    auto cur = with_retries([&] { return manifest_->read_current(); });
    if (cur.ok()) {
      ISLE_ASSIGN_OR_RETURN(CurrentPointer c, decode_current(cur->data, kCurrentKey));
      current_start = std::max(current_start, c.log_seq_start);
    } else if (!cur.status().is_not_found()) {
      return cur.status().with_context("reading manifest/CURRENT");
    }
  }
  if (current_start > state.next_pos) return Out();
  // Every entry from the snapshot we ended on to the end must have been
  // reported: a lease re-read during the replay may have jumped to a newer
  // snapshot (only forward), and the part before that snapshot is read
  // directly below.
  const auto from_snapshot = std::count_if(replayed.begin(), replayed.end(), [&](uint64_t p) {
    return p >= state.log_seq_start;
  });
  if (static_cast<uint64_t>(from_snapshot) != state.next_pos - state.log_seq_start) return Out();
  const int64_t seen_ms = clock_->now_ms();

  Analysis a;
  a.log_position = state.next_pos;
  a.log_seq_start = current_start;
  {
    GcLiveSet live = gc_live_set(state);
    a.live = std::move(live.objects);
    a.live_l0 = std::move(live.l0);
    a.live_blobs = std::move(live.blobs);
  }

  bool have_cp = cp.value.has_value();
  if (have_cp && cp.value->pos > state.next_pos) return Out();  // our replay is behind: retry
  if (have_cp && cp.value->pos < state.log_seq_start) {
    // The window starts before the snapshot we loaded: read that part of
    // the log directly.
    for (uint64_t p = cp.value->pos; p < state.log_seq_start; p++) {
      ISLE_ASSIGN_OR_RETURN(std::optional<LogEntry> e, read_log_entry(p));
      if (!e) {
        // Collected under us: another collector advanced the checkpoint
        // past it (then retry), or the log was cut by hand (then we know
        // nothing about this window: adopt).
        ISLE_ASSIGN_OR_RETURN(Versioned<GcCheckpoint> again, read_checkpoint());
        if (again.etag != cp.etag) return Out();
        have_cp = false;
        break;
      }
      note_added(*e);
    }
  }
  a.adopted = !have_cp;

  // What left the live set since the checkpoint.
  std::vector<PendingMark> marks;
  // An L0 SST is change-feed history: it stays for the change retention
  // (counted from its removal, which is after its commit: conservative).
  const int64_t l0_keep = std::max(options_.grace, options_.change_retention).count();
  auto mark = [&](const std::string& id, std::optional<std::vector<std::string>> blobs,
                  const char* reason, bool l0) {
    if (a.live.count(id)) return;
    PendingMark m;
    m.id = id;
    m.first_seen_ms = seen_ms;
    m.due_ms = seen_ms + (l0 ? l0_keep : options_.grace.count());
    m.blobs = std::move(blobs);
    m.reason = reason;
    marks.push_back(std::move(m));
  };
  if (have_cp) {
    for (const LiveSstRef& s : cp.value->live) mark(s.id, s.blobs, "removed", s.l0);
  }
  for (const auto& [id, blobs] : added) mark(id, blobs, "removed", added_l0.count(id) > 0);
  if (a.adopted) {
    // Without a checkpoint we cannot tell an SST that left the live set a
    // moment ago from a never-committed upload: give every unreferenced
    // one a full grace from now.
    for (const std::string& id : listed_ssts) {
      if (!added.count(id)) mark(id, std::nullopt, "orphan", /*l0=*/true);
    }
  }
  size_t n_added = 0;
  ISLE_ASSIGN_OR_RETURN(a.pending, update_pending(marks, {}, &n_added));
  report->ssts_marked += n_added;

  // The checkpoint: the live set now, and the log_seq_start sightings.
  GcCheckpoint next;
  next.pos = state.next_pos;
  // "Published by a writer" sticks to an SST id: one the compactor moved
  // from L0 into a run unchanged is still change history when it leaves.
  std::set<std::string> published(a.live_l0.begin(), a.live_l0.end());
  published.insert(added_l0.begin(), added_l0.end());
  if (cp.value) {
    for (const LiveSstRef& s : cp.value->live)
      if (s.l0) published.insert(s.id);
  }
  if (a.adopted) {
    // A first run replayed only from CURRENT's snapshot: it cannot tell a
    // writer's SST the compactor moved into a run from a compaction
    // output. Keep them all for the change retention (errs long).
    for (const auto& [id, blobs] : a.live) published.insert(id);
  }
  for (const auto& [id, blobs] : a.live) {
    next.live.push_back(LiveSstRef{id, blobs, published.count(id) > 0});
  }
  if (cp.value) next.log_starts = cp.value->log_starts;
  if (next.log_starts.empty() || next.log_starts.back().log_seq_start < a.log_seq_start) {
    next.log_starts.push_back(LogStartSeen{a.log_seq_start, seen_ms});
  }
  // Only the newest sighting that is already as old as the longest keep
  // (grace or change retention) matters for deletion, plus the younger
  // ones that will be: drop the rest.
  size_t keep_from = 0;
  for (size_t i = 0; i < next.log_starts.size(); i++) {
    if (next.log_starts[i].seen_at_ms + std::max(options_.grace, options_.change_retention).count() <=
        seen_ms) {
      keep_from = i;
    }
  }
  next.log_starts.erase(next.log_starts.begin(),
                        next.log_starts.begin() + static_cast<ptrdiff_t>(keep_from));
  next.updated_ms = seen_ms;
  a.checkpoint = next;
  const bool unchanged = cp.value && cp.value->pos == next.pos && cp.value->live == next.live &&
                         cp.value->log_starts == next.log_starts;
  if (!options_.dry_run && !unchanged) {
    Status s = write_state(/*checkpoint=*/true, encode_gc_checkpoint(next), cp.etag);
    if (s.is_precondition_failed()) return Out();  // another collector moved it: redo
    ISLE_RETURN_IF_ERROR(s);
  }
  return Out(std::move(a));
}

// ---- deletion ----------------------------------------------------------------

Result<std::vector<std::string>> GarbageCollector::Impl::delete_keys(
    const std::vector<std::string>& keys, GcReport* report) {
  if (options_.dry_run || keys.empty()) return keys;
  std::vector<std::string> gone;
  for (size_t i = 0; i < keys.size(); i += options_.delete_batch) {
    const size_t end = std::min(keys.size(), i + options_.delete_batch);
    std::vector<std::string> batch(keys.begin() + static_cast<ptrdiff_t>(i),
                                   keys.begin() + static_cast<ptrdiff_t>(end));
    auto r = with_retries([&] { return store_->remove_batch(batch); });
    if (!r.ok()) return r.status().with_context("deleting " + batch.front() + "...");
    std::set<std::string> failed;
    for (const DeleteOutcome& o : *r) {
      if (!o.status.ok() && !o.status.is_not_found()) failed.insert(o.key);
    }
    report->delete_failures += failed.size();
    for (std::string& k : batch) {
      if (!failed.count(k)) gone.push_back(std::move(k));
    }
  }
  return gone;
}

Status GarbageCollector::Impl::check_manifest_exists(size_t ssts, size_t blobs) {
  auto cur = with_retries([&] { return manifest_->read_current(); });
  if (cur.ok()) return Status::OK();
  if (!cur.status().is_not_found()) return cur.status().with_context("reading manifest/CURRENT");
  auto first = with_retries([&] { return manifest_->read_log(1); });
  if (first.ok()) return Status::OK();
  if (!first.status().is_not_found()) return first.status().with_context("reading " + log_key(1));
  return Status::InvalidArgument(
      "the manifest in " + manifest_->describe() + " is empty, but the data store holds " +
      std::to_string(ssts) + " SST and " + std::to_string(blobs) +
      " blob objects: is the manifest storage (store.manifest_url) the database's? GC deletes "
      "nothing");
}

Result<bool> GarbageCollector::Impl::collect_manifest(bool snapshots, uint64_t limit,
                                                      uint64_t keep, GcReport* report) {
  const char* what = snapshots ? "snapshots" : "log entries";
  auto key_of = [&](uint64_t p) { return snapshots ? snapshot_key(p) : log_key(p); };
  auto listed = with_retries([&] {
    return snapshots ? manifest_->list_snapshot_positions(limit)
                     : manifest_->list_log_positions(limit);
  });
  if (listed.status().code() == Code::kNotSupported) return false;
  if (!listed.ok()) {
    return listed.status().with_context(std::string("listing ") + what + " in " +
                                        manifest_->describe());
  }
  // The storage is not trusted with the safety rule: filter again.
  std::vector<uint64_t> victims;
  for (uint64_t p : *listed) {
    if (p < limit && p != keep) victims.push_back(p);
  }
  std::sort(victims.begin(), victims.end());
  victims.erase(std::unique(victims.begin(), victims.end()), victims.end());
  size_t& counter = snapshots ? report->snapshots_deleted : report->log_entries_deleted;
  for (size_t i = 0; i < victims.size(); i += options_.delete_batch) {
    const size_t end = std::min(victims.size(), i + options_.delete_batch);
    const std::vector<uint64_t> batch(victims.begin() + static_cast<ptrdiff_t>(i),
                                      victims.begin() + static_cast<ptrdiff_t>(end));
    std::set<uint64_t> failed;
    if (!options_.dry_run) {
      auto r = with_retries([&] {
        return snapshots ? manifest_->delete_snapshots(batch) : manifest_->delete_logs(batch);
      });
      if (r.status().code() == Code::kNotSupported) return false;
      if (!r.ok()) return r.status().with_context("deleting " + key_of(batch.front()) + "...");
      failed.insert(r->begin(), r->end());
    }
    report->delete_failures += failed.size();
    for (uint64_t p : batch) {
      if (failed.count(p)) continue;
      counter++;
      report->deleted.push_back(key_of(p));
    }
  }
  return true;
}

Result<GcReport> GarbageCollector::Impl::run_once() {
  GcReport report;
  report.dry_run = options_.dry_run;
  const int64_t list_ms = clock_->now_ms();
  const int64_t grace = options_.grace.count();

  // 1. Listings, before the replay.
  auto ssts = with_retries([&] { return store_->list_all(kSstDir); });
  if (!ssts.ok()) return ssts.status().with_context("listing sstable/");
  auto blobs = with_retries([&] { return store_->list_all(kBlobDir); });
  if (!blobs.ok()) return blobs.status().with_context("listing blobs/");
  std::vector<std::string> listed_ids;
  for (const ObjectMeta& m : *ssts) {
    if (auto id = sst_id_of(m.key)) listed_ids.push_back(*id);
  }

  // A manifest storage with no manifest at all (no CURRENT, no first log
  // entry) next to a data store holding SSTs or blobs is a configuration
  // error (the manifest is elsewhere, e.g. store.manifest_url unset): a
  // real database claims its writer fence in the log before it uploads
  // anything. Judging by the empty manifest would delete the whole
  // database after a grace, so delete nothing.
  if (!ssts->empty() || !blobs->empty()) {
    ISLE_RETURN_IF_ERROR(check_manifest_exists(ssts->size(), blobs->size()));
  }

  // 2. Replay, mark, checkpoint.
  ISLE_ASSIGN_OR_RETURN(Analysis a, analyse(listed_ids, &report));
  report.log_position = a.log_position;
  const int64_t now = clock_->now_ms();

  // 3. Due marks.
  std::vector<std::string> due_keys;
  std::set<std::string> drop;  // marks to remove
  for (const PendingMark& m : a.pending.marks) {
    if (m.due_ms > now) continue;
    if (a.live.count(m.id)) {
      drop.insert(m.id);  // live again (never expected): keep the object
      continue;
    }
    due_keys.push_back(sst_key(m.id));
  }
  ISLE_ASSIGN_OR_RETURN(std::vector<std::string> gone, delete_keys(due_keys, &report));
  for (const std::string& k : gone) {
    drop.insert(*sst_id_of(k));
    report.deleted.push_back(k);
  }
  report.ssts_deleted = gone.size();
  PendingMarks remaining = a.pending;
  if (!drop.empty()) {
    ISLE_ASSIGN_OR_RETURN(remaining, update_pending({}, drop, nullptr));
    // In a dry run update_pending re-reads the stored marks; apply ours.
    for (const PendingMark& m : a.pending.marks) {
      if (!drop.count(m.id)) remaining.add(m);
    }
  }
  report.pending_marks = remaining.marks.size();

  // 4. Orphan sweep: not live, not marked, older than the grace.
  std::vector<std::string> orphans;
  if (!a.adopted) {
    for (const ObjectMeta& m : *ssts) {
      auto id = sst_id_of(m.key);
      if (!id || a.live.count(*id) || a.pending.find(*id) || remaining.find(*id)) continue;
      if (m.modified_ms + grace <= list_ms) orphans.push_back(m.key);
    }
  }
  ISLE_ASSIGN_OR_RETURN(gone, delete_keys(orphans, &report));
  report.orphans_deleted = gone.size();
  report.deleted.insert(report.deleted.end(), gone.begin(), gone.end());

  // 5. Blob sweep: referenced by no live and no marked SST, older than the
  // grace. A mark with unknown blobs could reference anything: wait.
  bool blobs_known = true;
  std::set<std::string> referenced = a.live_blobs;  // also those of inline SSTs
  for (const PendingMark& m : remaining.marks) {
    if (!m.blobs) blobs_known = false;
    else referenced.insert(m.blobs->begin(), m.blobs->end());
  }
  std::vector<std::string> dead_blobs;
  if (blobs_known) {
    for (const ObjectMeta& m : *blobs) {
      auto h = blob_hash_of(m.key);
      if (!h || referenced.count(*h)) continue;
      if (m.modified_ms + grace <= list_ms) dead_blobs.push_back(m.key);
    }
  }
  // A writer may have reused a candidate since the listing (content
  // addressing): each one is checked again (log entries committed since
  // the replay, then a HEAD of its timestamp) and deleted right after its
  // own check. See maint/blob_recheck.h.
  BlobRecheck recheck(store_.get(), manifest_.get(), clock_, options_.grace, a.log_position,
                      std::min<std::chrono::milliseconds>(options_.grace / 8, kBlobRecheckEvery));
  for (const std::string& key : dead_blobs) {
    ISLE_ASSIGN_OR_RETURN(bool deletable, recheck.still_deletable(key, *blob_hash_of(key)));
    if (!deletable) continue;
    ISLE_ASSIGN_OR_RETURN(gone, delete_keys({key}, &report));
    report.blobs_deleted += gone.size();
    report.deleted.insert(report.deleted.end(), gone.begin(), gone.end());
  }

  // 6. Log entries and snapshots below a log_seq_start first seen a grace
  // ago. Every checkpoint is at or past it (a checkpoint's pos is the end
  // of a replay that already saw that log_seq_start).
  // Log entries are change-feed history too: they stay for the change
  // retention; snapshots only for the grace.
  auto start_seen_before = [&](int64_t keep) {
    uint64_t start = 0;
    for (const LogStartSeen& s : a.checkpoint.log_starts) {
      if (s.seen_at_ms + keep <= now) start = std::max(start, s.log_seq_start);
    }
    return std::min({start, a.log_seq_start, a.checkpoint.pos});
  };
  const uint64_t old_start = start_seen_before(grace);
  const uint64_t old_log_start =
      start_seen_before(std::max(options_.grace, options_.change_retention).count());
  // Through the manifest storage (which may live elsewhere); one that
  // cannot list or delete keeps everything (manifest_skipped).
  if (old_log_start > 1) {
    ISLE_ASSIGN_OR_RETURN(bool supported,
                          collect_manifest(/*snapshots=*/false, old_log_start, 0, &report));
    report.manifest_skipped = report.manifest_skipped || !supported;
  }
  if (old_start > 1) {
    ISLE_ASSIGN_OR_RETURN(bool supported, collect_manifest(/*snapshots=*/true, old_start,
                                                           a.log_seq_start, &report));
    report.manifest_skipped = report.manifest_skipped || !supported;
  }
  return report;
}

// ---- public API ----------------------------------------------------------------

Result<std::unique_ptr<GarbageCollector>> GarbageCollector::open(ObjectStorePtr store,
                                                                 GcOptions options) {
  if (!store) return Status::InvalidArgument("GarbageCollector: no object store");
  if (options.lease.count() <= 0) return Status::InvalidArgument("lease must be positive");
  if (options.grace <= options.lease) {
    return Status::InvalidArgument("grace (" + std::to_string(options.grace.count()) +
                                   " ms) must be longer than the lease (" +
                                   std::to_string(options.lease.count()) + " ms)");
  }
  if (options.delete_batch == 0 || options.delete_batch > 1000) {
    return Status::InvalidArgument("delete_batch must be 1..1000");
  }
  ObjectStorePtr scoped = with_prefix(std::move(store), options.prefix);
  return std::make_unique<GarbageCollector>(
      std::make_unique<Impl>(std::move(scoped), std::move(options)));
}

GarbageCollector::GarbageCollector(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GarbageCollector::~GarbageCollector() = default;

Result<GcReport> GarbageCollector::run_once() { return impl_->run_once(); }

}  // namespace isle
