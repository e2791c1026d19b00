// The compactor's integrity and metadata duties (issue 14): inputs are
// verified (sha256 and size always, signatures with verify keys) before a
// compaction commits; outputs are signed with the compactor's own key and
// verify under a reader's key ring; LSN ranges survive merges (exact with
// an extractor, the inputs' union without) and retention; refresh() re-reads
// the manifest without doing work.
#include <gtest/gtest.h>

#include "format/sink.h"
#include "format/sst_builder.h"
#include "format/sst_reader.h"
#include "format/sst_source.h"
#include "isle/compactor.h"
#include "isle/retention.h"
#include "lsm/engine_test_util.h"
#include "maint/maint_test_util.h"
#include "lsm/internal_iterator.h"
#include "lsm/reader_access.h"
#include "manifest/manifest_types.h"
#include "util/hash.h"
#include "util/signing.h"

namespace isle {
namespace {

using namespace std::chrono_literals;
using testing::EngineEnv;

CompactorOptions options() {
  CompactorOptions o;
  o.l0_threshold = 2;
  o.min_sources = 2;
  o.retry_backoff = 1ms;
  o.owner = "compactor-signing-test";
  return o;
}

Ed25519Signer new_key() {
  auto k = Ed25519Signer::generate();
  EXPECT_TRUE(k.ok());
  return *k;
}

// Two flushes over the same 20 keys (so they overlap: a real merge, no
// moves); the second flush's values win.
void write_two_overlapping_flushes(Writer& w) {
  for (int f = 0; f < 2; f++) {
    for (int i = 0; i < 20; i++) {
      ASSERT_TRUE(w.put("k" + std::to_string(100 + i), "value" + std::to_string(f)).ok());
    }
    ASSERT_TRUE(w.flush().ok());
  }
}

void expect_reads_everything(Reader& r) {
  for (int i = 0; i < 20; i++) {
    auto v = r.get("k" + std::to_string(100 + i));
    ASSERT_TRUE(v.ok()) << v.status().to_string();
    ASSERT_TRUE(v->has_value());
    EXPECT_EQ(**v, "value1");
  }
}

// Rebuilds the SST `id` with the same layout and one value's first byte
// changed: a VALID SST (every block checksum right) of the same size whose
// sha256 differs from the manifest's. Returns its bytes.
// `last`: change the last value instead of the first.
std::string forge_same_size(EngineEnv& env, const std::string& id, size_t block_size,
                            bool last = false) {
  auto got = env.scoped->get(sst_key(id));
  EXPECT_TRUE(got.ok());
  auto reader = SstReader::open(std::make_shared<MemorySource>(got->data), SstReaderOptions{});
  EXPECT_TRUE(reader.ok()) << reader.status().to_string();
  const SstProperties props = (*reader)->properties();
  SstBuilderOptions bo;
  bo.block_size = block_size;
  bo.compression = CompressionType::kNone;
  if (props.has_write_time) {
    bo.min_write_time_ms = props.min_write_time_ms;
    bo.max_write_time_ms = props.max_write_time_ms;
  }
  bo.creation_time_ms = props.creation_time_ms;
  StringSink sink;
  SstBuilder b(bo, &sink);
  auto it = new_sst_iterator(std::shared_ptr<const SstReader>(std::move(*reader)));
  bool changed = false;
  uint64_t n = 0;
  for (it->seek_to_first(); it->valid(); it->next(), n++) {
    std::string v(it->value());
    if (!changed && !v.empty() && (!last || n + 1 == props.num_entries)) {
      v.back() = v.back() == 'Z' ? 'Y' : 'Z';
      changed = true;
    }
    EXPECT_TRUE(b.add(it->key(), v).ok());
  }
  EXPECT_TRUE(changed);
  EXPECT_TRUE(b.finish().ok());
  std::string forged = sink.release();
  EXPECT_EQ(forged.size(), got->data.size()) << "the forgery keeps the size";
  EXPECT_NE(sha256_hex(forged), sha256_hex(got->data));
  return forged;
}

TEST(CompactorSigning, WriterKeyACompactorKeyBReadersNeedBoth) {
  EngineEnv env;
  const Ed25519Signer a = new_key(), b = new_key();
  WriterOptions wo = object_writer_options(env);
  wo.signing_key_pem = a.private_key_pem();
  auto w = env.writer(wo);
  write_two_overlapping_flushes(*w);

  // A reader with the single key A reads the writer's SSTs.
  ReaderOptions only_a = env.reader_options();
  only_a.verify_public_key_pem = a.public_key_pem();
  expect_reads_everything(*env.reader(only_a));

  CompactorOptions co = options();
  co.signing_key_pem = b.private_key_pem();
  co.verify_public_key_pem = a.public_key_pem();
  auto c = Compactor::open(env.store, env.db_options, co);
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  auto info = (*c)->run_compaction();
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  ASSERT_EQ(info->inputs.size(), 2u);
  ASSERT_TRUE(info->moved.empty()) << "a real merge";

  ReaderOptions ring = env.reader_options();
  ring.verify_public_key_pem = a.public_key_pem() + b.public_key_pem();
  auto r = env.reader(ring);
  ASSERT_EQ(r->manifest().runs.size(), 1u);
  ASSERT_TRUE(r->manifest().l0.empty());
  expect_reads_everything(*r);
  auto all = r->scan("", "");
  ASSERT_TRUE(all.ok()) << all.status().to_string();
  EXPECT_EQ(all->size(), 20u);

  // Only {A}: the compacted SST is signed by B, named in the error.
  auto ra = env.reader(only_a);
  auto v = ra->get("k105");
  ASSERT_EQ(v.status().code(), Code::kCorruption) << v.status().to_string();
  EXPECT_NE(v.status().message().find("signed by key " + b.key_id()), std::string::npos)
      << v.status().message();

  // The compactor re-merges its own outputs (verified by its own key).
  for (int i = 0; i < 20; i++) ASSERT_TRUE(w->put("k" + std::to_string(100 + i), "value1").ok());
  ASSERT_TRUE(w->flush().ok());
  ASSERT_TRUE(w->put("k100", "value1").ok());
  ASSERT_TRUE(w->flush().ok());
  auto again = (*c)->run_compaction();  // L0 -> a second run
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  CompactorOptions merge_runs = co;
  merge_runs.l0_threshold = 100;
  merge_runs.size_ratio = 1000;
  c->reset();
  auto c2 = Compactor::open(env.store, env.db_options, merge_runs);
  ASSERT_TRUE(c2.ok()) << c2.status().to_string();
  auto runs = (*c2)->run_compaction();
  ASSERT_TRUE(runs.ok()) << runs.status().to_string();
  EXPECT_FALSE(runs->inputs.empty());
  auto r2 = env.reader(ring);
  ASSERT_TRUE(r2->manifest().l0.empty());
  EXPECT_EQ(r2->manifest().runs.size(), 1u);
  expect_reads_everything(*r2);
}

TEST(CompactorSigning, InputsSignedByAnUnknownKeyOrUnsignedAreRefused) {
  EngineEnv env;
  const Ed25519Signer a = new_key(), b = new_key(), other = new_key();
  WriterOptions wo = object_writer_options(env);
  wo.signing_key_pem = a.private_key_pem();
  auto w = env.writer(wo);
  write_two_overlapping_flushes(*w);
  CompactorOptions co = options();
  co.signing_key_pem = b.private_key_pem();
  co.verify_public_key_pem = other.public_key_pem();  // not A
  auto c = Compactor::open(env.store, env.db_options, co);
  ASSERT_TRUE(c.ok());
  auto info = (*c)->run_compaction();
  ASSERT_EQ(info.status().code(), Code::kCorruption) << info.status().to_string();
  EXPECT_NE(info.status().message().find(a.key_id()), std::string::npos)
      << info.status().message();
  EXPECT_EQ(env.reader()->manifest().l0.size(), 2u) << "nothing committed";

  // Moved (not rewritten) inputs are checked too: disjoint SSTs of another
  // database, unsigned.
  EngineEnv env2;
  auto w2 = object_writer(env2);
  ASSERT_TRUE(w2->put("a", "1").ok());
  ASSERT_TRUE(w2->flush().ok());
  ASSERT_TRUE(w2->put("b", "1").ok());
  ASSERT_TRUE(w2->flush().ok());
  CompactorOptions verify_only = options();
  verify_only.verify_public_key_pem = a.public_key_pem();
  auto c2 = Compactor::open(env2.store, env2.db_options, verify_only);
  ASSERT_TRUE(c2.ok());
  auto moved = (*c2)->run_compaction();
  ASSERT_EQ(moved.status().code(), Code::kCorruption) << moved.status().to_string();
  EXPECT_NE(moved.status().message().find("no signature"), std::string::npos);
  EXPECT_EQ(env2.reader()->manifest().l0.size(), 2u) << "nothing committed";
}

TEST(CompactorSigning, TamperedInputsFailTheCompactionAndCommitNothing) {
  for (const bool forge : {false, true}) {
    for (const uint64_t read_ahead : {uint64_t{0}, uint64_t{4096}, uint64_t{4} << 20}) {
      SCOPED_TRACE(std::string(forge ? "forged" : "flipped") + " read_ahead " +
                   std::to_string(read_ahead));
      EngineEnv env;
      WriterOptions wo = object_writer_options(env);
      wo.compression = Compression::kNone;
      wo.block_size = 512;  // several blocks, several read-ahead chunks
      auto w = env.writer(wo);
      for (int f = 0; f < 2; f++) {
        for (int i = 0; i < 400; i++) {
          ASSERT_TRUE(w->put("k" + std::to_string(1000 + i), "value-" + std::to_string(f)).ok());
        }
        ASSERT_TRUE(w->flush().ok());
      }
      const std::string victim = env.reader()->manifest().l0.front().id;
      auto original = env.scoped->get(sst_key(victim));
      ASSERT_TRUE(original.ok());
      std::string bad;
      if (forge) {
        // A valid SST of the same size: only the digest can tell.
        bad = forge_same_size(env, victim, wo.block_size);
      } else {
        bad = original->data;
        bad[bad.size() / 2] ^= 0x20;
      }
      ASSERT_TRUE(env.scoped->put(sst_key(victim), bad).ok());
      CompactorOptions co = options();
      co.read_ahead_bytes = read_ahead;
      auto c = Compactor::open(env.store, env.db_options, co);
      ASSERT_TRUE(c.ok());
      const uint64_t pos = env.reader()->manifest().log_position;
      auto info = (*c)->run_compaction();
      ASSERT_EQ(info.status().code(), Code::kCorruption) << info.status().to_string();
      if (forge) {
        EXPECT_NE(info.status().message().find("sst " + victim +
                                               ": sha256 or size does not match the manifest"),
                  std::string::npos)
            << info.status().message();
      }
      auto r = env.reader();
      EXPECT_EQ(r->manifest().log_position, pos) << "nothing committed";
      EXPECT_EQ(r->manifest().l0.size(), 2u);
      // With the original bytes back, the same compaction goes through.
      ASSERT_TRUE(env.scoped->put(sst_key(victim), original->data).ok());
      auto ok = (*c)->run_compaction();
      ASSERT_TRUE(ok.ok()) << ok.status().to_string();
      EXPECT_EQ(ok->inputs.size(), 2u);
    }
  }
}

// A store that answers the tail GET (a suffix range) of one object with
// the same range of other bytes, and every other GET honestly: an object
// swapped between requests, a lying endpoint or a man in the middle.
class ForgedTailStore : public ObjectStore {
 public:
  ForgedTailStore(ObjectStorePtr inner, std::string key_suffix, std::string forged)
      : inner_(std::move(inner)), suffix_(std::move(key_suffix)), forged_(std::move(forged)) {}
  Result<GetResult> get(std::string_view key, const GetOptions& o = {}) override {
    auto r = inner_->get(key, o);
    const bool ours = key.size() >= suffix_.size() &&
                      key.substr(key.size() - suffix_.size()) == suffix_;
    if (r.ok() && ours && o.range && o.range->suffix &&
        r->offset + r->data.size() <= forged_.size()) {
      r->data = forged_.substr(r->offset, r->data.size());
      forged_tails_++;
    }
    return r;
  }
  Result<ObjectMeta> head(std::string_view key) override { return inner_->head(key); }
  Result<ObjectMeta> put(std::string_view key, std::string_view data,
                         const PutOptions& o = {}) override {
    return inner_->put(key, data, o);
  }
  Status remove(std::string_view key) override { return inner_->remove(key); }
  Result<ListPage> list(const ListOptions& o) override { return inner_->list(o); }
  std::string url() const override { return inner_->url(); }
  int forged_tails() const { return forged_tails_; }

