// A Reader with verify_sst_sha256 over a database of big SSTs (issue 14,
// item 3): verification streams each SST through a bounded buffer into the
// disk cache instead of holding it in memory, so the reader's resident
// memory stays within its cache budgets however large the SSTs are; and a
// flipped byte anywhere in a big SST is refused with Corruption before any
// of its bytes are served, leaving nothing of it in the disk cache.
//
// The database size is 1 GiB in the release build (SSTs of up to 512 MiB
// on a file:// bucket, written by a forked child so that the writer's memory
// is not in this process) and 128 MiB under AddressSanitizer, where RSS is
// not asserted (see proc_stats.h). $ISLE_VERIFY_BIG_BYTES overrides the
// size (docs/BENCHMARKS.md records a 10 GiB run made that way).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "isle/db.h"
#include "isle/object_store.h"
#include "lsm/engine_test_util.h"
#include "manifest/manifest_types.h"
#include "testutil/proc_stats.h"

namespace isle {
namespace {

namespace fs = std::filesystem;
using testing::RssWatch;

constexpr size_t kValueSize = 16 << 10;

// The value of key i: incompressible, reproducible from i.
std::string value_of(uint64_t i) {
  std::string v(kValueSize, '\0');
  uint64_t x = i * 0x9E3779B97F4A7C15ull + 1;
  for (size_t p = 0; p < v.size(); p += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(v.data() + p, &x, 8);
  }
  return v;
}

std::string key_of(uint64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "k%010llu", static_cast<unsigned long long>(i));
  return buf;
}

uint64_t big_db_bytes() {
  if (const char* v = std::getenv("ISLE_VERIFY_BIG_BYTES")) return std::strtoull(v, nullptr, 10);
  return testing::kRssIsMeaningful ? uint64_t{1} << 30 : uint64_t{128} << 20;
}

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "isle-verify-big-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// Writes `keys` keys into the database at `url`/db with SSTs of about
// `sst_bytes`, in a child process (its memory is not ours). True on success.
bool write_big_db(const std::string& url, uint64_t keys, uint64_t sst_bytes) {
  const pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    int rc = 1;
    auto store = open_object_store(url);
    if (store.ok()) {
      DBOptions dbo;
      dbo.prefix = "db";
      auto db = DB::open(*store, dbo);
      WriterOptions wo;
      wo.memtable_size = sst_bytes;
      wo.flush_interval = std::chrono::hours(1);
      wo.compression = Compression::kNone;
      wo.block_size = 64 << 10;
      wo.max_sealed_memtables = 1;
      auto w = db.ok() ? db->open_writer(wo) : Result<std::unique_ptr<Writer>>(db.status());
      bool ok = w.ok();
      for (uint64_t i = 0; ok && i < keys; i++) {
        const std::string v = value_of(i);
        auto s = (*w)->put(key_of(i), v);
        while (!s.ok() && s.status().code() == Code::kBackpressure) {
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
          s = (*w)->put(key_of(i), v);
        }
        ok = s.ok();
        if (!ok) {
          std::fprintf(stderr, "put %llu: %s\n", static_cast<unsigned long long>(i),
                       s.status().to_string().c_str());
        }
      }
      if (ok) ok = (*w)->close().ok();
      rc = ok ? 0 : 1;
    }
    std::fflush(stderr);
    ::_exit(rc);
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return false;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// Writes keys [0, keys) through a Writer into one uncompressed L0 SST
// (the memtable holds them all).
void write_one_sst(testing::EngineEnv& env, uint64_t keys) {
  WriterOptions wo = env.writer_options();
  wo.memtable_size = size_t{64} << 20;
  wo.compression = Compression::kNone;
  auto w = env.writer(wo);
  for (uint64_t i = 0; i < keys; i++) ASSERT_TRUE(w->put(key_of(i), value_of(i)).ok());
  ASSERT_TRUE(w->close().ok());
}

TEST(ReaderVerifyBig, VerifiedReadsOfBigSstsStayWithinTheCacheBudgets) {
  const uint64_t total = big_db_bytes();
  const uint64_t sst_bytes = std::min<uint64_t>(total, uint64_t{512} << 20);
  const uint64_t keys = total / kValueSize;
  TempDir dir;
  const std::string url = "file://" + (dir.path / "bucket").string();
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(write_big_db(url, keys, sst_bytes));
  const auto t1 = std::chrono::steady_clock::now();

  auto store = open_object_store(url);
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  DBOptions dbo;
  dbo.prefix = "db";
  auto db = DB::open(*store, dbo);
  ASSERT_TRUE(db.ok()) << db.status().to_string();
  ReaderOptions ro;
  ro.verify_sst_sha256 = true;
  ro.cache_dir = (dir.path / "cache").string();
  ro.disk_cache_bytes = uint64_t{256} << 20;  // smaller than one SST
  ro.block_cache_bytes = uint64_t{16} << 20;
  ro.blob_cache_bytes = uint64_t{16} << 20;
  auto reader = db->open_reader(ro);
  ASSERT_TRUE(reader.ok()) << reader.status().to_string();
  const ManifestInfo info = (*reader)->manifest();
  uint64_t biggest = 0, tables = info.l0.size();
  for (const auto& t : info.l0) biggest = std::max(biggest, t.size);
  for (const auto& r : info.runs) {
    tables += r.size();
    for (const auto& t : r) biggest = std::max(biggest, t.size);
  }
  ASSERT_GE(tables, 1u);

  RssWatch watch(::getpid());
  // Every SST's first key (opens, so verifies, every table), then keys
  // spread over the whole database and a scan of a stretch of it.
  std::mt19937_64 rng(7);
  std::vector<uint64_t> probes = {0, keys - 1};
  for (int i = 0; i < 300; i++) probes.push_back(rng() % keys);
  for (uint64_t i : probes) {
    auto g = (*reader)->get(key_of(i));
    ASSERT_TRUE(g.ok()) << key_of(i) << ": " << g.status().to_string();
    ASSERT_TRUE(g->has_value()) << key_of(i);
    ASSERT_TRUE(**g == value_of(i)) << key_of(i);
  }
  const uint64_t from = keys / 3;
  auto sc = (*reader)->scan_limit(key_of(from), "", 1000);
  ASSERT_TRUE(sc.ok()) << sc.status().to_string();
  ASSERT_EQ(sc->size(), std::min<uint64_t>(1000, keys - from));
  for (size_t j = 0; j < sc->size(); j++) {
    ASSERT_EQ((*sc)[j].key, key_of(from + j));
    ASSERT_TRUE((*sc)[j].value == value_of(from + j));
  }
  sc->clear();
  sc->shrink_to_fit();
  watch.stop();
  const auto t2 = std::chrono::steady_clock::now();
  const ReaderStats st = (*reader)->stats();
  auto secs = [](auto d) { return std::chrono::duration<double>(d).count(); };
  std::printf("database %.1f MiB in %llu SSTs (largest %.1f MiB); write %.1f s, verified reads "
              "%.1f s; %s; disk cache %.1f MiB of %.1f MiB\n",
              static_cast<double>(total) / (1 << 20), static_cast<unsigned long long>(tables),
              static_cast<double>(biggest) / (1 << 20), secs(t1 - t0), secs(t2 - t1),
              watch.describe().c_str(), static_cast<double>(st.disk_cache.bytes) / (1 << 20),
              static_cast<double>(ro.disk_cache_bytes) / (1 << 20));
  EXPECT_LE(st.disk_cache.bytes, ro.disk_cache_bytes);
  if (!testing::kRssIsMeaningful) GTEST_SKIP() << "RSS is not asserted under AddressSanitizer";
  // The caches may hold 16 + 16 MiB; the verifying stream holds a few MiB
  // per table. 128 MiB is a quarter of one SST.
  EXPECT_LT(watch.peak_growth_kib(), 128 << 10) << watch.describe();
}

// Flips one byte of the middle of a big SST (several fetch chunks): every
// read touching that SST is Corruption, before and after the flip's
// chunk, nothing of it stays in the disk cache, and once the right bytes
// are back the same reader serves them.
TEST(ReaderVerifyBig, AFlippedByteInABigSstIsRefusedAndNothingIsCached) {
  testing::EngineEnv env;
  const uint64_t keys = (uint64_t{24} << 20) / kValueSize;
  ASSERT_NO_FATAL_FAILURE(write_one_sst(env, keys));
  TempDir dir;
  ReaderOptions ro = env.reader_options();
  ro.verify_sst_sha256 = true;
  ro.cache_dir = (dir.path / "cache").string();
  ro.disk_cache_bytes = uint64_t{256} << 20;
  auto r = env.reader(ro);
  ASSERT_EQ(r->manifest().l0.size(), 1u);
  const std::string id = r->manifest().l0[0].id;
  const std::string good = env.scoped->get(sst_key(id))->data;
  ASSERT_GT(good.size(), uint64_t{20} << 20);
  std::string bad = good;
  bad[bad.size() / 2] ^= 0x10;
  ASSERT_TRUE(env.scoped->put(sst_key(id), bad).ok());

  for (uint64_t i : {uint64_t{0}, keys / 2, keys - 1}) {
    auto g = r->get(key_of(i));
    EXPECT_EQ(g.status().code(), Code::kCorruption) << key_of(i) << ": " << g.status().to_string();
  }
  EXPECT_EQ(r->scan_limit("", "", 10).status().code(), Code::kCorruption);
  EXPECT_EQ(r->stats().disk_cache.bytes, 0u) << "nothing of a refused SST may stay cached";
  EXPECT_EQ(r->stats().open_tables, 0u);

  ASSERT_TRUE(env.scoped->put(sst_key(id), good).ok());
  auto g = r->get(key_of(keys / 2));
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  EXPECT_TRUE(g->has_value() && **g == value_of(keys / 2));
}

// Bytes swapped in the bucket after the SST was verified: the granules not
// yet read come by ranged GETs, each checked against its digest from the
// verified stream, so the swap is Corruption, never served.
TEST(ReaderVerifyBig, BytesChangedAfterVerificationAreRefusedOnRangedReads) {
  testing::EngineEnv env;
  const uint64_t keys = (uint64_t{8} << 20) / kValueSize;
  ASSERT_NO_FATAL_FAILURE(write_one_sst(env, keys));
  ReaderOptions ro = env.reader_options();
  ro.verify_sst_sha256 = true;  // no cache_dir: granules come by ranged GET
  ro.block_cache_bytes = 0;
  auto r = env.reader(ro);
  auto g = r->get(key_of(0));
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  const std::string id = r->manifest().l0[0].id;
  std::string bytes = env.scoped->get(sst_key(id))->data;
  for (size_t p = bytes.size() / 2; p < bytes.size() / 2 + 4096; p++) bytes[p] ^= 0x55;
  ASSERT_TRUE(env.scoped->put(sst_key(id), bytes).ok());
  bool refused = false;
  for (uint64_t i = keys / 2 - 16; i < keys / 2 + 16; i++) {
    auto v = r->get(key_of(i));
    if (v.ok()) {
      ASSERT_TRUE(v->has_value() && **v == value_of(i)) << key_of(i) << " served changed bytes";
    } else {
      EXPECT_EQ(v.status().code(), Code::kCorruption) << v.status().to_string();
      refused = true;
    }
  }
  EXPECT_TRUE(refused);
}

}  // namespace
}  // namespace isle
