// RetentionCompactor tests: expiry by age with the retention_count floor,
// by time-window segments, judged by the data's write time (also through
// a compaction), its own fence beside a live writer and compactor, races
// with a compactor that consumes picked SSTs, exact callbacks and stats,
// the background loop, and a sweep that faults every store request of a
// fixed cleanup in turn.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "isle/compactor.h"
#include "isle/retention.h"
#include "lsm/engine_test_util.h"
#include "maint/maint_test_util.h"
#include "manifest/manifest_log.h"

namespace isle {
namespace {

using namespace std::chrono_literals;
using testing::EngineEnv;

constexpr int64_t kHour = 3'600'000;
constexpr int64_t kT0 = 1'700'000'000'000;  // ManualClock's start

RetentionOptions by_age(std::chrono::milliseconds period, size_t count) {
  RetentionOptions o;
  o.owner = "retention-test";
  o.mode = RetentionMode::kByAge;
  o.retention_period = period;
  o.retention_count = count;
  o.retry_backoff = 1ms;
  o.snapshot_every = 0;
  return o;
}

std::unique_ptr<RetentionCompactor> open_retention(EngineEnv& env, RetentionOptions o,
                                                   ObjectStorePtr store = nullptr) {
  auto r = RetentionCompactor::open(store ? store : env.store, env.db_options, std::move(o));
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? std::move(*r) : nullptr;
}

std::unique_ptr<Compactor> open_compactor(EngineEnv& env, int l0_threshold) {
  CompactorOptions o;
  o.owner = "compactor-test";
  o.l0_threshold = l0_threshold;
  o.retry_backoff = 1ms;
  o.snapshot_every = 0;
  auto c = Compactor::open(env.store, env.db_options, o);
  EXPECT_TRUE(c.ok()) << c.status().to_string();
  return c.ok() ? std::move(*c) : nullptr;
}

// The manifest as a fresh process replays it, straight from the bucket.
ManifestState replay(EngineEnv& env) {
  ManifestLog log(object_store_manifest_storage(env.scoped));
  Status s = log.open();
  EXPECT_TRUE(s.ok()) << s.to_string();
  return log.state();
}

// Live SSTs by id.
std::map<std::string, SstMeta> live(const ManifestState& st) {
  std::map<std::string, SstMeta> out;
  for (const auto& s : st.l0) out[s.id] = s;
  for (const auto& r : st.runs)
    for (const auto& s : r.ssts) out[s.id] = s;
  return out;
}

std::set<std::string> live_ids(EngineEnv& env) {
  std::set<std::string> ids;
  for (const auto& [id, m] : live(replay(env))) ids.insert(id);
  return ids;
}

// No SST twice, no empty run, every run sorted with disjoint key ranges.
void expect_consistent(const ManifestState& st) {
  std::set<std::string> ids;
  for (const auto& s : st.l0) EXPECT_TRUE(ids.insert(s.id).second) << "duplicate " << s.id;
  for (const auto& r : st.runs) {
    EXPECT_FALSE(r.ssts.empty()) << "empty run " << r.id;
    for (size_t i = 0; i < r.ssts.size(); i++) {
      EXPECT_TRUE(ids.insert(r.ssts[i].id).second) << "duplicate " << r.ssts[i].id;
      if (i > 0) {
        EXPECT_LT(r.ssts[i - 1].max_key, r.ssts[i].min_key) << "run " << r.id;
      }
    }
  }
}

// Sets the clock, writes `kvs`, flushes one SST, returns its id.
std::string flush_at(EngineEnv& env, Writer& w, int64_t ms,
                     const std::vector<std::pair<std::string, std::string>>& kvs) {
  env.clock.set_ms(ms);
  for (const auto& [k, v] : kvs) EXPECT_TRUE(w.put(k, v).ok());
  EXPECT_TRUE(w.flush().ok());
  const ManifestState st = replay(env);
  EXPECT_FALSE(st.l0.empty());
  if (st.l0.empty()) return "";
  EXPECT_EQ(st.l0.back().max_write_ms, ms);
  return st.l0.back().id;
}

std::map<std::string, std::string> scan_all(Reader& r) {
  EXPECT_TRUE(r.refresh().ok());
  std::map<std::string, std::string> out;
  auto all = r.scan("", "");
  EXPECT_TRUE(all.ok()) << all.status().to_string();
  if (all.ok())
    for (const auto& kv : *all) out[kv.key] = kv.value;
  return out;
}

uint64_t size_of(EngineEnv& env, const std::vector<std::string>& ids) {
  const auto all = live(replay(env));
  uint64_t b = 0;
  for (const auto& id : ids) b += all.at(id).size;
  return b;
}

// A store that runs a hook right before the next create of a manifest log
// entry that passes through it: how a test makes a compaction land between
// the retention's plan and its commit.
class HookStore : public ObjectStore {
 public:
  explicit HookStore(ObjectStorePtr inner) : inner_(std::move(inner)) {}
  std::function<void()> before_log_create;

