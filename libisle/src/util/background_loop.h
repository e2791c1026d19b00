// BackgroundLoop: one thread that calls a step again and again until
// stop() or until the step ends the loop. Used by every role with a
// "start() / stop()" background mode (compactor, retention, reader
// refresh, tailing reader refresh).
//
// Contract: the step returns how long to wait before its next call (zero =
// at once) or nullopt to end the loop (for example when fenced). stop()
// wakes a waiting thread at once, waits for a running step to return and
// joins; it is idempotent and safe from any thread but the loop's own.
// start() after stop() (or after the loop ended itself) starts a new
// thread; start() while running does nothing.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

namespace isle {

class BackgroundLoop {
 public:
  using Step = std::function<std::optional<std::chrono::milliseconds>()>;

  BackgroundLoop() = default;
  ~BackgroundLoop() { stop(); }
  BackgroundLoop(const BackgroundLoop&) = delete;
  BackgroundLoop& operator=(const BackgroundLoop&) = delete;

  // The first step runs after `first_wait`.
  void start(Step step, std::chrono::milliseconds first_wait) {
    std::thread old;
    {
      std::lock_guard lk(mu_);
      if (thread_.joinable() && !ended_) return;
      old = std::move(thread_);
      stopping_ = false;
      ended_ = false;
      thread_ = std::thread([this, step = std::move(step), first_wait] { run(step, first_wait); });
    }
    if (old.joinable()) old.join();  // a loop that had ended by itself
  }

  void stop() {
    std::thread t;
    {
      std::lock_guard lk(mu_);
      stopping_ = true;
      t = std::move(thread_);
    }
    cv_.notify_all();
    if (t.joinable()) t.join();
  }

  // True from start() until stop() or until the step ended the loop.
  bool running() const {
    std::lock_guard lk(mu_);
    return thread_.joinable() && !ended_;
  }

 private:
  void run(const Step& step, std::chrono::milliseconds wait) {
    std::unique_lock lk(mu_);
    for (;;) {
      cv_.wait_for(lk, wait, [&] { return stopping_; });
      if (stopping_) break;
      lk.unlock();
      std::optional<std::chrono::milliseconds> next = step();
      lk.lock();
      if (!next) break;
      wait = *next;
    }
    ended_ = true;
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool ended_ = false;
  std::thread thread_;
};

}  // namespace isle
