// Tests of the InternalIterator adapters: the memtable and SST iterators
// yield exactly the stored (internal key, stored value) pairs in order,
// keep their source alive, and reject seek targets that are not internal
// keys; the empty iterator reports its status.
#include "lsm/internal_iterator.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "format/sst_reader.h"
#include "format/sst_test_util.h"
#include "lsm/memtable.h"

namespace isle {
namespace {

using Entries = std::vector<std::pair<std::string, std::string>>;

Entries scan(InternalIterator& it) {
  Entries out;
  for (it.seek_to_first(); it.valid(); it.next()) {
    out.emplace_back(std::string(it.key()), std::string(it.value()));
  }
  EXPECT_TRUE(it.status().ok()) << it.status().to_string();
  return out;
}

std::string stored(std::string_view payload, uint64_t expires_at_ms) {
  std::string v;
  encode_entry_value(&v, payload, expires_at_ms != 0, expires_at_ms);
  return v;
}

TEST(MemtableIterator, YieldsStoredValuesInOrderAndKeepsTheMemtableAlive) {
  auto mem = std::make_shared<Memtable>();
  ASSERT_TRUE(mem->add(5, ValueKind::kPut, "b", "v5").ok());
  ASSERT_TRUE(mem->add(7, ValueKind::kPut, "b", "v7", 12345).ok());
  ASSERT_TRUE(mem->add(6, ValueKind::kDelete, "a", "").ok());
  ASSERT_TRUE(mem->add(9, ValueKind::kBlobRef, std::string("a\0", 2), "ref").ok());
  auto it = new_memtable_iterator(mem);
  mem.reset();  // the iterator alone keeps it alive now (ASan checks)

  const Entries expected = {
      {make_internal_key("a", 6, ValueKind::kDelete), ""},
      {make_internal_key(std::string("a\0", 2), 9, ValueKind::kBlobRef), "ref"},
      {make_internal_key("b", 7, ValueKind::kPut, true), stored("v7", 12345)},
      {make_internal_key("b", 5, ValueKind::kPut), "v5"},
  };
  EXPECT_EQ(scan(*it), expected);

  it->seek(seek_key("b", 6));
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key(), make_internal_key("b", 5, ValueKind::kPut));
  it->next();
  EXPECT_FALSE(it->valid());
  EXPECT_TRUE(it->status().ok());
}

TEST(MemtableIterator, ShortSeekTargetIsInvalidArgumentAndASeekRecovers) {
  auto mem = std::make_shared<Memtable>();
  ASSERT_TRUE(mem->add(1, ValueKind::kPut, "a", "x").ok());
  auto it = new_memtable_iterator(mem);
  it->seek("a");  // a user key, not an internal key
  EXPECT_FALSE(it->valid());
  EXPECT_TRUE(it->status().is_invalid_argument());
  it->seek_to_first();
  EXPECT_TRUE(it->valid());
  EXPECT_TRUE(it->status().ok());
}

TEST(SstIteratorAdapter, YieldsTheFileAndKeepsTheReaderAlive) {
  std::vector<sst_testing::ModelEntry> model = {
      {make_internal_key("k1", 3, ValueKind::kPut), "one"},
      {make_internal_key("k1", 2, ValueKind::kDelete), ""},
      {make_internal_key("k2", 4, ValueKind::kPut, true), stored("two", 99)},
  };
  sst_testing::sort_model(&model);
  SstBuilderOptions o;
  o.block_size = 16;  // several blocks
  auto bytes = sst_testing::build_sst(model, o);
  ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
  auto reader = SstReader::open(std::make_shared<MemorySource>(*bytes));
  ASSERT_TRUE(reader.ok()) << reader.status().to_string();
  std::shared_ptr<const SstReader> sst = std::move(*reader);
  auto it = new_sst_iterator(sst);
  sst.reset();

  Entries expected;
  for (const auto& e : model) expected.emplace_back(e.ikey, e.value);
  EXPECT_EQ(scan(*it), expected);

  it->seek(seek_key("k1", 2));
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key(), model[1].ikey);
  it->seek("k");
  EXPECT_FALSE(it->valid());
  EXPECT_TRUE(it->status().is_invalid_argument());
}

TEST(EmptyIterator, IsNeverValidAndReportsItsStatus) {
  auto ok = new_empty_iterator();
  ok->seek_to_first();
  EXPECT_FALSE(ok->valid());
  EXPECT_TRUE(ok->status().ok());

  auto bad = new_empty_iterator(Status::IOError("cannot open"));
  bad->seek(seek_key("x"));
  EXPECT_FALSE(bad->valid());
  EXPECT_EQ(bad->status().code(), Code::kIOError);

  EXPECT_TRUE(new_memtable_iterator(nullptr)->status().is_invalid_argument());
  EXPECT_TRUE(new_sst_iterator(nullptr)->status().is_invalid_argument());
}

}  // namespace
}  // namespace isle
