// Small rules every ObjectStore backend must apply identically: the shared
// key limits, how a ByteRange is resolved against an object's size, and the
// list page-size clamp. Keeping them in one place is what makes the
// backends agree byte for byte in the conformance suite.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "isle/object_store.h"

namespace isle {

// Longest key any backend accepts (S3's limit).
inline constexpr size_t kMaxKeyBytes = 1024;
// Largest page list() returns.
inline constexpr size_t kMaxListKeys = 1000;

// InvalidArgument unless the key is non-empty and at most kMaxKeyBytes.
Status check_common_key(std::string_view key);

// The span a range selects from an object of `size` bytes.
struct ResolvedRange {
  uint64_t offset = 0;
  uint64_t length = 0;
};

// Whole object when `range` is empty; [offset, offset+length) clipped to
// the end; a suffix range gives the last min(length, size) bytes. An offset
// equal to `size` gives an empty span; an offset past `size` is
// InvalidArgument.
Result<ResolvedRange> resolve_range(const std::optional<ByteRange>& range, uint64_t size);

// ListOptions::max_keys clamped to 1..kMaxListKeys.
inline size_t clamp_max_keys(size_t max_keys) {
  if (max_keys < 1) return 1;
  return max_keys > kMaxListKeys ? kMaxListKeys : max_keys;
}

}  // namespace isle
