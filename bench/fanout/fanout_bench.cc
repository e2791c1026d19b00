// isle_fanout_bench: many Server-Sent-Events tails on one tailerd, one
// write at a time, and how long the last subscriber waits.
//
// Opens N change tails (GET /v1/tail, Accept: text/event-stream) from one
// thread with epoll, waits until tailerd reports them all open, measures
// tailerd's RSS before and after (per idle stream), then K times: PUT one
// durable key through writerd and wait until every subscriber received it.
// Per write it records ack -> first subscriber, ack -> last subscriber and
// first -> last (the fan-out's own spread, which excludes the wait for
// tailerd's next refresh), and tailerd's CPU time over the whole phase.
// Prints one summary line per figure (median and p99 over the K writes).
//
// File descriptors: N sockets here and N in tailerd, each process under
// the machine's per-process hard limit (20,000 here: N <= ~19,000).
//
//   isle_fanout_bench --tailer HOST:PORT --tailer-pid PID --writer HOST:PORT
//                     [--n 10000] [--writes 20] [--ndjson]
//   isle_fanout_bench --floor [--n 10000] [--writes 20] [--threads 2]
//
// --floor measures the physical floor on this machine with no IsleDB in
// the way: `threads` threads send one small message on each of N accepted
// loopback sockets (what tailerd's event loops do per write, minus
// everything else) while this thread receives them as in the real run.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <atomic>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Addr {
  std::string host;
  int port = 0;
};

Addr parse_addr(const std::string& s) {
  auto c = s.rfind(':');
  return Addr{s.substr(0, c), std::atoi(s.c_str() + c + 1)};
}

int connect_to(const Addr& a, bool nonblocking) {
  int fd = ::socket(AF_INET, SOCK_STREAM | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) return -1;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(a.port));
  inet_pton(AF_INET, a.host.c_str(), &sa.sin_addr);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 && errno != EINPROGRESS) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// One blocking request/response on a fresh connection; returns the body.
std::string http(const Addr& a, const std::string& method, const std::string& target,
                 const std::string& body = "") {
  int fd = connect_to(a, false);
  if (fd < 0) return "";
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: " + a.host +
                    "\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) +
                    "\r\n\r\n" + body;
  (void)!::write(fd, req.data(), req.size());
  std::string in;
  char buf[65536];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) in.append(buf, static_cast<size_t>(n));
  ::close(fd);
  auto p = in.find("\r\n\r\n");
  return p == std::string::npos ? "" : in.substr(p + 4);
}

long status_number(const Addr& a, const std::string& field) {
  std::string body = http(a, "GET", "/v1/status");
  auto p = body.find("\"" + field + "\":");
  if (p == std::string::npos) return -1;
  return std::atol(body.c_str() + p + field.size() + 3);
}

long rss_kib(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

double cpu_seconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), {});
  auto p = all.rfind(')');
  std::istringstream rest(all.substr(p + 2));
  std::string f;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> f; ++i) {
    if (i == 14) utime = std::atol(f.c_str());
    if (i == 15) stime = std::atol(f.c_str());
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

struct Sub {
  int fd = -1;
  bool head = false;           // the 200 head arrived
  std::string window;          // the last bytes received (searching a marker)
  Clock::time_point got{};     // when the current marker arrived
  bool has = false;
};

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

}  // namespace

