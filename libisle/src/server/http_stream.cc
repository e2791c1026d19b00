// StreamState (see http_stream.h for the invariants and a timeline).
#include "server/http_stream.h"

#include <cstdio>

namespace isle::server {

StreamState::StreamState(size_t limit, std::function<void()> notify)
    : limit_(limit), notify_(std::move(notify)) {}

bool StreamState::write(std::string_view data) {
  if (data.empty()) return !closed();  // an empty chunk would end the body
  char size[24];
  int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  std::lock_guard lk(mu_);
  if (gone_ || ended_) return false;
  const size_t framed = static_cast<size_t>(n) + data.size() + 2;
  // A chunk larger than the limit is taken only into an empty queue.
  const size_t queued = pending_.size() + in_flight_;
  if (queued > 0 && queued + framed > limit_) return false;
  pending_.append(size, static_cast<size_t>(n));
  pending_.append(data);
  pending_.append("\r\n");
  kick_locked();
  return true;
}

void StreamState::end(std::string_view last) {
  std::lock_guard lk(mu_);
  if (gone_ || ended_) return;
  if (!last.empty()) {
    char size[24];
    int n = std::snprintf(size, sizeof size, "%zx\r\n", last.size());
    pending_.append(size, static_cast<size_t>(n));
    pending_.append(last);
    pending_.append("\r\n");
  }
  pending_.append("0\r\n\r\n");
  ended_ = true;
  want_writable_ = false;
  kick_locked();
}

size_t StreamState::buffered() const {
  std::lock_guard lk(mu_);
  return pending_.size() + in_flight_;
}

bool StreamState::closed() const {
  std::lock_guard lk(mu_);
  return gone_ || ended_;
}

void StreamState::request_writable() {
  std::lock_guard lk(mu_);
  if (gone_ || ended_) return;
  want_writable_ = true;
  if (writable_due_locked()) kick_locked();
}

void StreamState::queue_head(std::string head) {
  std::lock_guard lk(mu_);
  pending_.insert(0, head);
  kick_locked();
}

void StreamState::take(std::string* out) {
  std::lock_guard lk(mu_);
  out->clear();
  if (pending_.empty() || gone_) {
    kicked_ = false;
    return;
  }
  out->swap(pending_);
  in_flight_ = out->size();
  // Keep the next pending buffer small: a long-lived idle stream should
  // not hold the capacity of its largest burst.
  if (pending_.capacity() > 4096) std::string().swap(pending_);
}

void StreamState::wrote() {
  std::lock_guard lk(mu_);
  in_flight_ = 0;
}

bool StreamState::start_writable() {
  std::lock_guard lk(mu_);
  if (!writable_due_locked()) return false;
  want_writable_ = false;
  writable_running_ = true;
  return true;
}

void StreamState::writable_done() {
  std::lock_guard lk(mu_);
  writable_running_ = false;
  if (writable_due_locked()) kick_locked();
}

void StreamState::mark_gone() {
  std::lock_guard lk(mu_);
  gone_ = true;
  want_writable_ = false;
  std::string().swap(pending_);
}

bool StreamState::gone() const {
  std::lock_guard lk(mu_);
  return gone_;
}

bool StreamState::finished() const {
  std::lock_guard lk(mu_);
  return ended_ && pending_.empty() && in_flight_ == 0;
}

void StreamState::kick_locked() {
  if (kicked_) return;
  kicked_ = true;
  notify_();
}

bool StreamState::writable_due_locked() const {
  return want_writable_ && !writable_running_ && !gone_ && !ended_ &&
         pending_.size() + in_flight_ <= limit_ / 4;
}

}  // namespace isle::server
