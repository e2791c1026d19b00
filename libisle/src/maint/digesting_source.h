// DigestingSource: a RandomAccessSource over one compaction input that
// proves every byte it serves is a byte of the object whose whole SHA-256
// and size match the manifest entry, without holding the input in memory.
//
// Granules: the object (laid out by the manifest's `size`) is split into
// granules of `granule` bytes (kGranule, 64 KiB, in the compactor; the last
// may be shorter). The inner source is only ever read in whole granules: a
// read or tail read fetches the granules covering it. The first time a
// granule is fetched its SHA-256 is recorded; every later fetch of it (a
// re-read, a seek back, the in-order pass) must hash to the same digest,
// else Corruption. Bytes are served only after their granules checked.
//
// The in-order pass: granules are fed into the whole-object digest strictly
// in order, each from a fetch whose granule digest was just recorded or
// matched. finish() fetches the granules the scan never reached, in order.
// So: served bytes == the fed bytes (per granule, by SHA-256) and the fed
// bytes hash to the manifest's sha256 — or finish() fails.
//
// Read economy: a sequential scan whose reads fall on granule edges (the
// compactor's read-ahead chunks, 4 MiB by default) reads the object once.
// Reads that do not (one block at a time, read-ahead off) are served from
// the last granule fetched when they fall in it, so a block-by-block scan
// also reads each granule once. The tail read (footer and meta blocks) and
// seeks are fetched again by the in-order pass.
//
// Memory, for an object of S bytes and G = granule: 32 * ceil(S / G) bytes
// of granule digests plus ceil(S / G) / 8 bytes of flags (a 256 MiB input:
// 128 KiB + 512 B), one cached granule (G bytes), the hash state, and during
// a read the covering granules (at most the read's length + 2 G). The
// digest table grows to the highest granule fetched, never past
// ceil(S / G) entries (S is the manifest's size). Thread-safe (a ReadAheadSource
// above it fetches on a background thread); inner reads run unlocked.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "format/sst_source.h"
#include "util/hash.h"

namespace isle {

class DigestingSource : public RandomAccessSource {
 public:
  static constexpr uint64_t kGranule = uint64_t{64} << 10;

  // `size` and `sha256_hex` are the manifest's; `granule` > 0; `piece`
  // bounds finish()'s reads (rounded up to whole granules).
  DigestingSource(std::shared_ptr<RandomAccessSource> inner, std::string id, uint64_t size,
                  std::string sha256_hex, uint64_t piece, uint64_t granule = kGranule);

  // Corruption for a range past the manifest's size, for granules that
  // differ from an earlier fetch of them, or for a short inner read.
  Result<std::string> read(uint64_t offset, uint64_t len) override;
  // Also checks the object's real size against the manifest's (Corruption
  // when they differ); total_size is the manifest's.
  Result<TailRead> read_tail(uint64_t n) override;
  std::string name() const override { return inner_->name(); }

  // Fetches the granules the in-order pass has not reached, then checks
  // size and digest: OK, or Corruption "sst <id>: sha256 or size does not
  // match the manifest" (the wording of lsm/sst_verify); a failed read is
  // returned as is. Call once, after the scan. A granule mismatch seen by
  // an earlier read is reported again here.
  Status finish();

  // Bytes finish() had to read itself, and bytes fetched from the inner
  // source in all (tests).
  uint64_t remainder_read() const;
  uint64_t bytes_fetched() const;

 private:
  // Checks the granules held in `bytes` (which starts at granule `first`
  // and ends at a granule edge or the object's end): records or compares
  // each digest, then feeds the granules that continue the in-order pass.
  // Caller holds mu_.
  Status check_locked(uint64_t first, std::string_view bytes);
  // check_locked, then keeps the last granule of `bytes` for reuse.
  Status accept_locked(uint64_t first, std::string_view bytes);
  // The granule-aligned bytes covering [offset, offset + len), checked.
  Result<std::string> covering(uint64_t offset, uint64_t len, uint64_t* span_offset);
  Status mismatch() const;
  uint64_t granule_count() const { return (size_ + granule_ - 1) / granule_; }

  const std::shared_ptr<RandomAccessSource> inner_;
  const std::string id_;
  const uint64_t size_;
  const std::string want_;
  const uint64_t granule_;
  const uint64_t piece_;
  mutable std::mutex mu_;
  Sha256 sha_;
  uint64_t fed_ = 0;  // granules [0, fed_) are in sha_
  std::vector<std::array<char, 32>> digests_;  // by granule, where seen_
  std::vector<bool> seen_;
  uint64_t cached_index_ = 0;  // the last granule fetched, kept for reuse
  std::string cached_;         // empty = none
  Status failed_;              // first granule mismatch, sticky
  bool size_checked_ = false;  // a tail read saw the object's real size
  uint64_t remainder_ = 0, fetched_ = 0;
};

}  // namespace isle
