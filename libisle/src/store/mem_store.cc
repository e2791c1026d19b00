// MemStore implementation; see mem_store.h.
#include "store/mem_store.h"

#include <unordered_map>

#include "store/store_common.h"
#include "util/random.h"

namespace isle {

MemStore::MemStore(std::string url, Clock* clock)
    : url_(std::move(url)),
      clock_(clock != nullptr ? clock : Clock::system()),
      etag_prefix_(random_token().substr(0, 16)) {}

ObjectMeta MemStore::meta_of(const std::string& key, const Object& obj) {
  return ObjectMeta{key, obj.data.size(), obj.etag, obj.modified_ms};
}

Result<GetResult> MemStore::get(std::string_view key, const GetOptions& options) {
  ISLE_RETURN_IF_ERROR(check_common_key(key));
  std::lock_guard<std::mutex> lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return Status::NotFound("no such object: " + std::string(key));
  GetResult out;
  if (!options.if_none_match.empty() && options.if_none_match == it->second.etag) {
    out.meta = meta_of(it->first, it->second);
    out.not_modified = true;
    return out;
  }
  ISLE_ASSIGN_OR_RETURN(ResolvedRange r, resolve_range(options.range, it->second.data.size()));
  out.data = it->second.data.substr(r.offset, r.length);
  out.meta = meta_of(it->first, it->second);
  out.offset = r.offset;
  return out;
}

Result<ObjectMeta> MemStore::head(std::string_view key) {
  ISLE_RETURN_IF_ERROR(check_common_key(key));
  std::lock_guard<std::mutex> lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return Status::NotFound("no such object: " + std::string(key));
  return meta_of(it->first, it->second);
}

Result<ObjectMeta> MemStore::put(std::string_view key, std::string_view data,
                                 const PutOptions& options) {
  ISLE_RETURN_IF_ERROR(check_common_key(key));
  if (options.mode == PutMode::kIfMatch && options.if_match.empty()) {
    return Status::InvalidArgument("if-match put without an etag");
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = objects_.find(key);
  switch (options.mode) {
    case PutMode::kOverwrite:
      break;
    case PutMode::kCreateOnly:
      if (it != objects_.end()) {
        return Status::PreconditionFailed("object already exists: " + std::string(key));
      }
      break;
    case PutMode::kIfMatch:
      if (it == objects_.end()) {
        return Status::PreconditionFailed("if-match on a missing object: " + std::string(key));
      }
      if (it->second.etag != options.if_match) {
        return Status::PreconditionFailed("etag mismatch for " + std::string(key));
      }
      break;
  }
  if (it == objects_.end()) it = objects_.emplace(std::string(key), Object{}).first;
  it->second.data.assign(data.data(), data.size());
  it->second.etag = etag_prefix_ + "-" + std::to_string(next_version_++);
  it->second.modified_ms = clock_->now_ms();
  return meta_of(it->first, it->second);
}

Status MemStore::remove(std::string_view key) {
  ISLE_RETURN_IF_ERROR(check_common_key(key));
  std::lock_guard<std::mutex> lock(mu_);
  auto it = objects_.find(key);
  if (it != objects_.end()) objects_.erase(it);
  return Status::OK();
}

Result<ListPage> MemStore::list(const ListOptions& options) {
  const size_t max_keys = clamp_max_keys(options.max_keys);
  ListPage page;
  std::lock_guard<std::mutex> lock(mu_);
  // Start at whichever is later: the prefix itself or just past start_after.
  auto it = options.start_after < options.prefix ? objects_.lower_bound(options.prefix)
                                                 : objects_.upper_bound(options.start_after);
  for (; it != objects_.end(); ++it) {
    if (it->first.compare(0, options.prefix.size(), options.prefix) != 0) break;
    if (page.objects.size() == max_keys) {
      page.next_start_after = page.objects.back().key;
      break;
    }
    page.objects.push_back(meta_of(it->first, it->second));
  }
  return page;
}

std::shared_ptr<MemStore> MemStore::named(const std::string& name) {
  static std::mutex registry_mu;
  static auto* registry = new std::unordered_map<std::string, std::shared_ptr<MemStore>>();
  std::lock_guard<std::mutex> lock(registry_mu);
  auto& slot = (*registry)[name];
  if (!slot) slot = std::make_shared<MemStore>("mem://" + name);
  return slot;
}

}  // namespace isle
