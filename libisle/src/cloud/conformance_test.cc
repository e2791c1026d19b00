// The ObjectStore conformance suite: every backend must pass every test
// here, so the rest of IsleDB can rely on the contract in
// isle/object_store.h without knowing which store it talks to.
//
// How to add a backend: write a factory function like make_file_store
// below that returns a fresh, empty store (for a cloud store: a new bucket
// on the test server named by environment variables, see
// cloud_test_util.h; NotSupported when they are unset, and the tests skip
// saying so), and add a Backend entry to kBackends. Set `multi_process`
// when another process can open the same store from its url(): the
// cross-process races then run too.
//
// Two properties vary by backend, as the contract in object_store.h allows,
// and the tests check the backend's declared variant exactly:
//   * content_etags: the ETag is a hash of the content (S3), so an
//     identical rewrite may keep it; it still changes whenever the bytes do.
//   * utf8_keys: keys must be valid UTF-8 (S3, Azure); other keys are
//     InvalidArgument, and listing by a prefix or start_after that is not
//     valid UTF-8 still works.
//   * coarse_put_time: put() reports the server's Date rather than the
//     stored Last-Modified (S3 PUT responses carry none), so it may differ
//     from head()'s by up to a second.
//
// The suite covers: round trips of binary keys and values, ranged reads at
// every edge, overwrite / create-only / if-match semantics, ETags changing
// on identical rewrites, idempotent and batch deletes, list ordering,
// prefixes and pagination, typed errors, and linearizability of
// create-only and if-match under thread races and (for shareable
// backends) process races.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <functional>
#include <ostream>
#include <set>
#include <thread>

#include "cloud/cloud_test_util.h"
#include "isle/object_store.h"
#include "testutil/testutil.h"
#include "util/clock.h"
#include "util/random.h"
#include "util/utf8.h"

namespace isle {
namespace {

struct Backend {
  std::string name;
  // A fresh, empty store; `scratch` is a directory owned by the test.
  std::function<Result<ObjectStorePtr>(const std::string& scratch)> make;
  // Other processes can open the same store through its url().
  bool multi_process = false;
  // Every write waits for the disk or the network: tests that write
  // thousands of objects use fewer (still more than one list page).
  bool slow_writes = false;
  bool content_etags = false;  // see the file comment
  bool utf8_keys = false;      // see the file comment
  bool coarse_put_time = false;  // see the file comment
};

// Names the backend in gtest messages instead of dumping the struct.
void PrintTo(const Backend& backend, std::ostream* os) { *os << backend.name; }

Result<ObjectStorePtr> make_mem_store(const std::string&) { return open_object_store("mem://"); }

Result<ObjectStorePtr> make_file_store(const std::string& scratch) {
  return open_object_store("file://" + scratch + "/store");
}

Result<ObjectStorePtr> make_s3_store(const std::string&) { return testing::fresh_s3_store(); }
Result<ObjectStorePtr> make_azure_store(const std::string&) {
  return testing::fresh_azure_store();
}

const Backend kBackends[] = {
    // mem:// lives inside one process: only the thread races apply.
    {"mem", make_mem_store, false, false},
    {"file", make_file_store, true, true},
    // Ceph RGW started by scripts/objstores/start-ceph-rgw.sh.
    {"s3", make_s3_store, true, true, true, true, true},
    // Azurite started by scripts/objstores/start-azurite.sh.
    {"azblob", make_azure_store, true, true, false, true},
};

class StoreConformanceTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto s = GetParam().make(scratch_.path());
    if (s.status().code() == Code::kNotSupported) GTEST_SKIP() << s.status().to_string();
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    store_ = std::move(s).value();
  }

  ObjectMeta must_put(const std::string& key, std::string_view data,
                      const PutOptions& opts = {}) {
    auto r = store_->put(key, data, opts);
    EXPECT_TRUE(r.ok()) << key << ": " << r.status().to_string();
    return r.ok() ? r.value() : ObjectMeta{};
  }

  std::string must_get(const std::string& key) {
    auto r = store_->get(key);
    EXPECT_TRUE(r.ok()) << key << ": " << r.status().to_string();
    return r.ok() ? r->data : std::string();
  }