 private:
  ObjectStorePtr inner_;
  std::string suffix_, forged_;
  std::atomic<int> forged_tails_{0};
};

// Bytes the merge was served must be the bytes that hashed to the manifest
// entry, not a second copy fetched to complete the digest.
TEST(CompactorSigning, BytesServedByTheTailReadAreCheckedToo) {
  for (const uint64_t read_ahead : {uint64_t{0}, uint64_t{4096}, uint64_t{4} << 20}) {
    SCOPED_TRACE("read_ahead " + std::to_string(read_ahead));
    EngineEnv env;
    WriterOptions wo = object_writer_options(env);
    wo.compression = Compression::kNone;
    wo.block_size = 4096;
    auto w = env.writer(wo);
    for (int f = 0; f < 2; f++) {
      for (int i = 0; i < 2000; i++) {
        ASSERT_TRUE(w->put("k" + std::to_string(10000 + i),
                           "value-" + std::to_string(f) + std::string(40, 'v'))
                        .ok());
      }
      ASSERT_TRUE(w->flush().ok());
    }
    const TableInfo victim = env.reader()->manifest().l0.front();
    ASSERT_GT(victim.size, uint64_t{64} << 10) << "larger than one tail read";
    // Differs from the genuine object in the last data block only, which
    // the 64 KiB tail read covers (the meta blocks are the same).
    const std::string forged = forge_same_size(env, victim.id, wo.block_size, /*last=*/true);
    auto genuine = env.scoped->get(sst_key(victim.id));
    ASSERT_TRUE(genuine.ok());
    const size_t tail_from = forged.size() - (64u << 10);
    ASSERT_NE(forged.substr(tail_from), genuine->data.substr(tail_from));

    auto lying = std::make_shared<ForgedTailStore>(env.store, sst_key(victim.id), forged);
    CompactorOptions co = options();
    co.read_ahead_bytes = read_ahead;
    auto c = Compactor::open(lying, env.db_options, co);
    ASSERT_TRUE(c.ok()) << c.status().to_string();
    const uint64_t pos = env.reader()->manifest().log_position;
    auto info = (*c)->run_compaction();
    EXPECT_GT(lying->forged_tails(), 0);
    ASSERT_EQ(info.status().code(), Code::kCorruption)
        << (info.ok() ? "the compaction committed" : info.status().to_string());
    EXPECT_NE(info.status().message().find("sst " + victim.id), std::string::npos)
        << info.status().message();
    auto r = env.reader();
    EXPECT_EQ(r->manifest().log_position, pos) << "nothing committed";
    EXPECT_EQ(r->manifest().l0.size(), 2u);
  }
}

// Merging signed inputs into unsigned outputs would leave every verifying
// reader with "no signature": a compactor without a signing key refuses.
TEST(CompactorSigning, SignedInputsNeedASigningCompactor) {
  for (const bool verify : {false, true}) {
    SCOPED_TRACE(verify ? "verify keys, no signing key" : "no keys");
    EngineEnv env;
    const Ed25519Signer a = new_key();
    WriterOptions wo = object_writer_options(env);
    wo.signing_key_pem = a.private_key_pem();
    auto w = env.writer(wo);
    write_two_overlapping_flushes(*w);
    CompactorOptions co = options();
    if (verify) co.verify_public_key_pem = a.public_key_pem();
    auto c = Compactor::open(env.store, env.db_options, co);
    ASSERT_TRUE(c.ok()) << c.status().to_string();
    const uint64_t pos = env.reader()->manifest().log_position;
    auto info = (*c)->run_compaction();
    ASSERT_EQ(info.status().code(), Code::kInvalidArgument)
        << (info.ok() ? "the compaction committed" : info.status().to_string());
    EXPECT_NE(info.status().message().find("signing_key_pem"), std::string::npos)
        << info.status().message();
    EXPECT_NE(info.status().message().find("compactor.signing_key_file"), std::string::npos)
        << info.status().message();
    auto r = env.reader();
    EXPECT_EQ(r->manifest().log_position, pos) << "nothing committed";
    EXPECT_EQ(r->manifest().l0.size(), 2u);
  }
}

TEST(CompactorSigning, AnInputLongerThanItsManifestEntryIsRefused) {
  EngineEnv env;
  auto w = object_writer(env);
  write_two_overlapping_flushes(*w);
  const std::string victim = env.reader()->manifest().l0.back().id;
  auto original = env.scoped->get(sst_key(victim));
  ASSERT_TRUE(original.ok());
  // The manifest's bytes, then more: the first `size` bytes still hash right.
  ASSERT_TRUE(env.scoped->put(sst_key(victim), original->data + "trailing").ok());
  auto c = Compactor::open(env.store, env.db_options, options());
  ASSERT_TRUE(c.ok());
  auto info = (*c)->run_compaction();
  ASSERT_EQ(info.status().code(), Code::kCorruption) << info.status().to_string();
  EXPECT_EQ(env.reader()->manifest().l0.size(), 2u);
}

TEST(CompactorSigning, BadKeyOptionsAreInvalidArgument) {
  EngineEnv env;
  const Ed25519Signer b = new_key();
  CompactorOptions sign_only = options();
  sign_only.signing_key_pem = b.private_key_pem();
  EXPECT_TRUE(Compactor::open(env.store, env.db_options, sign_only).status().is_invalid_argument())
      << "signing without verifying";
  CompactorOptions private_as_public = options();
  private_as_public.verify_public_key_pem = b.private_key_pem();
  EXPECT_TRUE(
      Compactor::open(env.store, env.db_options, private_as_public).status().is_invalid_argument());
  CompactorOptions garbage = options();
  garbage.verify_public_key_pem = "not a key";
  EXPECT_TRUE(Compactor::open(env.store, env.db_options, garbage).status().is_invalid_argument());
  CompactorOptions public_as_private = options();
  public_as_private.verify_public_key_pem = b.public_key_pem();
  public_as_private.signing_key_pem = b.public_key_pem();
  EXPECT_TRUE(
      Compactor::open(env.store, env.db_options, public_as_private).status().is_invalid_argument());
}

// ---- LSN ranges ----

std::optional<uint64_t> lsn_of(std::string_view key) {
  if (key.rfind("log/", 0) != 0) return std::nullopt;
  return std::stoull(std::string(key.substr(4)));
}

// Flush f holds log/<100+10f .. 109+10f> plus log/150 (so flushes overlap).
void write_lsn_flushes(Writer& w, int flushes) {
  for (int f = 0; f < flushes; f++) {
    for (int i = 0; i < 10; i++) {
      ASSERT_TRUE(w.put("log/" + std::to_string(100 + f * 10 + i), "e").ok());
    }
    ASSERT_TRUE(w.put("log/150", "x").ok());
    ASSERT_TRUE(w.flush().ok());
  }
}

TEST(CompactorLsn, RangesSurviveAMergeWithOrWithoutAnExtractor) {
  for (const bool extractor : {false, true}) {
    SCOPED_TRACE(extractor ? "extractor" : "union of the inputs");
    EngineEnv env;
    WriterOptions wo = object_writer_options(env);
    wo.lsn_extractor = lsn_of;
    auto w = env.writer(wo);
    write_lsn_flushes(*w, 2);
    ASSERT_EQ(env.reader()->manifest().max_committed_lsn, std::optional<uint64_t>(150));
    CompactorOptions co = options();
    co.snapshot_every = 1;  // CURRENT carries the values after the merge
    co.target_sst_size = 4096;
    if (extractor) co.lsn_extractor = lsn_of;
    auto c = Compactor::open(env.store, env.db_options, co);
    ASSERT_TRUE(c.ok());
    auto info = (*c)->run_compaction();
    ASSERT_TRUE(info.ok()) << info.status().to_string();
    ASSERT_TRUE(info->moved.empty());
    auto r = env.reader();
    const ManifestInfo m = r->manifest();
    ASSERT_TRUE(m.l0.empty());
    EXPECT_EQ(m.max_committed_lsn, std::optional<uint64_t>(150));
    EXPECT_EQ(m.low_watermark_lsn, std::optional<uint64_t>(100));
    auto cur = env.scoped->get("manifest/CURRENT");
    ASSERT_TRUE(cur.ok());
    EXPECT_NE(cur->data.find("\"max_committed_lsn\": 150"), std::string::npos) << cur->data;
    EXPECT_NE(cur->data.find("\"low_watermark_lsn\": 100"), std::string::npos) << cur->data;
  }
}

TEST(CompactorLsn, TheExtractorGivesEachOutputItsExactRange) {
  EngineEnv env;
  WriterOptions wo = object_writer_options(env);
  wo.lsn_extractor = lsn_of;
  auto w = env.writer(wo);
  write_lsn_flushes(*w, 2);
  // A key without an LSN: an output holding it has no range.
  CompactorOptions co = options();
  co.lsn_extractor = [](std::string_view key) -> std::optional<uint64_t> {
    auto l = lsn_of(key);
    return l && *l == 150 ? std::nullopt : l;  // the extractor now disowns 150
  };
  auto c = Compactor::open(env.store, env.db_options, co);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*c)->run_compaction().ok());
  auto r = env.reader();
  EXPECT_EQ(r->manifest().max_committed_lsn, std::nullopt)
      << "the output holding log/150 has no range, so the maximum is unknown";

