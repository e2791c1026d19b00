// SST builder + reader tests: the builder's contract, property tests
// against a sorted model through both read paths (MemorySource and
// ObjectStoreSource over mem://), and the ranged-read economy.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "format/sst_builder.h"
#include "format/sst_reader.h"
#include "format/sst_test_util.h"
#include "isle/object_store.h"
#include "testutil/testutil.h"
#include "util/hash.h"

namespace isle {
namespace {

using sst_testing::ModelEntry;

std::unique_ptr<SstReader> open_mem(const std::string& bytes, SstReaderOptions o = {}) {
  auto r = SstReader::open(std::make_shared<MemorySource>(bytes), o);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? std::move(*r) : nullptr;
}

std::vector<ModelEntry> scan_all(SstReader& r, Status* status) {
  std::vector<ModelEntry> out;
  auto it = r.new_iterator();
  for (it->seek_to_first(); it->valid(); it->next()) {
    out.push_back({std::string(it->key()), std::string(it->value())});
  }
  *status = it->status();
  return out;
}

// ---- builder contract ----

TEST(SstBuilder, RejectsOutOfOrderAndMalformedKeys) {
  StringSink sink;
  SstBuilder b({}, &sink);
  ASSERT_TRUE(b.add("b", 5, ValueKind::kPut, "x").ok());
  // Same user key, older sequence: fine. Same key again: not strictly increasing.
  ASSERT_TRUE(b.add("b", 4, ValueKind::kPut, "x").ok());
  EXPECT_TRUE(b.add("b", 4, ValueKind::kPut, "x").is_invalid_argument());
  EXPECT_TRUE(b.add("b", 6, ValueKind::kPut, "x").is_invalid_argument());  // newer after older
  EXPECT_TRUE(b.add("a", 9, ValueKind::kPut, "x").is_invalid_argument());
  EXPECT_TRUE(b.add("short", "v").is_invalid_argument());  // < 8 bytes
  std::string bad_kind = make_internal_key("c", 1, ValueKind::kPut);
  bad_kind[bad_kind.size() - 8] = 0x07;
  EXPECT_TRUE(b.add(bad_kind, "v").is_invalid_argument());
  // Expiry flag without a valid expiry prefix.
  EXPECT_TRUE(b.add(make_internal_key("c", 1, ValueKind::kPut, true), std::string(1, '\x80'))
                  .is_invalid_argument());
  EXPECT_TRUE(b.add("c", kMaxSequence + 1, ValueKind::kPut, "x").is_invalid_argument());
  // Still usable after rejected calls.
  ASSERT_TRUE(b.add("c", 1, ValueKind::kPut, "x", 123).ok());
  auto info = b.finish();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->properties.num_entries, 3u);
  EXPECT_EQ(info->properties.num_entries_with_expiry, 1u);
  EXPECT_TRUE(b.add("d", 1, ValueKind::kPut, "x").is_invalid_argument());
  EXPECT_TRUE(b.finish().status().is_invalid_argument());
}

TEST(SstBuilder, ValidatesOptions) {
  SstBuilderOptions o;
  o.block_size = 0;
  EXPECT_TRUE(SstBuilder::validate_options(o).is_invalid_argument());
  o = {};
  o.restart_interval = 0;
  EXPECT_TRUE(SstBuilder::validate_options(o).is_invalid_argument());
  o = {};
  o.bloom_bits_per_key = -1;
  EXPECT_TRUE(SstBuilder::validate_options(o).is_invalid_argument());
  o = {};
  o.min_write_time_ms = 5;
  EXPECT_TRUE(SstBuilder::validate_options(o).is_invalid_argument());
  o.max_write_time_ms = 4;
  EXPECT_TRUE(SstBuilder::validate_options(o).is_invalid_argument());
  StringSink sink;
  SstBuilder b(o, &sink);
  EXPECT_TRUE(b.add("a", 1, ValueKind::kPut, "x").is_invalid_argument());
  EXPECT_TRUE(b.finish().status().is_invalid_argument());
}

class FailingSink : public WritableSink {
 public:
  Status append(std::string_view) override { return Status::IOError("disk full"); }
};

TEST(SstBuilder, SinkErrorsAreSticky) {
  FailingSink sink;
  SstBuilderOptions o;
  o.block_size = 10;
  SstBuilder b(o, &sink);
  Status s = b.add("a", 1, ValueKind::kPut, "0123456789");
  EXPECT_EQ(s.code(), Code::kIOError);
  EXPECT_EQ(b.add("b", 1, ValueKind::kPut, "x").code(), Code::kIOError);
  EXPECT_EQ(b.finish().status().code(), Code::kIOError);
}

TEST(SstBuilder, EmptySst) {
  for (int bits : {0, 10}) {
    SstBuilderOptions o;
    o.bloom_bits_per_key = bits;
    SstInfo info;
    auto bytes = sst_testing::build_sst({}, o, &info);
    ASSERT_TRUE(bytes.ok());
    EXPECT_EQ(info.size, bytes->size());
    EXPECT_TRUE(info.smallest_key.empty());
    auto r = open_mem(*bytes);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->properties().num_entries, 0u);
    EXPECT_EQ(r->has_filter(), bits > 0);
    auto g = r->get("");
    ASSERT_TRUE(g.ok());
    EXPECT_FALSE(g->has_value());
    Status st;
    EXPECT_TRUE(scan_all(*r, &st).empty());
    EXPECT_TRUE(st.ok());
  }
}

