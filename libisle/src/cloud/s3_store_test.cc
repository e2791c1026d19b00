// S3Store beyond the conformance suite:
//   * URL and credential parsing (offline);
//   * open-time errors against the real Ceph RGW: wrong key, wrong secret,
//     missing bucket, unreachable endpoint -> one Permanent error naming
//     what to fix;
//   * the paths a real server will not take on cue, against a scripted
//     server: a 5xx to a conditional PUT resolved by reading back, 409 and
//     503 SlowDown classification, a large GET whose object changes between
//     parts;
//   * the GCS dialect's requests (no GCS emulator runs here): headers,
//     generation preconditions, and a signature recomputed from what the
//     server received.
#include "cloud/s3_store.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>

#include "cloud/cloud_test_util.h"
#include "cloud/scripted_server_test_util.h"
#include "util/hash.h"

namespace isle {
namespace {

using testing::FakeHttpServer;
using testing::http_response;
using testing::SeenRequest;

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

const std::map<std::string, std::string> kCreds = {{"AWS_ACCESS_KEY_ID", "AK"},
                                                   {"AWS_SECRET_ACCESS_KEY", "SK"}};

TEST(S3ConfigTest, AwsDefaultsAreVirtualHostedHttps) {
  auto c = s3_config_from_url("s3://my-bucket", env_of(kCreds));
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->bucket, "my-bucket");
  EXPECT_EQ(c->region, "us-east-1");
  EXPECT_TRUE(c->endpoint.tls);
  EXPECT_EQ(c->endpoint.host, "s3.us-east-1.amazonaws.com");
  EXPECT_FALSE(c->path_style);
  EXPECT_EQ(c->access_key, "AK");
  EXPECT_EQ(c->dialect, S3Dialect::kS3);

  auto r = s3_config_from_url("s3://b?region=eu-west-1", env_of(kCreds));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->endpoint.host, "s3.eu-west-1.amazonaws.com");

  // A dotted bucket would not match the wildcard certificate: path style.
  auto dotted = s3_config_from_url("s3://my.bucket", env_of(kCreds));
  ASSERT_TRUE(dotted.ok());
  EXPECT_TRUE(dotted->path_style);
}

TEST(S3ConfigTest, EndpointImpliesPathStyleAndEnvFallbacks) {
  auto c = s3_config_from_url("s3://b?endpoint=http://127.0.0.1:7480", env_of(kCreds));
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->path_style);
  EXPECT_FALSE(c->endpoint.tls);
  EXPECT_EQ(c->endpoint.port, 7480);

  auto v = s3_config_from_url("s3://b?endpoint=http://h:1&path_style=false", env_of(kCreds));
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->path_style);

  auto vars = kCreds;
  vars["AWS_REGION"] = "ap-south-1";
  vars["AWS_ENDPOINT_URL"] = "https://minio.internal:9000";
  vars["AWS_SESSION_TOKEN"] = "TOKEN";
  auto e = s3_config_from_url("s3://b", env_of(vars));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->region, "ap-south-1");
  EXPECT_EQ(e->endpoint.host, "minio.internal");
  EXPECT_EQ(e->session_token, "TOKEN");
  // The URL wins over the environment.
  auto u = s3_config_from_url("s3://b?region=us-west-2", env_of(vars));
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->region, "us-west-2");
}

TEST(S3ConfigTest, BadUrlsAndMissingCredentialsSayWhatToFix) {
  auto none = s3_config_from_url("s3://b", env_of({}));
  ASSERT_TRUE(none.status().is_invalid_argument());
  EXPECT_NE(none.status().message().find("AWS_ACCESS_KEY_ID"), std::string::npos);
  EXPECT_NE(none.status().message().find("AWS_SECRET_ACCESS_KEY"), std::string::npos);

  auto typo = s3_config_from_url("s3://b?regoin=x", env_of(kCreds));
  ASSERT_TRUE(typo.status().is_invalid_argument());
  EXPECT_NE(typo.status().message().find("regoin"), std::string::npos);
  EXPECT_NE(typo.status().message().find("region"), std::string::npos);

  for (const char* bad : {"s3://", "s3://B", "s3://b?path_style=maybe", "s3://b?part_size=12",
                          "s3://b?endpoint=ftp://x", "s3://b?endpoint=http://h/path",
                          "s3://b?max_connections=0", "s3://b?region=a&region=b"}) {
    EXPECT_TRUE(s3_config_from_url(bad, env_of(kCreds)).status().is_invalid_argument()) << bad;
  }
}

