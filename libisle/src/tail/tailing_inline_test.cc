// The change feed over inline flushes (issue 15's one-round-trip commit):
// an add_sstable whose SST travels inside the log entry is a data entry
// delivered from those bytes (no GET of sstable/<id>.sst, which does not
// exist), and a later `materialize` entry, which moves the same data into
// one L0 SST object, is not a data entry: nothing is delivered twice and
// the cursor never moves because of it. A resumed cursor reads inline data
// from the log entry; a collected entry is ChangeCursorExpired, never a
// gap.
//
// The log is written by hand through a ManifestLog holding the writer
// fence, so every shape (object, inline, materialize) is exact.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "format/blob_ref.h"
#include "format/sink.h"
#include "format/sst_builder.h"
#include "manifest/manifest_log.h"
#include "store/mem_store.h"
#include "tail/tail_test_util.h"
#include "util/hash.h"
#include "util/signing.h"

namespace isle {
namespace {

using namespace std::chrono_literals;

struct Built {
  std::string bytes;
  SstMeta meta;
};

// An L0 SST holding `puts` (key, seq, value), keys ascending.
Built build_sst(std::string id, const std::vector<std::tuple<std::string, uint64_t, std::string>>& puts) {
  StringSink sink;
  SstBuilder b(SstBuilderOptions{}, &sink);
  Built out;
  out.meta.id = std::move(id);
  out.meta.seq_lo = UINT64_MAX;
  for (const auto& [k, seq, v] : puts) {
    EXPECT_TRUE(b.add(k, seq, ValueKind::kPut, v).ok());
    out.meta.seq_lo = std::min(out.meta.seq_lo, seq);
    out.meta.seq_hi = std::max(out.meta.seq_hi, seq);
  }
  auto info = b.finish();
  EXPECT_TRUE(info.ok()) << info.status().to_string();
  out.bytes = sink.release();
  out.meta.size = out.bytes.size();
  out.meta.sha256 = info->sha256;
  out.meta.min_key = std::get<0>(puts.front());
  out.meta.max_key = std::get<0>(puts.back());
  out.meta.num_entries = puts.size();
  return out;
}

// A writer that commits by hand: SST objects, inline flushes and
// materializations.
struct HandWriter {
  TailEnv& env;
  ManifestLog log;

  explicit HandWriter(TailEnv& e) : env(e), log(object_store_manifest_storage(e.scoped), options(e)) {
    EXPECT_TRUE(log.open().ok());
    EXPECT_TRUE(log.claim(Role::kWriter, "hand-writer").ok());
  }
  static ManifestLogOptions options(TailEnv& e) {
    ManifestLogOptions lo;
    lo.clock = &e.clock;
    lo.retry_backoff = 1ms;
    return lo;
  }

  // Signs the SSTs it adds with this key (nullopt = unsigned); an inline
  // SST with the isle-inline-v1: message unless `wrong_prefix`.
  std::optional<Ed25519Signer> signer;
  bool wrong_prefix = false;

