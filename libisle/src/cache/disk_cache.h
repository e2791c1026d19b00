// DiskCache: a byte-budgeted cache of immutable byte strings in a local
// folder (the `cache_dir` of DESIGN §7). It survives restarts, and every
// entry is verified before it is returned. File layout: docs/format/disk-cache.md.
//
// Contract:
//   - Keys are arbitrary byte strings of at most kMaxKeySize bytes (e.g.
//     "sst/<id>/<offset>-<len>", "blob/<sha256>"); a key must always name
//     the same bytes (the cache never checks freshness, only integrity).
//   - get() returns exactly the bytes a put() of the same key stored, or
//     nullopt. An entry that fails verification (header, lengths, stored
//     key, xxh3 checksum) is deleted, counted in stats().corruptions and
//     reported as a miss: corrupt bytes are never returned. A file holding
//     another key (a file-name hash collision) is a plain miss.
//   - put() is best effort: an I/O failure is counted (io_errors) and
//     otherwise ignored; a value whose file would exceed the budget is not
//     stored (rejected). An entry appears atomically (temp file + rename),
//     so a crash never leaves a torn entry under an entry name.
//   - The sum of the sizes of the entry files (header + key + payload) is
//     <= the budget whenever no put() is in progress; eviction drops the
//     least recently used entries (recency = file mtime, refreshed on every
//     hit, so it survives restarts).
//   - open() takes an exclusive lock on the folder (flock on <dir>/LOCK):
//     one DiskCache per folder at a time, across threads and processes.
//     It deletes leftover temp files and entry files that fail the header
//     checks, rebuilds the LRU from mtimes and evicts down to the budget.
//     Payloads are checked lazily, on get().
//   - Durability is not promised: files are not fsynced. After a power
//     loss an entry may be missing or fail verification, never wrong.
//
// Thread-safe: get/put/erase may be called from many threads; file reads
// and writes happen outside the internal lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "cache/cache_stats.h"
#include "isle/status.h"

namespace isle {

class DiskCache {
 public:
  static constexpr size_t kHeaderSize = 40;
  static constexpr size_t kMaxKeySize = 4096;

  // Opens (creating if needed) the cache folder `dir`. IOError when the
  // folder cannot be created or scanned, or is locked by another DiskCache.
  static Result<std::shared_ptr<DiskCache>> open(std::string dir, uint64_t budget_bytes);

  ~DiskCache();
  DiskCache(const DiskCache&) = delete;
  DiskCache& operator=(const DiskCache&) = delete;

  // The verified bytes stored for `key`, or nullopt (see the contract).
  std::optional<std::string> get(std::string_view key);
  // Stores `bytes` under `key`, replacing any entry in the same file, then
  // evicts to the budget.
  void put(std::string_view key, std::string_view bytes);
  // Deletes the entry for `key`, if any (a caller that found the bytes
  // wrong by its own checks).
  void erase(std::string_view key);

  CacheStats stats() const;
  const std::string& dir() const { return dir_; }
  uint64_t budget() const { return budget_; }

  // The file that holds (or would hold) `key`:
  // <dir>/<first 2 hex>/<32 hex of XXH3-128(key)>.
  std::string path_of(std::string_view key) const;
  // Size of the entry file for a key and payload of these sizes.
  static uint64_t entry_size(size_t key_size, size_t payload_size) {
    return kHeaderSize + key_size + payload_size;
  }

 private:
  struct Entry {
    uint64_t bytes = 0;       // file size
    uint64_t generation = 0;  // changes whenever the file is replaced
    std::list<std::string>::iterator pos;
  };
  enum class ReadOutcome { kOk, kMissing, kCorrupt, kOtherKey, kIOError };

  DiskCache(std::string dir, uint64_t budget, int lock_fd);
  Status scan();
  // Under mu_: drops an entry from the index and deletes its file.
  void remove_locked(std::unordered_map<std::string, Entry>::iterator it, bool unlink_file);
  void evict_locked();
  // Reads and verifies one entry file; on kOk fills *payload and refreshes
  // the file's mtime.
  ReadOutcome read_entry(const std::string& path, std::string_view key, std::string* payload);
  std::string path_of_name(const std::string& name) const;

  const std::string dir_;
  const uint64_t budget_;
  const int lock_fd_;
  std::atomic<uint64_t> tmp_counter_{0};  // temp file names (the folder lock makes them unique)

  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> index_;  // by file name (32 hex)
  std::list<std::string> lru_;                    // file names, front = most recent
  uint64_t used_ = 0;
  uint64_t next_generation_ = 1;
  CacheStats stats_;  // counters; current-state fields are filled by stats()
};

}  // namespace isle
