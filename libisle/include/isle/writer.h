// Writer: the one process that writes a database (DESIGN §6). It claims the
// writer fence when opened; from then on a second Writer opened anywhere
// fences this one, whose every later call fails with Fenced (terminal).
//
// Writes go to an in-memory memtable and are assigned a sequence number,
// strictly increasing across restarts and takeovers. They become visible to
// readers, and durable, when the memtable's SST is committed to the
// manifest — never partly: one flush is one log entry, and an atomic batch
// always lands in one flush.
//
//   auto w = db.open_writer({});            // claims the fence
//   auto seq = (*w)->put("k", "v");         // buffered; *seq is its number
//   (*w)->await_durable(*seq);              // returns once it is committed
//
// Durability: a write is acknowledged as durable only by await_durable (or
// flush/close returning OK). A crash loses buffered writes, never a
// committed one; so does destroying a writer whose store stays down past
// close_timeout. Thread-safe: any number of threads may write at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>

#include "isle/status.h"
#include "isle/write_batch.h"

namespace isle {

struct WriteOptions {
  // All of the batch or none of it becomes visible (always true for single
  // puts and deletes). A non-atomic batch may be split across flushes.
  bool atomic = true;
};

struct WriterStats {
  uint64_t epoch = 0;
  uint64_t last_seq = 0;      // highest sequence handed out
  uint64_t durable_seq = 0;   // every sequence <= this is committed
  uint64_t flushes = 0;
  uint64_t flush_errors = 0;
  uint64_t bytes_flushed = 0;  // SST bytes committed by flushes (uploaded or inline)
  uint64_t blobs_written = 0;
  // Existing blobs written again on reuse because they were older than a
  // quarter of DBOptions::gc_grace (see Writer::put).
  uint64_t blobs_refreshed = 0;
  // Flushes committed inline (one PUT: the log entry carries the SST), a
  // subset of `flushes`; and materializations committed (each rewrote
  // pending inline SSTs into one L0 SST object).
  uint64_t inline_flushes = 0;
  uint64_t materializations = 0;
  uint64_t sealed_memtables = 0;  // waiting to flush now
  uint64_t snapshots = 0;
};

class Writer {
 public:
  class Impl;
  explicit Writer(std::unique_ptr<Impl> impl);
  // Closes if close() did not: waits up to WriterOptions::close_timeout for
  // buffered writes to commit (not at all if a close() already timed out),
  // then stops the background work. Whatever is still uncommitted then is
  // lost, as in a crash; committed writes never are. Errors are dropped.
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Each returns the write's sequence number. InvalidArgument for an empty
  // or oversized key or an oversized value; Backpressure when too many
  // memtables wait to flush (retry later); Fenced once another writer took
  // over; Aborted once close() began.
  //
  // A value of at least WriterOptions::blob_threshold bytes is uploaded
  // first, as a content-addressed blob. An identical blob already stored is
  // reused, unless it is at least DBOptions::gc_grace / 4 old: then it is
  // uploaded again, so the garbage collector cannot delete it while this
  // write commits (docs/format/gc.md, "Blobs reused while GC runs").
  Result<uint64_t> put(std::string_view key, std::string_view value);
  Result<uint64_t> put_with_ttl(std::string_view key, std::string_view value,
                                std::chrono::milliseconds ttl);
  Result<uint64_t> del(std::string_view key);
  // A tombstone that itself expires after `ttl`: the key reads as deleted
  // either way; compaction may forget the tombstone once it expired.
  Result<uint64_t> del_with_ttl(std::string_view key, std::chrono::milliseconds ttl);
  // Returns the sequence of the batch's last operation. An atomic batch
  // is validated whole first: one bad entry rejects all of it.
  Result<uint64_t> write(const WriteBatch& batch, const WriteOptions& options = {});

  // Waits until every write with sequence <= seq is committed (group
  // commit: a waiter makes the writer flush now instead of at the next
  // interval). Returns Fenced if the writer lost its fence first, and
  // Aborted on timeout (the write may still commit later).
  Status await_durable(uint64_t seq,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds::max());

  // Seals the memtable and waits until everything written before the call
  // is committed. flush() waits as long as that takes (while the store is
  // down: forever); flush(timeout) returns Aborted after `timeout` with a
  // message naming the range, "seqs N..M not committed". Nothing is lost
  // then: the writes stay buffered, the writer keeps retrying in the
  // background, and a later flush or close commits them. Fenced if the
  // writer lost its fence first.
  Status flush();
  Status flush(std::chrono::milliseconds timeout);
  // Stops accepting writes (they get Aborted from now on), waits as
  // flush(timeout) does, then stops the background work. close() uses
  // WriterOptions::close_timeout. On timeout it returns that Aborted
  // ("seqs N..M not committed") and the writer stays closing: still
  // retrying, so calling close again can finish the job. Calling it on a
  // closed writer returns OK.
  Status close();
  Status close(std::chrono::milliseconds timeout);

  // OK, or the terminal error (Fenced) that stopped this writer.
  Status status() const;
  WriterStats stats() const;

  // Test hook: stops at once as if the process died, WITHOUT flushing.
  // Buffered writes are lost; committed ones are not.
  void simulate_crash();

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace isle
