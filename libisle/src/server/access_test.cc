// Tests of access.h without sockets: the tokens file format and its
// errors, every branch of AccessPolicy::check, the Host and Origin rules,
// and a token reload racing with checks.
#include "server/access.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace isle::server {
namespace {

TokenSet tokens_or_die(std::string_view text) {
  auto r = parse_tokens(text, "tokens.txt");
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? *r : TokenSet{};
}

// ---- the tokens file ----

TEST(AccessTokens, ScopesPerLine) {
  TokenSet t = tokens_or_die(
      "reader-tok read\n"
      "writer-tok read,write\n"
      "ops-tok admin, metrics\n"
      "scraper-tok\tmetrics\n");
  EXPECT_EQ(t.size(), 4u);
  EXPECT_EQ(t.lookup("reader-tok"), scope_bit(Scope::kRead));
  EXPECT_EQ(t.lookup("writer-tok"), scope_bit(Scope::kRead) | scope_bit(Scope::kWrite));
  EXPECT_EQ(t.lookup("ops-tok"), scope_bit(Scope::kAdmin) | scope_bit(Scope::kMetrics));
  EXPECT_EQ(t.lookup("scraper-tok"), scope_bit(Scope::kMetrics));
  EXPECT_EQ(t.lookup("nobody"), 0);
  EXPECT_EQ(t.lookup(""), 0);
  EXPECT_EQ(t.lookup("reader-to"), 0);
}

TEST(AccessTokens, NoScopesMeansAll) {
  TokenSet t = tokens_or_die("old-style-token\n");
  EXPECT_EQ(t.lookup("old-style-token"), kAllScopes);
}

TEST(AccessTokens, CommentsBlankLinesAndCrlf) {
  TokenSet t = tokens_or_die(
      "# operators\r\n"
      "\r\n"
      "   # indented comment\n"
      "  tok-a read  \r\n"
      "tok-b\r\n"
      "\t\n"
      "tok-c write");  // no final newline
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.lookup("tok-a"), scope_bit(Scope::kRead));
  EXPECT_EQ(t.lookup("tok-b"), kAllScopes);
  EXPECT_EQ(t.lookup("tok-b\r"), 0) << "CR is trimmed, not part of the token";
  EXPECT_EQ(t.lookup("tok-c"), scope_bit(Scope::kWrite));
  EXPECT_EQ(t.lookup("# operators"), 0);
}

TEST(AccessTokens, ScopeNamesAreCaseInsensitive) {
  TokenSet t = tokens_or_die("tok READ,Write\n");
  EXPECT_EQ(t.lookup("tok"), scope_bit(Scope::kRead) | scope_bit(Scope::kWrite));
}

TEST(AccessTokens, RepeatedTokenUnitesScopes) {
  TokenSet t = tokens_or_die("tok read\ntok metrics\n");
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.lookup("tok"), scope_bit(Scope::kRead) | scope_bit(Scope::kMetrics));
}

TEST(AccessTokens, UnknownScopeNamesPathAndLine) {
  auto r = parse_tokens("# c\ngood read\nsecret-value-42 raed\n", "/etc/isle/tokens");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().is_invalid_argument());
  const std::string m = r.status().message();
  EXPECT_NE(m.find("/etc/isle/tokens"), std::string::npos) << m;
  EXPECT_NE(m.find("line 3"), std::string::npos) << m;
  EXPECT_NE(m.find("unknown scope"), std::string::npos) << m;
  EXPECT_EQ(m.find("secret-value-42"), std::string::npos) << "the token leaked: " << m;
}

TEST(AccessTokens, EmptyScopeIsAnError) {
  for (const char* line : {"tok read,,write", "tok read,", "tok ,read", "tok read, ,write"}) {
    auto r = parse_tokens(line, "t");
    ASSERT_FALSE(r.ok()) << line;
    EXPECT_TRUE(r.status().is_invalid_argument());
    EXPECT_NE(r.status().message().find("t line 1: empty scope"), std::string::npos)
        << r.status().message();
  }
}