  std::vector<std::string> list_keys(const std::string& prefix) {
    auto all = store_->list_all(prefix);
    EXPECT_TRUE(all.ok()) << all.status().to_string();
    std::vector<std::string> keys;
    if (all.ok()) {
      for (const auto& m : *all) keys.push_back(m.key);
    }
    return keys;
  }

  // Pages through list() with `max_keys`, checking each page's bounds.
  std::vector<std::string> list_paged(const std::string& prefix, size_t max_keys,
                                      const std::string& start_after = "") {
    std::vector<std::string> keys;
    ListOptions opts;
    opts.prefix = prefix;
    opts.start_after = start_after;
    opts.max_keys = max_keys;
    for (int pages = 0; pages < 100000; pages++) {
      auto page = store_->list(opts);
      EXPECT_TRUE(page.ok()) << page.status().to_string();
      if (!page.ok()) break;
      EXPECT_LE(page->objects.size(), std::clamp<size_t>(max_keys, 1, 1000));
      for (const auto& m : page->objects) keys.push_back(m.key);
      if (page->next_start_after.empty()) return keys;
      EXPECT_GT(page->next_start_after, opts.start_after);
      opts.start_after = page->next_start_after;
    }
    ADD_FAILURE() << "list never finished";
    return keys;
  }

  testing::TempDir scratch_;
  ObjectStorePtr store_;
};

std::string all_bytes() {
  std::string s;
  for (int rep = 0; rep < 3; rep++) {
    for (int b = 0; b < 256; b++) s.push_back(static_cast<char>(b));
  }
  return s;
}

TEST_P(StoreConformanceTest, PutGetHeadRoundTrip) {
  const int64_t before = Clock::system()->now_ms();
  ObjectMeta put = must_put("dir/object", "hello world");
  EXPECT_EQ(put.key, "dir/object");
  EXPECT_EQ(put.size, 11u);
  EXPECT_FALSE(put.etag.empty());
  // modified_ms is a plausible unix time (a day of slack: not a timing test).
  EXPECT_GT(put.modified_ms, before - 86'400'000);
  EXPECT_LT(put.modified_ms, before + 86'400'000);

  auto got = store_->get("dir/object");
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ(got->data, "hello world");
  EXPECT_EQ(got->offset, 0u);
  EXPECT_EQ(got->meta.key, "dir/object");
  EXPECT_EQ(got->meta.size, 11u);
  EXPECT_EQ(got->meta.etag, put.etag);

  auto head = store_->head("dir/object");
  ASSERT_TRUE(head.ok()) << head.status().to_string();
  EXPECT_EQ(head->key, "dir/object");
  EXPECT_EQ(head->size, 11u);
  EXPECT_EQ(head->etag, put.etag);
  if (GetParam().coarse_put_time) {
    EXPECT_NEAR(static_cast<double>(head->modified_ms), static_cast<double>(put.modified_ms),
                1000.0);
  } else {
    EXPECT_EQ(head->modified_ms, put.modified_ms);
  }
}

TEST_P(StoreConformanceTest, ConditionalGetSkipsAnUnchangedBody) {
  ObjectMeta v1 = must_put("cur", "version one");
  GetOptions same;
  same.if_none_match = v1.etag;
  auto unchanged = store_->get("cur", same);
  ASSERT_TRUE(unchanged.ok()) << unchanged.status().to_string();
  EXPECT_TRUE(unchanged->not_modified);
  EXPECT_TRUE(unchanged->data.empty());
  EXPECT_EQ(unchanged->meta.etag, v1.etag);

  ObjectMeta v2 = must_put("cur", "version two");
  auto changed = store_->get("cur", same);
  ASSERT_TRUE(changed.ok()) << changed.status().to_string();
  EXPECT_FALSE(changed->not_modified);
  EXPECT_EQ(changed->data, "version two");
  EXPECT_EQ(changed->meta.etag, v2.etag);

  GetOptions stale;
  stale.if_none_match = "not-an-etag";
  EXPECT_EQ(store_->get("cur", stale)->data, "version two");
  EXPECT_TRUE(store_->get("absent", same).status().is_not_found());
}

