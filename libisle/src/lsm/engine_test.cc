// The embedded API end to end on an in-memory bucket: writes, durability,
// reads, scans, TTL, blobs, batches, limits, fencing, sequence numbers
// across restarts, and bad bytes in the bucket.
#include <gtest/gtest.h>

#include <thread>

#include "engine_test_util.h"
#include "isle/db.h"
#include "manifest/manifest_types.h"
#include "store/mem_store.h"
#include "store/metrics_store.h"
#include "testutil/testutil.h"
#include "util/signing.h"

namespace isle {
namespace {

using namespace std::chrono_literals;
using testing::EngineEnv;

TEST(Engine, PutFlushGetScan) {
  EngineEnv env;
  auto w = env.writer();
  ASSERT_TRUE(w->put("b", "2").ok());
  ASSERT_TRUE(w->put("a", "1").ok());
  auto s = w->del("zz");
  ASSERT_TRUE(s.ok());
  auto r = env.reader();
  EXPECT_EQ(*r->get("a"), std::nullopt) << "nothing is visible before a flush commits";
  ASSERT_TRUE(w->flush().ok());
  ASSERT_TRUE(r->refresh().ok());
  EXPECT_EQ(*r->get("a"), "1");
  EXPECT_EQ(*r->get("b"), "2");
  EXPECT_EQ(*r->get("c"), std::nullopt);
  auto all = r->scan("", "");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0], (KeyValue{"a", "1"}));
  auto mg = r->multi_get({"b", "x", "a"});
  ASSERT_TRUE(mg.ok());
  EXPECT_EQ((*mg)[0], "2");
  EXPECT_EQ((*mg)[1], std::nullopt);
  EXPECT_EQ((*mg)[2], "1");

  ASSERT_TRUE(w->del("a").ok());
  ASSERT_TRUE(w->put("b", "22").ok());
  ASSERT_TRUE(w->flush().ok());
  ASSERT_TRUE(r->refresh().ok());
  EXPECT_EQ(*r->get("a"), std::nullopt) << "a newer tombstone in a newer SST wins";
  EXPECT_EQ(*r->get("b"), "22");
  // Small flushes travel inline in their log entries (not yet materialized).
  EXPECT_EQ(r->manifest().inline_ssts.size(), 2u);
  EXPECT_TRUE(r->manifest().l0.empty());
}

TEST(Engine, AwaitDurableGroupCommitsWithoutWaitingForTheInterval) {
  EngineEnv env;
  WriterOptions wo = env.writer_options();
  wo.flush_interval = 1h;  // only a durable waiter can trigger the flush
  auto w = env.writer(wo);
  auto seq = w->put("k", "v");
  ASSERT_TRUE(seq.ok());
  ASSERT_TRUE(w->await_durable(*seq, 10s).ok());
  EXPECT_GE(w->stats().durable_seq, *seq);
  auto r = env.reader();
  EXPECT_EQ(*r->get("k"), "v");
}

TEST(Engine, IntervalFlushMakesWritesVisibleWithoutAsking) {
  EngineEnv env;
  WriterOptions wo = env.writer_options();
  wo.flush_interval = 20ms;
  auto w = env.writer(wo);
  ASSERT_TRUE(w->put("k", "v").ok());
  auto r = env.reader();
  for (int i = 0; i < 500 && !r->get("k")->has_value(); i++) {
    std::this_thread::sleep_for(10ms);
    ASSERT_TRUE(r->refresh().ok());
  }
  EXPECT_EQ(*r->get("k"), "v");
}

TEST(Engine, TtlIsEnforcedOnEveryReadPath) {
  EngineEnv env;
  auto w = env.writer();
  ASSERT_TRUE(w->put_with_ttl("t", "short", 100ms).ok());
  ASSERT_TRUE(w->put_with_ttl("u", "long", 1h).ok());
  ASSERT_TRUE(w->put("p", "plain").ok());
  ASSERT_TRUE(w->flush().ok());
  auto r = env.reader();
  EXPECT_EQ(*r->get("t"), "short");
  env.clock.advance_ms(100);
  EXPECT_EQ(*r->get("t"), std::nullopt);
  EXPECT_EQ(*r->get("u"), "long");
  auto all = r->scan("", "");
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].key, "p");
  EXPECT_EQ((*r->multi_get({"t"}))[0], std::nullopt);
  EXPECT_EQ(w->put_with_ttl("x", "y", 0ms).status().code(), Code::kInvalidArgument);
}

