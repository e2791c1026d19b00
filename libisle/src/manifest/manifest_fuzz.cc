// libFuzzer target: the manifest decoders on arbitrary bytes.
//
// Each input is decoded as a log entry, a snapshot and CURRENT (all three
// come from the bucket, so all three must survive anything), and whatever
// decodes is fed through replay (apply_entry) on a small state and
// re-encoded. Nothing may crash, hang or read out of bounds; a decoded
// object must re-encode to something that decodes to the same value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "format/blob_ref.h"
#include "manifest/manifest_codec.h"
#include "manifest/manifest_state.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  auto e = isle::decode_entry(bytes, "fuzz");
  if (e.ok()) {
    auto again = isle::decode_entry(isle::encode_entry(*e), "fuzz");
    if (!again.ok() || !(*again == *e)) std::abort();
    isle::ManifestState st;
    st.next_pos = e->pos;
    (void)isle::apply_entry(&st, *e);
    (void)isle::apply_entry(&st, *e);  // a duplicate at the next position
  }
  auto s = isle::decode_snapshot(bytes, "fuzz");
  if (s.ok()) {
    auto again = isle::decode_snapshot(isle::encode_snapshot(*s), "fuzz");
    if (!again.ok()) std::abort();
  }
  auto c = isle::decode_current(bytes, "fuzz");
  if (c.ok()) {
    auto again = isle::decode_current(isle::encode_current(*c), "fuzz");
    if (!again.ok() || !(*again == *c)) std::abort();
  }
  (void)isle::decode_blob_ref(bytes);
  return 0;
}
