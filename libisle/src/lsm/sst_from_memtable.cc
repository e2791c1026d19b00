// SST + metadata from a memtable; see sst_from_memtable.h.
#include "lsm/sst_from_memtable.h"

#include <algorithm>
#include <set>

#include "format/blob_ref.h"
#include "format/internal_key.h"
#include "format/sink.h"
#include "format/sst_reader.h"
#include "format/sst_source.h"
#include "lsm/internal_iterator.h"
#include "lsm/merging_iterator.h"
#include "util/hash.h"

namespace isle {

namespace {

// Widens the range [*lo, *hi] (empty while both are unset) to cover
// [vlo, vhi].
void widen(std::optional<uint64_t>* lo, std::optional<uint64_t>* hi, uint64_t vlo, uint64_t vhi) {
  *lo = *lo ? std::min(**lo, vlo) : vlo;
  *hi = *hi ? std::max(**hi, vhi) : vhi;
}

// While *all is true, widens [*lo, *hi] by the LSN `extract` finds in
// user_key; a key without one clears *all for good.
void track_lsn(const LsnExtractor& extract, std::string_view user_key, bool* all,
               std::optional<uint64_t>* lo, std::optional<uint64_t>* hi) {
  if (!*all) return;
  auto lsn = extract(user_key);
  if (!lsn) {
    *all = false;
  } else {
    widen(lo, hi, *lsn, *lsn);
  }
}

// The metadata of a freshly built L0 SST: what the builder reported plus
// the write-time range, delete count and blobs the caller gathered. No
// LSN range and no signature yet.
SstMeta l0_meta(const std::string& id, const SstInfo& info, int64_t min_write_ms,
                int64_t max_write_ms, uint64_t deletes, const std::set<std::string>& blobs) {
  SstMeta m;
  m.id = id;
  m.size = info.size;
  m.sha256 = info.sha256;
  m.min_key = info.properties.min_user_key;
  m.max_key = info.properties.max_user_key;
  m.seq_lo = info.properties.min_sequence;
  m.seq_hi = info.properties.max_sequence;
  m.min_write_ms = min_write_ms;
  m.max_write_ms = max_write_ms;
  m.num_entries = info.properties.num_entries;
  m.num_deletes = deletes;
  m.level = 0;
  m.blobs.assign(blobs.begin(), blobs.end());
  return m;
}

}  // namespace

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
    if (all_lsn) track_lsn(*p.lsn_extractor, it.user_key(), &all_lsn, &min_lsn, &max_lsn);
  }
  ISLE_ASSIGN_OR_RETURN(SstInfo info, builder.finish());

  BuiltSst out;
  out.bytes = sink.release();
  out.meta = l0_meta(p.id, info, p.min_write_ms, p.max_write_ms, deletes, blobs);
  SstMeta& m = out.meta;
  if (all_lsn && min_lsn) {
    m.min_lsn = min_lsn;
    m.max_lsn = max_lsn;
  }
  if (p.signer) sign_sst_meta(&m, *p.signer);
  return out;
}

void sign_sst_meta(SstMeta* m, const Ed25519Signer& signer) {
  const std::string message =
      m->is_inline() ? inline_signature_message(m->sha256) : sst_signature_message(m->sha256);
  m->sig = to_hex(signer.sign(message));
  m->sig_key_id = signer.key_id();
}

void make_inline(BuiltSst* built, const Ed25519Signer* signer) {
  built->meta.inline_data.bytes = std::make_shared<const std::string>(std::move(built->bytes));
  built->bytes.clear();
  if (signer) sign_sst_meta(&built->meta, *signer);
}

Result<BuiltSst> build_materialized_sst(const std::vector<SstMeta>& inputs,
                                        const MaterializeParams& p) {
  if (inputs.empty()) return Status::InvalidArgument("materialize: no inputs");
  std::vector<std::unique_ptr<InternalIterator>> children;
  uint64_t total = 0;
  int64_t min_write = INT64_MAX, max_write = INT64_MIN;
  std::set<std::string> blobs;
  bool inputs_have_lsn = true;
  std::optional<uint64_t> min_lsn, max_lsn;
  for (const SstMeta& in : inputs) {
    if (!in.is_inline()) return Status::InvalidArgument("materialize: " + in.id + " is not inline");
    total += in.size;
    SstReaderOptions ro;
    auto reader = SstReader::open(std::make_shared<MemorySource>(in.inline_data.bytes, in.id), ro);
    if (!reader.ok()) return reader.status().with_context("materialize: inline sst " + in.id);
    children.push_back(new_sst_iterator(std::shared_ptr<const SstReader>(std::move(*reader))));
    min_write = std::min(min_write, in.min_write_ms);
    max_write = std::max(max_write, in.max_write_ms);
    blobs.insert(in.blobs.begin(), in.blobs.end());
    if (in.min_lsn && in.max_lsn) {
      widen(&min_lsn, &max_lsn, *in.min_lsn, *in.max_lsn);
    } else {
      inputs_have_lsn = false;
    }
  }
  StringSink sink;
  sink.reserve(total + 64 * 1024);
  SstBuilderOptions bo = p.builder;
  bo.min_write_time_ms = min_write;
  bo.max_write_time_ms = max_write;
  SstBuilder builder(bo, &sink);
  const bool extract = p.lsn_extractor && *p.lsn_extractor;
  bool all_lsn = extract;
  std::optional<uint64_t> x_min, x_max;
  uint64_t deletes = 0;
  auto it = new_merging_iterator(std::move(children));
  for (it->seek_to_first(); it->valid(); it->next()) {
    ISLE_RETURN_IF_ERROR(builder.add(it->key(), it->value()));
    ParsedInternalKey k;
    if (!parse_internal_key(it->key(), &k)) return Status::Corruption("materialize: bad key");
    if (k.kind == ValueKind::kDelete) deletes++;
    if (all_lsn) track_lsn(*p.lsn_extractor, k.user_key, &all_lsn, &x_min, &x_max);
  }
  ISLE_RETURN_IF_ERROR(it->status().with_context("materialize: reading inline ssts"));
  ISLE_ASSIGN_OR_RETURN(SstInfo info, builder.finish());

  BuiltSst out;
  out.bytes = sink.release();
  out.meta = l0_meta(p.id, info, min_write, max_write, deletes, blobs);
  SstMeta& m = out.meta;
  if (extract) {
    if (all_lsn && x_min) {
      m.min_lsn = x_min;
      m.max_lsn = x_max;
    }
  } else if (inputs_have_lsn) {
    m.min_lsn = min_lsn;
    m.max_lsn = max_lsn;
  }
  if (p.signer) sign_sst_meta(&m, *p.signer);
  return out;
}

}  // namespace isle
