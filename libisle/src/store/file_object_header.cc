// Encoding and checking of the file:// object header; see
// file_object_header.h for the layout.
#include "store/file_object_header.h"

#include <cstring>

#include "util/coding.h"
#include "util/hash.h"
#include "util/random.h"

namespace isle {

namespace {

constexpr char kMagic[8] = {'I', 'S', 'L', 'E', 'O', 'B', 'J', '\x01'};
constexpr uint16_t kVersion = 1;
constexpr size_t kChecksumOffset = 28;

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::string encode_file_object_header(std::string_view token) {
  std::string h(kMagic, sizeof kMagic);
  h.push_back(static_cast<char>(kVersion & 0xff));
  h.push_back(static_cast<char>(kVersion >> 8));
  h.append(2, '\0');  // reserved
  h.append(token.substr(0, kFileObjectTokenSize));
  h.resize(kChecksumOffset, '\0');  // only if the token was short (a bug)
  put_fixed32(&h, checksum32(h));
  return h;
}

std::string new_file_object_token() {
  // random_token() is 16 random bytes in hex; turn it back into raw bytes.
  std::string hex = random_token();
  std::string raw(kFileObjectTokenSize, '\0');
  for (size_t i = 0; i < kFileObjectTokenSize && 2 * i + 1 < hex.size(); i++) {
    raw[i] = static_cast<char>(hex_digit(hex[2 * i]) * 16 + hex_digit(hex[2 * i + 1]));
  }
  return raw;
}

Result<std::string> decode_file_object_header(std::string_view header) {
  if (header.size() != kFileObjectHeaderSize) {
    return Status::Corruption("object header is " + std::to_string(header.size()) +
                              " bytes, expected " + std::to_string(kFileObjectHeaderSize));
  }
  if (std::memcmp(header.data(), kMagic, sizeof kMagic) != 0) {
    return Status::Corruption("object file has no IsleDB header (bad magic)");
  }
  uint32_t stored = decode_fixed32(header.data() + kChecksumOffset);
  if (stored != checksum32(header.substr(0, kChecksumOffset))) {
    return Status::Corruption("object header checksum mismatch");
  }
  const auto* u = reinterpret_cast<const unsigned char*>(header.data());
  uint16_t version = static_cast<uint16_t>(u[8] | (u[9] << 8));
  if (version != kVersion) {
    return Status::Corruption("object header has unknown version " + std::to_string(version));
  }
  if (u[10] != 0 || u[11] != 0) return Status::Corruption("object header reserved bytes set");
  return to_hex(header.substr(12, kFileObjectTokenSize));
}

}  // namespace isle
