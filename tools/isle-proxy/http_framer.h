// HttpFramer: finds HTTP/1.1 message boundaries in one direction of a
// connection, incrementally, without changing a byte. The proxy feeds it
// what it reads and forwards exactly the bytes it is told to, in order:
// a message's head (start line + headers) is held until complete, then
// released whole (so a delay can be applied before its first byte goes
// out); body bytes pass through as they arrive.
//
// Framing (RFC 9112 section 6): Transfer-Encoding whose only coding is
// `chunked` -> chunked body (chunk-size lines and trailers bounded by
// kMaxLineBytes); otherwise Content-Length; otherwise no body (requests) or
// a body until the connection closes (responses). Responses to HEAD, and
// 1xx, 204 and 304 responses, have no body; a 1xx other than 101 is an
// interim response (is_interim()).
//
// Strictness: lines end in CRLF; the start line must be well formed;
// header names are tokens; obsolete line folding, a Content-Length that is
// not a decimal number (or two that differ), and Transfer-Encoding together
// with Content-Length are malformed. Well-formed messages the framer
// cannot follow (CONNECT, an Upgrade or 101 exchange, a transfer coding
// other than chunked) are released and the framer switches to raw mode:
// every later byte is body. Memory: the head buffer holds at most
// max_header_bytes, the line buffer at most kMaxLineBytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace isle::proxy {

class HttpFramer {
 public:
  enum class Kind { kRequest, kResponse };

  enum class Event {
    kNeedMore,     // all `consumed` bytes were buffered into the head
    kHead,         // a head is complete: forward head() (the consumed bytes are in it)
    kBody,         // forward the `consumed` bytes as they are
    kMalformed,    // not HTTP/1.1 as above; the consumed bytes are in head()/dropped
    kHeadTooLarge  // the head exceeds max_header_bytes
  };
  struct Step {
    Event event;
    size_t consumed;  // bytes of the input this step used
  };

  static constexpr size_t kMaxLineBytes = 4096;

  HttpFramer(Kind kind, size_t max_header_bytes) : kind_(kind), max_header_(max_header_bytes) {}

  // Consumes a prefix of `data` (non-empty) and says what to do with it.
  Step step(std::string_view data);

  // For a response framer: the method of the request the next response
  // answers (its body rules depend on it). Set before the head completes.
  void set_request_method(std::string_view m) { request_method_ = m; }

  // After kHead: the raw head bytes, and what they said.
  const std::string& head() const { return head_; }
  const std::string& method() const { return method_; }  // requests
  const std::string& target() const { return target_; }  // requests
  int status() const { return status_; }                  // responses
  bool is_interim() const { return kind_ == Kind::kResponse && status_ >= 100 && status_ < 200 &&
                                   status_ != 101; }
  // Whether the framer gave up following messages (see the file comment)
  // and why; every later step is kBody.
  bool raw() const { return state_ == State::kRaw; }
  const std::string& raw_reason() const { return raw_reason_; }

  // Switches to raw mode (the proxy's fallback after a parse error).
  // Returns the bytes buffered for the unfinished head, to be forwarded
  // before anything else.
  std::string to_raw(std::string reason);

  // True between messages (nothing of the next message seen yet).
  bool idle() const { return state_ == State::kHead && (head_.empty() || head_done_); }

 private:
  enum class State { kHead, kLength, kChunkSize, kChunkData, kChunkDataEnd, kTrailer, kUntilClose,
                     kRaw };

  // Parses head_; sets the body state. Empty string or the reason it is
  // malformed; sets raw_reason_ when the message is fine but unfollowable.
  std::string parse_head();
  // Consumes one line (up to and including LF) into line_; true when the
  // line is complete. *n = bytes used.
  bool take_line(std::string_view data, size_t* n, bool* too_long);

  const Kind kind_;
  const size_t max_header_;
  State state_ = State::kHead;
  std::string head_;
  bool head_done_ = false;
  bool start_line_seen_ = false;  // an LF of the current head has been seen  // head_ holds a released head (cleared by the next step)
  std::string line_;
  std::string method_, target_, request_method_;
  int status_ = 0;
  uint64_t remaining_ = 0;  // kLength / kChunkData
  std::string raw_reason_;
};

}  // namespace isle::proxy
