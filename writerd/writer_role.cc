// writerd's role glue: HTTP requests in, isle::Writer calls out.
//
// Durability contract: a PUT, DELETE or batch answers 200 only once its
// sequence is committed to the manifest (await_durable), unless the client
// asked for ?durable=false, in which case 200 means "buffered, will be in
// the next flush". A write that cannot be confirmed (timeout, store down)
// answers 503: it may still commit, so the client should read before
// retrying a non-idempotent sequence of operations.
//
// Shutdown (SIGTERM): everything buffered is committed before exit 0; if the
// store keeps failing for writer.shutdown_timeout, the daemon logs the
// sequence range that is not committed and exits 1 (those writes are lost).
//
// Fencing: once the Writer reports Fenced — on a write, a flush, or its
// idle fence check (every 10 s) — every write answers 503 and the daemon
// exits 75 (DaemonContext::fatal). WriterOptions::on_fenced reports the
// takeover the moment the writer learns of it (no polling), so an idle
// fenced writer also goes, within about 10 s of the takeover.
#include "writer_role.h"

#include <atomic>
#include <fstream>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "isle/db.h"
#include "lsm/engine_store.h"
#include "server/api.h"
#include "server/metrics.h"

namespace isle::writerd {

using namespace isle::server;

namespace {

class WriterRole final : public server::Role {
 public:
  WriterRole(const DaemonContext& ctx, std::unique_ptr<Writer> writer, std::string owner)
      : ctx_(ctx), writer_(std::move(writer)), owner_(std::move(owner)),
        durable_timeout_(ctx.config->get_duration("writer.durable_timeout")) {
    register_metrics(*ctx.metrics);
  }

  void add_routes(Router& router) override {
    router.add("PUT", "/v1/kv/*", [this](const HttpRequest& r) { return put(r); },
               {.takes_body = true, .scope = Scope::kWrite, .name = "/v1/kv"});
    router.add("DELETE", "/v1/kv/*", [this](const HttpRequest& r) { return del(r); },
               {.scope = Scope::kWrite, .name = "/v1/kv"});
    router.add("POST", "/v1/batch", [this](const HttpRequest& r) { return batch(r); },
               {.takes_body = true, .scope = Scope::kWrite});
    router.add("POST", "/v1/flush", [this](const HttpRequest&) { return flush(); },
               {.scope = Scope::kWrite});
  }

  bool ready() const override { return writer_->status().ok(); }

  void status(nlohmann::json& out) const override {
    WriterStats s = writer_->stats();
    out["epoch"] = s.epoch;
    out["owner"] = owner_;
    out["last_seq"] = s.last_seq;
    out["durable_seq"] = s.durable_seq;
    out["manifest_seq"] = s.durable_seq;
    out["flushes"] = s.flushes;
    out["flush_errors"] = s.flush_errors;
    out["sealed_memtables"] = s.sealed_memtables;
    out["fenced"] = writer_->status().code() == Code::kFenced;
  }

  // SIGTERM: commit everything buffered within writer.shutdown_timeout
  // (WriterOptions::close_timeout). Past it, the error names the seqs that
  // are not committed and the daemon exits 1; the Writer's destructor then
  // stops without waiting again (those writes are lost, as in a crash).
  Status shutdown() override {
    Status s = writer_->close();
    if (s.ok()) {
      spdlog::info("writer closed: every write up to seq {} is committed",
                   writer_->stats().durable_seq);
    } else if (s.code() == Code::kAborted) {
      const WriterStats st = writer_->stats();
      const std::string range =
          "seqs " + std::to_string(st.durable_seq + 1) + ".." + std::to_string(st.last_seq);
      spdlog::error("writer.shutdown_timeout passed with the store failing: {} not committed; "
                    "they are lost (writes answered 200 with durable=false, or 503)",
                    range);
      return Status::Aborted(range + " not committed within writer.shutdown_timeout");
    }
    return s;
  }

 private:
  struct WriteParams {
    std::optional<std::chrono::milliseconds> ttl;
    bool durable = true;
  };

  static Result<WriteParams> params(const HttpRequest& r) {
    auto q = QueryParams::parse(r.query, {"ttl", "durable"});
    if (!q.ok()) return q.status();
    WriteParams p;
    auto ttl = q->get_duration("ttl");
    if (!ttl.ok()) return ttl.status();
    p.ttl = *ttl;
    if (p.ttl && p.ttl->count() <= 0) return Status::InvalidArgument("ttl must be positive");
    auto durable = q->get_bool("durable");
    if (!durable.ok()) return durable.status();
    p.durable = durable->value_or(true);
    return p;
  }

