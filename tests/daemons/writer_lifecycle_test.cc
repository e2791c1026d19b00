// writerd's life and death: a second writerd fences the first (exit 75,
// 503s and never a false 200, every acknowledged write readable, seqs
// increasing across the takeover); SIGTERM commits buffered writes and
// exits 0 — or, with the store down, gives up after
// writer.shutdown_timeout, logs the seqs not committed and exits 1; kill -9
// loses no acknowledged durable write and a restarted writerd keeps seqs
// increasing.
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "daemons/daemon_test.h"

namespace isle::daemontest {
namespace {

struct Ack {
  std::string key;
  std::string value;
  uint64_t seq;
};

// Writes durable PUTs to one writerd from a thread until stopped or the
// daemon is gone, recording every answer.
class WriteLoad {
 public:
  WriteLoad(std::string address, std::string prefix) : address_(std::move(address)), prefix_(std::move(prefix)) {
    thread_ = std::thread([this] { run(); });
  }
  ~WriteLoad() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::vector<Ack> acks() const {
    std::lock_guard lk(mu_);
    return acks_;
  }
  size_t ack_count() const {
    std::lock_guard lk(mu_);
    return acks_.size();
  }
  int status_count(int status) const {
    std::lock_guard lk(mu_);
    auto it = statuses_.find(status);
    return it == statuses_.end() ? 0 : it->second;
  }
  std::string unexpected() const {
    std::lock_guard lk(mu_);
    return unexpected_;
  }
  // Whether the daemon stopped answering (connection refused / reset).
  bool gone() const { return gone_; }

 private:
  void run() {
    HttpClient c(address_);
    for (int i = 0; !stop_; i++) {
      std::string key = prefix_ + std::to_string(i);
      std::string value = "v" + std::to_string(i);
      HttpResult r = c.request("PUT", kv_path(key), value, {}, std::chrono::seconds(30));
      std::lock_guard lk(mu_);
      statuses_[r.status]++;
      if (r.status == 200) {
        try {
          acks_.push_back({key, value, json::parse(r.body).at("seq").get<uint64_t>()});
        } catch (const std::exception&) {
          if (unexpected_.empty()) unexpected_ = "200 without a seq: " + r.body;
        }
      } else if (r.status == 503) {
        if (!IsJsonError(r, 503) && unexpected_.empty()) unexpected_ = "503 without the JSON error body: " + r.body;
      } else if (r.status == 0) {
        gone_ = true;
        // Refused once the process is gone: nothing more to learn.
        if (r.error.find("refused") != std::string::npos) return;
      } else if (unexpected_.empty()) {
        unexpected_ = "PUT " + key + " answered " + r.describe();
      }
    }
  }

  std::string address_;
  std::string prefix_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> gone_{false};
  mutable std::mutex mu_;
  std::vector<Ack> acks_;
  std::map<int, int> statuses_;
  std::string unexpected_;
};

// Every acknowledged write is readable with its value through a fresh
// readerd (the newest value wins for a key written twice).
void expect_readable(HttpClient& reader, const std::vector<Ack>& acks, const std::string& what) {
  std::map<std::string, Ack> newest;
  for (const Ack& a : acks) {
    auto it = newest.find(a.key);
    if (it == newest.end() || it->second.seq < a.seq) newest[a.key] = a;
  }
  std::vector<std::string> keys;
  for (auto& [k, a] : newest) keys.push_back(k);
  bool ok = false;
  auto got = mget(reader, keys, &ok);
  ASSERT_TRUE(ok);
  int missing = 0;
  std::string first;
  for (size_t i = 0; i < keys.size(); i++) {
    if (got[i] != std::optional<std::string>(newest[keys[i]].value)) {
      if (missing++ == 0) {
        first = keys[i] + " (seq " + std::to_string(newest[keys[i]].seq) + ") reads " +
                (got[i] ? show(*got[i]) : std::string("as absent"));
      }
    }
  }
  EXPECT_EQ(missing, 0) << what << ": " << missing << " of " << keys.size()
                        << " acknowledged writes are not readable; first: " << first;
}

TEST_F(DaemonTest, ASecondWriterdFencesTheFirst) {
  DaemonProcess& a = add("writerd", {{"writer.owner", "writer-a"}});
  ASSERT_TRUE(a.start());
  HttpClient ac = a.client();
  uint64_t epoch_a = status_number(ac, "epoch");

  WriteLoad load_a(a.address(), "fa/");
  ASSERT_TRUE(eventually([&] { return load_a.ack_count() >= 20; }, 20s)) << "writerd A is not acknowledging writes";

  DaemonProcess& b = add("writerd", {{"writer.owner", "writer-b"}});
  ASSERT_TRUE(b.start(60s));
  auto b_ready = Clock::now();
  HttpClient bc = b.client();
  uint64_t epoch_b = status_number(bc, "epoch");
  EXPECT_GT(epoch_b, epoch_a) << "the takeover must raise the writer epoch";
  HttpResult sb = bc.get("/v1/status");
  EXPECT_EQ(parse_json(sb.body).value("owner", ""), "writer-b") << sb.body;

  std::vector<Ack> acks_b;
  for (int i = 0; i < 20; i++) {
    std::string k = "fb/" + std::to_string(i);
    HttpResult r = bc.put(kv_path(k), "w" + std::to_string(i));
    ASSERT_EQ(r.status, 200) << "writerd B: " << r.describe();
    acks_b.push_back({k, "w" + std::to_string(i), seq_of(r)});
  }

  // A learns of the fence (its writes fail) and exits 75 within 30 s.
  std::optional<int> code = a.wait_exit(30s - std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - b_ready));
  load_a.stop();
  ASSERT_TRUE(code.has_value()) << "the fenced writerd did not exit within 30 s of the takeover\n" << a.log(8192);
  EXPECT_EQ(*code, 75) << "a fenced writerd exits 75\n" << a.log(8192);
  EXPECT_EQ(load_a.unexpected(), "") << "writerd A answered something other than 200/503";
  RecordProperty("a_acks", static_cast<int>(load_a.ack_count()));
  RecordProperty("a_503s", load_a.status_count(503));

