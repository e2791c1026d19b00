// AzureStore: the ObjectStore contract over the Azure Blob Storage REST API
// (block blobs), on our own HTTP client, signed with Shared Key or
// authorized by a SAS token. Also works against Azurite, the emulator.
//
// URL: azblob://CONTAINER?endpoint=http(s)://HOST[:PORT][/ACCOUNT]
//   endpoint    default https://ACCOUNT.blob.core.windows.net. When the
//               endpoint has a path (emulators: http://127.0.0.1:10000/
//               devstoreaccount1) its one segment is the account, and
//               requests go to /ACCOUNT/CONTAINER/BLOB.
//   plus the common parameters in cloud_url.h.
// Credentials (environment, never the URL):
//   AZURE_STORAGE_ACCOUNT   the account (unless the endpoint path names it)
//   AZURE_STORAGE_KEY       the account key: Shared Key authorization
//   AZURE_STORAGE_SAS_TOKEN a SAS token ("sv=..&sig=..", a leading '?' is
//                           fine), appended to every request's query; used
//                           when AZURE_STORAGE_KEY is not set
//
// How the contract maps onto Azure Blob Storage:
//   * ETags are Azure's, without quotes; they change on every write, also
//     of identical bytes. create-only is Put Blob with If-None-Match: *
//     (409 BlobAlreadyExists -> PreconditionFailed), if-match is Put Blob
//     with If-Match: "etag" (412 -> PreconditionFailed, also for a missing
//     blob).
//   * modified_ms has whole-second precision (Last-Modified), the same in
//     put(), head(), get() and list().
//   * Keys must be valid UTF-8 (blob names are Unicode); others are
//     InvalidArgument. Names are sent percent-encoded, '/' kept, never
//     normalized ("a//b", "a/./b" and "..." are distinct blobs).
//   * Ranges: Get Blob with x-ms-range. Azure has no suffix ranges, so a
//     suffix read heads the blob first and then reads an absolute range
//     pinned to that version (If-Match); zero-length reads are answered
//     from the metadata.
//   * list(): Azure's List Blobs has no start-after, only opaque markers
//     (and a startFrom parameter from x-ms-version 2026-02-06 on, which
//     Azurite 3.35 ignores, so it is not used). The store remembers, in a
//     small bounded map, the marker that continues after the last key of
//     each full page it returned, so paging with next_start_after (as
//     list_all does) resumes from the marker. Any other start_after lists
//     from the prefix and skips keys <= start_after. A prefix or
//     start_after that is not valid UTF-8 lists from the longest valid
//     prefix and filters.
//   * Conditional puts are never resent blindly. They carry a random write
//     id as blob metadata (x-ms-meta-islewrite). When the server answers one
//     with a 5xx other than ServerBusy, the store reads the blob's
//     properties back: our write id is there -> success; the precondition
//     still holds -> Transient (safe to retry); otherwise PreconditionFailed.
//     A lost connection after sending stays UnknownOutcome for the manifest
//     layer to resolve.
//   * ServerBusy (503) and 429 are Throttled; other 503s are Transient;
//     other 5xx (500 OperationTimedOut, InternalError) are Transient for
//     reads and UnknownOutcome for unconditional writes.
//   * A 304 (conditional GET) carries no ETag: the result's etag is the
//     one asked about; its size and modified_ms are 0.
//   * remove_batch deletes one blob per request, 8 at a time.
//
// Errors at open: with check=true (the default) open() lists one blob of
// the container, so a wrong key or SAS, account, container name, or an
// unreachable endpoint, is one clear Permanent error naming what to fix.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "cloud/azure_auth.h"
#include "cloud/cloud_url.h"
#include "cloud/cloud_xml.h"
#include "cloud/http_client.h"
#include "isle/object_store.h"

namespace isle {

struct AzureConfig {
  std::string container;
  std::string account;
  HttpEndpoint endpoint;
  // "/ACCOUNT" when the endpoint names the account in its path (emulators),
  // else "". Every request path starts with it.
  std::string path_prefix;
  std::string account_key;  // base64; Shared Key when non-empty
  std::string sas_token;    // without '?'; used when account_key is empty
  HttpClientOptions http;
  bool check = true;  // verify access at open
  std::string url;    // as given (no credentials)
};

// Parses an azblob:// URL and the credentials from `env`. Missing
// credentials are InvalidArgument naming the variables to set.
Result<AzureConfig> azure_config_from_url(std::string_view url, const EnvLookup& env);

class AzureStore : public ObjectStore {
 public:
  static Result<std::shared_ptr<AzureStore>> open(AzureConfig config);

  Result<GetResult> get(std::string_view key, const GetOptions& options = {}) override;
  Result<ObjectMeta> head(std::string_view key) override;
  Result<ObjectMeta> put(std::string_view key, std::string_view data,
                         const PutOptions& options = {}) override;
  Status remove(std::string_view key) override;
  Result<std::vector<DeleteOutcome>> remove_batch(const std::vector<std::string>& keys) override;
  Result<ListPage> list(const ListOptions& options) override;
  std::string url() const override { return config_.url; }

  // What open() runs when config.check is set: one List Blobs request,
  // every failure mapped to one Permanent error naming what to fix.
  Status check_access();

  // Creates the container (Create Container); one that exists already is
  // fine. For tests and `isle`; IsleDB itself never creates containers.
  Status create_container();
  // Deletes the container with everything in it. For tests.
  Status delete_container();

  HttpClientStats http_stats() const { return http_->stats(); }

  struct Call;  // one request before authorization (azure_store.cc)

 private:
  AzureStore(AzureConfig config, std::unique_ptr<HttpClient> http,
             std::optional<AzureSharedKey> signer);

  Result<HttpClientResponse> send(Call& call);
  std::string container_path() const;
  std::string blob_path(std::string_view key) const;
  Result<GetResult> get_range(std::string_view key, const GetOptions& options);
  Result<GetResult> get_suffix(std::string_view key, const GetOptions& options);
  Result<ObjectMeta> resolve_conditional_put(std::string_view key, const PutOptions& options,
                                             const std::string& write_id, const Status& why);
  Result<AzureListPage> list_blobs(std::string_view prefix, const std::string& marker,
                              size_t max_results);

  // The marker that continues a listing of `prefix` after `key` ("" when
  // not remembered), and remembering one.
  std::string find_marker(std::string_view prefix, std::string_view key);
  void remember_marker(std::string_view prefix, std::string_view key, std::string marker);
  void forget_marker(std::string_view prefix, std::string_view key);

  AzureConfig config_;
  std::unique_ptr<HttpClient> http_;
  std::optional<AzureSharedKey> signer_;  // empty: SAS

  std::mutex markers_mu_;
  using MarkerKey = std::pair<std::string, std::string>;  // (prefix, last key)
  std::map<MarkerKey, std::string> markers_;
  std::deque<MarkerKey> marker_order_;  // oldest first, for eviction
};

}  // namespace isle
