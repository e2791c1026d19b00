// compactord's role glue: one isle::Compactor (holding the compactor
// fence) and one isle::GarbageCollector, each driven by a CycleRunner.
//
// GC lives here because it is maintenance that must run somewhere and
// needs no fence of its own (it only deletes what the manifest no longer
// references, after the grace); gc.enabled=false leaves it to another
// process (the `isle gc` command, or a second compactord with
// compactor.enabled=false).
#include "compactor_role.h"

#include <algorithm>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "isle/compactor.h"
#include "isle/gc.h"
#include "lsm/engine_store.h"
#include "server/api.h"
#include "server/cycle_runner.h"
#include "server/metrics.h"
#include "util/signing.h"

namespace isle::compactord {

using namespace isle::server;

namespace {

std::string compaction_json(const CompactionInfo& c) {
  nlohmann::json j;
  j["compacted"] = !c.inputs.empty();
  j["inputs"] = c.inputs;
  j["outputs"] = c.outputs;
  j["moved"] = c.moved;
  j["from_l0"] = c.from_l0;
  j["drops_tombstones"] = c.drops_tombstones;
  j["input_bytes"] = c.input_bytes;
  j["output_bytes"] = c.output_bytes;
  j["entries_in"] = c.entries_in;
  j["entries_out"] = c.entries_out;
  j["log_position"] = c.log_position;
  j["manifest_position"] = c.manifest_position;
  return j.dump();
}

std::string gc_json(const GcReport& g) {
  nlohmann::json j;
  j["deleted"] = g.deleted.size();
  j["ssts_marked"] = g.ssts_marked;
  j["ssts_deleted"] = g.ssts_deleted;
  j["orphans_deleted"] = g.orphans_deleted;
  j["blobs_deleted"] = g.blobs_deleted;
  j["log_entries_deleted"] = g.log_entries_deleted;
  j["snapshots_deleted"] = g.snapshots_deleted;
  j["delete_failures"] = g.delete_failures;
  j["pending_marks"] = g.pending_marks;
  j["log_position"] = g.log_position;
  j["manifest_skipped"] = g.manifest_skipped;
  return j.dump();
}

class CompactorRole final : public server::Role {
 public:
  CompactorRole(const DaemonContext& ctx, std::unique_ptr<Compactor> compactor,
                std::unique_ptr<GarbageCollector> gc, std::string owner)
      : ctx_(ctx), compactor_(std::move(compactor)), gc_(std::move(gc)), owner_(std::move(owner)) {
    const Config& c = *ctx.config;
    auto fenced = [this](const Status& s) { ctx_.fatal(kExitFenced, s); };
    Metrics& m = *ctx.metrics;
    bytes_in_ = &m.counter("isle_compactor_read_bytes_total", "SST bytes compactions read");
    bytes_out_ = &m.counter("isle_compactor_written_bytes_total", "SST bytes compactions wrote");
    deleted_ = &m.counter("isle_gc_deleted_objects_total", "objects garbage collection deleted");
    if (compactor_) {
      compaction_ = std::make_unique<CycleRunner>(
          Cycle{"compaction", c.get_duration("compactor.interval"), [this] { return compact(); }},
          m, fenced);
      compaction_->start();
    }
    if (gc_) {
      gc_runner_ = std::make_unique<CycleRunner>(
          Cycle{"gc", c.get_duration("gc.interval"), [this] { return collect(); }}, m, fenced);
      gc_runner_->start();
    }
  }

  void add_routes(Router& router) override {
    router.add("POST", "/v1/run", [this](const HttpRequest&) {
      if (!compaction_) return HttpResponse::error(409, "disabled", "compactor.enabled is false");
      return answer(compaction_->run_now());
    }, {.scope = Scope::kAdmin});
    router.add("POST", "/v1/gc", [this](const HttpRequest&) {
      if (!gc_runner_) return HttpResponse::error(409, "disabled", "gc.enabled is false");
      return answer(gc_runner_->run_now());
    }, {.scope = Scope::kAdmin});
  }

  bool ready() const override { return !(compaction_ && compaction_->fenced()); }

