// RetryStore: the retry loop, backoff schedule and per-operation
// idempotence; see retry_store.h for the rules.
#include "store/retry_store.h"

#include <algorithm>
#include <functional>
#include <string>

namespace isle {

namespace {

Status status_of(const Status& s) { return s; }
template <typename T>
Status status_of(const Result<T>& r) {
  return r.status();
}

Status give_up(const Status& last, int attempts) {
  return last.with_context("retry: gave up after " + std::to_string(attempts) + " attempt" +
                           (attempts == 1 ? "" : "s"));
}

}  // namespace

// One call's retry budget: counts attempts, computes and performs the
// backoff waits, and enforces the deadline.
class RetryStore::Attempts {
 public:
  explicit Attempts(RetryStore* store) : store_(store), start_ns_(store->clock_->mono_ns()) {}

  int attempts() const { return attempts_; }

  // Called after a retryable failure of the current attempt. Waits and
  // returns true when another attempt may be made; false when the attempt
  // limit or the deadline forbids it.
  bool backoff() {
    const RetryOptions& o = store_->options_;
    if (attempts_ >= std::max(o.max_attempts, 1)) return false;

    // cap = min(max_backoff, initial * 2^(attempts_-1)), without overflow.
    using std::chrono::microseconds;
    const int64_t max_us = std::chrono::duration_cast<microseconds>(o.max_backoff).count();
    int64_t cap_us = std::chrono::duration_cast<microseconds>(o.initial_backoff).count();
    for (int i = 1; i < attempts_ && cap_us < max_us; i++) cap_us *= 2;
    cap_us = std::clamp<int64_t>(cap_us, 0, std::max<int64_t>(max_us, 0));
    int64_t wait_us;
    {
      std::lock_guard lock(store_->mu_);
      wait_us = static_cast<int64_t>(store_->rnd_.uniform(static_cast<uint64_t>(cap_us) + 1));
    }

    if (o.deadline.count() > 0) {
      const int64_t deadline_us =
          std::chrono::duration_cast<std::chrono::microseconds>(o.deadline).count();
      const int64_t elapsed_us = (store_->clock_->mono_ns() - start_ns_) / 1000;
      if (elapsed_us + wait_us >= deadline_us) return false;
    }
    if (wait_us > 0) o.sleep(std::chrono::microseconds(wait_us));
    attempts_++;
    store_->retries_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

 private:
  RetryStore* store_;
  const int64_t start_ns_;
  int attempts_ = 1;
};

RetryStore::RetryStore(ObjectStorePtr inner, RetryOptions options)
    : inner_(std::move(inner)),
      options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : Clock::system()),
      rnd_(options_.seed != 0 ? options_.seed : std::hash<std::string>{}(random_token())) {
  if (!options_.sleep) options_.sleep = real_sleep;
}

bool RetryStore::should_retry(const Status& status, bool idempotent) {
  switch (status.code()) {
    case Code::kTransient:
    case Code::kThrottled:
      return true;
    case Code::kUnknownOutcome:
      return idempotent;
    default:
      return false;
  }
}

template <typename Fn>
auto RetryStore::run(bool idempotent, Fn attempt) -> decltype(attempt()) {
  Attempts budget(this);
  for (;;) {
    auto r = attempt();
    Status st = status_of(r);
    if (st.ok() || !should_retry(st, idempotent)) return r;
    if (!budget.backoff()) {
      gave_up_.fetch_add(1, std::memory_order_relaxed);
      return give_up(st, budget.attempts());
    }
  }
}

Result<GetResult> RetryStore::get(std::string_view key, const GetOptions& options) {
  return run(true, [&] { return inner_->get(key, options); });
}

Result<ObjectMeta> RetryStore::head(std::string_view key) {
  return run(true, [&] { return inner_->head(key); });
}

Result<ObjectMeta> RetryStore::put(std::string_view key, std::string_view data,
                                   const PutOptions& options) {
  const bool idempotent = options.mode == PutMode::kOverwrite;
  return run(idempotent, [&] { return inner_->put(key, data, options); });
}

Status RetryStore::remove(std::string_view key) {
  return run(true, [&] { return inner_->remove(key); });
}

Result<ListPage> RetryStore::list(const ListOptions& options) {
  return run(true, [&] { return inner_->list(options); });
}

Result<std::vector<DeleteOutcome>> RetryStore::remove_batch(
    const std::vector<std::string>& keys) {
  Attempts budget(this);
  std::vector<std::string> pending = keys;
  std::vector<DeleteOutcome> failed;  // final, non-retryable per-key failures
  for (;;) {
    auto r = inner_->remove_batch(pending);
    if (!r.ok()) {
      Status st = r.status();
      if (!should_retry(st, true)) return st;
      if (!budget.backoff()) {
        gave_up_.fetch_add(1, std::memory_order_relaxed);
        return give_up(st, budget.attempts());
      }
      continue;
    }
    // Keys not reported failed are gone; retry only the retryable failures.
    std::vector<DeleteOutcome> retry;
    for (auto& outcome : *r) {
      if (should_retry(outcome.status, true)) {
        retry.push_back(std::move(outcome));
      } else {
        failed.push_back(std::move(outcome));
      }
    }
    if (retry.empty()) return failed;
    if (!budget.backoff()) {
      gave_up_.fetch_add(1, std::memory_order_relaxed);
      for (auto& outcome : retry) {
        outcome.status = give_up(outcome.status, budget.attempts());
        failed.push_back(std::move(outcome));
      }
      return failed;
    }
    pending.clear();
    for (const auto& outcome : retry) pending.push_back(outcome.key);
  }
}

}  // namespace isle
