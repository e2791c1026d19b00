// Hashes and checksums: xxHash3 for block checksums and bloom filters,
// SHA-256 (OpenSSL) for content addressing and SST integrity.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace isle {

// 64-bit XXH3 of the bytes (seed 0). Stable across platforms and versions
// of libxxhash, so it may be stored in files.
uint64_t xxh3_64(std::string_view data);
uint64_t xxh3_64(std::string_view data, uint64_t seed);

// The block checksum: the low 32 bits of XXH3-64.
inline uint32_t checksum32(std::string_view data) {
  return static_cast<uint32_t>(xxh3_64(data));
}

// Incremental SHA-256. Feed bytes with update(), then hex() or digest().
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::string_view data);
  std::string digest();  // 32 raw bytes; the object cannot be updated after
  std::string hex();     // 64 lower-case hex chars

 private:
  void* ctx_;  // EVP_MD_CTX*, kept opaque so OpenSSL headers stay private
};

// One-shot SHA-256 of `data`: 32 raw bytes, or 64 lower-case hex chars.
std::string sha256_raw(std::string_view data);
std::string sha256_hex(std::string_view data);

// Lower-case hex of raw bytes.
std::string to_hex(std::string_view bytes);

}  // namespace isle
