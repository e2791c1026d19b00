// The crash handler: an exception escaping a background thread ends the
// process with exit code 70 and a report naming the daemon and the
// exception, on stderr and through the configured logger.
#include "server/crash_handler.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <thread>

#include "server/logging.h"

namespace isle::server {
namespace {

// Death tests fork; with threads in the picture the child re-executes the
// test binary instead of inheriting a half-copied process.
class CrashHandlerDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(CrashHandlerDeathTest, AnExceptionInABackgroundThreadExits70NamingIt) {
  EXPECT_EXIT(
      {
        install_crash_handler("crashtestd");
        std::thread t([] { throw std::runtime_error("boom in the background"); });
        t.join();
      },
      ::testing::ExitedWithCode(kExitSoftware),
      "crashtestd: fatal: uncaught exception: boom in the background; exiting 70");
}

TEST_F(CrashHandlerDeathTest, TheReportAlsoGoesThroughTheLogger) {
  // setup_logging sends the daemon's log to stderr, where the death test
  // reads it: the critical line is there next to the plain one.
  EXPECT_EXIT(
      {
        if (!setup_logging("info", "text", "crashtestd").ok()) std::_Exit(1);
        install_crash_handler("crashtestd");
        std::thread t([] { throw std::logic_error("logged boom"); });
        t.join();
      },
      ::testing::ExitedWithCode(kExitSoftware),
      "crashtestd: uncaught exception: logged boom; crashtestd exits 70");
}

TEST_F(CrashHandlerDeathTest, NonStandardExceptionsAndBareTerminateExit70Too) {
  EXPECT_EXIT(
      {
        install_crash_handler("crashtestd");
        std::thread t([] { throw 42; });
        t.join();
      },
      ::testing::ExitedWithCode(kExitSoftware), "crashtestd: fatal: uncaught exception: unknown");
  EXPECT_EXIT(
      {
        install_crash_handler("crashtestd");
        std::terminate();
      },
      ::testing::ExitedWithCode(kExitSoftware), "without an active exception");
}

}  // namespace
}  // namespace isle::server
