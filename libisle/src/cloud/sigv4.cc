// SigV4 / GOOG4-HMAC-SHA256 request signing. See cloud/sigv4.h for the
// contract. Invariants: the secret never leaves State except as HMAC key
// material; the cached signing key belongs to exactly one scope date and is
// replaced (under the mutex) when another date is signed; every returned
// string is built from public request data, the access key and HMAC outputs.
#include "cloud/sigv4.h"
#include "util/ascii.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "util/hash.h"

namespace isle {

namespace {

constexpr char kHexUpper[] = "0123456789ABCDEF";

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}


bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

// One header line's value: trimmed, inner runs of blanks collapsed to one
// space (quoted strings included, as the SigV4 test suite requires).
void append_collapsed(std::string_view line, std::string& out) {
  bool in_blank = false;
  for (char c : trim_blanks(line)) {
    if (is_blank(c)) {
      in_blank = true;
      continue;
    }
    if (in_blank) out.push_back(' ');
    in_blank = false;
    out.push_back(c);
  }
}

// A header value as it appears in the canonical headers. Line breaks mean
// obs-fold continuation lines: each non-empty line is normalized and the
// lines are joined with ',' (the published get-header-value-multiline case).
std::string canonical_header_value(std::string_view value) {
  std::string out;
  bool first = true;
  size_t start = 0;
  while (start <= value.size()) {
    size_t nl = value.find('\n', start);
    if (nl == std::string_view::npos) nl = value.size();
    std::string_view line = value.substr(start, nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!trim_blanks(line).empty()) {
      if (!first) out.push_back(',');
      append_collapsed(line, out);
      first = false;
    }
    start = nl + 1;
  }
  return out;
}

// Lower-cased, trimmed names; values normalized; sorted by name (stable, so
// repeated names keep their order) and repeated names merged with ','.
std::vector<std::pair<std::string, std::string>> canonical_headers(const HttpHeaders& headers) {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(headers.size());
  for (const auto& [raw_name, raw_value] : headers) {
    std::string name(trim_blanks(raw_name));
    if (name.empty()) continue;
    std::transform(name.begin(), name.end(), name.begin(), ascii_lower);
    out.emplace_back(std::move(name), canonical_header_value(raw_value));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::pair<std::string, std::string>> merged;
  for (auto& h : out) {
    if (!merged.empty() && merged.back().first == h.first) {
      merged.back().second += ',';
      merged.back().second += h.second;
    } else {
      merged.push_back(std::move(h));
    }
  }
  return merged;
}

// RFC 3986 remove_dot_segments plus dropping empty segments ("//").
// "/a/b/../" -> "/a/", "/./x" -> "/x", "//x//" -> "/x/", "" -> "/".
std::vector<std::string_view> normalized_segments(std::string_view path, bool& trailing_slash) {
  std::vector<std::string_view> segs;
  trailing_slash = false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    const bool last = slash == std::string_view::npos;
    if (last) slash = path.size();
    std::string_view seg = path.substr(start, slash - start);
    if (seg == "..") {
      if (!segs.empty()) segs.pop_back();
      trailing_slash = true;
    } else if (seg == ".") {
      trailing_slash = true;
    } else if (seg.empty()) {
      trailing_slash = true;  // only matters when it is the last segment
    } else {
      segs.push_back(seg);
      trailing_slash = false;
    }
    start = slash + 1;
    if (last) break;
  }
  return segs;
}

void secure_wipe(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

}  // namespace

std::string sigv4_uri_encode(std::string_view s, bool encode_slash) {
  std::string out;
  out.reserve(s.size() * 3);
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_unreserved(c) || (c == '/' && !encode_slash)) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHexUpper[c >> 4]);
      out.push_back(kHexUpper[c & 0xF]);
    }
  }
  return out;
}

std::string uri_percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = hex_value(s[i + 1]);
      const int lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

