// Metrics: the text exposition exactly (HELP/TYPE once per family, sorted
// families and series, escaping, number spelling, cumulative histogram
// buckets), counter adds from many threads, misuse aborts, and the whole
// format accepted by `promtool check metrics` — which must also be seen to
// reject a bad registry, so the check can fail.
#include "server/metrics.h"

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <string>
#include <thread>

#include "testutil/testutil.h"

namespace isle::server {
namespace {

TEST(Metrics, CounterFamilyRendersHelpTypeAndSortedSeries) {
  Metrics m;
  m.counter("isle_requests_total", "Requests served.", {{"route", "put"}}).inc(3);
  m.counter("isle_requests_total", "ignored other help", {{"route", "get"}}).inc();
  // Same series regardless of label order.
  Counter& a = m.counter("isle_x_total", "X.", {{"b", "2"}, {"a", "1"}});
  Counter& b = m.counter("isle_x_total", "X.", {{"a", "1"}, {"b", "2"}});
  EXPECT_EQ(&a, &b);
  a.inc(0.5);
  EXPECT_EQ(m.render(),
            "# HELP isle_requests_total Requests served.\n"
            "# TYPE isle_requests_total counter\n"
            "isle_requests_total{route=\"get\"} 1\n"
            "isle_requests_total{route=\"put\"} 3\n"
            "# HELP isle_x_total X.\n"
            "# TYPE isle_x_total counter\n"
            "isle_x_total{a=\"1\",b=\"2\"} 0.5\n");
  EXPECT_EQ(m.render(), m.render());
}

TEST(Metrics, EscapesLabelValuesAndHelp) {
  Metrics m;
  m.counter("e_total", "back\\slash and\nnewline \"quoted\"", {{"v", "a\\b\"c\nd"}}).inc();
  EXPECT_EQ(m.render(),
            "# HELP e_total back\\\\slash and\\nnewline \"quoted\"\n"
            "# TYPE e_total counter\n"
            "e_total{v=\"a\\\\b\\\"c\\nd\"} 1\n");
}

TEST(Metrics, NumbersAreSpelledTheWayPrometheusParsesThem) {
  Metrics m;
  double v = 0;
  m.callback("g", "G.", "gauge", {}, [&] { return v; });
  auto value = [&] {
    const std::string r = m.render();
    const auto pos = r.rfind("g ");
    return r.substr(pos + 2, r.size() - pos - 3);
  };
  v = 1e6;  // integers without an exponent
  EXPECT_EQ(value(), "1000000");
  v = 123456789012.0;
  EXPECT_EQ(value(), "123456789012");
  v = -42;
  EXPECT_EQ(value(), "-42");
  v = -0.0;
  EXPECT_EQ(value(), "0");
  v = 0.25;
  EXPECT_EQ(value(), "0.25");
  v = 0.1;
  EXPECT_EQ(value(), "0.1");  // shortest round trip, not 0.10000000000000001
  v = 0.0001;
  EXPECT_EQ(value(), "0.0001");
  v = 0.00001;
  EXPECT_EQ(value(), "1e-05");
  v = 1.5e300;
  EXPECT_EQ(value(), "1.5e+300");
  v = 0.1 + 0.2;  // not representable shortly: still reads back exactly
  EXPECT_EQ(std::strtod(value().c_str(), nullptr), 0.1 + 0.2);
  v = std::numeric_limits<double>::infinity();
  EXPECT_EQ(value(), "+Inf");
  v = -std::numeric_limits<double>::infinity();
  EXPECT_EQ(value(), "-Inf");
  v = std::nan("");
  EXPECT_EQ(value(), "NaN");
}

TEST(Metrics, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Metrics m;
  Histogram& h = m.histogram("lat_seconds", "Latency.", {{"op", "get"}}, {0.125, 0.5, 1});
  for (double v : {0.0625, 0.125 /* le is inclusive */, 0.25, 0.75, 2.0, 100.0}) h.observe(v);
  const Histogram::Snapshot s = h.snapshot();
  EXPECT_EQ(s.buckets, (std::vector<uint64_t>{2, 3, 4}));
  EXPECT_EQ(s.count, 6u);
  EXPECT_EQ(s.sum, 103.1875);
  EXPECT_EQ(&h, &m.histogram("lat_seconds", "Latency.", {{"op", "get"}}));
  // A trailing +Inf bound is implicit and dropped.
  m.histogram("lat_seconds", "Latency.", {}, {1, std::numeric_limits<double>::infinity()})
      .observe(0.25);
  EXPECT_EQ(m.render(),
            "# HELP lat_seconds Latency.\n"
            "# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{le=\"1\"} 1\n"
            "lat_seconds_bucket{le=\"+Inf\"} 1\n"
            "lat_seconds_sum 0.25\n"
            "lat_seconds_count 1\n"
            "lat_seconds_bucket{op=\"get\",le=\"0.125\"} 2\n"
            "lat_seconds_bucket{op=\"get\",le=\"0.5\"} 3\n"
            "lat_seconds_bucket{op=\"get\",le=\"1\"} 4\n"
            "lat_seconds_bucket{op=\"get\",le=\"+Inf\"} 6\n"
            "lat_seconds_sum{op=\"get\"} 103.1875\n"
            "lat_seconds_count{op=\"get\"} 6\n");
}

TEST(Metrics, DefaultLatencyBucketsSpan100usTo10s) {
  const auto b = default_latency_buckets();
  ASSERT_FALSE(b.empty());
  EXPECT_EQ(b.front(), 0.0001);
  EXPECT_EQ(b.back(), 10);
  EXPECT_TRUE(std::is_sorted(b.begin(), b.end()));
  Metrics m;
  m.histogram("d_seconds", "D.").observe(0.0001);
  EXPECT_NE(m.render().find("d_seconds_bucket{le=\"0.0001\"} 1\n"), std::string::npos);
}

TEST(Metrics, CallbacksAreReadAtScrapeTimeAndMayUseTheRegistry) {
  Metrics m;
  int calls = 0;
  m.callback("q_depth", "Queue depth.", "gauge", {{"q", "a"}}, [&] {
    ++calls;
    m.counter("scrapes_total", "Scrapes.").inc();  // no deadlock: read outside the lock
    return 7.0;
  });
  m.callback("done_total", "Done.", "counter", {}, [] { return 9.0; });
  const std::string r = m.render();
  EXPECT_EQ(calls, 1);
  EXPECT_NE(r.find("# TYPE q_depth gauge\nq_depth{q=\"a\"} 7\n"), std::string::npos) << r;
  EXPECT_NE(r.find("# TYPE done_total counter\ndone_total 9\n"), std::string::npos) << r;
  // Registering the same series again replaces the callback.
  m.callback("q_depth", "Queue depth.", "gauge", {{"q", "a"}}, [] { return 8.0; });
  EXPECT_NE(m.render().find("q_depth{q=\"a\"} 8\n"), std::string::npos);
  EXPECT_EQ(calls, 1);
}

TEST(Metrics, CounterIgnoresNegativeAndNaN) {
  Counter c;
  c.inc(2);
  c.inc(-1);
  c.inc(std::nan(""));
  EXPECT_EQ(c.value(), 2);
}

TEST(Metrics, ConcurrentAddsAndScrapesLoseNothing) {
  Metrics m;
  constexpr int kThreads = 8, kPer = 20000;
  std::atomic<bool> stop{false};
  std::thread scraper([&] {
    while (!stop) {
      // While adds run, +Inf (= count) never trails a finite bucket.
      const std::string r = m.render();
      const auto fin = r.find("c_seconds_bucket{le=\"1\"} ");
      const auto inf = r.find("c_seconds_bucket{le=\"+Inf\"} ");
      if (fin != std::string::npos && inf != std::string::npos) {
        const uint64_t a = std::stoull(r.substr(fin + 25));
        const uint64_t b = std::stoull(r.substr(inf + 28));
        ASSERT_LE(a, b) << r;
      }
    }
  });
  Counter& hot = m.counter("hot_total", "Hot path: adds without the registry lock.");
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      ready++;
      while (ready < kThreads) std::this_thread::yield();  // all start together
      for (int i = 0; i < 10 * kPer; i++) hot.inc(2);
      for (int i = 0; i < kPer; i++) {
        // Registration races as well as adds.
        m.counter("c_total", "C.").inc();
        m.counter("c_total", "C.", {{"t", std::to_string(t % 2)}}).inc(0.5);
        m.histogram("c_seconds", "C.", {}, {1}).observe(i % 2 ? 0.5 : 2);
      }
    });
  }
  for (auto& th : threads) th.join();
  stop = true;
  scraper.join();
  EXPECT_EQ(hot.value(), 2.0 * kThreads * 10 * kPer);
  EXPECT_EQ(m.counter("c_total", "C.").value(), kThreads * kPer);
  EXPECT_EQ(m.counter("c_total", "C.", {{"t", "0"}}).value(), kThreads * kPer / 4);
  const auto s = m.histogram("c_seconds", "C.", {}, {1}).snapshot();
  EXPECT_EQ(s.count, uint64_t{kThreads} * kPer);
  EXPECT_EQ(s.buckets[0], uint64_t{kThreads} * kPer / 2);
  EXPECT_EQ(s.sum, kThreads * kPer / 2 * 2.5);
}