  // Exact ranges, not the union: outputs cut small hold disjoint ranges.
  EngineEnv env2;
  auto w2 = env2.writer(wo);
  for (int f = 0; f < 2; f++) {
    for (int i = 0; i < 3000; i++) {
      ASSERT_TRUE(w2->put("log/" + std::to_string(10000 + i), "e").ok());
    }
    ASSERT_TRUE(w2->flush().ok());
  }
  CompactorOptions small = options();
  small.target_sst_size = 4096;
  small.lsn_extractor = lsn_of;
  auto c2 = Compactor::open(env2.store, env2.db_options, small);
  ASSERT_TRUE(c2.ok());
  auto info = (*c2)->run_compaction();
  ASSERT_TRUE(info.ok());
  ASSERT_GT(info->outputs.size(), 1u);
  auto r2 = env2.reader();
  auto st = r2->manifest();
  EXPECT_EQ(st.low_watermark_lsn, std::optional<uint64_t>(10000));
  EXPECT_EQ(st.max_committed_lsn, std::optional<uint64_t>(12999));
  // Each output's range is that of its own first and last key (the keys'
  // LSNs grow with the keys), not the inputs' union.
  auto state = ReaderAccess::state(*r2);
  ASSERT_EQ(state->runs.size(), 1u);
  for (const SstMeta& m : state->runs[0].ssts) {
    EXPECT_EQ(m.min_lsn, lsn_of(m.min_key)) << m.id;
    EXPECT_EQ(m.max_lsn, lsn_of(m.max_key)) << m.id;
  }
}

