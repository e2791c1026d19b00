// HttpServer on Boost.Beast + Asio (see http_server.h for the contract).
//
// Threads:
//   * one I/O thread runs the io_context: it accepts, reads and writes every
//     connection, and is the only thread that touches a Session's state;
//   * `workers` threads run handlers (WorkerPool). A worker only reads the
//     request it was handed (the session does not touch it meanwhile) and
//     moves its reference to the session into the completion it posts
//     back, so a Session is never destroyed on a worker;
//   * one thread per streamed response runs its producer, which talks to
//     the I/O thread only through a StreamState (mutex + condvar + buffer).
//
// A connection is a Session<kTls>: a small object owned by the shared_ptrs
// its pending operations hold. It serves one request at a time:
//   wait_request -> read head -> (route, auth, limits) -> read body
//   -> dispatch to a worker -> on_response -> write -> wait_request ...
// so responses go out in request order and pipelined requests simply wait
// in the read buffer. Every timeout is the session's own timer: a read
// timeout cancels the read (then 408, or a silent close when the client
// sent nothing), a write timeout closes the socket.
//
// Streams, and why the session holds itself while one is open:
//   producer thread              I/O thread
//   write(): append to pending,
//     post a kick unless one is
//     already owed (`kicked`)
//                                kick: take pending, async_write it;
//                                after the write, take more or clear
//                                `kicked` when nothing is pending
//   write() blocks while pending
//     is over kStreamBufferBytes
//   producer returns: append the
//     final 0-chunk, set
//     producer_done, kick
//                                pending empty and producer_done:
//                                finish_stream (keep-alive or close)
// While the stream runs, one read stays pending to notice a client that
// leaves while the producer is quiet (cancelled() turns true); when the
// stream ends it becomes the wait for the next request.
// Between two writes no asynchronous operation may be pending, so nothing
// else keeps the session alive: it holds a shared_ptr to itself (hold_)
// from start_stream to finish_stream (or force_close at stop()). The
// producer side only has a weak_ptr, locked on the I/O thread, so a
// Session is never destroyed on a producer or worker thread.
//
// Shutdown order (stop()): flag stopping (streams see cancelled(), blocked
// write()s wake up) -> on the I/O thread close the listener and every
// connection -> join the stream threads -> join the workers (queued tasks
// skip their handler) -> stop and join the I/O thread -> run what is still
// queued on the stopping thread (closed sockets: everything fails fast and
// releases its session). Anything left is destroyed with the io_context in
// ~Impl, while no other thread runs.
#include <utility>  // first: Boost 1.74's Asio needs it with GCC 12

#include "server/http_server.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <list>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <type_traits>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>

#include "server/metrics.h"

namespace isle::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Bytes a stream may queue before write() blocks (plus one write in flight).
constexpr size_t kStreamBufferBytes = 1 << 20;
// How long a closing connection's leftover input is read and discarded, so
// the client sees our error response instead of a reset.
constexpr milliseconds kLinger{2000};
constexpr size_t kReadChunk = 16 * 1024;

using Digest = std::array<unsigned char, 32>;

