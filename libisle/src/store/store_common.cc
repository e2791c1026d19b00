// Shared backend rules; see store_common.h.
#include "store/store_common.h"

#include <string>

namespace isle {

Status check_common_key(std::string_view key) {
  if (key.empty()) return Status::InvalidArgument("object key is empty");
  if (key.size() > kMaxKeyBytes) {
    return Status::InvalidArgument("object key is " + std::to_string(key.size()) +
                                   " bytes, more than the limit of " +
                                   std::to_string(kMaxKeyBytes));
  }
  return Status::OK();
}

Result<ResolvedRange> resolve_range(const std::optional<ByteRange>& range, uint64_t size) {
  if (!range) return ResolvedRange{0, size};
  if (range->suffix) {
    uint64_t n = range->length < size ? range->length : size;
    return ResolvedRange{size - n, n};
  }
  if (range->offset > size) {
    return Status::InvalidArgument("range offset " + std::to_string(range->offset) +
                                   " is past the object's end (size " + std::to_string(size) +
                                   ")");
  }
  uint64_t avail = size - range->offset;
  return ResolvedRange{range->offset, range->length < avail ? range->length : avail};
}

}  // namespace isle
