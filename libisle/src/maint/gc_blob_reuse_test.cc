// The blob reuse race (docs/format/gc.md, "Blobs reused while GC runs"):
// the writer deduplicates content-addressed blobs, so a write may reuse a
// blob that GC has already judged dead. These tests stop a collector in
// the middle of its blob sweep with a pausing store, let the writer reuse
// the blob and commit, then let the collector go on: the blob must survive
// and the value must read back.
//
// Everything runs on one in-memory bucket whose object timestamps come
// from the same ManualClock the writer and the collector use, so ages are
// exact and the interleaving is deterministic.
#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "isle/db.h"
#include "isle/gc.h"
#include "manifest/manifest_types.h"
#include "store/mem_store.h"
#include "store/prefix_store.h"
#include "util/hash.h"

namespace isle {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kGrace = 600'000;

// Forwards everything to `inner`, but the first request (other than a
// listing) that touches a key under `pause_prefix` waits until release():
// the collector has listed, replayed and decided, and is about to act on a
// blob.
class PausingStore : public ObjectStore {
 public:
  PausingStore(ObjectStorePtr inner, std::string pause_prefix)
      : inner_(std::move(inner)), prefix_(std::move(pause_prefix)) {}

  // True once a request is held (false after `timeout`).
  bool wait_paused(std::chrono::milliseconds timeout) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return paused_; });
  }
  void release() {
    std::lock_guard lk(mu_);
    released_ = true;
    cv_.notify_all();
  }
  std::string paused_on() {
    std::lock_guard lk(mu_);
    return paused_on_;
  }

  Result<GetResult> get(std::string_view key, const GetOptions& o) override {
    gate("GET", key);
    return inner_->get(key, o);
  }
  Result<ObjectMeta> head(std::string_view key) override {
    gate("HEAD", key);
    return inner_->head(key);
  }
  Result<ObjectMeta> put(std::string_view key, std::string_view data,
                         const PutOptions& o) override {
    gate("PUT", key);
    return inner_->put(key, data, o);
  }
  Status remove(std::string_view key) override {
    gate("DELETE", key);
    return inner_->remove(key);
  }
  Result<std::vector<DeleteOutcome>> remove_batch(const std::vector<std::string>& keys) override {
    for (const auto& k : keys) gate("DELETE(batch)", k);
    return inner_->remove_batch(keys);
  }
  Result<ListPage> list(const ListOptions& o) override { return inner_->list(o); }
  std::string url() const override { return inner_->url(); }

 private:
  void gate(const char* op, std::string_view key) {
    if (key.substr(0, prefix_.size()) != prefix_) return;
    std::unique_lock lk(mu_);
    if (paused_) return;  // only the first one waits
    paused_ = true;
    paused_on_ = std::string(op) + " " + std::string(key);
    cv_.notify_all();
    cv_.wait(lk, [&] { return released_; });
  }

  ObjectStorePtr inner_;
  std::string prefix_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool paused_ = false;
  bool released_ = false;
  std::string paused_on_;
};

struct Env {
  ManualClock clock;
  std::shared_ptr<MemStore> mem = std::make_shared<MemStore>("mem://gc-blob-reuse", &clock);
  ObjectStorePtr scoped = with_prefix(mem, "db");

  DBOptions db_options() {
    DBOptions o;
    o.prefix = "db";
    o.clock = &clock;
    o.gc_grace = std::chrono::milliseconds(kGrace);
    return o;
  }
  std::unique_ptr<Writer> writer() {
    auto db = DB::open(mem, db_options());
    EXPECT_TRUE(db.ok()) << db.status().to_string();
    WriterOptions o;
    o.flush_interval = std::chrono::hours(1);
    o.retry_backoff = 1ms;
    o.min_flush_spacing = 0ms;
    o.blob_threshold = 64;
    o.inline_flush_max_bytes = 0;  // SST objects (inline: inline_consumers_test.cc)
    auto w = db->open_writer(o);
    EXPECT_TRUE(w.ok()) << w.status().to_string();
    return w.ok() ? std::move(*w) : nullptr;
  }
  std::unique_ptr<GarbageCollector> gc(ObjectStorePtr store) {
    GcOptions o;
    o.prefix = "db";
    o.clock = &clock;
    o.grace = std::chrono::milliseconds(kGrace);
    o.change_retention = 0ms;
    auto g = GarbageCollector::open(std::move(store), o);
    EXPECT_TRUE(g.ok()) << g.status().to_string();
    return g.ok() ? std::move(*g) : nullptr;
  }
  Result<std::optional<std::string>> read(const std::string& key) {
    ReaderOptions o;
    o.prefix = "db";
    o.clock = &clock;
    o.retry_backoff = 1ms;
    o.block_cache_bytes = 0;
    o.blob_cache_bytes = 0;
    auto r = Reader::open(mem, o);
    if (!r.ok()) return r.status();
    return (*r)->get(key);
  }
};

