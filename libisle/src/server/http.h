// The daemons' view of HTTP: plain value types for a request and a response
// and a router that maps (method, path) to a handler. Nothing here includes
// Asio or Beast, so role code (writerd/, readerd/, ...) compiles without
// them; http_server.cc is the one place that speaks Beast.
//
// Threading contract (enforced by HttpServer):
//   * a Handler runs on the server's worker pool, never on the I/O thread,
//     so it may block on the object store;
//   * a streamed body (HttpResponse::stream) runs on a thread of its own,
//     one per open stream, capped by HttpServerOptions::max_streams;
//   * responses on one connection go out in request order (the server
//     reads the next request only after the previous response was sent),
//     which makes pipelining safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace isle::server {

struct HttpRequest {
  std::string method;  // "GET", "PUT", ... as sent
  std::string target;  // raw request-target, e.g. "/v1/kv/a%2Fb?ttl=30s"
  std::string path;    // target before '?', still percent-encoded
  std::string query;   // target after '?', still encoded ("" when none)
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string remote;  // "ip:port" of the peer, for logs

  // The header's value, or nullopt (name given lower-case).
  std::optional<std::string> header(std::string_view lower_name) const;
};

// Writes one streamed response body (chunked transfer encoding). Called
// from the stream's own thread. write() blocks while the client is slow
// (bounded buffering: a stalled client stalls its own stream, nothing
// else) and returns false once the client is gone or the server is
// stopping; the producer should then return promptly.
class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  // Sends the status line and headers now (write() does it on first use).
  virtual bool begin() = 0;
  virtual bool write(std::string_view chunk) = 0;
  // Whether the client is gone or the server is stopping.
  virtual bool cancelled() const = 0;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  std::string body;
  // When set, `body` is ignored: the server sends the status and headers,
  // then runs this on a stream thread. Returning ends the response.
  std::function<void(StreamWriter&)> stream;

  // {"error":{"code":code,"message":message}} with this status.
  static HttpResponse error(int status, std::string_view code, std::string_view message);
  static HttpResponse json(int status, std::string body);
  static HttpResponse text(int status, std::string body, std::string content_type = "text/plain; charset=utf-8");
};

using Handler = std::function<HttpResponse(const HttpRequest&)>;

struct RouteOptions {
  // Largest request body this route accepts (413 beyond); 0 = the server's
  // max_body_bytes.
  uint64_t max_body_bytes = 0;
  // Reachable without a bearer token even when tokens are configured
  // (only /healthz by default).
  bool open = false;
  // Label used in metrics and logs ("" = the pattern).
  std::string name;
};

// Exact paths ("/v1/flush") or prefixes ending in '*' ("/v1/kv/*": the rest
// of the path is the handler's to parse). A path that matches with another
// method answers 405 with Allow; no match answers 404. HEAD is served by
// the GET route when the path has no HEAD route (the server drops the body).
class Router {
 public:
  void add(std::string method, std::string pattern, Handler handler, RouteOptions options = {});

  struct Match {
    const Handler* handler = nullptr;  // nullptr: see status
    const RouteOptions* options = nullptr;
    std::string pattern;               // also set for 405 (a metrics label)
    int status = 200;                  // 404 or 405 when handler is null
    std::string allow;                 // for 405: "GET, HEAD"
  };
  Match match(std::string_view method, std::string_view path) const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    Handler handler;
    RouteOptions options;
  };
  std::vector<Route> routes_;
};

// Percent-decoding (only %XX is decoded; '+' stays '+'). nullopt on a
// malformed escape (a '%' not followed by two hex digits).
std::optional<std::string> percent_decode(std::string_view s);
// Encodes every byte outside [A-Za-z0-9-._~] as %XX.
std::string percent_encode(std::string_view s);
// Splits "a=1&b=%2F" into decoded pairs, in order; nullopt on a malformed
// escape. A key without '=' has the value "".
std::optional<std::vector<std::pair<std::string, std::string>>> parse_query(std::string_view query);

}  // namespace isle::server
