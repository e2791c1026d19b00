// AzureStore; see azure_store.h for the URL, the credentials and how the
// contract maps onto Azure Blob Storage.
#include "cloud/azure_store.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "cloud/cloud_common.h"
#include "cloud/cloud_xml.h"
#include "cloud/sigv4.h"
#include "store/store_common.h"
#include "util/random.h"
#include "util/utf8.h"

namespace isle {

namespace {

// A fixed service version: the request semantics never change under us.
constexpr const char* kApiVersion = "2024-11-04";
// Blob metadata carrying a conditional put's write id (see the header).
constexpr const char* kWriteIdHeader = "x-ms-meta-islewrite";
// Markers remembered for list continuations.
constexpr size_t kMaxMarkers = 256;
// Parallel deletes in remove_batch.
constexpr int kDeleteThreads = 8;


// A token that can be sent quoted in an If-Match / If-None-Match header.
bool quotable(std::string_view token) {
  return std::none_of(token.begin(), token.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return c == '"' || u < 0x20 || u == 0x7f;
  });
}







// The service's error code: from the body, or (HEAD has no body) from the
// x-ms-error-code header.
CloudError azure_error(const HttpClientResponse& r) {
  CloudError e = parse_cloud_error(r.body);
  if (e.code.empty()) e.code = header_value(r, "x-ms-error-code");
  if (auto nl = e.message.find('\n'); nl != std::string::npos) {
    e.message.resize(nl);  // drop Azure's "RequestId:..\nTime:.." tail
  }
  return e;
}

// The Status for an unsuccessful response. `write` marks requests whose
// 5xx may have been applied (UnknownOutcome) rather than surely not.
// `auth_hint` says which credentials to check on a 403.
Status error_status(const HttpClientResponse& r, const std::string& what, bool write,
                    const std::string& auth_hint) {
  CloudError e = azure_error(r);
  std::string detail = "HTTP " + std::to_string(r.status);
  if (!e.code.empty()) detail += " " + e.code;
  if (!e.message.empty()) detail += ": " + e.message;
  const std::string m = what + ": " + detail;
  if (e.code == "ServerBusy") return Status::Throttled(m);
  switch (r.status) {
    case 404:
      if (e.code == "ContainerNotFound") {
        return Status::Permanent(m + " (the container does not exist)");
      }
      if (e.code == "AccountNotFound" || e.code == "ResourceNotFound") {
        return Status::Permanent(m + " (check AZURE_STORAGE_ACCOUNT and the endpoint= setting)");
      }
      return Status::NotFound(m);
    case 412:
      return Status::PreconditionFailed(m);
    case 409:
      if (e.code == "BlobAlreadyExists") return Status::PreconditionFailed(m);
      return Status::Permanent(m);
    case 429:
      return Status::Throttled(m);
    case 400:
      if (e.code == "InvalidUri" || e.code == "InvalidResourceName" ||
          e.code == "OutOfRangeInput" || e.code == "InvalidQueryParameterValue") {
        return Status::InvalidArgument(m);
      }
      return Status::Permanent(m);
    case 413:
      return Status::InvalidArgument(m);
    case 403:
      if (e.code == "AuthenticationFailed" || e.code == "AuthorizationFailure" ||
          e.code == "InvalidAuthenticationInfo" || e.code.empty()) {
        return Status::Permanent(m + " (" + auth_hint + ")");
      }
      return Status::Permanent(m);
    case 503:
      return Status::Transient(m);
    default:
      if (r.status >= 500) return write ? Status::UnknownOutcome(m) : Status::Transient(m);
      return Status::Permanent(m);
  }
}

// Reads the metadata of a response to a GET, HEAD or PUT.
ObjectMeta meta_from(const HttpClientResponse& r, std::string_view key) {
  ObjectMeta m;
  m.key = std::string(key);
  m.etag = strip_etag_quotes(header_value(r, "etag"));
  std::string lm = header_value(r, "last-modified");
  if (lm.empty()) lm = header_value(r, "date");
  if (auto ms = parse_http_date_ms(lm)) m.modified_ms = *ms - *ms % 1000;
  std::string len = header_value(r, "content-length");
  if (!len.empty()) m.size = std::strtoull(len.c_str(), nullptr, 10);
  return m;
}

// A 304 to a GET with If-None-Match. Azure's (and Azurite's) carries no
// ETag or Last-Modified: the ETag is the one asked about, by definition;
// size and modified_ms are 0 unless the response has them.
GetResult not_modified(const HttpClientResponse& r, std::string_view key,
                       const std::string& if_none_match) {
  GetResult out;
  out.meta = meta_from(r, key);
  if (out.meta.etag.empty()) out.meta.etag = if_none_match;
  if (r.header("last-modified") == nullptr) out.meta.modified_ms = 0;  // not the Date
  out.not_modified = true;
  return out;
}

}  // namespace

