// Azure Storage Shared Key authorization (Blob service, versions 2015-02-21
// and later, where a zero Content-Length is signed as an empty line), plus
// the account SAS signature and the RFC 1123 date used in x-ms-date.
//
// Like the SigV4 signer this is pure: the caller lists every header it will
// send (x-ms-date and x-ms-version included) and gets back the string to
// sign and the Authorization value. The decoded account key is held
// privately, wiped on destruction, and never appears in any returned string
// or error message.
//
// Rules (learn.microsoft.com "Authorize with Shared Key"; the expected
// values in azure_auth_test.cc come from the official JavaScript SDK):
//   StringToSign = VERB \n Content-Encoding \n Content-Language \n
//     Content-Length (empty when "0") \n Content-MD5 \n Content-Type \n Date \n
//     If-Modified-Since \n If-Match \n If-None-Match \n If-Unmodified-Since \n
//     Range \n CanonicalizedHeaders CanonicalizedResource
//   CanonicalizedHeaders: every x-ms-* header, name lower-cased, value
//     trimmed with runs of whitespace outside quoted strings collapsed to one
//     space, "name:value\n", sorted by name in the service's order (see
//     azure_header_less), repeated names joined with ','.
//   CanonicalizedResource: "/" + account + the encoded URI path as sent
//     ("/" when empty), then for each query parameter "\nname:value" with
//     names lower-cased and sorted (byte order), values percent-decoded, and
//     the values of a repeated name sorted and joined with ','.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "cloud/sigv4.h"
#include "isle/status.h"

namespace isle {

struct AzureRequest {
  std::string_view method;
  // As sent on the wire (encoded), e.g. "/devstoreaccount1/isle-test/my%20blob"
  // for the emulator, "/container/blob" for *.blob.core.windows.net.
  std::string_view path;
  std::string_view query;                // as sent, without '?'
  const HttpHeaders* headers = nullptr;  // every header that will be sent; not null
};

// The order Azure Storage sorts canonicalized x-ms-* header names in, which
// is not byte order: it is the service's culture-aware comparison, in which
// '-' (and '\'') are ignored at the first level, so "x-ms-foob" sorts before
// "x-ms-foo-c". Names that tie at that level fall back to byte order. Both
// arguments are expected lower-case.
bool azure_header_less(std::string_view a, std::string_view b);

// Fields of an account SAS (version 2020-12-06 and later string-to-sign).
// Permissions, services and resource types must already be in the service's
// canonical letter order (e.g. "rwdlac", "b", "sco"); they are signed as given.
struct AzureAccountSas {
  std::string permissions;
  std::string services = "b";
  std::string resource_types = "sco";
  std::optional<int64_t> start;  // Unix seconds; nullopt omits st
  int64_t expiry = 0;            // Unix seconds
  std::string ip;                // "" omits sip
  std::string protocol;          // "https", "https,http" or "" (omitted)
  std::string version = "2021-08-06";
  std::string encryption_scope;  // "" omits ses
};

class AzureSharedKey {
 public:
  // key_base64: the account key as Azure shows it. InvalidArgument (not
  // naming the key) if it is not valid standard base64 or decodes to nothing.
  // An empty account name is InvalidArgument too.
  static Result<AzureSharedKey> create(std::string account, std::string_view key_base64);

  std::string string_to_sign(const AzureRequest& r) const;
  // "SharedKey <account>:<base64 HMAC-SHA256 of string_to_sign(r)>".
  std::string authorization(const AzureRequest& r) const;
  const std::string& account() const;

  // The account SAS string to sign and the query string to append to a URL
  // ("sv=..&ss=..&srt=..&spr=..&st=..&se=..&sip=..&ses=..&sp=..&sig=..", the
  // SDK's order, values percent-encoded).
  std::string account_sas_string_to_sign(const AzureAccountSas& sas) const;
  std::string account_sas_query(const AzureAccountSas& sas) const;

 private:
  struct Key;  // the decoded key bytes, wiped on destruction
  AzureSharedKey(std::string account, std::shared_ptr<const Key> key)
      : account_(std::move(account)), key_(std::move(key)) {}
  std::string sign_base64(std::string_view string_to_sign) const;

  std::string account_;
  std::shared_ptr<const Key> key_;  // never null
};

// RFC 1123 date for x-ms-date, e.g. "Sun, 11 Oct 2009 21:49:13 GMT".
std::string http_date(int64_t unix_seconds);

// "2024-05-14T08:30:00Z": the ISO 8601 UTC form SAS tokens use.
std::string iso8601_utc(int64_t unix_seconds);

}  // namespace isle
