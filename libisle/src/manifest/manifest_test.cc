// Manifest tests: codec round trips and corruption, replay rules, claims
// and appends under contention, unknown outcomes, the lease rule, and
// snapshots.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "manifest/manifest_codec.h"
#include "manifest/manifest_log.h"
#include "manifest/manifest_state.h"
#include "store/fault_store.h"
#include "store/mem_store.h"
#include "testutil/testutil.h"

namespace isle {
namespace {

SstMeta sst(std::string id, uint64_t lo, uint64_t hi) {
  SstMeta m;
  m.id = std::move(id);
  m.size = 100;
  m.sha256 = std::string(64, 'a');
  m.min_key = std::string("a\0b", 3);
  m.max_key = "\xff\xfe";
  m.seq_lo = lo;
  m.seq_hi = hi;
  m.num_entries = hi - lo + 1;
  return m;
}

LogEntry add_entry(uint64_t pos, uint64_t epoch, SstMeta m) {
  LogEntry e;
  e.pos = pos;
  e.role = Role::kWriter;
  e.epoch = epoch;
  e.owner = "w";
  e.commit_id = "c" + std::to_string(pos);
  e.op = LogOp::kAddSstable;
  e.last_seq = m.seq_hi;
  e.added.push_back(std::move(m));
  return e;
}

LogEntry claim_entry(uint64_t pos, Role r, uint64_t epoch) {
  LogEntry e;
  e.pos = pos;
  e.role = r;
  e.epoch = epoch;
  e.owner = "o" + std::to_string(epoch);
  e.commit_id = "claim" + std::to_string(pos);
  e.op = LogOp::kFenceClaim;
  return e;
}

TEST(ManifestCodec, EntryRoundTrip) {
  LogEntry e = add_entry(7, 3, sst("s1", 10, 20));
  e.added[0].blobs = {"ab12"};
  e.added[0].sig = "00ff";
  e.added[0].sig_key_id = "k";
  e.added[0].max_lsn = 99;
  e.seq_reserved = 1000;
  auto d = decode_entry(encode_entry(e), "x");
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(*d, e);

  LogEntry c;
  c.pos = 9;
  c.role = Role::kCompactor;
  c.epoch = 1;
  c.op = LogOp::kCompaction;
  c.inputs = {"a", "b"};
  c.added = {sst("o1", 1, 5), sst("o2", 6, 9)};
  c.run_id = "r1";
  auto dc = decode_entry(encode_entry(c), "x");
  ASSERT_TRUE(dc.ok()) << dc.status().to_string();
  EXPECT_EQ(*dc, c);
}

TEST(ManifestCodec, OptionalFieldsRoundTripOnTheirOwn) {
  // Found by isle_manifest_fuzz: a key id without a signature was dropped
  // on re-encoding (snapshots re-encode what replay decoded).
  const std::string input = "{\"commit_id\":\"dddddddddddddddddddddddddddddddd\",\"epoch\":1,\"format\":1,\"last_seq\":0,\"op\":\"add_sstable\",\"owner\":\"host:1:abc\",\"role\":\"writer\",\"seq\":1,\"seq_reserved\":100,\"sstable\":{\"blobs\":[\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"],\"id\":\"0123456789abcdef\",\"level\":0,\"max_key\":\"eno=\",\"max_lsn\":7,\"max_write_ms\":5,\"min_key\":\"YQBi\",\"min_lsn\":5,\"min_write_ms\":0,\"num_deletes\":0,\"num_entries\":0,\"seq_hi\":9,\"seq_lo\":1,\"sha256\":\"aaaaaaaaaaaaaaccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\",\"sig_key_id\":\"0011223344556677\",\"size\":4096},\"ts\":0}";
  auto d = decode_entry(input, "fuzz");
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  auto again = decode_entry(encode_entry(*d), "again");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *d);
}

