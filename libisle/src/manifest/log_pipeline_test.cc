// Several flushes in flight (docs/manifest-protocol.md, "Several flushes in
// flight"): the chain rule of replay, its encoding, and LogPipeline under
// contention, lost responses, transient errors, delayed copies and
// takeovers.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "manifest/log_pipeline.h"
#include "manifest/manifest_codec.h"
#include "manifest/manifest_log.h"
#include "manifest/manifest_state.h"
#include "manifest/manifest_test_util.h"
#include "store/fault_store.h"
#include "store/file_store.h"
#include "store/mem_store.h"
#include "testutil/testutil.h"
#include "util/random.h"

namespace isle {
namespace {

using testing::object_sst;

LogEntry writer_add(uint64_t pos, uint64_t epoch, SstMeta m, uint64_t prev, bool chained) {
  LogEntry e;
  e.pos = pos;
  e.role = Role::kWriter;
  e.epoch = epoch;
  e.owner = "w";
  e.commit_id = "c-" + m.id;
  e.op = LogOp::kAddSstable;
  e.last_seq = m.seq_hi;
  e.prev_data_seq = prev;
  e.chained = chained;
  e.added.push_back(std::move(m));
  return e;
}

LogEntry role_claim(uint64_t pos, Role r, uint64_t epoch) {
  LogEntry e;
  e.pos = pos;
  e.role = r;
  e.epoch = epoch;
  e.owner = "o";
  e.commit_id = "claim-" + std::to_string(pos);
  e.op = LogOp::kFenceClaim;
  return e;
}

LogEntry compaction(uint64_t pos, std::vector<std::string> inputs, SstMeta out) {
  LogEntry e;
  e.pos = pos;
  e.role = Role::kCompactor;
  e.epoch = 1;
  e.owner = "c";
  e.commit_id = "comp-" + std::to_string(pos);
  e.op = LogOp::kCompaction;
  e.inputs = std::move(inputs);
  e.run_id = "run-" + std::to_string(pos);
  out.level = 1;
  e.added.push_back(std::move(out));
  return e;
}

TEST(ChainRule, AChainedAddCountsOnlyDirectlyAfterTheDataItWasSentBehind) {
  ManifestState s;
  ASSERT_TRUE(apply_entry(&s, role_claim(1, Role::kWriter, 1)).ok());
  ASSERT_TRUE(apply_entry(&s, role_claim(2, Role::kCompactor, 1)).ok());
  // A (1..5) then B (6..9), sent together; a compaction lands between.
  EXPECT_EQ(*apply_entry(&s, writer_add(3, 1, object_sst("A", 1, 5), 0, true)),
            ApplyOutcome::kApplied);
  EXPECT_EQ(*apply_entry(&s, compaction(4, {"A"}, object_sst("A'", 1, 5))),
            ApplyOutcome::kApplied);
  EXPECT_EQ(*apply_entry(&s, writer_add(5, 1, object_sst("B", 6, 9), 5, true)),
            ApplyOutcome::kApplied) << "a compaction does not move data_seq";
  // C was sent behind a flush D (10..12) that lost its position: C lands,
  // but not directly after D's data, so nobody applies it.
  EXPECT_EQ(*apply_entry(&s, writer_add(6, 1, object_sst("C", 13, 20), 12, true)),
            ApplyOutcome::kChainBroken);
  // A delayed copy of A, after A was compacted away: the SST id is no
  // longer live, so only the chain keeps it out.
  EXPECT_EQ(*apply_entry(&s, writer_add(7, 1, object_sst("A", 1, 5), 0, true)),
            ApplyOutcome::kChainBroken);
  // D, then C again: both count.
  EXPECT_EQ(*apply_entry(&s, writer_add(8, 1, object_sst("D", 10, 12), 9, true)),
            ApplyOutcome::kApplied);
  EXPECT_EQ(*apply_entry(&s, writer_add(9, 1, object_sst("C", 13, 20), 12, true)),
            ApplyOutcome::kApplied);
  EXPECT_EQ(s.data_seq, 20u);
  EXPECT_EQ(s.entries_skipped, 2u);
  std::vector<std::string> l0;
  for (const auto& m : s.l0) l0.push_back(m.id);
  EXPECT_EQ(l0, (std::vector<std::string>{"B", "D", "C"}));
}

TEST(ChainRule, UnchainedEntriesKeepTodaysRules) {
  // The same late copy of A without the chain: today's rules add it again
  // once compaction removed the original (which is why a single committer
  // retries the SAME position after a 404 read-back).
  ManifestState s;
  ASSERT_TRUE(apply_entry(&s, role_claim(1, Role::kWriter, 1)).ok());
  ASSERT_TRUE(apply_entry(&s, role_claim(2, Role::kCompactor, 1)).ok());
  ASSERT_TRUE(apply_entry(&s, writer_add(3, 1, object_sst("A", 1, 5), 0, false)).ok());
  ASSERT_TRUE(apply_entry(&s, compaction(4, {"A"}, object_sst("A'", 1, 5))).ok());
  EXPECT_EQ(*apply_entry(&s, writer_add(5, 1, object_sst("A", 1, 5), 0, false)),
            ApplyOutcome::kApplied);
  // And an unchained entry does not care what came before it.
  EXPECT_EQ(*apply_entry(&s, writer_add(6, 1, object_sst("X", 30, 40), 12, false)),
            ApplyOutcome::kApplied);
}

TEST(ChainRule, AStaleEpochIsReportedBeforeTheChain) {
  ManifestState s;
  ASSERT_TRUE(apply_entry(&s, role_claim(1, Role::kWriter, 1)).ok());
  ASSERT_TRUE(apply_entry(&s, role_claim(2, Role::kWriter, 2)).ok());
  EXPECT_EQ(*apply_entry(&s, writer_add(3, 1, object_sst("A", 1, 5), 7, true)),
            ApplyOutcome::kStaleEpoch);
}

TEST(ChainCodec, ChainedEntriesRoundTripAsFormat2) {
  LogEntry e = writer_add(12, 3, object_sst("s1", 10, 20), 9, true);
  e.seq_reserved = 1000;
  const std::string bytes = encode_entry(e);
  EXPECT_NE(bytes.find("\"chained\":true"), std::string::npos) << bytes;
  EXPECT_NE(bytes.find("\"format\":2"), std::string::npos) << bytes;
  auto d = decode_entry(bytes, "x");
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(*d, e);

  e.chained = false;
  const std::string plain = encode_entry(e);
  EXPECT_EQ(plain.find("chained"), std::string::npos) << plain;
  EXPECT_NE(plain.find("\"format\":1"), std::string::npos) << plain;
  auto dp = decode_entry(plain, "x");
  ASSERT_TRUE(dp.ok());
  EXPECT_FALSE(dp->chained);

  // A mistyped field is Corruption, not a guess.
  std::string bad = bytes;
  bad.replace(bad.find("\"chained\":true"), 14, "\"chained\":\"yes\"");
  EXPECT_EQ(decode_entry(bad, "x").status().code(), Code::kCorruption);
}


// --- LogPipeline ---------------------------------------------------------

// A ManifestStorage in front of another that turns some log creates into
// "delayed copies": the request is reported UnknownOutcome WITHOUT being
// applied, and is applied later, at a random moment (any later call by any
// thread may land one), or by land_all(). Like a request stuck in the
// network that the store executes after the client gave up on it.
class DelayedCopies : public ManifestStorage {
 public:
  DelayedCopies(ManifestStoragePtr inner, uint64_t seed, double p_delay, double p_land)
      : inner_(std::move(inner)), rnd_(seed), p_delay_(p_delay), p_land_(p_land) {}

