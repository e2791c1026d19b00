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
#include "isle/manifest_storage.h"
#include "isle/status.h"

namespace isle {

enum class Compression : uint8_t { kNone = 0, kLz4 = 1, kZstd = 2 };

struct DBOptions {
  // The database's folder inside the bucket ("" = the bucket root). Every
  // object the database writes is under it.
  std::string prefix;
  // Where manifest objects live; nullptr = the same store (the default).
  ManifestStoragePtr manifest_storage;
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

  // Download each SST whole once and check its sha256 against the manifest
  // before serving from it (costs one full GET per SST; the bytes then
  // come from the caches).
  bool verify_sst_sha256 = false;
  // Ed25519 public key (PEM): every SST must carry a valid signature by it
  // (implies verify_sst_sha256).
  std::string verify_public_key_pem;

  // Bytes fetched from an SST's end when it is first opened.
  uint64_t sst_tail_read = 64 * 1024;
  // First wait before retrying a failed manifest request.
  std::chrono::milliseconds retry_backoff{20};
};

}  // namespace isle
