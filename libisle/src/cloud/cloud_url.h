// Parsing of cloud store URLs ("s3://bucket?k=v&...", "azblob://...",
// "gs://...") and the settings every network store shares.
//
// Rules: the authority is the bucket/container name; no path after it
// (IsleDB's own prefix is a separate setting); query values are
// percent-decoded; an unknown or repeated parameter is InvalidArgument
// naming it and listing the known ones, so a typo never silently falls back
// to a default. Credentials never come from the URL: they come from the
// environment (see each store), so URLs can be logged.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cloud/http_client.h"
#include "isle/status.h"

namespace isle {

// Looks up an environment variable; tests pass their own.
using EnvLookup = std::function<std::optional<std::string>(const char* name)>;
EnvLookup process_env();

struct CloudUrl {
  std::string scheme;  // lower case
  std::string name;    // bucket or container
  std::map<std::string, std::string> params;

  // The parameter's value, or nullopt.
  std::optional<std::string> get(const std::string& key) const;
};

// Splits and validates; `known` lists the accepted parameter names.
Result<CloudUrl> parse_cloud_url(std::string_view url, const std::vector<std::string>& known);

// Parameters shared by every network store:
//   ca_file=PATH            trust this PEM bundle instead of the system CAs
//   verify_tls=false        skip certificate checks (tests only)
//   connect_timeout_ms=N    DNS + TCP + TLS (default 5000)
//   io_timeout_ms=N         send / receive of one request (default 30000)
//   max_connections=N       requests in flight per store (default 64)
//   check=false             skip the access check at open
std::vector<std::string> common_cloud_params();
struct CommonCloudSettings {
  HttpClientOptions http;
  bool check = true;
};
Result<CommonCloudSettings> parse_common_cloud_params(const CloudUrl& url);

// "true"/"false"/"1"/"0" → bool; InvalidArgument naming `what` otherwise.
Result<bool> parse_bool_param(std::string_view value, std::string_view what);

}  // namespace isle
