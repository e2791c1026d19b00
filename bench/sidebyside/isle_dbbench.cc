// isle_dbbench: RocksDB db_bench's fillrandom / readrandom / readmissing /
// seekrandom workloads, run through libisle's public API (DB, Writer,
// Reader, Iterator), so bench/sidebyside/dbbench_compare.sh can put the two
// engines side by side on one machine.
//
// What is kept identical to db_bench (RocksDB 7.8, tools/db_bench_tool.cc):
//   * keys: key i is the 8 big-endian bytes of i followed by '0' bytes up
//     to --key_size; every benchmark draws i uniformly from [0, --num);
//   * fillrandom writes --num such keys (about 63 % distinct) with
//     --value_size-byte values; readrandom gets --reads random keys;
//     readmissing gets keys one byte longer than --key_size (present keys
//     plus a trailing '0': never written, sorting just after a real key);
//     seekrandom, per op, opens a NEW iterator (db_bench does so unless
//     --use_tailing_iterator), seeks to a random key, counts it found when
//     the iterator lands on that exact key, then calls next() --seek_nexts
//     times, reading each key and value;
//   * one thread; output lines in db_bench's format ("name : X micros/op
//     Y ops/sec ...") so one parser reads both.
// What "warm cache" means here: the reader's block cache is --cache_size
// bytes (default 1 GiB: the whole database fits), and before the first
// read benchmark an untimed full scan (db_bench's readseq) loads every data
// block, as the script runs readseq first on the db_bench side.
//
// Invariant: timed loops do only what db_bench's loops do (key formatting
// into a reused buffer, the API call, a found-check); no allocation of ours
// inside them beyond what the API returns.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "isle/db.h"
#include "isle/object_store.h"
#include "isle/options.h"
#include "isle/reader.h"
#include "isle/writer.h"

namespace {

struct Flags {
  std::string db = "mem://";
  int64_t num = 1000000;
  int key_size = 16;
  int value_size = 100;
  std::string benchmarks = "fillrandom,readrandom,readmissing,seekrandom";
  bool use_existing_db = false;
  int64_t reads = -1;  // < 0: --num
  uint64_t seed = 0;   // 0: from the clock, like db_bench
  int seek_nexts = 0;
  uint64_t cache_size = uint64_t{1} << 30;
  size_t write_buffer_size = size_t{64} << 20;
  size_t block_size = 4096;
  int bloom_bits = 10;
  std::string compression = "none";
  bool warmup = true;
  // 0 = flush by size only (as RocksDB); otherwise the writer's
  // flush_interval (its default is 100 ms), to show how the L0 shape moves
  // the read figures.
  int64_t flush_interval_ms = 0;
};

// splitmix64: a small, fast generator; the workload needs uniform draws,
// not db_bench's exact sequence.
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
};

// db_bench's GenerateKeyFromInt with keys_per_prefix = 0.
void make_key(uint64_t v, int key_size, std::string* key) {
  key->assign(static_cast<size_t>(key_size), '0');
  const int n = key_size < 8 ? key_size : 8;
  for (int i = 0; i < n; i++) (*key)[i] = static_cast<char>((v >> ((n - i - 1) * 8)) & 0xff);
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "isle_dbbench: %s\n", what.c_str());
  std::exit(1);
}

bool starts(const char* arg, const char* name, const char** value) {
  const size_t n = std::strlen(name);
  if (std::strncmp(arg, name, n) != 0 || arg[n] != '=') return false;
  *value = arg + n + 1;
  return true;
}

