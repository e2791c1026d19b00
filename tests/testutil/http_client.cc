// Implementation of the tests' HTTP/1.1 client (see http_client.h): poll()
// deadlines on non-blocking sockets, Content-Length / chunked / until-EOF
// bodies, and line and SSE framing on top of a streamed body.
#include "testutil/http_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

namespace isle::testing {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) b++;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) e--;
  return std::string(s.substr(b, e - b));
}

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (left <= 0) return 0;
  return static_cast<int>(std::min<int64_t>(left, 1 << 30));
}

bool header_has_token(const HttpResult& r, std::string_view name, std::string_view token) {
  std::string want = lower(token);
  for (const auto& [n, v] : r.headers) {
    if (n != name) continue;
    if (lower(v).find(want) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

// ---- HttpResult -----------------------------------------------------------

std::string HttpResult::header(std::string_view name) const {
  std::string want = lower(name);
  for (const auto& [n, v] : headers) {
    if (n == want) return v;
  }
  return "";
}

bool HttpResult::has_header(std::string_view name) const {
  std::string want = lower(name);
  for (const auto& [n, v] : headers) {
    if (n == want) return true;
  }
  return false;
}

std::string HttpResult::describe() const {
  if (status == 0) return "transport error: " + error;
  std::string b = body.size() > 600 ? body.substr(0, 600) + "...(" + std::to_string(body.size()) + " bytes)" : body;
  return std::to_string(status) + " " + b;
}

// ---- Connection -----------------------------------------------------------

Connection::~Connection() { close(); }

Connection::Connection(Connection&& o) noexcept
    : fd_(o.fd_), in_(std::move(o.in_)), last_error_(std::move(o.last_error_)) {
  o.fd_ = -1;
}

Connection& Connection::operator=(Connection&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = o.fd_;
    in_ = std::move(o.in_);
    last_error_ = std::move(o.last_error_);
    o.fd_ = -1;
  }
  return *this;
}

void Connection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  in_.clear();
}

void Connection::shutdown_write() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

bool Connection::connect(const std::string& address, std::chrono::milliseconds timeout,
                         std::string* error) {
  close();
  auto fail = [&](const std::string& why) {
    if (error) *error = why;
    close();
    return false;
  };
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) return fail("address without port: " + address);
  std::string host = address.substr(0, colon);
  std::string port = address.substr(colon + 1);
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) return fail("getaddrinfo(" + address + "): " + gai_strerror(rc));
  fd_ = ::socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
  if (fd_ < 0) {
    freeaddrinfo(res);
    return fail(std::string("socket: ") + std::strerror(errno));
  }
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);
  rc = ::connect(fd_, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  if (rc != 0 && errno != EINPROGRESS) return fail("connect(" + address + "): " + std::strerror(errno));
  if (rc != 0) {
    pollfd p{fd_, POLLOUT, 0};
    int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (n <= 0) return fail("connect(" + address + "): timed out");
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return fail("connect(" + address + "): " + std::strerror(err));
  }
  return true;
}

Connection::Io Connection::send_all(std::string_view data, Clock::time_point deadline) {
  if (fd_ < 0) {
    last_error_ = "not connected";
    return Io::kError;
  }
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd_, POLLOUT, 0};
      int ms = remaining_ms(deadline);
      if (ms == 0) return Io::kTimeout;
      int r = ::poll(&p, 1, ms);
      if (r == 0) return Io::kTimeout;
      continue;
    }
    last_error_ = std::string("send: ") + std::strerror(errno);
    return Io::kError;
  }
  return Io::kOk;
}

Connection::Io Connection::recv_some(Clock::time_point deadline) {
  if (fd_ < 0) {
    last_error_ = "not connected";
    return Io::kError;
  }
  char buf[65536];
  for (;;) {
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      in_.append(buf, static_cast<size_t>(n));
      return Io::kOk;
    }
    if (n == 0) return Io::kEof;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      last_error_ = std::string("recv: ") + std::strerror(errno);
      return Io::kError;
    }
    int ms = remaining_ms(deadline);
    if (ms == 0) return Io::kTimeout;
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, ms);
    if (r == 0) return Io::kTimeout;
    if (r < 0 && errno != EINTR) {
      last_error_ = std::string("poll: ") + std::strerror(errno);
      return Io::kError;
    }
  }
}

