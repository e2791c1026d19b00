// store.manifest_url and store.gc_marks_url: the five daemons as real
// processes with the data (SSTs) on a fresh Ceph RGW bucket, the manifest
// in one file:// folder and GC's marks and checkpoint in another, all under
// the same store.prefix. Writes through writerd, reads through readerd, a
// change feed through tailerd, a compaction, a retention cycle and GC runs
// through compactord (which collects old log entries and snapshots in the
// file:// manifest store). Checked: every manifest object is in the
// manifest folder and none in the bucket, the marks are in the marks
// folder only, and reads stay equal to the model after GC. Then the
// `isle` CLI with the same three stores reads and dry-runs GC, and a
// GC-only compactord that lacks store.manifest_url refuses to collect
// (the bucket is unchanged).
//
// The bucket comes from $ISLE_TEST_S3_URL; skipped when it is unset.
#include <filesystem>
#include <fstream>

#include "cloud/cloud_test_util.h"
#include "daemons/daemon_test.h"

namespace isle::daemontest {
namespace {

class SeparateStores : public DaemonTest {
 protected:
  void SetUp() override {
    auto store = isle::testing::fresh_s3_store();
    if (store.status().code() == Code::kNotSupported) GTEST_SKIP() << store.status().message();
    ASSERT_TRUE(store.ok()) << store.status().to_string();
    bucket_ = *store;
    std::filesystem::create_directories(dir() + "/meta");
    std::filesystem::create_directories(dir() + "/marks");
  }
  std::string meta_url() const { return "file://" + dir() + "/meta"; }
  std::string marks_url() const { return "file://" + dir() + "/marks"; }
  DaemonProcess& add_split(const std::string& name, Settings yaml = {}) {
    yaml.emplace_back("store.url", bucket_->url());
    yaml.emplace_back("store.manifest_url", meta_url());
    yaml.emplace_back("store.gc_marks_url", marks_url());
    yaml.emplace_back("store.prefix", "db1");
    yaml.emplace_back("store.lease", "500ms");
    yaml.emplace_back("store.gc_grace", "2s");
    return add(name, yaml);
  }
  static std::vector<std::string> keys_of(const std::string& url, const std::string& prefix) {
    std::vector<std::string> out;
    auto s = open_object_store(url);
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    if (!s.ok()) return out;
    auto l = (*s)->list_all(prefix);
    EXPECT_TRUE(l.ok()) << l.status().to_string();
    if (!l.ok()) return out;
    for (const auto& m : *l) out.push_back(m.key);
    return out;
  }
  static size_t count_prefix(const std::vector<std::string>& keys, const std::string& p) {
    size_t n = 0;
    for (const auto& k : keys) n += k.rfind(p, 0) == 0;
    return n;
  }