TEST(ManifestCodec, SnapshotAndCurrentRoundTrip) {
  ManifestState s;
  ASSERT_TRUE(apply_entry(&s, claim_entry(1, Role::kWriter, 1)).ok());
  ASSERT_TRUE(apply_entry(&s, add_entry(2, 1, sst("a", 1, 3))).ok());
  s.runs.push_back(SortedRun{"r", {sst("b", 0, 0)}});
  auto d = decode_snapshot(encode_snapshot(s), "snap");
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  d->log_seq_start = s.log_seq_start;
  EXPECT_EQ(d->next_pos, s.next_pos);
  EXPECT_EQ(d->l0, s.l0);
  EXPECT_EQ(d->runs, s.runs);
  EXPECT_EQ(d->fences, s.fences);
  EXPECT_EQ(d->last_seq, s.last_seq);
  EXPECT_EQ(d->data_seq, 3u);
  EXPECT_EQ(d->writer_claims, s.writer_claims);
  EXPECT_FALSE(d->writer_claims_trimmed);
  EXPECT_EQ(*d, s) << "every field survives a snapshot";

  CurrentPointer c;
  c.snapshot_pos = 5;
  c.log_seq_start = 5;
  c.next_seq_hint = 9;
  c.fences[1].epoch = 4;
  c.fences[1].owner = "x";
  c.low_watermark_lsn = 3;
  auto dc = decode_current(encode_current(c), "CURRENT");
  ASSERT_TRUE(dc.ok()) << dc.status().to_string();
  EXPECT_EQ(*dc, c);
}

TEST(ManifestReplay, WriterClaimsAndDataSeqServeTheChangeFeed) {
  ManifestState s;
  ASSERT_TRUE(apply_entry(&s, claim_entry(1, Role::kWriter, 1)).ok());
  LogEntry a = add_entry(2, 1, sst("a", 1, 5));
  a.seq_reserved = 100;  // reserved sequences are not data
  ASSERT_TRUE(apply_entry(&s, a).ok());
  ASSERT_TRUE(apply_entry(&s, claim_entry(3, Role::kCompactor, 1)).ok());
  ASSERT_TRUE(apply_entry(&s, claim_entry(4, Role::kWriter, 2)).ok());
  ASSERT_EQ(*apply_entry(&s, add_entry(5, 1, sst("z", 50, 60))), ApplyOutcome::kStaleEpoch);
  ASSERT_TRUE(apply_entry(&s, add_entry(6, 2, sst("b", 101, 110))).ok());
  EXPECT_EQ(s.data_seq, 110u);
  EXPECT_EQ(s.seq_reserved, 100u);
  EXPECT_EQ(s.writer_claims, (std::vector<WriterClaim>{{1, 1}, {4, 2}}));
  // The claim at a position decides from the next position on.
  EXPECT_EQ(s.writer_epoch_at(1), 0u);
  EXPECT_EQ(s.writer_epoch_at(2), 1u);
  EXPECT_EQ(s.writer_epoch_at(4), 1u);
  EXPECT_EQ(s.writer_epoch_at(5), 2u);
  EXPECT_EQ(s.writer_epoch_at(6), 2u);

  // Only the newest claims are kept; older positions become unknown.
  ManifestState many;
  for (uint64_t i = 1; i <= ManifestState::kMaxWriterClaims + 5; i++) {
    ASSERT_TRUE(apply_entry(&many, claim_entry(i, Role::kWriter, i)).ok());
  }
  EXPECT_EQ(many.writer_claims.size(), ManifestState::kMaxWriterClaims);
  EXPECT_TRUE(many.writer_claims_trimmed);
  EXPECT_EQ(many.writer_epoch_at(3), std::nullopt);
  EXPECT_EQ(many.writer_epoch_at(ManifestState::kMaxWriterClaims + 5), ManifestState::kMaxWriterClaims + 4);

  // A snapshot from before claims were recorded: the history is unknown.
  auto old = decode_snapshot(R"({"format":1,"next_seq":7,"log_seq_start":7,"fences":{},"l0":[],)"
                             R"("runs":[],"last_seq":3})", "old");
  ASSERT_TRUE(old.ok()) << old.status().to_string();
  EXPECT_TRUE(old->writer_claims_trimmed);
  EXPECT_EQ(old->writer_epoch_at(5), std::nullopt);
  auto bad = decode_snapshot(R"({"format":1,"next_seq":7,"log_seq_start":7,"fences":{},"l0":[],)"
                             R"("runs":[],"last_seq":3,"writer_claims":[{"seq":9,"epoch":1}]})", "bad");
  EXPECT_TRUE(bad.status().is_corruption()) << "a claim at or past next_seq";
}