  Result<GetResult> get(std::string_view key, const GetOptions& o) override { return inner_->get(key, o); }
  Result<ObjectMeta> head(std::string_view key) override { return inner_->head(key); }
  Result<ObjectMeta> put(std::string_view key, std::string_view data, const PutOptions& o) override {
    if (before_log_create && o.mode == PutMode::kCreateOnly &&
        key.find("manifest/log/") != std::string_view::npos) {
      auto hook = std::move(before_log_create);
      before_log_create = nullptr;
      hook();
    }
    return inner_->put(key, data, o);
  }
  Status remove(std::string_view key) override { return inner_->remove(key); }
  Result<ListPage> list(const ListOptions& o) override { return inner_->list(o); }
  std::string url() const override { return inner_->url(); }

 private:
  ObjectStorePtr inner_;
};

TEST(Retention, OptionsAreValidatedAtOpen) {
  EngineEnv env;
  auto expect_invalid = [&](RetentionOptions o, const std::string& field) {
    auto r = RetentionCompactor::open(env.store, env.db_options, std::move(o));
    ASSERT_FALSE(r.ok()) << field;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << field;
    EXPECT_NE(r.status().message().find(field), std::string::npos) << r.status().to_string();
  };
  RetentionOptions o = by_age(1h, 1);
  o.retention_period = 0ms;
  expect_invalid(o, "retention_period");
  o = by_age(1h, 1);
  o.mode = RetentionMode::kByTimeWindow;
  o.segment_duration = 0ms;
  expect_invalid(o, "segment_duration");
  o = by_age(1h, 1);
  o.check_interval = 0ms;
  expect_invalid(o, "check_interval");
  o = by_age(1h, 1);
  o.retry_backoff = -1ms;
  expect_invalid(o, "retry_backoff");
  o = by_age(1h, 1);
  o.snapshot_every = -1;
  expect_invalid(o, "snapshot_every");
  auto none = RetentionCompactor::open(nullptr, env.db_options, by_age(1h, 1));
  EXPECT_EQ(none.status().code(), Code::kInvalidArgument);
  // A segment duration of 0 does not matter by age; nothing was claimed
  // by the rejected opens.
  o = by_age(1h, 1);
  o.segment_duration = 0ms;
  auto r = open_retention(env, o);
  ASSERT_TRUE(r);
  EXPECT_EQ(replay(env).fence(Role::kRetention).epoch, 1u);
}

TEST(Retention, ByAgeRemovesExactlyTheExpiredOldestFirstAndKeepsTheCount) {
  EngineEnv env;
  auto w = object_writer(env);
  std::vector<std::string> s;
  for (int i = 0; i < 5; i++) {
    s.push_back(flush_at(env, *w, kT0 + i * kHour, {{"k" + std::to_string(i), "v"}}));
  }
  auto ret = open_retention(env, by_age(10h, 2));
  auto reader = env.reader();

  env.clock.set_ms(kT0 + 10 * kHour);  // cutoff = T0: s0 expired
  env.clock.advance_ms(-1);            // ...but not a millisecond earlier
  auto none = ret->run_cleanup();
  ASSERT_TRUE(none.ok()) << none.status().to_string();
  EXPECT_TRUE(none->removed.empty());
  EXPECT_EQ(none->cutoff_ms, kT0 - 1);

  env.clock.set_ms(kT0 + 11 * kHour);  // cutoff = T0 + 1h: s0 and s1 (max_write == cutoff)
  const uint64_t bytes01 = size_of(env, {s[0], s[1]});
  auto first = ret->run_cleanup();
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  EXPECT_EQ(first->removed, (std::vector<std::string>{s[0], s[1]})) << "oldest first";
  EXPECT_EQ(first->removed_bytes, bytes01);
  EXPECT_EQ(first->expired_kept, 0u);
  EXPECT_EQ(live_ids(env), (std::set<std::string>{s[2], s[3], s[4]}));
  EXPECT_EQ(scan_all(*reader), (std::map<std::string, std::string>{{"k2", "v"}, {"k3", "v"}, {"k4", "v"}}));
  EXPECT_EQ(*reader->get("k0"), std::nullopt);

  // Everything expired: the newest two stay.
  env.clock.set_ms(kT0 + 100 * kHour);
  const uint64_t bytes2 = size_of(env, {s[2]});
  auto second = ret->run_cleanup();
  ASSERT_TRUE(second.ok()) << second.status().to_string();
  EXPECT_EQ(second->removed, (std::vector<std::string>{s[2]}));
  EXPECT_EQ(second->expired_kept, 2u);
  EXPECT_EQ(live_ids(env), (std::set<std::string>{s[3], s[4]}));
  EXPECT_EQ(scan_all(*reader), (std::map<std::string, std::string>{{"k3", "v"}, {"k4", "v"}}));

  auto third = ret->run_cleanup();
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE(third->removed.empty());
  EXPECT_EQ(third->expired_kept, 2u);
  EXPECT_EQ(live_ids(env).size(), 2u);

  const RetentionStats st = ret->stats();
  EXPECT_EQ(st.cleanups, 4u);
  EXPECT_EQ(st.errors, 0u);
  EXPECT_EQ(st.ssts_removed, 3u);
  EXPECT_EQ(st.bytes_removed, bytes01 + bytes2);
  EXPECT_EQ(st.last_cleanup_ms, kT0 + 100 * kHour);
  expect_consistent(replay(env));
}

TEST(Retention, JudgesByTheDataWriteTimeNotByWhenCompactionRewroteIt) {
  EngineEnv env;
  auto w = object_writer(env);
  // Overlapping key ranges: the compaction rewrites them into a new SST.
  const std::string a = flush_at(env, *w, kT0, {{"a", "1"}, {"m", "1"}});
  const std::string b = flush_at(env, *w, kT0 + kHour, {{"a", "2"}, {"z", "2"}});
  env.clock.set_ms(kT0 + 5 * kHour);
  auto c = open_compactor(env, 2);
  auto merged = c->run_compaction();
  ASSERT_TRUE(merged.ok()) << merged.status().to_string();
  ASSERT_EQ(merged->outputs.size(), 1u);
  ASSERT_TRUE(merged->moved.empty()) << "must be a rewrite for this test";
  const std::string out = merged->outputs[0];
  // The compactor carries the inputs' write times, not its own clock.
  const SstMeta meta = live(replay(env)).at(out);
  EXPECT_EQ(meta.min_write_ms, kT0);
  EXPECT_EQ(meta.max_write_ms, kT0 + kHour);
  const std::string young = flush_at(env, *w, kT0 + 6 * kHour, {{"c", "3"}});

  // cutoff = T0 + 3h: the data (newest T0 + 1h) is expired, although the
  // file was written at T0 + 5h.
  auto ret = open_retention(env, by_age(3h, 1));
  auto info = ret->run_cleanup();
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  EXPECT_EQ(info->removed, (std::vector<std::string>{out}));
  const ManifestState st = replay(env);
  EXPECT_TRUE(st.runs.empty()) << "a run whose every SST was removed disappears";
  ASSERT_EQ(st.l0.size(), 1u);
  EXPECT_EQ(st.l0[0].id, young);
  auto r = env.reader();
  EXPECT_EQ(scan_all(*r), (std::map<std::string, std::string>{{"c", "3"}}));
  EXPECT_EQ(merged->inputs, (std::vector<std::string>{a, b}));
}

TEST(Retention, RemovesSomeMembersOfARunAndKeepsTheRest) {
  EngineEnv env;
  auto w = object_writer(env);
  // Disjoint: the compactor moves both into one run unchanged, each with
  // its own write time.
  const std::string old_sst = flush_at(env, *w, kT0, {{"a1", "x"}, {"a2", "x"}});
  const std::string new_sst = flush_at(env, *w, kT0 + 2 * kHour, {{"b1", "y"}, {"b2", "y"}});
  auto c = open_compactor(env, 2);
  auto moved = c->run_compaction();
  ASSERT_TRUE(moved.ok()) << moved.status().to_string();
  ASSERT_EQ(moved->moved.size(), 2u);
  env.clock.set_ms(kT0 + 3 * kHour);
  auto ret = open_retention(env, by_age(2h, 0));  // cutoff T0 + 1h
  auto info = ret->run_cleanup();
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  EXPECT_EQ(info->removed, (std::vector<std::string>{old_sst}));
  const ManifestState st = replay(env);
  EXPECT_TRUE(st.l0.empty());
  ASSERT_EQ(st.runs.size(), 1u);
  ASSERT_EQ(st.runs[0].ssts.size(), 1u);
  EXPECT_EQ(st.runs[0].ssts[0].id, new_sst);
  auto r = env.reader();
  EXPECT_EQ(scan_all(*r), (std::map<std::string, std::string>{{"b1", "y"}, {"b2", "y"}}));
  // The compactor keeps working on the shrunken run.
  flush_at(env, *w, kT0 + 3 * kHour, {{"c", "z"}});
  flush_at(env, *w, kT0 + 3 * kHour, {{"c", "zz"}});
  ASSERT_TRUE(c->run_compaction().ok());
  expect_consistent(replay(env));
  EXPECT_EQ(*r->get("c"), std::nullopt);
  ASSERT_TRUE(r->refresh().ok());
  EXPECT_EQ(*r->get("c"), "zz");
}

TEST(Retention, ByTimeWindowRemovesWholeExpiredSegmentsAndKeepsTheNewest) {
  EngineEnv env;
  auto w = object_writer(env);
  const int64_t base = (kT0 / kHour + 1) * kHour;  // a segment boundary
  const int64_t m = 60'000;
  // Segment 0: two SSTs. Segment 1: one SST whose data began in segment 0
  // (judged by its newest write). Segment 2: one. Segment 3: two.
  const std::string s0a = flush_at(env, *w, base + 10 * m, {{"s0a", "x"}});
  const std::string s0b = flush_at(env, *w, base + 50 * m, {{"s0b", "x"}});
  env.clock.set_ms(base + 55 * m);
  ASSERT_TRUE(w->put("s1", "x").ok());
  const std::string s1 = flush_at(env, *w, base + 65 * m, {{"s1b", "x"}});
  const std::string s2 = flush_at(env, *w, base + 150 * m, {{"s2", "x"}});
  const std::string s3a = flush_at(env, *w, base + 181 * m, {{"s3a", "x"}});
  const std::string s3b = flush_at(env, *w, base + 239 * m, {{"s3b", "x"}});
  ASSERT_EQ(live(replay(env)).at(s1).min_write_ms, base + 55 * m);

  RetentionOptions o = by_age(2h, 20);  // keep max(1, 20 / 10) = 2 segments
  o.mode = RetentionMode::kByTimeWindow;
  o.segment_duration = 1h;
  auto ret = open_retention(env, o);

  // cutoff = base + 2h - 1: only segment 0 has ended by then.
  env.clock.set_ms(base + 4 * kHour - 1);
  auto first = ret->run_cleanup();
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  EXPECT_EQ(first->removed, (std::vector<std::string>{s0a, s0b}));
  EXPECT_EQ(first->expired_kept, 0u);

  // cutoff = base + 2h: segment 1 ends exactly then.
  env.clock.advance_ms(1);
  auto second = ret->run_cleanup();
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->removed, (std::vector<std::string>{s1}));
  EXPECT_EQ(live_ids(env), (std::set<std::string>{s2, s3a, s3b}));

