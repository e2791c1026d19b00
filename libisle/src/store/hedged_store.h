// HedgedStore: a decorator that sends a second, identical request when the
// first has not answered after a high percentile of the recent latency of
// its kind, and answers with the first usable result (tail-latency
// hedging). docs/object-stores.md, "Hedged requests", has the timelines.
//
// What is hedged, and why only that:
//   * get (whole or ranged) and head: idempotent reads; either copy's answer
//     is a real answer (NotFound included), the first one is taken.
//   * create-only put: the two copies race on the store's create-only
//     primitive, at most one lands. Resolution (a copy's answer as it
//     arrives, the other copy sent and perhaps still running):
//       - OK from either copy                   -> OK
//       - PreconditionFailed while the other copy is in flight, or after
//         it ended UnknownOutcome               -> UnknownOutcome (the
//         existing object may be our other copy; the caller resolves it
//         by the write id, as for any lost response)
//       - PreconditionFailed from both          -> PreconditionFailed
//       - PreconditionFailed from one, the other ended in an error that
//         means "not applied" (Transient, Throttled, Permanent, ...)
//                                               -> PreconditionFailed
//       - errors from both                      -> UnknownOutcome if either
//         was, else the first error
//     A copy's error (not PreconditionFailed) while the other is in flight
//     is not returned: the other copy's answer is awaited.
//   * Never hedged: overwrite and if-match puts (a duplicate overwrite can
//     land after a later write of the caller and undo it; a duplicate
//     if-match put can only fail, or succeed in place of the first and
//     change the etag the caller is told), remove, remove_batch and list
//     (no tail worth the extra request; a duplicate DELETE can delete a
//     key re-created in between). They run on the caller's thread.
//   * Errors: a copy's retryable error (Transient, Throttled,
//     UnknownOutcome) is returned only when no other copy can still answer;
//     nothing is retried here (RetryStore, above, retries).
//
// Hedge delay: the `percentile` of the last kWindow latencies of the same
// class (get whole, get ranged, head, create-only put) and size bucket
// (ranged gets by range length, puts by body size: <= 64 KiB, <= 1 MiB,
// <= 8 MiB, larger), clamped to [min_delay, max_delay]. A class/bucket
// with fewer than min_samples latencies is not hedged. Latencies are
// recorded per copy, from its own send to its answer, for answers that are
// not retryable errors (the losers' too, so hedging does not hide the tail
// it reacts to).
//
// Budget: a token bucket counted in requests, not time: every hedgeable
// request credits max_extra_fraction of a hedge (integer millionths, so the
// arithmetic is exact), a hedge spends one whole token, at most max_burst
// tokens are kept. So hedges <= max_extra_fraction x hedgeable requests at
// every moment, and at most max_burst of them come back to back.
//
// Threads and memory: hedgeable requests run on a pool of at most
// max_workers threads, created on demand and kept until the store is
// destroyed. A request reserves a worker for its first copy and another
// for its hedge; when none is free it runs on the caller's thread without
// a hedge (and when the budget holds less than one token it does so too:
// it could not hedge anyway). A loser copy keeps its worker until its
// inner request returns; its result is then dropped. So at most
// max_workers inner requests are in flight on the pool, plus one per
// caller thread. A put's body is copied once per request that uses the
// pool (shared by its copies, freed when the last copy ends); the copies
// alive at once total at most max_inflight_put_bytes (a put that would
// pass it runs unhedged on its caller). A get's loser holds its result
// (at most the object's bytes) until it ends.
//
// Thread-safe. The destructor waits for copies still running.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "isle/object_store.h"
#include "isle/options.h"

namespace isle {

// The kinds of hedgeable request, each with its own latency trackers and
// counters.
enum class HedgeClass : uint8_t { kGet = 0, kGetRange, kHead, kPutCreate };
inline constexpr size_t kHedgeClassCount = 4;
// "get", "get_range", "head", "put_create".
std::string_view hedge_class_name(HedgeClass c);

struct HedgeClassStats {
  uint64_t requests = 0;        // hedgeable requests of this class
  uint64_t hedges_sent = 0;     // second copies sent
  uint64_t hedges_won = 0;      // ...whose answer was the one returned
  uint64_t denied_budget = 0;   // slower than the delay, but no token
  uint64_t denied_workers = 0;  // slower than the delay, no free worker
  uint64_t unknown_outcomes = 0;  // create-only puts resolved to UnknownOutcome
  void add(const HedgeClassStats& o);
};

struct HedgeStats {
  std::array<HedgeClassStats, kHedgeClassCount> classes{};
  const HedgeClassStats& of(HedgeClass c) const { return classes[static_cast<size_t>(c)]; }
  HedgeClassStats total() const;
  // One line per class.
  std::string to_text() const;
};

// The sum over every HedgedStore of this process since it started: what
// the daemons export on /metrics.
HedgeStats process_hedge_stats();

// The state of one hedged request's copies, and how it resolves (a pure
// function, so the rules above are tested one by one).
struct HedgeCopies {
  bool sent[2] = {true, false};  // copy 1 is the hedge
  int finished = 0;
  int order[2] = {-1, -1};  // the copies that answered, first first
  Status status[2];         // copy i's answer, once finished
};
inline constexpr int kHedgeSynthesizedUnknown = -1;
// nullopt: wait for more answers. Otherwise the copy whose answer is
// returned, or kHedgeSynthesizedUnknown: return UnknownOutcome (a
// create-only put's PreconditionFailed that may be our other copy's doing).
std::optional<int> hedge_resolve(bool is_put, const HedgeCopies& c);

class HedgedStore : public ObjectStore {
 public:
  // Latencies kept per class and size bucket.
  static constexpr size_t kWindow = 512;
  static constexpr size_t kSizeBuckets = 4;

