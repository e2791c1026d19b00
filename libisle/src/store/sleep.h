// SleepFunction: how the store decorators wait (backoff, simulated latency,
// injected delays). Tests inject a function that records the request, or
// advances a ManualClock, instead of sleeping, so nothing depends on real
// time.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace isle {

using SleepFunction = std::function<void(std::chrono::microseconds)>;

// Sleeps on the calling thread for the given duration.
inline void real_sleep(std::chrono::microseconds d) {
  if (d.count() > 0) std::this_thread::sleep_for(d);
}

}  // namespace isle
