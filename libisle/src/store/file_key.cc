// The file:// key rules; see file_key.h.
#include "store/file_key.h"

#include <string>

#include "store/store_common.h"

namespace isle {

namespace {

Status bad_key(std::string_view key, const char* why) {
  // Control bytes are escaped so the message itself stays printable.
  std::string shown;
  for (char c : key.substr(0, 200)) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      static const char kHex[] = "0123456789abcdef";
      shown += "\\x";
      shown += kHex[u >> 4];
      shown += kHex[u & 15];
    } else {
      shown += c;
    }
  }
  if (key.size() > 200) shown += "...";
  return Status::InvalidArgument("object key '" + shown + "' rejected by the file store: " + why);
}

}  // namespace

Status check_file_key(std::string_view key) {
  ISLE_RETURN_IF_ERROR(check_common_key(key));
  for (char c : key) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return bad_key(key, "contains a control byte");
    if (c == '\\') return bad_key(key, "contains a backslash");
  }
  if (key.front() == '/') return bad_key(key, "starts with '/'");
  size_t start = 0;
  bool first = true;
  for (;;) {
    size_t slash = key.find('/', start);
    std::string_view seg =
        key.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (seg.empty()) return bad_key(key, "has an empty path segment");
    if (seg == "." || seg == "..") return bad_key(key, "has a '.' or '..' segment");
    if (seg.size() > kMaxFileKeySegment) return bad_key(key, "has a segment over 255 bytes");
    if (first && seg.starts_with(kReservedPrefix)) {
      return bad_key(key, "first segment starts with the reserved '.isle'");
    }
    first = false;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return Status::OK();
}

}  // namespace isle