// ---- ResponseReader -------------------------------------------------------

bool ResponseReader::fill(Clock::time_point deadline) {
  timed_out_ = false;
  switch (conn_.recv_some(deadline)) {
    case Connection::Io::kOk:
      got_bytes_ = true;
      return true;
    case Connection::Io::kEof:
      if (state_ == State::kUntilEof) {
        state_ = State::kDone;
        return true;
      }
      error_ = state_ == State::kHead && !got_bytes_ ? "connection closed before a response"
                                                     : "connection closed mid-response";
      return false;
    case Connection::Io::kTimeout:
      timed_out_ = true;
      error_ = "timed out";
      return false;
    case Connection::Io::kError:
      error_ = conn_.last_error();
      return false;
  }
  return false;
}

bool ResponseReader::read_head(HttpResult& out, Clock::time_point deadline, bool head_request) {
  for (;;) {
    std::string& in = conn_.in();
    size_t end = in.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (!fill(deadline)) return false;
      continue;
    }
    std::string head = in.substr(0, end);
    in.erase(0, end + 4);
    got_bytes_ = true;
    // Status line.
    size_t eol = head.find("\r\n");
    std::string status_line = head.substr(0, eol);
    if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12) {
      error_ = "malformed status line: " + status_line;
      return false;
    }
    bool http10 = status_line.compare(0, 8, "HTTP/1.0") == 0;
    out = HttpResult{};
    out.status = std::atoi(status_line.c_str() + 9);
    out.reason = status_line.size() > 13 ? status_line.substr(13) : "";
    size_t pos = eol == std::string::npos ? head.size() : eol + 2;
    while (pos < head.size()) {
      size_t next = head.find("\r\n", pos);
      if (next == std::string::npos) next = head.size();
      std::string line = head.substr(pos, next - pos);
      pos = next + 2;
      size_t colon = line.find(':');
      if (colon == std::string::npos) {
        error_ = "malformed header line: " + line;
        return false;
      }
      out.headers.emplace_back(lower(trim(line.substr(0, colon))), trim(line.substr(colon + 1)));
    }
    if (out.status >= 100 && out.status < 200) continue;  // 100 Continue: the real head follows
    close_after_ = header_has_token(out, "connection", "close") ||
                   (http10 && !header_has_token(out, "connection", "keep-alive"));
    if (head_request || out.status == 204 || out.status == 304) {
      state_ = State::kDone;
    } else if (header_has_token(out, "transfer-encoding", "chunked")) {
      state_ = State::kChunkSize;
    } else if (out.has_header("content-length")) {
      remaining_ = std::strtoull(out.header("content-length").c_str(), nullptr, 10);
      state_ = remaining_ == 0 ? State::kDone : State::kLength;
    } else {
      state_ = State::kUntilEof;
      close_after_ = true;
    }
    return true;
  }
}

bool ResponseReader::decode(std::string& out) {
  std::string& in = conn_.in();
  for (;;) {
    switch (state_) {
      case State::kHead:
        error_ = "body read before head";
        return false;
      case State::kDone:
        return true;
      case State::kUntilEof:
        out += in;
        in.clear();
        return true;
      case State::kLength: {
        size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, in.size()));
        out.append(in, 0, n);
        in.erase(0, n);
        remaining_ -= n;
        if (remaining_ == 0) {
          state_ = State::kDone;
          continue;
        }
        return true;
      }
      case State::kChunkSize: {
        size_t eol = in.find("\r\n");
        if (eol == std::string::npos) return true;
        std::string line = in.substr(0, eol);
        in.erase(0, eol + 2);
        char* end = nullptr;
        remaining_ = std::strtoull(line.c_str(), &end, 16);
        if (end == line.c_str()) {
          error_ = "malformed chunk size: " + line;
          return false;
        }
        state_ = remaining_ == 0 ? State::kTrailers : State::kChunkData;
        continue;
      }
      case State::kChunkData: {
        if (in.empty()) return true;
        size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, in.size()));
        out.append(in, 0, n);
        in.erase(0, n);
        remaining_ -= n;
        if (remaining_ == 0) state_ = State::kChunkDataEnd;
        continue;
      }
      case State::kChunkDataEnd:
        if (in.size() < 2) return true;
        if (in.compare(0, 2, "\r\n") != 0) {
          error_ = "chunk not followed by CRLF";
          return false;
        }
        in.erase(0, 2);
        state_ = State::kChunkSize;
        continue;
      case State::kTrailers: {
        size_t eol = in.find("\r\n");
        if (eol == std::string::npos) return true;
        bool last = eol == 0;
        in.erase(0, eol + 2);
        if (last) state_ = State::kDone;
        continue;
      }
    }
  }
}

