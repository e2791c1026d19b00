// Blob reference encoding; see blob_ref.h.
#include "format/blob_ref.h"

#include "util/coding.h"
#include "util/hash.h"

namespace isle {

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}
}  // namespace

std::string encode_blob_ref(const BlobRef& ref) {
  std::string out;
  for (size_t i = 0; i + 1 < ref.sha256_hex.size(); i += 2) {
    out += static_cast<char>(hex_value(ref.sha256_hex[i]) * 16 + hex_value(ref.sha256_hex[i + 1]));
  }
  put_varint64(&out, ref.size);
  return out;
}

std::optional<BlobRef> decode_blob_ref(std::string_view payload) {
  if (payload.size() < 33) return std::nullopt;
  BlobRef ref;
  ref.sha256_hex = to_hex(payload.substr(0, 32));
  std::string_view rest = payload.substr(32);
  if (!get_varint64(&rest, &ref.size) || !rest.empty()) return std::nullopt;
  return ref;
}

}  // namespace isle
