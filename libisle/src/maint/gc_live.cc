// The garbage collector's live set; see gc_live.h.
#include "maint/gc_live.h"

namespace isle {

GcLiveSet gc_live_set(const ManifestState& s) {
  GcLiveSet out;
  auto object = [&](const SstMeta& m) {
    out.objects[m.id] = m.blobs;
    out.blobs.insert(m.blobs.begin(), m.blobs.end());
  };
  for (const SstMeta& m : s.l0) {
    object(m);
    out.l0.insert(m.id);
  }
  for (const SortedRun& r : s.runs) {
    for (const SstMeta& m : r.ssts) object(m);
  }
  // Inline SSTs: no object, but their blobs are referenced until they are
  // materialized (and then the materialized SST lists them).
  for (const SstMeta& m : s.inline_ssts) out.blobs.insert(m.blobs.begin(), m.blobs.end());
  return out;
}

}  // namespace isle
