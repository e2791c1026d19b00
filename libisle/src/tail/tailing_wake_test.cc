// The tailer's path (issue 15): a tail is woken as each log entry is
// applied, not when the refresh's final probe (a 404) returns; the SSTs
// of the data entries one walk finds are fetched concurrently; an idle
// tailer with start() and default options costs one log probe per
// second; the log entries of one refresh are read ahead in parallel.
// (The adaptive schedule's exact probe counts are in
// util/poll_schedule_test.cc; the read-ahead's rules in
// lsm/read_ahead_log_test.cc.)
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "manifest/manifest_types.h"
#include "store/mem_store.h"
#include "tail/tail_test_util.h"
#include "util/random.h"

namespace isle {
namespace {

// Passes every request but GET straight to `inner`; a subclass defines
// get().
class GetHookStore : public ObjectStore {
 public:
  explicit GetHookStore(ObjectStorePtr inner) : inner_(std::move(inner)) {}

  Result<ObjectMeta> head(std::string_view key) override { return inner_->head(key); }
  Result<ObjectMeta> put(std::string_view key, std::string_view data,
                         const PutOptions& options = {}) override {
    return inner_->put(key, data, options);
  }
  Status remove(std::string_view key) override { return inner_->remove(key); }
  Result<std::vector<DeleteOutcome>> remove_batch(const std::vector<std::string>& keys) override {
    return inner_->remove_batch(keys);
  }
  Result<ListPage> list(const ListOptions& options) override { return inner_->list(options); }
  std::string url() const override { return inner_->url(); }

 protected:
  ObjectStorePtr inner_;
};

// Passes requests through; a GET of a key ending in `held` waits until
// release() (or 20 s, so that a broken test cannot hang).
class HoldingStore : public GetHookStore {
 public:
  explicit HoldingStore(ObjectStorePtr inner) : GetHookStore(std::move(inner)) {}

  void hold(std::string suffix) {
    std::lock_guard lk(mu_);
    held_ = std::move(suffix);
  }
  void release() {
    std::lock_guard lk(mu_);
    released_ = true;
    cv_.notify_all();
  }
  // Whether a GET of the held key is waiting now.
  bool holding() {
    std::lock_guard lk(mu_);
    return waiting_ > 0;
  }
  bool released() {
    std::lock_guard lk(mu_);
    return released_;
  }

  Result<GetResult> get(std::string_view key, const GetOptions& options = {}) override {
    {
      std::unique_lock lk(mu_);
      if (!held_.empty() && key.ends_with(held_) && !released_) {
        waiting_++;
        cv_.wait_for(lk, std::chrono::seconds(20), [&] { return released_; });
        waiting_--;
      }
    }
    return inner_->get(key, options);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::string held_;
  bool released_ = false;
  int waiting_ = 0;
};

// Passes requests through; GETs of keys containing `what` (SSTs by
// default) take `delay` each and the most that were in flight at once is
// recorded. Every GET is counted.
class OverlapStore : public GetHookStore {
 public:
  OverlapStore(ObjectStorePtr inner, std::chrono::milliseconds delay,
               std::string what = "sstable/")
      : GetHookStore(std::move(inner)), delay_(delay), what_(std::move(what)) {}

  int max_sst_gets_in_flight() const { return max_in_flight_; }
  uint64_t gets() const { return gets_; }
  uint64_t log_gets() const { return log_gets_; }

  Result<GetResult> get(std::string_view key, const GetOptions& options = {}) override {
    gets_++;
    if (key.find("manifest/log/") != std::string_view::npos) log_gets_++;
    if (key.find(what_) == std::string_view::npos) return inner_->get(key, options);
    const int now = ++in_flight_;
    for (int m = max_in_flight_; now > m && !max_in_flight_.compare_exchange_weak(m, now);) {
    }
    std::this_thread::sleep_for(delay_);
    auto r = inner_->get(key, options);
    in_flight_--;
    return r;
  }

