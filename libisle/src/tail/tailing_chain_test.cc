// Change feed vs chained add_sstable entries (several flushes in flight,
// docs/manifest-protocol.md): a chained entry counts only where the
// replayed data_seq equals its prev_data_seq. Replay skips a chain-broken
// one forever; the feed must too, also when it reads the entry from
// storage (a restarted tailer, a resumed cursor, entries below
// log_seq_start) instead of from the reader's own replay.
//
// The entries are written straight into manifest/log/ with the writer's
// epoch, so each test builds the exact log a pipelining writer leaves
// behind after losing a position, then makes the tailer read them from
// storage (a second writer's flushes move log_seq_start past them).
#include <gtest/gtest.h>

#include "format/sink.h"
#include "format/sst_builder.h"
#include "isle/tailing_reader.h"
#include "lsm/engine_test_util.h"
#include "manifest/manifest_codec.h"
#include "manifest/manifest_log.h"
#include "manifest/manifest_state.h"
#include "tail/tail_test_util.h"

namespace isle {
namespace {

// Writes log entries of the first writer's epoch after its last one.
struct LogForger {
  TailEnv& env;
  LogEntry tmpl;  // the writer's last add_sstable
  uint64_t next_pos = 0;
  uint64_t data_seq = 0;

  explicit LogForger(TailEnv& e) : env(e) {}

  void open() {
    ManifestLogOptions lo;
    lo.clock = &env.clock;
    ManifestLog raw(object_store_manifest_storage(env.scoped), lo);
    ASSERT_TRUE(raw.open().ok());
    next_pos = raw.state().next_pos;
    data_seq = raw.state().data_seq;
    for (uint64_t p = next_pos - 1; p > 0 && tmpl.added.empty(); p--) {
      auto bytes = env.scoped->get(log_key(p));
      ASSERT_TRUE(bytes.ok());
      auto e = decode_entry(bytes->data, "x");
      ASSERT_TRUE(e.ok());
      if (e->op == LogOp::kAddSstable && e->role == Role::kWriter) tmpl = *e;
    }
    ASSERT_FALSE(tmpl.added.empty());
  }

  // Uploads SST `id` holding one put key=value at seq_hi (range seq_lo..seq_hi).
  void sst(const std::string& id, uint64_t seq_lo, uint64_t seq_hi, const std::string& key,
           SstMeta* meta) {
    StringSink sink;
    SstBuilder builder(SstBuilderOptions{}, &sink);
    ASSERT_TRUE(builder.add(key, seq_hi, ValueKind::kPut, "v-" + key).ok());
    ASSERT_TRUE(builder.finish().ok());
    *meta = tmpl.added.front();
    meta->id = id;
    meta->seq_lo = seq_lo;
    meta->seq_hi = seq_hi;
    meta->size = sink.contents().size();
    meta->num_entries = 1;
    meta->num_deletes = 0;
    meta->sha256.clear();
    meta->sig.clear();
    meta->sig_key_id.clear();
    meta->blobs.clear();
    meta->min_key = key;
    meta->max_key = key;
    auto got = env.scoped->head(sst_key(id));
    if (got.ok()) return;  // a resend names the SST it uploaded before
    ASSERT_TRUE(env.scoped->put(sst_key(id), sink.contents(), PutOptions::create_only()).ok());
  }

