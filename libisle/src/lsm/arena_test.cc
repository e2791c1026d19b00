// Arena: alignment, non-overlap of allocations, large-request blocks and
// memory accounting.
#include "lsm/arena.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "util/random.h"

namespace isle {
namespace {

TEST(Arena, StartsEmpty) {
  Arena a;
  EXPECT_EQ(a.memory_usage(), 0u);
}

TEST(Arena, AllocationsAreAlignedAndDisjoint) {
  Arena a(4096);
  Random rnd(7);
  struct Alloc {
    char* p;
    size_t n;
    unsigned char fill;
  };
  std::vector<Alloc> allocs;
  for (int i = 0; i < 3000; i++) {
    size_t n = 1 + rnd.skewed(3000);
    size_t align = size_t{1} << rnd.uniform(13);  // 1 .. 4096
    char* p = rnd.chance(0.3) ? a.allocate(n) : a.allocate_aligned(n, align);
    ASSERT_NE(p, nullptr);
    auto fill = static_cast<unsigned char>(i);
    std::memset(p, fill, n);
    allocs.push_back({p, n, fill});
  }
  // Every allocation still holds its own pattern: nothing overlapped.
  for (const auto& al : allocs) {
    for (size_t j = 0; j < al.n; j++) {
      ASSERT_EQ(static_cast<unsigned char>(al.p[j]), al.fill);
    }
  }
}

TEST(Arena, AlignedAllocationHonoursAlignment) {
  Arena a(1024);
  for (size_t align = 1; align <= 4096; align *= 2) {
    for (size_t n : {1u, 3u, 17u, 200u, 900u, 5000u}) {
      a.allocate(1);  // knock the bump pointer off alignment
      char* p = a.allocate_aligned(n, align);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % align, 0u) << "align " << align << " n " << n;
    }
  }
}

TEST(Arena, SmallAllocationsShareBlocks) {
  Arena a(64 * 1024);
  a.allocate(10);
  size_t one_block = a.memory_usage();
  EXPECT_GE(one_block, 64u * 1024);
  EXPECT_LT(one_block, 64u * 1024 + 256);
  for (int i = 0; i < 100; i++) a.allocate(100);  // 10 KB more: same block
  EXPECT_EQ(a.memory_usage(), one_block);
}

TEST(Arena, LargeRequestGetsItsOwnBlockAndKeepsTheCurrentOne) {
  Arena a(64 * 1024);
  a.allocate(10);
  size_t before = a.memory_usage();
  char* big = a.allocate(1 << 20);
  std::memset(big, 1, 1 << 20);
  size_t after = a.memory_usage();
  EXPECT_GE(after - before, size_t{1} << 20);
  EXPECT_LT(after - before, (size_t{1} << 20) + 256);
  // The small-object block is still in use: no new block for this.
  a.allocate(100);
  EXPECT_EQ(a.memory_usage(), after);
}

TEST(Arena, UsageTracksTotalRequested) {
  Arena a(8 * 1024);
  Random rnd(3);
  size_t requested = 0;
  size_t last = 0;
  for (int i = 0; i < 5000; i++) {
    size_t n = 1 + rnd.uniform(500);
    a.allocate(n);
    requested += n;
    ASSERT_GE(a.memory_usage(), last);  // never shrinks
    last = a.memory_usage();
  }
  EXPECT_GE(last, requested);
  // At most a quarter block is wasted per block, plus one partly used block.
  EXPECT_LE(last, requested * 4 / 3 + 2 * 8 * 1024);
}

}  // namespace
}  // namespace isle
