// Implementation of the daemon tests' fixture and helpers (daemon_test.h).
#include "daemons/daemon_test.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <sstream>

namespace isle::daemontest {

// ---- encodings --------------------------------------------------------------

std::string pct(std::string_view bytes) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : bytes) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string b64_encode(std::string_view bytes) {
  static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  while (i + 3 <= bytes.size()) {
    uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    out += tbl[v >> 18];
    out += tbl[(v >> 12) & 63];
    out += tbl[(v >> 6) & 63];
    out += tbl[v & 63];
    i += 3;
  }
  size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t v = uint8_t(bytes[i]) << 16;
    out += tbl[v >> 18];
    out += tbl[(v >> 12) & 63];
    out += "==";
  } else if (rest == 2) {
    uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
    out += tbl[v >> 18];
    out += tbl[(v >> 12) & 63];
    out += tbl[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> b64_decode(std::string_view text) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < text.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; k++) {
      char c = text[i + k];
      if (c == '=' && i + 4 == text.size() && k >= 2) {
        v[k] = 0;
        pad++;
      } else {
        if (pad) return std::nullopt;
        v[k] = val(c);
        if (v[k] < 0) return std::nullopt;
      }
    }
    uint32_t x = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out += static_cast<char>(x >> 16);
    if (pad < 2) out += static_cast<char>((x >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(x & 0xff);
  }
  return out;
}

bool is_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = s[i];
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      i++;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    for (size_t k = 1; k <= n; k++) {
      if (i + k >= s.size()) return false;
      unsigned char d = s[i + k];
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)) return false;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

std::string show(std::string_view bytes) {
  std::string out = "\"";
  for (unsigned char c : bytes) {
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out + "\"";
}

void set_bytes(json& j, const std::string& name, std::string_view bytes, bool force_b64) {
  if (!force_b64 && is_utf8(bytes)) {
    j[name] = std::string(bytes);
  } else {
    j[name + "_b64"] = b64_encode(bytes);
  }
}

std::optional<std::string> get_bytes(const json& j, const std::string& name) {
  if (!j.is_object()) return std::nullopt;
  if (auto it = j.find(name); it != j.end() && it->is_string()) return it->get<std::string>();
  if (auto it = j.find(name + "_b64"); it != j.end() && it->is_string()) {
    auto d = b64_decode(it->get<std::string>());
    if (!d) ADD_FAILURE() << "bad base64 in " << name << "_b64: " << it->dump();
    return d;
  }
  return std::nullopt;
}

std::string kv_path(std::string_view key, std::string_view query) {
  std::string p = "/v1/kv/" + pct(key);
  if (!query.empty()) p += "?" + std::string(query);
  return p;
}

std::vector<json> parse_ndjson(const std::string& body) {
  std::vector<json> out;
  std::istringstream in(body);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    n++;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    try {
      out.push_back(json::parse(line));
    } catch (const std::exception& e) {
      ADD_FAILURE() << "NDJSON line " << n << " does not parse (" << e.what() << "): " << line;
      return out;
    }
  }
  return out;
}

json parse_json(const std::string& body) {
  try {
    return json::parse(body);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "body is not JSON (" << e.what() << "): " << body.substr(0, 500);
    return json();
  }
}

::testing::AssertionResult IsJsonError(const HttpResult& r, int status) {
  if (r.status == 0) return ::testing::AssertionFailure() << "no response: " << r.error;
  if (status != 0 && r.status != status) {
    return ::testing::AssertionFailure() << "expected " << status << ", got " << r.describe();
  }
  if (status == 0 && (r.status < 400 || r.status > 499)) {
    return ::testing::AssertionFailure() << "expected a 4xx, got " << r.describe();
  }
  std::string ct = r.header("content-type");
  if (ct.find("application/json") == std::string::npos) {
    return ::testing::AssertionFailure() << r.status << " with Content-Type '" << ct
                                         << "', not application/json: " << r.body;
  }
  json j;
  try {
    j = json::parse(r.body);
  } catch (const std::exception&) {
    return ::testing::AssertionFailure() << r.status << " body is not JSON: " << r.body;
  }
  if (!j.is_object() || !j.contains("error") || !j["error"].is_object() ||
      !j["error"].contains("code") || !j["error"]["code"].is_string() ||
      j["error"]["code"].get<std::string>().empty() || !j["error"].contains("message") ||
      !j["error"]["message"].is_string()) {
    return ::testing::AssertionFailure() << r.status << " body lacks {\"error\":{\"code\",\"message\"}}: "
                                         << r.body;
  }
  return ::testing::AssertionSuccess();
}

