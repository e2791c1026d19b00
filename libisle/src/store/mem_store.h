// MemStore: the `mem://` backend, an in-memory ObjectStore.
//
// Objects live in a std::map under one mutex, so every operation is
// trivially linearizable within the process (and invisible to any other
// process). Each successful put assigns a fresh ETag from a per-store
// counter combined with a random per-store token, so an ETag changes on
// every write, even of identical bytes, and ETags of different stores never
// collide. modified_ms comes from the Clock given at construction.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "isle/object_store.h"
#include "util/clock.h"

namespace isle {

class MemStore : public ObjectStore {
 public:
  // `url` is what url() reports; `clock` (not owned, must outlive the store)
  // stamps modified_ms; nullptr means Clock::system().
  explicit MemStore(std::string url = "mem://", Clock* clock = nullptr);

  Result<GetResult> get(std::string_view key, const GetOptions& options = {}) override;
  Result<ObjectMeta> head(std::string_view key) override;
  Result<ObjectMeta> put(std::string_view key, std::string_view data,
                         const PutOptions& options = {}) override;
  Status remove(std::string_view key) override;
  Result<ListPage> list(const ListOptions& options) override;
  std::string url() const override { return url_; }

  // The process-wide store for `mem://NAME`: every call with the same name
  // returns the same instance (created on first use, never destroyed).
  static std::shared_ptr<MemStore> named(const std::string& name);

 private:
  struct Object {
    std::string data;
    std::string etag;
    int64_t modified_ms = 0;
  };

  static ObjectMeta meta_of(const std::string& key, const Object& obj);

  const std::string url_;
  Clock* const clock_;
  const std::string etag_prefix_;  // random per store

  std::mutex mu_;
  std::map<std::string, Object, std::less<>> objects_;  // guarded by mu_
  uint64_t next_version_ = 1;                           // guarded by mu_
};

}  // namespace isle
