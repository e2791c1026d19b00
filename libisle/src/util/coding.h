// Little-endian fixed-width and LEB128 varint encodings used by every byte
// format in IsleDB (SST blocks, footers, properties).
//
// Encoders append to a std::string. Decoders read from a string_view cursor
// and return false, consuming nothing useful, when the input is too short
// or malformed: they never read past the view's end.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace isle {

inline void put_fixed32(std::string* dst, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; i++) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  dst->append(b, 4);
}

inline void put_fixed64(std::string* dst, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; i++) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  dst->append(b, 8);
}

inline uint32_t decode_fixed32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return uint32_t(u[0]) | (uint32_t(u[1]) << 8) | (uint32_t(u[2]) << 16) | (uint32_t(u[3]) << 24);
}

inline uint64_t decode_fixed64(const char* p) {
  return uint64_t(decode_fixed32(p)) | (uint64_t(decode_fixed32(p + 4)) << 32);
}

inline void put_varint64(std::string* dst, uint64_t v) {
  char b[10];
  int n = 0;
  while (v >= 0x80) {
    b[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  b[n++] = static_cast<char>(v);
  dst->append(b, n);
}

inline void put_varint32(std::string* dst, uint32_t v) { put_varint64(dst, v); }

// Number of bytes put_varint64(v) produces.
inline int varint_length(uint64_t v) {
  int n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

// Reads a varint from the front of *in and advances it. Fails on truncated
// input and on encodings longer than 10 bytes or overflowing 64 bits.
inline bool get_varint64(std::string_view* in, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0, i = 0; i < 10 && i < static_cast<int>(in->size()); i++, shift += 7) {
    uint64_t byte = static_cast<unsigned char>((*in)[i]);
    if (i == 9 && byte > 1) return false;  // would overflow 64 bits
    result |= (byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *v = result;
      in->remove_prefix(i + 1);
      return true;
    }
  }
  return false;
}

inline bool get_varint32(std::string_view* in, uint32_t* v) {
  uint64_t x;
  std::string_view save = *in;
  if (!get_varint64(in, &x) || x > 0xffffffffu) {
    *in = save;
    return false;
  }
  *v = static_cast<uint32_t>(x);
  return true;
}

inline bool get_fixed32(std::string_view* in, uint32_t* v) {
  if (in->size() < 4) return false;
  *v = decode_fixed32(in->data());
  in->remove_prefix(4);
  return true;
}

inline bool get_fixed64(std::string_view* in, uint64_t* v) {
  if (in->size() < 8) return false;
  *v = decode_fixed64(in->data());
  in->remove_prefix(8);
  return true;
}

// Length-prefixed bytes: varint length then the bytes.
inline void put_length_prefixed(std::string* dst, std::string_view s) {
  put_varint64(dst, s.size());
  dst->append(s.data(), s.size());
}

inline bool get_length_prefixed(std::string_view* in, std::string_view* out) {
  uint64_t n;
  std::string_view save = *in;
  if (!get_varint64(in, &n) || n > in->size()) {
    *in = save;
    return false;
  }
  *out = in->substr(0, n);
  in->remove_prefix(n);
  return true;
}

}  // namespace isle
