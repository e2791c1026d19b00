// A tail starts from a view that holds every write acknowledged before it
// was opened (issue 14): keys mode delivers keys that landed below the
// tailer's last view, changes mode "from now" starts after them, a resumed
// changes tail sees them, and tails opened together share one refresh.
// The tailers here refresh every hour, so only the tail's own start can
// bring the new writes into its view.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "store/fault_store.h"
#include "tail/tail_test_util.h"

namespace isle {
namespace {

// A tailer whose background refresh (when started) and self-refresh of a
// waiting tail both wait an hour.
std::unique_ptr<TailingReader> slow_tailer(TailEnv& env, ObjectStorePtr store = nullptr) {
  ReaderOptions o = env.tail_options();
  o.refresh_interval = 1h;
  auto t = TailingReader::open(store ? store : env.store, o);
  EXPECT_TRUE(t.ok()) << t.status().to_string();
  return t.ok() ? std::move(*t) : nullptr;
}

// Runs a keys tail until `n` keys arrived or 10 s passed (then stop()).
std::vector<std::string> tail_keys(TailingReader& t, size_t n) {
  std::vector<std::string> keys;
  std::atomic<bool> done{false};
  std::thread watchdog([&] {
    for (int i = 0; i < 1000 && !done; i++) std::this_thread::sleep_for(10ms);
    if (!done) t.stop();
  });
  TailOptions o;
  o.mode = TailMode::kKeys;
  (void)t.tail(o, [&](const ChangeEvent& e) {
    keys.push_back(e.key);
    return keys.size() < n;
  });
  done = true;
  watchdog.join();
  return keys;
}

std::string show(const std::vector<std::string>& keys) {
  std::string s;
  for (const auto& k : keys) {
    for (char c : k) s += c == '\0' ? std::string("\\0") : std::string(1, c);
    s += " ";
  }
  return s;
}

TEST(TailFreshStart, AKeysTailDeliversKeysWrittenBelowTheTailersLastView) {
  for (bool started : {false, true}) {
    SCOPED_TRACE(started ? "with start()" : "without start()");
    TailEnv env;
    auto w = env.writer();
    ASSERT_TRUE(w->put("b", "v").ok());
    ASSERT_TRUE(w->flush().ok());
    auto t = slow_tailer(env);  // its view holds b
    if (started) {
      ASSERT_TRUE(t->start().ok());
    }
    const std::string a0("a\0", 2);
    for (const std::string& k : {std::string("aa"), a0, std::string("a")}) {
      ASSERT_TRUE(w->put(k, "v").ok());
    }
    ASSERT_TRUE(w->flush().ok());  // acknowledged: in the manifest
    std::vector<std::string> keys = tail_keys(*t, 4);
    EXPECT_EQ(keys, (std::vector<std::string>{"a", a0, "aa", "b"})) << show(keys);
    ASSERT_TRUE(w->close().ok());
  }
}

TEST(TailFreshStart, AChangesTailFromNowStartsAfterEveryAcknowledgedWrite) {
  TailEnv env;
  auto w = env.writer();
  ASSERT_TRUE(w->put("old", "1").ok());
  ASSERT_TRUE(w->flush().ok());
  auto t = slow_tailer(env);
  ASSERT_TRUE(w->put("before", "2").ok());
  ASSERT_TRUE(w->flush().ok());  // acknowledged before the tail opens

  std::vector<ChangeEvent> got;
  uint64_t after_seq = 0;
  bool wrote = false;
  std::atomic<bool> done{false};
  std::thread watchdog([&] {
    for (int i = 0; i < 1000 && !done; i++) std::this_thread::sleep_for(10ms);
    if (!done) t->stop();
  });
  // Once the tail has delivered its starting view (nothing, from now), a
  // new write is made and the view refreshed: that write is the first event.
  (void)t->tail(TailOptions{}, [&](const ChangeEvent& e) {
    got.push_back(e);
    return false;
  }, [&](uint64_t) {
    if (!wrote) {
      wrote = true;
      after_seq = *w->put("after", "3");
      EXPECT_TRUE(w->flush().ok());
      EXPECT_TRUE(t->refresh().ok());
    }
    return true;
  });
  done = true;
  watchdog.join();
  ASSERT_EQ(got.size(), 1u) << "no event within 10 s";
  EXPECT_EQ(got[0].key, "after") << "a write acknowledged before the tail opened was delivered "
                                    "as a change from now: seq "
                                 << got[0].seq;
  EXPECT_EQ(got[0].seq, after_seq);
  ASSERT_TRUE(w->close().ok());
}

TEST(TailFreshStart, AResumedChangesTailSeesWritesAcknowledgedBeforeIt) {
  TailEnv env;
  auto w = env.writer();
  ASSERT_TRUE(w->put("x", "1").ok());
  ASSERT_TRUE(w->flush().ok());
  auto t = slow_tailer(env);
  const uint64_t y = *w->put("y", "2");
  ASSERT_TRUE(w->flush().ok());
  TailOptions o;
  o.after_seq = y - 1;
  Collected c = collect(*t, o, y);
  ASSERT_EQ(c.events.size(), 1u) << "the resumed tail never saw seq " << y << "\n"
                                 << describe(c.events);
  EXPECT_EQ(c.events[0].key, "y");
  ASSERT_TRUE(w->close().ok());
}

// 16 tails opened at once while every log GET takes 200 ms: they share
// refreshes (the one running when they arrived does not count, the next
// one serves them all), so there are a few, not 16.
TEST(TailFreshStart, TailsOpenedTogetherShareOneRefresh) {
  TailEnv env;
  auto w = env.writer();
  ASSERT_TRUE(w->put("k0", "v").ok());
  ASSERT_TRUE(w->flush().ok());
  auto slow = std::make_shared<FaultStore>(env.store);
  auto t = slow_tailer(env, slow);
  const uint64_t k = *w->put("k", "v");
  ASSERT_TRUE(w->flush().ok());
  slow->add_rule(FaultRule::on(StoreOp::kGet)
                     .when([](const FaultContext& c) {
                       return c.key.find("manifest/log/") != std::string_view::npos;
                     })
                     .delay(200ms));
  const uint64_t before = t->reader_stats().refreshes;
  constexpr int kTails = 16;
  std::atomic<int> ready{0};
  std::atomic<int> delivered{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> tails;
  for (int i = 0; i < kTails; i++) {
    tails.emplace_back([&] {
      ready++;
      while (!go) std::this_thread::yield();
      TailOptions o;
      o.after_seq = k - 1;
      (void)t->tail(o, [&](const ChangeEvent& e) {
        if (e.key == "k") delivered++;
        return false;
      });
    });
  }
  while (ready < kTails) std::this_thread::yield();
  go = true;
  std::atomic<bool> done{false};
  std::thread watchdog([&] {
    for (int i = 0; i < 1000 && !done; i++) std::this_thread::sleep_for(10ms);
    if (!done) t->stop();
  });
  for (auto& th : tails) th.join();
  done = true;
  watchdog.join();
  const uint64_t refreshes = t->reader_stats().refreshes - before;
  EXPECT_EQ(delivered.load(), kTails) << "tails that never saw seq " << k;
  EXPECT_GE(refreshes, 1u);
  EXPECT_LE(refreshes, 3u) << kTails << " tails opened together ran " << refreshes << " refreshes";
  ASSERT_TRUE(w->close().ok());
}

}  // namespace
}  // namespace isle
