// SstProperties: the facts an SST records about itself, and their encoding
// in the properties block.
//
// The properties block has the ordinary block layout (block_builder.h) with
// restart interval 16; each entry is name -> value, names strictly ascending.
// Integer values are varint64 (signed ones as the varint64 of their two's
// complement bit pattern), string values are raw bytes. The reader parses
// the names it knows and skips the others, so a writer may add properties
// without a format-version bump. A known name whose value does not parse
// is Corruption. The name list is in docs/format/sst.md ("Properties").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "format/compression.h"
#include "isle/status.h"

namespace isle {

struct SstProperties {
  uint64_t num_entries = 0;
  uint64_t num_puts = 0;
  uint64_t num_deletes = 0;
  uint64_t num_blob_refs = 0;
  uint64_t num_entries_with_expiry = 0;
  uint64_t raw_key_bytes = 0;    // sum of internal key sizes
  uint64_t raw_value_bytes = 0;  // sum of stored value sizes (expiry prefix included)
  uint64_t num_data_blocks = 0;
  uint64_t data_size = 0;    // bytes of the data region (stored blocks)
  uint64_t index_size = 0;   // stored size of the index block (trailer included)
  uint64_t filter_size = 0;  // stored size of the filter block; 0 when none

  // Meaningful only when num_entries > 0.
  uint64_t min_sequence = 0;
  uint64_t max_sequence = 0;
  std::string min_user_key;
  std::string max_user_key;

  // Write times (unix ms) supplied by the builder's caller; meaningful only
  // when has_write_time.
  bool has_write_time = false;
  int64_t min_write_time_ms = 0;
  int64_t max_write_time_ms = 0;

  // Meaningful only when num_entries_with_expiry > 0.
  uint64_t min_expiry_ms = 0;
  uint64_t max_expiry_ms = 0;

  int64_t creation_time_ms = 0;
  CompressionType compression = CompressionType::kNone;  // requested codec
  int compression_level = 0;
  uint64_t block_size = 0;
  uint64_t bloom_bits_per_key = 0;
  uint64_t restart_interval = 0;
  uint64_t format_version = 0;

  friend bool operator==(const SstProperties&, const SstProperties&) = default;
};

// The properties block contents (before sealing).
std::string encode_properties(const SstProperties& p);

// Parses properties block contents. Unknown names are ignored.
Result<SstProperties> decode_properties(std::string contents);

}  // namespace isle
