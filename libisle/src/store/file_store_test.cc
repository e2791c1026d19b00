// Tests specific to the file:// backend: key safety, the on-disk layout,
// corruption handling, temp files, persistence, directory pruning and the
// object-vs-directory conflict. The shared contract is in
// conformance_test.cc.
#include "store/file_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <atomic>
#include <set>
#include <thread>

#include "store/file_key.h"
#include "store/file_object_header.h"
#include "testutil/testutil.h"
#include "util/hash.h"

namespace isle {
namespace {

namespace fs = std::filesystem;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_file(const std::string& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

// Every path below `dir`, relative to it.
std::set<std::string> tree(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    out.insert(fs::relative(e.path(), dir).string());
  }
  return out;
}

class FileStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { reopen(); }
  void reopen() {
    store_.reset();
    auto s = FileStore::open(root_);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    store_ = std::move(s).value();
  }

  testing::TempDir dir_;
  const std::string root_ = dir_.path() + "/root";
  std::shared_ptr<FileStore> store_;
};

TEST_F(FileStoreTest, KeyRulesAccept) {
  for (std::string key : std::vector<std::string>{"a", "a/b/c", "...", ".hidden", "a/.isle-tmp", "x.isle", ".isl",
                          "sp ace", "%2e%2e", "\xc3\xa9", std::string(255, 's'),
                          std::string(255, 's') + "/" + std::string(255, 't'), "a.", ".a/..b"}) {
    EXPECT_TRUE(check_file_key(key).ok()) << key;
  }
}

// Keys that would escape the root, collide with bookkeeping, or cannot be
// represented: rejected by every operation, and nothing is created
// anywhere (inside or outside the root).
TEST_F(FileStoreTest, UnsafeKeysAreRejectedEverywhere) {
  const std::vector<std::string> bad = {
      "",
      std::string(1025, 'k'),
      "/abs",
      "/",
      "a//b",
      "a/",
      "//",
      ".",
      "..",
      "./a",
      "a/.",
      "a/./b",
      "a/../b",
      "../escape",
      "../../etc/passwd",
      "x/..",
      std::string("nul\0byte", 8),
      std::string("\0", 1),
      "tab\tkey",
      "new\nline",
      "del\x7f",
      "esc\x1b",
      "back\\slash",
      "..\\..\\win",
      std::string(256, 's'),
      "ok/" + std::string(256, 's'),
      ".isle-tmp/x",
      ".isle-locks/00",
      ".isle",
      ".isle-anything",
      ".islefoo/bar",
  };
  write_file(dir_.path() + "/outside-marker", "m");
  const auto before_all = tree(dir_.path());
  for (const auto& key : bad) {
    SCOPED_TRACE("key '" + key + "' (" + std::to_string(key.size()) + " bytes)");
    EXPECT_TRUE(check_file_key(key).is_invalid_argument());
    for (const PutOptions& opts :
         {PutOptions::overwrite(), PutOptions::create_only(), PutOptions::if_match_etag("e")}) {
      EXPECT_TRUE(store_->put(key, "evil", opts).status().is_invalid_argument());
    }
    EXPECT_TRUE(store_->get(key).status().is_invalid_argument());
    EXPECT_TRUE(store_->head(key).status().is_invalid_argument());
    EXPECT_TRUE(store_->remove(key).is_invalid_argument());
    auto batch = store_->remove_batch({key});
    ASSERT_TRUE(batch.ok());
    ASSERT_EQ(batch->size(), 1u);
    EXPECT_TRUE((*batch)[0].status.is_invalid_argument());
  }
  EXPECT_EQ(tree(dir_.path()), before_all);
  auto all = store_->list_all("");
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->empty());
  EXPECT_TRUE(fs::is_empty(root_ + "/.isle-tmp"));
}

