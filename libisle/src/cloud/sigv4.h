// AWS Signature Version 4 (Authorization header), and the Google HMAC
// flavour (GOOG4-HMAC-SHA256) that the GCS XML API accepts with HMAC keys.
//
// The signer is pure: it turns a request description plus a timestamp into
// the canonical request, the string to sign and the Authorization value. It
// adds no headers itself; the caller lists every header it will send and
// wants signed (host and x-amz-date / x-goog-date included), and sends
// exactly those. The secret key is held privately, wiped on destruction and
// never copied into any returned string.
//
// Two canonical-URI rules exist. S3 and GCS use the path exactly as sent
// (object keys may contain "." and "//"); every other AWS service (and the
// published SigV4 test suite) normalizes dot segments and empty segments and
// then percent-encodes each segment again. SigV4Input::generic_path picks.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cloud/http_headers.h"

namespace isle {

// RFC 3986 encoding as SigV4 wants it: A-Z a-z 0-9 - . _ ~ are kept, every
// other byte becomes %XX (upper-case hex); '/' is kept when encode_slash is
// false. Bytes >= 0x80 (UTF-8) are encoded one by one.
std::string sigv4_uri_encode(std::string_view s, bool encode_slash);

// Lenient percent-decoding: each "%XY" with two hex digits becomes that
// byte; a '%' not followed by two hex digits is kept literally; '+' stays
// '+' (it is not form encoding). Never fails.
std::string uri_percent_decode(std::string_view s);

// Broken-down UTC time of a Unix time (proleptic Gregorian calendar, also
// before 1970). weekday: 0 = Sunday .. 6 = Saturday.
struct UtcCivil {
  int64_t year;
  int month, day, hour, minute, second, weekday;
};
UtcCivil utc_civil(int64_t unix_seconds);

// "20150830T123600Z" (ISO 8601 basic format, UTC) for a Unix time. Years
// outside 0..9999 do not fit the format and are not meaningful here.
std::string sigv4_timestamp(int64_t unix_seconds);

// HMAC-SHA256 of `data` under `key`: 32 raw bytes.
std::string hmac_sha256(std::string_view key, std::string_view data);

enum class SigV4Flavor {
  kAws,     // AWS4-HMAC-SHA256, key "AWS4"+secret, scope ".../aws4_request"
  kGoogle,  // GOOG4-HMAC-SHA256, key "GOOG4"+secret, scope ".../goog4_request"
};

struct SigV4Input {
  std::string_view method;
  // The request path exactly as sent on the wire (already encoded); empty
  // means "/".
  std::string_view path;
  // The query string as sent, without '?'; may be empty.
  std::string_view query;
  // Every header to sign, including host and the date header. Must not be
  // null. Values may not contain CR/LF on the wire; a value holding line
  // breaks is treated as folded lines, each trimmed, joined with ','.
  const HttpHeaders* headers = nullptr;
  // Lower-case hex SHA-256 of the body, or "UNSIGNED-PAYLOAD".
  std::string_view payload_hash;
  // true: generic-service path rules (remove "." and ".." segments and empty
  // segments, then percent-encode each segment again), as in the published
  // SigV4 test suite. false: S3/GCS rules (path used as sent).
  bool generic_path = false;
};

struct SigV4Result {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signed_headers;  // "host;x-amz-date"
  std::string signature;       // 64 lower-case hex chars
  std::string authorization;   // the full Authorization header value
};

// Canonical query string: split on '&' (empty pieces dropped), split each at
// the first '=' (a missing '=' means an empty value), percent-decode then
// re-encode name and value with sigv4_uri_encode(..., true), sort by name
// then value, join as name=value with '&'.
std::string sigv4_canonical_query(std::string_view query);

// Canonical URI for `path` under the chosen rule (see SigV4Input).
std::string sigv4_canonical_uri(std::string_view path, bool generic_path);

// Holds credentials and scope. Copies share one immutable secret and one
// signing-key cache; sign() may be called from any number of threads.
class SigV4Signer {
 public:
  SigV4Signer(SigV4Flavor flavor, std::string access_key, std::string secret_key,
              std::string region, std::string service);

  // timestamp: "YYYYMMDDTHHMMSSZ" (see sigv4_timestamp); the scope date is
  // its first 8 characters. The caller must also send the same timestamp in
  // the x-amz-date / x-goog-date header (listed in in.headers).
  SigV4Result sign(const SigV4Input& in, std::string_view timestamp) const;

  SigV4Flavor flavor() const;
  const std::string& access_key() const;
  const std::string& region() const;
  const std::string& service() const;
  // "AWS4-HMAC-SHA256" or "GOOG4-HMAC-SHA256".
  std::string_view algorithm() const;
  // "x-amz-date" / "x-goog-date" and "x-amz-content-sha256" /
  // "x-goog-content-sha256": the header names this flavour's requests use.
  std::string_view date_header() const;
  std::string_view content_sha256_header() const;

 private:
  struct State;                   // credentials, scope and the signing-key cache
  std::shared_ptr<State> state_;  // never null
};

}  // namespace isle
