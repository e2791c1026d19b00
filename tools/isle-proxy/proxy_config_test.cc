// isle-proxy config: a full example parses into the expected values; every
// kind of mistake is an error naming its key; the binary exits 78 on one.
#include "proxy_config.h"

#include <gtest/gtest.h>

#include <fstream>

#include "store/latency_store.h"
#include "testutil/testutil.h"

namespace isle::proxy {
namespace {

const char* kGood = R"(
version: 1
listen: 127.0.0.1:0
upstream: 127.0.0.1:7480
seed: 42
limits:
  max_connections: 10
  max_header_bytes: 8KiB
  buffer_bytes: 32KiB
  max_pipelined: 8
  connect_timeout: 2s
  on_parse_error: forward
rules:
  - name: reads
    match: {methods: [GET, HEAD], path_prefix: /bucket/}
    delay: {distribution: lognormal, p50: 25ms, p99: 150ms}
  - match: {methods: [PUT, POST], direction: response}
    probability: 0.5
    delay: {distribution: uniform, min: 10ms, max: 20ms}
  - delay: {distribution: fixed, value: 7ms}
)";

TEST(ProxyConfigTest, ParsesEveryKey) {
  auto c = parse_proxy_config(kGood);
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->upstream_host, "127.0.0.1");
  EXPECT_EQ(c->upstream_port, 7480);
  EXPECT_EQ(c->listen_port, 0);
  EXPECT_EQ(c->seed, 42u);
  EXPECT_EQ(c->limits.max_connections, 10u);
  EXPECT_EQ(c->limits.max_header_bytes, 8192u);
  EXPECT_EQ(c->limits.buffer_bytes, 32768u);
  EXPECT_EQ(c->limits.max_pipelined, 8u);
  EXPECT_EQ(c->limits.connect_timeout, std::chrono::milliseconds(2000));
  EXPECT_EQ(c->limits.on_parse_error, OnParseError::kForward);
  ASSERT_EQ(c->rules.size(), 3u);
  EXPECT_EQ(c->rules[0].name, "reads");
  EXPECT_EQ(c->rules[0].delay.kind, Distribution::Kind::kLognormal);
  EXPECT_EQ(c->rules[0].delay.a_ms, 25);
  EXPECT_EQ(c->rules[0].delay.b_ms, 150);
  EXPECT_EQ(c->rules[1].name, "rules[1]");
  EXPECT_EQ(c->rules[1].match.direction, Direction::kResponse);
  EXPECT_EQ(c->rules[1].probability, 0.5);
  EXPECT_EQ(c->rules[2].delay.kind, Distribution::Kind::kFixed);
  // First match wins, per direction.
  EXPECT_EQ(c->find_rule(Direction::kRequest, "GET", "/bucket/k"), &c->rules[0]);
  EXPECT_EQ(c->find_rule(Direction::kRequest, "GET", "/other"), &c->rules[2]);
  EXPECT_EQ(c->find_rule(Direction::kRequest, "PUT", "/bucket/k"), &c->rules[2]);
  EXPECT_EQ(c->find_rule(Direction::kResponse, "PUT", "/x"), &c->rules[1]);
  EXPECT_EQ(c->find_rule(Direction::kResponse, "GET", "/x"), nullptr);
  EXPECT_EQ(per_connection_state_bytes(c->limits), 2 * 32768u + 2 * 8192u + 8 * 8192u);
}