  // Seqs keep increasing across the takeover.
  std::vector<Ack> acks_a = load_a.acks();
  uint64_t max_a = 0;
  for (const Ack& x : acks_a) max_a = std::max(max_a, x.seq);
  for (const Ack& x : acks_b) EXPECT_GT(x.seq, max_a) << x.key;

  // No false 200: every write either writer acknowledged is readable.
  DaemonProcess& r = add("readerd");
  ASSERT_TRUE(r.start());
  HttpClient rc = r.client();
  expect_readable(rc, acks_a, "acknowledged by the fenced writerd");
  expect_readable(rc, acks_b, "acknowledged by the new writerd");
  // B still serves.
  EXPECT_EQ(bc.put(kv_path("fb/last"), "x").status, 200);
}

TEST_F(DaemonTest, SigtermCommitsBufferedWritesAndExitsZero) {
  DaemonProcess& w = add("writerd", {{"writer.flush_interval", "1h"}});
  ASSERT_TRUE(w.start());
  HttpClient wc = w.client();
  Model model;
  uint64_t last = 0;
  for (int i = 0; i < 20; i++) {
    std::string k = "t/" + std::to_string(i);
    auto t0 = Clock::now();
    HttpResult r = wc.request("PUT", kv_path(k, "durable=false"), "v" + std::to_string(i), {}, 5s);
    ASSERT_EQ(r.status, 200) << "PUT durable=false must answer without waiting for the 1h flush: "
                             << r.describe();
    EXPECT_LT(Clock::now() - t0, 2s);
    uint64_t s = seq_of(r);
    EXPECT_GT(s, last);
    last = s;
    model[k] = "v" + std::to_string(i);
  }
  HttpResult d = wc.request("DELETE", kv_path("t/3", "durable=false"), {}, {}, 5s);
  ASSERT_EQ(d.status, 200) << d.describe();
  model.erase("t/3");
  std::string batch = R"({"op":"put","key":"t/b1","value":"b1"})" "\n" R"({"op":"delete","key":"t/4"})" "\n";
  HttpResult b = wc.request("POST", "/v1/batch?durable=false", batch, {}, 5s);
  ASSERT_EQ(b.status, 200) << b.describe();
  model["t/b1"] = "b1";
  model.erase("t/4");
  last = std::max(last, parse_json(b.body).value("last_seq", uint64_t{0}));

  // They are buffered, not committed: a reader does not see them yet (else
  // this test would not exercise the shutdown flush).
  DaemonProcess& r = add("readerd");
  ASSERT_TRUE(r.start());
  HttpClient rc = r.client();
  ASSERT_EQ(rc.post("/v1/refresh").status, 200);
  EXPECT_TRUE(scan(rc, "prefix=t%2F").empty()) << "durable=false writes were committed before SIGTERM "
                                                  "although writer.flush_interval is 1h";

  auto t0 = Clock::now();
  w.terminate();
  std::optional<int> code = w.wait_exit(20s);
  ASSERT_TRUE(code.has_value()) << "writerd did not exit within 20 s of SIGTERM\n" << w.log(8192);
  EXPECT_EQ(*code, 0) << w.log(8192);
  RecordProperty("sigterm_exit_ms",
                 static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count()));

  ASSERT_EQ(rc.post("/v1/refresh").status, 200);
  KVs got = scan(rc, "prefix=t%2F");
  EXPECT_EQ(got, as_kvs(model)) << "buffered writes lost on SIGTERM: " << diff(as_kvs(model), got);

