// The default ManifestStorage's garbage-collection calls on an in-memory
// store: listing positions below a bound (ascending, across list pages,
// ignoring keys that are not canonical positions) and deleting by position
// (idempotent); and the NotSupported defaults a custom storage inherits.
#include <gtest/gtest.h>

#include "isle/manifest_storage.h"
#include "manifest/manifest_types.h"
#include "store/mem_store.h"
#include "store/prefix_store.h"

namespace isle {
namespace {

struct Fixture {
  std::shared_ptr<MemStore> mem = std::make_shared<MemStore>("mem://m");
  ObjectStorePtr scoped = with_prefix(mem, "db");
  ManifestStoragePtr storage = object_store_manifest_storage(scoped);
};

TEST(ObjectManifestStorage, ListsLogPositionsBelowTheBoundAcrossPages) {
  Fixture f;
  for (uint64_t p = 1; p <= 1205; p++) ASSERT_TRUE(f.storage->create_log(p, "{}").ok());
  // Keys GC must never mistake for log entries.
  for (const char* junk : {"manifest/log/abc.json", "manifest/log/00000000000000000002.json.tmp",
                           "manifest/log/000000000000000000003.json",
                           "manifest/log/99999999999999999999.json"}) {
    ASSERT_TRUE(f.scoped->put(junk, "x", PutOptions{}).ok()) << junk;
  }
  auto all = f.storage->list_log_positions(UINT64_MAX);
  ASSERT_TRUE(all.ok()) << all.status().to_string();
  ASSERT_EQ(all->size(), 1205u);
  for (size_t i = 0; i < all->size(); i++) EXPECT_EQ((*all)[i], i + 1);
  auto below = f.storage->list_log_positions(1100);
  ASSERT_TRUE(below.ok());
  ASSERT_EQ(below->size(), 1099u);
  EXPECT_EQ(below->back(), 1099u);
  auto none = f.storage->list_log_positions(1);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(ObjectManifestStorage, DeletesByPositionIdempotently) {
  Fixture f;
  for (uint64_t p = 1; p <= 5; p++) {
    ASSERT_TRUE(f.storage->create_log(p, "{}").ok());
    ASSERT_TRUE(f.storage->create_snapshot(p, "s").ok());
  }
  auto failed = f.storage->delete_logs({1, 2, 9});  // 9 never existed
  ASSERT_TRUE(failed.ok()) << failed.status().to_string();
  EXPECT_TRUE(failed->empty());
  EXPECT_TRUE(f.storage->read_log(1).status().is_not_found());
  EXPECT_TRUE(f.storage->read_log(3).ok());
  EXPECT_TRUE(f.storage->read_snapshot(1).ok()) << "a log delete touches no snapshot";
  ASSERT_TRUE(f.storage->delete_logs({1, 2}).ok());  // again: nothing left to do
  auto snaps = f.storage->delete_snapshots({1, 4});
  ASSERT_TRUE(snaps.ok());
  auto left = f.storage->list_snapshot_positions(UINT64_MAX);
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(*left, (std::vector<uint64_t>{2, 3, 5}));
  EXPECT_EQ(*f.storage->list_log_positions(UINT64_MAX), (std::vector<uint64_t>{3, 4, 5}));
  EXPECT_TRUE(f.storage->delete_logs(std::vector<uint64_t>(1001, 3)).status().is_invalid_argument());
  EXPECT_TRUE(f.mem->get("db/" + log_key(3)).ok()) << "keys stay under the prefix";
}

// A storage written before the GC calls existed: only the required calls.
class MinimalStorage : public ManifestStorage {
 public:
  Result<VersionedObject> read_current(std::string_view) override { return Status::NotFound("c"); }
  Result<std::string> write_current(std::string_view, std::string_view) override { return std::string("e"); }
  Result<std::string> read_log(uint64_t) override { return Status::NotFound("l"); }
  Status create_log(uint64_t, std::string_view) override { return Status::OK(); }
  Result<std::string> read_snapshot(uint64_t) override { return Status::NotFound("s"); }
  Status create_snapshot(uint64_t, std::string_view) override { return Status::OK(); }
  std::string describe() const override { return "minimal"; }
};

TEST(ObjectManifestStorage, GcCallsDefaultToNotSupported) {
  MinimalStorage m;
  EXPECT_EQ(m.list_log_positions(10).status().code(), Code::kNotSupported);
  EXPECT_EQ(m.list_snapshot_positions(10).status().code(), Code::kNotSupported);
  EXPECT_EQ(m.delete_logs({1}).status().code(), Code::kNotSupported);
  EXPECT_EQ(m.delete_snapshots({1}).status().code(), Code::kNotSupported);
  EXPECT_NE(m.delete_logs({1}).status().message().find("minimal"), std::string::npos);
}

}  // namespace
}  // namespace isle
