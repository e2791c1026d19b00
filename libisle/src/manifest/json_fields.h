// Typed field readers for JSON objects read from the bucket, shared by the
// manifest codec (manifest_codec.cc) and GC's state codec
// (maint/gc_codec.cc). Include it only from such codec .cc files: it pulls
// in nlohmann-json.
//
// The readers throw json_fields::DecodeError on a missing or mistyped
// field; decode_object() is the one place that catches it (and any
// nlohmann exception) and turns it into Corruption naming the object, so
// no exception leaves a codec.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "isle/status.h"

namespace isle::json_fields {

using nlohmann::json;

struct DecodeError {
  std::string message;
};

[[noreturn]] inline void fail(const std::string& m) { throw DecodeError{m}; }

inline const json& field(const json& j, const char* name) {
  if (!j.is_object()) fail("expected an object");
  auto it = j.find(name);
  if (it == j.end()) fail(std::string("missing field \"") + name + "\"");
  return *it;
}

inline uint64_t get_u64(const json& j, const char* name) {
  const json& v = field(j, name);
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() >= 0) return v.get<uint64_t>();
  fail(std::string("field \"") + name + "\" is not an unsigned integer");
}

inline uint64_t opt_u64(const json& j, const char* name, uint64_t dflt) {
  return j.contains(name) ? get_u64(j, name) : dflt;
}

inline bool opt_bool(const json& j, const char* name, bool dflt) {
  if (!j.contains(name)) return dflt;
  const json& v = j.at(name);
  if (!v.is_boolean()) fail(std::string("field \"") + name + "\" is not true or false");
  return v.get<bool>();
}
inline int64_t get_i64(const json& j, const char* name) {
  const json& v = field(j, name);
  if (!v.is_number_integer()) fail(std::string("field \"") + name + "\" is not an integer");
  return v.get<int64_t>();
}

inline std::string get_str(const json& j, const char* name) {
  const json& v = field(j, name);
  if (!v.is_string()) fail(std::string("field \"") + name + "\" is not a string");
  return v.get<std::string>();
}

inline std::string opt_str(const json& j, const char* name) {
  return j.contains(name) ? get_str(j, name) : std::string();
}

inline const json& get_array(const json& j, const char* name) {
  const json& v = field(j, name);
  if (!v.is_array()) fail(std::string("field \"") + name + "\" is not an array");
  return v;
}

inline std::vector<std::string> get_str_array(const json& j, const char* name) {
  std::vector<std::string> out;
  for (const json& s : get_array(j, name)) {
    if (!s.is_string()) fail(std::string("field \"") + name + "\" holds a non-string");
    out.push_back(s.get<std::string>());
  }
  return out;
}

// Parses `bytes` as a JSON object, checks its "format" field against
// `max_format` (a newer one is NotSupported; when `format_required` is
// false an absent field means format 1) and runs `body` on it. Malformed
// JSON, non-objects and every DecodeError become Corruption("<what>: ...").
template <typename T, typename F>
Result<T> decode_object(std::string_view bytes, std::string_view what, std::string_view kind,
                        uint64_t max_format, bool format_required, F body) {
  try {
    json j = json::parse(bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return Status::Corruption(std::string(what) + ": not valid JSON");
    if (!j.is_object()) return Status::Corruption(std::string(what) + ": not a JSON object");
    if (format_required || j.contains("format")) {
      const uint64_t f = get_u64(j, "format");
      if (f > max_format) {
        return Status::NotSupported(std::string(what) + ": " + std::string(kind) + " format " +
                                    std::to_string(f) + " is newer than this build understands (" +
                                    std::to_string(max_format) + ")");
      }
    }
    return body(j);
  } catch (const DecodeError& e) {
    return Status::Corruption(std::string(what) + ": " + e.message);
  } catch (const std::exception& e) {
    return Status::Corruption(std::string(what) + ": " + e.what());
  }
}

}  // namespace isle::json_fields
