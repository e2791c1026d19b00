// CycleRunner: what compactord and retentiond share. A maintenance job is a
// "cycle" (one compaction, one GC pass, one retention cleanup) that runs
// every `interval` in the background and also on demand (POST /v1/run).
//
// Invariants:
//   * cycles of one runner never overlap: the background loop and run_now()
//     take the same mutex, so the library object is used by one thread at
//     a time;
//   * a cycle that reports more work waiting runs again at once;
//   * a Fenced cycle stops the runner for good and calls `fatal` (the
//     daemon exits 75: another process owns the role now);
//   * other errors are logged, counted and retried at the next interval.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>

#include "isle/status.h"
#include "util/background_loop.h"

namespace isle::server {

class Metrics;
class Counter;
class Histogram;

struct CycleResult {
  std::string json;   // the cycle's report (a JSON object)
  bool more = false;  // more work is waiting: run again at once
};

struct Cycle {
  std::string name;  // "compaction", "gc", "retention" (metrics label, logs)
  std::chrono::milliseconds interval{10'000};
  std::function<Result<CycleResult>()> run;
};

class CycleRunner {
 public:
  CycleRunner(Cycle cycle, Metrics& metrics, std::function<void(const Status&)> fenced);
  ~CycleRunner();  // stop()s
  void start();
  void stop();

  // Runs one cycle now (waiting for a running one to end first).
  Result<CycleResult> run_now();

  uint64_t cycles() const { return cycles_.load(); }
  uint64_t errors() const { return errors_.load(); }
  bool fenced() const { return fenced_.load(); }
  // The last cycle's report ("" before the first).
  std::string last_result() const;

 private:
  Result<CycleResult> run_locked();

  Cycle cycle_;
  std::function<void(const Status&)> on_fenced_;
  Counter* cycles_total_;
  Counter* errors_total_;
  Histogram* duration_;
  std::mutex run_mu_;
  mutable std::mutex result_mu_;
  std::string last_result_;
  std::atomic<uint64_t> cycles_{0};
  std::atomic<uint64_t> errors_{0};
  std::atomic<bool> fenced_{false};
  BackgroundLoop loop_;
};

}  // namespace isle::server
