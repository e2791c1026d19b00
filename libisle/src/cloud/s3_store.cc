// S3Store; see s3_store.h for the URL, the contract mapping and the
// conditional-write rules.
#include "cloud/s3_store.h"

#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "cloud/cloud_common.h"
#include "cloud/cloud_xml.h"
#include "store/store_common.h"
#include "util/base64.h"
#include "util/hash.h"
#include "util/random.h"
#include "util/utf8.h"

namespace isle {

namespace {

constexpr const char* kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string md5_raw(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), out, &n, EVP_md5(), nullptr);
  return std::string(reinterpret_cast<char*>(out), n);
}


// A single-PUT S3 ETag: 32 lower-case hex digits; multipart ones add "-N".
bool is_s3_etag(std::string_view s) {
  size_t dash = s.find('-');
  std::string_view hex = s.substr(0, dash);
  if (hex.size() != 32) return false;
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  if (dash == std::string_view::npos) return true;
  std::string_view n = s.substr(dash + 1);
  return !n.empty() && n.size() <= 5 && n.find_first_not_of("0123456789") == std::string_view::npos;
}







}  // namespace

// One request before signing.
struct S3Store::Call {
  std::string method;
  std::string path;   // encoded
  std::string query;  // encoded, without '?'
  HttpHeaders headers;
  std::string_view body;
  bool head = false;
  uint64_t max_body = UINT64_MAX;  // see HttpClientRequest::max_body
  std::string what;  // "GET key" for messages
};

S3Store::S3Store(S3Config config, std::unique_ptr<HttpClient> http)
    : config_(std::move(config)),
      http_(std::move(http)),
      signer_(config_.dialect == S3Dialect::kGcs ? SigV4Flavor::kGoogle : SigV4Flavor::kAws,
              config_.access_key, config_.secret_key,
              config_.dialect == S3Dialect::kGcs ? "auto" : config_.region,
              config_.dialect == S3Dialect::kGcs ? "storage" : "s3") {
  HttpEndpoint host_ep = config_.endpoint;
  if (!config_.path_style) host_ep.host = config_.bucket + "." + host_ep.host;
  host_ = host_ep.host_header();
}

Result<std::shared_ptr<S3Store>> S3Store::open(S3Config config) {
  HttpEndpoint ep = config.endpoint;
  if (!config.path_style) ep.host = config.bucket + "." + ep.host;
  ISLE_ASSIGN_OR_RETURN(auto http, HttpClient::create(ep, config.http));
  std::shared_ptr<S3Store> store(new S3Store(std::move(config), std::move(http)));
  if (store->config_.check) ISLE_RETURN_IF_ERROR(store->check_access());
  return store;
}

std::string S3Store::bucket_path() const {
  return config_.path_style ? "/" + sigv4_uri_encode(config_.bucket, true) + "/" : "/";
}

std::string S3Store::object_path(std::string_view key) const {
  return bucket_path() + sigv4_uri_encode(key, false);
}

Result<HttpClientResponse> S3Store::send(Call& call) {
  const bool gcs = config_.dialect == S3Dialect::kGcs;
  const std::string payload_hash = call.body.empty() ? kEmptySha256 : sha256_hex(call.body);
  const std::string timestamp = sigv4_timestamp(unix_now_seconds());
  call.headers.emplace_back("host", host_);
  call.headers.emplace_back(gcs ? "x-goog-date" : "x-amz-date", timestamp);
  call.headers.emplace_back(gcs ? "x-goog-content-sha256" : "x-amz-content-sha256",
                            payload_hash);
  if (!config_.session_token.empty() && !gcs) {
    call.headers.emplace_back("x-amz-security-token", config_.session_token);
  }
  SigV4Input in;
  in.method = call.method;
  in.path = call.path;
  in.query = call.query;
  in.headers = &call.headers;
  in.payload_hash = payload_hash;
  SigV4Result sig = signer_.sign(in, timestamp);
  call.headers.emplace_back("authorization", sig.authorization);
  const std::string target = call.query.empty() ? call.path : call.path + "?" + call.query;
  HttpClientRequest req;
  req.method = call.method;
  req.target = target;
  req.headers = &call.headers;
  req.body = call.body;
  req.head = call.head;
  req.max_body = call.max_body;
  auto r = http_->send(req);
  if (!r.ok()) return r.status().with_context(call.what);
  return r;
}

