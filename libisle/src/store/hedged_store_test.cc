// HedgedStore with real threads: which copy answers (asserted by which
// request the test held back, never by time), the create-only rules, the
// budget's exact count, the pool and memory bounds, and the operations
// that are never hedged.
#include "store/hedged_store.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <thread>

#include "store/hedged_store_test_util.h"
#include "store/store_test_util.h"

namespace isle::testing {
namespace {

using namespace std::chrono_literals;

bool first_copy(const ScriptedCall& c, StoreOp op, std::string_view key) {
  return c.op == op && c.key == key && c.nth_on_key == 0;
}

// ---- the resolution table ----

HedgeCopies copies(bool hedged, std::vector<std::pair<int, Status>> answers) {
  HedgeCopies c;
  c.sent[1] = hedged;
  for (auto& [k, s] : answers) {
    c.status[k] = s;
    c.order[c.finished++] = k;
  }
  return c;
}

TEST(HedgeResolve, Reads) {
  const Status ok, nf = Status::NotFound("x"), tr = Status::Transient("x");
  EXPECT_EQ(hedge_resolve(false, copies(false, {{0, ok}})), 0);
  EXPECT_EQ(hedge_resolve(false, copies(true, {{1, ok}})), 1);
  // NotFound is a real answer: taken at once, the other not awaited.
  EXPECT_EQ(hedge_resolve(false, copies(true, {{1, nf}})), 1);
  EXPECT_EQ(hedge_resolve(false, copies(true, {{0, nf}})), 0);
  // A transient error waits for the other copy, if one is running.
  EXPECT_EQ(hedge_resolve(false, copies(true, {{0, tr}})), std::nullopt);
  EXPECT_EQ(hedge_resolve(false, copies(true, {{0, tr}, {1, ok}})), 1);
  EXPECT_EQ(hedge_resolve(false, copies(true, {{0, tr}, {1, tr}})), 0);
  // No hedge: the first copy's error is the answer.
  EXPECT_EQ(hedge_resolve(false, copies(false, {{0, tr}})), 0);
}

TEST(HedgeResolve, CreateOnlyPuts) {
  const Status ok, pf = Status::PreconditionFailed("x"), tr = Status::Transient("x"),
                   uo = Status::UnknownOutcome("x");
  const std::optional<int> unknown = kHedgeSynthesizedUnknown;
  EXPECT_EQ(hedge_resolve(true, copies(true, {{1, ok}})), 1);
  EXPECT_EQ(hedge_resolve(true, copies(true, {{0, pf}, {1, ok}})), 1);
  // PreconditionFailed with no hedge sent: a real conflict.
  EXPECT_EQ(hedge_resolve(true, copies(false, {{0, pf}})), 0);
  // PreconditionFailed while the other copy is in flight: maybe ours.
  EXPECT_EQ(hedge_resolve(true, copies(true, {{1, pf}})), unknown);
  EXPECT_EQ(hedge_resolve(true, copies(true, {{0, pf}})), unknown);
  // Both PreconditionFailed: neither landed.
  EXPECT_EQ(hedge_resolve(true, copies(true, {{0, pf}, {1, pf}})), 0);
  // The other was not applied (Transient): a real conflict...
  EXPECT_EQ(hedge_resolve(true, copies(true, {{0, tr}, {1, pf}})), 1);
  // ...but an unknown outcome of the other may have landed.
  EXPECT_EQ(hedge_resolve(true, copies(true, {{0, uo}, {1, pf}})), unknown);
  // Errors wait for the other copy; both errors: unknown wins.
  EXPECT_EQ(hedge_resolve(true, copies(true, {{0, tr}})), std::nullopt);
  EXPECT_EQ(hedge_resolve(true, copies(true, {{0, tr}, {1, uo}})), 1);
  EXPECT_EQ(hedge_resolve(true, copies(true, {{0, tr}, {1, tr}})), 0);
  EXPECT_EQ(hedge_resolve(true, copies(false, {{0, tr}})), 0);
}

// ---- reads ----

TEST(HedgedStore, SlowFirstGetIsAnsweredByTheHedge) {
  Latch release;
  auto mem = mem_store();
  ASSERT_TRUE(mem->put("k", "value").ok());
  auto script = std::make_shared<ScriptStore>(mem, [&](const ScriptedCall& c) {
    if (first_copy(c, StoreOp::kGet, "k") || first_copy(c, StoreOp::kHead, "k") ||
        first_copy(c, StoreOp::kGet, "absent")) {
      release.wait();
    }
  });
  auto store = std::make_shared<HedgedStore>(script, fixed_delay());

  auto g = store->get("k");
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  EXPECT_EQ(g->data, "value");
  auto h = store->head("k");
  ASSERT_TRUE(h.ok()) << h.status().to_string();
  EXPECT_EQ(h->size, 5u);
  // A NotFound from the hedge is an answer: not held for the first copy.
  auto missing = store->get("absent");
  EXPECT_TRUE(missing.status().is_not_found()) << missing.status().to_string();
  EXPECT_FALSE(release.is_open());  // every answer came from a hedge

  const HedgeStats s = store->stats();
  EXPECT_EQ(s.of(HedgeClass::kGet).requests, 2u);
  EXPECT_EQ(s.of(HedgeClass::kGet).hedges_sent, 2u);
  EXPECT_EQ(s.of(HedgeClass::kGet).hedges_won, 2u);
  EXPECT_EQ(s.of(HedgeClass::kHead).hedges_won, 1u);
  EXPECT_EQ(script->calls(StoreOp::kGet), 4);
  release.open();  // the losers finish; their results are dropped
}

TEST(HedgedStore, RangedGetsAreHedgedInTheirOwnClass) {
  Latch release;
  auto mem = mem_store();
  ASSERT_TRUE(mem->put("k", "0123456789").ok());
  auto script = std::make_shared<ScriptStore>(mem, [&](const ScriptedCall& c) {
    if (first_copy(c, StoreOp::kGet, "k")) release.wait();
  });
  auto store = std::make_shared<HedgedStore>(script, fixed_delay());
  auto g = store->get("k", GetOptions::ranged(ByteRange::at(2, 3)));
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  EXPECT_EQ(g->data, "234");
  EXPECT_EQ(store->stats().of(HedgeClass::kGetRange).hedges_won, 1u);
  EXPECT_EQ(store->stats().of(HedgeClass::kGet).requests, 0u);
  release.open();
}

TEST(HedgedStore, FastAnswersSendNoHedge) {
  auto script = std::make_shared<ScriptStore>(mem_store(), nullptr);
  auto store = std::make_shared<HedgedStore>(script, fixed_delay(2s));
  ASSERT_TRUE(store->put("k", "v", PutOptions::create_only()).ok());
  for (int i = 0; i < 20; i++) ASSERT_TRUE(store->get("k").ok());
  EXPECT_EQ(script->calls(StoreOp::kGet), 20);
  EXPECT_EQ(script->calls(StoreOp::kPut), 1);
  EXPECT_EQ(store->stats().total().hedges_sent, 0u);
}

TEST(HedgedStore, NoHedgeBeforeMinSamples) {
  Latch release;
  auto mem = mem_store();
  for (int i = 0; i < 6; i++) ASSERT_TRUE(mem->put("k" + std::to_string(i), "v").ok());
  auto script = std::make_shared<ScriptStore>(mem, [&](const ScriptedCall& c) {
    if (c.nth_on_key != 0) return;
    if (c.key == "k5") {
      release.wait();
    } else {
      std::this_thread::sleep_for(30ms);  // slower than the delay
    }
  });
  HedgeOptions o = fixed_delay();
  o.min_samples = 5;
  auto store = std::make_shared<HedgedStore>(script, o);
  for (int i = 0; i < 5; i++) {
    EXPECT_FALSE(store->hedge_delay(HedgeClass::kGet, 0).has_value()) << i;
    ASSERT_TRUE(store->get("k" + std::to_string(i)).ok());
  }
  EXPECT_EQ(script->calls(StoreOp::kGet), 5);
  EXPECT_EQ(store->stats().of(HedgeClass::kGet).hedges_sent, 0u);
  EXPECT_EQ(store->stats().of(HedgeClass::kGet).denied_budget, 0u);
  // The sixth request has five samples behind it: hedged.
  ASSERT_TRUE(store->get("k5").ok());
  EXPECT_EQ(store->stats().of(HedgeClass::kGet).hedges_won, 1u);
  release.open();
}

TEST(HedgedStore, TrackersAreKeptPerClassAndSize) {
  auto script = std::make_shared<ScriptStore>(mem_store(), [](const ScriptedCall&) {
    std::this_thread::sleep_for(20ms);
  });
  HedgeOptions o = fixed_delay();
  o.min_samples = 3;
  o.min_delay = 0ms;
  o.max_delay = 10s;
  o.percentile = 0.5;
  auto store = std::make_shared<HedgedStore>(script, o);
  for (int i = 0; i < 3; i++) {
    ASSERT_TRUE(store->put("p" + std::to_string(i), "small", PutOptions::create_only()).ok());
  }
  auto small = store->hedge_delay(HedgeClass::kPutCreate, 5);
  ASSERT_TRUE(small.has_value());
  EXPECT_GE(*small, 20ms);  // the hook slept that long in each
  // Other sizes and classes have no samples of their own yet.
  EXPECT_FALSE(store->hedge_delay(HedgeClass::kPutCreate, 10 << 20).has_value());
  EXPECT_FALSE(store->hedge_delay(HedgeClass::kGet, 0).has_value());
  EXPECT_FALSE(store->hedge_delay(HedgeClass::kGetRange, 5).has_value());
}

// Every first copy is slow (30 ms, or until its hedge arrives): so every
// request would hedge, and only the budget decides. 50 requests at 10 %
// credit exactly five tokens (counted in millionths: 10 x 0.1 in doubles
// is 0.999...).
TEST(HedgedStore, BudgetCapsHedgesAtTheFractionExactly) {
  std::mutex mu;
  std::condition_variable cv;
  std::set<std::string> hedged;
  auto mem = mem_store();
  for (int i = 0; i < 50; i++) ASSERT_TRUE(mem->put("k" + std::to_string(i), "v").ok());
  auto script = std::make_shared<ScriptStore>(mem, [&](const ScriptedCall& c) {
    std::unique_lock lk(mu);
    if (c.nth_on_key == 0) {
      cv.wait_for(lk, 30ms, [&] { return hedged.count(c.key) > 0; });
    } else {
      hedged.insert(c.key);
      cv.notify_all();
    }
  });
  HedgeOptions o = fixed_delay();
  o.max_extra_fraction = 0.1;
  auto store = std::make_shared<HedgedStore>(script, o);
  for (int i = 0; i < 50; i++) ASSERT_TRUE(store->get("k" + std::to_string(i)).ok());
  const HedgeClassStats s = store->stats().of(HedgeClass::kGet);
  EXPECT_EQ(s.requests, 50u);
  EXPECT_EQ(s.hedges_sent, 5u);
  EXPECT_EQ(s.denied_budget, 45u);
  EXPECT_EQ(script->calls(StoreOp::kGet), 55);
}

// ---- create-only puts ----

TEST(HedgedStore, CreateOnlyPutWhoseFirstCopyLandedSlowlyIsUnknownOutcome) {
  Latch release;
  auto mem = mem_store();
  auto script = std::make_shared<ScriptStore>(
      mem, nullptr, [&](const ScriptedCall& c) {
        // The first copy has landed; its response is slow.
        if (first_copy(c, StoreOp::kPut, "obj")) release.wait();
      });
  auto store = std::make_shared<HedgedStore>(script, fixed_delay());
  auto r = store->put("obj", "mine", PutOptions::create_only());
  EXPECT_TRUE(r.status().is_unknown_outcome()) << r.status().to_string();
  EXPECT_EQ(store->stats().of(HedgeClass::kPutCreate).hedges_sent, 1u);
  EXPECT_EQ(store->stats().of(HedgeClass::kPutCreate).unknown_outcomes, 1u);
  auto g = mem->get("obj");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->data, "mine");  // resolvable by reading back: it is ours
  release.open();
}

TEST(HedgedStore, CreateOnlyPutWonByTheHedge) {
  Latch release;
  auto mem = mem_store();
  auto script = std::make_shared<ScriptStore>(mem, [&](const ScriptedCall& c) {
    if (first_copy(c, StoreOp::kPut, "obj")) release.wait();  // slow to arrive
  });
  std::string body(100'000, 'x');
  {
    auto store = std::make_shared<HedgedStore>(script, fixed_delay());
    auto r = store->put("obj", body, PutOptions::create_only());
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(store->stats().of(HedgeClass::kPutCreate).hedges_won, 1u);
    body.assign(body.size(), 'y');  // the caller's buffer is free to reuse
    release.open();                 // the first copy now gets PreconditionFailed
  }  // the destructor waits for it
  auto g = mem->get("obj");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->data, std::string(100'000, 'x'));
  EXPECT_EQ(script->calls(StoreOp::kPut), 2);
}

TEST(HedgedStore, CreateOnlyConflictWithoutHedgeIsPreconditionFailed) {
  auto mem = mem_store();
  ASSERT_TRUE(mem->put("obj", "theirs").ok());
  auto script = std::make_shared<ScriptStore>(mem, nullptr);
  auto store = std::make_shared<HedgedStore>(script, fixed_delay(2s));
  auto r = store->put("obj", "mine", PutOptions::create_only());
  EXPECT_TRUE(r.status().is_precondition_failed()) << r.status().to_string();
  EXPECT_EQ(store->stats().total().hedges_sent, 0u);
}

// ---- never hedged ----

TEST(HedgedStore, OverwriteIfMatchRemoveListAreNeverHedged) {
  auto mem = mem_store();
  auto script = std::make_shared<ScriptStore>(mem, [](const ScriptedCall&) {
    std::this_thread::sleep_for(30ms);  // six times the delay
  });
  auto store = std::make_shared<HedgedStore>(script, fixed_delay());
  auto w = store->put("a", "1");
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(store->put("a", "2", PutOptions::if_match_etag(w->etag)).ok());
  ASSERT_TRUE(store->put("a", "3", PutOptions::overwrite()).ok());
  ASSERT_TRUE(store->list(ListOptions{}).ok());
  ASSERT_TRUE(store->remove("a").ok());
  EXPECT_EQ(script->calls(StoreOp::kPut), 3);
  EXPECT_EQ(script->calls(StoreOp::kList), 1);
  EXPECT_EQ(script->calls(StoreOp::kRemove), 1);
  EXPECT_EQ(store->stats().total().requests, 0u);
  EXPECT_EQ(store->worker_threads(), 0u);  // all ran on the caller
}

TEST(HedgedStore, DisabledIsAPassThrough) {
  auto script = std::make_shared<ScriptStore>(mem_store(), [](const ScriptedCall&) {
    std::this_thread::sleep_for(20ms);
  });
  HedgeOptions o = fixed_delay();
  o.enabled = false;
  auto store = std::make_shared<HedgedStore>(script, o);
  ASSERT_TRUE(store->put("k", "v", PutOptions::create_only()).ok());
  ASSERT_TRUE(store->get("k").ok());
  EXPECT_EQ(script->calls(StoreOp::kGet), 1);
  EXPECT_EQ(store->stats().total().requests, 0u);
}

TEST(HedgedStore, LocalStoresAreNotWrappedByDefault) {
  HedgeOptions o;
  auto mem = mem_store();
  EXPECT_EQ(with_hedging(mem, o), mem);
  auto dir = ::testing::TempDir() + "hedge_local";
  auto file = open_object_store("file://" + dir);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(with_hedging(*file, o), *file);
  o.hedge_local_stores = true;
  EXPECT_NE(std::dynamic_pointer_cast<HedgedStore>(with_hedging(mem, o)), nullptr);
  o.enabled = false;
  EXPECT_EQ(with_hedging(mem, o), mem);
}

// ---- bounds ----

int process_threads() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return -1;
}

TEST(HedgedStore, WorkerPoolBoundHoldsUnderAThousandSlowRequests) {
  auto mem = mem_store();
  ASSERT_TRUE(mem->put("k", "v").ok());
  HedgedStore* raw = nullptr;
  std::atomic<size_t> max_busy{0};
  auto script = std::make_shared<ScriptStore>(mem, [&](const ScriptedCall&) {
    size_t busy = raw->busy_workers();
    size_t prev = max_busy.load();
    while (prev < busy && !max_busy.compare_exchange_weak(prev, busy)) {
    }
    std::this_thread::sleep_for(20ms);
  });
  HedgeOptions o = fixed_delay(1ms);
  o.max_workers = 8;
  auto store = std::make_shared<HedgedStore>(script, o);
  raw = store.get();
  const int base_threads = process_threads();
  constexpr int kCallers = 1000;
  std::atomic<int> ok{0};
  std::atomic<int> peak_threads{0};
  std::vector<std::thread> callers;
  callers.reserve(kCallers);
  for (int i = 0; i < kCallers; i++) {
    callers.emplace_back([&] {
      if (store->get("k").ok()) ok++;
      int t = process_threads();
      int prev = peak_threads.load();
      while (prev < t && !peak_threads.compare_exchange_weak(prev, t)) {
      }
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(ok.load(), kCallers);
  EXPECT_LE(store->worker_threads(), 8u);
  EXPECT_LE(max_busy.load(), 8u);
  // Threads in the process: the callers, plus at most the pool.
  EXPECT_LE(peak_threads.load(), base_threads + kCallers + 8);
  const HedgeClassStats s = store->stats().of(HedgeClass::kGet);
  EXPECT_EQ(s.requests, static_cast<uint64_t>(kCallers));
  EXPECT_GT(s.denied_workers, 0u);  // the pool was full: callers ran unhedged
}

TEST(HedgedStore, PutBodyCopiesStayWithinTheByteBound) {
  HedgedStore* raw = nullptr;
  std::atomic<uint64_t> max_bytes{0};
  auto script = std::make_shared<ScriptStore>(mem_store(), [&](const ScriptedCall&) {
    uint64_t b = raw->inflight_put_bytes();
    uint64_t prev = max_bytes.load();
    while (prev < b && !max_bytes.compare_exchange_weak(prev, b)) {
    }
    std::this_thread::sleep_for(20ms);
  });
  HedgeOptions o = fixed_delay(1ms);
  o.max_inflight_put_bytes = 256 << 10;
  auto store = std::make_shared<HedgedStore>(script, o);
  raw = store.get();
  const std::string body(100 << 10, 'b');
  std::vector<std::thread> callers;
  for (int i = 0; i < 32; i++) {
    callers.emplace_back([&, i] {
      // Both copies of a hedged put are equally slow here, so a hedge's
      // PreconditionFailed can come back while the first copy's OK is on
      // its way: UnknownOutcome is a correct answer then.
      auto r = store->put("p" + std::to_string(i), body, PutOptions::create_only());
      EXPECT_TRUE(r.ok() || r.status().is_unknown_outcome()) << r.status().to_string();
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_GT(max_bytes.load(), 0u);
  EXPECT_LE(max_bytes.load(), uint64_t{256} << 10);
  for (int i = 0; i < 200 && store->busy_workers() > 0; i++) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(store->busy_workers(), 0u);
  EXPECT_EQ(store->inflight_put_bytes(), 0u);  // every copy freed
  for (int i = 0; i < 32; i++) {
    auto g = script->get("p" + std::to_string(i));
    ASSERT_TRUE(g.ok()) << i;
    EXPECT_EQ(g->data, body);
  }
}

}  // namespace
}  // namespace isle::testing