  // Everything expired: the two newest segments stay, whole.
  env.clock.set_ms(base + 100 * kHour);
  auto third = ret->run_cleanup();
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE(third->removed.empty());
  EXPECT_EQ(third->expired_kept, 3u);

  // With retention_count < 20, one segment stays (max(1, 5 / 10)).
  o.retention_count = 5;
  auto ret2 = open_retention(env, o);
  auto fourth = ret2->run_cleanup();
  ASSERT_TRUE(fourth.ok()) << fourth.status().to_string();
  EXPECT_EQ(fourth->removed, (std::vector<std::string>{s2}));
  EXPECT_EQ(fourth->expired_kept, 2u);
  EXPECT_EQ(live_ids(env), (std::set<std::string>{s3a, s3b}));
  auto r = env.reader();
  EXPECT_EQ(scan_all(*r), (std::map<std::string, std::string>{{"s3a", "x"}, {"s3b", "x"}}));
  EXPECT_EQ(ret->run_cleanup().status().code(), Code::kFenced);
}

TEST(Retention, OwnFenceNeverFencesTheWriterOrTheCompactor) {
  EngineEnv env;
  auto w = object_writer(env);
  flush_at(env, *w, kT0, {{"a", "1"}});
  flush_at(env, *w, kT0, {{"b", "1"}});
  auto c = open_compactor(env, 2);
  auto r1 = open_retention(env, by_age(1h, 1));
  // Both keep committing after the retention claim.
  flush_at(env, *w, kT0 + kHour, {{"c", "1"}});
  ASSERT_TRUE(c->run_compaction().ok());
  EXPECT_FALSE(c->is_fenced());
  EXPECT_TRUE(w->status().ok());
  env.clock.set_ms(kT0 + 3 * kHour);
  auto removed = r1->run_cleanup();
  ASSERT_TRUE(removed.ok()) << removed.status().to_string();
  EXPECT_EQ(removed->removed.size(), 2u) << "the run of the moved a and b SSTs";
  // A second retention fences only the first.
  auto r2 = open_retention(env, by_age(1h, 1));
  flush_at(env, *w, kT0 + 3 * kHour, {{"d", "1"}});
  flush_at(env, *w, kT0 + 3 * kHour, {{"e", "1"}});
  ASSERT_TRUE(c->run_compaction().ok());
  EXPECT_EQ(r1->run_cleanup().status().code(), Code::kFenced);
  EXPECT_TRUE(r1->is_fenced());
  EXPECT_TRUE(r1->stats().fenced);
  EXPECT_FALSE(r2->is_fenced());
  ASSERT_TRUE(r2->run_cleanup().ok());
  // And a new writer or compactor does not fence the retention.
  ASSERT_TRUE(w->close().ok());
  auto w2 = object_writer(env);
  auto c2 = open_compactor(env, 2);
  flush_at(env, *w2, kT0 + 3 * kHour, {{"f", "1"}});
  env.clock.set_ms(kT0 + 10 * kHour);
  auto later = r2->run_cleanup();
  ASSERT_TRUE(later.ok()) << later.status().to_string();
  EXPECT_FALSE(r2->is_fenced());
  const ManifestState st = replay(env);
  EXPECT_EQ(st.fence(Role::kRetention).epoch, 2u);
  EXPECT_EQ(st.fence(Role::kWriter).epoch, 2u);
  EXPECT_EQ(st.fence(Role::kCompactor).epoch, 2u);
  expect_consistent(st);
  EXPECT_EQ(st.live_sst_count(), 1u) << "count 1";
}

// The compactor consumes the SSTs the retention picked, between its plan
// and its commit: the retention re-plans and removes the compaction's
// expired output instead.
TEST(RetentionRace, ReplansWhenACompactionConsumedPickedSsts) {
  EngineEnv env;
  auto w = object_writer(env);
  const std::string a = flush_at(env, *w, kT0, {{"a1", "x"}, {"a2", "x"}});
  const std::string b = flush_at(env, *w, kT0, {{"a1", "y"}, {"a3", "y"}});
  const std::string c = flush_at(env, *w, kT0 + 10 * kHour, {{"c1", "z"}});
  auto compactor = open_compactor(env, 3);
  auto hook = std::make_shared<HookStore>(env.store);
  auto ret = open_retention(env, by_age(5h, 1), hook);
  CompactionInfo compaction;
  hook->before_log_create = [&] {
    auto r = compactor->run_compaction();
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    compaction = *r;
  };
  auto info = ret->run_cleanup();
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  ASSERT_EQ(compaction.inputs.size(), 3u) << "the hook ran the compaction";
  ASSERT_EQ(compaction.outputs.size(), 2u);
  EXPECT_EQ(compaction.moved, (std::vector<std::string>{c}));
  const std::string merged = compaction.outputs[0] == c ? compaction.outputs[1] : compaction.outputs[0];
  EXPECT_EQ(info->replans, 1);
  EXPECT_EQ(info->removed, (std::vector<std::string>{merged}));
  const ManifestState st = replay(env);
  expect_consistent(st);
  EXPECT_EQ(live_ids(env), (std::set<std::string>{c}));
  EXPECT_EQ(st.entries_skipped, 0u) << "the stale plan was never committed";
  const RetentionStats stats = ret->stats();
  EXPECT_EQ(stats.ssts_removed, 1u);
  EXPECT_EQ(stats.replans, 1u);
  EXPECT_EQ(stats.errors, 0u);
  auto r = env.reader();
  EXPECT_EQ(scan_all(*r), (std::map<std::string, std::string>{{"c1", "z"}}));
  EXPECT_EQ(std::set<std::string>(compaction.inputs.begin(), compaction.inputs.end()),
            (std::set<std::string>{a, b, c}));
}

// The same race, but the compaction merged the expired SSTs with young
// data: nothing is expired any more, and that is not an error.
TEST(RetentionRace, FindsNothingToDoWhenTheCompactionMergedExpiredWithYoungData) {
  EngineEnv env;
  auto w = object_writer(env);
  flush_at(env, *w, kT0, {{"a1", "x"}, {"a2", "x"}});
  flush_at(env, *w, kT0, {{"a1", "y"}, {"a3", "y"}});
  flush_at(env, *w, kT0 + 10 * kHour, {{"a2", "z"}});
  auto compactor = open_compactor(env, 3);
  auto hook = std::make_shared<HookStore>(env.store);
  int cleanups_reported = 0;
  RetentionOptions o = by_age(5h, 1);
  o.on_cleanup = [&](const CleanupInfo&) { cleanups_reported++; };
  auto ret = open_retention(env, o, hook);
  bool compacted = false;
  hook->before_log_create = [&] { compacted = compactor->run_compaction().ok(); };
  auto info = ret->run_cleanup();
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  ASSERT_TRUE(compacted);
  EXPECT_EQ(info->replans, 1);
  EXPECT_TRUE(info->removed.empty());
  EXPECT_EQ(info->expired_kept, 0u);
  EXPECT_EQ(cleanups_reported, 0);
  EXPECT_EQ(ret->stats().ssts_removed, 0u);
  const ManifestState st = replay(env);
  expect_consistent(st);
  ASSERT_EQ(st.runs.size(), 1u);
  EXPECT_EQ(st.runs[0].ssts[0].max_write_ms, kT0 + 10 * kHour);
  auto r = env.reader();
  EXPECT_EQ(scan_all(*r), (std::map<std::string, std::string>{{"a1", "y"}, {"a2", "z"}, {"a3", "y"}}));
}

// The commit's response is lost and reading it back fails too: the cycle
// fails with the outcome unknown. The next cycle learns from the log
// whether it committed and counts it exactly once either way.
TEST(Retention, AnUnresolvedRemovalIsCountedOnceWhenALaterCycleLearnsItsFate) {
  for (bool landed : {true, false}) {
    SCOPED_TRACE(landed ? "the removal landed" : "the removal did not land");
    EngineEnv env;
    auto w = object_writer(env);
    const std::string s0 = flush_at(env, *w, kT0, {{"k0", "v"}});
    const std::string s1 = flush_at(env, *w, kT0 + kHour, {{"k1", "v"}});
    const std::string s2 = flush_at(env, *w, kT0 + 2 * kHour, {{"k2", "v"}});
    const uint64_t bytes = size_of(env, {s0, s1});
    std::vector<CleanupInfo> cleanups;
    std::vector<Status> errors;
    RetentionOptions o = by_age(1h, 1);
    o.on_cleanup = [&](const CleanupInfo& i) { cleanups.push_back(i); };
    o.on_cleanup_error = [&](const Status& s) { errors.push_back(s); };
    auto ret = open_retention(env, o);
    env.clock.set_ms(kT0 + 10 * kHour);
    std::atomic<bool> committed_once{false};
    FaultRule put = FaultRule::on(StoreOp::kPut)
                        .key_prefix("db/manifest/log/")
                        .when([&](const FaultContext&) { return committed_once.exchange(true) == false; });
    if (landed) {
      put.lose_response();
    } else {
      put.fail(Status::UnknownOutcome("injected: sent, no response"));
    }
    env.fault->add_rule(put);
    env.fault->add_rule(FaultRule::on(StoreOp::kGet)
                            .key_prefix("db/manifest/log/")
                            .when([&](const FaultContext&) { return committed_once.load(); })
                            .fail(Status::Permanent("injected: cannot read back")));
    auto failed = ret->run_cleanup();
    ASSERT_FALSE(failed.ok());
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_TRUE(cleanups.empty());
    EXPECT_EQ(ret->stats().ssts_removed, 0u) << "not known yet";
    EXPECT_EQ(ret->stats().errors, 1u);
    EXPECT_EQ(live_ids(env).size(), landed ? 1u : 3u);

    env.fault->clear_rules();
    auto info = ret->run_cleanup();
    ASSERT_TRUE(info.ok()) << info.status().to_string();
    EXPECT_EQ(info->removed, (std::vector<std::string>{s0, s1}));
    EXPECT_EQ(info->removed_bytes, bytes);
    ASSERT_EQ(cleanups.size(), 1u);
    EXPECT_EQ(cleanups[0].removed, info->removed);
    const RetentionStats st = ret->stats();
    EXPECT_EQ(st.ssts_removed, 2u);
    EXPECT_EQ(st.bytes_removed, bytes);
    EXPECT_EQ(st.cleanups, 1u);
    EXPECT_EQ(st.errors, 1u);
    EXPECT_EQ(live_ids(env), (std::set<std::string>{s2}));
    EXPECT_EQ(replay(env).entries_skipped, 0u);
    auto again = ret->run_cleanup();
    ASSERT_TRUE(again.ok());
    EXPECT_TRUE(again->removed.empty());
    EXPECT_EQ(ret->stats().ssts_removed, 2u);
  }
}

TEST(Retention, CallbacksAndStatsAreExact) {
  EngineEnv env;
  auto w = object_writer(env);
  const std::string s0 = flush_at(env, *w, kT0, {{"k0", "v"}});
  const std::string s1 = flush_at(env, *w, kT0 + kHour, {{"k1", "v"}});
  const std::string s2 = flush_at(env, *w, kT0 + 2 * kHour, {{"k2", "v"}});
  std::vector<CleanupInfo> cleanups;
  std::vector<Status> errors;
  RetentionOptions o = by_age(1h, 1);
  RetentionCompactor* self = nullptr;
  RetentionStats seen_in_callback;
  o.on_cleanup = [&](const CleanupInfo& i) {
    cleanups.push_back(i);
    seen_in_callback = self->stats();  // callbacks may read stats
  };
  o.on_cleanup_error = [&](const Status& s) { errors.push_back(s); };
  auto ret = open_retention(env, o);
  self = ret.get();

  env.clock.set_ms(kT0 + 30 * 60'000);
  ASSERT_TRUE(ret->run_cleanup().ok());
  EXPECT_TRUE(cleanups.empty()) << "nothing removed: no callback";

  env.clock.set_ms(kT0 + 2 * kHour);
  const uint64_t bytes = size_of(env, {s0, s1});
  auto info = ret->run_cleanup();
  ASSERT_TRUE(info.ok());
  ASSERT_EQ(cleanups.size(), 1u);
  const CleanupInfo& c = cleanups[0];
  EXPECT_EQ(c.mode, RetentionMode::kByAge);
  EXPECT_EQ(c.removed, (std::vector<std::string>{s0, s1}));
  EXPECT_EQ(c.removed_bytes, bytes);
  EXPECT_EQ(c.now_ms, kT0 + 2 * kHour);
  EXPECT_EQ(c.cutoff_ms, kT0 + kHour);
  EXPECT_EQ(c.expired_kept, 0u);
  EXPECT_EQ(c.replans, 0);
  EXPECT_EQ(c.log_position, replay(env).next_pos - 1);
  EXPECT_EQ(seen_in_callback.ssts_removed, 2u);
  EXPECT_EQ(info->removed, c.removed);

  env.clock.set_ms(kT0 + 10 * kHour);
  auto kept = ret->run_cleanup();
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->expired_kept, 1u);
  EXPECT_EQ(cleanups.size(), 1u);

  RetentionStats st = ret->stats();
  EXPECT_EQ(st.cleanups, 3u);
  EXPECT_EQ(st.errors, 0u);
  EXPECT_EQ(st.ssts_removed, 2u);
  EXPECT_EQ(st.bytes_removed, bytes);
  EXPECT_EQ(st.replans, 0u);
  EXPECT_EQ(st.last_cleanup_ms, kT0 + 10 * kHour);
  EXPECT_FALSE(st.fenced);
  EXPECT_TRUE(errors.empty());

  auto other = open_retention(env, o);
  EXPECT_EQ(ret->run_cleanup().status().code(), Code::kFenced);
  EXPECT_EQ(ret->run_cleanup().status().code(), Code::kFenced);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].code(), Code::kFenced);
  st = ret->stats();
  EXPECT_EQ(st.cleanups, 3u);
  EXPECT_EQ(st.errors, 2u);
  EXPECT_TRUE(st.fenced);
  EXPECT_EQ(live_ids(env), (std::set<std::string>{s2}));
}

