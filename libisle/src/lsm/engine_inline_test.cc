// The one-round-trip commit (docs/manifest-protocol.md, "Inline flushes")
// end to end: a small flush is one PUT and readers serve it from the
// manifest without a GET; materialization turns several inline flushes into
// one L0 SST; a large flush materializes what is pending first; a crash
// between an inline commit and its materialization loses nothing and the
// successor materializes exactly once; a reader that opens (or refreshes)
// at any log position sees each write exactly once; signed inline SSTs
// verify and tampered ones are refused; ReaderOptions::max_inline_bytes.
#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "engine_test_util.h"
#include "format/internal_key.h"
#include "format/sst_reader.h"
#include "format/sst_source.h"
#include "lsm/internal_iterator.h"
#include "lsm/materializer.h"
#include "lsm/memtable.h"
#include "lsm/sst_from_memtable.h"
#include "lsm/reader_access.h"
#include "manifest/manifest_codec.h"
#include "manifest/manifest_log.h"
#include "store/mem_store.h"
#include "util/base64.h"
#include "util/hash.h"
#include "util/random.h"
#include "util/signing.h"

namespace isle {
namespace {

using testing::EngineEnv;

// Inline on, materialization only when asked (close, a large flush, or a
// successor's start).
WriterOptions lazy_inline(const EngineEnv& env) {
  WriterOptions o = env.writer_options();
  o.inline_max_lag = std::chrono::hours(1);
  o.inline_max_pending_bytes = uint64_t{8} << 20;  // the most open() accepts, roughly
  return o;
}

uint64_t puts(const EngineEnv& env) { return env.metrics->snapshot().op(StoreOp::kPut).requests; }
uint64_t all_requests(const EngineEnv& env) { return env.metrics->snapshot().total().requests; }

bool wait_for(const std::function<bool()>& pred) {
  for (int i = 0; i < 2000; i++) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

TEST(EngineInline, ASmallFlushIsOnePutAndReadersServeItWithoutAGet) {
  EngineEnv env;
  auto w = env.writer(lazy_inline(env));
  ASSERT_TRUE(w);
  env.metrics->reset();
  ASSERT_TRUE(w->put("k1", "v1").ok());
  ASSERT_TRUE(w->put("k2", "v2").ok());
  ASSERT_TRUE(w->flush().ok());
  EXPECT_EQ(puts(env), 1u) << "the log entry is the data write and the commit";
  EXPECT_EQ(all_requests(env), 1u) << env.metrics->to_text();
  EXPECT_EQ(w->stats().inline_flushes, 1u);
  EXPECT_EQ(w->stats().flushes, 1u);

  auto r = env.reader();
  ASSERT_TRUE(r);
  const ManifestInfo info = r->manifest();
  EXPECT_TRUE(info.l0.empty());
  ASSERT_EQ(info.inline_ssts.size(), 1u);
  env.metrics->reset();
  EXPECT_EQ(*r->get("k1"), std::optional<std::string>("v1"));
  EXPECT_EQ(testing::keys_of(r->scan("", "")), (std::vector<std::string>{"k1", "k2"}));
  EXPECT_EQ(all_requests(env), 0u) << "inline SSTs are served from memory";
  ListOptions lo;
  lo.prefix = "sstable/";
  auto listing = env.scoped->list(lo);
  ASSERT_TRUE(listing.ok());
  EXPECT_TRUE(listing->objects.empty()) << "no SST object was written";

  // A clean close materializes it.
  ASSERT_TRUE(w->close().ok());
  EXPECT_EQ(w->stats().materializations, 1u);
  // The same flush with inline off: upload, then commit.
  WriterOptions off = lazy_inline(env);
  off.inline_flush_max_bytes = 0;
  w.reset();
  auto w2 = env.writer(off);
  ASSERT_TRUE(w2);
  env.metrics->reset();
  ASSERT_TRUE(w2->put("k3", "v3").ok());
  ASSERT_TRUE(w2->flush().ok());
  EXPECT_EQ(puts(env), 2u) << "the SST object, then the log entry";
  EXPECT_EQ(w2->stats().inline_flushes, 0u);
  EXPECT_EQ(w2->stats().materializations, 0u);
  ASSERT_TRUE(w2->close().ok());
  ASSERT_TRUE(r->refresh().ok());
  EXPECT_TRUE(r->manifest().inline_ssts.empty());
  EXPECT_EQ(r->manifest().l0.size(), 2u);
  EXPECT_EQ(testing::keys_of(r->scan("", "")), (std::vector<std::string>{"k1", "k2", "k3"}));
}

TEST(EngineInline, MaterializationWritesOneL0SstForSeveralFlushes) {
  EngineEnv env;
  auto w = env.writer(lazy_inline(env));
  ASSERT_TRUE(w);
  for (int i = 0; i < 5; i++) {
    ASSERT_TRUE(w->put("k" + std::to_string(i), "v").ok());
    ASSERT_TRUE(w->put("same", std::to_string(i)).ok());
    ASSERT_TRUE(w->flush().ok());
  }
  auto r = env.reader();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->manifest().inline_ssts.size(), 5u);
  ASSERT_TRUE(w->close().ok());  // a clean close materializes what is pending
  EXPECT_EQ(w->stats().inline_flushes, 5u);
  EXPECT_EQ(w->stats().materializations, 1u);
  ASSERT_TRUE(r->refresh().ok());
  const ManifestInfo info = r->manifest();
  EXPECT_TRUE(info.inline_ssts.empty());
  ASSERT_EQ(info.l0.size(), 1u);
  EXPECT_EQ(info.l0[0].entries, 10u) << "every version of every flush";
  EXPECT_EQ(info.l0[0].seq_hi - info.l0[0].seq_lo + 1, 10u);
  EXPECT_EQ(*r->get("same"), std::optional<std::string>("4"));
  EXPECT_EQ(r->scan("", "")->size(), 6u);
}

TEST(EngineInline, ALargeFlushMaterializesWhatIsPendingFirst) {
  EngineEnv env;
  auto w = env.writer(lazy_inline(env));
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->put("a", "small").ok());
  ASSERT_TRUE(w->flush().ok());
  ASSERT_TRUE(w->put("b", "small").ok());
  ASSERT_TRUE(w->flush().ok());
  Random rnd(3);
  ASSERT_TRUE(w->put("big", rnd.bytes(100 * 1024)).ok());  // incompressible: SST > 64 KiB
  ASSERT_TRUE(w->put("a", "newer").ok());
  ASSERT_TRUE(w->flush().ok());
  EXPECT_EQ(w->stats().inline_flushes, 2u);
  EXPECT_EQ(w->stats().materializations, 1u);
  auto r = env.reader();
  ASSERT_TRUE(r);
  const ManifestInfo info = r->manifest();
  EXPECT_TRUE(info.inline_ssts.empty());
  ASSERT_EQ(info.l0.size(), 2u);
  EXPECT_LT(info.l0[0].seq_hi, info.l0[1].seq_lo) << "the materialized SST is the older one";
  EXPECT_EQ(*r->get("a"), std::optional<std::string>("newer"));
  EXPECT_EQ(testing::keys_of(r->scan("", "")), (std::vector<std::string>{"a", "b", "big"}));
}

// Counts the applied materialize entries of the whole log.
int materialize_entries(const EngineEnv& env) {
  int n = 0;
  ManifestLogOptions lo;
  lo.on_entry = [&](const LogEntry& e, bool applied) {
    if (applied && e.op == LogOp::kMaterialize) n++;
  };
  ManifestLog log(object_store_manifest_storage(env.scoped), lo);
  EXPECT_TRUE(log.open().ok());
  return n;
}

TEST(EngineInline, ACrashBetweenInlineCommitAndMaterializationLosesNothing) {
  EngineEnv env;
  WriterOptions o = lazy_inline(env);
  o.snapshot_every = 0;  // the whole history stays in the log
  auto w = env.writer(o);
  ASSERT_TRUE(w);
  std::map<std::string, std::string> want;
  for (int i = 0; i < 3; i++) {
    for (int j = 0; j < 4; j++) {
      const std::string k = "k" + std::to_string(j), v = std::to_string(i * 10 + j);
      ASSERT_TRUE(w->put(k, v).ok());
      want[k] = v;
    }
    ASSERT_TRUE(w->flush().ok());
  }
  ASSERT_TRUE(w->put("lost", "never flushed").ok());
  w->simulate_crash();
  EXPECT_EQ(w->stats().materializations, 0u);
  auto r = env.reader();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->manifest().inline_ssts.size(), 3u);

