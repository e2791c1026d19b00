// Block compression codecs (none, LZ4, zstd) with bounded decompression.
//
// A compressed block payload is `varint64(uncompressed_size) || codec bytes`.
// Storing the size up front lets the reader allocate exactly once and refuse
// absurd sizes before touching the codec, so corrupt input can never make it
// allocate more than kMaxUncompressedBlock bytes. The decoded length must
// match the stored size exactly.
//
// Byte-level details: docs/format/sst.md ("Block trailer and compression").
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "isle/status.h"

namespace isle {

// The values are stored in every block trailer: never renumber.
enum class CompressionType : uint8_t {
  kNone = 0,
  kLz4 = 1,
  kZstd = 2,
};
constexpr uint8_t kMaxCompressionType = 2;

// No block, compressed or not, may decode to more than this.
constexpr size_t kMaxUncompressedBlock = size_t{64} << 20;  // 64 MiB

// "none", "lz4", "zstd" (or "unknown").
std::string_view compression_name(CompressionType type);
// Inverse of compression_name; false for an unknown name.
bool parse_compression_name(std::string_view name, CompressionType* out);

// Compresses `raw` with `type` into *out (replacing its contents), using the
// payload layout above. `level` is the zstd level (0 = zstd's default) and
// is ignored by LZ4. Returns false when the codec failed or `raw` is too big
// for it; the caller then stores the block uncompressed.
bool compress_block(CompressionType type, int level, std::string_view raw, std::string* out);

// Decodes a payload produced by compress_block(type, ...) into *out.
// Corruption when the size prefix is malformed or above `max_size`, the
// codec rejects the bytes, or the decoded length differs from the prefix.
// `type` must not be kNone.
Status decompress_block(CompressionType type, std::string_view payload, size_t max_size,
                        std::string* out);

}  // namespace isle
