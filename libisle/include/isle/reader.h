// Reader: serves gets, scans and iterators from a database's bucket
// (DESIGN §7). Any number of readers, in any number of processes, attach
// to the same prefix; they never write.
//
// A reader holds a view: one replayed manifest state. Reads see exactly
// the flushes committed up to that view, never a partial one. refresh()
// (or the background refresh) moves the view forward, never back. An
// iterator keeps the view it was created on.
//
// Reads fetch SST blocks with ranged GETs, so a point read never downloads
// a whole SST; index and filter blocks stay pinned; blocks, blobs and
// (with cache_dir) byte ranges are cached. Expired entries (TTL) and
// deleted keys read as absent. Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "isle/object_store.h"
#include "isle/options.h"
#include "isle/status.h"

namespace isle {

struct KeyValue {
  std::string key;
  std::string value;
  friend bool operator==(const KeyValue&, const KeyValue&) = default;
};

// A user-level iterator over one view, in key order, within its bounds.
// Usage: seek_ge(k) or seek_to_first(), then while (valid()) {...; next();}
// and check status() at the end: an I/O or corruption error stops the
// iteration with valid() false and status() non-OK.
class Iterator {
 public:
  virtual ~Iterator() = default;
  virtual void seek_to_first() = 0;
  virtual void seek_ge(std::string_view key) = 0;
  virtual void next() = 0;
  virtual bool valid() const = 0;
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;
  // The sequence number of the write that produced the current entry
  // (requires valid()); 0 when the source does not know it.
  virtual uint64_t sequence() const { return 0; }
  // When the current entry expires (unix ms), if it was written with a
  // TTL (requires valid()); 0 = never, or the source does not know.
  virtual uint64_t expires_at_ms() const { return 0; }
  virtual Status status() const = 0;
};

// Whether a range's upper bound key is itself in the range. Exclusive
// ([min, max)) is the default everywhere; inclusive ([min, max]) is asked
// for by name, so a call site always says which it means.
enum class UpperBound : uint8_t { kExclusive, kInclusive };

struct IteratorOptions {
  std::optional<std::string> lower_bound;  // inclusive
  // Exclusive, unless upper_bound_inclusive: then a key equal to it is in
  // the range too, and nothing greater ("b\0" and "ba" are past "b").
  // upper_bound_inclusive without an upper_bound changes nothing.
  std::optional<std::string> upper_bound;
  bool upper_bound_inclusive = false;
};

// What a view holds, for inspection (`isle manifest show`, readerd's
// /v1/manifest).
struct TableInfo {
  std::string id;
  uint64_t size = 0;
  std::string min_key, max_key;
  uint64_t seq_lo = 0, seq_hi = 0;
  uint64_t entries = 0;
};
struct ManifestInfo {
  uint64_t log_position = 0;   // next log position the view would read
  uint64_t log_seq_start = 0;
  uint64_t last_seq = 0;       // highest committed sequence
  uint64_t data_seq = 0;       // newest write in the view's data (a change-feed cursor)
  uint64_t writer_epoch = 0, compactor_epoch = 0, retention_epoch = 0;
  std::string writer_owner;
  std::vector<TableInfo> l0;                  // oldest first
  // Inline SSTs not materialized yet (their bytes came with the manifest;
  // WriterOptions::inline_flush_max_bytes), oldest first. Newer than all
  // of l0 and runs.
  std::vector<TableInfo> inline_ssts;
  std::vector<std::vector<TableInfo>> runs;   // newest data first
  // Over the view's live SSTs (WriterOptions::lsn_extractor): the highest
  // max_lsn and the lowest min_lsn; nullopt when any live SST has no range
  // (or there are none). Computed from the replayed log, so current as of
  // log_position, not only as of CURRENT's last snapshot.
  std::optional<uint64_t> max_committed_lsn;
  std::optional<uint64_t> low_watermark_lsn;
};

struct CacheCounters {
  uint64_t hits = 0, misses = 0, evictions = 0, bytes = 0, corruptions = 0;
};
struct ReaderStats {
  CacheCounters block_cache, disk_cache, blob_cache;
  uint64_t open_tables = 0;
  uint64_t refreshes = 0;
  uint64_t refresh_errors = 0;     // refreshes (background ones too) that failed
  std::string last_refresh_error;  // empty: the last refresh succeeded
  uint64_t manifest_requests = 0;  // CURRENT + snapshot + log GETs so far
};

class Reader {
 public:
  class Impl;
  friend struct ReaderAccess;  // lsm/reader_access.h: the tailing reader's hooks
  // Opens the database under options.prefix: reads CURRENT, its snapshot
  // and the log tail. An empty bucket is a valid, empty database.
  static Result<std::unique_ptr<Reader>> open(ObjectStorePtr store, ReaderOptions options);
  explicit Reader(std::unique_ptr<Impl> impl);
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // The value, or nullopt when the key is absent, deleted or expired.
  Result<std::optional<std::string>> get(std::string_view key);
  // One result per key, in order, all from one view.
  Result<std::vector<std::optional<std::string>>> multi_get(const std::vector<std::string>& keys);

  // The current view, pinned: point reads through it all see the same
  // data however many calls they take (a long mget answered in chunks).
  // It keeps that view's tables alive while it lives; it must not outlive
  // this Reader.
  class Snapshot {
   public:
    virtual ~Snapshot() = default;
    virtual Result<std::vector<std::optional<std::string>>> multi_get(
        const std::vector<std::string>& keys) const = 0;
  };
  std::unique_ptr<Snapshot> snapshot() const;
  // Every live key in [min, max) (an empty max = no upper bound), or in
  // [min, max] with UpperBound::kInclusive (an empty max is still no upper
  // bound: the empty key cannot be written). scan_limit returns at most
  // `limit` of them, the smallest (0 = none). Each call reads one view.
  Result<std::vector<KeyValue>> scan(std::string_view min, std::string_view max);
  Result<std::vector<KeyValue>> scan(std::string_view min, std::string_view max,
                                     UpperBound upper);
  Result<std::vector<KeyValue>> scan_limit(std::string_view min, std::string_view max,
                                           size_t limit);
  Result<std::vector<KeyValue>> scan_limit(std::string_view min, std::string_view max,
                                           size_t limit, UpperBound upper);
  std::unique_ptr<Iterator> iterator(const IteratorOptions& options = {});

  // Reads new manifest entries and installs the new view. Returns OK when
  // nothing changed too. On error the old view stays.
  Status refresh();
  ManifestInfo manifest() const;
  ReaderStats stats() const;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace isle
