// Streaming SST writer; see sst_builder.h and docs/format/sst.md.
#include "format/sst_builder.h"

#include <algorithm>

#include "format/block_format.h"
#include "format/footer.h"
#include "util/clock.h"

namespace isle {

SstBuilder::SstBuilder(const SstBuilderOptions& options, WritableSink* sink)
    : options_(options),
      sink_(sink),
      status_(validate_options(options)),
      data_block_(options.restart_interval),
      index_block_(1),
      bloom_(options.bloom_bits_per_key) {
  props_.format_version = kSstFormatVersion;
  props_.compression = options.compression;
  props_.compression_level = options.compression_level;
  props_.block_size = options.block_size;
  props_.bloom_bits_per_key = static_cast<uint64_t>(std::max(options.bloom_bits_per_key, 0));
  props_.restart_interval = static_cast<uint64_t>(std::max(options.restart_interval, 0));
  if (options.min_write_time_ms && options.max_write_time_ms) {
    props_.has_write_time = true;
    props_.min_write_time_ms = *options.min_write_time_ms;
    props_.max_write_time_ms = *options.max_write_time_ms;
  }
}

Status SstBuilder::validate_options(const SstBuilderOptions& o) {
  if (o.block_size < 1 || o.block_size > kMaxSstBlockSize) {
    return Status::InvalidArgument("sst builder: block_size " + std::to_string(o.block_size) +
                                   " not in 1.." + std::to_string(kMaxSstBlockSize));
  }
  if (o.restart_interval < 1 || o.restart_interval > 65536) {
    return Status::InvalidArgument("sst builder: restart_interval " +
                                   std::to_string(o.restart_interval) + " not in 1..65536");
  }
  if (static_cast<uint8_t>(o.compression) > kMaxCompressionType) {
    return Status::InvalidArgument("sst builder: unknown compression type");
  }
  if (o.compression_level < -100 || o.compression_level > 22) {
    return Status::InvalidArgument("sst builder: compression_level " +
                                   std::to_string(o.compression_level) + " not in -100..22");
  }
  if (o.bloom_bits_per_key < 0 || o.bloom_bits_per_key > 100) {
    return Status::InvalidArgument("sst builder: bloom_bits_per_key " +
                                   std::to_string(o.bloom_bits_per_key) + " not in 0..100");
  }
  if (o.min_write_time_ms.has_value() != o.max_write_time_ms.has_value()) {
    return Status::InvalidArgument("sst builder: set both min and max write time, or neither");
  }
  if (o.min_write_time_ms && *o.min_write_time_ms > *o.max_write_time_ms) {
    return Status::InvalidArgument("sst builder: min write time after max write time");
  }
  return Status::OK();
}

void SstBuilder::note_write_time(int64_t ms) {
  if (!props_.has_write_time) {
    props_.has_write_time = true;
    props_.min_write_time_ms = props_.max_write_time_ms = ms;
    return;
  }
  props_.min_write_time_ms = std::min(props_.min_write_time_ms, ms);
  props_.max_write_time_ms = std::max(props_.max_write_time_ms, ms);
}

Status SstBuilder::add(std::string_view user_key, uint64_t seq, ValueKind kind,
                       std::string_view value, uint64_t expires_at_ms) {
  if (seq > kMaxSequence) {
    return Status::InvalidArgument("sst builder: sequence " + std::to_string(seq) +
                                   " exceeds 56 bits");
  }
  if (static_cast<uint8_t>(kind) > kMaxValueKind) {
    return Status::InvalidArgument("sst builder: unknown value kind");
  }
  const bool has_expiry = expires_at_ms != 0;
  std::string ikey = make_internal_key(user_key, seq, kind, has_expiry);
  std::string stored;
  encode_entry_value(&stored, value, has_expiry, expires_at_ms);
  return add(ikey, stored);
}

Status SstBuilder::add(std::string_view ikey, std::string_view value) {
  if (!status_.ok()) return status_;
  if (finished_) return Status::InvalidArgument("sst builder: add() after finish()");
  ParsedInternalKey parsed;
  if (!parse_internal_key(ikey, &parsed)) {
    return Status::InvalidArgument("sst builder: malformed internal key of " +
                                   std::to_string(ikey.size()) + " bytes");
  }
  if (ikey.size() > kMaxSstKeySize || value.size() > kMaxSstValueSize) {
    return Status::InvalidArgument("sst builder: entry too large (key " +
                                   std::to_string(ikey.size()) + " bytes, value " +
                                   std::to_string(value.size()) + " bytes)");
  }
  const bool first = props_.num_entries == 0;
  if (!first && compare_internal_keys(last_key_, ikey) >= 0) {
    return Status::InvalidArgument("sst builder: keys not strictly increasing (user key '" +
                                   std::string(parsed.user_key) + "' seq " +
                                   std::to_string(parsed.sequence) + ")");
  }
  uint64_t expires_at_ms = 0;
  if (parsed.has_expiry) {
    std::string_view payload;
    if (!decode_entry_value(true, value, &payload, &expires_at_ms)) {
      return Status::InvalidArgument("sst builder: value lacks its expiry prefix");
    }
  }

  // Accepted: update the summaries.
  const bool new_user_key = first || extract_user_key(last_key_) != parsed.user_key;
  if (options_.bloom_bits_per_key > 0 && new_user_key) bloom_.add_key(parsed.user_key);
  if (first) {
    smallest_key_.assign(ikey.data(), ikey.size());
    props_.min_user_key.assign(parsed.user_key.data(), parsed.user_key.size());
    props_.min_sequence = props_.max_sequence = parsed.sequence;
  }
  props_.max_user_key.assign(parsed.user_key.data(), parsed.user_key.size());
  props_.min_sequence = std::min(props_.min_sequence, parsed.sequence);
  props_.max_sequence = std::max(props_.max_sequence, parsed.sequence);
  props_.num_entries++;
  switch (parsed.kind) {
    case ValueKind::kPut: props_.num_puts++; break;
    case ValueKind::kDelete: props_.num_deletes++; break;
    case ValueKind::kBlobRef: props_.num_blob_refs++; break;
  }
  if (parsed.has_expiry) {
    if (props_.num_entries_with_expiry == 0) {
      props_.min_expiry_ms = props_.max_expiry_ms = expires_at_ms;
    }
    props_.num_entries_with_expiry++;
    props_.min_expiry_ms = std::min(props_.min_expiry_ms, expires_at_ms);
    props_.max_expiry_ms = std::max(props_.max_expiry_ms, expires_at_ms);
  }
  props_.raw_key_bytes += ikey.size();
  props_.raw_value_bytes += value.size();
  last_key_.assign(ikey.data(), ikey.size());

  data_block_.add(ikey, value);
  if (data_block_.size_estimate() >= options_.block_size) return flush_data_block();
  return Status::OK();
}

Status SstBuilder::emit(std::string_view bytes) {
  if (!status_.ok()) return status_;
  Status s = sink_->append(bytes);
  if (!s.ok()) {
    status_ = s.with_context("sst builder: sink");
    return status_;
  }
  sha_.update(bytes);
  offset_ += bytes.size();
  return Status::OK();
}

Status SstBuilder::write_block(std::string_view raw, CompressionType type, BlockHandle* handle) {
  if (raw.size() > kMaxUncompressedBlock) {
    // Only the meta blocks of an enormous SST can get here.
    return Status::InvalidArgument("sst builder: a block of " + std::to_string(raw.size()) +
                                   " bytes exceeds the 64 MiB block limit; write smaller SSTs");
  }
  scratch_.clear();
  seal_block(raw, type, options_.compression_level, &scratch_);
  handle->offset = offset_;
  handle->size = scratch_.size() - kBlockTrailerSize;
  return emit(scratch_);
}

Status SstBuilder::flush_data_block() {
  if (data_block_.empty()) return Status::OK();
  BlockHandle h;
  ISLE_RETURN_IF_ERROR(write_block(data_block_.finish(), options_.compression, &h));
  std::string handle_bytes;
  encode_block_handle(&handle_bytes, h);
  // The index key is the block's last key: every key of the block is <= it
  // and every key of the next block is > it.
  index_block_.add(data_block_.last_key(), handle_bytes);
  props_.num_data_blocks++;
  data_block_.reset();
  return Status::OK();
}

Result<SstInfo> SstBuilder::finish() {
  if (!status_.ok()) return status_;
  if (finished_) return Status::InvalidArgument("sst builder: finish() called twice");
  finished_ = true;
  ISLE_RETURN_IF_ERROR(flush_data_block());
  props_.data_size = offset_;

  Footer footer;
  if (options_.bloom_bits_per_key > 0) {
    // Bloom bits look random: compressing them would never pay.
    ISLE_RETURN_IF_ERROR(write_block(bloom_.finish(), CompressionType::kNone, &footer.filter));
    props_.filter_size = footer.filter.stored_size();
  }
  ISLE_RETURN_IF_ERROR(write_block(index_block_.finish(), options_.compression, &footer.index));
  props_.index_size = footer.index.stored_size();
  props_.creation_time_ms = options_.creation_time_ms ? *options_.creation_time_ms
                                                      : Clock::system()->now_ms();
  ISLE_RETURN_IF_ERROR(
      write_block(encode_properties(props_), options_.compression, &footer.properties));
  std::string footer_bytes;
  encode_footer(footer, &footer_bytes);
  ISLE_RETURN_IF_ERROR(emit(footer_bytes));
  Status s = sink_->flush();
  if (!s.ok()) {
    status_ = s.with_context("sst builder: sink");
    return status_;
  }

  SstInfo info;
  info.size = offset_;
  info.sha256 = sha_.hex();
  info.smallest_key = smallest_key_;
  info.largest_key = last_key_;
  info.properties = props_;
  return info;
}

}  // namespace isle
