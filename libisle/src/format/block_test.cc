// Tests for the block layer: BlockBuilder/BlockIter (prefix compression,
// restarts, seek), the stored-block trailer (checksums, compression
// decision), codecs, handles, footer and properties encoding.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "format/block_builder.h"
#include "format/block_format.h"
#include "format/block_reader.h"
#include "format/compression.h"
#include "format/footer.h"
#include "format/sst_properties.h"
#include "util/coding.h"
#include "util/random.h"

namespace isle {
namespace {

std::string key_n(int i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "key%06d", i);
  return buf;
}

BlockPtr parse_ok(std::string_view contents) {
  auto b = Block::parse(std::string(contents), "test block");
  EXPECT_TRUE(b.ok()) << b.status().to_string();
  return b.ok() ? *b : nullptr;
}

TEST(Block, EmptyBlock) {
  BlockBuilder bb(16);
  std::string contents(bb.finish());
  EXPECT_EQ(contents.size(), 8u);  // restart[0] = 0, count = 1
  BlockPtr b = parse_ok(contents);
  ASSERT_NE(b, nullptr);
  BlockIter it(b, compare_bytewise);
  it.seek_to_first();
  EXPECT_FALSE(it.valid());
  it.seek("a");
  EXPECT_FALSE(it.valid());
  EXPECT_TRUE(it.status().ok());
}

TEST(Block, PrefixCompressionAndRestartLayout) {
  BlockBuilder bb(2);
  bb.add("apple", "1");
  bb.add("applesauce", "2");  // shares "apple"
  bb.add("apricot", "3");     // restart: stored whole
  std::string c(bb.finish());
  // entry 1: 0,5,1 "apple" "1"                     = 3 + 5 + 1 = 9 bytes
  // entry 2: 5,5,1 "sauce" "2"                     = 3 + 5 + 1 = 9 bytes
  // entry 3: 0,7,1 "apricot" "3"  (restart at 18)  = 3 + 7 + 1 = 11 bytes
  // restarts: 0, 18; count 2                        = 12 bytes
  ASSERT_EQ(c.size(), 9u + 9u + 11u + 12u);
  EXPECT_EQ(c[9], 5);  // shared bytes of entry 2
  EXPECT_EQ(c.substr(12, 5), "sauce");
  EXPECT_EQ(c[18], 0);  // restart entries share nothing
  EXPECT_EQ(decode_fixed32(c.data() + 29), 0u);
  EXPECT_EQ(decode_fixed32(c.data() + 33), 18u);
  EXPECT_EQ(decode_fixed32(c.data() + 37), 2u);

  BlockPtr b = parse_ok(c);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->num_restarts(), 2u);
  BlockIter it(b, compare_bytewise);
  std::vector<std::pair<std::string, std::string>> got;
  for (it.seek_to_first(); it.valid(); it.next()) got.emplace_back(it.key(), it.value());
  EXPECT_TRUE(it.status().ok());
  std::vector<std::pair<std::string, std::string>> want = {
      {"apple", "1"}, {"applesauce", "2"}, {"apricot", "3"}};
  EXPECT_EQ(got, want);
}

TEST(Block, SeekEveryRestartInterval) {
  for (int interval : {1, 2, 3, 16, 100}) {
    BlockBuilder bb(interval);
    std::map<std::string, std::string> model;
    for (int i = 0; i < 300; i += 3) {  // keys 0, 3, 6, ...
      model[key_n(i)] = std::string(i % 7, 'v');
      bb.add(key_n(i), model[key_n(i)]);
    }
    BlockPtr b = parse_ok(bb.finish());
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->num_restarts(), (100u + interval - 1) / interval);
    BlockIter it(b, compare_bytewise);
    for (int t = -1; t < 302; t++) {
      std::string target = t < 0 ? "" : key_n(t);
      it.seek(target);
      auto m = model.lower_bound(target);
      if (m == model.end()) {
        EXPECT_FALSE(it.valid()) << "interval " << interval << " target " << target;
        continue;
      }
      ASSERT_TRUE(it.valid()) << "interval " << interval << " target " << target;
      EXPECT_EQ(it.key(), m->first);
      EXPECT_EQ(it.value(), m->second);
      // Iteration continues from the seek position.
      it.next();
      ++m;
      EXPECT_EQ(it.valid(), m != model.end());
      if (it.valid()) {
        EXPECT_EQ(it.key(), m->first);
      }
    }
    EXPECT_TRUE(it.status().ok());
  }
}

