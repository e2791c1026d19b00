// WorkerPool (see worker_pool.h).
#include "server/worker_pool.h"

namespace isle::server {

void WorkerPool::start(int threads) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

bool WorkerPool::submit(std::function<void()> task, size_t max_waiting) {
  {
    std::lock_guard lk(mu_);
    if (stop_ || queue_.size() >= max_waiting + idle_) return false;
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
  return true;
}

void WorkerPool::stop() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void WorkerPool::run() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lk(mu_);
      ++idle_;
      cv_.wait(lk, [this] { return stop_ || !queue_.empty(); });
      --idle_;
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

}  // namespace isle::server
