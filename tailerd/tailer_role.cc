// tailerd's role glue: one TailingReader, one TailHub serving every tail
// (tail_hub.h), no thread per stream.
//
// A stream's life:
//   worker thread: parse the query; refresh the reader (single-flight:
//       requests arriving together share one refresh) so the tail starts
//       from a view holding every write acknowledged before the request,
//       and take that view's data_seq as "now"; for a resumed change tail
//       check that its cursor can still be served (an expired one answers
//       410 here, before any byte of a 200 went out); a refresh that fails
//       answers its error (503 for a store outage); HEAD stops before the
//       refresh: headers only, nothing subscribed;
//   I/O thread (on_open): subscribe to the hub: live at once (changes
//       from now) or a catch-up job from the cursor;
//   the hub queues events on the stream's sink; the server writes them as
//       the socket drains; a heartbeat after tailer.heartbeat_interval of
//       silence (SSE: a comment line; NDJSON: an empty line); the stream
//       ends when the client leaves, the server drains, the tail fails (a
//       last error event) or the client falls more than
//       server.max_stream_buffer_bytes behind (error slow_consumer).
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
#include "tail_hub.h"

namespace isle::tailerd {

using namespace isle::server;

namespace {

// The hub's subscriber for one HTTP stream.
class TailProducer final : public StreamProducer {
 public:
  TailProducer(TailHub& hub, TailOptions o, TailFormat f, uint64_t now_seq)
      : hub_(hub), o_(std::move(o)), f_(f), now_seq_(now_seq) {}
  void on_open(std::shared_ptr<StreamSink> sink) override {
    std::lock_guard lk(mu_);
    sub_ = hub_.subscribe(o_, f_, std::move(sink), now_seq_);
  }
  void on_writable(StreamSink&) override {
    std::lock_guard lk(mu_);
    if (sub_) hub_.writable(sub_);
  }
  void on_close() override {
    std::lock_guard lk(mu_);
    if (sub_) hub_.unsubscribe(sub_);
    sub_.reset();
  }

 private:
  TailHub& hub_;
  const TailOptions o_;
  const TailFormat f_;
  const uint64_t now_seq_;  // data_seq of the view refreshed for the request
  std::mutex mu_;
  std::shared_ptr<TailHub::Subscriber> sub_;
};

class TailerRole final : public server::Role {
 public:
  TailerRole(const DaemonContext& ctx, std::unique_ptr<TailingReader> tailer)
      : ctx_(ctx), tailer_(std::move(tailer)),
        hub_(*tailer_, TailHubOptions{.heartbeat = ctx.config->get_duration("tailer.heartbeat_interval"),
                                      .catchup_threads = static_cast<int>(
                                          ctx.config->get_int("tailer.catchup_threads")),
                                      .slow_consumer_timeout = ctx.config->get_duration(
                                          "tailer.slow_consumer_timeout")}) {
    TailingReader* t = tailer_.get();
    register_reader_metrics(*ctx.metrics, [t] { return t->reader_stats(); },
                            [t] { return t->manifest(); });
    Metrics& m = *ctx.metrics;
    m.callback("isle_tailer_events_total", "events delivered to tails", "counter", {},
               [t] { return static_cast<double>(t->stats().events); });
    m.callback("isle_tailer_transient_errors_total", "store outages tails waited out", "counter",
               {}, [t] { return static_cast<double>(t->stats().transient_errors); });
    m.callback("isle_tailer_open_tails", "tails streaming now", "gauge", {},
               [this] { return static_cast<double>(hub_.stats().subscribers); });
    m.callback("isle_tailer_live_tails", "tails served by the hub's fan-out (not catching up)",
               "gauge", {}, [this] { return static_cast<double>(hub_.stats().live); });
    m.callback("isle_tailer_slow_consumers_total",
               "tails ended because they fell server.max_stream_buffer_bytes behind", "counter",
               {}, [this] { return static_cast<double>(hub_.stats().slow_consumers); });
    m.callback("isle_tailer_lagging_total",
               "times a tail left the fan-out on a full queue and replayed from its cursor",
               "counter", {}, [this] { return static_cast<double>(hub_.stats().lagging); });
    m.callback("isle_tailer_catchup_jobs_total", "catch-up rounds run for resumed or lagging tails",
               "counter", {}, [this] { return static_cast<double>(hub_.stats().catchup_jobs); });
    hub_.start();
    m.callback("isle_tailer_last_refresh_age_seconds", "time since the last successful refresh",
               "gauge", {}, [this] { return refresh_age_seconds(); });
  }