// The floor: N loopback connections, `threads` senders, one receiver.
int run_floor(int n, int writes, int threads) {
  int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(lfd, 4096) != 0 ||
      getsockname(lfd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    std::perror("listen");
    return 1;
  }
  const Addr addr{"127.0.0.1", ntohs(sa.sin_port)};
  int ep = epoll_create1(0);
  std::vector<int> client(static_cast<size_t>(n)), server(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    client[static_cast<size_t>(i)] = connect_to(addr, false);
    server[static_cast<size_t>(i)] = ::accept(lfd, nullptr, nullptr);
    int one = 1;
    setsockopt(server[static_cast<size_t>(i)], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(client[static_cast<size_t>(i)], F_SETFL, O_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<uint32_t>(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, client[static_cast<size_t>(i)], &ev);
  }
  std::vector<double> start_last, first_last;
  std::vector<epoll_event> evs(1024);
  char buf[65536];
  const std::string msg = "id: 12345\ndata: {\"seq\":12345,\"op\":\"put\",\"key\":\"fan-0\",\"value\":\"v\"}\n\n";
  for (int w = 0; w < writes; ++w) {
    const auto t0 = Clock::now();
    std::vector<std::thread> senders;
    for (int t = 0; t < threads; ++t) {
      senders.emplace_back([&, t] {
        for (int i = t; i < n; i += threads) (void)!::send(server[static_cast<size_t>(i)], msg.data(), msg.size(), MSG_NOSIGNAL);
      });
    }
    int have = 0;
    Clock::time_point first = Clock::time_point::max(), last{};
    while (have < n) {
      int k = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 1000);
      const auto now = Clock::now();
      for (int j = 0; j < k; ++j) {
        ssize_t r = ::read(client[evs[static_cast<size_t>(j)].data.u32], buf, sizeof buf);
        if (r > 0) {
          ++have;
          first = std::min(first, now);
          last = std::max(last, now);
        }
      }
      if (k <= 0) break;
    }
    for (auto& t : senders) t.join();
    start_last.push_back(ms(last - t0));
    first_last.push_back(ms(last - first));
  }
  std::printf("floor: %d loopback sockets, %d sender threads, %d rounds\n", n, threads, writes);
  std::printf("send start -> last receiver  p50 %.1f ms  p99 %.1f ms\n", pct(start_last, 0.5), pct(start_last, 0.99));
  std::printf("first -> last                p50 %.1f ms  p99 %.1f ms\n", pct(first_last, 0.5), pct(first_last, 0.99));
  for (int i = 0; i < n; ++i) {
    ::close(client[static_cast<size_t>(i)]);
    ::close(server[static_cast<size_t>(i)]);
  }
  return 0;
}

int main(int argc, char** argv) {
  std::string tailer_s, writer_s;
  int tailer_pid = 0, n = 10000, writes = 20, threads = 2;
  bool sse = true, floor = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return std::string(i + 1 < argc ? argv[++i] : ""); };
    if (a == "--tailer") tailer_s = next();
    else if (a == "--writer") writer_s = next();
    else if (a == "--tailer-pid") tailer_pid = std::atoi(next().c_str());
    else if (a == "--n") n = std::atoi(next().c_str());
    else if (a == "--writes") writes = std::atoi(next().c_str());
    else if (a == "--ndjson") sse = false;
    else if (a == "--floor") floor = true;
    else if (a == "--threads") threads = std::atoi(next().c_str());
    else {
      std::fprintf(stderr, "unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  setrlimit(RLIMIT_NOFILE, &lim);
  if (floor) return run_floor(n, writes, threads);
  if (tailer_s.empty() || writer_s.empty() || tailer_pid <= 0) {
    std::fprintf(stderr, "usage: %s --tailer HOST:PORT --tailer-pid PID --writer HOST:PORT [--n N] [--writes K]\n", argv[0]);
    return 2;
  }
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  const Addr tailer = parse_addr(tailer_s), writer = parse_addr(writer_s);

  const long rss_before = rss_kib(tailer_pid);
  const long threads_before = status_number(tailer, "open_tails");
  (void)threads_before;
  int ep = epoll_create1(0);
  std::vector<Sub> subs(static_cast<size_t>(n));
  const std::string req = std::string("GET /v1/tail HTTP/1.1\r\nHost: ") + tailer.host + "\r\n" +
                          (sse ? "Accept: text/event-stream\r\n" : "") + "\r\n";
  auto t_open = Clock::now();
  int opened = 0;
  for (int i = 0; i < n; ++i) {
    int fd = connect_to(tailer, false);
    if (fd < 0) {
      std::fprintf(stderr, "connect %d failed: %s\n", i, std::strerror(errno));
      return 1;
    }
    (void)!::write(fd, req.data(), req.size());
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    subs[static_cast<size_t>(i)].fd = fd;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<uint32_t>(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    ++opened;
  }
  std::vector<epoll_event> evs(1024);
  std::vector<uint32_t> touched;  // subscribers that received bytes this pump
  char buf[65536];
  auto pump = [&](int timeout_ms) {
    touched.clear();
    int k = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), timeout_ms);
    const auto now = Clock::now();
    for (int j = 0; j < k; ++j) {
      touched.push_back(evs[static_cast<size_t>(j)].data.u32);
      Sub& s = subs[evs[static_cast<size_t>(j)].data.u32];
      for (;;) {
        ssize_t r = ::read(s.fd, buf, sizeof buf);
        if (r <= 0) break;
        s.window.append(buf, static_cast<size_t>(r));
        if (!s.head && s.window.find("\r\n\r\n") != std::string::npos) {
          s.head = true;
          if (s.window.compare(0, 12, "HTTP/1.1 200") != 0) {
            std::fprintf(stderr, "a tail was refused: %.60s\n", s.window.c_str());
            std::exit(1);
          }
        }
        s.got = now;
        if (s.window.size() > 8192) s.window.erase(0, s.window.size() - 4096);
      }
    }
  };
  // Every head in, and tailerd says every tail is open.
  for (auto deadline = Clock::now() + std::chrono::seconds(120);;) {
    pump(100);
    long heads = std::count_if(subs.begin(), subs.end(), [](const Sub& s) { return s.head; });
    if (heads == n && status_number(tailer, "open_tails") >= n) break;
    if (Clock::now() > deadline) {
      std::fprintf(stderr, "only %ld of %d tails opened\n", heads, n);
      return 1;
    }
  }
  const double open_s = ms(Clock::now() - t_open) / 1000;
  // Let allocations settle, then weigh the idle streams.
  for (int i = 0; i < 20; ++i) pump(100);
  const long rss_idle = rss_kib(tailer_pid);

  std::vector<double> ack_first, ack_last, first_last;
  const double cpu0 = cpu_seconds(tailer_pid);
  for (int w = 0; w < writes; ++w) {
    const std::string key = "fan-" + std::to_string(w) + "-" + std::to_string(std::rand());
    for (auto& s : subs) {
      s.window.clear();
      s.has = false;
    }
    http(writer, "PUT", "/v1/kv/" + key, "v");
    const auto acked = Clock::now();
    int have = 0;
    Clock::time_point first = Clock::time_point::max(), last{};
    for (auto deadline = acked + std::chrono::seconds(30); have < n && Clock::now() < deadline;) {
      pump(50);
      for (uint32_t i : touched) {
        Sub& s = subs[i];
        if (s.has || s.window.find(key) == std::string::npos) continue;
        s.has = true;
        ++have;
        first = std::min(first, s.got);
        last = std::max(last, s.got);
      }
    }
    if (have < n) {
      std::fprintf(stderr, "write %d reached %d of %d tails\n", w, have, n);
      return 1;
    }
    ack_first.push_back(ms(first - acked));
    ack_last.push_back(ms(last - acked));
    first_last.push_back(ms(last - first));
  }
  const double cpu = cpu_seconds(tailer_pid) - cpu0;
  const long rss_after = rss_kib(tailer_pid);

  std::printf("tails %d (%s), opened in %.1f s\n", n, sse ? "SSE" : "NDJSON", open_s);
  std::printf("tailerd RSS: %ld KiB before, %ld KiB with the tails idle (%.1f KiB per stream), %ld KiB after %d writes\n",
              rss_before, rss_idle, static_cast<double>(rss_idle - rss_before) / n, rss_after, writes);
  std::printf("ack -> first subscriber  p50 %.1f ms  p99 %.1f ms\n", pct(ack_first, 0.5), pct(ack_first, 0.99));
  std::printf("ack -> last subscriber   p50 %.1f ms  p99 %.1f ms\n", pct(ack_last, 0.5), pct(ack_last, 0.99));
  std::printf("first -> last (fan-out)  p50 %.1f ms  p99 %.1f ms\n", pct(first_last, 0.5), pct(first_last, 0.99));
  std::printf("tailerd CPU: %.3f s over %d writes (%.1f ms per write)\n", cpu, writes, cpu * 1000 / writes);
  for (auto& s : subs) ::close(s.fd);
  return 0;
}
