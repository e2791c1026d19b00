// ReadAheadSource: byte-exact reads for scans, seeks, straddling blocks and
// oversized reads; far fewer inner reads than blocks; an SST scanned
// through it equals the same SST scanned from memory.
#include "format/read_ahead_source.h"

#include <gtest/gtest.h>

#include "format/sst_reader.h"
#include "format/sst_test_util.h"
#include "util/random.h"

namespace isle {
namespace {

TEST(ReadAheadSource, SequentialScanIsByteExactAndReadsWholeChunks) {
  Random rnd(7);
  const std::string data = rnd.bytes(100'000);
  auto inner = std::make_shared<MemorySource>(data);
  ReadAheadSource src(inner, data.size(), 4096);
  uint64_t off = 0, blocks = 0;
  while (off < data.size()) {
    const uint64_t len = std::min<uint64_t>(1 + rnd.uniform(3000), data.size() - off);
    auto r = src.read(off, len);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    ASSERT_EQ(*r, data.substr(off, len)) << "at " << off;
    off += len;
    blocks++;
  }
  const uint64_t chunks = (data.size() + 4095) / 4096;
  EXPECT_EQ(inner->reads(), chunks) << "each chunk read once, blocks straddling edges included";
  EXPECT_GT(blocks, chunks);
  EXPECT_EQ(src.direct_reads(), 1u) << "only the first chunk is read in the foreground";
  EXPECT_EQ(src.prefetched(), chunks - 1);
}

TEST(ReadAheadSource, SeeksOversizedReadsAndBadRangesStayCorrect) {
  Random rnd(8);
  const std::string data = rnd.bytes(50'000);
  auto inner = std::make_shared<MemorySource>(data);
  ReadAheadSource src(inner, data.size(), 1024);
  for (int i = 0; i < 2000; i++) {
    const uint64_t off = rnd.uniform(data.size());
    const uint64_t len = std::min<uint64_t>(rnd.uniform(3000), data.size() - off);
    auto r = src.read(off, len);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(*r, data.substr(off, len)) << off << "+" << len;
  }
  EXPECT_TRUE(src.read(data.size() - 10, 20).status().is_corruption()) << "past the end";
  auto tail = src.read_tail(100);
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(tail->bytes, data.substr(data.size() - 100));
}

TEST(ReadAheadSource, AnSstScansTheSameAsFromMemory) {
  Random rnd(9);
  std::vector<sst_testing::ModelEntry> entries;
  for (int i = 0; i < 5000; i++) {
    entries.push_back({make_internal_key(sst_testing::numbered_key("k", i), i + 1, ValueKind::kPut,
                                         false),
                       rnd.bytes(50)});
  }
  SstBuilderOptions bo;
  bo.block_size = 1024;
  auto bytes = sst_testing::build_sst(entries, bo);
  ASSERT_TRUE(bytes.ok());
  auto inner = std::make_shared<MemorySource>(*bytes);
  auto ra = std::make_shared<ReadAheadSource>(inner, bytes->size(), 16 * 1024);
  auto sst = SstReader::open(ra, {});
  ASSERT_TRUE(sst.ok()) << sst.status().to_string();
  auto it = (*sst)->new_iterator();
  size_t i = 0;
  for (it->seek_to_first(); it->valid(); it->next(), i++) {
    ASSERT_LT(i, entries.size());
    ASSERT_EQ(it->key(), entries[i].ikey);
    ASSERT_EQ(it->value(), entries[i].value);
  }
  ASSERT_TRUE(it->status().ok());
  EXPECT_EQ(i, entries.size());
  ASSERT_GT(bytes->size(), 200'000u);
  EXPECT_LE(inner->reads(), 2 + bytes->size() / (16 * 1024)) << "chunks, not blocks";
}

}  // namespace
}  // namespace isle
