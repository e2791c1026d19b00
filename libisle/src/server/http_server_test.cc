// HttpServer tests over real sockets on 127.0.0.1 (streams are in
// http_stream_test.cc): basics, limits, timeouts, overload, access, TLS.
// The client (http_test_client.h) is raw POSIX sockets plus OpenSSL.
//
// Every test joins the threads it starts and waits for the server's own
// threads through stop(), so the suite is clean under ASan/UBSan.
#include "server/http_test_client.h"

namespace isle::server {
namespace {

using namespace httptest;

// ---- Basics -------------------------------------------------------------------

TEST(HttpServer, KeepAliveServesTwoRequestsOnOneConnection) {
  std::mutex mu;
  std::vector<std::string> remotes;
  Router router;
  router.add("GET", "/hello", [&](const HttpRequest& req) {
    std::lock_guard lk(mu);
    remotes.push_back(req.remote);
    return HttpResponse::text(200, "hi " + req.query);
  });
  std::atomic<int> logged{0};
  HttpServerOptions opt;
  opt.on_request = [&](const HttpRequest& req, int status, uint64_t bytes, std::chrono::microseconds) {
    EXPECT_EQ(req.path, "/hello");
    EXPECT_EQ(status, 200);
    EXPECT_GT(bytes, 0u);
    ++logged;
  };
  auto srv = start(opt, std::move(router));
  ASSERT_TRUE(srv);
  EXPECT_EQ(srv->address(), "127.0.0.1:" + std::to_string(srv->port()));

  Conn c(srv->port());
  ASSERT_TRUE(c.send(get("/hello?n=1")));
  auto r1 = c.read_response();
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->status, 200);
  EXPECT_EQ(r1->body, "hi n=1");
  EXPECT_EQ(r1->header("connection"), "");
  ASSERT_TRUE(c.send(get("/hello?n=2")));
  auto r2 = c.read_response();
  ASSERT_TRUE(r2) << "the connection was not kept alive";
  EXPECT_EQ(r2->body, "hi n=2");
  srv->stop();
  ASSERT_EQ(remotes.size(), 2u);
  EXPECT_EQ(remotes[0], remotes[1]) << "both requests came over one connection";
  EXPECT_EQ(logged.load(), 2);
}

TEST(HttpServer, PipelinedRequestsAnswerInOrder) {
  Router router;
  router.add("GET", "/echo", [](const HttpRequest& req) {
    // The first is slower: answering in completion order would swap them.
    if (req.query == "first") std::this_thread::sleep_for(200ms);
    return HttpResponse::text(200, req.query);
  });
  HttpServerOptions opt;
  opt.workers = 2;
  auto srv = start(opt, std::move(router));
  ASSERT_TRUE(srv);
  Conn c(srv->port());
  ASSERT_TRUE(c.send(get("/echo?first") + get("/echo?second")));
  auto r1 = c.read_response();
  auto r2 = c.read_response();
  ASSERT_TRUE(r1);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r1->body, "first");
  EXPECT_EQ(r2->body, "second");
}