namespace {

// The Status for an unsuccessful response. `write` marks requests whose
// 5xx may have been applied (UnknownOutcome) rather than surely not.
Status error_status(const HttpClientResponse& r, const std::string& what, bool write) {
  CloudError e = parse_cloud_error(r.body);
  std::string detail = "HTTP " + std::to_string(r.status);
  if (!e.code.empty()) detail += " " + e.code;
  if (!e.message.empty()) detail += ": " + e.message;
  const std::string m = what + ": " + detail;
  switch (r.status) {
    case 404:
      if (e.code == "NoSuchBucket") return Status::Permanent(m + " (the bucket does not exist)");
      return Status::NotFound(m);
    case 412:
      return Status::PreconditionFailed(m);
    case 409:
      if (e.code == "ConditionalRequestConflict" || e.code == "OperationAborted") {
        return Status::Transient(m);
      }
      return Status::Permanent(m);
    case 429:
      return Status::Throttled(m);
    case 400:
      if (e.code == "RequestTimeout") return Status::Transient(m);
      if (e.code == "AuthorizationHeaderMalformed") {
        return Status::Permanent(m + " (check the region= setting)");
      }
      if (e.code == "InvalidArgument" || e.code == "KeyTooLongError" ||
          e.code == "InvalidObjectName") {
        return Status::InvalidArgument(m);
      }
      return Status::Permanent(m);
    case 301:
    case 307: {
      std::string region = header_value(r, "x-amz-bucket-region");
      return Status::Permanent(m + (region.empty() ? std::string(" (wrong region or endpoint)")
                                                   : " (the bucket is in region " + region +
                                                         ": set region=" + region + ")"));
    }
    case 403:
      if (e.code == "InvalidAccessKeyId") {
        return Status::Permanent(m + " (check AWS_ACCESS_KEY_ID)");
      }
      if (e.code == "SignatureDoesNotMatch") {
        return Status::Permanent(m + " (check AWS_SECRET_ACCESS_KEY)");
      }
      if (e.code == "RequestTimeTooSkewed") {
        return Status::Permanent(m + " (this host's clock is off: fix NTP)");
      }
      return Status::Permanent(m);
    case 503:
      if (e.code == "SlowDown") return Status::Throttled(m);
      return Status::Transient(m);
    default:
      if (r.status >= 500) return write ? Status::UnknownOutcome(m) : Status::Transient(m);
      return Status::Permanent(m);
  }
}

}  // namespace

Status S3Store::check_access() {
  Call call;
  call.method = "GET";
  call.path = bucket_path();
  call.query = query_param("list-type", "2") + "&" + query_param("max-keys", "1");
  call.what = "checking access to bucket '" + config_.bucket + "' at " +
              config_.endpoint.to_string();
  auto r = send(call);
  if (!r.ok()) {
    return Status::Permanent(r.status().message() + " (check the endpoint= setting or the network)");
  }
  if (r->status == 200) return Status::OK();
  Status s = error_status(*r, call.what, false);
  if (r->status == 404) {
    return Status::Permanent(call.what + ": the bucket does not exist (create it first)");
  }
  return Status::Permanent(s.message());
}

