// compactord and retentiond as processes next to writerd and readerd:
// POST /v1/run on compactord lowers readerd's L0 count while concurrent
// scans stay equal to the model; retentiond (by age, a short period)
// removes data older than the period and keeps younger data.
#include <atomic>
#include <mutex>

#include "daemons/daemon_test.h"

namespace isle::daemontest {
namespace {

std::string key_n(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "m/%03d", i);
  return buf;
}

// Posts one NDJSON batch of (key, value-or-nullopt) and checks the answer.
void write_batch(HttpClient& w, const std::vector<std::pair<std::string, std::optional<std::string>>>& ops,
                 Model& model) {
  std::string body;
  for (const auto& [k, v] : ops) {
    json j = {{"op", v ? "put" : "delete"}, {"key", k}};
    if (v) j["value"] = *v;
    body += j.dump() + "\n";
  }
  HttpResult r = w.post("/v1/batch", body);
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(parse_json(r.body).value("count", -1), static_cast<int>(ops.size())) << r.body;
  for (const auto& [k, v] : ops) {
    if (v) {
      model[k] = *v;
    } else {
      model.erase(k);
    }
  }
}

TEST_F(DaemonTest, CompactordLowersTheL0CountWhileReadersStayCorrect) {
  // SST objects: the compactor and retention act on L0 objects, not on
  // inline flushes (WriterOptions::inline_flush_max_bytes).
  DaemonProcess& w = add("writerd", {{"writer.inline_flush_max_bytes", "0"}});
  DaemonProcess& r = add("readerd");
  DaemonProcess& c = add("compactord", {{"compactor.l0_threshold", "2"}});
  ASSERT_TRUE(w.start());
  ASSERT_TRUE(r.start());
  ASSERT_TRUE(c.start());
  HttpClient wc = w.client(), rc = r.client(), cc = c.client();

  // Six flushed rounds over one key space: overwrites and deletes spread
  // over several overlapping L0 SSTs.
  std::mt19937_64 rng(isle::testing::seed_base());
  Model model;
  for (int round = 0; round < 6; round++) {
    std::vector<std::pair<std::string, std::optional<std::string>>> ops;
    for (int i = 0; i < 40; i++) {
      std::string k = key_n(static_cast<int>(rng() % 100));
      if (rng() % 5 == 0) {
        ops.emplace_back(k, std::nullopt);
      } else {
        ops.emplace_back(k, "r" + std::to_string(round) + "-" + std::to_string(rng() % 1000) +
                                std::string(rng() % 200, 'x'));
      }
    }
    ASSERT_NO_FATAL_FAILURE(write_batch(wc, ops, model));
    HttpResult f = wc.post("/v1/flush");
    ASSERT_EQ(f.status, 200) << f.describe();
  }
  ASSERT_EQ(rc.post("/v1/refresh").status, 200);
  int before = l0_count(rc);
  ASSERT_GE(before, 2) << "six flushed rounds should leave several L0 SSTs";
  KVs want = as_kvs(model);
  ASSERT_EQ(scan(rc, ""), want);

  // Scans run against readerd the whole time compaction runs and commits.
  std::atomic<bool> stop{false};
  std::atomic<int> checks{0}, bad{0};
  std::mutex mu;
  std::string first_bad;
  std::thread checker([&] {
    HttpClient c2 = r.client();
    while (!stop.load()) {
      HttpResult s = c2.get("/v1/scan");
      KVs got;
      bool ok = s.status == 200;
      if (ok) {
        for (const json& j : parse_ndjson(s.body)) {
          auto k = get_bytes(j, "key");
          auto v = get_bytes(j, "value");
          if (!k || !v) ok = false;
          else got.emplace_back(*k, *v);
        }
      }
      if (!ok || got != want) {
        bad++;
        std::lock_guard lk(mu);
        if (first_bad.empty()) first_bad = ok ? diff(want, got) : s.describe();
      }
      checks++;
    }
  });

  HttpResult run = cc.post("/v1/run");
  EXPECT_EQ(run.status, 200) << "compactord /v1/run: " << run.describe();
  int after = before;
  bool lowered = eventually([&] {
    rc.post("/v1/refresh");
    after = l0_count(rc);
    return after >= 0 && after < before;
  }, 10s, 100ms);
  // Keep reading a little longer on the compacted view.
  int seen = checks.load();
  eventually([&] { return checks.load() >= seen + 5; }, 5s, 10ms);
  stop = true;
  checker.join();
  EXPECT_TRUE(lowered) << "L0 count before " << before << ", after compaction " << after
                       << "; run answered " << run.describe();
  EXPECT_GT(checks.load(), 5);
  EXPECT_EQ(bad.load(), 0) << "scans during compaction went wrong (" << bad.load() << " of "
                           << checks.load() << "); first: " << first_bad;

  // A reader started after the compaction and the old one agree with the
  // model; the writer keeps writing on the compacted tree.
  DaemonProcess& r2 = add("readerd");
  ASSERT_TRUE(r2.start());
  HttpClient r2c = r2.client();
  KVs got = scan(r2c, "");
  EXPECT_EQ(got, want) << diff(want, got);
  std::vector<std::string> keys;
  for (int i = 0; i < 100; i++) keys.push_back(key_n(i));
  auto vals = mget(rc, keys);
  ASSERT_EQ(vals.size(), keys.size());
  for (size_t i = 0; i < keys.size(); i++) {
    auto it = model.find(keys[i]);
    EXPECT_EQ(vals[i], it == model.end() ? std::nullopt : std::optional<std::string>(it->second)) << keys[i];
  }
  EXPECT_EQ(seq_of(wc.put(kv_path("m/after"), "x")) > 0, true);
  ASSERT_EQ(rc.post("/v1/refresh").status, 200);
  EXPECT_EQ(rc.get(kv_path("m/after")).body, "x");
}

TEST_F(DaemonTest, RetentiondRemovesDataOlderThanThePeriod) {
  // SST objects: the compactor and retention act on L0 objects, not on
  // inline flushes (WriterOptions::inline_flush_max_bytes).
  DaemonProcess& w = add("writerd", {{"writer.inline_flush_max_bytes", "0"}});
  DaemonProcess& r = add("readerd");
  DaemonProcess& t = add("retentiond", {{"retention.mode", "by_age"},
                                        {"retention.period", "2s"},
                                        {"retention.count", "1"}});
  ASSERT_TRUE(w.start());
  ASSERT_TRUE(r.start());
  ASSERT_TRUE(t.start());
  HttpClient wc = w.client(), rc = r.client(), tc = t.client();

  Model old_model, new_model;
  std::vector<std::pair<std::string, std::optional<std::string>>> old_ops, new_ops;
  for (int i = 0; i < 20; i++) {
    old_ops.emplace_back("old/" + std::to_string(i), "o" + std::to_string(i));
    new_ops.emplace_back("new/" + std::to_string(i), "n" + std::to_string(i));
  }
  ASSERT_NO_FATAL_FAILURE(write_batch(wc, old_ops, old_model));
  ASSERT_EQ(wc.post("/v1/flush").status, 200);
  auto old_written = Clock::now();
  ASSERT_EQ(rc.post("/v1/refresh").status, 200);
  ASSERT_EQ(scan(rc, "prefix=old%2F").size(), 20u);

  // Data ages by the clock: let the old data pass the 2 s period (there is
  // nothing to poll for), then write young data.
  std::this_thread::sleep_until(old_written + 2500ms);
  ASSERT_NO_FATAL_FAILURE(write_batch(wc, new_ops, new_model));
  ASSERT_EQ(wc.post("/v1/flush").status, 200);

  HttpResult run = tc.post("/v1/run");
  ASSERT_EQ(run.status, 200) << "retentiond /v1/run: " << run.describe();
  ASSERT_EQ(rc.post("/v1/refresh").status, 200);
  KVs old_left = scan(rc, "prefix=old%2F");
  EXPECT_TRUE(old_left.empty()) << "retention left " << old_left.size()
                                << " expired keys; run answered " << run.describe();
  std::vector<std::string> old_keys;
  for (auto& [k, v] : old_model) old_keys.push_back(k);
  for (const auto& v : mget(rc, old_keys)) EXPECT_FALSE(v.has_value());
  EXPECT_TRUE(IsJsonError(rc.get(kv_path("old/0")), 404));
  KVs young = scan(rc, "prefix=new%2F");
  EXPECT_EQ(young, as_kvs(new_model)) << "retention removed young data: " << diff(as_kvs(new_model), young);
}

}  // namespace
}  // namespace isle::daemontest