// One request before authorization.
struct AzureStore::Call {
  std::string method;
  std::string path;   // encoded
  std::string query;  // encoded, without '?'
  HttpHeaders headers;
  std::string_view body;
  bool head = false;
  std::string what;  // "GET key" for messages
};

AzureStore::AzureStore(AzureConfig config, std::unique_ptr<HttpClient> http,
                       std::optional<AzureSharedKey> signer)
    : config_(std::move(config)), http_(std::move(http)), signer_(std::move(signer)) {}

Result<std::shared_ptr<AzureStore>> AzureStore::open(AzureConfig config) {
  std::optional<AzureSharedKey> signer;
  if (!config.account_key.empty()) {
    ISLE_ASSIGN_OR_RETURN(AzureSharedKey k, AzureSharedKey::create(config.account,
                                                                   config.account_key));
    signer.emplace(std::move(k));
  } else if (config.sas_token.empty()) {
    return Status::InvalidArgument(
        "azblob://: no credentials (set AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN)");
  }
  ISLE_ASSIGN_OR_RETURN(auto http, HttpClient::create(config.endpoint, config.http));
  std::shared_ptr<AzureStore> store(
      new AzureStore(std::move(config), std::move(http), std::move(signer)));
  if (store->config_.check) ISLE_RETURN_IF_ERROR(store->check_access());
  return store;
}

std::string AzureStore::container_path() const {
  return config_.path_prefix + "/" + config_.container;
}

std::string AzureStore::blob_path(std::string_view key) const {
  return container_path() + "/" + sigv4_uri_encode(key, false);
}

Result<HttpClientResponse> AzureStore::send(Call& call) {
  call.headers.emplace_back("x-ms-date", http_date(unix_now_seconds()));
  call.headers.emplace_back("x-ms-version", kApiVersion);
  // Signed as given ("0" as empty); the client sets the real one itself.
  call.headers.emplace_back("content-length", std::to_string(call.body.size()));
  std::string query = call.query;
  if (signer_) {
    AzureRequest ar;
    ar.method = call.method;
    ar.path = call.path;
    ar.query = call.query;
    ar.headers = &call.headers;
    call.headers.emplace_back("authorization", signer_->authorization(ar));
  } else {
    query += (query.empty() ? "" : "&") + config_.sas_token;
  }
  const std::string target = query.empty() ? call.path : call.path + "?" + query;
  HttpClientRequest req;
  req.method = call.method;
  req.target = target;
  req.headers = &call.headers;
  req.body = call.body;
  req.head = call.head;
  auto r = http_->send(req);
  if (!r.ok()) return r.status().with_context(call.what);
  return r;
}

namespace {

std::string auth_hint(bool sas) {
  return sas ? "check AZURE_STORAGE_SAS_TOKEN: its signature, expiry and permissions"
             : "check AZURE_STORAGE_KEY and AZURE_STORAGE_ACCOUNT";
}

}  // namespace

Status AzureStore::check_access() {
  Call call;
  call.method = "GET";
  call.path = container_path();
  call.query = "comp=list&maxresults=1&restype=container";
  call.what = "checking access to container '" + config_.container + "' of account '" +
              config_.account + "' at " + config_.endpoint.to_string();
  auto r = send(call);
  if (!r.ok()) {
    return Status::Permanent(r.status().message() +
                             " (check the endpoint= setting, AZURE_STORAGE_ACCOUNT or the network)");
  }
  if (r->status == 200) return Status::OK();
  const CloudError e = azure_error(*r);
  const std::string detail =
      "HTTP " + std::to_string(r->status) + (e.code.empty() ? "" : " " + e.code);
  if (r->status == 403) {
    return Status::Permanent(call.what + ": " + detail + ": access refused (" +
                             auth_hint(!signer_) + ")");
  }
  if (r->status == 404 && e.code == "ContainerNotFound") {
    return Status::Permanent(call.what + ": " + detail + ": the container '" + config_.container +
                             "' does not exist (create it first)");
  }
  if (r->status == 404) {
    return Status::Permanent(call.what + ": " + detail +
                             ": no such account (check AZURE_STORAGE_ACCOUNT and the endpoint= "
                             "setting)");
  }
  return Status::Permanent(error_status(*r, call.what, false, auth_hint(!signer_)).message());
}

