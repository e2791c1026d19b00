// tailerd's change feed and key feed over real sockets: NDJSON and
// Server-Sent Events (id: = seq, Last-Event-ID, heartbeats), resumed by
// after_seq / Last-Event-ID / after_key with nothing missing or repeated,
// a tail starting from a view that holds every acknowledged write (issue
// 14), prefix and start/end filters, deletes without a value, live follow.
#include "daemons/daemon_test.h"

namespace isle::daemontest {
namespace {

struct Event {
  uint64_t seq = 0;  // 0 in an expectation: "some seq in (previous, batch_last]"
  std::string op;
  std::string key;
  std::optional<std::string> value;
  bool expires = false;
  uint64_t batch_last = 0;  // expectation only
};

std::string describe(const Event& e) {
  std::string s = "{seq " + std::to_string(e.seq) + " " + e.op + " " + show(e.key);
  if (e.value) s += "=" + show(*e.value);
  if (e.expires) s += " expires";
  return s + "}";
}

Event to_event(const json& j) {
  Event e;
  if (!j.is_object()) {
    ADD_FAILURE() << "event is not an object: " << j.dump();
    return e;
  }
  if (j.contains("seq") && j["seq"].is_number_unsigned()) {
    e.seq = j["seq"].get<uint64_t>();
  } else {
    ADD_FAILURE() << "event without a numeric seq: " << j.dump();
  }
  e.op = j.value("op", "");
  auto k = get_bytes(j, "key");
  if (!k) ADD_FAILURE() << "event without key: " << j.dump();
  e.key = k.value_or("");
  e.value = get_bytes(j, "value");
  if (j.contains("expires_at") && !j["expires_at"].is_null()) {
    if (!j["expires_at"].is_number()) {
      ADD_FAILURE() << "expires_at is not a number: " << j.dump();
    } else {
      e.expires = j["expires_at"].get<int64_t>() > 0;
    }
  }
  return e;
}

// Reads NDJSON events until `pred` holds for the last one, or n events,
// or the deadline.
std::vector<Event> read_ndjson(HttpStream& s, size_t n, std::chrono::milliseconds timeout,
                               const std::function<bool(const Event&)>& until = nullptr) {
  std::vector<Event> out;
  auto deadline = Clock::now() + timeout;
  while (out.size() < n && Clock::now() < deadline && !s.ended()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    auto line = s.next_line(std::max(left, 1ms));
    if (!line || line->empty()) continue;
    out.push_back(to_event(parse_json(*line)));
    if (until && until(out.back())) break;
  }
  return out;
}

// Checks events against expectations: same order, ops, keys, values;
// exact seqs where known, batch members in their range; seqs increase;
// deletes carry no value.
void expect_events(const std::vector<Event>& want, const std::vector<Event>& got, const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(got.size(), want.size());
  uint64_t prev = 0;
  for (size_t i = 0; i < std::min(want.size(), got.size()); i++) {
    const Event& w = want[i];
    const Event& g = got[i];
    std::string at = "event " + std::to_string(i) + ": want " + describe(w) + ", got " + describe(g);
    EXPECT_GT(g.seq, prev) << at << " (seqs must increase: nothing repeated)";
    if (w.seq != 0) {
      EXPECT_EQ(g.seq, w.seq) << at;
    } else {
      EXPECT_LE(g.seq, w.batch_last) << at;
    }
    EXPECT_EQ(g.op, w.op) << at;
    EXPECT_EQ(g.key, w.key) << at;
    if (w.op == "delete") {
      EXPECT_FALSE(g.value.has_value()) << at << " (a delete carries no value)";
    } else {
      EXPECT_EQ(g.value, w.value) << at;
    }
    EXPECT_EQ(g.expires, w.expires) << at;
    prev = g.seq;
    if (::testing::Test::HasFailure() && i > 3) break;  // one broken stream, not a hundred lines
  }
}

std::vector<Event> filter(const std::vector<Event>& all, const std::function<bool(const std::string&)>& keep) {
  std::vector<Event> out;
  for (const Event& e : all) {
    if (keep(e.key)) out.push_back(e);
  }
  return out;
}

class TailTest : public DaemonTest {
 protected:
  void SetUp() override {
    writer_ = &add("writerd");
    tailer_ = &add("tailerd");
    ASSERT_TRUE(writer_->start());
    ASSERT_TRUE(tailer_->start());
    w_ = std::make_unique<HttpClient>(writer_->client());
  }

