// tailerd's role glue: one TailingReader, one TailChannel per open stream.
//
// A stream's life:
//   worker thread: parse the query, subscribe (the channel's own thread
//       starts searching the cursor), wait briefly for the first event or
//       error — an expired cursor answers 410 here, before any byte of a
//       200 went out;
//   stream thread: send the headers, then loop next(1 s): write what
//       arrives (several events per chunk when they queue up), a
//       heartbeat after tailer.heartbeat_interval of silence (SSE: a
//       comment line; NDJSON: an empty line), and end when the client
//       leaves, the server drains, or the tail fails (a last error event).
// Exactly-once across reconnects is the client's cursor: `id:` (SSE) and
// "seq" (NDJSON) carry the sequence; resuming with after_seq (or
// Last-Event-ID) = the last one received skips nothing and repeats nothing.
#include "tailer_role.h"

#include <charconv>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "isle/tailing_reader.h"
#include "server/api.h"
#include "server/metrics.h"
#include "server/reader_role_util.h"

namespace isle::tailerd {

using namespace isle::server;

namespace {

constexpr size_t kChunkBytes = 64 * 1024;
constexpr size_t kChannelCapacity = 1024;

std::string event_json(const ChangeEvent& e) {
  nlohmann::json j;
  j["seq"] = e.seq;
  j["op"] = e.op == ChangeOp::kPut ? "put" : "delete";
  put_bytes(j, "key", e.key);
  if (e.op == ChangeOp::kPut) put_bytes(j, "value", e.value);
  if (e.expires_at_ms) j["expires_at"] = *e.expires_at_ms;
  return j.dump();
}

// One event in the stream's framing.
void append_event(std::string& buf, const ChangeEvent& e, bool sse, bool with_id) {
  if (sse) {
    if (with_id) buf += "id: " + std::to_string(e.seq) + "\n";
    buf += "data: " + event_json(e) + "\n\n";
  } else {
    buf += event_json(e) + "\n";
  }
}

void append_error(std::string& buf, const Status& s, bool sse) {
  nlohmann::json j;
  j["error"]["code"] = s.is_change_cursor_expired() ? "cursor_expired" : "tail_failed";
  j["error"]["message"] = s.to_string();
  buf += sse ? "event: error\ndata: " + j.dump() + "\n\n" : j.dump() + "\n";
}

class TailerRole final : public server::Role {
 public:
  TailerRole(const DaemonContext& ctx, std::unique_ptr<TailingReader> tailer)
      : ctx_(ctx), tailer_(std::move(tailer)),
        heartbeat_(ctx.config->get_duration("tailer.heartbeat_interval")) {
    TailingReader* t = tailer_.get();
    register_reader_metrics(*ctx.metrics, [t] { return t->reader_stats(); },
                            [t] { return t->manifest(); });
    Metrics& m = *ctx.metrics;
    m.callback("isle_tailer_events_total", "events delivered to tails", "counter", {},
               [t] { return static_cast<double>(t->stats().events); });
    m.callback("isle_tailer_transient_errors_total", "store outages tails waited out", "counter",
               {}, [t] { return static_cast<double>(t->stats().transient_errors); });
    m.callback("isle_tailer_open_tails", "tails streaming now", "gauge", {},
               [this] { return static_cast<double>(open_tails_.load()); });
    m.callback("isle_tailer_last_refresh_age_seconds", "time since the last successful refresh",
               "gauge", {}, [this] { return refresh_age_seconds(); });
  }

  void add_routes(Router& router) override {
    router.add("GET", "/v1/tail", [this](const HttpRequest& r) { return tail(r); });
    router.add("GET", "/v1/manifest", [this](const HttpRequest&) {
      nlohmann::json j;
      manifest_to_json(tailer_->manifest(), j);
      return HttpResponse::json(200, j.dump());
    });
  }

  bool ready() const override { return true; }

  void status(nlohmann::json& out) const override {
    auto m = tailer_->manifest();
    out["epoch"] = m.writer_epoch;
    out["owner"] = m.writer_owner;
    out["manifest_seq"] = m.log_position;
    out["last_seq"] = m.last_seq;
    out["data_seq"] = m.data_seq;
    out["open_tails"] = open_tails_.load();
    out["events"] = tailer_->stats().events;
    out["last_refresh_age_seconds"] = refresh_age_seconds();
  }

  // Ends every tail (channels report Aborted); the server drained first.
  Status shutdown() override {
    tailer_->stop();
    return Status::OK();
  }

 private:
  double refresh_age_seconds() const {
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    return std::max<double>(0, (now_ms - tailer_->last_refresh_ms()) / 1000.0);
  }

