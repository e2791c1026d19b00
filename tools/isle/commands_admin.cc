// The admin commands of `isle`: `gc` (one GarbageCollector pass; refuses to
// delete unless --yes, reports only with --dry-run), `destroy` (deletes
// every object under the database prefix, never with an empty prefix; same
// --yes / --dry-run rule) and `bench` (embedded
// put then get throughput and latency against the given store).
//
// bench opens a Writer (so it fences a running writer of the database) and
// leaves the keys it wrote under its key prefix (default
// "bench/<random>/"): run it on a scratch prefix.
#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cli.h"
#include "server/config.h"
#include "isle/gc.h"
#include "lsm/engine_store.h"
#include "progress.h"
#include "store/metrics_store.h"
#include "util/random.h"

namespace isle::cli {
namespace {

using json = nlohmann::ordered_json;

// ---- gc --------------------------------------------------------------------------

int run_gc(Context& ctx, const po::variables_map& vm) {
  int code = kExitOk;
  const bool dry_run = vm["dry-run"].as<bool>();
  if (!dry_run && !vm["yes"].as<bool>()) {
    return ctx.usage_error(
        "gc deletes objects: run with --dry-run to see what it would delete, or --yes to "
        "delete");
  }
  std::string err;
  auto grace = server::parse_duration(vm["grace"].as<std::string>(), &err);
  if (!grace) return ctx.usage_error("--grace: " + err);
  auto retention = server::parse_duration(vm["change-retention"].as<std::string>(), &err);
  if (!retention) return ctx.usage_error("--change-retention: " + err);
  auto store = ctx.store(&code);
  if (!store) return code;
  auto db = ctx.db_options(&code);
  if (!db) return code;
  GcOptions o;
  o.prefix = ctx.prefix;
  o.manifest_storage = db->manifest_storage;
  o.mark_storage = db->gc_mark_storage;
  o.grace = *grace;
  o.change_retention = *retention;
  o.dry_run = dry_run;
  auto gc = GarbageCollector::open(*store, o);
  if (!gc.ok()) {
    if (gc.status().is_invalid_argument()) return ctx.usage_error(gc.status().message());
    return ctx.fail("gc", gc.status());
  }
  auto rep = (*gc)->run_once();
  if (!rep.ok()) return ctx.fail("gc", rep.status());
  const GcReport& r = *rep;
  std::string out;
  if (ctx.json) {
    json j = {{"dry_run", r.dry_run},
              {"deleted", r.deleted},
              {"ssts_marked", r.ssts_marked},
              {"ssts_deleted", r.ssts_deleted},
              {"orphans_deleted", r.orphans_deleted},
              {"blobs_deleted", r.blobs_deleted},
              {"log_entries_deleted", r.log_entries_deleted},
              {"snapshots_deleted", r.snapshots_deleted},
              {"delete_failures", r.delete_failures},
              {"pending_marks", r.pending_marks},
              {"log_position", r.log_position},
              {"manifest_skipped", r.manifest_skipped}};
    out = dump_line(j) + "\n";
  } else {
    const char* verb = r.dry_run ? "would delete" : "deleted";
    out += std::string("gc") + (r.dry_run ? " (dry run, nothing changed)" : "") + ": " + verb +
           " " + std::to_string(r.deleted.size()) + " object" +
           (r.deleted.size() == 1 ? "" : "s") + " (judged at log position " +
           std::to_string(r.log_position) + ")\n";
    for (const auto& k : r.deleted) out += "  " + k + "\n";
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "  SSTs %s: %zu  orphans: %zu  blobs: %zu  log entries: %zu  snapshots: %zu\n"
                  "  new pending-delete marks: %zu  marks left: %zu  delete failures: %zu\n",
                  verb, r.ssts_deleted, r.orphans_deleted, r.blobs_deleted,
                  r.log_entries_deleted, r.snapshots_deleted, r.ssts_marked, r.pending_marks,
                  r.delete_failures);
    out += buf;
  }
  if (!write_stdout(out)) return ctx.fail("writing to stdout failed");
  return r.delete_failures > 0 ? kExitError : kExitOk;
}

// ---- destroy ---------------------------------------------------------------------

// Deletes every object under `prefix` (a folder, normalised as by
// DBOptions::prefix) in `raw`, listed page by page, each page removed by
// one batch delete; adds to *deleted and *failures (counts only when
// dry_run).
Status destroy_under(const ObjectStorePtr& raw, const std::string& prefix, bool dry_run,
                     uint64_t* deleted, uint64_t* failures) {
  ObjectStorePtr st = engine_store(raw, prefix, std::chrono::milliseconds(20));
  ListOptions lo;
  for (;;) {
    ISLE_ASSIGN_OR_RETURN(ListPage page, st->list(lo));
    std::vector<std::string> keys;
    for (const auto& m : page.objects) keys.push_back(m.key);
    if (dry_run) {
      *deleted += keys.size();
    } else if (!keys.empty()) {
      // One outcome per key that failed (a key already gone is not a failure).
      ISLE_ASSIGN_OR_RETURN(std::vector<DeleteOutcome> failed, st->remove_batch(keys));
      uint64_t bad = 0;
      for (const auto& d : failed) {
        if (d.status.ok() || d.status.is_not_found()) continue;
        bad++;
        std::fprintf(stderr, "isle: destroy: %s: %s\n", d.key.c_str(),
                     d.status.to_string().c_str());
      }
      *deleted += keys.size() - bad;
      *failures += bad;
    }
    if (page.next_start_after.empty()) return Status::OK();
    lo.start_after = page.next_start_after;
  }
}

int run_destroy(Context& ctx, const po::variables_map& vm) {
  int code = kExitOk;
  const bool dry_run = vm["dry-run"].as<bool>();
  if (!dry_run && !vm["yes"].as<bool>()) {
    return ctx.usage_error(
        "destroy deletes the whole database: run with --dry-run to count its objects, or "
        "--yes to delete them");
  }
  if (ctx.prefix.find_first_not_of('/') == std::string::npos) {
    return ctx.usage_error("destroy needs a database --prefix (it never deletes a whole bucket)");
  }
  auto store = ctx.store(&code);
  if (!store) return code;
  uint64_t deleted = 0, failures = 0;
  std::vector<ObjectStorePtr> stores{*store};
  for (const std::string* url : {&ctx.manifest_store_url, &ctx.gc_marks_store_url}) {
    if (url->empty()) continue;
    auto s = open_object_store(*url);
    if (!s.ok()) return ctx.fail("opening store " + *url, s.status());
    stores.push_back(*s);
  }
  for (const auto& st : stores) {
    Status s = destroy_under(st, ctx.prefix, dry_run, &deleted, &failures);
    if (!s.ok()) return ctx.fail("destroy", s);
  }
  std::string out;
  if (ctx.json) {
    json j = {{"dry_run", dry_run}, {"deleted", deleted}, {"delete_failures", failures}};
    out = dump_line(j) + "\n";
  } else {
    out = std::string("destroy") +
          (dry_run ? " (dry run, nothing changed): would delete " : ": deleted ") +
          std::to_string(deleted) + " objects under '" + printable(ctx.prefix) + "'" +
          (failures > 0 ? ", " + std::to_string(failures) + " deletes failed" : "") + "\n";
  }
  if (!write_stdout(out)) return ctx.fail("writing to stdout failed");
  return failures > 0 ? kExitError : kExitOk;
}

// ---- bench -----------------------------------------------------------------------

struct Latencies {
  std::vector<uint64_t> ns;
  double quantile_us(double q) const {
    if (ns.empty()) return 0;
    size_t i = static_cast<size_t>(q * static_cast<double>(ns.size() - 1) + 0.5);
    return static_cast<double>(ns[std::min(i, ns.size() - 1)]) / 1000.0;
  }
};

std::string fmt_us(double us) {
  char buf[32];
  if (us < 1000) {
    std::snprintf(buf, sizeof buf, "%.1fus", us);
  } else if (us < 1e6) {
    std::snprintf(buf, sizeof buf, "%.2fms", us / 1000);
  } else {
    std::snprintf(buf, sizeof buf, "%.2fs", us / 1e6);
  }
  return buf;
}

uint64_t now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

struct Phase {
  std::string name;
  uint64_t ops = 0;
  uint64_t bytes = 0;
  double seconds = 0;
  Latencies lat;
  StoreMetrics store;

