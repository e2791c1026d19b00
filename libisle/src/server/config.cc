// Config loading (config.h): the schema, YAML walking, `path=value`
// overrides, and the size/duration/int/bool/enum parsers.
//
// Invariants and choices:
//   * every key the schema declares has a Value after load_config (its
//     default when nothing set it), already parsed; the getters never fail
//     for a declared key of the matching type (get_string also reads enums).
//   * a Config owns a copy of the schema's keys (shared between copies), so
//     it does not depend on the ConfigSchema outliving it.
//   * the file is walked in document order and the first problem wins.
//     Nested maps and dotted keys are the same thing: `writer: {a: 1}` and
//     `writer.a: 1` both set "writer.a". A key twice in one map, or one path
//     set twice in a file (nested and dotted), is a duplicate-key error
//     (yaml-cpp itself keeps duplicates silently).
//   * a null value (`key:` or `key: ~`) is the empty string for a string
//     key, an empty section for a section, and "no value" (an error) for a
//     typed key. Overrides take the text after the first '=' verbatim.
//   * bools are exactly `true` or `false` (not yes/no/on/off, which YAML 1.1
//     would read as bools and YAML 1.2 as strings: ambiguity is rejected).
//   * ints are plain decimal (optional '-'), within [min, max]. Sizes and
//     durations are a whole non-negative number, optional spaces, and a unit
//     (case-sensitive); a size without a unit is bytes, a duration without
//     one is rejected. Overflow of either is an error, never a wrap.
//   * a key typed other than string whose default is "" reads as 0/false
//     until set (unless it is required). A schema mistake — a bad path, a
//     key declared twice, a key that is also another key's section, a
//     default that does not parse — is a programming error and aborts.
#include "server/config.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <sstream>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>

namespace isle::server {

namespace {

[[noreturn]] void misuse(const std::string& what) {
  std::fprintf(stderr, "isle config: %s\n", what.c_str());
  std::abort();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "  64 MiB" -> number 64, unit "MiB". False when there is no leading
// number or it does not fit in uint64 (*overflow then says so).
bool split_number(std::string_view text, uint64_t* n, std::string_view* unit, bool* overflow) {
  text = trim(text);
  *overflow = false;
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') digits++;
  if (digits == 0) return false;
  auto r = std::from_chars(text.data(), text.data() + digits, *n);
  if (r.ec == std::errc::result_out_of_range) {
    *overflow = true;
    return false;
  }
  *unit = trim(text.substr(digits));
  return true;
}

std::string quote(std::string_view s) { return "'" + std::string(s) + "'"; }

const char* type_name(ConfigType t) {
  switch (t) {
    case ConfigType::kString: return "a string";
    case ConfigType::kBool: return "true or false";
    case ConfigType::kInt: return "an integer";
    case ConfigType::kSize: return "a size";
    case ConfigType::kDuration: return "a duration";
    case ConfigType::kEnum: return "one of the choices";
  }
  return "?";
}

bool valid_path(std::string_view p) {
  if (p.empty() || p.front() == '.' || p.back() == '.') return false;
  for (size_t i = 0; i < p.size(); i++) {
    const char c = p[i];
    if (c == '.' && p[i + 1] == '.') return false;
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.')) return false;
  }
  return true;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); i++) out += (i ? ", " : "") + v[i];
  return out;
}

// Levenshtein distance, for "did you mean".
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); j++) row[j] = j;
  for (size_t i = 1; i <= a.size(); i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); j++) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string unknown_key(const std::vector<ConfigKey>& keys, std::string_view path) {
  std::string msg = std::string(path) + ": unknown key";
  const ConfigKey* best = nullptr;
  size_t best_d = 3;  // suggest only close misspellings
  for (const auto& k : keys) {
    const size_t d = edit_distance(k.path, path);
    if (d < best_d) best = &k, best_d = d;
  }
  if (best) msg += " (did you mean " + best->path + "?)";
  return msg;
}