uint64_t seq_of(const HttpResult& r) {
  if (r.status != 200) {
    ADD_FAILURE() << "write answered " << r.describe();
    return 0;
  }
  json j = parse_json(r.body);
  if (!j.is_object() || !j.contains("seq") || !j["seq"].is_number_unsigned()) {
    ADD_FAILURE() << "write answer without a numeric seq: " << r.body;
    return 0;
  }
  return j["seq"].get<uint64_t>();
}

bool eventually(const std::function<bool()>& f, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (f()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(step);
  }
}

// ---- reading ----------------------------------------------------------------

KVs scan(HttpClient& c, const std::string& query, bool* ok) {
  KVs out;
  if (ok) *ok = false;
  HttpResult r = c.get("/v1/scan" + (query.empty() ? std::string() : "?" + query));
  if (r.status != 200) {
    ADD_FAILURE() << "GET /v1/scan?" << query << " -> " << r.describe();
    return out;
  }
  for (const json& j : parse_ndjson(r.body)) {
    auto k = get_bytes(j, "key");
    auto v = get_bytes(j, "value");
    if (!k || !v) {
      ADD_FAILURE() << "scan line without key/value: " << j.dump();
      return out;
    }
    out.emplace_back(*k, *v);
  }
  if (ok) *ok = true;
  return out;
}

std::vector<std::optional<std::string>> mget(HttpClient& c, const std::vector<std::string>& keys,
                                             bool* ok) {
  std::vector<std::optional<std::string>> out;
  if (ok) *ok = false;
  std::string body;
  for (const auto& k : keys) {
    json j = json::object();
    set_bytes(j, "key", k);
    body += j.dump() + "\n";
  }
  HttpResult r = c.post("/v1/mget", body);
  if (r.status != 200) {
    ADD_FAILURE() << "POST /v1/mget -> " << r.describe();
    return out;
  }
  std::vector<json> lines = parse_ndjson(r.body);
  if (lines.size() != keys.size()) {
    ADD_FAILURE() << "mget of " << keys.size() << " keys answered " << lines.size() << " lines: " << r.body;
    return out;
  }
  for (size_t i = 0; i < lines.size(); i++) {
    const json& j = lines[i];
    if (!j.contains("found") || !j["found"].is_boolean()) {
      ADD_FAILURE() << "mget line without boolean found: " << j.dump();
      return out;
    }
    if (auto k = get_bytes(j, "key"); k && *k != keys[i]) {
      ADD_FAILURE() << "mget line " << i << " is for key " << show(*k) << ", asked " << show(keys[i]);
    }
    if (j["found"].get<bool>()) {
      auto v = get_bytes(j, "value");
      if (!v) {
        ADD_FAILURE() << "mget line found without value: " << j.dump();
        return out;
      }
      out.push_back(*v);
    } else {
      if (j.contains("value") || j.contains("value_b64")) {
        ADD_FAILURE() << "mget line not found but with a value: " << j.dump();
      }
      out.push_back(std::nullopt);
    }
  }
  if (ok) *ok = true;
  return out;
}

KVs model_scan(const Model& m, const std::optional<std::string>& start,
               const std::optional<std::string>& end, const std::string& prefix, size_t limit) {
  KVs out;
  for (const auto& [k, v] : m) {
    if (start && k < *start) continue;
    if (end && k >= *end) continue;
    if (k.compare(0, prefix.size(), prefix) != 0) continue;
    out.emplace_back(k, v);
    if (limit && out.size() == limit) break;
  }
  return out;
}

std::string scan_query(const std::optional<std::string>& start, const std::optional<std::string>& end,
                       const std::string& prefix, size_t limit) {
  std::string q;
  auto add = [&](const std::string& k, const std::string& v) {
    if (!q.empty()) q += "&";
    q += k + "=" + v;
  };
  if (start) add("start", pct(*start));
  if (end) add("end", pct(*end));
  if (!prefix.empty()) add("prefix", pct(prefix));
  if (limit) add("limit", std::to_string(limit));
  return q;
}

std::string diff(const KVs& want, const KVs& got) {
  std::ostringstream out;
  out << "want " << want.size() << " pairs, got " << got.size() << ";";
  int shown = 0;
  size_t i = 0, j = 0;
  while ((i < want.size() || j < got.size()) && shown < 8) {
    if (i < want.size() && j < got.size() && want[i] == got[j]) {
      i++, j++;
      continue;
    }
    if (j >= got.size() || (i < want.size() && want[i].first < got[j].first)) {
      out << " missing " << show(want[i].first) << "=" << show(want[i].second) << ";";
      i++;
    } else if (i >= want.size() || got[j].first < want[i].first) {
      out << " extra " << show(got[j].first) << "=" << show(got[j].second) << ";";
      j++;
    } else {
      out << " " << show(want[i].first) << " want " << show(want[i].second) << " got "
          << show(got[j].second) << ";";
      i++, j++;
    }
    shown++;
  }
  return out.str();
}

