// TailingReader: the change feed and key-ordered tails over a Reader
// (DESIGN §8; contract in include/isle/tailing_reader.h, format facts in
// docs/tailing.md).
//
// The change feed walks the manifest log in position order. A log entry
// is a "data entry" when it is a valid writer add_sstable; valid data
// entries carry strictly increasing sequence ranges (one writer at a
// time, a new writer continues above everything committed, a superseded
// writer's late entries are invalid). So a cursor (the last sequence
// delivered) maps to a log position, and the feed is: for each data entry
// from that position on, read its L0 SST and deliver its entries with a
// sequence above the cursor, in sequence order.
//
// Inline flushes: an add_sstable whose SST travels inside the entry
// (SstMeta::inline_data) is a data entry like any other, read from those
// bytes (no GET: there is no object), checked every time. A `materialize`
// entry, which rewrites inline SSTs into one L0 object, is not a data
// entry: its writes were delivered from the inline entries, so it is never
// delivered and never moves a cursor. A resumed cursor reads an inline
// flush from its log entry; a collected entry is history gone, as below.
//
// Where entries come from: the reader's own replay reports every entry it
// applies (ReaderAccess listener) into a bounded cache, so a tail that
// keeps up costs no requests beyond the reader's refresh. Older positions
// (a resumed cursor) are read from manifest/log/ directly; below
// log_seq_start their validity is judged with the writer claims the state
// remembers (ManifestState::writer_claims).
//
// Chained entries (several flushes in flight): a chained add_sstable is
// valid only where the data_seq before it equals its prev_data_seq
// (replay's kChainBroken). Read from storage, it is judged here: the walk
// carries the data_seq of the last data entry it accepted; a search steps
// back to the nearest judged data entry (data_seq_before). Where that meets
// collected history the oldest kept chained entry is taken to chain onto
// its prev_data_seq (why that is safe: data_seq_before, docs/tailing.md).
//
// No silent gaps: history is gone when a log entry or an SST the walk
// needs is missing, or when the first kept data entry says data existed
// before it that the cursor has not seen (prev_data_seq > cursor). All of
// these are ChangeCursorExpired.
//
// Timeline of a resume while GC trims history:
//   tail: locate(cursor) finds position p (log/p exists)
//   GC:   deletes log/p and the SST it names (older than change_retention)
//   tail: reads log/p or its SST -> 404 -> ChangeCursorExpired
// The tail never skips p: a 404 is never read as "nothing there".
//
// Refreshes: every one goes through a RefreshGate (single-flight). A tail
// starts from a refresh that began after it was opened (so its view holds
// every write acknowledged before it; tails opening together share it);
// the background loop and waiting tails join a running refresh instead.
// stop() bumps a generation: tails of an older generation end with
// Stopped. The queue-and-thread channel is in tail_channel.cc.
#include "isle/tailing_reader.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <list>
#include <map>
#include <mutex>
#include <thread>

#include "format/internal_key.h"
#include "format/sst_reader.h"
#include "format/sst_source.h"
#include "lsm/reader_access.h"
#include "lsm/sst_verify.h"
#include "manifest/manifest_codec.h"
#include "tail/key_range.h"
#include "tail/refresh_gate.h"
#include "tail/sst_prefetch.h"
#include "tail/tail_runner.h"
#include "util/background_loop.h"
#include "util/poll_schedule.h"

namespace isle {

namespace {

// What the feed needs to know about one log position.
struct FeedEntry {
  bool data = false;         // a valid writer add_sstable (not materialize)
  SstMeta sst;               // when data: an SST object, or inline (bytes in the entry)
  uint64_t prev_data_seq = 0;
  uint64_t data_hi = 0;      // when data: the highest seq_hi it adds (data_seq after it)
  // False for a chained add_sstable read from storage: `data` says only
  // that its epoch is valid; it is data only if the data_seq of the state
  // just before it equals prev_data_seq (replay's kChainBroken rule), which
  // judge() decides. Entries heard from the reader's replay are judged.
  bool judged = true;
};

// `valid`: replay applied the entry (judged = true), or its epoch is the
// writer epoch at its position (judged = false: chained entries are still
// to be judged against the data_seq before them).
FeedEntry feed_entry(const LogEntry& e, bool valid, bool judged) {
  FeedEntry f;
  f.data = valid && e.role == Role::kWriter && e.op == LogOp::kAddSstable && !e.added.empty();
  if (f.data) {
    f.sst = e.added.front();
    f.prev_data_seq = e.prev_data_seq;
    for (const auto& s : e.added) f.data_hi = std::max(f.data_hi, s.seq_hi);
    f.judged = judged || !e.chained;
  }
  return f;
}

// Judges a chained entry as replay does, given the data_seq of the state
// just before it; returns the data_seq after it.
uint64_t judge(FeedEntry& f, uint64_t data_seq_before) {
  if (!f.judged) {
    f.data = f.data && f.prev_data_seq == data_seq_before;
    f.judged = true;
  }
  return f.data ? std::max(data_seq_before, f.data_hi) : data_seq_before;
}

constexpr size_t kEntryCacheSize = 4096;
// Log positions the replay reads ahead of each entry it finds, in parallel
// (lsm/read_ahead_log.h): at most this many extra GETs in flight.
constexpr uint64_t kLogReadAhead = 2;
// Inline SST bytes the entry cache may hold (older entries are evicted
// and read again from the log when a tail needs them).
constexpr size_t kEntryCacheInlineBytes = 32u << 20;
// Verified L0 SST bytes the change feed keeps (see fetch_sst).
constexpr size_t kSstCacheBytes = 32u << 20;

}  // namespace

class TailingReader::Impl final : public TailRunner {
 public:
  Impl(ReaderOptions o, TailingReaderOptions t)
      : o_(std::move(o)), to_(std::move(t)), clock_(o_.clock ? o_.clock : Clock::system()) {}

