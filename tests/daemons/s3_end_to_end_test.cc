// The five daemons as real processes on a fresh Ceph RGW bucket (s3://),
// end to end: writerd's writes checked through readerd against a std::map
// model (gets, mget, scans), a tailerd change feed that delivers every
// acknowledged write in order, a compactord run (L0 shrinks, reads stay
// right), a retentiond run, and kill -9 of writerd with a restart that
// loses no acknowledged write. Plus writerd with a wrong secret: one
// process that exits at once, naming AWS_SECRET_ACCESS_KEY.
//
// The bucket comes from $ISLE_TEST_S3_URL (scripts/objstores/start-ceph-rgw.sh;
// scripts/test.sh starts it and exports the variables); the daemons get its
// url() as store.url and the credentials from their inherited environment
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY). Skipped when it is unset.
#include <atomic>
#include <algorithm>
#include <fstream>
#include <mutex>
#include <set>

#include "cloud/cloud_test_util.h"
#include "daemons/daemon_test.h"

namespace isle::daemontest {
namespace {

using isle::testing::ProgramRun;

// What the feed must deliver for one acknowledged write. seq 0: a line of
// a batch whose last sequence is batch_last.
struct Expect {
  uint64_t seq = 0;
  uint64_t batch_last = 0;
  std::string op;  // "put" / "delete"
  std::string key;
  std::string value;
};

struct Got {
  uint64_t seq = 0;
  std::string op, key;
  std::optional<std::string> value;
};

// Collects a change feed from a background thread.
class FeedCollector {
 public:
  FeedCollector(const std::string& address, const std::string& target) {
    stream_ = HttpStream::open(address, target);
    if (stream_->status() != 200) {
      ADD_FAILURE() << "tailerd " << target << ": " << stream_->status() << " " << stream_->error() << " "
                    << stream_->body();
      return;
    }
    thread_ = std::thread([this] { run(); });
  }
  ~FeedCollector() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::vector<Got> events() const {
    std::lock_guard lk(mu_);
    return events_;
  }
  uint64_t last_seq() const { return last_.load(); }
  std::string problem() const {
    std::lock_guard lk(mu_);
    return problem_;
  }

 private:
  void run() {
    while (!stop_ && !stream_->ended()) {
      auto line = stream_->next_line(100ms);
      if (!line || line->empty()) continue;
      json j = json::parse(*line, nullptr, false);
      Got g;
      if (j.is_object() && j.contains("seq") && j["seq"].is_number_unsigned()) g.seq = j["seq"].get<uint64_t>();
      g.op = j.is_object() ? j.value("op", "") : "";
      g.key = get_bytes(j, "key").value_or("");
      g.value = get_bytes(j, "value");
      std::lock_guard lk(mu_);
      if (g.seq == 0 && problem_.empty()) problem_ = "a feed line without a seq: " + *line;
      if (g.seq != 0 && g.seq <= last_.load() && problem_.empty()) {
        problem_ = "seq " + std::to_string(g.seq) + " after " + std::to_string(last_.load());
      }
      events_.push_back(g);
      last_ = std::max(last_.load(), g.seq);
    }
    if (!stop_) {
      std::lock_guard lk(mu_);
      if (problem_.empty()) problem_ = "the feed ended: " + stream_->error();
    }
  }

  std::unique_ptr<HttpStream> stream_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> last_{0};
  mutable std::mutex mu_;
  std::vector<Got> events_;
  std::string problem_;
};

class S3EndToEnd : public DaemonTest {
 protected:
  void SetUp() override {
    auto store = isle::testing::fresh_s3_store();
    if (store.status().code() == Code::kNotSupported) GTEST_SKIP() << store.status().message();
    ASSERT_TRUE(store.ok()) << store.status().to_string();
    store_ = *store;
    url_ = store_->url();
  }
  // The role's test settings on the RGW bucket.
  DaemonProcess& add_on_s3(const std::string& name, Settings yaml = {}) {
    yaml.emplace_back("store.url", url_);
    return add(name, yaml);
  }

