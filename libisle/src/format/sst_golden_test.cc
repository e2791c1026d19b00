// Golden-bytes tests: pin the exact bytes of small fixed SSTs.
//
// IF ONE OF THESE FAILS after a code change, the SST format changed. That is
// only allowed together with: a bump of kSstFormatVersion (footer.h), a
// reader that still reads the old version, new pinned bytes here, and an
// updated docs/format/sst.md (whose worked example is kGoldenHex below).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "format/sst_builder.h"
#include "format/sst_reader.h"
#include "util/hash.h"

namespace isle {
namespace {

// The worked example of docs/format/sst.md: three entries, one data block
// with two restarts, a bloom filter, no compression (codec output may vary
// between library versions; decoding does not).
SstBuilderOptions golden_options(CompressionType c) {
  SstBuilderOptions o;
  o.block_size = 4096;
  o.restart_interval = 2;
  o.compression = c;
  o.bloom_bits_per_key = 10;
  o.min_write_time_ms = 1'700'000'000'000;
  o.max_write_time_ms = 1'700'000'001'000;
  o.creation_time_ms = 1'700'000'002'000;
  return o;
}

Result<std::string> build_golden(CompressionType c) {
  StringSink sink;
  SstBuilder b(golden_options(c), &sink);
  ISLE_RETURN_IF_ERROR(b.add("apple", 3, ValueKind::kPut, "red"));
  ISLE_RETURN_IF_ERROR(b.add("apple", 2, ValueKind::kDelete, ""));
  ISLE_RETURN_IF_ERROR(b.add("cherry", 5, ValueKind::kPut, "sweet", 1'700'000'500'000));
  ISLE_RETURN_IF_ERROR(b.finish().status());
  return sink.release();
}

// Larger values so the codecs actually compress (for the decode-only pins).
Result<std::string> build_compressible(CompressionType c) {
  StringSink sink;
  SstBuilderOptions o = golden_options(c);
  o.block_size = 256;
  SstBuilder b(o, &sink);
  for (int i = 0; i < 12; i++) {
    const std::string k = "key" + std::to_string(10 + i);
    ISLE_RETURN_IF_ERROR(b.add(k, 100 + i, ValueKind::kPut, std::string(60, static_cast<char>('a' + i % 3))));
  }
  ISLE_RETURN_IF_ERROR(b.finish().status());
  return sink.release();
}

std::string from_hex(std::string_view hex) {
  std::string out;
  auto nib = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(nib(hex[i]) * 16 + nib(hex[i + 1])));
  }
  return out;
}

// The worked example, byte for byte (637 bytes).
constexpr const char* kGoldenHex =
    "000d036170706c6501030000000000007265640508000002000000000000000e0b6368657272798105000000000000a0"
    "92b4ffbc317377656574000000001e000000020000000073827de20760000cc0021080070017c399dc000e0263686572"
    "7279810500000000000000460000000001000000003ea623f9000f0269736c652e626c6f636b5f73697a658020080f01"
    "6f6d5f626974735f7065725f6b65790a050b04636f6d7072657373696f6e6e6f6e651006015f6c6576656c00060f0672"
    "656174696f6e5f74696d655f6d73d0df95ffbc31050901646174615f73697a654b050b0166696c7465725f73697a650e"
    "060d016f726d61745f76657273696f6e01050a01696e6465785f73697a6520050d066d61785f6578706972795f6d73a0"
    "92b4ffbc3109080173657175656e636505090806757365725f6b6579636865727279090d0677726974655f74696d655f"
    "6d73e8d795ffbc31060c06696e5f6578706972795f6d73a092b4ffbc3109080173657175656e63650209080575736572"
    "5f6b65796170706c6500160669736c652e6d696e5f77726974655f74696d655f6d7380d095ffbc31050d016e756d5f62"
    "6c6f625f7265667300090b01646174615f626c6f636b73010a0601656c6574657301090701656e747269657303100c01"
    "5f776974685f657870697279010904017075747302050d017261775f6b65795f627974657328090b0176616c75655f62"
    "797465730e060f016573746172745f696e74657276616c0200000000100100000200000000030bf3594b000000000000"
    "00090000000000000059000000000000001b000000000000007900000000000000bb0100000000000001000000010000"
    "004e1d625549534c455f535354";
constexpr const char* kGoldenSha256 = "05fc4426d8ff6c3147f1bfd8b9008d4b82632a8bca50555eef643787e5f135ba";

