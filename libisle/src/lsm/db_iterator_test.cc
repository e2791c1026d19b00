// DbIterator tests. The core is a model-based property test: random
// histories (puts, deletes, TTL puts some already expired, blob refs) over
// user keys that are prefixes of each other and contain 0x00 / 0xff bytes,
// split across memtables, L0 SSTs and sorted runs (concat iterators over
// SSTs), merged, and compared with a std::map computed from the history:
// full scans, seek_ge + next from random keys, random bounds, snapshots and
// clocks. The merged internal stream itself is also checked against the
// sorted history. Focused tests cover tombstones/expiry hiding older
// versions, blob resolution and its errors, corrupt values and child
// errors.
//
// More seeds: ISLE_TEST_SEEDS=3000 (replay one with ISLE_TEST_SEED_BASE).
#include "lsm/db_iterator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "format/sst_reader.h"
#include "format/sst_test_util.h"
#include "lsm/concat_iterator.h"
#include "lsm/memtable.h"
#include "lsm/merging_iterator.h"
#include "testutil/testutil.h"
#include "util/random.h"

namespace isle {
namespace {

using namespace std::string_literals;

// ---- the history and its model ----

struct Op {
  std::string user_key;
  uint64_t seq = 0;
  ValueKind kind = ValueKind::kPut;
  std::string payload;
  uint64_t expires_at_ms = 0;  // 0 = none

  std::string ikey() const { return make_internal_key(user_key, seq, kind, expires_at_ms != 0); }
  std::string stored() const {
    std::string v;
    encode_entry_value(&v, payload, expires_at_ms != 0, expires_at_ms);
    return v;
  }
};

struct Visible {
  std::string value;
  uint64_t seq;
  uint64_t expires_at_ms;
  friend bool operator==(const Visible&, const Visible&) = default;
};
using Model = std::map<std::string, Visible>;

std::string resolved(std::string_view ref) { return "blob:" + std::string(ref); }

// What a reader at `snapshot` and `now` sees, straight from the history.
Model model_view(const std::vector<Op>& history, uint64_t snapshot, uint64_t now) {
  std::map<std::string, const Op*> newest;
  for (const Op& op : history) {
    if (op.seq > snapshot) continue;
    const Op*& n = newest[op.user_key];
    if (n == nullptr || op.seq > n->seq) n = &op;
  }
  Model m;
  for (const auto& [uk, op] : newest) {
    if (op->kind == ValueKind::kDelete) continue;
    if (op->expires_at_ms != 0 && op->expires_at_ms <= now) continue;
    m[uk] = {op->kind == ValueKind::kBlobRef ? resolved(op->payload) : op->payload, op->seq,
             op->expires_at_ms};
  }
  return m;
}

std::string random_user_key(Random& rnd) {
  static const char kAlphabet[] = {'\0', '\x01', 'a', 'b', '\xff'};
  std::string k;
  for (size_t n = rnd.uniform(5); n > 0; n--) k.push_back(kAlphabet[rnd.uniform(sizeof kAlphabet)]);
  return k;
}

constexpr uint64_t kNow = 1'000'000;

std::vector<Op> random_history(Random& rnd, std::vector<std::string>* pool_out) {
  std::set<std::string> pool;
  const size_t n_keys = 1 + rnd.uniform(40);
  while (pool.size() < n_keys) {
    std::string k = random_user_key(rnd);
    // Prefix chains: k, k + "\0", k + "a" are all distinct keys.
    if (rnd.chance(0.3) && !pool.empty()) {
      auto it = pool.begin();
      std::advance(it, rnd.uniform(pool.size()));
      k = *it + (rnd.chance(0.5) ? "\0"s : "a"s);
    }
    pool.insert(std::move(k));
  }
  pool_out->assign(pool.begin(), pool.end());

  std::vector<Op> history;
  // Sometimes near the top of the sequence space (the longest history,
  // 1500 ops of at most +3, still ends <= kMaxSequence).
  uint64_t seq = rnd.chance(0.05) ? kMaxSequence - 3 * 1500 - 10 : rnd.uniform(10);
  const size_t n_ops = rnd.uniform(rnd.chance(0.1) ? 1500 : 300);
  for (size_t i = 0; i < n_ops; i++) {
    Op op;
    op.user_key = (*pool_out)[rnd.uniform(pool_out->size())];
    seq += 1 + rnd.uniform(3);
    op.seq = seq;
    const uint64_t r = rnd.uniform(100);
    op.kind = r < 55 ? ValueKind::kPut : r < 75 ? ValueKind::kDelete : ValueKind::kBlobRef;
    if (op.kind != ValueKind::kDelete || rnd.chance(0.2)) op.payload = rnd.bytes(rnd.skewed(24));
    if (rnd.chance(op.kind == ValueKind::kDelete ? 0.05 : 0.3)) {
      // Around now: some already expired, some exactly now, some later.
      op.expires_at_ms = rnd.chance(0.7) ? kNow - 5 + rnd.uniform(11) : 1 + rnd.uniform(2 * kNow);
    }
    history.push_back(std::move(op));
  }
  return history;
}

// ---- the sources the history is split into ----

struct Sources {
  std::vector<std::shared_ptr<Memtable>> mems;
  std::vector<std::shared_ptr<const SstReader>> l0;
  struct SortedRun {
    std::vector<RunFile> files;
    std::vector<std::shared_ptr<const SstReader>> ssts;
  };
  std::vector<SortedRun> runs;

