// Logging: captures stderr and checks the text and JSON line formats — every
// JSON line parses (nlohmann) even when the message holds quotes,
// backslashes, newlines, control bytes or invalid UTF-8 — plus level
// filtering, the access logger, and rejection of a bad level or format
// (which leaves the previous setup in place).
#include "server/logging.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "testutil/testutil.h"

namespace isle::server {
namespace {

// Redirects fd 2 to a file while alive; lines() stops and returns what was written.
class StderrCapture {
 public:
  StderrCapture() : path_(dir_.path() + "/stderr") {
    std::fflush(stderr);
    saved_ = dup(2);
    const int fd = open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    EXPECT_GE(fd, 0);
    dup2(fd, 2);
    close(fd);
  }
  ~StderrCapture() { stop(); }
  std::vector<std::string> lines() {
    stop();
    std::ifstream f(path_);
    std::vector<std::string> out;
    for (std::string line; std::getline(f, line);) out.push_back(line);
    return out;
  }

 private:
  void stop() {
    if (saved_ < 0) return;
    if (auto l = spdlog::default_logger()) l->flush();
    access_logger()->flush();
    std::fflush(stderr);
    dup2(saved_, 2);
    close(saved_);
    saved_ = -1;
  }
  isle::testing::TempDir dir_;
  std::string path_;
  int saved_ = -1;
};

// "2026-11-23T02:40:00.123Z" (no std::regex: GCC 12 warns inside it under ASan).
bool is_timestamp(std::string_view s) {
  const std::string_view shape = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (s.size() != shape.size()) return false;
  for (size_t i = 0; i < s.size(); i++) {
    if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i]) return false;
  }
  return true;
}

nlohmann::json parse_line(const std::string& line) {
  if (!nlohmann::json::accept(line)) {
    ADD_FAILURE() << "not one JSON object: " << line;
    return nlohmann::json::object();
  }
  return nlohmann::json::parse(line);
}

TEST(Logging, JsonLinesParseWhateverTheMessageHolds) {
  ASSERT_TRUE(setup_logging("info", "json", "writerd").ok());
  const std::vector<std::string> messages = {
      "plain",
      "a \"quoted\" word and a back\\slash",
      "two\nlines\r\nand\ttab",
      std::string("nul \0 byte", 10),
      "controls \x01\x02\x1b[31m\x1f\x7f\b\f",
      "utf-8 h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80",
      "}{\"msg\":\"injected\"}",
      "{} braces {:d} are not fmt here",
  };
  StderrCapture cap;
  for (const auto& m : messages) spdlog::info("{}", m);
  spdlog::warn("a warning");
  const auto lines = cap.lines();
  ASSERT_EQ(lines.size(), messages.size() + 1);
  for (size_t i = 0; i < messages.size(); i++) {
    const auto j = parse_line(lines[i]);
    ASSERT_TRUE(j.is_object()) << lines[i];
    EXPECT_EQ(j.size(), 4u) << lines[i];
    EXPECT_EQ(j.value("msg", ""), messages[i]) << lines[i];
    EXPECT_EQ(j.value("level", ""), "info");
    EXPECT_EQ(j.value("logger", ""), "writerd");
    EXPECT_TRUE(is_timestamp(j.value("ts", ""))) << lines[i];
  }
  EXPECT_EQ(parse_line(lines.back()).value("level", ""), "warn");  // not spdlog's "warning"
}

