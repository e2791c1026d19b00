// engine_store; see engine_store.h.
#include "lsm/engine_store.h"

#include <unistd.h>

#include "store/hedged_store.h"
#include "store/prefix_store.h"
#include "store/retry_store.h"
#include "util/random.h"

namespace isle {

ObjectStorePtr engine_store(ObjectStorePtr raw, const std::string& prefix,
                            std::chrono::milliseconds initial_backoff) {
  HedgeOptions none;
  none.enabled = false;
  return engine_store(std::move(raw), prefix, initial_backoff, none);
}

ObjectStorePtr engine_store(ObjectStorePtr raw, const std::string& prefix,
                            std::chrono::milliseconds initial_backoff,
                            const HedgeOptions& hedging) {
  RetryOptions ro;
  ro.initial_backoff = initial_backoff;
  ro.max_backoff = std::max(initial_backoff * 64, std::chrono::milliseconds(1));
  ro.max_attempts = 6;
  return std::make_shared<RetryStore>(with_hedging(with_prefix(std::move(raw), prefix), hedging),
                                      ro);
}

std::string default_owner_name() {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = 0;
  return std::string(host) + ":" + std::to_string(getpid()) + ":" + random_token().substr(0, 8);
}

ManifestLogOptions role_log_options(Clock* clock, std::chrono::milliseconds lease,
                                    std::chrono::milliseconds retry_backoff,
                                    std::chrono::milliseconds grace) {
  ManifestLogOptions lo;
  lo.clock = clock;
  lo.lease = lease;
  lo.grace = grace;
  lo.retry_backoff = retry_backoff;
  return lo;
}

}  // namespace isle
