// SST footer encoding and validation; see footer.h for the bytes.
#include "format/footer.h"

#include "util/coding.h"
#include "util/hash.h"

namespace isle {

namespace {
constexpr size_t kChecksummedBytes = 56;

std::string handle_text(const BlockHandle& h) {
  return "[" + std::to_string(h.offset) + ", +" + std::to_string(h.size) + "]";
}
}  // namespace

void encode_footer(const Footer& f, std::string* dst) {
  const size_t start = dst->size();
  put_fixed64(dst, f.filter.offset);
  put_fixed64(dst, f.filter.size);
  put_fixed64(dst, f.index.offset);
  put_fixed64(dst, f.index.size);
  put_fixed64(dst, f.properties.offset);
  put_fixed64(dst, f.properties.size);
  put_fixed32(dst, f.format_version);
  dst->push_back(static_cast<char>(f.checksum_type));
  dst->append(3, '\0');
  put_fixed32(dst, checksum32(std::string_view(*dst).substr(start, kChecksummedBytes)));
  dst->append(kSstMagic.data(), kSstMagic.size());
}

Result<Footer> decode_footer(std::string_view bytes, uint64_t file_size, bool verify_checksum) {
  if (bytes.size() != kFooterSize || file_size < kFooterSize) {
    return Status::Corruption("sst footer: file of " + std::to_string(file_size) +
                              " bytes is too short for the footer");
  }
  if (bytes.substr(kFooterSize - kSstMagic.size()) != kSstMagic) {
    return Status::Corruption("sst footer: bad magic (not an IsleDB SST or truncated)");
  }
  if (verify_checksum) {
    const uint32_t expected = decode_fixed32(bytes.data() + kChecksummedBytes);
    if (checksum32(bytes.substr(0, kChecksummedBytes)) != expected) {
      return Status::Corruption("sst footer: checksum mismatch");
    }
  }
  Footer f;
  const char* p = bytes.data();
  f.filter = {decode_fixed64(p), decode_fixed64(p + 8)};
  f.index = {decode_fixed64(p + 16), decode_fixed64(p + 24)};
  f.properties = {decode_fixed64(p + 32), decode_fixed64(p + 40)};
  f.format_version = decode_fixed32(p + 48);
  f.checksum_type = static_cast<uint8_t>(p[52]);
  if (f.format_version == 0 || f.format_version > kSstFormatVersion) {
    return Status::NotSupported("sst footer: format version " + std::to_string(f.format_version) +
                                " (this build reads up to " + std::to_string(kSstFormatVersion) + ")");
  }
  if (f.checksum_type != kChecksumXxh3Low32) {
    return Status::NotSupported("sst footer: checksum type " + std::to_string(f.checksum_type));
  }

  // Each handle must be sane on its own before any arithmetic on it.
  for (const BlockHandle* h : {&f.filter, &f.index, &f.properties}) {
    if (h->size > kMaxStoredBlockPayload || h->offset > file_size) {
      return Status::Corruption("sst footer: block handle " + handle_text(*h) +
                                " out of range for a " + std::to_string(file_size) + "-byte file");
    }
  }
  if (!f.has_filter() && f.filter.offset != 0) {
    return Status::Corruption("sst footer: empty filter handle with offset " +
                              std::to_string(f.filter.offset));
  }
  // Layout: [filter] index properties footer, back to back.
  const uint64_t footer_start = file_size - kFooterSize;
  bool ok = f.properties.end() == footer_start && f.index.end() == f.properties.offset;
  if (f.has_filter()) ok = ok && f.filter.end() == f.index.offset;
  if (!ok) {
    return Status::Corruption("sst footer: meta blocks filter " + handle_text(f.filter) +
                              " index " + handle_text(f.index) + " properties " +
                              handle_text(f.properties) + " are not contiguous before the footer at " +
                              std::to_string(footer_start));
  }
  return f;
}

}  // namespace isle