TEST(Block, RandomKeysRoundTrip) {
  Random rnd(7);
  for (int round = 0; round < 20; round++) {
    std::map<std::string, std::string> model;
    const int n = static_cast<int>(rnd.uniform(200));
    for (int i = 0; i < n; i++) model[rnd.bytes(rnd.uniform(12))] = rnd.bytes(rnd.uniform(40));
    BlockBuilder bb(1 + static_cast<int>(rnd.uniform(20)));
    for (const auto& [k, v] : model) bb.add(k, v);
    const size_t estimate = bb.size_estimate();
    std::string c(bb.finish());
    EXPECT_EQ(c.size(), estimate);
    BlockPtr b = parse_ok(c);
    ASSERT_NE(b, nullptr);
    BlockIter it(b, compare_bytewise);
    auto m = model.begin();
    for (it.seek_to_first(); it.valid(); it.next(), ++m) {
      ASSERT_NE(m, model.end());
      EXPECT_EQ(it.key(), m->first);
      EXPECT_EQ(it.value(), m->second);
    }
    EXPECT_EQ(m, model.end());
    for (int s = 0; s < 50; s++) {
      std::string target = rnd.bytes(rnd.uniform(12));
      it.seek(target);
      auto lb = model.lower_bound(target);
      ASSERT_EQ(it.valid(), lb != model.end());
      if (it.valid()) {
        EXPECT_EQ(it.key(), lb->first);
      }
    }
  }
}

TEST(Block, ParseRejectsBadRestartArrays) {
  BlockBuilder bb(1);
  bb.add("a", "1");
  bb.add("b", "2");
  const std::string good(bb.finish());  // entries [0, 10), restarts 0, 5; count 2
  ASSERT_NE(parse_ok(good), nullptr);

  EXPECT_TRUE(Block::parse("", "b").status().is_corruption());
  EXPECT_TRUE(Block::parse("1234567", "b").status().is_corruption());
  auto with_fixed = [&](size_t pos, uint32_t v) {
    std::string c = good;
    std::string f;
    put_fixed32(&f, v);
    c.replace(pos, 4, f);
    return Block::parse(c, "b").status();
  };
  const size_t n = good.size();
  EXPECT_TRUE(with_fixed(n - 4, 0).is_corruption());            // no restarts
  EXPECT_TRUE(with_fixed(n - 4, 1000).is_corruption());         // too many
  EXPECT_TRUE(with_fixed(n - 4, 0xffffffffu).is_corruption());  // absurd
  EXPECT_TRUE(with_fixed(n - 12, 1).is_corruption());           // restart[0] != 0
  EXPECT_TRUE(with_fixed(n - 8, 0).is_corruption());            // not increasing
  EXPECT_TRUE(with_fixed(n - 8, 10).is_corruption());           // past the entries
  EXPECT_TRUE(with_fixed(n - 8, 9).ok());                       // odd but in bounds
}

