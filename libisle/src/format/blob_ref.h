// Blob references: the payload of a kBlobRef entry (DESIGN §4). A value at
// or above the writer's blob threshold is stored once as
// blobs/<2 hex>/<sha256>.blob (create-only, content-addressed) and the
// entry holds only this reference:
//
//   payload = sha256 (32 raw bytes) || varint64(size)
//
// The reader fetches the blob and checks its sha256 and size before
// returning it, so a wrong or corrupt blob is Corruption, never bad data.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace isle {

struct BlobRef {
  std::string sha256_hex;  // 64 lower-case hex chars
  uint64_t size = 0;
};

std::string encode_blob_ref(const BlobRef& ref);
// nullopt when the payload is not exactly a well-formed reference.
std::optional<BlobRef> decode_blob_ref(std::string_view payload);

}  // namespace isle
