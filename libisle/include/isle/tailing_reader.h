// TailingReader: a Reader that also streams new writes, like `tail -f`
// (DESIGN §8). Two modes:
//
//   * kChanges (the change feed): every put and delete, updates and
//     deletes included, in commit (sequence) order, each exactly once.
//     Resumed after a sequence number (after_seq, exclusive). Built from
//     the L0 SSTs the writer's add_sstable log entries publish, so it sees
//     every version, also those a later write or compaction shadowed.
//     History is kept as long as the garbage collector's change_retention
//     (GcOptions): a cursor older than that gets ChangeCursorExpired,
//     never a silent gap (an SST GC removed a moment ago may still be
//     served, whole and verified, from the feed's small cache of recent
//     SSTs: more history, never less). bootstrap() returns a consistent snapshot scan
//     plus the cursor to continue from, for building materialised views.
//   * kKeys: the keys of the current view in key order, resumed after a
//     key (exclusive; the next key tried is k + 0x00, so "a", "a\0" and
//     "aa" are all delivered). For append-only keyspaces (event logs with
//     monotonic keys), at any lag: a key that appears below the resume
//     point later is not delivered.
//
// Both modes filter by key: prefix, min_key (inclusive), max_key
// (inclusive) and end_key (exclusive) all apply together.
//
// A tail starts from a view that holds every write acknowledged before it
// was opened: opening one refreshes the manifest first, and tails opened
// while that refresh runs share the next one (single-flight: N tails
// opened together cost one or two refreshes, not N). It then follows the
// reader's view: with start(), a background thread refreshes the manifest
// and wakes the tails as each new log entry is applied (not at the end of
// the refresh); without it, waiting tails refresh by themselves (at their
// TailOptions::poll_interval when set), one refresh per interval however
// many tails wait. Either way the interval adapts: ReaderOptions::
// refresh_interval_min while entries keep appearing, doubling up to
// refresh_interval (1 s when it is 0) when idle. Any number of tails may run at once, each on its
// caller's thread (tail()) or on its own thread (subscribe()).
//
// Delivery is at-least-once across process restarts when the consumer
// stores the cursor after handling an event (the sequence in changes
// mode, the key in keys mode) and exactly-once within one tail.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "isle/reader.h"

namespace isle {

enum class TailMode { kChanges, kKeys };
enum class ChangeOp { kPut, kDelete };

struct ChangeEvent {
  // The write's sequence number (keys mode: of the version read).
  uint64_t seq = 0;
  ChangeOp op = ChangeOp::kPut;
  std::string key;
  std::string value;  // empty for deletes
  // When the put was written with a TTL (unix ms). Changes mode reports
  // puts that have expired since, too: the write happened.
  std::optional<int64_t> expires_at_ms;
  friend bool operator==(const ChangeEvent&, const ChangeEvent&) = default;
};

struct TailOptions {
  TailMode mode = TailMode::kChanges;
  // Key filter (both modes).
  std::string prefix;
  std::string min_key;                 // inclusive
  std::optional<std::string> max_key;  // inclusive
  std::optional<std::string> end_key;  // exclusive
  // kChanges: deliver writes with a sequence above this one. nullopt =
  // from now on (the newest write the view holds). 0 = all history kept.
  std::optional<uint64_t> after_seq;
  // kKeys: deliver keys above this one. nullopt = from the start of the
  // range.
  std::optional<std::string> after_key;
  // How often this tail, waiting for news without the background refresh
  // (no start()), refreshes the view by itself. nullopt = adaptive, as
  // start()'s loop: between the reader's refresh_interval_min and
  // refresh_interval (1 s when it is 0). When set (fixed): above 0 and at most
  // TailingReader::kMaxPollInterval, else InvalidArgument. With start()
  // the background refresh paces every tail and this is not used.
  std::optional<std::chrono::milliseconds> poll_interval;
  // true: the tail starts from a view refreshed after the call began, so
  // it holds every write acknowledged before it (one shared refresh, see
  // the header comment). false: it starts from the current view with no
  // store request, for a consumer that has just called refresh() itself or
  // serves many tails from one view (tailerd's hub).
  bool refresh_first = true;
};

// Callbacks of a TailingReader (open()). Each runs on the thread that ran
// the refresh (the background thread, a tail's thread, or the caller of
// refresh()), after the refresh (tails may already be delivering the
// entries it applied: they are woken entry by entry) and before a tail
// waiting for that refresh to end (its starting view, refresh()) goes on;
// calls never overlap. They must be quick, must not block or throw,
// and must not call refresh(), start(), stop() or tail() of this reader.
struct TailingReaderOptions {
  // A refresh succeeded; the argument is the next log position the view
  // would read (ManifestInfo::log_position).
  std::function<void(uint64_t log_position)> on_refresh;
  // A refresh failed (the view stays as it was; the next round retries).
  std::function<void(const Status&)> on_refresh_error;
};

// Returns false to end the tail.
using TailHandler = std::function<bool(const ChangeEvent&)>;
// Hears a tail's cursor once it has delivered all its view holds; returns
// false to end the tail (see TailingReader::tail).
using CaughtUpHandler = std::function<bool(uint64_t cursor)>;

// A consistent starting point for a materialised view: every live key of
// the range as of one view, and the change-feed cursor of exactly that
// view. Apply the snapshot, then tail kChanges with after_seq = cursor.
struct Bootstrap {
  std::unique_ptr<Iterator> snapshot;  // already positioned at the first key
  uint64_t cursor = 0;
};

// A tail running on its own thread, delivering into a bounded queue. When
// the queue is full the tail waits (nothing is dropped).
class TailChannel {
 public:
  class Impl;
  explicit TailChannel(std::unique_ptr<Impl> impl);
  ~TailChannel();  // close()s
  TailChannel(const TailChannel&) = delete;
  TailChannel& operator=(const TailChannel&) = delete;

