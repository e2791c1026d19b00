// UTF-8 validation (RFC 3629: no overlong forms, no surrogates, nothing
// past U+10FFFF). Object-store keys and JSON strings must be valid UTF-8.
#pragma once

#include <cstddef>
#include <string_view>

namespace isle {

// Length in bytes of the longest prefix of `s` made of whole, valid UTF-8
// sequences (s.size() when all of `s` is valid).
size_t valid_utf8_prefix(std::string_view s);

inline bool is_valid_utf8(std::string_view s) { return valid_utf8_prefix(s) == s.size(); }

}  // namespace isle