// Parses `text` for `key` into v (text, i, d). Returns "" or the reason.
std::string parse_value(const ConfigKey& key, std::string_view text, int64_t* i,
                        std::chrono::milliseconds* d) {
  *i = 0;
  *d = std::chrono::milliseconds(0);
  std::string err;
  switch (key.type) {
    case ConfigType::kString:
      return "";
    case ConfigType::kBool:
      if (text == "true") *i = 1;
      else if (text != "false") return "expected true or false, got " + quote(text);
      return "";
    case ConfigType::kInt: {
      const std::string_view t = trim(text);
      int64_t n = 0;
      auto r = std::from_chars(t.data(), t.data() + t.size(), n);
      if (t.empty() || r.ptr != t.data() + t.size() ||
          (r.ec != std::errc() && r.ec != std::errc::result_out_of_range)) {
        return "expected an integer, got " + quote(text);
      }
      if (r.ec == std::errc::result_out_of_range || n < key.min || n > key.max) {
        return std::string(t) + " is out of range [" + std::to_string(key.min) + ", " +
               std::to_string(key.max) + "]";
      }
      *i = n;
      return "";
    }
    case ConfigType::kSize: {
      auto n = parse_size(text, &err);
      if (!n) return err;
      *i = static_cast<int64_t>(*n);  // read back as uint64
      return "";
    }
    case ConfigType::kDuration: {
      auto v = parse_duration(text, &err);
      if (!v) return err;
      *d = *v;
      return "";
    }
    case ConfigType::kEnum:
      if (std::find(key.choices.begin(), key.choices.end(), text) == key.choices.end()) {
        return "expected one of " + join(key.choices) + ", got " + quote(text);
      }
      return "";
  }
  return "unknown type";
}

std::string node_kind(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Null: return "nothing";
    case YAML::NodeType::Scalar: return quote(n.Scalar());
    default: return "an undefined node";
  }
}

std::string at_line(const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  if (m.is_null()) return "";
  return " (line " + std::to_string(m.line + 1) + ", column " + std::to_string(m.column + 1) + ")";
}

}  // namespace

// ---- schema ----

ConfigSchema& ConfigSchema::add(ConfigKey key) {
  if (!valid_path(key.path)) misuse("invalid key path '" + key.path + "'");
  for (const auto& k : keys_) {
    if (k.path == key.path) misuse(key.path + ": declared twice");
    if (k.path.rfind(key.path + ".", 0) == 0 || key.path.rfind(k.path + ".", 0) == 0) {
      misuse(key.path + " and " + k.path + ": one is the other's section");
    }
  }
  if (key.type == ConfigType::kEnum && key.choices.empty()) misuse(key.path + ": enum without choices");
  if (key.min > key.max) misuse(key.path + ": min > max");
  if (!key.default_value.empty()) {
    int64_t i;
    std::chrono::milliseconds d;
    if (std::string err = parse_value(key, key.default_value, &i, &d); !err.empty()) {
      misuse(key.path + ": bad default: " + err);
    }
  }
  keys_.push_back(std::move(key));
  return *this;
}

const ConfigKey* ConfigSchema::find(std::string_view path) const {
  for (const auto& k : keys_) {
    if (k.path == path) return &k;
  }
  return nullptr;
}

// ---- loading ----

namespace {

struct Loader {
  const std::vector<ConfigKey>& keys;
  std::set<std::string> seen;  // key paths the file set (nested or dotted)

  const ConfigKey* find(std::string_view path) const {
    for (const auto& k : keys) {
      if (k.path == path) return &k;
    }
    return nullptr;
  }
  bool is_section(std::string_view path) const {
    for (const auto& k : keys) {
      if (k.path.size() > path.size() && k.path.compare(0, path.size(), path) == 0 &&
          k.path[path.size()] == '.') {
        return true;
      }
    }
    return false;
  }
};

// yaml-cpp parses nested flow collections ("[[[[...") and deep block
// nesting recursively: a config file nested thousands deep would overflow
// the stack. No IsleDB config nests more than three levels, so anything
// past kMaxNesting is refused before yaml-cpp sees it (a clear error
// instead of a crash; the api fuzzer feeds such files).
constexpr int kMaxNesting = 32;

// A YAML event handler that drops every event (used to count documents).
class IgnoreEvents final : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};
constexpr size_t kMaxIndent = 256;

