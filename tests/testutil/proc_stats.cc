// /proc readers and the RSS watch (see proc_stats.h).
#include "testutil/proc_stats.h"

#include <dirent.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace isle::testing {

std::optional<ProcStatus> read_proc_status(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  if (!in) return std::nullopt;
  ProcStatus st;
  bool any = false;
  std::string line;
  while (std::getline(in, line)) {
    auto number = [&](const char* name, int64_t* out) {
      const size_t n = std::strlen(name);
      if (line.compare(0, n, name) != 0) return;
      *out = std::strtoll(line.c_str() + n, nullptr, 10);
      any = true;
    };
    number("VmRSS:", &st.rss_kib);
    number("VmHWM:", &st.hwm_kib);
    number("Threads:", &st.threads);
  }
  if (!any) return std::nullopt;  // a zombie has no Vm lines
  return st;
}

bool reset_peak_rss(pid_t pid) {
  std::ofstream out("/proc/" + std::to_string(pid) + "/clear_refs");
  if (!out) return false;
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

int count_open_fds(pid_t pid) {
  DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (d == nullptr) return -1;
  int n = 0;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') n++;
  }
  ::closedir(d);
  return n;
}

uint64_t raise_fd_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit want = rl;
    want.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &want) == 0) rl = want;
  }
  return static_cast<uint64_t>(rl.rlim_cur);
}

std::string format_kib(int64_t kib) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(kib) / 1024.0);
  return buf;
}

RssWatch::RssWatch(pid_t pid) : pid_(pid) {
  peak_reset_ = reset_peak_rss(pid_);
  if (auto st = read_proc_status(pid_)) {
    before_kib_ = st->rss_kib;
    sampled_peak_kib_ = st->rss_kib;
    // A refused reset leaves the old peak: then only the sampler counts.
    if (peak_reset_ && st->hwm_kib > st->rss_kib + 1024) peak_reset_ = false;
  }
  sampler_ = std::thread([this] {
    while (!stop_.load()) {
      if (auto st = read_proc_status(pid_)) {
        int64_t seen = sampled_peak_kib_.load();
        while (st->rss_kib > seen && !sampled_peak_kib_.compare_exchange_weak(seen, st->rss_kib)) {
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
}

RssWatch::~RssWatch() { stop(); }

void RssWatch::stop() {
  if (stopped_) return;
  stopped_ = true;
  stop_ = true;
  if (sampler_.joinable()) sampler_.join();
  if (auto st = read_proc_status(pid_)) {
    after_kib_ = st->rss_kib;
    hwm_kib_ = st->hwm_kib;
    int64_t seen = sampled_peak_kib_.load();
    sampled_peak_kib_ = std::max(seen, st->rss_kib);
  } else {
    after_kib_ = before_kib_;
  }
}

int64_t RssWatch::peak_kib() const {
  int64_t peak = std::max(sampled_peak_kib_.load(), after_kib_);
  if (peak_reset_) peak = std::max(peak, hwm_kib_);
  return peak;
}

std::string RssWatch::describe() const {
  std::ostringstream out;
  out << "rss " << format_kib(before_kib_) << " -> " << format_kib(after_kib_) << ", peak "
      << format_kib(peak_kib()) << " (+" << format_kib(peak_growth_kib()) << "; VmHWM "
      << format_kib(hwm_kib_) << (peak_reset_ ? ", reset at start" : ", not reset: sampled peak")
      << ")";
  return out.str();
}

}  // namespace isle::testing
