// Tests of AzureStore beyond the conformance suite: URL and credential
// parsing (no server needed), and, against Azurite when
// $ISLE_TEST_AZURE_URL is set, the errors at open and the list marker
// memory. The ObjectStore contract itself is checked by conformance_test.cc.
#include "cloud/azure_store.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <map>

#include "cloud/cloud_test_util.h"
#include "util/random.h"

namespace isle {
namespace {

// The emulator's well-known key (public, documented by Microsoft).
constexpr const char* kDevKey =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
constexpr const char* kSas = "sv=2021-08-06&ss=b&srt=sco&sp=rwdlac&se=2099-01-01T00%3A00%3A00Z&sig=abc%3D";

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end() || it->second.empty()) return std::nullopt;  // like process_env()
    return it->second;
  };
}

TEST(AzureStoreConfig, Defaults) {
  auto c = azure_config_from_url("azblob://my-container",
                                 env_of({{"AZURE_STORAGE_ACCOUNT", "myacct"},
                                         {"AZURE_STORAGE_KEY", kDevKey}}));
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->container, "my-container");
  EXPECT_EQ(c->account, "myacct");
  EXPECT_TRUE(c->endpoint.tls);
  EXPECT_EQ(c->endpoint.host, "myacct.blob.core.windows.net");
  EXPECT_EQ(c->endpoint.port, 443);
  EXPECT_EQ(c->path_prefix, "");
  EXPECT_EQ(c->account_key, kDevKey);
  EXPECT_EQ(c->sas_token, "");
  EXPECT_TRUE(c->check);
  EXPECT_EQ(c->url, "azblob://my-container");
}

TEST(AzureStoreConfig, EmulatorEndpointNamesTheAccount) {
  const std::string url =
      "azblob://isle-test?endpoint=http://127.0.0.1:10000/devstoreaccount1&check=false"
      "&io_timeout_ms=1234";
  auto c = azure_config_from_url(url, env_of({{"AZURE_STORAGE_KEY", kDevKey}}));
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->account, "devstoreaccount1");
  EXPECT_EQ(c->path_prefix, "/devstoreaccount1");
  EXPECT_FALSE(c->endpoint.tls);
  EXPECT_EQ(c->endpoint.host, "127.0.0.1");
  EXPECT_EQ(c->endpoint.port, 10000);
  EXPECT_FALSE(c->check);
  EXPECT_EQ(c->http.io_timeout.count(), 1234);
  EXPECT_EQ(c->url, url);

  // The same account in the environment is fine; another one is not.
  EXPECT_TRUE(azure_config_from_url(url, env_of({{"AZURE_STORAGE_KEY", kDevKey},
                                                 {"AZURE_STORAGE_ACCOUNT", "devstoreaccount1"}}))
                  .ok());
  auto other = azure_config_from_url(
      url, env_of({{"AZURE_STORAGE_KEY", kDevKey}, {"AZURE_STORAGE_ACCOUNT", "someoneelse"}}));
  EXPECT_TRUE(other.status().is_invalid_argument());
  EXPECT_NE(other.status().message().find("AZURE_STORAGE_ACCOUNT"), std::string::npos);

  // An endpoint without a path takes the account from the environment.
  auto custom = azure_config_from_url("azblob://c01?endpoint=https://blobs.example.com",
                                      env_of({{"AZURE_STORAGE_KEY", kDevKey},
                                              {"AZURE_STORAGE_ACCOUNT", "acct"}}));
  ASSERT_TRUE(custom.ok()) << custom.status().to_string();
  EXPECT_EQ(custom->account, "acct");
  EXPECT_EQ(custom->path_prefix, "");
  EXPECT_EQ(custom->endpoint.host, "blobs.example.com");

  // More than the account in the path.
  EXPECT_TRUE(azure_config_from_url("azblob://c01?endpoint=http://h:1/acct/more",
                                    env_of({{"AZURE_STORAGE_KEY", kDevKey}}))
                  .status()
                  .is_invalid_argument());
}

