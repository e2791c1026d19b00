// Small pieces every role's HTTP API shares, so the five daemons answer
// the same way: one mapping from Status to an HTTP error, one spelling of
// keys and values in JSON, one way to read keys from paths and options
// from query strings, and the bounds every NDJSON body is checked against
// before it is parsed (nesting depth, line count).
//
// JSON spelling (docs/http-api.md): a key or value that is valid UTF-8
// travels as "key"/"value"; any other bytes as "key_b64"/"value_b64"
// (standard base64). Readers of the API accept either.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "isle/status.h"
#include "util/utf8.h"
#include "server/http.h"

namespace isle::server {

// The error response for a non-OK status:
//   InvalidArgument 400, NotFound 404, Backpressure/Throttled 429 (with
//   Retry-After), ChangeCursorExpired 410, Fenced 503, Aborted 503,
//   Transient/IOError 503, anything else 500.
HttpResponse error_response(const Status& s);

using ::isle::is_valid_utf8;  // util/utf8.h

// Sets j[name] or j[name + "_b64"] by the rule above.
void put_bytes(nlohmann::json& j, const char* name, std::string_view bytes);
// Reads j[name] or j[name + "_b64"]; nullopt when absent; InvalidArgument
// when both are present, the type is wrong, or the base64 is bad.
Result<std::optional<std::string>> get_bytes(const nlohmann::json& j, const char* name);

// What parse_ndjson checks in one linear scan of each line before the
// line reaches the JSON parser, so a hostile body costs time proportional
// to its size and never deep recursion (100,000 '[' are refused at the
// 17th).
//
// Nesting: the API's NDJSON lines are flat objects (depth 1); 16 leaves
// room without letting a line nest without bound.
//
// Line length: no cap of its own by default. A line is already bounded by
// the route's body limit (server.max_body_bytes, enforced before the
// handler runs), and a legitimate /v1/batch line carries a value up to
// writer.max_value_size (64 MiB by default) as base64, so any smaller
// fixed cap would refuse valid writes. A caller whose lines are small
// (keys only) may set one.
struct NdjsonLimits {
  size_t max_depth = 16;      // arrays and objects nested in one line
  size_t max_line_bytes = 0;  // 0 = bounded only by the body limit
};

// Splits an NDJSON body into parsed objects (blank lines skipped). The
// first bad line is an InvalidArgument naming its line number: not JSON,
// not an object, nested deeper than limits.max_depth, or longer than
// limits.max_line_bytes.
Result<std::vector<nlohmann::json>> parse_ndjson(std::string_view body,
                                                 const NdjsonLimits& limits = {});

// The non-blank lines of an NDJSON body (the objects parse_ndjson would
// return), counted without parsing any: a handler refuses a body with too
// many before paying for parsing it. Linear in the body's size.
size_t count_ndjson_lines(std::string_view body);

// True when `text`, read as JSON, nests arrays and objects more than
// `max_depth` deep. Brackets inside strings do not count; the text need
// not be valid JSON (the parser judges that afterwards). No recursion.
bool json_nests_deeper_than(std::string_view text, size_t max_depth);

// 413 {"error":{"code":"too_many_keys","message":...}}: a request carried
// more keys (NDJSON lines) than `limit`.
HttpResponse too_many_keys(size_t limit);

// The key after `prefix` in a percent-encoded path ("/v1/kv/a%2Fb" ->
// "a/b"). InvalidArgument on a malformed escape or an empty key.
Result<std::string> key_from_path(std::string_view path, std::string_view prefix);

// The query string as a lookup table; unknown parameters are rejected so
// a typo ("?tll=30s") never silently does nothing.
class QueryParams {
 public:
  static Result<QueryParams> parse(std::string_view query,
                                   const std::vector<std::string_view>& allowed);
  std::optional<std::string> get(std::string_view name) const;
  Result<std::optional<uint64_t>> get_u64(std::string_view name) const;
  Result<std::optional<bool>> get_bool(std::string_view name) const;
  Result<std::optional<std::chrono::milliseconds>> get_duration(std::string_view name) const;

 private:
  std::vector<std::pair<std::string, std::string>> pairs_;
};

}  // namespace isle::server