  Result<VersionedObject> read_current(std::string_view inm) override {
    maybe_land();
    return inner_->read_current(inm);
  }
  Result<std::string> write_current(std::string_view d, std::string_view etag) override {
    maybe_land();
    return inner_->write_current(d, etag);
  }
  Result<std::string> read_log(uint64_t pos) override {
    maybe_land();
    return inner_->read_log(pos);
  }
  Status create_log(uint64_t pos, std::string_view data) override {
    maybe_land();
    {
      std::lock_guard lk(mu_);
      if (enabled_ && rnd_.chance(p_delay_)) {
        stash_.push_back({pos, std::string(data)});
        delayed_++;
        return Status::UnknownOutcome("test: request delayed in the network");
      }
    }
    return inner_->create_log(pos, data);
  }
  Result<std::string> read_snapshot(uint64_t pos) override { return inner_->read_snapshot(pos); }
  Status create_snapshot(uint64_t pos, std::string_view data) override {
    return inner_->create_snapshot(pos, data);
  }
  std::string describe() const override { return "delayed-copies:" + inner_->describe(); }

  // Lands every stashed copy (in random order); returns how many created
  // their position.
  int land_all() {
    int n = 0;
    for (;;) {
      std::pair<uint64_t, std::string> c;
      {
        std::lock_guard lk(mu_);
        enabled_ = false;
        if (stash_.empty()) return n;
        const size_t i = rnd_.uniform(stash_.size());
        c = std::move(stash_[i]);
        stash_.erase(stash_.begin() + static_cast<std::ptrdiff_t>(i));
      }
      if (inner_->create_log(c.first, c.second).ok()) n++;
    }
  }
  int delayed() const {
    std::lock_guard lk(mu_);
    return delayed_;
  }
  std::atomic<int> landed_late{0};

