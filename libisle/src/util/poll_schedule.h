// PollSchedule: how long a manifest poller (a Reader's or TailingReader's
// background refresh) waits before its next probe of the log, adapting to
// whether entries keep appearing.
//
// Rules (min <= max, both >= 0):
//   * it starts idle: the first delay is max (nothing says a writer is
//     active, and an idle poller must cost one probe per max);
//   * after a probe that found entries the delay is min;
//   * after an empty probe the delay stays min while the last probe that
//     found entries is less than `max` old (a writer that committed within
//     the idle interval will likely commit again soon: keep probing at
//     min). Past that, each empty probe doubles the delay (at least
//     kFirstBackoff), never above max.
// So delays are always within [min, max], an idle poller settles at max
// after a few probes (8 from min 0 to max 1 s: 10, 20, ..., 640, 1000 ms),
// and a busy one probes every min plus one probe's duration.
//
// Pure and deterministic: time is passed in, so tests count probes over a
// simulated schedule exactly. Not thread-safe (one poller owns it, or the
// caller locks).
#pragma once

#include <algorithm>
#include <chrono>
#include <optional>

namespace isle {

class PollSchedule {
 public:
  using Duration = std::chrono::milliseconds;
  using TimePoint = std::chrono::steady_clock::time_point;
  // The first delay of a back-off from a min below it.
  static constexpr Duration kFirstBackoff{10};

  PollSchedule(Duration min, Duration max)
      : min_(std::max(Duration(0), std::min(min, max))), max_(std::max(Duration(0), max)),
        delay_(max_) {}

  // Records a probe that ended at `now` and whether it found entries;
  // returns the delay before the next probe.
  Duration next(bool found, TimePoint now) {
    if (found) {
      last_found_ = now;
      delay_ = min_;
    } else if (last_found_ && now - *last_found_ < max_) {
      delay_ = min_;
    } else {
      delay_ = std::clamp(std::max(delay_ * 2, kFirstBackoff), min_, max_);
    }
    return delay_;
  }

  // The delay next() returned last (max before any probe).
  Duration current() const { return delay_; }
  Duration min() const { return min_; }
  Duration max() const { return max_; }

 private:
  const Duration min_, max_;
  Duration delay_;
  std::optional<TimePoint> last_found_;
};

}  // namespace isle
