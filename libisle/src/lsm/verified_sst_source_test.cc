// VerifiedSstSource on odd sizes: fetch chunks and granules that do not
// divide the object, reads across granule edges and at the end, with and
// without a disk cache; refusal of a wrong size or digest; a bad disk entry
// is never served.
#include "lsm/verified_sst_source.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "store/mem_store.h"
#include "testutil/testutil.h"
#include "util/hash.h"

namespace isle {
namespace {

struct Fixture {
  std::shared_ptr<MemStore> store = std::make_shared<MemStore>();
  std::string bytes;
  SstMeta meta;

  explicit Fixture(size_t n) {
    std::mt19937 rng(n);
    bytes.resize(n);
    for (char& c : bytes) c = static_cast<char>(rng());
    meta.id = "000042";
    meta.size = n;
    meta.sha256 = sha256_hex(bytes);
    EXPECT_TRUE(store->put("obj", bytes).ok());
  }
};

VerifiedSstOptions tiny() {
  VerifiedSstOptions o;
  o.fetch_chunk = 13;
  o.granule = 7;
  return o;
}

TEST(VerifiedSstSource, ServesExactlyTheObjectsBytes) {
  for (bool with_disk : {false, true}) {
    SCOPED_TRACE(with_disk ? "disk cache" : "no disk cache");
    Fixture f(1000);
    testing::TempDir tmp;
    std::shared_ptr<DiskCache> disk;
    if (with_disk) disk = *DiskCache::open(tmp.path(), 1 << 20);
    auto s = VerifiedSstSource::open(f.store, "obj", f.meta, disk, tiny());
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    std::mt19937 rng(1);
    for (int i = 0; i < 300; i++) {
      const uint64_t off = rng() % 1001;
      const uint64_t len = rng() % (1001 - off);
      auto r = (*s)->read(off, len);
      ASSERT_TRUE(r.ok()) << r.status().to_string();
      ASSERT_EQ(*r, f.bytes.substr(off, len)) << off << "+" << len;
    }
    auto t = (*s)->read_tail(50);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->bytes, f.bytes.substr(950));
    EXPECT_EQ(t->total_size, 1000u);
    t = (*s)->read_tail(5000);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->bytes, f.bytes);
    EXPECT_EQ((*s)->read(990, 11).status().code(), Code::kCorruption);  // past the end
    // With a disk cache (object <= half its budget) every granule was
    // written by the stream: reads need no GET.
    if (with_disk) {
      EXPECT_EQ((*s)->granule_gets(), 0u);
    }
  }
}

TEST(VerifiedSstSource, AWrongObjectIsRefusedAndLeavesNothingCached) {
  Fixture f(1000);
  testing::TempDir tmp;
  auto disk = *DiskCache::open(tmp.path(), 1 << 20);
  SstMeta wrong_sha = f.meta;
  wrong_sha.sha256 = sha256_hex("something else");
  auto s = VerifiedSstSource::open(f.store, "obj", wrong_sha, disk, tiny());
  EXPECT_EQ(s.status().code(), Code::kCorruption);
  EXPECT_EQ(disk->stats().entries, 0u);
  SstMeta longer = f.meta;
  longer.size = 1001;
  EXPECT_EQ(VerifiedSstSource::open(f.store, "obj", longer, disk, tiny()).status().code(),
            Code::kCorruption);
  SstMeta shorter = f.meta;
  shorter.size = 999;
  EXPECT_EQ(VerifiedSstSource::open(f.store, "obj", shorter, disk, tiny()).status().code(),
            Code::kCorruption);
  EXPECT_EQ(disk->stats().entries, 0u);
  EXPECT_EQ(VerifiedSstSource::open(f.store, "missing", f.meta, disk, tiny()).status().code(),
            Code::kNotFound);
}

TEST(VerifiedSstSource, ADiskEntryThatIsNotTheVerifiedGranuleIsNeverServed) {
  Fixture f(100);
  testing::TempDir tmp;
  auto disk = *DiskCache::open(tmp.path(), 1 << 20);
  auto s = VerifiedSstSource::open(f.store, "obj", f.meta, disk, tiny());
  ASSERT_TRUE(s.ok());
  // A well-formed entry (its xxh3 is fine) with other bytes of the right size.
  disk->put((*s)->granule_key(3), std::string(7, 'x'));
  auto r = (*s)->read(21, 7);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, f.bytes.substr(21, 7));
  EXPECT_EQ((*s)->granule_gets(), 1u);  // refetched and checked
  EXPECT_EQ(disk->get((*s)->granule_key(3)), f.bytes.substr(21, 7));
  // And bytes changed in the store after verification are Corruption.
  std::string changed = f.bytes;
  changed[50] ^= 1;
  ASSERT_TRUE(f.store->put("obj", changed).ok());
  disk->erase((*s)->granule_key(7));
  EXPECT_EQ((*s)->read(49, 3).status().code(), Code::kCorruption);
  EXPECT_FALSE(disk->get((*s)->granule_key(7)).has_value());
}

}  // namespace
}  // namespace isle
