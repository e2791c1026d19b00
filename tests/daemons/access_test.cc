// Access control on real daemons: scoped tokens per route, open routes,
// the browser Origin check, and SIGHUP reloading the tokens file (a good
// file replaces the tokens at once; a bad one keeps the old ones; neither
// stops the daemon).
#include <csignal>
#include <fstream>

#include "daemon_test.h"

namespace isle::daemontest {
namespace {

void write_tokens(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << text;
  }
  ASSERT_EQ(std::rename(tmp.c_str(), path.c_str()), 0);
}

Headers bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

TEST_F(DaemonTest, ScopedTokensOpenRoutesAndOrigins) {
  const std::string tokens = dir() + "/tokens";
  write_tokens(tokens,
               "# role tokens\n"
               "reader-tok read\n"
               "writer-tok write\n"
               "metrics-tok metrics\n"
               "root-tok\n");  // no scopes: all of them
  DaemonProcess& w = add("writerd", {{"server.auth_tokens_file", tokens},
                                     {"server.open_routes", "/readyz"},
                                     {"server.allowed_origins", "https://console.example"}});
  DaemonProcess& r = add("readerd", {{"server.auth_tokens_file", tokens}});
  w.set_token("root-tok");
  r.set_token("root-tok");
  ASSERT_TRUE(w.start());
  ASSERT_TRUE(r.start());
  HttpClient wc(w.address()), rc(r.address());

  // writerd: writes need `write`.
  EXPECT_EQ(wc.request("PUT", kv_path("scoped/a"), "1", bearer("writer-tok")).status, 200);
  HttpResult denied = wc.request("PUT", kv_path("scoped/b"), "2", bearer("reader-tok"));
  EXPECT_TRUE(IsJsonError(denied, 403)) << denied.describe();
  EXPECT_EQ(parse_json(denied.body)["error"].value("code", ""), "forbidden");
  EXPECT_TRUE(IsJsonError(wc.request("POST", "/v1/flush", "", bearer("metrics-tok")), 403));
  // /metrics needs `metrics`; /v1/status any token; /readyz is opened.
  EXPECT_EQ(wc.get("/metrics", bearer("metrics-tok")).status, 200);
  EXPECT_TRUE(IsJsonError(wc.get("/metrics", bearer("writer-tok")), 403));
  EXPECT_EQ(wc.get("/v1/status", bearer("reader-tok")).status, 200);
  EXPECT_EQ(HttpClient(w.address()).get("/readyz").status, 200) << "server.open_routes";
  EXPECT_TRUE(IsJsonError(HttpClient(w.address()).get("/v1/status"), 401));
  // A browser page elsewhere cannot write, even with a token it got hold of.
  Headers from_page = bearer("writer-tok");
  from_page.emplace_back("Origin", "https://evil.example");
  HttpResult cross = wc.request("PUT", kv_path("scoped/evil"), "x", from_page);
  EXPECT_TRUE(IsJsonError(cross, 403)) << cross.describe();
  EXPECT_EQ(parse_json(cross.body)["error"].value("code", ""), "forbidden_origin");
  Headers from_console = bearer("writer-tok");
  from_console.emplace_back("Origin", "https://console.example");
  EXPECT_EQ(wc.request("PUT", kv_path("scoped/console"), "ok", from_console).status, 200);

  // readerd: reads need `read`.
  ASSERT_EQ(rc.request("POST", "/v1/refresh", "", bearer("reader-tok")).status, 200);
  EXPECT_EQ(rc.get(kv_path("scoped/a"), bearer("reader-tok")).body, "1");
  EXPECT_TRUE(IsJsonError(rc.get(kv_path("scoped/a"), bearer("writer-tok")), 403));
  EXPECT_TRUE(IsJsonError(rc.get(kv_path("scoped/b"), bearer("reader-tok")), 404))
      << "a 403 write was applied";
  EXPECT_TRUE(IsJsonError(rc.get(kv_path("scoped/evil"), bearer("reader-tok")), 404))
      << "a cross-origin write was applied";
}

TEST_F(DaemonTest, SighupReloadsTheTokensFileAndABadFileKeepsTheOldOnes) {
  const std::string tokens = dir() + "/tokens";
  write_tokens(tokens, "first-tok\n");
  DaemonProcess& r = add("readerd", {{"server.auth_tokens_file", tokens}});
  r.set_token("first-tok");
  ASSERT_TRUE(r.start());
  HttpClient c(r.address());
  ASSERT_EQ(c.get("/v1/status", bearer("first-tok")).status, 200);

  write_tokens(tokens, "second-tok read\n");
  r.send_signal(SIGHUP);
  EXPECT_TRUE(eventually([&] { return c.get("/v1/status", bearer("first-tok")).status == 401; }, 10s))
      << "the old token still works after SIGHUP";
  EXPECT_EQ(c.get("/v1/status", bearer("second-tok")).status, 200);
  EXPECT_TRUE(r.running()) << "SIGHUP stopped the daemon";

  // A file that does not parse: the daemon keeps the tokens it has.
  write_tokens(tokens, "third-tok bogus-scope\n");
  r.send_signal(SIGHUP);
  EXPECT_TRUE(eventually([&] { return r.log().find("keeping the current tokens") != std::string::npos; }, 10s))
      << r.log();
  EXPECT_EQ(c.get("/v1/status", bearer("second-tok")).status, 200);
  EXPECT_TRUE(IsJsonError(c.get("/v1/status", bearer("third-tok")), 401));
  EXPECT_TRUE(r.running());
  r.set_token("second-tok");  // for the fixture's checks at the end
}

}  // namespace
}  // namespace isle::daemontest
