// LatencyStore: lognormal first-byte latency plus bandwidth-limited
// transfer in front of an inner store; see latency_store.h for the model.
#include "store/latency_store.h"

#include <cmath>
#include <numbers>

namespace isle {

namespace {

constexpr double kZ99 = 2.3263478740408408;  // standard normal 0.99 quantile
constexpr double kMaxLatencyMs = 60'000;

}  // namespace

double sample_lognormal_ms(Random& rnd, double p50, double p99) {
  if (p50 <= 0) return 0;
  if (p99 <= p50) return p50;
  double sigma = std::log(p99 / p50) / kZ99;
  // Box-Muller; 1 - unit() is in (0, 1], so the log is finite.
  double u1 = 1.0 - rnd.unit();
  double u2 = rnd.unit();
  double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  double ms = p50 * std::exp(sigma * z);
  return ms < kMaxLatencyMs ? ms : kMaxLatencyMs;
}

LatencyStore::LatencyStore(ObjectStorePtr inner, LatencyProfile profile, uint64_t seed,
                           SleepFunction sleep)
    : inner_(std::move(inner)), profile_(profile), sleep_(std::move(sleep)), rnd_(seed) {
  if (!sleep_) sleep_ = real_sleep;
}

void LatencyStore::wait(std::chrono::microseconds d) {
  if (d.count() <= 0) return;
  total_delay_us_.fetch_add(static_cast<uint64_t>(d.count()), std::memory_order_relaxed);
  sleep_(d);
}

void LatencyStore::first_byte(bool write) {
  double ms;
  {
    std::lock_guard lock(mu_);
    ms = write ? sample_lognormal_ms(rnd_, profile_.write_p50_ms, profile_.write_p99_ms)
               : sample_lognormal_ms(rnd_, profile_.read_p50_ms, profile_.read_p99_ms);
  }
  wait(std::chrono::microseconds(std::llround(ms * 1000.0)));
}

void LatencyStore::transfer(uint64_t bytes, bool write) {
  double bw = write ? profile_.write_bytes_per_sec : profile_.read_bytes_per_sec;
  if (bw <= 0 || bytes == 0) return;
  double seconds = static_cast<double>(bytes) / bw;
  wait(std::chrono::microseconds(std::llround(seconds * 1e6)));
}

Result<GetResult> LatencyStore::get(std::string_view key, const GetOptions& options) {
  first_byte(false);
  auto r = inner_->get(key, options);
  if (r.ok()) transfer(r->data.size(), false);
  return r;
}

Result<ObjectMeta> LatencyStore::head(std::string_view key) {
  first_byte(false);
  return inner_->head(key);
}

Result<ObjectMeta> LatencyStore::put(std::string_view key, std::string_view data,
                                     const PutOptions& options) {
  transfer(data.size(), true);
  first_byte(true);
  return inner_->put(key, data, options);
}

Status LatencyStore::remove(std::string_view key) {
  first_byte(true);
  return inner_->remove(key);
}

Result<std::vector<DeleteOutcome>> LatencyStore::remove_batch(
    const std::vector<std::string>& keys) {
  first_byte(true);
  return inner_->remove_batch(keys);
}

Result<ListPage> LatencyStore::list(const ListOptions& options) {
  first_byte(false);
  return inner_->list(options);
}

}  // namespace isle