Status check_nesting(std::string_view text) {
  int depth = 0;
  char quote = 0;
  size_t line = 1, indent = 0;
  bool at_line_start = true;
  for (char ch : text) {
    if (ch == '\n') {
      line++;
      indent = 0;
      at_line_start = true;
      quote = 0;  // flow scalars may span lines; being strict here only over-counts
      continue;
    }
    if (at_line_start) {
      if (ch == ' ' || ch == '-') {
        if (++indent > kMaxIndent) {
          return Status::InvalidArgument("line " + std::to_string(line) +
                                         ": indented too deep for a config file");
        }
        continue;
      }
      at_line_start = false;
    }
    if (quote) {
      if (ch == quote) quote = 0;
      continue;
    }
    if (ch == '"' || ch == '\'') {
      quote = ch;
    } else if (ch == '#') {
      quote = '\n';  // a comment runs to the end of the line
    } else if (ch == '[' || ch == '{') {
      if (++depth > kMaxNesting) {
        return Status::InvalidArgument("line " + std::to_string(line) +
                                       ": collections nested too deep for a config file");
      }
    } else if ((ch == ']' || ch == '}') && depth > 0) {
      depth--;
    }
  }
  return Status::OK();
}

}  // namespace

Result<Config> load_config(const ConfigSchema& schema, const std::string* yaml_text,
                           const std::vector<std::string>& overrides) {
  Config c;
  auto keys = std::make_shared<const std::vector<ConfigKey>>(schema.keys());
  c.keys_ = keys;
  for (const auto& k : *keys) {
    Config::Value v{&k, k.default_value};
    (void)parse_value(k, k.default_value, &v.i, &v.d);  // checked by add()
    c.values_.emplace(k.path, std::move(v));
  }

  auto set = [&](const std::string& path, std::string_view text) -> Status {
    auto it = c.values_.find(path);
    Config::Value& v = it->second;
    if (std::string err = parse_value(*v.key, text, &v.i, &v.d); !err.empty()) {
      return Status::InvalidArgument(path + ": " + err);
    }
    v.text = std::string(text);
    v.set = true;
    return Status::OK();
  };

  if (yaml_text) {
    std::vector<YAML::Node> docs;
    if (Status s = check_nesting(*yaml_text); !s.ok()) return s;
    try {
      // Count documents with a parser that builds nothing, stopping at two:
      // on some malformed inputs (",:z") yaml-cpp 0.7 yields empty
      // documents forever, so YAML::LoadAll would never return.
      std::istringstream in(*yaml_text);
      YAML::Parser parser(in);
      IgnoreEvents ignore;
      size_t count = 0;
      while (count < 2 && parser.HandleNextDocument(ignore)) count++;
      if (count > 1) {
        return Status::InvalidArgument("the config file holds more than one YAML document; expected one");
      }
      if (count == 1) docs.push_back(YAML::Load(*yaml_text));
    } catch (const YAML::ParserException& e) {
      return Status::InvalidArgument("YAML syntax error at line " + std::to_string(e.mark.line + 1) +
                                     ", column " + std::to_string(e.mark.column + 1) + ": " + e.msg);
    } catch (const YAML::Exception& e) {
      return Status::InvalidArgument(std::string("YAML error: ") + e.what());
    }
    Loader loader{*keys, {}};
    // Walks one map; `prefix` is "" or "section.".
    std::function<Status(const YAML::Node&, const std::string&)> walk =
        [&](const YAML::Node& map, const std::string& prefix) -> Status {
      std::set<std::string> names;  // this map's own keys
      for (const auto& kv : map) {  // yields (key, value) by value
        const YAML::Node kn = kv.first;
        const YAML::Node vn = kv.second;
        if (!kn.IsScalar()) {
          return Status::InvalidArgument(
              (prefix.empty() ? std::string("top level") : prefix.substr(0, prefix.size() - 1)) +
              ": expected a key name, got " + node_kind(kn) + at_line(kn));
        }
        const std::string path = prefix + kn.Scalar();
        if (!names.insert(kn.Scalar()).second) {
          return Status::InvalidArgument(path + ": duplicate key" + at_line(kn));
        }
        if (const ConfigKey* key = loader.find(path)) {
          if (!loader.seen.insert(path).second) {
            return Status::InvalidArgument(path + ": duplicate key" + at_line(kn));
          }
          if (vn.IsMap() || vn.IsSequence()) {
            return Status::InvalidArgument(path + ": expected " + type_name(key->type) + ", got " +
                                           node_kind(vn));
          }
          if (vn.IsNull() && key->type != ConfigType::kString) {
            return Status::InvalidArgument(path + ": expected " + type_name(key->type) +
                                           ", got nothing");
          }
          if (Status s = set(path, vn.IsNull() ? std::string() : vn.Scalar()); !s.ok()) return s;
        } else if (loader.is_section(path)) {
          if (vn.IsNull()) continue;  // an empty section
          if (!vn.IsMap()) {
            return Status::InvalidArgument(path + ": is a section, expected a map, got " +
                                           node_kind(vn));
          }
          if (Status s = walk(vn, path + "."); !s.ok()) return s;
        } else {
          return Status::InvalidArgument(unknown_key(*keys, path));
        }
      }
      return Status::OK();
    };
    if (!docs.empty() && !docs[0].IsNull()) {
      if (!docs[0].IsMap()) {
        return Status::InvalidArgument("the config file must be a map of sections, got " +
                                       node_kind(docs[0]));
      }
      if (Status s = walk(docs[0], ""); !s.ok()) return s;
    }
  }

  for (const std::string& o : overrides) {
    const size_t eq = o.find('=');
    if (eq == std::string::npos) {
      return Status::InvalidArgument("override " + quote(o) + ": expected path=value");
    }
    const std::string path = o.substr(0, eq);
    if (!c.values_.count(path)) return Status::InvalidArgument(unknown_key(*keys, path));
    if (Status s = set(path, std::string_view(o).substr(eq + 1)); !s.ok()) return s;
  }

  for (const auto& k : *keys) {
    if (k.required && c.values_.find(k.path)->second.text.empty()) {
      return Status::InvalidArgument(k.path + ": required, not set");
    }
  }
  return c;
}