  ~Impl() { stop(); }

  Status open(ObjectStorePtr store) {
    ReaderOptions ro = o_;
    ro.refresh_interval = std::chrono::milliseconds(0);  // our loop refreshes
    auto r = ReaderAccess::open(
        std::move(store), ro, [this](const LogEntry& e, bool applied) { remember(e, applied); },
        kLogReadAhead);
    if (!r.ok()) return r.status();
    reader_ = std::move(*r);
    store_ = ReaderAccess::store(*reader_);
    storage_ = ReaderAccess::manifest_storage(*reader_);
    // The feed reads L0 SSTs itself, so it checks them as the Reader does.
    verify_sha256_ = o_.verify_sst_sha256;
    if (!o_.verify_public_key_pem.empty()) {
      auto v = Ed25519KeyRing::from_pem(o_.verify_public_key_pem);
      if (!v.ok()) return v.status().with_context("tailing reader verify_public_key_pem");
      verifier_ = std::move(*v);
    }
    last_refresh_ms_ = clock_->now_ms();
    return Status::OK();
  }

  Reader& reader() { return *reader_; }

  // ---- refresh and wake-ups ------------------------------------------------

  // The idle (longest) interval between refreshes.
  std::chrono::milliseconds refresh_interval() const {
    return o_.refresh_interval.count() > 0 ? o_.refresh_interval
                                           : TailingReader::kDefaultRefreshInterval;
  }
  // The busy (shortest) one; PollSchedule caps it at refresh_interval().
  std::chrono::milliseconds refresh_interval_min() const {
    return o_.refresh_interval_min.value_or(TailingReader::kDefaultRefreshIntervalMin);
  }

  uint64_t view_pos() const { return ReaderAccess::state(*reader_)->next_pos; }

  Status start() {
    // Adaptive (util/poll_schedule.h): a round "found entries" when the
    // view moved since the previous round, by this refresh or any other
    // (a tail's start, refresh()).
    auto sched = std::make_shared<PollSchedule>(refresh_interval_min(), refresh_interval());
    auto last_pos = std::make_shared<uint64_t>(view_pos());
    refresher_.start(
        [this, sched, last_pos]() -> std::optional<std::chrono::milliseconds> {
          // Joins a refresh a tail is running now. Errors keep the old
          // view; the next round retries.
          (void)gate_.any();
          const uint64_t pos = view_pos();
          const bool found = pos != *last_pos;
          *last_pos = pos;
          return sched->next(found, std::chrono::steady_clock::now());
        },
        sched->current());
    return Status::OK();
  }

  void stop() {
    {
      std::lock_guard lk(mu_);
      stop_gen_++;
    }
    cv_.notify_all();
    refresher_.stop();
  }

  // A refresh that started after this call (shared, see RefreshGate).
  Status refresh() { return gate_.fresh(); }

  // One refresh; only ever run by gate_, so never two at once and the
  // callbacks never overlap.
  Status refresh_once() {
    auto before = ReaderAccess::state(*reader_);
    Status s = reader_->refresh();
    {
      std::lock_guard lk(mu_);
      last_self_refresh_ = std::chrono::steady_clock::now();
    }
    if (!s.ok()) {
      if (to_.on_refresh_error) to_.on_refresh_error(s);
      return s;
    }
    last_refresh_ms_ = clock_->now_ms();
    auto after = ReaderAccess::state(*reader_);
    if (after != before) {
      {
        std::lock_guard lk(mu_);
        version_++;
      }
      cv_.notify_all();
    }
    if (to_.on_refresh) to_.on_refresh(after->next_pos);
    return Status::OK();
  }

  void wake_all() override {
    { std::lock_guard lk(mu_); }
    cv_.notify_all();
  }

  int64_t last_refresh_ms() const { return last_refresh_ms_; }

  TailingReaderStats stats() const {
    TailingReaderStats s;
    s.log_entries_read = log_reads_;
    s.log_entries_cached = log_cached_;
    s.sst_reads = sst_reads_;
    s.sst_cache_hits = sst_cache_hits_;
    s.events = events_;
    s.cursor_searches = searches_;
    s.transient_errors = transient_errors_;
    return s;
  }

  // ---- tails ----------------------------------------------------------------

  // `stop_gen`: the stop() generation the tail belongs to (a channel's
  // is taken when it is subscribed, so a stop() before its thread runs
  // still ends it); nullopt = now.
  Status run_tail(const TailOptions& o, const TailHandler& handler,
                  const std::atomic<bool>* cancel, const CaughtUpHandler* caught_up = nullptr,
                  std::optional<uint64_t> stop_gen = std::nullopt) override {
    ISLE_RETURN_IF_ERROR(validate(o));
    Tail t{o, handler, cancel, stop_gen ? *stop_gen : current_stop_gen(), caught_up};
    if (o.refresh_first) ISLE_RETURN_IF_ERROR(start_view(t));
    return o.mode == TailMode::kChanges ? tail_changes(t) : tail_keys(t);
  }

