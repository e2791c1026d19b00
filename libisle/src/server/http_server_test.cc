// HttpServer tests over real sockets on 127.0.0.1. The client is raw POSIX
// sockets (plus OpenSSL for the TLS test) so a test can do what well-behaved
// HTTP clients never do: send a byte a second, pipeline two requests in one
// write, send oversized heads, leave in the middle of a stream.
//
// Every test joins the threads it starts and waits for the server's own
// threads through stop(), so the suite is clean under ASan/UBSan.
#include "server/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "server/metrics.h"
#include "testutil/testutil.h"

namespace isle::server {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

long ms_since(Clock::time_point t0) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count());
}

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::vector<std::string> chunks;  // for chunked bodies, as received
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// A blocking client connection (plain or TLS) with deadline-bounded reads.
class Conn {
 public:
  explicit Conn(uint16_t port, SSL_CTX* tls = nullptr) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connected_ && tls != nullptr) {
      ssl_ = SSL_new(tls);
      SSL_set_fd(ssl_, fd_);
      connected_ = SSL_connect(ssl_) == 1;
    }
  }
  ~Conn() { close(); }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  bool connected() const { return connected_; }

  bool send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ssl_ ? SSL_write(ssl_, data.data(), static_cast<int>(data.size()))
                       : ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Appends what arrives before the deadline; false on EOF, error or timeout.
  bool fill(Clock::time_point deadline) {
    if (!(ssl_ && SSL_pending(ssl_) > 0)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    }
    char tmp[16384];
    ssize_t n = ssl_ ? SSL_read(ssl_, tmp, sizeof tmp) : ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) {
      eof_ = true;
      reset_ = n < 0 && !ssl_ && errno == ECONNRESET;
      return false;
    }
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }

  bool read_until(std::string_view delim, size_t* pos, Clock::time_point deadline) {
    for (;;) {
      *pos = buf_.find(delim);
      if (*pos != std::string::npos) return true;
      if (!fill(deadline)) return false;
    }
  }
  bool read_bytes(size_t n, Clock::time_point deadline) {
    while (buf_.size() < n) {
      if (!fill(deadline)) return false;
    }
    return true;
  }

  // Reads one response (no body for HEAD).
  std::optional<Response> read_response(std::chrono::milliseconds timeout = 5s, bool head = false) {
    auto deadline = Clock::now() + timeout;
    size_t end = 0;
    if (!read_until("\r\n\r\n", &end, deadline)) return std::nullopt;
    std::string head_text = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    Response r;
    size_t line_end = head_text.find("\r\n");
    std::string status_line = head_text.substr(0, line_end);
    if (status_line.size() < 12) return std::nullopt;
    r.status = std::stoi(status_line.substr(9, 3));
    size_t pos = line_end == std::string::npos ? head_text.size() : line_end + 2;
    while (pos < head_text.size()) {
      size_t e = head_text.find("\r\n", pos);
      if (e == std::string::npos) e = head_text.size();
      std::string line = head_text.substr(pos, e - pos);
      size_t colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(tolower(c));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      r.headers[name] = value;
      pos = e + 2;
    }
    if (head || r.status == 204 || r.status == 304) return r;
    if (r.header("transfer-encoding") == "chunked") {
      for (;;) {
        size_t e = 0;
        if (!read_until("\r\n", &e, deadline)) return std::nullopt;
        size_t n = std::stoul(buf_.substr(0, e), nullptr, 16);
        buf_.erase(0, e + 2);
        if (!read_bytes(n + 2, deadline)) return std::nullopt;
        if (n == 0) {
          buf_.erase(0, 2);
          return r;
        }
        r.chunks.push_back(buf_.substr(0, n));
        r.body += r.chunks.back();
        buf_.erase(0, n + 2);
      }
    }
    size_t len = std::stoul(r.header("content-length").empty() ? "0" : r.header("content-length"));
    if (!read_bytes(len, deadline)) return std::nullopt;
    r.body = buf_.substr(0, len);
    buf_.erase(0, len);
    return r;
  }

  // Whether the server closed the connection (EOF, not a reset) before the
  // timeout, with no further bytes.
  bool closed_within(std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (fill(deadline)) {
    }
    return eof_ && !reset_ && buf_.empty();
  }
  bool was_reset() const { return reset_; }

  void close() {
    if (ssl_ != nullptr) {
      SSL_free(ssl_);
      ssl_ = nullptr;
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // Closes with a reset (SO_LINGER 0): the harshest disconnect.
  void abort() {
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close();
  }

 private:
  int fd_ = -1;
  SSL* ssl_ = nullptr;
  bool connected_ = false;
  bool eof_ = false;
  bool reset_ = false;
  std::string buf_;
};

std::string get(const std::string& target, const std::string& extra = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: localhost\r\n" + extra + "\r\n";
}

std::unique_ptr<HttpServer> start(HttpServerOptions opt, Router router, Metrics* metrics = nullptr) {
  auto r = HttpServer::start(std::move(opt), std::move(router), metrics);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  if (!r.ok()) return nullptr;
  return std::move(r).value();
}

Handler text(std::string body) {
  return [body](const HttpRequest&) { return HttpResponse::text(200, body); };
}

// A gate handlers block on until the test opens it.
class Gate {
 public:
  void wait_open() {
    std::unique_lock lk(mu_);
    ++waiting_;
    cv_.notify_all();
    cv_.wait(lk, [this] { return open_; });
  }
  // Waits until n callers are blocked in wait_open.
  bool wait_waiters(int n, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return waiting_ >= n; });
  }
  void open() {
    std::lock_guard lk(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int waiting_ = 0;
  bool open_ = false;
};

bool eventually_ok(const std::function<bool()>& f, std::chrono::milliseconds timeout = 5s) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (f()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

void expect_error_body(const Response& r, const std::string& code) {
  EXPECT_EQ(r.header("content-type"), "application/json");
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.body;
  EXPECT_EQ(j["error"]["code"], code) << r.body;
  EXPECT_TRUE(j["error"]["message"].is_string()) << r.body;
}

// ---- Basics -------------------------------------------------------------------

TEST(HttpServer, KeepAliveServesTwoRequestsOnOneConnection) {
  std::mutex mu;
  std::vector<std::string> remotes;
  Router router;
  router.add("GET", "/hello", [&](const HttpRequest& req) {
    std::lock_guard lk(mu);
    remotes.push_back(req.remote);
    return HttpResponse::text(200, "hi " + req.query);
  });
  std::atomic<int> logged{0};
  HttpServerOptions opt;
  opt.on_request = [&](const HttpRequest& req, int status, uint64_t bytes, std::chrono::microseconds) {
    EXPECT_EQ(req.path, "/hello");
    EXPECT_EQ(status, 200);
    EXPECT_GT(bytes, 0u);
    ++logged;
  };
  auto srv = start(opt, std::move(router));
  ASSERT_TRUE(srv);
  EXPECT_EQ(srv->address(), "127.0.0.1:" + std::to_string(srv->port()));

  Conn c(srv->port());
  ASSERT_TRUE(c.send(get("/hello?n=1")));
  auto r1 = c.read_response();
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->status, 200);
  EXPECT_EQ(r1->body, "hi n=1");
  EXPECT_EQ(r1->header("connection"), "");
  ASSERT_TRUE(c.send(get("/hello?n=2")));
  auto r2 = c.read_response();
  ASSERT_TRUE(r2) << "the connection was not kept alive";
  EXPECT_EQ(r2->body, "hi n=2");
  srv->stop();
  ASSERT_EQ(remotes.size(), 2u);
  EXPECT_EQ(remotes[0], remotes[1]) << "both requests came over one connection";
  EXPECT_EQ(logged.load(), 2);
}

TEST(HttpServer, PipelinedRequestsAnswerInOrder) {
  Router router;
  router.add("GET", "/echo", [](const HttpRequest& req) {
    // The first is slower: answering in completion order would swap them.
    if (req.query == "first") std::this_thread::sleep_for(200ms);
    return HttpResponse::text(200, req.query);
  });
  HttpServerOptions opt;
  opt.workers = 2;
  auto srv = start(opt, std::move(router));
  ASSERT_TRUE(srv);
  Conn c(srv->port());
  ASSERT_TRUE(c.send(get("/echo?first") + get("/echo?second")));
  auto r1 = c.read_response();
  auto r2 = c.read_response();
  ASSERT_TRUE(r1);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r1->body, "first");
  EXPECT_EQ(r2->body, "second");
}

