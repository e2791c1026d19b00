// RetryStore: a decorator that retries failed requests whose failure is
// worth retrying, with exponential backoff and full jitter, under a limit
// on attempts and an overall deadline per call.
//
// What is retried:
//   * Transient and Throttled: always (the request was not applied, or
//     applying it again is what the caller wants anyway).
//   * UnknownOutcome: only for idempotent requests — get, head, list,
//     remove, remove_batch and OVERWRITE puts. A create-only or if-match
//     put whose outcome is unknown is returned to the caller unchanged:
//     retrying it blindly could turn "my write succeeded" into a spurious
//     PreconditionFailed, so the manifest layer resolves it by reading back.
//   * Nothing else: PreconditionFailed, NotFound, Permanent,
//     InvalidArgument, Corruption (and every other code) are returned at
//     once, unchanged.
// remove_batch also retries just the keys whose per-key outcome is
// retryable by the rules above; keys that failed otherwise are reported as
// they are.
//
// Backoff before retry number n (n = 1, 2, ...): a uniformly random wait in
// [0, min(max_backoff, initial_backoff * 2^(n-1))] ("full jitter"). Before
// waiting, if the wait would end past the deadline (measured from the start
// of the call with the Clock), the store gives up. Giving up returns the
// last error with its code unchanged and a message saying so.
//
// Thread-safe; the jitter Random is behind a mutex.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>

#include "isle/object_store.h"
#include "store/sleep.h"
#include "util/clock.h"
#include "util/random.h"

namespace isle {

struct RetryOptions {
  std::chrono::milliseconds initial_backoff{50};
  std::chrono::milliseconds max_backoff{5'000};
  int max_attempts = 10;                    // including the first; values < 1 act as 1
  std::chrono::milliseconds deadline{60'000};  // per call; 0 = no deadline
  uint64_t seed = 0;                        // jitter seed; 0 = seeded from the OS
  SleepFunction sleep = real_sleep;
  Clock* clock = nullptr;                   // for the deadline; nullptr = Clock::system()
};

class RetryStore : public ObjectStore {
 public:
  explicit RetryStore(ObjectStorePtr inner, RetryOptions options = {});

  Result<GetResult> get(std::string_view key, const GetOptions& options = {}) override;
  Result<ObjectMeta> head(std::string_view key) override;
  Result<ObjectMeta> put(std::string_view key, std::string_view data,
                         const PutOptions& options = {}) override;
  Status remove(std::string_view key) override;
  Result<std::vector<DeleteOutcome>> remove_batch(const std::vector<std::string>& keys) override;
  Result<ListPage> list(const ListOptions& options) override;
  std::string url() const override { return inner_->url(); }

  // Whether a failure with `status` is retried for an (non-)idempotent
  // request, per the rules above.
  static bool should_retry(const Status& status, bool idempotent);

  // Retries performed (attempts beyond the first) and calls that gave up
  // with a retryable error, since construction.
  uint64_t retries() const { return retries_.load(std::memory_order_relaxed); }
  uint64_t gave_up() const { return gave_up_.load(std::memory_order_relaxed); }

  const ObjectStorePtr& inner() const { return inner_; }

 private:
  // Tracks one call's attempts and deadline.
  class Attempts;

  // Runs `attempt` (returning a Result<T> or Status) until it succeeds,
  // fails with a non-retryable status, or the budget runs out.
  template <typename Fn>
  auto run(bool idempotent, Fn attempt) -> decltype(attempt());

  ObjectStorePtr inner_;
  RetryOptions options_;
  Clock* clock_;
  std::mutex mu_;
  Random rnd_;  // guarded by mu_
  std::atomic<uint64_t> retries_{0};
  std::atomic<uint64_t> gave_up_{0};
};

}  // namespace isle
