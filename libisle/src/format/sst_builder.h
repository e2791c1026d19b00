// SstBuilder: writes one SST (DESIGN §5, docs/format/sst.md) to a
// WritableSink, streaming.
//
//   data block* | [filter block] | index block | properties block | footer
//
// Memory stays bounded by one data block plus per-file summaries: the index
// entries (one per data block), one 8-byte hash per distinct user key for
// the bloom filter, and the properties. Finished blocks go to the sink as
// soon as they are full, and the sha256 of the file is computed on the way.
//
// Contract:
//   * add() takes internal keys (format/internal_key.h) in strictly
//     increasing compare_internal_keys order; a key out of order, a
//     malformed key or an oversized entry is InvalidArgument (checked in
//     every build, not asserted) and leaves the builder usable.
//   * A sink error is sticky: every later call returns it.
//   * finish() writes the meta region and footer; after it (or abandon())
//     the builder accepts nothing more. An SST with no entries is valid.
//   * Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "format/block_builder.h"
#include "format/block_format.h"
#include "format/bloom.h"
#include "format/compression.h"
#include "format/internal_key.h"
#include "format/sink.h"
#include "format/sst_properties.h"
#include "isle/status.h"
#include "util/hash.h"

namespace isle {

// Per-entry limits (they keep every block under kMaxUncompressedBlock).
constexpr size_t kMaxSstKeySize = size_t{1} << 20;     // internal key bytes
constexpr size_t kMaxSstValueSize = size_t{32} << 20;  // stored value bytes
constexpr size_t kMaxSstBlockSize = size_t{16} << 20;  // block_size option

struct SstBuilderOptions {
  // Target uncompressed size of a data block (1 .. kMaxSstBlockSize). A
  // block is cut once it reaches this size, so one large entry makes one
  // large block.
  size_t block_size = 4096;
  // Entries between full keys in data blocks (1 .. 65536).
  int restart_interval = 16;
  CompressionType compression = CompressionType::kLz4;
  int compression_level = 0;  // zstd level; 0 = zstd's default (3)
  // 0 disables the filter block; otherwise 1 .. 100.
  int bloom_bits_per_key = 10;
  // Write-time range (unix ms) of the data, recorded in the properties.
  // The writer knows when the data was written; set both or neither (or
  // use SstBuilder::note_write_time).
  std::optional<int64_t> min_write_time_ms;
  std::optional<int64_t> max_write_time_ms;
  // Recorded creation time; unset = the system clock at finish().
  std::optional<int64_t> creation_time_ms;
};

// What finish() reports about the file it wrote.
struct SstInfo {
  uint64_t size = 0;
  std::string sha256;  // lower-case hex of the whole file
  std::string smallest_key;  // internal keys; empty when the SST is empty
  std::string largest_key;
  SstProperties properties;
};

class SstBuilder {
 public:
  // The sink must outlive the builder. Invalid options are reported by the
  // first add() or finish() (and by validate_options()).
  SstBuilder(const SstBuilderOptions& options, WritableSink* sink);
  SstBuilder(const SstBuilder&) = delete;
  SstBuilder& operator=(const SstBuilder&) = delete;

  static Status validate_options(const SstBuilderOptions& options);

  // Adds one entry: an internal key and its stored value (with the expiry
  // prefix when the key's expiry flag is set).
  Status add(std::string_view internal_key, std::string_view stored_value);

  // Convenience: builds the internal key and stored value. expires_at_ms 0
  // means "no expiry"; `value` is the payload.
  Status add(std::string_view user_key, uint64_t seq, ValueKind kind, std::string_view value,
             uint64_t expires_at_ms = 0);

  // Widens the recorded write-time range to include `ms`.
  void note_write_time(int64_t ms);

  Result<SstInfo> finish();

  // Stops accepting entries without writing the rest (the caller discards
  // whatever the sink holds).
  void abandon() { finished_ = true; }

  uint64_t num_entries() const { return props_.num_entries; }
  // Bytes written so far plus the pending data block: for cutting output
  // files at a target size.
  uint64_t estimated_size() const { return offset_ + data_block_.size_estimate(); }

 private:
  Status flush_data_block();
  // Seals `raw` and writes it; *handle gets its location.
  Status write_block(std::string_view raw, CompressionType type, BlockHandle* handle);
  Status emit(std::string_view bytes);

  const SstBuilderOptions options_;
  WritableSink* const sink_;
  Status status_;  // sticky sink error or invalid options
  bool finished_ = false;

  BlockBuilder data_block_;
  BlockBuilder index_block_;
  BloomBuilder bloom_;
  SstProperties props_;
  std::string last_key_;
  std::string smallest_key_;
  std::string scratch_;
  uint64_t offset_ = 0;
  Sha256 sha_;
};

}  // namespace isle
