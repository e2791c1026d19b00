// KeyRange; see key_range.h.
#include "tail/key_range.h"

#include <algorithm>

namespace isle {

std::optional<std::string> prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) end.pop_back();
  if (end.empty()) return std::nullopt;
  end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return end;
}

KeyRange::KeyRange(const TailOptions& o, const std::optional<std::string>& after) {
  lower_ = std::max(o.min_key, o.prefix);
  if (after) lower_ = std::max(lower_, *after + '\0');
  auto lower_upper = [&](std::optional<std::string> u) {
    if (u && (!upper_ || *u < *upper_)) upper_ = std::move(u);
  };
  lower_upper(o.end_key);
  if (o.max_key) lower_upper(*o.max_key + '\0');
  lower_upper(prefix_end(o.prefix));
}

IteratorOptions KeyRange::iterator_options() const {
  IteratorOptions io;
  io.lower_bound = lower_;
  // An empty range still needs upper >= lower for the iterator.
  if (upper_) io.upper_bound = std::max(*upper_, lower_);
  return io;
}

}  // namespace isle
