// isle-quickstart: the README's main job. It runs the embedded API against
// a real bucket URL (default file:///tmp/isle-quickstart), prefix
// "quickstart", with the reader's disk cache in the folder given as the
// second argument (default /tmp/isle-quickstart-cache):
//   1. opens a Writer (claiming the writer fence) and writes generated
//      events: atomic batches, a few TTL entries, deletes and one large
//      value that goes to a blob; waits until they are durable;
//   2. opens a Reader with an on-disk cache and checks point reads,
//      multi_get and a scan against what was written;
//   3. opens a second Writer, which fences the first: the first's next
//      write fails with Fenced and nothing it wrote after the takeover
//      becomes visible;
//   4. prints what each step cost in object-store requests.
// Running it again on the same bucket continues the same database: the
// sequence numbers keep growing and earlier runs' events stay readable.
// Exit code 0 means every check held; anything else prints why.
#include <cinttypes>
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "isle/db.h"
#include "isle/object_store.h"
#include "store/metrics_store.h"
#include "util/clock.h"
#include "util/random.h"

namespace {

using namespace isle;
using namespace std::chrono_literals;

constexpr int kEvents = 100'000;
constexpr int kBatch = 500;
constexpr int kLookups = 2'000;

int fail(const std::string& what, const Status& s) {
  std::fprintf(stderr, "quickstart: %s: %s\n", what.c_str(), s.to_string().c_str());
  return 1;
}
int fail(const std::string& what) {
  std::fprintf(stderr, "quickstart: %s\n", what.c_str());
  return 1;
}

std::string event_value(Random& rnd, uint64_t i) {
  static const char* kinds[] = {"click", "view", "purchase", "signup"};
  char buf[160];
  std::snprintf(buf, sizeof buf, R"({"id":%)" PRIu64 R"(,"kind":"%s","user":%)" PRIu64
                R"(,"amount":%)" PRIu64 "}",
                i, kinds[rnd.uniform(4)], rnd.uniform(50'000), rnd.uniform(100'000));
  return buf;
}

void print_cost(const char* step, MetricsStore& m) {
  const StoreMetrics s = m.snapshot();
  std::printf("  cost        %-9s %6" PRIu64 " GET  %5" PRIu64 " PUT  %4" PRIu64
              " LIST  %8.2f MiB in  %8.2f MiB out\n",
              step, s.op(StoreOp::kGet).requests, s.op(StoreOp::kPut).requests,
              s.op(StoreOp::kList).requests, s.total().bytes_read / 1048576.0,
              s.total().bytes_written / 1048576.0);
  m.reset();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string url = argc > 1 ? argv[1] : "file:///tmp/isle-quickstart";
  auto opened = open_object_store(url);
  if (!opened.ok()) return fail("open " + url, opened.status());
  auto metrics = std::make_shared<MetricsStore>(*opened);
  DBOptions dbo;
  dbo.prefix = "quickstart";
  auto db = DB::open(metrics, dbo);
  if (!db.ok()) return fail("DB::open", db.status());
  std::printf("bucket       %s (prefix quickstart)\n", url.c_str());

  // 1. Write.
  WriterOptions wo;
  wo.owner = "quickstart-writer-1";
  auto writer = db->open_writer(wo);
  if (!writer.ok()) return fail("open_writer", writer.status());
  Writer& w = **writer;
  const WriterStats at_open = w.stats();
  const std::string run = "run" + std::to_string(at_open.epoch);
  std::printf("writer       epoch %" PRIu64 ", continuing after sequence %" PRIu64 "\n",
              at_open.epoch, at_open.last_seq);

  Random rnd(at_open.epoch);
  std::map<std::string, std::string> expect;  // this run's live keys
  uint64_t last = 0;
  const int64_t t0 = Clock::system()->mono_ns();
  for (int i = 0; i < kEvents; i += kBatch) {
    WriteBatch b;
    for (int j = i; j < i + kBatch; j++) {
      char key[64];
      std::snprintf(key, sizeof key, "event/%s/%010d", run.c_str(), j);
      std::string value = event_value(rnd, static_cast<uint64_t>(j));
      b.put(key, value);
      expect[key] = std::move(value);
    }
    auto s = w.write(b);
    if (!s.ok()) return fail("write batch", s.status());
    last = *s;
  }
  // A few deletes, a TTL entry that outlives the run, one blob-sized value.
  for (int j = 0; j < kEvents; j += 1000) {
    char key[64];
    std::snprintf(key, sizeof key, "event/%s/%010d", run.c_str(), j);
    if (!w.del(key).ok()) return fail("del");
    expect.erase(key);
  }
  const std::string session_key = "session/" + run;
  if (!w.put_with_ttl(session_key, "active", 1h).ok()) return fail("put_with_ttl");
  expect[session_key] = "active";
  const std::string blob_key = "attachment/" + run;
  std::string big(400 * 1024, 'x');
  for (size_t k = 0; k < big.size(); k += 4096) big[k] = static_cast<char>('a' + k % 26);
  auto bs = w.put(blob_key, big);
  if (!bs.ok()) return fail("put blob", bs.status());
  expect[blob_key] = big;
  last = *bs;
  if (Status s = w.await_durable(last); !s.ok()) return fail("await_durable", s);
  const double write_s = static_cast<double>(Clock::system()->mono_ns() - t0) / 1e9;
  const WriterStats ws = w.stats();
  std::printf("write        %d events in %.2f s, durable through sequence %" PRIu64
              ", %" PRIu64 " flushes, %.2f MiB of SSTs, %" PRIu64 " blob\n",
              kEvents, write_s, ws.durable_seq, ws.flushes, ws.bytes_flushed / 1048576.0,
              ws.blobs_written);
  print_cost("write", *metrics);

  // 2. Read back through a fresh reader with an on-disk cache.
  ReaderOptions ro;
  ro.cache_dir = argc > 2 ? argv[2] : "/tmp/isle-quickstart-cache";
  auto reader = db->open_reader(ro);
  if (!reader.ok()) return fail("open_reader", reader.status());
  Reader& r = **reader;
  const ManifestInfo mi = r.manifest();
  std::printf("manifest     log position %" PRIu64 ", log_seq_start %" PRIu64 ", %zu L0 SSTs, %zu runs\n",
              mi.log_position, mi.log_seq_start, mi.l0.size(), mi.runs.size());
  print_cost("open", *metrics);

  int checked = 0;
  for (int i = 0; i < kLookups; i++) {
    auto it = expect.begin();
    std::advance(it, static_cast<long>(rnd.uniform(expect.size())));
    auto got = r.get(it->first);
    if (!got.ok()) return fail("get " + it->first, got.status());
    if (!got->has_value() || **got != it->second) return fail("wrong value for " + it->first);
    checked++;
  }
  char deleted[64];
  std::snprintf(deleted, sizeof deleted, "event/%s/%010d", run.c_str(), 1000);
  if (auto g = r.get(deleted); !g.ok() || g->has_value()) return fail("deleted key is visible");
  std::printf("get          %d point reads matched (and a deleted key reads as absent)\n", checked);
  print_cost("get", *metrics);

  auto scan = r.scan("event/" + run + "/", "event/" + run + "0");
  if (!scan.ok()) return fail("scan", scan.status());
  size_t events_expected = 0;
  for (const auto& [k, v] : expect) events_expected += k.rfind("event/", 0) == 0;
  if (scan->size() != events_expected) {
    return fail("scan returned " + std::to_string(scan->size()) + " events, expected " +
                std::to_string(events_expected));
  }
  std::printf("scan         %zu events in key order\n", scan->size());
  print_cost("scan", *metrics);
  const ReaderStats rs = r.stats();
  std::printf("caches       block %" PRIu64 " hits / %" PRIu64 " misses, disk %" PRIu64
              " hits / %" PRIu64 " misses, blob %" PRIu64 " hits / %" PRIu64 " misses\n",
              rs.block_cache.hits, rs.block_cache.misses, rs.disk_cache.hits,
              rs.disk_cache.misses, rs.blob_cache.hits, rs.blob_cache.misses);

  // 3. A second writer takes over; the first is fenced.
  WriterOptions wo2;
  wo2.owner = "quickstart-writer-2";
  auto writer2 = db->open_writer(wo2);
  if (!writer2.ok()) return fail("open second writer", writer2.status());
  auto late = w.put("late/" + run, "from the fenced writer");
  Status late_status = late.ok() ? w.flush() : late.status();
  if (late_status.code() != Code::kFenced) {
    return fail("the first writer was not fenced: " + late_status.to_string());
  }
  std::printf("fencing      writer 2 took over (epoch %" PRIu64 "); writer 1 now gets: %s\n",
              (*writer2)->stats().epoch, late_status.to_string().c_str());
  if (Status s = (*writer2)->close(); !s.ok()) return fail("close writer 2", s);
  if (Status s = r.refresh(); !s.ok()) return fail("refresh", s);
  if (auto g = r.get("late/" + run); !g.ok() || g->has_value()) {
    return fail("a write of the fenced writer became visible");
  }
  print_cost("takeover", *metrics);
  std::printf("ok\n");
  return 0;
}
