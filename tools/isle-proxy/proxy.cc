// Proxy (proxy.h): the Asio side. A Session owns the client socket, the
// upstream socket and two Pipes (client->upstream with a request framer,
// upstream->client with a response framer). Each Pipe runs a strict
// sequence on the one io thread:
//   read some -> step the framer over the bytes -> [wait a delay] -> write
//   -> step again ... -> (buffer used up) read some
// so a pipe never has two operations in flight and backpressure is TCP's:
// nothing more is read from a side until what was read has been written.
// Requests forwarded and not yet answered wait in `pending_` (at most
// limits.max_pipelined; the request pipe pauses at a new head until a
// response frees a slot); responses are matched to them in order, which
// gives the response framer the method (HEAD has no body) and the response
// rules their method and path. Once either direction falls back to raw
// forwarding, both do (responses can no longer be matched).
//
// A Session lives while an operation holds its shared_ptr; close() cancels
// everything and every handler checks closed_ first.
#include <utility>  // first: Boost 1.74's Asio needs it with GCC 12

#include "proxy.h"

#include <spdlog/spdlog.h>

#include <deque>
#include <map>
#include <mutex>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "http_framer.h"

namespace isle::proxy {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

std::string ProxyStats::to_string() const {
  return "connections=" + std::to_string(connections) + " rejected=" + std::to_string(rejected) +
         " upstream_failures=" + std::to_string(upstream_failures) +
         " requests=" + std::to_string(requests) + " responses=" + std::to_string(responses) +
         " delayed=" + std::to_string(delayed) +
         " delay_ms_total=" + std::to_string(delay_us_total / 1000) +
         " parse_fallbacks=" + std::to_string(parse_fallbacks) +
         " malformed_closed=" + std::to_string(malformed_closed) +
         " oversized_closed=" + std::to_string(oversized_closed) +
         " bytes_up=" + std::to_string(bytes_up) + " bytes_down=" + std::to_string(bytes_down);
}

class Session;

struct Proxy::Impl {
  ProxyConfig config;
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::vector<tcp::endpoint> upstream;
  Random rnd;
  uint16_t port = 0;      // bound port, set by create()
  bool stopping = false;  // io thread only
  uint64_t next_id = 1;   // io thread only
  std::map<uint64_t, std::weak_ptr<Session>> sessions;  // io thread only

  mutable std::mutex mu;  // guards stats and samples (written on the io thread)
  ProxyStats stats;
  std::deque<DelaySample> samples;

  explicit Impl(ProxyConfig c) : config(std::move(c)), rnd(config.seed) {}

  template <typename F>
  void update(F&& f) {
    std::lock_guard lock(mu);
    f(stats);
  }

  // Draws the delay of `rule` for one message (zero without a rule or
  // when its probability says no) and records it.
  std::chrono::microseconds draw(const Rule* rule, uint64_t conn, Direction dir,
                                 const std::string& method) {
    if (rule == nullptr) return std::chrono::microseconds(0);
    if (rule->probability < 1.0 && !rnd.chance(rule->probability)) {
      return std::chrono::microseconds(0);
    }
    const auto d = rule->delay.sample(rnd);
    std::lock_guard lock(mu);
    if (d.count() > 0) {
      stats.delayed++;
      stats.delay_us_total += static_cast<uint64_t>(d.count());
    }
    if (samples.size() == kMaxSamples) samples.pop_front();
    samples.push_back(DelaySample{conn, dir, method, rule->name, d});
    return d;
  }

  void accept();
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Proxy::Impl& px, uint64_t id, tcp::socket client)
      : px_(px),
        id_(id),
        client_(std::move(client)),
        upstream_(px.io),
        connect_timer_(px.io),
        up_(Direction::kRequest, &client_, &upstream_, px.config.limits, px.io),
        down_(Direction::kResponse, &upstream_, &client_, px.config.limits, px.io) {}

