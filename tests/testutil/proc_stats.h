// What a process costs, read from /proc, for tests that hold a daemon to a
// resource bound under attack: resident memory (VmRSS), its peak (VmHWM,
// which can be reset through /proc/<pid>/clear_refs), threads, open
// descriptors; and raising this process's own descriptor limit for tests
// that open thousands of sockets.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>

namespace isle::testing {

// Whether a daemon's RSS measures what it holds. Not under AddressSanitizer:
// its allocator keeps freed memory in a quarantine (256 MiB by default)
// and pads every allocation, so a daemon that churns through buffers grows
// whatever it retains. The release build asserts the memory bounds; the
// sanitizer build runs the same attacks for memory errors and answers.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kRssIsMeaningful = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kRssIsMeaningful = false;
#else
inline constexpr bool kRssIsMeaningful = true;
#endif
#else
inline constexpr bool kRssIsMeaningful = true;
#endif

struct ProcStatus {
  int64_t rss_kib = 0;  // VmRSS
  int64_t hwm_kib = 0;  // VmHWM: the peak of VmRSS (since start or the last reset)
  int64_t threads = 0;  // Threads
};

// /proc/<pid>/status's figures; nullopt when the process is gone.
std::optional<ProcStatus> read_proc_status(pid_t pid);
// Resets VmHWM to the current VmRSS (writes "5" to /proc/<pid>/clear_refs,
// Linux 4.0+). False when the kernel or the permissions refuse.
bool reset_peak_rss(pid_t pid);
// Entries of /proc/<pid>/fd; -1 when unreadable.
int count_open_fds(pid_t pid);
// Raises this process's RLIMIT_NOFILE soft limit to the hard limit;
// returns the soft limit now in force.
uint64_t raise_fd_limit();

// Watches one process's resident memory over an operation: the VmRSS
// before, the peak during (VmHWM after resetting it at the start, and a
// sampler thread reading VmRSS every few milliseconds in case the reset is
// refused), and the VmRSS after.
class RssWatch {
 public:
  explicit RssWatch(pid_t pid);
  ~RssWatch();  // stop()s
  RssWatch(const RssWatch&) = delete;
  RssWatch& operator=(const RssWatch&) = delete;

  // Ends the watch: reads the final figures. Idempotent.
  void stop();

  int64_t before_kib() const { return before_kib_; }
  int64_t after_kib() const { return after_kib_; }
  // VmHWM at stop() (the peak of the watch when peak_reset() is true).
  int64_t hwm_kib() const { return hwm_kib_; }
  int64_t sampled_peak_kib() const { return sampled_peak_kib_.load(); }
  bool peak_reset() const { return peak_reset_; }
  // The highest resident size seen during the watch.
  int64_t peak_kib() const;
  // peak - before, and after - before (may be negative).
  int64_t peak_growth_kib() const { return peak_kib() - before_kib_; }
  int64_t kept_growth_kib() const { return after_kib_ - before_kib_; }
  // "rss 41.2 -> 43.0 MiB, peak 47.5 MiB (+6.3 MiB, VmHWM 47.5 MiB)".
  std::string describe() const;

 private:
  pid_t pid_;
  int64_t before_kib_ = 0;
  int64_t after_kib_ = 0;
  int64_t hwm_kib_ = 0;
  bool peak_reset_ = false;
  std::atomic<int64_t> sampled_peak_kib_{0};
  std::atomic<bool> stop_{false};
  std::thread sampler_;
  bool stopped_ = false;
};

// "12.3 MiB".
std::string format_kib(int64_t kib);

}  // namespace isle::testing
