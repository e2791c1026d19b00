// HttpServer: the HTTP/1.1 server every daemon runs (Beast + Asio, in
// http_server.cc and http_session.cc only). A few I/O threads (io_threads)
// accept, read and write every connection asynchronously; handlers run on
// a fixed worker pool; streamed bodies are written as the socket drains,
// with no thread per stream (see StreamProducer in http.h). No thread
// count grows with the number of connections or streams.
//
// What it protects against (each has a test in http_server_test.cc):
//   * slow clients: the request head must arrive within header_timeout and
//     the body within body_timeout, else 408 and close; an idle keep-alive
//     connection is closed after idle_timeout. Reads are asynchronous, so a
//     client sending one byte a second holds nothing but its own socket;
//   * big requests: a head over max_header_bytes answers 431 (a request
//     line alone that long: 414), a body over the route's limit 413 — a
//     response, then close, never a silently dropped connection;
//   * bodies where none belongs: a route that takes no body answers 413
//     body_not_allowed to a declared one, before reading it;
//   * chunk extensions and trailers: the connection's read buffer is
//     capped (max_header_bytes + 16 KiB for a head, 8 KiB beyond the body
//     for chunk lines and trailers): more is 400 and close;
//   * too many connections: beyond max_connections a new connection gets
//     503 and is closed; beyond max_queued requests waiting for a worker
//     the server answers 429 with Retry-After; with tokens on, beyond
//     max_unauthenticated connections that have not yet shown a valid
//     token a new connection gets 503 and is closed;
//   * streams: each queues at most max_stream_buffer_bytes for its client
//     (StreamSink::write refuses more); beyond max_streams open ones a
//     new stream gets 503;
//   * access (access.h): Origin and Host checks, then bearer tokens with
//     scopes: 403 forbidden_origin, 401 (then close) or 403 forbidden;
//   * TLS: the handshake must finish within handshake_timeout.
//
// Shutdown: stop_accepting() closes the listener; drain(timeout) ends every
// open stream properly (final chunk; producers get on_close) and waits for
// in-flight requests; stop() closes every connection and joins the
// threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "isle/status.h"
#include "server/access.h"
#include "server/http.h"

namespace isle::server {

class Metrics;

struct HttpServerOptions {
  std::string listen = "127.0.0.1:0";  // host:port; port 0 = any free port
  std::string tls_cert_file;           // PEM; both set = HTTPS only
  std::string tls_key_file;
  // Tokens, origins, hosts (access.h). loopback_listener is set by the
  // server from the address it binds.
  AccessOptions access;

  uint64_t max_header_bytes = 64 * 1024;
  uint64_t max_body_bytes = 64ull << 20;
  uint64_t max_stream_buffer_bytes = 4ull << 20;
  int max_connections = 1024;
  int max_unauthenticated = 256;
  int max_streams = 256;
  int workers = 8;
  int stream_workers = 2;
  int io_threads = 1;
  int max_queued = 1024;
  std::chrono::milliseconds handshake_timeout{5'000};
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

  // Swaps the bearer tokens (SIGHUP); connections already authenticated
  // keep going, every later request is checked against the new set.
  void replace_tokens(TokenSet tokens);

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
