// ShardedLru<V>: the in-memory, byte-budgeted, thread-safe LRU with
// singleflight loading that BlockCache and BlobCache are built on
// (internal to the cache component).
//
// Invariants:
//   - The key space is split over 2^shard_bits shards by xxh3 of the key;
//     each shard has its own mutex, its own LRU list and capacity / shards
//     bytes (the remainder spread over the first shards). In every shard,
//     the sum of the charges of the entries it holds is <= its capacity at
//     all times; a value whose charge exceeds its shard's capacity is
//     returned to the caller but not kept (counted as rejected).
//   - Values are shared pointers (or other cheap copies): an evicted value
//     stays alive for whoever still holds it, but is no longer charged.
//   - get_or_load: at most one load per key is in flight. Callers that miss
//     while a load for the key is in flight wait for it and share its
//     result (value or error). Errors are never stored, so the next miss
//     after a failed load loads again.
//   - Capacity 0 keeps nothing, but concurrent misses are still coalesced.
//   - load() runs without any lock held, so it may be slow and may use the
//     same cache for other keys (not for its own key: that would wait for
//     itself).
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <iterator>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cache/cache_stats.h"
#include "isle/status.h"
#include "util/hash.h"

namespace isle::cache_internal {

// Shard count for a capacity when the caller does not choose: up to 16
// shards, each at least 1 MiB, so small caches stay one exact LRU.
inline int default_shard_bits(uint64_t capacity_bytes) {
  int bits = 0;
  while (bits < 4 && (capacity_bytes >> (bits + 1)) >= (uint64_t{1} << 20)) bits++;
  return bits;
}

template <typename V>
class ShardedLru {
 public:
  using Loader = std::function<Result<V>()>;
  // The bytes an entry is charged (its value plus bookkeeping).
  using ChargeFn = uint64_t (*)(std::string_view key, const V& value);

  // shard_bits < 0 picks default_shard_bits(capacity); at most 8. A value
  // charged more than max_charge is never kept (counted as rejected), like
  // one larger than its shard.
  ShardedLru(uint64_t capacity_bytes, int shard_bits, ChargeFn charge,
             uint64_t max_charge = UINT64_MAX)
      : capacity_(capacity_bytes), max_charge_(max_charge), charge_(charge) {
    if (shard_bits < 0) shard_bits = default_shard_bits(capacity_bytes);
    shard_bits_ = std::min(shard_bits, 8);
    const uint64_t n = uint64_t{1} << shard_bits_;
    shards_.reserve(n);
    for (uint64_t i = 0; i < n; i++) {
      auto s = std::make_unique<Shard>();
      s->capacity = capacity_bytes / n + (i < capacity_bytes % n ? 1 : 0);
      shards_.push_back(std::move(s));
    }
  }

  ShardedLru(const ShardedLru&) = delete;
  ShardedLru& operator=(const ShardedLru&) = delete;

  // The cached value (refreshed to most recently used), or nullopt.
  // Counts a hit or a miss.
  std::optional<V> lookup(std::string_view key) {
    Shard& s = shard_for(key);
    std::lock_guard<std::mutex> lock(s.mu);
    V v;
    if (lookup_locked(s, key, &v)) return v;
    s.stats.misses++;
    return std::nullopt;
  }

  // Stores a value (replacing an older one), evicting least recently used
  // entries to fit.
  void insert(std::string_view key, V value) {
    Shard& s = shard_for(key);
    std::lock_guard<std::mutex> lock(s.mu);
    insert_locked(s, key, std::move(value));
  }

  void erase(std::string_view key) {
    Shard& s = shard_for(key);
    std::lock_guard<std::mutex> lock(s.mu);
    if (auto it = s.index.find(key); it != s.index.end()) remove_locked(s, it->second);
  }