// Reads the metadata of a response to a GET or HEAD (or PUT).
static ObjectMeta meta_from(const HttpClientResponse& r, std::string_view key, bool gcs) {
  ObjectMeta m;
  m.key = std::string(key);
  if (gcs) {
    m.etag = header_value(r, "x-goog-generation");
  } else {
    m.etag = strip_etag_quotes(header_value(r, "etag"));
  }
  std::string lm = header_value(r, "last-modified");
  if (lm.empty()) lm = header_value(r, "date");
  if (auto ms = parse_http_date_ms(lm)) m.modified_ms = *ms - *ms % 1000;
  std::string len = header_value(r, "content-length");
  if (!len.empty()) m.size = std::strtoull(len.c_str(), nullptr, 10);
  return m;
}

// A 304 to a conditional GET: the object is still the version named by
// `etag` (some servers leave the ETag header out of a 304).
static GetResult not_modified(const HttpClientResponse& r, std::string_view key,
                              const std::string& etag, bool gcs) {
  GetResult out;
  out.meta = meta_from(r, key, gcs);
  if (out.meta.etag.empty()) out.meta.etag = etag;
  out.meta.size = 0;
  out.not_modified = true;
  return out;
}

Result<ObjectMeta> S3Store::head(std::string_view key) {
  ISLE_RETURN_IF_ERROR(check_unicode_key(key, "S3 keys"));
  Call call;
  call.method = "HEAD";
  call.path = object_path(key);
  call.head = true;
  call.what = "HEAD " + std::string(key);
  ISLE_ASSIGN_OR_RETURN(auto r, send(call));
  if (r.status != 200) {
    if (r.status == 404) return Status::NotFound(call.what + ": no such object");
    return error_status(r, call.what, false);
  }
  return meta_from(r, key, config_.dialect == S3Dialect::kGcs);
}

Result<GetResult> S3Store::get(std::string_view key, const GetOptions& options) {
  ISLE_RETURN_IF_ERROR(check_unicode_key(key, "S3 keys"));
  if (options.range) return get_range(key, options);
  return get_whole(key, options);
}

Result<GetResult> S3Store::get_range(std::string_view key, const GetOptions& options) {
  const ByteRange& br = *options.range;
  // HTTP cannot ask for zero bytes: answer from the metadata.
  if (br.length == 0) {
    ISLE_ASSIGN_OR_RETURN(ObjectMeta m, head(key));
    ISLE_ASSIGN_OR_RETURN(ResolvedRange rr, resolve_range(br, m.size));
    GetResult out;
    out.meta = std::move(m);
    out.offset = rr.offset;
    return out;
  }
  std::string range;
  if (br.suffix) {
    range = "bytes=-" + std::to_string(br.length);
  } else {
    uint64_t last = br.length > UINT64_MAX - br.offset ? UINT64_MAX - 1 : br.offset + br.length - 1;
    range = "bytes=" + std::to_string(br.offset) + "-" + std::to_string(last);
  }
  Call call;
  call.method = "GET";
  call.path = object_path(key);
  call.headers.emplace_back("range", range);
  if (!options.if_none_match.empty()) {
    call.headers.emplace_back("if-none-match", "\"" + options.if_none_match + "\"");
  }
  call.what = "GET " + std::string(key) + " " + range;
  ISLE_ASSIGN_OR_RETURN(auto r, send(call));
  const bool gcs = config_.dialect == S3Dialect::kGcs;
  GetResult out;
  if (r.status == 206) {
    uint64_t first = 0, total = 0;
    if (!parse_content_range(header_value(r, "content-range"), &first, &total) ||
        r.body.size() > total - first) {
      return Status::Corruption(call.what + ": malformed Content-Range '" +
                                header_value(r, "content-range") + "'");
    }
    out.meta = meta_from(r, key, gcs);
    out.meta.size = total;
    out.offset = first;
    out.data = std::move(r.body);
    return out;
  }
  if (r.status == 200) {  // the server ignored the range: cut it here
    out.meta = meta_from(r, key, gcs);
    out.meta.size = r.body.size();
    ISLE_ASSIGN_OR_RETURN(ResolvedRange rr, resolve_range(br, out.meta.size));
    out.offset = rr.offset;
    out.data = r.body.substr(rr.offset, rr.length);
    return out;
  }
  if (r.status == 304) return not_modified(r, key, options.if_none_match, gcs);
  if (r.status == 416) {  // past the end, or an empty object: decide from the size
    ISLE_ASSIGN_OR_RETURN(ObjectMeta m, head(key));
    ISLE_ASSIGN_OR_RETURN(ResolvedRange rr, resolve_range(br, m.size));
    out.meta = std::move(m);
    out.offset = rr.offset;
    return out;
  }
  if (r.status == 404) return Status::NotFound(call.what + ": no such object");
  return error_status(r, call.what, false);
}