TEST_P(StoreConformanceTest, BinaryValues) {
  const std::string bytes = all_bytes();
  must_put("bin/all-bytes", bytes);
  EXPECT_EQ(must_get("bin/all-bytes"), bytes);

  Random rnd(testing::seed_base());
  const std::string big = rnd.bytes(1 << 20);
  must_put("bin/big", big);
  EXPECT_EQ(must_get("bin/big"), big);

  must_put("bin/empty", "");
  auto empty = store_->get("bin/empty");
  ASSERT_TRUE(empty.ok()) << empty.status().to_string();
  EXPECT_EQ(empty->data, "");
  EXPECT_EQ(empty->meta.size, 0u);
}

TEST_P(StoreConformanceTest, UnusualButLegalKeys) {
  const std::vector<std::string> keys = {
      "with space",        "per%cent%20",        "plus+equals=amp&",  "tilde~hash#q?",
      "quote'\"",          "unicode/\xc3\xbcn\xc3\xaf/\xe6\x97\xa5\xe6\x9c\xac",
      "colon:semi;comma,", "deep/a/b/c/d/e/f/g", "...",              ".hidden",
      "x",                 std::string(255, 'k') + "/" + std::string(255, 'v'),
  };
  for (size_t i = 0; i < keys.size(); i++) must_put(keys[i], "v" + std::to_string(i));
  for (size_t i = 0; i < keys.size(); i++) {
    EXPECT_EQ(must_get(keys[i]), "v" + std::to_string(i)) << keys[i];
  }
  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(list_keys(""), sorted);
}

TEST_P(StoreConformanceTest, MaxLengthKey) {
  // 1024 bytes, as segments of at most 255 so every backend can hold it.
  std::string key;
  while (key.size() < 1024) {
    if (!key.empty()) key += '/';
    key += std::string(std::min<size_t>(200, 1024 - key.size()), 'm');
  }
  ASSERT_EQ(key.size(), 1024u);
  must_put(key, "long");
  EXPECT_EQ(must_get(key), "long");
  EXPECT_EQ(list_keys("m"), std::vector<std::string>{key});
  EXPECT_TRUE(store_->put(key + "x", "too long").status().is_invalid_argument());
}

TEST_P(StoreConformanceTest, RangedReads) {
  std::string data;
  for (int i = 0; i < 1000; i++) data.push_back(static_cast<char>('a' + i % 26));
  must_put("ranged", data);

  struct Case {
    ByteRange range;
    uint64_t want_offset;
    uint64_t want_len;
  };
  const Case cases[] = {
      {ByteRange::at(0, 10), 0, 10},       // start
      {ByteRange::at(500, 100), 500, 100}, // middle
      {ByteRange::at(990, 100), 990, 10},  // clipped at the end
      {ByteRange::at(0, 1000), 0, 1000},   // exactly all
      {ByteRange::at(1000, 5), 1000, 0},   // offset == size: empty
      {ByteRange::at(7, 0), 7, 0},         // zero length
      {ByteRange::at(999, 1), 999, 1},     // last byte
      {ByteRange::at(0, UINT64_MAX), 0, 1000},    // huge length, no overflow
      {ByteRange::last(10), 990, 10},      // short suffix
      {ByteRange::last(1000), 0, 1000},    // suffix == size
      {ByteRange::last(5000), 0, 1000},    // suffix longer than the object
      {ByteRange::last(0), 1000, 0},       // empty suffix
  };
  for (const auto& c : cases) {
    SCOPED_TRACE("range offset=" + std::to_string(c.range.offset) + " length=" +
                 std::to_string(c.range.length) + " suffix=" + std::to_string(c.range.suffix));
    auto got = store_->get("ranged", GetOptions::ranged(c.range));
    ASSERT_TRUE(got.ok()) << got.status().to_string();
    EXPECT_EQ(got->offset, c.want_offset);
    EXPECT_EQ(got->data, data.substr(c.want_offset, c.want_len));
    EXPECT_EQ(got->meta.size, 1000u);
  }
  for (uint64_t bad : {uint64_t{1001}, uint64_t{5000}, UINT64_MAX}) {
    auto got = store_->get("ranged", GetOptions::ranged(ByteRange::at(bad, 1)));
    EXPECT_TRUE(got.status().is_invalid_argument()) << bad << ": " << got.status().to_string();
  }
}

