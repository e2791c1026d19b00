// readerd/tailerd plumbing of issue 14's signing and LSN items: a
// verify_public_key_file holding several public keys reaches ReaderOptions
// as a ring of all of them (a private key in it stops the daemon), and the
// manifest JSON (/v1/manifest, readerd's /v1/status) carries
// max_committed_lsn / low_watermark_lsn, null when unknown.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "server/reader_role_util.h"
#include "testutil/testutil.h"
#include "util/signing.h"

namespace isle::server {
namespace {

Result<ReaderOptions> options_with(const std::vector<std::string>& overrides) {
  ConfigSchema schema;
  add_reader_keys(schema, "reader", "1s");
  auto config = load_config(schema, nullptr, overrides);
  if (!config.ok()) return config.status();
  DaemonContext ctx;
  ctx.config = &*config;
  return reader_options(ctx, "reader");
}

TEST(ReaderKeyFile, SeveralPublicKeysBecomeOneRing) {
  isle::testing::TempDir dir;
  auto a = Ed25519Signer::generate();
  auto b = Ed25519Signer::generate();
  ASSERT_TRUE(a.ok() && b.ok());
  const std::string path = dir.path() + "/ring.pub";
  std::ofstream(path) << "# writer\n" << a->public_key_pem() << "# compactor\n" << b->public_key_pem();
  auto o = options_with({"reader.verify_public_key_file=" + path});
  ASSERT_TRUE(o.ok()) << o.status().to_string();
  auto ring = Ed25519KeyRing::from_pem(o->verify_public_key_pem);
  ASSERT_TRUE(ring.ok()) << ring.status().to_string();
  EXPECT_EQ(ring->keys().size(), 2u);
  EXPECT_NE(ring->find(a->key_id()), nullptr);
  EXPECT_NE(ring->find(b->key_id()), nullptr);

  const std::string mixed = dir.path() + "/mixed.pub";
  std::ofstream(mixed) << a->public_key_pem() << b->private_key_pem();
  auto bad = options_with({"reader.verify_public_key_file=" + mixed});
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.status().is_invalid_argument()) << bad.status().to_string();
  EXPECT_NE(bad.status().message().find(mixed), std::string::npos) << bad.status().to_string();
}

TEST(ManifestJson, CarriesTheLsnsOrNull) {
  ManifestInfo info;
  nlohmann::json unknown;
  manifest_to_json(info, unknown);
  ASSERT_TRUE(unknown.contains("max_committed_lsn"));
  EXPECT_TRUE(unknown["max_committed_lsn"].is_null());
  EXPECT_TRUE(unknown["low_watermark_lsn"].is_null());

  info.max_committed_lsn = 1234;
  info.low_watermark_lsn = 17;
  nlohmann::json known;
  manifest_to_json(info, known);
  EXPECT_EQ(known["max_committed_lsn"], 1234u);
  EXPECT_EQ(known["low_watermark_lsn"], 17u);
  nlohmann::json status;
  lsn_to_json(info, status);
  EXPECT_EQ(status.size(), 2u);
  EXPECT_EQ(status["max_committed_lsn"], 1234u);
}

}  // namespace
}  // namespace isle::server