Result<GetResult> S3Store::get_whole(std::string_view key, const GetOptions& options) {
  const bool gcs = config_.dialect == S3Dialect::kGcs;
  // One plain GET. A body larger than part_size is not read on that
  // connection: its headers give the size and version, and the parts are
  // then read in parallel, pinned to that version. If the object is
  // overwritten meanwhile, start over.
  for (int round = 0; round < 3; round++) {
    Call call;
    call.method = "GET";
    call.path = object_path(key);
    call.max_body = config_.part_size;
    if (!options.if_none_match.empty()) {
      call.headers.emplace_back("if-none-match", "\"" + options.if_none_match + "\"");
    }
    call.what = "GET " + std::string(key);
    ISLE_ASSIGN_OR_RETURN(auto r, send(call));
    if (r.status == 304) return not_modified(r, key, options.if_none_match, gcs);
    if (r.status == 404) return Status::NotFound(call.what + ": no such object");
    if (r.status != 200) return error_status(r, call.what, false);
    GetResult out;
    out.meta = meta_from(r, key, gcs);
    if (!r.body_skipped) {
      out.meta.size = r.body.size();
      out.data = std::move(r.body);
      return out;
    }
    if (out.meta.etag.empty() || out.meta.size <= config_.part_size) {
      return Status::Corruption(call.what + ": a large response without a usable ETag or length");
    }
    ISLE_ASSIGN_OR_RETURN(bool complete, read_parts(key, &out));
    if (complete) return out;
  }
  return Status::Transient("GET " + std::string(key) + ": the object kept changing while read");
}

Result<bool> S3Store::read_parts(std::string_view key, GetResult* out) {
  // Parts of part_size, in parallel, each pinned (If-Match) to the version
  // whose size and ETag are in out->meta, so a concurrent overwrite cannot
  // mix two versions.
  const bool gcs = config_.dialect == S3Dialect::kGcs;
  const uint64_t total = out->meta.size;
  const uint64_t part = std::max<uint64_t>(config_.part_size, 1);
  out->data.assign(total, '\0');
  std::vector<uint64_t> starts;
  for (uint64_t s = 0; s < total; s += part) starts.push_back(s);
  std::vector<Status> results(starts.size());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < starts.size(); i = next++) {
      const uint64_t s = starts[i];
      const uint64_t len = std::min(part, total - s);
      Call pc;
      pc.method = "GET";
      pc.path = object_path(key);
      pc.headers.emplace_back("range",
                              "bytes=" + std::to_string(s) + "-" + std::to_string(s + len - 1));
      if (gcs) {
        pc.headers.emplace_back("x-goog-if-generation-match", out->meta.etag);
      } else {
        pc.headers.emplace_back("if-match", config_.etag_quotes ? "\"" + out->meta.etag + "\""
                                                                : out->meta.etag);
      }
      pc.what = "GET " + std::string(key) + " part at " + std::to_string(s);
      auto pr = send(pc);
      if (!pr.ok()) {
        results[i] = pr.status();
      } else if (pr->status == 412) {
        results[i] = Status::Aborted("changed while read");
      } else if (pr->status != 206) {
        results[i] = error_status(*pr, pc.what, false);
      } else if (pr->body.size() != len) {
        results[i] = Status::Corruption(pc.what + ": short part");
      } else {
        std::memcpy(out->data.data() + s, pr->body.data(), len);
      }
    }
  };
  const int n = std::min<int>(std::clamp(config_.get_parallelism, 1, 64),
                              static_cast<int>(starts.size()));
  std::vector<std::thread> threads;
  for (int t = 1; t < n; t++) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  bool changed = false;
  for (const Status& st : results) {
    if (st.code() == Code::kAborted) {
      changed = true;
    } else if (!st.ok()) {
      return st;
    }
  }
  return !changed;
}

