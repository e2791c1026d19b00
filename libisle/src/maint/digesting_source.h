// DigestingSource: a RandomAccessSource that computes the SHA-256 of the
// object it reads from while the reads go by, so the compactor can check
// every input it merges against its manifest entry (sha256 and size)
// without holding the input in memory or reading it twice.
//
// Invariants: bytes are hashed strictly in order. A read that continues
// exactly where the hashed prefix ends (or overlaps its end) extends the
// prefix; any other read (a seek, the tail, a chunk fetched out of order)
// is served but not hashed. finish() reads whatever the scan skipped, from
// the end of the prefix to `size`, in pieces of at most `piece` bytes, so a
// merge that stopped early still gets a whole-object digest. Memory: the
// hash state plus one piece during finish(); nothing is buffered. Thread-
// safe (a ReadAheadSource above it fetches on a background thread).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "format/sst_source.h"
#include "util/hash.h"

namespace isle {

class DigestingSource : public RandomAccessSource {
 public:
  // `size` and `sha256_hex` are the manifest's; `piece` > 0 bounds
  // finish()'s reads.
  DigestingSource(std::shared_ptr<RandomAccessSource> inner, std::string id, uint64_t size,
                  std::string sha256_hex, uint64_t piece);

  Result<std::string> read(uint64_t offset, uint64_t len) override;
  // Also learns the object's real size. When the tail is the whole object
  // and nothing was hashed yet, it is hashed at once.
  Result<TailRead> read_tail(uint64_t n) override;
  std::string name() const override { return inner_->name(); }

  // Reads the unhashed remainder, then checks size and digest: OK, or
  // Corruption "sst <id>: sha256 or size does not match the manifest"
  // (the wording of lsm/sst_verify); a failed read is returned as is.
  // Call once, after the scan.
  Status finish();

  // Bytes finish() had to read itself (tests).
  uint64_t remainder_read() const { return remainder_; }

 private:
  // Feeds `bytes` read at `offset` into the digest if they extend the
  // hashed prefix. Caller holds mu_.
  void feed_locked(uint64_t offset, const std::string& bytes);

  const std::shared_ptr<RandomAccessSource> inner_;
  const std::string id_;
  const uint64_t size_;
  const std::string want_;
  const uint64_t piece_;
  std::mutex mu_;
  Sha256 sha_;
  uint64_t hashed_ = 0;            // bytes [0, hashed_) are in sha_
  uint64_t actual_size_ = 0;       // from a tail read
  bool have_actual_size_ = false;
  uint64_t remainder_ = 0;
};

}  // namespace isle