// ---- getters ----

const Config::Value& Config::at(std::string_view path, ConfigType type) const {
  auto it = values_.find(path);
  if (it == values_.end()) misuse(std::string(path) + ": not in the schema");
  const ConfigType t = it->second.key->type;
  if (t != type && !(type == ConfigType::kString && t == ConfigType::kEnum)) {
    misuse(std::string(path) + ": read as " + type_name(type) + ", declared as " + type_name(t));
  }
  return it->second;
}

std::string Config::get_string(std::string_view path) const {
  return at(path, ConfigType::kString).text;
}
bool Config::get_bool(std::string_view path) const { return at(path, ConfigType::kBool).i != 0; }
int64_t Config::get_int(std::string_view path) const { return at(path, ConfigType::kInt).i; }
uint64_t Config::get_size(std::string_view path) const {
  return static_cast<uint64_t>(at(path, ConfigType::kSize).i);
}
std::chrono::milliseconds Config::get_duration(std::string_view path) const {
  return at(path, ConfigType::kDuration).d;
}
bool Config::is_set(std::string_view path) const {
  auto it = values_.find(path);
  if (it == values_.end()) misuse(std::string(path) + ": not in the schema");
  return it->second.set;
}

std::string Config::dump() const {
  std::string out;
  for (const auto& [path, v] : values_) {
    out += path + ": ";
    if (v.key->secret) {
      out += "<redacted>";
    } else if (v.text.empty() || v.text != trim(v.text) ||
               std::any_of(v.text.begin(), v.text.end(),
                           [](char ch) { return static_cast<unsigned char>(ch) < 0x20 || ch == '"'; })) {
      // Quoted so an empty value or stray whitespace is visible.
      out += '"';
      for (char ch : v.text) {
        if (ch == '"' || ch == '\\') {
          out += '\\';
          out += ch;
        } else if (static_cast<unsigned char>(ch) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(ch));
          out += buf;
        } else {
          out += ch;
        }
      }
      out += '"';
    } else {
      out += v.text;
    }
    out += '\n';
  }
  return out;
}

