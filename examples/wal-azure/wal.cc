// wal-azure: a write-ahead log kept in IsleDB, on Azure Blob Storage (or
// any store URL: file://, s3://, azblob://).
//
//   wal-azure URL PREFIX append COUNT [BATCH]
//   wal-azure URL PREFIX replay FROM [--until LSN] [--expect-first LSN]
//                                    [--expect-last LSN] [--timeout SECONDS]
//   wal-azure URL PREFIX truncate BEFORE
//   wal-azure URL PREFIX status
//
// The log is the keyspace "rec/<LSN>", the LSN zero-padded to 20 digits so
// byte order is LSN order, and every key of the database carries an LSN
// (the Writer's lsn_extractor reads it back, so each SST records its LSN
// range). Public headers only.
//
// Invariants:
//   * LSNs are dense and strictly increasing: append continues at the
//     highest LSN the database has ever committed + 1, also in a new
//     process (recovery reads it from the manifest, not from a local file).
//   * A record is acknowledged only after Writer::await_durable returned
//     OK for its batch; a crash loses only unacknowledged records.
//   * Truncation deletes a prefix of the log, oldest first, and always
//     keeps the newest record, so the next LSN stays known.
//   * replay checks what it reads: no gap, no duplicate, and every value is
//     the one append wrote for that LSN. Any violation exits 1.
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

#include "isle/db.h"
#include "isle/object_store.h"
#include "isle/reader.h"
#include "isle/tailing_reader.h"
#include "isle/write_batch.h"
#include "isle/writer.h"

namespace {

using namespace std::chrono_literals;
using isle::Status;

constexpr std::string_view kRecordPrefix = "rec/";
constexpr int kLsnDigits = 20;

// "rec/00000000000000000042" for LSN 42.
std::string lsn_key(uint64_t lsn) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "rec/%020" PRIu64, lsn);
  return buf;
}

// The inverse of lsn_key; nullopt for any other key. Also the Writer's
// lsn_extractor.
std::optional<uint64_t> parse_lsn(std::string_view key) {
  if (key.size() != kRecordPrefix.size() + kLsnDigits || !key.starts_with(kRecordPrefix)) {
    return std::nullopt;
  }
  uint64_t lsn = 0;
  const char* first = key.data() + kRecordPrefix.size();
  auto [end, ec] = std::from_chars(first, key.data() + key.size(), lsn);
  if (ec != std::errc() || end != key.data() + key.size()) return std::nullopt;
  return lsn;
}

// What append writes for an LSN: deterministic, so replay can check every
// value without keeping a copy.
std::string record_value(uint64_t lsn) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "lsn=%" PRIu64 " op=transfer from=acct%" PRIu64 " to=acct%" PRIu64
                " amount=%" PRIu64, lsn, lsn % 97, (lsn * 31) % 97, lsn * 7 % 1000 + 1);
  return buf;
}

int fail(std::string_view what, const Status& s) {
  std::fprintf(stderr, "wal-azure: %.*s: %s\n", static_cast<int>(what.size()), what.data(),
               s.to_string().c_str());
  return 1;
}
int fail(const std::string& what) {
  std::fprintf(stderr, "wal-azure: %s\n", what.c_str());
  return 1;
}

// The log's extent as a reader sees it.
struct LogBounds {
  uint64_t last = 0;   // highest LSN ever committed (0 = empty log)
  uint64_t first = 0;  // oldest live record (0 = none live)
};