TEST(Retention, BackgroundLoopCleansUntilFenced) {
  EngineEnv env;
  auto w = object_writer(env);
  const std::string s0 = flush_at(env, *w, kT0, {{"k0", "v"}});
  flush_at(env, *w, kT0 + kHour, {{"k1", "v"}});
  std::mutex mu;
  std::vector<CleanupInfo> cleanups;
  std::vector<Status> errors;
  RetentionOptions o = by_age(1h, 1);
  o.check_interval = 2ms;
  o.on_cleanup = [&](const CleanupInfo& i) {
    std::lock_guard lk(mu);
    cleanups.push_back(i);
  };
  o.on_cleanup_error = [&](const Status& s) {
    std::lock_guard lk(mu);
    errors.push_back(s);
  };
  auto ret = open_retention(env, o);
  ASSERT_TRUE(ret->start().ok());
  ASSERT_TRUE(ret->start().ok()) << "idempotent";
  env.clock.set_ms(kT0 + 2 * kHour);
  for (int i = 0; i < 2000 && ret->stats().ssts_removed == 0; i++) std::this_thread::sleep_for(2ms);
  EXPECT_EQ(ret->stats().ssts_removed, 1u);
  auto other = open_retention(env, o);
  for (int i = 0; i < 2000 && !ret->is_fenced(); i++) std::this_thread::sleep_for(2ms);
  EXPECT_TRUE(ret->is_fenced());
  std::this_thread::sleep_for(30ms);  // the loop has stopped: no more cycles
  ret->stop();
  std::lock_guard lk(mu);
  ASSERT_EQ(cleanups.size(), 1u);
  EXPECT_EQ(cleanups[0].removed, (std::vector<std::string>{s0}));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code(), Code::kFenced);
  EXPECT_EQ(ret->stats().errors, 1u);
}

