// Memtable tests: a model-based property test against a nested std::map
// (user key -> sequence -> entry) over many seeds, unit tests for the edge
// cases, a one-writer/many-readers concurrency test, and memory accounting.
//
// More seeds: ISLE_TEST_SEEDS=500 (replay one with ISLE_TEST_SEED_BASE).
#include "lsm/memtable.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "testutil/testutil.h"
#include "util/random.h"

namespace isle {
namespace {

using namespace std::string_view_literals;

// ---- The model ----

struct ModelEntry {
  ValueKind kind;
  std::string value;
  uint64_t expires_at_ms;
};
using Model = std::map<std::string, std::map<uint64_t, ModelEntry>>;

struct Flat {
  std::string user_key;
  uint64_t seq;
  ModelEntry e;
  uint64_t trailer() const { return pack_trailer(seq, e.kind, e.expires_at_ms != 0); }
};

// The expected iteration order, derived without the internal key code:
// user key ascending (std::string compares bytes as unsigned), then
// sequence descending.
std::vector<Flat> flatten(const Model& m) {
  std::vector<Flat> out;
  for (const auto& [uk, versions] : m) {
    for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
      out.push_back({uk, it->first, it->second});
    }
  }
  return out;
}

std::string random_user_key(Random& rnd) {
  static const char kAlphabet[] = {'\0', '\x01', 'a', 'b', '\x7f', '\x80', '\xff'};
  size_t n = rnd.uniform(6);
  std::string k;
  for (size_t i = 0; i < n; i++) k.push_back(kAlphabet[rnd.uniform(sizeof kAlphabet)]);
  return k;
}

uint64_t random_expiry(Random& rnd) {
  switch (rnd.uniform(4)) {
    case 0:
    case 1:
      return 0;
    case 2:
      return 1 + rnd.uniform(1000);
    default:
      return rnd.next() | 1;  // large, including values near 2^64
  }
}

uint64_t random_snapshot(Random& rnd, const std::vector<Flat>& flat) {
  switch (rnd.uniform(6)) {
    case 0:
      return 0;
    case 1:
      return kMaxSequence;
    case 2:
      return UINT64_MAX;  // above the maximum: clamps
    default: {
      if (flat.empty()) return rnd.uniform(100);
      uint64_t s = flat[rnd.uniform(flat.size())].seq;
      uint64_t d = rnd.uniform(3);  // s-1, s, s+1
      if (d == 0 && s > 0) return s - 1;
      if (d == 2) return s + 1;
      return s;
    }
  }
}

void expect_at(const Memtable::Iterator& it, const Flat& f, const std::string& ctx) {
  ASSERT_TRUE(it.valid()) << ctx;
  EXPECT_EQ(it.user_key(), f.user_key) << ctx;
  EXPECT_EQ(it.sequence(), f.seq) << ctx;
  EXPECT_EQ(it.kind(), f.e.kind) << ctx;
  EXPECT_EQ(it.value(), f.e.value) << ctx;
  EXPECT_EQ(it.expires_at_ms(), f.e.expires_at_ms) << ctx;
  EXPECT_EQ(it.has_expiry(), f.e.expires_at_ms != 0) << ctx;
  EXPECT_EQ(it.key(),
            make_internal_key(f.user_key, f.seq, f.e.kind, f.e.expires_at_ms != 0)) << ctx;
  std::string stored;
  encode_entry_value(&stored, f.e.value, f.e.expires_at_ms != 0, f.e.expires_at_ms);
  EXPECT_EQ(it.stored_value(), stored) << ctx;
}

// Compares everything observable about `mem` with the model.
void verify(const Memtable& mem, const Model& model, const std::vector<std::string>& pool,
            Random& rnd, const std::string& ctx) {
  std::vector<Flat> flat = flatten(model);

  // Counters.
  ASSERT_EQ(mem.entry_count(), flat.size()) << ctx;
  uint64_t min_seq = UINT64_MAX, max_seq = 0, kb = 0, vb = 0;
  for (const auto& f : flat) {
    min_seq = std::min(min_seq, f.seq);
    max_seq = std::max(max_seq, f.seq);
    kb += f.user_key.size();
    vb += f.e.value.size();
  }
  EXPECT_EQ(mem.min_seq(), flat.empty() ? 0 : min_seq) << ctx;
  EXPECT_EQ(mem.max_seq(), max_seq) << ctx;
  EXPECT_EQ(mem.raw_key_bytes(), kb) << ctx;
  EXPECT_EQ(mem.raw_value_bytes(), vb) << ctx;

  // Forward and backward iteration.
  Memtable::Iterator it(&mem);
  it.seek_to_first();
  for (size_t i = 0; i < flat.size(); i++) {
    expect_at(it, flat[i], ctx + " forward #" + std::to_string(i));
    it.next();
  }
  EXPECT_FALSE(it.valid()) << ctx;
  it.seek_to_last();
  for (size_t i = flat.size(); i-- > 0;) {
    expect_at(it, flat[i], ctx + " backward #" + std::to_string(i));
    it.prev();
  }
  EXPECT_FALSE(it.valid()) << ctx;

  // Point reads at snapshots.
  for (int i = 0; i < 200; i++) {
    const std::string uk = rnd.chance(0.8) ? pool[rnd.uniform(pool.size())] : random_user_key(rnd);
    uint64_t snap = random_snapshot(rnd, flat);
    auto got = mem.get(uk, snap);
    const ModelEntry* want = nullptr;
    uint64_t want_seq = 0;
    auto mk = model.find(uk);
    uint64_t clamped = std::min(snap, kMaxSequence);
    if (mk != model.end()) {
      auto v = mk->second.upper_bound(clamped);
      if (v != mk->second.begin()) {
        --v;
        want = &v->second;
        want_seq = v->first;
      }
    }
    std::string c = ctx + " get snap=" + std::to_string(snap);
    if (want == nullptr) {
      EXPECT_FALSE(got.has_value()) << c;
    } else {
      ASSERT_TRUE(got.has_value()) << c;
      EXPECT_EQ(got->sequence, want_seq) << c;
      EXPECT_EQ(got->kind, want->kind) << c;
      EXPECT_EQ(got->value, want->value) << c;
      EXPECT_EQ(got->expires_at_ms, want->expires_at_ms) << c;
    }
  }

  // seek(internal key): first entry >= target in (user asc, trailer desc).
  for (int i = 0; i < 100; i++) {
    std::string uk = rnd.chance(0.8) ? pool[rnd.uniform(pool.size())] : random_user_key(rnd);
    uint64_t seq = random_snapshot(rnd, flat) & kMaxSequence;
    auto kind = static_cast<ValueKind>(rnd.uniform(kMaxValueKind + 1));
    bool exp = rnd.chance(0.5);
    uint64_t t = pack_trailer(seq, kind, exp);
    size_t want = 0;
    auto before_target = [&](const Flat& f) {
      return f.user_key < uk || (f.user_key == uk && f.trailer() > t);
    };
    while (want < flat.size() && before_target(flat[want])) want++;
    it.seek(make_internal_key(uk, seq, kind, exp));
    std::string c = ctx + " seek #" + std::to_string(i);
    if (want == flat.size()) {
      EXPECT_FALSE(it.valid()) << c;
    } else {
      expect_at(it, flat[want], c);
    }
  }

  // seek_to_user_key(user key, snapshot).
  for (int i = 0; i < 100; i++) {
    std::string uk = rnd.chance(0.8) ? pool[rnd.uniform(pool.size())] : random_user_key(rnd);
    uint64_t snap = random_snapshot(rnd, flat);
    uint64_t clamped = std::min(snap, kMaxSequence);
    size_t want = 0;
    auto before_target = [&](const Flat& f) {
      return f.user_key < uk || (f.user_key == uk && f.seq > clamped);
    };
    while (want < flat.size() && before_target(flat[want])) want++;
    it.seek_to_user_key(uk, snap);
    std::string c = ctx + " seek_to_user_key #" + std::to_string(i);
    if (want == flat.size()) {
      EXPECT_FALSE(it.valid()) << c;
    } else {
      expect_at(it, flat[want], c);
    }
  }
}

TEST(MemtableModel, RandomOperationsMatchTheModel) {
  const int seeds = testing::seed_count(30);
  for (int s = 0; s < seeds; s++) {
    const uint64_t seed = testing::seed_base() + s;
    Random rnd(seed);
    // Small arena blocks in some seeds exercise the block fallback paths.
    Memtable mem(rnd.chance(0.5) ? 1024 : Arena::kDefaultBlockSize);
    Model model;

    std::vector<std::string> pool;
    pool.push_back("");  // the empty key is a legal user key
    size_t pool_size = 5 + rnd.uniform(60);
    while (pool.size() < pool_size) pool.push_back(random_user_key(rnd));

    // Sequence modes: a small range (so duplicates happen and must be
    // rejected), or a band just below the maximum.
    const bool high = rnd.chance(0.3);
    const uint64_t range = 50 + rnd.uniform(2000);
    const int ops = 1200;
    for (int op = 0; op < ops; op++) {
      const std::string& uk = pool[rnd.uniform(pool.size())];
      uint64_t seq = high ? kMaxSequence - rnd.uniform(range) : rnd.uniform(range);
      auto kind = static_cast<ValueKind>(rnd.uniform(kMaxValueKind + 1));
      std::string value =
          kind == ValueKind::kDelete && rnd.chance(0.8) ? "" : rnd.bytes(rnd.skewed(300));
      uint64_t expires = random_expiry(rnd);

      Status st = mem.add(seq, kind, uk, value, expires);
      auto& versions = model[uk];
      if (versions.count(seq) != 0) {
        ASSERT_TRUE(st.is_invalid_argument()) << "seed " << seed << " op " << op;
      } else {
        ASSERT_TRUE(st.ok()) << st.to_string() << " seed " << seed << " op " << op;
        versions[seq] = {kind, value, expires};
      }
      if (versions.empty()) model.erase(uk);

      if (op % 400 == 399 || op == ops - 1) {
        verify(mem, model, pool, rnd, "seed " + std::to_string(seed) + " op " + std::to_string(op));
        if (::testing::Test::HasFailure()) return;
      }
    }
  }
}

// ---- Edge cases ----

TEST(Memtable, EmptyMemtable) {
  Memtable mem;
  EXPECT_TRUE(mem.empty());
  EXPECT_EQ(mem.entry_count(), 0u);
  EXPECT_EQ(mem.min_seq(), 0u);
  EXPECT_EQ(mem.max_seq(), 0u);
  EXPECT_FALSE(mem.get("a").has_value());
  EXPECT_FALSE(mem.get("").has_value());
  Memtable::Iterator it(&mem);
  EXPECT_FALSE(it.valid());
  it.seek_to_first();
  EXPECT_FALSE(it.valid());
  it.seek_to_last();
  EXPECT_FALSE(it.valid());
  it.seek("a");
  EXPECT_FALSE(it.valid());
}

TEST(Memtable, SnapshotReadsPickTheNewestVisibleVersion) {
  Memtable mem;
  ASSERT_TRUE(mem.add(10, ValueKind::kPut, "k", "v10").ok());
  ASSERT_TRUE(mem.add(20, ValueKind::kDelete, "k", "").ok());
  ASSERT_TRUE(mem.add(30, ValueKind::kPut, "k", "v30").ok());
  ASSERT_TRUE(mem.add(15, ValueKind::kPut, "j", "other").ok());
  ASSERT_TRUE(mem.add(16, ValueKind::kPut, "l", "other").ok());

  EXPECT_FALSE(mem.get("k", 9).has_value());
  EXPECT_EQ(mem.get("k", 10)->value, "v10");
  EXPECT_EQ(mem.get("k", 19)->sequence, 10u);
  auto tomb = mem.get("k", 25);
  ASSERT_TRUE(tomb.has_value());
  EXPECT_EQ(tomb->kind, ValueKind::kDelete);
  EXPECT_EQ(tomb->sequence, 20u);
  EXPECT_EQ(mem.get("k")->value, "v30");
  EXPECT_FALSE(mem.get("k\0"sv).has_value());
  EXPECT_FALSE(mem.get("").has_value());
}

TEST(Memtable, DuplicateKeyAndSequenceIsRejectedAndChangesNothing) {
  Memtable mem;
  ASSERT_TRUE(mem.add(5, ValueKind::kPut, "k", "first").ok());
  size_t usage = mem.approximate_memory_usage();
  EXPECT_TRUE(mem.add(5, ValueKind::kPut, "k", "again").is_invalid_argument());
  EXPECT_TRUE(mem.add(5, ValueKind::kDelete, "k", "").is_invalid_argument());
  EXPECT_TRUE(mem.add(5, ValueKind::kBlobRef, "k", "x", 77).is_invalid_argument());
  EXPECT_EQ(mem.entry_count(), 1u);
  EXPECT_EQ(mem.approximate_memory_usage(), usage);
  EXPECT_EQ(mem.get("k")->value, "first");
  // Same sequence under another key is fine (the caller's business).
  EXPECT_TRUE(mem.add(5, ValueKind::kPut, "k2", "x").ok());
}

TEST(Memtable, InvalidArgumentsAreRejected) {
  Memtable mem;
  EXPECT_TRUE(mem.add(kMaxSequence + 1, ValueKind::kPut, "k", "v").is_invalid_argument());
  EXPECT_TRUE(mem.add(1, static_cast<ValueKind>(3), "k", "v").is_invalid_argument());
  EXPECT_TRUE(mem.add(1, static_cast<ValueKind>(0x81), "k", "v").is_invalid_argument());
  EXPECT_TRUE(mem.empty());
  EXPECT_TRUE(mem.add(kMaxSequence, ValueKind::kPut, "k", "v").ok());
  EXPECT_TRUE(mem.add(0, ValueKind::kPut, "k", "v0").ok());
  EXPECT_EQ(mem.get("k", 0)->value, "v0");
  EXPECT_EQ(mem.min_seq(), 0u);
  EXPECT_EQ(mem.max_seq(), kMaxSequence);
}

TEST(Memtable, ExpiryRoundTrips) {
  Memtable mem;
  ASSERT_TRUE(mem.add(1, ValueKind::kPut, "a", "payload", 1'700'000'000'123).ok());
  ASSERT_TRUE(mem.add(2, ValueKind::kPut, "b", "payload").ok());
  ASSERT_TRUE(mem.add(3, ValueKind::kPut, "c", "", UINT64_MAX).ok());
  EXPECT_EQ(mem.get("a")->expires_at_ms, 1'700'000'000'123u);
  EXPECT_EQ(mem.get("a")->value, "payload");
  EXPECT_EQ(mem.get("b")->expires_at_ms, 0u);
  EXPECT_EQ(mem.get("c")->expires_at_ms, UINT64_MAX);
  EXPECT_EQ(mem.get("c")->value, "");
  EXPECT_EQ(mem.raw_value_bytes(), 14u);  // expiry prefixes not counted
}

TEST(Memtable, BinaryKeysAndValuesKeepEveryByte) {
  Memtable mem;
  std::string k1("\0\xff\0", 3), k2("\0\xff", 2), v(std::string("\0\0\x80\xff", 4));
  ASSERT_TRUE(mem.add(1, ValueKind::kPut, k1, v).ok());
  ASSERT_TRUE(mem.add(2, ValueKind::kPut, k2, v + v).ok());
  EXPECT_EQ(mem.get(k1)->value, v);
  EXPECT_EQ(mem.get(k2)->value, v + v);
  Memtable::Iterator it(&mem);
  it.seek_to_first();
  EXPECT_EQ(it.user_key(), k2);  // a prefix sorts first
  it.next();
  EXPECT_EQ(it.user_key(), k1);
}

// ---- Concurrency: one writer, several lock-free readers ----

std::string conc_key(uint64_t i) { return "key" + std::to_string(i % 997 * 7919 % 997); }
std::string conc_value(const std::string& uk, uint64_t seq) {
  return "v" + std::to_string(seq) + "/" + uk + std::string(seq % 37, 'x');
}

TEST(MemtableConcurrency, ReadersSeeSortedCompleteEntriesThatStayVisible) {
  constexpr uint64_t kEntries = 30000;
  Memtable mem(4096);  // small blocks: many block switches during the run
  std::atomic<uint64_t> published{0};  // entries with index < published are in
  std::atomic<bool> failed{false};

  auto reader = [&](uint64_t seed) {
    Random rnd(seed);
    std::vector<std::pair<std::string, uint64_t>> seen;  // sampled (user key, seq)
    while (!failed.load()) {
      const uint64_t before = published.load(std::memory_order_acquire);
      // A full scan: strictly sorted, each value matches its key and seq,
      // and at least everything published before the scan started.
      Memtable::Iterator it(&mem);
      std::string prev;
      uint64_t n = 0;
      for (it.seek_to_first(); it.valid(); it.next()) {
        if (!prev.empty() && compare_internal_keys(prev, it.key()) >= 0) failed = true;
        if (it.value() != conc_value(std::string(it.user_key()), it.sequence())) failed = true;
        if (rnd.chance(0.001)) seen.emplace_back(std::string(it.user_key()), it.sequence());
        prev = std::string(it.key());
        n++;
      }
      if (n < before) failed = true;
      // Point reads of published entries find exactly them.
      for (int i = 0; i < 200 && before > 0; i++) {
        uint64_t idx = rnd.uniform(before);
        std::string uk = conc_key(idx);
        auto e = mem.get(uk, idx + 1);
        if (!e || e->sequence != idx + 1 || e->value != conc_value(uk, idx + 1)) failed = true;
        auto latest = mem.get(uk);
        if (!latest || latest->sequence < idx + 1) failed = true;
      }
      // Entries seen earlier are still there.
      for (const auto& [uk, seq] : seen) {
        auto e = mem.get(uk, seq);
        if (!e || e->sequence != seq) failed = true;
      }
      if (before == kEntries) break;
    }
  };

  std::vector<std::thread> readers;
  for (uint64_t r = 0; r < 3; r++) readers.emplace_back(reader, 100 + r);
  for (uint64_t i = 0; i < kEntries && !failed.load(); i++) {
    std::string uk = conc_key(i);
    Status st = mem.add(i + 1, ValueKind::kPut, uk, conc_value(uk, i + 1));
    if (!st.ok()) failed = true;
    published.store(i + 1, std::memory_order_release);
  }
  for (auto& t : readers) t.join();
  EXPECT_FALSE(failed.load());
  EXPECT_EQ(mem.entry_count(), kEntries);
}

// ---- Memory accounting ----

TEST(Memtable, MemoryUsageGrowsWithInsertsAndIsInTheRightBallpark) {
  Memtable mem;
  const size_t start = mem.approximate_memory_usage();
  EXPECT_LT(start, 2 * Arena::kDefaultBlockSize);  // just the head node's block
  Random rnd(11);
  size_t last = start;
  constexpr int kN = 20000;
  for (int i = 0; i < kN; i++) {
    std::string k = rnd.bytes(16);
    ASSERT_TRUE(mem.add(i + 1, ValueKind::kPut, k, rnd.bytes(100)).ok());
    size_t u = mem.approximate_memory_usage();
    ASSERT_GE(u, last);
    last = u;
  }
  const size_t raw = size_t{kN} * (16 + 100);
  EXPECT_EQ(mem.raw_key_bytes() + mem.raw_value_bytes(), raw);
  EXPECT_GE(last, raw);
  // Per entry: an 8-byte trailer, two varints, a node header and on average
  // 4/3 next pointers: well under the payload itself.
  EXPECT_LE(last, raw * 3 / 2 + 2 * Arena::kDefaultBlockSize);

  // A large value is accounted in full.
  ASSERT_TRUE(mem.add(kN + 1, ValueKind::kPut, "big", std::string(1 << 20, 'b')).ok());
  EXPECT_GE(mem.approximate_memory_usage() - last, size_t{1} << 20);
  EXPECT_LT(mem.approximate_memory_usage() - last, (size_t{1} << 20) + 4096);
}

}  // namespace
}  // namespace isle