TEST(AccessTokens, TokenTextNeverInErrors) {
  // A token from before scopes that holds a space: the second word is now
  // parsed as a scope. The error must show neither half.
  auto r = parse_tokens("\n\nhunter2 correct-horse-battery\n", "tokens");
  ASSERT_FALSE(r.ok());
  const std::string m = r.status().message();
  EXPECT_EQ(m.find("hunter2"), std::string::npos) << m;
  EXPECT_EQ(m.find("horse"), std::string::npos) << m;
  EXPECT_NE(m.find("line 3"), std::string::npos) << m;
}

TEST(AccessTokens, FileWithoutTokenIsAnError) {
  for (const char* text : {"", "\n\n", "# only a comment\n  \r\n"}) {
    auto r = parse_tokens(text, "/etc/isle/tokens");
    ASSERT_FALSE(r.ok()) << '"' << text << '"';
    EXPECT_TRUE(r.status().is_invalid_argument());
    EXPECT_NE(r.status().message().find("/etc/isle/tokens"), std::string::npos);
    EXPECT_NE(r.status().message().find("no token"), std::string::npos);
  }
}

TEST(AccessTokens, LoadsFile) {
  std::string path = testing::TempDir() + "access_test_tokens.txt";
  {
    std::ofstream out(path, std::ios::trunc);
    out << "# test\nfile-tok read,metrics\n";
  }
  auto r = load_tokens_file(path);
  std::remove(path.c_str());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->lookup("file-tok"), scope_bit(Scope::kRead) | scope_bit(Scope::kMetrics));

  auto missing = load_tokens_file(path);
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(missing.status().is_invalid_argument());
  EXPECT_NE(missing.status().message().find(path), std::string::npos);
}

TEST(AccessTokens, ScopeNames) {
  EXPECT_EQ(parse_scope("read"), Scope::kRead);
  EXPECT_EQ(parse_scope("metrics"), Scope::kMetrics);
  EXPECT_EQ(parse_scope("open"), std::nullopt);
  EXPECT_EQ(parse_scope("any_token"), std::nullopt);
  EXPECT_EQ(parse_scope(""), std::nullopt);
  EXPECT_EQ(scope_name(Scope::kAdmin), "admin");
  EXPECT_EQ(scope_bit(Scope::kOpen), 0);
  EXPECT_EQ(scope_bit(Scope::kAnyToken), 0);
}

// ---- decisions ----

AccessOptions with_tokens() {
  AccessOptions o;
  o.tokens = tokens_or_die(
      "r-tok read\n"
      "w-tok write\n"
      "a-tok admin\n"
      "m-tok metrics\n"
      "all-tok\n");
  return o;
}

RequestView get(std::string_view path, std::optional<std::string_view> authorization = std::nullopt) {
  RequestView v;
  v.method = "GET";
  v.path = path;
  v.authorization = authorization;
  return v;
}

TEST(AccessCheck, MissingTokenIs401AndCloses) {
  AccessPolicy p(with_tokens());
  Decision d = p.check(get("/v1/kv/a"), Scope::kRead);
  EXPECT_EQ(d.status, 401);
  EXPECT_EQ(d.code, "unauthorized");
  EXPECT_TRUE(d.close);
  EXPECT_FALSE(d.authenticated);
  EXPECT_FALSE(d.allowed());
}

TEST(AccessCheck, InvalidTokenIs401) {
  AccessPolicy p(with_tokens());
  for (std::string_view h : {"Bearer nope", "Basic r-tok", "r-tok", "Bearer ", "Bearer", "Bearerr-tok", ""}) {
    Decision d = p.check(get("/v1/kv/a", h), Scope::kRead);
    EXPECT_EQ(d.status, 401) << h;
    EXPECT_TRUE(d.close) << h;
    EXPECT_EQ(d.message.find("r-tok"), std::string::npos);
  }
}

