// Writes through writerd, reads through readerd: random puts, deletes and
// batches (binary keys, key_b64/value_b64) checked against a std::map model
// on two readerd instances with scan and mget; the refresh_interval
// visibility promise; path decoding; and every role starting on an empty
// bucket and picking up data once writerd writes.
#include <set>

#include "daemons/daemon_test.h"

namespace isle::daemontest {
namespace {

constexpr auto kReaderRefresh = 200ms;

// Keys that exercise the path and JSON spellings: '/', '+', '%', '?', '#',
// spaces, multi-byte UTF-8, NUL and bytes that are not UTF-8.
std::vector<std::string> key_pool() {
  std::vector<std::string> keys;
  for (int i = 0; i < 24; i++) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "k/%03d", i);
    keys.push_back(buf);
  }
  for (const char* k : {"a b", "a+b", "a%b", "a%2Fb", "a/b/c", "x?y=1&z#f", "\xc3\xbc-\xc3\xa9",
                        "\xe6\x97\xa5\xe6\x9c\xac", "a\"q\\", "tab\tnl\n", "~.-_", "k/"}) {
    keys.push_back(k);
  }
  keys.push_back(std::string("\x00", 1));
  keys.push_back(std::string("\x00\x01" "a", 3));
  keys.push_back("\xff\xfe");
  keys.push_back("\xc3");  // a truncated UTF-8 sequence
  keys.push_back("k/\xff");
  keys.push_back(std::string("k/0\x00z", 5));
  return keys;
}

std::string random_value(std::mt19937_64& rng) {
  size_t kind = rng() % 10;
  size_t len = kind == 0 ? 0 : kind == 1 ? 4096 + rng() % 8192 : rng() % 40;
  std::string v(len, '\0');
  bool binary = rng() % 4 == 0;
  for (char& c : v) {
    c = binary ? static_cast<char>(rng() & 0xff) : static_cast<char>('a' + rng() % 26);
  }
  return v;
}

class ReadWriteTest : public DaemonTest {};

// Compares one reader's answers with the model: full scan, random bounded
// scans, mget and single GETs.
void check_reader(HttpClient& r, const Model& model, const std::vector<std::string>& pool,
                  std::mt19937_64& rng, const std::string& who) {
  SCOPED_TRACE(who);
  KVs all = scan(r, "");
  ASSERT_EQ(all, as_kvs(model)) << diff(as_kvs(model), all);

  const std::vector<std::string> prefixes = {"", "", "k/", "k/0", "a", std::string("\x00", 1), "\xff", "zz"};
  const std::vector<size_t> limits = {0, 0, 1, 3, 10};
  for (int i = 0; i < 8; i++) {
    std::optional<std::string> start, end;
    if (rng() % 2) start = pool[rng() % pool.size()];
    if (rng() % 2) end = pool[rng() % pool.size()];
    const std::string& prefix = prefixes[rng() % prefixes.size()];
    size_t limit = limits[rng() % limits.size()];
    std::string q = scan_query(start, end, prefix, limit);
    KVs want = model_scan(model, start, end, prefix, limit);
    KVs got = scan(r, q);
    EXPECT_EQ(got, want) << "scan?" << q << ": " << diff(want, got);
  }

  std::vector<std::string> keys;
  for (int i = 0; i < 24; i++) keys.push_back(pool[rng() % pool.size()]);
  keys.push_back("never-written");
  keys.push_back(keys.front());  // a repeated key answers twice
  bool ok = false;
  auto got = mget(r, keys, &ok);
  ASSERT_TRUE(ok);
  for (size_t i = 0; i < keys.size(); i++) {
    auto it = model.find(keys[i]);
    std::optional<std::string> want;
    if (it != model.end()) want = it->second;
    EXPECT_EQ(got[i], want) << "mget of " << show(keys[i]);
  }

  for (int i = 0; i < 6; i++) {
    const std::string& k = pool[rng() % pool.size()];
    HttpResult g = r.get(kv_path(k));
    auto it = model.find(k);
    if (it == model.end()) {
      EXPECT_TRUE(IsJsonError(g, 404)) << "GET " << show(k);
    } else {
      EXPECT_EQ(g.status, 200) << "GET " << show(k) << ": " << g.describe();
      EXPECT_EQ(g.body, it->second) << "GET " << show(k);
    }
  }
}

