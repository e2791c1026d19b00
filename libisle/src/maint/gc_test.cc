// GarbageCollector end to end on an in-memory bucket with a manual clock:
// the real Writer produces SSTs, blobs, log entries and snapshots; the
// tests take SSTs out of the live set themselves by appending `compaction`
// (a byte-for-byte copy under a new id) or `remove_sstables` entries
// through a ManifestLog holding the compactor / retention fence.
//
// The safety property checked everywhere: after every GC run, every live
// SST and every blob a live SST references exists, and a Reader opened
// afterwards reads exactly what a simple model says.
#include "isle/gc.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "isle/db.h"
#include "manifest/manifest_log.h"
#include "maint/gc_codec.h"
#include "store/mem_store.h"
#include "store/prefix_store.h"
#include "testutil/testutil.h"
#include "util/random.h"

namespace isle {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kGrace = 600'000;

struct GcEnv {
  ManualClock clock;
  // modified_ms of every object comes from the manual clock.
  std::shared_ptr<MemStore> mem = std::make_shared<MemStore>("mem://gc-test", &clock);
  ObjectStorePtr scoped = with_prefix(mem, "db");
  ManifestStoragePtr manifest = object_store_manifest_storage(scoped);
  DBOptions db_options;
  std::unique_ptr<ManifestLog> admin;  // holds the compactor and retention fences

  GcEnv() {
    db_options.prefix = "db";
    db_options.clock = &clock;
  }

  GcOptions gc_options() const {
    GcOptions o;
    o.prefix = "db";
    o.clock = const_cast<ManualClock*>(&clock);
    o.grace = std::chrono::milliseconds(kGrace);
    // The grace alone; the change-retention tests set it themselves.
    o.change_retention = 0ms;
    return o;
  }
  std::unique_ptr<GarbageCollector> gc(GcOptions o) {
    auto g = GarbageCollector::open(mem, std::move(o));
    EXPECT_TRUE(g.ok()) << g.status().to_string();
    return g.ok() ? std::move(*g) : nullptr;
  }
  std::unique_ptr<GarbageCollector> gc() { return gc(gc_options()); }

  WriterOptions writer_options() const {
    WriterOptions o;
    o.flush_interval = std::chrono::hours(1);
    o.retry_backoff = 1ms;
    o.min_flush_spacing = 0ms;
    o.blob_threshold = 64;
    o.snapshot_every = 4;
    // SST objects: inline flushes are covered by inline_consumers_test.cc.
    o.inline_flush_max_bytes = 0;
    return o;
  }
  std::unique_ptr<Writer> writer(WriterOptions o) {
    auto db = DB::open(mem, db_options);
    EXPECT_TRUE(db.ok());
    auto w = db->open_writer(o);
    EXPECT_TRUE(w.ok()) << w.status().to_string();
    return w.ok() ? std::move(*w) : nullptr;
  }
  std::unique_ptr<Writer> writer() { return writer(writer_options()); }
  std::unique_ptr<Reader> reader() {
    ReaderOptions o;
    o.prefix = "db";
    o.clock = &clock;
    o.retry_backoff = 1ms;
    o.block_cache_bytes = 0;
    o.blob_cache_bytes = 0;
    auto r = Reader::open(mem, o);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? std::move(*r) : nullptr;
  }

  ManifestLog& admin_log() {
    if (!admin) {
      ManifestLogOptions lo;
      lo.clock = &clock;
      lo.retry_backoff = 1ms;
      admin = std::make_unique<ManifestLog>(manifest, lo);
      EXPECT_TRUE(admin->open().ok());
    }
    EXPECT_TRUE(admin->refresh().ok());
    return *admin;
  }
  // A ManifestLog claimed for `role` (one per role, since a log handle
  // commits for one role).
  std::map<Role, std::unique_ptr<ManifestLog>> role_logs;
  ManifestLog& role_log(Role role) {
    auto& l = role_logs[role];
    if (!l) {
      ManifestLogOptions lo;
      lo.clock = &clock;
      lo.retry_backoff = 1ms;
      l = std::make_unique<ManifestLog>(manifest, lo);
      EXPECT_TRUE(l->open().ok());
      EXPECT_TRUE(l->claim(role, std::string("test-") + std::string(role_name(role))).ok());
    }
    EXPECT_TRUE(l->refresh().ok());
    return *l;
  }

  ManifestState state() { return admin_log().state(); }
  std::vector<SstMeta> live() {
    ManifestState s = state();
    std::vector<SstMeta> out = s.l0;
    for (const auto& r : s.runs) out.insert(out.end(), r.ssts.begin(), r.ssts.end());
    return out;
  }

