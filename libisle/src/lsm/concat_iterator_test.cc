// Concat iterator tests: files are opened lazily (none before a seek, one
// per seek, each once per scan), a seek jumps straight to the one file that
// can hold the target, open and child errors stop the walk, and a
// malformed run or a file holding keys outside its range is reported.
#include "lsm/concat_iterator.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "format/internal_key.h"
#include "lsm/memtable.h"

namespace isle {
namespace {

// A run of memtable-backed files; file i holds user keys "f<i>k0".."f<i>k4",
// each with versions at sequences 100*i + 10*j + {2, 1}.
struct TestRun {
  std::vector<std::shared_ptr<Memtable>> mems;
  std::vector<RunFile> files;
  std::map<size_t, int> opens;  // file index -> open count
  std::map<size_t, Status> open_errors;

  explicit TestRun(size_t n, size_t empty_file = SIZE_MAX) {
    for (size_t i = 0; i < n; i++) {
      auto mem = std::make_shared<Memtable>();
      const std::string prefix = "f" + std::to_string(i) + "k";
      if (i != empty_file) {
        for (int j = 0; j < 5; j++) {
          for (uint64_t v = 1; v <= 2; v++) {
            EXPECT_TRUE(mem->add(100 * i + 10 * j + v, ValueKind::kPut, prefix + std::to_string(j),
                                 "v" + std::to_string(v)).ok());
          }
        }
      }
      mems.push_back(mem);
      files.push_back({prefix + "0", prefix + "4"});
    }
  }

  std::unique_ptr<InternalIterator> iterator() {
    return new_concat_iterator(files, [this](size_t i) -> Result<std::unique_ptr<InternalIterator>> {
      EXPECT_LT(i, mems.size());
      opens[i]++;
      auto e = open_errors.find(i);
      if (e != open_errors.end()) return e->second;
      return new_memtable_iterator(mems[i]);
    });
  }

  int total_opens() const {
    int n = 0;
    for (const auto& [i, c] : opens) n += c;
    return n;
  }
};

std::string user_key_at(const InternalIterator& it) { return std::string(extract_user_key(it.key())); }

TEST(ConcatIterator, NothingIsOpenedBeforeASeek) {
  TestRun run(4);
  auto it = run.iterator();
  EXPECT_FALSE(it->valid());
  EXPECT_EQ(run.total_opens(), 0);
}

TEST(ConcatIterator, ASeekOpensOnlyTheFileThatCanHoldTheTarget) {
  TestRun run(6);
  auto it = run.iterator();
  it->seek(seek_key("f3k2"));
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(user_key_at(*it), "f3k2");
  EXPECT_EQ(run.opens, (std::map<size_t, int>{{3, 1}}));

  // Between two files' ranges: the later file, and only it.
  run.opens.clear();
  it->seek(seek_key("f4"));
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(user_key_at(*it), "f4k0");
  EXPECT_EQ(run.opens, (std::map<size_t, int>{{4, 1}}));

  // A seek landing in the file already open reuses it.
  run.opens.clear();
  it->seek(seek_key("f4k3", 1));
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key(), make_internal_key("f4k4", 442, ValueKind::kPut));
  EXPECT_EQ(run.total_opens(), 0);

  // Before the first file: file 0.
  run.opens.clear();
  it->seek(seek_key(""));
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(user_key_at(*it), "f0k0");
  EXPECT_EQ(run.opens, (std::map<size_t, int>{{0, 1}}));

  // Past the last file: nothing opened, invalid, OK.
  run.opens.clear();
  it->seek(seek_key("g"));
  EXPECT_FALSE(it->valid());
  EXPECT_TRUE(it->status().ok());
  EXPECT_EQ(run.total_opens(), 0);

