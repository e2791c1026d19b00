// engine_store; see engine_store.h.
#include "lsm/engine_store.h"

#include "store/prefix_store.h"
#include "store/retry_store.h"

namespace isle {

ObjectStorePtr engine_store(ObjectStorePtr raw, const std::string& prefix,
                            std::chrono::milliseconds initial_backoff) {
  RetryOptions ro;
  ro.initial_backoff = initial_backoff;
  ro.max_backoff = std::max(initial_backoff * 64, std::chrono::milliseconds(1));
  ro.max_attempts = 6;
  return std::make_shared<RetryStore>(with_prefix(std::move(raw), prefix), ro);
}

}  // namespace isle