TEST(AccessCheck, BearerSchemeIsCaseInsensitiveAndTrimmed) {
  AccessPolicy p(with_tokens());
  for (std::string_view h : {"Bearer r-tok", "bearer r-tok", "BEARER   r-tok  "}) {
    Decision d = p.check(get("/v1/kv/a", h), Scope::kRead);
    EXPECT_TRUE(d.allowed()) << h << ": " << d.message;
    EXPECT_TRUE(d.authenticated);
    EXPECT_FALSE(d.close);
  }
}

TEST(AccessCheck, EachScopeGuardsItsRoutes) {
  AccessPolicy p(with_tokens());
  struct Case {
    std::string_view token;
    Scope granted;
  };
  const Scope scopes[] = {Scope::kRead, Scope::kWrite, Scope::kAdmin, Scope::kMetrics};
  for (Case c : {Case{"Bearer r-tok", Scope::kRead}, Case{"Bearer w-tok", Scope::kWrite},
                 Case{"Bearer a-tok", Scope::kAdmin}, Case{"Bearer m-tok", Scope::kMetrics}}) {
    for (Scope needed : scopes) {
      Decision d = p.check(get("/x", c.token), needed);
      EXPECT_TRUE(d.authenticated);
      if (needed == c.granted) {
        EXPECT_TRUE(d.allowed()) << c.token << " " << scope_name(needed);
      } else {
        EXPECT_EQ(d.status, 403) << c.token << " " << scope_name(needed);
        EXPECT_EQ(d.code, "forbidden");
        EXPECT_FALSE(d.close);
        EXPECT_NE(d.message.find("'" + std::string(scope_name(needed)) + "'"), std::string::npos)
            << d.message;
        EXPECT_EQ(d.message.find(c.token.substr(7)), std::string::npos) << d.message;
      }
    }
  }
  for (Scope needed : scopes) {
    EXPECT_TRUE(p.check(get("/x", "Bearer all-tok"), needed).allowed()) << scope_name(needed);
  }
}

TEST(AccessCheck, AnyTokenAcceptsEveryValidToken) {
  AccessPolicy p(with_tokens());
  for (std::string_view h : {"Bearer r-tok", "Bearer w-tok", "Bearer a-tok", "Bearer m-tok"}) {
    Decision d = p.check(get("/v1/status", h), Scope::kAnyToken);
    EXPECT_TRUE(d.allowed()) << h;
    EXPECT_TRUE(d.authenticated);
  }
  EXPECT_EQ(p.check(get("/v1/status"), Scope::kAnyToken).status, 401);
  EXPECT_EQ(p.check(get("/v1/status", "Bearer bad"), Scope::kAnyToken).status, 401);
}

TEST(AccessCheck, OpenRoutesNeedNoToken) {
  AccessOptions o = with_tokens();
  o.open_routes = {"/readyz", "/metrics"};
  AccessPolicy p(std::move(o));
  EXPECT_TRUE(p.check(get("/healthz"), Scope::kOpen).allowed());
  EXPECT_TRUE(p.check(get("/healthz", "Bearer garbage"), Scope::kOpen).allowed())
      << "a bad token on an open route is not refused";
  EXPECT_TRUE(p.check(get("/readyz"), Scope::kAnyToken).allowed());
  EXPECT_TRUE(p.check(get("/metrics"), Scope::kMetrics).allowed());
  // Exact paths only.
  EXPECT_EQ(p.check(get("/metrics/"), Scope::kMetrics).status, 401);
  EXPECT_EQ(p.check(get("/readyz2"), Scope::kAnyToken).status, 401);
  // `authenticated` still reports a token shown on an open route.
  EXPECT_TRUE(p.check(get("/healthz", "Bearer r-tok"), Scope::kOpen).authenticated);
  EXPECT_FALSE(p.check(get("/healthz"), Scope::kOpen).authenticated);
}

