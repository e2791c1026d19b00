// The Prometheus registry of metrics.h and its text exposition (0.0.4).
//
// Invariants:
//   * a family (one name) has exactly one type and one help text; the first
//     registration fixes both. Registering the name again with a different
//     type, an invalid metric or label name, a reserved label ("le" on a
//     histogram, "__*"), a label named twice, an unknown callback type or
//     unsorted/non-finite histogram bounds is a programming error and
//     aborts with a message on stderr. A different help text for an
//     existing family is ignored (the first one stays).
//   * a series is identified by its label set, order-insensitive (labels
//     are sorted by name when registered); the same (name, labels) returns
//     the same Counter/Histogram, and a callback registered again for the
//     same (name, labels) replaces the old one; a histogram keeps the bounds
//     it was first registered with. Counters and histograms
//     live as long as the registry, so references stay valid.
//   * render() lists families by name and series by their sorted labels,
//     so two scrapes of an idle registry are byte-identical. It copies what
//     it needs under the lock and calls the callbacks (and reads the atomics)
//     after releasing it, so a callback may itself use the registry.
//   * Histogram: observe() bumps count_ before its bucket, and snapshot()
//     reads the buckets before count_, so a rendered +Inf bucket (= count)
//     is never below a finite bucket. Counter::inc ignores negative and NaN
//     increments (a counter never goes down).
#include "server/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <variant>

namespace isle::server {

namespace {

[[noreturn]] void misuse(const std::string& what) {
  std::fprintf(stderr, "isle metrics: %s\n", what.c_str());
  std::abort();
}

bool valid_metric_name(const std::string& s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); i++) {
    const char c = s[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

bool valid_label_name(const std::string& s) {
  if (s.empty() || s.rfind("__", 0) == 0) return false;
  for (size_t i = 0; i < s.size(); i++) {
    const char c = s[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

// Sorted by label name, checked.
Labels canonical(const std::string& name, Labels labels, bool histogram) {
  std::sort(labels.begin(), labels.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 0; i < labels.size(); i++) {
    const std::string& l = labels[i].first;
    if (!valid_label_name(l)) misuse(name + ": invalid label name '" + l + "'");
    if (histogram && l == "le") misuse(name + ": label 'le' is reserved for histogram buckets");
    if (i > 0 && labels[i - 1].first == l) misuse(name + ": label '" + l + "' given twice");
  }
  return labels;
}

void append_escaped_label_value(std::string& out, const std::string& v) {
  for (char c : v) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
}

void append_escaped_help(std::string& out, const std::string& v) {
  for (char c : v) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
}

// `{a="x",b="y"` without the closing brace (so a histogram can add `le`),
// or "" when there are no labels.
std::string open_labels(const Labels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); i++) {
    if (i > 0) out += ',';
    out += labels[i].first;
    out += "=\"";
    append_escaped_label_value(out, labels[i].second);
    out += '"';
  }
  return out;
}

// A sample value (or an `le` bound) as Prometheus (Go's ParseFloat) reads
// it: integral values up to 2^53 as plain integers, others in the shortest
// form that reads back to the same double, and the specials as +Inf, -Inf
// and NaN.
std::string format_sample_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::trunc(v) && std::fabs(v) <= 9007199254740992.0) {
    if (v == 0) return "0";  // also -0
    return std::to_string(static_cast<int64_t>(v));
  }
  // Like Go's FormatFloat(v, 'g', -1, 64) for the decimal exponents Go
  // prints plainly: 0.0001 (not 1e-04), 1e-05, 1.5e+300.
  char buf[400];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  const std::string sci(buf, r.ptr);
  const int exp = std::atoi(sci.c_str() + sci.find('e') + 1);
  if (exp < -4 || exp >= 21) return sci;
  r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  return std::string(buf, r.ptr);
}

}  // namespace

// ---- Counter ----

void Counter::inc(double v) {
  if (!(v >= 0)) return;  // negative or NaN: a counter never goes down
  v_.fetch_add(v, std::memory_order_relaxed);
}

double Counter::value() const { return v_.load(std::memory_order_relaxed); }

// ---- Histogram ----

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  // A trailing +Inf is implicit in the format; drop it if the caller gave it.
  if (!bounds_.empty() && std::isinf(bounds_.back()) && bounds_.back() > 0) bounds_.pop_back();
  for (size_t i = 0; i < bounds_.size(); i++) {
    if (!std::isfinite(bounds_[i])) misuse("histogram bounds must be finite");
    if (i > 0 && !(bounds_[i - 1] < bounds_[i])) {
      misuse("histogram bounds must be strictly increasing");
    }
  }
  buckets_ = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size());
  for (size_t i = 0; i < bounds_.size(); i++) buckets_[i].store(0);
}

void Histogram::observe(double v) {
  count_.fetch_add(1);  // before the bucket: see the invariant at the top
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);  // first bound >= v
  if (it != bounds_.end()) buckets_[it - bounds_.begin()].fetch_add(1);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.buckets.resize(bounds_.size());
  uint64_t running = 0;
  for (size_t i = 0; i < bounds_.size(); i++) {
    running += buckets_[i].load();
    s.buckets[i] = running;  // cumulative: observations <= bounds_[i]
  }
  s.count = count_.load();
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> default_latency_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,    5,     10};
}

