// The daemons' view of HTTP: plain value types for a request and a response
// and a router that maps (method, path) to a handler. Nothing here includes
// Asio or Beast, so role code (writerd/, readerd/, ...) compiles without
// them; http_server.cc is the one place that speaks Beast.
//
// Threading contract (enforced by HttpServer):
//   * a Handler runs on the server's worker pool, never on the I/O thread,
//     so it may block on the object store;
//   * a streamed body (HttpResponse::stream) has no thread of its own: its
//     producer is called back on the I/O thread (open, close) and on a
//     small fixed pool of stream workers (more bytes wanted); open streams
//     are capped by HttpServerOptions::max_streams;
//   * responses on one connection go out in request order (the server
//     reads the next request only after the previous response was sent),
//     which makes pipelining safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/scope.h"

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

// The server's end of one streamed response body (chunked transfer
// encoding). Thread-safe; nothing here blocks. Bytes are queued and the
// server writes them asynchronously as the socket drains; the queue is
// bounded in bytes (HttpServerOptions::max_stream_buffer_bytes), so a
// client that stops reading costs at most that much.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  // Queues `data` as one chunk (empty data is ignored). False, with
  // nothing queued, once the stream is closed, or when the queue would
  // grow past limit() (a chunk larger than limit() is taken only into an
  // empty queue): the producer decides what a full queue means (a scan
  // keeps the chunk and waits for on_writable; a tail ends with a
  // slow_consumer error).
  virtual bool write(std::string_view data) = 0;
  // Ends the body after what is queued. `last`, if any, is queued first
  // even past limit() (keep it small: an error line). Idempotent.
  virtual void end(std::string_view last = {}) = 0;
  // Bytes queued or being written.
  virtual size_t buffered() const = 0;
  virtual size_t limit() const = 0;
  // The client left, the server is stopping or draining, or end() was
  // called: writes are refused from now on.
  virtual bool closed() const = 0;
  // Asks for one StreamProducer::on_writable call as soon as buffered()
  // is at most limit() / 4 (at once when it already is).
  virtual void request_writable() = 0;
};

// Produces a streamed body without a thread of its own: it is called
// when the stream opens, when it may write more (on request), and when
// the stream is over. Push producers (a tail) keep the sink and write
// whenever they have news; pull producers (a scan) write a bounded chunk
// per on_writable and request the next call.
class StreamProducer {
 public:
  virtual ~StreamProducer() = default;
  // The head is queued; `sink` stays usable until on_close (and is
  // harmless after: writes are refused). Runs on the server's I/O
  // thread: must not block.
  virtual void on_open(std::shared_ptr<StreamSink> sink) = 0;
  // After request_writable(). Runs on a stream worker thread and may
  // block on the object store; never two at once for one stream.
  virtual void on_writable(StreamSink& /*sink*/) {}
  // The stream is over (ended, client gone, server stopping). Exactly
  // once, after on_open; may run while an on_writable is still running.
  virtual void on_close() {}
};

// A pull producer from one function: `step` is called on a stream worker
// and writes a bounded amount (say 64 KiB) to the sink; it returns true
// to be called again once the queue drains, false when the body is done
// (the stream is then ended). A step that throws ends the stream without
// its final chunk, so the client sees a truncated body.
std::shared_ptr<StreamProducer> pull_stream(std::function<bool(StreamSink&)> step);

// A pull producer that only makes bytes: `step` appends its next chunk
// (about 64 KiB) to *chunk and returns true while more will follow; after
// it returns false the chunk is the body's last. A chunk the queue has no
// room for yet is kept and sent once the queue drains, so the producer
// never sees a refused write.
std::shared_ptr<StreamProducer> pull_chunks(std::function<bool(std::string* chunk)> step);

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  std::string body;
  // When set, `body` is ignored: the server sends the status and headers,
  // then drives the producer (see StreamProducer). A HEAD request gets the
  // headers alone and the producer is never opened.
  std::shared_ptr<StreamProducer> stream;

  // {"error":{"code":code,"message":message}} with this status.
  static HttpResponse error(int status, std::string_view code, std::string_view message);
  static HttpResponse json(int status, std::string body);
  static HttpResponse text(int status, std::string body, std::string content_type = "text/plain; charset=utf-8");
};

using Handler = std::function<HttpResponse(const HttpRequest&)>;

struct RouteOptions {
  // Whether the route reads a request body. A route that takes none
  // answers 413 body_not_allowed to any request that declares one
  // (Content-Length > 0 or chunked), before reading a byte of it.
  bool takes_body = false;
  // Largest request body a takes_body route accepts (413 beyond); 0 = the
  // server's max_body_bytes.
  uint64_t max_body_bytes = 0;
  // What a bearer token must allow to reach the route when tokens are
  // configured (see access.h). Defaults to the narrowest, kAdmin, so a
  // route that forgets to say is closed rather than open.
  Scope scope = Scope::kAdmin;
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