  void start() {
    auto self = shared_from_this();
    connect_timer_.expires_after(px_.config.limits.connect_timeout);
    connect_timer_.async_wait([self](error_code ec) {
      if (!ec && !self->connected_ && !self->closed_) {
        spdlog::warn("conn {}: upstream connect timed out", self->id_);
        self->px_.update([](ProxyStats& s) { s.upstream_failures++; });
        self->close();
      }
    });
    asio::async_connect(upstream_, px_.upstream, [self](error_code ec, const tcp::endpoint&) {
      if (self->closed_) return;
      self->connect_timer_.cancel();
      if (ec) {
        spdlog::warn("conn {}: upstream connect failed: {}", self->id_, ec.message());
        self->px_.update([](ProxyStats& s) { s.upstream_failures++; });
        self->close();
        return;
      }
      self->connected_ = true;
      error_code ignored;
      self->upstream_.set_option(tcp::no_delay(true), ignored);
      self->client_.set_option(tcp::no_delay(true), ignored);
      self->read(self->up_);
      self->read(self->down_);
    });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    error_code ignored;
    connect_timer_.cancel();
    up_.timer.cancel();
    down_.timer.cancel();
    client_.close(ignored);
    upstream_.close(ignored);
    px_.sessions.erase(id_);
    spdlog::debug("conn {}: closed", id_);
  }

 private:
  struct Pipe {
    Pipe(Direction d, tcp::socket* f, tcp::socket* t, const Limits& l, asio::io_context& io)
        : dir(d),
          from(f),
          to(t),
          buf(new char[l.buffer_bytes]),
          cap(l.buffer_bytes),
          framer(d == Direction::kRequest ? HttpFramer::Kind::kRequest
                                          : HttpFramer::Kind::kResponse,
                 l.max_header_bytes),
          timer(io) {}
    Direction dir;
    tcp::socket* from;
    tcp::socket* to;
    std::unique_ptr<char[]> buf;
    size_t cap, len = 0, pos = 0;
    HttpFramer framer;
    asio::steady_timer timer;
    std::string out;      // owned bytes being written (a head, or a fallback's buffered bytes)
    bool done = false;    // `from` reached EOF
    bool paused = false;  // request pipe: a head waits for a pipelining slot
  };
  struct Pending {
    std::string method, target;
  };

  void read(Pipe& p) {
    auto self = shared_from_this();
    p.from->async_read_some(asio::buffer(p.buf.get(), p.cap), [self, &p](error_code ec, size_t n) {
      if (self->closed_) return;
      if (ec) {
        if (ec == asio::error::eof) return self->on_eof(p);
        spdlog::debug("conn {}: read: {}", self->id_, ec.message());
        return self->close();
      }
      p.len = n;
      p.pos = 0;
      self->pump(p);
    });
  }

  void on_eof(Pipe& p) {
    // An unfinished head still goes out: the proxy drops no byte.
    std::string rest = p.framer.to_raw("end of stream");
    if (!rest.empty()) {
      p.out = std::move(rest);
      auto self = shared_from_this();
      asio::async_write(*p.to, asio::buffer(p.out), [self, &p](error_code ec, size_t) {
        if (self->closed_) return;
        if (ec) return self->close();
        self->on_eof(p);
      });
      return;
    }
    p.done = true;
    error_code ignored;
    p.to->shutdown(tcp::socket::shutdown_send, ignored);
    // Upstream gone: a request waiting for a slot will never get one.
    if ((up_.done && down_.done) || (&p == &down_ && up_.paused)) close();
  }

