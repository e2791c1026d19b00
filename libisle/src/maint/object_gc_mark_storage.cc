// The default GcMarkStorage: GC's two state objects in the database's own
// object store, at the keys gc_codec.h names (the layout of every earlier
// version, so an existing bucket keeps its marks and checkpoint). Each
// write is one conditional put: create-only for an empty expected etag,
// if-match otherwise; the store's answers (PreconditionFailed,
// UnknownOutcome, ...) pass through unchanged.
#include "isle/gc_mark_storage.h"

#include "maint/gc_codec.h"

namespace isle {

namespace {

class ObjectGcMarkStorage : public GcMarkStorage {
 public:
  explicit ObjectGcMarkStorage(ObjectStorePtr store) : store_(std::move(store)) {}

  Result<VersionedObject> read_marks() override { return read(kGcPendingKey); }
  Result<std::string> write_marks(std::string_view data, std::string_view expected) override {
    return write(kGcPendingKey, data, expected);
  }
  Result<VersionedObject> read_checkpoint() override { return read(kGcCheckpointKey); }
  Result<std::string> write_checkpoint(std::string_view data, std::string_view expected) override {
    return write(kGcCheckpointKey, data, expected);
  }
  std::string describe() const override { return store_->url(); }

 private:
  Result<VersionedObject> read(std::string_view key) {
    ISLE_ASSIGN_OR_RETURN(GetResult r, store_->get(key));
    return VersionedObject{std::move(r.data), std::move(r.meta.etag), false};
  }
  Result<std::string> write(std::string_view key, std::string_view data,
                            std::string_view expected) {
    const PutOptions opts = expected.empty() ? PutOptions::create_only()
                                             : PutOptions::if_match_etag(std::string(expected));
    ISLE_ASSIGN_OR_RETURN(ObjectMeta m, store_->put(key, data, opts));
    return std::move(m.etag);
  }
  ObjectStorePtr store_;
};

}  // namespace

GcMarkStoragePtr object_store_gc_mark_storage(ObjectStorePtr store) {
  return std::make_shared<ObjectGcMarkStorage>(std::move(store));
}

}  // namespace isle
