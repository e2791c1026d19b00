// BackgroundLoop: steps repeat with the returned wait, nullopt ends the
// loop, stop() wakes a long wait at once, start() after an end restarts.
#include "util/background_loop.h"

#include <gtest/gtest.h>

#include <atomic>

namespace isle {
namespace {

using namespace std::chrono_literals;

TEST(BackgroundLoop, StepsUntilTheStepEndsTheLoopAndRestarts) {
  BackgroundLoop loop;
  std::atomic<int> calls{0};
  auto step = [&]() -> std::optional<std::chrono::milliseconds> {
    return ++calls < 5 ? std::optional(0ms) : std::nullopt;
  };
  loop.start(step, 0ms);
  for (int i = 0; i < 500 && loop.running(); i++) std::this_thread::sleep_for(2ms);
  EXPECT_FALSE(loop.running());
  EXPECT_EQ(calls, 5);
  calls = 0;
  loop.start(step, 0ms);  // ended by itself: a new thread
  loop.stop();
  EXPECT_FALSE(loop.running());
}

TEST(BackgroundLoop, StopWakesALongWaitAndStartTwiceRunsOneThread) {
  BackgroundLoop loop;
  std::atomic<int> calls{0};
  auto step = [&]() -> std::optional<std::chrono::milliseconds> {
    ++calls;
    return std::optional(std::chrono::milliseconds(std::chrono::hours(1)));
  };
  loop.start(step, 0ms);
  loop.start(step, 0ms);
  for (int i = 0; i < 500 && calls == 0; i++) std::this_thread::sleep_for(2ms);
  EXPECT_TRUE(loop.running());
  const auto t0 = std::chrono::steady_clock::now();
  loop.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s) << "not the hour";
  EXPECT_EQ(calls, 1) << "one thread, one call before the hour-long wait";
  loop.stop();  // idempotent
}

}  // namespace
}  // namespace isle
