// Inline SSTs in the manifest (docs/format/manifest.md, "Inline flushes"):
// the codec (format 2, the "data" field, the snapshot's "inline" list, the
// materialize op), the checks it makes on inline bytes, the replay rules of
// inline add_sstable and materialize, and a ManifestLog that reads inline
// entries and snapshots back (and refuses tampered ones).
#include <gtest/gtest.h>

#include "manifest/json_fields.h"
#include "manifest/manifest_codec.h"
#include "manifest/manifest_log.h"
#include "manifest/manifest_state.h"
#include "manifest/manifest_test_util.h"
#include "store/mem_store.h"
#include "util/base64.h"
#include "util/hash.h"

namespace isle {
namespace {

using testing::object_sst;

SstMeta inline_sst(std::string id, uint64_t lo, uint64_t hi, std::string bytes = "") {
  if (bytes.empty()) bytes = "inline sst bytes of " + id + std::string(40, '\x01');
  SstMeta m = object_sst(std::move(id), lo, hi);
  m.size = bytes.size();
  m.sha256 = sha256_hex(bytes);
  m.inline_data.bytes = std::make_shared<const std::string>(std::move(bytes));
  return m;
}

LogEntry writer_entry(uint64_t pos, LogOp op, uint64_t epoch = 1) {
  LogEntry e;
  e.pos = pos;
  e.role = Role::kWriter;
  e.epoch = epoch;
  e.owner = "w";
  e.commit_id = "c" + std::to_string(pos);
  e.op = op;
  return e;
}

LogEntry add(uint64_t pos, SstMeta m, uint64_t epoch = 1) {
  LogEntry e = writer_entry(pos, LogOp::kAddSstable, epoch);
  e.last_seq = m.seq_hi;
  e.added.push_back(std::move(m));
  return e;
}

LogEntry materialize(uint64_t pos, std::vector<std::string> inputs, SstMeta out,
                     uint64_t epoch = 1) {
  LogEntry e = writer_entry(pos, LogOp::kMaterialize, epoch);
  e.inputs = std::move(inputs);
  e.added.push_back(std::move(out));
  return e;
}

LogEntry claim(uint64_t pos, Role r, uint64_t epoch) {
  LogEntry e;
  e.pos = pos;
  e.role = r;
  e.epoch = epoch;
  e.owner = "o";
  e.commit_id = "claim" + std::to_string(pos);
  e.op = LogOp::kFenceClaim;
  return e;
}

int format_of(const std::string& json) {
  auto f = json.find("\"format\":");
  return f == std::string::npos ? 0 : json[f + 9] - '0';
}

TEST(ManifestInlineCodec, InlineEntriesAndSnapshotsRoundTripAsFormat2) {
  const LogEntry plain = add(3, object_sst("p", 1, 2));
  EXPECT_EQ(format_of(encode_entry(plain)), 1) << "an entry without inline data stays format 1";

  LogEntry e = add(4, inline_sst("i1", 3, 9));
  e.added[0].sig = "00ff";
  e.added[0].sig_key_id = "k";
  e.added[0].min_lsn = 1;
  e.added[0].max_lsn = 2;
  const std::string bytes = encode_entry(e);
  EXPECT_EQ(format_of(bytes), 2);
  EXPECT_NE(bytes.find("\"data\":\"" + base64_encode(*e.added[0].inline_data.bytes) + "\""),
            std::string::npos);
  auto d = decode_entry(bytes, "log/4");
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(*d, e);
  ASSERT_TRUE(d->added[0].is_inline());

  const LogEntry m = materialize(5, {"i1", "i2"}, object_sst("m", 3, 12));
  const std::string mb = encode_entry(m);
  EXPECT_EQ(format_of(mb), 2);
  auto dm = decode_entry(mb, "log/5");
  ASSERT_TRUE(dm.ok()) << dm.status().to_string();
  EXPECT_EQ(*dm, m);

  // An older build (max format 1) refuses both as NotSupported, never as
  // a missing SST object.
  for (const std::string& b : {bytes, mb}) {
    auto old = json_fields::decode_object<int>(b, "log/x", "manifest", 1, false,
                                               [](const nlohmann::json&) { return 0; });
    EXPECT_EQ(old.status().code(), Code::kNotSupported) << old.status().to_string();
  }

  ManifestState s;
  ASSERT_TRUE(apply_entry(&s, claim(1, Role::kWriter, 1)).ok());
  EXPECT_EQ(format_of(encode_snapshot(s)), 1);
  ASSERT_EQ(*apply_entry(&s, add(2, inline_sst("a", 1, 4))), ApplyOutcome::kApplied);
  ASSERT_EQ(*apply_entry(&s, add(3, inline_sst("b", 5, 6))), ApplyOutcome::kApplied);
  const std::string snap = encode_snapshot(s);
  EXPECT_EQ(format_of(snap), 2);
  auto ds = decode_snapshot(snap, "snap");
  ASSERT_TRUE(ds.ok()) << ds.status().to_string();
  ds->log_seq_start = s.log_seq_start;
  EXPECT_EQ(*ds, s) << "the pending inline SSTs, with their bytes, survive a snapshot";
  ASSERT_EQ(ds->inline_ssts.size(), 2u);
  EXPECT_EQ(*ds->inline_ssts[1].inline_data.bytes, *s.inline_ssts[1].inline_data.bytes);
}

// Replaces the value of "data" in an encoded object.
std::string with_data(std::string json, const std::string& data) {
  const auto at = json.find("\"data\":\"");
  EXPECT_NE(at, std::string::npos);
  const auto end = json.find('"', at + 8);
  return json.replace(at + 8, end - (at + 8), data);
}

TEST(ManifestInlineCodec, BadInlineDataIsCorruptionNamingTheObjectAndSst) {
  const SstMeta good = inline_sst("s7", 1, 2);
  const std::string enc = encode_entry(add(7, good));
  auto expect_corrupt = [](const Result<LogEntry>& r, const std::string& what) {
    ASSERT_FALSE(r.ok()) << what;
    EXPECT_EQ(r.status().code(), Code::kCorruption) << what << ": " << r.status().to_string();
    EXPECT_NE(r.status().message().find("manifest/log/7"), std::string::npos)
        << r.status().to_string();
  };
  // Same length, other bytes: the sha256 no longer matches.
  std::string other = *good.inline_data.bytes;
  other[3] ^= 1;
  auto mismatch = decode_entry(with_data(enc, base64_encode(other)), "manifest/log/7");
  expect_corrupt(mismatch, "sha mismatch");
  EXPECT_NE(mismatch.status().message().find("s7"), std::string::npos);
  EXPECT_NE(mismatch.status().message().find("sha256"), std::string::npos);
  // Other length.
  expect_corrupt(decode_entry(with_data(enc, base64_encode(*good.inline_data.bytes + "x")),
                              "manifest/log/7"),
                 "size mismatch");
  expect_corrupt(decode_entry(with_data(enc, "!!!not base64"), "manifest/log/7"), "base64");
  // Oversized: refused before decoding.
  const std::string huge((kMaxInlineSstBytes / 3 + 2) * 4, 'A');
  auto big = decode_entry(with_data(enc, huge), "manifest/log/7");
  expect_corrupt(big, "oversized");
  EXPECT_NE(big.status().message().find("larger than"), std::string::npos);
  // Inline at level 1.
  SstMeta l1 = good;
  l1.level = 1;
  expect_corrupt(decode_entry(encode_entry(add(7, l1)), "manifest/log/7"), "level");
  // Inline data where no op may carry it.
  LogEntry comp = writer_entry(7, LogOp::kCompaction);
  comp.role = Role::kCompactor;
  comp.inputs = {"x"};
  comp.added = {good};
  expect_corrupt(decode_entry(encode_entry(comp), "manifest/log/7"), "compaction output");
  expect_corrupt(decode_entry(encode_entry(materialize(7, {"a"}, good)), "manifest/log/7"),
                 "materialize output");
  // A snapshot whose inline list holds an SST without data, or whose l0
  // holds one with data.
  ManifestState s;
  s.inline_ssts = {good};
  std::string snap = encode_snapshot(s);
  s.inline_ssts[0].inline_data = {};
  s.l0 = {good};
  const std::string swapped = encode_snapshot(s);
  s.l0.clear();
  s.inline_ssts = {object_sst("o", 1, 1)};
  const std::string no_data = encode_snapshot(s);
  for (const auto& b : {swapped, no_data}) {
    auto r = decode_snapshot(b, "snap");
    EXPECT_EQ(r.status().code(), Code::kCorruption) << r.status().to_string();
  }
  ASSERT_TRUE(decode_snapshot(snap, "snap").ok());
  // Every truncation and single-byte change of an inline entry decodes or
  // is a clean Corruption.
  for (size_t i = 0; i < enc.size(); i++) {
    EXPECT_FALSE(decode_entry(enc.substr(0, i), "t").ok());
    std::string m = enc;
    m[i] = static_cast<char>(m[i] ^ 0x5a);
    auto r = decode_entry(m, "m");
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kCorruption) << r.status().to_string();
    }
  }
  std::string newer = enc;
  auto future = decode_entry(newer.replace(enc.find("\"format\":2"), 10, "\"format\":3"), "x");
  EXPECT_EQ(future.status().code(), Code::kNotSupported);
}