  // locate() proves the log still covers the cursor; the first SST the
  // resumed tail will read must still exist too (GC may have collected it
  // while its log entry stays). An SST in the current view exists; any
  // other one costs one HEAD.
  Status check_cursor(uint64_t after_seq) {
    auto st = ReaderAccess::state(*reader_);
    ISLE_ASSIGN_OR_RETURN(uint64_t pos, locate(after_seq, *st));
    // The first data entry from pos on is the first SST the tail reads.
    JudgedMemo memo;
    for (; pos < st->next_pos; ++pos) {
      ISLE_ASSIGN_OR_RETURN(std::optional<FeedEntry> fe, judged_at(pos, *st, memo));
      if (!fe) {
        return Status::ChangeCursorExpired(log_key(pos) + " was collected: changes after seq " +
                                           std::to_string(after_seq) + " are no longer kept");
      }
      if (!fe->data) continue;
      // An inline flush's data is in the entry just read: nothing to HEAD.
      if (fe->sst.is_inline()) return Status::OK();
      auto live = [&](const SstMeta& m) { return m.id == fe->sst.id; };
      if (std::any_of(st->l0.begin(), st->l0.end(), live)) return Status::OK();
      const std::string key = sst_key(fe->sst.id);
      auto h = store_->head(key);
      if (h.ok()) return Status::OK();
      if (h.status().is_not_found()) {
        return Status::ChangeCursorExpired(key + " (published at " + log_key(pos) +
                                           ") was collected: changes after seq " +
                                           std::to_string(after_seq) + " are no longer kept");
      }
      return h.status().with_context("change feed checking " + key);
    }
    return Status::OK();
  }

  Result<Bootstrap> bootstrap(const TailOptions& range) {
    ISLE_RETURN_IF_ERROR(validate_range(range));
    KeyRange kr(range);
    auto [it, st] = ReaderAccess::iterator_with_state(*reader_, kr.iterator_options());
    it->seek_to_first();
    Bootstrap b;
    b.snapshot = std::move(it);
    b.cursor = st->data_seq;
    return b;
  }

  static Status validate_range(const TailOptions& o) {
    if (o.max_key && o.end_key) {
      return Status::InvalidArgument("tail: give max_key (inclusive) or end_key (exclusive), not both");
    }
    return Status::OK();
  }

  uint64_t current_stop_gen() override {
    std::lock_guard lk(mu_);
    return stop_gen_;
  }

  static Status validate(const TailOptions& o) {
    ISLE_RETURN_IF_ERROR(validate_range(o));
    if (o.mode == TailMode::kKeys && o.after_seq) {
      return Status::InvalidArgument("tail: after_seq applies to the changes mode, not keys");
    }
    if (o.mode == TailMode::kChanges && o.after_key) {
      return Status::InvalidArgument("tail: after_key applies to the keys mode, not changes");
    }
    if (o.poll_interval &&
        (o.poll_interval->count() <= 0 || *o.poll_interval > TailingReader::kMaxPollInterval)) {
      return Status::InvalidArgument("tail: poll_interval must be above 0 and at most 1 h, not " +
                                     std::to_string(o.poll_interval->count()) + " ms");
    }
    return Status::OK();
  }

 private:
  struct Tail {
    const TailOptions& o;
    const TailHandler& handler;
    const std::atomic<bool>* cancel;
    uint64_t stop_gen;
    const CaughtUpHandler* caught_up;  // may be null
  };

  bool ended(const Tail& t) {
    if (t.cancel && t.cancel->load()) return true;
    std::lock_guard lk(mu_);
    return stop_gen_ != t.stop_gen;
  }

  // What a tail that ended returns: Stopped when stop() ended it, else OK
  // (its handler or channel ended it).
  Status end_status(const Tail& t) {
    std::lock_guard lk(mu_);
    if (stop_gen_ != t.stop_gen) return Status::Stopped("the tailing reader was stopped");
    return Status::OK();
  }

  // How long a tail waits for news before it refreshes by itself.
  std::chrono::milliseconds poll_interval(const Tail& t) const {
    return t.o.poll_interval ? *t.o.poll_interval : refresh_interval();
  }

  // The tail's starting view: a refresh that started after the tail was
  // opened, shared with every tail opening meanwhile. A transient failure
  // is waited out like one during the tail (every poll interval).
  Status start_view(const Tail& t) {
    for (;;) {
      if (ended(t)) return end_status(t);
      Status s = gate_.fresh();
      if (s.ok() || !s.is_retryable()) return s;
      transient_errors_++;
      std::unique_lock lk(mu_);
      cv_.wait_for(lk, poll_interval(t), [&] {
        return stop_gen_ != t.stop_gen || (t.cancel && t.cancel->load());
      });
    }
  }

  uint64_t version() {
    std::lock_guard lk(mu_);
    return version_;
  }