// `last` comes from the manifest alone: because the writer has an
// lsn_extractor, every SST records the LSN range of its keys (records and
// truncation tombstones alike) and the view publishes the maximum as
// ManifestInfo::max_committed_lsn. No data is read. It is cross-checked
// against the tables' max_key, which must name the same LSN.
// `first` is the first live key: one seek. (low_watermark_lsn is not it:
// it counts the tombstones a truncation wrote too.)
isle::Result<LogBounds> log_bounds(isle::Reader& reader) {
  LogBounds b;
  const isle::ManifestInfo m = reader.manifest();
  uint64_t max_key_lsn = 0;
  auto consider = [&](const isle::TableInfo& t) {
    if (auto lsn = parse_lsn(t.max_key)) max_key_lsn = std::max(max_key_lsn, *lsn);
  };
  for (const auto& t : m.l0) consider(t);
  for (const auto& run : m.runs) {
    for (const auto& t : run) consider(t);
  }
  const bool empty = m.l0.empty() && m.runs.empty();
  if (!empty && !m.max_committed_lsn) {
    return Status::Corruption(
        "a live SST has no LSN range: was the log written without an lsn_extractor?");
  }
  b.last = m.max_committed_lsn.value_or(0);
  if (b.last != max_key_lsn) {
    return Status::Corruption("max_committed_lsn " + std::to_string(b.last) +
                              " disagrees with the tables' highest key, LSN " +
                              std::to_string(max_key_lsn));
  }
  isle::IteratorOptions io;
  io.lower_bound = std::string(kRecordPrefix);
  io.upper_bound = "rec0";  // '0' follows '/': the end of "rec/..."
  auto it = reader.iterator(io);
  it->seek_to_first();
  if (!it->status().ok()) return it->status();
  if (it->valid()) {
    auto lsn = parse_lsn(it->key());
    if (!lsn) return Status::Corruption("foreign key in the log: " + std::string(it->key()));
    b.first = *lsn;
  }
  return b;
}

isle::WriterOptions writer_options() {
  isle::WriterOptions wo;
  wo.owner = "wal-azure:" + std::to_string(::getpid());
  wo.lsn_extractor = parse_lsn;
  return wo;
}

void print_bounds(const char* what, const LogBounds& b) {
  if (b.first == 0) {
    std::printf("%-10s no live records; last LSN ever written %" PRIu64 "\n", what, b.last);
  } else {
    std::printf("%-10s live records LSN %" PRIu64 "..%" PRIu64 " (%" PRIu64 " records)\n", what,
                b.first, b.last, b.last - b.first + 1);
  }
}

// append COUNT [BATCH]: recover the next LSN, then write COUNT records in
// atomic batches of BATCH, each acknowledged once durable.
int append(const isle::DB& db, uint64_t count, uint64_t batch) {
  // Claim the writer fence FIRST: from now on no earlier writer can commit,
  // so what the reader below sees is the final state of the log.
  auto writer = db.open_writer(writer_options());
  if (!writer.ok()) return fail("open writer", writer.status());
  isle::Writer& w = **writer;
  auto reader = db.open_reader();
  if (!reader.ok()) return fail("open reader", reader.status());
  auto bounds = log_bounds(**reader);
  if (!bounds.ok()) return fail("recover", bounds.status());
  print_bounds("recovered", *bounds);
  std::printf("writer     epoch %" PRIu64 ", appending from LSN %" PRIu64 "\n", w.stats().epoch,
              bounds->last + 1);

  uint64_t next = bounds->last + 1;
  const uint64_t end = next + count;
  while (next < end) {
    isle::WriteBatch b;
    const uint64_t batch_first = next;
    for (; next < end && next - batch_first < batch; next++) b.put(lsn_key(next), record_value(next));
    auto seq = w.write(b);  // atomic: the whole batch commits or none of it
    if (!seq.ok()) return fail("write batch", seq.status());
    // The durable ack. Only now may a caller treat these LSNs as logged.
    if (Status s = w.await_durable(*seq); !s.ok()) return fail("await_durable", s);
    std::printf("durable    LSN %" PRIu64 "..%" PRIu64 " (seq %" PRIu64 ")\n", batch_first,
                next - 1, *seq);
  }
  if (Status s = w.close(); !s.ok()) return fail("close", s);
  std::printf("appended   %" PRIu64 " records; next LSN is %" PRIu64 "\n", count, next);
  return 0;
}

// Checks one replayed record against what append wrote; counts it.
struct ReplayCheck {
  uint64_t expected = 0;  // 0 until the first record
  uint64_t first = 0, last = 0, count = 0;
  std::string error;

