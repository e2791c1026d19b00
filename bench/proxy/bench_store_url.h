// Benchmarks over a real store: $ISLE_BENCH_STORE_URL (a store URL as the
// daemons take it, e.g. "s3://isle-test?endpoint=http://127.0.0.1:17480&
// region=us-east-1&path_style=true", credentials from the environment)
// replaces the simulated S3 (LatencyStore over mem://) of BM_DurablePut
// (engine_bench.cc) and BM_TailLatency (tail_bench.cc). bench/proxy/
// rgw_latency.sh points it at isle-proxy in front of Ceph RGW.
//
// Each BenchStore is a fresh prefix ("bench-<random>/") of that store,
// removed object by object when the BenchStore goes, so runs neither see
// nor leave each other's data. Opening failures abort with the reason (a
// benchmark has no better way to report them).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

#include "isle/object_store.h"
#include "store/prefix_store.h"
#include "util/random.h"

namespace isle::bench {

// The URL, or "" when the variable is unset or empty.
inline std::string bench_store_url() {
  const char* url = std::getenv("ISLE_BENCH_STORE_URL");
  return url == nullptr ? std::string() : std::string(url);
}

class BenchStore {
 public:
  // Opens a fresh prefix of `url`.
  explicit BenchStore(const std::string& url) {
    auto s = open_object_store(url);
    if (!s.ok()) {
      std::fprintf(stderr, "ISLE_BENCH_STORE_URL=%s: %s\n", url.c_str(),
                   s.status().to_string().c_str());
      std::abort();
    }
    url_ = url;
    prefix_ = "bench-" + random_token().substr(0, 12);
    store_ = with_prefix(*s, prefix_);
  }
  ~BenchStore() {
    auto all = store_->list_all("");
    if (!all.ok()) return;
    std::vector<std::string> keys;
    for (const auto& m : *all) keys.push_back(m.key);
    for (size_t i = 0; i < keys.size(); i += 1000) {
      std::vector<std::string> part(keys.begin() + static_cast<long>(i),
                                    keys.begin() + static_cast<long>(std::min(keys.size(), i + 1000)));
      (void)store_->remove_batch(part);
    }
  }
  BenchStore(const BenchStore&) = delete;
  BenchStore& operator=(const BenchStore&) = delete;

  const ObjectStorePtr& store() const { return store_; }
  // Another client of the same prefix (its own connections, like a second
  // process).
  ObjectStorePtr open_view() const {
    auto s = open_object_store(url_);
    if (!s.ok()) std::abort();  // it opened a moment ago
    return with_prefix(*s, prefix_);
  }

 private:
  std::string url_, prefix_;
  ObjectStorePtr store_;
};

}  // namespace isle::bench
