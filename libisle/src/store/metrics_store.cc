// MetricsStore: per-operation counters around an inner store; see
// metrics_store.h for exactly what is counted.
#include "store/metrics_store.h"

#include <cmath>
#include <cstdio>
#include <limits>

namespace isle {

namespace {
constexpr auto kRelaxed = std::memory_order_relaxed;

std::string format_ms(double ms) {
  if (std::isinf(ms)) return "inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", ms);
  return buf;
}
}  // namespace

size_t latency_bucket_index(uint64_t micros) {
  for (size_t i = 0; i < kLatencyBoundsMs.size(); i++) {
    if (static_cast<double>(micros) <= kLatencyBoundsMs[i] * 1000.0) return i;
  }
  return kLatencyBoundsMs.size();
}

// ---- OpStats / StoreMetrics ----

double OpStats::mean_latency_ms() const {
  if (latency_count == 0) return 0;
  return static_cast<double>(latency_sum_us) / 1000.0 / static_cast<double>(latency_count);
}

double OpStats::latency_quantile_ms(double q) const {
  if (latency_count == 0) return 0;
  // The rank of the sample we want, 1-based, at least 1.
  double rank = std::ceil(q * static_cast<double>(latency_count));
  if (rank < 1) rank = 1;
  uint64_t seen = 0;
  for (size_t i = 0; i < kLatencyBuckets; i++) {
    seen += latency_buckets[i];
    if (static_cast<double>(seen) >= rank) {
      return i < kLatencyBoundsMs.size() ? kLatencyBoundsMs[i]
                                         : std::numeric_limits<double>::infinity();
    }
  }
  return std::numeric_limits<double>::infinity();
}

void OpStats::add(const OpStats& o) {
  requests += o.requests;
  errors += o.errors;
  for (size_t i = 0; i < kCodeCount; i++) errors_by_code[i] += o.errors_by_code[i];
  bytes_read += o.bytes_read;
  bytes_written += o.bytes_written;
  keys += o.keys;
  for (size_t i = 0; i < kLatencyBuckets; i++) latency_buckets[i] += o.latency_buckets[i];
  latency_count += o.latency_count;
  latency_sum_us += o.latency_sum_us;
}

OpStats StoreMetrics::total() const {
  OpStats t;
  for (const auto& s : ops) t.add(s);
  return t;
}

std::string StoreMetrics::to_text() const {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-13s %10s %8s %14s %14s %8s %9s %8s %8s\n", "op",
                "requests", "errors", "bytes_read", "bytes_written", "keys", "mean_ms",
                "p50_ms", "p99_ms");
  out += line;
  auto row = [&](std::string_view name, const OpStats& s) {
    std::snprintf(line, sizeof line, "%-13.*s %10llu %8llu %14llu %14llu %8llu %9s %8s %8s\n",
                  static_cast<int>(name.size()), name.data(),
                  static_cast<unsigned long long>(s.requests),
                  static_cast<unsigned long long>(s.errors),
                  static_cast<unsigned long long>(s.bytes_read),
                  static_cast<unsigned long long>(s.bytes_written),
                  static_cast<unsigned long long>(s.keys), format_ms(s.mean_latency_ms()).c_str(),
                  format_ms(s.latency_quantile_ms(0.5)).c_str(),
                  format_ms(s.latency_quantile_ms(0.99)).c_str());
    out += line;
  };
  for (size_t i = 0; i < kStoreOpCount; i++) row(store_op_name(static_cast<StoreOp>(i)), ops[i]);
  row("total", total());

  std::string errors;
  for (size_t i = 0; i < kStoreOpCount; i++) {
    for (size_t c = 0; c < kCodeCount; c++) {
      if (ops[i].errors_by_code[c] == 0) continue;
      errors += "  ";
      errors += store_op_name(static_cast<StoreOp>(i));
      errors += ' ';
      errors += code_name(static_cast<Code>(c));
      errors += ": " + std::to_string(ops[i].errors_by_code[c]) + "\n";
    }
  }
  if (!errors.empty()) out += "errors by code:\n" + errors;
  return out;
}

// ---- MetricsStore ----

MetricsStore::MetricsStore(ObjectStorePtr inner, Clock* clock)
    : inner_(std::move(inner)), clock_(clock != nullptr ? clock : Clock::system()) {}