// Twelve entries in three 256-byte blocks, LZ4 and zstd (810 and 734 bytes):
// pinned to check that the reader decodes these exact bytes.
constexpr const char* kLz4Hex =
    "b402b1000d3c6b6579313001640001001f610100286104093c31016547002f0062010028039400323201664c001f6301"
    "00286204093c33016748000fdb00281061420080940000000200000001abc65d3eb402b1000d3c6b6579313401680001"
    "001f620100286104093c35016947002f00630100280394003236016a4c001f610100286204093c37016b48000fdb0028"
    "1062420080940000000200000001d8fc3eecb402b1000d3c6b65793138016c0001001f630100286104093c39016d4700"
    "2f0061010028029400423230016e4c001f620100286204093c31016f48000fdb00281063420080940000000200000001"
    "6e2c1fb059998592640401f43f5ac741acba410700fcd8167b47b2000d026b657931330167000100134c12003237016b"
    "1100c2514c000d036b65793231016f120030a2014d0900c012000000240000000300000001efa0a14c000f0269736c65"
    "2e626c6f636b5f73697a658002080f016f6d5f626974735f7065725f6b65790a050b03636f6d7072657373696f6e6c7a"
    "341006015f6c6576656c00060f0672656174696f6e5f74696d655f6d73d0df95ffbc31050902646174615f73697a65f4"
    "01050b0166696c7465725f73697a6515060d016f726d61745f76657273696f6e01050a01696e6465785f73697a654005"
    "0c016d61785f73657175656e63656f090805757365725f6b65796b65793231090d0677726974655f74696d655f6d73e8"
    "d795ffbc31060b01696e5f73657175656e636564090805757365725f6b65796b65793130090d0677726974655f74696d"
    "655f6d7380d095ffbc31050d016e756d5f626c6f625f726566730000140169736c652e6e756d5f646174615f626c6f63"
    "6b73030a0601656c6574657300090701656e74726965730c100c015f776974685f65787069727900090401707574730c"
    "050d027261775f6b65795f62797465739c01090b0276616c75655f6279746573d005060f016573746172745f696e7465"
    "7276616c0200000000120100000200000000624f7720f400000000000000100000000000000009010000000000003b00"
    "0000000000004901000000000000980100000000000001000000010000006362a37e49534c455f535354";
constexpr const char* kZstdHex =
    "b40228b52ffd6034001502008402000d3c6b657931300164006104093c31016500623201666304093c33016700619400"
    "0000020000000a00430800402e680d387961ccc564002017b40620b7055e02105bfb6fb40228b52ffd60340015020084"
    "02000d3c6b657931340168006204093c350169006336016a6104093c37016b006294000000020000000a00430800402e"
    "680d387961ccc564002017b40620b7055e02907e5206b40228b52ffd6034001d02009402000d3c6b65793138016c0063"
    "04093c39016d00613230016e6204093c31016f006394000000020000000a00430800402e680d387961d0c50c002017b4"
    "0620b7055e026fd0142759998592640401f43f5ac741acba410700fcd8167b000d026b65793133016700000000000000"
    "4e000d026b65793137016b000000000000534e000d036b65793231016f000000000000a6014f00000000120000002400"
    "000003000000004ab1d251990328b52ffd6099007509000693403080b5cd016ce6081b3012e9320357935cf69aba0949"
    "29688b5c5ba0e8a4263f6e0c9c1191e88a17d777d7d67e11fb3ba5320035003300f2bdebd99ea6b0ad86bc6d11bd47a2"
    "7cee3da94936100c535c2df16c8afd1fc493dc27a1483af29ca586841042437fcaa301154b2cb21bb1ab867686b8691b"
    "b600e928be55b09d6df1bb69ca75dac1ec87cfb10c5b02ee5da42c8c01a0808380894fdcd37b8e01ff1ebccda2f17ef3"
    "632fc1a2dedfb0b729067c0d54ddd1932109219eaab80e9b481218517ccbb40003fadf7c346761285c2d79aaaaa86e81"
    "aaaa029d35fbe3e39feebdf7696cd2157496c22cfbe0fd17c4574bfc70537158e35f518b58f49a8f823433041000c9cc"
    "c4075d105f43ce022ca83010608020900c2b7d60db3ac8f730d384de6105fb33cd454cc06702784a55c5fa0000000000"
    "000010000000000000000f0100000000000047000000000000005b010000000000003a01000000000000010000000100"
    "0000b10a928849534c455f535354";

struct Expected {
  std::string ikey;
  std::string value;
};

std::vector<Expected> golden_entries() {
  std::string exp_value;
  encode_entry_value(&exp_value, "sweet", true, 1'700'000'500'000);
  return {
      {make_internal_key("apple", 3, ValueKind::kPut), "red"},
      {make_internal_key("apple", 2, ValueKind::kDelete), ""},
      {make_internal_key("cherry", 5, ValueKind::kPut, true), exp_value},
  };
}

