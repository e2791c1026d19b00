// WorkerPool: a fixed set of threads running queued tasks, for work that
// may block (a handler waiting on the object store or a commit, a scan
// pulling its next chunk). The thread count never grows with load: work
// beyond it waits in the queue, and the queue has a cap the caller states
// per task, so a flood is refused instead of buffered.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace isle::server {

class WorkerPool {
 public:
  WorkerPool() = default;
  ~WorkerPool() { stop(); }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void start(int threads);
  // Queues `task` unless more than `max_waiting` tasks would then wait for
  // a thread (tasks that an idle thread takes at once do not count), or
  // the pool is stopping; false when refused.
  bool submit(std::function<void()> task, size_t max_waiting);
  // Runs every task still queued, then joins the threads. Idempotent.
  void stop();

 private:
  void run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  size_t idle_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace isle::server