TEST(ManifestInlineReplay, InlineAddsAndMaterializeFollowTheRules) {
  ManifestState s;
  ASSERT_EQ(*apply_entry(&s, claim(1, Role::kWriter, 1)), ApplyOutcome::kApplied);
  ASSERT_EQ(*apply_entry(&s, claim(2, Role::kCompactor, 1)), ApplyOutcome::kApplied);
  ASSERT_EQ(*apply_entry(&s, add(3, object_sst("o1", 1, 5))), ApplyOutcome::kApplied);
  ASSERT_EQ(*apply_entry(&s, add(4, inline_sst("i1", 6, 8))), ApplyOutcome::kApplied);
  EXPECT_EQ(s.l0.size(), 1u) << "an inline SST goes to inline_ssts, not l0";
  ASSERT_EQ(s.inline_ssts.size(), 1u);
  EXPECT_EQ(s.data_seq, 8u);
  EXPECT_EQ(s.last_seq, 8u);
  EXPECT_FALSE(s.is_live("i1"));
  EXPECT_TRUE(s.is_inline_pending("i1"));
  ASSERT_EQ(*apply_entry(&s, add(5, inline_sst("i2", 9, 9))), ApplyOutcome::kApplied);
  ASSERT_EQ(*apply_entry(&s, add(6, inline_sst("i3", 10, 14))), ApplyOutcome::kApplied);
  EXPECT_EQ(s.inline_bytes(),
            s.inline_ssts[0].size + s.inline_ssts[1].size + s.inline_ssts[2].size);

  // An SST object may not be added while inline SSTs are pending.
  EXPECT_EQ(*apply_entry(&s, add(7, object_sst("o2", 15, 20))), ApplyOutcome::kInlinePending);
  // Duplicate ids, whichever side they are on.
  EXPECT_EQ(*apply_entry(&s, add(8, inline_sst("o1", 15, 20))), ApplyOutcome::kDuplicateSst);
  EXPECT_EQ(*apply_entry(&s, add(9, inline_sst("i2", 15, 20))), ApplyOutcome::kDuplicateSst);
  // Materialize: only a prefix of the pending list, in order, with the
  // union's sequence range and entry count, from the current writer.
  EXPECT_EQ(*apply_entry(&s, materialize(10, {"i2"}, object_sst("m", 9, 9))),
            ApplyOutcome::kNotOldestInline);
  EXPECT_EQ(*apply_entry(&s, materialize(11, {"i2", "i1"}, object_sst("m", 6, 9))),
            ApplyOutcome::kNotOldestInline);
  EXPECT_EQ(*apply_entry(&s, materialize(12, {"i1", "i2", "i3", "i4"}, object_sst("m", 6, 14))),
            ApplyOutcome::kNotOldestInline);
  SstMeta short_count = object_sst("m", 6, 9);
  short_count.num_entries = 3;
  EXPECT_EQ(*apply_entry(&s, materialize(13, {"i1", "i2"}, short_count)),
            ApplyOutcome::kMalformed);
  EXPECT_EQ(*apply_entry(&s, materialize(14, {"i1", "i2"}, object_sst("m", 6, 10))),
            ApplyOutcome::kMalformed);
  EXPECT_EQ(*apply_entry(&s, materialize(15, {}, object_sst("m", 6, 9))), ApplyOutcome::kMalformed);
  EXPECT_EQ(*apply_entry(&s, materialize(16, {"i1", "i2"}, inline_sst("m", 6, 9))),
            ApplyOutcome::kMalformed);
  EXPECT_EQ(*apply_entry(&s, materialize(17, {"i1", "i2"}, object_sst("o1", 6, 9))),
            ApplyOutcome::kDuplicateSst);
  EXPECT_EQ(*apply_entry(&s, materialize(18, {"i1", "i2"}, object_sst("m", 6, 9), 2)),
            ApplyOutcome::kStaleEpoch);
  LogEntry by_compactor = materialize(19, {"i1", "i2"}, object_sst("m", 6, 9));
  by_compactor.role = Role::kCompactor;
  EXPECT_EQ(*apply_entry(&s, by_compactor), ApplyOutcome::kWrongRole);
  // A compaction may not take an inline SST as input.
  LogEntry comp;
  comp.pos = 20;
  comp.role = Role::kCompactor;
  comp.epoch = 1;
  comp.op = LogOp::kCompaction;
  comp.inputs = {"i1"};
  comp.added = {object_sst("r", 6, 8)};
  comp.run_id = "run";
  EXPECT_EQ(*apply_entry(&s, comp), ApplyOutcome::kInputsGone);

  const ManifestState before = s;
  ASSERT_EQ(*apply_entry(&s, materialize(21, {"i1", "i2"}, object_sst("m", 6, 9))),
            ApplyOutcome::kApplied);
  ASSERT_EQ(s.inline_ssts.size(), 1u);
  EXPECT_EQ(s.inline_ssts[0].id, "i3");
  ASSERT_EQ(s.l0.size(), 2u);
  EXPECT_EQ(s.l0.back().id, "m");
  EXPECT_EQ(s.data_seq, before.data_seq) << "materialize moves no sequence";
  EXPECT_EQ(s.last_seq, before.last_seq);
  EXPECT_EQ(*apply_entry(&s, add(22, object_sst("o2", 15, 20))), ApplyOutcome::kInlinePending);
  ASSERT_EQ(*apply_entry(&s, materialize(23, {"i3"}, object_sst("m2", 10, 14))),
            ApplyOutcome::kApplied);
  EXPECT_TRUE(s.inline_ssts.empty());
  EXPECT_EQ(*apply_entry(&s, add(24, object_sst("o2", 15, 20))), ApplyOutcome::kApplied);
  EXPECT_EQ(s.l0.size(), 4u);
}