TEST_P(StoreConformanceTest, RangedReadsOfEmptyObject) {
  must_put("zero", "");
  for (ByteRange r : {ByteRange::at(0, 0), ByteRange::at(0, 10), ByteRange::last(10),
                      ByteRange::last(0)}) {
    auto got = store_->get("zero", GetOptions::ranged(r));
    ASSERT_TRUE(got.ok()) << got.status().to_string();
    EXPECT_EQ(got->data, "");
    EXPECT_EQ(got->offset, 0u);
    EXPECT_EQ(got->meta.size, 0u);
  }
  EXPECT_TRUE(store_->get("zero", GetOptions::ranged(ByteRange::at(1, 1))).status().is_invalid_argument());
}

TEST_P(StoreConformanceTest, MissingObjectsAreNotFound) {
  EXPECT_TRUE(store_->get("nope").status().is_not_found());
  EXPECT_TRUE(store_->head("nope").status().is_not_found());
  EXPECT_TRUE(store_->get("nope", GetOptions::ranged(ByteRange::at(0, 1))).status().is_not_found());
  must_put("dir/child", "c");
  // A prefix of existing keys is not an object.
  EXPECT_TRUE(store_->get("dir").status().is_not_found());
  EXPECT_TRUE(store_->head("dir").status().is_not_found());
}

TEST_P(StoreConformanceTest, InvalidKeysAreRejected) {
  const std::string too_long(1025, 'k');
  EXPECT_TRUE(store_->put("", "v").status().is_invalid_argument());
  EXPECT_TRUE(store_->get("").status().is_invalid_argument());
  EXPECT_TRUE(store_->head("").status().is_invalid_argument());
  EXPECT_TRUE(store_->remove("").is_invalid_argument());
  EXPECT_TRUE(store_->put(too_long, "v").status().is_invalid_argument());
  EXPECT_TRUE(store_->get(too_long).status().is_invalid_argument());
  EXPECT_TRUE(list_keys("").empty());
}

TEST_P(StoreConformanceTest, Overwrite) {
  ObjectMeta first = must_put("k", "one");
  ObjectMeta second = must_put("k", "second value");
  EXPECT_NE(first.etag, second.etag);
  EXPECT_EQ(second.size, 12u);
  auto got = store_->get("k");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->data, "second value");
  EXPECT_EQ(got->meta.etag, second.etag);
  EXPECT_EQ(got->meta.size, 12u);
}

TEST_P(StoreConformanceTest, CreateOnly) {
  ObjectMeta created = must_put("c", "first", PutOptions::create_only());
  auto again = store_->put("c", "second", PutOptions::create_only());
  EXPECT_TRUE(again.status().is_precondition_failed()) << again.status().to_string();
  auto head = store_->head("c");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->etag, created.etag);
  EXPECT_EQ(must_get("c"), "first");

  // After a delete the key can be created again.
  ASSERT_TRUE(store_->remove("c").ok());
  must_put("c", "third", PutOptions::create_only());
  EXPECT_EQ(must_get("c"), "third");
}

TEST_P(StoreConformanceTest, IfMatch) {
  ObjectMeta v1 = must_put("m", "v1");
  ObjectMeta v2 = must_put("m", "v2", PutOptions::if_match_etag(v1.etag));
  EXPECT_NE(v2.etag, v1.etag);
  EXPECT_EQ(must_get("m"), "v2");

  // Stale etag: nothing written.
  auto stale = store_->put("m", "stale", PutOptions::if_match_etag(v1.etag));
  EXPECT_TRUE(stale.status().is_precondition_failed()) << stale.status().to_string();
  // Made-up etags of several shapes.
  for (std::string fake : {std::string("made-up"), std::string(32, '0'), v2.etag + "0",
                           std::string("\"") + v2.etag + "\""}) {
    auto r = store_->put("m", "fake", PutOptions::if_match_etag(fake));
    EXPECT_TRUE(r.status().is_precondition_failed()) << fake << ": " << r.status().to_string();
  }
  auto head = store_->head("m");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->etag, v2.etag);
  EXPECT_EQ(must_get("m"), "v2");

  // if-match on a missing key never creates it.
  auto missing = store_->put("missing", "x", PutOptions::if_match_etag(v2.etag));
  EXPECT_TRUE(missing.status().is_precondition_failed()) << missing.status().to_string();
  EXPECT_TRUE(store_->head("missing").status().is_not_found());

  // An if-match put needs an etag.
  EXPECT_TRUE(store_->put("m", "x", PutOptions{PutMode::kIfMatch, ""}).status().is_invalid_argument());
  // The etag of a deleted object does not match a recreated one (with the
  // same bytes; content_etags backends only promise it for other bytes).
  ASSERT_TRUE(store_->remove("m").ok());
  must_put("m", GetParam().content_etags ? "v2 again" : "v2");
  auto recreated = store_->put("m", "y", PutOptions::if_match_etag(v2.etag));
  EXPECT_TRUE(recreated.status().is_precondition_failed());
}