Result<ObjectMeta> AzureStore::head(std::string_view key) {
  ISLE_RETURN_IF_ERROR(check_unicode_key(key, "Azure blob names"));
  Call call;
  call.method = "HEAD";
  call.path = blob_path(key);
  call.head = true;
  call.what = "HEAD " + std::string(key);
  ISLE_ASSIGN_OR_RETURN(auto r, send(call));
  if (r.status == 200) return meta_from(r, key);
  Status s = error_status(r, call.what, false, auth_hint(!signer_));
  if (s.is_not_found()) return Status::NotFound(call.what + ": no such object");
  return s;
}

Result<GetResult> AzureStore::get(std::string_view key, const GetOptions& options) {
  ISLE_RETURN_IF_ERROR(check_unicode_key(key, "Azure blob names"));
  if (options.range) return get_range(key, options);
  Call call;
  call.method = "GET";
  call.path = blob_path(key);
  if (!options.if_none_match.empty() && quotable(options.if_none_match)) {
    call.headers.emplace_back("if-none-match", "\"" + options.if_none_match + "\"");
  }
  call.what = "GET " + std::string(key);
  ISLE_ASSIGN_OR_RETURN(auto r, send(call));
  GetResult out;
  if (r.status == 200) {
    out.meta = meta_from(r, key);
    out.meta.size = r.body.size();
    out.data = std::move(r.body);
    return out;
  }
  if (r.status == 304) return not_modified(r, key, options.if_none_match);
  Status s = error_status(r, call.what, false, auth_hint(!signer_));
  if (s.is_not_found()) return Status::NotFound(call.what + ": no such object");
  return s;
}

Result<GetResult> AzureStore::get_range(std::string_view key, const GetOptions& options) {
  const ByteRange& br = *options.range;
  // No suffix ranges in Azure, and HTTP cannot ask for zero bytes.
  if (br.suffix || br.length == 0) return get_suffix(key, options);
  const uint64_t last =
      br.length > UINT64_MAX - br.offset ? UINT64_MAX - 1 : br.offset + br.length - 1;
  const std::string range = "bytes=" + std::to_string(br.offset) + "-" + std::to_string(last);
  Call call;
  call.method = "GET";
  call.path = blob_path(key);
  call.headers.emplace_back("x-ms-range", range);
  if (!options.if_none_match.empty() && quotable(options.if_none_match)) {
    call.headers.emplace_back("if-none-match", "\"" + options.if_none_match + "\"");
  }
  call.what = "GET " + std::string(key) + " " + range;
  ISLE_ASSIGN_OR_RETURN(auto r, send(call));
  GetResult out;
  if (r.status == 206) {
    uint64_t first = 0, total = 0;
    if (!parse_content_range(header_value(r, "content-range"), &first, &total) ||
        r.body.size() > total - first) {
      return Status::Corruption(call.what + ": malformed Content-Range '" +
                                header_value(r, "content-range") + "'");
    }
    out.meta = meta_from(r, key);
    out.meta.size = total;
    out.offset = first;
    out.data = std::move(r.body);
    return out;
  }
  if (r.status == 200) {  // the server ignored the range: cut it here
    out.meta = meta_from(r, key);
    out.meta.size = r.body.size();
    ISLE_ASSIGN_OR_RETURN(ResolvedRange rr, resolve_range(br, out.meta.size));
    out.offset = rr.offset;
    out.data = r.body.substr(rr.offset, rr.length);
    return out;
  }
  if (r.status == 304) return not_modified(r, key, options.if_none_match);
  if (r.status == 416) {  // at or past the end, or an empty blob: decide from the size
    GetOptions whole = options;
    whole.range = ByteRange::at(br.offset, 0);
    return get_suffix(key, whole);
  }
  Status s = error_status(r, call.what, false, auth_hint(!signer_));
  if (s.is_not_found()) return Status::NotFound(call.what + ": no such object");
  return s;
}