bool ResponseReader::read_body_some(std::string& out, Clock::time_point deadline) {
  timed_out_ = false;
  for (;;) {
    size_t before = out.size();
    if (!decode(out)) return false;
    if (out.size() > before || done()) return true;
    if (!fill(deadline)) return false;
  }
}

bool ResponseReader::read_body_all(std::string& out, Clock::time_point deadline) {
  while (!done()) {
    if (!read_body_some(out, deadline)) return false;
  }
  return true;
}

// ---- HttpClient -----------------------------------------------------------

namespace {

std::string build_request(std::string_view method, std::string_view target, std::string_view body,
                          const Headers& headers, const std::string& address,
                          const std::string& token) {
  bool has_length = false, has_auth = false, has_host = false;
  for (const auto& [n, v] : headers) {
    std::string l = lower(n);
    has_length |= l == "content-length" || l == "transfer-encoding";
    has_auth |= l == "authorization";
    has_host |= l == "host";
  }
  std::string req;
  req.reserve(256 + target.size() + body.size());
  req.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  if (!has_host) req.append("Host: ").append(address).append("\r\n");
  if (!has_auth && !token.empty()) req.append("Authorization: Bearer ").append(token).append("\r\n");
  for (const auto& [n, v] : headers) req.append(n).append(": ").append(v).append("\r\n");
  if (!has_length && (!body.empty() || method == "PUT" || method == "POST" || method == "PATCH")) {
    req.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  req.append("\r\n");
  req.append(body);
  return req;
}

}  // namespace

HttpResult HttpClient::attempt(std::string_view method, std::string_view target,
                               std::string_view body, const Headers& headers,
                               Clock::time_point deadline, bool* retry) {
  *retry = false;
  HttpResult out;
  bool reused = conn_.is_open();
  if (!reused) {
    std::string err;
    if (!conn_.connect(address_, std::chrono::milliseconds(remaining_ms(deadline)), &err)) {
      out.error = err;
      return out;
    }
    connections_opened_++;
  }
  std::string req = build_request(method, target, body, headers, address_, token_);
  Connection::Io io = conn_.send_all(req, deadline);
  if (io != Connection::Io::kOk && reused) {
    // The server closed the kept-alive connection in the meantime.
    conn_.close();
    *retry = true;
    return out;
  }
  // A send error does not end the exchange: the server may have answered
  // (413) and closed before taking the whole body.
  ResponseReader reader(conn_);
  if (!reader.read_head(out, deadline, method == "HEAD")) {
    std::string err = reader.error();
    if (io != Connection::Io::kOk) err = conn_.last_error() + "; then " + err;
    conn_.close();
    if (reused && !reader.got_bytes() && !reader.timed_out()) {
      *retry = true;
      return out;
    }
    out = HttpResult{};
    out.error = err;
    return out;
  }
  if (!reader.read_body_all(out.body, deadline)) {
    conn_.close();
    int status = out.status;
    out.status = 0;
    out.error = "status " + std::to_string(status) + " but the body failed: " + reader.error();
    return out;
  }
  if (!reader.reusable() || io != Connection::Io::kOk) conn_.close();
  return out;
}

HttpResult HttpClient::request(std::string_view method, std::string_view target,
                               std::string_view body, const Headers& headers,
                               std::chrono::milliseconds timeout) {
  Clock::time_point deadline = Clock::now() + timeout;
  bool retry = false;
  HttpResult r = attempt(method, target, body, headers, deadline, &retry);
  if (retry) r = attempt(method, target, body, headers, deadline, &retry);
  return r;
}

// ---- HttpStream -----------------------------------------------------------

std::unique_ptr<HttpStream> HttpStream::open(const std::string& address, std::string_view target,
                                             const Headers& headers,
                                             std::chrono::milliseconds timeout,
                                             std::string_view method, std::string_view body) {
  std::unique_ptr<HttpStream> s(new HttpStream());
  Clock::time_point deadline = Clock::now() + timeout;
  std::string err;
  if (!s->conn_.connect(address, timeout, &err)) {
    s->error_ = err;
    s->ended_ = true;
    return s;
  }
  std::string req = build_request(method, target, body, headers, address, "");
  if (s->conn_.send_all(req, deadline) != Connection::Io::kOk) {
    s->error_ = s->conn_.last_error();
    s->ended_ = true;
    return s;
  }
  if (!s->reader_.read_head(s->head_, deadline)) {
    s->error_ = s->reader_.error();
    s->head_.status = 0;
    s->ended_ = true;
    return s;
  }
  if (s->head_.status < 200 || s->head_.status >= 300) {
    s->reader_.read_body_all(s->head_.body, deadline);
    s->ended_ = true;
  }
  return s;
}

std::optional<std::string> HttpStream::take_line() {
  size_t nl = decoded_.find('\n');
  if (nl == std::string::npos) return std::nullopt;
  std::string line = decoded_.substr(0, nl);
  decoded_.erase(0, nl + 1);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

std::optional<std::string> HttpStream::next_line(std::chrono::milliseconds timeout) {
  Clock::time_point deadline = Clock::now() + timeout;
  for (;;) {
    if (auto line = take_line()) return line;
    if (ended_) {
      if (!decoded_.empty()) {
        std::string rest = std::move(decoded_);
        decoded_.clear();
        return rest;
      }
      return std::nullopt;
    }
    if (reader_.done()) {
      ended_ = true;
      continue;
    }
    if (!reader_.read_body_some(decoded_, deadline)) {
      if (reader_.timed_out()) return std::nullopt;
      error_ = reader_.error();
      ended_ = true;
    }
  }
}

std::optional<SseEvent> HttpStream::next_event(std::chrono::milliseconds timeout) {
  Clock::time_point deadline = Clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() < 0) left = std::chrono::milliseconds(0);
    std::optional<std::string> line = next_line(left);
    if (!line) {
      if (ended_ && !pending_.empty()) {
        SseEvent e = std::move(pending_);
        pending_ = SseEvent{};
        return e;
      }
      return std::nullopt;
    }
    if (line->empty()) {
      if (pending_.empty()) continue;
      SseEvent e = std::move(pending_);
      pending_ = SseEvent{};
      return e;
    }
    if ((*line)[0] == ':') {
      std::string text = line->substr(1);
      if (!text.empty() && text[0] == ' ') text.erase(0, 1);
      if (pending_.empty()) {
        // A heartbeat on its own: hand it out now.
        SseEvent e;
        e.comments.push_back(text);
        return e;
      }
      pending_.comments.push_back(text);
      continue;
    }
    size_t colon = line->find(':');
    std::string field = line->substr(0, colon);
    std::string value = colon == std::string::npos ? "" : line->substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    if (field == "data") {
      if (pending_.has_data) pending_.data += '\n';
      pending_.data += value;
      pending_.has_data = true;
    } else if (field == "id") {
      pending_.id = value;
      pending_.has_id = true;
    } else if (field == "event") {
      pending_.event = value;
    }
    // "retry" and unknown fields are ignored, as EventSource does.
  }
}

// ---- raw_exchange ---------------------------------------------------------

HttpResult raw_exchange(const std::string& address, std::string_view bytes,
                        std::chrono::milliseconds timeout) {
  HttpResult out;
  Clock::time_point deadline = Clock::now() + timeout;
  Connection conn;
  std::string err;
  if (!conn.connect(address, timeout, &err)) {
    out.error = err;
    return out;
  }
  Connection::Io io = conn.send_all(bytes, deadline);
  ResponseReader reader(conn);
  if (!reader.read_head(out, deadline)) {
    out = HttpResult{};
    out.error = reader.error();
    if (io != Connection::Io::kOk) out.error = conn.last_error() + "; then " + out.error;
    return out;
  }
  if (!reader.read_body_all(out.body, deadline)) {
    int status = out.status;
    out.status = 0;
    out.error = "status " + std::to_string(status) + " but the body failed: " + reader.error();
  }
  return out;
}

}  // namespace isle::testing