  void put(const std::string& key, const std::string& value, const std::string& query = "") {
    HttpResult r = w_->put(kv_path(key, query), value);
    Event e{seq_of(r), "put", key, value, query.find("ttl=") != std::string::npos};
    ASSERT_NE(e.seq, 0u);
    history_.push_back(e);
    model_[key] = value;
  }
  void del(const std::string& key) {
    HttpResult r = w_->del(kv_path(key));
    Event e{seq_of(r), "delete", key, std::nullopt, false};
    ASSERT_NE(e.seq, 0u);
    history_.push_back(e);
    model_.erase(key);
  }

  // A history with updates, deletes (also of a key that never existed),
  // a TTL, a binary key and an atomic batch.
  void write_history() {
    for (int i = 0; i < 12; i++) {
      char k[16];
      std::snprintf(k, sizeof k, "a/%02d", i);
      ASSERT_NO_FATAL_FAILURE(put(k, "va" + std::to_string(i)));
    }
    for (int i = 0; i < 8; i++) {
      char k[16];
      std::snprintf(k, sizeof k, "b/%02d", i);
      ASSERT_NO_FATAL_FAILURE(put(k, "vb" + std::to_string(i)));
    }
    ASSERT_NO_FATAL_FAILURE(put(std::string("b/\xff\x00", 4), std::string("\x01\x02\xfe", 3)));
    ASSERT_NO_FATAL_FAILURE(del("a/03"));
    ASSERT_NO_FATAL_FAILURE(put("a/05", "va5-updated", "ttl=1h"));
    ASSERT_NO_FATAL_FAILURE(del("a/zz-never-existed"));
    ASSERT_NO_FATAL_FAILURE(put("a/empty", ""));
    // A batch of distinct keys: one event per line, in line order.
    std::string body = R"({"op":"put","key":"b/10","value":"vb10"})" "\n"
                       R"({"op":"put","key":"b/11","value_b64":")" + b64_encode("\xff\xff") + "\"}\n"
                       R"({"op":"delete","key":"b/00"})" "\n";
    HttpResult r = w_->post("/v1/batch", body);
    ASSERT_EQ(r.status, 200) << r.describe();
    uint64_t last = parse_json(r.body).value("last_seq", uint64_t{0});
    ASSERT_GT(last, history_.back().seq);
    history_.push_back(Event{0, "put", "b/10", "vb10", false, last});
    history_.push_back(Event{0, "put", "b/11", "\xff\xff", false, last});
    history_.push_back(Event{0, "delete", "b/00", std::nullopt, false, last});
    model_["b/10"] = "vb10";
    model_["b/11"] = "\xff\xff";
    model_.erase("b/00");
  }

  // Waits until tailerd's view holds the newest write: its change feed
  // delivers it (a keys feed opened afterwards reads a view at least this
  // new).
  void wait_tailer_caught_up() {
    uint64_t last = 0;
    for (const Event& e : history_) last = std::max(last, e.seq ? e.seq : e.batch_last);
    auto s = HttpStream::open(tailer_->address(), "/v1/tail?after_seq=" + std::to_string(last - 1));
    ASSERT_EQ(s->status(), 200) << s->error() << " " << s->body();
    std::vector<Event> got = read_ndjson(*s, 100, 15s, [&](const Event& e) { return e.seq >= last; });
    ASSERT_FALSE(got.empty()) << "tailerd never delivered seq " << last;
    ASSERT_EQ(got.back().seq, last);
  }

