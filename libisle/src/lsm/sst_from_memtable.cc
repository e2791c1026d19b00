// SST + metadata from a memtable; see sst_from_memtable.h.
#include "lsm/sst_from_memtable.h"

#include <algorithm>
#include <set>

#include "format/blob_ref.h"
#include "format/sink.h"
#include "util/hash.h"

namespace isle {

CompressionType to_compression_type(Compression c) {
  switch (c) {
    case Compression::kNone: return CompressionType::kNone;
    case Compression::kLz4: return CompressionType::kLz4;
    case Compression::kZstd: return CompressionType::kZstd;
  }
  return CompressionType::kLz4;
}

Result<BuiltSst> build_sst_from_memtable(const Memtable& mem, const SstFromMemtableParams& p) {
  StringSink sink;
  // The arena size bounds the uncompressed data (plus a little for the
  // meta blocks); compression usually makes the SST smaller.
  sink.reserve(mem.approximate_memory_usage() + 64 * 1024);
  SstBuilderOptions bo = p.builder;
  bo.min_write_time_ms = p.min_write_ms;
  bo.max_write_time_ms = p.max_write_ms;
  SstBuilder builder(bo, &sink);
  std::set<std::string> blobs;
  std::optional<uint64_t> min_lsn, max_lsn;
  bool all_lsn = p.lsn_extractor && *p.lsn_extractor;
  uint64_t deletes = 0;

  Memtable::Iterator it(&mem);
  for (it.seek_to_first(); it.valid(); it.next()) {
    ISLE_RETURN_IF_ERROR(builder.add(it.key(), it.stored_value()));
    if (it.kind() == ValueKind::kDelete) deletes++;
    if (it.kind() == ValueKind::kBlobRef) {
      auto ref = decode_blob_ref(it.value());
      if (!ref) return Status::Corruption("memtable holds a malformed blob reference");
      blobs.insert(ref->sha256_hex);
    }
    if (all_lsn) {
      auto lsn = (*p.lsn_extractor)(it.user_key());
      if (!lsn) {
        all_lsn = false;
      } else {
        min_lsn = min_lsn ? std::min(*min_lsn, *lsn) : *lsn;
        max_lsn = max_lsn ? std::max(*max_lsn, *lsn) : *lsn;
      }
    }
  }
  ISLE_ASSIGN_OR_RETURN(SstInfo info, builder.finish());

  BuiltSst out;
  out.bytes = sink.release();
  SstMeta& m = out.meta;
  m.id = p.id;
  m.size = info.size;
  m.sha256 = info.sha256;
  m.min_key = info.properties.min_user_key;
  m.max_key = info.properties.max_user_key;
  m.seq_lo = info.properties.min_sequence;
  m.seq_hi = info.properties.max_sequence;
  m.min_write_ms = p.min_write_ms;
  m.max_write_ms = p.max_write_ms;
  m.num_entries = info.properties.num_entries;
  m.num_deletes = deletes;
  m.level = 0;
  m.blobs.assign(blobs.begin(), blobs.end());
  if (all_lsn && min_lsn) {
    m.min_lsn = min_lsn;
    m.max_lsn = max_lsn;
  }
  if (p.signer) {
    m.sig = to_hex(p.signer->sign(sst_signature_message(m.sha256)));
    m.sig_key_id = p.signer->key_id();
  }
  return out;
}

}  // namespace isle