TEST_P(StoreConformanceTest, EtagChangesOnIdenticalRewrite) {
  if (GetParam().content_etags) {
    // The ETag follows the content: every change of bytes changes it, and
    // a rewrite with the same bytes (even through if-match) still works.
    ObjectMeta a = must_put("same", "identical bytes");
    ObjectMeta b = must_put("same", "other bytes", PutOptions::if_match_etag(a.etag));
    EXPECT_NE(a.etag, b.etag);
    ObjectMeta c = must_put("same", "identical bytes", PutOptions::if_match_etag(b.etag));
    EXPECT_NE(c.etag, b.etag);
    ObjectMeta d = must_put("same", "identical bytes", PutOptions::if_match_etag(c.etag));
    EXPECT_EQ(store_->head("same")->etag, d.etag);
    auto stale = store_->put("same", "x", PutOptions::if_match_etag(b.etag));
    EXPECT_TRUE(stale.status().is_precondition_failed()) << stale.status().to_string();
    return;
  }
  std::set<std::string> etags;
  ObjectMeta last = must_put("same", "identical bytes");
  etags.insert(last.etag);
  for (int i = 0; i < 5; i++) {
    last = must_put("same", "identical bytes");
    etags.insert(last.etag);
    last = must_put("same", "identical bytes", PutOptions::if_match_etag(last.etag));
    etags.insert(last.etag);
  }
  ASSERT_TRUE(store_->remove("same").ok());
  etags.insert(must_put("same", "identical bytes", PutOptions::create_only()).etag);
  EXPECT_EQ(etags.size(), 12u);
  // Different keys written with the same bytes get different etags too.
  EXPECT_NE(must_put("other", "identical bytes").etag, last.etag);
}

TEST_P(StoreConformanceTest, RemoveIsIdempotent) {
  EXPECT_TRUE(store_->remove("never-existed").ok());
  EXPECT_TRUE(store_->remove("deep/never/existed").ok());
  must_put("r/k", "v");
  EXPECT_TRUE(store_->remove("r/k").ok());
  EXPECT_TRUE(store_->get("r/k").status().is_not_found());
  EXPECT_TRUE(store_->remove("r/k").ok());
  EXPECT_TRUE(list_keys("").empty());
  // Removing a prefix that is not an object leaves the objects alone.
  must_put("p/q", "v");
  EXPECT_TRUE(store_->remove("p").ok());
  EXPECT_EQ(must_get("p/q"), "v");
}

