// The k-way merge of several InternalIterators into one, in
// compare_internal_keys order: how memtables, L0 SSTs and sorted runs are
// read as one sorted stream (DESIGN §7). It does not drop anything; hiding
// shadowed versions, tombstones and expired entries is DbIterator's job.
//
// Invariants:
//   * key() is always the smallest key among the valid children. Equal
//     keys cannot occur in correct data (sequences are unique); if they do,
//     the child with the lower index comes first, so the order is
//     deterministic.
//   * The first error met in any child (in a seek: the failing child with
//     the lowest index) stops the merge: valid() turns false and status()
//     returns that child's status. A new seek retries.
//   * A child key shorter than the 8-byte trailer is Corruption (it could
//     not be compared).
//   * Cost: a seek seeks every child; next() is O(log k) comparisons.
#pragma once

#include <memory>
#include <vector>

#include "lsm/internal_iterator.h"

namespace isle {

// Takes ownership of the children (null entries are ignored). With no
// children the result is an empty iterator. Starts invalid: seek first.
std::unique_ptr<InternalIterator> new_merging_iterator(
    std::vector<std::unique_ptr<InternalIterator>> children);

}  // namespace isle