  // The successor finds them and materializes them, once.
  auto w2 = env.writer(o);
  ASSERT_TRUE(w2);
  ASSERT_TRUE(wait_for([&] { return w2->stats().materializations == 1; }))
      << "the successor did not materialize its predecessor's inline SSTs";
  ASSERT_TRUE(w2->put("after", "x").ok());
  ASSERT_TRUE(w2->close().ok());
  want["after"] = "x";
  EXPECT_EQ(w2->stats().materializations, 2u) << "one for the predecessor's, one at close";
  EXPECT_EQ(materialize_entries(env), 2);
  ASSERT_TRUE(r->refresh().ok());
  EXPECT_TRUE(r->manifest().inline_ssts.empty());
  ASSERT_EQ(r->manifest().l0.size(), 2u);
  EXPECT_EQ(r->manifest().l0[0].entries, 12u);
  auto all = r->scan("", "");
  ASSERT_TRUE(all.ok());
  std::map<std::string, std::string> got;
  for (auto& kv : *all) got[kv.key] = kv.value;
  EXPECT_EQ(got, want);
}

// The log as it was before position `limit` (later entries read as not
// there yet): a reader opened on it sees the database at that moment.
class PrefixStorage : public ManifestStorage {
 public:
  explicit PrefixStorage(ManifestStoragePtr inner) : inner_(std::move(inner)) {}
  std::atomic<uint64_t> limit{1};
  Result<VersionedObject> read_current(std::string_view inm) override {
    return inner_->read_current(inm);
  }
  Result<std::string> write_current(std::string_view data, std::string_view etag) override {
    return inner_->write_current(data, etag);
  }
  Result<std::string> read_log(uint64_t pos) override {
    if (pos >= limit.load()) return Status::NotFound("not yet");
    return inner_->read_log(pos);
  }
  Status create_log(uint64_t pos, std::string_view data) override {
    return inner_->create_log(pos, data);
  }
  Result<std::string> read_snapshot(uint64_t pos) override { return inner_->read_snapshot(pos); }
  Status create_snapshot(uint64_t pos, std::string_view data) override {
    return inner_->create_snapshot(pos, data);
  }
  std::string describe() const override { return "prefix of " + inner_->describe(); }

