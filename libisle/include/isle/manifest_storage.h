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

  // For messages, e.g. "file:///data#db1".
  virtual std::string describe() const = 0;
};

using ManifestStoragePtr = std::shared_ptr<ManifestStorage>;

// The default: objects under manifest/ of `store` (already scoped to the
// database prefix).
ManifestStoragePtr object_store_manifest_storage(ObjectStorePtr store);

}  // namespace isle
