// One HTTP connection: Session<kTls>, a small object on its I/O thread's
// io_context, owned by the shared_ptrs its pending operations hold (the
// shape of Beast's async server examples). It serves one request at a
// time:
//   [TLS handshake] -> wait_request -> read head -> (route, access,
//   body policy) -> read body -> dispatch to a worker -> on_response ->
//   write, or open a stream -> wait_request ...
// so responses go out in request order and pipelined requests wait in the
// read buffer. Every timeout is the session's own timer: a read timeout
// cancels the read (then 408, or a silent close when the client sent
// nothing), a write timeout closes the socket.
//
// Memory per connection is bounded: the read buffer is capped (a head:
// max_header_bytes + 16 KiB; chunk lines and trailers: 8 KiB), a body by
// its route's limit, a stream's queue by max_stream_buffer_bytes. Between
// requests the parser is released and buffers over 4 KiB are freed, so an
// idle keep-alive connection or an idle stream holds a few KiB.
//
// Streams (StreamState, http_stream.h, is where other threads meet this
// one):
//   producer (any thread)         this I/O thread
//   sink.write(): queue, post a
//     pump unless one is owed
//                                 pump: take the queue, async_write it;
//                                 after the write: take more; when the
//                                 queue is at most limit/4 and the
//                                 producer asked, start on_writable on
//                                 a stream worker
//   sink.end(): queue the final
//     chunk, post a pump
//                                 queue empty and ended: finish_stream
//                                 (on_close, then keep-alive or close)
// While the stream runs, one small read stays pending to notice a client
// that leaves while the producer is quiet. Between two writes nothing may
// be pending on the socket, so the session holds a shared_ptr to itself
// (hold_) from the stream's start to its finish (or force_close). Other
// threads reach it only through a weak_ptr locked on this thread, so a
// Session is never destroyed off its I/O thread.
#include <utility>  // first: Boost 1.74's Asio needs it with GCC 12

#include "server/http_server_impl.h"

#include <openssl/ssl.h>

#include <type_traits>

#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>

#include "server/http_stream.h"
#include "util/ascii.h"
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
using Impl = HttpServer::Impl;

