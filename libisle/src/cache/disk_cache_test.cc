// DiskCache: round trips, persistence across reopen, the budget (during
// puts and after reopening with a smaller one, oldest mtime first),
// corruption at every byte of an entry file, cleanup at open, hash
// collisions, the folder lock, and a multi-threaded stress.
#include "cache/disk_cache.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <latch>
#include <thread>
#include <vector>

#include "cache/cache_test_util.h"
#include "testutil/testutil.h"
#include "util/random.h"

namespace isle {
namespace {

namespace fs = std::filesystem;
using cache_testing::entry_files;

std::shared_ptr<DiskCache> open_cache(const std::string& dir, uint64_t budget) {
  auto c = DiskCache::open(dir, budget);
  EXPECT_TRUE(c.ok()) << c.status().to_string();
  return c.ok() ? *c : nullptr;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// Sets a file's mtime to `base + seconds`.
void set_age(const std::string& path, int seconds) {
  const auto base = fs::file_time_type::clock::now() - std::chrono::hours(24);
  fs::last_write_time(path, base + std::chrono::seconds(seconds));
}

std::string value_of(int i, size_t len) {
  std::string v = "value-" + std::to_string(i) + "-";
  while (v.size() < len) v += static_cast<char>('a' + (v.size() * 7 + i) % 26);
  v.resize(len);
  return v;
}

TEST(DiskCache, PutGetRoundTripAndMisses) {
  testing::TempDir tmp;
  auto c = open_cache(tmp.path(), 1 << 20);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->get("nothing"), std::nullopt);
  Random rnd(7);
  const std::string binary = rnd.bytes(3000);
  c->put("sst/000001/4096-3000", binary);
  c->put("blob/ab", "");
  c->put("", "empty key");
  c->put(std::string("odd\0key/..\xff", 11), "odd");
  EXPECT_EQ(c->get("sst/000001/4096-3000"), binary);
  EXPECT_EQ(c->get("blob/ab"), "");
  EXPECT_EQ(c->get(""), "empty key");
  EXPECT_EQ(c->get(std::string("odd\0key/..\xff", 11)), "odd");
  EXPECT_EQ(c->get("sst/000001/4096-2999"), std::nullopt);
  // Overwriting replaces, and is charged once.
  c->put("blob/ab", "second");
  EXPECT_EQ(c->get("blob/ab"), "second");
  const CacheStats s = c->stats();
  EXPECT_EQ(s.entries, 4u);
  EXPECT_EQ(s.bytes_used, DiskCache::entry_size(20, 3000) + DiskCache::entry_size(7, 6) +
                              DiskCache::entry_size(0, 9) + DiskCache::entry_size(11, 3));
  EXPECT_EQ(s.bytes_used, entry_files(tmp.path()).bytes);
  EXPECT_EQ(s.hits, 5u);
  EXPECT_EQ(s.misses, 2u);
  EXPECT_EQ(s.inserts, 5u);
  EXPECT_EQ(s.corruptions, 0u);
  // The file sits where path_of says, and holds header + key + payload.
  const std::string file = read_file(c->path_of("blob/ab"));
  EXPECT_EQ(file.size(), DiskCache::entry_size(7, 6));
  EXPECT_EQ(file.substr(0, 8), std::string("ISLEDCE\x01", 8));
  EXPECT_EQ(file.substr(DiskCache::kHeaderSize), "blob/absecond");
  c->erase("blob/ab");
  EXPECT_EQ(c->get("blob/ab"), std::nullopt);
  EXPECT_FALSE(fs::exists(c->path_of("blob/ab")));
}

TEST(DiskCache, SurvivesReopen) {
  testing::TempDir tmp;
  uint64_t used = 0;
  {
    auto c = open_cache(tmp.path(), 1 << 20);
    ASSERT_NE(c, nullptr);
    for (int i = 0; i < 50; i++) c->put("k" + std::to_string(i), value_of(i, 100 + i));
    used = c->stats().bytes_used;
  }
  auto c = open_cache(tmp.path(), 1 << 20);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->stats().entries, 50u);
  EXPECT_EQ(c->stats().bytes_used, used);
  EXPECT_EQ(c->stats().corruptions, 0u);
  for (int i = 0; i < 50; i++) EXPECT_EQ(c->get("k" + std::to_string(i)), value_of(i, 100 + i));
}

TEST(DiskCache, BudgetHoldsDuringPutsAndEvictsLeastRecentlyUsed) {
  testing::TempDir tmp;
  const uint64_t one = DiskCache::entry_size(3, 1000);  // keys k00..k49
  auto c = open_cache(tmp.path(), 10 * one);
  ASSERT_NE(c, nullptr);
  char key[8];
  for (int i = 0; i < 50; i++) {
    std::snprintf(key, sizeof key, "k%02d", i);
    c->put(key, value_of(i, 1000));
    if (i >= 5 && i < 45) {
      ASSERT_TRUE(c->get("k00").has_value());
    }
    ASSERT_LE(entry_files(tmp.path()).bytes, 10 * one);
  }
  const CacheStats s = c->stats();
  EXPECT_EQ(s.entries, 10u);
  EXPECT_EQ(s.bytes_used, 10 * one);
  EXPECT_EQ(s.evictions, 40u);
  EXPECT_EQ(entry_files(tmp.path()).files, 10u);
  EXPECT_EQ(c->get("k00"), value_of(0, 1000));  // kept by its hits
  EXPECT_EQ(c->get("k01"), std::nullopt);
  EXPECT_EQ(c->get("k49"), value_of(49, 1000));

  // A value that cannot fit the budget is not stored and evicts nothing.
  c->put("huge", std::string(10 * one, 'h'));
  EXPECT_EQ(c->get("huge"), std::nullopt);
  EXPECT_EQ(c->stats().rejected, 1u);
  EXPECT_EQ(c->stats().entries, 10u);
}

TEST(DiskCache, ReopenWithSmallerBudgetKeepsTheNewest) {
  testing::TempDir tmp;
  const uint64_t one = DiskCache::entry_size(2, 500);
  {
    auto c = open_cache(tmp.path(), 1 << 20);
    ASSERT_NE(c, nullptr);
    for (int i = 0; i < 10; i++) c->put("k" + std::to_string(i), value_of(i, 500));
    // Ages independent of the file system's timestamp granularity: k3 is
    // the newest, then k9, k8, ... (k3 was "read last").
    for (int i = 0; i < 10; i++) set_age(c->path_of("k" + std::to_string(i)), i == 3 ? 100 : i);
  }
  auto c = open_cache(tmp.path(), 4 * one + one / 2);
  ASSERT_NE(c, nullptr);
  const CacheStats s = c->stats();
  EXPECT_EQ(s.entries, 4u);
  EXPECT_EQ(s.evictions, 6u);
  EXPECT_LE(s.bytes_used, 4 * one + one / 2);
  EXPECT_EQ(entry_files(tmp.path()).bytes, s.bytes_used);
  for (int i : {3, 9, 8, 7}) EXPECT_EQ(c->get("k" + std::to_string(i)), value_of(i, 500)) << i;
  for (int i : {0, 1, 2, 4, 5, 6}) EXPECT_EQ(c->get("k" + std::to_string(i)), std::nullopt) << i;
}

TEST(DiskCache, HitsRefreshRecencyAcrossRestarts) {
  testing::TempDir tmp;
  const uint64_t one = DiskCache::entry_size(2, 300);
  {
    auto c = open_cache(tmp.path(), 1 << 20);
    ASSERT_NE(c, nullptr);
    for (int i = 0; i < 4; i++) c->put("k" + std::to_string(i), value_of(i, 300));
    for (int i = 0; i < 4; i++) set_age(c->path_of("k" + std::to_string(i)), i);
    ASSERT_TRUE(c->get("k0").has_value());  // now the most recent on disk too
  }
  auto c = open_cache(tmp.path(), one);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->stats().entries, 1u);
  EXPECT_EQ(c->get("k0"), value_of(0, 300));
}