  ObjectStorePtr bucket_;  // held for the whole test: destroying it deletes the bucket
};

TEST_F(SeparateStores, ManifestAndMarksLiveOutsideTheDataBucket) {
  // SST objects: the compactor below acts on L0 objects, not inline flushes.
  DaemonProcess& w = add_split("writerd", {{"writer.snapshot_every", "2"},
                                           {"writer.inline_flush_max_bytes", "0"}});
  DaemonProcess& r = add_split("readerd");
  DaemonProcess& t = add_split("tailerd");
  DaemonProcess& c = add_split("compactord", {{"compactor.l0_threshold", "2"},
                                              {"gc.interval", "1h"},
                                              {"gc.grace", "2s"},
                                              {"gc.change_retention", "1ms"}});
  DaemonProcess& ret = add_split("retentiond", {{"retention.period", "1h"}});
  for (DaemonProcess* d : {&w, &r, &t, &c, &ret}) ASSERT_TRUE(d->start(60s)) << d->name();
  HttpClient wc = w.client(), rc = r.client(), cc = c.client(), tc = ret.client();

  // Six flushed rounds over overlapping keys: L0 SSTs, log entries and
  // snapshots (every 2 entries).
  Model model;
  for (int round = 0; round < 6; round++) {
    std::string body;
    for (int i = 0; i < 10; i++) {
      const std::string k = "k/" + std::to_string((round * 7 + i) % 25);
      const std::string v = "r" + std::to_string(round) + "-" + std::to_string(i);
      json j = {{"op", "put"}, {"key", k}, {"value", v}};
      body += j.dump() + "\n";
      model[k] = v;
    }
    ASSERT_EQ(wc.post("/v1/batch", body).status, 200);
    ASSERT_EQ(wc.post("/v1/flush").status, 200);
  }
  ASSERT_EQ(rc.post("/v1/refresh").status, 200);
  ASSERT_EQ(scan(rc, ""), as_kvs(model));

  // The change feed reads the log through the manifest store.
  auto feed = HttpStream::open(t.client().address(), "/v1/tail?after_seq=0");
  ASSERT_EQ(feed->status(), 200) << feed->error() << " " << feed->body();
  auto first = feed->next_line(10s);
  ASSERT_TRUE(first.has_value()) << feed->error();
  EXPECT_EQ(parse_json(*first).value("op", ""), "put") << *first;
  feed->close();

  // Compaction and a retention cycle (1 h period: removes nothing).
  HttpResult run = cc.post("/v1/run");
  ASSERT_EQ(run.status, 200) << run.describe();
  ASSERT_TRUE(parse_json(run.body).value("compacted", false)) << run.body;
  HttpResult rr = tc.post("/v1/run");
  ASSERT_EQ(rr.status, 200) << rr.describe();
  // More writes after the compaction move log_seq_start on.
  for (int i = 0; i < 4; i++) {
    const std::string k = "k/after" + std::to_string(i);
    ASSERT_EQ(wc.put(kv_path(k), "a").status, 200);
    model[k] = "a";
    ASSERT_EQ(wc.post("/v1/flush").status, 200);
  }

  const std::vector<std::string> meta_before = keys_of(meta_url(), "db1/");
  const size_t logs_before = count_prefix(meta_before, "db1/manifest/log/");
  ASSERT_GT(logs_before, 4u);

  // GC until it has collected SSTs, log entries and snapshots (the grace
  // is 2 s; the first sighting of log_seq_start must age first).
  uint64_t ssts = 0, logs = 0, snaps = 0;
  std::string last;
  bool done = eventually([&] {
    HttpResult g = cc.post("/v1/gc");
    EXPECT_EQ(g.status, 200) << g.describe();
    json j = parse_json(g.body);
    last = g.body;
    EXPECT_FALSE(j.value("manifest_skipped", true)) << g.body;
    ssts += j.value("ssts_deleted", uint64_t{0});
    logs += j.value("log_entries_deleted", uint64_t{0});
    snaps += j.value("snapshots_deleted", uint64_t{0});
    return ssts > 0 && logs > 0 && snaps > 0;
  }, 30s, 500ms);
  ASSERT_TRUE(done) << "GC never collected SSTs, log entries and snapshots; last: " << last;

  // Where everything is.
  const std::vector<std::string> bucket = keys_of(bucket_->url(), "");
  const std::vector<std::string> meta = keys_of(meta_url(), "");
  const std::vector<std::string> marks = keys_of(marks_url(), "");
  EXPECT_GT(count_prefix(bucket, "db1/sstable/"), 0u);
  for (const auto& k : bucket) {
    EXPECT_EQ(k.find("manifest/"), std::string::npos) << "manifest object in the data bucket: " << k;
  }
  EXPECT_EQ(count_prefix(meta, "db1/manifest/CURRENT"), 1u);
  EXPECT_GT(count_prefix(meta, "db1/manifest/snapshots/"), 0u);
  EXPECT_EQ(count_prefix(meta, "db1/manifest/log/"), logs_before - logs)
      << "the collected log entries are gone from the manifest folder";
  EXPECT_EQ(count_prefix(meta, "db1/manifest/gc/"), 0u) << "marks in the manifest folder";
  for (const auto& k : meta) EXPECT_EQ(k.rfind("db1/manifest/", 0), 0u) << "unexpected " << k;
  EXPECT_EQ(count_prefix(marks, "db1/manifest/gc/checkpoint.json"), 1u);
  EXPECT_EQ(count_prefix(marks, "db1/manifest/gc/pending-sst/pending.json"), 1u);
  EXPECT_EQ(marks.size(), 2u) << "only GC's two state objects in the marks folder";

  // Reads are whole after GC; a write after GC is read too.
  ASSERT_EQ(wc.put(kv_path("k/last"), "z").status, 200);
  model["k/last"] = "z";
  ASSERT_EQ(wc.post("/v1/flush").status, 200);
  ASSERT_EQ(rc.post("/v1/refresh").status, 200);
  KVs got = scan(rc, "");
  EXPECT_EQ(got, as_kvs(model)) << diff(as_kvs(model), got);

  // The `isle` CLI with the same three stores: reads through the manifest
  // folder, and its GC (dry run) judges by the same marks and manifest.
  const std::vector<std::string> where = {"--store", bucket_->url(), "--manifest-store", meta_url(),
                                          "--gc-marks-store", marks_url(), "--prefix", "db1"};
  auto isle_cli = [&](std::vector<std::string> args) {
    args.insert(args.begin(), where.begin(), where.end());
    return isle::testing::run_capture(isle::testing::built_program("isle"), args, dir(), 60s);
  };
  auto cli_get = isle_cli({"get", "k/last"});
  EXPECT_EQ(cli_get.exit_code, 0) << cli_get.output;
  EXPECT_NE(cli_get.output.find('z'), std::string::npos) << cli_get.output;
  auto cli_gc = isle_cli({"--json", "gc", "--dry-run", "--grace", "1m", "--change-retention", "1m"});
  EXPECT_EQ(cli_gc.exit_code, 0) << cli_gc.output;
  EXPECT_NE(cli_gc.output.find("\"manifest_skipped\":false"), std::string::npos) << cli_gc.output;
  EXPECT_EQ(keys_of(marks_url(), "").size(), 2u);
  // Without --manifest-store the bucket holds no database.
  auto wrong = isle::testing::run_capture(isle::testing::built_program("isle"),
                                          {"--store", bucket_->url(), "--prefix", "db1", "get", "k/last"},
                                          dir(), 60s);
  EXPECT_NE(wrong.exit_code, 0) << wrong.output;

  // A GC-only compactord that lacks store.manifest_url sees an empty
  // manifest next to the data: its GC refuses and deletes nothing.
  const std::vector<std::string> bucket_before = keys_of(bucket_->url(), "");
  DaemonProcess& lost = add("compactord", {{"store.url", bucket_->url()},
                                           {"store.prefix", "db1"},
                                           {"store.lease", "500ms"},
                                           {"store.gc_grace", "2s"},
                                           {"compactor.enabled", "false"},
                                           {"gc.interval", "1h"},
                                           {"gc.grace", "2s"}});
  ASSERT_TRUE(lost.start(60s));
  HttpClient lc = lost.client();
  for (int i = 0; i < 3; i++) {
    HttpResult g = lc.post("/v1/gc");
    EXPECT_NE(g.status, 200) << g.describe();
    EXPECT_NE(g.body.find("manifest"), std::string::npos) << g.body;
    std::this_thread::sleep_for(1500ms);
  }
  EXPECT_EQ(keys_of(bucket_->url(), ""), bucket_before) << "GC without the manifest store deleted data";
}

// Without a cloud bucket: a store.manifest_url or store.gc_marks_url that
// does not open stops every daemon at start (78) naming the key.
TEST_F(DaemonTest, UnusableManifestOrMarksUrlExits78NamingTheKey) {
  for (const std::string key : {"store.manifest_url", "store.gc_marks_url"}) {
    for (const std::string name : {"writerd", "readerd", "compactord"}) {
      Settings s = defaults(name);
      s.emplace_back("server.listen", "127.0.0.1:0");
      s.emplace_back(key, "nosuchscheme://x");
      const std::string cfg = dir() + "/" + name + "-bad.yaml";
      {
        std::ofstream f(cfg);
        f << isle::testing::settings_to_yaml(s);
      }
      auto r = isle::testing::run_capture(isle::testing::built_program(name), {"--config", cfg},
                                          dir(), 30s);
      EXPECT_EQ(r.exit_code, 78) << name << " " << key << "\n" << r.output;
      EXPECT_NE(r.output.find(key), std::string::npos) << name << "\n" << r.output;
    }
  }
}

}  // namespace
}  // namespace isle::daemontest