  bool accept(const isle::ChangeEvent& e) {
    auto lsn = parse_lsn(e.key);
    if (!lsn) return set_error("foreign key " + e.key);
    if (expected != 0 && *lsn != expected) {
      return set_error("gap or duplicate: expected LSN " + std::to_string(expected) + ", got " +
                       std::to_string(*lsn));
    }
    if (e.value != record_value(*lsn)) return set_error("wrong value at LSN " + std::to_string(*lsn));
    if (first == 0) first = *lsn;
    last = *lsn;
    expected = *lsn + 1;
    count++;
    return true;
  }
  bool set_error(std::string e) {
    error = std::move(e);
    return false;
  }
};

struct ReplayArgs {
  uint64_t from = 1;
  std::optional<uint64_t> until, expect_first, expect_last;
  std::chrono::seconds timeout{30};
};

// replay FROM: the records from LSN FROM on, in LSN order, through a
// TailingReader in keys mode (resumed after the key of FROM - 1; right
// for an append-only keyspace). Without --until it stops once caught up;
// with --until it follows new appends live until it has read that LSN.
int replay(const isle::DB& db, const ReplayArgs& a) {
  isle::ReaderOptions ro;
  ro.prefix = db.options().prefix;
  ro.refresh_interval = 200ms;  // how often a live tail looks for new flushes
  auto tr = isle::TailingReader::open(db.store(), ro);
  if (!tr.ok()) return fail("open tailing reader", tr.status());
  isle::TailOptions to;
  to.mode = isle::TailMode::kKeys;
  to.prefix = std::string(kRecordPrefix);
  to.after_key = lsn_key(a.from - 1);

  ReplayCheck check;
  if (!a.until) {
    // Catch-up only: tail() on this thread; caught_up ends it.
    Status s = (*tr)->tail(
        to, [&](const isle::ChangeEvent& e) { return check.accept(e); },
        [](uint64_t) { return false; });
    if (!s.ok()) return fail("replay", s);
  } else {
    // Follow: a tail on its own thread, read from a bounded queue.
    if (Status s = (*tr)->start(); !s.ok()) return fail("start", s);
    auto ch = (*tr)->subscribe(to);
    if (!ch.ok()) return fail("subscribe", ch.status());
    std::printf("following  from LSN %" PRIu64 " until LSN %" PRIu64 "\n", a.from, *a.until);
    std::fflush(stdout);
    const auto deadline = std::chrono::steady_clock::now() + a.timeout;
    while (check.error.empty() && check.last < *a.until) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left <= 0ms) {
        return fail("timed out after " + std::to_string(a.timeout.count()) + " s at LSN " +
                    std::to_string(check.last) + ", waiting for " + std::to_string(*a.until));
      }
      auto ev = (*ch)->next(left);
      if (!ev.ok()) return fail("follow", ev.status());
      if (ev->has_value()) check.accept(**ev);
    }
    (*ch)->close();
  }
  if (!check.error.empty()) return fail(check.error);
  std::printf("replayed   %" PRIu64 " records, LSN %" PRIu64 "..%" PRIu64
              ", no gaps, every value checked\n",
              check.count, check.first, check.last);
  if (a.expect_first && check.first != *a.expect_first) {
    return fail("expected the first record at LSN " + std::to_string(*a.expect_first));
  }
  if (a.expect_last && check.last != *a.expect_last) {
    return fail("expected the last record at LSN " + std::to_string(*a.expect_last));
  }
  return 0;
}

// truncate BEFORE: delete every record with LSN < BEFORE, oldest first, in
// durable batches. A crash midway leaves a shorter prefix deleted: the log
// is still a contiguous range.
int truncate(const isle::DB& db, uint64_t before) {
  auto writer = db.open_writer(writer_options());
  if (!writer.ok()) return fail("open writer", writer.status());
  isle::Writer& w = **writer;
  auto reader = db.open_reader();
  if (!reader.ok()) return fail("open reader", reader.status());
  auto bounds = log_bounds(**reader);
  if (!bounds.ok()) return fail("read log bounds", bounds.status());
  if (before > bounds->last) {
    return fail("truncate " + std::to_string(before) + ": the newest record (LSN " +
                std::to_string(bounds->last) + ") must stay, so BEFORE must be <= it");
  }
  if (bounds->first == 0 || bounds->first >= before) {
    std::printf("truncate   nothing below LSN %" PRIu64 "\n", before);
    return 0;
  }
  constexpr uint64_t kDeletesPerBatch = 1000;
  for (uint64_t lsn = bounds->first; lsn < before;) {
    isle::WriteBatch b;
    for (; lsn < before && b.size() < kDeletesPerBatch; lsn++) b.del(lsn_key(lsn));
    auto seq = w.write(b);
    if (!seq.ok()) return fail("delete batch", seq.status());
    if (Status s = w.await_durable(*seq); !s.ok()) return fail("await_durable", s);
  }
  if (Status s = w.close(); !s.ok()) return fail("close", s);
  std::printf("truncated  LSN %" PRIu64 "..%" PRIu64 " (%" PRIu64 " records)\n", bounds->first,
              before - 1, before - bounds->first);
  return 0;
}

