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

// The newest manifest format this build reads. Objects are written with
// the lowest format that can express them: 1, or 2 for a log entry or
// snapshot that carries inline SST data or a materialize op (an older
// build refuses those as NotSupported instead of looking for an SST object
// that does not exist). A chained add_sstable (several flushes in flight)
// is format 2 as well: an older build would apply it without the chain
// rule. CURRENT is always format 1.
constexpr int kManifestFormat = 2;
constexpr int kManifestFormatInline = 2;

// Inline SSTs (SstMeta::inline_data) travel base64 in the SST's "data"
// field. Decoding checks them before anything else sees them: at most
// kMaxInlineSstBytes, level 0, exactly `size` bytes with sha256 `sha256`
// (Corruption naming the object and the SST otherwise). Only add_sstable
// entries and a snapshot's "inline" list may carry them; "inline" holds
// nothing else.

std::string encode_entry(const LogEntry& e);
Result<LogEntry> decode_entry(std::string_view bytes, std::string_view what);

// A snapshot holds the whole state before `state.next_pos`.
// `max_inline_bytes` > 0: a snapshot whose inline SSTs declare more bytes
// than that is Backpressure, refused before any inline data is decoded.
std::string encode_snapshot(const ManifestState& state);
Result<ManifestState> decode_snapshot(std::string_view bytes, std::string_view what,
                                      uint64_t max_inline_bytes = 0);

std::string encode_current(const CurrentPointer& c);
Result<CurrentPointer> decode_current(std::string_view bytes, std::string_view what);

// The SST metadata alone (used by tools and tests).
std::string encode_sst_meta(const SstMeta& m);

}  // namespace isle
