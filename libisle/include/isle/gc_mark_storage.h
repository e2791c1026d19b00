// GcMarkStorage: where the garbage collector keeps its two state objects,
// the pending-delete marks and the checkpoint (docs/format/gc.md).
// Pluggable like ManifestStorage, so that a deployment that keeps the
// manifest outside the data bucket can keep GC's state with it; by
// default it is the database's own object store
// (object_store_gc_mark_storage), at manifest/gc/pending-sst/pending.json
// and manifest/gc/checkpoint.json.
//
// An implementation must give the guarantees of ObjectStore's create-only
// and if-match puts (object_store.h) for each of the two objects
// separately: a write with an empty expected etag succeeds only when the
// object does not exist, one with an etag only when that etag is still the
// object's; otherwise PreconditionFailed. Errors use ObjectStore's codes:
// NotFound (absent), PreconditionFailed, UnknownOutcome (the write may or
// may not have landed: GC re-reads and re-applies its change, which is
// harmless because every GC update is a merge), Transient/Throttled
// (retried). The bytes are opaque to the storage.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "isle/manifest_storage.h"
#include "isle/object_store.h"
#include "isle/status.h"

namespace isle {

class GcMarkStorage {
 public:
  virtual ~GcMarkStorage() = default;

  // The pending-delete marks, or NotFound.
  virtual Result<VersionedObject> read_marks() = 0;
  // Replaces the marks if their etag is still `expected_etag` ("" =
  // create-only). Returns the new etag.
  virtual Result<std::string> write_marks(std::string_view data, std::string_view expected_etag) = 0;

  // The checkpoint, or NotFound.
  virtual Result<VersionedObject> read_checkpoint() = 0;
  // As write_marks, for the checkpoint.
  virtual Result<std::string> write_checkpoint(std::string_view data,
                                               std::string_view expected_etag) = 0;

  // For messages, e.g. "file:///meta".
  virtual std::string describe() const = 0;
};

using GcMarkStoragePtr = std::shared_ptr<GcMarkStorage>;

// The default: manifest/gc/ of `store` (already scoped to the database
// prefix), byte for byte the layout of earlier versions.
GcMarkStoragePtr object_store_gc_mark_storage(ObjectStorePtr store);

}  // namespace isle