TEST(CompactorLsn, RetentionRemovingTheOldestDataRaisesTheLowWatermark) {
  EngineEnv env;
  WriterOptions wo = object_writer_options(env);
  wo.lsn_extractor = lsn_of;
  auto w = env.writer(wo);
  // Three flushes an hour apart: log/100.., log/200.., log/300...
  for (int f = 0; f < 3; f++) {
    for (int i = 0; i < 10; i++) {
      ASSERT_TRUE(w->put("log/" + std::to_string(100 * (f + 1) + i), "e").ok());
    }
    ASSERT_TRUE(w->flush().ok());
    env.clock.advance_ms(3'600'000);
  }
  // Compact (disjoint: moved) so retention works on a run, then drop
  // what is older than 90 minutes.
  CompactorOptions co = options();
  co.l0_threshold = 3;
  auto c = Compactor::open(env.store, env.db_options, co);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*c)->run_compaction().ok());
  EXPECT_EQ(env.reader()->manifest().low_watermark_lsn, std::optional<uint64_t>(100));
  RetentionOptions ro;
  ro.retention_period = std::chrono::minutes(90);
  ro.retention_count = 0;
  ro.retry_backoff = 1ms;
  ro.snapshot_every = 1;
  auto ret = RetentionCompactor::open(env.store, env.db_options, ro);
  ASSERT_TRUE(ret.ok()) << ret.status().to_string();
  auto cleaned = (*ret)->run_cleanup();
  ASSERT_TRUE(cleaned.ok()) << cleaned.status().to_string();
  EXPECT_EQ(cleaned->removed.size(), 2u);
  auto m = env.reader()->manifest();
  EXPECT_EQ(m.low_watermark_lsn, std::optional<uint64_t>(300));
  EXPECT_EQ(m.max_committed_lsn, std::optional<uint64_t>(309));
  auto cur = env.scoped->get("manifest/CURRENT");
  ASSERT_TRUE(cur.ok());
  EXPECT_NE(cur->data.find("\"low_watermark_lsn\": 300"), std::string::npos) << cur->data;
}

