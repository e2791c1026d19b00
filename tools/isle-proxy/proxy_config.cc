// isle-proxy config parsing (proxy_config.h). Walks the YAML tree by hand:
// every map is checked against the keys it may hold, so a typo is an error
// naming its path, never a silent default. Durations and sizes use the
// daemons' spellings (server/config.h: "25ms", "16KiB").
#include "proxy_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <set>

#include "server/config.h"
#include "store/latency_store.h"

namespace isle::proxy {

namespace {

// The fault actions and schedule of issue 16: known names, not implemented.
const std::vector<std::string> kReservedActions = {"reset", "stall", "drop", "throttle"};

struct Err {
  std::string msg;
};

[[noreturn]] void fail(const std::string& path, const std::string& reason) {
  throw Err{path + ": " + reason};
}

std::string join(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

std::string list_of(const std::vector<std::string>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); i++) out += (i ? ", " : "") + v[i];
  return out;
}

// Checks that `node` is a map whose keys are all in `allowed` (and none is
// repeated: yaml-cpp keeps duplicates silently).
void check_map(const YAML::Node& node, const std::string& path,
               const std::vector<std::string>& allowed) {
  if (!node.IsMap()) fail(path.empty() ? "(document)" : path, "expected a map");
  std::set<std::string> seen;
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) fail(path, "keys must be plain strings");
    const std::string key = kv.first.Scalar();
    const std::string at = join(path, key);
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      if (std::find(kReservedActions.begin(), kReservedActions.end(), key) !=
              kReservedActions.end() ||
          key == "phases") {
        fail(at, "reserved for the fault proxy of issue 16, not implemented yet");
      }
      fail(at, "unknown key (allowed here: " + list_of(allowed) + ")");
    }
    if (!seen.insert(key).second) fail(at, "duplicate key");
  }
}

std::string scalar(const YAML::Node& node, const std::string& path) {
  if (!node.IsScalar()) fail(path, "expected a single value");
  return node.Scalar();
}

uint64_t uint_value(const YAML::Node& node, const std::string& path, uint64_t lo, uint64_t hi) {
  const std::string s = scalar(node, path);
  uint64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size()) {
    fail(path, "expected a non-negative integer, got '" + s + "'");
  }
  if (v < lo || v > hi) {
    fail(path, std::to_string(v) + " is out of range [" + std::to_string(lo) + ", " +
                   std::to_string(hi) + "]");
  }
  return v;
}

uint64_t size_value(const YAML::Node& node, const std::string& path, uint64_t lo, uint64_t hi) {
  const std::string s = scalar(node, path);
  std::string err;
  auto v = server::parse_size(s, &err);
  if (!v) fail(path, err);
  if (*v < lo || *v > hi) {
    fail(path, "'" + s + "' is out of range [" + std::to_string(lo) + ", " +
                   std::to_string(hi) + "] bytes");
  }
  return *v;
}

