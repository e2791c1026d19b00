// FaultStore: a decorator that injects failures, delays and lost responses
// into chosen requests, so tests can drive every error path of the
// manifest protocol and the writer deterministically.
//
// A FaultRule says WHICH requests it applies to and WHAT happens to them:
//
//   fault->add_rule(FaultRule::on(StoreOp::kPut)
//                       .key_prefix("manifest/log/")
//                       .lose_response()
//                       .times(1));
//
// Selection (all given conditions must hold for a request to "match"):
//   * operations: on(op) / or_on(op), or on_any();
//   * key: key_prefix / key_equals / when(predicate). The key is the
//     object key for get, head, put and remove, the prefix for list, and
//     for remove_batch each key of the batch in turn (the call matches when
//     any key does; an empty batch is checked with an empty key);
//   * put_mode(mode): only puts with that PutMode.
// Then which matches fire:
//   * skip(n): the first n matches pass untouched;
//   * times(n): fire at most n times; nth(n) = skip(n-1).times(1);
//   * probability(p): each match inside the window fires with chance p,
//     drawn from the store's seeded Random (deterministic for a given seed
//     and a given order of requests).
// Actions of a firing rule, applied in this order:
//   * delay(d): wait d (through the injectable sleep function);
//   * fail(status): return `status` WITHOUT calling the inner store —
//     nothing was applied;
//   * lose_response(): call the inner store (the request IS applied) and
//     then return UnknownOutcome as if the response was lost.
// With neither fail nor lose_response, the request proceeds normally after
// the delay.
//
// Rules are checked in the order they were added; the first rule that
// fires decides the request and later rules do not see it (their match
// counters do not move). Thread-safe: decisions are made under a mutex,
// delays and inner calls happen outside it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "isle/object_store.h"
#include "store/sleep.h"
#include "store/store_op.h"
#include "util/random.h"

namespace isle {

// What a rule's predicates see about one request.
struct FaultContext {
  StoreOp op = StoreOp::kGet;
  std::string_view key;                   // see the header comment
  PutMode put_mode = PutMode::kOverwrite;  // meaningful for puts only
};

class FaultRule {
 public:
  static FaultRule on(StoreOp op);
  static FaultRule on_any();
  FaultRule& or_on(StoreOp op);

  FaultRule& key_prefix(std::string prefix);
  FaultRule& key_equals(std::string key);
  FaultRule& put_mode(PutMode mode);
  FaultRule& when(std::function<bool(const FaultContext&)> predicate);

  FaultRule& skip(uint64_t n);
  FaultRule& times(uint64_t n);
  FaultRule& nth(uint64_t n);  // 1-based
  FaultRule& probability(double p);

  FaultRule& delay(std::chrono::milliseconds d);
  // An OK status is ignored (a rule cannot "fail" with success).
  FaultRule& fail(Status status);
  FaultRule& lose_response();

  // A label for messages and debugging.
  FaultRule& named(std::string name);
  const std::string& name() const { return name_; }

 private:
  friend class FaultStore;

  // True when the selection conditions hold for `ctx` (counters aside).
  bool selects(const FaultContext& ctx) const;

  uint32_t op_mask_ = 0;  // bit per StoreOp
  std::optional<std::string> key_prefix_;
  std::optional<std::string> key_equals_;
  std::optional<PutMode> put_mode_;
  std::function<bool(const FaultContext&)> predicate_;
  uint64_t skip_ = 0;
  std::optional<uint64_t> max_fires_;
  double probability_ = 1.0;
  std::chrono::milliseconds delay_{0};
  std::optional<Status> fail_;
  bool lose_response_ = false;
  std::string name_;
};

class FaultStore : public ObjectStore {
 public:
  // `seed` drives probability draws; `sleep` performs delays.
  explicit FaultStore(ObjectStorePtr inner, uint64_t seed = 1,
                      SleepFunction sleep = real_sleep);

  // Adds a rule at the end of the list; returns its id for the counters.
  size_t add_rule(FaultRule rule);
  // Disables one rule / all rules. Ids and counters stay valid.
  void remove_rule(size_t id);
  void clear_rules();

  // How many requests a rule matched (its selection held and earlier rules
  // did not fire) and how many times it fired. 0 for unknown ids.
  uint64_t matched(size_t id) const;
  uint64_t fired(size_t id) const;
  // Faults injected by all rules together.
  uint64_t total_fired() const;

  Result<GetResult> get(std::string_view key, const GetOptions& options = {}) override;
  Result<ObjectMeta> head(std::string_view key) override;
  Result<ObjectMeta> put(std::string_view key, std::string_view data,
                         const PutOptions& options = {}) override;
  Status remove(std::string_view key) override;
  Result<std::vector<DeleteOutcome>> remove_batch(const std::vector<std::string>& keys) override;
  Result<ListPage> list(const ListOptions& options) override;
  std::string url() const override { return inner_->url(); }

  const ObjectStorePtr& inner() const { return inner_; }

 private:
  struct RuleState {
    FaultRule rule;
    bool enabled = true;
    uint64_t matched = 0;
    uint64_t fired = 0;
  };
  // The actions chosen for one request.
  struct Decision {
    std::chrono::milliseconds delay{0};
    std::optional<Status> fail;
    bool lose_response = false;
  };

  // Picks the first firing rule. `keys` is the batch for remove_batch.
  Decision decide(StoreOp op, std::string_view key, PutMode mode,
                  const std::vector<std::string>* keys);
  // Sleeps for the decision's delay; returns the failure to report, if any.
  std::optional<Status> before(const Decision& d);

  ObjectStorePtr inner_;
  SleepFunction sleep_;

  mutable std::mutex mu_;
  Random rnd_;                   // guarded by mu_
  std::vector<RuleState> rules_;  // guarded by mu_
  uint64_t total_fired_ = 0;     // guarded by mu_
};

}  // namespace isle
