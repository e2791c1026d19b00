// What a replayed manifest state keeps alive, as the garbage collector
// sees it (docs/format/gc.md, "Inline SSTs").
//
// Two different things are live:
//   * SST objects (sstable/<id>.sst): the SSTs of L0 and of the sorted
//     runs. Only these are ever kept, marked or deleted as objects.
//   * blobs: every blob any live SST references, an object or an inline
//     SST (ManifestState::inline_ssts, whose bytes travel in the log
//     entry and the snapshots until they are materialized). An inline SST
//     has no object, but the blobs it references must stay as long as it
//     is live; once it is materialized, the materialized L0 SST lists the
//     same blobs and keeps them.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "manifest/manifest_types.h"

namespace isle {

struct GcLiveSet {
  std::map<std::string, std::vector<std::string>> objects;  // SST id -> its blobs
  std::set<std::string> l0;     // the ids of `objects` that are in L0
  std::set<std::string> blobs;  // referenced by any live SST, object or inline
};

GcLiveSet gc_live_set(const ManifestState& s);

// Whether an SST a log entry adds is an object the collector tracks
// (false for an inline SST: there is no sstable/<id>.sst to keep, mark or
// delete).
inline bool gc_is_object(const SstMeta& m) { return !m.is_inline(); }

}  // namespace isle
