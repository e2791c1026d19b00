// The default ManifestStorage: the manifest objects in the database's own
// object store, at the keys DESIGN §2 names.
#include "isle/manifest_storage.h"
#include "manifest/manifest_types.h"

namespace isle {

namespace {

class ObjectManifestStorage : public ManifestStorage {
 public:
  explicit ObjectManifestStorage(ObjectStorePtr store) : store_(std::move(store)) {}

  Result<VersionedObject> read_current(std::string_view if_none_match) override {
    GetOptions opts;
    opts.if_none_match = std::string(if_none_match);
    ISLE_ASSIGN_OR_RETURN(GetResult r, store_->get(kCurrentKey, opts));
    return VersionedObject{std::move(r.data), std::move(r.meta.etag), r.not_modified};
  }
  Result<std::string> write_current(std::string_view data,
                                    std::string_view expected_etag) override {
    const PutOptions opts = expected_etag.empty()
                                ? PutOptions::create_only()
                                : PutOptions::if_match_etag(std::string(expected_etag));
    ISLE_ASSIGN_OR_RETURN(ObjectMeta m, store_->put(kCurrentKey, data, opts));
    return std::move(m.etag);
  }
  Result<std::string> read_log(uint64_t pos) override { return read(log_key(pos)); }
  Status create_log(uint64_t pos, std::string_view data) override {
    return store_->put(log_key(pos), data, PutOptions::create_only()).status();
  }
  Result<std::string> read_snapshot(uint64_t pos) override { return read(snapshot_key(pos)); }
  Status create_snapshot(uint64_t pos, std::string_view data) override {
    return store_->put(snapshot_key(pos), data, PutOptions::create_only()).status();
  }
  std::string describe() const override { return store_->url(); }

 private:
  Result<std::string> read(const std::string& key) {
    ISLE_ASSIGN_OR_RETURN(GetResult r, store_->get(key));
    return std::move(r.data);
  }
  ObjectStorePtr store_;
};

}  // namespace

ManifestStoragePtr object_store_manifest_storage(ObjectStorePtr store) {
  return std::make_shared<ObjectManifestStorage>(std::move(store));
}

}  // namespace isle