TEST(DiskCache, EveryCorruptedByteIsDetectedDeletedAndAMiss) {
  testing::TempDir tmp;
  auto c = open_cache(tmp.path(), 1 << 20);
  ASSERT_NE(c, nullptr);
  const std::string key = "sst/7/0-11";
  const std::string payload = "hello world";
  c->put(key, payload);
  const std::string path = c->path_of(key);
  const std::string good = read_file(path);
  ASSERT_EQ(good.size(), DiskCache::entry_size(key.size(), payload.size()));
  uint64_t corruptions = 0;
  for (size_t pos = 0; pos < good.size(); pos++) {
    for (unsigned char flip : {0x01, 0x80}) {
      c->put(key, payload);
      std::string bad = good;
      bad[pos] = static_cast<char>(bad[pos] ^ flip);
      write_file(path, bad);
      EXPECT_EQ(c->get(key), std::nullopt) << "byte " << pos;
      EXPECT_FALSE(fs::exists(path)) << "byte " << pos;
      EXPECT_EQ(c->stats().corruptions, ++corruptions);
      EXPECT_EQ(c->stats().entries, 0u);
      EXPECT_EQ(c->stats().bytes_used, 0u);
    }
  }
  // Truncated at every length, and extended.
  for (size_t len = 0; len <= good.size(); len++) {
    c->put(key, payload);
    write_file(path, len == good.size() ? good + "x" : good.substr(0, len));
    EXPECT_EQ(c->get(key), std::nullopt) << "length " << len;
    EXPECT_FALSE(fs::exists(path));
  }
  // And the key still works after all that.
  c->put(key, payload);
  EXPECT_EQ(c->get(key), payload);
}