Flags parse(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; i++) {
    const char* a = argv[i];
    const char* v = nullptr;
    if (starts(a, "--db", &v)) f.db = v;
    else if (starts(a, "--num", &v)) f.num = std::atoll(v);
    else if (starts(a, "--key_size", &v)) f.key_size = std::atoi(v);
    else if (starts(a, "--value_size", &v)) f.value_size = std::atoi(v);
    else if (starts(a, "--benchmarks", &v)) f.benchmarks = v;
    else if (starts(a, "--use_existing_db", &v)) f.use_existing_db = std::atoi(v) != 0 || std::strcmp(v, "true") == 0;
    else if (starts(a, "--reads", &v)) f.reads = std::atoll(v);
    else if (starts(a, "--seed", &v)) f.seed = std::strtoull(v, nullptr, 10);
    else if (starts(a, "--seek_nexts", &v)) f.seek_nexts = std::atoi(v);
    else if (starts(a, "--cache_size", &v)) f.cache_size = std::strtoull(v, nullptr, 10);
    else if (starts(a, "--write_buffer_size", &v)) f.write_buffer_size = std::strtoull(v, nullptr, 10);
    else if (starts(a, "--block_size", &v)) f.block_size = std::strtoull(v, nullptr, 10);
    else if (starts(a, "--bloom_bits", &v)) f.bloom_bits = std::atoi(v);
    else if (starts(a, "--compression_type", &v)) f.compression = v;
    else if (starts(a, "--warmup", &v)) f.warmup = std::atoi(v) != 0;
    else if (starts(a, "--flush_interval_ms", &v)) f.flush_interval_ms = std::atoll(v);
    else die(std::string("unknown flag ") + a);
  }
  if (f.num <= 0) die("--num must be > 0");
  if (f.key_size < 8) die("--key_size must be >= 8 (db_bench's key layout)");
  if (f.value_size < 0) die("--value_size must be >= 0");
  if (f.reads < 0) f.reads = f.num;
  if (f.seed == 0) f.seed = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  return f;
}

isle::Compression compression_of(const std::string& s) {
  if (s == "none") return isle::Compression::kNone;
  if (s == "lz4") return isle::Compression::kLz4;
  if (s == "zstd") return isle::Compression::kZstd;
  die("--compression_type must be none, lz4 or zstd");
}

using Clock = std::chrono::steady_clock;

void report(const std::string& name, int64_t ops, Clock::duration d, const std::string& extra) {
  const double secs = std::chrono::duration<double>(d).count();
  std::printf("%-12s : %11.3f micros/op %ld ops/sec %.3f seconds %ld operations;%s\n",
              name.c_str(), secs * 1e6 / static_cast<double>(ops),
              static_cast<long>(static_cast<double>(ops) / secs), secs, static_cast<long>(ops),
              extra.c_str());
  std::fflush(stdout);
}