  json to_json() const {
    return {{"ops", ops},
            {"seconds", seconds},
            {"ops_per_sec", seconds > 0 ? static_cast<double>(ops) / seconds : 0},
            {"mib_per_sec", seconds > 0 ? static_cast<double>(bytes) / seconds / (1 << 20) : 0},
            {"p50_us", lat.quantile_us(0.50)},
            {"p99_us", lat.quantile_us(0.99)},
            {"max_us", lat.quantile_us(1.0)},
            {"store_gets", store.op(StoreOp::kGet).requests},
            {"store_puts", store.op(StoreOp::kPut).requests}};
  }
  std::string to_text() const {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "  %-4s %10.0f ops/s %9.2f MiB/s  p50 %-9s p99 %-9s max %-9s (%.2fs; store: "
                  "%" PRIu64 " GET, %" PRIu64 " PUT)\n",
                  name.c_str(), seconds > 0 ? static_cast<double>(ops) / seconds : 0.0,
                  seconds > 0 ? static_cast<double>(bytes) / seconds / (1 << 20) : 0.0,
                  fmt_us(lat.quantile_us(0.5)).c_str(), fmt_us(lat.quantile_us(0.99)).c_str(),
                  fmt_us(lat.quantile_us(1.0)).c_str(), seconds,
                  store.op(StoreOp::kGet).requests, store.op(StoreOp::kPut).requests);
    return buf;
  }
};

