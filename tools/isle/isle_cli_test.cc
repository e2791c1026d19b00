// Tests of the `isle` command-line tool: each runs the built binary as a
// subprocess against a file:// bucket in a fresh temp folder and checks its
// stdout, stderr and exit code (the contract docs/cli.md documents).
//
// Run() spawns the binary with stdout and stderr redirected to files (so
// binary output and any argument bytes pass through untouched) and with
// ISLE_STORE / ISLE_PREFIX removed from the environment, so only the flags
// each test gives count.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "testutil/testutil.h"
#include "isle/db.h"
#include "isle/object_store.h"
#include "util/base64.h"
#include "util/hash.h"

extern char** environ;

namespace isle {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Output {
  int code = -1;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The environment without ISLE_STORE / ISLE_PREFIX.
std::vector<std::string> clean_env() {
  std::vector<std::string> env;
  for (char** e = environ; *e; e++) {
    std::string v(*e);
    if (v.rfind("ISLE_STORE=", 0) == 0 || v.rfind("ISLE_PREFIX=", 0) == 0) continue;
    env.push_back(v);
  }
  return env;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bin_ = testing::built_program("isle");
    store_ = "file://" + dir_.path() + "/bucket";
  }

  // Starts `isle args...` (stdin from `stdin_file` or /dev/null); output
  // goes to files named by `tag`. Returns the pid.
  pid_t start(const std::vector<std::string>& args, const std::string& tag,
              const std::string& stdin_file = "/dev/null") {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, stdin_file.c_str(), O_RDONLY, 0);
    const std::string out = out_path(tag), err = err_path(tag);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<char*> argv;
    argv.push_back(bin_.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env = clean_env();
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, bin_.c_str(), &fa, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    EXPECT_EQ(rc, 0) << "spawn " << bin_;
    return pid;
  }

  Output wait(pid_t pid, const std::string& tag) {
    Output o;
    int status = 0;
    if (waitpid(pid, &status, 0) == pid && WIFEXITED(status)) o.code = WEXITSTATUS(status);
    o.out = slurp(out_path(tag));
    o.err = slurp(err_path(tag));
    return o;
  }

  // `isle --store <bucket> --prefix db1 args...`
  Output isle(std::vector<std::string> args, const std::string& stdin_file = "/dev/null") {
    args.insert(args.begin(), {"--store", store_, "--prefix", "db1"});
    return raw(args, stdin_file);
  }
  // `isle args...` with nothing added.
  Output raw(const std::vector<std::string>& args, const std::string& stdin_file = "/dev/null") {
    const std::string tag = "run" + std::to_string(runs_++);
    return wait(start(args, tag, stdin_file), tag);
  }

  std::string out_path(const std::string& tag) const { return dir_.path() + "/" + tag + ".out"; }
  std::string err_path(const std::string& tag) const { return dir_.path() + "/" + tag + ".err"; }
  std::string bucket() const { return dir_.path() + "/bucket"; }

  void put(const std::string& k, const std::string& v) {
    Output o = isle({"-q", "put", k, v});
    ASSERT_EQ(o.code, 0) << o.err;
  }

  // Lines of NDJSON as JSON values.
  static std::vector<json> ndjson(const std::string& text) {
    std::vector<json> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
    return out;
  }
  // The key of an NDJSON object, decoding key_b64.
  static std::string key_of(const json& j) {
    if (j.contains("key")) return j["key"].get<std::string>();
    return base64_decode(j["key_b64"].get<std::string>()).value_or("<bad b64>");
  }

  // Every live SST id, from `manifest show`.
  std::vector<std::string> live_ssts() {
    Output o = isle({"manifest", "show"});
    EXPECT_EQ(o.code, 0) << o.err;
    json m = json::parse(o.out);
    std::vector<std::string> ids;
    for (const auto& s : m["l0"]) ids.push_back(s["id"]);
    for (const auto& r : m["runs"]) {
      for (const auto& s : r) ids.push_back(s["id"]);
    }
    return ids;
  }