TEST(AzureStoreConfig, SasTokenWithOrWithoutQuestionMark) {
  for (std::string token : {std::string(kSas), "?" + std::string(kSas)}) {
    auto c = azure_config_from_url("azblob://ctr",
                                   env_of({{"AZURE_STORAGE_ACCOUNT", "acct"},
                                           {"AZURE_STORAGE_SAS_TOKEN", token}}));
    ASSERT_TRUE(c.ok()) << c.status().to_string();
    EXPECT_EQ(c->sas_token, kSas);
    EXPECT_EQ(c->account_key, "");
  }
  // With both, the key wins.
  auto both = azure_config_from_url("azblob://ctr", env_of({{"AZURE_STORAGE_ACCOUNT", "acct"},
                                                            {"AZURE_STORAGE_KEY", kDevKey},
                                                            {"AZURE_STORAGE_SAS_TOKEN", kSas}}));
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->account_key, kDevKey);
  EXPECT_EQ(both->sas_token, "");
  // Not a SAS: rejected without echoing the token.
  for (std::string bad : {"secret-not-a-sas", "sv=1&sig=a b", "?"}) {
    auto c = azure_config_from_url("azblob://ctr", env_of({{"AZURE_STORAGE_ACCOUNT", "acct"},
                                                           {"AZURE_STORAGE_SAS_TOKEN", bad}}));
    EXPECT_TRUE(c.status().is_invalid_argument()) << bad;
    EXPECT_NE(c.status().message().find("AZURE_STORAGE_SAS_TOKEN"), std::string::npos);
    if (bad.size() > 1) {
      EXPECT_EQ(c.status().message().find(bad), std::string::npos);
    }
  }
}

TEST(AzureStoreConfig, MissingCredentialsNameTheVariables) {
  auto c = azure_config_from_url("azblob://ctr", env_of({{"AZURE_STORAGE_ACCOUNT", "acct"}}));
  ASSERT_TRUE(c.status().is_invalid_argument());
  for (const char* var : {"AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_KEY", "AZURE_STORAGE_SAS_TOKEN"}) {
    EXPECT_NE(c.status().message().find(var), std::string::npos) << c.status().message();
  }
  // A key but no account for the default endpoint.
  auto no_account = azure_config_from_url("azblob://ctr", env_of({{"AZURE_STORAGE_KEY", kDevKey}}));
  ASSERT_TRUE(no_account.status().is_invalid_argument());
  EXPECT_NE(no_account.status().message().find("AZURE_STORAGE_ACCOUNT"), std::string::npos);
  // A key that is not base64: rejected without echoing it.
  auto bad_key = azure_config_from_url(
      "azblob://ctr", env_of({{"AZURE_STORAGE_ACCOUNT", "acct"}, {"AZURE_STORAGE_KEY", "n0t*b64!"}}));
  EXPECT_TRUE(bad_key.status().is_invalid_argument());
  EXPECT_EQ(bad_key.status().message().find("n0t*b64!"), std::string::npos);
}

TEST(AzureStoreConfig, BadUrls) {
  const EnvLookup env = env_of({{"AZURE_STORAGE_ACCOUNT", "acct"}, {"AZURE_STORAGE_KEY", kDevKey}});
  auto unknown = azure_config_from_url("azblob://ctr?regoin=x", env);
  ASSERT_TRUE(unknown.status().is_invalid_argument());
  EXPECT_NE(unknown.status().message().find("regoin"), std::string::npos);
  EXPECT_NE(unknown.status().message().find("endpoint"), std::string::npos);  // the known list
  for (const char* url : {"azblob://", "azblob://Upper", "azblob://ab", "azblob://a--b",
                          "azblob://-ab", "azblob://ctr/path", "azblob://ctr?endpoint=ftp://x",
                          "azblob://ctr?check=maybe", "s3://ctr"}) {
    EXPECT_TRUE(azure_config_from_url(url, env).status().is_invalid_argument()) << url;
  }
  EXPECT_TRUE(azure_config_from_url("azblob://$root", env).ok());
  // The account becomes a host name: only lower-case letters and digits.
  EXPECT_TRUE(azure_config_from_url("azblob://ctr", env_of({{"AZURE_STORAGE_ACCOUNT", "a.b/c"},
                                                           {"AZURE_STORAGE_KEY", kDevKey}}))
                  .status()
                  .is_invalid_argument());
}

