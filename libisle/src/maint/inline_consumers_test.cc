// The maintenance roles and inline SSTs (issue 15's one-round-trip commit:
// a small flush travels inside its add_sstable log entry, and a later
// `materialize` entry replaces the oldest inline SSTs by one L0 SST
// object). Checked here, on states and log entries built by hand:
//   * GC's live set: blobs an inline SST references are live; an inline
//     SST is never an object to keep or delete;
//   * replay: compaction and retention only ever take L0 / run SSTs (an
//     entry naming an inline SST is skipped), and a compaction racing a
//     materialize is valid in either order.
// And end to end with the real Writer committing inline flushes:
//   * GC keeps a blob referenced only by an inline SST, never marks or
//     deletes an inline SST id as an object, and keeps the materialized SST;
//   * the compactor and retention never take an inline SST as an input.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "isle/compactor.h"
#include "isle/db.h"
#include "isle/gc.h"
#include "isle/retention.h"
#include "isle/tailing_reader.h"
#include "maint/gc_live.h"
#include "manifest/manifest_log.h"
#include "manifest/manifest_state.h"
#include "manifest/manifest_test_util.h"
#include "store/mem_store.h"
#include "store/prefix_store.h"
#include "util/hash.h"

namespace isle {
namespace {

SstMeta object_sst(std::string id, uint64_t lo, uint64_t hi, std::vector<std::string> blobs = {},
                   uint32_t level = 0) {
  SstMeta m = testing::object_sst(std::move(id), lo, hi);
  m.level = level;
  m.blobs = std::move(blobs);
  return m;
}

SstMeta inline_sst(std::string id, uint64_t lo, uint64_t hi, std::vector<std::string> blobs = {}) {
  SstMeta m = object_sst(std::move(id), lo, hi, std::move(blobs));
  m.inline_data.bytes = std::make_shared<const std::string>("sst bytes of " + m.id);
  m.size = m.inline_data.size();
  return m;
}

std::string blob(char c) { return std::string(64, c); }

// ---- GC's live set ----------------------------------------------------------

TEST(InlineGcLiveSet, BlobsOfInlineSstsAreLiveButInlineSstsAreNoObjects) {
  ManifestState st;
  st.l0 = {object_sst("l0-a", 1, 5, {blob('a')})};
  st.runs = {SortedRun{"run-1", {object_sst("r-1", 0, 0, {blob('r')}, 1)}}};
  // The only reference to blob x is an inline SST.
  st.inline_ssts = {inline_sst("in-x", 6, 7, {blob('x')}), inline_sst("in-y", 8, 8)};

  const GcLiveSet live = gc_live_set(st);
  EXPECT_EQ(live.objects.size(), 2u);
  EXPECT_TRUE(live.objects.count("l0-a"));
  EXPECT_TRUE(live.objects.count("r-1"));
  EXPECT_FALSE(live.objects.count("in-x")) << "an inline SST has no sstable/ object";
  EXPECT_FALSE(live.objects.count("in-y"));
  EXPECT_EQ(live.l0, std::set<std::string>{"l0-a"});
  EXPECT_TRUE(live.blobs.count(blob('a')));
  EXPECT_TRUE(live.blobs.count(blob('r')));
  EXPECT_TRUE(live.blobs.count(blob('x'))) << "blob referenced only by an inline SST is not live";
}

TEST(InlineGcLiveSet, OnlyObjectsAreTracked) {
  EXPECT_TRUE(gc_is_object(object_sst("a", 1, 1)));
  EXPECT_FALSE(gc_is_object(inline_sst("b", 1, 1)));
}

// ---- replay: compaction / retention vs inline SSTs and materialize -----------

LogEntry entry(uint64_t pos, Role role, LogOp op) {
  LogEntry e;
  e.pos = pos;
  e.role = role;
  e.epoch = 1;
  e.owner = std::string(role_name(role));
  e.commit_id = "c" + std::to_string(pos);
  e.op = op;
  return e;
}

// Claims for the three roles, two L0 SSTs, then two inline flushes.
ManifestState base_state() {
  ManifestState st;
  for (Role r : {Role::kWriter, Role::kCompactor, Role::kRetention}) {
    LogEntry c = entry(st.next_pos, r, LogOp::kFenceClaim);
    EXPECT_EQ(*apply_entry(&st, c), ApplyOutcome::kApplied);
  }
  for (const SstMeta& m : {object_sst("l0-a", 1, 2), object_sst("l0-b", 3, 4),
                           inline_sst("in-1", 5, 6), inline_sst("in-2", 7, 9)}) {
    LogEntry e = entry(st.next_pos, Role::kWriter, LogOp::kAddSstable);
    e.added = {m};
    e.last_seq = m.seq_hi;
    e.prev_data_seq = st.data_seq;
    EXPECT_EQ(*apply_entry(&st, e), ApplyOutcome::kApplied);
  }
  return st;
}

LogEntry compaction_of_l0(uint64_t pos) {
  LogEntry e = entry(pos, Role::kCompactor, LogOp::kCompaction);
  e.inputs = {"l0-a", "l0-b"};
  e.added = {object_sst("run-out", 1, 4, {}, 1)};
  e.run_id = "run-c";
  return e;
}

LogEntry materialize_all(uint64_t pos) {
  LogEntry e = entry(pos, Role::kWriter, LogOp::kMaterialize);
  e.inputs = {"in-1", "in-2"};
  e.added = {object_sst("mat-1", 5, 9)};
  return e;
}

void expect_after_both(const ManifestState& st) {
  ASSERT_EQ(st.l0.size(), 1u);
  EXPECT_EQ(st.l0[0].id, "mat-1");
  EXPECT_TRUE(st.inline_ssts.empty());
  ASSERT_EQ(st.runs.size(), 1u);
  EXPECT_EQ(st.runs[0].id, "run-c");
  EXPECT_EQ(st.data_seq, 9u);
  // The data of every SST is still there exactly once: 1..4 in the run,
  // 5..9 in the materialized L0 SST.
  const GcLiveSet live = gc_live_set(st);
  EXPECT_EQ(live.objects.size(), 2u);
  EXPECT_TRUE(live.objects.count("mat-1")) << "a materialized SST is live like any L0 SST";
}

TEST(InlineReplay, CompactionThenMaterialize) {
  ManifestState st = base_state();
  ASSERT_EQ(st.inline_ssts.size(), 2u);
  EXPECT_EQ(*apply_entry(&st, compaction_of_l0(st.next_pos)), ApplyOutcome::kApplied);
  EXPECT_EQ(*apply_entry(&st, materialize_all(st.next_pos)), ApplyOutcome::kApplied);
  expect_after_both(st);
}

TEST(InlineReplay, MaterializeThenCompactionPlannedBeforeIt) {
  // The compactor planned from a state before the materialize: its inputs
  // are the two L0 SSTs that existed then. Both entries stay valid; the
  // materialized SST is newer data than the run and stays in L0.
  ManifestState st = base_state();
  EXPECT_EQ(*apply_entry(&st, materialize_all(st.next_pos)), ApplyOutcome::kApplied);
  ASSERT_EQ(st.l0.size(), 3u);
  EXPECT_EQ(*apply_entry(&st, compaction_of_l0(st.next_pos)), ApplyOutcome::kApplied);
  expect_after_both(st);
}

TEST(InlineReplay, CompactionNamingAnInlineSstIsSkipped) {
  ManifestState st = base_state();
  LogEntry e = entry(st.next_pos, Role::kCompactor, LogOp::kCompaction);
  e.inputs = {"l0-a", "l0-b", "in-1"};
  e.added = {object_sst("run-out", 1, 6, {}, 1)};
  e.run_id = "run-bad";
  const ManifestState before = st;
  EXPECT_EQ(*apply_entry(&st, e), ApplyOutcome::kInputsGone);
  EXPECT_EQ(st.l0, before.l0);
  EXPECT_EQ(st.inline_ssts, before.inline_ssts);
  EXPECT_EQ(st.runs, before.runs);
}

TEST(InlineReplay, RetentionNamingAnInlineSstIsSkipped) {
  ManifestState st = base_state();
  LogEntry e = entry(st.next_pos, Role::kRetention, LogOp::kRemoveSstables);
  e.inputs = {"in-1"};
  EXPECT_EQ(*apply_entry(&st, e), ApplyOutcome::kInputsGone);
  EXPECT_EQ(st.inline_ssts.size(), 2u);
}

// ---- end to end: the real writer with inline flushes ---------------------------

using namespace std::chrono_literals;

constexpr int64_t kGrace = 600'000;

struct InlineEnv {
  ManualClock clock;
  // modified_ms of every object comes from the manual clock.
  std::shared_ptr<MemStore> mem = std::make_shared<MemStore>("mem://inline-consumers", &clock);
  ObjectStorePtr scoped = with_prefix(mem, "db");

