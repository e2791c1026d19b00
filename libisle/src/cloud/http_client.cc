// HttpClient over Beast; see http_client.h for the contract.
//
// Each connection owns an io_context. An exchange starts async operations
// with a deadline (beast::tcp_stream::expires_after) and runs that
// io_context on the calling thread until they finish, so timeouts work
// without a background thread and many callers proceed in parallel on
// their own connections.
#include <utility>  // before Asio (GCC 12 + Boost 1.74: std::exchange)

#include "cloud/http_client.h"
#include "util/ascii.h"

#include <poll.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <optional>

namespace isle {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {


bool valid_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == ':' || c == '(' || c == ')' || c == ',' || c == ';' ||
        c == '"' || c == '/' || c == '[' || c == ']' || c == '?' || c == '=' || c == '{' ||
        c == '}' || c == '\\') {
      return false;
    }
  }
  return true;
}

bool has_crlf(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

std::string describe(const error_code& ec) {
  if (ec == beast::error::timeout) return "timed out";
  std::string m = ec.message();
  // OpenSSL errors carry the reason in the category message; add the
  // verification result when that is what failed.
  return m;
}

}  // namespace

const std::string* find_header(const HttpHeaders& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (ascii_iequals(k, name)) return &v;
  }
  return nullptr;
}

std::string HttpEndpoint::host_header() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  std::string h = ipv6 ? "[" + host + "]" : host;
  if (port != (tls ? 443 : 80)) h += ":" + std::to_string(port);
  return h;
}

std::string HttpEndpoint::to_string() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  return std::string(tls ? "https://" : "http://") + (ipv6 ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

Result<HttpEndpoint> parse_http_endpoint(std::string_view url, std::string* path) {
  HttpEndpoint ep;
  std::string_view rest;
  if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else if (url.starts_with("https://")) {
    ep.tls = true;
    rest = url.substr(8);
  } else {
    return Status::InvalidArgument("endpoint '" + std::string(url) +
                                   "' must start with http:// or https://");
  }
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view p = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  if (p.find_first_of("?#") != std::string_view::npos) {
    return Status::InvalidArgument("endpoint '" + std::string(url) +
                                   "' must not have a query or fragment");
  }
  while (!p.empty() && p.back() == '/') p.remove_suffix(1);
  if (authority.find('@') != std::string_view::npos) {
    return Status::InvalidArgument("endpoint '" + std::string(url) +
                                   "' must not carry credentials (use the environment)");
  }
  std::string_view port_text;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return Status::InvalidArgument("endpoint '" + std::string(url) + "': unclosed '['");
    }
    ep.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') {
        return Status::InvalidArgument("endpoint '" + std::string(url) + "': bad host");
      }
      port_text = after.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    ep.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (ep.host.empty()) {
    return Status::InvalidArgument("endpoint '" + std::string(url) + "' has no host");
  }
  for (char c : ep.host) {
    auto u = static_cast<unsigned char>(c);
    if (!std::isalnum(u) && c != '-' && c != '.' && c != '_' && c != ':') {
      return Status::InvalidArgument("endpoint '" + std::string(url) + "': bad host");
    }
  }
  ep.port = ep.tls ? 443 : 80;
  if (authority.ends_with(":") && port_text.empty()) {
    return Status::InvalidArgument("endpoint '" + std::string(url) + "': empty port");
  }
  if (!port_text.empty()) {
    uint32_t port = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9' || port > 65535) {
        return Status::InvalidArgument("endpoint '" + std::string(url) + "': bad port");
      }
      port = port * 10 + static_cast<uint32_t>(c - '0');
    }
    if (port == 0 || port > 65535) {
      return Status::InvalidArgument("endpoint '" + std::string(url) + "': bad port");
    }
    ep.port = static_cast<uint16_t>(port);
  }
  if (path != nullptr) *path = std::string(p);
  return ep;
}

// One connection: its own io_context, and either a plain or a TLS stream.
struct Connection {
  asio::io_context ioc;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  std::chrono::steady_clock::time_point idle_since;

  beast::tcp_stream& tcp() { return secure ? beast::get_lowest_layer(*secure) : *plain; }

  // Runs the io_context until the started operations finish.
  void run() {
    ioc.restart();
    ioc.run();
  }

  // True when the server has closed (or written to) an idle connection:
  // readable, hung up or failed, checked without waiting.
  bool looks_closed() {
    pollfd p{};
    p.fd = tcp().socket().native_handle();
    p.events = POLLIN;
    return ::poll(&p, 1, 0) != 0;
  }
};

struct HttpClient::Impl {
  HttpEndpoint endpoint;
  HttpClientOptions options;
  std::optional<asio::ssl::context> tls_ctx;

  std::mutex mu;
  std::condition_variable slot_free;
  size_t in_flight = 0;                              // guarded by mu
  std::vector<std::unique_ptr<Connection>> idle;     // guarded by mu; most recent last

  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> opened{0};
  std::atomic<uint64_t> stale{0};

