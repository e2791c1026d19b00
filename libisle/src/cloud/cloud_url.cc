// Cloud store URL parsing; see cloud_url.h.
#include "cloud/cloud_url.h"

#include <cctype>
#include <cstdlib>

namespace isle {

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX and '+' (as a space, as in query strings).
Result<std::string> decode_query_part(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); i++) {
    char c = in[i];
    if (c == '+') {
      c = ' ';
    } else if (c == '%') {
      int hi = i + 2 < in.size() ? hex_digit(in[i + 1]) : -1;
      int lo = i + 2 < in.size() ? hex_digit(in[i + 2]) : -1;
      if (hi < 0 || lo < 0) return Status::InvalidArgument("bad percent escape in URL query");
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    if (c == '\0') return Status::InvalidArgument("NUL byte in URL query");
    out.push_back(c);
  }
  return out;
}

Result<long> parse_positive(const CloudUrl& url, const char* key, long dflt, long max) {
  auto v = url.get(key);
  if (!v) return dflt;
  char* end = nullptr;
  long n = std::strtol(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0' || n <= 0 || n > max) {
    return Status::InvalidArgument(std::string(key) + "=" + *v + ": expected a whole number in 1.." +
                                   std::to_string(max));
  }
  return n;
}

}  // namespace

EnvLookup process_env() {
  return [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::string(v);
  };
}

std::optional<std::string> CloudUrl::get(const std::string& key) const {
  auto it = params.find(key);
  if (it == params.end()) return std::nullopt;
  return it->second;
}

Result<CloudUrl> parse_cloud_url(std::string_view url, const std::vector<std::string>& known) {
  CloudUrl out;
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) {
    return Status::InvalidArgument("malformed store URL '" + std::string(url) + "'");
  }
  for (char c : url.substr(0, sep)) {
    out.scheme.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  std::string_view rest = url.substr(sep + 3);
  if (rest.find('#') != std::string_view::npos) {
    return Status::InvalidArgument("store URL '" + std::string(url) + "' must not have a fragment");
  }
  size_t q = rest.find('?');
  std::string_view authority = rest.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view() : rest.substr(q + 1);
  if (!authority.empty() && authority.back() == '/') authority.remove_suffix(1);
  if (authority.empty()) {
    return Status::InvalidArgument("store URL '" + std::string(url) + "' names no bucket: expected " +
                                   out.scheme + "://BUCKET?...");
  }
  if (authority.find('/') != std::string_view::npos) {
    return Status::InvalidArgument(
        "store URL '" + std::string(url) +
        "' has a path after the bucket: put IsleDB's prefix in the store prefix setting instead");
  }
  out.name = std::string(authority);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    ISLE_ASSIGN_OR_RETURN(std::string key, decode_query_part(pair.substr(0, eq)));
    std::string value;
    if (eq != std::string_view::npos) {
      ISLE_ASSIGN_OR_RETURN(value, decode_query_part(pair.substr(eq + 1)));
    }
    bool ok = false;
    for (const auto& k : known) ok = ok || k == key;
    if (!ok) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      return Status::InvalidArgument("unknown parameter '" + key + "' in store URL '" +
                                     std::string(url) + "' (known: " + list + ")");
    }
    if (!out.params.emplace(key, value).second) {
      return Status::InvalidArgument("parameter '" + key + "' given twice in store URL '" +
                                     std::string(url) + "'");
    }
  }
  return out;
}

std::vector<std::string> common_cloud_params() {
  return {"ca_file", "verify_tls", "connect_timeout_ms", "io_timeout_ms", "max_connections",
          "check"};
}

Result<bool> parse_bool_param(std::string_view value, std::string_view what) {
  if (value == "true" || value == "1") return true;
  if (value == "false" || value == "0") return false;
  return Status::InvalidArgument(std::string(what) + "=" + std::string(value) +
                                 ": expected true or false");
}

Result<CommonCloudSettings> parse_common_cloud_params(const CloudUrl& url) {
  CommonCloudSettings s;
  if (auto v = url.get("ca_file")) s.http.ca_file = *v;
  if (auto v = url.get("verify_tls")) {
    ISLE_ASSIGN_OR_RETURN(s.http.verify_tls, parse_bool_param(*v, "verify_tls"));
  }
  if (auto v = url.get("check")) {
    ISLE_ASSIGN_OR_RETURN(s.check, parse_bool_param(*v, "check"));
  }
  ISLE_ASSIGN_OR_RETURN(long connect_ms, parse_positive(url, "connect_timeout_ms", 5'000, 600'000));
  ISLE_ASSIGN_OR_RETURN(long io_ms, parse_positive(url, "io_timeout_ms", 30'000, 3'600'000));
  ISLE_ASSIGN_OR_RETURN(long conns, parse_positive(url, "max_connections", 64, 4096));
  s.http.connect_timeout = std::chrono::milliseconds(connect_ms);
  s.http.io_timeout = std::chrono::milliseconds(io_ms);
  s.http.max_connections = static_cast<size_t>(conns);
  return s;
}

}  // namespace isle