  void status(nlohmann::json& out) const override {
    out["owner"] = owner_;
    out["epoch"] = compactor_ ? compactor_->epoch() : 0;
    out["manifest_seq"] = log_position_.load();
    if (compaction_) {
      out["compactions"] = compaction_->cycles();
      out["compaction_errors"] = compaction_->errors();
      out["last_compaction"] = nlohmann::json::parse(last_or_null(*compaction_));
    }
    if (gc_runner_) {
      out["gc_runs"] = gc_runner_->cycles();
      out["gc_errors"] = gc_runner_->errors();
      out["last_gc"] = nlohmann::json::parse(last_or_null(*gc_runner_));
    }
  }

  Status shutdown() override {
    if (compaction_) compaction_->stop();
    if (gc_runner_) gc_runner_->stop();
    return Status::OK();
  }

 private:
  static std::string last_or_null(const CycleRunner& r) {
    std::string s = r.last_result();
    return s.empty() ? "null" : s;
  }

  static HttpResponse answer(const Result<CycleResult>& r) {
    if (!r.ok()) return error_response(r.status());
    return HttpResponse::json(200, r->json);
  }

  Result<CycleResult> compact() {
    auto r = compactor_->run_compaction();
    if (!r.ok()) return r.status();
    bytes_in_->inc(static_cast<double>(r->input_bytes));
    bytes_out_->inc(static_cast<double>(r->output_bytes));
    log_position_ = std::max({log_position_.load(), r->manifest_position,
                              r->log_position ? r->log_position + 1 : 0});
    if (!r->inputs.empty()) {
      spdlog::info("compacted {} SSTs ({} bytes) into {} ({} bytes)", r->inputs.size(),
                   r->input_bytes, r->outputs.size(), r->output_bytes);
    }
    // A cycle that did something may have left more: look again at once.
    return CycleResult{compaction_json(*r), !r->inputs.empty()};
  }

  Result<CycleResult> collect() {
    auto r = gc_->run_once();
    if (!r.ok()) return r.status();
    deleted_->inc(static_cast<double>(r->deleted.size()));
    if (!r->deleted.empty()) spdlog::info("gc deleted {} objects", r->deleted.size());
    return CycleResult{gc_json(*r), false};
  }

