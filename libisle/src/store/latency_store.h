// LatencyStore: a decorator that makes a fast store (mem://, file://)
// behave like a remote object store in time, for benchmarks: every request
// waits a random first-byte latency, and transferred bytes wait for a
// configured bandwidth.
//
// Model, per request:
//   * first-byte latency ~ lognormal with the profile's p50 and p99 (ms),
//     separately for reads (get, head, list) and writes (put, remove,
//     remove_batch). With m = ln(p50) and s = ln(p99/p50) / 2.3263 (the
//     standard normal 99th percentile), the sample is exp(m + s*Z). Samples
//     are capped at 60 s.
//   * transfer time = bytes / bandwidth: a put's data before the request is
//     applied (upload, then first byte of the response); a get's returned
//     data after the inner call (first byte, then download). Metadata-only
//     requests transfer nothing.
// The inner request runs after the upload and first-byte waits, so a
// write becomes visible at the moment its simulated response arrives.
//
// Deterministic for a seed and a given order of requests (one Random
// under a mutex); waits go through the injectable SleepFunction, so tests
// record them instead of sleeping. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>

#include "isle/object_store.h"
#include "store/sleep.h"
#include "util/random.h"

namespace isle {

struct LatencyProfile {
  double read_p50_ms = 0;   // first-byte latency of get/head/list
  double read_p99_ms = 0;
  double write_p50_ms = 0;  // first-byte latency of put/remove/remove_batch
  double write_p99_ms = 0;
  double read_bytes_per_sec = 0;   // download bandwidth; 0 = unlimited
  double write_bytes_per_sec = 0;  // upload bandwidth; 0 = unlimited

  // No added latency at all.
  static LatencyProfile none() { return {}; }

  // Same-region S3 Standard seen from one connection of an EC2 instance.
  // The numbers are assumptions chosen to sit inside commonly reported
  // ranges, not measurements of ours:
  //   reads:  p50 25 ms, p99 150 ms first byte (small-object GETs typically
  //           see tens of ms, with a tail of 100-200 ms);
  //   writes: p50 35 ms, p99 200 ms (a PUT is acknowledged only after it is
  //           stored durably, so it runs a little slower than a GET);
  //   bandwidth: 100 MB/s per connection each way (a single stream usually
  //           reaches 80-100 MB/s; more needs parallel connections).
  static LatencyProfile s3_standard() {
    return {25.0, 150.0, 35.0, 200.0, 100e6, 100e6};
  }
};

// One first-byte latency in milliseconds drawn from `rnd`: the lognormal
// with median p50 and 99th percentile p99 described above (0 when
// p50 <= 0; exactly p50 when p99 <= p50; capped at 60 s). Shared with
// tools/isle-proxy so that both draw delays the same way.
double sample_lognormal_ms(Random& rnd, double p50, double p99);

class LatencyStore : public ObjectStore {
 public:
  LatencyStore(ObjectStorePtr inner, LatencyProfile profile, uint64_t seed = 1,
               SleepFunction sleep = real_sleep);

  Result<GetResult> get(std::string_view key, const GetOptions& options = {}) override;
  Result<ObjectMeta> head(std::string_view key) override;
  Result<ObjectMeta> put(std::string_view key, std::string_view data,
                         const PutOptions& options = {}) override;
  Status remove(std::string_view key) override;
  Result<std::vector<DeleteOutcome>> remove_batch(const std::vector<std::string>& keys) override;
  Result<ListPage> list(const ListOptions& options) override;
  std::string url() const override { return inner_->url(); }

  const LatencyProfile& profile() const { return profile_; }
  // Sum of every wait requested so far, in microseconds.
  uint64_t total_delay_us() const { return total_delay_us_.load(std::memory_order_relaxed); }

  const ObjectStorePtr& inner() const { return inner_; }

 private:
  // Draws and waits one first-byte latency.
  void first_byte(bool write);
  // Waits for `bytes` at the read or write bandwidth.
  void transfer(uint64_t bytes, bool write);
  void wait(std::chrono::microseconds d);

  ObjectStorePtr inner_;
  const LatencyProfile profile_;
  SleepFunction sleep_;
  std::mutex mu_;
  Random rnd_;  // guarded by mu_
  std::atomic<uint64_t> total_delay_us_{0};
};

}  // namespace isle