  // Regular files under the bucket (the store's own .isle* folders
  // excluded) with their sizes.
  std::map<std::string, uintmax_t> files() const {
    std::map<std::string, uintmax_t> out;
    for (const auto& e : fs::recursive_directory_iterator(bucket())) {
      std::string rel = fs::relative(e.path(), bucket()).string();
      if (rel.rfind(".isle", 0) == 0 || !e.is_regular_file()) continue;
      out[rel] = e.file_size();
    }
    return out;
  }

  testing::TempDir dir_;
  std::string bin_;
  std::string store_;
  int runs_ = 0;
};

TEST_F(CliTest, PutGetDelRoundtrip) {
  Output p = isle({"put", "greeting", "hello world"});
  ASSERT_EQ(p.code, 0) << p.err;
  EXPECT_GT(std::stoull(p.out), 0u) << p.out;
  EXPECT_NE(p.err.find("fence"), std::string::npos) << "put must warn that it fences: " << p.err;

  Output g = isle({"get", "greeting"});
  ASSERT_EQ(g.code, 0) << g.err;
  EXPECT_EQ(g.out, "hello world");
  g = isle({"get", "greeting", "--hex"});
  EXPECT_EQ(g.out, "68656c6c6f20776f726c64\n");
  g = isle({"--json", "get", "greeting"});
  EXPECT_EQ(json::parse(g.out), json({{"key", "greeting"}, {"value", "hello world"}}));

  Output d = isle({"--json", "del", "greeting"});
  ASSERT_EQ(d.code, 0) << d.err;
  EXPECT_GT(json::parse(d.out)["seq"].get<uint64_t>(), std::stoull(p.out));
  g = isle({"get", "greeting"});
  EXPECT_EQ(g.code, 3);
  EXPECT_EQ(g.out, "");

  Output f = isle({"--json", "flush"});
  ASSERT_EQ(f.code, 0) << f.err;
  EXPECT_EQ(json::parse(f.out)["epoch"], 3);  // put, del, flush: the third writer
}

TEST_F(CliTest, GetMissingKeyExits3) {
  Output g = isle({"get", "nope"});  // an empty bucket is an empty database
  EXPECT_EQ(g.code, 3) << g.err;
  put("a", "1");
  g = isle({"get", "nope"});
  EXPECT_EQ(g.code, 3) << g.err;
  EXPECT_NE(g.err.find("not found"), std::string::npos);
}

TEST_F(CliTest, PutFromFileStdinAndTtl) {
  std::string bytes("bin\0ary\xff\n", 9);
  const std::string file = dir_.path() + "/value.bin";
  std::ofstream(file, std::ios::binary) << bytes;
  ASSERT_EQ(isle({"put", "f", "--value-file", file}).code, 0);
  EXPECT_EQ(isle({"get", "f"}).out, bytes);
  ASSERT_EQ(isle({"put", "s", "--value-file", "-"}, file).code, 0);
  EXPECT_EQ(isle({"get", "s"}).out, bytes);

  ASSERT_EQ(isle({"put", "t", "v", "--ttl", "1h"}).code, 0);
  Output tail = isle({"tail", "--after-seq", "0", "--key-prefix", "t"});
  ASSERT_EQ(tail.code, 0) << tail.err;
  auto ev = ndjson(tail.out);
  ASSERT_EQ(ev.size(), 1u) << tail.out;
  EXPECT_GT(ev[0]["expires_at"].get<int64_t>(), 0);

  EXPECT_EQ(isle({"put", "x", "v", "--ttl", "soon"}).code, 2);
  EXPECT_EQ(isle({"put", "x"}).code, 2) << "no value";
  EXPECT_EQ(isle({"put", "x", "v", "--value-file", file}).code, 2) << "two values";
}

TEST_F(CliTest, ScanFiltersAndBinaryKeys) {
  for (const char* k : {"a/1", "a/2", "a/3", "b/1", "c"}) put(k, std::string("v-") + k);
  ASSERT_EQ(isle({"-q", "put", "--key-hex", "ff01", "binary"}).code, 0);
  ASSERT_EQ(isle({"-q", "put", "utf", "\xff\xfe"}).code, 0);

  Output s = isle({"scan"});
  ASSERT_EQ(s.code, 0) << s.err;
  auto rows = ndjson(s.out);
  std::vector<std::string> keys;
  for (const auto& r : rows) keys.push_back(key_of(r));
  EXPECT_EQ(keys, (std::vector<std::string>{"a/1", "a/2", "a/3", "b/1", "c", "utf", "\xff\x01"}));
  EXPECT_TRUE(rows.back().contains("key_b64")) << rows.back();
  EXPECT_EQ(rows.back()["value"], "binary");
  EXPECT_EQ(base64_decode(rows[5]["value_b64"].get<std::string>()), std::string("\xff\xfe"));
  EXPECT_EQ(rows[0]["value"], "v-a/1");

  auto scan_keys = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "scan");
    Output o = isle(args);
    EXPECT_EQ(o.code, 0) << o.err;
    std::vector<std::string> ks;
    for (const auto& r : ndjson(o.out)) ks.push_back(key_of(r));
    return ks;
  };
  EXPECT_EQ(scan_keys({"--key-prefix", "a/"}), (std::vector<std::string>{"a/1", "a/2", "a/3"}));
  EXPECT_EQ(scan_keys({"--start", "a/2", "--end", "c"}), (std::vector<std::string>{"a/2", "a/3", "b/1"}));
  EXPECT_EQ(scan_keys({"--key-prefix", "a/", "--limit", "2"}), (std::vector<std::string>{"a/1", "a/2"}));
  EXPECT_EQ(scan_keys({"--key-prefix", "a/", "--start", "a/3", "--end", "zzz"}),
            (std::vector<std::string>{"a/3"}));
  EXPECT_EQ(scan_keys({"--key-hex", "--key-prefix", "ff"}), (std::vector<std::string>{"\xff\x01"}));
  EXPECT_TRUE(scan_keys({"--start", "x", "--end", "d"}).empty());

  Output tsv = isle({"scan", "--format", "tsv", "--start", "c"});
  EXPECT_EQ(tsv.out, "c\tv-c\nutf\t\\xff\\xfe\n\\xff\\x01\tbinary\n");
  EXPECT_EQ(isle({"scan", "--format", "xml"}).code, 2);
}

