// HttpServer's streamed responses over real sockets: pull and push
// producers, the byte bound of a stream's queue, a client leaving, HEAD,
// the stream cap, and how drain() and stop() end open streams.
#include "server/http_test_client.h"

namespace isle::server {
namespace {

using namespace httptest;

// ---- Streams --------------------------------------------------------------------

// A push producer the test drives: it keeps the sink, and records the
// calls the server makes.
class TestProducer final : public StreamProducer {
 public:
  explicit TestProducer(std::string first = "") : first_(std::move(first)) {}
  void on_open(std::shared_ptr<StreamSink> sink) override {
    std::lock_guard lk(mu_);
    sink_ = sink;
    if (!first_.empty()) sink->write(first_);
    opened_ = true;
    cv_.notify_all();
  }
  void on_close() override {
    std::lock_guard lk(mu_);
    closed_ = true;
    cv_.notify_all();
  }
  bool wait_opened(std::chrono::milliseconds t = 5s) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, t, [this] { return opened_; });
  }
  bool wait_closed(std::chrono::milliseconds t = 5s) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, t, [this] { return closed_; });
  }
  std::shared_ptr<StreamSink> sink() {
    std::lock_guard lk(mu_);
    return sink_;
  }
  bool opened() {
    std::lock_guard lk(mu_);
    return opened_;
  }

 private:
  const std::string first_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<StreamSink> sink_;
  bool opened_ = false;
  bool closed_ = false;
};

Handler stream_of(std::shared_ptr<StreamProducer> p) {
  return [p](const HttpRequest&) {
    HttpResponse r;
    r.content_type = "application/x-ndjson";
    r.stream = p;
    return r;
  };
}

TEST(HttpServer, StreamChunksArriveInOrderThenKeepAlive) {
  Router router;
  router.add("GET", "/stream", [](const HttpRequest&) {
    auto next = std::make_shared<int>(0);
    HttpResponse r;
    r.content_type = "application/x-ndjson";
    r.stream = pull_stream([next](StreamSink& w) {
      for (int k = 0; k < 10; ++k, ++*next) EXPECT_TRUE(w.write(std::to_string(*next) + "\n"));
      return *next < 50;
    });
    return r;
  });
  router.add("GET", "/empty", [](const HttpRequest&) {
    HttpResponse r;
    r.stream = pull_stream([](StreamSink&) { return false; });
    return r;
  });
  router.add("GET", "/a", text("a"));
  Metrics metrics;
  auto srv = start({}, std::move(router), &metrics);
  ASSERT_TRUE(srv);
  Conn c(srv->port());
  ASSERT_TRUE(c.send(get("/stream")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("transfer-encoding"), "chunked");
  EXPECT_EQ(r->header("content-type"), "application/x-ndjson");
  std::string want;
  for (int i = 0; i < 50; ++i) want += std::to_string(i) + "\n";
  EXPECT_EQ(r->body, want);
  ASSERT_TRUE(c.send(get("/empty")));
  auto e = c.read_response();
  ASSERT_TRUE(e) << "keep-alive after a stream";
  EXPECT_EQ(e->body, "");
  ASSERT_TRUE(c.send(get("/a")));
  auto a = c.read_response();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->body, "a");
  EXPECT_NE(metrics.render().find("isle_http_open_streams 0"), std::string::npos) << metrics.render();
}

TEST(HttpServer, PullStreamStopsOnceTheClientLeaves) {
  std::atomic<int> steps{0};
  auto producer = pull_stream([&](StreamSink& w) {
    ++steps;
    EXPECT_LE(w.buffered(), w.limit() / 4) << "a step runs only once the queue drained";
    return w.write(std::string(64 * 1024, 'z')) || !w.closed();
  });
  Router router;
  router.add("GET", "/firehose", stream_of(producer));
  auto srv = start({}, std::move(router));
  ASSERT_TRUE(srv);
  {
    Conn c(srv->port());
    ASSERT_TRUE(c.send(get("/firehose")));
    size_t pos = 0;
    ASSERT_TRUE(c.read_until("zzzz", &pos, Clock::now() + 5s));
    std::this_thread::sleep_for(200ms);  // the server fills its buffers
    c.abort();
  }
  EXPECT_TRUE(srv->drain(5s)) << "the stream is closed";
  const int after = steps.load();
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(steps.load(), after) << "no step after the client left";
  EXPECT_GT(after, 0);
}