TEST(SstBuilder, InfoAndPropertiesAreAccurate) {
  SstBuilderOptions o;
  o.block_size = 64;
  o.compression = CompressionType::kZstd;
  o.compression_level = 5;
  o.min_write_time_ms = 1000;
  o.max_write_time_ms = 2000;
  o.creation_time_ms = 3000;
  StringSink sink;
  SstBuilder b(o, &sink);
  ASSERT_TRUE(b.add("", 7, ValueKind::kPut, "empty-key").ok());
  ASSERT_TRUE(b.add("apple", 9, ValueKind::kDelete, "").ok());
  ASSERT_TRUE(b.add("apple", 3, ValueKind::kPut, std::string(200, 'a'), 5000).ok());
  ASSERT_TRUE(b.add("banana", 1, ValueKind::kBlobRef, "blob-ref", 4000).ok());
  b.note_write_time(2500);
  b.note_write_time(500);
  auto info = b.finish();
  ASSERT_TRUE(info.ok());
  const std::string& bytes = sink.contents();
  EXPECT_EQ(info->size, bytes.size());
  EXPECT_EQ(info->sha256, sha256_hex(bytes));
  EXPECT_EQ(info->smallest_key, make_internal_key("", 7, ValueKind::kPut));
  EXPECT_EQ(info->largest_key, make_internal_key("banana", 1, ValueKind::kBlobRef, true));
  const SstProperties& p = info->properties;
  EXPECT_EQ(p.num_entries, 4u);
  EXPECT_EQ(p.num_puts, 2u);
  EXPECT_EQ(p.num_deletes, 1u);
  EXPECT_EQ(p.num_blob_refs, 1u);
  EXPECT_EQ(p.num_entries_with_expiry, 2u);
  EXPECT_EQ(p.min_expiry_ms, 4000u);
  EXPECT_EQ(p.max_expiry_ms, 5000u);
  EXPECT_EQ(p.min_sequence, 1u);
  EXPECT_EQ(p.max_sequence, 9u);
  EXPECT_EQ(p.min_user_key, "");
  EXPECT_EQ(p.max_user_key, "banana");
  EXPECT_TRUE(p.has_write_time);
  EXPECT_EQ(p.min_write_time_ms, 500);
  EXPECT_EQ(p.max_write_time_ms, 2500);
  EXPECT_EQ(p.creation_time_ms, 3000);
  EXPECT_EQ(p.compression, CompressionType::kZstd);
  EXPECT_EQ(p.compression_level, 5);
  EXPECT_EQ(p.block_size, 64u);
  EXPECT_EQ(p.bloom_bits_per_key, 10u);
  EXPECT_EQ(p.restart_interval, 16u);
  EXPECT_EQ(p.format_version, 1u);
  EXPECT_EQ(p.num_data_blocks, 2u);  // cut after the 200-byte value, then the rest
  EXPECT_EQ(p.raw_key_bytes, (0 + 5 + 5 + 6) + 4 * 8u);

  // The reader sees the same properties, and checks the sha256 when asked.
  SstReaderOptions ro;
  ro.expected_sha256 = info->sha256;
  auto r = open_mem(bytes, ro);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->properties(), p);
  ro.expected_sha256 = std::string(64, '0');
  EXPECT_TRUE(SstReader::open(std::make_shared<MemorySource>(bytes), ro).status().is_corruption());
}

