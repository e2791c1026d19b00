// Proxy over real loopback sockets: a scripted upstream that records every
// byte it receives and answers request i once it has received the first i
// requests' bytes, a blocking client, and the proxy running in-process.
// Delays are checked through the proxy's own samples (values drawn from the
// seed), never through wall time.
#include "proxy.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <thread>

#include "testutil/testutil.h"

namespace isle::proxy {
namespace {

int listen_loopback(uint16_t* port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 16) != 0) {
    std::abort();
  }
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

void set_timeout(int fd) {
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads exactly n bytes (fewer on EOF, error or timeout).
std::string recv_n(int fd, size_t n) {
  std::string out;
  char buf[65536];
  while (out.size() < n) {
    ssize_t r = ::recv(fd, buf, std::min(sizeof buf, n - out.size()), 0);
    if (r <= 0) break;
    out.append(buf, static_cast<size_t>(r));
  }
  return out;
}

// Reads until EOF; false on an error or timeout other than a reset.
bool recv_until_eof(int fd, std::string* out) {
  char buf[4096];
  for (;;) {
    ssize_t r = ::recv(fd, buf, sizeof buf, 0);
    if (r == 0) return true;
    if (r < 0) return errno == ECONNRESET;
    out->append(buf, static_cast<size_t>(r));
  }
}

// Accepts connections one after another. On each it answers responses[i]
// once it has received sum(len(requests[0..i])) bytes, then records the
// rest until EOF.
class Upstream {
 public:
  // answer_delay: a pause before each answer, so that everything a client
  // can send without waiting has arrived by then.
  Upstream(std::vector<std::string> requests, std::vector<std::string> responses,
           std::chrono::milliseconds answer_delay = std::chrono::milliseconds(0))
      : requests_(std::move(requests)),
        responses_(std::move(responses)),
        answer_delay_(answer_delay) {
    fd_ = listen_loopback(&port_);
    thread_ = std::thread([this] { serve(); });
  }
  ~Upstream() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  uint16_t port() const { return port_; }
  std::string received() {
    std::lock_guard l(mu_);
    return received_;
  }
  int connections() const { return connections_.load(); }
  // For each response sent: how many bytes had been received then.
  std::vector<size_t> received_at_answer() {
    std::lock_guard l(mu_);
    return received_at_answer_;
  }

 private:
  void serve() {
    while (!stop_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      connections_++;
      set_timeout(c);
      size_t answered = 0, need = 0;
      char buf[65536];
      for (;;) {
        ssize_t r = ::recv(c, buf, sizeof buf, 0);
        if (r <= 0) break;
        size_t total;
        {
          std::lock_guard l(mu_);
          received_.append(buf, static_cast<size_t>(r));
          total = received_.size();
        }
        while (answered < requests_.size() && total >= need + requests_[answered].size()) {
          need += requests_[answered].size();
          if (answer_delay_.count() > 0) {
            std::this_thread::sleep_for(answer_delay_);
            // Take in whatever arrived meanwhile.
            for (;;) {
              ssize_t more = ::recv(c, buf, sizeof buf, MSG_DONTWAIT);
              if (more <= 0) break;
              std::lock_guard l(mu_);
              received_.append(buf, static_cast<size_t>(more));
              total = received_.size();
            }
          }
          {
            std::lock_guard l(mu_);
            received_at_answer_.push_back(total);
          }
          send_all(c, responses_[answered]);
          answered++;
        }
      }
      ::close(c);
    }
  }

  std::vector<std::string> requests_, responses_;
  std::chrono::milliseconds answer_delay_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::mutex mu_;
  std::string received_;
  std::vector<size_t> received_at_answer_;
};

class RunningProxy {
 public:
  explicit RunningProxy(ProxyConfig c) {
    auto p = Proxy::create(std::move(c));
    if (!p.ok()) {
      ADD_FAILURE() << p.status().to_string();
      std::abort();
    }
    proxy_ = std::move(*p);
    thread_ = std::thread([this] { proxy_->run(); });
  }
  ~RunningProxy() {
    proxy_->stop();
    thread_.join();
  }
  Proxy& operator*() { return *proxy_; }
  Proxy* operator->() { return proxy_.get(); }

  int connect() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(proxy_->port());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) std::abort();
    set_timeout(fd);
    return fd;
  }

 private:
  std::unique_ptr<Proxy> proxy_;
  std::thread thread_;
};

ProxyConfig config_for(uint16_t upstream_port, const std::string& rules_yaml,
                       const std::string& limits_yaml = "") {
  std::string y = "version: 1\nlisten: 127.0.0.1:0\nupstream: 127.0.0.1:" +
                  std::to_string(upstream_port) + "\nseed: 9\n" + limits_yaml + rules_yaml;
  auto c = parse_proxy_config(y);
  if (!c.ok()) {
    ADD_FAILURE() << c.status().to_string();
    std::abort();
  }
  return *c;
}

