// HttpServer: the HTTP/1.1 server every daemon runs (Beast + Asio, in
// http_server.cc only). One I/O thread accepts and reads; handlers run on
// a worker pool; streamed bodies run on their own threads.
//
// What it protects against (each has a test in http_server_test.cc):
//   * slow clients: the request head must arrive within header_timeout and
//     the body within body_timeout, else 408 and close; an idle keep-alive
//     connection is closed after idle_timeout. Reads are asynchronous, so a
//     client sending one byte a second holds nothing but its own socket;
//   * big requests: a head over max_header_bytes answers 431 (a request
//     line alone that long: 414), a body over the route's limit 413 — a
//     response, then close, never a silently dropped connection;
//   * too many connections: beyond max_connections a new connection gets
//     503 and is closed; beyond max_queued requests waiting for a worker
//     the server answers 429 with Retry-After;
//   * tokens: with auth tokens configured, every route but the open ones
//     needs "Authorization: Bearer <token>" (compared in constant time),
//     else 401 with WWW-Authenticate.
//
// Shutdown: stop_accepting() closes the listener; drain(timeout) waits for
// in-flight requests and streams (streams see cancelled()); stop() closes
// every connection and joins the threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "isle/status.h"
#include "server/http.h"

namespace isle::server {

class Metrics;

struct HttpServerOptions {
  std::string listen = "127.0.0.1:0";  // host:port; port 0 = any free port
  std::string tls_cert_file;           // PEM; both set = HTTPS only
  std::string tls_key_file;
  std::vector<std::string> auth_tokens;  // empty = no auth

  uint64_t max_header_bytes = 64 * 1024;
  uint64_t max_body_bytes = 64ull << 20;
  int max_connections = 1024;
  int max_streams = 256;
  int workers = 8;
  int max_queued = 1024;
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds body_timeout{60'000};
  std::chrono::milliseconds idle_timeout{60'000};
  std::chrono::milliseconds write_timeout{60'000};

  // One line per request, after its response was sent (access log).
  std::function<void(const HttpRequest&, int status, uint64_t bytes_sent,
                     std::chrono::microseconds elapsed)>
      on_request;
};

class HttpServer {
 public:
  class Impl;
  // Binds and listens (errors: the address in use, a bad TLS cert...), then
  // serves on its own threads until stop().
  static Result<std::unique_ptr<HttpServer>> start(HttpServerOptions options, Router router,
                                                   Metrics* metrics = nullptr);
  ~HttpServer();  // stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound "host:port" (the real port when 0 was asked for).
  std::string address() const;
  uint16_t port() const;

  void stop_accepting();
  // Waits until no request is in flight and no stream is open, or timeout;
  // returns whether it drained.
  bool drain(std::chrono::milliseconds timeout);
  void stop();

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace isle::server
