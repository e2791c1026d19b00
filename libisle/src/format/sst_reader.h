// SstReader: point lookups and iteration over one SST read through a
// RandomAccessSource (docs/format/sst.md).
//
// Read economy (what makes SSTs cheap to read from an object store):
//   open()   one tail read (default 64 KiB) that usually holds the whole meta
//            region (footer, properties, index, filter); if the meta region
//            is larger, exactly one more read fetches the rest. The index,
//            filter and properties are then pinned in memory.
//   get()    a bloom-filter miss costs no read; otherwise exactly one read of
//            one data block.
//   iterate  one read per data block visited.
//   With a block cache (SstReaderOptions::block_cache), a data block found
//   in the cache costs no read, and concurrent misses share one read.
//
// Every offset, size, count and varint taken from the file is validated:
// bad bytes give Status::Corruption naming the block and the problem, never
// a crash, an out-of-bounds read or an unbounded allocation.
//
// Thread-safety: an open SstReader is immutable; get(), may_contain() and
// new_iterator() may be called from many threads (the source must allow
// that, as both provided sources do). An iterator is used by one thread at
// a time and must not outlive its reader.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "format/block_cache_hook.h"
#include "format/block_reader.h"
#include "format/bloom.h"
#include "format/footer.h"
#include "format/internal_key.h"
#include "format/sst_properties.h"
#include "format/sst_source.h"
#include "isle/status.h"

namespace isle {

struct SstReaderOptions {
  // Bytes fetched from the end of the file by open(); at least the footer.
  // A file no larger than this is read whole by that one request and kept
  // in memory for the reader's life, so its data blocks cost no further
  // requests.
  uint64_t tail_read_size = 64 * 1024;
  // Verify block and footer checksums. Only fuzzing turns this off.
  bool verify_checksums = true;
  // When non-empty, open() checks the whole file's sha256 (lower-case hex)
  // if the whole file is in memory anyway (a MemorySource, or a file no
  // larger than the tail read); otherwise it is not checked.
  std::string expected_sha256;
  // Data blocks go through this cache when both block_cache and cache_id
  // are set; otherwise every data block is read from the source. cache_id
  // must identify the SST's bytes uniquely among all SSTs sharing the
  // cache (e.g. the SST's id in the manifest); the source's name() is not
  // used because two sources may name one object differently. Index,
  // filter and properties are pinned by the reader and never cached.
  std::shared_ptr<BlockCacheHook> block_cache;
  std::string cache_id;
};

// One version of a key as stored in the SST.
struct SstEntry {
  uint64_t sequence = 0;
  ValueKind kind = ValueKind::kPut;
  bool has_expiry = false;
  uint64_t expires_at_ms = 0;  // meaningful when has_expiry
  std::string value;           // payload: the expiry prefix removed

  friend bool operator==(const SstEntry&, const SstEntry&) = default;
};

class SstReader;

// Iterates entries in internal-key order. key() is the internal key,
// value() the stored value (with its expiry prefix, if any). On an error
// valid() turns false and status() says why.
class SstIterator {
 public:
  explicit SstIterator(const SstReader* reader);

  bool valid() const { return valid_; }
  const Status& status() const { return status_; }
  std::string_view key() const { return data_.key(); }
  std::string_view value() const { return data_.value(); }

  void seek_to_first();
  // Positions at the first entry whose internal key is >= target (use
  // seek_key(user_key, seq) to find a user key's newest visible version).
  void seek(std::string_view target);
  void next();

 private:
  // Loads the data block the index iterator points at (or the one at
  // `h`); false with status_ set on an error.
  bool load_data_block();
  bool load_data_block(const BlockHandle& h);
  // Forgets the loaded data block.
  void drop_data_block();
  // Moves forward over exhausted blocks; sets valid_ and status_.
  void settle();

  const SstReader* reader_;
  BlockIter index_;
  BlockIter data_;
  // The file offset of the block data_ walks (kNoBlock: none). A seek that
  // lands in this block again reuses it instead of asking the cache.
  static constexpr uint64_t kNoBlock = UINT64_MAX;
  uint64_t data_offset_ = kNoBlock;
  bool valid_ = false;
  Status status_;
};

class SstReader {
 public:
  static Result<std::unique_ptr<SstReader>> open(std::shared_ptr<RandomAccessSource> source,
                                                 const SstReaderOptions& options = {});

  // The newest entry of `user_key` with sequence <= snapshot_seq, whatever
  // its kind (tombstones included; the caller interprets kinds and
  // expiry), or nullopt when there is none.
  Result<std::optional<SstEntry>> get(std::string_view user_key,
                                      uint64_t snapshot_seq = kMaxSequence) const;

  // False only when the SST certainly holds no entry for the key (always
  // true when the SST has no filter).
  bool may_contain(std::string_view user_key) const;

  std::unique_ptr<SstIterator> new_iterator() const;

  const SstProperties& properties() const { return properties_; }
  const Footer& footer() const { return footer_; }
  uint64_t file_size() const { return file_size_; }
  bool has_filter() const { return footer_.has_filter(); }

 private:
  friend class SstIterator;
  SstReader() = default;

  // Builds index_prefixes_ when the index allows it (see there).
  void build_index_prefixes();
  // For a seek target (an internal key): the restart range of the index
  // that BlockIter::seek_in_restarts may probe, from index_prefixes_; false
  // when there is no prefix table (then seek the index plainly).
  bool index_hint(std::string_view target, uint32_t* first, uint32_t* last) const;
  // Positions `index` at the first index entry >= target.
  void seek_index(BlockIter& index, std::string_view target) const;

  // Decodes and validates an index value into the handle of a data block.
  Status data_block_handle(std::string_view index_value, BlockHandle* out) const;
  // THE place every data block is fetched: through the block cache when
  // options_ name one (keyed by (cache_id, h.offset)), else straight from
  // the source via load_data_block().
  Result<BlockPtr> read_data_block(const BlockHandle& h) const;
  // Reads the stored bytes of a data block, checks them and parses them.
  Result<BlockPtr> load_data_block(const BlockHandle& h) const;

  std::shared_ptr<RandomAccessSource> source_;
  SstReaderOptions options_;
  uint64_t file_size_ = 0;
  Footer footer_;
  SstProperties properties_;
  BlockPtr index_;              // pinned
  // Index search table (built at open, pinned; empty = not used): entry i
  // is 8 bytes of index entry i's user key taken right after the prefix
  // that every index user key shares (index_shared_), big-endian, zero-
  // padded. Non-decreasing, so a binary search over this contiguous array
  // narrows a seek to the index entries with the target's 8 bytes, and
  // only those are compared in full. Built only when every index entry is
  // a restart point (the builder's interval 1) and the entries are
  // sorted; memory: 8 bytes per data block plus the shared prefix.
  std::vector<uint64_t> index_prefixes_;
  std::string index_shared_;
  std::string filter_contents_;  // pinned; filter_ views it
  BloomFilter filter_;
};

}  // namespace isle
