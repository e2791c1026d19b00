// readerd's role glue: HTTP requests in, isle::Reader calls out.
//
// Views: the Reader refreshes its manifest view every
// reader.refresh_interval, so a write writerd acknowledged is visible here
// within one interval; POST /v1/refresh installs the newest view before it
// answers. A view never goes backwards. A scan reads ONE view from start to
// end (its iterator pins the view), however long the client takes; mget
// reads one view too.
//
// Scans and mgets stream without a thread of their own: the first step
// (positioning the iterator, the first keys of an mget) runs on the
// handler's worker, so an early error is a proper status; then chunks of
// about 64 KiB are pulled on a stream worker each time the client has
// drained the queue to a quarter of server.max_stream_buffer_bytes. An
// error after the 200 ends the stream with a last line {"error":{...}}.
// An mget names at most reader.max_mget_keys keys (413 too_many_keys,
// counted before parsing).
#include "reader_role.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "server/api.h"
#include "server/metrics.h"
#include "server/reader_role_util.h"

namespace isle::readerd {

using namespace isle::server;

namespace {

// A streamed answer (scan, mget) writes about this much per step.
constexpr size_t kChunkBytes = 64 * 1024;
// mget reads this many keys per step, all from one pinned view.
constexpr size_t kMgetKeysPerStep = 64;
// An mget names at most reader.max_mget_keys keys; 16 MiB of NDJSON
// covers 10,000 keys of up to ~1.5 KiB each.
constexpr uint64_t kMgetBodyBytes = 16ull << 20;

size_t count_lines(std::string_view body) {
  size_t n = 0;
  size_t start = 0;
  while (start < body.size()) {
    size_t end = body.find('\n', start);
    if (end == std::string_view::npos) end = body.size();
    if (body.substr(start, end - start).find_first_not_of(" \t\r") != std::string_view::npos) n++;
    start = end + 1;
  }
  return n;
}

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
      : ctx_(ctx), reader_(std::move(reader)),
        max_mget_keys_(static_cast<size_t>(ctx.config->get_int("reader.max_mget_keys"))) {
    Reader* r = reader_.get();
    register_reader_metrics(*ctx.metrics, [r] { return r->stats(); }, [r] { return r->manifest(); });
    scanned_ = &ctx.metrics->counter("isle_reader_scanned_keys_total", "keys sent by scans");
  }

  void add_routes(Router& router) override {
    router.add("GET", "/v1/kv/*", [this](const HttpRequest& r) { return get(r); },
               {.scope = Scope::kRead, .name = "/v1/kv"});
    router.add("POST", "/v1/mget", [this](const HttpRequest& r) { return mget(r); },
               {.takes_body = true, .max_body_bytes = kMgetBodyBytes, .scope = Scope::kRead});
    router.add("GET", "/v1/scan", [this](const HttpRequest& r) { return scan(r); },
               {.scope = Scope::kRead});
    router.add("GET", "/v1/manifest", [this](const HttpRequest&) {
      nlohmann::json j;
      manifest_to_json(reader_->manifest(), j);
      return HttpResponse::json(200, j.dump());
    }, {.scope = Scope::kRead});
    router.add("POST", "/v1/refresh", [this](const HttpRequest&) {
      Status s = reader_->refresh();
      if (!s.ok()) return error_response(s);
      auto m = reader_->manifest();
      return HttpResponse::json(200, R"({"log_position":)" + std::to_string(m.log_position) +
                                         R"(,"last_seq":)" + std::to_string(m.last_seq) + "}");
    }, {.scope = Scope::kRead});
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
    inline_counts_to_json(m, out);
    lsn_to_json(m, out);
    const ReaderStats st = reader_->stats();
    out["open_tables"] = st.open_tables;
    // A failed background refresh keeps serving the last view; say why.
    out["refresh_errors"] = st.refresh_errors;
    out["last_refresh_error"] = st.last_refresh_error.empty()
                                    ? nlohmann::json(nullptr)
                                    : nlohmann::json(st.last_refresh_error);
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
    // Counted before anything is parsed: the cost of a refused request
    // does not grow with it.
    if (size_t n = count_lines(r.body); n > max_mget_keys_) {
      return HttpResponse::error(413, "too_many_keys",
                                 "an mget names at most " + std::to_string(max_mget_keys_) +
                                     " keys (reader.max_mget_keys); this one names " +
                                     std::to_string(n));
    }
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
    lines->clear();
    // The answer streams: values are read a few keys at a time, all from
    // one pinned view, as the client drains the socket, so memory does not
    // grow with the number or the size of the values. The first step runs
    // here, so a store error before any byte went out is a proper status.
    std::shared_ptr<const Reader::Snapshot> snap = reader_->snapshot();
    auto first = snap->multi_get(std::vector<std::string>(
        keys.begin(), keys.begin() + static_cast<long>(std::min(keys.size(), kMgetKeysPerStep))));
    if (!first.ok()) return error_response(first.status());
    struct State {
      std::vector<std::string> keys;
      size_t next = 0;
      std::optional<std::vector<std::optional<std::string>>> first;
    };
    auto st = std::make_shared<State>();
    st->keys = std::move(keys);
    st->first = std::move(*first);
    HttpResponse resp;
    resp.content_type = "application/x-ndjson";
    resp.stream = pull_chunks([st, snap](std::string* out) {
      std::string& buf = *out;
      while (st->next < st->keys.size() && buf.size() < kChunkBytes) {
        const size_t n = std::min(kMgetKeysPerStep, st->keys.size() - st->next);
        Result<std::vector<std::optional<std::string>>> values = Status::OK();
        if (st->first) {
          values = std::move(*st->first);
          st->first.reset();
        } else {
          values = snap->multi_get(std::vector<std::string>(
              st->keys.begin() + static_cast<long>(st->next),
              st->keys.begin() + static_cast<long>(st->next + n)));
        }
        if (!values.ok()) {
          nlohmann::json e;
          e["error"]["code"] = "mget_failed";
          e["error"]["message"] = values.status().to_string();
          buf += e.dump() + "\n";
          return false;
        }
        for (size_t i = 0; i < n; i++) {
          nlohmann::json j;
          put_bytes(j, "key", st->keys[st->next + i]);
          j["found"] = (*values)[i].has_value();
          if ((*values)[i]) put_bytes(j, "value", *(*values)[i]);
          buf += j.dump();
          buf += '\n';
        }
        st->next += n;
      }
      return st->next < st->keys.size();
    });
    return resp;
  }

