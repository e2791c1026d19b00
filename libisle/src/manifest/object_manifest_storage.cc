// The default ManifestStorage: the manifest objects in the database's own
// object store, at the keys DESIGN §2 names; and the NotSupported defaults
// of ManifestStorage's optional garbage-collection calls.
#include "isle/manifest_storage.h"

#include <algorithm>
#include <optional>

#include "manifest/manifest_types.h"

namespace isle {

Result<std::vector<uint64_t>> ManifestStorage::list_log_positions(uint64_t) {
  return Status::NotSupported(describe() + ": listing log entries");
}
Result<std::vector<uint64_t>> ManifestStorage::list_snapshot_positions(uint64_t) {
  return Status::NotSupported(describe() + ": listing snapshots");
}
Result<std::vector<uint64_t>> ManifestStorage::delete_logs(const std::vector<uint64_t>&) {
  return Status::NotSupported(describe() + ": deleting log entries");
}
Result<std::vector<uint64_t>> ManifestStorage::delete_snapshots(const std::vector<uint64_t>&) {
  return Status::NotSupported(describe() + ": deleting snapshots");
}

namespace {

constexpr std::string_view kLogDir = "manifest/log/";
constexpr std::string_view kSnapshotDir = "manifest/snapshots/";

// "<dir><20 digits><anything>" -> position; the suffix is checked by
// comparing with the canonical key (`key_of`).
template <typename KeyOf>
std::optional<uint64_t> position_of(std::string_view key, std::string_view dir, KeyOf key_of) {
  if (key.size() < dir.size() + 20 || key.substr(0, dir.size()) != dir) return {};
  uint64_t v = 0;
  for (char c : key.substr(dir.size(), 20)) {
    if (c < '0' || c > '9') return {};
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (key_of(v) != key) return {};  // another suffix, or a 20-digit overflow
  return v;
}

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

  Result<std::vector<uint64_t>> list_log_positions(uint64_t limit) override {
    return list_below(kLogDir, limit, log_key);
  }
  Result<std::vector<uint64_t>> list_snapshot_positions(uint64_t limit) override {
    return list_below(kSnapshotDir, limit, snapshot_key);
  }
  Result<std::vector<uint64_t>> delete_logs(const std::vector<uint64_t>& positions) override {
    return remove(positions, log_key);
  }
  Result<std::vector<uint64_t>> delete_snapshots(const std::vector<uint64_t>& positions) override {
    return remove(positions, snapshot_key);
  }

 private:
  // Keys are listed in ascending order and positions are zero-padded, so
  // the listing stops at the first position at or above `limit`.
  template <typename KeyOf>
  Result<std::vector<uint64_t>> list_below(std::string_view dir, uint64_t limit, KeyOf key_of) {
    std::vector<uint64_t> out;
    ListOptions lo;
    lo.prefix = std::string(dir);
    for (;;) {
      ISLE_ASSIGN_OR_RETURN(ListPage page, store_->list(lo));
      for (const ObjectMeta& m : page.objects) {
        auto pos = position_of(m.key, dir, key_of);
        if (!pos) continue;
        if (*pos >= limit) return out;
        out.push_back(*pos);
      }
      if (page.next_start_after.empty()) return out;
      lo.start_after = std::move(page.next_start_after);
    }
  }
  template <typename KeyOf>
  Result<std::vector<uint64_t>> remove(const std::vector<uint64_t>& positions, KeyOf key_of) {
    if (positions.size() > 1000) return Status::InvalidArgument("more than 1000 positions");
    std::vector<uint64_t> failed;
    if (positions.empty()) return failed;
    std::vector<std::string> keys;
    for (uint64_t p : positions) keys.push_back(key_of(p));
    ISLE_ASSIGN_OR_RETURN(std::vector<DeleteOutcome> outcomes, store_->remove_batch(keys));
    for (const DeleteOutcome& o : outcomes) {
      if (o.status.ok() || o.status.is_not_found()) continue;
      auto it = std::find(keys.begin(), keys.end(), o.key);
      if (it != keys.end()) failed.push_back(positions[static_cast<size_t>(it - keys.begin())]);
    }
    return failed;
  }

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
