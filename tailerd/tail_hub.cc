// TailHub (see tail_hub.h for the states and the hand-over argument).
#include "tail_hub.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "server/api.h"

namespace isle::tailerd {

using server::StreamSink;

namespace {

std::string event_json(const ChangeEvent& e) {
  nlohmann::json j;
  j["seq"] = e.seq;
  j["op"] = e.op == ChangeOp::kPut ? "put" : "delete";
  server::put_bytes(j, "key", e.key);
  if (e.op == ChangeOp::kPut) server::put_bytes(j, "value", e.value);
  if (e.expires_at_ms) j["expires_at"] = *e.expires_at_ms;
  return j.dump();
}

size_t event_bytes(const ChangeEvent& e) { return e.key.size() + e.value.size() + 64; }

}  // namespace

std::string frame_event(const ChangeEvent& e, TailFormat f) {
  if (!f.sse) return event_json(e) + "\n";
  std::string out;
  if (f.with_id) out = "id: " + std::to_string(e.seq) + "\n";
  out += "data: " + event_json(e) + "\n\n";
  return out;
}

std::string frame_error(std::string_view code, std::string_view message, TailFormat f) {
  nlohmann::json j;
  j["error"]["code"] = std::string(code);
  j["error"]["message"] = std::string(message);
  const std::string body = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return f.sse ? "event: error\ndata: " + body + "\n\n" : body + "\n";
}

std::string frame_heartbeat(TailFormat f) { return f.sse ? ": heartbeat\n\n" : "\n"; }

class TailHub::Subscriber {
 public:
  Subscriber(const TailOptions& o, TailFormat f, std::shared_ptr<StreamSink> s)
      : options(o), range(o), format(f), sink(std::move(s)) {}
  const TailOptions options;
  const KeyRange range;
  const TailFormat format;
  const std::shared_ptr<StreamSink> sink;
  // Guarded by the hub's mutex.
  State state = State::kCatchUp;
  uint64_t cursor = 0;                  // changes: every seq <= it is behind us
  std::optional<std::string> last_key;  // keys: the last key delivered
  bool job_queued = false;
  std::chrono::steady_clock::time_point last_write = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point waiting_since{};  // entered kWaitDrain
};

// One batch framed once per format: the fan-out copies bytes, it does
// not serialise per subscriber.
struct TailHub::Frames {
  struct Item {
    uint64_t seq;
    std::string key;
    std::string ndjson, sse;
  };
  std::vector<Item> items;
};

TailHub::TailHub(TailingReader& reader, TailHubOptions options) : reader_(reader), o_(options) {}

TailHub::~TailHub() { stop(); }

void TailHub::start() {
  {
    std::lock_guard lk(mu_);
    if (started_) return;
    started_ = true;
    fanned_ = reader_.manifest().data_seq;
  }
  catchup_.start(o_.catchup_threads);
  hub_thread_ = std::thread([this] { run_hub(); });
  heartbeat_thread_ = std::thread([this] { run_heartbeats(); });
}

void TailHub::stop() {
  {
    std::lock_guard lk(mu_);
    if (stopping_) return;
    stopping_ = true;
    for (auto& s : subs_) end_locked(*s, {});
  }
  cv_.notify_all();
  hub_cancel_ = true;
  // Ends the hub's tail and any catch-up tail now (they return Stopped):
  // a tail waiting for news would otherwise wait for the next refresh,
  // up to tailer.refresh_interval.
  reader_.stop();
  if (hub_thread_.joinable()) hub_thread_.join();
  if (heartbeat_thread_.joinable()) heartbeat_thread_.join();
  catchup_.stop();
}

std::shared_ptr<TailHub::Subscriber> TailHub::subscribe(const TailOptions& o, TailFormat f,
                                                         std::shared_ptr<StreamSink> sink,
                                                         uint64_t now_seq) {
  auto s = std::make_shared<Subscriber>(o, f, std::move(sink));
  std::lock_guard lk(mu_);
  subs_.push_back(s);
  stats_.subscribers++;
  if (stopping_) {
    end_locked(*s, {});
    return s;
  }
  if (o.mode == TailMode::kChanges && !o.after_seq) {
    // From now on: after every write acknowledged before the request
    // (now_seq, from the view refreshed for it) and after what the hub
    // has offered already. Live at once: the hub offers only seqs above
    // the cursor.
    s->cursor = std::max(fanned_, now_seq);
    s->state = State::kLive;
    stats_.live++;
    return s;
  }
  if (o.mode == TailMode::kChanges) s->cursor = *o.after_seq;
  s->last_key = o.after_key;
  queue_job_locked(s);
  return s;
}

void TailHub::unsubscribe(const std::shared_ptr<Subscriber>& s) {
  std::lock_guard lk(mu_);
  if (s->state == State::kLive) stats_.live--;
  if (s->state != State::kDone) s->state = State::kDone;
  for (auto it = subs_.begin(); it != subs_.end(); ++it) {
    if (it->get() == s.get()) {
      subs_.erase(it);
      stats_.subscribers--;
      break;
    }
  }
}

void TailHub::writable(const std::shared_ptr<Subscriber>& s) {
  std::lock_guard lk(mu_);
  if (s->state == State::kWaitDrain) {
    s->state = State::kCatchUp;
    queue_job_locked(s);
  }
}

TailHubStats TailHub::stats() const {
  std::lock_guard lk(mu_);
  return stats_;
}

void TailHub::end_locked(Subscriber& s, std::string_view last) {
  if (s.state == State::kDone) return;
  if (s.state == State::kLive) stats_.live--;
  s.state = State::kDone;
  s.sink->end(last);
}

void TailHub::queue_job_locked(const std::shared_ptr<Subscriber>& s) {
  if (s->job_queued || stopping_) return;
  s->job_queued = true;
  stats_.catchup_jobs++;
  // At most one job per subscriber is queued, so this queue is bounded by
  // the number of open streams.
  catchup_.submit([this, s] { run_job(s); }, SIZE_MAX / 2);
}

// ---- catch-up ----------------------------------------------------------------

void TailHub::run_job(const std::shared_ptr<Subscriber>& s) {
  TailOptions o = s->options;
  o.refresh_first = false;  // the request refreshed (see subscribe)
  {
    std::lock_guard lk(mu_);
    s->job_queued = false;
    if (s->state != State::kCatchUp) return;
    if (o.mode == TailMode::kChanges) {
      o.after_seq = s->cursor;
    } else {
      o.after_key = s->last_key;
    }
  }
  const size_t high_water = s->sink->limit() / 2;
  auto handler = [&](const ChangeEvent& e) {
    std::lock_guard lk(mu_);
    if (s->state != State::kCatchUp) return false;
    if (o.mode == TailMode::kChanges && e.seq > fanned_) {
      // The hub has not offered e yet: hand over (see tail_hub.h).
      s->state = State::kLive;
      stats_.live++;
      return false;
    }
    if (!s->sink->write(frame_event(e, s->format))) {
      if (s->sink->closed()) {
        s->state = State::kDone;
        return false;
      }
      s->state = State::kWaitDrain;  // resumes from the cursor, e included
      s->waiting_since = std::chrono::steady_clock::now();
      s->sink->request_writable();
      return false;
    }
    s->last_write = std::chrono::steady_clock::now();
    if (o.mode == TailMode::kChanges) {
      s->cursor = e.seq;
    } else {
      s->last_key = e.key;
    }
    if (s->sink->buffered() > high_water) {
      s->state = State::kWaitDrain;
      s->waiting_since = std::chrono::steady_clock::now();
      s->sink->request_writable();
      return false;
    }
    return true;
  };
  auto caught_up = [&](uint64_t cursor) {
    std::lock_guard lk(mu_);
    if (s->state != State::kCatchUp) return false;
    if (o.mode == TailMode::kKeys) {
      s->state = State::kParked;
      return false;
    }
    s->cursor = std::max(s->cursor, cursor);
    if (s->cursor >= fanned_) {
      s->state = State::kLive;
      stats_.live++;
    } else {
      queue_job_locked(s);  // the hub moved on meanwhile: another round
    }
    return false;
  };
  Status st = reader_.tail(o, handler, caught_up);
  if (st.is_stopped()) {  // the reader is shutting down: end the stream
    std::lock_guard lk(mu_);
    end_locked(*s, {});
  } else if (!st.ok()) {
    std::lock_guard lk(mu_);
    if (s->state == State::kCatchUp || s->state == State::kWaitDrain) {
      const char* code = st.is_change_cursor_expired() ? "cursor_expired" : "tail_failed";
      end_locked(*s, frame_error(code, st.to_string(), s->format));
    }
  }
}

// ---- the hub tail and the fan-out ---------------------------------------------------

void TailHub::run_hub() {
  while (!hub_cancel_) {
    uint64_t from = 0;
    {
      std::lock_guard lk(mu_);
      from = fanned_;
    }
    TailOptions o;
    o.mode = TailMode::kChanges;
    o.after_seq = from;
    o.refresh_first = false;  // follows the background refresh only
    std::vector<ChangeEvent> batch;
    size_t batch_bytes = 0;
    auto handler = [&](const ChangeEvent& e) {
      if (hub_cancel_) return false;
      batch_bytes += event_bytes(e);
      batch.push_back(e);
      if (batch_bytes >= o_.max_batch_bytes) {
        fan_out(&batch, batch.back().seq);
        batch_bytes = 0;
      }
      return true;
    };
    auto caught_up = [&](uint64_t cursor) {
      fan_out(&batch, cursor);
      batch_bytes = 0;
      return !hub_cancel_.load();
    };
    Status st = reader_.tail(o, handler, caught_up);
    if (hub_cancel_ || st.ok() || st.is_stopped()) break;  // cancelled, or the reader stopped
    // The hub's own tail failed (an SST that does not verify, history
    // collected under a hub that fell behind): every live subscriber gets
    // the error and may resume with its cursor; the hub starts again from
    // the newest write.
    spdlog::error("tail hub: {}; live tails end, the hub restarts from the newest write",
                  st.to_string());
    {
      std::lock_guard lk(mu_);
      for (auto& s : subs_) {
        if (s->state == State::kLive) end_locked(*s, frame_error("tail_failed", st.to_string(), s->format));
      }
      fanned_ = std::max(fanned_, reader_.manifest().data_seq);
      stats_.hub_restarts++;
    }
    std::unique_lock lk(mu_);
    cv_.wait_for(lk, std::chrono::seconds(1), [this] { return stopping_; });
  }
}

void TailHub::fan_out(std::vector<ChangeEvent>* batch, uint64_t fanned) {
  Frames frames;
  frames.items.reserve(batch->size());
  for (const auto& e : *batch) {
    frames.items.push_back(Frames::Item{e.seq, e.key, frame_event(e, TailFormat{false, true}),
                                        frame_event(e, TailFormat{true, true})});
  }
  batch->clear();
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lk(mu_);
  std::string out;
  for (auto& s : subs_) {
    if (s->state == State::kParked && fanned > fanned_) {
      s->state = State::kCatchUp;  // keys mode: new writes, look again
      queue_job_locked(s);
      continue;
    }
    if (s->state != State::kLive) continue;
    // One matching event (the common case) is written from the shared
    // frame; several are joined into one chunk.
    const std::string* only = nullptr;
    out.clear();
    for (const auto& it : frames.items) {
      if (it.seq <= s->cursor || !s->range.contains(it.key)) continue;
      const std::string& f = s->format.sse ? it.sse : it.ndjson;
      if (only == nullptr && out.empty()) {
        only = &f;
        continue;
      }
      if (only != nullptr) {
        out = *only;
        only = nullptr;
      }
      out += f;
    }
    const std::string& data = only != nullptr ? *only : out;
    if (!data.empty()) {
      if (!s->sink->write(data)) {
        if (s->sink->closed()) {
          end_locked(*s, {});
          continue;
        }
        // The queue is full: leave the fan-out with the cursor before this
        // batch and replay from it once the queue drains (see tail_hub.h).
        s->state = State::kWaitDrain;
        s->waiting_since = now;
        stats_.live--;
        stats_.lagging++;
        s->sink->request_writable();
        continue;
      }
      s->last_write = now;
    }
    s->cursor = std::max(s->cursor, fanned);
  }
  fanned_ = std::max(fanned_, fanned);
  stats_.fanouts++;
}

void TailHub::run_heartbeats() {
  const auto tick = std::min(o_.heartbeat, std::chrono::milliseconds(1000));
  std::unique_lock lk(mu_);
  while (!stopping_) {
    cv_.wait_for(lk, tick, [this] { return stopping_; });
    if (stopping_) return;
    const auto now = std::chrono::steady_clock::now();
    for (auto& s : subs_) {
      if (s->state == State::kWaitDrain && now - s->waiting_since > o_.slow_consumer_timeout) {
        stats_.slow_consumers++;
        end_locked(*s, frame_error("slow_consumer",
                                   "this tail's queue (server.max_stream_buffer_bytes) has not "
                                   "drained for tailer.slow_consumer_timeout; resume with after_seq=" +
                                       std::to_string(s->cursor),
                                   s->format));
        continue;
      }
      if (s->state == State::kDone || now - s->last_write < o_.heartbeat) continue;
      if (s->sink->buffered() == 0) (void)s->sink->write(frame_heartbeat(s->format));
      s->last_write = now;
    }
  }
}

}  // namespace isle::tailerd
