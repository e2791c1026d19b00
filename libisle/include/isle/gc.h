// GarbageCollector: deletes what the database no longer references
// (DESIGN §2, §3 "GC safety", §9), never anything a reader may still use.
//
// One run_once() call:
//   1. lists sstable/ and blobs/ (before replaying, so the replayed state is
//      at least as new as the listing);
//   2. replays the manifest (no fence: GC never appends to the log) and
//      records, in the pending-delete marks, a mark {id, due = first time
//      GC saw it unreferenced + grace} for every SST that left the live
//      set since GC's checkpoint, then advances the checkpoint (both state
//      objects live in the GcMarkStorage: by default
//      manifest/gc/pending-sst/pending.json and manifest/gc/checkpoint.json);
//   3. deletes SSTs whose mark is due (and drops the marks);
//   4. orphan sweep: deletes SST objects that are neither live nor marked
//      and older than the grace (uploads that never committed);
//   5. blob sweep: deletes blobs referenced by no live and no marked SST,
//      older than the grace, each after a last check (below);
//   6. deletes, through the ManifestStorage, the log entries and snapshots
//      at positions p below a log_seq_start that GC first observed at
//      least a grace ago (log entries: at least change_retention ago) —
//      never the snapshot CURRENT names.
// SSTs a writer published (L0) are kept for max(grace, change_retention)
// after they leave the live set: they are the change feed's history.
//
// Safety contract: an object is deleted only after it has been unreferenced
// for at least the grace, judged by this collector's clock (marks) or by the
// object's store timestamp (orphans, blobs). The grace must be longer than
// the manifest lease, so a stalled committer cannot resurrect a collected
// log position (docs/manifest-protocol.md). Blobs are deduplicated by
// content, so a blob unreferenced for a grace may be reused by a write at
// any moment: the writer re-PUTs a reused blob older than grace/4 (fresh
// timestamp), and the sweep checks each candidate again right before its
// delete (log entries committed since its replay, then a HEAD of the
// timestamp). What remains — a re-PUT landing between that HEAD and the
// DELETE, or a writer stalled for ~3/4 of the grace — is argued in
// docs/format/gc.md, "Blobs reused while GC runs".
//
// Concurrency: any number of collectors may run at once, also in other
// processes. Both state objects are updated only by compare-and-swap and
// re-read on conflict; deletions are idempotent. A collector's run is
// restartable at any instant. A GarbageCollector object itself is not
// thread-safe: one run_once() at a time per object.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "isle/clock.h"
#include "isle/gc_mark_storage.h"
#include "isle/manifest_storage.h"
#include "isle/object_store.h"
#include "isle/status.h"

namespace isle {

struct GcOptions {
  // The database's folder inside the bucket (as DBOptions::prefix).
  std::string prefix;
  // How long an object must have been unreferenced before it is deleted.
  // Must be longer than `lease`.
  std::chrono::milliseconds grace{600'000};
  // Report what would be deleted; delete nothing and write nothing.
  bool dry_run = false;
  // nullptr = the system clock.
  Clock* clock = nullptr;
  // Keys per remove_batch request (1..1000).
  size_t delete_batch = 1000;
  // Where the manifest lives; nullptr = the same store (the default). GC
  // lists and deletes old log entries and snapshots through it
  // (ManifestStorage::list_log_positions and friends); a storage that does
  // not support those calls keeps them all (GcReport::manifest_skipped).
  // Used as given (not scoped to `prefix`).
  ManifestStoragePtr manifest_storage;
  // Where the pending-delete marks and the checkpoint live; nullptr =
  // manifest/gc/ in the same store (the default, and the layout of earlier
  // versions). Every collector of one database must use the same. Used as
  // given (not scoped to `prefix`).
  GcMarkStoragePtr mark_storage;
  // The manifest lease of the database (DBOptions::lease).
  std::chrono::milliseconds lease{30'000};
  // How long the change feed's history stays (TailingReader, changes
  // mode): an SST a writer published and log entries below log_seq_start
  // are deleted no sooner than this after they left the live set / the
  // log (and never before the grace). A tail cursor older than that gets
  // ChangeCursorExpired. 0 = only the grace.
  std::chrono::milliseconds change_retention{3'600'000};
};

struct GcReport {
  // Keys (relative to the prefix) deleted, or in a dry run those that would
  // be deleted.
  std::vector<std::string> deleted;
  size_t ssts_marked = 0;          // new pending-delete marks
  size_t ssts_deleted = 0;         // marked SSTs deleted (due)
  size_t orphans_deleted = 0;      // never-committed SSTs deleted
  size_t blobs_deleted = 0;
  size_t log_entries_deleted = 0;
  size_t snapshots_deleted = 0;
  size_t delete_failures = 0;      // keys the store refused; retried next run
  size_t pending_marks = 0;        // marks left after the run
  uint64_t log_position = 0;       // the state GC judged by (next log position)
  bool dry_run = false;
  // Old log entries or snapshots were due, but the manifest storage cannot
  // list or delete them (NotSupported): they were left alone. See
  // GcOptions::manifest_storage.
  bool manifest_skipped = false;
};

class GarbageCollector {
 public:
  class Impl;
  // Validates the options (grace > lease, delete_batch in range). Touches
  // no object.
  static Result<std::unique_ptr<GarbageCollector>> open(ObjectStorePtr store, GcOptions options);
  explicit GarbageCollector(std::unique_ptr<Impl> impl);
  ~GarbageCollector();
  GarbageCollector(const GarbageCollector&) = delete;
  GarbageCollector& operator=(const GarbageCollector&) = delete;

  // One full pass (see the header comment). Errors: storage errors (the
  // run stopped; whatever it did is consistent and the next run
  // continues), Corruption (a manifest or GC state object is unreadable:
  // GC deletes nothing then), Aborted (too much contention on the GC state
  // objects with other collectors; run again).
  Result<GcReport> run_once();

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace isle