  HttpResponse scan(const HttpRequest& r) {
    auto q = QueryParams::parse(r.query, {"start", "end", "end_inclusive", "prefix", "limit"});
    if (!q.ok()) return error_response(q.status());
    auto limit = q->get_u64("limit");
    if (!limit.ok()) return error_response(limit.status());
    auto end_inclusive = q->get_bool("end_inclusive");
    if (!end_inclusive.ok()) return error_response(end_inclusive.status());
    IteratorOptions io;
    const std::string prefix = q->get("prefix").value_or("");
    std::string lower = std::max(q->get("start").value_or(""), prefix);
    std::optional<std::string> upper = prefix.empty() ? std::nullopt : prefix_end(prefix);
    // The tighter of the prefix's end (exclusive) and `end` (exclusive, or
    // inclusive with end_inclusive). When end < prefix_end, end decides;
    // otherwise the prefix does: prefix_end itself never has the prefix, so
    // an inclusive end equal to it adds nothing.
    if (auto end = q->get("end"); end && !end->empty()) {
      if (!upper || *end < *upper) {
        upper = *end;
        io.upper_bound_inclusive = end_inclusive->value_or(false);
      }
    }
    if (!lower.empty()) io.lower_bound = lower;
    io.upper_bound = upper;
    const uint64_t max = limit->value_or(0);  // 0 = all

    auto it = std::shared_ptr<Iterator>(reader_->iterator(io));
    it->seek_to_first();
    if (!it->status().ok()) return error_response(it->status());
    HttpResponse resp;
    resp.content_type = "application/x-ndjson";
    // Pulled in chunks of about kChunkBytes as the client drains the
    // socket; the iterator pins one view for the whole scan.
    auto sent = std::make_shared<uint64_t>(0);
    resp.stream = pull_chunks([it, max, sent, counter = scanned_](std::string* out) {
      std::string& buf = *out;
      uint64_t n = 0;
      for (; it->valid() && (max == 0 || *sent + n < max) && buf.size() < kChunkBytes;
           it->next(), n++) {
        nlohmann::json j;
        put_bytes(j, "key", it->key());
        put_bytes(j, "value", it->value());
        buf += j.dump();
        buf += '\n';
      }
      *sent += n;
      counter->inc(static_cast<double>(n));
      const bool more = it->valid() && (max == 0 || *sent < max);
      if (!more) {
        if (!it->status().ok()) {
          spdlog::warn("scan stopped: {}", it->status().to_string());
          nlohmann::json e;
          e["error"]["code"] = "scan_failed";
          e["error"]["message"] = it->status().to_string();
          buf += e.dump();
          buf += '\n';
        }
      }
      return more;
    });
    return resp;
  }

  DaemonContext ctx_;
  std::unique_ptr<Reader> reader_;
  Counter* scanned_ = nullptr;
  const size_t max_mget_keys_ = 10'000;
};

Result<std::unique_ptr<server::Role>> open_role(const DaemonContext& ctx) {
  auto options = reader_options(ctx, "reader");
  if (!options.ok()) return options.status();
  ReaderOptions o = std::move(*options);
  auto r = Reader::open(ctx.store, o);
  if (!r.ok()) return r.status();
  auto m = (*r)->manifest();
  spdlog::info("reader attached: log position {}, {} L0 SSTs, {} sorted runs, {} inline flushes",
               m.log_position, m.l0.size(), m.runs.size(), m.inline_ssts.size());
  return std::unique_ptr<server::Role>(std::make_unique<ReaderRole>(ctx, std::move(*r)));
}

}  // namespace

DaemonSpec spec() {
  DaemonSpec s;
  s.name = "readerd";
  s.role = "reader";
  s.default_listen = "127.0.0.1:7002";
  add_reader_keys(s.role_schema, "reader", "1s");
  s.role_schema.add({.path = "reader.max_mget_keys", .type = server::ConfigType::kInt,
                     .default_value = "10000",
                     .help = "keys one POST /v1/mget may name (413 too_many_keys beyond)",
                     .min = 1, .max = 1'000'000});
  s.open = open_role;
  return s;
}

}  // namespace isle::readerd