TEST(HttpServer, UnknownRouteIs404WithJsonBody) {
  Router router;
  router.add("GET", "/a", text("a"));
  Metrics metrics;
  auto srv = start({}, std::move(router), &metrics);
  ASSERT_TRUE(srv);
  Conn c(srv->port());
  ASSERT_TRUE(c.send(get("/nope/x%2Fy")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->body, R"({"error":{"code":"not_found","message":"no route for /nope/x%2Fy"}})");
  expect_error_body(*r, "not_found");
  ASSERT_TRUE(c.send(get("/a")));
  ASSERT_TRUE(c.read_response()) << "a 404 without a body keeps the connection";
  srv->stop();
  std::string text = metrics.render();
  EXPECT_NE(text.find(R"(isle_http_requests_total{code="404",method="GET",route="unmatched"} 1)"), std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(route="/a")"), std::string::npos) << text;
  EXPECT_EQ(text.find("/nope"), std::string::npos) << "raw paths never become labels";
  EXPECT_NE(text.find("isle_http_open_connections 0"), std::string::npos) << "stop() closed it";
}

TEST(HttpServer, WrongMethodIs405WithAllow) {
  Router router;
  router.add("GET", "/a", text("a"));
  router.add("PUT", "/a", text("put"));
  auto srv = start({}, std::move(router));
  ASSERT_TRUE(srv);
  Conn c(srv->port());
  ASSERT_TRUE(c.send("POST /a HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->header("allow"), "GET, HEAD, PUT");
  expect_error_body(*r, "method_not_allowed");
}

TEST(HttpServer, HeadUsesTheGetRouteWithoutBody) {
  Router router;
  router.add("GET", "/a", text("twelve bytes"));
  auto srv = start({}, std::move(router));
  ASSERT_TRUE(srv);
  Conn c(srv->port());
  ASSERT_TRUE(c.send("HEAD /a HTTP/1.1\r\nHost: localhost\r\n\r\n" + get("/a")));
  auto h = c.read_response(5s, /*head=*/true);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(h->header("content-length"), "12");
  auto g = c.read_response();
  ASSERT_TRUE(g);
  EXPECT_EQ(g->body, "twelve bytes") << "the HEAD response carried no body bytes";
}

TEST(HttpServer, ConnectionCloseIsHonored) {
  Router router;
  router.add("GET", "/a", text("a"));
  auto srv = start({}, std::move(router));
  ASSERT_TRUE(srv);
  Conn c(srv->port());
  ASSERT_TRUE(c.send(get("/a", "Connection: close\r\n")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c.closed_within(2s));
}

TEST(HttpServer, HandlerExceptionIs500) {
  Router router;
  router.add("GET", "/boom", [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("kaput"); });
  auto srv = start({}, std::move(router));
  ASSERT_TRUE(srv);
  Conn c(srv->port());
  ASSERT_TRUE(c.send(get("/boom")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  expect_error_body(*r, "internal");
}

TEST(HttpServer, StartFailsWhenAddressInUseOrTlsIsHalfConfigured) {
  auto a = start({}, Router{});
  ASSERT_TRUE(a);
  HttpServerOptions opt;
  opt.listen = a->address();
  auto b = HttpServer::start(opt, Router{});
  EXPECT_FALSE(b.ok());
  HttpServerOptions half;
  half.tls_cert_file = "/nonexistent/cert.pem";
  EXPECT_FALSE(HttpServer::start(half, Router{}).ok());
  half.tls_key_file = "/nonexistent/key.pem";
  EXPECT_FALSE(HttpServer::start(half, Router{}).ok());
}

// ---- Limits ---------------------------------------------------------------------

TEST(HttpServer, HugeHeaderIs431ThenClose) {
  Router router;
  router.add("GET", "/", text("root"));
  HttpServerOptions opt;
  opt.max_header_bytes = 4096;
  auto srv = start(opt, std::move(router));
  ASSERT_TRUE(srv);
  {
    Conn c(srv->port());
    ASSERT_TRUE(c.send(get("/", "X-Ok: 1\r\n")));
    ASSERT_TRUE(c.read_response()) << "a normal head is fine";
  }
  Conn c(srv->port());
  ASSERT_TRUE(c.send(get("/", "X-Big: " + std::string(8000, 'a') + "\r\n")));
  auto r = c.read_response();
  ASSERT_TRUE(r) << "a response, not a dropped connection";
  EXPECT_EQ(r->status, 431);
  expect_error_body(*r, "header_too_large");
  EXPECT_TRUE(c.closed_within(3s));
}

TEST(HttpServer, HugeRequestLineIs414ThenClose) {
  Router router;
  router.add("GET", "/*", text("root"));
  HttpServerOptions opt;
  opt.max_header_bytes = 4096;
  auto srv = start(opt, std::move(router));
  ASSERT_TRUE(srv);
  Conn c(srv->port());
  ASSERT_TRUE(c.send(get("/" + std::string(20000, 'a'))));
  auto r = c.read_response();
  ASSERT_TRUE(r) << "a response, not a reset";
  EXPECT_TRUE(r->status == 414 || r->status == 431) << r->status;
  EXPECT_EQ(r->status, 414);
  EXPECT_EQ(r->header("connection"), "close");
  expect_error_body(*r, "uri_too_long");
  EXPECT_TRUE(c.closed_within(3s));
  EXPECT_FALSE(c.was_reset());
}

TEST(HttpServer, BigContentLengthIs413BeforeTheBody) {
  std::atomic<int> called{0};
  Router router;
  router.add("PUT", "/small", [&](const HttpRequest& req) {
    ++called;
    return HttpResponse::text(200, std::to_string(req.body.size()));
  }, RouteOptions{.takes_body = true, .max_body_bytes = 1000});
  auto srv = start({}, std::move(router));
  ASSERT_TRUE(srv);
  {
    Conn c(srv->port());
    ASSERT_TRUE(c.send("PUT /small HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n" + std::string(1000, 'x')));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "1000");
  }
  Conn c(srv->port());
  // Announce 100 MB, send a little of it: the answer must not wait for it.
  ASSERT_TRUE(c.send("PUT /small HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000000\r\n\r\n" + std::string(5000, 'x')));
  auto r = c.read_response(3s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  expect_error_body(*r, "payload_too_large");
  EXPECT_TRUE(c.closed_within(5s));
  EXPECT_EQ(called.load(), 1);
}

TEST(HttpServer, BigChunkedBodyIs413) {
  std::atomic<int> called{0};
  Router router;
  router.add("POST", "/small", [&](const HttpRequest& req) {
    ++called;
    return HttpResponse::text(200, req.body);
  }, RouteOptions{.takes_body = true, .max_body_bytes = 1000});
  auto srv = start({}, std::move(router));
  ASSERT_TRUE(srv);
  const std::string head = "POST /small HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n";
  {
    Conn c(srv->port());
    ASSERT_TRUE(c.send(head + "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "abcde");
  }
  Conn c(srv->port());
  std::string chunk = "200\r\n" + std::string(512, 'y') + "\r\n";  // 512 bytes each
  ASSERT_TRUE(c.send(head + chunk + chunk + chunk));
  auto r = c.read_response(3s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  expect_error_body(*r, "payload_too_large");
  EXPECT_TRUE(c.closed_within(5s));
  EXPECT_EQ(called.load(), 1);
}

// Routes that take no body refuse one before reading it: a GET /healthz
// that announces 64 MiB costs the server nothing.
TEST(HttpServer, DeclaredBodyOnABodilessRouteIs413) {
  std::atomic<int> called{0};
  Router router;
  router.add("GET", "/healthz", [&](const HttpRequest&) {
    ++called;
    return HttpResponse::text(200, "ok");
  });
  auto srv = start({}, std::move(router));
  ASSERT_TRUE(srv);
  for (const std::string framing : {"Content-Length: 67108864\r\n", "Transfer-Encoding: chunked\r\n"}) {
    Conn c(srv->port());
    ASSERT_TRUE(c.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n" + framing + "\r\n" + std::string(4096, 'x')));
    auto r = c.read_response(3s);
    ASSERT_TRUE(r) << framing;
    EXPECT_EQ(r->status, 413) << framing;
    expect_error_body(*r, "body_not_allowed");
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_TRUE(c.closed_within(5s));
  }
  Conn c(srv->port());
  ASSERT_TRUE(c.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << "an empty body is no body";
  EXPECT_EQ(called.load(), 1);
}

// Boost 1.74's parser buffers a chunk line (with its extensions) and the
// trailer whole: the server caps what it buffers beyond the body.
TEST(HttpServer, HugeChunkExtensionOrTrailerIs400) {
  Router router;
  router.add("POST", "/in", [](const HttpRequest& req) { return HttpResponse::text(200, req.body); },
             RouteOptions{.takes_body = true});
  auto srv = start({}, std::move(router));
  ASSERT_TRUE(srv);
  const std::string head = "POST /in HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n";
  {
    Conn c(srv->port());
    ASSERT_TRUE(c.send(head + "3;name=value\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << "small extensions and trailers are fine";
    EXPECT_EQ(r->body, "abc");
  }
  {
    // An endless extension: the server answers long before 4 MiB arrive.
    Conn c(srv->port());
    ASSERT_TRUE(c.send(head + "3;ext="));
    size_t sent = 0;
    while (sent < (4u << 20) && c.send(std::string(64 * 1024, 'e'))) sent += 64 * 1024;
    auto r = c.read_response(3s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    expect_error_body(*r, "bad_request");
  }
  {
    Conn c(srv->port());
    ASSERT_TRUE(c.send(head + "3\r\nabc\r\n0\r\nX-Big: " + std::string(64 * 1024, 't') + "\r\n\r\n"));
    auto r = c.read_response(3s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << "a 64 KiB trailer";
  }
}

// ---- Timeouts -------------------------------------------------------------------

TEST(HttpServer, SlowClientGets408AndDoesNotDelayOthers) {
  Router router;
  router.add("GET", "/fast", text("fast"));
  HttpServerOptions opt;
  opt.header_timeout = 1500ms;
  opt.workers = 1;
  auto srv = start(opt, std::move(router));
  ASSERT_TRUE(srv);

  auto t0 = Clock::now();
  Conn slow(srv->port());
  std::atomic<bool> stop{false};
  std::thread dribble([&] {
    const std::string req = get("/fast");
    for (size_t i = 0; i < req.size() && !stop; ++i) {
      if (!slow.send(req.substr(i, 1))) return;
      for (int k = 0; k < 10 && !stop; ++k) std::this_thread::sleep_for(100ms);
    }
  });
  std::this_thread::sleep_for(300ms);
  {
    auto t1 = Clock::now();
    Conn fast(srv->port());
    ASSERT_TRUE(fast.send(get("/fast")));
    auto r = fast.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "fast");
    EXPECT_LT(ms_since(t1), 500) << "the slow client delayed another one";
  }
  auto r = slow.read_response(5s);
  long at = ms_since(t0);
  stop = true;
  dribble.join();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408);
  expect_error_body(*r, "request_timeout");
  EXPECT_GE(at, 1400);
  EXPECT_LT(at, 3000);
  EXPECT_TRUE(slow.closed_within(3s));
}

TEST(HttpServer, IdleKeepAliveConnectionIsClosed) {
  Router router;
  router.add("GET", "/a", text("a"));
  HttpServerOptions opt;
  opt.idle_timeout = 300ms;
  auto srv = start(opt, std::move(router));
  ASSERT_TRUE(srv);
  Conn c(srv->port());
  ASSERT_TRUE(c.send(get("/a")));
  ASSERT_TRUE(c.read_response());
  auto t0 = Clock::now();
  EXPECT_TRUE(c.closed_within(3s));
  EXPECT_GE(ms_since(t0), 250);
}

// ---- Overload -------------------------------------------------------------------

TEST(HttpServer, ConnectionCapAnswers503) {
  Router router;
  router.add("GET", "/a", text("a"));
  HttpServerOptions opt;
  opt.max_connections = 2;
  Metrics metrics;
  auto srv = start(opt, std::move(router), &metrics);
  ASSERT_TRUE(srv);
  Conn c1(srv->port());
  Conn c2(srv->port());
  for (Conn* c : {&c1, &c2}) {
    ASSERT_TRUE(c->send(get("/a")));
    ASSERT_TRUE(c->read_response());
  }
  Conn c3(srv->port());
  ASSERT_TRUE(c3.send(get("/a")));
  auto r = c3.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  expect_error_body(*r, "unavailable");
  EXPECT_TRUE(c3.closed_within(3s));
  EXPECT_NE(metrics.render().find("isle_http_open_connections 2"), std::string::npos) << metrics.render();
  EXPECT_NE(metrics.render().find("isle_http_rejected_connections_total 1"), std::string::npos);

  c1.close();  // a slot frees up
  auto deadline = Clock::now() + 3s;
  bool served = false;
  while (!served && Clock::now() < deadline) {
    Conn c4(srv->port());
    c4.send(get("/a"));
    auto r4 = c4.read_response();
    served = r4 && r4->status == 200;
    if (!served) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(served);
}

TEST(HttpServer, FullQueueAnswers429WithRetryAfter) {
  Gate gate;
  Router router;
  router.add("GET", "/block", [&](const HttpRequest&) {
    gate.wait_open();
    return HttpResponse::text(200, "done");
  });
  HttpServerOptions opt;
  opt.workers = 1;
  opt.max_queued = 1;
  auto srv = start(opt, std::move(router));
  ASSERT_TRUE(srv);
  Conn running(srv->port());
  ASSERT_TRUE(running.send(get("/block")));
  ASSERT_TRUE(gate.wait_waiters(1));
  Conn queued(srv->port());
  ASSERT_TRUE(queued.send(get("/block")));
  std::this_thread::sleep_for(200ms);
  Conn refused(srv->port());
  ASSERT_TRUE(refused.send(get("/block")));
  auto r = refused.read_response(2s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(r->header("retry-after"), "1");
  expect_error_body(*r, "too_many_requests");
  gate.open();
  auto r1 = running.read_response();
  auto r2 = queued.read_response();
  ASSERT_TRUE(r1);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r1->status, 200);
  EXPECT_EQ(r2->status, 200);
  // The refused connection stays usable.
  ASSERT_TRUE(refused.send(get("/block")));
  auto r3 = refused.read_response();
  ASSERT_TRUE(r3);
  EXPECT_EQ(r3->status, 200);
}

// ---- Auth -----------------------------------------------------------------------

TEST(HttpServer, BearerTokens) {
  Router router;
  router.add("GET", "/healthz", text("ok"), RouteOptions{.scope = Scope::kOpen});
  router.add("GET", "/data", text("secret data"));
  HttpServerOptions opt;
  TokenSet tokens;
  tokens.add("s3cret-token", kAllScopes);
  tokens.add("other", kAllScopes);
  opt.access.tokens = tokens;
  auto srv = start(opt, std::move(router));
  ASSERT_TRUE(srv);
  // A 401 closes the connection: each question gets its own.
  auto ask = [&srv](const std::string& req) {
    Conn c(srv->port());
    EXPECT_TRUE(c.send(req));
    auto r = c.read_response();
    EXPECT_TRUE(r);
    if (r && r->status == 401) {
      EXPECT_EQ(r->header("connection"), "close");
      EXPECT_TRUE(c.closed_within(3s));
    }
    return r.value_or(Response{});
  };
  auto r = ask(get("/data"));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.header("www-authenticate"), "Bearer");
  expect_error_body(r, "unauthorized");
  r = ask(get("/data", "Authorization: Bearer s3cret-tokem\r\n"));
  EXPECT_EQ(r.status, 401) << "same length, one byte off";
  r = ask(get("/data", "Authorization: Bearer s3cret\r\n"));
  EXPECT_EQ(r.status, 401) << "a prefix";
  r = ask(get("/data", "Authorization: Basic czNjcmV0LXRva2Vu\r\n"));
  EXPECT_EQ(r.status, 401);
  r = ask(get("/data", "Authorization: Bearer s3cret-token\r\n"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "secret data");
  r = ask(get("/data", "Authorization: bearer other\r\n"));
  EXPECT_EQ(r.status, 200) << "any configured token; the scheme is case-insensitive";
  r = ask(get("/healthz"));
  EXPECT_EQ(r.status, 200) << "open routes need no token";
  r = ask(get("/unknown"));
  EXPECT_EQ(r.status, 401) << "no route is discoverable without a token";
}

// Scopes: a token reaches the routes its scopes allow (403 otherwise);
// /status-like routes take any token; the browser checks run first.
TEST(HttpServer, ScopesOriginsAndHosts) {
  Router router;
  router.add("GET", "/read", text("r"), RouteOptions{.scope = Scope::kRead});
  router.add("PUT", "/write", text("w"), RouteOptions{.takes_body = true, .scope = Scope::kWrite});
  router.add("GET", "/status", text("s"), RouteOptions{.scope = Scope::kAnyToken});
  HttpServerOptions opt;
  TokenSet tokens;
  tokens.add("reader-token", scope_bit(Scope::kRead));
  tokens.add("writer-token", scope_bit(Scope::kWrite));
  opt.access.tokens = tokens;
  opt.access.allowed_origins = {"https://console.example"};
  auto srv = start(opt, std::move(router));
  ASSERT_TRUE(srv);
  auto ask = [&srv](const std::string& req) {
    Conn c(srv->port());
    EXPECT_TRUE(c.send(req));
    return c.read_response().value_or(Response{});
  };
  const std::string reader = "Authorization: Bearer reader-token\r\n";
  const std::string writer = "Authorization: Bearer writer-token\r\n";
  EXPECT_EQ(ask(get("/read", reader)).status, 200);
  Response r = ask(get("/read", writer));
  EXPECT_EQ(r.status, 403);
  expect_error_body(r, "forbidden");
  EXPECT_EQ(ask("PUT /write HTTP/1.1\r\nHost: localhost\r\n" + writer + "Content-Length: 1\r\n\r\nx").status, 200);
  EXPECT_EQ(ask("PUT /write HTTP/1.1\r\nHost: localhost\r\n" + reader + "Content-Length: 1\r\n\r\nx").status, 403);
  EXPECT_EQ(ask(get("/status", reader)).status, 200);
  EXPECT_EQ(ask(get("/status", writer)).status, 200);
  r = ask(get("/read", reader + "Origin: https://evil.example\r\n"));
  EXPECT_EQ(r.status, 403);
  expect_error_body(r, "forbidden_origin");
  EXPECT_EQ(ask(get("/read", reader + "Origin: https://console.example\r\n")).status, 200);
  // DNS rebinding: a page on rebind.example resolving to 127.0.0.1.
  r = ask("GET /read HTTP/1.1\r\nHost: rebind.example:7002\r\n" + reader + "\r\n");
  EXPECT_EQ(r.status, 403);
  expect_error_body(r, "forbidden_origin");
  EXPECT_EQ(ask("GET /read HTTP/1.1\r\nHost: 127.0.0.1:7002\r\n" + reader + "\r\n").status, 200);

  // SIGHUP's reload: the old token stops working, the new one works.
  TokenSet next;
  next.add("rotated", kAllScopes);
  srv->replace_tokens(next);
  EXPECT_EQ(ask(get("/read", reader)).status, 401);
  EXPECT_EQ(ask(get("/read", "Authorization: Bearer rotated\r\n")).status, 200);
}

// Idle connections that never show a token are capped separately from
// max_connections, so they cannot crowd out real clients for long.
TEST(HttpServer, UnauthenticatedConnectionsAreCapped) {
  Router router;
  router.add("GET", "/read", text("r"), RouteOptions{.scope = Scope::kRead});
  HttpServerOptions opt;
  TokenSet tokens;
  tokens.add("tok", kAllScopes);
  opt.access.tokens = tokens;
  opt.max_unauthenticated = 4;
  auto srv = start(opt, std::move(router));
  ASSERT_TRUE(srv);
  // One authenticated connection is not counted.
  Conn authed(srv->port());
  ASSERT_TRUE(authed.send(get("/read", "Authorization: Bearer tok\r\n")));
  ASSERT_TRUE(authed.read_response());
  std::vector<std::unique_ptr<Conn>> idle;
  for (int i = 0; i < 4; ++i) idle.push_back(std::make_unique<Conn>(srv->port()));
  std::this_thread::sleep_for(200ms);
  Conn extra(srv->port());
  auto r = extra.read_response(3s);
  ASSERT_TRUE(r) << "refused with an answer";
  EXPECT_EQ(r->status, 503);
  ASSERT_TRUE(authed.send(get("/read", "Authorization: Bearer tok\r\n")));
  auto a = authed.read_response();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->status, 200) << "the authenticated connection is unaffected";
  idle.clear();
  EXPECT_TRUE(eventually_ok([&] {
    Conn c(srv->port());
    c.send(get("/read", "Authorization: Bearer tok\r\n"));
    auto x = c.read_response(2s);
    return x && x->status == 200;
  }));
}

// ---- Streams --------------------------------------------------------------------

// A push producer the test drives: it keeps the sink, and records the
// calls the server makes.
class TestProducer final : public StreamProducer {
 public:
  explicit TestProducer(std::string first = "") : first_(std::move(first)) {}
  void on_open(std::shared_ptr<StreamSink> sink) override {
    std::lock_guard lk(mu_);
    sink_ = sink;
    if (!first_.empty()) sink->write(first_);
    opened_ = true;
    cv_.notify_all();
  }
  void on_close() override {
    std::lock_guard lk(mu_);
    closed_ = true;
    cv_.notify_all();
  }
  bool wait_opened(std::chrono::milliseconds t = 5s) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, t, [this] { return opened_; });
  }
  bool wait_closed(std::chrono::milliseconds t = 5s) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, t, [this] { return closed_; });
  }
  std::shared_ptr<StreamSink> sink() {
    std::lock_guard lk(mu_);
    return sink_;
  }
  bool opened() {
    std::lock_guard lk(mu_);
    return opened_;
  }

 private:
  const std::string first_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<StreamSink> sink_;
  bool opened_ = false;
  bool closed_ = false;
};

Handler stream_of(std::shared_ptr<StreamProducer> p) {
  return [p](const HttpRequest&) {
    HttpResponse r;
    r.content_type = "application/x-ndjson";
    r.stream = p;
    return r;
  };
}

TEST(HttpServer, StreamChunksArriveInOrderThenKeepAlive) {
  Router router;
  router.add("GET", "/stream", [](const HttpRequest&) {
    auto next = std::make_shared<int>(0);
    HttpResponse r;
    r.content_type = "application/x-ndjson";
    r.stream = pull_stream([next](StreamSink& w) {
      for (int k = 0; k < 10; ++k, ++*next) EXPECT_TRUE(w.write(std::to_string(*next) + "\n"));
      return *next < 50;
    });
    return r;
  });
  router.add("GET", "/empty", [](const HttpRequest&) {
    HttpResponse r;
    r.stream = pull_stream([](StreamSink&) { return false; });
    return r;
  });
  router.add("GET", "/a", text("a"));
  Metrics metrics;
  auto srv = start({}, std::move(router), &metrics);
  ASSERT_TRUE(srv);
  Conn c(srv->port());
  ASSERT_TRUE(c.send(get("/stream")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("transfer-encoding"), "chunked");
  EXPECT_EQ(r->header("content-type"), "application/x-ndjson");
  std::string want;
  for (int i = 0; i < 50; ++i) want += std::to_string(i) + "\n";
  EXPECT_EQ(r->body, want);
  ASSERT_TRUE(c.send(get("/empty")));
  auto e = c.read_response();
  ASSERT_TRUE(e) << "keep-alive after a stream";
  EXPECT_EQ(e->body, "");
  ASSERT_TRUE(c.send(get("/a")));
  auto a = c.read_response();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->body, "a");
  EXPECT_NE(metrics.render().find("isle_http_open_streams 0"), std::string::npos) << metrics.render();
}

TEST(HttpServer, PullStreamStopsOnceTheClientLeaves) {
  std::atomic<int> steps{0};
  auto producer = pull_stream([&](StreamSink& w) {
    ++steps;
    EXPECT_LE(w.buffered(), w.limit() / 4) << "a step runs only once the queue drained";
    return w.write(std::string(64 * 1024, 'z')) || !w.closed();
  });
  Router router;
  router.add("GET", "/firehose", stream_of(producer));
  auto srv = start({}, std::move(router));
  ASSERT_TRUE(srv);
  {
    Conn c(srv->port());
    ASSERT_TRUE(c.send(get("/firehose")));
    size_t pos = 0;
    ASSERT_TRUE(c.read_until("zzzz", &pos, Clock::now() + 5s));
    std::this_thread::sleep_for(200ms);  // the server fills its buffers
    c.abort();
  }
  EXPECT_TRUE(srv->drain(5s)) << "the stream is closed";
  const int after = steps.load();
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(steps.load(), after) << "no step after the client left";
  EXPECT_GT(after, 0);
}

TEST(HttpServer, QuietStreamSeesTheClientLeave) {
  auto p = std::make_shared<TestProducer>();
  Router router;
  router.add("GET", "/quiet", stream_of(p));
  auto srv = start({}, std::move(router));
  ASSERT_TRUE(srv);
  {
    Conn c(srv->port());
    ASSERT_TRUE(c.send(get("/quiet")));
    size_t pos = 0;
    ASSERT_TRUE(c.read_until("\r\n\r\n", &pos, Clock::now() + 5s)) << "the head goes out at once";
    c.close();
  }
  ASSERT_TRUE(p->wait_closed()) << "on_close after the client left";
  EXPECT_TRUE(p->sink()->closed());
  EXPECT_FALSE(p->sink()->write("late"));
}

// A client that stops reading costs the server at most the stream's byte
// bound: writes beyond it are refused, not buffered.
TEST(HttpServer, StreamQueueIsBoundedInBytes) {
  auto p = std::make_shared<TestProducer>();
  Router router;
  router.add("GET", "/tail", stream_of(p));
  HttpServerOptions opt;
  opt.max_stream_buffer_bytes = 256 * 1024;
  auto srv = start(opt, std::move(router));
  ASSERT_TRUE(srv);
  Conn c(srv->port());
  ASSERT_TRUE(c.send(get("/tail")));
  ASSERT_TRUE(p->wait_opened());
  auto sink = p->sink();
  EXPECT_EQ(sink->limit(), 256u * 1024);
  const std::string chunk(8 * 1024, 'q');
  size_t accepted = 0;
  for (int i = 0; i < 100'000 && accepted < (64u << 20); ++i) {
    if (sink->write(chunk)) {
      accepted += chunk.size();
      continue;
    }
    // Refused: the socket's kernel buffers are full too. Give the server
    // a moment to move what it can, then it must refuse for good.
    std::this_thread::sleep_for(20ms);
    if (!sink->write(chunk)) break;
    accepted += chunk.size();
  }
  EXPECT_LE(sink->buffered(), sink->limit());
  EXPECT_LT(accepted, 32u << 20) << "the client reads nothing: kernel buffers plus the bound, not 64 MiB";
  EXPECT_FALSE(sink->closed()) << "a full queue is not an error by itself";
  sink->end("bye\n");
  EXPECT_TRUE(sink->closed());
}

TEST(HttpServer, StreamCapAnswers503) {
  auto p = std::make_shared<TestProducer>();
  Router router;
  router.add("GET", "/quiet", stream_of(p));
  HttpServerOptions opt;
  opt.max_streams = 1;
  auto srv = start(opt, std::move(router));
  ASSERT_TRUE(srv);
  Conn c1(srv->port());
  ASSERT_TRUE(c1.send(get("/quiet")));
  size_t pos = 0;
  ASSERT_TRUE(c1.read_until("\r\n\r\n", &pos, Clock::now() + 5s));
  Conn c2(srv->port());
  ASSERT_TRUE(c2.send(get("/quiet")));
  auto r = c2.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  expect_error_body(*r, "too_many_streams");
}

TEST(HttpServer, HeadOnAStreamRouteOpensNothing) {
  auto p = std::make_shared<TestProducer>();
  Router router;
  router.add("GET", "/tail", stream_of(p));
  auto srv = start({}, std::move(router));
  ASSERT_TRUE(srv);
  Conn c(srv->port());
  ASSERT_TRUE(c.send("HEAD /tail HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  auto r = c.read_response(5s, /*head=*/true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-type"), "application/x-ndjson");
  ASSERT_TRUE(c.send(get("/nope")));
  auto n = c.read_response();
  ASSERT_TRUE(n) << "the connection goes on";
  EXPECT_EQ(n->status, 404);
  EXPECT_FALSE(p->opened()) << "HEAD starts no stream";
}

// ---- Shutdown -------------------------------------------------------------------

TEST(HttpServer, DrainWaitsForAnInFlightHandler) {
  Gate started;
  Router router;
  router.add("GET", "/slow", [&](const HttpRequest&) {
    started.open();
    std::this_thread::sleep_for(600ms);
    return HttpResponse::text(200, "slow done");
  });
  auto srv = start({}, std::move(router));
  ASSERT_TRUE(srv);
  Conn c(srv->port());
  ASSERT_TRUE(c.send(get("/slow")));
  started.wait_open();
  srv->stop_accepting();
  EXPECT_FALSE(Conn(srv->port()).connected()) << "no new connections";
  EXPECT_FALSE(srv->drain(50ms)) << "the handler is still running";
  auto t0 = Clock::now();
  EXPECT_TRUE(srv->drain(5s));
  EXPECT_GE(ms_since(t0), 300);
  auto r = c.read_response(100ms);  // already here when drain returned
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "slow done");
  EXPECT_EQ(r->header("connection"), "close") << "draining ends keep-alive";
  srv->stop();
}

TEST(HttpServer, DrainCancelsStreamsWhichEndProperly) {
  Router router;
  auto p = std::make_shared<TestProducer>("first\n");
  router.add("GET", "/tail", stream_of(p));
  auto srv = start({}, std::move(router));
  ASSERT_TRUE(srv);
  Conn c(srv->port());
  ASSERT_TRUE(c.send(get("/tail")));
  size_t pos = 0;
  ASSERT_TRUE(c.read_until("first", &pos, Clock::now() + 5s));
  EXPECT_TRUE(srv->drain(5s));
  auto r = c.read_response(2s);
  ASSERT_TRUE(r) << "the stream ended with its final chunk";
  EXPECT_EQ(r->body, "first\n");
  EXPECT_TRUE(p->wait_closed()) << "the producer heard the stream end";
  srv->stop();
}

TEST(HttpServer, StopClosesEverythingWithRequestsAndStreamsOpen) {
  Gate gate;
  Router router;
  router.add("GET", "/block", [&](const HttpRequest&) {
    gate.wait_open();
    return HttpResponse::text(200, "late");
  });
  router.add("GET", "/tail", [](const HttpRequest&) {
    HttpResponse r;
    r.stream = pull_stream([](StreamSink& w) {
      std::this_thread::sleep_for(1ms);
      return w.write("x");
    });
    return r;
  });
  HttpServerOptions opt;
  opt.workers = 2;
  auto srv = start(opt, std::move(router));
  ASSERT_TRUE(srv);
  Conn a(srv->port()), b(srv->port()), e(srv->port()), d(srv->port()), idle(srv->port());
  ASSERT_TRUE(a.send(get("/block")));
  ASSERT_TRUE(gate.wait_waiters(1));
  ASSERT_TRUE(d.send(get("/tail")));
  size_t pos = 0;
  ASSERT_TRUE(d.read_until("1\r\nx", &pos, Clock::now() + 5s));
  ASSERT_TRUE(b.send(get("/block")));
  ASSERT_TRUE(gate.wait_waiters(2));
  ASSERT_TRUE(e.send(get("/block")));  // queued behind a and b
  std::thread opener([&] {
    std::this_thread::sleep_for(100ms);
    gate.open();
  });
  srv->stop();
  opener.join();
  EXPECT_TRUE(idle.closed_within(2s));
  srv.reset();
}

// ---- TLS ------------------------------------------------------------------------

TEST(HttpServerTls, OneRequestOverTls) {
  testing::TempDir dir;
  std::string cert = dir.path() + "/cert.pem", key = dir.path() + "/key.pem";
  int rc = testing::run_program("/usr/bin/openssl",
                                {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                 "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost"});
  ASSERT_EQ(rc, 0) << "openssl req failed";
  Router router;
  router.add("GET", "/hello", text("over tls"));
  HttpServerOptions opt;
  opt.tls_cert_file = cert;
  opt.tls_key_file = key;
  auto srv = start(opt, std::move(router));
  ASSERT_TRUE(srv);

  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  ASSERT_NE(ctx, nullptr);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);  // self-signed
  {
    Conn c(srv->port(), ctx);
    ASSERT_TRUE(c.connected()) << "TLS handshake failed";
    ASSERT_TRUE(c.send(get("/hello")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "over tls");
    ASSERT_TRUE(c.send(get("/nope")));
    r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404);
  }
  {
    Conn plain(srv->port());  // plain HTTP to an HTTPS port gets nothing useful
    plain.send(get("/hello"));
    auto r = plain.read_response(2s);
    EXPECT_FALSE(r && r->status == 200);
  }
  SSL_CTX_free(ctx);
  srv->stop();
}

}  // namespace
}  // namespace isle::server