TEST(Block, IteratorReportsCorruptEntries) {
  BlockBuilder bb(4);
  for (int i = 0; i < 8; i++) bb.add(key_n(i), "value");
  const std::string good(bb.finish());
  // Entry 1 (not a restart) starts at 3 + 9 + 5 = 17; make it share more
  // than the previous key has, then make its value run past the block.
  std::string c = good;
  c[17] = 100;
  BlockIter it(parse_ok(c), compare_bytewise);
  int n = 0;
  for (it.seek_to_first(); it.valid(); it.next()) n++;
  EXPECT_EQ(n, 1);
  EXPECT_TRUE(it.status().is_corruption()) << it.status().to_string();

  c = good;
  c[19] = 120;  // value length of entry 1
  BlockIter it2(parse_ok(c), compare_bytewise);
  for (it2.seek_to_first(); it2.valid(); it2.next()) {
  }
  EXPECT_TRUE(it2.status().is_corruption());

  // A minimum key size is enforced.
  BlockIter it3(parse_ok(good), compare_bytewise, 20);
  it3.seek_to_first();
  EXPECT_FALSE(it3.valid());
  EXPECT_TRUE(it3.status().is_corruption());
}

// seek() compares restart keys in place during its binary search
// (BlockIter::restart_key): a malformed restart entry met there is
// Corruption, as the walk reports it, never a read past the block.
TEST(Block, SeekReportsCorruptRestartEntries) {
  BlockBuilder bb(4);
  for (int i = 0; i < 12; i++) bb.add(key_n(i), "value");
  const std::string good(bb.finish());
  const uint32_t num = decode_fixed32(good.data() + good.size() - 4);
  ASSERT_EQ(num, 3u);
  const size_t restarts = good.size() - 4 - 4 * size_t{num};
  const size_t r1 = decode_fixed32(good.data() + restarts + 4);  // entry 4
  ASSERT_EQ(good[r1], 0);  // restart entries share nothing

  // Unchanged, a seek lands on every key.
  BlockIter ok(parse_ok(good), compare_bytewise);
  ok.seek(key_n(5));
  ASSERT_TRUE(ok.valid());
  EXPECT_EQ(ok.key(), key_n(5));

  struct Case {
    const char* what;
    size_t pos;
    char byte;
  };
  const Case cases[] = {
      {"restart entry shares bytes", r1, 3},
      {"key length past the block", r1 + 1, 120},
      {"value length past the block", r1 + 2, 120},
      {"unterminated varint", r1, static_cast<char>(0x80)},
  };
  for (const Case& c : cases) {
    std::string bad = good;
    bad[c.pos] = c.byte;
    if (c.byte == static_cast<char>(0x80)) {
      bad[c.pos + 1] = static_cast<char>(0x80);
      bad[c.pos + 2] = static_cast<char>(0x80);
    }
    for (int target : {5, 6, 11}) {  // the binary search probes restart 1
      BlockIter it(parse_ok(bad), compare_bytewise);
      it.seek(key_n(target));
      EXPECT_FALSE(it.valid()) << c.what;
      EXPECT_TRUE(it.status().is_corruption()) << c.what << ": " << it.status().to_string();
    }
  }

  // A minimum key size applies to the probed restart keys too.
  BlockIter small(parse_ok(good), compare_bytewise, 20);
  small.seek(key_n(6));
  EXPECT_FALSE(small.valid());
  EXPECT_TRUE(small.status().is_corruption());
}

TEST(Compression, RoundTripEveryCodec) {
  Random rnd(11);
  std::string compressible;
  for (int i = 0; i < 2000; i++) compressible += "hello world " + std::to_string(i % 10);
  for (auto type : {CompressionType::kLz4, CompressionType::kZstd}) {
    for (const std::string& raw : {std::string(), compressible, rnd.bytes(5000)}) {
      std::string out, back;
      ASSERT_TRUE(compress_block(type, 0, raw, &out));
      ASSERT_TRUE(decompress_block(type, out, kMaxUncompressedBlock, &back).ok());
      EXPECT_EQ(back, raw);
    }
  }
}

