// Tests of api.h's shared request checks: NDJSON bodies are refused on
// nesting and line length before the JSON parser sees them, lines are
// counted without parsing, too_many_keys answers 413, and query durations
// that would overflow are 400, never a wrapped number.
#include "server/api.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "server/config.h"

namespace isle::server {
namespace {

using namespace std::chrono_literals;

std::string nested(size_t depth, char open = '[', char close = ']') {
  return std::string(depth, open) + std::string(depth, close);
}

TEST(ApiJsonDepth, CountsBracketsOutsideStringsOnly) {
  EXPECT_FALSE(json_nests_deeper_than(R"({"op":"put","key":"a"})", 1));
  EXPECT_TRUE(json_nests_deeper_than(R"({"a":[1]})", 1));
  EXPECT_FALSE(json_nests_deeper_than(R"({"a":[1]})", 2));
  EXPECT_FALSE(json_nests_deeper_than(nested(16), 16));
  EXPECT_TRUE(json_nests_deeper_than(nested(17), 16));
  EXPECT_TRUE(json_nests_deeper_than(nested(17, '{', '}'), 16));
  // Sequential, not nested: depth 1 however many.
  EXPECT_FALSE(json_nests_deeper_than("[][][][][][][][][][][][][][][][][][][][]", 1));
  // Brackets inside strings, escaped quotes included, are text.
  EXPECT_FALSE(json_nests_deeper_than(R"({"key":"[[[[[[[[[[[[[[[[[[[[[[[[[["})", 1));
  EXPECT_FALSE(json_nests_deeper_than(R"({"key":"\"[[[[[[[[[[[[[[[[[[[[\\"})", 1));
  EXPECT_TRUE(json_nests_deeper_than(R"({"key":"\\"}[[)", 1)) << "the string ended at \\\\\"";
  // Unbalanced closers do not let a later run of openers hide.
  EXPECT_TRUE(json_nests_deeper_than("]]]]]]]]]]" + nested(17), 16));
}

TEST(ApiNdjson, ADeepDocumentIsRefusedQuicklyWithoutRecursion) {
  // 100,000 '[' would take the recursive parts of a JSON library (and its
  // destructor) far down the stack; the scan stops at the 17th.
  const std::string deep(100'000, '[');
  const auto start = std::chrono::steady_clock::now();
  auto r = parse_ndjson(deep + "\n");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().is_invalid_argument());
  EXPECT_EQ(r.status().message(), "line 1: nested deeper than 16 levels");
  // Also as a value inside an otherwise plausible line, on line 2.
  auto r2 = parse_ndjson(R"({"key":"a"})" "\n" R"({"key":"b","value":)" + deep + "\n");
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.status().message(), "line 2: nested deeper than 16 levels");
  // Exactly at the limit still parses (and is then judged by the caller).
  auto ok = parse_ndjson(R"({"a":)" + nested(15) + "}\n");
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  // A smaller limit applies when asked for.
  EXPECT_FALSE(parse_ndjson(R"({"a":[1]})", NdjsonLimits{.max_depth = 1}).ok());
}

TEST(ApiNdjson, LineLengthCapAppliesOnlyWhenSet) {
  const std::string line = R"({"key":")" + std::string(1000, 'k') + R"("})";
  EXPECT_TRUE(parse_ndjson(line + "\n").ok()) << "no cap by default: the body limit bounds a line";
  auto r = parse_ndjson(R"({"key":"a"})" "\n" + line + "\n", NdjsonLimits{.max_line_bytes = 100});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().is_invalid_argument());
  EXPECT_EQ(r.status().message(), "line 2: longer than 100 bytes");
  EXPECT_TRUE(parse_ndjson(line, NdjsonLimits{.max_line_bytes = line.size()}).ok());
}

TEST(ApiNdjson, ParsesObjectsAndNamesTheFirstBadLine) {
  auto r = parse_ndjson("{\"a\":1}\r\n\n   \n{\"b\":2}");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[1]["b"], 2);
  EXPECT_EQ(parse_ndjson("{\"a\":1}\n\nnope\n").status().message(), "line 3: not valid JSON");
  EXPECT_EQ(parse_ndjson("[1]\n").status().message(), "line 1: not a JSON object");
}

TEST(ApiNdjson, LinesAreCountedWithoutParsing) {
  EXPECT_EQ(count_ndjson_lines(""), 0u);
  EXPECT_EQ(count_ndjson_lines("\n\n \t\r\n"), 0u) << "blank lines do not count";
  EXPECT_EQ(count_ndjson_lines("a\nb"), 2u) << "no final newline";
  EXPECT_EQ(count_ndjson_lines("a\nb\n"), 2u);
  EXPECT_EQ(count_ndjson_lines("garbage\n[[[[\n{\n"), 3u) << "lines are counted, not judged";
  std::string body;
  for (int i = 0; i < 10'001; i++) body += R"({"op":"put","key":"k","value":"v"})" "\n";
  EXPECT_EQ(count_ndjson_lines(body), 10'001u);
  auto parsed = parse_ndjson(body);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->size(), count_ndjson_lines(body)) << "the count is what parse_ndjson returns";
}

TEST(ApiErrors, TooManyKeysIs413WithItsOwnCode) {
  HttpResponse r = too_many_keys(10'000);
  EXPECT_EQ(r.status, 413);
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["error"]["code"], "too_many_keys");
  EXPECT_NE(j["error"]["message"].get<std::string>().find("10000"), std::string::npos);
}

TEST(ApiQuery, OverflowingDurationsAre400NotWrapped) {
  for (const char* ttl : {"99999999999999999999h", "9223372036854775807s", "106751991167d",
                          "18446744073709551615us", "36501d"}) {
    SCOPED_TRACE(ttl);
    auto q = QueryParams::parse(std::string("ttl=") + ttl, {"ttl"});
    ASSERT_TRUE(q.ok());
    auto d = q->get_duration("ttl");
    ASSERT_FALSE(d.ok()) << "parsed as " << (d.ok() && *d ? (*d)->count() : 0) << "ms";
    EXPECT_TRUE(d.status().is_invalid_argument());
    EXPECT_NE(d.status().message().find("is too large"), std::string::npos) << d.status().message();
    EXPECT_EQ(error_response(d.status()).status, 400);
  }
  auto q = QueryParams::parse("ttl=36500d", {"ttl"});
  ASSERT_TRUE(q.ok());
  auto d = q->get_duration("ttl");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(**d, kMaxDuration);
}

}  // namespace
}  // namespace isle::server