  // Takes a slot (waiting while max_connections exchanges run) and an idle
  // connection if a usable one exists.
  std::unique_ptr<Connection> acquire() {
    std::unique_lock lock(mu);
    slot_free.wait(lock, [&] { return in_flight < std::max<size_t>(1, options.max_connections); });
    in_flight++;
    const auto now = std::chrono::steady_clock::now();
    while (!idle.empty()) {
      std::unique_ptr<Connection> c = std::move(idle.back());
      idle.pop_back();
      if (now - c->idle_since < options.idle_timeout && !c->looks_closed()) return c;
      stale++;
    }
    return nullptr;
  }

  void release(std::unique_ptr<Connection> c) {
    std::lock_guard lock(mu);
    in_flight--;
    if (c) {
      c->idle_since = std::chrono::steady_clock::now();
      idle.push_back(std::move(c));
      // Keep at most one idle connection per slot.
      if (idle.size() > std::max<size_t>(1, options.max_connections)) idle.erase(idle.begin());
    }
    slot_free.notify_one();
  }

  Result<std::unique_ptr<Connection>> connect() {
    auto c = std::make_unique<Connection>();
    // Beast reads at most the buffer's free space per call (at least 512
    // bytes): without room, an 8 MiB body took 16,000 reads.
    c->buffer.reserve(64 * 1024);
    c->plain.emplace(c->ioc);
    tcp::resolver resolver(c->ioc);
    error_code ec;
    tcp::resolver::results_type addrs;
    resolver.async_resolve(endpoint.host, std::to_string(endpoint.port),
                           [&](error_code e, tcp::resolver::results_type r) {
                             ec = e;
                             addrs = std::move(r);
                           });
    c->run();
    if (ec) {
      return Status::Transient("cannot resolve " + endpoint.host + ": " + describe(ec));
    }
    c->plain->expires_after(options.connect_timeout);
    c->plain->async_connect(addrs, [&](error_code e, const tcp::endpoint&) { ec = e; });
    c->run();
    if (ec) {
      return Status::Transient("cannot connect to " + endpoint.to_string() + ": " + describe(ec));
    }
    c->plain->socket().set_option(tcp::no_delay(true), ec);
    if (endpoint.tls) {
      beast::tcp_stream raw = std::move(*c->plain);
      c->plain.reset();
      c->secure.emplace(std::move(raw), *tls_ctx);
      if (!SSL_set_tlsext_host_name(c->secure->native_handle(), endpoint.host.c_str())) {
        return Status::Transient("TLS: cannot set SNI for " + endpoint.host);
      }
      if (options.verify_tls) {
        c->secure->set_verify_callback(asio::ssl::host_name_verification(endpoint.host));
      }
      beast::get_lowest_layer(*c->secure).expires_after(options.connect_timeout);
      c->secure->async_handshake(asio::ssl::stream_base::client, [&](error_code e) { ec = e; });
      c->run();
      if (ec) {
        std::string why = describe(ec);
        long verify = SSL_get_verify_result(c->secure->native_handle());
        if (verify != X509_V_OK) {
          why += std::string(" (certificate: ") + X509_verify_cert_error_string(verify) + ")";
        }
        return Status::Transient("TLS handshake with " + endpoint.to_string() + " failed: " +
                                 why);
      }
    }
    opened++;
    return c;
  }

