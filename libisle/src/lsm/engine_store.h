// How the engine's roles see the bucket: scoped to the database prefix and
// behind a RetryStore, so transient failures (and lost responses of
// idempotent requests, such as every GET) are retried with jittered
// backoff. Conditional puts are never retried blindly by that layer; the
// manifest protocol resolves their unknown outcomes itself.
#pragma once

#include <chrono>
#include <string>

#include "isle/object_store.h"

namespace isle {

ObjectStorePtr engine_store(ObjectStorePtr raw, const std::string& prefix,
                            std::chrono::milliseconds initial_backoff);

}  // namespace isle
