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

  // Bytes fetched from an SST's end when it is first opened.
  uint64_t sst_tail_read = 64 * 1024;
  // First wait before retrying a failed manifest request.
  std::chrono::milliseconds retry_backoff{20};
};

}  // namespace isle
