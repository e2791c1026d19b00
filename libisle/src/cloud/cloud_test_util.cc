// Fresh buckets on the test servers; see cloud_test_util.h. Linked into the
// library (tiny, no test framework) so every test binary and the race
// workers can use it.
#include "cloud/cloud_test_util.h"

#include <cstdlib>
#include <functional>
#include <vector>
#include <optional>
#include <string>

#include "cloud/azure_store.h"
#include "cloud/cloud_retry.h"
#include "cloud/s3_store.h"
#include "util/random.h"

namespace isle::testing {

std::string with_bucket(const std::string& url, const std::string& bucket) {
  size_t start = url.find("://");
  if (start == std::string::npos) return url;
  start += 3;
  size_t end = url.find('?', start);
  return url.substr(0, start) + bucket + (end == std::string::npos ? "" : url.substr(end));
}

namespace {

// Forwards to a store on a fresh test bucket and, when the last reference
// goes, deletes every object and the bucket, so test servers do not fill up
// over a run (Azurite slows to a crawl with thousands of leftovers).
// ISLE_TEST_KEEP_BUCKETS=1 keeps them for a post-mortem.
class DroppedAfterUse : public ObjectStore {
 public:
  DroppedAfterUse(ObjectStorePtr inner, std::function<Status()> drop_bucket)
      : inner_(std::move(inner)), drop_bucket_(std::move(drop_bucket)) {}
  ~DroppedAfterUse() override {
    const char* keep = std::getenv("ISLE_TEST_KEEP_BUCKETS");
    if (keep != nullptr && std::string(keep) == "1") return;
    auto all = inner_->list_all("");
    if (!all.ok()) return;
    std::vector<std::string> keys;
    for (const auto& m : *all) keys.push_back(m.key);
    auto failed = inner_->remove_batch(keys);
    if (failed.ok() && failed->empty()) (void)drop_bucket_();
  }

  Result<GetResult> get(std::string_view key, const GetOptions& o) override {
    return inner_->get(key, o);
  }
  Result<ObjectMeta> head(std::string_view key) override { return inner_->head(key); }
  Result<ObjectMeta> put(std::string_view key, std::string_view data,
                         const PutOptions& o) override {
    return inner_->put(key, data, o);
  }
  Status remove(std::string_view key) override { return inner_->remove(key); }
  Result<std::vector<DeleteOutcome>> remove_batch(const std::vector<std::string>& keys) override {
    return inner_->remove_batch(keys);
  }
  Result<ListPage> list(const ListOptions& o) override { return inner_->list(o); }
  std::string url() const override { return inner_->url(); }

 private:
  ObjectStorePtr inner_;
  std::function<Status()> drop_bucket_;
};

std::string fresh_name() {
  std::string t = random_token();
  std::string name = "isle-t-";
  for (char c : t) {
    if (name.size() >= 30) break;
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) name.push_back(c);
  }
  return name;
}

}  // namespace

Result<ObjectStorePtr> fresh_s3_store() {
  const char* base = std::getenv("ISLE_TEST_S3_URL");
  if (base == nullptr || *base == '\0') {
    return Status::NotSupported(
        "no S3 test server: ISLE_TEST_S3_URL is not set (run scripts/objstores/start-ceph-rgw.sh "
        "and source /tmp/isle-objstores/s3.env; scripts/test.sh does both)");
  }
  const std::string url = with_bucket(base, fresh_name());
  ISLE_ASSIGN_OR_RETURN(S3Config config, s3_config_from_url(url, process_env()));
  config.check = false;
  ISLE_ASSIGN_OR_RETURN(auto store, S3Store::open(std::move(config)));
  ISLE_RETURN_IF_ERROR(store->create_bucket());
  auto raw = store;
  return ObjectStorePtr(std::make_shared<DroppedAfterUse>(with_cloud_retries(std::move(store)),
                                                          [raw] { return raw->delete_bucket(); }));
}

Result<ObjectStorePtr> fresh_azure_store() {
  const char* base = std::getenv("ISLE_TEST_AZURE_URL");
  if (base == nullptr || *base == '\0') {
    return Status::NotSupported(
        "no Azure test server: ISLE_TEST_AZURE_URL is not set (run "
        "scripts/objstores/start-azurite.sh and source /tmp/isle-objstores/azure.env; "
        "scripts/test.sh does both)");
  }
  const std::string url = with_bucket(base, fresh_name());
  EnvLookup env = process_env();
  // ISLE_TEST_AZURE_USE_SAS=1: authorize with the account SAS in
  // $ISLE_TEST_AZURE_SAS, as if it were the only credential set.
  const char* use_sas = std::getenv("ISLE_TEST_AZURE_USE_SAS");
  if (use_sas != nullptr && std::string(use_sas) == "1") {
    const char* sas = std::getenv("ISLE_TEST_AZURE_SAS");
    if (sas == nullptr || *sas == '\0') {
      return Status::InvalidArgument("ISLE_TEST_AZURE_USE_SAS=1 but ISLE_TEST_AZURE_SAS is not set");
    }
    env = [base_env = process_env(), token = std::string(sas)](
              const char* name) -> std::optional<std::string> {
      const std::string n = name;
      if (n == "AZURE_STORAGE_KEY") return std::nullopt;
      if (n == "AZURE_STORAGE_SAS_TOKEN") return token;
      return base_env(name);
    };
  }
  ISLE_ASSIGN_OR_RETURN(AzureConfig config, azure_config_from_url(url, env));
  config.check = false;
  ISLE_ASSIGN_OR_RETURN(auto store, AzureStore::open(std::move(config)));
  ISLE_RETURN_IF_ERROR(store->create_container());
  auto raw = store;
  return ObjectStorePtr(std::make_shared<DroppedAfterUse>(
      with_cloud_retries(std::move(store)), [raw] { return raw->delete_container(); }));
}

}  // namespace isle::testing