// Suffix and zero-length ranges: the size first (Get Blob Properties), then
// an absolute range pinned to that version with If-Match. Also answers a
// 416 (offset at or past the end) from the size.
Result<GetResult> AzureStore::get_suffix(std::string_view key, const GetOptions& options) {
  const ByteRange& br = *options.range;
  for (int round = 0; round < 3; round++) {
    ISLE_ASSIGN_OR_RETURN(ObjectMeta m, head(key));
    GetResult out;
    if (!options.if_none_match.empty() && options.if_none_match == m.etag) {
      out.meta = std::move(m);
      out.not_modified = true;
      return out;
    }
    ISLE_ASSIGN_OR_RETURN(ResolvedRange rr, resolve_range(br, m.size));
    out.offset = rr.offset;
    if (rr.length == 0) {
      out.meta = std::move(m);
      return out;
    }
    const std::string range = "bytes=" + std::to_string(rr.offset) + "-" +
                              std::to_string(rr.offset + rr.length - 1);
    Call call;
    call.method = "GET";
    call.path = blob_path(key);
    call.headers.emplace_back("x-ms-range", range);
    call.headers.emplace_back("if-match", "\"" + m.etag + "\"");
    call.what = "GET " + std::string(key) + " " + range;
    ISLE_ASSIGN_OR_RETURN(auto r, send(call));
    if (r.status == 412 || r.status == 416) continue;  // changed since the HEAD
    if (r.status == 206 || r.status == 200) {
      out.meta = meta_from(r, key);
      out.meta.size = m.size;
      out.data = r.status == 200 ? r.body.substr(rr.offset, rr.length) : std::move(r.body);
      if (out.data.size() != rr.length) {
        return Status::Corruption(call.what + ": got " + std::to_string(out.data.size()) +
                                  " bytes");
      }
      return out;
    }
    Status s = error_status(r, call.what, false, auth_hint(!signer_));
    if (s.is_not_found()) return Status::NotFound(call.what + ": no such object");
    return s;
  }
  return Status::Transient("GET " + std::string(key) + ": the object kept changing while read");
}

Result<ObjectMeta> AzureStore::put(std::string_view key, std::string_view data,
                                   const PutOptions& options) {
  ISLE_RETURN_IF_ERROR(check_unicode_key(key, "Azure blob names"));
  Call call;
  call.method = "PUT";
  call.path = blob_path(key);
  call.body = data;
  call.what = "PUT " + std::string(key);
  call.headers.emplace_back("x-ms-blob-type", "BlockBlob");
  switch (options.mode) {
    case PutMode::kOverwrite:
      break;
    case PutMode::kCreateOnly:
      call.headers.emplace_back("if-none-match", "*");
      break;
    case PutMode::kIfMatch:
      if (options.if_match.empty()) {
        return Status::InvalidArgument(call.what + ": an if-match put needs an etag");
      }
      // Our ETags never contain a quote: such a token cannot be the current one.
      if (!quotable(options.if_match)) {
        return Status::PreconditionFailed(call.what + ": '" + options.if_match +
                                          "' is not an ETag of this store");
      }
      call.headers.emplace_back("if-match", "\"" + options.if_match + "\"");
      break;
  }
  const bool conditional = options.mode != PutMode::kOverwrite;
  std::string write_id;
  if (conditional) {
    write_id = random_token();
    call.headers.emplace_back(kWriteIdHeader, write_id);
  }
  auto r = send(call);
  if (!r.ok()) return r.status();  // Transient, or UnknownOutcome for the caller to resolve
  if (r->status == 201 || r->status == 200) {
    ObjectMeta m = meta_from(*r, key);
    m.size = data.size();
    if (m.etag.empty()) {
      return Status::UnknownOutcome(call.what + ": the response carried no ETag");
    }
    return m;
  }
  Status s = error_status(*r, call.what, true, auth_hint(!signer_));
  if (conditional && r->status >= 500 && s.code() != Code::kThrottled) {
    return resolve_conditional_put(key, options, write_id, s);
  }
  if (options.mode == PutMode::kIfMatch && s.is_not_found()) {
    return Status::PreconditionFailed(call.what + ": no such object");
  }
  return s;
}

