// KeyRange: a tail's key filter (prefix, min_key inclusive, max_key
// inclusive, end_key exclusive, and for key-mode resumes "after this
// key") as one half-open interval [lower, upper) of byte strings.
//
// Invariants: contains(k) is exactly "k passes every filter given";
// iterator_options() bounds an iterator to the same set; empty() when no
// key can pass. The successor of a key k is k + '\0' (the smallest
// longer key), so an inclusive bound or "after k" never skips "k\0".
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "isle/reader.h"
#include "isle/tailing_reader.h"

namespace isle {

// The smallest key greater than every key starting with `prefix`, or
// nullopt when there is none (an empty prefix or all 0xff bytes).
std::optional<std::string> prefix_end(std::string_view prefix);

class KeyRange {
 public:
  explicit KeyRange(const TailOptions& o, const std::optional<std::string>& after = std::nullopt);

  bool contains(std::string_view key) const {
    return key >= lower_ && (!upper_ || key < *upper_);
  }
  bool empty() const { return upper_ && *upper_ <= lower_; }
  IteratorOptions iterator_options() const;

  const std::string& lower() const { return lower_; }
  const std::optional<std::string>& upper() const { return upper_; }

 private:
  std::string lower_;
  std::optional<std::string> upper_;
};

}  // namespace isle