// A value stored as a blob, and that blob's key.
const std::string kValue(300, 'v');
std::string value_blob_key() { return blob_key(sha256_hex(kValue)); }

TEST(GcBlobReuse, BlobReusedWhileTheCollectorDecidesToDeleteItSurvives) {
  Env env;
  auto w = env.writer();
  ASSERT_NE(w, nullptr);
  {
    auto g = env.gc(env.mem);
    ASSERT_TRUE(g->run_once().ok());  // the checkpoint exists: a normal run follows
  }
  // A blob no SST references (its SSTs were collected long ago), as old as
  // the grace: the next sweep deletes it.
  ASSERT_TRUE(env.scoped->put(value_blob_key(), kValue, PutOptions::create_only()).ok());
  env.clock.advance_ms(kGrace);

  auto pausing = std::make_shared<PausingStore>(env.mem, "db/blobs/");
  auto g = env.gc(pausing);
  auto run = std::async(std::launch::async, [&] { return g->run_once(); });
  if (!pausing->wait_paused(30s)) {
    pausing->release();
    FAIL() << "the collector never touched the blob: " << run.get().status().to_string();
  }
  // The collector has listed the blob, found it unreferenced and a grace
  // old, and is about to act on it. Now a write reuses it and commits.
  auto seq = w->put("k", kValue);
  ASSERT_TRUE(seq.ok()) << seq.status().to_string();
  ASSERT_TRUE(w->flush().ok());
  pausing->release();
  auto report = run.get();
  ASSERT_TRUE(report.ok()) << report.status().to_string();

  EXPECT_TRUE(env.scoped->head(value_blob_key()).ok())
      << "the collector (paused at " << pausing->paused_on()
      << ") deleted a blob that a committed write references";
  auto got = env.read("k");
  ASSERT_TRUE(got.ok()) << "reading the committed value: " << got.status().to_string();
  EXPECT_EQ(*got, std::optional<std::string>(kValue));
  ASSERT_TRUE(w->close().ok());

  // A later run keeps it too: it is referenced now.
  auto again = g->run_once();
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_EQ(again->blobs_deleted, 0u);
}

TEST(GcBlobReuse, WriterRewritesAReusedBlobOnlyWhenOlderThanAQuarterOfTheGrace) {
  Env env;
  auto w = env.writer();
  ASSERT_TRUE(w->put("a", kValue).ok());
  auto first = env.scoped->head(value_blob_key());
  ASSERT_TRUE(first.ok());
  env.clock.advance_ms(kGrace / 4 - 1);
  ASSERT_TRUE(w->put("b", kValue).ok());
  EXPECT_EQ(w->stats().blobs_refreshed, 0u) << "a young blob is reused as it is";
  EXPECT_EQ(env.scoped->head(value_blob_key())->etag, first->etag);
  env.clock.advance_ms(1);
  ASSERT_TRUE(w->put("c", kValue).ok());
  EXPECT_EQ(w->stats().blobs_refreshed, 1u) << "a quarter of the grace old: written again";
  auto again = env.scoped->head(value_blob_key());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->modified_ms, env.clock.now_ms());
  ASSERT_TRUE(w->flush().ok());
  ASSERT_TRUE(w->close().ok());
  EXPECT_EQ(*env.read("c"), std::optional<std::string>(kValue));
}

}  // namespace
}  // namespace isle