  // Maps a writer error; a fence also ends the daemon.
  HttpResponse fail(const Status& s) {
    if (s.code() == Code::kFenced) ctx_.fatal(kExitFenced, s);
    return error_response(s);
  }

  // Answers {"seq":N} once `seq` is durable (or at once when not asked).
  HttpResponse acknowledge(uint64_t seq, bool durable, std::string body) {
    if (durable) {
      Status s = writer_->await_durable(seq, durable_timeout_);
      if (!s.ok()) {
        if (s.code() == Code::kAborted) {
          return HttpResponse::error(503, "not_durable",
                                     "the write was not committed within writer.durable_timeout "
                                     "(it may still commit): " + s.message());
        }
        return fail(s);
      }
    }
    return HttpResponse::json(200, std::move(body));
  }

  HttpResponse put(const HttpRequest& r) {
    auto key = key_from_path(r.path, "/v1/kv/");
    if (!key.ok()) return error_response(key.status());
    auto p = params(r);
    if (!p.ok()) return error_response(p.status());
    auto seq = p->ttl ? writer_->put_with_ttl(*key, r.body, *p->ttl) : writer_->put(*key, r.body);
    if (!seq.ok()) return fail(seq.status());
    puts_->inc();
    return acknowledge(*seq, p->durable, R"({"seq":)" + std::to_string(*seq) + "}");
  }

  HttpResponse del(const HttpRequest& r) {
    auto key = key_from_path(r.path, "/v1/kv/");
    if (!key.ok()) return error_response(key.status());
    auto p = params(r);
    if (!p.ok()) return error_response(p.status());
    auto seq = p->ttl ? writer_->del_with_ttl(*key, *p->ttl) : writer_->del(*key);
    if (!seq.ok()) return fail(seq.status());
    deletes_->inc();
    return acknowledge(*seq, p->durable, R"({"seq":)" + std::to_string(*seq) + "}");
  }

  // Parses every line before writing anything: one bad line rejects the
  // batch whole (and the Writer applies an atomic batch all or nothing).
  static Result<WriteBatch> parse_batch(std::string_view body) {
    auto lines = parse_ndjson(body);
    if (!lines.ok()) return lines.status();
    if (lines->empty()) return Status::InvalidArgument("empty batch");
    WriteBatch batch;
    size_t n = 0;
    for (const auto& j : *lines) {
      n++;
      auto bad = [n](const std::string& why) {
        return Status::InvalidArgument("batch line " + std::to_string(n) + ": " + why);
      };
      for (const auto& [k, v] : j.items()) {
        (void)v;
        if (k != "op" && k != "key" && k != "key_b64" && k != "value" && k != "value_b64" &&
            k != "ttl") {
          return bad("unknown field '" + k + "'");
        }
      }
      if (!j.contains("op") || !j["op"].is_string()) return bad("\"op\" must be \"put\" or \"delete\"");
      const std::string op = j["op"].get<std::string>();
      auto key = get_bytes(j, "key");
      if (!key.ok()) return bad(key.status().message());
      if (!*key || (*key)->empty()) return bad("a non-empty \"key\" or \"key_b64\" is required");
      auto value = get_bytes(j, "value");
      if (!value.ok()) return bad(value.status().message());
      std::optional<std::chrono::milliseconds> ttl;
      if (j.contains("ttl")) {
        if (!j["ttl"].is_string()) return bad("\"ttl\" must be a duration string such as \"30s\"");
        std::string why;
        ttl = parse_duration(j["ttl"].get<std::string>(), &why);
        if (!ttl) return bad("ttl: " + why);
        if (ttl->count() <= 0) return bad("ttl must be positive");
      }
      if (op == "put") {
        if (!*value) return bad("a put needs \"value\" or \"value_b64\"");
        ttl ? batch.put_with_ttl(**key, **value, *ttl) : batch.put(**key, **value);
      } else if (op == "delete") {
        if (*value) return bad("a delete carries no value");
        ttl ? batch.del_with_ttl(**key, *ttl) : batch.del(**key);
      } else {
        return bad("\"op\" must be \"put\" or \"delete\", not \"" + op + "\"");
      }
    }
    return batch;
  }