// ---- Metrics ----

struct Metrics::Family {
  std::string help;
  std::string type;  // "counter", "gauge", "histogram"
  struct Series {
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Histogram> histogram;
    std::function<double()> read;  // a callback series
  };
  std::map<Labels, Series> series;
};

Metrics::Metrics() = default;
Metrics::~Metrics() = default;

Counter& Metrics::counter(const std::string& name, const std::string& help, const Labels& labels) {
  if (!valid_metric_name(name)) misuse("invalid metric name '" + name + "'");
  Labels key = canonical(name, labels, false);
  std::lock_guard lock(mu_);
  auto& fam = families_[name];
  if (!fam) fam = std::make_unique<Family>(Family{help, "counter", {}});
  if (fam->type != "counter") misuse(name + ": registered as " + fam->type + ", used as counter");
  auto& s = fam->series[key];
  if (s.read) misuse(name + ": series is a callback, used as a counter");
  if (!s.counter) s.counter = std::make_unique<Counter>();
  return *s.counter;
}

Histogram& Metrics::histogram(const std::string& name, const std::string& help,
                              const Labels& labels, std::vector<double> bounds) {
  if (!valid_metric_name(name)) misuse("invalid metric name '" + name + "'");
  Labels key = canonical(name, labels, true);
  std::lock_guard lock(mu_);
  auto& fam = families_[name];
  if (!fam) fam = std::make_unique<Family>(Family{help, "histogram", {}});
  if (fam->type != "histogram") {
    misuse(name + ": registered as " + fam->type + ", used as histogram");
  }
  auto& s = fam->series[key];
  if (!s.histogram) s.histogram = std::make_unique<Histogram>(std::move(bounds));
  return *s.histogram;
}

void Metrics::callback(const std::string& name, const std::string& help, const std::string& type,
                       const Labels& labels, std::function<double()> read) {
  if (!valid_metric_name(name)) misuse("invalid metric name '" + name + "'");
  if (type != "gauge" && type != "counter") {
    misuse(name + ": callback type must be gauge or counter, not '" + type + "'");
  }
  if (!read) misuse(name + ": empty callback");
  Labels key = canonical(name, labels, false);
  std::lock_guard lock(mu_);
  auto& fam = families_[name];
  if (!fam) fam = std::make_unique<Family>(Family{help, type, {}});
  if (fam->type != type) misuse(name + ": registered as " + fam->type + ", used as " + type);
  auto& s = fam->series[key];
  if (s.counter) misuse(name + ": series is a counter, registered again as a callback");
  s.read = std::move(read);
}

std::string Metrics::render() const {
  // What one series needs to be rendered without the lock.
  struct Item {
    const Labels* labels;  // owned by the map; keys are never removed
    const Counter* counter = nullptr;
    const Histogram* histogram = nullptr;
    std::function<double()> read;
  };
  struct Fam {
    const std::string* name;
    const Family* family;  // help/type are never changed after creation
    std::vector<Item> items;
  };
  std::vector<Fam> fams;
  {
    std::lock_guard lock(mu_);
    fams.reserve(families_.size());
    for (const auto& [name, fam] : families_) {
      Fam f{&name, fam.get(), {}};
      f.items.reserve(fam->series.size());
      for (const auto& [labels, s] : fam->series) {
        f.items.push_back(Item{&labels, s.counter.get(), s.histogram.get(), s.read});
      }
      fams.push_back(std::move(f));
    }
  }

  std::string out;
  for (const Fam& f : fams) {
    const std::string& name = *f.name;
    out += "# HELP " + name + ' ';
    append_escaped_help(out, f.family->help);
    out += "\n# TYPE " + name + ' ' + f.family->type + '\n';
    for (const Item& it : f.items) {
      const std::string open = open_labels(*it.labels);
      const std::string closed = open.empty() ? "" : open + "}";
      if (it.histogram) {
        const Histogram::Snapshot snap = it.histogram->snapshot();
        const auto& bounds = it.histogram->bounds();
        const std::string le_prefix = open.empty() ? "{le=\"" : open + ",le=\"";
        for (size_t i = 0; i < bounds.size(); i++) {
          out += name + "_bucket" + le_prefix + format_sample_value(bounds[i]) + "\"} " +
                 std::to_string(snap.buckets[i]) + '\n';
        }
        out += name + "_bucket" + le_prefix + "+Inf\"} " + std::to_string(snap.count) + '\n';
        out += name + "_sum" + closed + ' ' + format_sample_value(snap.sum) + '\n';
        out += name + "_count" + closed + ' ' + std::to_string(snap.count) + '\n';
      } else {
        const double v = it.counter ? it.counter->value() : it.read ? it.read() : 0;
        out += name + closed + ' ' + format_sample_value(v) + '\n';
      }
    }
  }
  return out;
}

}  // namespace isle::server