  // Waits until the view changes past `seen`, the tail ends, or a refresh
  // interval passes; without the background loop the tail refreshes, at
  // its poll_interval when it has one, else adaptively (self_sched_).
  void wait_for_news(const Tail& t, uint64_t seen) {
    std::chrono::milliseconds interval = refresh_interval();
    if (!refresher_.running()) {
      std::lock_guard lk(mu_);
      interval = t.o.poll_interval ? *t.o.poll_interval : self_sched_.current();
    }
    {
      std::unique_lock lk(mu_);
      cv_.wait_for(lk, interval, [&] {
        return version_ != seen || stop_gen_ != t.stop_gen || (t.cancel && t.cancel->load());
      });
      if (version_ != seen || stop_gen_ != t.stop_gen) return;
    }
    if (refresher_.running() || ended(t)) return;
    // No background refresh: the first waiting tail whose interval is up
    // refreshes for all of them (one refresh per interval, not per tail;
    // any refresh counts, also one a tail opening ran).
    const auto now = std::chrono::steady_clock::now();
    {
      std::lock_guard lk(mu_);
      if (now - last_self_refresh_ < interval) return;
    }
    const uint64_t before = view_pos();
    (void)gate_.any();  // an error: try again next round
    const uint64_t after = view_pos();
    std::lock_guard lk(mu_);
    self_sched_.next(after != before, std::chrono::steady_clock::now());
  }

  bool deliver(const Tail& t, const ChangeEvent& e) {
    events_++;
    return t.handler(e);
  }

  // -- keys mode --

  // Both modes: run `step` (deliver what the view holds) after each view
  // change until the tail ends. A store error that is still transient
  // after the store's own retries (an outage) is waited out: the next
  // round starts again from the last delivered event, so nothing is lost
  // or repeated. Other errors end the tail.
  // After a round that delivered all the view held, t.caught_up (if any)
  // hears the tail's cursor and may end the tail.
  template <typename Step>
  Status follow(const Tail& t, Step step, const uint64_t* cursor) {
    for (;;) {
      if (ended(t)) return end_status(t);
      const uint64_t seen = version();
      bool stop = false;
      Status s = step(&stop);
      if (stop) return end_status(t);
      if (!s.ok()) {
        if (!s.is_retryable()) return s;
        transient_errors_++;
      } else if (t.caught_up && !(*t.caught_up)(cursor ? *cursor : 0)) {
        return Status::OK();
      }
      wait_for_news(t, s.ok() ? seen : version());
    }
  }

  Status tail_keys(const Tail& t) {
    std::optional<std::string> last = t.o.after_key;
    return follow(t, [&](bool* stop) -> Status {
      KeyRange kr(t.o, last);
      if (kr.empty()) return Status::OK();
      auto it = reader_->iterator(kr.iterator_options());
      for (it->seek_to_first(); it->valid(); it->next()) {
        ChangeEvent e;
        e.seq = it->sequence();
        e.key = std::string(it->key());
        e.value = std::string(it->value());
        if (uint64_t exp = it->expires_at_ms()) e.expires_at_ms = static_cast<int64_t>(exp);
        last = e.key;
        if (!deliver(t, e) || ended(t)) {
          *stop = true;
          return Status::OK();
        }
      }
      return it->status();
    }, nullptr);
  }

  // -- changes mode --

  Status tail_changes(const Tail& t) {
    KeyRange kr(t.o);
    auto first = ReaderAccess::state(*reader_);
    uint64_t cursor = t.o.after_seq.value_or(first->data_seq);
    std::optional<uint64_t> pos;
    // The data_seq of the state just before *pos, once known: a chained
    // entry is data only if its prev_data_seq equals it (judge()).
    std::optional<uint64_t> walk_seq;
    if (!t.o.after_seq) {
      pos = first->next_pos;
      walk_seq = first->data_seq;
    }
    return follow(t, [&](bool* stop) -> Status {
      auto st = ReaderAccess::state(*reader_);
      if (!pos) {
        ISLE_ASSIGN_OR_RETURN(uint64_t p, locate(cursor, *st));
        pos = p;
      }
      SstPrefetcher ahead(
          [this, c = cursor](const SstMeta& m, uint64_t p) { prefetch_sst(m, p, c); });
      uint64_t scan = *pos + 1;  // the next position to consider fetching ahead
      while (*pos < st->next_pos) {
        if (ended(t)) {
          *stop = true;
          return Status::OK();
        }
        fetch_ahead(ahead, &scan, *pos, cursor);
        ahead.await(*pos);
        ISLE_ASSIGN_OR_RETURN(std::optional<FeedEntry> fe, entry_at(*pos, *st));
        if (!fe) {
          return Status::ChangeCursorExpired(log_key(*pos) + " was collected: changes after seq " +
                                             std::to_string(cursor) + " are no longer kept");
        }
        if (!fe->judged && !walk_seq) {
          JudgedMemo memo;
          ISLE_ASSIGN_OR_RETURN(std::optional<uint64_t> before, data_seq_before(*pos, *st, memo));
          walk_seq = before.value_or(fe->prev_data_seq);
        }
        if (walk_seq) walk_seq = judge(*fe, *walk_seq);
        else if (fe->data) walk_seq = fe->data_hi;
        if (fe->data && fe->sst.seq_hi > cursor) {
          bool go_on = true;
          ISLE_RETURN_IF_ERROR(deliver_sst(t, kr, fe->sst, *pos, &cursor, &go_on));
          if (!go_on) {
            *stop = true;
            return Status::OK();
          }
          cursor = std::max(cursor, fe->sst.seq_hi);
        }
        ++*pos;
      }
      // Every write of the view is behind the cursor now (also those the
      // key filter skipped, and those of entries that were not data).
      cursor = std::max(cursor, st->data_seq);
      return Status::OK();
    }, &cursor);
  }