TEST_P(StoreConformanceTest, RemoveBatch) {
  std::vector<std::string> keys;
  for (int i = 0; i < 7; i++) {
    keys.push_back("batch/" + std::to_string(i));
    must_put(keys.back(), "v");
  }
  must_put("keep", "v");
  keys.push_back("batch/absent");
  keys.push_back("batch/0");  // duplicates are fine
  auto failed = store_->remove_batch(keys);
  ASSERT_TRUE(failed.ok()) << failed.status().to_string();
  EXPECT_TRUE(failed->empty());
  EXPECT_EQ(list_keys(""), std::vector<std::string>{"keep"});
  auto none = store_->remove_batch({});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

// Keys chosen to interleave '/', '-', '.', digits, upper case, space and
// bytes >= 0x80, where directory order and byte order disagree. No key is
// a '/'-prefix of another (the file store cannot hold "a" and "a/b").
const std::vector<std::string> kAllOrderKeys = {
    "a-b",  "a/b",   "a/c",    "a/d/e",   "a.b",  "a0",     "ab",    "a b",
    "A",    "B/x",   "a\xc3\xa9", "a/\xff", "a/-", "a/b-c", "a/d-e", "b",
    "a~",   "Z",     "0",      "9/9",     "a/ ",  "a%",
};

// kAllOrderKeys as this backend can hold them: for utf8_keys backends the
// keys that are not valid UTF-8 are dropped after checking that put()
// rejects them as InvalidArgument.
std::vector<std::string> order_keys(const Backend& backend, ObjectStore& store) {
  std::vector<std::string> keys;
  for (const auto& k : kAllOrderKeys) {
    if (backend.utf8_keys && !is_valid_utf8(k)) {
      EXPECT_TRUE(store.put(k, "v").status().is_invalid_argument()) << k;
      continue;
    }
    keys.push_back(k);
  }
  return keys;
}

TEST_P(StoreConformanceTest, ListIsInByteOrder) {
  const std::vector<std::string> kOrderKeys = order_keys(GetParam(), *store_);
  for (const auto& k : kOrderKeys) must_put(k, "v:" + k);
  std::vector<std::string> want = kOrderKeys;
  std::sort(want.begin(), want.end());  // std::string compares bytes unsigned
  EXPECT_EQ(list_keys(""), want);

  // Listed metadata agrees with head().
  auto all = store_->list_all("");
  ASSERT_TRUE(all.ok());
  for (const auto& m : *all) {
    auto h = store_->head(m.key);
    ASSERT_TRUE(h.ok()) << m.key;
    EXPECT_EQ(m.size, h->size);
    EXPECT_EQ(m.size, 2 + m.key.size());
    EXPECT_EQ(m.etag, h->etag);
    EXPECT_EQ(m.modified_ms, h->modified_ms);
  }
}

TEST_P(StoreConformanceTest, ListPrefixes) {
  const std::vector<std::string> kOrderKeys = order_keys(GetParam(), *store_);
  for (const auto& k : kOrderKeys) must_put(k, "v");
  auto with_prefix = [&](const std::string& p) {
    std::vector<std::string> want;
    for (const auto& k : kOrderKeys) {
      if (k.starts_with(p)) want.push_back(k);
    }
    std::sort(want.begin(), want.end());
    return want;
  };
  for (std::string p : {"a", "a/", "a/b", "a/d", "a/d/", "a-", "B", "B/", "9/", "a/d/e",
                        "a/d/e/", "zzz", "", "a\xc3", "\xff"}) {
    EXPECT_EQ(list_keys(p), with_prefix(p)) << "prefix '" << p << "'";
  }
  // Prefixes that can never match a stored key still list fine (empty).
  for (std::string p : {"../", "a//", "./a", "/a"}) {
    EXPECT_EQ(list_keys(p), with_prefix(p)) << "prefix '" << p << "'";
  }
}

TEST_P(StoreConformanceTest, ListPagination) {
  const std::vector<std::string> kOrderKeys = order_keys(GetParam(), *store_);
  for (const auto& k : kOrderKeys) must_put(k, "v");
  std::vector<std::string> want = kOrderKeys;
  std::sort(want.begin(), want.end());
  for (size_t max_keys : {size_t{0}, size_t{1}, size_t{2}, size_t{3}, size_t{1000},
                          size_t{5000}}) {
    EXPECT_EQ(list_paged("", max_keys), want) << "max_keys " << max_keys;
  }
  // Pagination within a prefix.
  std::vector<std::string> a_slash;
  for (const auto& k : want) {
    if (k.starts_with("a/")) a_slash.push_back(k);
  }
  EXPECT_EQ(list_paged("a/", 2), a_slash);

  // start_after: an existing key, a key between two, before all, after all.
  auto after = [&](const std::string& sa, const std::string& prefix = "") {
    std::vector<std::string> r;
    for (const auto& k : want) {
      if (k > sa && k.starts_with(prefix)) r.push_back(k);
    }
    return r;
  };
  for (std::string sa : {"a/b", "a/bb", "a", "", "\xff\xff", "a/d/e", "a/d/"}) {
    EXPECT_EQ(list_paged("", 1, sa), after(sa)) << "start_after '" << sa << "'";
    EXPECT_EQ(list_paged("", 1000, sa), after(sa)) << "start_after '" << sa << "'";
    EXPECT_EQ(list_paged("a/", 3, sa), after(sa, "a/")) << "start_after '" << sa << "'";
  }

  // A full page says where to continue; a final short page does not.
  ListOptions opts;
  opts.max_keys = 2;
  auto page = store_->list(opts);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->objects.size(), 2u);
  EXPECT_EQ(page->next_start_after, page->objects.back().key);
  opts.max_keys = 1000;
  page = store_->list(opts);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->objects.size(), want.size());
  EXPECT_TRUE(page->next_start_after.empty());
}