 private:
  const std::chrono::milliseconds delay_;
  const std::string what_;
  std::atomic<int> in_flight_{0}, max_in_flight_{0};
  std::atomic<uint64_t> gets_{0}, log_gets_{0};
};

// Waits up to 10 s for f().
bool within_10s(const std::function<bool()>& f) {
  for (int i = 0; i < 1000 && !f(); i++) std::this_thread::sleep_for(10ms);
  return f();
}

// A tailer over `store` that never refreshes by itself (an hour).
std::unique_ptr<TailingReader> quiet_tailer(TailEnv& env, ObjectStorePtr store) {
  ReaderOptions o = env.tail_options();
  o.refresh_interval = 1h;
  auto t = TailingReader::open(std::move(store), o);
  EXPECT_TRUE(t.ok()) << t.status().to_string();
  return t.ok() ? std::move(*t) : nullptr;
}

// The refresh applies the new entry at position P, then probes P + 1,
// which the store holds: the tail must deliver the write while that probe
// is still waiting.
void expect_woken_before_the_final_probe(TailMode mode) {
  TailEnv env;
  auto w = env.writer();
  ASSERT_TRUE(w->put("k0", "v0").ok());
  ASSERT_TRUE(w->flush().ok());
  auto holding = std::make_shared<HoldingStore>(env.store);
  auto t = quiet_tailer(env, holding);
  const uint64_t p = t->manifest().log_position;
  holding->hold(log_key(p + 1));
  const uint64_t k1 = *w->put("k1", "v1");
  ASSERT_TRUE(w->flush().ok());

  std::atomic<bool> got{false}, got_while_held{false};
  std::thread tail([&] {
    TailOptions o;
    o.mode = mode;
    o.refresh_first = false;  // no starting refresh: the one below brings k1
    if (mode == TailMode::kKeys) o.after_key = "k0";
    if (mode == TailMode::kChanges) o.after_seq = k1 - 1;
    Status s = t->tail(o, [&](const ChangeEvent& e) {
      EXPECT_EQ(e.key, "k1");
      EXPECT_EQ(e.value, "v1");
      if (mode == TailMode::kChanges) {
        EXPECT_EQ(e.seq, k1);
      }
      got_while_held = !holding->released();
      got = true;
      return false;
    });
    EXPECT_TRUE(s.ok()) << s.to_string();
  });
  std::thread refresher([&] { EXPECT_TRUE(t->refresh().ok()); });
  // The final probe is held until the tail got the write (or 10 s).
  const bool delivered = within_10s([&] { return got.load(); });
  const bool probe_held = within_10s([&] { return holding->holding(); });
  holding->release();
  refresher.join();
  if (!delivered) t->stop();
  tail.join();
  EXPECT_TRUE(probe_held) << "the refresh never reached the probe of " << log_key(p + 1);
  EXPECT_TRUE(delivered && got_while_held)
      << "the tail did not get k1 while the refresh's final probe (" << log_key(p + 1)
      << ") was held: it was woken only when the refresh ended";
  ASSERT_TRUE(w->close().ok());
}

TEST(TailWake, AChangesTailIsWokenBeforeTheRefreshsFinalProbeReturns) {
  expect_woken_before_the_final_probe(TailMode::kChanges);
}

TEST(TailWake, AKeysTailIsWokenBeforeTheRefreshsFinalProbeReturns) {
  expect_woken_before_the_final_probe(TailMode::kKeys);
}

// A plain Reader's refresh installs each applied entry at once too: a get
// from another thread sees it while the final probe is held.
TEST(TailWake, AReaderServesAnAppliedEntryBeforeTheRefreshEnds) {
  TailEnv env;
  auto w = env.writer();
  ASSERT_TRUE(w->put("k0", "v0").ok());
  ASSERT_TRUE(w->flush().ok());
  auto holding = std::make_shared<HoldingStore>(env.store);
  auto r = env.reader();
  auto held_reader = Reader::open(holding, env.reader_options());
  ASSERT_TRUE(held_reader.ok());
  const uint64_t p = (*held_reader)->manifest().log_position;
  holding->hold(log_key(p + 1));
  ASSERT_TRUE(w->put("k1", "v1").ok());
  ASSERT_TRUE(w->flush().ok());
  std::thread refresher([&] { EXPECT_TRUE((*held_reader)->refresh().ok()); });
  const bool seen = within_10s([&] {
    auto g = (*held_reader)->get("k1");
    return g.ok() && g->has_value();
  });
  const bool held = within_10s([&] { return holding->holding(); });
  holding->release();
  refresher.join();
  EXPECT_TRUE(seen && held) << "k1 was not readable while the final probe was held";
  ASSERT_TRUE(w->close().ok());
}

// Four flushes land while the tailer is not looking; a tail resumed before
// them walks four data entries in one go and must have their SST GETs (200
// ms each) overlap. Values are large and random so that each flush is an
// ordinary SST object (not inline data, not compressible to nothing).
TEST(TailPrefetch, TheSstsOfOneWalkAreFetchedConcurrently) {
  TailEnv env;
  auto w = env.writer();
  ASSERT_TRUE(w->put("k0", "v0").ok());
  ASSERT_TRUE(w->flush().ok());
  auto overlap = std::make_shared<OverlapStore>(env.store, 200ms);
  auto t = quiet_tailer(env, overlap);
  const uint64_t from = t->manifest().data_seq;
  Random rnd(7);
  Expected want;
  for (int i = 0; i < 4; i++) {
    std::string v(100 * 1024, '\0');
    for (char& c : v) c = static_cast<char>(rnd.next() & 0xff);
    const std::string k = "big" + std::to_string(i);
    want.put(*w->put(k, v), k, v);
    ASSERT_TRUE(w->flush().ok());
  }
  TailOptions o;
  o.after_seq = from;
  Collected c = collect(*t, o, want.last());
  EXPECT_TRUE(c.status.ok()) << c.status.to_string();
  EXPECT_EQ(c.events, want.events) << describe(c.events);
  EXPECT_GE(overlap->max_sst_gets_in_flight(), 2)
      << "the four SSTs were fetched one at a time";
  EXPECT_EQ(t->stats().sst_reads, 4u) << "each SST is fetched exactly once";
  ASSERT_TRUE(w->close().ok());
}

// Four flushes land while the tailer is not looking; one refresh reads
// their log entries, each GET taking 100 ms: the entries after the first
// are read ahead, in parallel, not one round trip each.
TEST(TailReadAhead, TheLogEntriesOfOneRefreshAreReadConcurrently) {
  TailEnv env;
  auto w = env.writer();
  ASSERT_TRUE(w->put("k0", "v0").ok());
  ASSERT_TRUE(w->flush().ok());
  auto overlap = std::make_shared<OverlapStore>(env.store, 100ms, "manifest/log/");
  auto t = quiet_tailer(env, overlap);
  const uint64_t from = t->manifest().log_position;
  Expected want;
  for (int i = 0; i < 4; i++) {
    const std::string k = "k" + std::to_string(i + 1);
    want.put(*w->put(k, "v"), k, "v");
    ASSERT_TRUE(w->flush().ok());
  }
  ASSERT_TRUE(t->refresh().ok());
  EXPECT_GE(t->manifest().log_position, from + 4);
  EXPECT_GE(overlap->max_sst_gets_in_flight(), 2) << "the log entries were read one at a time";
  TailOptions o;
  o.after_seq = want.events.front().seq - 1;
  o.refresh_first = false;
  Collected c = collect(*t, o, want.last());
  EXPECT_TRUE(c.status.ok()) << c.status.to_string();
  EXPECT_EQ(c.events, want.events) << describe(c.events);
  ASSERT_TRUE(w->close().ok());
}

// start() with default options (refresh_interval 0 = 1 s idle, default
// lease 30 s) and a changes tail waiting: over 3.5 s without writes, at
// most one log probe per second (3, or 4 with a slow scheduler) and no
// other GET. An upper bound only: a slow machine can only lower it.
TEST(TailIdle, AnIdleTailerWithDefaultsProbesOncePerSecond) {
  TailEnv env;
  auto w = env.writer();
  ASSERT_TRUE(w->put("k0", "v0").ok());
  ASSERT_TRUE(w->flush().ok());
  ASSERT_TRUE(w->close().ok());
  auto counting = std::make_shared<OverlapStore>(env.store, 0ms);
  ReaderOptions o;
  o.prefix = env.db_options.prefix;
  auto t = TailingReader::open(counting, o);
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  auto ch = (*t)->subscribe(TailOptions{});
  ASSERT_TRUE(ch.ok());
  ASSERT_TRUE((*t)->start().ok());
  // The channel's starting refresh has run once its tail waits.
  std::this_thread::sleep_for(100ms);
  const uint64_t gets0 = counting->gets(), log0 = counting->log_gets();
  std::this_thread::sleep_for(3500ms);
  const uint64_t gets = counting->gets() - gets0, logs = counting->log_gets() - log0;
  (*t)->stop();
  EXPECT_LE(logs, 4u) << "log probes in 3.5 s idle";
  EXPECT_EQ(gets, logs) << "only log probes while idle (CURRENT once per 30 s lease)";
  EXPECT_GE(logs, 1u) << "the background refresh never probed";
}

}  // namespace
}  // namespace isle
