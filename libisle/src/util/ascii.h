// ASCII-only case folding for protocol text (HTTP header names, schemes,
// XML names): locale-free, so "I" never becomes a dotless i.
#pragma once

#include <cstddef>
#include <string_view>

namespace isle {

inline char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Equal ignoring ASCII case.
inline bool ascii_iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

}  // namespace isle