int status(const isle::DB& db) {
  auto reader = db.open_reader();
  if (!reader.ok()) return fail("open reader", reader.status());
  auto bounds = log_bounds(**reader);
  if (!bounds.ok()) return fail("read log bounds", bounds.status());
  print_bounds("log", *bounds);
  const isle::ManifestInfo m = (*reader)->manifest();
  std::printf("manifest   %zu L0 SSTs, %zu sorted runs, writer epoch %" PRIu64 "\n", m.l0.size(),
              m.runs.size(), m.writer_epoch);
  if (m.max_committed_lsn && m.low_watermark_lsn) {
    std::printf("lsn range  SSTs hold LSN %" PRIu64 "..%" PRIu64 " (truncation tombstones included)\n",
                *m.low_watermark_lsn, *m.max_committed_lsn);
  }
  return 0;
}

std::optional<uint64_t> parse_u64(std::string_view s) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

int usage() {
  std::fprintf(stderr,
               "usage: wal-azure URL PREFIX append COUNT [BATCH]\n"
               "       wal-azure URL PREFIX replay FROM [--until LSN] [--expect-first LSN]\n"
               "                                        [--expect-last LSN] [--timeout SECONDS]\n"
               "       wal-azure URL PREFIX truncate BEFORE\n"
               "       wal-azure URL PREFIX status\n"
               "URL is a store URL, e.g. $ISLE_TEST_AZURE_URL (azblob://...) or file:///tmp/wal;\n"
               "LSNs start at 1. Azure credentials come from AZURE_STORAGE_ACCOUNT and\n"
               "AZURE_STORAGE_KEY (or AZURE_STORAGE_SAS_TOKEN; see docs/object-stores.md).\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) return usage();
  const std::string url = argv[1], prefix = argv[2], cmd = argv[3];
  std::vector<std::string_view> args(argv + 4, argv + argc);
  auto num = [&](size_t i) { return i < args.size() ? parse_u64(args[i]) : std::nullopt; };

  if (cmd != "append" && cmd != "replay" && cmd != "truncate" && cmd != "status") return usage();

  auto store = isle::open_object_store(url);
  if (!store.ok()) return fail("open " + url, store.status());
  isle::DBOptions options;
  options.prefix = prefix;
  auto db = isle::DB::open(*store, options);
  if (!db.ok()) return fail("open database", db.status());

  if (cmd == "append" && (args.size() == 1 || args.size() == 2)) {
    auto count = num(0);
    auto batch = args.size() == 2 ? num(1) : std::optional<uint64_t>(100);
    if (!count || !batch || *batch == 0) return usage();
    return append(*db, *count, *batch);
  }
  if (cmd == "replay" && !args.empty()) {
    ReplayArgs a;
    auto from = num(0);
    if (!from || *from == 0) return usage();
    a.from = *from;
    for (size_t i = 1; i < args.size(); i += 2) {
      auto v = num(i + 1);
      if (!v) return usage();
      if (args[i] == "--until") a.until = *v;
      else if (args[i] == "--expect-first") a.expect_first = *v;
      else if (args[i] == "--expect-last") a.expect_last = *v;
      else if (args[i] == "--timeout") a.timeout = std::chrono::seconds(*v);
      else return usage();
    }
    return replay(*db, a);
  }
  if (cmd == "truncate" && args.size() == 1) {
    auto before = num(0);
    if (!before) return usage();
    return truncate(*db, *before);
  }
  if (cmd == "status" && args.empty()) return status(*db);
  return usage();
}
