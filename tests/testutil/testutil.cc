// Implementation of the shared test helpers.
#include "testutil/testutil.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

extern char** environ;

namespace isle::testing {

namespace fs = std::filesystem;

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/isle-test-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  if (std::getenv("ISLE_KEEP_TEST_DIRS") != nullptr) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
}

int seed_count(int dflt) {
  const char* v = std::getenv("ISLE_TEST_SEEDS");
  return v ? std::max(1, std::atoi(v)) : dflt;
}

uint64_t seed_base() {
  const char* v = std::getenv("ISLE_TEST_SEED_BASE");
  return v ? std::strtoull(v, nullptr, 10) : 1;
}

std::string built_program(const std::string& name) {
  if (const char* dir = std::getenv("ISLE_BIN_DIR")) {
    for (fs::path p : {fs::path(dir) / name, fs::path(dir) / "tests" / name}) {
      if (fs::exists(p)) return p.string();
    }
  }
  fs::path here = fs::read_symlink("/proc/self/exe").parent_path();
  for (int up = 0; up < 4; up++) {
    for (fs::path p : {here / name, here / "tests" / name}) {
      if (fs::exists(p)) return p.string();
    }
    here = here.parent_path();
  }
  throw std::runtime_error("built program not found: " + name);
}

int spawn_program(const std::string& path, const std::vector<std::string>& args) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(path.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid;
  if (posix_spawn(&pid, path.c_str(), nullptr, nullptr, argv.data(), environ) != 0) return -1;
  return pid;
}

int wait_program(int pid) {
  if (pid < 0) return -1;
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int run_program(const std::string& path, const std::vector<std::string>& args) {
  return wait_program(spawn_program(path, args));
}

}  // namespace isle::testing