  DaemonProcess* writer_ = nullptr;
  DaemonProcess* tailer_ = nullptr;
  std::unique_ptr<HttpClient> w_;
  std::vector<Event> history_;
  Model model_;
};

TEST_F(TailTest, NdjsonChangeFeedFollowsLiveAndResumesAfterSeq) {
  ASSERT_NO_FATAL_FAILURE(write_history());
  auto s = HttpStream::open(tailer_->address(), "/v1/tail?mode=changes&after_seq=0");
  ASSERT_EQ(s->status(), 200) << s->error() << " " << s->body();
  EXPECT_NE(s->head().header("content-type").find("ndjson"), std::string::npos)
      << "Content-Type: " << s->head().header("content-type");
  std::vector<Event> got = read_ndjson(*s, history_.size(), 15s);
  expect_events(history_, got, "the whole history after_seq=0");
  ASSERT_FALSE(HasFailure());

  // Live follow: writes made while the stream is open arrive, in order.
  size_t before = history_.size();
  ASSERT_NO_FATAL_FAILURE(put("c/live", "1"));
  ASSERT_NO_FATAL_FAILURE(del("c/live"));
  ASSERT_NO_FATAL_FAILURE(put("c/live2", "2"));
  std::vector<Event> live = read_ndjson(*s, 3, 10s);
  expect_events(std::vector<Event>(history_.begin() + before, history_.end()), live, "live follow");
  got.insert(got.end(), live.begin(), live.end());
  s->close();

  // Resume after the 10th event: exactly the events after it.
  uint64_t cursor = got[9].seq;
  auto r = HttpStream::open(tailer_->address(), "/v1/tail?after_seq=" + std::to_string(cursor));
  ASSERT_EQ(r->status(), 200) << r->error() << " " << r->body();
  std::vector<Event> rest = read_ndjson(*r, got.size() - 10, 15s);
  expect_events(std::vector<Event>(got.begin() + 10, got.end()), rest, "resumed after_seq=" + std::to_string(cursor));
  // And it stays open: a new write still arrives, as the next event.
  ASSERT_NO_FATAL_FAILURE(put("c/after-resume", "3"));
  std::vector<Event> next = read_ndjson(*r, 1, 10s);
  expect_events({history_.back()}, next, "live after resume");
}

TEST_F(TailTest, ServerSentEventsResumeByLastEventIdAndSendHeartbeats) {
  ASSERT_NO_FATAL_FAILURE(write_history());
  const Headers sse = {{"Accept", "text/event-stream"}};
  auto s = HttpStream::open(tailer_->address(), "/v1/tail?after_seq=0", sse);
  ASSERT_EQ(s->status(), 200) << s->error() << " " << s->body();
  EXPECT_EQ(s->head().header("content-type").rfind("text/event-stream", 0), 0u)
      << "Content-Type: " << s->head().header("content-type");

  // Reads SSE events (skipping comments); checks id == seq.
  auto read_sse = [](HttpStream& st, size_t n, std::chrono::milliseconds timeout, std::vector<std::string>* ids) {
    std::vector<Event> out;
    auto deadline = Clock::now() + timeout;
    while (out.size() < n && Clock::now() < deadline && !st.ended()) {
      auto e = st.next_event(100ms);
      if (!e || e->is_comment()) continue;
      EXPECT_TRUE(e->has_id) << "SSE event without id: " << e->data;
      EXPECT_TRUE(e->has_data) << "SSE event without data, id " << e->id;
      Event ev = to_event(parse_json(e->data));
      EXPECT_EQ(e->id, std::to_string(ev.seq)) << "id: must be the seq; data " << e->data;
      ids->push_back(e->id);
      out.push_back(ev);
    }
    return out;
  };

  std::vector<std::string> ids;
  std::vector<Event> first = read_sse(*s, 8, 15s, &ids);
  expect_events(std::vector<Event>(history_.begin(), history_.begin() + 8), first, "SSE first 8");
  ASSERT_EQ(ids.size(), 8u);
  s->close();

  // An EventSource reconnects with Last-Event-ID and no after_seq.
  Headers resume = sse;
  resume.emplace_back("Last-Event-ID", ids.back());
  auto r = HttpStream::open(tailer_->address(), "/v1/tail", resume);
  ASSERT_EQ(r->status(), 200) << r->error() << " " << r->body();
  std::vector<std::string> ids2;
  std::vector<Event> rest = read_sse(*r, history_.size() - 8, 15s, &ids2);
  expect_events(std::vector<Event>(history_.begin() + 8, history_.end()), rest,
                "SSE resumed with Last-Event-ID " + ids.back());

  // An explicit after_seq wins over Last-Event-ID.
  Headers both = resume;
  auto w = HttpStream::open(tailer_->address(), "/v1/tail?after_seq=" + ids[2], both);
  ASSERT_EQ(w->status(), 200) << w->error() << " " << w->body();
  std::vector<std::string> ids_w;
  std::vector<Event> from3 = read_sse(*w, 2, 10s, &ids_w);
  expect_events(std::vector<Event>(history_.begin() + 3, history_.begin() + 5), from3,
                "after_seq=" + ids[2] + " with Last-Event-ID " + ids.back());
  w->close();

  // Caught up and idle: a heartbeat comment within a few intervals (1 s).
  bool heartbeat = false;
  auto deadline = Clock::now() + 5s;
  while (!heartbeat && Clock::now() < deadline && !r->ended()) {
    auto e = r->next_event(200ms);
    if (!e) continue;
    ASSERT_TRUE(e->is_comment()) << "unexpected event while idle: id " << e->id << " data " << e->data;
    heartbeat = true;
  }
  EXPECT_TRUE(heartbeat) << "no SSE heartbeat comment within 5 s (heartbeat_interval 1s)";

  // Live events still flow after heartbeats.
  ASSERT_NO_FATAL_FAILURE(put("sse/live", "x"));
  std::vector<std::string> ids3;
  std::vector<Event> live = read_sse(*r, 1, 10s, &ids3);
  expect_events({history_.back()}, live, "SSE live");
}

TEST_F(TailTest, PrefixAndRangeFiltersApplyToTheChangeFeed) {
  ASSERT_NO_FATAL_FAILURE(write_history());
  struct Case {
    std::string query;
    std::function<bool(const std::string&)> keep;
    std::string sentinel;  // a key the filter passes, written last
  };
  std::vector<Case> cases = {
      {"prefix=b%2F", [](const std::string& k) { return k.rfind("b/", 0) == 0; }, "b/zz"},
      {"start=a%2F04&end=a%2F08", [](const std::string& k) { return k >= "a/04" && k < "a/08"; }, "a/07z"},
      {"prefix=a%2F&start=a%2F10", [](const std::string& k) { return k.rfind("a/", 0) == 0 && k >= "a/10"; },
       "a/zzz"},
      {"prefix=b%2F%FF", [](const std::string& k) { return k.rfind("b/\xff", 0) == 0; }, "b/\xff-s"},
  };
  std::vector<std::unique_ptr<HttpStream>> streams;
  for (const Case& c : cases) {
    streams.push_back(HttpStream::open(tailer_->address(), "/v1/tail?after_seq=0&" + c.query));
    ASSERT_EQ(streams.back()->status(), 200) << c.query << ": " << streams.back()->error() << " "
                                             << streams.back()->body();
  }
  // The sentinels go last: an event the filter should have dropped would
  // show up before them.
  for (const Case& c : cases) ASSERT_NO_FATAL_FAILURE(put(c.sentinel, "sentinel"));
  for (size_t i = 0; i < cases.size(); i++) {
    const Case& c = cases[i];
    // Everything the filter passes up to this case's sentinel.
    std::vector<Event> want = filter(history_, c.keep);
    auto at = std::find_if(want.begin(), want.end(), [&](const Event& e) { return e.key == c.sentinel; });
    ASSERT_NE(at, want.end());
    want.erase(at + 1, want.end());
    std::vector<Event> got = read_ndjson(*streams[i], want.size() + 10, 15s,
                                         [&](const Event& e) { return e.key == c.sentinel; });
    expect_events(want, got, "filter " + c.query);
  }
}

TEST_F(TailTest, KeysModeListsTheCurrentKeysInOrderAndResumesAfterKey) {
  ASSERT_NO_FATAL_FAILURE(write_history());
  // The keys feed reads tailerd's current view (refreshed every
  // tailer.refresh_interval); once that view holds every write, the feed
  // must list exactly the model's keys.
  ASSERT_NO_FATAL_FAILURE(wait_tailer_caught_up());
  KVs want_a = model_scan(model_, std::nullopt, std::nullopt, "a/", 0);
  auto s = HttpStream::open(tailer_->address(), "/v1/tail?mode=keys&prefix=a%2F");
  ASSERT_EQ(s->status(), 200) << s->error() << " " << s->body();
  std::vector<Event> got = read_ndjson(*s, want_a.size(), 15s);
  ASSERT_EQ(got.size(), want_a.size());
  for (size_t i = 0; i < got.size(); i++) {
    EXPECT_EQ(got[i].key, want_a[i].first) << i;
    EXPECT_EQ(got[i].op, "put") << i;
    EXPECT_EQ(got[i].value, want_a[i].second) << i;
    EXPECT_GT(got[i].seq, 0u) << i;
    // a/05 was last written with ttl=1h: its event carries expires_at.
    EXPECT_EQ(got[i].expires, got[i].key == "a/05") << "expires_at on " << got[i].key << " in keys mode";
  }
  // A key appearing above the position arrives (the feed stays open).
  ASSERT_NO_FATAL_FAILURE(put("a/zz-new", "new"));
  std::vector<Event> more = read_ndjson(*s, 1, 10s);
  ASSERT_EQ(more.size(), 1u) << "keys mode did not follow a new key";
  EXPECT_EQ(more[0].key, "a/zz-new");
  EXPECT_EQ(more[0].value, "new");
  s->close();

  // Resume after the third key: exactly the keys above it.
  std::string after = want_a[2].first;
  KVs want_rest = model_scan(model_, after + std::string(1, '\0'), std::nullopt, "a/", 0);
  auto r = HttpStream::open(tailer_->address(), "/v1/tail?mode=keys&prefix=a%2F&after_key=" + pct(after));
  ASSERT_EQ(r->status(), 200) << r->error() << " " << r->body();
  std::vector<Event> rest = read_ndjson(*r, want_rest.size(), 15s);
  ASSERT_EQ(rest.size(), want_rest.size());
  for (size_t i = 0; i < rest.size(); i++) {
    EXPECT_EQ(rest[i].key, want_rest[i].first) << i;
    EXPECT_EQ(rest[i].value, want_rest[i].second) << i;
  }

  // Binary keys travel as key_b64 in the keys feed too.
  auto b = HttpStream::open(tailer_->address(), "/v1/tail?mode=keys&prefix=b%2F%FF");
  ASSERT_EQ(b->status(), 200) << b->error() << " " << b->body();
  auto line = b->next_line(10s);
  ASSERT_TRUE(line.has_value()) << b->error();
  json j = parse_json(*line);
  EXPECT_EQ(j.value("key_b64", ""), b64_encode(std::string("b/\xff\x00", 4))) << *line;
  EXPECT_EQ(j.value("value_b64", ""), b64_encode("\x01\x02\xfe")) << *line;
}

TEST_F(TailTest, ACursorOlderThanTheKeptHistoryIs410) {
  // compactord merges the L0 SSTs the change feed is built from, and its
  // GC (change_retention 1ms, grace 2s) deletes them: seq 0 is then older
  // than the history kept.
  DaemonProcess& c = add("compactord", {{"compactor.l0_threshold", "2"},
                                        {"gc.interval", "1h"},
                                        {"gc.grace", "2s"},
                                        {"gc.change_retention", "1ms"},
                                        {"store.lease", "1s"}});
  ASSERT_TRUE(c.start());
  HttpClient cc = c.client();
  // Values too big to travel inline in a log entry (writer.inline_flush_max_bytes,
  // 64 KiB of SST by default): every flush uploads an L0 SST object for the
  // compactor to merge. Letters from a fixed LCG barely compress under lz4.
  auto big = [](int i) {
    std::string v(96 * 1024, 'a');
    uint32_t x = 12345u + static_cast<uint32_t>(i);
    for (char& ch : v) {
      x = x * 1103515245u + 12345u;
      ch = static_cast<char>('a' + (x >> 16) % 26);
    }
    return v;
  };
  for (int i = 0; i < 6; i++) ASSERT_NO_FATAL_FAILURE(put("same", big(i)));
  HttpResult run = cc.post("/v1/run");
  ASSERT_EQ(run.status, 200) << run.describe();
  ASSERT_TRUE(parse_json(run.body).value("compacted", false)) << run.body;

  HttpClient t = tailer_->client();
  HttpResult gone;
  bool expired = eventually([&] {
    HttpResult gc = cc.post("/v1/gc");
    EXPECT_EQ(gc.status, 200) << gc.describe();
    gone = t.request("GET", "/v1/tail?after_seq=0", {}, {}, 2s);
    return gone.status == 410;
  }, 20s, 300ms);
  ASSERT_TRUE(expired) << "tail after_seq=0 never answered 410 after compaction + GC; last: " << gone.describe();
  EXPECT_TRUE(IsJsonError(gone, 410));
  // SSE clients get the same answer.
  auto sse = HttpStream::open(tailer_->address(), "/v1/tail",
                              {{"Accept", "text/event-stream"}, {"Last-Event-ID", "1"}});
  EXPECT_EQ(sse->status(), 410) << sse->error() << " " << sse->body();

  // A cursor at the newest write is still fine and follows new writes.
  auto s = HttpStream::open(tailer_->address(), "/v1/tail?after_seq=" + std::to_string(history_.back().seq));
  ASSERT_EQ(s->status(), 200) << s->error() << " " << s->body();
  ASSERT_NO_FATAL_FAILURE(put("same", "after-gc"));
  expect_events({history_.back()}, read_ndjson(*s, 1, 10s), "after the 410");
}

TEST_F(TailTest, SigtermEndsOpenTailsAndExitsZero) {
  ASSERT_NO_FATAL_FAILURE(put("x", "1"));
  auto nd = HttpStream::open(tailer_->address(), "/v1/tail?after_seq=0");
  auto sse = HttpStream::open(tailer_->address(), "/v1/tail?after_seq=0", {{"Accept", "text/event-stream"}});
  ASSERT_EQ(nd->status(), 200);
  ASSERT_EQ(sse->status(), 200);
  ASSERT_TRUE(nd->next_line(10s).has_value());
  ASSERT_TRUE(sse->next_event(10s).has_value());
  tailer_->terminate();
  std::optional<int> code = tailer_->wait_exit(20s);
  ASSERT_TRUE(code.has_value()) << "tailerd with open tails did not exit within 20 s of SIGTERM\n" << tailer_->log(8192);
  EXPECT_EQ(*code, 0) << tailer_->log(8192);
  // Both streams end (closed or terminated), nothing hangs.
  for (HttpStream* st : {nd.get(), sse.get()}) {
    auto deadline = Clock::now() + 5s;
    while (!st->ended() && Clock::now() < deadline) st->next_line(200ms);
    EXPECT_TRUE(st->ended());
  }
}

// A tail starts from a view that holds every write acknowledged before
// the request (issue 14). tailerd here refreshes rarely, so only the
// tail's own start can bring those writes into its view.
class TailFreshStartTest : public TailTest {
 protected:
  void SetUp() override {}  // each test starts its daemons
  void start_writer() {
    writer_ = &add("writerd");
    ASSERT_TRUE(writer_->start());
    w_ = std::make_unique<HttpClient>(writer_->client());
  }
  void start_tailer(const std::string& refresh) {
    // Fixed (min = max): the adaptive busy interval would bring the
    // writes in by itself right after the tailer saw an entry.
    tailer_ = &add("tailerd", {{"tailer.refresh_interval", refresh},
                               {"tailer.refresh_interval_min", refresh}});
    ASSERT_TRUE(tailer_->start());
  }
};

// The reported case: tailerd (refresh 3 s) has seen t/b; t/aa, t/a\0 and
// t/a are written durably; a keys tail opened at once must deliver all
// four in key order, not b alone (the old tail started from the stale view
// and its cursor was past the new keys for good).
TEST_F(TailFreshStartTest, AKeysTailDeliversKeysWrittenBelowTheTailersLastView) {
  ASSERT_NO_FATAL_FAILURE(start_writer());
  ASSERT_NO_FATAL_FAILURE(start_tailer("3s"));
  ASSERT_NO_FATAL_FAILURE(put("t/b", "vb"));
  HttpClient t = tailer_->client();
  const uint64_t b = history_.back().seq;
  ASSERT_TRUE(eventually([&] { return status_number(t, "data_seq") >= b; }, 15s, 100ms))
      << "tailerd never refreshed to seq " << b;
  const std::string a0("t/a\0", 4);
  for (const std::string& k : {std::string("t/aa"), a0, std::string("t/a")}) {
    ASSERT_NO_FATAL_FAILURE(put(k, "v"));  // durable: acknowledged once committed
  }
  auto s = HttpStream::open(tailer_->address(), "/v1/tail?mode=keys&prefix=t%2F");
  ASSERT_EQ(s->status(), 200) << s->error() << " " << s->body();
  // 8 s is more than two of tailerd's refreshes: a key missing by then is
  // missing for good.
  std::vector<Event> got = read_ndjson(*s, 4, 8s);
  std::vector<std::string> keys;
  std::string shown;
  for (const Event& e : got) {
    keys.push_back(e.key);
    shown += show(e.key) + " ";
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"t/a", a0, "t/aa", "t/b"})) << "delivered: " << shown;
}

