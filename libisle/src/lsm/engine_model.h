// The engine's model-based test bench (used by engine_model_test.cc and
// by the maintenance roles' tests): seeded random sequences of puts,
// deletes, TTL puts, atomic batches, flushes, reader refreshes, clock
// moves, and writer crashes (dropped without flushing) with reopen, checked
// against a std::map model after every refresh. The FaultModel suite runs
// the same workload with random store faults (failed, delayed and
// applied-but-response-lost requests) on every path.
//
// What the model knows: every write the writer accepted, with its
// sequence number. Commits are whole memtables in sequence order, so the
// state a reader may show is exactly "every surviving write with sequence
// <= the view's last_seq" (a crash removes the writes that never became
// durable). The checks:
//   * reads (get, multi_get, scans with random bounds, iterator seeks)
//     equal the model at the view's last_seq, with TTL applied at the
//     reader's clock;
//   * no acknowledged durable write is lost (durable_seq never falls
//     below what flush()/await_durable acknowledged);
//   * no atomic batch is visible in part (the view's last_seq never falls
//     inside a surviving batch);
//   * nothing is applied twice (L0 and inline SST ids unique, sequence
//     ranges disjoint: a materialized SST never coexists with its inputs).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <set>

#include "engine_test_util.h"
#include "isle/db.h"
#include "testutil/testutil.h"
#include "util/random.h"

namespace isle::testing {

using namespace std::chrono_literals;

struct ModelOp {
  uint64_t seq = 0;
  std::string key;
  bool is_delete = false;
  std::string value;
  uint64_t expires_at_ms = 0;  // 0 = never
};

class Model {
 public:
  void add(ModelOp op) { ops_.push_back(std::move(op)); }
  void add_batch(uint64_t first, uint64_t last) { batches_.push_back({first, last}); }
  // A crash: writes above the durable sequence are gone.
  void drop_above(uint64_t durable) {
    std::erase_if(ops_, [&](const ModelOp& o) { return o.seq > durable; });
    std::erase_if(batches_, [&](const auto& b) { return b.first > durable; });
  }
  std::map<std::string, std::string> state_at(uint64_t last_seq, uint64_t now) const {
    std::map<std::string, const ModelOp*> newest;
    for (const auto& o : ops_) {
      if (o.seq > last_seq) continue;
      auto& slot = newest[o.key];
      if (!slot || slot->seq < o.seq) slot = &o;
    }
    std::map<std::string, std::string> out;
    for (const auto& [k, o] : newest) {
      if (o->is_delete) continue;
      if (o->expires_at_ms != 0 && o->expires_at_ms <= now) continue;
      out[k] = o->value;
    }
    return out;
  }
  // True when last_seq splits a surviving atomic batch.
  bool splits_a_batch(uint64_t last_seq) const {
    for (const auto& [a, b] : batches_)
      if (a <= last_seq && last_seq < b) return true;
    return false;
  }