TEST(Engine, LargeValuesGoToContentAddressedBlobs) {
  EngineEnv env;
  WriterOptions wo = env.writer_options();
  wo.blob_threshold = 1000;
  auto w = env.writer(wo);
  const std::string big(5000, 'x');
  ASSERT_TRUE(w->put("big", big).ok());
  ASSERT_TRUE(w->put("big2", big).ok());  // same content: one blob
  ASSERT_TRUE(w->flush().ok());
  auto blobs = env.scoped->list_all("blobs/");
  ASSERT_TRUE(blobs.ok());
  EXPECT_EQ(blobs->size(), 1u);
  auto r = env.reader();
  EXPECT_EQ(*r->get("big"), big);
  auto all = r->scan("", "");
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[1].value, big);
  // A blob whose bytes were changed in the bucket is Corruption, not data.
  ASSERT_TRUE(env.scoped->put((*blobs)[0].key, std::string(5000, 'y')).ok());
  auto fresh = env.reader();
  EXPECT_EQ(fresh->get("big").status().code(), Code::kCorruption);
}

TEST(Engine, AtomicBatchLandsWholeAndLaterOpWins) {
  EngineEnv env;
  WriterOptions wo = env.writer_options();
  wo.memtable_size = 4096;  // the batch is larger than a memtable
  auto w = env.writer(wo);
  WriteBatch b;
  for (int i = 0; i < 200; i++) b.put("k" + std::to_string(i), std::string(50, 'v'));
  b.put("dup", "first");
  b.put("dup", "second");
  b.del("k0");
  auto seq = w->write(b);
  ASSERT_TRUE(seq.ok());
  ASSERT_TRUE(w->flush().ok());
  auto r = env.reader();
  EXPECT_EQ(r->manifest().inline_ssts.size(), 1u) << "an atomic batch is one (inline) SST";
  EXPECT_EQ(*r->get("dup"), "second");
  EXPECT_EQ(*r->get("k0"), std::nullopt);
  EXPECT_EQ(r->scan("", "")->size(), 200u);
  // One bad entry rejects the batch whole.
  WriteBatch bad;
  bad.put("ok", "1");
  bad.put("", "empty key");
  EXPECT_EQ(w->write(bad).status().code(), Code::kInvalidArgument);
  ASSERT_TRUE(w->flush().ok());
  ASSERT_TRUE(r->refresh().ok());
  EXPECT_EQ(*r->get("ok"), std::nullopt);
}

