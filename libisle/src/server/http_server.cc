// HttpServer's listener side and life cycle (see http_server.h for the
// contract, http_server_impl.h for the threads, http_session.cc for a
// connection).
//
// Accepting: io[0] runs the acceptor; each accepted socket is created on
// the next I/O thread's io_context (round-robin) and its Session lives
// there. Refusals (too many connections, too many unauthenticated ones)
// are still answered: the session writes a 503 and closes.
//
// Shutdown order (stop()): flag stopping (producers see closed sinks) ->
// on each I/O thread close the listener and every connection (streams get
// on_close) -> join the stream workers and the handler workers (queued
// tasks fail fast) -> stop and join the I/O threads -> run what is still
// queued on the stopping thread (closed sockets: everything fails fast and
// releases its session). Anything left is destroyed with the io_contexts
// in ~Impl, while no other thread runs.
#include <utility>  // first: Boost 1.74's Asio needs it with GCC 12

#include "server/http_server_impl.h"

#include <openssl/ssl.h>

#include <future>

#include <boost/asio/post.hpp>

#include "server/metrics.h"

namespace isle::server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using std::chrono::milliseconds;

namespace {

std::string endpoint_string(const tcp::endpoint& ep) {
  auto addr = ep.address();
  std::string host = addr.to_string();
  if (addr.is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(ep.port());
}

}  // namespace

HttpServer::Impl::Impl(HttpServerOptions o, Router r, Metrics* m)
    : opt(std::move(o)), router(std::move(r)), metrics(m) {}

HttpServer::Impl::~Impl() {
  stop();
  // Destroying an io_context destroys the handlers still queued, which
  // releases the last sessions; they touch the members below, so the
  // io_contexts go first.
  accept_retry.reset();
  acceptor.reset();
  for (auto& t : io) t->sweeper.reset();
  io.clear();
}

void HttpServer::Impl::begin_inflight() {
  std::lock_guard lk(mu);
  ++inflight;
}

void HttpServer::Impl::end_inflight() {
  std::lock_guard lk(mu);
  if (--inflight == 0) idle_cv.notify_all();
}

Status HttpServer::Impl::open() {
  if (opt.workers < 1) return Status::InvalidArgument("http: workers must be at least 1");
  if (opt.stream_workers < 1) return Status::InvalidArgument("http: stream_workers must be at least 1");
  if (opt.io_threads < 1) return Status::InvalidArgument("http: io_threads must be at least 1");
  if (opt.max_connections < 1) return Status::InvalidArgument("http: max_connections must be at least 1");
  if (opt.max_stream_buffer_bytes < 4096) {
    return Status::InvalidArgument("http: max_stream_buffer_bytes must be at least 4KiB");
  }
  if (opt.tls_cert_file.empty() != opt.tls_key_file.empty()) {
    return Status::InvalidArgument("http: TLS needs both tls_cert_file and tls_key_file");
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
      // An idle TLS connection (a quiet tail) gives its record buffers
      // back instead of holding ~34 KiB each.
      SSL_CTX_set_mode(tls->native_handle(), SSL_MODE_RELEASE_BUFFERS);
    } catch (const std::exception& e) {
      return Status::InvalidArgument("http: TLS cert/key (" + opt.tls_cert_file + ", " + opt.tls_key_file +
                                     "): " + e.what());
    }
  }