  HttpResponse batch(const HttpRequest& r) {
    auto p = params(r);
    if (!p.ok()) return error_response(p.status());
    if (p->ttl) return error_response(Status::InvalidArgument("ttl goes on each batch line"));
    // Counted before anything is parsed: an oversized batch costs one scan.
    const auto max_lines = static_cast<size_t>(ctx_.config->get_int("writer.max_batch_lines"));
    if (count_ndjson_lines(r.body) > max_lines) return too_many_keys(max_lines);
    auto b = parse_batch(r.body);
    if (!b.ok()) return error_response(b.status());
    auto seq = writer_->write(*b);
    if (!seq.ok()) return fail(seq.status());
    batches_->inc();
    return acknowledge(*seq, p->durable,
                       R"({"count":)" + std::to_string(b->size()) + R"(,"last_seq":)" +
                           std::to_string(*seq) + "}");
  }

  HttpResponse flush() {
    Status s = writer_->flush(durable_timeout_);
    if (s.code() == Code::kAborted && writer_->status().ok()) {
      return HttpResponse::error(503, "not_durable",
                                 "the flush did not commit within writer.durable_timeout (the "
                                 "writes stay buffered and may still commit): " + s.message());
    }
    if (!s.ok()) return fail(s);
    return HttpResponse::json(200,
                              R"({"durable_seq":)" + std::to_string(writer_->stats().durable_seq) + "}");
  }

  void register_metrics(Metrics& m) {
    puts_ = &m.counter("isle_writer_puts_total", "PUT requests accepted by the writer");
    deletes_ = &m.counter("isle_writer_deletes_total", "DELETE requests accepted by the writer");
    batches_ = &m.counter("isle_writer_batches_total", "batches accepted by the writer");
    Writer* w = writer_.get();
    m.callback("isle_writer_epoch", "the writer fence epoch this process holds", "gauge", {},
               [w] { return static_cast<double>(w->stats().epoch); });
    m.callback("isle_writer_last_seq", "highest sequence number handed out", "gauge", {},
               [w] { return static_cast<double>(w->stats().last_seq); });
    m.callback("isle_writer_durable_seq", "every sequence up to this one is committed", "gauge",
               {}, [w] { return static_cast<double>(w->stats().durable_seq); });
    m.callback("isle_writer_flushes_total", "memtable flushes committed", "counter", {},
               [w] { return static_cast<double>(w->stats().flushes); });
    m.callback("isle_writer_flush_errors_total", "failed flush attempts (retried)", "counter", {},
               [w] { return static_cast<double>(w->stats().flush_errors); });
    m.callback("isle_writer_flushed_bytes_total", "SST bytes uploaded by flushes", "counter", {},
               [w] { return static_cast<double>(w->stats().bytes_flushed); });
    m.callback("isle_writer_sealed_memtables", "memtables waiting to be flushed", "gauge", {},
               [w] { return static_cast<double>(w->stats().sealed_memtables); });
  }