  DBOptions db_options() {
    DBOptions o;
    o.prefix = "db";
    o.clock = &clock;
    o.gc_grace = std::chrono::milliseconds(kGrace);
    return o;
  }
  // Every flush below inline_flush_max_bytes travels inline; nothing is
  // materialized until a bigger flush or close() forces it.
  WriterOptions writer_options() {
    WriterOptions o;
    o.flush_interval = std::chrono::hours(1);
    o.retry_backoff = 1ms;
    o.min_flush_spacing = 0ms;
    o.blob_threshold = 64;
    o.inline_flush_max_bytes = 16 << 10;
    o.inline_max_lag = std::chrono::hours(1);
    o.snapshot_every = 4;  // snapshots carry the pending inline SSTs
    return o;
  }
  std::unique_ptr<Writer> writer() {
    auto db = DB::open(mem, db_options());
    EXPECT_TRUE(db.ok()) << db.status().to_string();
    auto w = db->open_writer(writer_options());
    EXPECT_TRUE(w.ok()) << w.status().to_string();
    return w.ok() ? std::move(*w) : nullptr;
  }
  std::unique_ptr<GarbageCollector> gc(std::chrono::milliseconds change_retention = 0ms) {
    GcOptions o;
    o.prefix = "db";
    o.clock = &clock;
    o.grace = std::chrono::milliseconds(kGrace);
    o.change_retention = change_retention;
    auto g = GarbageCollector::open(mem, o);
    EXPECT_TRUE(g.ok()) << g.status().to_string();
    return g.ok() ? std::move(*g) : nullptr;
  }
  GcReport run(GarbageCollector& g) {
    auto r = g.run_once();
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? *r : GcReport{};
  }
  ManifestState state() {
    ManifestLogOptions lo;
    lo.clock = &clock;
    lo.retry_backoff = 1ms;
    ManifestLog log(object_store_manifest_storage(scoped), lo);
    EXPECT_TRUE(log.open().ok());
    return log.state();
  }
  Result<std::optional<std::string>> read(const std::string& key) {
    ReaderOptions o;
    o.prefix = "db";
    o.clock = &clock;
    o.retry_backoff = 1ms;
    o.block_cache_bytes = 0;
    o.blob_cache_bytes = 0;
    auto r = Reader::open(mem, o);
    if (!r.ok()) return r.status();
    return (*r)->get(key);
  }
  bool exists(const std::string& key) { return scoped->head(key).ok(); }
};

std::string big_value(char c) { return std::string(200, c); }

TEST(InlineGc, BlobReferencedOnlyByAnInlineSstIsKept) {
  InlineEnv env;
  auto w = env.writer();
  ASSERT_TRUE(w->put("big", big_value('b')).ok());  // a blob (over blob_threshold)
  ASSERT_TRUE(w->flush().ok());
  ASSERT_EQ(w->stats().inline_flushes, 1u);
  const ManifestState st = env.state();
  ASSERT_EQ(st.inline_ssts.size(), 1u);
  ASSERT_TRUE(st.l0.empty());
  ASSERT_EQ(st.inline_ssts[0].blobs.size(), 1u);
  const std::string blob = blob_key(st.inline_ssts[0].blobs[0]);
  ASSERT_TRUE(env.exists(blob));
  ASSERT_FALSE(env.exists(sst_key(st.inline_ssts[0].id))) << "an inline SST has no object";

  // The blob is older than the grace and only the inline SST references it.
  env.clock.advance_ms(kGrace + 1);
  auto g = env.gc();
  for (int run = 0; run < 3; run++) {
    GcReport r = env.run(*g);
    EXPECT_EQ(r.blobs_deleted, 0u) << "run " << run;
    EXPECT_TRUE(env.exists(blob)) << "run " << run << ": the inline SST's blob was deleted";
    env.clock.advance_ms(kGrace + 1);
  }
  auto v = env.read("big");
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ(*v, big_value('b'));
  ASSERT_TRUE(w->close().ok());
}

TEST(InlineGc, InlineIdsAreNeverMarkedAndTheMaterializedSstIsKept) {
  InlineEnv env;
  auto g = env.gc();
  env.run(*g);  // a checkpoint before the inline flushes: they are in its window
  auto w = env.writer();
  for (int i = 0; i < 3; i++) {
    ASSERT_TRUE(w->put("k" + std::to_string(i), big_value(static_cast<char>('a' + i))).ok());
    ASSERT_TRUE(w->flush().ok());
  }
  ASSERT_EQ(env.state().inline_ssts.size(), 3u);
  std::set<std::string> inline_ids;
  for (const SstMeta& m : env.state().inline_ssts) inline_ids.insert(m.id);
  ASSERT_TRUE(w->close().ok());  // materializes every pending inline SST
  const ManifestState st = env.state();
  ASSERT_TRUE(st.inline_ssts.empty());
  ASSERT_EQ(st.l0.size(), 1u);
  const SstMeta mat = st.l0[0];
  EXPECT_EQ(mat.blobs.size(), 3u) << "the materialized SST lists its inputs' blobs";

  for (int run = 0; run < 3; run++) {
    GcReport r = env.run(*g);
    EXPECT_EQ(r.ssts_marked, 0u) << "run " << run << ": an inline SST was marked as an object";
    EXPECT_EQ(r.ssts_deleted, 0u) << "run " << run;
    EXPECT_EQ(r.blobs_deleted, 0u) << "run " << run;
    for (const std::string& k : r.deleted) {
      EXPECT_EQ(k.rfind("sstable/", 0), std::string::npos) << "run " << run << " deleted " << k;
    }
    EXPECT_TRUE(env.exists(sst_key(mat.id)));
    for (const std::string& b : mat.blobs) EXPECT_TRUE(env.exists(blob_key(b)));
    env.clock.advance_ms(kGrace + 1);
  }
  for (int i = 0; i < 3; i++) {
    auto v = env.read("k" + std::to_string(i));
    ASSERT_TRUE(v.ok()) << v.status().to_string();
    EXPECT_EQ(*v, big_value(static_cast<char>('a' + i)));
  }
}

TEST(InlineGc, MaterializedSstKeepsInlineBlobsForTheChangeRetention) {
  // The inline flush's log entry is change history (kept for the change
  // retention); the blob it references must stay as long. After the
  // materialization, only the materialized SST lists it: when that SST
  // leaves the live set, its mark must keep the blob for the change
  // retention, like an add_sstable SST's.
  InlineEnv env;
  auto g = env.gc(1h);
  env.run(*g);  // a checkpoint before everything
  auto w = env.writer();
  const uint64_t seq = *w->put("big", big_value('h'));
  ASSERT_TRUE(w->flush().ok());  // inline
  ASSERT_TRUE(w->close().ok());  // materialized
  ManifestState st = env.state();
  ASSERT_EQ(st.l0.size(), 1u);
  const SstMeta mat = st.l0[0];
  ASSERT_EQ(mat.blobs.size(), 1u);
  {
    // Retention takes the materialized SST out of the live set.
    ManifestLogOptions lo;
    lo.clock = &env.clock;
    lo.retry_backoff = 1ms;
    ManifestLog retention(object_store_manifest_storage(env.scoped), lo);
    ASSERT_TRUE(retention.open().ok());
    ASSERT_TRUE(retention.claim(Role::kRetention, "test-retention").ok());
    LogEntry e;
    e.op = LogOp::kRemoveSstables;
    e.inputs = {mat.id};
    ASSERT_TRUE(retention.append(e).ok());
  }
  env.run(*g);  // marks it
  env.clock.advance_ms(kGrace + 1);
  GcReport r = env.run(*g);
  EXPECT_EQ(r.blobs_deleted, 0u);
  EXPECT_TRUE(env.exists(blob_key(mat.blobs[0]))) << "the inline flush's blob went before its log entry";
  EXPECT_TRUE(env.exists(sst_key(mat.id)));

  // A consumer starting now from the beginning still gets the write.
  ReaderOptions ro;
  ro.prefix = "db";
  ro.clock = &env.clock;
  ro.retry_backoff = 1ms;
  auto t = TailingReader::open(env.mem, ro);
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  std::vector<ChangeEvent> got;
  TailOptions o;
  o.after_seq = 0;
  Status ts = (*t)->tail(o, [&](const ChangeEvent& e) {
    got.push_back(e);
    return e.seq < seq;
  });
  ASSERT_TRUE(ts.ok()) << ts.to_string();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].value, big_value('h'));

