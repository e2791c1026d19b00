// HedgedStore: second copies of slow GETs, HEADs and create-only PUTs on a
// bounded worker pool; see hedged_store.h for the rules and the bounds.
//
// Invariants:
//   * reserved_ <= max_workers, threads_.size() <= reserved_ high-water
//     mark <= max_workers: a copy is queued only with a reservation, and a
//     thread is started only when the queue would otherwise lack one.
//   * put_bytes_ equals the bytes of the PUT bodies alive in copies' shared
//     state (released by that state's destructor).
//   * tokens_ppm_ in [0, max_burst * 1e6]; every hedge sent spent 1e6.
#include "store/hedged_store.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace isle {

namespace {

constexpr int64_t kTokenPpm = 1'000'000;
constexpr auto kRelaxed = std::memory_order_relaxed;

using SteadyClock = std::chrono::steady_clock;

// Process-wide sums (what /metrics exports).
struct ProcessCounters {
  std::array<std::array<std::atomic<uint64_t>, 6>, kHedgeClassCount> c{};
};
ProcessCounters& process_counters() {
  static ProcessCounters pc;
  return pc;
}

// An answer that says something about the object (not "try again").
bool is_real_answer(const Status& s) {
  return s.ok() || !(s.is_retryable() || s.is_unknown_outcome());
}

}  // namespace

std::string_view hedge_class_name(HedgeClass c) {
  switch (c) {
    case HedgeClass::kGet: return "get";
    case HedgeClass::kGetRange: return "get_range";
    case HedgeClass::kHead: return "head";
    case HedgeClass::kPutCreate: return "put_create";
  }
  return "unknown";
}

void HedgeClassStats::add(const HedgeClassStats& o) {
  requests += o.requests;
  hedges_sent += o.hedges_sent;
  hedges_won += o.hedges_won;
  denied_budget += o.denied_budget;
  denied_workers += o.denied_workers;
  unknown_outcomes += o.unknown_outcomes;
}

HedgeClassStats HedgeStats::total() const {
  HedgeClassStats t;
  for (const auto& c : classes) t.add(c);
  return t;
}

std::string HedgeStats::to_text() const {
  std::string out;
  char line[200];
  for (size_t i = 0; i < kHedgeClassCount; i++) {
    const auto& c = classes[i];
    const std::string_view name = hedge_class_name(static_cast<HedgeClass>(i));
    std::snprintf(line, sizeof line,
                  "%-10.*s requests %llu hedges %llu won %llu denied_budget %llu "
                  "denied_workers %llu unknown_outcomes %llu\n",
                  static_cast<int>(name.size()), name.data(),
                  static_cast<unsigned long long>(c.requests),
                  static_cast<unsigned long long>(c.hedges_sent),
                  static_cast<unsigned long long>(c.hedges_won),
                  static_cast<unsigned long long>(c.denied_budget),
                  static_cast<unsigned long long>(c.denied_workers),
                  static_cast<unsigned long long>(c.unknown_outcomes));
    out += line;
  }
  return out;
}

HedgeStats process_hedge_stats() {
  HedgeStats s;
  auto& pc = process_counters();
  for (size_t i = 0; i < kHedgeClassCount; i++) {
    s.classes[i].requests = pc.c[i][0].load(kRelaxed);
    s.classes[i].hedges_sent = pc.c[i][1].load(kRelaxed);
    s.classes[i].hedges_won = pc.c[i][2].load(kRelaxed);
    s.classes[i].denied_budget = pc.c[i][3].load(kRelaxed);
    s.classes[i].denied_workers = pc.c[i][4].load(kRelaxed);
    s.classes[i].unknown_outcomes = pc.c[i][5].load(kRelaxed);
  }
  return s;
}

// ---- Tracker: the last kWindow latencies of one class and size bucket ----

class HedgedStore::Tracker {
 public:
  void add(int64_t ns) {
    std::lock_guard lk(mu_);
    ring_[next_] = ns;
    next_ = (next_ + 1) % kWindow;
    if (count_ < kWindow) count_++;
    stale_++;
  }

