// Builds the SST for one sealed memtable, in memory, together with the
// manifest metadata that describes it (the flush's first step, DESIGN §6).
//
// The SST holds every entry of the memtable (all versions, tombstones and
// TTL entries: a memtable spans a short time, and compaction drops what
// is shadowed). Its metadata carries the key and sequence ranges, the
// write-time range given by the caller, the blob references found in
// kBlobRef entries, the optional LSN range, and — when a signer is given —
// the Ed25519 signature of the SST's sha256.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "format/sst_builder.h"
#include "isle/options.h"
#include "isle/status.h"
#include "lsm/memtable.h"
#include "manifest/manifest_types.h"
#include "util/signing.h"

namespace isle {

struct BuiltSst {
  std::string bytes;
  SstMeta meta;
};

struct SstFromMemtableParams {
  std::string id;
  SstBuilderOptions builder;
  int64_t min_write_ms = 0;
  int64_t max_write_ms = 0;
  const LsnExtractor* lsn_extractor = nullptr;  // may be null or empty
  const Ed25519Signer* signer = nullptr;         // may be null
};

Result<BuiltSst> build_sst_from_memtable(const Memtable& mem, const SstFromMemtableParams& p);

// Makes `built` an inline SST (its bytes travel in the manifest entry; see
// docs/format/manifest.md, "Inline flushes"): moves the bytes into
// meta.inline_data and, with a signer, signs the isle-inline-v1: message
// instead of the isle-sst-v1: one.
void make_inline(BuiltSst* built, const Ed25519Signer* signer);

// Signs meta.sha256 with the message for its kind (inline or object).
void sign_sst_meta(SstMeta* meta, const Ed25519Signer& signer);

// One L0 SST object holding every entry (all versions) of `inputs`, inline
// SSTs taken oldest first from the manifest: the writer's materialization.
// Sequence range, entry and delete counts, blobs and write-time range are
// the inputs' union; the LSN range comes from the extractor when one is
// set (as for a flush) and is otherwise the inputs' union when every input
// has one. Signed as an SST object when a signer is given.
struct MaterializeParams {
  std::string id;
  SstBuilderOptions builder;
  const LsnExtractor* lsn_extractor = nullptr;
  const Ed25519Signer* signer = nullptr;
};
Result<BuiltSst> build_materialized_sst(const std::vector<SstMeta>& inputs,
                                        const MaterializeParams& p);

CompressionType to_compression_type(Compression c);

}  // namespace isle
