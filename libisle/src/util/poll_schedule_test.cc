// PollSchedule: probe counts over simulated idle and busy periods, exact
// from the schedule (time is passed in, nothing sleeps).
#include "util/poll_schedule.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace isle {
namespace {

using namespace std::chrono_literals;
using ms = std::chrono::milliseconds;
using TP = PollSchedule::TimePoint;

// Runs a poller over [0, window): each probe takes `probe`; it finds
// entries when a commit time lies in (previous probe's end, this probe's
// end]. Returns the end times of the probes (ms from 0).
std::vector<int64_t> simulate(PollSchedule& s, ms window, ms probe, const std::vector<int64_t>& commits,
                              int64_t first_start_ms = -1) {
  std::vector<int64_t> ends;
  const TP t0{};
  int64_t start = first_start_ms >= 0 ? first_start_ms : s.current().count();
  int64_t prev_end = -1;
  while (start + probe.count() <= window.count()) {
    const int64_t end = start + probe.count();
    bool found = false;
    for (int64_t c : commits) found |= c > prev_end && c <= end;
    ends.push_back(end);
    prev_end = end;
    start = end + s.next(found, t0 + ms(end)).count();
  }
  return ends;
}

TEST(PollSchedule, AnIdlePollerProbesOncePerMaxFromTheStart) {
  PollSchedule s(0ms, 1000ms);
  EXPECT_EQ(s.current(), 1000ms) << "a new poller starts idle";
  auto ends = simulate(s, std::chrono::hours(1), 0ms, {});
  // Probes at 1 s, 2 s, ..., 3600 s.
  EXPECT_EQ(ends.size(), 3600u);
  EXPECT_EQ(ends.front(), 1000);
  EXPECT_EQ(ends.back(), 3'600'000);
}

TEST(PollSchedule, AfterEntriesItHoldsMinForOneMaxThenDoublesBackToMax) {
  PollSchedule s(5ms, 1000ms);
  // A probe at 0 finds an entry; nothing more is committed.
  ASSERT_EQ(s.next(true, TP{}), 5ms);
  auto ends = simulate(s, 10s, 0ms, {}, 5);
  // Hold: probes every 5 ms at 5..1000 (200 probes; the one at 1000 ms is
  // a full max after the find, so it starts the back-off).
  ASSERT_GE(ends.size(), 200u);
  for (size_t i = 0; i < 200; i++) EXPECT_EQ(ends[i], int64_t(5 * (i + 1))) << i;
  // Back-off: 10, 20, 40, ... 640, then max.
  std::vector<int64_t> tail(ends.begin() + 200, ends.end());
  EXPECT_EQ(tail, (std::vector<int64_t>{1010, 1030, 1070, 1150, 1310, 1630, 2270, 3270, 4270, 5270,
                                        6270, 7270, 8270, 9270}));
  EXPECT_EQ(ends.size(), 214u);
}

TEST(PollSchedule, ABusyPollerProbesBackToBackAndSeesEveryCommitWithinOneProbe) {
  // A writer committing every 100 ms from 100 ms to 10 s, then silence;
  // probes take 30 ms, min 0: one probe is always in flight while busy.
  PollSchedule s(0ms, 1000ms);
  std::vector<int64_t> commits;
  for (int64_t c = 100; c <= 10'000; c += 100) commits.push_back(c);
  auto ends = simulate(s, 20s, 30ms, commits);
  // Idle at first: the first probe starts after max (1,000 ms) and ends at
  // 1,030 with ten commits. From then on back to back (every 30 ms) until
  // the first empty probe a full max after the last find (10,000 ms):
  // the probe ending at 11,020. That is probes 1,030 + 30k, k = 0..333.
  ASSERT_GE(ends.size(), 334u);
  for (size_t k = 0; k < 334; k++) EXPECT_EQ(ends[k], int64_t(1030 + 30 * k)) << k;
  // Every commit after the first probe is seen by a probe ending at most
  // one probe (30 ms) later.
  for (int64_t c : commits) {
    if (c <= 1030) continue;
    auto it = std::lower_bound(ends.begin(), ends.end(), c);
    ASSERT_NE(it, ends.end());
    EXPECT_LE(*it - c, 30) << "commit at " << c;
  }
  // Then the back-off: waits of 10, 20, ..., 640 ms, then 1 s, each plus
  // the 30 ms probe; 14 probes until 20 s, against 334 while busy.
  std::vector<int64_t> idle(ends.begin() + 334, ends.end());
  EXPECT_EQ(idle, (std::vector<int64_t>{11060, 11110, 11180, 11290, 11480, 11830, 12500, 13530,
                                        14560, 15590, 16620, 17650, 18680, 19710}));
}

TEST(PollSchedule, DelaysStayWithinMinAndMax) {
  PollSchedule s(20ms, 50ms);
  TP t{};
  for (int i = 0; i < 100; i++) {
    const bool found = i % 17 == 0;
    t += 7ms;
    const ms d = s.next(found, t);
    EXPECT_GE(d, 20ms);
    EXPECT_LE(d, 50ms);
    t += d;
  }
  PollSchedule inverted(100ms, 10ms);  // min above max: min is clamped to max
  EXPECT_EQ(inverted.min(), 10ms);
  EXPECT_EQ(inverted.next(true, TP{}), 10ms);
}

}  // namespace
}  // namespace isle