// Number of objects ManyKeys writes: $ISLE_STORE_MANY_KEYS, else 2500 (or
// 1100 for backends with slow writes: still more than one full page).
int many_keys_count(bool slow_writes) {
  if (const char* v = std::getenv("ISLE_STORE_MANY_KEYS")) return std::max(1, std::atoi(v));
  return slow_writes ? 1100 : 2500;
}

TEST_P(StoreConformanceTest, ManyKeys) {
  const int kKeys = many_keys_count(GetParam().slow_writes);
  std::vector<std::string> want;
  char buf[32];
  for (int i = 0; i < kKeys; i++) {
    // Spread over a few "directories" and use '-' vs '/' siblings.
    std::snprintf(buf, sizeof buf, "many/%d%s%04d", i % 3, (i % 2) ? "/" : "-", i);
    want.push_back(buf);
  }
  // Written by several threads: durable backends spend their time waiting
  // for the disk, and concurrent syncs share the wait.
  constexpr int kWriters = 8;
  std::vector<std::thread> writers;
  std::atomic<int> errors{0};
  for (int w = 0; w < kWriters; w++) {
    writers.emplace_back([&, w] {
      for (size_t i = w; i < want.size(); i += kWriters) {
        if (!store_->put(want[i], "").ok()) errors++;
      }
    });
  }
  for (auto& t : writers) t.join();
  ASSERT_EQ(errors.load(), 0);
  std::sort(want.begin(), want.end());
  EXPECT_EQ(list_keys("many/"), want);
  EXPECT_EQ(list_paged("many/", 1000), want);
  EXPECT_EQ(list_paged("many/", 999), want);
  EXPECT_EQ(list_paged("many/", 250), want);

  ListOptions opts;
  opts.prefix = "many/";
  auto page = store_->list(opts);
  ASSERT_TRUE(page.ok());
  if (want.size() > 1000) {
    ASSERT_EQ(page->objects.size(), 1000u);
    EXPECT_EQ(page->objects.front().key, want.front());
    EXPECT_EQ(page->next_start_after, want[999]);
  }
}

// Thread races: T threads each do M read-modify-CAS increments of one
// counter; linearizable if-match loses no update. Each write names its
// writer and attempt after the count ("17 t2.40"), as the manifest's writes
// do: a store that must read back to resolve an ambiguous answer can then
// tell its own bytes from a rival's.
TEST_P(StoreConformanceTest, ThreadCasRaceLosesNoUpdate) {
  constexpr int kThreads = 4;
  constexpr int kIncrements = 40;
  std::atomic<int> errors{0};
  std::atomic<int> conflicts{0};
  std::barrier start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      int attempt = 0;
      for (int done = 0; done < kIncrements;) {
        const std::string tag = " t" + std::to_string(t) + "." + std::to_string(attempt++);
        auto cur = store_->get("counter");
        Result<ObjectMeta> put = Status::Aborted("unset");
        if (cur.status().is_not_found()) {
          put = store_->put("counter", "1" + tag, PutOptions::create_only());
        } else if (cur.ok()) {
          put = store_->put("counter", std::to_string(std::stoll(cur->data) + 1) + tag,
                            PutOptions::if_match_etag(cur->meta.etag));
        } else {
          ADD_FAILURE() << "get: " << cur.status().to_string();
          errors++;
          return;
        }
        if (put.ok()) {
          done++;
        } else if (put.status().is_precondition_failed()) {
          conflicts++;
        } else {
          ADD_FAILURE() << "put: " << put.status().to_string();
          errors++;
          return;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  const std::string final_value = must_get("counter");
  EXPECT_EQ(final_value.substr(0, final_value.find(' ')), std::to_string(kThreads * kIncrements));
}

// Create-only races: in every round exactly one of T threads wins, and the
// stored value is the winner's.
TEST_P(StoreConformanceTest, ThreadCreateOnlyRaceHasOneWinner) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 20;
  std::barrier sync(kThreads);
  std::vector<std::vector<Status>> outcomes(kRounds, std::vector<Status>(kThreads));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRounds; r++) {
        sync.arrive_and_wait();
        outcomes[r][t] = store_->put("race/round-" + std::to_string(r), "thread-" + std::to_string(t),
                                     PutOptions::create_only())
                             .status();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int r = 0; r < kRounds; r++) {
    int winner = -1;
    for (int t = 0; t < kThreads; t++) {
      const Status& s = outcomes[r][t];
      if (s.ok()) {
        EXPECT_EQ(winner, -1) << "round " << r << ": two winners";
        winner = t;
      } else {
        EXPECT_TRUE(s.is_precondition_failed()) << s.to_string();
      }
    }
    ASSERT_NE(winner, -1) << "round " << r << ": no winner";
    EXPECT_EQ(must_get("race/round-" + std::to_string(r)), "thread-" + std::to_string(winner));
  }
}