  // See the file comment. If load() throws, waiters get Aborted and the
  // exception propagates to the loading caller.
  Result<V> get_or_load(std::string_view key, const Loader& load) {
    Shard& s = shard_for(key);
    std::unique_lock<std::mutex> lock(s.mu);
    V v;
    if (lookup_locked(s, key, &v)) return v;
    s.stats.misses++;
    std::string k(key);
    if (auto f = s.flights.find(k); f != s.flights.end()) {
      std::shared_ptr<Flight> flight = f->second;
      s.stats.coalesced_waits++;
      flight->cv.wait(lock, [&] { return flight->done; });
      return *flight->result;
    }
    auto flight = std::make_shared<Flight>();
    s.flights.emplace(k, flight);
    s.stats.loads++;
    lock.unlock();

    std::optional<Result<V>> r;
    try {
      r.emplace(load());
    } catch (...) {
      finish(s, k, *flight, Status::Aborted("cache loader threw an exception"));
      throw;
    }
    finish(s, k, *flight, *r);
    return std::move(*r);
  }

  CacheStats stats() const {
    CacheStats t;
    for (const auto& s : shards_) {
      std::lock_guard<std::mutex> lock(s->mu);
      const CacheStats& c = s->stats;
      t.hits += c.hits;
      t.misses += c.misses;
      t.loads += c.loads;
      t.load_errors += c.load_errors;
      t.coalesced_waits += c.coalesced_waits;
      t.inserts += c.inserts;
      t.rejected += c.rejected;
      t.evictions += c.evictions;
      t.bytes_used += s->used;
      t.entries += s->index.size();
    }
    t.capacity_bytes = capacity_;
    return t;
  }

  uint64_t capacity() const { return capacity_; }
  int shard_bits() const { return shard_bits_; }

 private:
  struct Node {
    std::string key;
    V value;
    uint64_t charge = 0;
  };
  using NodeIt = typename std::list<Node>::iterator;

  struct Flight {
    bool done = false;
    std::optional<Result<V>> result;
    std::condition_variable cv;  // waits on the shard's mutex
  };

  struct Shard {
    mutable std::mutex mu;
    uint64_t capacity = 0;
    uint64_t used = 0;
    std::list<Node> lru;  // front = most recently used
    // Keys view Node::key (list nodes never move).
    std::unordered_map<std::string_view, NodeIt> index;
    std::unordered_map<std::string, std::shared_ptr<Flight>> flights;
    CacheStats stats;  // counters; the current-state fields are computed
  };

  Shard& shard_for(std::string_view key) {
    if (shard_bits_ == 0) return *shards_[0];
    return *shards_[xxh3_64(key) >> (64 - shard_bits_)];
  }

  bool lookup_locked(Shard& s, std::string_view key, V* out) {
    auto it = s.index.find(key);
    if (it == s.index.end()) return false;
    s.lru.splice(s.lru.begin(), s.lru, it->second);
    s.stats.hits++;
    *out = it->second->value;
    return true;
  }

  void remove_locked(Shard& s, NodeIt node) {
    s.used -= node->charge;
    s.index.erase(std::string_view(node->key));
    s.lru.erase(node);
  }

  void insert_locked(Shard& s, std::string_view key, V value) {
    if (auto it = s.index.find(key); it != s.index.end()) remove_locked(s, it->second);
    const uint64_t charge = charge_(key, value);
    if (charge > s.capacity || charge > max_charge_) {
      s.stats.rejected++;
      return;
    }
    while (s.used + charge > s.capacity) {
      remove_locked(s, std::prev(s.lru.end()));
      s.stats.evictions++;
    }
    s.lru.push_front(Node{std::string(key), std::move(value), charge});
    s.index.emplace(std::string_view(s.lru.front().key), s.lru.begin());
    s.used += charge;
    s.stats.inserts++;
  }

  // Publishes a load's result to its waiters and caches a value.
  void finish(Shard& s, const std::string& key, Flight& flight, const Result<V>& r) {
    {
      std::lock_guard<std::mutex> lock(s.mu);
      if (r.ok()) {
        insert_locked(s, key, r.value());
      } else {
        s.stats.load_errors++;
      }
      flight.result.emplace(r);
      flight.done = true;
      s.flights.erase(key);
      // Waiters re-check `done` under this mutex, so none can miss this.
      flight.cv.notify_all();
    }
  }

  const uint64_t capacity_;
  const uint64_t max_charge_;
  int shard_bits_ = 0;
  ChargeFn charge_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace isle::cache_internal
