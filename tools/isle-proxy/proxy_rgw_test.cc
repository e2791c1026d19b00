// End to end: libisle's S3 store talks to the test RGW through the proxy
// (the URL's endpoint points at the proxy) and put / get / list / delete
// work, with every request framed and delayed. Skips without
// ISLE_TEST_S3_URL (source /tmp/isle-objstores/s3.env).
#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

#include "cloud/s3_store.h"
#include "proxy.h"
#include "util/random.h"

namespace isle::proxy {
namespace {

// Replaces `key`'s value in a URL's query string.
std::string set_param(std::string url, const std::string& key, const std::string& value) {
  const size_t at = url.find(key + "=");
  if (at == std::string::npos) return url + (url.find('?') == std::string::npos ? "?" : "&") +
                                       key + "=" + value;
  const size_t end = url.find('&', at);
  return url.substr(0, at) + key + "=" + value + (end == std::string::npos ? "" : url.substr(end));
}

TEST(ProxyRgwTest, S3StoreThroughTheProxyPutsGetsAndLists) {
  const char* base = std::getenv("ISLE_TEST_S3_URL");
  const char* endpoint = std::getenv("ISLE_TEST_S3_ENDPOINT");
  if (base == nullptr || endpoint == nullptr) {
    GTEST_SKIP() << "no RGW: source /tmp/isle-objstores/s3.env";
  }
  std::string host_port = endpoint;
  host_port = host_port.substr(host_port.find("://") + 3);
  auto config = parse_proxy_config("version: 1\nlisten: 127.0.0.1:0\nupstream: " + host_port +
                                   R"(
seed: 3
rules:
  - name: reads
    match: {methods: [GET, HEAD]}
    delay: {distribution: lognormal, p50: 5ms, p99: 20ms}
  - name: writes
    match: {methods: [PUT, POST]}
    delay: {distribution: lognormal, p50: 8ms, p99: 30ms}
  - name: deletes
    match: {methods: [DELETE]}
    delay: {distribution: fixed, value: 2ms}
)");
  ASSERT_TRUE(config.ok()) << config.status().to_string();
  auto proxy = Proxy::create(*config);
  ASSERT_TRUE(proxy.ok()) << proxy.status().to_string();
  std::thread io([&] { (*proxy)->run(); });
  struct Stop {
    Proxy* p;
    std::thread* t;
    ~Stop() {
      p->stop();
      t->join();
    }
  } stop{proxy->get(), &io};

  // A fresh bucket, reached through the proxy.
  std::string url = base;
  const size_t s = url.find("://") + 3;
  url = url.substr(0, s) + "isle-proxy-" + random_token().substr(0, 12) +
        url.substr(url.find('?'));
  url = set_param(url, "endpoint", "http://127.0.0.1:" + std::to_string((*proxy)->port()));
  auto s3 = s3_config_from_url(url, process_env());
  ASSERT_TRUE(s3.ok()) << s3.status().to_string();
  s3->check = false;
  auto store = S3Store::open(*s3);
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  ASSERT_TRUE((*store)->create_bucket().ok());

  std::string big = Random(5).bytes(300'000);  // crosses many proxy buffers
  ASSERT_TRUE((*store)->put("a/one", "first").ok());
  ASSERT_TRUE((*store)->put("a/two", big).ok());
  ASSERT_TRUE((*store)->put("b/three", "third").ok());
  auto one = (*store)->get("a/one");
  ASSERT_TRUE(one.ok()) << one.status().to_string();
  EXPECT_EQ(one->data, "first");
  auto two = (*store)->get("a/two");
  ASSERT_TRUE(two.ok()) << two.status().to_string();
  EXPECT_TRUE(two->data == big);
  EXPECT_EQ((*store)->get("a/missing").status().code(), Code::kNotFound);
  auto listed = (*store)->list_all("a/");
  ASSERT_TRUE(listed.ok()) << listed.status().to_string();
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].key, "a/one");
  EXPECT_EQ((*listed)[1].key, "a/two");
  EXPECT_EQ((*listed)[1].size, big.size());
  for (const char* k : {"a/one", "a/two", "b/three"}) EXPECT_TRUE((*store)->remove(k).ok());
  EXPECT_TRUE((*store)->delete_bucket().ok());

  const auto st = (*proxy)->stats();
  // create, 3 puts, 3 gets, list, 3 deletes, delete bucket: at least 12.
  EXPECT_GE(st.requests, 12u);
  EXPECT_EQ(st.responses, st.requests);
  EXPECT_EQ(st.delayed, st.requests);  // every method has a rule
  EXPECT_EQ(st.parse_fallbacks, 0u);
  EXPECT_EQ(st.malformed_closed, 0u);
}

}  // namespace
}  // namespace isle::proxy