  std::unique_ptr<InternalIterator> merged(Random& rnd) const {
    std::vector<std::unique_ptr<InternalIterator>> children;
    for (const auto& m : mems) children.push_back(new_memtable_iterator(m));
    for (const auto& s : l0) children.push_back(new_sst_iterator(s));
    for (const auto& run : runs) {
      children.push_back(new_concat_iterator(
          run.files, [ssts = run.ssts](size_t i) -> Result<std::unique_ptr<InternalIterator>> {
            return new_sst_iterator(ssts[i]);
          }));
    }
    // The merge must not depend on the children's order.
    for (size_t i = children.size(); i > 1; i--) std::swap(children[i - 1], children[rnd.uniform(i)]);
    return new_merging_iterator(std::move(children));
  }
};

Result<std::shared_ptr<const SstReader>> build(std::vector<const Op*> ops, Random& rnd) {
  std::vector<sst_testing::ModelEntry> entries;
  for (const Op* op : ops) entries.push_back({op->ikey(), op->stored()});
  sst_testing::sort_model(&entries);
  SstBuilderOptions o;
  o.block_size = 32 + rnd.uniform(512);
  o.restart_interval = 1 + static_cast<int>(rnd.uniform(16));
  o.compression = rnd.chance(0.5) ? CompressionType::kNone : CompressionType::kLz4;
  ISLE_ASSIGN_OR_RETURN(std::string bytes, sst_testing::build_sst(entries, o));
  ISLE_ASSIGN_OR_RETURN(std::unique_ptr<SstReader> r,
                        SstReader::open(std::make_shared<MemorySource>(std::move(bytes))));
  return std::shared_ptr<const SstReader>(std::move(r));
}

// Splits the history at random over memtables, L0 SSTs and sorted runs.
Result<Sources> split(const std::vector<Op>& history, Random& rnd) {
  const size_t n_mem = rnd.uniform(4), n_l0 = rnd.uniform(4), n_runs = rnd.uniform(3);
  const size_t buckets = std::max<size_t>(1, n_mem + n_l0 + n_runs);
  std::vector<std::vector<const Op*>> parts(buckets);
  for (const Op& op : history) parts[rnd.uniform(buckets)].push_back(&op);
  if (n_mem + n_l0 + n_runs == 0) {
    // Everything in one memtable.
    parts.resize(1);
  }

  Sources s;
  size_t b = 0;
  for (size_t i = 0; i < std::max<size_t>(n_mem, n_mem + n_l0 + n_runs == 0 ? 1 : 0); i++, b++) {
    auto mem = std::make_shared<Memtable>();
    for (const Op* op : parts[b]) {
      ISLE_RETURN_IF_ERROR(mem->add(op->seq, op->kind, op->user_key, op->payload, op->expires_at_ms));
    }
    s.mems.push_back(std::move(mem));
  }
  for (size_t i = 0; i < n_l0; i++, b++) {
    ISLE_ASSIGN_OR_RETURN(auto r, build(parts[b], rnd));
    s.l0.push_back(std::move(r));
  }
  for (size_t i = 0; i < n_runs; i++, b++) {
    // Group by user key, cut the key space into up to 5 contiguous files.
    std::map<std::string, std::vector<const Op*>> by_key;
    for (const Op* op : parts[b]) by_key[op->user_key].push_back(op);
    Sources::SortedRun run;
    std::vector<const Op*> file;
    std::string min_key;
    for (auto it = by_key.begin(); it != by_key.end(); ++it) {
      if (file.empty()) min_key = it->first;
      file.insert(file.end(), it->second.begin(), it->second.end());
      if (std::next(it) == by_key.end() || rnd.chance(0.3)) {
        run.files.push_back({min_key, it->first});
        ISLE_ASSIGN_OR_RETURN(auto r, build(file, rnd));
        run.ssts.push_back(std::move(r));
        file.clear();
      }
    }
    s.runs.push_back(std::move(run));
  }
  return s;
}

// ---- comparing the iterator with the model ----

struct Bounds {
  std::optional<std::string> lower, upper;
  bool contains(const std::string& k) const {
    return (!lower || k >= *lower) && (!upper || k < *upper);
  }
};

std::string describe(const std::string& k) {
  std::string out;
  for (unsigned char c : k) {
    if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
    } else {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return "\"" + out + "\"";
}

void expect_at(const DbIterator& it, Model::const_iterator m, const Model& model, const Bounds& bounds) {
  while (m != model.end() && !bounds.contains(m->first)) {
    // Past the upper bound nothing is expected; below the lower bound the
    // caller never starts.
    if (bounds.upper && m->first >= *bounds.upper) {
      m = model.end();
      break;
    }
    ++m;
  }
  ASSERT_TRUE(it.status().ok()) << it.status().to_string();
  ASSERT_EQ(it.valid(), m != model.end())
      << (it.valid() ? "unexpected key " + describe(std::string(it.key()))
                     : "missing key " + describe(m->first));
  if (!it.valid()) return;
  ASSERT_EQ(describe(std::string(it.key())), describe(m->first));
  ASSERT_EQ(it.value(), m->second.value);
  ASSERT_EQ(it.sequence(), m->second.seq);
  ASSERT_EQ(it.expires_at_ms(), m->second.expires_at_ms);
}

TEST(DbIteratorProperty, MatchesAModelOfTheHistory) {
  const int seeds = testing::seed_count(300);
  for (int s = 0; s < seeds; s++) {
    const uint64_t seed = testing::seed_base() + s;
    SCOPED_TRACE("seed " + std::to_string(seed) + " (replay: ISLE_TEST_SEED_BASE=" +
                 std::to_string(seed) + " ISLE_TEST_SEEDS=1)");
    Random rnd(seed);
    std::vector<std::string> pool;
    const std::vector<Op> history = random_history(rnd, &pool);
    auto sources = split(history, rnd);
    ASSERT_TRUE(sources.ok()) << sources.status().to_string();

    // The merged stream is exactly the sorted history.
    {
      std::vector<std::pair<std::string, std::string>> expected, got;
      for (const Op& op : history) expected.emplace_back(op.ikey(), op.stored());
      std::sort(expected.begin(), expected.end(), [](const auto& a, const auto& b) {
        return compare_internal_keys(a.first, b.first) < 0;
      });
      auto merged = sources->merged(rnd);
      for (merged->seek_to_first(); merged->valid(); merged->next()) {
        got.emplace_back(std::string(merged->key()), std::string(merged->value()));
      }
      ASSERT_TRUE(merged->status().ok()) << merged->status().to_string();
      ASSERT_EQ(got, expected);
    }

    const uint64_t max_seq = history.empty() ? 0 : history.back().seq;
    const uint64_t min_seq = history.empty() ? 0 : history.front().seq;
    auto random_key = [&]() -> std::string {
      if (pool.empty() || rnd.chance(0.3)) return random_user_key(rnd);
      std::string k = pool[rnd.uniform(pool.size())];
      if (rnd.chance(0.2)) k.push_back(rnd.chance(0.5) ? '\0' : '\xff');
      return k;
    };

    for (int round = 0; round < 8; round++) {
      DbIteratorOptions o;
      const uint64_t r = rnd.uniform(10);
      o.snapshot_seq = r < 3   ? kMaxSequence
                       : r < 4 ? min_seq - std::min<uint64_t>(min_seq, 1)
                               : min_seq + rnd.uniform(max_seq - min_seq + 2);
      o.now_ms = kNow - 6 + rnd.uniform(13);
      Bounds bounds;
      if (rnd.chance(0.4)) bounds.lower = random_key();
      if (rnd.chance(0.4)) bounds.upper = random_key();
      o.lower_bound = bounds.lower;
      o.upper_bound = bounds.upper;
      o.resolve_blob = [](std::string_view ref) -> Result<std::string> { return resolved(ref); };
      SCOPED_TRACE("round " + std::to_string(round) + " snapshot " + std::to_string(o.snapshot_seq) +
                   " now " + std::to_string(o.now_ms) + " lower " +
                   (bounds.lower ? describe(*bounds.lower) : "-") + " upper " +
                   (bounds.upper ? describe(*bounds.upper) : "-"));
      const Model model = model_view(history, o.snapshot_seq, o.now_ms);
      DbIterator it(sources->merged(rnd), o);

      // Full scan.
      Model::const_iterator m = bounds.lower ? model.lower_bound(*bounds.lower) : model.begin();
      it.seek_to_first();
      for (;;) {
        expect_at(it, m, model, bounds);
        if (HasFatalFailure()) return;
        if (!it.valid()) break;
        m = model.find(std::string(it.key()));
        ++m;
        it.next();
      }

      // seek_ge from random keys, then a few steps.
      for (int q = 0; q < 6; q++) {
        std::string target = random_key();
        SCOPED_TRACE("seek_ge " + describe(target));
        std::string start = target;
        if (bounds.lower && start < *bounds.lower) start = *bounds.lower;
        m = model.lower_bound(start);
        it.seek_ge(target);
        for (int step = 0; step < 4; step++) {
          expect_at(it, m, model, bounds);
          if (HasFatalFailure()) return;
          if (!it.valid()) break;
          m = std::next(model.find(std::string(it.key())));
          it.next();
        }
      }
    }
  }
}

// ---- focused tests ----

std::unique_ptr<InternalIterator> over(std::shared_ptr<Memtable> mem) { return new_memtable_iterator(mem); }

std::vector<std::pair<std::string, std::string>> scan(DbIterator& it) {
  std::vector<std::pair<std::string, std::string>> out;
  for (it.seek_to_first(); it.valid(); it.next()) out.emplace_back(it.key(), it.value());
  return out;
}

DbIteratorOptions at(uint64_t snapshot, uint64_t now = kNow) {
  DbIteratorOptions o;
  o.snapshot_seq = snapshot;
  o.now_ms = now;
  return o;
}

TEST(DbIterator, ANewestTombstoneOrExpiryHidesOlderVersions) {
  auto mem = std::make_shared<Memtable>();
  ASSERT_TRUE(mem->add(1, ValueKind::kPut, "a", "a1").ok());
  ASSERT_TRUE(mem->add(2, ValueKind::kDelete, "a", "").ok());
  ASSERT_TRUE(mem->add(3, ValueKind::kPut, "b", "b3").ok());
  ASSERT_TRUE(mem->add(4, ValueKind::kPut, "b", "b4", kNow).ok());      // expires exactly now
  ASSERT_TRUE(mem->add(5, ValueKind::kPut, "c", "c5", kNow + 1).ok());  // still alive
  using KV = std::vector<std::pair<std::string, std::string>>;

  DbIterator latest(over(mem), at(kMaxSequence));
  EXPECT_EQ(scan(latest), (KV{{"c", "c5"}}));
  EXPECT_TRUE(latest.status().ok());

  DbIterator before_delete(over(mem), at(1));
  EXPECT_EQ(scan(before_delete), (KV{{"a", "a1"}}));

  DbIterator before_ttl(over(mem), at(3));
  EXPECT_EQ(scan(before_ttl), (KV{{"b", "b3"}}));

  DbIterator earlier_clock(over(mem), at(kMaxSequence, kNow - 1));
  EXPECT_EQ(scan(earlier_clock), (KV{{"b", "b4"}, {"c", "c5"}}));
  earlier_clock.seek_ge("b");
  ASSERT_TRUE(earlier_clock.valid());
  EXPECT_EQ(earlier_clock.sequence(), 4u);
  EXPECT_EQ(earlier_clock.expires_at_ms(), kNow);

  DbIterator later_clock(over(mem), at(kMaxSequence, kNow + 1));
  EXPECT_EQ(scan(later_clock), KV{});
}

TEST(DbIterator, ManyVersionsAndInvisibleVersionsAreSkipped) {
  // More versions than the iterator steps over before seeking.
  auto mem = std::make_shared<Memtable>();
  for (uint64_t s = 1; s <= 50; s++) ASSERT_TRUE(mem->add(s, ValueKind::kPut, "k", "v" + std::to_string(s)).ok());
  ASSERT_TRUE(mem->add(51, ValueKind::kPut, "k\0"s, "next").ok());
  for (uint64_t snap : {0u, 1u, 7u, 20u, 50u, 60u}) {
    DbIterator it(over(mem), at(snap));
    it.seek_to_first();
    if (snap >= 1) {
      ASSERT_TRUE(it.valid());
      EXPECT_EQ(it.key(), "k");
      EXPECT_EQ(it.value(), "v" + std::to_string(std::min<uint64_t>(snap, 50)));
      it.next();
    }
    if (snap >= 51) {
      ASSERT_TRUE(it.valid());
      EXPECT_EQ(it.key(), "k\0"s);
      it.next();
    }
    EXPECT_FALSE(it.valid());
    EXPECT_TRUE(it.status().ok());
  }
}

TEST(DbIterator, BoundsAreInclusiveBelowAndExclusiveAbove) {
  auto mem = std::make_shared<Memtable>();
  uint64_t seq = 1;
  for (const char* k : {"a", "b", "c", "d"}) ASSERT_TRUE(mem->add(seq++, ValueKind::kPut, k, k).ok());
  DbIteratorOptions o = at(kMaxSequence);
  o.lower_bound = "b";
  o.upper_bound = "d";
  DbIterator it(over(mem), o);
  using KV = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(scan(it), (KV{{"b", "b"}, {"c", "c"}}));
  it.seek_ge("a");
  ASSERT_TRUE(it.valid());
  EXPECT_EQ(it.key(), "b");
  it.seek_ge("d");
  EXPECT_FALSE(it.valid());
  EXPECT_TRUE(it.status().ok());
}

TEST(DbIterator, BlobRefsAreResolvedAndResolverErrorsSurface) {
  auto mem = std::make_shared<Memtable>();
  ASSERT_TRUE(mem->add(1, ValueKind::kBlobRef, "a", "ref-a").ok());
  ASSERT_TRUE(mem->add(2, ValueKind::kBlobRef, "b", "ref-b", kNow - 1).ok());  // expired
  ASSERT_TRUE(mem->add(3, ValueKind::kPut, "c", "plain").ok());

  std::vector<std::string> asked;
  DbIteratorOptions o = at(kMaxSequence);
  o.resolve_blob = [&](std::string_view ref) -> Result<std::string> {
    asked.emplace_back(ref);
    return "bytes of " + std::string(ref);
  };
  DbIterator it(over(mem), o);
  using KV = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(scan(it), (KV{{"a", "bytes of ref-a"}, {"c", "plain"}}));
  EXPECT_EQ(asked, std::vector<std::string>{"ref-a"});  // the expired blob is not fetched

  o.resolve_blob = [](std::string_view) -> Result<std::string> { return Status::Transient("blob GET timed out"); };
  DbIterator failing(over(mem), o);
  failing.seek_to_first();
  EXPECT_FALSE(failing.valid());
  EXPECT_EQ(failing.status().code(), Code::kTransient);
  failing.seek_ge("b");  // past the blob: works again
  ASSERT_TRUE(failing.valid());
  EXPECT_EQ(failing.value(), "plain");

  DbIterator no_resolver(over(mem), at(kMaxSequence));
  no_resolver.seek_to_first();
  EXPECT_FALSE(no_resolver.valid());
  EXPECT_EQ(no_resolver.status().code(), Code::kNotSupported);
}

// A fixed list of raw entries (possibly malformed), in the given order.
class RawIterator : public InternalIterator {
 public:
  explicit RawIterator(std::vector<std::pair<std::string, std::string>> e, Status end = Status::OK())
      : e_(std::move(e)), end_(std::move(end)) {}
  bool valid() const override { return pos_ < e_.size(); }
  void seek_to_first() override { pos_ = 0; }
  void seek(std::string_view t) override {
    pos_ = 0;
    while (pos_ < e_.size() && e_[pos_].first.size() >= kInternalKeyTrailer &&
           compare_internal_keys(e_[pos_].first, t) < 0) {
      pos_++;
    }
  }
  void next() override { pos_++; }
  std::string_view key() const override { return e_[pos_].first; }
  std::string_view value() const override { return e_[pos_].second; }
  Status status() const override { return valid() ? Status::OK() : end_; }

 private:
  std::vector<std::pair<std::string, std::string>> e_;
  Status end_;
  size_t pos_ = 0;
};

TEST(DbIterator, CorruptEntriesBecomeCorruptionNotCrashes) {
  // A truncated varint expiry prefix.
  DbIterator bad_expiry(std::make_unique<RawIterator>(std::vector<std::pair<std::string, std::string>>{
                            {make_internal_key("a", 1, ValueKind::kPut, true), "\xff"}}),
                        at(kMaxSequence));
  bad_expiry.seek_to_first();
  EXPECT_FALSE(bad_expiry.valid());
  EXPECT_TRUE(bad_expiry.status().is_corruption());

  // An unknown kind and a key shorter than the trailer.
  std::string bad_kind = make_internal_key("a", 1, ValueKind::kPut);
  bad_kind[bad_kind.size() - 8] = 0x7f;
  for (const std::string& k : {bad_kind, "abc"s}) {
    DbIterator it(std::make_unique<RawIterator>(std::vector<std::pair<std::string, std::string>>{{k, "v"}}),
                  at(kMaxSequence));
    it.seek_to_first();
    EXPECT_FALSE(it.valid());
    EXPECT_TRUE(it.status().is_corruption());
  }
}

TEST(DbIterator, AChildErrorEndsTheScanWithItsStatus) {
  auto healthy = std::make_shared<Memtable>();
  ASSERT_TRUE(healthy->add(1, ValueKind::kPut, "a", "1").ok());
  ASSERT_TRUE(healthy->add(2, ValueKind::kPut, "z", "2").ok());
  std::vector<std::unique_ptr<InternalIterator>> children;
  children.push_back(new_memtable_iterator(healthy));
  children.push_back(std::make_unique<RawIterator>(
      std::vector<std::pair<std::string, std::string>>{{make_internal_key("m", 3, ValueKind::kPut), "3"}},
      Status::IOError("read failed")));
  DbIterator it(new_merging_iterator(std::move(children)), at(kMaxSequence));
  std::vector<std::string> keys;
  for (it.seek_to_first(); it.valid(); it.next()) keys.emplace_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"a", "m"}));  // "z" never shows
  EXPECT_EQ(it.status().code(), Code::kIOError);
}

}  // namespace
}  // namespace isle