  // Replaces `m` by a copy of its bytes under a new id (a compaction that
  // changes nothing a reader can see). Returns the new id.
  std::string compact_copy(const SstMeta& m) {
    auto bytes = scoped->get(sst_key(m.id));
    EXPECT_TRUE(bytes.ok()) << bytes.status().to_string();
    SstMeta out = m;
    out.id = random_token();
    out.level = 1;
    EXPECT_TRUE(scoped->put(sst_key(out.id), bytes->data, PutOptions::create_only()).ok());
    LogEntry e;
    e.op = LogOp::kCompaction;
    e.inputs = {m.id};
    e.added = {out};
    e.run_id = "run-" + random_token();
    auto r = role_log(Role::kCompactor).append(e);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return out.id;
  }
  void remove_sst(const std::string& id) {
    LogEntry e;
    e.op = LogOp::kRemoveSstables;
    e.inputs = {id};
    auto r = role_log(Role::kRetention).append(e);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
  }

  bool exists(const std::string& key) { return scoped->head(key).ok(); }
  std::set<std::string> all_keys() {
    std::set<std::string> out;
    auto l = scoped->list_all("");
    EXPECT_TRUE(l.ok());
    for (const auto& m : *l) out.insert(m.key);
    return out;
  }
  size_t count_under(const std::string& dir) {
    size_t n = 0;
    for (const auto& k : all_keys()) n += k.rfind(dir, 0) == 0;
    return n;
  }

  GcReport run(GarbageCollector& g) {
    auto r = g.run_once();
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? *r : GcReport{};
  }