TEST(S3ConfigTest, GcsUsesItsOwnEndpointAndHmacVariables) {
  auto none = s3_config_from_url("gs://b", env_of(kCreds));
  ASSERT_TRUE(none.status().is_invalid_argument());
  EXPECT_NE(none.status().message().find("GCS_HMAC_ACCESS_ID"), std::string::npos);
  auto c = s3_config_from_url("gs://b", env_of({{"GCS_HMAC_ACCESS_ID", "GOOGID"},
                                                {"GCS_HMAC_SECRET", "s"}}));
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->dialect, S3Dialect::kGcs);
  EXPECT_EQ(c->endpoint.host, "storage.googleapis.com");
  EXPECT_TRUE(c->endpoint.tls);
}

// --- Open-time errors against the real RGW --------------------------------

class S3OpenErrorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* url = std::getenv("ISLE_TEST_S3_URL");
    if (url == nullptr || *url == '\0') {
      GTEST_SKIP() << "no S3 test server: ISLE_TEST_S3_URL is not set (scripts/test.sh starts "
                      "Ceph RGW; or run scripts/objstores/start-ceph-rgw.sh)";
    }
    url_ = url;
    auto c = s3_config_from_url(url_, process_env());
    ASSERT_TRUE(c.ok()) << c.status().to_string();
    config_ = *c;
  }
  std::string url_;
  S3Config config_;
};

TEST_F(S3OpenErrorsTest, GoodSettingsOpen) {
  auto s = S3Store::open(config_);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_EQ((*s)->http_stats().requests, 1u);  // the one access check
}

TEST_F(S3OpenErrorsTest, WrongSecretNamesTheVariable) {
  config_.secret_key = "not-the-secret";
  auto s = S3Store::open(config_);
  ASSERT_EQ(s.status().code(), Code::kPermanent) << s.status().to_string();
  EXPECT_NE(s.status().message().find("AWS_SECRET_ACCESS_KEY"), std::string::npos)
      << s.status().message();
}

TEST_F(S3OpenErrorsTest, UnknownAccessKeyNamesTheVariable) {
  config_.access_key = "nobody";
  auto s = S3Store::open(config_);
  ASSERT_EQ(s.status().code(), Code::kPermanent) << s.status().to_string();
  EXPECT_NE(s.status().message().find("AWS_ACCESS_KEY_ID"), std::string::npos)
      << s.status().message();
}

TEST_F(S3OpenErrorsTest, MissingBucketSaysSo) {
  config_.bucket = "isle-no-such-bucket";
  auto s = S3Store::open(config_);
  ASSERT_EQ(s.status().code(), Code::kPermanent) << s.status().to_string();
  EXPECT_NE(s.status().message().find("does not exist"), std::string::npos)
      << s.status().message();
  EXPECT_NE(s.status().message().find("isle-no-such-bucket"), std::string::npos);
}

TEST_F(S3OpenErrorsTest, UnreachableEndpointNamesIt) {
  config_.endpoint.port = 1;  // nothing listens on port 1
  auto s = S3Store::open(config_);
  ASSERT_EQ(s.status().code(), Code::kPermanent) << s.status().to_string();
  EXPECT_NE(s.status().message().find("127.0.0.1:1"), std::string::npos) << s.status().message();
  EXPECT_NE(s.status().message().find("endpoint"), std::string::npos) << s.status().message();
}

TEST_F(S3OpenErrorsTest, OpenObjectStoreFailsOnceWithTheSameMessage) {
  // Through the public opener (with its retry policy): still one clear
  // error at open, not a stack of retries.
  ::setenv("AWS_SECRET_ACCESS_KEY", "wrong", 1);
  auto s = open_object_store(url_);
  ::setenv("AWS_SECRET_ACCESS_KEY", config_.secret_key.c_str(), 1);
  ASSERT_EQ(s.status().code(), Code::kPermanent) << s.status().to_string();
  EXPECT_NE(s.status().message().find("AWS_SECRET_ACCESS_KEY"), std::string::npos);
}

// --- Scripted-server paths -------------------------------------------------

S3Config fake_config(const HttpEndpoint& ep, S3Dialect dialect = S3Dialect::kS3) {
  S3Config c;
  c.dialect = dialect;
  c.bucket = "b";
  c.endpoint = ep;
  c.path_style = true;
  c.access_key = "AKID";
  c.secret_key = "SECRET";
  c.check = false;
  c.url = "s3://b";
  return c;
}

std::shared_ptr<S3Store> open_fake(const HttpEndpoint& ep, S3Dialect d = S3Dialect::kS3) {
  auto s = S3Store::open(fake_config(ep, d));
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  return *s;
}