TEST(Engine, LimitsGiveClearErrors) {
  EngineEnv env;
  WriterOptions wo = env.writer_options();
  wo.max_key_size = 16;
  wo.max_value_size = 100;
  auto w = env.writer(wo);
  auto e = w->put("", "v");
  EXPECT_EQ(e.status().code(), Code::kInvalidArgument);
  EXPECT_NE(e.status().message().find("empty key"), std::string::npos);
  e = w->put(std::string(17, 'k'), "v");
  EXPECT_EQ(e.status().code(), Code::kInvalidArgument);
  EXPECT_NE(e.status().message().find("max_key_size"), std::string::npos);
  e = w->put("k", std::string(101, 'v'));
  EXPECT_EQ(e.status().code(), Code::kInvalidArgument);
  EXPECT_NE(e.status().message().find("max_value_size"), std::string::npos);
  EXPECT_TRUE(w->put(std::string(16, 'k'), std::string(100, 'v')).ok());
  // A threshold that would put values too large for an SST inline is
  // refused when the writer opens, not at its first flush.
  WriterOptions too_big = env.writer_options();
  too_big.blob_threshold = size_t{64} << 20;
  EXPECT_EQ(env.db().open_writer(too_big).status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(w->put("empty-value", "").ok());
  ASSERT_TRUE(w->flush().ok());
  EXPECT_EQ(*env.reader()->get("empty-value"), "");
}

TEST(Engine, BackpressureWhenTooManyMemtablesWait) {
  EngineEnv env;
  // Uploads stall until released, so sealed memtables pile up.
  std::atomic<bool> release{false};
  env.fault->add_rule(FaultRule::on(StoreOp::kPut).key_prefix("sstable/").when([&](const FaultContext&) {
    while (!release.load()) std::this_thread::sleep_for(1ms);
    return false;
  }));
  WriterOptions wo = env.writer_options();
  wo.memtable_size = 4096;
  wo.max_sealed_memtables = 2;
  auto w = env.writer(wo);
  Status last;
  for (int i = 0; i < 10000 && last.ok(); i++) {
    last = w->put("k" + std::to_string(i), std::string(100, 'v')).status();
  }
  EXPECT_EQ(last.code(), Code::kBackpressure) << last.to_string();
  release = true;
  ASSERT_TRUE(w->flush().ok());
  EXPECT_TRUE(w->put("after", "ok").ok());
}

TEST(Engine, SequencesNeverRepeatAcrossCrashesAndTakeovers) {
  EngineEnv env;
  uint64_t highest = 0;
  for (int round = 0; round < 4; round++) {
    auto w = env.writer();
    for (int i = 0; i < 5; i++) {
      auto s = w->put("k", std::to_string(i));
      ASSERT_TRUE(s.ok());
      EXPECT_GT(*s, highest);
      highest = *s;
    }
    if (round % 2 == 0) {
      w->simulate_crash();  // non-durable writes lost; their sequences are not reused
    } else {
      ASSERT_TRUE(w->close().ok());
    }
  }
}

TEST(Engine, SecondWriterFencesTheFirst) {
  EngineEnv env;
  auto a = env.writer();
  ASSERT_TRUE(a->put("from-a", "1").ok());
  ASSERT_TRUE(a->flush().ok());
  auto b = env.writer();  // takeover
  auto s = a->put("late", "x");
  if (s.ok()) {
    // Accepted into a's memtable, but it can never become durable.
    EXPECT_EQ(a->flush().code(), Code::kFenced);
  } else {
    EXPECT_EQ(s.status().code(), Code::kFenced);
  }
  EXPECT_EQ(a->status().code(), Code::kFenced);
  EXPECT_EQ(a->put("later", "x").status().code(), Code::kFenced);
  ASSERT_TRUE(b->put("from-b", "2").ok());
  ASSERT_TRUE(b->flush().ok());
  auto r = env.reader();
  EXPECT_EQ(*r->get("from-a"), "1");
  EXPECT_EQ(*r->get("from-b"), "2");
  EXPECT_EQ(*r->get("late"), std::nullopt);
}

TEST(Engine, ReadersStartOnAnEmptyBucketAndPickUpData) {
  EngineEnv env;
  auto r = env.reader();
  EXPECT_EQ(*r->get("x"), std::nullopt);
  EXPECT_TRUE(r->scan("", "")->empty());
  auto w = env.writer();
  ASSERT_TRUE(w->put("x", "1").ok());
  ASSERT_TRUE(w->flush().ok());
  ASSERT_TRUE(r->refresh().ok());
  EXPECT_EQ(*r->get("x"), "1");
}

TEST(Engine, PointReadNeverDownloadsAWholeSst) {
  EngineEnv env;
  WriterOptions wo = env.writer_options();
  wo.inline_flush_max_bytes = 0;  // ranged reads of an SST object
  auto w = env.writer(wo);
  for (int i = 0; i < 5000; i++) {
    ASSERT_TRUE(w->put("key" + std::to_string(100000 + i), std::string(100, 'v')).ok());
  }
  ASSERT_TRUE(w->flush().ok());
  ReaderOptions ro = env.reader_options();
  ro.sst_tail_read = 4096;
  auto r = env.reader(ro);
  env.metrics->reset();
  ASSERT_EQ(*r->get("key102500"), std::string(100, 'v'));
  const auto m = env.metrics->snapshot();
  const uint64_t sst_size = r->manifest().l0[0].size;
  EXPECT_LT(m.total().bytes_read, sst_size / 4) << "fetched " << m.total().bytes_read << " of " << sst_size;
  // A second read of the same block is served by the block cache.
  env.metrics->reset();
  ASSERT_TRUE(r->get("key102501").ok());
  EXPECT_EQ(env.metrics->snapshot().total().requests, 0u);
}

TEST(Engine, SignedSstsVerifyAndUnsignedOrForeignOnesAreRejected) {
  EngineEnv env;
  auto key = Ed25519Signer::generate();
  ASSERT_TRUE(key.ok());
  WriterOptions wo = env.writer_options();
  wo.signing_key_pem = key->private_key_pem();
  wo.inline_flush_max_bytes = 0;  // SST objects (engine_inline_test.cc: inline ones)
  auto w = env.writer(wo);
  ASSERT_TRUE(w->put("a", "1").ok());
  ASSERT_TRUE(w->flush().ok());
  ReaderOptions ro = env.reader_options();
  ro.verify_public_key_pem = key->public_key_pem();
  EXPECT_EQ(*env.reader(ro)->get("a"), "1");

  auto other = Ed25519Signer::generate();
  ro.verify_public_key_pem = other->public_key_pem();
  EXPECT_EQ(env.reader(ro)->get("a").status().code(), Code::kCorruption);

  // sha256 verification catches bytes changed in the bucket.
  ReaderOptions rs = env.reader_options();
  rs.verify_sst_sha256 = true;
  auto r = env.reader(rs);
  const std::string id = r->manifest().l0[0].id;
  auto obj = env.scoped->get(sst_key(id));
  std::string bytes = obj->data;
  bytes[3] ^= 1;
  ASSERT_TRUE(env.scoped->put(sst_key(id), bytes).ok());
  EXPECT_EQ(r->get("a").status().code(), Code::kCorruption);
}

TEST(Engine, CorruptObjectsInTheBucketGiveErrorsNotCrashes) {
  EngineEnv env;
  auto w = env.writer();
  for (int i = 0; i < 100; i++) ASSERT_TRUE(w->put("k" + std::to_string(i), "v").ok());
  ASSERT_TRUE(w->flush().ok());
  ASSERT_TRUE(w->close().ok());
  auto r = env.reader();
  const std::string id = r->manifest().l0[0].id;
  const std::string good = env.scoped->get(sst_key(id))->data;

  // Every truncation point of the SST: a fresh reader reports an error (or,
  // for a change that misses what it reads, the right value), never a crash.
  for (size_t cut : {size_t{0}, size_t{10}, good.size() / 2, good.size() - 1}) {
    ASSERT_TRUE(env.scoped->put(sst_key(id), good.substr(0, cut)).ok());
    auto fresh = env.reader();
    auto g = fresh->get("k5");
    EXPECT_FALSE(g.ok()) << "cut " << cut;
    auto sc = fresh->scan("", "");
    EXPECT_FALSE(sc.ok());
  }
  ASSERT_TRUE(env.scoped->put(sst_key(id), good).ok());

  // A corrupt log entry: open fails with Corruption naming the object; an
  // already open reader keeps serving its last good view.
  auto live = env.reader();
  ASSERT_TRUE(env.scoped->put(log_key(live->manifest().log_position), "{not json").ok());
  auto bad = Reader::open(env.store, env.reader_options());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kCorruption);
  EXPECT_NE(bad.status().message().find("manifest/log/"), std::string::npos);
  EXPECT_EQ(live->refresh().code(), Code::kCorruption);
  EXPECT_EQ(*live->get("k5"), "v");
  // So does a writer: it refuses to start rather than write past it.
  EXPECT_EQ(env.db().open_writer(env.writer_options()).status().code(), Code::kCorruption);

  // A corrupt CURRENT.
  ASSERT_TRUE(env.scoped->put("manifest/CURRENT", "\x01\x02").ok());
  EXPECT_EQ(Reader::open(env.store, env.reader_options()).status().code(), Code::kCorruption);
}