TEST(AccessCheck, NoTokensConfiguredAllowsEverything) {
  AccessPolicy p(AccessOptions{});
  EXPECT_FALSE(p.tokens_enabled());
  for (Scope s : {Scope::kOpen, Scope::kAnyToken, Scope::kRead, Scope::kWrite, Scope::kAdmin,
                  Scope::kMetrics}) {
    Decision d = p.check(get("/v1/anything"), s);
    EXPECT_TRUE(d.allowed()) << scope_name(s);
    EXPECT_FALSE(d.authenticated);
    EXPECT_TRUE(p.check(get("/v1/anything", "Bearer whatever"), s).allowed());
  }
}

TEST(AccessCheck, OriginMustBeListed) {
  AccessOptions o = with_tokens();
  o.allowed_origins = {"https://console.example", "http://localhost:3000/"};
  AccessPolicy p(std::move(o));
  RequestView v = get("/v1/kv/a", "Bearer r-tok");

  v.origin = "https://console.example";
  EXPECT_TRUE(p.check(v, Scope::kRead).allowed());
  v.origin = "HTTPS://Console.Example";
  EXPECT_TRUE(p.check(v, Scope::kRead).allowed()) << "scheme and host compare case-insensitively";
  v.origin = "http://localhost:3000";
  EXPECT_TRUE(p.check(v, Scope::kRead).allowed()) << "a trailing '/' on the entry is ignored";

  for (std::string_view bad : {"https://evil.example", "http://console.example",
                               "https://console.example:8443", "null", ""}) {
    v.origin = bad;
    Decision d = p.check(v, Scope::kRead);
    EXPECT_EQ(d.status, 403) << bad;
    EXPECT_EQ(d.code, "forbidden_origin") << bad;
    EXPECT_NE(d.message.find("server.allowed_origins"), std::string::npos);
  }
  // The Origin check comes before the token check.
  RequestView anon = get("/v1/kv/a");
  anon.origin = "https://evil.example";
  EXPECT_EQ(p.check(anon, Scope::kRead).code, "forbidden_origin");
  // Open routes skip it.
  EXPECT_TRUE(p.check(anon, Scope::kOpen).allowed());
}

TEST(AccessCheck, NullOriginOnlyWhenListed) {
  AccessOptions o;
  o.allowed_origins = {"null"};
  AccessPolicy p(std::move(o));
  RequestView v = get("/v1/kv/a");
  v.origin = "null";
  EXPECT_TRUE(p.check(v, Scope::kRead).allowed());

  AccessPolicy none(AccessOptions{});
  EXPECT_EQ(none.check(v, Scope::kRead).code, "forbidden_origin")
      << "origin checks apply with tokens off too";
  v.origin.reset();
  EXPECT_TRUE(none.check(v, Scope::kRead).allowed()) << "no Origin: not a browser's cross-site call";
}

TEST(AccessCheck, LoopbackHostNames) {
  for (std::string_view h : {"localhost", "localhost:7001", "LOCALHOST", "localhost.", "app.localhost",
                             "a.b.localhost:80", "127.0.0.1", "127.0.0.2", "127.255.255.254:7001",
                             "[::1]", "[::1]:7001", "[0:0:0:0:0:0:0:1]:7001", "[::ffff:127.0.0.1]"}) {
    EXPECT_TRUE(AccessPolicy::is_loopback_host(h)) << h;
  }
  for (std::string_view h : {"evil.example", "evil.example:7001", "localhost.evil.example",
                             "evillocalhost", ".localhost", "128.0.0.1", "10.0.0.1", "127.0.0",
                             "127.0.0.1.5", "127.0.0.256", "127.0.0.1:", "127.0.0.1:x", "::1",
                             "[::1", "[::2]", "[::1]x", "[::ffff:10.0.0.1]", "", "localhost:123456"}) {
    EXPECT_FALSE(AccessPolicy::is_loopback_host(h)) << h;
  }
}

