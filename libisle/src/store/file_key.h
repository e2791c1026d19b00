// Which object keys the file:// backend accepts, so that a key can never
// name a path outside the store's root or collide with its bookkeeping.
#pragma once

#include <string_view>

#include "isle/status.h"

namespace isle {

// Longest '/'-separated segment (a file or directory name; NAME_MAX).
inline constexpr size_t kMaxFileKeySegment = 255;
// Reserved prefix of first segments (.isle-tmp, .isle-locks).
inline constexpr std::string_view kReservedPrefix = ".isle";

// OK when `key` may be stored; otherwise InvalidArgument saying why. Rules:
//   * 1..1024 bytes;
//   * no leading '/', no empty segment ("a//b", trailing '/');
//   * no segment "." or "..", none longer than 255 bytes;
//   * no control byte (< 0x20 or 0x7f, NUL included) and no backslash;
//   * the first segment does not start with ".isle".
// Any other byte (space, '%', UTF-8...) is fine.
Status check_file_key(std::string_view key);

}  // namespace isle