  // Starts fetching, on other threads (SstPrefetcher's bounds), the SSTs
  // of the data entries after the one being delivered (`at`) that the
  // tail will need: positions from *scan on, up to the newest view (also
  // entries applied since this walk began), known from the reader's
  // replay (no log GET here), above the cursor, not inline, small enough
  // for the SST cache (that is where delivery finds them) and not in it.
  void fetch_ahead(SstPrefetcher& ahead, uint64_t* scan, uint64_t at, uint64_t cursor) {
    *scan = std::max(*scan, at + 1);
    const uint64_t end = view_pos();
    for (; *scan < end; ++*scan) {
      std::optional<FeedEntry> fe;
      {
        std::lock_guard lk(cache_mu_);
        auto it = cache_.find(*scan);
        if (it == cache_.end()) return;
        fe = it->second;
      }
      if (!fe->data || fe->sst.seq_hi <= cursor || fe->sst.is_inline() ||
          fe->sst.size > kSstCacheBytes / 4 || sst_cached(fe->sst.id)) {
        continue;
      }
      if (!ahead.has_room(fe->sst.size)) return;
      ahead.start(*scan, fe->sst);
    }
  }

  bool sst_cached(const std::string& id) {
    std::lock_guard lk(sst_cache_mu_);
    for (const auto& [cached, bytes] : sst_cache_) {
      if (cached == id) return true;
    }
    return false;
  }

  // A fetch ahead: into the SST cache; errors are left for the tail's own
  // fetch of the same SST to meet.
  void prefetch_sst(const SstMeta& m, uint64_t pos, uint64_t cursor) {
    (void)fetch_sst(m, sst_key(m.id), pos, cursor);
  }

  // One L0 SST's bytes, verified (sha256 / signature as configured, else
  // the size). The last few are kept (kSstCacheBytes): many tails
  // resuming near the same cursor, or a hub and a catch-up reading the
  // same new SST, cost one GET, not one each.
  Result<std::shared_ptr<const std::string>> fetch_sst(const SstMeta& m, const std::string& key,
                                                       uint64_t pos, uint64_t cursor) {
    if (m.is_inline()) return inline_sst_bytes(m, pos);
    {
      std::lock_guard lk(sst_cache_mu_);
      for (auto it = sst_cache_.begin(); it != sst_cache_.end(); ++it) {
        if (it->first != m.id) continue;
        auto bytes = it->second;
        sst_cache_.splice(sst_cache_.begin(), sst_cache_, it);  // most recent first
        sst_cache_hits_++;
        return bytes;
      }
    }
    auto got = store_->get(key);
    if (!got.ok()) {
      if (got.status().is_not_found()) {
        return Status::ChangeCursorExpired(key + " (published at " + log_key(pos) +
                                           ") was collected: changes after seq " +
                                           std::to_string(cursor) + " are no longer kept");
      }
      return got.status().with_context("change feed reading " + key);
    }
    sst_reads_++;
    if (verifier_) {
      Status s = verify_sst_signature(m, *verifier_);
      if (!s.ok()) return s.with_context("change feed reading " + key);
    }
    if (verify_sha256_ || verifier_) {
      Status s = verify_sst_bytes(m, got->data);
      if (!s.ok()) return s.with_context("change feed reading " + key);
    } else if (got->data.size() != m.size) {
      return Status::Corruption(key + ": size does not match the manifest");
    }
    auto bytes = std::make_shared<const std::string>(std::move(got->data));
    if (bytes->size() <= kSstCacheBytes / 4) {
      std::lock_guard lk(sst_cache_mu_);
      sst_cache_.emplace_front(m.id, bytes);
      sst_cache_bytes_ += bytes->size();
      while (sst_cache_bytes_ > kSstCacheBytes) {
        sst_cache_bytes_ -= sst_cache_.back().second->size();
        sst_cache_.pop_back();
      }
    }
    return bytes;
  }

  // An inline flush's bytes (docs/format/manifest.md, "Inline flushes"):
  // they came with the log entry, so there is no GET and no cache. They
  // are checked on every delivery whatever the options, since it is cheap
  // (at most one small flush): sha256 and size always, and the signature
  // (isle-inline-v1: message) under verify_public_key_pem.
  Result<std::shared_ptr<const std::string>> inline_sst_bytes(const SstMeta& m, uint64_t pos) {
    const std::string where = "change feed reading inline SST " + m.id + " of " + log_key(pos);
    if (verifier_) {
      Status s = verify_sst_signature(m, *verifier_);
      if (!s.ok()) return s.with_context(where);
    }
    Status s = verify_sst_bytes(m, *m.inline_data.bytes);
    if (!s.ok()) return s.with_context(where);
    return m.inline_data.bytes;
  }

  // A blob of an inline flush that is gone while the flush is no longer
  // pending (it was materialized and that SST left the live set, so GC
  // collected the blob while the log entry stayed; docs/format/gc.md,
  // "Known limits") is history that is gone: ChangeCursorExpired. Anything
  // else keeps its status (a missing blob of live data is a loss, not an
  // expiry).
  Status blob_failed(const Status& s, const SstMeta& m, uint64_t pos, uint64_t cursor) {
    if (s.is_not_found() && m.is_inline() &&
        !ReaderAccess::state(*reader_)->is_inline_pending(m.id)) {
      return Status::ChangeCursorExpired("a blob of inline SST " + m.id + " (published at " +
                                         log_key(pos) + ") was collected: changes after seq " +
                                         std::to_string(cursor) + " are no longer kept");
    }
    return s;
  }