TEST(Compression, BoundsAndRejectsBadInput) {
  std::string raw(100000, 'x');
  for (auto type : {CompressionType::kLz4, CompressionType::kZstd}) {
    std::string out, back;
    ASSERT_TRUE(compress_block(type, 0, raw, &out));
    // Output larger than the allowed maximum is refused before decoding.
    EXPECT_TRUE(decompress_block(type, out, 1000, &back).is_corruption());
    // A lying size prefix (too small / too large) is caught.
    std::string lie;
    put_varint64(&lie, 99999);
    lie += out.substr(varint_length(100000));
    EXPECT_TRUE(decompress_block(type, lie, kMaxUncompressedBlock, &back).is_corruption());
    lie.clear();
    put_varint64(&lie, 100001);
    lie += out.substr(varint_length(100000));
    EXPECT_TRUE(decompress_block(type, lie, kMaxUncompressedBlock, &back).is_corruption());
    // Huge claimed size: refused without allocating.
    lie.clear();
    put_varint64(&lie, uint64_t{1} << 40);
    lie += out.substr(varint_length(100000));
    EXPECT_TRUE(decompress_block(type, lie, kMaxUncompressedBlock, &back).is_corruption());
    // Garbage payload and a truncated varint.
    EXPECT_TRUE(decompress_block(type, std::string("\x05garbage", 8), 100, &back).is_corruption());
    EXPECT_TRUE(decompress_block(type, std::string("\xff", 1), 100, &back).is_corruption());
  }
}

TEST(BlockFormat, SealChoosesCompressionOnlyWhenItPays) {
  std::string compressible(4000, 'a');
  std::string out;
  EXPECT_EQ(seal_block(compressible, CompressionType::kLz4, 0, &out), CompressionType::kLz4);
  EXPECT_LT(out.size(), 200u);
  Random rnd(5);
  std::string random = rnd.bytes(4000);
  out.clear();
  EXPECT_EQ(seal_block(random, CompressionType::kZstd, 0, &out), CompressionType::kNone);
  EXPECT_EQ(out.size(), random.size() + kBlockTrailerSize);
  EXPECT_EQ(out.substr(0, random.size()), random);

  // Unseal round trip, and the checksum covers payload and type byte.
  for (auto type : {CompressionType::kNone, CompressionType::kLz4, CompressionType::kZstd}) {
    std::string stored;
    seal_block(compressible, type, 0, &stored);
    std::string back;
    ASSERT_TRUE(unseal_block(stored, true, "b", &back).ok());
    EXPECT_EQ(back, compressible);
    for (size_t i = 0; i < stored.size(); i += 7) {
      std::string bad = stored;
      bad[i] ^= 0x20;
      EXPECT_TRUE(unseal_block(bad, true, "b", &back).is_corruption()) << i;
    }
    std::string bad = stored;
    bad[bad.size() - 5] ^= 1;  // type byte
    EXPECT_TRUE(unseal_block(bad, true, "b", &back).is_corruption());
  }
  std::string back;
  EXPECT_TRUE(unseal_block("abc", true, "b", &back).is_corruption());
}

TEST(BlockFormat, HandleRoundTrip) {
  std::string s;
  encode_block_handle(&s, {123456789012ull, 4096});
  std::string_view in = s;
  BlockHandle h;
  ASSERT_TRUE(decode_block_handle(&in, &h));
  EXPECT_EQ(h, (BlockHandle{123456789012ull, 4096}));
  EXPECT_TRUE(in.empty());
  std::string_view truncated = std::string_view(s).substr(0, 3);
  EXPECT_FALSE(decode_block_handle(&truncated, &h));
}