TEST(SstBuilder, FileSinkWritesTheSameBytes) {
  testing::TempDir dir;
  Random rnd(3);
  std::set<std::string> keys;
  auto entries = sst_testing::random_entries(rnd, {}, &keys);
  SstBuilderOptions o;
  o.creation_time_ms = 1;
  auto mem = sst_testing::build_sst(entries, o);
  ASSERT_TRUE(mem.ok());

  const std::string path = dir.path() + "/x.sst";
  auto sink = FileSink::open(path);
  ASSERT_TRUE(sink.ok());
  SstBuilder b(o, sink->get());
  for (const auto& e : entries) ASSERT_TRUE(b.add(e.ikey, e.value).ok());
  auto info = b.finish();
  ASSERT_TRUE(info.ok());
  ASSERT_TRUE((*sink)->close().ok());
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), *mem);
  EXPECT_EQ(info->sha256, sha256_hex(*mem));
  EXPECT_TRUE(FileSink::open(dir.path() + "/no/such/dir/x.sst").status().code() == Code::kIOError);
}

// ---- property tests ----

SstBuilderOptions random_options(Random& rnd) {
  SstBuilderOptions o;
  const size_t sizes[] = {1, 64, 256, 1024, 4096, 16384};
  o.block_size = rnd.chance(0.2) ? 1 + rnd.uniform(8192) : sizes[rnd.uniform(6)];
  o.restart_interval = rnd.chance(0.3) ? 1 : 1 + static_cast<int>(rnd.uniform(32));
  o.compression = static_cast<CompressionType>(rnd.uniform(kMaxCompressionType + 1));
  o.compression_level = o.compression == CompressionType::kZstd ? static_cast<int>(rnd.uniform(6)) : 0;
  const int bits[] = {0, 1, 5, 10, 20};
  o.bloom_bits_per_key = bits[rnd.uniform(5)];
  o.creation_time_ms = 1'700'000'000'000;
  return o;
}