 private:
  ManifestStoragePtr inner_;
};

// How many times each data sequence appears across every SST the state
// lists: inline ones from their bytes, objects from the bucket.
std::map<uint64_t, int> versions(const ManifestState& st, const ObjectStorePtr& bucket) {
  std::map<uint64_t, int> out;
  std::vector<SstMeta> all = st.l0;
  all.insert(all.end(), st.inline_ssts.begin(), st.inline_ssts.end());
  for (const auto& r : st.runs) all.insert(all.end(), r.ssts.begin(), r.ssts.end());
  for (const SstMeta& m : all) {
    std::shared_ptr<const std::string> bytes = m.inline_data.bytes;
    if (!m.is_inline()) {
      auto g = bucket->get(sst_key(m.id));
      EXPECT_TRUE(g.ok()) << m.id << ": " << g.status().to_string();
      if (!g.ok()) continue;
      bytes = std::make_shared<const std::string>(std::move(g->data));
    }
    auto reader = SstReader::open(std::make_shared<MemorySource>(bytes), SstReaderOptions{});
    EXPECT_TRUE(reader.ok()) << reader.status().to_string();
    if (!reader.ok()) continue;
    auto it = new_sst_iterator(std::shared_ptr<const SstReader>(std::move(*reader)));
    for (it->seek_to_first(); it->valid(); it->next()) {
      ParsedInternalKey k;
      EXPECT_TRUE(parse_internal_key(it->key(), &k));
      out[k.sequence]++;
    }
    EXPECT_TRUE(it->status().ok()) << it->status().to_string();
  }
  return out;
}