  // The next event; nullopt when none arrived within `timeout`. Once the
  // tail has ended and the queue is drained: its error (for example
  // ChangeCursorExpired), Stopped after the reader's stop(), or Aborted
  // after close().
  Result<std::optional<ChangeEvent>> next(std::chrono::milliseconds timeout);
  // Ends the tail and waits for its thread.
  void close();

 private:
  std::unique_ptr<Impl> impl_;
};

struct TailingReaderStats {
  uint64_t log_entries_read = 0;   // log entries the feed fetched itself
  uint64_t log_entries_cached = 0; // served from what the reader replayed
  uint64_t sst_reads = 0;          // L0 SSTs fetched for the change feed
  uint64_t sst_cache_hits = 0;     // ... served from the last few fetched
  uint64_t events = 0;             // events delivered, all tails together
  uint64_t cursor_searches = 0;    // resumes that searched the log
  uint64_t transient_errors = 0;   // store outages a tail waited out
};

class TailingReader {
 public:
  class Impl;
  // start()'s idle interval when ReaderOptions::refresh_interval is 0.
  static constexpr std::chrono::milliseconds kDefaultRefreshInterval{1000};
  // The busy interval when ReaderOptions::refresh_interval_min is not set
  // (docs/tailing.md, "Polling").
  static constexpr std::chrono::milliseconds kDefaultRefreshIntervalMin{10};
  // The longest TailOptions::poll_interval.
  static constexpr std::chrono::milliseconds kMaxPollInterval{3'600'000};

  // Opens like Reader::open. Does not start the background refresh.
  static Result<std::unique_ptr<TailingReader>> open(ObjectStorePtr store, ReaderOptions options,
                                                     TailingReaderOptions tailing = {});
  explicit TailingReader(std::shared_ptr<Impl> impl);
  ~TailingReader();  // stop()s
  TailingReader(const TailingReader&) = delete;
  TailingReader& operator=(const TailingReader&) = delete;

  // Background refresh, adaptive (ReaderOptions::refresh_interval_min):
  // every refresh_interval (kDefaultRefreshInterval, 1 s, when it is 0)
  // while idle, every refresh_interval_min plus one GET while new log
  // entries keep appearing. Idempotent.
  Status start();
  // Stops the background refresh and ends every running tail: tail()
  // returns Stopped, channels report Stopped. start() may be called again;
  // tails opened after stop() run normally.
  void stop();
  // Refreshes and wakes the tails; returns once a refresh that started
  // after this call has finished (shared with tails opening meanwhile).
  Status refresh();
  // Clock time (unix ms) of the last successful refresh (open counts).
  int64_t last_refresh_ms() const;

  // The underlying Reader, for reads sharing the tails' view (valid as long
  // as this object). Refresh through this object, not the Reader, so that
  // tails wake and the callbacks run.
  Reader& reader();

  // Reads, exactly as Reader's.
  Result<std::optional<std::string>> get(std::string_view key);
  Result<std::vector<std::optional<std::string>>> multi_get(const std::vector<std::string>& keys);
  Result<std::vector<KeyValue>> scan(std::string_view min, std::string_view max);
  Result<std::vector<KeyValue>> scan_limit(std::string_view min, std::string_view max,
                                           size_t limit);
  Result<std::vector<KeyValue>> scan(std::string_view min, std::string_view max,
                                     UpperBound upper);
  Result<std::vector<KeyValue>> scan_limit(std::string_view min, std::string_view max,
                                           size_t limit, UpperBound upper);
  std::unique_ptr<Iterator> iterator(const IteratorOptions& options = {});
  ManifestInfo manifest() const;
  ReaderStats reader_stats() const;
  TailingReaderStats stats() const;

  // Runs a tail on this thread until the handler returns false (then OK),
  // stop() (then Stopped) or an error: ChangeCursorExpired when after_seq
  // is older than the kept history, Corruption for unreadable objects, a
  // permanent store error. InvalidArgument for options that do not fit the
  // mode. Transient store errors (an outage outlasting the store's
  // retries), also in the starting refresh, are waited out: the tail
  // retries every refresh interval from the last delivered event.
  Status tail(const TailOptions& options, const TailHandler& handler);
  // The same, and after each round that delivered everything the current
  // view holds, `caught_up` hears the tail's cursor (changes mode: every
  // write up to it has been delivered or filtered out; keys mode: 0) and
  // returns whether to go on waiting for news. Returning false ends the
  // tail with OK. For consumers that serve many tails at once: a hub
  // fanning one tail out, or a catch-up that hands over once it reaches
  // the hub.
  Status tail(const TailOptions& options, const TailHandler& handler,
              const CaughtUpHandler& caught_up);
  // The same on a background thread, into a queue of `capacity` events.
  Result<std::unique_ptr<TailChannel>> subscribe(const TailOptions& options,
                                                 size_t capacity = 1024);
  // Whether a changes-mode tail could resume after `after_seq` from the
  // current view: OK, or ChangeCursorExpired when that history is gone
  // (a server answers 410 before it starts streaming). Reads only what
  // locating the cursor needs; starts nothing.
  Status check_cursor(uint64_t after_seq);
  // A snapshot of the options' key range and the matching cursor.
  Result<Bootstrap> bootstrap(const TailOptions& range);

 private:
  std::shared_ptr<Impl> impl_;  // shared with running channels
};

}  // namespace isle
