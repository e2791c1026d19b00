// CycleRunner (see cycle_runner.h).
#include "server/cycle_runner.h"

#include <spdlog/spdlog.h>

#include "server/metrics.h"

namespace isle::server {

CycleRunner::CycleRunner(Cycle cycle, Metrics& m, std::function<void(const Status&)> fenced)
    : cycle_(std::move(cycle)), on_fenced_(std::move(fenced)) {
  const Labels l = {{"job", cycle_.name}};
  cycles_total_ = &m.counter("isle_maintenance_cycles_total", "maintenance cycles that succeeded", l);
  errors_total_ = &m.counter("isle_maintenance_cycle_errors_total", "maintenance cycles that failed", l);
  duration_ = &m.histogram("isle_maintenance_cycle_duration_seconds",
                           "time one maintenance cycle took", l,
                           {0.001, 0.01, 0.1, 0.5, 1, 5, 30, 120, 600});
}

CycleRunner::~CycleRunner() { stop(); }

void CycleRunner::start() {
  loop_.start(
      [this]() -> std::optional<std::chrono::milliseconds> {
        if (fenced_.load()) return std::nullopt;
        auto r = run_now();
        if (fenced_.load()) return std::nullopt;
        if (r.ok() && r->more) return std::chrono::milliseconds(0);
        return cycle_.interval;
      },
      cycle_.interval);
}

void CycleRunner::stop() { loop_.stop(); }

Result<CycleResult> CycleRunner::run_now() {
  std::lock_guard lk(run_mu_);
  if (fenced_.load()) return Status::Fenced(cycle_.name + ": this process was fenced");
  return run_locked();
}

Result<CycleResult> CycleRunner::run_locked() {
  const auto t0 = std::chrono::steady_clock::now();
  auto r = cycle_.run();
  duration_->observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  if (r.ok()) {
    cycles_++;
    cycles_total_->inc();
    std::lock_guard lk(result_mu_);
    last_result_ = r->json;
    return r;
  }
  errors_++;
  errors_total_->inc();
  if (r.status().code() == Code::kFenced) {
    spdlog::error("{}: fenced: {}", cycle_.name, r.status().message());
    fenced_.store(true);
    on_fenced_(r.status());
  } else {
    spdlog::warn("{} cycle failed (retried in {} ms): {}", cycle_.name, cycle_.interval.count(),
                 r.status().to_string());
  }
  return r;
}

std::string CycleRunner::last_result() const {
  std::lock_guard lk(result_mu_);
  return last_result_;
}

}  // namespace isle::server