  void add_routes(Router& router) override {
    router.add("GET", "/v1/tail", [this](const HttpRequest& r) { return tail(r); },
               {.scope = Scope::kRead});
    router.add("GET", "/v1/manifest", [this](const HttpRequest&) {
      nlohmann::json j;
      manifest_to_json(tailer_->manifest(), j);
      return HttpResponse::json(200, j.dump());
    }, {.scope = Scope::kRead});
  }

  bool ready() const override { return true; }

  void status(nlohmann::json& out) const override {
    auto m = tailer_->manifest();
    out["epoch"] = m.writer_epoch;
    out["owner"] = m.writer_owner;
    out["manifest_seq"] = m.log_position;
    out["last_seq"] = m.last_seq;
    out["data_seq"] = m.data_seq;
    out["open_tails"] = hub_.stats().subscribers;
    out["events"] = tailer_->stats().events;
    out["last_refresh_age_seconds"] = refresh_age_seconds();
  }

  // Ends every tail (the server drained first), then the reader.
  Status shutdown() override {
    hub_.stop();
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

    if (Status st = validate(o); !st.ok()) return error_response(st);
    // The tail starts from a view holding every write acknowledged before
    // this request: one refresh, shared with the requests arriving while
    // it runs. A cursor that is already gone then fails here with a proper
    // status. HEAD answers the headers alone: nothing is refreshed,
    // checked or subscribed.
    uint64_t now_seq = 0;
    if (r.method != "HEAD") {
      if (Status st = tailer_->refresh(); !st.ok()) return error_response(st);
      now_seq = tailer_->manifest().data_seq;
      if (o.mode == TailMode::kChanges && o.after_seq) {
        if (Status st = tailer_->check_cursor(*o.after_seq); !st.ok()) return error_response(st);
      }
    }

    HttpResponse resp;
    resp.content_type = sse ? "text/event-stream" : "application/x-ndjson";
    resp.headers.emplace_back("Cache-Control", "no-cache");
    resp.headers.emplace_back("X-Accel-Buffering", "no");  // nginx: do not buffer the stream
    resp.stream = std::make_shared<TailProducer>(hub_, o, TailFormat{sse, o.mode == TailMode::kChanges},
                                                 now_seq);
    return resp;
  }

  static Status validate(const TailOptions& o) {
    if (o.max_key && o.end_key) return Status::InvalidArgument("give end or max_key, not both");
    return Status::OK();
  }

  DaemonContext ctx_;
  std::unique_ptr<TailingReader> tailer_;
  TailHub hub_;  // last: stopped before the reader goes
};

Result<std::unique_ptr<server::Role>> open_role(const DaemonContext& ctx) {
  auto options = reader_options(ctx, "tailer");
  if (!options.ok()) return options.status();
  ReaderOptions o = std::move(*options);
  o.refresh_interval_min = ctx.config->get_duration("tailer.refresh_interval_min");
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
  s.role_schema.add({.path = "tailer.refresh_interval_min", .type = server::ConfigType::kDuration,
                     .default_value = "10ms",
                     .help = "while new log entries keep appearing, refresh this often (plus one "
                             "GET); tailer.refresh_interval is then the idle interval"});
  s.role_schema.add({.path = "tailer.heartbeat_interval", .type = server::ConfigType::kDuration,
                     .default_value = "15s",
                     .help = "a silent stream gets a heartbeat this often (SSE comment, NDJSON "
                             "empty line)"});
  s.role_schema.add({.path = "tailer.slow_consumer_timeout", .type = server::ConfigType::kDuration,
                     .default_value = "30s",
                     .help = "a tail whose full queue (server.max_stream_buffer_bytes) has not "
                             "drained for this long gets a slow_consumer error and is closed"});
  s.role_schema.add({.path = "tailer.catchup_threads", .type = server::ConfigType::kInt,
                     .default_value = "2",
                     .help = "threads replaying history for resumed or lagging tails (live tails "
                             "need none)",
                     .min = 1, .max = 64});
  // A tailerd serves many long-lived streams: 10,000 by default, within
  // the units' LimitNOFILE=65536 (two event loops share the writing).
  s.server_defaults = {{"server.max_streams", "10000"},
                       {"server.max_connections", "12000"},
                       {"server.io_threads", "2"}};
  s.open = open_role;
  return s;
}

}  // namespace isle::tailerd