// One add_sstable may not mix an inline SST with anything else: checked
// against the state before the entry, [inline I, object S] would pass while
// nothing is pending and put S in L0 with sequences above I's.
TEST(ManifestInlineReplay, AnAddWithAnInlineSstCarriesOnlyThatSst) {
  ManifestState s;
  ASSERT_EQ(*apply_entry(&s, claim(1, Role::kWriter, 1)), ApplyOutcome::kApplied);
  LogEntry mixed = add(2, inline_sst("i", 1, 2));
  mixed.added.push_back(object_sst("o", 3, 4));
  mixed.last_seq = 4;
  EXPECT_EQ(*apply_entry(&s, mixed), ApplyOutcome::kMalformed);
  LogEntry two_inline = add(3, inline_sst("i", 1, 2));
  two_inline.added.push_back(inline_sst("j", 3, 4));
  EXPECT_EQ(*apply_entry(&s, two_inline), ApplyOutcome::kMalformed);
  EXPECT_TRUE(s.l0.empty());
  EXPECT_TRUE(s.inline_ssts.empty());
  // Two SST objects in one add stay allowed.
  LogEntry two_objects = add(4, object_sst("o", 1, 2));
  two_objects.added.push_back(object_sst("p", 3, 4));
  EXPECT_EQ(*apply_entry(&s, two_objects), ApplyOutcome::kApplied);
}