  uint64_t add(const Built& b, bool as_inline) {
    SstMeta m = b.meta;
    if (signer) {
      const bool inl = as_inline != wrong_prefix;
      m.sig = to_hex(signer->sign(inl ? inline_signature_message(m.sha256)
                                      : sst_signature_message(m.sha256)));
      m.sig_key_id = signer->key_id();
    }
    if (as_inline) {
      m.inline_data.bytes = std::make_shared<const std::string>(b.bytes);
    } else {
      EXPECT_TRUE(env.scoped->put(sst_key(m.id), b.bytes, PutOptions::create_only()).ok());
    }
    LogEntry e;
    e.op = LogOp::kAddSstable;
    e.prev_data_seq = log.state().data_seq;
    e.last_seq = m.seq_hi;
    e.added = {m};
    auto pos = log.append(std::move(e));
    EXPECT_TRUE(pos.ok()) << pos.status().to_string();
    return pos.ok() ? *pos : 0;
  }
  uint64_t materialize(std::vector<std::string> inputs, const Built& b) {
    EXPECT_TRUE(env.scoped->put(sst_key(b.meta.id), b.bytes, PutOptions::create_only()).ok());
    LogEntry e;
    e.op = LogOp::kMaterialize;
    e.inputs = std::move(inputs);
    e.added = {b.meta};
    auto pos = log.append(std::move(e));
    EXPECT_TRUE(pos.ok()) << pos.status().to_string();
    return pos.ok() ? *pos : 0;
  }
};

// Six writes: 1-2 in an SST object, 3-4 and 5 in two inline flushes that
// are then materialized into one L0 SST holding 3-5, and 6 in an SST
// object committed after the materialization.
struct History {
  Expected ex;
  uint64_t inline_pos = 0;  // the log position of the first inline flush
};
History write_history(HandWriter& w) {
  History h;
  for (uint64_t s = 1; s <= 6; s++) h.ex.put(s, "k" + std::to_string(s), "v" + std::to_string(s));
  w.add(build_sst("obj-1", {{"k1", 1, "v1"}, {"k2", 2, "v2"}}), false);
  h.inline_pos = w.add(build_sst("in-1", {{"k3", 3, "v3"}, {"k4", 4, "v4"}}), true);
  w.add(build_sst("in-2", {{"k5", 5, "v5"}}), true);
  w.materialize({"in-1", "in-2"}, build_sst("mat-1", {{"k3", 3, "v3"}, {"k4", 4, "v4"}, {"k5", 5, "v5"}}));
  w.add(build_sst("obj-2", {{"k6", 6, "v6"}}), false);
  return h;
}

TEST(TailInline, DeliversInlineFlushesFromTheLogOnceAcrossMaterialization) {
  TailEnv env;
  HandWriter w(env);
  History h = write_history(w);
  EXPECT_TRUE(w.log.state().inline_ssts.empty());
  EXPECT_EQ(w.log.state().l0.size(), 3u);
  ASSERT_FALSE(env.scoped->head(sst_key("in-1")).ok()) << "an inline SST has no object";

  auto t = env.tailer();
  TailOptions o;
  o.after_seq = 0;
  Collected c = collect(*t, o, 6);
  ASSERT_TRUE(c.status.ok()) << c.status.to_string();
  EXPECT_EQ(c.events, h.ex.events) << describe(c.events);
  // Two SST objects read (obj-1, obj-2); the inline data came with the log
  // and the materialized SST is never read.
  EXPECT_EQ(t->stats().sst_reads, 2u);
}

TEST(TailInline, LiveTailDeliversEachInlineWriteOnceWhileItIsMaterialized) {
  TailEnv env;
  HandWriter w(env);
  w.add(build_sst("obj-0", {{"k0", 1, "v0"}}), false);
  auto t = env.tailer();
  TailOptions o;
  o.after_seq = 1;
  auto ch = t->subscribe(o, 64);
  ASSERT_TRUE(ch.ok());
  std::vector<uint64_t> seqs;
  auto next_until = [&](size_t n) {
    while (seqs.size() < n) {
      auto e = (*ch)->next(10s);
      ASSERT_TRUE(e.ok()) << e.status().to_string();
      ASSERT_TRUE(e->has_value()) << "timed out after " << seqs.size() << " events";
      seqs.push_back((*e)->seq);
    }
  };
  // Each step is committed while the tail follows: inline flushes, a
  // materialization of the first two, another inline flush, its
  // materialization, then an object flush.
  w.add(build_sst("in-a", {{"a", 2, "2"}, {"b", 3, "3"}}), true);
  next_until(2);
  w.add(build_sst("in-b", {{"c", 4, "4"}}), true);
  next_until(3);
  w.materialize({"in-a", "in-b"}, build_sst("mat-a", {{"a", 2, "2"}, {"b", 3, "3"}, {"c", 4, "4"}}));
  w.add(build_sst("in-c", {{"d", 5, "5"}}), true);
  next_until(4);
  w.materialize({"in-c"}, build_sst("mat-c", {{"d", 5, "5"}}));
  w.add(build_sst("obj-1", {{"e", 6, "6"}}), false);
  next_until(5);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{2, 3, 4, 5, 6}));
  // Nothing more: the materializations deliver nothing.
  ASSERT_TRUE(t->refresh().ok());
  auto more = (*ch)->next(200ms);
  ASSERT_TRUE(more.ok()) << more.status().to_string();
  EXPECT_FALSE(more->has_value()) << "delivered again: seq " << (*more)->seq;
  EXPECT_EQ(t->stats().sst_reads, 1u) << "only obj-1 is read; obj-0 is before the cursor";
}