TEST(ManifestCodec, BadInputIsCorruptionNeverACrash) {
  const std::string good = encode_entry(add_entry(1, 1, sst("s", 1, 2)));
  for (const char* bad : {"", "{", "[]", "null", "{\"seq\":1}", "{\"seq\":-1,\"role\":\"writer\"}"}) {
    auto d = decode_entry(bad, "log/1");
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.status().code(), Code::kCorruption) << bad;
  }
  // Every truncation and every single-byte change either decodes or is a
  // clean Corruption.
  for (size_t i = 0; i < good.size(); i++) {
    auto t = decode_entry(good.substr(0, i), "t");
    EXPECT_FALSE(t.ok());
    std::string m = good;
    m[i] = static_cast<char>(m[i] ^ 0x5a);
    auto r = decode_entry(m, "m");
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kCorruption) << r.status().to_string();
    }
  }
  auto unknown_role = decode_entry(
      R"({"seq":1,"role":"boss","epoch":1,"owner":"","ts":0,"commit_id":"","op":"fence_claim","seq_floor":0})",
      "x");
  EXPECT_EQ(unknown_role.status().code(), Code::kCorruption);
  EXPECT_NE(unknown_role.status().message().find("boss"), std::string::npos);
  // Bytes that are not UTF-8 inside a string are refused at decode time, so
  // nothing we decoded can later fail to re-encode (snapshots do that).
  auto bad_utf8 = decode_entry(
      "{\"seq\":1,\"role\":\"writer\",\"epoch\":1,\"owner\":\"\xff\xfe\",\"ts\":0,"
      "\"commit_id\":\"\",\"op\":\"fence_claim\",\"seq_floor\":0}",
      "x");
  EXPECT_EQ(bad_utf8.status().code(), Code::kCorruption);
  auto future = decode_current(R"({"format":9,"log_seq_start":1,"fences":{}})", "CURRENT");
  EXPECT_EQ(future.status().code(), Code::kNotSupported);
}

TEST(ManifestReplay, EpochRulesPerRole) {
  ManifestState s;
  EXPECT_EQ(*apply_entry(&s, add_entry(1, 1, sst("x", 1, 1))), ApplyOutcome::kStaleEpoch);
  EXPECT_EQ(*apply_entry(&s, claim_entry(2, Role::kWriter, 1)), ApplyOutcome::kApplied);
  EXPECT_EQ(*apply_entry(&s, claim_entry(3, Role::kCompactor, 1)), ApplyOutcome::kApplied);
  EXPECT_EQ(*apply_entry(&s, claim_entry(4, Role::kRetention, 1)), ApplyOutcome::kApplied);
  // The three fences are independent: writer epoch 1 still valid.
  EXPECT_EQ(*apply_entry(&s, add_entry(5, 1, sst("a", 1, 5))), ApplyOutcome::kApplied);
  EXPECT_EQ(*apply_entry(&s, claim_entry(6, Role::kWriter, 2)), ApplyOutcome::kApplied);
  // The old writer's late entry is skipped.
  EXPECT_EQ(*apply_entry(&s, add_entry(7, 1, sst("b", 6, 9))), ApplyOutcome::kStaleEpoch);
  // A claim that is not newer is skipped.
  EXPECT_EQ(*apply_entry(&s, claim_entry(8, Role::kWriter, 2)), ApplyOutcome::kStaleEpoch);
  EXPECT_EQ(*apply_entry(&s, add_entry(9, 2, sst("a", 1, 5))), ApplyOutcome::kDuplicateSst);
  EXPECT_EQ(*apply_entry(&s, add_entry(10, 2, sst("c", 10, 12))), ApplyOutcome::kApplied);
  ASSERT_EQ(s.l0.size(), 2u);
  EXPECT_EQ(s.last_seq, 12u);
  EXPECT_EQ(s.next_pos, 11u);

  // Compaction by the compactor, with live inputs only.
  LogEntry comp;
  comp.pos = 11;
  comp.role = Role::kCompactor;
  comp.epoch = 1;
  comp.op = LogOp::kCompaction;
  comp.inputs = {"a", "c"};
  comp.added = {sst("r1", 1, 12)};
  comp.run_id = "run1";
  EXPECT_EQ(*apply_entry(&s, comp), ApplyOutcome::kApplied);
  EXPECT_TRUE(s.l0.empty());
  ASSERT_EQ(s.runs.size(), 1u);
  comp.pos = 12;
  EXPECT_EQ(*apply_entry(&s, comp), ApplyOutcome::kInputsGone);
  // A writer may not compact.
  comp.pos = 13;
  comp.role = Role::kWriter;
  comp.epoch = 2;
  comp.inputs = {"r1"};
  EXPECT_EQ(*apply_entry(&s, comp), ApplyOutcome::kWrongRole);
  // Wrong position is corruption.
  EXPECT_EQ(apply_entry(&s, add_entry(99, 2, sst("z", 1, 1))).status().code(), Code::kCorruption);
}

