// ManifestStorage: where the manifest objects live (CURRENT, the log, the
// snapshots). Pluggable so that a deployment may keep the small, hot
// manifest objects somewhere faster than the data bucket; by default it is
// the database's own object store (object_store_manifest_storage).
//
// An implementation must give the same guarantees as ObjectStore's
// create-only and if-match puts (object_store.h): exactly one concurrent
// creator of a log position or snapshot wins, and CURRENT is replaced only
// when the caller's etag is still the current one. Errors use the same
// codes: NotFound, PreconditionFailed, UnknownOutcome (the manifest layer
// resolves it by reading back), Transient/Throttled (retried).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "isle/object_store.h"
#include "isle/status.h"

namespace isle {

struct VersionedObject {
  std::string data;
  std::string etag;
  // Set by a conditional read whose etag still matched: data is empty and
  // the caller's copy is current.
  bool not_modified = false;
};

class ManifestStorage {
 public:
  virtual ~ManifestStorage() = default;

  // CURRENT, or NotFound for a database that has never been written. With
  // a non-empty `if_none_match` equal to CURRENT's etag, an implementation
  // may answer not_modified instead of sending the bytes again (the
  // default storage does, through a conditional GET).
  virtual Result<VersionedObject> read_current(std::string_view if_none_match = {}) = 0;
  // Replaces CURRENT if its etag is still `expected_etag`; an empty
  // expected_etag means create-only. Returns the new etag.
  virtual Result<std::string> write_current(std::string_view data,
                                            std::string_view expected_etag) = 0;

  // Log entry at `pos`, or NotFound.
  virtual Result<std::string> read_log(uint64_t pos) = 0;
  // Create-only: PreconditionFailed when the position is taken.
  virtual Status create_log(uint64_t pos, std::string_view data) = 0;

  virtual Result<std::string> read_snapshot(uint64_t pos) = 0;
  virtual Status create_snapshot(uint64_t pos, std::string_view data) = 0;

  // ---- Garbage collection (optional) ----------------------------------
  // The garbage collector deletes log entries and snapshots that no reader
  // can need any more through these four calls (docs/format/gc.md). The
  // defaults return NotSupported: an implementation without them keeps
  // every old log entry and snapshot, and GC reports manifest_skipped.
  // GC alone calls them, and only for positions below a log_seq_start
  // CURRENT has shown for at least the GC grace; the storage needs no
  // safety logic of its own.
  //
  // Positions of the existing log entries / snapshots below `limit`,
  // ascending. May miss or include positions created or deleted during the
  // call.
  virtual Result<std::vector<uint64_t>> list_log_positions(uint64_t limit);
  virtual Result<std::vector<uint64_t>> list_snapshot_positions(uint64_t limit);
  // Deletes the log entries / snapshots at `positions` (at most 1000 per
  // call). Idempotent: an absent position counts as deleted. Returns the
  // positions that could not be deleted (GC retries them on a later run);
  // an error means the call as a whole failed (nothing is known).
  virtual Result<std::vector<uint64_t>> delete_logs(const std::vector<uint64_t>& positions);
  virtual Result<std::vector<uint64_t>> delete_snapshots(const std::vector<uint64_t>& positions);

  // For messages, e.g. "file:///data#db1".
  virtual std::string describe() const = 0;
};

using ManifestStoragePtr = std::shared_ptr<ManifestStorage>;

// The default: objects under manifest/ of `store` (already scoped to the
// database prefix).
ManifestStoragePtr object_store_manifest_storage(ObjectStorePtr store);

}  // namespace isle