TEST_F(CliTest, TailWithoutFollowPrintsHistoryThenExits) {
  put("k1", "one");
  put("k2", "two");
  ASSERT_EQ(isle({"-q", "del", "k1"}).code, 0);
  Output t = isle({"tail", "--after-seq", "0"});
  ASSERT_EQ(t.code, 0) << t.err;
  auto ev = ndjson(t.out);
  ASSERT_EQ(ev.size(), 3u) << t.out;
  EXPECT_EQ(ev[0]["op"], "put");
  EXPECT_EQ(ev[0]["key"], "k1");
  EXPECT_EQ(ev[0]["value"], "one");
  EXPECT_EQ(ev[1]["key"], "k2");
  EXPECT_EQ(ev[2]["op"], "delete");
  EXPECT_EQ(ev[2]["key"], "k1");
  EXPECT_FALSE(ev[2].contains("value"));
  EXPECT_LT(ev[0]["seq"].get<uint64_t>(), ev[1]["seq"].get<uint64_t>());
  EXPECT_LT(ev[1]["seq"].get<uint64_t>(), ev[2]["seq"].get<uint64_t>());

  // Resume after the first event; filter by key; keys mode; limit.
  t = isle({"tail", "--after-seq", std::to_string(ev[0]["seq"].get<uint64_t>())});
  EXPECT_EQ(ndjson(t.out).size(), 2u) << t.out;
  t = isle({"tail", "--key-prefix", "k2"});
  ASSERT_EQ(ndjson(t.out).size(), 1u) << t.out;
  t = isle({"tail", "--limit", "1"});
  EXPECT_EQ(ndjson(t.out).size(), 1u) << t.out;
  t = isle({"tail", "--mode", "keys"});
  ASSERT_EQ(t.code, 0) << t.err;
  auto keys = ndjson(t.out);
  ASSERT_EQ(keys.size(), 1u) << t.out;  // k1 is deleted
  EXPECT_EQ(keys[0]["key"], "k2");
  EXPECT_EQ(keys[0]["seq"], ev[1]["seq"]);
  t = isle({"tail", "--after-seq", "999999999999"});
  EXPECT_EQ(t.code, 0);
  EXPECT_EQ(t.out, "");
  EXPECT_EQ(isle({"tail", "--mode", "keys", "--after-seq", "1"}).code, 2);
}

