// GC with a CUSTOM ManifestStorage and a CUSTOM GcMarkStorage, both kept
// in a separate in-memory compare-and-swap map (CasMap: real create-only /
// if-match semantics, its own etags, its own key names), while the data
// (SSTs, blobs) lives in a different store (mem://data).
//
// The real writer, compactor, retention compactor, garbage collector and a
// reader run through the custom storages. Checked: GC collects the old log
// entries and snapshots IN THE CUSTOM MANIFEST STORAGE (and never CURRENT's
// snapshot or anything at or above log_seq_start), keeps its marks and
// checkpoint in the custom mark storage, writes no manifest/ object into
// the data store, deletes no live object, and the reader still reads
// everything. Also: a storage written before the GC calls existed keeps
// working (manifest_skipped); a storage whose listing ignores the bound
// cannot make GC delete CURRENT's snapshot or a live log entry; GC without
// the database's manifest storage refuses instead of deleting the data;
// the default mark storage keeps today's keys and bytes.
#include "isle/gc.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <mutex>
#include <set>

#include "isle/compactor.h"
#include "isle/db.h"
#include "isle/retention.h"
#include "maint/gc_codec.h"
#include "manifest/manifest_codec.h"
#include "manifest/manifest_types.h"
#include "store/mem_store.h"
#include "store/prefix_store.h"

namespace isle {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kGrace = 600'000;

// A map of versioned objects with compare-and-swap writes.
class CasMap {
 public:
  Result<VersionedObject> get(const std::string& key, std::string_view if_none_match = {}) {
    std::lock_guard lk(mu_);
    auto it = objs_.find(key);
    if (it == objs_.end()) return Status::NotFound(key);
    if (!if_none_match.empty() && if_none_match == it->second.etag) {
      return VersionedObject{"", it->second.etag, true};
    }
    return VersionedObject{it->second.data, it->second.etag, false};
  }
  // expected "" = create-only.
  Result<std::string> put(const std::string& key, std::string_view data,
                          std::string_view expected) {
    std::lock_guard lk(mu_);
    auto it = objs_.find(key);
    if (expected.empty() ? it != objs_.end() : (it == objs_.end() || it->second.etag != expected)) {
      return Status::PreconditionFailed(key);
    }
    Obj o{std::string(data), "e" + std::to_string(++next_etag_)};
    objs_[key] = o;
    return o.etag;
  }
  Status remove(const std::string& key) {
    std::lock_guard lk(mu_);
    objs_.erase(key);
    return Status::OK();
  }
  std::vector<std::string> keys(std::string_view prefix = {}) {
    std::lock_guard lk(mu_);
    std::vector<std::string> out;
    for (const auto& [k, o] : objs_) {
      if (k.rfind(prefix, 0) == 0) out.push_back(k);
    }
    return out;
  }

 private:
  struct Obj {
    std::string data;
    std::string etag;
  };
  std::mutex mu_;
  std::map<std::string, Obj> objs_;
  uint64_t next_etag_ = 0;
};

std::string pos_name(uint64_t pos) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020llu", static_cast<unsigned long long>(pos));
  return buf;
}

// A manifest storage with its own layout: "cur", "L/<pos>", "S/<pos>".
class MapManifestStorage : public ManifestStorage {
 public:
  explicit MapManifestStorage(std::shared_ptr<CasMap> m) : m_(std::move(m)) {}
  Result<VersionedObject> read_current(std::string_view if_none_match) override {
    return m_->get("cur", if_none_match);
  }
  Result<std::string> write_current(std::string_view data, std::string_view expected) override {
    return m_->put("cur", data, expected);
  }
  Result<std::string> read_log(uint64_t pos) override { return read("L/" + pos_name(pos)); }
  Status create_log(uint64_t pos, std::string_view data) override {
    return m_->put("L/" + pos_name(pos), data, "").status();
  }
  Result<std::string> read_snapshot(uint64_t pos) override { return read("S/" + pos_name(pos)); }
  Status create_snapshot(uint64_t pos, std::string_view data) override {
    return m_->put("S/" + pos_name(pos), data, "").status();
  }
  std::string describe() const override { return "map-manifest"; }