Result<ObjectMeta> S3Store::put(std::string_view key, std::string_view data,
                                const PutOptions& options) {
  ISLE_RETURN_IF_ERROR(check_unicode_key(key, "S3 keys"));
  const bool gcs = config_.dialect == S3Dialect::kGcs;
  Call call;
  call.method = "PUT";
  call.path = object_path(key);
  call.body = data;
  call.what = "PUT " + std::string(key);
  switch (options.mode) {
    case PutMode::kOverwrite:
      break;
    case PutMode::kCreateOnly:
      if (gcs) {
        call.headers.emplace_back("x-goog-if-generation-match", "0");
      } else {
        call.headers.emplace_back("if-none-match", "*");
      }
      break;
    case PutMode::kIfMatch:
      if (options.if_match.empty()) {
        return Status::InvalidArgument(call.what + ": an if-match put needs an etag");
      }
      // A token that is not shaped like this store's ETags cannot be the
      // current one, and must not reach the server: Ceph RGW compares only
      // the first 32 characters, so "<etag>x" would match "<etag>".
      if (gcs ? options.if_match.find_first_not_of("0123456789") != std::string::npos
              : !is_s3_etag(options.if_match)) {
        return Status::PreconditionFailed(call.what + ": '" + options.if_match +
                                          "' is not an ETag of this store");
      }
      if (gcs) {
        call.headers.emplace_back("x-goog-if-generation-match", options.if_match);
      } else {
        call.headers.emplace_back("if-match", config_.etag_quotes ? "\"" + options.if_match + "\""
                                                                  : options.if_match);
      }
      break;
  }
  // A conditional write carries a random id as object metadata: if the
  // answer is a 5xx, reading it back tells whether this write landed.
  const bool conditional = options.mode != PutMode::kOverwrite;
  std::string write_id;
  if (conditional) {
    write_id = random_token();
    call.headers.emplace_back(gcs ? "x-goog-meta-isle-write" : "x-amz-meta-isle-write", write_id);
  }
  auto r = send(call);
  if (!r.ok()) return r.status();  // Transient, or UnknownOutcome for the caller to resolve
  if (r->status == 200 || r->status == 201) {
    ObjectMeta m = meta_from(*r, key, gcs);
    m.size = data.size();
    if (m.etag.empty()) {
      return Status::UnknownOutcome(call.what + ": the response carried no ETag");
    }
    return m;
  }
  Status s = error_status(*r, call.what, true);
  // Some servers answer a conditional PUT that lost a race with a 5xx and
  // write nothing (RGW: 500 after ECANCELED). Read back and decide.
  if (conditional && r->status >= 500 && s.code() != Code::kThrottled) {
    return resolve_conditional_put(key, options, write_id, s);
  }
  if (gcs && options.mode == PutMode::kIfMatch && r->status == 404) {
    return Status::PreconditionFailed(call.what + ": no such object");
  }
  return s;
}