TEST(MetricsDeathTest, MisuseAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        Metrics m;
        m.counter("x_total", "X.");
        m.histogram("x_total", "X.");
      },
      "x_total: registered as counter, used as histogram");
  EXPECT_DEATH(
      {
        Metrics m;
        m.callback("x", "X.", "gauge", {}, [] { return 1.0; });
        m.counter("x", "X.");
      },
      "registered as gauge, used as counter");
  EXPECT_DEATH(
      {
        Metrics m;
        m.callback("x_total", "X.", "counter", {}, [] { return 1.0; });
        m.counter("x_total", "X.");
      },
      "series is a callback");
  EXPECT_DEATH(Metrics().counter("9bad_total", "X."), "invalid metric name");
  EXPECT_DEATH(Metrics().counter("bad-name_total", "X."), "invalid metric name");
  EXPECT_DEATH(Metrics().counter("a_total", "X.", {{"bad-label", "v"}}), "invalid label name");
  EXPECT_DEATH(Metrics().counter("a_total", "X.", {{"__x", "v"}}), "invalid label name");
  EXPECT_DEATH(Metrics().counter("a_total", "X.", {{"a", "1"}, {"a", "2"}}), "given twice");
  EXPECT_DEATH(Metrics().histogram("h_seconds", "X.", {{"le", "1"}}), "reserved");
  EXPECT_DEATH(Metrics().histogram("h_seconds", "X.", {}, {1, 0.5}), "strictly increasing");
  EXPECT_DEATH(Metrics().histogram("h_seconds", "X.", {}, {std::nan("")}), "finite");
  EXPECT_DEATH(Metrics().callback("h", "X.", "histogram", {}, [] { return 1.0; }),
               "gauge or counter");
}