UtcCivil utc_civil(int64_t unix_seconds) {
  // Floor division, so instants before 1970 land on the right day.
  int64_t days = unix_seconds / 86400;
  int64_t secs = unix_seconds % 86400;
  if (secs < 0) {
    secs += 86400;
    days -= 1;
  }
  UtcCivil t{};
  t.hour = static_cast<int>(secs / 3600);
  t.minute = static_cast<int>(secs / 60 % 60);
  t.second = static_cast<int>(secs % 60);
  // 1970-01-01 was a Thursday.
  int64_t wd = (days + 4) % 7;
  if (wd < 0) wd += 7;
  t.weekday = static_cast<int>(wd);
  // civil_from_days (H. Hinnant): days since 1970-01-01 -> y/m/d.
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<uint64_t>(z - era * 146097);                    // [0, 146096]
  const uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // [0, 365]
  const uint64_t mp = (5 * doy + 2) / 153;                                     // [0, 11]
  t.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  t.month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  t.year = static_cast<int64_t>(yoe) + era * 400 + (t.month <= 2 ? 1 : 0);
  return t;
}

std::string sigv4_timestamp(int64_t unix_seconds) {
  const UtcCivil t = utc_civil(unix_seconds);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld%02d%02dT%02d%02d%02dZ", static_cast<long long>(t.year),
                t.month, t.day, t.hour, t.minute, t.second);
  return buf;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  // OpenSSL wants non-null pointers even for empty inputs.
  static const unsigned char kEmpty = 0;
  const void* k = key.empty() ? &kEmpty : static_cast<const void*>(key.data());
  const auto* d = data.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(data.data());
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int out_len = 0;
  if (HMAC(EVP_sha256(), k, static_cast<int>(key.size()), d, data.size(), out, &out_len) ==
          nullptr ||
      out_len != 32) {
    // Only possible when OpenSSL cannot allocate; there is no signature to
    // return that would not be a wrong one.
    std::fprintf(stderr, "isle: OpenSSL HMAC-SHA256 failed\n");
    std::abort();
  }
  std::string mac(reinterpret_cast<const char*>(out), out_len);
  OPENSSL_cleanse(out, sizeof out);
  return mac;
}

std::string sigv4_canonical_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  size_t start = 0;
  while (start <= query.size()) {
    size_t amp = query.find('&', start);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view piece = query.substr(start, amp - start);
    if (!piece.empty()) {
      const size_t eq = piece.find('=');
      std::string_view name = piece.substr(0, eq);
      std::string_view value =
          eq == std::string_view::npos ? std::string_view() : piece.substr(eq + 1);
      params.emplace_back(sigv4_uri_encode(uri_percent_decode(name), true),
                          sigv4_uri_encode(uri_percent_decode(value), true));
    }
    start = amp + 1;
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out.push_back('&');
    out += name;
    out.push_back('=');
    out += value;
  }
  return out;
}

std::string sigv4_canonical_uri(std::string_view path, bool generic_path) {
  if (!generic_path) return path.empty() ? std::string("/") : std::string(path);
  bool trailing_slash = false;
  const std::vector<std::string_view> segs = normalized_segments(path, trailing_slash);
  std::string out = "/";
  for (size_t i = 0; i < segs.size(); ++i) {
    if (i > 0) out.push_back('/');
    out += sigv4_uri_encode(segs[i], true);
  }
  if (!segs.empty() && trailing_slash) out.push_back('/');
  return out;
}

struct SigV4Signer::State {
  SigV4Flavor flavor;
  std::string access_key;
  std::string secret_key;  // never copied out
  std::string region;
  std::string service;

  mutable std::mutex mu;
  mutable std::string cached_date;  // scope date of cached_key, "" when empty
  mutable std::string cached_key;   // 32-byte derived signing key

  State(SigV4Flavor f, std::string ak, std::string sk, std::string r, std::string s)
      : flavor(f),
        access_key(std::move(ak)),
        secret_key(std::move(sk)),
        region(std::move(r)),
        service(std::move(s)) {}
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() {
    secure_wipe(secret_key);
    secure_wipe(cached_key);
  }

  std::string_view key_prefix() const { return flavor == SigV4Flavor::kAws ? "AWS4" : "GOOG4"; }
  std::string_view terminator() const {
    return flavor == SigV4Flavor::kAws ? "aws4_request" : "goog4_request";
  }