TEST(Retention, WritesSnapshotsLikeTheCompactor) {
  EngineEnv env;
  auto w = object_writer(env);
  for (int i = 0; i < 4; i++) flush_at(env, *w, kT0 + i * kHour, {{"k" + std::to_string(i), "v"}});
  RetentionOptions o = by_age(1h, 1);
  o.snapshot_every = 3;
  auto ret = open_retention(env, o);
  EXPECT_EQ(replay(env).log_seq_start, 1u);
  env.clock.set_ms(kT0 + 10 * kHour);
  ASSERT_TRUE(ret->run_cleanup().ok());
  const ManifestState st = replay(env);
  EXPECT_GT(st.log_seq_start, 1u) << "a fresh process starts from the retention's snapshot";
  EXPECT_EQ(st.live_sst_count(), 1u);
}

// One fixed cleanup (open, claim, plan, commit, snapshot) on a database of
// five SSTs written an hour apart; expects exactly the three expired ones
// (of which none is kept by the floor of 2) gone. Returns the requests the
// retention made.
uint64_t run_retention_scenario(EngineEnv& env, const std::function<void()>& arm,
                                const std::string& where) {
  std::vector<std::string> s;
  {
    auto w = object_writer(env);
    for (int i = 0; i < 5; i++) {
      s.push_back(flush_at(env, *w, kT0 + i * kHour, {{"k" + std::to_string(i), "v" + std::to_string(i)}}));
    }
    EXPECT_TRUE(w->close().ok()) << where;
  }
  const uint64_t expired_bytes = size_of(env, {s[0], s[1], s[2]});
  env.clock.set_ms(kT0 + 12 * kHour);  // cutoff T0 + 2h
  env.metrics->reset();
  arm();

  RetentionOptions o = by_age(10h, 2);
  o.snapshot_every = 1;
  std::unique_ptr<RetentionCompactor> ret;
  for (int attempt = 0; !ret && attempt < 10; attempt++) {
    auto opened = RetentionCompactor::open(env.store, env.db_options, o);
    if (opened.ok()) {
      ret = std::move(*opened);
    } else {
      EXPECT_NE(opened.status().code(), Code::kCorruption) << where << opened.status().to_string();
    }
  }
  if (!ret) {
    ADD_FAILURE() << where << ": never opened";
    return 0;
  }
  Status last;
  bool done = false;
  for (int attempt = 0; !done && attempt < 10; attempt++) {
    auto r = ret->run_cleanup();
    done = r.ok();
    if (!r.ok()) last = r.status();
  }
  EXPECT_TRUE(done) << where << ": " << last.to_string();
  const uint64_t requests = env.metrics->snapshot().total().requests;
  env.fault->clear_rules();

  // Another cycle finds nothing more to do.
  auto again = ret->run_cleanup();
  EXPECT_TRUE(again.ok()) << where;
  if (again.ok()) {
    EXPECT_TRUE(again->removed.empty()) << where;
  }
  const ManifestState st = replay(env);
  expect_consistent(st);
  EXPECT_EQ(live_ids(env), (std::set<std::string>{s[3], s[4]})) << where;
  EXPECT_EQ(st.entries_skipped, 0u) << where;
  const RetentionStats stats = ret->stats();
  EXPECT_EQ(stats.ssts_removed, 3u) << where << ": counted exactly once";
  EXPECT_EQ(stats.bytes_removed, expired_bytes) << where;
  auto r = env.reader();
  if (r) {
    EXPECT_EQ(scan_all(*r), (std::map<std::string, std::string>{{"k3", "v3"}, {"k4", "v4"}})) << where;
  }
  return requests;
}

