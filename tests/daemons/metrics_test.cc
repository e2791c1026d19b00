// /metrics of all five daemons, after some traffic, passes
// `promtool check metrics` (Debian's prometheus package) and the naming
// rules of the issue: HELP and TYPE on every family, counters end in
// _total, no gauge named *_count/_sum/_bucket/_total.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "daemons/daemon_test.h"

namespace isle::daemontest {
namespace {

std::string find_promtool() {
  if (const char* p = std::getenv("ISLE_PROMTOOL"); p && *p) return p;
  if (const char* path = std::getenv("PATH")) {
    std::stringstream ss(path);
    std::string dir;
    while (std::getline(ss, dir, ':')) {
      std::string cand = dir + "/promtool";
      if (::access(cand.c_str(), X_OK) == 0) return cand;
    }
  }
  if (::access("/usr/bin/promtool", X_OK) == 0) return "/usr/bin/promtool";
  return "";
}

// Our own reading of the lint rules, so a failure names the family.
std::vector<std::string> naming_problems(const std::string& text) {
  std::vector<std::string> problems;
  std::map<std::string, std::string> types;
  std::set<std::string> helps;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string hash, kind, name, type;
    ls >> hash >> kind >> name;
    if (hash != "#") continue;
    if (kind == "HELP") helps.insert(name);
    if (kind == "TYPE") {
      ls >> type;
      types[name] = type;
    }
  }
  auto ends_with = [](const std::string& s, const std::string& suf) {
    return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
  };
  for (const auto& [name, type] : types) {
    if (!helps.count(name)) problems.push_back(name + ": no HELP");
    if (type == "counter" && !ends_with(name, "_total")) problems.push_back(name + ": counter without _total");
    if (type == "gauge") {
      for (const char* suf : {"_count", "_sum", "_bucket", "_total"}) {
        if (ends_with(name, suf)) problems.push_back(name + ": gauge named *" + suf);
      }
    }
    for (const char* unit : {"_milliseconds", "_microseconds", "_ms", "_kilobytes", "_megabytes"}) {
      if (ends_with(name, unit) || name.find(std::string(unit) + "_") != std::string::npos) {
        problems.push_back(name + ": not in base units");
      }
    }
  }
  if (types.empty()) problems.push_back("no # TYPE lines at all");
  return problems;
}

TEST_F(DaemonTest, MetricsOfEveryDaemonPassPromtool) {
  std::string promtool = find_promtool();
  if (promtool.empty()) {
    const char* skip = std::getenv("ISLE_SKIP_PROMTOOL");
    if (skip && std::string(skip) == "1") GTEST_SKIP() << "promtool not installed (ISLE_SKIP_PROMTOOL=1)";
    FAIL() << "promtool not found (install Debian's prometheus package: scripts/install-deps.sh), "
              "or set ISLE_SKIP_PROMTOOL=1 to skip this test";
  }

  DaemonProcess& w = add("writerd");
  DaemonProcess& r = add("readerd");
  DaemonProcess& t = add("tailerd");
  DaemonProcess& c = add("compactord");
  DaemonProcess& e = add("retentiond");
  for (DaemonProcess* d : {&w, &r, &t, &c, &e}) ASSERT_TRUE(d->start());

  // Traffic, so that counters and histograms have samples (and errors).
  HttpClient wc = w.client(), rc = r.client();
  for (int i = 0; i < 5; i++) seq_of(wc.put(kv_path("m/" + std::to_string(i)), "v"));
  wc.post("/v1/batch", R"({"op":"put","key":"m/b","value":"v"})" "\n");
  wc.put("/v1/kv/bad%zz", "x");
  wc.post("/v1/flush");
  rc.post("/v1/refresh");
  rc.get(kv_path("m/1"));
  rc.get(kv_path("absent"));
  rc.get("/v1/scan?prefix=m%2F");
  rc.post("/v1/mget", R"({"key":"m/1"})" "\n");
  {
    auto s = HttpStream::open(t.address(), "/v1/tail?after_seq=0");
    ASSERT_EQ(s->status(), 200);
    EXPECT_TRUE(s->next_line(10s).has_value());
  }
  EXPECT_EQ(c.client().post("/v1/run").status, 200);
  EXPECT_EQ(e.client().post("/v1/run").status, 200);

  for (DaemonProcess* d : {&w, &r, &t, &c, &e}) {
    SCOPED_TRACE(d->name());
    HttpClient dc = d->client();
    dc.get("/v1/nope");  // a 404 in the request metrics
    HttpResult m = dc.get("/metrics");
    ASSERT_EQ(m.status, 200) << m.describe();
    EXPECT_EQ(m.header("content-type").rfind("text/plain", 0), 0u) << m.header("content-type");
    EXPECT_NE(m.header("content-type").find("version=0.0.4"), std::string::npos) << m.header("content-type");
    std::string file = dir() + "/" + d->name() + ".metrics";
    {
      std::ofstream f(file, std::ios::binary);
      f << m.body;
    }
    isle::testing::ProgramRun run = isle::testing::run_capture(
        "/bin/sh", {"-c", "'" + promtool + "' check metrics < '" + file + "'"}, dir(), 30s);
    EXPECT_EQ(run.exit_code, 0) << "promtool check metrics on " << d->name() << "'s /metrics:\n"
                                << run.output << "\n--- metrics ---\n" << m.body.substr(0, 20000);
    std::vector<std::string> problems = naming_problems(m.body);
    std::string all;
    for (const auto& p : problems) all += "  " + p + "\n";
    EXPECT_TRUE(problems.empty()) << d->name() << " metric naming:\n" << all;
  }
}

}  // namespace
}  // namespace isle::daemontest