TEST(HttpServer, QuietStreamSeesTheClientLeave) {
  auto p = std::make_shared<TestProducer>();
  Router router;
  router.add("GET", "/quiet", stream_of(p));
  auto srv = start({}, std::move(router));
  ASSERT_TRUE(srv);
  {
    Conn c(srv->port());
    ASSERT_TRUE(c.send(get("/quiet")));
    size_t pos = 0;
    ASSERT_TRUE(c.read_until("\r\n\r\n", &pos, Clock::now() + 5s)) << "the head goes out at once";
    c.close();
  }
  ASSERT_TRUE(p->wait_closed()) << "on_close after the client left";
  EXPECT_TRUE(p->sink()->closed());
  EXPECT_FALSE(p->sink()->write("late"));
}

// A client that stops reading costs the server at most the stream's byte
// bound: writes beyond it are refused, not buffered.
TEST(HttpServer, StreamQueueIsBoundedInBytes) {
  auto p = std::make_shared<TestProducer>();
  Router router;
  router.add("GET", "/tail", stream_of(p));
  HttpServerOptions opt;
  opt.max_stream_buffer_bytes = 256 * 1024;
  auto srv = start(opt, std::move(router));
  ASSERT_TRUE(srv);
  Conn c(srv->port());
  ASSERT_TRUE(c.send(get("/tail")));
  ASSERT_TRUE(p->wait_opened());
  auto sink = p->sink();
  EXPECT_EQ(sink->limit(), 256u * 1024);
  const std::string chunk(8 * 1024, 'q');
  size_t accepted = 0;
  for (int i = 0; i < 100'000 && accepted < (64u << 20); ++i) {
    if (sink->write(chunk)) {
      accepted += chunk.size();
      continue;
    }
    // Refused: the socket's kernel buffers are full too. Give the server
    // a moment to move what it can, then it must refuse for good.
    std::this_thread::sleep_for(20ms);
    if (!sink->write(chunk)) break;
    accepted += chunk.size();
  }
  EXPECT_LE(sink->buffered(), sink->limit());
  EXPECT_LT(accepted, 32u << 20) << "the client reads nothing: kernel buffers plus the bound, not 64 MiB";
  EXPECT_FALSE(sink->closed()) << "a full queue is not an error by itself";
  sink->end("bye\n");
  EXPECT_TRUE(sink->closed());
}

TEST(HttpServer, StreamCapAnswers503) {
  auto p = std::make_shared<TestProducer>();
  Router router;
  router.add("GET", "/quiet", stream_of(p));
  HttpServerOptions opt;
  opt.max_streams = 1;
  auto srv = start(opt, std::move(router));
  ASSERT_TRUE(srv);
  Conn c1(srv->port());
  ASSERT_TRUE(c1.send(get("/quiet")));
  size_t pos = 0;
  ASSERT_TRUE(c1.read_until("\r\n\r\n", &pos, Clock::now() + 5s));
  Conn c2(srv->port());
  ASSERT_TRUE(c2.send(get("/quiet")));
  auto r = c2.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  expect_error_body(*r, "too_many_streams");
}