// --- ManifestLog over a store -------------------------------------------------

struct Env {
  std::shared_ptr<MemStore> mem = std::make_shared<MemStore>();
  std::shared_ptr<FaultStore> fault = std::make_shared<FaultStore>(mem, 7);
  ManifestStoragePtr storage = object_store_manifest_storage(fault);
};

ManifestLogOptions fast_options(Clock* clock = nullptr) {
  ManifestLogOptions o;
  o.clock = clock;
  o.retry_backoff = std::chrono::milliseconds(0);
  return o;
}

TEST(ManifestLog, OpenEmptyClaimAppendReopen) {
  Env env;
  ManifestLog log(env.storage, fast_options());
  ASSERT_TRUE(log.open().ok());
  EXPECT_EQ(log.state().next_pos, 1u);
  ASSERT_TRUE(log.claim(Role::kWriter, "w1").ok());
  EXPECT_EQ(log.epoch(), 1u);
  LogEntry e;
  e.op = LogOp::kAddSstable;
  e.added = {sst("s1", 1, 10)};
  e.last_seq = 10;
  auto pos = log.append(e);
  ASSERT_TRUE(pos.ok()) << pos.status().to_string();
  EXPECT_EQ(*pos, 2u);

  ManifestLog reader(env.storage, fast_options());
  ASSERT_TRUE(reader.open().ok());
  EXPECT_EQ(reader.state().l0.size(), 1u);
  EXPECT_EQ(reader.state().last_seq, 10u);
  EXPECT_EQ(reader.state(), log.state());
}

TEST(ManifestLog, SecondClaimFencesFirst) {
  Env env;
  ManifestLog a(env.storage, fast_options()), b(env.storage, fast_options());
  ASSERT_TRUE(a.open().ok());
  ASSERT_TRUE(b.open().ok());
  ASSERT_TRUE(a.claim(Role::kWriter, "a").ok());
  ASSERT_TRUE(b.claim(Role::kWriter, "b").ok());
  EXPECT_EQ(b.epoch(), 2u);
  LogEntry e;
  e.op = LogOp::kAddSstable;
  e.added = {sst("from-a", 1, 1)};
  auto r = a.append(e);
  EXPECT_EQ(r.status().code(), Code::kFenced) << r.status().to_string();
  EXPECT_TRUE(a.fenced());
  ManifestLog reader(env.storage, fast_options());
  ASSERT_TRUE(reader.open().ok());
  EXPECT_TRUE(reader.state().l0.empty());
  // Other roles are untouched by writer claims.
  ManifestLog c(env.storage, fast_options());
  ASSERT_TRUE(c.open().ok());
  ASSERT_TRUE(c.claim(Role::kCompactor, "c").ok());
  e.added = {sst("from-b", 1, 1)};
  EXPECT_TRUE(b.append(e).ok());
}

