// Writers in separate processes racing for one database on a file://
// bucket: every write a process saw acknowledged as durable must be
// visible afterwards, whoever won the later claims.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "isle/db.h"
#include "testutil/testutil.h"

namespace isle {
namespace {

TEST(EngineProcessRace, RacingWriterProcessesNeverLoseAnAcknowledgedWrite) {
  isle::testing::TempDir dir;
  const std::string url = "file://" + dir.path() + "/bucket";
  const std::string worker = isle::testing::built_program("isle_engine_race_worker");
  constexpr int kWorkers = 4;
  constexpr int kRounds = 12;
  std::vector<int> pids;
  for (int i = 0; i < kWorkers; i++) {
    pids.push_back(isle::testing::spawn_program(
        worker, {url, std::to_string(i), std::to_string(kRounds), dir.path() + "/acks"}));
    ASSERT_GT(pids.back(), 0);
  }
  for (int pid : pids) EXPECT_EQ(isle::testing::wait_program(pid), 0);

  std::set<std::string> acked;
  std::ifstream in(dir.path() + "/acks");
  for (std::string line; std::getline(in, line);) acked.insert(line);
  ASSERT_FALSE(acked.empty()) << "no write was ever acknowledged";

  auto store = open_object_store(url);
  ASSERT_TRUE(store.ok());
  ReaderOptions ro;
  ro.prefix = "race";
  auto r = Reader::open(*store, ro);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  for (const auto& key : acked) {
    auto v = (*r)->get(key);
    ASSERT_TRUE(v.ok()) << v.status().to_string();
    EXPECT_TRUE(v->has_value()) << key << " was acknowledged durable but is not visible";
  }
  // Claims and commits interleaved: many epochs, never two L0 SSTs with
  // overlapping sequences (one owner at a time).
  const ManifestInfo info = (*r)->manifest();
  EXPECT_GE(info.writer_epoch, static_cast<uint64_t>(kWorkers));
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& t : info.l0) ranges.push_back({t.seq_lo, t.seq_hi});
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); i++) EXPECT_GT(ranges[i].first, ranges[i - 1].second);
  std::printf("race: %zu writes acknowledged, %zu SSTs, writer epoch %llu\n", acked.size(),
              info.l0.size(), static_cast<unsigned long long>(info.writer_epoch));
}

}  // namespace
}  // namespace isle
