// setup_logging / access_logger (logging.h): spdlog's default logger and the
// "access" logger on one shared stderr sink, with a text or a JSON pattern.
//
// Invariants:
//   * both loggers use the same sink (one mutex, so their lines never
//     interleave) and the same format; only the logger name differs;
//   * timestamps are UTC, ISO 8601 with milliseconds and a Z;
//   * level names are the config's spelling ("warn", not spdlog's "warning");
//   * json lines are built from custom flags that JSON-escape the message
//     and the logger name (", \, every byte < 0x20, and invalid UTF-8 as
//     U+FFFD), so each line parses as one JSON object;
//   * a bad level or format returns InvalidArgument before anything changes.
#include "server/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <mutex>
#include <optional>
#include <string>

namespace isle::server {

namespace {

std::string_view level_name(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::trace: return "trace";
    case spdlog::level::debug: return "debug";
    case spdlog::level::info: return "info";
    case spdlog::level::warn: return "warn";
    case spdlog::level::err: return "error";
    case spdlog::level::critical: return "critical";
    default: return "off";
  }
}

std::optional<spdlog::level::level_enum> parse_level(std::string_view s) {
  if (s == "trace") return spdlog::level::trace;
  if (s == "debug") return spdlog::level::debug;
  if (s == "info") return spdlog::level::info;
  if (s == "warn") return spdlog::level::warn;
  if (s == "error") return spdlog::level::err;
  if (s == "off") return spdlog::level::off;
  return std::nullopt;
}

// Length of the valid UTF-8 sequence at s[i] (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF), or 0 when the byte starts none.
size_t utf8_sequence(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;  // overlong
    if (c == 0xED) hi = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;  // overlong
    if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (b(i + 1) < lo || b(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; k++) {
    if (b(i + k) < 0x80 || b(i + k) > 0xBF) return 0;
  }
  return n;
}

void append_json_escaped(std::string_view s, spdlog::memory_buf_t& dest) {
  static constexpr char kHex[] = "0123456789abcdef";
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t n = utf8_sequence(s, i);
      if (n == 0) {
        dest.append(std::string_view("\\ufffd"));
        i++;
      } else {
        dest.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"': dest.append(std::string_view("\\\"")); break;
      case '\\': dest.append(std::string_view("\\\\")); break;
      case '\n': dest.append(std::string_view("\\n")); break;
      case '\r': dest.append(std::string_view("\\r")); break;
      case '\t': dest.append(std::string_view("\\t")); break;
      case '\b': dest.append(std::string_view("\\b")); break;
      case '\f': dest.append(std::string_view("\\f")); break;
      default:
        if (c < 0x20) {
          const char u[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
          dest.append(u, u + sizeof u);
        } else {
          dest.push_back(static_cast<char>(c));
        }
    }
    i++;
  }
}

// %L: the level in the config's spelling.
class LevelFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    dest.append(level_name(msg.level));
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<LevelFlag>();
  }
};

// %*: the message, JSON-escaped (no quotes around it).
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    append_json_escaped(std::string_view(msg.payload.data(), msg.payload.size()), dest);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

// %&: the logger name, JSON-escaped.
class JsonNameFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    append_json_escaped(std::string_view(msg.logger_name.data(), msg.logger_name.size()), dest);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonNameFlag>();
  }
};

constexpr const char* kTextPattern = "%Y-%m-%dT%H:%M:%S.%eZ %L %n: %v";
constexpr const char* kJsonPattern =
    R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%L","logger":"%&","msg":"%*"})";

std::unique_ptr<spdlog::formatter> make_formatter(bool json) {
  auto f = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc, "\n");
  f->add_flag<LevelFlag>('L').add_flag<JsonMessageFlag>('*').add_flag<JsonNameFlag>('&');
  f->set_pattern(json ? kJsonPattern : kTextPattern);
  return f;
}

std::mutex g_mu;
std::shared_ptr<spdlog::logger> g_access;  // guarded by g_mu

std::shared_ptr<spdlog::logger> make_access(spdlog::sink_ptr sink, bool json, bool off) {
  auto l = std::make_shared<spdlog::logger>("access", std::move(sink));
  l->set_formatter(make_formatter(json));
  l->set_level(off ? spdlog::level::off : spdlog::level::info);
  return l;
}

}  // namespace

Status setup_logging(std::string_view level, std::string_view format, std::string_view name) {
  const auto lvl = parse_level(level);
  if (!lvl) {
    return Status::InvalidArgument("log.level: expected trace, debug, info, warn, error or off, got '" +
                                   std::string(level) + "'");
  }
  if (format != "text" && format != "json") {
    return Status::InvalidArgument("log.format: expected text or json, got '" +
                                   std::string(format) + "'");
  }
  const bool json = format == "json";
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>(std::string(name), sink);
  logger->set_formatter(make_formatter(json));
  logger->set_level(*lvl);
  logger->flush_on(spdlog::level::trace);  // stderr: every line goes out at once
  auto access = make_access(sink, json, *lvl == spdlog::level::off);
  access->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
  std::lock_guard lock(g_mu);
  g_access = std::move(access);
  return Status::OK();
}

std::shared_ptr<spdlog::logger> access_logger() {
  std::lock_guard lock(g_mu);
  if (!g_access) {
    g_access = make_access(std::make_shared<spdlog::sinks::stderr_sink_mt>(), false, false);
  }
  return g_access;
}

}  // namespace isle::server
