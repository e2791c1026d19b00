// RefreshGate's result: a caller gets OK once a refresh numbered at or
// above its target has succeeded, even if a later one failed before it
// woke; when every refresh from its target on failed, the latest failure.
// The threads are ordered by promises in the refresh function and by the
// gate's wait seam (a waiter is held back after waking), so the outcome
// does not depend on the scheduler.
#include "tail/refresh_gate.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>
#include <vector>

namespace isle {
namespace {

// Set by a thread that the gate should hold back after its first wait.
thread_local bool tl_pause = false;

// A gate whose refresh n returns results[n-1]; refresh 1 signals `entered`
// and blocks until `release`. The pausing thread, once woken from its first
// wait, signals `woke` and stays off the gate's lock until `resume`.
class ScriptedGate : public RefreshGate {
 public:
  explicit ScriptedGate(std::vector<Status> results)
      : RefreshGate([this] { return refresh(); }), results_(std::move(results)) {}

  std::promise<void> entered, release, waiting, woke, resume;

 protected:
  void wait_for_refresh(std::unique_lock<std::mutex>& lk) override {
    if (!tl_pause || paused_) {
      RefreshGate::wait_for_refresh(lk);
      return;
    }
    paused_ = true;
    waiting.set_value();  // its target is fixed; the lock is released by the wait
    RefreshGate::wait_for_refresh(lk);
    lk.unlock();
    woke.set_value();
    resume_future_.wait();
    lk.lock();
  }

 private:
  Status refresh() {
    const int n = calls_.fetch_add(1) + 1;
    if (n == 1) {
      entered.set_value();
      release_future_.wait();
    }
    return n <= static_cast<int>(results_.size()) ? results_[n - 1]
                                                  : Status::Aborted("unscripted refresh");
  }

  const std::vector<Status> results_;
  std::atomic<int> calls_{0};
  bool paused_ = false;
  std::shared_future<void> release_future_ = release.get_future().share();
  std::shared_future<void> resume_future_ = resume.get_future().share();
};

// Caller X joins refresh 1 (any() while it runs) and is held back after it
// finishes; the test then runs refresh 2 on its own thread; X looks last.
// Returns {X's status, refresh 1's caller's, refresh 2's caller's}.
struct Outcome {
  Status joined, first, second;
};
Outcome run_scripted(Status first, Status second) {
  ScriptedGate gate({first, second});
  Outcome o;
  std::thread y([&] { o.first = gate.fresh(); });
  gate.entered.get_future().wait();
  std::thread x([&] {
    tl_pause = true;
    o.joined = gate.any();
  });
  gate.waiting.get_future().wait();
  gate.release.set_value();
  y.join();
  gate.woke.get_future().wait();
  o.second = gate.fresh();  // refresh 2 runs here, after X's target finished
  EXPECT_EQ(gate.runs(), 2u);
  gate.resume.set_value();
  x.join();
  EXPECT_EQ(gate.runs(), 2u);  // X needed no refresh of its own
  return o;
}

TEST(RefreshGate, ASucceededTargetIsOkEvenIfALaterRefreshFailed) {
  Outcome o = run_scripted(Status::OK(), Status::IOError("refresh 2 failed"));
  EXPECT_TRUE(o.first.ok()) << o.first.to_string();
  EXPECT_EQ(o.second.code(), Code::kIOError);
  EXPECT_TRUE(o.joined.ok()) << o.joined.to_string();
}

TEST(RefreshGate, AFailedTargetIsOkOnceALaterRefreshSucceeded) {
  Outcome o = run_scripted(Status::IOError("refresh 1 failed"), Status::OK());
  EXPECT_EQ(o.first.code(), Code::kIOError);
  EXPECT_TRUE(o.second.ok()) << o.second.to_string();
  EXPECT_TRUE(o.joined.ok()) << o.joined.to_string();
}

TEST(RefreshGate, WhenEveryRefreshSinceTheTargetFailedTheLatestFailureIsReturned) {
  Outcome o =
      run_scripted(Status::IOError("refresh 1 failed"), Status::Transient("refresh 2 failed"));
  EXPECT_EQ(o.first.code(), Code::kIOError);
  EXPECT_EQ(o.second.code(), Code::kTransient);
  EXPECT_EQ(o.joined.code(), Code::kTransient) << o.joined.to_string();
  EXPECT_EQ(o.joined.message(), "refresh 2 failed");
}

// fresh() never counts a refresh that was running when it was called.
TEST(RefreshGate, FreshWaitsForARefreshStartedAfterTheCall) {
  ScriptedGate gate({Status::IOError("refresh 1 failed"), Status::OK()});
  Status first;
  std::thread y([&] { first = gate.fresh(); });
  gate.entered.get_future().wait();
  Status fresh;
  std::thread x([&] {
    tl_pause = true;
    fresh = gate.fresh();
  });
  gate.waiting.get_future().wait();  // x waits while refresh 1 runs
  gate.release.set_value();
  y.join();
  gate.woke.get_future().wait();
  gate.resume.set_value();
  x.join();
  EXPECT_EQ(first.code(), Code::kIOError);
  EXPECT_TRUE(fresh.ok()) << fresh.to_string();
  EXPECT_EQ(gate.runs(), 2u);
}

}  // namespace
}  // namespace isle
