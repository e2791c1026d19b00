// Fixtures shared by the TailingReader tests: an engine environment with
// tailer and compactor/GC helpers, a tail collector with a watchdog, and
// the expected change list. Test-only; every helper is inline.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "isle/compactor.h"
#include "isle/gc.h"
#include "isle/tailing_reader.h"
#include "lsm/engine_test_util.h"

namespace isle {

using namespace std::chrono_literals;

struct TailEnv : testing::EngineEnv {
  explicit TailEnv(uint64_t seed = 1) : EngineEnv(seed) {}

  // The change-feed tests read, damage and count SST objects, which an
  // inline flush does not have: here flushes are SST objects unless a test
  // turns inline flushes on (tailing_inline_test.cc covers those).
  WriterOptions writer_options() const {
    WriterOptions o = EngineEnv::writer_options();
    o.inline_flush_max_bytes = 0;
    return o;
  }
  using EngineEnv::writer;
  std::unique_ptr<Writer> writer() { return EngineEnv::writer(writer_options()); }

  ReaderOptions tail_options() const {
    ReaderOptions o = reader_options();
    o.refresh_interval = 5ms;
    return o;
  }
  std::unique_ptr<TailingReader> tailer() {
    auto t = TailingReader::open(store, tail_options());
    EXPECT_TRUE(t.ok()) << t.status().to_string();
    return t.ok() ? std::move(*t) : nullptr;
  }
  std::unique_ptr<Compactor> compactor() {
    CompactorOptions o;
    o.l0_threshold = 2;
    o.min_sources = 2;
    o.retry_backoff = 1ms;
    o.snapshot_every = 3;
    auto c = Compactor::open(store, db_options, o);
    EXPECT_TRUE(c.ok()) << c.status().to_string();
    return c.ok() ? std::move(*c) : nullptr;
  }
  std::unique_ptr<GarbageCollector> gc(std::chrono::milliseconds change_retention) {
    GcOptions o;
    o.prefix = db_options.prefix;
    o.clock = &clock;
    o.grace = 60s;
    o.change_retention = change_retention;
    auto g = GarbageCollector::open(store, o);
    EXPECT_TRUE(g.ok()) << g.status().to_string();
    return g.ok() ? std::move(*g) : nullptr;
  }
};

// Runs a tail until an event with seq >= until_seq arrived (or a 20 s
// watchdog stops the reader, which the caller's checks then catch).
struct Collected {
  Status status;
  std::vector<ChangeEvent> events;
};
inline Collected collect(TailingReader& t, const TailOptions& o, uint64_t until_seq,
                  size_t max_events = SIZE_MAX) {
  Collected c;
  std::atomic<bool> done{false};
  std::thread watchdog([&] {
    for (int i = 0; i < 2000 && !done; i++) std::this_thread::sleep_for(10ms);
    if (!done) t.stop();
  });
  c.status = t.tail(o, [&](const ChangeEvent& e) {
    c.events.push_back(e);
    return e.seq < until_seq && c.events.size() < max_events;
  });
  done = true;
  watchdog.join();
  return c;
}

// What the feed must deliver: every write with its sequence.
struct Expected {
  std::vector<ChangeEvent> events;
  void put(uint64_t seq, std::string k, std::string v) {
    events.push_back(ChangeEvent{seq, ChangeOp::kPut, std::move(k), std::move(v), std::nullopt});
  }
  void del(uint64_t seq, std::string k) {
    events.push_back(ChangeEvent{seq, ChangeOp::kDelete, std::move(k), "", std::nullopt});
  }
  std::vector<ChangeEvent> after(uint64_t seq) const {
    std::vector<ChangeEvent> out;
    for (const auto& e : events)
      if (e.seq > seq) out.push_back(e);
    return out;
  }
  uint64_t last() const { return events.empty() ? 0 : events.back().seq; }
};

inline std::string describe(const std::vector<ChangeEvent>& es) {
  std::string s;
  for (const auto& e : es) {
    s += std::to_string(e.seq) + (e.op == ChangeOp::kPut ? " put " : " del ") + e.key + "\n";
  }
  return s;
}

}  // namespace isle