  // Held for the whole test: destroying it deletes the bucket (after
  // TearDown has stopped the daemons).
  ObjectStorePtr store_;
  std::string url_;
};

std::string key_n(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "m/%03d", i);
  return buf;
}

// The whole-database checks through readerd: a full scan, mget of every
// key ever written, single gets, a bounded scan and a prefix scan with a
// limit, all equal to the model.
void expect_reads(HttpClient& rc, const Model& model, const std::vector<std::string>& all_keys,
                  const std::string& where) {
  SCOPED_TRACE(where);
  ASSERT_EQ(rc.post("/v1/refresh").status, 200);
  KVs got = scan(rc, "");
  EXPECT_EQ(got, as_kvs(model)) << diff(as_kvs(model), got);
  auto vals = mget(rc, all_keys);
  ASSERT_EQ(vals.size(), all_keys.size());
  int wrong = 0;
  for (size_t i = 0; i < all_keys.size(); i++) {
    auto it = model.find(all_keys[i]);
    const std::optional<std::string> want =
        it == model.end() ? std::nullopt : std::optional<std::string>(it->second);
    if (vals[i] != want && wrong++ < 3) ADD_FAILURE() << "mget " << all_keys[i];
  }
  for (size_t i = 0; i < all_keys.size(); i += 7) {
    HttpResult g = rc.get(kv_path(all_keys[i]));
    auto it = model.find(all_keys[i]);
    if (it == model.end()) {
      EXPECT_TRUE(IsJsonError(g, 404)) << all_keys[i];
    } else {
      EXPECT_EQ(g.status, 200) << all_keys[i] << ": " << g.describe();
      EXPECT_EQ(g.body, it->second) << all_keys[i];
    }
  }
  const std::optional<std::string> lo = "m/020", hi = "m/070";
  KVs part = scan(rc, scan_query(lo, hi, "", 0));
  KVs want_part = model_scan(model, lo, hi, "", 0);
  EXPECT_EQ(part, want_part) << diff(want_part, part);
  KVs limited = scan(rc, scan_query(std::nullopt, std::nullopt, "m/0", 5));
  KVs want_limited = model_scan(model, std::nullopt, std::nullopt, "m/0", 5);
  EXPECT_EQ(limited, want_limited) << diff(want_limited, limited);
}

// Every expected event is in the feed, in order, with nothing else between
// them except the `allowed_extra` keys (writes in flight at a kill -9 that
// committed unacknowledged). A batch line must come after the previous
// match and at or below its batch's last sequence.
void expect_feed(const std::vector<Got>& got, const std::vector<Expect>& want,
                 const std::function<bool(const std::string&)>& allowed_extra) {
  size_t gi = 0;
  uint64_t prev = 0;
  for (const Expect& w : want) {
    const uint64_t bound = w.seq ? w.seq : w.batch_last;
    for (; gi < got.size(); gi++) {
      const Got& g = got[gi];
      if (g.key == w.key && g.seq > prev && g.seq <= bound && (w.seq == 0 || g.seq == w.seq)) break;
      if (!allowed_extra(g.key)) {
        ADD_FAILURE() << "feed event " << gi << " (seq " << g.seq << " " << g.op << " " << show(g.key)
                      << ") where the acknowledged " << w.op << " " << show(w.key) << " (seq <= " << bound
                      << ") was expected";
        return;
      }
    }
    if (gi == got.size()) {
      ADD_FAILURE() << "the feed misses the acknowledged " << w.op << " " << show(w.key) << " (seq <= "
                    << bound << "); " << got.size() << " events delivered";
      return;
    }
    const Got& g = got[gi++];
    EXPECT_EQ(g.op, w.op) << show(w.key);
    if (w.op == "put") {
      EXPECT_EQ(g.value, std::optional<std::string>(w.value)) << show(w.key);
    } else {
      EXPECT_FALSE(g.value.has_value()) << show(w.key);
    }
    prev = g.seq;
  }
  for (; gi < got.size(); gi++) {
    EXPECT_TRUE(allowed_extra(got[gi].key)) << "unexpected feed event after the last write: " << show(got[gi].key);
  }
}

TEST_F(S3EndToEnd, FiveDaemonsOnCephRgw) {
  // SST objects: the compactor and retention act on L0 objects, not on
  // inline flushes (WriterOptions::inline_flush_max_bytes).
  DaemonProcess& w = add_on_s3("writerd", {{"writer.inline_flush_max_bytes", "0"}});
  DaemonProcess& r = add_on_s3("readerd");
  DaemonProcess& t = add_on_s3("tailerd");
  DaemonProcess& c = add_on_s3("compactord", {{"compactor.l0_threshold", "2"}});
  DaemonProcess& ret = add_on_s3("retentiond", {{"retention.mode", "by_age"},
                                               {"retention.period", "2s"},
                                               {"retention.count", "1"}});
  for (DaemonProcess* d : {&w, &r, &t, &c, &ret}) ASSERT_TRUE(d->start(60s)) << d->name();
  HttpClient wc = w.client(), rc = r.client(), cc = c.client(), tc = ret.client();
  FeedCollector feed(t.address(), "/v1/tail?mode=changes&after_seq=0");
  ASSERT_FALSE(HasFailure());

  std::vector<Expect> expected;  // every acknowledged write, in order
  Model model;
  std::vector<std::string> all_keys;
  for (int i = 0; i < 100; i++) all_keys.push_back(key_n(i));
  std::mt19937_64 rng(isle::testing::seed_base());

  // 1. Five flushed rounds: a batch of distinct keys (puts and deletes) and
  // a few single durable PUTs and DELETEs; overlapping L0 SSTs.
  for (int round = 0; round < 5; round++) {
    std::string body;
    std::vector<Expect> lines;
    std::set<int> picked;
    while (picked.size() < 20) picked.insert(static_cast<int>(rng() % 100));
    for (int i : picked) {
      Expect e;
      e.key = key_n(i);
      if (rng() % 5 == 0) {
        e.op = "delete";
      } else {
        e.op = "put";
        e.value = "r" + std::to_string(round) + "-" + std::to_string(rng() % 1000) + std::string(rng() % 300, 'x');
      }
      json j = {{"op", e.op}, {"key", e.key}};
      if (e.op == "put") j["value"] = e.value;
      body += j.dump() + "\n";
      lines.push_back(e);
    }
    HttpResult b = wc.post("/v1/batch", body);
    ASSERT_EQ(b.status, 200) << b.describe();
    const uint64_t last = parse_json(b.body).value("last_seq", uint64_t{0});
    ASSERT_GT(last, 0u) << b.body;
    for (Expect& e : lines) {
      e.batch_last = last;
      if (e.op == "put") model[e.key] = e.value;
      else model.erase(e.key);
      expected.push_back(e);
    }
    for (int i = 0; i < 3; i++) {
      Expect e;
      e.key = key_n(static_cast<int>(rng() % 100));
      HttpResult s;
      if (i == 2) {
        e.op = "delete";
        s = wc.del(kv_path(e.key));
        model.erase(e.key);
      } else {
        e.op = "put";
        e.value = "single-" + std::to_string(round) + "-" + std::to_string(i);
        s = wc.put(kv_path(e.key), e.value);
        model[e.key] = e.value;
      }
      ASSERT_EQ(s.status, 200) << s.describe();
      e.seq = seq_of(s);
      expected.push_back(e);
    }
    HttpResult f = wc.post("/v1/flush");
    ASSERT_EQ(f.status, 200) << f.describe();
  }
  ASSERT_NO_FATAL_FAILURE(expect_reads(rc, model, all_keys, "after the writes"));
  const int before = l0_count(rc);
  ASSERT_GE(before, 2) << "five flushed rounds should leave several L0 SSTs";

  // 2. compactord: L0 shrinks, reads stay equal to the model.
  HttpResult run = cc.post("/v1/run");
  EXPECT_EQ(run.status, 200) << "compactord /v1/run: " << run.describe();
  int after = before;
  EXPECT_TRUE(eventually([&] {
    rc.post("/v1/refresh");
    after = l0_count(rc);
    return after >= 0 && after < before;
  }, 20s, 100ms)) << "L0 count before " << before << ", after " << after << "; run answered " << run.describe();
  ASSERT_NO_FATAL_FAILURE(expect_reads(rc, model, all_keys, "after compaction"));

  // The feed has caught up with every write so far, in order.
  const uint64_t phase1_last = std::max(expected.back().seq, expected.back().batch_last);
  EXPECT_TRUE(eventually([&] { return feed.last_seq() >= phase1_last; }, 20s))
      << "tailerd delivered up to seq " << feed.last_seq() << " of " << phase1_last << "; " << feed.problem();

  // 3. retentiond (by age, 2 s): everything written so far ages out, a
  // young batch written now stays.
  std::this_thread::sleep_for(2500ms);
  {
    std::string body;
    Model young;
    for (int i = 0; i < 10; i++) {
      Expect e{0, 0, "put", "n/" + std::to_string(i), "young" + std::to_string(i)};
      json j = {{"op", "put"}, {"key", e.key}, {"value", e.value}};
      body += j.dump() + "\n";
      young[e.key] = e.value;
      expected.push_back(e);
    }
    HttpResult b = wc.post("/v1/batch", body);
    ASSERT_EQ(b.status, 200) << b.describe();
    const uint64_t last = parse_json(b.body).value("last_seq", uint64_t{0});
    for (size_t i = expected.size() - 10; i < expected.size(); i++) expected[i].batch_last = last;
    ASSERT_EQ(wc.post("/v1/flush").status, 200);
    HttpResult rr = tc.post("/v1/run");
    ASSERT_EQ(rr.status, 200) << "retentiond /v1/run: " << rr.describe();
    model = young;
    for (int i = 0; i < 10; i++) all_keys.push_back("n/" + std::to_string(i));
  }
  ASSERT_NO_FATAL_FAILURE(expect_reads(rc, model, all_keys, "after retention"));

  // 4. kill -9 of writerd mid-stream; a restarted writerd continues the
  // sequence and every acknowledged write is readable.
  std::vector<std::pair<Expect, bool>> k9;  // write, acknowledged
  {
    std::atomic<bool> stop{false};
    std::atomic<int> acks{0};
    std::mutex mu;
    std::thread load([&] {
      HttpClient lc(w.address());
      for (int i = 0; !stop; i++) {
        Expect e{0, 0, "put", "k9/" + std::to_string(i), "v" + std::to_string(i)};
        HttpResult p = lc.request("PUT", kv_path(e.key), e.value, {}, 30s);
        std::lock_guard lk(mu);
        if (p.status == 0) {  // the process is gone: this write may have committed
          k9.emplace_back(e, false);
          break;
        }
        if (p.status == 200) {
          e.seq = json::parse(p.body, nullptr, false).value("seq", uint64_t{0});
          k9.emplace_back(e, true);
          acks++;
        } else {
          k9.emplace_back(e, false);
        }
      }
    });
    const bool acked = eventually([&] { return acks.load() >= 20; }, 30s);
    w.kill();
    std::optional<int> code = w.wait_exit(10s);
    stop = true;
    load.join();
    ASSERT_TRUE(acked) << "writerd is not acknowledging writes";
    ASSERT_TRUE(code.has_value());
    EXPECT_EQ(*code, 128 + SIGKILL);
  }
  uint64_t max_acked = 0;
  std::vector<std::string> unacked;
  for (auto& [e, ok] : k9) {
    all_keys.push_back(e.key);
    if (!ok) {
      unacked.push_back(e.key);
      continue;
    }
    EXPECT_GT(e.seq, 0u) << e.key;
    max_acked = std::max(max_acked, e.seq);
    model[e.key] = e.value;
    expected.push_back(e);
  }
  ASSERT_TRUE(w.start(60s)) << "writerd did not restart on the RGW bucket";
  // A write whose answer the kill cut off may have committed: if it did,
  // with the value it was sent.
  if (!unacked.empty()) {
    ASSERT_EQ(rc.post("/v1/refresh").status, 200);
    auto vals = mget(rc, unacked);
    ASSERT_EQ(vals.size(), unacked.size());
    for (size_t i = 0; i < unacked.size(); i++) {
      if (!vals[i]) continue;
      const std::string sent = "v" + unacked[i].substr(3);
      EXPECT_EQ(*vals[i], sent) << unacked[i];
      model[unacked[i]] = sent;
    }
  }
  HttpClient wc2 = w.client();
  Expect last{0, 0, "put", "k9/after", "after"};
  last.seq = seq_of(wc2.put(kv_path(last.key), last.value));
  EXPECT_GT(last.seq, max_acked) << "seqs must keep increasing across kill -9";
  model[last.key] = last.value;
  all_keys.push_back(last.key);
  expected.push_back(last);
  ASSERT_NO_FATAL_FAILURE(expect_reads(rc, model, all_keys, "after kill -9 and restart"));

  // 5. The feed: every acknowledged write, in order; the only extras are
  // k9/ writes that committed although the kill cut their answer off.
  EXPECT_TRUE(eventually([&] { return feed.last_seq() >= last.seq; }, 20s))
      << "tailerd delivered up to seq " << feed.last_seq() << " of " << last.seq << "; " << feed.problem();
  feed.stop();
  EXPECT_EQ(feed.problem(), "");
  expect_feed(feed.events(), expected, [](const std::string& k) { return k.rfind("k9/", 0) == 0; });
  std::printf("s3 end to end: %zu acknowledged writes, %zu feed events, L0 %d -> %d, %zu k9 writes acknowledged\n",
              expected.size(), feed.events().size(), before, after,
              static_cast<size_t>(std::count_if(k9.begin(), k9.end(), [](auto& p) { return p.second; })));
}

TEST_F(S3EndToEnd, WriterdWithAWrongSecretExitsAtOnceNamingTheVariable) {
  const std::string kWrong = "isle-wrong-secret-8c1f";
  const std::string config = dir() + "/wrong-secret.yaml";
  {
    std::ofstream out(config);
    out << isle::testing::settings_to_yaml(
        {{"store.url", url_}, {"server.listen", "127.0.0.1:0"}, {"log.level", "info"}});
  }
  const auto t0 = Clock::now();
  // One process, the right key id and a wrong secret (env(1) replaces just that).
  ProgramRun run = isle::testing::run_capture(
      "/usr/bin/env", {"AWS_SECRET_ACCESS_KEY=" + kWrong, isle::testing::built_program("writerd"), "--config", config},
      dir(), 60s);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  EXPECT_EQ(run.exit_code, 78) << "a store that refuses the credentials is a configuration error (EX_CONFIG)\n"
                               << run.output;
  EXPECT_NE(run.output.find("AWS_SECRET_ACCESS_KEY"), std::string::npos)
      << "the log must name the variable to fix:\n" << run.output;
  EXPECT_EQ(run.output.find(kWrong), std::string::npos) << "the log shows the secret:\n" << run.output;
  EXPECT_LT(ms, 10'000) << "writerd took " << ms << " ms to give up (a retry storm?)\n" << run.output;
  std::printf("writerd with a wrong secret: exit %d after %lld ms:\n%s\n", run.exit_code,
              static_cast<long long>(ms), run.output.c_str());
}

}  // namespace
}  // namespace isle::daemontest
