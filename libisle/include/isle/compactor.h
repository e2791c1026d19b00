// Compactor: merges SSTs so reads stay cheap and dead data goes away
// (DESIGN §9). It runs as its own process (compactord) or in-process, holds
// the compactor fence (never the writer's), and commits through the
// manifest log concurrently with a live writer.
//
// Policy (size-tiered, like the seed's CompactorOptions):
//   * when L0 holds at least l0_threshold SSTs, all of L0 is merged into a
//     new sorted run (the newest run);
//   * otherwise, a sequence of consecutive runs (by age) of similar size —
//     each at most size_ratio times the size of the next older one, at
//     least min_sources and at most max_sources of them — is merged into
//     one run.
// A merge keeps only the newest version of each key. Tombstones and
// expired entries are dropped only when the output holds the oldest data
// of the database (nothing older can resurface). Outputs are cut at
// target_sst_size on key boundaries; inputs that overlap nothing else are
// moved into the output run without being rewritten.
//
// Memory stays bounded and the store is kept busy: each input is read in
// read_ahead_bytes chunks through ranged GETs, its next chunk fetched in
// the background (all inputs at once) while the merge works; one output
// SST is built at a time while the previous one uploads.
// Restartable at any instant: an interrupted compaction leaves only
// uncommitted SSTs, which GC's orphan sweep removes.
//
// Integrity (docs/compaction.md, docs/format/signatures.md): every input
// that is merged is hashed as it streams in and checked against its
// manifest sha256 and size before the compaction commits (the scan's
// unread remainder is read for it), and every byte the merge used is
// checked to be a byte of that hashed object (64 KiB granules, each
// fetch's SHA-256 compared); with verify_public_key_pem every input,
// merged or moved, must carry a valid signature by one of those keys; with
// signing_key_pem every output is signed. A bad input fails the cycle with
// Corruption and commits nothing (its uploaded outputs become orphans).
// Without signing_key_pem, merging an input that carries a signature fails
// the cycle with InvalidArgument (it would turn signed data into unsigned
// data that verifying readers refuse); moved inputs keep their signature.
//
// LSN ranges (SstMeta::min_lsn/max_lsn): with lsn_extractor each output
// gets the exact range of the keys it holds; without one, an output gets
// the union of the ranges of the inputs it was merged from when every one
// of them has a range (conservative: it may be wider than the keys left).
// Moved inputs keep theirs.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "isle/object_store.h"
#include "isle/options.h"
#include "isle/status.h"

namespace isle {

struct CompactionInfo {
  std::vector<std::string> inputs;   // SST ids
  std::vector<std::string> outputs;  // SST ids (moved inputs included)
  std::vector<std::string> moved;    // inputs reused as outputs unchanged
  bool from_l0 = false;
  bool drops_tombstones = false;     // the output is the oldest data
  uint64_t input_bytes = 0;
  uint64_t output_bytes = 0;
  uint64_t entries_in = 0;
  uint64_t entries_out = 0;
  uint64_t log_position = 0;         // where it committed (0 = not committed)
  uint64_t manifest_position = 0;    // next log position of the state it last read
};

struct CompactorOptions {
  std::string owner;  // default "<hostname>:<pid>:<random>"
  int l0_threshold = 4;
  int min_sources = 2;
  int max_sources = 8;
  double size_ratio = 4.0;
  uint64_t target_sst_size = uint64_t{64} << 20;
  size_t block_size = 4096;
  int bloom_bits_per_key = 10;
  Compression compression = Compression::kLz4;
  // Inputs are read in chunks of this size, the next chunk of every input
  // fetched in the background while the current one is merged: memory is
  // about 2 * read_ahead_bytes per input, whatever the input's size.
  // 0 = no read-ahead: inputs are read synchronously, one ranged GET per
  // 64 KiB granule (the unit of input verification, see
  // docs/compaction.md), with nothing fetched in the background (for
  // stores where a request costs next to nothing, such as file://).
  uint64_t read_ahead_bytes = uint64_t{4} << 20;
  // How often the background loop (start()) looks for work.
  std::chrono::milliseconds check_interval{1000};
  // Write a manifest snapshot after this many log entries past
  // log_seq_start (0 = never).
  int snapshot_every = 64;
  std::chrono::milliseconds retry_backoff{50};
  // Ed25519 private key (PKCS#8 PEM) that signs every output SST; empty =
  // outputs unsigned, and a merge of a signed input fails with
  // InvalidArgument. Requires verify_public_key_pem (signing what was not
  // verified would vouch for whatever is in the bucket).
  std::string signing_key_pem;
  // Ed25519 public keys (one or more PUBLIC KEY PEM blocks, as
  // ReaderOptions::verify_public_key_pem): every input must be signed by
  // the key its sig_key_id names, which must be one of these or the
  // public half of signing_key_pem (the compactor re-merges its own
  // outputs); empty = no signature check (sha256 and size of merged
  // inputs are checked either way; moved inputs are not hashed).
  std::string verify_public_key_pem;
  // As WriterOptions::lsn_extractor: the LSN of a key, for exact LSN ranges
  // on outputs (see above). May be empty.
  LsnExtractor lsn_extractor;
  std::function<void(const CompactionInfo&)> on_start;
  std::function<void(const CompactionInfo&, const Status&)> on_end;
};

class Compactor {
 public:
  class Impl;
  // Claims the compactor fence (fencing a previous compactor) under the
  // database prefix of `db`.
  static Result<std::unique_ptr<Compactor>> open(ObjectStorePtr store, const DBOptions& db,
                                                 CompactorOptions options = {});
  explicit Compactor(std::unique_ptr<Impl> impl);
  ~Compactor();  // stops the background loop
  Compactor(const Compactor&) = delete;
  Compactor& operator=(const Compactor&) = delete;

  // One cycle now: refresh, pick, merge, commit. Returns what it did (no
  // inputs = nothing to do). Fenced once another compactor took over.
  Result<CompactionInfo> run_compaction();

  // Re-reads the manifest now, without compacting (a later run_compaction()
  // refreshes again anyway). Fenced once another compactor took over;
  // otherwise the refresh's error, if any. Serialized with cycles.
  Status refresh();

  // Runs cycles every check_interval on a background thread until stop()
  // or until fenced (errors go to on_end).
  Status start();
  void stop();
  bool is_fenced() const;
  // The fence epoch claimed at open().
  uint64_t epoch() const;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace isle
