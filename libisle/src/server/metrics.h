// Metrics: a small Prometheus registry for the daemons' /metrics, written
// in the text exposition format (version 0.0.4).
//
// Names follow Prometheus' lint rules, which promtool checks in the tests:
// every family has HELP and TYPE, counters end in _total, durations are in
// _seconds and sizes in _bytes, and no gauge is named *_count.
//
// Counters and histograms are updated on hot paths (lock-free adds);
// gauges and "collected" families are read from callbacks at scrape time,
// so role code reports its stats without keeping a second copy.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace isle::server {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(double v = 1);
  double value() const;
 private:
  std::atomic<double> v_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  struct Snapshot { std::vector<uint64_t> buckets; uint64_t count; double sum; };
  Snapshot snapshot() const;
  const std::vector<double>& bounds() const { return bounds_; }
 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // cumulative at render
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

// Latency buckets in seconds, 100 µs .. 10 s.
std::vector<double> default_latency_buckets();

class Metrics {
 public:
  Metrics();
  ~Metrics();  // out of line: Family is incomplete here

  // Returns the same instance for the same (name, labels). A name is one
  // family with one type and one help text. Registering a name again with
  // another type, or an invalid metric/label name, aborts (a programming
  // error); another help text for a known name is ignored.
  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& histogram(const std::string& name, const std::string& help, const Labels& labels = {},
                       std::vector<double> bounds = default_latency_buckets());
  // A gauge (or counter, with type "counter") whose value a callback reads
  // at scrape time.
  void callback(const std::string& name, const std::string& help, const std::string& type,
                const Labels& labels, std::function<double()> read);

  // The whole registry in the text format.
  std::string render() const;

 private:
  struct Family;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Family>> families_;
};

}  // namespace isle::server