// Runs `op(i)` for i in [0, ops) on `threads` threads, timing each call.
// Stops early at the first error (returned).
template <typename Op>
Status run_phase(uint64_t ops, int threads, Op op, std::atomic<uint64_t>* done, Latencies* out) {
  std::mutex mu;
  Status first;
  std::atomic<bool> failed{false};
  std::vector<std::thread> ts;
  std::vector<Latencies> lats(static_cast<size_t>(threads));
  for (int t = 0; t < threads; t++) {
    ts.emplace_back([&, t] {
      auto& mine = lats[static_cast<size_t>(t)].ns;
      for (uint64_t i = static_cast<uint64_t>(t); i < ops && !failed.load(); i += threads) {
        const uint64_t t0 = now_ns();
        Status s = op(i, t);
        mine.push_back(now_ns() - t0);
        if (!s.ok()) {
          std::lock_guard lk(mu);
          if (first.ok()) first = s;
          failed = true;
        }
        done->fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  for (auto& t : ts) t.join();
  for (auto& l : lats) out->ns.insert(out->ns.end(), l.ns.begin(), l.ns.end());
  std::sort(out->ns.begin(), out->ns.end());
  return first;
}

int run_bench(Context& ctx, const po::variables_map& vm) {
  int code = kExitOk;
  const uint64_t ops = vm["ops"].as<uint64_t>();
  const uint64_t value_size = vm["value-size"].as<uint64_t>();
  const int threads = vm["threads"].as<int>();
  const bool durable = vm["durable"].as<bool>();
  if (ops == 0) return ctx.usage_error("--ops must be at least 1");
  if (value_size > (uint64_t{64} << 20)) return ctx.usage_error("--value-size is at most 64 MiB");
  if (threads < 1 || threads > 256) return ctx.usage_error("--threads must be 1..256");
  std::string key_prefix = vm.count("key-prefix") ? vm["key-prefix"].as<std::string>()
                                                  : "bench/" + random_token().substr(0, 8) + "/";
  auto raw = ctx.store(&code);
  if (!raw) return code;
  auto metrics = std::make_shared<MetricsStore>(*raw);
  DBOptions dbo;
  dbo.prefix = ctx.prefix;
  auto db = DB::open(metrics, dbo);
  if (!db.ok()) return ctx.fail("opening database", db.status());

  // Values: slices of one random buffer, so each key gets different bytes.
  Random rnd(42);
  const std::string pool = rnd.bytes(static_cast<size_t>(value_size) + 4096);
  auto value_of = [&](uint64_t i) {
    return std::string_view(pool).substr(i % 4096, static_cast<size_t>(value_size));
  };
  auto key_of = [&](uint64_t i) {
    char num[24];
    std::snprintf(num, sizeof num, "%012" PRIu64, i);
    return key_prefix + num;
  };

  std::atomic<uint64_t> done{0};
  std::string phase_name = "put";
  std::mutex phase_mu;
  ProgressLine progress(
      "bench",
      [&] {
        std::lock_guard lk(phase_mu);
        return phase_name + " " + std::to_string(done.load()) + "/" + std::to_string(ops);
      },
      ctx.progress);

  ctx.warn("'bench' opens a writer: it claims the writer fence, so a writer running on this "
           "database (writerd or another program) is fenced and stops; it writes " +
           std::to_string(ops) + " keys under '" + printable(key_prefix) + "' and leaves them");
  WriterOptions wo;
  wo.owner = "isle-bench:" + default_owner_name();
  auto w = db->open_writer(wo);
  if (!w.ok()) return ctx.fail("bench: opening writer", w.status());
  progress.start();

  // Put phase (ends when everything is durable).
  Phase put;
  put.name = "put";
  put.ops = ops;
  put.bytes = ops * (value_size + key_of(0).size());
  std::atomic<uint64_t> backpressure{0};
  metrics->reset();
  uint64_t t0 = now_ns();
  Status s = run_phase(
      ops, threads,
      [&](uint64_t i, int) -> Status {
        const std::string key = key_of(i);
        for (;;) {
          auto seq = (*w)->put(key, value_of(i));
          if (seq.ok()) {
            return durable ? (*w)->await_durable(*seq) : Status::OK();
          }
          if (seq.status().code() != Code::kBackpressure) return seq.status();
          backpressure++;
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
      },
      &done, &put.lat);
  if (s.ok()) s = (*w)->flush();
  put.seconds = static_cast<double>(now_ns() - t0) / 1e9;
  put.store = metrics->snapshot();
  if (!s.ok()) {
    progress.finish();
    return ctx.fail("bench: put", s);
  }
  s = (*w)->close();
  if (!s.ok()) {
    progress.finish();
    return ctx.fail("bench: closing the writer", s);
  }

  // Get phase: random keys among those written, from a fresh reader.
  {
    std::lock_guard lk(phase_mu);
    phase_name = "get";
  }
  done = 0;
  auto reader = db->open_reader(ReaderOptions{});
  if (!reader.ok()) {
    progress.finish();
    return ctx.fail("bench: opening reader", reader.status());
  }
  std::vector<Random> rnds;
  for (int t = 0; t < threads; t++) rnds.emplace_back(1000 + static_cast<uint64_t>(t));
  std::atomic<uint64_t> missing{0};
  Phase get;
  get.name = "get";
  get.ops = ops;
  get.bytes = put.bytes;
  metrics->reset();
  t0 = now_ns();
  s = run_phase(
      ops, threads,
      [&](uint64_t, int t) -> Status {
        const uint64_t k = rnds[static_cast<size_t>(t)].uniform(ops);
        auto v = (*reader)->get(key_of(k));
        if (!v.ok()) return v.status();
        if (!v->has_value() || **v != value_of(k)) missing++;
        return Status::OK();
      },
      &done, &get.lat);
  get.seconds = static_cast<double>(now_ns() - t0) / 1e9;
  get.store = metrics->snapshot();
  progress.finish();
  if (!s.ok()) return ctx.fail("bench: get", s);

  std::string out;
  if (ctx.json) {
    json j = {{"ops", ops},           {"value_size", value_size}, {"threads", threads},
              {"durable", durable},   {"key_prefix", printable(key_prefix)},
              {"put", put.to_json()}, {"get", get.to_json()},     {"backpressure_retries", backpressure.load()},
              {"missing", missing.load()}};
    out = dump_line(j) + "\n";
  } else {
    out = "bench: " + std::to_string(ops) + " ops, " + std::to_string(value_size) +
          " B values, " + std::to_string(threads) + " thread" + (threads == 1 ? "" : "s") + ", " +
          (durable ? "durable puts (each awaited)" : "buffered puts (one flush at the end)") +
          ", keys under '" + printable(key_prefix) + "' on " + ctx.store_url + "\n";
    out += put.to_text() + get.to_text();
    if (backpressure.load() > 0) {
      out += "  backpressure retries: " + std::to_string(backpressure.load()) + "\n";
    }
  }
  if (!write_stdout(out)) return ctx.fail("writing to stdout failed");
  if (missing.load() > 0) {
    return ctx.fail("bench: " + std::to_string(missing.load()) +
                    " reads did not return the value written");
  }
  return kExitOk;
}

}  // namespace

void add_admin_commands(std::vector<Command>* out) {
  out->push_back(Command{
      "gc", "--dry-run | --yes [--grace 10m] [--change-retention 1h]",
      "one garbage-collection pass (--dry-run: only report what it would delete)",
      "Runs the GarbageCollector once (docs/format/gc.md): pending-delete marks for\n"
      "SSTs that left the live set, deletion of those due, the orphan sweep, the\n"
      "blob sweep and old manifest log entries and snapshots. It deletes objects, so\n"
      "it refuses to run without --dry-run (report only, nothing written) or --yes.\n"
      "Use the same --grace and --change-retention as the database's GC daemon.",
      [](po::options_description& o, po::positional_options_description&) {
        o.add_options()
            ("dry-run", po::bool_switch(), "report what would be deleted; change nothing")
            ("yes", po::bool_switch(), "really delete")
            ("grace", po::value<std::string>()->default_value("10m"), "unreferenced objects are deleted after this long")
            ("change-retention", po::value<std::string>()->default_value("1h"), "how long the change feed's history is kept");
      },
      run_gc});

  out->push_back(Command{
      "destroy", "--dry-run | --yes",
      "delete every object of the database (its whole --prefix)",
      "Deletes every object under the database prefix: SSTs, blobs, the manifest,\n"
      "GC marks (also in --manifest-store / --gc-marks-store when given). For\n"
      "scratch and test databases; stop the daemons first. Refuses without\n"
      "--dry-run (count only) or --yes, and refuses an empty --prefix.",
      [](po::options_description& o, po::positional_options_description&) {
        o.add_options()
            ("dry-run", po::bool_switch(), "count the objects; change nothing")
            ("yes", po::bool_switch(), "really delete");
      },
      run_destroy});

  out->push_back(Command{
      "bench", "[--ops N] [--value-size B] [--threads T] [--durable]",
      "embedded put then get throughput and latency (opens a writer: fences writerd)",
      "Put phase: a Writer writes --ops keys KEY_PREFIX%012d with --value-size byte\n"
      "values from --threads threads (--durable: each put waits until it is\n"
      "committed; otherwise one flush at the end, included in the time). Get phase:\n"
      "a fresh Reader reads --ops random keys among them and checks the values.\n"
      "Prints ops/s, MiB/s, p50/p99/max latency and the object-store requests of\n"
      "each phase. The keys stay in the database: use a scratch --prefix.\n"
      "WARNING: opening the writer fences a running writer of the database.",
      [](po::options_description& o, po::positional_options_description&) {
        o.add_options()
            ("ops", po::value<uint64_t>()->default_value(100000), "operations per phase")
            ("value-size", po::value<uint64_t>()->default_value(100), "value bytes")
            ("threads", po::value<int>()->default_value(1), "client threads")
            ("durable", po::bool_switch(), "await each put's commit")
            ("key-prefix", po::value<std::string>(), "keys start with this (default bench/<random>/)");
      },
      run_bench});
}

}  // namespace isle::cli