// ---- sizes and durations ----

std::optional<uint64_t> parse_size(std::string_view text, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<uint64_t> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  uint64_t n;
  std::string_view unit;
  bool overflow;
  if (!split_number(text, &n, &unit, &overflow)) {
    if (overflow) return fail(quote(text) + " is too large");
    return fail("expected a size such as 64MiB, 1GB or 4096 (bytes), got " + quote(text));
  }
  static constexpr std::pair<std::string_view, uint64_t> kUnits[] = {
      {"", 1},
      {"B", 1},
      {"KiB", 1ull << 10},
      {"MiB", 1ull << 20},
      {"GiB", 1ull << 30},
      {"TiB", 1ull << 40},
      {"KB", 1000ull},
      {"MB", 1000ull * 1000},
      {"GB", 1000ull * 1000 * 1000},
      {"TB", 1000ull * 1000 * 1000 * 1000},
  };
  for (const auto& [name, mult] : kUnits) {
    if (unit != name) continue;
    uint64_t bytes;
    if (__builtin_mul_overflow(n, mult, &bytes) || bytes > uint64_t{INT64_MAX}) {
      return fail(quote(text) + " is too large");
    }
    return bytes;
  }
  return fail("unknown size unit " + quote(unit) + " in " + quote(text) +
              " (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)");
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text,
                                                        std::string* error) {
  auto fail = [&](std::string why) -> std::optional<std::chrono::milliseconds> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  auto too_large = [&] {
    return fail(quote(text) + " is too large (the longest duration is " +
                format_duration(kMaxDuration) + ", 100 years)");
  };
  uint64_t n;
  std::string_view unit;
  bool overflow;
  if (!split_number(text, &n, &unit, &overflow)) {
    if (overflow) return too_large();
    return fail("expected a duration such as 250us, 100ms, 30s, 5m, 1h or 1d, got " + quote(text));
  }
  if (unit.empty()) {
    return fail("a duration needs a unit (us, ms, s, m, h, d): got " + quote(text));
  }
  // Every product below is checked: n can be anything up to UINT64_MAX.
  static constexpr std::pair<std::string_view, uint64_t> kUnits[] = {
      {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000},
  };
  std::optional<uint64_t> ms;
  if (unit == "us") {
    ms = n / 1000 + (n % 1000 != 0 ? 1 : 0);  // rounds up, without n + 999 wrapping
  } else {
    for (const auto& [name, mult] : kUnits) {
      if (unit != name) continue;
      uint64_t product;
      if (__builtin_mul_overflow(n, mult, &product)) return too_large();
      ms = product;
    }
  }
  if (ms) {
    if (*ms > static_cast<uint64_t>(kMaxDuration.count())) return too_large();
    return std::chrono::milliseconds(static_cast<int64_t>(*ms));
  }
  return fail("unknown duration unit " + quote(unit) + " in " + quote(text) +
              " (use us, ms, s, m, h or d)");
}

std::string format_duration(std::chrono::milliseconds d) {
  const int64_t ms = d.count();
  if (ms == 0) return "0s";
  static constexpr std::pair<int64_t, const char*> kUnits[] = {
      {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"},
  };
  for (const auto& [mult, name] : kUnits) {
    if (ms % mult == 0) return std::to_string(ms / mult) + name;
  }
  return std::to_string(ms) + "ms";
}

}  // namespace isle::server