  Result<std::vector<uint64_t>> list_log_positions(uint64_t limit) override {
    return list("L/", limit);
  }
  Result<std::vector<uint64_t>> list_snapshot_positions(uint64_t limit) override {
    return list("S/", limit);
  }
  Result<std::vector<uint64_t>> delete_logs(const std::vector<uint64_t>& positions) override {
    for (uint64_t p : positions) ISLE_RETURN_IF_ERROR(m_->remove("L/" + pos_name(p)));
    return std::vector<uint64_t>{};
  }
  Result<std::vector<uint64_t>> delete_snapshots(const std::vector<uint64_t>& positions) override {
    for (uint64_t p : positions) ISLE_RETURN_IF_ERROR(m_->remove("S/" + pos_name(p)));
    return std::vector<uint64_t>{};
  }

 private:
  Result<std::string> read(const std::string& key) {
    ISLE_ASSIGN_OR_RETURN(VersionedObject o, m_->get(key));
    return std::move(o.data);
  }
  Result<std::vector<uint64_t>> list(const std::string& dir, uint64_t limit) {
    std::vector<uint64_t> out;
    for (const std::string& k : m_->keys(dir)) {
      const uint64_t p = std::stoull(k.substr(dir.size()));
      if (p < limit) out.push_back(p);
    }
    return out;
  }
  std::shared_ptr<CasMap> m_;
};

// A storage whose listing ignores the bound (returns every position):
// GC must still delete nothing at or above its own bound.
class GreedyListingStorage : public MapManifestStorage {
 public:
  using MapManifestStorage::MapManifestStorage;
  Result<std::vector<uint64_t>> list_log_positions(uint64_t) override {
    return MapManifestStorage::list_log_positions(UINT64_MAX);
  }
  Result<std::vector<uint64_t>> list_snapshot_positions(uint64_t) override {
    return MapManifestStorage::list_snapshot_positions(UINT64_MAX);
  }
};

// The same storage as an implementation written before GC could collect
// through it: the four GC calls keep their NotSupported defaults.
class LegacyMapManifestStorage : public ManifestStorage {
 public:
  explicit LegacyMapManifestStorage(std::shared_ptr<CasMap> m) : inner_(std::move(m)) {}
  Result<VersionedObject> read_current(std::string_view inm) override {
    return inner_.read_current(inm);
  }
  Result<std::string> write_current(std::string_view d, std::string_view e) override {
    return inner_.write_current(d, e);
  }
  Result<std::string> read_log(uint64_t p) override { return inner_.read_log(p); }
  Status create_log(uint64_t p, std::string_view d) override { return inner_.create_log(p, d); }
  Result<std::string> read_snapshot(uint64_t p) override { return inner_.read_snapshot(p); }
  Status create_snapshot(uint64_t p, std::string_view d) override {
    return inner_.create_snapshot(p, d);
  }
  std::string describe() const override { return "legacy-map-manifest"; }

 private:
  MapManifestStorage inner_;
};

// GC's marks and checkpoint as two entries of a CasMap.
class MapMarkStorage : public GcMarkStorage {
 public:
  explicit MapMarkStorage(std::shared_ptr<CasMap> m) : m_(std::move(m)) {}
  Result<VersionedObject> read_marks() override { return m_->get("marks"); }
  Result<std::string> write_marks(std::string_view d, std::string_view e) override {
    return m_->put("marks", d, e);
  }
  Result<VersionedObject> read_checkpoint() override { return m_->get("checkpoint"); }
  Result<std::string> write_checkpoint(std::string_view d, std::string_view e) override {
    return m_->put("checkpoint", d, e);
  }
  std::string describe() const override { return "map-marks"; }

 private:
  std::shared_ptr<CasMap> m_;
};

std::set<uint64_t> positions(CasMap& m, std::string_view dir) {
  std::set<uint64_t> out;
  for (const std::string& k : m.keys(dir)) out.insert(std::stoull(k.substr(dir.size())));
  return out;
}

struct Env {
  ManualClock clock;
  std::shared_ptr<MemStore> data = std::make_shared<MemStore>("mem://data", &clock);
  std::shared_ptr<CasMap> manifest_map = std::make_shared<CasMap>();
  std::shared_ptr<CasMap> marks_map = std::make_shared<CasMap>();
  ManifestStoragePtr manifest = std::make_shared<MapManifestStorage>(manifest_map);
  GcMarkStoragePtr marks = std::make_shared<MapMarkStorage>(marks_map);
  DBOptions db;