// --- Against Azurite ----------------------------------------------------

class AzureStoreServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* url = std::getenv("ISLE_TEST_AZURE_URL");
    const char* key = std::getenv("AZURE_STORAGE_KEY");
    if (url == nullptr || *url == '\0' || key == nullptr || *key == '\0') {
      GTEST_SKIP() << "no Azure test server: ISLE_TEST_AZURE_URL / AZURE_STORAGE_KEY not set (run "
                      "scripts/objstores/start-azurite.sh and source /tmp/isle-objstores/azure.env)";
    }
    url_ = url;
    vars_ = {{"AZURE_STORAGE_KEY", key}};
  }

  // A config for `url` with the test server's credentials, changed by `vars`.
  AzureConfig config(const std::string& url, std::map<std::string, std::string> vars = {}) {
    std::map<std::string, std::string> all = vars_;
    for (auto& [k, v] : vars) all[k] = v;
    auto c = azure_config_from_url(url, env_of(all));
    EXPECT_TRUE(c.ok()) << c.status().to_string();
    return c.ok() ? *c : AzureConfig();
  }

  // Opens with check=false, then runs the check: the one Permanent error,
  // after exactly one request (no retries).
  Status check_once(AzureConfig c) {
    c.check = false;
    auto store = AzureStore::open(c);
    EXPECT_TRUE(store.ok()) << store.status().to_string();
    if (!store.ok()) return store.status();
    Status s = (*store)->check_access();
    EXPECT_EQ((*store)->http_stats().requests, 1u);
    EXPECT_EQ(s.code(), Code::kPermanent) << s.to_string();
    // open() with the check fails the same way.
    c.check = true;
    auto opened = AzureStore::open(c);
    EXPECT_EQ(opened.status().code(), Code::kPermanent) << opened.status().to_string();
    return s;
  }

  std::string url_;
  std::map<std::string, std::string> vars_;
};

bool mentions(const Status& s, const std::string& what) {
  return s.message().find(what) != std::string::npos;
}

TEST_F(AzureStoreServerTest, OpensAndChecksAccess) {
  auto store = AzureStore::open(config(url_));
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  EXPECT_EQ((*store)->http_stats().requests, 1u);
}

TEST_F(AzureStoreServerTest, WrongKeyIsOneClearError) {
  // Valid base64, wrong bytes.
  Status s = check_once(config(url_, {{"AZURE_STORAGE_KEY", "d3Jvbmcta2V5LXdyb25nLWtleQ=="}}));
  EXPECT_TRUE(mentions(s, "AZURE_STORAGE_KEY")) << s.to_string();
  EXPECT_TRUE(mentions(s, "403")) << s.to_string();
}

TEST_F(AzureStoreServerTest, WrongSasIsOneClearError) {
  Status s = check_once(config(url_, {{"AZURE_STORAGE_KEY", ""},
                                      {"AZURE_STORAGE_SAS_TOKEN", kSas}}));
  EXPECT_TRUE(mentions(s, "AZURE_STORAGE_SAS_TOKEN")) << s.to_string();
  EXPECT_FALSE(mentions(s, "sig=")) << s.to_string();
}

TEST_F(AzureStoreServerTest, MissingContainerIsOneClearError) {
  const std::string name = "isle-absent-" + random_token().substr(0, 12);
  Status s = check_once(config(testing::with_bucket(url_, name)));
  EXPECT_TRUE(mentions(s, "'" + name + "' does not exist")) << s.to_string();
  EXPECT_TRUE(mentions(s, "create it")) << s.to_string();
}

