// Azure Storage Shared Key and account SAS signing. See cloud/azure_auth.h
// for the rules. Invariants: the decoded key lives only in Key (wiped when
// the last AzureSharedKey copy goes) and is used only as HMAC key material;
// error messages never include the key text; every returned string is made
// of request data, the account name and HMAC outputs.
#include "cloud/azure_auth.h"
#include "util/ascii.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <vector>

#include "util/base64.h"

namespace isle {

namespace {

constexpr const char* kWeekdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};


std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), ascii_lower);
  return out;
}

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim_ws(std::string_view s) {
  while (!s.empty() && is_ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ws(s.back())) s.remove_suffix(1);
  return s;
}


// Trimmed, with runs of linear whitespace outside double-quoted strings
// replaced by one space (the documented CanonicalizedHeaders rule).
std::string canonical_ms_value(std::string_view value) {
  std::string out;
  bool in_quotes = false;
  bool pending_space = false;
  for (char c : trim_ws(value)) {
    if (!in_quotes && is_ws(c)) {
      pending_space = true;
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    if (c == '"') in_quotes = !in_quotes;
    out.push_back(c);
  }
  return out;
}

// The value of a standard header for the string to sign: "" when absent,
// repeated headers joined with ','.
std::string standard_header(const HttpHeaders& headers, std::string_view name) {
  std::string out;
  bool found = false;
  for (const auto& [n, v] : headers) {
    if (!ascii_iequals(trim_ws(n), name)) continue;
    if (found) out.push_back(',');
    out += trim_ws(v);
    found = true;
  }
  return out;
}

// First-level weight of a byte in the service's header-name ordering: 0 for
// ignorable characters ('-', '\'', controls, space), ASCII punctuation,
// then digits, then letters case-insensitively; the relative order is that
// of the SDK's SharedKeyComparator table. Bytes >= 0x80 do not occur in
// header names; they sort after letters by value.
int header_weight(unsigned char c) {
  if (c >= 'a' && c <= 'z') return 3000 + (c - 'a');
  if (c >= 'A' && c <= 'Z') return 3000 + (c - 'A');
  if (c >= '0' && c <= '9') return 2000 + (c - '0');
  if (c >= 0x80) return 4000 + c;
  switch (c) {
    case '!':
      return 100;
    case '#':
      return 101;
    case '$':
      return 102;
    case '%':
      return 103;
    case '&':
      return 104;
    case '*':
      return 105;
    case '.':
      return 106;
    case '^':
      return 107;
    case '_':
      return 108;
    case '`':
      return 109;
    case '|':
      return 110;
    case '~':
      return 111;
    case '+':
      return 112;
    default:
      return 0;  // '-', '\'', controls, space and the separators
  }
}

}  // namespace

bool azure_header_less(std::string_view a, std::string_view b) {
  size_t i = 0;
  size_t j = 0;
  for (;;) {
    while (i < a.size() && header_weight(static_cast<unsigned char>(a[i])) == 0) ++i;
    while (j < b.size() && header_weight(static_cast<unsigned char>(b[j])) == 0) ++j;
    const bool a_end = i == a.size();
    const bool b_end = j == b.size();
    if (a_end || b_end) {
      if (a_end && b_end) break;  // equal at the first level
      return a_end;               // a proper prefix sorts first
    }
    const int wa = header_weight(static_cast<unsigned char>(a[i]));
    const int wb = header_weight(static_cast<unsigned char>(b[j]));
    if (wa != wb) return wa < wb;
    ++i;
    ++j;
  }
  return a < b;
}

struct AzureSharedKey::Key {
  std::string bytes;
  explicit Key(std::string b) : bytes(std::move(b)) {}
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;
  ~Key() {
    if (!bytes.empty()) OPENSSL_cleanse(bytes.data(), bytes.size());
  }
};

Result<AzureSharedKey> AzureSharedKey::create(std::string account, std::string_view key_base64) {
  if (account.empty()) return Status::InvalidArgument("azure: empty storage account name");
  std::optional<std::string> decoded = base64_decode(trim_ws(key_base64));
  if (!decoded || decoded->empty()) {
    if (decoded) OPENSSL_cleanse(decoded->data(), decoded->size());
    return Status::InvalidArgument("azure: the account key for " + account +
                                   " is not valid base64");
  }
  auto key = std::make_shared<const Key>(std::move(*decoded));
  return AzureSharedKey(std::move(account), std::move(key));
}

const std::string& AzureSharedKey::account() const { return account_; }

