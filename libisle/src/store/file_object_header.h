// The 32-byte header that starts every object file of the file:// backend.
//
//   offset  size  field
//        0     8  magic "ISLEOBJ\x01" (the last byte is not a version; it
//                 only makes the magic unlikely to occur in text files)
//        8     2  format version, little-endian; this code writes 1
//       10     2  reserved, zero in version 1
//       12    16  ETag token: 16 random bytes, fresh for every write
//       28     4  checksum32 (low 32 bits of XXH3-64) of bytes [0, 28)
//
// The payload follows at offset 32; its size is the file size minus 32.
// docs/format/file-store.md describes the same layout for readers of the
// folder.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "isle/status.h"

namespace isle {

inline constexpr size_t kFileObjectHeaderSize = 32;
inline constexpr size_t kFileObjectTokenSize = 16;

// Builds a header carrying `token` (exactly kFileObjectTokenSize raw bytes).
std::string encode_file_object_header(std::string_view token);

// A fresh random token (kFileObjectTokenSize raw bytes).
std::string new_file_object_token();

// Checks `header` (exactly kFileObjectHeaderSize bytes) and returns the
// ETag it carries: the lower-case hex of the token. Corruption when the
// magic, version, reserved field or checksum is wrong.
Result<std::string> decode_file_object_header(std::string_view header);

}  // namespace isle