TEST(HttpServer, UnknownRouteIs404WithJsonBody) {
  Router router;
  router.add("GET", "/a", text("a"));
  Metrics metrics;
  auto srv = start({}, std::move(router), &metrics);
  ASSERT_TRUE(srv);
  Conn c(srv->port());
  ASSERT_TRUE(c.send(get("/nope/x%2Fy")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->body, R"({"error":{"code":"not_found","message":"no route for /nope/x%2Fy"}})");
  expect_error_body(*r, "not_found");
  ASSERT_TRUE(c.send(get("/a")));
  ASSERT_TRUE(c.read_response()) << "a 404 without a body keeps the connection";
  srv->stop();
  std::string text = metrics.render();
  EXPECT_NE(text.find(R"(isle_http_requests_total{code="404",method="GET",route="unmatched"} 1)"), std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(route="/a")"), std::string::npos) << text;
  EXPECT_EQ(text.find("/nope"), std::string::npos) << "raw paths never become labels";
  EXPECT_NE(text.find("isle_http_open_connections 0"), std::string::npos) << "stop() closed it";
}

TEST(HttpServer, WrongMethodIs405WithAllow) {
  Router router;
  router.add("GET", "/a", text("a"));
  router.add("PUT", "/a", text("put"));
  auto srv = start({}, std::move(router));
  ASSERT_TRUE(srv);
  Conn c(srv->port());
  ASSERT_TRUE(c.send("POST /a HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->header("allow"), "GET, HEAD, PUT");
  expect_error_body(*r, "method_not_allowed");
}

TEST(HttpServer, HeadUsesTheGetRouteWithoutBody) {
  Router router;
  router.add("GET", "/a", text("twelve bytes"));
  auto srv = start({}, std::move(router));
  ASSERT_TRUE(srv);
  Conn c(srv->port());
  ASSERT_TRUE(c.send("HEAD /a HTTP/1.1\r\nHost: localhost\r\n\r\n" + get("/a")));
  auto h = c.read_response(5s, /*head=*/true);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(h->header("content-length"), "12");
  auto g = c.read_response();
  ASSERT_TRUE(g);
  EXPECT_EQ(g->body, "twelve bytes") << "the HEAD response carried no body bytes";
}

TEST(HttpServer, ConnectionCloseIsHonored) {
  Router router;
  router.add("GET", "/a", text("a"));
  auto srv = start({}, std::move(router));
  ASSERT_TRUE(srv);
  Conn c(srv->port());
  ASSERT_TRUE(c.send(get("/a", "Connection: close\r\n")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c.closed_within(2s));
}

TEST(HttpServer, HandlerExceptionIs500) {
  Router router;
  router.add("GET", "/boom", [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("kaput"); });
  auto srv = start({}, std::move(router));
  ASSERT_TRUE(srv);
  Conn c(srv->port());
  ASSERT_TRUE(c.send(get("/boom")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  expect_error_body(*r, "internal");
}

TEST(HttpServer, StartFailsWhenAddressInUseOrTlsIsHalfConfigured) {
  auto a = start({}, Router{});
  ASSERT_TRUE(a);
  HttpServerOptions opt;
  opt.listen = a->address();
  auto b = HttpServer::start(opt, Router{});
  EXPECT_FALSE(b.ok());
  HttpServerOptions half;
  half.tls_cert_file = "/nonexistent/cert.pem";
  EXPECT_FALSE(HttpServer::start(half, Router{}).ok());
  half.tls_key_file = "/nonexistent/key.pem";
  EXPECT_FALSE(HttpServer::start(half, Router{}).ok());
}

// ---- Limits ---------------------------------------------------------------------

TEST(HttpServer, HugeHeaderIs431ThenClose) {
  Router router;
  router.add("GET", "/", text("root"));
  HttpServerOptions opt;
  opt.max_header_bytes = 4096;
  auto srv = start(opt, std::move(router));
  ASSERT_TRUE(srv);
  {
    Conn c(srv->port());
    ASSERT_TRUE(c.send(get("/", "X-Ok: 1\r\n")));
    ASSERT_TRUE(c.read_response()) << "a normal head is fine";
  }
  Conn c(srv->port());
  ASSERT_TRUE(c.send(get("/", "X-Big: " + std::string(8000, 'a') + "\r\n")));
  auto r = c.read_response();
  ASSERT_TRUE(r) << "a response, not a dropped connection";
  EXPECT_EQ(r->status, 431);
  expect_error_body(*r, "header_too_large");
  EXPECT_TRUE(c.closed_within(3s));
}

TEST(HttpServer, HugeRequestLineIs414ThenClose) {
  Router router;
  router.add("GET", "/*", text("root"));
  HttpServerOptions opt;
  opt.max_header_bytes = 4096;
  auto srv = start(opt, std::move(router));
  ASSERT_TRUE(srv);
  Conn c(srv->port());
  ASSERT_TRUE(c.send(get("/" + std::string(20000, 'a'))));
  auto r = c.read_response();
  ASSERT_TRUE(r) << "a response, not a reset";
  EXPECT_TRUE(r->status == 414 || r->status == 431) << r->status;
  EXPECT_EQ(r->status, 414);
  EXPECT_EQ(r->header("connection"), "close");
  expect_error_body(*r, "uri_too_long");
  EXPECT_TRUE(c.closed_within(3s));
  EXPECT_FALSE(c.was_reset());
}

TEST(HttpServer, BigContentLengthIs413BeforeTheBody) {
  std::atomic<int> called{0};
  Router router;
  router.add("PUT", "/small", [&](const HttpRequest& req) {
    ++called;
    return HttpResponse::text(200, std::to_string(req.body.size()));
  }, RouteOptions{.takes_body = true, .max_body_bytes = 1000});
  auto srv = start({}, std::move(router));
  ASSERT_TRUE(srv);
  {
    Conn c(srv->port());
    ASSERT_TRUE(c.send("PUT /small HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n" + std::string(1000, 'x')));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "1000");
  }
  Conn c(srv->port());
  // Announce 100 MB, send a little of it: the answer must not wait for it.
  ASSERT_TRUE(c.send("PUT /small HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000000\r\n\r\n" + std::string(5000, 'x')));
  auto r = c.read_response(3s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  expect_error_body(*r, "payload_too_large");
  EXPECT_TRUE(c.closed_within(5s));
  EXPECT_EQ(called.load(), 1);
}

TEST(HttpServer, BigChunkedBodyIs413) {
  std::atomic<int> called{0};
  Router router;
  router.add("POST", "/small", [&](const HttpRequest& req) {
    ++called;
    return HttpResponse::text(200, req.body);
  }, RouteOptions{.takes_body = true, .max_body_bytes = 1000});
  auto srv = start({}, std::move(router));
  ASSERT_TRUE(srv);
  const std::string head = "POST /small HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n";
  {
    Conn c(srv->port());
    ASSERT_TRUE(c.send(head + "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "abcde");
  }
  Conn c(srv->port());
  std::string chunk = "200\r\n" + std::string(512, 'y') + "\r\n";  // 512 bytes each
  ASSERT_TRUE(c.send(head + chunk + chunk + chunk));
  auto r = c.read_response(3s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  expect_error_body(*r, "payload_too_large");
  EXPECT_TRUE(c.closed_within(5s));
  EXPECT_EQ(called.load(), 1);
}

// Routes that take no body refuse one before reading it: a GET /healthz
// that announces 64 MiB costs the server nothing.
TEST(HttpServer, DeclaredBodyOnABodilessRouteIs413) {
  std::atomic<int> called{0};
  Router router;
  router.add("GET", "/healthz", [&](const HttpRequest&) {
    ++called;
    return HttpResponse::text(200, "ok");
  });
  auto srv = start({}, std::move(router));
  ASSERT_TRUE(srv);
  for (const std::string framing : {"Content-Length: 67108864\r\n", "Transfer-Encoding: chunked\r\n"}) {
    Conn c(srv->port());
    ASSERT_TRUE(c.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n" + framing + "\r\n" + std::string(4096, 'x')));
    auto r = c.read_response(3s);
    ASSERT_TRUE(r) << framing;
    EXPECT_EQ(r->status, 413) << framing;
    expect_error_body(*r, "body_not_allowed");
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_TRUE(c.closed_within(5s));
  }
  Conn c(srv->port());
  ASSERT_TRUE(c.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << "an empty body is no body";
  EXPECT_EQ(called.load(), 1);
}

// Boost 1.74's parser buffers a chunk line (with its extensions) and the
// trailer whole: the server caps what it buffers beyond the body.
TEST(HttpServer, HugeChunkExtensionOrTrailerIs400) {
  Router router;
  router.add("POST", "/in", [](const HttpRequest& req) { return HttpResponse::text(200, req.body); },
             RouteOptions{.takes_body = true});
  auto srv = start({}, std::move(router));
  ASSERT_TRUE(srv);
  const std::string head = "POST /in HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n";
  {
    Conn c(srv->port());
    ASSERT_TRUE(c.send(head + "3;name=value\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << "small extensions and trailers are fine";
    EXPECT_EQ(r->body, "abc");
  }
  {
    // An endless extension: the server answers long before 4 MiB arrive.
    Conn c(srv->port());
    ASSERT_TRUE(c.send(head + "3;ext="));
    size_t sent = 0;
    while (sent < (4u << 20) && c.send(std::string(64 * 1024, 'e'))) sent += 64 * 1024;
    auto r = c.read_response(3s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    expect_error_body(*r, "bad_request");
  }
  {
    Conn c(srv->port());
    ASSERT_TRUE(c.send(head + "3\r\nabc\r\n0\r\nX-Big: " + std::string(64 * 1024, 't') + "\r\n\r\n"));
    auto r = c.read_response(3s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << "a 64 KiB trailer";
  }
}

// ---- Timeouts -------------------------------------------------------------------

TEST(HttpServer, SlowClientGets408AndDoesNotDelayOthers) {
  Router router;
  router.add("GET", "/fast", text("fast"));
  HttpServerOptions opt;
  opt.header_timeout = 1500ms;
  opt.workers = 1;
  auto srv = start(opt, std::move(router));
  ASSERT_TRUE(srv);

  auto t0 = Clock::now();
  Conn slow(srv->port());
  std::atomic<bool> stop{false};
  std::thread dribble([&] {
    const std::string req = get("/fast");
    for (size_t i = 0; i < req.size() && !stop; ++i) {
      if (!slow.send(req.substr(i, 1))) return;
      for (int k = 0; k < 10 && !stop; ++k) std::this_thread::sleep_for(100ms);
    }
  });
  std::this_thread::sleep_for(300ms);
  {
    auto t1 = Clock::now();
    Conn fast(srv->port());
    ASSERT_TRUE(fast.send(get("/fast")));
    auto r = fast.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "fast");
    EXPECT_LT(ms_since(t1), 500) << "the slow client delayed another one";
  }
  auto r = slow.read_response(5s);
  long at = ms_since(t0);
  stop = true;
  dribble.join();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408);
  expect_error_body(*r, "request_timeout");
  EXPECT_GE(at, 1400);
  EXPECT_LT(at, 3000);
  EXPECT_TRUE(slow.closed_within(3s));
}

TEST(HttpServer, IdleKeepAliveConnectionIsClosed) {
  Router router;
  router.add("GET", "/a", text("a"));
  HttpServerOptions opt;
  opt.idle_timeout = 300ms;
  auto srv = start(opt, std::move(router));
  ASSERT_TRUE(srv);
  Conn c(srv->port());
  ASSERT_TRUE(c.send(get("/a")));
  ASSERT_TRUE(c.read_response());
  auto t0 = Clock::now();
  EXPECT_TRUE(c.closed_within(3s));
  EXPECT_GE(ms_since(t0), 250);
}

// ---- Overload -------------------------------------------------------------------

TEST(HttpServer, ConnectionCapAnswers503) {
  Router router;
  router.add("GET", "/a", text("a"));
  HttpServerOptions opt;
  opt.max_connections = 2;
  Metrics metrics;
  auto srv = start(opt, std::move(router), &metrics);
  ASSERT_TRUE(srv);
  Conn c1(srv->port());
  Conn c2(srv->port());
  for (Conn* c : {&c1, &c2}) {
    ASSERT_TRUE(c->send(get("/a")));
    ASSERT_TRUE(c->read_response());
  }
  Conn c3(srv->port());
  ASSERT_TRUE(c3.send(get("/a")));
  auto r = c3.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  expect_error_body(*r, "unavailable");
  EXPECT_TRUE(c3.closed_within(3s));
  EXPECT_NE(metrics.render().find("isle_http_open_connections 2"), std::string::npos) << metrics.render();
  EXPECT_NE(metrics.render().find("isle_http_rejected_connections_total 1"), std::string::npos);

  c1.close();  // a slot frees up
  auto deadline = Clock::now() + 3s;
  bool served = false;
  while (!served && Clock::now() < deadline) {
    Conn c4(srv->port());
    c4.send(get("/a"));
    auto r4 = c4.read_response();
    served = r4 && r4->status == 200;
    if (!served) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(served);
}

TEST(HttpServer, FullQueueAnswers429WithRetryAfter) {
  Gate gate;
  Router router;
  router.add("GET", "/block", [&](const HttpRequest&) {
    gate.wait_open();
    return HttpResponse::text(200, "done");
  });
  HttpServerOptions opt;
  opt.workers = 1;
  opt.max_queued = 1;
  auto srv = start(opt, std::move(router));
  ASSERT_TRUE(srv);
  Conn running(srv->port());
  ASSERT_TRUE(running.send(get("/block")));
  ASSERT_TRUE(gate.wait_waiters(1));
  Conn queued(srv->port());
  ASSERT_TRUE(queued.send(get("/block")));
  std::this_thread::sleep_for(200ms);
  Conn refused(srv->port());
  ASSERT_TRUE(refused.send(get("/block")));
  auto r = refused.read_response(2s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(r->header("retry-after"), "1");
  expect_error_body(*r, "too_many_requests");
  gate.open();
  auto r1 = running.read_response();
  auto r2 = queued.read_response();
  ASSERT_TRUE(r1);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r1->status, 200);
  EXPECT_EQ(r2->status, 200);
  // The refused connection stays usable.
  ASSERT_TRUE(refused.send(get("/block")));
  auto r3 = refused.read_response();
  ASSERT_TRUE(r3);
  EXPECT_EQ(r3->status, 200);
}

// ---- Auth -----------------------------------------------------------------------

TEST(HttpServer, BearerTokens) {
  Router router;
  router.add("GET", "/healthz", text("ok"), RouteOptions{.scope = Scope::kOpen});
  router.add("GET", "/data", text("secret data"));
  HttpServerOptions opt;
  TokenSet tokens;
  tokens.add("s3cret-token", kAllScopes);
  tokens.add("other", kAllScopes);
  opt.access.tokens = tokens;
  auto srv = start(opt, std::move(router));
  ASSERT_TRUE(srv);
  // A 401 closes the connection: each question gets its own.
  auto ask = [&srv](const std::string& req) {
    Conn c(srv->port());
    EXPECT_TRUE(c.send(req));
    auto r = c.read_response();
    EXPECT_TRUE(r);
    if (r && r->status == 401) {
      EXPECT_EQ(r->header("connection"), "close");
      EXPECT_TRUE(c.closed_within(3s));
    }
    return r.value_or(Response{});
  };
  auto r = ask(get("/data"));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.header("www-authenticate"), "Bearer");
  expect_error_body(r, "unauthorized");
  r = ask(get("/data", "Authorization: Bearer s3cret-tokem\r\n"));
  EXPECT_EQ(r.status, 401) << "same length, one byte off";
  r = ask(get("/data", "Authorization: Bearer s3cret\r\n"));
  EXPECT_EQ(r.status, 401) << "a prefix";
  r = ask(get("/data", "Authorization: Basic czNjcmV0LXRva2Vu\r\n"));
  EXPECT_EQ(r.status, 401);
  r = ask(get("/data", "Authorization: Bearer s3cret-token\r\n"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "secret data");
  r = ask(get("/data", "Authorization: bearer other\r\n"));
  EXPECT_EQ(r.status, 200) << "any configured token; the scheme is case-insensitive";
  r = ask(get("/healthz"));
  EXPECT_EQ(r.status, 200) << "open routes need no token";
  r = ask(get("/unknown"));
  EXPECT_EQ(r.status, 401) << "no route is discoverable without a token";
}

// Scopes: a token reaches the routes its scopes allow (403 otherwise);
// /status-like routes take any token; the browser checks run first.
TEST(HttpServer, ScopesOriginsAndHosts) {
  Router router;
  router.add("GET", "/read", text("r"), RouteOptions{.scope = Scope::kRead});
  router.add("PUT", "/write", text("w"), RouteOptions{.takes_body = true, .scope = Scope::kWrite});
  router.add("GET", "/status", text("s"), RouteOptions{.scope = Scope::kAnyToken});
  HttpServerOptions opt;
  TokenSet tokens;
  tokens.add("reader-token", scope_bit(Scope::kRead));
  tokens.add("writer-token", scope_bit(Scope::kWrite));
  opt.access.tokens = tokens;
  opt.access.allowed_origins = {"https://console.example"};
  auto srv = start(opt, std::move(router));
  ASSERT_TRUE(srv);
  auto ask = [&srv](const std::string& req) {
    Conn c(srv->port());
    EXPECT_TRUE(c.send(req));
    return c.read_response().value_or(Response{});
  };
  const std::string reader = "Authorization: Bearer reader-token\r\n";
  const std::string writer = "Authorization: Bearer writer-token\r\n";
  EXPECT_EQ(ask(get("/read", reader)).status, 200);
  Response r = ask(get("/read", writer));
  EXPECT_EQ(r.status, 403);
  expect_error_body(r, "forbidden");
  EXPECT_EQ(ask("PUT /write HTTP/1.1\r\nHost: localhost\r\n" + writer + "Content-Length: 1\r\n\r\nx").status, 200);
  EXPECT_EQ(ask("PUT /write HTTP/1.1\r\nHost: localhost\r\n" + reader + "Content-Length: 1\r\n\r\nx").status, 403);
  EXPECT_EQ(ask(get("/status", reader)).status, 200);
  EXPECT_EQ(ask(get("/status", writer)).status, 200);
  r = ask(get("/read", reader + "Origin: https://evil.example\r\n"));
  EXPECT_EQ(r.status, 403);
  expect_error_body(r, "forbidden_origin");
  EXPECT_EQ(ask(get("/read", reader + "Origin: https://console.example\r\n")).status, 200);
  // DNS rebinding: a page on rebind.example resolving to 127.0.0.1.
  r = ask("GET /read HTTP/1.1\r\nHost: rebind.example:7002\r\n" + reader + "\r\n");
  EXPECT_EQ(r.status, 403);
  expect_error_body(r, "forbidden_origin");
  EXPECT_EQ(ask("GET /read HTTP/1.1\r\nHost: 127.0.0.1:7002\r\n" + reader + "\r\n").status, 200);

  // SIGHUP's reload: the old token stops working, the new one works.
  TokenSet next;
  next.add("rotated", kAllScopes);
  srv->replace_tokens(next);
  EXPECT_EQ(ask(get("/read", reader)).status, 401);
  EXPECT_EQ(ask(get("/read", "Authorization: Bearer rotated\r\n")).status, 200);
}

// Idle connections that never show a token are capped separately from
// max_connections, so they cannot crowd out real clients for long.
TEST(HttpServer, UnauthenticatedConnectionsAreCapped) {
  Router router;
  router.add("GET", "/read", text("r"), RouteOptions{.scope = Scope::kRead});
  HttpServerOptions opt;
  TokenSet tokens;
  tokens.add("tok", kAllScopes);
  opt.access.tokens = tokens;
  opt.max_unauthenticated = 4;
  auto srv = start(opt, std::move(router));
  ASSERT_TRUE(srv);
  // One authenticated connection is not counted.
  Conn authed(srv->port());
  ASSERT_TRUE(authed.send(get("/read", "Authorization: Bearer tok\r\n")));
  ASSERT_TRUE(authed.read_response());
  std::vector<std::unique_ptr<Conn>> idle;
  for (int i = 0; i < 4; ++i) idle.push_back(std::make_unique<Conn>(srv->port()));
  std::this_thread::sleep_for(200ms);
  Conn extra(srv->port());
  auto r = extra.read_response(3s);
  ASSERT_TRUE(r) << "refused with an answer";
  EXPECT_EQ(r->status, 503);
  ASSERT_TRUE(authed.send(get("/read", "Authorization: Bearer tok\r\n")));
  auto a = authed.read_response();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->status, 200) << "the authenticated connection is unaffected";
  idle.clear();
  EXPECT_TRUE(eventually_ok([&] {
    Conn c(srv->port());
    c.send(get("/read", "Authorization: Bearer tok\r\n"));
    auto x = c.read_response(2s);
    return x && x->status == 200;
  }));
}
// ---- TLS ------------------------------------------------------------------------

TEST(HttpServerTls, OneRequestOverTls) {
  testing::TempDir dir;
  std::string cert = dir.path() + "/cert.pem", key = dir.path() + "/key.pem";
  int rc = testing::run_program("/usr/bin/openssl",
                                {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                 "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost"});
  ASSERT_EQ(rc, 0) << "openssl req failed";
  Router router;
  router.add("GET", "/hello", text("over tls"));
  HttpServerOptions opt;
  opt.tls_cert_file = cert;
  opt.tls_key_file = key;
  auto srv = start(opt, std::move(router));
  ASSERT_TRUE(srv);

  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  ASSERT_NE(ctx, nullptr);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);  // self-signed
  {
    Conn c(srv->port(), ctx);
    ASSERT_TRUE(c.connected()) << "TLS handshake failed";
    ASSERT_TRUE(c.send(get("/hello")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "over tls");
    ASSERT_TRUE(c.send(get("/nope")));
    r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404);
  }
  {
    Conn plain(srv->port());  // plain HTTP to an HTTPS port gets nothing useful
    plain.send(get("/hello"));
    auto r = plain.read_response(2s);
    EXPECT_FALSE(r && r->status == 200);
  }
  SSL_CTX_free(ctx);
  srv->stop();
}


}  // namespace
}  // namespace isle::server
