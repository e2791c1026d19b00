// The manifest's vocabulary: SST metadata, sorted runs, role fences, log
// entries and the replayed state (DESIGN §3, docs/format/manifest.md).
//
// Two kinds of numbers live here and must not be confused:
//   * log positions ("pos"; the JSON field is "seq" as DESIGN names it):
//     the 20-digit number of an object manifest/log/<pos>.json. Positions
//     start at 1 and are dense: replay stops at the first missing one.
//   * data sequence numbers ("seq_lo", "seq_hi", "last_seq"): the 56-bit
//     numbers the writer gives every put and delete (format/internal_key.h).
//
// These are plain value types; replay rules live in manifest_state.h and
// the JSON encoding in manifest_codec.h.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace isle {

// The three roles that hold independent fences.
enum class Role : uint8_t { kWriter = 0, kCompactor = 1, kRetention = 2 };
constexpr size_t kNumRoles = 3;
std::string_view role_name(Role r);
// nullopt for an unknown name.
std::optional<Role> parse_role(std::string_view name);

// The bytes of an inline SST (docs/format/manifest.md, "Inline flushes"):
// shared, immutable, compared by content. Empty (null) for an SST that is
// an object in the bucket.
struct InlineBytes {
  std::shared_ptr<const std::string> bytes;

  bool empty() const { return !bytes; }
  size_t size() const { return bytes ? bytes->size() : 0; }
  friend bool operator==(const InlineBytes& a, const InlineBytes& b) {
    if (!a.bytes || !b.bytes) return !a.bytes && !b.bytes;
    return *a.bytes == *b.bytes;
  }
};

// The largest inline SST a manifest object may carry (bytes before base64).
// Decoding refuses a larger one as Corruption; WriterOptions::
// inline_flush_max_bytes may not exceed it.
inline constexpr uint64_t kMaxInlineSstBytes = uint64_t{16} << 20;

// What the manifest knows about one immutable SST.
struct SstMeta {
  std::string id;         // object key is sstable/<id>.sst
  uint64_t size = 0;      // bytes
  std::string sha256;     // lower-case hex of the whole object
  std::string min_key;    // smallest / largest user key (raw bytes)
  std::string max_key;
  uint64_t seq_lo = 0;    // smallest / largest data sequence inside
  uint64_t seq_hi = 0;
  int64_t min_write_ms = 0;  // write-time range of the data (unix ms)
  int64_t max_write_ms = 0;
  uint64_t num_entries = 0;
  uint64_t num_deletes = 0;
  uint32_t level = 0;     // 0 = L0; >0 = member of a sorted run
  std::vector<std::string> blobs;  // sha256 hex of every blob it references
  std::string sig;        // hex Ed25519 signature (docs/format/signatures.md); may be empty
  std::string sig_key_id;
  // Present when the writer had an LSN extractor (append-only keyspaces).
  std::optional<uint64_t> min_lsn;
  std::optional<uint64_t> max_lsn;
  // Set for an inline SST: the whole SST travels inside its log entry (and
  // the snapshots that follow until it is materialized). There is no
  // sstable/<id>.sst object; `size` and `sha256` describe these bytes, and
  // `sig` signs them with the isle-inline-v1: message (signatures.md).
  InlineBytes inline_data;

  bool is_inline() const { return !inline_data.empty(); }
  friend bool operator==(const SstMeta&, const SstMeta&) = default;
};

// One sorted run: SSTs with disjoint key ranges, ascending by key.
struct SortedRun {
  std::string id;
  std::vector<SstMeta> ssts;

  friend bool operator==(const SortedRun&, const SortedRun&) = default;
};

// The holder of one role's fence.
struct Fence {
  uint64_t epoch = 0;  // 0 = never claimed
  std::string owner;
  int64_t claimed_at_ms = 0;

  friend bool operator==(const Fence&, const Fence&) = default;
};

enum class LogOp : uint8_t {
  kFenceClaim,
  kAddSstable,
  kCompaction,
  kRemoveSstables,
  kCheckpoint,
  // writer: replaces the oldest inline SSTs (`inputs`) by one L0 SST
  // object holding the same entries (`added`).
  kMaterialize,
};
std::string_view log_op_name(LogOp op);
std::optional<LogOp> parse_log_op(std::string_view name);

// One manifest edit: the body of manifest/log/<pos>.json.
struct LogEntry {
  uint64_t pos = 0;  // JSON "seq"
  Role role = Role::kWriter;
  uint64_t epoch = 0;
  std::string owner;
  int64_t ts_ms = 0;
  std::string commit_id;  // random per logical commit; stable across retries
  LogOp op = LogOp::kFenceClaim;

  // fence_claim: the highest data sequence the claimer had replayed (it
  // continues above it), and for writers `seq_reserved` (below) too.
  uint64_t seq_floor = 0;

  // add_sstable (writer): the new L0 SST. `last_seq` is the writer's
  // highest assigned sequence at commit; `seq_reserved` the highest it may
  // hand out before it commits again (a restarted writer starts above it,
  // so sequences never repeat, not even those of lost non-durable writes).
  std::vector<SstMeta> added;
  uint64_t last_seq = 0;
  uint64_t seq_reserved = 0;
  // add_sstable: the highest data sequence in any SST a writer committed
  // before this entry (ManifestState::data_seq as the writer saw it). The
  // change feed uses it to tell whether history before this entry that
  // has been collected could still hold changes a cursor has not seen.
  uint64_t prev_data_seq = 0;
  // add_sstable, written by a writer with several flushes in flight
  // (docs/manifest-protocol.md, "Several flushes in flight"; JSON
  // "chained": true, format 2): the entry counts only where the replayed
  // data_seq equals prev_data_seq, i.e. directly after the writer data it
  // was sent behind. False = today's rules.
  bool chained = false;