// Timeline this resolves (RGW, two writers W1 and W2 with etag E):
//   W1: PUT If-Match E, write id w1 ──▶ 200, etag F
//   W2: PUT If-Match E, write id w2 ──▶ 500 (ECANCELED), nothing written
//   W2: HEAD ──▶ etag F, write id w1   ⇒ PreconditionFailed
// If W2's HEAD still shows E, nothing happened at all: Transient, and a
// retry re-evaluates the condition on the server. If it shows w2, W2's
// write landed after all: success.
Result<ObjectMeta> S3Store::resolve_conditional_put(std::string_view key,
                                                    const PutOptions& options,
                                                    const std::string& write_id,
                                                    const Status& why) {
  const bool gcs = config_.dialect == S3Dialect::kGcs;
  Call call;
  call.method = "HEAD";
  call.path = object_path(key);
  call.head = true;
  call.what = "HEAD " + std::string(key);
  auto r = send(call);
  if (r.ok() && r->status == 404) {
    if (options.mode == PutMode::kCreateOnly) {
      return Status::Transient(why.message() + "; nothing was written");
    }
    return Status::PreconditionFailed(why.message() + "; the object no longer exists");
  }
  if (!r.ok() || r->status != 200) {
    return Status::UnknownOutcome(why.message() + "; reading back failed: " +
                                  (r.ok() ? error_status(*r, call.what, false)
                                          : r.status()).message());
  }
  return decide_after_read_back(
      meta_from(*r, key, gcs),
      header_value(*r, gcs ? "x-goog-meta-isle-write" : "x-amz-meta-isle-write"), write_id, options,
      why);
}

Status S3Store::remove(std::string_view key) {
  ISLE_RETURN_IF_ERROR(check_unicode_key(key, "S3 keys"));
  Call call;
  call.method = "DELETE";
  call.path = object_path(key);
  call.what = "DELETE " + std::string(key);
  ISLE_ASSIGN_OR_RETURN(auto r, send(call));
  if (r.status == 204 || r.status == 200) return Status::OK();
  Status s = error_status(r, call.what, true);
  if (s.is_not_found()) return Status::OK();  // GCS answers 404 for an absent object
  return s;
}

Result<std::vector<DeleteOutcome>> S3Store::remove_batch(const std::vector<std::string>& keys) {
  std::vector<DeleteOutcome> failed;
  std::vector<std::string> chunk;
  auto flush = [&]() -> Status {
    if (chunk.empty()) return Status::OK();
    Status s = delete_chunk(chunk, &failed);
    chunk.clear();
    return s;
  };
  for (const auto& k : keys) {
    Status valid = check_unicode_key(k, "S3 keys");
    if (!valid.ok()) {
      failed.push_back({k, valid});
      continue;
    }
    chunk.push_back(k);
    if (chunk.size() == kMaxListKeys) ISLE_RETURN_IF_ERROR(flush());
  }
  ISLE_RETURN_IF_ERROR(flush());
  return failed;
}

Status S3Store::delete_chunk(const std::vector<std::string>& keys,
                             std::vector<DeleteOutcome>* failed) {
  auto body = config_.dialect == S3Dialect::kS3 ? build_s3_delete_body(keys)
                                                : Result<std::string>(Status::NotSupported(""));
  if (!body.ok()) {
    // GCS has no batch delete in its XML API, and XML cannot carry some
    // key bytes: delete one by one.
    for (const auto& k : keys) {
      Status s = remove(k);
      if (!s.ok()) failed->push_back({k, s});
    }
    return Status::OK();
  }
  Call call;
  call.method = "POST";
  call.path = bucket_path();
  call.query = "delete=";
  call.body = *body;
  call.headers.emplace_back("content-md5", base64_encode(md5_raw(*body)));
  call.headers.emplace_back("content-type", "application/xml");
  call.what = "DeleteObjects (" + std::to_string(keys.size()) + " keys)";
  ISLE_ASSIGN_OR_RETURN(auto r, send(call));
  if (r.status != 200) return error_status(r, call.what, true);
  ISLE_ASSIGN_OR_RETURN(auto errors, parse_s3_delete_result(r.body));
  for (auto& e : errors) failed->push_back(std::move(e));
  return Status::OK();
}