TEST(AccessCheck, HostCheckOnLoopbackListener) {
  AccessOptions o;
  o.loopback_listener = true;
  AccessPolicy p(std::move(o));
  RequestView v = get("/v1/kv/a");
  for (std::string_view h : {"localhost", "localhost:7001", "127.0.0.2", "[::1]:7001"}) {
    v.host = h;
    EXPECT_TRUE(p.check(v, Scope::kRead).allowed()) << h;
  }
  v.host = "evil.example";
  Decision d = p.check(v, Scope::kRead);
  EXPECT_EQ(d.status, 403);
  EXPECT_EQ(d.code, "forbidden_origin");
  EXPECT_NE(d.message.find("DNS rebinding"), std::string::npos) << d.message;
  EXPECT_NE(d.message.find("server.allowed_hosts"), std::string::npos) << d.message;
  EXPECT_FALSE(d.close);
  // kOpen routes (health checks) skip the Host check.
  EXPECT_TRUE(p.check(v, Scope::kOpen).allowed());
  // An absent or empty Host passes (HTTP/1.0 clients; browsers always send one).
  v.host.reset();
  EXPECT_TRUE(p.check(v, Scope::kRead).allowed());
  v.host = "";
  EXPECT_TRUE(p.check(v, Scope::kRead).allowed());
}

TEST(AccessCheck, AllowedHostsExtendTheLoopbackNames) {
  AccessOptions o;
  o.loopback_listener = true;
  o.allowed_hosts = {"evil.example", "proxy.internal:8443", "[fd00::1]"};
  AccessPolicy p(std::move(o));
  RequestView v = get("/v1/kv/a");
  for (std::string_view h : {"evil.example", "EVIL.example:7001", "proxy.internal:8443", "[fd00::1]:80",
                             "localhost"}) {
    v.host = h;
    EXPECT_TRUE(p.check(v, Scope::kRead).allowed()) << h;
  }
  for (std::string_view h : {"proxy.internal", "proxy.internal:80", "other.example", "[fd00::2]"}) {
    v.host = h;
    EXPECT_EQ(p.check(v, Scope::kRead).status, 403) << h;
  }
}

TEST(AccessCheck, NonLoopbackListenerSkipsHostCheck) {
  AccessOptions o = with_tokens();
  o.loopback_listener = false;
  AccessPolicy p(std::move(o));
  RequestView v = get("/v1/kv/a", "Bearer r-tok");
  v.host = "evil.example";
  EXPECT_TRUE(p.check(v, Scope::kRead).allowed());
}

TEST(AccessCheck, BrowserChecksComeBeforeTokens) {
  AccessOptions o = with_tokens();
  o.loopback_listener = true;
  AccessPolicy p(std::move(o));
  RequestView v = get("/v1/kv/a");  // no token
  v.host = "evil.example";
  EXPECT_EQ(p.check(v, Scope::kRead).code, "forbidden_origin");
  v.host = "localhost:7001";
  EXPECT_EQ(p.check(v, Scope::kRead).status, 401);
}

TEST(AccessCheck, RequestViewFromHttpRequest) {
  HttpRequest req;
  req.method = "PUT";
  req.path = "/v1/kv/a";
  req.headers["authorization"] = "Bearer w-tok";
  req.headers["host"] = "localhost:7001";
  RequestView v = request_view(req);
  EXPECT_EQ(v.method, "PUT");
  EXPECT_EQ(v.path, "/v1/kv/a");
  EXPECT_EQ(v.authorization, "Bearer w-tok");
  EXPECT_EQ(v.host, "localhost:7001");
  EXPECT_EQ(v.origin, std::nullopt);

  AccessOptions o = with_tokens();
  o.loopback_listener = true;
  AccessPolicy p(std::move(o));
  EXPECT_TRUE(p.check(v, Scope::kWrite).allowed());
  EXPECT_EQ(p.check(v, Scope::kAdmin).status, 403);
}

// ---- reload ----

