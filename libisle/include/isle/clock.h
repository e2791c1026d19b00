// Clock: the one place time comes from (public: DBOptions and
// ReaderOptions take one), so tests can inject a fake one
// (retention, grace periods and leases are all judged by a Clock).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace isle {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock unix time in milliseconds (for timestamps stored in objects).
  virtual int64_t now_ms() = 0;
  // Monotonic nanoseconds (for measuring durations; unrelated to now_ms).
  virtual int64_t mono_ns() = 0;

  // The process-wide real clock.
  static Clock* system();
};

// A clock that moves only when told to. Thread-safe.
class ManualClock : public Clock {
 public:
  explicit ManualClock(int64_t start_ms = 1'700'000'000'000) : ms_(start_ms) {}
  int64_t now_ms() override { return ms_.load(); }
  int64_t mono_ns() override { return ms_.load() * 1'000'000; }
  void advance_ms(int64_t d) { ms_.fetch_add(d); }
  void set_ms(int64_t v) { ms_.store(v); }

 private:
  std::atomic<int64_t> ms_;
};

}  // namespace isle