  // One exchange on `c`. Sets *sent_any when at least one byte went out.
  Status exchange(Connection& c, const HttpClientRequest& r, HttpClientResponse* out,
                  bool* sent_any) {
    http::request<http::span_body<const char>> req;
    req.method_string({r.method.data(), r.method.size()});
    req.target({r.target.data(), r.target.size()});
    req.version(11);
    bool host_set = false;
    if (r.headers != nullptr) {
      for (const auto& [k, v] : *r.headers) {
        if (ascii_iequals(k, "host")) host_set = true;
        if (ascii_iequals(k, "content-length")) continue;  // derived from the body
        req.insert(boost::beast::string_view(k.data(), k.size()), boost::beast::string_view(v.data(), v.size()));
      }
    }
    if (!host_set) req.set(http::field::host, endpoint.host_header());
    req.body() = boost::beast::span<const char>(r.body.data(), r.body.size());
    req.content_length(r.body.size());
    req.keep_alive(true);

    error_code ec;
    size_t written = 0;
    c.tcp().expires_after(options.io_timeout);
    auto on_write = [&](error_code e, size_t n) {
      ec = e;
      written = n;
    };
    if (c.secure) {
      http::async_write(*c.secure, req, on_write);
    } else {
      http::async_write(*c.plain, req, on_write);
    }
    c.run();
    *sent_any = written > 0;
    if (ec) {
      std::string m = "sending " + std::string(r.method) + " to " + endpoint.to_string() +
                      ": " + describe(ec);
      return written > 0 ? Status::UnknownOutcome(m) : Status::Transient(m);
    }
    *sent_any = true;

    http::response_parser<http::string_body> parser;
    parser.header_limit(64 * 1024);
    parser.body_limit(std::numeric_limits<uint64_t>::max());
    if (r.head) parser.skip(true);
    auto on_read = [&](error_code e, size_t) { ec = e; };
    auto read = [&](bool header_only) {
      c.tcp().expires_after(options.io_timeout);
      if (c.secure) {
        if (header_only) {
          http::async_read_header(*c.secure, c.buffer, parser, on_read);
        } else {
          http::async_read(*c.secure, c.buffer, parser, on_read);
        }
      } else {
        if (header_only) {
          http::async_read_header(*c.plain, c.buffer, parser, on_read);
        } else {
          http::async_read(*c.plain, c.buffer, parser, on_read);
        }
      }
      c.run();
    };
    read(true);
    // A body over max_body is not read: keep the header, drop the connection.
    const bool too_big = !ec && !r.head && parser.content_length() &&
                         *parser.content_length() > r.max_body;
    if (!ec && !too_big && !parser.is_done()) read(false);
    if (ec) {
      return Status::UnknownOutcome("reading the response to " + std::string(r.method) +
                                    " from " + endpoint.to_string() + ": " + describe(ec));
    }
    auto& res = parser.get();
    out->body_skipped = too_big;
    out->status = static_cast<int>(res.result_int());
    out->headers.clear();
    for (const auto& f : res) {
      std::string name(f.name_string());
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
      out->headers.emplace_back(std::move(name), std::string(f.value()));
    }
    out->body = too_big ? std::string() : std::move(res.body());
    if (too_big) return Status::Aborted("body not read");
    return res.keep_alive() ? Status::OK() : Status::Aborted("server closes the connection");
  }
};

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() = default;

Result<std::unique_ptr<HttpClient>> HttpClient::create(HttpEndpoint endpoint,
                                                       HttpClientOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->endpoint = std::move(endpoint);
  impl->options = std::move(options);
  if (impl->endpoint.tls) {
    impl->tls_ctx.emplace(asio::ssl::context::tls_client);
    auto& ctx = *impl->tls_ctx;
    error_code ec;
    ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                        asio::ssl::context::no_tlsv1_1,
                    ec);
    if (impl->options.ca_file.empty()) {
      ctx.set_default_verify_paths(ec);
      if (ec) return Status::InvalidArgument("TLS: cannot load the system CAs: " + ec.message());
    } else {
      ctx.load_verify_file(impl->options.ca_file, ec);
      if (ec) {
        return Status::InvalidArgument("TLS: cannot load CA file '" + impl->options.ca_file +
                                       "': " + ec.message());
      }
    }
    ctx.set_verify_mode(impl->options.verify_tls ? asio::ssl::verify_peer
                                                 : asio::ssl::verify_none);
  }
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

const HttpEndpoint& HttpClient::endpoint() const { return impl_->endpoint; }

HttpClientStats HttpClient::stats() const {
  return {impl_->requests.load(), impl_->opened.load(), impl_->stale.load()};
}

Result<HttpClientResponse> HttpClient::send(const HttpClientRequest& request) {
  if (!valid_token(request.method)) {
    return Status::InvalidArgument("bad HTTP method '" + std::string(request.method) + "'");
  }
  if (request.target.empty() || request.target[0] != '/' || has_crlf(request.target) ||
      request.target.find(' ') != std::string_view::npos) {
    return Status::InvalidArgument("bad request target");
  }
  if (request.headers != nullptr) {
    for (const auto& [k, v] : *request.headers) {
      if (!valid_token(k) || has_crlf(v)) {
        return Status::InvalidArgument("bad HTTP header '" + k + "'");
      }
    }
  }
  impl_->requests++;
  std::unique_ptr<Connection> conn = impl_->acquire();
  const bool reused = conn != nullptr;
  HttpClientResponse response;
  Status s;
  // A reused connection that fails before one byte of the request is
  // written was closed by the server while idle: try once more on a fresh
  // one (nothing was sent, so this is safe for any request).
  for (int attempt = 0; attempt < 2; attempt++) {
    if (!conn) {
      auto fresh = impl_->connect();
      if (!fresh.ok()) {
        impl_->release(nullptr);
        return fresh.status();
      }
      conn = std::move(fresh).value();
    }
    bool sent_any = false;
    s = impl_->exchange(*conn, request, &response, &sent_any);
    if (s.ok()) {
      impl_->release(std::move(conn));
      return response;
    }
    conn.reset();
    if (s.code() == Code::kAborted) break;  // complete, but not reusable
    if (!(reused && attempt == 0 && !sent_any)) break;
    impl_->stale++;
  }
  impl_->release(nullptr);
  if (s.code() == Code::kAborted) return response;
  return s;
}

}  // namespace isle