// --- Multi-process races (backends with multi_process only) -------------

// The cross-process races run only for backends that another process can
// open from url(): mem:// is private to a process, so for it the thread
// races above are the whole story.
class StoreProcessRaceTest : public StoreConformanceTest {};

std::vector<Backend> multi_process_backends() {
  std::vector<Backend> out;
  for (const auto& b : kBackends) {
    if (b.multi_process) out.push_back(b);
  }
  return out;
}

class GoFile {
 public:
  explicit GoFile(std::string path) : path_(std::move(path)) {}
  const std::string& path() const { return path_; }
  void open_gate() { std::ofstream(path_) << "go"; }

 private:
  std::string path_;
};

TEST_P(StoreProcessRaceTest, CasIncrementsLoseNoUpdate) {
  constexpr int kProcs = 4;
  constexpr int kIncrements = 50;
  const std::string worker = testing::built_program("isle_store_race_worker");
  GoFile gate(scratch_.path() + "/go-cas");
  std::vector<int> pids;
  for (int p = 0; p < kProcs; p++) {
    pids.push_back(testing::spawn_program(
        worker, {store_->url(), "cas-increment", "shared/counter", std::to_string(kIncrements),
                 "--wait-for", gate.path()}));
    ASSERT_GT(pids.back(), 0);
  }
  gate.open_gate();
  for (int pid : pids) EXPECT_EQ(testing::wait_program(pid), 0);
  const std::string final_value = must_get("shared/counter");
  EXPECT_EQ(final_value.substr(0, final_value.find(' ')), std::to_string(kProcs * kIncrements));
}

TEST_P(StoreProcessRaceTest, CreateOnlyHasOneWinner) {
  constexpr int kProcs = 4;
  constexpr int kRounds = 20;
  const std::string worker = testing::built_program("isle_store_race_worker");
  for (int r = 0; r < kRounds; r++) {
    const std::string key = "once/round-" + std::to_string(r);
    GoFile gate(scratch_.path() + "/go-once-" + std::to_string(r));
    std::vector<int> pids;
    for (int p = 0; p < kProcs; p++) {
      pids.push_back(testing::spawn_program(
          worker, {store_->url(), "create-once", key, "proc-" + std::to_string(p), "--wait-for",
                   gate.path()}));
      ASSERT_GT(pids.back(), 0);
    }
    gate.open_gate();
    int winner = -1;
    for (int p = 0; p < kProcs; p++) {
      int code = testing::wait_program(pids[p]);
      if (code == 0) {
        EXPECT_EQ(winner, -1) << "round " << r << ": two winners";
        winner = p;
      } else {
        EXPECT_EQ(code, 3) << "round " << r << " process " << p;
      }
    }
    ASSERT_NE(winner, -1) << "round " << r << ": no winner";
    EXPECT_EQ(must_get(key), "proc-" + std::to_string(winner));
  }
}

std::string backend_name(const ::testing::TestParamInfo<Backend>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(Backends, StoreConformanceTest, ::testing::ValuesIn(kBackends),
                         backend_name);
INSTANTIATE_TEST_SUITE_P(Backends, StoreProcessRaceTest,
                         ::testing::ValuesIn(multi_process_backends()), backend_name);

}  // namespace
}  // namespace isle
