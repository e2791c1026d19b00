// RefreshGate: single-flight manifest refreshes for a TailingReader.
//
// At most one refresh runs at a time. Callers that need a view holding
// every write acknowledged before they called (a tail opening, refresh())
// use fresh(): it returns once a refresh that STARTED after the call has
// finished. The refresh that was already running when they arrived does
// not count (it may have read the log before their writes landed); the
// next one is shared by everyone who arrived meanwhile, so N callers
// arriving together cost one or two refreshes, never N. Callers that only
// need "a recent view" (the background loop, a waiting tail's poll) use
// any(): it joins the refresh running now, else runs one.
//
// The result: OK when some refresh numbered at or above the caller's
// target (the first one that counts for it) has succeeded by the time the
// caller looks, even if a later one failed meanwhile: the guarantee (a view
// at least as new as that refresh) holds, since a failed refresh leaves the
// view it found. Otherwise every refresh from the target on failed, and the
// caller gets the latest failure (the freshest account of what is wrong).
//
// The refresh function runs on the calling thread outside the gate's
// lock; it must not call back into the gate (that would wait for itself).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>

#include "isle/status.h"

namespace isle {

class RefreshGate {
 public:
  explicit RefreshGate(std::function<Status()> refresh) : refresh_(std::move(refresh)) {}
  virtual ~RefreshGate() = default;
  RefreshGate(const RefreshGate&) = delete;
  RefreshGate& operator=(const RefreshGate&) = delete;

  // The status of a refresh that started after this call began.
  Status fresh() { return run(false); }
  // The status of a refresh that finished after this call began (the one
  // running now, or a new one).
  Status any() { return run(true); }
  // Refreshes run so far (started).
  uint64_t runs() const;

 protected:
  // Blocks until a refresh finishes (or spuriously), lk held on entry and
  // on return. A test seam: a test subclass calls this and may then hold
  // the caller back (lk released) to order threads deterministically.
  virtual void wait_for_refresh(std::unique_lock<std::mutex>& lk) { cv_.wait(lk); }

 private:
  Status run(bool join_running);

  const std::function<Status()> refresh_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool running_ = false;
  uint64_t started_ = 0;   // refreshes started; the running one is number started_
  uint64_t finished_ = 0;   // the number of the last one finished
  uint64_t succeeded_ = 0;  // the number of the last one that returned OK
  Status last_failure_;     // the result of the last one that failed
};

}  // namespace isle