  DaemonContext ctx_;
  std::unique_ptr<Writer> writer_;
  std::string owner_;
  std::chrono::milliseconds durable_timeout_;
  Counter* puts_ = nullptr;
  Counter* deletes_ = nullptr;
  Counter* batches_ = nullptr;
};

Result<std::unique_ptr<server::Role>> open_role(const DaemonContext& ctx) {
  const Config& c = *ctx.config;
  WriterOptions o;
  o.owner = c.get_string("writer.owner");
  if (o.owner.empty()) o.owner = default_owner_name();
  o.flush_interval = c.get_duration("writer.flush_interval");
  o.min_flush_spacing = c.get_duration("writer.min_flush_spacing");
  o.memtable_size = c.get_size("writer.memtable_size");
  o.max_sealed_memtables = static_cast<int>(c.get_int("writer.max_sealed_memtables"));
  o.max_flushes_in_flight = static_cast<int>(c.get_int("writer.max_flushes_in_flight"));
  o.blob_threshold = c.get_size("writer.blob_threshold");
  o.max_key_size = c.get_size("writer.max_key_size");
  o.max_value_size = c.get_size("writer.max_value_size");
  o.block_size = c.get_size("writer.block_size");
  o.compression = server::compression_setting(c, "writer.compression");
  o.snapshot_every = static_cast<int>(c.get_int("writer.snapshot_every"));
  o.inline_flush_max_bytes = c.get_size("writer.inline_flush_max_bytes");
  o.inline_max_pending_bytes = c.get_size("writer.inline_max_pending_bytes");
  o.inline_max_lag = c.get_duration("writer.inline_max_lag");
  o.close_timeout = c.get_duration("writer.shutdown_timeout");
  if (auto path = c.get_string("writer.signing_key_file"); !path.empty()) {
    std::ifstream in(path);
    if (!in) return Status::InvalidArgument("writer.signing_key_file: cannot read " + path);
    o.signing_key_pem.assign(std::istreambuf_iterator<char>(in), {});
  }
  o.on_flush_error = [](const Status& s) { spdlog::warn("flush failed (retrying): {}", s.to_string()); };
  // The writer tells us as soon as it learns of a takeover (a failed
  // flush, or its idle fence check): the daemon exits 75 at once.
  o.on_fenced = [fatal = ctx.fatal](const Status& s) {
    spdlog::error("the writer was fenced: {}", s.message());
    fatal(kExitFenced, s);
  };
  auto db = DB::open(ctx.store, ctx.db);
  if (!db.ok()) return db.status();
  auto w = db->open_writer(o);
  if (!w.ok()) return w.status();
  spdlog::info("writer fence claimed: epoch {}, next seq {}", (*w)->stats().epoch,
               (*w)->stats().last_seq + 1);
  std::string owner = o.owner;
  return std::unique_ptr<server::Role>(std::make_unique<WriterRole>(ctx, std::move(*w), owner));
}

}  // namespace

DaemonSpec spec() {
  DaemonSpec s;
  s.name = "writerd";
  s.role = "writer";
  s.default_listen = "127.0.0.1:7001";
  using T = ConfigType;
  s.role_schema
      .add({.path = "writer.flush_interval", .type = T::kDuration, .default_value = "100ms",
            .help = "a memtable is flushed when it is this old (durable writes flush sooner)"})
      .add({.path = "writer.min_flush_spacing", .type = T::kDuration, .default_value = "10ms",
            .help = "group commit: at most one flush per this interval for durable waiters"})
      .add({.path = "writer.memtable_size", .type = T::kSize, .default_value = "64MiB",
            .help = "a memtable is flushed when it holds this many bytes"})
      .add({.path = "writer.max_sealed_memtables", .type = T::kInt, .default_value = "4",
            .help = "writes get 429 while this many memtables wait to flush", .min = 1, .max = 64})
      .add({.path = "writer.max_flushes_in_flight", .type = T::kInt, .default_value = "1",
            .help = "flushes whose log entries may be in flight at once (1 = one at a time)",
            .min = 1, .max = 64})
      .add({.path = "writer.blob_threshold", .type = T::kSize, .default_value = "256KiB",
            .help = "values at least this large are stored as separate blobs"})
      .add({.path = "writer.max_key_size", .type = T::kSize, .default_value = "64KiB",
            .help = "largest key accepted (400 beyond)"})
      .add({.path = "writer.max_value_size", .type = T::kSize, .default_value = "64MiB",
            .help = "largest value accepted (also bounded by server.max_body_bytes)"})
      .add({.path = "writer.block_size", .type = T::kSize, .default_value = "4KiB",
            .help = "SST data block size"})
      .add({.path = "writer.compression", .type = T::kEnum, .default_value = "lz4",
            .help = "SST block compression", .choices = server::compression_choices()})
      .add({.path = "writer.inline_flush_max_bytes", .type = T::kSize, .default_value = "64KiB",
            .help = "a flush whose SST is at most this large travels inside its manifest log "
                    "entry: one PUT commits it (0 = off; at most 16MiB)"})
      .add({.path = "writer.inline_max_pending_bytes", .type = T::kSize, .default_value = "4MiB",
            .help = "inline flushes are rewritten into one SST once their bytes exceed this"})
      .add({.path = "writer.inline_max_lag", .type = T::kDuration, .default_value = "5s",
            .help = "...or once the oldest of them is this old"})
      .add({.path = "writer.snapshot_every", .type = T::kInt, .default_value = "64",
            .help = "write a manifest snapshot every this many log entries (0 = never)",
            .min = 0, .max = 1'000'000})
      .add({.path = "writer.owner", .type = T::kString,
            .help = "name recorded in the fence claim (default host:pid:random)"})
      .add({.path = "writer.durable_timeout", .type = T::kDuration, .default_value = "30s",
            .help = "a durable write not committed within this answers 503"})
      .add({.path = "writer.shutdown_timeout", .type = T::kDuration, .default_value = "60s",
            .help = "on SIGTERM, how long to wait for buffered writes to commit; past it writerd "
                    "logs the uncommitted seqs and exits 1"})
      .add({.path = "writer.max_batch_lines", .type = T::kInt, .default_value = "10000",
            .help = "a /v1/batch with more lines answers 413 too_many_keys, before it is parsed",
            .min = 1, .max = 10'000'000})
      .add({.path = "writer.signing_key_file", .type = T::kString,
            .help = "Ed25519 private key (PEM) to sign every SST; unset = unsigned"});
  s.open = open_role;
  return s;
}

}  // namespace isle::writerd
