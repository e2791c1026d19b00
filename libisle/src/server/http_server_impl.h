// The internals HttpServer's parts share: the listener side (http_server.cc)
// and the connections (http_session.cc). Server-internal; it includes Asio,
// so only those two translation units include it.
//
// Threads (none scales with connections):
//   * io_threads I/O threads, each running its own io_context: a
//     connection lives on one of them (round-robin at accept) and only
//     that thread touches its Session;
//   * `workers` threads run handlers (they may block on the store);
//   * `stream_workers` threads run StreamProducer::on_writable (a scan
//     pulling its next chunk); at most one call per stream is queued, so
//     that queue is bounded by max_streams.
#pragma once

#include <utility>  // first: Boost 1.74's Asio needs it with GCC 12

#include <array>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "server/access.h"
#include "server/http_server.h"
#include "server/worker_pool.h"

namespace isle::server {

class Counter;

// What the server asks of a connection (on the connection's I/O thread).
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void force_close() = 0;  // stop(): close now
  virtual void drain() = 0;        // drain(): end a stream properly
  virtual void pump_stream() = 0;  // the stream's queue has news
  // Closes a stream whose write has been stuck past write_timeout.
  virtual void sweep(std::chrono::steady_clock::time_point now) = 0;
};

// One I/O thread and the connections it owns.
//
// Streams with news are handed over in batches: a producer's write adds
// the session to `ready` and posts one handler only when the list was
// empty, so a fan-out to 10,000 streams costs a handful of posts (and
// wake-ups of this thread), not 10,000.
struct IoThread {
  // Declared first, destroyed last: sessions destroyed with the
  // io_context's queued handlers still erase themselves from it.
  std::set<SessionBase*> sessions;  // this thread only (and after it stopped)
  boost::asio::io_context ioc{1};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard;
  std::thread thread;
  // Closes stuck stream writes (one timer for all, not one per write).
  std::unique_ptr<boost::asio::steady_timer> sweeper;

  // Any thread: `s` has stream bytes or a writable call owed.
  void schedule(std::weak_ptr<SessionBase> s);

 private:
  void run_ready();
  std::mutex ready_mu_;
  std::vector<std::weak_ptr<SessionBase>> ready_;
};

class HttpServer::Impl {
 public:
  Impl(HttpServerOptions o, Router r, Metrics* m);
  ~Impl();

  Status open();
  void stop_accepting();
  bool drain(std::chrono::milliseconds timeout);
  void stop();

  bool cancelled() const { return draining.load() || stopping.load(); }
  void begin_inflight();
  void end_inflight();

  HttpServerOptions opt;
  Router router;
  Metrics* metrics;
  std::unique_ptr<AccessPolicy> access;
  std::vector<std::unique_ptr<IoThread>> io;  // io[0] also runs the acceptor
  std::unique_ptr<boost::asio::ssl::context> tls;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor;
  std::unique_ptr<boost::asio::steady_timer> accept_retry;
  size_t next_io = 0;
  WorkerPool pool;
  WorkerPool stream_pool;
  std::atomic<bool> draining{false};
  std::atomic<bool> stopping{false};
  std::string address;
  uint16_t port = 0;

  // Shared with the metric callbacks, which may outlive the server.
  std::shared_ptr<std::atomic<int64_t>> open_connections = std::make_shared<std::atomic<int64_t>>(0);
  std::shared_ptr<std::atomic<int64_t>> open_streams = std::make_shared<std::atomic<int64_t>>(0);
  // Connections that have not yet shown a valid token (tokens on only).
  std::shared_ptr<std::atomic<int64_t>> unauthenticated = std::make_shared<std::atomic<int64_t>>(0);
  Counter* rejected = nullptr;
  Counter* slow_consumers = nullptr;

  // Requests dispatched to a handler (or streaming) and not yet answered.
  std::mutex mu;
  std::condition_variable idle_cv;
  int64_t inflight = 0;

  std::mutex stop_mu;
  bool stopped = false;

 private:
  void accept();
  void on_accept(boost::system::error_code ec, boost::asio::ip::tcp::socket sock, IoThread& owner);
  // Runs f on `t`'s thread and waits (inline when that thread is not
  // running or is the caller).
  void run_on(IoThread& t, const std::function<void()>& f);
  void start_sweeper(IoThread& t);
  bool stopped_accepting_all() const;
};

// Starts a connection on `owner` (http_session.cc). `reject`: answer 503
// and close (too many connections).
void start_session(HttpServer::Impl& srv, IoThread& owner, boost::asio::ip::tcp::socket sock,
                   bool reject, const char* reject_reason);

}  // namespace isle::server