  // After the change retention, the mark is due: the SST and the blob go.
  env.clock.advance_ms(3'600'000);
  r = env.run(*g);
  EXPECT_EQ(r.ssts_deleted, 1u);
  EXPECT_FALSE(env.exists(sst_key(mat.id)));
}

TEST(InlineMaint, CompactorAndRetentionNeverTakeAnInlineSst) {
  InlineEnv env;
  WriterOptions wo = env.writer_options();
  auto db = DB::open(env.mem, env.db_options());
  ASSERT_TRUE(db.ok());
  auto w = db->open_writer(wo);
  ASSERT_TRUE(w.ok());
  // One SST object (a flush above inline_flush_max_bytes), then two inline
  // flushes.
  for (int i = 0; i < 1000; i++) {  // ~60 KB of barely compressible values
    ASSERT_TRUE((*w)->put("a" + std::to_string(1000 + i), sha256_hex(std::to_string(i)).substr(0, 60)).ok());
  }
  ASSERT_TRUE((*w)->flush().ok());
  ASSERT_TRUE((*w)->put("b", "1").ok());
  ASSERT_TRUE((*w)->flush().ok());
  ASSERT_TRUE((*w)->put("c", "2").ok());
  ASSERT_TRUE((*w)->flush().ok());
  ManifestState st = env.state();
  ASSERT_EQ(st.l0.size(), 1u);
  ASSERT_EQ(st.inline_ssts.size(), 2u);

  CompactorOptions co;
  co.l0_threshold = 1;
  co.retry_backoff = 1ms;
  auto c = Compactor::open(env.mem, env.db_options(), co);
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  auto info = (*c)->run_compaction();
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  EXPECT_EQ(info->inputs, std::vector<std::string>{st.l0[0].id});
  st = env.state();
  EXPECT_EQ(st.inline_ssts.size(), 2u) << "the compaction left the inline SSTs alone";
  EXPECT_TRUE(st.l0.empty());

  // Retention: everything is expired and nothing is kept by count; only
  // SST objects can be removed.
  RetentionOptions ro;
  ro.retention_period = 1ms;
  ro.retention_count = 0;
  ro.retry_backoff = 1ms;
  auto rc = RetentionCompactor::open(env.mem, env.db_options(), ro);
  ASSERT_TRUE(rc.ok()) << rc.status().to_string();
  env.clock.advance_ms(60'000);
  auto cleaned = (*rc)->run_cleanup();
  ASSERT_TRUE(cleaned.ok()) << cleaned.status().to_string();
  for (const std::string& id : cleaned->removed) {
    for (const SstMeta& m : st.inline_ssts) EXPECT_NE(id, m.id) << "retention removed an inline SST";
  }
  st = env.state();
  EXPECT_EQ(st.inline_ssts.size(), 2u);
  auto v = env.read("c");
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ(*v, "2");
  ASSERT_TRUE((*w)->close().ok());
}

}  // namespace
}  // namespace isle
