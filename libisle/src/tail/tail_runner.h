// TailRunner: what a TailChannel needs of the TailingReader that runs its
// tail (TailingReader::Impl implements it), so that the channel, a queue
// and a thread, lives in its own file (tail_channel.cc).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "isle/tailing_reader.h"

namespace isle {

class TailRunner {
 public:
  virtual ~TailRunner() = default;
  // The stop() generation now: a tail started with it ends (Stopped) at
  // the next stop().
  virtual uint64_t current_stop_gen() = 0;
  // Runs a tail (TailingReader::tail's contract) until the handler
  // returns false, *cancel is set (OK), stop() of generation `stop_gen`
  // (Stopped; nullopt = the generation now) or an error.
  virtual Status run_tail(const TailOptions& o, const TailHandler& handler,
                          const std::atomic<bool>* cancel, const CaughtUpHandler* caught_up,
                          std::optional<uint64_t> stop_gen) = 0;
  // Wakes waiting tails so they look at their cancel flag.
  virtual void wake_all() = 0;
};

// A channel running `o` (already validated) on its own thread into a
// queue of `capacity` (>= 1) events. Its stop() generation is taken now.
std::unique_ptr<TailChannel> open_channel(std::shared_ptr<TailRunner> runner, TailOptions o,
                                          size_t capacity);

}  // namespace isle
