// TailChannel: a tail on its own thread delivering into a bounded queue
// (contract in include/isle/tailing_reader.h). The thread blocks while the
// queue is full, so nothing is dropped; close() cancels the tail, wakes it
// and joins. Once the tail ended and the queue is drained, next() returns
// why: its error, Stopped (the reader's stop()), or Aborted (close()).
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "isle/tailing_reader.h"
#include "tail/tail_runner.h"

namespace isle {

class TailChannel::Impl {
 public:
  Impl(std::shared_ptr<TailRunner> reader, TailOptions o, size_t capacity)
      : reader_(std::move(reader)), o_(std::move(o)), capacity_(capacity),
        stop_gen_(reader_->current_stop_gen()) {}

  void start() {
    thread_ = std::thread([this] {
      Status s = reader_->run_tail(
          o_, [this](const ChangeEvent& e) { return push(e); }, &cancel_, nullptr, stop_gen_);
      std::lock_guard lk(mu_);
      done_ = true;
      final_ = !s.ok() ? s
               : cancel_ ? Status::Aborted("tail channel closed")
                         : Status::Stopped("the tailing reader was stopped");
      cv_.notify_all();
    });
  }

  Result<std::optional<ChangeEvent>> next(std::chrono::milliseconds timeout) {
    std::unique_lock lk(mu_);
    cv_.wait_for(lk, timeout, [&] { return !queue_.empty() || done_; });
    if (!queue_.empty()) {
      ChangeEvent e = std::move(queue_.front());
      queue_.pop_front();
      cv_.notify_all();
      return std::optional<ChangeEvent>(std::move(e));
    }
    if (done_) return final_;
    return std::optional<ChangeEvent>();
  }

  void close() {
    cancel_ = true;
    {
      std::lock_guard lk(mu_);
      cv_.notify_all();
    }
    reader_->wake_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  bool push(const ChangeEvent& e) {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return queue_.size() < capacity_ || cancel_; });
    if (cancel_) return false;
    queue_.push_back(e);
    cv_.notify_all();
    return true;
  }

  const std::shared_ptr<TailRunner> reader_;
  const TailOptions o_;
  const size_t capacity_;
  const uint64_t stop_gen_;  // the reader's stop() generation at subscribe()
  std::atomic<bool> cancel_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<ChangeEvent> queue_;
  bool done_ = false;
  Status final_;
  std::thread thread_;
};

TailChannel::TailChannel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TailChannel::~TailChannel() { close(); }
Result<std::optional<ChangeEvent>> TailChannel::next(std::chrono::milliseconds timeout) {
  return impl_->next(timeout);
}
void TailChannel::close() { impl_->close(); }

std::unique_ptr<TailChannel> open_channel(std::shared_ptr<TailRunner> runner, TailOptions o,
                                          size_t capacity) {
  auto impl = std::make_unique<TailChannel::Impl>(std::move(runner), std::move(o), capacity);
  impl->start();
  return std::make_unique<TailChannel>(std::move(impl));
}

}  // namespace isle