std::string response(const std::string& body) {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

const char* kRules = R"(rules:
  - name: reads
    match: {methods: [GET, HEAD]}
    delay: {distribution: lognormal, p50: 20ms, p99: 60ms}
  - name: writes
    match: {methods: [PUT, POST]}
    delay: {distribution: fixed, value: 15ms}
)";

TEST(ProxyTest, EachRequestOnAKeepAliveConnectionIsDelayed) {
  const std::vector<std::string> reqs = {
      "GET /b/k1 HTTP/1.1\r\nHost: x\r\n\r\n",
      "PUT /b/k2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
      "GET /b/k2 HTTP/1.1\r\nHost: x\r\n\r\n",
      "DELETE /b/k2 HTTP/1.1\r\nHost: x\r\n\r\n",
  };
  const std::vector<std::string> resps = {response("one"), response(""), response("abc"),
                                          "HTTP/1.1 204 No Content\r\n\r\n"};
  Upstream up(reqs, resps);
  RunningProxy proxy(config_for(up.port(), kRules));
  int fd = proxy.connect();
  for (size_t i = 0; i < reqs.size(); i++) {
    ASSERT_TRUE(send_all(fd, reqs[i]));
    EXPECT_EQ(recv_n(fd, resps[i].size()), resps[i]) << i;
  }
  ::close(fd);
  EXPECT_EQ(up.received(), reqs[0] + reqs[1] + reqs[2] + reqs[3]);
  EXPECT_EQ(up.connections(), 1);

  // The same seed, drawn in the same order: GET lognormal, PUT fixed, GET
  // lognormal; the DELETE matches no rule.
  Random r(9);
  const Distribution reads{Distribution::Kind::kLognormal, 20, 60};
  const auto g1 = reads.sample(r);
  const auto g2 = reads.sample(r);
  auto samples = proxy->delay_samples();
  ASSERT_EQ(samples.size(), 3u);
  EXPECT_EQ(samples[0].method, "GET");
  EXPECT_EQ(samples[0].rule, "reads");
  EXPECT_EQ(samples[0].delay, g1);
  EXPECT_EQ(samples[1].method, "PUT");
  EXPECT_EQ(samples[1].rule, "writes");
  EXPECT_EQ(samples[1].delay, std::chrono::milliseconds(15));
  EXPECT_EQ(samples[2].delay, g2);
  for (const auto& s : samples) {
    EXPECT_EQ(s.connection, 1u);
    EXPECT_EQ(s.direction, Direction::kRequest);
  }
  const auto st = proxy->stats();
  EXPECT_EQ(st.requests, 4u);
  EXPECT_EQ(st.responses, 4u);
  EXPECT_EQ(st.delayed, 3u);
  EXPECT_EQ(st.delay_us_total,
            static_cast<uint64_t>((g1 + g2 + std::chrono::milliseconds(15)).count()));
  EXPECT_EQ(st.parse_fallbacks, 0u);
}