  Env() {
    db.prefix = "db";
    db.clock = &clock;
    db.manifest_storage = manifest;
    db.gc_mark_storage = marks;
  }
  // A writer that flushes only when told to, retries at once, and
  // snapshots every `snapshot_every` log entries.
  static WriterOptions manual_writer_options(int snapshot_every, size_t blob_threshold) {
    WriterOptions wo;
    wo.flush_interval = std::chrono::hours(1);
    wo.retry_backoff = 1ms;
    wo.min_flush_spacing = 0ms;
    wo.blob_threshold = blob_threshold;
    wo.snapshot_every = snapshot_every;
    // SST objects: inline flushes are covered by inline_consumers_test.cc.
    wo.inline_flush_max_bytes = 0;
    return wo;
  }
  GcOptions gc_options() {
    GcOptions o;
    o.prefix = "db";
    o.clock = &clock;
    o.grace = std::chrono::milliseconds(kGrace);
    o.change_retention = 0ms;
    o.manifest_storage = db.manifest_storage;
    o.mark_storage = db.gc_mark_storage;
    return o;
  }
  uint64_t log_seq_start() {
    auto c = manifest->read_current();
    EXPECT_TRUE(c.ok()) << c.status().to_string();
    auto p = decode_current(c->data, "cur");
    EXPECT_TRUE(p.ok()) << p.status().to_string();
    return p->log_seq_start;
  }
  std::set<std::string> data_keys() {
    std::set<std::string> out;
    auto l = data->list_all("");
    EXPECT_TRUE(l.ok());
    for (const auto& m : *l) out.insert(m.key);
    return out;
  }
};

std::string value_of(const std::string& key, size_t n) { return key + std::string(n, 'v'); }