 private:
  std::vector<ModelOp> ops_;
  std::vector<std::pair<uint64_t, uint64_t>> batches_;
};

inline std::string random_key(Random& rnd) {
  // A small keyspace with keys that prefix each other and contain 0x00.
  static const char* kStems[] = {"a", "ab", "abc", "b", "k", "key", "z"};
  std::string k = kStems[rnd.uniform(7)];
  const uint64_t n = rnd.uniform(12);
  if (rnd.chance(0.2)) k += '\0';
  k += std::to_string(n);
  return k;
}

inline std::string random_value(Random& rnd, size_t blob_threshold) {
  if (rnd.chance(0.03)) return std::string(blob_threshold + rnd.uniform(100), 'B');
  return rnd.bytes(rnd.uniform(40));
}

struct RunConfig {
  int ops = 80;
  bool faults = false;
  // Another role to drive as one of the random operations (the
  // compactor, retention): called once after the writer opened, it
  // returns the step to run. A step may fail with a retryable error under
  // faults; any other error fails the test.
  std::function<std::function<Status()>(EngineEnv&)> extra;
  // The bucket, made anew for every seed (e.g. a fresh bucket on a real
  // S3 or Azure server); unset = a fresh MemStore.
  std::function<Result<ObjectStorePtr>()> bucket;
  // Adjusts the writer's options per seed (e.g. inline flushes off, or
  // small materialization bounds so that materialization happens often).
  std::function<void(WriterOptions&, Random&)> tune_writer;
  // When set, receives the sum of WriterStats::materializations of every
  // writer of the seed (so a suite can prove materialization happened).
  uint64_t* materializations = nullptr;
};

// Inline flushes with bounds small enough that materialization (on the
// helper thread, and forced by the bounds) happens many times per seed.
inline void frequent_materialization(WriterOptions& o, Random& rnd) {
  o.inline_max_pending_bytes = 1 + rnd.uniform(8192);
  o.inline_max_lag = std::chrono::milliseconds(rnd.uniform(4));
}
inline void inline_off(WriterOptions& o, Random&) { o.inline_flush_max_bytes = 0; }
// Flushes in flight (WriterOptions::max_flushes_in_flight, default 1): one
// at a time (the single-flush protocol), or 2..8 per seed.
inline void one_flush_in_flight(WriterOptions& o, Random&) { o.max_flushes_in_flight = 1; }
inline void random_flushes_in_flight(WriterOptions& o, Random& rnd) {
  o.max_flushes_in_flight = 2 + static_cast<int>(rnd.uniform(7));
}

// Checks one reader against the model; returns false (with a failure
// recorded) on the first mismatch.
inline void check_reader(Reader& r, const Model& model, const EngineEnv& env, Random& rnd,
                  const std::string& where) {
  const ManifestInfo info = r.manifest();
  const auto now = static_cast<uint64_t>(const_cast<ManualClock&>(env.clock).now_ms());
  const auto want = model.state_at(info.last_seq, now);
  ASSERT_FALSE(model.splits_a_batch(info.last_seq)) << where << ": partial batch visible";
  std::set<std::string> ids;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto* tier : {&info.l0, &info.inline_ssts}) {
    for (const auto& t : *tier) {
      ASSERT_TRUE(ids.insert(t.id).second) << where << ": SST applied twice";
      ranges.push_back({t.seq_lo, t.seq_hi});
    }
  }
  // Inline SSTs are newer than every L0 SST.
  for (const auto& i : info.inline_ssts)
    for (const auto& t : info.l0) ASSERT_GT(i.seq_lo, t.seq_hi) << where << ": inline below L0";
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); i++) {
    ASSERT_GT(ranges[i].first, ranges[i - 1].second) << where << ": overlapping flushes";
  }

  auto all = r.scan("", "");
  ASSERT_TRUE(all.ok()) << where << ": " << all.status().to_string();
  std::map<std::string, std::string> got;
  for (auto& kv : *all) got[kv.key] = kv.value;
  ASSERT_EQ(got, want) << where << ": full scan (view last_seq " << info.last_seq << ")";

  // Point reads, present and absent keys.
  std::vector<std::string> keys;
  for (int i = 0; i < 8; i++) keys.push_back(random_key(rnd));
  auto mg = r.multi_get(keys);
  ASSERT_TRUE(mg.ok()) << mg.status().to_string();
  for (size_t i = 0; i < keys.size(); i++) {
    auto it = want.find(keys[i]);
    const std::optional<std::string> expect =
        it == want.end() ? std::nullopt : std::optional<std::string>(it->second);
    ASSERT_EQ((*mg)[i], expect) << where << ": multi_get";
    auto g = r.get(keys[i]);
    ASSERT_TRUE(g.ok()) << g.status().to_string();
    ASSERT_EQ(*g, expect) << where << ": get";
  }

  // A bounded scan with a limit, and an iterator seek.
  std::string lo = random_key(rnd), hi = random_key(rnd);
  if (hi < lo) std::swap(lo, hi);
  const size_t limit = 1 + rnd.uniform(5);
  auto part = r.scan_limit(lo, hi, limit);
  ASSERT_TRUE(part.ok());
  std::vector<KeyValue> expect_part;
  for (auto it = want.lower_bound(lo); it != want.end() && it->first < hi && expect_part.size() < limit; ++it) {
    expect_part.push_back({it->first, it->second});
  }
  ASSERT_EQ(*part, expect_part) << where << ": scan_limit";
  auto iter = r.iterator();
  const std::string target = random_key(rnd);
  iter->seek_ge(target);
  auto wit = want.lower_bound(target);
  for (int steps = 0; steps < 3; steps++, ++wit) {
    if (wit == want.end()) {
      ASSERT_FALSE(iter->valid()) << where << ": iterator past the end";
      break;
    }
    ASSERT_TRUE(iter->valid()) << where << ": " << iter->status().to_string();
    ASSERT_EQ(iter->key(), wit->first);
    ASSERT_EQ(iter->value(), wit->second);
    iter->next();
  }
}