  // The q-quantile of the window (nearest rank), recomputed at most every
  // 16 samples; nullopt with fewer than min_samples.
  std::optional<int64_t> quantile(double q, size_t min_samples) {
    std::lock_guard lk(mu_);
    if (count_ < min_samples) return std::nullopt;
    if (count_ == 0) return int64_t{0};
    if (cached_ < 0 || stale_ >= 16) {
      std::vector<int64_t> v(ring_.begin(), ring_.begin() + static_cast<ptrdiff_t>(count_));
      auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(count_)));
      rank = std::clamp<size_t>(rank, 1, count_);
      std::nth_element(v.begin(), v.begin() + static_cast<ptrdiff_t>(rank - 1), v.end());
      cached_ = v[rank - 1];
      stale_ = 0;
    }
    return cached_;
  }

 private:
  std::mutex mu_;
  std::array<int64_t, kWindow> ring_{};
  size_t next_ = 0;
  size_t count_ = 0;
  size_t stale_ = 0;
  int64_t cached_ = -1;
};

// ---- Call: the shared state of one hedged request's copies ----

template <typename T>
struct HedgedStore::Call {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Result<T>> result[2];
  HedgeCopies copies;
};

std::optional<int> hedge_resolve(bool is_put, const HedgeCopies& c) {
  // The first usable answer: OK for a put, any real answer for a read.
  for (int i = 0; i < c.finished; i++) {
    const int k = c.order[i];
    if (is_put ? c.status[k].ok() : is_real_answer(c.status[k])) return k;
  }
  const bool other_running = c.finished < (c.sent[1] ? 2 : 1);
  if (is_put) {
    for (int i = 0; i < c.finished; i++) {
      const int k = c.order[i];
      if (!c.status[k].is_precondition_failed()) continue;
      if (!c.sent[1]) return k;  // no other copy: a real conflict
      const int other = 1 - k;
      // The existing object may be our other copy.
      if (other_running || c.status[other].is_unknown_outcome()) return kHedgeSynthesizedUnknown;
      return k;  // both PreconditionFailed, or the other was not applied
    }
  }
  if (other_running) return std::nullopt;  // errors so far; the other may answer
  for (int i = 0; i < c.finished; i++) {
    if (c.status[c.order[i]].is_unknown_outcome()) return c.order[i];
  }
  return c.order[0];
}

// ---- construction ----

HedgedStore::HedgedStore(ObjectStorePtr inner, HedgeOptions options)
    : inner_(std::move(inner)), options_(options) {
  if (!(options_.percentile > 0 && options_.percentile < 1)) options_.percentile = 0.95;
  options_.max_extra_fraction = std::clamp(options_.max_extra_fraction, 0.0, 1.0);
  if (std::isnan(options_.max_extra_fraction)) options_.max_extra_fraction = 0;
  options_.max_burst = std::max(options_.max_burst, 1);
  options_.max_workers = std::max(options_.max_workers, 1);
  options_.min_samples = std::max(options_.min_samples, 0);
  if (options_.min_delay.count() < 0) options_.min_delay = std::chrono::milliseconds(0);
  if (options_.max_delay < options_.min_delay) options_.max_delay = options_.min_delay;
  credit_ppm_ = static_cast<uint64_t>(std::llround(options_.max_extra_fraction * kTokenPpm));
  max_tokens_ppm_ = int64_t{options_.max_burst} * kTokenPpm;
  trackers_ = std::make_unique<Tracker[]>(kHedgeClassCount * kSizeBuckets);
}

HedgedStore::~HedgedStore() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lk(pool_mu_);
    stopping_ = true;
    threads.swap(threads_);
  }
  pool_cv_.notify_all();
  for (auto& t : threads) t.join();
}