  // Every live SST and every blob a live SST references exists.
  void expect_live_objects_exist() {
    for (const SstMeta& m : live()) {
      EXPECT_TRUE(exists(sst_key(m.id))) << "live SST deleted: " << m.id;
      for (const auto& b : m.blobs) EXPECT_TRUE(exists(blob_key(b))) << "live blob deleted: " << b;
    }
  }
};

std::string big_value(char c, size_t n = 200) { return std::string(n, c); }

TEST(Gc, OptionsAreValidated) {
  GcEnv env;
  GcOptions o = env.gc_options();
  o.grace = o.lease;
  EXPECT_TRUE(GarbageCollector::open(env.mem, o).status().is_invalid_argument());
  o = env.gc_options();
  o.delete_batch = 0;
  EXPECT_TRUE(GarbageCollector::open(env.mem, o).status().is_invalid_argument());
  EXPECT_TRUE(GarbageCollector::open(nullptr, env.gc_options()).status().is_invalid_argument());
}

TEST(Gc, EmptyDatabaseIsFine) {
  GcEnv env;
  auto g = env.gc();
  GcReport r = env.run(*g);
  EXPECT_TRUE(r.deleted.empty());
  EXPECT_EQ(r.ssts_marked, 0u);
}

TEST(Gc, RemovedSstIsDeletedOnlyAfterTheGrace) {
  GcEnv env;
  auto w = env.writer();
  ASSERT_TRUE(w->put("a", "1").ok());
  ASSERT_TRUE(w->flush().ok());
  ASSERT_TRUE(w->put("b", "2").ok());
  ASSERT_TRUE(w->flush().ok());
  auto g = env.gc();
  env.run(*g);  // the first run: checkpoint
  const SstMeta old = env.live().front();
  const std::string copy = env.compact_copy(old);

  GcReport r = env.run(*g);
  EXPECT_EQ(r.ssts_marked, 1u);
  EXPECT_EQ(r.ssts_deleted, 0u);
  EXPECT_TRUE(env.exists(sst_key(old.id)));
  auto pending = env.scoped->get(kGcPendingKey);
  ASSERT_TRUE(pending.ok());
  auto marks = decode_pending_marks(pending->data, "p");
  ASSERT_TRUE(marks.ok());
  ASSERT_NE(marks->find(old.id), nullptr);
  EXPECT_EQ(marks->find(old.id)->due_ms, env.clock.now_ms() + kGrace);

  env.clock.advance_ms(kGrace - 1);
  r = env.run(*g);
  EXPECT_EQ(r.ssts_marked, 0u) << "marked once";
  EXPECT_TRUE(env.exists(sst_key(old.id))) << "one ms before the grace ends";
  env.clock.advance_ms(1);
  r = env.run(*g);
  EXPECT_EQ(r.ssts_deleted, 1u);
  EXPECT_EQ(r.orphans_deleted, 0u);
  EXPECT_FALSE(env.exists(sst_key(old.id)));
  EXPECT_TRUE(env.exists(sst_key(copy)));
  EXPECT_EQ(r.pending_marks, 0u);
  env.expect_live_objects_exist();
  auto rd = env.reader();
  EXPECT_EQ(*rd->get("a"), "1");
  EXPECT_EQ(*rd->get("b"), "2");
  ASSERT_TRUE(w->close().ok());
}

TEST(Gc, SstAddedAndRemovedBetweenRunsIsStillMarked) {
  // Never in a checkpoint's live set and not live now: only the log window
  // shows it was live. It must wait a grace, not be taken for an orphan.
  GcEnv env;
  auto w = env.writer();
  auto g = env.gc();
  env.run(*g);
  env.clock.advance_ms(2 * kGrace);  // the SST below will be "old" by upload time
  ASSERT_TRUE(w->put("a", "1").ok());
  ASSERT_TRUE(w->flush().ok());
  const SstMeta m = env.live().front();
  env.clock.advance_ms(2 * kGrace);
  env.compact_copy(m);
  GcReport r = env.run(*g);
  EXPECT_EQ(r.ssts_marked, 1u);
  EXPECT_EQ(r.orphans_deleted, 0u);
  EXPECT_TRUE(env.exists(sst_key(m.id)));
  env.clock.advance_ms(kGrace);
  r = env.run(*g);
  EXPECT_EQ(r.ssts_deleted, 1u);
  EXPECT_FALSE(env.exists(sst_key(m.id)));
  ASSERT_TRUE(w->close().ok());
}

TEST(Gc, OrphanUploadIsDeletedOnlyAfterTheGrace) {
  GcEnv env;
  auto w = env.writer();
  ASSERT_TRUE(w->put("a", "1").ok());
  ASSERT_TRUE(w->flush().ok());
  auto g = env.gc();
  env.run(*g);  // checkpoint exists from here on
  ASSERT_TRUE(env.scoped->put("sstable/deadbeef.sst", "never committed").ok());
  env.clock.advance_ms(kGrace / 2);
  GcReport r = env.run(*g);
  EXPECT_EQ(r.orphans_deleted, 0u);
  EXPECT_EQ(r.ssts_marked, 0u) << "an orphan is judged by its age, not marked";
  EXPECT_TRUE(env.exists("sstable/deadbeef.sst"));
  env.clock.advance_ms(kGrace / 2 - 1);
  r = env.run(*g);
  EXPECT_TRUE(env.exists("sstable/deadbeef.sst"));
  env.clock.advance_ms(1);
  r = env.run(*g);
  EXPECT_EQ(r.orphans_deleted, 1u);
  ASSERT_EQ(r.deleted.size(), 1u);
  EXPECT_EQ(r.deleted[0], "sstable/deadbeef.sst");
  EXPECT_FALSE(env.exists("sstable/deadbeef.sst"));
  env.expect_live_objects_exist();
  ASSERT_TRUE(w->close().ok());
}

TEST(Gc, FirstRunAdoptsUnreferencedSstsInsteadOfDeletingThem) {
  // Without a checkpoint GC cannot know when an SST left the live set: an
  // old SST removed a moment ago must still get its grace.
  GcEnv env;
  auto w = env.writer();
  ASSERT_TRUE(w->put("k", big_value('x')).ok());
  ASSERT_TRUE(w->flush().ok());
  ASSERT_TRUE(w->put("k", "small").ok());
  ASSERT_TRUE(w->flush().ok());
  const SstMeta first = env.live().front();
  ASSERT_EQ(first.blobs.size(), 1u);
  env.clock.advance_ms(3 * kGrace);
  env.remove_sst(first.id);
  auto g = env.gc();
  GcReport r = env.run(*g);
  EXPECT_EQ(r.ssts_marked, 1u);
  EXPECT_EQ(r.orphans_deleted + r.ssts_deleted + r.blobs_deleted, 0u);
  EXPECT_TRUE(env.exists(sst_key(first.id)));
  EXPECT_TRUE(env.exists(blob_key(first.blobs[0])));
  env.clock.advance_ms(kGrace);
  r = env.run(*g);
  EXPECT_EQ(r.ssts_deleted, 1u);
  EXPECT_EQ(r.blobs_deleted, 1u) << "its blob goes with it once nothing references it";
  EXPECT_FALSE(env.exists(blob_key(first.blobs[0])));
  EXPECT_EQ(*env.reader()->get("k"), "small");
  ASSERT_TRUE(w->close().ok());
}

TEST(Gc, BlobsAreDeletedOnlyAfterTheGraceAndOnlyWhenUnreferenced) {
  GcEnv env;
  auto w = env.writer();
  auto g = env.gc();
  env.run(*g);
  ASSERT_TRUE(w->put("shared1", big_value('s')).ok());
  ASSERT_TRUE(w->put("only", big_value('o')).ok());
  ASSERT_TRUE(w->flush().ok());
  ASSERT_TRUE(w->put("shared2", big_value('s')).ok());  // the same blob, deduplicated
  ASSERT_TRUE(w->put("only", "small").ok());
  ASSERT_TRUE(w->flush().ok());
  auto live = env.live();
  ASSERT_EQ(live.size(), 2u);
  const SstMeta first = live[0];
  ASSERT_EQ(first.blobs.size(), 2u);
  // An unreferenced blob uploaded directly (a write that failed after it).
  const std::string stray = blob_key(std::string(64, 'a'));
  ASSERT_TRUE(env.scoped->put(stray, "stray").ok());
  env.clock.advance_ms(kGrace);
  env.remove_sst(first.id);

  GcReport r = env.run(*g);
  EXPECT_EQ(r.ssts_marked, 1u);
  EXPECT_EQ(r.blobs_deleted, 1u) << "only the stray blob, old and never referenced";
  EXPECT_FALSE(env.exists(stray));
  for (const auto& b : first.blobs) EXPECT_TRUE(env.exists(blob_key(b))) << "marked SST's blob";

  env.clock.advance_ms(kGrace - 1);
  r = env.run(*g);
  EXPECT_EQ(r.blobs_deleted, 0u);
  env.clock.advance_ms(1);
  r = env.run(*g);
  EXPECT_EQ(r.ssts_deleted, 1u);
  EXPECT_EQ(r.blobs_deleted, 1u) << "'only's big value; the shared one is still referenced";
  env.expect_live_objects_exist();
  auto rd = env.reader();
  EXPECT_EQ(*rd->get("shared2"), big_value('s'));
  EXPECT_EQ(*rd->get("only"), "small");
  EXPECT_EQ(*rd->get("shared1"), std::nullopt);
  ASSERT_TRUE(w->close().ok());
}

TEST(Gc, YoungBlobsAreKeptEvenWhenUnreferenced) {
  GcEnv env;
  auto w = env.writer();  // a database (its fence claim), not an empty manifest
  auto g = env.gc();
  env.run(*g);
  const std::string fresh = blob_key(std::string(64, 'b'));
  ASSERT_TRUE(env.scoped->put(fresh, "uploaded, SST not committed yet").ok());
  env.clock.advance_ms(kGrace - 1);
  EXPECT_EQ(env.run(*g).blobs_deleted, 0u);
  EXPECT_TRUE(env.exists(fresh));
}

TEST(Gc, LogEntriesAndSnapshotsBelowLogSeqStartOnlyAfterTheGrace) {
  GcEnv env;
  WriterOptions wo = env.writer_options();
  wo.snapshot_every = 3;
  auto w = env.writer(wo);
  for (int i = 0; i < 12; i++) {
    ASSERT_TRUE(w->put("k" + std::to_string(i), "v" + std::to_string(i)).ok());
    ASSERT_TRUE(w->flush().ok());
  }
  const uint64_t start = env.admin_log().known_log_seq_start();
  ASSERT_GT(start, 6u);
  ASSERT_GT(env.count_under("manifest/snapshots/"), 1u);
  const size_t logs_before = env.count_under("manifest/log/");

  auto g = env.gc();
  GcReport r = env.run(*g);
  EXPECT_EQ(r.log_entries_deleted + r.snapshots_deleted, 0u) << "first sighting of log_seq_start";
  env.clock.advance_ms(kGrace - 1);
  r = env.run(*g);
  EXPECT_EQ(r.log_entries_deleted + r.snapshots_deleted, 0u);
  EXPECT_EQ(env.count_under("manifest/log/"), logs_before);
  env.clock.advance_ms(1);
  r = env.run(*g);
  EXPECT_EQ(r.log_entries_deleted, start - 1);
  EXPECT_GE(r.snapshots_deleted, 1u);
  for (uint64_t p = 1; p < start; p++) EXPECT_FALSE(env.exists(log_key(p)));
  EXPECT_TRUE(env.exists(log_key(start)));
  EXPECT_TRUE(env.exists(snapshot_key(start))) << "the snapshot CURRENT names";
  for (const auto& k : env.all_keys()) {
    if (k.rfind("manifest/snapshots/", 0) == 0) {
      EXPECT_GE(k, snapshot_key(start));
    }
  }
  // Everything still opens and reads; the writer keeps going.
  auto rd = env.reader();
  for (int i = 0; i < 12; i++) EXPECT_EQ(*rd->get("k" + std::to_string(i)), "v" + std::to_string(i));
  ASSERT_TRUE(w->put("after", "gc").ok());
  ASSERT_TRUE(w->flush().ok());
  ASSERT_TRUE(rd->refresh().ok());
  EXPECT_EQ(*rd->get("after"), "gc");
  ManifestLogOptions flo;
  flo.clock = &env.clock;
  ManifestLog fresh(env.manifest, flo);
  ASSERT_TRUE(fresh.open().ok());
  EXPECT_EQ(fresh.state().live_sst_count(), 13u);
  ASSERT_TRUE(w->close().ok());
}

TEST(Gc, ChangeHistoryStaysForTheChangeRetention) {
  // Writer-published SSTs and log entries are the change feed's history:
  // kept for change_retention after they leave the live set / the log.
  // Compaction outputs and snapshots only wait for the grace.
  constexpr int64_t kRetention = 3 * kGrace;
  GcEnv env;
  WriterOptions wo = env.writer_options();
  wo.snapshot_every = 3;
  auto w = env.writer(wo);
  for (int i = 0; i < 6; i++) {
    ASSERT_TRUE(w->put("k" + std::to_string(i), big_value('a' + i)).ok());  // blobs
    ASSERT_TRUE(w->flush().ok());
  }
  GcOptions o = env.gc_options();
  o.change_retention = std::chrono::milliseconds(kRetention);
  auto g = env.gc(o);
  env.run(*g);  // checkpoint: every SST is live, in L0
  const SstMeta l0 = env.live().front();
  ASSERT_EQ(l0.level, 0u);
  ASSERT_FALSE(l0.blobs.empty());
  const SstMeta l0b = env.live()[1];
  const std::string copy = env.compact_copy(l0);    // two L0 SSTs leave
  const std::string copy2 = env.compact_copy(l0b);
  SstMeta run_member;  // `copy`: replacing it is an ordinary compaction
  for (const auto& m : env.live()) {
    if (m.id == copy) run_member = m;
  }
  ASSERT_EQ(run_member.id, copy);
  const std::string copy3 = env.compact_copy(run_member);
  const uint64_t start = env.admin_log().known_log_seq_start();
  ASSERT_GT(start, 3u);

  GcReport r = env.run(*g);
  EXPECT_EQ(r.ssts_marked, 3u);  // l0, l0b and copy
  env.clock.advance_ms(kGrace);
  r = env.run(*g);
  EXPECT_FALSE(env.exists(sst_key(copy))) << "a compaction output waits only for the grace";
  EXPECT_TRUE(env.exists(sst_key(l0.id))) << "writer SSTs wait for the change retention";
  for (const auto& b : l0.blobs) EXPECT_TRUE(env.exists(blob_key(b)));
  EXPECT_GE(r.snapshots_deleted, 1u) << "snapshots only wait for the grace";
  EXPECT_EQ(r.log_entries_deleted, 0u) << "log entries wait for the change retention";
  EXPECT_TRUE(env.exists(log_key(1)));

  env.clock.advance_ms(kRetention - kGrace - 1);
  r = env.run(*g);
  EXPECT_TRUE(env.exists(sst_key(l0.id))) << "one ms before the change retention ends";
  EXPECT_TRUE(env.exists(log_key(1)));
  env.clock.advance_ms(1);
  r = env.run(*g);
  EXPECT_FALSE(env.exists(sst_key(l0.id)));
  EXPECT_FALSE(env.exists(sst_key(l0b.id)));
  EXPECT_GE(r.log_entries_deleted, start - 1);
  EXPECT_FALSE(env.exists(log_key(1)));
  EXPECT_TRUE(env.exists(sst_key(copy2)));
  EXPECT_TRUE(env.exists(sst_key(copy3)));
  env.expect_live_objects_exist();
  auto rd = env.reader();
  for (int i = 0; i < 6; i++) EXPECT_EQ(*rd->get("k" + std::to_string(i)), big_value('a' + i));
  ASSERT_TRUE(w->close().ok());
}

TEST(Gc, DryRunDeletesAndWritesNothing) {
  GcEnv env;
  WriterOptions wo = env.writer_options();
  wo.snapshot_every = 2;
  auto w = env.writer(wo);
  auto g = env.gc();
  env.run(*g);
  for (int i = 0; i < 6; i++) {
    ASSERT_TRUE(w->put("k" + std::to_string(i), big_value(static_cast<char>('a' + i))).ok());
    ASSERT_TRUE(w->flush().ok());
  }
  env.run(*g);  // sees the new log_seq_start
  const SstMeta first = env.live().front();
  env.remove_sst(first.id);
  env.run(*g);  // marks it
  ASSERT_TRUE(env.scoped->put("sstable/orphan.sst", "x").ok());
  env.clock.advance_ms(2 * kGrace);
  const SstMeta second = env.live().front();
  env.remove_sst(second.id);  // not yet marked: a dry run would mark it

  const std::set<std::string> before = env.all_keys();
  const std::string pending_before = env.scoped->get(kGcPendingKey)->data;
  const std::string cp_before = env.scoped->get(kGcCheckpointKey)->data;
  GcOptions o = env.gc_options();
  o.dry_run = true;
  auto dry = env.gc(o);
  GcReport r = env.run(*dry);
  EXPECT_TRUE(r.dry_run);
  EXPECT_EQ(r.ssts_marked, 1u);
  EXPECT_EQ(r.ssts_deleted, 1u);
  EXPECT_EQ(r.orphans_deleted, 1u);
  EXPECT_EQ(r.blobs_deleted, 1u);
  EXPECT_GT(r.log_entries_deleted, 0u);
  EXPECT_GT(r.snapshots_deleted, 0u);
  EXPECT_EQ(r.deleted.size(), r.ssts_deleted + r.orphans_deleted + r.blobs_deleted +
                                  r.log_entries_deleted + r.snapshots_deleted);
  EXPECT_EQ(env.all_keys(), before) << "a dry run deletes nothing";
  EXPECT_EQ(env.scoped->get(kGcPendingKey)->data, pending_before) << "and writes nothing";
  EXPECT_EQ(env.scoped->get(kGcCheckpointKey)->data, cp_before);

  // The real run does what the dry run said (and marks the second SST).
  GcReport real = env.run(*g);
  EXPECT_EQ(std::set<std::string>(real.deleted.begin(), real.deleted.end()),
            std::set<std::string>(r.deleted.begin(), r.deleted.end()));
  env.expect_live_objects_exist();
  ASSERT_TRUE(w->close().ok());
}

TEST(Gc, DryRunOnAFreshBucketWritesNoStateObjects) {
  GcEnv env;
  auto w = env.writer();
  ASSERT_TRUE(w->put("a", "1").ok());
  ASSERT_TRUE(w->flush().ok());
  GcOptions o = env.gc_options();
  o.dry_run = true;
  env.run(*env.gc(o));
  EXPECT_FALSE(env.exists(std::string(kGcPendingKey)));
  EXPECT_FALSE(env.exists(std::string(kGcCheckpointKey)));
  ASSERT_TRUE(w->close().ok());
}

TEST(Gc, DeletesInBatches) {
  GcEnv env;
  auto w = env.writer();  // a database (its fence claim), not an empty manifest
  auto g = env.gc();
  env.run(*g);
  for (int i = 0; i < 7; i++) {
    ASSERT_TRUE(env.scoped->put("sstable/orphan" + std::to_string(i) + ".sst", "x").ok());
  }
  env.clock.advance_ms(kGrace);
  GcOptions o = env.gc_options();
  o.delete_batch = 3;
  GcReport r = env.run(*env.gc(o));
  EXPECT_EQ(r.orphans_deleted, 7u);
  EXPECT_EQ(env.count_under("sstable/"), 0u);
}

TEST(Gc, OldReaderKeepsWorkingWhileGcRunsWithinTheGrace) {
  GcEnv env;
  auto w = env.writer();
  ASSERT_TRUE(w->put("a", big_value('a')).ok());
  ASSERT_TRUE(w->put("b", "1").ok());
  ASSERT_TRUE(w->flush().ok());
  auto g = env.gc();
  env.run(*g);
  auto old_reader = env.reader();  // its view has the SST; no block read yet
  const SstMeta m = env.live().front();
  env.compact_copy(m);
  ASSERT_TRUE(w->put("a", "small").ok());  // the big value's blob is now shadowed...
  ASSERT_TRUE(w->flush().ok());
  env.remove_sst(env.state().l0.back().id);  // ...and gone again: only the copy holds 'a'
  for (int i = 0; i < 9; i++) {
    env.clock.advance_ms(kGrace / 10);
    env.run(*g);
    auto v = old_reader->get("a");
    ASSERT_TRUE(v.ok()) << "run " << i << ": " << v.status().to_string();
    EXPECT_EQ(*v, big_value('a'));
    EXPECT_EQ(*old_reader->get("b"), "1");
  }
  EXPECT_TRUE(env.exists(sst_key(m.id)));
  env.clock.advance_ms(kGrace);
  EXPECT_EQ(env.run(*g).ssts_deleted, 2u) << "the compacted input and the removed SST";
  EXPECT_FALSE(env.exists(sst_key(m.id)));
  ASSERT_TRUE(old_reader->refresh().ok());
  EXPECT_EQ(*old_reader->get("a"), big_value('a')) << "a refreshed view reads the copy";
  ASSERT_TRUE(w->close().ok());
}

// ---- random histories ------------------------------------------------------

// What the database must read as: each SST's writes (key -> (order, value or
// tombstone)); a key reads as its newest write among live SSTs.
struct Model {
  std::map<std::string, std::map<std::string, std::pair<uint64_t, std::optional<std::string>>>> ssts;
  uint64_t order = 0;