TEST(EngineInline, AReaderOpeningMidMaterializationSeesEachWriteExactlyOnce) {
  EngineEnv env;
  WriterOptions o = env.writer_options();
  o.snapshot_every = 0;
  o.inline_max_pending_bytes = 1;  // materialize whenever the flusher is idle
  o.inline_max_lag = std::chrono::hours(1);
  auto w = env.writer(o);
  ASSERT_TRUE(w);
  std::map<uint64_t, std::pair<std::string, std::string>> writes;  // seq -> key, value
  Random rnd(11);
  for (int f = 0; f < 24; f++) {
    const int n = 1 + static_cast<int>(rnd.uniform(4));
    for (int i = 0; i < n; i++) {
      const std::string k = "k" + std::to_string(rnd.uniform(6));
      const std::string v = "v" + std::to_string(f) + "." + std::to_string(i);
      auto seq = w->put(k, v);
      ASSERT_TRUE(seq.ok());
      writes[*seq] = {k, v};
    }
    ASSERT_TRUE(w->flush().ok());
    if (rnd.chance(0.5)) std::this_thread::sleep_for(std::chrono::milliseconds(rnd.uniform(3)));
  }
  ASSERT_TRUE(w->close().ok());
  const WriterStats ws = w->stats();
  EXPECT_EQ(ws.inline_flushes, 24u);
  ASSERT_GE(ws.materializations, 2u);

  auto prefix = std::make_shared<PrefixStorage>(object_store_manifest_storage(env.scoped));
  ReaderOptions ro = env.reader_options();
  ro.manifest_storage = prefix;
  auto full = env.reader();
  ASSERT_TRUE(full);
  const uint64_t end = full->manifest().log_position;
  int mixed = 0;  // positions where inline and materialized data coexist
  auto check = [&](Reader& r, const std::string& where) {
    auto st = ReaderAccess::state(r);
    std::map<uint64_t, int> want;
    std::map<std::string, std::string> want_kv;
    for (const auto& [seq, kv] : writes) {
      if (seq > st->data_seq) break;
      want[seq] = 1;
      want_kv[kv.first] = kv.second;
    }
    EXPECT_EQ(versions(*st, env.scoped), want) << where << ": each write exactly once";
    auto all = r.scan("", "");
    ASSERT_TRUE(all.ok()) << where << ": " << all.status().to_string();
    std::map<std::string, std::string> got;
    for (auto& kv : *all) got[kv.key] = kv.value;
    EXPECT_EQ(got, want_kv) << where;
    if (!st->inline_ssts.empty() && !st->l0.empty()) mixed++;
  };
  for (uint64_t p = 1; p <= end; p++) {
    prefix->limit = p;
    auto opened = Reader::open(env.store, ro);
    ASSERT_TRUE(opened.ok()) << opened.status().to_string();
    ASSERT_NO_FATAL_FAILURE(check(**opened, "opened at " + std::to_string(p)));
    // The same reader then applies the next entry (perhaps a materialize).
    prefix->limit = p + 1;
    ASSERT_TRUE((*opened)->refresh().ok());
    ASSERT_NO_FATAL_FAILURE(check(**opened, "refreshed to " + std::to_string(p + 1)));
  }
  EXPECT_GT(mixed, 0) << "no interleaving had inline and materialized data side by side";
}

