// Fresh buckets on the test servers; see cloud_test_util.h. Linked into the
// library (tiny, no test framework) so every test binary and the race
// workers can use it.
#include "cloud/cloud_test_util.h"

#include <cstdlib>
#include <string>

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
  return with_cloud_retries(std::move(store));
}

Result<ObjectStorePtr> fresh_azure_store() {
  return Status::NotSupported("azblob:// is not built yet");
}

}  // namespace isle::testing