  std::optional<std::string> expect(const std::vector<SstMeta>& live, const std::string& key) const {
    uint64_t best = 0;
    std::optional<std::string> v;
    for (const SstMeta& m : live) {
      auto s = ssts.find(m.id);
      if (s == ssts.end()) continue;
      auto it = s->second.find(key);
      if (it != s->second.end() && it->second.first > best) {
        best = it->second.first;
        v = it->second.second;
      }
    }
    return v;
  }
};

// One random step of history; returns false when the writer is gone.
void random_step(GcEnv& env, Writer& w, Model& model, Random& rnd,
                 const std::vector<std::string>& keys, bool unique_blobs) {
  const uint64_t what = rnd.uniform(10);
  if (what < 4) {
    // A flush of a few writes.
    std::map<std::string, std::pair<uint64_t, std::optional<std::string>>> content;
    const int n = 1 + static_cast<int>(rnd.uniform(4));
    for (int i = 0; i < n; i++) {
      const std::string& k = keys[rnd.uniform(keys.size())];
      if (rnd.chance(0.2)) {
        ASSERT_TRUE(w.del(k).ok());
        content[k] = {++model.order, std::nullopt};
      } else {
        std::string v = rnd.chance(0.4)
                            ? (unique_blobs ? rnd.bytes(100)
                                            : big_value(static_cast<char>('A' + rnd.uniform(4))))
                            : "v" + std::to_string(model.order);
        ASSERT_TRUE(w.put(k, v).ok());
        content[k] = {++model.order, v};
      }
    }
    std::set<std::string> before;
    for (const auto& m : env.live()) before.insert(m.id);
    ASSERT_TRUE(w.flush().ok());
    std::vector<std::string> added;
    for (const auto& m : env.live()) {
      if (!before.count(m.id)) added.push_back(m.id);
    }
    ASSERT_EQ(added.size(), 1u);
    model.ssts[added[0]] = std::move(content);
  } else if (what < 6) {
    // Compaction: the oldest L0 SST, or a run's SST, copied under a new id.
    ManifestState s = env.state();
    std::optional<SstMeta> in;
    if (!s.l0.empty() && (s.runs.empty() || rnd.chance(0.5))) in = s.l0.front();
    else if (!s.runs.empty()) {
      const auto& run = s.runs[rnd.uniform(s.runs.size())];
      if (!run.ssts.empty()) in = run.ssts[rnd.uniform(run.ssts.size())];
    }
    if (!in) return;
    const std::string out = env.compact_copy(*in);
    model.ssts[out] = model.ssts[in->id];
  } else if (what < 7) {
    auto live = env.live();
    if (live.empty()) return;
    env.remove_sst(live[rnd.uniform(live.size())].id);
  } else if (what < 8) {
    ASSERT_TRUE(env.scoped->put(sst_key(random_token()), "orphan upload").ok());
    if (rnd.chance(0.5)) {
      ASSERT_TRUE(env.scoped->put(blob_key(random_token() + random_token()), "stray").ok());
    }
  } else {
    static constexpr int64_t kSteps[] = {0, kGrace / 4, kGrace / 2, kGrace - 1, kGrace + 1, 2 * kGrace};
    env.clock.advance_ms(kSteps[rnd.uniform(6)]);
  }
}

void check_reads(GcEnv& env, const Model& model, const std::vector<std::string>& keys,
                 const std::string& where) {
  env.expect_live_objects_exist();
  auto live = env.live();
  auto rd = env.reader();
  ASSERT_NE(rd, nullptr) << where;
  for (const auto& k : keys) {
    auto v = rd->get(k);
    ASSERT_TRUE(v.ok()) << where << " key " << k << ": " << v.status().to_string();
    EXPECT_EQ(*v, model.expect(live, k)) << where << " key " << k;
  }
}

TEST(GcProperty, RandomHistoriesNeverLoseAReferencedObject) {
  const int seeds = testing::seed_count(40);
  const std::vector<std::string> keys = {"a", "b", "c", "d", "e", "f", "g", "h"};
  for (int si = 0; si < seeds; si++) {
    const uint64_t seed = testing::seed_base() + static_cast<uint64_t>(si);
    SCOPED_TRACE("seed " + std::to_string(seed));
    GcEnv env;
    Random rnd(seed);
    WriterOptions wo = env.writer_options();
    wo.snapshot_every = 1 + static_cast<int>(rnd.uniform(4));
    auto w = env.writer(wo);
    ASSERT_NE(w, nullptr);
    Model model;
    auto g = env.gc();
    size_t deleted = 0;
    for (int step = 0; step < 60; step++) {
      random_step(env, *w, model, rnd, keys, /*unique_blobs=*/false);
      if (::testing::Test::HasFatalFailure()) return;
      if (rnd.chance(0.3)) {
        GcReport r = env.run(*g);
        deleted += r.deleted.size();
        check_reads(env, model, keys, "step " + std::to_string(step));
        if (::testing::Test::HasFatalFailure() || ::testing::Test::HasFailure()) return;
      }
    }
    env.run(*g);  // marks the latest removals
    env.clock.advance_ms(kGrace);
    GcReport r = env.run(*g);  // everything unreferenced is due or old by now
    deleted += r.deleted.size();
    check_reads(env, model, keys, "end");
    // Nothing unreferenced survives two graces: every SST object is live.
    std::set<std::string> live_keys;
    for (const auto& m : env.live()) live_keys.insert(sst_key(m.id));
    for (const auto& k : env.all_keys()) {
      if (k.rfind("sstable/", 0) == 0) {
        EXPECT_TRUE(live_keys.count(k)) << "left behind: " << k;
      }
    }
    EXPECT_GT(deleted, 0u);
    ASSERT_TRUE(w->close().ok());
  }
}

TEST(GcProperty, ConcurrentCollectorsStayCorrect) {
  const int seeds = testing::seed_count(6);
  const std::vector<std::string> keys = {"a", "b", "c", "d", "e", "f"};
  for (int si = 0; si < seeds; si++) {
    const uint64_t seed = testing::seed_base() + 1000 + static_cast<uint64_t>(si);
    SCOPED_TRACE("seed " + std::to_string(seed));
    GcEnv env;
    Random rnd(seed);
    WriterOptions wo = env.writer_options();
    wo.snapshot_every = 2;
    auto w = env.writer(wo);
    ASSERT_NE(w, nullptr);
    Model model;
    std::atomic<bool> stop{false};
    std::atomic<int> runs{0}, failures{0}, deletions{0};
    std::mutex mu;
    std::string first_failure;
    auto loop = [&] {
      auto g = env.gc();  // each thread is its own collector
      while (!stop.load()) {
        auto r = g->run_once();
        // Aborted (too much contention) is allowed; anything else is a bug.
        if (!r.ok() && r.status().code() != Code::kAborted) {
          std::lock_guard lk(mu);
          if (failures++ == 0) first_failure = r.status().to_string();
        }
        if (r.ok()) deletions += static_cast<int>(r->deleted.size());
        runs++;
      }
    };
    std::thread t1(loop), t2(loop);
    for (int step = 0; step < 80; step++) {
      random_step(env, *w, model, rnd, keys, /*unique_blobs=*/true);
      if (::testing::Test::HasFatalFailure()) break;
      if (step % 10 == 9) {
        env.expect_live_objects_exist();
      }
      // Keep the collectors in the race on a loaded machine: at least one
      // run finishes for every step or two of history.
      const auto deadline = std::chrono::steady_clock::now() + 5s;
      while (runs.load() < step / 2 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(100us);
      }
    }
    stop = true;
    t1.join();
    t2.join();
    EXPECT_EQ(failures.load(), 0) << first_failure;
    EXPECT_GT(runs.load(), 0);
    EXPECT_GT(deletions.load(), 0) << "the collectors did collect while racing";
    check_reads(env, model, keys, "after concurrent GC");
    // Both state objects are still readable and consistent.
    auto g = env.gc();
    env.run(*g);
    env.clock.advance_ms(kGrace);
    env.run(*g);
    check_reads(env, model, keys, "after the final runs");
    std::set<std::string> live_keys;
    for (const auto& m : env.live()) live_keys.insert(sst_key(m.id));
    for (const auto& k : env.all_keys()) {
      if (k.rfind("sstable/", 0) == 0) {
        EXPECT_TRUE(live_keys.count(k)) << "left behind: " << k;
      }
    }
    ASSERT_TRUE(w->close().ok());
  }
}

TEST(Gc, TwoCollectorsInterleavedMarkOnceAndDeleteOnce) {
  GcEnv env;
  auto w = env.writer();
  ASSERT_TRUE(w->put("a", "1").ok());
  ASSERT_TRUE(w->flush().ok());
  auto g1 = env.gc();
  auto g2 = env.gc();
  env.run(*g1);
  env.run(*g2);
  const SstMeta m = env.live().front();
  env.compact_copy(m);
  GcReport r1 = env.run(*g1);
  GcReport r2 = env.run(*g2);
  EXPECT_EQ(r1.ssts_marked + r2.ssts_marked, 1u);
  env.clock.advance_ms(kGrace);
  r1 = env.run(*g2);
  r2 = env.run(*g1);
  EXPECT_EQ(r1.ssts_deleted + r2.ssts_deleted, 1u);
  EXPECT_FALSE(env.exists(sst_key(m.id)));
  EXPECT_EQ(*env.reader()->get("a"), "1");
  ASSERT_TRUE(w->close().ok());
}

}  // namespace
}  // namespace isle
