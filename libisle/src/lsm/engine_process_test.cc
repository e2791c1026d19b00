// Writers in separate processes racing for one database: every write a
// process saw acknowledged as durable must be visible afterwards, whoever
// won the later claims, and no two owners ever both committed (L0 sequence
// ranges never overlap). On a file:// bucket, and (EngineProcessRaceCloud)
// on a fresh bucket of each real object-store server, which the workers
// open by the store's url() with the credentials in their inherited
// environment.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "isle/db.h"
#include "lsm/engine_test_util.h"
#include "manifest/manifest_codec.h"
#include "manifest/manifest_state.h"
#include "store/prefix_store.h"
#include "testutil/testutil.h"

namespace isle {
namespace {

// `kWorkers` worker processes, `rounds` claims each, on the bucket at `url`,
// each writer with `in_flight` flushes in flight at most.
void race(const std::string& url, int workers, int rounds, int in_flight) {
  isle::testing::TempDir dir;
  const std::string worker = isle::testing::built_program("isle_engine_race_worker");
  const int kWorkers = workers;
  std::vector<int> pids;
  for (int i = 0; i < kWorkers; i++) {
    pids.push_back(isle::testing::spawn_program(
        worker, {url, std::to_string(i), std::to_string(rounds), dir.path() + "/acks",
                 std::to_string(in_flight)}));
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
  // The whole log (nothing collects it here), replayed from position 1:
  // it ends where the reader's view does, and counts the commits a fenced
  // writer still landed after a takeover (skipped by every replay: the
  // writer that made them must not have acknowledged them, which the
  // visibility check above covers).
  auto scoped = with_prefix(*store, "race");
  ManifestState st;
  int stale = 0, applied_flushes = 0, chain_broken = 0;
  for (uint64_t p = 1;; p++) {
    auto got = scoped->get(log_key(p));
    if (got.status().is_not_found()) break;
    ASSERT_TRUE(got.ok()) << got.status().to_string();
    auto e = decode_entry(got->data, log_key(p));
    ASSERT_TRUE(e.ok()) << e.status().to_string();
    auto outcome = apply_entry(&st, *e);
    ASSERT_TRUE(outcome.ok()) << outcome.status().to_string();
    if (e->op != LogOp::kAddSstable) continue;
    if (*outcome == ApplyOutcome::kApplied) applied_flushes++;
    else if (*outcome == ApplyOutcome::kStaleEpoch) stale++;
    // Sent behind a flush that lost its position (several in flight).
    else if (*outcome == ApplyOutcome::kChainBroken && e->chained) chain_broken++;
    else ADD_FAILURE() << "log " << p << ": a flush skipped as " << apply_outcome_name(*outcome);
  }
  EXPECT_EQ(st.l0.size(), info.l0.size()) << "the full replay and the reader's view differ";
  EXPECT_EQ(st.data_seq, info.data_seq);
  std::printf("race on %s, %d in flight: %zu writes acknowledged, %zu SSTs (%d flushes applied, "
              "%d stale-epoch and %d chain-broken commits skipped), writer epoch %llu\n",
              url.c_str(), in_flight, acked.size(), info.l0.size(), applied_flushes, stale,
              chain_broken, static_cast<unsigned long long>(info.writer_epoch));
}

TEST(EngineProcessRace, RacingWriterProcessesNeverLoseAnAcknowledgedWrite) {
  isle::testing::TempDir dir;
  race("file://" + dir.path() + "/bucket", 4, 12, 1);
}

TEST(EngineProcessRace, RacingWritersWithFourFlushesInFlightNeverLoseAnAcknowledgedWrite) {
  isle::testing::TempDir dir;
  race("file://" + dir.path() + "/bucket", 4, 12, 4);
}

class EngineProcessRaceCloud : public ::testing::TestWithParam<isle::testing::CloudServer> {};

TEST_P(EngineProcessRaceCloud, RacingWriterProcessesNeverLoseAnAcknowledgedWrite) {
  ISLE_FRESH_CLOUD_STORE_OR_SKIP(store, GetParam());
  race(store->url(), 4, 12, 4);
}

INSTANTIATE_TEST_SUITE_P(Servers, EngineProcessRaceCloud,
                         ::testing::ValuesIn(isle::testing::cloud_servers()),
                         isle::testing::cloud_server_name);

}  // namespace
}  // namespace isle
