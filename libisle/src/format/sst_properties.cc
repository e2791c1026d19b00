// Properties block encoding; see sst_properties.h and docs/format/sst.md.
#include "format/sst_properties.h"

#include <map>

#include "format/block_builder.h"
#include "format/block_reader.h"
#include "util/coding.h"

namespace isle {

namespace {

// Property names (stored in files: never rename, only add).
constexpr char kBlockSize[] = "isle.block_size";
constexpr char kBloomBitsPerKey[] = "isle.bloom_bits_per_key";
constexpr char kCompression[] = "isle.compression";
constexpr char kCompressionLevel[] = "isle.compression_level";
constexpr char kCreationTime[] = "isle.creation_time_ms";
constexpr char kDataSize[] = "isle.data_size";
constexpr char kFilterSize[] = "isle.filter_size";
constexpr char kFormatVersion[] = "isle.format_version";
constexpr char kIndexSize[] = "isle.index_size";
constexpr char kMaxExpiry[] = "isle.max_expiry_ms";
constexpr char kMaxSequence[] = "isle.max_sequence";
constexpr char kMaxUserKey[] = "isle.max_user_key";
constexpr char kMaxWriteTime[] = "isle.max_write_time_ms";
constexpr char kMinExpiry[] = "isle.min_expiry_ms";
constexpr char kMinSequence[] = "isle.min_sequence";
constexpr char kMinUserKey[] = "isle.min_user_key";
constexpr char kMinWriteTime[] = "isle.min_write_time_ms";
constexpr char kNumBlobRefs[] = "isle.num_blob_refs";
constexpr char kNumDataBlocks[] = "isle.num_data_blocks";
constexpr char kNumDeletes[] = "isle.num_deletes";
constexpr char kNumEntries[] = "isle.num_entries";
constexpr char kNumExpiring[] = "isle.num_entries_with_expiry";
constexpr char kNumPuts[] = "isle.num_puts";
constexpr char kRawKeyBytes[] = "isle.raw_key_bytes";
constexpr char kRawValueBytes[] = "isle.raw_value_bytes";
constexpr char kRestartInterval[] = "isle.restart_interval";

std::string varint(uint64_t v) {
  std::string s;
  put_varint64(&s, v);
  return s;
}

// The whole value must be one varint.
bool parse_varint(std::string_view v, uint64_t* out) {
  return get_varint64(&v, out) && v.empty();
}

}  // namespace

std::string encode_properties(const SstProperties& p) {
  std::map<std::string, std::string> m;
  m[kNumEntries] = varint(p.num_entries);
  m[kNumPuts] = varint(p.num_puts);
  m[kNumDeletes] = varint(p.num_deletes);
  m[kNumBlobRefs] = varint(p.num_blob_refs);
  m[kNumExpiring] = varint(p.num_entries_with_expiry);
  m[kRawKeyBytes] = varint(p.raw_key_bytes);
  m[kRawValueBytes] = varint(p.raw_value_bytes);
  m[kNumDataBlocks] = varint(p.num_data_blocks);
  m[kDataSize] = varint(p.data_size);
  m[kIndexSize] = varint(p.index_size);
  m[kFilterSize] = varint(p.filter_size);
  if (p.num_entries > 0) {
    m[kMinSequence] = varint(p.min_sequence);
    m[kMaxSequence] = varint(p.max_sequence);
    m[kMinUserKey] = p.min_user_key;
    m[kMaxUserKey] = p.max_user_key;
  }
  if (p.has_write_time) {
    m[kMinWriteTime] = varint(static_cast<uint64_t>(p.min_write_time_ms));
    m[kMaxWriteTime] = varint(static_cast<uint64_t>(p.max_write_time_ms));
  }
  if (p.num_entries_with_expiry > 0) {
    m[kMinExpiry] = varint(p.min_expiry_ms);
    m[kMaxExpiry] = varint(p.max_expiry_ms);
  }
  m[kCreationTime] = varint(static_cast<uint64_t>(p.creation_time_ms));
  m[kCompression] = std::string(compression_name(p.compression));
  m[kCompressionLevel] = varint(static_cast<uint64_t>(static_cast<int64_t>(p.compression_level)));
  m[kBlockSize] = varint(p.block_size);
  m[kBloomBitsPerKey] = varint(p.bloom_bits_per_key);
  m[kRestartInterval] = varint(p.restart_interval);
  m[kFormatVersion] = varint(p.format_version);

  // Names share the "isle." prefix: restarts every 16 entries let prefix
  // compression drop it. The reader scans the block linearly.
  BlockBuilder b(16);
  for (const auto& [name, value] : m) b.add(name, value);
  return std::string(b.finish());
}

Result<SstProperties> decode_properties(std::string contents) {
  ISLE_ASSIGN_OR_RETURN(BlockPtr block, Block::parse(std::move(contents), "properties block"));
  SstProperties p;
  bool have_min_wt = false, have_max_wt = false;
  // Unsigned integer properties, by name.
  const std::map<std::string_view, uint64_t*> u64 = {
      {kNumEntries, &p.num_entries},
      {kNumPuts, &p.num_puts},
      {kNumDeletes, &p.num_deletes},
      {kNumBlobRefs, &p.num_blob_refs},
      {kNumExpiring, &p.num_entries_with_expiry},
      {kRawKeyBytes, &p.raw_key_bytes},
      {kRawValueBytes, &p.raw_value_bytes},
      {kNumDataBlocks, &p.num_data_blocks},
      {kDataSize, &p.data_size},
      {kIndexSize, &p.index_size},
      {kFilterSize, &p.filter_size},
      {kMinSequence, &p.min_sequence},
      {kMaxSequence, &p.max_sequence},
      {kMinExpiry, &p.min_expiry_ms},
      {kMaxExpiry, &p.max_expiry_ms},
      {kBlockSize, &p.block_size},
      {kBloomBitsPerKey, &p.bloom_bits_per_key},
      {kRestartInterval, &p.restart_interval},
      {kFormatVersion, &p.format_version},
  };

  BlockIter it(block, compare_bytewise);
  std::string prev;
  bool first = true;
  for (it.seek_to_first(); it.valid(); it.next()) {
    const std::string_view name = it.key();
    const std::string_view value = it.value();
    if (!first && name <= prev) {
      return Status::Corruption("properties block: names not strictly ascending at '" +
                                std::string(name) + "'");
    }
    first = false;
    prev.assign(name.data(), name.size());
    auto bad = [&]() {
      return Status::Corruption("properties block: bad value for " + std::string(name));
    };
    uint64_t v = 0;
    if (auto f = u64.find(name); f != u64.end()) {
      if (!parse_varint(value, f->second)) return bad();
    } else if (name == kMinUserKey) {
      p.min_user_key.assign(value.data(), value.size());
    } else if (name == kMaxUserKey) {
      p.max_user_key.assign(value.data(), value.size());
    } else if (name == kMinWriteTime) {
      if (!parse_varint(value, &v)) return bad();
      p.min_write_time_ms = static_cast<int64_t>(v);
      have_min_wt = true;
    } else if (name == kMaxWriteTime) {
      if (!parse_varint(value, &v)) return bad();
      p.max_write_time_ms = static_cast<int64_t>(v);
      have_max_wt = true;
    } else if (name == kCreationTime) {
      if (!parse_varint(value, &v)) return bad();
      p.creation_time_ms = static_cast<int64_t>(v);
    } else if (name == kCompressionLevel) {
      if (!parse_varint(value, &v)) return bad();
      const auto level = static_cast<int64_t>(v);
      if (level < INT32_MIN || level > INT32_MAX) return bad();
      p.compression_level = static_cast<int>(level);
    } else if (name == kCompression) {
      if (!parse_compression_name(value, &p.compression)) return bad();
    }
    // Any other name: a property from a newer writer; skipped.
  }
  if (!it.status().ok()) return it.status();
  if (have_min_wt != have_max_wt) {
    return Status::Corruption("properties block: only one of min/max write time present");
  }
  p.has_write_time = have_min_wt;
  return p;
}

}  // namespace isle