Digest sha256(std::string_view s) {
  Digest d{};
  unsigned int len = 0;
  EVP_Digest(s.data(), s.size(), d.data(), &len, EVP_sha256(), nullptr);
  return d;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// A bounded label for metrics: clients choose the method string.
std::string method_label(std::string_view m) {
  for (std::string_view known : {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"}) {
    if (m == known) return std::string(m);
  }
  return "other";
}

bool header_ok(std::string_view name, std::string_view value) {
  if (name.empty()) return false;
  for (char c : name) {
    if (c <= ' ' || c == ':' || c == 127) return false;
  }
  for (char c : value) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

// The status line and headers. `length` nullopt: chunked.
std::string format_head(const HttpResponse& res, std::string_view connection,
                        std::optional<size_t> length) {
  std::string reason(http::obsolete_reason(http::int_to_status(static_cast<unsigned>(res.status))));
  if (reason.empty() || reason[0] == '<') reason = "Unknown";
  std::string h = "HTTP/1.1 " + std::to_string(res.status) + " " + reason + "\r\n";
  if (!res.content_type.empty() && header_ok("Content-Type", res.content_type)) {
    h += "Content-Type: " + res.content_type + "\r\n";
  }
  for (const auto& [name, value] : res.headers) {
    // The server owns the framing headers.
    if (!header_ok(name, value) || iequals(name, "content-length") ||
        iequals(name, "transfer-encoding") || iequals(name, "connection")) {
      continue;
    }
    h += name + ": " + value + "\r\n";
  }
  if (!length) {
    h += "Transfer-Encoding: chunked\r\n";
  } else if (res.status >= 200 && res.status != 204 && res.status != 304) {
    h += "Content-Length: " + std::to_string(*length) + "\r\n";
  }
  if (!connection.empty()) h += "Connection: " + std::string(connection) + "\r\n";
  h += "\r\n";
  return h;
}

bool is_parse_error(const error_code& ec) {
  static const auto& cat = http::make_error_code(http::error::bad_method).category();
  return ec.category() == cat && ec != http::error::end_of_stream &&
         ec != http::error::partial_message && ec != http::error::need_more;
}

std::string endpoint_string(const tcp::endpoint& ep) {
  auto addr = ep.address();
  std::string host = addr.to_string();
  if (addr.is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(ep.port());
}

// Handlers run here. A task waits only when no worker is idle; more than
// max_queued such waiting tasks are refused (the caller answers 429).
class WorkerPool {
 public:
  void start(int n) {
    for (int i = 0; i < n; ++i) threads_.emplace_back([this] { run(); });
  }
  bool submit(std::function<void()> task, size_t max_queued) {
    {
      std::lock_guard lk(mu_);
      if (stop_ || queue_.size() >= max_queued + idle_) return false;
      queue_.push_back(std::move(task));
    }
    cv_.notify_one();
    return true;
  }
  // Runs what is queued, then joins.
  void stop() {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

 private:
  void run() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock lk(mu_);
        ++idle_;
        cv_.wait(lk, [this] { return stop_ || !queue_.empty(); });
        --idle_;
        if (queue_.empty()) return;
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      task();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  size_t idle_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

struct StreamState;

class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void force_close() = 0;  // I/O thread
  virtual void pump_stream(const StreamState* which) = 0;  // I/O thread
};

}  // namespace

class HttpServer::Impl {
 public:
  Impl(HttpServerOptions o, Router r, Metrics* m)
      : opt(std::move(o)), router(std::move(r)), metrics(m), ioc(std::make_unique<asio::io_context>(1)) {}
  ~Impl() {
    stop();
    // Destroying the io_context destroys the handlers still queued, which
    // releases the last sessions; they touch the members below, so it
    // goes first.
    accept_retry.reset();
    acceptor.reset();
    ioc.reset();
  }

  Status open();
  void accept();
  void on_accept(error_code ec, tcp::socket sock);
  void stop_accepting();
  bool drain(milliseconds timeout);
  void stop();

  bool authorized(const HttpRequest& req) const;
  bool cancelled() const { return draining.load() || stopping.load(); }
  void begin_inflight() {
    std::lock_guard lk(mu);
    ++inflight;
  }
  void end_inflight() {
    std::lock_guard lk(mu);
    if (--inflight == 0) idle_cv.notify_all();
  }
  void wake_streams();
  bool spawn_stream(std::shared_ptr<StreamState> st, std::function<void(StreamWriter&)> producer);
  // Runs f on the I/O thread and waits for it (inline when already there
  // or when that thread no longer runs).
  void run_on_io(const std::function<void()>& f);

  HttpServerOptions opt;
  Router router;
  Metrics* metrics;
  std::vector<Digest> tokens;
  std::unique_ptr<asio::io_context> ioc;
  std::unique_ptr<asio::ssl::context> tls;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::unique_ptr<asio::steady_timer> accept_retry;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::thread io_thread;
  WorkerPool pool;
  std::atomic<bool> draining{false};
  std::atomic<bool> stopping{false};
  std::string address;
  uint16_t port = 0;

  // Shared with the metric callbacks, which may outlive the server.
  std::shared_ptr<std::atomic<int64_t>> open_connections = std::make_shared<std::atomic<int64_t>>(0);
  std::shared_ptr<std::atomic<int64_t>> open_streams = std::make_shared<std::atomic<int64_t>>(0);
  Counter* rejected = nullptr;
  std::set<SessionBase*> sessions;  // I/O thread only (and ~Impl)

  // Requests dispatched to a handler (or streaming) and not yet answered.
  std::mutex mu;
  std::condition_variable idle_cv;
  int64_t inflight = 0;

  std::mutex streams_mu;
  std::set<StreamState*> live_streams;
  std::list<std::thread> stream_threads;
  std::vector<std::thread::id> finished_streams;  // to join

  std::mutex stop_mu;
  bool stopped = false;
};

namespace {

using Impl = HttpServer::Impl;

// The producer thread and the I/O thread meet here; see the timeline at
// the top of the file.
struct StreamState {
  explicit StreamState(Impl& s) : srv(s) {}
  Impl& srv;
  std::weak_ptr<SessionBase> session;  // locked on the I/O thread only
  std::mutex mu;
  std::condition_variable cv;  // pending shrank, or gone/cancelled
  std::string head;            // status line + headers
  std::string pending;         // framed bytes the I/O thread has not taken
  bool begun = false;          // head appended to pending
  bool kicked = false;         // the I/O side owes a look at pending
  bool producer_done = false;
  std::atomic<bool> gone{false};  // client left, write failed or closed

  void mark_gone() {
    {
      std::lock_guard lk(mu);
      gone = true;
      pending.clear();
    }
    cv.notify_all();
  }
};

// Called with st->mu held.
void kick_locked(const std::shared_ptr<StreamState>& st) {
  if (st->kicked) return;
  st->kicked = true;
  asio::post(*st->srv.ioc, [st] {
    if (auto s = st->session.lock()) s->pump_stream(st.get());
  });
}

class StreamWriterImpl final : public StreamWriter {
 public:
  explicit StreamWriterImpl(std::shared_ptr<StreamState> st) : st_(std::move(st)) {}

  bool begin() override {
    std::lock_guard lk(st_->mu);
    begin_locked();
    return !cancelled();
  }
  bool write(std::string_view chunk) override {
    std::unique_lock lk(st_->mu);
    begin_locked();
    st_->cv.wait(lk, [&] { return st_->pending.size() < kStreamBufferBytes || cancelled(); });
    if (cancelled()) return false;
    if (chunk.empty()) return true;  // an empty chunk would end the body
    char size[24];
    int n = std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
    st_->pending.append(size, static_cast<size_t>(n));
    st_->pending.append(chunk);
    st_->pending.append("\r\n");
    kick_locked(st_);
    return true;
  }
  bool cancelled() const override { return st_->gone.load() || st_->srv.cancelled(); }

  // The producer returned: end the body properly, or (failed) let the
  // session close the connection without the final chunk.
  void finish(bool failed) {
    if (failed) st_->mark_gone();
    std::lock_guard lk(st_->mu);
    if (!st_->gone) {
      begin_locked();
      st_->pending.append("0\r\n\r\n");
    }
    st_->producer_done = true;
    kick_locked(st_);
  }

 private:
  void begin_locked() {
    if (st_->begun || st_->gone) return;
    st_->begun = true;
    st_->pending.insert(0, st_->head);
    kick_locked(st_);
  }
  std::shared_ptr<StreamState> st_;
};

template <bool kTls>
class Session final : public SessionBase, public std::enable_shared_from_this<Session<kTls>> {
  using Stream = std::conditional_t<kTls, asio::ssl::stream<tcp::socket>, tcp::socket>;

 public:
  Session(Impl& srv, tcp::socket sock, bool reject)
      : srv_(srv), stream_(make_stream(srv, std::move(sock))), timer_(*srv.ioc), reject_(reject) {
    error_code ec;
    auto ep = socket().remote_endpoint(ec);
    if (!ec) remote_ = endpoint_string(ep);
    srv_.sessions.insert(this);
    if (!reject_) ++*srv_.open_connections;
  }

  ~Session() override {
    srv_.sessions.erase(this);
    if (!reject_) --*srv_.open_connections;
    if (st_) st_->mark_gone();
    if (stream_counted_) --*srv_.open_streams;
    end_inflight();
  }

  void start() {
    if constexpr (kTls) {
      arm(srv_.opt.header_timeout, true);
      stream_.async_handshake(asio::ssl::stream_base::server, [self = this->shared_from_this()](error_code ec) {
        self->disarm();
        if (ec) return self->close_now();
        self->after_handshake();
      });
    } else {
      after_handshake();
    }
  }

  void force_close() override {
    auto self = this->shared_from_this();
    close_now();
    hold_.reset();
  }

  // Moves a stream's pending bytes to the socket, one write at a time.
  void pump_stream(const StreamState* which) override {
    if (!st_ || st_.get() != which || writing_) return;
    std::unique_lock lk(st_->mu);
    if (closed_) {
      st_->gone = true;
      st_->pending.clear();
    }
    if (st_->gone || st_->pending.empty()) {
      st_->kicked = false;
      bool done = st_->producer_done;
      lk.unlock();
      st_->cv.notify_all();
      if (done) finish_stream();
      return;
    }
    out_.clear();
    out_.swap(st_->pending);
    lk.unlock();
    st_->cv.notify_all();
    writing_ = true;
    arm(srv_.opt.write_timeout, true);
    asio::async_write(stream_, asio::buffer(out_), [self = this->shared_from_this()](error_code ec, size_t n) {
      self->writing_ = false;
      self->disarm();
      self->bytes_sent_ += n;
      if (ec) {
        self->st_->mark_gone();
        self->close_now();
      }
      self->pump_stream(self->st_.get());
    });
  }

 private:
  static Stream make_stream(Impl& srv, tcp::socket sock) {
    if constexpr (kTls) {
      return Stream(std::move(sock), *srv.tls);
    } else {
      return sock;
    }
  }
  tcp::socket& socket() {
    if constexpr (kTls) {
      return stream_.next_layer();
    } else {
      return stream_;
    }
  }

  // ---- timer ----
  void arm(milliseconds d, bool close_on_expiry) {
    timed_out_ = false;
    uint64_t gen = ++timer_gen_;
    timer_.expires_after(d);
    timer_.async_wait([self = this->shared_from_this(), gen, close_on_expiry](error_code ec) {
      if (ec || gen != self->timer_gen_) return;
      self->timed_out_ = true;
      error_code ignored;
      if (close_on_expiry) {
        self->socket().close(ignored);
      } else {
        self->socket().cancel(ignored);
      }
    });
  }
  void disarm() {
    ++timer_gen_;
    timer_.cancel();
  }

  // ---- reading a request ----
  void after_handshake() {
    if (reject_) return send_error(503, "unavailable", "too many open connections", true);
    wait_request();
  }

  void reset_request() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(std::min<uint64_t>(srv_.opt.max_header_bytes, UINT32_MAX)));
    // Decided per route once the head is in. (Not boost::none: Beast 1.74
    // compares a Content-Length against the optional, and none is less
    // than any length.)
    parser_->body_limit(UINT64_MAX);
    req_ = HttpRequest{};
    req_.remote = remote_;
    route_name_ = "unmatched";
    handler_ = nullptr;
    status_ = 0;
    bytes_sent_ = 0;
    close_after_ = false;
    started_ = Clock::now();
  }

  void wait_request() {
    reset_request();
    if (buf_.size() > 0) {  // a pipelined request is already here
      arm(srv_.opt.header_timeout, false);
      header_armed_ = true;
      return read_header();
    }
    // The first request must come within header_timeout; later ones have
    // idle_timeout to start, then header_timeout to complete the head.
    header_armed_ = first_request_;
    arm(first_request_ ? srv_.opt.header_timeout : srv_.opt.idle_timeout, false);
    if (!watch_pending_) read_some();
  }

  void read_some() {
    watch_pending_ = true;
    stream_.async_read_some(buf_.prepare(kReadChunk), [self = this->shared_from_this()](error_code ec, size_t n) {
      self->on_bytes(ec, n);
    });
  }

  // Bytes while idle (the next request starts), while streaming (only
  // watching for the client to leave) or while lingering (discarded).
  void on_bytes(error_code ec, size_t n) {
    watch_pending_ = false;
    if (!ec) buf_.commit(n);
    if (lingering_) {
      if (ec || closed_) return close_now();
      buf_.consume(buf_.size());
      return read_some();
    }
    if (st_) {
      if (ec) {
        st_->mark_gone();
        close_now();
      }
      return;  // a next request's bytes wait in buf_
    }
    if (closed_) return;
    if (ec) return close_now();  // idle timeout, or the client left
    started_ = Clock::now();
    if (!header_armed_) {
      arm(srv_.opt.header_timeout, false);
      header_armed_ = true;
    }
    read_header();
  }

  void read_header() {
    http::async_read_header(stream_, buf_, *parser_, [self = this->shared_from_this()](error_code ec, size_t) {
      self->on_header(ec);
    });
  }

  void on_header(error_code ec) {
    if (closed_) return;
    bool timed_out = timed_out_;
    disarm();
    if (ec) {
      if (timed_out) return send_error(408, "request_timeout", "the request head did not arrive in time", true);
      if (ec == http::error::header_limit) {
        std::string limit = std::to_string(srv_.opt.max_header_bytes);
        if (parser_->get().target().empty()) {
          return send_error(414, "uri_too_long", "the request line exceeds " + limit + " bytes", true);
        }
        return send_error(431, "header_too_large", "the request head exceeds " + limit + " bytes", true);
      }
      if (is_parse_error(ec)) return send_error(400, "bad_request", "malformed request: " + ec.message(), true);
      return close_now();  // the client left or the connection failed
    }
    on_head();
  }

  void on_head() {
    auto& msg = parser_->get();
    req_.method = std::string(msg.method_string());
    req_.target = std::string(msg.target());
    size_t q = req_.target.find('?');
    req_.path = req_.target.substr(0, q);
    if (q != std::string::npos) req_.query = req_.target.substr(q + 1);
    for (const auto& field : msg) {
      std::string name(field.name_string());
      for (char& c : name) c = lower(c);
      auto [it, inserted] = req_.headers.emplace(name, std::string(field.value()));
      if (!inserted) it->second += ", " + std::string(field.value());
    }
    keep_alive_ = msg.keep_alive();
    http10_ = msg.version() < 11;
    // A request turned away before its body was read cannot keep the
    // connection: the unread body would be taken for the next request.
    bool has_body = parser_->chunked() || parser_->content_length().value_or(0) > 0;

    Router::Match m = srv_.router.match(req_.method, req_.path);
    if (!m.pattern.empty()) route_name_ = (m.options && !m.options->name.empty()) ? m.options->name : m.pattern;
    if (!srv_.tokens.empty() && !(m.options && m.options->open) && !srv_.authorized(req_)) {
      HttpResponse r = HttpResponse::error(401, "unauthorized", "a valid bearer token is required");
      r.headers.emplace_back("WWW-Authenticate", "Bearer");
      return send(std::move(r), has_body);
    }
    if (m.handler == nullptr) {
      if (m.status == 405) {
        HttpResponse r = HttpResponse::error(405, "method_not_allowed", req_.method + " is not allowed on " + req_.path);
        r.headers.emplace_back("Allow", m.allow);
        return send(std::move(r), has_body);
      }
      return send(HttpResponse::error(404, "not_found", "no route for " + req_.path), has_body);
    }
    handler_ = m.handler;
    uint64_t limit = m.options->max_body_bytes ? m.options->max_body_bytes : srv_.opt.max_body_bytes;
    auto length = parser_->content_length();
    if (length && *length > limit) {
      return send_error(413, "payload_too_large", "the body exceeds " + std::to_string(limit) + " bytes", true);
    }
    if (!has_body) return dispatch();
    parser_->body_limit(limit);  // also bounds a chunked body
    arm(srv_.opt.body_timeout, false);
    auto expect = req_.header("expect");
    if (expect && iequals(*expect, "100-continue") && !http10_) {
      out_ = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(stream_, asio::buffer(out_), [self = this->shared_from_this()](error_code ec, size_t) {
        if (ec) return self->close_now();
        self->read_body();
      });
      return;
    }
    read_body();
  }

  void read_body() {
    http::async_read(stream_, buf_, *parser_, [self = this->shared_from_this()](error_code ec, size_t) {
      self->on_body(ec);
    });
  }

  void on_body(error_code ec) {
    if (closed_) return;
    bool timed_out = timed_out_;
    disarm();
    if (ec) {
      if (timed_out) return send_error(408, "request_timeout", "the request body did not arrive in time", true);
      if (ec == http::error::body_limit) return send_error(413, "payload_too_large", "the body is too large", true);
      if (is_parse_error(ec)) return send_error(400, "bad_request", "malformed body: " + ec.message(), true);
      return close_now();
    }
    req_.body = std::move(parser_->get().body());
    dispatch();
  }

  // ---- handling ----
  void dispatch() {
    inflight_ = true;
    srv_.begin_inflight();
    // The worker reads req_ while this session waits: the I/O thread does
    // not touch req_ until on_response.
    bool queued = srv_.pool.submit(
        [self = this->shared_from_this(), h = handler_]() mutable {
          HttpResponse res;
          if (self->srv_.stopping) {
            res = HttpResponse::error(503, "unavailable", "the server is stopping");
          } else {
            try {
              res = (*h)(self->req_);
            } catch (const std::exception& e) {
              res = HttpResponse::error(500, "internal", std::string("handler failed: ") + e.what());
            } catch (...) {
              res = HttpResponse::error(500, "internal", "handler failed");
            }
          }
          asio::io_context& ioc = *self->srv_.ioc;
          asio::post(ioc, [self = std::move(self), res = std::move(res)]() mutable {
            self->on_response(std::move(res));
          });
        },
        static_cast<size_t>(std::max(0, srv_.opt.max_queued)));
    if (!queued) {
      end_inflight();
      HttpResponse r = HttpResponse::error(429, "too_many_requests", "all workers are busy; retry later");
      r.headers.emplace_back("Retry-After", "1");
      send(std::move(r), false);
    }
  }

  void on_response(HttpResponse res) {
    if (closed_) return end_inflight();
    if (res.status < 100 || res.status > 999) {
      res = HttpResponse::error(500, "internal", "handler returned status " + std::to_string(res.status));
    }
    if (res.stream && req_.method != "HEAD") return start_stream(std::move(res));
    send(std::move(res), false);
  }

  // ---- writing ----
  std::string_view connection_header() const {
    if (close_after_) return "close";
    return http10_ ? "keep-alive" : "";
  }

  void send_error(int status, std::string_view code, std::string_view message, bool close) {
    send(HttpResponse::error(status, code, message), close);
  }

  void send(HttpResponse res, bool close) {
    if (closed_) return end_inflight();
    status_ = res.status;
    close_after_ = close || !keep_alive_ || reject_ || srv_.draining;
    bool with_body = !res.stream && req_.method != "HEAD";
    out_ = format_head(res, connection_header(), res.stream ? std::nullopt : std::optional<size_t>(res.body.size()));
    if (with_body && res.status >= 200 && res.status != 204 && res.status != 304) out_ += res.body;
    arm(srv_.opt.write_timeout, true);
    asio::async_write(stream_, asio::buffer(out_), [self = this->shared_from_this()](error_code ec, size_t n) {
      self->disarm();
      self->bytes_sent_ += n;
      self->finish_request();
      if (ec || self->closed_) return self->close_now();
      if (self->close_after_) return self->graceful_close();
      self->first_request_ = false;
      self->wait_request();
    });
  }

  void start_stream(HttpResponse res) {
    if (*srv_.open_streams >= srv_.opt.max_streams || srv_.stopping) {
      return send(HttpResponse::error(503, "too_many_streams", "too many open streams; retry later"), false);
    }
    status_ = res.status;
    close_after_ = !keep_alive_ || srv_.draining;
    auto st = std::make_shared<StreamState>(srv_);
    st->session = this->weak_from_this();
    st->head = format_head(res, connection_header(), std::nullopt);
    if (!srv_.spawn_stream(st, std::move(res.stream))) {
      return send(HttpResponse::error(503, "too_many_streams", "cannot start a stream thread"), false);
    }
    st_ = std::move(st);
    ++*srv_.open_streams;
    stream_counted_ = true;
    hold_ = this->shared_from_this();
    // Notice a client that leaves while the stream is quiet. (With bytes
    // of a next request already buffered a read would race the parser
    // later, so those clients are only noticed by a failed write.)
    if (!watch_pending_ && buf_.size() == 0) read_some();
  }

  void finish_stream() {
    auto self = std::move(hold_);  // may be the last reference
    if (!st_) return;
    bool gone = st_->gone;
    st_.reset();
    if (stream_counted_) {
      --*srv_.open_streams;
      stream_counted_ = false;
    }
    finish_request();
    if (gone || closed_) return close_now();
    if (close_after_) return graceful_close();
    first_request_ = false;
    if (watch_pending_) {  // the watching read becomes the idle wait
      reset_request();
      header_armed_ = false;
      arm(srv_.opt.idle_timeout, false);
      return;
    }
    wait_request();
  }

  // After each response: metrics, the access log, drain accounting.
  void finish_request() {
    if (reject_) return;
    auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started_);
    if (srv_.metrics) {
      srv_.metrics
          ->counter("isle_http_requests_total", "HTTP requests answered, by route, method and status code.",
                    {{"route", route_name_}, {"method", method_label(req_.method)}, {"code", std::to_string(status_)}})
          .inc();
      srv_.metrics
          ->histogram("isle_http_request_duration_seconds", "Time from a request's first byte to its last response byte.",
                      {{"route", route_name_}})
          .observe(static_cast<double>(elapsed.count()) / 1e6);
    }
    if (srv_.opt.on_request) {
      try {
        srv_.opt.on_request(req_, status_, bytes_sent_, elapsed);
      } catch (...) {
      }
    }
    end_inflight();
  }

  void end_inflight() {
    if (!inflight_) return;
    inflight_ = false;
    srv_.end_inflight();
  }

  // ---- closing ----
  // After a final response: stop sending, then read and discard what the
  // client still sends for a while, so it reads our response rather than
  // a reset caused by unread input.
  void graceful_close() {
    if (closed_) return;
    if constexpr (kTls) {
      if (watch_pending_) return close_now();
      arm(kLinger, true);
      stream_.async_shutdown([self = this->shared_from_this()](error_code) { self->close_now(); });
    } else {
      error_code ec;
      socket().shutdown(tcp::socket::shutdown_send, ec);
      if (ec) return close_now();
      lingering_ = true;
      arm(kLinger, true);
      if (!watch_pending_) {
        buf_.consume(buf_.size());
        read_some();
      }
    }
  }

  void close_now() {
    if (closed_) return;
    closed_ = true;
    disarm();
    error_code ec;
    socket().close(ec);
    if (st_) st_->mark_gone();
  }

  Impl& srv_;
  Stream stream_;
  asio::steady_timer timer_;
  uint64_t timer_gen_ = 0;
  bool timed_out_ = false;
  const bool reject_;
  std::string remote_;

  beast::flat_buffer buf_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpRequest req_;
  const Handler* handler_ = nullptr;
  std::string route_name_;
  Clock::time_point started_;
  int status_ = 0;
  uint64_t bytes_sent_ = 0;
  std::string out_;  // the bytes being written

  bool first_request_ = true;
  bool header_armed_ = false;
  bool keep_alive_ = false;
  bool http10_ = false;
  bool close_after_ = false;
  bool inflight_ = false;
  bool watch_pending_ = false;  // an async_read_some is outstanding
  bool lingering_ = false;
  bool closed_ = false;

  std::shared_ptr<StreamState> st_;  // the open stream, if any
  std::shared_ptr<Session> hold_;    // self while streaming (see top)
  bool writing_ = false;             // a stream write is in flight
  bool stream_counted_ = false;
};

}  // namespace

// ---- Impl ---------------------------------------------------------------------

Status Impl::open() {
  if (opt.workers < 1) return Status::InvalidArgument("http: workers must be at least 1");
  if (opt.max_connections < 1) return Status::InvalidArgument("http: max_connections must be at least 1");
  if (opt.tls_cert_file.empty() != opt.tls_key_file.empty()) {
    return Status::InvalidArgument("http: TLS needs both tls_cert_file and tls_key_file");
  }
  for (const auto& t : opt.auth_tokens) {
    if (t.empty()) return Status::InvalidArgument("http: an auth token is empty");
    tokens.push_back(sha256(t));
  }

  size_t colon = opt.listen.rfind(':');
  if (colon == std::string::npos) return Status::InvalidArgument("http: listen must be host:port: " + opt.listen);
  std::string host = opt.listen.substr(0, colon);
  std::string port_str = opt.listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";

  if (!opt.tls_cert_file.empty()) {
    try {
      tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
      tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1);
      tls->use_certificate_chain_file(opt.tls_cert_file);
      tls->use_private_key_file(opt.tls_key_file, asio::ssl::context::pem);
    } catch (const std::exception& e) {
      return Status::InvalidArgument("http: TLS cert/key (" + opt.tls_cert_file + ", " + opt.tls_key_file +
                                     "): " + e.what());
    }
  }

  error_code ec;
  tcp::resolver resolver(*ioc);
  auto results = resolver.resolve(host, port_str, tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    return Status::InvalidArgument("http: cannot resolve listen address " + opt.listen + ": " + ec.message());
  }
  tcp::endpoint ep = results.begin()->endpoint();
  acceptor = std::make_unique<tcp::acceptor>(*ioc);
  accept_retry = std::make_unique<asio::steady_timer>(*ioc);
  acceptor->open(ep.protocol(), ec);
  if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor->bind(ep, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::IOError("http: cannot listen on " + opt.listen + ": " + ec.message());
  auto local = acceptor->local_endpoint(ec);
  if (ec) return Status::IOError("http: " + ec.message());
  port = local.port();
  address = endpoint_string(local);

  if (metrics) {
    rejected = &metrics->counter("isle_http_rejected_connections_total",
                                 "HTTP connections refused with 503 because max_connections were open.");
    metrics->callback("isle_http_open_connections", "Open HTTP connections.", "gauge", {},
                      [c = open_connections] { return static_cast<double>(c->load()); });
    metrics->callback("isle_http_open_streams", "Streamed HTTP responses in progress.", "gauge", {},
                      [c = open_streams] { return static_cast<double>(c->load()); });
  }

  pool.start(opt.workers);
  guard.emplace(ioc->get_executor());
  accept();
  io_thread = std::thread([this] {
    for (;;) {
      try {
        ioc->run();
        return;
      } catch (...) {
        // A handler threw; the session it belonged to is gone. Keep serving.
      }
    }
  });
  return Status::OK();
}

void Impl::accept() {
  acceptor->async_accept([this](error_code ec, tcp::socket sock) { on_accept(ec, std::move(sock)); });
}

void Impl::on_accept(error_code ec, tcp::socket sock) {
  if (!acceptor->is_open()) return;
  if (ec) {
    // Out of descriptors and the like: back off instead of spinning.
    accept_retry->expires_after(milliseconds(50));
    accept_retry->async_wait([this](error_code e) {
      if (!e && acceptor->is_open()) accept();
    });
    return;
  }
  error_code ignored;
  sock.set_option(tcp::no_delay(true), ignored);
  bool reject = *open_connections >= opt.max_connections || stopping;
  if (reject && rejected) rejected->inc();
  try {
    if (tls) {
      std::make_shared<Session<true>>(*this, std::move(sock), reject)->start();
    } else {
      std::make_shared<Session<false>>(*this, std::move(sock), reject)->start();
    }
  } catch (const std::exception&) {
    // Out of memory or SSL_new failed: drop this connection, keep accepting.
  }
  accept();
}

bool Impl::authorized(const HttpRequest& req) const {
  auto h = req.header("authorization");
  if (!h) return false;
  std::string_view v = *h;
  if (v.size() < 7 || !iequals(v.substr(0, 7), "bearer ")) return false;
  v.remove_prefix(7);
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  // Equal-length digests compared in constant time, against every token.
  Digest d = sha256(v);
  int ok = 0;
  for (const Digest& t : tokens) ok |= CRYPTO_memcmp(t.data(), d.data(), d.size()) == 0;
  return ok != 0;
}

void Impl::wake_streams() {
  std::lock_guard lk(streams_mu);
  for (StreamState* st : live_streams) {
    std::lock_guard l(st->mu);
    st->cv.notify_all();
  }
}

bool Impl::spawn_stream(std::shared_ptr<StreamState> st, std::function<void(StreamWriter&)> producer) {
  std::lock_guard lk(streams_mu);
  // Join the stream threads that ended.
  for (auto id : finished_streams) {
    for (auto it = stream_threads.begin(); it != stream_threads.end(); ++it) {
      if (it->get_id() == id) {
        it->join();
        stream_threads.erase(it);
        break;
      }
    }
  }
  finished_streams.clear();
  try {
    stream_threads.emplace_back([this, st, producer = std::move(producer)]() mutable {
      {
        std::lock_guard l(streams_mu);
        live_streams.insert(st.get());
      }
      StreamWriterImpl writer(st);
      bool failed = false;
      try {
        producer(writer);
      } catch (...) {
        failed = true;
      }
      producer = nullptr;
      writer.finish(failed);
      std::lock_guard l(streams_mu);
      live_streams.erase(st.get());
      finished_streams.push_back(std::this_thread::get_id());
    });
  } catch (const std::system_error&) {
    return false;
  }
  return true;
}

void Impl::run_on_io(const std::function<void()>& f) {
  if (!io_thread.joinable() || ioc->get_executor().running_in_this_thread()) {
    f();
    return;
  }
  std::promise<void> done;
  auto fut = done.get_future();
  asio::post(*ioc, [&] {
    f();
    done.set_value();
  });
  fut.wait();
}

void Impl::stop_accepting() {
  run_on_io([this] {
    error_code ec;
    if (acceptor) acceptor->close(ec);
    if (accept_retry) accept_retry->cancel();
  });
}

bool Impl::drain(milliseconds timeout) {
  draining = true;
  wake_streams();
  std::unique_lock lk(mu);
  return idle_cv.wait_for(lk, timeout, [this] { return inflight == 0; });
}

void Impl::stop() {
  std::lock_guard stop_lk(stop_mu);
  if (stopped) return;
  stopped = true;
  draining = true;
  stopping = true;
  wake_streams();
  if (io_thread.joinable()) {
    run_on_io([this] {
      error_code ec;
      if (acceptor) acceptor->close(ec);
      if (accept_retry) accept_retry->cancel();
      std::vector<SessionBase*> all(sessions.begin(), sessions.end());
      for (SessionBase* s : all) s->force_close();
    });
  }
  std::list<std::thread> threads;
  {
    std::lock_guard lk(streams_mu);
    threads.swap(stream_threads);
    finished_streams.clear();
  }
  for (auto& t : threads) t.join();
  pool.stop();
  guard.reset();
  ioc->stop();
  if (io_thread.joinable()) io_thread.join();
  // Every socket is closed: the handlers still queued only fail and let
  // go of their sessions. Run them here so no session outlives stop().
  ioc->restart();
  try {
    ioc->poll();
  } catch (...) {
  }
}

// ---- HttpServer ---------------------------------------------------------------

Result<std::unique_ptr<HttpServer>> HttpServer::start(HttpServerOptions options, Router router, Metrics* metrics) {
  auto impl = std::make_unique<Impl>(std::move(options), std::move(router), metrics);
  Status st = impl->open();
  if (!st.ok()) return st;
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() { stop(); }

std::string HttpServer::address() const { return impl_->address; }
uint16_t HttpServer::port() const { return impl_->port; }
void HttpServer::stop_accepting() { impl_->stop_accepting(); }
bool HttpServer::drain(std::chrono::milliseconds timeout) { return impl_->drain(timeout); }
void HttpServer::stop() { impl_->stop(); }

}  // namespace isle::server