// A duration in milliseconds; "0ms" is allowed.
double ms_value(const YAML::Node& node, const std::string& path) {
  const std::string s = scalar(node, path);
  std::string err;
  auto v = server::parse_duration(s, &err);
  if (!v) fail(path, err);
  if (*v > std::chrono::milliseconds(600'000)) fail(path, "'" + s + "' is more than 10m");
  return static_cast<double>(v->count());
}

double probability_value(const YAML::Node& node, const std::string& path) {
  const std::string s = scalar(node, path);
  double v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size() || !(v >= 0.0) ||
      v > 1.0) {
    fail(path, "expected a number in [0, 1], got '" + s + "'");
  }
  return v;
}

Distribution parse_distribution(const YAML::Node& node, const std::string& path) {
  if (!node.IsMap()) fail(path, "expected a map with a distribution");
  if (!node["distribution"]) {
    fail(join(path, "distribution"), "required (fixed, uniform or lognormal)");
  }
  const std::string kind = scalar(node["distribution"], join(path, "distribution"));
  Distribution d;
  if (kind == "fixed") {
    check_map(node, path, {"distribution", "value"});
    if (!node["value"]) fail(join(path, "value"), "required for a fixed distribution");
    d.kind = Distribution::Kind::kFixed;
    d.a_ms = d.b_ms = ms_value(node["value"], join(path, "value"));
  } else if (kind == "uniform") {
    check_map(node, path, {"distribution", "min", "max"});
    for (const char* k : {"min", "max"}) {
      if (!node[k]) fail(join(path, k), "required for a uniform distribution");
    }
    d.kind = Distribution::Kind::kUniform;
    d.a_ms = ms_value(node["min"], join(path, "min"));
    d.b_ms = ms_value(node["max"], join(path, "max"));
    if (d.b_ms < d.a_ms) fail(join(path, "max"), "is less than min");
  } else if (kind == "lognormal") {
    check_map(node, path, {"distribution", "p50", "p99"});
    for (const char* k : {"p50", "p99"}) {
      if (!node[k]) fail(join(path, k), "required for a lognormal distribution");
    }
    d.kind = Distribution::Kind::kLognormal;
    d.a_ms = ms_value(node["p50"], join(path, "p50"));
    d.b_ms = ms_value(node["p99"], join(path, "p99"));
    if (d.b_ms < d.a_ms) fail(join(path, "p99"), "is less than p50");
  } else {
    fail(join(path, "distribution"),
         "unknown distribution '" + kind + "' (fixed, uniform or lognormal)");
  }
  return d;
}

bool valid_method(std::string_view m) {
  if (m.empty() || m.size() > 32) return false;
  return std::all_of(m.begin(), m.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

Match parse_match(const YAML::Node& node, const std::string& path) {
  check_map(node, path, {"methods", "path_prefix", "direction"});
  Match m;
  if (node["methods"]) {
    const std::string at = join(path, "methods");
    if (!node["methods"].IsSequence() || node["methods"].size() == 0) {
      fail(at, "expected a non-empty list of methods, e.g. [GET, HEAD]");
    }
    for (size_t i = 0; i < node["methods"].size(); i++) {
      const std::string item = at + "[" + std::to_string(i) + "]";
      const std::string method = scalar(node["methods"][i], item);
      if (!valid_method(method)) fail(item, "'" + method + "' is not an upper-case HTTP method");
      m.methods.push_back(method);
    }
  }
  if (node["path_prefix"]) {
    const std::string at = join(path, "path_prefix");
    m.path_prefix = scalar(node["path_prefix"], at);
    if (m.path_prefix.empty() || m.path_prefix.front() != '/') fail(at, "must start with '/'");
  }
  if (node["direction"]) {
    const std::string at = join(path, "direction");
    const std::string dir = scalar(node["direction"], at);
    if (dir == "request") m.direction = Direction::kRequest;
    else if (dir == "response") m.direction = Direction::kResponse;
    else fail(at, "expected request or response, got '" + dir + "'");
  }
  return m;
}

Rule parse_rule(const YAML::Node& node, const std::string& path) {
  check_map(node, path, {"name", "match", "probability", "delay"});
  Rule r;
  r.name = node["name"] ? scalar(node["name"], join(path, "name")) : path;
  if (node["match"]) r.match = parse_match(node["match"], join(path, "match"));
  if (node["probability"]) {
    r.probability = probability_value(node["probability"], join(path, "probability"));
  }
  if (!node["delay"]) fail(path, "a rule needs an action (delay)");
  r.action = ActionKind::kDelay;
  r.delay = parse_distribution(node["delay"], join(path, "delay"));
  return r;
}

Limits parse_limits(const YAML::Node& node, const std::string& path) {
  check_map(node, path,
            {"max_connections", "max_header_bytes", "buffer_bytes", "max_pipelined",
             "connect_timeout", "on_parse_error"});
  Limits l;
  if (node["max_connections"]) {
    l.max_connections = uint_value(node["max_connections"], join(path, "max_connections"), 1,
                                   1'000'000);
  }
  if (node["max_header_bytes"]) {
    l.max_header_bytes = size_value(node["max_header_bytes"], join(path, "max_header_bytes"),
                                    256, uint64_t{1} << 20);
  }
  if (node["buffer_bytes"]) {
    l.buffer_bytes =
        size_value(node["buffer_bytes"], join(path, "buffer_bytes"), 512, uint64_t{16} << 20);
  }
  if (node["max_pipelined"]) {
    l.max_pipelined = uint_value(node["max_pipelined"], join(path, "max_pipelined"), 1, 4096);
  }
  if (node["connect_timeout"]) {
    const std::string at = join(path, "connect_timeout");
    const double ms = ms_value(node["connect_timeout"], at);
    if (ms <= 0) fail(at, "must be more than 0");
    l.connect_timeout = std::chrono::milliseconds(static_cast<int64_t>(ms));
  }
  if (node["on_parse_error"]) {
    const std::string at = join(path, "on_parse_error");
    const std::string v = scalar(node["on_parse_error"], at);
    if (v == "close") l.on_parse_error = OnParseError::kClose;
    else if (v == "forward") l.on_parse_error = OnParseError::kForward;
    else fail(at, "expected close or forward, got '" + v + "'");
  }
  return l;
}

}  // namespace

std::chrono::microseconds Distribution::sample(Random& rnd) const {
  double ms = a_ms;
  switch (kind) {
    case Kind::kFixed:
      break;
    case Kind::kUniform:
      ms = a_ms + (b_ms - a_ms) * rnd.unit();
      break;
    case Kind::kLognormal:
      ms = sample_lognormal_ms(rnd, a_ms, b_ms);
      break;
  }
  return std::chrono::microseconds(static_cast<int64_t>(ms * 1000.0 + 0.5));
}

bool Match::matches(Direction d, std::string_view method, std::string_view target) const {
  if (d != direction) return false;
  if (!methods.empty() && std::find(methods.begin(), methods.end(), method) == methods.end()) {
    return false;
  }
  return target.substr(0, path_prefix.size()) == path_prefix;
}

const Rule* ProxyConfig::find_rule(Direction d, std::string_view method,
                                   std::string_view target) const {
  for (const auto& r : rules) {
    if (r.match.matches(d, method, target)) return &r;
  }
  return nullptr;
}

uint64_t per_connection_state_bytes(const Limits& l) {
  return 2 * l.buffer_bytes + 2 * l.max_header_bytes + l.max_pipelined * l.max_header_bytes;
}

Status parse_host_port(std::string_view text, std::string_view what, bool allow_zero,
                       std::string* host, uint16_t* port) {
  const std::string w(what);
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Status::InvalidArgument(w + ": expected host:port, got '" + std::string(text) + "'");
  }
  std::string_view h = text.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  const std::string_view p = text.substr(colon + 1);
  unsigned v = 0;
  auto r = std::from_chars(p.data(), p.data() + p.size(), v);
  if (p.empty() || r.ec != std::errc() || r.ptr != p.data() + p.size() || v > 65535 ||
      (v == 0 && !allow_zero)) {
    return Status::InvalidArgument(w + ": bad port '" + std::string(p) + "'");
  }
  *host = std::string(h);
  *port = static_cast<uint16_t>(v);
  return Status::OK();
}

Result<ProxyConfig> parse_proxy_config(const std::string& yaml_text) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument("YAML syntax error at line " + std::to_string(e.mark.line + 1) +
                                   ": " + e.msg);
  }
  try {
    check_map(root, "", {"version", "listen", "upstream", "seed", "limits", "rules"});
    ProxyConfig c;
    if (!root["version"]) fail("version", "required (1)");
    c.version = static_cast<int>(uint_value(root["version"], "version", 0, 1000));
    if (c.version != 1) fail("version", "unsupported version " + std::to_string(c.version) +
                                            " (this isle-proxy reads version 1)");
    if (root["listen"]) {
      Status s = parse_host_port(scalar(root["listen"], "listen"), "listen", true, &c.listen_host,
                                 &c.listen_port);
      if (!s.ok()) throw Err{s.message()};
    }
    if (!root["upstream"]) fail("upstream", "required (host:port)");
    Status s = parse_host_port(scalar(root["upstream"], "upstream"), "upstream", false,
                               &c.upstream_host, &c.upstream_port);
    if (!s.ok()) throw Err{s.message()};
    if (root["seed"]) c.seed = uint_value(root["seed"], "seed", 0, UINT64_MAX);
    if (root["limits"]) c.limits = parse_limits(root["limits"], "limits");
    if (root["rules"]) {
      const YAML::Node rules = root["rules"];
      if (!rules.IsSequence()) fail("rules", "expected a list of rules");
      for (size_t i = 0; i < rules.size(); i++) {
        c.rules.push_back(parse_rule(rules[i], "rules[" + std::to_string(i) + "]"));
      }
    }
    return c;
  } catch (const Err& e) {
    return Status::InvalidArgument(e.msg);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(std::string("YAML: ") + e.msg);
  }
}

}  // namespace isle::proxy