TEST(Logging, InvalidUtf8BecomesReplacementCharacters) {
  ASSERT_TRUE(setup_logging("info", "json", "writerd").ok());
  StderrCapture cap;
  spdlog::info("bad \xff\xfe end");
  spdlog::info("cut \xe2\x9c");          // a truncated sequence
  spdlog::info("surrogate \xed\xa0\x80");  // UTF-16 surrogates are not UTF-8
  spdlog::info("overlong \xc0\xaf");
  spdlog::info("too high \xf4\x90\x80\x80");
  const auto lines = cap.lines();
  ASSERT_EQ(lines.size(), 5u);
  const std::string r = "\xef\xbf\xbd";  // U+FFFD
  EXPECT_EQ(parse_line(lines[0]).value("msg", ""), "bad " + r + r + " end");
  EXPECT_EQ(parse_line(lines[1]).value("msg", ""), "cut " + r + r);
  EXPECT_EQ(parse_line(lines[2]).value("msg", ""), "surrogate " + r + r + r);
  EXPECT_EQ(parse_line(lines[3]).value("msg", ""), "overlong " + r + r);
  EXPECT_EQ(parse_line(lines[4]).value("msg", ""), "too high " + r + r + r + r);
}

TEST(Logging, TextFormatAndLevels) {
  ASSERT_TRUE(setup_logging("warn", "text", "readerd").ok());
  StderrCapture cap;
  spdlog::info("hidden");
  spdlog::warn("shown {}", 1);
  spdlog::error("also shown");
  const auto lines = cap.lines();
  ASSERT_EQ(lines.size(), 2u);
  const size_t space = lines[0].find(' ');
  EXPECT_TRUE(is_timestamp(lines[0].substr(0, space))) << lines[0];
  EXPECT_EQ(lines[0].substr(space), " warn readerd: shown 1");
  EXPECT_NE(lines[1].find(" error readerd: also shown"), std::string::npos) << lines[1];

  ASSERT_TRUE(setup_logging("trace", "text", "readerd").ok());
  StderrCapture cap2;
  spdlog::trace("t");
  spdlog::debug("d");
  EXPECT_EQ(cap2.lines().size(), 2u);

  ASSERT_TRUE(setup_logging("off", "text", "readerd").ok());
  StderrCapture cap3;
  spdlog::error("nothing");
  access_logger()->info("nothing either");
  EXPECT_TRUE(cap3.lines().empty());
}

TEST(Logging, AccessLoggerSharesTheFormatAndLogsAtAnyLevel) {
  ASSERT_TRUE(setup_logging("error", "json", "tailerd").ok());
  StderrCapture cap;
  access_logger()->info("{} {} \"{}\"", "127.0.0.1:5000", "GET", "/v1/kv/a\"b");
  spdlog::info("filtered");
  const auto lines = cap.lines();
  ASSERT_EQ(lines.size(), 1u);
  const auto j = parse_line(lines[0]);
  EXPECT_EQ(j.value("logger", ""), "access");
  EXPECT_EQ(j.value("msg", ""), "127.0.0.1:5000 GET \"/v1/kv/a\"b\"");
}

TEST(Logging, TheLoggerNameIsEscapedToo) {
  ASSERT_TRUE(setup_logging("info", "json", "we\"ird\\name").ok());
  StderrCapture cap;
  spdlog::info("x");
  const auto lines = cap.lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(parse_line(lines[0]).value("logger", ""), "we\"ird\\name");
}

TEST(Logging, BadLevelOrFormatIsRejectedAndChangesNothing) {
  ASSERT_TRUE(setup_logging("info", "json", "writerd").ok());
  for (auto [level, format] : std::vector<std::pair<const char*, const char*>>{
           {"verbose", "json"}, {"WARN", "json"}, {"", "json"}, {"warning", "json"},
           {"critical", "json"}, {"info", "xml"}, {"info", "JSON"}, {"info", ""}}) {
    const Status s = setup_logging(level, format, "other");
    EXPECT_TRUE(s.is_invalid_argument()) << level << "/" << format;
    EXPECT_NE(s.message().find(std::string(level) == "info" ? "log.format" : "log.level"),
              std::string::npos)
        << s.message();
  }
  StderrCapture cap;
  spdlog::info("still json");
  const auto lines = cap.lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(parse_line(lines[0]).value("logger", ""), "writerd");
}

}  // namespace
}  // namespace isle::server