TEST_F(FileStoreTest, LayoutIsBrowsable) {
  auto put = store_->put("dir/sub/object", "payload");
  ASSERT_TRUE(put.ok());
  const std::string path = root_ + "/dir/sub/object";
  ASSERT_TRUE(fs::is_regular_file(path));
  std::string bytes = read_file(path);
  ASSERT_EQ(bytes.size(), kFileObjectHeaderSize + 7);
  // The header as docs/format/file-store.md describes it.
  EXPECT_EQ(bytes.substr(0, 8), std::string("ISLEOBJ\x01", 8));
  EXPECT_EQ(bytes.substr(8, 4), std::string("\x01\x00\x00\x00", 4));
  EXPECT_EQ(to_hex(bytes.substr(12, 16)), put->etag);
  EXPECT_EQ(bytes.substr(28, 4).size(), 4u);
  std::string sum;
  uint32_t c = checksum32(std::string_view(bytes).substr(0, 28));
  for (int i = 0; i < 4; i++) sum.push_back(static_cast<char>((c >> (8 * i)) & 0xff));
  EXPECT_EQ(bytes.substr(28, 4), sum);
  EXPECT_EQ(bytes.substr(32), "payload");
  EXPECT_EQ(store_->url(), "file://" + root_);
  // The root's bookkeeping folders exist; no temp file is left behind.
  EXPECT_TRUE(fs::is_directory(root_ + "/.isle-locks"));
  EXPECT_TRUE(fs::is_empty(root_ + "/.isle-tmp"));
}

TEST_F(FileStoreTest, HeaderCodecRejectsDamage) {
  const std::string token(16, '\x5a');
  std::string h = encode_file_object_header(token);
  ASSERT_EQ(h.size(), kFileObjectHeaderSize);
  auto ok = decode_file_object_header(h);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, to_hex(token));
  // Every single-bit flip anywhere in the header is caught.
  for (size_t i = 0; i < h.size(); i++) {
    for (int bit = 0; bit < 8; bit++) {
      std::string bad = h;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      EXPECT_TRUE(decode_file_object_header(bad).status().is_corruption()) << i << ":" << bit;
    }
  }
  EXPECT_TRUE(decode_file_object_header(h.substr(0, 31)).status().is_corruption());
  EXPECT_TRUE(decode_file_object_header("").status().is_corruption());
  EXPECT_NE(new_file_object_token(), new_file_object_token());
  EXPECT_EQ(new_file_object_token().size(), kFileObjectTokenSize);
}

TEST_F(FileStoreTest, DamagedFilesAreCorruptionNotCrashes) {
  ASSERT_TRUE(store_->put("good", "fine").ok());
  ASSERT_TRUE(store_->put("flipped", "payload").ok());
  std::string bytes = read_file(root_ + "/flipped");
  bytes[13] = static_cast<char>(bytes[13] ^ 0x40);  // inside the token
  write_file(root_ + "/flipped", bytes);
  write_file(root_ + "/foreign", "a file some other program put here, long enough");
  write_file(root_ + "/short", "tiny");
  write_file(root_ + "/empty", "");

  for (std::string key : {"flipped", "foreign", "short", "empty"}) {
    SCOPED_TRACE(key);
    EXPECT_TRUE(store_->head(key).status().is_corruption()) << store_->head(key).status().to_string();
    EXPECT_TRUE(store_->get(key).status().is_corruption());
    EXPECT_TRUE(store_->get(key, GetOptions::ranged(ByteRange::last(3))).status().is_corruption());
    // A CAS cannot compare against an unreadable etag.
    EXPECT_TRUE(store_->put(key, "x", PutOptions::if_match_etag("00")).status().is_corruption());
    EXPECT_TRUE(store_->put(key, "x", PutOptions::create_only()).status().is_precondition_failed());
  }
  // Listed (with an unknown etag) so they can be found and deleted.
  auto all = store_->list_all("");
  ASSERT_TRUE(all.ok()) << all.status().to_string();
  std::vector<std::string> keys;
  for (const auto& m : *all) {
    keys.push_back(m.key);
    EXPECT_EQ(m.etag.empty(), m.key != "good") << m.key;
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"empty", "flipped", "foreign", "good", "short"}));
  // Overwrite repairs; remove deletes.
  ASSERT_TRUE(store_->put("flipped", "new").ok());
  auto got = store_->get("flipped");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->data, "new");
  EXPECT_TRUE(store_->remove("foreign").ok());
  EXPECT_FALSE(fs::exists(root_ + "/foreign"));
}