// ---- refresh() ----

TEST(CompactorRefresh, RefreshReadsTheManifestWithoutCompacting) {
  EngineEnv env;
  auto w = object_writer(env);
  auto c = Compactor::open(env.store, env.db_options, options());
  ASSERT_TRUE(c.ok());
  write_two_overlapping_flushes(*w);  // committed after the compactor opened
  const uint64_t puts_before = env.metrics->snapshot().op(StoreOp::kPut).requests;
  const uint64_t gets_before = env.metrics->snapshot().op(StoreOp::kGet).requests;
  ASSERT_TRUE((*c)->refresh().ok());
  EXPECT_GT(env.metrics->snapshot().op(StoreOp::kGet).requests, gets_before) << "read the log";
  EXPECT_EQ(env.metrics->snapshot().op(StoreOp::kPut).requests, puts_before) << "wrote nothing";
  EXPECT_EQ(env.reader()->manifest().l0.size(), 2u) << "no compaction";

  // Fenced by a newer compactor: refresh says so.
  auto newer = Compactor::open(env.store, env.db_options, options());
  ASSERT_TRUE(newer.ok());
  ASSERT_TRUE((*newer)->refresh().ok());
  Status s = (*c)->refresh();
  EXPECT_EQ(s.code(), Code::kFenced) << s.to_string();
  EXPECT_TRUE((*c)->is_fenced());
}

