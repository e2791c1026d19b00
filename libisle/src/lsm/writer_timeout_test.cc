// Writer::flush / close / the destructor while the store is down: each
// returns (or finishes) within its deadline instead of waiting forever,
// names the sequences that are not committed, and — for flush and close —
// keeps them, so that a later flush or close commits them once the store is
// back.
//
// Every call under test runs behind a test-side guard: if it has not
// returned well after its deadline, the test fails with a message and the
// process exits (a stuck call cannot be abandoned any other way).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <future>

#include "lsm/engine_test_util.h"

namespace isle {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

// Runs `f` and returns its result, or fails the test and ends the process
// when it takes longer than `limit`.
template <typename F>
auto returns_within(std::chrono::seconds limit, const std::string& what, F f) {
  auto fut = std::async(std::launch::async, std::move(f));
  if (fut.wait_for(limit) != std::future_status::ready) {
    ADD_FAILURE() << what << " did not return within " << limit.count()
                  << " s while the store is down: it waits forever";
    std::fflush(stdout);
    std::fflush(stderr);
    std::_Exit(1);
  }
  return fut.get();
}

void take_store_down(testing::EngineEnv& env) {
  env.fault->add_rule(FaultRule::on(StoreOp::kPut).fail(Status::Transient("store is down")));
}

TEST(WriterTimeout, FlushAndCloseGiveUpAtTheDeadlineAndKeepTheData) {
  testing::EngineEnv env;
  auto w = env.writer();
  ASSERT_TRUE(w->put("a", "1").ok());
  ASSERT_TRUE(w->flush().ok());
  const uint64_t committed = w->stats().durable_seq;
  take_store_down(env);
  ASSERT_TRUE(w->put("b", "2").ok());
  ASSERT_TRUE(w->put("c", "3").ok());
  const std::string range =
      "seqs " + std::to_string(committed + 1) + ".." + std::to_string(committed + 2);

  auto t0 = SteadyClock::now();
  Status s = returns_within(10s, "flush(300ms)", [&] { return w->flush(300ms); });
  auto took = SteadyClock::now() - t0;
  EXPECT_EQ(s.code(), Code::kAborted) << s.to_string();
  EXPECT_NE(s.message().find(range + " not committed"), std::string::npos) << s.to_string();
  EXPECT_GE(took, 300ms);

  // Still buffered: a write after the failed flush is accepted too.
  ASSERT_TRUE(w->put("d", "4").ok());
  s = returns_within(10s, "close(300ms)", [&] { return w->close(300ms); });
  EXPECT_EQ(s.code(), Code::kAborted) << s.to_string();
  EXPECT_NE(s.message().find("seqs " + std::to_string(committed + 1) + ".." +
                             std::to_string(committed + 3) + " not committed"),
            std::string::npos)
      << s.to_string();
  EXPECT_EQ(w->put("e", "5").status().code(), Code::kAborted) << "closing: no new writes";
  EXPECT_EQ(*env.reader()->get("b"), std::nullopt) << "nothing committed while the store is down";

  // The store is back: the next close commits everything it kept.
  env.fault->clear_rules();
  ASSERT_TRUE(w->close().ok());
  EXPECT_EQ(w->stats().durable_seq, committed + 3);
  auto r = env.reader();
  EXPECT_EQ(*r->get("a"), "1");
  EXPECT_EQ(*r->get("b"), "2");
  EXPECT_EQ(*r->get("c"), "3");
  EXPECT_EQ(*r->get("d"), "4");
}

TEST(WriterTimeout, AFlushThatTimedOutCommitsOnceTheStoreIsBack) {
  testing::EngineEnv env;
  auto w = env.writer();
  take_store_down(env);
  ASSERT_TRUE(w->put("k", "v").ok());
  Status s = returns_within(10s, "flush(200ms)", [&] { return w->flush(200ms); });
  EXPECT_EQ(s.code(), Code::kAborted) << s.to_string();
  env.fault->clear_rules();
  // The writer kept retrying in the background; flush() waits for it.
  ASSERT_TRUE(returns_within(30s, "flush() with the store back", [&] { return w->flush(); }).ok());
  EXPECT_EQ(*env.reader()->get("k"), "v");
  ASSERT_TRUE(w->close().ok());
}

TEST(WriterTimeout, DestructorStopsAfterCloseTimeoutLikeACrash) {
  testing::EngineEnv env;
  WriterOptions o = env.writer_options();
  o.close_timeout = 300ms;
  auto w = env.writer(o);
  ASSERT_TRUE(w->put("kept", "1").ok());
  ASSERT_TRUE(w->flush().ok());
  take_store_down(env);
  ASSERT_TRUE(w->put("lost", "2").ok());
  auto t0 = SteadyClock::now();
  returns_within(10s, "~Writer with close_timeout 300ms", [&] {
    w.reset();
    return 0;
  });
  EXPECT_GE(SteadyClock::now() - t0, 300ms) << "it waits close_timeout first";

  // The buffered write is gone, as in a crash; the committed one is not,
  // and the next writer takes over normally.
  env.fault->clear_rules();
  auto r = env.reader();
  EXPECT_EQ(*r->get("kept"), "1");
  EXPECT_EQ(*r->get("lost"), std::nullopt);
  auto w2 = env.writer(o);
  ASSERT_NE(w2, nullptr);
  ASSERT_TRUE(w2->put("after", "3").ok());
  ASSERT_TRUE(w2->close().ok());
  EXPECT_EQ(*env.reader()->get("after"), "3");
}

}  // namespace
}  // namespace isle