  void pump(Pipe& p) {
    for (;;) {
      if (closed_) return;
      if (raw_ && !p.framer.raw()) {
        // The other direction fell back: forward what this one buffered.
        p.out = p.framer.to_raw("the other direction fell back");
        if (!p.out.empty()) return write_out(p);
      }
      if (p.pos == p.len) return read(p);
      const std::string_view data(p.buf.get() + p.pos, p.len - p.pos);
      if (&p == &down_) {
        down_.framer.set_request_method(pending_.empty() ? "" : pending_.front().method);
      }
      const auto st = p.framer.step(data);
      const size_t at = p.pos;
      p.pos += st.consumed;
      switch (st.event) {
        case HttpFramer::Event::kNeedMore:
          continue;
        case HttpFramer::Event::kBody:
          return write_span(p, at, st.consumed);
        case HttpFramer::Event::kHead:
          return on_head(p);
        case HttpFramer::Event::kHeadTooLarge:
          if (&p == &up_) {
            spdlog::warn("conn {}: request head over {} bytes; closing", id_,
                         px_.config.limits.max_header_bytes);
            px_.update([](ProxyStats& s) { s.oversized_closed++; });
            return close();
          }
          return fall_back(p, "response head over max_header_bytes");
        case HttpFramer::Event::kMalformed:
          if (&p == &up_ && px_.config.limits.on_parse_error == OnParseError::kClose) {
            spdlog::warn("conn {}: malformed request ({}); closing", id_,
                         p.framer.raw_reason());
            px_.update([](ProxyStats& s) { s.malformed_closed++; });
            return close();
          }
          return fall_back(p, p.framer.raw_reason());
      }
    }
  }

  // Both directions forward bytes as they are from now on.
  void fall_back(Pipe& p, const std::string& why) {
    mark_raw(std::string(p.dir == Direction::kRequest ? "request" : "response") + ": " + why);
    p.out = p.framer.to_raw(why);
    if (!p.out.empty()) return write_out(p);
    pump(p);
  }

  void mark_raw(const std::string& why) {
    if (raw_) return;
    raw_ = true;
    spdlog::info("conn {}: forwarding bytes unparsed from now on ({})", id_, why);
    px_.update([](ProxyStats& s) { s.parse_fallbacks++; });
    pending_.clear();
    if (up_.paused) {
      up_.paused = false;
      dispatch_request_head();
    }
  }

  void on_head(Pipe& p) {
    if (&p == &up_) {
      if (!raw_ && !p.framer.raw() && pending_.size() >= px_.config.limits.max_pipelined) {
        p.paused = true;  // resumed by on_head(down_) or mark_raw
        return;
      }
      return dispatch_request_head();
    }
    // A response head.
    std::chrono::microseconds delay{0};
    if (!p.framer.is_interim()) {
      Pending req;
      if (!pending_.empty()) {
        req = std::move(pending_.front());
        pending_.pop_front();
      }
      px_.update([](ProxyStats& s) { s.responses++; });
      if (!req.method.empty()) {
        delay = px_.draw(px_.config.find_rule(Direction::kResponse, req.method, req.target), id_,
                         Direction::kResponse, req.method);
      }
      if (p.framer.raw()) mark_raw(p.framer.raw_reason());
      if (up_.paused && !raw_) {
        up_.paused = false;
        dispatch_request_head();
      }
    }
    p.out = p.framer.head();
    delay_then_write(p, delay);
  }

  void dispatch_request_head() {
    Pipe& p = up_;
    const std::string& method = p.framer.method();
    const std::string& target = p.framer.target();
    px_.update([](ProxyStats& s) { s.requests++; });
    const auto delay = px_.draw(px_.config.find_rule(Direction::kRequest, method, target), id_,
                                Direction::kRequest, method);
    if (p.framer.raw()) {
      mark_raw(p.framer.raw_reason());
    } else if (!raw_) {
      pending_.push_back(Pending{method, target});
    }
    p.out = p.framer.head();
    delay_then_write(p, delay);
  }

  void delay_then_write(Pipe& p, std::chrono::microseconds delay) {
    if (delay.count() <= 0) return write_out(p);
    auto self = shared_from_this();
    p.timer.expires_after(delay);
    p.timer.async_wait([self, &p](error_code ec) {
      if (self->closed_ || ec) return;
      self->write_out(p);
    });
  }