TEST(ReaderRefresh, ARefreshAfterAFailedOneInstallsWhatTheFailedOneApplied) {
  // A refresh that applied an entry and then failed (its probe of the
  // next position) must not strand the reader: the next refresh installs
  // what the failed one applied. Found by the concurrent maintenance model.
  EngineEnv env;
  auto w = env.writer();
  ASSERT_TRUE(w->put("k", "v").ok());
  ASSERT_TRUE(w->flush().ok());
  auto r = env.reader();
  ASSERT_TRUE(w->put("k", "v2").ok());
  ASSERT_TRUE(w->flush().ok());  // commits at the reader's next position p
  const uint64_t p = r->manifest().log_position;
  env.fault->add_rule(FaultRule::on(StoreOp::kGet)
                          .key_equals("db/" + log_key(p + 1))
                          .fail(Status::Permanent("injected"))
                          .times(1));
  EXPECT_FALSE(r->refresh().ok());
  EXPECT_EQ(*r->get("k"), "v2") << "what the failed refresh applied is installed";
  ASSERT_TRUE(r->refresh().ok());
  EXPECT_EQ(r->manifest().log_position, p + 1);
  EXPECT_EQ(*r->get("k"), "v2");
  ASSERT_TRUE(w->close().ok());
}

}  // namespace
}  // namespace isle

