// Corruption tests: every single-byte flip and every truncation of a small
// SST must give correct data or Status::Corruption, never a crash or wrong
// data (run under ASan/UBSan to check memory safety). Every byte of an SST
// is covered by a block or footer checksum, so every flip must be detected.
#include <gtest/gtest.h>

#include "format/block_format.h"
#include "format/footer.h"
#include "format/sst_builder.h"
#include "format/sst_reader.h"
#include "format/sst_test_util.h"

namespace isle {
namespace {

using sst_testing::ModelEntry;

struct Outcome {
  bool corruption = false;  // some call reported Corruption
  bool other_error = false;  // some call failed with another code
  bool wrong_data = false;   // some call returned OK with wrong data
};

// Opens, iterates fully, seeks and gets every key; compares with the model.
Outcome exercise(const std::string& bytes, const std::vector<ModelEntry>& model,
                 const std::set<std::string>& user_keys, bool verify_checksums) {
  Outcome out;
  auto note = [&](const Status& s) {
    if (s.is_corruption()) {
      out.corruption = true;
    } else if (!s.ok()) {
      out.other_error = true;
    }
  };
  SstReaderOptions o;
  o.verify_checksums = verify_checksums;
  o.tail_read_size = 256;  // smaller than the file: exercises the second read
  auto r = SstReader::open(std::make_shared<MemorySource>(bytes), o);
  if (!r.ok()) {
    note(r.status());
    return out;
  }
  auto it = (*r)->new_iterator();
  size_t i = 0;
  for (it->seek_to_first(); it->valid(); it->next(), i++) {
    if (i >= model.size() || it->key() != model[i].ikey || it->value() != model[i].value) {
      out.wrong_data = true;
      break;
    }
  }
  note(it->status());
  if (it->status().ok() && !out.wrong_data && i != model.size()) out.wrong_data = true;

  for (const std::string& uk : user_keys) {
    for (uint64_t snap : {kMaxSequence, uint64_t{50000}}) {
      auto g = (*r)->get(uk, snap);
      note(g.status());
      if (g.ok() && *g != sst_testing::model_get(model, uk, snap)) out.wrong_data = true;
    }
    it->seek(seek_key(uk));
    note(it->status());
  }
  auto g = (*r)->get("definitely-absent");
  note(g.status());
  if (g.ok() && g->has_value()) out.wrong_data = true;
  return out;
}

class SstCorruption : public ::testing::TestWithParam<CompressionType> {
 protected:
  void SetUp() override {
    Random rnd(99);
    sst_testing::RandomSetOptions ro;
    ro.max_user_keys = 25;
    ro.max_key_len = 12;
    ro.max_value_len = 40;
    ro.big_value_chance = 0;
    model_ = sst_testing::random_entries(rnd, ro, &user_keys_);
    SstBuilderOptions o;
    o.block_size = 200;
    o.restart_interval = 3;
    o.compression = GetParam();
    o.creation_time_ms = 1;
    auto b = sst_testing::build_sst(model_, o);
    ASSERT_TRUE(b.ok());
    bytes_ = *b;
    ASSERT_GT(bytes_.size(), 600u);
    Outcome clean = exercise(bytes_, model_, user_keys_, true);
    ASSERT_FALSE(clean.corruption || clean.other_error || clean.wrong_data);
  }