  // The next writerd continues the sequence.
  ASSERT_TRUE(w.start());
  HttpClient wc2 = w.client();
  EXPECT_GT(seq_of(wc2.put(kv_path("t/next"), "n")), last);
}

TEST_F(DaemonTest, SigtermWithTheStoreDownExitsOneAtTheShutdownTimeout) {
  DaemonProcess& w = add("writerd", {{"writer.flush_interval", "1h"},
                                     {"writer.shutdown_timeout", "2s"}});
  ASSERT_TRUE(w.start());
  expect_dead(w);  // it is meant to exit non-zero; TearDown kills it if it hangs
  HttpClient wc = w.client();
  uint64_t first = 0, last = 0;
  for (int i = 0; i < 5; i++) {
    HttpResult r = wc.request("PUT", kv_path("down/" + std::to_string(i), "durable=false"), "v", {}, 5s);
    ASSERT_EQ(r.status, 200) << r.describe();
    last = seq_of(r);
    if (i == 0) first = last;
  }
  // The store goes away: the bucket folder is replaced by a plain file, so
  // every request of the file store fails (this works as root too, where
  // permissions would not).
  const std::string bucket = dir() + "/bucket";
  ASSERT_EQ(::rename(bucket.c_str(), (bucket + ".away").c_str()), 0);
  { std::ofstream(bucket) << "not a folder"; }

  auto t0 = Clock::now();
  w.terminate();
  std::optional<int> code = w.wait_exit(20s);
  auto took = Clock::now() - t0;
  ASSERT_TRUE(code.has_value()) << "writerd did not exit within 20 s of SIGTERM although "
                                   "writer.shutdown_timeout is 2s and the store is down\n"
                                << w.log(8192);
  EXPECT_EQ(*code, 1) << "buffered writes were not committed: the exit must say so\n" << w.log(8192);
  EXPECT_GE(took, 2s);
  EXPECT_LT(took, 15s);
  const std::string range = "seqs " + std::to_string(first) + ".." + std::to_string(last);
  EXPECT_NE(w.log().find(range + " not committed"), std::string::npos)
      << "the log must name the lost range (" << range << ")\n" << w.log(8192);

  // Nothing it did not commit is visible once the store is back.
  std::filesystem::remove(bucket);
  ASSERT_EQ(::rename((bucket + ".away").c_str(), bucket.c_str()), 0);
  DaemonProcess& r = add("readerd");
  ASSERT_TRUE(r.start());
  HttpClient rc = r.client();
  EXPECT_TRUE(scan(rc, "prefix=down%2F").empty());
}

TEST_F(DaemonTest, KillNineLosesNoAcknowledgedDurableWrite) {
  DaemonProcess& w = add("writerd");
  ASSERT_TRUE(w.start());
  std::vector<Ack> acks;
  {
    WriteLoad load(w.address(), "k9/");
    ASSERT_TRUE(eventually([&] { return load.ack_count() >= 40; }, 30s)) << "writerd is not acknowledging writes";
    w.kill();  // mid-stream: requests are in flight
    std::optional<int> code = w.wait_exit(10s);
    ASSERT_TRUE(code.has_value());
    EXPECT_EQ(*code, 128 + SIGKILL);
    load.stop();
    EXPECT_EQ(load.unexpected(), "");
    acks = load.acks();
  }
  uint64_t max_seq = 0;
  for (const Ack& a : acks) max_seq = std::max(max_seq, a.seq);

  // A new writerd takes over the bucket and continues the sequence.
  ASSERT_TRUE(w.start(60s));
  HttpClient wc = w.client();
  uint64_t next = seq_of(wc.put(kv_path("k9/after"), "after"));
  EXPECT_GT(next, max_seq) << "seqs must keep increasing across kill -9";

  DaemonProcess& r = add("readerd");
  ASSERT_TRUE(r.start());
  HttpClient rc = r.client();
  expect_readable(rc, acks, "acknowledged before kill -9");
  EXPECT_EQ(rc.get(kv_path("k9/after")).body, "after");

  // And once more, with no traffic at the moment of the kill.
  w.kill();
  ASSERT_TRUE(w.wait_exit(10s).has_value());
  ASSERT_TRUE(w.start(60s));
  HttpClient wc3 = w.client();
  EXPECT_GT(seq_of(wc3.put(kv_path("k9/third"), "3")), next);
  ASSERT_EQ(rc.post("/v1/refresh").status, 200);
  EXPECT_EQ(rc.get(kv_path("k9/after")).body, "after");
  EXPECT_EQ(rc.get(kv_path("k9/third")).body, "3");
}

}  // namespace
}  // namespace isle::daemontest