// A conditional put answered with a 5xx: did it happen? The blob's write
// id says whether the version there is ours.
Result<ObjectMeta> AzureStore::resolve_conditional_put(std::string_view key,
                                                       const PutOptions& options,
                                                       const std::string& write_id,
                                                       const Status& why) {
  Call call;
  call.method = "HEAD";
  call.path = blob_path(key);
  call.head = true;
  call.what = "HEAD " + std::string(key);
  auto r = send(call);
  if (r.ok() && r->status == 404 && azure_error(*r).code != "ContainerNotFound") {
    if (options.mode == PutMode::kCreateOnly) {
      return Status::Transient(why.message() + "; nothing was written");
    }
    return Status::PreconditionFailed(why.message() + "; the object no longer exists");
  }
  if (!r.ok() || r->status != 200) {
    const std::string reason = r.ok() ? "HTTP " + std::to_string(r->status) : r.status().message();
    return Status::UnknownOutcome(why.message() + "; reading back failed: " + reason);
  }
  return decide_after_read_back(meta_from(*r, key), header_value(*r, kWriteIdHeader), write_id,
                                options, why);
}

Status AzureStore::remove(std::string_view key) {
  ISLE_RETURN_IF_ERROR(check_unicode_key(key, "Azure blob names"));
  Call call;
  call.method = "DELETE";
  call.path = blob_path(key);
  call.what = "DELETE " + std::string(key);
  ISLE_ASSIGN_OR_RETURN(auto r, send(call));
  if (r.status == 202 || r.status == 200 || r.status == 204) return Status::OK();
  Status s = error_status(r, call.what, true, auth_hint(!signer_));
  if (s.is_not_found()) return Status::OK();  // already gone
  return s;
}

Result<std::vector<DeleteOutcome>> AzureStore::remove_batch(const std::vector<std::string>& keys) {
  std::vector<Status> results(keys.size());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < keys.size(); i = next++) results[i] = remove(keys[i]);
  };
  const int n = std::min<int>(kDeleteThreads, static_cast<int>(keys.size()));
  std::vector<std::thread> threads;
  for (int t = 1; t < n; t++) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  std::vector<DeleteOutcome> failed;
  for (size_t i = 0; i < keys.size(); i++) {
    if (!results[i].ok()) failed.push_back({keys[i], std::move(results[i])});
  }
  return failed;
}

Result<AzureListPage> AzureStore::list_blobs(std::string_view prefix, const std::string& marker,
                                             size_t max_results) {
  Call call;
  call.method = "GET";
  call.path = container_path();
  call.query = "comp=list";
  if (!marker.empty()) call.query += "&" + query_param("marker", marker);
  call.query += "&" + query_param("maxresults", std::to_string(max_results));
  if (!prefix.empty()) call.query += "&" + query_param("prefix", prefix);
  call.query += "&restype=container";
  call.what = "LIST prefix '" + std::string(prefix) + "'";
  ISLE_ASSIGN_OR_RETURN(auto r, send(call));
  if (r.status != 200) return error_status(r, call.what, false, auth_hint(!signer_));
  return parse_azure_list(r.body);
}

std::string AzureStore::find_marker(std::string_view prefix, std::string_view key) {
  std::lock_guard<std::mutex> lock(markers_mu_);
  auto it = markers_.find(MarkerKey(prefix, key));
  return it == markers_.end() ? std::string() : it->second;
}

void AzureStore::remember_marker(std::string_view prefix, std::string_view key,
                                 std::string marker) {
  std::lock_guard<std::mutex> lock(markers_mu_);
  MarkerKey k(prefix, key);
  auto [it, inserted] = markers_.insert_or_assign(k, std::move(marker));
  if (!inserted) return;
  marker_order_.push_back(std::move(k));
  while (marker_order_.size() > kMaxMarkers) {
    markers_.erase(marker_order_.front());
    marker_order_.pop_front();
  }
}

void AzureStore::forget_marker(std::string_view prefix, std::string_view key) {
  std::lock_guard<std::mutex> lock(markers_mu_);
  markers_.erase(MarkerKey(prefix, key));  // its place in marker_order_ ages out
}