TEST_F(CliTest, TailFollowDeliversNewWritesAndEndsOnSigint) {
  Output p = isle({"-q", "put", "before", "0"});
  ASSERT_EQ(p.code, 0) << p.err;
  const std::string seq = p.out.substr(0, p.out.find('\n'));
  // Resume after "before" (not "now", which would race with the put below).
  pid_t pid = start({"--store", store_, "--prefix", "db1", "tail", "-f", "--after-seq", seq,
                     "--interval", "100ms"},
                    "follow");
  put("after", "1");
  bool seen = false;
  for (int i = 0; i < 300 && !seen; i++) {
    seen = slurp(out_path("follow")).find("\"after\"") != std::string::npos;
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(seen) << "the followed write never showed up";
  kill(pid, SIGINT);
  Output o = wait(pid, "follow");
  EXPECT_EQ(o.code, 0) << o.err;
  auto ev = ndjson(o.out);
  ASSERT_EQ(ev.size(), 1u) << o.out;
  EXPECT_EQ(ev[0]["key"], "after");
  EXPECT_EQ(ev[0]["value"], "1");
}

TEST_F(CliTest, TailOfCollectedHistoryExits4) {
  // k1's flush is too big to travel inline in its log entry (~200 KB of
  // barely compressible hex, under the blob threshold): it is an SST object.
  const std::string big_file = dir_.path() + "/big.txt";
  {
    std::ofstream f(big_file, std::ios::binary);
    for (int i = 0; i < 3200; i++) f << sha256_hex(std::to_string(i));
  }
  ASSERT_EQ(isle({"-q", "put", "k1", "--value-file", big_file}).code, 0);
  put("k2", "two");
  // What GC does to history older than the change retention, done by hand:
  // the L0 SST holding the first write disappears.
  auto ids = live_ssts();
  ASSERT_EQ(ids.size(), 2u);
  ASSERT_TRUE(fs::remove(bucket() + "/db1/sstable/" + ids[0] + ".sst"));
  Output t = isle({"tail", "--after-seq", "0"});
  EXPECT_EQ(t.code, 4) << t.out << t.err;
  EXPECT_NE(t.err.find("cursor"), std::string::npos) << t.err;
  // verify names it as missing.
  Output v = isle({"verify"});
  EXPECT_EQ(v.code, 5);
  EXPECT_NE(v.out.find("missing: sstable/" + ids[0] + ".sst"), std::string::npos) << v.out;
}

TEST_F(CliTest, InlineFlushesAreShownDumpedAndVerifiedFromTheManifest) {
  // A writer that committed a flush inline (its SST inside the log entry)
  // and crashed before materializing it: no sstable/ object exists.
  {
    auto store = open_object_store(store_);
    ASSERT_TRUE(store.ok()) << store.status().to_string();
    DBOptions dbo;
    dbo.prefix = "db1";
    auto db = DB::open(*store, dbo);
    ASSERT_TRUE(db.ok()) << db.status().to_string();
    WriterOptions wo;
    wo.flush_interval = std::chrono::hours(1);
    wo.inline_max_lag = std::chrono::hours(1);
    auto w = db->open_writer(wo);
    ASSERT_TRUE(w.ok()) << w.status().to_string();
    ASSERT_TRUE((*w)->put("p", "pending").ok());
    ASSERT_TRUE((*w)->flush().ok());
    ASSERT_EQ((*w)->stats().inline_flushes, 1u);
    (*w)->simulate_crash();
  }
  Output o = isle({"manifest", "show"});
  ASSERT_EQ(o.code, 0) << o.err;
  json m = json::parse(o.out);
  EXPECT_EQ(m["l0"].size(), 0u) << o.out;
  ASSERT_TRUE(m.contains("inline")) << o.out;
  ASSERT_EQ(m["inline"].size(), 1u) << o.out;
  EXPECT_EQ(m["inline"][0]["inline"], true);
  EXPECT_EQ(m["inline"][0]["entries"], 1);
  EXPECT_EQ(m["inline_ssts"], 1);
  EXPECT_EQ(m["inline_bytes"], m["inline"][0]["size_bytes"]);
  EXPECT_EQ(m["live_ssts"], 0) << "live_ssts counts SST objects";
  const std::string id = m["inline"][0]["id"];
  EXPECT_FALSE(fs::exists(bucket() + "/db1/sstable/" + id + ".sst"));

  // sst dump reads the bytes from the manifest.
  o = isle({"sst", "dump", id, "--entries"});
  ASSERT_EQ(o.code, 0) << o.out << o.err;
  json d = json::parse(o.out);
  EXPECT_EQ(d["inline"], true);
  EXPECT_TRUE(d["object"].is_null());
  EXPECT_EQ(d["manifest"]["sha256_matches"], true);
  ASSERT_EQ(d["entries"].size(), 1u);
  EXPECT_EQ(d["entries"][0]["value"], "pending");

  // verify checks it from the same bytes, without a GET of an object.
  Output v = isle({"--json", "verify"});
  EXPECT_EQ(v.code, 0) << v.out << v.err;
  json j = json::parse(v.out);
  EXPECT_EQ(j["ok"], true) << v.out;
  EXPECT_EQ(j["ssts"], 1);
  EXPECT_EQ(j["inline_ssts"], 1);
  v = isle({"verify"});
  EXPECT_EQ(v.code, 0) << v.out << v.err;
  EXPECT_NE(v.out.find("1 SSTs, 1 of them inline"), std::string::npos) << v.out;
}

TEST_F(CliTest, FencedWriterExits75) {
  // A long durable bench holds the writer fence...
  pid_t pid = start({"--store", store_, "--prefix", "db1", "--json", "bench", "--durable", "--ops",
                     "100000000", "--key-prefix", "b/"},
                    "bench");
  bool running = false;
  for (int i = 0; i < 300 && !running; i++) {
    Output m = isle({"manifest", "show"});
    if (m.code == 0) {
      std::string owner = json::parse(m.out)["fences"]["writer"]["owner"];
      running = owner.rfind("isle-bench:", 0) == 0 && !json::parse(m.out)["l0"].empty();
    }
    if (!running) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(running) << "the bench never committed";
  // ...until a put takes it over: the bench is fenced and exits 75.
  Output p = isle({"put", "x", "y"});
  EXPECT_EQ(p.code, 0) << p.err;
  Output b;
  for (int i = 0; i < 300; i++) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      b.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      pid = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (pid > 0) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    FAIL() << "the fenced bench did not exit";
  }
  EXPECT_EQ(b.code, 75) << slurp(err_path("bench"));
  EXPECT_NE(slurp(err_path("bench")).find("fenced"), std::string::npos);
  EXPECT_EQ(isle({"get", "x"}).out, "y");
}

TEST_F(CliTest, ManifestShowIsJsonWithL0) {
  put("a", "1");
  put("b", "2");
  Output o = isle({"manifest", "show"});
  ASSERT_EQ(o.code, 0) << o.err;
  json m = json::parse(o.out);
  ASSERT_TRUE(m["l0"].is_array());
  ASSERT_EQ(m["l0"].size(), 2u) << o.out;  // one flush per put
  EXPECT_TRUE(m["runs"].is_array());
  EXPECT_EQ(m["prefix"], "db1");
  const json& s = m["l0"][1];
  EXPECT_EQ(s["min_key"], "b");
  EXPECT_EQ(s["entries"], 1);
  EXPECT_EQ(s["sha256"].get<std::string>().size(), 64u);
  EXPECT_GE(m["fences"]["writer"]["epoch"].get<uint64_t>(), 2u);  // two writers opened
  EXPECT_EQ(m["live_ssts"], 2);
  EXPECT_EQ(m["last_seq"].get<uint64_t>() >= s["seq_hi"].get<uint64_t>(), true);
  EXPECT_EQ(isle({"manifest"}).code, 2);
  EXPECT_EQ(isle({"manifest", "bogus"}).code, 2);
}

TEST_F(CliTest, SstDumpOfALiveSst) {
  put("a", "1");
  ASSERT_EQ(isle({"-q", "del", "a"}).code, 0);
  auto ids = live_ssts();
  ASSERT_EQ(ids.size(), 2u);
  Output o = isle({"sst", "dump", ids[1], "--entries", "--blocks"});
  ASSERT_EQ(o.code, 0) << o.err;
  json d = json::parse(o.out);
  EXPECT_EQ(d["id"], ids[1]);
  EXPECT_EQ(d["manifest"]["live"], true);
  EXPECT_EQ(d["manifest"]["sha256_matches"], true);
  EXPECT_EQ(d["properties"]["num_entries"], 1);
  EXPECT_EQ(d["properties"]["num_deletes"], 1);
  EXPECT_EQ(d["index"]["data_blocks"], 1);
  ASSERT_EQ(d["index"]["blocks"].size(), 1u);
  ASSERT_EQ(d["entries"].size(), 1u);
  EXPECT_EQ(d["entries"][0]["key"], "a");
  EXPECT_EQ(d["entries"][0]["kind"], "delete");
  EXPECT_GT(d["entries"][0]["seq"].get<uint64_t>(), 0u);

  // Without --entries; by object key; a raw local file; an unknown id.
  o = isle({"sst", "dump", "sstable/" + ids[0] + ".sst"});
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_FALSE(json::parse(o.out).contains("entries"));
  EXPECT_EQ(json::parse(o.out)["properties"]["num_puts"], 1);
  EXPECT_EQ(isle({"sst", "dump", "no-such-sst"}).code, 1);
  const std::string raw_file = dir_.path() + "/raw.sst";
  std::string file = slurp(bucket() + "/db1/sstable/" + ids[0] + ".sst");
  std::ofstream(raw_file, std::ios::binary) << file.substr(32);  // without the file-store header
  o = isle({"sst", "dump", "--file", raw_file, "--entries"});
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(json::parse(o.out)["entries"][0]["value"], "1");
}

TEST_F(CliTest, VerifyOkThenCorruptSstAndMissingBlob) {
  put("a", "1");
  put("b", "2");
  // A value over the blob threshold (256 KiB) goes to blobs/.
  const std::string big_file = dir_.path() + "/big.bin";
  std::ofstream(big_file, std::ios::binary) << std::string(300 << 10, 'x');
  ASSERT_EQ(isle({"-q", "put", "big", "--value-file", big_file}).code, 0);

  Output v = isle({"verify"});
  ASSERT_EQ(v.code, 0) << v.out << v.err;
  EXPECT_NE(v.out.find("3 SSTs, 1 blobs"), std::string::npos) << v.out;
  EXPECT_NE(v.out.find(": ok"), std::string::npos) << v.out;

  // Flip one payload byte of the first SST (after the 32-byte file-store
  // header: see docs/format/file-store.md).
  auto ids = live_ssts();
  ASSERT_EQ(ids.size(), 3u);
  const std::string path = bucket() + "/db1/sstable/" + ids[0] + ".sst";
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good()) << path;
    f.seekg(40);
    char c = 0;
    f.read(&c, 1);
    f.seekp(40);
    c = static_cast<char>(c ^ 0x5a);
    f.write(&c, 1);
  }
  v = isle({"verify", "-j", "1"});
  EXPECT_EQ(v.code, 5) << v.out << v.err;
  EXPECT_NE(v.out.find("corrupt: sstable/" + ids[0] + ".sst"), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("1 problem"), std::string::npos) << v.out;
  EXPECT_EQ(v.out.find(ids[1]), std::string::npos) << "only the corrupt SST is named: " << v.out;

  // Delete the blob too: both are listed (JSON form).
  bool removed = false;
  for (const auto& [rel, size] : files()) {
    if (rel.rfind("db1/blobs/", 0) == 0) removed = fs::remove(bucket() + "/" + rel);
  }
  ASSERT_TRUE(removed);
  v = isle({"--json", "verify"});
  EXPECT_EQ(v.code, 5);
  json j = json::parse(v.out);
  EXPECT_EQ(j["ok"], false);
  ASSERT_EQ(j["problems"].size(), 2u) << v.out;
  std::map<std::string, std::string> kinds;
  for (const auto& p : j["problems"]) kinds[p["kind"]] = p["object"];
  EXPECT_EQ(kinds["corrupt"], "sstable/" + ids[0] + ".sst");
  EXPECT_EQ(kinds["missing"].rfind("blobs/", 0), 0u) << v.out;
}

