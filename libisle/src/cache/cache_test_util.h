// Helpers shared by the cache test suites (header-only): building small
// blocks, waiting for a condition without sleeping, and measuring a
// DiskCache folder.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

#include "format/block_builder.h"
#include "format/block_reader.h"

namespace isle::cache_testing {

// A block holding one entry ("k", `value`).
inline BlockPtr make_block(const std::string& value, const std::string& what = "data block") {
  BlockBuilder b(16);
  b.add("k", value);
  auto r = Block::parse(std::string(b.finish()), what);
  return r.ok() ? *r : nullptr;
}

// The value of the single entry of a block from make_block.
inline std::string block_value(const BlockPtr& block) {
  BlockIter it(block, compare_bytewise);
  it.seek_to_first();
  return it.valid() ? std::string(it.value()) : std::string();
}

// Spins (yielding) until pred() holds; false after 20 s. For waiting on
// another thread's progress that no latch can observe (e.g. a thread
// blocked inside the cache).
inline bool wait_until(const std::function<bool()>& pred) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

struct FolderUsage {
  uint64_t files = 0;
  uint64_t bytes = 0;
};

// Regular files and their bytes under the 256 entry folders of a
// DiskCache directory (not LOCK, not tmp/).
inline FolderUsage entry_files(const std::string& dir) {
  namespace fs = std::filesystem;
  FolderUsage u;
  std::error_code ec;
  for (const auto& sub : fs::directory_iterator(dir, ec)) {
    const std::string name = sub.path().filename().string();
    if (!sub.is_directory() || name.size() != 2) continue;
    for (const auto& f : fs::directory_iterator(sub.path(), ec)) {
      if (f.is_regular_file()) {
        u.files++;
        u.bytes += f.file_size();
      }
    }
  }
  return u;
}

}  // namespace isle::cache_testing