TEST(DiskCache, CorruptHeadersAreDroppedAtOpen) {
  testing::TempDir tmp;
  std::string bad_header, bad_payload, truncated;
  {
    auto c = open_cache(tmp.path(), 1 << 20);
    ASSERT_NE(c, nullptr);
    for (int i = 0; i < 5; i++) c->put("k" + std::to_string(i), value_of(i, 200));
    bad_header = c->path_of("k1");
    bad_payload = c->path_of("k2");
    truncated = c->path_of("k3");
  }
  std::string b = read_file(bad_header);
  b[20] ^= 0x10;  // payload length: the header checksum catches it
  write_file(bad_header, b);
  b = read_file(bad_payload);
  b[b.size() - 1] ^= 0x10;  // only get() can see this one
  write_file(bad_payload, b);
  write_file(truncated, read_file(truncated).substr(0, 30));
  auto c = open_cache(tmp.path(), 1 << 20);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->stats().corruptions, 2u);
  EXPECT_EQ(c->stats().entries, 3u);
  EXPECT_FALSE(fs::exists(bad_header));
  EXPECT_FALSE(fs::exists(truncated));
  EXPECT_EQ(c->get("k2"), std::nullopt);
  EXPECT_EQ(c->stats().corruptions, 3u);
  EXPECT_FALSE(fs::exists(bad_payload));
  for (int i : {0, 4}) EXPECT_EQ(c->get("k" + std::to_string(i)), value_of(i, 200));
}

TEST(DiskCache, OpenCleansTempFilesAndStrangers) {
  testing::TempDir tmp;
  std::string moved_from, moved_to;
  {
    auto c = open_cache(tmp.path(), 1 << 20);
    ASSERT_NE(c, nullptr);
    c->put("keep", "kept");
    c->put("move", "moved");
    moved_from = c->path_of("move");
  }
  const std::string d = tmp.path();
  write_file(d + "/tmp/0-123.tmp", "half a put");
  fs::create_directories(d + "/tmp/sub");
  write_file(d + "/00/junk", "junk");
  write_file(d + "/ab/ab0123456789abcdef0123456789abcd", "not an entry");
  // A valid entry file in the wrong folder.
  const std::string name = fs::path(moved_from).filename().string();
  moved_to = d + (name.substr(0, 2) == "ff" ? "/fe/" : "/ff/") + name;
  fs::rename(moved_from, moved_to);
  write_file(d + "/README", "not ours: left alone");

  auto c = open_cache(d, 1 << 20);
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(fs::is_empty(d + "/tmp"));
  EXPECT_FALSE(fs::exists(d + "/00/junk"));
  EXPECT_FALSE(fs::exists(d + "/ab/ab0123456789abcdef0123456789abcd"));
  EXPECT_FALSE(fs::exists(moved_to));
  EXPECT_TRUE(fs::exists(d + "/README"));
  EXPECT_EQ(c->stats().entries, 1u);
  EXPECT_EQ(c->get("keep"), "kept");
  EXPECT_EQ(c->get("move"), std::nullopt);
}

