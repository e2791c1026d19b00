// with_cloud_retries; see cloud_retry.h.
#include "cloud/cloud_retry.h"

#include "store/retry_store.h"

namespace isle {

ObjectStorePtr with_cloud_retries(ObjectStorePtr store) {
  RetryOptions o;
  o.initial_backoff = std::chrono::milliseconds(20);
  o.max_backoff = std::chrono::milliseconds(2'000);
  o.max_attempts = 6;
  o.deadline = std::chrono::milliseconds(20'000);
  return std::make_shared<RetryStore>(std::move(store), o);
}

}  // namespace isle
