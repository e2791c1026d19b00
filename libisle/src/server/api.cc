// The shared HTTP API conventions (see api.h).
#include "server/api.h"

#include <charconv>

#include <nlohmann/json.hpp>

#include "server/config.h"
#include "util/base64.h"

namespace isle::server {

HttpResponse error_response(const Status& s) {
  switch (s.code()) {
    case Code::kInvalidArgument:
      return HttpResponse::error(400, "invalid_argument", s.message());
    case Code::kNotFound:
      return HttpResponse::error(404, "not_found", s.message());
    case Code::kBackpressure:
    case Code::kThrottled: {
      auto r = HttpResponse::error(429, "backpressure", s.message());
      r.headers.emplace_back("Retry-After", "1");
      return r;
    }
    case Code::kChangeCursorExpired:
      return HttpResponse::error(410, "cursor_expired", s.message());
    case Code::kFenced:
      return HttpResponse::error(503, "fenced", s.message());
    case Code::kAborted:
    case Code::kStopped:
      return HttpResponse::error(503, "unavailable", s.message());
    case Code::kTransient:
    case Code::kIOError:
    case Code::kUnknownOutcome: {
      auto r = HttpResponse::error(503, "store_unavailable", s.message());
      r.headers.emplace_back("Retry-After", "1");
      return r;
    }
    case Code::kCorruption:
      return HttpResponse::error(500, "corruption", s.message());
    default:
      return HttpResponse::error(500, "internal", s.to_string());
  }
}


void put_bytes(nlohmann::json& j, const char* name, std::string_view bytes) {
  if (is_valid_utf8(bytes)) {
    j[name] = std::string(bytes);
  } else {
    j[std::string(name) + "_b64"] = base64_encode(bytes);
  }
}

Result<std::optional<std::string>> get_bytes(const nlohmann::json& j, const char* name) {
  const std::string b64 = std::string(name) + "_b64";
  const bool has_plain = j.contains(name);
  const bool has_b64 = j.contains(b64);
  if (has_plain && has_b64) {
    return Status::InvalidArgument(std::string("both \"") + name + "\" and \"" + b64 + "\" given");
  }
  if (has_plain) {
    if (!j[name].is_string()) {
      return Status::InvalidArgument(std::string("\"") + name + "\" must be a string");
    }
    return std::optional<std::string>(j[name].get<std::string>());
  }
  if (has_b64) {
    if (!j[b64].is_string()) {
      return Status::InvalidArgument("\"" + b64 + "\" must be a string");
    }
    auto d = base64_decode(j[b64].get<std::string>());
    if (!d) return Status::InvalidArgument("\"" + b64 + "\" is not valid base64");
    return std::optional<std::string>(std::move(*d));
  }
  return std::optional<std::string>();
}

namespace {

// Calls f(line_no, line) for each line of an NDJSON body that is not blank
// (a trailing '\r' removed); stops early when f returns a non-OK status.
template <typename F>
Status for_each_ndjson_line(std::string_view body, F f) {
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find('\n', pos);
    if (end == std::string_view::npos) end = body.size();
    std::string_view line = body.substr(pos, end - pos);
    pos = end + 1;
    line_no++;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    ISLE_RETURN_IF_ERROR(f(line_no, line));
  }
  return Status::OK();
}

}  // namespace

bool json_nests_deeper_than(std::string_view text, size_t max_depth) {
  size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > max_depth) return true;
        break;
      case ']':
      case '}':
        if (depth > 0) depth--;  // unbalanced: the parser refuses it later
        break;
      default:
        break;
    }
  }
  return false;
}

size_t count_ndjson_lines(std::string_view body) {
  size_t n = 0;
  (void)for_each_ndjson_line(body, [&n](size_t, std::string_view) {
    n++;
    return Status::OK();
  });
  return n;
}

HttpResponse too_many_keys(size_t limit) {
  return HttpResponse::error(413, "too_many_keys",
                             "more than " + std::to_string(limit) +
                                 " keys (NDJSON lines) in one request; split it");
}

Result<std::vector<nlohmann::json>> parse_ndjson(std::string_view body,
                                                 const NdjsonLimits& limits) {
  std::vector<nlohmann::json> out;
  Status s = for_each_ndjson_line(body, [&](size_t line_no, std::string_view line) -> Status {
    auto where = [line_no] { return "line " + std::to_string(line_no); };
    if (limits.max_line_bytes > 0 && line.size() > limits.max_line_bytes) {
      return Status::InvalidArgument(where() + ": longer than " +
                                     std::to_string(limits.max_line_bytes) + " bytes");
    }
    if (json_nests_deeper_than(line, limits.max_depth)) {
      return Status::InvalidArgument(where() + ": nested deeper than " +
                                     std::to_string(limits.max_depth) + " levels");
    }
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return Status::InvalidArgument(where() + ": not valid JSON");
    if (!j.is_object()) return Status::InvalidArgument(where() + ": not a JSON object");
    out.push_back(std::move(j));
    return Status::OK();
  });
  if (!s.ok()) return s;
  return out;
}

Result<std::string> key_from_path(std::string_view path, std::string_view prefix) {
  if (path.substr(0, prefix.size()) != prefix) return Status::InvalidArgument("bad path");
  auto key = percent_decode(path.substr(prefix.size()));
  if (!key) return Status::InvalidArgument("malformed percent-encoding in the key");
  if (key->empty()) return Status::InvalidArgument("empty key");
  return std::move(*key);
}

Result<QueryParams> QueryParams::parse(std::string_view query,
                                       const std::vector<std::string_view>& allowed) {
  auto pairs = parse_query(query);
  if (!pairs) return Status::InvalidArgument("malformed percent-encoding in the query string");
  for (const auto& [k, v] : *pairs) {
    bool ok = false;
    for (auto a : allowed) ok = ok || a == k;
    if (!ok) return Status::InvalidArgument("unknown query parameter '" + k + "'");
  }
  QueryParams q;
  q.pairs_ = std::move(*pairs);
  return q;
}

std::optional<std::string> QueryParams::get(std::string_view name) const {
  std::optional<std::string> v;
  for (const auto& [k, val] : pairs_) {
    if (k == name) v = val;  // the last one wins
  }
  return v;
}

Result<std::optional<uint64_t>> QueryParams::get_u64(std::string_view name) const {
  auto v = get(name);
  if (!v) return std::optional<uint64_t>();
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (v->empty() || ec != std::errc() || p != v->data() + v->size()) {
    return Status::InvalidArgument(std::string(name) + ": expected an unsigned integer, got '" +
                                   *v + "'");
  }
  return std::optional<uint64_t>(n);
}

Result<std::optional<bool>> QueryParams::get_bool(std::string_view name) const {
  auto v = get(name);
  if (!v) return std::optional<bool>();
  if (*v == "true" || *v == "1" || v->empty()) return std::optional<bool>(true);
  if (*v == "false" || *v == "0") return std::optional<bool>(false);
  return Status::InvalidArgument(std::string(name) + ": expected true or false, got '" + *v + "'");
}

Result<std::optional<std::chrono::milliseconds>> QueryParams::get_duration(
    std::string_view name) const {
  auto v = get(name);
  if (!v) return std::optional<std::chrono::milliseconds>();
  std::string why;
  auto d = parse_duration(*v, &why);
  if (!d) return Status::InvalidArgument(std::string(name) + ": " + why);
  return std::optional<std::chrono::milliseconds>(*d);
}

}  // namespace isle::server