TEST(GcCustomStorage, CollectsOldManifestObjectsInTheCustomStorage) {
  Env env;
  auto db = DB::open(env.data, env.db);
  ASSERT_TRUE(db.ok()) << db.status().to_string();
  const WriterOptions wo = Env::manual_writer_options(2, 64);
  auto w = db->open_writer(wo);
  ASSERT_TRUE(w.ok()) << w.status().to_string();

  // Old data, which retention removes.
  for (int f = 0; f < 2; f++) {
    ASSERT_TRUE((*w)->put("old/" + std::to_string(f), "x").ok());
    ASSERT_TRUE((*w)->flush().ok());
  }
  env.clock.advance_ms(2 * 3'600'000);
  RetentionOptions ro;
  ro.retention_period = std::chrono::hours(1);
  ro.retention_count = 0;
  ro.retry_backoff = 1ms;
  ro.snapshot_every = 1;
  auto ret = RetentionCompactor::open(env.data, env.db, ro);
  ASSERT_TRUE(ret.ok()) << ret.status().to_string();
  auto cleaned = (*ret)->run_cleanup();
  ASSERT_TRUE(cleaned.ok()) << cleaned.status().to_string();
  EXPECT_EQ(cleaned->removed.size(), 2u);

  // Live data: small values and blobs, many flushes (log entries and
  // snapshots), then compactions.
  std::map<std::string, std::string> model;
  for (int f = 0; f < 8; f++) {
    for (int i = 0; i < 3; i++) {
      const std::string k = "k/" + std::to_string(f) + "/" + std::to_string(i);
      model[k] = value_of(k, i == 0 ? 300 : 5);
      ASSERT_TRUE((*w)->put(k, model[k]).ok());
    }
    ASSERT_TRUE((*w)->flush().ok());
  }
  CompactorOptions co;
  co.l0_threshold = 2;
  co.retry_backoff = 1ms;
  co.snapshot_every = 1;
  auto comp = Compactor::open(env.data, env.db, co);
  ASSERT_TRUE(comp.ok()) << comp.status().to_string();
  for (int i = 0; i < 8; i++) {
    auto c = (*comp)->run_compaction();
    ASSERT_TRUE(c.ok()) << c.status().to_string();
    if (c->log_position == 0) break;
  }

  const uint64_t logs_before = positions(*env.manifest_map, "L/").size();
  const uint64_t snaps_before = positions(*env.manifest_map, "S/").size();
  ASSERT_GT(env.log_seq_start(), 3u);

  // GC: the first run records log_seq_start; after a grace it may cut.
  auto gc = GarbageCollector::open(env.data, env.gc_options());
  ASSERT_TRUE(gc.ok()) << gc.status().to_string();
  GcReport total;
  for (int run = 0; run < 3; run++) {
    auto r = (*gc)->run_once();
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_FALSE(r->manifest_skipped);
    total.ssts_deleted += r->ssts_deleted;
    total.log_entries_deleted += r->log_entries_deleted;
    total.snapshots_deleted += r->snapshots_deleted;
    env.clock.advance_ms(kGrace + 1);
  }
  const uint64_t start = env.log_seq_start();
  const std::set<uint64_t> logs = positions(*env.manifest_map, "L/");
  const std::set<uint64_t> snaps = positions(*env.manifest_map, "S/");
  std::printf("log entries %llu -> %zu, snapshots %llu -> %zu, log_seq_start %llu\n",
              static_cast<unsigned long long>(logs_before), logs.size(),
              static_cast<unsigned long long>(snaps_before), snaps.size(),
              static_cast<unsigned long long>(start));

  // Old manifest objects are gone from the custom storage...
  EXPECT_GT(total.log_entries_deleted, 0u);
  EXPECT_GT(total.snapshots_deleted, 0u);
  EXPECT_EQ(logs.size() + total.log_entries_deleted, logs_before);
  ASSERT_FALSE(logs.empty());
  EXPECT_EQ(*logs.begin(), start) << "every log entry below log_seq_start is collected";
  EXPECT_EQ(snaps, std::set<uint64_t>{start}) << "only CURRENT's snapshot is left";
  // ... and nothing at or above log_seq_start was touched.
  for (uint64_t p = start; p <= *logs.rbegin(); p++) EXPECT_TRUE(logs.count(p)) << p;
  // SSTs the compactor and retention replaced are collected from the data.
  EXPECT_GT(total.ssts_deleted, 0u);

  // GC's state is in the custom mark storage, and its checkpoint has
  // processed the whole log.
  EXPECT_EQ(env.marks_map->keys(), (std::vector<std::string>{"checkpoint", "marks"}));
  auto cp = env.marks->read_checkpoint();
  ASSERT_TRUE(cp.ok()) << cp.status().to_string();
  auto checkpoint = decode_gc_checkpoint(cp->data, "checkpoint");
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status().to_string();
  EXPECT_EQ(checkpoint->pos, *logs.rbegin() + 1);

  // The data store holds data only: no manifest object, no GC state.
  for (const std::string& k : env.data_keys()) {
    EXPECT_EQ(k.rfind("db/manifest/", 0), std::string::npos) << "manifest object in the data: " << k;
  }

  // A reader through the custom manifest storage reads everything; every
  // live SST exists.
  ReaderOptions rdo;
  rdo.retry_backoff = 1ms;
  rdo.block_cache_bytes = 0;
  rdo.blob_cache_bytes = 0;
  auto reader = db->open_reader(rdo);
  ASSERT_TRUE(reader.ok()) << reader.status().to_string();
  for (const auto& [k, v] : model) {
    auto got = (*reader)->get(k);
    ASSERT_TRUE(got.ok()) << k << ": " << got.status().to_string();
    ASSERT_TRUE(got->has_value()) << k;
    EXPECT_EQ(**got, v) << k;
  }
  // Every live SST (and blob) is still in the data store.
  const ManifestInfo info = (*reader)->manifest();
  std::vector<TableInfo> live = info.l0;
  for (const auto& run : info.runs) live.insert(live.end(), run.begin(), run.end());
  ASSERT_FALSE(live.empty());
  const std::set<std::string> data_keys = env.data_keys();
  for (const TableInfo& t : live) {
    EXPECT_TRUE(data_keys.count("db/" + sst_key(t.id))) << "live SST deleted: " << t.id;
  }
  auto scanned = (*reader)->scan("k/", "k0");
  ASSERT_TRUE(scanned.ok()) << scanned.status().to_string();
  EXPECT_EQ(scanned->size(), model.size());

  // The writer keeps committing on top of the collected log; a new reader
  // (replaying from CURRENT's snapshot) sees it.
  ASSERT_TRUE((*w)->put("k/after", "gc").ok());
  ASSERT_TRUE((*w)->flush().ok());
  auto r2 = db->open_reader(rdo);
  ASSERT_TRUE(r2.ok()) << r2.status().to_string();
  auto after = (*r2)->get("k/after");
  ASSERT_TRUE(after.ok() && after->has_value());
  EXPECT_EQ(**after, "gc");
  ASSERT_TRUE((*w)->close().ok());
}