TEST(Footer, RoundTripAndValidation) {
  Footer f;
  f.filter = {1000, 100};
  f.index = {1105, 200};
  f.properties = {1310, 300};
  const uint64_t size = 1615 + kFooterSize;
  std::string bytes;
  encode_footer(f, &bytes);
  ASSERT_EQ(bytes.size(), kFooterSize);
  EXPECT_EQ(bytes.substr(60), "ISLE_SST");
  auto d = decode_footer(bytes, size, true);
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(d->filter, f.filter);
  EXPECT_EQ(d->index, f.index);
  EXPECT_EQ(d->properties, f.properties);
  EXPECT_EQ(d->meta_start(), 1000u);

  // Every byte flip is detected (magic or checksum).
  for (size_t i = 0; i < bytes.size(); i++) {
    std::string bad = bytes;
    bad[i] ^= 0x01;
    EXPECT_FALSE(decode_footer(bad, size, true).ok()) << i;
  }
  // Wrong file size: the meta region no longer ends at the footer.
  EXPECT_TRUE(decode_footer(bytes, size + 1, true).status().is_corruption());
  EXPECT_TRUE(decode_footer(bytes, 10, true).status().is_corruption());
  // Gaps between meta blocks are rejected even with a valid checksum.
  Footer gap = f;
  gap.index.offset += 1;
  gap.index.size -= 1;
  bytes.clear();
  encode_footer(gap, &bytes);
  EXPECT_TRUE(decode_footer(bytes, size, true).status().is_corruption());
  // No filter: size 0, offset 0.
  Footer nf = f;
  nf.filter = {};
  bytes.clear();
  encode_footer(nf, &bytes);
  d = decode_footer(bytes, size, true);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->has_filter());
  EXPECT_EQ(d->meta_start(), 1105u);
  // A newer version is NotSupported, not Corruption.
  Footer v2 = f;
  v2.format_version = kSstFormatVersion + 1;
  bytes.clear();
  encode_footer(v2, &bytes);
  EXPECT_EQ(decode_footer(bytes, size, true).status().code(), Code::kNotSupported);
}

TEST(Properties, RoundTripAndUnknownNames) {
  SstProperties p;
  p.num_entries = 10;
  p.num_puts = 7;
  p.num_deletes = 2;
  p.num_blob_refs = 1;
  p.num_entries_with_expiry = 3;
  p.raw_key_bytes = 123;
  p.raw_value_bytes = 4567;
  p.num_data_blocks = 2;
  p.data_size = 9000;
  p.index_size = 50;
  p.filter_size = 20;
  p.min_sequence = 5;
  p.max_sequence = 99;
  p.min_user_key = std::string("\0a", 2);
  p.max_user_key = "zz";
  p.has_write_time = true;
  p.min_write_time_ms = 1'700'000'000'000;
  p.max_write_time_ms = 1'700'000'000'999;
  p.min_expiry_ms = 10;
  p.max_expiry_ms = 20;
  p.creation_time_ms = 1'700'000'001'000;
  p.compression = CompressionType::kZstd;
  p.compression_level = -5;
  p.block_size = 4096;
  p.bloom_bits_per_key = 10;
  p.restart_interval = 16;
  p.format_version = 1;
  auto d = decode_properties(encode_properties(p));
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(*d, p);

  // Unknown names (from a newer writer) are skipped.
  BlockBuilder bb(1);
  bb.add("aaa.future", "x");
  bb.add("isle.num_entries", "\x05");
  bb.add("zzz.future", std::string(100, 'y'));
  d = decode_properties(std::string(bb.finish()));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->num_entries, 5u);

  // A malformed known value, and names out of order, are Corruption.
  BlockBuilder bad(1);
  bad.add("isle.num_entries", "\x80");
  EXPECT_TRUE(decode_properties(std::string(bad.finish())).status().is_corruption());
  BlockBuilder trailing(1);
  trailing.add("isle.num_entries", "\x05\x05");
  EXPECT_TRUE(decode_properties(std::string(trailing.finish())).status().is_corruption());
  BlockBuilder order(1);
  order.add("isle.num_puts", "\x01");
  order.add("isle.num_entries", "\x01");
  EXPECT_TRUE(decode_properties(std::string(order.finish())).status().is_corruption());
  BlockBuilder codec(1);
  codec.add("isle.compression", "brotli");
  EXPECT_TRUE(decode_properties(std::string(codec.finish())).status().is_corruption());
}

}  // namespace
}  // namespace isle
