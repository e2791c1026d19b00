// Status: names and formatting. See include/isle/status.h for the contract.
#include "isle/status.h"

namespace isle {

std::string_view code_name(Code code) {
  switch (code) {
    case Code::kOk: return "ok";
    case Code::kNotFound: return "not_found";
    case Code::kPreconditionFailed: return "precondition_failed";
    case Code::kTransient: return "transient";
    case Code::kThrottled: return "throttled";
    case Code::kUnknownOutcome: return "unknown_outcome";
    case Code::kPermanent: return "permanent";
    case Code::kInvalidArgument: return "invalid_argument";
    case Code::kCorruption: return "corruption";
    case Code::kIOError: return "io_error";
    case Code::kNotSupported: return "not_supported";
    case Code::kFenced: return "fenced";
    case Code::kBackpressure: return "backpressure";
    case Code::kAborted: return "aborted";
    case Code::kChangeCursorExpired: return "change_cursor_expired";
    case Code::kStopped: return "stopped";
  }
  return "unknown";
}

std::string Status::to_string() const {
  if (ok()) return "ok";
  std::string out(code_name(code_));
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

Status Status::with_context(std::string_view context) const {
  if (ok()) return *this;
  std::string m(context);
  m += ": ";
  m += message_;
  return Status(code_, std::move(m));
}

}  // namespace isle
