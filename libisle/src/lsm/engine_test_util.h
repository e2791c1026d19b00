// The test bench shared by the engine suites: a bucket (a fresh in-memory
// one by default, or any store given, e.g. a fresh bucket on a real S3 or
// Azure server) behind a fault-injection and a metrics decorator, a manual
// clock, and helpers that open writers and readers with test-friendly
// options (no background interval flushes, millisecond retry backoff).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "cloud/cloud_test_util.h"
#include "isle/db.h"
#include "store/fault_store.h"
#include "store/mem_store.h"
#include "store/metrics_store.h"
#include "store/prefix_store.h"

namespace isle::testing {

struct EngineEnv {
  ManualClock clock;
  // The raw bucket under the decorators.
  ObjectStorePtr bucket;
  std::shared_ptr<FaultStore> fault;
  std::shared_ptr<MetricsStore> metrics;
  ObjectStorePtr store;
  // The database's folder of the raw bucket, bypassing the decorators:
  // for tests that look at or damage objects directly.
  ObjectStorePtr scoped;
  DBOptions db_options;

  // `base`: the bucket; nullptr = a fresh MemStore (stamped by the system
  // clock). Injected delays do not sleep.
  explicit EngineEnv(uint64_t seed = 1, std::string prefix = "db", ObjectStorePtr base = nullptr) {
    db_options.prefix = std::move(prefix);
    db_options.clock = &clock;
    rebase(base ? std::move(base) : std::make_shared<MemStore>(), seed,
           [](std::chrono::microseconds) {});
  }

  // Puts the decorators (a new FaultStore with no rules, a new
  // MetricsStore) on another bucket; `sleep` serves injected delays.
  void rebase(ObjectStorePtr base, uint64_t seed, SleepFunction sleep) {
    bucket = std::move(base);
    fault = std::make_shared<FaultStore>(bucket, seed, std::move(sleep));
    metrics = std::make_shared<MetricsStore>(fault);
    store = metrics;
    scoped = with_prefix(bucket, db_options.prefix);
  }

  DB db() const {
    auto d = DB::open(store, db_options);
    EXPECT_TRUE(d.ok()) << d.status().to_string();
    return *d;
  }

  WriterOptions writer_options() const {
    WriterOptions o;
    o.flush_interval = std::chrono::hours(1);
    o.retry_backoff = std::chrono::milliseconds(1);
    o.min_flush_spacing = std::chrono::milliseconds(0);
    return o;
  }
  ReaderOptions reader_options() const {
    ReaderOptions o;
    o.prefix = db_options.prefix;
    o.clock = db_options.clock;
    o.retry_backoff = std::chrono::milliseconds(1);
    return o;
  }

  std::unique_ptr<Writer> writer() { return writer(writer_options()); }
  std::unique_ptr<Writer> writer(const WriterOptions& o) {
    auto w = db().open_writer(o);
    EXPECT_TRUE(w.ok()) << w.status().to_string();
    return w.ok() ? std::move(*w) : nullptr;
  }
  std::unique_ptr<Reader> reader() { return reader(reader_options()); }
  std::unique_ptr<Reader> reader(const ReaderOptions& o) {
    auto r = Reader::open(store, o);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? std::move(*r) : nullptr;
  }
};

// The real object-store servers the *Cloud* suites run on (a test
// parameter): each gives a fresh empty bucket per call, or NotSupported
// (with a message saying how to start it) when its variables are unset.
struct CloudServer {
  std::string name;  // "s3", "azblob": the test name suffix
  std::function<Result<ObjectStorePtr>()> fresh;
};
inline std::vector<CloudServer> cloud_servers() {
  return {{"s3", [] { return fresh_s3_store(); }}, {"azblob", [] { return fresh_azure_store(); }}};
}
inline std::string cloud_server_name(const ::testing::TestParamInfo<CloudServer>& info) {
  return info.param.name;
}
inline void PrintTo(const CloudServer& s, std::ostream* os) { *os << s.name; }

// Seeds of a property test on a real server: $ISLE_TEST_CLOUD_SEEDS, or
// `dflt` (small: every request is a network round trip). Not
// $ISLE_TEST_SEEDS, which asks the in-memory suites for thousands.
inline int cloud_seed_count(int dflt) {
  const char* v = std::getenv("ISLE_TEST_CLOUD_SEEDS");
  return v ? std::max(1, std::atoi(v)) : dflt;
}

// A fresh bucket on the parameter's server; GTEST_SKIPs the calling test
// with the server's message when it is not configured.
#define ISLE_FRESH_CLOUD_STORE_OR_SKIP(var, server)                           \
  ::isle::ObjectStorePtr var;                                                 \
  {                                                                           \
    auto fresh_ = (server).fresh();                                           \
    if (fresh_.status().code() == ::isle::Code::kNotSupported) {              \
      GTEST_SKIP() << fresh_.status().message();                              \
    }                                                                         \
    ASSERT_TRUE(fresh_.ok()) << (server).name << ": " << fresh_.status().to_string(); \
    var = *fresh_;                                                            \
  }

// The keys of a scan's result, in order (a failed scan is a test failure
// and no keys).
inline std::vector<std::string> keys_of(const Result<std::vector<KeyValue>>& r) {
  std::vector<std::string> out;
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  if (!r.ok()) return out;
  for (const auto& kv : *r) out.push_back(kv.key);
  return out;
}

}  // namespace isle::testing
