// StreamState: the StreamSink of one streamed response, where a producer
// (any thread) and the connection's I/O thread meet. No Asio here: the
// session gives it a `notify` function that posts to its I/O thread.
//
// Invariants:
//   * write() keeps the queue (pending + in flight) within limit(), except
//     that one chunk larger than the limit is taken into an empty queue;
//     end(last) may pass it by the size of `last`;
//   * notify is called at most once until the I/O side calls take() or
//     settle() again (`kicked_`), so a burst of writes costs one post;
//   * on_writable is owed at most once (want_writable_) and runs at most
//     once at a time (writable_running_).
//
// Timeline of one write while the socket is busy:
//   producer: write("a") -> pending="a", kicked_ already set (a write is
//             in flight), nothing posted
//   I/O:      the write in flight completes -> wrote() -> take() returns
//             "a" -> async_write("a") -> ... -> take() returns "" ->
//             kicked_ cleared; the next write() posts again.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "server/http.h"

namespace isle::server {

class StreamState final : public StreamSink {
 public:
  StreamState(size_t limit, std::function<void()> notify);

  // ---- StreamSink (any thread) ----
  bool write(std::string_view data) override;
  void end(std::string_view last = {}) override;
  size_t buffered() const override;
  size_t limit() const override { return limit_; }
  bool closed() const override;
  void request_writable() override;

  // ---- the I/O side ----
  // Queues the status line and headers (before any chunk). Also kicks.
  void queue_head(std::string head);
  // Moves what is pending into `out` (empty when nothing is). With
  // nothing pending, clears the kick so the next write() notifies again.
  void take(std::string* out);
  // The bytes handed out by the last take() have been written.
  void wrote();
  // Whether on_writable should be started now; when true the caller must
  // start it and call writable_done() when it returns.
  bool start_writable();
  void writable_done();
  // The client is gone or the server stops: refuse writes, drop pending.
  void mark_gone();
  bool gone() const;
  // end() was called and every byte has been taken and written.
  bool finished() const;

 private:
  void kick_locked();
  bool writable_due_locked() const;

  const size_t limit_;
  const std::function<void()> notify_;
  mutable std::mutex mu_;
  std::string pending_;
  size_t in_flight_ = 0;
  bool kicked_ = false;
  bool ended_ = false;
  bool gone_ = false;
  bool want_writable_ = false;
  bool writable_running_ = false;
};

}  // namespace isle::server
