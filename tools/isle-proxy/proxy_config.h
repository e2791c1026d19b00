// isle-proxy configuration: one YAML document (docs/isle-proxy.md) with a
// version, the listen and upstream addresses, a seed, limits, and an
// ordered list of rules. A rule matches requests (method, path prefix) in
// one direction and carries one action. Today the only action is `delay`;
// the fault actions of issue 16 (reset, stall, drop, throttle) and a
// `phases:` schedule are reserved names that the parser recognises and
// refuses as "not implemented yet", so they grow into this same format
// without a new version.
//
// Parsing is strict: an unknown key, a wrong type, a value out of range or
// a missing required key is InvalidArgument naming the exact path
// ("rules[1].delay.p99: ..."). The delay parametrisation is
// LatencyStore's (store/latency_store.h): a lognormal given its p50 and
// p99, drawn by the shared sample_lognormal_ms().
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "isle/status.h"
#include "util/random.h"

namespace isle::proxy {

// Which way the bytes the rule acts on travel: `request` acts before the
// first byte of a request is forwarded upstream, `response` before the
// first byte of the response to a matching request is forwarded to the
// client.
enum class Direction { kRequest, kResponse };

struct Distribution {
  enum class Kind { kFixed, kUniform, kLognormal };
  Kind kind = Kind::kFixed;
  // fixed: a = the value. uniform: [a, b]. lognormal: a = p50, b = p99.
  // Milliseconds, >= 0; b >= a for uniform and lognormal.
  double a_ms = 0;
  double b_ms = 0;

  // One sample in microseconds (lognormal capped at 60 s like LatencyStore).
  std::chrono::microseconds sample(Random& rnd) const;
};

struct Match {
  std::vector<std::string> methods;  // upper case; empty = every method
  std::string path_prefix;           // "" = every path; compared to the request target
  Direction direction = Direction::kRequest;

  bool matches(Direction d, std::string_view method, std::string_view target) const;
};

// The action a rule takes. Only kDelay exists yet (see the file comment).
enum class ActionKind { kDelay };

struct Rule {
  std::string name;          // for logs and stats; "rules[i]" when not given
  Match match;
  double probability = 1.0;  // chance that a matching message gets the action
  ActionKind action = ActionKind::kDelay;
  Distribution delay;
};

// What the proxy does with a request it cannot parse as HTTP/1.1.
enum class OnParseError { kClose, kForward };

struct Limits {
  uint64_t max_connections = 256;      // client connections open at once
  uint64_t max_header_bytes = 16384;   // request line + headers (or status line + headers)
  uint64_t buffer_bytes = 65536;       // read buffer per direction per connection
  uint64_t max_pipelined = 64;         // requests forwarded and not yet answered, per connection
  std::chrono::milliseconds connect_timeout{5000};  // to the upstream
  OnParseError on_parse_error = OnParseError::kClose;
};

struct ProxyConfig {
  int version = 1;
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 0;  // 0 = any free port (tests)
  std::string upstream_host;
  uint16_t upstream_port = 0;
  uint64_t seed = 1;
  Limits limits;
  std::vector<Rule> rules;

  // The first rule whose match fits, or nullptr. First match wins: later
  // rules are not consulted, whatever the winner's probability draws.
  const Rule* find_rule(Direction d, std::string_view method, std::string_view target) const;
};

// The bytes of per-connection state the limits allow: two read buffers,
// two header buffers, and the pending-request queue (method + target,
// each at most max_header_bytes).
uint64_t per_connection_state_bytes(const Limits& limits);

// Parses a YAML document. InvalidArgument "path: reason" on the first
// problem.
Result<ProxyConfig> parse_proxy_config(const std::string& yaml_text);

// "host:port" -> host and port ("[::1]:80" for IPv6). `what` names the key
// in errors. Port 0 is allowed only when allow_zero.
Status parse_host_port(std::string_view text, std::string_view what, bool allow_zero,
                       std::string* host, uint16_t* port);

}  // namespace isle::proxy