Result<ListPage> AzureStore::list(const ListOptions& options) {
  const size_t want = clamp_max_keys(options.max_keys);
  // Azure takes only valid UTF-8: list from the longest valid prefix of the
  // prefix and filter here.
  const std::string_view prefix = options.prefix;
  const std::string_view start_after = options.start_after;
  const std::string_view server_prefix = prefix.substr(0, valid_utf8_prefix(prefix));
  const bool filter_prefix = server_prefix.size() != prefix.size();
  // Where to begin: right after start_after when a marker for it is known,
  // else at the prefix, skipping keys <= start_after.
  std::string marker;
  if (!start_after.empty()) marker = find_marker(server_prefix, start_after);
  bool cached = !marker.empty();
  ListPage page;
  bool more = true;
  // When the page fills up inside a server page: that page's marker and the
  // number of its entries up to our last key.
  std::optional<std::pair<std::string, size_t>> stopped_inside;
  while (more && page.objects.size() < want) {
    // Server pages that may hold keys we drop are asked for in bulk;
    // otherwise exactly as many as still fit, so a full page ends at a
    // server page boundary and its NextMarker continues after our last key.
    const bool bulk = filter_prefix || (!start_after.empty() && !cached);
    const size_t ask = bulk ? kMaxListKeys : want - page.objects.size();
    auto sp = list_blobs(server_prefix, marker, ask);
    if (!sp.ok()) {
      const Code c = sp.status().code();
      if (cached && page.objects.empty() &&
          (c == Code::kInvalidArgument || c == Code::kPermanent)) {
        // The server no longer takes the remembered marker: start over.
        forget_marker(server_prefix, start_after);
        marker.clear();
        cached = false;
        continue;
      }
      return sp.status();
    }
    size_t i = 0;
    bool past = false;
    for (; i < sp->objects.size(); i++) {
      if (page.objects.size() == want) break;
      ObjectMeta& m = sp->objects[i];
      if (filter_prefix && !m.key.starts_with(prefix)) {
        if (m.key > prefix) {  // past every key that can match
          past = true;
          break;
        }
        continue;
      }
      if (!start_after.empty() && m.key <= start_after) continue;
      m.modified_ms -= m.modified_ms % 1000;
      page.objects.push_back(std::move(m));
    }
    if (past) {
      more = false;
      break;
    }
    if (i < sp->objects.size()) {
      stopped_inside.emplace(marker, i);
      break;
    }
    marker = std::move(sp->next_marker);
    more = !marker.empty();
  }
  if (page.objects.size() < want || !more) return page;
  const std::string& last = page.objects.back().key;
  page.next_start_after = last;
  if (stopped_inside) {
    // Ask for the server page again, cut after our last key: its
    // NextMarker continues from there. Best effort.
    auto again = list_blobs(server_prefix, stopped_inside->first, stopped_inside->second);
    if (again.ok() && !again->objects.empty() && again->objects.back().key == last &&
        !again->next_marker.empty()) {
      remember_marker(server_prefix, last, std::move(again->next_marker));
    }
  } else {
    remember_marker(server_prefix, last, marker);
  }
  return page;
}

Status AzureStore::create_container() {
  Call call;
  call.method = "PUT";
  call.path = container_path();
  call.query = "restype=container";
  call.what = "creating container '" + config_.container + "'";
  ISLE_ASSIGN_OR_RETURN(auto r, send(call));
  if (r.status == 201 || r.status == 200) return Status::OK();
  if (r.status == 409 && azure_error(r).code == "ContainerAlreadyExists") return Status::OK();
  return error_status(r, call.what, true, auth_hint(!signer_));
}

Status AzureStore::delete_container() {
  Call call;
  call.method = "DELETE";
  call.path = container_path();
  call.query = "restype=container";
  call.what = "deleting container '" + config_.container + "'";
  ISLE_ASSIGN_OR_RETURN(auto r, send(call));
  if (r.status == 202 || r.status == 200) return Status::OK();
  return error_status(r, call.what, true, auth_hint(!signer_));
}

namespace {

// Container names: 3..63 of a-z 0-9 '-', starting and ending with a letter
// or digit, no "--"; or one of the special containers.
Status check_container_name(const std::string& name) {
  if (name == "$root" || name == "$web") return Status::OK();
  const auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  bool ok = name.size() >= 3 && name.size() <= 63 && alnum(name.front()) && alnum(name.back()) &&
            name.find("--") == std::string::npos;
  for (char c : name) ok = ok && (alnum(c) || c == '-');
  if (!ok) {
    return Status::InvalidArgument("container name '" + name +
                                   "': 3 to 63 lower-case letters, digits and single '-', "
                                   "starting and ending with a letter or digit");
  }
  return Status::OK();
}

bool valid_account_name(const std::string& a) {
  return !a.empty() && a.size() <= 63 && std::all_of(a.begin(), a.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  });
}

}  // namespace