// An inline flush whose commit landed but could not be confirmed (lost
// response, read-back failing), then materialized before the flush is
// retried: the writer must learn from the log that the flush committed and
// never create it a second time.
TEST(EngineInline, AnUnconfirmedInlineCommitThatGetsMaterializedIsNotCommittedTwice) {
  EngineEnv env;
  WriterOptions o = env.writer_options();
  o.snapshot_every = 0;
  o.inline_max_pending_bytes = uint64_t{8} << 20;  // the most open() accepts, roughly
  o.inline_max_lag = std::chrono::milliseconds(40);  // past 2x, a flush materializes first
  // The single-flush retry order is the scenario (with several in flight
  // the pipeline's catch-up finds B before any materialization, and the
  // chain rule keeps any copy of B from counting twice).
  o.max_flushes_in_flight = 1;
  auto w = env.writer(o);  // claim at log/1
  ASSERT_TRUE(w);
  std::map<uint64_t, int> want;
  auto put = [&](const std::string& k) {
    auto seq = w->put(k, "v");
    ASSERT_TRUE(seq.ok());
    want[*seq] = 1;
  };
  put("a");
  ASSERT_TRUE(w->flush().ok());  // inline A at log/2
  // B's create of log/3 lands but its response is lost, and the first
  // read of log/3 (resolving the outcome) is slow and then fails: the
  // flush fails and is retried, by when A is over 2x the lag old, so the
  // retry materializes first, and that catches up on log/3 (B).
  const std::string third = "db/" + log_key(3);
  env.fault->add_rule(FaultRule::on(StoreOp::kPut).key_prefix(third).times(1).lose_response());
  env.fault->add_rule(FaultRule::on(StoreOp::kGet)
                          .key_prefix(third)
                          .when([](const FaultContext&) {
                            std::this_thread::sleep_for(std::chrono::milliseconds(200));
                            return true;
                          })
                          .times(1)
                          .fail(Status::Permanent("injected")));
  put("b");
  ASSERT_TRUE(w->flush().ok());
  ASSERT_TRUE(w->close().ok());
  EXPECT_GE(w->stats().flush_errors, 1u) << "the scenario did not happen";
  EXPECT_EQ(w->stats().materializations, 2u) << "A, then B (found committed by the catch-up)";
  auto r = env.reader();
  ASSERT_TRUE(r);
  auto st = ReaderAccess::state(*r);
  EXPECT_TRUE(st->inline_ssts.empty());
  EXPECT_EQ(versions(*st, env.scoped), want) << "each write exactly once";
  EXPECT_EQ(st->entries_skipped, 0u);
}