  // The derived key for `date`, from the cache when it holds that date.
  std::string signing_key(std::string_view date) const {
    std::lock_guard<std::mutex> lock(mu);
    if (cached_date != date || cached_key.empty()) {
      std::string k = std::string(key_prefix()) + secret_key;
      std::string k_date = hmac_sha256(k, date);
      secure_wipe(k);
      std::string k_region = hmac_sha256(k_date, region);
      std::string k_service = hmac_sha256(k_region, service);
      std::string k_signing = hmac_sha256(k_service, terminator());
      secure_wipe(k_date);
      secure_wipe(k_region);
      secure_wipe(k_service);
      secure_wipe(cached_key);
      cached_key = std::move(k_signing);
      cached_date = std::string(date);
    }
    return cached_key;
  }
};

SigV4Signer::SigV4Signer(SigV4Flavor flavor, std::string access_key, std::string secret_key,
                         std::string region, std::string service)
    : state_(std::make_shared<State>(flavor, std::move(access_key), std::move(secret_key),
                                     std::move(region), std::move(service))) {}

SigV4Flavor SigV4Signer::flavor() const { return state_->flavor; }
const std::string& SigV4Signer::access_key() const { return state_->access_key; }
const std::string& SigV4Signer::region() const { return state_->region; }
const std::string& SigV4Signer::service() const { return state_->service; }

std::string_view SigV4Signer::algorithm() const {
  return state_->flavor == SigV4Flavor::kAws ? "AWS4-HMAC-SHA256" : "GOOG4-HMAC-SHA256";
}
std::string_view SigV4Signer::date_header() const {
  return state_->flavor == SigV4Flavor::kAws ? "x-amz-date" : "x-goog-date";
}
std::string_view SigV4Signer::content_sha256_header() const {
  return state_->flavor == SigV4Flavor::kAws ? "x-amz-content-sha256" : "x-goog-content-sha256";
}

SigV4Result SigV4Signer::sign(const SigV4Input& in, std::string_view timestamp) const {
  assert(in.headers != nullptr);
  assert(timestamp.size() == 16);
  static const HttpHeaders kNoHeaders;
  const HttpHeaders& headers = in.headers != nullptr ? *in.headers : kNoHeaders;

  SigV4Result r;
  std::string canon_headers;
  for (const auto& [name, value] : canonical_headers(headers)) {
    if (!r.signed_headers.empty()) r.signed_headers.push_back(';');
    r.signed_headers += name;
    canon_headers += name;
    canon_headers.push_back(':');
    canon_headers += value;
    canon_headers.push_back('\n');
  }

  r.canonical_request.reserve(256 + canon_headers.size() + in.path.size() + in.query.size());
  r.canonical_request += in.method;
  r.canonical_request.push_back('\n');
  r.canonical_request += sigv4_canonical_uri(in.path, in.generic_path);
  r.canonical_request.push_back('\n');
  r.canonical_request += sigv4_canonical_query(in.query);
  r.canonical_request.push_back('\n');
  r.canonical_request += canon_headers;
  r.canonical_request.push_back('\n');
  r.canonical_request += r.signed_headers;
  r.canonical_request.push_back('\n');
  r.canonical_request += in.payload_hash;

  const std::string_view date = timestamp.substr(0, 8);
  std::string scope;
  scope += date;
  scope.push_back('/');
  scope += state_->region;
  scope.push_back('/');
  scope += state_->service;
  scope.push_back('/');
  scope += state_->terminator();

  r.string_to_sign += algorithm();
  r.string_to_sign.push_back('\n');
  r.string_to_sign += timestamp;
  r.string_to_sign.push_back('\n');
  r.string_to_sign += scope;
  r.string_to_sign.push_back('\n');
  r.string_to_sign += sha256_hex(r.canonical_request);

  std::string key = state_->signing_key(date);
  r.signature = to_hex(hmac_sha256(key, r.string_to_sign));
  secure_wipe(key);

  r.authorization += algorithm();
  r.authorization += " Credential=";
  r.authorization += state_->access_key;
  r.authorization.push_back('/');
  r.authorization += scope;
  r.authorization += ", SignedHeaders=";
  r.authorization += r.signed_headers;
  r.authorization += ", Signature=";
  r.authorization += r.signature;
  return r;
}

}  // namespace isle