KVs as_kvs(const Model& m) { return KVs(m.begin(), m.end()); }

int l0_count(HttpClient& reader) {
  HttpResult r = reader.get("/v1/manifest");
  if (r.status != 200) {
    ADD_FAILURE() << "GET /v1/manifest -> " << r.describe();
    return -1;
  }
  json j = parse_json(r.body);
  if (!j.is_object() || !j.contains("l0") || !j["l0"].is_array()) {
    ADD_FAILURE() << "manifest without an \"l0\" array: " << r.body.substr(0, 1000);
    return -1;
  }
  return static_cast<int>(j["l0"].size());
}

// One value from /metrics (the sum over its label sets); -1 when absent.
double metric_value(HttpClient& c, const std::string& name) {
  HttpResult r = c.get("/metrics");
  if (r.status != 200) {
    ADD_FAILURE() << "GET /metrics -> " << r.describe();
    return -1;
  }
  std::istringstream in(r.body);
  std::string line;
  double sum = 0;
  bool found = false;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t end = line.find_first_of("{ ");
    if (end == std::string::npos || line.compare(0, end, name) != 0 || end != name.size()) continue;
    size_t sp = line.rfind(' ');
    sum += std::strtod(line.c_str() + sp + 1, nullptr);
    found = true;
  }
  return found ? sum : -1;
}

uint64_t status_number(HttpClient& c, const std::string& field) {
  HttpResult r = c.get("/v1/status");
  if (r.status != 200) {
    ADD_FAILURE() << "GET /v1/status -> " << r.describe();
    return 0;
  }
  json j = parse_json(r.body);
  if (!j.is_object() || !j.contains(field) || !j[field].is_number()) {
    ADD_FAILURE() << "/v1/status without number " << field << ": " << r.body;
    return 0;
  }
  return j[field].get<uint64_t>();
}

// ---- fixture ----------------------------------------------------------------

DaemonTest::DaemonTest() {
  std::filesystem::create_directories(dir_.path() + "/bucket");
  bucket_url_ = "file://" + dir_.path() + "/bucket";
}

Settings DaemonTest::defaults(const std::string& name) const {
  Settings s = {{"store.url", bucket_url_}, {"log.level", "info"}};
  if (name == "writerd") {
    s.emplace_back("writer.flush_interval", "20ms");
  } else if (name == "readerd") {
    s.emplace_back("reader.refresh_interval", "200ms");
  } else if (name == "tailerd") {
    s.emplace_back("tailer.refresh_interval", "100ms");
    s.emplace_back("tailer.heartbeat_interval", "1s");
  } else if (name == "compactord") {
    s.emplace_back("compactor.interval", "1h");  // cycles only on POST /v1/run
  } else if (name == "retentiond") {
    s.emplace_back("retention.interval", "1h");
  }
  return s;
}

DaemonProcess& DaemonTest::add(const std::string& name, const Settings& yaml, const Settings& sets) {
  Settings all = defaults(name);
  for (const auto& [p, v] : yaml) {
    bool replaced = false;
    for (auto& [dp, dv] : all) {
      if (dp == p) {
        dv = v;
        replaced = true;
      }
    }
    if (!replaced) all.emplace_back(p, v);
  }
  daemons_.push_back(std::make_unique<DaemonProcess>(name, dir_.path(), all, sets));
  return *daemons_.back();
}

void DaemonTest::expect_dead(DaemonProcess& d) { dead_.push_back(&d); }

void DaemonTest::TearDown() {
  // Stop the readers first and the writer last, the reverse of starting.
  for (auto it = daemons_.rbegin(); it != daemons_.rend(); ++it) {
    DaemonProcess& d = **it;
    bool dead = std::find(dead_.begin(), dead_.end(), &d) != dead_.end();
    if (!d.running()) continue;
    if (dead) {
      d.kill();
      d.wait_exit(10s);
      continue;
    }
    auto t0 = Clock::now();
    std::optional<int> code = d.stop(20s);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
    EXPECT_TRUE(code.has_value()) << d.name() << " did not exit within 20 s of SIGTERM\n" << d.log(8192);
    if (code) {
      EXPECT_EQ(*code, 0) << d.name() << " exited " << *code << " after SIGTERM (" << ms << " ms)\n"
                          << d.log(8192);
    }
  }
  if (HasFailure()) {
    for (const auto& d : daemons_) {
      std::printf("----- %s log %s (tail) -----\n%s\n", d->name().c_str(), d->log_path().c_str(),
                  d->log(6000).c_str());
    }
  }
  daemons_.clear();
}

}  // namespace isle::daemontest
