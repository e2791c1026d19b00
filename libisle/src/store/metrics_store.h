// MetricsStore: a decorator that counts what every request costs — the
// cost model of an object-store engine is requests and bytes, so this is
// what benchmarks and the daemons' /metrics report.
//
// Per operation (StoreOp) it keeps: requests, errors (total and per Code),
// payload bytes read and written, keys touched by batch operations, and a
// latency histogram with fixed bucket bounds plus count and sum.
//
// What is counted, exactly:
//   * requests: every call, successful or not. remove_batch counts as one
//     request per call (a backend may split it into several HTTP requests).
//   * errors / errors_by_code: calls that returned a non-OK Status. A
//     remove_batch that returns per-key failures is a successful request.
//   * bytes_read: GetResult::data.size() of successful gets.
//   * bytes_written: the data size of every put attempt (the bytes are sent
//     whether or not the store accepts them).
//   * keys: remove_batch: keys asked to delete; list: objects returned.
//   * latency: wall time of the inner call, from the injected Clock's
//     mono_ns(), in microseconds.
//
// Thread-safe: all counters are relaxed atomics. snapshot() reads them one
// by one, so under concurrent traffic it is not an exact instant but every
// value in it is one that was really reached.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "isle/object_store.h"
#include "store/store_op.h"
#include "util/clock.h"

namespace isle {

// Number of Code values (index = static_cast<size_t>(code)).
inline constexpr size_t kCodeCount = static_cast<size_t>(Code::kStopped) + 1;

// Upper bounds (inclusive, milliseconds) of the latency buckets; one more
// bucket above the last bound counts everything slower.
// Sub-millisecond bounds matter for local disks and caches; the rest span
// object-store first-byte latencies up to request timeouts.
inline constexpr std::array<double, 18> kLatencyBoundsMs = {
    0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000};
inline constexpr size_t kLatencyBuckets = kLatencyBoundsMs.size() + 1;

// Plain counters of one operation.
struct OpStats {
  uint64_t requests = 0;
  uint64_t errors = 0;
  std::array<uint64_t, kCodeCount> errors_by_code{};
  uint64_t bytes_read = 0;
  uint64_t bytes_written = 0;
  uint64_t keys = 0;
  // Non-cumulative: bucket i counts latencies in (bound[i-1], bound[i]];
  // the last bucket counts latencies above the last bound.
  std::array<uint64_t, kLatencyBuckets> latency_buckets{};
  uint64_t latency_count = 0;
  uint64_t latency_sum_us = 0;

  uint64_t errors_of(Code code) const { return errors_by_code[static_cast<size_t>(code)]; }
  double mean_latency_ms() const;
  // Upper bound of the bucket that holds the q-quantile (0 < q <= 1), a
  // conservative estimate; 0 when there are no samples, +inf when it falls
  // in the overflow bucket.
  double latency_quantile_ms(double q) const;
  // Adds another OpStats field by field.
  void add(const OpStats& other);
};

// A copy of all counters at one moment.
struct StoreMetrics {
  std::array<OpStats, kStoreOpCount> ops{};

  const OpStats& op(StoreOp o) const { return ops[static_cast<size_t>(o)]; }
  OpStats total() const;
  // A fixed-width table, one row per operation plus a total, then the
  // error breakdown by code (only codes that occurred).
  std::string to_text() const;
};

// Index of the latency bucket for a duration in microseconds.
size_t latency_bucket_index(uint64_t micros);

class MetricsStore : public ObjectStore {
 public:
  // `clock` (not owned) times requests; nullptr means Clock::system().
  explicit MetricsStore(ObjectStorePtr inner, Clock* clock = nullptr);

  Result<GetResult> get(std::string_view key, const GetOptions& options = {}) override;
  Result<ObjectMeta> head(std::string_view key) override;
  Result<ObjectMeta> put(std::string_view key, std::string_view data,
                         const PutOptions& options = {}) override;
  Status remove(std::string_view key) override;
  Result<std::vector<DeleteOutcome>> remove_batch(const std::vector<std::string>& keys) override;
  Result<ListPage> list(const ListOptions& options) override;
  std::string url() const override { return inner_->url(); }

  StoreMetrics snapshot() const;
  // Sets every counter back to zero.
  void reset();
  std::string to_text() const { return snapshot().to_text(); }

  const ObjectStorePtr& inner() const { return inner_; }

 private:
  struct Counters {
    std::atomic<uint64_t> requests{0};
    std::atomic<uint64_t> errors{0};
    std::array<std::atomic<uint64_t>, kCodeCount> errors_by_code{};
    std::atomic<uint64_t> bytes_read{0};
    std::atomic<uint64_t> bytes_written{0};
    std::atomic<uint64_t> keys{0};
    std::array<std::atomic<uint64_t>, kLatencyBuckets> latency_buckets{};
    std::atomic<uint64_t> latency_count{0};
    std::atomic<uint64_t> latency_sum_us{0};
  };

  // Everything about one finished call.
  struct Sample {
    StoreOp op;
    Code code;
    int64_t start_ns;
    uint64_t bytes_read = 0;
    uint64_t bytes_written = 0;
    uint64_t keys = 0;
  };
  void record(const Sample& s);

  ObjectStorePtr inner_;
  Clock* clock_;
  std::array<Counters, kStoreOpCount> counters_;
};

}  // namespace isle