// ---- promtool ----

struct PromtoolRun {
  int exit_code;
  std::string output;
};

// Runs `promtool check metrics < text`; nullopt when promtool is missing.
// $ISLE_PROMTOOL names another binary (a path that does not exist shows
// what happens without promtool).
std::optional<PromtoolRun> promtool_check(const std::string& text) {
  const char* env = std::getenv("ISLE_PROMTOOL");
  const std::string promtool = env && *env ? env : "promtool";
  if (std::system(("command -v " + promtool + " >/dev/null 2>&1").c_str()) != 0) {
    return std::nullopt;
  }
  isle::testing::TempDir dir;
  const std::string in = dir.path() + "/metrics.txt", out = dir.path() + "/promtool.out";
  std::ofstream(in) << text;
  const int rc = std::system((promtool + " check metrics < " + in + " > " + out + " 2>&1").c_str());
  std::ifstream f(out);
  std::string output((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return PromtoolRun{WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, output};
}

// promtool is a test dependency (Debian package `prometheus`, installed by
// scripts/install-deps.sh). Missing, the test fails — unless
// ISLE_SKIP_PROMTOOL=1 says to skip it on purpose.
#define REQUIRE_PROMTOOL(run)                                                              \
  if (!(run)) {                                                                            \
    const char* skip = std::getenv("ISLE_SKIP_PROMTOOL");                                  \
    const char* msg =                                                                      \
        "promtool not found: install the Debian package 'prometheus' "                     \
        "(scripts/install-deps.sh does), or set ISLE_SKIP_PROMTOOL=1 to skip this check";  \
    if (skip && std::string(skip) == "1") GTEST_SKIP() << msg;                             \
    FAIL() << msg;                                                                         \
  }

TEST(Metrics, PromtoolAcceptsEveryKindOfFamily) {
  Metrics m;
  m.counter("isle_requests_total", "Requests by route.", {{"route", "/v1/kv"}, {"code", "200"}})
      .inc(12);
  m.counter("isle_requests_total", "Requests by route.",
            {{"route", "a\"quoted\\path\nx"}, {"code", "500"}})
      .inc();
  m.counter("isle_bytes_written_total", "Bytes written.").inc(1e6);
  m.callback("isle_memtable_bytes", "Memtable size.", "gauge", {}, [] { return 65536.0; });
  m.callback("isle_ratio", "A ratio, with a \\ and a\nnewline in its help.", "gauge",
             {{"kind", "x"}}, [] { return 0.1; });
  m.callback("isle_nan_ratio", "Not a number yet.", "gauge", {}, [] { return std::nan(""); });
  m.callback("isle_inf_seconds", "Infinite.", "gauge", {},
             [] { return std::numeric_limits<double>::infinity(); });
  m.callback("isle_flushes_total", "Flushes (collected).", "counter", {}, [] { return 3.0; });
  Histogram& h = m.histogram("isle_request_duration_seconds", "Request latency.",
                             {{"route", "/v1/kv"}});
  for (double v : {0.00005, 0.0003, 0.02, 0.7, 3.0, 60.0}) h.observe(v);
  m.histogram("isle_request_duration_seconds", "Request latency.", {{"route", "/metrics"}});
  m.histogram("isle_value_size_bytes", "Value sizes.", {}, {64, 1024, 1 << 20}).observe(100);
  const std::string text = m.render();

  auto run = promtool_check(text);
  REQUIRE_PROMTOOL(run);
  EXPECT_EQ(run->exit_code, 0) << "promtool said:\n" << run->output << "\non:\n" << text;
}

TEST(Metrics, PromtoolRejectsABadRegistrySoTheCheckCanFail) {
  Metrics m;
  m.counter("isle_requests", "A counter without _total.").inc();
  auto run = promtool_check(m.render());
  REQUIRE_PROMTOOL(run);
  EXPECT_NE(run->exit_code, 0);
  EXPECT_NE(run->output.find("_total"), std::string::npos) << run->output;
  // And a malformed escape is a parse error, not just a lint.
  auto bad = promtool_check("# HELP a_total x\n# TYPE a_total counter\na_total{l=\"\\q\"} 1\n");
  ASSERT_TRUE(bad);
  EXPECT_NE(bad->exit_code, 0);
}

}  // namespace
}  // namespace isle::server
