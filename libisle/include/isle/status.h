// Status and Result<T>: how every fallible libisle call reports its outcome.
//
// No exception crosses the public API. A Status is either OK or carries a
// Code plus a human-readable message; callers branch on the code, never on
// the message. Result<T> holds either a value or a non-OK Status.
//
// The codes are deliberately coarse and stable, because the manifest
// protocol depends on telling them apart:
//   NotFound            the object/key does not exist.
//   PreconditionFailed  a create-only or if-match condition did not hold;
//                       nothing was written.
//   Transient           a failure that may succeed if retried (network
//                       reset, 5xx, timeout before the request was sent).
//   Throttled           the service asked us to slow down (429, SlowDown).
//   UnknownOutcome      the request may or may not have been applied (the
//                       response was lost after sending). Never retried
//                       blindly for conditional writes: the caller must
//                       read back to decide.
//   Permanent           retrying will not help (403, 400 from the store...).
//   InvalidArgument     the caller passed something unacceptable.
//   Corruption          bytes read back fail a checksum or a format check.
//   IOError             a local filesystem call failed.
//   NotSupported        the operation or URL scheme is not available.
//   Fenced              another process owns this role now; terminal.
//   Backpressure        too much unflushed data; retry later.
//   Aborted             the operation was cancelled or the object closed.
//   ChangeCursorExpired a change-feed cursor is older than the history the
//                       database still keeps; resume from a bootstrap.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace isle {

enum class Code : unsigned char {
  kOk = 0,
  kNotFound,
  kPreconditionFailed,
  kTransient,
  kThrottled,
  kUnknownOutcome,
  kPermanent,
  kInvalidArgument,
  kCorruption,
  kIOError,
  kNotSupported,
  kFenced,
  kBackpressure,
  kAborted,
  kChangeCursorExpired,
  // The object was stopped (TailingReader::stop()) while the call ran.
  kStopped,
};

// Stable lower-case name of a code, e.g. "not_found". Used in logs and in
// JSON error bodies.
std::string_view code_name(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status OK() { return Status(); }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status PreconditionFailed(std::string m) { return {Code::kPreconditionFailed, std::move(m)}; }
  static Status Transient(std::string m) { return {Code::kTransient, std::move(m)}; }
  static Status Throttled(std::string m) { return {Code::kThrottled, std::move(m)}; }
  static Status UnknownOutcome(std::string m) { return {Code::kUnknownOutcome, std::move(m)}; }
  static Status Permanent(std::string m) { return {Code::kPermanent, std::move(m)}; }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status Corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
  static Status IOError(std::string m) { return {Code::kIOError, std::move(m)}; }
  static Status NotSupported(std::string m) { return {Code::kNotSupported, std::move(m)}; }
  static Status Fenced(std::string m) { return {Code::kFenced, std::move(m)}; }
  static Status Backpressure(std::string m) { return {Code::kBackpressure, std::move(m)}; }
  static Status Aborted(std::string m) { return {Code::kAborted, std::move(m)}; }
  static Status ChangeCursorExpired(std::string m) {
    return {Code::kChangeCursorExpired, std::move(m)};
  }
  static Status Stopped(std::string m) { return {Code::kStopped, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  bool is_not_found() const { return code_ == Code::kNotFound; }
  bool is_precondition_failed() const { return code_ == Code::kPreconditionFailed; }
  bool is_corruption() const { return code_ == Code::kCorruption; }
  bool is_invalid_argument() const { return code_ == Code::kInvalidArgument; }
  bool is_unknown_outcome() const { return code_ == Code::kUnknownOutcome; }
  bool is_change_cursor_expired() const { return code_ == Code::kChangeCursorExpired; }
  bool is_stopped() const { return code_ == Code::kStopped; }
  // Transient and Throttled: safe to retry an idempotent request.
  bool is_retryable() const { return code_ == Code::kTransient || code_ == Code::kThrottled; }

  // "not_found: sstable/00001.sst" or "ok".
  std::string to_string() const;

  // Returns a copy whose message is prefixed with `context + ": "`.
  Status with_context(std::string_view context) const;

  friend bool operator==(const Status& a, const Status& b) { return a.code_ == b.code_; }

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// Either a T or a non-OK Status. Accessing value() on an error is a bug and
// asserts in debug builds.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok() && "Result built from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  // The error; an OK Status when the result holds a value.
  Status status() const { return ok() ? Status::OK() : std::get<Status>(v_); }

  T& value() & { assert(ok()); return std::get<T>(v_); }
  const T& value() const& { assert(ok()); return std::get<T>(v_); }
  T&& value() && { assert(ok()); return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace isle

// Early-return helpers for code inside libisle (not part of the contract).
#define ISLE_CONCAT_INNER(a, b) a##b
#define ISLE_CONCAT(a, b) ISLE_CONCAT_INNER(a, b)

#define ISLE_RETURN_IF_ERROR(expr)          \
  do {                                      \
    ::isle::Status _isle_st = (expr);       \
    if (!_isle_st.ok()) return _isle_st;    \
  } while (0)

#define ISLE_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()

#define ISLE_ASSIGN_OR_RETURN(lhs, expr) \
  ISLE_ASSIGN_OR_RETURN_IMPL(ISLE_CONCAT(_isle_res_, __LINE__), lhs, expr)