  // The last key of file 1 below its oldest version: the walk moves on to
  // file 2 (the one case a seek opens two files).
  run.opens.clear();
  it->seek(seek_key("f1k4", 0));
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(user_key_at(*it), "f2k0");
  EXPECT_EQ(run.opens, (std::map<size_t, int>{{1, 1}, {2, 1}}));
}

TEST(ConcatIterator, AScanOpensEachFileOnceInOrderAndSkipsEmptyFiles) {
  TestRun run(5, /*empty_file=*/2);
  auto it = run.iterator();
  it->seek_to_first();
  EXPECT_EQ(run.opens, (std::map<size_t, int>{{0, 1}}));
  std::vector<std::string> keys;
  for (; it->valid(); it->next()) keys.push_back(std::string(it->key()));
  EXPECT_TRUE(it->status().ok());
  std::vector<std::string> expected;
  for (size_t i = 0; i < 5; i++) {
    if (i == 2) continue;
    for (uint64_t j = 0; j < 5; j++) {
      for (uint64_t v = 2; v >= 1; v--) {
        expected.push_back(make_internal_key("f" + std::to_string(i) + "k" + std::to_string(j),
                                             100 * i + 10 * j + v, ValueKind::kPut));
      }
    }
  }
  EXPECT_EQ(keys, expected);
  EXPECT_EQ(run.opens, (std::map<size_t, int>{{0, 1}, {1, 1}, {2, 1}, {3, 1}, {4, 1}}));
}

TEST(ConcatIterator, AnOpenErrorStopsTheWalkWithItsStatus) {
  TestRun run(4);
  run.open_errors[2] = Status::Transient("503");
  auto it = run.iterator();
  int n = 0;
  for (it->seek_to_first(); it->valid(); it->next()) n++;
  EXPECT_EQ(n, 20);  // files 0 and 1
  EXPECT_EQ(it->status().code(), Code::kTransient);
  EXPECT_NE(it->status().message().find("run file 2"), std::string::npos);
  EXPECT_EQ(run.opens.count(3), 0u);

  // A seek elsewhere works; a seek into the failing file fails again.
  it->seek(seek_key("f3k0"));
  EXPECT_TRUE(it->valid());
  it->seek(seek_key("f2k0"));
  EXPECT_FALSE(it->valid());
  EXPECT_EQ(it->status().code(), Code::kTransient);
}

TEST(ConcatIterator, AChildErrorStopsTheWalk) {
  TestRun run(3);
  auto it = new_concat_iterator(run.files, [&](size_t i) -> Result<std::unique_ptr<InternalIterator>> {
    if (i == 1) return new_empty_iterator(Status::Corruption("bad block"));
    return new_memtable_iterator(run.mems[i]);
  });
  int n = 0;
  for (it->seek_to_first(); it->valid(); it->next()) n++;
  EXPECT_EQ(n, 10);
  EXPECT_TRUE(it->status().is_corruption());
}

TEST(ConcatIterator, AMalformedRunIsInvalidArgumentAndOpensNothing) {
  TestRun run(3);
  run.files[1].max_user_key = "f2k1";  // overlaps file 2
  auto it = run.iterator();
  it->seek_to_first();
  EXPECT_FALSE(it->valid());
  EXPECT_TRUE(it->status().is_invalid_argument());
  it->seek(seek_key("f0"));
  EXPECT_TRUE(it->status().is_invalid_argument());
  EXPECT_EQ(run.total_opens(), 0);

  TestRun inverted(1);
  inverted.files[0] = {"b", "a"};
  auto it2 = inverted.iterator();
  it2->seek_to_first();
  EXPECT_TRUE(it2->status().is_invalid_argument());
}

TEST(ConcatIterator, AKeyOutsideItsFileRangeIsCorruption) {
  TestRun run(3);
  run.files[1].max_user_key = "f1k3";  // the file also holds f1k4
  auto it = run.iterator();
  it->seek(seek_key("f1k3"));
  ASSERT_TRUE(it->valid());
  it->next();
  ASSERT_TRUE(it->valid());  // f1k3 has two versions
  it->next();
  EXPECT_FALSE(it->valid());
  EXPECT_TRUE(it->status().is_corruption());
}

TEST(ConcatIterator, NoFilesIsEmptyAndShortTargetsAreRejected) {
  auto empty = new_concat_iterator({}, [](size_t) -> Result<std::unique_ptr<InternalIterator>> {
    ADD_FAILURE() << "opened a file of an empty run";
    return Status::Aborted("x");
  });
  empty->seek_to_first();
  EXPECT_FALSE(empty->valid());
  EXPECT_TRUE(empty->status().ok());

  TestRun run(2);
  auto it = run.iterator();
  it->seek("f1");
  EXPECT_FALSE(it->valid());
  EXPECT_TRUE(it->status().is_invalid_argument());
  EXPECT_EQ(run.total_opens(), 0);
}

}  // namespace
}  // namespace isle