TEST_F(AzureStoreServerTest, UnknownAccountIsOneClearError) {
  AzureConfig c = config(url_);
  c.account = "nosuchaccount";
  c.path_prefix = "/nosuchaccount";
  Status s = check_once(c);
  EXPECT_TRUE(mentions(s, "AZURE_STORAGE_ACCOUNT")) << s.to_string();
}

// A port on 127.0.0.1 that nothing listens on.
uint16_t closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) ::close(fd);
    return 0;
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST_F(AzureStoreServerTest, UnreachableEndpointIsOneClearError) {
  const uint16_t port = closed_port();
  ASSERT_NE(port, 0);
  const std::string url = "azblob://isle-test?endpoint=http://127.0.0.1:" + std::to_string(port) +
                          "/devstoreaccount1";
  Status s = check_once(config(url));
  EXPECT_TRUE(mentions(s, "endpoint=")) << s.to_string();
  EXPECT_TRUE(mentions(s, "127.0.0.1:" + std::to_string(port))) << s.to_string();
}

TEST_F(AzureStoreServerTest, OpenObjectStoreByUrl) {
  if (std::getenv("AZURE_STORAGE_ACCOUNT") == nullptr) GTEST_SKIP() << "AZURE_STORAGE_ACCOUNT unset";
  auto store = open_object_store(url_);
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  EXPECT_EQ((*store)->url(), url_);
}

// Paging with next_start_after continues from the remembered marker: one
// List Blobs request per page. Any other start_after costs a scan (one bulk
// request, plus one to learn the marker after a page cut inside it).
TEST_F(AzureStoreServerTest, ListContinuesFromRememberedMarkers) {
  const std::string name = "isle-t-list-" + random_token().substr(0, 12);
  auto opened = AzureStore::open(config(testing::with_bucket(url_, name), {}));
  ASSERT_EQ(opened.status().code(), Code::kPermanent);  // no such container yet
  AzureConfig c = config(testing::with_bucket(url_, name));
  c.check = false;
  auto s = AzureStore::open(c);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  AzureStore& store = **s;
  ASSERT_TRUE(store.create_container().ok());
  ASSERT_TRUE(store.create_container().ok());  // already there: fine
  for (int i = 0; i < 7; i++) ASSERT_TRUE(store.put("k" + std::to_string(i), "v").ok());

  auto pages = [&](const std::string& start_after, size_t max_keys, std::vector<std::string>* keys) {
    ListOptions o;
    o.start_after = start_after;
    o.max_keys = max_keys;
    const uint64_t before = store.http_stats().requests;
    for (;;) {
      auto p = store.list(o);
      EXPECT_TRUE(p.ok()) << p.status().to_string();
      if (!p.ok()) break;
      for (auto& m : p->objects) keys->push_back(m.key);
      if (p->next_start_after.empty()) break;
      o.start_after = p->next_start_after;
    }
    return store.http_stats().requests - before;
  };
  std::vector<std::string> keys;
  EXPECT_EQ(pages("", 2, &keys), 4u);  // 2 + 2 + 2 + 1
  EXPECT_EQ(keys, (std::vector<std::string>{"k0", "k1", "k2", "k3", "k4", "k5", "k6"}));
  keys.clear();
  // From an arbitrary key: a scan plus the marker for the cut, then 1 each.
  EXPECT_EQ(pages("k2x", 2, &keys), 2u + 1u);
  EXPECT_EQ(keys, (std::vector<std::string>{"k3", "k4", "k5", "k6"}));
  keys.clear();
  // Resuming from a key a page ended at costs one request.
  EXPECT_EQ(pages("k3", 3, &keys), 1u);
  EXPECT_EQ(keys, (std::vector<std::string>{"k4", "k5", "k6"}));

  auto removed = store.remove_batch({"k0", "k1", "k2", "k3", "k4", "k5", "k6", "absent"});
  ASSERT_TRUE(removed.ok());
  EXPECT_TRUE(removed->empty());
  EXPECT_TRUE(store.delete_container().ok());
}

}  // namespace
}  // namespace isle