inline void run_seed(uint64_t seed, const RunConfig& cfg) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  Random rnd(seed);
  ObjectStorePtr base;
  if (cfg.bucket) {
    auto b = cfg.bucket();
    ASSERT_TRUE(b.ok()) << "no bucket: " << b.status().to_string();
    base = *b;
  }
  EngineEnv env(seed, "db", base);
  WriterOptions wo = env.writer_options();
  wo.memtable_size = 4096 + rnd.uniform(8192);  // size-triggered seals
  wo.blob_threshold = 512;
  wo.snapshot_every = 1 + static_cast<int>(rnd.uniform(6));
  wo.max_sealed_memtables = 64;
  if (cfg.tune_writer) cfg.tune_writer(wo, rnd);
  if (cfg.faults) {
    // Random faults on every request kind, each a few percent.
    const double p = 0.02 + rnd.unit() * 0.08;
    env.fault->add_rule(FaultRule::on_any().probability(p / 3).fail(Status::Transient("injected")));
    env.fault->add_rule(FaultRule::on_any().probability(p / 3).lose_response());
    env.fault->add_rule(FaultRule::on_any().probability(p / 3).delay(std::chrono::milliseconds(1)));
  }
  Model model;
  uint64_t acknowledged = 0;  // highest sequence acknowledged durable
  std::unique_ptr<Writer> w;
  for (int attempt = 0; !w && attempt < 50; attempt++) {
    auto ow = env.db().open_writer(wo);  // may fail under faults: retry
    if (ow.ok()) w = std::move(*ow);
  }
  ASSERT_TRUE(w) << "writer never opened";
  std::unique_ptr<Reader> r;
  for (int attempt = 0; !r && attempt < 50; attempt++) {
    auto orr = Reader::open(env.store, env.reader_options());
    if (orr.ok()) r = std::move(*orr);
  }
  ASSERT_TRUE(r) << "reader never opened";

  std::function<Status()> extra_step;
  if (cfg.extra) extra_step = cfg.extra(env);

  auto refresh_and_check = [&](const std::string& where) {
    Status s;
    for (int attempt = 0; attempt < 50; attempt++) {
      s = r->refresh();
      if (s.ok()) break;
      ASSERT_NE(s.code(), Code::kCorruption) << s.to_string();
    }
    ASSERT_TRUE(s.ok()) << where << ": refresh kept failing: " << s.to_string();
    check_reader(*r, model, env, rnd, where);
  };

  for (int step = 0; step < cfg.ops; step++) {
    const std::string where = "step " + std::to_string(step);
    const uint64_t dice = rnd.uniform(extra_step ? 110 : 100);
    if (dice >= 100) {
      Status s;
      for (int attempt = 0; attempt < 50; attempt++) {
        s = extra_step();
        if (s.ok() || s.code() == Code::kFenced || s.code() == Code::kCorruption ||
            s.code() == Code::kInvalidArgument) {
          break;
        }
      }
      ASSERT_TRUE(s.ok()) << where << ": extra step: " << s.to_string();
      continue;
    }
    const int64_t now = env.clock.now_ms();
    if (dice < 40) {
      ModelOp op{0, random_key(rnd), false, random_value(rnd, wo.blob_threshold), 0};
      auto s = w->put(op.key, op.value);
      ASSERT_TRUE(s.ok()) << s.status().to_string();
      op.seq = *s;
      model.add(op);
    } else if (dice < 50) {
      ModelOp op{0, random_key(rnd), true, "", 0};
      auto s = w->del(op.key);
      ASSERT_TRUE(s.ok()) << s.status().to_string();
      op.seq = *s;
      model.add(op);
    } else if (dice < 58) {
      const auto ttl = std::chrono::milliseconds(1 + rnd.uniform(50));
      ModelOp op{0, random_key(rnd), false, random_value(rnd, wo.blob_threshold),
                 static_cast<uint64_t>(now + ttl.count())};
      auto s = w->put_with_ttl(op.key, op.value, ttl);
      ASSERT_TRUE(s.ok()) << s.status().to_string();
      op.seq = *s;
      model.add(op);
    } else if (dice < 68) {
      WriteBatch b;
      std::vector<ModelOp> ops;
      const int n = 2 + static_cast<int>(rnd.uniform(8));
      for (int i = 0; i < n; i++) {
        ModelOp op{0, random_key(rnd), rnd.chance(0.2), "", 0};
        if (op.is_delete) {
          b.del(op.key);
        } else {
          op.value = random_value(rnd, wo.blob_threshold);
          b.put(op.key, op.value);
        }
        ops.push_back(op);
      }
      auto s = w->write(b);
      ASSERT_TRUE(s.ok()) << s.status().to_string();
      const uint64_t first = *s - static_cast<uint64_t>(n) + 1;
      for (int i = 0; i < n; i++) {
        ops[i].seq = first + static_cast<uint64_t>(i);
        model.add(ops[i]);
      }
      model.add_batch(first, *s);
    } else if (dice < 76) {
      const uint64_t target = w->stats().last_seq;
      ASSERT_TRUE(w->flush().ok());
      acknowledged = std::max(acknowledged, target);
    } else if (dice < 80) {
      const uint64_t target = w->stats().last_seq;
      ASSERT_TRUE(w->await_durable(target).ok());
      acknowledged = std::max(acknowledged, target);
    } else if (dice < 90) {
      ASSERT_NO_FATAL_FAILURE(refresh_and_check(where));
    } else if (dice < 94) {
      env.clock.advance_ms(static_cast<int64_t>(rnd.uniform(30)));
    } else {
      // Crash: drop the writer without flushing, then reopen.
      // A flush in flight at the crash may have committed without the
      // writer learning it, so the bucket says what survived: the view's
      // last_seq before anyone claims again (the prefix property).
      w->simulate_crash();
      if (cfg.materializations) *cfg.materializations += w->stats().materializations;
      const uint64_t known_durable = w->stats().durable_seq;
      std::unique_ptr<Reader> probe;
      for (int attempt = 0; !probe && attempt < 50; attempt++) {
        auto o = Reader::open(env.store, env.reader_options());
        if (o.ok()) probe = std::move(*o);
      }
      ASSERT_TRUE(probe) << where << ": could not open a reader after the crash";
      const uint64_t durable = probe->manifest().last_seq;
      ASSERT_GE(durable, known_durable) << where;
      ASSERT_GE(durable, acknowledged) << where << ": an acknowledged durable write was lost";
      model.drop_above(durable);
      w.reset();
      for (int attempt = 0; !w && attempt < 50; attempt++) {
        auto ow = env.db().open_writer(wo);
        if (ow.ok()) w = std::move(*ow);
      }
      ASSERT_TRUE(w) << where << ": writer never reopened";
    }
  }
  // Everything acknowledged survives; after a final flush with faults off,
  // a fresh reader sees exactly the model.
  env.fault->clear_rules();
  const uint64_t target = w->stats().last_seq;
  ASSERT_TRUE(w->flush().ok());
  acknowledged = std::max(acknowledged, target);
  ASSERT_TRUE(w->close().ok());
  if (cfg.materializations) *cfg.materializations += w->stats().materializations;
  ASSERT_NO_FATAL_FAILURE(refresh_and_check("end"));
  auto fresh = env.reader();
  ASSERT_TRUE(fresh);
  ASSERT_GE(fresh->manifest().last_seq, acknowledged);
  ASSERT_NO_FATAL_FAILURE(check_reader(*fresh, model, env, rnd, "fresh reader"));
}

}  // namespace isle::testing