void fill_random(const isle::DB& db, const Flags& f, uint64_t seed) {
  isle::WriterOptions wo;
  wo.memtable_size = f.write_buffer_size;  // as db_bench's write_buffer_size
  wo.flush_interval = f.flush_interval_ms > 0 ? std::chrono::milliseconds(f.flush_interval_ms)
                                              : std::chrono::milliseconds(std::chrono::hours(24));
  wo.block_size = f.block_size;
  wo.bloom_bits_per_key = f.bloom_bits;
  wo.compression = compression_of(f.compression);
  auto w = db.open_writer(wo);
  if (!w.ok()) die("open_writer: " + w.status().to_string());
  Rng rng{seed};
  std::string key;
  std::string value(static_cast<size_t>(f.value_size), 'x');
  Rng vrng{seed ^ 0x5555};
  const auto t0 = Clock::now();
  for (int64_t i = 0; i < f.num; i++) {
    make_key(rng.next() % static_cast<uint64_t>(f.num), f.key_size, &key);
    // Values differ per write (8 random bytes at the front), like
    // db_bench's generator; with compression none their content is moot.
    const uint64_t r = vrng.next();
    std::memcpy(value.data(), &r, std::min<size_t>(8, value.size()));
    for (;;) {
      auto s = (*w)->put(key, value);
      if (s.ok()) break;
      if (s.status().code() != isle::Code::kBackpressure) die("put: " + s.status().to_string());
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  // The writes are durable only once flushed (isle has no WAL): the flush
  // of the last memtable is part of the timed fill.
  auto s = (*w)->close();
  if (!s.ok()) die("close: " + s.to_string());
  report("fillrandom", f.num, Clock::now() - t0, "");
}

void read_random(isle::Reader& r, const Flags& f, uint64_t seed, bool missing) {
  Rng rng{seed};
  std::string key;
  int64_t found = 0;
  const int ks = missing ? f.key_size + 1 : f.key_size;
  const auto t0 = Clock::now();
  for (int64_t i = 0; i < f.reads; i++) {
    make_key(rng.next() % static_cast<uint64_t>(f.num), ks, &key);
    auto v = r.get(key);
    if (!v.ok()) die("get: " + v.status().to_string());
    if (v->has_value()) found++;
  }
  report(missing ? "readmissing" : "readrandom", f.reads, Clock::now() - t0,
         " (" + std::to_string(found) + " of " + std::to_string(f.reads) + " found)");
}

void seek_random(isle::Reader& r, const Flags& f, uint64_t seed) {
  Rng rng{seed};
  std::string key;
  int64_t found = 0;
  uint64_t bytes = 0;
  const auto t0 = Clock::now();
  for (int64_t i = 0; i < f.reads; i++) {
    make_key(rng.next() % static_cast<uint64_t>(f.num), f.key_size, &key);
    auto it = r.iterator();  // a fresh iterator per seek, as db_bench
    it->seek_ge(key);
    if (it->valid() && it->key() == key) found++;
    for (int j = 0; j < f.seek_nexts && it->valid(); j++) {
      bytes += it->key().size() + it->value().size();
      it->next();
    }
    if (!it->status().ok()) die("seek: " + it->status().to_string());
  }
  report("seekrandom", f.reads, Clock::now() - t0,
         " (" + std::to_string(found) + " of " + std::to_string(f.reads) + " found)");
  if (bytes == 1) std::printf("\n");  // keeps `bytes` observable
}

void warm_up(isle::Reader& r) {
  const auto t0 = Clock::now();
  auto it = r.iterator();
  int64_t n = 0;
  for (it->seek_to_first(); it->valid(); it->next()) n++;
  if (!it->status().ok()) die("warm-up scan: " + it->status().to_string());
  report("warmup-scan", n > 0 ? n : 1, Clock::now() - t0, " (untimed for the table)");
}

}  // namespace

int main(int argc, char** argv) {
  const Flags f = parse(argc, argv);
  auto store = isle::open_object_store(f.db);
  if (!store.ok()) die("open_object_store(" + f.db + "): " + store.status().to_string());
  auto db = isle::DB::open(*store, {});
  if (!db.ok()) die("DB::open: " + db.status().to_string());
  if (!f.use_existing_db) {
    auto objects = (*store)->list_all("");
    if (!objects.ok()) die("list: " + objects.status().to_string());
    if (!objects->empty()) die(f.db + " is not empty: pass --use_existing_db=1 or an empty store");
  }

  std::vector<std::string> names;
  for (size_t p = 0; p <= f.benchmarks.size();) {
    size_t c = f.benchmarks.find(',', p);
    if (c == std::string::npos) c = f.benchmarks.size();
    if (c > p) names.push_back(f.benchmarks.substr(p, c - p));
    p = c + 1;
  }

  std::unique_ptr<isle::Reader> reader;
  uint64_t bench_index = 0;
  for (const std::string& name : names) {
    const uint64_t seed = f.seed + 1000003 * bench_index++;
    if (name == "fillrandom") {
      reader.reset();
      fill_random(*db, f, seed);
      continue;
    }
    if (name != "readrandom" && name != "readmissing" && name != "seekrandom" && name != "readseq") {
      die("unknown benchmark " + name);
    }
    if (reader == nullptr) {
      isle::ReaderOptions ro;
      ro.block_cache_bytes = f.cache_size;
      auto r = db->open_reader(ro);
      if (!r.ok()) die("open_reader: " + r.status().to_string());
      reader = std::move(*r);
      const isle::ManifestInfo m = reader->manifest();
      size_t run_ssts = 0;
      for (const auto& run : m.runs) run_ssts += run.size();
      std::printf("shape        : %zu L0 SSTs, %zu runs (%zu SSTs)\n", m.l0.size(), m.runs.size(),
                  run_ssts);
      if (f.warmup) warm_up(*reader);
    }
    if (name == "readseq") {
      warm_up(*reader);
    } else if (name == "seekrandom") {
      seek_random(*reader, f, seed);
    } else {
      read_random(*reader, f, seed, name == "readmissing");
    }
  }
  return 0;
}