std::vector<Expected> compressible_entries() {
  std::vector<Expected> v;
  for (int i = 0; i < 12; i++) {
    v.push_back({make_internal_key("key" + std::to_string(10 + i), 100 + i, ValueKind::kPut),
                 std::string(60, static_cast<char>('a' + i % 3))});
  }
  return v;
}

void expect_reads(const std::string& bytes, const std::vector<Expected>& want) {
  auto r = SstReader::open(std::make_shared<MemorySource>(bytes));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  auto it = (*r)->new_iterator();
  size_t i = 0;
  for (it->seek_to_first(); it->valid(); it->next(), i++) {
    ASSERT_LT(i, want.size());
    EXPECT_EQ(it->key(), want[i].ikey);
    EXPECT_EQ(it->value(), want[i].value);
  }
  EXPECT_TRUE(it->status().ok()) << it->status().to_string();
  EXPECT_EQ(i, want.size());
}

TEST(SstGolden, BuilderProducesThePinnedBytes) {
  auto b = build_golden(CompressionType::kNone);
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  EXPECT_EQ(to_hex(*b), kGoldenHex)
      << "SST bytes changed: this is a format change (see the top of this file)";
  EXPECT_EQ(sha256_hex(*b), kGoldenSha256);
}

TEST(SstGolden, ReaderReadsThePinnedBytes) {
  const std::string bytes = from_hex(kGoldenHex);
  ASSERT_EQ(sha256_hex(bytes), kGoldenSha256);
  expect_reads(bytes, golden_entries());

  auto r = SstReader::open(std::make_shared<MemorySource>(bytes));
  ASSERT_TRUE(r.ok());
  const SstProperties& p = (*r)->properties();
  EXPECT_EQ(p.num_entries, 3u);
  EXPECT_EQ(p.num_puts, 2u);
  EXPECT_EQ(p.num_deletes, 1u);
  EXPECT_EQ(p.num_data_blocks, 1u);
  EXPECT_EQ(p.min_user_key, "apple");
  EXPECT_EQ(p.max_user_key, "cherry");
  EXPECT_EQ(p.min_sequence, 2u);
  EXPECT_EQ(p.max_sequence, 5u);
  EXPECT_EQ(p.min_write_time_ms, 1'700'000'000'000);
  EXPECT_EQ(p.max_write_time_ms, 1'700'000'001'000);
  EXPECT_EQ(p.creation_time_ms, 1'700'000'002'000);
  EXPECT_EQ(p.min_expiry_ms, 1'700'000'500'000u);
  EXPECT_EQ(p.compression, CompressionType::kNone);

  // The worked example in docs/format/sst.md relies on these filter answers.
  EXPECT_TRUE((*r)->may_contain("apple"));
  EXPECT_TRUE((*r)->may_contain("cherry"));
  EXPECT_FALSE((*r)->may_contain("banana"));

  auto g = (*r)->get("apple");
  ASSERT_TRUE(g.ok() && g->has_value());
  EXPECT_EQ((*g)->value, "red");
  g = (*r)->get("apple", 2);
  ASSERT_TRUE(g.ok() && g->has_value());
  EXPECT_EQ((*g)->kind, ValueKind::kDelete);
  g = (*r)->get("cherry");
  ASSERT_TRUE(g.ok() && g->has_value());
  EXPECT_EQ((*g)->value, "sweet");
  EXPECT_EQ((*g)->expires_at_ms, 1'700'000'500'000u);
}

TEST(SstGolden, ReaderDecodesPinnedCompressedSsts) {
  expect_reads(from_hex(kLz4Hex), compressible_entries());
  expect_reads(from_hex(kZstdHex), compressible_entries());
  // The pinned files really are compressed: smaller than the same entries
  // stored raw, and they say so in their properties.
  auto raw = build_compressible(CompressionType::kNone);
  ASSERT_TRUE(raw.ok());
  for (auto [hex, type] : {std::pair{kLz4Hex, CompressionType::kLz4},
                           std::pair{kZstdHex, CompressionType::kZstd}}) {
    const std::string bytes = from_hex(hex);
    EXPECT_LT(bytes.size() + 200, raw->size());
    auto r = SstReader::open(std::make_shared<MemorySource>(bytes));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ((*r)->properties().compression, type);
  }
}

TEST(SstGolden, CompressedBuildsRoundTrip) {
  // Codec output may differ between library versions, so only round trips
  // are required of freshly built compressed SSTs.
  for (auto c : {CompressionType::kLz4, CompressionType::kZstd}) {
    auto b = build_compressible(c);
    ASSERT_TRUE(b.ok());
    expect_reads(*b, compressible_entries());
  }
}

}  // namespace
}  // namespace isle
