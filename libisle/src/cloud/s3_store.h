// S3Store: the ObjectStore contract over the S3 REST API (AWS S3, Ceph RGW,
// MinIO, Cloudflare R2) and over the GCS XML API (its S3-compatible dialect
// with HMAC keys), signed with Signature V4 on our own HTTP client.
//
// URL: s3://BUCKET?region=R&endpoint=http(s)://HOST[:PORT]&path_style=true
//   region      default $AWS_REGION, else us-east-1
//   endpoint    default $AWS_ENDPOINT_URL, else https://s3.REGION.amazonaws.com
//   path_style  default false for AWS (virtual-hosted: BUCKET.s3...), true
//               when an endpoint is given (RGW, MinIO) or the bucket name has
//               a '.' (it would not match the TLS wildcard certificate)
//   etag_quotes send If-Match ETags quoted (default false: Ceph RGW answers
//               412 to a quoted one; AWS accepts both)
//   part_size   a whole-object GET whose body is larger than this stops
//               after the headers and reads the object in parts of this
//               size in parallel (default 8 MiB); get_parallelism parts at
//               once (default 4)
//   plus the common parameters in cloud_url.h.
// Credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN.
//
// How the contract maps onto S3 (docs/object-stores.md has the full table):
//   * ETags are S3's, without quotes. S3 ETags are content hashes (MD5), so an
//     identical rewrite may keep the ETag: the contract's "changes on every
//     write" is weakened to "changes whenever the content does" for S3.
//   * modified_ms has whole-second precision (Last-Modified); put() reports
//     the server's Last-Modified if it sends one, else its Date header.
//   * Keys must be valid UTF-8 (S3's rule); others are InvalidArgument.
//     Listing with a prefix or start_after that is not valid UTF-8 works:
//     the store lists from the longest valid prefix and filters.
//   * Conditional PUTs are never resent blindly. Each carries a random
//     write id as object metadata (x-amz-meta-isle-write). When the server
//     answers one with a 5xx (RGW answers some losers of a concurrent CAS
//     with 500 and writes nothing), the store reads the object's metadata
//     back: our write id -> success; the precondition still holds (the
//     object is as it was) -> Transient (safe to retry); otherwise ->
//     PreconditionFailed. A lost connection after sending stays
//     UnknownOutcome for the manifest layer to resolve.
//   * remove_batch uses DeleteObjects (1000 keys per request, Content-MD5).
//
// Errors at open: with check=true (the default) open() lists one key of the
// bucket, so a wrong key, secret, region or bucket name, or an unreachable
// endpoint, is one clear error naming what to fix.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "cloud/cloud_url.h"
#include "cloud/http_client.h"
#include "cloud/sigv4.h"
#include "isle/object_store.h"

namespace isle {

enum class S3Dialect : unsigned char {
  kS3,   // AWS4-HMAC-SHA256, x-amz-*, If-None-Match/If-Match on PUT
  kGcs,  // GOOG4-HMAC-SHA256, x-goog-*, x-goog-if-generation-match; the
         // ETag token is the object's generation
};

struct S3Config {
  S3Dialect dialect = S3Dialect::kS3;
  std::string bucket;
  std::string region = "us-east-1";
  HttpEndpoint endpoint;
  bool path_style = false;
  bool etag_quotes = false;
  std::string access_key;
  std::string secret_key;
  std::string session_token;
  uint64_t part_size = 8 << 20;
  int get_parallelism = 4;
  HttpClientOptions http;
  bool check = true;  // verify access at open
  std::string url;    // as given (no credentials)
};

// Parses an s3:// (dialect kS3) or gs:// (dialect kGcs) URL and the
// credentials from `env`. Missing credentials are InvalidArgument naming the
// variables to set.
Result<S3Config> s3_config_from_url(std::string_view url, const EnvLookup& env);

class S3Store : public ObjectStore {
 public:
  static Result<std::shared_ptr<S3Store>> open(S3Config config);

  Result<GetResult> get(std::string_view key, const GetOptions& options = {}) override;
  Result<ObjectMeta> head(std::string_view key) override;
  Result<ObjectMeta> put(std::string_view key, std::string_view data,
                         const PutOptions& options = {}) override;
  Status remove(std::string_view key) override;
  Result<std::vector<DeleteOutcome>> remove_batch(const std::vector<std::string>& keys) override;
  Result<ListPage> list(const ListOptions& options) override;
  std::string url() const override { return config_.url; }

  // Creates the bucket (PUT Bucket, in the configured region). A bucket
  // that exists and is ours already is fine. For tests and `isle`; IsleDB
  // itself never creates buckets.
  Status create_bucket();
  // Deletes the (empty) bucket. For tests.
  Status delete_bucket();

  HttpClientStats http_stats() const { return http_->stats(); }

  struct Call;  // one signed request (s3_store.cc)

 private:
  S3Store(S3Config config, std::unique_ptr<HttpClient> http);

  Status check_access();
  Result<HttpClientResponse> send(Call& call);
  std::string object_path(std::string_view key) const;
  std::string bucket_path() const;
  Result<GetResult> get_range(std::string_view key, const GetOptions& options);
  Result<GetResult> get_whole(std::string_view key, const GetOptions& options);
  // Reads the object in parallel parts into out->data (out->meta has its
  // size and ETag); false when the object changed meanwhile.
  Result<bool> read_parts(std::string_view key, GetResult* out);
  Result<ObjectMeta> resolve_conditional_put(std::string_view key, const PutOptions& options,
                                             const std::string& write_id, const Status& why);
  Status delete_chunk(const std::vector<std::string>& keys, std::vector<DeleteOutcome>* failed);

  S3Config config_;
  std::unique_ptr<HttpClient> http_;
  SigV4Signer signer_;
  std::string host_;  // Host header
};

}  // namespace isle
