// ProgressLine: the status line long jobs (verify, bench) print on stderr.
//
// On a terminal the line is redrawn in place ("\r" + erase) a few times a
// second; otherwise (a log file, a pipe, CI) one full line is printed every
// `log_interval` so logs stay readable. A background thread calls the
// caller's `text` function for the current state, so the job itself never
// blocks on printing; `text` must be thread-safe (read atomics).
//
// Invariants: nothing is printed when disabled; after finish() (or the
// destructor) the thread is gone and, on a terminal, the line is erased so
// later output starts on a clean line; log() prints a whole line above the
// progress line without tearing it (one mutex guards stderr writes).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace isle::cli {

class ProgressLine {
 public:
  // `label` starts every line ("verify"); disabled = prints nothing.
  ProgressLine(std::string label, std::function<std::string()> text, bool enabled,
               std::chrono::milliseconds log_interval = std::chrono::seconds(5));
  ~ProgressLine();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  void start();
  // Stops the thread and erases the line (terminal) — idempotent.
  void finish();
  // Prints `line` + newline to stderr, above the progress line (nothing
  // when disabled).
  void log(const std::string& line);

 private:
  void run();
  void draw_locked(const std::string& text);
  void erase_locked();

  std::string label_;
  std::function<std::string()> text_;
  bool enabled_;
  bool tty_;
  std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool drawn_ = false;  // a line is on screen (terminal mode)
  std::thread thread_;
};

}  // namespace isle::cli
