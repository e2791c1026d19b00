// Logging for the daemons: spdlog's default logger, writing to stderr (which
// journald captures), in one of two line formats:
//
//   text  2026-11-23T02:40:00.123Z info writerd: message
//   json  {"ts":"2026-11-23T02:40:00.123Z","level":"info","logger":"writerd","msg":"message"}
//
// Timestamps are UTC with milliseconds. In json every line is one complete
// JSON object: the message is escaped (quotes, backslashes, newlines and
// other control bytes), so a message never breaks the line framing. Bytes
// that are not valid UTF-8 come out as U+FFFD. In text the message is
// written as is (a message with a newline spans two lines). Level names
// are trace, debug, info, warn, error, critical.
//
// spdlog stays out of this header (many translation units include it); a
// caller that logs includes <spdlog/spdlog.h> itself.
#pragma once

#include <memory>
#include <string_view>

#include "isle/status.h"

namespace spdlog {
class logger;
}  // namespace spdlog

namespace isle::server {

// Configures spdlog's default logger (named `name`) and the access logger.
// level: trace|debug|info|warn|error|off; format: text|json. Anything else
// is InvalidArgument and changes nothing. Call it before other threads
// log (spdlog does not allow swapping the default logger under them); a
// later call replaces both loggers (tests do this).
Status setup_logging(std::string_view level, std::string_view format, std::string_view name);

// The "access" logger (logger name "access"): same sink and format as the
// default logger, for one info line per HTTP request. It logs whatever the
// configured level, except that level "off" silences it too; log.access
// decides whether it is used at all. Before setup_logging it logs text to
// stderr.
std::shared_ptr<spdlog::logger> access_logger();

}  // namespace isle::server
