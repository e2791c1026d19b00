// The test bench shared by the engine suites: an in-memory bucket behind a
// fault-injection and a metrics decorator, a manual clock, and helpers that
// open writers and readers with test-friendly options (no background
// interval flushes, millisecond retry backoff).
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "isle/db.h"
#include "store/fault_store.h"
#include "store/mem_store.h"
#include "store/metrics_store.h"
#include "store/prefix_store.h"

namespace isle::testing {

struct EngineEnv {
  ManualClock clock;
  std::shared_ptr<MemStore> mem = std::make_shared<MemStore>();
  std::shared_ptr<FaultStore> fault;
  std::shared_ptr<MetricsStore> metrics;
  ObjectStorePtr store;
  // The database's folder of the raw bucket, bypassing the decorators:
  // for tests that look at or damage objects directly.
  ObjectStorePtr scoped;
  DBOptions db_options;

  explicit EngineEnv(uint64_t seed = 1, std::string prefix = "db")
      : fault(std::make_shared<FaultStore>(mem, seed, [](std::chrono::microseconds) {})),
        metrics(std::make_shared<MetricsStore>(fault)),
        store(metrics),
        scoped(with_prefix(mem, prefix)) {
    db_options.prefix = std::move(prefix);
    db_options.clock = &clock;
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

}  // namespace isle::testing
