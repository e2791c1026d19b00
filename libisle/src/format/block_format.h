// The physical block layer shared by every SST block (data, filter, index,
// properties): where a block lives (BlockHandle) and how its bytes are
// stored on disk (payload + 5-byte trailer).
//
//   stored block = payload || type (1 byte) || fixed32 checksum
//   checksum     = checksum32(payload || type)   (low 32 bits of XXH3-64)
//   payload      = the block contents when type == 0 (none), otherwise
//                  varint64(uncompressed size) || codec output (compression.h)
//
// A BlockHandle's `size` is the payload size; the block occupies
// [offset, offset + size + kBlockTrailerSize) in the file.
//
// Byte-level details: docs/format/sst.md ("Block trailer and compression").
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "format/compression.h"
#include "isle/status.h"

namespace isle {

constexpr size_t kBlockTrailerSize = 5;  // type byte + fixed32 checksum

// No stored block payload may be larger than this (a compressed payload is
// never larger than its raw block plus a few bytes of prefix).
constexpr uint64_t kMaxStoredBlockPayload = kMaxUncompressedBlock + 16;

// A compression codec is used only when it saves at least 1/8 (12.5%) of
// the raw size; otherwise the block is stored raw, because decompressing
// costs CPU on every read for too little saving.
constexpr size_t kMinCompressionSavingDivisor = 8;

struct BlockHandle {
  uint64_t offset = 0;
  uint64_t size = 0;  // payload bytes, excluding the trailer

  uint64_t stored_size() const { return size + kBlockTrailerSize; }
  uint64_t end() const { return offset + size + kBlockTrailerSize; }
  friend bool operator==(const BlockHandle&, const BlockHandle&) = default;
};

// Handles inside index entries are two varints (offset, size).
void encode_block_handle(std::string* dst, const BlockHandle& h);
// False on malformed varints. Does not check the handle against the file.
bool decode_block_handle(std::string_view* in, BlockHandle* h);

// Turns a block's raw contents into its stored form (payload + trailer),
// appended to *out. Compresses with `type` when that saves at least 1/8;
// otherwise stores raw. Returns the compression actually used.
CompressionType seal_block(std::string_view raw, CompressionType type, int level,
                           std::string* out);

// Inverse of seal_block: `stored` is exactly the handle's bytes including
// the trailer. Verifies the checksum (unless !verify_checksum), checks the
// type byte, and decompresses. `what` names the block in error messages,
// e.g. "data block @4096". The result is written to *contents.
Status unseal_block(std::string_view stored, bool verify_checksum, std::string_view what,
                    std::string* contents);

}  // namespace isle