const char* kEtagA = "0123456789abcdef0123456789abcdef";
const char* kEtagB = "fedcba9876543210fedcba9876543210";

std::string etag_header(const std::string& e) { return "ETag: \"" + e + "\""; }

TEST(S3ScriptedTest, CasAnswered500WhileNothingChangedIsTransient) {
  FakeHttpServer server([](const SeenRequest& r) {
    if (r.method == "PUT") return http_response(500, {}, "<Error><Code>UnknownError</Code></Error>");
    return http_response(200, {etag_header(kEtagA), "Content-Length: 3"});  // HEAD: unchanged
  });
  auto store = open_fake(server.endpoint());
  auto r = store->put("k", "new", PutOptions::if_match_etag(kEtagA));
  EXPECT_EQ(r.status().code(), Code::kTransient) << r.status().to_string();
  auto seen = server.requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].header("if-match"), kEtagA);  // unquoted (RGW)
  EXPECT_EQ(seen[1].method, "HEAD");
}

TEST(S3ScriptedTest, CasAnswered500WithARivalsVersionIsPreconditionFailed) {
  FakeHttpServer server([](const SeenRequest& r) {
    if (r.method == "PUT") return http_response(500, {}, "<Error><Code>UnknownError</Code></Error>");
    return http_response(200, {etag_header(kEtagB), "Content-Length: 5"});
  });
  auto store = open_fake(server.endpoint());
  auto r = store->put("k", "new", PutOptions::if_match_etag(kEtagA));
  EXPECT_TRUE(r.status().is_precondition_failed()) << r.status().to_string();
}

TEST(S3ScriptedTest, CasAnswered500ButLandedIsSuccess) {
  // The server wrote the object and still answered 500: the read-back
  // finds this write's id in the metadata.
  std::string id;
  FakeHttpServer server([&](const SeenRequest& r) {
    if (r.method == "PUT") {
      id = r.header("x-amz-meta-isle-write");
      return http_response(500, {}, "");
    }
    return http_response(200, {etag_header(kEtagB), "x-amz-meta-isle-write: " + id,
                               "Content-Length: 3"});
  });
  auto store = open_fake(server.endpoint());
  auto r = store->put("k", "new", PutOptions::if_match_etag(kEtagA));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->etag, kEtagB);
  EXPECT_GE(id.size(), 16u);
  // Identical bytes written by a rival (another id) are not ours.
  FakeHttpServer rival([&](const SeenRequest& q) {
    if (q.method == "PUT") return http_response(500, {}, "");
    return http_response(200, {etag_header(kEtagB), "x-amz-meta-isle-write: someone-else",
                               "Content-Length: 3"});
  });
  auto store2 = open_fake(rival.endpoint());
  EXPECT_TRUE(store2->put("k", "new", PutOptions::if_match_etag(kEtagA)).status().is_precondition_failed());
  // Unconditional writes carry no id.
  FakeHttpServer plain([&](const SeenRequest&) { return http_response(200, {etag_header(kEtagA)}); });
  auto store3 = open_fake(plain.endpoint());
  ASSERT_TRUE(store3->put("k", "v").ok());
  EXPECT_EQ(plain.requests()[0].header("x-amz-meta-isle-write"), "");
}

TEST(S3ScriptedTest, CreateOnlyAnswered500WhileAbsentIsTransient) {
  FakeHttpServer server([](const SeenRequest& r) {
    if (r.method == "PUT") return http_response(503, {}, "<Error><Code>ServiceUnavailable</Code></Error>");
    return http_response(404, {});
  });
  auto store = open_fake(server.endpoint());
  auto r = store->put("k", "v", PutOptions::create_only());
  EXPECT_EQ(r.status().code(), Code::kTransient) << r.status().to_string();
  EXPECT_EQ(server.requests()[0].header("if-none-match"), "*");
}

TEST(S3ScriptedTest, ConflictAndSlowDownAreRetryableAndSendNothingElse) {
  int n = 0;
  FakeHttpServer server([&](const SeenRequest&) {
    return n++ == 0 ? http_response(409, {}, "<Error><Code>ConditionalRequestConflict</Code></Error>")
                    : http_response(503, {}, "<Error><Code>SlowDown</Code></Error>");
  });
  auto store = open_fake(server.endpoint());
  EXPECT_EQ(store->put("k", "v", PutOptions::create_only()).status().code(), Code::kTransient);
  EXPECT_EQ(store->put("k", "v", PutOptions::create_only()).status().code(), Code::kThrottled);
  EXPECT_EQ(server.requests().size(), 2u);  // no read-back for either
}

