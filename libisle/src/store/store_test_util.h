// Helpers shared by the store decorator tests: a fresh in-memory inner
// store, and a sleep function that records requested waits instead of
// sleeping (so no test depends on real time).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <vector>

#include "isle/object_store.h"
#include "store/sleep.h"

namespace isle::testing {

// A private mem:// store; fails the current test if it cannot be opened.
inline ObjectStorePtr mem_store() {
  auto s = open_object_store("mem://");
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  return s.ok() ? *s : nullptr;
}

// Records every requested sleep; thread-safe.
struct SleepRecorder {
  std::mutex mu;
  std::vector<int64_t> us;  // requested waits in microseconds, in call order

  SleepFunction fn() {
    return [this](std::chrono::microseconds d) {
      std::lock_guard lock(mu);
      us.push_back(d.count());
    };
  }
  // The recorded waits in milliseconds, ascending.
  std::vector<double> sorted_ms() {
    std::lock_guard lock(mu);
    std::vector<double> v;
    for (int64_t x : us) v.push_back(static_cast<double>(x) / 1000.0);
    std::sort(v.begin(), v.end());
    return v;
  }
};

}  // namespace isle::testing