 private:
  void maybe_land() {
    std::pair<uint64_t, std::string> c;
    {
      std::lock_guard lk(mu_);
      if (stash_.empty() || !rnd_.chance(p_land_)) return;
      const size_t i = rnd_.uniform(stash_.size());
      c = std::move(stash_[i]);
      stash_.erase(stash_.begin() + static_cast<std::ptrdiff_t>(i));
    }
    if (inner_->create_log(c.first, c.second).ok()) landed_late++;
  }

  ManifestStoragePtr inner_;
  mutable std::mutex mu_;
  Random rnd_;
  double p_delay_, p_land_;
  bool enabled_ = true;
  std::vector<std::pair<uint64_t, std::string>> stash_;
  int delayed_ = 0;
};

ManifestLogOptions quick_log_options() {
  ManifestLogOptions o;
  o.retry_backoff = std::chrono::milliseconds(0);
  o.transient_retries = 50;
  return o;
}

LogPipelineOptions quick_pipeline_options(int k) {
  LogPipelineOptions o;
  o.max_in_flight = k;
  o.retry_backoff = std::chrono::milliseconds(0);
  o.transient_retries = 50;
  return o;
}

// Flush number i (1-based) of the model writer: sequences 10i-9 .. 10i.
LogEntry model_flush(uint64_t i) {
  LogEntry e;
  e.op = LogOp::kAddSstable;
  e.added = {object_sst("w-" + std::to_string(i), 10 * i - 9, 10 * i)};
  e.last_seq = 10 * i;
  e.seq_reserved = 10 * i + 1000;
  e.commit_id = "flush-" + std::to_string(i);
  return e;
}

// The writer entries a fresh replay from position 1 applies.
struct Replayed {
  std::vector<std::pair<std::string, uint64_t>> writer_adds;  // commit_id, pos (in log order)
  std::map<uint64_t, uint64_t> claims;                         // writer epoch -> position
  ManifestState state;
};

Replayed replay(const ManifestStoragePtr& storage) {
  Replayed r;
  ManifestLogOptions o = quick_log_options();
  o.on_entry = [&](const LogEntry& e, bool applied) {
    if (!applied || e.role != Role::kWriter) return;
    if (e.op == LogOp::kAddSstable) r.writer_adds.emplace_back(e.commit_id, e.pos);
    if (e.op == LogOp::kFenceClaim) r.claims[e.epoch] = e.pos;
  };
  ManifestLog log(storage, o);
  Status s = log.open();
  EXPECT_TRUE(s.ok()) << s.to_string();
  r.state = log.state();
  return r;
}

// A compactor and a retention process taking positions while the writer
// commits: compactions of two live L0 SSTs, removals of one, checkpoints.
class Maintainers {
 public:
  Maintainers(ManifestStoragePtr storage, uint64_t seed) : storage_(std::move(storage)), seed_(seed) {
    thread_ = std::thread([this] { run(); });
  }
  ~Maintainers() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int commits() const { return commits_; }

 private:
  void run() {
    Random rnd(seed_ * 31 + 5);
    ManifestLog comp(storage_, quick_log_options()), ret(storage_, quick_log_options());
    if (!comp.open().ok() || !comp.claim(Role::kCompactor, "compactor").ok()) return;
    if (!ret.open().ok() || !ret.claim(Role::kRetention, "retention").ok()) return;
    int n = 0;
    while (!stop_) {
      ManifestLog& log = rnd.chance(0.7) ? comp : ret;
      if (!log.refresh().ok()) continue;
      const auto& l0 = log.state().l0;
      LogEntry e;
      if (&log == &comp && l0.size() >= 2) {
        e.op = LogOp::kCompaction;
        e.inputs = {l0[0].id, l0[1].id};
        SstMeta out = object_sst("cmp-" + std::to_string(seed_) + "-" + std::to_string(n++),
                                std::min(l0[0].seq_lo, l0[1].seq_lo),
                                std::max(l0[0].seq_hi, l0[1].seq_hi));
        out.level = 1;
        e.added = {out};
        e.run_id = "run-" + std::to_string(n);
      } else if (&log == &ret && !l0.empty() && rnd.chance(0.3)) {
        e.op = LogOp::kRemoveSstables;
        e.inputs = {l0[rnd.uniform(l0.size())].id};
      } else {
        e.op = LogOp::kCheckpoint;
      }
      if (log.append(e).ok()) commits_++;
      std::this_thread::sleep_for(std::chrono::microseconds(200 + rnd.uniform(800)));
    }
  }