TEST(HttpServer, HeadOnAStreamRouteOpensNothing) {
  auto p = std::make_shared<TestProducer>();
  Router router;
  router.add("GET", "/tail", stream_of(p));
  auto srv = start({}, std::move(router));
  ASSERT_TRUE(srv);
  Conn c(srv->port());
  ASSERT_TRUE(c.send("HEAD /tail HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  auto r = c.read_response(5s, /*head=*/true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-type"), "application/x-ndjson");
  ASSERT_TRUE(c.send(get("/nope")));
  auto n = c.read_response();
  ASSERT_TRUE(n) << "the connection goes on";
  EXPECT_EQ(n->status, 404);
  EXPECT_FALSE(p->opened()) << "HEAD starts no stream";
}

// ---- Shutdown -------------------------------------------------------------------

TEST(HttpServer, DrainWaitsForAnInFlightHandler) {
  Gate started;
  Router router;
  router.add("GET", "/slow", [&](const HttpRequest&) {
    started.open();
    std::this_thread::sleep_for(600ms);
    return HttpResponse::text(200, "slow done");
  });
  auto srv = start({}, std::move(router));
  ASSERT_TRUE(srv);
  Conn c(srv->port());
  ASSERT_TRUE(c.send(get("/slow")));
  started.wait_open();
  srv->stop_accepting();
  EXPECT_FALSE(Conn(srv->port()).connected()) << "no new connections";
  EXPECT_FALSE(srv->drain(50ms)) << "the handler is still running";
  auto t0 = Clock::now();
  EXPECT_TRUE(srv->drain(5s));
  EXPECT_GE(ms_since(t0), 300);
  auto r = c.read_response(100ms);  // already here when drain returned
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "slow done");
  EXPECT_EQ(r->header("connection"), "close") << "draining ends keep-alive";
  srv->stop();
}

TEST(HttpServer, DrainCancelsStreamsWhichEndProperly) {
  Router router;
  auto p = std::make_shared<TestProducer>("first\n");
  router.add("GET", "/tail", stream_of(p));
  auto srv = start({}, std::move(router));
  ASSERT_TRUE(srv);
  Conn c(srv->port());
  ASSERT_TRUE(c.send(get("/tail")));
  size_t pos = 0;
  ASSERT_TRUE(c.read_until("first", &pos, Clock::now() + 5s));
  EXPECT_TRUE(srv->drain(5s));
  auto r = c.read_response(2s);
  ASSERT_TRUE(r) << "the stream ended with its final chunk";
  EXPECT_EQ(r->body, "first\n");
  EXPECT_TRUE(p->wait_closed()) << "the producer heard the stream end";
  srv->stop();
}

TEST(HttpServer, StopClosesEverythingWithRequestsAndStreamsOpen) {
  Gate gate;
  Router router;
  router.add("GET", "/block", [&](const HttpRequest&) {
    gate.wait_open();
    return HttpResponse::text(200, "late");
  });
  router.add("GET", "/tail", [](const HttpRequest&) {
    HttpResponse r;
    r.stream = pull_stream([](StreamSink& w) {
      std::this_thread::sleep_for(1ms);
      return w.write("x");
    });
    return r;
  });
  HttpServerOptions opt;
  opt.workers = 2;
  auto srv = start(opt, std::move(router));
  ASSERT_TRUE(srv);
  Conn a(srv->port()), b(srv->port()), e(srv->port()), d(srv->port()), idle(srv->port());
  ASSERT_TRUE(a.send(get("/block")));
  ASSERT_TRUE(gate.wait_waiters(1));
  ASSERT_TRUE(d.send(get("/tail")));
  size_t pos = 0;
  ASSERT_TRUE(d.read_until("1\r\nx", &pos, Clock::now() + 5s));
  ASSERT_TRUE(b.send(get("/block")));
  ASSERT_TRUE(gate.wait_waiters(2));
  ASSERT_TRUE(e.send(get("/block")));  // queued behind a and b
  std::thread opener([&] {
    std::this_thread::sleep_for(100ms);
    gate.open();
  });
  srv->stop();
  opener.join();
  EXPECT_TRUE(idle.closed_within(2s));
  srv.reset();
}

}  // namespace
}  // namespace isle::server