// Changes mode: a tail "from now" starts after every acknowledged write
// (y is not a change from now, z is), and a resumed tail sees a write
// acknowledged just before it. tailerd's own refresh is an hour away.
TEST_F(TailFreshStartTest, ChangeTailsStartFromAViewHoldingEveryAcknowledgedWrite) {
  ASSERT_NO_FATAL_FAILURE(start_writer());
  ASSERT_NO_FATAL_FAILURE(put("x", "1"));
  ASSERT_NO_FATAL_FAILURE(start_tailer("1h"));  // opens on a view holding x
  ASSERT_NO_FATAL_FAILURE(put("y", "2"));
  auto from_now = HttpStream::open(tailer_->address(), "/v1/tail");
  ASSERT_EQ(from_now->status(), 200) << from_now->error() << " " << from_now->body();
  ASSERT_NO_FATAL_FAILURE(put("z", "3"));
  const Event z = history_.back();
  auto resumed = HttpStream::open(tailer_->address(), "/v1/tail?after_seq=" + std::to_string(z.seq - 1));
  ASSERT_EQ(resumed->status(), 200) << resumed->error() << " " << resumed->body();
  expect_events({z}, read_ndjson(*resumed, 1, 10s), "resumed after z - 1");
  expect_events({z}, read_ndjson(*from_now, 1, 10s), "from now (opened after y, before z)");
}

TEST_F(TailTest, BadTailRequestsAre400) {
  HttpClient t = tailer_->client();
  EXPECT_TRUE(IsJsonError(t.get("/v1/tail?mode=sideways"), 400));
  EXPECT_TRUE(IsJsonError(t.get("/v1/tail?after_seq=minus-one"), 400));
  EXPECT_TRUE(IsJsonError(t.get("/v1/tail?prefix=%zz"), 400));
  EXPECT_EQ(t.get("/healthz").status, 200);
}

}  // namespace
}  // namespace isle::daemontest
