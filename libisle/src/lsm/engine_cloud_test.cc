// The engine's model bench (engine_model.h) on the real object-store
// servers: Ceph RGW (s3://) and Azurite (azblob://), started by
// scripts/objstores/ (scripts/test.sh does it and exports their variables).
// Each seed runs on a FRESH bucket; the FaultStore sits on top of the real
// store, so injected failures, lost responses and delays combine with the
// server's own behaviour (real conditional writes, listings, latencies).
// Fewer seeds and shorter histories than the in-memory suites: every
// request is a round trip ($ISLE_TEST_CLOUD_SEEDS overrides the counts).
// Skipped, with the message saying how to start the server, when its
// variables are unset. The writer flushes inline by default (one PUT per
// flush; docs/manifest-protocol.md, "Inline flushes").
//
// The manual clock is sound here: leases are judged by the manifest's
// clock, and nothing in the writer or reader compares it with the store's
// modified_ms (only GC's orphan and blob sweeps do; see the maint suite).
#include <gtest/gtest.h>

#include "engine_model.h"

namespace isle {
namespace {

using testing::CloudServer;
using testing::RunConfig;
using testing::run_seed;

class EngineCloudModel : public ::testing::TestWithParam<CloudServer> {};

RunConfig cloud_config(const CloudServer& server, bool faults) {
  RunConfig c;
  c.ops = faults ? 40 : 50;
  c.faults = faults;
  c.bucket = server.fresh;
  return c;
}

TEST_P(EngineCloudModel, RandomHistoriesMatchAStdMap) {
  ISLE_FRESH_CLOUD_STORE_OR_SKIP(probe, GetParam());
  const int seeds = testing::cloud_seed_count(8);
  const uint64_t base = testing::seed_base() + 900000;
  for (int i = 0; i < seeds; i++) {
    ASSERT_NO_FATAL_FAILURE(run_seed(base + static_cast<uint64_t>(i), cloud_config(GetParam(), false)));
  }
}

TEST_P(EngineCloudModel, RandomFaultsOnEveryPathLoseNothing) {
  ISLE_FRESH_CLOUD_STORE_OR_SKIP(probe, GetParam());
  const int seeds = testing::cloud_seed_count(8);
  const uint64_t base = testing::seed_base() + 910000;
  for (int i = 0; i < seeds; i++) {
    ASSERT_NO_FATAL_FAILURE(run_seed(base + static_cast<uint64_t>(i), cloud_config(GetParam(), true)));
  }
}

// The default writer flushes inline (one PUT per flush); this variant also
// materializes often (small bounds), so materialize entries, their uploads
// and readers applying both run against the real servers.
TEST_P(EngineCloudModel, FrequentMaterializationUnderFaultsLosesNothing) {
  ISLE_FRESH_CLOUD_STORE_OR_SKIP(probe, GetParam());
  const int seeds = testing::cloud_seed_count(6);
  const uint64_t base = testing::seed_base() + 920000;
  RunConfig c = cloud_config(GetParam(), true);
  c.tune_writer = testing::frequent_materialization;
  uint64_t materializations = 0;
  c.materializations = &materializations;
  for (int i = 0; i < seeds; i++) {
    ASSERT_NO_FATAL_FAILURE(run_seed(base + static_cast<uint64_t>(i), c));
  }
  EXPECT_GT(materializations, 0u);
}

INSTANTIATE_TEST_SUITE_P(Servers, EngineCloudModel, ::testing::ValuesIn(testing::cloud_servers()),
                         testing::cloud_server_name);

}  // namespace
}  // namespace isle
