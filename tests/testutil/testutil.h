// Test helpers shared by all suites: scratch directories that clean up
// after themselves, the seed list for property tests, and spawning helper
// processes for multi-process races.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace isle::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on
// destruction unless ISLE_KEEP_TEST_DIRS is set.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Number of seeds property tests should run: $ISLE_TEST_SEEDS or `dflt`.
int seed_count(int dflt);
// First seed: $ISLE_TEST_SEED_BASE or 1 (to replay a failing seed).
uint64_t seed_base();

// Path of a program built next to the tests ($ISLE_BIN_DIR/<name>, or found
// by walking up from the current executable's directory).
std::string built_program(const std::string& name);

// Runs a program with arguments and waits; returns its exit code, or -1
// when it could not be started or died from a signal.
int run_program(const std::string& path, const std::vector<std::string>& args);

// Starts a program without waiting; returns its pid (or -1).
int spawn_program(const std::string& path, const std::vector<std::string>& args);
// Waits for a pid from spawn_program; returns its exit code or -1.
int wait_program(int pid);

}  // namespace isle::testing
