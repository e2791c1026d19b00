// How the engine's roles see the bucket: scoped to the database prefix,
// optionally hedged (store/hedged_store.h), and behind a RetryStore, so transient failures (and lost responses of
// idempotent requests, such as every GET) are retried with jittered
// backoff. Conditional puts are never retried blindly by that layer; the
// manifest protocol resolves their unknown outcomes itself.
//
// Also the two other things every role (writer, reader, compactor, ...)
// sets up the same way: its owner name and its manifest-log options.
#pragma once

#include <chrono>
#include <string>

#include "isle/clock.h"
#include "isle/object_store.h"
#include "isle/options.h"
#include "manifest/manifest_log.h"

namespace isle {

// Without `hedging`: no hedged requests (the CLI and the maintenance
// roles, whose latency no user waits on). With it (the writer and readers):
// RetryStore -> HedgedStore -> PrefixStore -> raw, so each retry is one
// hedged request and a hedge is never retried on its own; local stores
// (mem://, file://) are not hedged unless hedging.hedge_local_stores.
ObjectStorePtr engine_store(ObjectStorePtr raw, const std::string& prefix,
                            std::chrono::milliseconds initial_backoff);
ObjectStorePtr engine_store(ObjectStorePtr raw, const std::string& prefix,
                            std::chrono::milliseconds initial_backoff,
                            const HedgeOptions& hedging);

// "<hostname>:<pid>:<8 random hex>": the owner a fence claim records when
// the options name none.
std::string default_owner_name();

// The ManifestLog options of a role: its clock (nullptr = system), the
// database's lease and GC grace, and the role's retry backoff.
ManifestLogOptions role_log_options(Clock* clock, std::chrono::milliseconds lease,
                                    std::chrono::milliseconds retry_backoff,
                                    std::chrono::milliseconds grace = std::chrono::minutes(10));

}  // namespace isle
