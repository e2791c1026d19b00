// Internal keys and entry values: the unit the memtable and SSTs store.
//
// internal key = user_key || trailer, where trailer is a fixed64
// (little-endian) holding (sequence << 8) | kind_byte:
//   sequence  56 bits, unique per write, assigned by the writer
//   kind_byte low 7 bits = ValueKind, bit 0x80 = the entry has an expiry
//
// Order: user key ascending (bytewise), then trailer descending, so the
// newest version of a key comes first. Sequences are unique, so two
// distinct entries never compare equal.
//
// Entry value: when the expiry flag is set, the stored value starts with
// varint64(expires_at_ms) (unix ms) followed by the payload; otherwise it is
// the payload. For kBlobRef the payload is an encoded blob reference; for
// kDelete it is normally empty.
//
// Byte-level details: docs/format/sst.md ("Internal keys").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace isle {

enum class ValueKind : uint8_t {
  kDelete = 0,
  kPut = 1,
  kBlobRef = 2,
};
constexpr uint8_t kMaxValueKind = 2;
constexpr uint8_t kExpiryFlag = 0x80;

constexpr uint64_t kMaxSequence = (uint64_t{1} << 56) - 1;
constexpr size_t kInternalKeyTrailer = 8;

struct ParsedInternalKey {
  std::string_view user_key;
  uint64_t sequence = 0;
  ValueKind kind = ValueKind::kPut;
  bool has_expiry = false;
};

inline uint64_t pack_trailer(uint64_t seq, ValueKind kind, bool has_expiry) {
  return (seq << 8) | static_cast<uint8_t>(kind) | (has_expiry ? kExpiryFlag : 0);
}

void append_internal_key(std::string* dst, std::string_view user_key, uint64_t seq,
                         ValueKind kind, bool has_expiry);

inline std::string make_internal_key(std::string_view user_key, uint64_t seq, ValueKind kind,
                                     bool has_expiry = false) {
  std::string k;
  append_internal_key(&k, user_key, seq, kind, has_expiry);
  return k;
}

// The smallest internal key >= every entry of `user_key` whose sequence is
// <= `snapshot_seq`: seek here to find the newest visible version.
std::string seek_key(std::string_view user_key, uint64_t snapshot_seq = kMaxSequence);

// False when the key is shorter than the trailer or the kind is unknown.
bool parse_internal_key(std::string_view ikey, ParsedInternalKey* out);

inline std::string_view extract_user_key(std::string_view ikey) {
  return ikey.substr(0, ikey.size() - kInternalKeyTrailer);
}

// <0, 0, >0 like memcmp; both arguments must be at least 8 bytes.
int compare_internal_keys(std::string_view a, std::string_view b);

struct InternalKeyLess {
  bool operator()(std::string_view a, std::string_view b) const {
    return compare_internal_keys(a, b) < 0;
  }
};

// Entry value helpers (see the header comment).
void encode_entry_value(std::string* dst, std::string_view payload, bool has_expiry,
                        uint64_t expires_at_ms);
// Splits a stored value into payload and expiry. False on a malformed
// expiry prefix.
bool decode_entry_value(bool has_expiry, std::string_view stored, std::string_view* payload,
                        uint64_t* expires_at_ms);

}  // namespace isle