  std::vector<ModelEntry> model_;
  std::set<std::string> user_keys_;
  std::string bytes_;
};

TEST_P(SstCorruption, EveryByteFlipIsDetected) {
  for (unsigned char mask : {0x01, 0x80, 0xff}) {
    for (size_t pos = 0; pos < bytes_.size(); pos++) {
      std::string bad = bytes_;
      bad[pos] = static_cast<char>(bad[pos] ^ mask);
      Outcome o = exercise(bad, model_, user_keys_, true);
      ASSERT_FALSE(o.wrong_data) << "flip at " << pos << " mask " << int(mask);
      ASSERT_FALSE(o.other_error) << "flip at " << pos << " mask " << int(mask);
      ASSERT_TRUE(o.corruption) << "undetected flip at " << pos << " mask " << int(mask);
    }
  }
}

TEST_P(SstCorruption, EveryTruncationIsDetected) {
  for (size_t len = 0; len < bytes_.size(); len++) {
    Outcome o = exercise(bytes_.substr(0, len), model_, user_keys_, true);
    ASSERT_TRUE(o.corruption && !o.wrong_data) << "truncated to " << len;
  }
  // Extra bytes after the footer are not an SST either.
  Outcome o = exercise(bytes_ + "x", model_, user_keys_, true);
  EXPECT_TRUE(o.corruption);
}

// Without checksums, corrupt bytes reach every parser: they may return wrong
// data, but must never crash or touch memory out of bounds (ASan).
TEST_P(SstCorruption, ParsersSurviveFlipsWithoutChecksums) {
  int detected = 0;
  for (size_t pos = 0; pos < bytes_.size(); pos++) {
    for (unsigned char mask : {0x01, 0x10, 0xff}) {
      std::string bad = bytes_;
      bad[pos] = static_cast<char>(bad[pos] ^ mask);
      Outcome o = exercise(bad, model_, user_keys_, false);
      detected += o.corruption ? 1 : 0;
    }
  }
  EXPECT_GT(detected, 0);  // the structural checks catch a good share
}

INSTANTIATE_TEST_SUITE_P(Codecs, SstCorruption,
                         ::testing::Values(CompressionType::kNone, CompressionType::kLz4,
                                           CompressionType::kZstd),
                         [](const auto& info) { return std::string(compression_name(info.param)); });

TEST(SstCorruptionTargeted, LyingHandlesAndCountsAreReported) {
  // Hand-made inconsistencies with VALID checksums, so only the structural
  // checks can catch them.
  std::vector<ModelEntry> model;
  for (int i = 0; i < 50; i++) {
    model.push_back({make_internal_key("k" + std::to_string(1000 + i), 10, ValueKind::kPut),
                     std::string(30, 'v')});
  }
  SstBuilderOptions o;
  o.block_size = 256;
  o.compression = CompressionType::kNone;
  auto b = sst_testing::build_sst(model, o);
  ASSERT_TRUE(b.ok());
  const std::string good = *b;
  auto footer = decode_footer(std::string_view(good).substr(good.size() - kFooterSize), good.size(), true);
  ASSERT_TRUE(footer.ok());

  auto with_footer = [&](Footer f) {
    std::string bad = good.substr(0, good.size() - kFooterSize);
    encode_footer(f, &bad);
    return SstReader::open(std::make_shared<MemorySource>(bad)).status();
  };
  Footer f = *footer;
  f.index.size += 1;  // overlaps the properties block
  EXPECT_TRUE(with_footer(f).is_corruption());
  f = *footer;
  f.filter.offset = 1;  // gap before the index
  EXPECT_TRUE(with_footer(f).is_corruption());
  f = *footer;
  f.properties.size = uint64_t{1} << 62;
  EXPECT_TRUE(with_footer(f).is_corruption());
  f = *footer;
  f.properties.offset = ~uint64_t{0} - 3;
  EXPECT_TRUE(with_footer(f).is_corruption());

  // Replace the index block with one pointing outside the data region, and
  // one whose value is not a handle; re-seal so checksums are valid.
  auto with_index = [&](const std::string& index_contents) {
    const std::string data = good.substr(0, footer->filter.offset);
    const std::string filter = good.substr(footer->filter.offset, footer->filter.stored_size());
    std::string props_contents;
    EXPECT_TRUE(unseal_block(std::string_view(good).substr(footer->properties.offset,
                                                           footer->properties.stored_size()),
                             true, "p", &props_contents)
                    .ok());
    std::string out = data + filter;
    Footer nf = *footer;
    nf.index.offset = out.size();
    seal_block(index_contents, CompressionType::kNone, 0, &out);
    nf.index.size = out.size() - nf.index.offset - kBlockTrailerSize;
    nf.properties.offset = out.size();
    seal_block(props_contents, CompressionType::kNone, 0, &out);
    nf.properties.size = out.size() - nf.properties.offset - kBlockTrailerSize;
    encode_footer(nf, &out);
    auto r = SstReader::open(std::make_shared<MemorySource>(out));
    if (!r.ok()) return r.status();
    auto g = (*r)->get("k1000");
    if (!g.ok()) return g.status();
    auto it = (*r)->new_iterator();
    it->seek_to_first();
    while (it->valid()) it->next();
    return it->status();
  };
  BlockBuilder idx(1);
  std::string handle;
  encode_block_handle(&handle, {footer->filter.offset - 10, 100});  // runs into the meta region
  idx.add(make_internal_key("zzz", 1, ValueKind::kPut), handle);
  EXPECT_TRUE(with_index(std::string(idx.finish())).is_corruption());
  BlockBuilder idx2(1);
  idx2.add(make_internal_key("zzz", 1, ValueKind::kPut), "\xff\xff");
  EXPECT_TRUE(with_index(std::string(idx2.finish())).is_corruption());
  BlockBuilder idx3(1);
  handle.clear();
  encode_block_handle(&handle, {3, 40});  // a "block" in the middle of real data
  idx3.add(make_internal_key("zzz", 1, ValueKind::kPut), handle);
  EXPECT_TRUE(with_index(std::string(idx3.finish())).is_corruption());
  BlockBuilder idx4(1);
  idx4.add("short", "x");  // index key shorter than an internal key
  EXPECT_TRUE(with_index(std::string(idx4.finish())).is_corruption());
}

}  // namespace
}  // namespace isle