// Checks everything a reader can answer against the model.
void check_reader(SstReader& r, const std::vector<ModelEntry>& model,
                  const std::set<std::string>& user_keys, Random& rnd, const std::string& ctx) {
  SCOPED_TRACE(ctx);
  // Full iteration equals the model.
  Status st;
  auto all = scan_all(r, &st);
  ASSERT_TRUE(st.ok()) << st.to_string();
  ASSERT_EQ(all.size(), model.size());
  for (size_t i = 0; i < model.size(); i++) {
    ASSERT_EQ(all[i].ikey, model[i].ikey) << i;
    ASSERT_EQ(all[i].value, model[i].value) << i;
  }

  // Point lookups: present keys at random snapshots, absent keys.
  for (const std::string& uk : user_keys) {
    EXPECT_TRUE(r.may_contain(uk));
    for (int s = 0; s < 3; s++) {
      const uint64_t snap = s == 0 ? kMaxSequence : rnd.uniform(110000);
      auto got = r.get(uk, snap);
      ASSERT_TRUE(got.ok()) << got.status().to_string();
      auto want = sst_testing::model_get(model, uk, snap);
      ASSERT_EQ(got->has_value(), want.has_value()) << "key " << uk << " snap " << snap;
      if (want) {
        EXPECT_EQ(**got, *want);
      }
    }
  }
  for (int i = 0; i < 50; i++) {
    std::string uk = sst_testing::random_user_key(rnd, 100) + "#absent";
    if (user_keys.count(uk)) continue;
    auto got = r.get(uk, rnd.chance(0.5) ? kMaxSequence : rnd.uniform(110000));
    ASSERT_TRUE(got.ok());
    EXPECT_FALSE(got->has_value());
  }

  // Seeks land on the model's lower bound, and iteration continues from there.
  auto it = r.new_iterator();
  for (int i = 0; i < 40; i++) {
    std::string target;
    if (!model.empty() && rnd.chance(0.25)) {
      target = model[rnd.uniform(model.size())].ikey;  // an exact entry
    } else if (!model.empty() && rnd.chance(0.5)) {
      ParsedInternalKey p;
      ASSERT_TRUE(parse_internal_key(model[rnd.uniform(model.size())].ikey, &p));
      target = seek_key(p.user_key, rnd.chance(0.5) ? p.sequence : rnd.uniform(110000));
    } else {
      target = seek_key(sst_testing::random_user_key(rnd, 100), rnd.uniform(110000));
    }
    it->seek(target);
    auto lb = std::lower_bound(model.begin(), model.end(), target,
                               [](const ModelEntry& e, const std::string& t) {
                                 return compare_internal_keys(e.ikey, t) < 0;
                               });
    for (int step = 0; step < 3; step++, ++lb) {
      ASSERT_EQ(it->valid(), lb != model.end()) << it->status().to_string();
      if (!it->valid()) break;
      ASSERT_EQ(it->key(), lb->ikey);
      ASSERT_EQ(it->value(), lb->value);
      it->next();
    }
    ASSERT_TRUE(it->status().ok());
  }
}

TEST(SstProperty, RandomSstsMatchTheModelThroughBothReadPaths) {
  auto store = open_object_store("mem://");
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  const int seeds = testing::seed_count(100);
  for (int i = 0; i < seeds; i++) {
    const uint64_t seed = testing::seed_base() + i;
    SCOPED_TRACE("seed " + std::to_string(seed) + " (replay: ISLE_TEST_SEED_BASE=" +
                 std::to_string(seed) + " ISLE_TEST_SEEDS=1)");
    Random rnd(seed);
    std::set<std::string> user_keys;
    sst_testing::RandomSetOptions ro;
    ro.max_user_keys = rnd.chance(0.1) ? 2000 : 150;
    auto model = sst_testing::random_entries(rnd, ro, &user_keys);
    const SstBuilderOptions o = random_options(rnd);
    SstInfo info;
    auto bytes = sst_testing::build_sst(model, o, &info);
    ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
    ASSERT_EQ(info.properties.num_entries, model.size());
    ASSERT_EQ(info.sha256, sha256_hex(*bytes));
    if (!model.empty()) {
      ASSERT_EQ(info.smallest_key, model.front().ikey);
      ASSERT_EQ(info.largest_key, model.back().ikey);
    }

    // Path 1: memory, with a tail read that is sometimes too small for the
    // meta region (so open() needs its second read).
    SstReaderOptions mo;
    mo.tail_read_size = rnd.chance(0.5) ? 64 * 1024 : 1 + rnd.uniform(300);
    mo.expected_sha256 = info.sha256;
    auto mem = SstReader::open(std::make_shared<MemorySource>(*bytes), mo);
    ASSERT_TRUE(mem.ok()) << mem.status().to_string();
    ASSERT_EQ((*mem)->properties(), info.properties);
    check_reader(**mem, model, user_keys, rnd, "MemorySource");

    // Path 2: ranged GETs against mem://.
    const std::string key = "sstable/" + std::to_string(seed) + ".sst";
    ASSERT_TRUE((*store)->put(key, *bytes).ok());
    SstReaderOptions so;
    so.tail_read_size = rnd.chance(0.5) ? 64 * 1024 : 1 + rnd.uniform(300);
    auto src = std::make_shared<ObjectStoreSource>(*store, key);
    auto obj = SstReader::open(src, so);
    ASSERT_TRUE(obj.ok()) << obj.status().to_string();
    ASSERT_LE(src->requests(), 2u);
    check_reader(**obj, model, user_keys, rnd, "ObjectStoreSource");
    ASSERT_TRUE((*store)->remove(key).ok());
    if (HasFatalFailure()) return;
  }
}