ObjectStorePtr with_hedging(ObjectStorePtr inner, const HedgeOptions& options) {
  if (!inner || !options.enabled) return inner;
  if (!options.hedge_local_stores) {
    const std::string url = inner->url();
    if (url.starts_with("mem:") || url.starts_with("file:")) return inner;
  }
  return std::make_shared<HedgedStore>(std::move(inner), options);
}

// ---- stats ----

void HedgedStore::bump(HedgeClass c, std::atomic<uint64_t> Counters::*field) {
  (counters(c).*field).fetch_add(1, kRelaxed);
  static constexpr std::atomic<uint64_t> Counters::*kFields[6] = {
      &Counters::requests,      &Counters::hedges_sent,    &Counters::hedges_won,
      &Counters::denied_budget, &Counters::denied_workers, &Counters::unknown_outcomes};
  for (size_t i = 0; i < 6; i++) {
    if (kFields[i] == field) {
      process_counters().c[static_cast<size_t>(c)][i].fetch_add(1, kRelaxed);
    }
  }
}

HedgeStats HedgedStore::stats() const {
  HedgeStats s;
  for (size_t i = 0; i < kHedgeClassCount; i++) {
    const Counters& c = counters_[i];
    s.classes[i].requests = c.requests.load(kRelaxed);
    s.classes[i].hedges_sent = c.hedges_sent.load(kRelaxed);
    s.classes[i].hedges_won = c.hedges_won.load(kRelaxed);
    s.classes[i].denied_budget = c.denied_budget.load(kRelaxed);
    s.classes[i].denied_workers = c.denied_workers.load(kRelaxed);
    s.classes[i].unknown_outcomes = c.unknown_outcomes.load(kRelaxed);
  }
  return s;
}

// ---- latency trackers ----

size_t HedgedStore::size_bucket(uint64_t size) {
  if (size <= (uint64_t{64} << 10)) return 0;
  if (size <= (uint64_t{1} << 20)) return 1;
  if (size <= (uint64_t{8} << 20)) return 2;
  return 3;
}

HedgedStore::Tracker& HedgedStore::tracker(HedgeClass cls, size_t bucket) const {
  return trackers_[static_cast<size_t>(cls) * kSizeBuckets + bucket];
}

void HedgedStore::record(HedgeClass cls, size_t bucket, std::chrono::nanoseconds latency) {
  tracker(cls, bucket).add(latency.count());
}

std::optional<std::chrono::microseconds> HedgedStore::hedge_delay(HedgeClass c,
                                                                  uint64_t size) const {
  auto q = tracker(c, size_bucket(size))
               .quantile(options_.percentile, static_cast<size_t>(options_.min_samples));
  if (!q) return std::nullopt;
  auto d = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::nanoseconds(*q));
  return std::clamp<std::chrono::microseconds>(d, options_.min_delay, options_.max_delay);
}

// ---- budget ----

void HedgedStore::credit() {
  std::lock_guard lk(budget_mu_);
  tokens_ppm_ = std::min<int64_t>(tokens_ppm_ + static_cast<int64_t>(credit_ppm_), max_tokens_ppm_);
}

bool HedgedStore::has_token() const {
  std::lock_guard lk(budget_mu_);
  return tokens_ppm_ >= kTokenPpm;
}

bool HedgedStore::take_token() {
  std::lock_guard lk(budget_mu_);
  if (tokens_ppm_ < kTokenPpm) return false;
  tokens_ppm_ -= kTokenPpm;
  return true;
}

// ---- pool ----

bool HedgedStore::reserve_worker() {
  std::lock_guard lk(pool_mu_);
  if (stopping_ || reserved_ >= static_cast<size_t>(options_.max_workers)) return false;
  reserved_++;
  return true;
}

void HedgedStore::release_worker() {
  std::lock_guard lk(pool_mu_);
  reserved_--;
}

void HedgedStore::submit(std::function<void()> task) {
  std::lock_guard lk(pool_mu_);
  queue_.push_back(std::move(task));
  // Every queued task holds a reservation; start a thread when the idle
  // ones cannot take them all (never more threads than reservations).
  if (idle_ < queue_.size() && threads_.size() < static_cast<size_t>(options_.max_workers)) {
    threads_.emplace_back([this] { worker_loop(); });
  } else {
    pool_cv_.notify_one();
  }
}