Result<ListPage> S3Store::list(const ListOptions& options) {
  const size_t want = clamp_max_keys(options.max_keys);
  // S3 takes only valid UTF-8: list from the longest valid prefix of the
  // prefix / start_after and filter here.
  const std::string_view prefix = options.prefix;
  const std::string_view start_after = options.start_after;
  const std::string_view server_prefix = prefix.substr(0, valid_utf8_prefix(prefix));
  const std::string_view server_start = start_after.substr(0, valid_utf8_prefix(start_after));
  const bool filter = server_prefix.size() != prefix.size() ||
                      server_start.size() != start_after.size();
  ListPage page;
  std::string token;
  bool more = true;
  while (more && page.objects.size() < want) {
    Call call;
    call.method = "GET";
    call.path = bucket_path();
    std::vector<std::string> q;
    if (!token.empty()) q.push_back(query_param("continuation-token", token));
    q.push_back(query_param("encoding-type", "url"));
    q.push_back(query_param("list-type", "2"));
    q.push_back(query_param("max-keys", std::to_string(filter ? kMaxListKeys
                                                              : want - page.objects.size())));
    if (!server_prefix.empty()) q.push_back(query_param("prefix", server_prefix));
    if (!server_start.empty() && token.empty()) {
      q.push_back(query_param("start-after", server_start));
    }
    for (const auto& p : q) call.query += (call.query.empty() ? "" : "&") + p;
    call.what = "LIST prefix '" + std::string(prefix) + "'";
    ISLE_ASSIGN_OR_RETURN(auto r, send(call));
    if (r.status != 200) return error_status(r, call.what, false);
    ISLE_ASSIGN_OR_RETURN(S3ListPage sp,
                          parse_s3_list_v2(r.body, config_.dialect == S3Dialect::kGcs));
    more = sp.truncated;
    token = sp.next_continuation_token;
    if (more && token.empty()) {
      return Status::Corruption(call.what + ": truncated listing without a continuation token");
    }
    size_t i = 0;
    for (; i < sp.objects.size() && page.objects.size() < want; i++) {
      ObjectMeta& m = sp.objects[i];
      if (filter) {
        if (!m.key.starts_with(prefix)) {
          // Past every key that can match: stop.
          if (m.key > prefix) {
            more = false;
            i = sp.objects.size();
            break;
          }
          continue;
        }
        if (m.key <= start_after) continue;
      }
      m.modified_ms -= m.modified_ms % 1000;
      page.objects.push_back(std::move(m));
    }
    if (i < sp.objects.size()) more = true;  // stopped inside this page
  }
  if (more && !page.objects.empty()) page.next_start_after = page.objects.back().key;
  return page;
}

Status S3Store::create_bucket() {
  Call call;
  call.method = "PUT";
  call.path = bucket_path();
  std::string body;
  if (config_.dialect == S3Dialect::kS3 && config_.region != "us-east-1") {
    body = "<CreateBucketConfiguration><LocationConstraint>" + config_.region +
           "</LocationConstraint></CreateBucketConfiguration>";
  }
  call.body = body;
  call.what = "creating bucket '" + config_.bucket + "'";
  ISLE_ASSIGN_OR_RETURN(auto r, send(call));
  if (r.status == 200) return Status::OK();
  if (r.status == 409 && parse_cloud_error(r.body).code == "BucketAlreadyOwnedByYou") {
    return Status::OK();
  }
  return error_status(r, call.what, true);
}

Status S3Store::delete_bucket() {
  Call call;
  call.method = "DELETE";
  call.path = bucket_path();
  call.what = "deleting bucket '" + config_.bucket + "'";
  ISLE_ASSIGN_OR_RETURN(auto r, send(call));
  if (r.status == 204 || r.status == 200) return Status::OK();
  return error_status(r, call.what, true);
}

