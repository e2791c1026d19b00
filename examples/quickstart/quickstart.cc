// isle-quickstart: the README's main job while the engine is being built.
//
// It walks the write and read paths that exist today, against a real
// bucket URL (default file:///tmp/isle-quickstart):
//   1. fills a memtable with generated events (puts, a few deletes, some
//      with a TTL),
//   2. streams the memtable into an SST and uploads it create-only,
//   3. opens the SST again through ranged reads only and checks point
//      lookups and a scan against the memtable,
//   4. prints what each step cost in requests and bytes.
// Exit code 0 means every check held; anything else prints why.
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <string>

#include "format/sst_builder.h"
#include "format/sst_reader.h"
#include "format/sst_source.h"
#include "isle/object_store.h"
#include "lsm/memtable.h"
#include "store/metrics_store.h"
#include "util/clock.h"
#include "util/random.h"

namespace {

using namespace isle;

constexpr int kEvents = 200'000;
constexpr int kLookups = 2'000;

int fail(const std::string& what, const Status& s) {
  std::fprintf(stderr, "quickstart: %s: %s\n", what.c_str(), s.to_string().c_str());
  return 1;
}

std::string event_key(uint64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "event/%012" PRIu64, i);
  return buf;
}

std::string event_value(Random& rnd, uint64_t i) {
  static const char* kinds[] = {"click", "view", "purchase", "signup"};
  char buf[160];
  std::snprintf(buf, sizeof buf, R"({"id":%)" PRIu64 R"(,"kind":"%s","user":%)" PRIu64
                R"(,"amount":%)" PRIu64 "}",
                i, kinds[rnd.uniform(4)], rnd.uniform(50'000), rnd.uniform(100'000));
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  std::string url = argc > 1 ? argv[1] : "file:///tmp/isle-quickstart";
  auto opened = open_object_store(url);
  if (!opened.ok()) return fail("open " + url, opened.status());
  auto metrics = std::make_shared<MetricsStore>(*opened);
  std::printf("bucket       %s\n", url.c_str());

  // 1. Memtable.
  Random rnd(Clock::system()->now_ms());
  Memtable mem;
  uint64_t seq = 0;
  const uint64_t now = Clock::system()->now_ms();
  for (uint64_t i = 0; i < kEvents; i++) {
    uint64_t expiry = (i % 10 == 0) ? now + 3'600'000 : 0;  // every 10th lives an hour
    Status s = mem.add(++seq, ValueKind::kPut, event_key(i), event_value(rnd, i), expiry);
    if (!s.ok()) return fail("memtable add", s);
  }
  for (uint64_t i = 0; i < kEvents; i += 97) {  // delete a few events again
    Status s = mem.add(++seq, ValueKind::kDelete, event_key(i), "");
    if (!s.ok()) return fail("memtable delete", s);
  }
  std::printf("memtable     %" PRIu64 " entries, %.1f MiB of arena, seq 1..%" PRIu64 "\n",
              mem.entry_count(), mem.approximate_memory_usage() / 1048576.0, mem.max_seq());

  // 2. Build the SST and upload it.
  SstBuilderOptions bopts;
  bopts.compression = CompressionType::kZstd;
  bopts.min_write_time_ms = static_cast<int64_t>(now);
  bopts.max_write_time_ms = static_cast<int64_t>(now);
  StringSink sink;
  SstBuilder builder(bopts, &sink);
  Memtable::Iterator it(&mem);
  int64_t t0 = Clock::system()->mono_ns();
  for (it.seek_to_first(); it.valid(); it.next()) {
    Status s = builder.add(it.key(), it.stored_value());
    if (!s.ok()) return fail("sst add", s);
  }
  auto info = builder.finish();
  if (!info.ok()) return fail("sst finish", info.status());
  double build_ms = (Clock::system()->mono_ns() - t0) / 1e6;
  std::string sst_key = "sstable/quickstart-" + random_token().substr(0, 16) + ".sst";
  auto put = metrics->put(sst_key, sink.contents(), PutOptions::create_only());
  if (!put.ok()) return fail("upload " + sst_key, put.status());
  const auto& p = info->properties;
  std::printf("sst          %s: %.2f MiB (raw keys+values %.2f MiB), %" PRIu64
              " data blocks, built in %.0f ms, sha256 %.16s...\n",
              sst_key.c_str(), info->size / 1048576.0,
              (p.raw_key_bytes + p.raw_value_bytes) / 1048576.0, p.num_data_blocks, build_ms,
              info->sha256.c_str());

  // 3. Read it back with ranged GETs only.
  auto source = std::make_shared<ObjectStoreSource>(metrics, sst_key);
  auto reader = SstReader::open(source);
  if (!reader.ok()) return fail("open sst", reader.status());
  uint64_t open_requests = source->requests(), open_bytes = source->bytes_read();
  std::printf("open         %" PRIu64 " GET(s), %" PRIu64 " bytes (footer, index, filter, properties)\n",
              open_requests, open_bytes);

  int found = 0, deleted = 0;
  for (int n = 0; n < kLookups; n++) {
    uint64_t i = rnd.uniform(kEvents);
    auto got = (*reader)->get(event_key(i));
    if (!got.ok()) return fail("get", got.status());
    auto want = mem.get(event_key(i));
    if (!got->has_value() || !want || (*got)->sequence != want->sequence ||
        (*got)->value != want->value || (*got)->kind != want->kind) {
      std::fprintf(stderr, "quickstart: lookup of %s disagrees with the memtable\n",
                   event_key(i).c_str());
      return 1;
    }
    ((*got)->kind == ValueKind::kDelete ? deleted : found)++;
  }
  uint64_t hit_requests = source->requests() - open_requests;
  uint64_t hit_bytes = source->bytes_read() - open_bytes;
  std::printf("lookups      %d present keys (%d live, %d deleted): %" PRIu64
              " GETs, %.1f KiB fetched of a %.1f MiB file\n",
              kLookups, found, deleted, hit_requests, hit_bytes / 1024.0, info->size / 1048576.0);

  uint64_t before_miss = source->requests();
  int misses_read = 0;
  for (int n = 0; n < kLookups; n++) {
    auto got = (*reader)->get("absent/" + std::to_string(n));
    if (!got.ok()) return fail("get absent", got.status());
    if (got->has_value()) return fail("get absent", Status::Corruption("found an absent key"));
  }
  misses_read = static_cast<int>(source->requests() - before_miss);
  std::printf("misses       %d absent keys: %d GETs (the bloom filter answered the rest)\n",
              kLookups, misses_read);

  auto iter = (*reader)->new_iterator();
  std::printf("scan         first entries in key order:\n");
  int shown = 0;
  for (iter->seek(seek_key("event/000000000100")); iter->valid() && shown < 3; iter->next()) {
    ParsedInternalKey k;
    if (!parse_internal_key(iter->key(), &k)) return fail("scan", Status::Corruption("bad key"));
    std::string_view payload;
    uint64_t expires;
    decode_entry_value(k.has_expiry, iter->value(), &payload, &expires);
    std::printf("               %.*s seq=%" PRIu64 " %s%s %.*s\n", int(k.user_key.size()),
                k.user_key.data(), k.sequence, k.kind == ValueKind::kDelete ? "delete" : "put",
                expires ? " (ttl)" : "", int(payload.size()), payload.data());
    shown++;
  }
  if (!iter->status().ok()) return fail("scan", iter->status());

  auto listed = metrics->list_all("sstable/");
  if (!listed.ok()) return fail("list", listed.status());
  std::printf("bucket now   %zu SST object(s) under sstable/\n\n", listed->size());
  std::printf("object-store requests (the cost model):\n%s", metrics->to_text().c_str());
  std::printf("quickstart: ok\n");
  return 0;
}
