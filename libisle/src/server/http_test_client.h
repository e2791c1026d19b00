// Test helpers for the HttpServer suites (http_server_test.cc,
// http_stream_test.cc): a raw-socket client over 127.0.0.1 that can do what
// well-behaved clients never do (send a byte a second, pipeline, send
// oversized heads, leave mid-stream), and small builders. Tests only.
#pragma once

#include "server/http_server.h"
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

namespace isle::server::httptest {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

inline long ms_since(Clock::time_point t0) {
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

inline std::string get(const std::string& target, const std::string& extra = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: localhost\r\n" + extra + "\r\n";
}

inline std::unique_ptr<HttpServer> start(HttpServerOptions opt, Router router, Metrics* metrics = nullptr) {
  auto r = HttpServer::start(std::move(opt), std::move(router), metrics);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  if (!r.ok()) return nullptr;
  return std::move(r).value();
}

inline Handler text(std::string body) {
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

inline bool eventually_ok(const std::function<bool()>& f, std::chrono::milliseconds timeout = 5s) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (f()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

inline void expect_error_body(const Response& r, const std::string& code) {
  EXPECT_EQ(r.header("content-type"), "application/json");
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.body;
  EXPECT_EQ(j["error"]["code"], code) << r.body;
  EXPECT_TRUE(j["error"]["message"].is_string()) << r.body;
}

}  // namespace isle::server::httptest