// An inline flush holding one blob reference (the blob stored as the
// writer stores it) and a plain put.
Built build_with_blob(TailEnv& env, std::string id, uint64_t seq, const std::string& value) {
  const std::string hash = sha256_hex(value);
  EXPECT_TRUE(env.scoped->put(blob_key(hash), value).ok());
  StringSink sink;
  SstBuilder b(SstBuilderOptions{}, &sink);
  EXPECT_TRUE(b.add("blob", seq, ValueKind::kBlobRef, encode_blob_ref(BlobRef{hash, value.size()})).ok());
  auto info = b.finish();
  EXPECT_TRUE(info.ok());
  Built out;
  out.bytes = sink.release();
  out.meta.id = std::move(id);
  out.meta.size = out.bytes.size();
  out.meta.sha256 = info->sha256;
  out.meta.min_key = out.meta.max_key = "blob";
  out.meta.seq_lo = out.meta.seq_hi = seq;
  out.meta.num_entries = 1;
  out.meta.blobs = {hash};
  return out;
}

TEST(TailInline, AMissingBlobOfAMaterializedInlineFlushIsExpiryNotAnError) {
  // GC kept the inline flush's log entry (change history) longer than the
  // blob (see docs/format/gc.md, "Known limits"): the history is gone, and
  // the feed says so exactly.
  TailEnv env;
  HandWriter w(env);
  const std::string value(300, 'q');
  w.add(build_sst("obj-1", {{"a", 1, "1"}}), false);
  Built x = build_with_blob(env, "in-x", 2, value);
  w.add(x, true);
  Built mat = x;
  mat.meta.id = "mat-x";
  w.materialize({"in-x"}, mat);
  ASSERT_TRUE(env.scoped->remove(blob_key(sha256_hex(value))).ok());
  auto t = env.tailer();
  TailOptions o;
  o.after_seq = 1;
  Collected c = collect(*t, o, 2);
  EXPECT_TRUE(c.status.is_change_cursor_expired()) << c.status.to_string();
  EXPECT_TRUE(c.events.empty()) << describe(c.events);
}

TEST(TailInline, AMissingBlobOfAPendingInlineFlushIsNotCalledExpiry) {
  // While the flush is pending its blob is live data: losing it is an
  // error, never "history expired".
  TailEnv env;
  HandWriter w(env);
  const std::string value(300, 'p');
  w.add(build_with_blob(env, "in-p", 1, value), true);
  ASSERT_TRUE(env.scoped->remove(blob_key(sha256_hex(value))).ok());
  auto t = env.tailer();
  TailOptions o;
  o.after_seq = 0;
  Collected c = collect(*t, o, 1);
  EXPECT_FALSE(c.status.ok());
  EXPECT_FALSE(c.status.is_change_cursor_expired()) << c.status.to_string();
}

// A tailer that opens from a snapshot written after the history: its
// reader never replayed the inline entries, so a resumed cursor reads them
// from manifest/log/ directly.
std::unique_ptr<TailingReader> tailer_after_snapshot(TailEnv& env, HandWriter& w) {
  EXPECT_TRUE(w.log.write_snapshot().ok());
  auto t = env.tailer();
  EXPECT_GT(t->manifest().log_seq_start, 5u) << "the history lies below the snapshot";
  return t;
}

TEST(TailInline, ResumedCursorReadsInlineDataFromTheLogEntry) {
  TailEnv env;
  HandWriter w(env);
  History h = write_history(w);
  auto t = tailer_after_snapshot(env, w);
  for (uint64_t after : {0u, 2u, 3u, 4u, 5u}) {
    SCOPED_TRACE("after_seq " + std::to_string(after));
    Status cc = t->check_cursor(after);
    EXPECT_TRUE(cc.ok()) << cc.to_string();
    TailOptions o;
    o.after_seq = after;
    Collected c = collect(*t, o, 6);
    ASSERT_TRUE(c.status.ok()) << c.status.to_string();
    EXPECT_EQ(c.events, h.ex.after(after)) << describe(c.events);
  }
}

TEST(TailInline, CollectedInlineEntryIsExpiredNotAGap) {
  TailEnv env;
  HandWriter w(env);
  History h = write_history(w);
  auto t = tailer_after_snapshot(env, w);
  // GC collected the log prefix up to and including the first inline
  // flush (its data now lives only in mat-1, which the feed never reads).
  for (uint64_t p = 1; p <= h.inline_pos; p++) ASSERT_TRUE(env.scoped->remove(log_key(p)).ok());
  for (uint64_t after : {2u, 3u}) {
    SCOPED_TRACE("after_seq " + std::to_string(after));
    EXPECT_TRUE(t->check_cursor(after).is_change_cursor_expired());
    TailOptions o;
    o.after_seq = after;
    Collected c = collect(*t, o, 6);
    EXPECT_TRUE(c.status.is_change_cursor_expired()) << c.status.to_string();
    EXPECT_TRUE(c.events.empty()) << describe(c.events);
  }
  // From the end of the collected inline flush on, history is whole.
  TailOptions o;
  o.after_seq = 4;
  Collected c = collect(*t, o, 6);
  ASSERT_TRUE(c.status.ok()) << c.status.to_string();
  EXPECT_EQ(c.events, h.ex.after(4)) << describe(c.events);
}

