// TailingReader tests: key ranges and successors, the key-ordered tail,
// the change feed (every write once, in sequence order, across flushes,
// compactions, GC and tailer restarts), cursor expiry, superseded
// writers' entries, bootstrap, channels, and the feed's checks of
// the SSTs it reads (signature and sha256, as the Reader checks them).
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>

#include "isle/compactor.h"
#include "isle/gc.h"
#include "isle/tailing_reader.h"
#include "lsm/engine_test_util.h"
#include "format/sink.h"
#include "format/sst_builder.h"
#include "manifest/manifest_codec.h"
#include "manifest/manifest_log.h"
#include "tail/key_range.h"
#include "tail/tail_test_util.h"
#include "testutil/testutil.h"
#include "util/random.h"
#include "util/signing.h"

namespace isle {
namespace {

using namespace std::chrono_literals;
using testing::EngineEnv;

// ---- KeyRange -------------------------------------------------------------------

TEST(KeyRange, PrefixEndAndSuccessors) {
  EXPECT_EQ(prefix_end("ab"), "ac");
  EXPECT_EQ(prefix_end(std::string("a\xff\xff", 3)), "b");
  EXPECT_EQ(prefix_end(std::string("\xff", 1)), std::nullopt);
  EXPECT_EQ(prefix_end(""), std::nullopt);

  TailOptions o;
  KeyRange after_a(o, std::string("a"));
  EXPECT_FALSE(after_a.contains("a"));
  EXPECT_TRUE(after_a.contains(std::string("a\0", 2))) << "the successor of a is a\\0";
  EXPECT_TRUE(after_a.contains("aa"));

  o.max_key = "m";
  o.min_key = "c";
  KeyRange incl(o);
  EXPECT_TRUE(incl.contains("m"));
  EXPECT_FALSE(incl.contains(std::string("m\0", 2)));
  EXPECT_TRUE(incl.contains("c"));
  EXPECT_FALSE(incl.contains("b"));

  TailOptions p;
  p.prefix = "user/";
  p.end_key = "user/m";
  KeyRange pr(p);
  EXPECT_TRUE(pr.contains("user/a"));
  EXPECT_FALSE(pr.contains("user/m"));
  EXPECT_FALSE(pr.contains("users"));
  EXPECT_FALSE(pr.contains("user"));
  p.end_key = "a";
  EXPECT_TRUE(KeyRange(p).empty());
}

// Fixtures: tail/tail_test_util.h.

// ---- keys mode ------------------------------------------------------------------

TEST(TailKeys, DeliversVariableLengthKeysInOrderAndResumesAtTheTrueSuccessor) {
  TailEnv env;
  auto w = env.writer();
  const std::string a0("a\0", 2);
  for (const std::string& k : {std::string("a"), a0, std::string("aa"), std::string("b")}) {
    ASSERT_TRUE(w->put(k, "v:" + k).ok());
  }
  ASSERT_TRUE(w->flush().ok());
  auto t = env.tailer();
  TailOptions o;
  o.mode = TailMode::kKeys;
  std::vector<std::string> keys;
  Status s = t->tail(o, [&](const ChangeEvent& e) {
    keys.push_back(e.key);
    EXPECT_EQ(e.value, "v:" + e.key);
    EXPECT_GT(e.seq, 0u);
    return keys.size() < 4;
  });
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(keys, (std::vector<std::string>{"a", a0, "aa", "b"}));

  // Resume after "a": "a\0" is next, not skipped.
  o.after_key = "a";
  keys.clear();
  ASSERT_TRUE(t->tail(o, [&](const ChangeEvent& e) {
                 keys.push_back(e.key);
                 return keys.size() < 3;
               }).ok());
  EXPECT_EQ(keys, (std::vector<std::string>{a0, "aa", "b"}));

  // Caught up after "b", new keys appear later and are delivered once.
  o.after_key = "b";
  keys.clear();
  std::thread producer([&] {
    std::this_thread::sleep_for(30ms);
    ASSERT_TRUE(w->put("c", "v:c").ok());
    ASSERT_TRUE(w->put("d", "v:d").ok());
    ASSERT_TRUE(w->flush().ok());
  });
  ASSERT_TRUE(t->tail(o, [&](const ChangeEvent& e) {
                 keys.push_back(e.key);
                 return keys.size() < 2;
               }).ok());
  producer.join();
  EXPECT_EQ(keys, (std::vector<std::string>{"c", "d"}));
  ASSERT_TRUE(w->close().ok());
}

TEST(TailKeys, RangeFiltersApply) {
  TailEnv env;
  auto w = env.writer();
  for (const char* k : {"log/1", "log/2", "log/3", "log0", "other"}) ASSERT_TRUE(w->put(k, k).ok());
  ASSERT_TRUE(w->flush().ok());
  auto t = env.tailer();
  TailOptions o;
  o.mode = TailMode::kKeys;
  o.prefix = "log/";
  o.max_key = "log/2";
  std::vector<std::string> keys;
  ASSERT_TRUE(t->tail(o, [&](const ChangeEvent& e) {
                 keys.push_back(e.key);
                 return keys.size() < 2;
               }).ok());
  EXPECT_EQ(keys, (std::vector<std::string>{"log/1", "log/2"}));
  o.after_seq = 3;
  EXPECT_TRUE(t->tail(o, [](const ChangeEvent&) { return false; }).is_invalid_argument());
  ASSERT_TRUE(w->close().ok());
}

// ---- changes mode ------------------------------------------------------------------

TEST(TailChanges, EveryPutUpdateAndDeleteInSequenceOrder) {
  TailEnv env;
  WriterOptions wo = env.writer_options();
  wo.blob_threshold = 100;
  auto w = env.writer(wo);
  Expected ex;
  auto t = env.tailer();
  const uint64_t start = t->manifest().data_seq;
  EXPECT_EQ(start, 0u);

  // Updates of one key inside one flush are all delivered, not just the last.
  ex.put(*w->put("k", "1"), "k", "1");
  ex.put(*w->put("k", "2"), "k", "2");
  ex.del(*w->del("k"), "k");
  ex.put(*w->put("b", "x"), "b", "x");
  ASSERT_TRUE(w->flush().ok());
  const std::string big(300, 'z');
  ex.put(*w->put("blob", big), "blob", big);  // a blob value comes back whole
  const uint64_t ttl_seq = *w->put_with_ttl("ttl", "t", 1000ms);
  ASSERT_TRUE(w->flush().ok());

  TailOptions o;
  o.after_seq = 0;
  Collected c = collect(*t, o, ttl_seq);
  ASSERT_TRUE(c.status.ok()) << c.status.to_string();
  ASSERT_EQ(c.events.size(), 6u) << describe(c.events);
  std::vector<ChangeEvent> got(c.events.begin(), c.events.begin() + 5);
  EXPECT_EQ(got, ex.events) << describe(got);
  const ChangeEvent& ttl = c.events.back();
  EXPECT_EQ(ttl.key, "ttl");
  ASSERT_TRUE(ttl.expires_at_ms.has_value());
  EXPECT_EQ(*ttl.expires_at_ms, env.clock.now_ms() + 1000);

  // A filter applies to changes too, and after_seq is exclusive.
  o.after_seq = ex.events[0].seq;
  o.prefix = "k";
  c = collect(*t, o, ex.events[2].seq);
  ASSERT_TRUE(c.status.ok());
  EXPECT_EQ(c.events, (std::vector<ChangeEvent>{ex.events[1], ex.events[2]}));
  ASSERT_TRUE(w->close().ok());
}

TEST(TailChanges, FromNowDeliversOnlyNewWritesAsTheyAreFlushed) {
  TailEnv env;
  auto w = env.writer();
  ASSERT_TRUE(w->put("old", "1").ok());
  ASSERT_TRUE(w->flush().ok());
  auto t = env.tailer();
  ASSERT_TRUE(t->start().ok());
  std::vector<ChangeEvent> got;
  uint64_t last = 0;
  std::thread producer([&] {
    std::this_thread::sleep_for(20ms);
    for (int i = 0; i < 5; i++) {
      last = *w->put("new" + std::to_string(i), "v");
      ASSERT_TRUE(w->flush().ok());
    }
  });
  Status s = t->tail(TailOptions{}, [&](const ChangeEvent& e) {
    got.push_back(e);
    return got.size() < 5;
  });
  producer.join();
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(got.size(), 5u);
  for (int i = 0; i < 5; i++) EXPECT_EQ(got[i].key, "new" + std::to_string(i));
  EXPECT_EQ(got.back().seq, last);
  EXPECT_GT(t->last_refresh_ms(), 0);
  ASSERT_TRUE(w->close().ok());
}

// The property: across flushes, compactions, snapshots, GC within the
// retention and tailer restarts at random points, the concatenated output
// of the tailers is exactly every write in sequence order.
TEST(TailChanges, ExactlyOnceInOrderAcrossCompactionsGcAndRestarts) {
  const int seeds = testing::seed_count(100);
  for (int s = 0; s < seeds; s++) {
    const uint64_t seed = testing::seed_base() + s;
    SCOPED_TRACE("seed " + std::to_string(seed));
    Random rng(seed);
    TailEnv env(seed);
    WriterOptions wo = env.writer_options();
    wo.snapshot_every = 4;
    wo.blob_threshold = 512;
    auto w = env.writer(wo);
    auto comp = env.compactor();
    auto gc = env.gc(1h);
    Expected ex;
    std::vector<ChangeEvent> delivered;
    uint64_t cursor = 0;
    for (int round = 0; round < 12; round++) {
      const int writes = 1 + static_cast<int>(rng.uniform(8));
      for (int i = 0; i < writes; i++) {
        const std::string k = "k" + std::to_string(rng.uniform(10));
        if (rng.uniform(4) == 0) {
          ex.del(*w->del(k), k);
        } else {
          std::string v = rng.uniform(6) == 0 ? std::string(600, 'a' + round) : "v" + std::to_string(round);
          ex.put(*w->put(k, v), k, v);
        }
      }
      ASSERT_TRUE(w->flush().ok());
      if (rng.uniform(2) == 0) {
        ASSERT_TRUE(comp->run_compaction().ok());
      }
      if (rng.uniform(3) == 0) {
        env.clock.advance_ms(61'000);  // past the grace, well within the retention
        ASSERT_TRUE(gc->run_once().ok());
      }
      if (rng.uniform(2) == 0 && ex.last() > cursor) {
        // A tailer process starts from the stored cursor, reads part of
        // what is there, and "crashes".
        auto t = env.tailer();
        TailOptions o;
        o.after_seq = cursor;
        const size_t want = 1 + rng.uniform(ex.after(cursor).size());
        Collected c = collect(*t, o, ex.last(), want);
        ASSERT_TRUE(c.status.ok()) << c.status.to_string();
        ASSERT_EQ(c.events.size(), want);
        delivered.insert(delivered.end(), c.events.begin(), c.events.end());
        cursor = c.events.back().seq;
      }
    }
    if (ex.last() > cursor) {
      auto t = env.tailer();
      TailOptions o;
      o.after_seq = cursor;
      Collected c = collect(*t, o, ex.last());
      ASSERT_TRUE(c.status.ok()) << c.status.to_string();
      delivered.insert(delivered.end(), c.events.begin(), c.events.end());
    }
    ASSERT_EQ(delivered, ex.events) << "got:\n" << describe(delivered) << "want:\n" << describe(ex.events);
    ASSERT_TRUE(w->close().ok());
  }
}

TEST(TailChanges, CursorOlderThanTheKeptHistoryIsExpiredNeverAGap) {
  TailEnv env;
  WriterOptions wo = env.writer_options();
  wo.snapshot_every = 2;
  auto w = env.writer(wo);
  auto comp = env.compactor();
  Expected ex;
  for (int i = 0; i < 6; i++) {
    ex.put(*w->put("k" + std::to_string(i), "v"), "k" + std::to_string(i), "v");
    ASSERT_TRUE(w->flush().ok());
    ASSERT_TRUE(comp->run_compaction().ok());
  }
  auto gc = env.gc(10min);
  ASSERT_TRUE(gc->run_once().ok());
  const uint64_t old_part_end = ex.last();
  env.clock.advance_ms(11 * 60'000);  // past the change retention
  ASSERT_TRUE(gc->run_once().ok());
  ASSERT_TRUE(gc->run_once().ok());
  for (int i = 6; i < 9; i++) {
    ex.put(*w->put("k" + std::to_string(i), "v"), "k" + std::to_string(i), "v");
    ASSERT_TRUE(w->flush().ok());
  }
  ASSERT_FALSE(env.scoped->head(log_key(1)).ok()) << "the old history is collected";

  auto t = env.tailer();
  for (uint64_t cursor : {uint64_t{0}, ex.events[0].seq, ex.events[4].seq}) {
    TailOptions o;
    o.after_seq = cursor;
    Collected c = collect(*t, o, ex.last());
    EXPECT_TRUE(c.status.is_change_cursor_expired()) << cursor << ": " << c.status.to_string();
    EXPECT_TRUE(c.events.empty()) << describe(c.events);
  }
  // A cursor at the end of the collected part resumes without a gap.
  TailOptions o;
  o.after_seq = old_part_end;
  Collected c = collect(*t, o, ex.last());
  ASSERT_TRUE(c.status.ok()) << c.status.to_string();
  EXPECT_EQ(c.events, ex.after(old_part_end));
  ASSERT_TRUE(w->close().ok());
}

TEST(TailChanges, ExpiryDuringTheWalkIsReportedAndNothingIsSkipped) {
  // The SST a data entry names is gone (GC removed it after the tail
  // located its position): ChangeCursorExpired, not a silent skip.
  TailEnv env;
  auto w = env.writer();
  Expected ex;
  for (int i = 0; i < 3; i++) {
    ex.put(*w->put("k" + std::to_string(i), "v"), "k" + std::to_string(i), "v");
    ASSERT_TRUE(w->flush().ok());
  }
  auto t = env.tailer();
  ASSERT_TRUE(env.scoped->remove(sst_key(t->manifest().l0[1].id)).ok());
  TailOptions o;
  o.after_seq = 0;
  Collected c = collect(*t, o, ex.last());
  EXPECT_TRUE(c.status.is_change_cursor_expired()) << c.status.to_string();
  ASSERT_EQ(c.events.size(), 1u) << "the first flush, then the hole is reported";
  EXPECT_EQ(c.events[0], ex.events[0]);
  ASSERT_TRUE(w->close().ok());
}

TEST(TailChanges, AStoreOutageIsWaitedOutWithoutLosingOrRepeatingEvents) {
  TailEnv env;
  auto w = env.writer();
  Expected ex;
  for (int i = 0; i < 3; i++) {
    for (int j = 0; j < 3; j++) {
      const std::string k = "k" + std::to_string(i * 3 + j);
      ex.put(*w->put(k, "v"), k, "v");
    }
    ASSERT_TRUE(w->flush().ok());
  }
  auto t = env.tailer();
  // SST reads fail for longer than the store's own retries last (10
  // attempts per call): the tail sees Transient at least twice, then
  // recovers. 60 failures: each round of the tail may also spend up to 20
  // on its two fetches ahead (tail/sst_prefetch.h), whose errors it does
  // not see, besides the 10 of its own fetch.
  env.fault->add_rule(FaultRule::on(StoreOp::kGet)
                          .key_prefix("db/sstable/")
                          .skip(1)  // one SST read succeeds before the outage
                          .times(60)
                          .fail(Status::Transient("outage")));
  TailOptions o;
  o.after_seq = 0;
  Collected c = collect(*t, o, ex.last());
  ASSERT_TRUE(c.status.ok()) << c.status.to_string();
  EXPECT_EQ(c.events, ex.events) << describe(c.events);
  EXPECT_GE(t->stats().transient_errors, 2u);
  ASSERT_TRUE(w->close().ok());
}

TEST(TailChanges, AMovedL0SstStaysHistoryForTheChangeRetention) {
  // The compactor moves a writer's SST from L0 into a run unchanged; when
  // it later leaves the live set, GC must still keep it for the change
  // retention (it is change history), not just the grace. Found by the
  // concurrent maintenance model.
  TailEnv env;
  auto w = env.writer();
  CompactorOptions co;
  co.l0_threshold = 1;
  co.min_sources = 2;
  co.retry_backoff = 1ms;
  auto comp = Compactor::open(env.store, env.db_options, co);
  ASSERT_TRUE(comp.ok()) << comp.status().to_string();
  auto gc = env.gc(1h);
  Expected ex;
  ex.put(*w->put("a", "1"), "a", "1");
  ex.put(*w->put("b", "1"), "b", "1");
  ASSERT_TRUE(w->flush().ok());  // one L0 SST [a, b]
  auto moved = (*comp)->run_compaction();
  ASSERT_TRUE(moved.ok()) << moved.status().to_string();
  ASSERT_EQ(moved->moved.size(), 1u) << "moved into a run unchanged";
  ASSERT_TRUE(gc->run_once().ok());  // the checkpoint records it live, in a run
  ex.put(*w->put("a", "2"), "a", "2");
  ASSERT_TRUE(w->flush().ok());
  ASSERT_TRUE((*comp)->run_compaction().ok());  // a second run
  auto merged = (*comp)->run_compaction();      // the runs merge: both leave
  ASSERT_TRUE(merged.ok()) << merged.status().to_string();
  ASSERT_EQ(merged->inputs.size(), 2u);
  ASSERT_TRUE(gc->run_once().ok());
  env.clock.advance_ms(61'000);  // past the grace, inside the change retention
  auto r = gc->run_once();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->ssts_deleted, 0u);
  auto t = env.tailer();
  TailOptions o;
  o.after_seq = 0;
  Collected c = collect(*t, o, ex.last());
  ASSERT_TRUE(c.status.ok()) << c.status.to_string();
  EXPECT_EQ(c.events, ex.events) << describe(c.events);
  ASSERT_TRUE(w->close().ok());
}

TEST(TailChanges, SupersededWritersEntriesAreNeverDelivered) {
  // Writer A is fenced by B; a late add_sstable of A (its epoch) lands in
  // the log after B's claim. Replay skips it, so must the feed — also when
  // the feed judges it from storage, below log_seq_start.
  TailEnv env;
  WriterOptions wo = env.writer_options();
  wo.snapshot_every = 2;
  auto a = env.writer(wo);
  Expected ex;
  ex.put(*a->put("a", "1"), "a", "1");
  ASSERT_TRUE(a->flush().ok());
  ManifestLogOptions lo;
  lo.clock = &env.clock;
  ManifestLog raw(object_store_manifest_storage(env.scoped), lo);
  ASSERT_TRUE(raw.open().ok());
  LogEntry zombie_template;  // A's entry as it was, to replay later
  for (uint64_t p = raw.state().next_pos - 1; p > 0 && zombie_template.added.empty(); p--) {
    auto bytes = env.scoped->get(log_key(p));
    ASSERT_TRUE(bytes.ok());
    auto e = decode_entry(bytes->data, "x");
    ASSERT_TRUE(e.ok());
    if (e->op == LogOp::kAddSstable) zombie_template = *e;
  }
  ASSERT_FALSE(zombie_template.added.empty());
  auto b = env.writer(wo);  // claims: A is superseded
  ASSERT_TRUE(raw.refresh().ok());
  LogEntry z = zombie_template;
  z.pos = raw.state().next_pos;
  z.added[0].id = "zombie-sst";
  z.added[0].seq_lo = z.added[0].seq_hi = z.last_seq = 1u << 20;  // data no one may see
  z.commit_id = "zombie";
  // A's late SST holds a write no reader ever sees.
  StringSink sink;
  SstBuilder builder(SstBuilderOptions{}, &sink);
  ASSERT_TRUE(builder.add("zombie", z.added[0].seq_hi, ValueKind::kPut, "lost").ok());
  ASSERT_TRUE(builder.finish().ok());
  z.added[0].size = sink.contents().size();
  ASSERT_TRUE(env.scoped->put(sst_key("zombie-sst"), sink.contents(), PutOptions::create_only()).ok());
  ASSERT_TRUE(env.scoped->put(log_key(z.pos), encode_entry(z), PutOptions::create_only()).ok());
  for (int i = 0; i < 4; i++) {  // B's flushes move log_seq_start past the zombie
    ex.put(*b->put("b" + std::to_string(i), "2"), "b" + std::to_string(i), "2");
    ASSERT_TRUE(b->flush().ok());
  }
  auto t = env.tailer();
  ASSERT_GT(t->manifest().log_seq_start, z.pos) << "the zombie entry is below log_seq_start";
  TailOptions o;
  o.after_seq = 0;
  Collected c = collect(*t, o, ex.last());
  ASSERT_TRUE(c.status.ok()) << c.status.to_string();
  EXPECT_EQ(c.events, ex.events) << describe(c.events);
  ASSERT_TRUE(b->close().ok());
}

TEST(TailChanges, BootstrapIsAConsistentSnapshotAndCursor) {
  TailEnv env;
  auto w = env.writer();
  std::map<std::string, std::string> model;
  for (int i = 0; i < 20; i++) {
    const std::string k = "k" + std::to_string(i % 7);
    ASSERT_TRUE(w->put(k, std::to_string(i)).ok());
    model[k] = std::to_string(i);
    if (i % 5 == 4) {
      ASSERT_TRUE(w->flush().ok());
    }
  }
  ASSERT_TRUE(w->flush().ok());
  auto t = env.tailer();
  auto boot = t->bootstrap(TailOptions{});
  ASSERT_TRUE(boot.ok());
  // Writes after the bootstrap are not in the snapshot but in the feed.
  ASSERT_TRUE(w->del("k0").ok());
  const uint64_t last = *w->put("k1", "after");
  ASSERT_TRUE(w->flush().ok());
  ASSERT_TRUE(t->refresh().ok());
  std::map<std::string, std::string> view;
  for (; boot->snapshot->valid(); boot->snapshot->next()) {
    view[std::string(boot->snapshot->key())] = std::string(boot->snapshot->value());
  }
  ASSERT_TRUE(boot->snapshot->status().ok());
  EXPECT_EQ(view, model);
  TailOptions o;
  o.after_seq = boot->cursor;
  Collected c = collect(*t, o, last);
  ASSERT_TRUE(c.status.ok());
  for (const auto& e : c.events) {
    if (e.op == ChangeOp::kDelete) view.erase(e.key);
    else view[e.key] = e.value;
  }
  model.erase("k0");
  model["k1"] = "after";
  EXPECT_EQ(view, model);
  EXPECT_EQ(c.events.size(), 2u);
  ASSERT_TRUE(w->close().ok());
}

TEST(TailChannel, DeliversThroughABoundedQueueAndCloses) {
  TailEnv env;
  auto w = env.writer();
  Expected ex;
  for (int i = 0; i < 50; i++) ex.put(*w->put("k" + std::to_string(i), "v"), "k" + std::to_string(i), "v");
  ASSERT_TRUE(w->flush().ok());
  auto t = env.tailer();
  TailOptions o;
  o.after_seq = 0;
  auto ch = t->subscribe(o, /*capacity=*/3);
  ASSERT_TRUE(ch.ok());
  std::vector<ChangeEvent> got;
  while (got.size() < 50) {
    auto e = (*ch)->next(5s);
    ASSERT_TRUE(e.ok()) << e.status().to_string();
    ASSERT_TRUE(e->has_value()) << "timed out after " << got.size();
    got.push_back(**e);
  }
  EXPECT_EQ(got, ex.events);
  auto none = (*ch)->next(20ms);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  (*ch)->close();
  auto closed = (*ch)->next(1s);
  EXPECT_EQ(closed.status().code(), Code::kAborted);

  // Errors reach the consumer: an expired cursor. (A fresh tailer: `t`
  // keeps the SST it just read in its feed cache and may still serve it,
  // complete and verified, which is no gap.)
  ASSERT_TRUE(env.scoped->remove(sst_key(t->manifest().l0[0].id)).ok());
  t = env.tailer();
  auto bad = t->subscribe(o, 3);
  ASSERT_TRUE(bad.ok());
  auto r = (*bad)->next(5s);
  EXPECT_TRUE(r.status().is_change_cursor_expired()) << r.status().to_string();
  EXPECT_TRUE(t->subscribe(o, 0).status().is_invalid_argument());
  ASSERT_TRUE(w->close().ok());
}

// stop(), start() and the other TailingReader options: tailing_options_test.cc.

// ---- verification of the SSTs the change feed reads -----------------------------

// Two flushes: SST 1 holds first/0..9, SST 2 holds second/0..9; every value
// is `tag` followed by the key's digit, so databases written with tags of
// one length have SSTs of one size. Returns the last sequence of SST 1.
uint64_t write_two_ssts(Writer& w, const std::string& tag) {
  uint64_t first_hi = 0;
  for (const char* prefix : {"first/", "second/"}) {
    for (int i = 0; i < 10; i++) {
      auto seq = w.put(prefix + std::to_string(i), tag + std::to_string(i));
      EXPECT_TRUE(seq.ok()) << seq.status().to_string();
      if (std::string(prefix) == "first/" && seq.ok()) first_hi = *seq;
    }
    EXPECT_TRUE(w.flush().ok());
  }
  return first_hi;
}

// Writer options for these tests: blocks stored uncompressed, so that the
// SSTs of databases written alike have exactly one size (a compressed
// block's size may vary with the creation time it holds).
WriterOptions uncompressed(const TailEnv& env) {
  WriterOptions o = env.writer_options();
  o.compression = Compression::kNone;
  return o;
}

// The id of the L0 SST holding `seq`.
std::string l0_id_holding(const ManifestInfo& m, uint64_t seq) {
  for (const auto& t : m.l0) {
    if (t.seq_lo <= seq && seq <= t.seq_hi) return t.id;
  }
  ADD_FAILURE() << "no L0 SST holds seq " << seq;
  return "";
}

// The change feed from the start with these verification settings.
Collected tail_from_start(TailEnv& env, ReaderOptions o, uint64_t until_seq) {
  auto t = TailingReader::open(env.store, o);
  EXPECT_TRUE(t.ok()) << t.status().to_string();
  if (!t.ok()) return Collected{t.status(), {}};
  TailOptions to;
  to.after_seq = 0;
  return collect(**t, to, until_seq);
}

// Replaces SST 2 of env's database by the SST 2 of another database with
// the same keys, sequences and sizes but other values ("evil" for "good"):
// a well-formed SST with valid block checksums that the manifest's sha256
// (and so the signature) does not describe.
void forge_second_sst(TailEnv& env, uint64_t first_hi) {
  TailEnv other(2);
  auto ow = other.writer(uncompressed(other));
  ASSERT_EQ(write_two_ssts(*ow, "evil"), first_hi);
  const std::string forged_id = l0_id_holding(other.reader()->manifest(), first_hi + 1);
  const std::string forged = other.scoped->get(sst_key(forged_id))->data;
  ASSERT_TRUE(ow->close().ok());
  const std::string id = l0_id_holding(env.reader()->manifest(), first_hi + 1);
  ASSERT_EQ(env.scoped->get(sst_key(id))->data.size(), forged.size())
      << "the forgery must keep the size the manifest records";
  ASSERT_TRUE(env.scoped->put(sst_key(id), forged).ok());
}

TEST(TailVerify, ASignedDatabaseTailedWithTheRightKeyDeliversEverything) {
  TailEnv env;
  auto key = Ed25519Signer::generate();
  ASSERT_TRUE(key.ok());
  WriterOptions wo = uncompressed(env);
  wo.signing_key_pem = key->private_key_pem();
  auto w = env.writer(wo);
  write_two_ssts(*w, "good");
  const uint64_t last = w->stats().last_seq;
  ReaderOptions o = env.tail_options();
  o.verify_public_key_pem = key->public_key_pem();
  Collected c = tail_from_start(env, o, last);
  ASSERT_TRUE(c.status.ok()) << c.status.to_string();
  ASSERT_EQ(c.events.size(), 20u) << describe(c.events);
  EXPECT_EQ(c.events.back().seq, last);
  EXPECT_EQ(c.events.front().value, "good0");
  // sha256 verification alone passes an untouched database too.
  ReaderOptions sha = env.tail_options();
  sha.verify_sst_sha256 = true;
  c = tail_from_start(env, sha, last);
  ASSERT_TRUE(c.status.ok()) << c.status.to_string();
  EXPECT_EQ(c.events.size(), 20u);
  ASSERT_TRUE(w->close().ok());
}

TEST(TailVerify, AWrongKeyOrNoSignatureEndsTheTailWithCorruptionBeforeAnyEvent) {
  TailEnv env;
  auto key = Ed25519Signer::generate();
  auto other = Ed25519Signer::generate();
  ASSERT_TRUE(key.ok() && other.ok());
  WriterOptions wo = uncompressed(env);
  wo.signing_key_pem = key->private_key_pem();
  auto w = env.writer(wo);
  const uint64_t first_hi = write_two_ssts(*w, "good");
  const std::string first_key = sst_key(l0_id_holding(env.reader()->manifest(), first_hi));
  ReaderOptions o = env.tail_options();
  o.verify_public_key_pem = other->public_key_pem();
  Collected c = tail_from_start(env, o, w->stats().last_seq);
  EXPECT_EQ(c.status.code(), Code::kCorruption) << c.status.to_string();
  EXPECT_NE(c.status.message().find(first_key), std::string::npos) << c.status.to_string();
  // A key the ring does not hold is named (lsm/sst_verify.h).
  EXPECT_NE(c.status.message().find("signed by key " + key->key_id()), std::string::npos)
      << c.status.to_string();
  EXPECT_TRUE(c.events.empty()) << describe(c.events);
  ASSERT_TRUE(w->close().ok());

  // An unsigned database tailed by a verifying reader: no signature.
  TailEnv unsigned_env;
  auto uw = unsigned_env.writer(uncompressed(unsigned_env));
  write_two_ssts(*uw, "good");
  o = unsigned_env.tail_options();
  o.verify_public_key_pem = key->public_key_pem();
  c = tail_from_start(unsigned_env, o, uw->stats().last_seq);
  EXPECT_EQ(c.status.code(), Code::kCorruption) << c.status.to_string();
  EXPECT_NE(c.status.message().find("no signature"), std::string::npos) << c.status.to_string();
  EXPECT_TRUE(c.events.empty()) << describe(c.events);
  ASSERT_TRUE(uw->close().ok());
}

TEST(TailVerify, ATamperedSstEndsTheTailAndNothingOfItIsDelivered) {
  TailEnv env;
  auto key = Ed25519Signer::generate();
  ASSERT_TRUE(key.ok());
  WriterOptions wo = uncompressed(env);
  wo.signing_key_pem = key->private_key_pem();
  auto w = env.writer(wo);
  const uint64_t first_hi = write_two_ssts(*w, "good");
  const uint64_t last = w->stats().last_seq;
  ASSERT_TRUE(w->close().ok());
  const std::string second_key = sst_key(l0_id_holding(env.reader()->manifest(), first_hi + 1));
  ReaderOptions o = env.tail_options();
  o.verify_public_key_pem = key->public_key_pem();

  // One byte flipped in the stored object, the size kept.
  const std::string good = env.scoped->get(second_key)->data;
  std::string flipped = good;
  flipped[flipped.size() / 2] ^= 0x01;
  ASSERT_TRUE(env.scoped->put(second_key, flipped).ok());
  Collected c = tail_from_start(env, o, last);
  EXPECT_EQ(c.status.code(), Code::kCorruption) << c.status.to_string();
  EXPECT_NE(c.status.message().find(second_key), std::string::npos) << c.status.to_string();
  EXPECT_NE(c.status.message().find("sha256"), std::string::npos)
      << "caught by the digest check, not by chance in the format: " << c.status.to_string();
  ASSERT_EQ(c.events.size(), 10u) << "SST 1 is delivered, nothing of SST 2:\n"
                                   << describe(c.events);
  EXPECT_EQ(c.events.back().seq, first_hi);

  // A well-formed forgery of the same size: the format cannot see it, the
  // signed digest does.
  ASSERT_TRUE(env.scoped->put(second_key, good).ok());
  forge_second_sst(env, first_hi);
  c = tail_from_start(env, o, last);
  EXPECT_EQ(c.status.code(), Code::kCorruption) << c.status.to_string();
  EXPECT_NE(c.status.message().find(second_key), std::string::npos) << c.status.to_string();
  ASSERT_EQ(c.events.size(), 10u) << describe(c.events);
  for (const auto& e : c.events) EXPECT_EQ(e.value.substr(0, 4), "good") << e.key;
}

TEST(TailVerify, Sha256VerificationAloneCatchesAForgedSst) {
  TailEnv env;
  auto w = env.writer(uncompressed(env));
  const uint64_t first_hi = write_two_ssts(*w, "good");
  const uint64_t last = w->stats().last_seq;
  ASSERT_TRUE(w->close().ok());
  forge_second_sst(env, first_hi);
  const std::string second_key = sst_key(l0_id_holding(env.reader()->manifest(), first_hi + 1));

  // Unverified, the forgery reads as data (which is why the check exists).
  Collected plain = tail_from_start(env, env.tail_options(), last);
  ASSERT_TRUE(plain.status.ok()) << plain.status.to_string();
  ASSERT_EQ(plain.events.size(), 20u);
  EXPECT_EQ(plain.events.back().value, "evil9");

  ReaderOptions o = env.tail_options();
  o.verify_sst_sha256 = true;
  Collected c = tail_from_start(env, o, last);
  EXPECT_EQ(c.status.code(), Code::kCorruption) << c.status.to_string();
  EXPECT_NE(c.status.message().find(second_key), std::string::npos) << c.status.to_string();
  EXPECT_NE(c.status.message().find("sha256"), std::string::npos) << c.status.to_string();
  ASSERT_EQ(c.events.size(), 10u) << describe(c.events);
  EXPECT_EQ(c.events.back().seq, first_hi);
}

}  // namespace
}  // namespace isle
