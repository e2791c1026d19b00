// A scripted HTTP server for client tests: a listening socket on
// 127.0.0.1 and one thread per connection running the test's own function,
// so a test decides byte by byte what the "server" does (answer, close an
// idle connection, cut a response short, never answer, answer 500).
//
// Used where no real server can be made to misbehave on cue; the real
// servers (Ceph RGW, Azurite) cover the normal paths.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cloud/http_client.h"

namespace isle::testing {

// Reads one request (headers plus Content-Length bytes); false on EOF.
inline bool read_request(int fd, std::string* out) {
  std::string buf;
  char tmp[4096];
  size_t header_end = std::string::npos;
  while ((header_end = buf.find("\r\n\r\n")) == std::string::npos) {
    ssize_t n = ::read(fd, tmp, sizeof tmp);
    if (n <= 0) return false;
    buf.append(tmp, static_cast<size_t>(n));
  }
  size_t want = header_end + 4;
  size_t cl = buf.find("Content-Length: ");
  if (cl == std::string::npos) cl = buf.find("content-length: ");
  if (cl != std::string::npos && cl < header_end) want += std::stoul(buf.substr(cl + 16));
  while (buf.size() < want) {
    ssize_t n = ::read(fd, tmp, sizeof tmp);
    if (n <= 0) return false;
    buf.append(tmp, static_cast<size_t>(n));
  }
  *out = buf.substr(0, want);
  return true;
}

inline void write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::write(fd, s.data(), s.size());
    if (n <= 0) return;
    s.remove_prefix(static_cast<size_t>(n));
  }
}

inline std::string ok_response(std::string_view body, bool close = false) {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
         (close ? "Connection: close\r\n" : "") + "\r\n" + std::string(body);
}

// A listening socket; `serve(fd)` runs on its own thread per connection.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::function<void(int)> serve) : serve_(std::move(serve)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 64);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] {
      for (;;) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        accepted_++;
        std::lock_guard lock(mu_);
        workers_.emplace_back([this, c] {
          serve_(c);
          ::close(c);
        });
      }
    });
  }
  ~ScriptedServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    acceptor_.join();
    std::lock_guard lock(mu_);
    for (auto& t : workers_) t.join();
  }
  HttpEndpoint endpoint() const { return {false, "127.0.0.1", port_}; }
  int accepted() const { return accepted_.load(); }

 private:
  std::function<void(int)> serve_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<int> accepted_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> workers_;
};

// A request as the server saw it; header names lower-cased.
struct SeenRequest {
  std::string method;
  std::string target;
  HttpHeaders headers;
  std::string body;

  std::string header(std::string_view name) const {
    const std::string* v = find_header(headers, name);
    return v ? *v : std::string();
  }
};

inline SeenRequest parse_request(const std::string& raw) {
  SeenRequest r;
  size_t line_end = raw.find("\r\n");
  std::string line = raw.substr(0, line_end);
  size_t sp1 = line.find(' ');
  size_t sp2 = line.find(' ', sp1 + 1);
  r.method = line.substr(0, sp1);
  r.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  size_t header_end = raw.find("\r\n\r\n");
  size_t pos = line_end + 2;
  while (pos < header_end) {
    size_t eol = raw.find("\r\n", pos);
    std::string h = raw.substr(pos, eol - pos);
    size_t colon = h.find(':');
    std::string name = h.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    size_t v = h.find_first_not_of(' ', colon + 1);
    r.headers.emplace_back(name, v == std::string::npos ? "" : h.substr(v));
    pos = eol + 2;
  }
  r.body = raw.substr(header_end + 4);
  return r;
}

// An HTTP response with the given status, extra header lines ("Name: v"
// each) and body. Content-Length is the body's unless a header line sets it
// (a HEAD answer states the object's length and sends no body).
inline std::string http_response(int status, const std::vector<std::string>& headers,
                                 std::string_view body = "") {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " X\r\n";
  bool has_length = false;
  for (const auto& h : headers) {
    out += h + "\r\n";
    has_length = has_length || h.starts_with("Content-Length:");
  }
  if (!has_length) out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  out += "\r\n";
  out += body;
  return out;
}

// A keep-alive server that answers each request with `respond(request)`
// (called under a lock, in arrival order) and records every request.
class FakeHttpServer {
 public:
  using Responder = std::function<std::string(const SeenRequest&)>;
  explicit FakeHttpServer(Responder respond)
      : respond_(std::move(respond)), server_([this](int fd) { serve(fd); }) {}

  HttpEndpoint endpoint() const { return server_.endpoint(); }
  std::vector<SeenRequest> requests() {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  void serve(int fd) {
    std::string raw;
    while (read_request(fd, &raw)) {
      std::string out;
      {
        std::lock_guard lock(mu_);
        seen_.push_back(parse_request(raw));
        out = respond_(seen_.back());
      }
      write_all(fd, out);
    }
  }

  Responder respond_;
  std::mutex mu_;
  std::vector<SeenRequest> seen_;
  ScriptedServer server_;  // last: its threads use the members above
};

}  // namespace isle::testing