// A custom manifest storage written before GC could collect through it
// still works: GC collects SSTs, keeps every manifest object and says so.
TEST(GcCustomStorage, StorageWithoutGcCallsKeepsTheManifest) {
  Env env;
  env.db.manifest_storage = std::make_shared<LegacyMapManifestStorage>(env.manifest_map);
  auto db = DB::open(env.data, env.db);
  ASSERT_TRUE(db.ok()) << db.status().to_string();
  const WriterOptions wo = Env::manual_writer_options(2, WriterOptions{}.blob_threshold);
  auto w = db->open_writer(wo);
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  for (int f = 0; f < 6; f++) {
    // Overlapping ranges, so the compaction rewrites (not moves) them.
    ASSERT_TRUE((*w)->put("a", std::to_string(f)).ok());
    ASSERT_TRUE((*w)->put("k" + std::to_string(f), "v").ok());
    ASSERT_TRUE((*w)->flush().ok());
  }
  CompactorOptions co;
  co.l0_threshold = 2;
  co.retry_backoff = 1ms;
  co.snapshot_every = 1;
  auto comp = Compactor::open(env.data, env.db, co);
  ASSERT_TRUE(comp.ok()) << comp.status().to_string();
  auto compacted = (*comp)->run_compaction();
  ASSERT_TRUE(compacted.ok()) << compacted.status().to_string();
  ASSERT_EQ(compacted->inputs.size(), 6u);
  const auto logs_before = env.manifest_map->keys("L/");
  const auto snaps_before = env.manifest_map->keys("S/");

  auto gc = GarbageCollector::open(env.data, env.gc_options());
  ASSERT_TRUE(gc.ok()) << gc.status().to_string();
  size_t ssts_deleted = 0;
  bool skipped = false;
  for (int run = 0; run < 3; run++) {
    auto r = (*gc)->run_once();
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->log_entries_deleted + r->snapshots_deleted, 0u);
    ssts_deleted += r->ssts_deleted;
    skipped = skipped || r->manifest_skipped;
    env.clock.advance_ms(kGrace + 1);
  }
  EXPECT_TRUE(skipped);
  EXPECT_GT(ssts_deleted, 0u);
  EXPECT_EQ(env.manifest_map->keys("L/"), logs_before);
  EXPECT_EQ(env.manifest_map->keys("S/"), snaps_before);
  auto reader = db->open_reader({});
  ASSERT_TRUE(reader.ok()) << reader.status().to_string();
  auto a = (*reader)->get("a");
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ(**a, "5");
  for (int f = 0; f < 6; f++) {
    auto got = (*reader)->get("k" + std::to_string(f));
    ASSERT_TRUE(got.ok() && got->has_value()) << f;
  }
  ASSERT_TRUE((*w)->close().ok());
}

TEST(GcCustomStorage, ListingTooMuchDeletesNothingLive) {
  Env env;
  env.db.manifest_storage = std::make_shared<GreedyListingStorage>(env.manifest_map);
  auto db = DB::open(env.data, env.db);
  ASSERT_TRUE(db.ok()) << db.status().to_string();
  const WriterOptions wo = Env::manual_writer_options(2, WriterOptions{}.blob_threshold);
  auto w = db->open_writer(wo);
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  for (int f = 0; f < 7; f++) {
    ASSERT_TRUE((*w)->put("k" + std::to_string(f), "v").ok());
    ASSERT_TRUE((*w)->flush().ok());
  }
  auto gc = GarbageCollector::open(env.data, env.gc_options());
  ASSERT_TRUE(gc.ok()) << gc.status().to_string();
  // The log moves on between the runs, so the bound GC computes from its
  // old sighting is below CURRENT's log_seq_start.
  size_t deleted = 0;
  for (int run = 0; run < 3; run++) {
    auto r = (*gc)->run_once();
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    deleted += r->log_entries_deleted + r->snapshots_deleted;
    // Right after the run: CURRENT's snapshot and every log entry from
    // log_seq_start on are still there.
    const uint64_t start = env.log_seq_start();
    EXPECT_TRUE(env.manifest_map->get("S/" + pos_name(start)).ok())
        << "run " << run << " deleted CURRENT's snapshot " << start;
    const std::set<uint64_t> logs = positions(*env.manifest_map, "L/");
    ASSERT_FALSE(logs.empty());
    for (uint64_t p = start; p <= *logs.rbegin(); p++) {
      EXPECT_TRUE(logs.count(p)) << "run " << run << " deleted log entry " << p;
    }
    env.clock.advance_ms(kGrace + 1);
    for (int f = 0; f < 2; f++) {
      ASSERT_TRUE((*w)->put("k" + std::to_string(run) + "-" + std::to_string(f), "v").ok());
      ASSERT_TRUE((*w)->flush().ok());
    }
  }
  EXPECT_GT(deleted, 0u) << "GC collected nothing: the test shows nothing";
  auto reader = db->open_reader({});
  ASSERT_TRUE(reader.ok()) << reader.status().to_string();
  auto got = (*reader)->get("k6");
  ASSERT_TRUE(got.ok() && got->has_value());
  ASSERT_TRUE((*w)->close().ok());
}

