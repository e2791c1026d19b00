// Helpers shared by the manifest and maintenance test suites that build
// ManifestState / LogEntry values by hand. Test-only; every helper is
// inline and touches no store.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "manifest/manifest_types.h"

namespace isle::testing {

// An L0 SST object's metadata covering sequence numbers [lo, hi]: 100
// bytes, keys "a".."z", one entry per sequence number, a fixed digest and
// no signature, blobs or LSN range.
inline SstMeta object_sst(std::string id, uint64_t lo, uint64_t hi) {
  SstMeta m;
  m.id = std::move(id);
  m.size = 100;
  m.sha256 = std::string(64, 'a');
  m.min_key = "a";
  m.max_key = "z";
  m.seq_lo = lo;
  m.seq_hi = hi;
  m.num_entries = hi - lo + 1;
  return m;
}

}  // namespace isle::testing