  ManifestStoragePtr storage_;
  uint64_t seed_;
  std::atomic<bool> stop_{false};
  std::atomic<int> commits_{0};
  std::thread thread_;
};

// What the runs of one test exercised, so that a test that stopped
// exercising something fails instead of passing vacuously.
struct Totals {
  uint64_t runs = 0, max_in_flight = 0, recoveries = 0, precondition_failed = 0,
           unknown_outcomes = 0, transient_errors = 0, found_by_catch_up = 0, delayed = 0,
           landed_late = 0, fenced = 0;
  std::string str() const {
    return "runs " + std::to_string(runs) + ", max in flight " + std::to_string(max_in_flight) +
           ", recoveries " + std::to_string(recoveries) + ", lost positions " +
           std::to_string(precondition_failed) + ", unknown outcomes " +
           std::to_string(unknown_outcomes) + ", transient " + std::to_string(transient_errors) +
           ", found by catch-up " + std::to_string(found_by_catch_up) + ", delayed copies " +
           std::to_string(delayed) + " (landed during the run " + std::to_string(landed_late) +
           "), fenced " + std::to_string(fenced);
  }
};
Totals g_totals;

struct ModelRun {
  int k = 4;
  int flushes = 30;
  double fault_p = 0.08;     // per log create: transient / lost response / not applied
  double delay_p = 0.05;     // per log create: a delayed copy
  bool maintainers = true;
  bool takeover = false;     // a second writer claims part-way through
  std::string file_root;     // non-empty: a file:// bucket instead of memory
};

// One seeded run of the model: the writer submits `flushes` entries through
// a pipeline of `k`, under faults, delayed copies, maintainers and maybe a
// takeover; then every property of the pipeline is checked against a
// fresh replay, before and after every delayed copy finally lands.
void run_model(uint64_t seed, const ModelRun& m) {
  SCOPED_TRACE("seed " + std::to_string(seed) + " k " + std::to_string(m.k) +
               (m.takeover ? " takeover" : ""));
  ObjectStorePtr mem = std::make_shared<MemStore>();
  if (!m.file_root.empty()) {
    auto fs = FileStore::open(m.file_root + "/" + std::to_string(seed));
    ASSERT_TRUE(fs.ok()) << fs.status().to_string();
    mem = *fs;
  }
  auto fault = std::make_shared<FaultStore>(mem, seed);
  const auto log_only = [](const FaultContext& c) {
    return c.key.substr(0, 13) == "manifest/log/";
  };
  fault->add_rule(FaultRule::on(StoreOp::kPut).when(log_only).probability(m.fault_p / 3)
                      .fail(Status::Transient("test: 503")));
  fault->add_rule(FaultRule::on(StoreOp::kPut).when(log_only).probability(m.fault_p / 3)
                      .lose_response());
  fault->add_rule(FaultRule::on(StoreOp::kPut).when(log_only).probability(m.fault_p / 3)
                      .fail(Status::UnknownOutcome("test: timed out before sending")));
  // Shuffle the order in which concurrent creates complete.
  fault->add_rule(FaultRule::on(StoreOp::kPut).when(log_only).probability(0.2)
                      .delay(std::chrono::milliseconds(1)));
  auto clean = object_store_manifest_storage(mem);
  auto delayed = std::make_shared<DelayedCopies>(object_store_manifest_storage(fault), seed,
                                                 m.delay_p, 0.15);

  ManifestLog log(delayed, quick_log_options());
  ASSERT_TRUE(log.open().ok());
  ASSERT_TRUE(log.claim(Role::kWriter, "w1").ok());
  const uint64_t epoch = log.epoch();

  std::optional<Maintainers> maint;
  if (m.maintainers) maint.emplace(clean, seed);
  Random rnd(seed);
  const uint64_t takeover_after = m.takeover ? rnd.uniform(m.flushes) : UINT64_MAX;
  std::thread taker;
  std::atomic<bool> took{false};

  LogPipeline pipe(&log, quick_pipeline_options(m.k));
  std::map<uint64_t, uint64_t> acked;  // ticket -> pos
  uint64_t submitted = 0;
  Status final_status;
  int errors = 0;
  for (int steps = 0; steps < 100000; steps++) {
    while (submitted < static_cast<uint64_t>(m.flushes) &&
           pipe.pending() < static_cast<size_t>(m.k) + 2) {
      auto t = pipe.submit(model_flush(submitted + 1));
      ASSERT_TRUE(t.ok()) << t.status().to_string();
      ASSERT_EQ(*t, submitted + 1);
      submitted++;
    }
    if (submitted >= takeover_after && !took.exchange(true)) {
      taker = std::thread([&] {
        ManifestLog w2(clean, quick_log_options());
        EXPECT_TRUE(w2.open().ok());
        EXPECT_TRUE(w2.claim(Role::kWriter, "w2").ok());
      });
    }
    auto p = pipe.step(std::chrono::milliseconds(5));
    for (const auto& c : p.committed) {
      EXPECT_TRUE(acked.emplace(c.ticket, c.pos).second) << "ticket " << c.ticket << " twice";
      EXPECT_EQ(c.ticket, acked.size()) << "acknowledged out of order";
    }
    if (!p.status.ok()) {
      if (p.status.code() == Code::kFenced) {
        final_status = p.status;
        // Terminal: every later call says so, and acknowledges nothing.
        auto again = pipe.step(std::chrono::milliseconds(0));
        EXPECT_EQ(again.status.code(), Code::kFenced);
        EXPECT_TRUE(again.committed.empty());
        break;
      }
      errors++;  // transient: keep going, as the writer does
      ASSERT_LT(errors, 1000) << p.status.to_string();
      continue;
    }
    if (submitted == static_cast<uint64_t>(m.flushes) && pipe.idle()) break;
  }
  if (taker.joinable()) taker.join();
  if (maint) maint->stop();
  g_totals.runs++;
  g_totals.max_in_flight = std::max<uint64_t>(g_totals.max_in_flight, pipe.stats().max_in_flight_seen);
  g_totals.recoveries += pipe.stats().recoveries;
  g_totals.precondition_failed += pipe.stats().precondition_failed;
  g_totals.unknown_outcomes += pipe.stats().unknown_outcomes;
  g_totals.transient_errors += pipe.stats().transient_errors;
  g_totals.found_by_catch_up += pipe.stats().found_by_catch_up;
  g_totals.delayed += delayed->delayed();
  g_totals.landed_late += delayed->landed_late;
  g_totals.fenced += final_status.code() == Code::kFenced;

  if (!m.takeover) {
    EXPECT_TRUE(final_status.ok()) << final_status.to_string();
    EXPECT_EQ(acked.size(), static_cast<size_t>(m.flushes));
  } else if (final_status.ok()) {
    // The takeover came after the last commit (or never fenced us before
    // we finished): everything must still be acknowledged.
    EXPECT_EQ(acked.size(), static_cast<size_t>(m.flushes));
  }

  auto check = [&](const char* when) {
    SCOPED_TRACE(when);
    Replayed r = replay(clean);
    std::set<std::string> seen;
    uint64_t last_ticket = 0;
    for (const auto& [cid, pos] : r.writer_adds) {
      if (cid.rfind("flush-", 0) != 0) continue;
      EXPECT_TRUE(seen.insert(cid).second) << cid << " applied twice";
      const uint64_t t = std::stoull(cid.substr(6));
      EXPECT_EQ(t, last_ticket + 1) << cid << " applied out of order (after flush-" << last_ticket << ")";
      last_ticket = t;
      if (auto it = acked.find(t); it != acked.end() && it->second != 0) {
        EXPECT_EQ(it->second, pos) << cid << " acknowledged at another position";
      }
    }
    for (const auto& [t, pos] : acked) {
      EXPECT_TRUE(seen.count("flush-" + std::to_string(t))) << "acknowledged flush-" << t << " is not applied";
    }
    if (m.takeover && r.claims.count(epoch + 1)) {
      const uint64_t claim_pos = r.claims.at(epoch + 1);
      for (const auto& [t, pos] : acked) {
        if (pos != 0) {
          EXPECT_LT(pos, claim_pos) << "flush-" << t << " acknowledged after the takeover";
        }
      }
      for (const auto& [cid, pos] : r.writer_adds) {
        if (cid.rfind("flush-", 0) == 0) {
          EXPECT_LT(pos, claim_pos);
        }
      }
    }
    if (!final_status.ok()) {
      // Fenced: entries may have committed without an acknowledgement (the
      // ambiguity every writer has), but only as a prefix (checked above).
    } else {
      EXPECT_EQ(seen.size(), acked.size());
    }
  };
  check("at the end");
  delayed->land_all();
  check("after every delayed copy landed");
}

TEST(LogPipelineModel, ManySeedsWithFaultsDelayedCopiesAndMaintainers) {
  g_totals = {};
  const int seeds = testing::seed_count(60);
  for (int i = 0; i < seeds; i++) {
    const uint64_t seed = testing::seed_base() + i;
    ModelRun m;
    m.k = 2 + static_cast<int>(seed % 4) * 2;  // 2, 4, 6, 8
    run_model(seed, m);
    if (::testing::Test::HasFailure()) return;
  }
  std::printf("exercised: %s\n", g_totals.str().c_str());
  if (seeds >= 20) {
    EXPECT_GE(g_totals.max_in_flight, 4u);
    EXPECT_GT(g_totals.precondition_failed, 0u);
    EXPECT_GT(g_totals.unknown_outcomes, 0u);
    EXPECT_GT(g_totals.transient_errors, 0u);
    EXPECT_GT(g_totals.found_by_catch_up, 0u);
    EXPECT_GT(g_totals.delayed, 0u);
    EXPECT_GT(g_totals.landed_late, 0u);
  }
}

TEST(LogPipelineModel, ManySeedsWithATakeoverWhileEntriesAreInFlight) {
  g_totals = {};
  const int seeds = testing::seed_count(60);
  for (int i = 0; i < seeds; i++) {
    const uint64_t seed = testing::seed_base() + 1000 + i;
    ModelRun m;
    m.k = 2 + static_cast<int>(seed % 3) * 3;  // 2, 5, 8
    m.takeover = true;
    run_model(seed, m);
    if (::testing::Test::HasFailure()) return;
  }
  std::printf("exercised: %s\n", g_totals.str().c_str());
  if (seeds >= 20) {
    EXPECT_GT(g_totals.fenced, static_cast<uint64_t>(seeds / 4));
  }
}

TEST(LogPipelineModel, OneInFlightIsTheSingleFlushProtocol) {
  const int seeds = testing::seed_count(20);
  for (int i = 0; i < seeds; i++) {
    ModelRun m;
    m.k = 1;
    m.delay_p = 0;  // a single committer's late copy is today's business (same-position retry)
    run_model(testing::seed_base() + 2000 + i, m);
    if (::testing::Test::HasFailure()) return;
  }
}


TEST(LogPipelineModel, ThreadsRacingOnAFileBucket) {
  testing::TempDir dir;
  const int seeds = testing::seed_count(10);
  for (int i = 0; i < seeds; i++) {
    ModelRun m;
    m.k = 4;
    m.flushes = 20;
    m.takeover = i % 2 == 1;
    m.file_root = dir.path();
    run_model(testing::seed_base() + 3000 + i, m);
    if (::testing::Test::HasFailure()) return;
  }
}

// --- The timelines of docs/manifest-protocol.md, one by one ------------------

struct Timeline {
  std::shared_ptr<MemStore> mem = std::make_shared<MemStore>();
  std::shared_ptr<FaultStore> fault = std::make_shared<FaultStore>(mem, 3);
  ManifestStoragePtr clean = object_store_manifest_storage(mem);
  ManifestStoragePtr storage = object_store_manifest_storage(fault);
  ManifestLog log{storage, quick_log_options()};

