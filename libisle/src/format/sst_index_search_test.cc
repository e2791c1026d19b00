// The index search table of SstReader (index_prefixes_: 8 bytes per index
// entry, after the prefix all index keys share). Seeks and gets must land
// exactly where a search of the index block alone lands, in the cases the
// table is weakest at: every key sharing a long prefix, targets that do not
// share it (below, above, a proper prefix of it), user keys shorter than 8
// bytes after the prefix, and one user key whose versions span many data
// blocks (equal table entries).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "format/sst_reader.h"
#include "format/sst_test_util.h"

namespace isle {
namespace {

using sst_testing::ModelEntry;

std::vector<ModelEntry> model_of(const std::vector<std::string>& user_keys, int versions_of_hot) {
  std::vector<ModelEntry> m;
  uint64_t seq = 1;
  for (const std::string& uk : user_keys) {
    const int versions = uk == user_keys[user_keys.size() / 2] ? versions_of_hot : 1;
    for (int v = 0; v < versions; v++) {
      ModelEntry e;
      append_internal_key(&e.ikey, uk, seq, ValueKind::kPut, false);
      e.value = "value-" + std::to_string(seq) + std::string(30, 'x');
      seq++;
      m.push_back(std::move(e));
    }
  }
  sst_testing::sort_model(&m);
  return m;
}

void check_seeks(const std::vector<ModelEntry>& model, const std::vector<std::string>& targets) {
  SstBuilderOptions o;
  o.block_size = 128;  // many index entries
  auto bytes = sst_testing::build_sst(model, o);
  ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
  auto r = SstReader::open(std::make_shared<MemorySource>(*bytes));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  auto it = (*r)->new_iterator();
  for (const std::string& uk : targets) {
    for (uint64_t snap : {kMaxSequence, uint64_t{1}, uint64_t{150}, uint64_t{0}}) {
      const std::string target = seek_key(uk, snap);
      it->seek(target);
      auto lb = std::lower_bound(model.begin(), model.end(), target,
                                 [](const ModelEntry& e, const std::string& t) {
                                   return compare_internal_keys(e.ikey, t) < 0;
                                 });
      ASSERT_EQ(it->valid(), lb != model.end()) << uk << " @" << snap << " "
                                                << it->status().to_string();
      if (lb != model.end()) {
        ASSERT_EQ(it->key(), lb->ikey) << uk << " @" << snap;
      }
      auto got = (*r)->get(uk, snap);
      ASSERT_TRUE(got.ok()) << got.status().to_string();
      auto want = sst_testing::model_get(model, uk, snap);
      ASSERT_EQ(got->has_value(), want.has_value()) << uk << " @" << snap;
      if (want) {
        ASSERT_EQ(**got, *want);
      }
    }
  }
}

TEST(SstIndexSearch, LongSharedPrefixShortTailsAndSpanningVersions) {
  const std::string p = "tenant/0042/events/";
  std::vector<std::string> keys;
  for (int i = 0; i < 120; i++) keys.push_back(p + std::to_string(i * 7));  // short tails
  keys.push_back(p);                                                        // the prefix itself
  keys.push_back(p + std::string(1, '\0'));
  keys.push_back(p + "zzzzzzzzzzzzzzzzzz1");  // same 8 bytes after the prefix...
  keys.push_back(p + "zzzzzzzzzzzzzzzzzz2");  // ...differing later
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  const auto model = model_of(keys, /*versions_of_hot=*/200);  // one key spans blocks

  std::vector<std::string> targets = keys;
  for (const std::string& k : keys) targets.push_back(k + "!");
  for (const char* t : {"", "a", "tenant/", "tenant/0042/events", "tenant/0042/eventt", "tenant/0041/x",
                        "tenant/0043", "zzz", "\xff"}) {
    targets.push_back(t);
  }
  targets.push_back(p + "zzzzzzzzzzzzzzzzzz");
  targets.push_back(p + "zzzzzzzzzzzzzzzzzz15");
  targets.push_back(p + "zzzzzzzzzzzzzzzzzz3");
  check_seeks(model, targets);
}

TEST(SstIndexSearch, NoSharedPrefixBinaryKeys) {
  std::vector<std::string> keys;
  for (int i = 0; i < 300; i++) {
    std::string k(static_cast<size_t>(i % 11), '\0');
    for (size_t j = 0; j < k.size(); j++) k[j] = static_cast<char>((i * 37 + j * 101) & 0xff);
    keys.push_back(k);
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  const auto model = model_of(keys, /*versions_of_hot=*/50);
  std::vector<std::string> targets = keys;
  for (const std::string& k : keys) targets.push_back(k + std::string(1, '\0'));
  targets.push_back("");
  targets.push_back(std::string(12, '\xff'));
  check_seeks(model, targets);
}

}  // namespace
}  // namespace isle
