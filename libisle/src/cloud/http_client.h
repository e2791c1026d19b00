// HttpClient: a blocking HTTP/1.1 client with a keep-alive connection pool,
// over Beast and OpenSSL, for the cloud object stores.
//
// One client talks to one endpoint (scheme, host, port). Any number of
// threads may call send() at once; each call borrows a pooled connection
// (or opens one), runs the exchange on that connection's own io_context
// with timeouts, and returns the connection to the pool if the response
// allows keep-alive. At most `max_connections` exchanges run at once; more
// callers wait their turn.
//
// Errors say whether the server may have acted on the request:
//   * Transient: it surely did not (DNS, connect, TLS handshake failed, or
//     not one byte of the request was written). Safe to resend anything.
//   * UnknownOutcome: the request was (partly) sent and no complete response
//     came back (reset, timeout, truncated response). Only idempotent
//     requests may be resent blindly.
//   * InvalidArgument: a request this client refuses to send (bad method,
//     CR/LF in a header).
// HTTP error statuses are not errors here: the caller reads `status`.
//
// A pooled connection idle for longer than `idle_timeout`, or one the
// server has already closed (seen with a zero-time poll before reuse), is
// dropped rather than reused: a request written onto a connection the
// server is closing would come back as UnknownOutcome.
//
// Beast and Asio stay in http_client.cc.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cloud/http_headers.h"
#include "isle/status.h"

namespace isle {

struct HttpEndpoint {
  bool tls = false;
  std::string host;  // DNS name or IP literal (IPv6 without brackets)
  uint16_t port = 0;

  // The Host header: "host" for the scheme's default port, else "host:port".
  std::string host_header() const;
  // "http(s)://host:port" (for messages).
  std::string to_string() const;
};

// Parses "http://host[:port][/path]" or "https://...". The path (without a
// trailing '/'; "" when none) goes to *path. InvalidArgument otherwise.
Result<HttpEndpoint> parse_http_endpoint(std::string_view url, std::string* path);

struct HttpClientOptions {
  std::chrono::milliseconds connect_timeout{5'000};  // DNS + TCP + TLS handshake
  std::chrono::milliseconds io_timeout{30'000};      // writing the request; reading the response
  std::chrono::milliseconds idle_timeout{15'000};    // pooled connections older than this close
  size_t max_connections = 64;                       // exchanges in flight at once
  std::string ca_file;      // PEM bundle to trust; empty = the system's CAs
  bool verify_tls = true;   // false only for tests against self-signed servers
};

struct HttpClientRequest {
  std::string_view method;        // "GET", "PUT", ...
  std::string_view target;        // encoded path and query, e.g. "/b/k?x=1"
  const HttpHeaders* headers = nullptr;  // sent as given (Host is added if absent)
  std::string_view body;          // sent without a copy; Content-Length set from it
  bool head = false;              // a HEAD: the response has no body whatever it says
  // A response whose body is longer than this is not read: the result has
  // the status and headers, body_skipped set, and the connection closes.
  uint64_t max_body = UINT64_MAX;
};

struct HttpClientResponse {
  int status = 0;
  HttpHeaders headers;  // names lower-case
  std::string body;
  bool body_skipped = false;  // longer than HttpClientRequest::max_body

  const std::string* header(std::string_view name) const { return find_header(headers, name); }
};

struct HttpClientStats {
  uint64_t requests = 0;
  uint64_t connections_opened = 0;
  uint64_t stale_dropped = 0;  // pooled connections found closed or too old
};

class HttpClient {
 public:
  // Fails with InvalidArgument when the TLS setup is bad (unreadable CA file).
  static Result<std::unique_ptr<HttpClient>> create(HttpEndpoint endpoint,
                                                    HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  Result<HttpClientResponse> send(const HttpClientRequest& request);

  const HttpEndpoint& endpoint() const;
  HttpClientStats stats() const;

  struct Impl;

 private:
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace isle