TEST(DiskCache, AFileHoldingAnotherKeyIsAMiss) {
  // Simulates a file-name hash collision: key b's file holds key a's entry.
  testing::TempDir tmp;
  auto c = open_cache(tmp.path(), 1 << 20);
  ASSERT_NE(c, nullptr);
  c->put("a", "bytes of a");
  c->put("b", "bytes of b");
  write_file(c->path_of("b"), read_file(c->path_of("a")));
  EXPECT_EQ(c->get("b"), std::nullopt);
  EXPECT_EQ(c->get("a"), "bytes of a");
  EXPECT_EQ(c->stats().corruptions, 0u);
}

TEST(DiskCache, OneOwnerPerFolder) {
  testing::TempDir tmp;
  auto first = open_cache(tmp.path(), 1000);
  ASSERT_NE(first, nullptr);
  auto second = DiskCache::open(tmp.path(), 1000);
  EXPECT_EQ(second.status().code(), Code::kIOError) << second.status().to_string();
  first.reset();
  EXPECT_NE(open_cache(tmp.path(), 1000), nullptr);
}

TEST(DiskCache, ZeroBudgetStoresNothing) {
  testing::TempDir tmp;
  {
    auto c = open_cache(tmp.path(), 1 << 20);
    ASSERT_NE(c, nullptr);
    c->put("k", "v");
  }
  auto c = open_cache(tmp.path(), 0);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->stats().entries, 0u);
  EXPECT_EQ(entry_files(tmp.path()).files, 0u);
  c->put("k", "v");
  EXPECT_EQ(c->get("k"), std::nullopt);
}

TEST(DiskCache, ConcurrentGetsAndPutsWithATinyBudget) {
  testing::TempDir tmp;
  const uint64_t budget = 24 * 1024;
  auto c = open_cache(tmp.path(), budget);
  ASSERT_NE(c, nullptr);
  constexpr int kThreads = 8;
  constexpr int kOps = 1500;
  std::atomic<int> wrong{0};
  std::atomic<int> hits{0};
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      Random rnd(77 + t);
      start.arrive_and_wait();
      for (int i = 0; i < kOps; i++) {
        const int k = static_cast<int>(rnd.uniform(64));
        const std::string key = "key/" + std::to_string(k);
        const size_t len = 50 + static_cast<size_t>(k) * 60;
        if (rnd.chance(0.4)) {
          c->put(key, value_of(k, len));
        } else if (rnd.chance(0.05)) {
          c->erase(key);
        } else if (auto v = c->get(key)) {
          hits++;
          if (*v != value_of(k, len)) wrong++;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(hits.load(), 0);
  const CacheStats s = c->stats();
  EXPECT_LE(s.bytes_used, budget);
  EXPECT_EQ(s.corruptions, 0u);
  EXPECT_EQ(s.io_errors, 0u);
  EXPECT_EQ(entry_files(tmp.path()).bytes, s.bytes_used);
  EXPECT_TRUE(fs::is_empty(tmp.path() + "/tmp"));
  // Whatever survived is intact after a restart.
  const uint64_t entries = s.entries;
  c.reset();
  auto again = open_cache(tmp.path(), budget);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->stats().entries, entries);
  EXPECT_EQ(again->stats().corruptions, 0u);
}

}  // namespace
}  // namespace isle