  // Delivers the entries of one L0 SST above *cursor, in sequence order.
  // Under verify_sst_sha256 / verify_public_key_pem the object is checked
  // like the Reader checks it before any entry is read: a mismatch ends the
  // tail with Corruption and nothing of that SST is delivered.
  Status deliver_sst(const Tail& t, const KeyRange& kr, const SstMeta& m, uint64_t pos,
                     uint64_t* cursor, bool* go_on) {
    const std::string key = m.is_inline() ? "inline SST " + m.id + " of " + log_key(pos) : sst_key(m.id);
    ISLE_ASSIGN_OR_RETURN(std::shared_ptr<const std::string> bytes, fetch_sst(m, key, pos, *cursor));
    auto sst = SstReader::open(std::make_shared<MemorySource>(std::move(bytes), key), {});
    if (!sst.ok()) return sst.status().with_context("change feed");
    struct Item {
      uint64_t seq;
      ValueKind kind;
      bool has_expiry;
      uint64_t expires;
      std::string key, payload;
    };
    std::vector<Item> items;
    auto it = (*sst)->new_iterator();
    for (it->seek_to_first(); it->valid(); it->next()) {
      ParsedInternalKey ik;
      if (!parse_internal_key(it->key(), &ik)) return Status::Corruption(key + ": bad internal key");
      if (ik.sequence <= *cursor || !kr.contains(ik.user_key)) continue;
      std::string_view payload;
      uint64_t expires = 0;
      if (!decode_entry_value(ik.has_expiry, it->value(), &payload, &expires)) {
        return Status::Corruption(key + ": bad entry value");
      }
      items.push_back(Item{ik.sequence, ik.kind, ik.has_expiry, expires, std::string(ik.user_key),
                           std::string(payload)});
    }
    if (!it->status().ok()) return it->status().with_context("change feed");
    std::sort(items.begin(), items.end(),
              [](const Item& a, const Item& b) { return a.seq < b.seq; });
    for (Item& i : items) {
      ChangeEvent e;
      e.seq = i.seq;
      e.key = std::move(i.key);
      if (i.kind == ValueKind::kDelete) {
        e.op = ChangeOp::kDelete;
      } else if (i.kind == ValueKind::kBlobRef) {
        auto v = ReaderAccess::resolve_blob(*reader_, i.payload);
        if (!v.ok()) return blob_failed(v.status(), m, pos, *cursor);
        e.value = std::move(*v);
      } else {
        e.value = std::move(i.payload);
      }
      if (i.has_expiry) e.expires_at_ms = static_cast<int64_t>(i.expires);
      *cursor = e.seq;
      if (!deliver(t, e) || ended(t)) {
        *go_on = false;
        return Status::OK();
      }
    }
    return Status::OK();
  }

  // -- log positions --

  // Hears every entry the reader's replay reads, right after it applied
  // it and installed the view holding it (lsm/reader.cc), while the
  // refresh goes on probing the next position: an applied entry wakes
  // the waiting tails now, not after the probe that ends the refresh.
  void remember(const LogEntry& e, bool applied) {
    {
      std::lock_guard lk(cache_mu_);
      FeedEntry& slot = cache_[e.pos];
      cache_inline_bytes_ -= slot.sst.inline_data.size();
      slot = feed_entry(e, applied, /*judged=*/true);
      cache_inline_bytes_ += slot.sst.inline_data.size();
      while (cache_.size() > kEntryCacheSize || cache_inline_bytes_ > kEntryCacheInlineBytes) {
        cache_inline_bytes_ -= cache_.begin()->second.sst.inline_data.size();
        cache_.erase(cache_.begin());
      }
    }
    if (!applied) return;
    {
      std::lock_guard lk(mu_);
      version_++;
    }
    cv_.notify_all();
  }

  // The feed's view of log position `pos` (< st.next_pos); nullopt when
  // the object is gone.
  Result<std::optional<FeedEntry>> entry_at(uint64_t pos, const ManifestState& st) {
    {
      std::lock_guard lk(cache_mu_);
      auto it = cache_.find(pos);
      if (it != cache_.end()) {
        log_cached_++;
        return std::optional<FeedEntry>(it->second);
      }
    }
    auto bytes = storage_->read_log(pos);
    if (!bytes.ok()) {
      if (bytes.status().is_not_found()) return std::optional<FeedEntry>();
      return bytes.status().with_context("change feed reading " + log_key(pos));
    }
    log_reads_++;
    ISLE_ASSIGN_OR_RETURN(LogEntry e, decode_entry(*bytes, log_key(pos)));
    if (e.pos != pos) return Status::Corruption(log_key(pos) + ": entry names another position");
    if (e.role != Role::kWriter || e.op != LogOp::kAddSstable) {
      return std::optional<FeedEntry>(FeedEntry{});
    }
    std::optional<uint64_t> epoch = st.writer_epoch_at(pos);
    if (!epoch) {
      return Status::ChangeCursorExpired("the writer claims before " + log_key(pos) +
                                         " are no longer remembered");
    }
    return std::optional<FeedEntry>(feed_entry(e, e.epoch == *epoch, /*judged=*/false));
  }

  // Judged entries of one walk or search, by position (each read once).
  using JudgedMemo = std::map<uint64_t, std::optional<FeedEntry>>;