TEST_F(ReadWriteTest, WritesAreReadableThroughTwoReadersAndAgreeWithAModel) {
  DaemonProcess& w = add("writerd");
  ASSERT_TRUE(w.start());
  DaemonProcess& r1 = add("readerd");
  DaemonProcess& r2 = add("readerd");
  ASSERT_TRUE(r1.start());
  ASSERT_TRUE(r2.start());
  HttpClient wc = w.client(), c1 = r1.client(), c2 = r2.client();

  const std::vector<std::string> pool = key_pool();
  for (int s = 0; s < isle::testing::seed_count(1); s++) {
    uint64_t seed = isle::testing::seed_base() + s;
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    Model model;
    // Keys from earlier seeds: start from what the readers hold.
    for (auto& [k, v] : scan(c1, "")) model[k] = v;
    uint64_t last_seq = 0;
    uint64_t r1_view = 0, r2_view = 0;
    const int kOps = 160;
    for (int op = 1; op <= kOps; op++) {
      int kind = static_cast<int>(rng() % 10);
      bool durable = rng() % 3 == 0;
      std::string q = durable ? "" : "durable=false";
      if (kind <= 4) {
        const std::string& k = pool[rng() % pool.size()];
        std::string v = random_value(rng);
        std::string qq = q;
        if (rng() % 5 == 0) qq += std::string(qq.empty() ? "" : "&") + "ttl=1h";
        HttpResult r = wc.put(kv_path(k, qq), v);
        uint64_t seq = seq_of(r);
        ASSERT_GT(seq, last_seq) << "PUT " << show(k);
        last_seq = seq;
        model[k] = v;
      } else if (kind <= 6) {
        const std::string& k = pool[rng() % pool.size()];
        HttpResult r = wc.request("DELETE", kv_path(k, q));
        uint64_t seq = seq_of(r);
        ASSERT_GT(seq, last_seq) << "DELETE " << show(k);
        last_seq = seq;
        model.erase(k);
      } else {
        int lines = 1 + static_cast<int>(rng() % 8);
        std::string body;
        Model after = model;
        for (int i = 0; i < lines; i++) {
          json j = json::object();
          const std::string& k = pool[rng() % pool.size()];
          bool put = rng() % 10 < 7;
          j["op"] = put ? "put" : "delete";
          set_bytes(j, "key", k, rng() % 4 == 0);
          if (put) {
            std::string v = random_value(rng);
            set_bytes(j, "value", v, rng() % 4 == 0);
            if (rng() % 6 == 0) j["ttl"] = "1h";
            after[k] = v;
          } else {
            after.erase(k);
          }
          body += j.dump() + "\n";
        }
        HttpResult r = wc.post("/v1/batch" + (q.empty() ? "" : "?" + q), body);
        ASSERT_EQ(r.status, 200) << "batch: " << r.describe() << "\n" << body;
        json a = parse_json(r.body);
        ASSERT_TRUE(a.is_object() && a.contains("count") && a.contains("last_seq")) << r.body;
        EXPECT_EQ(a["count"].get<int>(), lines) << r.body;
        uint64_t seq = a["last_seq"].get<uint64_t>();
        ASSERT_GT(seq, last_seq) << "batch " << r.body;
        last_seq = seq;
        model = std::move(after);
      }

      if (op % 40 != 0) continue;
      // Checkpoint: commit what was buffered, then both readers must agree.
      HttpResult f = wc.post("/v1/flush");
      ASSERT_EQ(f.status, 200) << "flush: " << f.describe();
      auto acked = Clock::now();
      // Reader 2 on its own refresh schedule: within one interval + slack.
      KVs want = as_kvs(model);
      KVs got2;
      bool seen = eventually([&] { return (got2 = scan(c2, "")) == want; }, kReaderRefresh + 2s, 20ms);
      auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - acked);
      ASSERT_TRUE(seen) << "reader 2 did not show the acknowledged writes within "
                        << (kReaderRefresh + 2s).count() << " ms: " << diff(want, got2);
      RecordProperty("reader2_visible_ms_op" + std::to_string(op), static_cast<int>(waited.count()));
      // Reader 1 after an explicit refresh: immediately.
      HttpResult rr = c1.post("/v1/refresh");
      ASSERT_EQ(rr.status, 200) << "refresh: " << rr.describe();
      ASSERT_NO_FATAL_FAILURE(check_reader(c1, model, pool, rng, "reader 1"));
      ASSERT_NO_FATAL_FAILURE(check_reader(c2, model, pool, rng, "reader 2"));
      // A reader's view never goes backwards.
      uint64_t v1 = status_number(c1, "manifest_seq"), v2 = status_number(c2, "manifest_seq");
      EXPECT_GE(v1, r1_view);
      EXPECT_GE(v2, r2_view);
      r1_view = v1;
      r2_view = v2;
    }
  }
  // Keep-alive: every request of this test went over one connection each.
  EXPECT_EQ(wc.connections_opened(), 1);
  EXPECT_EQ(c1.connections_opened(), 1);
  EXPECT_EQ(c2.connections_opened(), 1);
}

