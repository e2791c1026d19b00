// TailHub: every tail of a tailerd served from one change feed, with no
// thread per subscriber.
//
// One hub tail (a changes-mode TailingReader::tail over all keys, on the
// hub's own thread) follows the reader's view: the reader refreshes once
// per refresh_interval however many subscribers there are, plus once per
// burst of tail requests (each request waits for a refresh that started
// after it arrived, shared with the requests arriving meanwhile, so a
// tail starts from a view holding every acknowledged write), and each SST
// of new writes is read once. Its events are framed once per format and
// fanned out to every live subscriber whose key filter and cursor they
// pass, by queueing bytes on the subscriber's StreamSink (non-blocking;
// the HTTP server writes them as each socket drains).
//
// A subscriber is in one of these states (all guarded by the hub's mutex):
//   kCatchUp   a job on the catch-up pool replays the feed from its cursor
//              (a resumed tail, or one that fell behind the hub);
//   kWaitDrain its queue is over half full during catch-up: the job
//              stopped and resumes from the cursor once the queue drained;
//   kLive      in the fan-out set: it gets the hub's events;
//   kParked    keys mode: delivered all its view held; the next view with
//              new writes queues its job again;
//   kDone      ended (error, slow consumer, client gone, hub stopping).
//
// Handing over from catch-up to live without a gap or a repeat:
//   fanned_ = the hub's cursor: every write with seq <= fanned_ has been
//   offered to the live set (the hub sees every write in sequence order).
//   A catch-up delivering event e with e.seq > fanned_ stops before e and
//   goes live with its cursor (< e.seq): the hub offers e later. A
//   catch-up that finished its view with cursor c >= fanned_ goes live
//   with cursor c. The hub offers a live subscriber only events with
//   seq > its cursor, so nothing is repeated, and both checks happen under
//   the mutex the fan-out holds, so nothing falls in between.
//
// Lagging and slow consumers: a live subscriber whose queue cannot take
// the next batch (a burst larger than server.max_stream_buffer_bytes) is
// not buffered further: it leaves the fan-out (kWaitDrain) and, once its
// queue drains, replays from its cursor on the catch-up pool until it
// rejoins. A client that reads at all rides out bursts this way, and its
// memory stays within the queue bound. One that has not drained its queue
// for slow_consumer_timeout gets a final error event `slow_consumer`
// naming its cursor and is ended; it resumes with after_seq = its last
// seq. Others are not affected.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "isle/tailing_reader.h"
#include "server/http.h"
#include "server/worker_pool.h"
#include "tail/key_range.h"

namespace isle::tailerd {

// How a subscriber's events are framed.
struct TailFormat {
  bool sse = false;      // text/event-stream; else NDJSON
  bool with_id = false;  // SSE "id:" lines (changes mode)
};

// One event, an error and a heartbeat in a format.
std::string frame_event(const ChangeEvent& e, TailFormat f);
std::string frame_error(std::string_view code, std::string_view message, TailFormat f);
std::string frame_heartbeat(TailFormat f);

struct TailHubOptions {
  std::chrono::milliseconds heartbeat{15'000};
  int catchup_threads = 2;
  // The hub fans out at least this often while a large backlog streams in.
  size_t max_batch_bytes = 1 << 20;
  // A subscriber whose full queue has not drained for this long is ended
  // with slow_consumer.
  std::chrono::milliseconds slow_consumer_timeout{30'000};
};

struct TailHubStats {
  uint64_t subscribers = 0;  // open now
  uint64_t live = 0;         // of which in the fan-out set
  uint64_t slow_consumers = 0;
  uint64_t lagging = 0;      // left the fan-out on a full queue (total)
  uint64_t catchup_jobs = 0;
  uint64_t fanouts = 0;
  uint64_t hub_restarts = 0;
};

class TailHub {
 public:
  class Subscriber;

  TailHub(TailingReader& reader, TailHubOptions options);
  ~TailHub();  // stop()s
  TailHub(const TailHub&) = delete;
  TailHub& operator=(const TailHub&) = delete;

  // Starts the hub tail, the catch-up pool and the heartbeat thread.
  void start();
  // Ends every subscriber (its stream is ended properly), stops the reader
  // (so the tails waiting in it end at once) and joins.
  void stop();

  // A new subscriber on `sink` (options already validated). The caller
  // has refreshed the reader after the request arrived (TailingReader::
  // refresh(), shared by requests arriving together) and `now_seq` is that
  // view's data_seq: a changes tail from now starts after it, so it skips
  // exactly the writes acknowledged before the request; catch-up jobs read
  // that view or a newer one. Never blocks on the store: it joins the live
  // set at once (changes from now) or queues a catch-up job. The hub's own
  // tails never refresh (TailOptions::refresh_first = false).
  std::shared_ptr<Subscriber> subscribe(const TailOptions& o, TailFormat f,
                                        std::shared_ptr<server::StreamSink> sink,
                                        uint64_t now_seq);
  // The stream is over: forget the subscriber.
  void unsubscribe(const std::shared_ptr<Subscriber>& s);
  // The subscriber's queue drained (StreamProducer::on_writable).
  void writable(const std::shared_ptr<Subscriber>& s);

  TailHubStats stats() const;

 private:
  enum class State { kCatchUp, kWaitDrain, kLive, kParked, kDone };
  struct Frames;

  void run_hub();
  void run_heartbeats();
  void queue_job_locked(const std::shared_ptr<Subscriber>& s);
  void run_job(const std::shared_ptr<Subscriber>& s);
  void fan_out(std::vector<ChangeEvent>* batch, uint64_t fanned);
  void end_locked(Subscriber& s, std::string_view last);

  TailingReader& reader_;
  const TailHubOptions o_;
  server::WorkerPool catchup_;

  mutable std::mutex mu_;
  std::condition_variable cv_;  // stopping_ (heartbeat waits)
  std::list<std::shared_ptr<Subscriber>> subs_;  // every open subscriber
  uint64_t fanned_ = 0;
  bool started_ = false;
  bool stopping_ = false;
  TailHubStats stats_;

  std::atomic<bool> hub_cancel_{false};
  std::thread hub_thread_;
  std::thread heartbeat_thread_;
};

}  // namespace isle::tailerd
