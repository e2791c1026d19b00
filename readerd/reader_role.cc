// readerd's role glue: HTTP requests in, isle::Reader calls out.
//
// Views: the Reader refreshes its manifest view every
// reader.refresh_interval, so a write writerd acknowledged is visible here
// within one interval; POST /v1/refresh installs the newest view before it
// answers. A view never goes backwards. A scan reads ONE view from start to
// end (its iterator pins the view), however long the client takes; mget
// reads one view too.
//
// Scans stream: the iterator is positioned (and its first error caught)
// on the worker before the 200 goes out; an error after that point ends
// the stream with a last line {"error":{...}} (the status line is gone).
#include "reader_role.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "server/api.h"
#include "server/metrics.h"
#include "server/reader_role_util.h"

namespace isle::readerd {

using namespace isle::server;

namespace {

constexpr size_t kScanChunkBytes = 64 * 1024;

// The smallest key greater than every key starting with `prefix`, or
// nullopt when there is none (all 0xff bytes).
std::optional<std::string> prefix_end(std::string prefix) {
  while (!prefix.empty()) {
    auto& c = prefix.back();
    if (static_cast<unsigned char>(c) != 0xff) {
      c = static_cast<char>(static_cast<unsigned char>(c) + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return std::nullopt;
}

class ReaderRole final : public server::Role {
 public:
  ReaderRole(const DaemonContext& ctx, std::unique_ptr<Reader> reader)
      : ctx_(ctx), reader_(std::move(reader)) {
    Reader* r = reader_.get();
    register_reader_metrics(*ctx.metrics, [r] { return r->stats(); }, [r] { return r->manifest(); });
    scanned_ = &ctx.metrics->counter("isle_reader_scanned_keys_total", "keys sent by scans");
  }

  void add_routes(Router& router) override {
    router.add("GET", "/v1/kv/*", [this](const HttpRequest& r) { return get(r); },
               {.name = "/v1/kv"});
    router.add("POST", "/v1/mget", [this](const HttpRequest& r) { return mget(r); });
    router.add("GET", "/v1/scan", [this](const HttpRequest& r) { return scan(r); });
    router.add("GET", "/v1/manifest", [this](const HttpRequest&) {
      nlohmann::json j;
      manifest_to_json(reader_->manifest(), j);
      return HttpResponse::json(200, j.dump());
    });
    router.add("POST", "/v1/refresh", [this](const HttpRequest&) {
      Status s = reader_->refresh();
      if (!s.ok()) return error_response(s);
      auto m = reader_->manifest();
      return HttpResponse::json(200, R"({"log_position":)" + std::to_string(m.log_position) +
                                         R"(,"last_seq":)" + std::to_string(m.last_seq) + "}");
    });
  }

  bool ready() const override { return true; }

  void status(nlohmann::json& out) const override {
    auto m = reader_->manifest();
    out["epoch"] = m.writer_epoch;
    out["owner"] = m.writer_owner;
    out["manifest_seq"] = m.log_position;
    out["last_seq"] = m.last_seq;
    out["l0_tables"] = m.l0.size();
    out["sorted_runs"] = m.runs.size();
    out["open_tables"] = reader_->stats().open_tables;
  }

  // Nothing to finish: the reader (and its background refresh) goes when
  // the role is destroyed, after the server stopped.
  Status shutdown() override { return Status::OK(); }

 private:
  HttpResponse get(const HttpRequest& r) {
    auto key = key_from_path(r.path, "/v1/kv/");
    if (!key.ok()) return error_response(key.status());
    if (auto q = QueryParams::parse(r.query, {}); !q.ok()) return error_response(q.status());
    auto v = reader_->get(*key);
    if (!v.ok()) return error_response(v.status());
    if (!v->has_value()) return HttpResponse::error(404, "not_found", "no such key");
    HttpResponse resp;
    resp.content_type = "application/octet-stream";
    resp.body = std::move(**v);
    return resp;
  }

  HttpResponse mget(const HttpRequest& r) {
    auto lines = parse_ndjson(r.body);
    if (!lines.ok()) return error_response(lines.status());
    std::vector<std::string> keys;
    keys.reserve(lines->size());
    for (size_t i = 0; i < lines->size(); i++) {
      auto k = get_bytes((*lines)[i], "key");
      if (!k.ok() || !*k || (*k)->empty()) {
        return error_response(Status::InvalidArgument(
            "mget line " + std::to_string(i + 1) + ": a non-empty \"key\" or \"key_b64\" is required"));
      }
      keys.push_back(std::move(**k));
    }
    auto values = reader_->multi_get(keys);
    if (!values.ok()) return error_response(values.status());
    std::string body;
    for (size_t i = 0; i < keys.size(); i++) {
      nlohmann::json j;
      put_bytes(j, "key", keys[i]);
      j["found"] = (*values)[i].has_value();
      if ((*values)[i]) put_bytes(j, "value", *(*values)[i]);
      body += j.dump();
      body += '\n';
    }
    return HttpResponse::text(200, std::move(body), "application/x-ndjson");
  }

  HttpResponse scan(const HttpRequest& r) {
    auto q = QueryParams::parse(r.query, {"start", "end", "prefix", "limit"});
    if (!q.ok()) return error_response(q.status());
    auto limit = q->get_u64("limit");
    if (!limit.ok()) return error_response(limit.status());
    IteratorOptions io;
    const std::string prefix = q->get("prefix").value_or("");
    std::string lower = std::max(q->get("start").value_or(""), prefix);
    std::optional<std::string> upper = prefix.empty() ? std::nullopt : prefix_end(prefix);
    if (auto end = q->get("end"); end && !end->empty()) {
      if (!upper || *end < *upper) upper = *end;
    }
    if (!lower.empty()) io.lower_bound = lower;
    io.upper_bound = upper;
    const uint64_t max = limit->value_or(0);  // 0 = all

    auto it = std::shared_ptr<Iterator>(reader_->iterator(io));
    it->seek_to_first();
    if (!it->status().ok()) return error_response(it->status());
    HttpResponse resp;
    resp.content_type = "application/x-ndjson";
    resp.stream = [it, max, counter = scanned_](StreamWriter& out) {
      std::string buf;
      uint64_t n = 0;
      for (; it->valid() && (max == 0 || n < max); it->next(), n++) {
        nlohmann::json j;
        put_bytes(j, "key", it->key());
        put_bytes(j, "value", it->value());
        buf += j.dump();
        buf += '\n';
        if (buf.size() >= kScanChunkBytes) {
          if (!out.write(buf)) return;
          buf.clear();
        }
      }
      counter->inc(static_cast<double>(n));
      if (!it->status().ok()) {
        spdlog::warn("scan stopped: {}", it->status().to_string());
        nlohmann::json e;
        e["error"]["code"] = "scan_failed";
        e["error"]["message"] = it->status().to_string();
        buf += e.dump();
        buf += '\n';
      }
      if (!buf.empty()) out.write(buf);
    };
    return resp;
  }

  DaemonContext ctx_;
  std::unique_ptr<Reader> reader_;
  Counter* scanned_ = nullptr;
};

Result<std::unique_ptr<server::Role>> open_role(const DaemonContext& ctx) {
  ReaderOptions o = reader_options(ctx, "reader");
  auto r = Reader::open(ctx.store, o);
  if (!r.ok()) return r.status();
  auto m = (*r)->manifest();
  spdlog::info("reader attached: log position {}, {} L0 SSTs, {} sorted runs", m.log_position,
               m.l0.size(), m.runs.size());
  return std::unique_ptr<server::Role>(std::make_unique<ReaderRole>(ctx, std::move(*r)));
}

}  // namespace

DaemonSpec spec() {
  DaemonSpec s;
  s.name = "readerd";
  s.role = "reader";
  s.default_listen = "127.0.0.1:7002";
  add_reader_keys(s.role_schema, "reader", "1s");
  s.open = open_role;
  return s;
}

}  // namespace isle::readerd
