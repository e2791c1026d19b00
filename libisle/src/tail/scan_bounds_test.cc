// Inclusive upper bounds through the TailingReader's read passthroughs
// (scan, scan_limit, iterator) and over sorted runs: after a compaction
// that cuts one SST per key, the run file whose smallest key is the bound
// must still be read (an iterator must prune run files by the bound's
// successor, not by the bound).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "isle/compactor.h"
#include "isle/tailing_reader.h"
#include "lsm/engine_test_util.h"

namespace isle {
namespace {

using testing::keys_of;

using namespace std::chrono_literals;
using testing::EngineEnv;

TEST(TailingReaderScanBounds, InclusiveBoundsPassThroughAndCoverRunFilesStartingAtTheBound) {
  EngineEnv env;
  WriterOptions wo = env.writer_options();
  wo.inline_flush_max_bytes = 0;  // SST objects, which the compactor turns into run files
  auto w = env.writer(wo);
  ASSERT_NE(w, nullptr);
  const std::string b0("b\0", 2);
  for (const std::string& k : {std::string("a"), std::string("b"), b0, std::string("ba")}) {
    ASSERT_TRUE(w->put(k, "v:" + k + std::string(5000, 'x')).ok());
    ASSERT_TRUE(w->flush().ok());  // one L0 SST per key
  }
  CompactorOptions co;
  co.l0_threshold = 2;
  co.min_sources = 2;
  co.retry_backoff = 1ms;
  co.compression = Compression::kNone;
  co.target_sst_size = 4096;  // the smallest allowed; every value is larger
  auto c = Compactor::open(env.store, env.db_options, co);
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  auto info = (*c)->run_compaction();
  ASSERT_TRUE(info.ok()) << info.status().to_string();

  auto t = TailingReader::open(env.store, env.reader_options());
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  TailingReader& tr = **t;
  const ManifestInfo m = tr.manifest();
  ASSERT_TRUE(m.l0.empty());
  ASSERT_EQ(m.runs.size(), 1u);
  ASSERT_EQ(m.runs[0].size(), 4u) << "one run file per key";
  EXPECT_EQ(m.runs[0][1].min_key, "b");

  EXPECT_EQ(keys_of(tr.scan("a", "b")), (std::vector<std::string>{"a"}));
  EXPECT_EQ(keys_of(tr.scan("a", "b", UpperBound::kInclusive)), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(keys_of(tr.scan("b", b0, UpperBound::kInclusive)), (std::vector<std::string>{"b", b0}));
  EXPECT_EQ(keys_of(tr.scan_limit("a", "b", 1, UpperBound::kInclusive)),
            (std::vector<std::string>{"a"}));
  EXPECT_EQ(keys_of(tr.scan_limit("a", b0, 5, UpperBound::kInclusive)),
            (std::vector<std::string>{"a", "b", b0}));

  IteratorOptions io;
  io.lower_bound = "b";
  io.upper_bound = "b";
  io.upper_bound_inclusive = true;
  auto it = tr.iterator(io);
  std::vector<std::string> got;
  for (it->seek_to_first(); it->valid(); it->next()) got.emplace_back(it->key());
  ASSERT_TRUE(it->status().ok()) << it->status().to_string();
  EXPECT_EQ(got, (std::vector<std::string>{"b"}));
}

}  // namespace
}  // namespace isle
