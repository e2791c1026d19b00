// Test helpers for HedgedStore (store and engine suites): a store whose
// requests a test can hold back — before the inner request (the request
// is slow to arrive) or after it (it landed, but its response is slow) —
// and a latch to release them. Requests are numbered per key, so "the
// first copy of this request" and "its hedge" are told apart without
// timing.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "isle/object_store.h"
#include "isle/options.h"
#include "store/store_op.h"

namespace isle::testing {

// A one-way gate. wait() returns true once open, false after `limit`
// (so a broken test fails instead of hanging).
class Latch {
 public:
  void open() {
    {
      std::lock_guard lk(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  bool wait(std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, limit, [&] { return open_; });
  }
  bool is_open() {
    std::lock_guard lk(mu_);
    return open_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// One request as the hooks see it.
struct ScriptedCall {
  StoreOp op;
  std::string key;
  int nth_on_key = 0;  // 0 for the first request of this op on this key
};

class ScriptStore : public ObjectStore {
 public:
  using Hook = std::function<void(const ScriptedCall&)>;

  // Hooks are set once, before the first request.
  ScriptStore(ObjectStorePtr inner, Hook before, Hook after = nullptr)
      : inner_(std::move(inner)), before_(std::move(before)), after_(std::move(after)) {}

  Result<GetResult> get(std::string_view key, const GetOptions& o = {}) override {
    return around(StoreOp::kGet, key, [&] { return inner_->get(key, o); });
  }
  Result<ObjectMeta> head(std::string_view key) override {
    return around(StoreOp::kHead, key, [&] { return inner_->head(key); });
  }
  Result<ObjectMeta> put(std::string_view key, std::string_view data,
                         const PutOptions& o = {}) override {
    return around(StoreOp::kPut, key, [&] { return inner_->put(key, data, o); });
  }
  Status remove(std::string_view key) override {
    return around(StoreOp::kRemove, key, [&] { return inner_->remove(key); });
  }
  Result<ListPage> list(const ListOptions& o) override {
    return around(StoreOp::kList, o.prefix, [&] { return inner_->list(o); });
  }
  std::string url() const override { return inner_->url(); }

  // Requests received so far, of one op or all.
  int calls(StoreOp op) const { return calls_[static_cast<size_t>(op)].load(); }
  // Requests running in the inner store or in a hook right now, and the
  // most ever seen at once.
  int in_flight() const { return in_flight_.load(); }
  int max_in_flight() const { return max_in_flight_.load(); }

 private:
  template <typename Fn>
  auto around(StoreOp op, std::string_view key, Fn fn) -> decltype(fn()) {
    ScriptedCall c{op, std::string(key), 0};
    {
      std::lock_guard lk(mu_);
      c.nth_on_key = seen_[{op, c.key}]++;
    }
    calls_[static_cast<size_t>(op)]++;
    const int now = ++in_flight_;
    int prev = max_in_flight_.load();
    while (prev < now && !max_in_flight_.compare_exchange_weak(prev, now)) {
    }
    if (before_) before_(c);
    auto r = fn();
    if (after_) after_(c);
    --in_flight_;
    return r;
  }

  ObjectStorePtr inner_;
  Hook before_, after_;
  std::mutex mu_;
  std::map<std::pair<StoreOp, std::string>, int> seen_;
  std::array<std::atomic<int>, kStoreOpCount> calls_{};
  std::atomic<int> in_flight_{0};
  std::atomic<int> max_in_flight_{0};
};

// Hedge after the fixed delay `d` from the first request on, with a budget
// that never runs out (one token per request), on local stores too.
inline HedgeOptions fixed_delay(std::chrono::milliseconds d = std::chrono::milliseconds(5)) {
  HedgeOptions o;
  o.min_samples = 0;
  o.min_delay = d;
  o.max_delay = d;
  o.max_extra_fraction = 1.0;
  o.hedge_local_stores = true;
  return o;
}

}  // namespace isle::testing