// ---- ranged-read economy ----

TEST(SstReadEconomy, OpenTwoGetsLookupOneGetBloomMissZero) {
  auto store = open_object_store("mem://");
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  // A multi-MB SST whose meta region (index + filter) exceeds the 64 KiB
  // tail read, so open() needs exactly its second GET.
  std::vector<ModelEntry> model;
  Random rnd(42);
  for (int i = 0; i < 40000; i++) {
    ModelEntry e;
    char uk[32];
    std::snprintf(uk, sizeof(uk), "user/%08d", i);
    append_internal_key(&e.ikey, uk, 1000000 + i, ValueKind::kPut, false);
    e.value = rnd.bytes(64);
    model.push_back(std::move(e));
  }
  SstBuilderOptions o;
  o.compression = CompressionType::kNone;
  auto bytes = sst_testing::build_sst(model, o);
  ASSERT_TRUE(bytes.ok());
  ASSERT_GT(bytes->size(), size_t{3} << 20);
  ASSERT_TRUE((*store)->put("big.sst", *bytes).ok());

  auto src = std::make_shared<ObjectStoreSource>(*store, "big.sst");
  auto r = SstReader::open(src);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_GT((*r)->file_size() - (*r)->footer().meta_start(), 64u * 1024)
      << "meta region should not fit the tail read in this test";
  EXPECT_EQ(src->requests(), 2u);
  // Every byte fetched so far is meta region (footer, index, filter,
  // properties): nothing of the data region.
  EXPECT_EQ(src->bytes_read(), (*r)->file_size() - (*r)->footer().meta_start());

  for (int i : {0, 12345, 39999}) {
    const uint64_t before = src->requests();
    const uint64_t bytes_before = src->bytes_read();
    char uk[32];
    std::snprintf(uk, sizeof(uk), "user/%08d", i);
    auto g = (*r)->get(uk);
    ASSERT_TRUE(g.ok() && g->has_value());
    EXPECT_EQ(src->requests(), before + 1);
    EXPECT_LT(src->bytes_read() - bytes_before, 3u * o.block_size);
  }
  int zero_get_misses = 0;
  for (int i = 0; i < 100; i++) {
    const std::string uk = "absent/" + std::to_string(i);
    const uint64_t before = src->requests();
    auto g = (*r)->get(uk);
    ASSERT_TRUE(g.ok());
    EXPECT_FALSE(g->has_value());
    if (!(*r)->may_contain(uk)) {
      EXPECT_EQ(src->requests(), before);  // bloom-negative: no GET
      zero_get_misses++;
    } else {
      EXPECT_EQ(src->requests(), before + 1);
    }
  }
  EXPECT_GE(zero_get_misses, 90);

  // A small SST opens with ONE GET (the whole meta region is in the tail).
  std::vector<ModelEntry> small(model.begin(), model.begin() + 500);
  auto sbytes = sst_testing::build_sst(small, o);
  ASSERT_TRUE(sbytes.ok());
  ASSERT_TRUE((*store)->put("small.sst", *sbytes).ok());
  auto ssrc = std::make_shared<ObjectStoreSource>(*store, "small.sst");
  auto sr = SstReader::open(ssrc);
  ASSERT_TRUE(sr.ok());
  EXPECT_EQ(ssrc->requests(), 1u);

  // A missing object is NotFound, not Corruption.
  auto missing = SstReader::open(std::make_shared<ObjectStoreSource>(*store, "nope.sst"));
  EXPECT_TRUE(missing.status().is_not_found()) << missing.status().to_string();
}

}  // namespace
}  // namespace isle