// GC pointed at the data store without the database's manifest storage
// (a daemon missing store.manifest_url) sees an empty manifest next to
// SSTs: it refuses and deletes nothing, however long it runs.
TEST(GcCustomStorage, MissingManifestStorageDeletesNothing) {
  Env env;
  auto db = DB::open(env.data, env.db);
  ASSERT_TRUE(db.ok()) << db.status().to_string();
  const WriterOptions wo = Env::manual_writer_options(WriterOptions{}.snapshot_every, 64);
  auto w = db->open_writer(wo);
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  for (int f = 0; f < 3; f++) {
    ASSERT_TRUE((*w)->put("k" + std::to_string(f), value_of("k", 100)).ok());
    ASSERT_TRUE((*w)->flush().ok());
  }
  const std::set<std::string> before = env.data_keys();
  ASSERT_FALSE(before.empty());
  GcOptions wrong = env.gc_options();
  wrong.manifest_storage = nullptr;  // the data store's manifest/: empty
  auto gc = GarbageCollector::open(env.data, wrong);
  ASSERT_TRUE(gc.ok()) << gc.status().to_string();
  for (int run = 0; run < 3; run++) {
    auto r = (*gc)->run_once();
    EXPECT_FALSE(r.ok()) << "run " << run << " judged by an empty manifest";
    if (r.ok()) std::printf("run %d deleted %zu objects\n", run, r->deleted.size());
    EXPECT_TRUE(r.status().is_invalid_argument()) << r.status().to_string();
    EXPECT_NE(r.status().message().find("manifest"), std::string::npos) << r.status().to_string();
    env.clock.advance_ms(kGrace + 1);
  }
  EXPECT_EQ(env.data_keys(), before);
  EXPECT_TRUE(env.marks_map->keys().empty()) << "no marks written";
  ASSERT_TRUE((*w)->close().ok());
}

// The default mark storage keeps today's keys and bytes: marks written
// through it are read back by the codec from manifest/gc/ of the store.
TEST(GcCustomStorage, DefaultMarkStorageKeepsTheLayout) {
  ManualClock clock;
  auto mem = std::make_shared<MemStore>("mem://layout", &clock);
  GcMarkStoragePtr marks = object_store_gc_mark_storage(with_prefix(mem, "db"));
  PendingMarks p;
  p.add(PendingMark{"sst1", 1, 2, std::nullopt, "orphan"});
  const std::string bytes = encode_pending_marks(p);
  auto etag = marks->write_marks(bytes, "");
  ASSERT_TRUE(etag.ok()) << etag.status().to_string();
  EXPECT_TRUE(marks->write_marks(bytes, "").status().is_precondition_failed());
  EXPECT_TRUE(marks->write_marks(bytes, "not-the-etag").status().is_precondition_failed());
  auto stored = mem->get("db/" + std::string(kGcPendingKey));
  ASSERT_TRUE(stored.ok()) << stored.status().to_string();
  EXPECT_EQ(stored->data, bytes);
  auto again = marks->write_marks(bytes, *etag);
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_TRUE(marks->read_checkpoint().status().is_not_found());
  ASSERT_TRUE(marks->write_checkpoint("{}", "").ok());
  EXPECT_TRUE(mem->get("db/" + std::string(kGcCheckpointKey)).ok());
  auto read = marks->read_marks();
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->etag, *again);
}

}  // namespace
}  // namespace isle