// How long a closing connection's leftover input is read and discarded, so
// the client sees our error response instead of a reset.
constexpr milliseconds kLinger{2000};
constexpr size_t kReadChunk = 16 * 1024;
// While a stream runs, reads only watch for the client leaving.
constexpr size_t kWatchChunk = 512;
// Read-buffer room beyond the head limit (pipelined bytes), and for chunk
// lines and trailers while a body is read.
constexpr size_t kHeadSlack = 16 * 1024;
constexpr size_t kBodyLineLimit = 8 * 1024;
// Buffers above this are freed once idle.
constexpr size_t kKeepCapacity = 4 * 1024;


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
    if (!header_ok(name, value) || ascii_iequals(name, "content-length") ||
        ascii_iequals(name, "transfer-encoding") || ascii_iequals(name, "connection")) {
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

void release(std::string& s) {
  if (s.capacity() > kKeepCapacity) std::string().swap(s);
}

template <bool kTls>
class Session final : public SessionBase, public std::enable_shared_from_this<Session<kTls>> {
  using Stream = std::conditional_t<kTls, asio::ssl::stream<tcp::socket>, tcp::socket>;

 public:
  Session(Impl& srv, IoThread& io, tcp::socket sock, const char* reject)
      : srv_(srv), io_(io), stream_(make_stream(srv, std::move(sock))), timer_(io.ioc),
        reject_(reject), buf_(srv.opt.max_header_bytes + kHeadSlack) {
    error_code ec;
    auto ep = socket().remote_endpoint(ec);
    if (!ec) remote_ = endpoint_string(ep);
    io_.sessions.insert(this);
    if (!reject_) {
      ++*srv_.open_connections;
      if (srv_.access->tokens_enabled()) {
        ++*srv_.unauthenticated;
        unauth_counted_ = true;
      }
    }
  }

  ~Session() override {
    io_.sessions.erase(this);
    if (!reject_) --*srv_.open_connections;
    count_authenticated();
    close_stream();
    end_inflight();
  }

  void start() {
    if constexpr (kTls) {
      arm(srv_.opt.handshake_timeout, true);
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
    close_stream();
    hold_.reset();
  }

  void drain() override {
    if (st_) st_->end();
  }

  void pump_stream() override { pump(); }

  void sweep(Clock::time_point now) override {
    if (writing_ && !closed_ && now - write_started_ > srv_.opt.write_timeout) {
      error_code ignored;
      socket().close(ignored);  // the write fails and the stream ends
    }
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

  void count_authenticated() {
    if (!unauth_counted_) return;
    unauth_counted_ = false;
    --*srv_.unauthenticated;
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
    if (reject_) return send_error(503, "unavailable", reject_, true);
    wait_request();
  }

  void reset_request() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(std::min<uint64_t>(srv_.opt.max_header_bytes, UINT32_MAX)));
    // Decided per route once the head is in. (Not boost::none: Beast 1.74
    // compares a Content-Length against the optional, and none is less
    // than any length.)
    parser_->body_limit(UINT64_MAX);
    // Beast keeps a reference to the callback: it must outlive the parser.
    static auto check_extension = [](std::uint64_t, beast::string_view ext, error_code& ec) {
      if (ext.size() > kBodyLineLimit / 2) ec = http::error::bad_chunk_extension;
    };
    parser_->on_chunk_header(check_extension);
    buf_.max_size(std::max<size_t>(buf_.size(), srv_.opt.max_header_bytes + kHeadSlack));
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
    buf_.shrink_to_fit();  // idle: hold no read buffer
    // The first request must come within header_timeout; later ones have
    // idle_timeout to start, then header_timeout to complete the head.
    header_armed_ = first_request_;
    arm(first_request_ ? srv_.opt.header_timeout : srv_.opt.idle_timeout, false);
    if (!watch_pending_) read_some(kReadChunk);
  }

  void read_some(size_t want) {
    const size_t room = buf_.max_size() - buf_.size();
    if (room == 0) return;  // full: only a failed write notices the client now
    watch_pending_ = true;
    stream_.async_read_some(buf_.prepare(std::min(want, room)),
                            [self = this->shared_from_this()](error_code ec, size_t n) { self->on_bytes(ec, n); });
  }

  // Bytes while idle (the next request starts), while streaming (only
  // watching for the client to leave) or while lingering (discarded).
  void on_bytes(error_code ec, size_t n) {
    watch_pending_ = false;
    if (!ec) buf_.commit(n);
    if (lingering_) {
      if (ec || closed_) return close_now();
      buf_.consume(buf_.size());
      return read_some(kWatchChunk);
    }
    if (st_) {
      if (ec) {
        st_->mark_gone();
        close_now();
        return pump();
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
      if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
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
      for (char& c : name) c = ascii_lower(c);
      auto [it, inserted] = req_.headers.emplace(name, std::string(field.value()));
      if (!inserted) it->second += ", " + std::string(field.value());
    }
    keep_alive_ = msg.keep_alive();
    http10_ = msg.version() < 11;
    // A request turned away before its body was read cannot keep the
    // connection: the unread body would be taken for the next request.
    const bool has_body = parser_->chunked() || parser_->content_length().value_or(0) > 0;

    Router::Match m = srv_.router.match(req_.method, req_.path);
    if (!m.pattern.empty()) route_name_ = (m.options && !m.options->name.empty()) ? m.options->name : m.pattern;
    // Unknown paths need a token too: no route is discoverable without one.
    const Scope needed = m.options ? m.options->scope : Scope::kAnyToken;
    Decision d = srv_.access->check(request_view(req_), needed);
    if (d.authenticated) count_authenticated();
    if (!d.allowed()) {
      HttpResponse r = HttpResponse::error(d.status, d.code, d.message);
      if (d.status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer");
      return send(std::move(r), has_body || d.close);
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
    if (!m.options->takes_body) {
      if (has_body) {
        return send_error(413, "body_not_allowed", req_.method + " " + route_name_ + " takes no request body", true);
      }
      return dispatch();
    }
    uint64_t limit = m.options->max_body_bytes ? m.options->max_body_bytes : srv_.opt.max_body_bytes;
    auto length = parser_->content_length();
    if (length && *length > limit) {
      return send_error(413, "payload_too_large", "the body exceeds " + std::to_string(limit) + " bytes", true);
    }
    if (!has_body) return dispatch();
    parser_->body_limit(limit);  // also bounds a chunked body
    // Beyond the body, only chunk lines and trailers are buffered.
    buf_.max_size(std::max(buf_.size(), kBodyLineLimit));
    arm(srv_.opt.body_timeout, false);
    auto expect = req_.header("expect");
    if (expect && ascii_iequals(*expect, "100-continue") && !http10_) {
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
      if (ec == http::error::buffer_overflow || ec == http::error::bad_chunk_extension) {
        return send_error(400, "bad_request", "a chunk line or the trailer exceeds " + std::to_string(kBodyLineLimit) + " bytes", true);
      }
      if (is_parse_error(ec)) return send_error(400, "bad_request", "malformed body: " + ec.message(), true);
      return close_now();
    }
    req_.body = std::move(parser_->get().body());
    dispatch();
  }

  // ---- handling ----
  void dispatch() {
    parser_.reset();  // the head's fields are copied into req_
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
          asio::io_context& ioc = self->io_.ioc;
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
    // Only the access log needs the request from here on.
    req_.headers.clear();
    std::string().swap(req_.body);
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
      release(self->out_);
      self->finish_request();
      if (ec || self->closed_) return self->close_now();
      if (self->close_after_) return self->graceful_close();
      self->first_request_ = false;
      self->wait_request();
    });
  }

  // ---- streaming ----
  void start_stream(HttpResponse res) {
    if (*srv_.open_streams >= srv_.opt.max_streams || srv_.stopping) {
      return send(HttpResponse::error(503, "too_many_streams", "too many open streams; retry later"), false);
    }
    status_ = res.status;
    close_after_ = !keep_alive_ || srv_.draining;
    std::weak_ptr<SessionBase> weak = this->weak_from_this();
    IoThread& io = io_;
    auto st = std::make_shared<StreamState>(srv_.opt.max_stream_buffer_bytes,
                                            [weak, &io] { io.schedule(weak); });
    st_ = st;
    producer_ = std::move(res.stream);
    ++*srv_.open_streams;
    stream_counted_ = true;
    hold_ = this->shared_from_this();
    st_->queue_head(format_head(res, connection_header(), std::nullopt));
    try {
      producer_->on_open(st);
    } catch (...) {
      st_->mark_gone();
      close_now();
    }
    // Notice a client that leaves while the stream is quiet. (With bytes
    // of a next request already buffered a read would race the parser
    // later, so those clients are only noticed by a failed write.)
    if (!watch_pending_ && buf_.size() == 0 && !closed_) {
      buf_.shrink_to_fit();
      read_some(kWatchChunk);
    }
  }

  // Moves the stream's queue to the socket, one write at a time; starts
  // on_writable when owed; finishes the stream when it is over.
  void pump() {
    if (!st_ || writing_) return;
    if (closed_) st_->mark_gone();
    st_->take(&out_);
    if (!out_.empty()) {
      // No timer per write: the I/O thread's sweeper closes a write stuck
      // past write_timeout (timer operations per write cost more than the
      // write itself when thousands of streams get one event).
      writing_ = true;
      write_started_ = Clock::now();
      asio::async_write(stream_, asio::buffer(out_), [self = this->shared_from_this()](error_code ec, size_t n) {
        self->writing_ = false;
        self->bytes_sent_ += n;
        if (!self->st_) return;
        self->st_->wrote();
        release(self->out_);
        if (ec) {
          self->st_->mark_gone();
          self->close_now();
        }
        self->pump();
      });
      return;
    }
    release(out_);
    if (st_->start_writable()) start_writable();
    if (st_->gone() || st_->finished()) finish_stream();
  }

  void start_writable() {
    auto st = st_;
    auto producer = producer_;
    std::weak_ptr<Session> weak = this->weak_from_this();
    asio::io_context& ioc = io_.ioc;
    // At most one call per stream is ever queued: the pool's queue is
    // bounded by max_streams.
    bool queued = srv_.stream_pool.submit(
        [st, producer, weak, &ioc] {
          bool failed = false;
          try {
            producer->on_writable(*st);
          } catch (...) {
            failed = true;
          }
          if (failed) {
            st->mark_gone();
            asio::post(ioc, [weak] {
              if (auto s = weak.lock()) {
                s->close_now();
                s->pump();
              }
            });
          }
          st->writable_done();
        },
        static_cast<size_t>(srv_.opt.max_streams) + 16);
    if (!queued) {
      st_->mark_gone();
      close_now();
    }
  }

  void finish_stream() {
    auto self = std::move(hold_);  // may be the last reference
    if (!st_) return;
    bool gone = st_->gone();
    close_stream();
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

  // Tells the producer the stream is over (once) and lets go of it.
  void close_stream() {
    if (!st_) return;
    st_->mark_gone();
    auto producer = std::move(producer_);
    st_.reset();
    if (stream_counted_) {
      --*srv_.open_streams;
      stream_counted_ = false;
    }
    if (producer) {
      try {
        producer->on_close();
      } catch (...) {
      }
    }
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
        buf_.max_size(kReadChunk);
        read_some(kWatchChunk);
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
  IoThread& io_;
  Stream stream_;
  asio::steady_timer timer_;
  uint64_t timer_gen_ = 0;
  bool timed_out_ = false;
  const char* const reject_;  // non-null: answer 503 with this and close
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
  bool unauth_counted_ = false;  // counted in srv_.unauthenticated

  std::shared_ptr<StreamState> st_;            // the open stream, if any
  std::shared_ptr<StreamProducer> producer_;  // its producer
  std::shared_ptr<Session> hold_;             // self while streaming (see top)
  bool writing_ = false;                       // a stream write is in flight
  Clock::time_point write_started_;            // ... since then
  bool stream_counted_ = false;
};

}  // namespace

void start_session(HttpServer::Impl& srv, IoThread& owner, tcp::socket sock, bool reject,
                   const char* reject_reason) {
  const char* why = reject ? reject_reason : nullptr;
  if (srv.tls) {
    std::make_shared<Session<true>>(srv, owner, std::move(sock), why)->start();
  } else {
    std::make_shared<Session<false>>(srv, owner, std::move(sock), why)->start();
  }
}

}  // namespace isle::server
