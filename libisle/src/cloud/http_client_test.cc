// HttpClient against a scripted server on 127.0.0.1 (plain POSIX sockets,
// one thread per connection), so each test controls exactly what the
// "server" does: answer, close an idle connection, cut a response short,
// or never answer. What must hold: keep-alive reuse, the Transient vs
// UnknownOutcome split, timeouts, the concurrency cap, endpoint parsing.
#include "cloud/http_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "cloud/scripted_server_test_util.h"

namespace isle {
namespace {

using testing::ok_response;
using testing::read_request;
using testing::ScriptedServer;
using testing::write_all;

std::unique_ptr<HttpClient> make_client(const HttpEndpoint& ep, HttpClientOptions o = {}) {
  auto c = HttpClient::create(ep, o);
  EXPECT_TRUE(c.ok()) << c.status().to_string();
  return std::move(c).value();
}

Result<HttpClientResponse> get(HttpClient& c, std::string_view target = "/x") {
  HttpClientRequest r;
  r.method = "GET";
  r.target = target;
  return c.send(r);
}

TEST(HttpClientTest, KeepAliveReusesOneConnection) {
  ScriptedServer server([](int fd) {
    std::string req;
    while (read_request(fd, &req)) {
      std::string path = req.substr(4, req.find(' ', 4) - 4);
      write_all(fd, ok_response("body of " + path));
    }
  });
  auto client = make_client(server.endpoint());
  for (int i = 0; i < 20; i++) {
    auto r = get(*client, "/k" + std::to_string(i));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "body of /k" + std::to_string(i));
    ASSERT_NE(r->header("Content-Length"), nullptr);
  }
  EXPECT_EQ(client->stats().connections_opened, 1u);
  EXPECT_EQ(server.accepted(), 1);
}

TEST(HttpClientTest, SendsBodyHeadersAndHost) {
  std::string seen;
  std::mutex mu;
  ScriptedServer server([&](int fd) {
    std::string req;
    while (read_request(fd, &req)) {
      {
        std::lock_guard lock(mu);
        seen = req;
      }
      write_all(fd, ok_response(""));
    }
  });
  auto client = make_client(server.endpoint());
  HttpHeaders h = {{"X-Test", "one"}, {"content-length", "999"}};
  HttpClientRequest r;
  r.method = "PUT";
  r.target = "/b/k%20x?a=1";
  r.headers = &h;
  r.body = std::string_view("payload\0bytes", 13);
  ASSERT_TRUE(client->send(r).ok());
  std::lock_guard lock(mu);
  EXPECT_TRUE(seen.starts_with("PUT /b/k%20x?a=1 HTTP/1.1\r\n")) << seen;
  EXPECT_NE(seen.find("X-Test: one\r\n"), std::string::npos);
  EXPECT_NE(seen.find("Host: 127.0.0.1:" + std::to_string(server.endpoint().port)),
            std::string::npos);
  // The caller's Content-Length is ignored: the client derives it.
  EXPECT_NE(seen.find("Content-Length: 13\r\n"), std::string::npos) << seen;
  EXPECT_TRUE(seen.ends_with(std::string("payload\0bytes", 13)));
}

TEST(HttpClientTest, ConnectionRefusedIsTransient) {
  uint16_t port;
  {
    ScriptedServer s([](int) {});
    port = s.endpoint().port;
  }
  auto client = make_client({false, "127.0.0.1", port});
  auto r = get(*client);
  EXPECT_EQ(r.status().code(), Code::kTransient) << r.status().to_string();
  EXPECT_NE(r.status().message().find("cannot connect"), std::string::npos);
}

TEST(HttpClientTest, CutResponseIsUnknownOutcome) {
  ScriptedServer server([](int fd) {
    std::string req;
    if (read_request(fd, &req)) write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort");
  });
  auto client = make_client(server.endpoint());
  auto r = get(*client);
  EXPECT_EQ(r.status().code(), Code::kUnknownOutcome) << r.status().to_string();
}

TEST(HttpClientTest, SilentServerTimesOutAsUnknownOutcome) {
  std::atomic<bool> stop{false};
  ScriptedServer server([&](int fd) {
    std::string req;
    read_request(fd, &req);
    while (!stop) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  });
  HttpClientOptions o;
  o.io_timeout = std::chrono::milliseconds(200);
  auto client = make_client(server.endpoint(), o);
  auto r = get(*client);
  stop = true;
  EXPECT_EQ(r.status().code(), Code::kUnknownOutcome) << r.status().to_string();
  EXPECT_NE(r.status().message().find("timed out"), std::string::npos) << r.status().to_string();
}

TEST(HttpClientTest, IdleConnectionClosedByServerIsNotReused) {
  // The server answers one request per connection and then closes it,
  // without announcing it: the next send must not fail.
  ScriptedServer server([](int fd) {
    std::string req;
    if (read_request(fd, &req)) write_all(fd, ok_response("once"));
  });
  auto client = make_client(server.endpoint());
  for (int i = 0; i < 5; i++) {
    auto r = get(*client);
    ASSERT_TRUE(r.ok()) << i << ": " << r.status().to_string();
    EXPECT_EQ(r->body, "once");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let the FIN arrive
  }
  EXPECT_EQ(server.accepted(), 5);
  EXPECT_GE(client->stats().stale_dropped, 4u);
}

TEST(HttpClientTest, ConnectionCloseIsHonoured) {
  ScriptedServer server([](int fd) {
    std::string req;
    if (read_request(fd, &req)) write_all(fd, ok_response("bye", true));
  });
  auto client = make_client(server.endpoint());
  for (int i = 0; i < 3; i++) ASSERT_TRUE(get(*client).ok());
  EXPECT_EQ(client->stats().connections_opened, 3u);
}

TEST(HttpClientTest, HeadResponseHasNoBody) {
  ScriptedServer server([](int fd) {
    std::string req;
    while (read_request(fd, &req)) {
      write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 12345\r\nETag: \"abc\"\r\n\r\n");
    }
  });
  auto client = make_client(server.endpoint());
  for (int i = 0; i < 2; i++) {
    HttpClientRequest r;
    r.method = "HEAD";
    r.target = "/x";
    r.head = true;
    auto res = client->send(r);
    ASSERT_TRUE(res.ok()) << res.status().to_string();
    EXPECT_EQ(*res->header("content-length"), "12345");
    EXPECT_EQ(*res->header("etag"), "\"abc\"");
    EXPECT_TRUE(res->body.empty());
  }
  EXPECT_EQ(client->stats().connections_opened, 1u);
}