TEST_F(FileStoreTest, StrayEntriesAreIgnored) {
  ASSERT_TRUE(store_->put("real", "v").ok());
  // Leftover temp files of crashed writers, and lock stripes.
  write_file(root_ + "/.isle-tmp/deadbeef.tmp", "partial");
  write_file(root_ + "/.isle-tmp/other", "partial");
  // Reserved names at the root made by hand, and a symlink.
  fs::create_directories(root_ + "/.isle-future");
  write_file(root_ + "/.isle-future/x", "x");
  fs::create_symlink("/etc/hostname", root_ + "/link");
  fs::create_symlink(dir_.path(), root_ + "/dirlink");
  auto all = store_->list_all("");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].key, "real");
  EXPECT_TRUE(store_->get("link").status().is_not_found());
  EXPECT_TRUE(store_->head("link").status().is_not_found());
}

TEST_F(FileStoreTest, StaleTempFilesAreSweptOnOpen) {
  const std::string stale = root_ + "/.isle-tmp/stale.tmp";
  const std::string fresh = root_ + "/.isle-tmp/fresh.tmp";
  write_file(stale, "old");
  write_file(fresh, "new");
  // Back-date the stale one by two hours.
  struct timespec times[2];
  times[0].tv_sec = times[1].tv_sec = time(nullptr) - 2 * 3600;
  times[0].tv_nsec = times[1].tv_nsec = 0;
  ASSERT_EQ(utimensat(AT_FDCWD, stale.c_str(), times, 0), 0);
  reopen();
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(fresh));
}

TEST_F(FileStoreTest, ReopenSeesPreviousData) {
  auto a = store_->put("persist/a", "alpha");
  auto b = store_->put("persist/b", std::string(100000, 'b'));
  ASSERT_TRUE(a.ok() && b.ok());
  reopen();
  auto got = store_->get("persist/a");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->data, "alpha");
  EXPECT_EQ(got->meta.etag, a->etag);
  auto head = store_->head("persist/b");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->etag, b->etag);
  EXPECT_EQ(head->size, 100000u);
  EXPECT_EQ(head->modified_ms, b->modified_ms);
  // A second instance on the same folder sees the same objects and CAS
  // state.
  auto other = FileStore::open(root_ + "/");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ((*other)->root(), root_);
  EXPECT_TRUE((*other)->put("persist/a", "x", PutOptions::if_match_etag(a->etag)).ok());
  EXPECT_TRUE(store_->put("persist/a", "y", PutOptions::if_match_etag(a->etag))
                  .status()
                  .is_precondition_failed());
}

TEST_F(FileStoreTest, RemovePrunesEmptyDirectories) {
  ASSERT_TRUE(store_->put("a/b/c/d", "v").ok());
  ASSERT_TRUE(store_->put("a/x", "v").ok());
  ASSERT_TRUE(fs::is_directory(root_ + "/a/b/c"));
  ASSERT_TRUE(store_->remove("a/b/c/d").ok());
  EXPECT_FALSE(fs::exists(root_ + "/a/b"));
  EXPECT_TRUE(fs::is_regular_file(root_ + "/a/x"));
  ASSERT_TRUE(store_->remove("a/x").ok());
  EXPECT_FALSE(fs::exists(root_ + "/a"));
  EXPECT_TRUE(fs::is_directory(root_));  // never the root itself
  std::set<std::string> top;
  for (const auto& e : fs::directory_iterator(root_)) top.insert(e.path().filename().string());
  EXPECT_EQ(top, (std::set<std::string>{".isle-locks", ".isle-tmp"}));
}

// "a" and "a/b" cannot both exist here (a path is a file or a directory):
// the second put fails with InvalidArgument and nothing changes.
TEST_F(FileStoreTest, ObjectVersusDirectoryConflict) {
  auto a = store_->put("a", "object a");
  ASSERT_TRUE(a.ok());
  for (const PutOptions& opts : {PutOptions::overwrite(), PutOptions::create_only()}) {
    auto r = store_->put("a/b", "under a", opts);
    EXPECT_TRUE(r.status().is_invalid_argument()) << r.status().to_string();
    r = store_->put("a/b/c", "under a", opts);
    EXPECT_TRUE(r.status().is_invalid_argument()) << r.status().to_string();
  }
  EXPECT_TRUE(store_->put("a/b", "x", PutOptions::if_match_etag(a->etag))
                  .status()
                  .is_precondition_failed());  // "a/b" does not exist
  EXPECT_TRUE(store_->get("a/b").status().is_not_found());
  EXPECT_TRUE(store_->remove("a/b").ok());
  auto got = store_->get("a");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->data, "object a");
  EXPECT_EQ(got->meta.etag, a->etag);

  ASSERT_TRUE(store_->put("d/e", "child").ok());
  for (const PutOptions& opts : {PutOptions::overwrite(), PutOptions::create_only()}) {
    auto r = store_->put("d", "would replace a directory", opts);
    EXPECT_TRUE(r.status().is_invalid_argument()) << r.status().to_string();
  }
  EXPECT_TRUE(store_->put("d", "x", PutOptions::if_match_etag(a->etag)).status().is_precondition_failed());
  EXPECT_TRUE(store_->remove("d").ok());  // not an object: nothing to do
  auto child = store_->get("d/e");
  ASSERT_TRUE(child.ok());
  EXPECT_EQ(child->data, "child");

  // Once the children are gone, the key is free again.
  ASSERT_TRUE(store_->remove("d/e").ok());
  EXPECT_TRUE(store_->put("d", "now an object", PutOptions::create_only()).ok());
  auto list = store_->list_all("");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].key, "a");
  EXPECT_EQ((*list)[1].key, "d");
  EXPECT_TRUE(fs::is_empty(root_ + "/.isle-tmp"));
}