std::string AzureSharedKey::string_to_sign(const AzureRequest& r) const {
  assert(r.headers != nullptr);
  static const HttpHeaders kNoHeaders;
  const HttpHeaders& headers = r.headers != nullptr ? *r.headers : kNoHeaders;

  std::string out;
  out += r.method;
  out.push_back('\n');
  for (std::string_view name :
       {"Content-Encoding", "Content-Language", "Content-Length", "Content-MD5", "Content-Type",
        "Date", "If-Modified-Since", "If-Match", "If-None-Match", "If-Unmodified-Since", "Range"}) {
    std::string value = standard_header(headers, name);
    if (name == "Content-Length" && value == "0") value.clear();
    out += value;
    out.push_back('\n');
  }

  // CanonicalizedHeaders.
  std::vector<std::pair<std::string, std::string>> ms;
  for (const auto& [n, v] : headers) {
    std::string name = lower(trim_ws(n));
    if (name.rfind("x-ms-", 0) != 0) continue;
    ms.emplace_back(std::move(name), canonical_ms_value(v));
  }
  std::stable_sort(ms.begin(), ms.end(), [](const auto& a, const auto& b) {
    return azure_header_less(a.first, b.first);
  });
  for (size_t i = 0; i < ms.size(); ++i) {
    if (i > 0 && ms[i].first == ms[i - 1].first) {
      // Repeated name: continue the previous line.
      out.pop_back();
      out.push_back(',');
    } else {
      out += ms[i].first;
      out.push_back(':');
    }
    out += ms[i].second;
    out.push_back('\n');
  }

  // CanonicalizedResource.
  out.push_back('/');
  out += account_;
  if (r.path.empty()) {
    out.push_back('/');
  } else {
    out += r.path;
  }
  std::vector<std::pair<std::string, std::string>> params;
  std::string_view q = r.query;
  size_t start = 0;
  while (start <= q.size()) {
    size_t amp = q.find('&', start);
    if (amp == std::string_view::npos) amp = q.size();
    std::string_view piece = q.substr(start, amp - start);
    if (!piece.empty()) {
      const size_t eq = piece.find('=');
      std::string_view name = piece.substr(0, eq);
      std::string_view value =
          eq == std::string_view::npos ? std::string_view() : piece.substr(eq + 1);
      params.emplace_back(lower(uri_percent_decode(name)), uri_percent_decode(value));
    }
    start = amp + 1;
  }
  std::sort(params.begin(), params.end());  // by name, then value
  for (size_t i = 0; i < params.size(); ++i) {
    if (i > 0 && params[i].first == params[i - 1].first) {
      out.push_back(',');
    } else {
      out.push_back('\n');
      out += params[i].first;
      out.push_back(':');
    }
    out += params[i].second;
  }
  return out;
}

std::string AzureSharedKey::sign_base64(std::string_view string_to_sign) const {
  return base64_encode(hmac_sha256(key_->bytes, string_to_sign));
}

std::string AzureSharedKey::authorization(const AzureRequest& r) const {
  return "SharedKey " + account_ + ":" + sign_base64(string_to_sign(r));
}

std::string AzureSharedKey::account_sas_string_to_sign(const AzureAccountSas& sas) const {
  std::string out;
  for (std::string_view field :
       {std::string_view(account_), std::string_view(sas.permissions),
        std::string_view(sas.services), std::string_view(sas.resource_types)}) {
    out += field;
    out.push_back('\n');
  }
  if (sas.start) out += iso8601_utc(*sas.start);
  out.push_back('\n');
  out += iso8601_utc(sas.expiry);
  out.push_back('\n');
  for (std::string_view field :
       {std::string_view(sas.ip), std::string_view(sas.protocol), std::string_view(sas.version),
        std::string_view(sas.encryption_scope)}) {
    out += field;
    out.push_back('\n');
  }
  return out;
}

std::string AzureSharedKey::account_sas_query(const AzureAccountSas& sas) const {
  const std::string sig = sign_base64(account_sas_string_to_sign(sas));
  std::string out;
  auto add = [&out](std::string_view name, std::string_view value) {
    if (value.empty()) return;
    if (!out.empty()) out.push_back('&');
    out += name;
    out.push_back('=');
    out += sigv4_uri_encode(value, true);
  };
  add("sv", sas.version);
  add("ss", sas.services);
  add("srt", sas.resource_types);
  add("spr", sas.protocol);
  if (sas.start) add("st", iso8601_utc(*sas.start));
  add("se", iso8601_utc(sas.expiry));
  add("sip", sas.ip);
  add("ses", sas.encryption_scope);
  add("sp", sas.permissions);
  add("sig", sig);
  return out;
}

std::string http_date(int64_t unix_seconds) {
  const UtcCivil t = utc_civil(unix_seconds);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04lld %02d:%02d:%02d GMT", kWeekdays[t.weekday],
                t.day, kMonths[t.month - 1], static_cast<long long>(t.year), t.hour, t.minute,
                t.second);
  return buf;
}

std::string iso8601_utc(int64_t unix_seconds) {
  const UtcCivil t = utc_civil(unix_seconds);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02d-%02dT%02d:%02d:%02dZ", static_cast<long long>(t.year),
                t.month, t.day, t.hour, t.minute, t.second);
  return buf;
}

}  // namespace isle