  void write_out(Pipe& p) {
    auto self = shared_from_this();
    asio::async_write(*p.to, asio::buffer(p.out), [self, &p](error_code ec, size_t n) {
      self->after_write(p, ec, n);
    });
  }

  void write_span(Pipe& p, size_t offset, size_t n) {
    auto self = shared_from_this();
    asio::async_write(*p.to, asio::buffer(p.buf.get() + offset, n),
                      [self, &p](error_code ec, size_t written) {
                        self->after_write(p, ec, written);
                      });
  }

  void after_write(Pipe& p, error_code ec, size_t n) {
    if (closed_) return;
    if (ec) {
      spdlog::debug("conn {}: write: {}", id_, ec.message());
      return close();
    }
    const bool up = p.dir == Direction::kRequest;
    px_.update([&](ProxyStats& s) { (up ? s.bytes_up : s.bytes_down) += n; });
    pump(p);
  }

  Proxy::Impl& px_;
  const uint64_t id_;
  tcp::socket client_, upstream_;
  asio::steady_timer connect_timer_;
  Pipe up_, down_;
  std::deque<Pending> pending_;
  bool connected_ = false, closed_ = false, raw_ = false;
};

void Proxy::Impl::accept() {
  acceptor.async_accept([this](error_code ec, tcp::socket socket) {
    if (stopping) return;
    if (ec) {
      spdlog::warn("accept: {}", ec.message());
    } else if (sessions.size() >= config.limits.max_connections) {
      update([](ProxyStats& s) { s.rejected++; });
      spdlog::warn("connection refused: {} open (limits.max_connections)", sessions.size());
      error_code ignored;
      socket.close(ignored);
    } else {
      const uint64_t id = next_id++;
      update([](ProxyStats& s) { s.connections++; });
      auto session = std::make_shared<Session>(*this, id, std::move(socket));
      sessions[id] = session;
      spdlog::debug("conn {}: accepted", id);
      session->start();
    }
    accept();
  });
}

Proxy::Proxy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Proxy::~Proxy() = default;

Result<std::unique_ptr<Proxy>> Proxy::create(ProxyConfig config) {
  auto impl = std::make_unique<Impl>(std::move(config));
  const ProxyConfig& c = impl->config;
  error_code ec;
  tcp::resolver resolver(impl->io);
  auto up = resolver.resolve(c.upstream_host, std::to_string(c.upstream_port), ec);
  if (ec) {
    return Status::InvalidArgument("upstream " + c.upstream_host + ": " + ec.message());
  }
  for (const auto& e : up) impl->upstream.push_back(e.endpoint());
  auto listen = resolver.resolve(c.listen_host, std::to_string(c.listen_port), ec);
  if (ec || listen.empty()) {
    return Status::InvalidArgument("listen " + c.listen_host + ": " + ec.message());
  }
  const tcp::endpoint ep = listen.begin()->endpoint();
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::IOError("listen on " + c.listen_host + ":" + std::to_string(c.listen_port) +
                           ": " + ec.message());
  }
  impl->port = impl->acceptor.local_endpoint(ec).port();
  return std::unique_ptr<Proxy>(new Proxy(std::move(impl)));
}

uint16_t Proxy::port() const { return impl_->port; }

void Proxy::run() {
  impl_->accept();
  impl_->io.run();
}

void Proxy::stop() {
  asio::post(impl_->io, [impl = impl_.get()] {
    impl->stopping = true;
    error_code ignored;
    impl->acceptor.close(ignored);
    // close() erases from the map: collect first.
    std::vector<std::shared_ptr<Session>> live;
    for (auto& [id, w] : impl->sessions) {
      if (auto s = w.lock()) live.push_back(std::move(s));
    }
    for (auto& s : live) s->close();
  });
}

ProxyStats Proxy::stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats;
}

std::vector<DelaySample> Proxy::delay_samples() const {
  std::lock_guard lock(impl_->mu);
  return {impl_->samples.begin(), impl_->samples.end()};
}

}  // namespace isle::proxy
