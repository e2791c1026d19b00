// ReadAheadLogStorage: a ManifestStorage for a reader's replay that, each
// time a log entry is found, starts GETs of the next `depth` positions on
// other threads, so that a refresh walking several new entries (or entries
// landing while it walks) reads them in parallel instead of one round trip
// each. Used by the TailingReader, whose refresh is on the put → handler
// path (docs/tailing.md, "Polling").
//
// Invariants:
//   * read_log(p) returns only the result of a GET of exactly p;
//   * a found entry is used whenever its GET was sent (log entries are
//     create-only and immutable while above log_seq_start, which a
//     position beyond the replay's end is);
//   * a NotFound or an error from a read ahead is never used: the position
//     is read again, now. So a refresh's view never rests on a 404 sent
//     before the refresh began (issue 8's fresh starting view);
//   * at most `depth` reads ahead in flight or waiting to be used; the
//     destructor waits for those in flight.
// Everything but read_log passes through. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "isle/manifest_storage.h"

namespace isle {

class ReadAheadLogStorage : public ManifestStorage {
 public:
  ReadAheadLogStorage(ManifestStoragePtr inner, uint64_t depth)
      : inner_(std::move(inner)), depth_(depth) {}
  ~ReadAheadLogStorage() override {
    std::lock_guard lk(mu_);
    for (auto& [pos, f] : ahead_) f.wait();
  }

  Result<std::string> read_log(uint64_t pos) override {
    std::shared_future<Result<std::string>> early;
    {
      std::lock_guard lk(mu_);
      auto it = ahead_.find(pos);
      if (it != ahead_.end()) {
        early = it->second;
        ahead_.erase(it);
      }
      // Reads ahead of positions the replay has passed are never used.
      while (!ahead_.empty() && ahead_.begin()->first < pos) ahead_.erase(ahead_.begin());
    }
    if (early.valid() && early.get().ok()) {
      read_ahead(pos);
      return early.get();
    }
    auto r = inner_->read_log(pos);
    if (r.ok()) read_ahead(pos);
    return r;
  }

  Result<VersionedObject> read_current(std::string_view if_none_match = {}) override {
    return inner_->read_current(if_none_match);
  }
  Result<std::string> write_current(std::string_view data,
                                    std::string_view expected_etag) override {
    return inner_->write_current(data, expected_etag);
  }
  Status create_log(uint64_t pos, std::string_view data) override {
    return inner_->create_log(pos, data);
  }
  Result<std::string> read_snapshot(uint64_t pos) override { return inner_->read_snapshot(pos); }
  Status create_snapshot(uint64_t pos, std::string_view data) override {
    return inner_->create_snapshot(pos, data);
  }
  Result<std::vector<uint64_t>> list_log_positions(uint64_t limit) override {
    return inner_->list_log_positions(limit);
  }
  Result<std::vector<uint64_t>> list_snapshot_positions(uint64_t limit) override {
    return inner_->list_snapshot_positions(limit);
  }
  Result<std::vector<uint64_t>> delete_logs(const std::vector<uint64_t>& positions) override {
    return inner_->delete_logs(positions);
  }
  Result<std::vector<uint64_t>> delete_snapshots(const std::vector<uint64_t>& positions) override {
    return inner_->delete_snapshots(positions);
  }
  std::string describe() const override { return inner_->describe(); }

 private:
  // Position `found` exists: read found+1 .. found+depth_ ahead.
  void read_ahead(uint64_t found) {
    std::lock_guard lk(mu_);
    for (uint64_t p = found + 1; p <= found + depth_; p++) {
      auto it = ahead_.find(p);
      if (it != ahead_.end()) {
        // A read still in flight, or one that found its entry, is kept; a
        // finished one that did not (a 404 sent earlier) is sent again.
        if (it->second.wait_for(std::chrono::seconds(0)) != std::future_status::ready ||
            it->second.get().ok()) {
          continue;
        }
        ahead_.erase(it);
      }
      ahead_.emplace(p, std::async(std::launch::async,
                                   [inner = inner_, p] { return inner->read_log(p); })
                            .share());
    }
  }

  const ManifestStoragePtr inner_;
  const uint64_t depth_;
  std::mutex mu_;
  std::map<uint64_t, std::shared_future<Result<std::string>>> ahead_;
};

}  // namespace isle