TEST(S3ScriptedTest, MalformedIfMatchTokensNeverReachTheServer) {
  FakeHttpServer server([](const SeenRequest&) { return http_response(200, {etag_header(kEtagA)}); });
  auto store = open_fake(server.endpoint());
  for (std::string bad : {std::string(kEtagA) + "0", std::string("\"") + kEtagA + "\"", std::string("x"),
                          std::string(kEtagA).substr(0, 31)}) {
    EXPECT_TRUE(store->put("k", "v", PutOptions::if_match_etag(bad)).status().is_precondition_failed())
        << bad;
  }
  EXPECT_TRUE(server.requests().empty());
  EXPECT_TRUE(store->put("k", "v", PutOptions::if_match_etag(std::string(kEtagA) + "-12")).ok());
}

TEST(S3ScriptedTest, LargeGetReadsPartsPinnedToTheFirstVersion) {
  // A 10-byte object with part_size=4: the plain GET stops after the
  // headers (the body is over part_size), then parts 0-3, 4-7, 8-9 carry
  // If-Match with its ETag. In the first round the part at 8 sees a new
  // version (412): the store starts over.
  const std::string v1 = "0123456789";
  int part_412 = 1;
  FakeHttpServer server([&](const SeenRequest& r) {
    std::string range = r.header("range");
    if (range.empty()) return http_response(200, {etag_header(kEtagA)}, v1);
    uint64_t a = std::stoull(range.substr(6));
    uint64_t b = std::min<uint64_t>(std::stoull(range.substr(range.find('-') + 1)), 9);
    if (a == 8 && part_412-- > 0) return http_response(412, {});
    return http_response(206, {etag_header(kEtagA), "Content-Range: bytes " + std::to_string(a) +
                                                        "-" + std::to_string(b) + "/10"},
                         v1.substr(a, b - a + 1));
  });
  auto config = fake_config(server.endpoint());
  config.part_size = 4;
  config.get_parallelism = 2;
  auto store = S3Store::open(config);
  ASSERT_TRUE(store.ok());
  auto g = (*store)->get("obj");
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  EXPECT_EQ(g->data, v1);
  EXPECT_EQ(g->meta.size, 10u);
  EXPECT_EQ(g->meta.etag, kEtagA);
  auto seen = server.requests();
  EXPECT_EQ(seen.size(), 8u);  // a GET and 3 parts, twice
  for (const auto& r : seen) {
    if (!r.header("range").empty()) {
      EXPECT_EQ(r.header("if-match"), kEtagA);
    }
  }
  // A small object is one plain GET, no Range header.
  auto small = S3Store::open(fake_config(server.endpoint()));
  ASSERT_TRUE(small.ok());
  ASSERT_TRUE((*small)->get("obj").ok());
  EXPECT_EQ(server.requests().back().header("range"), "");
}

TEST(S3ScriptedTest, MalformedContentRangeIsCorruptionNotACrash) {
  FakeHttpServer server([](const SeenRequest&) {
    return http_response(206, {etag_header(kEtagA), "Content-Range: bytes 5-2/1"}, "abc");
  });
  auto store = open_fake(server.endpoint());
  EXPECT_EQ(store->get("k", GetOptions::ranged(ByteRange::at(0, 3))).status().code(),
            Code::kCorruption);
  // A plain GET answered with a 206 is not a valid answer either.
  EXPECT_FALSE(store->get("k").ok());
}

TEST(S3ScriptedTest, WrongRegionAtOpenNamesTheRightOne) {
  // RGW accepts any region, so AWS's two answers are scripted: a signature
  // scoped to the wrong region (400 AuthorizationHeaderMalformed), and a
  // request to the wrong regional endpoint (301 with x-amz-bucket-region).
  for (int variant = 0; variant < 2; variant++) {
    FakeHttpServer server([&](const SeenRequest&) {
      if (variant == 0) {
        return http_response(400, {}, "<Error><Code>AuthorizationHeaderMalformed</Code><Message>"
                                      "the region 'us-east-1' is wrong; expecting 'eu-west-1'"
                                      "</Message><Region>eu-west-1</Region></Error>");
      }
      return http_response(301, {"x-amz-bucket-region: eu-west-1"},
                           "<Error><Code>PermanentRedirect</Code></Error>");
    });
    auto config = fake_config(server.endpoint());
    config.check = true;
    auto s = S3Store::open(config);
    ASSERT_EQ(s.status().code(), Code::kPermanent) << s.status().to_string();
    EXPECT_NE(s.status().message().find("eu-west-1"), std::string::npos) << s.status().message();
    EXPECT_NE(s.status().message().find("region"), std::string::npos) << s.status().message();
    EXPECT_EQ(server.requests().size(), 1u);
  }
}