  // Appends an add_sstable at the next position.
  void add(const std::string& id, uint64_t seq_lo, uint64_t seq_hi, const std::string& key,
           bool chained, uint64_t prev_data_seq, uint64_t reserve) {
    LogEntry e = tmpl;
    ASSERT_NO_FATAL_FAILURE(sst(id, seq_lo, seq_hi, key, &e.added[0]));
    e.added.resize(1);
    e.pos = next_pos++;
    e.chained = chained;
    e.prev_data_seq = prev_data_seq;
    e.last_seq = seq_hi;
    e.seq_reserved = reserve;
    e.commit_id = "forged-" + std::to_string(e.pos);
    ASSERT_TRUE(env.scoped->put(log_key(e.pos), encode_entry(e), PutOptions::create_only()).ok());
  }
};

// The reviewer's case: a chain-broken entry (its predecessor never
// landed; the writer then crashed) sits below log_seq_start. Replay
// skipped it, so the feed must never deliver it.
TEST(TailingChain, ChainBrokenEntryIsNotDeliveredFromStorage) {
  TailEnv env;
  WriterOptions wo = env.writer_options();
  wo.snapshot_every = 2;
  wo.max_flushes_in_flight = 1;
  Expected ex;
  uint64_t ghost_pos = 0;
  {
    auto w = env.writer(wo);
    ex.put(*w->put("a", "1"), "a", "1");
    ASSERT_TRUE(w->flush().ok());
    ASSERT_TRUE(w->close().ok());
    LogForger f(env);
    ASSERT_NO_FATAL_FAILURE(f.open());
    ghost_pos = f.next_pos;
    const uint64_t d = f.data_seq;
    // Sent behind a flush (seqs d+1..d+7) whose PUT lost its position.
    ASSERT_NO_FATAL_FAILURE(f.add("ghost-sst", d + 8, d + 500, "ghost", true, d + 7, d + 1000));
  }
  auto w = env.writer(wo);  // the writer crashed; its successor goes on
  for (int i = 0; i < 4; i++) {
    ex.put(*w->put("b" + std::to_string(i), "2"), "b" + std::to_string(i), "2");
    ASSERT_TRUE(w->flush().ok());
  }
  auto t = env.tailer();
  ASSERT_GT(t->manifest().log_seq_start, ghost_pos) << "the ghost entry is below log_seq_start";
  for (uint64_t after : {uint64_t{0}, ex.events[0].seq}) {
    TailOptions o;
    o.after_seq = after;
    Collected c = collect(*t, o, ex.last());
    ASSERT_TRUE(c.status.ok()) << c.status.to_string();
    EXPECT_EQ(describe(c.events), describe(ex.after(after))) << "after " << after;
    EXPECT_TRUE(c.events == ex.after(after)) << "after " << after;
    ASSERT_TRUE(t->check_cursor(after).ok());
  }
  ASSERT_TRUE(w->close().ok());
}

// The full timeline: the writer pipelines E1, E2 (chained behind E1), E3
// (chained behind E2); E1 loses its position, E2 and E3 land and are
// skipped; the writer resends E1, E2, E3. Every cursor, including one
// inside the resend, sees each write once, in sequence order.
TEST(TailingChain, ResendAfterLostPositionIsDeliveredOnceInOrder) {
  TailEnv env;
  WriterOptions wo = env.writer_options();
  wo.snapshot_every = 2;
  wo.max_flushes_in_flight = 1;
  Expected ex;
  uint64_t first_forged = 0;
  {
    auto w = env.writer(wo);
    ex.put(*w->put("a", "1"), "a", "1");
    ASSERT_TRUE(w->flush().ok());
    ASSERT_TRUE(w->close().ok());
    LogForger f(env);
    ASSERT_NO_FATAL_FAILURE(f.open());
    first_forged = f.next_pos;
    const uint64_t d = f.data_seq;
    const uint64_t r = d + 1000;
    // E2 and E3 land first, chained behind E1 that did not: skipped.
    ASSERT_NO_FATAL_FAILURE(f.add("e2", d + 101, d + 110, "e2", true, d + 100, r));
    ASSERT_NO_FATAL_FAILURE(f.add("e3", d + 111, d + 120, "e3", true, d + 110, r));
    // The resend, in order.
    ASSERT_NO_FATAL_FAILURE(f.add("e1", d + 1, d + 100, "e1", false, d, r));
    ASSERT_NO_FATAL_FAILURE(f.add("e2", d + 101, d + 110, "e2", true, d + 100, r));
    ASSERT_NO_FATAL_FAILURE(f.add("e3", d + 111, d + 120, "e3", true, d + 110, r));
    ex.put(d + 100, "e1", "v-e1");
    ex.put(d + 110, "e2", "v-e2");
    ex.put(d + 120, "e3", "v-e3");
  }
  auto w = env.writer(wo);
  for (int i = 0; i < 4; i++) {
    ex.put(*w->put("b" + std::to_string(i), "2"), "b" + std::to_string(i), "2");
    ASSERT_TRUE(w->flush().ok());
  }
  auto t = env.tailer();
  ASSERT_GT(t->manifest().log_seq_start, first_forged + 4) << "forged entries not below log_seq_start";
  const uint64_t d = ex.events[0].seq;
  // From the start, before the resend, inside it (after E1, after E2), at its end.
  for (uint64_t after : {uint64_t{0}, d, d + 50, d + 100, d + 105, d + 110, d + 120}) {
    TailOptions o;
    o.after_seq = after;
    Collected c = collect(*t, o, ex.last());
    ASSERT_TRUE(c.status.ok()) << "after " << after << ": " << c.status.to_string();
    EXPECT_EQ(describe(c.events), describe(ex.after(after))) << "after " << after;
    EXPECT_TRUE(c.events == ex.after(after)) << "after " << after;
    ASSERT_TRUE(t->check_cursor(after).ok()) << "after " << after;
  }
  ASSERT_TRUE(w->close().ok());
}

// Collected history hides the state before the oldest kept chained
// entry, and there a crashed writer's chain-broken flushes sit (their
// predecessor lost its position). For every cursor the feed can hand out
// (x1's, the new writer's) they are never delivered: the tail either
// resumes exactly (nothing lost) or reports ChangeCursorExpired.
TEST(TailingChain, BrokenChainAfterCollectedHistoryIsNeverDelivered) {
  TailEnv env;
  WriterOptions wo = env.writer_options();
  wo.snapshot_every = 2;
  wo.max_flushes_in_flight = 1;
  Expected ex;
  uint64_t first_forged = 0;
  {
    auto w = env.writer(wo);
    ex.put(*w->put("a", "1"), "a", "1");
    ASSERT_TRUE(w->flush().ok());
    ASSERT_TRUE(w->close().ok());
    LogForger f(env);
    ASSERT_NO_FATAL_FAILURE(f.open());
    first_forged = f.next_pos;
    const uint64_t d = f.data_seq;
    const uint64_t r = d + 1000;
    ASSERT_NO_FATAL_FAILURE(f.add("x1", d + 1, d + 100, "x1", true, d, r));
    // x2 (d+101..d+200) lost its position; g3 and g4 landed behind it.
    ASSERT_NO_FATAL_FAILURE(f.add("g3", d + 201, d + 210, "g3", true, d + 200, r));
    ASSERT_NO_FATAL_FAILURE(f.add("g4", d + 211, d + 220, "g4", true, d + 210, r));
    ex.put(d + 100, "x1", "v-x1");
  }
  auto w = env.writer(wo);  // the writer crashed; its successor goes on
  for (int i = 0; i < 4; i++) {
    ex.put(*w->put("b" + std::to_string(i), "2"), "b" + std::to_string(i), "2");
    ASSERT_TRUE(w->flush().ok());
  }
  auto t = env.tailer();
  ASSERT_GT(t->manifest().log_seq_start, first_forged + 2);
  const std::vector<uint64_t> cursors = {ex.events[1].seq, ex.events[2].seq, ex.events[3].seq};
  // Whole history: exact.
  for (uint64_t after : cursors) {
    TailOptions o;
    o.after_seq = after;
    Collected c = collect(*t, o, ex.last());
    ASSERT_TRUE(c.status.ok()) << "after " << after << ": " << c.status.to_string();
    EXPECT_EQ(describe(c.events), describe(ex.after(after))) << "after " << after;
  }
  // History up to x1 collected (as GC does, oldest first): g3 is now the
  // oldest kept entry and the state before it is unknown.
  for (uint64_t p = 1; p <= first_forged; p++) ASSERT_TRUE(env.scoped->remove(log_key(p)).ok());
  auto t2 = env.tailer();
  for (uint64_t after : cursors) {
    TailOptions o;
    o.after_seq = after;
    Collected c = collect(*t2, o, ex.last());
    if (c.status.ok()) {
      EXPECT_EQ(describe(c.events), describe(ex.after(after))) << "after " << after;
    } else {
      EXPECT_TRUE(c.status.is_change_cursor_expired()) << after << ": " << c.status.to_string();
      EXPECT_EQ(describe(c.events), "") << "after " << after;
    }
  }
  // A cursor inside the new writer's data resumes exactly.
  TailOptions o;
  o.after_seq = ex.events[2].seq;
  Collected c = collect(*t2, o, ex.last());
  ASSERT_TRUE(c.status.ok()) << c.status.to_string();
  EXPECT_EQ(describe(c.events), describe(ex.after(ex.events[2].seq)));
  ASSERT_TRUE(w->close().ok());
}

}  // namespace
}  // namespace isle
