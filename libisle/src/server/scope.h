// What a route needs from the caller's bearer token (see access.h, which
// decides, and http.h, where each route declares it). Its own header so
// that http.h and access.h need not include each other.
#pragma once

#include <cstdint>

namespace isle::server {

// kOpen: nothing (no token, no browser checks), e.g. /healthz. kAnyToken:
// any valid token, whatever its scopes (/v1/status). The other four: a
// valid token holding that scope.
enum class Scope : uint8_t { kOpen, kAnyToken, kRead, kWrite, kAdmin, kMetrics };

}  // namespace isle::server
