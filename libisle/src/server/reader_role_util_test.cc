// The reader keys of readerd/tailerd (`reader.` / `tailer.`) reach
// ReaderOptions: the issue-14 knobs, with their defaults and when set.
#include "server/reader_role_util.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace isle::server {
namespace {

Result<ReaderOptions> options_from(const std::string& section,
                                   const std::vector<std::string>& overrides) {
  ConfigSchema schema;
  add_reader_keys(schema, section, "1s");
  auto config = load_config(schema, nullptr, overrides);
  if (!config.ok()) return config.status();
  DaemonContext ctx;
  ctx.config = &*config;
  return reader_options(ctx, section);
}

TEST(ReaderRoleUtil, Issue14ReaderKeysHaveTheLibraryDefaults) {
  auto o = options_from("reader", {});
  ASSERT_TRUE(o.ok()) << o.status().to_string();
  const ReaderOptions d;
  EXPECT_EQ(o->blob_cache_max_item_size, d.blob_cache_max_item_size);
  EXPECT_EQ(o->verify_blobs_on_read, d.verify_blobs_on_read);
  EXPECT_EQ(o->range_read_min_sst_size, d.range_read_min_sst_size);
  EXPECT_EQ(o->allow_unverified_range_reads, d.allow_unverified_range_reads);
}

TEST(ReaderRoleUtil, Issue14ReaderKeysReachTheReaderOptions) {
  auto o = options_from("tailer", {"tailer.blob_cache_max_item_size=1MiB",
                                   "tailer.verify_blobs=false",
                                   "tailer.range_read_min_sst_size=2MiB",
                                   "tailer.verify_sha256=true",
                                   "tailer.allow_unverified_range_reads=true"});
  ASSERT_TRUE(o.ok()) << o.status().to_string();
  EXPECT_EQ(o->blob_cache_max_item_size, uint64_t{1} << 20);
  EXPECT_FALSE(o->verify_blobs_on_read);
  EXPECT_EQ(o->range_read_min_sst_size, uint64_t{2} << 20);
  EXPECT_TRUE(o->verify_sst_sha256);
  EXPECT_TRUE(o->allow_unverified_range_reads);
}

TEST(ManifestJson, ListsInlineFlushesMarkedAndCounted) {
  ManifestInfo info;
  info.l0.push_back(TableInfo{"obj", 4096, "a", "m", 1, 10, 10});
  info.inline_ssts.push_back(TableInfo{"in-1", 300, "b", "c", 11, 12, 2});
  info.inline_ssts.push_back(TableInfo{"in-2", 200, "d", "d", 13, 13, 1});
  nlohmann::json j;
  manifest_to_json(info, j);
  ASSERT_EQ(j["l0"].size(), 1u);
  EXPECT_FALSE(j["l0"][0].contains("inline")) << "an SST object is not marked";
  ASSERT_TRUE(j.contains("inline")) << j.dump();
  ASSERT_EQ(j["inline"].size(), 2u);
  EXPECT_EQ(j["inline"][0]["id"], "in-1");
  EXPECT_EQ(j["inline"][0]["inline"], true);
  EXPECT_EQ(j["inline"][1]["seq_hi"], 13u);
  EXPECT_EQ(j["inline_tables"], 2u);
  EXPECT_EQ(j["inline_bytes"], 500u);

  nlohmann::json none;
  manifest_to_json(ManifestInfo{}, none);
  EXPECT_TRUE(none["inline"].empty());
  EXPECT_EQ(none["inline_tables"], 0u);
  EXPECT_EQ(none["inline_bytes"], 0u);
}

}  // namespace
}  // namespace isle::server