Result<S3Config> s3_config_from_url(std::string_view url, const EnvLookup& env) {
  std::vector<std::string> known = common_cloud_params();
  for (const char* k : {"region", "endpoint", "path_style", "etag_quotes", "part_size",
                        "get_parallelism"}) {
    known.emplace_back(k);
  }
  ISLE_ASSIGN_OR_RETURN(CloudUrl u, parse_cloud_url(url, known));
  S3Config c;
  c.url = std::string(url);
  c.dialect = u.scheme == "gs" ? S3Dialect::kGcs : S3Dialect::kS3;
  const bool gcs = c.dialect == S3Dialect::kGcs;
  c.bucket = u.name;
  for (char ch : c.bucket) {
    auto uc = static_cast<unsigned char>(ch);
    if (!std::islower(uc) && !std::isdigit(uc) && ch != '-' && ch != '.' && ch != '_') {
      return Status::InvalidArgument("bucket name '" + c.bucket +
                                     "': only lower-case letters, digits, '-', '.' and '_'");
    }
  }
  ISLE_ASSIGN_OR_RETURN(CommonCloudSettings common, parse_common_cloud_params(u));
  c.http = common.http;
  c.check = common.check;
  if (auto v = u.get("region")) {
    c.region = *v;
  } else if (auto e = env("AWS_REGION"); e && !gcs) {
    c.region = *e;
  } else if (auto e2 = env("AWS_DEFAULT_REGION"); e2 && !gcs) {
    c.region = *e2;
  }
  std::string endpoint;
  bool explicit_endpoint = true;
  if (auto v = u.get("endpoint")) {
    endpoint = *v;
  } else if (auto e = env("AWS_ENDPOINT_URL"); e && !gcs) {
    endpoint = *e;
  } else {
    explicit_endpoint = false;
    endpoint = gcs ? "https://storage.googleapis.com"
                   : "https://s3." + c.region + ".amazonaws.com";
  }
  std::string ep_path;
  ISLE_ASSIGN_OR_RETURN(c.endpoint, parse_http_endpoint(endpoint, &ep_path));
  if (!ep_path.empty()) {
    return Status::InvalidArgument("endpoint '" + endpoint + "' must not have a path");
  }
  c.path_style = explicit_endpoint || c.bucket.find('.') != std::string::npos;
  if (auto v = u.get("path_style")) {
    ISLE_ASSIGN_OR_RETURN(c.path_style, parse_bool_param(*v, "path_style"));
  }
  if (auto v = u.get("etag_quotes")) {
    ISLE_ASSIGN_OR_RETURN(c.etag_quotes, parse_bool_param(*v, "etag_quotes"));
  }
  if (auto v = u.get("part_size")) {
    char* end = nullptr;
    unsigned long long n = std::strtoull(v->c_str(), &end, 10);
    if (v->empty() || *end != '\0' || n < (64 << 10) || n > (1ULL << 32)) {
      return Status::InvalidArgument("part_size=" + *v + ": expected bytes in 65536..4294967296");
    }
    c.part_size = n;
  }
  if (auto v = u.get("get_parallelism")) {
    char* end = nullptr;
    long n = std::strtol(v->c_str(), &end, 10);
    if (v->empty() || *end != '\0' || n < 1 || n > 64) {
      return Status::InvalidArgument("get_parallelism=" + *v + ": expected 1..64");
    }
    c.get_parallelism = static_cast<int>(n);
  }
  const char* key_var = gcs ? "GCS_HMAC_ACCESS_ID" : "AWS_ACCESS_KEY_ID";
  const char* secret_var = gcs ? "GCS_HMAC_SECRET" : "AWS_SECRET_ACCESS_KEY";
  auto ak = env(key_var);
  auto sk = env(secret_var);
  if (!ak || !sk) {
    return Status::InvalidArgument(std::string("no credentials for ") + u.scheme +
                                   "://: set " + key_var + " and " + secret_var);
  }
  c.access_key = *ak;
  c.secret_key = *sk;
  if (!gcs) {
    if (auto t = env("AWS_SESSION_TOKEN")) c.session_token = *t;
  }
  return c;
}

}  // namespace isle
