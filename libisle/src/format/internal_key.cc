// Internal key encoding and ordering; see internal_key.h.
#include "format/internal_key.h"

#include <cstring>

#include "util/coding.h"

namespace isle {

void append_internal_key(std::string* dst, std::string_view user_key, uint64_t seq,
                         ValueKind kind, bool has_expiry) {
  dst->append(user_key.data(), user_key.size());
  put_fixed64(dst, pack_trailer(seq, kind, has_expiry));
}

std::string seek_key(std::string_view user_key, uint64_t snapshot_seq) {
  std::string k(user_key);
  put_fixed64(&k, (snapshot_seq << 8) | 0xff);
  return k;
}

bool parse_internal_key(std::string_view ikey, ParsedInternalKey* out) {
  if (ikey.size() < kInternalKeyTrailer) return false;
  uint64_t t = decode_fixed64(ikey.data() + ikey.size() - kInternalKeyTrailer);
  uint8_t kind = static_cast<uint8_t>(t & 0x7f);
  if (kind > kMaxValueKind) return false;
  out->user_key = ikey.substr(0, ikey.size() - kInternalKeyTrailer);
  out->sequence = t >> 8;
  out->kind = static_cast<ValueKind>(kind);
  out->has_expiry = (t & kExpiryFlag) != 0;
  return true;
}

int compare_internal_keys(std::string_view a, std::string_view b) {
  std::string_view ua = extract_user_key(a), ub = extract_user_key(b);
  int c = ua.compare(ub);
  if (c != 0) return c;
  uint64_t ta = decode_fixed64(a.data() + ua.size());
  uint64_t tb = decode_fixed64(b.data() + ub.size());
  if (ta > tb) return -1;  // newer (larger trailer) first
  if (ta < tb) return 1;
  return 0;
}

void encode_entry_value(std::string* dst, std::string_view payload, bool has_expiry,
                        uint64_t expires_at_ms) {
  if (has_expiry) put_varint64(dst, expires_at_ms);
  dst->append(payload.data(), payload.size());
}

bool decode_entry_value(bool has_expiry, std::string_view stored, std::string_view* payload,
                        uint64_t* expires_at_ms) {
  *expires_at_ms = 0;
  if (has_expiry && !get_varint64(&stored, expires_at_ms)) return false;
  *payload = stored;
  return true;
}

}  // namespace isle
