// A small blocking HTTP/1.1 client on POSIX sockets for the daemon
// integration tests: one request at a time on a kept-alive connection
// (Content-Length and chunked bodies), a streaming reader that hands out
// NDJSON lines or Server-Sent Events as they arrive, and a raw connection
// for sending deliberately broken or slow bytes.
//
// Nothing here throws on network trouble: a failed exchange is a result
// with status 0 and `error` saying what went wrong, so a test can tell
// "the server answered 4xx" from "the server dropped the connection".
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace isle::testing {

using Headers = std::vector<std::pair<std::string, std::string>>;
using Clock = std::chrono::steady_clock;

struct HttpResult {
  int status = 0;      // 0: no complete response (see error)
  std::string error;   // transport failure, when status == 0
  std::string reason;  // the status line's reason phrase
  Headers headers;     // names lower-cased, in arrival order
  std::string body;    // decoded (chunked framing removed)

  // The first value of a header (name in any case), or "" when absent.
  std::string header(std::string_view name) const;
  bool has_header(std::string_view name) const;
  // "503 {...body...}" or "transport error: ..." for assertion messages.
  std::string describe() const;
};

// One TCP connection with deadlines on every operation (poll-based).
class Connection {
 public:
  enum class Io { kOk, kEof, kTimeout, kError };

  Connection() = default;
  ~Connection();
  Connection(Connection&& o) noexcept;
  Connection& operator=(Connection&& o) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects to "host:port" (IPv4 dotted or "localhost").
  bool connect(const std::string& address, std::chrono::milliseconds timeout,
               std::string* error = nullptr);
  bool is_open() const { return fd_ >= 0; }
  void close();
  // Half-closes the sending side.
  void shutdown_write();

  Io send_all(std::string_view data, Clock::time_point deadline);
  // Appends what is available (at least one byte) to `in` unless EOF,
  // error or the deadline.
  Io recv_some(Clock::time_point deadline);
  // Bytes received and not yet consumed.
  std::string& in() { return in_; }
  // errno text of the last kError.
  const std::string& last_error() const { return last_error_; }

 private:
  int fd_ = -1;
  std::string in_;
  std::string last_error_;
};

// Reads one response (head, then body by its framing) from a Connection.
class ResponseReader {
 public:
  explicit ResponseReader(Connection& conn) : conn_(conn) {}

  // Reads the status line and headers. False on EOF/timeout/error (see
  // error()), or on a malformed head.
  bool read_head(HttpResult& out, Clock::time_point deadline, bool head_request = false);
  // Appends decoded body bytes to `out` until at least one byte arrived,
  // the body ended, or the deadline. Returns false when nothing was
  // appended and the body has not ended (timeout or error).
  bool read_body_some(std::string& out, Clock::time_point deadline);
  // Reads the remaining body to its end.
  bool read_body_all(std::string& out, Clock::time_point deadline);
  bool done() const { return state_ == State::kDone; }
  // The last false from read_head/read_body_* was a timeout, not an error.
  bool timed_out() const { return timed_out_; }
  // Whether the connection can carry another request afterwards.
  bool reusable() const { return done() && !close_after_; }
  // Whether any byte of the response arrived (for retrying on a stale
  // kept-alive connection).
  bool got_bytes() const { return got_bytes_; }
  const std::string& error() const { return error_; }

 private:
  enum class State { kHead, kLength, kChunkSize, kChunkData, kChunkDataEnd, kTrailers, kUntilEof, kDone };
  // Consumes framed bytes from the connection buffer into `out`.
  bool decode(std::string& out);
  bool fill(Clock::time_point deadline);

  Connection& conn_;
  State state_ = State::kHead;
  uint64_t remaining_ = 0;
  bool close_after_ = false;
  bool got_bytes_ = false;
  bool timed_out_ = false;
  std::string error_;
};

// Sends requests to one daemon and reuses the connection (keep-alive).
class HttpClient {
 public:
  explicit HttpClient(std::string address) : address_(std::move(address)) {}

  // Adds "Authorization: Bearer <token>" to every request ("" = none).
  void set_token(std::string token) { token_ = std::move(token); }
  const std::string& address() const { return address_; }

  HttpResult request(std::string_view method, std::string_view target, std::string_view body = {},
                     const Headers& headers = {},
                     std::chrono::milliseconds timeout = std::chrono::seconds(20));
  HttpResult get(std::string_view target, const Headers& headers = {}) {
    return request("GET", target, {}, headers);
  }
  HttpResult put(std::string_view target, std::string_view body) { return request("PUT", target, body); }
  HttpResult post(std::string_view target, std::string_view body = {}) {
    return request("POST", target, body);
  }
  HttpResult del(std::string_view target) { return request("DELETE", target); }

  // Connections opened so far (1 after many requests = keep-alive works).
  int connections_opened() const { return connections_opened_; }
  void close() { conn_.close(); }

 private:
  HttpResult attempt(std::string_view method, std::string_view target, std::string_view body,
                     const Headers& headers, Clock::time_point deadline, bool* retry);

  std::string address_;
  std::string token_;
  Connection conn_;
  int connections_opened_ = 0;
};

// One Server-Sent Events item: an event (id/event/data) or a comment
// (a heartbeat) that arrived on its own.
struct SseEvent {
  std::string id;
  bool has_id = false;
  std::string event;
  std::string data;               // data lines joined with '\n'
  bool has_data = false;
  std::vector<std::string> comments;
  bool empty() const { return !has_id && event.empty() && !has_data && comments.empty(); }
  bool is_comment() const { return !has_id && event.empty() && !has_data && !comments.empty(); }
};

// A streamed response read as it arrives.
class HttpStream {
 public:
  // Sends a request on a fresh connection and reads the response head.
  // status() is 0 when that failed (see error()). When the status is not
  // 2xx the whole body is read into body() right away.
  static std::unique_ptr<HttpStream> open(const std::string& address, std::string_view target,
                                          const Headers& headers = {},
                                          std::chrono::milliseconds timeout = std::chrono::seconds(20),
                                          std::string_view method = "GET",
                                          std::string_view body = {});

  int status() const { return head_.status; }
  const HttpResult& head() const { return head_; }
  const std::string& body() const { return head_.body; }
  const std::string& error() const { return error_; }

  // The next complete line (without "\n" / "\r\n"); nullopt when none
  // arrived within the timeout or the stream ended (see ended()).
  std::optional<std::string> next_line(std::chrono::milliseconds timeout);
  // The next SSE event or stand-alone comment; nullopt like next_line.
  std::optional<SseEvent> next_event(std::chrono::milliseconds timeout);
  // The body ended (final chunk or EOF) or failed.
  bool ended() const { return ended_; }
  // Undelivered decoded bytes (for diagnostics).
  const std::string& pending() const { return decoded_; }
  void close() { conn_.close(); ended_ = true; }

 private:
  HttpStream() : reader_(conn_) {}
  std::optional<std::string> take_line();

  Connection conn_;
  ResponseReader reader_;
  HttpResult head_;
  std::string decoded_;
  std::string error_;
  bool ended_ = false;
  SseEvent pending_;  // the event being assembled across next_event calls
};

// The exchange on a raw connection: send `bytes` as they are, then read
// one response (for malformed requests the client would never build).
HttpResult raw_exchange(const std::string& address, std::string_view bytes,
                        std::chrono::milliseconds timeout = std::chrono::seconds(20));

}  // namespace isle::testing