TEST(AccessReload, ReplaceTokensSwapsTheSet) {
  AccessOptions o;
  o.tokens = tokens_or_die("old-tok read\n");
  AccessPolicy p(std::move(o));
  EXPECT_TRUE(p.check(get("/x", "Bearer old-tok"), Scope::kRead).allowed());
  EXPECT_EQ(p.check(get("/x", "Bearer new-tok"), Scope::kRead).status, 401);

  p.replace_tokens(tokens_or_die("new-tok read,write\n"));
  EXPECT_EQ(p.check(get("/x", "Bearer old-tok"), Scope::kRead).status, 401);
  EXPECT_TRUE(p.check(get("/x", "Bearer new-tok"), Scope::kWrite).allowed());
}

TEST(AccessReload, ReplaceTurnsTokensOnAndEmptySetFailsClosed) {
  AccessPolicy p(AccessOptions{});
  EXPECT_TRUE(p.check(get("/x"), Scope::kRead).allowed());
  p.replace_tokens(TokenSet{});
  EXPECT_TRUE(p.tokens_enabled());
  EXPECT_EQ(p.check(get("/x"), Scope::kRead).status, 401);
  EXPECT_EQ(p.check(get("/x", "Bearer anything"), Scope::kRead).status, 401);
}

// Readers check while a writer flips between two token sets. Each set
// grants its token exactly one scope, so a torn view (one set's entries
// with the other's scopes, or a freed set) would show up as an
// impossible decision. Run it under TSan/ASan to check the locking too.
TEST(AccessReload, ConcurrentReplaceAndCheck) {
  AccessOptions o;
  o.tokens = tokens_or_die("tok-a read\n");
  AccessPolicy p(std::move(o));
  const TokenSet set_a = tokens_or_die("tok-a read\n");
  const TokenSet set_b = tokens_or_die("tok-b write\n");

  std::atomic<bool> stop{false};
  std::atomic<int> impossible{0};
  std::atomic<long> checks{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 3; ++i) {
    readers.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        Decision a_read = p.check(get("/x", "Bearer tok-a"), Scope::kRead);
        Decision a_write = p.check(get("/x", "Bearer tok-a"), Scope::kWrite);
        Decision b_write = p.check(get("/x", "Bearer tok-b"), Scope::kWrite);
        Decision b_read = p.check(get("/x", "Bearer tok-b"), Scope::kRead);
        // tok-a never holds write, tok-b never holds read.
        if (a_write.allowed() || b_read.allowed()) ++impossible;
        for (const Decision* d : {&a_read, &a_write, &b_write, &b_read}) {
          if (d->status != 0 && d->status != 401 && d->status != 403) ++impossible;
          if (d->status == 403 && !d->authenticated) ++impossible;
        }
        checks += 4;
      }
    });
  }
  // At least 2000 swaps, and keep going until the readers made progress.
  for (int i = 0; i < 2000 || checks.load() < 4000; ++i) p.replace_tokens(i % 2 ? set_a : set_b);
  p.replace_tokens(set_a);
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(impossible.load(), 0);
  EXPECT_GT(checks.load(), 0);
  EXPECT_TRUE(p.check(get("/x", "Bearer tok-a"), Scope::kRead).allowed());
  EXPECT_EQ(p.check(get("/x", "Bearer tok-b"), Scope::kWrite).status, 401);
}

// ---- config lists ----

TEST(AccessConfig, ParseList) {
  auto r = AccessPolicy::parse_list(" /readyz , /metrics,,\t/x ,");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(*r, (std::vector<std::string>{"/readyz", "/metrics", "/x"}));

  auto empty = AccessPolicy::parse_list("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  auto blanks = AccessPolicy::parse_list(" , ,");
  ASSERT_TRUE(blanks.ok());
  EXPECT_TRUE(blanks->empty());

  auto bad = AccessPolicy::parse_list("a.example b.example");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.status().is_invalid_argument());
  EXPECT_FALSE(AccessPolicy::parse_list("a\nb").ok());
}

}  // namespace
}  // namespace isle::server