void HedgedStore::worker_loop() {
  std::unique_lock lk(pool_mu_);
  for (;;) {
    idle_++;
    pool_cv_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
    idle_--;
    if (queue_.empty()) return;  // stopping, nothing left
    {
      std::function<void()> task = std::move(queue_.front());
      queue_.pop_front();
      lk.unlock();
      task();
    }  // the task's captures (a loser's result, a body copy) are freed here
    lk.lock();
    reserved_--;
  }
}

size_t HedgedStore::worker_threads() const {
  std::lock_guard lk(pool_mu_);
  return threads_.size();
}

size_t HedgedStore::busy_workers() const {
  std::lock_guard lk(pool_mu_);
  return reserved_;
}

bool HedgedStore::reserve_put_bytes(uint64_t n) {
  uint64_t cur = put_bytes_.load(kRelaxed);
  do {
    if (n > options_.max_inflight_put_bytes || cur > options_.max_inflight_put_bytes - n) {
      return false;
    }
  } while (!put_bytes_.compare_exchange_weak(cur, cur + n, kRelaxed));
  return true;
}

void HedgedStore::release_put_bytes(uint64_t n) { put_bytes_.fetch_sub(n, kRelaxed); }

// ---- the hedging itself ----

template <typename T>
Result<T> HedgedStore::run(HedgeClass cls, uint64_t size, bool is_put, uint64_t body_bytes,
                           const std::function<Result<T>()>& borrowed,
                           const std::function<std::function<Result<T>()>()>& owned) {
  bump(cls, &Counters::requests);
  credit();
  const size_t bucket = size_bucket(size);
  const auto delay = hedge_delay(cls, size);

  // Runs on the caller's thread; counts the request as denied (by
  // `denied`) when it turned out slower than the delay.
  auto inline_run = [&](std::atomic<uint64_t> Counters::*denied) -> Result<T> {
    const auto start = SteadyClock::now();
    Result<T> r = borrowed();
    const auto took = SteadyClock::now() - start;
    if (is_real_answer(r.status())) record(cls, bucket, took);
    if (denied != nullptr && delay && took > *delay) bump(cls, denied);
    return r;
  };
  if (!delay) return inline_run(nullptr);
  if (!has_token()) return inline_run(&Counters::denied_budget);
  if (!reserve_put_bytes(body_bytes)) return inline_run(&Counters::denied_workers);
  if (!reserve_worker()) {
    release_put_bytes(body_bytes);
    return inline_run(&Counters::denied_workers);
  }

  // From here the op (and the body it owns) may outlive this call: share
  // it with the copies; the byte reservation ends with the last owner.
  struct Shared {
    Shared(std::function<Result<T>()> o, HedgedStore* s, uint64_t b)
        : op(std::move(o)), store(s), bytes(b) {}
    Shared(const Shared&) = delete;
    Shared& operator=(const Shared&) = delete;
    ~Shared() { store->release_put_bytes(bytes); }
    std::function<Result<T>()> op;
    HedgedStore* store;
    uint64_t bytes;
  };
  auto shared = std::make_shared<Shared>(owned(), this, body_bytes);
  auto call = std::make_shared<Call<T>>();
  auto send = [this, shared, call, cls, bucket](int copy) {
    submit([this, shared, call, cls, bucket, copy] {
      const auto start = SteadyClock::now();
      Result<T> r = shared->op();
      const auto took = SteadyClock::now() - start;
      if (is_real_answer(r.status())) record(cls, bucket, took);
      std::lock_guard lk(call->mu);
      call->copies.status[copy] = r.status();
      call->result[copy].emplace(std::move(r));
      call->copies.order[call->copies.finished++] = copy;
      call->cv.notify_all();
    });
  };
  const auto start = SteadyClock::now();
  send(0);

  std::unique_lock lk(call->mu);
  const bool answered_in_time =
      call->cv.wait_until(lk, start + *delay, [&] { return call->copies.finished > 0; });
  if (!answered_in_time) {
    // Slower than the delay: hedge, if the budget and the pool allow.
    lk.unlock();
    std::atomic<uint64_t> Counters::*denied = nullptr;
    if (!take_token()) {
      denied = &Counters::denied_budget;
    } else if (!reserve_worker()) {
      std::lock_guard blk(budget_mu_);
      tokens_ppm_ += kTokenPpm;  // give the unused token back
      denied = &Counters::denied_workers;
    }
    lk.lock();
    if (denied == nullptr && call->copies.finished > 0) {
      // The first copy answered meanwhile: no hedge after all (a hedge
      // now would also turn a real PreconditionFailed into an unknown).
      lk.unlock();
      release_worker();
      {
        std::lock_guard blk(budget_mu_);
        tokens_ppm_ += kTokenPpm;
      }
      lk.lock();
    } else if (denied != nullptr) {
      bump(cls, denied);
    } else {
      call->copies.sent[1] = true;
      bump(cls, &Counters::hedges_sent);
      lk.unlock();
      send(1);
      lk.lock();
    }
  }
  std::optional<int> winner;
  call->cv.wait(lk, [&] { return (winner = hedge_resolve(is_put, call->copies)).has_value(); });
  if (*winner == kHedgeSynthesizedUnknown) {
    lk.unlock();
    bump(cls, &Counters::unknown_outcomes);
    return Status::UnknownOutcome(
        "hedged create-only put: PreconditionFailed while our other copy was in flight or "
        "unresolved (the object may be ours)");
  }
  // The other copy's task only ever touches its own slot.
  Result<T> answer = std::move(*call->result[*winner]);
  lk.unlock();
  if (*winner == 1) bump(cls, &Counters::hedges_won);
  return answer;
}

