// LZ4 and zstd block codecs; see compression.h for the payload layout.
#include "format/compression.h"

#include <lz4.h>
#include <zstd.h>

#include <limits>

#include "util/coding.h"

namespace isle {

std::string_view compression_name(CompressionType type) {
  switch (type) {
    case CompressionType::kNone: return "none";
    case CompressionType::kLz4: return "lz4";
    case CompressionType::kZstd: return "zstd";
  }
  return "unknown";
}

bool parse_compression_name(std::string_view name, CompressionType* out) {
  for (uint8_t t = 0; t <= kMaxCompressionType; t++) {
    if (compression_name(static_cast<CompressionType>(t)) == name) {
      *out = static_cast<CompressionType>(t);
      return true;
    }
  }
  return false;
}

namespace {
// zstd contexts are costly to create (~100 KiB of tables each); every
// thread keeps one of each for its lifetime instead of one per block.
struct ZstdContexts {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_DCtx* d = ZSTD_createDCtx();
  ~ZstdContexts() {
    ZSTD_freeCCtx(c);
    ZSTD_freeDCtx(d);
  }
};
ZstdContexts& zstd_contexts() {
  thread_local ZstdContexts ctx;
  return ctx;
}
}  // namespace

bool compress_block(CompressionType type, int level, std::string_view raw, std::string* out) {
  out->clear();
  if (raw.size() > kMaxUncompressedBlock) return false;
  put_varint64(out, raw.size());
  const size_t header = out->size();
  switch (type) {
    case CompressionType::kNone:
      return false;
    case CompressionType::kLz4: {
      const int bound = LZ4_compressBound(static_cast<int>(raw.size()));
      if (bound <= 0) return false;
      out->resize(header + static_cast<size_t>(bound));
      const int n = LZ4_compress_default(raw.data(), out->data() + header,
                                         static_cast<int>(raw.size()), bound);
      if (n <= 0) return false;
      out->resize(header + static_cast<size_t>(n));
      return true;
    }
    case CompressionType::kZstd: {
      const size_t bound = ZSTD_compressBound(raw.size());
      out->resize(header + bound);
      ZSTD_CCtx* cctx = zstd_contexts().c;
      if (cctx == nullptr) return false;  // out of memory: store the block raw
      const size_t n = ZSTD_compressCCtx(cctx, out->data() + header, bound, raw.data(),
                                         raw.size(), level == 0 ? ZSTD_CLEVEL_DEFAULT : level);
      if (ZSTD_isError(n)) return false;
      out->resize(header + n);
      return true;
    }
  }
  return false;
}

Status decompress_block(CompressionType type, std::string_view payload, size_t max_size,
                        std::string* out) {
  uint64_t size = 0;
  if (!get_varint64(&payload, &size)) {
    return Status::Corruption("compressed block: bad uncompressed-size prefix");
  }
  if (size > max_size || size > kMaxUncompressedBlock) {
    return Status::Corruption("compressed block: uncompressed size " + std::to_string(size) +
                              " exceeds the limit of " + std::to_string(max_size));
  }
  switch (type) {
    case CompressionType::kLz4: {
      if (payload.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
        return Status::Corruption("lz4 block: compressed payload too large");
      }
      // LZ4 cannot expand more than ~255x: refuse a larger claimed size
      // before allocating for it.
      if (size > uint64_t{255} * payload.size() + 64) {
        out->clear();
        return Status::Corruption("lz4 block: uncompressed size " + std::to_string(size) +
                                  " impossible for " + std::to_string(payload.size()) +
                                  " compressed bytes");
      }
      out->assign(size, '\0');
      const int n = LZ4_decompress_safe(payload.data(), out->data(),
                                        static_cast<int>(payload.size()),
                                        static_cast<int>(size));
      if (n < 0 || static_cast<uint64_t>(n) != size) {
        return Status::Corruption("lz4 block: cannot decode (" + std::to_string(n) + " of " +
                                  std::to_string(size) + " bytes)");
      }
      return Status::OK();
    }
    case CompressionType::kZstd: {
      ZSTD_DCtx* dctx = zstd_contexts().d;
      if (dctx == nullptr) return Status::IOError("zstd: cannot allocate a decompression context");
      out->assign(size, '\0');
      const size_t n = ZSTD_decompressDCtx(dctx, out->data(), size, payload.data(), payload.size());
      if (ZSTD_isError(n)) {
        return Status::Corruption(std::string("zstd block: ") + ZSTD_getErrorName(n));
      }
      if (n != size) {
        return Status::Corruption("zstd block: decoded " + std::to_string(n) +
                                  " bytes, expected " + std::to_string(size));
      }
      return Status::OK();
    }
    case CompressionType::kNone:
      break;
  }
  return Status::Corruption("decompress_block: not a compressed type");
}

}  // namespace isle
