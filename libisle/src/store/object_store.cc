// Shared parts of the ObjectStore interface: the default batch delete and
// the list-every-page helper. Backends that can batch natively override
// remove_batch.
#include "isle/object_store.h"

namespace isle {

Result<std::vector<DeleteOutcome>> ObjectStore::remove_batch(const std::vector<std::string>& keys) {
  std::vector<DeleteOutcome> failed;
  for (const auto& k : keys) {
    Status s = remove(k);
    if (!s.ok()) failed.push_back({k, std::move(s)});
  }
  return failed;
}

Result<std::vector<ObjectMeta>> ObjectStore::list_all(std::string_view prefix) {
  std::vector<ObjectMeta> all;
  ListOptions opts;
  opts.prefix = std::string(prefix);
  for (;;) {
    auto page = list(opts);
    if (!page.ok()) return page.status();
    for (auto& m : page->objects) all.push_back(std::move(m));
    if (page->next_start_after.empty()) break;
    opts.start_after = page->next_start_after;
  }
  return all;
}

}  // namespace isle
