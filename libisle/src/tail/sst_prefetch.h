// SstPrefetcher: fetches the SSTs of the data entries a changes tail is
// about to deliver several at a time, while the tail delivers the entry
// before them. One per walk of a tail over the log (not shared).
//
// Invariants:
//   * at most kMaxRequests fetches in flight, and at most kMaxBytes of SST
//     bytes (the manifest's sizes) started and not yet awaited: the memory
//     a walk holds ahead of delivery is bounded in bytes and requests;
//   * each position is fetched at most once by the prefetcher, and the tail
//     await()s a position before fetching it itself, so a prefetched SST
//     is never fetched twice at the same time;
//   * the fetch function stores what it fetched where the tail looks first
//     (the feed's SST cache) and reports nothing: a failed prefetch is
//     simply fetched again by the tail, which then sees the error itself;
//   * the destructor waits for the fetches in flight (each is one GET with
//     the store's retries), so nothing outlives the walk.
#pragma once

#include <cstdint>
#include <chrono>
#include <functional>
#include <future>
#include <map>

#include "manifest/manifest_types.h"

namespace isle {

class SstPrefetcher {
 public:
  static constexpr size_t kMaxRequests = 4;
  static constexpr uint64_t kMaxBytes = uint64_t{8} << 20;

  using Fetch = std::function<void(const SstMeta& m, uint64_t pos)>;
  explicit SstPrefetcher(Fetch fetch) : fetch_(std::move(fetch)) {}
  ~SstPrefetcher() {
    for (auto& [pos, f] : pending_) f.done.wait();
  }
  SstPrefetcher(const SstPrefetcher&) = delete;
  SstPrefetcher& operator=(const SstPrefetcher&) = delete;

  // Whether one more fetch of `size` bytes fits the bounds now.
  bool has_room(uint64_t size) {
    return in_flight() < kMaxRequests && bytes_ + size <= kMaxBytes;
  }
  // Starts fetching `m` (published at `pos`) on its own thread; the caller
  // checked has_room(m.size). A position already started is not started
  // again.
  void start(uint64_t pos, const SstMeta& m) {
    if (pending_.count(pos)) return;
    Pending p;
    p.size = m.size;
    p.done = std::async(std::launch::async, [this, m, pos] { fetch_(m, pos); });
    bytes_ += m.size;
    pending_.emplace(pos, std::move(p));
  }
  // Waits for the fetch of `pos` if one was started, and forgets it (its
  // bytes no longer count against kMaxBytes: the tail is consuming them).
  void await(uint64_t pos) {
    auto it = pending_.find(pos);
    if (it == pending_.end()) return;
    it->second.done.wait();
    bytes_ -= it->second.size;
    pending_.erase(it);
  }

 private:
  struct Pending {
    uint64_t size = 0;
    std::future<void> done;
  };
  size_t in_flight() const {
    size_t n = 0;
    for (const auto& [pos, p] : pending_) {
      if (p.done.wait_for(std::chrono::seconds(0)) != std::future_status::ready) n++;
    }
    return n;
  }

  const Fetch fetch_;
  std::map<uint64_t, Pending> pending_;
  uint64_t bytes_ = 0;
};

}  // namespace isle
