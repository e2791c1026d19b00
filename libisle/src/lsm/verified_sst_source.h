// VerifiedSstSource: the RandomAccessSource of an SST read under
// ReaderOptions::verify_sst_sha256 (or a verify key), in bounded memory
// whatever the SST's size (issue 14; docs/format/disk-cache.md).
//
// open() streams the object once by ranged GETs of `fetch_chunk` bytes
// (the ObjectStore has no streaming body API) and feeds every byte, in
// order, to one SHA-256 of the whole object and to one SHA-256 per
// `granule` bytes (the last granule may be shorter). It returns a source
// only when the object has exactly the manifest's size and sha256
// (sst_verify's SstBytesVerifier); otherwise Corruption, and every disk
// cache entry it wrote is erased again, so a refused SST leaves nothing.
//
// After open, read(offset, len) is served granule by granule: from the
// disk cache (key "sst/<id>/g<granule>-<index>") when present, else by a
// ranged GET of that granule, which is then cached. Either way the
// granule's SHA-256 must equal the digest recorded by the verified stream
// before any of its bytes are returned: a mismatch is Corruption (a bad
// disk entry is erased, a bad GET is not cached). Since the recorded
// digests come from the very bytes whose whole sha256 matched the manifest,
// a granule that matches its digest is a byte-exact piece of the verified
// SST: nothing unverified is ever served, with or without a disk cache.
//
// Memory (bytes): open holds one fetch chunk (fetch_chunk) plus its hash
// state; a read holds len + 2 * granule at most; the source keeps
// 32 * ceil(size / granule) bytes of digests for its life (512 KiB per GiB
// of SST at the default 64 KiB granule).
//
// Disk cache: granules are written during open only when the SST is no
// larger than half the disk budget (a larger one would only churn the
// cache through its own granules); otherwise they are cached as they are
// read. Each entry is an ordinary DiskCache entry (its xxh3 guards the
// local copy; the digest check makes it trusted).
//
// Thread-safe: read()/read_tail() may run on many threads at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "cache/disk_cache.h"
#include "format/sst_source.h"
#include "isle/object_store.h"
#include "manifest/manifest_types.h"

namespace isle {

struct VerifiedSstOptions {
  // Bytes per ranged GET of the verifying stream.
  uint64_t fetch_chunk = uint64_t{4} << 20;
  // Bytes per digest (and per disk-cache entry, and per ranged GET after
  // open). A multiple of nothing in particular; > 0.
  uint64_t granule = uint64_t{64} << 10;
};

class VerifiedSstSource : public RandomAccessSource {
 public:
  // Streams and verifies the object `key` of `store` against meta.size and
  // meta.sha256. `disk` may be null. Errors of the store are returned as
  // they are (nothing is cached then either).
  static Result<std::shared_ptr<VerifiedSstSource>> open(ObjectStorePtr store, std::string key,
                                                         const SstMeta& meta,
                                                         std::shared_ptr<DiskCache> disk,
                                                         const VerifiedSstOptions& options = {});

  Result<std::string> read(uint64_t offset, uint64_t len) override;
  Result<TailRead> read_tail(uint64_t n) override;
  std::string name() const override { return key_; }

  // The disk cache key of granule `index`.
  std::string granule_key(uint64_t index) const;
  // Granules fetched by ranged GET after open (tests check the economy).
  uint64_t granule_gets() const { return granule_gets_.load(); }

 private:
  VerifiedSstSource(ObjectStorePtr store, std::string key, const SstMeta& meta,
                    std::shared_ptr<DiskCache> disk, const VerifiedSstOptions& options);
  Status stream_and_verify();
  // The verified bytes of granule `index`.
  Result<std::string> granule(uint64_t index);

  const ObjectStorePtr store_;
  const std::string key_;
  const std::string id_;
  const uint64_t size_;
  const std::string sha256_;
  const std::shared_ptr<DiskCache> disk_;
  const VerifiedSstOptions options_;
  std::string digests_;  // 32 raw bytes per granule; written by open() only
  std::atomic<uint64_t> granule_gets_{0};
};

}  // namespace isle