namespace isle {
namespace {

TEST(EngineOpenCost, TenThousandCommitsOpenWithCurrentOneSnapshotAndAShortTail) {
  testing::EngineEnv env;
  WriterOptions wo = env.writer_options();
  wo.snapshot_every = 64;
  wo.inline_flush_max_bytes = 0;  // 10,000 L0 SST objects, as the test counts
  auto w = env.writer(wo);
  for (int i = 0; i < 10'000; i++) {
    ASSERT_TRUE(w->put("k" + std::to_string(i % 100), std::to_string(i)).ok());
    ASSERT_TRUE(w->flush().ok());
  }
  EXPECT_EQ(w->stats().flushes, 10'000u);
  EXPECT_GE(w->stats().snapshots, 10'000u / 64);
  env.metrics->reset();
  auto r = env.reader();
  const StoreMetrics m = env.metrics->snapshot();
  const ManifestInfo info = r->manifest();
  // CURRENT + one snapshot + the log tail after it (at most snapshot_every
  // entries plus their checkpoints) + the final 404.
  EXPECT_EQ(m.op(StoreOp::kList).requests, 0u);
  EXPECT_LE(m.op(StoreOp::kGet).requests, 2u + 2u * 64u + 1u)
      << "log_position " << info.log_position << ", log_seq_start " << info.log_seq_start;
  EXPECT_GT(info.log_position, 10'000u);
  EXPECT_EQ(info.l0.size(), 10'000u);
  EXPECT_EQ(*r->get("k7"), "9907");
}

}  // namespace
}  // namespace isle

namespace isle {
namespace {

TEST(EngineCaches, DiskCacheServesAReopenedReaderWithoutTheStore) {
  testing::EngineEnv env;
  isle::testing::TempDir cache;
  WriterOptions wo = env.writer_options();
  wo.inline_flush_max_bytes = 0;  // an SST object, served from the disk cache
  auto w = env.writer(wo);
  for (int i = 0; i < 2000; i++) ASSERT_TRUE(w->put("k" + std::to_string(i), std::string(64, 'v')).ok());
  ASSERT_TRUE(w->flush().ok());
  ReaderOptions ro = env.reader_options();
  ro.cache_dir = cache.path();
  {
    auto r = env.reader(ro);
    for (int i = 0; i < 2000; i += 97) ASSERT_TRUE(r->get("k" + std::to_string(i))->has_value());
  }
  env.metrics->reset();
  auto again = env.reader(ro);
  for (int i = 0; i < 2000; i += 97) ASSERT_EQ(*again->get("k" + std::to_string(i)), std::string(64, 'v'));
  const StoreMetrics m = env.metrics->snapshot();
  const ManifestInfo info = again->manifest();
  // Only the manifest was read from the store; every SST byte came from disk.
  EXPECT_EQ(m.op(StoreOp::kGet).requests, again->stats().manifest_requests);
  EXPECT_GT(again->stats().disk_cache.hits, 0u);
  EXPECT_EQ(info.l0.size(), 1u);
}

TEST(EngineErrors, FlushErrorsAreReportedAndRetriedWithoutLosingData) {
  testing::EngineEnv env;
  std::atomic<int> reported{0};
  WriterOptions wo = env.writer_options();
  wo.on_flush_error = [&](const Status&) { reported++; };
  wo.inline_flush_max_bytes = 0;  // the faults hit the SST object's upload
  auto w = env.writer(wo);
  env.fault->add_rule(FaultRule::on(StoreOp::kPut).key_prefix("db/sstable/").fail(Status::Permanent("denied")).times(3));
  ASSERT_TRUE(w->put("k", "v").ok());
  ASSERT_TRUE(w->flush().ok());
  EXPECT_EQ(reported.load(), 3);
  EXPECT_EQ(w->stats().flush_errors, 3u);
  EXPECT_EQ(*env.reader()->get("k"), "v");
}

TEST(EngineLsn, ExtractorPublishesCommittedLsnsInCurrent) {
  testing::EngineEnv env;
  WriterOptions wo = env.writer_options();
  wo.snapshot_every = 2;
  wo.lsn_extractor = [](std::string_view key) -> std::optional<uint64_t> {
    if (key.rfind("log/", 0) != 0) return std::nullopt;
    return std::stoull(std::string(key.substr(4)));
  };
  auto w = env.writer(wo);
  for (int batch = 0; batch < 4; batch++) {
    for (int i = 0; i < 10; i++) {
      ASSERT_TRUE(w->put("log/" + std::to_string(100 + batch * 10 + i), "e").ok());
    }
    ASSERT_TRUE(w->flush().ok());
  }
  auto cur = env.scoped->get("manifest/CURRENT");
  ASSERT_TRUE(cur.ok());
  EXPECT_NE(cur->data.find("\"max_committed_lsn\""), std::string::npos) << cur->data;
  EXPECT_NE(cur->data.find("\"low_watermark_lsn\": 100"), std::string::npos) << cur->data;
}

}  // namespace
}  // namespace isle

namespace isle {
namespace {

TEST(EngineConcurrency, ManyThreadsWriteAndWaitWhileReadersRefresh) {
  testing::EngineEnv env;
  WriterOptions wo = env.writer_options();
  wo.memtable_size = 16 * 1024;  // seals while threads write
  wo.flush_interval = std::chrono::milliseconds(5);
  wo.max_sealed_memtables = 1000;
  auto w = env.writer(wo);
  auto r = env.reader();
  std::atomic<bool> stop{false};
  std::atomic<int> reader_errors{0};
  std::thread refresher([&] {
    while (!stop) {
      if (!r->refresh().ok() || !r->scan("", "").ok()) reader_errors++;
    }
  });
  constexpr int kThreads = 6, kPer = 300;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPer; i++) {
        const std::string key = "t" + std::to_string(t) + "/" + std::to_string(i);
        auto s = w->put(key, key);
        if (!s.ok()) {
          failures++;
          continue;
        }
        if (i % 50 == 0 && !w->await_durable(*s).ok()) failures++;
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(w->flush().ok());
  stop = true;
  refresher.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(reader_errors.load(), 0);
  ASSERT_TRUE(r->refresh().ok());
  auto all = r->scan("", "");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), static_cast<size_t>(kThreads * kPer));
  for (const auto& kv : *all) EXPECT_EQ(kv.key, kv.value);
}

}  // namespace
}  // namespace isle