void MetricsStore::record(const Sample& s) {
  Counters& c = counters_[static_cast<size_t>(s.op)];
  c.requests.fetch_add(1, kRelaxed);
  if (s.code != Code::kOk) {
    c.errors.fetch_add(1, kRelaxed);
    c.errors_by_code[static_cast<size_t>(s.code)].fetch_add(1, kRelaxed);
  }
  c.bytes_read.fetch_add(s.bytes_read, kRelaxed);
  c.bytes_written.fetch_add(s.bytes_written, kRelaxed);
  c.keys.fetch_add(s.keys, kRelaxed);
  int64_t elapsed_ns = clock_->mono_ns() - s.start_ns;
  uint64_t micros = elapsed_ns > 0 ? static_cast<uint64_t>(elapsed_ns) / 1000 : 0;
  c.latency_buckets[latency_bucket_index(micros)].fetch_add(1, kRelaxed);
  c.latency_count.fetch_add(1, kRelaxed);
  c.latency_sum_us.fetch_add(micros, kRelaxed);
}

Result<GetResult> MetricsStore::get(std::string_view key, const GetOptions& options) {
  Sample s{StoreOp::kGet, Code::kOk, clock_->mono_ns()};
  auto r = inner_->get(key, options);
  s.code = r.status().code();
  if (r.ok()) s.bytes_read = r->data.size();
  record(s);
  return r;
}

Result<ObjectMeta> MetricsStore::head(std::string_view key) {
  Sample s{StoreOp::kHead, Code::kOk, clock_->mono_ns()};
  auto r = inner_->head(key);
  s.code = r.status().code();
  record(s);
  return r;
}

Result<ObjectMeta> MetricsStore::put(std::string_view key, std::string_view data,
                                     const PutOptions& options) {
  Sample s{StoreOp::kPut, Code::kOk, clock_->mono_ns()};
  s.bytes_written = data.size();
  auto r = inner_->put(key, data, options);
  s.code = r.status().code();
  record(s);
  return r;
}

Status MetricsStore::remove(std::string_view key) {
  Sample s{StoreOp::kRemove, Code::kOk, clock_->mono_ns()};
  Status st = inner_->remove(key);
  s.code = st.code();
  record(s);
  return st;
}

Result<std::vector<DeleteOutcome>> MetricsStore::remove_batch(
    const std::vector<std::string>& keys) {
  Sample s{StoreOp::kRemoveBatch, Code::kOk, clock_->mono_ns()};
  s.keys = keys.size();
  auto r = inner_->remove_batch(keys);
  s.code = r.status().code();
  record(s);
  return r;
}

Result<ListPage> MetricsStore::list(const ListOptions& options) {
  Sample s{StoreOp::kList, Code::kOk, clock_->mono_ns()};
  auto r = inner_->list(options);
  s.code = r.status().code();
  if (r.ok()) s.keys = r->objects.size();
  record(s);
  return r;
}

StoreMetrics MetricsStore::snapshot() const {
  StoreMetrics m;
  for (size_t i = 0; i < kStoreOpCount; i++) {
    const Counters& c = counters_[i];
    OpStats& o = m.ops[i];
    o.requests = c.requests.load(kRelaxed);
    o.errors = c.errors.load(kRelaxed);
    for (size_t k = 0; k < kCodeCount; k++) {
      o.errors_by_code[k] = c.errors_by_code[k].load(kRelaxed);
    }
    o.bytes_read = c.bytes_read.load(kRelaxed);
    o.bytes_written = c.bytes_written.load(kRelaxed);
    o.keys = c.keys.load(kRelaxed);
    for (size_t k = 0; k < kLatencyBuckets; k++) {
      o.latency_buckets[k] = c.latency_buckets[k].load(kRelaxed);
    }
    o.latency_count = c.latency_count.load(kRelaxed);
    o.latency_sum_us = c.latency_sum_us.load(kRelaxed);
  }
  return m;
}

void MetricsStore::reset() {
  for (Counters& c : counters_) {
    c.requests.store(0, kRelaxed);
    c.errors.store(0, kRelaxed);
    for (auto& a : c.errors_by_code) a.store(0, kRelaxed);
    c.bytes_read.store(0, kRelaxed);
    c.bytes_written.store(0, kRelaxed);
    c.keys.store(0, kRelaxed);
    for (auto& a : c.latency_buckets) a.store(0, kRelaxed);
    c.latency_count.store(0, kRelaxed);
    c.latency_sum_us.store(0, kRelaxed);
  }
}

}  // namespace isle
