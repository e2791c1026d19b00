// retentiond's role glue: one isle::RetentionCompactor (holding the
// retention fence) driven by a CycleRunner. What "expired" means, and why
// data is judged by its write time, is in docs/retention.md.
#include "retention_role.h"

#include <algorithm>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "isle/retention.h"
#include "lsm/engine_store.h"
#include "server/api.h"
#include "server/cycle_runner.h"
#include "server/metrics.h"

namespace isle::retentiond {

using namespace isle::server;

namespace {

std::string cleanup_json(const CleanupInfo& c) {
  nlohmann::json j;
  j["mode"] = c.mode == RetentionMode::kByAge ? "by_age" : "by_time_window";
  j["now_ms"] = c.now_ms;
  j["cutoff_ms"] = c.cutoff_ms;
  j["removed"] = c.removed;
  j["removed_bytes"] = c.removed_bytes;
  j["expired_kept"] = c.expired_kept;
  j["replans"] = c.replans;
  j["log_position"] = c.log_position;
  j["manifest_position"] = c.manifest_position;
  return j.dump();
}

class RetentionRole final : public server::Role {
 public:
  RetentionRole(const DaemonContext& ctx, std::unique_ptr<RetentionCompactor> retention,
                std::string owner)
      : ctx_(ctx), retention_(std::move(retention)), owner_(std::move(owner)) {
    Metrics& m = *ctx.metrics;
    RetentionCompactor* r = retention_.get();
    m.callback("isle_retention_removed_ssts_total", "SSTs removed by retention", "counter", {},
               [r] { return static_cast<double>(r->stats().ssts_removed); });
    m.callback("isle_retention_removed_bytes_total", "SST bytes removed by retention", "counter",
               {}, [r] { return static_cast<double>(r->stats().bytes_removed); });
    m.callback("isle_retention_last_cleanup_timestamp_seconds",
               "clock at the start of the last successful cleanup", "gauge", {},
               [r] { return r->stats().last_cleanup_ms / 1000.0; });
    runner_ = std::make_unique<CycleRunner>(
        Cycle{"retention", ctx.config->get_duration("retention.interval"),
              [this] { return cleanup(); }},
        m, [this](const Status& s) { ctx_.fatal(kExitFenced, s); });
    runner_->start();
  }

  void add_routes(Router& router) override {
    router.add("POST", "/v1/run", [this](const HttpRequest&) {
      auto r = runner_->run_now();
      if (!r.ok()) return error_response(r.status());
      return HttpResponse::json(200, r->json);
    }, {.scope = Scope::kAdmin});
  }

  bool ready() const override { return !runner_->fenced(); }

  void status(nlohmann::json& out) const override {
    RetentionStats s = retention_->stats();
    out["epoch"] = retention_->epoch();
    out["owner"] = owner_;
    out["manifest_seq"] = log_position_.load();
    out["cleanups"] = s.cleanups;
    out["errors"] = s.errors;
    out["ssts_removed"] = s.ssts_removed;
    out["bytes_removed"] = s.bytes_removed;
    out["last_cleanup_ms"] = s.last_cleanup_ms;
    std::string last = runner_->last_result();
    out["last_cleanup"] = last.empty() ? nlohmann::json(nullptr) : nlohmann::json::parse(last);
  }

  Status shutdown() override {
    runner_->stop();
    return Status::OK();
  }


 private:
  Result<CycleResult> cleanup() {
    auto r = retention_->run_cleanup();
    if (!r.ok()) return r.status();
    log_position_ = std::max({log_position_.load(), r->manifest_position,
                              r->log_position ? r->log_position + 1 : 0});
    if (!r->removed.empty()) {
      spdlog::info("retention removed {} SSTs ({} bytes) written before {}", r->removed.size(),
                   r->removed_bytes, r->cutoff_ms);
    }
    return CycleResult{cleanup_json(*r), false};
  }

  DaemonContext ctx_;
  std::unique_ptr<RetentionCompactor> retention_;
  std::string owner_;
  std::atomic<uint64_t> log_position_{0};
  std::unique_ptr<CycleRunner> runner_;
};

Result<std::unique_ptr<server::Role>> open_role(const DaemonContext& ctx) {
  const Config& c = *ctx.config;
  RetentionOptions o;
  o.owner = c.get_string("retention.owner");
  if (o.owner.empty()) o.owner = default_owner_name();
  o.mode = c.get_string("retention.mode") == "by_age" ? RetentionMode::kByAge
                                                       : RetentionMode::kByTimeWindow;
  o.retention_period = c.get_duration("retention.period");
  o.retention_count = static_cast<size_t>(c.get_int("retention.count"));
  o.segment_duration = c.get_duration("retention.segment_duration");
  auto r = RetentionCompactor::open(ctx.store, ctx.db, o);
  if (!r.ok()) return r.status();
  spdlog::info("retention fence claimed as {}: keep {} of data", o.owner,
               format_duration(o.retention_period));
  return std::unique_ptr<server::Role>(std::make_unique<RetentionRole>(ctx, std::move(*r), o.owner));
}

}  // namespace

DaemonSpec spec() {
  DaemonSpec s;
  s.name = "retentiond";
  s.role = "retention";
  s.default_listen = "127.0.0.1:7005";
  using T = ConfigType;
  s.role_schema
      .add({.path = "retention.mode", .type = T::kEnum, .default_value = "by_age",
            .help = "by_age: drop SSTs older than the period; by_time_window: drop whole "
                    "segments", .choices = {"by_age", "by_time_window"}})
      .add({.path = "retention.period", .type = T::kDuration, .default_value = "7d",
            .help = "how long data is kept after it was written"})
      .add({.path = "retention.count", .type = T::kInt, .default_value = "10",
            .help = "by_age: SSTs always kept; by_time_window: count/10 segments always kept",
            .min = 0, .max = 1'000'000})
      .add({.path = "retention.segment_duration", .type = T::kDuration, .default_value = "1h",
            .help = "by_time_window: the segment length"})
      .add({.path = "retention.interval", .type = T::kDuration, .default_value = "1m",
            .help = "one cleanup this often"})
      .add({.path = "retention.owner", .type = T::kString,
            .help = "name recorded in the fence claim (default host:pid:random)"});
  s.open = open_role;
  return s;
}

}  // namespace isle::retentiond