  // `options.enabled` false makes every call a plain pass-through.
  // Invalid fractions or percentiles are clamped into range.
  HedgedStore(ObjectStorePtr inner, HedgeOptions options);
  ~HedgedStore() override;

  Result<GetResult> get(std::string_view key, const GetOptions& options = {}) override;
  Result<ObjectMeta> head(std::string_view key) override;
  Result<ObjectMeta> put(std::string_view key, std::string_view data,
                         const PutOptions& options = {}) override;
  Status remove(std::string_view key) override;
  Result<std::vector<DeleteOutcome>> remove_batch(const std::vector<std::string>& keys) override;
  Result<ListPage> list(const ListOptions& options) override;
  std::string url() const override { return inner_->url(); }

  HedgeStats stats() const;
  // The delay a request of this class and size would hedge after now;
  // nullopt while the class has too few samples.
  std::optional<std::chrono::microseconds> hedge_delay(HedgeClass c, uint64_t size) const;
  // Worker threads started so far (never more than max_workers), copies
  // running or queued on them now, and the bytes of PUT bodies they hold.
  size_t worker_threads() const;
  size_t busy_workers() const;
  uint64_t inflight_put_bytes() const { return put_bytes_.load(std::memory_order_relaxed); }

  const HedgeOptions& options() const { return options_; }
  const ObjectStorePtr& inner() const { return inner_; }

 private:
  class Tracker;
  struct Counters {
    std::atomic<uint64_t> requests{0}, hedges_sent{0}, hedges_won{0}, denied_budget{0},
        denied_workers{0}, unknown_outcomes{0};
  };
  template <typename T>
  struct Call;

  // Runs one hedgeable request. `borrowed` performs the inner request on
  // the caller's thread (it may use the caller's arguments); `owned` makes
  // a copy of it that owns everything it uses, for the pool, where it may
  // outlive the call. `is_put` selects the create-only resolution;
  // `body_bytes` is what the owned copy holds.
  template <typename T>
  Result<T> run(HedgeClass cls, uint64_t size, bool is_put, uint64_t body_bytes,
                const std::function<Result<T>()>& borrowed,
                const std::function<std::function<Result<T>()>()>& owned);

  static size_t size_bucket(uint64_t size);
  Tracker& tracker(HedgeClass cls, size_t bucket) const;
  void record(HedgeClass cls, size_t bucket, std::chrono::nanoseconds latency);
  Counters& counters(HedgeClass c) { return counters_[static_cast<size_t>(c)]; }
  void bump(HedgeClass c, std::atomic<uint64_t> Counters::*field);

  // Budget.
  void credit();
  bool has_token() const;
  bool take_token();

  // Pool: reserve a worker for one copy (false when all are busy), then
  // submit the copy's task, which releases the reservation when it ends.
  bool reserve_worker();
  void release_worker();
  void submit(std::function<void()> task);
  void worker_loop();
  bool reserve_put_bytes(uint64_t n);
  void release_put_bytes(uint64_t n);

  ObjectStorePtr inner_;
  HedgeOptions options_;
  uint64_t credit_ppm_;
  int64_t max_tokens_ppm_;

  std::unique_ptr<Tracker[]> trackers_;  // kHedgeClassCount * kSizeBuckets
  std::array<Counters, kHedgeClassCount> counters_;

  mutable std::mutex budget_mu_;
  int64_t tokens_ppm_ = 0;  // guarded by budget_mu_

  mutable std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::deque<std::function<void()>> queue_;  // guarded by pool_mu_
  std::vector<std::thread> threads_;         // guarded by pool_mu_
  size_t reserved_ = 0;                      // guarded by pool_mu_
  size_t idle_ = 0;                          // guarded by pool_mu_
  bool stopping_ = false;                    // guarded by pool_mu_
  std::atomic<uint64_t> put_bytes_{0};
};

// Wraps `inner` in a HedgedStore when `options` ask for hedging and the
// store is not a local one (mem://, file://) unless hedge_local_stores;
// returns `inner` unchanged otherwise.
ObjectStorePtr with_hedging(ObjectStorePtr inner, const HedgeOptions& options);

}  // namespace isle