  for (int i = 0; i < opt.io_threads; ++i) io.push_back(std::make_unique<IoThread>());
  asio::io_context& ioc0 = io[0]->ioc;
  error_code ec;
  tcp::resolver resolver(ioc0);
  auto results = resolver.resolve(host, port_str, tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    return Status::InvalidArgument("http: cannot resolve listen address " + opt.listen + ": " + ec.message());
  }
  tcp::endpoint ep = results.begin()->endpoint();
  acceptor = std::make_unique<tcp::acceptor>(ioc0);
  accept_retry = std::make_unique<asio::steady_timer>(ioc0);
  acceptor->open(ep.protocol(), ec);
  if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor->bind(ep, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::IOError("http: cannot listen on " + opt.listen + ": " + ec.message());
  auto local = acceptor->local_endpoint(ec);
  if (ec) return Status::IOError("http: " + ec.message());
  port = local.port();
  address = endpoint_string(local);

  AccessOptions ao = opt.access;
  ao.loopback_listener = local.address().is_loopback();
  access = std::make_unique<AccessPolicy>(std::move(ao));

  if (metrics) {
    rejected = &metrics->counter("isle_http_rejected_connections_total",
                                 "HTTP connections refused with 503 (max_connections or max_unauthenticated).");
    metrics->callback("isle_http_open_connections", "Open HTTP connections.", "gauge", {},
                      [c = open_connections] { return static_cast<double>(c->load()); });
    metrics->callback("isle_http_open_streams", "Streamed HTTP responses in progress.", "gauge", {},
                      [c = open_streams] { return static_cast<double>(c->load()); });
    metrics->callback("isle_http_unauthenticated_connections",
                      "Open connections that have not shown a valid token yet.", "gauge", {},
                      [c = unauthenticated] { return static_cast<double>(c->load()); });
  }

  pool.start(opt.workers);
  stream_pool.start(opt.stream_workers);
  accept();
  for (auto& t : io) {
    IoThread* tp = t.get();
    tp->sweeper = std::make_unique<asio::steady_timer>(tp->ioc);
    start_sweeper(*tp);
    tp->guard.emplace(tp->ioc.get_executor());
    tp->thread = std::thread([tp] {
      for (;;) {
        try {
          tp->ioc.run();
          return;
        } catch (...) {
          // A handler threw; the session it belonged to is gone. Keep serving.
        }
      }
    });
  }
  return Status::OK();
}

void HttpServer::Impl::accept() {
  IoThread& owner = *io[next_io++ % io.size()];
  acceptor->async_accept(owner.ioc, [this, &owner](error_code ec, tcp::socket sock) {
    on_accept(ec, std::move(sock), owner);
  });
}

void HttpServer::Impl::on_accept(error_code ec, tcp::socket sock, IoThread& owner) {
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
  const char* why = nullptr;
  if (*open_connections >= opt.max_connections || stopping) {
    why = "too many open connections";
  } else if (access->tokens_enabled() && *unauthenticated >= opt.max_unauthenticated) {
    why = "too many connections without a valid token";
  }
  if (why && rejected) rejected->inc();
  // The session is created on its own thread (its counters and set are
  // that thread's).
  auto s = std::make_shared<tcp::socket>(std::move(sock));
  asio::post(owner.ioc, [this, &owner, s, why] {
    if (stopped_accepting_all()) return;  // stop() is running: drop it
    try {
      start_session(*this, owner, std::move(*s), why != nullptr, why);
    } catch (const std::exception&) {
      // Out of memory or SSL_new failed: drop this connection.
    }
  });
  accept();
}

bool HttpServer::Impl::stopped_accepting_all() const { return stopping.load(); }

void IoThread::schedule(std::weak_ptr<SessionBase> s) {
  bool first = false;
  {
    std::lock_guard lk(ready_mu_);
    first = ready_.empty();
    ready_.push_back(std::move(s));
  }
  if (first) asio::post(ioc, [this] { run_ready(); });
}

void IoThread::run_ready() {
  std::vector<std::weak_ptr<SessionBase>> batch;
  {
    std::lock_guard lk(ready_mu_);
    batch.swap(ready_);
  }
  for (auto& w : batch) {
    if (auto s = w.lock()) s->pump_stream();
  }
}

void HttpServer::Impl::start_sweeper(IoThread& t) {
  t.sweeper->expires_after(std::chrono::seconds(1));
  t.sweeper->async_wait([this, &t](error_code ec) {
    if (ec || stopping) return;
    const auto now = std::chrono::steady_clock::now();
    std::vector<SessionBase*> all(t.sessions.begin(), t.sessions.end());
    for (SessionBase* s : all) s->sweep(now);
    start_sweeper(t);
  });
}

void HttpServer::Impl::run_on(IoThread& t, const std::function<void()>& f) {
  if (!t.thread.joinable() || t.ioc.get_executor().running_in_this_thread() || t.ioc.stopped()) {
    f();
    return;
  }
  std::promise<void> done;
  auto fut = done.get_future();
  asio::post(t.ioc, [&] {
    f();
    done.set_value();
  });
  fut.wait();
}

void HttpServer::Impl::stop_accepting() {
  if (io.empty()) return;
  run_on(*io[0], [this] {
    error_code ec;
    if (acceptor) acceptor->close(ec);
    if (accept_retry) accept_retry->cancel();
  });
}

bool HttpServer::Impl::drain(milliseconds timeout) {
  draining = true;
  for (auto& t : io) {
    IoThread* tp = t.get();
    run_on(*tp, [tp] {
      std::vector<SessionBase*> all(tp->sessions.begin(), tp->sessions.end());
      for (SessionBase* s : all) s->drain();
    });
  }
  std::unique_lock lk(mu);
  return idle_cv.wait_for(lk, timeout, [this] { return inflight == 0; });
}

void HttpServer::Impl::stop() {
  std::lock_guard stop_lk(stop_mu);
  if (stopped) return;
  stopped = true;
  draining = true;
  stopping = true;
  if (!io.empty()) {
    run_on(*io[0], [this] {
      error_code ec;
      if (acceptor) acceptor->close(ec);
      if (accept_retry) accept_retry->cancel();
    });
    for (auto& t : io) {
      IoThread* tp = t.get();
      run_on(*tp, [tp] {
        if (tp->sweeper) tp->sweeper->cancel();
        std::vector<SessionBase*> all(tp->sessions.begin(), tp->sessions.end());
        for (SessionBase* s : all) s->force_close();
      });
    }
  }
  stream_pool.stop();
  pool.stop();
  for (auto& t : io) {
    t->guard.reset();
    t->ioc.stop();
    if (t->thread.joinable()) t->thread.join();
  }
  // Every socket is closed: the handlers still queued only fail and let
  // go of their sessions. Run them here so no session outlives stop().
  for (auto& t : io) {
    t->ioc.restart();
    try {
      t->ioc.poll();
    } catch (...) {
    }
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
void HttpServer::replace_tokens(TokenSet tokens) { impl_->access->replace_tokens(std::move(tokens)); }
void HttpServer::stop_accepting() { impl_->stop_accepting(); }
bool HttpServer::drain(std::chrono::milliseconds timeout) { return impl_->drain(timeout); }
void HttpServer::stop() { impl_->stop(); }

}  // namespace isle::server