TEST(HttpClientTest, ConcurrencyIsCapped) {
  std::atomic<int> now{0};
  std::atomic<int> peak{0};
  ScriptedServer server([&](int fd) {
    std::string req;
    while (read_request(fd, &req)) {
      int n = ++now;
      int p = peak.load();
      while (n > p && !peak.compare_exchange_weak(p, n)) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      now--;
      write_all(fd, ok_response("x"));
    }
  });
  HttpClientOptions o;
  o.max_connections = 2;
  auto client = make_client(server.endpoint(), o);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; t++) {
    threads.emplace_back([&] {
      for (int i = 0; i < 3; i++) {
        if (!get(*client).ok()) failures++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(peak.load(), 2);
  EXPECT_EQ(peak.load(), 2);
  EXPECT_LE(client->stats().connections_opened, 2u);
}

TEST(HttpClientTest, RefusesToSendMalformedRequests) {
  auto client = make_client({false, "127.0.0.1", 9});
  HttpHeaders bad_value = {{"x-a", "line\r\nInjected: 1"}};
  HttpHeaders bad_name = {{"bad name", "v"}};
  HttpClientRequest r;
  r.method = "GET";
  r.target = "/x";
  r.headers = &bad_value;
  EXPECT_TRUE(client->send(r).status().is_invalid_argument());
  r.headers = &bad_name;
  EXPECT_TRUE(client->send(r).status().is_invalid_argument());
  r.headers = nullptr;
  r.method = "GET X";
  EXPECT_TRUE(client->send(r).status().is_invalid_argument());
  r.method = "GET";
  r.target = "/x y";
  EXPECT_TRUE(client->send(r).status().is_invalid_argument());
  r.target = "x";
  EXPECT_TRUE(client->send(r).status().is_invalid_argument());
}

TEST(HttpClientTest, ParsesEndpoints) {
  std::string path;
  auto a = parse_http_endpoint("http://127.0.0.1:7480", &path);
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->tls);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 7480);
  EXPECT_EQ(path, "");
  EXPECT_EQ(a->host_header(), "127.0.0.1:7480");

  auto b = parse_http_endpoint("https://s3.eu-west-1.amazonaws.com/", &path);
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->tls);
  EXPECT_EQ(b->port, 443);
  EXPECT_EQ(b->host_header(), "s3.eu-west-1.amazonaws.com");

  auto c = parse_http_endpoint("http://[::1]:10000/devstoreaccount1/", &path);
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->port, 10000);
  EXPECT_EQ(path, "/devstoreaccount1");
  EXPECT_EQ(c->host_header(), "[::1]:10000");

  for (const char* bad : {"ftp://x", "http://", "http://:80", "http://h:0", "http://h:65536",
                          "http://h:12x", "http://u:p@h", "http://h/p?q=1", "http://[::1",
                          "http://h:", "http://h h"}) {
    EXPECT_TRUE(parse_http_endpoint(bad, &path).status().is_invalid_argument()) << bad;
  }
}

TEST(HttpClientTest, UnreadableCaFileIsAnErrorAtCreate) {
  HttpClientOptions o;
  o.ca_file = "/nonexistent/ca.pem";
  auto c = HttpClient::create({true, "example.com", 443}, o);
  EXPECT_TRUE(c.status().is_invalid_argument());
  EXPECT_NE(c.status().message().find("/nonexistent/ca.pem"), std::string::npos);
}

}  // namespace
}  // namespace isle