Result<AzureConfig> azure_config_from_url(std::string_view url, const EnvLookup& env) {
  std::vector<std::string> known = common_cloud_params();
  known.emplace_back("endpoint");
  ISLE_ASSIGN_OR_RETURN(CloudUrl u, parse_cloud_url(url, known));
  if (u.scheme != "azblob") {
    return Status::InvalidArgument("not an azblob:// URL: '" + std::string(url) + "'");
  }
  AzureConfig c;
  c.url = std::string(url);
  c.container = u.name;
  ISLE_RETURN_IF_ERROR(check_container_name(c.container));
  ISLE_ASSIGN_OR_RETURN(CommonCloudSettings common, parse_common_cloud_params(u));
  c.http = common.http;
  c.check = common.check;

  auto key = env("AZURE_STORAGE_KEY");
  auto sas = env("AZURE_STORAGE_SAS_TOKEN");
  if (!key && !sas) {
    return Status::InvalidArgument(
        "no credentials for azblob://: set AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY (Shared "
        "Key), or AZURE_STORAGE_SAS_TOKEN");
  }
  const std::optional<std::string> env_account = env("AZURE_STORAGE_ACCOUNT");

  if (auto ep = u.get("endpoint")) {
    std::string path;
    ISLE_ASSIGN_OR_RETURN(c.endpoint, parse_http_endpoint(*ep, &path));
    if (!path.empty()) {
      // An emulator-style endpoint: the path is the account.
      std::string_view acct = std::string_view(path).substr(1);
      if (acct.empty() || acct.find('/') != std::string_view::npos) {
        return Status::InvalidArgument("endpoint '" + *ep +
                                       "': the path may only name the account (/ACCOUNT)");
      }
      c.account = std::string(acct);
      c.path_prefix = path;
      if (env_account && *env_account != c.account) {
        return Status::InvalidArgument("endpoint '" + *ep + "' names account '" + c.account +
                                       "' but AZURE_STORAGE_ACCOUNT is '" + *env_account + "'");
      }
    } else if (env_account) {
      c.account = *env_account;
    }
  } else {
    if (!env_account) {
      return Status::InvalidArgument(
          "azblob://: set AZURE_STORAGE_ACCOUNT (or give endpoint=http(s)://HOST/ACCOUNT)");
    }
    c.account = *env_account;
    if (!valid_account_name(c.account)) {
      return Status::InvalidArgument("AZURE_STORAGE_ACCOUNT '" + c.account +
                                     "': only lower-case letters and digits");
    }
    ISLE_ASSIGN_OR_RETURN(c.endpoint,
                          parse_http_endpoint("https://" + c.account + ".blob.core.windows.net",
                                              nullptr));
  }

  if (key) {
    if (c.account.empty()) {
      return Status::InvalidArgument(
          "azblob://: Shared Key needs the account: set AZURE_STORAGE_ACCOUNT");
    }
    // Fails (without showing the key) when it is not base64.
    ISLE_RETURN_IF_ERROR(AzureSharedKey::create(c.account, *key).status());
    c.account_key = *key;
  } else {
    std::string_view t = *sas;
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
    while (!t.empty() && (t.back() == ' ' || t.back() == '\t' || t.back() == '\n' ||
                          t.back() == '\r')) {
      t.remove_suffix(1);
    }
    if (!t.empty() && t.front() == '?') t.remove_prefix(1);
    const bool url_safe = std::all_of(t.begin(), t.end(), [](char ch) {
      auto uc = static_cast<unsigned char>(ch);
      return uc > 0x20 && uc < 0x7f && ch != '#' && ch != '?';
    });
    if (t.empty() || !url_safe || ("&" + std::string(t)).find("&sig=") == std::string::npos) {
      return Status::InvalidArgument(
          "AZURE_STORAGE_SAS_TOKEN is not a SAS token (expected sv=...&sig=..., URL-encoded)");
    }
    c.sas_token = std::string(t);
  }
  return c;
}

}  // namespace isle
