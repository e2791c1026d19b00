// The fixed-size SST footer: the last kFooterSize bytes of every SST.
//
//   offset size
//    0     8   fixed64 filter.offset      (0 with size 0: no filter block)
//    8     8   fixed64 filter.size        (payload bytes, trailer excluded)
//   16     8   fixed64 index.offset
//   24     8   fixed64 index.size
//   32     8   fixed64 properties.offset
//   40     8   fixed64 properties.size
//   48     4   fixed32 format version     (kSstFormatVersion)
//   52     1   checksum type              (1 = low 32 bits of XXH3-64)
//   53     3   reserved, written as zero
//   56     4   fixed32 checksum32 of bytes [0, 56)
//   60     8   magic "ISLE_SST"
//
// decode_footer checks magic, checksum, checksum type and version, and the
// layout of the meta region: [filter] index properties footer, contiguous,
// so that the meta region is exactly [meta_start(), file_size).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "format/block_format.h"
#include "isle/status.h"

namespace isle {

constexpr size_t kFooterSize = 68;
constexpr uint32_t kSstFormatVersion = 1;
constexpr uint8_t kChecksumXxh3Low32 = 1;
inline constexpr std::string_view kSstMagic{"ISLE_SST", 8};

struct Footer {
  BlockHandle filter;  // size 0 = no filter
  BlockHandle index;
  BlockHandle properties;
  uint32_t format_version = kSstFormatVersion;
  uint8_t checksum_type = kChecksumXxh3Low32;

  bool has_filter() const { return filter.size != 0; }
  // First byte of the meta region (filter, or index when there is none).
  uint64_t meta_start() const { return has_filter() ? filter.offset : index.offset; }
};

void encode_footer(const Footer& f, std::string* dst);

// `bytes` must be exactly the last kFooterSize bytes of a file of
// `file_size` bytes. Corruption on any inconsistency; NotSupported for a
// newer format version or unknown checksum type (with a valid checksum).
Result<Footer> decode_footer(std::string_view bytes, uint64_t file_size, bool verify_checksum);

}  // namespace isle