  // compaction (compactor): inputs removed, `added` becomes run `run_id`.
  // remove_sstables (retention): inputs removed.
  std::vector<std::string> inputs;
  std::string run_id;

  // checkpoint: the snapshot position that was written.
  uint64_t snapshot_pos = 0;

  friend bool operator==(const LogEntry&, const LogEntry&) = default;
};

// A valid writer fence_claim: from position `pos` on, writer entries
// count only with this epoch (until the next claim).
struct WriterClaim {
  uint64_t pos = 0;
  uint64_t epoch = 0;
  friend bool operator==(const WriterClaim&, const WriterClaim&) = default;
};

// The replayed state of the manifest: what a reader serves.
struct ManifestState {
  // How many writer claims the state remembers (writer_claims).
  static constexpr size_t kMaxWriterClaims = 1024;

  // Every log entry below next_pos has been applied (or skipped); the next
  // one to read is next_pos. A fresh database starts at 1.
  uint64_t next_pos = 1;
  // The log_seq_start of the snapshot this state was loaded from.
  uint64_t log_seq_start = 1;
  std::array<Fence, kNumRoles> fences;
  std::vector<SstMeta> l0;        // oldest first (commit order)
  // Inline SSTs not materialized yet, oldest first. Every sequence in them
  // is above every sequence in l0 and runs: a writer commits an SST object
  // only when no inline SST is pending, and materializes the oldest first.
  std::vector<SstMeta> inline_ssts;
  std::vector<SortedRun> runs;    // newest data first
  uint64_t last_seq = 0;          // highest data sequence committed
  uint64_t seq_reserved = 0;      // highest sequence any writer may have handed out
  uint64_t entries_applied = 0;   // valid entries since the database began
  uint64_t entries_skipped = 0;   // invalid (superseded epoch, stale inputs)
  // Highest seq_hi of any valid add_sstable so far: the newest change in
  // the data (the change-feed cursor of this state). Unlike last_seq it
  // never includes sequences that were only reserved or handed out.
  uint64_t data_seq = 0;
  // The most recent valid writer claims, oldest first (at most
  // kMaxWriterClaims). They let the change feed judge a log entry that
  // lies below log_seq_start without replaying from the beginning.
  std::vector<WriterClaim> writer_claims;
  // True once older claims were dropped from writer_claims (or the state
  // came from a snapshot that did not record them).
  bool writer_claims_trimmed = false;

  friend bool operator==(const ManifestState&, const ManifestState&) = default;

  const Fence& fence(Role r) const { return fences[static_cast<size_t>(r)]; }
  Fence& fence(Role r) { return fences[static_cast<size_t>(r)]; }
  // The sequence a newly claimed writer continues after.
  uint64_t seq_floor() const { return last_seq > seq_reserved ? last_seq : seq_reserved; }
  // Count and bytes of live SSTs.
  size_t live_sst_count() const;
  uint64_t live_bytes() const;
  // True when an SST with this id is live (in L0 or a run). Inline SSTs
  // are not objects and not counted here; see is_inline_pending.
  bool is_live(std::string_view sst_id) const;
  // True when an inline SST with this id waits to be materialized.
  bool is_inline_pending(std::string_view sst_id) const;
  // Bytes of the inline SSTs not materialized yet.
  uint64_t inline_bytes() const;
  // The writer epoch whose add_sstable entries count at log position
  // `pos` (0 = no writer had claimed yet), or nullopt when the claims
  // that old are no longer remembered. Only meaningful for pos < next_pos.
  std::optional<uint64_t> writer_epoch_at(uint64_t pos) const;
  // max_lsn / min_lsn over live and inline SSTs, when every one has them.
  std::optional<uint64_t> max_committed_lsn() const;
  std::optional<uint64_t> low_watermark_lsn() const;
};

// CURRENT: the small mutable pointer object (replaced by compare-and-swap).
struct CurrentPointer {
  int format = 1;
  uint64_t snapshot_pos = 0;  // 0 = no snapshot: replay from log position 1
  uint64_t log_seq_start = 1;
  uint64_t next_seq_hint = 1;  // JSON "next_seq": a hint, never trusted
  std::array<Fence, kNumRoles> fences;
  uint64_t last_seq = 0;
  int64_t updated_ms = 0;
  std::optional<uint64_t> max_committed_lsn;
  std::optional<uint64_t> low_watermark_lsn;

  friend bool operator==(const CurrentPointer&, const CurrentPointer&) = default;
};

// Object keys (relative to the database prefix).
std::string log_key(uint64_t pos);        // manifest/log/<20 digits>.json
std::string snapshot_key(uint64_t pos);   // manifest/snapshots/<20 digits>.manifest
std::string sst_key(std::string_view id);  // sstable/<id>.sst
std::string blob_key(std::string_view sha256_hex);  // blobs/<2 hex>/<sha256>.blob
inline constexpr std::string_view kCurrentKey = "manifest/CURRENT";

}  // namespace isle