// A materialized SST must name every blob its inline inputs reference, or
// the garbage collector would delete a blob that live data still needs.
TEST(ManifestInlineReplay, MaterializeMustKeepEveryInputBlob) {
  ManifestState s;
  ASSERT_EQ(*apply_entry(&s, claim(1, Role::kWriter, 1)), ApplyOutcome::kApplied);
  SstMeta i1 = inline_sst("i1", 1, 2);
  i1.blobs = {std::string(64, 'b')};
  SstMeta i2 = inline_sst("i2", 3, 4);
  i2.blobs = {std::string(64, 'c'), std::string(64, 'd')};
  ASSERT_EQ(*apply_entry(&s, add(2, i1)), ApplyOutcome::kApplied);
  ASSERT_EQ(*apply_entry(&s, add(3, i2)), ApplyOutcome::kApplied);
  SstMeta out = object_sst("m", 1, 4);
  out.blobs = {std::string(64, 'b'), std::string(64, 'c')};  // 'd' is missing
  EXPECT_EQ(*apply_entry(&s, materialize(4, {"i1", "i2"}, out)), ApplyOutcome::kMalformed);
  EXPECT_EQ(s.inline_ssts.size(), 2u);
  out.blobs = {std::string(64, 'd'), std::string(64, 'c'), std::string(64, 'b')};
  EXPECT_EQ(*apply_entry(&s, materialize(5, {"i1", "i2"}, out)), ApplyOutcome::kApplied);
}