// --- GCS dialect (no live server: request construction and signing) ------

TEST(S3ScriptedTest, GcsRequestsUseGenerationsAndGoog4Signatures) {
  FakeHttpServer server([](const SeenRequest& r) {
    if (r.method == "PUT") return http_response(200, {"x-goog-generation: 1700000000000001", etag_header(kEtagA)});
    return http_response(200, {"x-goog-generation: 1700000000000001", etag_header(kEtagA),
                               "Content-Length: 5"}, r.method == "HEAD" ? "" : "hello");
  });
  auto store = open_fake(server.endpoint(), S3Dialect::kGcs);
  auto created = store->put("dir/k v", "hello", PutOptions::create_only());
  ASSERT_TRUE(created.ok()) << created.status().to_string();
  EXPECT_EQ(created->etag, "1700000000000001");  // the generation is the token
  auto cas = store->put("dir/k v", "hello", PutOptions::if_match_etag(created->etag));
  ASSERT_TRUE(cas.ok()) << cas.status().to_string();
  // A token that is not a generation never reaches the server.
  EXPECT_TRUE(store->put("dir/k v", "x", PutOptions::if_match_etag(kEtagA)).status().is_precondition_failed());
  auto head = store->head("dir/k v");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->etag, "1700000000000001");

  auto seen = server.requests();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].target, "/b/dir/k%20v");
  EXPECT_EQ(seen[0].header("x-goog-if-generation-match"), "0");
  EXPECT_EQ(seen[0].header("if-none-match"), "");
  EXPECT_EQ(seen[1].header("x-goog-if-generation-match"), "1700000000000001");
  EXPECT_EQ(seen[0].header("x-goog-content-sha256"), sha256_hex("hello"));
  EXPECT_EQ(seen[0].header("x-amz-date"), "");

  // Recompute the signature from what the server received.
  const SeenRequest& put = seen[0];
  const std::string auth = put.header("authorization");
  ASSERT_TRUE(auth.starts_with("GOOG4-HMAC-SHA256 Credential=AKID/")) << auth;
  EXPECT_NE(auth.find("/auto/storage/goog4_request"), std::string::npos) << auth;
  HttpHeaders signed_headers;
  const std::string list = auth.substr(auth.find("SignedHeaders=") + 14,
                                       auth.find(',', auth.find("SignedHeaders=")) -
                                           auth.find("SignedHeaders=") - 14);
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t semi = list.find(';', pos);
    std::string name = list.substr(pos, semi == std::string::npos ? std::string::npos : semi - pos);
    signed_headers.emplace_back(name, put.header(name));
    if (semi == std::string::npos) break;
    pos = semi + 1;
  }
  SigV4Signer signer(SigV4Flavor::kGoogle, "AKID", "SECRET", "auto", "storage");
  SigV4Input in;
  in.method = "PUT";
  in.path = "/b/dir/k%20v";
  in.headers = &signed_headers;
  const std::string payload = put.header("x-goog-content-sha256");
  in.payload_hash = payload;
  SigV4Result want = signer.sign(in, put.header("x-goog-date"));
  EXPECT_EQ(auth, want.authorization);
}

TEST(S3ScriptedTest, GcsListingsCarryGenerations) {
  FakeHttpServer server([](const SeenRequest&) {
    return http_response(200, {}, "<ListBucketResult><IsTruncated>false</IsTruncated><Contents>"
                                  "<Key>a</Key><Generation>1700000000000042</Generation>"
                                  "<ETag>\"0123456789abcdef0123456789abcdef\"</ETag><Size>3</Size>"
                                  "<LastModified>2026-11-23T05:44:52.105Z</LastModified>"
                                  "</Contents></ListBucketResult>");
  });
  auto store = open_fake(server.endpoint(), S3Dialect::kGcs);
  auto page = store->list({});
  ASSERT_TRUE(page.ok()) << page.status().to_string();
  ASSERT_EQ(page->objects.size(), 1u);
  EXPECT_EQ(page->objects[0].etag, "1700000000000042");
  EXPECT_EQ(page->objects[0].modified_ms % 1000, 0);  // whole seconds, as HEAD reports
  EXPECT_NE(server.requests()[0].target.find("list-type=2"), std::string::npos);
}

}  // namespace
}  // namespace isle