  // entry_at(), with a chained entry read from storage judged: nullopt
  // when the object is gone.
  Result<std::optional<FeedEntry>> judged_at(uint64_t pos, const ManifestState& st,
                                             JudgedMemo& memo) {
    if (auto m = memo.find(pos); m != memo.end()) return m->second;
    ISLE_ASSIGN_OR_RETURN(std::optional<FeedEntry> fe, entry_at(pos, st));
    if (fe && !fe->judged) {
      ISLE_ASSIGN_OR_RETURN(std::optional<uint64_t> before, data_seq_before(pos, st, memo));
      judge(*fe, before.value_or(fe->prev_data_seq));
    }
    memo[pos] = fe;
    return fe;
  }

  // The data_seq of the state just before log position `pos`: steps back
  // to the nearest judged data entry (one heard from replay, or an
  // unchained one), or to position 1 (data_seq 0), then judges the chained
  // entries between forward, as replay would.
  //
  // Collected history (a 404 on the way back) hides the state before the
  // oldest kept chained entry: it is taken to chain onto its
  // prev_data_seq (nullopt when that entry is the one at `pos`). This is
  // safe for the feed (docs/tailing.md, "Chained entries"): locate()
  // expires a cursor below that prev_data_seq; at or above it, a
  // chain-broken entry there is either a copy of a flush the writer
  // re-sent later (same writes, delivered once, in order) or a crashed
  // writer's flush whose sequences lie in its reservation, between the
  // last applied data and the next writer's sequences, where no cursor the
  // feed hands out can fall.
  Result<std::optional<uint64_t>> data_seq_before(uint64_t pos, const ManifestState& st,
                                                  JudgedMemo& memo) {
    std::vector<std::pair<uint64_t, FeedEntry>> pending;  // unjudged, newest first
    std::optional<uint64_t> base = 0;
    for (uint64_t q = pos; q > 1;) {
      --q;
      std::optional<FeedEntry> fe;
      if (auto m = memo.find(q); m != memo.end()) {
        fe = m->second;
      } else {
        ISLE_ASSIGN_OR_RETURN(fe, entry_at(q, st));
      }
      if (!fe) {
        base = pending.empty() ? std::nullopt
                               : std::optional<uint64_t>(pending.back().second.prev_data_seq);
        break;
      }
      if (!fe->data) {
        memo[q] = fe;
        continue;
      }
      if (fe->judged) {
        memo[q] = fe;
        base = fe->data_hi;
        break;
      }
      pending.emplace_back(q, std::move(*fe));
    }
    for (auto it = pending.rbegin(); it != pending.rend(); ++it) {
      base = judge(it->second, *base);
      memo[it->first] = std::move(it->second);
    }
    return base;
  }

  // Where a cursor resumes: the position of the first data entry with
  // seq_hi > cursor, having checked that nothing between the cursor and
  // that entry was collected.
  //
  // Every position p in [1, next_pos] has a class: kMissing (collected:
  // all of these come first), kAtOrBelow (the first data entry at or
  // after p has seq_hi <= cursor) or kAbove (it has seq_hi > cursor, or
  // there is none before next_pos). Classes are ordered kMissing <
  // kAtOrBelow < kAbove along positions, so the answer is the first kAbove
  // position b, found by galloping back from the end and then bisecting.
  Result<uint64_t> locate(uint64_t cursor, const ManifestState& st) {
    const uint64_t end = st.next_pos;
    if (cursor >= st.data_seq) return end;
    searches_++;
    enum Class { kMissing, kAtOrBelow, kAbove };
    struct Probe {
      Class cls;
      std::optional<FeedEntry> first;  // the first data entry at or after p
    };
    std::map<uint64_t, Probe> memo;
    JudgedMemo entries;  // each position read (and judged) once
    auto probe = [&](uint64_t p) -> Result<Probe> {
      if (auto m = memo.find(p); m != memo.end()) return m->second;
      Probe out{kAbove, std::nullopt};
      for (uint64_t q = p; q < end; q++) {
        // A chained entry counts as data only if it chains onto the state
        // before it (judged_at), so data entries' seq_hi rise along
        // positions and the classes below stay ordered.
        ISLE_ASSIGN_OR_RETURN(std::optional<FeedEntry> fe, judged_at(q, st, entries));
        if (!fe) {
          // Collected at q: p is in the collected prefix only if q == p;
          // a hole after an existing p means GC is trimming right now.
          out.cls = kMissing;
          break;
        }
        if (fe->data) {
          out.first = fe;
          out.cls = fe->sst.seq_hi <= cursor ? kAtOrBelow : kAbove;
          break;
        }
      }
      memo[p] = out;
      return out;
    };
    // Gallop: find lo < b <= hi with class(lo) != kAbove, or reach 1.
    uint64_t hi = end;
    uint64_t lo = 0;  // 0 = "position 0", before everything (never collected)
    for (uint64_t step = 1;; step *= 2) {
      const uint64_t p = end > step ? end - step : 1;
      ISLE_ASSIGN_OR_RETURN(Probe pr, probe(p));
      if (pr.cls != kAbove) {
        lo = p;
        break;
      }
      hi = p;
      if (p == 1) break;
    }
    // Bisect (lo, hi]: class(lo) is not kAbove, class(hi) is.
    while (lo != 0 && hi - lo > 1) {
      const uint64_t mid = lo + (hi - lo) / 2;
      ISLE_ASSIGN_OR_RETURN(Probe pr, probe(mid));
      if (pr.cls == kAbove) hi = mid;
      else lo = mid;
    }
    // b is the first position whose first data entry is above the
    // cursor. It is the right start only if no data above the cursor lies
    // before it (collected, or hidden by a hole GC is cutting right now):
    // its prev_data_seq says exactly that. No data entry from b on while
    // data_seq > cursor means the newer data was collected.
    const uint64_t b = hi;
    ISLE_ASSIGN_OR_RETURN(Probe at_b, probe(b));
    if (at_b.cls == kMissing || !at_b.first || at_b.first->prev_data_seq > cursor) {
      return Status::ChangeCursorExpired("changes after seq " + std::to_string(cursor) +
                                         " are no longer kept (history starts at " +
                                         log_key(b) + " or later)");
    }
    return b;
  }

