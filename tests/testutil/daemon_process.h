// Runs one IsleDB daemon (writerd, readerd, ...) as a child process for the
// integration tests: writes its YAML config into a scratch directory,
// starts it listening on a free port (server.listen port 0 +
// server.address_file), waits until /readyz answers 200, and stops it with
// SIGTERM or SIGKILL. stdout and stderr go to a log file that failures
// print, so a test that fails says what the daemon said.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "testutil/http_client.h"

namespace isle::testing {

// Dotted config paths and values ("writer.flush_interval", "20ms").
using Settings = std::vector<std::pair<std::string, std::string>>;

// Renders dotted settings as nested YAML maps (values quoted when needed).
std::string settings_to_yaml(const Settings& settings);

// What a finished program did.
struct ProgramRun {
  int exit_code = -1;  // 128 + signal when killed; -1 when it did not finish
  std::string output;  // stdout and stderr interleaved
};

// Runs `path args...` to completion (SIGKILL after `timeout`), capturing
// its output through a file in `dir`.
ProgramRun run_capture(const std::string& path, const std::vector<std::string>& args,
                       const std::string& dir,
                       std::chrono::milliseconds timeout = std::chrono::seconds(30));

class DaemonProcess {
 public:
  // `name` is the binary (looked up with built_program); `dir` holds the
  // config, address file and log. `yaml` goes into the config file; `sets`
  // become --set flags (they win over the file). server.listen and
  // server.address_file are added to the file unless `yaml` has them.
  DaemonProcess(std::string name, std::string dir, Settings yaml, Settings sets = {});
  ~DaemonProcess();  // SIGKILLs and reaps a daemon still running
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  // spawn() + wait_listening() + wait_ready().
  ::testing::AssertionResult start(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Starts the process (a new config, address and log file for every
  // start, named <dir>/<name>-<instance>.<start>.*).
  ::testing::AssertionResult spawn();
  // Waits for the address file; fails early when the process exits.
  ::testing::AssertionResult wait_listening(std::chrono::milliseconds timeout);
  // Polls GET /readyz until 200; fails early when the process exits.
  ::testing::AssertionResult wait_ready(std::chrono::milliseconds timeout);

  const std::string& name() const { return name_; }
  pid_t pid() const { return pid_; }
  // "127.0.0.1:PORT" (valid after wait_listening).
  const std::string& address() const { return address_; }
  // A client for the daemon (carrying the token, when one was set).
  HttpClient client() const;
  // The bearer token wait_ready() and client() send (server.auth_tokens_file).
  void set_token(std::string token) { token_ = std::move(token); }
  // Config file used by the last start.
  const std::string& config_path() const { return config_path_; }
  // Adds/replaces --set overrides for the next start.
  void set(const std::string& path, const std::string& value);

  // Whether the process is alive (reaps it when it exited).
  bool running();
  void send_signal(int sig);
  void terminate() { send_signal(SIGTERM); }
  void kill() { send_signal(SIGKILL); }
  // The exit code (128 + signal when killed), or nullopt when it still
  // runs after `timeout`.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  // The exit code of the last run once it ended.
  std::optional<int> exit_code() const { return exit_code_; }
  // SIGTERM, then wait; SIGKILL when it did not exit in `timeout`.
  std::optional<int> stop(std::chrono::milliseconds timeout = std::chrono::seconds(20));

  // What the daemon printed in its last run (the whole log, or its tail).
  std::string log(size_t max_bytes = 64 * 1024) const;
  const std::string& log_path() const { return log_path_; }

 private:
  ::testing::AssertionResult failure(const std::string& what) const;

  std::string name_;
  std::string binary_;
  std::string dir_;
  Settings yaml_;
  Settings sets_;
  int instance_ = 0;    // numbers this object's files: <name>-<instance>.<generation>.log
  int generation_ = 0;  // starts so far
  std::string config_path_;
  std::string log_path_;
  std::string address_file_;
  std::string address_;
  std::string token_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

}  // namespace isle::testing
