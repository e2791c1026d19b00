// Tests of http.h's value types without sockets: percent coding, query
// parsing, the router's matching rules and the JSON error body.
#include "server/http.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace isle::server {
namespace {

TEST(HttpPercent, DecodesEscapesAndKeepsPlus) {
  EXPECT_EQ(percent_decode("a%2Fb"), "a/b");
  EXPECT_EQ(percent_decode("a%2fb"), "a/b");
  EXPECT_EQ(percent_decode("a+b"), "a+b") << "'+' is not a space outside forms";
  EXPECT_EQ(percent_decode("%00x"), std::string("\0x", 2));
  EXPECT_EQ(percent_decode("%E2%82%AC"), "\xE2\x82\xAC");
  EXPECT_EQ(percent_decode(""), "");
}

TEST(HttpPercent, RejectsMalformedEscapes) {
  EXPECT_EQ(percent_decode("%4"), std::nullopt);
  EXPECT_EQ(percent_decode("%"), std::nullopt);
  EXPECT_EQ(percent_decode("ab%"), std::nullopt);
  EXPECT_EQ(percent_decode("%zz"), std::nullopt);
  EXPECT_EQ(percent_decode("%4g"), std::nullopt);
  EXPECT_EQ(percent_decode("%g4"), std::nullopt);
}

TEST(HttpPercent, EncodeRoundTrips) {
  EXPECT_EQ(percent_encode("a/b c+d~e.f-g_h"), "a%2Fb%20c%2Bd~e.f-g_h");
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  std::string enc = percent_encode(all);
  for (char c : enc) {
    EXPECT_TRUE(isalnum(static_cast<unsigned char>(c)) || std::string_view("-._~%").find(c) != std::string_view::npos);
  }
  EXPECT_EQ(percent_decode(enc), all);
}

TEST(HttpQuery, SplitsAndDecodesInOrder) {
  auto q = parse_query("a=1&b=%2F&flag&c=x+y&a=2&&e=");
  ASSERT_TRUE(q.has_value());
  std::vector<std::pair<std::string, std::string>> want = {
      {"a", "1"}, {"b", "/"}, {"flag", ""}, {"c", "x+y"}, {"a", "2"}, {"e", ""}};
  EXPECT_EQ(*q, want);
  EXPECT_EQ(parse_query("")->size(), 0u);
  EXPECT_EQ(parse_query("k%3D=v%26w"), (std::vector<std::pair<std::string, std::string>>{{"k=", "v&w"}}));
  EXPECT_EQ(parse_query("a=%zz"), std::nullopt);
  EXPECT_EQ(parse_query("%4=1"), std::nullopt);
}

TEST(HttpRouter, ExactPrefixMethodAndHead) {
  Router r;
  int hit = 0;
  auto h = [&hit](int n) { return [&hit, n](const HttpRequest&) { hit = n; return HttpResponse::text(200, ""); }; };
  r.add("GET", "/v1/kv/*", h(1));
  r.add("PUT", "/v1/kv/*", h(2));
  r.add("GET", "/v1/kv/special", h(3));
  r.add("POST", "/v1/flush", h(4), RouteOptions{.takes_body = true, .max_body_bytes = 7, .scope = Scope::kOpen, .name = "flush"});
  HttpRequest req;

  auto m = r.match("GET", "/v1/kv/a%2Fb");
  ASSERT_NE(m.handler, nullptr);
  (*m.handler)(req);
  EXPECT_EQ(hit, 1);
  EXPECT_EQ(m.pattern, "/v1/kv/*");

  m = r.match("GET", "/v1/kv/special");
  ASSERT_NE(m.handler, nullptr);
  (*m.handler)(req);
  EXPECT_EQ(hit, 3) << "an exact path beats a prefix";

  m = r.match("PUT", "/v1/kv/special");
  ASSERT_NE(m.handler, nullptr);
  (*m.handler)(req);
  EXPECT_EQ(hit, 2) << "a route for the method beats a more specific one for another";

  m = r.match("HEAD", "/v1/kv/x");
  ASSERT_NE(m.handler, nullptr) << "HEAD falls back to GET";
  (*m.handler)(req);
  EXPECT_EQ(hit, 1);

  m = r.match("DELETE", "/v1/kv/x");
  EXPECT_EQ(m.handler, nullptr);
  EXPECT_EQ(m.status, 405);
  EXPECT_EQ(m.allow, "GET, HEAD, PUT");
  EXPECT_EQ(m.pattern, "/v1/kv/*");

  m = r.match("GET", "/v1/flush");
  EXPECT_EQ(m.status, 405);
  EXPECT_EQ(m.allow, "POST");

  m = r.match("POST", "/v1/flush");
  ASSERT_NE(m.options, nullptr);
  EXPECT_EQ(m.options->max_body_bytes, 7u);
  EXPECT_EQ(m.options->scope, Scope::kOpen);
  EXPECT_EQ(m.options->name, "flush");

  EXPECT_EQ(r.match("GET", "/v1/kv").status, 404) << "the prefix is /v1/kv/";
  EXPECT_EQ(r.match("POST", "/v1/flush/x").status, 404) << "exact means exact";
  EXPECT_EQ(r.match("GET", "/").status, 404);
}

TEST(HttpResponseTest, ErrorBodyIsEscapedJson) {
  auto r = HttpResponse::error(400, "bad_key", "key \"a\\b\"\n\x01 is bad");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, R"({"error":{"code":"bad_key","message":"key \"a\\b\"\n\u0001 is bad"}})");
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["error"]["message"], "key \"a\\b\"\n\x01 is bad");

  // Invalid UTF-8 (say, from a binary key) still gives valid JSON.
  auto bad = HttpResponse::error(404, "not_found", "key \xff\xfe");
  EXPECT_FALSE(nlohmann::json::parse(bad.body, nullptr, false).is_discarded()) << bad.body;

  auto t = HttpResponse::text(200, "hi");
  EXPECT_EQ(t.content_type, "text/plain; charset=utf-8");
}

TEST(HttpRequestTest, HeaderLookup) {
  HttpRequest req;
  req.headers["x-a"] = "1";
  EXPECT_EQ(req.header("x-a"), "1");
  EXPECT_EQ(req.header("x-b"), std::nullopt);
}

}  // namespace
}  // namespace isle::server
