// PrefixStore; see prefix_store.h.
#include "store/prefix_store.h"

namespace isle {

namespace {

class PrefixStore : public ObjectStore {
 public:
  PrefixStore(ObjectStorePtr inner, std::string prefix)
      : inner_(std::move(inner)), prefix_(std::move(prefix)) {}

  Result<GetResult> get(std::string_view key, const GetOptions& o) override {
    auto r = inner_->get(full(key), o);
    if (r.ok()) r->meta.key = std::string(key);
    return r;
  }
  Result<ObjectMeta> head(std::string_view key) override {
    auto r = inner_->head(full(key));
    if (r.ok()) r->key = std::string(key);
    return r;
  }
  Result<ObjectMeta> put(std::string_view key, std::string_view data,
                         const PutOptions& o) override {
    auto r = inner_->put(full(key), data, o);
    if (r.ok()) r->key = std::string(key);
    return r;
  }
  Status remove(std::string_view key) override { return inner_->remove(full(key)); }
  Result<std::vector<DeleteOutcome>> remove_batch(const std::vector<std::string>& keys) override {
    std::vector<std::string> full_keys;
    full_keys.reserve(keys.size());
    for (const auto& k : keys) full_keys.push_back(full(k));
    auto r = inner_->remove_batch(full_keys);
    if (r.ok())
      for (auto& o : *r) o.key = strip(o.key);
    return r;
  }
  Result<ListPage> list(const ListOptions& o) override {
    ListOptions inner_opts = o;
    inner_opts.prefix = full(o.prefix);
    if (!o.start_after.empty()) inner_opts.start_after = full(o.start_after);
    auto r = inner_->list(inner_opts);
    if (!r.ok()) return r;
    for (auto& m : r->objects) m.key = strip(m.key);
    if (!r->next_start_after.empty()) r->next_start_after = strip(r->next_start_after);
    return r;
  }
  std::string url() const override { return inner_->url() + "#" + prefix_; }

 private:
  std::string full(std::string_view key) const { return prefix_ + std::string(key); }
  std::string strip(const std::string& key) const {
    return key.compare(0, prefix_.size(), prefix_) == 0 ? key.substr(prefix_.size()) : key;
  }

  ObjectStorePtr inner_;
  std::string prefix_;
};

}  // namespace

ObjectStorePtr with_prefix(ObjectStorePtr inner, std::string prefix) {
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  while (!prefix.empty() && prefix.front() == '/') prefix.erase(0, 1);
  if (prefix.empty()) return inner;
  return std::make_shared<PrefixStore>(std::move(inner), prefix + "/");
}

}  // namespace isle
