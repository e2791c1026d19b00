// RefreshGate (see refresh_gate.h). Refreshes are numbered in start order
// and never overlap, so "a refresh that started after my call" is "one
// numbered above the count started when I arrived", and finished_ only
// grows. A caller's answer is OK when succeeded_ >= its target, else
// last_failure_ (then every refresh numbered target..finished_ failed, so
// the last failure is one of them).
#include "tail/refresh_gate.h"

namespace isle {

uint64_t RefreshGate::runs() const {
  std::lock_guard lk(mu_);
  return started_;
}

Status RefreshGate::run(bool join_running) {
  std::unique_lock lk(mu_);
  const uint64_t target = join_running && running_ ? started_ : started_ + 1;
  while (finished_ < target) {
    if (running_) {
      wait_for_refresh(lk);
      continue;
    }
    running_ = true;
    const uint64_t mine = ++started_;
    lk.unlock();
    Status s;
    try {
      s = refresh_();
    } catch (...) {
      // Not expected (Status returns); keep the gate usable for the others.
      lk.lock();
      running_ = false;
      finished_ = mine;
      last_failure_ = Status::Aborted("refresh failed with an exception");
      cv_.notify_all();
      throw;
    }
    lk.lock();
    running_ = false;
    finished_ = mine;
    if (s.ok()) {
      succeeded_ = mine;
    } else {
      last_failure_ = std::move(s);
    }
    cv_.notify_all();
  }
  return succeeded_ >= target ? Status::OK() : last_failure_;
}

}  // namespace isle