TEST_F(FileStoreTest, FailedPutsLeaveNothingBehind) {
  auto r = store_->put("no/such/deep/key", "x", PutOptions::if_match_etag("abc"));
  EXPECT_TRUE(r.status().is_precondition_failed());
  ASSERT_TRUE(store_->put("exists", "x").ok());
  EXPECT_TRUE(store_->put("exists", "y", PutOptions::create_only()).status().is_precondition_failed());
  EXPECT_TRUE(store_->put("exists/below", "y").status().is_invalid_argument());
  std::set<std::string> top;
  for (const auto& e : fs::directory_iterator(root_)) top.insert(e.path().filename().string());
  EXPECT_EQ(top, (std::set<std::string>{".isle-locks", ".isle-tmp", "exists"}));
  EXPECT_TRUE(fs::is_empty(root_ + "/.isle-tmp"));
}

TEST_F(FileStoreTest, EmptyLeftoverDirectoryDoesNotBlockAKey) {
  // A crash between mkdir and link can leave an empty directory.
  fs::create_directories(root_ + "/left/over");
  EXPECT_TRUE(store_->put("left", "v", PutOptions::create_only()).ok());
  fs::create_directories(root_ + "/left2/over");
  EXPECT_TRUE(store_->put("left2", "v").ok());
  auto list = store_->list_all("");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 2u);
}

TEST_F(FileStoreTest, OpenRejectsBadRoots) {
  EXPECT_TRUE(FileStore::open("relative/dir").status().is_invalid_argument());
  EXPECT_TRUE(FileStore::open("").status().is_invalid_argument());
  EXPECT_TRUE(FileStore::open("/").status().is_invalid_argument());
  write_file(dir_.path() + "/plain-file", "x");
  EXPECT_FALSE(FileStore::open(dir_.path() + "/plain-file").ok());
  EXPECT_FALSE(FileStore::open(dir_.path() + "/plain-file/below").ok());
}

TEST_F(FileStoreTest, UrlRoundTripsThroughOpen) {
  const std::string odd_root = dir_.path() + "/odd root%x";
  auto s = FileStore::open(odd_root);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  ASSERT_TRUE((*s)->put("k", "v").ok());
  auto again = open_object_store((*s)->url());
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  auto got = (*again)->get("k");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->data, "v");
}

// Puts and removes of sibling keys race on the shared parent directory:
// remove() prunes a directory that a put just created; the put must
// retry rather than fail.
TEST_F(FileStoreTest, SiblingPutRemoveRace) {
  const int kIters = 50 * testing::seed_count(1);
  auto worker = [&](const std::string& prefix, int keys) {
    for (int i = 0; i < kIters; i++) {
      const std::string key = prefix + std::to_string(i % keys);
      auto put = store_->put(key, "v");
      EXPECT_TRUE(put.ok()) << key << ": " << put.status().to_string();
      Status removed = store_->remove(key);
      EXPECT_TRUE(removed.ok()) << key << ": " << removed.to_string();
    }
  };
  std::thread a(worker, "shared/dir/victim", 1);
  std::thread b(worker, "shared/dir/k", 3);
  std::thread c(worker, "shared/other/deeper/k", 2);
  a.join();
  b.join();
  c.join();
  auto list = store_->list_all("");
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
}

}  // namespace
}  // namespace isle