TEST_F(CliTest, GcDryRunDeletesNothing) {
  put("a", "1");
  put("b", "2");
  // An unreferenced blob, last written two hours ago: GC deletes it once
  // it is older than the grace.
  const std::string h = sha256_hex("orphan");
  const std::string blob = "blobs/" + h.substr(0, 2) + "/" + h + ".blob";
  auto store = open_object_store(store_);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->put("db1/" + blob, "orphan").ok());
  fs::last_write_time(bucket() + "/db1/" + blob,
                      fs::file_time_type::clock::now() - std::chrono::hours(2));
  const auto before = files();
  ASSERT_TRUE(before.count("db1/" + blob));

  Output o = isle({"gc", "--dry-run"});
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_NE(o.out.find("dry run"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("would delete 1 object"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find(blob), std::string::npos) << o.out;
  EXPECT_EQ(files(), before);
  o = isle({"--json", "gc", "--dry-run", "--grace", "3h"});
  ASSERT_EQ(o.code, 0) << o.err;
  json r = json::parse(o.out);
  EXPECT_EQ(r["dry_run"], true);
  EXPECT_TRUE(r["deleted"].empty()) << o.out;  // younger than this grace
  EXPECT_EQ(files(), before);
  EXPECT_EQ(isle({"gc"}).code, 2) << "refuses to delete without --yes";
  EXPECT_EQ(isle({"gc", "--dry-run", "--grace", "1s"}).code, 2) << "grace under the lease";
  EXPECT_EQ(files(), before);

  // --yes deletes the orphan and nothing the database uses.
  o = isle({"gc", "--yes"});
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_FALSE(files().count("db1/" + blob));
  EXPECT_EQ(isle({"get", "a"}).out, "1");
  EXPECT_EQ(isle({"verify"}).code, 0);
}

// destroy deletes every object under the database prefix and nothing else;
// it refuses without --yes (or --dry-run) and with no prefix.
TEST_F(CliTest, DestroyDeletesTheDatabasePrefixOnly) {
  put("a", "1");
  put("b", "2");
  Output o = raw({"--store", store_, "--prefix", "db10", "-q", "put", "x", "y"});
  ASSERT_EQ(o.code, 0) << o.err;
  auto count = [&](const std::string& top) {
    size_t n = 0;
    for (const auto& [k, size] : files()) n += k.rfind(top, 0) == 0;
    return n;
  };
  const size_t db1 = count("db1/"), db10 = count("db10/");
  ASSERT_GT(db1, 0u);
  ASSERT_GT(db10, 0u);

  EXPECT_EQ(isle({"destroy"}).code, 2) << "refuses without --yes";
  EXPECT_EQ(raw({"--store", store_, "destroy", "--yes"}).code, 2) << "refuses the bucket root";
  EXPECT_EQ(raw({"--store", store_, "--prefix", "/", "destroy", "--yes"}).code, 2);
  o = isle({"--json", "destroy", "--dry-run"});
  ASSERT_EQ(o.code, 0) << o.err;
  json r = json::parse(o.out);
  EXPECT_EQ(r["dry_run"], true);
  EXPECT_EQ(r["deleted"].get<size_t>(), db1) << o.out;
  EXPECT_EQ(count("db1/"), db1);

  o = isle({"destroy", "--yes"});
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_NE(o.out.find("deleted " + std::to_string(db1) + " objects"), std::string::npos) << o.out;
  EXPECT_EQ(count("db1/"), 0u);
  EXPECT_EQ(count("db10/"), db10) << "a sibling prefix is untouched";
  EXPECT_EQ(raw({"--store", store_, "--prefix", "db10", "get", "x"}).out, "y");
  o = isle({"destroy", "--yes"});  // nothing left: still fine
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_NE(o.out.find("deleted 0 objects"), std::string::npos) << o.out;
}

TEST_F(CliTest, UsageErrorsExit2) {
  EXPECT_EQ(raw({}).code, 2);
  EXPECT_EQ(raw({"frobnicate"}).code, 2);
  EXPECT_EQ(isle({"get"}).code, 2);
  EXPECT_EQ(isle({"get", "a", "b"}).code, 2);
  EXPECT_EQ(isle({"get", "a", "--bogus"}).code, 2);
  EXPECT_EQ(isle({"put", "", "v"}).code, 2);
  EXPECT_EQ(isle({"get", "--key-hex", "zz"}).code, 2);
  EXPECT_EQ(raw({"--limit", "3", "scan"}).code, 2);
  Output o = raw({"get", "a"});  // no --store and no ISLE_STORE
  EXPECT_EQ(o.code, 2);
  EXPECT_NE(o.err.find("--store"), std::string::npos) << o.err;
  o = raw({"--store", "ftp://x", "get", "a"});
  EXPECT_EQ(o.code, 1) << "a bad store URL is an error, not usage";
  EXPECT_EQ(o.err.rfind("isle: ", 0), 0u) << o.err;

  o = raw({"--help"});
  EXPECT_EQ(o.code, 0);
  EXPECT_NE(o.out.find("Exit codes"), std::string::npos);
  EXPECT_NE(o.out.find("75"), std::string::npos);
  o = raw({"put", "--help"});
  EXPECT_EQ(o.code, 0);
  EXPECT_NE(o.out.find("FENCED"), std::string::npos) << o.out;
  EXPECT_EQ(raw({"help", "sst", "dump"}).code, 0);
}

TEST_F(CliTest, BenchRunsWithSmallOps) {
  Output o = isle({"bench", "--ops", "300", "--threads", "2", "--value-size", "64",
                   "--key-prefix", "bench/"});
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_NE(o.out.find("put"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("get"), std::string::npos) << o.out;
  o = isle({"--json", "bench", "--ops", "20", "--durable", "--key-prefix", "bench/"});
  ASSERT_EQ(o.code, 0) << o.err;
  json j = json::parse(o.out);
  EXPECT_EQ(j["put"]["ops"], 20);
  EXPECT_EQ(j["missing"], 0);
  EXPECT_GT(j["get"]["ops_per_sec"].get<double>(), 0);
  // The bench's keys are really in the database.
  Output s = isle({"scan", "--key-prefix", "bench/"});
  EXPECT_EQ(ndjson(s.out).size(), 300u);
  EXPECT_EQ(isle({"bench", "--ops", "0"}).code, 2);
}

}  // namespace
}  // namespace isle