// ---- ObjectStore ----

Result<GetResult> HedgedStore::get(std::string_view key, const GetOptions& options) {
  if (!options_.enabled) return inner_->get(key, options);
  const bool ranged = options.range.has_value();
  const uint64_t size = ranged ? options.range->length : 0;
  return run<GetResult>(
      ranged ? HedgeClass::kGetRange : HedgeClass::kGet, size, false, 0,
      [&] { return inner_->get(key, options); },
      [&] {
        return std::function<Result<GetResult>()>(
            [inner = inner_, key = std::string(key), options] { return inner->get(key, options); });
      });
}

Result<ObjectMeta> HedgedStore::head(std::string_view key) {
  if (!options_.enabled) return inner_->head(key);
  return run<ObjectMeta>(
      HedgeClass::kHead, 0, false, 0, [&] { return inner_->head(key); },
      [&] {
        return std::function<Result<ObjectMeta>()>(
            [inner = inner_, key = std::string(key)] { return inner->head(key); });
      });
}

Result<ObjectMeta> HedgedStore::put(std::string_view key, std::string_view data,
                                    const PutOptions& options) {
  // Only create-only puts are hedged (see the header for why).
  if (!options_.enabled || options.mode != PutMode::kCreateOnly) {
    return inner_->put(key, data, options);
  }
  // The body is copied only when the request goes to the pool.
  return run<ObjectMeta>(
      HedgeClass::kPutCreate, data.size(), true, data.size(),
      [&] { return inner_->put(key, data, options); },
      [&] {
        auto body = std::make_shared<const std::string>(data);
        return std::function<Result<ObjectMeta>()>(
            [inner = inner_, key = std::string(key), body, options] {
              return inner->put(key, *body, options);
            });
      });
}

Status HedgedStore::remove(std::string_view key) { return inner_->remove(key); }

Result<std::vector<DeleteOutcome>> HedgedStore::remove_batch(
    const std::vector<std::string>& keys) {
  return inner_->remove_batch(keys);
}

Result<ListPage> HedgedStore::list(const ListOptions& options) { return inner_->list(options); }

}  // namespace isle
