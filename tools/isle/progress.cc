// ProgressLine (progress.h): an in-place status line on a terminal, a
// periodic log line elsewhere.
#include "progress.h"

#include <unistd.h>

#include <cstdio>

namespace isle::cli {

ProgressLine::ProgressLine(std::string label, std::function<std::string()> text, bool enabled,
                           std::chrono::milliseconds log_interval)
    : label_(std::move(label)),
      text_(std::move(text)),
      enabled_(enabled),
      tty_(isatty(STDERR_FILENO) == 1),
      interval_(tty_ ? std::chrono::milliseconds(250) : log_interval) {}

ProgressLine::~ProgressLine() { finish(); }

void ProgressLine::start() {
  if (!enabled_ || thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void ProgressLine::finish() {
  {
    std::lock_guard lk(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lk(mu_);
  erase_locked();
}

void ProgressLine::log(const std::string& line) {
  if (!enabled_) return;
  std::lock_guard lk(mu_);
  erase_locked();
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

void ProgressLine::run() {
  std::unique_lock lk(mu_);
  for (;;) {
    cv_.wait_for(lk, interval_, [&] { return stop_; });
    if (stop_) return;
    // text_ may take the caller's locks: never call it under ours.
    lk.unlock();
    std::string text = text_();
    lk.lock();
    if (stop_) return;
    draw_locked(text);
  }
}

void ProgressLine::draw_locked(const std::string& text) {
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s: %s", label_.c_str(), text.c_str());
    drawn_ = true;
  } else {
    std::fprintf(stderr, "%s: %s\n", label_.c_str(), text.c_str());
  }
  std::fflush(stderr);
}

void ProgressLine::erase_locked() {
  if (!drawn_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace isle::cli