TEST(ProxyTest, ChunkedAndContentLengthBodiesPassThroughByteExact) {
  std::string binary;
  for (int i = 0; i < 200'000; i++) binary.push_back(static_cast<char>((i * 7 + i / 256) & 0xff));
  std::string chunked = "POST /b?delete HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (size_t off = 0; off < binary.size(); off += 70'000) {
    const std::string part = binary.substr(off, 70'000);
    char hex[32];
    std::snprintf(hex, sizeof hex, "%zx;x=y\r\n", part.size());
    chunked += hex + part + "\r\n";
  }
  chunked += "0\r\nX-Trailer: 1\r\n\r\n";
  const std::string cl = "PUT /b/big HTTP/1.1\r\nContent-Length: " +
                         std::to_string(binary.size()) + "\r\n\r\n" + binary;
  std::string chunked_resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  chunked_resp += "5\r\nhello\r\n0\r\n\r\n";
  const std::vector<std::string> reqs = {chunked, cl, "GET /b/big HTTP/1.1\r\n\r\n"};
  const std::vector<std::string> resps = {chunked_resp, response(""), response(binary)};
  Upstream up(reqs, resps);
  // Small buffers: every body crosses many reads.
  RunningProxy proxy(config_for(up.port(), kRules, "limits: {buffer_bytes: 4KiB}\n"));
  int fd = proxy.connect();
  for (size_t i = 0; i < reqs.size(); i++) {
    ASSERT_TRUE(send_all(fd, reqs[i]));
    EXPECT_TRUE(recv_n(fd, resps[i].size()) == resps[i]) << i;
  }
  ::close(fd);
  EXPECT_TRUE(up.received() == chunked + cl + reqs[2]);
  EXPECT_EQ(proxy->stats().requests, 3u);
  EXPECT_EQ(proxy->stats().responses, 3u);
  EXPECT_EQ(proxy->delay_samples().size(), 3u);
}

TEST(ProxyTest, PipelinedRequestsAreSplitAndEachDelayed) {
  const std::vector<std::string> reqs = {"GET /b/1 HTTP/1.1\r\n\r\n",
                                         "PUT /b/2 HTTP/1.1\r\nContent-Length: 2\r\n\r\nxy"};
  const std::vector<std::string> resps = {response("first"), response("second")};
  Upstream up(reqs, resps);
  RunningProxy proxy(config_for(up.port(), kRules));
  int fd = proxy.connect();
  ASSERT_TRUE(send_all(fd, reqs[0] + reqs[1]));  // one write
  EXPECT_EQ(recv_n(fd, resps[0].size() + resps[1].size()), resps[0] + resps[1]);
  ::close(fd);
  EXPECT_EQ(up.received(), reqs[0] + reqs[1]);
  auto samples = proxy->delay_samples();
  ASSERT_EQ(samples.size(), 2u);
  EXPECT_EQ(samples[0].method, "GET");
  EXPECT_EQ(samples[1].method, "PUT");
  EXPECT_EQ(samples[1].delay, std::chrono::milliseconds(15));
}

TEST(ProxyTest, MaxPipelinedHoldsARequestUntilAResponseFreesASlot) {
  const std::string r = "GET /b/x HTTP/1.1\r\n\r\n";
  const std::vector<std::string> reqs = {r, r, r};
  const std::vector<std::string> resps = {response("1"), response("2"), response("3")};
  Upstream up(reqs, resps, std::chrono::milliseconds(50));
  RunningProxy proxy(config_for(up.port(), "", "limits: {max_pipelined: 1}\n"));
  int fd = proxy.connect();
  ASSERT_TRUE(send_all(fd, r + r + r));  // three at once
  EXPECT_EQ(recv_n(fd, 3 * resps[0].size()), resps[0] + resps[1] + resps[2]);
  ::close(fd);
  // One request in flight at a time: when the upstream answered request i
  // it had received exactly i requests.
  EXPECT_EQ(up.received_at_answer(),
            (std::vector<size_t>{r.size(), 2 * r.size(), 3 * r.size()}));
  EXPECT_EQ(proxy->stats().requests, 3u);
}

TEST(ProxyTest, ResponseRulesDelayTheMatchingResponse) {
  const std::vector<std::string> reqs = {"HEAD /b/1 HTTP/1.1\r\n\r\n", "GET /b/1 HTTP/1.1\r\n\r\n"};
  // The HEAD response announces a length but carries no body.
  const std::vector<std::string> resps = {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
                                          response("hello")};
  Upstream up(reqs, resps);
  RunningProxy proxy(config_for(up.port(), R"(rules:
  - name: slow-get-response
    match: {methods: [GET], direction: response}
    delay: {distribution: fixed, value: 5ms}
)"));
  int fd = proxy.connect();
  ASSERT_TRUE(send_all(fd, reqs[0] + reqs[1]));
  EXPECT_EQ(recv_n(fd, resps[0].size() + resps[1].size()), resps[0] + resps[1]);
  ::close(fd);
  auto samples = proxy->delay_samples();
  ASSERT_EQ(samples.size(), 1u);
  EXPECT_EQ(samples[0].direction, Direction::kResponse);
  EXPECT_EQ(samples[0].method, "GET");
  EXPECT_EQ(proxy->stats().responses, 2u);
}

TEST(ProxyTest, AMalformedRequestClosesTheConnection) {
  Upstream up({}, {});
  RunningProxy proxy(config_for(up.port(), kRules));
  int fd = proxy.connect();
  ASSERT_TRUE(send_all(fd, "GET /ok HTTP/1.1\r\nBad Header: x\r\n\r\n"));
  std::string got;
  EXPECT_TRUE(recv_until_eof(fd, &got));
  EXPECT_EQ(got, "");
  ::close(fd);
  EXPECT_EQ(proxy->stats().malformed_closed, 1u);
  EXPECT_EQ(proxy->stats().requests, 0u);
  EXPECT_EQ(up.received(), "");
}

TEST(ProxyTest, OnParseErrorForwardFallsBackToBytes) {
  const std::string garbage = "HELLO THERE\x01\r\nthis is not http\r\n\r\n";
  const std::string get = "GET /after HTTP/1.1\r\n\r\n";
  Upstream up({garbage + get}, {"raw answer"});
  RunningProxy proxy(
      config_for(up.port(), kRules, "limits: {on_parse_error: forward}\n"));
  int fd = proxy.connect();
  ASSERT_TRUE(send_all(fd, garbage));
  ASSERT_TRUE(send_all(fd, get));
  EXPECT_EQ(recv_n(fd, 10), "raw answer");
  ::close(fd);
  EXPECT_EQ(up.received(), garbage + get);
  EXPECT_EQ(proxy->stats().parse_fallbacks, 1u);
  EXPECT_EQ(proxy->stats().malformed_closed, 0u);
  // Nothing after the fallback is framed or delayed.
  EXPECT_EQ(proxy->stats().requests, 0u);
  EXPECT_TRUE(proxy->delay_samples().empty());
}

TEST(ProxyTest, AnUnfinishedHeadAtEndOfStreamIsStillForwarded) {
  Upstream up({}, {});
  RunningProxy proxy(config_for(up.port(), kRules));
  int fd = proxy.connect();
  ASSERT_TRUE(send_all(fd, "GET /partial HTT"));
  ::shutdown(fd, SHUT_WR);
  std::string got;
  // The upstream closes after its EOF, and only then does the client get one.
  EXPECT_TRUE(recv_until_eof(fd, &got));
  ::close(fd);
  EXPECT_EQ(up.received(), "GET /partial HTT");
  EXPECT_EQ(proxy->stats().requests, 0u);
}

TEST(ProxyTest, AnOversizedHeaderClosesTheConnection) {
  Upstream up({}, {});
  RunningProxy proxy(config_for(up.port(), kRules, "limits: {max_header_bytes: 1KiB}\n"));
  int fd = proxy.connect();
  const std::string big = "GET / HTTP/1.1\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n";
  send_all(fd, big);  // may fail part-way once the proxy closes
  std::string got;
  EXPECT_TRUE(recv_until_eof(fd, &got));
  EXPECT_EQ(got, "");
  ::close(fd);
  EXPECT_EQ(proxy->stats().oversized_closed, 1u);
  EXPECT_EQ(up.received(), "");
}

TEST(ProxyTest, ConnectionsOverTheLimitAreRefused) {
  Upstream up({"GET / HTTP/1.1\r\n\r\n"}, {response("x")});
  RunningProxy proxy(config_for(up.port(), kRules, "limits: {max_connections: 1}\n"));
  int a = proxy.connect();
  ASSERT_TRUE(send_all(a, "GET / HTTP/1.1\r\n\r\n"));
  EXPECT_EQ(recv_n(a, response("x").size()), response("x"));  // a is established
  int b = proxy.connect();
  std::string got;
  EXPECT_TRUE(recv_until_eof(b, &got));
  EXPECT_EQ(got, "");
  ::close(a);
  ::close(b);
  EXPECT_EQ(proxy->stats().rejected, 1u);
  EXPECT_EQ(proxy->stats().connections, 1u);
}

TEST(ProxyTest, AnUnreachableUpstreamClosesTheClient) {
  uint16_t dead_port = 0;
  int fd0 = listen_loopback(&dead_port);
  ::close(fd0);  // nothing listens there now
  RunningProxy proxy(config_for(dead_port, kRules));
  int fd = proxy.connect();
  std::string got;
  EXPECT_TRUE(recv_until_eof(fd, &got));
  ::close(fd);
  EXPECT_EQ(proxy->stats().upstream_failures, 1u);
}

// Reads from fd into *out until `want` appears, EOF, or 10 s pass.
bool read_until(int fd, std::string* out, const std::string& want) {
  for (;;) {
    if (!want.empty() && out->find(want) != std::string::npos) return true;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10'000) <= 0) return false;
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return want.empty();
    out->append(buf, static_cast<size_t>(n));
  }
}

TEST(ProxyTest, TheBinaryLogsItsStatsAndExits0OnSigterm) {
  isle::testing::TempDir dir;
  const std::string config = dir.path() + "/proxy.yaml";
  std::ofstream(config) << "version: 1\nlisten: 127.0.0.1:0\nupstream: 127.0.0.1:9\n" << kRules;
  const std::string bin = isle::testing::built_program("isle-proxy");
  int err[2];
  ASSERT_EQ(::pipe(err), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(err[1], 2);
    ::close(err[0]);
    ::execl(bin.c_str(), bin.c_str(), "--config", config.c_str(), nullptr);
    ::_exit(127);
  }
  ::close(err[1]);
  std::string log;
  EXPECT_TRUE(read_until(err[0], &log, "listening on")) << log;
  ::kill(pid, SIGTERM);
  EXPECT_TRUE(read_until(err[0], &log, "")) << log;
  ::close(err[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << log;
  EXPECT_EQ(WEXITSTATUS(status), 0) << log;
  EXPECT_NE(log.find("stats: connections=0 rejected=0"), std::string::npos) << log;
  EXPECT_NE(log.find("parse_fallbacks=0"), std::string::npos) << log;
}

}  // namespace
}  // namespace isle::proxy