TEST(EngineInline, SignedInlineSstsVerifyAndTamperedOrForeignOnesAreRefused) {
  auto key = Ed25519Signer::generate();
  auto other = Ed25519Signer::generate();
  ASSERT_TRUE(key.ok() && other.ok());
  EngineEnv env;
  WriterOptions o = lazy_inline(env);
  o.signing_key_pem = key->private_key_pem();
  o.snapshot_every = 0;
  auto w = env.writer(o);
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->put("k", "v").ok());
  ASSERT_TRUE(w->flush().ok());

  ReaderOptions ro = env.reader_options();
  ro.verify_public_key_pem = key->public_key_pem();
  auto good = env.reader(ro);
  ASSERT_TRUE(good);
  ASSERT_EQ(good->manifest().inline_ssts.size(), 1u);
  auto gv = good->get("k");
  ASSERT_TRUE(gv.ok()) << gv.status().to_string();
  EXPECT_EQ(*gv, std::optional<std::string>("v"));

  ro.verify_public_key_pem = other->public_key_pem();
  auto foreign = env.reader(ro);
  ASSERT_TRUE(foreign);
  auto g = foreign->get("k");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), Code::kCorruption);
  EXPECT_NE(g.status().message().find("not among the verify keys"), std::string::npos)
      << g.status().to_string();

  // Tampered: other bytes with a matching sha256 and size (so the codec's
  // check passes) are refused by the signature.
  const uint64_t pos = good->manifest().log_position - 1;
  auto obj = env.scoped->get(log_key(pos));
  ASSERT_TRUE(obj.ok());
  auto e = decode_entry(obj->data, "x");
  ASSERT_TRUE(e.ok());
  ASSERT_TRUE(e->added[0].is_inline());
  std::string bytes = *e->added[0].inline_data.bytes;
  bytes.back() ^= 1;  // a footer byte: the SST is damaged, the digest fresh
  e->added[0].inline_data.bytes = std::make_shared<const std::string>(bytes);
  e->added[0].sha256 = sha256_hex(bytes);
  ASSERT_TRUE(env.scoped->put(log_key(pos), encode_entry(*e), PutOptions::overwrite()).ok());
  ro.verify_public_key_pem = key->public_key_pem();
  auto tampered = env.reader(ro);
  ASSERT_TRUE(tampered);
  auto t = tampered->get("k");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), Code::kCorruption);
  EXPECT_NE(t.status().message().find("invalid signature"), std::string::npos)
      << t.status().to_string();

  // Other bytes WITHOUT a fresh digest: the entry itself is refused, naming it.
  std::string raw = obj->data;
  const std::string b64 = base64_encode(*decode_entry(obj->data, "x")->added[0].inline_data.bytes);
  std::string changed = *decode_entry(obj->data, "x")->added[0].inline_data.bytes;
  changed[0] ^= 1;
  raw.replace(raw.find(b64), b64.size(), base64_encode(changed));
  ASSERT_TRUE(env.scoped->put(log_key(pos), raw, PutOptions::overwrite()).ok());
  auto refused = Reader::open(env.store, ro);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kCorruption);
  EXPECT_NE(refused.status().message().find(log_key(pos)), std::string::npos)
      << refused.status().to_string();

  // An unsigned inline SST is refused when keys are set, like an unsigned SST.
  EngineEnv env2;
  auto w2 = env2.writer(lazy_inline(env2));
  ASSERT_TRUE(w2);
  ASSERT_TRUE(w2->put("k", "v").ok());
  ASSERT_TRUE(w2->flush().ok());
  ReaderOptions ro2 = env2.reader_options();
  ro2.verify_public_key_pem = key->public_key_pem();
  auto r2 = env2.reader(ro2);
  ASSERT_TRUE(r2);
  auto u = r2->get("k");
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.status().message().find("no signature"), std::string::npos) << u.status().to_string();
}

TEST(EngineInline, AStateOverMaxInlineBytesIsAnErrorAndTheViewIsKept) {
  EngineEnv env;
  ReaderOptions ro = env.reader_options();
  ro.max_inline_bytes = 100;
  WriterOptions wo = lazy_inline(env);
  // The reader stops before the entry over its limit (it never holds those
  // bytes); a snapshot past the materialization lets it move on.
  wo.snapshot_every = 1;
  auto w = env.writer(wo);
  ASSERT_TRUE(w);
  auto r = env.reader(ro);  // the writer's claim, no data
  ASSERT_TRUE(r);
  ASSERT_TRUE(w->put("k", std::string(50, 'x')).ok());
  ASSERT_TRUE(w->flush().ok());
  const uint64_t before = r->manifest().log_position;
  Status s = r->refresh();
  EXPECT_EQ(s.code(), Code::kBackpressure) << s.to_string();
  EXPECT_NE(s.message().find("max_inline_bytes"), std::string::npos) << s.to_string();
  EXPECT_GE(r->manifest().log_position, before);
  EXPECT_TRUE(r->manifest().inline_ssts.empty()) << "the view stops before the inline entry";
  EXPECT_EQ(*r->get("k"), std::nullopt);
  EXPECT_EQ(r->stats().refresh_errors, 1u);
  EXPECT_NE(r->stats().last_refresh_error.find("max_inline_bytes"), std::string::npos)
      << "a refused refresh is visible in the stats (readerd's /v1/status)";
  auto opened = Reader::open(env.store, ro);
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.status().message().find("max_inline_bytes"), std::string::npos);
  // Once the writer materializes (and snapshots), the same reader moves on.
  ASSERT_TRUE(w->close().ok());
  Status moved = r->refresh();
  ASSERT_TRUE(moved.ok()) << moved.to_string();
  EXPECT_TRUE(r->stats().last_refresh_error.empty());
  EXPECT_EQ(*r->get("k"), std::optional<std::string>(std::string(50, 'x')));
}

}  // namespace
}  // namespace isle