  DaemonContext ctx_;
  std::unique_ptr<Compactor> compactor_;
  std::unique_ptr<GarbageCollector> gc_;
  std::string owner_;
  std::atomic<uint64_t> log_position_{0};
  Counter* bytes_in_ = nullptr;
  Counter* bytes_out_ = nullptr;
  Counter* deleted_ = nullptr;
  std::unique_ptr<CycleRunner> compaction_;
  std::unique_ptr<CycleRunner> gc_runner_;
};

Result<std::unique_ptr<server::Role>> open_role(const DaemonContext& ctx) {
  const Config& c = *ctx.config;
  std::unique_ptr<Compactor> compactor;
  std::string owner = c.get_string("compactor.owner");
  if (owner.empty()) owner = default_owner_name();
  if (c.get_bool("compactor.enabled")) {
    CompactorOptions o;
    o.owner = owner;
    o.l0_threshold = static_cast<int>(c.get_int("compactor.l0_threshold"));
    o.max_sources = static_cast<int>(c.get_int("compactor.max_sources"));
    o.target_sst_size = c.get_size("compactor.target_sst_size");
    o.read_ahead_bytes = c.get_size("compactor.read_ahead");
    o.compression = server::compression_setting(c, "compactor.compression");
    // Fail closed: a key file that was named but cannot be used stops the
    // daemon (exit 2); it never means "no verification" or "unsigned".
    if (auto path = c.get_string("compactor.verify_public_key_file"); !path.empty()) {
      auto ring = Ed25519KeyRing::from_pem_file(path);
      if (!ring.ok()) {
        return Status::InvalidArgument("compactor.verify_public_key_file: " +
                                       ring.status().message());
      }
      o.verify_public_key_pem = ring->public_keys_pem();
    }
    if (auto path = c.get_string("compactor.signing_key_file"); !path.empty()) {
      auto signer = Ed25519Signer::from_pem_file(path);
      if (!signer.ok()) {
        return Status::InvalidArgument("compactor.signing_key_file: " + signer.status().message());
      }
      if (o.verify_public_key_pem.empty()) {
        return Status::InvalidArgument(
            "compactor.signing_key_file needs compactor.verify_public_key_file: outputs are "
            "signed only when their inputs were verified");
      }
      o.signing_key_pem = signer->private_key_pem();
    }
    if (!o.verify_public_key_pem.empty() && o.signing_key_pem.empty()) {
      // Not fatal (unsigned databases still compact), but any merge of a
      // signed input will fail until a signing key is configured.
      spdlog::warn(
          "compactor.verify_public_key_file is set without compactor.signing_key_file: "
          "compactions that merge signed SSTs will fail (outputs would be unsigned)");
    }
    auto r = Compactor::open(ctx.store, ctx.db, o);
    if (!r.ok()) return r.status();
    compactor = std::move(*r);
    spdlog::info("compactor fence claimed as {}", owner);
  }
  std::unique_ptr<GarbageCollector> gc;
  if (c.get_bool("gc.enabled")) {
    GcOptions g;
    g.prefix = ctx.db.prefix;
    g.manifest_storage = ctx.db.manifest_storage;
    g.mark_storage = ctx.db.gc_mark_storage;
    g.lease = ctx.db.lease;
    g.grace = c.is_set("gc.grace") ? c.get_duration("gc.grace") : ctx.db.gc_grace;
    g.change_retention = c.get_duration("gc.change_retention");
    auto r = GarbageCollector::open(ctx.store, g);
    if (!r.ok()) return r.status();
    gc = std::move(*r);
  }
  return std::unique_ptr<server::Role>(
      std::make_unique<CompactorRole>(ctx, std::move(compactor), std::move(gc), owner));
}

}  // namespace

DaemonSpec spec() {
  DaemonSpec s;
  s.name = "compactord";
  s.role = "compactor";
  s.default_listen = "127.0.0.1:7004";
  using T = ConfigType;
  s.role_schema
      .add({.path = "compactor.enabled", .type = T::kBool, .default_value = "true",
            .help = "run compactions (false: this daemon only collects garbage)"})
      .add({.path = "compactor.interval", .type = T::kDuration, .default_value = "10s",
            .help = "look for compaction work this often (at once again after a compaction)"})
      .add({.path = "compactor.owner", .type = T::kString,
            .help = "name recorded in the fence claim (default host:pid:random)"})
      .add({.path = "compactor.l0_threshold", .type = T::kInt, .default_value = "4",
            .help = "merge L0 once it holds this many SSTs", .min = 1, .max = 10'000})
      .add({.path = "compactor.max_sources", .type = T::kInt, .default_value = "8",
            .help = "most SSTs or runs merged at once", .min = 2, .max = 1'000})
      .add({.path = "compactor.target_sst_size", .type = T::kSize, .default_value = "64MiB",
            .help = "compaction outputs are cut at about this size"})
      .add({.path = "compactor.read_ahead", .type = T::kSize, .default_value = "4MiB",
            .help = "inputs are fetched in chunks of this size (0 = none: a GET per 64 KiB)"})
      .add({.path = "compactor.compression", .type = T::kEnum, .default_value = "lz4",
            .help = "output block compression", .choices = server::compression_choices()})
      .add({.path = "compactor.signing_key_file", .type = T::kString,
            .help = "Ed25519 private key (PKCS#8 PEM) that signs compaction outputs (unset = "
                    "unsigned; needs compactor.verify_public_key_file)"})
      .add({.path = "compactor.verify_public_key_file", .type = T::kString,
            .help = "Ed25519 public keys (PEM, one or more): every input SST must carry a "
                    "signature by one (unset = sha256 checks only)"})
      .add({.path = "gc.enabled", .type = T::kBool, .default_value = "true",
            .help = "collect unreferenced objects in this daemon"})
      .add({.path = "gc.interval", .type = T::kDuration, .default_value = "1m",
            .help = "one garbage collection pass this often"})
      .add({.path = "gc.grace", .type = T::kDuration, .default_value = "10m",
            .help = "unreferenced objects older than this are deleted (default store.gc_grace)"})
      .add({.path = "gc.change_retention", .type = T::kDuration, .default_value = "1h",
            .help = "change-feed history kept for tailers resuming from a cursor"});
  s.open = open_role;
  return s;
}

}  // namespace isle::compactord
