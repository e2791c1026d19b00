// isle_sst_fuzz_corpus DIR: writes a few small valid SSTs into DIR as the
// seed corpus of isle_sst_fuzz (every codec, with and without a filter, an
// empty SST, tiny blocks). Deterministic: the same files on every run.
#include <cstdio>
#include <string>

#include "format/sst_builder.h"
#include "format/sst_test_util.h"

namespace {

bool write_file(const std::string& path, const std::string& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  return std::fclose(f) == 0 && ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  using isle::CompressionType;
  struct Seed {
    const char* name;
    CompressionType codec;
    int bloom_bits;
    size_t block_size;
    int restart_interval;
    size_t max_keys;
  };
  const Seed seeds[] = {
      {"none", CompressionType::kNone, 10, 256, 4, 20},
      {"lz4", CompressionType::kLz4, 10, 256, 16, 20},
      {"zstd", CompressionType::kZstd, 10, 512, 16, 30},
      {"nofilter", CompressionType::kNone, 0, 128, 2, 15},
      {"tinyblocks", CompressionType::kLz4, 5, 1, 1, 10},
      {"empty", CompressionType::kNone, 10, 4096, 16, 0},
      {"onekey", CompressionType::kZstd, 20, 4096, 16, 1},
  };
  int i = 0;
  for (const Seed& s : seeds) {
    isle::Random rnd(1000 + i++);
    isle::sst_testing::RandomSetOptions ro;
    ro.max_user_keys = s.max_keys;
    ro.max_key_len = 16;
    ro.max_value_len = 60;
    ro.big_value_chance = 0;
    std::set<std::string> user_keys;
    auto entries = s.max_keys == 0 ? std::vector<isle::sst_testing::ModelEntry>{}
                                   : isle::sst_testing::random_entries(rnd, ro, &user_keys);
    isle::SstBuilderOptions o;
    o.compression = s.codec;
    o.bloom_bits_per_key = s.bloom_bits;
    o.block_size = s.block_size;
    o.restart_interval = s.restart_interval;
    o.min_write_time_ms = 1'700'000'000'000;
    o.max_write_time_ms = 1'700'000'000'500;
    o.creation_time_ms = 1'700'000'001'000;
    auto bytes = isle::sst_testing::build_sst(entries, o);
    if (!bytes.ok()) {
      std::fprintf(stderr, "build %s: %s\n", s.name, bytes.status().to_string().c_str());
      return 1;
    }
    const std::string path = std::string(argv[1]) + "/seed-" + s.name + ".sst";
    if (!write_file(path, *bytes)) {
      std::fprintf(stderr, "cannot write %s\n", path.c_str());
      return 1;
    }
  }
  return 0;
}