  const ReaderOptions o_;
  const TailingReaderOptions to_;
  Clock* const clock_;
  std::unique_ptr<Reader> reader_;
  ObjectStorePtr store_;
  ManifestStoragePtr storage_;
  std::optional<Ed25519KeyRing> verifier_;  // set by open(); read-only after
  bool verify_sha256_ = false;

  RefreshGate gate_{[this] { return refresh_once(); }};  // every refresh goes through it

  std::mutex mu_;  // version_, stop_gen_, last_self_refresh_, self_sched_
  std::condition_variable cv_;
  uint64_t version_ = 0;   // bumped when the view changes
  uint64_t stop_gen_ = 0;  // bumped by stop(): running tails end
  std::chrono::steady_clock::time_point last_self_refresh_{};  // the last refresh's end
  // Paces waiting tails that refresh by themselves (no start()).
  PollSchedule self_sched_{refresh_interval_min(), refresh_interval()};
  std::atomic<int64_t> last_refresh_ms_{0};

  std::mutex cache_mu_;
  std::map<uint64_t, FeedEntry> cache_;
  size_t cache_inline_bytes_ = 0;  // inline SST bytes held by cache_

  std::mutex sst_cache_mu_;
  std::list<std::pair<std::string, std::shared_ptr<const std::string>>> sst_cache_;  // newest first
  size_t sst_cache_bytes_ = 0;

  std::atomic<uint64_t> log_reads_{0}, log_cached_{0}, sst_reads_{0}, sst_cache_hits_{0}, events_{0}, searches_{0},
      transient_errors_{0};

  BackgroundLoop refresher_;  // last: stopped before the members it uses go
};

// ---- TailingReader ----------------------------------------------------------------

Result<std::unique_ptr<TailingReader>> TailingReader::open(ObjectStorePtr store,
                                                           ReaderOptions options,
                                                           TailingReaderOptions tailing) {
  auto impl = std::make_shared<Impl>(std::move(options), std::move(tailing));
  ISLE_RETURN_IF_ERROR(impl->open(std::move(store)));
  return std::make_unique<TailingReader>(std::move(impl));
}

TailingReader::TailingReader(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
TailingReader::~TailingReader() { impl_->stop(); }

Status TailingReader::start() { return impl_->start(); }
void TailingReader::stop() { impl_->stop(); }
Status TailingReader::refresh() { return impl_->refresh(); }
int64_t TailingReader::last_refresh_ms() const { return impl_->last_refresh_ms(); }

Reader& TailingReader::reader() { return impl_->reader(); }

Result<std::optional<std::string>> TailingReader::get(std::string_view key) {
  return impl_->reader().get(key);
}
Result<std::vector<std::optional<std::string>>> TailingReader::multi_get(
    const std::vector<std::string>& keys) {
  return impl_->reader().multi_get(keys);
}
Result<std::vector<KeyValue>> TailingReader::scan(std::string_view min, std::string_view max) {
  return impl_->reader().scan(min, max);
}
Result<std::vector<KeyValue>> TailingReader::scan_limit(std::string_view min,
                                                        std::string_view max, size_t limit) {
  return impl_->reader().scan_limit(min, max, limit);
}
Result<std::vector<KeyValue>> TailingReader::scan(std::string_view min, std::string_view max,
                                                  UpperBound upper) {
  return impl_->reader().scan(min, max, upper);
}
Result<std::vector<KeyValue>> TailingReader::scan_limit(std::string_view min,
                                                        std::string_view max, size_t limit,
                                                        UpperBound upper) {
  return impl_->reader().scan_limit(min, max, limit, upper);
}
std::unique_ptr<Iterator> TailingReader::iterator(const IteratorOptions& options) {
  return impl_->reader().iterator(options);
}
ManifestInfo TailingReader::manifest() const { return impl_->reader().manifest(); }
ReaderStats TailingReader::reader_stats() const { return impl_->reader().stats(); }
TailingReaderStats TailingReader::stats() const { return impl_->stats(); }

Status TailingReader::tail(const TailOptions& options, const TailHandler& handler) {
  return impl_->run_tail(options, handler, nullptr);
}

Status TailingReader::tail(const TailOptions& options, const TailHandler& handler,
                           const CaughtUpHandler& caught_up) {
  return impl_->run_tail(options, handler, nullptr, &caught_up);
}

Result<std::unique_ptr<TailChannel>> TailingReader::subscribe(const TailOptions& options,
                                                              size_t capacity) {
  if (capacity == 0) return Status::InvalidArgument("subscribe: capacity must be at least 1");
  ISLE_RETURN_IF_ERROR(Impl::validate(options));
  return open_channel(impl_, options, capacity);
}

Status TailingReader::check_cursor(uint64_t after_seq) { return impl_->check_cursor(after_seq); }

Result<Bootstrap> TailingReader::bootstrap(const TailOptions& range) {
  return impl_->bootstrap(range);
}

}  // namespace isle
