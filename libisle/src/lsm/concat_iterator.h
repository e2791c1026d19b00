// The iterator over one sorted run: SST files whose user-key ranges are
// disjoint and ascending, read as one sorted stream (DESIGN §7). Files are
// opened lazily, so a scan of a long run opens only the files it reaches,
// and a seek binary-searches the run's key ranges and opens the single
// file that can hold the target.
//
// Invariants:
//   * files[i].min_user_key <= files[i].max_user_key, and
//     files[i].max_user_key < files[i + 1].min_user_key (bytewise). A run
//     that breaks this is reported as InvalidArgument by every seek.
//   * Every entry of file i has a user key within [min_user_key,
//     max_user_key]; an entry outside its file's range is Corruption (the
//     run metadata and the file disagree, and seeks would go wrong).
//   * At most one file iterator is open at a time; the current one is
//     reused when a later seek lands in the same file.
//   * open(i) is called only with i < files.size(). Its error (or a null
//     iterator) stops the walk with that status; a new seek retries.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lsm/internal_iterator.h"

namespace isle {

struct RunFile {
  std::string min_user_key;  // inclusive
  std::string max_user_key;  // inclusive
};

// Opens the iterator of the run's file `index` (e.g. new_sst_iterator over
// a reader fetched through the cache). Called at most once per visit.
using RunFileOpener = std::function<Result<std::unique_ptr<InternalIterator>>(size_t index)>;

// Starts invalid: seek first. With no files it is empty.
std::unique_ptr<InternalIterator> new_concat_iterator(std::vector<RunFile> files,
                                                      RunFileOpener open);

}  // namespace isle
