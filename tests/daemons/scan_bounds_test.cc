// readerd's /v1/scan upper bound: `end` is exclusive unless
// `end_inclusive=true`. Checked through real writerd and readerd processes
// against a std::map model at the edges that tell the two apart: a key
// equal to `end`, keys that extend it ("b\0", "ba"), prefix together with
// an inclusive end (on both sides of the prefix's end), limit, an absent or
// empty end, and bad values (400, never a silent exclusive scan).
#include "daemons/daemon_test.h"

namespace isle::daemontest {
namespace {

class ScanBoundsTest : public DaemonTest {};

// The model's answer: keys in [start, end] (or [start, end) when not
// inclusive), with the prefix, at most `limit` (0 = all).
KVs model_scan_bounds(const Model& m, const std::string& start, const std::optional<std::string>& end,
                      bool inclusive, const std::string& prefix, size_t limit) {
  KVs out;
  for (const auto& [k, v] : m) {
    if (k < start) continue;
    if (end && !end->empty() && (inclusive ? k > *end : k >= *end)) continue;
    if (k.compare(0, prefix.size(), prefix) != 0) continue;
    out.emplace_back(k, v);
    if (limit && out.size() == limit) break;
  }
  return out;
}

TEST_F(ScanBoundsTest, EndInclusiveIncludesTheEndKeyOnly) {
  DaemonProcess& w = add("writerd");
  DaemonProcess& r = add("readerd");
  ASSERT_TRUE(w.start());
  ASSERT_TRUE(r.start());
  HttpClient wc = w.client(), rc = r.client();

  const std::string b0("b\0", 2), b00("b\0\0", 3);
  Model model;
  for (const std::string& k : {std::string("a"), std::string("az"), std::string("b"), b0, b00,
                               std::string("b\x01"), std::string("ba"), std::string("bz"),
                               std::string("c"), std::string("c\xff"), std::string("d")}) {
    HttpResult p = wc.put(kv_path(k), "v:" + k);
    ASSERT_EQ(p.status, 200) << "PUT " << show(k) << ": " << p.describe();
    model[k] = "v:" + k;
  }
  ASSERT_EQ(wc.post("/v1/flush").status, 200);
  ASSERT_EQ(rc.post("/v1/refresh").status, 200);
  ASSERT_EQ(scan(rc, ""), as_kvs(model));

  struct Case {
    std::string start;
    std::optional<std::string> end;
    std::string prefix;
    size_t limit;
  };
  const std::vector<Case> cases = {
      {"a", "b", "", 0},       {"", "b", "", 0},         {"b", "b", "", 0},
      {"a", b0, "", 0},        {"b", b0, "", 0},         {"a", "ba", "", 0},
      {"a", "b", "", 2},       {"a", "b", "", 3},        {"c", "b", "", 0},
      {"", "ba", "b", 0},      {"", "c", "b", 0},        {"", "b", "b", 0},
      {"", "bz", "b", 2},      {"", "c\xff", "c", 0},    {"", "zz", "b", 0},
      {"az", std::nullopt, "", 0}, {"az", "", "", 0},    {"", std::nullopt, "b", 0},
  };
  for (const Case& c : cases) {
    for (bool inclusive : {false, true}) {
      std::string q;
      auto add_param = [&](const std::string& k, const std::string& v) {
        q += (q.empty() ? "" : "&") + k + "=" + v;
      };
      if (!c.start.empty()) add_param("start", pct(c.start));
      if (c.end) add_param("end", pct(*c.end));
      if (!c.prefix.empty()) add_param("prefix", pct(c.prefix));
      if (c.limit) add_param("limit", std::to_string(c.limit));
      if (inclusive) add_param("end_inclusive", "true");
      KVs want = model_scan_bounds(model, c.start, c.end, inclusive, c.prefix, c.limit);
      KVs got = scan(rc, q);
      EXPECT_EQ(got, want) << "scan?" << q << ": " << diff(want, got);
    }
  }

  // Spellings of true and false; an explicit false is the default.
  EXPECT_EQ(scan(rc, "start=a&end=b&end_inclusive=1"), (KVs{{"a", "v:a"}, {"az", "v:az"}, {"b", "v:b"}}));
  EXPECT_EQ(scan(rc, "start=a&end=b&end_inclusive"), (KVs{{"a", "v:a"}, {"az", "v:az"}, {"b", "v:b"}}));
  EXPECT_EQ(scan(rc, "start=a&end=b&end_inclusive=false"), (KVs{{"a", "v:a"}, {"az", "v:az"}}));
  EXPECT_EQ(scan(rc, "start=a&end=b&end_inclusive=0"), (KVs{{"a", "v:a"}, {"az", "v:az"}}));

  // Bad values are refused, not read as either kind.
  for (const char* bad : {"yes", "TRUE", "2", "true%00", "%20true"}) {
    HttpResult res = rc.get(std::string("/v1/scan?start=a&end=b&end_inclusive=") + bad);
    EXPECT_TRUE(IsJsonError(res, 400)) << "end_inclusive=" << bad;
  }
}

}  // namespace
}  // namespace isle::daemontest
