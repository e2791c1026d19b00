// ReaderAccess: the few Reader internals the tailing reader builds on,
// kept out of the public header.
//
//   * open() with an entry listener: called (under the reader's refresh
//     lock, so it must be quick and must not call back into the reader)
//     for every log entry the reader replays, with whether it counted.
//   * the current view's manifest state, and an iterator pinned to the
//     same view as a state (a consistent snapshot + cursor pair);
//   * blob resolution through the reader's blob cache, and the reader's
//     scoped store (prefix + retries) and manifest storage.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "isle/manifest_storage.h"
#include "isle/reader.h"
#include "manifest/manifest_types.h"

namespace isle {

using EntryListener = std::function<void(const LogEntry&, bool applied)>;

struct ReaderAccess {
  // `log_read_ahead` > 0: the replay reads that many log positions ahead
  // of each entry it finds, in parallel (lsm/read_ahead_log.h).
  static Result<std::unique_ptr<Reader>> open(ObjectStorePtr store, ReaderOptions options,
                                              EntryListener listener, uint64_t log_read_ahead = 0);
  // The state of the view reads are served from now.
  static std::shared_ptr<const ManifestState> state(const Reader& r);
  // An iterator and the state of the view it reads.
  static std::pair<std::unique_ptr<Iterator>, std::shared_ptr<const ManifestState>>
  iterator_with_state(Reader& r, const IteratorOptions& io);
  // The value a blob reference payload points to (verified, cached).
  static Result<std::string> resolve_blob(Reader& r, std::string_view payload);
  static ObjectStorePtr store(const Reader& r);
  static ManifestStoragePtr manifest_storage(const Reader& r);
};

}  // namespace isle