TEST(ProxyConfigTest, LognormalDrawsAreLatencyStoresDraws) {
  Distribution d{Distribution::Kind::kLognormal, 35, 200};
  Random a(7), b(7);
  for (int i = 0; i < 100; i++) {
    const double ms = sample_lognormal_ms(b, 35, 200);
    EXPECT_EQ(d.sample(a).count(), static_cast<int64_t>(ms * 1000.0 + 0.5));
  }
  Distribution u{Distribution::Kind::kUniform, 10, 20};
  Random r(1);
  for (int i = 0; i < 1000; i++) {
    const auto s = u.sample(r).count();
    EXPECT_GE(s, 10'000);
    EXPECT_LE(s, 20'000);
  }
}

struct Bad {
  const char* yaml;
  const char* error;  // expected substring
};

TEST(ProxyConfigTest, MistakesNameTheirKey) {
  const Bad cases[] = {
      {"upstream: 127.0.0.1:80\n", "version: required"},
      {"version: 2\nupstream: 127.0.0.1:80\n", "version: unsupported version 2"},
      {"version: 1\n", "upstream: required"},
      {"version: 1\nupstream: 127.0.0.1\n", "upstream: expected host:port"},
      {"version: 1\nupstream: 127.0.0.1:0\n", "upstream: bad port '0'"},
      {"version: 1\nupstream: h:1\nlisten: h:99999\n", "listen: bad port"},
      {"version: 1\nupstream: h:1\nupstreem: h:2\n", "upstreem: unknown key"},
      {"version: 1\nupstream: h:1\nseed: -1\n", "seed: expected a non-negative integer"},
      {"version: 1\nupstream: h:1\nlimits: {max_conections: 3}\n",
       "limits.max_conections: unknown key"},
      {"version: 1\nupstream: h:1\nlimits: {max_header_bytes: 10}\n",
       "limits.max_header_bytes: '10' is out of range"},
      {"version: 1\nupstream: h:1\nlimits: {buffer_bytes: lots}\n", "limits.buffer_bytes:"},
      {"version: 1\nupstream: h:1\nlimits: {connect_timeout: 5}\n", "limits.connect_timeout:"},
      {"version: 1\nupstream: h:1\nlimits: {on_parse_error: ignore}\n",
       "limits.on_parse_error: expected close or forward"},
      {"version: 1\nupstream: h:1\nrules: {a: 1}\n", "rules: expected a list"},
      {"version: 1\nupstream: h:1\nrules: [{name: x}]\n", "rules[0]: a rule needs an action"},
      {"version: 1\nupstream: h:1\nrules: [{reset: {}}]\n",
       "rules[0].reset: reserved for the fault proxy of issue 16"},
      {"version: 1\nupstream: h:1\nphases: []\n", "phases: reserved"},
      {"version: 1\nupstream: h:1\nrules: [{delay: {distribution: lognormal, p50: 5ms}}]\n",
       "rules[0].delay.p99: required"},
      {"version: 1\nupstream: h:1\nrules: [{delay: {distribution: lognormal, p50: 5ms, p99: 9ms, "
       "p55: 1ms}}]\n",
       "rules[0].delay.p55: unknown key"},
      {"version: 1\nupstream: h:1\nrules: [{delay: {distribution: lognormal, p50: 50ms, p99: 9ms}}]\n",
       "rules[0].delay.p99: is less than p50"},
      {"version: 1\nupstream: h:1\nrules: [{delay: {distribution: pareto, value: 1ms}}]\n",
       "rules[0].delay.distribution: unknown distribution 'pareto'"},
      {"version: 1\nupstream: h:1\nrules: [{delay: {value: 1ms}}]\n",
       "rules[0].delay.distribution: required"},
      {"version: 1\nupstream: h:1\nrules: [{delay: {distribution: fixed, value: 1ms}},\n"
       "  {match: {methods: [get]}, delay: {distribution: fixed, value: 1ms}}]\n",
       "rules[1].match.methods[0]: 'get' is not an upper-case HTTP method"},
      {"version: 1\nupstream: h:1\nrules: [{match: {direction: sideways}, delay: {distribution: "
       "fixed, value: 1ms}}]\n",
       "rules[0].match.direction: expected request or response"},
      {"version: 1\nupstream: h:1\nrules: [{match: {path_prefix: bucket}, delay: {distribution: "
       "fixed, value: 1ms}}]\n",
       "rules[0].match.path_prefix: must start with '/'"},
      {"version: 1\nupstream: h:1\nrules: [{probability: 1.5, delay: {distribution: fixed, value: "
       "1ms}}]\n",
       "rules[0].probability: expected a number in [0, 1]"},
      {"version: 1\nversion: 1\nupstream: h:1\n", "version: duplicate key"},
      {"version: [1\n", "YAML syntax error at line"},
      {"- 1\n", "(document): expected a map"},
  };
  for (const auto& c : cases) {
    auto r = parse_proxy_config(c.yaml);
    ASSERT_FALSE(r.ok()) << c.yaml;
    EXPECT_NE(r.status().message().find(c.error), std::string::npos)
        << "yaml:\n" << c.yaml << "got: " << r.status().message() << "\nwant: " << c.error;
  }
}

TEST(ProxyConfigTest, BinaryExits78OnABadConfigAndChecksAGoodOne) {
  isle::testing::TempDir dir;
  const std::string bad = dir.path() + "/bad.yaml", good = dir.path() + "/good.yaml";
  std::ofstream(bad) << "version: 1\nupstream: 127.0.0.1:80\nrules: [{delay: {distribution: "
                        "fixed, valu: 1ms}}]\n";
  std::ofstream(good) << kGood;
  const std::string bin = isle::testing::built_program("isle-proxy");
  EXPECT_EQ(isle::testing::run_program(bin, {"--config", bad, "--check"}), 78);
  EXPECT_EQ(isle::testing::run_program(bin, {"--config", good, "--check"}), 0);
  EXPECT_EQ(isle::testing::run_program(bin, {"--config", good, "--bogus"}), 78);
  EXPECT_EQ(isle::testing::run_program(bin, {"--config", dir.path() + "/missing.yaml"}), 78);
}

}  // namespace
}  // namespace isle::proxy
