// std::terminate handler for the daemons (see crash_handler.h).
//
// The plain stderr line is formatted into a fixed buffer and written with
// write(2) before the logger is touched, so it gets out even when the
// logger is what broke.
#include "server/crash_handler.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <thread>

#include <spdlog/spdlog.h>

namespace isle::server {

namespace {

// Copied at install time: the handler must not depend on an object whose
// destructor may already have run when terminate is called late.
char g_name[64] = "isle";
std::atomic<bool> g_reporting{false};

// what() of the exception being handled; a fixed text when there is none
// or it is not a std::exception.
const char* current_what() {
  std::exception_ptr e = std::current_exception();
  if (!e) return "std::terminate called without an active exception";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "unknown (not a std::exception)";
  }
}

void write_stderr(const char* what) {
  char line[1024];
  int n = std::snprintf(line, sizeof line, "%s: fatal: uncaught exception: %s; exiting %d\n",
                        g_name, what, kExitSoftware);
  if (n < 0) return;
  size_t len = static_cast<size_t>(n) < sizeof line ? static_cast<size_t>(n) : sizeof line - 1;
  const char* p = line;
  while (len > 0) {
    ssize_t w = ::write(STDERR_FILENO, p, len);
    if (w <= 0) return;
    p += w;
    len -= static_cast<size_t>(w);
  }
}

[[noreturn]] void on_terminate() noexcept {
  if (g_reporting.exchange(true)) {
    // Another thread is reporting and will exit; do not cut it short, but
    // never hang if it cannot finish.
    std::this_thread::sleep_for(std::chrono::seconds(5));
    ::_exit(kExitSoftware);
  }
  const char* what = "unknown";
  try {
    what = current_what();
  } catch (...) {
  }
  write_stderr(what);
  try {
    spdlog::critical("uncaught exception: {}; {} exits {}", what, g_name, kExitSoftware);
    if (auto* logger = spdlog::default_logger_raw()) logger->flush();
  } catch (...) {
    // The plain line above is the report.
  }
  ::_exit(kExitSoftware);
}

}  // namespace

void install_crash_handler(std::string daemon_name) {
  std::snprintf(g_name, sizeof g_name, "%s", daemon_name.c_str());
  std::set_terminate(on_terminate);
}

}  // namespace isle::server