TEST(ManifestLog, ConcurrentAppendersNeverLoseOrDuplicate) {
  // Three roles append concurrently; every append lands exactly once.
  Env env;
  constexpr int kPer = 40;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int r = 0; r < 3; r++) {
    threads.emplace_back([&, r] {
      ManifestLog log(env.storage, fast_options());
      if (!log.open().ok() || !log.claim(static_cast<Role>(r), "t" + std::to_string(r)).ok()) {
        failures++;
        return;
      }
      for (int i = 0; i < kPer; i++) {
        LogEntry e;
        e.op = LogOp::kCheckpoint;
        if (!log.append(e).ok()) failures++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  ManifestLog reader(env.storage, fast_options());
  ASSERT_TRUE(reader.open().ok());
  EXPECT_EQ(reader.state().next_pos, 1u + 3 + 3 * kPer);
  EXPECT_EQ(reader.state().entries_skipped, 0u);
}

TEST(ManifestLog, LostResponseIsResolvedByReadingBack) {
  Env env;
  ManifestLog log(env.storage, fast_options());
  ASSERT_TRUE(log.open().ok());
  ASSERT_TRUE(log.claim(Role::kWriter, "w").ok());
  // The create lands, but its response is lost.
  env.fault->add_rule(FaultRule::on(StoreOp::kPut).key_prefix("manifest/log/").lose_response().times(1));
  LogEntry e;
  e.op = LogOp::kAddSstable;
  e.added = {sst("s", 1, 1)};
  auto pos = log.append(e);
  ASSERT_TRUE(pos.ok()) << pos.status().to_string();
  // Failed before applying: retried at the same position.
  env.fault->add_rule(FaultRule::on(StoreOp::kPut).key_prefix("manifest/log/").fail(Status::UnknownOutcome("x")).times(1));
  e.added = {sst("t", 2, 2)};
  auto pos2 = log.append(e);
  ASSERT_TRUE(pos2.ok()) << pos2.status().to_string();
  EXPECT_EQ(*pos2, *pos + 1);
  ManifestLog reader(env.storage, fast_options());
  ASSERT_TRUE(reader.open().ok());
  EXPECT_EQ(reader.state().l0.size(), 2u);
  EXPECT_EQ(reader.state().entries_skipped, 0u);
}

// Everything B does in the zombie tests: take over, commit, snapshot (so
// CURRENT moves past A's position), then let the grace period pass and
// collect the log below log_seq_start, as GC would.
void take_over_and_collect(Env& env, ManualClock& clock, const ManifestLogOptions& opts,
                           Role role = Role::kWriter) {
  ManifestLog b(object_store_manifest_storage(env.mem), opts);
  ASSERT_TRUE(b.open().ok());
  ASSERT_TRUE(b.claim(role, "b").ok());
  LogEntry e;
  e.op = LogOp::kAddSstable;
  e.added = {sst("b1", 1, 5)};
  if (role == Role::kWriter) {
    ASSERT_TRUE(b.append(e).ok());
  }
  ASSERT_TRUE(b.write_snapshot().ok());
  clock.advance_ms(60'000);  // past the grace period (the tests' opts.grace)
  for (uint64_t p = 1; p < b.known_log_seq_start(); p++) {
    Status rm = env.mem->remove(log_key(p));
    ASSERT_TRUE(rm.ok());
  }
}

void expect_only_b_visible(Env& env, const ManifestLogOptions& opts) {
  ManifestLog reader(object_store_manifest_storage(env.mem), opts);
  ASSERT_TRUE(reader.open().ok());
  ASSERT_EQ(reader.state().l0.size(), 1u);
  EXPECT_EQ(reader.state().l0[0].id, "b1");
}

TEST(ManifestLog, ZombieAfterCollectionIsFencedBeforeCreating) {
  // Timeline: A claims (epoch 1) and stalls. B takes over, commits,
  // snapshots, and GC collects the old log. A wakes with an expired lease:
  // it re-reads CURRENT before creating, reloads and sees B's claim.
  Env env;
  ManualClock clock;
  ManifestLogOptions opts = fast_options(&clock);
  opts.lease = std::chrono::milliseconds(1000);
  ManifestLog a(env.storage, opts);
  ASSERT_TRUE(a.open().ok());
  ASSERT_TRUE(a.claim(Role::kWriter, "a").ok());
  take_over_and_collect(env, clock, opts);
  LogEntry e;
  e.op = LogOp::kAddSstable;
  e.added = {sst("zombie", 1, 5)};
  auto r = a.append(e);
  EXPECT_EQ(r.status().code(), Code::kFenced) << r.status().to_string();
  expect_only_b_visible(env, opts);
}

// Writer A claims, then its create of its next position stalls in flight
// while `takeover_role` takes over and collects the log (see
// take_over_and_collect); then A's create lands. Returns A's append result.
Result<uint64_t> stalled_create(Env& env, ManualClock& clock, const ManifestLogOptions& opts,
                                Role takeover_role) {
  ManifestLog a(env.storage, opts);
  if (Status s = a.open(); !s.ok()) return s;
  if (Status s = a.claim(Role::kWriter, "a"); !s.ok()) return s;
  const std::string a_key = log_key(a.state().next_pos);
  bool stalled = false;
  env.fault->add_rule(FaultRule::on(StoreOp::kPut).key_equals(a_key).when([&](const FaultContext&) {
    if (!stalled) {
      stalled = true;
      take_over_and_collect(env, clock, opts, takeover_role);  // on the inner store
    }
    return false;  // then let A's create through
  }));
  LogEntry e;
  e.op = LogOp::kAddSstable;
  e.added = {sst("zombie", 1, 5)};
  auto r = a.append(e);
  EXPECT_TRUE(stalled);
  EXPECT_TRUE(env.mem->get(a_key).ok()) << "the zombie's create did land";
  return r;
}

TEST(ManifestLog, ZombieStallingInsideTheCreateCannotBelieveItCommitted) {
  // Timeline:
  //   t0  A claims (epoch 1); its lease is fresh; it sends the create of
  //       its next position...
  //   t1  ...which stalls in flight. Meanwhile B takes over, commits,
  //       snapshots (log_seq_start moves past A's position) and, after the
  //       grace period, GC deletes the old log entries.
  //   t2  A's create lands on the now-free name and succeeds. A's lease
  //       has run out, so it re-reads CURRENT, sees log_seq_start beyond
  //       its entry and reports Fenced, never success.
  Env env;
  ManualClock clock;
  ManifestLogOptions opts = fast_options(&clock);
  opts.lease = std::chrono::milliseconds(1000);
  opts.grace = std::chrono::seconds(30);  // take_over_and_collect waits 60 s
  auto r = stalled_create(env, clock, opts, Role::kWriter);
  EXPECT_EQ(r.status().code(), Code::kFenced) << r.status().to_string();
  expect_only_b_visible(env, opts);
}

TEST(ManifestLog, ASnapshotRightAfterAStalledCreateIsACommit) {
  // As above, but the old names are not collected: B snapshots past A's
  // position right after A's create landed, within a grace of A's last
  // CURRENT read. The snapshot replayed A's entry (replay cannot pass a
  // missing position), so A committed, and must say so.
  Env env;
  ManualClock clock;
  ManifestLogOptions opts = fast_options(&clock);
  opts.lease = std::chrono::milliseconds(1000);
  ManifestLog a(env.storage, opts);
  ASSERT_TRUE(a.open().ok());
  ASSERT_TRUE(a.claim(Role::kWriter, "a").ok());
  const std::string a_key = log_key(a.state().next_pos);
  bool created = false, snapshotted = false;
  env.fault->add_rule(FaultRule::on_any().when([&](const FaultContext& ctx) {
    if (ctx.op == StoreOp::kPut && ctx.key == a_key) {
      created = true;
      clock.advance_ms(2'000);  // the create outlasts A's lease
    } else if (created && !snapshotted && ctx.op == StoreOp::kGet && ctx.key == kCurrentKey) {
      snapshotted = true;  // A's lease re-read: first, a compactor snapshots
      ManifestLog b(object_store_manifest_storage(env.mem), opts);
      EXPECT_TRUE(b.open().ok());
      EXPECT_TRUE(b.claim(Role::kCompactor, "b").ok());
      EXPECT_TRUE(b.write_snapshot().ok());
    }
    return false;
  }));
  LogEntry e;
  e.op = LogOp::kAddSstable;
  e.added = {sst("a1", 1, 5)};
  auto r = a.append(e);
  ASSERT_TRUE(snapshotted);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_FALSE(a.fenced());
  ManifestLog reader(object_store_manifest_storage(env.mem), opts);
  ASSERT_TRUE(reader.open().ok());
  EXPECT_GT(reader.state().log_seq_start, *r) << "the snapshot passed A's entry";
  ASSERT_EQ(reader.state().l0.size(), 1u);
  EXPECT_EQ(reader.state().l0[0].id, "a1");
}

TEST(ManifestLog, CreateLandingBelowLogSeqStartIsNotACommit) {
  // As above, but nobody takes the writer role: a compactor's snapshot
  // moves log_seq_start past A's position while A's create is in flight,
  // and GC collects the old names. No fence changed, so only the
  // log_seq_start half of the lease rule can tell A its entry is lost.
  Env env;
  ManualClock clock;
  ManifestLogOptions opts = fast_options(&clock);
  opts.lease = std::chrono::milliseconds(1000);
  opts.grace = std::chrono::seconds(30);  // take_over_and_collect waits 60 s
  auto r = stalled_create(env, clock, opts, Role::kCompactor);
  EXPECT_EQ(r.status().code(), Code::kFenced) << r.status().to_string();
  ManifestLog reader(object_store_manifest_storage(env.mem), opts);
  ASSERT_TRUE(reader.open().ok());
  EXPECT_TRUE(reader.state().l0.empty());
}

TEST(ManifestLog, SnapshotsBoundOpenCost) {
  Env env;
  ManifestLog w(env.storage, fast_options());
  ASSERT_TRUE(w.open().ok());
  ASSERT_TRUE(w.claim(Role::kWriter, "w").ok());
  for (int i = 0; i < 300; i++) {
    LogEntry e;
    e.op = LogOp::kAddSstable;
    e.added = {sst("s" + std::to_string(i), i * 10 + 1, i * 10 + 10)};
    ASSERT_TRUE(w.append(e).ok());
    if (i % 50 == 49) {
      ASSERT_TRUE(w.write_snapshot().ok());
    }
  }
  ManifestLog r(env.storage, fast_options());
  ASSERT_TRUE(r.open().ok());
  EXPECT_EQ(r.state().l0, w.state().l0);
  EXPECT_EQ(r.stats().current_reads, 1u);
  EXPECT_EQ(r.stats().snapshot_loads, 1u);
  EXPECT_LE(r.stats().log_reads, 2u + 1u);  // checkpoint entry + tail + the 404
}

}  // namespace
}  // namespace isle

namespace isle {
namespace {

TEST(ManifestLogCurrent, LeaseRereadsOfAnUnchangedCurrentAreConditional) {
  Env env;
  ManualClock clock;
  ManifestLogOptions opts = fast_options(&clock);
  opts.lease = std::chrono::milliseconds(1000);
  ManifestLog w(env.storage, opts);
  ASSERT_TRUE(w.open().ok());
  ASSERT_TRUE(w.claim(Role::kWriter, "w").ok());  // creates CURRENT
  ManifestLog r(env.storage, opts);
  ASSERT_TRUE(r.open().ok());
  EXPECT_EQ(r.stats().current_reads, 1u);
  clock.advance_ms(1500);
  ASSERT_TRUE(r.refresh().ok());
  EXPECT_EQ(r.stats().current_reads, 2u);
  EXPECT_EQ(r.stats().current_not_modified, 1u);
  // A changed CURRENT is read in full and acted upon.
  ASSERT_TRUE(w.write_snapshot().ok());
  clock.advance_ms(1500);
  ASSERT_TRUE(r.refresh().ok());
  EXPECT_EQ(r.stats().current_not_modified, 1u);
  EXPECT_EQ(r.known_log_seq_start(), w.known_log_seq_start());
  EXPECT_EQ(r.state().fence(Role::kWriter).epoch, 1u);
}

}  // namespace
}  // namespace isle

namespace isle {
namespace {

TEST(ManifestLogClaims, OnlyWriterClaimsMoveTheDataSequence) {
  Env env;
  ManifestLog w(env.storage, fast_options());
  ASSERT_TRUE(w.open().ok());
  ASSERT_TRUE(w.claim(Role::kWriter, "w", 1000).ok());
  EXPECT_EQ(w.state().seq_reserved, 1000u);
  LogEntry e;
  e.op = LogOp::kAddSstable;
  e.added = {sst("s", 1, 5)};
  e.last_seq = 5;
  ASSERT_TRUE(w.append(e).ok());
  // A compactor's claim must not turn the writer's reservation into
  // "committed" sequences: last_seq means committed up to here.
  ManifestLog c(env.storage, fast_options());
  ASSERT_TRUE(c.open().ok());
  ASSERT_TRUE(c.claim(Role::kCompactor, "c").ok());
  EXPECT_EQ(c.state().last_seq, 5u);
  // A new writer continues above the old one's reservation.
  ManifestLog w2(env.storage, fast_options());
  ASSERT_TRUE(w2.open().ok());
  ASSERT_TRUE(w2.claim(Role::kWriter, "w2", 1000).ok());
  EXPECT_EQ(w2.state().last_seq, 1000u);
  EXPECT_EQ(w2.state().seq_reserved, 2000u);
}

}  // namespace
}  // namespace isle
