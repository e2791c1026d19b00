// Block handles and the stored-block trailer; see block_format.h.
#include "format/block_format.h"

#include "util/coding.h"
#include "util/hash.h"

namespace isle {

void encode_block_handle(std::string* dst, const BlockHandle& h) {
  put_varint64(dst, h.offset);
  put_varint64(dst, h.size);
}

bool decode_block_handle(std::string_view* in, BlockHandle* h) {
  std::string_view save = *in;
  if (get_varint64(in, &h->offset) && get_varint64(in, &h->size)) return true;
  *in = save;
  return false;
}

CompressionType seal_block(std::string_view raw, CompressionType type, int level,
                           std::string* out) {
  const size_t start = out->size();
  CompressionType used = CompressionType::kNone;
  if (type != CompressionType::kNone) {
    std::string compressed;
    if (compress_block(type, level, raw, &compressed) &&
        compressed.size() <= raw.size() - raw.size() / kMinCompressionSavingDivisor &&
        compressed.size() < raw.size()) {
      out->append(compressed);
      used = type;
    }
  }
  if (used == CompressionType::kNone) out->append(raw.data(), raw.size());
  out->push_back(static_cast<char>(used));
  const uint32_t crc = checksum32(std::string_view(*out).substr(start));
  put_fixed32(out, crc);
  return used;
}

Status unseal_block(std::string_view stored, bool verify_checksum, std::string_view what,
                    std::string* contents) {
  if (stored.size() < kBlockTrailerSize) {
    return Status::Corruption(std::string(what) + ": shorter than its trailer");
  }
  const size_t payload_size = stored.size() - kBlockTrailerSize;
  const std::string_view payload = stored.substr(0, payload_size);
  const uint8_t type = static_cast<uint8_t>(stored[payload_size]);
  if (verify_checksum) {
    const uint32_t expected = decode_fixed32(stored.data() + payload_size + 1);
    const uint32_t actual = checksum32(stored.substr(0, payload_size + 1));
    if (expected != actual) {
      return Status::Corruption(std::string(what) + ": checksum mismatch");
    }
  }
  if (type > kMaxCompressionType) {
    return Status::Corruption(std::string(what) + ": unknown compression type " +
                              std::to_string(type));
  }
  if (type == static_cast<uint8_t>(CompressionType::kNone)) {
    if (payload.size() > kMaxUncompressedBlock) {
      return Status::Corruption(std::string(what) + ": block larger than the limit");
    }
    contents->assign(payload.data(), payload.size());
    return Status::OK();
  }
  Status s = decompress_block(static_cast<CompressionType>(type), payload, kMaxUncompressedBlock,
                              contents);
  if (!s.ok()) return s.with_context(what);
  return Status::OK();
}

}  // namespace isle
