// JSON encoding of log entries, snapshots and CURRENT
// (docs/format/manifest.md has an example of each).
//
// Decoding never trusts its input: malformed JSON, a missing or mistyped
// field, an unknown role or op, or a key that is not valid base64 gives
// Corruption naming the object (`what`) and the field. Unknown fields are
// ignored, so later versions may add fields without breaking older readers;
// a `format` newer than we understand is NotSupported.
#pragma once

#include <string>
#include <string_view>

#include "isle/status.h"
#include "manifest/manifest_types.h"

namespace isle {

constexpr int kManifestFormat = 1;

std::string encode_entry(const LogEntry& e);
Result<LogEntry> decode_entry(std::string_view bytes, std::string_view what);

// A snapshot holds the whole state before `state.next_pos`.
std::string encode_snapshot(const ManifestState& state);
Result<ManifestState> decode_snapshot(std::string_view bytes, std::string_view what);

std::string encode_current(const CurrentPointer& c);
Result<CurrentPointer> decode_current(std::string_view bytes, std::string_view what);

// The SST metadata alone (used by tools and tests).
std::string encode_sst_meta(const SstMeta& m);

}  // namespace isle