TEST(RetentionRefresh, RefreshReadsTheManifestWithoutRemoving) {
  EngineEnv env;
  auto w = object_writer(env);
  RetentionOptions ro;
  ro.retention_period = std::chrono::minutes(1);
  ro.retention_count = 0;
  ro.retry_backoff = 1ms;
  auto ret = RetentionCompactor::open(env.store, env.db_options, ro);
  ASSERT_TRUE(ret.ok());
  write_two_overlapping_flushes(*w);
  env.clock.advance_ms(3'600'000);  // both are expired now
  const uint64_t puts_before = env.metrics->snapshot().op(StoreOp::kPut).requests;
  const uint64_t gets_before = env.metrics->snapshot().op(StoreOp::kGet).requests;
  ASSERT_TRUE((*ret)->refresh().ok());
  EXPECT_GT(env.metrics->snapshot().op(StoreOp::kGet).requests, gets_before);
  EXPECT_EQ(env.metrics->snapshot().op(StoreOp::kPut).requests, puts_before);
  EXPECT_EQ(env.reader()->manifest().l0.size(), 2u) << "nothing removed";
  EXPECT_EQ((*ret)->stats().cleanups, 0u) << "not a cycle";

  auto newer = RetentionCompactor::open(env.store, env.db_options, ro);
  ASSERT_TRUE(newer.ok());
  Status s = (*ret)->refresh();
  EXPECT_EQ(s.code(), Code::kFenced) << s.to_string();
  EXPECT_TRUE((*ret)->is_fenced());
}

}  // namespace
}  // namespace isle
