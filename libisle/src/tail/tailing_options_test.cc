// TailingReader's lifecycle and options: start() with default options,
// stop() ending tails with Stopped (channels too; close() stays Aborted),
// the per-tail poll interval and its validation, the on_refresh /
// on_refresh_error callbacks (and their threads), and reader().
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "store/fault_store.h"
#include "tail/tail_test_util.h"

namespace isle {
namespace {

// Polls `f` every 10 ms for up to 10 s.
bool eventually(const std::function<bool()>& f) {
  for (int i = 0; i < 1000; i++) {
    if (f()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return f();
}

// What the callbacks heard, and on which threads.
struct Heard {
  std::mutex mu;
  std::vector<uint64_t> positions;
  std::vector<Status> errors;
  std::set<std::thread::id> threads;
  TailingReaderOptions options() {
    TailingReaderOptions o;
    o.on_refresh = [this](uint64_t pos) {
      std::lock_guard lk(mu);
      positions.push_back(pos);
      threads.insert(std::this_thread::get_id());
    };
    o.on_refresh_error = [this](const Status& s) {
      std::lock_guard lk(mu);
      errors.push_back(s);
      threads.insert(std::this_thread::get_id());
    };
    return o;
  }
  size_t refreshes() {
    std::lock_guard lk(mu);
    return positions.size();
  }
};

TEST(TailingReader, StopEndsRunningTailsWithStoppedAndReadsStillWork) {
  TailEnv env;
  auto w = env.writer();
  ASSERT_TRUE(w->put("k", "v").ok());
  ASSERT_TRUE(w->flush().ok());
  auto t = env.tailer();
  EXPECT_TRUE(t->start().ok());
  EXPECT_TRUE(t->start().ok()) << "idempotent";
  Status result = Status::Aborted("not returned");
  std::atomic<bool> caught_up{false};
  std::thread tail([&] {
    result = t->tail(TailOptions{}, [](const ChangeEvent&) { return true; }, [&](uint64_t) {
      caught_up = true;
      return true;
    });
  });
  TailOptions from_start;
  from_start.after_seq = 0;
  auto stopped = t->subscribe(TailOptions{});
  auto closed = t->subscribe(TailOptions{});
  ASSERT_TRUE(stopped.ok() && closed.ok());
  ASSERT_TRUE(eventually([&] { return caught_up.load(); }));
  (*closed)->close();
  t->stop();
  tail.join();
  EXPECT_TRUE(result.is_stopped()) << result.to_string();
  auto r = (*stopped)->next(5s);
  EXPECT_TRUE(r.status().is_stopped()) << r.status().to_string();
  auto c = (*closed)->next(5s);
  EXPECT_EQ(c.status().code(), Code::kAborted) << "close() is the consumer's own end: "
                                               << c.status().to_string();

  // Reads still work; start() again; a tail the handler ends is OK.
  EXPECT_EQ(*t->get("k"), "v");
  EXPECT_EQ(t->scan("", "").value().size(), 1u);
  EXPECT_TRUE(t->start().ok()) << "restartable";
  Status ended = t->tail(from_start, [](const ChangeEvent&) { return false; });
  EXPECT_TRUE(ended.ok()) << ended.to_string();
  ASSERT_TRUE(w->close().ok());
}

TEST(TailingReader, StartWithDefaultOptionsRefreshesInTheBackground) {
  TailEnv env;
  auto w = env.writer();
  ReaderOptions zero = env.reader_options();  // refresh_interval 0
  ASSERT_EQ(zero.refresh_interval.count(), 0);
  Heard heard;
  auto t = TailingReader::open(env.store, zero, heard.options());
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  Status s = (*t)->start();
  ASSERT_TRUE(s.ok()) << s.to_string();
  ASSERT_TRUE(w->put("new", "v").ok());
  ASSERT_TRUE(w->flush().ok());
  // Nobody calls refresh(): the background refresh (every
  // kDefaultRefreshInterval) brings the write in.
  EXPECT_TRUE(eventually([&] { return (*t)->get("new").value() == "v"; }))
      << "start() with refresh_interval 0 never refreshed";
  std::lock_guard lk(heard.mu);
  EXPECT_FALSE(heard.positions.empty());
  EXPECT_EQ(heard.threads.count(std::this_thread::get_id()), 0u)
      << "background refreshes report from the background thread";
  ASSERT_TRUE(w->close().ok());
}

TEST(TailPollInterval, ATailWaitingAloneRefreshesAtItsOwnInterval) {
  TailEnv env;
  auto w = env.writer();
  ASSERT_TRUE(w->put("k0", "v").ok());
  ASSERT_TRUE(w->flush().ok());
  ReaderOptions o = env.tail_options();
  o.refresh_interval = 1h;  // the reader's own pace would never come
  auto t = TailingReader::open(env.store, o);
  ASSERT_TRUE(t.ok());
  TailOptions to;
  to.poll_interval = 10ms;
  bool wrote = false;
  std::vector<std::string> got;
  std::atomic<bool> done{false};
  std::thread watchdog([&] {
    for (int i = 0; i < 1000 && !done; i++) std::this_thread::sleep_for(10ms);
    if (!done) (*t)->stop();
  });
  Status s = (*t)->tail(to, [&](const ChangeEvent& e) {
    got.push_back(e.key);
    return false;
  }, [&](uint64_t) {
    if (!wrote) {  // caught up on the starting view: a write only a poll can bring in
      wrote = true;
      EXPECT_TRUE(w->put("new", "v").ok());
      EXPECT_TRUE(w->flush().ok());
    }
    return true;
  });
  done = true;
  watchdog.join();
  EXPECT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(got, std::vector<std::string>{"new"});
  ASSERT_TRUE(w->close().ok());
}

TEST(TailPollInterval, IsValidatedAboveZeroAndAtMostAnHour) {
  TailEnv env;
  auto w = env.writer();
  ASSERT_TRUE(w->put("k", "v").ok());
  ASSERT_TRUE(w->flush().ok());
  auto t = env.tailer();
  auto none = [](const ChangeEvent&) { return false; };
  TailOptions o;
  o.mode = TailMode::kKeys;
  for (auto bad : {0ms, -5ms, std::chrono::milliseconds(TailingReader::kMaxPollInterval + 1ms)}) {
    o.poll_interval = bad;
    Status s = t->tail(o, none);
    EXPECT_TRUE(s.is_invalid_argument()) << bad.count() << " ms: " << s.to_string();
    EXPECT_TRUE(t->subscribe(o).status().is_invalid_argument()) << bad.count() << " ms";
  }
  for (auto good : {1ms, TailingReader::kMaxPollInterval}) {
    o.poll_interval = good;
    Status s = t->tail(o, none);
    EXPECT_TRUE(s.ok()) << good.count() << " ms: " << s.to_string();
  }
  ASSERT_TRUE(w->close().ok());
}

TEST(TailRefreshCallbacks, OnRefreshHearsTheLogPositionAndOnRefreshErrorTheStatus) {
  TailEnv env;
  auto w = env.writer();
  ASSERT_TRUE(w->put("k", "v").ok());
  ASSERT_TRUE(w->flush().ok());
  auto faulty = std::make_shared<FaultStore>(env.store);
  ReaderOptions o = env.tail_options();
  o.refresh_interval = 1h;
  Heard heard;
  auto opened = TailingReader::open(faulty, o, heard.options());
  ASSERT_TRUE(opened.ok());
  TailingReader& t = **opened;
  EXPECT_EQ(heard.refreshes(), 0u) << "open is not a refresh the callbacks hear";

  // refresh(): on the caller's thread, with the view's log position.
  ASSERT_TRUE(w->put("k2", "v").ok());
  ASSERT_TRUE(w->flush().ok());
  ASSERT_TRUE(t.refresh().ok());
  {
    std::lock_guard lk(heard.mu);
    ASSERT_EQ(heard.positions.size(), 1u);
    EXPECT_EQ(heard.positions[0], t.manifest().log_position);
    EXPECT_EQ(heard.threads, std::set<std::thread::id>{std::this_thread::get_id()});
  }
  // A tail's starting refresh is heard too.
  TailOptions keys;
  keys.mode = TailMode::kKeys;
  ASSERT_TRUE(t.tail(keys, [](const ChangeEvent&) { return false; }).ok());
  EXPECT_EQ(heard.refreshes(), 2u);

  // A failing refresh: on_refresh_error hears the status refresh() returns.
  const size_t rule = faulty->add_rule(
      FaultRule::on(StoreOp::kGet)
          .when([](const FaultContext& c) { return c.key.find("manifest/log/") != std::string_view::npos; })
          .fail(Status::Permanent("injected")));
  Status failed = t.refresh();
  EXPECT_EQ(failed.code(), Code::kPermanent) << failed.to_string();
  {
    std::lock_guard lk(heard.mu);
    ASSERT_EQ(heard.errors.size(), 1u);
    EXPECT_EQ(heard.errors[0].code(), Code::kPermanent);
    EXPECT_EQ(heard.positions.size(), 2u) << "a failed refresh is not reported as a success";
  }
  faulty->remove_rule(rule);
  ASSERT_TRUE(t.refresh().ok());
  EXPECT_EQ(heard.refreshes(), 3u);
  ASSERT_TRUE(w->close().ok());
}

TEST(TailingReader, ReaderSharesTheTailsView) {
  TailEnv env;
  auto w = env.writer();
  ASSERT_TRUE(w->put("k", "v").ok());
  ASSERT_TRUE(w->flush().ok());
  auto t = env.tailer();
  Reader& r = t->reader();
  EXPECT_EQ(&r, &t->reader());
  EXPECT_EQ(r.get("k").value(), "v");
  ASSERT_TRUE(w->put("k", "v2").ok());
  ASSERT_TRUE(w->flush().ok());
  EXPECT_EQ(r.get("k").value(), "v") << "the view moves only when the tailer refreshes";
  ASSERT_TRUE(t->refresh().ok());
  EXPECT_EQ(r.get("k").value(), "v2");
  EXPECT_EQ(r.manifest().log_position, t->manifest().log_position);
  ASSERT_TRUE(w->close().ok());
}

}  // namespace
}  // namespace isle