TEST(RetentionFaultSweep, EveryRequestFailedLostThrottledOrRefusedOneAtATime) {
  uint64_t total;
  {
    EngineEnv clean;
    total = run_retention_scenario(clean, [] {}, "clean run");
    ASSERT_FALSE(HasFailure());
    EXPECT_GT(replay(clean).log_seq_start, 1u) << "the snapshot path is part of the scenario";
  }
  ASSERT_GT(total, 8u);
  std::printf("retention scenario: %llu store requests, each faulted 4 ways\n",
              static_cast<unsigned long long>(total));
  enum Action { kFail, kLose, kThrottle, kPermanent };
  uint64_t fired = 0;
  for (uint64_t n = 1; n <= total; n++) {
    for (Action a : {kFail, kLose, kThrottle, kPermanent}) {
      EngineEnv env;
      size_t id = 0;
      auto arm = [&] {
        FaultRule rule = FaultRule::on_any().nth(n);
        switch (a) {
          case kFail: rule.fail(Status::Transient("injected")); break;
          case kLose: rule.lose_response(); break;
          case kThrottle: rule.fail(Status::Throttled("slow down")); break;
          // Not retried below the retention: its own error paths.
          case kPermanent: rule.fail(Status::Permanent("injected")); break;
        }
        id = env.fault->add_rule(rule);
      };
      run_retention_scenario(env, arm, "request " + std::to_string(n) + " action " + std::to_string(a));
      ASSERT_FALSE(HasFailure());
      fired += env.fault->fired(id);
    }
  }
  EXPECT_EQ(fired, total * 4) << "every request number exists in every variant";
}

}  // namespace
}  // namespace isle