  HttpResponse tail(const HttpRequest& r) {
    auto q = QueryParams::parse(r.query, {"mode", "after_seq", "after_key", "start", "end", "prefix"});
    if (!q.ok()) return error_response(q.status());
    TailOptions o;
    const std::string mode = q->get("mode").value_or("changes");
    if (mode == "changes") {
      o.mode = TailMode::kChanges;
    } else if (mode == "keys") {
      o.mode = TailMode::kKeys;
    } else {
      return error_response(Status::InvalidArgument("mode must be changes or keys, not '" + mode + "'"));
    }
    auto after_seq = q->get_u64("after_seq");
    if (!after_seq.ok()) return error_response(after_seq.status());
    o.after_seq = *after_seq;
    o.after_key = q->get("after_key");
    o.prefix = q->get("prefix").value_or("");
    o.min_key = q->get("start").value_or("");
    if (auto end = q->get("end"); end && !end->empty()) o.end_key = *end;
    const bool sse = r.header("accept").value_or("").find("text/event-stream") != std::string::npos;
    if (sse && !o.after_seq && o.mode == TailMode::kChanges) {
      if (auto last = r.header("last-event-id"); last && !last->empty()) {
        uint64_t n = 0;
        auto [p, ec] = std::from_chars(last->data(), last->data() + last->size(), n);
        if (ec != std::errc() || p != last->data() + last->size()) {
          return error_response(Status::InvalidArgument("Last-Event-ID must be a sequence number"));
        }
        o.after_seq = n;
      }
    }
    if (o.mode == TailMode::kKeys && o.after_seq) {
      return error_response(Status::InvalidArgument("after_seq is for mode=changes"));
    }
    if (o.mode == TailMode::kChanges && o.after_key) {
      return error_response(Status::InvalidArgument("after_key is for mode=keys"));
    }

    auto ch = tailer_->subscribe(o, kChannelCapacity);
    if (!ch.ok()) return error_response(ch.status());
    std::shared_ptr<TailChannel> channel = std::move(*ch);
    // A cursor that is already gone, or options the feed refuses, fail
    // here with a proper status. Waiting longer only delays the headers.
    auto first = channel->next(std::chrono::milliseconds(o.after_seq ? 500 : 50));
    if (!first.ok()) return error_response(first.status());

    HttpResponse resp;
    resp.content_type = sse ? "text/event-stream" : "application/x-ndjson";
    resp.headers.emplace_back("Cache-Control", "no-cache");
    resp.headers.emplace_back("X-Accel-Buffering", "no");  // nginx: do not buffer the stream
    const bool with_id = o.mode == TailMode::kChanges;
    resp.stream = [this, channel, first = std::move(*first), sse, with_id](StreamWriter& out) {
      open_tails_++;
      stream(out, *channel, first, sse, with_id);
      channel->close();
      open_tails_--;
    };
    return resp;
  }

  void stream(StreamWriter& out, TailChannel& channel, const std::optional<ChangeEvent>& first,
              bool sse, bool with_id) {
    if (!out.begin()) return;
    std::string buf;
    if (first) append_event(buf, *first, sse, with_id);
    auto last_write = std::chrono::steady_clock::now();
    const auto tick = std::min(heartbeat_, std::chrono::milliseconds(1000));
    while (!out.cancelled()) {
      // Take what is queued without waiting, then wait a tick.
      auto e = channel.next(buf.empty() ? tick : std::chrono::milliseconds(0));
      if (!e.ok()) {
        if (e.status().code() != Code::kAborted) append_error(buf, e.status(), sse);
        if (!buf.empty()) out.write(buf);
        return;
      }
      if (*e) {
        append_event(buf, **e, sse, with_id);
        if (buf.size() < kChunkBytes) continue;
      }
      const auto now = std::chrono::steady_clock::now();
      if (buf.empty() && now - last_write >= heartbeat_) buf = sse ? ": heartbeat\n\n" : "\n";
      if (!buf.empty()) {
        if (!out.write(buf)) return;
        buf.clear();
        last_write = now;
      }
    }
  }

  DaemonContext ctx_;
  std::unique_ptr<TailingReader> tailer_;
  std::chrono::milliseconds heartbeat_;
  std::atomic<int> open_tails_{0};
};

Result<std::unique_ptr<server::Role>> open_role(const DaemonContext& ctx) {
  ReaderOptions o = reader_options(ctx, "tailer");
  auto t = TailingReader::open(ctx.store, o);
  if (!t.ok()) return t.status();
  if (Status s = (*t)->start(); !s.ok()) return s;
  return std::unique_ptr<server::Role>(std::make_unique<TailerRole>(ctx, std::move(*t)));
}

}  // namespace

DaemonSpec spec() {
  DaemonSpec s;
  s.name = "tailerd";
  s.role = "tailer";
  s.default_listen = "127.0.0.1:7003";
  add_reader_keys(s.role_schema, "tailer", "200ms");
  s.role_schema.add({.path = "tailer.heartbeat_interval", .type = server::ConfigType::kDuration,
                     .default_value = "15s",
                     .help = "a silent stream gets a heartbeat this often (SSE comment, NDJSON "
                             "empty line)"});
  s.open = open_role;
  return s;
}

}  // namespace isle::tailerd
