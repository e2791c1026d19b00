// BlobRecheck, the blob sweep's last look before a delete: each reason to
// keep a candidate (an SST committed since the sweep's replay references
// it; its timestamp is younger than the grace; it is gone) and the one case
// it says yes.
#include "maint/blob_recheck.h"

#include <gtest/gtest.h>

#include "isle/db.h"
#include "manifest/manifest_log.h"
#include "manifest/manifest_types.h"
#include "store/mem_store.h"
#include "store/prefix_store.h"
#include "util/hash.h"

namespace isle {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kGrace = 600'000;

TEST(BlobRecheck, KeepsWhatALaterCommitReferencesWhatIsYoungAndWhatIsGone) {
  ManualClock clock;
  auto mem = std::make_shared<MemStore>("mem://blob-recheck", &clock);
  ObjectStorePtr scoped = with_prefix(mem, "db");
  ManifestStoragePtr manifest = object_store_manifest_storage(scoped);

  DBOptions dbo;
  dbo.prefix = "db";
  dbo.clock = &clock;
  // A writer that judges blob ages by a much longer grace than the
  // collector's (as a badly skewed clock would): it reuses the old blob
  // without writing it again, so only the log check can save it.
  dbo.gc_grace = std::chrono::milliseconds(100 * kGrace);
  auto db = DB::open(mem, dbo);
  ASSERT_TRUE(db.ok());
  WriterOptions wo;
  wo.flush_interval = std::chrono::hours(1);
  wo.retry_backoff = 1ms;
  wo.blob_threshold = 64;
  auto w = db->open_writer(wo);
  ASSERT_TRUE(w.ok()) << w.status().to_string();

  const std::string reused(200, 'r'), unused(200, 'u');
  const std::string reused_hash = sha256_hex(reused), unused_hash = sha256_hex(unused);
  ASSERT_TRUE(scoped->put(blob_key(reused_hash), reused).ok());
  ASSERT_TRUE(scoped->put(blob_key(unused_hash), unused).ok());
  clock.advance_ms(kGrace);
  ASSERT_TRUE(scoped->put(blob_key(std::string(64, 'y')), "young").ok());

  // The sweep's replay ends here...
  ManifestLogOptions lo;
  lo.clock = &clock;
  ManifestLog log(manifest, lo);
  ASSERT_TRUE(log.open().ok());
  BlobRecheck recheck(scoped.get(), manifest.get(), &clock, std::chrono::milliseconds(kGrace),
                      log.state().next_pos, 10s);
  // ...and then a write reuses the blob and commits.
  ASSERT_TRUE((*w)->put("k", reused).ok());
  ASSERT_TRUE((*w)->flush().ok());
  ASSERT_EQ((*w)->stats().blobs_refreshed, 0u);

  auto r = recheck.still_deletable(blob_key(reused_hash), reused_hash);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_FALSE(*r) << "an SST committed after the replay references it";
  r = recheck.still_deletable(blob_key(unused_hash), unused_hash);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(*r) << "old and referenced by nothing";
  r = recheck.still_deletable(blob_key(std::string(64, 'y')), std::string(64, 'y'));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r) << "younger than the grace";
  r = recheck.still_deletable(blob_key(std::string(64, 'z')), std::string(64, 'z'));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r) << "gone already";
  ASSERT_TRUE((*w)->close().ok());
}

}  // namespace
}  // namespace isle
