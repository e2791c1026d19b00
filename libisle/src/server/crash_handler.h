// The last word of a daemon that is going down on an uncaught exception.
//
// An exception that escapes a background thread (or a noexcept function)
// ends in std::terminate, whose default handler aborts with at most a
// terse line and a core dump. install_crash_handler replaces it: the
// handler writes one plain line to stderr (which works even when logging
// does not), logs the exception's what() at critical level and flushes,
// then exits kExitSoftware with _exit (no static destructors, no atexit
// handlers: the process state is unknown). Supervisors restart on 70, as
// on any failure that is not a fence (75) or bad configuration (78).
//
// Invariants: the handler never returns and never throws; if a second
// thread terminates while the first is reporting, it waits for the first
// to exit (bounded) rather than interleave or cut the report short.
#pragma once

#include <string>

namespace isle::server {

// EX_SOFTWARE: an internal error (an uncaught exception) ended the process.
inline constexpr int kExitSoftware = 70;

// Sets the std::terminate handler described above for the whole process;
// `daemon_name` ("writerd") appears in the report. Call once, early, from
// the main thread (after logging is set up, so the report goes through
// the configured logger); a later call replaces the name.
void install_crash_handler(std::string daemon_name);

}  // namespace isle::server
