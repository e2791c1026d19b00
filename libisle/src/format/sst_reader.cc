// SST reader: open (tail + meta region), point lookups, iteration.
// See sst_reader.h for the read economy and docs/format/sst.md for bytes.
#include "format/sst_reader.h"

#include <algorithm>

#include "format/block_format.h"
#include "util/hash.h"

namespace isle {

namespace {

std::string at(std::string_view kind, uint64_t offset) {
  return std::string(kind) + " @" + std::to_string(offset);
}

// Slices one meta block out of the meta region and unseals it.
Status unseal_meta(std::string_view meta, uint64_t meta_start, const BlockHandle& h,
                   bool verify, std::string_view kind, std::string* contents) {
  // decode_footer guaranteed meta_start <= h.offset and h.end() <= footer.
  const std::string_view stored = meta.substr(h.offset - meta_start, h.stored_size());
  return unseal_block(stored, verify, at(kind, h.offset), contents);
}

// 8 bytes of `user_key` after its first `skip` bytes, big-endian,
// zero-padded: for keys sharing those `skip` bytes, a < b bytewise implies
// key_prefix(a) <= key_prefix(b), and key_prefix(a) < key_prefix(b)
// implies a < b.
uint64_t key_prefix(std::string_view user_key, size_t skip) {
  uint64_t v = 0;
  for (size_t i = skip; i < skip + 8; i++) {
    v <<= 8;
    if (i < user_key.size()) v |= static_cast<uint8_t>(user_key[i]);
  }
  return v;
}

}  // namespace

Result<std::unique_ptr<SstReader>> SstReader::open(std::shared_ptr<RandomAccessSource> source,
                                                   const SstReaderOptions& options) {
  std::unique_ptr<SstReader> r(new SstReader());
  r->source_ = std::move(source);
  r->options_ = options;
  const std::string name = r->source_->name();
  const bool verify = options.verify_checksums;

  // 1. The tail: footer and, usually, the whole meta region.
  const uint64_t want = std::max<uint64_t>(options.tail_read_size, kFooterSize);
  ISLE_ASSIGN_OR_RETURN(TailRead tail, r->source_->read_tail(want));
  const uint64_t size = tail.total_size;
  if (size < kFooterSize) {
    return Status::Corruption("sst " + name + ": " + std::to_string(size) +
                              " bytes is too short to be an SST");
  }
  if (tail.bytes.size() != std::min(want, size)) {
    return Status::Corruption("sst " + name + ": tail read returned " +
                              std::to_string(tail.bytes.size()) + " bytes");
  }
  r->file_size_ = size;
  if (tail.bytes.size() == size && !r->source_->whole()) {
    // The tail read fetched the whole (small) file: serve the data blocks
    // from it rather than with a second request each.
    r->source_ = std::make_shared<MemorySource>(tail.bytes, name);
  }
  auto footer = decode_footer(std::string_view(tail.bytes).substr(tail.bytes.size() - kFooterSize),
                              size, verify);
  if (!footer.ok()) return footer.status().with_context("sst " + name);
  r->footer_ = *footer;

  // 2. The rest of the meta region, if the tail did not cover it: one read.
  const uint64_t meta_start = r->footer_.meta_start();
  const uint64_t meta_len = size - meta_start;  // includes the footer
  std::string meta;
  if (tail.bytes.size() >= meta_len) {
    meta = tail.bytes.substr(tail.bytes.size() - meta_len);
  } else {
    ISLE_ASSIGN_OR_RETURN(meta, r->source_->read(meta_start, meta_len - tail.bytes.size()));
    meta += tail.bytes;
  }

  // Whole-file integrity, when the whole file is at hand anyway.
  if (!options.expected_sha256.empty()) {
    std::optional<std::string_view> whole = r->source_->whole();
    if (!whole && meta_start == 0) whole = std::string_view(meta);
    if (whole && whole->size() == size && sha256_hex(*whole) != options.expected_sha256) {
      return Status::Corruption("sst " + name + ": sha256 mismatch");
    }
  }

  // 3. Parse and pin the meta blocks.
  std::string contents;
  Status s = unseal_meta(meta, meta_start, r->footer_.properties, verify, "properties block",
                         &contents);
  if (!s.ok()) return s.with_context("sst " + name);
  auto props = decode_properties(std::move(contents));
  if (!props.ok()) return props.status().with_context("sst " + name);
  r->properties_ = std::move(*props);

  contents.clear();
  s = unseal_meta(meta, meta_start, r->footer_.index, verify, "index block", &contents);
  if (!s.ok()) return s.with_context("sst " + name);
  auto index = Block::parse(std::move(contents), at("index block", r->footer_.index.offset));
  if (!index.ok()) return index.status().with_context("sst " + name);
  r->index_ = std::move(*index);
  r->build_index_prefixes();

  if (r->footer_.has_filter()) {
    s = unseal_meta(meta, meta_start, r->footer_.filter, verify, "filter block",
                    &r->filter_contents_);
    if (!s.ok()) return s.with_context("sst " + name);
    auto filter = BloomFilter::parse(r->filter_contents_);
    if (!filter.ok()) return filter.status().with_context("sst " + name);
    r->filter_ = *filter;
  }
  return r;
}

void SstReader::build_index_prefixes() {
  // The first and last index user keys bound every other: the prefix they
  // share is shared by all.
  BlockIter it(index_, compare_internal_keys, kInternalKeyTrailer);
  it.seek_to_first();
  if (!it.valid()) return;  // empty or malformed: the plain search reports it
  const std::string first(extract_user_key(it.key()));
  std::vector<uint64_t> prefixes;
  prefixes.reserve(index_->num_restarts());
  std::string last;
  uint32_t i = 0;
  for (; it.valid(); it.next(), i++) {
    if (!it.at_restart(i)) return;  // not one restart per entry
    last.assign(extract_user_key(it.key()));
  }
  if (!it.status().ok() || i != index_->num_restarts()) return;
  size_t shared = 0;
  while (shared < first.size() && shared < last.size() && first[shared] == last[shared]) shared++;
  uint64_t prev = 0;
  for (it.seek_to_first(); it.valid(); it.next()) {
    const std::string_view uk = extract_user_key(it.key());
    if (uk.size() < shared || uk.compare(0, shared, first, 0, shared) != 0) return;
    const uint64_t v = key_prefix(uk, shared);
    if (v < prev) return;  // not sorted: leave it to the plain search
    prefixes.push_back(v);
    prev = v;
  }
  if (!it.status().ok()) return;
  index_shared_ = first.substr(0, shared);
  index_prefixes_ = std::move(prefixes);
}

bool SstReader::index_hint(std::string_view target, uint32_t* first, uint32_t* last) const {
  if (index_prefixes_.empty()) return false;
  const uint32_t n = static_cast<uint32_t>(index_prefixes_.size());
  const std::string_view uk = extract_user_key(target);
  const size_t shared = index_shared_.size();
  const int c = uk.substr(0, shared).compare(index_shared_);
  if (c != 0) {
    // The target does not start with the shared prefix: it sorts before
    // every index key (c < 0: a smaller byte, or a proper prefix of it) or
    // after every one.
    *first = *last = c < 0 ? 0 : n - 1;
    return true;
  }
  const uint64_t t = key_prefix(uk, shared);
  const auto lo = std::lower_bound(index_prefixes_.begin(), index_prefixes_.end(), t);
  const auto hi = std::upper_bound(lo, index_prefixes_.end(), t);
  const auto l = static_cast<uint32_t>(lo - index_prefixes_.begin());
  const auto h = static_cast<uint32_t>(hi - index_prefixes_.begin());
  // Entries before l have a smaller prefix (so a smaller key); entry h
  // has a larger one (so a larger key): the answer is in [l, h].
  *first = l > 0 ? l - 1 : 0;
  *last = std::max(*first, h > 0 ? h - 1 : 0);
  return true;
}

void SstReader::seek_index(BlockIter& index, std::string_view target) const {
  uint32_t first = 0, last = 0;
  if (index_hint(target, &first, &last)) {
    index.seek_in_restarts(target, first, last);
  } else {
    index.seek(target);
  }
}

bool SstReader::may_contain(std::string_view user_key) const {
  return !has_filter() || filter_.may_contain(user_key);
}

Status SstReader::data_block_handle(std::string_view index_value, BlockHandle* h) const {
  if (!decode_block_handle(&index_value, h) || !index_value.empty()) {
    return Status::Corruption("sst " + source_->name() + ": index block: malformed block handle");
  }
  const uint64_t limit = footer_.meta_start();  // data blocks end where meta begins
  if (h->size > kMaxStoredBlockPayload || h->offset > limit ||
      h->stored_size() > limit - h->offset) {
    return Status::Corruption("sst " + source_->name() + ": index block: data block handle [" +
                              std::to_string(h->offset) + ", +" + std::to_string(h->size) +
                              "] outside the data region [0, " + std::to_string(limit) + ")");
  }
  return Status::OK();
}

Result<BlockPtr> SstReader::read_data_block(const BlockHandle& h) const {
  if (options_.block_cache != nullptr && !options_.cache_id.empty()) {
    auto block = options_.block_cache->get_or_load(options_.cache_id, h.offset,
                                                   [this, &h] { return load_data_block(h); });
    if (block.ok() && *block == nullptr) {
      return Status::InvalidArgument("sst " + source_->name() + ": block cache returned no block");
    }
    return block;
  }
  return load_data_block(h);
}

Result<BlockPtr> SstReader::load_data_block(const BlockHandle& h) const {
  ISLE_ASSIGN_OR_RETURN(std::string stored, source_->read(h.offset, h.stored_size()));
  std::string contents;
  const std::string what = at("data block", h.offset);
  Status s = unseal_block(stored, options_.verify_checksums, what, &contents);
  if (!s.ok()) return s.with_context("sst " + source_->name());
  auto block = Block::parse(std::move(contents), what);
  if (!block.ok()) return block.status().with_context("sst " + source_->name());
  return block;
}

Result<std::optional<SstEntry>> SstReader::get(std::string_view user_key,
                                                uint64_t snapshot_seq) const {
  if (!may_contain(user_key)) return std::optional<SstEntry>();
  const std::string target = seek_key(user_key, std::min(snapshot_seq, kMaxSequence));

  BlockIter index(index_, compare_internal_keys, kInternalKeyTrailer);
  seek_index(index, target);
  if (!index.valid()) {
    if (!index.status().ok()) return index.status().with_context("sst " + source_->name());
    return std::optional<SstEntry>();  // past the last key
  }
  BlockHandle h;
  ISLE_RETURN_IF_ERROR(data_block_handle(index.value(), &h));
  ISLE_ASSIGN_OR_RETURN(BlockPtr block, read_data_block(h));
  BlockIter data(block, compare_internal_keys, kInternalKeyTrailer);
  data.seek(target);
  if (!data.valid()) {
    if (!data.status().ok()) return data.status().with_context("sst " + source_->name());
    // The index key (the block's last key) is >= target, so the block must
    // hold an entry >= target.
    return Status::Corruption("sst " + source_->name() + ": " + block->what() +
                              " ends before its index key");
  }
  ParsedInternalKey parsed;
  if (!parse_internal_key(data.key(), &parsed)) {
    return Status::Corruption("sst " + source_->name() + ": " + block->what() +
                              ": entry with unknown kind");
  }
  if (parsed.user_key != user_key) return std::optional<SstEntry>();
  SstEntry e;
  e.sequence = parsed.sequence;
  e.kind = parsed.kind;
  e.has_expiry = parsed.has_expiry;
  std::string_view payload;
  if (!decode_entry_value(parsed.has_expiry, data.value(), &payload, &e.expires_at_ms)) {
    return Status::Corruption("sst " + source_->name() + ": " + block->what() +
                              ": malformed expiry prefix");
  }
  e.value.assign(payload.data(), payload.size());
  return std::optional<SstEntry>(std::move(e));
}

std::unique_ptr<SstIterator> SstReader::new_iterator() const {
  return std::make_unique<SstIterator>(this);
}

// ---- SstIterator ----

SstIterator::SstIterator(const SstReader* reader)
    : reader_(reader), index_(reader->index_, compare_internal_keys, kInternalKeyTrailer) {}

bool SstIterator::load_data_block() {
  BlockHandle h;
  Status s = reader_->data_block_handle(index_.value(), &h);
  if (s.ok()) return load_data_block(h);
  status_ = s;
  drop_data_block();
  return false;
}

bool SstIterator::load_data_block(const BlockHandle& h) {
  auto block = reader_->read_data_block(h);
  if (!block.ok()) {
    status_ = block.status();
    drop_data_block();
    return false;
  }
  data_ = BlockIter(std::move(*block), compare_internal_keys, kInternalKeyTrailer);
  data_offset_ = h.offset;
  return true;
}

void SstIterator::drop_data_block() {
  data_ = BlockIter();
  data_offset_ = kNoBlock;
}

void SstIterator::settle() {
  valid_ = false;
  for (;;) {
    if (!status_.ok()) return;
    if (!data_.status().ok()) {
      status_ = data_.status().with_context("sst " + reader_->source_->name());
      return;
    }
    if (data_.valid()) break;
    // The current block is exhausted (or none is loaded): go to the next.
    if (!index_.valid()) {
      if (!index_.status().ok()) {
        status_ = index_.status().with_context("sst " + reader_->source_->name());
      }
      return;  // the end
    }
    index_.next();
    drop_data_block();
    if (index_.valid() && load_data_block()) data_.seek_to_first();
  }
  ParsedInternalKey parsed;
  if (!parse_internal_key(data_.key(), &parsed)) {
    status_ = Status::Corruption("sst " + reader_->source_->name() +
                                 ": entry with unknown kind in a data block");
    return;
  }
  valid_ = true;
}

void SstIterator::seek_to_first() {
  status_ = Status::OK();  // a new seek retries after an error
  index_.seek_to_first();
  drop_data_block();
  if (index_.valid() && load_data_block()) data_.seek_to_first();
  settle();
}

void SstIterator::seek(std::string_view target) {
  status_ = Status::OK();
  if (target.size() < kInternalKeyTrailer) {
    status_ = Status::InvalidArgument("sst iterator: seek target is not an internal key");
    valid_ = false;
    return;
  }
  reader_->seek_index(index_, target);
  if (!index_.valid()) {
    drop_data_block();
  } else {
    BlockHandle h;
    Status s = reader_->data_block_handle(index_.value(), &h);
    if (!s.ok()) {
      status_ = s;
      drop_data_block();
    } else if (h.offset == data_offset_ && data_.status().ok()) {
      // The block already held (a re-seek, or DbIterator skipping a key's
      // versions): no cache lookup, no shared_ptr copy. BlockIter::seek
      // repositions within it from scratch.
      data_.seek(target);
    } else if (load_data_block(h)) {
      data_.seek(target);
    }
  }
  settle();
}

void SstIterator::next() {
  if (!valid_) return;
  data_.next();
  settle();
}

}  // namespace isle