  Timeline() {
    EXPECT_TRUE(log.open().ok());
    EXPECT_TRUE(log.claim(Role::kWriter, "w").ok());
  }
  // Runs `fn` on the clean store just before the create of `pos` is sent.
  void before_create(uint64_t pos, std::function<void()> fn) {
    fault->add_rule(FaultRule::on(StoreOp::kPut).key_equals(log_key(pos)).times(1).when(
        [fn = std::move(fn), done = false](const FaultContext&) mutable {
          if (!done) fn();
          done = true;
          return false;
        }));
  }
};

LogPipeline::Progress submit_and_drain(LogPipeline& pipe, std::vector<LogEntry> entries) {
  for (auto& e : entries) EXPECT_TRUE(pipe.submit(std::move(e)).ok());
  return pipe.drain();
}

std::vector<std::string> applied_ids(const Replayed& r) {
  std::vector<std::string> out;
  for (const auto& [cid, pos] : r.writer_adds) out.push_back(cid);
  return out;
}

TEST(LogPipelineTimeline, ALosesItsPositionWhileBLandsBehindIt) {
  // t0  W sends A -> log/p and B -> log/p+1 (chained behind A)
  // t1  a compactor creates log/p first; A: PreconditionFailed
  // t2  B lands at p+1, but replay skips it: data_seq is not A's seq_hi
  // t3  W waits for B, catches up (p: compactor, p+1: B skipped), resends
  //     A at p+2 and B at p+3: both commit, in order, once each.
  Timeline t;
  ManifestLog comp(t.clean, quick_log_options());
  ASSERT_TRUE(comp.open().ok());
  ASSERT_TRUE(comp.claim(Role::kCompactor, "c").ok());
  ASSERT_TRUE(t.log.refresh().ok());  // past the compactor's claim
  const uint64_t p = t.log.state().next_pos;
  t.before_create(p, [&] {
    LogEntry e;
    e.op = LogOp::kCheckpoint;
    auto r = comp.append(e);
    EXPECT_EQ(r.ok() ? *r : 0, p);
  });
  LogPipeline pipe(&t.log, quick_pipeline_options(4));
  auto done = submit_and_drain(pipe, {model_flush(1), model_flush(2)});
  ASSERT_TRUE(done.status.ok()) << done.status.to_string();
  ASSERT_EQ(done.committed.size(), 2u);
  EXPECT_EQ(done.committed[0].pos, p + 2);
  EXPECT_EQ(done.committed[1].pos, p + 3);
  EXPECT_EQ(pipe.stats().precondition_failed, 1u);
  Replayed r = replay(t.clean);
  EXPECT_EQ(applied_ids(r), (std::vector<std::string>{"flush-1", "flush-2"}));
  auto b_first = t.clean->read_log(p + 1);
  ASSERT_TRUE(b_first.ok()) << "B's first create landed behind the lost position";
  EXPECT_EQ(decode_entry(*b_first, "b")->commit_id, "flush-2");
  EXPECT_EQ(r.state.entries_skipped, 1u) << "B's first copy is skipped by replay";
}

TEST(LogPipelineTimeline, LostResponseOfAWithBCommittedNeedsNoResend) {
  // t0  W sends A -> p and B -> p+1; both land
  // t1  A's response is lost (UnknownOutcome); B's says ok
  // t2  W waits for B, catches up: p and p+1 hold our applied entries:
  //     both committed, nothing is sent again.
  Timeline t;
  const uint64_t p = t.log.state().next_pos;
  t.fault->add_rule(FaultRule::on(StoreOp::kPut).key_equals(log_key(p)).lose_response().times(1));
  LogPipeline pipe(&t.log, quick_pipeline_options(4));
  auto done = submit_and_drain(pipe, {model_flush(1), model_flush(2)});
  ASSERT_TRUE(done.status.ok()) << done.status.to_string();
  ASSERT_EQ(done.committed.size(), 2u);
  EXPECT_EQ(done.committed[0].pos, p);
  EXPECT_EQ(done.committed[1].pos, p + 1);
  EXPECT_EQ(pipe.stats().creates_sent, 2u);
  EXPECT_EQ(pipe.stats().found_by_catch_up, 2u);
  EXPECT_EQ(applied_ids(replay(t.clean)), (std::vector<std::string>{"flush-1", "flush-2"}));
}

TEST(LogPipelineTimeline, TakeoverWhileEntriesAreInFlight) {
  // t0  W (epoch 1) sends A -> p, B -> p+1, C -> p+2
  // t1  W2 claims the writer role at p+1 before B arrives
  // t2  A: ok -> committed (it precedes the claim, every replay has it)
  //     B: PreconditionFailed; C lands at p+2 with a stale epoch
  // t3  W catches up, reads W2's claim: Fenced. B and C never commit.
  Timeline t;
  const uint64_t p = t.log.state().next_pos;
  t.before_create(p + 1, [&] {
    ManifestLog w2(t.clean, quick_log_options());
    EXPECT_TRUE(w2.open().ok());
    EXPECT_TRUE(w2.claim(Role::kWriter, "w2").ok());
  });
  LogPipeline pipe(&t.log, quick_pipeline_options(4));
  auto done = submit_and_drain(pipe, {model_flush(1), model_flush(2), model_flush(3)});
  EXPECT_EQ(done.status.code(), Code::kFenced) << done.status.to_string();
  ASSERT_EQ(done.committed.size(), 1u);
  EXPECT_EQ(done.committed[0].ticket, 1u);
  EXPECT_EQ(done.committed[0].pos, p);
  auto again = pipe.step(std::chrono::milliseconds(0));
  EXPECT_EQ(again.status.code(), Code::kFenced);
  EXPECT_TRUE(again.committed.empty());
  Replayed r = replay(t.clean);
  EXPECT_EQ(applied_ids(r), (std::vector<std::string>{"flush-1"}));
  EXPECT_EQ(r.claims.at(2), p + 1);
}

TEST(LogPipelineTimeline, ADelayedCopyLandingLateIsSkippedWhereverItLands) {
  // t0  W sends A -> p; the request is stuck in the network; W gets
  //     UnknownOutcome. B -> p+1 lands.
  // t1  W catches up: p is empty (404). It resends A at p (the first free
  //     position) and B at p+1 (taken by B itself: found by catch-up).
  // t2  a compactor merges A away (A's id is no longer live)
  // t3  the stuck copy of A is finally executed, at the end of the log:
  //     its prev_data_seq is not the data_seq there, so it is skipped.
  //     Without the chain, today's rules would add A a second time.
  Timeline t;
  const uint64_t p = t.log.state().next_pos;
  t.fault->add_rule(FaultRule::on(StoreOp::kPut).key_equals(log_key(p)).times(1).fail(
      Status::UnknownOutcome("stuck in the network")));
  LogPipeline pipe(&t.log, quick_pipeline_options(4));
  LogEntry a = model_flush(1);
  auto done = submit_and_drain(pipe, {a, model_flush(2)});
  ASSERT_TRUE(done.status.ok()) << done.status.to_string();
  ASSERT_EQ(done.committed.size(), 2u);
  EXPECT_EQ(done.committed[0].pos, p) << "resent at the same (free) position";
  // The stuck copy: exactly the bytes of A's first attempt at p.
  a.role = Role::kWriter;
  a.epoch = t.log.epoch();
  a.owner = t.log.owner();
  a.prev_data_seq = 0;
  a.chained = true;
  ManifestLog comp(t.clean, quick_log_options());
  ASSERT_TRUE(comp.open().ok());
  ASSERT_TRUE(comp.claim(Role::kCompactor, "c").ok());
  LogEntry c;
  c.op = LogOp::kCompaction;
  c.inputs = {"w-1"};
  SstMeta out = object_sst("merged", 1, 10);
  out.level = 1;
  c.added = {out};
  c.run_id = "r";
  ASSERT_TRUE(comp.append(c).ok());
  a.pos = comp.state().next_pos;
  ASSERT_TRUE(t.clean->create_log(a.pos, encode_entry(a)).ok());
  Replayed r = replay(t.clean);
  EXPECT_EQ(applied_ids(r), (std::vector<std::string>{"flush-1", "flush-2"}));
  EXPECT_EQ(r.state.data_seq, 20u);
  // The same copy unchained (what a single committer would have to avoid
  // by retrying the same position) is applied a second time.
  a.chained = false;
  a.pos++;
  ASSERT_TRUE(t.clean->create_log(a.pos, encode_entry(a)).ok());
  EXPECT_EQ(applied_ids(replay(t.clean)),
            (std::vector<std::string>{"flush-1", "flush-2", "flush-1"}));
}

TEST(LogPipelineTimeline, AZombieWhoseCreateLandsAfterCollectionIsFenced) {
  // The lease rule for every entry in the window: W's create of p stalls
  // past the lease; meanwhile W2 takes over, snapshots, and GC collects
  // the old log. The stalled create lands on the free name: W re-reads
  // CURRENT, sees log_seq_start past p, and reports Fenced, not success.
  auto mem = std::make_shared<MemStore>();
  auto fault = std::make_shared<FaultStore>(mem, 3);
  ManualClock clock;
  ManifestLogOptions opts = quick_log_options();
  opts.clock = &clock;
  opts.lease = std::chrono::milliseconds(1000);
  opts.grace = std::chrono::seconds(30);
  ManifestLog log(object_store_manifest_storage(fault), opts);
  ASSERT_TRUE(log.open().ok());
  ASSERT_TRUE(log.claim(Role::kWriter, "w").ok());
  const uint64_t p = log.state().next_pos;
  fault->add_rule(FaultRule::on(StoreOp::kPut).key_equals(log_key(p)).times(1).when(
      [&](const FaultContext&) {
        ManifestLog w2(object_store_manifest_storage(mem), opts);
        EXPECT_TRUE(w2.open().ok());
        EXPECT_TRUE(w2.claim(Role::kWriter, "w2").ok());
        EXPECT_TRUE(w2.write_snapshot().ok());
        clock.advance_ms(60'000);
        for (uint64_t q = 1; q < w2.known_log_seq_start(); q++) {
          EXPECT_TRUE(mem->remove(log_key(q)).ok());
        }
        return false;
      }));
  LogPipeline pipe(&log, quick_pipeline_options(4));
  auto done = submit_and_drain(pipe, {model_flush(1), model_flush(2)});
  EXPECT_EQ(done.status.code(), Code::kFenced) << done.status.to_string();
  EXPECT_TRUE(done.committed.empty());
  EXPECT_TRUE(mem->get(log_key(p)).ok()) << "the zombie's create did land";
}


TEST(LogPipelineTimeline, OneInFlightWritesTodaysEntriesAndKOrMoreChainsThem) {
  for (int k : {1, 4}) {
    Timeline t;
    const uint64_t p = t.log.state().next_pos;
    LogPipeline pipe(&t.log, quick_pipeline_options(k));
    auto done = submit_and_drain(pipe, {model_flush(1), model_flush(2)});
    ASSERT_TRUE(done.status.ok()) << done.status.to_string();
    for (uint64_t q : {p, p + 1}) {
      auto bytes = t.clean->read_log(q);
      ASSERT_TRUE(bytes.ok());
      auto e = decode_entry(*bytes, "e");
      ASSERT_TRUE(e.ok());
      EXPECT_EQ(e->chained, k > 1) << "k " << k;
      EXPECT_EQ(e->prev_data_seq, q == p ? 0u : 10u);
      EXPECT_NE(bytes->find(k > 1 ? "\"format\":2" : "\"format\":1"), std::string::npos) << *bytes;
    }
  }
}

}  // namespace
}  // namespace isle