TEST(ManifestInlineReplay, LsnRangesCoverInlineSsts) {
  ManifestState s;
  ASSERT_EQ(*apply_entry(&s, claim(1, Role::kWriter, 1)), ApplyOutcome::kApplied);
  SstMeta o = object_sst("o", 1, 2);
  o.min_lsn = 10;
  o.max_lsn = 20;
  SstMeta i = inline_sst("i", 3, 4);
  i.min_lsn = 21;
  i.max_lsn = 30;
  ASSERT_EQ(*apply_entry(&s, add(2, o)), ApplyOutcome::kApplied);
  ASSERT_EQ(*apply_entry(&s, add(3, i)), ApplyOutcome::kApplied);
  EXPECT_EQ(s.max_committed_lsn(), 30u);
  EXPECT_EQ(s.low_watermark_lsn(), 10u);
}

ManifestLogOptions fast() {
  ManifestLogOptions o;
  o.retry_backoff = std::chrono::milliseconds(0);
  return o;
}

TEST(ManifestInlineLog, InlineEntriesReplayFromLogAndSnapshotAndTamperingIsRefused) {
  auto mem = std::make_shared<MemStore>();
  auto storage = object_store_manifest_storage(mem);
  ManifestLog w(storage, fast());
  ASSERT_TRUE(w.open().ok());
  ASSERT_TRUE(w.claim(Role::kWriter, "w").ok());
  LogEntry e = add(0, inline_sst("i1", 1, 3));
  auto p1 = w.append(e);
  ASSERT_TRUE(p1.ok()) << p1.status().to_string();
  ASSERT_TRUE(w.write_snapshot().ok());
  auto p2 = w.append(add(0, inline_sst("i2", 4, 6)));
  ASSERT_TRUE(p2.ok()) << p2.status().to_string();

  ManifestLog r(storage, fast());
  ASSERT_TRUE(r.open().ok());
  EXPECT_EQ(r.stats().snapshot_loads, 1u);
  ASSERT_EQ(r.state().inline_ssts.size(), 2u);
  EXPECT_EQ(r.state().inline_ssts, w.state().inline_ssts);
  EXPECT_EQ(*r.state().inline_ssts[0].inline_data.bytes, *e.added[0].inline_data.bytes);

  // A tampered inline entry: refused with Corruption naming the object;
  // the state already read is kept.
  auto p3 = w.append(add(0, inline_sst("i3", 7, 9)));
  ASSERT_TRUE(p3.ok());
  auto obj = mem->get(log_key(*p3));
  ASSERT_TRUE(obj.ok());
  std::string bad = obj->data;
  const std::string data = base64_encode(*inline_sst("i3", 7, 9).inline_data.bytes);
  std::string other = *inline_sst("i3", 7, 9).inline_data.bytes;
  other[0] ^= 1;
  bad.replace(bad.find(data), data.size(), base64_encode(other));
  ASSERT_TRUE(mem->put(log_key(*p3), bad, PutOptions::overwrite()).ok());
  const ManifestState kept = r.state();
  auto ref = r.refresh();
  ASSERT_FALSE(ref.ok());
  EXPECT_EQ(ref.status().code(), Code::kCorruption);
  EXPECT_NE(ref.status().message().find(log_key(*p3)), std::string::npos)
      << ref.status().to_string();
  EXPECT_EQ(r.state(), kept);
}

