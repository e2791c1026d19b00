// Daemon configuration: a schema of typed keys, filled from one YAML file
// and then from `--set path=value` overrides (later wins), and checked
// whole before the daemon starts.
//
// Keys are dotted paths into nested YAML maps ("writer.flush_interval" is
// `writer: {flush_interval: ...}`). Loading rejects, naming the exact path
// and a reason:
//   * a key the schema does not know   ("writer.memtable_sizee: unknown key")
//   * a value of the wrong type        ("server.max_connections: expected an integer, got 'lots'")
//   * a size or duration that does not parse, a number out of range, a
//     value outside an enum's choices, a required key left empty.
// Sizes: "64MiB", "512KiB", "1GB", "4096" (bytes; KiB/MiB/GiB/TiB are
// powers of 1024, KB/MB/GB/TB of 1000). Durations: "100ms", "30s", "5m",
// "1h", "250us", "1d"; a bare number is rejected (the unit is required).
//
// Secrets never live here: a key that names a credential file holds the
// path only (the file is read by the role), and dump() prints the
// effective config with every key marked secret shown as "<redacted>".
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "isle/status.h"

namespace isle::server {

enum class ConfigType { kString, kBool, kInt, kSize, kDuration, kEnum };

struct ConfigKey {
  std::string path;          // "writer.flush_interval"
  ConfigType type = ConfigType::kString;
  std::string default_value; // in the YAML spelling ("100ms"); "" = empty
  std::string help;          // one line, shown by --help
  int64_t min = INT64_MIN;   // kInt: inclusive bounds
  int64_t max = INT64_MAX;
  std::vector<std::string> choices;  // kEnum
  bool required = false;     // must be non-empty
  bool secret = false;       // redacted in dump()
};

class ConfigSchema {
 public:
  ConfigSchema& add(ConfigKey key);
  const std::vector<ConfigKey>& keys() const { return keys_; }
  const ConfigKey* find(std::string_view path) const;

 private:
  std::vector<ConfigKey> keys_;
};

// A loaded, validated configuration. Getters take a path the schema
// declares with the matching type (a mismatch is a programming error and
// aborts).
class Config {
 public:
  std::string get_string(std::string_view path) const;
  bool get_bool(std::string_view path) const;
  int64_t get_int(std::string_view path) const;
  uint64_t get_size(std::string_view path) const;  // bytes
  std::chrono::milliseconds get_duration(std::string_view path) const;
  // Whether the key was set by the file or an override (not defaulted).
  bool is_set(std::string_view path) const;
  // "path: value" lines, secrets redacted (for --check-config and logs).
  std::string dump() const;

 private:
  friend Result<Config> load_config(const ConfigSchema&, const std::string*,
                                    const std::vector<std::string>&);
  struct Value {
    const ConfigKey* key;
    std::string text;  // as written
    bool set = false;
    int64_t i = 0;     // parsed kInt/kSize/kBool
    std::chrono::milliseconds d{0};
  };
  const Value& at(std::string_view path, ConfigType type) const;
  std::shared_ptr<const std::vector<ConfigKey>> keys_;  // Value::key points here
  std::map<std::string, Value, std::less<>> values_;
};

// Loads `yaml_text` (nullptr = no file, defaults only), then applies each
// "path=value" override. InvalidArgument with "path: reason" on the first
// problem.
Result<Config> load_config(const ConfigSchema& schema, const std::string* yaml_text,
                           const std::vector<std::string>& overrides);

// "64MiB" -> bytes; nullopt with a reason in *error.
std::optional<uint64_t> parse_size(std::string_view text, std::string* error = nullptr);
// The longest duration parse_duration accepts: 100 years (36500d). A
// setting or an API parameter (?ttl=) is added to clock readings in
// int64 milliseconds (now + ttl, now + lease); this bound keeps every such
// sum far from overflowing.
inline constexpr std::chrono::milliseconds kMaxDuration{int64_t{36'500} * 86'400'000};
// "100ms" -> milliseconds (sub-millisecond values round up to 1ms). More
// than kMaxDuration, including a number too long for 64 bits, is refused
// with "'<text>' is too large (...)" in *error.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text,
                                                        std::string* error = nullptr);
// Prints a duration the way the config spells it ("1500ms", "30s").
std::string format_duration(std::chrono::milliseconds d);

}  // namespace isle::server
