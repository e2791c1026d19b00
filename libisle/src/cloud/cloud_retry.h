// The retry policy every network store is opened with.
//
// open_object_store wraps S3, GCS and Azure stores in a RetryStore (see
// store/retry_store.h for the rules: Transient and Throttled always,
// UnknownOutcome only for idempotent requests, so a conditional put whose
// outcome is unknown reaches the caller). Servers do fail transiently in
// normal operation: Ceph RGW answers a GET racing an overwrite with 500,
// S3 throttles with 503 SlowDown, connections drop.
//
// The budget is short (a few attempts within seconds): the engine adds its
// own, longer policy on top (lsm/engine_store.h), so a store that is down
// surfaces as an error rather than a hang.
#pragma once

#include "isle/object_store.h"

namespace isle {

ObjectStorePtr with_cloud_retries(ObjectStorePtr store);

}  // namespace isle