namespace isle {
namespace {

// A Materializer over a ManifestLog on a MemStore, for the tests below:
// commits inline SSTs the way the writer's flusher does.
struct MaterializerRig {
  std::shared_ptr<MemStore> mem = std::make_shared<MemStore>();
  WriterOptions wo;
  std::unique_ptr<ManifestLog> log;
  std::unique_ptr<Materializer> mat;
  uint64_t seq = 0;
  std::chrono::milliseconds grace{600'000};

  Status open() {
    ManifestLogOptions lo;
    lo.retry_backoff = std::chrono::milliseconds(0);
    lo.on_entry = [this](const LogEntry& e, bool applied) {
      if (applied && mat) mat->on_applied(e);
    };
    log = std::make_unique<ManifestLog>(object_store_manifest_storage(mem), lo);
    ISLE_RETURN_IF_ERROR(log->open());
    ISLE_RETURN_IF_ERROR(log->claim(Role::kWriter, "w", 1000));
    Materializer::Params mp;
    mp.store = mem;
    mp.options = &wo;
    mp.gc_grace = grace;
    mat = std::make_unique<Materializer>(std::move(mp));
    return Status::OK();
  }
  Status add_inline(const std::string& key) {
    Memtable t;
    ISLE_RETURN_IF_ERROR(t.add(++seq, ValueKind::kPut, key, "v"));
    SstFromMemtableParams sp;
    sp.id = random_token();
    ISLE_ASSIGN_OR_RETURN(BuiltSst b, build_sst_from_memtable(t, sp));
    make_inline(&b, nullptr);
    LogEntry e;
    e.op = LogOp::kAddSstable;
    e.last_seq = seq;
    e.added = {b.meta};
    return log->append(std::move(e)).status();
  }
  // Steps until the helper's build is collected and committed.
  Status commit_helper() {
    while (!mat->has_work(log->state(), Materializer::SteadyClock::now())) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return mat->step(*log);
  }
};

// Inline SSTs committed while the helper was building are already that old
// when its materialization commits: their lag counts from their own
// commits, not from the materialization's.
TEST(EngineInlineMaterializer, TheLagCountsFromEachInlineSstsOwnCommit) {
  MaterializerRig r;
  r.wo.inline_max_lag = std::chrono::seconds(10);
  r.wo.inline_max_pending_bytes = uint64_t{1} << 30;
  ASSERT_TRUE(r.open().ok());
  ASSERT_TRUE(r.add_inline("a").ok());
  r.mat->pending_since(Materializer::SteadyClock::now());
  ASSERT_TRUE(r.mat->step(*r.log).ok());  // starts the helper on [a]
  ASSERT_TRUE(r.add_inline("b").ok());
  const auto b_committed = Materializer::SteadyClock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(r.commit_helper().ok());
  ASSERT_EQ(r.log->state().inline_ssts.size(), 1u) << "b is still pending";
  const auto far = Materializer::SteadyClock::now() + std::chrono::hours(1);
  EXPECT_LE(r.mat->wake_at(r.log->state(), far), b_committed + r.wo.inline_max_lag)
      << "b's lag runs from its commit, before the materialization of a";
  EXPECT_TRUE(r.mat->has_work(r.log->state(), b_committed + r.wo.inline_max_lag));
}

// An uploaded materialized SST whose commit waited past a quarter of the GC
// grace is written again (same bytes, same id, a fresh timestamp) before it
// is committed: GC's orphan sweep judges an uncommitted SST object by its
// age, so an old upload could be deleted just before the entry naming it
// commits.
TEST(EngineInlineMaterializer, AnUploadOlderThanAQuarterGraceIsRefreshedBeforeItsCommit) {
  MaterializerRig r;
  r.grace = std::chrono::milliseconds(400);
  r.wo.inline_max_lag = std::chrono::seconds(10);
  r.wo.inline_max_pending_bytes = uint64_t{1} << 30;
  ASSERT_TRUE(r.open().ok());
  ASSERT_TRUE(r.add_inline("a").ok());
  r.mat->pending_since(Materializer::SteadyClock::now());
  ASSERT_TRUE(r.mat->step(*r.log).ok());  // starts the helper on [a]
  while (!r.mat->has_work(r.log->state(), Materializer::SteadyClock::now())) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(150));  // > grace / 4
  const int64_t before_commit = Clock::system()->now_ms();
  ASSERT_TRUE(r.mat->step(*r.log).ok());  // collects and commits
  ASSERT_TRUE(r.log->state().inline_ssts.empty());
  ASSERT_EQ(r.log->state().l0.size(), 1u);
  auto meta = r.mem->head(sst_key(r.log->state().l0[0].id));
  ASSERT_TRUE(meta.ok()) << meta.status().to_string();
  EXPECT_GE(meta->modified_ms, before_commit)
      << "the materialized SST was committed with its old upload timestamp";
}

// The same for a flush's SST object: a commit that keeps failing past a
// quarter of the GC grace puts the object again before the next attempt.
TEST(EngineInlineMaterializer, AFlushSstWaitingPastAQuarterGraceIsRefreshedBeforeItsCommit) {
  EngineEnv env;
  env.db_options.lease = std::chrono::milliseconds(100);
  env.db_options.gc_grace = std::chrono::milliseconds(400);
  WriterOptions o = env.writer_options();
  o.inline_flush_max_bytes = 0;  // an SST object
  auto w = env.writer(o);
  ASSERT_TRUE(w);
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(250);
  env.fault->add_rule(FaultRule::on(StoreOp::kPut)
                          .key_prefix("db/manifest/log/")
                          .when([until](const FaultContext&) {
                            return std::chrono::steady_clock::now() < until;
                          })
                          .fail(Status::IOError("log unavailable")));
  const int64_t before = Clock::system()->now_ms();
  ASSERT_TRUE(w->put("k", "v").ok());
  Status s = w->flush();
  for (int i = 0; i < 200 && !s.ok(); i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    s = w->flush();
  }
  ASSERT_TRUE(s.ok()) << s.to_string();
  auto r = env.reader();
  ASSERT_TRUE(r);
  const ManifestInfo info = r->manifest();
  ASSERT_EQ(info.l0.size(), 1u);
  auto meta = env.scoped->head(sst_key(info.l0[0].id));
  ASSERT_TRUE(meta.ok()) << meta.status().to_string();
  EXPECT_GE(meta->modified_ms, before + 100)
      << "the flush SST was committed with its first upload's timestamp";
}

// A writer config that could leave more inline bytes pending than the
// documented cap (below the readers' default max_inline_bytes) is refused
// at open, so it cannot make default readers refuse the log.
TEST(EngineInlineMaterializer, AWriterThatCouldOutgrowDefaultReadersIsRefusedAtOpen) {
  EngineEnv env;
  WriterOptions o = env.writer_options();
  o.inline_max_pending_bytes = uint64_t{40} << 20;
  auto w = env.db().open_writer(o);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), Code::kInvalidArgument);
  EXPECT_NE(w.status().message().find("inline_max_pending_bytes"), std::string::npos)
      << w.status().to_string();
  o.inline_max_pending_bytes = uint64_t{8} << 20;
  o.inline_flush_max_bytes = uint64_t{16} << 20;
  o.max_flushes_in_flight = 4;  // a window of 4: 2 x 8 + 4 x 16 = 80 MiB
  EXPECT_FALSE(env.db().open_writer(o).ok());
  o.inline_flush_max_bytes = 0;  // no inline flushes: nothing pending
  o.inline_max_pending_bytes = uint64_t{40} << 20;
  EXPECT_TRUE(env.db().open_writer(o).ok());
  EXPECT_TRUE(env.db().open_writer(env.writer_options()).ok())
      << "the defaults fit";
}

}  // namespace
}  // namespace isle