TEST_F(ReadWriteTest, PathsDecodeOnlyPercentEscapesAndEmptyValuesAreValues) {
  DaemonProcess& w = add("writerd");
  DaemonProcess& r = add("readerd");
  ASSERT_TRUE(w.start());
  ASSERT_TRUE(r.start());
  HttpClient wc = w.client(), rc = r.client();

  // A raw '+' is a plus, not a space; %20 is a space; %2F is a slash that
  // is part of the key.
  EXPECT_EQ(wc.put("/v1/kv/a+b", "plus").status, 200);
  EXPECT_EQ(wc.put("/v1/kv/a%20b", "space").status, 200);
  EXPECT_EQ(wc.put("/v1/kv/dir%2Ffile", "slash").status, 200);
  EXPECT_EQ(wc.put("/v1/kv/dir/raw", "raw-slash").status, 200);
  EXPECT_EQ(wc.put("/v1/kv/empty", "").status, 200);
  EXPECT_EQ(wc.put("/v1/kv/%00%FF", "binary").status, 200);
  ASSERT_EQ(rc.post("/v1/refresh").status, 200);

  auto get = [&](const std::string& target) { return rc.get(target); };
  EXPECT_EQ(get("/v1/kv/a%2Bb").body, "plus");
  EXPECT_EQ(get("/v1/kv/a+b").body, "plus");
  EXPECT_EQ(get("/v1/kv/a%20b").body, "space");
  EXPECT_EQ(get("/v1/kv/dir/file").body, "slash");
  EXPECT_EQ(get("/v1/kv/dir%2Fraw").body, "raw-slash");
  HttpResult e = get("/v1/kv/empty");
  EXPECT_EQ(e.status, 200) << e.describe();
  EXPECT_EQ(e.body, "");
  EXPECT_EQ(get("/v1/kv/%00%ff").body, "binary");  // hex digits in either case

  KVs want = {{std::string("\x00\xff", 2), "binary"}, {"a b", "space"}, {"a+b", "plus"},
              {"dir/file", "slash"}, {"dir/raw", "raw-slash"}, {"empty", ""}};
  KVs got = scan(rc, "");
  EXPECT_EQ(got, want) << diff(want, got);
  // The binary key travels as key_b64 in the scan output.
  HttpResult s = rc.get("/v1/scan?limit=1");
  ASSERT_EQ(s.status, 200);
  auto lines = parse_ndjson(s.body);
  ASSERT_EQ(lines.size(), 1u) << s.body;
  EXPECT_TRUE(lines[0].contains("key_b64")) << s.body;
  EXPECT_EQ(lines[0].value("key_b64", ""), b64_encode(std::string("\x00\xff", 2)));
  EXPECT_EQ(lines[0].value("value", ""), "binary");
}

TEST_F(ReadWriteTest, TtlExpiresAndDeleteAnswersASeq) {
  DaemonProcess& w = add("writerd");
  DaemonProcess& r = add("readerd");
  ASSERT_TRUE(w.start());
  ASSERT_TRUE(r.start());
  HttpClient wc = w.client(), rc = r.client();
  uint64_t s1 = seq_of(wc.put(kv_path("short", "ttl=1s"), "gone soon"));
  uint64_t s2 = seq_of(wc.put(kv_path("long", "ttl=1h"), "stays"));
  uint64_t s3 = seq_of(wc.del(kv_path("never-existed")));
  EXPECT_LT(s1, s2);
  EXPECT_LT(s2, s3);
  ASSERT_EQ(rc.post("/v1/refresh").status, 200);
  EXPECT_EQ(rc.get(kv_path("long")).body, "stays");
  // The TTL ends within a second; a reader then answers 404.
  HttpResult last;
  EXPECT_TRUE(eventually([&] { return (last = rc.get(kv_path("short"))).status == 404; }, 8s, 100ms))
      << "GET short after its 1 s TTL: " << last.describe();
  EXPECT_TRUE(IsJsonError(last, 404));
  EXPECT_EQ(rc.get(kv_path("long")).body, "stays");
}