TEST(TailInline, InlineSignatureIsVerifiedWithTheInlineMessage) {
  TailEnv env;
  auto key = Ed25519Signer::generate();
  ASSERT_TRUE(key.ok());
  HandWriter w(env);
  w.signer = *key;
  w.add(build_sst("obj-1", {{"k1", 1, "v1"}}), false);
  w.add(build_sst("in-1", {{"k2", 2, "v2"}}), true);
  // Signed, but with the SST object message: a signature made for one kind
  // must never pass as the other.
  w.wrong_prefix = true;
  w.add(build_sst("in-2", {{"k3", 3, "v3"}}), true);

  ReaderOptions ro = env.tail_options();
  ro.verify_public_key_pem = key->public_key_pem();
  auto t = TailingReader::open(env.store, ro);
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  TailOptions o;
  o.after_seq = 0;
  Collected c = collect(**t, o, 3);
  EXPECT_TRUE(c.status.is_corruption()) << c.status.to_string();
  EXPECT_NE(c.status.message().find("in-2"), std::string::npos) << c.status.to_string();
  ASSERT_EQ(c.events.size(), 2u) << describe(c.events);
  EXPECT_EQ(c.events[1].seq, 2u) << "the well-signed inline SST is delivered";
}

TEST(TailInline, RealWriterEveryWriteOnceAcrossMaterializationsAndGc) {
  TailEnv env;
  // Objects stamped by the manual clock, so GC's grace passes as it moves.
  env.rebase(std::make_shared<MemStore>("mem://tail-inline", &env.clock), 1,
             [](std::chrono::microseconds) {});
  WriterOptions wo = env.writer_options();
  wo.blob_threshold = 100;
  wo.inline_flush_max_bytes = 64 << 10;
  wo.inline_max_pending_bytes = 2048;  // materialize every few flushes
  wo.inline_max_lag = 5ms;
  wo.snapshot_every = 3;
  auto w = env.writer(wo);
  auto t = env.tailer();
  ASSERT_TRUE(t->start().ok());
  TailOptions o;
  o.after_seq = 0;
  auto ch = t->subscribe(o, 16);
  ASSERT_TRUE(ch.ok());
  auto gc = env.gc(1h);
  Expected ex;
  for (int i = 0; i < 120; i++) {
    const std::string k = "k" + std::to_string(i % 17);
    const std::string v = i % 5 == 0 ? std::string(150, static_cast<char>('a' + i % 26))  // a blob
                                     : "v" + std::to_string(i);
    if (i % 11 == 10) {
      ex.del(*w->del(k), k);
    } else {
      ex.put(*w->put(k, v), k, v);
    }
    if (i % 4 == 3) {
      ASSERT_TRUE(w->flush().ok());
    }
    if (i % 30 == 29) {
      env.clock.advance_ms(61'000);  // past GC's grace: blobs are candidates
      auto r = gc->run_once();
      ASSERT_TRUE(r.ok()) << r.status().to_string();
    }
  }
  ASSERT_TRUE(w->close().ok());  // materializes what is left
  EXPECT_GT(w->stats().inline_flushes, 10u);
  EXPECT_GT(w->stats().materializations, 1u);
  std::vector<ChangeEvent> got;
  while (got.size() < ex.events.size()) {
    auto e = (*ch)->next(10s);
    ASSERT_TRUE(e.ok()) << e.status().to_string();
    ASSERT_TRUE(e->has_value()) << "timed out after " << got.size() << " events";
    got.push_back(**e);
  }
  EXPECT_EQ(got, ex.events) << describe(got);
  ASSERT_TRUE(t->refresh().ok());
  auto more = (*ch)->next(200ms);
  ASSERT_TRUE(more.ok()) << more.status().to_string();
  EXPECT_FALSE(more->has_value()) << "delivered twice: seq " << (*more)->seq;

  // A consumer starting from the beginning after another GC run gets the
  // same history (inline flushes from the log, their blobs kept).
  env.clock.advance_ms(61'000);
  ASSERT_TRUE(gc->run_once().ok());
  auto late = env.tailer();
  Collected c = collect(*late, o, ex.last());
  ASSERT_TRUE(c.status.ok()) << c.status.to_string();
  EXPECT_EQ(c.events, ex.events) << describe(c.events);
}

}  // namespace
}  // namespace isle
