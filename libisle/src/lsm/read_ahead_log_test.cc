// ReadAheadLogStorage: reads ahead after a found entry, uses what they
// found, and never uses a 404 a read ahead got earlier.
#include "lsm/read_ahead_log.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

namespace isle {
namespace {

// Log entries in a map; counts read_log calls per position.
class FakeLog : public ManifestStorage {
 public:
  void add(uint64_t pos) {
    std::lock_guard lk(mu_);
    entries_[pos] = "entry " + std::to_string(pos);
  }
  int reads(uint64_t pos) {
    std::lock_guard lk(mu_);
    return reads_[pos];
  }
  Result<std::string> read_log(uint64_t pos) override {
    std::lock_guard lk(mu_);
    reads_[pos]++;
    auto it = entries_.find(pos);
    if (it == entries_.end()) return Status::NotFound("log " + std::to_string(pos));
    return it->second;
  }
  Result<VersionedObject> read_current(std::string_view) override { return Status::NotFound("c"); }
  Result<std::string> write_current(std::string_view, std::string_view) override {
    return Status::NotSupported("w");
  }
  Status create_log(uint64_t, std::string_view) override { return Status::NotSupported("w"); }
  Result<std::string> read_snapshot(uint64_t) override { return Status::NotFound("s"); }
  Status create_snapshot(uint64_t, std::string_view) override { return Status::NotSupported("w"); }
  std::string describe() const override { return "fake"; }

 private:
  std::mutex mu_;
  std::map<uint64_t, std::string> entries_;
  std::map<uint64_t, int> reads_;
};

bool eventually(const std::function<bool()>& f) {
  for (int i = 0; i < 1000 && !f(); i++) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return f();
}

TEST(ReadAheadLog, AFound404IsReadAgainAndAFoundEntryIsUsed) {
  auto fake = std::make_shared<FakeLog>();
  ReadAheadLogStorage ra(fake, 2);
  fake->add(1);
  ASSERT_TRUE(ra.read_log(1).ok());
  // Found 1: positions 2 and 3 are read ahead, and find nothing yet.
  ASSERT_TRUE(eventually([&] { return fake->reads(2) == 1 && fake->reads(3) == 1; }));
  // Positions 2 and 3 are committed after their reads ahead got 404s:
  // reading 2 must find it (the earlier 404 is not the answer).
  fake->add(2);
  fake->add(3);
  auto r2 = ra.read_log(2);
  ASSERT_TRUE(r2.ok()) << r2.status().to_string();
  EXPECT_EQ(*r2, "entry 2");
  EXPECT_EQ(fake->reads(2), 2) << "read again, once";
  // Found 2: 3 (whose read ahead got a 404) is read ahead again, 4 too.
  ASSERT_TRUE(eventually([&] { return fake->reads(3) == 2 && fake->reads(4) == 1; }));
  // 3 was read ahead after it was committed: used, not read a third time.
  auto r3 = ra.read_log(3);
  ASSERT_TRUE(r3.ok()) << r3.status().to_string();
  EXPECT_EQ(*r3, "entry 3");
  EXPECT_EQ(fake->reads(3), 2);
  // Nothing at 4: NotFound, sent now (the read ahead's 404 plus this one).
  EXPECT_TRUE(ra.read_log(4).status().is_not_found());
  EXPECT_GE(fake->reads(4), 2);
}

}  // namespace
}  // namespace isle