TEST_F(DaemonTest, EveryRoleStartsOnAnEmptyBucketAndPicksUpDataLater) {
  DaemonProcess& reader = add("readerd");
  DaemonProcess& tailer = add("tailerd");
  DaemonProcess& compactor = add("compactord");
  DaemonProcess& retention = add("retentiond");
  for (DaemonProcess* d : {&reader, &tailer, &compactor, &retention}) {
    ASSERT_TRUE(d->start()) << d->name() << " on an empty bucket";
  }
  const std::map<std::string, std::string> roles = {{"readerd", "reader"}, {"tailerd", "tailer"},
                                                    {"compactord", "compactor"},
                                                    {"retentiond", "retention"}, {"writerd", "writer"}};
  for (DaemonProcess* d : {&reader, &tailer, &compactor, &retention}) {
    HttpClient c = d->client();
    EXPECT_EQ(c.get("/healthz").status, 200) << d->name();
    HttpResult st = c.get("/v1/status");
    ASSERT_EQ(st.status, 200) << d->name() << ": " << st.describe();
    json j = parse_json(st.body);
    EXPECT_EQ(j.value("role", ""), roles.at(d->name())) << st.body;
  }
  HttpClient rc = reader.client();
  EXPECT_TRUE(IsJsonError(rc.get(kv_path("x")), 404));
  EXPECT_TRUE(scan(rc, "").empty());
  // Maintenance cycles on an empty bucket are no-ops, not errors.
  HttpClient cc = compactor.client(), tc = retention.client();
  HttpResult run = cc.post("/v1/run");
  EXPECT_EQ(run.status, 200) << "compactord run on an empty bucket: " << run.describe();
  run = tc.post("/v1/run");
  EXPECT_EQ(run.status, 200) << "retentiond run on an empty bucket: " << run.describe();
  // A tail opened before any writer ever ran.
  auto tail = HttpStream::open(tailer.address(), "/v1/tail?after_seq=0");
  ASSERT_EQ(tail->status(), 200) << tail->error() << " " << tail->body();

  DaemonProcess& writer = add("writerd");
  ASSERT_TRUE(writer.start());
  HttpClient wc = writer.client();
  HttpResult st = wc.get("/v1/status");
  ASSERT_EQ(st.status, 200);
  json wj = parse_json(st.body);
  EXPECT_EQ(wj.value("role", ""), "writer") << st.body;
  EXPECT_TRUE(wj.contains("epoch") && wj.contains("owner") && wj.contains("manifest_seq")) << st.body;

  uint64_t sx = seq_of(wc.put(kv_path("x"), "1"));
  uint64_t sy = seq_of(wc.put(kv_path("y"), "2"));

  // The reader picks the data up on its own refresh schedule.
  HttpResult g;
  EXPECT_TRUE(eventually([&] { return (g = rc.get(kv_path("y"))).status == 200; }, kReaderRefresh + 3s))
      << "readerd never showed y: " << g.describe();
  EXPECT_EQ(rc.get(kv_path("x")).body, "1");
  // The tail opened on the empty bucket delivers both writes.
  std::vector<json> events;
  auto deadline = Clock::now() + 10s;
  while (events.size() < 2 && Clock::now() < deadline) {
    if (auto line = tail->next_line(500ms); line && !line->empty()) events.push_back(parse_json(*line));
  }
  ASSERT_EQ(events.size(), 2u) << "tail from an empty bucket: " << tail->error();
  EXPECT_EQ(events[0].value("seq", uint64_t{0}), sx);
  EXPECT_EQ(events[0].value("key", ""), "x");
  EXPECT_EQ(events[1].value("seq", uint64_t{0}), sy);
  EXPECT_EQ(events[1].value("key", ""), "y");
  tail->close();
  // Maintenance sees the data now: the cycles still succeed.
  ASSERT_EQ(wc.post("/v1/flush").status, 200);
  run = cc.post("/v1/run");
  EXPECT_EQ(run.status, 200) << run.describe();
  run = tc.post("/v1/run");
  EXPECT_EQ(run.status, 200) << run.describe();
  // /v1/status reports the manifest the daemon works from: after a cycle
  // over a manifest with data, that is no longer position 0.
  EXPECT_GT(status_number(cc, "manifest_seq"), 0u) << "compactord /v1/status after a cycle over data";
  EXPECT_GT(status_number(tc, "manifest_seq"), 0u) << "retentiond /v1/status after a cycle over data";
}

}  // namespace
}  // namespace isle::daemontest
