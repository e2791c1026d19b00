// The garbage collector's engine (the public contract is isle/gc.h; the
// state object formats are gc_codec.h and docs/format/gc.md).
//
// How a run decides, and why it is safe:
//   * Listing first, replay second: sstable/ and blobs/ are listed before
//     the manifest is replayed, so every object a listing shows that was
//     committed before the listing is live in the replayed state.
//   * Nothing that left the live set escapes a mark: the checkpoint holds
//     the live set at position `pos`; a run reads every log entry from
//     `pos` to the end and marks (live at pos ∪ added since) − live now.
//     Marks are written before the checkpoint advances, so a crash between
//     the two only repeats work. Log entries are deleted only below a
//     position every checkpoint has already passed.
//   * With no checkpoint (the first run, or a checkpoint whose log window
//     was collected) GC cannot know what left the live set when, so it
//     adopts every unreferenced SST it lists as a mark with unknown blobs
//     instead of deleting it, and the blob sweep waits until those marks
//     are gone.
//   * Inline SSTs (bytes inside their log entry; maint/gc_live.h) are no
//     objects: never marked or deleted, but their blobs are live while
//     they are pending, and a materialized SST, which lists those blobs, is
//     change history like an add_sstable SST.
//   * Times: marks and log_seq_start sightings are stamped with the clock
//     read AFTER the replay that observed them (never earlier than the real
//     event); object ages are judged against the clock read BEFORE the
//     listing (the object was at least that old when it was unreferenced).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "isle/gc.h"
#include "maint/gc_codec.h"
#include "manifest/manifest_types.h"

namespace isle {

class GarbageCollector::Impl {
 public:
  // `store` is already scoped to the database prefix.
  Impl(ObjectStorePtr store, GcOptions options);

  Result<GcReport> run_once();

 private:
  // A GC state object and the ETag it was read with ("" = absent).
  template <typename T>
  struct Versioned {
    std::optional<T> value;
    std::string etag;
  };

  // What the analysis phase learned about the database.
  struct Analysis {
    uint64_t log_position = 0;
    uint64_t log_seq_start = 1;  // CURRENT's (= the position of the snapshot it names)
    std::map<std::string, std::vector<std::string>> live;  // id -> blobs
    std::set<std::string> live_l0;                       // the live ids in L0
    std::set<std::string> live_blobs;  // referenced by live SSTs, inline ones too
    PendingMarks pending;                                // after this run's marks
    GcCheckpoint checkpoint;                             // as written (or would be)
    bool adopted = false;                                // ran without a usable checkpoint
  };

  Result<Versioned<PendingMarks>> read_pending();
  Result<Versioned<GcCheckpoint>> read_checkpoint();
  // Writes `bytes` to the marks (checkpoint = false) or the checkpoint if
  // its ETag is still `etag` ("" = create-only). PreconditionFailed when
  // another collector got there first, or when the outcome is unknown.
  Status write_state(bool checkpoint, const std::string& bytes, const std::string& etag);

  // Replays the manifest, marks what left the live set, advances the
  // checkpoint. `listed_ssts` (ids) are the SST objects listed before.
  Result<Analysis> analyse(const std::vector<std::string>& listed_ssts, GcReport* report);
  // One attempt of analyse(); nullopt = lost a race, try again.
  Result<std::optional<Analysis>> analyse_once(const std::vector<std::string>& listed_ssts,
                                               GcReport* report);
  // Reads log entry `pos` straight from the manifest storage (nullopt:
  // NotFound).
  Result<std::optional<LogEntry>> read_log_entry(uint64_t pos);
  // Adds `add` to the pending marks and removes `drop` from them, by
  // compare-and-swap (re-read and re-apply on conflict). Returns the marks
  // as written (in a dry run: as they would be).
  Result<PendingMarks> update_pending(const std::vector<PendingMark>& add,
                                      const std::set<std::string>& drop, size_t* added);

  // Deletes `keys` in batches; returns the keys that are gone. Keys the
  // store refused are counted in report->delete_failures. In a dry run
  // deletes nothing and returns all of them.
  Result<std::vector<std::string>> delete_keys(const std::vector<std::string>& keys,
                                               GcReport* report);
  // Deletes, through the manifest storage, the log entries (snapshots =
  // false) or snapshots at positions below `limit` other than `keep`, in
  // batches of delete_batch, and counts them in `report`. Returns false
  // when the storage does not support listing or deleting
  // (NotSupported); then nothing was deleted by this call.
  Result<bool> collect_manifest(bool snapshots, uint64_t limit, uint64_t keep, GcReport* report);
  // OK when the manifest storage holds CURRENT or log entry 1;
  // InvalidArgument (naming the storage and the counts) when it holds
  // neither although the data store holds `ssts` SSTs and `blobs` blobs.
  Status check_manifest_exists(size_t ssts, size_t blobs);

  ObjectStorePtr store_;
  GcOptions options_;
  Clock* clock_;
  ManifestStoragePtr manifest_;
  GcMarkStoragePtr marks_;  // the pending-delete marks and the checkpoint
};

}  // namespace isle