// ManifestLogOptions::max_inline_bytes (a reader's ReaderOptions::
// max_inline_bytes): an entry or snapshot that would put more inline bytes
// in memory is refused with Backpressure before its bytes are kept, and
// the state stays as it was; a log without a limit (the writer's) takes it.
TEST(ManifestInlineLog, AnInlineLimitRefusesEntriesAndSnapshotsBeforeKeepingTheirBytes) {
  auto mem = std::make_shared<MemStore>();
  auto storage = object_store_manifest_storage(mem);
  ManifestLog w(storage, fast());
  ASSERT_TRUE(w.open().ok());
  ASSERT_TRUE(w.claim(Role::kWriter, "w").ok());
  const SstMeta i1 = inline_sst("i1", 1, 3, std::string(100, 'a'));
  const SstMeta i2 = inline_sst("i2", 4, 6, std::string(100, 'b'));
  ASSERT_TRUE(w.append(add(0, i1)).ok());
  const uint64_t after_i1 = w.state().next_pos;
  ASSERT_TRUE(w.append(add(0, i2)).ok());
  EXPECT_EQ(w.state().inline_bytes(), 200u);

  ManifestLogOptions limited = fast();
  limited.max_inline_bytes = 150;
  ManifestLog r(storage, limited);
  Status s = r.open();
  EXPECT_EQ(s.code(), Code::kBackpressure) << s.to_string();
  EXPECT_NE(s.message().find("ReaderOptions::max_inline_bytes"), std::string::npos)
      << s.to_string();
  EXPECT_EQ(r.state().next_pos, after_i1) << "stops before the entry over the limit";
  EXPECT_EQ(r.state().inline_bytes(), 100u);
  auto again = r.refresh();
  EXPECT_EQ(again.status().code(), Code::kBackpressure);
  EXPECT_EQ(r.state().next_pos, after_i1);

  // A snapshot over the limit is refused too, before its inline data is
  // decoded; the state is kept.
  ASSERT_TRUE(w.write_snapshot().ok());
  ManifestLog r2(storage, limited);
  Status s2 = r2.open();
  EXPECT_EQ(s2.code(), Code::kBackpressure) << s2.to_string();
  EXPECT_TRUE(r2.state().inline_ssts.empty());
  auto direct = decode_snapshot(encode_snapshot(w.state()), "snap", 150);
  EXPECT_EQ(direct.status().code(), Code::kBackpressure);
  EXPECT_TRUE(decode_snapshot(encode_snapshot(w.state()), "snap", 200).ok());

  // Under the limit (or with none) the same log and snapshot load.
  limited.max_inline_bytes = 200;
  ManifestLog r3(storage, limited);
  EXPECT_TRUE(r3.open().ok());
  EXPECT_EQ(r3.state().inline_bytes(), 200u);
}

}  // namespace
}  // namespace isle
