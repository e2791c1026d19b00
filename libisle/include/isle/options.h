// Options of the embedded API: DBOptions (where the database lives and how
// the manifest protocol is timed), WriterOptions and ReaderOptions.
//
// Defaults are chosen for a production writer on S3-like storage; every
// one of them is explained in docs/DECISIONS.md ("Engine defaults").
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "isle/clock.h"
#include "isle/gc_mark_storage.h"
#include "isle/manifest_storage.h"
#include "isle/status.h"

namespace isle {

enum class Compression : uint8_t { kNone = 0, kLz4 = 1, kZstd = 2 };

// Hedged requests (docs/object-stores.md, "Hedged requests"): when a GET,
// HEAD or create-only PUT has not answered after a high percentile of the
// recent latency of its kind, the same request is sent once more and the
// first answer wins. Overwrite and if-match PUTs, DELETE and LIST are never
// hedged. The extra requests are capped at max_extra_fraction of the
// hedgeable requests. Local stores (mem://, file://) are never hedged
// unless hedge_local_stores is set: their latency is in microseconds, and
// tests that count requests must see exact numbers.
struct HedgeOptions {
  bool enabled = true;
  // Hedge after this quantile of the recent latencies of the request's
  // kind and size (0 < percentile < 1)...
  double percentile = 0.95;
  // ...but never sooner than min_delay nor later than max_delay.
  std::chrono::milliseconds min_delay{10};
  std::chrono::milliseconds max_delay{2'000};
  // No hedging for a kind until this many of its latencies were seen.
  int min_samples = 32;
  // Hedges are at most this fraction of hedgeable requests (token bucket
  // credited per request, at most max_burst hedges saved up).
  double max_extra_fraction = 0.05;
  int max_burst = 10;
  // Threads that carry hedgeable requests (grown on demand, never more).
  // A request that finds them all busy runs unhedged on its caller.
  int max_workers = 32;
  // PUT bodies copied for requests in flight on the workers, in bytes; a
  // PUT that would pass it runs unhedged on its caller.
  uint64_t max_inflight_put_bytes = uint64_t{64} << 20;
  // Also hedge mem:// and file:// stores (tests and benchmarks that put a
  // LatencyStore over them).
  bool hedge_local_stores = false;
};

struct DBOptions {
  // The database's folder inside the bucket ("" = the bucket root). Every
  // object the database writes is under it.
  std::string prefix;
  // Where manifest objects live; nullptr = the same store (the default).
  // Used as given (not scoped to `prefix`).
  ManifestStoragePtr manifest_storage;
  // Where the garbage collector keeps its pending-delete marks and its
  // checkpoint (isle/gc_mark_storage.h); nullptr = manifest/gc/ in the
  // same store (the default). Used as given (not scoped to `prefix`).
  // Only GC reads it; writers and readers ignore it.
  GcMarkStoragePtr gc_mark_storage;
  // The manifest lease (DESIGN §3): a committer that has not read CURRENT
  // for this long re-reads it after committing. Must be shorter than
  // gc_grace.
  std::chrono::milliseconds lease{30'000};
  // How long GC waits before deleting anything unreferenced. Writers and
  // readers only need it to check lease < grace.
  std::chrono::milliseconds gc_grace{600'000};
  // Time source for TTLs, write times and leases; nullptr = the system
  // clock. Tests inject a ManualClock.
  Clock* clock = nullptr;
  // Hedged GETs and create-only PUTs of the writer (readers use
  // ReaderOptions::hedging, also when opened by DB::open_reader).
  HedgeOptions hedging;
};

// One key's fate for the LSN extractor: the key's log sequence number in an
// append-only keyspace, or nullopt when the key carries none.
using LsnExtractor = std::function<std::optional<uint64_t>(std::string_view key)>;

struct WriterOptions {
  // Recorded in the fence claim; default "<hostname>:<pid>:<random>".
  std::string owner;

  // A memtable is sealed and flushed when it holds this many bytes...
  size_t memtable_size = size_t{64} << 20;
  // ...or when it is this old (and not empty).
  std::chrono::milliseconds flush_interval{100};
  // Group commit: when durable waiters exist and no flush is in flight the
  // writer flushes at once, but never sooner than this after the previous
  // flush started (bounds the request rate under many small durable writes).
  std::chrono::milliseconds min_flush_spacing{10};
  // Writes fail with Backpressure while this many sealed memtables wait to
  // be flushed.
  int max_sealed_memtables = 4;
  // Flushes whose log entries may be in flight at once (1 .. 64;
  // docs/manifest-protocol.md, "Several flushes in flight"): with K > 1
  // group commit seals a memtable for durable waiters whenever fewer than
  // K are sealed, and up to K create-only PUTs of consecutive log
  // positions travel together, committed strictly in order. In-flight
  // flushes are sealed memtables, so memory stays within
  // max_sealed_memtables x memtable_size bytes (and K above
  // max_sealed_memtables has no effect). 1 = one flush at a time, the
  // format 1 protocol. Default 1 for now: with 4, one run of
  // GcProperty.ConcurrentCollectorsStayCorrect under ASan lost an SST object
  // to a collector and the cause is not found yet (docs/decisions/
  // issue-15-latency.md); K > 1 is opt-in until it is.
  int max_flushes_in_flight = 1;

  // One-round-trip commit (docs/manifest-protocol.md, "Inline flushes"): a
  // sealed memtable whose SST is at most this many bytes travels inside its
  // manifest log entry, so the one create-only PUT of that entry is both
  // the data write and the commit. 0 = off (every flush uploads an SST
  // object, then commits: two PUTs). At most 16 MiB (kMaxInlineSstBytes).
  uint64_t inline_flush_max_bytes = uint64_t{64} << 10;
  // The writer rewrites pending inline SSTs into one ordinary L0 SST
  // object ("materializes" them: one upload plus one log entry for several
  // flushes) when their bytes exceed inline_max_pending_bytes or the
  // oldest is older than inline_max_lag. Readers hold pending inline
  // bytes in memory (ReaderOptions::max_inline_bytes), as does every
  // snapshot. The build and upload run on a helper thread; the flusher
  // commits the result between flushes. Past twice either bound, the next
  // inline flush waits for the materialization. A flush too large to
  // inline materializes everything pending first; so does a clean close.
  // Writer open checks 2 * inline_max_pending_bytes + max_flushes_in_flight
  // * inline_flush_max_bytes <= 32 MiB (below the readers' default limit).
  uint64_t inline_max_pending_bytes = uint64_t{4} << 20;
  std::chrono::milliseconds inline_max_lag{5'000};

  // Values at least this large are stored as content-addressed blobs.
  size_t blob_threshold = size_t{256} << 10;
  // Hard limits (InvalidArgument beyond them).
  size_t max_key_size = size_t{64} << 10;
  size_t max_value_size = size_t{256} << 20;

  // SST layout.
  size_t block_size = 4096;
  int bloom_bits_per_key = 10;
  Compression compression = Compression::kLz4;

  // The writer writes a manifest snapshot after this many log entries past
  // CURRENT's log_seq_start (0 = never; then only the compactor does).
  int snapshot_every = 64;

  // Ed25519 private key (PKCS#8 PEM) to sign every SST's sha256; empty =
  // unsigned.
  std::string signing_key_pem;

  // Append-only keyspaces: records min/max LSN per SST and publishes
  // max_committed_lsn / low_watermark_lsn in CURRENT at each snapshot.
  LsnExtractor lsn_extractor;

  // Called (on the flush thread) whenever a flush attempt fails; the
  // writer keeps the data and retries, unless the error is Fenced.
  std::function<void(const Status&)> on_flush_error;
  // Called once (on the flush thread) when the writer learns that another
  // writer took the fence, by a failed flush or by its idle fence check:
  // a daemon can exit at once instead of polling status().
  std::function<void(const Status&)> on_fenced;
  // Sequences reserved in the manifest ahead of use, so that a restarted
  // writer never reuses a sequence handed out by its predecessor.
  uint64_t seq_reserve = uint64_t{1} << 24;
  // First wait before retrying a failed flush or manifest request (doubles
  // per failure, capped at 64x).
  std::chrono::milliseconds retry_backoff{50};
  // How long close() and the destructor wait for buffered writes to commit
  // (Writer::close); max() = as long as it takes.
  std::chrono::milliseconds close_timeout{60'000};
};

struct ReaderOptions {
  // The database's folder inside the bucket (as DBOptions::prefix).
  std::string prefix;
  ManifestStoragePtr manifest_storage;
  std::chrono::milliseconds lease{30'000};
  Clock* clock = nullptr;

  // Refresh the manifest in the background this often; 0 = only when
  // refresh() is called.
  std::chrono::milliseconds refresh_interval{0};
  // Adaptive background refresh (docs/tailing.md, "Polling"): refresh_interval
  // is then the idle interval, the longest wait between two refreshes, and
  // this the shortest. After a refresh that found new log entries the next
  // one waits this long, and keeps doing so while the last new entry is
  // less than refresh_interval old; after that each empty refresh doubles
  // the wait (10 ms at least) up to refresh_interval. So an idle reader
  // costs one log GET per refresh_interval, and a busy one probes every
  // refresh_interval_min + one GET. nullopt = a Reader refreshes every
  // refresh_interval, fixed; a TailingReader uses
  // TailingReader::kDefaultRefreshIntervalMin. Above refresh_interval =
  // refresh_interval.
  std::optional<std::chrono::milliseconds> refresh_interval_min;

  // In-memory caches (bytes; 0 disables).
  uint64_t block_cache_bytes = uint64_t{64} << 20;
  uint64_t blob_cache_bytes = uint64_t{64} << 20;
  // On-disk cache of SST byte ranges and blobs under cache_dir ("" = none),
  // kept across restarts and verified on load.
  std::string cache_dir;
  uint64_t disk_cache_bytes = uint64_t{1} << 30;

  // Blobs larger than this many bytes are not kept in the in-memory blob
  // cache (they are still verified, returned, and written to the disk
  // cache when there is one); 0 = no limit beyond blob_cache_bytes' own
  // (a blob whose charge exceeds one shard's share is never kept).
  uint64_t blob_cache_max_item_size = 0;
  // Blobs are content-addressed: check each blob's sha256 against its
  // reference before returning it (a mismatch is Corruption). Off, only the
  // size is checked (on every tier: a disk-cache entry of the wrong size is
  // dropped and the blob fetched again; a fetched blob of the wrong size is
  // Corruption), so a blob changed in the bucket (or in the local disk
  // cache, beyond what the cache's own xxh3 catches) with its size kept may
  // be returned.
  bool verify_blobs_on_read = true;

  // Check every SST's bytes against the manifest's sha256 and size before
  // serving anything from it. The first use of an SST streams it once by
  // ranged GETs of 4 MiB, hashing it whole and per 64 KiB granule, and
  // keeps only the granule digests (32 bytes per 64 KiB); reads are then
  // served granule by granule from the disk cache or by ranged GETs, each
  // granule checked against its digest. Memory (bytes), whatever the SST's
  // size: each SST being opened (verified) at the moment holds one 4 MiB
  // chunk plus its hash state until its stream ends (concurrent first uses
  // of one SST share one stream); each open verified table keeps 32 bytes
  // of granule digests per 64 KiB of SST (512 KiB per GiB) while it is
  // open; each read holds its length plus at most 2 x 64 KiB
  // (docs/format/disk-cache.md).
  bool verify_sst_sha256 = false;
  // Ed25519 public keys (PEM; one or several PUBLIC KEY blocks
  // concatenated): every SST must carry a valid signature by the key its
  // sig_key_id names, which must be one of these (implies
  // verify_sst_sha256). See docs/format/signatures.md, "Key rings".
  std::string verify_public_key_pem;
  // SSTs smaller than this many bytes are fetched whole by one GET when
  // first used and kept in memory while they are live (with verification
  // on they are checked in memory, no granules): fewer requests for small
  // tables, at most this many bytes of memory per open table. 0 = none
  // (every SST is read by ranges; SstReader still fetches an SST no
  // larger than sst_tail_read with its one tail read).
  uint64_t range_read_min_sst_size = 0;
  // With verify_sst_sha256 or a verify key: serve SSTs of at least
  // range_read_min_sst_size bytes by plain ranged reads WITHOUT checking
  // their bytes against the manifest's sha256 (signatures are still
  // checked; blocks carry only their xxh3 checksums, which catch damage,
  // not substitution). For deployments that trust the bucket's bytes but
  // cannot afford one full download per SST. Default off; the daemons log
  // a warning at start when it is on.
  bool allow_unverified_range_reads = false;

  // Inline SSTs (flushes that travel inside their manifest log entries,
  // WriterOptions::inline_flush_max_bytes) are served from memory, never
  // fetched. A manifest state holding more inline bytes than this is an
  // error naming this option; the reader keeps its last view (bytes).
  uint64_t max_inline_bytes = uint64_t{64} << 20;

  // Bytes fetched from an SST's end when it is first opened.
  uint64_t sst_tail_read = 64 * 1024;
  // First wait before retrying a failed manifest request.
  std::chrono::milliseconds retry_backoff{20};
  // Hedged GETs and HEADs (see HedgeOptions).
  HedgeOptions hedging;
};

}  // namespace isle
